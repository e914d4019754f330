/*
 * test_node_store_inbox.c: the inbox of the node's durable store
 * (daemon/node/node_store_inbox.c), with its replay ids and per-sender gap
 * tracking, and the sealing of bodies at rest: a wrong store key, a sealed
 * value moved to another row or column, corrupt rows, and a canary that must
 * never appear in the database or its write-ahead log.
 *
 * Tampering and corruption are done with raw SQL on the database file, as an
 * attacker with access to the disk could.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "node_store.h"
#include "sqlplan.h"
#include "testlib.h"

static const uint8_t key1[NODE_STORE_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static const uint8_t key2[NODE_STORE_KEY_LEN] = { 9, 9, 9 };

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
	snprintf(name, sizeof(name), "inbox%d.db", n++);
	return test_path(test_tmpdir(), name);
}

static struct node_store *open_store(const char *path, const uint8_t *key)
{
	struct node_store *st = NULL;
	assert_dx_ok(node_store_open(path, key, &st));
	node_store_set_clock(st, fake_clock, NULL);
	return st;
}

/* Runs SQL on the file directly, outside the store. */
static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *h = NULL;
	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	char *err = NULL;
	int rc = sqlite3_exec(h, sql, NULL, NULL, &err);
	if (rc != SQLITE_OK) {
		fail_msg("%s: %s", sql, err);
	}
	sqlite3_close(h);
}

static int count_out(void *ctx, const struct node_store_outbox_info *m)
{
	(void)m;
	(*(size_t *)ctx)++;
	return 0;
}

static void fill(uint8_t *b, size_t n, uint8_t v)
{
	memset(b, v, n);
}

/* ---- Inbox ---- */

static struct node_store_opened opened(uint8_t tag, const char *sender, uint64_t seq,
				       const char *body, const char *summary)
{
	struct node_store_opened m = {
		.sequence = seq,
		.created_ms = fake_now - 1000,
		.body = (const uint8_t *)body,
		.body_len = strlen(body),
		.summary = summary,
		.fetch_receipt = (const uint8_t *)"fetch receipt",
		.fetch_receipt_len = 13,
	};
	fill(m.digest, sizeof(m.digest), tag);
	fill(m.envelope_id, sizeof(m.envelope_id), tag);
	memcpy(m.sender, sender, DX_STATE_LEN + 1);
	return m;
}

struct seen_in {
	size_t n;
	struct node_store_inbox_info m[16];
};

static int collect_in(void *ctx, const struct node_store_inbox_info *m)
{
	struct seen_in *s = ctx;
	if (s->n < 16) {
		s->m[s->n] = *m;
	}
	s->n++;
	return 0;
}

