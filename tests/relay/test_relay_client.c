/*
 * test_relay_client.c: the State node's asynchronous relay client
 * (daemon/node/relay_client.h) against a real divex-relay child process,
 * over tcp and tls+tcp with the relay's certificate pinned.
 *
 * Each test owns a libuv loop with a deadline timer, runs it until the
 * callbacks it waits for have fired (never a sleep), closes every client and
 * handle, and asserts that uv_loop_close() succeeds. Forged answers come from
 * a proxy on the same loop that passes requests to the relay and tampers
 * with its answers: a flipped proof byte, a flipped checkpoint byte, another
 * envelope in place of the one asked for. Each must end in DX_EPROOF.
 * Checkpoints that contradict the client's are signed with the relay's own
 * key (loaded from its home), as only a misbehaving relay could.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "canon.h"
#include "harness.h"
#include "relay_client.h"
#include "roster.h"
#include "signer.h"
#include "rc_fixture.h"
#include "testlib.h"

/* Submit, list, fetch, open, acknowledge: every receipt verified by the client. */
static void test_exchange(void **state)
{
	(void)state;
	struct envelope_info e;
	struct res sub, r;
	size_t len;
	fx_init();
	struct relay_client *cf = open_client(H.fra, NULL);
	struct relay_client *cm = open_client(H.mex, NULL);
	uint8_t *env = rh_seal_for(H.fra, H.mex, CANARY, &len, &e);

	assert_dx_ok(submit(cf, env, len, &sub));
	assert_true(sub.has_salt);
	/* The stored receipt is a canonical Receipt that proves the accepted leaf. */
	ProtobufCMessage *m = NULL;
	assert_dx_ok(proto_unpack_strict(&dx__receipt__descriptor, sub.receipt, sub.receipt_len,
					 RELAY_RESPONSE_MAX, &m));
	assert_dx_ok(
		relay_client_verify_accepted(&H.rid, e.digest, "FRA", "MEX", (Dx__Receipt *)m));
	assert_int_equal(((Dx__Receipt *)m)->leaf_index, sub.leaf_index);
	protobuf_c_message_free_unpacked(m, NULL);

	memset(&r, 0, sizeof(r));
	assert_dx_ok(relay_client_list(cm, 0, 0, list_cb, &r));
	WAIT_FOR(r.done);
	assert_dx_ok(r.rc);
	assert_true(mail_has(&r, e.digest));
	for (size_t i = 0; i < r.n; i++) {
		assert_string_equal(r.mail[i].sender, "FRA");
	}

	memset(&r, 0, sizeof(r));
	assert_dx_ok(relay_client_fetch(cm, e.digest, fetch_cb, &r));
	WAIT_FOR(r.done);
	assert_dx_ok(r.rc);
	assert_int_equal(r.env_len, len);
	assert_memory_equal(r.env, env, len);
	/* The recipient gets the salt that opens the accepted leaf's commitments. */
	assert_true(r.has_salt);
	assert_memory_equal(r.salt, sub.salt, RELAY_SALT_LEN);
	struct open_params op = {
		.recipient = H.mex,
		.lookup_sender = rh_lookup_fra,
		.now_ms = dx_now_ms(),
		.max_age_ms = OPEN_DEFAULT_MAX_AGE_MS,
		.max_skew_ms = OPEN_DEFAULT_MAX_SKEW_MS,
	};
	struct opened o;
	assert_dx_ok(open_envelope(&op, r.env, r.env_len, &o));
	assert_memory_equal(o.body, CANARY, strlen(CANARY));
	opened_clear(&o);
	res_free(&r);

	assert_dx_ok(relay_client_ack(cm, e.digest, receipt_cb, &r));
	WAIT_FOR(r.done);
	assert_dx_ok(r.rc);
	assert_false(r.has_salt);
	assert_true(r.leaf_index > sub.leaf_index);
	res_free(&r);

	assert_dx_ok(relay_client_list(cm, 0, 0, list_cb, &r));
	WAIT_FOR(r.done);
	assert_false(mail_has(&r, e.digest));
	/* Gone once acknowledged: the relay's code comes through unchanged. */
	memset(&r, 0, sizeof(r));
	assert_dx_ok(relay_client_fetch(cm, e.digest, fetch_cb, &r));
	WAIT_FOR(r.done);
	assert_int_equal(r.rc, DX_ENOENT);
	assert_null(r.env);

	/* The roster: the three admitted States, entries passed on as they are. */
	memset(&r, 0, sizeof(r));
	assert_dx_ok(relay_client_roster(cm, 0, 0, roster_cb, &r));
	WAIT_FOR(r.done);
	assert_dx_ok(r.rc);
	assert_true(r.n >= 3);
	assert_false(r.more);
	size_t whole = r.n;
	/* Page by page, one entry at a time: the same entries, in ascending
	 * log index, the last page saying that none follow. */
	uint64_t since = 0, pages = 0, prev = 0;
	for (int more = 1; more; pages++) {
		memset(&r, 0, sizeof(r));
		assert_dx_ok(relay_client_roster(cm, since, 1, roster_cb, &r));
		WAIT_FOR(r.done);
		assert_dx_ok(r.rc);
		assert_int_equal(r.n, 1);
		assert_true(pages == 0 || r.last_index > prev);
		prev = r.last_index;
		since = r.last_index + 1;
		more = r.more;
		assert_true(pages < 64);
	}
	assert_int_equal(pages, whole);

	/* Checkpoints were tracked: every adoption after the first was proved. */
	struct relay_client_stats st;
	relay_client_stats(cf, &st);
	if (st.alarms != 0 || F.alarms != 0) {
		/* What the client refused, so that a rare failure can be read. */
		fail_msg("FRA's client raised %llu alarm(s) (%d by callback): %s; held:\n%s\n"
			 "refused:\n%s",
			 (unsigned long long)st.alarms, F.alarms, dx_errname(F.alarm_code),
			 F.alarm_old, F.alarm_new);
	}
	relay_client_stats(cm, &st);
	assert_int_equal(st.alarms, 0);
	assert_int_equal(st.proof_requests, st.adopted);
	assert_true(st.adopted >= 1); /* the fetch and the ack each grew the log */
	assert_int_equal(F.alarms, 0);
	sub.done = 0;
	res_free(&sub);
	free(env);
	close_client(cf);
	close_client(cm);
	fx_fini();
}

