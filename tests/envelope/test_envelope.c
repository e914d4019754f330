/*
 * test_envelope.c: sealing and opening (PROTOCOL.md section 5): round trips,
 * agreement with an independent implementation of the spec, every refusal
 * with its own code, every single-byte flip, key-compromise impersonation and
 * re-wrapping for a third State.
 */
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "fixtures.h"
#include "specseal.h"
#include "testlib.h"
#include "wire.pb-c.h"

static struct fixture F;

static int setup(void **state)
{
	(void)state;
	fixture_init(&F);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fixture_fini(&F);
	return 0;
}

static uint8_t *seal_to(const struct keys *from, const struct seal_peer *to, const uint8_t *body,
			size_t body_len, size_t *len)
{
	struct seal_params p = fixture_seal_params(from, to, body, body_len);
	uint8_t *env = NULL, id[ENVELOPE_ID_LEN];
	assert_dx_ok(seal_envelope(&p, &env, len, id, NULL));
	return env;
}

static int try_open(const struct keys *k, const uint8_t *env, size_t len)
{
	struct open_params op = fixture_open_params(&F, k, FIX_NOW_MS + 2000);
	struct opened o;
	int rc = open_envelope(&op, env, len, &o);
	if (rc == DX_OK) {
		opened_clear(&o);
	}
	return rc;
}

static void round_trip(size_t body_len)
{
	uint8_t *body = malloc(body_len + 1);
	size_t len;
	randombytes_buf(body, body_len);
	uint8_t *env = seal_to(F.fra, &F.mex_peer, body, body_len, &len);
	assert_true(len <= ENVELOPE_MAX);

	struct open_params op = fixture_open_params(&F, F.mex, FIX_NOW_MS + 2000);
	struct opened o;
	assert_dx_ok(open_envelope(&op, env, len, &o));
	assert_int_equal(o.body_len, body_len);
	assert_memory_equal(o.body, body, body_len);
	assert_string_equal(o.info.sender, "FRA");
	assert_string_equal(o.info.recipient, "MEX");
	assert_int_equal(o.info.sequence, 1);
	/* The inner signature verifies offline, as an arbiter would check it. */
	assert_dx_ok(envelope_verify_inner(o.info.id, "FRA", "MEX", o.body, o.body_len,
					   o.inner_signature, F.fra_peer.identity_pk));
	/* The revealed content key matches the header's commitment. */
	uint8_t c[ENVELOPE_HASH_LEN];
	seal_key_commitment(c, o.content_key, o.content_key + SEAL_KEY_LEN);
	assert_memory_equal(c, o.info.key_commitment, ENVELOPE_HASH_LEN);
	opened_clear(&o);
	free(env);
	free(body);
}

static void test_round_trips(void **state)
{
	(void)state;
	round_trip(0);
	round_trip(1);
	round_trip(1000);
	round_trip(ENVELOPE_BODY_MAX);
}

static void test_too_big(void **state)
{
	(void)state;
	size_t n = ENVELOPE_BODY_MAX + 1;
	uint8_t *body = calloc(1, n);
	struct seal_params p = fixture_seal_params(F.fra, &F.mex_peer, body, n);
	uint8_t *env = NULL, id[ENVELOPE_ID_LEN];
	size_t len;
	/* Larger content travels as an attachment; the envelope refuses it. */
	assert_dx_err(seal_envelope(&p, &env, &len, id, NULL), DX_ETOOBIG);
	free(body);
	/* An oversized buffer is refused before any decoding. */
	uint8_t *big = calloc(1, ENVELOPE_MAX + 1);
	assert_dx_err(try_open(F.mex, big, ENVELOPE_MAX + 1), DX_ETOOBIG);
	free(big);
}

