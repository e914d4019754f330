/*
 * sqlplan.h: what SQLite would do with a query on a store, for tests that
 * check a query is answered through an index rather than by reading a table.
 */
#ifndef DIVEX_TESTS_SQLPLAN_H
#define DIVEX_TESTS_SQLPLAN_H

/*
 * Whether `EXPLAIN QUERY PLAN sql` on the database at path (opened read-only;
 * a daemon may have it open) names `step`, e.g. "COVERING INDEX name".
 * Fails the test if the database or the query cannot be opened or prepared.
 */
int test_plan_uses(const char *path, const char *sql, const char *step);

#endif