/* Refusals pass through unchanged; bad calls fail at once without a callback. */
static void test_refusals(void **state)
{
	(void)state;
	struct envelope_info e;
	struct res r;
	size_t len;
	fx_init();
	struct relay_client *cf = open_client(H.fra, NULL);
	struct relay_client *cg = open_client(H.gbr, NULL);
	uint8_t *env = rh_seal_for(H.fra, H.gbr, "to a non-member", &len, &e);
	assert_int_equal(submit(cf, env, len, &r), DX_ENOT_MEMBER);
	assert_null(r.receipt);
	free(env);
	env = rh_seal_for(H.gbr, H.fra, "from a non-member", &len, &e);
	assert_int_equal(submit(cg, env, len, &r), DX_ENOT_MEMBER);
	/* The same envelope from the wrong State: the relay checks the sender. */
	assert_int_equal(submit(cf, env, len, &r), DX_EOUTER_SIG);

	static const uint8_t junk[] = "not an envelope";
	assert_dx_err(relay_client_submit(cf, junk, sizeof(junk), receipt_cb, &r), DX_EPARSE);
	assert_dx_err(relay_client_list(cf, 20000, 0, list_cb, &r), DX_EINVAL);
	assert_dx_err(relay_client_list(cf, 0, 0, NULL, &r), DX_EINVAL);
	uint8_t zero[32] = { 0 };
	assert_dx_err(relay_client_download(cf, zero, zero, 0, RELAY_DATA_MAX + 1, NULL, NULL),
		      DX_EINVAL);

	close_client(cf);
	free(env);

	/*
	 * An operation still pending at close ends in DX_ECLOSED, exactly once.
	 * Nothing listens at the client's address, so the request is still
	 * waiting for a connection (nng 1.5.2 can hang in nng_close when a
	 * socket closes while a request is leaving on a live connection).
	 */
	struct relay_client *cd = open_client(H.fra, "tcp://127.0.0.1:1");
	memset(&r, 0, sizeof(r));
	assert_dx_ok(relay_client_sync(cd, done_cb, &r));
	int closed = 0;
	relay_client_close(cd, set_flag, &closed);
	WAIT_FOR(closed);
	assert_int_equal(r.done, 1);
	assert_int_equal(r.rc, DX_ECLOSED);
	assert_dx_err(relay_client_sync(cg, NULL, NULL), DX_EINVAL);
	close_client(cg);
	assert_int_equal(F.alarms, 0);
	fx_fini();
}

