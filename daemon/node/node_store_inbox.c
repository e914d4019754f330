/*
 * node_store_inbox.c: opened envelopes, the replay ids, and each sender's
 * sequence numbers with the gaps that reveal mail the relay dropped or is
 * holding back. An envelope, its id and its effect on the sequence state are
 * stored in one transaction, so after a crash either all of it is there or
 * none of it and the envelope is simply fetched again.
 */
#include <stdlib.h>
#include <string.h>

#include "node_store_impl.h"

#define IN_COLS                                                                                    \
	"digest, envelope_id, sender, sequence, created_ms, received_ms,"                          \
	" ack_receipt IS NOT NULL, summary_nonce, summary"

int node_store_inbox_seen(struct node_store *st, const uint8_t envelope_id[static ENVELOPE_ID_LEN],
			  int *seen)
{
	sqlite3_stmt *s;
	int rc = db_stmt(st->db, "SELECT 1 FROM seen WHERE envelope_id = ?", &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_blob(s, 1, envelope_id, ENVELOPE_ID_LEN, SQLITE_STATIC);
	rc = nstore_step_row(s);
	sqlite3_reset(s);
	if (rc < 0) {
		return rc;
	}
	*seen = rc;
	return DX_OK;
}

static int opened_valid(const struct node_store_opened *m)
{
	if (m == NULL || !dx_state_valid(m->sender)) {
		return m == NULL ? DX_EINVAL : DX_ESTATE_CODE;
	}
	if (m->sequence == 0 || m->sequence > (uint64_t)INT64_MAX ||
	    m->created_ms > (uint64_t)INT64_MAX || m->summary == NULL ||
	    (m->body == NULL && m->body_len > 0) ||
	    (m->fetch_receipt == NULL && m->fetch_receipt_len > 0)) {
		return DX_EINVAL;
	}
	if (m->body_len > ENVELOPE_BODY_MAX || m->fetch_receipt_len > NODE_STORE_RECEIPT_MAX ||
	    strnlen(m->summary, NODE_STORE_SUMMARY_MAX + 1) > NODE_STORE_SUMMARY_MAX) {
		return DX_ETOOBIG;
	}
	return DX_OK;
}

static int gap_insert(struct node_store *st, const char *peer, uint64_t first, uint64_t last)
{
	sqlite3_stmt *s;
	int rc = db_stmt(st->db, "INSERT INTO gaps (peer, first, last) VALUES (?, ?, ?)", &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_text(s, 1, peer, DX_STATE_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)first);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)last);
	return nstore_step_done(s);
}

/*
 * A late envelope: removes seq from the gap that holds it, which disappears,
 * shrinks at one end, or splits in two. A sequence in no gap is a duplicate
 * (sequence numbers are not a replay defence) and changes nothing.
 */
static int gap_fill(struct node_store *st, const char *peer, uint64_t seq)
{
	sqlite3_stmt *s;
	int rc = db_stmt(st->db,
			 "SELECT first, last FROM gaps WHERE peer = ? AND first <= ?"
			 " ORDER BY first DESC LIMIT 1",
			 &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_text(s, 1, peer, DX_STATE_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)seq);
	if ((rc = nstore_step_row(s)) <= 0) {
		return rc;
	}
	uint64_t first = nstore_col_u64(s, 0), last = nstore_col_u64(s, 1);
	sqlite3_reset(s);
	if (last < seq) {
		return DX_OK;
	}
	if ((rc = db_stmt(st->db, "DELETE FROM gaps WHERE peer = ? AND first = ?", &s)) != DX_OK) {
		return rc;
	}
	sqlite3_bind_text(s, 1, peer, DX_STATE_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)first);
	if ((rc = nstore_step_done(s)) != DX_OK) {
		return rc;
	}
	if (first < seq && (rc = gap_insert(st, peer, first, seq - 1)) != DX_OK) {
		return rc;
	}
	if (seq < last && (rc = gap_insert(st, peer, seq + 1, last)) != DX_OK) {
		return rc;
	}
	return DX_OK;
}

