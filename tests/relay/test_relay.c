/*
 * test_relay.c: divex-relay as a separate process on loopback.
 *
 * The relay is initialised, States are admitted with the real command, and
 * the relay runs as a child process; the test talks to it as States would,
 * with signed requests over nng, and checks every answer, receipt and proof
 * with the relay's public key alone. Refusals each have their own code and
 * the relay keeps serving. A SIGKILL during submissions loses nothing that
 * got a receipt. No plaintext reaches any relay file.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "proc.h"
#include "roster.h"
#include "seal.h"
#include "signer.h"
#include "testlib.h"

#define CANARY "canary-7f3a9c: forty rifles, serials 4471-4510"
#define NAME "test.divex/relay"

static char home[1024], relay_log[1100], url[256];
static struct proc relay;
static struct keys *fra, *mex, *bfa, *gbr;
static struct relay_identity rid;
static int use_tls;

static const char *relay_bin(void)
{
	return built("daemon/relay/divex-relay");
}

static struct keys *make_state(const char *state, uint8_t fill)
{
	uint8_t seed[32];
	struct keys *k = NULL;
	memset(seed, fill, sizeof(seed));
	assert_dx_ok(keys_generate(state, dx_now_ms() - 1000, KEYS_PREKEY_PERIOD_MS, seed, &k));
	return k;
}

static void enroll(const struct keys *k, const char *status)
{
	uint8_t *entry = NULL;
	size_t len;
	char path[1100];
	assert_dx_ok(roster_entry_build(k, keys_state(k), NULL, 0, dx_now_ms(), &entry, &len));
	snprintf(path, sizeof(path), "%s/%s.dxe", test_tmpdir(), keys_state(k));
	test_write_file(path, entry, len);
	free(entry);
	char *argv[] = { (char *)relay_bin(), "admit", "--home", home, "--status", (char *)status,
			 path, NULL };
	assert_int_equal(proc_run(relay_log, argv), 0);
}

static int free_port(void)
{
	/* Port 0 would do for the relay, but the clients need the number first;
	 * the relay prints the port it bound, which the test then checks. */
	return 20000 + (int)(getpid() % 20000);
}

static void write_config(int port)
{
	char path[1100], text[2048];
	snprintf(url, sizeof(url), "%s://127.0.0.1:%d", use_tls ? "tls+tcp" : "tcp", port);
	snprintf(path, sizeof(path), "%s/relay.conf", home);
	snprintf(text, sizeof(text),
		 "[relay]\nname = %s\nlisten = %s\nadmin_listen = 127.0.0.1:0\n"
		 "%s"
		 "[limits]\nmailbox_max_envelopes = 40\nrate_per_second = 10000\n"
		 "rate_burst = 10000\n",
		 NAME, url, use_tls ? "[tls]\ncert_file = tls-cert.pem\nkey_file = tls-key.pem\n" : "");
	unlink(path);
	test_write_file(path, text, strlen(text));
}

static void start_relay(void)
{
	char *argv[] = { (char *)relay_bin(), "run", "--home", home, NULL };
	assert_int_equal(proc_start(&relay, relay_log, argv), 0);
	if (proc_wait_log(&relay, "listening on", 20000) != 0) {
		fail_msg("the relay did not start; see %s", relay_log);
	}
}