static void test_inbox_basic(void **state)
{
	(void)state;
	const char *path = new_db();
	struct node_store *st = open_store(path, key1);
	struct node_store_opened m = opened(0x10, "MEX", 1, "the body", "H2 / A1: routes");
	int seen = -1;
	uint8_t *b = NULL;
	size_t bl = 0;

	struct node_store_counts k;
	assert_dx_ok(node_store_count(st, &k));
	assert_int_equal(k.inbox, 0);
	assert_dx_ok(node_store_inbox_seen(st, m.envelope_id, &seen));
	assert_int_equal(seen, 0);
	fake_now += 7;
	assert_dx_ok(node_store_inbox_store_opened(st, &m));
	assert_dx_ok(node_store_count(st, &k));
	assert_int_equal(k.inbox, 1);
	assert_int_equal(k.inbox_unacked, 1);
	assert_int_equal(k.outbox[NODE_STORE_OUT_QUEUED], 0);
	assert_dx_ok(node_store_inbox_seen(st, m.envelope_id, &seen));
	assert_int_equal(seen, 1);
	assert_dx_ok(node_store_inbox_read(st, m.digest, &b, &bl));
	assert_int_equal(bl, 8);
	assert_memory_equal(b, "the body", 8);
	sodium_memzero(b, bl);
	free(b);

	struct node_store_inbox_info info;
	assert_dx_ok(node_store_inbox_get(st, m.digest, &info));
	assert_string_equal(info.sender, "MEX");
	assert_string_equal(info.summary, "H2 / A1: routes");
	assert_int_equal(info.summary_err, 0);
	assert_int_equal(info.acked, 0);
	assert_int_equal(info.sequence, 1);
	assert_int_equal(info.received_ms, fake_now);
	assert_int_equal(info.created_ms, m.created_ms);
	assert_dx_ok(node_store_inbox_receipt(st, m.digest, NODE_STORE_RECEIPT_FETCH, &b, &bl));
	assert_int_equal(bl, 13);
	free(b);
	assert_dx_err(node_store_inbox_receipt(st, m.digest, NODE_STORE_RECEIPT_ACK, &b, &bl),
		      DX_ENOENT);
	assert_dx_err(node_store_inbox_receipt(st, m.digest, 9, &b, &bl), DX_EINVAL);

	/* The same envelope id again is a replay; so is the same digest. */
	struct node_store_opened again = opened(0x10, "MEX", 2, "other", "s");
	again.digest[0] = 0x99;
	assert_dx_err(node_store_inbox_store_opened(st, &again), DX_EREPLAY);
	again = opened(0x10, "MEX", 2, "other", "s");
	again.envelope_id[0] = 0x99;
	assert_dx_err(node_store_inbox_store_opened(st, &again), DX_EREPLAY);
	/* The refused envelope left nothing behind: its id is not marked seen. */
	assert_dx_ok(node_store_inbox_seen(st, again.envelope_id, &seen));
	assert_int_equal(seen, 0);
	uint64_t hi = 0;
	assert_dx_ok(node_store_inbox_highest(st, "MEX", &hi));
	assert_int_equal(hi, 1);

	/* Acknowledgement receipts: idempotent, the first one is kept. */
	uint8_t unknown[32] = { 0 };
	assert_dx_err(node_store_inbox_mark_acked(st, unknown, (const uint8_t *)"r", 1), DX_ENOENT);
	assert_dx_ok(node_store_inbox_mark_acked(st, m.digest, (const uint8_t *)"ack", 3));
	assert_dx_ok(node_store_inbox_mark_acked(st, m.digest, (const uint8_t *)"ack", 3));
	assert_dx_err(node_store_inbox_mark_acked(st, m.digest, (const uint8_t *)"ack2", 4),
		      DX_EEXIST);
	assert_dx_err(node_store_inbox_mark_acked(st, m.digest, NULL, 0), DX_EINVAL);
	node_store_close(st);

	st = open_store(path, key1);
	assert_dx_ok(node_store_count(st, &k));
	assert_int_equal(k.inbox, 1);
	assert_int_equal(k.inbox_unacked, 0);
	assert_dx_ok(node_store_inbox_get(st, m.digest, &info));
	assert_int_equal(info.acked, 1);
	assert_dx_ok(node_store_inbox_receipt(st, m.digest, NODE_STORE_RECEIPT_ACK, &b, &bl));
	assert_int_equal(bl, 3);
	assert_memory_equal(b, "ack", 3);
	free(b);
	assert_dx_ok(node_store_inbox_read(st, m.digest, &b, &bl));
	assert_memory_equal(b, "the body", 8);
	free(b);
	assert_dx_err(node_store_inbox_read(st, unknown, &b, &bl), DX_ENOENT);
	assert_dx_err(node_store_inbox_get(st, unknown, &info), DX_ENOENT);
	node_store_close(st);
}

/*
 * Messages without an acknowledgement receipt come back oldest first, at most
 * as many as asked, and are found through an index of their own, which a
 * store made before that index gains when it is opened (every idle round of
 * the inbox asks: reading the messages themselves cost 8.5 ms at 10,000).
 */
