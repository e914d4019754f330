/*
 * bridge_watch.c: keeps a server's tls+tcp listener accepting.
 *
 * The defect (nng 1.5.2, reproduced with nng alone: a REP socket on
 * tls+tcp, two clients with the wrong certificate pin, then one with the
 * right pin; 1 round in 180 with three such programs on a loaded machine,
 * docs/RELIABILITY.md). When a
 * client aborts its TLS handshake, the transport can hand the error of that
 * one connection, NNG_ECLOSED, to the socket's pending accept. The socket
 * takes NNG_ECLOSED to mean that the listener itself was closed and never
 * asks the transport for a connection again. The transport still completes
 * TLS handshakes and the SP header exchange on new connections, but parks
 * them; no request on them is ever read. The listener's statistics show it:
 * "accept" stops moving, "other" counts the error. Connections accepted
 * before keep working. Only a new listener recovers.
 *
 * The watch: a thread per tls+tcp server probes the listener every
 * interval (10 s). A probe dials the listener over TLS (its own certificate
 * is not checked: the probe proves liveness, not identity), exchanges the SP
 * headers so that the transport finishes with the connection, and then
 * waits up to 5 s for the socket to add a pipe, any pipe: a pipe added by
 * anyone proves the listener accepts. Two probes in a row without one, and
 * the watch closes the listener (which closes the connections it accepted;
 * their REQ clients redial and resend) and listens again on the same
 * address and port. Replacements are counted (bridge_listeners_replaced());
 * the relay logs them and exports the count.
 *
 * Lifetime: the watch is shared by its thread and the socket's pipe
 * notifier, and freed by whichever lets go last: the thread when it ends,
 * the socket when nng_close() has returned (after which nng calls the
 * notifier no more). A close abandoned by the bridge keeps the watch for
 * ever, as it keeps the socket.
 */
#include "bridge.h"
#include "bridge_hub.h"
#include "bridge_watch.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WATCH_INTERVAL_MS 10000
#define WATCH_PROBE_WAIT_MS 5000
/* Probes in a row that see no pipe added before the listener is replaced. */
#define WATCH_MISSES 2
/* Listening again: the old listener's port may take a moment to be free. */
#define WATCH_RELISTEN_TRIES 50
#define WATCH_RELISTEN_PAUSE_MS 100
#define WATCH_URL_MAX 320

/* The SP header a REQ0 peer sends: "\0SP\0", protocol 0x30, two zero bytes. */
static const uint8_t req0_header[8] = { 0, 'S', 'P', 0, 0x00, 0x30, 0, 0 };

struct bridge_watch {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stopping; /* under mu */
	int broken;   /* under mu: a test asked for the listener to be closed */
	nng_aio *probing; /* under mu: the probe's aio, aborted by a stop */
	int refs;     /* under mu: the thread's and the socket's */
	atomic_ulong added; /* pipes the socket added (nng threads) */
	nng_socket sock;
	nng_listener listener; /* the watch thread's alone */
	int listening;
	nng_tls_config *tls;
	size_t recv_max;
	char url[WATCH_URL_MAX];
	char probe_url[WATCH_URL_MAX];
};

static atomic_uint watch_interval_ms = WATCH_INTERVAL_MS;
static atomic_uint watch_wait_ms = WATCH_PROBE_WAIT_MS;
static atomic_ulong listeners_replaced;
static atomic_ulong relisten_failures;

void bridge_watch_tuning(unsigned interval_ms, unsigned wait_ms)
{
	atomic_store(&watch_interval_ms, interval_ms ? interval_ms : WATCH_INTERVAL_MS);
	atomic_store(&watch_wait_ms, wait_ms ? wait_ms : WATCH_PROBE_WAIT_MS);
}

unsigned long bridge_listeners_replaced(void)
{
	return atomic_load(&listeners_replaced);
}

unsigned long bridge_listener_relisten_failures(void)
{
	return atomic_load(&relisten_failures);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void watch_release(struct bridge_watch *w)
{
	pthread_mutex_lock(&w->mu);
	int last = --w->refs == 0;
	pthread_mutex_unlock(&w->mu);
	if (last) {
		nng_tls_config_free(w->tls);
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		free(w);
	}
}

/* Sleeps ms unless stopped; 1 when the watch is stopping. */
static int watch_pause(struct bridge_watch *w, unsigned ms)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->mu);
	while (!w->stopping && pthread_cond_timedwait(&w->cv, &w->mu, &until) != ETIMEDOUT) {
	}
	int stopping = w->stopping;
	pthread_mutex_unlock(&w->mu);
	return stopping;
}

static int watch_stopping(struct bridge_watch *w)
{
	pthread_mutex_lock(&w->mu);
	int stopping = w->stopping;
	pthread_mutex_unlock(&w->mu);
	return stopping;
}

