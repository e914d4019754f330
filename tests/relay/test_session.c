/*
 * test_session.c: request sessions (PROTOCOL.md 12.2) against a divex-relay
 * child process.
 *
 * The handshake is done here by hand from the protocol's definitions (the
 * transcript, the relay's signature, the key), independently of the node's
 * client, and MACed requests are built with relay_wire. Every way of
 * misusing a session must fail with its own code while the relay keeps
 * serving: a wrong or moved MAC, an unknown, evicted or forgotten session,
 * another State's session, a MAC on the requests that must be signed, a
 * suspended member. The node's client then uses sessions by itself and
 * survives a relay restart without the caller seeing anything.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "rc_fixture.h"

struct tsess {
	uint8_t id[RELAY_SESSION_ID_LEN];
	uint8_t key[RELAY_SESSION_KEY_LEN];
};

static int handshake_pk(struct tclient *c, const uint8_t client_pk[32], const uint8_t sk[32],
			struct tsess *s)
{
	Dx__SessionOp so = DX__SESSION_OP__INIT;
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__RelayResponse *r = NULL;
	uint8_t *req = NULL, rh[32], transcript[32], stmt[RELAY_SESSION_STATEMENT_MAX];
	size_t len;
	so.client_pk = (ProtobufCBinaryData){ 32, (uint8_t *)client_pk };
	b.op_case = DX__REQUEST_BODY__OP_SESSION;
	b.session = &so;
	assert_dx_ok(tclient_sign(c, &b, &req, &len));
	assert_dx_ok(tclient_call_raw(c, req, len, &r));
	int rc = r->status;
	if (rc == DX_OK) {
		const Dx__SessionAnswer *a = r->session;
		assert_non_null(a);
		assert_int_equal(a->session_id.len, RELAY_SESSION_ID_LEN);
		assert_int_equal(a->relay_pk.len, 32);
		assert_int_equal(a->signature.len, 64);
		assert_int_equal(a->lifetime_ms, 3600 * 1000);
		relay_request_hash(rh, req, len);
		relay_session_transcript(transcript, rh, a->relay_pk.data, a->session_id.data,
					 a->lifetime_ms);
		size_t n = relay_session_statement(stmt, transcript);
		assert_int_equal(crypto_sign_verify_detached(a->signature.data, stmt, n, H.rid.pk), 0);
		assert_dx_ok(relay_session_key(s->key, sk, a->relay_pk.data, transcript));
		memcpy(s->id, a->session_id.data, RELAY_SESSION_ID_LEN);
	}
	dx__relay_response__free_unpacked(r, NULL);
	free(req);
	return rc;
}

static void handshake(struct tclient *c, struct tsess *s)
{
	uint8_t sk[32], pk[32];
	randombytes_buf(sk, sizeof(sk));
	crypto_scalarmult_base(pk, sk);
	assert_dx_ok(handshake_pk(c, pk, sk, s));
}

/* FRA and MEX, each with a session of its own. */
static void open_pair(struct tclient *cf, struct tsess *sf, struct tclient *cm, struct tsess *sm)
{
	rh_open_client(cf, H.fra);
	rh_open_client(cm, H.mex);
	handshake(cf, sf);
	handshake(cm, sm);
}

/* body as c's State, MACed under s; *raw (may be NULL) keeps the request. */
static Dx__RelayResponse *mac_call(struct tclient *c, const struct tsess *s, Dx__RequestBody *b,
				   int want, uint8_t **raw, size_t *raw_len)
{
	uint8_t id[RELAY_REQUEST_ID_LEN], *bytes = NULL, *req = NULL;
	size_t blen, len;
	Dx__RelayResponse *r = NULL;
	assert_dx_ok(relay_request_pack(keys_state(c->k), b, id, &bytes, &blen));
	assert_dx_ok(relay_request_wrap_mac(s->id, s->key, bytes, blen, &req, &len));
	assert_dx_ok(tclient_call_raw(c, req, len, &r));
	if (r->status != want) {
		fail_msg("relay answered %s, want %s", dx_errname(r->status), dx_errname(want));
	}
	free(bytes);
	if (raw != NULL) {
		*raw = req;
		*raw_len = len;
	} else {
		free(req);
	}
	return r;
}

