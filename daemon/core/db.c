/*
 * db.c: SQLite helpers. See db.h.
 */
#include "db.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STMT_CACHE 256

struct cached {
	const char *sql; /* compared by pointer first, then by content */
	sqlite3_stmt *stmt;
};

struct db {
	sqlite3 *h;
	struct cached cache[STMT_CACHE];
	size_t n_cache;
};

uint64_t db_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int db_from_sqlite(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return DX_OK;
	case SQLITE_NOMEM:
		return DX_ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return DX_EBUSY;
	case SQLITE_CONSTRAINT:
		return DX_EEXIST;
	case SQLITE_FULL:
		return DX_ENOSPC;
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_READONLY:
		return DX_EIO;
	case SQLITE_TOOBIG:
		return DX_ETOOBIG;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return DX_EPARSE;
	default:
		return DX_EINTERNAL;
	}
}

const char *db_errmsg(struct db *db)
{
	return sqlite3_errmsg(db->h);
}

void db_rollback(struct db *db)
{
	if (!sqlite3_get_autocommit(db->h)) {
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	}
}

int db_exec(struct db *db, const char *sql)
{
	return db_from_sqlite(sqlite3_exec(db->h, sql, NULL, NULL, NULL));
}

static int user_version(struct db *db, int *v)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db->h, "PRAGMA user_version", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*v = sqlite3_column_int(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return db_from_sqlite(rc);
}

static int apply_schema(struct db *db, const char *schema, int version)
{
	char pragma[64];
	int have = 0, rc;
	if ((rc = user_version(db, &have)) != DX_OK || have >= version) {
		return rc;
	}
	snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", version);
	if ((rc = db_exec(db, "BEGIN IMMEDIATE")) != DX_OK) {
		return rc;
	}
	if ((rc = db_exec(db, schema)) != DX_OK || (rc = db_exec(db, pragma)) != DX_OK) {
		db_rollback(db);
		return rc;
	}
	return db_exec(db, "COMMIT");
}

int db_open(const char *path, const char *schema, int version, struct db **out)
{
	/* Create the file with mode 0600 before SQLite does (it would use 0644). */
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		return DX_EIO;
	}
	close(fd);
	struct db *db = calloc(1, sizeof(*db));
	if (db == NULL) {
		return DX_ENOMEM;
	}
	int rc = db_from_sqlite(sqlite3_open_v2(path, &db->h,
						SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL));
	if (rc == DX_OK) {
		sqlite3_busy_timeout(db->h, 5000);
		rc = db_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
				 "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;");
	}
	if (rc == DX_OK) {
		rc = apply_schema(db, schema, version);
	}
	if (rc != DX_OK) {
		db_close(db);
		return rc;
	}
	*out = db;
	return DX_OK;
}

void db_close(struct db *db)
{
	if (db == NULL) {
		return;
	}
	for (size_t i = 0; i < db->n_cache; i++) {
		sqlite3_finalize(db->cache[i].stmt);
	}
	sqlite3_close(db->h);
	free(db);
}

sqlite3 *db_handle(struct db *db)
{
	return db->h;
}

static sqlite3_stmt *cache_hit(struct db *db, size_t i)
{
	sqlite3_reset(db->cache[i].stmt);
	sqlite3_clear_bindings(db->cache[i].stmt);
	return db->cache[i].stmt;
}

int db_stmt(struct db *db, const char *sql, sqlite3_stmt **out)
{
	/* Callers pass string literals: comparing pointers first finds a
	 * statement without a string comparison per cached entry. */
	for (size_t i = 0; i < db->n_cache; i++) {
		if (db->cache[i].sql == sql) {
			*out = cache_hit(db, i);
			return DX_OK;
		}
	}
	for (size_t i = 0; i < db->n_cache; i++) {
		if (strcmp(db->cache[i].sql, sql) == 0) {
			*out = cache_hit(db, i);
			return DX_OK;
		}
	}
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
	if (rc != SQLITE_OK) {
		return db_from_sqlite(rc);
	}
	if (db->n_cache < STMT_CACHE) {
		db->cache[db->n_cache++] = (struct cached){ sql, st };
	} else {
		/* The cache is sized for every statement a daemon uses; past it,
		 * recycle the oldest rather than fail. */
		sqlite3_finalize(db->cache[0].stmt);
		memmove(&db->cache[0], &db->cache[1], (STMT_CACHE - 1) * sizeof(db->cache[0]));
		db->cache[STMT_CACHE - 1] = (struct cached){ sql, st };
	}
	*out = st;
	return DX_OK;
}

int db_run(struct db *db, const char *sql)
{
	sqlite3_stmt *st;
	int rc = db_stmt(db, sql, &st);
	if (rc != DX_OK) {
		return rc;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
	}
	sqlite3_reset(st);
	return db_from_sqlite(rc);
}

int db_begin(struct db *db)
{
	return db_run(db, "BEGIN IMMEDIATE");
}

int db_commit(struct db *db, uint64_t *elapsed_ns)
{
	uint64_t t0 = db_now_ns();
	int rc = db_run(db, "COMMIT");
	if (elapsed_ns != NULL) {
		*elapsed_ns = db_now_ns() - t0;
	}
	if (rc != DX_OK) {
		db_rollback(db);
	}
	return rc;
}
