/*
 * relay_client_ops.c: the relay client's operations (see relay_client.h) and
 * the checks of their answers: every receipt is rebuilt from what the node
 * sent and verified under the pinned relay key before the user hears of
 * success. Loop thread only; the receipt checks themselves are pure.
 */
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "relay_client_impl.h"
#include "roster.h"

typedef void (*finish_fn)(struct op *op, int rc, const Dx__RelayResponse *r);

/* ---- receipts ---- */

/* Any failure to prove the leaf is one code: the answer is not evidence. */
static int as_proof_error(int rc)
{
	return rc == DX_OK ? DX_OK : DX_EPROOF;
}

/*
 * A receipt proves leaf. cp, when not NULL, is the receipt's checkpoint
 * already verified under the pinned key (known_checkpoint()); otherwise the
 * checkpoint's signature is checked here. The inclusion proof is checked
 * every time.
 */
static int proves(const struct relay_identity *id, const struct checkpoint *cp,
		  const Dx__Receipt *r, const uint8_t *leaf, size_t n)
{
	return as_proof_error(cp != NULL ? relay_receipt_verify_in(r, leaf, n, cp)
					 : relay_receipt_verify(r, leaf, n, id, NULL));
}

/*
 * The receipt's checkpoint, when the client holds it: it is nearly always
 * the one the answer carried, which on_reply() verified, so its signature
 * is not checked twice. NULL when the client does not hold it.
 */
static const struct checkpoint *known_checkpoint(const struct relay_client *c,
						 const Dx__Receipt *r, struct cp_slot *s)
{
	if (r == NULL ||
	    relay_client_parse_checkpoint(c, r->checkpoint.data, r->checkpoint.len, s) != DX_OK) {
		return NULL;
	}
	return &s->cp;
}

static int check_accepted(const struct relay_identity *id, const struct checkpoint *cp,
			  const uint8_t digest[static ENVELOPE_HASH_LEN], const char *sender,
			  const char *recipient, const Dx__Receipt *r)
{
	uint8_t leaf[RELAY_LEAF_MAX];
	if (r == NULL || r->salt.len != RELAY_SALT_LEN || !dx_state_valid(sender) ||
	    !dx_state_valid(recipient)) {
		return DX_EPROOF;
	}
	size_t n = relay_leaf_accepted(leaf, digest, sender, recipient, r->salt.data, r->time_ms);
	return proves(id, cp, r, leaf, n);
}

static int check_statement(const struct relay_identity *id, const struct checkpoint *cp,
			   enum relay_leaf_kind kind, const uint8_t digest[static ENVELOPE_HASH_LEN],
			   const uint8_t *request, size_t request_len, const Dx__Receipt *r)
{
	uint8_t leaf[RELAY_LEAF_MAX];
	if (r == NULL || (kind != RELAY_LEAF_FETCHED && kind != RELAY_LEAF_ACKED)) {
		return DX_EPROOF;
	}
	size_t n = relay_leaf_statement(leaf, kind, digest, request, request_len, r->time_ms);
	return proves(id, cp, r, leaf, n);
}

int relay_client_verify_accepted(const struct relay_identity *id,
				 const uint8_t digest[static ENVELOPE_HASH_LEN], const char *sender,
				 const char *recipient, const Dx__Receipt *r)
{
	return check_accepted(id, NULL, digest, sender, recipient, r);
}

int relay_client_verify_statement(const struct relay_identity *id, enum relay_leaf_kind kind,
				  const uint8_t digest[static ENVELOPE_HASH_LEN],
				  const uint8_t *request, size_t request_len, const Dx__Receipt *r)
{
	return check_statement(id, NULL, kind, digest, request, request_len, r);
}

/*
 * The roster leaf records the node's status, which the node does not learn
 * from the answer; it can only be one of the two that may publish.
 */
static int verify_roster_leaf(const struct relay_client *c, const char *state,
			      const uint8_t *entry, size_t len, const Dx__Receipt *r)
{
	static const uint32_t statuses[] = { RELAY_STATUS_PARTY, RELAY_STATUS_SIGNATORY };
	uint8_t leaf[RELAY_LEAF_MAX];
	struct cp_slot s;
	if (r == NULL) {
		return DX_EPROOF;
	}
	const struct checkpoint *cp = known_checkpoint(c, r, &s);
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		size_t n = relay_leaf_roster(leaf, state, statuses[i], entry, len, r->time_ms);
		if (proves(&c->relay, cp, r, leaf, n) == DX_OK) {
			return DX_OK;
		}
	}
	return DX_EPROOF;
}