static void mac_checkpoint(struct tclient *c, const struct tsess *s, int want)
{
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__CheckpointOp cp = DX__CHECKPOINT_OP__INIT;
	b.op_case = DX__REQUEST_BODY__OP_GET_CHECKPOINT;
	b.get_checkpoint = &cp;
	dx__relay_response__free_unpacked(mac_call(c, s, &b, want, NULL, NULL), NULL);
}

static Dx__RelayResponse *mac_submit(struct tclient *c, const struct tsess *s, const uint8_t *env,
				     size_t len, int want)
{
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__SubmitOp sub = DX__SUBMIT_OP__INIT;
	sub.envelope = (ProtobufCBinaryData){ len, (uint8_t *)env };
	b.op_case = DX__REQUEST_BODY__OP_SUBMIT;
	b.submit = &sub;
	return mac_call(c, s, &b, want, NULL, NULL);
}

/* A session carries a submission, a list and a resend; its receipt proves it. */
static void test_session_exchange(void **state)
{
	(void)state;
	struct tclient cf, cm;
	struct tsess sf, sm;
	struct envelope_info e;
	size_t len, raw_len;
	uint8_t *raw = NULL;
	open_pair(&cf, &sf, &cm, &sm);
	uint8_t *env = rh_seal_for(H.fra, H.mex, CANARY, &len, &e);
	Dx__RelayResponse *r = mac_submit(&cf, &sf, env, len, DX_OK);
	rh_check_accepted_receipt(r, &e);
	uint64_t index = r->receipt->leaf_index;
	dx__relay_response__free_unpacked(r, NULL);

	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__ListOp l = DX__LIST_OP__INIT;
	b.op_case = DX__REQUEST_BODY__OP_LIST;
	b.list = &l;
	r = mac_call(&cm, &sm, &b, DX_OK, &raw, &raw_len);
	assert_int_equal(r->n_mail, 1);
	assert_memory_equal(r->mail[0]->digest.data, e.digest, 32);
	dx__relay_response__free_unpacked(r, NULL);
	/* The same MACed bytes again are a resend, answered again. */
	assert_dx_ok(tclient_call_raw(&cm, raw, raw_len, &r));
	assert_int_equal(r->status, DX_OK);
	assert_int_equal(r->n_mail, 1);
	dx__relay_response__free_unpacked(r, NULL);
	free(raw);

	/* A resent submission under the session gets its leaf again. */
	r = mac_submit(&cf, &sf, env, len, DX_OK);
	assert_int_equal(r->receipt->leaf_index, index);
	dx__relay_response__free_unpacked(r, NULL);
	free(env);
	tclient_close(&cf);
	tclient_close(&cm);
}

