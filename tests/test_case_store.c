/*
 * test_case_store: the node's cases (daemon/node/case_store.c): a case note
 * filed and read back byte for byte; ids refused or taken; listing by
 * open/closed; closing; search over every text field, ignoring case, with
 * decrypted notes; and sealing at rest: no title or note text in the
 * database files, a note moved to another row or opened under another key
 * refused.
 */
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "case_store.h"
#include "casework.pb-c.h"
#include "testlib.h"

#define TOO_LONG_ID "01234567890123456789012345678901234567890123456789012345678901234"

static uint8_t KEY[CASE_STORE_KEY_LEN];
static uint64_t NOW = 1790000000000ULL;

static uint64_t clock_fn(void *ctx)
{
	(void)ctx;
	return NOW;
}

static const char *db_path(const char *name)
{
	return test_path(test_tmpdir(), name);
}

static struct case_store *open_store(const char *path)
{
	struct case_store *cs = NULL;
	assert_dx_ok(case_store_open(path, KEY, &cs));
	case_store_set_clock(cs, clock_fn, NULL);
	return cs;
}

/* A note with text in a nested field, a repeated field and an enum. */
static void make_note(const char *id, const char *title, const char *broker, uint8_t **out,
		      size_t *len)
{
	Dx__CaseNote n = DX__CASE_NOTE__INIT;
	Dx__Transfer t = DX__TRANSFER__INIT;
	Dx__Item item = DX__ITEM__INIT;
	Dx__Item *items[] = { &item };
	Dx__IllicitActivity il = DX__ILLICIT_ACTIVITY__INIT;
	Dx__ArmsCategory cats[] = { DX__ARMS_CATEGORY__LIGHT_WEAPONS };
	char *states[] = { "FRA", "MEX" };
	n.case_id = (char *)id;
	n.title = (char *)title;
	n.request_summary = "Please confirm the delivery of the consignment.";
	n.n_states_involved = 2;
	n.states_involved = states;
	n.stage = DX__STAGE__STAGE_RISK_ANALYSIS;
	item.description = "Mortars, 60 mm";
	item.quantity = 12;
	item.value = "USD 90000";
	t.n_items = 1;
	t.items = items;
	t.n_categories = 1;
	t.categories = cats;
	t.end_user = "Ministry of Defence";
	n.transfer = &t;
	il.illicit_brokers = (char *)broker;
	n.illicit = &il;
	n.investigation_open = 1;
	assert_dx_ok(proto_pack_alloc(&n.base, out, len));
}

static void add(struct case_store *cs, const char *id, const char *title, const char *broker)
{
	uint8_t *note;
	size_t len;
	make_note(id, title, broker, &note, &len);
	assert_dx_ok(case_store_add(cs, note, len));
	free(note);
}

static void test_round_trip(void **state)
{
	(void)state;
	struct case_store *cs = open_store(db_path("round.db"));
	uint8_t *note, *back;
	size_t len, back_len;
	struct case_info info;
	make_note("FRA-2025-017", "Rifles re-exported", "Broker Zeta", &note, &len);
	assert_dx_ok(case_store_add(cs, note, len));
	assert_dx_err(case_store_add(cs, note, len), DX_EEXIST);
	assert_dx_ok(case_store_get(cs, "FRA-2025-017", &info, &back, &back_len));
	assert_int_equal(back_len, len);
	assert_memory_equal(back, note, len);
	assert_string_equal(info.case_id, "FRA-2025-017");
	assert_string_equal(info.title, "Rifles re-exported");
	assert_true(info.open);
	assert_int_equal(info.created_ms, NOW);
	assert_int_equal(info.updated_ms, NOW);
	assert_dx_err(case_store_get(cs, "FRA-2025-018", &info, NULL, NULL), DX_ENOENT);
	free(back);
	free(note);
	/* Survives a reopen. */
	case_store_close(cs);
	cs = open_store(db_path("round.db"));
	assert_dx_ok(case_store_get(cs, "FRA-2025-017", &info, NULL, NULL));
	case_store_close(cs);
}

static void test_refusals(void **state)
{
	(void)state;
	struct case_store *cs = open_store(db_path("refuse.db"));
	uint8_t *note;
	size_t len;
	/* The last is 65 characters long: one too many. */
	static const char *const bad_ids[] = {
		"", "FRA 2025", "FRA/2025", "caf\xc3\xa9", TOO_LONG_ID,
	};
	for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		assert_false(case_store_id_valid(bad_ids[i]));
		make_note(bad_ids[i], "t", "", &note, &len);
		assert_dx_err(case_store_add(cs, note, len), DX_EINVAL);
		free(note);
	}
	assert_true(case_store_id_valid("a.B_c-9"));
	make_note("OK-1", "", "", &note, &len); /* no title */
	assert_dx_err(case_store_add(cs, note, len), DX_EINVAL);
	free(note);
	static const uint8_t junk[] = { 0xff, 0xff, 0xff };
	assert_dx_err(case_store_add(cs, junk, sizeof(junk)), DX_EPARSE);
	assert_dx_err(case_store_get(cs, "no such/id", NULL, NULL, NULL), DX_EINVAL);
	case_store_close(cs);
}

struct seen {
	char ids[8][CASE_ID_MAX + 1];
	size_t n;
};

static int collect(void *ctx, const struct case_info *info)
{
	struct seen *s = ctx;
	assert_true(s->n < 8);
	snprintf(s->ids[s->n++], sizeof(s->ids[0]), "%s", info->case_id);
	return 0;
}