/* Serializes a verified receipt for the node to keep; *buf is the caller's to free. */
static int receipt_info(const Dx__Receipt *r, int with_salt, struct relay_receipt_info *out,
			uint8_t **buf)
{
	size_t len;
	int rc = proto_pack_alloc(&r->base, buf, &len);
	if (rc != DX_OK) {
		return rc;
	}
	memset(out, 0, sizeof(*out));
	out->receipt = *buf;
	out->receipt_len = len;
	out->leaf_index = r->leaf_index;
	out->time_ms = r->time_ms;
	out->salt = with_salt ? r->salt.data : NULL;
	return DX_OK;
}

/* ---- finishers: verify, then call the user exactly once ---- */

static void finish_submit(struct op *op, int rc, const Dx__RelayResponse *r)
{
	struct relay_receipt_info info;
	struct cp_slot s;
	uint8_t *buf = NULL;
	if (rc == DX_OK) {
		rc = check_accepted(&op->c->relay, known_checkpoint(op->c, r->receipt, &s),
				    op->digest, op->sender, op->recipient, r->receipt);
	}
	if (rc == DX_OK) {
		rc = receipt_info(r->receipt, 1, &info, &buf);
	}
	op->cb.receipt(op->arg, rc, rc == DX_OK ? &info : NULL);
	free(buf);
}

static void finish_list(struct op *op, int rc, const Dx__RelayResponse *r)
{
	struct relay_mail *mail = NULL;
	size_t n = 0;
	if (rc == DX_OK && r->n_mail > RELAY_CLIENT_LIST_MAX) {
		rc = DX_EPARSE;
	}
	if (rc == DX_OK && r->n_mail > 0) {
		n = r->n_mail;
		mail = calloc(n, sizeof(*mail));
		rc = mail == NULL ? DX_ENOMEM : DX_OK;
	}
	for (size_t i = 0; rc == DX_OK && i < n; i++) {
		const Dx__MailItem *m = r->mail[i];
		if (m->digest.len != ENVELOPE_HASH_LEN || !dx_state_valid(m->sender)) {
			rc = DX_EPARSE;
			break;
		}
		memcpy(mail[i].digest, m->digest.data, ENVELOPE_HASH_LEN);
		memcpy(mail[i].sender, m->sender, DX_STATE_LEN + 1);
		mail[i].size = m->size;
		mail[i].received_ms = m->received_ms;
	}
	op->cb.list(op->arg, rc, rc == DX_OK ? mail : NULL, rc == DX_OK ? n : 0);
	free(mail);
}

/* The receipt proves the leaf over this operation's own signed request. */
static int statement_proves(const struct op *op, enum relay_leaf_kind kind, const Dx__Receipt *r)
{
	struct cp_slot s;
	return check_statement(&op->c->relay, known_checkpoint(op->c, r, &s), kind, op->digest,
			       op->request, op->request_len, r);
}

/* The fetched bytes must be the envelope asked for, addressed to this node. */
static int check_fetched(const struct op *op, const Dx__RelayResponse *r)
{
	struct envelope_info e;
	if (r->envelope.len == 0 || r->envelope.len > ENVELOPE_MAX) {
		return DX_EPROOF;
	}
	if (envelope_parse(r->envelope.data, r->envelope.len, &e) != DX_OK ||
	    memcmp(e.digest, op->digest, ENVELOPE_HASH_LEN) != 0 ||
	    strcmp(e.recipient, keys_state(op->c->keys)) != 0) {
		return DX_EPROOF;
	}
	if (r->receipt == NULL || r->receipt->salt.len != RELAY_SALT_LEN) {
		return DX_EPROOF;
	}
	return statement_proves(op, RELAY_LEAF_FETCHED, r->receipt);
}

