/*
 * signer.h: a standalone Ed25519 signing key, for a service rather than a
 * State: the Secretariat relay signs checkpoints with one.
 *
 * The key file holds the 32-byte seed behind an 8-byte magic ("divexsig"),
 * mode 0600, refused when group- or world-accessible, exactly as a State's
 * key file. It is not passphrase-sealed: the relay starts unattended, and its
 * key only signs checkpoints and session handshakes, never opens an envelope
 * (THREAT-MODEL.md).
 * The secret lives in sodium_malloc'd memory.
 */
#ifndef DIVEX_KEYS_SIGNER_H
#define DIVEX_KEYS_SIGNER_H

#include "keys.h"

struct keys_signer;

/* Creates a new random key and writes it to path (which must not exist). */
int keys_signer_create(const char *path, struct keys_signer **out) DX_MUST_CHECK;
int keys_signer_load(const char *path, struct keys_signer **out) DX_MUST_CHECK;
/* A signer from a given seed, for tests and vectors. */
int keys_signer_from_seed(const uint8_t seed[static KEYS_SIGN_SEED_LEN],
			  struct keys_signer **out) DX_MUST_CHECK;
void keys_signer_free(struct keys_signer *s);
void keys_signer_pk(const struct keys_signer *s, uint8_t pk[static KEYS_SIGN_PK_LEN]);
void keys_signer_sign(const struct keys_signer *s, uint8_t sig[static KEYS_SIG_LEN],
		      const uint8_t *msg, size_t len);

#endif
