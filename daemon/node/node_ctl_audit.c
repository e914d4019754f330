/*
 * node_ctl_audit.c: the `dossier` control operation (docs/control.md): the
 * audit dossier (PROTOCOL.md 14, daemon/core/dossier.h) of a message this
 * State sent, for the unauthorized-disclosure procedure (rule 15).
 *
 * The node holds the sealed envelope and the relay's accepted receipt with
 * its salt; the recipient's signed fetch and acknowledgement requests are at
 * the relay, which gives them to the envelope's parties (`statements`, each
 * verified by the relay client), with the checkpoint they are proved in.
 * The accepted receipt's older checkpoint is then proved consistent with
 * that one, the two roster entries come from the node's mirror, and
 * dossier_build() assembles and verifies the whole before it is answered.
 *
 * A received message has no dossier here: the inbox keeps the opened body,
 * not the sealed envelope, and a dossier must carry the envelope as signed.
 * Its sender's node builds it. Loop thread only; the operation answers
 * later (CTL_LATER), from the relay client's callbacks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "dossier.h"
#include "node_control.h"

struct dossier_job {
	struct ctl_call *c;
	uint8_t *env, *acc, *sender_entry, *recipient_entry;
	size_t env_len, acc_len, sender_len, recipient_len;
	struct envelope_info e;
	uint64_t acc_size;
	/* The relay's answer, copied out of its callback. */
	struct relay_statement st[RELAY_STATEMENTS_MAX];
	uint8_t *st_buf;
	size_t n_st;
	char cp[CHECKPOINT_MAX];
	size_t cp_len;
	uint64_t cp_size;
};

static void job_free(struct dossier_job *j)
{
	free(j->env);
	free(j->acc);
	free(j->sender_entry);
	free(j->recipient_entry);
	free(j->st_buf);
	free(j);
}

static void job_end(struct dossier_job *j, int rc)
{
	struct ctl_call *c = j->c;
	job_free(j);
	ctl_finish(c, rc);
}

static int answer(struct dossier_job *j, const uint8_t *dossier, size_t len)
{
	struct ctl_call *c = j->c;
	Dx__DossierResult *res = ctl_alloc(c, sizeof(*res));
	if (res == NULL) {
		return DX_ENOMEM;
	}
	dx__dossier_result__init(res);
	res->dossier = ctl_bin(c, dossier, len);
	res->envelope_id = ctl_bin(c, j->e.id, ENVELOPE_ID_LEN);
	res->sender = ctl_strdup(c, j->e.sender);
	res->recipient = ctl_strdup(c, j->e.recipient);
	if (res->dossier.len != len || res->sender == NULL || res->recipient == NULL) {
		return DX_ENOMEM;
	}
	for (size_t i = 0; i < j->n_st; i++) {
		res->fetched += j->st[i].kind == RELAY_LEAF_FETCHED;
		res->acknowledged += j->st[i].kind == RELAY_LEAF_ACKED;
	}
	res->checkpoint_size = j->cp_size;
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_DOSSIER;
	c->out.dossier = res;
	return DX_OK;
}

static void build(struct dossier_job *j, const uint8_t (*proof)[MERKLE_HASH_LEN], size_t n_proof)
{
	struct dossier_receipt_in rin[RELAY_STATEMENTS_MAX + 1];
	struct dossier_proof_in p = { j->acc_size, proof, n_proof };
	uint8_t *out = NULL;
	size_t len = 0;
	rin[0] = (struct dossier_receipt_in){ RELAY_LEAF_ACCEPTED, j->acc, j->acc_len, NULL, 0 };
	for (size_t i = 0; i < j->n_st; i++) {
		rin[i + 1] = (struct dossier_receipt_in){ j->st[i].kind, j->st[i].receipt,
							  j->st[i].receipt_len, j->st[i].request,
							  j->st[i].request_len };
	}
	struct dossier_parts parts = {
		.relay = &j->c->n->relay,
		.envelope = j->env,
		.envelope_len = j->env_len,
		.sender_entry = j->sender_entry,
		.sender_entry_len = j->sender_len,
		.recipient_entry = j->recipient_entry,
		.recipient_entry_len = j->recipient_len,
		.receipts = rin,
		.n_receipts = j->n_st + 1,
		.checkpoint = (const uint8_t *)j->cp,
		.checkpoint_len = j->cp_len,
		.proofs = &p,
		.n_proofs = proof != NULL ? 1 : 0,
	};
	int rc = dossier_build(&parts, &out, &len);
	if (rc != DX_OK) {
		node_log(j->c->n, NODE_LOG_WARN, "the dossier of %s to %s does not verify: %s",
			 j->e.sender, j->e.recipient, dx_errname(rc));
		rc = ctl_fail(j->c, rc,
			      "the dossier does not verify (%s): the relay's answers "
			      "contradict the node's receipt; see 'divex audit check'",
			      dx_strerror(rc));
	} else {
		rc = answer(j, out, len);
	}
	free(out);
	job_end(j, rc);
}

