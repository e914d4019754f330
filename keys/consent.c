/*
 * consent.c: signing, verifying and applying consent decisions (see
 * consent.h; format in docs/PROTOCOL.md section 13, rules in
 * docs/casework-rules.md).
 */
#include "consent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "canon.h"
#include "casework.pb-c.h"
#include "wire.pb-c.h"

static const char SIG_LABEL[] = "divex/v1/consent";
static const char ITEM_LABEL[] = "divex/v1/consent-item";

void consent_item_hash(uint8_t out[static CONSENT_ITEM_HASH_LEN], const uint8_t digest[static 32])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, CONSENT_ITEM_HASH_LEN);
	crypto_generichash_update(&st, (const uint8_t *)ITEM_LABEL, sizeof(ITEM_LABEL));
	crypto_generichash_update(&st, digest, 32);
	crypto_generichash_final(&st, out, CONSENT_ITEM_HASH_LEN);
}

/* L("divex/v1/consent") || statement, in a new buffer. */
static uint8_t *signed_message(const uint8_t *stmt, size_t len, size_t *out_len)
{
	uint8_t *m = malloc(sizeof(SIG_LABEL) + len);
	if (m != NULL) {
		memcpy(m, SIG_LABEL, sizeof(SIG_LABEL));
		memcpy(m + sizeof(SIG_LABEL), stmt, len);
		*out_len = sizeof(SIG_LABEL) + len;
	}
	return m;
}

static int text_or_empty(const char *s)
{
	return s != NULL ? s[0] != '\0' : 0;
}

int consent_decision_build(const struct keys *k, const struct consent_params *p, uint8_t **out,
			   size_t *out_len)
{
	Dx__ConsentStatement st = DX__CONSENT_STATEMENT__INIT;
	Dx__ConsentDecision dec = DX__CONSENT_DECISION__INIT;
	ProtobufCBinaryData *items = NULL;
	uint8_t *stmt = NULL, *msg = NULL, *buf = NULL, sig[KEYS_SIG_LEN], pk[KEYS_SIGN_PK_LEN];
	size_t stmt_len, msg_len, buf_len;
	struct consent_decision *check = NULL;
	int rc;

	if (p->recipient == NULL || p->request_envelope_id == NULL || p->n_items == 0 ||
	    p->n_items > CONSENT_MAX_ITEMS || p->items == NULL) {
		return DX_EINVAL;
	}
	items = calloc(p->n_items, sizeof(*items));
	if (items == NULL) {
		return DX_ENOMEM;
	}
	for (size_t i = 0; i < p->n_items; i++) {
		items[i] = (ProtobufCBinaryData){ CONSENT_ITEM_HASH_LEN, (uint8_t *)p->items[i] };
	}
	st.provider = (char *)keys_state(k);
	st.recipient = (char *)p->recipient;
	st.request_envelope_id =
		(ProtobufCBinaryData){ CONSENT_REQUEST_ID_LEN, (uint8_t *)p->request_envelope_id };
	st.purpose = (Dx__ConsentPurpose)p->purpose;
	st.body = text_or_empty(p->body) ? (char *)p->body : (char *)protobuf_c_empty_string;
	st.outcome = (Dx__ConsentOutcome)p->outcome;
	st.conditions = text_or_empty(p->conditions) ? (char *)p->conditions
						      : (char *)protobuf_c_empty_string;
	st.n_item_hashes = p->n_items;
	st.item_hashes = items;
	st.decided_ms = p->decided_ms;
	if ((rc = proto_pack_alloc(&st.base, &stmt, &stmt_len)) != DX_OK) {
		goto out;
	}
	if ((msg = signed_message(stmt, stmt_len, &msg_len)) == NULL) {
		rc = DX_ENOMEM;
		goto out;
	}
	keys_sign(k, sig, msg, msg_len);
	dec.statement = (ProtobufCBinaryData){ stmt_len, stmt };
	dec.signature = (ProtobufCBinaryData){ KEYS_SIG_LEN, sig };
	if ((rc = proto_pack_alloc(&dec.base, &buf, &buf_len)) != DX_OK) {
		goto out;
	}
	/* Publish nothing a verifier would refuse. */
	keys_identity_pk(k, pk);
	if ((rc = consent_decision_verify(buf, buf_len, keys_state(k), pk, &check)) != DX_OK) {
		goto out;
	}
	consent_decision_free(check);
	*out = buf;
	*out_len = buf_len;
	buf = NULL;
out:
	free(buf);
	free(msg);
	free(stmt);
	free(items);
	return rc;
}