static struct seen list(struct case_store *cs, enum case_store_which w)
{
	struct seen s = { .n = 0 };
	assert_dx_ok(case_store_list(cs, w, collect, &s));
	return s;
}

static struct seen search(struct case_store *cs, const char *text)
{
	struct seen s = { .n = 0 };
	assert_dx_ok(case_store_search(cs, text, collect, &s));
	return s;
}

static void test_list_close_search(void **state)
{
	(void)state;
	struct case_store *cs = open_store(db_path("list.db"));
	NOW = 1000;
	add(cs, "A-1", "First case", "Broker Alpha");
	NOW = 2000;
	add(cs, "B-2", "Second case", "Broker Beta");
	NOW = 3000;
	add(cs, "C-3", "Third case", "Broker Gamma");
	struct seen s = list(cs, CASE_STORE_OPEN);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.ids[0], "A-1");
	assert_string_equal(s.ids[2], "C-3");

	NOW = 4000;
	assert_dx_ok(case_store_set_closed(cs, "B-2"));
	assert_dx_ok(case_store_set_closed(cs, "B-2")); /* again: nothing changes */
	assert_dx_err(case_store_set_closed(cs, "Z-9"), DX_ENOENT);
	struct case_info info;
	assert_dx_ok(case_store_get(cs, "B-2", &info, NULL, NULL));
	assert_false(info.open);
	assert_int_equal(info.created_ms, 2000);
	assert_int_equal(info.updated_ms, 4000);
	s = list(cs, CASE_STORE_OPEN);
	assert_int_equal(s.n, 2);
	s = list(cs, CASE_STORE_CLOSED);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], "B-2");
	assert_int_equal(list(cs, CASE_STORE_ALL).n, 3);

	/* Nested text, any case; closed cases too. */
	s = search(cs, "broker beta");
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], "B-2");
	assert_int_equal(search(cs, "BROKER").n, 3);
	assert_int_equal(search(cs, "mortars, 60").n, 3);   /* a repeated submessage */
	assert_int_equal(search(cs, "usd 9").n, 3);	    /* an item's value */
	assert_int_equal(search(cs, "MEX").n, 3);	    /* a repeated string */
	assert_int_equal(search(cs, "light_weapons").n, 3); /* an enum's name */
	assert_int_equal(search(cs, "risk_analysis").n, 3);
	assert_int_equal(search(cs, "third").n, 1); /* the title */
	assert_int_equal(search(cs, "c-3").n, 1);   /* the id */
	assert_int_equal(search(cs, "nowhere to be found").n, 0);
	assert_int_equal(search(cs, "unspecified").n, 0); /* unset enums do not count */
	struct seen none = { .n = 0 };
	assert_dx_err(case_store_search(cs, "", collect, &none), DX_EINVAL);
	case_store_close(cs);
}

/* Whether needle occurs in the file at path (absent files hold nothing). */
static int file_contains(const char *path, const char *needle)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		return 0;
	}
	static uint8_t buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	size_t k = strlen(needle);
	for (size_t i = 0; i + k <= n; i++) {
		if (memcmp(buf + i, needle, k) == 0) {
			return 1;
		}
	}
	return 0;
}

static void test_sealed_at_rest(void **state)
{
	(void)state;
	const char *path = db_path("sealed.db");
	char wal[512];
	snprintf(wal, sizeof(wal), "%s-wal", path);
	struct case_store *cs = open_store(path);
	add(cs, "S-1", "Unmistakable title words", "Broker Omicron");
	add(cs, "S-2", "Another title", "Broker Sigma");
	/* Both the database and its write-ahead log, while open and after closing. */
	static const char *const secrets[] = { "Unmistakable title", "Broker Omicron",
					       "Mortars, 60 mm", "Ministry of Defence",
					       "confirm the delivery" };
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
			assert_false(file_contains(path, secrets[i]));
			assert_false(file_contains(wal, secrets[i]));
		}
		if (round == 0) {
			case_store_close(cs);
		}
	}

	/* Another key opens nothing. */
	uint8_t other[CASE_STORE_KEY_LEN];
	struct case_info info;
	memcpy(other, KEY, sizeof(other));
	other[0] ^= 1;
	assert_dx_ok(case_store_open(path, other, &cs));
	assert_dx_err(case_store_get(cs, "S-1", &info, NULL, NULL), DX_EDECRYPT);
	case_store_close(cs);

	/* A sealed note moved to another case does not open there. */
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "UPDATE cases SET note = (SELECT note FROM cases WHERE "
				      "case_id = 'S-2') WHERE case_id = 'S-1'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	cs = open_store(path);
	uint8_t *note;
	size_t len;
	assert_dx_ok(case_store_get(cs, "S-1", &info, NULL, NULL)); /* the title is intact */
	assert_dx_err(case_store_get(cs, "S-1", &info, &note, &len), DX_EDECRYPT);
	assert_dx_ok(case_store_get(cs, "S-2", &info, &note, &len));
	free(note);
	struct seen s = { .n = 0 };
	assert_dx_err(case_store_search(cs, "omicron", collect, &s), DX_EDECRYPT);
	case_store_close(cs);
}

int main(void)
{
	assert_int_equal(sodium_init() >= 0, 1);
	randombytes_buf(KEY, sizeof(KEY));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_list_close_search),
		cmocka_unit_test(test_sealed_at_rest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