static int sequence_update(struct node_store *st, const char *peer, uint64_t seq)
{
	sqlite3_stmt *s;
	sqlite3_int64 value;
	int rc = nstore_peer_value(st, peer, "SELECT highest_in FROM peers WHERE peer = ?", &value);
	if (rc != DX_OK) {
		return rc;
	}
	uint64_t highest = value > 0 ? (uint64_t)value : 0;
	if (seq <= highest) {
		return gap_fill(st, peer, seq);
	}
	if (seq > highest + 1 && (rc = gap_insert(st, peer, highest + 1, seq - 1)) != DX_OK) {
		return rc;
	}
	if ((rc = db_stmt(st->db, "UPDATE peers SET highest_in = ? WHERE peer = ?", &s)) != DX_OK) {
		return rc;
	}
	sqlite3_bind_int64(s, 1, (sqlite3_int64)seq);
	sqlite3_bind_text(s, 2, peer, DX_STATE_LEN, SQLITE_STATIC);
	return nstore_step_done(s);
}

struct sealed {
	uint8_t body_nonce[STORE_NONCE_LEN], summary_nonce[STORE_NONCE_LEN];
	uint8_t *body, *summary;
	size_t body_len, summary_len;
};

static int opened_apply(struct node_store *st, const struct node_store_opened *m,
			const struct sealed *c)
{
	sqlite3_stmt *s;
	int rc = db_stmt(st->db, "INSERT INTO seen (envelope_id, created_ms) VALUES (?, ?)", &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_blob(s, 1, m->envelope_id, ENVELOPE_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)m->created_ms);
	if ((rc = nstore_step_done(s)) != DX_OK) {
		return rc == DX_EEXIST ? DX_EREPLAY : rc;
	}
	rc = db_stmt(st->db,
		     "INSERT INTO inbox (digest, envelope_id, sender, sequence, created_ms,"
		     " received_ms, body_nonce, body, summary_nonce, summary, fetch_receipt)"
		     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		     &s);
	if (rc != DX_OK) {
		return rc;
	}
	static const uint8_t empty[1];
	sqlite3_bind_blob(s, 1, m->digest, NODE_STORE_DIGEST_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, m->envelope_id, ENVELOPE_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, m->sender, DX_STATE_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)m->sequence);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)m->created_ms);
	sqlite3_bind_int64(s, 6, (sqlite3_int64)nstore_now(st));
	sqlite3_bind_blob(s, 7, c->body_nonce, STORE_NONCE_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 8, c->body, (int)c->body_len, SQLITE_STATIC);
	sqlite3_bind_blob(s, 9, c->summary_nonce, STORE_NONCE_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 10, c->summary, (int)c->summary_len, SQLITE_STATIC);
	sqlite3_bind_blob(s, 11, m->fetch_receipt_len > 0 ? m->fetch_receipt : empty,
			  (int)m->fetch_receipt_len, SQLITE_STATIC);
	if ((rc = nstore_step_done(s)) != DX_OK) {
		/* The digest covers the envelope id: the same digest is the same envelope. */
		return rc == DX_EEXIST ? DX_EREPLAY : rc;
	}
	return sequence_update(st, m->sender, m->sequence);
}

int node_store_inbox_store_opened(struct node_store *st, const struct node_store_opened *m)
{
	int rc = opened_valid(m);
	if (rc != DX_OK) {
		return rc;
	}
	struct sealed c = { .body = NULL };
	struct tx tx;
	/* Seal before the transaction: the write lock is held only for the writes. */
	rc = nstore_seal(st, STORE_LABEL_INBOX, m->digest, NODE_STORE_DIGEST_LEN, m->body,
			 m->body_len, c.body_nonce, &c.body, &c.body_len);
	if (rc == DX_OK) {
		rc = nstore_seal(st, STORE_LABEL_INBOX_SUMMARY, m->digest, NODE_STORE_DIGEST_LEN,
				 (const uint8_t *)m->summary, strlen(m->summary), c.summary_nonce,
				 &c.summary, &c.summary_len);
	}
	if (rc == DX_OK && (rc = nstore_tx_begin(st, &tx)) == DX_OK) {
		rc = nstore_tx_end(st, &tx, opened_apply(st, m, &c));
	}
	free(c.body);
	free(c.summary);
	return rc;
}

