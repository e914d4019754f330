/*
 * test_health.c: the relay's admin HTTP server (daemon/relay/health.c).
 *
 * The server runs on 127.0.0.1 with port 0; a small HTTP/1.1 client over a
 * plain socket asks for every route, for an unknown path (404), with other
 * methods (405), with HEAD, and while another client holds a connection
 * open without finishing its request.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "health.h"
#include "metrics.h"
#include "testlib.h"
#include "util.h"

#define REPLY_MAX (1024 * 1024)

struct reply {
	int status;
	char *head; /* status line and headers */
	char *body;
	size_t body_len;
};

struct fixture {
	struct metrics *m;
	struct health *h;
	_Atomic int healthy;
};

static int connect_to(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void send_all(int fd, const char *s)
{
	size_t len = strlen(s), off = 0;
	while (off < len) {
		ssize_t n = send(fd, s + off, len - off, MSG_NOSIGNAL);
		assert_true(n > 0);
		off += (size_t)n;
	}
}

/* Sends one request and reads the reply until the server closes (5 s at most). */
static struct reply http(uint16_t port, const char *method, const char *path)
{
	char req[512];
	int fd = connect_to(port);
	snprintf(req, sizeof(req),
		 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
		 "Content-Length: 0\r\n\r\n",
		 method, path);
	send_all(fd, req);
	char *buf = malloc(REPLY_MAX + 1);
	assert_non_null(buf);
	size_t len = 0;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int pr = poll(&pfd, 1, 5000);
		assert_true(pr == 1);
		ssize_t n = recv(fd, buf + len, REPLY_MAX - len, 0);
		assert_true(n >= 0);
		if (n == 0) {
			break;
		}
		len += (size_t)n;
		assert_true(len < REPLY_MAX);
	}
	close(fd);
	buf[len] = '\0';
	struct reply r = { 0 };
	char *sep = strstr(buf, "\r\n\r\n");
	assert_non_null(sep);
	*sep = '\0';
	r.head = buf;
	r.body = sep + 4;
	r.body_len = len - (size_t)(r.body - buf);
	assert_int_equal(sscanf(buf, "HTTP/1.%*d %d", &r.status), 1);
	return r;
}

static void reply_free(struct reply *r)
{
	free(r->head);
}

/* The value of header name, or NULL; the pointer is into r->head, up to \r. */
static const char *header(const struct reply *r, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = strstr(r->head, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n")) {
		if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
			const char *v = p + 2 + n + 1;
			while (*v == ' ') {
				v++;
			}
			return v;
		}
	}
	return NULL;
}

static void assert_header_starts(const struct reply *r, const char *name, const char *want)
{
	const char *v = header(r, name);
	if (v == NULL || strncmp(v, want, strlen(want)) != 0) {
		fail_msg("header %s: want \"%s\", head:\n%s", name, want, r->head);
	}
}

static int check_health(void *ctx, char *why, size_t n)
{
	struct fixture *f = ctx;
	if (f->healthy) {
		return 1;
	}
	snprintf(why, n, "store not writable:\n\x1b[31mdisk full");
	return 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->healthy = 1;
	assert_dx_ok(metrics_new("relay.test/<log>", dx_now_ms() - 5000, &f->m));
	assert_dx_ok(metrics_set_state(f->m, "FRA", METRICS_STATUS_PARTY, dx_now_ms(), 3, 300,
				       dx_now_ms() - 1000));
	metrics_count_request(f->m, METRICS_OP_SUBMIT, 0, dx_now_ms());
	assert_dx_ok(health_start("127.0.0.1:0", f->m, check_health, f, &f->h));
	assert_true(health_port(f->h) != 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	health_stop(f->h);
	metrics_free(f->m);
	free(f);
	return 0;
}

static void test_metrics_route(void **state)
{
	struct fixture *f = *state;
	struct reply r = http(health_port(f->h), "GET", "/metrics");
	assert_int_equal(r.status, 200);
	assert_header_starts(&r, "Content-Type", "text/plain; version=0.0.4");
	assert_header_starts(&r, "Cache-Control", "no-store");
	assert_non_null(
		strstr(r.body, "divex_relay_requests_total{op=\"submit\",outcome=\"ok\"} 1\n"));
	assert_non_null(strstr(r.body, "divex_relay_mailbox_envelopes{state=\"FRA\"} 3\n"));
	reply_free(&r);
	/* A query string does not change the route. */
	r = http(health_port(f->h), "GET", "/metrics?x=1");
	assert_int_equal(r.status, 200);
	reply_free(&r);
}

static void test_healthz(void **state)
{
	struct fixture *f = *state;
	struct reply r = http(health_port(f->h), "GET", "/healthz");
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok\n");
	reply_free(&r);
	f->healthy = 0;
	r = http(health_port(f->h), "GET", "/healthz");
	assert_int_equal(r.status, 503);
	/* The reason arrives as one printable line. */
	assert_string_equal(r.body, "store not writable:\\x0a\\x1b[31mdisk full\n");
	reply_free(&r);
	f->healthy = 1;
}

static void test_status_routes(void **state)
{
	struct fixture *f = *state;
	struct reply r = http(health_port(f->h), "GET", "/status");
	assert_int_equal(r.status, 200);
	assert_header_starts(&r, "Content-Type", "text/html");
	assert_header_starts(&r, "Content-Security-Policy", "default-src 'none'");
	assert_non_null(strstr(r.body, "<td>FRA</td>"));
	assert_non_null(strstr(r.body, "relay.test/&lt;log&gt;"));
	assert_null(strstr(r.body, "<log>"));
	reply_free(&r);

	r = http(health_port(f->h), "GET", "/status.json");
	assert_int_equal(r.status, 200);
	assert_header_starts(&r, "Content-Type", "application/json");
	json_t *doc = json_loadb(r.body, r.body_len, 0, NULL);
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "relay")), "relay.test/<log>");
	assert_int_equal(json_array_size(json_object_get(doc, "states")), 1);
	json_decref(doc);
	reply_free(&r);

	r = http(health_port(f->h), "GET", "/status.txt");
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "relay          relay.test/<log>\n"));
	reply_free(&r);
}

