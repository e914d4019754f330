/*
 * test_node_store.c: the node's durable store (daemon/node/node_store*.c):
 * the outbox, outgoing sequence numbers, batches and crash consistency. The
 * inbox and sealing at rest are in test_node_store_inbox.c, the roster mirror
 * and checkpoints in test_node_store_trust.c.
 *
 * Persistence is always checked with a new store object on the same file.
 * Crashes are simulated twice: by closing with a batch still open, and by a
 * child process that dies with _exit() in the middle of a batch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "node_store.h"
#include "testlib.h"

static const uint8_t key1[NODE_STORE_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };

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
	snprintf(name, sizeof(name), "store%d.db", n++);
	return test_path(test_tmpdir(), name);
}

static struct node_store *open_store(const char *path, const uint8_t *key)
{
	struct node_store *st = NULL;
	assert_dx_ok(node_store_open(path, key, &st));
	node_store_set_clock(st, fake_clock, NULL);
	return st;
}

static void fill(uint8_t *b, size_t n, uint8_t v)
{
	memset(b, v, n);
}

/* ---- Outbox ---- */

struct seen_msgs {
	size_t n;
	struct node_store_outbox_info m[16];
	struct node_store *st; /* when set, the callback records an attempt */
	int stop_after;
};

static int collect_out(void *ctx, const struct node_store_outbox_info *m)
{
	struct seen_msgs *s = ctx;
	if (s->n < 16) {
		s->m[s->n] = *m;
	}
	s->n++;
	if (s->st != NULL) {
		assert_dx_ok(node_store_outbox_record_attempt(s->st, m->msg_id, DX_ETIMEDOUT,
							      fake_now + 5000));
	}
	if (s->stop_after > 0 && (int)s->n == s->stop_after) {
		return 42;
	}
	return 0;
}

static void seal_msg(struct node_store *st, const uint8_t *msg_id, const char *peer, uint8_t tag,
		     uint64_t *seq_out)
{
	uint8_t env[100], env_id[ENVELOPE_ID_LEN], digest[NODE_STORE_DIGEST_LEN];
	uint64_t seq = 0;
	fill(env, sizeof(env), tag);
	fill(env_id, sizeof(env_id), tag);
	fill(digest, sizeof(digest), tag);
	assert_dx_ok(node_store_begin(st));
	assert_dx_ok(node_store_next_sequence(st, peer, &seq));
	assert_dx_ok(
		node_store_outbox_mark_sealed(st, msg_id, env, sizeof(env), env_id, digest, seq));
	assert_dx_ok(node_store_commit(st));
	if (seq_out != NULL) {
		*seq_out = seq;
	}
}

