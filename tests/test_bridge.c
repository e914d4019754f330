/*
 * test_bridge.c: the nng <-> libuv bridge (daemon/core/bridge.c,
 * bridge_client.c) over ipc://, tcp:// and tls+tcp://: echo under load from
 * client threads with their own loops, deferred and dropped replies, size
 * caps on both sides, timeouts and late servers. Closing, TLS failures and
 * configuration are in bridge/test_bridge_close.c; shared helpers in
 * bridge/bridge_fixture.c.
 *
 * Every test owns its loop, closes every handle and asserts that
 * uv_loop_close() succeeds. Waiting is always for a condition with a
 * deadline; fx_run_for() is used only to check that something does NOT
 * happen within a while.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "bridge.h"
#include "bridge_fixture.h"
#include "testlib.h"

/* ---- echo under load ---- */

static void wake_cb(uv_async_t *a)
{
	(void)a;
}

static int two_finished(void *arg)
{
	return atomic_load((atomic_int *)arg) == 2;
}

/* 1000 requests, 64 in flight: two client threads x 500 x 32. */
static void echo_load(const char *url, int tls)
{
	uv_loop_t loop;
	struct bridge_server *s;
	unsigned handled = 0;
	struct bridge_server_config scfg = { .url = url, .contexts = 64, .recv_max = FX_RECV_MAX };
	char dial[256];

	assert_int_equal(uv_loop_init(&loop), 0);
	if (tls) {
		scfg.tls.cert_file = fx_certs.cert;
		scfg.tls.key_file = fx_certs.key;
	}
	assert_dx_ok(bridge_server_open(&loop, &scfg, fx_echo_handler, &handled, &s));
	if (strncmp(url, "ipc://", 6) != 0) {
		int port = 0;
		assert_dx_ok(bridge_server_port(s, &port));
		assert_true(port > 0 && port < 65536);
		snprintf(dial, sizeof(dial), "%s127.0.0.1:%d", tls ? "tls+tcp://" : "tcp://", port);
	} else {
		int port;
		assert_dx_err(bridge_server_port(s, &port), DX_EINVAL);
		snprintf(dial, sizeof(dial), "%s", url);
	}

	uv_async_t wake;
	atomic_int finished = 0;
	assert_int_equal(uv_async_init(&loop, &wake, wake_cb), 0);
	struct fx_echo e[2];
	memset(e, 0, sizeof(e));
	for (unsigned i = 0; i < 2; i++) {
		e[i].cfg = fx_client_cfg(dial);
		e[i].cfg.contexts = 32;
		e[i].cfg.tls.ca_file = fx_certs.cert;
		e[i].cfg.tls.server_name = "localhost";
		e[i].id = i;
		e[i].total = 500;
		e[i].inflight_max = 32;
		e[i].notify = &wake;
		e[i].finished = &finished;
		fx_echo_start(&e[i]);
	}
	assert_true(fx_run_until(&loop, two_finished, &finished, 30000));
	for (unsigned i = 0; i < 2; i++) {
		fx_echo_join(&e[i]);
		assert_dx_ok(e[i].open_rc);
		if (e[i].errors != 0) {
			fail_msg("client %u: %u errors, first %s", i, e[i].errors,
				 dx_errname(e[i].first_error));
		}
		assert_int_equal(e[i].ok, 500);
		assert_int_equal(e[i].mismatches, 0);
		assert_int_equal(e[i].duplicates, 0);
		assert_int_equal(e[i].loop_close_rc, 0);
	}
	/* Long resend time: every request reached the handler exactly once. */
	assert_int_equal(handled, 1000);
	uv_close((uv_handle_t *)&wake, NULL);
	fx_close_server(&loop, s);
	fx_loop_close(&loop);
}

static void test_echo_ipc(void **state)
{
	(void)state;
	echo_load(fx_ipc_url("echo.ipc"), 0);
}

static void test_echo_tcp(void **state)
{
	(void)state;
	echo_load("tcp://127.0.0.1:0", 0);
}

static void test_echo_tls(void **state)
{
	(void)state;
	echo_load("tls+tcp://127.0.0.1:0", 1);
}

/* ---- deferred and dropped replies ---- */

/* Answers everything held (long-poll style: the answer comes from a timer). */
static void answer_held(uv_timer_t *t)
{
	struct fx_holder *h = t->data;
	for (unsigned i = 0; i < h->nheld; i++) {
		assert_dx_ok(bridge_reply(h->held[i], (const uint8_t *)"re:", 3));
	}
	h->nheld = 0;
}

