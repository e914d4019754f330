/*
 * test_node_store_trust.c: the roster mirror and the relay checkpoints kept by
 * a node's store (daemon/node/node_store_trust.c).
 *
 * Keys are pinned on first use; a changed key must leave the old entry in
 * effect until the user accepts the new key; out-of-band verification is
 * recorded only for the pinned key. Checkpoints that cannot both hold are
 * refused and kept as evidence across restarts. Entries and checkpoint texts
 * are opaque to the store (the caller verifies them), so plain bytes stand in
 * for them here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "node_store.h"
#include "relay_wire.h"
#include "roster.h"
#include "testlib.h"

static const uint8_t store_key[NODE_STORE_KEY_LEN] = { 42 };
static uint64_t fake_now = 1700000000000ull;

static uint64_t fake_clock(void *ctx)
{
	(void)ctx;
	return fake_now;
}

static const char *new_db(void)
{
	static int n;
	char name[32];
	snprintf(name, sizeof(name), "trust%d.db", n++);
	return test_path(test_tmpdir(), name);
}

static struct node_store *open_store(const char *path)
{
	struct node_store *st = NULL;
	assert_dx_ok(node_store_open(path, store_key, &st));
	node_store_set_clock(st, fake_clock, NULL);
	return st;
}

static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *h = NULL;
	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	char *err = NULL;
	if (sqlite3_exec(h, sql, NULL, NULL, &err) != SQLITE_OK) {
		fail_msg("%s: %s", sql, err);
	}
	sqlite3_close(h);
}

static const uint8_t pk1[32] = { 1 }, pk2[32] = { 2 }, pk3[32] = { 3 };
#define E(s) (const uint8_t *)(s), sizeof(s) - 1

static void expect_entry(struct node_store *st, const char *state, const char *want)
{
	struct node_store_roster_info info;
	uint8_t *e = NULL;
	size_t len = 0;
	assert_dx_ok(node_store_roster_get(st, state, &info, &e, &len));
	assert_int_equal(len, strlen(want));
	assert_memory_equal(e, want, len);
	free(e);
}

static void test_roster_pinning(void **state)
{
	(void)state;
	const char *path = new_db();
	struct node_store *st = open_store(path);
	struct node_store_roster_info info;
	uint8_t *e = NULL;
	size_t len = 0;

	/* First use pins the key. */
	assert_dx_err(node_store_roster_get(st, "MEX", &info, NULL, NULL), DX_ENOENT);
	assert_dx_ok(node_store_roster_put(st, "MEX", E("entry-1"), pk1, RELAY_STATUS_PARTY, 5));
	assert_dx_ok(node_store_roster_get(st, "MEX", &info, NULL, NULL));
	assert_memory_equal(info.identity_pk, pk1, 32);
	assert_int_equal(info.status, RELAY_STATUS_PARTY);
	assert_int_equal(info.log_index, 5);
	assert_int_equal(info.pinned_ms, fake_now);
	assert_int_equal(info.verified_ms, 0);
	assert_int_equal(info.has_pending, 0);
	expect_entry(st, "MEX", "entry-1");

	/* The same key: the entry and status follow the newest log index. */
	fake_now += 100;
	assert_dx_ok(
		node_store_roster_put(st, "MEX", E("entry-2"), pk1, RELAY_STATUS_SUSPENDED, 7));
	assert_dx_ok(node_store_roster_get(st, "MEX", &info, NULL, NULL));
	assert_int_equal(info.status, RELAY_STATUS_SUSPENDED);
	assert_int_equal(info.log_index, 7);
	assert_int_equal(info.updated_ms, fake_now);
	assert_int_equal(info.pinned_ms, fake_now - 100);
	expect_entry(st, "MEX", "entry-2");
	assert_dx_err(node_store_roster_put(st, "MEX", E("entry-old"), pk1, RELAY_STATUS_PARTY, 6),
		      DX_EDUPLICATE_ENTRY);
	assert_dx_ok(
		node_store_roster_put(st, "MEX", E("entry-2"), pk1, RELAY_STATUS_SUSPENDED, 7));
	assert_dx_err(
		node_store_roster_put(st, "MEX", E("entry-x"), pk1, RELAY_STATUS_SUSPENDED, 7),
		DX_EDUPLICATE_ENTRY);
	expect_entry(st, "MEX", "entry-2");

	/* Another key: refused, kept pending, the pinned entry stays in effect. */
	assert_dx_err(node_store_roster_put(st, "MEX", E("entry-3"), pk2, RELAY_STATUS_PARTY, 9),
		      DX_EKEY_CHANGED);
	assert_dx_ok(node_store_roster_get(st, "MEX", &info, NULL, NULL));
	assert_memory_equal(info.identity_pk, pk1, 32);
	assert_int_equal(info.status, RELAY_STATUS_SUSPENDED);
	assert_int_equal(info.has_pending, 1);
	assert_memory_equal(info.pending_identity_pk, pk2, 32);
	assert_int_equal(info.pending_log_index, 9);
	assert_int_equal(info.pending_status, RELAY_STATUS_PARTY);
	expect_entry(st, "MEX", "entry-2");
	/* An older entry under the new key does not replace the newer pending one. */
	assert_dx_err(
		node_store_roster_put(st, "MEX", E("entry-3-old"), pk2, RELAY_STATUS_PARTY, 8),
		DX_EKEY_CHANGED);
	assert_dx_ok(node_store_roster_pending_entry(st, "MEX", &e, &len));
	assert_int_equal(len, 7);
	assert_memory_equal(e, "entry-3", 7);
	free(e);
	node_store_close(st);

	/* All of it survives a restart. */
	st = open_store(path);
	assert_dx_ok(node_store_roster_get(st, "MEX", &info, NULL, NULL));
	assert_memory_equal(info.identity_pk, pk1, 32);
	assert_int_equal(info.has_pending, 1);
	expect_entry(st, "MEX", "entry-2");

	/* Accepting needs the pending key itself. */
	assert_dx_err(node_store_roster_accept_change(st, "MEX", pk3), DX_ESIG);
	assert_dx_err(node_store_roster_accept_change(st, "MEX", pk1), DX_ESIG);
	assert_dx_ok(node_store_roster_get(st, "MEX", &info, NULL, NULL));
	assert_memory_equal(info.identity_pk, pk1, 32);
	fake_now += 100;
	assert_dx_ok(node_store_roster_accept_change(st, "MEX", pk2));
	assert_dx_ok(node_store_roster_get(st, "MEX", &info, NULL, NULL));
	assert_memory_equal(info.identity_pk, pk2, 32);
	assert_int_equal(info.status, RELAY_STATUS_PARTY);
	assert_int_equal(info.log_index, 9);
	assert_int_equal(info.pinned_ms, fake_now);
	assert_int_equal(info.verified_ms, fake_now);
	assert_int_equal(info.has_pending, 0);
	expect_entry(st, "MEX", "entry-3");
	assert_dx_err(node_store_roster_accept_change(st, "MEX", pk2), DX_ENOENT);
	assert_dx_err(node_store_roster_pending_entry(st, "MEX", &e, &len), DX_ENOENT);
	/* The old key is now the changed one. */
	assert_dx_err(node_store_roster_put(st, "MEX", E("entry-4"), pk1, RELAY_STATUS_PARTY, 11),
		      DX_EKEY_CHANGED);
	node_store_close(st);
}

