/*
 * node_store_outbox.c: the durable outbox and outgoing sequence numbers. A
 * message stays until the relay's signed receipt for it is stored, across
 * any number of restarts. See node_store.h for the life of a message.
 */
#include <stdlib.h>
#include <string.h>

#include "node_store_impl.h"

#define OUT_COLS                                                                                   \
	"msg_id, recipient, state, created_ms, envelope_id, digest, sequence, sealed_ms,"          \
	" attempts, last_error, next_attempt_ms, failed_code, receipted_ms"

const char *node_store_out_state_name(int state)
{
	switch (state) {
	case NODE_STORE_OUT_QUEUED:
		return "queued";
	case NODE_STORE_OUT_SEALED:
		return "sealed";
	case NODE_STORE_OUT_RECEIPTED:
		return "receipted";
	case NODE_STORE_OUT_FAILED:
		return "failed";
	default:
		return "unknown";
	}
}

static int row_info(sqlite3_stmt *s, struct node_store_outbox_info *m)
{
	struct node_store_outbox_info i;
	memset(&i, 0, sizeof(i));
	int rc = nstore_col_fixed(s, 0, i.msg_id, sizeof(i.msg_id));
	if (rc == DX_OK) {
		rc = nstore_col_state(s, 1, i.recipient);
	}
	if (rc != DX_OK) {
		return rc;
	}
	i.state = sqlite3_column_int(s, 2);
	if (i.state < NODE_STORE_OUT_QUEUED || i.state > NODE_STORE_OUT_FAILED) {
		return DX_EPARSE;
	}
	i.created_ms = nstore_col_u64(s, 3);
	if (sqlite3_column_type(s, 4) != SQLITE_NULL) {
		i.has_envelope = 1;
		if ((rc = nstore_col_fixed(s, 4, i.envelope_id, sizeof(i.envelope_id))) != DX_OK ||
		    (rc = nstore_col_fixed(s, 5, i.digest, sizeof(i.digest))) != DX_OK) {
			return rc;
		}
		i.sequence = nstore_col_u64(s, 6);
		i.sealed_ms = nstore_col_u64(s, 7);
	}
	i.attempts = (uint32_t)sqlite3_column_int64(s, 8);
	i.last_error = sqlite3_column_int(s, 9);
	i.next_attempt_ms = nstore_col_u64(s, 10);
	i.failed_code = sqlite3_column_int(s, 11);
	i.receipted_ms = nstore_col_u64(s, 12);
	*m = i;
	return DX_OK;
}

/* Reads every row of a query into an array, so callbacks run with no statement active. */
static int collect(sqlite3_stmt *s, size_t max, struct node_store_outbox_info **out, size_t *n_out)
{
	struct node_store_outbox_info *v = calloc(max > 0 ? max : 1, sizeof(*v));
	size_t n = 0;
	int rc = 0;
	if (v == NULL) {
		sqlite3_reset(s);
		return DX_ENOMEM;
	}
	while (n < max && (rc = nstore_step_row(s)) == 1) {
		if ((rc = row_info(s, &v[n])) != DX_OK) {
			break;
		}
		n++;
	}
	sqlite3_reset(s);
	if (rc < 0) {
		free(v);
		return rc;
	}
	*out = v;
	*n_out = n;
	return DX_OK;
}

static int run_callbacks(struct node_store_outbox_info *v, size_t n, node_store_outbox_fn cb,
			 void *ctx)
{
	int rc = DX_OK;
	for (size_t i = 0; i < n && rc == DX_OK; i++) {
		rc = cb(ctx, &v[i]);
	}
	free(v);
	return rc;
}

