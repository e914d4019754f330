/*
 * db.h: SQLite, the way both daemons use it.
 *
 * A database is opened in WAL mode with synchronous=FULL, so that a COMMIT
 * returns only once the write-ahead log is fsync'd: a promise made after
 * db_commit() (a receipt, an acknowledgement) survives a crash or power loss.
 * Callers batch writes into one transaction to share that fsync (group
 * commit). Prepared statements are cached per SQL string. A struct db belongs
 * to one thread (the daemon's loop thread).
 */
#ifndef DIVEX_CORE_DB_H
#define DIVEX_CORE_DB_H

#include <sqlite3.h>
#include <stdint.h>

#include "error.h"

struct db;

/*
 * Opens (creating if needed) the database at path, mode 0600. When its
 * user_version is below `version`, runs `schema` (a script of statements) in
 * one transaction and sets user_version.
 */
int db_open(const char *path, const char *schema, int version, struct db **out) DX_MUST_CHECK;
void db_close(struct db *db);
sqlite3 *db_handle(struct db *db);
/* Runs one statement with no results through the statement cache (for the
 * transaction and savepoint statements a daemon runs again and again). */
int db_run(struct db *db, const char *sql) DX_MUST_CHECK;

/* Runs a script of statements with no results. */
int db_exec(struct db *db, const char *sql) DX_MUST_CHECK;
/* A cached prepared statement, reset and with bindings cleared. */
int db_stmt(struct db *db, const char *sql, sqlite3_stmt **out) DX_MUST_CHECK;

int db_begin(struct db *db) DX_MUST_CHECK;
/* Commits; *elapsed_ns (may be NULL) receives how long the COMMIT took,
 * which is the fsync of the WAL. */
int db_commit(struct db *db, uint64_t *elapsed_ns) DX_MUST_CHECK;
void db_rollback(struct db *db);

/* Maps an SQLite result code to a DX_E* code. */
int db_from_sqlite(int rc);
/* The last error message SQLite gave, for the log. */
const char *db_errmsg(struct db *db);

/* Monotonic nanoseconds, for timing. */
uint64_t db_now_ns(void);

#endif
