/*
 * bridge_fixture.c: see bridge_fixture.h.
 */
#include "bridge_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testlib.h"
#include "util.h"

/* The echo client gives up after this long, so a hung server fails the test. */
#define ECHO_DEADLINE_MS 20000

static void on_expire(uv_timer_t *t)
{
	*(int *)t->data = 1;
}

int fx_run_until(uv_loop_t *loop, int (*cond)(void *), void *arg, unsigned ms)
{
	uv_timer_t t;
	int expired = 0;

	assert_int_equal(uv_timer_init(loop, &t), 0);
	t.data = &expired;
	assert_int_equal(uv_timer_start(&t, on_expire, ms, 0), 0);
	while (!cond(arg) && !expired) {
		uv_run(loop, UV_RUN_ONCE);
	}
	int ok = cond(arg);
	uv_close((uv_handle_t *)&t, NULL);
	/* One more turn releases the timer before its stack frame goes. */
	uv_run(loop, UV_RUN_NOWAIT);
	return ok;
}

static int never(void *arg)
{
	(void)arg;
	return 0;
}

void fx_run_for(uv_loop_t *loop, unsigned ms)
{
	(void)fx_run_until(loop, never, NULL, ms);
}

int fx_flag_set(void *arg)
{
	return *(int *)arg != 0;
}

void fx_count_done(void *arg)
{
	(*(int *)arg)++;
}

void fx_close_server(uv_loop_t *loop, struct bridge_server *s)
{
	int done = 0;
	bridge_server_close(s, fx_count_done, &done);
	assert_true(fx_run_until(loop, fx_flag_set, &done, 10000));
	assert_int_equal(done, 1);
}

void fx_close_client(uv_loop_t *loop, struct bridge_client *c)
{
	int done = 0;
	bridge_client_close(c, fx_count_done, &done);
	assert_true(fx_run_until(loop, fx_flag_set, &done, 10000));
	assert_int_equal(done, 1);
}

void fx_loop_close(uv_loop_t *loop)
{
	uv_run(loop, UV_RUN_NOWAIT);
	assert_int_equal(uv_loop_alive(loop), 0);
	assert_int_equal(uv_loop_close(loop), 0);
}

void fx_copy_file(const char *src, const char *dst, unsigned mode)
{
	uint8_t *buf;
	size_t len;
	assert_dx_ok(dx_read_file(src, 1 << 20, &buf, &len));
	test_write_file(dst, buf, len);
	free(buf);
	assert_int_equal(chmod(dst, mode), 0);
}

void fx_tls_files(struct fx_tls *t)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/tests/bridge", test_source_dir());
	const char *tmp = test_tmpdir();
	snprintf(t->cert, sizeof(t->cert), "%s/relay.crt", tmp);
	snprintf(t->key, sizeof(t->key), "%s/relay.key", tmp);
	snprintf(t->other_cert, sizeof(t->other_cert), "%s/other.crt", tmp);
	snprintf(t->other_key, sizeof(t->other_key), "%s/other.key", tmp);
	fx_copy_file(test_path(dir, "test-only-relay.crt"), t->cert, 0644);
	fx_copy_file(test_path(dir, "test-only-relay.key"), t->key, 0600);
	fx_copy_file(test_path(dir, "test-only-other.crt"), t->other_cert, 0644);
	fx_copy_file(test_path(dir, "test-only-other.key"), t->other_key, 0600);
}

uint64_t fx_now_ms(void)
{
	return uv_hrtime() / 1000000;
}

void fx_echo_handler(void *arg, struct bridge_request *req, const uint8_t *data, size_t len)
{
	(*(unsigned *)arg)++;
	assert_dx_ok(bridge_reply(req, data, len));
}

/* ---- shared by the test files ---- */

struct fx_tls fx_certs;

const char *fx_ipc_url(const char *name)
{
	static char urls[4][4200];
	static unsigned n;
	char *u = urls[n++ % 4];
	snprintf(u, sizeof(urls[0]), "ipc://%s/%s", test_tmpdir(), name);
	return u;
}

struct bridge_client_config fx_client_cfg(const char *url)
{
	struct bridge_client_config cfg = {
		.url = url,
		.contexts = 16,
		.recv_max = FX_RECV_MAX,
		.send_max = FX_RECV_MAX,
		.resend_ms = 10000,
		.timeout_ms = 10000,
	};
	return cfg;
}

void fx_hold_handler(void *arg, struct bridge_request *req, const uint8_t *data, size_t len)
{
	struct fx_holder *h = arg;
	uint64_t t = bridge_request_time_ns(req);
	if (t < h->t0_ns || t > uv_hrtime()) {
		h->bad_time = 1;
	}
	assert_true(h->nheld < 16);
	h->arrived++;
	h->tag[h->nheld] = len > 0 ? data[0] : 0;
	h->held[h->nheld++] = req;
	if (h->nheld > h->max_held) {
		h->max_held = h->nheld;
	}
}

