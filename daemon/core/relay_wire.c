/*
 * relay_wire.c: signed relay requests, audit-log leaves and receipt checks
 * (docs/PROTOCOL.md section 12).
 */
#include "relay_wire.h"

#include <stdlib.h>
#include <string.h>

#include "canon.h"

static const char LABEL_REQUEST[] = "divex/v1/relay-request";
static const char LABEL_PARTY[] = "divex/v1/party";
static const char LABEL_ACCEPTED[] = "divex/v1/leaf/accepted";
static const char LABEL_FETCHED[] = "divex/v1/leaf/fetched";
static const char LABEL_ACKED[] = "divex/v1/leaf/acknowledged";
static const char LABEL_ROSTER[] = "divex/v1/leaf/roster";
static const char LABEL_REQHASH[] = "divex/v1/request-hash";
static const char LABEL_MAC[] = "divex/v1/relay-request-mac";
static const char LABEL_SESSION[] = "divex/v1/session";
static const char LABEL_SESSION_KEY[] = "divex/v1/session-key";
static const char LABEL_RELAY_SESSION[] = "divex/v1/relay-session";

const char *relay_status_name(uint32_t status)
{
	switch (status) {
	case RELAY_STATUS_PARTY:
		return "party";
	case RELAY_STATUS_SIGNATORY:
		return "signatory";
	case RELAY_STATUS_SUSPENDED:
		return "suspended";
	default:
		return "unknown";
	}
}

int relay_status_parse(const char *s, uint32_t *out)
{
	if (strcmp(s, "party") == 0 || strcmp(s, "state-party") == 0) {
		*out = RELAY_STATUS_PARTY;
	} else if (strcmp(s, "signatory") == 0) {
		*out = RELAY_STATUS_SIGNATORY;
	} else {
		return DX_EINVAL;
	}
	return DX_OK;
}

/* The signed statement: label || body bytes, in a new buffer. */
static uint8_t *request_statement(const uint8_t *body, size_t len, size_t *out_len)
{
	uint8_t *m = malloc(sizeof(LABEL_REQUEST) + len);
	if (m == NULL) {
		return NULL;
	}
	memcpy(m, LABEL_REQUEST, sizeof(LABEL_REQUEST));
	memcpy(m + sizeof(LABEL_REQUEST), body, len);
	*out_len = sizeof(LABEL_REQUEST) + len;
	return m;
}

int relay_request_pack(const char *node, Dx__RequestBody *body, uint8_t id[RELAY_REQUEST_ID_LEN],
		       uint8_t **out, size_t *out_len)
{
	body->node = (char *)node;
	if (body->request_id.len != RELAY_REQUEST_ID_LEN) {
		randombytes_buf(id, RELAY_REQUEST_ID_LEN);
		body->request_id = (ProtobufCBinaryData){ RELAY_REQUEST_ID_LEN, id };
	}
	if (body->time_ms == 0) {
		body->time_ms = dx_now_ms();
	}
	int rc = proto_pack_alloc(&body->base, out, out_len);
	if (rc == DX_OK && *out_len > RELAY_REQUEST_MAX - 128) {
		free(*out);
		*out = NULL;
		rc = DX_ETOOBIG;
	}
	return rc;
}

int relay_request_wrap_signed(const struct keys *k, const uint8_t *body, size_t len,
			      uint8_t **out, size_t *out_len)
{
	uint8_t sig[KEYS_SIG_LEN];
	size_t slen;
	uint8_t *stmt = request_statement(body, len, &slen);
	if (stmt == NULL) {
		return DX_ENOMEM;
	}
	keys_sign(k, sig, stmt, slen);
	free(stmt);
	Dx__RelayRequest req = DX__RELAY_REQUEST__INIT;
	req.body = (ProtobufCBinaryData){ len, (uint8_t *)body };
	req.signature = (ProtobufCBinaryData){ sizeof(sig), sig };
	return proto_pack_alloc(&req.base, out, out_len);
}

/* The MAC covers the body's hash, which the relay computes anyway for its
 * replay cache: one pass over a large body, not two (PROTOCOL.md 12.2). */
