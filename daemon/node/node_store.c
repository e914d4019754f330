/*
 * node_store.c: the node's database: its schema, opening and closing,
 * batches, sealing at rest, and the careful row readers the other
 * node_store_*.c files use. See node_store.h.
 *
 * Sealing at rest: a sealed column holds XChaCha20-Poly1305 ciphertext under
 * the store key; its random 24-byte nonce sits in the column beside it. The
 * associated data is the column's label, a 0x00 byte and the row's primary
 * key, so a sealed value copied into another row, or into another sealed
 * column, fails to open (DX_EDECRYPT) instead of showing the wrong content.
 */
#include <stdlib.h>
#include <string.h>

#include "node_store_impl.h"

/*
 * Schema, version 1. Unsigned 64-bit values (times, sequences, sizes, log
 * indices) are stored as INTEGER and are at most INT64_MAX.
 *
 * outbox: one row per outgoing message, keyed by a random 16-byte msg_id.
 *   state is enum node_store_out_state. body_nonce/body is the sealed
 *   be32(len(body)) || body || attachment refs, label "divex/v1/store/outbox".
 *   envelope, envelope_id, digest, sequence and sealed_ms are set once the
 *   message is sealed; the envelope is kept exactly as sealed (it is
 *   encrypted end to end). (recipient, sequence) is unique, so one sequence
 *   number never names two envelopes. attempts, last_error and
 *   next_attempt_ms track delivery; receipt and receipted_ms hold the relay's
 *   signed receipt; failed_code a permanent refusal.
 * peers: per peer State, next_out, the next outgoing sequence number to
 *   allocate (a committed allocation is never handed out again), and
 *   highest_in, the highest sequence number received from it.
 * gaps: per peer, the incoming sequence ranges [first, last] not received
 *   yet; the ranges are disjoint and lie below the peer's highest_in.
 * inbox: one row per opened envelope, keyed by digest; rowid order is
 *   arrival order. body is sealed with label "divex/v1/store/inbox", summary
 *   with "divex/v1/store/inbox/summary", both over the digest.
 *   fetch_receipt is the relay's fetch receipt (empty if none), ack_receipt
 *   the receipt for our acknowledgement (NULL until acknowledged).
 * seen: every envelope id accepted, with the envelope's created_ms, for the
 *   replay check; pruned once the envelope would be refused as stale anyway.
 * roster: the roster mirror, one row per State. identity_pk is the pinned
 *   key (first use, or an accepted change); entry the exact signed bytes of
 *   the newest entry under it, with status and log_index; verified_ms the
 *   time of out-of-band verification (0 for never). The pending_* columns
 *   hold an entry under another key, not applied until accepted.
 * checkpoints: every relay checkpoint accepted, by distinct text; all rows of
 *   one size have the same root.
 * conflicts: pairs of checkpoints that cannot both hold (kind is enum
 *   node_store_conflict_kind): the one held and the one offered, as evidence.
 */
