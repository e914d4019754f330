/*
 * seal.c: sealing and opening envelopes (docs/PROTOCOL.md section 5).
 *
 * Secrets derived here (the three DH outputs, the master secret, the AEAD key
 * and nonce) live in one sodium_malloc'd struct derived per call and are wiped
 * on every exit path. Private keys never leave keys/: this file asks it for
 * checked DH results and signatures.
 */
#include "seal.h"

#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "wire.pb-c.h"

static const char LABEL_TRANSCRIPT[] = "divex/v1/seal-transcript";
static const char LABEL_MASTER[] = "divex/v1/seal-master";
static const char LABEL_COMMIT[] = "divex/v1/key-commitment";
/* crypto_kdf context (8 bytes) and subkey ids for suite 1. */
static const char KDF_CONTEXT[crypto_kdf_CONTEXTBYTES] = { 'd', 'x', 's', 'e', 'a', 'l', '0', '1' };
enum { SUBKEY_AEAD = 1, SUBKEY_NONCE = 2 };

/* Everything secret derived while sealing or opening one envelope. */
struct derived {
	uint8_t dh[3][KEYS_DH_LEN];
	uint8_t master[ENVELOPE_HASH_LEN];
	uint8_t key[SEAL_KEY_LEN];
	uint8_t nonce[SEAL_NONCE_LEN];
};

/* The public inputs of the transcript hash (5.2), in order. */
struct transcript {
	uint32_t suite;
	const uint8_t *id;
	const char *sender, *recipient;
	const uint8_t *sender_identity_pk, *sender_static_pk;
	const uint8_t *recipient_identity_pk, *recipient_static_pk;
	const uint8_t *prekey_id, *prekey_pk;
	const uint8_t *ephemeral_pk;
};

static void transcript_hash(uint8_t out[static ENVELOPE_HASH_LEN], const struct transcript *t)
{
	crypto_generichash_state st;
	uint8_t suite[4];
	dx_put_be32(suite, t->suite);
	crypto_generichash_init(&st, NULL, 0, ENVELOPE_HASH_LEN);
	crypto_generichash_update(&st, (const uint8_t *)LABEL_TRANSCRIPT, sizeof(LABEL_TRANSCRIPT));
	crypto_generichash_update(&st, suite, sizeof(suite));
	crypto_generichash_update(&st, t->id, ENVELOPE_ID_LEN);
	crypto_generichash_update(&st, (const uint8_t *)t->sender, DX_STATE_LEN);
	crypto_generichash_update(&st, (const uint8_t *)t->recipient, DX_STATE_LEN);
	crypto_generichash_update(&st, t->sender_identity_pk, KEYS_SIGN_PK_LEN);
	crypto_generichash_update(&st, t->sender_static_pk, KEYS_DH_PK_LEN);
	crypto_generichash_update(&st, t->recipient_identity_pk, KEYS_SIGN_PK_LEN);
	crypto_generichash_update(&st, t->recipient_static_pk, KEYS_DH_PK_LEN);
	crypto_generichash_update(&st, t->prekey_id, KEYS_ID_LEN);
	crypto_generichash_update(&st, t->prekey_pk, KEYS_DH_PK_LEN);
	crypto_generichash_update(&st, t->ephemeral_pk, KEYS_DH_PK_LEN);
	crypto_generichash_final(&st, out, ENVELOPE_HASH_LEN);
}

void seal_key_commitment(uint8_t out[static ENVELOPE_HASH_LEN],
			 const uint8_t key[static SEAL_KEY_LEN],
			 const uint8_t nonce[static SEAL_NONCE_LEN])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, ENVELOPE_HASH_LEN);
	crypto_generichash_update(&st, (const uint8_t *)LABEL_COMMIT, sizeof(LABEL_COMMIT));
	crypto_generichash_update(&st, key, SEAL_KEY_LEN);
	crypto_generichash_update(&st, nonce, SEAL_NONCE_LEN);
	crypto_generichash_final(&st, out, ENVELOPE_HASH_LEN);
}