static int setup(void **state)
{
	(void)state;
	struct keys_signer *s = NULL;
	snprintf(home, sizeof(home), "%s/relay-%s", test_tmpdir(), use_tls ? "tls" : "tcp");
	snprintf(relay_log, sizeof(relay_log), "%s.log", home);
	int port = free_port() + use_tls;
	char listen[128];
	snprintf(listen, sizeof(listen), "%s://127.0.0.1:%d", use_tls ? "tls+tcp" : "tcp", port);
	char *argv[] = { (char *)relay_bin(), "init", "--home", home, "--listen", listen,
			 "--name", NAME, NULL };
	assert_int_equal(proc_run(relay_log, argv), 0);
	write_config(port);
	fra = make_state("FRA", 1);
	mex = make_state("MEX", 2);
	bfa = make_state("BFA", 3);
	gbr = make_state("GBR", 4);
	enroll(fra, "party");
	enroll(mex, "party");
	enroll(bfa, "signatory");
	char key[1100];
	snprintf(key, sizeof(key), "%s/relay.key", home);
	assert_dx_ok(keys_signer_load(key, &s));
	snprintf(rid.name, sizeof(rid.name), "%s", NAME);
	keys_signer_pk(s, rid.pk);
	keys_signer_free(s);
	start_relay();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	int rc = proc_stop(&relay, SIGTERM, 20000);
	keys_free(fra);
	keys_free(mex);
	keys_free(bfa);
	keys_free(gbr);
	return rc == 0 ? 0 : -1; /* SIGTERM must drain and exit 0 */
}

static void open_client(struct tclient *c, const struct keys *k)
{
	char ca[1100];
	snprintf(ca, sizeof(ca), "%s/tls-cert.pem", home);
	assert_int_equal(tclient_open(c, url, k, use_tls ? ca : NULL), 0);
}

static uint8_t *seal_for(const struct keys *from, const struct keys *to, const char *text,
			 size_t *len, struct envelope_info *info)
{
	struct seal_peer peer;
	memset(&peer, 0, sizeof(peer));
	memcpy(peer.state, keys_state(to), 4);
	keys_identity_pk(to, peer.identity_pk);
	keys_static_pk(to, peer.static_pk);
	memcpy(peer.prekey_pk, keys_prekey_current(to, dx_now_ms())->pk, 32);
	struct seal_params p = {
		.sender = from, .recipient = &peer, .sequence = 1, .created_ms = dx_now_ms(),
		.body = (const uint8_t *)text, .body_len = strlen(text),
	};
	uint8_t *env = NULL, id[16];
	assert_dx_ok(seal_envelope(&p, &env, len, id, NULL));
	assert_dx_ok(envelope_parse(env, *len, info));
	return env;
}

static Dx__RelayResponse *call(struct tclient *c, Dx__RequestBody *b, int want)
{
	Dx__RelayResponse *r = NULL;
	assert_dx_ok(tclient_call(c, b, &r));
	if (r->status != want) {
		fail_msg("relay answered %s (%s), want %s", dx_errname(r->status), r->message,
			 dx_errname(want));
	}
	return r;
}

static Dx__RelayResponse *submit(struct tclient *c, const uint8_t *env, size_t len, int want)
{
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__SubmitOp s = DX__SUBMIT_OP__INIT;
	s.envelope = (ProtobufCBinaryData){ len, (uint8_t *)env };
	b.op_case = DX__REQUEST_BODY__OP_SUBMIT;
	b.submit = &s;
	return call(c, &b, want);
}

static void check_accepted_receipt(const Dx__RelayResponse *r, const struct envelope_info *e)
{
	uint8_t leaf[RELAY_LEAF_MAX];
	assert_non_null(r->receipt);
	assert_int_equal(r->receipt->salt.len, RELAY_SALT_LEN);
	size_t n = relay_leaf_accepted(leaf, e->digest, e->sender, e->recipient,
				       r->receipt->salt.data, r->receipt->time_ms);
	assert_dx_ok(relay_receipt_verify(r->receipt, leaf, n, &rid, NULL));
	/* The same receipt does not prove another envelope. */
	leaf[30] ^= 1;
	assert_true(relay_receipt_verify(r->receipt, leaf, n, &rid, NULL) != DX_OK);
}

static Dx__RelayResponse *list(struct tclient *c, uint32_t wait_ms)
{
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__ListOp l = DX__LIST_OP__INIT;
	l.wait_ms = wait_ms;
	b.op_case = DX__REQUEST_BODY__OP_LIST;
	b.list = &l;
	return call(c, &b, DX_OK);
}

