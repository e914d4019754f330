/*
 * node_store_trust.c: what the node trusts about others: the roster mirror,
 * with identity keys pinned on first use and changes held back until the user
 * accepts them, and the relay's checkpoints, where two that cannot both hold
 * are kept as evidence. Signatures and proofs are the caller's to check; the
 * store keeps what was decided durable across restarts.
 */
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "node_store_impl.h"
#include "relay_wire.h"
#include "roster.h"

/* ---- Roster mirror ---- */

#define ROSTER_COLS                                                                                \
	"state, identity_pk, status, log_index, pinned_ms, updated_ms, verified_ms,"               \
	" pending_identity_pk, pending_status, pending_log_index, pending_ms"

static int state_arg(const char *state)
{
	return state != NULL && dx_state_valid(state) ? DX_OK : DX_ESTATE_CODE;
}

/* A blob column of the roster row of state: DX_ENOENT without the row or a NULL value. */
static int state_blob(struct node_store *st, const char *sql, const char *state, uint8_t **out,
		      size_t *out_len)
{
	sqlite3_stmt *s;
	int rc = db_stmt(st->db, sql, &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_text(s, 1, state, DX_STATE_LEN, SQLITE_STATIC);
	if ((rc = nstore_step_row(s)) <= 0) {
		return rc == 0 ? DX_ENOENT : rc;
	}
	rc = nstore_col_dup(s, 0, ROSTER_ENTRY_MAX, out, out_len);
	sqlite3_reset(s);
	return rc;
}

static int roster_row(sqlite3_stmt *s, struct node_store_roster_info *r)
{
	int rc;
	memset(r, 0, sizeof(*r));
	if ((rc = nstore_col_state(s, 0, r->state)) != DX_OK ||
	    (rc = nstore_col_fixed(s, 1, r->identity_pk, KEYS_SIGN_PK_LEN)) != DX_OK) {
		return rc;
	}
	r->status = (uint32_t)sqlite3_column_int64(s, 2);
	r->log_index = nstore_col_u64(s, 3);
	r->pinned_ms = nstore_col_u64(s, 4);
	r->updated_ms = nstore_col_u64(s, 5);
	r->verified_ms = nstore_col_u64(s, 6);
	if (sqlite3_column_type(s, 7) != SQLITE_NULL) {
		if ((rc = nstore_col_fixed(s, 7, r->pending_identity_pk, KEYS_SIGN_PK_LEN)) !=
		    DX_OK) {
			return rc;
		}
		r->has_pending = 1;
		r->pending_status = (uint32_t)sqlite3_column_int64(s, 8);
		r->pending_log_index = nstore_col_u64(s, 9);
		r->pending_ms = nstore_col_u64(s, 10);
	}
	return DX_OK;
}

/* Reads the row of state into *r: 1 when found, 0 when not, or an error. */
static int roster_load(struct node_store *st, const char *state, struct node_store_roster_info *r)
{
	sqlite3_stmt *s;
	int rc = db_stmt(st->db, "SELECT " ROSTER_COLS " FROM roster WHERE state = ?", &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_text(s, 1, state, DX_STATE_LEN, SQLITE_STATIC);
	if ((rc = nstore_step_row(s)) <= 0) {
		return rc;
	}
	rc = roster_row(s, r);
	sqlite3_reset(s);
	return rc == DX_OK ? 1 : rc;
}

static int roster_insert(struct node_store *st, const char *state, const uint8_t *entry,
			 size_t entry_len, const uint8_t *pk, uint32_t status, uint64_t log_index)
{
	sqlite3_stmt *s;
	uint64_t now = nstore_now(st);
	int rc = db_stmt(st->db,
			 "INSERT INTO roster (state, identity_pk, entry, status, log_index,"
			 " pinned_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
			 &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_text(s, 1, state, DX_STATE_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, pk, KEYS_SIGN_PK_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, entry, (int)entry_len, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, status);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)log_index);
	sqlite3_bind_int64(s, 6, (sqlite3_int64)now);
	sqlite3_bind_int64(s, 7, (sqlite3_int64)now);
	return nstore_step_done(s);
}

static int same_entry(struct node_store *st, const char *state, const uint8_t *entry,
		      size_t entry_len)
{
	uint8_t *have = NULL;
	size_t have_len = 0;
	int rc =
		state_blob(st, "SELECT entry FROM roster WHERE state = ?", state, &have, &have_len);
	if (rc != DX_OK) {
		return 0;
	}
	rc = have_len == entry_len && memcmp(have, entry, entry_len) == 0;
	free(have);
	return rc;
}

/*
 * Applies one entry. Returns DX_EKEY_CHANGED after storing a pending change,
 * which the caller commits: it must survive to be accepted later.
 */
static int roster_apply(struct node_store *st, const char *state, const uint8_t *entry,
			size_t entry_len, const uint8_t *pk, uint32_t status, uint64_t log_index)
{
	struct node_store_roster_info cur;
	sqlite3_stmt *s;
	int rc = roster_load(st, state, &cur);
	if (rc < 0) {
		return rc;
	}
	if (rc == 0) {
		return roster_insert(st, state, entry, entry_len, pk, status, log_index);
	}
	if (sodium_memcmp(cur.identity_pk, pk, KEYS_SIGN_PK_LEN) != 0) {
		/* Keep the newest offered change; the pinned entry stays in effect. */
		if (cur.has_pending && cur.pending_log_index > log_index) {
			return DX_EKEY_CHANGED;
		}
		rc = db_stmt(st->db,
			     "UPDATE roster SET pending_identity_pk = ?, pending_entry = ?,"
			     " pending_status = ?, pending_log_index = ?, pending_ms = ?"
			     " WHERE state = ?",
			     &s);
		if (rc != DX_OK) {
			return rc;
		}
		sqlite3_bind_blob(s, 1, pk, KEYS_SIGN_PK_LEN, SQLITE_STATIC);
		sqlite3_bind_blob(s, 2, entry, (int)entry_len, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, status);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)log_index);
		sqlite3_bind_int64(s, 5, (sqlite3_int64)nstore_now(st));
		sqlite3_bind_text(s, 6, state, DX_STATE_LEN, SQLITE_STATIC);
		return (rc = nstore_step_done(s)) == DX_OK ? DX_EKEY_CHANGED : rc;
	}
	if (log_index < cur.log_index) {
		return DX_EDUPLICATE_ENTRY;
	}
	if (log_index == cur.log_index) {
		return status == cur.status && same_entry(st, state, entry, entry_len)
			       ? DX_OK
			       : DX_EDUPLICATE_ENTRY;
	}
	rc = db_stmt(st->db,
		     "UPDATE roster SET entry = ?, status = ?, log_index = ?, updated_ms = ?"
		     " WHERE state = ?",
		     &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_blob(s, 1, entry, (int)entry_len, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, status);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)log_index);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)nstore_now(st));
	sqlite3_bind_text(s, 5, state, DX_STATE_LEN, SQLITE_STATIC);
	return nstore_step_done(s);
}

