/*
 * test_relay_statements.c: the relay's `statements` operation (PROTOCOL.md
 * 12.4) through a divex-relay child process, and the node's checks of its
 * answer (relay_client_check_statements). FRA submits an envelope to MEX,
 * MEX fetches and acknowledges it; then only FRA and MEX get MEX's logged
 * requests, each proved in the relay's checkpoint; a changed answer is
 * DX_EPROOF; and the sender's accepted receipt with those statements makes a
 * dossier that verifies, which is what a sender's node builds.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "dossier.h"
#include "harness.h"
#include "relay_client.h"
#include "roster.h"
#include "testlib.h"

static struct envelope_info env_info;
static uint8_t *env, *fetch_req, *ack_req;
static size_t env_len, fetch_len, ack_len;
static Dx__RelayResponse *accepted;

static Dx__RelayResponse *statements(const struct keys *k, const uint8_t *digest, size_t len,
				     int want)
{
	struct tclient c;
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__StatementsOp op = DX__STATEMENTS_OP__INIT;
	op.envelope_digest = (ProtobufCBinaryData){ len, (uint8_t *)digest };
	b.op_case = DX__REQUEST_BODY__OP_STATEMENTS;
	b.statements = &op;
	rh_open_client(&c, k);
	Dx__RelayResponse *r = rh_call(&c, &b, want);
	tclient_close(&c);
	return r;
}

static int group_setup(void **state)
{
	rh_setup(state);
	struct tclient cf, cm;
	struct envelope_info e;
	size_t len, raw_len;
	uint8_t *raw = NULL;
	rh_open_client(&cf, H.fra);
	rh_open_client(&cm, H.mex);
	env = rh_seal_for(H.fra, H.mex, CANARY, &env_len, &env_info);
	accepted = rh_submit(&cf, env, env_len, DX_OK);
	/* Another envelope's statements must not show. */
	uint8_t *other = rh_seal_for(H.fra, H.mex, "other", &len, &e);
	dx__relay_response__free_unpacked(rh_submit(&cf, other, len, DX_OK), NULL);
	dx__relay_response__free_unpacked(rh_fetch_or_ack(&cm, 0, e.digest, DX_OK, &raw, &raw_len),
					  NULL);
	free(raw);
	free(other);
	dx__relay_response__free_unpacked(
		rh_fetch_or_ack(&cm, 0, env_info.digest, DX_OK, &fetch_req, &fetch_len), NULL);
	dx__relay_response__free_unpacked(
		rh_fetch_or_ack(&cm, 1, env_info.digest, DX_OK, &ack_req, &ack_len), NULL);
	tclient_close(&cf);
	tclient_close(&cm);
	return 0;
}

static int group_teardown(void **state)
{
	dx__relay_response__free_unpacked(accepted, NULL);
	free(env);
	free(fetch_req);
	free(ack_req);
	return rh_teardown(state);
}

static void check_answer(const Dx__RelayResponse *r)
{
	struct relay_statement *st = NULL;
	uint8_t *buf = NULL;
	size_t n = 0;
	assert_dx_ok(relay_client_check_statements(&H.rid, env_info.digest, r, &st, &n, &buf));
	assert_int_equal(n, 2);
	assert_int_equal(st[0].kind, RELAY_LEAF_FETCHED);
	assert_int_equal(st[1].kind, RELAY_LEAF_ACKED);
	assert_int_equal(st[0].request_len, fetch_len);
	assert_memory_equal(st[0].request, fetch_req, fetch_len);
	assert_int_equal(st[1].request_len, ack_len);
	assert_memory_equal(st[1].request, ack_req, ack_len);
	assert_true(st[0].leaf_index > accepted->receipt->leaf_index);
	assert_true(st[1].leaf_index > st[0].leaf_index);
	free(st);
	free(buf);
}