static void test_roster_verify_and_list(void **state)
{
	(void)state;
	struct node_store *st = open_store(new_db());
	struct node_store_roster_info info;
	assert_dx_ok(node_store_roster_put(st, "FRA", E("fra"), pk1, RELAY_STATUS_PARTY, 1));
	assert_dx_ok(node_store_roster_put(st, "BFA", E("bfa"), pk2, RELAY_STATUS_SIGNATORY, 2));
	assert_dx_ok(node_store_roster_put(st, "NZL", E("nzl"), pk3, RELAY_STATUS_PARTY, 3));

	assert_dx_err(node_store_roster_verify_oob(st, "FRA", pk2), DX_ESIG);
	assert_dx_ok(node_store_roster_get(st, "FRA", &info, NULL, NULL));
	assert_int_equal(info.verified_ms, 0);
	fake_now += 5;
	assert_dx_ok(node_store_roster_verify_oob(st, "FRA", pk1));
	assert_dx_ok(node_store_roster_get(st, "FRA", &info, NULL, NULL));
	assert_int_equal(info.verified_ms, fake_now);
	assert_dx_err(node_store_roster_verify_oob(st, "MEX", pk1), DX_ENOENT);
	assert_dx_err(node_store_roster_verify_oob(st, "fra", pk1), DX_ESTATE_CODE);
	assert_dx_err(node_store_roster_accept_change(st, "FRA", pk1), DX_ENOENT);
	assert_dx_err(node_store_roster_accept_change(st, "MEX", pk1), DX_ENOENT);

	/* Refusals of malformed input. */
	uint8_t *big = calloc(1, ROSTER_ENTRY_MAX + 1);
	assert_non_null(big);
	assert_dx_err(node_store_roster_put(st, "ITA", big, ROSTER_ENTRY_MAX + 1, pk1, 1, 1),
		      DX_ETOOBIG);
	assert_dx_ok(node_store_roster_put(st, "ITA", big, ROSTER_ENTRY_MAX, pk1, 1, 1));
	free(big);
	assert_dx_err(node_store_roster_put(st, "DEU", E("x"), pk1, 0, 1), DX_EINVAL);
	assert_dx_err(node_store_roster_put(st, "DEU", E("x"), pk1, 4, 1), DX_EINVAL);
	assert_dx_err(node_store_roster_put(st, "DEU", NULL, 0, pk1, 1, 1), DX_EINVAL);
	assert_dx_err(node_store_roster_put(st, "DEU", E("x"), pk1, 1, (uint64_t)INT64_MAX + 1),
		      DX_EINVAL);
	assert_dx_err(node_store_roster_put(st, "DE", E("x"), pk1, 1, 1), DX_ESTATE_CODE);
	assert_dx_err(node_store_roster_get(st, NULL, &info, NULL, NULL), DX_ESTATE_CODE);
	node_store_close(st);
}

