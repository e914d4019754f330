/*
 * fault_clock.c: a node whose clock is wrong, and a node's calendar at
 * local midnight before a daylight saving change.
 *
 * A relay and three States run as separate processes on loopback; a node
 * is restarted under libfaketime (LD_PRELOAD, FAKETIME) to skew its clock.
 * The network is set up an hour in the past and then run on the true
 * clock, so that its keys are as old as in a network that has been running.
 *
 *   - 20 minutes ahead or behind, beyond the relay's request window
 *     (relay.conf request_window_seconds, 300 s by default; PROTOCOL.md 12.3
 *     step 5): the relay refuses every request with DX_EREQ_STALE. The
 *     officer sees it where they look: `divex status` shows it as the relay
 *     link's last error with the advice to check the clock (NTP), `divex
 *     outbox` shows it for each waiting message, and the node's log says the
 *     relay refused this node's clock. Nothing is lost: restarted with the
 *     right clock, the node sends what it queued and receives what waited,
 *     each exactly once.
 *   - 4 minutes off, inside the window and the envelope skew: everything
 *     works.
 *   - With a relay window wider than the envelope skew (10 minutes,
 *     PROTOCOL.md 5.7 check 9), a recipient 20 minutes behind refuses an
 *     envelope with DX_ESTALE, says so in its log with the advice to check
 *     both clocks, and leaves it at the relay; restarted with the right
 *     clock, it receives it.
 *   - Daylight saving: BFA receives a request to answer by 28 March 2026
 *     and a rule 12 notice to answer by 13 April (FRA sends them on a day
 *     injected with DIVEX_TODAY), then runs with TZ=Europe/Berlin and its
 *     clock 20 seconds before midnight on 28 March, the night the clocks go
 *     forward.
 *     `divex due` shows today as 2026-03-28 (0 and 16 days left), then,
 *     after local midnight, 2026-03-29 (the request a day overdue, 15 days
 *     left for the notice).
 *
 * libfaketime is found at run time (DIVEX_FAKETIME_LIB, or the Debian
 * paths); without it the program prints "SKIPPED: reason" and exits 77. In
 * a build with AddressSanitizer the skewed daemon also gets
 * ASAN_OPTIONS=verify_asan_link_order=0: the preloaded library comes before
 * the sanitizer's runtime, which is harmless here because libfaketime
 * intercepts only clock functions. The figures go to standard output after
 * "clock:".
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "nodes.h"
#include "testlib.h"


#define SKIP_STATUS 77
#define QUEUED 2
#define CASE_ID "FRA-2025-017"
/* The night the clocks go forward in Berlin: 02:00 becomes 03:00 on 29 March 2026. */
#define DST_ZONE "Europe/Berlin"
/* BFA starts this long before midnight (longer under a memory checker, DIVEX_TEST_SLOW). */
#define DST_LEAD_S 20
#define DST_SENT "2026-03-20" /* the day FRA sends the request and the notice */
#define DST_EVE "2026-03-28"
#define DST_DAY "2026-03-29"
#define DST_MEETING "2026-04-28" /* respond by 2026-04-13 */
#define DST_RESPOND_BY "2026-04-13"
/* How far in the past the network is set up. */
#define SETUP_SKEW "-1h"
/* Wide enough for a 20-minute skew, past the envelope skew of 10 minutes. */
#define WIDE_WINDOW "1800"

static struct tnet NET;
static const char *const STATES[] = { "FRA", "MEX", "BFA" };
static char FAKETIME_LIB[512];

static const char *const FAKETIME_PATHS[] = {
	"/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
	"/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
	"/usr/lib/faketime/libfaketimeMT.so.1",
	"/usr/lib64/faketime/libfaketimeMT.so.1",
};

/* Where libfaketime is; 0 when it is not installed. */
static int find_faketime(void)
{
	const char *env = getenv("DIVEX_FAKETIME_LIB");
	if (env != NULL && env[0] != '\0') {
		snprintf(FAKETIME_LIB, sizeof(FAKETIME_LIB), "%s", env);
		return access(FAKETIME_LIB, R_OK) == 0;
	}
	for (size_t i = 0; i < sizeof(FAKETIME_PATHS) / sizeof(FAKETIME_PATHS[0]); i++) {
		if (access(FAKETIME_PATHS[i], R_OK) == 0) {
			snprintf(FAKETIME_LIB, sizeof(FAKETIME_LIB), "%s", FAKETIME_PATHS[i]);
			return 1;
		}
	}
	return 0;
}