/* master = BLAKE2b-256(key = transcript hash, label || dh1 || dh2 || dh3). */
static void derive_keys(struct derived *d, const uint8_t th[static ENVELOPE_HASH_LEN])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, th, ENVELOPE_HASH_LEN, ENVELOPE_HASH_LEN);
	crypto_generichash_update(&st, (const uint8_t *)LABEL_MASTER, sizeof(LABEL_MASTER));
	crypto_generichash_update(&st, d->dh[0], KEYS_DH_LEN);
	crypto_generichash_update(&st, d->dh[1], KEYS_DH_LEN);
	crypto_generichash_update(&st, d->dh[2], KEYS_DH_LEN);
	crypto_generichash_final(&st, d->master, ENVELOPE_HASH_LEN);
	sodium_memzero(&st, sizeof(st));
	crypto_kdf_derive_from_key(d->key, SEAL_KEY_LEN, SUBKEY_AEAD, KDF_CONTEXT, d->master);
	crypto_kdf_derive_from_key(d->nonce, SEAL_NONCE_LEN, SUBKEY_NONCE, KDF_CONTEXT, d->master);
}

static void trace_fill(struct seal_trace *tr, const struct derived *d,
		       const uint8_t th[static ENVELOPE_HASH_LEN])
{
	if (tr == NULL) {
		return;
	}
	memcpy(tr->dh1, d->dh[0], KEYS_DH_LEN);
	memcpy(tr->dh2, d->dh[1], KEYS_DH_LEN);
	memcpy(tr->dh3, d->dh[2], KEYS_DH_LEN);
	memcpy(tr->transcript_hash, th, ENVELOPE_HASH_LEN);
	memcpy(tr->master, d->master, ENVELOPE_HASH_LEN);
	memcpy(tr->aead_key, d->key, SEAL_KEY_LEN);
	memcpy(tr->nonce, d->nonce, SEAL_NONCE_LEN);
}

static int check_seal_params(const struct seal_params *p, size_t payload_len)
{
	if (p->sender == NULL || p->recipient == NULL || p->sequence == 0 || p->created_ms == 0) {
		return DX_EINVAL;
	}
	if (!dx_state_valid(p->recipient->state)) {
		return DX_ESTATE_CODE;
	}
	if (strcmp(p->recipient->state, keys_state(p->sender)) == 0) {
		return DX_EINVAL;
	}
	if (payload_len > ENVELOPE_BODY_MAX + 1024 || p->checkpoint_len > ENVELOPE_CHECKPOINT_MAX ||
	    p->n_attachment_ids > ENVELOPE_MAX_ATTACHMENTS) {
		return DX_ETOOBIG;
	}
	return DX_OK;
}

/* Serializes the header (5.3) with the fields in ascending order. */
static int build_header(const struct seal_params *p, const uint8_t id[static ENVELOPE_ID_LEN],
			const uint8_t eph_pk[static 32], const uint8_t prekey_id[static 16],
			const uint8_t commitment[static 32], uint8_t **out, size_t *out_len)
{
	Dx__EnvelopeHeader h = DX__ENVELOPE_HEADER__INIT;
	uint8_t sid[KEYS_ID_LEN], ssid[KEYS_ID_LEN], rsid[KEYS_ID_LEN];
	ProtobufCBinaryData att[ENVELOPE_MAX_ATTACHMENTS];

	keys_identity_id(p->sender, sid);
	keys_static_id(p->sender, ssid);
	keys_key_id(rsid, p->recipient->static_pk);
	h.suite = ENVELOPE_SUITE_X25519_ED25519_XCHACHA;
	h.envelope_id = (ProtobufCBinaryData){ ENVELOPE_ID_LEN, (uint8_t *)id };
	h.sender = (char *)keys_state(p->sender);
	h.recipient = (char *)p->recipient->state;
	h.sender_identity_key_id = (ProtobufCBinaryData){ KEYS_ID_LEN, sid };
	h.sender_static_key_id = (ProtobufCBinaryData){ KEYS_ID_LEN, ssid };
	h.recipient_static_key_id = (ProtobufCBinaryData){ KEYS_ID_LEN, rsid };
	h.recipient_prekey_id = (ProtobufCBinaryData){ KEYS_ID_LEN, (uint8_t *)prekey_id };
	h.ephemeral_key = (ProtobufCBinaryData){ KEYS_DH_PK_LEN, (uint8_t *)eph_pk };
	h.sequence = p->sequence;
	h.created_ms = p->created_ms;
	h.key_commitment = (ProtobufCBinaryData){ ENVELOPE_HASH_LEN, (uint8_t *)commitment };
	for (size_t i = 0; i < p->n_attachment_ids; i++) {
		att[i] = (ProtobufCBinaryData){ 16, (uint8_t *)p->attachment_ids[i] };
	}
	h.n_attachment_ids = p->n_attachment_ids;
	h.attachment_ids = att;
	h.checkpoint = (ProtobufCBinaryData){ p->checkpoint_len, (uint8_t *)p->checkpoint };
	return proto_pack_alloc(&h.base, out, out_len);
}

