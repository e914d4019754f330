/*
 * test_keys.c: a State's key set: generation, determinism from a seed,
 * signatures, Diffie-Hellman agreement and its refusal of low-order points,
 * prekey rotation, selection, erasure, and the prekey cap.
 */
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "testlib.h"

#define T0 1700000000000ull
#define HOUR_MS (60ull * 60 * 1000)

static struct keys *gen(const char *state, uint64_t now, const uint8_t *seed)
{
	struct keys *k = NULL;
	assert_dx_ok(keys_generate(state, now, KEYS_PREKEY_PERIOD_MS, seed, &k));
	assert_non_null(k);
	return k;
}

static void test_generate(void **state)
{
	(void)state;
	struct keys *k = gen("FRA", T0, NULL);
	uint8_t pk[KEYS_SIGN_PK_LEN], id[KEYS_ID_LEN], want[KEYS_ID_LEN];
	uint8_t spk[KEYS_DH_PK_LEN], sig[KEYS_SIG_LEN];

	assert_string_equal(keys_state(k), "FRA");
	assert_int_equal(keys_created_ms(k), T0);
	keys_identity_pk(k, pk);
	keys_identity_id(k, id);
	keys_key_id(want, pk);
	assert_memory_equal(id, want, KEYS_ID_LEN);
	keys_static_pk(k, spk);
	keys_static_id(k, id);
	keys_key_id(want, spk);
	assert_memory_equal(id, want, KEYS_ID_LEN);
	keys_static_sig(k, sig);
	assert_dx_ok(keys_verify_static("FRA", pk, spk, sig));
	/* The statement names the State: the same signature is no good for another. */
	assert_dx_err(keys_verify_static("MEX", pk, spk, sig), DX_ESIG);
	assert_dx_err(keys_verify_static("mex", pk, spk, sig), DX_ESTATE_CODE);

	assert_int_equal(keys_prekey_count(k), 1);
	const struct keys_prekey *p = keys_prekey_at(k, 0);
	assert_non_null(p);
	assert_null(keys_prekey_at(k, 1));
	assert_int_equal(p->valid_from_ms, T0);
	assert_int_equal(p->valid_until_ms, T0 + KEYS_PREKEY_PERIOD_MS);
	assert_int_equal(p->erased_ms, 0);
	keys_key_id(want, p->pk);
	assert_memory_equal(p->id, want, KEYS_ID_LEN);
	assert_dx_ok(
		keys_verify_prekey("FRA", pk, p->pk, p->valid_from_ms, p->valid_until_ms, p->sig));
	assert_dx_err(keys_verify_prekey("FRA", pk, p->pk, p->valid_from_ms, p->valid_until_ms + 1,
					 p->sig),
		      DX_ESIG);
	assert_ptr_equal(keys_prekey_find(k, p->id), p);
	assert_ptr_equal(keys_prekey_current(k, T0), p);
	keys_free(k);
	keys_free(NULL);
}

static void test_generate_refuses(void **state)
{
	(void)state;
	struct keys *k = NULL;
	assert_dx_err(keys_generate("FR", T0, KEYS_PREKEY_PERIOD_MS, NULL, &k), DX_ESTATE_CODE);
	assert_dx_err(keys_generate("FRAN", T0, KEYS_PREKEY_PERIOD_MS, NULL, &k), DX_ESTATE_CODE);
	assert_dx_err(keys_generate("fra", T0, KEYS_PREKEY_PERIOD_MS, NULL, &k), DX_ESTATE_CODE);
	assert_dx_err(keys_generate(NULL, T0, KEYS_PREKEY_PERIOD_MS, NULL, &k), DX_ESTATE_CODE);
	assert_dx_err(keys_generate("FRA", T0, 0, NULL, &k), DX_EINVAL);
	assert_dx_err(keys_generate("FRA", UINT64_MAX, 1, NULL, &k), DX_EINVAL);
	assert_null(k);
}

static void same_public(const struct keys *a, const struct keys *b, int want_same)
{
	uint8_t x[KEYS_SIGN_PK_LEN], y[KEYS_SIGN_PK_LEN];
	keys_identity_pk(a, x);
	keys_identity_pk(b, y);
	assert_int_equal(memcmp(x, y, sizeof(x)) == 0, want_same);
	keys_static_pk(a, x);
	keys_static_pk(b, y);
	assert_int_equal(memcmp(x, y, sizeof(x)) == 0, want_same);
	assert_int_equal(
		memcmp(keys_prekey_at(a, 0)->pk, keys_prekey_at(b, 0)->pk, KEYS_DH_PK_LEN) == 0,
		want_same);
}

