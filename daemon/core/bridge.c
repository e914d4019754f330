/*
 * bridge.c: nng REQ/REP sockets driven from a libuv loop (see bridge.h): the
 * machinery both sides share, TLS material, and the REP server. The REQ
 * client is in bridge_client.c.
 *
 * Each nng context of a server or a client is a slot with one aio. A slot
 * never has more than one operation outstanding in nng, so the aio callback,
 * which runs on an nng thread, records the result in the slot itself, appends
 * the slot to its owner's completion list under a mutex and wakes the loop
 * with uv_async_send(). That is all an nng callback ever does. Every other
 * nng call (nng_ctx_send, nng_ctx_recv, nng_aio_cancel, nng_aio_stop,
 * nng_close) is made on the loop thread; the loop drains the completion list
 * and moves each slot's state machine on.
 *
 * Teardown: closing marks the owner and cancels what is pending in nng; the
 * loop then waits until every slot is idle (and, for a server, a short linger
 * so that the last replies leave). Only then are the aios stopped (which also
 * waits for a callback that may still be returning on an nng thread; after
 * it no callback touches the hub again). The contexts and the socket are
 * closed and the aios freed on a thread of their own, which the loop waits
 * for without blocking, at most bridge_close_wait_ms: nng 1.5.2's
 * nng_close() can wait for ever on its reaper (nng issues #1543 and #1813,
 * fixed in later releases), and a daemon must still stop. A close that
 * overruns is abandoned to its thread, which frees what it holds should it
 * ever return, and counted (bridge_closes_abandoned()). Then the loop
 * handles close; done() runs from the last handle's close callback, and the
 * memory is released right after it.
 */
#include "bridge.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bridge_hub.h"
#include "bridge_watch.h"
#include "cfgfile.h"
#include "util.h"

/* After nng.h, which it needs but does not include. */
#include <nng/protocol/reqrep0/rep.h>

/* Certificates and keys are small; anything larger is not a PEM file. */
#define BRIDGE_PEM_MAX (64 * 1024)
/* A reply that cannot be handed to the transport in this long is abandoned;
 * this bounds how long a stuck peer can hold up a server's close. */
#define BRIDGE_SEND_TIMEOUT_MS 10000
/*
 * A REP context's send completes when the reply is queued on the connection,
 * not when it is written, and nng 1.5.2 has no linger: closing the socket at
 * once would lose the last replies. The server waits this long first.
 */
#define BRIDGE_LINGER_MS 200
/* How long the loop waits for nng to close a socket before abandoning it. */
#define BRIDGE_CLOSE_WAIT_MS 2000

struct bridge_server {
	struct hub hub; /* first member: a hub pointer converts back */
	nng_listener listener; /* a tls+tcp server's belongs to its watch after opening */
	int port;	       /* the bound TCP port, -1 for ipc:// */
	bridge_handler_fn handler;
	void *arg;
	size_t recv_max;
};

int bridge_from_nng(int nng_err)
{
	switch (nng_err) {
	case 0:
		return DX_OK;
	case NNG_ETIMEDOUT:
		return DX_ETIMEDOUT;
	case NNG_ECLOSED:
	case NNG_ECANCELED:
		return DX_ECLOSED;
	case NNG_ECONNREFUSED:
	case NNG_EADDRINVAL:
	case NNG_EUNREACHABLE:
		return DX_EUNREACHABLE;
	case NNG_ECRYPTO:
	case NNG_EPEERAUTH:
		return DX_ETLS;
	case NNG_EMSGSIZE:
		return DX_ETOOBIG;
	case NNG_ENOMEM:
		return DX_ENOMEM;
	default:
		return DX_EIO;
	}
}

/* Accepts only the transports divex uses (the schemes cfgfile allows); sets *tls. */
int bridge_url_kind(const char *url, int *tls)
{
	if (url == NULL || cfgfile_url_scheme_len(url) == 0) {
		return DX_EINVAL;
	}
	*tls = cfgfile_url_is_tls(url);
	return DX_OK;
}

