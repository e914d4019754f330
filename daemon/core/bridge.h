/*
 * bridge.h: nng sockets driven from a libuv loop.
 *
 * nng completes asynchronous I/O on its own threads; divex's daemons keep all
 * their state on one libuv loop thread. The bridge joins the two: nng
 * callbacks only move a completed message onto a mutex-protected queue and
 * call uv_async_send(); the loop drains the queue and calls the daemon's
 * handler on the loop thread. Nothing blocks or tears down inside an nng
 * callback.
 *
 * Server side (the relay): a REP socket with a pool of contexts, each waiting
 * for a request. A request is handed to the handler on the loop thread and
 * stays open until bridge_reply() answers it, which may be later (long-poll,
 * group commit); only then does that context receive again, so the pool size
 * bounds concurrency.
 *
 * Client side (a State node): a REQ socket with a pool of contexts. Requests
 * beyond the pool wait in a FIFO on the loop. nng resends a request whose
 * reply does not come within resend_ms (and whenever a pipe reconnects), so
 * every operation the server offers must be idempotent.
 *
 * Both sides set NNG_OPT_RECVMAXSZ before listening or dialling, and the
 * client refuses to send a message over send_max with DX_ETOOBIG instead of
 * letting the peer drop the connection (which, with REQ, would resend the
 * message for ever). All size limits here count the application's bytes
 * only: nng's own REQ/REP header is allowed for on top.
 *
 * All functions must be called on the loop thread. The implementation is
 * split between bridge.c (shared machinery and the server) and
 * bridge_client.c, with bridge_hub.h between them.
 */
#ifndef DIVEX_CORE_BRIDGE_H
#define DIVEX_CORE_BRIDGE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "error.h"

/* The most contexts a server or a client may have. */
#define BRIDGE_CONTEXTS_MAX 4096

/*
 * TLS material for tls+tcp:// URLs; ignored for tcp:// and ipc://. Files are
 * PEM, at most 64 KiB each. The key file must be a regular file (not a
 * symlink) owned by the user and not accessible to group or others, or the
 * server refuses to open with DX_EKEYFILE_PERM.
 */
struct bridge_tls {
	const char *cert_file;	 /* server: own certificate chain, PEM */
	const char *key_file;	 /* server: own private key, PEM */
	const char *ca_file;	 /* client: the relay's certificate, PEM, pinned */
	const char *server_name; /* client: expected name in that certificate (NULL: not checked) */
};

struct bridge_server_config {
	const char *url;   /* tls+tcp://host:port, tcp://host:port or ipc:///path */
	unsigned contexts; /* concurrent requests, 1..BRIDGE_CONTEXTS_MAX, e.g. 64 */
	size_t recv_max;   /* largest request accepted, > 0; larger ones are dropped */
	struct bridge_tls tls;
	/* ipc:// only: the socket file's mode (e.g. 0666), 0 for nng's default. */
	int ipc_mode;
};

struct bridge_server;
struct bridge_request; /* one received request, open until answered */

/* Called on the loop thread for each request; data is valid until the reply. */
typedef void (*bridge_handler_fn)(void *arg, struct bridge_request *req, const uint8_t *data,
				  size_t len);

/*
 * Listens on cfg->url and starts receiving. Fails with DX_EINVAL for a bad
 * configuration or an unknown scheme, DX_ETLS / DX_EKEYFILE_PERM for TLS
 * material that cannot be used, or the mapped nng error (e.g. an address in
 * use) from listening.
 */
int bridge_server_open(uv_loop_t *loop, const struct bridge_server_config *cfg,
		       bridge_handler_fn handler, void *arg,
		       struct bridge_server **out) DX_MUST_CHECK;
/*
 * Answers req and frees it; its context then waits for the next request. data
 * may point into the request. req is consumed whatever the result: on failure
 * (DX_ENOMEM) it was dropped as by bridge_drop(). A reply that nng cannot
 * hand to the transport within 10 s is abandoned.
 */
int bridge_reply(struct bridge_request *req, const uint8_t *data, size_t len);
/* Frees req without answering (the client will resend after its timer). */
void bridge_drop(struct bridge_request *req);
/*
 * The user id of the process on the other end of an ipc:// connection (the
 * kernel's SO_PEERCRED, through NNG_OPT_IPC_PEER_UID). DX_EINVAL for other
 * transports. Local control sockets decide what a caller may do from it.
 */
