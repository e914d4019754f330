/*
 * test_node_faults.c: State nodes and their relay when things go wrong, as
 * separate processes over tcp://.
 *
 * Store and forward: a recipient that is down gets everything when it comes
 * back; senders queue while the relay is down and deliver once it is back
 * on the same port. A sending node killed with SIGKILL right after queueing
 * twenty messages delivers each exactly once after a restart: the
 * recipient's inbox holds every sequence number once, with no gap. The
 * control socket refuses a local user who holds no role. A recipient whose
 * keys change (a new home for the same State, admitted again by the
 * Secretariat) cannot be written to until a person accepts the new key with
 * `divex keys verify`. A recipient that lost the receipt of an
 * acknowledgement the relay logged (killed before storing it) acknowledges
 * again when it starts.
 */
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nodes.h"
#include "testlib.h"
#include "util.h"

#define NOBODY 65534
#define BURST 20

static struct tnet NET;
static const char *const STATES[] = { "FRA", "MEX", "BFA" };

static int setup(void **state)
{
	tnet_setup(&NET, "faults", 0, STATES, 3);
	return 0;
}

static int teardown(void **state)
{
	tnet_teardown(&NET);
	return 0;
}

/* Sends n messages from a to b with subjects "<tag> <i>"; ids in ids. */
static void send_many(const struct tnode *a, const char *b, const char *tag, int n, char ids[][33])
{
	char subject[64];
	for (int i = 0; i < n; i++) {
		snprintf(subject, sizeof(subject), "%s %d.", tag, i);
		tnode_send(&NET, a, b, subject, "Store and forward.", NULL, ids[i]);
	}
}

/* Waits for every message "<tag> <i>." from a in b's inbox. */
static void wait_many(const struct tnode *b, const char *a, const char *tag, int n)
{
	char subject[64];
	for (int i = 0; i < n; i++) {
		snprintf(subject, sizeof(subject), "%s %d.", tag, i);
		json_decref(tnode_wait_inbox(&NET, b, a, subject, 0, TN_DELIVER_MS));
	}
}

static void test_recipient_down(void **state)
{
	char ids[3][33];
	struct tnode *fra = tnet_node(&NET, "FRA"), *mex = tnet_node(&NET, "MEX");
	int rc = tnode_stop(mex, SIGTERM);
	if (rc != 0) {
		TN_FAIL(&NET, "divexd MEX exited %d after SIGTERM, want 0", rc);
	}
	assert_true(proc_log_count(&mex->proc, "stopped") >= 1);
	send_many(fra, "MEX", "while MEX is down", 3, ids);
	/* The relay accepts them for MEX's mailbox while MEX is away. */
	for (int i = 0; i < 3; i++) {
		json_decref(tnode_wait_outbox(&NET, fra, ids[i], "receipted", TN_DELIVER_MS));
	}
	tnode_start(&NET, mex);
	wait_many(mex, "FRA", "while MEX is down", 3);
}

static void test_relay_down(void **state)
{
	char ids[3][33];
	struct tnode *fra = tnet_node(&NET, "FRA"), *bfa = tnet_node(&NET, "BFA");
	struct tnode *mex = tnet_node(&NET, "MEX");
	int rc = trelay_stop(&NET.relay, SIGTERM);
	if (rc != 0) {
		TN_FAIL(&NET, "the relay exited %d after SIGTERM, want 0", rc);
	}
	/* Sending still works: the messages wait in the senders' outboxes. */
	send_many(fra, "MEX", "while the relay is down", 3, ids);
	char bid[1][33];
	send_many(bfa, "MEX", "BFA while the relay is down", 1, bid);
	json_t *out = TN_CLI_OK(&NET, fra, "outbox");
	json_t *items = json_object_get(out, "items");
	for (size_t i = 0; i < json_array_size(items); i++) {
		json_t *it = json_array_get(items, i);
		for (int k = 0; k < 3; k++) {
			if (strcmp(tj_str(it, "message_id"), ids[k]) == 0) {
				assert_string_not_equal(tj_str(it, "state"), "receipted");
			}
		}
	}
	json_decref(out);
	trelay_start(&NET.relay);
	wait_many(mex, "FRA", "while the relay is down", 3);
	wait_many(mex, "BFA", "BFA while the relay is down", 1);
	for (int i = 0; i < 3; i++) {
		json_decref(tnode_wait_outbox(&NET, fra, ids[i], "receipted", TN_DELIVER_MS));
	}
}