int bridge_listener_keepalive(nng_listener l)
{
	int rc = nng_listener_set_bool(l, NNG_OPT_TCP_KEEPALIVE, true);
	return rc == NNG_ENOTSUP ? 0 : rc;
}

int bridge_dialer_keepalive(nng_dialer d)
{
	int rc = nng_dialer_set_bool(d, NNG_OPT_TCP_KEEPALIVE, true);
	return rc == NNG_ENOTSUP ? 0 : rc;
}

/* ---- TLS material ---- */

/* Reads a PEM file into a NUL-terminated string, as nng wants it. */
static int pem_read(const char *path, char **out, size_t *out_len)
{
	uint8_t *buf;
	size_t len;
	int rc = dx_read_file(path, BRIDGE_PEM_MAX, &buf, &len);
	if (rc != 0) {
		return rc;
	}
	char *s = malloc(len + 1);
	if (s != NULL) {
		memcpy(s, buf, len);
		s[len] = '\0';
	}
	sodium_memzero(buf, len);
	free(buf);
	if (s == NULL) {
		return DX_ENOMEM;
	}
	*out = s;
	*out_len = len;
	return DX_OK;
}

/* Private keys pass through these buffers, so they are always wiped. */
static void pem_free(char *s, size_t len)
{
	if (s != NULL) {
		sodium_memzero(s, len);
		free(s);
	}
}

int bridge_tls_err(int nng_err)
{
	return nng_err == NNG_ENOMEM ? DX_ENOMEM : DX_ETLS;
}

/* The same rule as for divex key files: ours, a regular file, mode 0600 or less. */
static int key_file_check(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0) {
		return dx_from_errno(errno);
	}
	if (S_ISLNK(st.st_mode) || (st.st_mode & 077) != 0 || st.st_uid != geteuid()) {
		return DX_EKEYFILE_PERM;
	}
	return DX_OK;
}

static int tls_server_config(const struct bridge_tls *t, nng_tls_config **out)
{
	char *cert = NULL;
	char *key = NULL;
	size_t cert_len = 0;
	size_t key_len = 0;
	nng_tls_config *tc = NULL;
	int rc;

	if (t->cert_file == NULL || t->key_file == NULL) {
		return DX_EINVAL;
	}
	if ((rc = key_file_check(t->key_file)) != 0 ||
	    (rc = pem_read(t->cert_file, &cert, &cert_len)) != 0 ||
	    (rc = pem_read(t->key_file, &key, &key_len)) != 0) {
		goto out;
	}
	int nrc = nng_tls_config_alloc(&tc, NNG_TLS_MODE_SERVER);
	if (nrc == 0) {
		nrc = nng_tls_config_auth_mode(tc, NNG_TLS_AUTH_MODE_NONE);
	}
	if (nrc == 0) {
		nrc = nng_tls_config_own_cert(tc, cert, key, NULL);
	}
	if (nrc != 0) {
		rc = bridge_tls_err(nrc);
		goto out;
	}
	*out = tc;
	tc = NULL;
out:
	if (tc != NULL) {
		nng_tls_config_free(tc);
	}
	pem_free(cert, cert_len);
	pem_free(key, key_len);
	return rc;
}

/*
 * The relay's self-signed certificate is the only trust anchor, so the client
 * accepts exactly the key it was given (or a certificate that key signed).
 */
int bridge_tls_client_config(const struct bridge_tls *t, nng_tls_config **out)
{
	char *ca = NULL;
	size_t ca_len = 0;
	nng_tls_config *tc = NULL;
	int rc;

	if (t->ca_file == NULL) {
		return DX_EINVAL;
	}
	if ((rc = pem_read(t->ca_file, &ca, &ca_len)) != 0) {
		return rc;
	}
	int nrc = nng_tls_config_alloc(&tc, NNG_TLS_MODE_CLIENT);
	if (nrc == 0) {
		nrc = nng_tls_config_auth_mode(tc, NNG_TLS_AUTH_MODE_REQUIRED);
	}
	if (nrc == 0) {
		nrc = nng_tls_config_ca_chain(tc, ca, NULL);
	}
	if (nrc == 0 && t->server_name != NULL) {
		nrc = nng_tls_config_server_name(tc, t->server_name);
	}
	if (nrc != 0) {
		rc = bridge_tls_err(nrc);
		goto out;
	}
	*out = tc;
	tc = NULL;
out:
	if (tc != NULL) {
		nng_tls_config_free(tc);
	}
	pem_free(ca, ca_len);
	return rc;
}

