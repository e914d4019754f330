/*
 * test_node_concern.c: the unauthorized-disclosure procedure (rule 15)
 * between two State nodes (FRA, MEX) and a relay, as separate processes,
 * driven only through the divex command.
 *
 * FRA sends MEX a message and MEX reads it (its node fetches and
 * acknowledges it). FRA's `divex audit dossier ID -o F` writes a dossier
 * that `divex audit verify F` accepts offline, naming MEX as having fetched
 * and acknowledged the envelope; a flipped byte makes it exit 3, and the
 * file is never overwritten. FRA raises a concern with MEX with the dossier
 * attached; MEX sees it (in `concern list` and `due`), checks the attached
 * dossier itself and explains; FRA's concern then shows explained.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "nodes.h"
#include "testlib.h"
#include "util.h"

static struct tnet NET;
static const char *const STATES[] = { "FRA", "MEX" };
#define SUBJECT "Serials of the rifles"
#define DESCRIPTION "The serials of message above appeared in a newspaper on 2026-02-27."
#define EXPLANATION "An officer forwarded the message to a journalist."
#define REMEDIAL "The officer was suspended and access rules were tightened."

static int setup(void **state)
{
	(void)state;
	setenv("DIVEX_TODAY", "2026-03-01", 1);
	tnet_setup(&NET, "concern", 0, STATES, 2);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tnet_teardown(&NET);
	return 0;
}

/* Runs the command and returns its exit status (stdout parsed in r). */
static int run(const struct tnode *n, struct tcli *r, char *const args[])
{
	memset(r, 0, sizeof(*r));
	tnode_cli_argv(n, (uid_t)-1, r, args);
	return r->status;
}

/* The one concern in n's `concern list`, waiting until it is in state. */
static json_t *wait_concern(const struct tnode *n, const char *state)
{
	long deadline = tn_now_ms() + TN_DELIVER_MS;
	for (;;) {
		json_t *j = TN_CLI_OK(&NET, n, "concern", "list");
		json_t *list = json_object_get(j, "concerns");
		if (json_array_size(list) == 1 &&
		    strcmp(tj_str(json_array_get(list, 0), "state"), state) == 0) {
			json_t *c = json_incref(json_array_get(list, 0));
			json_decref(j);
			return c;
		}
		json_decref(j);
		if (tn_now_ms() > deadline) {
			TN_FAIL(&NET, "%s: no concern in state %s", n->state, state);
		}
		tn_pause();
	}
}

/* Whether n's deadline book has an item of kind. */
static int due_has(const struct tnode *n, const char *kind)
{
	json_t *j = TN_CLI_OK(&NET, n, "due");
	json_t *items = json_object_get(j, "items");
	int found = 0;
	for (size_t i = 0; i < json_array_size(items); i++) {
		found |= strcmp(tj_str(json_array_get(items, i), "kind"), kind) == 0;
	}
	json_decref(j);
	return found;
}

static void expect_verify(const struct tnode *n, const char *path, int want)
{
	struct tcli r;
	int st =
		run(n, &r,
		    TN_ARGS("audit", "verify", "--relay-key", (char *)NET.relay_key, (char *)path));
	if (st != want) {
		TN_FAIL(&NET, "audit verify %s: status %d, want %d: %s", path, st, want, r.err);
	}
	if (want == 0) {
		assert_int_equal(tj_int(r.json, "fetched"), 1);
		assert_int_equal(tj_int(r.json, "acknowledged"), 1);
		assert_string_equal(tj_str(r.json, "recipient"), "MEX");
		json_t *ev = json_object_get(r.json, "events");
		assert_int_equal(json_array_size(ev), 3);
		assert_string_equal(tj_str(json_array_get(ev, 1), "state"), "MEX");
		assert_string_equal(tj_str(json_array_get(ev, 2), "state"), "MEX");
	}
	tcli_free(&r);
}

