/*
 * checkpoint.h: signed checkpoints of the audit log, in the text format of
 * C2SP tlog-checkpoint carried in a C2SP signed note with an Ed25519
 * signature, so that standard transparency-log tooling can read them.
 *
 * A checkpoint names a tree size and its root hash under the log's origin,
 * signed by the relay. Nodes keep every checkpoint they see and refuse one
 * that is smaller than, or disagrees with, one they hold: two checkpoints
 * that cannot both hold are signed evidence that the relay forked its log.
 *
 * This module never holds a private key: checkpoint_sign() asks a callback
 * (backed by keys/) for the signature. Functions are pure and thread-safe.
 * The exact format and reject rules are in docs/PROTOCOL.md (audit log
 * section).
 */
#ifndef DIVEX_CORE_CHECKPOINT_H
#define DIVEX_CORE_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "keys.h"
#include "merkle.h"

/* Whole signed checkpoint, signature lines included (PROTOCOL.md section 7). */
#define CHECKPOINT_MAX 4096
#define CHECKPOINT_ORIGIN_MAX 255
#define CHECKPOINT_KEY_NAME_MAX 255
/* Signature lines in one checkpoint: the relay's and witnesses'. */
#define CHECKPOINT_MAX_SIGS 16
#define CHECKPOINT_KEY_ID_LEN 4
/* C2SP signed-note signature type of Ed25519. */
#define CHECKPOINT_SIG_TYPE_ED25519 0x01

/*
 * Signs msg with the log's Ed25519 key: writes a 64-byte signature and
 * returns 0, or returns a negative DX_E* code.
 */
typedef int (*checkpoint_sign_fn)(void *ctx, uint8_t sig[KEYS_SIG_LEN], const uint8_t *msg,
				  size_t len);

struct checkpoint {
	char origin[CHECKPOINT_ORIGIN_MAX + 1];
	uint64_t size;
	uint8_t root[MERKLE_HASH_LEN];
	/* Signature lines other than the log's, e.g. witness cosignatures; not verified. */
	unsigned n_cosigs;
};

/* True when s is a valid origin or key name: 1..255 of 0x21-0x7e, no '+'. */
int checkpoint_name_valid(const char *s);

/* SHA-256(key_name || 0x0a || 0x01 || pk)[:4], the signed-note key id. */
void checkpoint_key_id(uint8_t out[static CHECKPOINT_KEY_ID_LEN], const char *key_name,
		       const uint8_t pk[static KEYS_SIGN_PK_LEN]);

/*
 * Writes the signed checkpoint for (origin, size, root) into out (cap bytes,
 * NUL-terminated; CHECKPOINT_MAX + 1 is always enough) and its length, NUL
 * excluded, into *out_len. The signature from sign is checked against pk
 * before anything is written: DX_ESIG if it does not verify.
 */
int checkpoint_sign(const char *origin, uint64_t size, const uint8_t root[static MERKLE_HASH_LEN],
		    const char *key_name, const uint8_t pk[static KEYS_SIGN_PK_LEN],
		    checkpoint_sign_fn sign, void *sign_ctx, char *out, size_t cap,
		    size_t *out_len) DX_MUST_CHECK;

/*
 * Parses a signed checkpoint strictly and verifies the signature line of
 * key_name and pk. DX_ETOOBIG over CHECKPOINT_MAX; DX_EPARSE for anything
 * not exactly in the format, for another origin, or for a second signature
 * line of the same key; DX_ESIG when the key's signature is missing or does
 * not verify. Other keys' signature lines are counted and ignored. *out is
 * written only on success.
 */
int checkpoint_parse_verify(const uint8_t *text, size_t len, const char *origin_expected,
			    const char *key_name, const uint8_t pk[static KEYS_SIGN_PK_LEN],
			    struct checkpoint *out) DX_MUST_CHECK;

/*
 * Decides whether next may follow old, two verified checkpoints of the same
 * origin (DX_EINVAL otherwise). A smaller size (a rollback) or the same size
 * with another root (equivocation) is DX_ELOG_INCONSISTENT: keep both as
 * evidence. A larger size needs a consistency proof from old to next:
 * DX_EPROOF if it does not verify.
 */
int checkpoint_check_consistent(const struct checkpoint *old, const struct checkpoint *next,
				const uint8_t (*proof)[MERKLE_HASH_LEN],
				size_t n_proof) DX_MUST_CHECK;

#endif