/* The state and recipient of a message: DX_ENOENT when unknown. */
static int msg_state(struct node_store *st, const uint8_t msg_id[NODE_STORE_MSG_ID_LEN], int *state,
		     char recipient[DX_STATE_LEN + 1])
{
	sqlite3_stmt *s;
	int rc = db_stmt(st->db, "SELECT state, recipient FROM outbox WHERE msg_id = ?", &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_blob(s, 1, msg_id, NODE_STORE_MSG_ID_LEN, SQLITE_STATIC);
	if ((rc = nstore_step_row(s)) <= 0) {
		return rc == 0 ? DX_ENOENT : rc;
	}
	*state = sqlite3_column_int(s, 0);
	rc = nstore_col_state(s, 1, recipient);
	sqlite3_reset(s);
	return rc;
}

int node_store_outbox_enqueue(struct node_store *st, const char *recipient, const uint8_t *body,
			      size_t body_len, const uint8_t *attach_refs, size_t attach_len,
			      uint8_t msg_id[static NODE_STORE_MSG_ID_LEN])
{
	if (recipient == NULL || !dx_state_valid(recipient)) {
		return DX_ESTATE_CODE;
	}
	if ((body == NULL && body_len > 0) || (attach_refs == NULL && attach_len > 0)) {
		return DX_EINVAL;
	}
	if (body_len > ENVELOPE_BODY_MAX || attach_len > NODE_STORE_ATTACH_REFS_MAX) {
		return DX_ETOOBIG;
	}
	size_t pt_len = 4 + body_len + attach_len;
	uint8_t *pt = malloc(pt_len), *ct = NULL;
	uint8_t id[NODE_STORE_MSG_ID_LEN], nonce[STORE_NONCE_LEN];
	size_t ct_len = 0;
	int rc;
	if (pt == NULL) {
		return DX_ENOMEM;
	}
	dx_put_be32(pt, (uint32_t)body_len);
	if (body_len > 0) {
		memcpy(pt + 4, body, body_len);
	}
	if (attach_len > 0) {
		memcpy(pt + 4 + body_len, attach_refs, attach_len);
	}
	randombytes_buf(id, sizeof(id));
	rc = nstore_seal(st, STORE_LABEL_OUTBOX, id, sizeof(id), pt, pt_len, nonce, &ct, &ct_len);
	sodium_memzero(pt, pt_len);
	free(pt);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_stmt *s;
	rc = db_stmt(st->db,
		     "INSERT INTO outbox (msg_id, recipient, state, created_ms, body_nonce, body)"
		     " VALUES (?, ?, ?, ?, ?, ?)",
		     &s);
	if (rc == DX_OK) {
		sqlite3_bind_blob(s, 1, id, sizeof(id), SQLITE_STATIC);
		sqlite3_bind_text(s, 2, recipient, DX_STATE_LEN, SQLITE_STATIC);
		sqlite3_bind_int(s, 3, NODE_STORE_OUT_QUEUED);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)nstore_now(st));
		sqlite3_bind_blob(s, 5, nonce, sizeof(nonce), SQLITE_STATIC);
		sqlite3_bind_blob(s, 6, ct, (int)ct_len, SQLITE_STATIC);
		rc = nstore_step_done(s);
	}
	free(ct);
	if (rc == DX_OK) {
		memcpy(msg_id, id, sizeof(id));
	}
	return rc;
}

static int allocate_sequence(struct node_store *st, const char *peer, uint64_t *out)
{
	sqlite3_stmt *s;
	sqlite3_int64 next;
	int rc = nstore_peer_value(st, peer, "SELECT next_out FROM peers WHERE peer = ?", &next);
	if (rc != DX_OK) {
		return rc;
	}
	if (next < 1 || next == INT64_MAX) {
		return DX_EPARSE;
	}
	if ((rc = db_stmt(st->db, "UPDATE peers SET next_out = ? WHERE peer = ?", &s)) != DX_OK) {
		return rc;
	}
	sqlite3_bind_int64(s, 1, next + 1);
	sqlite3_bind_text(s, 2, peer, DX_STATE_LEN, SQLITE_STATIC);
	if ((rc = nstore_step_done(s)) == DX_OK) {
		*out = (uint64_t)next;
	}
	return rc;
}

