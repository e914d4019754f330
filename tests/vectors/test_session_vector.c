/*
 * test_session_vector.c: the request-session vector (tests/vectors/
 * session.json, computed from PROTOCOL.md 12.2 by an independent program,
 * gen_session.py) is what relay_wire computes: the handshake request parses
 * and its signature verifies, and the request hash, transcript, both sides'
 * session key, the relay's signature, the packed body and the MACed request
 * agree byte for byte; a MAC under any other key or over any other body
 * does not verify.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "relay_wire.h"
#include "signer.h"
#include "testlib.h"

static json_t *doc;

static size_t get(const char *key, uint8_t *out, size_t max)
{
	const char *h = json_string_value(json_object_get(doc, key));
	if (h == NULL || strlen(h) / 2 > max) {
		fail_msg("session.json: no %s, or too long", key);
	}
	assert_dx_ok(dx_unhex(out, strlen(h) / 2, h));
	return strlen(h) / 2;
}

static void test_session_vector(void **state)
{
	(void)state;
	json_error_t err;
	doc = json_load_file(test_path(test_source_dir(), "tests/vectors/session.json"), 0, &err);
	if (doc == NULL) {
		fail_msg("cannot load session.json: %s (line %d)", err.text, err.line);
	}
	static uint8_t hs_req[512], mac_req[512], body[256];
	uint8_t fra_pk[32], relay_seed[32], relay_pk[32], c_sk[32], c_pk[32], r_sk[32], r_pk[32];
	uint8_t sid[16], want_rh[32], want_t[32], want_key[32], want_sig[64], want_mac[32];
	uint8_t rh[32], t[32], key[32], key2[32], sig[64], pk[32], stmt[RELAY_SESSION_STATEMENT_MAX];
	get("fra_identity_pk", fra_pk, 32);
	get("relay_seed", relay_seed, 32);
	get("relay_pk", relay_pk, 32);
	get("client_sk", c_sk, 32);
	get("client_pk", c_pk, 32);
	get("relay_ephemeral_sk", r_sk, 32);
	get("relay_ephemeral_pk", r_pk, 32);
	get("session_id", sid, 16);
	get("request_hash", want_rh, 32);
	get("transcript", want_t, 32);
	get("session_key", want_key, 32);
	get("relay_signature", want_sig, 64);
	get("mac", want_mac, 32);
	size_t hs_len = get("handshake_request", hs_req, sizeof(hs_req));
	size_t mac_len = get("mac_request", mac_req, sizeof(mac_req));
	size_t body_len = get("mac_body", body, sizeof(body));
	uint64_t lifetime = (uint64_t)json_integer_value(json_object_get(doc, "lifetime_ms"));

	/* The handshake request is a signed request of FRA's with this key. */
	struct relay_request q;
	assert_dx_ok(relay_request_parse(hs_req, hs_len, &q));
	assert_false(q.has_mac);
	assert_dx_ok(relay_request_verify(&q, fra_pk));
	assert_int_equal(q.body->op_case, DX__REQUEST_BODY__OP_SESSION);
	assert_memory_equal(q.body->session->client_pk.data, c_pk, 32);
	relay_request_free(&q);
	crypto_scalarmult_base(pk, c_sk);
	assert_memory_equal(pk, c_pk, 32);
	crypto_scalarmult_base(pk, r_sk);
	assert_memory_equal(pk, r_pk, 32);

	relay_request_hash(rh, hs_req, hs_len);
	assert_memory_equal(rh, want_rh, 32);
	relay_session_transcript(t, rh, r_pk, sid, lifetime);
	assert_memory_equal(t, want_t, 32);
	assert_dx_ok(relay_session_key(key, r_sk, c_pk, t));
	assert_dx_ok(relay_session_key(key2, c_sk, r_pk, t));
	assert_memory_equal(key, want_key, 32);
	assert_memory_equal(key2, want_key, 32);
	struct keys_signer *signer;
	assert_dx_ok(keys_signer_from_seed(relay_seed, &signer));
	keys_signer_pk(signer, pk);
	assert_memory_equal(pk, relay_pk, 32);
	size_t n = relay_session_statement(stmt, t);
	keys_signer_sign(signer, sig, stmt, n);
	keys_signer_free(signer);
	assert_memory_equal(sig, want_sig, 64);
	assert_int_equal(crypto_sign_verify_detached(want_sig, stmt, n, relay_pk), 0);

	/* The MACed request: the same body packed, the same MAC, the same bytes. */
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__CheckpointOp cp = DX__CHECKPOINT_OP__INIT;
	uint8_t id[RELAY_REQUEST_ID_LEN], *packed = NULL, *req = NULL;
	size_t plen, rlen;
	memset(id, 0x66, sizeof(id));
	b.op_case = DX__REQUEST_BODY__OP_GET_CHECKPOINT;
	b.get_checkpoint = &cp;
	b.request_id = (ProtobufCBinaryData){ sizeof(id), id };
	b.time_ms = 1700000003000ull;
	assert_dx_ok(relay_request_pack("FRA", &b, id, &packed, &plen));
	assert_int_equal(plen, body_len);
	assert_memory_equal(packed, body, body_len);
	assert_dx_ok(relay_request_wrap_mac(sid, key, packed, plen, &req, &rlen));
	assert_int_equal(rlen, mac_len);
	assert_memory_equal(req, mac_req, mac_len);
	assert_dx_ok(relay_request_parse(mac_req, mac_len, &q));
	assert_true(q.has_mac);
	assert_memory_equal(q.outer->mac.data, want_mac, 32);
	assert_dx_ok(relay_request_verify_mac(&q, key));
	assert_dx_err(relay_request_verify(&q, fra_pk), DX_EREQ_SIG);
	key[31] ^= 0x80;
	assert_dx_err(relay_request_verify_mac(&q, key), DX_EREQ_SIG);
	relay_request_free(&q);
	/* One bit of the body's request id changed under the same MAC (the
	 * body starts at byte 2: tag and length; the id at its byte 7). */
	mac_req[2 + 7 + 3] ^= 1;
	assert_dx_ok(relay_request_parse(mac_req, mac_len, &q));
	assert_dx_err(relay_request_verify_mac(&q, key2), DX_EREQ_SIG);
	relay_request_free(&q);
	free(packed);
	free(req);
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_vector),
	};
	if (sodium_init() < 0) {
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
