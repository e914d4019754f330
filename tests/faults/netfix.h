/*
 * netfix.h: the network fault campaign's test network: a relay and a few
 * State nodes as processes (tests/node/nodes.h), where chosen nodes reach
 * the relay only through a fault proxy of their own (faultproxy.h), and the
 * checks every scenario ends with.
 *
 * A proxied node's [relay] url names its proxy's port; the proxy forwards to
 * the relay's port, which stays the same across relay restarts, so a proxy
 * lives as long as the network. Direct nodes keep the relay's own URL.
 *
 * Everything here runs on the test's thread (each proxy has a thread of its
 * own); cmocka's assertions end a test on the first failure, after the logs
 * of the network are printed.
 */
#ifndef DIVEX_TESTS_FAULTS_NETFIX_H
#define DIVEX_TESTS_FAULTS_NETFIX_H

#include <stddef.h>
#include <stdint.h>

#include "faultproxy.h"
#include "nodes.h"

#define NF_MIB (1024ull * 1024ull)
/* Open files a healthy divexd holds at most (it needs about 25). */
#define NF_FDS_MAX 200
/* Messages one scenario may count by index. */
#define NF_COUNT_MAX 512

struct fnet {
	struct tnet t;
	struct fproxy *px[TN_NODES_MAX]; /* NULL: the node dials the relay directly */
};

/*
 * The relay and one node per State (admitted, started, every roster
 * complete); node i goes through a proxy when bit i of proxied is set.
 */
void fnet_setup(struct fnet *f, const char *dir_name, int use_tls, const char *const states[],
		int n, unsigned proxied);
/* Stops the nodes, the relay and the proxies. */
void fnet_teardown(struct fnet *f);
/* Every proxy back to pass, unshaped, not flapping. */
void fnet_calm(struct fnet *f);
/* Node i's proxy (the test fails when it has none). */
struct fproxy *fnet_proxy(struct fnet *f, int i);

/*
 * Waits until to's inbox holds, from sender, one message "<tag> <i>." for
 * every i below count (acknowledged too, with acked set: its attachments are
 * downloaded), then asserts that each is there exactly once.
 */
void fnet_wait_all(struct fnet *f, const struct tnode *to, const char *sender, const char *tag,
		   int count, int acked, long deadline_ms);
/* Waits until every message id of from's outbox in ids is receipted. */
void fnet_wait_receipted(struct fnet *f, const struct tnode *from, char ids[][33], int count,
			 long deadline_ms);
/*
 * Asserts that n's inbox holds sender's sequence numbers 1..N, each once,
 * and records no gap from it.
 */
void fnet_check_sequences(struct fnet *f, const struct tnode *n, const char *sender);
/*
 * The end of every scenario: each daemon answers `divex status` with no
 * alarm, no gap and no failed message, its log holds no ALARM, it holds no
 * more than NF_FDS_MAX open files, and the relay runs.
 */
void fnet_check_health(struct fnet *f);
/* The envelope id of the message "<subject>" from sender in n's inbox ("" if none). */
void fnet_find(struct fnet *f, const struct tnode *n, const char *sender, const char *subject,
	       char envelope_id[33]);

/* Writes size pseudo-random bytes to path cheaply, 1 MiB at a time (no holes). */
void fnet_big_file(const char *path, uint64_t size, unsigned seed);
/* Whether two files have the same bytes, read 1 MiB at a time. */
int fnet_same_file(const char *a, const char *b);
/* Free bytes in the file system that holds path. */
uint64_t fnet_free_bytes(const char *path);

/* dir/name into buf, failing the test if it does not fit. */
void fnet_path(char *buf, size_t size, const char *dir, const char *name);
/* Runs the fault proxy's own checks (fault_net_proxy.c); the number failed. */
int fault_net_proxy_tests(void);

/* Whether DIVEX_FAULTS_FULL=1 asks for the long form. */
int fnet_full(void);
/* Prints one figure for the report: "fault_net: <text>". */
void fnet_figure(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
