/*
 * test_node_request.c: requests for information (Model ToR) and their
 * responses between three State nodes (FRA, MEX, BFA) and a relay, as
 * separate processes, driven only through the divex command, with the
 * daemons' calendar day injected (DIVEX_TODAY).
 *
 * On 2026-03-01 FRA asks MEX and BFA for the end-user file and the brokers,
 * with an answer asked by 2026-03-20; a respond-by date in the past is
 * refused. MEX's `divex read` shows the kinds and the date, and its
 * `request list` the request awaiting its answer; MEX answers. FRA's list
 * shows MEX answered (with the answer) and BFA awaiting. Restarted on
 * 2026-03-25, FRA's `divex due` shows BFA's answer overdue, and its daemon
 * logs a reminder.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes.h"
#include "testlib.h"

static struct tnet NET;
static const char *const STATES[] = { "FRA", "MEX", "BFA" };
#define CASE_ID "FRA-2025-017"
#define TODAY "2026-03-01"
#define RESPOND_BY "2026-03-20"
#define LATER "2026-03-25"
#define DETAILS "The end-user certificate of licence MX-4471 and the brokers named in it."
#define ANSWER "The certificate names the Ministry of Defence; no broker was registered."

static int setup(void **state)
{
	(void)state;
	setenv("DIVEX_TODAY", TODAY, 1);
	tnet_setup(&NET, "request", 0, STATES, 3);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tnet_teardown(&NET);
	unsetenv("DIVEX_TODAY");
	return 0;
}

/* The item of array key in j whose member field equals value, or NULL. */
static json_t *find(json_t *j, const char *key, const char *field, const char *value)
{
	json_t *a = json_object_get(j, key);
	for (size_t i = 0; i < json_array_size(a); i++) {
		json_t *it = json_array_get(a, i);
		if (strcmp(tj_str(it, field), value) == 0) {
			return it;
		}
	}
	return NULL;
}

/* `request list` on n until a request from FRA is received there (a new reference). */
static json_t *wait_received(const struct tnode *n)
{
	long deadline = tn_now_ms() + TN_DELIVER_MS;
	for (;;) {
		json_t *j = TN_CLI_OK(&NET, n, "request", "list");
		if (find(j, "received", "requester", "FRA") != NULL) {
			return j;
		}
		json_decref(j);
		if (tn_now_ms() > deadline) {
			TN_FAIL(&NET, "%s never recorded the request", n->state);
		}
		tn_pause();
	}
}

static json_t *copy_of(json_t *list, const char *request_id, const char *state)
{
	json_t *req = find(list, "sent", "request_id", request_id);
	return req != NULL ? find(req, "copies", "state", state) : NULL;
}