static void test_outbox_lifecycle(void **state)
{
	(void)state;
	const char *path = new_db();
	struct node_store *st = open_store(path, key1);
	const uint8_t body[] = "case note body", refs[] = "attachment refs";
	uint8_t id[NODE_STORE_MSG_ID_LEN], *b = NULL, *r = NULL, *env = NULL;
	size_t bl = 0, rl = 0, el = 0;
	struct node_store_outbox_info info;
	struct seen_msgs seen = { 0 };

	assert_dx_ok(
		node_store_outbox_enqueue(st, "MEX", body, sizeof(body), refs, sizeof(refs), id));
	assert_dx_ok(node_store_outbox_get(st, id, &info));
	assert_int_equal(info.state, NODE_STORE_OUT_QUEUED);
	assert_string_equal(info.recipient, "MEX");
	assert_int_equal(info.created_ms, fake_now);
	assert_int_equal(info.has_envelope, 0);
	assert_string_equal(node_store_out_state_name(info.state), "queued");
	assert_dx_err(node_store_outbox_envelope(st, id, &env, &el), DX_ENOENT);
	assert_dx_ok(node_store_outbox_read(st, id, &b, &bl, &r, &rl));
	assert_int_equal(bl, sizeof(body));
	assert_memory_equal(b, body, bl);
	assert_int_equal(rl, sizeof(refs));
	assert_memory_equal(r, refs, rl);
	free(b);
	free(r);

	/* Due at once; sealing takes sequence 1 and keeps it due. */
	assert_dx_ok(node_store_outbox_due(st, fake_now, 10, collect_out, &seen));
	assert_int_equal(seen.n, 1);
	uint64_t seq = 0;
	seal_msg(st, id, "MEX", 0xAA, &seq);
	assert_int_equal(seq, 1);
	assert_dx_ok(node_store_outbox_get(st, id, &info));
	assert_int_equal(info.state, NODE_STORE_OUT_SEALED);
	assert_int_equal(info.has_envelope, 1);
	assert_int_equal(info.sequence, 1);
	assert_int_equal(info.envelope_id[0], 0xAA);
	assert_int_equal(info.digest[31], 0xAA);
	assert_dx_ok(node_store_outbox_envelope(st, id, &env, &el));
	assert_int_equal(el, 100);
	assert_int_equal(env[99], 0xAA);
	free(env);

	/* A failed attempt: counted, error kept, not due until the given time. */
	assert_dx_ok(node_store_outbox_record_attempt(st, id, DX_ETIMEDOUT, fake_now + 1000));
	assert_dx_ok(node_store_outbox_record_attempt(st, id, DX_EUNREACHABLE, fake_now + 2000));
	assert_dx_ok(node_store_outbox_get(st, id, &info));
	assert_int_equal(info.attempts, 2);
	assert_int_equal(info.last_error, DX_EUNREACHABLE);
	assert_int_equal(info.next_attempt_ms, fake_now + 2000);
	seen.n = 0;
	assert_dx_ok(node_store_outbox_due(st, fake_now + 1999, 10, collect_out, &seen));
	assert_int_equal(seen.n, 0);
	assert_dx_ok(node_store_outbox_due(st, fake_now + 2000, 10, collect_out, &seen));
	assert_int_equal(seen.n, 1);
	assert_dx_err(node_store_outbox_record_attempt(st, id, 5, 0), DX_EINVAL);

	/* The receipt ends it; the same receipt again is fine, another is not. */
	const uint8_t rcpt[] = "signed receipt", other[] = "other receipt";
	fake_now += 10;
	assert_dx_ok(node_store_outbox_mark_receipted(st, id, rcpt, sizeof(rcpt)));
	assert_dx_ok(node_store_outbox_mark_receipted(st, id, rcpt, sizeof(rcpt)));
	assert_dx_err(node_store_outbox_mark_receipted(st, id, other, sizeof(other)), DX_EEXIST);
	assert_dx_ok(node_store_outbox_get(st, id, &info));
	assert_int_equal(info.state, NODE_STORE_OUT_RECEIPTED);
	assert_int_equal(info.receipted_ms, fake_now);
	assert_dx_ok(node_store_outbox_receipt(st, id, &r, &rl));
	assert_int_equal(rl, sizeof(rcpt));
	assert_memory_equal(r, rcpt, rl);
	free(r);
	seen.n = 0;
	assert_dx_ok(node_store_outbox_due(st, UINT64_MAX, 10, collect_out, &seen));
	assert_int_equal(seen.n, 0);
	assert_dx_err(node_store_outbox_mark_failed(st, id, DX_ENOT_MEMBER), DX_EINVAL);
	assert_dx_err(node_store_outbox_record_attempt(st, id, DX_ETIMEDOUT, 0), DX_EINVAL);
	assert_dx_err(node_store_outbox_mark_sealed(st, id, rcpt, 1, id, (uint8_t[32]){ 0 }, 1),
		      DX_EINVAL);

	/* Everything survives a restart. */
	node_store_close(st);
	st = open_store(path, key1);
	assert_dx_ok(node_store_outbox_get(st, id, &info));
	assert_int_equal(info.state, NODE_STORE_OUT_RECEIPTED);
	assert_int_equal(info.attempts, 2);
	assert_dx_ok(node_store_outbox_read(st, id, &b, &bl, NULL, NULL));
	assert_memory_equal(b, body, sizeof(body));
	free(b);
	node_store_close(st);
}

