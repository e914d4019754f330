/*
 * test_fingerprint.c: identity-key fingerprints against the committed
 * known-answer vectors in tests/vectors/fingerprints.json, their format, and
 * the comparison with what a user types.
 *
 * DIVEX_REGEN_VECTORS=1 rewrites the vector file from this implementation
 * instead of checking it; do that only when the format changes on purpose.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "testlib.h"

#define VECTOR_FILE "tests/vectors/fingerprints.json"
#define VECTOR_CREATED_MS 1700000000000ull

static const struct {
	uint8_t seed_byte;
	const char *state;
} VECTORS[] = {
	{ 0x01, "FRA" },
	{ 0x02, "MEX" },
	{ 0x03, "BFA" },
};
#define N_VECTORS (sizeof(VECTORS) / sizeof(VECTORS[0]))

static struct keys *vector_keys(size_t i, uint8_t seed[static 32])
{
	struct keys *k = NULL;
	memset(seed, VECTORS[i].seed_byte, 32);
	assert_dx_ok(keys_generate(VECTORS[i].state, VECTOR_CREATED_MS, KEYS_PREKEY_PERIOD_MS, seed,
				   &k));
	return k;
}

static void regenerate(const char *path)
{
	json_t *list = json_array();
	for (size_t i = 0; i < N_VECTORS; i++) {
		uint8_t seed[32], pk[KEYS_SIGN_PK_LEN];
		char seed_hex[65], pk_hex[2 * KEYS_SIGN_PK_LEN + 1], fp[KEYS_FP_STR_LEN];
		struct keys *k = vector_keys(i, seed);
		keys_identity_pk(k, pk);
		keys_fingerprint(fp, VECTORS[i].state, pk);
		dx_hex(seed_hex, seed, sizeof(seed));
		dx_hex(pk_hex, pk, sizeof(pk));
		json_array_append_new(list, json_pack("{s:s, s:s, s:I, s:s, s:s}", "seed", seed_hex,
						      "state", VECTORS[i].state, "created_ms",
						      (json_int_t)VECTOR_CREATED_MS, "identity_pk",
						      pk_hex, "fingerprint", fp));
		keys_free(k);
	}
	json_t *doc = json_pack("{s:s, s:o}", "description",
				"Identity-key fingerprints (PROTOCOL.md 4.5). Keys come from "
				"keys_generate(state, created_ms, 7 days, seed) (PROTOCOL.md 9).",
				"vectors", list);
	assert_int_equal(json_dump_file(doc, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER), 0);
	json_decref(doc);
}

static void test_vectors(void **state)
{
	(void)state;
	const char *path = test_path(test_source_dir(), VECTOR_FILE);
	const char *regen = getenv("DIVEX_REGEN_VECTORS");
	if (regen != NULL && strcmp(regen, "1") == 0) {
		regenerate(path);
	}
	json_error_t err;
	json_t *doc = json_load_file(path, 0, &err);
	if (doc == NULL) {
		fail_msg("%s: %s", path, err.text);
	}
	json_t *list = json_object_get(doc, "vectors");
	assert_int_equal(json_array_size(list), N_VECTORS);
	for (size_t i = 0; i < N_VECTORS; i++) {
		json_t *v = json_array_get(list, i);
		const char *seed_hex = json_string_value(json_object_get(v, "seed"));
		const char *st = json_string_value(json_object_get(v, "state"));
		const char *pk_hex = json_string_value(json_object_get(v, "identity_pk"));
		const char *want = json_string_value(json_object_get(v, "fingerprint"));
		assert_non_null(seed_hex);
		assert_non_null(st);
		assert_non_null(pk_hex);
		assert_non_null(want);
		assert_int_equal(json_integer_value(json_object_get(v, "created_ms")),
				 VECTOR_CREATED_MS);

		uint8_t seed[32], want_seed[32], pk[KEYS_SIGN_PK_LEN], want_pk[KEYS_SIGN_PK_LEN];
		char fp[KEYS_FP_STR_LEN];
		struct keys *k = vector_keys(i, seed);
		assert_dx_ok(dx_unhex(want_seed, sizeof(want_seed), seed_hex));
		assert_memory_equal(seed, want_seed, sizeof(seed));
		assert_string_equal(st, VECTORS[i].state);
		assert_dx_ok(dx_unhex(want_pk, sizeof(want_pk), pk_hex));
		keys_identity_pk(k, pk);
		assert_memory_equal(pk, want_pk, sizeof(pk));
		/* The fingerprint depends on the public key alone. */
		keys_fingerprint(fp, st, want_pk);
		assert_string_equal(fp, want);
		assert_true(keys_fingerprint_matches(want, st, want_pk));
		keys_free(k);
	}
	json_decref(doc);
}

