/*
 * faultproxy.c: see faultproxy.h.
 *
 * One thread runs a poll() loop over a wake-up pipe, the listening socket and
 * both sockets of every connection. Each direction of a connection has a
 * queue of chunks, each stamped with the time it may leave (its latency);
 * a chunk is written when it is due, when the shared token bucket of its
 * direction allows, and, when splitting, one random piece at a time. The
 * test thread changes settings under a mutex and waits, on a condition
 * variable, until the loop has applied them, so that every fproxy_* call is
 * synchronous. Counters are the loop's own and are published under the
 * mutex once per turn.
 */
#include "faultproxy.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "error.h"

#define CHUNK_MAX (64 * 1024)
/* Bytes read ahead per direction: beyond it the proxy stops reading, as a full window would. */
#define QUEUE_MAX (256 * 1024)
/* A write under a bandwidth limit waits for at least this many tokens (or the chunk's rest). */
#define BUCKET_MIN 1024
#define NS_PER_MS 1000000ull

struct chunk {
	struct chunk *next;
	uint64_t due_ns;
	size_t len, off;
	uint8_t data[];
};

/* One direction: read from one socket of the connection, written to the other. */
struct dir {
	struct chunk *head, *tail;
	size_t queued;
	uint64_t last_due_ns; /* chunks leave in order, whatever their jitter */
	uint64_t next_ns;     /* the split gap: no write before this */
	int eof;	      /* the source sent FIN */
	int shut;	      /* and it was passed on */
};

struct conn {
	struct conn *next;
	int fd[2];	 /* [0] the node's side, [1] the relay's; -1 once closed */
	int pi[2];	 /* index in this turn's pollfd array, or -1 */
	int connecting;	 /* fd[1]'s connect() is in progress */
	int dead;	 /* black-holed */
	int gone;	 /* to be freed at the end of the turn */
	struct dir d[2]; /* d[0]: fd[0] -> fd[1]; d[1]: fd[1] -> fd[0] */
};

struct bucket {
	double tokens;
	uint64_t last_ns;
};

struct settings {
	enum fproxy_mode mode;
	struct fproxy_shape shape;
	unsigned flap_up_ms, flap_down_ms;
};