static void request_mac(uint8_t out[RELAY_SESSION_MAC_LEN], const uint8_t *key,
			const uint8_t *session, const uint8_t body_hash[32])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, key, RELAY_SESSION_KEY_LEN, RELAY_SESSION_MAC_LEN);
	crypto_generichash_update(&st, (const uint8_t *)LABEL_MAC, sizeof(LABEL_MAC));
	crypto_generichash_update(&st, session, RELAY_SESSION_ID_LEN);
	crypto_generichash_update(&st, body_hash, 32);
	crypto_generichash_final(&st, out, RELAY_SESSION_MAC_LEN);
	sodium_memzero(&st, sizeof(st));
}

int relay_request_wrap_mac(const uint8_t session[static RELAY_SESSION_ID_LEN],
			   const uint8_t key[static RELAY_SESSION_KEY_LEN], const uint8_t *body,
			   size_t len, uint8_t **out, size_t *out_len)
{
	uint8_t mac[RELAY_SESSION_MAC_LEN], body_hash[32];
	crypto_generichash(body_hash, sizeof(body_hash), body, len, NULL, 0);
	request_mac(mac, key, session, body_hash);
	Dx__RelayRequest req = DX__RELAY_REQUEST__INIT;
	req.body = (ProtobufCBinaryData){ len, (uint8_t *)body };
	req.session = (ProtobufCBinaryData){ RELAY_SESSION_ID_LEN, (uint8_t *)session };
	req.mac = (ProtobufCBinaryData){ sizeof(mac), mac };
	return proto_pack_alloc(&req.base, out, out_len);
}

int relay_request_sign(const struct keys *k, Dx__RequestBody *body, uint8_t **out, size_t *out_len)
{
	uint8_t id[RELAY_REQUEST_ID_LEN];
	uint8_t *bytes = NULL;
	size_t len;
	int rc = relay_request_pack(keys_state(k), body, id, &bytes, &len);
	if (rc == DX_OK) {
		rc = relay_request_wrap_signed(k, bytes, len, out, out_len);
	}
	/* The id lived on this stack frame; callers that need it set their own. */
	if (body->request_id.data == id) {
		body->request_id = (ProtobufCBinaryData){ 0, NULL };
	}
	free(bytes);
	return rc;
}

int relay_request_parse(const uint8_t *buf, size_t len, struct relay_request *out)
{
	ProtobufCMessage *outer = NULL, *body = NULL;
	int rc = proto_unpack_strict(&dx__relay_request__descriptor, buf, len, RELAY_REQUEST_MAX,
				     &outer);
	if (rc != DX_OK) {
		return rc;
	}
	Dx__RelayRequest *r = (Dx__RelayRequest *)outer;
	/* Exactly one way of authenticating it. */
	int signed_ok = r->signature.len == KEYS_SIG_LEN && r->session.len == 0 && r->mac.len == 0;
	int mac_ok = r->signature.len == 0 && r->session.len == RELAY_SESSION_ID_LEN &&
		     r->mac.len == RELAY_SESSION_MAC_LEN;
	if (!(signed_ok || mac_ok) || r->body.len == 0) {
		rc = DX_EPARSE;
		goto fail;
	}
	rc = proto_unpack_strict(&dx__request_body__descriptor, r->body.data, r->body.len,
				 RELAY_REQUEST_MAX, &body);
	if (rc != DX_OK) {
		goto fail;
	}
	Dx__RequestBody *b = (Dx__RequestBody *)body;
	if (!dx_state_valid(b->node) || b->request_id.len != RELAY_REQUEST_ID_LEN ||
	    b->time_ms == 0 || b->op_case == DX__REQUEST_BODY__OP__NOT_SET ||
	    b->checkpoint.len > CHECKPOINT_MAX) {
		rc = DX_EPARSE;
		goto fail;
	}
	memset(out, 0, sizeof(*out));
	out->outer = r;
	out->body = b;
	out->has_mac = mac_ok;
	crypto_generichash(out->body_hash, sizeof(out->body_hash), r->body.data, r->body.len, NULL,
			   0);
	return DX_OK;
fail:
	if (body != NULL) {
		protobuf_c_message_free_unpacked(body, NULL);
	}
	protobuf_c_message_free_unpacked(outer, NULL);
	return rc;
}