/* ---- checkpoints ---- */

static uint64_t stat_of(struct relay_client *c, int which)
{
	struct relay_client_stats s;
	relay_client_stats(c, &s);
	return which == 0 ? s.proof_requests : which == 1 ? s.adopted : s.alarms;
}
#define PROOFS(c) stat_of((c), 0)
#define ADOPTED(c) stat_of((c), 1)
#define ALARMS(c) stat_of((c), 2)

static void grow_log(struct relay_client *cm, int n)
{
	struct envelope_info e;
	struct res r;
	size_t len;
	for (int i = 0; i < n; i++) {
		uint8_t *env = rh_seal_for(H.mex, H.fra, "growing the log", &len, &e);
		assert_dx_ok(submit(cm, env, len, &r));
		res_free(&r);
		free(env);
	}
}

/* The latest checkpoint only grows, each step behind one verified proof. */
static void test_checkpoint_advance(void **state)
{
	(void)state;
	const char *text;
	size_t tlen;
	uint64_t size0, size;
	struct res a[3];
	fx_init();
	struct relay_client *cf = open_client(H.fra, NULL);
	assert_dx_err(relay_client_checkpoint(cf, &text, &tlen, &size0), DX_ENOENT);
	assert_dx_ok(sync_once(cf));
	/* The first checkpoint is taken as it is: there is nothing to prove it against. */
	assert_int_equal(F.checkpoints, 1);
	assert_dx_ok(relay_client_checkpoint(cf, &text, &tlen, &size0));
	assert_int_equal(F.cp_size, size0);
	assert_int_equal(PROOFS(cf), 0);

	struct relay_client *cm = open_client(H.mex, NULL);
	grow_log(cm, 3);
	/* Three answers carrying the same newer checkpoint start one proof request. */
	memset(a, 0, sizeof(a));
	for (int i = 0; i < 3; i++) {
		assert_dx_ok(relay_client_sync(cf, done_cb, &a[i]));
	}
	WAIT_FOR(a[0].done && a[1].done && a[2].done);
	for (int i = 0; i < 3; i++) {
		assert_dx_ok(a[i].rc);
	}
	WAIT_FOR(ADOPTED(cf) == 1);
	assert_int_equal(PROOFS(cf), 1);
	assert_dx_ok(relay_client_checkpoint(cf, &text, &tlen, &size));
	assert_int_equal(size, size0 + 3);

	/* Once more: one growth, one proof, one adoption. */
	grow_log(cm, 1);
	assert_dx_ok(sync_once(cf));
	WAIT_FOR(ADOPTED(cf) == 2);
	assert_int_equal(PROOFS(cf), 2);
	assert_dx_ok(relay_client_checkpoint(cf, &text, &tlen, &size));
	assert_int_equal(size, size0 + 4);
	assert_int_equal(ALARMS(cf), 0);
	/* cm proves the checkpoints its own answers carried in the background:
	 * one may still be in flight; each ends adopted, none in an alarm. */
	WAIT_FOR(PROOFS(cm) == ADOPTED(cm));
	assert_int_equal(ALARMS(cm), 0);
	close_client(cf);
	close_client(cm);
	fx_fini();
}

static void relay_current(char *text, size_t *len, struct checkpoint *cp);

#define BURST 30

struct burst {
	struct relay_client *c;
	uint8_t *env[BURST];
	size_t len[BURST];
	int sent, done, failed;
};

static void burst_cb(void *arg, int rc, const struct relay_receipt_info *r)
{
	struct burst *b = arg;
	(void)r;
	b->done++;
	b->failed += rc != DX_OK;
	/* The next one goes out from here: the client is never idle in between. */
	if (b->sent < BURST) {
		int i = b->sent++;
		assert_dx_ok(relay_client_submit(b->c, b->env[i], b->len[i], burst_cb, b));
	}
}

