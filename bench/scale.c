/*
 * scale.c: benchmark 5, the relay at scale.
 *
 * The relay's home is built by bench_scale_build (10,000 admitted States, a
 * log of 1,000,000 entries; see scale_build.c for exactly what it holds),
 * given here as argv[1]. The relay is started on it with 4096 nng contexts:
 * each waiting long-poll holds one of the relay's contexts until it is
 * answered, so the default pool of 64 could not hold 2,000 of them.
 * Then 2,000 States connect, each over its own connection, and long-poll
 * (list with wait_ms 25 s, asked again whenever answered). With those
 * parked, measured, each several times:
 *
 *   - the relay's resident memory (VmRSS) and peak (VmHWM);
 *   - inclusion proof generation at the full tree size, in this process
 *     with the relay's own Merkle code (daemon/core/merkle.c) over the
 *     relay's node table (read through SQLite, as the relay reads it), for
 *     random leaves; and the `inclusion` operation's round trip;
 *   - submit and fetch round trips (signed requests, durable writes) between
 *     two States that are not polling, each fetch followed by its ack;
 *   - wake latency: from sending a submit to a polling State until that
 *     State's long-poll answers;
 *   - the whole roster from index 0, page by page (10,000 entries).
 *
 * Targets: RSS <= 512 MiB; inclusion proof <= 1 ms. The ratio on the last
 * line is the larger of RSS / 512 MiB and proof p50 / 1 ms.
 */
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "bench.h"
#include "brelay.h"
#include "canon.h"
#include "client.h"
#include "merkle.h"

#define POLL_WAIT_MS 25000
#define MAX_POLLERS 4096

struct poller {
	nng_socket sock;
	nng_ctx ctx;
	nng_aio *aio;
	struct keys *k;
	int sending;
	atomic_int answers;
	atomic_uint_fast64_t answered_ns;
};

static struct poller pollers[MAX_POLLERS];
static atomic_int poll_errors, poll_sent;
static atomic_int stopping;

static void poll_send(struct poller *p)
{
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__ListOp l = DX__LIST_OP__INIT;
	uint8_t *req = NULL;
	size_t len;
	nng_msg *m;
	l.wait_ms = POLL_WAIT_MS;
	l.max = 64;
	b.op_case = DX__REQUEST_BODY__OP_LIST;
	b.list = &l;
	BENCH_CHECK(relay_request_sign(p->k, &b, &req, &len));
	BENCH_CHECK(nng_msg_alloc(&m, 0));
	BENCH_CHECK(nng_msg_append(m, req, len));
	free(req);
	p->sending = 1;
	nng_aio_set_msg(p->aio, m);
	nng_ctx_send(p->ctx, p->aio);
}

static void poll_cb(void *arg)
{
	struct poller *p = arg;
	if (nng_aio_result(p->aio) != 0) {
		if (p->sending) {
			nng_msg_free(nng_aio_get_msg(p->aio));
		}
		if (!atomic_load(&stopping)) {
			atomic_fetch_add(&poll_errors, 1);
		}
		return;
	}
	if (p->sending) {
		p->sending = 0;
		atomic_fetch_add(&poll_sent, 1);
		nng_ctx_recv(p->ctx, p->aio);
		return;
	}
	nng_msg_free(nng_aio_get_msg(p->aio));
	atomic_store(&p->answered_ns, bench_now_ns());
	atomic_fetch_add(&p->answers, 1);
	if (!atomic_load(&stopping)) {
		poll_send(p);
	}
}

static void open_poller(struct poller *p, const struct brelay *r, uint32_t member)
{
	char code[4];
	nng_dialer d;
	bench_state_code(member, code);
	p->k = bench_state(code, 0);
	BENCH_CHECK(nng_req0_open(&p->sock));
	nng_socket_set_size(p->sock, NNG_OPT_RECVMAXSZ, RELAY_RESPONSE_MAX);
	nng_socket_set_ms(p->sock, NNG_OPT_REQ_RESENDTIME, 600000);
	BENCH_CHECK(nng_dialer_create(&d, p->sock, r->url));
	BENCH_CHECK(nng_dialer_start(d, NNG_FLAG_NONBLOCK));
	BENCH_CHECK(nng_ctx_open(&p->ctx, p->sock));
	BENCH_CHECK(nng_aio_alloc(&p->aio, poll_cb, p));
	poll_send(p);
}

