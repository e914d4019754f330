/*
 * driver.c: see driver.h.
 */
#include "driver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>

#include "bench.h"
#include "canon.h"
#include "client.h"

/* ---- sealing ---- */

struct seal_job {
	struct sealed_set *s;
	const struct keys *from;
	const struct seal_peer *to;
	size_t n_to, begin, end, body_len;
};

static void *seal_range(void *arg)
{
	struct seal_job *j = arg;
	uint8_t *body = malloc(j->body_len);
	BENCH_CHECK(body == NULL);
	for (size_t i = j->begin; i < j->end; i++) {
		bench_random(body, j->body_len);
		j->s->env[i] = bench_seal(j->from, &j->to[i % j->n_to], body, j->body_len, NULL, 0,
					  &j->s->len[i], &j->s->info[i]);
	}
	free(body);
	return NULL;
}

void sealed_set_make(struct sealed_set *s, const struct keys *from, const struct seal_peer *to,
		     size_t n_to, size_t n, size_t env_size)
{
	s->n = n;
	s->env = calloc(n, sizeof(*s->env));
	s->len = calloc(n, sizeof(*s->len));
	s->info = calloc(n, sizeof(*s->info));
	BENCH_CHECK(s->env == NULL || s->len == NULL || s->info == NULL);
	size_t body = bench_body_for_envelope(from, &to[0], env_size);
	/* A second copy of the sender's keys, so that no struct keys is shared
	 * between the two sealing threads (seal.h). */
	struct keys *twin = bench_state(keys_state(from), 0);
	struct seal_job a = { s, from, to, n_to, 0, n / 2, body };
	struct seal_job b = { s, twin, to, n_to, n / 2, n, body };
	pthread_t t;
	BENCH_CHECK(pthread_create(&t, NULL, seal_range, &b));
	seal_range(&a);
	BENCH_CHECK(pthread_join(t, NULL));
	keys_free(twin);
}

void sealed_set_free(struct sealed_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->env[i]);
	}
	free(s->env);
	free(s->len);
	free(s->info);
	memset(s, 0, sizeof(*s));
}

static double self_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- through the node's relay client ---- */

struct dctx {
	uv_loop_t loop;
	uv_timer_t pace;
	struct relay_client *c;
	const struct sealed_set *set;
	size_t first, next, end, done, failed, outstanding;
	unsigned in_flight;
	double rate;
	uint64_t t0;
	uint64_t *lat, *t_sched;
	int first_error, synced, closed;
};

struct slot {
	struct dctx *d;
	size_t idx;
};
static struct slot *slots;

static void on_receipt(void *arg, int rc, const struct relay_receipt_info *r);

static void submit_one(struct dctx *d, uint64_t t_sched)
{
	size_t i = d->next++;
	slots[i - d->first] = (struct slot){ d, i };
	d->t_sched[i - d->first] = t_sched;
	d->outstanding++;
	BENCH_CHECK(relay_client_submit(d->c, d->set->env[i], d->set->len[i], on_receipt,
					&slots[i - d->first]));
}

static void fill(struct dctx *d)
{
	while (d->outstanding < d->in_flight && d->next < d->end) {
		submit_one(d, bench_now_ns());
	}
}

static void pace_cb(uv_timer_t *t)
{
	struct dctx *d = t->data;
	uint64_t now = bench_now_ns();
	/* Open loop: each submission has its scheduled time, and its latency
	 * counts from then, so that a stall shows in the tail. */
	while (d->next < d->end && d->outstanding < d->in_flight) {
		uint64_t due = d->t0 + (uint64_t)((double)(d->next - d->first) * 1e9 / d->rate);
		if (due > now) {
			break;
		}
		submit_one(d, due);
	}
}