/* ---- the hub: slots, completion queue, teardown ---- */

/* Runs on an nng thread: record, enqueue, wake the loop; nothing else. */
static void slot_cb(void *arg)
{
	struct slot *sl = arg;
	struct hub *h = sl->hub;
	int rc = nng_aio_result(sl->aio);
	nng_msg *m = NULL;

	/* A received message, or the message a failed send gives back. */
	if (rc != 0 || sl->state == SLOT_RECV) {
		m = nng_aio_get_msg(sl->aio);
		nng_aio_set_msg(sl->aio, NULL);
	}
	uv_mutex_lock(&h->mu);
	sl->rc = rc;
	sl->msg = m;
	sl->next = NULL;
	if (h->tail != NULL) {
		h->tail->next = sl;
	} else {
		h->head = sl;
	}
	h->tail = sl;
	uv_mutex_unlock(&h->mu);
	uv_async_send(&h->async);
}

int bridge_hub_init(struct hub *h, uv_loop_t *loop, unsigned nslots)
{
	h->loop = loop;
	h->slots = calloc(nslots, sizeof(*h->slots));
	if (h->slots == NULL) {
		return DX_ENOMEM;
	}
	h->nslots = nslots;
	for (unsigned i = 0; i < nslots; i++) {
		h->slots[i].hub = h;
		h->slots[i].req.slot = &h->slots[i];
	}
	if (uv_mutex_init(&h->mu) != 0) {
		free(h->slots);
		h->slots = NULL;
		return DX_ENOMEM;
	}
	return DX_OK;
}

int bridge_hub_open_slots(struct hub *h)
{
	for (unsigned i = 0; i < h->nslots; i++) {
		struct slot *sl = &h->slots[i];
		int rc = nng_ctx_open(&sl->ctx, h->sock);
		if (rc != 0) {
			return bridge_from_nng(rc);
		}
		sl->ctx_open = 1;
		if ((rc = nng_aio_alloc(&sl->aio, slot_cb, sl)) != 0) {
			return bridge_from_nng(rc);
		}
	}
	return DX_OK;
}

/* Loop thread, nothing outstanding in nng: releases every nng resource. */
void bridge_hub_release_nng(struct hub *h)
{
	for (unsigned i = 0; i < h->nslots; i++) {
		if (h->slots[i].aio != NULL) {
			nng_aio_stop(h->slots[i].aio);
		}
	}
	for (unsigned i = 0; i < h->nslots; i++) {
		if (h->slots[i].ctx_open) {
			nng_ctx_close(h->slots[i].ctx);
			h->slots[i].ctx_open = 0;
		}
	}
	if (h->sock_open) {
		nng_close(h->sock);
		h->sock_open = 0;
	}
	if (h->watch != NULL) {
		bridge_watch_socket_closed(h->watch);
		h->watch = NULL;
	}
	for (unsigned i = 0; i < h->nslots; i++) {
		if (h->slots[i].aio != NULL) {
			nng_aio_free(h->slots[i].aio);
			h->slots[i].aio = NULL;
		}
	}
	/* Every callback has returned now; drop whatever was left queued. */
	for (struct slot *sl = h->head; sl != NULL; sl = sl->next) {
		if (sl->msg != NULL) {
			nng_msg_free(sl->msg);
			sl->msg = NULL;
		}
	}
	h->head = h->tail = NULL;
}

void bridge_hub_free(struct hub *h)
{
	uv_mutex_destroy(&h->mu);
	free(h->slots);
	free(h);
}

static void hub_closed(uv_handle_t *handle)
{
	struct hub *h = handle->data;
	void (*done)(void *) = h->done;
	void *arg = h->done_arg;

	if (--h->handles_open > 0) {
		return;
	}
	if (done != NULL) {
		done(arg);
	}
	bridge_hub_free(h);
}

