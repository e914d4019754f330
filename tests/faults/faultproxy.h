/*
 * faultproxy.h: a TCP proxy on loopback that injects network faults between
 * a State node and its relay, run as a thread inside the test process.
 *
 * The proxy listens on 127.0.0.1 on a port of its own (port 0, learned with
 * fproxy_port()) and forwards every connection it accepts to 127.0.0.1 on
 * the upstream port. A node whose [relay] url names the proxy's port reaches
 * the relay only through it, so the test decides, at run time, what the link
 * does:
 *
 *   pass       bytes flow both ways (shaped by fproxy_set_shape());
 *   cut        every open connection is closed on both sides at once, with
 *              FIN, or with RST (SO_LINGER 0) for the reset variant; the
 *              node's next connection passes again;
 *   black hole every connection, open or new, swallows what it reads and
 *              sends nothing, and is never closed: a half-open connection
 *              that neither end can see. Connections black-holed stay dead
 *              after the proxy passes again (they model state lost in the
 *              middle of the path, e.g. a NAT or firewall that restarted);
 *              only new connections pass, so a node recovers only once it
 *              notices that its connection is dead and opens another;
 *   refuse     every new connection is reset as soon as it is accepted
 *              (the node sees a reset instead of ECONNREFUSED, which a
 *              listening port cannot produce); open ones keep passing;
 *   flap       every up_ms, cut everything (FIN and RST alternately) and
 *              refuse for down_ms.
 *
 * Shaping, on connections that pass: a latency added to every chunk read
 * (plus a random jitter), a bandwidth limit per direction shared by every
 * connection (a token bucket), and splitting: each chunk is written in
 * pieces of random size, each its own write() with TCP_NODELAY, spaced by a
 * gap, so that the receiver sees the stream in other segments than the
 * sender wrote. TCP never reorders the bytes of one stream for the
 * application, and this proxy does not either: within one direction of one
 * connection chunks leave in the order they came, however delayed. What the
 * jitter reorders is the timing of connections relative to each other: a
 * request written later on one connection can reach the relay before one
 * written earlier on another. Packet loss, duplication and reordering below
 * TCP are invisible here (the kernel repairs them before the proxy reads);
 * they need a qdisc such as netem.
 *
 * Ownership: fproxy_start() allocates; fproxy_stop() joins the thread, closes
 * every socket and frees. Thread: the proxy runs on its own thread; every
 * fproxy_* function is called from one test thread and is synchronous: when
 * a mode change or a cut returns, the proxy has applied it (bytes already
 * handed to the kernel may still arrive).
 */
#ifndef DIVEX_TESTS_FAULTS_FAULTPROXY_H
#define DIVEX_TESTS_FAULTS_FAULTPROXY_H

#include <stddef.h>
#include <stdint.h>

enum fproxy_mode {
	FPROXY_PASS,
	FPROXY_BLACKHOLE,
	FPROXY_REFUSE,
};

/* How passing bytes are shaped; all zero: forwarded as soon as read. */
struct fproxy_shape {
	unsigned delay_ms;     /* latency added to every chunk, each direction */
	unsigned jitter_ms;    /* plus 0..jitter_ms, random per chunk */
	uint64_t rate_bps;     /* bytes per second per direction, all connections (0: no limit) */
	size_t split_max;      /* write chunks in pieces of 1..split_max bytes (0: whole) */
	unsigned split_gap_ms; /* pause between two pieces of one direction */
};

struct fproxy_stats {
	uint64_t up_bytes;	  /* written to the relay */
	uint64_t down_bytes;	  /* written to the node */
	uint64_t dropped_bytes;	  /* swallowed by black holes, or queued when a cut came */
	uint64_t writes;	  /* write() calls that moved bytes: segments, roughly */
	uint64_t accepted;	  /* connections accepted */
	uint64_t refused;	  /* connections reset at once (refuse, flap) */
	uint64_t cut;		  /* connections closed by a cut or a flap */
	uint64_t upstream_failed; /* connections whose relay side could not connect */
	uint64_t black_holed;	  /* connections made dead */
	unsigned open;		  /* connections open now, dead ones included */
};

struct fproxy;

/* Listens on 127.0.0.1:0 and starts the thread; upstream is the relay's port. */
int fproxy_start(int upstream_port, unsigned seed, struct fproxy **out);
/* The port the proxy listens on. */
int fproxy_port(const struct fproxy *p);
void fproxy_set_mode(struct fproxy *p, enum fproxy_mode mode);
void fproxy_set_shape(struct fproxy *p, const struct fproxy_shape *shape);
/* Closes every open connection now: FIN both ways, or RST both ways. */
void fproxy_cut(struct fproxy *p, int reset);
/* Cuts every up_ms and refuses for down_ms after each cut; up_ms 0 stops. */
void fproxy_flap(struct fproxy *p, unsigned up_ms, unsigned down_ms);
void fproxy_get_stats(struct fproxy *p, struct fproxy_stats *out);
/* Stops the thread, closes every connection and frees p (NULL is ignored). */
void fproxy_stop(struct fproxy *p);

#endif