static void finish_fetch(struct op *op, int rc, const Dx__RelayResponse *r)
{
	struct relay_receipt_info info;
	uint8_t *buf = NULL;
	if (rc == DX_OK) {
		rc = check_fetched(op, r);
	}
	if (rc == DX_OK) {
		rc = receipt_info(r->receipt, 1, &info, &buf);
	}
	if (rc == DX_OK) {
		op->cb.fetch(op->arg, rc, r->envelope.data, r->envelope.len, &info);
	} else {
		op->cb.fetch(op->arg, rc, NULL, 0, NULL);
	}
	free(buf);
}

static void finish_ack(struct op *op, int rc, const Dx__RelayResponse *r)
{
	struct relay_receipt_info info;
	uint8_t *buf = NULL;
	if (rc == DX_OK) {
		rc = statement_proves(op, RELAY_LEAF_ACKED, r->receipt);
	}
	if (rc == DX_OK) {
		rc = receipt_info(r->receipt, 0, &info, &buf);
	}
	op->cb.receipt(op->arg, rc, rc == DX_OK ? &info : NULL);
	free(buf);
}

static void finish_publish(struct op *op, int rc, const Dx__RelayResponse *r)
{
	struct relay_receipt_info info;
	uint8_t *buf = NULL;
	if (rc == DX_OK) {
		rc = verify_roster_leaf(op->c, keys_state(op->c->keys), op->entry,
					op->entry_len, r->receipt);
	}
	if (rc == DX_OK) {
		rc = receipt_info(r->receipt, 0, &info, &buf);
	}
	op->cb.receipt(op->arg, rc, rc == DX_OK ? &info : NULL);
	free(buf);
}

static void finish_roster(struct op *op, int rc, const Dx__RelayResponse *r)
{
	struct relay_roster_item *items = NULL;
	size_t n = 0;
	if (rc == DX_OK && r->n_roster > 0) {
		/* Bounded by the decoded answer, itself within RELAY_RESPONSE_MAX. */
		n = r->n_roster;
		items = calloc(n, sizeof(*items));
		rc = items == NULL ? DX_ENOMEM : DX_OK;
	}
	for (size_t i = 0; rc == DX_OK && i < n; i++) {
		items[i].signed_entry = r->roster[i]->signed_entry.data;
		items[i].entry_len = r->roster[i]->signed_entry.len;
		items[i].status = r->roster[i]->status;
		items[i].log_index = r->roster[i]->log_index;
	}
	op->cb.roster(op->arg, rc, rc == DX_OK ? items : NULL, rc == DX_OK ? n : 0,
		      rc == DX_OK && r->roster_more);
	free(items);
}

static void finish_upload(struct op *op, int rc, const Dx__RelayResponse *r)
{
	op->cb.upload(op->arg, rc, rc == DX_OK ? r->total_size : 0);
}

static void finish_download(struct op *op, int rc, const Dx__RelayResponse *r)
{
	if (rc == DX_OK && (r->data.len > op->max || r->data.len > RELAY_DATA_MAX)) {
		rc = DX_EPARSE;
	}
	if (rc == DX_OK) {
		op->cb.download(op->arg, rc, r->data.data, r->data.len, r->total_size);
	} else {
		op->cb.download(op->arg, rc, NULL, 0, 0);
	}
}

static void finish_sync(struct op *op, int rc, const Dx__RelayResponse *r)
{
	(void)r;
	op->cb.done(op->arg, rc);
}

/* The client's own proof request: no user callback. */
static const finish_fn FINISH[N_OP_KINDS] = {
	[OP_SUBMIT] = finish_submit, [OP_LIST] = finish_list,	      [OP_FETCH] = finish_fetch,
	[OP_ACK] = finish_ack,	     [OP_ROSTER] = finish_roster,     [OP_PUBLISH] = finish_publish,
	[OP_UPLOAD] = finish_upload, [OP_DOWNLOAD] = finish_download, [OP_SYNC] = finish_sync,
	[OP_STATEMENTS] = relay_client_finish_statements, [OP_PROOF] = relay_client_finish_proof,
};

void relay_client_op_finish(struct op *op, int rc, const Dx__RelayResponse *r)
{
	FINISH[op->kind](op, rc, r);
}

/* ---- operations ---- */

