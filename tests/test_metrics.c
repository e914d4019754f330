/*
 * test_metrics.c: the relay's metrics registry and its renderings
 * (daemon/relay/metrics.c, metrics_status.c).
 *
 * Counters, histograms and rings are driven with explicit times, so every
 * figure is known exactly. Hostile names must come out escaped in each
 * rendering. The Prometheus exposition is checked with Prometheus's own
 * parser and linter (`promtool check metrics`) when promtool is installed;
 * otherwise that test is skipped, visibly.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "metrics.h"
#include "testlib.h"
#include "util.h"

/* 2024-01-01 00:00:00 UTC, a whole minute. */
#define T0 1704067200000ULL
#define HOSTILE_NAME "<script>alert(\"x\")</script>\\\n&'"

static struct metrics *new_metrics(const char *name)
{
	struct metrics *m = NULL;
	assert_dx_ok(metrics_new(name, T0, &m));
	return m;
}

static char *render(struct metrics *m, uint64_t now,
		    int (*fn)(struct metrics *, uint64_t, char **, size_t *))
{
	char *text = NULL;
	size_t len = 0;
	assert_dx_ok(fn(m, now, &text, &len));
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	return text;
}

static void assert_has(const char *text, const char *needle)
{
	if (strstr(text, needle) == NULL) {
		fail_msg("missing \"%s\" in:\n%s", needle, text);
	}
}

static void assert_lacks(const char *text, const char *needle)
{
	if (strstr(text, needle) != NULL) {
		fail_msg("unexpected \"%s\" in:\n%s", needle, text);
	}
}

/* The value of the sample whose line starts with prefix (name and labels). */
static double sample(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	for (const char *p = text; p != NULL && *p != '\0';) {
		if (strncmp(p, prefix, n) == 0 && p[n] == ' ') {
			return strtod(p + n + 1, NULL);
		}
		p = strchr(p, '\n');
		p = p != NULL ? p + 1 : NULL;
	}
	fail_msg("no sample %s", prefix);
	return -1;
}

static void test_counters(void **state)
{
	struct metrics *m = new_metrics("relay.test/log");
	for (int i = 0; i < 3; i++) {
		metrics_count_request(m, METRICS_OP_SUBMIT, 0, T0 + 1000);
	}
	metrics_count_request(m, METRICS_OP_SUBMIT, DX_EQUOTA, T0 + 1000);
	metrics_count_request(m, METRICS_OP_FETCH, DX_EQUOTA, T0 + 2000);
	metrics_count_request(m, METRICS_OP_ACK, DX_EINTERNAL, T0 + 2000);
	/* Two codes dx_errname() does not know share one row. */
	metrics_count_request(m, METRICS_OP_LIST, -12345, T0 + 2000);
	metrics_count_request(m, METRICS_OP_LIST, -54321, T0 + 2000);
	metrics_count_accepted(m, 3, T0 + 1000);
	metrics_set_log(m, 42, 40, T0 + 5000);
	metrics_set_listeners_replaced(m, 2);
	metrics_set_pieces_waiting(m, 3);
	metrics_set_disk_free(m, 5000000000);

	char *t = render(m, T0 + 65000, metrics_render_prometheus);
	assert_int_equal(sample(t, "divex_relay_requests_total{op=\"submit\",outcome=\"ok\"}"), 3);
	assert_int_equal(sample(t, "divex_relay_requests_total{op=\"submit\",outcome=\"refused\"}"),
			 1);
	assert_int_equal(sample(t, "divex_relay_requests_total{op=\"ack\",outcome=\"internal\"}"),
			 1);
	assert_int_equal(sample(t, "divex_relay_requests_total{op=\"list\",outcome=\"refused\"}"),
			 2);
	assert_int_equal(sample(t, "divex_relay_requests_total{op=\"admin\",outcome=\"ok\"}"), 0);
	assert_int_equal(sample(t, "divex_relay_errors_total{code=\"DX_EQUOTA\"}"), 2);
	assert_int_equal(sample(t, "divex_relay_errors_total{code=\"DX_EINTERNAL\"}"), 1);
	assert_int_equal(sample(t, "divex_relay_errors_total{code=\"DX_EUNKNOWN\"}"), 2);
	assert_int_equal(sample(t, "divex_relay_envelopes_accepted_total"), 3);
	assert_int_equal(sample(t, "divex_relay_listener_replacements_total"), 2);
	assert_int_equal(sample(t, "divex_relay_upload_pieces_waiting"), 3);
	assert_int_equal(sample(t, "divex_relay_disk_free_bytes"), 5000000000);
	assert_int_equal(sample(t, "divex_relay_log_leaves"), 42);
	assert_int_equal(sample(t, "divex_relay_checkpoint_size"), 40);
	assert_int_equal(sample(t, "divex_relay_checkpoint_age_seconds"), 60);
	assert_int_equal(sample(t, "divex_relay_uptime_seconds"), 65);
	assert_has(t, "# TYPE divex_relay_requests_total counter\n");
	assert_has(t, "# HELP divex_relay_requests_total ");
	assert_has(t, "divex_relay_info{name=\"relay.test/log\"} 1\n");
	free(t);
	metrics_free(m);
}

