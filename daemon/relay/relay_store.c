/*
 * relay_store.c: the relay's SQLite schema, and the Merkle log's node store
 * on top of it.
 *
 * Envelope bodies stay in `envelopes` until the recipient acknowledges them;
 * the row (without its body) stays as the record behind the audit dossier.
 * Merkle nodes are the roots of perfect subtrees (merkle.h), so a proof
 * reads O(log n) rows and never rehashes the log.
 */
#include <string.h>

#include "relay.h"

static const char SCHEMA[] =
	"CREATE TABLE roster ("
	"  state TEXT PRIMARY KEY, status INTEGER NOT NULL, admitted_status INTEGER NOT NULL,"
	"  identity_pk BLOB NOT NULL,"
	"  signed_entry BLOB NOT NULL, issued_ms INTEGER NOT NULL, log_index INTEGER NOT NULL,"
	"  updated_ms INTEGER NOT NULL);"
	"CREATE TABLE envelopes ("
	"  digest BLOB PRIMARY KEY, envelope_id BLOB NOT NULL UNIQUE, sender TEXT NOT NULL,"
	"  recipient TEXT NOT NULL, body BLOB, size INTEGER NOT NULL, received_ms INTEGER NOT NULL,"
	"  salt BLOB NOT NULL, accepted_index INTEGER NOT NULL, fetched_index INTEGER,"
	"  acked_index INTEGER);"
	"CREATE INDEX envelopes_mailbox ON envelopes(recipient, acked_index, received_ms);"
	"CREATE TABLE envelope_attachments ("
	"  digest BLOB NOT NULL, attachment_id BLOB NOT NULL, PRIMARY KEY (digest, attachment_id));"
	"CREATE INDEX envelope_attachments_by_id ON envelope_attachments(attachment_id);"
	"CREATE TABLE attachments ("
	"  attachment_id BLOB PRIMARY KEY, owner TEXT NOT NULL, total_size INTEGER NOT NULL,"
	"  received INTEGER NOT NULL, created_ms INTEGER NOT NULL);"
	"CREATE TABLE attachment_data ("
	"  attachment_id BLOB NOT NULL, offset INTEGER NOT NULL, data BLOB NOT NULL,"
	"  PRIMARY KEY (attachment_id, offset)) WITHOUT ROWID;"
	"CREATE TABLE leaves (idx INTEGER PRIMARY KEY, kind INTEGER NOT NULL, data BLOB NOT NULL);"
	"CREATE TABLE merkle_nodes ("
	"  level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL,"
	"  PRIMARY KEY (level, idx)) WITHOUT ROWID;"
	"CREATE TABLE checkpoints (size INTEGER PRIMARY KEY, root BLOB NOT NULL, text BLOB NOT NULL);"
	"CREATE TABLE statements ("
	"  leaf_index INTEGER PRIMARY KEY, kind INTEGER NOT NULL, digest BLOB NOT NULL,"
	"  request_hash BLOB NOT NULL UNIQUE, request BLOB NOT NULL, time_ms INTEGER NOT NULL);";

int relay_store_open(struct relay *r, const char *path)
{
	int rc = db_open(path, SCHEMA, 1, &r->db);
	if (rc != DX_OK) {
		return rc;
	}
	/* Roster pages are read in log order; stores made before paging get
	 * the index on their next start. */
	return db_exec(r->db, "CREATE INDEX IF NOT EXISTS roster_by_log ON roster(log_index)");
}

static int node_get(void *ctx, unsigned level, uint64_t index, uint8_t out[MERKLE_HASH_LEN])
{
	struct relay *r = ctx;
	sqlite3_stmt *st;
	int rc = db_stmt(r->db, "SELECT hash FROM merkle_nodes WHERE level = ? AND idx = ?", &st);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_int(st, 1, (int)level);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)index);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		return rc == SQLITE_DONE ? DX_ENOENT : db_from_sqlite(rc);
	}
	if (sqlite3_column_bytes(st, 0) != MERKLE_HASH_LEN) {
		return DX_EINTERNAL;
	}
	memcpy(out, sqlite3_column_blob(st, 0), MERKLE_HASH_LEN);
	sqlite3_reset(st);
	return DX_OK;
}

static int node_put(void *ctx, unsigned level, uint64_t index, const uint8_t h[MERKLE_HASH_LEN])
{
	struct relay *r = ctx;
	sqlite3_stmt *st;
	int rc = db_stmt(r->db, "INSERT INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)", &st);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_int(st, 1, (int)level);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)index);
	sqlite3_bind_blob(st, 3, h, MERKLE_HASH_LEN, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? DX_OK : db_from_sqlite(rc);
}

static const struct merkle_store_ops sqlite_ops = {
	.get = node_get,
	.put = node_put,
};

int relay_store_merkle_ops(struct relay *r, const struct merkle_store_ops **ops, void **ctx)
{
	*ops = &sqlite_ops;
	*ctx = r;
	return DX_OK;
}