/* The link is back: what failed for want of it is due now; refusals keep their backoff. */
static void test_outbox_link_up(void **state)
{
	(void)state;
	const char *path = new_db();
	struct node_store *st = open_store(path, key1);
	const uint8_t body[] = "b";
	uint8_t down[NODE_STORE_MSG_ID_LEN], quota[NODE_STORE_MSG_ID_LEN],
		tls[NODE_STORE_MSG_ID_LEN];
	struct node_store_outbox_info info;
	struct seen_msgs seen = { 0 };
	size_t n = 99;

	assert_dx_ok(node_store_outbox_enqueue(st, "MEX", body, sizeof(body), NULL, 0, down));
	assert_dx_ok(node_store_outbox_enqueue(st, "MEX", body, sizeof(body), NULL, 0, quota));
	assert_dx_ok(node_store_outbox_enqueue(st, "BFA", body, sizeof(body), NULL, 0, tls));
	assert_dx_ok(node_store_outbox_record_attempt(st, down, DX_EUNREACHABLE, fake_now + 300000));
	assert_dx_ok(node_store_outbox_record_attempt(st, quota, DX_EQUOTA, fake_now + 300000));
	assert_dx_ok(node_store_outbox_record_attempt(st, tls, DX_ETIMEDOUT, fake_now + 60000));
	assert_dx_ok(node_store_outbox_due(st, fake_now + 10, 10, collect_out, &seen));
	assert_int_equal(seen.n, 0);

	assert_dx_ok(node_store_outbox_link_up(st, fake_now + 10, &n));
	assert_int_equal(n, 2);
	assert_dx_ok(node_store_outbox_due(st, fake_now + 10, 10, collect_out, &seen));
	assert_int_equal(seen.n, 2);
	assert_dx_ok(node_store_outbox_get(st, quota, &info));
	assert_int_equal(info.next_attempt_ms, fake_now + 300000);
	assert_dx_ok(node_store_outbox_get(st, down, &info));
	assert_int_equal(info.next_attempt_ms, fake_now + 10);
	assert_int_equal(info.attempts, 1);
	/* Nothing waits any more: a second call changes nothing. */
	assert_dx_ok(node_store_outbox_link_up(st, fake_now + 20, &n));
	assert_int_equal(n, 0);
	node_store_close(st);
}

