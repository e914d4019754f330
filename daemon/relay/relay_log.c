/*
 * relay_log.c: the audit log (PROTOCOL.md 11, 12.5): an append-only RFC 9162
 * Merkle tree whose leaves are stored in `leaves` and whose perfect-subtree
 * roots are stored in `merkle_nodes`, and the checkpoints that sign it.
 *
 * The relay never signs two checkpoints that cannot both hold: it signs only
 * a tree state that is already durable (after the batch's COMMIT), and before
 * signing it checks that the new tree extends the last signed one (same root
 * at the old size). At start it checks the stored log against its own latest
 * checkpoint and refuses to run if they disagree.
 */
#include <stdlib.h>
#include <string.h>

#include "relay.h"

static int sign_cb(void *ctx, uint8_t sig[KEYS_SIG_LEN], const uint8_t *msg, size_t len)
{
	keys_signer_sign(ctx, sig, msg, len);
	return DX_OK;
}

static int load_latest_checkpoint(struct relay *r)
{
	sqlite3_stmt *st;
	int rc = db_stmt(r->db, "SELECT size, root, text FROM checkpoints ORDER BY size DESC LIMIT 1",
			 &st);
	if (rc != DX_OK) {
		return rc;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		r->checkpoint_len = 0;
		r->checkpoint_size = 0;
		return DX_OK;
	}
	if (rc != SQLITE_ROW || sqlite3_column_bytes(st, 1) != MERKLE_HASH_LEN ||
	    (size_t)sqlite3_column_bytes(st, 2) >= sizeof(r->checkpoint)) {
		return DX_EINTERNAL;
	}
	r->checkpoint_size = (uint64_t)sqlite3_column_int64(st, 0);
	memcpy(r->checkpoint_root, sqlite3_column_blob(st, 1), MERKLE_HASH_LEN);
	r->checkpoint_len = (size_t)sqlite3_column_bytes(st, 2);
	memcpy(r->checkpoint, sqlite3_column_blob(st, 2), r->checkpoint_len);
	r->checkpoint_stored = 1;
	sqlite3_reset(st);
	return DX_OK;
}

int relay_log_open(struct relay *r)
{
	const struct merkle_store_ops *ops;
	void *ctx;
	sqlite3_stmt *st;
	uint64_t size = 0;
	int rc = db_stmt(r->db, "SELECT COALESCE(MAX(idx) + 1, 0) FROM leaves", &st);
	if (rc != DX_OK) {
		return rc;
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		size = (uint64_t)sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	relay_store_merkle_ops(r, &ops, &ctx);
	if ((rc = merkle_init(&r->log, ops, ctx, size)) != DX_OK ||
	    (rc = load_latest_checkpoint(r)) != DX_OK) {
		return rc;
	}
	if (r->checkpoint_size > size) {
		return DX_ELOG_INCONSISTENT; /* the store lost leaves it had signed */
	}
	if (r->checkpoint_size > 0) {
		uint8_t root[MERKLE_HASH_LEN];
		if ((rc = merkle_root(&r->log, r->checkpoint_size, root)) != DX_OK) {
			return rc;
		}
		if (sodium_memcmp(root, r->checkpoint_root, MERKLE_HASH_LEN) != 0) {
			return DX_ELOG_INCONSISTENT;
		}
	}
	/* Leaves committed after the last stored checkpoint (a crash between
	 * commit and storing) get their checkpoint now. */
	if (size > r->checkpoint_size || r->checkpoint_len == 0) {
		if ((rc = relay_log_checkpoint(r)) != DX_OK) {
			return rc;
		}
		return relay_log_store_checkpoint(r);
	}
	return DX_OK;
}

int relay_log_append(struct relay *r, int kind, const uint8_t *leaf, size_t len, uint64_t *index)
{
	sqlite3_stmt *st;
	uint64_t idx;
	int rc = merkle_append(&r->log, leaf, len, &idx, NULL);
	if (rc != DX_OK) {
		return rc;
	}
	if ((rc = db_stmt(r->db, "INSERT INTO leaves (idx, kind, data) VALUES (?, ?, ?)", &st)) !=
	    DX_OK) {
		return rc;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)idx);
	sqlite3_bind_int(st, 2, kind);
	sqlite3_bind_blob(st, 3, leaf, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		return db_from_sqlite(rc);
	}
	*index = idx;
	return DX_OK;
}

