/*
 * dossier.c: building and verifying audit dossiers (see dossier.h and
 * docs/PROTOCOL.md section 14). Verification follows the numbered steps of
 * 14.2 in order, fills the report as it goes, and stops at the first
 * failure, naming the step.
 */
#include "dossier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "dossier.pb-c.h"
#include "roster.h"

const char *dossier_event_name(enum relay_leaf_kind kind)
{
	switch (kind) {
	case RELAY_LEAF_ACCEPTED:
		return "accepted";
	case RELAY_LEAF_FETCHED:
		return "fetched";
	case RELAY_LEAF_ACKED:
		return "acknowledged";
	default:
		return "unknown";
	}
}

/* ---- verifying ---- */

struct vstate {
	const Dx__Dossier *d;
	struct relay_identity relay;
	struct envelope_info env;
	struct roster_entry *sender, *recipient;
	struct checkpoint latest;
	uint8_t proof_used[DOSSIER_MAX_RECEIPTS];
	struct dossier_report *rep;
};

static int fail(struct vstate *v, const char *step, int rc)
{
	v->rep->failed_step = step;
	return rc;
}

/* Step 3: the shape of every field, before anything is parsed further. */
static int check_shape(const Dx__Dossier *d)
{
	if (d->version != DOSSIER_VERSION || !checkpoint_name_valid(d->relay_name) ||
	    d->relay_key.len != KEYS_SIGN_PK_LEN || d->envelope.len == 0 ||
	    d->sender_entry.len == 0 || d->recipient_entry.len == 0 || d->n_receipts == 0 ||
	    d->n_receipts > DOSSIER_MAX_RECEIPTS || d->checkpoint.len == 0 ||
	    d->n_proofs > DOSSIER_MAX_RECEIPTS) {
		return DX_EPARSE;
	}
	for (size_t i = 0; i < d->n_receipts; i++) {
		const Dx__DossierReceipt *r = d->receipts[i];
		int statement = r->kind == RELAY_LEAF_FETCHED || r->kind == RELAY_LEAF_ACKED;
		if ((r->kind != RELAY_LEAF_ACCEPTED && !statement) || r->receipt.len == 0 ||
		    r->receipt.len > DOSSIER_RECEIPT_MAX || (r->request.len != 0) != statement ||
		    r->request.len > DOSSIER_REQUEST_MAX) {
			return DX_EPARSE;
		}
	}
	for (size_t i = 0; i < d->n_proofs; i++) {
		const Dx__DossierProof *p = d->proofs[i];
		if (p->n_hashes > MERKLE_MAX_PROOF || (i > 0 && p->old_size <= d->proofs[i - 1]->old_size)) {
			return DX_EPARSE;
		}
		for (size_t j = 0; j < p->n_hashes; j++) {
			if (p->hashes[j].len != MERKLE_HASH_LEN) {
				return DX_EPARSE;
			}
		}
	}
	return DX_OK;
}

/* Steps 5 to 9: the envelope, both roster entries, the outer signature, the checkpoint. */
static int check_parties(struct vstate *v)
{
	const Dx__Dossier *d = v->d;
	struct dossier_report *rep = v->rep;
	int rc;
	if ((rc = envelope_parse(d->envelope.data, d->envelope.len, &v->env)) != DX_OK) {
		return fail(v, "envelope", rc);
	}
	rep->have_envelope = 1;
	memcpy(rep->envelope_id, v->env.id, ENVELOPE_ID_LEN);
	memcpy(rep->digest, v->env.digest, ENVELOPE_HASH_LEN);
	memcpy(rep->sender, v->env.sender, sizeof(rep->sender));
	memcpy(rep->recipient, v->env.recipient, sizeof(rep->recipient));
	rep->created_ms = v->env.created_ms;
	if ((rc = roster_entry_verify(d->sender_entry.data, d->sender_entry.len, &v->sender)) != DX_OK) {
		return fail(v, "sender's roster entry", rc);
	}
	if (strcmp(v->sender->state, v->env.sender) != 0 ||
	    memcmp(v->sender->identity_id, v->env.sender_identity_id, KEYS_ID_LEN) != 0) {
		return fail(v, "sender's roster entry", DX_ESENDER);
	}
	rc = roster_entry_verify(d->recipient_entry.data, d->recipient_entry.len, &v->recipient);
	if (rc != DX_OK) {
		return fail(v, "recipient's roster entry", rc);
	}
	if (strcmp(v->recipient->state, v->env.recipient) != 0 ||
	    memcmp(v->recipient->static_id, v->env.recipient_static_id, KEYS_ID_LEN) != 0) {
		return fail(v, "recipient's roster entry", DX_ERECIPIENT);
	}
	keys_fingerprint(rep->sender_fingerprint, v->sender->state, v->sender->identity_pk);
	keys_fingerprint(rep->recipient_fingerprint, v->recipient->state, v->recipient->identity_pk);
	rep->have_entries = 1;
	if ((rc = envelope_verify_outer(&v->env, v->sender->identity_pk)) != DX_OK) {
		return fail(v, "envelope signature", rc);
	}
	rc = checkpoint_parse_verify(d->checkpoint.data, d->checkpoint.len, v->relay.name,
				     v->relay.name, v->relay.pk, &v->latest);
	if (rc != DX_OK) {
		return fail(v, "checkpoint", rc);
	}
	rep->have_checkpoint = 1;
	rep->checkpoint_size = v->latest.size;
	memcpy(rep->checkpoint_root, v->latest.root, MERKLE_HASH_LEN);
	return DX_OK;
}

