/*
 * test_node_admin.c: what a node does on its own schedule and on its
 * administrator's word, as separate processes over tcp://.
 *
 * Prekeys: a node whose prekey has less than half of the configured period
 * left rotates it when it starts, rewrites its key file and publishes its
 * new roster entry; another State then seals to the new prekey and the node
 * opens it. `divex admin rotate-prekey` does the same on demand. Reload:
 * SIGHUP rereads divexd.conf, so a user taken out of the administrator role
 * is refused at once, and put back, served again.
 */
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nodes.h"
#include "testlib.h"

static struct tnet NET;
static const char *const STATES[] = { "FRA", "MEX" };

static int setup(void **state)
{
	(void)state;
	tnet_setup(&NET, "admin", 0, STATES, 2);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tnet_teardown(&NET);
	return 0;
}

/* The prekey id divexd reports for n. */
static void prekey_of(const struct tnode *n, char out[33])
{
	json_t *st = TN_CLI_OK(&NET, n, "status");
	snprintf(out, 33, "%s", tj_str(st, "prekey_id"));
	json_decref(st);
	assert_int_equal(strlen(out), 32);
}

/* MEX writes to FRA and FRA must open it: sealed to whatever prekey MEX's mirror holds. */
static void mex_writes_to_fra(const char *subject)
{
	char id[33];
	struct tnode *fra = tnet_node(&NET, "FRA"), *mex = tnet_node(&NET, "MEX");
	tnode_send(&NET, mex, "FRA", subject, "Sealed to the newest prekey.", NULL, id);
	json_decref(tnode_wait_inbox(&NET, fra, "MEX", subject, 1, TN_DELIVER_MS));
}

/* Waits until MEX's roster mirror holds an entry of FRA logged after index. */
static void wait_mex_mirror_after(long long index)
{
	struct tnode *mex = tnet_node(&NET, "MEX");
	long deadline = tn_now_ms() + TN_DELIVER_MS;
	for (;;) {
		json_t *r = TN_CLI_OK(&NET, mex, "roster");
		json_t *entries = json_object_get(r, "entries"), *e;
		size_t i;
		long long got = -1;
		json_array_foreach(entries, i, e)
		{
			if (strcmp(tj_str(e, "state"), "FRA") == 0) {
				got = tj_int(e, "log_index");
			}
		}
		json_decref(r);
		if (got > index) {
			return;
		}
		if (tn_now_ms() > deadline) {
			TN_FAIL(&NET, "MEX's roster never showed FRA's new entry (index %lld)", got);
		}
		tn_pause();
	}
}

static long long fra_index_at_mex(void)
{
	struct tnode *mex = tnet_node(&NET, "MEX");
	json_t *r = TN_CLI_OK(&NET, mex, "roster");
	json_t *entries = json_object_get(r, "entries"), *e;
	size_t i;
	long long got = -1;
	json_array_foreach(entries, i, e)
	{
		if (strcmp(tj_str(e, "state"), "FRA") == 0) {
			got = tj_int(e, "log_index");
		}
	}
	json_decref(r);
	return got;
}

static void test_prekey_rotates_on_schedule(void **state)
{
	(void)state;
	char before[33], after[33];
	struct tnode *fra = tnet_node(&NET, "FRA");
	prekey_of(fra, before);
	long long index = fra_index_at_mex();
	/* The first prekey is valid 7 days: with a 30-day period it is overdue. */
	if (tnode_stop(fra, SIGTERM) != 0) {
		TN_FAIL(&NET, "divexd FRA did not stop cleanly");
	}
	tnode_conf_set(fra, "prekeys", "period_days", "30");
	tnode_start(&NET, fra);
	if (tnode_wait_log(fra, "rotated the prekey", 1, TN_START_MS) != 0 ||
	    tnode_wait_log(fra, "published this State's roster entry", 1, TN_START_MS) != 0) {
		TN_FAIL(&NET, "FRA did not rotate and publish its overdue prekey");
	}
	prekey_of(fra, after);
	assert_string_not_equal(before, after);
	wait_mex_mirror_after(index);
	mex_writes_to_fra("After the scheduled rotation.");
}

static void test_prekey_rotates_on_demand(void **state)
{
	(void)state;
	char before[33], after[33];
	struct tnode *fra = tnet_node(&NET, "FRA");
	prekey_of(fra, before);
	long long index = fra_index_at_mex();
	json_t *r = TN_CLI_OK(&NET, fra, "admin", "rotate-prekey");
	snprintf(after, sizeof(after), "%s", tj_str(r, "prekey_id"));
	json_decref(r);
	assert_string_not_equal(before, after);
	prekey_of(fra, before);
	assert_string_equal(before, after);
	wait_mex_mirror_after(index);
	mex_writes_to_fra("After the rotation on demand.");
}

static void test_sighup_reloads_roles(void **state)
{
	(void)state;
	struct tcli r;
	struct tnode *fra = tnet_node(&NET, "FRA");
	const struct passwd *pw = getpwuid(getuid());
	assert_non_null(pw);
	/* Officer only: may read the status, may not administer. */
	tnode_conf_set(fra, "roles", "administrator", "");
	tnode_conf_set(fra, "roles", "officer", pw->pw_name);
	assert_int_equal(kill(fra->proc.pid, SIGHUP), 0);
	if (tnode_wait_log(fra, "configuration reloaded", 1, TN_START_MS) != 0) {
		TN_FAIL(&NET, "FRA did not reload on SIGHUP");
	}
	tnode_cli_argv(fra, (uid_t)-1, &r, TN_ARGS("admin", "rotate-prekey"));
	if (r.status != 3 || strstr(r.err, "administrator") == NULL) {
		TN_FAIL(&NET, "an officer rotated the prekey: exit %d, %s", r.status, r.err);
	}
	tcli_free(&r);
	json_decref(TN_CLI_OK(&NET, fra, "status"));
	/* And back: the administrator reloads through the control socket. */
	tnode_conf_set(fra, "roles", "administrator", pw->pw_name);
	assert_int_equal(kill(fra->proc.pid, SIGHUP), 0);
	if (tnode_wait_log(fra, "configuration reloaded", 2, TN_START_MS) != 0) {
		TN_FAIL(&NET, "FRA did not reload on the second SIGHUP");
	}
	json_decref(TN_CLI_OK(&NET, fra, "admin", "reload"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prekey_rotates_on_schedule),
		cmocka_unit_test(test_prekey_rotates_on_demand),
		cmocka_unit_test(test_sighup_reloads_roles),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