int relay_request_verify(const struct relay_request *r,
			 const uint8_t identity_pk[static KEYS_SIGN_PK_LEN])
{
	size_t slen;
	if (r->has_mac || r->outer->signature.len != KEYS_SIG_LEN) {
		return DX_EREQ_SIG;
	}
	uint8_t *stmt = request_statement(r->outer->body.data, r->outer->body.len, &slen);
	if (stmt == NULL) {
		return DX_ENOMEM;
	}
	int ok = crypto_sign_verify_detached(r->outer->signature.data, stmt, slen, identity_pk);
	free(stmt);
	return ok == 0 ? DX_OK : DX_EREQ_SIG;
}

int relay_request_verify_mac(const struct relay_request *r,
			     const uint8_t key[static RELAY_SESSION_KEY_LEN])
{
	uint8_t mac[RELAY_SESSION_MAC_LEN];
	if (!r->has_mac) {
		return DX_EREQ_SIG;
	}
	request_mac(mac, key, r->outer->session.data, r->body_hash);
	return crypto_verify_32(mac, r->outer->mac.data) == 0 ? DX_OK : DX_EREQ_SIG;
}

void relay_request_hash(uint8_t out[static 32], const uint8_t *request, size_t len)
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)LABEL_REQHASH, sizeof(LABEL_REQHASH));
	crypto_generichash_update(&st, request, len);
	crypto_generichash_final(&st, out, 32);
}

void relay_session_transcript(uint8_t out[static 32], const uint8_t request_hash[static 32],
			      const uint8_t relay_pk[static 32],
			      const uint8_t session[static RELAY_SESSION_ID_LEN], uint64_t lifetime_ms)
{
	crypto_generichash_state st;
	uint8_t t[8];
	dx_put_be64(t, lifetime_ms);
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)LABEL_SESSION, sizeof(LABEL_SESSION));
	crypto_generichash_update(&st, request_hash, 32);
	crypto_generichash_update(&st, relay_pk, 32);
	crypto_generichash_update(&st, session, RELAY_SESSION_ID_LEN);
	crypto_generichash_update(&st, t, sizeof(t));
	crypto_generichash_final(&st, out, 32);
}

size_t relay_session_statement(uint8_t out[static RELAY_SESSION_STATEMENT_MAX],
			       const uint8_t transcript[static 32])
{
	_Static_assert(sizeof(LABEL_RELAY_SESSION) + 32 <= RELAY_SESSION_STATEMENT_MAX,
		       "statement fits");
	memcpy(out, LABEL_RELAY_SESSION, sizeof(LABEL_RELAY_SESSION));
	memcpy(out + sizeof(LABEL_RELAY_SESSION), transcript, 32);
	return sizeof(LABEL_RELAY_SESSION) + 32;
}

int relay_session_key(uint8_t key[static RELAY_SESSION_KEY_LEN], const uint8_t sk[static 32],
		      const uint8_t peer_pk[static 32], const uint8_t transcript[static 32])
{
	uint8_t dh[crypto_scalarmult_BYTES];
	crypto_generichash_state st;
	if (crypto_scalarmult(dh, sk, peer_pk) != 0) {
		sodium_memzero(dh, sizeof(dh));
		return DX_EDH;
	}
	crypto_generichash_init(&st, dh, sizeof(dh), RELAY_SESSION_KEY_LEN);
	crypto_generichash_update(&st, (const uint8_t *)LABEL_SESSION_KEY, sizeof(LABEL_SESSION_KEY));
	crypto_generichash_update(&st, transcript, 32);
	crypto_generichash_final(&st, key, RELAY_SESSION_KEY_LEN);
	sodium_memzero(dh, sizeof(dh));
	sodium_memzero(&st, sizeof(st));
	return DX_OK;
}

void relay_request_free(struct relay_request *r)
{
	if (r->body != NULL) {
		protobuf_c_message_free_unpacked(&r->body->base, NULL);
	}
	if (r->outer != NULL) {
		protobuf_c_message_free_unpacked(&r->outer->base, NULL);
	}
	memset(r, 0, sizeof(*r));
}

void relay_party_commitment(uint8_t out[static 32], const uint8_t salt[static RELAY_SALT_LEN],
			    char role, const char *state)
{
	crypto_generichash_state st;
	uint8_t r = (uint8_t)role;
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)LABEL_PARTY, sizeof(LABEL_PARTY));
	crypto_generichash_update(&st, salt, RELAY_SALT_LEN);
	crypto_generichash_update(&st, &r, 1);
	crypto_generichash_update(&st, (const uint8_t *)state, DX_STATE_LEN);
	crypto_generichash_final(&st, out, 32);
}