static const char SCHEMA[] =
	"CREATE TABLE outbox ("
	"  msg_id BLOB PRIMARY KEY, recipient TEXT NOT NULL, state INTEGER NOT NULL,"
	"  created_ms INTEGER NOT NULL, body_nonce BLOB NOT NULL, body BLOB NOT NULL,"
	"  envelope BLOB, envelope_id BLOB UNIQUE, digest BLOB UNIQUE, sequence INTEGER,"
	"  sealed_ms INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,"
	"  last_error INTEGER NOT NULL DEFAULT 0, next_attempt_ms INTEGER NOT NULL DEFAULT 0,"
	"  receipt BLOB, receipted_ms INTEGER NOT NULL DEFAULT 0,"
	"  failed_code INTEGER NOT NULL DEFAULT 0);"
	"CREATE UNIQUE INDEX outbox_sequence ON outbox(recipient, sequence)"
	"  WHERE sequence IS NOT NULL;"
	"CREATE INDEX outbox_due ON outbox(state, next_attempt_ms);"
	"CREATE TABLE peers ("
	"  peer TEXT PRIMARY KEY, next_out INTEGER NOT NULL DEFAULT 1,"
	"  highest_in INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE gaps ("
	"  peer TEXT NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL,"
	"  PRIMARY KEY (peer, first)) WITHOUT ROWID;"
	"CREATE TABLE inbox ("
	"  id INTEGER PRIMARY KEY, digest BLOB NOT NULL UNIQUE, envelope_id BLOB NOT NULL UNIQUE,"
	"  sender TEXT NOT NULL, sequence INTEGER NOT NULL, created_ms INTEGER NOT NULL,"
	"  received_ms INTEGER NOT NULL, body_nonce BLOB NOT NULL, body BLOB NOT NULL,"
	"  summary_nonce BLOB NOT NULL, summary BLOB NOT NULL, fetch_receipt BLOB NOT NULL,"
	"  ack_receipt BLOB);"
	"CREATE TABLE seen (envelope_id BLOB PRIMARY KEY, created_ms INTEGER NOT NULL) WITHOUT "
	"ROWID;"
	"CREATE INDEX seen_created ON seen(created_ms);"
	"CREATE TABLE roster ("
	"  state TEXT PRIMARY KEY, identity_pk BLOB NOT NULL, entry BLOB NOT NULL,"
	"  status INTEGER NOT NULL, log_index INTEGER NOT NULL, pinned_ms INTEGER NOT NULL,"
	"  updated_ms INTEGER NOT NULL, verified_ms INTEGER NOT NULL DEFAULT 0,"
	"  pending_identity_pk BLOB, pending_entry BLOB, pending_status INTEGER NOT NULL DEFAULT 0,"
	"  pending_log_index INTEGER NOT NULL DEFAULT 0, pending_ms INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE checkpoints ("
	"  id INTEGER PRIMARY KEY, size INTEGER NOT NULL, root BLOB NOT NULL,"
	"  text BLOB NOT NULL UNIQUE, source TEXT NOT NULL, seen_ms INTEGER NOT NULL);"
	"CREATE INDEX checkpoints_size ON checkpoints(size);"
	"CREATE TABLE conflicts ("
	"  id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, held_size INTEGER NOT NULL,"
	"  held_text BLOB NOT NULL, offered_size INTEGER NOT NULL, offered_text BLOB NOT NULL,"
	"  source TEXT NOT NULL, seen_ms INTEGER NOT NULL, UNIQUE (held_text, offered_text));";

#define SCHEMA_VERSION 1

static uint64_t default_clock(void *ctx)
{
	(void)ctx;
	return dx_now_ms();
}

int node_store_open(const char *path, const uint8_t store_key[static NODE_STORE_KEY_LEN],
		    struct node_store **out)
{
	if (path == NULL || out == NULL) {
		return DX_EINVAL;
	}
	if (sodium_init() < 0) {
		return DX_ECRYPTO;
	}
	struct node_store *st = calloc(1, sizeof(*st));
	if (st == NULL) {
		return DX_ENOMEM;
	}
	st->clock = default_clock;
	st->key = sodium_malloc(NODE_STORE_KEY_LEN);
	if (st->key == NULL) {
		free(st);
		return DX_ENOMEM;
	}
	memcpy(st->key, store_key, NODE_STORE_KEY_LEN);
	int rc = db_open(path, SCHEMA, SCHEMA_VERSION, &st->db);
	/* Messages waiting for their acknowledgement receipt, found without
	 * reading the inbox (every idle round of the inbox asks); added here so
	 * that a store made before it gains it. */
	if (rc == DX_OK) {
		rc = db_exec(st->db, "CREATE INDEX IF NOT EXISTS inbox_unacked ON inbox(id)"
				     " WHERE ack_receipt IS NULL");
	}
	if (rc != DX_OK) {
		node_store_close(st);
		return rc;
	}
	*out = st;
	return DX_OK;
}

void node_store_close(struct node_store *st)
{
	if (st == NULL) {
		return;
	}
	if (st->db != NULL) {
		db_rollback(st->db);
		db_close(st->db);
	}
	if (st->key != NULL) {
		sodium_memzero(st->key, NODE_STORE_KEY_LEN);
		sodium_free(st->key);
	}
	free(st);
}

void node_store_set_clock(struct node_store *st, node_store_clock_fn fn, void *ctx)
{
	st->clock = fn != NULL ? fn : default_clock;
	st->clock_ctx = fn != NULL ? ctx : NULL;
}

uint64_t nstore_now(struct node_store *st)
{
	uint64_t t = st->clock(st->clock_ctx);
	/* Times are stored as SQLite integers, which are signed. */
	return t > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : t;
}

static int in_batch(struct node_store *st)
{
	return !sqlite3_get_autocommit(db_handle(st->db));
}

int node_store_begin(struct node_store *st)
{
	if (in_batch(st)) {
		return DX_EINVAL;
	}
	return db_begin(st->db);
}

int node_store_commit(struct node_store *st)
{
	if (!in_batch(st)) {
		return DX_EINVAL;
	}
	return db_commit(st->db, NULL);
}

void node_store_rollback(struct node_store *st)
{
	db_rollback(st->db);
}

int nstore_tx_begin(struct node_store *st, struct tx *tx)
{
	if (in_batch(st)) {
		tx->own = 0;
		return db_exec(st->db, "SAVEPOINT node_store_op");
	}
	tx->own = 1;
	return db_begin(st->db);
}