static void test_inbox_unacked(void **state)
{
	(void)state;
	const char *path = new_db();
	struct node_store *st = open_store(path, key1);
	struct node_store_opened m[3];
	for (int i = 0; i < 3; i++) {
		m[i] = opened((uint8_t)(0x30 + i), "MEX", (uint64_t)i + 1, "body", "s");
		assert_dx_ok(node_store_inbox_store_opened(st, &m[i]));
	}
	assert_dx_ok(node_store_inbox_mark_acked(st, m[1].digest, (const uint8_t *)"ack", 3));
	uint8_t digests[4][NODE_STORE_DIGEST_LEN];
	char senders[4][DX_STATE_LEN + 1];
	size_t n = 9;
	assert_dx_ok(node_store_inbox_unacked(st, 4, digests, senders, &n));
	assert_int_equal(n, 2);
	assert_memory_equal(digests[0], m[0].digest, NODE_STORE_DIGEST_LEN);
	assert_memory_equal(digests[1], m[2].digest, NODE_STORE_DIGEST_LEN);
	assert_string_equal(senders[1], "MEX");
	assert_dx_ok(node_store_inbox_unacked(st, 1, digests, senders, &n));
	assert_int_equal(n, 1);
	assert_memory_equal(digests[0], m[0].digest, NODE_STORE_DIGEST_LEN);
	struct node_store_counts k;
	assert_dx_ok(node_store_count(st, &k));
	assert_int_equal(k.inbox, 3);
	assert_int_equal(k.inbox_unacked, 2);
	node_store_close(st);

	const char *q = "SELECT digest, sender FROM inbox WHERE ack_receipt IS NULL ORDER BY id LIMIT 8";
	assert_true(test_plan_uses(path, q, "inbox_unacked"));
	raw_exec(path, "DROP INDEX inbox_unacked");
	assert_false(test_plan_uses(path, q, "inbox_unacked"));
	st = open_store(path, key1);
	node_store_close(st);
	assert_true(test_plan_uses(path, q, "inbox_unacked"));
}

static void test_inbox_refusals(void **state)
{
	(void)state;
	struct node_store *st = open_store(new_db(), key1);
	struct node_store_opened m = opened(0x20, "MEX", 1, "b", "s");
	char summary[NODE_STORE_SUMMARY_MAX + 2];
	assert_dx_err(node_store_inbox_store_opened(st, NULL), DX_EINVAL);
	memcpy(m.sender, "mex", 4);
	assert_dx_err(node_store_inbox_store_opened(st, &m), DX_ESTATE_CODE);
	m = opened(0x20, "MEX", 0, "b", "s");
	assert_dx_err(node_store_inbox_store_opened(st, &m), DX_EINVAL);
	m = opened(0x20, "MEX", (uint64_t)INT64_MAX + 1, "b", "s");
	assert_dx_err(node_store_inbox_store_opened(st, &m), DX_EINVAL);
	memset(summary, 'x', sizeof(summary) - 1);
	summary[sizeof(summary) - 1] = '\0';
	m = opened(0x20, "MEX", 1, "b", summary);
	assert_dx_err(node_store_inbox_store_opened(st, &m), DX_ETOOBIG);
	summary[NODE_STORE_SUMMARY_MAX] = '\0';
	m = opened(0x20, "MEX", 1, "b", summary);
	m.body_len = ENVELOPE_BODY_MAX + 1;
	assert_dx_err(node_store_inbox_store_opened(st, &m), DX_ETOOBIG);
	m = opened(0x20, "MEX", 1, "b", summary);
	m.fetch_receipt_len = NODE_STORE_RECEIPT_MAX + 1;
	assert_dx_err(node_store_inbox_store_opened(st, &m), DX_ETOOBIG);
	/* A full-length summary, an empty body and no receipt are fine. */
	m = opened(0x20, "MEX", 1, "", summary);
	m.fetch_receipt = NULL;
	m.fetch_receipt_len = 0;
	assert_dx_ok(node_store_inbox_store_opened(st, &m));
	struct node_store_inbox_info info;
	assert_dx_ok(node_store_inbox_get(st, m.digest, &info));
	assert_int_equal(strlen(info.summary), NODE_STORE_SUMMARY_MAX);
	uint8_t *b = NULL;
	size_t bl = 1;
	assert_dx_err(node_store_inbox_receipt(st, m.digest, NODE_STORE_RECEIPT_FETCH, &b, &bl),
		      DX_ENOENT);
	assert_dx_ok(node_store_inbox_read(st, m.digest, &b, &bl));
	assert_int_equal(bl, 0);
	free(b);
	uint64_t hi = 0;
	assert_dx_err(node_store_inbox_highest(st, "M", &hi), DX_ESTATE_CODE);
	assert_dx_ok(node_store_inbox_highest(st, "FRA", &hi));
	assert_int_equal(hi, 0);
	struct seen_in seen = { 0 };
	assert_dx_err(node_store_inbox_list(st, 0, 0, collect_in, &seen), DX_EINVAL);
	node_store_close(st);
}