/*
 * Signs the current (durable) tree. Refuses if it would not extend the last
 * signed checkpoint.
 */
int relay_log_checkpoint(struct relay *r)
{
	uint8_t root[MERKLE_HASH_LEN], old[MERKLE_HASH_LEN];
	uint8_t pk[KEYS_SIGN_PK_LEN];
	size_t len;
	int rc;

	if (r->log.size < r->checkpoint_size) {
		return DX_ELOG_INCONSISTENT;
	}
	if (r->checkpoint_size > 0) {
		if ((rc = merkle_root(&r->log, r->checkpoint_size, old)) != DX_OK) {
			return rc;
		}
		if (sodium_memcmp(old, r->checkpoint_root, MERKLE_HASH_LEN) != 0) {
			return DX_ELOG_INCONSISTENT;
		}
	}
	if (r->log.size == r->checkpoint_size && r->checkpoint_len > 0) {
		return DX_OK;
	}
	if ((rc = merkle_root(&r->log, r->log.size, root)) != DX_OK) {
		return rc;
	}
	keys_signer_pk(r->signer, pk);
	rc = checkpoint_sign(r->id.name, r->log.size, root, r->id.name, pk, sign_cb, r->signer,
			     r->checkpoint, sizeof(r->checkpoint), &len);
	if (rc != DX_OK) {
		return rc;
	}
	r->checkpoint_len = len;
	r->checkpoint_size = r->log.size;
	memcpy(r->checkpoint_root, root, MERKLE_HASH_LEN);
	r->checkpoint_stored = 0;
	metrics_set_log(r->metrics, r->log.size, r->checkpoint_size, dx_now_ms());
	return DX_OK;
}

/*
 * Stores the latest checkpoint. Its loss in a crash costs nothing: the tree
 * it signs is durable, and Ed25519 signs the same text to the same bytes.
 */
int relay_log_store_checkpoint(struct relay *r)
{
	sqlite3_stmt *st;
	if (r->checkpoint_stored || r->checkpoint_len == 0) {
		return DX_OK;
	}
	int rc = db_stmt(r->db,
			 "INSERT OR IGNORE INTO checkpoints (size, root, text) VALUES (?, ?, ?)", &st);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)r->checkpoint_size);
	sqlite3_bind_blob(st, 2, r->checkpoint_root, MERKLE_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, r->checkpoint, (int)r->checkpoint_len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		return db_from_sqlite(rc);
	}
	r->checkpoint_stored = 1;
	return DX_OK;
}

/* Fills a receipt: the latest checkpoint and the leaf's inclusion proof in it. */
int relay_log_receipt(struct relay *r, uint64_t index, Dx__Receipt *out, struct relay_op *op)
{
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	size_t n;
	int rc = merkle_inclusion_proof(&r->log, index, r->checkpoint_size, proof, &n);
	if (rc != DX_OK) {
		return rc;
	}
	size_t bytes = n * (sizeof(ProtobufCBinaryData) + MERKLE_HASH_LEN) + 1;
	uint8_t *mem = malloc(bytes);
	if (mem == NULL || op->n_owned >= sizeof(op->owned) / sizeof(op->owned[0])) {
		free(mem);
		return DX_ENOMEM;
	}
	op->owned[op->n_owned++] = mem;
	ProtobufCBinaryData *items = (ProtobufCBinaryData *)mem;
	uint8_t *hashes = mem + n * sizeof(ProtobufCBinaryData);
	for (size_t i = 0; i < n; i++) {
		memcpy(hashes + i * MERKLE_HASH_LEN, proof[i], MERKLE_HASH_LEN);
		items[i] = (ProtobufCBinaryData){ MERKLE_HASH_LEN, hashes + i * MERKLE_HASH_LEN };
	}
	out->checkpoint = (ProtobufCBinaryData){ r->checkpoint_len, (uint8_t *)r->checkpoint };
	out->leaf_index = index;
	out->n_proof = n;
	out->proof = items;
	return DX_OK;
}