/* ---- inclusion proofs in this process, over the relay's node table ---- */

static int node_get(void *ctx, unsigned level, uint64_t index, uint8_t out[MERKLE_HASH_LEN])
{
	sqlite3_stmt *st = ctx;
	sqlite3_reset(st);
	sqlite3_bind_int(st, 1, (int)level);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)index);
	if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_bytes(st, 0) != MERKLE_HASH_LEN) {
		return DX_ENOENT;
	}
	memcpy(out, sqlite3_column_blob(st, 0), MERKLE_HASH_LEN);
	return DX_OK;
}

static int node_put(void *ctx, unsigned level, uint64_t index, const uint8_t h[MERKLE_HASH_LEN])
{
	(void)ctx;
	(void)level;
	(void)index;
	(void)h;
	return DX_EINVAL; /* read only */
}

static const struct merkle_store_ops ro_ops = { .get = node_get, .put = node_put };

/* p50 and p99 (us) of proofs for n random leaves; *size receives the tree size. */
static void proofs_in_process(const char *db_path, size_t n, double *p50, double *p99,
			      uint64_t *size)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL, *q = NULL;
	struct merkle m;
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	uint64_t *lat = calloc(n, sizeof(uint64_t));
	BENCH_CHECK(lat == NULL);
	BENCH_CHECK(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL));
	BENCH_CHECK(sqlite3_prepare_v2(db, "SELECT MAX(size) FROM checkpoints", -1, &q, NULL));
	BENCH_CHECK(sqlite3_step(q) != SQLITE_ROW);
	*size = (uint64_t)sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	BENCH_CHECK(sqlite3_prepare_v2(
		db, "SELECT hash FROM merkle_nodes WHERE level = ? AND idx = ?", -1, &st, NULL));
	BENCH_CHECK(merkle_init(&m, &ro_ops, st, *size));
	for (size_t i = 0; i < n; i++) {
		size_t np;
		uint64_t idx = randombytes_uniform((uint32_t)*size), t0 = bench_now_ns();
		BENCH_CHECK(merkle_inclusion_proof(&m, idx, *size, proof, &np));
		lat[i] = bench_now_ns() - t0;
	}
	*p50 = bench_percentile(lat, n, 50) / 1e3;
	*p99 = bench_percentile(lat, n, 99) / 1e3;
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(lat);
}

/* Bytes of every signed roster entry the relay holds. */
static long long roster_size(const char *db_path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	long long n = -1;
	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT SUM(LENGTH(signed_entry)) FROM roster", -1, &q, NULL) ==
		    SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW) {
		n = sqlite3_column_int64(q, 0);
	}
	sqlite3_finalize(q);
	sqlite3_close(db);
	return n;
}

/* ---- blocking requests ---- */

static Dx__RelayResponse *call(struct tclient *c, Dx__RequestBody *b, uint64_t *ns)
{
	Dx__RelayResponse *r = NULL;
	uint8_t *req = NULL;
	size_t len;
	BENCH_CHECK(tclient_sign(c, b, &req, &len));
	uint64_t t0 = bench_now_ns();
	BENCH_CHECK(tclient_call_raw(c, req, len, &r));
	*ns = bench_now_ns() - t0;
	free(req);
	return r;
}

static uint64_t op_inclusion(struct tclient *c, uint64_t index, uint64_t size)
{
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__InclusionOp in = DX__INCLUSION_OP__INIT;
	uint64_t ns;
	in.index = index;
	in.tree_size = size;
	b.op_case = DX__REQUEST_BODY__OP_INCLUSION;
	b.inclusion = &in;
	Dx__RelayResponse *r = call(c, &b, &ns);
	BENCH_CHECK(r->status);
	dx__relay_response__free_unpacked(r, NULL);
	return ns;
}

static uint64_t op_submit(struct tclient *c, const uint8_t *env, size_t len)
{
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__SubmitOp s = DX__SUBMIT_OP__INIT;
	uint64_t ns;
	s.envelope = (ProtobufCBinaryData){ len, (uint8_t *)env };
	b.op_case = DX__REQUEST_BODY__OP_SUBMIT;
	b.submit = &s;
	Dx__RelayResponse *r = call(c, &b, &ns);
	BENCH_CHECK(r->status);
	dx__relay_response__free_unpacked(r, NULL);
	return ns;
}

