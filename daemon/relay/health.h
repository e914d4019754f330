/*
 * health.h: the relay's admin HTTP server (libmicrohttpd), which serves
 *
 *   /metrics      the Prometheus text exposition (text/plain; version=0.0.4)
 *   /healthz      200 "ok" when the health callback says so, else 503 and why
 *   /status       the status page for an operator (text/html)
 *   /status.json  the same summary as JSON, for `divex relay status --json`
 *   /status.txt   the same summary as plain text, for `divex relay status`
 *
 * Only GET and HEAD are allowed (405 otherwise); any other path is 404. The
 * server listens on an admin address, loopback by default, and is meant for
 * the Secretariat's own monitoring, not for nodes: it has no authentication.
 * A cap on connections and a per-connection idle timeout keep a slow client
 * from tying it up.
 *
 * libmicrohttpd runs the server on its own internal thread; the metrics
 * registry is read from that thread (metrics.h is thread-safe) and the health
 * callback is called on it too, so the callback must be thread-safe and
 * quick. health_stop() returns after that thread has finished.
 */
#ifndef DIVEX_RELAY_HEALTH_H
#define DIVEX_RELAY_HEALTH_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "metrics.h"

#define HEALTH_DEFAULT_ADDR "127.0.0.1:9464"
/* Longest host part of an address, NUL excluded (an IPv6 literal or a name). */
#define HEALTH_HOST_MAX 253
#define HEALTH_MAX_CONNECTIONS 64
#define HEALTH_TIMEOUT_SECONDS 10
/* Longest reason /healthz reports, NUL excluded. */
#define HEALTH_WHY_MAX 255

/*
 * Says whether the relay is healthy: returns nonzero if so; otherwise returns
 * 0 and writes a short reason (NUL-terminated, at most n bytes) into why.
 * Called on the HTTP server's thread.
 */
typedef int (*health_check_fn)(void *ctx, char *why, size_t n);

struct health;

/*
 * Splits "host:port" or "[v6]:port" into host (hostsz bytes) and port. The
 * host is an IPv4 or IPv6 address or "localhost" (127.0.0.1): names are not
 * looked up, so that starting never waits for DNS. DX_EINVAL unless the port
 * is a decimal number up to 65535 and the host is non-empty, fits, and is
 * made of the characters of an address.
 */
int health_split_addr(const char *addr, char *host, size_t hostsz, uint16_t *port) DX_MUST_CHECK;

/*
 * Starts the server on addr ("host:port"; NULL means HEALTH_DEFAULT_ADDR; port
 * 0 picks a free port, see health_port()). m must outlive the server;
 * healthy may be NULL (always healthy). DX_EINVAL for a bad address
 * (including one that is not a valid IP address), DX_EIO if the server
 * cannot listen (address in use, or not an address of this machine). *out
 * is written only on success.
 */
int health_start(const char *addr, struct metrics *m, health_check_fn healthy, void *ctx,
		 struct health **out) DX_MUST_CHECK;

/* The TCP port the server is bound to. */
uint16_t health_port(const struct health *h);

/* Stops the server, waiting for its thread, and frees h. NULL is a no-op. */
void health_stop(struct health *h);

#endif