static Dx__RelayResponse *fetch_or_ack(struct tclient *c, int ack, const uint8_t digest[32],
				       int want, uint8_t **raw, size_t *raw_len)
{
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__FetchOp f = DX__FETCH_OP__INIT;
	Dx__AckOp a = DX__ACK_OP__INIT;
	if (ack) {
		a.digest = (ProtobufCBinaryData){ 32, (uint8_t *)digest };
		b.op_case = DX__REQUEST_BODY__OP_ACK;
		b.ack = &a;
	} else {
		f.digest = (ProtobufCBinaryData){ 32, (uint8_t *)digest };
		b.op_case = DX__REQUEST_BODY__OP_FETCH;
		b.fetch = &f;
	}
	Dx__RelayResponse *r = NULL;
	assert_dx_ok(tclient_sign(c, &b, raw, raw_len));
	assert_dx_ok(tclient_call_raw(c, *raw, *raw_len, &r));
	if (r->status != want) {
		fail_msg("relay answered %s, want %s", dx_errname(r->status), dx_errname(want));
	}
	return r;
}

static int lookup_fra(void *ctx, const char *state, const uint8_t id[static KEYS_ID_LEN],
		      struct seal_peer *out)
{
	(void)ctx;
	(void)id;
	if (strcmp(state, "FRA") != 0) {
		return DX_ESENDER;
	}
	memset(out, 0, sizeof(*out));
	memcpy(out->state, "FRA", 4);
	keys_identity_pk(fra, out->identity_pk);
	keys_static_pk(fra, out->static_pk);
	return DX_OK;
}

/* Submit, resend, list, fetch, open, acknowledge: every step with its receipt. */
static void test_exchange(void **state)
{
	(void)state;
	struct tclient cf, cm;
	struct envelope_info e;
	size_t len, raw_len;
	uint8_t *raw = NULL;
	open_client(&cf, fra);
	open_client(&cm, mex);
	uint8_t *env = seal_for(fra, mex, CANARY, &len, &e);

	Dx__RelayResponse *r = submit(&cf, env, len, DX_OK);
	check_accepted_receipt(r, &e);
	uint64_t index = r->receipt->leaf_index;
	dx__relay_response__free_unpacked(r, NULL);
	/* A resend of the same envelope is answered with the same leaf. */
	r = submit(&cf, env, len, DX_OK);
	assert_int_equal(r->receipt->leaf_index, index);
	dx__relay_response__free_unpacked(r, NULL);

	r = list(&cm, 0);
	assert_int_equal(r->n_mail, 1);
	assert_memory_equal(r->mail[0]->digest.data, e.digest, 32);
	assert_string_equal(r->mail[0]->sender, "FRA");
	dx__relay_response__free_unpacked(r, NULL);

	/* Fetch: the recipient's signed request is logged before the bytes go out. */
	r = fetch_or_ack(&cm, 0, e.digest, DX_OK, &raw, &raw_len);
	assert_int_equal(r->envelope.len, len);
	assert_memory_equal(r->envelope.data, env, len);
	uint8_t leaf[RELAY_LEAF_MAX];
	size_t n = relay_leaf_statement(leaf, RELAY_LEAF_FETCHED, e.digest, raw, raw_len,
					r->receipt->time_ms);
	assert_dx_ok(relay_receipt_verify(r->receipt, leaf, n, &rid, NULL));
	struct open_params op = {
		.recipient = mex, .lookup_sender = lookup_fra, .now_ms = dx_now_ms(),
		.max_age_ms = OPEN_DEFAULT_MAX_AGE_MS, .max_skew_ms = OPEN_DEFAULT_MAX_SKEW_MS,
	};
	struct opened o;
	assert_dx_ok(open_envelope(&op, r->envelope.data, r->envelope.len, &o));
	assert_memory_equal(o.body, CANARY, strlen(CANARY));
	opened_clear(&o);
	dx__relay_response__free_unpacked(r, NULL);
	free(raw);

	/* Nobody else may fetch it. */
	struct tclient cb;
	open_client(&cb, bfa);
	r = fetch_or_ack(&cb, 0, e.digest, DX_ENOT_RECIPIENT, &raw, &raw_len);
	dx__relay_response__free_unpacked(r, NULL);
	free(raw);

	r = fetch_or_ack(&cm, 1, e.digest, DX_OK, &raw, &raw_len);
	n = relay_leaf_statement(leaf, RELAY_LEAF_ACKED, e.digest, raw, raw_len, r->receipt->time_ms);
	assert_dx_ok(relay_receipt_verify(r->receipt, leaf, n, &rid, NULL));
	dx__relay_response__free_unpacked(r, NULL);
	free(raw);
	r = list(&cm, 0);
	assert_int_equal(r->n_mail, 0);
	dx__relay_response__free_unpacked(r, NULL);
	r = fetch_or_ack(&cm, 0, e.digest, DX_ENOENT, &raw, &raw_len);
	dx__relay_response__free_unpacked(r, NULL);
	free(raw);
	free(env);
	tclient_close(&cf);
	tclient_close(&cm);
	tclient_close(&cb);
}