static size_t put(uint8_t *p, size_t off, const void *src, size_t n)
{
	memcpy(p + off, src, n);
	return off + n;
}

size_t relay_leaf_accepted(uint8_t out[static RELAY_LEAF_MAX],
			   const uint8_t digest[static ENVELOPE_HASH_LEN], const char *sender,
			   const char *recipient, const uint8_t salt[static RELAY_SALT_LEN],
			   uint64_t time_ms)
{
	uint8_t cs[32], cr[32], t[8];
	relay_party_commitment(cs, salt, 'S', sender);
	relay_party_commitment(cr, salt, 'R', recipient);
	dx_put_be64(t, time_ms);
	size_t n = put(out, 0, LABEL_ACCEPTED, sizeof(LABEL_ACCEPTED));
	n = put(out, n, digest, ENVELOPE_HASH_LEN);
	n = put(out, n, cs, 32);
	n = put(out, n, cr, 32);
	return put(out, n, t, 8);
}

size_t relay_leaf_statement(uint8_t out[static RELAY_LEAF_MAX], enum relay_leaf_kind kind,
			    const uint8_t digest[static ENVELOPE_HASH_LEN], const uint8_t *request,
			    size_t request_len, uint64_t time_ms)
{
	uint8_t h[32], t[8];
	relay_request_hash(h, request, request_len);
	dx_put_be64(t, time_ms);
	size_t n = kind == RELAY_LEAF_FETCHED ? put(out, 0, LABEL_FETCHED, sizeof(LABEL_FETCHED))
					      : put(out, 0, LABEL_ACKED, sizeof(LABEL_ACKED));
	n = put(out, n, digest, ENVELOPE_HASH_LEN);
	n = put(out, n, h, 32);
	return put(out, n, t, 8);
}

size_t relay_leaf_roster(uint8_t out[static RELAY_LEAF_MAX], const char *state, uint32_t status,
			 const uint8_t *signed_entry, size_t entry_len, uint64_t time_ms)
{
	uint8_t h[32], t[8], s = (uint8_t)status;
	crypto_generichash(h, 32, signed_entry, entry_len, NULL, 0);
	dx_put_be64(t, time_ms);
	size_t n = put(out, 0, LABEL_ROSTER, sizeof(LABEL_ROSTER));
	n = put(out, n, state, DX_STATE_LEN);
	n = put(out, n, &s, 1);
	n = put(out, n, h, 32);
	return put(out, n, t, 8);
}

int relay_receipt_verify(const Dx__Receipt *r, const uint8_t *leaf, size_t leaf_len,
			 const struct relay_identity *id, struct checkpoint *cp_out)
{
	struct checkpoint cp;
	if (r == NULL || r->n_proof > MERKLE_MAX_PROOF) {
		return DX_EPARSE;
	}
	int rc = checkpoint_parse_verify(r->checkpoint.data, r->checkpoint.len, id->name, id->name,
					 id->pk, &cp);
	if (rc == DX_OK) {
		rc = relay_receipt_verify_in(r, leaf, leaf_len, &cp);
	}
	if (rc == DX_OK && cp_out != NULL) {
		*cp_out = cp;
	}
	return rc;
}

int relay_receipt_verify_in(const Dx__Receipt *r, const uint8_t *leaf, size_t leaf_len,
			    const struct checkpoint *cp)
{
	uint8_t leaf_hash[MERKLE_HASH_LEN];
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	if (r == NULL || r->n_proof > MERKLE_MAX_PROOF) {
		return DX_EPARSE;
	}
	for (size_t i = 0; i < r->n_proof; i++) {
		if (r->proof[i].len != MERKLE_HASH_LEN) {
			return DX_EPARSE;
		}
		memcpy(proof[i], r->proof[i].data, MERKLE_HASH_LEN);
	}
	merkle_leaf_hash(leaf_hash, leaf, leaf_len);
	return merkle_verify_inclusion(leaf_hash, r->leaf_index, cp->size,
				       (const uint8_t(*)[MERKLE_HASH_LEN])proof, r->n_proof,
				       cp->root);
}