static void test_parties_only(void **state)
{
	(void)state;
	Dx__RelayResponse *r = statements(H.fra, env_info.digest, ENVELOPE_HASH_LEN, DX_OK);
	check_answer(r);
	const char *regen = getenv("DIVEX_REGEN_VECTORS");
	if (regen != NULL && strcmp(regen, "1") == 0) {
		uint8_t *seed = NULL;
		size_t seed_len;
		assert_dx_ok(proto_pack_alloc(&r->base, &seed, &seed_len));
		test_write_file(
			test_path(test_source_dir(), "tests/fuzz/corpus/relay_statements/answer"),
			seed, seed_len);
		free(seed);
	}
	dx__relay_response__free_unpacked(r, NULL);
	r = statements(H.mex, env_info.digest, ENVELOPE_HASH_LEN, DX_OK);
	check_answer(r);
	dx__relay_response__free_unpacked(r, NULL);
	/* A third member learns nothing, not even the statements' count. */
	r = statements(H.bfa, env_info.digest, ENVELOPE_HASH_LEN, DX_ENOT_RECIPIENT);
	assert_int_equal(r->n_statements, 0);
	dx__relay_response__free_unpacked(r, NULL);
	dx__relay_response__free_unpacked(
		statements(H.gbr, env_info.digest, ENVELOPE_HASH_LEN, DX_ENOT_MEMBER), NULL);
	uint8_t unknown[ENVELOPE_HASH_LEN];
	memset(unknown, 0x5a, sizeof(unknown));
	dx__relay_response__free_unpacked(statements(H.fra, unknown, ENVELOPE_HASH_LEN, DX_ENOENT),
					  NULL);
	dx__relay_response__free_unpacked(statements(H.fra, unknown, 31, DX_EPARSE), NULL);
}

/* Changes to the answer the node must catch. */
static void test_changed_answer(void **state)
{
	(void)state;
	struct relay_statement *st = NULL;
	uint8_t *buf = NULL, other[ENVELOPE_HASH_LEN];
	size_t n = 0;
	Dx__RelayResponse *r = statements(H.fra, env_info.digest, ENVELOPE_HASH_LEN, DX_OK);
	Dx__Statement *s = r->statements[1];
	assert_true(s->n_proof > 0);
	s->proof[0].data[3] ^= 1;
	assert_dx_err(relay_client_check_statements(&H.rid, env_info.digest, r, &st, &n, &buf),
		      DX_EPROOF);
	s->proof[0].data[3] ^= 1;
	s->time_ms++;
	assert_dx_err(relay_client_check_statements(&H.rid, env_info.digest, r, &st, &n, &buf),
		      DX_EPROOF);
	s->time_ms--;
	s->kind = RELAY_LEAF_FETCHED; /* an ack shown as a fetch */
	assert_dx_err(relay_client_check_statements(&H.rid, env_info.digest, r, &st, &n, &buf),
		      DX_EPROOF);
	s->kind = RELAY_LEAF_ROSTER;
	assert_dx_err(relay_client_check_statements(&H.rid, env_info.digest, r, &st, &n, &buf),
		      DX_EPARSE);
	s->kind = RELAY_LEAF_ACKED;
	/* Statements in another order. */
	r->statements[1] = r->statements[0];
	r->statements[0] = s;
	assert_dx_err(relay_client_check_statements(&H.rid, env_info.digest, r, &st, &n, &buf),
		      DX_EPARSE);
	r->statements[0] = r->statements[1];
	r->statements[1] = s;
	/* Under another digest, or another relay key. */
	memcpy(other, env_info.digest, sizeof(other));
	other[0] ^= 1;
	assert_dx_err(relay_client_check_statements(&H.rid, other, r, &st, &n, &buf), DX_EPROOF);
	struct relay_identity wrong = H.rid;
	wrong.pk[5] ^= 1;
	assert_dx_err(relay_client_check_statements(&wrong, env_info.digest, r, &st, &n, &buf),
		      DX_EPROOF);
	assert_dx_ok(relay_client_check_statements(&H.rid, env_info.digest, r, &st, &n, &buf));
	free(st);
	free(buf);
	dx__relay_response__free_unpacked(r, NULL);
}

