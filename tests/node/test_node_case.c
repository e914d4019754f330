/*
 * test_node_case.c: a case note between two State nodes (FRA, MEX) and a
 * relay, as separate processes, driven only through the divex command.
 *
 * FRA files a case from the complete example case file (every field of the
 * Annex 1 template and rules 18-19), shares it with MEX under a marking, and
 * MEX's `divex read --json` shows the marking first and then every field
 * exactly as FRA entered it. FRA finds the case by text deep inside the
 * note, closes it, and MEX files the note it received as its own case.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes.h"
#include "testlib.h"

static struct tnet NET;
static const char *const STATES[] = { "FRA", "MEX" };
#define CASE_ID "FRA-2025-017"
#define TITLE "Rifles re-exported from the declared end user"
#define RELEASABILITY "MEX customs and prosecutors only"

static char CASE_FILE[1024];

static int setup(void **state)
{
	(void)state;
	snprintf(CASE_FILE, sizeof(CASE_FILE), "%s/tests/casework/case_full.json",
		 test_source_dir());
	tnet_setup(&NET, "case", 0, STATES, 2);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tnet_teardown(&NET);
	return 0;
}

static json_t *case_file(void)
{
	json_error_t e;
	json_t *j = json_load_file(CASE_FILE, 0, &e);
	if (j == NULL) {
		fail_msg("%s: %s", CASE_FILE, e.text);
	}
	return j;
}

static void expect_same(const char *what, json_t *got, json_t *want)
{
	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_INDENT(2) | JSON_SORT_KEYS);
		TN_FAIL(&NET, "%s differs from the case file:\n%s", what, g != NULL ? g : "(none)");
	}
}

/* The ids of the cases in a `case list` or `case search` answer, joined. */
static void case_ids(json_t *j, char *out, size_t size)
{
	json_t *cases = json_object_get(j, "cases");
	out[0] = '\0';
	for (size_t i = 0; i < json_array_size(cases); i++) {
		size_t len = strlen(out);
		snprintf(out + len, size - len, "%s%s", i > 0 ? "," : "",
			 tj_str(json_array_get(cases, i), "case_id"));
	}
}

static void expect_cases(const struct tnode *n, const char *want, char *const args[])
{
	char ids[512];
	json_t *j = tnode_cli_ok_argv(&NET, n, args);
	case_ids(j, ids, sizeof(ids));
	if (strcmp(ids, want) != 0) {
		TN_FAIL(&NET, "%s %s %s: cases '%s', want '%s'", n->state, args[0], args[1], ids,
			want);
	}
	json_decref(j);
}

static void test_share_case_note(void **state)
{
	(void)state;
	struct tnode *fra = tnet_node(&NET, "FRA"), *mex = tnet_node(&NET, "MEX");
	json_t *want = case_file();

	/* Filed once; the id is then taken. */
	json_t *j = TN_CLI_OK(&NET, fra, "case", "new", "--file", CASE_FILE);
	assert_string_equal(tj_str(j, "case_id"), CASE_ID);
	assert_string_equal(tj_str(j, "title"), TITLE);
	assert_true(json_is_true(json_object_get(j, "open")));
	json_decref(j);
	struct tcli r = { 0 };
	tnode_cli_argv(fra, (uid_t)-1, &r, TN_ARGS("case", "new", "--file", CASE_FILE));
	if (r.status == 0 || strstr(r.err, "exists already") == NULL) {
		TN_FAIL(&NET, "a second case %s was not refused: %d %s", CASE_ID, r.status, r.err);
	}
	tcli_free(&r);

	/* FRA sees what it entered. */
	j = TN_CLI_OK(&NET, fra, "case", "show", CASE_ID);
	expect_same("FRA's case show", json_object_get(j, "note"), want);
	json_decref(j);
	expect_cases(fra, CASE_ID, TN_ARGS("case", "list"));

	j = TN_CLI_OK(&NET, fra, "case", "share", CASE_ID, "--to", "MEX", "--handling", "H2",
		      "--evaluation", "B2", "--releasability", RELEASABILITY, "--classification",
		      "RESTRICTED");
	json_t *copies = json_object_get(j, "copies");
	assert_int_equal(json_array_size(copies), 1);
	assert_string_equal(tj_str(json_array_get(copies, 0), "recipient"), "MEX");
	json_decref(j);

	/* MEX reads it: the marking, then every field as FRA entered it. */
	json_t *it = tnode_wait_inbox(&NET, mex, "FRA", TITLE, 1, TN_DELIVER_MS);
	char env_id[33];
	snprintf(env_id, sizeof(env_id), "%s", tj_str(it, "envelope_id"));
	json_decref(it);
	tnode_cli_argv(mex, (uid_t)-1, &r, TN_ARGS("read", env_id));
	if (r.status != 0 || r.json == NULL) {
		TN_FAIL(&NET, "MEX read %s: %d %s", env_id, r.status, r.err);
	}
	const char *mark = strstr(r.out, "\"marking\"");
	const char *note_at = strstr(r.out, "\"case_note\"");
	if (mark == NULL || note_at == NULL || mark > note_at) {
		TN_FAIL(&NET, "the marking is not shown before the case note:\n%s", r.out);
	}
	json_t *p = json_object_get(r.json, "payload");
	json_t *mk = json_object_get(p, "marking");
	assert_string_equal(tj_str(mk, "handling_code"), "H2");
	assert_non_null(strstr(tj_str(mk, "handling"), "no further dissemination"));
	assert_non_null(strstr(tj_str(mk, "source_evaluation"), "B"));
	assert_non_null(strstr(tj_str(mk, "information_evaluation"), "2"));
	assert_string_equal(tj_str(mk, "releasability"), RELEASABILITY);
	assert_string_equal(tj_str(mk, "classification"), "RESTRICTED");
	assert_string_equal(tj_str(p, "type"), "case_note");
	assert_string_equal(tj_str(p, "case_id"), CASE_ID);
	assert_string_equal(tj_str(p, "subject"), TITLE);
	assert_string_equal(tj_str(p, "copy"), "1 of 1, for MEX");
	expect_same("MEX's read", json_object_get(p, "case_note"), want);
	tcli_free(&r);

	/* FRA finds it by text deep in the note, in any case; closing keeps it. */
	expect_cases(fra, CASE_ID, TN_ARGS("case", "search", "MANZANILLO"));
	expect_cases(fra, CASE_ID, TN_ARGS("case", "search", "small_arms"));
	expect_cases(fra, CASE_ID, TN_ARGS("case", "search", "freight forwarder"));
	expect_cases(fra, "", TN_ARGS("case", "search", "no such words anywhere"));
	j = TN_CLI_OK(&NET, fra, "case", "close", CASE_ID);
	assert_true(json_is_false(json_object_get(j, "open")));
	json_decref(j);
	expect_cases(fra, "", TN_ARGS("case", "list"));
	expect_cases(fra, CASE_ID, TN_ARGS("case", "list", "--closed"));
	expect_cases(fra, CASE_ID, TN_ARGS("case", "list", "--all"));

	/* MEX files the note it received as its own case. */
	j = TN_CLI_OK(&NET, mex, "case", "import", env_id, "--as", "MEX-FRA-2025-017");
	assert_string_equal(tj_str(j, "case_id"), "MEX-FRA-2025-017");
	json_decref(j);
	j = TN_CLI_OK(&NET, mex, "case", "show", "MEX-FRA-2025-017");
	json_object_set_new(want, "case_id", json_string("MEX-FRA-2025-017"));
	expect_same("MEX's imported case", json_object_get(j, "note"), want);
	json_decref(j);
	json_decref(want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_share_case_note, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
