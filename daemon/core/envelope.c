/*
 * envelope.c: strict parsing of envelopes and the two signed statements
 * (docs/PROTOCOL.md section 5). Keyless: this is what the relay links to check
 * that an envelope is well formed and really comes from the State it names.
 */
#include "envelope.h"

#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "wire.pb-c.h"

static const char LABEL_ENVELOPE[] = "divex/v1/envelope";
static const char LABEL_CIPHERTEXT[] = "divex/v1/ciphertext";
static const char LABEL_PAYLOAD[] = "divex/v1/payload";
static const char LABEL_BODY[] = "divex/v1/body";

void envelope_ciphertext_hash(uint8_t out[static ENVELOPE_HASH_LEN], const uint8_t *ct, size_t len)
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, ENVELOPE_HASH_LEN);
	crypto_generichash_update(&st, (const uint8_t *)LABEL_CIPHERTEXT, sizeof(LABEL_CIPHERTEXT));
	crypto_generichash_update(&st, ct, len);
	crypto_generichash_final(&st, out, ENVELOPE_HASH_LEN);
}

int envelope_outer_statement(const uint8_t *header, size_t header_len,
			     const uint8_t ct_hash[static ENVELOPE_HASH_LEN], uint8_t **out,
			     size_t *out_len)
{
	if (header_len > ENVELOPE_HEADER_MAX) {
		return DX_ETOOBIG;
	}
	size_t n = sizeof(LABEL_ENVELOPE) + 4 + header_len + ENVELOPE_HASH_LEN;
	uint8_t *buf = malloc(n);
	if (buf == NULL) {
		return DX_ENOMEM;
	}
	uint8_t *p = buf;
	memcpy(p, LABEL_ENVELOPE, sizeof(LABEL_ENVELOPE));
	p += sizeof(LABEL_ENVELOPE);
	dx_put_be32(p, (uint32_t)header_len);
	p += 4;
	memcpy(p, header, header_len);
	p += header_len;
	memcpy(p, ct_hash, ENVELOPE_HASH_LEN);
	*out = buf;
	*out_len = n;
	return DX_OK;
}

void envelope_inner_statement(uint8_t out[static ENVELOPE_INNER_STATEMENT_LEN],
			      const uint8_t id[static ENVELOPE_ID_LEN], const char *sender,
			      const char *recipient, const uint8_t *body, size_t body_len)
{
	crypto_generichash_state st;
	uint8_t *p = out;
	memcpy(p, LABEL_PAYLOAD, sizeof(LABEL_PAYLOAD));
	p += sizeof(LABEL_PAYLOAD);
	memcpy(p, id, ENVELOPE_ID_LEN);
	p += ENVELOPE_ID_LEN;
	memcpy(p, sender, DX_STATE_LEN);
	p += DX_STATE_LEN;
	memcpy(p, recipient, DX_STATE_LEN);
	p += DX_STATE_LEN;
	crypto_generichash_init(&st, NULL, 0, ENVELOPE_HASH_LEN);
	crypto_generichash_update(&st, (const uint8_t *)LABEL_BODY, sizeof(LABEL_BODY));
	crypto_generichash_update(&st, body, body_len);
	crypto_generichash_final(&st, p, ENVELOPE_HASH_LEN);
}

int envelope_verify_inner(const uint8_t id[static ENVELOPE_ID_LEN], const char *sender,
			  const char *recipient, const uint8_t *body, size_t body_len,
			  const uint8_t sig[static KEYS_SIG_LEN],
			  const uint8_t sender_identity_pk[static KEYS_SIGN_PK_LEN])
{
	uint8_t stmt[ENVELOPE_INNER_STATEMENT_LEN];
	if (!dx_state_valid(sender) || !dx_state_valid(recipient)) {
		return DX_ESTATE_CODE;
	}
	envelope_inner_statement(stmt, id, sender, recipient, body, body_len);
	if (crypto_sign_verify_detached(sig, stmt, sizeof(stmt), sender_identity_pk) != 0) {
		return DX_EINNER_SIG;
	}
	return DX_OK;
}

