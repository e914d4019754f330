/*
 * test_node_equivocation.c: a relay that shows two histories is caught.
 *
 * The relay is stopped and its whole home copied, signing key included; the
 * original and the copy then run side by side on two ports, FRA talking to
 * one and MEX to the other, and each side's traffic makes the two audit
 * logs diverge. Neither node can tell yet. When MEX is pointed back at
 * FRA's relay, the checkpoint it is shown cannot extend the one it holds:
 * MEX must raise an ALARM, logged and listed by `divex status`. And when
 * FRA receives an envelope from MEX, which carries the checkpoint MEX
 * holds, FRA must raise an ALARM too.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes.h"
#include "testlib.h"

static struct tnet NET;
static struct trelay SECOND;
static const char *const STATES[] = { "FRA", "MEX" };

static int setup(void **state)
{
	tnet_setup(&NET, "equiv", 0, STATES, 2);
	return 0;
}

static int teardown(void **state)
{
	trelay_stop(&SECOND, SIGTERM);
	tnet_teardown(&NET);
	return 0;
}

/* Sends a message and waits until the sender holds the relay's receipt. */
static void send_receipted(struct tnode *from, const char *to, const char *subject)
{
	char id[33];
	tnode_send(&NET, from, to, subject, "Traffic.", NULL, id);
	json_decref(tnode_wait_outbox(&NET, from, id, "receipted", TN_DELIVER_MS));
}

/* Restarts n with [relay] url set to url. */
static void repoint(struct tnode *n, const char *url)
{
	int rc = tnode_stop(n, SIGTERM);
	if (rc != 0) {
		TN_FAIL(&NET, "divexd %s exited %d after SIGTERM, want 0", n->state, rc);
	}
	tnode_conf_set(n, "relay", "url", url);
	tnode_start(&NET, n);
}

/* The alarms of `divex status --json` (a new reference). */
static json_t *alarms_of(const struct tnode *n)
{
	json_t *j = TN_CLI_OK(&NET, n, "status");
	json_t *a = json_object_get(j, "alarms");
	json_incref(a);
	json_decref(j);
	return a;
}

/* Waits for ALARM in n's log, then checks that `divex status` lists one. */
static void expect_alarm(const struct tnode *n, const char *why)
{
	if (tnode_wait_log(n, "ALARM", 1, TN_DELIVER_MS) != 0) {
		TN_FAIL(&NET, "%s raised no ALARM %s", n->state, why);
	}
	json_t *a = alarms_of(n);
	if (json_array_size(a) == 0) {
		TN_FAIL(&NET, "%s logged an ALARM %s, but `divex status` lists none", n->state,
			why);
	}
	for (size_t i = 0; i < json_array_size(a); i++) {
		json_t *al = json_array_get(a, i);
		/* The evidence: both signed checkpoints, and where the second came from. */
		assert_true(strlen(tj_str(al, "kind")) > 0);
		assert_true(strlen(tj_str(al, "source")) > 0);
		assert_true(strlen(tj_str(al, "held")) > 0);
		assert_true(strlen(tj_str(al, "offered")) > 0);
		assert_string_not_equal(tj_str(al, "held"), tj_str(al, "offered"));
	}
	json_decref(a);
}

static void test_split_view(void **state)
{
	char home[600];
	struct tnode *fra = tnet_node(&NET, "FRA"), *mex = tnet_node(&NET, "MEX");
	/* One history both nodes agree on. */
	send_receipted(fra, "MEX", "before the split, from FRA");
	send_receipted(mex, "FRA", "before the split, from MEX");
	json_decref(
		tnode_wait_inbox(&NET, mex, "FRA", "before the split, from FRA", 0, TN_DELIVER_MS));
	json_decref(
		tnode_wait_inbox(&NET, fra, "MEX", "before the split, from MEX", 0, TN_DELIVER_MS));

	/* The relay's twin: same key, same log so far, another port. */
	int rc = trelay_stop(&NET.relay, SIGTERM);
	if (rc != 0) {
		TN_FAIL(&NET, "the relay exited %d after SIGTERM, want 0", rc);
	}
	snprintf(home, sizeof(home), "%s/relay-twin", NET.dir);
	trelay_clone(&NET.relay, &SECOND, home);
	NET.twin = &SECOND;
	trelay_start(&NET.relay);
	trelay_start(&SECOND);
	repoint(mex, SECOND.url);

	/* Each side adds to its own log: the two histories diverge. */
	send_receipted(fra, "MEX", "after the split, from FRA");
	send_receipted(mex, "FRA", "after the split, from MEX");
	/* Apart, neither node can see anything wrong. */
	assert_int_equal(proc_log_count(&fra->proc, "ALARM"), 0);
	assert_int_equal(proc_log_count(&mex->proc, "ALARM"), 0);
	json_t *a = alarms_of(fra);
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);

	/* MEX comes back to FRA's relay, whose checkpoint cannot extend MEX's. */
	repoint(mex, NET.relay.url);
	expect_alarm(mex, "when shown a checkpoint inconsistent with the one it holds");

	/* An envelope from MEX carries MEX's checkpoint; FRA must see the fork. */
	char id[33];
	tnode_send(&NET, mex, "FRA", "from the other history", "Gossip.", NULL, id);
	expect_alarm(fra, "on an envelope from MEX carrying the other relay's checkpoint");
	json_t *fa = alarms_of(fra);
	int from_mex = 0;
	for (size_t i = 0; i < json_array_size(fa); i++) {
		from_mex |= strstr(tj_str(json_array_get(fa, i), "source"), "MEX") != NULL;
	}
	json_decref(fa);
	if (!from_mex) {
		TN_FAIL(&NET, "FRA's alarms do not name the envelope from MEX as their source");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_view),
	};
	return cmocka_run_group_tests_name("node equivocation", tests, setup, teardown);
}
