/*
 * keys_internal.h: the layout of struct keys, shared by the files of keys/
 * only (keys.c creates and uses it; keyfile.c serializes it). Nothing outside
 * keys/ includes this header.
 */
#ifndef DIVEX_KEYS_INTERNAL_H
#define DIVEX_KEYS_INTERNAL_H

#include "keys.h"

/* Every private byte of a State, in one sodium_malloc'd block. */
struct keys_secret {
	uint8_t identity_sk[crypto_sign_SECRETKEYBYTES]; /* seed || pk, libsodium's form */
	uint8_t static_sk[KEYS_DH_SK_LEN];
	uint8_t prekey_sk[KEYS_MAX_PREKEYS][KEYS_DH_SK_LEN];
};

struct keys {
	char state[DX_STATE_LEN + 1];
	uint64_t created_ms;
	uint8_t identity_pk[KEYS_SIGN_PK_LEN];
	uint8_t identity_id[KEYS_ID_LEN];
	uint8_t static_pk[KEYS_DH_PK_LEN];
	uint8_t static_id[KEYS_ID_LEN];
	uint8_t static_sig[KEYS_SIG_LEN];
	size_t n_prekeys;
	struct keys_prekey prekeys[KEYS_MAX_PREKEYS];
	struct keys_secret *sec;
};

/* An empty key set with its secret block allocated (all zero). */
int keys_alloc(struct keys **out) DX_MUST_CHECK;
/* Recomputes public halves and ids from the secrets; used after loading. */
int keys_complete_identity(struct keys *k, const uint8_t seed[static KEYS_SIGN_SEED_LEN]) DX_MUST_CHECK;
/* The labelled statements of PROTOCOL.md 4.2 and 4.3. */
#define KEYS_STATIC_STMT_LEN (sizeof("divex/v1/static-key") + DX_STATE_LEN + KEYS_DH_PK_LEN)
#define KEYS_PREKEY_STMT_LEN (sizeof("divex/v1/prekey") + DX_STATE_LEN + KEYS_DH_PK_LEN + 16)
void keys_static_statement(uint8_t out[static KEYS_STATIC_STMT_LEN], const char *state,
			   const uint8_t static_pk[static 32]);
void keys_prekey_statement(uint8_t out[static KEYS_PREKEY_STMT_LEN], const char *state,
			   const uint8_t prekey_pk[static 32], uint64_t from_ms, uint64_t until_ms);

#endif