int node_store_roster_put(struct node_store *st, const char *state, const uint8_t *entry,
			  size_t entry_len, const uint8_t identity_pk[static KEYS_SIGN_PK_LEN],
			  uint32_t status, uint64_t log_index)
{
	int rc = state_arg(state);
	if (rc != DX_OK) {
		return rc;
	}
	if (entry == NULL || entry_len == 0 || log_index > (uint64_t)INT64_MAX ||
	    status < RELAY_STATUS_PARTY || status > RELAY_STATUS_SUSPENDED) {
		return DX_EINVAL;
	}
	if (entry_len > ROSTER_ENTRY_MAX) {
		return DX_ETOOBIG;
	}
	struct tx tx;
	if ((rc = nstore_tx_begin(st, &tx)) != DX_OK) {
		return rc;
	}
	rc = roster_apply(st, state, entry, entry_len, identity_pk, status, log_index);
	if (rc == DX_EKEY_CHANGED) {
		rc = nstore_tx_end(st, &tx, DX_OK);
		return rc == DX_OK ? DX_EKEY_CHANGED : rc;
	}
	return nstore_tx_end(st, &tx, rc);
}

static int accept_apply(struct node_store *st, const char *state, const uint8_t *pk)
{
	struct node_store_roster_info cur;
	sqlite3_stmt *s;
	int rc = roster_load(st, state, &cur);
	if (rc <= 0) {
		return rc == 0 ? DX_ENOENT : rc;
	}
	if (!cur.has_pending) {
		return DX_ENOENT;
	}
	if (sodium_memcmp(cur.pending_identity_pk, pk, KEYS_SIGN_PK_LEN) != 0) {
		return DX_ESIG;
	}
	/* The user compared the new fingerprint out of band to accept it. */
	rc = db_stmt(st->db,
		     "UPDATE roster SET identity_pk = pending_identity_pk, entry = pending_entry,"
		     " status = pending_status, log_index = pending_log_index, pinned_ms = ?1,"
		     " updated_ms = ?1, verified_ms = ?1, pending_identity_pk = NULL,"
		     " pending_entry = NULL, pending_status = 0, pending_log_index = 0,"
		     " pending_ms = 0 WHERE state = ?2 AND pending_entry IS NOT NULL",
		     &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_int64(s, 1, (sqlite3_int64)nstore_now(st));
	sqlite3_bind_text(s, 2, state, DX_STATE_LEN, SQLITE_STATIC);
	if ((rc = nstore_step_done(s)) != DX_OK) {
		return rc;
	}
	return sqlite3_changes(db_handle(st->db)) == 1 ? DX_OK : DX_EPARSE;
}

int node_store_roster_accept_change(struct node_store *st, const char *state,
				    const uint8_t identity_pk[static KEYS_SIGN_PK_LEN])
{
	struct tx tx;
	int rc = state_arg(state);
	if (rc != DX_OK || (rc = nstore_tx_begin(st, &tx)) != DX_OK) {
		return rc;
	}
	return nstore_tx_end(st, &tx, accept_apply(st, state, identity_pk));
}

int node_store_roster_verify_oob(struct node_store *st, const char *state,
				 const uint8_t identity_pk[static KEYS_SIGN_PK_LEN])
{
	struct node_store_roster_info cur;
	struct tx tx;
	sqlite3_stmt *s;
	int rc = state_arg(state);
	if (rc != DX_OK || (rc = nstore_tx_begin(st, &tx)) != DX_OK) {
		return rc;
	}
	rc = roster_load(st, state, &cur);
	if (rc == 0) {
		rc = DX_ENOENT;
	} else if (rc == 1) {
		rc = sodium_memcmp(cur.identity_pk, identity_pk, KEYS_SIGN_PK_LEN) == 0 ? DX_OK
											: DX_ESIG;
	}
	if (rc == DX_OK &&
	    (rc = db_stmt(st->db, "UPDATE roster SET verified_ms = ? WHERE state = ?", &s)) ==
		    DX_OK) {
		sqlite3_bind_int64(s, 1, (sqlite3_int64)nstore_now(st));
		sqlite3_bind_text(s, 2, state, DX_STATE_LEN, SQLITE_STATIC);
		rc = nstore_step_done(s);
	}
	return nstore_tx_end(st, &tx, rc);
}

int node_store_roster_get(struct node_store *st, const char *state,
			  struct node_store_roster_info *info, uint8_t **entry, size_t *entry_len)
{
	struct node_store_roster_info r;
	uint8_t *e = NULL;
	size_t e_len = 0;
	int rc = state_arg(state);
	if (rc != DX_OK) {
		return rc;
	}
	if (info == NULL || (entry != NULL && entry_len == NULL)) {
		return DX_EINVAL;
	}
	if ((rc = roster_load(st, state, &r)) <= 0) {
		return rc == 0 ? DX_ENOENT : rc;
	}
	if (entry != NULL) {
		rc = state_blob(st, "SELECT entry FROM roster WHERE state = ?", state, &e, &e_len);
		if (rc != DX_OK) {
			return rc == DX_ENOENT ? DX_EPARSE : rc;
		}
		*entry = e;
		*entry_len = e_len;
	}
	*info = r;
	return DX_OK;
}

int node_store_roster_pending_entry(struct node_store *st, const char *state, uint8_t **entry,
				    size_t *entry_len)
{
	int rc = state_arg(state);
	if (rc != DX_OK) {
		return rc;
	}
	return state_blob(st, "SELECT pending_entry FROM roster WHERE state = ?", state, entry,
			  entry_len);
}

static int roster_rec(sqlite3_stmt *s, void *rec)
{
	return roster_row(s, rec);
}

int node_store_roster_list(struct node_store *st, node_store_roster_fn cb, void *ctx)
{
	if (cb == NULL) {
		return DX_EINVAL;
	}
	sqlite3_stmt *s;
	void *mem = NULL;
	size_t n = 0;
	int rc = db_stmt(st->db, "SELECT " ROSTER_COLS " FROM roster ORDER BY state", &s);
	if (rc != DX_OK) {
		return rc;
	}
	rc = nstore_collect(s, sizeof(struct node_store_roster_info), roster_rec, &mem, &n);
	struct node_store_roster_info *v = mem;
	for (size_t i = 0; rc == DX_OK && i < n; i++) {
		rc = cb(ctx, &v[i]);
	}
	free(mem);
	return rc;
}

/* ---- Relay checkpoints ---- */

/* The first checkpoint held at size (or the largest when size is NULL): 1, 0 or an error. */
static int checkpoint_load(struct node_store *st, const uint64_t *size,
			   struct node_store_checkpoint *out)
{
	sqlite3_stmt *s;
	uint64_t largest;
	int rc;
	if (size == NULL) {
		/*
		 * The largest size first, from the index alone: ordering every row by
		 * size and id would sort the whole table, which grows with every
		 * checkpoint the node adopts.
		 */
		if ((rc = db_stmt(st->db, "SELECT MAX(size) FROM checkpoints", &s)) != DX_OK) {
			return rc;
		}
		int step = sqlite3_step(s);
		int none = step != SQLITE_ROW || sqlite3_column_type(s, 0) == SQLITE_NULL;
		largest = none ? 0 : (uint64_t)sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
		if (step != SQLITE_ROW) {
			return db_from_sqlite(step);
		}
		if (none) {
			return 0;
		}
		size = &largest;
	}
	rc = db_stmt(st->db,
		     "SELECT size, root, seen_ms, source, text FROM checkpoints"
		     " WHERE size = ? ORDER BY id LIMIT 1",
		     &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_int64(s, 1, (sqlite3_int64)*size);
	if ((rc = nstore_step_row(s)) <= 0) {
		return rc;
	}
	struct node_store_checkpoint c;
	memset(&c, 0, sizeof(c));
	c.size = nstore_col_u64(s, 0);
	c.seen_ms = nstore_col_u64(s, 2);
	if ((rc = nstore_col_fixed(s, 1, c.root, MERKLE_HASH_LEN)) == DX_OK &&
	    (rc = nstore_col_text(s, 3, c.source, NODE_STORE_SOURCE_MAX)) == DX_OK) {
		rc = nstore_col_dup(s, 4, CHECKPOINT_MAX, &c.text, &c.text_len);
		rc = rc == DX_ENOENT ? DX_EPARSE : rc;
	}
	sqlite3_reset(s);
	if (rc != DX_OK) {
		return rc;
	}
	*out = c;
	return 1;
}

void node_store_checkpoint_fini(struct node_store_checkpoint *c)
{
	if (c != NULL) {
		free(c->text);
		c->text = NULL;
		c->text_len = 0;
	}
}

static int conflict_record(struct node_store *st, int kind,
			   const struct node_store_checkpoint *held, uint64_t size,
			   const uint8_t *text, size_t text_len, const char *source)
{
	sqlite3_stmt *s;
	int rc =
		db_stmt(st->db,
			"INSERT OR IGNORE INTO conflicts (kind, held_size, held_text, offered_size,"
			" offered_text, source, seen_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
			&s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_int(s, 1, kind);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)held->size);
	sqlite3_bind_blob(s, 3, held->text, (int)held->text_len, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)size);
	sqlite3_bind_blob(s, 5, text, (int)text_len, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, source, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, (sqlite3_int64)nstore_now(st));
	rc = nstore_step_done(s);
	return rc == DX_OK ? DX_ELOG_INCONSISTENT : rc;
}

