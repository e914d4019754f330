/*
 * relay_batch.c: group commit.
 *
 * Writes that arrive while the loop is busy are applied together in one
 * transaction, each inside its own savepoint so that one refused operation
 * leaves no trace. One COMMIT (one fsync of the WAL) makes the whole batch
 * durable; only then is one checkpoint signed for the new tree, and every
 * operation in the batch is answered with that checkpoint and its own
 * inclusion proof. Nothing is promised before it is durable.
 */
#include <stdlib.h>
#include <string.h>

#include "relay.h"

static void flush_cb(uv_timer_t *t)
{
	struct relay *r = t->data;
	r->flush_scheduled = 0;
	relay_batch_flush_now(r);
}

void relay_batch_append(struct relay *r, struct relay_op *op)
{
	op->next_batch = NULL;
	*r->batch_tail = op;
	r->batch_tail = &op->next_batch;
	r->batch_len++;
}

void relay_batch_add(struct relay *r, struct relay_op *op)
{
	relay_batch_append(r, op);
	if (r->batch_len >= r->cfg.limits.group_commit_max) {
		relay_batch_flush_now(r);
		return;
	}
	/* Requests still being checked join this batch when they come back
	 * (relay_ops.c schedules the flush once none is left). */
	if (r->checking == 0) {
		relay_batch_schedule(r);
	}
}

void relay_batch_schedule(struct relay *r)
{
	/* A zero timeout runs after this loop iteration's I/O: every request
	 * that has already arrived joins the batch. */
	if (r->batch_head != NULL && !r->flush_scheduled) {
		r->flush_scheduled = 1;
		uv_timer_start(&r->flush_timer, flush_cb, 0, 0);
	}
}

/*
 * Mailbox counts (relay.h): an operation that changes a mailbox records the
 * change; a new envelope counts as pending until the batch commits, so that
 * envelopes of one batch cannot together exceed the quota. A change is
 * undone when its savepoint is, and applied when the commit succeeds.
 */
static void mailbox_pending(struct relay *r, struct relay_op *op, const char *state, int change,
			    uint64_t bytes)
{
	struct relay_member *m = &r->members[relay_state_slot(state)];
	memcpy(op->mbox_state, state, sizeof(op->mbox_state));
	op->mbox_change = change;
	op->mbox_bytes = bytes;
	if (change > 0) {
		m->mbox_pending_n++;
		m->mbox_pending_bytes += bytes;
	}
}

/* Ends an operation's pending change: counted if committed, else dropped. */
static void mailbox_settle(struct relay *r, struct relay_op *op, int committed)
{
	if (op->mbox_change == 0) {
		return;
	}
	struct relay_member *m = &r->members[relay_state_slot(op->mbox_state)];
	if (op->mbox_change > 0) {
		m->mbox_pending_n--;
		m->mbox_pending_bytes -= op->mbox_bytes;
		if (committed) {
			m->mbox_n++;
			m->mbox_bytes += op->mbox_bytes;
			if (m->mbox_n == 1) {
				m->mbox_oldest_ms = op->time_ms;
				m->mbox_oldest_stale = 0;
			} else if (op->time_ms < m->mbox_oldest_ms) {
				m->mbox_oldest_ms = op->time_ms; /* the clock went back */
			}
		}
	} else if (committed) {
		m->mbox_n = m->mbox_n > 0 ? m->mbox_n - 1 : 0;
		m->mbox_bytes = m->mbox_bytes > op->mbox_bytes ? m->mbox_bytes - op->mbox_bytes : 0;
		m->mbox_oldest_stale = 1;
	}
	op->mbox_change = 0;
}