static void test_dossier_and_concern(void **state)
{
	(void)state;
	struct tnode *fra = tnet_node(&NET, "FRA"), *mex = tnet_node(&NET, "MEX");
	char id[33], path[1024], bad[1024], dir[1024];
	struct tcli r;

	tnode_send(&NET, fra, "MEX", SUBJECT, "Serials 4471 to 4510.", NULL, id);
	json_decref(tnode_wait_outbox(&NET, fra, id, "receipted", TN_DELIVER_MS));
	json_decref(tnode_wait_inbox(&NET, mex, "FRA", SUBJECT, 1, TN_DELIVER_MS));

	/* The sender's dossier, checked offline. */
	snprintf(path, sizeof(path), "%s/concern/message.dossier", test_tmpdir());
	json_t *j = TN_CLI_OK(&NET, fra, "audit", "dossier", id, "-o", path);
	assert_int_equal(tj_int(j, "acknowledged"), 1);
	json_decref(j);
	expect_verify(fra, path, 0);
	/* Never overwritten. */
	if (run(fra, &r, TN_ARGS("audit", "dossier", id, "-o", path)) == 0) {
		TN_FAIL(&NET, "audit dossier overwrote %s", path);
	}
	tcli_free(&r);
	/* A flipped byte fails. */
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_dx_ok(dx_read_file(path, 16 * 1024 * 1024, &buf, &len));
	buf[len / 3] ^= 0x04;
	snprintf(bad, sizeof(bad), "%s/concern/tampered.dossier", test_tmpdir());
	test_write_file(bad, buf, len);
	free(buf);
	expect_verify(fra, bad, 3);
	/* The recipient has no dossier of what it received. */
	if (run(mex, &r, TN_ARGS("audit", "dossier", id, "-o", bad)) == 0) {
		TN_FAIL(&NET, "MEX wrote a dossier of a message it did not send");
	}
	tcli_free(&r);

	/* FRA raises a concern with the dossier attached. */
	j = TN_CLI_OK(&NET, fra, "concern", "raise", "--envelope", id, "--description", DESCRIPTION,
		      "--attach-dossier");
	assert_string_equal(tj_str(j, "to"), "MEX");
	json_decref(j);
	json_t *k = wait_concern(fra, "raised");
	assert_string_equal(tj_str(k, "direction"), "raised");
	json_decref(k);
	assert_true(due_has(fra, "concern_explanation_awaited"));

	/* MEX sees it, checks the dossier that came with it, and explains. */
	json_t *it = tnode_wait_inbox(&NET, mex, "FRA", "Concern under rule 15", 1, TN_DELIVER_MS);
	char concern[33];
	snprintf(concern, sizeof(concern), "%s", tj_str(it, "envelope_id"));
	json_decref(it);
	k = wait_concern(mex, "raised");
	assert_string_equal(tj_str(k, "direction"), "received");
	assert_string_equal(tj_str(k, "peer"), "FRA");
	assert_string_equal(tj_str(k, "description"), DESCRIPTION);
	assert_true(json_is_true(json_object_get(k, "dossier_attached")));
	json_decref(k);
	assert_true(due_has(mex, "concern_to_explain"));
	snprintf(dir, sizeof(dir), "%s/concern/mex-saved", test_tmpdir());
	assert_dx_ok(dx_mkdir_p(dir));
	json_decref(TN_CLI_OK(&NET, mex, "read", concern, "--save", dir));
	DIR *d = opendir(dir);
	struct dirent *e;
	char saved[2048] = "";
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "dossier-", 8) == 0) {
			snprintf(saved, sizeof(saved), "%s/%s", dir, e->d_name);
		}
	}
	if (d != NULL) {
		closedir(d);
	}
	if (saved[0] == '\0') {
		TN_FAIL(&NET, "MEX saved no dossier from the concern");
	}
	expect_verify(mex, saved, 0);

	j = TN_CLI_OK(&NET, mex, "concern", "explain", concern, "--explanation", EXPLANATION,
		      "--remedial-measures", REMEDIAL);
	assert_string_equal(tj_str(j, "to"), "FRA");
	json_decref(j);
	json_decref(wait_concern(mex, "explained"));
	assert_false(due_has(mex, "concern_to_explain"));

	/* FRA's concern is explained. */
	k = wait_concern(fra, "explained");
	assert_string_equal(tj_str(k, "explanation"), EXPLANATION);
	assert_string_equal(tj_str(k, "remedial_measures"), REMEDIAL);
	json_decref(k);
	assert_false(due_has(fra, "concern_explanation_awaited"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dossier_and_concern),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