static void test_outbox_refusals(void **state)
{
	(void)state;
	struct node_store *st = open_store(new_db(), key1);
	uint8_t id[NODE_STORE_MSG_ID_LEN], id2[NODE_STORE_MSG_ID_LEN], unknown[16] = { 7 };
	uint8_t env[8] = { 1 }, eid[16] = { 1 }, dig[32] = { 1 }, eid2[16] = { 2 },
		dig2[32] = { 2 };
	uint8_t *big = calloc(1, ENVELOPE_BODY_MAX + 1);
	uint64_t seq = 0;
	struct node_store_outbox_info info;
	assert_non_null(big);

	assert_dx_err(node_store_outbox_enqueue(st, "mex", env, 1, NULL, 0, id), DX_ESTATE_CODE);
	assert_dx_err(node_store_outbox_enqueue(st, NULL, env, 1, NULL, 0, id), DX_ESTATE_CODE);
	assert_dx_err(node_store_outbox_enqueue(st, "MEX", NULL, 1, NULL, 0, id), DX_EINVAL);
	assert_dx_err(node_store_outbox_enqueue(st, "MEX", big, ENVELOPE_BODY_MAX + 1, NULL, 0, id),
		      DX_ETOOBIG);
	assert_dx_err(node_store_outbox_enqueue(st, "MEX", env, 1, big,
						NODE_STORE_ATTACH_REFS_MAX + 1, id),
		      DX_ETOOBIG);
	/* The largest body and references fit. */
	assert_dx_ok(node_store_outbox_enqueue(st, "MEX", big, ENVELOPE_BODY_MAX, big,
					       NODE_STORE_ATTACH_REFS_MAX, id));
	free(big);
	assert_dx_ok(node_store_outbox_enqueue(st, "MEX", NULL, 0, NULL, 0, id2));

	assert_dx_err(node_store_outbox_get(st, unknown, &info), DX_ENOENT);
	assert_dx_ok(node_store_next_sequence(st, "MEX", &seq));
	assert_dx_err(node_store_outbox_mark_sealed(st, unknown, env, 8, eid, dig, 1), DX_ENOENT);
	/* Only an allocated sequence, never 0, an empty or oversized envelope. */
	assert_dx_err(node_store_outbox_mark_sealed(st, id, env, 8, eid, dig, 2), DX_EINVAL);
	assert_dx_err(node_store_outbox_mark_sealed(st, id, env, 8, eid, dig, 0), DX_EINVAL);
	assert_dx_err(node_store_outbox_mark_sealed(st, id, env, 0, eid, dig, 1), DX_EINVAL);
	assert_dx_err(node_store_outbox_mark_sealed(st, id, env, ENVELOPE_MAX + 1, eid, dig, 1),
		      DX_ETOOBIG);
	assert_dx_err(node_store_outbox_mark_receipted(st, id, env, 8), DX_EINVAL);
	assert_dx_ok(node_store_outbox_mark_sealed(st, id, env, 8, eid, dig, 1));
	/* One sequence number never names two envelopes, nor one envelope two messages. */
	assert_dx_err(node_store_outbox_mark_sealed(st, id2, env, 8, eid2, dig2, 1), DX_EEXIST);
	assert_dx_ok(node_store_next_sequence(st, "MEX", &seq));
	assert_int_equal(seq, 2);
	assert_dx_err(node_store_outbox_mark_sealed(st, id2, env, 8, eid, dig2, 2), DX_EEXIST);
	assert_dx_ok(node_store_outbox_get(st, id2, &info));
	assert_int_equal(info.state, NODE_STORE_OUT_QUEUED);
	/* Re-sealing a sealed message replaces its envelope with a new sequence. */
	assert_dx_ok(node_store_outbox_mark_sealed(st, id, env, 8, eid2, dig2, 2));
	assert_dx_ok(node_store_outbox_get(st, id, &info));
	assert_int_equal(info.sequence, 2);
	assert_int_equal(info.envelope_id[0], 2);

	/* A permanent refusal stops delivery; a late receipt still wins. */
	assert_dx_err(node_store_outbox_mark_failed(st, id, 0), DX_EINVAL);
	assert_dx_ok(node_store_outbox_mark_failed(st, id2, DX_ENOT_MEMBER));
	assert_dx_ok(node_store_outbox_mark_failed(st, id, DX_ESUSPENDED));
	assert_dx_ok(node_store_outbox_get(st, id, &info));
	assert_int_equal(info.state, NODE_STORE_OUT_FAILED);
	assert_int_equal(info.failed_code, DX_ESUSPENDED);
	struct seen_msgs seen = { 0 };
	assert_dx_ok(node_store_outbox_due(st, UINT64_MAX, 10, collect_out, &seen));
	assert_int_equal(seen.n, 0);
	assert_dx_err(node_store_outbox_mark_receipted(st, id2, env, 8), DX_EINVAL);
	assert_dx_ok(node_store_outbox_mark_receipted(st, id, env, 8));
	assert_dx_err(node_store_outbox_mark_receipted(st, id, env, NODE_STORE_RECEIPT_MAX + 1),
		      DX_ETOOBIG);
	assert_dx_err(node_store_outbox_mark_receipted(st, id, NULL, 0), DX_EINVAL);
	assert_dx_err(node_store_outbox_due(st, 0, 0, collect_out, &seen), DX_EINVAL);
	assert_dx_err(node_store_outbox_due(st, 0, NODE_STORE_LIST_MAX + 1, collect_out, &seen),
		      DX_EINVAL);
	assert_dx_err(node_store_outbox_list(st, 0, 0, collect_out, &seen), DX_EINVAL);
	assert_dx_err(node_store_next_sequence(st, "XX", &seq), DX_ESTATE_CODE);
	node_store_close(st);
}