/* SUBMIT: store the envelope in the recipient's mailbox and log it. */
static int apply_submit(struct relay *r, struct relay_op *op)
{
	const ProtobufCBinaryData *env = &op->req.body->submit->envelope;
	const struct envelope_info *ep = &op->env;
	sqlite3_stmt *st;
	uint8_t leaf[RELAY_LEAF_MAX];
	int rc;
	/* A resend of the same envelope gets the same receipt. */
	if ((rc = db_stmt(r->db,
			  "SELECT digest, salt, accepted_index, received_ms FROM envelopes"
			  " WHERE envelope_id = ?",
			  &st)) != DX_OK) {
		return rc;
	}
	sqlite3_bind_blob(st, 1, ep->id, ENVELOPE_ID_LEN, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		int same = memcmp(sqlite3_column_blob(st, 0), ep->digest, ENVELOPE_HASH_LEN) == 0;
		if (same) {
			memcpy(op->salt, sqlite3_column_blob(st, 1), RELAY_SALT_LEN);
			op->leaf_index = (uint64_t)sqlite3_column_int64(st, 2);
			op->time_ms = (uint64_t)sqlite3_column_int64(st, 3);
			op->has_leaf = 1;
		}
		sqlite3_reset(st);
		return same ? DX_OK : DX_EREPLAY;
	}
	sqlite3_reset(st);
	/* The check before the batch did not count the batch's own envelopes. */
	struct relay_member *to = relay_member(r, ep->recipient);
	if (to == NULL) {
		return DX_ENOT_MEMBER;
	}
	if (!relay_mailbox_has_room(r, to, env->len)) {
		return DX_EQUOTA;
	}
	randombytes_buf(op->salt, RELAY_SALT_LEN);
	op->time_ms = dx_now_ms();
	size_t n = relay_leaf_accepted(leaf, ep->digest, ep->sender, ep->recipient, op->salt, op->time_ms);
	if ((rc = relay_log_append(r, RELAY_LEAF_ACCEPTED, leaf, n, &op->leaf_index)) != DX_OK) {
		return rc;
	}
	if ((rc = db_stmt(r->db,
			  "INSERT INTO envelopes (digest, envelope_id, sender, recipient, body, size,"
			  " received_ms, salt, accepted_index) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			  &st)) != DX_OK) {
		return rc;
	}
	sqlite3_bind_blob(st, 1, ep->digest, ENVELOPE_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, ep->id, ENVELOPE_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, ep->sender, DX_STATE_LEN, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, ep->recipient, DX_STATE_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 5, env->data, (int)env->len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)env->len);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)op->time_ms);
	sqlite3_bind_blob(st, 8, op->salt, RELAY_SALT_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)op->leaf_index);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		return db_from_sqlite(rc);
	}
	for (size_t i = 0; i < ep->n_attachments; i++) {
		if ((rc = db_stmt(r->db,
				  "INSERT OR IGNORE INTO envelope_attachments (digest, attachment_id)"
				  " VALUES (?, ?)",
				  &st)) != DX_OK) {
			return rc;
		}
		sqlite3_bind_blob(st, 1, ep->digest, ENVELOPE_HASH_LEN, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, ep->attachment_ids[i], 16, SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			return db_from_sqlite(rc);
		}
	}
	op->has_leaf = 1;
	mailbox_pending(r, op, ep->recipient, 1, env->len);
	return DX_OK;
}

/*
 * FETCH and ACK: log the recipient's own signed request, then (fetch) release
 * the bytes or (ack) drop the body from the mailbox. The signed request is
 * kept for the audit dossier. A resend of the same request maps to the same
 * leaf.
 */