static void test_label_escaping(void **state)
{
	struct metrics *m = new_metrics("we\"ird\\name\n\xff");
	assert_dx_ok(metrics_set_state(m, "A\"B\\C\nD", METRICS_STATUS_PARTY, 0, 1, 2, 0));
	char *t = render(m, T0, metrics_render_prometheus);
	/* dx_escape makes it printable (\ -> \x5c), then " and \ are escaped for the label. */
	assert_has(t, "divex_relay_info{name=\"we\\\"ird\\\\x5cname\\\\x0a\\\\xff\"} 1\n");
	assert_has(t, "divex_relay_mailbox_envelopes{state=\"A\\\"B\\\\x5cC\\\\x0aD\"} 1\n");
	assert_lacks(t, "\xff");
	for (const char *p = t; *p != '\0'; p++) {
		assert_true(*p == '\n' || (*p >= 0x20 && *p < 0x7f));
	}
	free(t);
	metrics_free(m);
}

/* Checks one histogram: buckets non-decreasing, +Inf == count; returns the +Inf value. */
static double check_histogram(const char *t, const char *name)
{
	char prefix[128];
	double prev = 0, last = -1;
	size_t n = (size_t)snprintf(prefix, sizeof(prefix), "%s_bucket{le=\"", name);
	int buckets = 0;
	for (const char *p = t; p != NULL && *p != '\0';) {
		if (strncmp(p, prefix, n) == 0) {
			const char *v = strstr(p, "} ");
			assert_non_null(v);
			last = strtod(v + 2, NULL);
			assert_true(last >= prev);
			prev = last;
			buckets++;
			if (strncmp(p + n, "+Inf\"", 5) == 0) {
				snprintf(prefix, sizeof(prefix), "%s_count", name);
				assert_true(last == sample(t, prefix));
				return last;
			}
		}
		p = strchr(p, '\n');
		p = p != NULL ? p + 1 : NULL;
	}
	fail_msg("histogram %s has no +Inf bucket (%d buckets)", name, buckets);
	return -1;
}

