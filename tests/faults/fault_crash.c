/*
 * fault_crash.c: the crash campaign. A relay, two sending States and two
 * receiving States run as separate processes on loopback under a sustained
 * load of messages, some with attachments of a few KiB to a few hundred
 * KiB; at random points the relay, a sending node or a receiving node is
 * killed with SIGKILL, left down for a moment while the load goes on, and
 * restarted on the same port and home.
 *
 * Once the load stops and everything is up, every message divex confirmed
 * must be in its sender's outbox and end receipted, every receipted copy
 * must be in its recipient's inbox exactly once, byte for byte as sent
 * (text and attachment), with each sender's sequence numbers 1..N and no
 * gap; a send whose daemon died under it may or may not have been queued,
 * but if it was, the same holds for it. Every node's `divex audit check`
 * passes, no node raised an alarm or refused an envelope, and, with the
 * daemons stopped, every checkpoint the relay and the nodes kept verifies
 * against the relay's log rebuilt from its leaves (crash_audit.c).
 *
 * Bounded by default (5 kills of each kind, a few hundred messages: the
 * suite's form); DIVEX_FAULTS_FULL=1 runs the long form (50 kills of each
 * kind in a row, 4000 messages). The seed is printed first;
 * DIVEX_FAULTS_SEED=N runs the same plan again. The figures are printed on
 * standard output, one line per figure, after "crash:".
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crash_campaign.h"
#include "testlib.h"


enum kind { KILL_RELAY, KILL_SENDER, KILL_RECEIVER, KINDS };
static const char *const KIND_NAMES[KINDS] = { "relay", "sender", "receiver" };

struct params {
	int kills_per_kind;
	int messages;
	int inflight; /* `divex send` processes at once */
	size_t att_max;
	int att_every;
	int down_max_ms; /* longest a killed process stays down */
	int settle_ms;	 /* deadline for the last deliveries (a safety net) */
};

/* The suite's form: about a minute on a loaded 2-core machine, both builds. */
static const struct params BOUNDED = {
	.kills_per_kind = 5,
	.messages = TEST_UNDER_ASAN ? 400 : 600,
	.inflight = 4,
	.att_max = 300 * 1024,
	.att_every = 4,
	.down_max_ms = 1000,
	.settle_ms = 240000,
};

static const struct params FULL = {
	.kills_per_kind = 50,
	.messages = 4000,
	.inflight = 4,
	.att_max = 300 * 1024,
	.att_every = 4,
	.down_max_ms = 1500,
	.settle_ms = 600000,
};

static const char *const STATES[CRASH_NODES] = { "FRA", "MEX", "BFA", "NZL" };

static struct tnet NET;
static struct crash_run RUN;

struct schedule {
	int n;
	enum kind *kinds; /* in the order they happen */
	int *after;	  /* kill j once this many messages were started */
	int done, count[KINDS];
	long fire_ms; /* when the armed kill fires; 0: none armed */
	/* The process that is down, and until when. */
	int down_kind, down_node;
	long up_ms;
};

static struct schedule KILLS;

static uint64_t pick_seed(void)
{
	const char *s = getenv("DIVEX_FAULTS_SEED");
	if (s != NULL && *s != '\0') {
		return strtoull(s, NULL, 10);
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid();
}

/* Kills of each kind in a random order, one in each stretch of the load at a random point. */
static void plan_kills(struct schedule *k, const struct params *p, uint64_t *r)
{
	memset(k, 0, sizeof(*k));
	k->n = KINDS * p->kills_per_kind;
	k->kinds = calloc((size_t)k->n, sizeof(*k->kinds));
	k->after = calloc((size_t)k->n, sizeof(*k->after));
	assert_true(k->kinds != NULL && k->after != NULL);
	for (int j = 0; j < k->n; j++) {
		k->kinds[j] = (enum kind)(j % KINDS);
	}
	for (int j = k->n - 1; j > 0; j--) {
		int o = (int)(crash_rand(r) % (uint64_t)(j + 1));
		enum kind x = k->kinds[j];
		k->kinds[j] = k->kinds[o];
		k->kinds[o] = x;
	}
	for (int j = 0; j < k->n; j++) {
		double u = (double)(crash_rand(r) % 1000) / 1000.0;
		k->after[j] = (int)(((double)j + u) * p->messages / k->n);
	}
	k->down_kind = -1;
}

/* Whether a child is still running (not a zombie). */
static int alive(pid_t pid)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return 0;
	}
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *st = strrchr(buf, ')');
	return st != NULL && st[1] == ' ' && st[2] != 'Z';
}