static int apply_statement(struct relay *r, struct relay_op *op)
{
	int fetch = op->op == DX__REQUEST_BODY__OP_FETCH;
	const ProtobufCBinaryData *d = fetch ? &op->req.body->fetch->digest
					     : &op->req.body->ack->digest;
	uint8_t leaf[RELAY_LEAF_MAX], rh[32];
	sqlite3_stmt *st;
	int rc;

	crypto_generichash(rh, sizeof(rh), op->raw, op->raw_len, NULL, 0);
	/* A resend of the same signed request maps to the same leaf, with the
	 * time that leaf records; any other signed request gets its own leaf, so
	 * that every receipt can be checked against the request it answers. */
	if ((rc = db_stmt(r->db, "SELECT leaf_index, time_ms FROM statements WHERE request_hash = ?",
			  &st)) != DX_OK) {
		return rc;
	}
	sqlite3_bind_blob(st, 1, rh, sizeof(rh), SQLITE_STATIC);
	int seen = sqlite3_step(st) == SQLITE_ROW;
	if (seen) {
		op->leaf_index = (uint64_t)sqlite3_column_int64(st, 0);
		op->time_ms = (uint64_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (!seen) {
		op->time_ms = dx_now_ms();
		size_t n = relay_leaf_statement(leaf, fetch ? RELAY_LEAF_FETCHED : RELAY_LEAF_ACKED,
						d->data, op->raw, op->raw_len, op->time_ms);
		if ((rc = relay_log_append(r, fetch ? RELAY_LEAF_FETCHED : RELAY_LEAF_ACKED, leaf, n,
					   &op->leaf_index)) != DX_OK ||
		    (rc = db_stmt(r->db,
				  "INSERT INTO statements (leaf_index, kind, digest, request_hash,"
				  " request, time_ms) VALUES (?, ?, ?, ?, ?, ?)",
				  &st)) != DX_OK) {
			return rc;
		}
		sqlite3_bind_int64(st, 1, (sqlite3_int64)op->leaf_index);
		sqlite3_bind_int(st, 2, fetch ? RELAY_LEAF_FETCHED : RELAY_LEAF_ACKED);
		sqlite3_bind_blob(st, 3, d->data, ENVELOPE_HASH_LEN, SQLITE_STATIC);
		sqlite3_bind_blob(st, 4, rh, sizeof(rh), SQLITE_STATIC);
		sqlite3_bind_blob(st, 5, op->raw, (int)op->raw_len, SQLITE_STATIC);
		sqlite3_bind_int64(st, 6, (sqlite3_int64)op->time_ms);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			return db_from_sqlite(rc);
		}
		/* The first acknowledgement empties the mailbox of the envelope
		 * (RETURNING tells whether this one was the first); a later one
		 * is logged and changes nothing more. */
		const char *sql = fetch ? "UPDATE envelopes SET fetched_index = COALESCE(fetched_index, ?)"
					  " WHERE digest = ?"
					: "UPDATE envelopes SET acked_index = ?, body = NULL"
					  " WHERE digest = ? AND acked_index IS NULL RETURNING size";
		if ((rc = db_stmt(r->db, sql, &st)) != DX_OK) {
			return rc;
		}
		sqlite3_bind_int64(st, 1, (sqlite3_int64)op->leaf_index);
		sqlite3_bind_blob(st, 2, d->data, ENVELOPE_HASH_LEN, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			uint64_t size = (uint64_t)sqlite3_column_int64(st, 0);
			rc = sqlite3_step(st);
			if (!fetch) {
				mailbox_pending(r, op, op->req.body->node, -1, size);
			}
		}
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			return db_from_sqlite(rc);
		}
	}
	op->has_leaf = 1;
	if (!fetch) {
		return DX_OK;
	}
	/* The bytes and the leaf's salt go to the recipient with its receipt. */
	if ((rc = db_stmt(r->db, "SELECT body, salt FROM envelopes WHERE digest = ?", &st)) != DX_OK) {
		return rc;
	}
	sqlite3_bind_blob(st, 1, d->data, ENVELOPE_HASH_LEN, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_type(st, 0) == SQLITE_NULL) {
		sqlite3_reset(st);
		return DX_ENOENT; /* acknowledged already: the body is gone */
	}
	size_t blen = (size_t)sqlite3_column_bytes(st, 0);
	uint8_t *body = relay_op_own(op, blen);
	if (body == NULL) {
		sqlite3_reset(st);
		return DX_ENOMEM;
	}
	memcpy(body, sqlite3_column_blob(st, 0), blen);
	memcpy(op->salt, sqlite3_column_blob(st, 1), RELAY_SALT_LEN);
	sqlite3_reset(st);
	op->resp.envelope = (ProtobufCBinaryData){ blen, body };
	return DX_OK;
}

static int apply_publish(struct relay *r, struct relay_op *op)
{
	const ProtobufCBinaryData *e = &op->req.body->publish->signed_entry;
	op->time_ms = dx_now_ms();
	int rc = relay_roster_publish(r, op->req.body->node, e->data, e->len, &op->leaf_index,
				      &op->time_ms);
	op->has_leaf = rc == DX_OK;
	return rc;
}

int relay_apply_write(struct relay *r, struct relay_op *op)
{
	switch (op->op) {
	case DX__REQUEST_BODY__OP_SUBMIT:
		return apply_submit(r, op);
	case DX__REQUEST_BODY__OP_FETCH:
	case DX__REQUEST_BODY__OP_ACK:
		return apply_statement(r, op);
	case DX__REQUEST_BODY__OP_UPLOAD:
		return relay_attach_upload(r, op);
	case DX__REQUEST_BODY__OP_PUBLISH:
		return op->req.body->publish != NULL ? apply_publish(r, op) : DX_EPARSE;
	default:
		return DX_EPARSE;
	}
}