int node_store_next_sequence(struct node_store *st, const char *peer, uint64_t *sequence)
{
	if (peer == NULL || !dx_state_valid(peer)) {
		return DX_ESTATE_CODE;
	}
	struct tx tx;
	uint64_t seq = 0;
	int rc = nstore_tx_begin(st, &tx);
	if (rc != DX_OK) {
		return rc;
	}
	rc = nstore_tx_end(st, &tx, allocate_sequence(st, peer, &seq));
	if (rc == DX_OK) {
		*sequence = seq;
	}
	return rc;
}

/* True when sequence was allocated for peer (and is therefore below next_out). */
static int sequence_allocated(struct node_store *st, const char *peer, uint64_t sequence)
{
	sqlite3_stmt *s;
	int rc = db_stmt(st->db, "SELECT next_out FROM peers WHERE peer = ?", &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_text(s, 1, peer, DX_STATE_LEN, SQLITE_STATIC);
	if ((rc = nstore_step_row(s)) <= 0) {
		return rc == 0 ? DX_EINVAL : rc;
	}
	uint64_t next = nstore_col_u64(s, 0);
	sqlite3_reset(s);
	return sequence < next ? DX_OK : DX_EINVAL;
}

static int seal_apply(struct node_store *st, const uint8_t *msg_id, const uint8_t *env,
		      size_t env_len, const uint8_t *env_id, const uint8_t *digest,
		      uint64_t sequence)
{
	char recipient[DX_STATE_LEN + 1];
	int state = 0;
	int rc = msg_state(st, msg_id, &state, recipient);
	if (rc != DX_OK) {
		return rc;
	}
	if (state != NODE_STORE_OUT_QUEUED && state != NODE_STORE_OUT_SEALED) {
		return DX_EINVAL;
	}
	if ((rc = sequence_allocated(st, recipient, sequence)) != DX_OK) {
		return rc;
	}
	sqlite3_stmt *s;
	rc = db_stmt(st->db,
		     "UPDATE outbox SET state = ?, envelope = ?, envelope_id = ?, digest = ?,"
		     " sequence = ?, sealed_ms = ?, next_attempt_ms = 0 WHERE msg_id = ?",
		     &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_int(s, 1, NODE_STORE_OUT_SEALED);
	sqlite3_bind_blob(s, 2, env, (int)env_len, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, env_id, ENVELOPE_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 4, digest, NODE_STORE_DIGEST_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)sequence);
	sqlite3_bind_int64(s, 6, (sqlite3_int64)nstore_now(st));
	sqlite3_bind_blob(s, 7, msg_id, NODE_STORE_MSG_ID_LEN, SQLITE_STATIC);
	return nstore_step_done(s);
}

int node_store_outbox_mark_sealed(struct node_store *st,
				  const uint8_t msg_id[static NODE_STORE_MSG_ID_LEN],
				  const uint8_t *envelope, size_t envelope_len,
				  const uint8_t envelope_id[static ENVELOPE_ID_LEN],
				  const uint8_t digest[static NODE_STORE_DIGEST_LEN],
				  uint64_t sequence)
{
	if (envelope == NULL || envelope_len == 0 || sequence == 0 ||
	    sequence > (uint64_t)INT64_MAX) {
		return DX_EINVAL;
	}
	if (envelope_len > ENVELOPE_MAX) {
		return DX_ETOOBIG;
	}
	struct tx tx;
	int rc = nstore_tx_begin(st, &tx);
	if (rc != DX_OK) {
		return rc;
	}
	return nstore_tx_end(
		st, &tx,
		seal_apply(st, msg_id, envelope, envelope_len, envelope_id, digest, sequence));
}

int node_store_outbox_due(struct node_store *st, uint64_t now_ms, size_t max,
			  node_store_outbox_fn cb, void *ctx)
{
	if (cb == NULL || max == 0 || max > NODE_STORE_LIST_MAX) {
		return DX_EINVAL;
	}
	sqlite3_stmt *s;
	struct node_store_outbox_info *v = NULL;
	size_t n = 0;
	int rc = db_stmt(st->db,
			 "SELECT " OUT_COLS " FROM outbox WHERE state IN (1, 2)"
			 " AND next_attempt_ms <= ? ORDER BY next_attempt_ms, rowid LIMIT ?",
			 &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_int64(s, 1, now_ms > (uint64_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)now_ms);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)max);
	if ((rc = collect(s, max, &v, &n)) != DX_OK) {
		return rc;
	}
	return run_callbacks(v, n, cb, ctx);
}

