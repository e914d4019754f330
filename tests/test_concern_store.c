/*
 * test_concern_store.c: the concerns table of cases.db (concern_store.h):
 * rows raised and received, explanations, listings, sealing at rest (no
 * text in the database file, a sealed value moved to another row does not
 * open) and refusals of bad rows.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concern_store.h"
#include "db.h"
#include "testlib.h"

static uint64_t fixed_clock(void *ctx)
{
	(void)ctx;
	return 1772323200000ull; /* 2026-03-01 */
}

static struct case_store *open_store(char *path, size_t size)
{
	uint8_t key[CASE_STORE_KEY_LEN];
	struct case_store *cs = NULL;
	memset(key, 7, sizeof(key));
	snprintf(path, size, "%s/cases.db", test_tmpdir());
	assert_dx_ok(case_store_open(path, key, &cs));
	case_store_set_clock(cs, fixed_clock, NULL);
	assert_dx_ok(concern_store_init(cs));
	assert_dx_ok(concern_store_init(cs));
	return cs;
}

struct seen {
	struct concern_row rows[4];
	char text[4][3][128];
	size_t n;
};

static int collect(void *ctx, const struct concern_row *r)
{
	struct seen *s = ctx;
	assert_true(s->n < 4);
	s->rows[s->n] = *r;
	snprintf(s->text[s->n][0], 128, "%s", r->description);
	snprintf(s->text[s->n][1], 128, "%s", r->explanation != NULL ? r->explanation : "-");
	snprintf(s->text[s->n][2], 128, "%s", r->remedial != NULL ? r->remedial : "-");
	s->n++;
	return 0;
}

static void test_rows(void **state)
{
	(void)state;
	char path[1024];
	struct case_store *cs = open_store(path, sizeof(path));
	struct concern_row a = { .direction = CONCERN_RAISED,
				 .dossier = 1,
				 .description = "leaked to the press" };
	memset(a.id, 1, CONCERN_ID_LEN);
	memset(a.envelope_id, 2, CONCERN_ID_LEN);
	memcpy(a.peer, "MEX", 4);
	assert_dx_ok(concern_store_add(cs, &a));
	assert_dx_ok(concern_store_add(cs, &a)); /* seen again: kept as it is */
	struct concern_row b = a;
	b.direction = CONCERN_RECEIVED;
	b.dossier = 0;
	b.description = "shown in a briefing";
	memset(b.id, 3, CONCERN_ID_LEN);
	memcpy(b.peer, "BFA", 4);
	assert_dx_ok(concern_store_add(cs, &b));

	struct seen s = { 0 };
	assert_dx_ok(concern_store_list(cs, collect, &s));
	assert_int_equal(s.n, 2);
	assert_int_equal(s.rows[0].raised_ms, fixed_clock(NULL));
	assert_int_equal(s.rows[0].explained_ms, 0);
	assert_string_equal(s.text[0][1], "-");

	assert_dx_ok(concern_store_explain(cs, b.id, 1772409600000ull, "a mistake", "training"));
	memset(&s, 0, sizeof(s));
	assert_dx_ok(concern_store_get(cs, b.id, collect, &s));
	assert_int_equal(s.n, 1);
	assert_int_equal(s.rows[0].direction, CONCERN_RECEIVED);
	assert_string_equal(s.rows[0].peer, "BFA");
	assert_int_equal(s.rows[0].explained_ms, 1772409600000ull);
	assert_string_equal(s.text[0][0], "shown in a briefing");
	assert_string_equal(s.text[0][1], "a mistake");
	assert_string_equal(s.text[0][2], "training");

	/* Refusals. */
	uint8_t none[CONCERN_ID_LEN];
	memset(none, 9, sizeof(none));
	assert_dx_err(concern_store_explain(cs, none, 1, "x", ""), DX_ENOENT);
	assert_dx_err(concern_store_explain(cs, a.id, 1, "", ""), DX_EINVAL);
	assert_dx_err(concern_store_get(cs, none, collect, &s), DX_ENOENT);
	struct concern_row bad = a;
	memcpy(bad.peer, "mex", 4);
	assert_dx_err(concern_store_add(cs, &bad), DX_EINVAL);
	bad = a;
	bad.description = "";
	assert_dx_err(concern_store_add(cs, &bad), DX_EINVAL);
	bad = a;
	bad.direction = 3;
	assert_dx_err(concern_store_add(cs, &bad), DX_EINVAL);

	/* A sealed description moved to another row does not open. */
	sqlite3 *db = db_handle(case_store_db(cs));
	assert_int_equal(sqlite3_exec(db,
				      "UPDATE concerns SET description = (SELECT description FROM "
				      "concerns WHERE direction = 1) WHERE direction = 2",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_dx_err(concern_store_get(cs, b.id, collect, &s), DX_EDECRYPT);
	case_store_close(cs);

	/* No text in the file. */
	uint8_t *file = NULL;
	size_t len = 0;
	assert_dx_ok(dx_read_file(path, 64 * 1024 * 1024, &file, &len));
	assert_null(memmem(file, len, "leaked", 6));
	assert_null(memmem(file, len, "a mistake", 9));
	free(file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