static void on_pipe_added(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void)p;
	(void)ev;
	struct bridge_watch *w = arg;
	atomic_fetch_add(&w->added, 1);
}

/* Runs one stream operation to its end within the time left; 0 or an nng error. */
static int stream_io(nng_stream *st, nng_aio *aio, uint8_t *buf, size_t len, int send,
		     uint64_t deadline)
{
	size_t done = 0;
	while (done < len) {
		uint64_t now = mono_ms();
		if (now >= deadline) {
			return NNG_ETIMEDOUT;
		}
		nng_iov iov = { .iov_buf = buf + done, .iov_len = len - done };
		int rc = nng_aio_set_iov(aio, 1, &iov);
		if (rc != 0) {
			return rc;
		}
		nng_aio_set_timeout(aio, (nng_duration)(deadline - now));
		if (send) {
			nng_stream_send(st, aio);
		} else {
			nng_stream_recv(st, aio);
		}
		nng_aio_wait(aio);
		if ((rc = nng_aio_result(aio)) != 0) {
			return rc;
		}
		done += nng_aio_count(aio);
	}
	return 0;
}

/*
 * Connects over TLS and exchanges SP headers, so that the transport is done
 * with the connection; the stream (NULL when it failed) goes to *out.
 */
static void probe_connect(struct bridge_watch *w, nng_aio *aio, uint64_t deadline,
			  nng_stream **out)
{
	nng_stream_dialer *d = NULL;
	nng_tls_config *tc = NULL;
	uint8_t ours[8], theirs[8];

	*out = NULL;
	if (nng_stream_dialer_alloc(&d, w->probe_url) != 0) {
		return;
	}
	if (nng_tls_config_alloc(&tc, NNG_TLS_MODE_CLIENT) == 0 &&
	    nng_tls_config_auth_mode(tc, NNG_TLS_AUTH_MODE_NONE) == 0 &&
	    nng_stream_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, tc) == 0) {
		nng_aio_set_timeout(aio, (nng_duration)(deadline - mono_ms()));
		nng_stream_dialer_dial(d, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio) == 0) {
			*out = nng_aio_get_output(aio, 0);
			memcpy(ours, req0_header, sizeof(ours));
			if (stream_io(*out, aio, ours, sizeof(ours), 1, deadline) == 0) {
				(void)stream_io(*out, aio, theirs, sizeof(theirs), 0, deadline);
			}
		}
	}
	if (tc != NULL) {
		nng_tls_config_free(tc);
	}
	nng_stream_dialer_close(d);
	nng_stream_dialer_free(d);
}

/*
 * 1 when the socket added a pipe within the probe's wait: the probe's own,
 * or anyone's. The probe's connection stays open until then, so that the
 * socket has the time to add it.
 */
static int probe(struct bridge_watch *w)
{
	unsigned long base = atomic_load(&w->added);
	uint64_t deadline = mono_ms() + atomic_load(&watch_wait_ms);
	nng_stream *st = NULL;
	nng_aio *aio = NULL;

	if (w->listening && nng_aio_alloc(&aio, NULL, NULL) == 0) {
		pthread_mutex_lock(&w->mu);
		int stopping = w->stopping;
		w->probing = stopping ? NULL : aio;
		pthread_mutex_unlock(&w->mu);
		if (!stopping) {
			probe_connect(w, aio, deadline, &st);
		}
		pthread_mutex_lock(&w->mu);
		w->probing = NULL;
		pthread_mutex_unlock(&w->mu);
	}
	while (atomic_load(&w->added) == base && mono_ms() < deadline) {
		if (watch_pause(w, 10)) {
			break;
		}
	}
	int alive = atomic_load(&w->added) != base;
	if (st != NULL) {
		nng_stream_close(st);
		nng_stream_free(st);
	}
	if (aio != NULL) {
		nng_aio_free(aio);
	}
	return alive;
}

/* A new listener on the same address: 0, or the nng error of the last try. */
static int listen_again(struct bridge_watch *w)
{
	nng_listener l;
	int rc = nng_listener_create(&l, w->sock, w->url);
	if (rc != 0) {
		return rc;
	}
	if ((rc = nng_listener_set_size(l, NNG_OPT_RECVMAXSZ, w->recv_max)) != 0 ||
	    (rc = bridge_listener_keepalive(l)) != 0 ||
	    (rc = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, w->tls)) != 0 ||
	    (rc = nng_listener_start(l, 0)) != 0) {
		nng_listener_close(l);
		return rc;
	}
	w->listener = l;
	w->listening = 1;
	return 0;
}

