/*
 * keys.h: a State's key material, and the only code that touches raw private
 * key bytes.
 *
 * A State holds a long-term Ed25519 identity key, a separate X25519 static key
 * signed by it, and a set of X25519 signed prekeys with validity windows. Other
 * modules never see a private key: they ask this module to sign, or to compute
 * a checked Diffie-Hellman result. Private halves live in sodium_malloc'd
 * memory (guard pages, mlock'd where the system allows) and are wiped with
 * sodium_memzero before release. A struct keys is not thread-safe: the daemon
 * owns it from its loop thread.
 *
 * Byte-level formats (key ids, signed statements) are in docs/PROTOCOL.md
 * section 4; this header names the constants.
 */
#ifndef DIVEX_KEYS_KEYS_H
#define DIVEX_KEYS_KEYS_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "util.h"

#define KEYS_SIGN_PK_LEN crypto_sign_PUBLICKEYBYTES /* 32 */
#define KEYS_SIGN_SEED_LEN crypto_sign_SEEDBYTES    /* 32 */
#define KEYS_SIG_LEN crypto_sign_BYTES              /* 64 */
#define KEYS_DH_PK_LEN crypto_scalarmult_BYTES       /* 32 */
#define KEYS_DH_SK_LEN crypto_scalarmult_SCALARBYTES /* 32 */
#define KEYS_DH_LEN crypto_scalarmult_BYTES          /* 32 */
#define KEYS_ID_LEN 16                               /* BLAKE2b-128, PROTOCOL.md 4.1 */
#define KEYS_MAX_PREKEYS 64

/* Defaults of DESIGN section 3: rotate weekly, erase 30 days after expiry. */
#define KEYS_DAY_MS (24ull * 60 * 60 * 1000)
#define KEYS_PREKEY_PERIOD_MS (7 * KEYS_DAY_MS)
#define KEYS_PREKEY_GRACE_MS (30 * KEYS_DAY_MS)

/* Public facts about one prekey of our own. */
struct keys_prekey {
	uint8_t id[KEYS_ID_LEN];
	uint8_t pk[KEYS_DH_PK_LEN];
	uint64_t valid_from_ms;
	uint64_t valid_until_ms;
	uint8_t sig[KEYS_SIG_LEN];
	uint64_t erased_ms; /* 0 while the private half is held */
};

struct keys; /* opaque */

/* The id of any public key: BLAKE2b-128("divex/v1/key-id\0" || pk). */
void keys_key_id(uint8_t id[static KEYS_ID_LEN], const uint8_t pk[static 32]);

/*
 * Generates a new State key set with one prekey valid for [now, now+period).
 * With seed != NULL every secret is derived from it (PROTOCOL.md 9): only for
 * test vectors and reproducible tests, never for a real State.
 */
int keys_generate(const char *state, uint64_t now_ms, uint64_t period_ms,
		  const uint8_t *seed /* 32 or NULL */, struct keys **out) DX_MUST_CHECK;
void keys_free(struct keys *k);

const char *keys_state(const struct keys *k);
uint64_t keys_created_ms(const struct keys *k);
void keys_identity_pk(const struct keys *k, uint8_t pk[static KEYS_SIGN_PK_LEN]);
void keys_identity_id(const struct keys *k, uint8_t id[static KEYS_ID_LEN]);
void keys_static_pk(const struct keys *k, uint8_t pk[static KEYS_DH_PK_LEN]);
void keys_static_id(const struct keys *k, uint8_t id[static KEYS_ID_LEN]);
/* The identity key's signature over the static key (PROTOCOL.md 4.2). */
void keys_static_sig(const struct keys *k, uint8_t sig[static KEYS_SIG_LEN]);

/* Signs msg with the identity key. The caller supplies the labelled message. */
void keys_sign(const struct keys *k, uint8_t sig[static KEYS_SIG_LEN], const uint8_t *msg,
	       size_t len);

/*
 * A 32-byte key for data the State keeps at rest (the node's store), derived
 * from the identity secret: BLAKE2b-256 keyed with the identity seed over
 * "divex/v1/store-key" 0x00 || purpose. It needs no file of its own, is lost
 * with the key file and no sooner, and differs per purpose.
 */
