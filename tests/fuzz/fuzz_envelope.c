/*
 * fuzz_envelope: envelope parsing and opening on hostile bytes.
 *
 * The first input byte picks what the rest is, so that the fuzzer reaches
 * past the outer signature, which it could never forge:
 *   0: a whole serialized Envelope, opened by MEX;
 *   1: a header, wrapped in an Envelope that FRA signs, then opened;
 *   2: a SealedPayload, sealed by FRA as-is (seal_envelope_raw), then opened.
 * Every outcome must be a clean error code; sanitizers catch the rest.
 */
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "seal.h"
#include "wire.pb-c.h"

#define NOW_MS 1700000001000ull

static struct keys *fra, *mex;
static struct seal_peer fra_peer, mex_peer;

static void peer_of(struct seal_peer *p, const struct keys *k)
{
	memset(p, 0, sizeof(*p));
	memcpy(p->state, keys_state(k), 4);
	keys_identity_pk(k, p->identity_pk);
	keys_static_pk(k, p->static_pk);
	memcpy(p->prekey_pk, keys_prekey_at(k, 0)->pk, 32);
}

static void init(void)
{
	uint8_t s[32];
	if (fra != NULL) {
		return;
	}
	if (sodium_init() < 0) {
		abort();
	}
	memset(s, 0x01, 32);
	if (keys_generate("FRA", NOW_MS - 1000, KEYS_PREKEY_PERIOD_MS, s, &fra) != DX_OK) {
		abort();
	}
	memset(s, 0x02, 32);
	if (keys_generate("MEX", NOW_MS - 1000, KEYS_PREKEY_PERIOD_MS, s, &mex) != DX_OK) {
		abort();
	}
	peer_of(&fra_peer, fra);
	peer_of(&mex_peer, mex);
}

static int lookup(void *ctx, const char *state, const uint8_t id[static KEYS_ID_LEN],
		  struct seal_peer *out)
{
	(void)ctx;
	(void)id;
	if (strcmp(state, "FRA") != 0) {
		return DX_ESENDER;
	}
	*out = fra_peer;
	return DX_OK;
}

static int seen(void *ctx, const uint8_t id[static ENVELOPE_ID_LEN])
{
	(void)ctx;
	return id[0] == 0xee;
}

static void try_open(const uint8_t *buf, size_t len)
{
	struct open_params op = {
		.recipient = mex, .lookup_sender = lookup, .seen = seen, .now_ms = NOW_MS,
		.max_age_ms = OPEN_DEFAULT_MAX_AGE_MS, .max_skew_ms = OPEN_DEFAULT_MAX_SKEW_MS,
	};
	struct opened o;
	if (open_envelope(&op, buf, len, &o) == DX_OK) {
		opened_clear(&o);
	}
}

static void signed_header(const uint8_t *hdr, size_t len)
{
	uint8_t ct[32] = { 0 }, ct_hash[32], sig[64], *stmt = NULL, *env = NULL;
	size_t slen, elen;
	envelope_ciphertext_hash(ct_hash, ct, sizeof(ct));
	if (envelope_outer_statement(hdr, len, ct_hash, &stmt, &slen) != DX_OK) {
		return;
	}
	keys_sign(fra, sig, stmt, slen);
	free(stmt);
	Dx__Envelope e = DX__ENVELOPE__INIT;
	e.header = (ProtobufCBinaryData){ len, (uint8_t *)hdr };
	e.ciphertext = (ProtobufCBinaryData){ sizeof(ct), ct };
	e.signature = (ProtobufCBinaryData){ 64, sig };
	if (proto_pack_alloc(&e.base, &env, &elen) == DX_OK) {
		try_open(env, elen);
		free(env);
	}
}

static void sealed_payload(const uint8_t *pl, size_t len)
{
	uint8_t id[16] = { 0x42 }, *env = NULL;
	size_t elen;
	struct seal_params p = {
		.sender = fra, .recipient = &mex_peer, .sequence = 1, .created_ms = NOW_MS,
	};
	if (seal_envelope_raw(&p, id, pl, len, &env, &elen, NULL) == DX_OK) {
		try_open(env, elen);
		free(env);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init();
	if (size == 0) {
		return 0;
	}
	switch (data[0] % 3) {
	case 0:
		try_open(data + 1, size - 1);
		break;
	case 1:
		if (size - 1 <= ENVELOPE_HEADER_MAX) {
			signed_header(data + 1, size - 1);
		}
		break;
	default:
		sealed_payload(data + 1, size - 1);
		break;
	}
	return 0;
}