struct fproxy {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int wake[2];
	int lfd, port, upstream_port;
	/* Under mu: what the test thread asked for, and the published counters. */
	struct settings want;
	int cut_req; /* 0: none, 1: FIN, 2: RST */
	int stopping;
	uint64_t gen_req, gen_done;
	struct fproxy_stats pub;
	/* The loop's own. */
	struct settings cur;
	struct fproxy_stats st;
	struct conn *conns;
	struct bucket bucket[2];
	uint64_t rng;
	uint64_t flap_next_ns;
	int flap_down;
	unsigned flaps;
	struct pollfd *pfd;
	size_t pfd_cap;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd(struct fproxy *p)
{
	/* xorshift64: reproducible from the seed; quality does not matter here. */
	p->rng ^= p->rng << 13;
	p->rng ^= p->rng >> 7;
	p->rng ^= p->rng << 17;
	return p->rng;
}

static void set_nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Closes fd; with reset, SO_LINGER 0 makes the kernel send RST instead of FIN. */
static void close_fd(int fd, int reset)
{
	if (fd < 0) {
		return;
	}
	if (reset) {
		struct linger l = { .l_onoff = 1, .l_linger = 0 };
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	close(fd);
}

/* ---- queues ---- */

static void dir_drop(struct fproxy *p, struct dir *d)
{
	while (d->head != NULL) {
		struct chunk *c = d->head;
		d->head = c->next;
		p->st.dropped_bytes += c->len - c->off;
		free(c);
	}
	d->tail = NULL;
	d->queued = 0;
}

static int dir_push(struct fproxy *p, struct dir *d, const uint8_t *data, size_t len, uint64_t now)
{
	struct chunk *c = malloc(sizeof(*c) + len);
	if (c == NULL) {
		return DX_ENOMEM;
	}
	const struct fproxy_shape *s = &p->cur.shape;
	uint64_t due = now + (uint64_t)s->delay_ms * NS_PER_MS;
	if (s->jitter_ms > 0) {
		due += rnd(p) % ((uint64_t)s->jitter_ms * NS_PER_MS + 1);
	}
	if (due < d->last_due_ns) {
		due = d->last_due_ns; /* never ahead of an earlier chunk */
	}
	d->last_due_ns = due;
	c->next = NULL;
	c->due_ns = due;
	c->len = len;
	c->off = 0;
	memcpy(c->data, data, len);
	if (d->tail != NULL) {
		d->tail->next = c;
	} else {
		d->head = c;
	}
	d->tail = c;
	d->queued += len;
	return DX_OK;
}

/* The bucket's tokens at time now, without taking any. */
static double bucket_level(const struct fproxy *p, int way, uint64_t now)
{
	const struct bucket *b = &p->bucket[way];
	uint64_t rate = p->cur.shape.rate_bps;
	double burst = rate / 50.0 > BUCKET_MIN ? rate / 50.0 : BUCKET_MIN;
	double t = b->tokens + (double)(now - b->last_ns) * (double)rate / 1e9;
	return t > burst ? burst : t;
}

/* When the head of d may be written (0: nothing to write). */
static uint64_t dir_ready_ns(const struct fproxy *p, const struct dir *d, int way, uint64_t now)
{
	if (d->head == NULL) {
		return 0;
	}
	uint64_t at = d->head->due_ns > d->next_ns ? d->head->due_ns : d->next_ns;
	uint64_t rate = p->cur.shape.rate_bps;
	if (rate > 0) {
		size_t left = d->head->len - d->head->off;
		double need = left < BUCKET_MIN ? (double)left : BUCKET_MIN;
		double have = bucket_level(p, way, now);
		if (have < need) {
			uint64_t wait = (uint64_t)((need - have) * 1e9 / (double)rate) + 1;
			if (now + wait > at) {
				at = now + wait;
			}
		}
	}
	return at > 0 ? at : 1;
}

/* ---- connections ---- */

static void conn_abort(struct fproxy *p, struct conn *c, int reset)
{
	for (int i = 0; i < 2; i++) {
		close_fd(c->fd[i], reset);
		c->fd[i] = -1;
		dir_drop(p, &c->d[i]);
	}
	c->gone = 1;
}

static void conn_kill(struct fproxy *p, struct conn *c)
{
	if (c->dead || c->gone) {
		return;
	}
	c->dead = 1;
	p->st.black_holed++;
	dir_drop(p, &c->d[0]);
	dir_drop(p, &c->d[1]);
	/* A connection to the relay not yet made never will be: the SYN was lost. */
	if (c->connecting) {
		close_fd(c->fd[1], 1);
		c->fd[1] = -1;
		c->connecting = 0;
	}
}

static void conn_upstream(struct fproxy *p, struct conn *c)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)p->upstream_port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		p->st.upstream_failed++;
		conn_abort(p, c, 1);
		return;
	}
	set_nodelay(fd);
	c->fd[1] = fd;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
		return;
	}
	if (errno == EINPROGRESS) {
		c->connecting = 1;
		return;
	}
	/* The relay is down: the node is reset, as a direct connection would be refused. */
	p->st.upstream_failed++;
	conn_abort(p, c, 1);
}

static void accept_all(struct fproxy *p)
{
	for (;;) {
		int fd = accept4(p->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			return; /* EAGAIN, or a connection that went away meanwhile */
		}
		p->st.accepted++;
		if (p->cur.mode == FPROXY_REFUSE || p->flap_down) {
			p->st.refused++;
			close_fd(fd, 1);
			continue;
		}
		struct conn *c = calloc(1, sizeof(*c));
		if (c == NULL) {
			close_fd(fd, 1);
			continue;
		}
		set_nodelay(fd);
		c->fd[0] = fd;
		c->fd[1] = -1;
		c->pi[0] = c->pi[1] = -1;
		c->next = p->conns;
		p->conns = c;
		if (p->cur.mode == FPROXY_BLACKHOLE) {
			c->dead = 1;
			p->st.black_holed++;
		} else {
			conn_upstream(p, c);
		}
	}
}

static void cut_all(struct fproxy *p, int reset)
{
	for (struct conn *c = p->conns; c != NULL; c = c->next) {
		if (!c->gone) {
			conn_abort(p, c, reset);
			p->st.cut++;
		}
	}
}

/* A dead connection reads and forgets; a side that closes is closed, the other stays. */
static void dead_read(struct fproxy *p, struct conn *c, int side)
{
	uint8_t buf[CHUNK_MAX];
	ssize_t n;
	while ((n = read(c->fd[side], buf, sizeof(buf))) > 0) {
		p->st.dropped_bytes += (uint64_t)n;
	}
	if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		close_fd(c->fd[side], 0);
		c->fd[side] = -1;
		if (c->fd[1 - side] < 0) {
			c->gone = 1;
		}
	}
}