/* The code and the independent implementation of the spec agree byte for byte. */
static void test_matches_spec(void **state)
{
	(void)state;
	static const uint8_t body[] = "case note: 40 rifles, serials removed";
	struct spec_input in;
	memset(&in, 0, sizeof(in));
	memset(in.id, 0xA5, 16);
	memset(in.eph_sk, 0x5A, 32);
	memcpy(in.sender, "FRA", 4);
	memcpy(in.recipient, "MEX", 4);
	keys_identity_pk(F.fra, in.sender_identity_pk);
	keys_static_pk(F.fra, in.sender_static_pk);
	memcpy(in.recipient_identity_pk, F.mex_peer.identity_pk, 32);
	memcpy(in.recipient_static_pk, F.mex_peer.static_pk, 32);
	memcpy(in.prekey_pk, F.mex_peer.prekey_pk, 32);
	assert_dx_ok(keys_dh_static(F.fra, in.dh1, in.prekey_pk));
	in.sequence = 1;
	in.created_ms = FIX_NOW_MS + 1000;
	in.body = body;
	in.body_len = sizeof(body);
	in.signer = F.fra;
	uint8_t *spec = NULL;
	size_t spec_len;
	assert_int_equal(spec_seal(&in, &spec, &spec_len), 0);

	struct seal_params p = fixture_seal_params(F.fra, &F.mex_peer, body, sizeof(body));
	p.fixed_id = in.id;
	p.fixed_ephemeral = in.eph_sk;
	uint8_t *env = NULL, id[ENVELOPE_ID_LEN];
	size_t len;
	assert_dx_ok(seal_envelope(&p, &env, &len, id, NULL));
	assert_int_equal(len, spec_len);
	assert_memory_equal(env, spec, len);
	free(env);
	free(spec);
}

/* Every single-byte change anywhere in an envelope is refused. */
static void test_every_flip(void **state)
{
	(void)state;
	static const uint8_t body[] = "request for information: end-user file";
	size_t len;
	uint8_t *env = seal_to(F.fra, &F.mex_peer, body, sizeof(body), &len);
	assert_dx_ok(try_open(F.mex, env, len));
	/* Every other value of every byte, not just single bits. */
	for (size_t i = 0; i < len; i++) {
		for (unsigned delta = 1; delta < 256; delta++) {
			env[i] ^= (uint8_t)delta;
			int rc = try_open(F.mex, env, len);
			if (rc == DX_OK) {
				fail_msg("byte %zu of %zu xor 0x%02x was accepted", i, len, delta);
			}
			env[i] ^= (uint8_t)delta;
		}
	}
	/* Truncation and extension at every length are refused too. */
	for (size_t n = 0; n < len; n++) {
		assert_true(try_open(F.mex, env, n) != DX_OK);
	}
	uint8_t *longer = malloc(len + 1);
	memcpy(longer, env, len);
	longer[len] = 0;
	assert_true(try_open(F.mex, longer, len + 1) != DX_OK);
	free(longer);
	free(env);
}

/*
 * Re-signs an envelope after a change, as an authenticated but malicious
 * sender could: mutate gets the decoded header and may change the ciphertext.
 */
typedef void (*mutate_fn)(Dx__EnvelopeHeader *h, ProtobufCBinaryData *ct);

static uint8_t *resign(const struct keys *signer, const uint8_t *env, size_t len, mutate_fn mutate,
		       size_t *out_len)
{
	Dx__Envelope *e = dx__envelope__unpack(NULL, len, env);
	assert_non_null(e);
	Dx__EnvelopeHeader *h = dx__envelope_header__unpack(NULL, e->header.len, e->header.data);
	assert_non_null(h);
	mutate(h, &e->ciphertext);
	uint8_t *hdr = NULL, *stmt = NULL, *out = NULL, ct_hash[32], sig[64];
	size_t hlen, slen;
	assert_dx_ok(proto_pack_alloc(&h->base, &hdr, &hlen));
	envelope_ciphertext_hash(ct_hash, e->ciphertext.data, e->ciphertext.len);
	assert_dx_ok(envelope_outer_statement(hdr, hlen, ct_hash, &stmt, &slen));
	keys_sign(signer, sig, stmt, slen);
	Dx__Envelope ne = DX__ENVELOPE__INIT;
	ne.header = (ProtobufCBinaryData){ hlen, hdr };
	ne.ciphertext = e->ciphertext;
	ne.signature = (ProtobufCBinaryData){ 64, sig };
	assert_dx_ok(proto_pack_alloc(&ne.base, &out, out_len));
	free(stmt);
	free(hdr);
	dx__envelope_header__free_unpacked(h, NULL);
	dx__envelope__free_unpacked(e, NULL);
	return out;
}

static void mut_suite(Dx__EnvelopeHeader *h, ProtobufCBinaryData *ct)
{
	(void)ct;
	h->suite = 2;
}

static void mut_commitment(Dx__EnvelopeHeader *h, ProtobufCBinaryData *ct)
{
	(void)ct;
	h->key_commitment.data[0] ^= 1;
}