static void hub_close_handles(struct hub *h)
{
	h->handles_open = 2;
	uv_close((uv_handle_t *)&h->async, hub_closed);
	uv_close((uv_handle_t *)&h->linger, hub_closed);
}

/* ---- closing the socket off the loop ---- */

/* The nng objects of a hub being closed, owned by the closing thread. */
struct closer {
	pthread_mutex_t mu;
	int finished;	  /* the thread is done with nng (under mu) */
	int abandoned;	  /* the loop stopped waiting; the thread frees this (under mu) */
	uv_async_t *wake; /* the hub's, signalled when finished unless abandoned */
	nng_socket sock;
	int sock_open;
	struct bridge_watch *watch; /* told when the socket is closed */
	unsigned n;
	struct {
		nng_ctx ctx;
		int ctx_open;
		nng_aio *aio;
	} s[];
};

static atomic_uint close_wait_ms = BRIDGE_CLOSE_WAIT_MS;
static atomic_uint close_delay_ms;
static atomic_ulong closes_abandoned;
static atomic_ulong closes_running;

void bridge_close_tuning(unsigned wait_ms, unsigned delay_ms)
{
	atomic_store(&close_wait_ms, wait_ms != 0 ? wait_ms : BRIDGE_CLOSE_WAIT_MS);
	atomic_store(&close_delay_ms, delay_ms);
}

unsigned long bridge_closes_abandoned(void)
{
	return atomic_load(&closes_abandoned);
}

unsigned long bridge_closes_running(void)
{
	return atomic_load(&closes_running);
}

static void closer_free(struct closer *k)
{
	pthread_mutex_destroy(&k->mu);
	free(k);
}

/* Contexts, then the socket, then the aios: the order nng requires. */
static void closer_close(struct closer *k)
{
	unsigned delay = atomic_load(&close_delay_ms);
	if (delay > 0) {
		struct timespec ts = { delay / 1000, (long)(delay % 1000) * 1000000L };
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
		}
	}
	for (unsigned i = 0; i < k->n; i++) {
		if (k->s[i].ctx_open) {
			nng_ctx_close(k->s[i].ctx);
		}
	}
	if (k->sock_open) {
		nng_close(k->sock);
	}
	if (k->watch != NULL) {
		bridge_watch_socket_closed(k->watch);
	}
	for (unsigned i = 0; i < k->n; i++) {
		if (k->s[i].aio != NULL) {
			nng_aio_free(k->s[i].aio);
		}
	}
}

static void *closer_main(void *arg)
{
	struct closer *k = arg;
	closer_close(k);
	pthread_mutex_lock(&k->mu);
	k->finished = 1;
	int gone = k->abandoned;
	if (!gone) {
		uv_async_send(k->wake);
	}
	pthread_mutex_unlock(&k->mu);
	if (gone) {
		closer_free(k);
	}
	atomic_fetch_sub(&closes_running, 1);
	return NULL;
}

/* Stops the aios and moves the hub's nng objects into a closer; NULL: no memory. */
static struct closer *closer_take(struct hub *h)
{
	struct closer *k = calloc(1, sizeof(*k) + (size_t)h->nslots * sizeof(k->s[0]));
	if (k == NULL) {
		return NULL;
	}
	if (pthread_mutex_init(&k->mu, NULL) != 0) {
		free(k);
		return NULL;
	}
	for (unsigned i = 0; i < h->nslots; i++) {
		if (h->slots[i].aio != NULL) {
			nng_aio_stop(h->slots[i].aio);
		}
	}
	k->wake = &h->async;
	k->n = h->nslots;
	for (unsigned i = 0; i < h->nslots; i++) {
		struct slot *sl = &h->slots[i];
		k->s[i].ctx = sl->ctx;
		k->s[i].ctx_open = sl->ctx_open;
		k->s[i].aio = sl->aio;
		sl->ctx_open = 0;
		sl->aio = NULL;
	}
	k->sock = h->sock;
	k->sock_open = h->sock_open;
	h->sock_open = 0;
	k->watch = h->watch;
	h->watch = NULL;
	return k;
}

