/*
 * abuse_auth.c: the protocol abuse campaign's cases of authentication and
 * replay (PROTOCOL.md 12.3) against a live relay: forged and borrowed
 * signatures, a member acting as another, another State's mail, and the
 * replay of every request type (the same signed bytes again, the same id
 * with another body, an old request).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abuse.h"
#include "canon.h"
#include "roster.h"
#include "testlib.h"

static Dx__RelayResponse *checkpoint_request(struct tclient *c, uint8_t **raw, size_t *len)
{
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__CheckpointOp g = DX__CHECKPOINT_OP__INIT;
	b.op_case = DX__REQUEST_BODY__OP_GET_CHECKPOINT;
	b.get_checkpoint = &g;
	assert_dx_ok(tclient_sign(c, &b, raw, len));
	return abuse_call_raw(c, *raw, *len);
}

static void expect_status(Dx__RelayResponse *r, int want, const char *what)
{
	if (r->status != want) {
		fail_msg("%s: the relay answered %s (%s), want %s", what, dx_errname(r->status),
			 r->message, dx_errname(want));
	}
	dx__relay_response__free_unpacked(r, NULL);
}

/*
 * A request whose signature does not verify, one signed by FRA's key but
 * naming MEX, and one from a State never admitted: each is refused, and
 * nothing of it is carried out.
 */
void test_invalid_signatures(void **state)
{
	(void)state;
	struct tclient cf, cg;
	uint8_t *raw = NULL, id[RELAY_REQUEST_ID_LEN];
	size_t len;
	rh_open_client(&cf, H.fra);
	rh_open_client(&cg, H.gbr);
	uint64_t size0 = abuse_tree_size();

	/* A valid frame, its signature flipped in each of a few places. */
	Dx__RelayResponse *r = checkpoint_request(&cf, &raw, &len);
	expect_status(r, DX_OK, "a well-signed request");
	for (size_t k = 1; k <= 3; k++) {
		uint8_t *bad = malloc(len);
		memcpy(bad, raw, len);
		bad[len - k * 17] ^= 0x20; /* inside the 64-byte signature, the last field */
		expect_status(abuse_call_raw(&cf, bad, len), DX_EREQ_SIG, "a flipped signature");
		free(bad);
	}
	free(raw);

	/* FRA signs with its own key, naming MEX as the node: impersonation. */
	struct envelope_info e;
	size_t elen;
	uint8_t *env = rh_seal_for(H.mex, H.bfa, "sent as MEX", &elen, &e);
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__SubmitOp s = DX__SUBMIT_OP__INIT;
	s.envelope = (ProtobufCBinaryData){ elen, env };
	b.op_case = DX__REQUEST_BODY__OP_SUBMIT;
	b.submit = &s;
	randombytes_buf(id, sizeof(id));
	abuse_sign_as(H.fra, "MEX", &b, id, dx_now_ms(), &raw, &len);
	expect_status(abuse_call_raw(&cf, raw, len), DX_EREQ_SIG, "FRA's key naming MEX");
	free(raw);
	Dx__RequestBody l = DX__REQUEST_BODY__INIT;
	Dx__ListOp lo = DX__LIST_OP__INIT;
	l.op_case = DX__REQUEST_BODY__OP_LIST;
	l.list = &lo;
	randombytes_buf(id, sizeof(id));
	abuse_sign_as(H.fra, "MEX", &l, id, dx_now_ms(), &raw, &len);
	expect_status(abuse_call_raw(&cf, raw, len), DX_EREQ_SIG, "FRA listing MEX's mail");
	free(raw);

	/* FRA submits, as itself, an envelope whose sender is MEX. */
	randombytes_buf(id, sizeof(id));
	abuse_sign_as(H.fra, "FRA", &b, id, dx_now_ms(), &raw, &len);
	r = abuse_call_raw(&cf, raw, len);
	if (r->status != DX_EOUTER_SIG && r->status != DX_ESENDER) {
		fail_msg("FRA submitting MEX's envelope: %s", dx_errname(r->status));
	}
	printf("abuse: a submit of another State's envelope: %s\n", dx_errname(r->status));
	dx__relay_response__free_unpacked(r, NULL);
	free(raw);
	free(env);

	/* GBR was never admitted. */
	r = checkpoint_request(&cg, &raw, &len);
	expect_status(r, DX_ENOT_MEMBER, "a State never admitted");
	free(raw);

	assert_int_equal(abuse_tree_size(), size0);
	tclient_close(&cf);
	tclient_close(&cg);
	abuse_check_alive("forged signatures");
}