static void test_histograms(void **state)
{
	struct metrics *m = new_metrics("relay");
	const double lat[] = { 0.00005, 0.0003, 0.003, 0.7, 5.0, -1.0 };
	for (size_t i = 0; i < sizeof(lat) / sizeof(lat[0]); i++) {
		metrics_observe_commit(m, lat[i], lat[i] / 2, i * 100 + 1);
	}
	char *t = render(m, T0, metrics_render_prometheus);
	assert_true(check_histogram(t, "divex_relay_commit_latency_seconds") == 6);
	assert_true(check_histogram(t, "divex_relay_commit_batch_size") == 6);
	/* The negative duration counts as zero, in the first bucket. */
	assert_int_equal(sample(t, "divex_relay_commit_latency_seconds_bucket{le=\"0.0001\"}"), 2);
	assert_int_equal(sample(t, "divex_relay_commit_latency_seconds_bucket{le=\"0.0005\"}"), 3);
	assert_int_equal(sample(t, "divex_relay_commit_latency_seconds_bucket{le=\"0.005\"}"), 4);
	assert_int_equal(sample(t, "divex_relay_commit_latency_seconds_bucket{le=\"1\"}"), 5);
	assert_int_equal(sample(t, "divex_relay_commit_batch_size_bucket{le=\"1\"}"), 1);
	assert_int_equal(sample(t, "divex_relay_commit_batch_size_bucket{le=\"128\"}"), 2);
	assert_int_equal(sample(t, "divex_relay_commit_batch_size_bucket{le=\"256\"}"), 3);
	assert_int_equal(sample(t, "divex_relay_commit_batch_size_bucket{le=\"512\"}"), 6);
	assert_int_equal(sample(t, "divex_relay_commit_batch_size_sum"), 1506);
	double sum = sample(t, "divex_relay_commit_latency_seconds_sum");
	assert_true(sum > 5.70334 && sum < 5.70336);
	double fs = sample(t, "divex_relay_fsync_seconds_total");
	assert_true(fs > 2.85166 && fs < 2.85168);
	free(t);
	metrics_free(m);
}

/* What busy_metrics() counts: each operation once answered and once
 * refused, DX_ERATE for the odd ones and DX_EIO for the even ones. */
#define BUSY_RATE (METRICS_OP_COUNT / 2)
#define BUSY_EIO ((METRICS_OP_COUNT + 1) / 2)

/* A registry with something in every family, hostile strings included. */
static struct metrics *busy_metrics(void)
{
	struct metrics *m = new_metrics(HOSTILE_NAME);
	for (int op = 0; op < METRICS_OP_COUNT; op++) {
		metrics_count_request(m, (enum metrics_op)op, 0, T0);
		metrics_count_request(m, (enum metrics_op)op, op % 2 ? DX_ERATE : DX_EIO, T0);
	}
	metrics_observe_commit(m, 0.002, 0.001, 17);
	metrics_count_accepted(m, 5, T0);
	metrics_set_log(m, 10, 9, T0 - 1000);
	assert_dx_ok(
		metrics_set_state(m, "FRA", METRICS_STATUS_PARTY, T0 - 12000, 2, 2048, T0 - 60000));
	assert_dx_ok(metrics_set_state(m, "MEX", METRICS_STATUS_SIGNATORY, 0, 0, 0, 0));
	assert_dx_ok(metrics_set_state(m, "<b>&x", METRICS_STATUS_SUSPENDED, T0 - 7200000, 1, 10,
				       T0 - 25ULL * 3600 * 1000));
	return m;
}

/* The absolute path of promtool on PATH, or NULL. */
static const char *find_promtool(void)
{
	static char found[1024];
	const char *path = getenv("PATH");
	if (path == NULL) {
		return NULL;
	}
	char *copy = strdup(path), *save = NULL;
	assert_non_null(copy);
	const char *ret = NULL;
	for (char *dir = strtok_r(copy, ":", &save); dir != NULL;
	     dir = strtok_r(NULL, ":", &save)) {
		snprintf(found, sizeof(found), "%s/promtool", dir);
		if (access(found, X_OK) == 0) {
			ret = found;
			break;
		}
	}
	free(copy);
	return ret;
}