/* Signs header || H(ct) and serializes the Envelope. */
static int finish_envelope(const struct keys *sender, const uint8_t *header, size_t header_len,
			   const uint8_t *ct, size_t ct_len, uint8_t **out, size_t *out_len)
{
	Dx__Envelope env = DX__ENVELOPE__INIT;
	uint8_t ct_hash[ENVELOPE_HASH_LEN], sig[KEYS_SIG_LEN];
	uint8_t *stmt = NULL;
	size_t stmt_len;

	envelope_ciphertext_hash(ct_hash, ct, ct_len);
	int rc = envelope_outer_statement(header, header_len, ct_hash, &stmt, &stmt_len);
	if (rc != DX_OK) {
		return rc;
	}
	keys_sign(sender, sig, stmt, stmt_len);
	free(stmt);
	env.header = (ProtobufCBinaryData){ header_len, (uint8_t *)header };
	env.ciphertext = (ProtobufCBinaryData){ ct_len, (uint8_t *)ct };
	env.signature = (ProtobufCBinaryData){ KEYS_SIG_LEN, sig };
	/* A receiver refuses anything larger (PROTOCOL.md 5.5), so do not send it. */
	if (protobuf_c_message_get_packed_size(&env.base) > ENVELOPE_MAX) {
		return DX_ETOOBIG;
	}
	return proto_pack_alloc(&env.base, out, out_len);
}