static void on_proof(void *arg, int rc, const uint8_t (*proof)[MERKLE_HASH_LEN], size_t n)
{
	struct dossier_job *j = arg;
	node_relay_result(j->c->n, rc);
	if (rc != DX_OK) {
		job_end(j,
			ctl_fail(j->c, rc, "the relay gave no consistency proof from size %llu: %s",
				 (unsigned long long)j->acc_size, dx_strerror(rc)));
		return;
	}
	build(j, proof, n);
}

static void on_statements(void *arg, int rc, const struct relay_statement *s, size_t n,
			  const char *cp, size_t cp_len, uint64_t cp_size)
{
	struct dossier_job *j = arg;
	size_t total = 0;
	node_relay_result(j->c->n, rc);
	if (rc != DX_OK) {
		job_end(j,
			ctl_fail(j->c, rc, "the relay did not give the recipient's statements: %s",
				 dx_strerror(rc)));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		total += s[i].request_len + s[i].receipt_len;
	}
	if (n > RELAY_STATEMENTS_MAX || cp_len > sizeof(j->cp) ||
	    (j->st_buf = malloc(total + 1)) == NULL) {
		job_end(j, DX_ENOMEM);
		return;
	}
	uint8_t *p = j->st_buf;
	for (size_t i = 0; i < n; i++) {
		j->st[i] = s[i];
		memcpy(p, s[i].request, s[i].request_len);
		j->st[i].request = p;
		p += s[i].request_len;
		memcpy(p, s[i].receipt, s[i].receipt_len);
		j->st[i].receipt = p;
		p += s[i].receipt_len;
	}
	j->n_st = n;
	memcpy(j->cp, cp, cp_len);
	j->cp_len = cp_len;
	j->cp_size = cp_size;
	if (j->acc_size >= cp_size) {
		/* Same tree (or a smaller one, which dossier_build refuses as evidence). */
		build(j, NULL, 0);
		return;
	}
	rc = relay_client_consistency(j->c->n->rc, j->acc_size, cp_size, on_proof, j);
	if (rc != DX_OK) {
		job_end(j, rc);
	}
}

/* The accepted receipt's checkpoint size. */
static int receipt_size(struct node *n, const uint8_t *buf, size_t len, uint64_t *size)
{
	ProtobufCMessage *m = NULL;
	struct checkpoint cp;
	int rc =
		proto_unpack_strict(&dx__receipt__descriptor, buf, len, NODE_STORE_RECEIPT_MAX, &m);
	if (rc != DX_OK) {
		return rc;
	}
	const Dx__Receipt *r = (const Dx__Receipt *)m;
	rc = checkpoint_parse_verify(r->checkpoint.data, r->checkpoint.len, n->relay.name,
				     n->relay.name, n->relay.pk, &cp);
	if (rc == DX_OK) {
		*size = cp.size;
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return rc;
}

/* Reads what the node keeps of a sent message into j. */
static int load(struct ctl_call *c, const struct ctl_msg *msg, struct dossier_job *j)
{
	struct node_store_outbox_info info;
	struct node_store *st = c->n->store;
	int rc = node_store_outbox_get(st, msg->msg_id, &info);
	if (rc != DX_OK) {
		return rc;
	}
	if (info.state != NODE_STORE_OUT_RECEIPTED) {
		return ctl_fail(c, DX_EINVAL,
				"the message is %s, not delivered to the relay yet: "
				"a dossier needs the relay's receipt (see 'divex "
				"outbox')",
				node_store_out_state_name(info.state));
	}
	if ((rc = node_store_outbox_envelope(st, msg->msg_id, &j->env, &j->env_len)) != DX_OK ||
	    (rc = node_store_outbox_receipt(st, msg->msg_id, &j->acc, &j->acc_len)) != DX_OK ||
	    (rc = envelope_parse(j->env, j->env_len, &j->e)) != DX_OK ||
	    (rc = receipt_size(c->n, j->acc, j->acc_len, &j->acc_size)) != DX_OK) {
		return rc;
	}
	struct node_store_roster_info ri;
	rc = node_store_roster_get(st, j->e.sender, &ri, &j->sender_entry, &j->sender_len);
	if (rc == DX_OK) {
		rc = node_store_roster_get(st, j->e.recipient, &ri, &j->recipient_entry,
					   &j->recipient_len);
	}
	if (rc == DX_ENOENT) {
		return ctl_fail(c, rc,
				"the roster entries of %s and %s are not both mirrored yet: "
				"see 'divex roster'",
				j->e.sender, j->e.recipient);
	}
	return rc;
}

int ctl_dossier(struct ctl_call *c)
{
	struct ctl_msg msg;
	int rc = ctl_resolve(c, c->in->dossier->id, &msg);
	if (rc != DX_OK) {
		return rc;
	}
	if (msg.received) {
		return ctl_fail(
			c, DX_EINVAL,
			"%s is a message this State received: a dossier carries the sealed "
			"envelope, which only its sender's node keeps; ask the sender for it",
			c->in->dossier->id);
	}
	struct dossier_job *j = calloc(1, sizeof(*j));
	if (j == NULL) {
		return DX_ENOMEM;
	}
	j->c = c;
	if ((rc = load(c, &msg, j)) == DX_OK) {
		rc = relay_client_statements(c->n->rc, j->e.digest, on_statements, j);
	}
	if (rc != DX_OK) {
		job_free(j);
		return rc;
	}
	return CTL_LATER;
}