/*
 * Submissions back to back, each answered with a larger checkpoint: the
 * client proves at most one per interval while busy, and what it queued is
 * proved once it falls idle, so that it ends on the relay's latest
 * checkpoint, every adoption proved, no alarm.
 */
static void test_checkpoint_burst(void **state)
{
	(void)state;
	struct envelope_info e;
	struct burst b = { 0 };
	char text[CHECKPOINT_MAX + 1];
	size_t tlen;
	struct checkpoint cur;
	const char *held;
	size_t hlen;
	uint64_t size;
	fx_init();
	b.c = open_client(H.mex, NULL);
	assert_dx_ok(sync_once(b.c));
	for (int i = 0; i < BURST; i++) {
		b.env[i] = rh_seal_for(H.mex, H.bfa, "a burst", &b.len[i], &e);
	}
	b.sent = 1;
	assert_dx_ok(relay_client_submit(b.c, b.env[0], b.len[0], burst_cb, &b));
	WAIT_FOR(b.done == BURST);
	assert_int_equal(b.failed, 0);
	WAIT_FOR(relay_client_in_flight(b.c) == 0);
	assert_int_equal(PROOFS(b.c), ADOPTED(b.c));
	assert_true(PROOFS(b.c) >= 1);
	assert_true(PROOFS(b.c) <= BURST);
	assert_int_equal(ALARMS(b.c), 0);
	relay_current(text, &tlen, &cur);
	assert_dx_ok(relay_client_checkpoint(b.c, &held, &hlen, &size));
	assert_int_equal(size, cur.size);
	print_message("burst of %d submissions: %llu proofs\n", BURST,
		      (unsigned long long)PROOFS(b.c));
	for (int i = 0; i < BURST; i++) {
		free(b.env[i]);
	}
	close_client(b.c);
	fx_fini();
}

static int sign_cb(void *ctx, uint8_t sig[KEYS_SIG_LEN], const uint8_t *msg, size_t len)
{
	keys_signer_sign(ctx, sig, msg, len);
	return DX_OK;
}

/* A checkpoint signed with the relay's own key: what only a forking relay could produce. */
static void relay_signs(uint64_t size, const uint8_t root[32], char *out, size_t *len)
{
	char key[1100];
	struct keys_signer *s = NULL;
	snprintf(key, sizeof(key), "%s/relay.key", H.home);
	assert_dx_ok(keys_signer_load(key, &s));
	assert_dx_ok(checkpoint_sign(NAME, size, root, NAME, H.rid.pk, sign_cb, s, out,
				     CHECKPOINT_MAX + 1, len));
	keys_signer_free(s);
}

/* The relay's current checkpoint, as a fresh client sees it. */
static void relay_current(char *text, size_t *len, struct checkpoint *cp)
{
	const char *t;
	uint64_t size;
	struct relay_client *c = open_client(H.bfa, NULL);
	assert_dx_ok(sync_once(c));
	assert_dx_ok(relay_client_checkpoint(c, &t, len, &size));
	memcpy(text, t, *len + 1);
	assert_dx_ok(
		checkpoint_parse_verify((const uint8_t *)text, *len, NAME, NAME, H.rid.pk, cp));
	close_client(c);
}

/*
 * Equivocation: the client holds a checkpoint of the relay's current size
 * with another root. It keeps its own and refuses the relay's, with both
 * texts as evidence, once; and a later, larger checkpoint cannot be proved
 * consistent with what it holds.
 */