static void test_seed_determinism(void **state)
{
	(void)state;
	uint8_t seed1[32], seed2[32];
	memset(seed1, 0x01, sizeof(seed1));
	memset(seed2, 0x02, sizeof(seed2));
	struct keys *a = gen("FRA", T0, seed1);
	struct keys *b = gen("FRA", T0, seed1);
	struct keys *c = gen("FRA", T0, seed2);
	struct keys *d = gen("FRA", T0, NULL);
	struct keys *e = gen("FRA", T0, NULL);

	same_public(a, b, 1);
	/* Ed25519 signatures are deterministic, so even they agree. */
	uint8_t s1[KEYS_SIG_LEN], s2[KEYS_SIG_LEN];
	keys_static_sig(a, s1);
	keys_static_sig(b, s2);
	assert_memory_equal(s1, s2, KEYS_SIG_LEN);
	assert_memory_equal(keys_prekey_at(a, 0)->sig, keys_prekey_at(b, 0)->sig, KEYS_SIG_LEN);
	same_public(a, c, 0);
	same_public(d, e, 0);
	same_public(a, d, 0);
	keys_free(a);
	keys_free(b);
	keys_free(c);
	keys_free(d);
	keys_free(e);
}

static void test_sign_verify(void **state)
{
	(void)state;
	struct keys *k = gen("MEX", T0, NULL);
	uint8_t pk[KEYS_SIGN_PK_LEN], sig[KEYS_SIG_LEN];
	const uint8_t msg[] = "divex/v1/test\0hello";
	keys_identity_pk(k, pk);
	keys_sign(k, sig, msg, sizeof(msg));
	assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof(msg), pk), 0);
	assert_int_not_equal(crypto_sign_verify_detached(sig, msg, sizeof(msg) - 1, pk), 0);
	sig[10] ^= 1;
	assert_int_not_equal(crypto_sign_verify_detached(sig, msg, sizeof(msg), pk), 0);
	keys_free(k);
}

static void test_dh_agreement(void **state)
{
	(void)state;
	struct keys *a = gen("FRA", T0, NULL);
	struct keys *b = gen("BFA", T0, NULL);
	uint8_t apk[KEYS_DH_PK_LEN], bpk[KEYS_DH_PK_LEN], epk[KEYS_DH_PK_LEN];
	uint8_t x[KEYS_DH_LEN], y[KEYS_DH_LEN];

	keys_static_pk(a, apk);
	keys_static_pk(b, bpk);
	assert_dx_ok(keys_dh_static(a, x, bpk));
	assert_dx_ok(keys_dh_static(b, y, apk));
	assert_memory_equal(x, y, KEYS_DH_LEN);

	struct keys_ephemeral *e = NULL;
	assert_dx_ok(keys_ephemeral_new(NULL, &e));
	keys_ephemeral_pk(e, epk);
	const struct keys_prekey *bp = keys_prekey_at(b, 0);
	assert_dx_ok(keys_ephemeral_dh(e, x, bp->pk));
	assert_dx_ok(keys_dh_prekey(b, bp->id, y, epk));
	assert_memory_equal(x, y, KEYS_DH_LEN);
	assert_dx_ok(keys_ephemeral_dh(e, x, bpk));
	assert_dx_ok(keys_dh_static(b, y, epk));
	assert_memory_equal(x, y, KEYS_DH_LEN);
	/* a never had b's prekey. */
	assert_dx_err(keys_dh_prekey(a, bp->id, y, epk), DX_EPREKEY_UNKNOWN);
	keys_ephemeral_free(e);
	keys_ephemeral_free(NULL);

	/* A seeded ephemeral key is reproducible. */
	uint8_t seed[32], pk1[KEYS_DH_PK_LEN], pk2[KEYS_DH_PK_LEN];
	struct keys_ephemeral *e1 = NULL, *e2 = NULL;
	memset(seed, 0x42, sizeof(seed));
	assert_dx_ok(keys_ephemeral_new(seed, &e1));
	assert_dx_ok(keys_ephemeral_new(seed, &e2));
	keys_ephemeral_pk(e1, pk1);
	keys_ephemeral_pk(e2, pk2);
	assert_memory_equal(pk1, pk2, KEYS_DH_PK_LEN);
	keys_ephemeral_free(e1);
	keys_ephemeral_free(e2);
	keys_free(a);
	keys_free(b);
}