/* Returns DX_ELOG_INCONSISTENT after recording a conflict, which the caller commits. */
static int checkpoint_apply(struct node_store *st, uint64_t size, const uint8_t *root,
			    const uint8_t *text, size_t text_len, const char *source)
{
	struct node_store_checkpoint held;
	int rc = checkpoint_load(st, &size, &held);
	if (rc < 0) {
		return rc;
	}
	if (rc == 1) {
		int same = memcmp(held.root, root, MERKLE_HASH_LEN) == 0;
		rc = same ? DX_OK
			  : conflict_record(st, NODE_STORE_CONFLICT_EQUIVOCATION, &held, size, text,
					    text_len, source);
		node_store_checkpoint_fini(&held);
		if (rc != DX_OK) {
			return rc;
		}
	} else {
		if ((rc = checkpoint_load(st, NULL, &held)) < 0) {
			return rc;
		}
		if (rc == 1) {
			rc = held.size > size ? conflict_record(st, NODE_STORE_CONFLICT_ROLLBACK,
								&held, size, text, text_len, source)
					      : DX_OK;
			node_store_checkpoint_fini(&held);
			if (rc != DX_OK) {
				return rc;
			}
		}
	}
	sqlite3_stmt *s;
	rc = db_stmt(st->db,
		     "INSERT INTO checkpoints (size, root, text, source, seen_ms)"
		     " VALUES (?, ?, ?, ?, ?) ON CONFLICT (text) DO NOTHING",
		     &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_int64(s, 1, (sqlite3_int64)size);
	sqlite3_bind_blob(s, 2, root, MERKLE_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, text, (int)text_len, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, source, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)nstore_now(st));
	return nstore_step_done(s);
}