static void on_receipt(void *arg, int rc, const struct relay_receipt_info *r)
{
	struct slot *s = arg;
	struct dctx *d = s->d;
	(void)r;
	d->outstanding--;
	if (rc != DX_OK) {
		d->failed++;
		if (d->first_error == 0) {
			d->first_error = rc;
		}
	} else {
		d->done++;
	}
	if (d->lat != NULL) {
		d->lat[s->idx - d->first] = bench_now_ns() - d->t_sched[s->idx - d->first];
	}
	if (d->rate == 0) {
		fill(d);
	}
}

static void on_sync(void *arg, int rc)
{
	struct dctx *d = arg;
	d->synced = rc == DX_OK ? 1 : -1;
}

static void on_closed(void *arg)
{
	((struct dctx *)arg)->closed = 1;
}

int drive_client(const struct brelay *r, const struct keys *k, const struct sealed_set *set,
		 size_t first, size_t n, unsigned in_flight, double rate_per_s, uint64_t *lat_ns,
		 struct drive_result *out)
{
	struct dctx *d = calloc(1, sizeof(*d));
	BENCH_CHECK(d == NULL);
	d->set = set;
	d->first = d->next = first;
	d->end = first + n;
	d->in_flight = in_flight;
	d->rate = rate_per_s;
	d->lat = lat_ns;
	d->t_sched = calloc(n, sizeof(uint64_t));
	slots = calloc(n, sizeof(*slots));
	BENCH_CHECK(d->t_sched == NULL || slots == NULL || first + n > set->n);
	BENCH_CHECK(uv_loop_init(&d->loop));
	struct relay_client_config cfg = brelay_client_config(r, k, in_flight);
	BENCH_CHECK(relay_client_open(&d->loop, &cfg, &d->c));
	/* The connection (and TLS handshake) and the first checkpoint come
	 * before the clock starts. */
	BENCH_CHECK(relay_client_sync(d->c, on_sync, d));
	while (d->synced == 0) {
		uv_run(&d->loop, UV_RUN_ONCE);
	}
	BENCH_CHECK(d->synced != 1);
	double rcpu0 = bench_proc_cpu_s(r->proc.pid), scpu0 = self_cpu_s();
	double lcpu0 = bench_main_thread_cpu_s(r->proc.pid);
	d->t0 = bench_now_ns();
	if (rate_per_s > 0) {
		BENCH_CHECK(uv_timer_init(&d->loop, &d->pace));
		d->pace.data = d;
		BENCH_CHECK(uv_timer_start(&d->pace, pace_cb, 0, 1));
	} else {
		fill(d);
	}
	while (d->done + d->failed < n) {
		uv_run(&d->loop, UV_RUN_ONCE);
	}
	uint64_t t1 = bench_now_ns();
	out->seconds = (double)(t1 - d->t0) / 1e9;
	out->relay_cpu_s = bench_proc_cpu_s(r->proc.pid) - rcpu0;
	out->relay_loop_cpu_s = bench_main_thread_cpu_s(r->proc.pid) - lcpu0;
	out->self_cpu_s = self_cpu_s() - scpu0;
	out->done = d->done;
	out->failed = d->failed;
	out->first_error = d->first_error;
	if (rate_per_s > 0) {
		uv_timer_stop(&d->pace);
		uv_close((uv_handle_t *)&d->pace, NULL);
	}
	/* The client's own consistency proofs finish before it closes. */
	while (relay_client_in_flight(d->c) > 0) {
		uv_run(&d->loop, UV_RUN_ONCE);
	}
	relay_client_close(d->c, on_closed, d);
	while (!d->closed) {
		uv_run(&d->loop, UV_RUN_ONCE);
	}
	uv_run(&d->loop, UV_RUN_DEFAULT);
	BENCH_CHECK(uv_loop_close(&d->loop));
	free(d->t_sched);
	free(slots);
	slots = NULL;
	free(d);
	return DX_OK;
}

/* ---- raw ---- */

