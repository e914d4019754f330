/*
 * test_node_notice.c: rule 12 notices between three State nodes (FRA, MEX,
 * BFA) and a relay, as separate processes, driven only through the divex
 * command, with the daemons' calendar day injected (DIVEX_TODAY).
 *
 * On 2026-03-01 FRA notifies MEX and BFA of a presentation on 2026-03-31,
 * exactly 30 days ahead: it passes, and both sides see the response asked
 * for by 2026-03-16. A notice for a meeting 29 days ahead is refused
 * (exit 3, naming --late-reason) and passes with a reason, which MEX sees.
 * MEX replies; FRA's status shows MEX replied and BFA still awaited, FRA
 * exports MEX's reply, and `divex due` lists BFA's awaited reply on FRA and
 * the notice to answer on BFA. Restarted on 2026-03-14, FRA logs a
 * reminder for BFA's reply.
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
#define MEETING_30 "2026-03-31"
#define MEETING_29 "2026-03-30"
#define REASON "The diversion was confirmed on 27 February"
#define REPLY "Mexico asks that the licence number be left out of the slides."

static int setup(void **state)
{
	(void)state;
	setenv("DIVEX_TODAY", TODAY, 1);
	tnet_setup(&NET, "notice", 0, STATES, 3);
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

/* `notice status` on n until a received notice for meeting is there (a new reference). */
static json_t *wait_received(const struct tnode *n, const char *meeting)
{
	long deadline = tn_now_ms() + TN_DELIVER_MS;
	for (;;) {
		json_t *j = TN_CLI_OK(&NET, n, "notice", "status");
		if (find(j, "received", "meeting_date", meeting) != NULL) {
			return j;
		}
		json_decref(j);
		if (tn_now_ms() > deadline) {
			TN_FAIL(&NET, "%s never recorded the notice for %s", n->state, meeting);
		}
		tn_pause();
	}
}

/* The copy for state of the sent notice with this id, in a `notice status` answer. */
static json_t *copy_of(json_t *status, const char *notice_id, const char *state)
{
	json_t *notice = find(status, "sent", "notice_id", notice_id);
	return notice != NULL ? find(notice, "copies", "state", state) : NULL;
}