static void test_inbox_list(void **state)
{
	(void)state;
	struct node_store *st = open_store(new_db(), key1);
	for (int i = 0; i < 5; i++) {
		char summary[16];
		snprintf(summary, sizeof(summary), "msg %d", i);
		struct node_store_opened m = opened((uint8_t)(0x30 + i), i % 2 ? "FRA" : "MEX",
						    (uint64_t)(i / 2 + 1), "b", summary);
		fake_now++;
		assert_dx_ok(node_store_inbox_store_opened(st, &m));
	}
	struct seen_in seen = { 0 };
	assert_dx_ok(node_store_inbox_list(st, 10, 0, collect_in, &seen));
	assert_int_equal(seen.n, 5);
	assert_string_equal(seen.m[0].summary, "msg 4");
	assert_string_equal(seen.m[4].summary, "msg 0");
	assert_string_equal(seen.m[1].sender, "FRA");
	seen.n = 0;
	assert_dx_ok(node_store_inbox_list(st, 2, 3, collect_in, &seen));
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.m[0].summary, "msg 1");
	assert_string_equal(seen.m[1].summary, "msg 0");
	node_store_close(st);
}

struct gaps {
	size_t n;
	uint64_t r[8][2];
};

static int collect_gap(void *ctx, uint64_t first, uint64_t last)
{
	struct gaps *g = ctx;
	if (g->n < 8) {
		g->r[g->n][0] = first;
		g->r[g->n][1] = last;
	}
	g->n++;
	return 0;
}

static uint8_t gap_tag = 0x40;

/* Stores an envelope with the next tag and checks the gaps that result. */
static void recv_seq(struct node_store *st, const char *peer, uint64_t seq, size_t n_gaps,
		     const uint64_t (*want)[2])
{
	struct node_store_opened m = opened(gap_tag++, peer, seq, "b", "s");
	assert_dx_ok(node_store_inbox_store_opened(st, &m));
	struct gaps g = { 0 };
	assert_dx_ok(node_store_inbox_gaps(st, peer, collect_gap, &g));
	assert_int_equal(g.n, n_gaps);
	for (size_t i = 0; i < n_gaps; i++) {
		assert_int_equal(g.r[i][0], want[i][0]);
		assert_int_equal(g.r[i][1], want[i][1]);
	}
}