/*
 * Points of small order on Curve25519 and their non-canonical encodings:
 * multiplying any clamped scalar by them gives zero, so a peer that sends one
 * would pin the shared secret.
 */
static const char *const LOW_ORDER[] = {
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0100000000000000000000000000000000000000000000000000000000000000",
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
};

static void test_dh_low_order(void **state)
{
	(void)state;
	struct keys *k = gen("FRA", T0, NULL);
	struct keys_ephemeral *e = NULL;
	const struct keys_prekey *p = keys_prekey_at(k, 0);
	uint8_t zero[KEYS_DH_LEN] = { 0 };
	assert_dx_ok(keys_ephemeral_new(NULL, &e));
	for (size_t i = 0; i < sizeof(LOW_ORDER) / sizeof(LOW_ORDER[0]); i++) {
		uint8_t point[KEYS_DH_PK_LEN], out[KEYS_DH_LEN];
		assert_dx_ok(dx_unhex(point, sizeof(point), LOW_ORDER[i]));
		memset(out, 0xaa, sizeof(out));
		assert_dx_err(keys_dh_static(k, out, point), DX_EDH);
		assert_memory_equal(out, zero, sizeof(out));
		assert_dx_err(keys_dh_prekey(k, p->id, out, point), DX_EDH);
		assert_dx_err(keys_ephemeral_dh(e, out, point), DX_EDH);
	}
	keys_ephemeral_free(e);
	keys_free(k);
}

static void test_rotation_and_current(void **state)
{
	(void)state;
	const uint64_t P = KEYS_PREKEY_PERIOD_MS;
	struct keys *k = gen("FRA", T0, NULL);
	const uint64_t t1 = T0 + P - HOUR_MS; /* rotate an hour before expiry */

	assert_dx_ok(keys_rotate_prekey(k, t1, P));
	assert_int_equal(keys_prekey_count(k), 2);
	const struct keys_prekey *p0 = keys_prekey_at(k, 0);
	const struct keys_prekey *p1 = keys_prekey_at(k, 1);
	uint8_t pk[KEYS_SIGN_PK_LEN];
	keys_identity_pk(k, pk);
	assert_dx_ok(keys_verify_prekey("FRA", pk, p1->pk, t1, t1 + P, p1->sig));

	assert_null(keys_prekey_current(k, T0 - 1));
	assert_ptr_equal(keys_prekey_current(k, T0), p0);
	assert_ptr_equal(keys_prekey_current(k, t1 - 1), p0);
	/* Both are valid at t1: the newer one wins. */
	assert_ptr_equal(keys_prekey_current(k, t1), p1);
	assert_ptr_equal(keys_prekey_current(k, T0 + P), p1);
	assert_ptr_equal(keys_prekey_current(k, t1 + P - 1), p1);
	assert_null(keys_prekey_current(k, t1 + P));
	assert_ptr_equal(keys_prekey_find(k, p1->id), p1);

	assert_dx_err(keys_rotate_prekey(k, t1, 0), DX_EINVAL);
	assert_dx_err(keys_rotate_prekey(k, UINT64_MAX - 5, 10), DX_EINVAL);
	assert_int_equal(keys_prekey_count(k), 2);
	keys_free(k);
}

static void test_erasure(void **state)
{
	(void)state;
	const uint64_t P = KEYS_PREKEY_PERIOD_MS, G = KEYS_PREKEY_GRACE_MS;
	struct keys *k = gen("FRA", T0, NULL);
	struct keys_ephemeral *e = NULL;
	uint8_t epk[KEYS_DH_PK_LEN], out[KEYS_DH_LEN], unknown[KEYS_ID_LEN];

	assert_dx_ok(keys_rotate_prekey(k, T0 + P, P));
	const struct keys_prekey *p0 = keys_prekey_at(k, 0);
	const struct keys_prekey *p1 = keys_prekey_at(k, 1);
	assert_dx_ok(keys_ephemeral_new(NULL, &e));
	keys_ephemeral_pk(e, epk);

	/* A grace so long that valid_until + grace overflows never erases. */
	assert_int_equal(keys_erase_expired_prekeys(k, UINT64_MAX, UINT64_MAX), 0);
	assert_int_equal(keys_erase_expired_prekeys(k, T0 + P + G - 1, G), 0);
	assert_dx_ok(keys_dh_prekey(k, p0->id, out, epk));
	assert_int_equal(keys_erase_expired_prekeys(k, T0 + P + G, G), 1);
	assert_int_equal(p0->erased_ms, T0 + P + G);
	assert_int_equal(p1->erased_ms, 0);
	assert_dx_err(keys_dh_prekey(k, p0->id, out, epk), DX_EPREKEY_ERASED);
	assert_dx_ok(keys_dh_prekey(k, p1->id, out, epk));
	/* A later pass erases p1 and leaves p0's erasure time alone. */
	assert_int_equal(keys_erase_expired_prekeys(k, T0 + 100 * P, G), 1);
	assert_int_equal(p0->erased_ms, T0 + P + G);
	assert_dx_err(keys_dh_prekey(k, p1->id, out, epk), DX_EPREKEY_ERASED);
	assert_null(keys_prekey_current(k, T0 + 1));

	randombytes_buf(unknown, sizeof(unknown));
	assert_dx_err(keys_dh_prekey(k, unknown, out, epk), DX_EPREKEY_UNKNOWN);
	assert_null(keys_prekey_find(k, unknown));
	keys_ephemeral_free(e);
	keys_free(k);
}