static void test_notices(void **state)
{
	(void)state;
	struct tnode *fra = tnet_node(&NET, "FRA"), *mex = tnet_node(&NET, "MEX"),
		     *bfa = tnet_node(&NET, "BFA");
	char case_file[1024], notice30[33], notice29[33], at_mex[33], export[1024];
	struct tcli r = { 0 };
	snprintf(case_file, sizeof(case_file), "%s/tests/casework/case_full.json",
		 test_source_dir());
	json_decref(TN_CLI_OK(&NET, fra, "case", "new", "--file", case_file));

	/* Exactly 30 days ahead: on time (through the `divex notice --case` form). */
	json_t *j = TN_CLI_OK(&NET, fra, "notice", "--case", CASE_ID, "--to", "MEX,BFA",
			      "--meeting", MEETING_30, "--meeting-name", "DIEF, CSP12", "--summary",
			      "Rifles re-exported through a third State");
	assert_string_equal(tj_str(j, "sent_date"), TODAY);
	assert_string_equal(tj_str(j, "respond_by"), "2026-03-16");
	assert_true(json_is_false(json_object_get(j, "late")));
	assert_int_equal(tj_int(j, "days_before"), 30);
	assert_int_equal(json_array_size(json_object_get(j, "copies")), 2);
	snprintf(notice30, sizeof(notice30), "%s", tj_str(j, "notice_id"));
	json_decref(j);

	/* 29 days ahead: refused without a reason, with a message naming the option. */
	tnode_cli_argv(fra, (uid_t)-1, &r,
		       TN_ARGS("notice", "send", "--case", CASE_ID, "--to", "MEX", "--meeting",
			       MEETING_29, "--summary", "Late presentation"));
	if (r.status != 3 || strstr(r.err, "--late-reason") == NULL ||
	    strstr(r.err, "DX_ELATE_NOTICE") == NULL) {
		TN_FAIL(&NET, "a late notice without a reason: status %d, %s", r.status, r.err);
	}
	tcli_free(&r);
	j = TN_CLI_OK(&NET, fra, "notice", "send", "--case", CASE_ID, "--to", "MEX", "--meeting",
		      MEETING_29, "--summary", "Late presentation", "--late-reason", REASON);
	assert_true(json_is_true(json_object_get(j, "late")));
	assert_string_equal(tj_str(j, "respond_by"), "2026-03-15");
	snprintf(notice29, sizeof(notice29), "%s", tj_str(j, "notice_id"));
	json_decref(j);

	/* MEX sees both, the dates and the late reason. */
	json_decref(wait_received(mex, MEETING_30));
	j = wait_received(mex, MEETING_29);
	json_t *on_time = find(j, "received", "meeting_date", MEETING_30);
	json_t *late = find(j, "received", "meeting_date", MEETING_29);
	assert_string_equal(tj_str(on_time, "respond_by"), "2026-03-16");
	assert_string_equal(tj_str(on_time, "sender"), "FRA");
	assert_string_equal(tj_str(on_time, "case_id"), CASE_ID);
	assert_string_equal(tj_str(on_time, "meeting_name"), "DIEF, CSP12");
	assert_string_equal(tj_str(on_time, "late_reason"), "");
	assert_string_equal(tj_str(on_time, "status"), "awaiting");
	assert_string_equal(tj_str(late, "late_reason"), REASON);
	assert_string_equal(tj_str(late, "respond_by"), "2026-03-15");
	snprintf(at_mex, sizeof(at_mex), "%s", tj_str(on_time, "notice_id"));
	json_decref(j);

	/* MEX replies to the on-time notice. */
	j = TN_CLI_OK(&NET, mex, "notice", "reply", at_mex, "--text", REPLY);
	assert_string_equal(tj_str(json_array_get(json_object_get(j, "copies"), 0), "recipient"),
			    "FRA");
	json_decref(j);
	j = TN_CLI_OK(&NET, mex, "notice", "status", "--case", CASE_ID);
	assert_string_equal(tj_str(find(j, "received", "notice_id", at_mex), "status"), "replied");
	json_decref(j);

	/* FRA: MEX replied, BFA is still awaited. */
	long deadline = tn_now_ms() + TN_DELIVER_MS;
	for (;;) {
		j = TN_CLI_OK(&NET, fra, "notice", "status", "--case", CASE_ID);
		if (strcmp(tj_str(copy_of(j, notice30, "MEX"), "status"), "replied") == 0) {
			break;
		}
		json_decref(j);
		if (tn_now_ms() > deadline) {
			TN_FAIL(&NET, "FRA never saw MEX's reply");
		}
		tn_pause();
	}
	assert_true(tj_int(copy_of(j, notice30, "MEX"), "replied_ms") > 0);
	assert_string_equal(tj_str(copy_of(j, notice30, "BFA"), "status"), "awaiting");
	assert_string_equal(tj_str(copy_of(j, notice29, "MEX"), "status"), "awaiting");
	json_decref(j);

	/* The replies, exported for the presentation. */
	snprintf(export, sizeof(export), "%s/notice/replies.json", test_tmpdir());
	json_decref(TN_CLI_OK(&NET, fra, "notice", "replies", notice30, "-o", export));
	json_error_t e;
	j = json_load_file(export, 0, &e);
	if (j == NULL) {
		TN_FAIL(&NET, "%s: %s", export, e.text);
	}
	json_t *replies = json_object_get(j, "replies");
	assert_int_equal(json_array_size(replies), 1);
	assert_string_equal(tj_str(json_array_get(replies, 0), "state"), "MEX");
	assert_string_equal(tj_str(json_array_get(replies, 0), "response"), REPLY);
	assert_string_equal(tj_str(json_object_get(j, "notice"), "case_id"), CASE_ID);
	json_decref(j);

	/* FRA's deadline book: BFA's reply to the first notice, and both to the second. */
	j = TN_CLI_OK(&NET, fra, "due");
	assert_string_equal(tj_str(j, "today"), TODAY);
	json_t *items = json_object_get(j, "items");
	assert_int_equal(json_array_size(items), 2);
	assert_string_equal(tj_str(json_array_get(items, 0), "date"), "2026-03-15");
	assert_string_equal(tj_str(json_array_get(items, 0), "state"), "MEX");
	assert_string_equal(tj_str(json_array_get(items, 1), "date"), "2026-03-16");
	assert_string_equal(tj_str(json_array_get(items, 1), "state"), "BFA");
	assert_string_equal(tj_str(json_array_get(items, 1), "kind"), "notice_reply_awaited");
	json_decref(j);

	/* BFA's: the notice it must answer. */
	json_decref(wait_received(bfa, MEETING_30));
	j = TN_CLI_OK(&NET, bfa, "due");
	items = json_object_get(j, "items");
	assert_int_equal(json_array_size(items), 1);
	assert_string_equal(tj_str(json_array_get(items, 0), "kind"), "notice_to_answer");
	assert_string_equal(tj_str(json_array_get(items, 0), "state"), "FRA");
	assert_string_equal(tj_str(json_array_get(items, 0), "case_id"), CASE_ID);
	assert_string_equal(tj_str(json_array_get(items, 0), "date"), "2026-03-16");
	json_decref(j);

	/* Two days before BFA's date, FRA's daemon reminds at start. */
	assert_int_equal(tnode_stop(fra, SIGTERM), 0);
	setenv("DIVEX_TODAY", "2026-03-14", 1);
	tnode_start(&NET, fra);
	if (tnode_wait_log(fra, "reminder: BFA's reply to the rule 12 notice for case " CASE_ID, 1,
			   TN_START_MS) != 0) {
		TN_FAIL(&NET, "FRA logged no reminder for BFA's reply");
	}
	j = TN_CLI_OK(&NET, fra, "due");
	assert_string_equal(tj_str(j, "today"), "2026-03-14");
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_notices, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
