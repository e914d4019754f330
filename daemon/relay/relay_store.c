/*
 * relay_store.c: the relay's SQLite schema, and the Merkle log's node store
 * on top of it.
 *
 * Envelope bodies stay in `envelopes` until the recipient acknowledges them;
 * the row (without its body) stays as the record behind the audit dossier.
 * Merkle nodes are the roots of perfect subtrees (merkle.h), so a proof
 * reads O(log n) rows and never rehashes the log.
 *
 * The nodes a receipt's proof and a checkpoint's root read lie at the right
 * edge of the tree, written moments before: a cache in memory keeps, for
 * each level, a ring of the most recent nodes (4,096 at level 0, half as
 * many at each level up, never fewer than 16; about 360 KiB in all), so that
 * answering a batch costs no SQL query per node.
 *
 * Why the cache never disagrees with the store: a node enters it only once
 * the store has written or returned it, and it is served only while all its
 * leaves lie below r->log.size. A node written by an append that a savepoint
 * or a failed COMMIT undid lies beyond the size that rollback restored
 * (relay_batch.c restores it), and before the tree grows over it again the
 * append of its last leaf writes it again, to the store and to the cache.
 */
#include <stdlib.h>
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
	"CREATE TABLE leaves (idx INTEGER PRIMARY KEY, kind INTEGER NOT NULL, data BLOB NOT NULL);"
	"CREATE TABLE merkle_nodes ("
	"  level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL,"
	"  PRIMARY KEY (level, idx)) WITHOUT ROWID;"
	"CREATE TABLE checkpoints (size INTEGER PRIMARY KEY, root BLOB NOT NULL, text BLOB NOT NULL);"
	"CREATE TABLE statements ("
	"  leaf_index INTEGER PRIMARY KEY, kind INTEGER NOT NULL, digest BLOB NOT NULL,"
	"  request_hash BLOB NOT NULL UNIQUE, request BLOB NOT NULL, time_ms INTEGER NOT NULL);";

/* Ring sizes: 2^12 slots at level 0, one bit fewer per level, at least 2^4. */
#define RING0_BITS 12
#define RING_MIN_BITS 4

struct node_slot {
	uint64_t key; /* the node's index + 1; 0 for an empty slot */
	uint8_t hash[MERKLE_HASH_LEN];
};

struct relay_node_cache {
	size_t first[MERKLE_MAX_LEVELS]; /* each level's first slot */
	uint64_t mask[MERKLE_MAX_LEVELS];
	size_t n_slots;
	struct node_slot slot[];
};

static unsigned ring_bits(unsigned level)
{
	return level + RING_MIN_BITS < RING0_BITS ? RING0_BITS - level : RING_MIN_BITS;
}

static int node_cache_new(struct relay_node_cache **out)
{
	size_t n = 0;
	for (unsigned l = 0; l < MERKLE_MAX_LEVELS; l++) {
		n += (size_t)1 << ring_bits(l);
	}
	struct relay_node_cache *c = calloc(1, sizeof(*c) + n * sizeof(c->slot[0]));
	if (c == NULL) {
		return DX_ENOMEM;
	}
	n = 0;
	for (unsigned l = 0; l < MERKLE_MAX_LEVELS; l++) {
		c->first[l] = n;
		c->mask[l] = (UINT64_C(1) << ring_bits(l)) - 1;
		n += (size_t)1 << ring_bits(l);
	}
	c->n_slots = n;
	*out = c;
	return DX_OK;
}

static struct node_slot *node_slot(struct relay *r, unsigned level, uint64_t index)
{
	struct relay_node_cache *c = r->node_cache;
	if (c == NULL || level >= MERKLE_MAX_LEVELS) {
		return NULL;
	}
	return &c->slot[c->first[level] + (index & c->mask[level])];
}

void relay_store_forget_nodes(struct relay *r)
{
	struct relay_node_cache *c = r->node_cache;
	if (c != NULL) {
		memset(c->slot, 0, c->n_slots * sizeof(c->slot[0]));
	}
}

int relay_store_open(struct relay *r, const char *path)
{
	struct relay_node_cache *c = NULL;
	int rc = db_open(path, SCHEMA, 1, &r->db);
	if (rc != DX_OK) {
		return rc;
	}
	/* Freed by relay_close(). */
	if ((rc = node_cache_new(&c)) != DX_OK) {
		return rc;
	}
	r->node_cache = c;
	/* Roster pages are read in log order, and a State's attachment quota
	 * is summed over its own streams only; stores made before either get
	 * the index on their next start. */
	return db_exec(r->db, "CREATE INDEX IF NOT EXISTS roster_by_log ON roster(log_index);"
			      "CREATE INDEX IF NOT EXISTS attachments_by_owner"
			      " ON attachments(owner, total_size);");
}

static int node_get(void *ctx, unsigned level, uint64_t index, uint8_t out[MERKLE_HASH_LEN])
{
	struct relay *r = ctx;
	struct node_slot *slot = node_slot(r, level, index);
	sqlite3_stmt *st;
	/* Served only within the tree: see the top of this file. */
	if (slot != NULL && slot->key == index + 1 && index < (r->log.size >> level)) {
		memcpy(out, slot->hash, MERKLE_HASH_LEN);
		return DX_OK;
	}
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
	if (slot != NULL) {
		slot->key = index + 1;
		memcpy(slot->hash, out, MERKLE_HASH_LEN);
	}
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
	if (rc != SQLITE_DONE) {
		return db_from_sqlite(rc);
	}
	struct node_slot *slot = node_slot(r, level, index);
	if (slot != NULL) {
		slot->key = index + 1;
		memcpy(slot->hash, h, MERKLE_HASH_LEN);
	}
	return DX_OK;
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
