/*
 * bridge_hub.h: what the server (bridge.c) and the client (bridge_client.c)
 * halves of the bridge share. Internal to daemon/core; see bridge.h for the
 * public API and bridge.c for the threading rules.
 *
 * A hub owns one nng socket and its slots (an nng context plus one aio each).
 * Only the slot's aio callback runs on an nng thread; it writes the slot's rc
 * and msg and links the slot into the completion list, all under hub->mu.
 * Every other field is touched on the loop thread only.
 */
#ifndef DIVEX_CORE_BRIDGE_HUB_H
#define DIVEX_CORE_BRIDGE_HUB_H

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include "bridge.h"

struct creq; /* a client request, bridge_client.c */

/*
 * nng counts the REQ/REP header (a 4-byte request id per hop, at most 8 hops
 * by default) against NNG_OPT_RECVMAXSZ, so a body of exactly recv_max bytes
 * would be refused. The sockets allow this much more; the bridge then checks
 * the body against recv_max itself.
 */
#define BRIDGE_HEADER_SLACK 64

enum slot_state {
	SLOT_IDLE, /* nothing in nng; a client slot is on the free list */
	SLOT_RECV, /* nng_ctx_recv outstanding */
	SLOT_HELD, /* server: the request is with the handler */
	SLOT_SEND, /* nng_ctx_send outstanding */
};

struct hub;
struct slot;

struct bridge_request {
	struct slot *slot;
	nng_msg *msg;
	uint64_t t_ns;
};

struct slot {
	struct hub *hub;
	struct slot *next; /* completion list (under hub->mu), or client free list */
	nng_ctx ctx;
	nng_aio *aio;
	int ctx_open;
	enum slot_state state;
	int rc;			   /* result of the completed operation */
	nng_msg *msg;		   /* the message it handed back, if any */
	struct bridge_request req; /* server: the open request */
	struct creq *cur;	   /* client: the request in flight */
};

/* What a server and a client have in common: socket, slots, the queue. */
struct hub {
	uv_loop_t *loop;
	uv_async_t async;
	uv_timer_t linger; /* delays the socket's close (server) */
	unsigned linger_ms;
	int handles_open; /* loop handles still to be closed at teardown */
	uv_mutex_t mu;
	struct slot *head, *tail; /* completed operations, under mu */
	nng_socket sock;
	int sock_open;
	struct slot *slots;
	unsigned nslots;
	int closing;
	int finishing;
	struct closer *closer; /* closing the socket on its own thread (bridge.c) */
	struct bridge_watch *watch; /* a tls+tcp server's listener watch, or NULL */
	void (*process)(struct hub *h, struct slot *sl);
	/* While closing: releases what it can; returns 1 when all is idle. */
	int (*quiesce)(struct hub *h);
	void (*done)(void *arg);
	void *done_arg;
};

/* Maps the URL's scheme: the tcp, tls+tcp (4 and 6 too) and ipc schemes of cfgfile.h. */
int bridge_url_kind(const char *url, int *tls) DX_MUST_CHECK;
/*
 * TCP keepalive on every connection of a tcp or tls+tcp listener or dialer
 * (nothing for ipc://): a peer that vanished without a FIN or RST (power
 * cut, black-holed route) is found by the kernel and its connection closed,
 * after the system's keepalive time (net.ipv4.tcp_keepalive_time, two hours
 * by default), instead of never. nng 1.5.2 offers only on or off.
 */
int bridge_listener_keepalive(nng_listener l) DX_MUST_CHECK;
int bridge_dialer_keepalive(nng_dialer d) DX_MUST_CHECK;
/* Maps an nng error from TLS configuration: DX_ENOMEM or DX_ETLS. */
int bridge_tls_err(int nng_err);
/* A client TLS configuration that trusts only the pinned certificate. */
int bridge_tls_client_config(const struct bridge_tls *t, nng_tls_config **out) DX_MUST_CHECK;

int bridge_hub_init(struct hub *h, uv_loop_t *loop, unsigned nslots) DX_MUST_CHECK;
/* Opens a context and allocates an aio for every slot (h->sock must be open). */
int bridge_hub_open_slots(struct hub *h) DX_MUST_CHECK;
/*
 * Loop thread, nothing outstanding in nng: stops, closes and frees it all,
 * then drops what the completion list still holds. Used where no traffic ever
 * flowed (a failed open) and, in teardown, on what is left once the socket
 * went to its closing thread.
 */
void bridge_hub_release_nng(struct hub *h);
/* Frees the hub's memory (h is the first member of the server or client). */
void bridge_hub_free(struct hub *h);
/* The last step of opening: the async handle that wakes the loop. */
int bridge_hub_start(struct hub *h) DX_MUST_CHECK;
/* Starts closing: cancels receives (and sends if asked), then drains. */
void bridge_hub_close(struct hub *h, int cancel_sends, void (*done)(void *), void *arg);
/* True when no slot has anything outstanding. */
int bridge_hub_idle(const struct hub *h);

#endif