int seal_envelope_raw(const struct seal_params *p, const uint8_t id[static ENVELOPE_ID_LEN],
		      const uint8_t *sealed_payload, size_t sealed_len, uint8_t **out,
		      size_t *out_len, struct seal_trace *trace)
{
	struct keys_ephemeral *eph = NULL;
	struct derived *d = NULL;
	uint8_t *header = NULL, *ct = NULL;
	size_t header_len, ct_len;
	uint8_t eph_pk[KEYS_DH_PK_LEN], prekey_id[KEYS_ID_LEN], th[ENVELOPE_HASH_LEN];
	uint8_t commitment[ENVELOPE_HASH_LEN], ident_pk[KEYS_SIGN_PK_LEN], static_pk[KEYS_DH_PK_LEN];
	int rc = check_seal_params(p, sealed_len);
	if (rc != DX_OK) {
		return rc;
	}
	if ((rc = keys_ephemeral_new(p->fixed_ephemeral, &eph)) != DX_OK) {
		return rc;
	}
	d = sodium_malloc(sizeof(*d));
	if (d == NULL) {
		rc = DX_ENOMEM;
		goto out;
	}
	keys_ephemeral_pk(eph, eph_pk);
	keys_key_id(prekey_id, p->recipient->prekey_pk);
	keys_identity_pk(p->sender, ident_pk);
	keys_static_pk(p->sender, static_pk);
	if ((rc = keys_dh_static(p->sender, d->dh[0], p->recipient->prekey_pk)) != DX_OK ||
	    (rc = keys_ephemeral_dh(eph, d->dh[1], p->recipient->static_pk)) != DX_OK ||
	    (rc = keys_ephemeral_dh(eph, d->dh[2], p->recipient->prekey_pk)) != DX_OK) {
		goto out;
	}
	struct transcript t = {
		.suite = ENVELOPE_SUITE_X25519_ED25519_XCHACHA,
		.id = id,
		.sender = keys_state(p->sender),
		.recipient = p->recipient->state,
		.sender_identity_pk = ident_pk,
		.sender_static_pk = static_pk,
		.recipient_identity_pk = p->recipient->identity_pk,
		.recipient_static_pk = p->recipient->static_pk,
		.prekey_id = prekey_id,
		.prekey_pk = p->recipient->prekey_pk,
		.ephemeral_pk = eph_pk,
	};
	transcript_hash(th, &t);
	derive_keys(d, th);
	trace_fill(trace, d, th);
	seal_key_commitment(commitment, d->key, d->nonce);
	if ((rc = build_header(p, id, eph_pk, prekey_id, commitment, &header, &header_len)) != DX_OK) {
		goto out;
	}
	ct_len = sealed_len + crypto_aead_xchacha20poly1305_ietf_ABYTES;
	ct = malloc(ct_len);
	if (ct == NULL) {
		rc = DX_ENOMEM;
		goto out;
	}
	crypto_aead_xchacha20poly1305_ietf_encrypt(ct, NULL, sealed_payload, sealed_len, header,
						   header_len, NULL, d->nonce, d->key);
	rc = finish_envelope(p->sender, header, header_len, ct, ct_len, out, out_len);
out:
	free(ct);
	free(header);
	sodium_free(d);
	keys_ephemeral_free(eph);
	return rc;
}

int seal_envelope(const struct seal_params *p, uint8_t **out, size_t *out_len,
		  uint8_t id[static ENVELOPE_ID_LEN], struct seal_trace *trace)
{
	Dx__SealedPayload sp = DX__SEALED_PAYLOAD__INIT;
	uint8_t stmt[ENVELOPE_INNER_STATEMENT_LEN], sig[KEYS_SIG_LEN], eid[ENVELOPE_ID_LEN];
	uint8_t *plain = NULL;
	size_t plain_len;

	if (p->body == NULL && p->body_len != 0) {
		return DX_EINVAL;
	}
	if (p->body_len > ENVELOPE_BODY_MAX) {
		return DX_ETOOBIG;
	}
	if (p->recipient == NULL || !dx_state_valid(p->recipient->state)) {
		return DX_EINVAL;
	}
	if (p->fixed_id != NULL) {
		memcpy(eid, p->fixed_id, ENVELOPE_ID_LEN);
	} else {
		randombytes_buf(eid, ENVELOPE_ID_LEN);
	}
	envelope_inner_statement(stmt, eid, keys_state(p->sender), p->recipient->state, p->body,
				 p->body_len);
	keys_sign(p->sender, sig, stmt, sizeof(stmt));
	sp.body = (ProtobufCBinaryData){ p->body_len, (uint8_t *)p->body };
	sp.inner_signature = (ProtobufCBinaryData){ KEYS_SIG_LEN, sig };
	int rc = proto_pack_alloc(&sp.base, &plain, &plain_len);
	if (rc != DX_OK) {
		return rc;
	}
	rc = seal_envelope_raw(p, eid, plain, plain_len, out, out_len, trace);
	sodium_memzero(plain, plain_len);
	free(plain);
	if (rc == DX_OK) {
		memcpy(id, eid, ENVELOPE_ID_LEN);
		if (trace != NULL) {
			memcpy(trace->inner_signature, sig, KEYS_SIG_LEN);
		}
	}
	return rc;
}