struct roster_seen {
	struct node_store *st;
	size_t n;
	char states[8][4];
};

static int collect_roster(void *ctx, const struct node_store_roster_info *r)
{
	struct roster_seen *s = ctx;
	struct node_store_roster_info again;
	/* The callback may use the store. */
	assert_dx_ok(node_store_roster_get(s->st, r->state, &again, NULL, NULL));
	assert_memory_equal(again.identity_pk, r->identity_pk, 32);
	if (s->n < 8) {
		memcpy(s->states[s->n], r->state, 4);
	}
	s->n++;
	return 0;
}

static void test_roster_list(void **state)
{
	(void)state;
	struct node_store *st = open_store(new_db());
	assert_dx_ok(node_store_roster_put(st, "NZL", E("nzl"), pk3, RELAY_STATUS_PARTY, 3));
	assert_dx_ok(node_store_roster_put(st, "BFA", E("bfa"), pk2, RELAY_STATUS_SIGNATORY, 2));
	assert_dx_ok(node_store_roster_put(st, "FRA", E("fra"), pk1, RELAY_STATUS_PARTY, 1));
	struct roster_seen seen = { .st = st };
	assert_dx_ok(node_store_roster_list(st, collect_roster, &seen));
	assert_int_equal(seen.n, 3);
	assert_string_equal(seen.states[0], "BFA");
	assert_string_equal(seen.states[1], "FRA");
	assert_string_equal(seen.states[2], "NZL");
	node_store_close(st);
}

static void test_roster_corrupt(void **state)
{
	(void)state;
	const char *path = new_db();
	struct node_store *st = open_store(path);
	struct node_store_roster_info info;
	assert_dx_ok(node_store_roster_put(st, "FRA", E("fra"), pk1, RELAY_STATUS_PARTY, 1));
	node_store_close(st);
	raw_exec(path, "UPDATE roster SET identity_pk = x'0102'");
	st = open_store(path);
	assert_dx_err(node_store_roster_get(st, "FRA", &info, NULL, NULL), DX_EPARSE);
	assert_dx_err(node_store_roster_put(st, "FRA", E("fra"), pk1, RELAY_STATUS_PARTY, 2),
		      DX_EPARSE);
	node_store_close(st);
}