int node_store_outbox_list(struct node_store *st, size_t limit, size_t offset,
			   node_store_outbox_fn cb, void *ctx)
{
	if (cb == NULL || limit == 0 || limit > NODE_STORE_LIST_MAX || offset > INT32_MAX) {
		return DX_EINVAL;
	}
	sqlite3_stmt *s;
	struct node_store_outbox_info *v = NULL;
	size_t n = 0;
	int rc = db_stmt(
		st->db, "SELECT " OUT_COLS " FROM outbox ORDER BY rowid DESC LIMIT ? OFFSET ?", &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_int64(s, 1, (sqlite3_int64)limit);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)offset);
	if ((rc = collect(s, limit, &v, &n)) != DX_OK) {
		return rc;
	}
	return run_callbacks(v, n, cb, ctx);
}

int node_store_outbox_get(struct node_store *st, const uint8_t msg_id[static NODE_STORE_MSG_ID_LEN],
			  struct node_store_outbox_info *out)
{
	sqlite3_stmt *s;
	struct node_store_outbox_info *v = NULL;
	size_t n = 0;
	int rc = db_stmt(st->db, "SELECT " OUT_COLS " FROM outbox WHERE msg_id = ?", &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_blob(s, 1, msg_id, NODE_STORE_MSG_ID_LEN, SQLITE_STATIC);
	if ((rc = collect(s, 1, &v, &n)) != DX_OK) {
		return rc;
	}
	if (n == 1) {
		*out = v[0];
	}
	free(v);
	return n == 1 ? DX_OK : DX_ENOENT;
}

int node_store_outbox_record_attempt(struct node_store *st,
				     const uint8_t msg_id[static NODE_STORE_MSG_ID_LEN], int error,
				     uint64_t next_attempt_ms)
{
	if (error > 0 || next_attempt_ms > (uint64_t)INT64_MAX) {
		return DX_EINVAL;
	}
	struct tx tx;
	char recipient[DX_STATE_LEN + 1];
	int state = 0;
	sqlite3_stmt *s;
	int rc = nstore_tx_begin(st, &tx);
	if (rc != DX_OK) {
		return rc;
	}
	rc = msg_state(st, msg_id, &state, recipient);
	if (rc == DX_OK && state != NODE_STORE_OUT_QUEUED && state != NODE_STORE_OUT_SEALED) {
		rc = DX_EINVAL;
	}
	if (rc == DX_OK) {
		rc = db_stmt(st->db,
			     "UPDATE outbox SET attempts = attempts + 1, last_error = ?,"
			     " next_attempt_ms = ? WHERE msg_id = ?",
			     &s);
	}
	if (rc == DX_OK) {
		sqlite3_bind_int(s, 1, error);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)next_attempt_ms);
		sqlite3_bind_blob(s, 3, msg_id, NODE_STORE_MSG_ID_LEN, SQLITE_STATIC);
		rc = nstore_step_done(s);
	}
	return nstore_tx_end(st, &tx, rc);
}

int node_store_outbox_link_up(struct node_store *st, uint64_t now_ms, size_t *n)
{
	struct tx tx;
	sqlite3_stmt *s;
	*n = 0;
	if (now_ms > (uint64_t)INT64_MAX) {
		return DX_EINVAL;
	}
	int rc = nstore_tx_begin(st, &tx);
	if (rc != DX_OK) {
		return rc;
	}
	rc = db_stmt(st->db,
		     "UPDATE outbox SET next_attempt_ms = ?1 WHERE state IN (1, 2)"
		     " AND next_attempt_ms > ?1 AND last_error IN (?2, ?3, ?4, ?5)",
		     &s);
	if (rc == DX_OK) {
		sqlite3_bind_int64(s, 1, (sqlite3_int64)now_ms);
		sqlite3_bind_int(s, 2, DX_ETIMEDOUT);
		sqlite3_bind_int(s, 3, DX_EUNREACHABLE);
		sqlite3_bind_int(s, 4, DX_ETLS);
		sqlite3_bind_int(s, 5, DX_ECLOSED);
		if ((rc = nstore_step_done(s)) == DX_OK) {
			*n = (size_t)sqlite3_changes(db_handle(st->db));
		}
	}
	return nstore_tx_end(st, &tx, rc);
}

