/*
 * health.c: the admin HTTP server on libmicrohttpd (see health.h).
 *
 * The access handler answers on its first call for each request, before any
 * request body is read: every route is a GET, so a body is never wanted, and
 * libmicrohttpd closes a connection whose body was not consumed. Bodies are
 * rendered into malloc'd buffers that libmicrohttpd frees after sending.
 */
#include "health.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util.h"

#define CT_TEXT "text/plain; charset=utf-8"
#define CT_PROMETHEUS "text/plain; version=0.0.4; charset=utf-8"
#define CT_HTML "text/html; charset=utf-8"
#define CT_JSON "application/json"
/* The status page has no script and no external resource; forbid them. */
#define HTML_POLICY "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"

struct health {
	struct MHD_Daemon *daemon;
	struct metrics *m;
	health_check_fn healthy;
	void *ctx;
	uint16_t port;
};

typedef int (*render_fn)(struct metrics *m, uint64_t now_ms, char **out, size_t *len);

struct route {
	const char *path;
	render_fn render;
	const char *content_type;
};

static const struct route routes[] = {
	{ .path = "/metrics", .render = metrics_render_prometheus, .content_type = CT_PROMETHEUS },
	{ .path = "/status", .render = metrics_render_status_html, .content_type = CT_HTML },
	{ .path = "/status.json", .render = metrics_render_status_json, .content_type = CT_JSON },
	{ .path = "/status.txt", .render = metrics_render_status_text, .content_type = CT_TEXT },
};

int health_split_addr(const char *addr, char *host, size_t hostsz, uint16_t *port)
{
	const char *h, *colon;
	size_t hlen;
	if (addr == NULL) {
		return DX_EINVAL;
	}
	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');
		if (close == NULL || close[1] != ':') {
			return DX_EINVAL;
		}
		h = addr + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(addr, ':');
		if (colon == NULL || memchr(addr, ':', (size_t)(colon - addr)) != NULL) {
			/* A bare IPv6 literal is ambiguous: it must be bracketed. */
			return DX_EINVAL;
		}
		h = addr;
		hlen = (size_t)(colon - addr);
	}
	if (hlen == 0 || hlen >= hostsz || hlen > HEALTH_HOST_MAX) {
		return DX_EINVAL;
	}
	/* An IP address, or "localhost": no name lookup, so no DNS at start-up. */
	if (!(hlen == 9 && memcmp(h, "localhost", 9) == 0) &&
	    strspn(h, "0123456789abcdefABCDEF.:") < hlen) {
		return DX_EINVAL;
	}
	const char *p = colon + 1;
	unsigned long v = 0;
	if (*p == '\0' || strlen(p) > 5) {
		return DX_EINVAL;
	}
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9') {
			return DX_EINVAL;
		}
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v > 65535) {
		return DX_EINVAL;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (uint16_t)v;
	return 0;
}

/* Parses addr into ss; *v6 says whether it is an IPv6 address. */
static int resolve(const char *addr, struct sockaddr_storage *ss, int *v6)
{
	char host[HEALTH_HOST_MAX + 1];
	uint16_t port;
	int rc = health_split_addr(addr, host, sizeof(host), &port);
	if (rc != 0) {
		return rc;
	}
	if (strcmp(host, "localhost") == 0) {
		snprintf(host, sizeof(host), "127.0.0.1");
	}
	memset(ss, 0, sizeof(*ss));
	/* inet_pton, unlike getaddrinfo, takes only the strict dotted quad. */
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*v6 = 0;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*v6 = 1;
		return 0;
	}
	return DX_EINVAL;
}

/* Queues a response; owned bodies are malloc'd and freed by libmicrohttpd. */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
			     char *body, size_t len, int owned)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		len, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (r == NULL) {
		if (owned) {
			free(body);
		}
		return MHD_NO;
	}
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) != MHD_YES ||
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES ||
	    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") != MHD_YES ||
	    (status == MHD_HTTP_METHOD_NOT_ALLOWED &&
	     MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES) ||
	    (strcmp(ctype, CT_HTML) == 0 &&
	     MHD_add_response_header(r, "Content-Security-Policy", HTML_POLICY) != MHD_YES)) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_static(struct MHD_Connection *c, unsigned status, const char *text)
{
	return reply(c, status, CT_TEXT, (char *)text, strlen(text), 0);
}

static enum MHD_Result serve_healthz(struct health *h, struct MHD_Connection *c)
{
	char why[HEALTH_WHY_MAX + 1] = "";
	if (h->healthy == NULL || h->healthy(h->ctx, why, sizeof(why)) != 0) {
		return reply_static(c, MHD_HTTP_OK, "ok\n");
	}
	why[sizeof(why) - 1] = '\0';
	if (why[0] == '\0') {
		snprintf(why, sizeof(why), "unhealthy");
	}
	/* The reason is printed as-is by monitors: keep it one printable line. */
	size_t cap = 4 * sizeof(why) + 2;
	char *body = malloc(cap);
	if (body == NULL) {
		return reply_static(c, MHD_HTTP_SERVICE_UNAVAILABLE, "unhealthy\n");
	}
	dx_escape(body, cap - 1, why, strlen(why));
	size_t n = strlen(body);
	body[n++] = '\n';
	body[n] = '\0';
	return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, CT_TEXT, body, n, 1);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct health *h = cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		return reply_static(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	}
	if (strcmp(url, "/healthz") == 0) {
		return serve_healthz(h, c);
	}
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(url, routes[i].path) != 0) {
			continue;
		}
		char *body = NULL;
		size_t len = 0;
		if (routes[i].render(h->m, dx_now_ms(), &body, &len) != 0) {
			return reply_static(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
					    "rendering failed\n");
		}
		return reply(c, MHD_HTTP_OK, routes[i].content_type, body, len, 1);
	}
	return reply_static(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

int health_start(const char *addr, struct metrics *m, health_check_fn healthy, void *ctx,
		 struct health **out)
{
	struct sockaddr_storage ss;
	int v6 = 0;
	int rc = resolve(addr != NULL ? addr : HEALTH_DEFAULT_ADDR, &ss, &v6);
	if (rc != 0) {
		return rc;
	}
	struct health *h = calloc(1, sizeof(*h));
	if (h == NULL) {
		return DX_ENOMEM;
	}
	h->m = m;
	h->healthy = healthy;
	h->ctx = ctx;
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | (v6 ? MHD_USE_IPv6 : 0);
	h->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)HEALTH_MAX_CONNECTIONS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HEALTH_TIMEOUT_SECONDS, MHD_OPTION_END);
	if (h->daemon == NULL) {
		free(h);
		return DX_EIO;
	}
	const union MHD_DaemonInfo *info =
		MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
	if (info == NULL || info->port == 0) {
		MHD_stop_daemon(h->daemon);
		free(h);
		return DX_EIO;
	}
	h->port = info->port;
	*out = h;
	return 0;
}

uint16_t health_port(const struct health *h)
{
	return h->port;
}

void health_stop(struct health *h)
{
	if (h == NULL) {
		return;
	}
	MHD_stop_daemon(h->daemon);
	free(h);
}