static void test_requests(void **state)
{
	(void)state;
	struct tnode *fra = tnet_node(&NET, "FRA"), *mex = tnet_node(&NET, "MEX"),
		     *bfa = tnet_node(&NET, "BFA");
	char case_file[1024], request_id[33], at_mex[33];
	struct tcli r = { 0 };
	snprintf(case_file, sizeof(case_file), "%s/tests/casework/case_full.json",
		 test_source_dir());
	json_decref(TN_CLI_OK(&NET, fra, "case", "new", "--file", case_file));

	/* A respond-by date before today is refused by the daemon. */
	tnode_cli_argv(fra, (uid_t)-1, &r,
		       TN_ARGS("request", "send", "--case", CASE_ID, "--to", "MEX", "--kind",
			       "brokers", "--details", DETAILS, "--respond-by", "2026-02-28"));
	if (r.status == 0 || strstr(r.err, "before today") == NULL) {
		TN_FAIL(&NET, "a past respond-by date: status %d, %s", r.status, r.err);
	}
	tcli_free(&r);

	json_t *j = TN_CLI_OK(&NET, fra, "request", "send", "--case", CASE_ID, "--to", "MEX,BFA",
			      "--kind", "end-user-file,brokers", "--details", DETAILS,
			      "--respond-by", RESPOND_BY);
	assert_string_equal(tj_str(j, "sent_date"), TODAY);
	assert_string_equal(tj_str(j, "respond_by"), RESPOND_BY);
	assert_int_equal(json_array_size(json_object_get(j, "copies")), 2);
	snprintf(request_id, sizeof(request_id), "%s", tj_str(j, "request_id"));
	json_decref(j);

	/* MEX: the request awaits its answer; `divex read` shows the kinds and the date. */
	j = wait_received(mex);
	json_t *got = find(j, "received", "requester", "FRA");
	assert_string_equal(tj_str(got, "case_id"), CASE_ID);
	assert_string_equal(tj_str(got, "respond_by"), RESPOND_BY);
	assert_string_equal(tj_str(got, "status"), "awaiting");
	assert_string_equal(tj_str(got, "details"), DETAILS);
	assert_int_equal(json_array_size(json_object_get(got, "kinds")), 2);
	snprintf(at_mex, sizeof(at_mex), "%s", tj_str(got, "request_id"));
	json_decref(j);
	json_t *payload = NULL;
	j = tnode_read(&NET, mex, at_mex, &payload);
	json_t *ir = json_object_get(payload, "information_request");
	assert_non_null(ir);
	assert_string_equal(tj_str(ir, "respond_by"), RESPOND_BY);
	json_t *kinds = json_object_get(ir, "kinds");
	assert_int_equal(json_array_size(kinds), 2);
	assert_string_equal(tj_str(json_array_get(kinds, 0), "kind"), "end-user file");
	assert_string_equal(tj_str(json_array_get(kinds, 1), "kind"), "brokers");
	assert_non_null(strstr(tj_str(payload, "subject"), "end-user file"));
	json_decref(j);

	/* MEX's deadline book has the request to answer. */
	j = TN_CLI_OK(&NET, mex, "due");
	json_t *item = find(j, "items", "kind", "request_to_answer");
	assert_non_null(item);
	assert_string_equal(tj_str(item, "date"), RESPOND_BY);
	assert_string_equal(tj_str(item, "state"), "FRA");
	json_decref(j);

	/* MEX answers. */
	j = TN_CLI_OK(&NET, mex, "request", "respond", at_mex, "--text", ANSWER);
	assert_string_equal(tj_str(json_array_get(json_object_get(j, "copies"), 0), "recipient"),
			    "FRA");
	json_decref(j);
	j = TN_CLI_OK(&NET, mex, "request", "list");
	assert_string_equal(tj_str(find(j, "received", "request_id", at_mex), "status"),
			    "answered");
	json_decref(j);
	j = TN_CLI_OK(&NET, mex, "due");
	assert_null(find(j, "items", "kind", "request_to_answer"));
	json_decref(j);

	/* FRA: MEX answered, BFA is still awaited. */
	long deadline = tn_now_ms() + TN_DELIVER_MS;
	for (;;) {
		j = TN_CLI_OK(&NET, fra, "request", "list");
		if (strcmp(tj_str(copy_of(j, request_id, "MEX"), "status"), "answered") == 0) {
			break;
		}
		json_decref(j);
		if (tn_now_ms() > deadline) {
			TN_FAIL(&NET, "FRA never saw MEX's answer");
		}
		tn_pause();
	}
	assert_true(tj_int(copy_of(j, request_id, "MEX"), "answered_ms") > 0);
	assert_string_equal(tj_str(copy_of(j, request_id, "MEX"), "answer"), ANSWER);
	assert_string_equal(tj_str(copy_of(j, request_id, "BFA"), "status"), "awaiting");
	json_decref(j);

	/* BFA received it too. */
	json_decref(wait_received(bfa));

	/* After the date, FRA's deadline book shows BFA's answer overdue. */
	assert_int_equal(tnode_stop(fra, SIGTERM), 0);
	setenv("DIVEX_TODAY", LATER, 1);
	tnode_start(&NET, fra);
	if (tnode_wait_log(fra,
			   "reminder: BFA's answer to the request for information on case " CASE_ID,
			   1, TN_START_MS) != 0) {
		TN_FAIL(&NET, "FRA logged no reminder for BFA's answer");
	}
	j = TN_CLI_OK(&NET, fra, "due");
	assert_string_equal(tj_str(j, "today"), LATER);
	json_t *items = json_object_get(j, "items");
	assert_int_equal(json_array_size(items), 1);
	item = json_array_get(items, 0);
	assert_string_equal(tj_str(item, "kind"), "request_answer_awaited");
	assert_string_equal(tj_str(item, "state"), "BFA");
	assert_string_equal(tj_str(item, "date"), RESPOND_BY);
	assert_true(json_is_true(json_object_get(item, "overdue")));
	json_decref(j);
	j = TN_CLI_OK(&NET, fra, "request", "list");
	assert_string_equal(tj_str(copy_of(j, request_id, "BFA"), "status"), "overdue");
	assert_string_equal(tj_str(copy_of(j, request_id, "MEX"), "status"), "answered");
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_requests, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
