/*
 * signer.c: a service's Ed25519 key. See signer.h.
 */
#include "signer.h"

#include <stdlib.h>
#include <string.h>

static const char MAGIC[8] = { 'd', 'i', 'v', 'e', 'x', 's', 'i', 'g' };
#define FILE_LEN (sizeof(MAGIC) + KEYS_SIGN_SEED_LEN)

struct keys_signer {
	uint8_t pk[KEYS_SIGN_PK_LEN];
	uint8_t *sk; /* sodium_malloc'd, crypto_sign_SECRETKEYBYTES */
};

int keys_signer_from_seed(const uint8_t seed[static KEYS_SIGN_SEED_LEN], struct keys_signer **out)
{
	if (sodium_init() < 0) {
		return DX_ECRYPTO;
	}
	struct keys_signer *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return DX_ENOMEM;
	}
	s->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	if (s->sk == NULL) {
		free(s);
		return DX_ENOMEM;
	}
	crypto_sign_seed_keypair(s->pk, s->sk, seed);
	*out = s;
	return DX_OK;
}

void keys_signer_free(struct keys_signer *s)
{
	if (s == NULL) {
		return;
	}
	sodium_free(s->sk);
	free(s);
}

void keys_signer_pk(const struct keys_signer *s, uint8_t pk[static KEYS_SIGN_PK_LEN])
{
	memcpy(pk, s->pk, KEYS_SIGN_PK_LEN);
}

void keys_signer_sign(const struct keys_signer *s, uint8_t sig[static KEYS_SIG_LEN],
		      const uint8_t *msg, size_t len)
{
	crypto_sign_detached(sig, NULL, msg, len, s->sk);
}

int keys_signer_create(const char *path, struct keys_signer **out)
{
	uint8_t *buf = sodium_malloc(FILE_LEN);
	if (buf == NULL) {
		return DX_ENOMEM;
	}
	memcpy(buf, MAGIC, sizeof(MAGIC));
	randombytes_buf(buf + sizeof(MAGIC), KEYS_SIGN_SEED_LEN);
	int rc = dx_write_file_atomic(path, buf, FILE_LEN, 0600, 0);
	if (rc == DX_OK) {
		rc = keys_signer_from_seed(buf + sizeof(MAGIC), out);
	}
	sodium_free(buf);
	return rc;
}

int keys_signer_load(const char *path, struct keys_signer **out)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = dx_read_private_file(path, FILE_LEN, &buf, &len);
	if (rc == DX_ETOOBIG || (rc == DX_OK && (len != FILE_LEN ||
						   memcmp(buf, MAGIC, sizeof(MAGIC)) != 0))) {
		rc = DX_EKEYFILE_CORRUPT;
	}
	if (rc == DX_OK) {
		rc = keys_signer_from_seed(buf + sizeof(MAGIC), out);
	}
	if (buf != NULL) {
		sodium_memzero(buf, len);
		free(buf);
	}
	return rc;
}