/* The outbox item with id: its number of attempts so far. */
static long long outbox_attempts(struct tnode *n, const char *id)
{
	json_t *out = TN_CLI_OK(&NET, n, "outbox");
	json_t *items = json_object_get(out, "items");
	long long attempts = -1;
	for (size_t i = 0; i < json_array_size(items); i++) {
		json_t *it = json_array_get(items, i);
		if (strcmp(tj_str(it, "message_id"), id) == 0) {
			attempts = tj_int(it, "attempts");
		}
	}
	json_decref(out);
	return attempts;
}

static void set_retry(struct tnode *n, const char *min, const char *max)
{
	int rc = tnode_stop(n, SIGTERM);
	if (rc != 0) {
		TN_FAIL(&NET, "divexd %s exited %d after SIGTERM, want 0", n->state, rc);
	}
	tnode_conf_set(n, "outbox", "retry_min_ms", min);
	tnode_conf_set(n, "outbox", "retry_max_ms", max);
	tnode_start(&NET, n);
}

/*
 * A message that failed for want of a link waits for its backoff (here at
 * least 30 s); when the relay is back, the node finds out from its next
 * answer and sends the message then, not when the backoff ends.
 */
static void test_link_back(void **state)
{
	char ids[1][33];
	struct tnode *fra = tnet_node(&NET, "FRA"), *mex = tnet_node(&NET, "MEX");
	set_retry(fra, "60000", "600000");
	int rc = trelay_stop(&NET.relay, SIGTERM);
	if (rc != 0) {
		TN_FAIL(&NET, "the relay exited %d after SIGTERM, want 0", rc);
	}
	send_many(fra, "MEX", "link back", 1, ids);
	long deadline = tn_now_ms() + TN_DELIVER_MS;
	while (outbox_attempts(fra, ids[0]) < 1) {
		if (tn_now_ms() > deadline) {
			TN_FAIL(&NET, "FRA never tried to send %s while the relay was down", ids[0]);
		}
		tn_pause();
	}
	long back = tn_now_ms();
	trelay_start(&NET.relay);
	json_decref(tnode_wait_outbox(&NET, fra, ids[0], "receipted", 20000));
	/* Well within the 30 s the backoff would have waited at the least. */
	assert_true(tn_now_ms() - back < 20000);
	assert_true(proc_log_count(&fra->proc, "relay link is up again") >= 1);
	wait_many(mex, "FRA", "link back", 1);
	set_retry(fra, "100", "1000");
}

/* Asserts that n's inbox holds sequences 1..count from sender, each once, and no gap. */
static void check_sequences(const struct tnode *n, const char *sender, long long count)
{
	char seen[256] = { 0 };
	assert_true(count < (long long)sizeof(seen));
	json_t *j = tnode_inbox(&NET, n);
	json_t *items = json_object_get(j, "items");
	long long got = 0;
	for (size_t i = 0; i < json_array_size(items); i++) {
		json_t *it = json_array_get(items, i);
		if (strcmp(tj_str(it, "sender"), sender) != 0) {
			continue;
		}
		long long s = tj_int(it, "sequence");
		if (s < 1 || s > count || seen[s]) {
			TN_FAIL(&NET, "%s: sequence %lld from %s is %s", n->state, s, sender,
				s < 1 || s > count ? "out of range" : "there twice");
		}
		seen[s] = 1;
		got++;
	}
	if (got != count) {
		TN_FAIL(&NET, "%s: %lld messages from %s, want %lld", n->state, got, sender, count);
	}
	json_t *gaps = json_object_get(j, "gaps");
	for (size_t i = 0; i < json_array_size(gaps); i++) {
		json_t *g = json_array_get(gaps, i);
		if (strcmp(tj_str(g, "peer"), sender) == 0) {
			TN_FAIL(&NET, "%s: gap %lld..%lld from %s", n->state, tj_int(g, "first"),
				tj_int(g, "last"), sender);
		}
	}
	json_decref(j);
}

