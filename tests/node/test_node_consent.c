/*
 * test_node_consent.c: consent (rule 16, Model ToR) between two State nodes
 * (FRA, MEX) and a relay, as separate processes, driven only through the
 * divex command.
 *
 * FRA sends MEX a message marked H2. MEX's export of it for operational use
 * is refused (exit 3) with a message naming the consent that is missing.
 * MEX asks FRA for that consent; FRA sees the request pending (in `consent
 * list` and `due`) and grants it with conditions; MEX's node verifies the
 * signed decision, and the export is allowed: the file holds the marking
 * first, the content, and the signed decision with its conditions, which
 * the command shows too. FRA revokes; MEX's export is refused again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "nodes.h"
#include "testlib.h"
#include "util.h"

static struct tnet NET;
static const char *const STATES[] = { "FRA", "MEX" };
#define SUBJECT "Broker accounts in Manzanillo"
#define TEXT "The broker used two accounts at the same bank; details follow.\n"
#define CONDITIONS "Only for the customs inquiry 2025-44; no court use"

static int setup(void **state)
{
	(void)state;
	setenv("DIVEX_TODAY", "2026-03-01", 1);
	tnet_setup(&NET, "consent", 0, STATES, 2);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tnet_teardown(&NET);
	unsetenv("DIVEX_TODAY");
	return 0;
}

/* MEX's export of item for operational use into path: its result. */
static void export(struct tnode *mex, const char *item, const char *path, struct tcli *r)
{
	memset(r, 0, sizeof(*r));
	tnode_cli_argv(
		mex, (uid_t)-1, r,
		TN_ARGS("export", (char *)item, "--purpose", "operational", "-o", (char *)path));
}

static void expect_refused(struct tnode *mex, const char *item, const char *path, const char *why)
{
	struct tcli r;
	export(mex, item, path, &r);
	if (r.status != 3 || strstr(r.err, "OPERATIONAL_USE") == NULL ||
	    strstr(r.err, "FRA") == NULL || strstr(r.err, why) == NULL) {
		TN_FAIL(&NET, "the export was not refused naming the consent (%s): %d %s", why,
			r.status, r.err);
	}
	if (access(path, F_OK) == 0) {
		TN_FAIL(&NET, "a refused export wrote %s", path);
	}
	tcli_free(&r);
}

/* The kind of every item of `divex due`, joined. */
static void due_kinds(struct tnode *n, char *out, size_t size)
{
	json_t *j = TN_CLI_OK(&NET, n, "due");
	json_t *items = json_object_get(j, "items");
	out[0] = '\0';
	for (size_t i = 0; i < json_array_size(items); i++) {
		size_t len = strlen(out);
		snprintf(out + len, size - len, "%s ", tj_str(json_array_get(items, i), "kind"));
	}
	json_decref(j);
}