/* The variables a skewed daemon starts with, and nothing else does. */
static const char *const FAKE_VARS[] = {
	"LD_PRELOAD", "FAKETIME",     "FAKETIME_DONT_FAKE_MONOTONIC",
	"TZ",	      "ASAN_OPTIONS", "DIVEX_TODAY"
};
static char SAVED_ASAN[1024];
static int HAD_ASAN;

static void fake_env_clear(void)
{
	for (size_t i = 0; i < sizeof(FAKE_VARS) / sizeof(FAKE_VARS[0]); i++) {
		unsetenv(FAKE_VARS[i]);
	}
	if (HAD_ASAN) {
		setenv("ASAN_OPTIONS", SAVED_ASAN, 1);
	}
}

/* Children started from now on run with their clock as libfaketime's spec says. */
static void fake_env_set(const char *spec)
{
	char asan[1200];
	setenv("LD_PRELOAD", FAKETIME_LIB, 1);
	setenv("FAKETIME", spec, 1);
	setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1", 1);
	if (TEST_UNDER_ASAN) {
		snprintf(asan, sizeof(asan), "%s%sverify_asan_link_order=0",
			 HAD_ASAN ? SAVED_ASAN : "", HAD_ASAN ? ":" : "");
		setenv("ASAN_OPTIONS", asan, 1);
	}
}

/*
 * Restarts n with its clock as libfaketime's spec says ("+20m", "-20m",
 * "@2026-03-28 23:59:40"; NULL: the true clock), in time zone tz (NULL:
 * unchanged). The monotonic clock stays true: libuv's timers run on it.
 */
static void restart_with_clock(struct tnode *n, const char *spec, const char *tz)
{
	if (n->running) {
		assert_int_equal(tnode_stop(n, SIGTERM), 0);
	}
	if (spec != NULL) {
		fake_env_set(spec);
	}
	if (tz != NULL) {
		setenv("TZ", tz, 1);
	}
	tnode_start(&NET, n);
	fake_env_clear();
	fprintf(stdout, "clock: %s restarted with FAKETIME=%s%s%s\n", n->state,
		spec != NULL ? spec : "(none)", tz != NULL ? " TZ=" : "", tz != NULL ? tz : "");
}