int fx_holding(void *arg)
{
	struct fx_holder *h = arg;
	return h->nheld >= h->want;
}

void fx_count_reply(void *arg, int rc, const uint8_t *data, size_t len)
{
	struct fx_replies *r = arg;
	r->n++;
	r->last_rc = rc;
	r->failed += rc != 0;
	if (rc == 0 && len == 3 && memcmp(data, "re:", 3) == 0) {
		r->ok++;
	}
}

int fx_replies_done(void *arg)
{
	struct fx_replies *r = arg;
	return r->n >= r->want;
}

void fx_timed_reply(void *arg, int rc, const uint8_t *data, size_t len)
{
	struct fx_timed *t = arg;
	(void)data;
	(void)len;
	assert_true(t->n < 4);
	t->rc[t->n] = rc;
	t->elapsed_ms[t->n] = fx_now_ms() - t->start_ms;
	t->n++;
}

int fx_timed_done(void *arg)
{
	struct fx_timed *t = arg;
	return t->n >= t->want;
}

void fx_never_called(void *arg, int rc, const uint8_t *data, size_t len)
{
	(void)arg;
	(void)rc;
	(void)data;
	(void)len;
	fail_msg("callback of a refused request was called");
}

/* ---- the threaded echo client ---- */

struct fx_echo_req {
	struct fx_echo *e;
	uint8_t *data;
	size_t len;
	int answered;
};

/* xorshift32: payloads differ per client and per request, reproducibly. */
static uint32_t next_rand(uint32_t *s)
{
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

static void echo_note_error(struct fx_echo *e, int rc)
{
	if (e->first_error == 0) {
		e->first_error = rc;
	}
	e->errors++;
}

static void echo_finish(struct fx_echo *e)
{
	if (e->closing) {
		return;
	}
	e->closing = 1;
	uv_close((uv_handle_t *)&e->deadline, NULL);
	bridge_client_close(e->client, NULL, NULL);
}

static void echo_fill(struct fx_echo *e);

static void echo_reply(void *arg, int rc, const uint8_t *data, size_t len)
{
	struct fx_echo_req *r = arg;
	struct fx_echo *e = r->e;

	e->inflight--;
	e->answered++;
	if (r->answered++) {
		e->duplicates++;
	}
	if (rc != 0) {
		echo_note_error(e, rc);
	} else if (len != r->len || memcmp(data, r->data, len) != 0) {
		e->mismatches++;
	} else {
		e->ok++;
	}
	if (e->answered == e->total) {
		echo_finish(e);
		return;
	}
	echo_fill(e);
}

static void echo_fill(struct fx_echo *e)
{
	while (!e->closing && e->inflight < e->inflight_max && e->sent < e->total) {
		struct fx_echo_req *r = &e->reqs[e->sent++];
		int rc = bridge_client_request(e->client, r->data, r->len, echo_reply, r);
		if (rc != 0) {
			echo_note_error(e, rc);
			e->answered++;
			continue;
		}
		e->inflight++;
	}
}

static void echo_expired(uv_timer_t *t)
{
	struct fx_echo *e = t->data;
	echo_note_error(e, DX_ETIMEDOUT);
	echo_finish(e);
}

static void echo_thread(void *arg)
{
	struct fx_echo *e = arg;
	uint32_t seed = 0x9e3779b9u * (e->id + 1);

	uv_loop_init(&e->loop);
	e->reqs = calloc(e->total, sizeof(*e->reqs));
	for (unsigned i = 0; i < e->total; i++) {
		struct fx_echo_req *r = &e->reqs[i];
		r->e = e;
		r->len = 8 + next_rand(&seed) % 4096;
		r->data = malloc(r->len);
		dx_put_be32(r->data, e->id);
		dx_put_be32(r->data + 4, i);
		for (size_t j = 8; j < r->len; j++) {
			r->data[j] = (uint8_t)next_rand(&seed);
		}
	}
	e->open_rc = bridge_client_open(&e->loop, &e->cfg, &e->client);
	if (e->open_rc == 0) {
		uv_timer_init(&e->loop, &e->deadline);
		e->deadline.data = e;
		uv_timer_start(&e->deadline, echo_expired, ECHO_DEADLINE_MS, 0);
		echo_fill(e);
		uv_run(&e->loop, UV_RUN_DEFAULT);
	}
	e->loop_close_rc = uv_loop_close(&e->loop);
	for (unsigned i = 0; i < e->total; i++) {
		if (e->reqs[i].answered != 1) {
			e->errors++;
		}
		free(e->reqs[i].data);
	}
	free(e->reqs);
	atomic_fetch_add(e->finished, 1);
	uv_async_send(e->notify);
}

void fx_echo_start(struct fx_echo *e)
{
	assert_int_equal(uv_thread_create(&e->thread, echo_thread, e), 0);
}

void fx_echo_join(struct fx_echo *e)
{
	assert_int_equal(uv_thread_join(&e->thread), 0);
}