static void test_equivocation(void **state)
{
	(void)state;
	char real[CHECKPOINT_MAX + 1], forged[CHECKPOINT_MAX + 1];
	size_t real_len, forged_len, len;
	const char *text;
	uint64_t size;
	struct checkpoint cp;
	fx_init();
	relay_current(real, &real_len, &cp);
	cp.root[0] ^= 1;
	relay_signs(cp.size, cp.root, forged, &forged_len);

	struct relay_client *cf = open_client(H.fra, NULL);
	assert_dx_ok(relay_client_set_checkpoint(cf, (const uint8_t *)forged, forged_len));
	assert_dx_err(relay_client_set_checkpoint(cf, (const uint8_t *)real, real_len), DX_EEXIST);
	/* The operation itself succeeds; the alarm is the node's to act on. */
	assert_dx_ok(sync_once(cf));
	assert_int_equal(F.alarms, 1);
	assert_int_equal(F.alarm_code, DX_ELOG_INCONSISTENT);
	assert_string_equal(F.alarm_old, forged);
	assert_string_equal(F.alarm_new, real);
	assert_dx_ok(relay_client_checkpoint(cf, &text, &len, &size));
	assert_int_equal(len, forged_len);
	assert_memory_equal(text, forged, len);
	/* The same refused checkpoint again raises nothing new. */
	assert_dx_ok(sync_once(cf));
	assert_int_equal(F.alarms, 1);

	/* The log grows: no proof links the forged root to the relay's new tree. */
	struct relay_client *cm = open_client(H.mex, NULL);
	grow_log(cm, 1);
	close_client(cm);
	/* cm adopts what it is shown (its session's answer, then its
	 * receipt's checkpoint); cf must adopt nothing from here on. */
	int before = F.checkpoints;
	F.alarms = 0;
	assert_dx_ok(sync_once(cf));
	WAIT_FOR(F.alarms == 1);
	assert_int_equal(F.alarm_code, DX_EPROOF);
	assert_string_equal(F.alarm_old, forged);
	assert_int_equal(PROOFS(cf), 1);
	assert_int_equal(ADOPTED(cf), 0);
	assert_dx_ok(relay_client_checkpoint(cf, &text, &len, &size));
	assert_memory_equal(text, forged, len);
	assert_int_equal(F.checkpoints, before); /* never cf's */
	close_client(cf);
	fx_fini();
}

/* A seeded checkpoint larger than the relay's log: the relay rolled back. */
static void test_rollback(void **state)
{
	(void)state;
	char real[CHECKPOINT_MAX + 1], ahead[CHECKPOINT_MAX + 1];
	size_t real_len, ahead_len, len;
	const char *text;
	uint64_t size;
	struct checkpoint cp;
	uint8_t root[32];
	fx_init();
	relay_current(real, &real_len, &cp);
	randombytes_buf(root, sizeof(root));
	relay_signs(cp.size + 100, root, ahead, &ahead_len);
	struct relay_client *cf = open_client(H.fra, NULL);
	/* A text not signed by the relay's key is refused as a seed. */
	ahead[ahead_len - 5] ^= 1;
	assert_true(relay_client_set_checkpoint(cf, (const uint8_t *)ahead, ahead_len) != DX_OK);
	ahead[ahead_len - 5] ^= 1;
	assert_dx_ok(relay_client_set_checkpoint(cf, (const uint8_t *)ahead, ahead_len));
	assert_dx_ok(sync_once(cf));
	assert_int_equal(F.alarms, 1);
	assert_int_equal(F.alarm_code, DX_ELOG_INCONSISTENT);
	assert_string_equal(F.alarm_old, ahead);
	assert_string_equal(F.alarm_new, real);
	assert_dx_ok(relay_client_checkpoint(cf, &text, &len, &size));
	assert_int_equal(size, cp.size + 100);
	assert_int_equal(PROOFS(cf), 0);
	close_client(cf);
	fx_fini();
}

