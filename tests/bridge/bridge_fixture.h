/*
 * bridge_fixture.h: helpers for tests/test_bridge.c: waiting on the loop for
 * a condition with a deadline, closing bridges and loops cleanly, the test
 * certificates, and a threaded echo client.
 *
 * Everything here runs on the calling thread's loop, except the echo client,
 * which runs its own loop on its own thread and reports through atomics.
 */
#ifndef DIVEX_TESTS_BRIDGE_FIXTURE_H
#define DIVEX_TESTS_BRIDGE_FIXTURE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "bridge.h"

/* Runs loop until cond(arg) holds or ms pass; returns whether it holds. */
int fx_run_until(uv_loop_t *loop, int (*cond)(void *), void *arg, unsigned ms);
/* Runs loop for ms, to check that something does NOT happen meanwhile. */
void fx_run_for(uv_loop_t *loop, unsigned ms);
/* Condition: *(int *)arg != 0. */
int fx_flag_set(void *arg);
/* Closes the server / client and waits (with a deadline) until done. */
void fx_close_server(uv_loop_t *loop, struct bridge_server *s);
void fx_close_client(uv_loop_t *loop, struct bridge_client *c);
/* Runs out whatever is left and asserts uv_loop_close() == 0. */
void fx_loop_close(uv_loop_t *loop);

/* Test certificates: paths of private copies (key mode 0600). */
struct fx_tls {
	char cert[4096];
	char key[4096];
	char other_cert[4096];
	char other_key[4096];
};
void fx_tls_files(struct fx_tls *t);
/* Copies src to dst with the given mode. */
void fx_copy_file(const char *src, const char *dst, unsigned mode);

/* Monotonic milliseconds. */
uint64_t fx_now_ms(void);

/*
 * An echo client on its own thread and loop: total requests with up to
 * inflight at once, each with a distinct pseudo-random payload; every reply
 * must equal its request. Results are read after fx_echo_join().
 */
struct fx_echo {
	/* in */
	struct bridge_client_config cfg;
	unsigned id;
	unsigned total;
	unsigned inflight_max;
	uv_async_t *notify;   /* woken on the main loop when finished */
	atomic_int *finished; /* incremented when finished */
	/* out */
	unsigned ok;
	unsigned mismatches;
	unsigned errors;
	unsigned duplicates;
	int first_error;
	int loop_close_rc;
	int open_rc;
	/* private */
	uv_thread_t thread;
	uv_loop_t loop;
	uv_timer_t deadline;
	struct bridge_client *client;
	struct fx_echo_req *reqs;
	unsigned sent;
	unsigned answered;
	unsigned inflight;
	int closing;
};
void fx_echo_start(struct fx_echo *e);
void fx_echo_join(struct fx_echo *e);

/* A server that echoes every request; counts them in *arg (an unsigned). */
void fx_echo_handler(void *arg, struct bridge_request *req, const uint8_t *data, size_t len);

/* ---- shared by the test files ---- */

#define FX_RECV_MAX (64 * 1024)

/* Private copies of the committed test-only certificates, made by main(). */
extern struct fx_tls fx_certs;

/* ipc://<test tmpdir>/<name> (a static rotating buffer, 4 slots). */
const char *fx_ipc_url(const char *name);
/* 16 contexts, FX_RECV_MAX both ways, 10 s resend time and timeout. */
struct bridge_client_config fx_client_cfg(const char *url);
/* A done() callback: increments *(int *)arg. */
void fx_count_done(void *arg);

/* A server handler that holds every request open. */
struct fx_holder {
	struct bridge_request *held[16];
	uint8_t tag[16]; /* first byte of each held request */
	unsigned nheld;
	unsigned max_held;
	unsigned arrived;
	unsigned want;	/* for fx_holding() */
	uint64_t t0_ns; /* no request time may be earlier */
	int bad_time;
};
void fx_hold_handler(void *arg, struct bridge_request *req, const uint8_t *data, size_t len);
/* Condition: at least h->want requests are held. */
int fx_holding(void *arg);

/* Counts replies; ok counts those that are exactly "re:". */
struct fx_replies {
	unsigned want;
	unsigned n;
	unsigned ok;
	unsigned failed;
	int last_rc;
};
void fx_count_reply(void *arg, int rc, const uint8_t *data, size_t len);
/* Condition: at least r->want replies came. */
int fx_replies_done(void *arg);

/* Records each reply's code and the time it took since start_ms. */
struct fx_timed {
	uint64_t start_ms;
	unsigned want;
	unsigned n;
	int rc[4];
	uint64_t elapsed_ms[4];
};
void fx_timed_reply(void *arg, int rc, const uint8_t *data, size_t len);
/* Condition: at least t->want replies came. */
int fx_timed_done(void *arg);

/* A reply callback that must never run. */
void fx_never_called(void *arg, int rc, const uint8_t *data, size_t len);

/* The tests in bridge/test_bridge_close.c. */
void test_client_close_in_flight(void **state);
void test_server_close_waits(void **state);
void test_server_close_in_handler(void **state);
void test_close_abandoned(void **state);
void test_tls_silent_peer(void **state);
void test_tls_wrong_pin(void **state);
void test_tls_listener_replaced(void **state);
void test_tcp_keepalive(void **state);
void test_tls_material(void **state);
void test_config_and_errors(void **state);

#endif