static void replace(struct bridge_watch *w)
{
	if (w->listening) {
		nng_listener_close(w->listener);
		w->listening = 0;
	}
	for (int i = 0; i < WATCH_RELISTEN_TRIES; i++) {
		int rc = listen_again(w);
		if (rc == 0) {
			atomic_fetch_add(&listeners_replaced, 1);
			return;
		}
		if (rc == NNG_ECLOSED || watch_pause(w, WATCH_RELISTEN_PAUSE_MS)) {
			return; /* the server is closing */
		}
	}
	/* Tried again at the next round, which finds no listener. */
	atomic_fetch_add(&relisten_failures, 1);
}

static void *watch_main(void *arg)
{
	struct bridge_watch *w = arg;
	unsigned misses = 0;

	while (!watch_pause(w, atomic_load(&watch_interval_ms))) {
		pthread_mutex_lock(&w->mu);
		int broken = w->broken;
		w->broken = 0;
		pthread_mutex_unlock(&w->mu);
		if (broken && w->listening) {
			/* As dead as the defect leaves it, and the watch not told. */
			nng_listener_close(w->listener);
		}
		if (probe(w)) {
			misses = 0;
			continue;
		}
		if (++misses >= WATCH_MISSES || !w->listening) {
			if (watch_stopping(w)) {
				break;
			}
			replace(w);
			misses = 0;
		}
	}
	watch_release(w);
	return NULL;
}

/*
 * url's scheme and host with port: where to listen again (the bound port,
 * so that it is the same), or, with loopback set, where to dial (a wildcard
 * host becomes the loopback address).
 */
static int url_at(const char *url, int port, int loopback, char *out, size_t cap)
{
	nng_url *u;
	if (nng_url_parse(&u, url) != 0) {
		return NNG_EADDRINVAL;
	}
	const char *host = u->u_hostname;
	if (loopback &&
	    (host[0] == '\0' || strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0)) {
		host = "127.0.0.1";
	} else if (loopback && strcmp(host, "::") == 0) {
		host = "::1";
	}
	int v6 = strchr(host, ':') != NULL;
	int n = snprintf(out, cap, "%s://%s%s%s:%d", u->u_scheme, v6 ? "[" : "", host,
			 v6 ? "]" : "", port);
	nng_url_free(u);
	return n > 0 && (size_t)n < cap ? 0 : NNG_EADDRINVAL;
}

int bridge_watch_start(nng_socket sock, nng_listener l, const char *url, int port,
		       nng_tls_config *tls, size_t recv_max, struct bridge_watch **out)
{
	int rc;
	*out = NULL;
	struct bridge_watch *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		return NNG_ENOMEM;
	}
	if (pthread_mutex_init(&w->mu, NULL) != 0) {
		free(w);
		return NNG_ENOMEM;
	}
	pthread_condattr_t ca;
	int cv_ok = pthread_condattr_init(&ca) == 0;
	if (cv_ok) {
		cv_ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
			pthread_cond_init(&w->cv, &ca) == 0;
		pthread_condattr_destroy(&ca);
	}
	if (!cv_ok) {
		pthread_mutex_destroy(&w->mu);
		free(w);
		return NNG_ENOMEM;
	}
	w->sock = sock;
	w->listener = l;
	w->listening = 1;
	w->recv_max = recv_max;
	nng_tls_config_hold(tls);
	w->tls = tls;
	if ((rc = url_at(url, port, 0, w->url, sizeof(w->url))) == 0 &&
	    (rc = url_at(url, port, 1, w->probe_url, sizeof(w->probe_url))) == 0) {
		rc = nng_pipe_notify(sock, NNG_PIPE_EV_ADD_POST, on_pipe_added, w);
	}
	if (rc != 0) {
		w->refs = 1;
		watch_release(w);
		return rc;
	}
	/* From here the socket's notifier holds w until the socket is closed. */
	w->refs = 2;
	pthread_attr_t attr;
	pthread_t tid;
	int started = 0;
	if (pthread_attr_init(&attr) == 0) {
		started = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
			  pthread_create(&tid, &attr, watch_main, w) == 0;
		pthread_attr_destroy(&attr);
	}
	*out = w;
	if (!started) {
		watch_release(w); /* the thread's reference; the socket keeps its own */
		return NNG_ENOMEM;
	}
	return 0;
}

void bridge_watch_stop(struct bridge_watch *w)
{
	pthread_mutex_lock(&w->mu);
	w->stopping = 1;
	pthread_cond_broadcast(&w->cv);
	if (w->probing != NULL) {
		nng_aio_abort(w->probing, NNG_ECLOSED);
	}
	pthread_mutex_unlock(&w->mu);
}

void bridge_watch_test_break(struct bridge_watch *w)
{
	pthread_mutex_lock(&w->mu);
	w->broken = 1;
	pthread_mutex_unlock(&w->mu);
}

void bridge_watch_socket_closed(struct bridge_watch *w)
{
	watch_release(w);
}
