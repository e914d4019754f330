/*
 * test_dossier.c: audit dossiers (daemon/core/dossier.h, PROTOCOL.md 14)
 * built from a real exchange through a divex-relay child process: FRA
 * submits an envelope to MEX, MEX fetches and acknowledges it, and the
 * receipts, MEX's signed requests, a later checkpoint and the consistency
 * proofs the relay gives make a dossier. It verifies offline, reports who
 * fetched and acknowledged the envelope and when, and fails when any byte is
 * changed, when a piece is missing or swapped, or under another relay key.
 * `divex audit verify` reads the file and exits 0, or 3 on a tampered copy.
 * DIVEX_REGEN_VECTORS=1 also writes the dossier as the fuzz seed corpus.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "dossier.h"
#include "dossier.pb-c.h"
#include "harness.h"
#include "roster.h"
#include "testlib.h"

static uint8_t *dossier;
static size_t dossier_len;
static uint64_t fetch_ms, ack_ms;

static uint8_t *pack_receipt(const Dx__Receipt *r, size_t *len)
{
	uint8_t *out = NULL;
	assert_dx_ok(proto_pack_alloc(&r->base, &out, len));
	return out;
}

static uint64_t receipt_size(const Dx__Receipt *r)
{
	struct checkpoint cp;
	assert_dx_ok(checkpoint_parse_verify(r->checkpoint.data, r->checkpoint.len, H.rid.name,
					     H.rid.name, H.rid.pk, &cp));
	return cp.size;
}

static Dx__RelayResponse *consistency(struct tclient *c, uint64_t old_size, uint64_t new_size)
{
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__ConsistencyOp op = DX__CONSISTENCY_OP__INIT;
	op.old_size = old_size;
	op.new_size = new_size;
	b.op_case = DX__REQUEST_BODY__OP_CONSISTENCY;
	b.consistency = &op;
	return rh_call(c, &b, DX_OK);
}

/* The exchange, and the dossier the sender's node would assemble. */
static int group_setup(void **state)
{
	rh_setup(state);
	struct tclient cf, cm;
	struct envelope_info e;
	size_t len, fetch_len, ack_len, rl[3], fe_len, me_len;
	uint8_t *fetch_req = NULL, *ack_req = NULL, *rb[3], *fe = NULL, *me = NULL;
	rh_open_client(&cf, H.fra);
	rh_open_client(&cm, H.mex);
	/* Other traffic first, so that the tree has some shape. */
	for (int i = 0; i < 3; i++) {
		uint8_t *other = rh_seal_for(H.mex, H.fra, "noise", &len, &e);
		dx__relay_response__free_unpacked(rh_submit(&cm, other, len, DX_OK), NULL);
		free(other);
	}
	size_t env_len;
	uint8_t *env = rh_seal_for(H.fra, H.mex, CANARY, &env_len, &e);
	Dx__RelayResponse *ra = rh_submit(&cf, env, env_len, DX_OK);
	Dx__RelayResponse *rf = rh_fetch_or_ack(&cm, 0, e.digest, DX_OK, &fetch_req, &fetch_len);
	Dx__RelayResponse *rk = rh_fetch_or_ack(&cm, 1, e.digest, DX_OK, &ack_req, &ack_len);
	fetch_ms = rf->receipt->time_ms;
	ack_ms = rk->receipt->time_ms;
	/* One more leaf, so that the dossier's checkpoint is newer than every receipt's. */
	uint8_t *later = rh_seal_for(H.mex, H.fra, "later", &len, &e);
	dx__relay_response__free_unpacked(rh_submit(&cm, later, len, DX_OK), NULL);
	free(later);
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__CheckpointOp cop = DX__CHECKPOINT_OP__INIT;
	b.op_case = DX__REQUEST_BODY__OP_GET_CHECKPOINT;
	b.get_checkpoint = &cop;
	Dx__RelayResponse *rc = rh_call(&cf, &b, DX_OK);
	struct checkpoint latest;
	assert_dx_ok(checkpoint_parse_verify(rc->checkpoint.data, rc->checkpoint.len, H.rid.name,
					     H.rid.name, H.rid.pk, &latest));

	const Dx__Receipt *recs[3] = { ra->receipt, rf->receipt, rk->receipt };
	struct dossier_proof_in proofs[3];
	Dx__RelayResponse *pr[3] = { NULL, NULL, NULL };
	uint8_t hashes[3][MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	size_t n_proofs = 0;
	for (int i = 0; i < 3; i++) {
		rb[i] = pack_receipt(recs[i], &rl[i]);
		uint64_t size = receipt_size(recs[i]);
		assert_true(size < latest.size);
		int seen = 0;
		for (size_t j = 0; j < n_proofs; j++) {
			seen |= proofs[j].old_size == size;
		}
		if (seen) {
			continue;
		}
		pr[n_proofs] = consistency(&cf, size, latest.size);
		for (size_t j = 0; j < pr[n_proofs]->n_proof; j++) {
			memcpy(hashes[n_proofs][j], pr[n_proofs]->proof[j].data, MERKLE_HASH_LEN);
		}
		proofs[n_proofs] = (struct dossier_proof_in){
			.old_size = size, .hashes = (const uint8_t(*)[MERKLE_HASH_LEN])hashes[n_proofs],
			.n_hashes = pr[n_proofs]->n_proof,
		};
		n_proofs++;
	}
	assert_dx_ok(roster_entry_build(H.fra, "France", NULL, 0, dx_now_ms(), &fe, &fe_len));
	assert_dx_ok(roster_entry_build(H.mex, "Mexico", NULL, 0, dx_now_ms(), &me, &me_len));
	/* Given out of order: the builder sorts. */
	struct dossier_receipt_in rin[3] = {
		{ RELAY_LEAF_ACKED, rb[2], rl[2], ack_req, ack_len },
		{ RELAY_LEAF_ACCEPTED, rb[0], rl[0], NULL, 0 },
		{ RELAY_LEAF_FETCHED, rb[1], rl[1], fetch_req, fetch_len },
	};
	struct dossier_parts parts = {
		.relay = &H.rid, .envelope = env, .envelope_len = env_len,
		.sender_entry = fe, .sender_entry_len = fe_len, .recipient_entry = me,
		.recipient_entry_len = me_len, .receipts = rin, .n_receipts = 3,
		.checkpoint = rc->checkpoint.data, .checkpoint_len = rc->checkpoint.len,
		.proofs = proofs, .n_proofs = n_proofs,
	};
	assert_dx_ok(dossier_build(&parts, &dossier, &dossier_len));

	for (int i = 0; i < 3; i++) {
		free(rb[i]);
		if (pr[i] != NULL) {
			dx__relay_response__free_unpacked(pr[i], NULL);
		}
	}
	dx__relay_response__free_unpacked(ra, NULL);
	dx__relay_response__free_unpacked(rf, NULL);
	dx__relay_response__free_unpacked(rk, NULL);
	dx__relay_response__free_unpacked(rc, NULL);
	free(fetch_req);
	free(ack_req);
	free(fe);
	free(me);
	free(env);
	tclient_close(&cf);
	tclient_close(&cm);
	const char *regen = getenv("DIVEX_REGEN_VECTORS");
	if (regen != NULL && strcmp(regen, "1") == 0) {
		test_write_file(test_path(test_source_dir(), "tests/fuzz/corpus/dossier/exchange"),
				dossier, dossier_len);
	}
	return 0;
}

static int group_teardown(void **state)
{
	free(dossier);
	return rh_teardown(state);
}

static void test_verifies(void **state)
{
	(void)state;
	struct dossier_report rep;
	assert_dx_ok(dossier_verify(dossier, dossier_len, &H.rid, &rep));
	assert_null(rep.failed_step);
	assert_string_equal(rep.relay_name, NAME);
	assert_memory_equal(rep.relay_pk, H.rid.pk, 32);
	assert_string_equal(rep.sender, "FRA");
	assert_string_equal(rep.recipient, "MEX");
	assert_int_equal(rep.n_events, 3);
	assert_int_equal(rep.events[0].kind, RELAY_LEAF_ACCEPTED);
	assert_string_equal(rep.events[0].state, "FRA");
	assert_int_equal(rep.events[1].kind, RELAY_LEAF_FETCHED);
	assert_string_equal(rep.events[1].state, "MEX");
	assert_int_equal(rep.events[1].time_ms, fetch_ms);
	assert_true(rep.events[1].request_time_ms > 0);
	assert_int_equal(rep.events[2].kind, RELAY_LEAF_ACKED);
	assert_int_equal(rep.events[2].time_ms, ack_ms);
	assert_true(rep.events[0].leaf_index < rep.events[1].leaf_index);
	assert_int_equal(rep.fetched, 1);
	assert_int_equal(rep.acknowledged, 1);
	assert_true(rep.checkpoint_size > rep.events[2].leaf_index + 1);
	/* Without a pinned relay it verifies too, and shows the key it used. */
	assert_dx_ok(dossier_verify(dossier, dossier_len, NULL, &rep));
	/* Under another relay key or name it does not. */
	struct relay_identity other = H.rid;
	other.pk[0] ^= 1;
	assert_dx_err(dossier_verify(dossier, dossier_len, &other, &rep), DX_ESIG);
	assert_string_equal(rep.failed_step, "relay key");
	other = H.rid;
	other.name[0] = 'x';
	assert_dx_err(dossier_verify(dossier, dossier_len, &other, &rep), DX_ESIG);
}

static void test_every_byte_flipped(void **state)
{
	(void)state;
	struct dossier_report rep;
	uint8_t *copy = malloc(dossier_len);
	assert_non_null(copy);
	memcpy(copy, dossier, dossier_len);
	for (size_t i = 0; i < dossier_len; i++) {
		uint8_t bit = (uint8_t)(1u << (i % 8));
		copy[i] ^= bit;
		if (dossier_verify(copy, dossier_len, NULL, &rep) == DX_OK) {
			fail_msg("byte %zu of %zu flipped (bit %u) still verifies", i, dossier_len,
				 (unsigned)bit);
		}
		assert_non_null(rep.failed_step);
		copy[i] ^= bit;
	}
	assert_dx_ok(dossier_verify(copy, dossier_len, NULL, &rep));
	/* Truncated anywhere. */
	for (size_t n = 0; n < dossier_len; n += 7) {
		assert_true(dossier_verify(copy, n, NULL, &rep) != DX_OK);
	}
	free(copy);
}

/* Re-encodes the dossier after a change to its decoded form. */
static int verify_changed(void (*change)(Dx__Dossier *d), struct dossier_report *rep)
{
	Dx__Dossier *d = NULL;
	uint8_t *buf = NULL;
	size_t len;
	assert_dx_ok(proto_unpack_strict(&dx__dossier__descriptor, dossier, dossier_len, DOSSIER_MAX,
					 (ProtobufCMessage **)&d));
	/* Changes to the top level are undone before freeing; the others only move pointers. */
	Dx__Dossier saved = *d;
	change(d);
	assert_dx_ok(proto_pack_alloc(&d->base, &buf, &len));
	*d = saved;
	int rc = dossier_verify(buf, len, NULL, rep);
	free(buf);
	protobuf_c_message_free_unpacked(&d->base, NULL);
	return rc;
}

static void swap_entries(Dx__Dossier *d)
{
	ProtobufCBinaryData t = d->sender_entry;
	d->sender_entry = d->recipient_entry;
	d->recipient_entry = t;
}
static void drop_receipt(Dx__Dossier *d)
{
	d->n_receipts = 0;
}
static void reorder_receipts(Dx__Dossier *d)
{
	Dx__DossierReceipt *t = d->receipts[0];
	d->receipts[0] = d->receipts[1];
	d->receipts[1] = t;
}
static void relabel_fetch_as_ack(Dx__Dossier *d)
{
	d->receipts[1]->kind = RELAY_LEAF_ACKED;
}
static void swap_requests(Dx__Dossier *d)
{
	ProtobufCBinaryData t = d->receipts[1]->request;
	d->receipts[1]->request = d->receipts[2]->request;
	d->receipts[2]->request = t;
}
static void drop_proofs(Dx__Dossier *d)
{
	d->n_proofs = 0;
}
static void receipt_checkpoint_as_latest(Dx__Dossier *d)
{
	/* The accepted receipt's checkpoint in place of the latest. */
	Dx__Receipt *r = NULL;
	assert_dx_ok(proto_unpack_strict(&dx__receipt__descriptor, d->receipts[0]->receipt.data,
					 d->receipts[0]->receipt.len, DOSSIER_RECEIPT_MAX,
					 (ProtobufCMessage **)&r));
	static uint8_t text[CHECKPOINT_MAX];
	memcpy(text, r->checkpoint.data, r->checkpoint.len);
	d->checkpoint = (ProtobufCBinaryData){ r->checkpoint.len, text };
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void test_pieces(void **state)
{
	(void)state;
	struct dossier_report rep;
	assert_dx_err(verify_changed(swap_entries, &rep), DX_ESENDER);
	assert_dx_err(verify_changed(drop_receipt, &rep), DX_EPARSE);
	assert_dx_err(verify_changed(reorder_receipts, &rep), DX_EPARSE);
	assert_dx_err(verify_changed(relabel_fetch_as_ack, &rep), DX_EPROOF);
	assert_dx_err(verify_changed(swap_requests, &rep), DX_EPROOF);
	assert_dx_err(verify_changed(drop_proofs, &rep), DX_EPROOF);
	assert_string_equal(rep.failed_step, "checkpoint consistency");
	assert_true(verify_changed(receipt_checkpoint_as_latest, &rep) != DX_OK);
	/* Too big: refused before decoding. */
	assert_dx_err(dossier_verify(dossier, DOSSIER_MAX + 1, NULL, &rep), DX_ETOOBIG);
}

static void test_cli(void **state)
{
	(void)state;
	char path[1100], bad[1100], log[1100];
	snprintf(path, sizeof(path), "%s/envelope.dossier", test_tmpdir());
	snprintf(bad, sizeof(bad), "%s/tampered.dossier", test_tmpdir());
	snprintf(log, sizeof(log), "%s/audit-verify.log", test_tmpdir());
	test_write_file(path, dossier, dossier_len);
	uint8_t *copy = malloc(dossier_len);
	assert_non_null(copy);
	memcpy(copy, dossier, dossier_len);
	copy[dossier_len / 2] ^= 0x10;
	test_write_file(bad, copy, dossier_len);
	free(copy);
	char key[65];
	dx_hex(key, H.rid.pk, 32);
	char *ok[] = { (char *)built("cli/divex"), "audit", "verify", path, NULL };
	char *ok_json[] = { (char *)built("cli/divex"), "audit", "verify", "--json", path, NULL };
	char *pinned[] = { (char *)built("cli/divex"), "audit", "verify", "--relay-key", key, path,
			   NULL };
	char *tampered[] = { (char *)built("cli/divex"), "audit", "verify", bad, NULL };
	assert_int_equal(proc_run(log, ok), 0);
	assert_int_equal(proc_run(log, ok_json), 0);
	assert_int_equal(proc_run(log, pinned), 0);
	assert_int_equal(proc_run(log, tampered), 3);
	key[0] = key[0] == '0' ? '1' : '0';
	assert_int_equal(proc_run(log, pinned), 3);
	assert_true(file_contains(log, "\"acknowledged\"", strlen("\"acknowledged\"")));
	assert_true(file_contains(log, "fetched", strlen("fetched")));
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verifies),
		cmocka_unit_test(test_every_byte_flipped),
		cmocka_unit_test(test_pieces),
		cmocka_unit_test(test_cli),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