static void mut_ciphertext(Dx__EnvelopeHeader *h, ProtobufCBinaryData *ct)
{
	(void)h;
	ct->data[ct->len / 2] ^= 1;
}

static void mut_low_order(Dx__EnvelopeHeader *h, ProtobufCBinaryData *ct)
{
	(void)ct;
	memset(h->ephemeral_key.data, 0, 32); /* the identity point */
}

static void mut_sequence(Dx__EnvelopeHeader *h, ProtobufCBinaryData *ct)
{
	(void)ct;
	h->sequence = 7;
}

static void mut_none(Dx__EnvelopeHeader *h, ProtobufCBinaryData *ct)
{
	(void)h;
	(void)ct;
}

static void test_refusals_by_signed_sender(void **state)
{
	(void)state;
	static const uint8_t body[] = "notice: meeting 2027-08-23";
	size_t len, n;
	uint8_t *env = seal_to(F.fra, &F.mex_peer, body, sizeof(body), &len);
	struct {
		mutate_fn fn;
		int want;
	} cases[] = {
		{ mut_none, DX_OK },
		{ mut_suite, DX_ESUITE },
		{ mut_commitment, DX_ECOMMIT },
		{ mut_ciphertext, DX_EDECRYPT },
		{ mut_low_order, DX_EDH },
		/* A header change the AEAD notices although the signature is valid. */
		{ mut_sequence, DX_EDECRYPT },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *bad = resign(F.fra, env, len, cases[i].fn, &n);
		assert_dx_err(try_open(F.mex, bad, n), cases[i].want);
		/* Signed by anyone else, each is refused by the outer signature. */
		free(bad);
		bad = resign(F.bfa, env, len, cases[i].fn, &n);
		int rc = try_open(F.mex, bad, n);
		assert_true(rc == DX_EOUTER_SIG || (cases[i].fn == mut_suite && rc == DX_ESUITE));
		free(bad);
	}
	free(env);
}

static void test_wrong_recipient(void **state)
{
	(void)state;
	size_t len;
	uint8_t *env = seal_to(F.fra, &F.mex_peer, (const uint8_t *)"x", 1, &len);
	assert_dx_err(try_open(F.bfa, env, len), DX_ERECIPIENT);
	/* Same State, another static key: a re-keyed node is not the addressee. */
	struct keys *mex2 = NULL;
	assert_dx_ok(keys_generate("MEX", FIX_NOW_MS, KEYS_PREKEY_PERIOD_MS, NULL, &mex2));
	assert_dx_err(try_open(mex2, env, len), DX_ERECIPIENT);
	keys_free(mex2);
	free(env);
}

static void test_prekey_states(void **state)
{
	(void)state;
	size_t len;
	struct seal_peer to = F.mex_peer;
	/* A prekey MEX never had. */
	randombytes_buf(to.prekey_pk, 32);
	uint8_t *env = seal_to(F.fra, &to, (const uint8_t *)"x", 1, &len);
	assert_dx_err(try_open(F.mex, env, len), DX_EPREKEY_UNKNOWN);
	free(env);

	/* A prekey that expired before the envelope was sealed. */
	struct keys *mex = NULL;
	uint8_t seed[32];
	memset(seed, 0x02, sizeof(seed));
	assert_dx_ok(keys_generate("MEX", FIX_NOW_MS, KEYS_PREKEY_PERIOD_MS, seed, &mex));
	struct seal_params p = fixture_seal_params(F.fra, &F.mex_peer, (const uint8_t *)"x", 1);
	p.created_ms = FIX_NOW_MS + KEYS_PREKEY_PERIOD_MS + OPEN_DEFAULT_MAX_SKEW_MS + 1;
	uint8_t id[16];
	assert_dx_ok(seal_envelope(&p, &env, &len, id, NULL));
	struct open_params op = fixture_open_params(&F, mex, p.created_ms + 1000);
	struct opened o;
	assert_dx_err(open_envelope(&op, env, len, &o), DX_EPREKEY_EXPIRED);
	free(env);

	/* After rotation and the grace period, the old private half is erased. */
	p.created_ms = FIX_NOW_MS + 1000;
	assert_dx_ok(seal_envelope(&p, &env, &len, id, NULL));
	uint64_t later = FIX_NOW_MS + KEYS_PREKEY_PERIOD_MS + KEYS_PREKEY_GRACE_MS;
	assert_dx_ok(keys_rotate_prekey(mex, later - 1, KEYS_PREKEY_PERIOD_MS));
	assert_int_equal(keys_erase_expired_prekeys(mex, later, KEYS_PREKEY_GRACE_MS), 1);
	op = fixture_open_params(&F, mex, later);
	assert_dx_err(open_envelope(&op, env, len, &o), DX_EPREKEY_ERASED);
	free(env);
	keys_free(mex);
}

