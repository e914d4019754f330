/*
 * test_consent_store: consent requests and decisions in the case database
 * (daemon/node/consent_store.c), and the check a node applies to a decision
 * it receives.
 *
 * The tables: requests recorded sent and received, a second one with the
 * same id refused, bad requests refused, the envelope id of a sent request
 * recorded, a request's state following the newest decision (an older one
 * does not undo it; of two at once the stricter stays), decisions stored
 * once and listed by provider, and nothing readable in the database file.
 * The check: a decision signed by the provider and about items it sent is
 * accepted; one signed by another key, one with a flipped byte, one given to
 * another State and one naming an item the provider never sent are refused.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "casework.pb-c.h"
#include "consent_store.h"
#include "testlib.h"

static uint8_t KEY[CASE_STORE_KEY_LEN];
static uint64_t NOW = 1790000000000ULL;
#define REASON "Needed for the prosecution of the broker named in the case"

static int contains(const uint8_t *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle);
	for (size_t i = 0; i + n <= len; i++) {
		if (memcmp(hay + i, needle, n) == 0) {
			return 1;
		}
	}
	return 0;
}

static uint64_t clock_fn(void *ctx)
{
	(void)ctx;
	return NOW;
}

static struct case_store *open_store(const char *name)
{
	struct case_store *cs = NULL;
	assert_dx_ok(case_store_open(test_path(test_tmpdir(), name), KEY, &cs));
	case_store_set_clock(cs, clock_fn, NULL);
	assert_dx_ok(consent_store_init(cs));
	assert_dx_ok(consent_store_init(cs)); /* idempotent */
	return cs;
}

static void make_request(int purpose, const char *body, uint8_t fill, uint8_t **out, size_t *len)
{
	uint8_t hash[CONSENT_ITEM_HASH_LEN], id[CONSENT_REQUEST_ID_LEN];
	memset(hash, fill, sizeof(hash));
	memset(id, fill, sizeof(id));
	ProtobufCBinaryData hb = { sizeof(hash), hash }, ib = { sizeof(id), id };
	Dx__ConsentRequest r = DX__CONSENT_REQUEST__INIT;
	r.purpose = (Dx__ConsentPurpose)purpose;
	r.body = (char *)body;
	r.reason = REASON;
	r.n_item_hashes = 1;
	r.item_hashes = &hb;
	r.n_item_envelope_ids = 1;
	r.item_envelope_ids = &ib;
	assert_dx_ok(proto_pack_alloc(&r.base, out, len));
}

struct seen {
	struct consent_request_row rows[8];
	char reasons[8][128];
	size_t n;
};

static int collect(void *ctx, const struct consent_request_row *r)
{
	struct seen *s = ctx;
	ProtobufCMessage *m = NULL;
	assert_true(s->n < 8);
	s->rows[s->n] = *r;
	assert_dx_ok(consent_request_check(r->request, r->request_len, &m));
	snprintf(s->reasons[s->n], sizeof(s->reasons[0]), "%s",
		 ((const Dx__ConsentRequest *)m)->reason);
	protobuf_c_message_free_unpacked(m, NULL);
	s->n++;
	return 0;
}