static int setup(void **state)
{
	(void)state;
	const char *asan = getenv("ASAN_OPTIONS");
	if (asan != NULL) {
		HAD_ASAN = 1;
		snprintf(SAVED_ASAN, sizeof(SAVED_ASAN), "%s", asan);
	}
	/*
	 * Set up an hour in the past, then run on the true clock: every key
	 * and prekey is an hour old, as in a network that has been running,
	 * so that a node 20 minutes behind still finds its peers' current
	 * prekeys (a prekey younger than the skew would be refused for that
	 * reason, not the clock's).
	 */
	fake_env_set(SETUP_SKEW);
	tnet_setup(&NET, "clock", 0, STATES, 3);
	fake_env_clear();
	assert_int_equal(trelay_stop(&NET.relay, SIGTERM), 0);
	trelay_start(&NET.relay);
	for (int i = 0; i < NET.n_nodes; i++) {
		restart_with_clock(&NET.nodes[i], NULL, NULL);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fake_env_clear();
	tnet_teardown(&NET);
	return 0;
}

/* After each test, even a failed one: the next starts with true clocks. */
static int true_clocks(void **state)
{
	(void)state;
	fake_env_clear();
	return 0;
}

/* ---- helpers ---- */

/* Waits until id's last error on n is code, the message still waiting. */
static void wait_outbox_error(const struct tnode *n, const char *id, int code)
{
	long end = tn_now_ms() + TN_DELIVER_MS;
	long long last = 0;
	do {
		json_t *it = tnet_outbox_item(&NET, n, id);
		last = it != NULL ? tj_int(it, "last_error") : 0;
		int receipted = it != NULL && strcmp(tj_str(it, "state"), "receipted") == 0;
		json_decref(it);
		if (receipted) {
			TN_FAIL(&NET, "%s: message %s was receipted with a refused clock", n->state,
				id);
		}
		if (last == code) {
			return;
		}
		tn_pause();
	} while (tn_now_ms() < end);
	TN_FAIL(&NET, "%s: message %s: last error %s, want %s", n->state, id, dx_errname((int)last),
		dx_errname(code));
}

/* Waits until `divex status` shows the relay link's last error as code. */
static void wait_status_error(const struct tnode *n, int code)
{
	long end = tn_now_ms() + TN_DELIVER_MS;
	long long last = 0;
	do {
		json_t *j = TN_CLI_OK(&NET, n, "status");
		last = tj_int(j, "relay_last_error");
		json_decref(j);
		if (last == code) {
			return;
		}
		tn_pause();
	} while (tn_now_ms() < end);
	TN_FAIL(&NET, "%s: divex status shows relay_last_error %s, want %s", n->state,
		dx_errname((int)last), dx_errname(code));
}

/* `divex status` as an officer reads it, without --json. */
static char *status_text(const struct tnode *n)
{
	char out[700];
	snprintf(out, sizeof(out), "%s.status.txt", n->home);
	unlink(out);
	char *argv[] = { (char *)built("cli/divex"), "--home", (char *)n->home, "status", NULL };
	assert_int_equal(proc_run(out, argv), 0);
	uint8_t *text = NULL;
	size_t len = 0;
	FILE *f = fopen(out, "rb");
	assert_non_null(f);
	text = malloc(65536);
	assert_non_null(text);
	len = fread(text, 1, 65535, f);
	text[len] = '\0';
	fclose(f);
	return (char *)text;
}

/* How many inbox items of n come from sender with subject in their summary. */
static int inbox_count(const struct tnode *n, const char *sender, const char *subject)
{
	json_t *j = tnode_inbox(&NET, n);
	json_t *items = json_object_get(j, "items");
	int count = 0;
	for (size_t i = 0; i < json_array_size(items); i++) {
		json_t *it = json_array_get(items, i);
		count += strcmp(tj_str(it, "sender"), sender) == 0 &&
			 strstr(tj_str(it, "summary"), subject) != NULL;
	}
	json_decref(j);
	return count;
}

static void send_n(const struct tnode *from, const char *to, const char *tag, int n, char ids[][33])
{
	char subject[96];
	for (int i = 0; i < n; i++) {
		snprintf(subject, sizeof(subject), "%s %d.", tag, i);
		tnode_send(&NET, from, to, subject, "Sent with a skewed clock.", NULL, ids[i]);
	}
}

/* Every message "<tag> <i>." from `from` is in to's inbox exactly once. */
static void expect_once(const struct tnode *from, const struct tnode *to, const char *tag, int n)
{
	char subject[96];
	for (int i = 0; i < n; i++) {
		snprintf(subject, sizeof(subject), "%s %d.", tag, i);
		json_decref(tnode_wait_inbox(&NET, to, from->state, subject, 1, TN_DELIVER_MS));
		int count = inbox_count(to, from->state, subject);
		if (count != 1) {
			TN_FAIL(&NET, "%s: \"%s\" from %s is there %d times", to->state, subject,
				from->state, count);
		}
	}
}

/* ---- a clock beyond the relay's window ---- */

static void skew_refused(const char *spec)
{
	struct tnode *fra = tnet_node(&NET, "FRA"), *mex = tnet_node(&NET, "MEX");
	char out_tag[64], in_tag[64], out_ids[QUEUED][33], in_ids[QUEUED][33];
	snprintf(out_tag, sizeof(out_tag), "from FRA at %s", spec);
	snprintf(in_tag, sizeof(in_tag), "to FRA at %s", spec);
	int logged = proc_log_count(&fra->proc, "the relay refused this node's clock");
	int refused = proc_log_count(&NET.relay.proc, "refused a request from FRA: DX_EREQ_STALE");
	restart_with_clock(fra, spec, NULL);
	wait_status_error(fra, DX_EREQ_STALE);
	send_n(fra, "MEX", out_tag, QUEUED, out_ids);
	send_n(mex, "FRA", in_tag, QUEUED, in_ids);
	/* Where the officer looks: the outbox, the status, the log. */
	for (int i = 0; i < QUEUED; i++) {
		wait_outbox_error(fra, out_ids[i], DX_EREQ_STALE);
	}
	char *text = status_text(fra);
	if (strstr(text, "DX_EREQ_STALE") == NULL || strstr(text, "NTP") == NULL) {
		TN_FAIL(&NET, "divex status does not show the refused clock with its advice:\n%s",
			text);
	}
	free(text);
	if (tnode_wait_log(fra, "the relay refused this node's clock", logged + 1, TN_DELIVER_MS) !=
		    0 ||
	    proc_log_count(&fra->proc, "NTP") == 0) {
		TN_FAIL(&NET, "FRA's log does not say that the relay refused its clock");
	}
	if (proc_wait_log(&NET.relay.proc, "refused a request from FRA: DX_EREQ_STALE", refused + 1,
			  TN_DELIVER_MS) != 0) {
		TN_FAIL(&NET, "the relay's log does not name the refused clock");
	}
	/* Nothing went either way. */
	for (int i = 0; i < QUEUED; i++) {
		char subject[96];
		snprintf(subject, sizeof(subject), "%s %d.", out_tag, i);
		assert_int_equal(inbox_count(mex, "FRA", subject), 0);
	}
	json_decref(tnode_wait_outbox(&NET, mex, in_ids[0], "receipted", TN_DELIVER_MS));
	fprintf(stdout,
		"clock: FAKETIME=%s: outbox, status, node log and relay log name "
		"DX_EREQ_STALE\n",
		spec);
	/* The clock put right: what waited goes through, once. */
	restart_with_clock(fra, NULL, NULL);
	expect_once(fra, mex, out_tag, QUEUED);
	expect_once(mex, fra, in_tag, QUEUED);
	for (int i = 0; i < QUEUED; i++) {
		json_decref(tnode_wait_outbox(&NET, fra, out_ids[i], "receipted", TN_DELIVER_MS));
	}
	wait_status_error(fra, 0);
}

static void test_clock_ahead(void **state)
{
	(void)state;
	skew_refused("+20m");
}

static void test_clock_behind(void **state)
{
	(void)state;
	skew_refused("-20m");
}

/* Four minutes either way: inside the window (300 s) and the envelope skew (600 s). */
static void test_clock_inside_window(void **state)
{
	(void)state;
	static const char *const specs[] = { "+4m", "-4m" };
	struct tnode *fra = tnet_node(&NET, "FRA"), *mex = tnet_node(&NET, "MEX");
	for (size_t s = 0; s < 2; s++) {
		char out_tag[64], in_tag[64], ids[1][33];
		snprintf(out_tag, sizeof(out_tag), "from FRA at %s", specs[s]);
		snprintf(in_tag, sizeof(in_tag), "to FRA at %s", specs[s]);
		restart_with_clock(fra, specs[s], NULL);
		send_n(fra, "MEX", out_tag, 1, ids);
		json_decref(tnode_wait_outbox(&NET, fra, ids[0], "receipted", TN_DELIVER_MS));
		send_n(mex, "FRA", in_tag, 1, ids);
		expect_once(fra, mex, out_tag, 1);
		expect_once(mex, fra, in_tag, 1);
		json_t *j = TN_CLI_OK(&NET, fra, "status");
		assert_int_equal(tj_int(j, "relay_last_error"), 0);
		json_decref(j);
	}
	restart_with_clock(fra, NULL, NULL);
}

/* ---- daylight saving: `divex due` across local midnight ---- */

/* The due item of kind, or NULL (borrowed from j). */
static json_t *due_item(json_t *j, const char *kind)
{
	json_t *items = json_object_get(j, "items");
	for (size_t i = 0; i < json_array_size(items); i++) {
		json_t *it = json_array_get(items, i);
		if (strcmp(tj_str(it, "kind"), kind) == 0) {
			return it;
		}
	}
	return NULL;
}

/* Days from `today` to the item's date, as an officer reads `divex due`. */
static long long days_left(json_t *j, json_t *it)
{
	int64_t d = 0;
	const char *today = tj_str(j, "today"), *date = tj_str(it, "date");
	struct tm a, b;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	if (strptime(today, "%Y-%m-%d", &a) == NULL || strptime(date, "%Y-%m-%d", &b) == NULL) {
		TN_FAIL(&NET, "divex due: dates %s and %s", today, date);
	}
	/* Calendar days: both dates at noon UTC, so that no zone can move them. */
	a.tm_hour = b.tm_hour = 12;
	d = ((int64_t)timegm(&b) - (int64_t)timegm(&a)) / (24 * 3600);
	return (long long)d;
}

static void check_due(json_t *j, const char *today, long long request_left, int request_overdue,
		      long long notice_left)
{
	json_t *req = due_item(j, "request_to_answer");
	json_t *ntc = due_item(j, "notice_to_answer");
	if (strcmp(tj_str(j, "today"), today) != 0 || req == NULL || ntc == NULL) {
		TN_FAIL(&NET, "divex due: today %s (want %s), %s request, %s notice",
			tj_str(j, "today"), today, req != NULL ? "a" : "no",
			ntc != NULL ? "a" : "no");
	}
	long long rl = days_left(j, req), nl = days_left(j, ntc);
	int ro = json_is_true(json_object_get(req, "overdue"));
	int no = json_is_true(json_object_get(ntc, "overdue"));
	if (rl != request_left || ro != request_overdue || nl != notice_left || no) {
		TN_FAIL(&NET,
			"divex due on %s: request %lld days left (overdue %d), notice %lld "
			"(overdue "
			"%d); want %lld (%d), %lld (0)",
			today, rl, ro, nl, no, request_left, request_overdue, notice_left);
	}
	fprintf(stdout,
		"clock: divex due on %s (%s): request due %s, %lld days left%s; notice respond-by "
		"%s, %lld days left\n",
		today, DST_ZONE, tj_str(req, "date"), rl, ro ? " (OVERDUE)" : "",
		tj_str(ntc, "date"), nl);
}

/* Waits until n's deadline book lists both kinds; returns it. */
static json_t *wait_due(const struct tnode *n, const char *k1, const char *k2)
{
	long end = tn_now_ms() + TN_DELIVER_MS;
	do {
		json_t *j = TN_CLI_OK(&NET, n, "due");
		if (due_item(j, k1) != NULL && due_item(j, k2) != NULL) {
			return j;
		}
		json_decref(j);
		tn_pause();
	} while (tn_now_ms() < end);
	TN_FAIL(&NET, "%s: divex due never listed %s and %s", n->state, k1, k2);
	return NULL;
}

static void test_dst_midnight(void **state)
{
	(void)state;
	struct tnode *fra = tnet_node(&NET, "FRA"), *bfa = tnet_node(&NET, "BFA");
	char case_file[1024];
	snprintf(case_file, sizeof(case_file), "%s/tests/casework/case_full.json",
		 test_source_dir());
	/*
	 * FRA, on an injected day in March, asks BFA for an answer by the 28th
	 * and notifies it of a meeting on 28 April; BFA, on the true clock,
	 * receives both into its deadline book.
	 */
	setenv("DIVEX_TODAY", DST_SENT, 1);
	restart_with_clock(fra, NULL, NULL);
	json_decref(TN_CLI_OK(&NET, fra, "case", "new", "--file", case_file));
	json_decref(TN_CLI_OK(&NET, fra, "request", "send", "--case", CASE_ID, "--to", "BFA",
			      "--kind", "brokers", "--details", "Which brokers?", "--respond-by",
			      DST_EVE));
	json_t *j = TN_CLI_OK(&NET, fra, "notice", "send", "--case", CASE_ID, "--to", "BFA",
			      "--meeting", DST_MEETING, "--summary",
			      "A presentation after the change of clocks");
	assert_string_equal(tj_str(j, "respond_by"), DST_RESPOND_BY);
	json_decref(j);
	json_decref(wait_due(bfa, "request_to_answer", "notice_to_answer"));
	restart_with_clock(fra, NULL, NULL);
	/* BFA's own clock: 23:59:40 in Berlin on the eve of the change. */
	long lead = proc_deadline_ms(DST_LEAD_S * 1000) / 1000;
	char start[64];
	lead = lead < 3599 ? lead : 3599;
	snprintf(start, sizeof(start), "@%s 23:%02ld:%02ld", DST_EVE, 59 - (lead - 1) / 60,
		 (3600 - lead) % 60);
	restart_with_clock(bfa, start, DST_ZONE);
	j = TN_CLI_OK(&NET, bfa, "due");
	if (strcmp(tj_str(j, "today"), DST_EVE) != 0) {
		TN_FAIL(&NET, "BFA's day is %s before midnight, want %s (did it start that late?)",
			tj_str(j, "today"), DST_EVE);
	}
	/* Before midnight: the request is due today, the notice's reply in 16 days. */
	check_due(j, DST_EVE, 0, 0, 16);
	json_decref(j);
	/* After local midnight: overdue by a day, the notice's reply in 15 days. */
	long end = tn_now_ms() + lead * 1000 + TN_DELIVER_MS;
	for (;;) {
		j = TN_CLI_OK(&NET, bfa, "due");
		if (strcmp(tj_str(j, "today"), DST_EVE) != 0 || tn_now_ms() > end) {
			break;
		}
		json_decref(j);
		tn_pause();
	}
	check_due(j, DST_DAY, -1, 1, 15);
	json_decref(j);
	restart_with_clock(bfa, NULL, NULL);
}

/* ---- an envelope from beyond the skew: DX_ESTALE ---- */

static void test_envelope_skew(void **state)
{
	(void)state;
	struct tnode *fra = tnet_node(&NET, "FRA"), *mex = tnet_node(&NET, "MEX");
	char path[700], ids[1][33];
	/* A relay window wider than the envelope skew lets the envelope through to MEX. */
	assert_int_equal(trelay_stop(&NET.relay, SIGTERM), 0);
	snprintf(path, sizeof(path), "%s/relay.conf", NET.relay.home);
	FILE *f = fopen(path, "a");
	assert_non_null(f);
	fputs("request_window_seconds = " WIDE_WINDOW "\n", f);
	fclose(f);
	trelay_start(&NET.relay);
	int refused = proc_log_count(&mex->proc, dx_strerror(DX_ESTALE));
	restart_with_clock(mex, "-20m", NULL);
	send_n(fra, "MEX", "from 20 minutes in MEX's future", 1, ids);
	json_decref(tnode_wait_outbox(&NET, fra, ids[0], "receipted", TN_DELIVER_MS));
	if (tnode_wait_log(mex, dx_strerror(DX_ESTALE), refused + 1, TN_DELIVER_MS) != 0) {
		TN_FAIL(&NET, "MEX's log does not say that it refused the envelope's time");
	}
	assert_non_null(strstr(dx_strerror(DX_ESTALE), "NTP"));
	assert_int_equal(inbox_count(mex, "FRA", "from 20 minutes in MEX's future"), 0);
	fprintf(stdout, "clock: MEX at FAKETIME=-20m refuses the envelope with DX_ESTALE and "
			"keeps it at the relay\n");
	/* The clock put right: the envelope, left at the relay, comes in once. */
	restart_with_clock(mex, NULL, NULL);
	expect_once(fra, mex, "from 20 minutes in MEX's future", 1);
}

/*
 * libfaketime preloaded into an AddressSanitizer build of divexd can hang
 * the daemon at start-up (its constructor and the sanitizer's interceptors
 * wait on each other): seen in a fresh Debian chroot, not on every machine.
 * The clock campaign therefore runs in the normal build only; the daemons'
 * code it drives runs under the sanitizers in every other test.
 */
#if defined(__SANITIZE_ADDRESS__)
#define CLOCK_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CLOCK_UNDER_ASAN 1
#endif
#endif

int main(void)
{
	test_find_build_tree();
	/* Figures on standard output must not wait behind a buffer when a test fails. */
	setvbuf(stdout, NULL, _IOLBF, 0);
#ifdef CLOCK_UNDER_ASAN
	printf("SKIPPED: an AddressSanitizer build: libfaketime preloaded into it can hang "
	       "divexd at start-up; run the clock campaign from the normal build\n");
	return SKIP_STATUS;
#endif
	if (!find_faketime()) {
		printf("SKIPPED: libfaketime is not installed (package faketime; or set "
		       "DIVEX_FAKETIME_LIB to libfaketimeMT.so.1)\n");
		return SKIP_STATUS;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_clock_ahead, true_clocks),
		cmocka_unit_test_teardown(test_clock_behind, true_clocks),
		cmocka_unit_test_teardown(test_clock_inside_window, true_clocks),
		cmocka_unit_test_teardown(test_dst_midnight, true_clocks),
		cmocka_unit_test_teardown(test_envelope_skew, true_clocks),
	};
	return cmocka_run_group_tests_name("clock", tests, setup, teardown);
}
