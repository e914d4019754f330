/*
 * fixtures.c: see fixtures.h.
 */
#include "fixtures.h"

#include <stdlib.h>
#include <string.h>

#include "testlib.h"

static struct keys *make(const char *state, uint8_t fill)
{
	uint8_t seed[32];
	struct keys *k = NULL;
	memset(seed, fill, sizeof(seed));
	assert_dx_ok(keys_generate(state, FIX_NOW_MS, KEYS_PREKEY_PERIOD_MS, seed, &k));
	return k;
}

void fixture_peer(struct seal_peer *out, const struct keys *k, uint64_t now_ms)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->state, keys_state(k), DX_STATE_LEN + 1);
	keys_identity_pk(k, out->identity_pk);
	keys_static_pk(k, out->static_pk);
	const struct keys_prekey *pk = keys_prekey_current(k, now_ms);
	if (pk != NULL) {
		memcpy(out->prekey_pk, pk->pk, KEYS_DH_PK_LEN);
	}
}

void fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->fra = make("FRA", 0x01);
	f->mex = make("MEX", 0x02);
	f->bfa = make("BFA", 0x03);
	fixture_peer(&f->fra_peer, f->fra, FIX_NOW_MS);
	fixture_peer(&f->mex_peer, f->mex, FIX_NOW_MS);
	fixture_peer(&f->bfa_peer, f->bfa, FIX_NOW_MS);
}

void fixture_fini(struct fixture *f)
{
	keys_free(f->fra);
	keys_free(f->mex);
	keys_free(f->bfa);
	memset(f, 0, sizeof(*f));
}

static int lookup(void *ctx, const char *state, const uint8_t identity_id[static KEYS_ID_LEN],
		  struct seal_peer *out)
{
	struct fixture *f = ctx;
	const struct seal_peer *all[] = { &f->fra_peer, &f->mex_peer, &f->bfa_peer };
	(void)identity_id;
	for (size_t i = 0; i < 3; i++) {
		if (strcmp(all[i]->state, state) == 0) {
			*out = *all[i];
			return DX_OK;
		}
	}
	return DX_ESENDER;
}

static int seen(void *ctx, const uint8_t id[static ENVELOPE_ID_LEN])
{
	struct fixture *f = ctx;
	for (size_t i = 0; i < f->n_seen; i++) {
		if (memcmp(f->seen[i], id, ENVELOPE_ID_LEN) == 0) {
			return 1;
		}
	}
	return 0;
}

struct open_params fixture_open_params(struct fixture *f, const struct keys *k, uint64_t now_ms)
{
	struct open_params p = {
		.recipient = k,
		.lookup_sender = lookup,
		.seen = seen,
		.ctx = f,
		.now_ms = now_ms,
		.max_age_ms = OPEN_DEFAULT_MAX_AGE_MS,
		.max_skew_ms = OPEN_DEFAULT_MAX_SKEW_MS,
	};
	return p;
}

struct seal_params fixture_seal_params(const struct keys *sender, const struct seal_peer *to,
				       const uint8_t *body, size_t body_len)
{
	struct seal_params p = {
		.sender = sender,
		.recipient = to,
		.sequence = 1,
		.created_ms = FIX_NOW_MS + 1000,
		.body = body,
		.body_len = body_len,
	};
	return p;
}