static void test_gaps(void **state)
{
	(void)state;
	const char *path = new_db();
	struct node_store *st = open_store(path, key1);
	uint64_t hi = 0;
	/* In order: no gap. */
	recv_seq(st, "MEX", 1, 0, NULL);
	recv_seq(st, "MEX", 2, 0, NULL);
	/* Skips record the missing ranges. */
	recv_seq(st, "MEX", 5, 1, (const uint64_t[][2]){ { 3, 4 } });
	recv_seq(st, "MEX", 10, 2, (const uint64_t[][2]){ { 3, 4 }, { 6, 9 } });
	assert_dx_ok(node_store_inbox_highest(st, "MEX", &hi));
	assert_int_equal(hi, 10);
	/* Late fills: at the start, the end, the middle, and the last of a gap. */
	recv_seq(st, "MEX", 6, 2, (const uint64_t[][2]){ { 3, 4 }, { 7, 9 } });
	recv_seq(st, "MEX", 9, 2, (const uint64_t[][2]){ { 3, 4 }, { 7, 8 } });
	recv_seq(st, "MEX", 4, 2, (const uint64_t[][2]){ { 3, 3 }, { 7, 8 } });
	recv_seq(st, "MEX", 3, 1, (const uint64_t[][2]){ { 7, 8 } });
	/* Duplicate sequence numbers (new envelope ids) change nothing. */
	recv_seq(st, "MEX", 5, 1, (const uint64_t[][2]){ { 7, 8 } });
	recv_seq(st, "MEX", 1, 1, (const uint64_t[][2]){ { 7, 8 } });
	recv_seq(st, "MEX", 10, 1, (const uint64_t[][2]){ { 7, 8 } });
	assert_dx_ok(node_store_inbox_highest(st, "MEX", &hi));
	assert_int_equal(hi, 10);

	/* A split in the middle of a gap; peers are tracked apart. */
	recv_seq(st, "FRA", 1, 0, NULL);
	recv_seq(st, "FRA", 20, 1, (const uint64_t[][2]){ { 2, 19 } });
	recv_seq(st, "FRA", 10, 2, (const uint64_t[][2]){ { 2, 9 }, { 11, 19 } });
	recv_seq(st, "FRA", 15, 3, (const uint64_t[][2]){ { 2, 9 }, { 11, 14 }, { 16, 19 } });
	/* A first envelope that is not sequence 1 reveals everything before it. */
	recv_seq(st, "BFA", 3, 1, (const uint64_t[][2]){ { 1, 2 } });
	recv_seq(st, "BFA", 2, 1, (const uint64_t[][2]){ { 1, 1 } });

	/* A replayed envelope id changes nothing either. */
	struct node_store_opened dup = opened(0x40, "MEX", 8, "b", "s");
	assert_dx_err(node_store_inbox_store_opened(st, &dup), DX_EREPLAY);
	node_store_close(st);

	st = open_store(path, key1);
	struct gaps g = { 0 };
	assert_dx_ok(node_store_inbox_gaps(st, "MEX", collect_gap, &g));
	assert_int_equal(g.n, 1);
	assert_int_equal(g.r[0][0], 7);
	assert_int_equal(g.r[0][1], 8);
	g.n = 0;
	assert_dx_ok(node_store_inbox_gaps(st, "FRA", collect_gap, &g));
	assert_int_equal(g.n, 3);
	g.n = 0;
	assert_dx_ok(node_store_inbox_gaps(st, "NZL", collect_gap, &g));
	assert_int_equal(g.n, 0);
	assert_dx_err(node_store_inbox_gaps(st, "nzl", collect_gap, &g), DX_ESTATE_CODE);
	node_store_close(st);
}

static void test_prune_seen(void **state)
{
	(void)state;
	struct node_store *st = open_store(new_db(), key1);
	struct node_store_opened a = opened(0x50, "MEX", 1, "a", "s");
	struct node_store_opened b = opened(0x51, "MEX", 2, "b", "s");
	a.created_ms = 1000;
	b.created_ms = 5000;
	assert_dx_ok(node_store_inbox_store_opened(st, &a));
	assert_dx_ok(node_store_inbox_store_opened(st, &b));
	uint64_t n = 9;
	int seen = 0;
	assert_dx_ok(node_store_inbox_prune_seen(st, 3000, 6000, &n));
	assert_int_equal(n, 0);
	assert_dx_ok(node_store_inbox_prune_seen(st, 10000, 6000, &n));
	assert_int_equal(n, 1);
	assert_dx_ok(node_store_inbox_seen(st, a.envelope_id, &seen));
	assert_int_equal(seen, 0);
	assert_dx_ok(node_store_inbox_seen(st, b.envelope_id, &seen));
	assert_int_equal(seen, 1);
	/* The message itself stays readable. */
	uint8_t *body = NULL;
	size_t len = 0;
	assert_dx_ok(node_store_inbox_read(st, a.digest, &body, &len));
	free(body);
	node_store_close(st);
}

/* ---- Sealing at rest ---- */