static void promtool_check(const char *promtool, const char *text)
{
	const char *dir = test_tmpdir();
	const char *file = test_path(dir, "metrics.txt");
	const char *log = test_path(dir, "promtool.log");
	char cmd[4096], out[4096] = "";
	test_write_file(file, text, strlen(text));
	snprintf(cmd, sizeof(cmd), "'%s' check metrics < '%s' > '%s' 2>&1", promtool, file, log);
	int st = system(cmd);
	FILE *f = fopen(log, "r");
	if (f != NULL) {
		size_t n = fread(out, 1, sizeof(out) - 1, f);
		out[n] = '\0';
		fclose(f);
	}
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fail_msg("promtool check metrics failed (status %d):\n%s", st, out);
	}
}

static void test_promtool(void **state)
{
	const char *promtool = find_promtool();
	if (promtool == NULL) {
		print_message("promtool is not installed (Debian package prometheus): skipped\n");
		skip();
	}
	struct metrics *m = busy_metrics();
	char *t = render(m, T0, metrics_render_prometheus);
	promtool_check(promtool, t);
	free(t);
	metrics_free(m);
	/* An empty registry must be valid too. */
	m = new_metrics("");
	t = render(m, T0, metrics_render_prometheus);
	promtool_check(promtool, t);
	free(t);
	metrics_free(m);
}