/* No daemon may die but by our hand. */
static void check_alive(void)
{
	if (NET.relay.running && !alive(NET.relay.proc.pid)) {
		TN_FAIL(&NET, "the relay died by itself");
	}
	for (int i = 0; i < NET.n_nodes; i++) {
		if (NET.nodes[i].running && !alive(NET.nodes[i].proc.pid)) {
			TN_FAIL(&NET, "divexd %s died by itself", NET.nodes[i].state);
		}
	}
}

static void kill_one(struct schedule *k, const struct params *p, uint64_t *r)
{
	enum kind kind = k->kinds[k->done];
	int rc, node = -1;
	if (kind == KILL_RELAY) {
		rc = trelay_stop(&NET.relay, SIGKILL);
	} else {
		node = (kind == KILL_SENDER ? 0 : CRASH_SENDERS) +
		       (int)(crash_rand(r) %
			     (kind == KILL_SENDER ? CRASH_SENDERS : CRASH_RECEIVERS));
		rc = tnode_stop(&NET.nodes[node], SIGKILL);
	}
	if (rc != 128 + SIGKILL) {
		TN_FAIL(&NET, "the %s %s ended with status %d before SIGKILL", KIND_NAMES[kind],
			node >= 0 ? NET.nodes[node].state : "", rc);
	}
	k->count[kind]++;
	k->done++;
	k->down_kind = kind;
	k->down_node = node;
	k->up_ms = tn_now_ms() + (long)(crash_rand(r) % (uint64_t)(p->down_max_ms + 1));
}

static void restart(struct schedule *k)
{
	if (k->down_kind == KILL_RELAY) {
		trelay_start(&NET.relay);
	} else {
		tnode_start(&NET, &NET.nodes[k->down_node]);
	}
	k->down_kind = -1;
}

/* The load, with the kills at their points; returns once every send has ended. */
static void run_load(const struct params *p, struct schedule *k, uint64_t *r)
{
	int next = 0;
	long last_check = 0;
	while (next < RUN.n_msgs || RUN.running > 0 || k->done < k->n || k->down_kind >= 0) {
		long now = tn_now_ms();
		crash_send_reap(&RUN);
		if (now - last_check > 1000) {
			check_alive();
			last_check = now;
		}
		if (k->down_kind >= 0 && now >= k->up_ms) {
			restart(k);
		}
		if (k->down_kind < 0 && k->done < k->n && k->fire_ms == 0 &&
		    next >= k->after[k->done]) {
			/* A random moment after the point: whatever the daemons are doing then. */
			k->fire_ms = now + (long)(crash_rand(r) % 400);
		}
		if (k->down_kind < 0 && k->fire_ms != 0 && now >= k->fire_ms) {
			kill_one(k, p, r);
			k->fire_ms = 0;
		}
		while (RUN.running < p->inflight && next < RUN.n_msgs &&
		       NET.nodes[RUN.msgs[next].sender].running) {
			crash_send_start(&RUN, next++);
		}
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL); /* polling interval, not a synchronisation */
	}
}

/* What a sanitizer said at exit, for the failure message. */
static const char *sanitizer_said(const struct proc *p)
{
	if (proc_log_count(p, "LeakSanitizer") > 0) {
		return ": LeakSanitizer reported leaks (the stacks are in its log)";
	}
	if (proc_log_count(p, "Sanitizer") > 0) {
		return ": a sanitizer reported an error (see its log)";
	}
	return "";
}

/* Stops everything with SIGTERM: each must exit 0 (a clean drain). */
static void stop_all(void)
{
	for (int i = 0; i < NET.n_nodes; i++) {
		int rc = tnode_stop(&NET.nodes[i], SIGTERM);
		if (rc != 0) {
			TN_FAIL(&NET, "divexd %s exited %d after SIGTERM%s", NET.nodes[i].state, rc,
				sanitizer_said(&NET.nodes[i].proc));
		}
	}
	int rc = trelay_stop(&NET.relay, SIGTERM);
	if (rc != 0) {
		TN_FAIL(&NET, "the relay exited %d after SIGTERM%s", rc,
			sanitizer_said(&NET.relay.proc));
	}
}

