/*
 * bridge_client.c: the REQ side of the bridge (see bridge.h, and bridge.c for
 * the threading rules).
 *
 * Requests wait in a FIFO on the loop until a slot is free; a slot sends,
 * then receives the reply, both with the request's remaining time as the aio
 * timeout, and nng resends on its own timer meanwhile. The reply callback runs
 * exactly once, on the loop thread, after which the slot takes the next
 * request.
 *
 * A connection can die without nng being told: a middlebox that lost its
 * state, or a peer that vanished, leaves a half-open TCP connection that nng
 * keeps using; and nng 1.5.2's tls+tcp transport can keep a connection its
 * peer closed, or one whose handshake never completes, for ever, without
 * dialling again. Every later request would time out. So when a request
 * times out and no reply at all has arrived since it was sent (on the
 * current dialer), the client replaces its dialer: closing the old one
 * closes its connection whatever state it is in, the new one dials afresh,
 * and nng resends what was in flight (every operation is idempotent). A slow
 * but living server keeps answering other requests, so it is not cut off;
 * a server that is down costs one new dialer per request timeout.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "bridge_hub.h"

/* After nng.h, which it needs but does not include. */
#include <nng/protocol/reqrep0/req.h>

/* Reconnection back-off of a client whose server is away. */
#define BRIDGE_RECONNECT_MAX_MS 2000

struct creq {
	struct creq *next;
	nng_msg *msg;
	bridge_reply_fn fn;
	void *arg;
	uint64_t deadline_ns; /* 0: none */
	uint64_t sent_ns;     /* when a slot took it; 0: still queued */
};

struct bridge_client {
	struct hub hub; /* first member: a hub pointer converts back */
	struct slot *free_slots;
	struct creq *fifo_head, *fifo_tail;
	size_t send_max;
	size_t recv_max;
	unsigned timeout_ms;
	int dispatching;
	nng_dialer dialer;
	char *url;
	nng_tls_config *tls_cfg; /* our reference, for a new dialer; NULL: no TLS */
	uint64_t last_reply_ns;	 /* when a reply last arrived */
	uint64_t last_redial_ns; /* when the dialer was last replaced */
};

/* The time left until the deadline, in whole milliseconds, at least 1. */
static nng_duration remaining_ms(const struct creq *r, uint64_t now)
{
	if (r->deadline_ns == 0) {
		return NNG_DURATION_INFINITE;
	}
	if (now >= r->deadline_ns) {
		return 1;
	}
	uint64_t ms = (r->deadline_ns - now + 999999) / 1000000;
	return ms > INT32_MAX ? INT32_MAX : (nng_duration)ms;
}

static void creq_finish(struct creq *r, int rc, nng_msg *reply)
{
	if (rc == 0) {
		r->fn(r->arg, 0, nng_msg_body(reply), nng_msg_len(reply));
	} else {
		r->fn(r->arg, rc, NULL, 0);
	}
	if (r->msg != NULL) {
		nng_msg_free(r->msg);
	}
	free(r);
}

/*
 * Hands queued requests to free slots in FIFO order. A request whose deadline
 * passed while it waited fails here; since everything ahead of it has an
 * earlier deadline, it waits at most about its own timeout.
 */
static void client_dispatch(struct bridge_client *c)
{
	if (c->dispatching) {
		return; /* a callback below queued more; the loop below takes it */
	}
	c->dispatching = 1;
	while (!c->hub.closing && c->free_slots != NULL && c->fifo_head != NULL) {
		struct creq *r = c->fifo_head;
		c->fifo_head = r->next;
		if (c->fifo_head == NULL) {
			c->fifo_tail = NULL;
		}
		uint64_t now = uv_hrtime();
		if (r->deadline_ns != 0 && now >= r->deadline_ns) {
			creq_finish(r, DX_ETIMEDOUT, NULL);
			continue;
		}
		struct slot *sl = c->free_slots;
		c->free_slots = sl->next;
		sl->next = NULL;
		sl->cur = r;
		sl->state = SLOT_SEND;
		r->sent_ns = now;
		nng_aio_set_timeout(sl->aio, remaining_ms(r, now));
		nng_aio_set_msg(sl->aio, r->msg);
		r->msg = NULL;
		nng_ctx_send(sl->ctx, sl->aio);
	}
	c->dispatching = 0;
}