/* Every live prekey still agrees with an ephemeral key: secrets and records
 * stayed paired when records were dropped. */
static void check_live_prekeys(const struct keys *k)
{
	struct keys_ephemeral *e = NULL;
	uint8_t epk[KEYS_DH_PK_LEN], x[KEYS_DH_LEN], y[KEYS_DH_LEN];
	assert_dx_ok(keys_ephemeral_new(NULL, &e));
	keys_ephemeral_pk(e, epk);
	for (size_t i = 0; i < keys_prekey_count(k); i++) {
		const struct keys_prekey *p = keys_prekey_at(k, i);
		if (p->erased_ms != 0) {
			assert_dx_err(keys_dh_prekey(k, p->id, y, epk), DX_EPREKEY_ERASED);
			continue;
		}
		assert_dx_ok(keys_ephemeral_dh(e, x, p->pk));
		assert_dx_ok(keys_dh_prekey(k, p->id, y, epk));
		assert_memory_equal(x, y, KEYS_DH_LEN);
	}
	keys_ephemeral_free(e);
}

static void test_rotation_cap(void **state)
{
	(void)state;
	const uint64_t P = KEYS_PREKEY_PERIOD_MS, G = KEYS_PREKEY_GRACE_MS;
	struct keys *k = gen("FRA", T0, NULL);
	uint64_t t = T0;

	while (keys_prekey_count(k) < KEYS_MAX_PREKEYS) {
		t += P;
		assert_dx_ok(keys_rotate_prekey(k, t, P));
	}
	/* All live: nothing may be dropped. */
	assert_dx_err(keys_rotate_prekey(k, t + P, P), DX_ETOOBIG);
	assert_int_equal(keys_prekey_count(k), KEYS_MAX_PREKEYS);

	/* Erase the first three; the next rotation drops the oldest erased one. */
	uint8_t first[KEYS_ID_LEN], second[KEYS_ID_LEN];
	memcpy(first, keys_prekey_at(k, 0)->id, KEYS_ID_LEN);
	memcpy(second, keys_prekey_at(k, 1)->id, KEYS_ID_LEN);
	assert_int_equal(keys_erase_expired_prekeys(k, T0 + 3 * P + G, G), 3);
	check_live_prekeys(k);
	assert_dx_ok(keys_rotate_prekey(k, t + P, P));
	assert_int_equal(keys_prekey_count(k), KEYS_MAX_PREKEYS);
	assert_null(keys_prekey_find(k, first));
	assert_non_null(keys_prekey_find(k, second));
	assert_int_equal(keys_prekey_at(k, KEYS_MAX_PREKEYS - 1)->valid_from_ms, t + P);
	check_live_prekeys(k);
	uint8_t out[KEYS_DH_LEN], peer[KEYS_DH_PK_LEN];
	memset(peer, 9, sizeof(peer));
	assert_dx_err(keys_dh_prekey(k, first, out, peer), DX_EPREKEY_UNKNOWN);
	keys_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate),
		cmocka_unit_test(test_generate_refuses),
		cmocka_unit_test(test_seed_determinism),
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_dh_agreement),
		cmocka_unit_test(test_dh_low_order),
		cmocka_unit_test(test_rotation_and_current),
		cmocka_unit_test(test_erasure),
		cmocka_unit_test(test_rotation_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
