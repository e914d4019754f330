/*
 * test_cli_node.c: the divex commands that talk to the daemon, against a
 * fake control socket (fake_divexd.h): what each sends, what it prints as
 * text and as JSON, and the exit status of each refusal; and `divex init`,
 * whose configuration the daemon's own parser must accept.
 * test_cli_node_send.c covers sending, replying and attachments.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "canon.h"
#include "error.h"
#include "fake_divexd.h"
#include "testlib.h"
#include "util.h"
#include "wire.pb-c.h"
#ifdef DIVEX_TEST_NODE_CONFIG
#include "node_config.h"
#endif

#define T_MS 1790000000000ull

static json_t *out_json(void)
{
	json_error_t e;
	json_t *j = json_loads(OUT(), 0, &e);
	if (j == NULL) {
		fail_msg("stdout is not JSON (%s):\n%s", e.text, OUT());
	}
	return j;
}

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	if (s == NULL) {
		fail_msg("no string '%s' in the JSON output:\n%s", key, OUT());
	}
	return s;
}

static json_int_t jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_integer(v)) {
		fail_msg("no number '%s' in the JSON output:\n%s", key, OUT());
	}
	return json_integer_value(v);
}

static void iso(char buf[32], uint64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Every new command answers --help with its usage. */
static void test_help(void **state)
{
	(void)state;
	static const char *const cmds[] = { "init", "status", "send",	  "inbox", "outbox",
					    "read", "reply",  "receipts", "roster" };
	char want[64];
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		assert_int_equal(RUN(cmds[i], "--help"), 0);
		snprintf(want, sizeof(want), "usage: divex %s", cmds[i]);
		fake_contains(OUT(), want);
		assert_int_equal(RUN("help", cmds[i]), 0);
		fake_contains(OUT(), want);
	}
	assert_int_equal(RUN("audit", "check", "--help"), 0);
	fake_contains(OUT(), "usage: divex audit check");
	assert_int_equal(RUN("keys", "verify", "--help"), 0);
	fake_contains(OUT(), "usage: divex keys verify");
	assert_int_equal(RUN("--help"), 0);
	fake_contains(OUT(), "divexd");
	assert_int_equal(fake_count(fx), 0);
}

/* No socket: status 1 and a message that names divexd. */
static void test_no_daemon(void **state)
{
	(void)state;
	char nohome[4096];
	const char *const args[] = { "status", NULL };
	snprintf(nohome, sizeof(nohome), "%s/nodaemon", test_tmpdir());
	assert_int_equal(fake_run(nohome, NULL, fx_out, fx_err, args), 1);
	fake_contains(ERR(), "divexd");
	fake_contains(ERR(), "control.sock");
	const char *const jargs[] = { "--json", "inbox", NULL };
	assert_int_equal(fake_run(nohome, NULL, fx_out, fx_err, jargs), 1);
	fake_contains(ERR(), "\"error\":\"DX_ENODAEMON\"");
	/* Something else where the socket belongs. */
	assert_dx_ok(dx_mkdir_p(nohome));
	test_write_file(test_path(nohome, "control.sock"), "x", 1);
	assert_int_equal(fake_run(nohome, NULL, fx_out, fx_err, args), 1);
	fake_contains(ERR(), "divexd run");
}