static void test_errors(void **state)
{
	struct fixture *f = *state;
	struct reply r = http(health_port(f->h), "GET", "/nope");
	assert_int_equal(r.status, 404);
	reply_free(&r);
	r = http(health_port(f->h), "GET", "/metrics/");
	assert_int_equal(r.status, 404);
	reply_free(&r);
	const char *methods[] = { "POST", "PUT", "DELETE", "OPTIONS" };
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		r = http(health_port(f->h), methods[i], "/metrics");
		assert_int_equal(r.status, 405);
		assert_header_starts(&r, "Allow", "GET, HEAD");
		reply_free(&r);
	}
	r = http(health_port(f->h), "HEAD", "/metrics");
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 0);
	reply_free(&r);
}

/* A client that connects and never finishes its request does not block others. */
static void test_slow_client(void **state)
{
	struct fixture *f = *state;
	int idle[8];
	for (size_t i = 0; i < 8; i++) {
		idle[i] = connect_to(health_port(f->h));
		send_all(idle[i], "GET /metr");
	}
	struct reply r = http(health_port(f->h), "GET", "/healthz");
	assert_int_equal(r.status, 200);
	reply_free(&r);
	for (size_t i = 0; i < 8; i++) {
		close(idle[i]);
	}
}

static void test_addresses(void **state)
{
	char host[HEALTH_HOST_MAX + 1];
	uint16_t port = 0;
	struct metrics *m = NULL;
	struct health *h = NULL;
	assert_dx_ok(health_split_addr("127.0.0.1:9464", host, sizeof(host), &port));
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 9464);
	assert_dx_ok(health_split_addr("[::1]:0", host, sizeof(host), &port));
	assert_string_equal(host, "::1");
	assert_int_equal(port, 0);
	assert_dx_ok(health_split_addr("localhost:80", host, sizeof(host), &port));
	assert_string_equal(host, "localhost");
	const char *bad[] = { "",
			      "127.0.0.1",
			      ":80",
			      "127.0.0.1:",
			      "1.2.3.4:65536",
			      "::1:80",
			      "[::1]80",
			      "a b:80",
			      "host:8o",
			      "host:-1",
			      "host:123456",
			      "[]:80",
			      "h\n:80",
			      "[::1]:80:1",
			      "1.2.3.4:0x50",
			      "example.org:80",
			      "[localhost]x:1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (health_split_addr(bad[i], host, sizeof(host), &port) != DX_EINVAL) {
			fail_msg("accepted \"%s\"", bad[i]);
		}
	}
	assert_int_equal(health_split_addr("abcdef:1", host, 4, &port), DX_EINVAL);

	assert_dx_ok(metrics_new("r", 0, &m));
	assert_dx_err(health_start("nonsense", m, NULL, NULL, &h), DX_EINVAL);
	/* Address-like but not an address. */
	assert_dx_err(health_start("1.2.3:0", m, NULL, NULL, &h), DX_EINVAL);
	assert_dx_err(health_start("[fe:::1]:0", m, NULL, NULL, &h), DX_EINVAL);
	assert_dx_ok(health_start("localhost:0", m, NULL, NULL, &h));
	health_stop(h);
	h = NULL;
	assert_dx_ok(health_start("127.0.0.1:0", m, NULL, NULL, &h));
	/* The same port twice: the second cannot listen. */
	char taken[32];
	struct health *h2 = NULL;
	snprintf(taken, sizeof(taken), "127.0.0.1:%u", (unsigned)health_port(h));
	assert_dx_err(health_start(taken, m, NULL, NULL, &h2), DX_EIO);
	/* Without a callback the relay counts as healthy. */
	struct reply r = http(health_port(h), "GET", "/healthz");
	assert_int_equal(r.status, 200);
	reply_free(&r);
	health_stop(h);
	h = NULL;
	/* IPv6 loopback, where the machine has it. */
	if (health_start("[::1]:0", m, NULL, NULL, &h) == 0) {
		assert_true(health_port(h) != 0);
		health_stop(h);
	} else {
		print_message("no IPv6 loopback here: [::1] not tried\n");
	}
	health_stop(NULL);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_metrics_route, setup, teardown),
		cmocka_unit_test_setup_teardown(test_healthz, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_routes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_client, setup, teardown),
		cmocka_unit_test(test_addresses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
