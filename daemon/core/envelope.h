/*
 * envelope.h: the public, keyless half of an envelope: strict parsing, the
 * outer signature, and the digest that names an envelope in receipts.
 *
 * This is all the relay may link. Sealing and opening, which need a State's
 * private keys, are in seal.h, in a separate library the relay never links
 * (a test checks the relay executable's symbols). Byte layouts are in
 * docs/PROTOCOL.md section 5. Functions here are pure and thread-safe.
 */
#ifndef DIVEX_CORE_ENVELOPE_H
#define DIVEX_CORE_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "keys.h"
#include "util.h"

#define ENVELOPE_SUITE_X25519_ED25519_XCHACHA 1u
#define ENVELOPE_ID_LEN 16
#define ENVELOPE_HASH_LEN 32 /* BLAKE2b-256 */
/* Whole serialized Envelope: one relay transfer message holds one envelope. */
#define ENVELOPE_MAX (1024 * 1024)
#define ENVELOPE_HEADER_MAX (16 * 1024)
#define ENVELOPE_CHECKPOINT_MAX (4 * 1024)
#define ENVELOPE_MAX_ATTACHMENTS 64
/* Largest serialized Payload that fits: the envelope less header room. */
#define ENVELOPE_BODY_MAX (ENVELOPE_MAX - ENVELOPE_HEADER_MAX - 1024)

/* What anyone can learn from an envelope without keys. */
struct envelope_info {
	uint32_t suite;
	uint8_t id[ENVELOPE_ID_LEN];
	char sender[DX_STATE_LEN + 1];
	char recipient[DX_STATE_LEN + 1];
	uint8_t sender_identity_id[KEYS_ID_LEN];
	uint8_t sender_static_id[KEYS_ID_LEN];
	uint8_t recipient_static_id[KEYS_ID_LEN];
	uint8_t recipient_prekey_id[KEYS_ID_LEN];
	uint8_t ephemeral_pk[KEYS_DH_PK_LEN];
	uint64_t sequence;
	uint64_t created_ms;
	uint8_t key_commitment[ENVELOPE_HASH_LEN];
	size_t n_attachments;
	uint8_t attachment_ids[ENVELOPE_MAX_ATTACHMENTS][16];
	/* Views into the buffer given to envelope_parse(); valid while it is. */
	const uint8_t *checkpoint;
	size_t checkpoint_len;
	const uint8_t *header;
	size_t header_len;
	const uint8_t *ciphertext;
	size_t ciphertext_len;
	uint8_t signature[KEYS_SIG_LEN];
	/* BLAKE2b-256 of the ciphertext and of the signed statement (5.4). */
	uint8_t ciphertext_hash[ENVELOPE_HASH_LEN];
	uint8_t digest[ENVELOPE_HASH_LEN];
};

/*
 * Parses a serialized Envelope strictly (canonical encoding, every field
 * present with its exact length, caps on every size) and computes its hashes.
 * Does not check any signature. Rejects an unknown suite with DX_ESUITE.
 */
int envelope_parse(const uint8_t *buf, size_t len, struct envelope_info *out) DX_MUST_CHECK;

/* Verifies the outer signature against the sender's identity key. */
int envelope_verify_outer(const struct envelope_info *e,
			  const uint8_t sender_identity_pk[static KEYS_SIGN_PK_LEN]) DX_MUST_CHECK;

/* Computes BLAKE2b-256("divex/v1/ciphertext\0" || ct). */
void envelope_ciphertext_hash(uint8_t out[static ENVELOPE_HASH_LEN], const uint8_t *ct, size_t len);

/*
 * The outer signed statement (5.4) for a header and ciphertext hash, written
 * into a new malloc'd buffer.
 */
int envelope_outer_statement(const uint8_t *header, size_t header_len,
			     const uint8_t ct_hash[static ENVELOPE_HASH_LEN], uint8_t **out,
			     size_t *out_len) DX_MUST_CHECK;

/*
 * The inner signed statement (5.6): binds a payload body to the envelope id,
 * sender and recipient. out must hold ENVELOPE_INNER_STATEMENT_LEN bytes.
 */
#define ENVELOPE_INNER_STATEMENT_LEN (sizeof("divex/v1/payload") + ENVELOPE_ID_LEN + 2 * DX_STATE_LEN + ENVELOPE_HASH_LEN)
void envelope_inner_statement(uint8_t out[static ENVELOPE_INNER_STATEMENT_LEN],
			      const uint8_t id[static ENVELOPE_ID_LEN], const char *sender,
			      const char *recipient, const uint8_t *body, size_t body_len);

/* Verifies an inner signature offline, e.g. for an arbiter holding a consent record. */
int envelope_verify_inner(const uint8_t id[static ENVELOPE_ID_LEN], const char *sender,
			  const char *recipient, const uint8_t *body, size_t body_len,
			  const uint8_t sig[static KEYS_SIG_LEN],
			  const uint8_t sender_identity_pk[static KEYS_SIGN_PK_LEN]) DX_MUST_CHECK;

#endif
