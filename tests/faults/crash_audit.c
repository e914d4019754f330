/*
 * crash_audit.c: the crash campaign's audit checks (crash_campaign.h).
 *
 * Online, each node proves the relay's current checkpoint consistent with
 * the one it holds and every receipt it holds included (`divex audit
 * check`), reports no alarm, and its log holds no ALARM line and no refused
 * envelope. Offline, with every daemon stopped, the relay's Merkle tree is
 * rebuilt from the leaves in its database, independently of the relay's own
 * stored tree nodes, and every checkpoint the relay stored and every one a
 * node kept must carry the relay's signature and the rebuilt root at its
 * size: no checkpoint handed out during the campaign disagrees with the log
 * that survived the crashes.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint.h"
#include "crash_campaign.h"
#include "testlib.h"
#include "util.h"

void crash_audit_nodes(struct crash_run *c, struct crash_audit *a)
{
	struct tnet *t = c->net;
	for (int i = 0; i < t->n_nodes; i++) {
		struct tnode *n = &t->nodes[i];
		struct tcli r;
		tnode_cli_argv(n, (uid_t)-1, &r, TN_ARGS("audit", "check"));
		if (r.status != 0 || r.json == NULL || tj_int(r.json, "receipts_failed") != 0 ||
		    tj_int(r.json, "alarms") != 0) {
			a->check_failed++;
			fprintf(stderr, "crash: %s: divex audit check: status %d: %.300s %.300s\n",
				n->state, r.status, r.out, r.err);
		} else {
			a->receipts_checked += (int)tj_int(r.json, "receipts_checked");
		}
		tcli_free(&r);
		json_t *s = TN_CLI_OK(t, n, "status");
		a->alarms += (int)json_array_size(json_object_get(s, "alarms"));
		json_decref(s);
		a->alarms += proc_log_count(&n->proc, "ALARM");
		a->refused += proc_log_count(&n->proc, "refused envelope");
	}
}

/* ---- offline ---- */

static sqlite3 *open_db(struct tnet *t, const char *home, const char *name)
{
	char path[700];
	sqlite3 *db = NULL;
	snprintf(path, sizeof(path), "%s/%s", home, name);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		TN_FAIL(t, "opening %s: %s", path, db != NULL ? sqlite3_errmsg(db) : "no memory");
	}
	return db;
}

static sqlite3_stmt *prepare(struct tnet *t, sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		TN_FAIL(t, "%s: %s", sql, sqlite3_errmsg(db));
	}
	return st;
}

/* Every leaf of the relay's database, in order, appended to m. */
static void rebuild_tree(struct tnet *t, sqlite3 *db, struct merkle *m)
{
	sqlite3_stmt *st = prepare(t, db, "SELECT idx, data FROM leaves ORDER BY idx");
	uint64_t want = 0, got;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if ((uint64_t)sqlite3_column_int64(st, 0) != want) {
			TN_FAIL(t, "the relay's log has no leaf %llu", (unsigned long long)want);
		}
		assert_dx_ok(merkle_append(m, sqlite3_column_blob(st, 1),
					   (size_t)sqlite3_column_bytes(st, 1), &got, NULL));
		assert_true(got == want);
		want++;
	}
	sqlite3_finalize(st);
}

/*
 * Checks every checkpoint in db's checkpoints table against the rebuilt
 * tree; returns how many there were.
 */
static int check_checkpoints(struct tnet *t, sqlite3 *db, const char *whose, const struct merkle *m,
			     const uint8_t pk[KEYS_SIGN_PK_LEN])
{
	sqlite3_stmt *st = prepare(t, db, "SELECT size, root, text FROM checkpoints ORDER BY size");
	int n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct checkpoint cp;
		uint8_t root[MERKLE_HASH_LEN];
		uint64_t size = (uint64_t)sqlite3_column_int64(st, 0);
		int rc = checkpoint_parse_verify(sqlite3_column_blob(st, 2),
						 (size_t)sqlite3_column_bytes(st, 2), TN_RELAY_NAME,
						 TN_RELAY_NAME, pk, &cp);
		if (rc != DX_OK || cp.size != size || size > m->size ||
		    sqlite3_column_bytes(st, 1) != MERKLE_HASH_LEN ||
		    memcmp(sqlite3_column_blob(st, 1), cp.root, MERKLE_HASH_LEN) != 0) {
			TN_FAIL(t,
				"%s: the checkpoint of size %llu does not verify (%s) or is past "
				"the relay's log of %llu leaves",
				whose, (unsigned long long)size, dx_errname(rc),
				(unsigned long long)m->size);
		}
		assert_dx_ok(merkle_root(m, size, root));
		if (memcmp(root, cp.root, MERKLE_HASH_LEN) != 0) {
			TN_FAIL(t, "%s: the checkpoint of size %llu disagrees with the relay's log",
				whose, (unsigned long long)size);
		}
		n++;
	}
	sqlite3_finalize(st);
	return n;
}

json_t *crash_relay_acked(struct crash_run *c)
{
	json_t *set = json_object();
	sqlite3 *db = open_db(c->net, c->net->relay.home, "relay.db");
	char hex[2 * 64 + 1];
	/* The relay writes while this reads: wait for its commits rather than fail. */
	sqlite3_busy_timeout(db, 30000);
	sqlite3_stmt *st = prepare(
		c->net, db, "SELECT envelope_id FROM envelopes WHERE acked_index IS NOT NULL");
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		size_t len = (size_t)sqlite3_column_bytes(st, 0);
		assert_true(len > 0 && len <= 64);
		dx_hex(hex, sqlite3_column_blob(st, 0), len);
		json_object_set_new(set, hex, json_true());
	}
	if (rc != SQLITE_DONE) {
		TN_FAIL(c->net, "reading the relay's envelopes: %s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return set;
}

static int count_rows(struct tnet *t, sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = prepare(t, db, sql);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

void crash_audit_offline(struct crash_run *c, struct crash_audit *a)
{
	struct tnet *t = c->net;
	struct merkle_memstore ms;
	struct merkle m;
	uint8_t pk[KEYS_SIGN_PK_LEN];
	assert_false(t->relay.running);
	assert_dx_ok(dx_unhex(pk, sizeof(pk), t->relay_key));
	merkle_memstore_init(&ms);
	assert_dx_ok(merkle_init(&m, &merkle_memstore_ops, &ms, 0));
	sqlite3 *db = open_db(t, t->relay.home, "relay.db");
	rebuild_tree(t, db, &m);
	a->leaves = m.size;
	a->relay_checkpoints = check_checkpoints(t, db, "the relay", &m, pk);
	sqlite3_close(db);
	for (int i = 0; i < t->n_nodes; i++) {
		struct tnode *n = &t->nodes[i];
		assert_false(n->running);
		db = open_db(t, n->home, "node.db");
		a->node_checkpoints += check_checkpoints(t, db, n->state, &m, pk);
		a->conflicts += count_rows(t, db, "SELECT COUNT(*) FROM conflicts");
		sqlite3_close(db);
	}
	merkle_memstore_fini(&ms);
}