/* Step 10.3: the recipient's own signed request for this envelope. */
static int check_request(struct vstate *v, const Dx__DossierReceipt *dr, struct dossier_event *ev)
{
	struct relay_request req;
	int rc = relay_request_parse(dr->request.data, dr->request.len, &req);
	if (rc != DX_OK) {
		return rc;
	}
	const Dx__RequestBody *b = req.body;
	const ProtobufCBinaryData *digest = NULL;
	if (dr->kind == RELAY_LEAF_FETCHED && b->op_case == DX__REQUEST_BODY__OP_FETCH) {
		digest = &b->fetch->digest;
	} else if (dr->kind == RELAY_LEAF_ACKED && b->op_case == DX__REQUEST_BODY__OP_ACK) {
		digest = &b->ack->digest;
	}
	if (strcmp(b->node, v->env.recipient) != 0) {
		rc = DX_ERECIPIENT;
	} else if ((rc = relay_request_verify(&req, v->recipient->identity_pk)) != DX_OK) {
		rc = DX_EREQ_SIG;
	} else if (digest == NULL || digest->len != ENVELOPE_HASH_LEN ||
		   memcmp(digest->data, v->env.digest, ENVELOPE_HASH_LEN) != 0) {
		rc = DX_EPROOF;
	} else {
		ev->request_time_ms = b->time_ms;
	}
	relay_request_free(&req);
	return rc;
}