static void test_outbox_lists(void **state)
{
	(void)state;
	struct node_store *st = open_store(new_db(), key1);
	uint8_t ids[5][NODE_STORE_MSG_ID_LEN];
	const char *to[5] = { "MEX", "FRA", "BFA", "MEX", "NZL" };
	for (int i = 0; i < 5; i++) {
		assert_dx_ok(node_store_outbox_enqueue(st, to[i], (const uint8_t *)"x", 1, NULL, 0,
						       ids[i]));
	}
	struct seen_msgs seen = { 0 };
	assert_dx_ok(node_store_outbox_list(st, 10, 0, collect_out, &seen));
	assert_int_equal(seen.n, 5);
	assert_memory_equal(seen.m[0].msg_id, ids[4], 16);
	assert_memory_equal(seen.m[4].msg_id, ids[0], 16);
	seen.n = 0;
	assert_dx_ok(node_store_outbox_list(st, 2, 1, collect_out, &seen));
	assert_int_equal(seen.n, 2);
	assert_memory_equal(seen.m[0].msg_id, ids[3], 16);
	assert_memory_equal(seen.m[1].msg_id, ids[2], 16);

	/* A callback may stop the listing and may call the store. */
	seen = (struct seen_msgs){ .stop_after = 3 };
	assert_int_equal(node_store_outbox_list(st, 10, 0, collect_out, &seen), 42);
	assert_int_equal(seen.n, 3);
	seen = (struct seen_msgs){ .st = st };
	assert_dx_ok(node_store_outbox_due(st, fake_now, 3, collect_out, &seen));
	assert_int_equal(seen.n, 3);
	assert_memory_equal(seen.m[0].msg_id, ids[0], 16);
	seen = (struct seen_msgs){ 0 };
	assert_dx_ok(node_store_outbox_due(st, fake_now, 10, collect_out, &seen));
	assert_int_equal(seen.n, 2);
	seen = (struct seen_msgs){ 0 };
	assert_dx_ok(node_store_outbox_due(st, fake_now + 5000, 10, collect_out, &seen));
	assert_int_equal(seen.n, 5);
	node_store_close(st);
}

static void test_sequences(void **state)
{
	(void)state;
	const char *path = new_db();
	struct node_store *st = open_store(path, key1);
	uint64_t s = 0;
	for (uint64_t want = 1; want <= 3; want++) {
		assert_dx_ok(node_store_next_sequence(st, "MEX", &s));
		assert_int_equal(s, want);
	}
	assert_dx_ok(node_store_next_sequence(st, "FRA", &s));
	assert_int_equal(s, 1);
	node_store_close(st);
	st = open_store(path, key1);
	assert_dx_ok(node_store_next_sequence(st, "MEX", &s));
	assert_int_equal(s, 4);
	/* A rolled-back batch gives its numbers back; a committed one never. */
	assert_dx_ok(node_store_begin(st));
	assert_dx_err(node_store_begin(st), DX_EINVAL);
	assert_dx_ok(node_store_next_sequence(st, "MEX", &s));
	assert_int_equal(s, 5);
	node_store_rollback(st);
	assert_dx_err(node_store_commit(st), DX_EINVAL);
	assert_dx_ok(node_store_next_sequence(st, "MEX", &s));
	assert_int_equal(s, 5);
	node_store_close(st);
}

/* An operation that fails inside a batch undoes only itself. */
static void test_batch_partial_failure(void **state)
{
	(void)state;
	const char *path = new_db();
	struct node_store *st = open_store(path, key1);
	uint8_t id[16], env[4] = { 1 }, eid[16] = { 3 }, dig[32] = { 3 };
	uint64_t s = 0;
	assert_dx_ok(node_store_begin(st));
	assert_dx_ok(node_store_outbox_enqueue(st, "MEX", env, 4, NULL, 0, id));
	assert_dx_ok(node_store_next_sequence(st, "MEX", &s));
	assert_dx_err(node_store_outbox_mark_sealed(st, id, env, 4, eid, dig, 9), DX_EINVAL);
	assert_dx_ok(node_store_commit(st));
	node_store_close(st);
	st = open_store(path, key1);
	struct node_store_outbox_info info;
	assert_dx_ok(node_store_outbox_get(st, id, &info));
	assert_int_equal(info.state, NODE_STORE_OUT_QUEUED);
	assert_dx_ok(node_store_next_sequence(st, "MEX", &s));
	assert_int_equal(s, 2);
	node_store_close(st);
}

/*
 * A crash between allocating a sequence number and committing: nothing of
 * the batch is durable, so the number was never attached to an envelope that
 * left the node, and it is handed out again.
 */