static uint64_t size_of(const uint8_t *text, size_t len)
{
	struct checkpoint cp;
	assert_dx_ok(checkpoint_parse_verify(text, len, H.rid.name, H.rid.name, H.rid.pk, &cp));
	return cp.size;
}

/* The sender's dossier: its accepted receipt, the statements, one proof. */
static void test_sender_dossier(void **state)
{
	(void)state;
	struct relay_statement *st = NULL;
	uint8_t *buf = NULL, *acc = NULL, *fe = NULL, *me = NULL, *dossier = NULL;
	size_t n = 0, acc_len, fe_len, me_len, dossier_len;
	Dx__RelayResponse *r = statements(H.fra, env_info.digest, ENVELOPE_HASH_LEN, DX_OK);
	assert_dx_ok(relay_client_check_statements(&H.rid, env_info.digest, r, &st, &n, &buf));
	assert_dx_ok(proto_pack_alloc(&accepted->receipt->base, &acc, &acc_len));
	uint64_t old =
		size_of(accepted->receipt->checkpoint.data, accepted->receipt->checkpoint.len);
	uint64_t cur = size_of(r->checkpoint.data, r->checkpoint.len);
	assert_true(old < cur);

	struct tclient c;
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__ConsistencyOp cons = DX__CONSISTENCY_OP__INIT;
	cons.old_size = old;
	cons.new_size = cur;
	b.op_case = DX__REQUEST_BODY__OP_CONSISTENCY;
	b.consistency = &cons;
	rh_open_client(&c, H.fra);
	Dx__RelayResponse *pr = rh_call(&c, &b, DX_OK);
	tclient_close(&c);
	uint8_t hashes[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	for (size_t i = 0; i < pr->n_proof; i++) {
		memcpy(hashes[i], pr->proof[i].data, MERKLE_HASH_LEN);
	}
	struct dossier_proof_in proof = { old, (const uint8_t(*)[MERKLE_HASH_LEN])hashes,
					  pr->n_proof };

	assert_dx_ok(roster_entry_build(H.fra, "France", NULL, 0, dx_now_ms(), &fe, &fe_len));
	assert_dx_ok(roster_entry_build(H.mex, "Mexico", NULL, 0, dx_now_ms(), &me, &me_len));
	struct dossier_receipt_in rin[3] = {
		{ RELAY_LEAF_ACCEPTED, acc, acc_len, NULL, 0 },
		{ st[0].kind, st[0].receipt, st[0].receipt_len, st[0].request, st[0].request_len },
		{ st[1].kind, st[1].receipt, st[1].receipt_len, st[1].request, st[1].request_len },
	};
	struct dossier_parts parts = {
		.relay = &H.rid,
		.envelope = env,
		.envelope_len = env_len,
		.sender_entry = fe,
		.sender_entry_len = fe_len,
		.recipient_entry = me,
		.recipient_entry_len = me_len,
		.receipts = rin,
		.n_receipts = 3,
		.checkpoint = r->checkpoint.data,
		.checkpoint_len = r->checkpoint.len,
		.proofs = &proof,
		.n_proofs = 1,
	};
	assert_dx_ok(dossier_build(&parts, &dossier, &dossier_len));
	struct dossier_report rep;
	assert_dx_ok(dossier_verify(dossier, dossier_len, &H.rid, &rep));
	assert_int_equal(rep.fetched, 1);
	assert_int_equal(rep.acknowledged, 1);
	assert_string_equal(rep.events[1].state, "MEX");
	free(dossier);
	free(fe);
	free(me);
	free(acc);
	free(st);
	free(buf);
	dx__relay_response__free_unpacked(pr, NULL);
	dx__relay_response__free_unpacked(r, NULL);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parties_only),
		cmocka_unit_test(test_changed_answer),
		cmocka_unit_test(test_sender_dossier),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
