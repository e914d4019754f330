/*
 * fuzz_keyfile.c: keyfile_decode on arbitrary bytes, in two modes.
 *
 * An input that starts with a byte other than 0x00 is a key file image,
 * decoded with a fixed passphrase: this exercises the header checks. Inputs
 * whose header asks for an accepted cost above Argon2id's minimum are dropped
 * before the call, so that each run stays fast.
 *
 * An input that starts with 0x00 is a KeySecrets plaintext: the harness seals
 * the rest under a fixed header (minimum cost, fixed salt and nonce) and the
 * fixed passphrase, so that the fuzzer reaches the decoding and consistency
 * checks behind the AEAD, which it could never pass on its own.
 */
#include <stdlib.h>
#include <string.h>

#include "keyfile.h"

/* Must match FUZZ_PASS in tests/test_keyfile.c, which writes the seed corpus. */
#define FUZZ_PASS "divex-fuzz"
#define HEADER_LEN 66
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES
#define OFF_OPSLIMIT 10
#define OFF_MEMLIMIT 18
#define OFF_SALT 26
#define OFF_NONCE 42

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t header[HEADER_LEN];
static uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];

static void init_sealer(void)
{
	if (sodium_init() < 0) {
		abort();
	}
	memcpy(header, "divexkey", 8);
	header[8] = 1;
	header[9] = 2;
	dx_put_be64(header + OFF_OPSLIMIT, crypto_pwhash_OPSLIMIT_MIN);
	dx_put_be64(header + OFF_MEMLIMIT, crypto_pwhash_MEMLIMIT_MIN);
	memset(header + OFF_SALT, 0x5a, crypto_pwhash_SALTBYTES);
	memset(header + OFF_NONCE, 0xa5, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	if (crypto_pwhash(key, sizeof(key), FUZZ_PASS, strlen(FUZZ_PASS), header + OFF_SALT,
			  crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN,
			  crypto_pwhash_ALG_ARGON2ID13) != 0) {
		abort();
	}
}

static void decode(const uint8_t *img, size_t len)
{
	struct keys *k = NULL;
	if (keyfile_decode(img, len, FUZZ_PASS, strlen(FUZZ_PASS), &k) == DX_OK) {
		(void)keys_prekey_current(k, keys_created_ms(k));
		keys_free(k);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		init_sealer();
		ready = 1;
	}
	if (size > 0 && data[0] == 0x00) {
		size_t plen = size - 1;
		if (plen > KEYFILE_MAX - HEADER_LEN - TAG_LEN) {
			return 0;
		}
		uint8_t *img = malloc(HEADER_LEN + plen + TAG_LEN);
		if (img == NULL) {
			return 0;
		}
		memcpy(img, header, HEADER_LEN);
		crypto_aead_xchacha20poly1305_ietf_encrypt(img + HEADER_LEN, NULL, data + 1, plen,
							   img, HEADER_LEN, NULL, img + OFF_NONCE,
							   key);
		decode(img, HEADER_LEN + plen + TAG_LEN);
		free(img);
		return 0;
	}
	/* Out-of-range limits are refused before Argon2id runs, so they stay in. */
	if (size >= OFF_SALT) {
		uint64_t ops = dx_get_be64(data + OFF_OPSLIMIT),
			 mem = dx_get_be64(data + OFF_MEMLIMIT);
		int in_range = ops <= 16 && mem <= (1ull << 30);
		if (in_range &&
		    (ops > crypto_pwhash_OPSLIMIT_MIN || mem > crypto_pwhash_MEMLIMIT_MIN)) {
			return 0;
		}
	}
	decode(data, size);
	return 0;
}
