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

#include "harness.h"
#include "roster.h"
#include "testlib.h"

/* Submit, resend, list, fetch, open, acknowledge: every step with its receipt. */
static void test_exchange(void **state)
{
	(void)state;
	struct tclient cf, cm;
	struct envelope_info e;
	size_t len, raw_len;
	uint8_t *raw = NULL;
	rh_open_client(&cf, H.fra);
	rh_open_client(&cm, H.mex);
	uint8_t *env = rh_seal_for(H.fra, H.mex, CANARY, &len, &e);

	Dx__RelayResponse *r = rh_submit(&cf, env, len, DX_OK);
	rh_check_accepted_receipt(r, &e);
	uint64_t index = r->receipt->leaf_index;
	dx__relay_response__free_unpacked(r, NULL);
	/* A resend of the same envelope is answered with the same leaf. */
	r = rh_submit(&cf, env, len, DX_OK);
	assert_int_equal(r->receipt->leaf_index, index);
	dx__relay_response__free_unpacked(r, NULL);

	r = rh_list(&cm, 0);
	assert_int_equal(r->n_mail, 1);
	assert_memory_equal(r->mail[0]->digest.data, e.digest, 32);
	assert_string_equal(r->mail[0]->sender, "FRA");
	dx__relay_response__free_unpacked(r, NULL);

	/* Fetch: the recipient's signed request is logged before the bytes go out. */
	r = rh_fetch_or_ack(&cm, 0, e.digest, DX_OK, &raw, &raw_len);
	assert_int_equal(r->envelope.len, len);
	assert_memory_equal(r->envelope.data, env, len);
	uint8_t leaf[RELAY_LEAF_MAX];
	size_t n = relay_leaf_statement(leaf, RELAY_LEAF_FETCHED, e.digest, raw, raw_len,
					r->receipt->time_ms);
	assert_dx_ok(relay_receipt_verify(r->receipt, leaf, n, &H.rid, NULL));
	struct open_params op = {
		.recipient = H.mex, .lookup_sender = rh_lookup_fra, .now_ms = dx_now_ms(),
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
	rh_open_client(&cb, H.bfa);
	r = rh_fetch_or_ack(&cb, 0, e.digest, DX_ENOT_RECIPIENT, &raw, &raw_len);
	dx__relay_response__free_unpacked(r, NULL);
	free(raw);

	r = rh_fetch_or_ack(&cm, 1, e.digest, DX_OK, &raw, &raw_len);
	n = relay_leaf_statement(leaf, RELAY_LEAF_ACKED, e.digest, raw, raw_len, r->receipt->time_ms);
	assert_dx_ok(relay_receipt_verify(r->receipt, leaf, n, &H.rid, NULL));
	dx__relay_response__free_unpacked(r, NULL);
	free(raw);
	r = rh_list(&cm, 0);
	assert_int_equal(r->n_mail, 0);
	dx__relay_response__free_unpacked(r, NULL);
	r = rh_fetch_or_ack(&cm, 0, e.digest, DX_ENOENT, &raw, &raw_len);
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
	rh_open_client(&cf, H.fra);
	rh_open_client(&cg, H.gbr);
	rh_open_client(&cb, H.bfa);

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
	uint8_t *env = rh_seal_for(H.fra, H.gbr, "x", &len, &e);
	r = rh_submit(&cf, env, len, DX_ENOT_MEMBER);
	dx__relay_response__free_unpacked(r, NULL);
	free(env);

	/* BFA cannot submit FRA's envelope as its own. */
	env = rh_seal_for(H.fra, H.mex, "y", &len, &e);
	r = rh_submit(&cb, env, len, DX_EOUTER_SIG);
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
	r = rh_call(&cf, &b, DX_OK);
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
	r = rh_list(&cf, 0);
	dx__relay_response__free_unpacked(r, NULL);
	tclient_close(&cf);
	tclient_close(&cg);
	tclient_close(&cb);
}

static void test_suspension(void **state)
{
	(void)state;
	struct tclient cf, cb;
	struct envelope_info e;
	size_t len;
	rh_open_client(&cf, H.fra);
	rh_open_client(&cb, H.bfa);
	rh_admin_cmd("suspend", "BFA");
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__ListOp l = DX__LIST_OP__INIT;
	b.op_case = DX__REQUEST_BODY__OP_LIST;
	b.list = &l;
	Dx__RelayResponse *r = NULL;
	assert_dx_ok(tclient_call(&cb, &b, &r));
	assert_int_equal(r->status, DX_ESUSPENDED);
	dx__relay_response__free_unpacked(r, NULL);
	uint8_t *env = rh_seal_for(H.fra, H.bfa, "z", &len, &e);
	r = rh_submit(&cf, env, len, DX_ESUSPENDED);
	dx__relay_response__free_unpacked(r, NULL);
	rh_admin_cmd("reinstate", "BFA");
	r = rh_submit(&cf, env, len, DX_OK);
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
	rh_open_client(&cf, H.fra);
	/* mailbox_max_envelopes = 40 in this relay's config; BFA has one. */
	int refused = 0;
	for (int i = 0; i < 45 && !refused; i++) {
		uint8_t *env = rh_seal_for(H.fra, H.bfa, "fill", &len, &e);
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

	/* The quota is counted, not read from the mailbox: an acknowledgement
	 * makes room for exactly one more, a second acknowledgement of the
	 * same envelope makes none, and a restart counts the same. */
	struct tclient cb;
	uint8_t *raw = NULL;
	size_t raw_len = 0;
	rh_open_client(&cb, H.bfa);
	Dx__RelayResponse *l = rh_list(&cb, 0);
	assert_true(l->n_mail >= 1);
	uint8_t digest[32];
	memcpy(digest, l->mail[0]->digest.data, 32);
	dx__relay_response__free_unpacked(l, NULL);
	for (int ack = 0; ack < 2; ack++) {
		Dx__RelayResponse *a = rh_fetch_or_ack(&cb, 1, digest, DX_OK, &raw, &raw_len);
		dx__relay_response__free_unpacked(a, NULL);
		free(raw);
		raw = NULL;
	}
	tclient_close(&cb);
	const char *want[] = { "room", "over" };
	for (int i = 0; i < 2; i++) {
		uint8_t *env = rh_seal_for(H.fra, H.bfa, want[i], &len, &e);
		Dx__RelayResponse *r = rh_submit(&cf, env, len, i == 0 ? DX_OK : DX_EQUOTA);
		dx__relay_response__free_unpacked(r, NULL);
		free(env);
	}
	tclient_close(&cf);
	assert_int_equal(proc_stop(&H.relay, SIGTERM, 20000), 0);
	rh_start_relay();
	rh_open_client(&cf, H.fra);
	uint8_t *env = rh_seal_for(H.fra, H.bfa, "after restart", &len, &e);
	Dx__RelayResponse *r = rh_submit(&cf, env, len, DX_EQUOTA);
	dx__relay_response__free_unpacked(r, NULL);
	free(env);
	tclient_close(&cf);
}

/* A State publishes a newer entry of its own (new prekeys); the receipt proves the roster leaf. */
static void test_publish(void **state)
{
	(void)state;
	struct tclient cf;
	uint8_t *entry = NULL;
	size_t len;
	rh_open_client(&cf, H.fra);
	assert_dx_ok(keys_rotate_prekey(H.fra, dx_now_ms(), KEYS_PREKEY_PERIOD_MS));
	assert_dx_ok(roster_entry_build(H.fra, "France", NULL, 0, dx_now_ms() + 1, &entry, &len));
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__PublishOp p = DX__PUBLISH_OP__INIT;
	p.signed_entry = (ProtobufCBinaryData){ len, entry };
	b.op_case = DX__REQUEST_BODY__OP_PUBLISH;
	b.publish = &p;
	Dx__RelayResponse *r = rh_call(&cf, &b, DX_OK);
	uint8_t leaf[RELAY_LEAF_MAX];
	size_t n = relay_leaf_roster(leaf, "FRA", RELAY_STATUS_PARTY, entry, len, r->receipt->time_ms);
	assert_dx_ok(relay_receipt_verify(r->receipt, leaf, n, &H.rid, NULL));
	uint64_t leaf_index = r->receipt->leaf_index, leaf_time = r->receipt->time_ms;
	dx__relay_response__free_unpacked(r, NULL);
	/* The same entry again (a resend, or a new request with the same
	 * bytes) changes nothing and gets the receipt of the same leaf. */
	b.time_ms = 0;
	r = rh_call(&cf, &b, DX_OK);
	assert_int_equal(r->receipt->leaf_index, leaf_index);
	assert_int_equal(r->receipt->time_ms, leaf_time);
	assert_dx_ok(relay_receipt_verify(r->receipt, leaf, n, &H.rid, NULL));
	dx__relay_response__free_unpacked(r, NULL);
	/* Another entry no newer than the current one is refused. */
	uint8_t *older = NULL;
	size_t older_len;
	assert_dx_ok(roster_entry_build(H.fra, "France", NULL, 0, 1, &older, &older_len));
	p.signed_entry = (ProtobufCBinaryData){ older_len, older };
	b.time_ms = 0;
	r = rh_call(&cf, &b, DX_EDUPLICATE_ENTRY);
	dx__relay_response__free_unpacked(r, NULL);
	free(older);
	/* Another State's entry cannot be published in FRA's name. */
	uint8_t *other = NULL;
	size_t olen;
	assert_dx_ok(roster_entry_build(H.mex, "Mexico", NULL, 0, dx_now_ms() + 2, &other, &olen));
	p.signed_entry = (ProtobufCBinaryData){ olen, other };
	b.time_ms = 0;
	r = rh_call(&cf, &b, DX_EROSTER);
	dx__relay_response__free_unpacked(r, NULL);
	free(other);
	free(entry);
	tclient_close(&cf);
}

/* Every relay file and its log: no plaintext, ever. */
static void test_relay_blind(void **state)
{
	(void)state;
	const char *files[] = { "relay.db", "relay.db-wal", "relay.conf" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char p[1200];
		snprintf(p, sizeof(p), "%s/%s", H.home, files[i]);
		assert_false(file_contains(p, CANARY, strlen(CANARY)));
		assert_false(file_contains(p, "canary-7f3a9c", 13));
	}
	assert_false(file_contains(H.relay_log, "canary-7f3a9c", 13));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exchange),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_suspension),
		cmocka_unit_test(test_quota),
		cmocka_unit_test(test_publish),
		cmocka_unit_test(test_relay_blind),
	};
	if (sodium_init() < 0) {
		return 1;
	}
	int rc = cmocka_run_group_tests_name("relay over tcp", tests, rh_setup, rh_teardown);
	H.use_tls = 1;
	rc |= cmocka_run_group_tests_name("relay over tls+tcp", tests, rh_setup, rh_teardown);
	return rc;
}