/* Reads what the source side of d offers into d's queue. */
static void live_read(struct fproxy *p, struct conn *c, int side, uint64_t now)
{
	uint8_t buf[CHUNK_MAX];
	struct dir *d = &c->d[side];
	while (!d->eof && d->queued < QUEUE_MAX) {
		size_t room = QUEUE_MAX - d->queued;
		ssize_t n = read(c->fd[side], buf, room < sizeof(buf) ? room : sizeof(buf));
		if (n > 0) {
			if (dir_push(p, d, buf, (size_t)n, now) != DX_OK) {
				conn_abort(p, c, 1);
				return;
			}
			continue;
		}
		if (n == 0) {
			d->eof = 1;
			return;
		}
		if (errno == EAGAIN || errno == EINTR) {
			return;
		}
		/* A reset from one side is passed on as a reset to the other. */
		conn_abort(p, c, 1);
		return;
	}
}

/* Writes what is due of d to the other side of c; 0, or -1 when c was aborted. */
static int live_write(struct fproxy *p, struct conn *c, int side, uint64_t now)
{
	struct dir *d = &c->d[side];
	int to = c->fd[1 - side];
	const struct fproxy_shape *s = &p->cur.shape;
	while (d->head != NULL) {
		uint64_t at = dir_ready_ns(p, d, side, now);
		if (at > now) {
			break;
		}
		struct chunk *k = d->head;
		size_t piece = k->len - k->off;
		if (s->split_max > 0) {
			size_t cap = 1 + (size_t)(rnd(p) % s->split_max);
			piece = piece < cap ? piece : cap;
		}
		if (s->rate_bps > 0) {
			double have = bucket_level(p, side, now);
			size_t allow = have < 1.0 ? 1 : (size_t)have;
			piece = piece < allow ? piece : allow;
		}
		ssize_t n = send(to, k->data + k->off, piece, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				break;
			}
			conn_abort(p, c, 1);
			return -1;
		}
		p->st.writes++;
		if (side == 0) {
			p->st.up_bytes += (uint64_t)n;
		} else {
			p->st.down_bytes += (uint64_t)n;
		}
		if (s->rate_bps > 0) {
			struct bucket *b = &p->bucket[side];
			b->tokens = bucket_level(p, side, now) - (double)n;
			b->last_ns = now;
		}
		k->off += (size_t)n;
		d->queued -= (size_t)n;
		if (k->off == k->len) {
			d->head = k->next;
			if (d->head == NULL) {
				d->tail = NULL;
			}
			free(k);
		}
		if (s->split_gap_ms > 0) {
			d->next_ns = now + (uint64_t)s->split_gap_ms * NS_PER_MS;
		}
	}
	if (d->head == NULL && d->eof && !d->shut) {
		/* FIN after the last byte, as the source sent it. */
		shutdown(to, SHUT_WR);
		d->shut = 1;
	}
	if (c->d[0].shut && c->d[1].shut) {
		conn_abort(p, c, 0);
		return -1;
	}
	return 0;
}

static void conn_connected(struct fproxy *p, struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
		p->st.upstream_failed++;
		conn_abort(p, c, 1);
		return;
	}
	c->connecting = 0;
}

static void conn_service(struct fproxy *p, struct conn *c, uint64_t now)
{
	for (int side = 0; side < 2 && !c->gone; side++) {
		short re = c->pi[side] >= 0 ? p->pfd[c->pi[side]].revents : 0;
		if (re == 0) {
			continue;
		}
		if (side == 1 && c->connecting) {
			conn_connected(p, c);
		} else if (c->dead) {
			dead_read(p, c, side);
		} else if (re & (POLLIN | POLLHUP | POLLERR)) {
			live_read(p, c, side, now);
		}
	}
	if (c->gone || c->dead || c->connecting) {
		return;
	}
	if (live_write(p, c, 0, now) == 0) {
		live_write(p, c, 1, now);
	}
}

/* ---- the loop ---- */

static int pfd_add(struct fproxy *p, size_t *n, int fd, short events)
{
	if (*n == p->pfd_cap) {
		size_t cap = p->pfd_cap * 2;
		struct pollfd *np = realloc(p->pfd, cap * sizeof(*np));
		if (np == NULL) {
			return -1;
		}
		p->pfd = np;
		p->pfd_cap = cap;
	}
	p->pfd[*n] = (struct pollfd){ .fd = fd, .events = events };
	return (int)(*n)++;
}