/* 4 server contexts, 10 requests in flight: only 4 reach the handler until replies go. */
static void test_deferred_pool_bound(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct bridge_server *s;
	struct bridge_client *c;
	struct fx_holder h = { .t0_ns = uv_hrtime(), .want = 4 };
	struct fx_replies r = { .want = 0 };
	const char *url = fx_ipc_url("deferred.ipc");
	struct bridge_server_config scfg = { .url = url, .contexts = 4, .recv_max = 1024 };
	struct bridge_client_config ccfg = fx_client_cfg(url);
	ccfg.contexts = 10;

	assert_int_equal(uv_loop_init(&loop), 0);
	assert_dx_ok(bridge_server_open(&loop, &scfg, fx_hold_handler, &h, &s));
	assert_dx_ok(bridge_client_open(&loop, &ccfg, &c));
	for (unsigned i = 0; i < 10; i++) {
		uint8_t msg[4];
		memcpy(msg, "req", 3);
		msg[3] = (uint8_t)i;
		assert_dx_ok(bridge_client_request(c, msg, sizeof(msg), fx_count_reply, &r));
	}
	assert_true(fx_run_until(&loop, fx_holding, &h, 5000));
	fx_run_for(&loop, 200);
	assert_int_equal(h.arrived, 4);
	assert_int_equal(h.nheld, 4);
	assert_int_equal(r.n, 0);

	/* From now on a timer answers whatever is held, every 20 ms. */
	uv_timer_t t;
	assert_int_equal(uv_timer_init(&loop, &t), 0);
	t.data = &h;
	assert_int_equal(uv_timer_start(&t, answer_held, 20, 20), 0);
	r.want = 10;
	assert_true(fx_run_until(&loop, fx_replies_done, &r, 5000));
	assert_int_equal(r.ok, 10);
	assert_int_equal(h.arrived, 10);
	assert_int_equal(h.max_held, 4);
	assert_false(h.bad_time);
	uv_close((uv_handle_t *)&t, NULL);

	fx_close_client(&loop, c);
	fx_close_server(&loop, s);
	fx_loop_close(&loop);
}

struct dropper {
	unsigned seen[8];
	unsigned arrivals;
};

/* Drops the first copy of every request and answers the resent one. */
static void drop_handler(void *arg, struct bridge_request *req, const uint8_t *data, size_t len)
{
	struct dropper *d = arg;
	d->arrivals++;
	assert_int_equal(len, 1);
	assert_true(data[0] < 8);
	if (d->seen[data[0]]++ == 0) {
		bridge_drop(req);
		return;
	}
	assert_dx_ok(bridge_reply(req, (const uint8_t *)"re:", 3));
}

static void test_drop_then_resend(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct bridge_server *s;
	struct bridge_client *c;
	struct dropper d = { { 0 }, 0 };
	struct fx_replies r = { .want = 0 };
	const char *url = fx_ipc_url("drop.ipc");
	struct bridge_server_config scfg = { .url = url, .contexts = 2, .recv_max = 1024 };
	struct bridge_client_config ccfg = fx_client_cfg(url);
	ccfg.contexts = 4;
	ccfg.resend_ms = 100;

	assert_int_equal(uv_loop_init(&loop), 0);
	assert_dx_ok(bridge_server_open(&loop, &scfg, drop_handler, &d, &s));
	assert_dx_ok(bridge_client_open(&loop, &ccfg, &c));
	for (uint8_t i = 0; i < 6; i++) {
		assert_dx_ok(bridge_client_request(c, &i, 1, fx_count_reply, &r));
	}
	r.want = 6;
	assert_true(fx_run_until(&loop, fx_replies_done, &r, 10000));
	assert_int_equal(r.ok, 6);
	for (unsigned i = 0; i < 6; i++) {
		assert_true(d.seen[i] >= 2);
	}
	fx_close_client(&loop, c);
	fx_close_server(&loop, s);
	fx_loop_close(&loop);
}

/* ---- size caps ---- */

static int unsigned_at_least(void *arg)
{
	unsigned *p = arg;
	return p[0] >= p[1];
}