static void report(const struct schedule *k, const struct crash_tally *t,
		   const struct crash_audit *a, int settled, long seconds)
{
	int audit_ok =
		a->check_failed == 0 && a->alarms == 0 && a->conflicts == 0 && a->refused == 0;
	printf("crash: kills relay=%d sender=%d receiver=%d\n", k->count[KILL_RELAY],
	       k->count[KILL_SENDER], k->count[KILL_RECEIVER]);
	printf("crash: messages=%d confirmed=%d receipted=%d delivered_once=%d\n", RUN.n_msgs,
	       t->confirmed, t->receipted, t->delivered_once);
	printf("crash: sends cut by a kill=%d, of which queued and delivered once=%d\n",
	       t->unconfirmed, t->unconfirmed_delivered);
	printf("crash: lost=%d duplicated=%d corrupted=%d unreadable=%d spurious=%d stuck=%d "
	       "sequence_errors=%d gaps=%d%s\n",
	       t->lost, t->duplicated, t->corrupted, t->unreadable, t->spurious, t->stuck,
	       t->sequence_errors, t->gaps, settled ? "" : " (not settled by the deadline)");
	printf("crash: copies read back=%d, with attachments=%d\n", t->contents_checked,
	       t->attachments_checked);
	printf("crash: unacknowledged=%d; acknowledged at the relay but not recorded by the "
	       "recipient=%d\n",
	       t->unacked, t->acks_unrecorded);
	printf("crash: audit %s: log of %llu leaves; %d relay and %d node checkpoints verified "
	       "against it; %d receipts proved by divex audit check; alarms=%d conflicts=%d "
	       "refused=%d failed_checks=%d\n",
	       audit_ok ? "ok" : "FAILED", (unsigned long long)a->leaves, a->relay_checkpoints,
	       a->node_checkpoints, a->receipts_checked, a->alarms, a->conflicts, a->refused,
	       a->check_failed);
	printf("crash: %ld s\n", seconds);
	fflush(stdout);
}

static void test_crash_campaign(void **state)
{
	(void)state;
	int full = getenv("DIVEX_FAULTS_FULL") != NULL &&
		   strcmp(getenv("DIVEX_FAULTS_FULL"), "1") == 0;
	const struct params *p = full ? &FULL : &BOUNDED;
	struct schedule *k = &KILLS;
	struct crash_tally t;
	struct crash_audit a;
	long start = tn_now_ms();
	uint64_t seed = pick_seed(), r = seed ^ 0x6b696c6cULL;
	printf("crash: seed %llu (DIVEX_FAULTS_SEED=%llu runs the same plan), %s form\n",
	       (unsigned long long)seed, (unsigned long long)seed, full ? "full" : "bounded");
	fflush(stdout);
	tnet_setup(&NET, "crash", 0, STATES, CRASH_NODES);
	RUN.net = &NET;
	RUN.seed = seed;
	snprintf(RUN.dir, sizeof(RUN.dir), "%s/work", NET.dir);
	assert_int_equal(mkdir(RUN.dir, 0700), 0);
	crash_plan(&RUN, p->messages, p->att_max, p->att_every);
	plan_kills(k, p, &r);
	run_load(p, k, &r);
	check_alive();
	int settled = crash_wait_settled(&RUN, p->settle_ms) == 0;
	crash_account(&RUN, &t);
	memset(&a, 0, sizeof(a));
	crash_audit_nodes(&RUN, &a);
	stop_all();
	crash_audit_offline(&RUN, &a);
	report(k, &t, &a, settled, (tn_now_ms() - start) / 1000);
	if (!settled || t.lost || t.duplicated || t.corrupted || t.unreadable || t.spurious ||
	    t.stuck || t.sequence_errors || t.gaps || t.unacked || t.acks_unrecorded ||
	    t.delivered_once != t.confirmed || a.check_failed || a.alarms || a.conflicts ||
	    a.refused) {
		TN_FAIL(&NET, "the crash campaign found the faults counted above (seed %llu)",
			(unsigned long long)seed);
	}
}

static int teardown(void **state)
{
	(void)state;
	crash_send_kill_all(&RUN);
	tnet_teardown(&NET);
	free(RUN.msgs);
	free(KILLS.kinds);
	free(KILLS.after);
	return 0;
}

int main(void)
{
	test_find_build_tree();
	/* Figures on standard output must not wait behind a buffer when a test fails. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_crash_campaign, teardown),
	};
	return cmocka_run_group_tests_name("crash campaign", tests, NULL, NULL);
}