static void min_due(uint64_t *next, uint64_t at)
{
	if (at != 0 && (*next == 0 || at < *next)) {
		*next = at;
	}
}

/* Fills the pollfd array; returns the poll timeout in ms (-1: none). */
static int build_poll(struct fproxy *p, size_t *n, uint64_t now)
{
	uint64_t next = p->flap_next_ns;
	*n = 0;
	pfd_add(p, n, p->wake[0], POLLIN);
	pfd_add(p, n, p->lfd, POLLIN);
	for (struct conn *c = p->conns; c != NULL; c = c->next) {
		for (int side = 0; side < 2; side++) {
			short ev = 0;
			c->pi[side] = -1;
			if (c->fd[side] < 0) {
				continue;
			}
			if (c->dead) {
				ev = POLLIN;
			} else if (side == 1 && c->connecting) {
				ev = POLLOUT;
			} else {
				const struct dir *in = &c->d[side], *out = &c->d[1 - side];
				if (!in->eof && in->queued < QUEUE_MAX) {
					ev |= POLLIN;
				}
				uint64_t at = dir_ready_ns(p, out, 1 - side, now);
				if (at != 0 && at <= now) {
					ev |= POLLOUT;
				}
				min_due(&next, at);
			}
			/*
			 * A socket with nothing wanted is left out, or a hang-up that
			 * cannot be read yet (full queue) would wake the loop for ever.
			 */
			c->pi[side] = pfd_add(p, n, ev != 0 ? c->fd[side] : -1, ev);
		}
	}
	if (next == 0) {
		return -1;
	}
	if (next <= now) {
		return 0;
	}
	uint64_t ms = (next - now + NS_PER_MS - 1) / NS_PER_MS;
	return ms > 60000 ? 60000 : (int)ms;
}

static void sweep(struct fproxy *p)
{
	unsigned open = 0;
	for (struct conn **cp = &p->conns; *cp != NULL;) {
		struct conn *c = *cp;
		if (c->gone) {
			*cp = c->next;
			free(c);
			continue;
		}
		open++;
		cp = &c->next;
	}
	p->st.open = open;
}

static void flap_tick(struct fproxy *p, uint64_t now)
{
	if (p->cur.flap_up_ms == 0 || now < p->flap_next_ns) {
		return;
	}
	if (p->flap_down) {
		p->flap_down = 0;
		p->flap_next_ns = now + (uint64_t)p->cur.flap_up_ms * NS_PER_MS;
		return;
	}
	cut_all(p, p->flaps++ & 1);
	if (p->cur.flap_down_ms > 0) {
		p->flap_down = 1;
		p->flap_next_ns = now + (uint64_t)p->cur.flap_down_ms * NS_PER_MS;
	} else {
		p->flap_next_ns = now + (uint64_t)p->cur.flap_up_ms * NS_PER_MS;
	}
}

/* Takes the test thread's requests; returns 1 when asked to stop. */
static int take_requests(struct fproxy *p, uint64_t now)
{
	pthread_mutex_lock(&p->mu);
	struct settings want = p->want;
	int cut = p->cut_req, stop = p->stopping;
	uint64_t gen = p->gen_req;
	p->cut_req = 0;
	pthread_mutex_unlock(&p->mu);

	if (want.mode == FPROXY_BLACKHOLE && p->cur.mode != FPROXY_BLACKHOLE) {
		for (struct conn *c = p->conns; c != NULL; c = c->next) {
			conn_kill(p, c);
		}
	}
	if (want.shape.rate_bps != p->cur.shape.rate_bps) {
		p->bucket[0] = p->bucket[1] = (struct bucket){ .tokens = 0, .last_ns = now };
	}
	if (want.flap_up_ms != p->cur.flap_up_ms || want.flap_down_ms != p->cur.flap_down_ms) {
		p->flap_down = 0;
		p->flap_next_ns =
			want.flap_up_ms > 0 ? now + (uint64_t)want.flap_up_ms * NS_PER_MS : 0;
	}
	p->cur = want;
	if (cut != 0) {
		cut_all(p, cut == 2);
	}
	flap_tick(p, now);
	sweep(p);

	pthread_mutex_lock(&p->mu);
	p->pub = p->st;
	p->gen_done = gen;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return stop;
}