static void test_wrong_key(void **state)
{
	(void)state;
	const char *path = new_db();
	struct node_store *st = open_store(path, key1);
	struct node_store_opened m = opened(0x60, "MEX", 1, "secret body", "secret summary");
	uint8_t id[16], *b = NULL;
	size_t bl = 0;
	assert_dx_ok(node_store_inbox_store_opened(st, &m));
	assert_dx_ok(node_store_outbox_enqueue(st, "MEX", (const uint8_t *)"x", 1, NULL, 0, id));
	node_store_close(st);

	st = open_store(path, key2);
	assert_dx_err(node_store_inbox_read(st, m.digest, &b, &bl), DX_EDECRYPT);
	assert_dx_err(node_store_outbox_read(st, id, &b, &bl, NULL, NULL), DX_EDECRYPT);
	/* Metadata still lists; the summary is marked unreadable. */
	struct seen_in seen = { 0 };
	assert_dx_ok(node_store_inbox_list(st, 10, 0, collect_in, &seen));
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.m[0].summary_err, DX_EDECRYPT);
	assert_string_equal(seen.m[0].summary, "");
	node_store_close(st);
}

static void test_moved_ciphertext(void **state)
{
	(void)state;
	const char *path = new_db();
	struct node_store *st = open_store(path, key1);
	struct node_store_opened a = opened(0x70, "MEX", 1, "body of a", "summary a");
	struct node_store_opened b = opened(0x71, "MEX", 2, "body of b", "summary b");
	struct node_store_opened c = opened(0x72, "MEX", 3, "body of c", "summary c");
	uint8_t ida[16], idb[16], *p = NULL;
	size_t pl = 0;
	assert_dx_ok(node_store_inbox_store_opened(st, &a));
	assert_dx_ok(node_store_inbox_store_opened(st, &b));
	assert_dx_ok(node_store_inbox_store_opened(st, &c));
	assert_dx_ok(
		node_store_outbox_enqueue(st, "MEX", (const uint8_t *)"out a", 5, NULL, 0, ida));
	assert_dx_ok(
		node_store_outbox_enqueue(st, "MEX", (const uint8_t *)"out b", 5, NULL, 0, idb));
	node_store_close(st);

	/* a's sealed body, with its nonce, copied into b's row. */
	raw_exec(path,
		 "UPDATE inbox SET body = (SELECT body FROM inbox WHERE sequence = 1),"
		 " body_nonce = (SELECT body_nonce FROM inbox WHERE sequence = 1)"
		 " WHERE sequence = 2;"
		 /* c's summary moved into c's own body column. */
		 "UPDATE inbox SET body = summary, body_nonce = summary_nonce WHERE sequence = 3;"
		 "UPDATE outbox SET body = (SELECT body FROM outbox WHERE rowid = 1),"
		 " body_nonce = (SELECT body_nonce FROM outbox WHERE rowid = 1)"
		 " WHERE rowid = 2;");
	st = open_store(path, key1);
	assert_dx_ok(node_store_inbox_read(st, a.digest, &p, &pl));
	assert_memory_equal(p, "body of a", 9);
	free(p);
	assert_dx_err(node_store_inbox_read(st, b.digest, &p, &pl), DX_EDECRYPT);
	assert_dx_err(node_store_inbox_read(st, c.digest, &p, &pl), DX_EDECRYPT);
	assert_dx_ok(node_store_outbox_read(st, ida, &p, &pl, NULL, NULL));
	free(p);
	assert_dx_err(node_store_outbox_read(st, idb, &p, &pl, NULL, NULL), DX_EDECRYPT);
	node_store_close(st);
}