/* ---- Checkpoints ---- */

static void root_of(uint8_t root[32], uint8_t v)
{
	memset(root, v, 32);
}

struct conflicts_seen {
	size_t n;
	int kind[8];
	uint64_t held_size[8], offered_size[8];
	char held[8][64], offered[8][64];
};

static int collect_conflict(void *ctx, const struct node_store_conflict *c)
{
	struct conflicts_seen *s = ctx;
	if (s->n < 8) {
		s->kind[s->n] = c->kind;
		s->held_size[s->n] = c->held_size;
		s->offered_size[s->n] = c->offered_size;
		snprintf(s->held[s->n], 64, "%.*s", (int)c->held_len, (const char *)c->held_text);
		snprintf(s->offered[s->n], 64, "%.*s", (int)c->offered_len,
			 (const char *)c->offered_text);
	}
	s->n++;
	return 0;
}

static void expect_latest(struct node_store *st, uint64_t size, uint8_t root_byte, const char *text)
{
	struct node_store_checkpoint c;
	assert_dx_ok(node_store_checkpoint_latest(st, &c));
	assert_int_equal(c.size, size);
	assert_int_equal(c.root[0], root_byte);
	assert_int_equal(c.text_len, strlen(text));
	assert_memory_equal(c.text, text, c.text_len);
	node_store_checkpoint_fini(&c);
}