static void *proxy_main(void *arg)
{
	struct fproxy *p = arg;
	for (;;) {
		uint64_t now = now_ns();
		if (take_requests(p, now)) {
			break;
		}
		size_t n;
		int timeout = build_poll(p, &n, now);
		if (poll(p->pfd, n, timeout) < 0 && errno != EINTR) {
			break;
		}
		now = now_ns();
		if (p->pfd[0].revents != 0) {
			char b[64];
			while (read(p->wake[0], b, sizeof(b)) > 0) {
			}
		}
		if (p->pfd[1].revents != 0) {
			accept_all(p);
		}
		for (struct conn *c = p->conns; c != NULL; c = c->next) {
			if (!c->gone) {
				conn_service(p, c, now);
			}
		}
		sweep(p);
	}
	pthread_mutex_lock(&p->mu);
	p->gen_done = UINT64_MAX; /* nobody waits for a loop that ended */
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* ---- the test thread's side ---- */

/* Called with mu held after a change: wakes the loop and waits until it took it. */
static void apply(struct fproxy *p)
{
	uint64_t gen = ++p->gen_req;
	ssize_t w = write(p->wake[1], "x", 1);
	(void)w; /* a full pipe already wakes the loop */
	while (p->gen_done < gen) {
		pthread_cond_wait(&p->cv, &p->mu);
	}
}

static int listen_loopback(int *fd_out, int *port_out)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return dx_from_errno(errno);
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 128) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
		int rc = dx_from_errno(errno);
		close(fd);
		return rc;
	}
	*fd_out = fd;
	*port_out = ntohs(a.sin_port);
	return DX_OK;
}

int fproxy_start(int upstream_port, unsigned seed, struct fproxy **out)
{
	if (upstream_port <= 0 || upstream_port > 65535) {
		return DX_EINVAL;
	}
	struct fproxy *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		return DX_ENOMEM;
	}
	p->wake[0] = p->wake[1] = p->lfd = -1;
	p->upstream_port = upstream_port;
	p->rng = 0x9e3779b97f4a7c15ull ^ seed;
	p->pfd_cap = 16;
	p->pfd = calloc(p->pfd_cap, sizeof(*p->pfd));
	int rc = p->pfd == NULL ? DX_ENOMEM : DX_OK;
	if (rc == DX_OK && pipe2(p->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
		rc = dx_from_errno(errno);
	}
	if (rc == DX_OK) {
		rc = listen_loopback(&p->lfd, &p->port);
	}
	if (rc != DX_OK) {
		goto out;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (pthread_create(&p->thread, NULL, proxy_main, p) != 0) {
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
		rc = DX_EINTERNAL;
		goto out;
	}
	*out = p;
	return DX_OK;
out:
	close_fd(p->lfd, 0);
	close_fd(p->wake[0], 0);
	close_fd(p->wake[1], 0);
	free(p->pfd);
	free(p);
	return rc;
}

int fproxy_port(const struct fproxy *p)
{
	return p->port;
}

void fproxy_set_mode(struct fproxy *p, enum fproxy_mode mode)
{
	pthread_mutex_lock(&p->mu);
	p->want.mode = mode;
	apply(p);
	pthread_mutex_unlock(&p->mu);
}

void fproxy_set_shape(struct fproxy *p, const struct fproxy_shape *shape)
{
	pthread_mutex_lock(&p->mu);
	p->want.shape = *shape;
	apply(p);
	pthread_mutex_unlock(&p->mu);
}

void fproxy_cut(struct fproxy *p, int reset)
{
	pthread_mutex_lock(&p->mu);
	p->cut_req = reset ? 2 : 1;
	apply(p);
	pthread_mutex_unlock(&p->mu);
}

void fproxy_flap(struct fproxy *p, unsigned up_ms, unsigned down_ms)
{
	pthread_mutex_lock(&p->mu);
	p->want.flap_up_ms = up_ms;
	p->want.flap_down_ms = up_ms > 0 ? down_ms : 0;
	apply(p);
	pthread_mutex_unlock(&p->mu);
}

void fproxy_get_stats(struct fproxy *p, struct fproxy_stats *out)
{
	pthread_mutex_lock(&p->mu);
	apply(p); /* counters as of now, not of the loop's last turn */
	*out = p->pub;
	pthread_mutex_unlock(&p->mu);
}

void fproxy_stop(struct fproxy *p)
{
	if (p == NULL) {
		return;
	}
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	ssize_t w = write(p->wake[1], "x", 1);
	(void)w;
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	while (p->conns != NULL) {
		struct conn *c = p->conns;
		p->conns = c->next;
		conn_abort(p, c, 0);
		free(c);
	}
	close_fd(p->lfd, 0);
	close_fd(p->wake[0], 0);
	close_fd(p->wake[1], 0);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p->pfd);
	free(p);
}