/* Rows altered on disk are refused with an error, never trusted or crashed on. */
static void test_corrupt_rows(void **state)
{
	(void)state;
	const char *path = new_db();
	struct node_store *st = open_store(path, key1);
	struct node_store_opened m[4];
	uint8_t id[16], *p = NULL;
	size_t pl = 0;
	for (int i = 0; i < 4; i++) {
		m[i] = opened((uint8_t)(0x80 + i), "MEX", (uint64_t)i + 1, "body", "summary");
		assert_dx_ok(node_store_inbox_store_opened(st, &m[i]));
	}
	assert_dx_ok(node_store_outbox_enqueue(st, "MEX", (const uint8_t *)"o", 1, NULL, 0, id));
	node_store_close(st);
	raw_exec(path, "UPDATE inbox SET body_nonce = x'0102' WHERE sequence = 1;"
		       "UPDATE inbox SET body = 'text, not a blob' WHERE sequence = 2;"
		       "UPDATE inbox SET body = x'' WHERE sequence = 3;"
		       "UPDATE inbox SET body = 12345, body_nonce = 7 WHERE sequence = 4;");
	st = open_store(path, key1);
	for (int i = 0; i < 4; i++) {
		assert_dx_err(node_store_inbox_read(st, m[i].digest, &p, &pl), DX_EDECRYPT);
	}
	node_store_close(st);

	raw_exec(path, "UPDATE inbox SET sender = 'mex!' WHERE sequence = 1;"
		       "UPDATE outbox SET state = 99;");
	st = open_store(path, key1);
	struct seen_in seen = { 0 };
	struct node_store_outbox_info info;
	assert_dx_err(node_store_inbox_list(st, 10, 0, collect_in, &seen), DX_EPARSE);
	assert_dx_err(node_store_outbox_get(st, id, &info), DX_EPARSE);
	node_store_close(st);

	raw_exec(path, "UPDATE inbox SET sender = 'MEX', digest = x'00' WHERE sequence = 1;"
		       "UPDATE outbox SET state = 1, msg_id = x'0102';");
	st = open_store(path, key1);
	assert_dx_err(node_store_inbox_list(st, 10, 0, collect_in, &seen), DX_EPARSE);
	size_t n_out = 0;
	assert_dx_err(node_store_outbox_list(st, 10, 0, count_out, &n_out), DX_EPARSE);
	node_store_close(st);
}

/* True when needle occurs in the file (a missing file holds nothing). */
static int file_contains(const char *path, const char *needle)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	if (access(path, F_OK) != 0) {
		return 0;
	}
	assert_dx_ok(dx_read_file(path, 256u << 20, &buf, &len));
	int found = memmem(buf, len, needle, strlen(needle)) != NULL;
	free(buf);
	return found;
}

static void test_canary(void **state)
{
	(void)state;
	const char *path = new_db();
	char wal[512];
	snprintf(wal, sizeof(wal), "%s-wal", path);
	static const char *const canaries[] = { "CANARY-outbox-body-5b1e",
						"CANARY-outbox-refs-77c2", "CANARY-inbox-body-a03f",
						"CANARY-inbox-summary-e9d4" };
	/* The envelope is stored as is: its marker must be found, proving the search works. */
	static const char env_marker[] = "MARKER-sealed-envelope-bytes";
	struct node_store *st = open_store(path, key1);
	uint8_t id[16], eid[16] = { 9 }, dig[32] = { 9 };
	uint64_t s = 0;
	assert_dx_ok(node_store_outbox_enqueue(st, "MEX", (const uint8_t *)canaries[0],
					       strlen(canaries[0]), (const uint8_t *)canaries[1],
					       strlen(canaries[1]), id));
	assert_dx_ok(node_store_begin(st));
	assert_dx_ok(node_store_next_sequence(st, "MEX", &s));
	assert_dx_ok(node_store_outbox_mark_sealed(st, id, (const uint8_t *)env_marker,
						   sizeof(env_marker), eid, dig, s));
	assert_dx_ok(node_store_commit(st));
	struct node_store_opened m = opened(0x90, "FRA", 1, canaries[2], canaries[3]);
	assert_dx_ok(node_store_inbox_store_opened(st, &m));

	/* While open, the writes sit in the WAL. */
	assert_true(file_contains(wal, env_marker) || file_contains(path, env_marker));
	for (size_t i = 0; i < 4; i++) {
		assert_false(file_contains(path, canaries[i]));
		assert_false(file_contains(wal, canaries[i]));
	}
	node_store_close(st);
	/* After close, the WAL was checkpointed into the database. */
	assert_true(file_contains(path, env_marker));
	for (size_t i = 0; i < 4; i++) {
		assert_false(file_contains(path, canaries[i]));
		assert_false(file_contains(wal, canaries[i]));
	}
}
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inbox_basic),	 cmocka_unit_test(test_inbox_unacked),	 cmocka_unit_test(test_inbox_refusals),
		cmocka_unit_test(test_inbox_list),	 cmocka_unit_test(test_gaps),
		cmocka_unit_test(test_prune_seen),	 cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_moved_ciphertext), cmocka_unit_test(test_corrupt_rows),
		cmocka_unit_test(test_canary),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