static void status_handler(void *ctx, const Dx__ControlRequest *req, uint8_t **o, size_t *n)
{
	(void)ctx;
	(void)req;
	static uint8_t prekey[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	Dx__StatusResult s = DX__STATUS_RESULT__INIT;
	Dx__Gap gap = DX__GAP__INIT;
	Dx__Gap *gaps[] = { &gap };
	char *pending[] = { "BFA" };
	Dx__ControlResponse resp = DX__CONTROL_RESPONSE__INIT;
	s.state = "FRA";
	s.version = "0.1.0";
	s.relay_url = "tls+tcp://127.0.0.1:7443";
	s.relay_last_error = DX_ETIMEDOUT;
	s.checkpoint_size = 42;
	s.checkpoint = (ProtobufCBinaryData){ 5, (uint8_t *)"abcde" };
	s.outbox_queued = 2;
	s.outbox_receipted = 10;
	s.inbox_total = 12;
	s.inbox_unacked = 1;
	gap.peer = "MEX";
	gap.first = 2;
	gap.last = 3;
	s.n_gaps = 1;
	s.gaps = gaps;
	s.n_pending_key_changes = 1;
	s.pending_key_changes = pending;
	s.prekey_id = (ProtobufCBinaryData){ sizeof(prekey), prekey };
	s.prekey_valid_until_ms = T_MS;
	s.started_ms = T_MS - 1000;
	resp.role = "officer";
	resp.result_case = DX__CONTROL_RESPONSE__RESULT_STATUS;
	resp.status = &s;
	fake_pack(&resp, o, n);
}

static void test_status(void **state)
{
	(void)state;
	char t[32];
	fake_set(fx, status_handler, NULL);
	assert_int_equal(RUN("status"), 0);
	assert_int_equal(fake_count(fx), 1);
	assert_int_equal(fake_request(fx, 0)->version, 1);
	assert_int_equal(fake_request(fx, 0)->op_case, DX__CONTROL_REQUEST__OP_STATUS);
	fake_contains(OUT(), "State:");
	fake_contains(OUT(), "FRA");
	fake_contains(OUT(), "Your role:");
	fake_contains(OUT(), "officer");
	fake_contains(OUT(), "never");
	fake_contains(OUT(), "DX_ETIMEDOUT");
	fake_contains(OUT(), "Outbox queued:");
	fake_contains(OUT(), "0102030405060708");
	iso(t, T_MS);
	fake_contains(OUT(), t);
	fake_contains(OUT(), "divex keys verify");

	assert_int_equal(RUN("status", "--json"), 0);
	json_t *j = out_json();
	assert_string_equal(jstr(j, "state"), "FRA");
	assert_string_equal(jstr(j, "role"), "officer");
	assert_string_equal(jstr(j, "checkpoint"), "6162636465");
	assert_int_equal(jint(j, "relay_last_ok_ms"), 0);
	assert_int_equal(jint(j, "relay_last_error"), DX_ETIMEDOUT);
	assert_int_equal(jint(j, "prekey_valid_until_ms"), (json_int_t)T_MS);
	assert_int_equal(jint(j, "outbox_receipted"), 10);
	json_t *g = json_array_get(json_object_get(j, "gaps"), 0);
	assert_string_equal(jstr(g, "peer"), "MEX");
	assert_int_equal(jint(g, "last"), 3);
	assert_string_equal(
		json_string_value(json_array_get(json_object_get(j, "pending_key_changes"), 0)),
		"BFA");
	json_decref(j);
}

static void inbox_handler(void *ctx, const Dx__ControlRequest *req, uint8_t **o, size_t *n)
{
	static uint8_t id1[16], id2[16];
	Dx__InboxItem a = DX__INBOX_ITEM__INIT, b = DX__INBOX_ITEM__INIT;
	Dx__InboxItem *items[] = { &a, &b };
	Dx__Gap g1 = DX__GAP__INIT, g2 = DX__GAP__INIT;
	Dx__Gap *gaps[] = { &g1, &g2 };
	Dx__InboxResult r = DX__INBOX_RESULT__INIT;
	Dx__ControlResponse resp = DX__CONTROL_RESPONSE__INIT;
	memset(id1, 0x11, sizeof(id1));
	memset(id2, 0x22, sizeof(id2));
	a.envelope_id = (ProtobufCBinaryData){ 16, id1 };
	a.sender = "MEX";
	a.sequence = 4;
	a.received_ms = T_MS;
	a.summary = "H2 B2 | Rifles at the port";
	a.acknowledged = 1;
	b.envelope_id = (ProtobufCBinaryData){ 16, id2 };
	b.sender = "BFA";
	b.sequence = 1;
	b.received_ms = T_MS - 5000;
	b.summary = "H0 | esc\x1b[31mred";
	g1.peer = "MEX";
	g1.first = 2;
	g1.last = 3;
	g2.peer = "BFA";
	g2.first = 5;
	g2.last = 5;
	int empty = ctx != NULL || req->inbox->offset > 0;
	r.n_items = empty ? 0 : 2;
	r.items = items;
	r.n_gaps = empty ? 0 : 2;
	r.gaps = gaps;
	resp.result_case = DX__CONTROL_RESPONSE__RESULT_INBOX;
	resp.inbox = &r;
	fake_pack(&resp, o, n);
}

static void test_inbox(void **state)
{
	(void)state;
	fake_set(fx, inbox_handler, NULL);
	assert_int_equal(RUN("inbox"), 0);
	fake_contains(OUT(), "ENVELOPE");
	fake_contains(OUT(), "MARKING AND SUBJECT");
	fake_contains(OUT(), "111111111111  MEX");
	assert_null(strstr(OUT(), "1111111111111"));
	fake_contains(OUT(), "H2 B2 | Rifles at the port");
	fake_contains(OUT(), "esc\\x1b[31mred");
	assert_null(strchr(OUT(), '\x1b'));
	fake_contains(ERR(), "warning: messages 2-3 from MEX have not arrived");
	fake_contains(ERR(), "warning: message 5 from BFA has not arrived");
	assert_int_equal(fake_request(fx, 0)->inbox->limit, 0);

	assert_int_equal(RUN("--json", "inbox", "--limit", "5"), 0);
	assert_string_equal(ERR(), "");
	assert_int_equal(fake_request(fx, 1)->inbox->limit, 5);
	json_t *j = out_json();
	json_t *it = json_array_get(json_object_get(j, "items"), 0);
	assert_string_equal(jstr(it, "envelope_id"), "11111111111111111111111111111111");
	assert_string_equal(jstr(it, "sender"), "MEX");
	assert_int_equal(jint(it, "sequence"), 4);
	assert_int_equal(jint(it, "received_ms"), (json_int_t)T_MS);
	assert_true(json_is_true(json_object_get(it, "acknowledged")));
	json_t *g = json_array_get(json_object_get(j, "gaps"), 0);
	assert_string_equal(jstr(g, "peer"), "MEX");
	assert_int_equal(jint(g, "first"), 2);
	assert_int_equal(jint(g, "last"), 3);
	json_decref(j);

	assert_int_equal(RUN("inbox", "--offset", "50"), 0);
	fake_contains(OUT(), "The inbox is empty.");
	assert_int_equal(fake_request(fx, 2)->inbox->offset, 50);
	assert_int_equal(RUN("inbox", "--limit", "0"), 2);
	assert_int_equal(RUN("inbox", "extra"), 2);
	assert_int_equal(fake_count(fx), 3);
}

/* A received message whose payload is the one the handler packs. */
static void read_handler(void *ctx, const Dx__ControlRequest *req, uint8_t **o, size_t *n)
{
	(void)req;
	static uint8_t id[16];
	Dx__Marking mk = DX__MARKING__INIT;
	Dx__Payload pl = DX__PAYLOAD__INIT;
	Dx__ReadResult r = DX__READ_RESULT__INIT;
	memset(id, 0xab, sizeof(id));
	mk.handling = DX__HANDLING_CODE__H2_NO_DISSEMINATION;
	mk.source_evaluation = "B";
	mk.information_evaluation = 2;
	mk.releasability = "customs only";
	pl.type = 1;
	pl.case_id = "C-7";
	pl.marking = &mk;
	pl.copy_number = 1;
	pl.copy_count = 2;
	pl.copy_for = "FRA";
	pl.subject = "Rifles";
	pl.text = "Forty rifles.\n";
	r.direction = "received";
	r.envelope_id = (ProtobufCBinaryData){ 16, id };
	r.sender = "MEX";
	r.recipient = "FRA";
	r.sequence = 4;
	r.created_ms = T_MS - 60000;
	r.received_ms = T_MS;
	if (ctx != NULL) {
		r.payload = (ProtobufCBinaryData){ 7, (uint8_t *)"garbage" };
	}
	fake_pack_read(&r, &pl.base, o, n);
}

static void test_read(void **state)
{
	(void)state;
	fake_set(fx, read_handler, NULL);
	assert_int_equal(RUN("read", "abcdef"), 0);
	assert_string_equal(fake_request(fx, 0)->read->id, "abcdef");
	const char *o = OUT();
	const char *mark = strstr(o, "MARKING");
	const char *text = strstr(o, "Forty rifles.");
	assert_non_null(mark);
	assert_non_null(text);
	assert_true(mark < text);
	fake_contains(o, "H2: no further dissemination");
	fake_contains(o, "B (source has mostly proved reliable)");
	fake_contains(o, "customs only");
	fake_contains(o, "Received at:");
	fake_contains(o, "1 of 2, for FRA");
	fake_contains(o, "abababababababababababababababab");

	assert_int_equal(RUN("read", "abcdef", "--json"), 0);
	json_t *j = out_json();
	assert_string_equal(jstr(j, "direction"), "received");
	assert_int_equal(jint(j, "received_ms"), (json_int_t)T_MS);
	json_t *pl = json_object_get(j, "payload");
	assert_string_equal(jstr(pl, "subject"), "Rifles");
	assert_string_equal(jstr(pl, "case_id"), "C-7");
	assert_string_equal(jstr(json_object_get(pl, "marking"), "handling_code"), "H2");
	assert_null(json_object_get(j, "key"));
	json_decref(j);

	assert_int_equal(RUN("read"), 2);
	fake_set(fx, read_handler, (void *)1);
	assert_int_equal(RUN("read", "abcdef"), 3);
	fake_contains(ERR(), "malformed");
}

/* Each refusal the daemon can give maps to its exit status. */
static int refusal;
static void refuse_handler(void *ctx, const Dx__ControlRequest *req, uint8_t **o, size_t *n)
{
	(void)ctx;
	(void)req;
	fake_refuse(refusal, "uid 4242 has no role on this node", o, n);
}

static void test_refusals(void **state)
{
	(void)state;
	static const struct {
		int err;
		int status;
	} cases[] = {
		{ DX_EFORBIDDEN, 3 },	{ DX_EAMBIGUOUS, 2 }, { DX_ENOENT, 4 },
		{ DX_EKEY_CHANGED, 3 }, { DX_ESIG, 3 },	      { DX_ESUSPENDED, 1 },
	};
	fake_set(fx, refuse_handler, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		refusal = cases[i].err;
		assert_int_equal(RUN("read", "abcdef"), cases[i].status);
		fake_contains(ERR(), "uid 4242 has no role on this node");
		fake_contains(ERR(), dx_strerror(cases[i].err));
	}
	refusal = DX_EFORBIDDEN;
	assert_int_equal(RUN("--json", "status"), 3);
	fake_contains(ERR(), "\"error\":\"DX_EFORBIDDEN\"");
	fake_contains(ERR(), "[roles]");
	/* An answer that is not the result asked for is refused too. */
	fake_set(fx, status_handler, NULL);
	assert_int_equal(RUN("roster"), 3);
}

static void slow_handler(void *ctx, const Dx__ControlRequest *req, uint8_t **o, size_t *n)
{
	usleep(800 * 1000);
	status_handler(ctx, req, o, n);
}

/* A daemon that does not answer in time: status 1, and a warning that the
 * request may still be carried out. */
static void test_timeout(void **state)
{
	(void)state;
	fake_set(fx, slow_handler, NULL);
	setenv("DIVEX_CTL_TIMEOUT_MS", "200", 1);
	int status = RUN("status");
	setenv("DIVEX_CTL_TIMEOUT_MS", "20000", 1);
	assert_int_equal(status, 1);
	fake_contains(ERR(), "did not answer within 200 ms");
	fake_contains(ERR(), "before repeating it");
	assert_int_equal(fake_count(fx), 1);
}

static void roster_handler(void *ctx, const Dx__ControlRequest *req, uint8_t **o, size_t *n)
{
	(void)ctx;
	(void)req;
	Dx__RosterMember a = DX__ROSTER_MEMBER__INIT, b = DX__ROSTER_MEMBER__INIT;
	Dx__RosterMember *e[] = { &a, &b };
	Dx__RosterResult r = DX__ROSTER_RESULT__INIT;
	Dx__ControlResponse resp = DX__CONTROL_RESPONSE__INIT;
	a.state = "FRA";
	a.name = "France";
	a.status = "party";
	a.fingerprint = "11111 22222 33333 44444 55555 66666";
	a.self = 1;
	b.state = "MEX";
	b.name = "Mexico";
	b.status = "party";
	b.fingerprint = "12345 12345 12345 12345 12345 12345";
	b.pending_fingerprint = "99999 88888 77777 66666 55555 44444";
	b.pending_ms = T_MS;
	r.n_entries = 2;
	r.entries = e;
	resp.result_case = DX__CONTROL_RESPONSE__RESULT_ROSTER;
	resp.roster = &r;
	fake_pack(&resp, o, n);
}

static void test_roster(void **state)
{
	(void)state;
	fake_set(fx, roster_handler, NULL);
	assert_int_equal(RUN("roster"), 0);
	fake_contains(OUT(), "FINGERPRINT");
	fake_contains(OUT(), "(this)");
	fake_contains(OUT(), "12345 12345 12345 12345 12345 12345  Mexico");
	fake_contains(OUT(), "divex keys verify MEX '99999 88888 77777 66666 55555 44444'");
	assert_int_equal(RUN("roster", "--json"), 0);
	json_t *j = out_json();
	json_t *m = json_array_get(json_object_get(j, "entries"), 1);
	assert_string_equal(jstr(m, "pending_fingerprint"), "99999 88888 77777 66666 55555 44444");
	assert_int_equal(jint(m, "verified_ms"), 0);
	assert_null(json_object_get(m, "verified"));
	json_decref(j);
}

static void misc_handler(void *ctx, const Dx__ControlRequest *req, uint8_t **o, size_t *n)
{
	static uint8_t id[16];
	Dx__ControlResponse resp = DX__CONTROL_RESPONSE__INIT;
	Dx__OutboxItem it = DX__OUTBOX_ITEM__INIT;
	Dx__OutboxItem *items[] = { &it };
	Dx__OutboxResult ob = DX__OUTBOX_RESULT__INIT;
	Dx__ReceiptItem rc = DX__RECEIPT_ITEM__INIT;
	Dx__ReceiptItem *rcs[] = { &rc };
	Dx__ReceiptsResult rr = DX__RECEIPTS_RESULT__INIT;
	Dx__VerifyKeyResult vk = DX__VERIFY_KEY_RESULT__INIT;
	Dx__AuditResult au = DX__AUDIT_RESULT__INIT;
	memset(id, 0x5a, sizeof(id));
	resp.result_case = (Dx__ControlResponse__ResultCase)req->op_case;
	switch (req->op_case) {
	case DX__CONTROL_REQUEST__OP_OUTBOX:
		it.message_id = (ProtobufCBinaryData){ 16, id };
		it.recipient = "MEX";
		it.state = "failed";
		it.created_ms = T_MS;
		it.attempts = 3;
		it.last_error = DX_EKEY_CHANGED;
		ob.n_items = 1;
		ob.items = items;
		resp.outbox = &ob;
		break;
	case DX__CONTROL_REQUEST__OP_RECEIPTS:
		rc.kind = "accepted";
		rc.leaf_index = 17;
		rc.time_ms = T_MS;
		rc.tree_size = 20;
		rc.receipt = (ProtobufCBinaryData){ 3, (uint8_t *)"\x01\x02\x03" };
		rr.direction = "sent";
		rr.envelope_id = (ProtobufCBinaryData){ 16, id };
		rr.n_receipts = 1;
		rr.receipts = rcs;
		resp.receipts = &rr;
		break;
	case DX__CONTROL_REQUEST__OP_VERIFY_KEY:
		vk.action = "accepted-change";
		vk.fingerprint = req->verify_key->fingerprint;
		resp.verify_key = &vk;
		break;
	case DX__CONTROL_REQUEST__OP_AUDIT:
		au.tree_size = 20;
		au.receipts_checked = 4;
		au.receipts_failed = ctx != NULL;
		resp.audit = &au;
		break;
	default:
		fake_refuse(DX_EINVAL, "unexpected", o, n);
		return;
	}
	fake_pack(&resp, o, n);
}

static void test_outbox_receipts_verify_audit(void **state)
{
	(void)state;
	fake_set(fx, misc_handler, NULL);
	assert_int_equal(RUN("outbox"), 0);
	fake_contains(OUT(), "LAST ERROR");
	fake_contains(OUT(), "5a5a5a5a5a5a  MEX   failed");
	fake_contains(OUT(), "DX_EKEY_CHANGED");
	assert_int_equal(RUN("outbox", "--json"), 0);
	json_t *j = out_json();
	json_t *it = json_array_get(json_object_get(j, "items"), 0);
	assert_int_equal(jint(it, "last_error"), DX_EKEY_CHANGED);
	assert_int_equal(jint(it, "attempts"), 3);
	json_decref(j);

	assert_int_equal(RUN("receipts", "5a5a5a"), 0);
	assert_string_equal(fake_request(fx, 2)->receipts->id, "5a5a5a");
	fake_contains(OUT(), "accepted");
	fake_contains(OUT(), "PROVED IN LOG OF SIZE");
	assert_int_equal(RUN("receipts", "5a5a5a", "--json"), 0);
	j = out_json();
	it = json_array_get(json_object_get(j, "receipts"), 0);
	assert_string_equal(jstr(it, "receipt"), "010203");
	assert_int_equal(jint(it, "time_ms"), (json_int_t)T_MS);
	json_decref(j);

	/* The fingerprint may come as one argument or as six. */
	assert_int_equal(
		RUN("keys", "verify", "MEX", "12345", "12345", "12345", "12345", "12345", "12345"),
		0);
	const Dx__ControlRequest *r = fake_request(fx, 4);
	assert_string_equal(r->verify_key->state, "MEX");
	assert_string_equal(r->verify_key->fingerprint, "12345 12345 12345 12345 12345 12345");
	fake_contains(OUT(), "flow again");
	assert_int_equal(RUN("keys", "verify", "mex", "12345"), 2);
	assert_int_equal(RUN("keys", "verify", "MEX", "12345 12345"), 2);
	assert_int_equal(RUN("keys", "verify", "MEX", "12345-12345-12345-12345-12345-12345"), 2);
	assert_int_equal(fake_count(fx), 5);

	assert_int_equal(RUN("audit", "check"), 0);
	fake_contains(OUT(), "Receipts proved:");
	fake_set(fx, misc_handler, (void *)1);
	assert_int_equal(RUN("audit", "check", "--json"), 3);
	j = out_json();
	assert_int_equal(jint(j, "receipts_failed"), 1);
	json_decref(j);
	fake_contains(ERR(), "audit check failed");
}

static void write_init_files(const char *dir)
{
	static const char pem[] = "-----BEGIN CERTIFICATE-----\nMIIBfake\n"
				  "-----END CERTIFICATE-----\n";
	test_write_file(test_path(dir, "relay.pem"), pem, sizeof(pem) - 1);
	test_write_file(test_path(dir, "pass"), "init test passphrase\n", 21);
}

#define RELAY_KEY "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff"

static void test_init(void **state)
{
	(void)state;
	char uid[32], cert[4096], pass[4096], conf[4200], nh[4000];
	const char *dir = test_tmpdir();
	write_init_files(dir);
	snprintf(uid, sizeof(uid), "%u", (unsigned)getuid());
	snprintf(cert, sizeof(cert), "%s", test_path(dir, "relay.pem"));
	snprintf(pass, sizeof(pass), "%s", test_path(dir, "pass"));
	snprintf(nh, sizeof(nh), "%s/init1", dir);
	snprintf(conf, sizeof(conf), "%s/divexd.conf", nh);
	const char *const args[] = { "init",
				     "--state",
				     "FRA",
				     "--name",
				     "France",
				     "--relay-url",
				     "tls+tcp://127.0.0.1:7443",
				     "--relay-name",
				     "att-secretariat.divex/relay",
				     "--relay-key",
				     RELAY_KEY,
				     "--relay-cert",
				     cert,
				     "--poc",
				     "root",
				     "--officer",
				     uid,
				     "--passphrase-file",
				     pass,
				     "--kdf",
				     "interactive",
				     NULL };
	assert_int_equal(fake_run(nh, NULL, fx_out, fx_err, args), 0);
	fake_contains(OUT(), "Fingerprint:");
	fake_contains(OUT(), "divexd run --home");
	struct stat st;
	assert_int_equal(stat(conf, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_string_equal(fake_slurp(test_path(nh, "relay-cert.pem")), fake_slurp(cert));
	assert_int_equal(stat(test_path(nh, "state.key"), &st), 0);
	assert_int_equal(stat(test_path(nh, "enrollment.dxe"), &st), 0);
	const char *text = fake_slurp(conf);
	fake_contains(text, "public_key = 00112233445566778899aabbccddeeff");
	fake_contains(text, "point_of_contact = root\n");
	fake_contains(text, "ca_file = relay-cert.pem\n");
	fake_contains(text, "passphrase_file = /");
	/* Twice is refused, and nothing changes. */
	assert_int_equal(fake_run(nh, NULL, fx_out, fx_err, args), 1);
	assert_string_equal(fake_slurp(conf), text);
#ifdef DIVEX_TEST_NODE_CONFIG
	struct node_config cfg;
	char why[NODE_CONFIG_ERR_MAX];
	int rc = node_config_load(conf, &cfg, why);
	if (rc != DX_OK) {
		fail_msg("divexd refuses the configuration: %s\n%s", why, text);
	}
	assert_string_equal(cfg.state, "FRA");
	assert_string_equal(cfg.relay_name, "att-secretariat.divex/relay");
	assert_int_equal(cfg.relay_public_key[10], 0xaa);
	assert_non_null(strstr(cfg.relay_ca_file, "relay-cert.pem"));
	assert_non_null(strstr(cfg.passphrase_file, "/pass"));
	assert_int_equal(cfg.n_pocs, 1);
	assert_int_equal(cfg.pocs[0], 0);
	assert_int_equal(cfg.n_officers, 1);
	assert_int_equal(cfg.officers[0], getuid());
	assert_int_equal(cfg.n_admins, 0);
#endif

	/* No role option: the user running init administers the node. */
	snprintf(nh, sizeof(nh), "%s/init2", dir);
	const char *const plain[] = { "init",
				      "--state",
				      "MEX",
				      "--relay-url",
				      "tcp://127.0.0.1:7444",
				      "--relay-name",
				      "r",
				      "--relay-key",
				      RELAY_KEY,
				      "--passphrase-fd",
				      "0",
				      "--kdf",
				      "interactive",
				      "--json",
				      NULL };
	assert_int_equal(fake_run(nh, pass, fx_out, fx_err, plain), 0);
	json_t *j = out_json();
	json_t *roles = json_object_get(j, "roles");
	assert_int_equal(json_array_size(json_object_get(roles, "administrator")), 1);
	assert_string_equal(jstr(json_object_get(j, "files"), "config_file"),
			    test_path(nh, "divexd.conf"));
	json_decref(j);
	snprintf(conf, sizeof(conf), "%s/divexd.conf", nh);
	assert_null(strstr(fake_slurp(conf), "passphrase_file"));
	assert_null(strstr(fake_slurp(conf), "ca_file"));
#ifdef DIVEX_TEST_NODE_CONFIG
	rc = node_config_load(conf, &cfg, why);
	if (rc != DX_OK) {
		fail_msg("divexd refuses the configuration: %s\n%s", why, fake_slurp(conf));
	}
	assert_int_equal(cfg.n_admins, 1);
	assert_int_equal(cfg.admins[0], getuid());
#endif

	/* Refusals write nothing. */
	snprintf(nh, sizeof(nh), "%s/init3", dir);
	const char *const nocert[] = { "init",	      "--state",       "BFA",
				       "--relay-url", "tls+tcp://h:1", "--relay-name",
				       "r",	      "--relay-key",   RELAY_KEY,
				       NULL };
	assert_int_equal(fake_run(nh, NULL, fx_out, fx_err, nocert), 2);
	fake_contains(ERR(), "--relay-cert");
	const char *const badkey[] = { "init",	      "--state",     "BFA",
				       "--relay-url", "tcp://h:1",   "--relay-name",
				       "r",	      "--relay-key", "abcd",
				       NULL };
	assert_int_equal(fake_run(nh, NULL, fx_out, fx_err, badkey), 2);
	const char *const baduser[] = { "init",	     "--state",	     "BFA", "--relay-url",
					"tcp://h:1", "--relay-name", "r",   "--relay-key",
					RELAY_KEY,   "--officer",    "a b", NULL };
	assert_int_equal(fake_run(nh, NULL, fx_out, fx_err, baduser), 2);
	const char *const badstate[] = { "init",	"--state",     "fr",
					 "--relay-url", "tcp://h:1",   "--relay-name",
					 "r",		"--relay-key", RELAY_KEY,
					 NULL };
	assert_int_equal(fake_run(nh, NULL, fx_out, fx_err, badstate), 2);
	assert_int_not_equal(stat(nh, &st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* clang-format off */
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_no_daemon),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_inbox),
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_roster),
		cmocka_unit_test(test_outbox_receipts_verify_audit),
		cmocka_unit_test(test_init),
		/* clang-format on */
	};
	return cmocka_run_group_tests(tests, fake_setup, fake_teardown);
}