int bridge_request_peer_uid(const struct bridge_request *req, uint64_t *uid) DX_MUST_CHECK;
/* Monotonic time (ns) at which the request reached the loop. */
uint64_t bridge_request_time_ns(const struct bridge_request *req);
/* The bound TCP port, e.g. after listening on port 0; DX_EINVAL for ipc://. */
int bridge_server_port(const struct bridge_server *s, int *port) DX_MUST_CHECK;
/*
 * A tls+tcp server's listener is watched: nng 1.5.2's can stop accepting new
 * connections after a client aborts its TLS handshake (bridge_watch.c). A
 * thread probes it every 10 s over loopback TLS; when two probes in a row
 * see no connection accepted, the listener is closed (which drops the
 * connections it accepted: REQ clients redial and resend) and opened again
 * on the same address and port. Counted process-wide here; a failure to
 * listen again is retried at the next round and counted too.
 */
unsigned long bridge_listeners_replaced(void);
unsigned long bridge_listener_relisten_failures(void);
/* For tests: the watch's round and probe wait in ms (0: the defaults, 10 s and 5 s). */
void bridge_watch_tuning(unsigned interval_ms, unsigned wait_ms);
/* For tests: makes a tls+tcp server's listener stop accepting, without telling its watch. */
void bridge_server_test_break_listener(struct bridge_server *s);
/*
 * Stops receiving; requests already handed to the handler can still be
 * answered (or dropped), and the handler is not called again. When none is
 * open and every reply has been handed to nng, the server lingers 200 ms so
 * that the last replies leave, then closes the socket and calls done(arg)
 * (which may be NULL) on the loop thread; after that the server is freed.
 * Until then the server keeps loop handles open. A second call is ignored.
 */
void bridge_server_close(struct bridge_server *s, void (*done)(void *arg), void *arg);

struct bridge_client_config {
	const char *url;
	unsigned contexts; /* requests in flight, 1..BRIDGE_CONTEXTS_MAX, e.g. 16 */
	/*
	 * Largest reply accepted, > 0. A reply a few bytes larger fails with
	 * DX_ETOOBIG; a much larger one makes nng drop the connection, REQ
	 * resends, and the request ends in DX_ETIMEDOUT. Servers must keep
	 * their replies within it.
	 */
	size_t recv_max;
	size_t send_max;    /* largest request the server accepts, > 0 */
	unsigned resend_ms; /* nng REQ resend time (0: nng's default, one minute) */
	/*
	 * Give up on one request this long after bridge_client_request() (0:
	 * never). The time spent waiting for a free context counts.
	 */
	unsigned timeout_ms;
	struct bridge_tls tls;
};

struct bridge_client;

/* rc is 0 with the reply, or a DX_E* code (DX_ETIMEDOUT, DX_ECLOSED, ...). */
typedef void (*bridge_reply_fn)(void *arg, int rc, const uint8_t *data, size_t len);

/*
 * Dials without blocking: the server may appear later, and nng redials (every
 * 100 ms, backing off to 2 s) for as long as the client is open. A server
 * that cannot be reached, or a TLS handshake that fails (wrong certificate),
 * shows only as requests failing with DX_ETIMEDOUT (with timeout_ms 0 they
 * wait): nng 1.5.2 does not report dial errors of a non-blocking dialer.
 */
int bridge_client_open(uv_loop_t *loop, const struct bridge_client_config *cfg,
		       struct bridge_client **out) DX_MUST_CHECK;
/*
 * Copies data and queues the request; on success fn is called exactly once,
 * on the loop thread, never from within this call. Fails at once, without
 * calling fn and without sending anything, with DX_ETOOBIG when len exceeds
 * send_max, DX_ECLOSED after bridge_client_close(), DX_EINVAL without fn, or
 * DX_ENOMEM. fn may queue further requests or close the client.
 */
int bridge_client_request(struct bridge_client *c, const uint8_t *data, size_t len,
			  bridge_reply_fn fn, void *arg) DX_MUST_CHECK;
/*
 * Fails every queued and in-flight request with DX_ECLOSED (from the loop,
 * not from within this call; a reply that races with the close is discarded
 * and reported as DX_ECLOSED too), closes, frees; done(arg) (which may be
 * NULL) is called on the loop thread when everything is released. A second
 * call is ignored.
 */
void bridge_client_close(struct bridge_client *c, void (*done)(void *arg), void *arg);

/* Maps an nng error code to a DX_E* code. */
int bridge_from_nng(int nng_err);

/*
 * Closing a server or a client ends with nng_close() on a thread of its own,
 * which the loop waits for at most 2 s: nng 1.5.2 can hang in nng_close()
 * for ever (its reaper waits on a task that never runs). A close that
 * overruns is abandoned (the thread keeps the socket) and counted here, so
 * that a daemon can say so as it stops; the rest of the close goes on.
 */
unsigned long bridge_closes_abandoned(void);
/* Closing threads still running, abandoned ones included. */
unsigned long bridge_closes_running(void);
/*
 * For tests: sets the wait (0: the 2 s default) and makes every closing
 * thread sleep delay_ms first, to exercise an abandoned close.
 */
void bridge_close_tuning(unsigned wait_ms, unsigned delay_ms);

#endif