int nstore_tx_end(struct node_store *st, struct tx *tx, int rc)
{
	if (rc == DX_OK) {
		return tx->own ? db_commit(st->db, NULL) : db_exec(st->db, "RELEASE node_store_op");
	}
	if (tx->own) {
		db_rollback(st->db);
	} else if (db_exec(st->db, "ROLLBACK TO node_store_op") != DX_OK ||
		   db_exec(st->db, "RELEASE node_store_op") != DX_OK) {
		/* The savepoint is gone only if SQLite rolled the whole batch back. */
		db_rollback(st->db);
	}
	return rc;
}

int nstore_step_done(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? DX_OK : db_from_sqlite(rc);
}

int nstore_step_row(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		return 1;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : db_from_sqlite(rc);
}

int nstore_put_receipt(struct node_store *st, const uint8_t *key, const uint8_t *receipt,
		       size_t receipt_len, nstore_receipt_fn apply)
{
	struct tx tx;
	if (receipt == NULL || receipt_len == 0) {
		return DX_EINVAL;
	}
	if (receipt_len > NODE_STORE_RECEIPT_MAX) {
		return DX_ETOOBIG;
	}
	int rc = nstore_tx_begin(st, &tx);
	if (rc != DX_OK) {
		return rc;
	}
	return nstore_tx_end(st, &tx, apply(st, key, receipt, receipt_len));
}