static void closer_deadline(uv_timer_t *timer);

/* Starts k's closing thread; 0 when no thread could be made. */
static int closer_spawn(struct closer *k)
{
	pthread_attr_t attr;
	pthread_t tid;
	int started = 0;
	atomic_fetch_add(&closes_running, 1);
	if (pthread_attr_init(&attr) == 0) {
		started = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
			  pthread_create(&tid, &attr, closer_main, k) == 0;
		pthread_attr_destroy(&attr);
	}
	if (!started) {
		atomic_fetch_sub(&closes_running, 1);
	}
	return started;
}

/* Loop thread: every aio idle; hands the nng objects to a closing thread. */
static void hub_teardown(struct hub *h)
{
	struct closer *k = closer_take(h);
	if (k != NULL && closer_spawn(k)) {
		h->closer = k;
		/* The stopped aios call back no more: what they left queued goes. */
		bridge_hub_release_nng(h);
		uv_timer_start(&h->linger, closer_deadline, atomic_load(&close_wait_ms), 0);
		return;
	}
	/* No memory or no thread: close here, as before. */
	if (k != NULL) {
		closer_close(k);
		closer_free(k);
	}
	bridge_hub_release_nng(h);
	hub_close_handles(h);
}

/* Loop thread: the closing thread finished, or the wait is over. */
static void closer_settle(struct hub *h, int deadline)
{
	struct closer *k = h->closer;
	pthread_mutex_lock(&k->mu);
	int finished = k->finished;
	if (!finished && deadline) {
		k->abandoned = 1;
	}
	pthread_mutex_unlock(&k->mu);
	if (!finished && !deadline) {
		return; /* woken for something else */
	}
	h->closer = NULL;
	uv_timer_stop(&h->linger);
	if (finished) {
		closer_free(k);
	} else {
		atomic_fetch_add(&closes_abandoned, 1);
	}
	hub_close_handles(h);
}

static void closer_deadline(uv_timer_t *timer)
{
	closer_settle(timer->data, 1);
}

static void hub_linger_done(uv_timer_t *timer)
{
	hub_teardown(timer->data);
}

static void hub_finish(struct hub *h)
{
	if (h->closer != NULL) {
		closer_settle(h, 0);
		return;
	}
	if (h->finishing || !h->quiesce(h)) {
		return;
	}
	h->finishing = 1;
	if (h->linger_ms > 0) {
		uv_timer_start(&h->linger, hub_linger_done, h->linger_ms, 0);
		return;
	}
	hub_teardown(h);
}

static void hub_drain(uv_async_t *async)
{
	struct hub *h = async->data;

	for (;;) {
		uv_mutex_lock(&h->mu);
		struct slot *sl = h->head;
		h->head = h->tail = NULL;
		uv_mutex_unlock(&h->mu);
		if (sl == NULL) {
			break;
		}
		while (sl != NULL) {
			struct slot *next = sl->next;
			sl->next = NULL;
			h->process(h, sl);
			sl = next;
		}
	}
	/* Teardown happens only here, never inside a handler or a callback. */
	if (h->closing) {
		hub_finish(h);
	}
}

/* The last step of opening: after it, failures are reported through the loop. */
int bridge_hub_start(struct hub *h)
{
	h->async.data = h;
	if (uv_async_init(h->loop, &h->async, hub_drain) != 0) {
		return DX_ENOMEM;
	}
	/* Cannot fail; comes second so that a failure above leaves no handle. */
	uv_timer_init(h->loop, &h->linger);
	h->linger.data = h;
	return DX_OK;
}

/* A server lets its replies finish; a client abandons everything. */
void bridge_hub_close(struct hub *h, int cancel_sends, void (*done)(void *), void *arg)
{
	h->closing = 1;
	h->done = done;
	h->done_arg = arg;
	for (unsigned i = 0; i < h->nslots; i++) {
		struct slot *sl = &h->slots[i];
		if (sl->state == SLOT_RECV || (cancel_sends && sl->state == SLOT_SEND)) {
			nng_aio_cancel(sl->aio);
		}
	}
	/* A drain pass finishes the close once nothing is outstanding. */
	uv_async_send(&h->async);
}