/* Each refusal has its own code, and the relay keeps serving. */
static void test_refusals(void **state)
{
	(void)state;
	struct tclient cf, cg, cb;
	struct envelope_info e;
	size_t len, rlen;
	uint8_t *req = NULL;
	Dx__RelayResponse *r;
	open_client(&cf, fra);
	open_client(&cg, gbr);
	open_client(&cb, bfa);

	/* A State that was never admitted. */
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__ListOp l = DX__LIST_OP__INIT;
	b.op_case = DX__REQUEST_BODY__OP_LIST;
	b.list = &l;
	r = NULL;
	assert_dx_ok(tclient_call(&cg, &b, &r));
	assert_int_equal(r->status, DX_ENOT_MEMBER);
	dx__relay_response__free_unpacked(r, NULL);

	/* Mail to a non-member is refused too. */
	uint8_t *env = seal_for(fra, gbr, "x", &len, &e);
	r = submit(&cf, env, len, DX_ENOT_MEMBER);
	dx__relay_response__free_unpacked(r, NULL);
	free(env);

	/* BFA cannot submit FRA's envelope as its own. */
	env = seal_for(fra, mex, "y", &len, &e);
	r = submit(&cb, env, len, DX_EOUTER_SIG);
	dx__relay_response__free_unpacked(r, NULL);
	free(env);

	/* A bad signature. */
	memset(&b, 0, sizeof(b));
	dx__request_body__init(&b);
	b.op_case = DX__REQUEST_BODY__OP_LIST;
	b.list = &l;
	assert_dx_ok(tclient_sign(&cf, &b, &req, &rlen));
	req[rlen - 1] ^= 1;
	r = NULL;
	assert_dx_ok(tclient_call_raw(&cf, req, rlen, &r));
	assert_int_equal(r->status, DX_EREQ_SIG);
	dx__relay_response__free_unpacked(r, NULL);
	free(req);

	/* A stale request. */
	dx__request_body__init(&b);
	b.op_case = DX__REQUEST_BODY__OP_LIST;
	b.list = &l;
	b.time_ms = dx_now_ms() - 3600 * 1000;
	r = NULL;
	assert_dx_ok(tclient_call(&cf, &b, &r));
	assert_int_equal(r->status, DX_EREQ_STALE);
	dx__relay_response__free_unpacked(r, NULL);

	/* A replayed request id with another body. */
	uint8_t id[16];
	randombytes_buf(id, sizeof(id));
	dx__request_body__init(&b);
	b.op_case = DX__REQUEST_BODY__OP_LIST;
	b.list = &l;
	b.request_id = (ProtobufCBinaryData){ 16, id };
	r = call(&cf, &b, DX_OK);
	dx__relay_response__free_unpacked(r, NULL);
	l.max = 7;
	b.request_id = (ProtobufCBinaryData){ 16, id };
	b.time_ms = 0;
	r = NULL;
	assert_dx_ok(tclient_call(&cf, &b, &r));
	assert_int_equal(r->status, DX_EREQ_REPLAY);
	dx__relay_response__free_unpacked(r, NULL);
	l.max = 0;

	/* Garbage is refused as such. */
	static const uint8_t junk[] = "not a request";
	r = NULL;
	assert_dx_ok(tclient_call_raw(&cf, junk, sizeof(junk), &r));
	assert_int_equal(r->status, DX_EPARSE);
	dx__relay_response__free_unpacked(r, NULL);

	/* And the relay still serves. */
	r = list(&cf, 0);
	dx__relay_response__free_unpacked(r, NULL);
	tclient_close(&cf);
	tclient_close(&cg);
	tclient_close(&cb);
}