static void test_oversized(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct bridge_server *s;
	struct bridge_client *c;
	unsigned handled[2] = { 0, 0 };
	struct fx_replies r = { .want = 0 };
	struct bridge_server_config scfg = { .url = "tcp://127.0.0.1:0",
					     .contexts = 4,
					     .recv_max = 1024 };
	char url[64];
	int port;
	uint8_t *big = calloc(1, FX_RECV_MAX);

	assert_int_equal(uv_loop_init(&loop), 0);
	assert_dx_ok(bridge_server_open(&loop, &scfg, fx_echo_handler, handled, &s));
	assert_dx_ok(bridge_server_port(s, &port));
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	struct bridge_client_config ccfg = fx_client_cfg(url);
	ccfg.send_max = 1024;
	assert_dx_ok(bridge_client_open(&loop, &ccfg, &c));

	/* Refused at once, nothing sent, the callback never called. */
	assert_dx_err(bridge_client_request(c, big, 1025, fx_never_called, NULL), DX_ETOOBIG);

	/* A rogue REQ socket ignores the cap: far over it, and just over it. */
	nng_socket raw;
	assert_int_equal(nng_req0_open(&raw), 0);
	assert_int_equal(nng_socket_set_ms(raw, NNG_OPT_SENDTIMEO, 5000), 0);
	assert_int_equal(nng_dial(raw, url, NULL, 0), 0);
	assert_int_equal(nng_send(raw, big, FX_RECV_MAX, 0), 0);
	nng_socket raw2;
	assert_int_equal(nng_req0_open(&raw2), 0);
	assert_int_equal(nng_socket_set_ms(raw2, NNG_OPT_SENDTIMEO, 5000), 0);
	assert_int_equal(nng_dial(raw2, url, NULL, 0), 0);
	assert_int_equal(nng_send(raw2, big, 1025, 0), 0);

	/* Exactly at the cap passes (nng's own header is allowed for). */
	handled[1] = 21;
	assert_dx_ok(bridge_client_request(c, big, 1024, fx_count_reply, &r));
	for (unsigned i = 0; i < 20; i++) {
		assert_dx_ok(bridge_client_request(c, big, 1 + i, fx_count_reply, &r));
	}
	assert_true(fx_run_until(&loop, unsigned_at_least, handled, 10000));
	r.want = 21;
	assert_true(fx_run_until(&loop, fx_replies_done, &r, 10000));
	assert_int_equal(r.failed, 0);
	/* Neither rogue message reached the handler, and nothing else did. */
	fx_run_for(&loop, 200);
	assert_int_equal(handled[0], 21);

	nng_close(raw);
	nng_close(raw2);
	free(big);
	fx_close_client(&loop, c);
	fx_close_server(&loop, s);
	fx_loop_close(&loop);
}

/*
 * A reply over the client's recv_max: just over it (within the header slack
 * nng is given) fails cleanly with DX_ETOOBIG; far over it, nng drops the
 * connection, REQ resends on the next one, and the request times out.
 */
static void test_reply_too_big(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct bridge_server *s;
	struct bridge_client *c;
	unsigned handled = 0;
	struct fx_timed t = { .start_ms = fx_now_ms(), .want = 1 };
	const char *url = fx_ipc_url("bigreply.ipc");
	struct bridge_server_config scfg = { .url = url, .contexts = 2, .recv_max = 4096 };
	struct bridge_client_config ccfg = fx_client_cfg(url);
	uint8_t buf[1000] = { 0 };

	ccfg.recv_max = 100;
	ccfg.timeout_ms = 500;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_dx_ok(bridge_server_open(&loop, &scfg, fx_echo_handler, &handled, &s));
	assert_dx_ok(bridge_client_open(&loop, &ccfg, &c));
	assert_dx_ok(bridge_client_request(c, buf, 101, fx_timed_reply, &t));
	assert_true(fx_run_until(&loop, fx_timed_done, &t, 5000));
	t.want = 2;
	assert_dx_ok(bridge_client_request(c, buf, sizeof(buf), fx_timed_reply, &t));
	assert_true(fx_run_until(&loop, fx_timed_done, &t, 5000));
	assert_dx_err(t.rc[0], DX_ETOOBIG);
	assert_dx_err(t.rc[1], DX_ETIMEDOUT);
	assert_true(handled >= 2);
	fx_close_client(&loop, c);
	fx_close_server(&loop, s);
	fx_loop_close(&loop);
}

/* ---- timeouts and late servers ---- */

static void test_timeout_no_server(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct bridge_client *c;
	struct fx_timed t = { .start_ms = fx_now_ms(), .want = 3 };
	struct bridge_client_config ccfg = fx_client_cfg(fx_ipc_url("nobody.ipc"));
	ccfg.contexts = 2;
	ccfg.timeout_ms = 300;

	assert_int_equal(uv_loop_init(&loop), 0);
	assert_dx_ok(bridge_client_open(&loop, &ccfg, &c));
	/* The third waits for a context; its time counts too. */
	for (unsigned i = 0; i < 3; i++) {
		assert_dx_ok(bridge_client_request(c, (const uint8_t *)"x", 1, fx_timed_reply, &t));
	}
	assert_true(fx_run_until(&loop, fx_timed_done, &t, 5000));
	for (unsigned i = 0; i < 3; i++) {
		assert_dx_err(t.rc[i], DX_ETIMEDOUT);
		assert_true(t.elapsed_ms[i] >= 290);
		assert_true(t.elapsed_ms[i] < 2000);
	}
	fx_close_client(&loop, c);
	fx_loop_close(&loop);
}

