/*
 * relay_wire.h: the relay protocol's signed requests, audit-log leaves and
 * receipts (docs/PROTOCOL.md section 12), shared by the relay, the State
 * nodes and the tests, so that what one side signs and hashes is defined in
 * one place. Pure functions; thread-safe.
 */
#ifndef DIVEX_CORE_RELAY_WIRE_H
#define DIVEX_CORE_RELAY_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "checkpoint.h"
#include "envelope.h"
#include "keys.h"
#include "relay.pb-c.h"

#define RELAY_REQUEST_ID_LEN 16
#define RELAY_SALT_LEN 32
#define RELAY_ATTACHMENT_ID_LEN 16
/* A request carries at most one envelope or one upload piece. */
#define RELAY_DATA_MAX (960 * 1024)
#define RELAY_REQUEST_MAX (ENVELOPE_MAX + 64 * 1024)
#define RELAY_RESPONSE_MAX (ENVELOPE_MAX + 64 * 1024)
#define RELAY_WINDOW_MS (5ull * 60 * 1000)
/* A roster answer: at most this many entries and this many bytes of
 * entries, so that it stays well within RELAY_RESPONSE_MAX whatever the
 * membership (PROTOCOL.md 12.4). */
#define RELAY_ROSTER_PAGE 256
#define RELAY_ROSTER_PAGE_BYTES (512 * 1024)
/* Statements one `statements` answer carries: with the accepted receipt, a dossier's worth. */
#define RELAY_STATEMENTS_MAX 63

/* Roster statuses (ToR rule 6: only these two may take part). */
enum relay_status {
	RELAY_STATUS_PARTY = 1,
	RELAY_STATUS_SIGNATORY = 2,
	RELAY_STATUS_SUSPENDED = 3,
};
const char *relay_status_name(uint32_t status);
int relay_status_parse(const char *s, uint32_t *out) DX_MUST_CHECK;

/* Leaf kinds of the audit log. */
enum relay_leaf_kind {
	RELAY_LEAF_ACCEPTED = 1,
	RELAY_LEAF_FETCHED = 2,
	RELAY_LEAF_ACKED = 3,
	RELAY_LEAF_ROSTER = 4,
};
#define RELAY_LEAF_MAX 160

/* Sessions (PROTOCOL.md 12.2): a key agreed once by a signed handshake
 * authenticates a node's later requests with a MAC. */
#define RELAY_SESSION_ID_LEN 16
#define RELAY_SESSION_KEY_LEN 32
#define RELAY_SESSION_MAC_LEN 32

/*
 * Signs a request: sets node, request_id (random unless already 16 bytes),
 * time_ms (unless set) in body, serializes it and wraps it in a signed
 * RelayRequest. The op must already be set.
 */
int relay_request_sign(const struct keys *k, Dx__RequestBody *body, uint8_t **out,
		       size_t *out_len) DX_MUST_CHECK;
/*
 * The two halves of relay_request_sign, for a caller that may authenticate
 * the same body either way: relay_request_pack fills in body as above and
 * serializes it (DX_ETOOBIG past what a request may carry); the wrappers
 * make the RelayRequest, signed or MACed under a session key.
 */
int relay_request_pack(const char *node, Dx__RequestBody *body, uint8_t id[RELAY_REQUEST_ID_LEN],
		       uint8_t **out, size_t *out_len) DX_MUST_CHECK;
int relay_request_wrap_signed(const struct keys *k, const uint8_t *body, size_t len,
			      uint8_t **out, size_t *out_len) DX_MUST_CHECK;
int relay_request_wrap_mac(const uint8_t session[static RELAY_SESSION_ID_LEN],
			   const uint8_t key[static RELAY_SESSION_KEY_LEN], const uint8_t *body,
			   size_t len, uint8_t **out, size_t *out_len) DX_MUST_CHECK;

/* A parsed request. Owns its decoded messages. */
struct relay_request {
	Dx__RelayRequest *outer;
	Dx__RequestBody *body;
	uint8_t body_hash[32]; /* BLAKE2b-256 of the body bytes, for replay checks */
	int has_mac;           /* authenticated by a session MAC, not a signature */
};
/* Strict parse: canonical, sizes capped, node a State code, id 16 bytes,
 * exactly one of a 64-byte signature or a 16-byte session id with a MAC. */