/* A started dialer for the client's URL, limits and TLS configuration. */
static int dialer_new(struct bridge_client *c, nng_dialer *out)
{
	nng_dialer d;
	int rc = nng_dialer_create(&d, c->hub.sock, c->url);
	if (rc != 0) {
		return bridge_from_nng(rc);
	}
	int drc = DX_OK;
	if ((rc = nng_dialer_set_size(d, NNG_OPT_RECVMAXSZ, c->recv_max + BRIDGE_HEADER_SLACK)) !=
	    0) {
		drc = bridge_from_nng(rc);
	} else if ((rc = bridge_dialer_keepalive(d)) != 0) {
		drc = bridge_from_nng(rc);
	} else if (c->tls_cfg != NULL &&
		   (rc = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, c->tls_cfg)) != 0) {
		drc = bridge_tls_err(rc);
	} else if ((rc = nng_dialer_start(d, NNG_FLAG_NONBLOCK)) != 0) {
		/* Non-blocking: the server may come up later; nng keeps redialling. */
		drc = bridge_from_nng(rc);
	}
	if (drc != DX_OK) {
		nng_dialer_close(d);
		return drc;
	}
	*out = d;
	return DX_OK;
}

/* Replaces the dialer, presumed stuck on a dead connection; on failure keeps it. */
static void redial(struct bridge_client *c)
{
	nng_dialer d;
	if (dialer_new(c, &d) != DX_OK) {
		return;
	}
	nng_dialer_close(c->dialer);
	c->dialer = d;
	c->last_redial_ns = uv_hrtime();
}

static void client_process(struct hub *h, struct slot *sl)
{
	struct bridge_client *c = (struct bridge_client *)h;
	nng_msg *m = sl->msg;
	int rc = sl->rc;

	sl->msg = NULL;
	if (rc == 0 && sl->state == SLOT_SEND && !h->closing) {
		sl->state = SLOT_RECV;
		nng_aio_set_msg(sl->aio, NULL);
		nng_aio_set_timeout(sl->aio, remaining_ms(sl->cur, uv_hrtime()));
		nng_ctx_recv(sl->ctx, sl->aio);
		return;
	}
	struct creq *r = sl->cur;
	sl->cur = NULL;
	sl->state = SLOT_IDLE;
	sl->next = c->free_slots;
	c->free_slots = sl;
	if (h->closing) {
		rc = DX_ECLOSED;
	} else if (rc == 0 && nng_msg_len(m) > c->recv_max) {
		rc = DX_ETOOBIG; /* within the header slack, over the cap */
	} else {
		rc = bridge_from_nng(rc);
	}
	if (rc == 0) {
		c->last_reply_ns = uv_hrtime();
	} else if (rc == DX_ETIMEDOUT && r->sent_ns > c->last_redial_ns &&
		   c->last_reply_ns < r->sent_ns) {
		redial(c);
	}
	if (m != NULL && rc != 0) {
		/* The request a failed send handed back, or an unwanted reply. */
		nng_msg_free(m);
		m = NULL;
	}
	creq_finish(r, rc, m);
	if (m != NULL) {
		nng_msg_free(m);
	}
	client_dispatch(c);
}

/* What only a new dialer needs; each dialer holds its own TLS reference. */
static void client_release(struct bridge_client *c)
{
	if (c->tls_cfg != NULL) {
		nng_tls_config_free(c->tls_cfg);
		c->tls_cfg = NULL;
	}
	free(c->url);
	c->url = NULL;
}

static int client_quiesce(struct hub *h)
{
	struct bridge_client *c = (struct bridge_client *)h;

	while (c->fifo_head != NULL) {
		struct creq *r = c->fifo_head;
		c->fifo_head = r->next;
		creq_finish(r, DX_ECLOSED, NULL);
	}
	c->fifo_tail = NULL;
	if (!bridge_hub_idle(h)) {
		return 0;
	}
	client_release(c); /* closing: no dialer is made any more */
	return 1;
}

static int client_dial(struct bridge_client *c, const struct bridge_client_config *cfg, int tls)
{
	if ((c->url = strdup(cfg->url)) == NULL) {
		return DX_ENOMEM;
	}
	if (tls) {
		int drc = bridge_tls_client_config(&cfg->tls, &c->tls_cfg);
		if (drc != 0) {
			return drc;
		}
	}
	return dialer_new(c, &c->dialer);
}

