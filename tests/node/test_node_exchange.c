/*
 * test_node_exchange.c: three State nodes (FRA, MEX, BFA) and one relay, as
 * separate processes, driven only through the divex command; once over
 * tcp:// and once over tls+tcp://.
 *
 * Messages go in every direction and arrive with the text that was sent;
 * attachments of 0 B, 1 B and 5 MiB come out of `divex read --save`
 * byte-identical; the relay's receipts are shown to sender and recipient;
 * replies carry the envelope id they answer, so a thread can be followed.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nodes.h"
#include "testlib.h"

static struct tnet NET;
static const char *const STATES[] = { "FRA", "MEX", "BFA" };
#define N_STATES 3

static const char *transport(void)
{
	return NET.use_tls ? "tls" : "tcp";
}

static int setup_tcp(void **state)
{
	tnet_setup(&NET, "tcp", 0, STATES, N_STATES);
	return 0;
}

static int setup_tls(void **state)
{
	tnet_setup(&NET, "tls", 1, STATES, N_STATES);
	return 0;
}

static int teardown(void **state)
{
	tnet_teardown(&NET);
	return 0;
}

/* The envelope id of a sent message, from the sender's outbox once receipted. */
static void sent_envelope_id(const struct tnode *n, const char *msg_id, char env_id[33])
{
	json_t *it = tnode_wait_outbox(&NET, n, msg_id, "receipted", TN_DELIVER_MS);
	const char *e = tj_str(it, "envelope_id");
	if (strlen(e) != 32) {
		TN_FAIL(&NET, "%s: receipted message %s has no envelope id", n->state, msg_id);
	}
	snprintf(env_id, 33, "%s", e);
	json_decref(it);
}

static void test_every_direction(void **state)
{
	char subject[N_STATES][N_STATES][64], text[N_STATES][N_STATES][128];
	char ids[N_STATES][N_STATES][33];
	/* Every message is queued first, so that they all travel at once. */
	for (int a = 0; a < N_STATES; a++) {
		for (int b = 0; b < N_STATES; b++) {
			if (a == b) {
				continue;
			}
			snprintf(subject[a][b], sizeof(subject[a][b]), "%s to %s over %s",
				 STATES[a], STATES[b], transport());
			snprintf(text[a][b], sizeof(text[a][b]),
				 "Request for assistance %d-%d: please trace serial numbers.", a,
				 b);
			tnode_send(&NET, &NET.nodes[a], STATES[b], subject[a][b], text[a][b], NULL,
				   ids[a][b]);
		}
	}
	for (int a = 0; a < N_STATES; a++) {
		for (int b = 0; b < N_STATES; b++) {
			if (a == b) {
				continue;
			}
			json_t *it = tnode_wait_inbox(&NET, &NET.nodes[b], STATES[a], subject[a][b],
						      0, TN_DELIVER_MS);
			assert_int_equal(strlen(tj_str(it, "envelope_id")), 32);
			assert_true(tj_int(it, "sequence") >= 1);
			json_t *p = NULL;
			json_t *r = tnode_read(&NET, &NET.nodes[b], tj_str(it, "envelope_id"), &p);
			assert_string_equal(tj_str(r, "direction"), "received");
			assert_string_equal(tj_str(r, "sender"), STATES[a]);
			assert_string_equal(tj_str(r, "recipient"), STATES[b]);
			assert_string_equal(tj_str(p, "subject"), subject[a][b]);
			assert_string_equal(tj_str(p, "text"), text[a][b]);
			assert_string_equal(tj_str(p, "in_reply_to"), "");
			json_decref(r);
			json_decref(it);
			/* The sender sees its copy as sent, addressed to the recipient. */
			r = tnode_read(&NET, &NET.nodes[a], ids[a][b], NULL);
			assert_string_equal(tj_str(r, "direction"), "sent");
			assert_string_equal(tj_str(r, "recipient"), STATES[b]);
			json_decref(r);
		}
	}
}