/* An envelope from FRA to MEX, naming one uploaded attachment. */
struct mail {
	uint8_t *env;
	size_t len;
	struct envelope_info e;
	uint8_t att[16];
	uint8_t data[1000];
};

static void upload_body(Dx__RequestBody *b, Dx__UploadOp *u, struct mail *m)
{
	dx__upload_op__init(u);
	u->attachment_id = (ProtobufCBinaryData){ 16, m->att };
	u->offset = 0;
	u->data = (ProtobufCBinaryData){ sizeof(m->data), m->data };
	u->total_size = sizeof(m->data);
	b->op_case = DX__REQUEST_BODY__OP_UPLOAD;
	b->upload = u;
}

static void make_mail(struct mail *m, const char *text)
{
	struct seal_peer peer;
	uint8_t eid[16];
	memset(&peer, 0, sizeof(peer));
	memcpy(peer.state, "MEX", 4);
	keys_identity_pk(H.mex, peer.identity_pk);
	keys_static_pk(H.mex, peer.static_pk);
	memcpy(peer.prekey_pk, keys_prekey_current(H.mex, dx_now_ms())->pk, 32);
	randombytes_buf(m->att, sizeof(m->att));
	randombytes_buf(m->data, sizeof(m->data));
	const uint8_t(*ids)[16] = (const uint8_t(*)[16])m->att;
	struct seal_params p = {
		.sender = H.fra,
		.recipient = &peer,
		.sequence = 1,
		.created_ms = dx_now_ms(),
		.attachment_ids = ids,
		.n_attachment_ids = 1,
		.body = (const uint8_t *)text,
		.body_len = strlen(text),
	};
	assert_dx_ok(seal_envelope(&p, &m->env, &m->len, eid, NULL));
	assert_dx_ok(envelope_parse(m->env, m->len, &m->e));
}

/* Fetch, ack, download and statements of FRA's mail to MEX, asked by BFA. */
void test_other_states_mail(void **state)
{
	(void)state;
	struct tclient cf, cb;
	struct mail m;
	rh_open_client(&cf, H.fra);
	rh_open_client(&cb, H.bfa);
	make_mail(&m, "for MEX only");
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__UploadOp u;
	upload_body(&b, &u, &m);
	expect_status(rh_call(&cf, &b, DX_OK), DX_OK, "upload");
	expect_status(rh_submit(&cf, m.env, m.len, DX_OK), DX_OK, "submit");
	uint64_t size0 = abuse_tree_size();

	uint8_t *raw = NULL;
	size_t raw_len;
	for (int ack = 0; ack < 2; ack++) {
		Dx__RelayResponse *r =
			rh_fetch_or_ack(&cb, ack, m.e.digest, DX_ENOT_RECIPIENT, &raw, &raw_len);
		dx__relay_response__free_unpacked(r, NULL);
		free(raw);
	}
	Dx__RequestBody d = DX__REQUEST_BODY__INIT;
	Dx__DownloadOp dop = DX__DOWNLOAD_OP__INIT;
	dop.attachment_id = (ProtobufCBinaryData){ 16, m.att };
	dop.envelope_digest = (ProtobufCBinaryData){ 32, m.e.digest };
	dop.max = 4096;
	d.op_case = DX__REQUEST_BODY__OP_DOWNLOAD;
	d.download = &dop;
	expect_status(rh_call(&cb, &d, DX_ENOT_RECIPIENT), DX_ENOT_RECIPIENT, "BFA downloading");
	Dx__RequestBody st = DX__REQUEST_BODY__INIT;
	Dx__StatementsOp so = DX__STATEMENTS_OP__INIT;
	so.envelope_digest = (ProtobufCBinaryData){ 32, m.e.digest };
	st.op_case = DX__REQUEST_BODY__OP_STATEMENTS;
	st.statements = &so;
	expect_status(rh_call(&cb, &st, DX_ENOT_RECIPIENT), DX_ENOT_RECIPIENT,
		      "BFA asking for the statements");
	/* And the sender cannot fetch its own envelope back either. */
	Dx__RelayResponse *r =
		rh_fetch_or_ack(&cf, 0, m.e.digest, DX_ENOT_RECIPIENT, &raw, &raw_len);
	dx__relay_response__free_unpacked(r, NULL);
	free(raw);
	assert_int_equal(abuse_tree_size(), size0);

	/* MEX takes its mail, so that later cases start from an empty mailbox. */
	struct tclient cm;
	rh_open_client(&cm, H.mex);
	for (int ack = 0; ack < 2; ack++) {
		r = rh_fetch_or_ack(&cm, ack, m.e.digest, DX_OK, &raw, &raw_len);
		dx__relay_response__free_unpacked(r, NULL);
		free(raw);
	}
	free(m.env);
	tclient_close(&cm);
	tclient_close(&cf);
	tclient_close(&cb);
	abuse_check_alive("another State's mail");
}