int node_store_checkpoint_put(struct node_store *st, uint64_t size,
			      const uint8_t root[static MERKLE_HASH_LEN], const uint8_t *text,
			      size_t text_len, const char *source)
{
	if (size > (uint64_t)INT64_MAX || text == NULL || text_len == 0 || source == NULL ||
	    source[0] == '\0' ||
	    strnlen(source, NODE_STORE_SOURCE_MAX + 1) > NODE_STORE_SOURCE_MAX) {
		return DX_EINVAL;
	}
	if (text_len > CHECKPOINT_MAX) {
		return DX_ETOOBIG;
	}
	struct tx tx;
	int rc = nstore_tx_begin(st, &tx);
	if (rc != DX_OK) {
		return rc;
	}
	rc = checkpoint_apply(st, size, root, text, text_len, source);
	if (rc == DX_ELOG_INCONSISTENT) {
		/* The evidence is kept even though the checkpoint is refused. */
		rc = nstore_tx_end(st, &tx, DX_OK);
		return rc == DX_OK ? DX_ELOG_INCONSISTENT : rc;
	}
	return nstore_tx_end(st, &tx, rc);
}

int node_store_checkpoint_latest(struct node_store *st, struct node_store_checkpoint *out)
{
	struct node_store_checkpoint c;
	int rc = checkpoint_load(st, NULL, &c);
	if (rc <= 0) {
		return rc == 0 ? DX_ENOENT : rc;
	}
	*out = c;
	return DX_OK;
}