/* How many messages from sender n's inbox holds. */
static long long count_from(const struct tnode *n, const char *sender)
{
	json_t *j = tnode_inbox(&NET, n);
	json_t *items = json_object_get(j, "items");
	long long c = 0;
	for (size_t i = 0; i < json_array_size(items); i++) {
		c += strcmp(tj_str(json_array_get(items, i), "sender"), sender) == 0;
	}
	json_decref(j);
	return c;
}

static void test_kill9_mid_send(void **state)
{
	char ids[BURST][33];
	struct tnode *fra = tnet_node(&NET, "FRA"), *mex = tnet_node(&NET, "MEX");
	long long before = count_from(mex, "FRA");
	int delivered = proc_log_count(&fra->proc, "delivered ");
	/* All at once, so that the daemon is busy with many when it dies. */
	tnode_send_burst(&NET, fra, "MEX", "burst", BURST, ids);
	int rc = tnode_stop(fra, SIGKILL);
	assert_int_equal(rc, 128 + SIGKILL);
	/* Not a condition of the test (it depends on timing), but worth knowing. */
	fprintf(stderr, "test_kill9_mid_send: %d of %d delivered before SIGKILL\n",
		proc_log_count(&fra->proc, "delivered ") - delivered, BURST);
	tnode_start(&NET, fra);
	wait_many(mex, "FRA", "burst", BURST);
	for (int i = 0; i < BURST; i++) {
		json_decref(tnode_wait_outbox(&NET, fra, ids[i], "receipted", TN_DELIVER_MS));
	}
	check_sequences(mex, "FRA", before + BURST);
}

static void test_no_role(void **state)
{
	struct tnode *fra = tnet_node(&NET, "FRA");
	struct tcli r;
	if (geteuid() != 0) {
		fprintf(stderr, "test_no_role: skipped: running the divex command as another "
				"user needs root\n");
		skip();
	}
	/*
	 * The other user must reach the home, which the daemon itself makes
	 * traversable; the test's own directories are opened up for the while.
	 * Then the roles, not the file modes, must refuse it.
	 */
	assert_int_equal(chmod(test_tmpdir(), 0755), 0);
	assert_int_equal(chmod(NET.dir, 0755), 0);
	tnode_cli_argv(fra, NOBODY, &r, TN_ARGS("status"));
	int status = r.status;
	char err[200];
	snprintf(err, sizeof(err), "%.199s", r.err);
	tcli_free(&r);
	assert_int_equal(chmod(NET.dir, 0700), 0);
	assert_int_equal(chmod(test_tmpdir(), 0700), 0);
	if (status != 3 || strstr(err, "DX_EFORBIDDEN") == NULL) {
		TN_FAIL(&NET,
			"divex status as nobody: status %d, stderr %s (want 3, DX_EFORBIDDEN)",
			status, err);
	}
	/* This process's user is FRA's administrator and is served. */
	json_decref(TN_CLI_OK(&NET, fra, "status"));
}

/* Waits until FRA's roster shows a pending key change for state; returns its fingerprint. */
static void wait_pending(const struct tnode *n, const char *state, char fp[128])
{
	long end = tn_now_ms() + TN_DELIVER_MS;
	do {
		json_t *j = TN_CLI_OK(&NET, n, "roster");
		json_t *entries = json_object_get(j, "entries");
		for (size_t i = 0; i < json_array_size(entries); i++) {
			json_t *e = json_array_get(entries, i);
			if (strcmp(tj_str(e, "state"), state) == 0 &&
			    tj_str(e, "pending_fingerprint")[0] != '\0') {
				snprintf(fp, 128, "%s", tj_str(e, "pending_fingerprint"));
				json_decref(j);
				return;
			}
		}
		json_decref(j);
		tn_pause();
	} while (tn_now_ms() < end);
	TN_FAIL(&NET, "%s never saw %s's new key as a pending change", n->state, state);
}