static void test_replay_and_time(void **state)
{
	(void)state;
	size_t len;
	uint8_t *env = seal_to(F.fra, &F.mex_peer, (const uint8_t *)"x", 1, &len);
	struct open_params op = fixture_open_params(&F, F.mex, FIX_NOW_MS + 2000);
	struct opened o;
	assert_dx_ok(open_envelope(&op, env, len, &o));
	memcpy(F.seen[F.n_seen++], o.info.id, ENVELOPE_ID_LEN);
	opened_clear(&o);
	assert_dx_err(open_envelope(&op, env, len, &o), DX_EREPLAY);
	F.n_seen = 0;

	op.now_ms = FIX_NOW_MS + 1000 + OPEN_DEFAULT_MAX_AGE_MS + 1;
	assert_dx_err(open_envelope(&op, env, len, &o), DX_ESTALE);
	op.now_ms = FIX_NOW_MS + 1000 - OPEN_DEFAULT_MAX_SKEW_MS - 1;
	assert_dx_err(open_envelope(&op, env, len, &o), DX_ESTALE);
	free(env);
}

static int lookup_none(void *ctx, const char *st, const uint8_t id[static KEYS_ID_LEN],
		       struct seal_peer *out)
{
	(void)ctx;
	(void)st;
	(void)id;
	(void)out;
	return DX_ESENDER;
}

static void test_unknown_sender(void **state)
{
	(void)state;
	size_t len;
	uint8_t *env = seal_to(F.fra, &F.mex_peer, (const uint8_t *)"x", 1, &len);
	struct open_params op = fixture_open_params(&F, F.mex, FIX_NOW_MS + 2000);
	op.lookup_sender = lookup_none;
	struct opened o;
	assert_dx_err(open_envelope(&op, env, len, &o), DX_ESENDER);
	free(env);
}

/* A forged SealedPayload: a valid envelope whose inner signature is wrong. */
static void test_bad_inner_signature(void **state)
{
	(void)state;
	static const uint8_t body[] = "consent: granted";
	uint8_t sig[64], id[16], *plain = NULL, *env = NULL;
	size_t plen, len;
	randombytes_buf(id, sizeof(id));
	randombytes_buf(sig, sizeof(sig));
	Dx__SealedPayload sp = DX__SEALED_PAYLOAD__INIT;
	sp.body = (ProtobufCBinaryData){ sizeof(body), (uint8_t *)body };
	sp.inner_signature = (ProtobufCBinaryData){ 64, sig };
	assert_dx_ok(proto_pack_alloc(&sp.base, &plain, &plen));
	struct seal_params p = fixture_seal_params(F.fra, &F.mex_peer, NULL, 0);
	assert_dx_ok(seal_envelope_raw(&p, id, plain, plen, &env, &len, NULL));
	assert_dx_err(try_open(F.mex, env, len), DX_EINNER_SIG);
	free(env);
	free(plain);
}

/*
 * Key-compromise impersonation: an attacker who holds all of MEX's private
 * keys can compute every DH output of an envelope "from FRA" to MEX, but not
 * FRA's signature. The same forgery signed by FRA opens, so it is the outer
 * signature alone that stops the attack.
 */