/* The receipt checks on captured answers: one flipped byte anywhere fails. */
static void test_receipt_checks(void **state)
{
	(void)state;
	struct tclient cf, cm;
	struct envelope_info e;
	size_t len, raw_len;
	uint8_t *raw = NULL;
	rh_open_client(&cf, H.fra);
	rh_open_client(&cm, H.mex);
	uint8_t *env = rh_seal_for(H.fra, H.mex, "captured", &len, &e);
	Dx__RelayResponse *r = rh_submit(&cf, env, len, DX_OK);
	Dx__Receipt *rc = r->receipt;
	assert_dx_ok(relay_client_verify_accepted(&H.rid, e.digest, "FRA", "MEX", rc));
	assert_true(rc->n_proof > 0);
	rc->proof[rc->n_proof - 1].data[7] ^= 1;
	assert_dx_err(relay_client_verify_accepted(&H.rid, e.digest, "FRA", "MEX", rc), DX_EPROOF);
	rc->proof[rc->n_proof - 1].data[7] ^= 1;
	rc->salt.data[0] ^= 1;
	assert_dx_err(relay_client_verify_accepted(&H.rid, e.digest, "FRA", "MEX", rc), DX_EPROOF);
	rc->salt.data[0] ^= 1;
	assert_dx_err(relay_client_verify_accepted(&H.rid, e.digest, "FRA", "BFA", rc), DX_EPROOF);
	rc->time_ms++;
	assert_dx_err(relay_client_verify_accepted(&H.rid, e.digest, "FRA", "MEX", rc), DX_EPROOF);
	rc->time_ms--;
	rc->leaf_index++;
	assert_dx_err(relay_client_verify_accepted(&H.rid, e.digest, "FRA", "MEX", rc), DX_EPROOF);
	rc->leaf_index--;
	struct relay_identity other = H.rid;
	other.pk[0] ^= 1;
	assert_dx_err(relay_client_verify_accepted(&other, e.digest, "FRA", "MEX", rc), DX_EPROOF);
	dx__relay_response__free_unpacked(r, NULL);

	r = rh_fetch_or_ack(&cm, 0, e.digest, DX_OK, &raw, &raw_len);
	rc = r->receipt;
	assert_dx_ok(relay_client_verify_statement(&H.rid, RELAY_LEAF_FETCHED, e.digest, raw,
						   raw_len, rc));
	assert_dx_err(
		relay_client_verify_statement(&H.rid, RELAY_LEAF_ACKED, e.digest, raw, raw_len, rc),
		DX_EPROOF);
	raw[raw_len / 2] ^= 1;
	assert_dx_err(relay_client_verify_statement(&H.rid, RELAY_LEAF_FETCHED, e.digest, raw,
						    raw_len, rc),
		      DX_EPROOF);
	raw[raw_len / 2] ^= 1;
	rc->proof[0].data[0] ^= 1;
	assert_dx_err(relay_client_verify_statement(&H.rid, RELAY_LEAF_FETCHED, e.digest, raw,
						    raw_len, rc),
		      DX_EPROOF);
	dx__relay_response__free_unpacked(r, NULL);
	free(raw);
	free(env);
	tclient_close(&cf);
	tclient_close(&cm);
}

/* ---- a tampering proxy between the client and the relay ---- */

/*
 * The proxy runs its own loop on its own thread, as a separate process
 * would: closing a client's nng socket on a loop blocks that loop until
 * nng has reaped the connection, which must not wait for the same loop.
 */
enum px_mode { PX_PASS, PX_PROOF, PX_CHECKPOINT, PX_ENVELOPE };

struct proxy {
	uv_loop_t loop;
	uv_thread_t thread;
	uv_sem_t ready;
	uv_async_t stop;
	struct bridge_server *srv;
	struct bridge_client *up;
	atomic_int mode;
	atomic_int tampered;
	const uint8_t *other_env; /* set before PX_ENVELOPE, read on the proxy thread */
	size_t other_len;
	int closing;
	char url[64];
};

struct px_req {
	struct proxy *p;
	struct bridge_request *breq;
};

static void px_tamper(struct proxy *p, Dx__RelayResponse *r)
{
	switch (atomic_load(&p->mode)) {
	case PX_PROOF:
		if (r->receipt != NULL && r->receipt->n_proof > 0) {
			r->receipt->proof[0].data[0] ^= 1;
			atomic_fetch_add(&p->tampered, 1);
		}
		break;
	case PX_CHECKPOINT:
		if (r->checkpoint.len > 10) {
			r->checkpoint.data[r->checkpoint.len - 10] ^= 1;
			atomic_fetch_add(&p->tampered, 1);
		}
		break;
	default:
		break;
	}
}