/* The checks that need only the header and the sender's public keys. */
static int check_header(const struct open_params *p, const struct envelope_info *e,
			struct seal_peer *sender)
{
	uint8_t my_static_id[KEYS_ID_LEN], id[KEYS_ID_LEN];
	int rc;

	keys_static_id(p->recipient, my_static_id);
	if (strcmp(e->recipient, keys_state(p->recipient)) != 0 ||
	    sodium_memcmp(e->recipient_static_id, my_static_id, KEYS_ID_LEN) != 0) {
		return DX_ERECIPIENT;
	}
	memset(sender, 0, sizeof(*sender));
	if ((rc = p->lookup_sender(p->ctx, e->sender, e->sender_identity_id, sender)) != DX_OK) {
		return rc;
	}
	/* The roster mirror must agree with the key ids the header names. */
	keys_key_id(id, sender->identity_pk);
	if (strcmp(sender->state, e->sender) != 0 ||
	    sodium_memcmp(id, e->sender_identity_id, KEYS_ID_LEN) != 0) {
		return DX_ESENDER;
	}
	if ((rc = envelope_verify_outer(e, sender->identity_pk)) != DX_OK) {
		return rc;
	}
	keys_key_id(id, sender->static_pk);
	if (sodium_memcmp(id, e->sender_static_id, KEYS_ID_LEN) != 0) {
		return DX_ESENDER;
	}
	if (e->created_ms + p->max_age_ms < p->now_ms ||
	    e->created_ms > p->now_ms + p->max_skew_ms) {
		return DX_ESTALE;
	}
	if (p->seen != NULL) {
		rc = p->seen(p->ctx, e->id);
		if (rc < 0) {
			return rc;
		}
		if (rc > 0) {
			return DX_EREPLAY;
		}
	}
	return DX_OK;
}

/* Finds our prekey and checks that the envelope was sealed in its window. */
static int check_prekey(const struct open_params *p, const struct envelope_info *e,
			const struct keys_prekey **out)
{
	const struct keys_prekey *pk = keys_prekey_find(p->recipient, e->recipient_prekey_id);
	if (pk == NULL) {
		return DX_EPREKEY_UNKNOWN;
	}
	if (pk->erased_ms != 0) {
		return DX_EPREKEY_ERASED;
	}
	if (e->created_ms + p->max_skew_ms < pk->valid_from_ms ||
	    e->created_ms >= pk->valid_until_ms + p->max_skew_ms) {
		return DX_EPREKEY_EXPIRED;
	}
	*out = pk;
	return DX_OK;
}