/* The shape rules of PROTOCOL.md 13.2, step 6. */
static int check_shape(const Dx__ConsentStatement *s)
{
	int purpose = (int)s->purpose, outcome = (int)s->outcome;
	if (strcmp(s->provider, s->recipient) == 0 ||
	    s->request_envelope_id.len != CONSENT_REQUEST_ID_LEN ||
	    purpose < DX__CONSENT_PURPOSE__OPERATIONAL_USE ||
	    purpose > DX__CONSENT_PURPOSE__FURTHER_DISSEMINATION ||
	    outcome < DX__CONSENT_OUTCOME__GRANTED || outcome > DX__CONSENT_OUTCOME__REVOKED ||
	    s->decided_ms == 0) {
		return DX_EPARSE;
	}
	int has_body = s->body[0] != '\0', has_cond = s->conditions[0] != '\0';
	if (has_body != (purpose == DX__CONSENT_PURPOSE__DISCLOSURE_TO_BODY) ||
	    has_cond != (outcome == DX__CONSENT_OUTCOME__GRANTED_WITH_CONDITIONS) ||
	    !roster_text_valid(s->body, CONSENT_BODY_MAX) ||
	    !roster_text_valid(s->conditions, CONSENT_CONDITIONS_MAX)) {
		return DX_EPARSE;
	}
	if (s->n_item_hashes == 0 || s->n_item_hashes > CONSENT_MAX_ITEMS) {
		return DX_EPARSE;
	}
	for (size_t i = 0; i < s->n_item_hashes; i++) {
		if (s->item_hashes[i].len != CONSENT_ITEM_HASH_LEN) {
			return DX_EPARSE;
		}
		for (size_t j = 0; j < i; j++) {
			if (memcmp(s->item_hashes[i].data, s->item_hashes[j].data,
				   CONSENT_ITEM_HASH_LEN) == 0) {
				return DX_EPARSE;
			}
		}
	}
	return DX_OK;
}

static int fill(struct consent_decision *d, Dx__ConsentStatement *s)
{
	d->items = malloc(s->n_item_hashes * CONSENT_ITEM_HASH_LEN);
	if (d->items == NULL) {
		return DX_ENOMEM;
	}
	for (size_t i = 0; i < s->n_item_hashes; i++) {
		memcpy(d->items[i], s->item_hashes[i].data, CONSENT_ITEM_HASH_LEN);
	}
	d->n_items = s->n_item_hashes;
	memcpy(d->provider, s->provider, DX_STATE_LEN + 1);
	memcpy(d->recipient, s->recipient, DX_STATE_LEN + 1);
	memcpy(d->request_envelope_id, s->request_envelope_id.data, CONSENT_REQUEST_ID_LEN);
	d->purpose = (int)s->purpose;
	d->outcome = (int)s->outcome;
	d->body = s->body;
	d->conditions = s->conditions;
	d->decided_ms = s->decided_ms;
	d->msg = s;
	return DX_OK;
}

int consent_decision_verify(const uint8_t *buf, size_t len, const char *provider,
			    const uint8_t identity_pk[static KEYS_SIGN_PK_LEN],
			    struct consent_decision **out)
{
	ProtobufCMessage *dm = NULL, *sm = NULL;
	struct consent_decision *d = NULL;
	uint8_t *msg = NULL;
	size_t msg_len;
	int rc;

	if (len > CONSENT_DECISION_MAX) {
		return DX_ETOOBIG;
	}
	rc = proto_unpack_strict(&dx__consent_decision__descriptor, buf, len, CONSENT_DECISION_MAX,
				 &dm);
	if (rc != DX_OK) {
		return rc;
	}
	const Dx__ConsentDecision *dec = (const Dx__ConsentDecision *)dm;
	if (dec->signature.len != KEYS_SIG_LEN || dec->statement.len == 0) {
		rc = DX_EPARSE;
		goto out;
	}
	if ((msg = signed_message(dec->statement.data, dec->statement.len, &msg_len)) == NULL) {
		rc = DX_ENOMEM;
		goto out;
	}
	if (crypto_sign_verify_detached(dec->signature.data, msg, msg_len, identity_pk) != 0) {
		rc = DX_ESIG;
		goto out;
	}
	rc = proto_unpack_strict(&dx__consent_statement__descriptor, dec->statement.data,
				 dec->statement.len, CONSENT_STATEMENT_MAX, &sm);
	if (rc != DX_OK) {
		rc = rc == DX_ETOOBIG ? DX_EPARSE : rc;
		goto out;
	}
	Dx__ConsentStatement *s = (Dx__ConsentStatement *)sm;
	if (!dx_state_valid(s->provider) || !dx_state_valid(s->recipient)) {
		rc = DX_ESTATE_CODE;
		goto out;
	}
	if (provider == NULL || strcmp(s->provider, provider) != 0) {
		rc = DX_ESIG;
		goto out;
	}
	if ((rc = check_shape(s)) != DX_OK) {
		goto out;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL || (d->signed_bytes = malloc(len)) == NULL) {
		rc = DX_ENOMEM;
		goto out;
	}
	memcpy(d->signed_bytes, buf, len);
	d->signed_len = len;
	if ((rc = fill(d, s)) != DX_OK) {
		goto out;
	}
	sm = NULL;
	*out = d;
	d = NULL;
out:
	consent_decision_free(d);
	if (sm != NULL) {
		protobuf_c_message_free_unpacked(sm, NULL);
	}
	protobuf_c_message_free_unpacked(dm, NULL);
	free(msg);
	return rc;
}

int consent_decision_verify_entry(const uint8_t *buf, size_t len, const struct roster_entry *e,
				  struct consent_decision **out)
{
	return consent_decision_verify(buf, len, e->state, e->identity_pk, out);
}

void consent_decision_free(struct consent_decision *d)
{
	if (d == NULL) {
		return;
	}
	if (d->msg != NULL) {
		protobuf_c_message_free_unpacked(&d->msg->base, NULL);
	}
	free(d->items);
	free(d->signed_bytes);
	free(d);
}

int consent_decision_covers(const struct consent_decision *d,
			    const uint8_t item[static CONSENT_ITEM_HASH_LEN])
{
	for (size_t i = 0; i < d->n_items; i++) {
		if (memcmp(d->items[i], item, CONSENT_ITEM_HASH_LEN) == 0) {
			return 1;
		}
	}
	return 0;
}