static void random_pk(uint8_t pk[static KEYS_SIGN_PK_LEN])
{
	uint8_t sk[crypto_sign_SECRETKEYBYTES];
	crypto_sign_keypair(pk, sk);
	sodium_memzero(sk, sizeof(sk));
}

static void test_format(void **state)
{
	(void)state;
	uint8_t pk[KEYS_SIGN_PK_LEN];
	char fp[KEYS_FP_STR_LEN], other[KEYS_FP_STR_LEN];
	assert_int_equal(KEYS_FP_STR_LEN, 36);
	for (int round = 0; round < 20; round++) {
		random_pk(pk);
		keys_fingerprint(fp, "FRA", pk);
		assert_int_equal(strlen(fp), KEYS_FP_STR_LEN - 1);
		for (size_t i = 0; i < strlen(fp); i++) {
			if (i % 6 == 5) {
				assert_int_equal(fp[i], ' ');
			} else {
				assert_true(fp[i] >= '0' && fp[i] <= '9');
			}
		}
		/* The State is bound in: the same key under another name differs. */
		keys_fingerprint(other, "MEX", pk);
		assert_string_not_equal(fp, other);
	}
	keys_fingerprint(fp, "fra", pk);
	assert_string_equal(fp, "");
	keys_fingerprint(fp, NULL, pk);
	assert_string_equal(fp, "");
}

static void test_matches(void **state)
{
	(void)state;
	uint8_t pk[KEYS_SIGN_PK_LEN];
	char fp[KEYS_FP_STR_LEN], typed[128];
	random_pk(pk);
	keys_fingerprint(fp, "BFA", pk);

	assert_true(keys_fingerprint_matches(fp, "BFA", pk));
	/* Without spaces, with dashes, with extra spaces. */
	size_t n = 0;
	for (const char *c = fp; *c != '\0'; c++) {
		if (*c != ' ') {
			typed[n++] = *c;
		}
	}
	typed[n] = '\0';
	assert_int_equal(strlen(typed), KEYS_FP_DIGITS);
	assert_true(keys_fingerprint_matches(typed, "BFA", pk));
	strcpy(typed, fp);
	for (char *c = typed; *c != '\0'; c++) {
		if (*c == ' ') {
			*c = '-';
		}
	}
	assert_true(keys_fingerprint_matches(typed, "BFA", pk));
	snprintf(typed, sizeof(typed), "  %s  ", fp);
	assert_true(keys_fingerprint_matches(typed, "BFA", pk));

	/* Any single changed digit is refused. */
	for (size_t i = 0; i < strlen(fp); i++) {
		if (fp[i] == ' ') {
			continue;
		}
		strcpy(typed, fp);
		typed[i] = typed[i] == '9' ? '0' : (char)(typed[i] + 1);
		assert_false(keys_fingerprint_matches(typed, "BFA", pk));
	}
	/* Truncated, extended, other characters, other State, nothing. */
	strcpy(typed, fp);
	typed[strlen(typed) - 1] = '\0';
	assert_false(keys_fingerprint_matches(typed, "BFA", pk));
	snprintf(typed, sizeof(typed), "%s0", fp);
	assert_false(keys_fingerprint_matches(typed, "BFA", pk));
	strcpy(typed, fp);
	typed[5] = '.';
	assert_false(keys_fingerprint_matches(typed, "BFA", pk));
	assert_false(keys_fingerprint_matches(fp, "FRA", pk));
	assert_false(keys_fingerprint_matches(fp, "bfa", pk));
	assert_false(keys_fingerprint_matches("", "BFA", pk));
	assert_false(keys_fingerprint_matches(NULL, "BFA", pk));
	memset(typed, '1', sizeof(typed) - 1);
	typed[sizeof(typed) - 1] = '\0';
	assert_false(keys_fingerprint_matches(typed, "BFA", pk));
}

int main(void)
{
	if (sodium_init() < 0) {
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_matches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