static void test_status_html(void **state)
{
	struct metrics *m = busy_metrics();
	char *t = render(m, T0, metrics_render_status_html);
	assert_has(t, "<!DOCTYPE html>");
	assert_has(t, "</html>\n");
	assert_has(t, "<td>FRA</td><td>party</td><td>12 s ago</td>");
	assert_has(t, "<td>MEX</td><td>signatory</td><td>never</td>");
	assert_has(t, "<tr class=\"warn\"><td>MEX</td>");
	/* Suspended: never flagged as unseen, but its 25-hour backlog is flagged. */
	assert_has(t,
		   "<tr class=\"bad\"><td>&lt;b&gt;&amp;x</td><td>suspended</td><td>2 h ago</td>");
	assert_has(t, "<td>25 h</td>");
	assert_has(t, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;\\x5c\\x0a&amp;&#39;");
	assert_lacks(t, "<script");
	assert_lacks(t, "<b>&x");
	assert_has(t, "<svg ");
	assert_has(t, "<title>5 envelopes, 0 to 9 s ago</title>");
	char want[128];
	snprintf(want, sizeof(want), "<td>DX_ERATE</td><td class=\"n\">%d</td>", BUSY_RATE);
	assert_has(t, want);
	snprintf(want, sizeof(want), "<td>DX_EIO</td><td class=\"n\">%d</td>", BUSY_EIO);
	assert_has(t, want);
	free(t);
	metrics_free(m);
}

static void test_status_json(void **state)
{
	struct metrics *m = busy_metrics();
	char *t = render(m, T0 + 30000, metrics_render_status_json);
	json_error_t jerr;
	json_t *doc = json_loads(t, 0, &jerr);
	if (doc == NULL) {
		fail_msg("JSON does not parse: %s\n%s", jerr.text, t);
	}
	assert_string_equal(json_string_value(json_object_get(doc, "relay")),
			    "<script>alert(\"x\")</script>\\x5c\\x0a&'");
	assert_int_equal(json_integer_value(json_object_get(doc, "accepted_last_minute")), 5);
	assert_int_equal(json_integer_value(json_object_get(doc, "requests_ok")), METRICS_OP_COUNT);
	assert_int_equal(json_integer_value(json_object_get(doc, "requests_refused")), BUSY_RATE);
	assert_int_equal(json_integer_value(json_object_get(doc, "requests_internal")), BUSY_EIO);
	assert_int_equal(json_integer_value(json_object_get(doc, "errors_last_10_min")),
			 METRICS_OP_COUNT);
	assert_int_equal(json_integer_value(json_object_get(doc, "states_unseen")), 1);
	assert_int_equal(json_integer_value(json_object_get(doc, "states_backlog")), 1);
	json_t *states = json_object_get(doc, "states");
	assert_int_equal(json_array_size(states), 3);
	json_t *fra = json_array_get(states, 1);
	assert_string_equal(json_string_value(json_object_get(fra, "state")), "FRA");
	assert_int_equal(json_integer_value(json_object_get(fra, "mailbox_bytes")), 2048);
	assert_true(json_is_false(json_object_get(fra, "unseen")));
	assert_true(json_is_null(json_object_get(json_array_get(states, 2), "last_seen_ms")));
	assert_int_equal(json_array_size(json_object_get(doc, "throughput")), 60);
	json_decref(doc);
	free(t);
	metrics_free(m);
}

static void test_status_text(void **state)
{
	struct metrics *m = busy_metrics();
	char *t = render(m, T0, metrics_render_status_text);
	assert_has(t, "relay          <script>alert(\"x\")</script>\\x5c\\x0a&'\n");
	char want[128];
	snprintf(want, sizeof(want), "errors 10 min  DX_ERATE %d DX_EIO %d\n", BUSY_RATE, BUSY_EIO);
	assert_has(t, want);
	assert_has(t, "attention      <b>&x MEX\n");
	assert_has(t, "\nFRA ");
	/* No line ends in blanks. */
	assert_lacks(t, " \n");
	assert_has(t, "12 s ago");
	assert_has(t, "unseen");
	assert_has(t, "backlog");
	free(t);
	metrics_free(m);
}

/* The rings keep exactly the last 10 minutes, by absolute time. */
static void test_rings(void **state)
{
	struct metrics *m = new_metrics("r");
	metrics_count_accepted(m, 7, T0);
	metrics_count_accepted(m, 1, T0 + 59999);
	metrics_count_accepted(m, 100, T0 + 301000);
	metrics_count_request(m, METRICS_OP_SUBMIT, DX_EQUOTA, T0);
	metrics_count_request(m, METRICS_OP_SUBMIT, DX_EQUOTA, T0 + 9 * 60000);
	/* A late report from the past must not wipe a newer slot. */
	metrics_count_accepted(m, 1000, T0 + 301000 - 600000);
	char *t = render(m, T0 + 9 * 60000 + 59000, metrics_render_status_json);
	json_t *doc = json_loads(t, 0, NULL);
	assert_non_null(doc);
	assert_int_equal(json_integer_value(json_object_get(doc, "accepted_last_10_min")), 108);
	assert_int_equal(json_integer_value(json_object_get(doc, "accepted_last_minute")), 0);
	assert_int_equal(json_integer_value(json_object_get(doc, "errors_last_10_min")), 2);
	json_decref(doc);
	free(t);
	/* One second later the first second's 7 have left the window; a minute on, the first error.
	 */
	t = render(m, T0 + 600000, metrics_render_status_json);
	doc = json_loads(t, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(doc, "accepted_last_10_min")), 101);
	assert_int_equal(json_integer_value(json_object_get(doc, "errors_last_10_min")), 1);
	json_decref(doc);
	free(t);
	t = render(m, T0 + 3600000, metrics_render_status_json);
	doc = json_loads(t, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(doc, "accepted_last_10_min")), 0);
	assert_int_equal(json_integer_value(json_object_get(doc, "accepted_since_start")), 1108);
	json_decref(doc);
	free(t);
	metrics_free(m);
}