static int ack_apply(struct node_store *st, const uint8_t *digest, const uint8_t *receipt,
		     size_t receipt_len)
{
	sqlite3_stmt *s;
	int rc = db_stmt(st->db, "SELECT ack_receipt IS NOT NULL FROM inbox WHERE digest = ?", &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_blob(s, 1, digest, NODE_STORE_DIGEST_LEN, SQLITE_STATIC);
	if ((rc = nstore_step_row(s)) <= 0) {
		return rc == 0 ? DX_ENOENT : rc;
	}
	int acked = sqlite3_column_int(s, 0);
	sqlite3_reset(s);
	if (acked) {
		uint8_t *have = NULL;
		size_t have_len = 0;
		rc = nstore_query_blob(st, "SELECT ack_receipt FROM inbox WHERE digest = ?", digest,
				       NODE_STORE_DIGEST_LEN, NODE_STORE_RECEIPT_MAX, &have,
				       &have_len);
		if (rc != DX_OK) {
			return rc == DX_ENOENT ? DX_EPARSE : rc;
		}
		rc = (have_len == receipt_len && memcmp(have, receipt, receipt_len) == 0)
			     ? DX_OK
			     : DX_EEXIST;
		free(have);
		return rc;
	}
	if ((rc = db_stmt(st->db, "UPDATE inbox SET ack_receipt = ? WHERE digest = ?", &s)) !=
	    DX_OK) {
		return rc;
	}
	sqlite3_bind_blob(s, 1, receipt, (int)receipt_len, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, digest, NODE_STORE_DIGEST_LEN, SQLITE_STATIC);
	return nstore_step_done(s);
}

int node_store_inbox_mark_acked(struct node_store *st,
				const uint8_t digest[static NODE_STORE_DIGEST_LEN],
				const uint8_t *receipt, size_t receipt_len)
{
	return nstore_put_receipt(st, digest, receipt, receipt_len, ack_apply);
}

static int row_info(struct node_store *st, sqlite3_stmt *s, struct node_store_inbox_info *m)
{
	int rc;
	memset(m, 0, sizeof(*m));
	if ((rc = nstore_col_fixed(s, 0, m->digest, sizeof(m->digest))) != DX_OK ||
	    (rc = nstore_col_fixed(s, 1, m->envelope_id, sizeof(m->envelope_id))) != DX_OK ||
	    (rc = nstore_col_state(s, 2, m->sender)) != DX_OK) {
		return rc;
	}
	m->sequence = nstore_col_u64(s, 3);
	m->created_ms = nstore_col_u64(s, 4);
	m->received_ms = nstore_col_u64(s, 5);
	m->acked = sqlite3_column_int(s, 6);
	uint8_t *pt = NULL;
	size_t len = 0;
	/* One unreadable summary must not hide the rest of the inbox. */
	rc = nstore_open_cols(st, s, 7, 8, STORE_LABEL_INBOX_SUMMARY, m->digest,
			      NODE_STORE_DIGEST_LEN, NODE_STORE_SUMMARY_MAX, &pt, &len);
	if (rc == DX_OK) {
		memcpy(m->summary, pt, len);
		m->summary[len] = '\0';
		sodium_memzero(pt, len);
		free(pt);
	} else if (rc == DX_EDECRYPT) {
		m->summary_err = DX_EDECRYPT;
	} else {
		return rc;
	}
	return DX_OK;
}

static int inbox_query(struct node_store *st, sqlite3_stmt *s, size_t max,
		       struct node_store_inbox_info **out, size_t *n_out)
{
	struct node_store_inbox_info *v = calloc(max > 0 ? max : 1, sizeof(*v));
	size_t n = 0;
	int rc = 0;
	if (v == NULL) {
		sqlite3_reset(s);
		return DX_ENOMEM;
	}
	while (n < max && (rc = nstore_step_row(s)) == 1) {
		if ((rc = row_info(st, s, &v[n])) != DX_OK) {
			break;
		}
		n++;
	}
	sqlite3_reset(s);
	if (rc < 0) {
		sodium_memzero(v, max * sizeof(*v));
		free(v);
		return rc;
	}
	*out = v;
	*n_out = n;
	return DX_OK;
}

int node_store_inbox_list(struct node_store *st, size_t limit, size_t offset,
			  node_store_inbox_fn cb, void *ctx)
{
	if (cb == NULL || limit == 0 || limit > NODE_STORE_LIST_MAX || offset > INT32_MAX) {
		return DX_EINVAL;
	}
	sqlite3_stmt *s;
	struct node_store_inbox_info *v = NULL;
	size_t n = 0;
	int rc = db_stmt(st->db, "SELECT " IN_COLS " FROM inbox ORDER BY id DESC LIMIT ? OFFSET ?",
			 &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_int64(s, 1, (sqlite3_int64)limit);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)offset);
	if ((rc = inbox_query(st, s, limit, &v, &n)) != DX_OK) {
		return rc;
	}
	for (size_t i = 0; i < n && rc == DX_OK; i++) {
		rc = cb(ctx, &v[i]);
	}
	sodium_memzero(v, limit * sizeof(*v));
	free(v);
	return rc;
}