static void test_requests(void **state)
{
	(void)state;
	struct case_store *cs = open_store("requests.db");
	uint8_t *req = NULL, *bad = NULL, sent_id[16], recv_id[16], env[16];
	size_t len = 0, bad_len = 0;
	memset(sent_id, 0x11, 16);
	memset(recv_id, 0x22, 16);
	memset(env, 0x33, 16);
	make_request(DX__CONSENT_PURPOSE__OPERATIONAL_USE, "", 0x44, &req, &len);

	assert_dx_ok(consent_store_request_add(cs, CONSENT_SENT, sent_id, "FRA", req, len));
	NOW += 1000;
	assert_dx_ok(consent_store_request_add(cs, CONSENT_RECEIVED, recv_id, "BFA", req, len));
	assert_dx_err(consent_store_request_add(cs, CONSENT_SENT, sent_id, "FRA", req, len),
		      DX_EEXIST);
	assert_dx_err(consent_store_request_add(cs, CONSENT_SENT, env, "fra", req, len), DX_EINVAL);
	/* A disclosure without its body, and an operational use with one. */
	make_request(DX__CONSENT_PURPOSE__DISCLOSURE_TO_BODY, "", 0x44, &bad, &bad_len);
	assert_dx_err(consent_store_request_add(cs, CONSENT_SENT, env, "FRA", bad, bad_len),
		      DX_EPARSE);
	free(bad);
	make_request(DX__CONSENT_PURPOSE__OPERATIONAL_USE, "Tribunal", 0x44, &bad, &bad_len);
	assert_dx_err(consent_request_check(bad, bad_len, NULL), DX_EPARSE);
	free(bad);
	assert_dx_err(consent_request_check(req, len - 1, NULL), DX_EPARSE);

	struct seen s = { .n = 0 };
	assert_dx_ok(consent_store_request_list(cs, 0, collect, &s));
	assert_int_equal(s.n, 2);
	assert_int_equal(s.rows[0].direction, CONSENT_SENT);
	assert_false(s.rows[0].has_envelope);
	assert_string_equal(s.rows[0].peer, "FRA");
	assert_int_equal(s.rows[0].outcome, 0);
	assert_string_equal(s.reasons[0], REASON);
	assert_int_equal(s.rows[1].direction, CONSENT_RECEIVED);
	assert_true(s.rows[1].has_envelope);
	assert_memory_equal(s.rows[1].envelope_id, recv_id, 16);

	/* The sent request's envelope, once sealed; the filter by direction. */
	assert_dx_ok(consent_store_request_set_envelope(cs, CONSENT_SENT, sent_id, env));
	assert_dx_err(consent_store_request_set_envelope(cs, CONSENT_SENT, env, env), DX_ENOENT);
	s.n = 0;
	assert_dx_ok(consent_store_request_list(cs, CONSENT_SENT, collect, &s));
	assert_int_equal(s.n, 1);
	assert_true(s.rows[0].has_envelope);
	assert_memory_equal(s.rows[0].envelope_id, env, 16);

	/* The newest decision sets the state; an older one does not undo it. */
	assert_dx_ok(consent_store_request_decided(cs, CONSENT_SENT, sent_id,
						   DX__CONSENT_OUTCOME__GRANTED, 2000));
	assert_dx_ok(consent_store_request_decided(cs, CONSENT_SENT, sent_id,
						   DX__CONSENT_OUTCOME__REVOKED, 3000));
	assert_dx_ok(consent_store_request_decided(cs, CONSENT_SENT, sent_id,
						   DX__CONSENT_OUTCOME__GRANTED, 2500));
	s.n = 0;
	assert_dx_ok(consent_store_request_list(cs, CONSENT_SENT, collect, &s));
	assert_int_equal(s.rows[0].outcome, DX__CONSENT_OUTCOME__REVOKED);
	assert_int_equal(s.rows[0].decided_ms, 3000);
	/* At the same time, the stricter outcome stays. */
	assert_dx_ok(consent_store_request_decided(cs, CONSENT_SENT, sent_id,
						   DX__CONSENT_OUTCOME__GRANTED, 3000));
	s.n = 0;
	assert_dx_ok(consent_store_request_list(cs, CONSENT_SENT, collect, &s));
	assert_int_equal(s.rows[0].outcome, DX__CONSENT_OUTCOME__REVOKED);
	assert_dx_err(consent_store_request_decided(cs, CONSENT_RECEIVED, sent_id,
						    DX__CONSENT_OUTCOME__GRANTED, 4000),
		      DX_ENOENT);
	assert_dx_err(consent_store_request_decided(cs, CONSENT_SENT, sent_id, 9, 4000), DX_EINVAL);
	case_store_close(cs);

	/* Sealed at rest: the reason is nowhere in the files. */
	uint8_t *file = NULL;
	size_t flen = 0;
	assert_dx_ok(dx_read_file(test_path(test_tmpdir(), "requests.db"), 64 << 20, &file, &flen));
	assert_false(contains(file, flen, "prosecution"));
	free(file);
	free(req);
}

struct dseen {
	char providers[8][4];
	size_t lens[8];
	size_t n;
};

static int collect_decision(void *ctx, const struct consent_decision_row *r)
{
	struct dseen *s = ctx;
	assert_true(s->n < 8);
	memcpy(s->providers[s->n], r->provider, 4);
	s->lens[s->n] = r->decision_len;
	s->n++;
	return 0;
}

static void test_decisions_table(void **state)
{
	(void)state;
	struct case_store *cs = open_store("decisions.db");
	uint8_t req_id[16], a[40], b[50];
	memset(req_id, 1, sizeof(req_id));
	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	assert_dx_ok(consent_store_decision_add(cs, CONSENT_RECEIVED, "FRA", "MEX", req_id, 10, a,
						sizeof(a)));
	assert_dx_ok(consent_store_decision_add(cs, CONSENT_RECEIVED, "FRA", "MEX", req_id, 10, a,
						sizeof(a)));
	assert_dx_ok(consent_store_decision_add(cs, CONSENT_SENT, "MEX", "FRA", req_id, 20, b,
						sizeof(b)));
	assert_dx_err(consent_store_decision_add(cs, CONSENT_SENT, "MEX", "FRA", req_id, 20, b, 0),
		      DX_EINVAL);
	struct dseen s = { .n = 0 };
	assert_dx_ok(consent_store_decision_list(cs, 0, NULL, collect_decision, &s));
	assert_int_equal(s.n, 2);
	s.n = 0;
	assert_dx_ok(
		consent_store_decision_list(cs, CONSENT_RECEIVED, "FRA", collect_decision, &s));
	assert_int_equal(s.n, 1);
	assert_string_equal(s.providers[0], "FRA");
	assert_int_equal(s.lens[0], sizeof(a));
	s.n = 0;
	assert_dx_ok(
		consent_store_decision_list(cs, CONSENT_RECEIVED, "MEX", collect_decision, &s));
	assert_int_equal(s.n, 0);
	case_store_close(cs);
}