static void test_checkpoints(void **state)
{
	(void)state;
	const char *path = new_db();
	struct node_store *st = open_store(path);
	struct node_store_checkpoint c;
	uint8_t a[32], b[32], x[32];
	root_of(a, 0xA);
	root_of(b, 0xB);
	root_of(x, 0xEE);

	assert_dx_err(node_store_checkpoint_latest(st, &c), DX_ENOENT);
	assert_dx_ok(node_store_checkpoint_put(st, 5, a, E("cp 5 a"), "relay"));
	expect_latest(st, 5, 0xA, "cp 5 a");
	assert_dx_ok(node_store_checkpoint_put(st, 8, b, E("cp 8 b"), "relay"));
	expect_latest(st, 8, 0xB, "cp 8 b");
	/* The same tree again, e.g. with a witness's cosignature: kept, nothing changes. */
	assert_dx_ok(
		node_store_checkpoint_put(st, 8, b, E("cp 8 b cosigned"), "envelope from MEX"));
	assert_dx_ok(node_store_checkpoint_put(st, 8, b, E("cp 8 b"), "relay"));
	expect_latest(st, 8, 0xB, "cp 8 b");
	/* An older checkpoint already held with the same root: accepted into history. */
	assert_dx_ok(node_store_checkpoint_put(st, 5, a, E("cp 5 a again"), "receipt"));
	expect_latest(st, 8, 0xB, "cp 8 b");

	/* Equivocation: the same size with another root. */
	assert_dx_err(node_store_checkpoint_put(st, 8, x, E("cp 8 x"), "relay"),
		      DX_ELOG_INCONSISTENT);
	expect_latest(st, 8, 0xB, "cp 8 b");
	/* A rollback to a held size with another root, and to a size never held. */
	assert_dx_err(node_store_checkpoint_put(st, 5, x, E("cp 5 x"), "relay"),
		      DX_ELOG_INCONSISTENT);
	assert_dx_err(node_store_checkpoint_put(st, 3, x, E("cp 3 x"), "relay"),
		      DX_ELOG_INCONSISTENT);
	/* The same evidence twice is recorded once. */
	assert_dx_err(node_store_checkpoint_put(st, 8, x, E("cp 8 x"), "relay"),
		      DX_ELOG_INCONSISTENT);
	expect_latest(st, 8, 0xB, "cp 8 b");
	node_store_close(st);

	/* The evidence and the latest checkpoint survive a restart. */
	st = open_store(path);
	expect_latest(st, 8, 0xB, "cp 8 b");
	struct conflicts_seen seen = { 0 };
	assert_dx_ok(node_store_checkpoint_conflicts(st, collect_conflict, &seen));
	assert_int_equal(seen.n, 3);
	assert_int_equal(seen.kind[0], NODE_STORE_CONFLICT_EQUIVOCATION);
	assert_int_equal(seen.held_size[0], 8);
	assert_string_equal(seen.held[0], "cp 8 b");
	assert_string_equal(seen.offered[0], "cp 8 x");
	assert_int_equal(seen.kind[1], NODE_STORE_CONFLICT_EQUIVOCATION);
	assert_string_equal(seen.held[1], "cp 5 a");
	assert_string_equal(seen.offered[1], "cp 5 x");
	assert_int_equal(seen.kind[2], NODE_STORE_CONFLICT_ROLLBACK);
	assert_int_equal(seen.held_size[2], 8);
	assert_int_equal(seen.offered_size[2], 3);
	assert_string_equal(seen.held[2], "cp 8 b");
	assert_string_equal(seen.offered[2], "cp 3 x");
	/* The refused checkpoint is refused after the restart too. */
	assert_dx_err(node_store_checkpoint_put(st, 8, x, E("cp 8 x"), "relay"),
		      DX_ELOG_INCONSISTENT);

	/* Inside a batch, the evidence is committed with the batch. */
	assert_dx_ok(node_store_begin(st));
	assert_dx_err(node_store_checkpoint_put(st, 8, x, E("cp 8 x other"), "relay"),
		      DX_ELOG_INCONSISTENT);
	assert_dx_ok(node_store_checkpoint_put(st, 13, x, E("cp 13 x"), "relay"));
	assert_dx_ok(node_store_commit(st));
	expect_latest(st, 13, 0xEE, "cp 13 x");
	seen.n = 0;
	assert_dx_ok(node_store_checkpoint_conflicts(st, collect_conflict, &seen));
	assert_int_equal(seen.n, 4);

	/* Refusals of malformed input. */
	uint8_t *big = calloc(1, CHECKPOINT_MAX + 1);
	assert_non_null(big);
	assert_dx_err(node_store_checkpoint_put(st, 20, a, big, CHECKPOINT_MAX + 1, "relay"),
		      DX_ETOOBIG);
	free(big);
	assert_dx_err(node_store_checkpoint_put(st, (uint64_t)INT64_MAX + 1, a, E("t"), "relay"),
		      DX_EINVAL);
	assert_dx_err(node_store_checkpoint_put(st, 20, a, NULL, 0, "relay"), DX_EINVAL);
	assert_dx_err(node_store_checkpoint_put(st, 20, a, E("t"), ""), DX_EINVAL);
	char source[NODE_STORE_SOURCE_MAX + 2];
	memset(source, 's', sizeof(source) - 1);
	source[sizeof(source) - 1] = '\0';
	assert_dx_err(node_store_checkpoint_put(st, 20, a, E("t"), source), DX_EINVAL);
	/* The empty tree is a checkpoint too, and smaller than any held: refused. */
	assert_dx_err(node_store_checkpoint_put(st, 0, a, E("cp 0"), "relay"),
		      DX_ELOG_INCONSISTENT);
	node_store_close(st);

	raw_exec(path, "UPDATE checkpoints SET root = x'01' WHERE size = 13");
	st = open_store(path);
	assert_dx_err(node_store_checkpoint_latest(st, &c), DX_EPARSE);
	node_store_close(st);
}

static void test_error_code(void **state)
{
	(void)state;
	assert_int_equal(DX_EKEY_CHANGED, -100);
	assert_string_equal(dx_errname(DX_EKEY_CHANGED), "DX_EKEY_CHANGED");
	assert_non_null(
		strstr(dx_strerror(DX_EKEY_CHANGED), "divex keys verify STATE FINGERPRINT"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roster_pinning),
		cmocka_unit_test(test_roster_verify_and_list),
		cmocka_unit_test(test_roster_list),
		cmocka_unit_test(test_roster_corrupt),
		cmocka_unit_test(test_checkpoints),
		cmocka_unit_test(test_error_code),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