/* Compares the stored receipt of a row with the one offered: 0 when the same. */
static int same_receipt(struct node_store *st, const char *sql, const uint8_t *key, size_t key_len,
			const uint8_t *receipt, size_t receipt_len)
{
	uint8_t *have = NULL;
	size_t have_len = 0;
	int rc = nstore_query_blob(st, sql, key, key_len, NODE_STORE_RECEIPT_MAX, &have, &have_len);
	if (rc != DX_OK) {
		return rc == DX_ENOENT ? DX_EPARSE : rc;
	}
	rc = (have_len == receipt_len && memcmp(have, receipt, receipt_len) == 0) ? DX_OK
										  : DX_EEXIST;
	free(have);
	return rc;
}

static int receipt_apply(struct node_store *st, const uint8_t *msg_id, const uint8_t *receipt,
			 size_t receipt_len)
{
	char recipient[DX_STATE_LEN + 1];
	int state = 0;
	sqlite3_stmt *s;
	int rc = msg_state(st, msg_id, &state, recipient);
	if (rc != DX_OK) {
		return rc;
	}
	if (state == NODE_STORE_OUT_RECEIPTED) {
		return same_receipt(st, "SELECT receipt FROM outbox WHERE msg_id = ?", msg_id,
				    NODE_STORE_MSG_ID_LEN, receipt, receipt_len);
	}
	/* A message refused for good may still have reached the log: the receipt wins. */
	if (state != NODE_STORE_OUT_SEALED && state != NODE_STORE_OUT_FAILED) {
		return DX_EINVAL;
	}
	if (state == NODE_STORE_OUT_FAILED) {
		if ((rc = db_stmt(st->db, "SELECT envelope IS NULL FROM outbox WHERE msg_id = ?",
				  &s)) != DX_OK) {
			return rc;
		}
		sqlite3_bind_blob(s, 1, msg_id, NODE_STORE_MSG_ID_LEN, SQLITE_STATIC);
		if ((rc = nstore_step_row(s)) <= 0) {
			return rc == 0 ? DX_ENOENT : rc;
		}
		int never_sealed = sqlite3_column_int(s, 0);
		sqlite3_reset(s);
		if (never_sealed) {
			return DX_EINVAL;
		}
	}
	rc = db_stmt(st->db,
		     "UPDATE outbox SET state = ?, receipt = ?, receipted_ms = ? WHERE msg_id = ?",
		     &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_int(s, 1, NODE_STORE_OUT_RECEIPTED);
	sqlite3_bind_blob(s, 2, receipt, (int)receipt_len, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)nstore_now(st));
	sqlite3_bind_blob(s, 4, msg_id, NODE_STORE_MSG_ID_LEN, SQLITE_STATIC);
	return nstore_step_done(s);
}

int node_store_outbox_mark_receipted(struct node_store *st,
				     const uint8_t msg_id[static NODE_STORE_MSG_ID_LEN],
				     const uint8_t *receipt, size_t receipt_len)
{
	return nstore_put_receipt(st, msg_id, receipt, receipt_len, receipt_apply);
}