struct raw_run;
struct raw_ctx {
	nng_ctx ctx;
	nng_aio *aio;
	int sending;
	size_t idx;
	uint64_t t_sent;
	struct raw_run *run;
};
struct raw_run {
	uint8_t **req;
	size_t *req_len;
	nng_msg **reply;
	uint64_t *lat;
	size_t n;
	atomic_size_t next, done;
	atomic_int errors, idle;
};

static int raw_send(struct raw_ctx *c)
{
	struct raw_run *run = c->run;
	size_t i = atomic_fetch_add(&run->next, 1);
	nng_msg *m;
	if (i >= run->n) {
		atomic_fetch_add(&run->idle, 1);
		return 0;
	}
	BENCH_CHECK(nng_msg_alloc(&m, 0));
	BENCH_CHECK(nng_msg_append(m, run->req[i], run->req_len[i]));
	c->idx = i;
	c->sending = 1;
	c->t_sent = bench_now_ns();
	nng_aio_set_msg(c->aio, m);
	nng_ctx_send(c->ctx, c->aio);
	return 1;
}

static void raw_cb(void *arg)
{
	struct raw_ctx *c = arg;
	struct raw_run *run = c->run;
	if (nng_aio_result(c->aio) != 0) {
		if (c->sending) {
			nng_msg_free(nng_aio_get_msg(c->aio));
		}
		atomic_fetch_add(&run->errors, 1);
		atomic_fetch_add(&run->idle, 1);
		return;
	}
	if (c->sending) {
		c->sending = 0;
		nng_ctx_recv(c->ctx, c->aio);
		return;
	}
	run->reply[c->idx] = nng_aio_get_msg(c->aio);
	if (run->lat != NULL) {
		run->lat[c->idx] = bench_now_ns() - c->t_sent;
	}
	atomic_fetch_add(&run->done, 1);
	raw_send(c);
}

/* A receipt check that verifies each distinct checkpoint's signature once. */
struct cp_cache {
	uint8_t text[CHECKPOINT_MAX];
	size_t len;
	struct checkpoint cp;
};

