/*
 * fuzz_checkpoint.c: libFuzzer harness for checkpoint_parse_verify().
 *
 * The input is a signed checkpoint, verified for the origin and key name
 * "divex.secretariat/relay" and the Ed25519 key from seed 07 * 32 (the key of
 * the seeds in corpus/checkpoint and of tests/vectors/merkle.json). The
 * parser must return one of its own codes. When it accepts, the result must
 * be in range and the input must be canonical: signing the parsed size and
 * root again gives back the input's note text byte for byte, and the whole
 * input when it carries no other signature line (Ed25519 is deterministic).
 */
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"

#define ORIGIN "divex.secretariat/relay"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t pk[crypto_sign_PUBLICKEYBYTES];
static uint8_t sk[crypto_sign_SECRETKEYBYTES];

static int sign_cb(void *ctx, uint8_t sig[KEYS_SIG_LEN], const uint8_t *msg, size_t len)
{
	(void)ctx;
	crypto_sign_detached(sig, NULL, msg, len, sk);
	return 0;
}

static void check_canonical(const uint8_t *data, size_t size, const struct checkpoint *cp)
{
	char text[CHECKPOINT_MAX + 1];
	size_t len;

	if (cp->size > MERKLE_MAX_SIZE || strcmp(cp->origin, ORIGIN) != 0 ||
	    cp->n_cosigs >= CHECKPOINT_MAX_SIGS) {
		abort();
	}
	if (checkpoint_sign(ORIGIN, cp->size, cp->root, ORIGIN, pk, sign_cb, NULL, text,
			    sizeof(text), &len) != 0) {
		abort();
	}
	/* The note text ends at the blank line, the first "\n\n" of a valid checkpoint. */
	const char *end = strstr(text, "\n\n");
	size_t body = (size_t)(end - text) + 2;
	if (size < body || memcmp(data, text, body) != 0) {
		abort();
	}
	if (cp->n_cosigs == 0 && (size != len || memcmp(data, text, len) != 0)) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct checkpoint cp;

	if (!ready) {
		uint8_t seed[crypto_sign_SEEDBYTES];
		if (sodium_init() < 0) {
			abort();
		}
		memset(seed, 0x07, sizeof(seed));
		crypto_sign_seed_keypair(pk, sk, seed);
		ready = 1;
	}
	/* An empty input may come without a buffer. */
	if (data == NULL) {
		data = (const uint8_t *)"";
	}
	int rc = checkpoint_parse_verify(data, size, ORIGIN, ORIGIN, pk, &cp);
	switch (rc) {
	case DX_OK:
		check_canonical(data, size, &cp);
		break;
	case DX_EPARSE:
	case DX_ESIG:
	case DX_ETOOBIG:
		break;
	default:
		abort();
	}
	return 0;
}