static int client_socket(struct bridge_client *c, const struct bridge_client_config *cfg)
{
	struct hub *h = &c->hub;
	int rc = nng_req0_open(&h->sock);

	if (rc != 0) {
		return bridge_from_nng(rc);
	}
	h->sock_open = 1;
	nng_duration resend = cfg->resend_ms > 0 ? (nng_duration)cfg->resend_ms : 60000;
	if ((rc = nng_socket_set_size(h->sock, NNG_OPT_RECVMAXSZ,
				      cfg->recv_max + BRIDGE_HEADER_SLACK)) != 0 ||
	    (rc = nng_socket_set_ms(h->sock, NNG_OPT_REQ_RESENDTIME, resend)) != 0 ||
	    (rc = nng_socket_set_ms(h->sock, NNG_OPT_RECONNMAXT, BRIDGE_RECONNECT_MAX_MS)) != 0) {
		return bridge_from_nng(rc);
	}
	int drc = bridge_hub_open_slots(h);
	if (drc != 0) {
		return drc;
	}
	/*
	 * A context takes the socket's resend time when it opens; setting it on
	 * each context too keeps that independent of the order of these calls.
	 */
	for (unsigned i = 0; i < h->nslots; i++) {
		if ((rc = nng_ctx_set_ms(h->slots[i].ctx, NNG_OPT_REQ_RESENDTIME, resend)) != 0) {
			return bridge_from_nng(rc);
		}
	}
	return DX_OK;
}

int bridge_client_open(uv_loop_t *loop, const struct bridge_client_config *cfg,
		       struct bridge_client **out)
{
	int tls;
	int rc = bridge_url_kind(cfg->url, &tls);

	if (rc != 0 || cfg->contexts == 0 || cfg->contexts > BRIDGE_CONTEXTS_MAX ||
	    cfg->recv_max == 0 || cfg->recv_max > SIZE_MAX - BRIDGE_HEADER_SLACK ||
	    cfg->send_max == 0 || cfg->resend_ms > INT32_MAX || cfg->timeout_ms > INT32_MAX) {
		return DX_EINVAL;
	}
	struct bridge_client *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return DX_ENOMEM;
	}
	struct hub *h = &c->hub;
	if ((rc = bridge_hub_init(h, loop, cfg->contexts)) != 0) {
		free(c);
		return rc;
	}
	h->process = client_process;
	h->quiesce = client_quiesce;
	c->send_max = cfg->send_max;
	c->recv_max = cfg->recv_max;
	c->timeout_ms = cfg->timeout_ms;
	if ((rc = client_socket(c, cfg)) != 0 || (rc = client_dial(c, cfg, tls)) != 0 ||
	    (rc = bridge_hub_start(h)) != 0) {
		goto out;
	}
	for (unsigned i = h->nslots; i-- > 0;) {
		h->slots[i].next = c->free_slots;
		c->free_slots = &h->slots[i];
	}
	*out = c;
	return DX_OK;
out:
	bridge_hub_release_nng(h);
	client_release(c);
	bridge_hub_free(h);
	return rc;
}

int bridge_client_request(struct bridge_client *c, const uint8_t *data, size_t len,
			  bridge_reply_fn fn, void *arg)
{
	if (fn == NULL) {
		return DX_EINVAL;
	}
	if (c->hub.closing) {
		return DX_ECLOSED;
	}
	/* The server would drop the connection and REQ would resend for ever. */
	if (len > c->send_max) {
		return DX_ETOOBIG;
	}
	struct creq *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		return DX_ENOMEM;
	}
	int rc = nng_msg_alloc(&r->msg, len);
	if (rc != 0) {
		free(r);
		return bridge_from_nng(rc);
	}
	if (len > 0) {
		memcpy(nng_msg_body(r->msg), data, len);
	}
	r->fn = fn;
	r->arg = arg;
	if (c->timeout_ms > 0) {
		r->deadline_ns = uv_hrtime() + (uint64_t)c->timeout_ms * 1000000;
	}
	if (c->fifo_tail != NULL) {
		c->fifo_tail->next = r;
	} else {
		c->fifo_head = r;
	}
	c->fifo_tail = r;
	client_dispatch(c);
	return DX_OK;
}

void bridge_client_close(struct bridge_client *c, void (*done)(void *arg), void *arg)
{
	if (c->hub.closing) {
		return;
	}
	bridge_hub_close(&c->hub, 1, done, arg);
}
