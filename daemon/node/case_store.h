/*
 * case_store.h: the cases an officer keeps on a State node (docs/casework.md):
 * one row per case, with its case note (a serialized dx.CaseNote,
 * casework.proto), its title, and whether it is open.
 *
 * The cases live in their own SQLite database, <home>/cases.db (db.h: WAL,
 * synchronous=FULL, so a function that returns 0 after a write has made it
 * durable). The title and the note are sealed at rest under a key the caller
 * provides (XChaCha20-Poly1305, a random nonce per value, associated data the
 * column's label, a 0x00 byte and the case id): no content reaches the
 * database file in the clear, and a sealed value moved to another row or
 * column fails to open (DX_EDECRYPT). The case id itself is the row's key and
 * is stored as the officer chose it, like a file number on a folder.
 *
 * Ownership and threads: one thread (divexd's loop) owns a struct case_store
 * and calls every function on it. The store keeps the key in sodium_malloc
 * memory and wipes it on close. Functions return 0 or a negative DX_E* code
 * and write their out-parameters only on success. Notes handed out are
 * malloc'd and owned by the caller, who wipes them (sodium_memzero) before
 * free(). Listings decrypt every matching row first and then call back once
 * per case, so a callback may use the store.
 */
#ifndef DIVEX_NODE_CASE_STORE_H
#define DIVEX_NODE_CASE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define CASE_STORE_KEY_LEN 32
/* A case id: 1..64 characters of [A-Za-z0-9._-], e.g. "FRA-2025-017". */
#define CASE_ID_MAX 64
/* A title in UTF-8 bytes. */
#define CASE_TITLE_MAX 512
/* A serialized case note; the CLI's JSON file is capped at 256 KiB, and a
 * note must fit in a message payload with its marking. */
#define CASE_NOTE_MAX (256 * 1024)
/* Search text in bytes. */
#define CASE_SEARCH_MAX 256
/* Cases one listing returns. */
#define CASE_STORE_LIST_MAX 10000

struct case_store;

/* 1 when id is a valid case id, 0 otherwise. */
int case_store_id_valid(const char *id);

/*
 * Checks a serialized dx.CaseNote: canonical encoding within CASE_NOTE_MAX, a
 * valid case id, a title of 1..CASE_TITLE_MAX bytes. With msg_out != NULL the
 * decoded note is handed out (protobuf_c_message_free_unpacked frees it).
 * DX_EPARSE for a note that does not decode, DX_EINVAL for a bad id or title,
 * DX_ETOOBIG when too large.
 */
struct ProtobufCMessage;
int case_store_check_note(const uint8_t *note, size_t len,
			  struct ProtobufCMessage **msg_out) DX_MUST_CHECK;

/* Opens (creating if needed, mode 0600) the case database at path. */
int case_store_open(const char *path, const uint8_t key[static CASE_STORE_KEY_LEN],
		    struct case_store **out) DX_MUST_CHECK;
void case_store_close(struct case_store *cs);

/* The clock for created/updated times; defaults to dx_now_ms (tests set one). */
typedef uint64_t (*case_store_clock_fn)(void *ctx);
void case_store_set_clock(struct case_store *cs, case_store_clock_fn fn, void *ctx);

struct case_info {
	char case_id[CASE_ID_MAX + 1];
	char title[CASE_TITLE_MAX + 1];
	int open;
	uint64_t created_ms;
	uint64_t updated_ms;
};

/*
 * Files a new open case from a serialized note (checked with
 * case_store_check_note; its case_id and title name the case). DX_EEXIST
 * when a case with that id exists, open or closed.
 */
int case_store_add(struct case_store *cs, const uint8_t *note, size_t len) DX_MUST_CHECK;

/* One case: its facts and (when note != NULL) its note. DX_ENOENT if none. */
int case_store_get(struct case_store *cs, const char *case_id, struct case_info *info,
		   uint8_t **note, size_t *note_len) DX_MUST_CHECK;

/* Marks a case closed (closing a closed case changes nothing). DX_ENOENT if none. */
int case_store_set_closed(struct case_store *cs, const char *case_id) DX_MUST_CHECK;

enum case_store_which {
	CASE_STORE_OPEN = 1,
	CASE_STORE_CLOSED = 2,
	CASE_STORE_ALL = 3,
};
/* Called once per case, oldest first; a non-zero return stops and is returned. */
typedef int (*case_store_list_fn)(void *ctx, const struct case_info *info);
int case_store_list(struct case_store *cs, enum case_store_which which, case_store_list_fn fn,
		    void *ctx) DX_MUST_CHECK;

/*
 * The cases (open or closed) whose id, title or any text of the note
 * contains text, ignoring ASCII case; the names of the note's enumerated
 * values (stage, arms categories) count as text too. Every note is
 * decrypted here to be searched: nothing searchable is kept in the clear.
 */
int case_store_search(struct case_store *cs, const char *text, case_store_list_fn fn,
		      void *ctx) DX_MUST_CHECK;

/*
 * For the casework modules that keep their own tables in cases.db (notices,
 * consent): the database (create tables with CREATE TABLE IF NOT EXISTS at
 * start), the store's clock, and values sealed as the store seals its own:
 * XChaCha20-Poly1305 under the store key, a random nonce, associated data
 * label || 0x00 || row_id, so that a value moved to another row or column
 * does not open (DX_EDECRYPT). Use one label per column, "divex/v1/...".
 */
struct db;
struct db *case_store_db(struct case_store *cs);
uint64_t case_store_now(struct case_store *cs);
int case_store_seal(struct case_store *cs, const char *label, const char *row_id,
		    const uint8_t *pt, size_t pt_len, uint8_t **out, size_t *out_len) DX_MUST_CHECK;
/* Opens a value (at most max plaintext bytes) into a new buffer with a NUL after it. */
int case_store_unseal(struct case_store *cs, const uint8_t *v, size_t len, const char *label,
		      const char *row_id, size_t max, uint8_t **out, size_t *out_len) DX_MUST_CHECK;

/* Column readers for those tables, with the checks a row altered outside divex needs. */
struct sqlite3_stmt;
/* Unix ms as SQLite stores them (capped at INT64_MAX). */
int64_t case_store_ms(uint64_t v);
/* A text column of at most max bytes into out (max + 1 bytes); DX_EPARSE otherwise. */
int case_store_col_text(struct sqlite3_stmt *s, int col, char *out, size_t max) DX_MUST_CHECK;
/* A blob column of exactly len bytes into out; DX_EPARSE otherwise. */
int case_store_col_id(struct sqlite3_stmt *s, int col, uint8_t *out, size_t len) DX_MUST_CHECK;
/* A sealed column opened (case_store_unseal); a NULL column is no value (*out NULL). */
int case_store_col_sealed(struct case_store *cs, struct sqlite3_stmt *s, int col,
			  const char *label, const char *row_id, size_t max, uint8_t **out,
			  size_t *out_len) DX_MUST_CHECK;

/*
 * Records the answer to a tracked row: sql is "UPDATE <table> SET <time> =
 * ?2, <answer id> = ?3, <answer> = ?4 WHERE id = ?1"; the answer text (may
 * be NULL) is sealed under label with row_hex as associated data.
 * DX_ENOENT when no row has that id.
 */
int case_store_set_answer(struct case_store *cs, const char *sql, const char *label,
			  const char *row_hex, const uint8_t *id, const uint8_t *answer_id,
			  size_t id_len, uint64_t ms, const char *text, size_t text_len) DX_MUST_CHECK;

#endif