/* ---- the receiving node's check ---- */

#define T0 1700000000000ULL
static uint8_t ITEM[CONSENT_ITEM_HASH_LEN];

static int is_item(void *ctx, const uint8_t item[static CONSENT_ITEM_HASH_LEN])
{
	(void)ctx;
	return memcmp(item, ITEM, sizeof(ITEM)) == 0;
}

static struct keys *make_keys(const char *st, uint8_t seed_byte)
{
	uint8_t seed[32];
	struct keys *k = NULL;
	memset(seed, seed_byte, sizeof(seed));
	assert_dx_ok(keys_generate(st, T0, KEYS_PREKEY_PERIOD_MS, seed, &k));
	return k;
}

static struct roster_entry *entry_of(const struct keys *k)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	struct roster_entry *e = NULL;
	assert_dx_ok(roster_entry_build(k, keys_state(k), NULL, 0, T0 + 1, &buf, &len));
	assert_dx_ok(roster_entry_verify(buf, len, &e));
	free(buf);
	return e;
}

static void sign(const struct keys *k, const char *recipient, uint8_t **out, size_t *len)
{
	uint8_t req[CONSENT_REQUEST_ID_LEN];
	memset(req, 7, sizeof(req));
	struct consent_params p = {
		.recipient = recipient,
		.request_envelope_id = req,
		.purpose = DX__CONSENT_PURPOSE__OPERATIONAL_USE,
		.outcome = DX__CONSENT_OUTCOME__GRANTED_WITH_CONDITIONS,
		.conditions = "Only for the customs inquiry",
		.items = (const uint8_t(*)[CONSENT_ITEM_HASH_LEN])ITEM,
		.n_items = 1,
		.decided_ms = T0 + 5000,
	};
	assert_dx_ok(consent_decision_build(k, &p, out, len));
}

static void test_check_decision(void **state)
{
	(void)state;
	uint8_t digest[32], *dec = NULL, *other = NULL, *wrong = NULL;
	size_t len = 0, other_len = 0, wrong_len = 0;
	struct consent_decision *d = NULL;
	memset(digest, 0xa1, sizeof(digest));
	consent_item_hash(ITEM, digest);
	struct keys *fra = make_keys("FRA", 1), *impostor = make_keys("FRA", 9);
	struct roster_entry *e = entry_of(fra);

	sign(fra, "MEX", &dec, &len);
	assert_dx_ok(consent_store_check_decision(dec, len, e, "MEX", is_item, NULL, &d));
	assert_string_equal(d->provider, "FRA");
	assert_int_equal(d->outcome, DX__CONSENT_OUTCOME__GRANTED_WITH_CONDITIONS);
	assert_string_equal(d->conditions, "Only for the customs inquiry");
	consent_decision_free(d);
	d = NULL;

	/* Signed by another key claiming to be FRA. */
	sign(impostor, "MEX", &other, &other_len);
	assert_dx_err(consent_store_check_decision(other, other_len, e, "MEX", is_item, NULL, &d),
		      DX_ESIG);
	/* A flipped byte anywhere: in the statement, in the signature. */
	for (size_t i = 0; i < len; i++) {
		dec[i] ^= 0x01;
		assert_true(consent_store_check_decision(dec, len, e, "MEX", is_item, NULL, &d) !=
			    DX_OK);
		dec[i] ^= 0x01;
	}
	dec[len / 2] ^= 0x80;
	assert_dx_err(consent_store_check_decision(dec, len, e, "MEX", is_item, NULL, &d), DX_ESIG);
	dec[len / 2] ^= 0x80;
	/* Given to another State; about an item the provider never sent here. */
	sign(fra, "BFA", &wrong, &wrong_len);
	assert_dx_err(consent_store_check_decision(wrong, wrong_len, e, "MEX", is_item, NULL, &d),
		      DX_ESENDER);
	memset(digest, 0xb2, sizeof(digest));
	consent_item_hash(ITEM, digest);
	assert_dx_err(consent_store_check_decision(dec, len, e, "MEX", is_item, NULL, &d),
		      DX_ESENDER);
	assert_null(d);

	free(dec);
	free(other);
	free(wrong);
	roster_entry_free(e);
	keys_free(fra);
	keys_free(impostor);
}

int main(void)
{
	randombytes_buf(KEY, sizeof(KEY));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_decisions_table),
		cmocka_unit_test(test_check_decision),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