int bridge_hub_idle(const struct hub *h)
{
	for (unsigned i = 0; i < h->nslots; i++) {
		if (h->slots[i].state != SLOT_IDLE) {
			return 0;
		}
	}
	return 1;
}

/* ---- server ---- */

static void server_arm(struct slot *sl)
{
	sl->state = SLOT_RECV;
	nng_aio_set_msg(sl->aio, NULL);
	nng_aio_set_timeout(sl->aio, NNG_DURATION_INFINITE);
	nng_ctx_recv(sl->ctx, sl->aio);
}

static void server_process(struct hub *h, struct slot *sl)
{
	struct bridge_server *s = (struct bridge_server *)h;
	nng_msg *m = sl->msg;

	sl->msg = NULL;
	/* Over the cap but within the header slack: nng let it through. */
	if (m != NULL && sl->state == SLOT_RECV && nng_msg_len(m) > s->recv_max) {
		nng_msg_free(m);
		m = NULL;
		sl->rc = NNG_EMSGSIZE;
	}
	if (sl->state == SLOT_RECV && sl->rc == 0 && !h->closing) {
		sl->state = SLOT_HELD;
		sl->req.msg = m;
		sl->req.t_ns = uv_hrtime();
		s->handler(s->arg, &sl->req, nng_msg_body(m), nng_msg_len(m));
		return;
	}
	/* A finished send, a failed receive, or a request that came too late. */
	if (m != NULL) {
		nng_msg_free(m);
	}
	if (h->closing || sl->rc == NNG_ECLOSED) {
		sl->state = SLOT_IDLE;
		return;
	}
	server_arm(sl);
}

static int server_quiesce(struct hub *h)
{
	return bridge_hub_idle(h);
}

static int server_listen(struct bridge_server *s, const struct bridge_server_config *cfg, int tls)
{
	nng_socket sock = s->hub.sock;
	nng_tls_config *tc = NULL;
	int rc;

	/* Before the listener exists, so that no pipe ever runs without the cap. */
	size_t max = cfg->recv_max + BRIDGE_HEADER_SLACK;
	if ((rc = nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, max)) != 0 ||
	    (rc = nng_listener_create(&s->listener, sock, cfg->url)) != 0 ||
	    (rc = nng_listener_set_size(s->listener, NNG_OPT_RECVMAXSZ, max)) != 0 ||
	    (rc = bridge_listener_keepalive(s->listener)) != 0) {
		return bridge_from_nng(rc);
	}
	if (tls) {
		int drc = tls_server_config(&cfg->tls, &tc);
		if (drc != 0) {
			return drc;
		}
		if ((rc = nng_listener_set_ptr(s->listener, NNG_OPT_TLS_CONFIG, tc)) != 0) {
			nng_tls_config_free(tc);
			return bridge_tls_err(rc);
		}
	}
	if (cfg->ipc_mode != 0) {
		rc = nng_listener_set_int(s->listener, NNG_OPT_IPC_PERMISSIONS, cfg->ipc_mode);
	}
	if (rc == 0) {
		rc = nng_listener_start(s->listener, 0);
	}
	if (rc == 0 && strncmp(cfg->url, "ipc://", 6) != 0) {
		rc = nng_listener_get_int(s->listener, NNG_OPT_TCP_BOUND_PORT, &s->port);
	}
	if (rc == 0 && tc != NULL) {
		/* nng 1.5.2's tls+tcp listener can stop accepting: see bridge_watch.c. */
		rc = bridge_watch_start(sock, s->listener, cfg->url, s->port, tc, max,
					&s->hub.watch);
	}
	if (tc != NULL) {
		nng_tls_config_free(tc); /* the listener and the watch hold their own */
	}
	return rc == 0 ? DX_OK : bridge_from_nng(rc);
}