/* Every misuse is refused, with nothing carried out. */
static void test_session_refusals(void **state)
{
	(void)state;
	struct tclient cf, cm;
	struct tsess sf, sm, bad;
	struct envelope_info e;
	size_t len, raw_len;
	uint8_t *raw = NULL;
	open_pair(&cf, &sf, &cm, &sm);

	/* A wrong key. */
	bad = sf;
	bad.key[0] ^= 1;
	mac_checkpoint(&cf, &bad, DX_EREQ_SIG);
	/* A session the relay never agreed. */
	randombytes_buf(bad.id, sizeof(bad.id));
	mac_checkpoint(&cf, &bad, DX_ESESSION);
	/* FRA's session and key, in a request in MEX's name. */
	mac_checkpoint(&cm, &sf, DX_ESESSION);
	/* The recipient's evidence and the handshake must be signed. */
	uint8_t *env = rh_seal_for(H.fra, H.mex, "must be signed", &len, &e);
	Dx__RelayResponse *r = mac_submit(&cf, &sf, env, len, DX_OK);
	dx__relay_response__free_unpacked(r, NULL);
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__FetchOp f = DX__FETCH_OP__INIT;
	Dx__AckOp a = DX__ACK_OP__INIT;
	f.digest = (ProtobufCBinaryData){ 32, e.digest };
	b.op_case = DX__REQUEST_BODY__OP_FETCH;
	b.fetch = &f;
	dx__relay_response__free_unpacked(mac_call(&cm, &sm, &b, DX_EREQ_SIG, NULL, NULL), NULL);
	a.digest = (ProtobufCBinaryData){ 32, e.digest };
	b = (Dx__RequestBody)DX__REQUEST_BODY__INIT;
	b.op_case = DX__REQUEST_BODY__OP_ACK;
	b.ack = &a;
	dx__relay_response__free_unpacked(mac_call(&cm, &sm, &b, DX_EREQ_SIG, NULL, NULL), NULL);
	uint8_t pk[32];
	randombytes_buf(pk, sizeof(pk));
	Dx__SessionOp so = DX__SESSION_OP__INIT;
	so.client_pk = (ProtobufCBinaryData){ 32, pk };
	b = (Dx__RequestBody)DX__REQUEST_BODY__INIT;
	b.op_case = DX__REQUEST_BODY__OP_SESSION;
	b.session = &so;
	dx__relay_response__free_unpacked(mac_call(&cf, &sf, &b, DX_EREQ_SIG, NULL, NULL), NULL);
	/* Nothing was released: the envelope is still waiting, unfetched. */
	r = rh_fetch_or_ack(&cm, 0, e.digest, DX_OK, &raw, &raw_len);
	dx__relay_response__free_unpacked(r, NULL);
	free(raw);

	/* A MAC moved onto another body. */
	Dx__CheckpointOp cp = DX__CHECKPOINT_OP__INIT;
	b = (Dx__RequestBody)DX__REQUEST_BODY__INIT;
	b.op_case = DX__REQUEST_BODY__OP_GET_CHECKPOINT;
	b.get_checkpoint = &cp;
	uint8_t id[RELAY_REQUEST_ID_LEN], *body = NULL, *req = NULL;
	size_t blen, rlen;
	assert_dx_ok(relay_request_pack("FRA", &b, id, &body, &blen));
	assert_dx_ok(relay_request_wrap_mac(sf.id, sf.key, body, blen, &req, &rlen));
	Dx__RelayRequest *q = dx__relay_request__unpack(NULL, rlen, req);
	assert_non_null(q);
	ProtobufCBinaryData orig_body = q->body;
	Dx__RequestBody other = DX__REQUEST_BODY__INIT;
	Dx__ListOp l = DX__LIST_OP__INIT;
	other.op_case = DX__REQUEST_BODY__OP_LIST;
	other.list = &l;
	uint8_t *obody = NULL, *oreq = NULL;
	size_t oblen, orlen;
	assert_dx_ok(relay_request_pack("FRA", &other, id, &obody, &oblen));
	q->body = (ProtobufCBinaryData){ oblen, obody };
	assert_dx_ok(proto_pack_alloc(&q->base, &oreq, &orlen));
	assert_dx_ok(tclient_call_raw(&cf, oreq, orlen, &r));
	assert_int_equal(r->status, DX_EREQ_SIG);
	dx__relay_response__free_unpacked(r, NULL);
	/* Both a signature and a MAC, or a short session id: not a request. */
	uint8_t sig[64] = { 0 };
	q->body = (ProtobufCBinaryData){ blen, body };
	q->signature = (ProtobufCBinaryData){ 64, sig };
	free(oreq);
	assert_dx_ok(proto_pack_alloc(&q->base, &oreq, &orlen));
	assert_dx_ok(tclient_call_raw(&cf, oreq, orlen, &r));
	assert_int_equal(r->status, DX_EPARSE);
	dx__relay_response__free_unpacked(r, NULL);
	q->signature = (ProtobufCBinaryData){ 0, NULL };
	q->session.len = RELAY_SESSION_ID_LEN - 1;
	free(oreq);
	assert_dx_ok(proto_pack_alloc(&q->base, &oreq, &orlen));
	assert_dx_ok(tclient_call_raw(&cf, oreq, orlen, &r));
	assert_int_equal(r->status, DX_EPARSE);
	dx__relay_response__free_unpacked(r, NULL);
	q->session.len = RELAY_SESSION_ID_LEN;
	q->body = orig_body;
	dx__relay_request__free_unpacked(q, NULL);
	free(oreq);
	free(obody);
	free(req);
	free(body);

	/* A handshake with a key of small order: no shared secret, refused. */
	struct tsess unused;
	uint8_t zero[32] = { 0 };
	assert_int_equal(handshake_pk(&cf, zero, zero, &unused), DX_EDH);
	/* The relay still serves the session it agreed. */
	mac_checkpoint(&cf, &sf, DX_OK);
	free(env);
	tclient_close(&cf);
	tclient_close(&cm);
}