static void test_attachments(void **state)
{
	static const struct {
		const char *name;
		size_t size;
	} files[] = { { "empty.bin", 0 }, { "one.bin", 1 }, { "five-mib.bin", 5 * 1024 * 1024 } };
	char paths[3][700], subject[64], id[33], save[700], got[800];
	const char *attach[4];
	struct tnode *fra = tnet_node(&NET, "FRA"), *mex = tnet_node(&NET, "MEX");
	for (int i = 0; i < 3; i++) {
		snprintf(paths[i], sizeof(paths[i]), "%s/%s", NET.dir, files[i].name);
		tfile_random(paths[i], files[i].size, 17 + (unsigned)i);
		attach[i] = paths[i];
	}
	attach[3] = NULL;
	snprintf(subject, sizeof(subject), "attachments over %s", transport());
	tnode_send(&NET, fra, "MEX", subject, "Three files attached.", attach, id);
	/* Acknowledged: the daemon holds every attachment stream, checked. */
	json_t *it = tnode_wait_inbox(&NET, mex, "FRA", subject, 1, TN_DELIVER_MS);
	json_t *p = NULL;
	json_t *r = tnode_read(&NET, mex, tj_str(it, "envelope_id"), &p);
	json_t *list = json_object_get(p, "attachments");
	assert_int_equal(json_array_size(list), 3);
	for (size_t i = 0; i < 3; i++) {
		json_t *a = json_array_get(list, i);
		assert_string_equal(tj_str(a, "name"), files[i].name);
		assert_int_equal(tj_int(a, "size"), (long long)files[i].size);
	}
	json_decref(r);
	snprintf(save, sizeof(save), "%s/saved-%s", NET.dir, transport());
	assert_int_equal(mkdir(save, 0700), 0);
	json_decref(
		TN_CLI_OK(&NET, mex, "read", (char *)tj_str(it, "envelope_id"), "--save", save));
	for (int i = 0; i < 3; i++) {
		snprintf(got, sizeof(got), "%s/%s", save, files[i].name);
		if (!tfile_same(paths[i], got)) {
			TN_FAIL(&NET, "%s (%zu bytes) did not round-trip into %s", files[i].name,
				files[i].size, got);
		}
	}
	json_decref(it);
}

/* Waits until the receipts of id on n include one of kind. */
static json_t *wait_receipt(const struct tnode *n, const char *id, const char *kind)
{
	long end = tn_now_ms() + TN_DELIVER_MS;
	do {
		json_t *j = TN_CLI_OK(&NET, n, "receipts", (char *)id);
		json_t *list = json_object_get(j, "receipts");
		for (size_t i = 0; i < json_array_size(list); i++) {
			json_t *r = json_array_get(list, i);
			if (strcmp(tj_str(r, "kind"), kind) == 0) {
				return j;
			}
		}
		json_decref(j);
		tn_pause();
	} while (tn_now_ms() < end);
	TN_FAIL(&NET, "%s: no \"%s\" receipt for %s", n->state, kind, id);
	return NULL;
}

static void check_receipt(const json_t *list, const char *kind)
{
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *r = json_array_get(list, i);
		if (strcmp(tj_str(r, "kind"), kind) != 0) {
			continue;
		}
		assert_true(tj_int(r, "tree_size") > tj_int(r, "leaf_index"));
		assert_true(tj_int(r, "time_ms") > 0);
		assert_true(strlen(tj_str(r, "checkpoint")) > 0);
		assert_true(strlen(tj_str(r, "receipt")) > 0);
	}
}