struct late {
	uv_loop_t *loop;
	const char *url;
	struct bridge_server *s;
	unsigned handled;
};

static void start_late_server(uv_timer_t *timer)
{
	struct late *l = timer->data;
	struct bridge_server_config scfg = { .url = l->url, .contexts = 2, .recv_max = 1024 };
	assert_dx_ok(bridge_server_open(l->loop, &scfg, fx_echo_handler, &l->handled, &l->s));
}

static void late_reply(void *arg, int rc, const uint8_t *data, size_t len)
{
	struct fx_timed *t = arg;
	t->rc[t->n++] = rc;
	assert_int_equal(len, 4);
	assert_memory_equal(data, "late", 4);
}

static void test_client_before_server(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct bridge_client *c;
	struct fx_timed t = { .start_ms = fx_now_ms(), .want = 1 };
	struct late l = { .loop = &loop, .url = fx_ipc_url("late.ipc") };
	struct bridge_client_config ccfg = fx_client_cfg(l.url);
	ccfg.timeout_ms = 5000;

	assert_int_equal(uv_loop_init(&loop), 0);
	assert_dx_ok(bridge_client_open(&loop, &ccfg, &c));
	assert_dx_ok(bridge_client_request(c, (const uint8_t *)"late", 4, late_reply, &t));
	uv_timer_t timer;
	assert_int_equal(uv_timer_init(&loop, &timer), 0);
	timer.data = &l;
	assert_int_equal(uv_timer_start(&timer, start_late_server, 300, 0), 0);
	assert_true(fx_run_until(&loop, fx_timed_done, &t, 8000));
	assert_dx_ok(t.rc[0]);
	assert_int_equal(l.handled, 1);
	uv_close((uv_handle_t *)&timer, NULL);
	fx_close_client(&loop, c);
	fx_close_server(&loop, l.s);
	fx_loop_close(&loop);
}

/*
 * test_bridge --soak-wrong-pin N: test_tls_wrong_pin N times, the campaign
 * that meets nng 1.5.2's tls+tcp listener defect often enough to show that
 * the watch recovers from it (docs/RELIABILITY.md); best run two at a time
 * on a loaded machine.
 */
static int soak_wrong_pin(long n)
{
	struct CMUnitTest *t = calloc((size_t)n, sizeof(*t));
	if (t == NULL) {
		return 1;
	}
	for (long i = 0; i < n; i++) {
		t[i] = (struct CMUnitTest)cmocka_unit_test(test_tls_wrong_pin);
	}
	fx_tls_files(&fx_certs);
	int failed = _cmocka_run_group_tests("soak_wrong_pin", t, (size_t)n, NULL, NULL);
	fprintf(stderr, "soak: %ld rounds, %d failed, %lu listeners replaced\n", n, failed,
		bridge_listeners_replaced());
	free(t);
	return failed != 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--soak-wrong-pin") == 0) {
		return soak_wrong_pin(strtol(argv[2], NULL, 10) > 0 ? strtol(argv[2], NULL, 10) : 1);
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_and_errors),
		cmocka_unit_test(test_echo_ipc),
		cmocka_unit_test(test_echo_tcp),
		cmocka_unit_test(test_echo_tls),
		cmocka_unit_test(test_deferred_pool_bound),
		cmocka_unit_test(test_drop_then_resend),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_reply_too_big),
		cmocka_unit_test(test_timeout_no_server),
		cmocka_unit_test(test_client_before_server),
		cmocka_unit_test(test_client_close_in_flight),
		cmocka_unit_test(test_server_close_waits),
		cmocka_unit_test(test_server_close_in_handler),
		cmocka_unit_test(test_close_abandoned),
		cmocka_unit_test(test_tls_silent_peer),
		cmocka_unit_test(test_tls_wrong_pin),
		cmocka_unit_test(test_tls_listener_replaced),
		cmocka_unit_test(test_tcp_keepalive),
		cmocka_unit_test(test_tls_material),
	};
	fx_tls_files(&fx_certs);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