int relay_client_submit(struct relay_client *c, const uint8_t *envelope, size_t len,
			relay_client_receipt_fn cb, void *arg)
{
	Dx__RequestBody body = DX__REQUEST_BODY__INIT;
	Dx__SubmitOp sub = DX__SUBMIT_OP__INIT;
	struct envelope_info e;
	int rc = envelope_parse(envelope, len, &e);
	if (rc != DX_OK) {
		return rc;
	}
	struct op *op = relay_client_op_start(c, OP_SUBMIT, cb != NULL, arg, &rc);
	if (op == NULL) {
		return rc;
	}
	op->cb.receipt = cb;
	memcpy(op->digest, e.digest, ENVELOPE_HASH_LEN);
	memcpy(op->sender, e.sender, sizeof(op->sender));
	memcpy(op->recipient, e.recipient, sizeof(op->recipient));
	sub.envelope = (ProtobufCBinaryData){ len, (uint8_t *)envelope };
	body.op_case = DX__REQUEST_BODY__OP_SUBMIT;
	body.submit = &sub;
	return relay_client_op_queue(c, op, &body);
}

int relay_client_list(struct relay_client *c, uint32_t wait_ms, uint32_t max,
		      relay_client_list_fn cb, void *arg)
{
	Dx__RequestBody body = DX__REQUEST_BODY__INIT;
	Dx__ListOp list = DX__LIST_OP__INIT;
	int rc;
	/* A wait past the timeout would always end in DX_ETIMEDOUT. */
	if (max > RELAY_CLIENT_LIST_MAX || (c->timeout_ms != 0 && wait_ms >= c->timeout_ms)) {
		return DX_EINVAL;
	}
	struct op *op = relay_client_op_start(c, OP_LIST, cb != NULL, arg, &rc);
	if (op == NULL) {
		return rc;
	}
	op->cb.list = cb;
	list.wait_ms = wait_ms;
	list.max = max;
	body.op_case = DX__REQUEST_BODY__OP_LIST;
	body.list = &list;
	return relay_client_op_queue(c, op, &body);
}

int relay_client_fetch(struct relay_client *c, const uint8_t digest[static ENVELOPE_HASH_LEN],
		       relay_client_fetch_fn cb, void *arg)
{
	Dx__RequestBody body = DX__REQUEST_BODY__INIT;
	Dx__FetchOp fetch = DX__FETCH_OP__INIT;
	int rc;
	struct op *op = relay_client_op_start(c, OP_FETCH, cb != NULL, arg, &rc);
	if (op == NULL) {
		return rc;
	}
	op->cb.fetch = cb;
	memcpy(op->digest, digest, ENVELOPE_HASH_LEN);
	fetch.digest = (ProtobufCBinaryData){ ENVELOPE_HASH_LEN, op->digest };
	body.op_case = DX__REQUEST_BODY__OP_FETCH;
	body.fetch = &fetch;
	return relay_client_op_queue(c, op, &body);
}

int relay_client_ack(struct relay_client *c, const uint8_t digest[static ENVELOPE_HASH_LEN],
		     relay_client_receipt_fn cb, void *arg)
{
	Dx__RequestBody body = DX__REQUEST_BODY__INIT;
	Dx__AckOp ack = DX__ACK_OP__INIT;
	int rc;
	struct op *op = relay_client_op_start(c, OP_ACK, cb != NULL, arg, &rc);
	if (op == NULL) {
		return rc;
	}
	op->cb.receipt = cb;
	memcpy(op->digest, digest, ENVELOPE_HASH_LEN);
	ack.digest = (ProtobufCBinaryData){ ENVELOPE_HASH_LEN, op->digest };
	body.op_case = DX__REQUEST_BODY__OP_ACK;
	body.ack = &ack;
	return relay_client_op_queue(c, op, &body);
}

int relay_client_roster(struct relay_client *c, uint64_t since_index, uint32_t max,
			relay_client_roster_fn cb, void *arg)
{
	Dx__RequestBody body = DX__REQUEST_BODY__INIT;
	Dx__RosterOp ro = DX__ROSTER_OP__INIT;
	int rc;
	struct op *op = relay_client_op_start(c, OP_ROSTER, cb != NULL, arg, &rc);
	if (op == NULL) {
		return rc;
	}
	op->cb.roster = cb;
	ro.since_index = since_index;
	ro.max = max;
	body.op_case = DX__REQUEST_BODY__OP_ROSTER;
	body.roster = &ro;
	return relay_client_op_queue(c, op, &body);
}