/* Reads a varint; returns bytes consumed, or 0 if malformed or past end. */
static size_t varint(const uint8_t *p, size_t len, uint64_t *v)
{
	*v = 0;
	for (size_t i = 0; i < len && i < 10; i++) {
		*v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if ((p[i] & 0x80) == 0) {
			return i + 1;
		}
	}
	return 0;
}

/*
 * The suite is read before anything else about the header (PROTOCOL.md 5.3):
 * a canonical header begins with field 1 as a varint, so a header from a
 * future suite is refused as such even if its other fields are unknown here.
 */
static int read_suite(const uint8_t *h, size_t len, uint32_t *suite)
{
	uint64_t v;
	if (len < 2 || h[0] != 0x08) {
		return DX_EPARSE;
	}
	size_t n = varint(h + 1, len - 1, &v);
	if (n == 0 || v > UINT32_MAX) {
		return DX_EPARSE;
	}
	*suite = (uint32_t)v;
	return DX_OK;
}

static int copy_fixed(uint8_t *dst, const ProtobufCBinaryData *src, size_t want)
{
	if (src->len != want) {
		return DX_EPARSE;
	}
	memcpy(dst, src->data, want);
	return DX_OK;
}

static int copy_state(char dst[static DX_STATE_LEN + 1], const char *src)
{
	if (!dx_state_valid(src)) {
		return DX_ESTATE_CODE;
	}
	memcpy(dst, src, DX_STATE_LEN + 1);
	return DX_OK;
}

static int fill_header(struct envelope_info *e, const Dx__EnvelopeHeader *h)
{
	int rc;
	if ((rc = copy_fixed(e->id, &h->envelope_id, ENVELOPE_ID_LEN)) != DX_OK ||
	    (rc = copy_state(e->sender, h->sender)) != DX_OK ||
	    (rc = copy_state(e->recipient, h->recipient)) != DX_OK ||
	    (rc = copy_fixed(e->sender_identity_id, &h->sender_identity_key_id, KEYS_ID_LEN)) != DX_OK ||
	    (rc = copy_fixed(e->sender_static_id, &h->sender_static_key_id, KEYS_ID_LEN)) != DX_OK ||
	    (rc = copy_fixed(e->recipient_static_id, &h->recipient_static_key_id, KEYS_ID_LEN)) != DX_OK ||
	    (rc = copy_fixed(e->recipient_prekey_id, &h->recipient_prekey_id, KEYS_ID_LEN)) != DX_OK ||
	    (rc = copy_fixed(e->ephemeral_pk, &h->ephemeral_key, KEYS_DH_PK_LEN)) != DX_OK ||
	    (rc = copy_fixed(e->key_commitment, &h->key_commitment, ENVELOPE_HASH_LEN)) != DX_OK) {
		return rc;
	}
	if (strcmp(e->sender, e->recipient) == 0 || h->sequence == 0 || h->created_ms == 0) {
		return DX_EPARSE;
	}
	e->sequence = h->sequence;
	e->created_ms = h->created_ms;
	if (h->n_attachment_ids > ENVELOPE_MAX_ATTACHMENTS) {
		return DX_ETOOBIG;
	}
	e->n_attachments = h->n_attachment_ids;
	for (size_t i = 0; i < h->n_attachment_ids; i++) {
		if ((rc = copy_fixed(e->attachment_ids[i], &h->attachment_ids[i], 16)) != DX_OK) {
			return rc;
		}
		for (size_t j = 0; j < i; j++) {
			if (memcmp(e->attachment_ids[i], e->attachment_ids[j], 16) == 0) {
				return DX_EPARSE;
			}
		}
	}
	if (h->checkpoint.len > ENVELOPE_CHECKPOINT_MAX) {
		return DX_ETOOBIG;
	}
	return DX_OK;
}

/*
 * Finds the bytes of a length-delimited field in an already strictly decoded
 * message, as a view into buf. A field that is absent (proto3 omits empty
 * bytes) gives an empty view.
 */