#define KEYS_STORE_KEY_LEN 32
void keys_derive_local_key(const struct keys *k, uint8_t out[static KEYS_STORE_KEY_LEN],
			   const char *purpose);

/* X25519(static secret, peer); DX_EDH when the result is all zero. */
int keys_dh_static(const struct keys *k, uint8_t out[static KEYS_DH_LEN],
		   const uint8_t peer[static KEYS_DH_PK_LEN]) DX_MUST_CHECK;
/*
 * X25519(prekey secret, peer) for the prekey with this id: DX_EPREKEY_UNKNOWN if
 * we never had it, DX_EPREKEY_ERASED if its private half is gone, DX_EDH if the
 * result is all zero.
 */
int keys_dh_prekey(const struct keys *k, const uint8_t id[static KEYS_ID_LEN],
		   uint8_t out[static KEYS_DH_LEN],
		   const uint8_t peer[static KEYS_DH_PK_LEN]) DX_MUST_CHECK;

/* Prekeys, oldest first. Returns NULL past the end. */
size_t keys_prekey_count(const struct keys *k);
const struct keys_prekey *keys_prekey_at(const struct keys *k, size_t i);
const struct keys_prekey *keys_prekey_find(const struct keys *k, const uint8_t id[static KEYS_ID_LEN]);
/* The prekey a sender should use now: the newest one valid at now_ms. */
const struct keys_prekey *keys_prekey_current(const struct keys *k, uint64_t now_ms);

/* Adds a new prekey valid for [now, now+period). Oldest erased records are
 * dropped past KEYS_MAX_PREKEYS; refuses with DX_ETOOBIG if all are live. */
int keys_rotate_prekey(struct keys *k, uint64_t now_ms, uint64_t period_ms) DX_MUST_CHECK;
/* Wipes the private half of every prekey whose valid_until + grace <= now.
 * Returns how many were erased (>= 0). */
int keys_erase_expired_prekeys(struct keys *k, uint64_t now_ms, uint64_t grace_ms);

/* Verifies the labelled signatures of PROTOCOL.md 4.2 and 4.3. */
int keys_verify_static(const char *state, const uint8_t identity_pk[static 32],
		       const uint8_t static_pk[static 32], const uint8_t sig[static 64]) DX_MUST_CHECK;
int keys_verify_prekey(const char *state, const uint8_t identity_pk[static 32],
		       const uint8_t prekey_pk[static 32], uint64_t valid_from_ms,
		       uint64_t valid_until_ms, const uint8_t sig[static 64]) DX_MUST_CHECK;

/*
 * Ephemeral X25519 keys for sealing one envelope. With seed != NULL the secret
 * is taken from it (test vectors only).
 */
struct keys_ephemeral;
int keys_ephemeral_new(const uint8_t *seed /* 32 or NULL */, struct keys_ephemeral **out) DX_MUST_CHECK;
void keys_ephemeral_pk(const struct keys_ephemeral *e, uint8_t pk[static KEYS_DH_PK_LEN]);
int keys_ephemeral_dh(const struct keys_ephemeral *e, uint8_t out[static KEYS_DH_LEN],
		      const uint8_t peer[static KEYS_DH_PK_LEN]) DX_MUST_CHECK;
void keys_ephemeral_free(struct keys_ephemeral *e);

/*
 * Fingerprints (PROTOCOL.md 4.5): 30 decimal digits in six groups of five,
 * "12345 67890 12345 67890 12345 67890", written NUL-terminated into out.
 */
#define KEYS_FP_DIGITS 30
#define KEYS_FP_STR_LEN (KEYS_FP_DIGITS + KEYS_FP_DIGITS / 5) /* with spaces and NUL */
void keys_fingerprint(char out[static KEYS_FP_STR_LEN], const char *state,
		      const uint8_t identity_pk[static KEYS_SIGN_PK_LEN]);
/* Compares a typed fingerprint with the computed one, ignoring spaces. */
int keys_fingerprint_matches(const char *typed, const char *state,
			     const uint8_t identity_pk[static KEYS_SIGN_PK_LEN]);

#endif