/* Decodes the SealedPayload and checks the inner signature (5.6). */
static int open_payload(const struct envelope_info *e, const struct seal_peer *sender,
			const uint8_t *plain, size_t plain_len, struct opened *o)
{
	ProtobufCMessage *m = NULL;
	int rc = proto_unpack_strict(&dx__sealed_payload__descriptor, plain, plain_len,
				     ENVELOPE_MAX, &m);
	if (rc != DX_OK) {
		return rc;
	}
	const Dx__SealedPayload *sp = (const Dx__SealedPayload *)m;
	if (sp->inner_signature.len != KEYS_SIG_LEN || sp->body.len > ENVELOPE_BODY_MAX) {
		rc = sp->inner_signature.len != KEYS_SIG_LEN ? DX_EINNER_SIG : DX_ETOOBIG;
		goto out;
	}
	rc = envelope_verify_inner(e->id, e->sender, e->recipient, sp->body.data, sp->body.len,
				   sp->inner_signature.data, sender->identity_pk);
	if (rc != DX_OK) {
		goto out;
	}
	o->body = malloc(sp->body.len > 0 ? sp->body.len : 1);
	if (o->body == NULL) {
		rc = DX_ENOMEM;
		goto out;
	}
	if (sp->body.len > 0) {
		memcpy(o->body, sp->body.data, sp->body.len);
	}
	o->body_len = sp->body.len;
	memcpy(o->inner_signature, sp->inner_signature.data, KEYS_SIG_LEN);
out:
	if (sp->body.len > 0) {
		sodium_memzero(sp->body.data, sp->body.len);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return rc;
}

int open_envelope(const struct open_params *p, const uint8_t *buf, size_t len, struct opened *out)
{
	struct opened o;
	struct seal_peer sender;
	const struct keys_prekey *prekey = NULL;
	struct derived *d = NULL;
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	uint8_t th[ENVELOPE_HASH_LEN], commitment[ENVELOPE_HASH_LEN];
	uint8_t my_ident[KEYS_SIGN_PK_LEN], my_static[KEYS_DH_PK_LEN];
	int rc;

	memset(&o, 0, sizeof(o));
	if (p->recipient == NULL || p->lookup_sender == NULL) {
		return DX_EINVAL;
	}
	if ((rc = envelope_parse(buf, len, &o.info)) != DX_OK ||
	    (rc = check_header(p, &o.info, &sender)) != DX_OK ||
	    (rc = check_prekey(p, &o.info, &prekey)) != DX_OK) {
		return rc;
	}
	d = sodium_malloc(sizeof(*d));
	if (d == NULL) {
		return DX_ENOMEM;
	}
	if ((rc = keys_dh_prekey(p->recipient, prekey->id, d->dh[0], sender.static_pk)) != DX_OK ||
	    (rc = keys_dh_static(p->recipient, d->dh[1], o.info.ephemeral_pk)) != DX_OK ||
	    (rc = keys_dh_prekey(p->recipient, prekey->id, d->dh[2], o.info.ephemeral_pk)) != DX_OK) {
		goto out;
	}
	keys_identity_pk(p->recipient, my_ident);
	keys_static_pk(p->recipient, my_static);
	struct transcript t = {
		.suite = o.info.suite,
		.id = o.info.id,
		.sender = o.info.sender,
		.recipient = o.info.recipient,
		.sender_identity_pk = sender.identity_pk,
		.sender_static_pk = sender.static_pk,
		.recipient_identity_pk = my_ident,
		.recipient_static_pk = my_static,
		.prekey_id = prekey->id,
		.prekey_pk = prekey->pk,
		.ephemeral_pk = o.info.ephemeral_pk,
	};
	transcript_hash(th, &t);
	derive_keys(d, th);
	seal_key_commitment(commitment, d->key, d->nonce);
	if (sodium_memcmp(commitment, o.info.key_commitment, ENVELOPE_HASH_LEN) != 0) {
		rc = DX_ECOMMIT;
		goto out;
	}
	plain_len = o.info.ciphertext_len - crypto_aead_xchacha20poly1305_ietf_ABYTES;
	plain = sodium_malloc(plain_len > 0 ? plain_len : 1);
	if (plain == NULL) {
		rc = DX_ENOMEM;
		goto out;
	}
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, NULL, NULL, o.info.ciphertext,
						       o.info.ciphertext_len, o.info.header,
						       o.info.header_len, d->nonce, d->key) != 0) {
		rc = DX_EDECRYPT;
		goto out;
	}
	if ((rc = open_payload(&o.info, &sender, plain, plain_len, &o)) != DX_OK) {
		goto out;
	}
	o.content_key = sodium_malloc(SEAL_KEY_LEN + SEAL_NONCE_LEN);
	if (o.content_key == NULL) {
		rc = DX_ENOMEM;
		goto out;
	}
	memcpy(o.content_key, d->key, SEAL_KEY_LEN);
	memcpy(o.content_key + SEAL_KEY_LEN, d->nonce, SEAL_NONCE_LEN);
	*out = o;
	memset(&o, 0, sizeof(o));
out:
	opened_clear(&o);
	sodium_free(plain); /* sodium_free wipes the whole region */
	sodium_free(d);
	return rc;
}

void opened_clear(struct opened *o)
{
	if (o->body != NULL) {
		sodium_memzero(o->body, o->body_len);
		free(o->body);
	}
	sodium_free(o->content_key);
	memset(o, 0, sizeof(*o));
}
