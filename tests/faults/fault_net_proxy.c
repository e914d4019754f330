/*
 * fault_net_proxy.c: the fault proxy checked on its own, against an echo
 * server in this process, before the campaign relies on it: shaped bytes
 * come back intact (and split, and no faster than the limit), a cut resets
 * or closes, a refusal resets, a black hole swallows and stays dead when the
 * proxy passes again while a new connection passes, a relay that is down
 * resets the node's connection, and a flapping link is cut.
 *
 * The echo server runs a thread per connection with blocking sockets; the
 * test's side uses poll() with deadlines (as a safety net; every wait is on
 * a condition, except the checks that nothing arrives, which wait a fixed
 * 300 ms by nature).
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "error.h"
#include "faultproxy.h"
#include "netfix.h"
#include "testlib.h"

#define QUIET_MS 300
#define DEADLINE_MS 20000

struct echo {
	int lfd, port;
	pthread_t thread;
};

static void *echo_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	uint8_t buf[16384];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t w = send(fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
			if (w <= 0) {
				close(fd);
				return NULL;
			}
			off += w;
		}
	}
	close(fd);
	return NULL;
}

static void *echo_main(void *arg)
{
	struct echo *e = arg;
	int fd;
	while ((fd = accept(e->lfd, NULL, NULL)) >= 0) {
		pthread_t t;
		if (pthread_create(&t, NULL, echo_conn, (void *)(intptr_t)fd) == 0) {
			pthread_detach(t);
		} else {
			close(fd);
		}
	}
	return NULL;
}

/* A listening socket on 127.0.0.1:0; its port in *port. */
static int listener(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void echo_start(struct echo *e)
{
	e->lfd = listener(&e->port);
	assert_int_equal(pthread_create(&e->thread, NULL, echo_main, e), 0);
}

static void echo_stop(struct echo *e)
{
	shutdown(e->lfd, SHUT_RDWR); /* wakes accept() */
	pthread_join(e->thread, NULL);
	close(e->lfd);
}

static int dial(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Sends len bytes and reads back as many, both at once; 0, or -1 on error or deadline. */
static int exchange(int fd, const uint8_t *data, size_t len, uint8_t *back)
{
	size_t sent = 0, got = 0;
	long end = tn_now_ms() + DEADLINE_MS;
	while (got < len && tn_now_ms() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN | (sent < len ? POLLOUT : 0) };
		if (poll(&p, 1, 100) < 0) {
			return -1;
		}
		if ((p.revents & POLLOUT) && sent < len) {
			ssize_t w = send(fd, data + sent, len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w < 0 && errno != EAGAIN) {
				return -1;
			}
			sent += w > 0 ? (size_t)w : 0;
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = recv(fd, back + got, len - got, MSG_DONTWAIT);
			if (r == 0 || (r < 0 && errno != EAGAIN)) {
				return -1;
			}
			got += r > 0 ? (size_t)r : 0;
		}
	}
	return got == len ? 0 : -1;
}

/* What the next read gives within ms: 1 bytes, 0 end of stream, -errno, or -EAGAIN for nothing. */
static int next_read(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint8_t b[4096];
	if (poll(&p, 1, ms) == 0) {
		return -EAGAIN;
	}
	ssize_t r = recv(fd, b, sizeof(b), MSG_DONTWAIT);
	return r > 0 ? 1 : r == 0 ? 0 : -errno;
}

static void echo_ok(int fd, size_t len)
{
	uint8_t *out = malloc(len), *back = malloc(len);
	assert_non_null(out);
	assert_non_null(back);
	for (size_t i = 0; i < len; i++) {
		out[i] = (uint8_t)(i * 131 + (i >> 8));
	}
	assert_int_equal(exchange(fd, out, len, back), 0);
	assert_memory_equal(out, back, len);
	free(out);
	free(back);
}

static void test_proxy_shaped(void **state)
{
	struct echo e;
	struct fproxy *p;
	struct fproxy_stats st;
	const size_t len = 256 * 1024;
	struct fproxy_shape shape = {
		.delay_ms = 5, .jitter_ms = 5, .rate_bps = 2 * 1024 * 1024, .split_max = 700
	};
	echo_start(&e);
	assert_dx_ok(fproxy_start(e.port, 1, &p));
	fproxy_set_shape(p, &shape);
	int fd = dial(fproxy_port(p));
	long t0 = tn_now_ms();
	echo_ok(fd, len);
	long took = tn_now_ms() - t0;
	fproxy_get_stats(p, &st);
	assert_int_equal(st.up_bytes, len);
	assert_int_equal(st.down_bytes, len);
	/* Pieces of at most 700 bytes: at least len / 700 writes each way. */
	assert_true(st.writes >= 2 * len / 700);
	/* Each way is limited to 2 MiB/s (less the bucket's first 40 KiB). */
	assert_true(took >= (long)((len - 41943) * 1000 / shape.rate_bps));
	close(fd);
	fproxy_stop(p);
	echo_stop(&e);
}

static void test_proxy_cut(void **state)
{
	struct echo e;
	struct fproxy *p;
	struct fproxy_stats st;
	echo_start(&e);
	assert_dx_ok(fproxy_start(e.port, 2, &p));
	int fd = dial(fproxy_port(p));
	echo_ok(fd, 1000);
	fproxy_cut(p, 1);
	assert_int_equal(next_read(fd, DEADLINE_MS), -ECONNRESET);
	close(fd);
	fd = dial(fproxy_port(p));
	echo_ok(fd, 1000);
	fproxy_cut(p, 0);
	assert_int_equal(next_read(fd, DEADLINE_MS), 0);
	close(fd);
	fproxy_get_stats(p, &st);
	assert_int_equal(st.cut, 2);
	assert_int_equal(st.accepted, 2);
	fproxy_stop(p);
	echo_stop(&e);
}

static void test_proxy_refuse(void **state)
{
	struct echo e;
	struct fproxy *p;
	struct fproxy_stats st;
	echo_start(&e);
	assert_dx_ok(fproxy_start(e.port, 3, &p));
	int open = dial(fproxy_port(p));
	echo_ok(open, 1000); /* accepted, not waiting in the backlog */
	fproxy_set_mode(p, FPROXY_REFUSE);
	int fd = dial(fproxy_port(p));
	assert_int_equal(next_read(fd, DEADLINE_MS), -ECONNRESET);
	close(fd);
	/* A connection made before keeps passing. */
	echo_ok(open, 1000);
	fproxy_set_mode(p, FPROXY_PASS);
	fd = dial(fproxy_port(p));
	echo_ok(fd, 1000);
	close(fd);
	close(open);
	fproxy_get_stats(p, &st);
	assert_int_equal(st.refused, 1);
	fproxy_stop(p);
	echo_stop(&e);
}

static void test_proxy_black_hole(void **state)
{
	struct echo e;
	struct fproxy *p;
	struct fproxy_stats st;
	uint8_t junk[1000] = { 1 };
	echo_start(&e);
	assert_dx_ok(fproxy_start(e.port, 4, &p));
	int fd = dial(fproxy_port(p));
	echo_ok(fd, 1000);
	fproxy_set_mode(p, FPROXY_BLACKHOLE);
	assert_int_equal(send(fd, junk, sizeof(junk), MSG_NOSIGNAL), (ssize_t)sizeof(junk));
	assert_int_equal(next_read(fd, QUIET_MS), -EAGAIN);
	/* Passing again does not revive it: the state in the middle is gone. */
	fproxy_set_mode(p, FPROXY_PASS);
	assert_int_equal(send(fd, junk, sizeof(junk), MSG_NOSIGNAL), (ssize_t)sizeof(junk));
	assert_int_equal(next_read(fd, QUIET_MS), -EAGAIN);
	int fresh = dial(fproxy_port(p));
	echo_ok(fresh, 1000);
	fproxy_get_stats(p, &st);
	assert_int_equal(st.black_holed, 1);
	assert_true(st.dropped_bytes >= 2 * sizeof(junk));
	assert_int_equal(st.open, 2);
	close(fresh);
	close(fd);
	fproxy_stop(p);
	echo_stop(&e);
}

static void test_proxy_upstream_down(void **state)
{
	struct fproxy *p;
	struct fproxy_stats st;
	int port;
	close(listener(&port)); /* a port nothing listens on */
	assert_dx_ok(fproxy_start(port, 5, &p));
	int fd = dial(fproxy_port(p));
	assert_int_equal(next_read(fd, DEADLINE_MS), -ECONNRESET);
	close(fd);
	fproxy_get_stats(p, &st);
	assert_int_equal(st.upstream_failed, 1);
	fproxy_stop(p);
}

static void test_proxy_flap(void **state)
{
	struct echo e;
	struct fproxy *p;
	struct fproxy_stats st;
	echo_start(&e);
	assert_dx_ok(fproxy_start(e.port, 6, &p));
	fproxy_flap(p, 100, 100);
	int fd = dial(fproxy_port(p));
	int r = next_read(fd, DEADLINE_MS);
	assert_true(r == 0 || r == -ECONNRESET);
	close(fd);
	fproxy_flap(p, 0, 0);
	fd = dial(fproxy_port(p));
	echo_ok(fd, 1000);
	close(fd);
	fproxy_get_stats(p, &st);
	assert_true(st.cut + st.refused >= 1);
	fproxy_stop(p);
	echo_stop(&e);
}

int fault_net_proxy_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proxy_shaped),	    cmocka_unit_test(test_proxy_cut),
		cmocka_unit_test(test_proxy_refuse),	    cmocka_unit_test(test_proxy_black_hole),
		cmocka_unit_test(test_proxy_upstream_down), cmocka_unit_test(test_proxy_flap),
	};
	return cmocka_run_group_tests_name("fault proxy", tests, NULL, NULL);
}