/* Applies one operation inside its own savepoint. */
static void apply_one(struct relay *r, struct relay_op *op)
{
	uint64_t size = r->log.size;
	if (db_run(r->db, "SAVEPOINT op") != DX_OK) {
		op->status = DX_EINTERNAL;
		return;
	}
	op->status = relay_apply_write(r, op);
	if (op->status == DX_OK && db_run(r->db, "RELEASE op") == DX_OK) {
		return;
	}
	/* Undo this operation only; the rest of the batch goes on. A failure
	 * to roll back leaves the transaction unusable, and the commit then
	 * fails the whole batch, which is the safe outcome. */
	if (op->status == DX_OK) {
		op->status = DX_EINTERNAL;
	}
	if (db_run(r->db, "ROLLBACK TO op") != DX_OK || db_run(r->db, "RELEASE op") != DX_OK) {
		op->status = DX_EINTERNAL;
	}
	r->log.size = size;
	op->has_leaf = 0;
	mailbox_settle(r, op, 0);
}

void relay_batch_flush_now(struct relay *r)
{
	struct relay_op *head = r->batch_head;
	uint64_t size0 = r->log.size, commit_ns = 0;
	size_t n = r->batch_len;
	int rc;

	if (head == NULL) {
		return;
	}
	r->batch_head = NULL;
	r->batch_tail = &r->batch_head;
	r->batch_len = 0;
	if (r->flush_scheduled) {
		uv_timer_stop(&r->flush_timer);
		r->flush_scheduled = 0;
	}
	rc = db_begin(r->db);
	if (rc == DX_OK) {
		/* The last checkpoint rides along with this batch (relay_log.c). */
		rc = relay_log_store_checkpoint(r);
	}
	for (struct relay_op *op = head; rc == DX_OK && op != NULL; op = op->next_batch) {
		apply_one(r, op);
	}
	/* Attachment pieces are on disk before the count that names them. */
	if (rc == DX_OK) {
		rc = relay_attach_sync(r, head);
	}
	if (rc == DX_OK) {
		rc = db_commit(r->db, &commit_ns);
	} else {
		db_rollback(r->db);
	}
	if (rc == DX_OK) {
		metrics_observe_commit(r->metrics, (double)commit_ns / 1e9, (double)commit_ns / 1e9, n);
		rc = relay_log_checkpoint(r);
	} else {
		r->log.size = size0;
		/* The size check alone keeps the Merkle node cache right
		 * (relay_store.c); emptying it after so rare a failure costs
		 * nothing and leaves nothing to reason about. */
		relay_store_forget_nodes(r);
		/* A publish in the batch changed its member in memory: the
		 * members are read again from what the store holds. */
		if (relay_roster_load(r) != DX_OK) {
			relay_logf(r, "reloading the roster after a failed commit failed");
		}
	}
	while (head != NULL) {
		struct relay_op *op = head;
		head = op->next_batch;
		mailbox_settle(r, op, rc == DX_OK);
		if (rc != DX_OK) {
			/* A full disk is said as such: the node shows it, the operator acts. */
			op->status = rc == DX_ENOSPC ? DX_ENOSPC : DX_EINTERNAL;
		} else if (op->status == DX_OK && op->has_leaf) {
			dx__receipt__init(&op->receipt);
			op->status = relay_log_receipt(r, op->leaf_index, &op->receipt, op);
			if (op->status == DX_OK) {
				op->receipt.salt = op->op == DX__REQUEST_BODY__OP_SUBMIT ||
							   op->op == DX__REQUEST_BODY__OP_FETCH
						   ? (ProtobufCBinaryData){ RELAY_SALT_LEN, op->salt }
						   : (ProtobufCBinaryData){ 0, NULL };
				op->receipt.time_ms = op->time_ms;
				op->resp.receipt = &op->receipt;
			}
		}
		if (relay_attach_settle(r, op, rc)) {
			continue; /* a piece ahead of its stream, waiting */
		}
		const char *wake = NULL;
		char recipient[4];
		if (op->status == DX_OK && op->op == DX__REQUEST_BODY__OP_SUBMIT) {
			memcpy(recipient, op->env.recipient, 4);
			wake = recipient;
			metrics_count_accepted(r->metrics, 1, dx_now_ms());
		}
		relay_op_reply(op);
		if (wake != NULL) {
			relay_wake_parked(r, wake);
		}
	}
}
