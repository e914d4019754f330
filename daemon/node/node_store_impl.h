/*
 * node_store_impl.h: what the node_store_*.c files share and nobody else
 * sees: the struct, batch handling inside one operation, sealing at rest, and
 * careful column readers that refuse a corrupt row instead of trusting it.
 * Same thread rules as node_store.h.
 */
#ifndef DIVEX_NODE_NODE_STORE_IMPL_H
#define DIVEX_NODE_NODE_STORE_IMPL_H

#include <sodium.h>
#include <sqlite3.h>

#include "db.h"
#include "node_store.h"

#define STORE_NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define STORE_TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES
/* The largest value sealed at rest: an outbox body with its framing and references. */
#define STORE_PLAIN_MAX (4 + ENVELOPE_BODY_MAX + NODE_STORE_ATTACH_REFS_MAX)

/* Associated-data labels of the sealed columns (node_store.c, schema comment). */
#define STORE_LABEL_OUTBOX "divex/v1/store/outbox"
#define STORE_LABEL_INBOX "divex/v1/store/inbox"
#define STORE_LABEL_INBOX_SUMMARY "divex/v1/store/inbox/summary"

struct node_store {
	struct db *db;
	uint8_t *key; /* sodium_malloc'd, NODE_STORE_KEY_LEN */
	node_store_clock_fn clock;
	void *clock_ctx;
};

uint64_t nstore_now(struct node_store *st);

/*
 * One operation's transaction: its own BEGIN IMMEDIATE ... COMMIT when no
 * batch is open, a savepoint inside the caller's batch otherwise. nstore_tx_end
 * commits or releases on rc == 0 and undoes the operation otherwise; it
 * returns rc, or the commit's error.
 */
struct tx {
	int own;
};
int nstore_tx_begin(struct node_store *st, struct tx *tx) DX_MUST_CHECK;
int nstore_tx_end(struct node_store *st, struct tx *tx, int rc) DX_MUST_CHECK;

/* Runs a statement that returns no row; DX_EEXIST on a constraint. */
int nstore_step_done(sqlite3_stmt *s) DX_MUST_CHECK;
/* Steps once: 1 for a row, 0 for none, or a negative DX_E* code. */
int nstore_step_row(sqlite3_stmt *s);
/* Makes sure peer has a row in `peers`, then reads one integer column of it
 * with `select` (which takes the peer as its one parameter). */
int nstore_peer_value(struct node_store *st, const char *peer, const char *select,
		      sqlite3_int64 *out) DX_MUST_CHECK;
/* Stores a relay receipt for the row named by key through apply(), in its own
 * transaction (or the open batch), after checking the receipt's size. */
typedef int (*nstore_receipt_fn)(struct node_store *st, const uint8_t *key, const uint8_t *receipt,
				 size_t receipt_len);
int nstore_put_receipt(struct node_store *st, const uint8_t *key, const uint8_t *receipt,
		       size_t receipt_len, nstore_receipt_fn apply) DX_MUST_CHECK;
/*
 * Reads every remaining row of s into a new array of elem-byte records, each
 * filled by row() (which cleans up after itself when it fails). Listings read
 * all their rows before calling back, so that a callback may use the store.
 * *out (malloc'd, NULL when empty) and *n hold the records read, also on
 * failure, for the caller to release; s is reset.
 */
int nstore_collect(sqlite3_stmt *s, size_t elem, int (*row)(sqlite3_stmt *s, void *rec),
		   void **out, size_t *n) DX_MUST_CHECK;

/*
 * Seals pt under the store key with a fresh random nonce; ad = label || 0x00
 * || pk. ct (malloc'd) holds pt_len + STORE_TAG_LEN bytes.
 */
int nstore_seal(struct node_store *st, const char *label, const uint8_t *pk, size_t pk_len,
		const uint8_t *pt, size_t pt_len, uint8_t nonce[static STORE_NONCE_LEN],
		uint8_t **ct, size_t *ct_len) DX_MUST_CHECK;
/*
 * Opens a sealed column pair of the current row (nonce in column nonce_col,
 * ciphertext in ct_col). A wrong-sized nonce, a short ciphertext or a failed
 * authentication is DX_EDECRYPT. *pt is malloc'd (at least one byte) and
 * holds pt_len bytes.
 */
int nstore_open_cols(struct node_store *st, sqlite3_stmt *s, int nonce_col, int ct_col,
		     const char *label, const uint8_t *pk, size_t pk_len, size_t max_pt,
		     uint8_t **pt, size_t *pt_len) DX_MUST_CHECK;

/* Copies a blob column that must be exactly len bytes (DX_EPARSE otherwise). */
int nstore_col_fixed(sqlite3_stmt *s, int col, uint8_t *out, size_t len) DX_MUST_CHECK;
/* Copies a blob column of at most max bytes into a new buffer (at least one byte). */
int nstore_col_dup(sqlite3_stmt *s, int col, size_t max, uint8_t **out, size_t *len) DX_MUST_CHECK;
/* Copies a State code column (DX_EPARSE when it is not one). */
int nstore_col_state(sqlite3_stmt *s, int col, char out[static DX_STATE_LEN + 1]) DX_MUST_CHECK;
/* Copies a text column of at most max bytes and a NUL (DX_EPARSE when longer). */
int nstore_col_text(sqlite3_stmt *s, int col, char *out, size_t max) DX_MUST_CHECK;
uint64_t nstore_col_u64(sqlite3_stmt *s, int col);

/* Looks up a row through a one-row query: the blob column 0, or DX_ENOENT. */
int nstore_query_blob(struct node_store *st, const char *sql, const uint8_t *key, size_t key_len,
		      size_t max, uint8_t **out, size_t *out_len) DX_MUST_CHECK;

#endif