static void test_many_states(void **state)
{
	struct metrics *m = new_metrics("r");
	char key[16];
	/* Inserted in descending order, the worst case for a sorted array. */
	for (int i = 9999; i >= 0; i--) {
		snprintf(key, sizeof(key), "S%05d", i);
		assert_dx_ok(metrics_set_state(m, key, METRICS_STATUS_PARTY, 0, (uint64_t)i, 0, 0));
	}
	assert_dx_ok(metrics_touch_state(m, "S00042", T0));
	assert_dx_ok(metrics_set_state(m, "S00042", METRICS_STATUS_PARTY, 1, 5, 0, 0));
	assert_dx_err(metrics_touch_state(m, "NOPE", T0), DX_ENOENT);
	assert_dx_ok(metrics_remove_state(m, "S00007"));
	assert_dx_err(metrics_remove_state(m, "S00007"), DX_ENOENT);
	assert_dx_err(metrics_set_state(m, "", METRICS_STATUS_PARTY, 0, 0, 0, 0), DX_EINVAL);
	assert_dx_err(metrics_set_state(m, "0123456789ABCDEF", METRICS_STATUS_PARTY, 0, 0, 0, 0),
		      DX_EINVAL);
	assert_dx_err(metrics_set_state(m, "X", (enum metrics_state_status)7, 0, 0, 0, 0),
		      DX_EINVAL);
	char *t = render(m, T0 + 1000, metrics_render_prometheus);
	assert_int_equal(sample(t, "divex_relay_states{status=\"party\"}"), 9999);
	assert_int_equal(sample(t, "divex_relay_mailbox_envelopes{state=\"S09999\"}"), 9999);
	/* The later last-seen time is kept; the depth is replaced. */
	assert_int_equal(sample(t, "divex_relay_mailbox_envelopes{state=\"S00042\"}"), 5);
	assert_int_equal(
		sample(t, "divex_relay_state_last_seen_timestamp_seconds{state=\"S00042\"}"),
		T0 / 1000);
	assert_lacks(t, "state=\"S00007\"");
	free(t);
	t = render(m, T0 + 1000, metrics_render_status_html);
	assert_has(t, "<td>S00000</td>");
	assert_has(t, "<td>S09999</td>");
	free(t);
	metrics_free(m);
}

struct race {
	struct metrics *m;
	_Atomic int stop;
};

static void *render_loop(void *arg)
{
	struct race *r = arg;
	while (!r->stop) {
		char *t = NULL;
		size_t len;
		if (metrics_render_prometheus(r->m, T0, &t, &len) == 0) {
			free(t);
		}
		if (metrics_render_status_html(r->m, T0, &t, &len) == 0) {
			free(t);
		}
	}
	return NULL;
}

/* One thread updates while another renders, as the relay loop and the HTTP thread do. */
static void test_concurrent(void **state)
{
	struct race r = { .m = new_metrics("r") };
	pthread_t th;
	char key[16];
	assert_int_equal(pthread_create(&th, NULL, render_loop, &r), 0);
	for (int i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "K%d", i % 500);
		assert_dx_ok(metrics_set_state(r.m, key, METRICS_STATUS_PARTY, T0, 1, 1, T0));
		metrics_count_request(r.m, METRICS_OP_FETCH, i % 3 ? 0 : DX_ERATE, T0 + i);
		metrics_count_accepted(r.m, 1, T0 + (uint64_t)i * 10);
		if (i % 7 == 0) {
			assert_dx_ok(metrics_remove_state(r.m, key));
		}
	}
	r.stop = 1;
	assert_int_equal(pthread_join(th, NULL), 0);
	metrics_free(r.m);
}

/*
 * With the argument "promtool", runs only the check by promtool, and exits
 * with 77 (which ctest reports as skipped) when promtool is not installed.
 */
int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counters),    cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_histograms),  cmocka_unit_test(test_status_html),
		cmocka_unit_test(test_status_json), cmocka_unit_test(test_status_text),
		cmocka_unit_test(test_rings),	    cmocka_unit_test(test_many_states),
		cmocka_unit_test(test_concurrent),
	};
	const struct CMUnitTest promtool_tests[] = {
		cmocka_unit_test(test_promtool),
	};
	if (argc > 1 && strcmp(argv[1], "promtool") == 0) {
		int failed = cmocka_run_group_tests(promtool_tests, NULL, NULL);
		return failed == 0 && find_promtool() == NULL ? 77 : failed;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