static uint64_t op_fetch_ack(struct tclient *c, int ack, const uint8_t digest[32])
{
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__FetchOp f = DX__FETCH_OP__INIT;
	Dx__AckOp a = DX__ACK_OP__INIT;
	uint64_t ns;
	if (ack) {
		a.digest = (ProtobufCBinaryData){ 32, (uint8_t *)digest };
		b.op_case = DX__REQUEST_BODY__OP_ACK;
		b.ack = &a;
	} else {
		f.digest = (ProtobufCBinaryData){ 32, (uint8_t *)digest };
		b.op_case = DX__REQUEST_BODY__OP_FETCH;
		b.fetch = &f;
	}
	Dx__RelayResponse *r = call(c, &b, &ns);
	BENCH_CHECK(r->status);
	dx__relay_response__free_unpacked(r, NULL);
	return ns;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

struct sc_series {
	struct bench_series proof50, proof99, incl50, incl99, submit50, submit99, fetch50, fetch99,
		wake50, wake99, rss, hwm;
};

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr,
			"usage: bench_scale HOME [MEMBERS] (HOME built by bench_scale_build)\n");
		return 2;
	}
	int runs = bench_runs(), quick = bench_quick();
	uint32_t members = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 10000, n_poll = 2000;
	if (getenv("BENCH_POLLERS") != NULL) {
		n_poll = (uint32_t)strtoul(getenv("BENCH_POLLERS"), NULL, 10);
	}
	BENCH_CHECK(n_poll > MAX_POLLERS || n_poll + 3 > members);
	size_t samples = quick ? 100 : 500;
	struct brelay r;
	struct brelay_opts o = {
		.contexts = 4096, .longpoll_max_ms = 30000, .home = argv[1], .keep_home = 1
	};
	struct sc_series s;
	memset(&s, 0, sizeof(s));
	BENCH_CHECK(brelay_init(&r, &o));
	uint64_t t0 = bench_now_ns();
	BENCH_CHECK(brelay_start(&r));
	double start_s = (double)(bench_now_ns() - t0) / 1e9;
	long rss_idle = bench_proc_rss_kib(r.proc.pid);

	/* Three States that do not poll: a sender, a recipient, a prover. */
	char code[4];
	struct keys *ks[3];
	struct tclient tc[3];
	for (int i = 0; i < 3; i++) {
		bench_state_code(members - 1 - (uint32_t)i, code);
		ks[i] = bench_state(code, 0);
		BENCH_CHECK(tclient_open(&tc[i], r.url, ks[i], NULL));
	}
	struct seal_peer to, to_poll;
	bench_peer(ks[1], &to);

	t0 = bench_now_ns();
	for (uint32_t i = 0; i < n_poll; i++) {
		open_poller(&pollers[i], &r, i);
	}
	while (atomic_load(&poll_sent) < (int)n_poll && atomic_load(&poll_errors) == 0) {
		sleep_ms(10);
	}
	BENCH_CHECK(atomic_load(&poll_errors));
	double connect_s = (double)(bench_now_ns() - t0) / 1e9;
	sleep_ms(1000);
	int early = 0;
	for (uint32_t i = 0; i < n_poll; i++) {
		early += atomic_load(&pollers[i].answers);
	}
	printf("scale: relay with %u members, started in %.2f s; %u States long-polling (connected"
	       " and parked in %.2f s, %d answered early), %d runs\n",
	       members, start_s, n_poll, connect_s, early, runs);
	fflush(stdout);

	uint8_t body[700] = { 0 };
	uint64_t *lat = calloc(samples * 4, sizeof(uint64_t));
	BENCH_CHECK(lat == NULL);
	for (int run = 0; run < runs; run++) {
		double p50, p99;
		uint64_t size;
		proofs_in_process(r.db, samples * 4, &p50, &p99, &size);
		bench_series_add(&s.proof50, p50);
		bench_series_add(&s.proof99, p99);
		for (size_t i = 0; i < samples; i++) {
			lat[i] = op_inclusion(&tc[2], randombytes_uniform((uint32_t)size), size);
		}
		bench_series_add(&s.incl50, bench_percentile(lat, samples, 50) / 1e3);
		bench_series_add(&s.incl99, bench_percentile(lat, samples, 99) / 1e3);
		/* Submit, then the recipient's fetch and ack (durable, signed). */
		uint64_t *sub = lat + samples, *fet = lat + 2 * samples;
		for (size_t i = 0; i < samples; i++) {
			struct envelope_info info;
			size_t len;
			uint8_t *env =
				bench_seal(ks[0], &to, body, sizeof(body), NULL, 0, &len, &info);
			sub[i] = op_submit(&tc[0], env, len);
			fet[i] = op_fetch_ack(&tc[1], 0, info.digest);
			op_fetch_ack(&tc[1], 1, info.digest);
			free(env);
		}
		bench_series_add(&s.submit50, bench_percentile(sub, samples, 50) / 1e3);
		bench_series_add(&s.submit99, bench_percentile(sub, samples, 99) / 1e3);
		bench_series_add(&s.fetch50, bench_percentile(fet, samples, 50) / 1e3);
		bench_series_add(&s.fetch99, bench_percentile(fet, samples, 99) / 1e3);
		/* Wake: a submit to a polling State, until its long-poll answers. */
		size_t nw = samples / 5;
		uint64_t *wake = lat + 3 * samples;
		for (size_t i = 0; i < nw; i++) {
			struct poller *p = &pollers[randombytes_uniform(n_poll)];
			struct envelope_info info;
			size_t len;
			bench_peer(p->k, &to_poll);
			uint8_t *env = bench_seal(ks[0], &to_poll, body, sizeof(body), NULL, 0,
						  &len, &info);
			int before = atomic_load(&p->answers);
			uint64_t w0 = bench_now_ns();
			op_submit(&tc[0], env, len);
			while (atomic_load(&p->answers) == before) {
				sleep_ms(0);
			}
			wake[i] = atomic_load(&p->answered_ns) - w0;
			free(env);
			/* The State takes its mail as its node would, so that its next
			 * long-poll parks again (with its own copy of the keys: the
			 * poller's are in use on nng's threads). */
			struct keys *pk = bench_state(keys_state(p->k), 0);
			struct tclient pc;
			BENCH_CHECK(tclient_open(&pc, r.url, pk, NULL));
			op_fetch_ack(&pc, 0, info.digest);
			op_fetch_ack(&pc, 1, info.digest);
			tclient_close(&pc);
			keys_free(pk);
		}
		bench_series_add(&s.wake50, bench_percentile(wake, nw, 50) / 1e3);
		bench_series_add(&s.wake99, bench_percentile(wake, nw, 99) / 1e3);
		bench_series_add(&s.rss, (double)bench_proc_rss_kib(r.proc.pid) / 1024.0);
		bench_series_add(&s.hwm, (double)bench_proc_hwm_kib(r.proc.pid) / 1024.0);
		printf("  run %d: tree %llu, proof p50 %.1f us; inclusion op p50 %.0f us; fetch p50"
		       " %.0f us; wake p50 %.0f us; relay RSS %.1f MiB\n",
		       run + 1, (unsigned long long)size, p50, s.incl50.v[run], s.fetch50.v[run],
		       s.wake50.v[run], s.rss.v[run]);
		fflush(stdout);
	}

	/* The whole roster, as a node that starts from nothing asks for it:
	 * page after page (PROTOCOL.md 12.4), on a connection of its own. */
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__RosterOp ro = DX__ROSTER_OP__INIT;
	b.op_case = DX__REQUEST_BODY__OP_ROSTER;
	b.roster = &ro;
	struct tclient rc_client;
	size_t roster_entries = 0, roster_pages = 0, roster_largest = 0;
	int rc = DX_OK, roster_status = 0;
	BENCH_CHECK(tclient_open(&rc_client, r.url, ks[2], NULL));
	nng_socket_set_ms(rc_client.sock, NNG_OPT_RECVTIMEO, 5000);
	uint64_t r0 = bench_now_ns();
	for (int more = 1; more && rc == DX_OK && roster_status == 0;) {
		uint8_t *req = NULL;
		size_t len;
		Dx__RelayResponse *rr = NULL;
		BENCH_CHECK(tclient_sign(&rc_client, &b, &req, &len));
		rc = tclient_call_raw(&rc_client, req, len, &rr);
		free(req);
		if (rc != DX_OK) {
			break;
		}
		roster_status = rr->status;
		more = rr->roster_more && rr->n_roster > 0;
		roster_pages++;
		roster_entries += rr->n_roster;
		size_t answer = protobuf_c_message_get_packed_size(&rr->base);
		roster_largest = answer > roster_largest ? answer : roster_largest;
		if (rr->n_roster > 0) {
			ro.since_index = rr->roster[rr->n_roster - 1]->log_index + 1;
		}
		dx__relay_response__free_unpacked(rr, NULL);
	}
	double roster_ms = (double)(bench_now_ns() - r0) / 1e6;
	tclient_close(&rc_client);
	long long roster_bytes = roster_size(r.db);

	printf("\nrelay at scale (%u members, %u long-polling)\n", members, n_poll);
	printf("  relay start-up: %.2f s; RSS idle after start %.1f MiB\n", start_s,
	       (double)rss_idle / 1024.0);
	bench_print_series("relay RSS with the long-polls parked", "MiB", &s.rss);
	bench_print_series("relay peak RSS (VmHWM)", "MiB", &s.hwm);
	bench_print_series("inclusion proof generation p50 (relay's code, its SQLite table)", "us",
			   &s.proof50);
	bench_print_series("inclusion proof generation p99", "us", &s.proof99);
	bench_print_series("inclusion operation round trip p50", "us", &s.incl50);
	bench_print_series("inclusion operation round trip p99", "us", &s.incl99);
	bench_print_series("submit round trip p50", "us", &s.submit50);
	bench_print_series("submit round trip p99", "us", &s.submit99);
	bench_print_series("fetch round trip p50", "us", &s.fetch50);
	bench_print_series("fetch round trip p99", "us", &s.fetch99);
	bench_print_series("wake of a parked long-poll p50", "us", &s.wake50);
	bench_print_series("wake of a parked long-poll p99", "us", &s.wake99);
	if (rc == DX_OK) {
		printf("  roster from index 0: status %s, %zu entries in %zu pages, %.1f ms; "
		       "largest answer %zu bytes\n",
		       roster_status == 0 ? "ok" : dx_errname(roster_status), roster_entries,
		       roster_pages, roster_ms, roster_largest);
	} else {
		printf("  roster from index 0: no answer (%s) after %.1f ms\n", dx_errname(rc),
		       roster_ms);
	}
	printf("  roster entries as stored: %lld bytes in all; a relay answer may carry at most "
	       "%d\n",
	       roster_bytes, RELAY_RESPONSE_MAX);
	double rss_ratio = bench_series_max(&s.hwm) / 512.0;
	double proof_ratio = bench_series_median(&s.proof50) / 1000.0;
	bench_print_ratio("relay peak RSS / 512 MiB", rss_ratio, "<=", 1.0);
	bench_print_ratio("inclusion proof p50 / 1 ms", proof_ratio, "<=", 1.0);
	printf("\n");

	atomic_store(&stopping, 1);
	for (int i = 0; i < 3; i++) {
		tclient_close(&tc[i]);
		keys_free(ks[i]);
	}
	/* A relay that does not stop within 15 s is killed (see RESULTS.md). */
	uint64_t s0 = bench_now_ns();
	r.running = 0;
	int st = proc_stop(&r.proc, SIGTERM, 15000);
	if (st != 0) {
		printf("  the relay did not stop within 15 s of SIGTERM (%s) and was killed\n",
		       st < 0 ? "still running" : "failed");
	} else {
		printf("  the relay stopped %.2f s after SIGTERM\n",
		       (double)(bench_now_ns() - s0) / 1e9);
	}
	for (uint32_t i = 0; i < n_poll; i++) {
		nng_aio_stop(pollers[i].aio);
		nng_aio_free(pollers[i].aio);
		nng_close(pollers[i].sock);
		keys_free(pollers[i].k);
	}
	free(lat);
	bench_print_final("scale", rss_ratio > proof_ratio ? rss_ratio : proof_ratio);
	return 0;
}