/* Step 10.5: the receipt's checkpoint against the dossier's. */
static int check_consistent(struct vstate *v, const struct checkpoint *cp)
{
	if (cp->size > v->latest.size) {
		return DX_EPROOF;
	}
	if (cp->size == v->latest.size) {
		return memcmp(cp->root, v->latest.root, MERKLE_HASH_LEN) == 0 ? DX_OK
									       : DX_ELOG_INCONSISTENT;
	}
	for (size_t i = 0; i < v->d->n_proofs; i++) {
		const Dx__DossierProof *p = v->d->proofs[i];
		if (p->old_size != cp->size) {
			continue;
		}
		uint8_t h[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
		for (size_t j = 0; j < p->n_hashes; j++) {
			memcpy(h[j], p->hashes[j].data, MERKLE_HASH_LEN);
		}
		v->proof_used[i] = 1;
		int rc = merkle_verify_consistency(cp->size, v->latest.size, cp->root, v->latest.root,
						   (const uint8_t(*)[MERKLE_HASH_LEN])h, p->n_hashes);
		return rc == DX_OK ? DX_OK : DX_EPROOF;
	}
	return DX_EPROOF;
}

/* Step 10: one receipt. */
static int check_receipt(struct vstate *v, size_t i, uint64_t *last_index)
{
	const Dx__DossierReceipt *dr = v->d->receipts[i];
	struct dossier_event ev;
	struct checkpoint cp;
	uint8_t leaf[RELAY_LEAF_MAX];
	ProtobufCMessage *m = NULL;
	size_t n;
	int rc = proto_unpack_strict(&dx__receipt__descriptor, dr->receipt.data, dr->receipt.len,
				     DOSSIER_RECEIPT_MAX, &m);
	if (rc != DX_OK) {
		return fail(v, "receipt encoding", rc);
	}
	const Dx__Receipt *r = (const Dx__Receipt *)m;
	memset(&ev, 0, sizeof(ev));
	ev.kind = (enum relay_leaf_kind)dr->kind;
	ev.leaf_index = r->leaf_index;
	ev.time_ms = r->time_ms;
	if (i > 0 && r->leaf_index <= *last_index) {
		rc = fail(v, "receipt order", DX_EPARSE);
		goto out;
	}
	*last_index = r->leaf_index;
	if (ev.kind == RELAY_LEAF_ACCEPTED) {
		if (r->salt.len != RELAY_SALT_LEN) {
			rc = fail(v, "receipt encoding", DX_EPARSE);
			goto out;
		}
		memcpy(ev.state, v->env.sender, sizeof(ev.state));
		n = relay_leaf_accepted(leaf, v->env.digest, v->env.sender, v->env.recipient,
					r->salt.data, r->time_ms);
	} else {
		if (r->salt.len != 0) {
			rc = fail(v, "receipt encoding", DX_EPARSE);
			goto out;
		}
		if ((rc = check_request(v, dr, &ev)) != DX_OK) {
			rc = fail(v, "recipient's signed request", rc);
			goto out;
		}
		memcpy(ev.state, v->env.recipient, sizeof(ev.state));
		n = relay_leaf_statement(leaf, ev.kind, v->env.digest, dr->request.data,
					 dr->request.len, r->time_ms);
	}
	if (relay_receipt_verify(r, leaf, n, &v->relay, &cp) != DX_OK) {
		rc = fail(v, "receipt inclusion", DX_EPROOF);
		goto out;
	}
	if ((rc = check_consistent(v, &cp)) != DX_OK) {
		rc = fail(v, "checkpoint consistency", rc);
		goto out;
	}
	ev.checkpoint_size = cp.size;
	v->rep->events[v->rep->n_events++] = ev;
	v->rep->fetched += ev.kind == RELAY_LEAF_FETCHED;
	v->rep->acknowledged += ev.kind == RELAY_LEAF_ACKED;
out:
	protobuf_c_message_free_unpacked(m, NULL);
	return rc;
}

int dossier_verify(const uint8_t *buf, size_t len, const struct relay_identity *relay,
		   struct dossier_report *report)
{
	struct vstate v;
	ProtobufCMessage *m = NULL;
	uint64_t last_index = 0;
	int rc;

	memset(report, 0, sizeof(*report));
	memset(&v, 0, sizeof(v));
	v.rep = report;
	if (len > DOSSIER_MAX) {
		return fail(&v, "size", DX_ETOOBIG);
	}
	if ((rc = proto_unpack_strict(&dx__dossier__descriptor, buf, len, DOSSIER_MAX, &m)) != DX_OK) {
		return fail(&v, "encoding", rc);
	}
	v.d = (const Dx__Dossier *)m;
	if ((rc = check_shape(v.d)) != DX_OK) {
		rc = fail(&v, "encoding", rc);
		goto out;
	}
	snprintf(v.relay.name, sizeof(v.relay.name), "%s", v.d->relay_name);
	memcpy(v.relay.pk, v.d->relay_key.data, KEYS_SIGN_PK_LEN);
	memcpy(report->relay_name, v.relay.name, sizeof(report->relay_name));
	memcpy(report->relay_pk, v.relay.pk, KEYS_SIGN_PK_LEN);
	if (relay != NULL && ((relay->name[0] != '\0' && strcmp(relay->name, v.relay.name) != 0) ||
			      sodium_memcmp(relay->pk, v.relay.pk, KEYS_SIGN_PK_LEN) != 0)) {
		rc = fail(&v, "relay key", DX_ESIG);
		goto out;
	}
	if ((rc = check_parties(&v)) != DX_OK) {
		goto out;
	}
	for (size_t i = 0; i < v.d->n_receipts; i++) {
		if ((rc = check_receipt(&v, i, &last_index)) != DX_OK) {
			goto out;
		}
	}
	for (size_t i = 0; i < v.d->n_proofs; i++) {
		if (!v.proof_used[i]) {
			rc = fail(&v, "unused consistency proof", DX_EPARSE);
			goto out;
		}
	}
out:
	roster_entry_free(v.sender);
	roster_entry_free(v.recipient);
	protobuf_c_message_free_unpacked(m, NULL);
	return rc;
}