static void test_consent_export(void **state)
{
	(void)state;
	struct tnode *fra = tnet_node(&NET, "FRA"), *mex = tnet_node(&NET, "MEX");
	char msg[700], out1[700], out2[700], out3[700], item[33], req[33], kinds[512];
	snprintf(msg, sizeof(msg), "%s/h2.msg", NET.dir);
	snprintf(out1, sizeof(out1), "%s/export-refused.json", NET.dir);
	snprintf(out2, sizeof(out2), "%s/export.json", NET.dir);
	snprintf(out3, sizeof(out3), "%s/export-revoked.json", NET.dir);
	test_write_file(msg, TEXT, strlen(TEXT));

	json_t *j = TN_CLI_OK(&NET, fra, "send", "--to", "MEX", "--subject", SUBJECT, "--handling",
			      "H2", "--file", msg);
	json_decref(j);
	json_t *it = tnode_wait_inbox(&NET, mex, "FRA", SUBJECT, 1, TN_DELIVER_MS);
	snprintf(item, sizeof(item), "%s", tj_str(it, "envelope_id"));
	json_decref(it);

	/* H2: no operational use without FRA's consent. */
	expect_refused(mex, item, out1, "consent request");

	j = TN_CLI_OK(&NET, mex, "consent", "request", item, "--purpose", "operational", "--reason",
		      "An export licence assessment of the same broker");
	assert_string_equal(tj_str(j, "provider"), "FRA");
	assert_string_equal(tj_str(j, "purpose"), "OPERATIONAL_USE");
	json_decref(j);
	/* A disclosure names its body. */
	struct tcli r = { 0 };
	tnode_cli_argv(mex, (uid_t)-1, &r,
		       TN_ARGS("consent", "request", item, "--purpose", "disclosure", "--reason",
			       "court"));
	if (r.status != 2 && r.status != 1) {
		TN_FAIL(&NET, "a disclosure without --body was not refused: %d %s", r.status,
			r.err);
	}
	assert_non_null(strstr(r.err, "--body"));
	tcli_free(&r);

	/* FRA sees the request pending, and in its book of things due. */
	it = tnode_wait_inbox(&NET, fra, "MEX", "Consent request", 1, TN_DELIVER_MS);
	snprintf(req, sizeof(req), "%s", tj_str(it, "envelope_id"));
	json_decref(it);
	assert_int_equal(tnode_wait_log(fra, "consent request", 1, TN_DELIVER_MS), 0);
	j = TN_CLI_OK(&NET, fra, "consent", "list");
	json_t *rq = json_array_get(json_object_get(j, "requests"), 0);
	assert_string_equal(tj_str(rq, "direction"), "received");
	assert_string_equal(tj_str(rq, "peer"), "MEX");
	assert_string_equal(tj_str(rq, "state"), "pending");
	assert_string_equal(tj_str(rq, "purpose"), "OPERATIONAL_USE");
	json_decref(j);
	due_kinds(fra, kinds, sizeof(kinds));
	assert_non_null(strstr(kinds, "consent_to_decide"));
	due_kinds(mex, kinds, sizeof(kinds));
	assert_non_null(strstr(kinds, "consent_awaited"));

	/* MEX cannot decide about information it did not provide. */
	tnode_cli_argv(mex, (uid_t)-1, &r, TN_ARGS("consent", "grant", item));
	if (r.status == 0) {
		TN_FAIL(&NET, "MEX decided on a message that is no consent request: %s", r.err);
	}
	tcli_free(&r);

	j = TN_CLI_OK(&NET, fra, "consent", "grant", req, "--conditions", CONDITIONS);
	assert_string_equal(tj_str(j, "outcome"), "GRANTED_WITH_CONDITIONS");
	assert_string_equal(tj_str(j, "requester"), "MEX");
	json_decref(j);
	if (tnode_wait_log(mex, "verified and recorded", 1, TN_DELIVER_MS) != 0) {
		TN_FAIL(&NET, "MEX did not record FRA's decision");
	}

	/* Allowed now: the file holds the marking first, the content and the decision. */
	export(mex, item, out2, &r);
	if (r.status != 0 || r.json == NULL) {
		TN_FAIL(&NET, "the export was refused after the grant: %d %s", r.status, r.err);
	}
	assert_string_equal(tj_str(r.json, "conditions"), CONDITIONS);
	assert_string_equal(tj_str(r.json, "consent_needed"), "OPERATIONAL_USE");
	tcli_free(&r);
	struct stat st;
	assert_int_equal(stat(out2, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	uint8_t *text = NULL;
	size_t len = 0;
	assert_dx_ok(dx_read_file(out2, 1 << 20, &text, &len));
	const char *doc = (const char *)text;
	const char *mk = strstr(doc, "\"marking\""), *body = strstr(doc, "\"text\""),
		   *dec = strstr(doc, "\"consent_decisions\"");
	if (mk == NULL || body == NULL || dec == NULL || mk > body || body > dec) {
		TN_FAIL(&NET, "the export is not marking, content, decisions:\n%s", doc);
	}
	json_error_t e;
	json_t *x = json_loadb(doc, len, 0, &e);
	assert_non_null(x);
	assert_string_equal(tj_str(json_object_get(x, "marking"), "handling_code"), "H2");
	assert_string_equal(tj_str(x, "text"), TEXT);
	json_t *d = json_array_get(json_object_get(x, "consent_decisions"), 0);
	assert_string_equal(tj_str(d, "provider"), "FRA");
	assert_string_equal(tj_str(d, "recipient"), "MEX");
	assert_string_equal(tj_str(d, "outcome"), "GRANTED_WITH_CONDITIONS");
	assert_string_equal(tj_str(d, "conditions"), CONDITIONS);
	assert_int_equal(strlen(tj_str(d, "signature")), 128);
	assert_int_equal(strlen(tj_str(d, "provider_identity_key")), 64);
	assert_true(strlen(tj_str(d, "statement")) > 100);
	assert_true(tj_int(d, "decided_ms") > 0);
	json_decref(x);
	free(text);
	/* Never over an existing file. */
	export(mex, item, out2, &r);
	assert_int_not_equal(r.status, 0);
	tcli_free(&r);

	/* Revoked: refused again. */
	j = TN_CLI_OK(&NET, fra, "consent", "revoke", req);
	assert_string_equal(tj_str(j, "outcome"), "REVOKED");
	json_decref(j);
	if (tnode_wait_log(mex, "verified and recorded", 2, TN_DELIVER_MS) != 0) {
		TN_FAIL(&NET, "MEX did not record FRA's revocation");
	}
	expect_refused(mex, item, out3, "revoked");
	j = TN_CLI_OK(&NET, mex, "consent", "list");
	rq = json_array_get(json_object_get(j, "requests"), 0);
	assert_string_equal(tj_str(rq, "direction"), "sent");
	assert_string_equal(tj_str(rq, "state"), "REVOKED");
	assert_int_equal(json_array_size(json_object_get(j, "decisions")), 2);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_consent_export, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
