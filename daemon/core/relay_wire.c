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

int relay_request_sign(const struct keys *k, Dx__RequestBody *body, uint8_t **out, size_t *out_len)
{
	uint8_t id[RELAY_REQUEST_ID_LEN], sig[KEYS_SIG_LEN];
	uint8_t *bytes = NULL, *stmt = NULL;
	size_t len, slen;

	body->node = (char *)keys_state(k);
	if (body->request_id.len != RELAY_REQUEST_ID_LEN) {
		randombytes_buf(id, sizeof(id));
		body->request_id = (ProtobufCBinaryData){ sizeof(id), id };
	}
	if (body->time_ms == 0) {
		body->time_ms = dx_now_ms();
	}
	int rc = proto_pack_alloc(&body->base, &bytes, &len);
	if (rc != DX_OK) {
		return rc;
	}
	if (len > RELAY_REQUEST_MAX - 128) {
		rc = DX_ETOOBIG;
		goto out;
	}
	stmt = request_statement(bytes, len, &slen);
	if (stmt == NULL) {
		rc = DX_ENOMEM;
		goto out;
	}
	keys_sign(k, sig, stmt, slen);
	Dx__RelayRequest req = DX__RELAY_REQUEST__INIT;
	req.body = (ProtobufCBinaryData){ len, bytes };
	req.signature = (ProtobufCBinaryData){ sizeof(sig), sig };
	rc = proto_pack_alloc(&req.base, out, out_len);
out:
	/* The id lived on this stack frame; callers that need it set their own. */
	if (body->request_id.data == id) {
		body->request_id = (ProtobufCBinaryData){ 0, NULL };
	}
	free(stmt);
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
	if (r->signature.len != KEYS_SIG_LEN || r->body.len == 0) {
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
	uint8_t *stmt = request_statement(r->outer->body.data, r->outer->body.len, &slen);
	if (stmt == NULL) {
		return DX_ENOMEM;
	}
	int ok = crypto_sign_verify_detached(r->outer->signature.data, stmt, slen, identity_pk);
	free(stmt);
	return ok == 0 ? DX_OK : DX_EREQ_SIG;
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
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)LABEL_REQHASH, sizeof(LABEL_REQHASH));
	crypto_generichash_update(&st, request, request_len);
	crypto_generichash_final(&st, h, 32);
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
	uint8_t leaf_hash[MERKLE_HASH_LEN];
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	int rc;

	if (r == NULL || r->n_proof > MERKLE_MAX_PROOF) {
		return DX_EPARSE;
	}
	rc = checkpoint_parse_verify(r->checkpoint.data, r->checkpoint.len, id->name, id->name,
				     id->pk, &cp);
	if (rc != DX_OK) {
		return rc;
	}
	for (size_t i = 0; i < r->n_proof; i++) {
		if (r->proof[i].len != MERKLE_HASH_LEN) {
			return DX_EPARSE;
		}
		memcpy(proof[i], r->proof[i].data, MERKLE_HASH_LEN);
	}
	merkle_leaf_hash(leaf_hash, leaf, leaf_len);
	rc = merkle_verify_inclusion(leaf_hash, r->leaf_index, cp.size,
				     (const uint8_t(*)[MERKLE_HASH_LEN])proof, r->n_proof, cp.root);
	if (rc == DX_OK && cp_out != NULL) {
		*cp_out = cp;
	}
	return rc;
}