int node_store_outbox_mark_failed(struct node_store *st,
				  const uint8_t msg_id[static NODE_STORE_MSG_ID_LEN], int error)
{
	if (error >= 0) {
		return DX_EINVAL;
	}
	struct tx tx;
	char recipient[DX_STATE_LEN + 1];
	int state = 0;
	sqlite3_stmt *s;
	int rc = nstore_tx_begin(st, &tx);
	if (rc != DX_OK) {
		return rc;
	}
	rc = msg_state(st, msg_id, &state, recipient);
	if (rc == DX_OK && state == NODE_STORE_OUT_RECEIPTED) {
		rc = DX_EINVAL;
	}
	if (rc == DX_OK) {
		rc = db_stmt(st->db,
			     "UPDATE outbox SET state = ?, failed_code = ? WHERE msg_id = ?", &s);
	}
	if (rc == DX_OK) {
		sqlite3_bind_int(s, 1, NODE_STORE_OUT_FAILED);
		sqlite3_bind_int(s, 2, error);
		sqlite3_bind_blob(s, 3, msg_id, NODE_STORE_MSG_ID_LEN, SQLITE_STATIC);
		rc = nstore_step_done(s);
	}
	return nstore_tx_end(st, &tx, rc);
}

/* Splits the authenticated frame be32(len) || body || refs into two new buffers. */
static int split_frame(const uint8_t *pt, size_t len, uint8_t **body, size_t *body_len,
		       uint8_t **refs, size_t *refs_len)
{
	if (len < 4) {
		return DX_EPARSE;
	}
	size_t b = dx_get_be32(pt);
	if (b > ENVELOPE_BODY_MAX || b > len - 4 || len - 4 - b > NODE_STORE_ATTACH_REFS_MAX) {
		return DX_EPARSE;
	}
	size_t r = len - 4 - b;
	uint8_t *bb = NULL, *rr = NULL;
	if ((body != NULL && (bb = malloc(b > 0 ? b : 1)) == NULL) ||
	    (refs != NULL && (rr = malloc(r > 0 ? r : 1)) == NULL)) {
		free(bb);
		return DX_ENOMEM;
	}
	if (bb != NULL) {
		memcpy(bb, pt + 4, b);
		*body = bb;
		*body_len = b;
	}
	if (rr != NULL) {
		memcpy(rr, pt + 4 + b, r);
		*refs = rr;
		*refs_len = r;
	}
	return DX_OK;
}

int node_store_outbox_read(struct node_store *st,
			   const uint8_t msg_id[static NODE_STORE_MSG_ID_LEN], uint8_t **body,
			   size_t *body_len, uint8_t **attach_refs, size_t *attach_len)
{
	if ((body != NULL && body_len == NULL) || (attach_refs != NULL && attach_len == NULL)) {
		return DX_EINVAL;
	}
	sqlite3_stmt *s;
	uint8_t *pt = NULL;
	size_t pt_len = 0;
	int rc = db_stmt(st->db, "SELECT body_nonce, body FROM outbox WHERE msg_id = ?", &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_blob(s, 1, msg_id, NODE_STORE_MSG_ID_LEN, SQLITE_STATIC);
	if ((rc = nstore_step_row(s)) <= 0) {
		return rc == 0 ? DX_ENOENT : rc;
	}
	rc = nstore_open_cols(st, s, 0, 1, STORE_LABEL_OUTBOX, msg_id, NODE_STORE_MSG_ID_LEN,
			      STORE_PLAIN_MAX, &pt, &pt_len);
	sqlite3_reset(s);
	if (rc != DX_OK) {
		return rc;
	}
	rc = split_frame(pt, pt_len, body, body_len, attach_refs, attach_len);
	sodium_memzero(pt, pt_len);
	free(pt);
	return rc;
}

int node_store_outbox_envelope(struct node_store *st,
			       const uint8_t msg_id[static NODE_STORE_MSG_ID_LEN], uint8_t **out,
			       size_t *out_len)
{
	return nstore_query_blob(st, "SELECT envelope FROM outbox WHERE msg_id = ?", msg_id,
				 NODE_STORE_MSG_ID_LEN, ENVELOPE_MAX, out, out_len);
}

int node_store_outbox_receipt(struct node_store *st,
			      const uint8_t msg_id[static NODE_STORE_MSG_ID_LEN], uint8_t **out,
			      size_t *out_len)
{
	return nstore_query_blob(st, "SELECT receipt FROM outbox WHERE msg_id = ?", msg_id,
				 NODE_STORE_MSG_ID_LEN, NODE_STORE_RECEIPT_MAX, out, out_len);
}
