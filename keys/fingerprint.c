/*
 * fingerprint.c: the human-comparable fingerprint of a State's identity key
 * (PROTOCOL.md 4.5).
 *
 * Two officials read 30 digits to each other, at a meeting or in a diplomatic
 * note, to confirm that the identity key their roster holds for a State is the
 * one that State generated. The digits come from an iterated BLAKE2b-512 over
 * a labelled input that binds the State code, so that one key cannot show the
 * same fingerprint under two names. 1024 rounds make a search for a key whose
 * fingerprint agrees with a target in many digits 1024 times dearer. Nothing
 * here touches a secret; all functions are pure and thread-safe.
 */
#include "keys.h"

#include <string.h>

#define FP_HASH_LEN crypto_generichash_BYTES_MAX /* 64: BLAKE2b-512 */
#define FP_ROUNDS 1024
#define FP_GROUPS (KEYS_FP_DIGITS / 5)
#define FP_GROUP_BYTES 5 /* a 40-bit integer per group of five digits */

static const char LABEL_FINGERPRINT[] = "divex/v1/fingerprint";

/* The fingerprint hash of PROTOCOL.md 4.5: 1 labelled round, 1023 chained. */
static void fp_hash(uint8_t h[static FP_HASH_LEN], const char state[static DX_STATE_LEN],
		    const uint8_t identity_pk[static KEYS_SIGN_PK_LEN])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, FP_HASH_LEN);
	crypto_generichash_update(&st, (const uint8_t *)LABEL_FINGERPRINT,
				  sizeof(LABEL_FINGERPRINT));
	crypto_generichash_update(&st, (const uint8_t *)state, DX_STATE_LEN);
	crypto_generichash_update(&st, identity_pk, KEYS_SIGN_PK_LEN);
	crypto_generichash_final(&st, h, FP_HASH_LEN);
	for (int i = 1; i < FP_ROUNDS; i++) {
		crypto_generichash_init(&st, NULL, 0, FP_HASH_LEN);
		crypto_generichash_update(&st, h, FP_HASH_LEN);
		crypto_generichash_update(&st, identity_pk, KEYS_SIGN_PK_LEN);
		crypto_generichash_final(&st, h, FP_HASH_LEN);
	}
}

/*
 * An invalid State code yields the empty string: no fingerprint is defined
 * for it, and an empty string never matches what a user types.
 */
void keys_fingerprint(char out[static KEYS_FP_STR_LEN], const char *state,
		      const uint8_t identity_pk[static KEYS_SIGN_PK_LEN])
{
	uint8_t h[FP_HASH_LEN];
	char *p = out;

	out[0] = '\0';
	if (!dx_state_valid(state)) {
		return;
	}
	fp_hash(h, state, identity_pk);
	for (int g = 0; g < FP_GROUPS; g++) {
		const uint8_t *b = h + FP_GROUP_BYTES * g;
		uint64_t v = 0;
		for (int i = 0; i < FP_GROUP_BYTES; i++) {
			v = (v << 8) | b[i];
		}
		v %= 100000u;
		if (g > 0) {
			*p++ = ' ';
		}
		for (int d = 4; d >= 0; d--) {
			p[d] = (char)('0' + v % 10u);
			v /= 10u;
		}
		p += 5;
	}
	*p = '\0';
}

/*
 * Returns 1 when typed, with its spaces and dashes removed, is exactly the
 * 30 digits of the fingerprint, and 0 otherwise (also for an invalid State or
 * an over-long input). People copy fingerprints in groups, with dashes or with
 * none, so separators carry no meaning; every other character does.
 */
int keys_fingerprint_matches(const char *typed, const char *state,
			     const uint8_t identity_pk[static KEYS_SIGN_PK_LEN])
{
	char want[KEYS_FP_STR_LEN];
	char want_digits[KEYS_FP_DIGITS];
	char got_digits[KEYS_FP_DIGITS];
	size_t nw = 0, ng = 0;

	if (typed == NULL) {
		return 0;
	}
	keys_fingerprint(want, state, identity_pk);
	if (want[0] == '\0') {
		return 0;
	}
	for (const char *c = want; *c != '\0'; c++) {
		if (*c != ' ') {
			want_digits[nw++] = *c;
		}
	}
	for (const char *c = typed; *c != '\0'; c++) {
		if (*c == ' ' || *c == '-') {
			continue;
		}
		if (ng == sizeof(got_digits)) {
			return 0;
		}
		got_digits[ng++] = *c;
	}
	if (ng != nw) {
		return 0;
	}
	return sodium_memcmp(want_digits, got_digits, nw) == 0;
}