static void test_key_change(void **state)
{
	char home[600], enr[700], fp[128], id[33], msg[700];
	struct tnode *fra = tnet_node(&NET, "FRA"), *mex = tnet_node(&NET, "MEX");
	/* MEX starts over: new keys in a new home, admitted again. */
	assert_int_equal(tnode_stop(mex, SIGTERM), 0);
	snprintf(home, sizeof(home), "%s/MEX-new", NET.dir);
	tnode_init(&NET, mex, "MEX", home);
	snprintf(enr, sizeof(enr), "%s/enrollment.dxe", home);
	int rc = trelay_admit(&NET.relay, enr);
	if (rc != 0) {
		TN_FAIL(&NET, "divex-relay admit refused MEX's new key (status %d)", rc);
	}
	tnode_start(&NET, mex);
	wait_pending(fra, "MEX", fp);
	/* Until a person checks the new key, nothing is sealed to it. */
	struct tcli r;
	snprintf(msg, sizeof(msg), "%s.msg", fra->home);
	test_write_file(msg, "To the new key.", 15);
	tnode_cli_argv(
		fra, (uid_t)-1, &r,
		TN_ARGS("send", "--to", "MEX", "--subject", "to the new key", "--file", msg));
	if (r.status != 3 || strstr(r.err, "divex keys verify") == NULL) {
		TN_FAIL(&NET,
			"send to a changed key: status %d, stderr %s (want 3 and a hint "
			"naming `divex keys verify`)",
			r.status, r.err);
	}
	tcli_free(&r);
	/* A wrong fingerprint accepts nothing. */
	tnode_cli_argv(fra, (uid_t)-1, &r,
		       TN_ARGS("keys", "verify", "MEX", "000000000000000000000000000000"));
	assert_int_not_equal(r.status, 0);
	tcli_free(&r);
	json_t *v = TN_CLI_OK(&NET, fra, "keys", "verify", "MEX", fp);
	assert_string_equal(tj_str(v, "action"), "accepted-change");
	json_decref(v);
	tnode_send(&NET, fra, "MEX", "to the new key", "To the new key.", NULL, id);
	json_decref(tnode_wait_inbox(&NET, mex, "FRA", "to the new key", 0, TN_DELIVER_MS));
}

/*
 * The state a SIGKILL between the relay logging an acknowledgement and the
 * node storing its receipt leaves: the message stored, no receipt, and the
 * relay no longer listing it. The node acknowledges it again at start and
 * stores the receipt of that second acknowledgement.
 */
static void test_lost_ack_receipt(void **state)
{
	(void)state;
	struct tnode *fra = tnet_node(&NET, "FRA"), *bfa = tnet_node(&NET, "BFA");
	char id[33], db_path[600];
	sqlite3 *db = NULL;
	tnode_send(&NET, fra, "BFA", "ack lost", "Its acknowledgement receipt is lost.", NULL, id);
	json_t *it = tnode_wait_inbox(&NET, bfa, "FRA", "ack lost", 1, TN_DELIVER_MS);
	char envelope_id[33];
	snprintf(envelope_id, sizeof(envelope_id), "%s", tj_str(it, "envelope_id"));
	json_decref(it);
	assert_int_equal(tnode_stop(bfa, SIGTERM), 0);
	snprintf(db_path, sizeof(db_path), "%s/node.db", bfa->home);
	assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE inbox SET ack_receipt = NULL", NULL, NULL, NULL),
			 SQLITE_OK);
	assert_true(sqlite3_changes(db) >= 1);
	sqlite3_close(db);
	tnode_start(&NET, bfa);
	assert_int_equal(tnode_wait_log(bfa, "acknowledging again", 1, TN_DELIVER_MS), 0);
	json_decref(tnode_wait_inbox(&NET, bfa, "FRA", "ack lost", 1, TN_DELIVER_MS));
	json_t *st = TN_CLI_OK(&NET, bfa, "status");
	assert_int_equal(tj_int(st, "inbox_unacked"), 0);
	json_decref(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recipient_down), cmocka_unit_test(test_relay_down),
		cmocka_unit_test(test_link_back),
		cmocka_unit_test(test_kill9_mid_send), cmocka_unit_test(test_no_role),
		cmocka_unit_test(test_key_change),     cmocka_unit_test(test_lost_ack_receipt),
	};
	return cmocka_run_group_tests_name("node faults", tests, setup, teardown);
}
