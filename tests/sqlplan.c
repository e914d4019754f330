/* sqlplan.c: see sqlplan.h. */
#include "sqlplan.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "testlib.h"

int test_plan_uses(const char *path, const char *sql, const char *step)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char q[1024];
	int found = 0;
	assert_true((size_t)snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql) < sizeof(q));
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK) {
		fail_msg("%s: %s", q, sqlite3_errmsg(db));
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *d = (const char *)sqlite3_column_text(st, 3);
		found |= d != NULL && strstr(d, step) != NULL;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return found;
}