struct conflict_row {
	struct node_store_conflict c;
	uint8_t *held, *offered;
};

static int conflict_row(sqlite3_stmt *s, struct conflict_row *r)
{
	int rc;
	memset(r, 0, sizeof(*r));
	r->c.kind = sqlite3_column_int(s, 0);
	r->c.held_size = nstore_col_u64(s, 1);
	r->c.offered_size = nstore_col_u64(s, 3);
	r->c.seen_ms = nstore_col_u64(s, 6);
	if ((rc = nstore_col_text(s, 5, r->c.source, NODE_STORE_SOURCE_MAX)) != DX_OK ||
	    (rc = nstore_col_dup(s, 2, CHECKPOINT_MAX, &r->held, &r->c.held_len)) != DX_OK) {
		return rc == DX_ENOENT ? DX_EPARSE : rc;
	}
	if ((rc = nstore_col_dup(s, 4, CHECKPOINT_MAX, &r->offered, &r->c.offered_len)) != DX_OK) {
		free(r->held);
		return rc == DX_ENOENT ? DX_EPARSE : rc;
	}
	r->c.held_text = r->held;
	r->c.offered_text = r->offered;
	return DX_OK;
}

static int conflict_rec(sqlite3_stmt *s, void *rec)
{
	return conflict_row(s, rec);
}

int node_store_checkpoint_conflicts(struct node_store *st, node_store_conflict_fn cb, void *ctx)
{
	if (cb == NULL) {
		return DX_EINVAL;
	}
	sqlite3_stmt *s;
	void *mem = NULL;
	size_t n = 0;
	int rc = db_stmt(st->db,
			 "SELECT kind, held_size, held_text, offered_size, offered_text, source,"
			 " seen_ms FROM conflicts ORDER BY id",
			 &s);
	if (rc != DX_OK) {
		return rc;
	}
	rc = nstore_collect(s, sizeof(struct conflict_row), conflict_rec, &mem, &n);
	struct conflict_row *v = mem;
	for (size_t i = 0; rc == DX_OK && i < n; i++) {
		rc = cb(ctx, &v[i].c);
	}
	for (size_t i = 0; i < n; i++) {
		free(v[i].held);
		free(v[i].offered);
	}
	free(mem);
	return rc;
}