static int field_view(const uint8_t *buf, size_t len, uint32_t field, const uint8_t **view,
		      size_t *view_len)
{
	size_t off = 0;
	*view = NULL;
	*view_len = 0;
	while (off < len) {
		uint64_t key, v;
		size_t n = varint(buf + off, len - off, &key);
		if (n == 0) {
			return DX_EPARSE;
		}
		off += n;
		switch (key & 7) {
		case 0:
			n = varint(buf + off, len - off, &v);
			if (n == 0) {
				return DX_EPARSE;
			}
			off += n;
			break;
		case 2:
			n = varint(buf + off, len - off, &v);
			if (n == 0 || v > len - off - n) {
				return DX_EPARSE;
			}
			off += n;
			if ((key >> 3) == field) {
				*view = buf + off;
				*view_len = (size_t)v;
				return DX_OK;
			}
			off += (size_t)v;
			break;
		default:
			return DX_EPARSE;
		}
	}
	return DX_OK;
}

int envelope_parse(const uint8_t *buf, size_t len, struct envelope_info *out)
{
	ProtobufCMessage *m = NULL;
	ProtobufCMessage *hm = NULL;
	struct envelope_info e;
	uint8_t *stmt = NULL;
	size_t stmt_len;
	int rc;

	memset(&e, 0, sizeof(e));
	rc = proto_unpack_strict(&dx__envelope__descriptor, buf, len, ENVELOPE_MAX, &m);
	if (rc != DX_OK) {
		return rc;
	}
	const Dx__Envelope *env = (const Dx__Envelope *)m;
	if (env->header.len == 0 || env->signature.len != KEYS_SIG_LEN ||
	    env->ciphertext.len < crypto_aead_xchacha20poly1305_ietf_ABYTES) {
		rc = DX_EPARSE;
		goto out;
	}
	if (env->header.len > ENVELOPE_HEADER_MAX) {
		rc = DX_ETOOBIG;
		goto out;
	}
	if ((rc = read_suite(env->header.data, env->header.len, &e.suite)) != DX_OK) {
		goto out;
	}
	if (e.suite != ENVELOPE_SUITE_X25519_ED25519_XCHACHA) {
		rc = DX_ESUITE;
		goto out;
	}
	rc = proto_unpack_strict(&dx__envelope_header__descriptor, env->header.data,
				 env->header.len, ENVELOPE_HEADER_MAX, &hm);
	if (rc != DX_OK) {
		goto out;
	}
	const Dx__EnvelopeHeader *h = (const Dx__EnvelopeHeader *)hm;
	if ((rc = fill_header(&e, h)) != DX_OK) {
		goto out;
	}
	/*
	 * The views point into the caller's buffer, not into the unpacked
	 * message (protobuf-c copies bytes fields), so that what is hashed and
	 * signed is exactly what was received.
	 */
	if ((rc = field_view(buf, len, 1, &e.header, &e.header_len)) != DX_OK ||
	    (rc = field_view(buf, len, 2, &e.ciphertext, &e.ciphertext_len)) != DX_OK ||
	    (rc = field_view(e.header, e.header_len, 14, &e.checkpoint, &e.checkpoint_len)) != DX_OK) {
		goto out;
	}
	memcpy(e.signature, env->signature.data, KEYS_SIG_LEN);
	envelope_ciphertext_hash(e.ciphertext_hash, e.ciphertext, e.ciphertext_len);
	if ((rc = envelope_outer_statement(e.header, e.header_len, e.ciphertext_hash, &stmt,
					   &stmt_len)) != DX_OK) {
		goto out;
	}
	crypto_generichash(e.digest, ENVELOPE_HASH_LEN, stmt, stmt_len, NULL, 0);
	rc = DX_OK;
out:
	free(stmt);
	if (rc == DX_OK) {
		*out = e;
	}
	if (hm != NULL) {
		protobuf_c_message_free_unpacked(hm, NULL);
	}
	if (m != NULL) {
		protobuf_c_message_free_unpacked(m, NULL);
	}
	return rc;
}

int envelope_verify_outer(const struct envelope_info *e,
			  const uint8_t sender_identity_pk[static KEYS_SIGN_PK_LEN])
{
	uint8_t *stmt = NULL;
	size_t stmt_len;
	int rc = envelope_outer_statement(e->header, e->header_len, e->ciphertext_hash, &stmt,
					  &stmt_len);
	if (rc != DX_OK) {
		return rc;
	}
	if (crypto_sign_verify_detached(e->signature, stmt, stmt_len, sender_identity_pk) != 0) {
		rc = DX_EOUTER_SIG;
	}
	free(stmt);
	return rc;
}