/* A State holds at most four sessions; a fifth replaces the oldest. */
static void test_session_eviction(void **state)
{
	(void)state;
	struct tclient cf;
	struct tsess s[5];
	rh_open_client(&cf, H.fra);
	for (int i = 0; i < 5; i++) {
		handshake(&cf, &s[i]);
	}
	mac_checkpoint(&cf, &s[0], DX_ESESSION);
	for (int i = 1; i < 5; i++) {
		mac_checkpoint(&cf, &s[i], DX_OK);
	}
	tclient_close(&cf);
}

/* A session does not outlive a suspension, nor the relay's memory. */
static void test_session_suspension_restart(void **state)
{
	(void)state;
	struct tclient cb;
	struct tsess s;
	rh_open_client(&cb, H.bfa);
	handshake(&cb, &s);
	rh_admin_cmd("suspend", "BFA");
	mac_checkpoint(&cb, &s, DX_ESUSPENDED);
	rh_admin_cmd("reinstate", "BFA");
	mac_checkpoint(&cb, &s, DX_OK);
	tclient_close(&cb);

	rh_restart_same_port();
	rh_open_client(&cb, H.bfa);
	mac_checkpoint(&cb, &s, DX_ESESSION);
	tclient_close(&cb);
}

/*
 * The node's client agrees a session by itself, uses it, and after a relay
 * restart (the session forgotten) sends the refused request again signed,
 * with no error reaching the caller, then agrees a new session.
 */
static void test_client_sessions(void **state)
{
	(void)state;
	struct envelope_info e;
	struct relay_client_stats st;
	struct res r;
	size_t len;
	fx_init();
	struct relay_client *cf = open_client(H.fra, NULL);
	assert_dx_ok(sync_once(cf));
	WAIT_FOR((relay_client_stats(cf, &st), st.sessions == 1));
	uint8_t *env = rh_seal_for(H.fra, H.mex, "under a session", &len, &e);
	assert_dx_ok(submit(cf, env, len, &r));
	res_free(&r);
	free(env);

	rh_restart_same_port();
	env = rh_seal_for(H.fra, H.mex, "after a restart", &len, &e);
	assert_dx_ok(submit(cf, env, len, &r));
	res_free(&r);
	free(env);
	relay_client_stats(cf, &st);
	assert_true(st.sessions_lost >= 1);
	WAIT_FOR((relay_client_stats(cf, &st), st.sessions == 2));
	assert_int_equal(st.session_failures, 0);
	assert_dx_ok(sync_once(cf));
	close_client(cf);
	fx_fini();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_exchange),
		cmocka_unit_test(test_session_refusals),
		cmocka_unit_test(test_session_eviction),
		cmocka_unit_test(test_session_suspension_restart),
		cmocka_unit_test(test_client_sessions),
	};
	if (sodium_init() < 0) {
		return 1;
	}
	int rc = cmocka_run_group_tests_name("sessions over tcp", tests, rh_setup, rh_teardown);
	H.use_tls = 1;
	rc |= cmocka_run_group_tests_name("sessions over tls+tcp", tests, rh_setup, rh_teardown);
	return rc;
}