static void test_receipts(void **state)
{
	char subject[64], id[33], env[33];
	struct tnode *bfa = tnet_node(&NET, "BFA"), *fra = tnet_node(&NET, "FRA");
	snprintf(subject, sizeof(subject), "receipts over %s", transport());
	tnode_send(&NET, bfa, "FRA", subject, "Please confirm receipt.", NULL, id);
	json_t *it = tnode_wait_inbox(&NET, fra, "BFA", subject, 0, TN_DELIVER_MS);
	sent_envelope_id(bfa, id, env);
	assert_string_equal(env, tj_str(it, "envelope_id"));
	/* The sender holds the relay's receipt of acceptance, with its proof. */
	json_t *j = wait_receipt(bfa, id, "accepted");
	assert_string_equal(tj_str(j, "direction"), "sent");
	assert_string_equal(tj_str(j, "envelope_id"), env);
	check_receipt(json_object_get(j, "receipts"), "accepted");
	json_decref(j);
	/* The recipient holds the receipts of its fetch and acknowledgement. */
	j = wait_receipt(fra, env, "acknowledged");
	assert_string_equal(tj_str(j, "direction"), "received");
	check_receipt(json_object_get(j, "receipts"), "fetched");
	check_receipt(json_object_get(j, "receipts"), "acknowledged");
	json_decref(j);
	/* A unique prefix of at least 6 digits names the message too. */
	char prefix[9];
	snprintf(prefix, sizeof(prefix), "%.8s", env);
	j = wait_receipt(fra, prefix, "acknowledged");
	json_decref(j);
	json_decref(it);
}

/* Sends a reply to id from n; returns its message id. */
static void reply(const struct tnode *n, const char *to_id, const char *subject, char id[33])
{
	char msg[700];
	snprintf(msg, sizeof(msg), "%s.reply", n->home);
	test_write_file(msg, "Answer follows.", 15);
	json_t *j = TN_CLI_OK(&NET, n, "reply", (char *)to_id, "--subject", (char *)subject,
			      "--file", msg);
	json_t *c = json_array_get(json_object_get(j, "copies"), 0);
	if (strlen(tj_str(c, "message_id")) != 32) {
		TN_FAIL(&NET, "%s: unexpected answer to reply", n->state);
	}
	snprintf(id, 33, "%s", tj_str(c, "message_id"));
	json_decref(j);
}

/* Asserts that the message env_id received by n answers in_reply_to (hex). */
static void check_in_reply_to(const struct tnode *n, const char *env_id, const char *in_reply_to)
{
	json_t *p = NULL;
	json_t *r = tnode_read(&NET, n, env_id, &p);
	assert_string_equal(tj_str(p, "in_reply_to"), in_reply_to);
	json_decref(r);
}

static void test_reply_thread(void **state)
{
	char s1[64], s2[64], s3[64], id1[33], id2[33], id3[33], env1[33], env2[33], env3[33];
	struct tnode *fra = tnet_node(&NET, "FRA"), *mex = tnet_node(&NET, "MEX");
	snprintf(s1, sizeof(s1), "thread start over %s", transport());
	snprintf(s2, sizeof(s2), "thread reply over %s", transport());
	snprintf(s3, sizeof(s3), "thread answer over %s", transport());
	tnode_send(&NET, fra, "MEX", s1, "Who owns this vessel?", NULL, id1);
	json_t *it1 = tnode_wait_inbox(&NET, mex, "FRA", s1, 0, TN_DELIVER_MS);
	sent_envelope_id(fra, id1, env1);
	assert_string_equal(env1, tj_str(it1, "envelope_id"));
	/* MEX answers the envelope it received; FRA answers the answer. */
	reply(mex, env1, s2, id2);
	json_t *it2 = tnode_wait_inbox(&NET, fra, "MEX", s2, 0, TN_DELIVER_MS);
	sent_envelope_id(mex, id2, env2);
	check_in_reply_to(fra, tj_str(it2, "envelope_id"), env1);
	reply(fra, tj_str(it2, "envelope_id"), s3, id3);
	json_t *it3 = tnode_wait_inbox(&NET, mex, "FRA", s3, 0, TN_DELIVER_MS);
	sent_envelope_id(fra, id3, env3);
	check_in_reply_to(mex, tj_str(it3, "envelope_id"), env2);
	/* The first message answers nothing. */
	check_in_reply_to(mex, env1, "");
	json_decref(it1);
	json_decref(it2);
	json_decref(it3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_direction),
		cmocka_unit_test(test_attachments),
		cmocka_unit_test(test_receipts),
		cmocka_unit_test(test_reply_thread),
	};
	int failed =
		cmocka_run_group_tests_name("node exchange over tcp", tests, setup_tcp, teardown);
	failed += cmocka_run_group_tests_name("node exchange over tls+tcp", tests, setup_tls,
					      teardown);
	return failed;
}