int relay_request_parse(const uint8_t *buf, size_t len, struct relay_request *out) DX_MUST_CHECK;
/* DX_EREQ_SIG unless the request is signed and the signature verifies. */
int relay_request_verify(const struct relay_request *r,
			 const uint8_t identity_pk[static KEYS_SIGN_PK_LEN]) DX_MUST_CHECK;
/* DX_EREQ_SIG unless the request carries a MAC that verifies under key. */
int relay_request_verify_mac(const struct relay_request *r,
			     const uint8_t key[static RELAY_SESSION_KEY_LEN]) DX_MUST_CHECK;
void relay_request_free(struct relay_request *r);
/* RH(request) = H256(L("divex/v1/request-hash") || request), PROTOCOL.md 12.5. */
void relay_request_hash(uint8_t out[static 32], const uint8_t *request, size_t len);

/*
 * The session handshake's transcript: H256(L("divex/v1/session") ||
 * RH(signed session request) || relay_pk || session_id || be64(lifetime_ms)).
 */
void relay_session_transcript(uint8_t out[static 32], const uint8_t request_hash[static 32],
			      const uint8_t relay_pk[static 32],
			      const uint8_t session[static RELAY_SESSION_ID_LEN],
			      uint64_t lifetime_ms);
/* What the relay signs: L("divex/v1/relay-session") || transcript; returns its length. */
#define RELAY_SESSION_STATEMENT_MAX 64
size_t relay_session_statement(uint8_t out[static RELAY_SESSION_STATEMENT_MAX],
			       const uint8_t transcript[static 32]);
/*
 * key = H256k(X25519(sk, peer_pk), L("divex/v1/session-key") || transcript);
 * DX_EDH when the shared secret is all zero. The shared secret is wiped.
 */
int relay_session_key(uint8_t key[static RELAY_SESSION_KEY_LEN], const uint8_t sk[static 32],
		      const uint8_t peer_pk[static 32], const uint8_t transcript[static 32])
	DX_MUST_CHECK;

/* H256(L("divex/v1/party") || salt || role || state): role 'S' or 'R'. */
void relay_party_commitment(uint8_t out[static 32], const uint8_t salt[static RELAY_SALT_LEN],
			    char role, const char *state);
/* Leaf data (PROTOCOL.md 12.5); each returns the length written into out. */
size_t relay_leaf_accepted(uint8_t out[static RELAY_LEAF_MAX],
			   const uint8_t digest[static ENVELOPE_HASH_LEN], const char *sender,
			   const char *recipient, const uint8_t salt[static RELAY_SALT_LEN],
			   uint64_t time_ms);
size_t relay_leaf_statement(uint8_t out[static RELAY_LEAF_MAX], enum relay_leaf_kind kind,
			    const uint8_t digest[static ENVELOPE_HASH_LEN], const uint8_t *request,
			    size_t request_len, uint64_t time_ms);
size_t relay_leaf_roster(uint8_t out[static RELAY_LEAF_MAX], const char *state, uint32_t status,
			 const uint8_t *signed_entry, size_t entry_len, uint64_t time_ms);

/* The relay's identity as a client pins it. */
struct relay_identity {
	char name[CHECKPOINT_KEY_NAME_MAX + 1]; /* origin and key name */
	uint8_t pk[KEYS_SIGN_PK_LEN];
};

/*
 * Verifies a receipt for a leaf: the checkpoint is signed by the relay, and
 * the leaf is included in it. cp (may be NULL) receives the checkpoint.
 */
int relay_receipt_verify(const Dx__Receipt *r, const uint8_t *leaf, size_t leaf_len,
			 const struct relay_identity *id, struct checkpoint *cp) DX_MUST_CHECK;
/*
 * The inclusion half alone, for a caller that already verified the receipt's
 * checkpoint (its exact bytes, under the pinned key) into cp.
 */
int relay_receipt_verify_in(const Dx__Receipt *r, const uint8_t *leaf, size_t leaf_len,
			    const struct checkpoint *cp) DX_MUST_CHECK;

#endif