static void test_kci_forgery_refused(void **state)
{
	(void)state;
	static const uint8_t body[] = "FRA asks MEX to seize shipment 17";
	struct spec_input in;
	memset(&in, 0, sizeof(in));
	randombytes_buf(in.id, 16);
	randombytes_buf(in.eph_sk, 32);
	memcpy(in.sender, "FRA", 4);
	memcpy(in.recipient, "MEX", 4);
	memcpy(in.sender_identity_pk, F.fra_peer.identity_pk, 32);
	memcpy(in.sender_static_pk, F.fra_peer.static_pk, 32);
	memcpy(in.recipient_identity_pk, F.mex_peer.identity_pk, 32);
	memcpy(in.recipient_static_pk, F.mex_peer.static_pk, 32);
	memcpy(in.prekey_pk, F.mex_peer.prekey_pk, 32);
	/* dh1 from the recipient's side: X25519(MEX prekey secret, FRA static). */
	uint8_t pid[16];
	keys_key_id(pid, in.prekey_pk);
	assert_dx_ok(keys_dh_prekey(F.mex, pid, in.dh1, in.sender_static_pk));
	in.sequence = 1;
	in.created_ms = FIX_NOW_MS + 1000;
	in.body = body;
	in.body_len = sizeof(body);

	uint8_t *env = NULL;
	size_t len;
	in.signer = F.mex; /* the attacker's best signing key */
	assert_int_equal(spec_seal(&in, &env, &len), 0);
	assert_dx_err(try_open(F.mex, env, len), DX_EOUTER_SIG);
	free(env);

	in.signer = F.fra; /* control: only the signature was missing */
	assert_int_equal(spec_seal(&in, &env, &len), 0);
	assert_dx_ok(try_open(F.mex, env, len));
	free(env);
}

/*
 * MEX cannot pass FRA's signed content to BFA as if FRA had sent it to BFA:
 * the inner signature names MEX as recipient and FRA as sender.
 */
static void test_rewrap_refused(void **state)
{
	(void)state;
	static const uint8_t body[] = "H2: no further dissemination";
	size_t len, len2, plen;
	uint8_t *env = seal_to(F.fra, &F.mex_peer, body, sizeof(body), &len);
	struct open_params op = fixture_open_params(&F, F.mex, FIX_NOW_MS + 2000);
	struct opened o;
	assert_dx_ok(open_envelope(&op, env, len, &o));

	Dx__SealedPayload sp = DX__SEALED_PAYLOAD__INIT;
	sp.body = (ProtobufCBinaryData){ o.body_len, o.body };
	sp.inner_signature = (ProtobufCBinaryData){ 64, o.inner_signature };
	uint8_t *plain = NULL, *env2 = NULL;
	assert_dx_ok(proto_pack_alloc(&sp.base, &plain, &plen));
	/* Re-sealed by MEX, under the same id, to BFA. */
	struct seal_params p = fixture_seal_params(F.mex, &F.bfa_peer, NULL, 0);
	assert_dx_ok(seal_envelope_raw(&p, o.info.id, plain, plen, &env2, &len2, NULL));
	assert_dx_err(try_open(F.bfa, env2, len2), DX_EINNER_SIG);
	/* And offline, the signature does not bind FRA to BFA as recipient. */
	assert_dx_err(envelope_verify_inner(o.info.id, "FRA", "BFA", o.body, o.body_len,
					    o.inner_signature, F.fra_peer.identity_pk),
		      DX_EINNER_SIG);
	opened_clear(&o);
	free(env2);
	free(plain);
	free(env);
}

/* The relay's view: keyless parse and outer verification. */
static void test_parse_keyless(void **state)
{
	(void)state;
	size_t len;
	uint8_t *env = seal_to(F.fra, &F.mex_peer, (const uint8_t *)"x", 1, &len);
	struct envelope_info e;
	assert_dx_ok(envelope_parse(env, len, &e));
	assert_string_equal(e.sender, "FRA");
	assert_dx_ok(envelope_verify_outer(&e, F.fra_peer.identity_pk));
	assert_dx_err(envelope_verify_outer(&e, F.bfa_peer.identity_pk), DX_EOUTER_SIG);
	/* Non-canonical: the same fields followed by an unknown field. */
	uint8_t *ext = malloc(len + 2);
	memcpy(ext, env, len);
	ext[len] = 0x20; /* field 4, varint */
	ext[len + 1] = 0x01;
	assert_dx_err(envelope_parse(ext, len + 2, &e), DX_EPARSE);
	free(ext);
	free(env);
}

int main(void)
{
	if (sodium_init() < 0) {
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_matches_spec),
		cmocka_unit_test(test_every_flip),
		cmocka_unit_test(test_refusals_by_signed_sender),
		cmocka_unit_test(test_wrong_recipient),
		cmocka_unit_test(test_prekey_states),
		cmocka_unit_test(test_replay_and_time),
		cmocka_unit_test(test_unknown_sender),
		cmocka_unit_test(test_bad_inner_signature),
		cmocka_unit_test(test_kci_forgery_refused),
		cmocka_unit_test(test_rewrap_refused),
		cmocka_unit_test(test_parse_keyless),
	};
	return cmocka_run_group_tests_name("envelope", tests, setup, teardown);
}