int nstore_peer_value(struct node_store *st, const char *peer, const char *select,
		      sqlite3_int64 *out)
{
	sqlite3_stmt *s;
	int rc = db_stmt(st->db, "INSERT INTO peers (peer) VALUES (?) ON CONFLICT DO NOTHING", &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_text(s, 1, peer, DX_STATE_LEN, SQLITE_STATIC);
	if ((rc = nstore_step_done(s)) != DX_OK || (rc = db_stmt(st->db, select, &s)) != DX_OK) {
		return rc;
	}
	sqlite3_bind_text(s, 1, peer, DX_STATE_LEN, SQLITE_STATIC);
	if ((rc = nstore_step_row(s)) <= 0) {
		return rc == 0 ? DX_EINTERNAL : rc;
	}
	*out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return DX_OK;
}

int nstore_collect(sqlite3_stmt *s, size_t elem, int (*row)(sqlite3_stmt *s, void *rec),
		   void **out, size_t *n)
{
	uint8_t *v = NULL;
	size_t count = 0, cap = 0;
	int rc;
	while ((rc = nstore_step_row(s)) == 1) {
		if (count == cap) {
			size_t ncap = cap > 0 ? cap * 2 : 16;
			uint8_t *nv = ncap <= SIZE_MAX / elem ? realloc(v, ncap * elem) : NULL;
			if (nv == NULL) {
				rc = DX_ENOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		if ((rc = row(s, v + count * elem)) != DX_OK) {
			break;
		}
		count++;
	}
	sqlite3_reset(s);
	*out = v;
	*n = count;
	return rc;
}

/* label || 0x00 || pk: the associated data of a sealed column. */
static size_t make_ad(uint8_t *ad, size_t cap, const char *label, const uint8_t *pk, size_t pk_len)
{
	size_t l = strlen(label) + 1;
	if (l + pk_len > cap) {
		return 0;
	}
	memcpy(ad, label, l);
	memcpy(ad + l, pk, pk_len);
	return l + pk_len;
}

#define AD_MAX 128

int nstore_seal(struct node_store *st, const char *label, const uint8_t *pk, size_t pk_len,
		const uint8_t *pt, size_t pt_len, uint8_t nonce[static STORE_NONCE_LEN],
		uint8_t **ct, size_t *ct_len)
{
	uint8_t ad[AD_MAX];
	size_t ad_len = make_ad(ad, sizeof(ad), label, pk, pk_len);
	if (ad_len == 0 || pt_len > STORE_PLAIN_MAX) {
		return DX_EINVAL;
	}
	uint8_t *c = malloc(pt_len + STORE_TAG_LEN);
	if (c == NULL) {
		return DX_ENOMEM;
	}
	uint8_t n[STORE_NONCE_LEN];
	randombytes_buf(n, sizeof(n));
	unsigned long long clen = 0;
	crypto_aead_xchacha20poly1305_ietf_encrypt(c, &clen, pt, pt_len, ad, ad_len, NULL, n,
						   st->key);
	memcpy(nonce, n, STORE_NONCE_LEN);
	*ct = c;
	*ct_len = (size_t)clen;
	return DX_OK;
}

int nstore_open_cols(struct node_store *st, sqlite3_stmt *s, int nonce_col, int ct_col,
		     const char *label, const uint8_t *pk, size_t pk_len, size_t max_pt,
		     uint8_t **pt, size_t *pt_len)
{
	uint8_t ad[AD_MAX];
	size_t ad_len = make_ad(ad, sizeof(ad), label, pk, pk_len);
	if (ad_len == 0) {
		return DX_EINVAL;
	}
	/* A row altered outside divex may hold anything: check types and sizes first. */
	if (sqlite3_column_type(s, nonce_col) != SQLITE_BLOB ||
	    sqlite3_column_bytes(s, nonce_col) != STORE_NONCE_LEN ||
	    sqlite3_column_type(s, ct_col) != SQLITE_BLOB) {
		return DX_EDECRYPT;
	}
	const uint8_t *nonce = sqlite3_column_blob(s, nonce_col);
	const uint8_t *ct = sqlite3_column_blob(s, ct_col);
	size_t ct_len = (size_t)sqlite3_column_bytes(s, ct_col);
	if (nonce == NULL || ct == NULL || ct_len < STORE_TAG_LEN ||
	    ct_len - STORE_TAG_LEN > max_pt) {
		return DX_EDECRYPT;
	}
	size_t n = ct_len - STORE_TAG_LEN;
	uint8_t *p = malloc(n > 0 ? n : 1);
	if (p == NULL) {
		return DX_ENOMEM;
	}
	unsigned long long plen = 0;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(p, &plen, NULL, ct, ct_len, ad, ad_len,
						       nonce, st->key) != 0) {
		free(p);
		return DX_EDECRYPT;
	}
	*pt = p;
	*pt_len = (size_t)plen;
	return DX_OK;
}

int nstore_col_fixed(sqlite3_stmt *s, int col, uint8_t *out, size_t len)
{
	if (sqlite3_column_type(s, col) != SQLITE_BLOB ||
	    (size_t)sqlite3_column_bytes(s, col) != len) {
		return DX_EPARSE;
	}
	const void *p = sqlite3_column_blob(s, col);
	if (p == NULL) {
		return DX_EPARSE;
	}
	memcpy(out, p, len);
	return DX_OK;
}

int nstore_col_dup(sqlite3_stmt *s, int col, size_t max, uint8_t **out, size_t *len)
{
	int t = sqlite3_column_type(s, col);
	if (t != SQLITE_BLOB) {
		return t == SQLITE_NULL ? DX_ENOENT : DX_EPARSE;
	}
	const void *p = sqlite3_column_blob(s, col);
	size_t n = (size_t)sqlite3_column_bytes(s, col);
	if (n > max) {
		return DX_EPARSE;
	}
	uint8_t *b = malloc(n > 0 ? n : 1);
	if (b == NULL) {
		return DX_ENOMEM;
	}
	if (n > 0) {
		memcpy(b, p, n);
	}
	*out = b;
	*len = n;
	return DX_OK;
}

int nstore_col_text(sqlite3_stmt *s, int col, char *out, size_t max)
{
	const unsigned char *p = sqlite3_column_text(s, col);
	size_t n = (size_t)sqlite3_column_bytes(s, col);
	if (p == NULL || n > max || memchr(p, 0, n) != NULL) {
		return DX_EPARSE;
	}
	memcpy(out, p, n);
	out[n] = '\0';
	return DX_OK;
}

int nstore_col_state(sqlite3_stmt *s, int col, char out[static DX_STATE_LEN + 1])
{
	char buf[DX_STATE_LEN + 1];
	if (sqlite3_column_type(s, col) != SQLITE_TEXT ||
	    nstore_col_text(s, col, buf, DX_STATE_LEN) != DX_OK || !dx_state_valid(buf)) {
		return DX_EPARSE;
	}
	memcpy(out, buf, sizeof(buf));
	return DX_OK;
}

uint64_t nstore_col_u64(sqlite3_stmt *s, int col)
{
	sqlite3_int64 v = sqlite3_column_int64(s, col);
	return v < 0 ? 0 : (uint64_t)v;
}

int nstore_query_blob(struct node_store *st, const char *sql, const uint8_t *key, size_t key_len,
		      size_t max, uint8_t **out, size_t *out_len)
{
	sqlite3_stmt *s;
	int rc = db_stmt(st->db, sql, &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_blob(s, 1, key, (int)key_len, SQLITE_STATIC);
	rc = nstore_step_row(s);
	if (rc <= 0) {
		return rc == 0 ? DX_ENOENT : rc;
	}
	rc = nstore_col_dup(s, 0, max, out, out_len);
	sqlite3_reset(s);
	return rc;
}
