/*
 * seal.h: sealing and opening envelopes (docs/PROTOCOL.md section 5).
 *
 * One-shot X3DH without a ratchet, plus two signatures: a fresh ephemeral
 * X25519 key per envelope; DH(sender static, recipient prekey),
 * DH(ephemeral, recipient static), DH(ephemeral, recipient prekey), each
 * checked; keyed BLAKE2b over the DH outputs with the transcript hash as key,
 * then crypto_kdf subkeys; XChaCha20-Poly1305 with the header as associated
 * data; an outer Ed25519 signature over header and ciphertext hash; an inner
 * Ed25519 signature over the payload bound to id, sender and recipient; a key
 * commitment in the header.
 *
 * This library is linked by State nodes and the CLI, never by the relay.
 * Functions are reentrant; a struct keys must not be used from two threads at
 * once.
 */
#ifndef DIVEX_CORE_SEAL_H
#define DIVEX_CORE_SEAL_H

#include "envelope.h"

#define SEAL_KEY_LEN crypto_aead_xchacha20poly1305_ietf_KEYBYTES     /* 32 */
#define SEAL_NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES  /* 24 */

/* The public keys of the other State, as this node's roster mirror holds them. */
struct seal_peer {
	char state[DX_STATE_LEN + 1];
	uint8_t identity_pk[KEYS_SIGN_PK_LEN];
	uint8_t static_pk[KEYS_DH_PK_LEN];
	/* Sealing only: the recipient prekey chosen (its newest valid one). */
	uint8_t prekey_pk[KEYS_DH_PK_LEN];
};

struct seal_params {
	const struct keys *sender;
	const struct seal_peer *recipient;
	uint64_t sequence;   /* >= 1 */
	uint64_t created_ms; /* sender's clock */
	const uint8_t *checkpoint; /* optional, <= ENVELOPE_CHECKPOINT_MAX */
	size_t checkpoint_len;
	const uint8_t (*attachment_ids)[16];
	size_t n_attachment_ids;
	const uint8_t *body; /* serialized Payload, <= ENVELOPE_BODY_MAX */
	size_t body_len;
	/* Test vectors only: fixed envelope id and ephemeral secret; NULL otherwise. */
	const uint8_t *fixed_id;
	const uint8_t *fixed_ephemeral;
};

/* Intermediate values, reported for test vectors (PROTOCOL.md 9). */
struct seal_trace {
	uint8_t dh1[KEYS_DH_LEN], dh2[KEYS_DH_LEN], dh3[KEYS_DH_LEN];
	uint8_t transcript_hash[ENVELOPE_HASH_LEN];
	uint8_t master[ENVELOPE_HASH_LEN];
	uint8_t aead_key[SEAL_KEY_LEN];
	uint8_t nonce[SEAL_NONCE_LEN];
	uint8_t inner_signature[KEYS_SIG_LEN];
};

/*
 * Seals body for the recipient. Returns a malloc'd serialized Envelope and
 * the envelope id. trace may be NULL; when given it receives secrets, so only
 * the vector generator passes it.
 */
int seal_envelope(const struct seal_params *p, uint8_t **out, size_t *out_len,
		  uint8_t id[static ENVELOPE_ID_LEN], struct seal_trace *trace) DX_MUST_CHECK;

/*
 * Seals an already serialized SealedPayload exactly as given, under envelope
 * id `id`. seal_envelope() signs the payload and then calls this; tests call
 * it directly to build what a malicious but authenticated sender could send.
 */
int seal_envelope_raw(const struct seal_params *p, const uint8_t id[static ENVELOPE_ID_LEN],
		      const uint8_t *sealed_payload, size_t sealed_len, uint8_t **out,
		      size_t *out_len, struct seal_trace *trace) DX_MUST_CHECK;

/*
 * Derives the AEAD key, nonce and key commitment from the master secret
 * (PROTOCOL.md 5.2). Exposed so that an arbiter given a revealed content key
 * can check the commitment: commitment = BLAKE2b-256(label || key || nonce).
 */
void seal_key_commitment(uint8_t out[static ENVELOPE_HASH_LEN],
			 const uint8_t key[static SEAL_KEY_LEN],
			 const uint8_t nonce[static SEAL_NONCE_LEN]);

struct open_params {
	const struct keys *recipient;
	/* Looks up the sender in the roster mirror: DX_ESENDER if unknown. The
	 * identity key must have the id the header names. */
	int (*lookup_sender)(void *ctx, const char *state,
			     const uint8_t identity_id[static KEYS_ID_LEN], struct seal_peer *out);
	/* Replay check: returns 1 if this envelope id was seen before, 0 if
	 * not, negative on error. Called only after the outer signature
	 * verified; the caller records the id once it accepts the envelope. */
	int (*seen)(void *ctx, const uint8_t id[static ENVELOPE_ID_LEN]);
	void *ctx;
	uint64_t now_ms;
	/* created_ms must lie within [now - max_age, now + max_skew]. */
	uint64_t max_age_ms;
	uint64_t max_skew_ms;
};

#define OPEN_DEFAULT_MAX_AGE_MS (KEYS_PREKEY_PERIOD_MS + KEYS_PREKEY_GRACE_MS)
#define OPEN_DEFAULT_MAX_SKEW_MS (10ull * 60 * 1000)

struct opened {
	struct envelope_info info;
	uint8_t *body; /* serialized Payload, malloc'd */
	size_t body_len;
	uint8_t inner_signature[KEYS_SIG_LEN];
	/* The content key and nonce, for a provider who chooses to reveal them
	 * to an arbiter; wiped by opened_clear(). */
	uint8_t *content_key; /* sodium_malloc'd: SEAL_KEY_LEN + SEAL_NONCE_LEN */
};

/*
 * Opens a serialized Envelope. Each refusal has its own code: DX_EPARSE,
 * DX_ETOOBIG, DX_ESUITE, DX_ERECIPIENT, DX_ESENDER, DX_EOUTER_SIG, DX_ESTALE,
 * DX_EREPLAY, DX_EPREKEY_UNKNOWN, DX_EPREKEY_ERASED, DX_EPREKEY_EXPIRED,
 * DX_EDH, DX_ECOMMIT, DX_EDECRYPT, DX_EINNER_SIG. buf must outlive out->info.
 */
int open_envelope(const struct open_params *p, const uint8_t *buf, size_t len,
		  struct opened *out) DX_MUST_CHECK;
void opened_clear(struct opened *o);

#endif