int node_store_inbox_get(struct node_store *st, const uint8_t digest[static NODE_STORE_DIGEST_LEN],
			 struct node_store_inbox_info *out)
{
	sqlite3_stmt *s;
	struct node_store_inbox_info *v = NULL;
	size_t n = 0;
	int rc = db_stmt(st->db, "SELECT " IN_COLS " FROM inbox WHERE digest = ?", &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_blob(s, 1, digest, NODE_STORE_DIGEST_LEN, SQLITE_STATIC);
	if ((rc = inbox_query(st, s, 1, &v, &n)) != DX_OK) {
		return rc;
	}
	if (n == 1) {
		*out = v[0];
	}
	sodium_memzero(v, sizeof(*v));
	free(v);
	return n == 1 ? DX_OK : DX_ENOENT;
}

int node_store_inbox_read(struct node_store *st, const uint8_t digest[static NODE_STORE_DIGEST_LEN],
			  uint8_t **body, size_t *body_len)
{
	if (body == NULL || body_len == NULL) {
		return DX_EINVAL;
	}
	sqlite3_stmt *s;
	int rc = db_stmt(st->db, "SELECT body_nonce, body FROM inbox WHERE digest = ?", &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_blob(s, 1, digest, NODE_STORE_DIGEST_LEN, SQLITE_STATIC);
	if ((rc = nstore_step_row(s)) <= 0) {
		return rc == 0 ? DX_ENOENT : rc;
	}
	rc = nstore_open_cols(st, s, 0, 1, STORE_LABEL_INBOX, digest, NODE_STORE_DIGEST_LEN,
			      ENVELOPE_BODY_MAX, body, body_len);
	sqlite3_reset(s);
	return rc;
}

int node_store_inbox_receipt(struct node_store *st,
			     const uint8_t digest[static NODE_STORE_DIGEST_LEN], int kind,
			     uint8_t **out, size_t *out_len)
{
	const char *sql;
	if (kind == NODE_STORE_RECEIPT_FETCH) {
		sql = "SELECT fetch_receipt FROM inbox WHERE digest = ?";
	} else if (kind == NODE_STORE_RECEIPT_ACK) {
		sql = "SELECT ack_receipt FROM inbox WHERE digest = ?";
	} else {
		return DX_EINVAL;
	}
	uint8_t *b = NULL;
	size_t len = 0;
	int rc = nstore_query_blob(st, sql, digest, NODE_STORE_DIGEST_LEN, NODE_STORE_RECEIPT_MAX,
				   &b, &len);
	if (rc != DX_OK) {
		return rc;
	}
	if (len == 0) {
		free(b);
		return DX_ENOENT;
	}
	*out = b;
	*out_len = len;
	return DX_OK;
}

int node_store_inbox_highest(struct node_store *st, const char *peer, uint64_t *highest)
{
	if (peer == NULL || !dx_state_valid(peer)) {
		return DX_ESTATE_CODE;
	}
	sqlite3_stmt *s;
	int rc = db_stmt(st->db, "SELECT highest_in FROM peers WHERE peer = ?", &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_text(s, 1, peer, DX_STATE_LEN, SQLITE_STATIC);
	if ((rc = nstore_step_row(s)) < 0) {
		return rc;
	}
	*highest = rc == 1 ? nstore_col_u64(s, 0) : 0;
	sqlite3_reset(s);
	return DX_OK;
}

static int gap_row(sqlite3_stmt *s, void *rec)
{
	uint64_t *g = rec;
	g[0] = nstore_col_u64(s, 0);
	g[1] = nstore_col_u64(s, 1);
	return DX_OK;
}

int node_store_inbox_gaps(struct node_store *st, const char *peer, node_store_gap_fn cb, void *ctx)
{
	if (peer == NULL || !dx_state_valid(peer)) {
		return DX_ESTATE_CODE;
	}
	if (cb == NULL) {
		return DX_EINVAL;
	}
	sqlite3_stmt *s;
	void *mem = NULL;
	size_t n = 0;
	int rc = db_stmt(st->db, "SELECT first, last FROM gaps WHERE peer = ? ORDER BY first", &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_text(s, 1, peer, DX_STATE_LEN, SQLITE_STATIC);
	rc = nstore_collect(s, sizeof(uint64_t[2]), gap_row, &mem, &n);
	uint64_t(*v)[2] = mem;
	for (size_t i = 0; rc == DX_OK && i < n; i++) {
		rc = cb(ctx, v[i][0], v[i][1]);
	}
	free(mem);
	return rc;
}

int node_store_inbox_prune_seen(struct node_store *st, uint64_t now_ms, uint64_t max_age_ms,
				uint64_t *pruned)
{
	if (now_ms <= max_age_ms) {
		if (pruned != NULL) {
			*pruned = 0;
		}
		return DX_OK;
	}
	uint64_t cutoff = now_ms - max_age_ms;
	sqlite3_stmt *s;
	int rc = db_stmt(st->db, "DELETE FROM seen WHERE created_ms < ?", &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_int64(s, 1, cutoff > (uint64_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)cutoff);
	if ((rc = nstore_step_done(s)) == DX_OK && pruned != NULL) {
		*pruned = (uint64_t)sqlite3_changes(db_handle(st->db));
	}
	return rc;
}

int node_store_count(struct node_store *st, struct node_store_counts *out)
{
	sqlite3_stmt *s;
	int rc;
	memset(out, 0, sizeof(*out));
	if ((rc = db_stmt(st->db, "SELECT state, COUNT(*) FROM outbox GROUP BY state", &s)) != DX_OK) {
		return rc;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int state = sqlite3_column_int(s, 0);
		if (state >= NODE_STORE_OUT_QUEUED && state <= NODE_STORE_OUT_FAILED) {
			out->outbox[state] = (uint64_t)sqlite3_column_int64(s, 1);
		}
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		return db_from_sqlite(rc);
	}
	/* Two counts from indexes (the smallest one, and inbox_unacked), not
	 * one pass over the messages themselves. */
	if ((rc = db_stmt(st->db,
			  "SELECT (SELECT COUNT(*) FROM inbox),"
			  " (SELECT COUNT(*) FROM inbox WHERE ack_receipt IS NULL)",
			  &s)) != DX_OK) {
		return rc;
	}
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		out->inbox = (uint64_t)sqlite3_column_int64(s, 0);
		out->inbox_unacked = (uint64_t)sqlite3_column_int64(s, 1);
		rc = SQLITE_DONE;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? DX_OK : db_from_sqlite(rc);
}

int node_store_inbox_unacked(struct node_store *st, size_t max,
			     uint8_t (*digests)[NODE_STORE_DIGEST_LEN], char (*senders)[DX_STATE_LEN + 1],
			     size_t *n)
{
	sqlite3_stmt *s;
	*n = 0;
	int rc = db_stmt(st->db,
			 "SELECT digest, sender FROM inbox WHERE ack_receipt IS NULL ORDER BY id LIMIT ?",
			 &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_int64(s, 1, (sqlite3_int64)max);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < max) {
		const char *sender = (const char *)sqlite3_column_text(s, 1);
		if (sqlite3_column_bytes(s, 0) != NODE_STORE_DIGEST_LEN || sender == NULL ||
		    !dx_state_valid(sender)) {
			rc = SQLITE_CORRUPT;
			break;
		}
		memcpy(digests[*n], sqlite3_column_blob(s, 0), NODE_STORE_DIGEST_LEN);
		memcpy(senders[*n], sender, DX_STATE_LEN + 1);
		(*n)++;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? DX_OK : db_from_sqlite(rc);
}