static void px_answer(void *arg, int rc, const uint8_t *data, size_t len)
{
	struct px_req *q = arg;
	ProtobufCMessage *m = NULL;
	uint8_t *buf = NULL;
	size_t blen;
	if (rc != DX_OK) {
		bridge_drop(q->breq);
		free(q);
		return;
	}
	if (proto_unpack_strict(&dx__relay_response__descriptor, data, len, RELAY_RESPONSE_MAX,
				&m) != DX_OK) {
		(void)bridge_reply(q->breq, data, len);
		free(q);
		return;
	}
	Dx__RelayResponse *r = (Dx__RelayResponse *)m;
	px_tamper(q->p, r);
	ProtobufCBinaryData env = r->envelope;
	if (atomic_load(&q->p->mode) == PX_ENVELOPE && env.len > 0) {
		/* Another valid envelope than the one asked for; the receipt is untouched. */
		r->envelope = (ProtobufCBinaryData){ q->p->other_len, (uint8_t *)q->p->other_env };
		atomic_fetch_add(&q->p->tampered, 1);
	}
	if (proto_pack_alloc(m, &buf, &blen) == DX_OK) {
		(void)bridge_reply(q->breq, buf, blen);
	} else {
		bridge_drop(q->breq);
	}
	r->envelope = env; /* protobuf-c frees what it allocated */
	free(buf);
	protobuf_c_message_free_unpacked(m, NULL);
	free(q);
}

static void px_handle(void *arg, struct bridge_request *req, const uint8_t *data, size_t len)
{
	struct px_req *q = malloc(sizeof(*q));
	if (q == NULL) {
		bridge_drop(req);
		return;
	}
	q->p = arg;
	q->breq = req;
	if (bridge_client_request(q->p->up, data, len, px_answer, q) != DX_OK) {
		bridge_drop(req);
		free(q);
	}
}

static void px_closed(void *arg)
{
	struct proxy *p = arg;
	if (++p->closing == 3) {
		uv_close((uv_handle_t *)&p->stop, NULL);
	}
}

static void px_stop(uv_async_t *a)
{
	struct proxy *p = a->data;
	p->closing = 1;
	bridge_server_close(p->srv, px_closed, p);
	bridge_client_close(p->up, px_closed, p);
}

static void px_thread(void *arg)
{
	struct proxy *p = arg;
	char ca[1100];
	int port = 0;
	snprintf(ca, sizeof(ca), "%s/tls-cert.pem", H.home);
	struct bridge_client_config cc = {
		.url = H.url,
		.contexts = 8,
		.recv_max = RELAY_RESPONSE_MAX,
		.send_max = RELAY_REQUEST_MAX,
		.resend_ms = 5000,
		.timeout_ms = 20000,
		.tls = { .ca_file = H.use_tls ? ca : NULL,
			 .server_name = H.use_tls ? "127.0.0.1" : NULL },
	};
	struct bridge_server_config sc = {
		.url = "tcp://127.0.0.1:0",
		.contexts = 8,
		.recv_max = RELAY_REQUEST_MAX,
	};
	if (bridge_client_open(&p->loop, &cc, &p->up) != DX_OK ||
	    bridge_server_open(&p->loop, &sc, px_handle, p, &p->srv) != DX_OK ||
	    bridge_server_port(p->srv, &port) != DX_OK) {
		abort();
	}
	snprintf(p->url, sizeof(p->url), "tcp://127.0.0.1:%d", port);
	uv_sem_post(&p->ready);
	uv_run(&p->loop, UV_RUN_DEFAULT);
}

static void px_open(struct proxy *p)
{
	memset(p, 0, sizeof(*p));
	assert_int_equal(uv_loop_init(&p->loop), 0);
	assert_int_equal(uv_async_init(&p->loop, &p->stop, px_stop), 0);
	p->stop.data = p;
	assert_int_equal(uv_sem_init(&p->ready, 0), 0);
	assert_int_equal(uv_thread_create(&p->thread, px_thread, p), 0);
	uv_sem_wait(&p->ready);
	uv_sem_destroy(&p->ready);
}

static void px_close(struct proxy *p)
{
	uv_async_send(&p->stop);
	assert_int_equal(uv_thread_join(&p->thread), 0);
	assert_int_equal(uv_loop_close(&p->loop), 0);
}