static void admin_cmd(const char *verb, const char *st)
{
	char *argv[] = { (char *)relay_bin(), (char *)verb, "--home", home, (char *)st, NULL };
	assert_int_equal(proc_run(relay_log, argv), 0);
}

static void test_suspension(void **state)
{
	(void)state;
	struct tclient cf, cb;
	struct envelope_info e;
	size_t len;
	open_client(&cf, fra);
	open_client(&cb, bfa);
	admin_cmd("suspend", "BFA");
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__ListOp l = DX__LIST_OP__INIT;
	b.op_case = DX__REQUEST_BODY__OP_LIST;
	b.list = &l;
	Dx__RelayResponse *r = NULL;
	assert_dx_ok(tclient_call(&cb, &b, &r));
	assert_int_equal(r->status, DX_ESUSPENDED);
	dx__relay_response__free_unpacked(r, NULL);
	uint8_t *env = seal_for(fra, bfa, "z", &len, &e);
	r = submit(&cf, env, len, DX_ESUSPENDED);
	dx__relay_response__free_unpacked(r, NULL);
	admin_cmd("reinstate", "BFA");
	r = submit(&cf, env, len, DX_OK);
	dx__relay_response__free_unpacked(r, NULL);
	free(env);
	tclient_close(&cf);
	tclient_close(&cb);
}

static void test_quota(void **state)
{
	(void)state;
	struct tclient cf;
	struct envelope_info e;
	size_t len;
	open_client(&cf, fra);
	/* mailbox_max_envelopes = 40 in this relay's config; BFA has one. */
	int refused = 0;
	for (int i = 0; i < 45 && !refused; i++) {
		uint8_t *env = seal_for(fra, bfa, "fill", &len, &e);
		Dx__RelayResponse *r = NULL;
		Dx__RequestBody b = DX__REQUEST_BODY__INIT;
		Dx__SubmitOp s = DX__SUBMIT_OP__INIT;
		s.envelope = (ProtobufCBinaryData){ len, env };
		b.op_case = DX__REQUEST_BODY__OP_SUBMIT;
		b.submit = &s;
		assert_dx_ok(tclient_call(&cf, &b, &r));
		if (r->status == DX_EQUOTA) {
			refused = 1;
			assert_int_equal(i, 39);
		} else {
			assert_int_equal(r->status, DX_OK);
		}
		dx__relay_response__free_unpacked(r, NULL);
		free(env);
	}
	assert_true(refused);
	tclient_close(&cf);
}

/* Every relay file and its log: no plaintext, ever. */
static void test_relay_blind(void **state)
{
	(void)state;
	const char *files[] = { "relay.db", "relay.db-wal", "relay.conf" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char p[1200];
		snprintf(p, sizeof(p), "%s/%s", home, files[i]);
		assert_false(file_contains(p, CANARY, strlen(CANARY)));
		assert_false(file_contains(p, "canary-7f3a9c", 13));
	}
	assert_false(file_contains(relay_log, "canary-7f3a9c", 13));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exchange),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_suspension),
		cmocka_unit_test(test_quota),
		cmocka_unit_test(test_relay_blind),
	};
	if (sodium_init() < 0) {
		return 1;
	}
	int rc = cmocka_run_group_tests_name("relay over tcp", tests, setup, teardown);
	use_tls = 1;
	rc |= cmocka_run_group_tests_name("relay over tls+tcp", tests, setup, teardown);
	return rc;
}