/* ---- replay of every request type ---- */

struct replay_case {
	const char *name;
	struct tclient *c;
	int want;	    /* the status of the first answer */
	uint64_t leaves;    /* leaves the first answer adds to the log */
	Dx__RequestBody *b; /* the op set; node, id and time are filled here */
};

static int same_bytes(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/*
 * Whether a resend got the same answer as the first: the status, message,
 * receipt (leaf, time, salt), mail, envelope, data, roster, proofs and
 * statements. The checkpoint each carries is not compared: it is the
 * relay's latest at the time, and another member may have grown the log.
 */
static int same_answer(const Dx__RelayResponse *a, const Dx__RelayResponse *b)
{
	if (a->status != b->status || strcmp(a->message, b->message) != 0 ||
	    (a->receipt == NULL) != (b->receipt == NULL) || a->n_mail != b->n_mail ||
	    !same_bytes(&a->envelope, &b->envelope) || !same_bytes(&a->data, &b->data) ||
	    a->total_size != b->total_size || a->n_roster != b->n_roster ||
	    a->n_proof != b->n_proof || a->n_statements != b->n_statements) {
		return 0;
	}
	if (a->receipt != NULL && (a->receipt->leaf_index != b->receipt->leaf_index ||
				   a->receipt->time_ms != b->receipt->time_ms ||
				   !same_bytes(&a->receipt->salt, &b->receipt->salt))) {
		return 0;
	}
	for (size_t i = 0; i < a->n_mail; i++) {
		if (!same_bytes(&a->mail[i]->digest, &b->mail[i]->digest)) {
			return 0;
		}
	}
	for (size_t i = 0; i < a->n_proof; i++) {
		if (!same_bytes(&a->proof[i], &b->proof[i])) {
			return 0;
		}
	}
	for (size_t i = 0; i < a->n_statements; i++) {
		if (a->statements[i]->leaf_index != b->statements[i]->leaf_index) {
			return 0;
		}
	}
	return 1;
}

/*
 * Sends one signed request twice: the resend must get the same answer and
 * add nothing to the log; the same id with another body is DX_EREQ_REPLAY;
 * a request outside the time window, on either side, is DX_EREQ_STALE.
 */
static void replay(const struct replay_case *rc, Dx__RelayResponse **first)
{
	uint8_t id[RELAY_REQUEST_ID_LEN], *raw = NULL;
	size_t len;
	uint64_t size0 = abuse_tree_size(), now = dx_now_ms();
	randombytes_buf(id, sizeof(id));
	abuse_sign_as(rc->c->k, keys_state(rc->c->k), rc->b, id, now, &raw, &len);
	Dx__RelayResponse *a = abuse_call_raw(rc->c, raw, len);
	if (a->status != rc->want) {
		fail_msg("%s: the relay answered %s (%s), want %s", rc->name, dx_errname(a->status),
			 a->message, dx_errname(rc->want));
	}
	uint64_t size1 = abuse_tree_size();
	Dx__RelayResponse *b = abuse_call_raw(rc->c, raw, len);
	uint64_t size2 = abuse_tree_size();
	if (!same_answer(a, b)) {
		fail_msg("%s: the resend got another answer (%s, then %s)", rc->name,
			 dx_errname(a->status), dx_errname(b->status));
	}
	if (size1 - size0 != rc->leaves || size2 != size1) {
		fail_msg("%s: the log grew by %llu, then by %llu on the resend (want %llu, 0)",
			 rc->name, (unsigned long long)(size1 - size0),
			 (unsigned long long)(size2 - size1), (unsigned long long)rc->leaves);
	}
	dx__relay_response__free_unpacked(b, NULL);
	free(raw);

	/* The same id, another body (one millisecond later). */
	abuse_sign_as(rc->c->k, keys_state(rc->c->k), rc->b, id, now + 1, &raw, &len);
	b = abuse_call_raw(rc->c, raw, len);
	if (b->status != DX_EREQ_REPLAY) {
		fail_msg("%s: the same id with another body got %s", rc->name,
			 dx_errname(b->status));
	}
	dx__relay_response__free_unpacked(b, NULL);
	free(raw);

	/* Old and future requests, with fresh ids. */
	const uint64_t when[2] = { now - ABUSE_WINDOW_MS - 60000, now + ABUSE_WINDOW_MS + 60000 };
	for (int i = 0; i < 2; i++) {
		randombytes_buf(id, sizeof(id));
		abuse_sign_as(rc->c->k, keys_state(rc->c->k), rc->b, id, when[i], &raw, &len);
		b = abuse_call_raw(rc->c, raw, len);
		if (b->status != DX_EREQ_STALE) {
			fail_msg("%s: a request %s the window got %s", rc->name,
				 i == 0 ? "before" : "after", dx_errname(b->status));
		}
		dx__relay_response__free_unpacked(b, NULL);
		free(raw);
	}
	assert_int_equal(abuse_tree_size(), size2);
	if (first != NULL) {
		*first = a;
	} else {
		dx__relay_response__free_unpacked(a, NULL);
	}
	printf("abuse: replay of %s: resend answered alike, %llu leaf, id reuse refused, stale "
	       "refused\n",
	       rc->name, (unsigned long long)rc->leaves);
}

static size_t count_mail(const Dx__RelayResponse *r, const uint8_t digest[32])
{
	size_t n = 0;
	for (size_t i = 0; i < r->n_mail; i++) {
		n += r->mail[i]->digest.len == 32 &&
		     memcmp(r->mail[i]->digest.data, digest, 32) == 0;
	}
	return n;
}

void test_replay_every_type(void **state)
{
	(void)state;
	struct tclient cf, cm;
	struct mail m;
	Dx__RelayResponse *r = NULL;
	rh_open_client(&cf, H.fra);
	rh_open_client(&cm, H.mex);
	make_mail(&m, "replayed");

	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__CheckpointOp g = DX__CHECKPOINT_OP__INIT;
	b.op_case = DX__REQUEST_BODY__OP_GET_CHECKPOINT;
	b.get_checkpoint = &g;
	replay(&(struct replay_case){ "get_checkpoint", &cf, DX_OK, 0, &b }, NULL);

	Dx__RosterOp ro = DX__ROSTER_OP__INIT;
	b = (Dx__RequestBody)DX__REQUEST_BODY__INIT;
	b.op_case = DX__REQUEST_BODY__OP_ROSTER;
	b.roster = &ro;
	replay(&(struct replay_case){ "roster", &cf, DX_OK, 0, &b }, NULL);

	Dx__UploadOp u;
	b = (Dx__RequestBody)DX__REQUEST_BODY__INIT;
	upload_body(&b, &u, &m);
	replay(&(struct replay_case){ "upload", &cf, DX_OK, 0, &b }, &r);
	assert_int_equal(r->total_size, sizeof(m.data));
	dx__relay_response__free_unpacked(r, NULL);

	Dx__SubmitOp so = DX__SUBMIT_OP__INIT;
	so.envelope = (ProtobufCBinaryData){ m.len, m.env };
	b = (Dx__RequestBody)DX__REQUEST_BODY__INIT;
	b.op_case = DX__REQUEST_BODY__OP_SUBMIT;
	b.submit = &so;
	replay(&(struct replay_case){ "submit", &cf, DX_OK, 1, &b }, &r);
	uint64_t accepted = r->receipt->leaf_index;
	dx__relay_response__free_unpacked(r, NULL);

	Dx__ListOp lo = DX__LIST_OP__INIT;
	lo.max = 256;
	b = (Dx__RequestBody)DX__REQUEST_BODY__INIT;
	b.op_case = DX__REQUEST_BODY__OP_LIST;
	b.list = &lo;
	replay(&(struct replay_case){ "list", &cm, DX_OK, 0, &b }, &r);
	assert_int_equal(count_mail(r, m.e.digest), 1); /* one mailbox entry */
	dx__relay_response__free_unpacked(r, NULL);

	Dx__FetchOp fo = DX__FETCH_OP__INIT;
	fo.digest = (ProtobufCBinaryData){ 32, m.e.digest };
	b = (Dx__RequestBody)DX__REQUEST_BODY__INIT;
	b.op_case = DX__REQUEST_BODY__OP_FETCH;
	b.fetch = &fo;
	replay(&(struct replay_case){ "fetch", &cm, DX_OK, 1, &b }, &r);
	assert_true(same_bytes(&r->envelope, &(ProtobufCBinaryData){ m.len, m.env }));
	dx__relay_response__free_unpacked(r, NULL);

	Dx__DownloadOp dop = DX__DOWNLOAD_OP__INIT;
	dop.attachment_id = (ProtobufCBinaryData){ 16, m.att };
	dop.envelope_digest = (ProtobufCBinaryData){ 32, m.e.digest };
	dop.max = 4096;
	b = (Dx__RequestBody)DX__REQUEST_BODY__INIT;
	b.op_case = DX__REQUEST_BODY__OP_DOWNLOAD;
	b.download = &dop;
	replay(&(struct replay_case){ "download", &cm, DX_OK, 0, &b }, &r);
	assert_true(same_bytes(&r->data, &(ProtobufCBinaryData){ sizeof(m.data), m.data }));
	dx__relay_response__free_unpacked(r, NULL);

	Dx__StatementsOp sto = DX__STATEMENTS_OP__INIT;
	sto.envelope_digest = (ProtobufCBinaryData){ 32, m.e.digest };
	b = (Dx__RequestBody)DX__REQUEST_BODY__INIT;
	b.op_case = DX__REQUEST_BODY__OP_STATEMENTS;
	b.statements = &sto;
	replay(&(struct replay_case){ "statements", &cf, DX_OK, 0, &b }, NULL);

	Dx__AckOp ao = DX__ACK_OP__INIT;
	ao.digest = (ProtobufCBinaryData){ 32, m.e.digest };
	b = (Dx__RequestBody)DX__REQUEST_BODY__INIT;
	b.op_case = DX__REQUEST_BODY__OP_ACK;
	b.ack = &ao;
	replay(&(struct replay_case){ "ack", &cm, DX_OK, 1, &b }, NULL);

	uint64_t size = abuse_tree_size();
	Dx__InclusionOp io = DX__INCLUSION_OP__INIT;
	io.index = accepted;
	io.tree_size = size;
	b = (Dx__RequestBody)DX__REQUEST_BODY__INIT;
	b.op_case = DX__REQUEST_BODY__OP_INCLUSION;
	b.inclusion = &io;
	replay(&(struct replay_case){ "inclusion", &cf, DX_OK, 0, &b }, NULL);

	Dx__ConsistencyOp co = DX__CONSISTENCY_OP__INIT;
	co.old_size = accepted + 1;
	co.new_size = size;
	b = (Dx__RequestBody)DX__REQUEST_BODY__INIT;
	b.op_case = DX__REQUEST_BODY__OP_CONSISTENCY;
	b.consistency = &co;
	replay(&(struct replay_case){ "consistency", &cf, DX_OK, 0, &b }, NULL);

	/* A resend of a publish gets the receipt of the leaf the first one
	 * made, like every other write. */
	uint8_t *entry = NULL;
	size_t entry_len;
	assert_dx_ok(
		roster_entry_build(H.fra, "FRA", NULL, 0, dx_now_ms() + 1000, &entry, &entry_len));
	Dx__PublishOp po = DX__PUBLISH_OP__INIT;
	po.signed_entry = (ProtobufCBinaryData){ entry_len, entry };
	b = (Dx__RequestBody)DX__REQUEST_BODY__INIT;
	b.op_case = DX__REQUEST_BODY__OP_PUBLISH;
	b.publish = &po;
	replay(&(struct replay_case){ "publish", &cf, DX_OK, 1, &b }, NULL);
	free(entry);

	free(m.env);
	tclient_close(&cf);
	tclient_close(&cm);
	abuse_check_alive("replays");
}