int bridge_server_open(uv_loop_t *loop, const struct bridge_server_config *cfg,
		       bridge_handler_fn handler, void *arg, struct bridge_server **out)
{
	int tls;
	int rc = bridge_url_kind(cfg->url, &tls);

	if (rc != 0 || handler == NULL || cfg->contexts == 0 ||
	    cfg->contexts > BRIDGE_CONTEXTS_MAX || cfg->recv_max == 0 ||
	    cfg->recv_max > SIZE_MAX - BRIDGE_HEADER_SLACK) {
		return DX_EINVAL;
	}
	struct bridge_server *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return DX_ENOMEM;
	}
	struct hub *h = &s->hub;
	if ((rc = bridge_hub_init(h, loop, cfg->contexts)) != 0) {
		free(s);
		return rc;
	}
	h->process = server_process;
	h->quiesce = server_quiesce;
	h->linger_ms = BRIDGE_LINGER_MS;
	s->handler = handler;
	s->arg = arg;
	s->recv_max = cfg->recv_max;
	s->port = -1;
	int nrc = nng_rep0_open(&h->sock);
	if (nrc != 0) {
		rc = bridge_from_nng(nrc);
		goto out;
	}
	h->sock_open = 1;
	if ((rc = bridge_hub_open_slots(h)) != 0 || (rc = server_listen(s, cfg, tls)) != 0 ||
	    (rc = bridge_hub_start(h)) != 0) {
		goto out;
	}
	for (unsigned i = 0; i < h->nslots; i++) {
		server_arm(&h->slots[i]);
	}
	*out = s;
	return DX_OK;
out:
	if (h->watch != NULL) {
		bridge_watch_stop(h->watch);
	}
	bridge_hub_release_nng(h);
	bridge_hub_free(h);
	return rc;
}

int bridge_reply(struct bridge_request *req, const uint8_t *data, size_t len)
{
	struct slot *sl = req->slot;
	nng_msg *m;
	int rc = nng_msg_alloc(&m, len);

	if (rc != 0) {
		bridge_drop(req);
		return bridge_from_nng(rc);
	}
	/* Copy first: data may point into the request itself. */
	if (len > 0) {
		memcpy(nng_msg_body(m), data, len);
	}
	nng_msg_free(req->msg);
	req->msg = NULL;
	sl->state = SLOT_SEND;
	nng_aio_set_msg(sl->aio, m);
	nng_aio_set_timeout(sl->aio, BRIDGE_SEND_TIMEOUT_MS);
	nng_ctx_send(sl->ctx, sl->aio);
	return DX_OK;
}

void bridge_drop(struct bridge_request *req)
{
	struct slot *sl = req->slot;
	struct hub *h = sl->hub;

	nng_msg_free(req->msg);
	req->msg = NULL;
	if (h->closing) {
		sl->state = SLOT_IDLE;
		uv_async_send(&h->async);
		return;
	}
	server_arm(sl);
}

int bridge_request_peer_uid(const struct bridge_request *req, uint64_t *uid)
{
	uint64_t v;
	if (req->msg == NULL) {
		return DX_EINVAL;
	}
	nng_pipe p = nng_msg_get_pipe(req->msg);
	if (nng_pipe_id(p) < 0 || nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_UID, &v) != 0) {
		return DX_EINVAL;
	}
	*uid = v;
	return DX_OK;
}

uint64_t bridge_request_time_ns(const struct bridge_request *req)
{
	return req->t_ns;
}

int bridge_server_port(const struct bridge_server *s, int *port)
{
	if (s->port < 0) {
		return DX_EINVAL;
	}
	*port = s->port;
	return DX_OK;
}

void bridge_server_test_break_listener(struct bridge_server *s)
{
	if (s->hub.watch != NULL) {
		bridge_watch_test_break(s->hub.watch);
	}
}

void bridge_server_close(struct bridge_server *s, void (*done)(void *arg), void *arg)
{
	if (s->hub.closing) {
		return;
	}
	/*
	 * The listener stays open until the socket closes: closing it would
	 * also close the connections it accepted, and with them the replies
	 * still to be sent. With no receive armed, nothing new is handled.
	 * Its watch stops first, so that it does not listen again meanwhile.
	 */
	if (s->hub.watch != NULL) {
		bridge_watch_stop(s->hub.watch);
	}
	bridge_hub_close(&s->hub, 0, done, arg);
}