static void test_crash_close_uncommitted(void **state)
{
	(void)state;
	const char *path = new_db();
	struct node_store *st = open_store(path, key1);
	uint8_t id[16], env[64], eid[16] = { 4 }, dig[32] = { 4 };
	uint64_t s = 0;
	struct node_store_outbox_info info;
	fill(env, sizeof(env), 0x44);
	assert_dx_ok(node_store_outbox_enqueue(st, "FRA", env, sizeof(env), NULL, 0, id));
	assert_dx_ok(node_store_begin(st));
	assert_dx_ok(node_store_next_sequence(st, "FRA", &s));
	assert_int_equal(s, 1);
	assert_dx_ok(node_store_outbox_mark_sealed(st, id, env, sizeof(env), eid, dig, s));
	node_store_close(st);

	st = open_store(path, key1);
	assert_dx_ok(node_store_outbox_get(st, id, &info));
	assert_int_equal(info.state, NODE_STORE_OUT_QUEUED);
	assert_int_equal(info.has_envelope, 0);
	seal_msg(st, id, "FRA", 0x45, &s);
	assert_int_equal(s, 1);
	node_store_close(st);

	st = open_store(path, key1);
	assert_dx_ok(node_store_outbox_get(st, id, &info));
	assert_int_equal(info.state, NODE_STORE_OUT_SEALED);
	assert_int_equal(info.envelope_id[0], 0x45);
	assert_dx_ok(node_store_next_sequence(st, "FRA", &s));
	assert_int_equal(s, 2);
	node_store_close(st);
}

/* The same, with a process that dies mid-batch, a large envelope spilling to the WAL. */
static void crash_child(const char *path, const uint8_t *id, int commit)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct node_store *st = NULL;
		size_t len = ENVELOPE_MAX;
		uint8_t *env = malloc(len), eid[16], dig[32];
		uint64_t s = 0;
		if (env == NULL || node_store_open(path, key1, &st) != 0) {
			_exit(2);
		}
		randombytes_buf(env, len);
		randombytes_buf(eid, sizeof(eid));
		randombytes_buf(dig, sizeof(dig));
		if (node_store_begin(st) != 0 || node_store_next_sequence(st, "NZL", &s) != 0 ||
		    node_store_outbox_mark_sealed(st, id, env, len, eid, dig, s) != 0) {
			_exit(3);
		}
		if (commit && node_store_commit(st) != 0) {
			_exit(4);
		}
		_exit(0);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_crash_process(void **state)
{
	(void)state;
	const char *path = new_db();
	struct node_store *st = open_store(path, key1);
	uint8_t id[16];
	uint64_t s = 0;
	struct node_store_outbox_info info;
	assert_dx_ok(node_store_outbox_enqueue(st, "NZL", (const uint8_t *)"b", 1, NULL, 0, id));
	node_store_close(st);

	crash_child(path, id, 0);
	st = open_store(path, key1);
	assert_dx_ok(node_store_outbox_get(st, id, &info));
	assert_int_equal(info.state, NODE_STORE_OUT_QUEUED);
	node_store_close(st);

	crash_child(path, id, 1);
	st = open_store(path, key1);
	assert_dx_ok(node_store_outbox_get(st, id, &info));
	assert_int_equal(info.state, NODE_STORE_OUT_SEALED);
	assert_int_equal(info.sequence, 1);
	assert_dx_ok(node_store_next_sequence(st, "NZL", &s));
	assert_int_equal(s, 2);
	node_store_close(st);
}
static void test_open_errors(void **state)
{
	(void)state;
	struct node_store *st = NULL;
	assert_dx_err(node_store_open(NULL, key1, &st), DX_EINVAL);
	assert_int_not_equal(
		node_store_open(test_path(test_tmpdir(), "no/such/dir/x.db"), key1, &st), 0);
	assert_null(st);
	node_store_close(NULL);
}
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outbox_lifecycle),
		cmocka_unit_test(test_outbox_link_up),
		cmocka_unit_test(test_outbox_refusals),
		cmocka_unit_test(test_outbox_lists),
		cmocka_unit_test(test_sequences),
		cmocka_unit_test(test_batch_partial_failure),
		cmocka_unit_test(test_crash_close_uncommitted),
		cmocka_unit_test(test_crash_process),
		cmocka_unit_test(test_open_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