/* Forged answers end in DX_EPROOF and are never reported as a success. */
static void test_forged_answers(void **state)
{
	(void)state;
	struct envelope_info e1, e2;
	struct res r;
	size_t len1, len2;
	struct proxy p;
	fx_init();
	px_open(&p);
	struct relay_client *cf = open_client(H.fra, p.url);
	struct relay_client *cm = open_client(H.mex, p.url);
	uint8_t *env1 = rh_seal_for(H.fra, H.mex, "first", &len1, &e1);
	uint8_t *env2 = rh_seal_for(H.fra, H.mex, "second", &len2, &e2);

	atomic_store(&p.mode, PX_PROOF);
	assert_int_equal(submit(cf, env1, len1, &r), DX_EPROOF);
	assert_null(r.receipt);
	assert_int_equal(atomic_load(&p.tampered), 1);
	/* Untouched, the same submission proves itself (a resend: the same leaf). */
	atomic_store(&p.mode, PX_PASS);
	assert_dx_ok(submit(cf, env1, len1, &r));
	res_free(&r);

	/* An answer whose checkpoint is not the relay's proves nothing, and is no evidence. */
	atomic_store(&p.mode, PX_CHECKPOINT);
	assert_int_equal(submit(cf, env2, len2, &r), DX_EPROOF);
	assert_int_equal(sync_once(cf), DX_EPROOF);
	assert_int_equal(F.alarms, 0);
	atomic_store(&p.mode, PX_PASS);
	assert_dx_ok(submit(cf, env2, len2, &r));
	res_free(&r);

	/* The relay hands over another envelope than the one asked for. */
	p.other_env = env2;
	p.other_len = len2;
	atomic_store(&p.mode, PX_ENVELOPE);
	memset(&r, 0, sizeof(r));
	assert_dx_ok(relay_client_fetch(cm, e1.digest, fetch_cb, &r));
	WAIT_FOR(r.done);
	assert_int_equal(r.rc, DX_EPROOF);
	assert_null(r.env);
	atomic_store(&p.mode, PX_PASS);
	memset(&r, 0, sizeof(r));
	assert_dx_ok(relay_client_fetch(cm, e1.digest, fetch_cb, &r));
	WAIT_FOR(r.done);
	assert_dx_ok(r.rc);
	assert_memory_equal(r.env, env1, len1);
	res_free(&r);
	assert_int_equal(F.alarms, 0);
	close_client(cf);
	close_client(cm);
	px_close(&p);
	free(env1);
	free(env2);
	fx_fini();
}

/*
 * Publishing: refusals pass through. (A successful publish is not tested
 * here: the relay's answer does not yet carry the leaf's time, so its
 * receipt cannot be verified, and the client reports DX_EPROOF.)
 */
static void test_publish_refused(void **state)
{
	(void)state;
	uint8_t *entry = NULL;
	size_t len;
	struct res r;
	fx_init();
	struct relay_client *cb = open_client(H.bfa, NULL);
	struct relay_client *cg = open_client(H.gbr, NULL);
	assert_dx_ok(roster_entry_build(H.fra, "France", NULL, 0, dx_now_ms(), &entry, &len));
	/* Another State's entry. */
	memset(&r, 0, sizeof(r));
	assert_dx_ok(relay_client_publish(cb, entry, len, receipt_cb, &r));
	WAIT_FOR(r.done);
	assert_int_equal(r.rc, DX_EROSTER);
	assert_null(r.receipt);
	free(entry);
	/* A State that was never admitted. */
	assert_dx_ok(
		roster_entry_build(H.gbr, "United Kingdom", NULL, 0, dx_now_ms(), &entry, &len));
	memset(&r, 0, sizeof(r));
	assert_dx_ok(relay_client_publish(cg, entry, len, receipt_cb, &r));
	WAIT_FOR(r.done);
	assert_int_equal(r.rc, DX_ENOT_MEMBER);
	free(entry);
	close_client(cb);
	close_client(cg);
	fx_fini();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exchange),	   cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_checkpoint_advance), cmocka_unit_test(test_checkpoint_burst),
		cmocka_unit_test(test_equivocation),
		cmocka_unit_test(test_rollback),	   cmocka_unit_test(test_receipt_checks),
		cmocka_unit_test(test_forged_answers),	   cmocka_unit_test(test_publish_refused),
	};
	if (sodium_init() < 0) {
		return 1;
	}
	int rc = cmocka_run_group_tests_name("relay client over tcp", tests, rh_setup, rh_teardown);
	H.use_tls = 1;
	rc |= cmocka_run_group_tests_name("relay client over tls+tcp", tests, rh_setup,
					  rh_teardown);
	return rc;
}
