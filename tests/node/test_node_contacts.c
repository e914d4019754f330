/*
 * test_node_contacts.c: the directory of contact points (rule 20), as
 * separate processes over tcp://. FRA publishes its contact records from a
 * file; its node signs a new roster entry and publishes it through the relay;
 * MEX's node mirrors it and `divex contacts FRA` shows the records, signed
 * by FRA's pinned key. A file with an unknown key is refused before anything
 * is sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes.h"
#include "testlib.h"

static struct tnet NET;
static const char *const STATES[] = { "FRA", "MEX" };

static int setup(void **state)
{
	(void)state;
	tnet_setup(&NET, "contacts", 0, STATES, 2);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tnet_teardown(&NET);
	return 0;
}

static const char CONTACTS[] =
	"{\"contacts\": ["
	"{\"role\": \"point-of-contact\", \"agency\": \"Ministry for Europe and Foreign Affairs\","
	" \"name\": \"Claire Martin\", \"email\": \"poc@diplomatie.example\","
	" \"phone\": \"+33 1 00 00 00 00\", \"languages\": [\"fr\", \"en\"],"
	" \"channels\": \"divex; diplomatic note\"},"
	"{\"role\": \"enforcement\", \"agency\": \"Direction generale des douanes\","
	" \"name\": \"Arms control desk\", \"email\": \"armes@douane.example\","
	" \"languages\": [\"fr\"]}"
	"]}";

/* The contacts MEX's node shows for FRA, once they hold `agency` (FRA may not be mirrored yet). */
static json_t *wait_contacts(const struct tnode *mex, const char *agency)
{
	long deadline = tn_now_ms() + TN_DELIVER_MS;
	for (;;) {
		struct tcli r;
		tnode_cli_argv(mex, (uid_t)-1, &r, TN_ARGS("contacts", "FRA"));
		json_t *st = r.status == 0 ? json_array_get(json_object_get(r.json, "states"), 0)
					   : NULL;
		json_t *cts = json_object_get(st, "contacts");
		if (json_array_size(cts) == 2 &&
		    strcmp(tj_str(json_array_get(cts, 1), "agency"), agency) == 0) {
			json_t *j = json_incref(r.json);
			tcli_free(&r);
			return j;
		}
		tcli_free(&r);
		if (tn_now_ms() > deadline) {
			TN_FAIL(&NET, "MEX never saw FRA's contact records");
		}
		tn_pause();
	}
}

static void test_publish_and_list(void **state)
{
	(void)state;
	char path[700];
	struct tnode *fra = tnet_node(&NET, "FRA"), *mex = tnet_node(&NET, "MEX");
	snprintf(path, sizeof(path), "%s/fra-contacts.json", NET.dir);
	test_write_file(path, CONTACTS, strlen(CONTACTS));
	json_decref(TN_CLI_OK(&NET, fra, "contacts", "publish", path));

	json_t *r = wait_contacts(mex, "Direction generale des douanes");
	json_t *st = json_array_get(json_object_get(r, "states"), 0);
	assert_string_equal(tj_str(st, "state"), "FRA");
	/* Six groups of five digits: "12345 67890 ...". */
	assert_int_equal(strlen(tj_str(st, "fingerprint")), 35);
	json_t *poc = json_array_get(json_object_get(st, "contacts"), 0);
	assert_string_equal(tj_str(poc, "role"), "point-of-contact");
	assert_string_equal(tj_str(poc, "name"), "Claire Martin");
	assert_string_equal(tj_str(poc, "email"), "poc@diplomatie.example");
	assert_int_equal(json_array_size(json_object_get(poc, "languages")), 2);
	json_decref(r);

	/* Every State's records: FRA's and MEX's (none published). */
	r = TN_CLI_OK(&NET, mex, "contacts");
	assert_int_equal(json_array_size(json_object_get(r, "states")), 2);
	json_decref(r);
}

static void test_bad_file_refused(void **state)
{
	(void)state;
	char path[700];
	struct tcli r;
	struct tnode *fra = tnet_node(&NET, "FRA");
	static const char BAD[] = "{\"contacts\": [{\"role\": \"enforcement\", \"fax\": \"1\"}]}";
	snprintf(path, sizeof(path), "%s/bad-contacts.json", NET.dir);
	test_write_file(path, BAD, strlen(BAD));
	tnode_cli_argv(fra, (uid_t)-1, &r, TN_ARGS("contacts", "publish", path));
	if (r.status != 2 || strstr(r.err, "fax") == NULL) {
		TN_FAIL(&NET, "a contacts file with an unknown key: exit %d, %s", r.status, r.err);
	}
	tcli_free(&r);
	static const char ROLE[] = "{\"contacts\": [{\"role\": \"minister\"}]}";
	test_write_file(path, ROLE, strlen(ROLE));
	tnode_cli_argv(fra, (uid_t)-1, &r, TN_ARGS("contacts", "publish", path));
	if (r.status == 0 || strstr(r.err, "point-of-contact") == NULL) {
		TN_FAIL(&NET, "a contact with an unknown role: exit %d, %s", r.status, r.err);
	}
	tcli_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_publish_and_list),
		cmocka_unit_test(test_bad_file_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