int relay_client_publish(struct relay_client *c, const uint8_t *entry, size_t len,
			 relay_client_receipt_fn cb, void *arg)
{
	Dx__RequestBody body = DX__REQUEST_BODY__INIT;
	Dx__PublishOp pub = DX__PUBLISH_OP__INIT;
	int rc;
	if (len == 0 || len > ROSTER_ENTRY_MAX) {
		return DX_EINVAL;
	}
	struct op *op = relay_client_op_start(c, OP_PUBLISH, cb != NULL, arg, &rc);
	if (op == NULL) {
		return rc;
	}
	op->cb.receipt = cb;
	if ((op->entry = malloc(len)) == NULL) {
		relay_client_op_free(op);
		return DX_ENOMEM;
	}
	memcpy(op->entry, entry, len);
	op->entry_len = len;
	pub.signed_entry = (ProtobufCBinaryData){ len, op->entry };
	body.op_case = DX__REQUEST_BODY__OP_PUBLISH;
	body.publish = &pub;
	return relay_client_op_queue(c, op, &body);
}

int relay_client_upload(struct relay_client *c, const uint8_t id[static RELAY_ATTACHMENT_ID_LEN],
			uint64_t offset, const uint8_t *data, size_t len, uint64_t total_size,
			relay_client_upload_fn cb, void *arg)
{
	Dx__RequestBody body = DX__REQUEST_BODY__INIT;
	Dx__UploadOp up = DX__UPLOAD_OP__INIT;
	int rc;
	if (len > RELAY_DATA_MAX) {
		return DX_ETOOBIG;
	}
	struct op *op = relay_client_op_start(c, OP_UPLOAD, cb != NULL, arg, &rc);
	if (op == NULL) {
		return rc;
	}
	op->cb.upload = cb;
	up.attachment_id = (ProtobufCBinaryData){ RELAY_ATTACHMENT_ID_LEN, (uint8_t *)id };
	up.offset = offset;
	up.data = (ProtobufCBinaryData){ len, (uint8_t *)data };
	up.total_size = total_size;
	body.op_case = DX__REQUEST_BODY__OP_UPLOAD;
	body.upload = &up;
	return relay_client_op_queue(c, op, &body);
}

int relay_client_download(struct relay_client *c, const uint8_t id[static RELAY_ATTACHMENT_ID_LEN],
			  const uint8_t envelope_digest[static ENVELOPE_HASH_LEN], uint64_t offset,
			  uint32_t max, relay_client_download_fn cb, void *arg)
{
	Dx__RequestBody body = DX__REQUEST_BODY__INIT;
	Dx__DownloadOp down = DX__DOWNLOAD_OP__INIT;
	int rc;
	if (max == 0 || max > RELAY_DATA_MAX) {
		return DX_EINVAL;
	}
	struct op *op = relay_client_op_start(c, OP_DOWNLOAD, cb != NULL, arg, &rc);
	if (op == NULL) {
		return rc;
	}
	op->cb.download = cb;
	op->max = max;
	down.attachment_id = (ProtobufCBinaryData){ RELAY_ATTACHMENT_ID_LEN, (uint8_t *)id };
	down.envelope_digest =
		(ProtobufCBinaryData){ ENVELOPE_HASH_LEN, (uint8_t *)envelope_digest };
	down.offset = offset;
	down.max = max;
	body.op_case = DX__REQUEST_BODY__OP_DOWNLOAD;
	body.download = &down;
	return relay_client_op_queue(c, op, &body);
}

int relay_client_sync(struct relay_client *c, relay_client_done_fn cb, void *arg)
{
	Dx__RequestBody body = DX__REQUEST_BODY__INIT;
	Dx__CheckpointOp cp = DX__CHECKPOINT_OP__INIT;
	int rc;
	struct op *op = relay_client_op_start(c, OP_SYNC, cb != NULL, arg, &rc);
	if (op == NULL) {
		return rc;
	}
	op->cb.done = cb;
	body.op_case = DX__REQUEST_BODY__OP_GET_CHECKPOINT;
	body.get_checkpoint = &cp;
	return relay_client_op_queue(c, op, &body);
}