static int verify_receipt(const struct brelay *r, struct cp_cache *cache, const nng_msg *m,
			  const struct envelope_info *e)
{
	ProtobufCMessage *pm = NULL;
	uint8_t leaf[RELAY_LEAF_MAX], lh[MERKLE_HASH_LEN];
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	int rc = proto_unpack_strict(&dx__relay_response__descriptor, nng_msg_body((nng_msg *)m),
				     nng_msg_len((nng_msg *)m), RELAY_RESPONSE_MAX, &pm);
	if (rc != DX_OK) {
		return rc;
	}
	const Dx__RelayResponse *resp = (const Dx__RelayResponse *)pm;
	const Dx__Receipt *rc_ = resp->receipt;
	rc = resp->status != 0 ? resp->status : DX_OK;
	if (rc == DX_OK &&
	    (rc_ == NULL || rc_->salt.len != RELAY_SALT_LEN || rc_->n_proof > MERKLE_MAX_PROOF ||
	     rc_->checkpoint.len > CHECKPOINT_MAX)) {
		rc = DX_EPROOF;
	}
	if (rc == DX_OK && (cache->len != rc_->checkpoint.len ||
			    memcmp(cache->text, rc_->checkpoint.data, cache->len) != 0)) {
		rc = checkpoint_parse_verify(rc_->checkpoint.data, rc_->checkpoint.len, r->rid.name,
					     r->rid.name, r->rid.pk, &cache->cp);
		cache->len = rc == DX_OK ? rc_->checkpoint.len : 0;
		memcpy(cache->text, rc_->checkpoint.data, cache->len);
	}
	for (size_t i = 0; rc == DX_OK && i < rc_->n_proof; i++) {
		if (rc_->proof[i].len != MERKLE_HASH_LEN) {
			rc = DX_EPROOF;
			break;
		}
		memcpy(proof[i], rc_->proof[i].data, MERKLE_HASH_LEN);
	}
	if (rc == DX_OK) {
		size_t n = relay_leaf_accepted(leaf, e->digest, e->sender, e->recipient,
					       rc_->salt.data, rc_->time_ms);
		merkle_leaf_hash(lh, leaf, n);
		rc = merkle_verify_inclusion(lh, rc_->leaf_index, cache->cp.size,
					     (const uint8_t(*)[MERKLE_HASH_LEN])proof, rc_->n_proof,
					     cache->cp.root);
	}
	protobuf_c_message_free_unpacked(pm, NULL);
	return rc;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/*
 * A session with the relay (PROTOCOL.md 12.2), agreed before the clock as a
 * node agrees it once an hour: the raw client MACs its requests, as the
 * node's client does.
 */
static void raw_session(const struct brelay *r, struct tclient *tc, uint8_t sid[16],
			uint8_t key[32])
{
	uint8_t sk[32], pk[32], rh[32], t[32], stmt[RELAY_SESSION_STATEMENT_MAX], *req = NULL;
	size_t len;
	Dx__RelayResponse *a = NULL;
	Dx__SessionOp so = DX__SESSION_OP__INIT;
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	randombytes_buf(sk, sizeof(sk));
	crypto_scalarmult_base(pk, sk);
	so.client_pk = (ProtobufCBinaryData){ sizeof(pk), pk };
	b.op_case = DX__REQUEST_BODY__OP_SESSION;
	b.session = &so;
	BENCH_CHECK(tclient_sign(tc, &b, &req, &len));
	BENCH_CHECK(tclient_call_raw(tc, req, len, &a));
	BENCH_CHECK(a->status != 0 || a->session == NULL || a->session->relay_pk.len != 32 ||
		    a->session->session_id.len != 16 || a->session->signature.len != 64);
	relay_request_hash(rh, req, len);
	relay_session_transcript(t, rh, a->session->relay_pk.data, a->session->session_id.data,
				 a->session->lifetime_ms);
	size_t n = relay_session_statement(stmt, t);
	BENCH_CHECK(crypto_sign_verify_detached(a->session->signature.data, stmt, n, r->rid.pk));
	BENCH_CHECK(relay_session_key(key, sk, a->session->relay_pk.data, t));
	memcpy(sid, a->session->session_id.data, 16);
	dx__relay_response__free_unpacked(a, NULL);
	free(req);
}

int drive_raw(const struct brelay *r, const struct keys *k, const struct sealed_set *set,
	      size_t first, size_t n, unsigned in_flight, uint64_t *lat_ns,
	      struct drive_result *out)
{
	struct tclient tc;
	struct raw_run run = { .n = n, .lat = lat_ns };
	Dx__RelayResponse *cp = NULL;
	BENCH_CHECK(first + n > set->n);
	BENCH_CHECK(tclient_open(&tc, r->url, k, r->tls ? r->ca : NULL));
	/* The relay's checkpoint, which a node carries in every request. */
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__CheckpointOp g = DX__CHECKPOINT_OP__INIT;
	b.op_case = DX__REQUEST_BODY__OP_GET_CHECKPOINT;
	b.get_checkpoint = &g;
	BENCH_CHECK(tclient_call(&tc, &b, &cp));
	uint8_t sid[16], key[32];
	raw_session(r, &tc, sid, key);
	run.req = calloc(n, sizeof(*run.req));
	run.req_len = calloc(n, sizeof(*run.req_len));
	run.reply = calloc(n, sizeof(*run.reply));
	BENCH_CHECK(run.req == NULL || run.req_len == NULL || run.reply == NULL);
	for (size_t i = 0; i < n; i++) {
		Dx__RequestBody body = DX__REQUEST_BODY__INIT;
		Dx__SubmitOp s = DX__SUBMIT_OP__INIT;
		s.envelope = (ProtobufCBinaryData){ set->len[first + i], set->env[first + i] };
		body.op_case = DX__REQUEST_BODY__OP_SUBMIT;
		body.submit = &s;
		body.checkpoint = cp->checkpoint;
		uint8_t id[RELAY_REQUEST_ID_LEN], *bytes = NULL;
		size_t blen;
		BENCH_CHECK(relay_request_pack(keys_state(k), &body, id, &bytes, &blen));
		BENCH_CHECK(relay_request_wrap_mac(sid, key, bytes, blen, &run.req[i], &run.req_len[i]));
		free(bytes);
	}
	struct raw_ctx *c = calloc(in_flight, sizeof(*c));
	BENCH_CHECK(c == NULL);
	for (unsigned i = 0; i < in_flight; i++) {
		c[i].run = &run;
		BENCH_CHECK(nng_ctx_open(&c[i].ctx, tc.sock));
		BENCH_CHECK(nng_aio_alloc(&c[i].aio, raw_cb, &c[i]));
	}
	double rcpu0 = bench_proc_cpu_s(r->proc.pid), scpu0 = self_cpu_s();
	double lcpu0 = bench_main_thread_cpu_s(r->proc.pid);
	uint64_t t0 = bench_now_ns();
	for (unsigned i = 0; i < in_flight; i++) {
		raw_send(&c[i]);
	}
	while (atomic_load(&run.idle) < (int)in_flight) {
		sleep_ms(1);
	}
	uint64_t t1 = bench_now_ns();
	out->seconds = (double)(t1 - t0) / 1e9;
	out->relay_cpu_s = bench_proc_cpu_s(r->proc.pid) - rcpu0;
	out->relay_loop_cpu_s = bench_main_thread_cpu_s(r->proc.pid) - lcpu0;
	out->self_cpu_s = self_cpu_s() - scpu0;
	for (unsigned i = 0; i < in_flight; i++) {
		nng_aio_free(c[i].aio);
		nng_ctx_close(c[i].ctx);
	}
	free(c);
	tclient_close(&tc);
	/* Every receipt is checked, after the clock. */
	struct cp_cache *cache = calloc(1, sizeof(*cache));
	BENCH_CHECK(cache == NULL);
	out->done = out->failed = 0;
	out->first_error = atomic_load(&run.errors) ? DX_EIO : 0;
	for (size_t i = 0; i < n; i++) {
		int rc = run.reply[i] == NULL
				 ? DX_EIO
				 : verify_receipt(r, cache, run.reply[i], &set->info[first + i]);
		if (rc == DX_OK) {
			out->done++;
		} else {
			out->failed++;
			out->first_error = out->first_error ? out->first_error : rc;
		}
		if (run.reply[i] != NULL) {
			nng_msg_free(run.reply[i]);
		}
		free(run.req[i]);
	}
	free(cache);
	free(run.req);
	free(run.req_len);
	free(run.reply);
	dx__relay_response__free_unpacked(cp, NULL);
	return DX_OK;
}

/* ---- /metrics ---- */

double brelay_metric(const struct brelay *r, const char *name)
{
	long port = proc_log_number_last(&r->proc, "status page http://127.0.0.1:");
	char req[128], *buf = malloc(1 << 20);
	size_t got = 0;
	double v = -1;
	if (port <= 0 || buf == NULL) {
		free(buf);
		return -1;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
		int n = snprintf(req, sizeof(req),
				 "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
		if (write(fd, req, (size_t)n) == n) {
			ssize_t k;
			while (got < (1 << 20) - 1 &&
			       (k = read(fd, buf + got, (1 << 20) - 1 - got)) > 0) {
				got += (size_t)k;
			}
		}
	}
	if (fd >= 0) {
		close(fd);
	}
	buf[got] = '\0';
	for (char *p = buf; (p = strstr(p, name)) != NULL; p++) {
		if ((p == buf || p[-1] == '\n') && p[strlen(name)] == ' ') {
			v = strtod(p + strlen(name) + 1, NULL);
			break;
		}
	}
	free(buf);
	return v;
}
