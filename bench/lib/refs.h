/*
 * refs.h: the references every benchmark is judged against, measured by the
 * benchmark itself in the same run, back to back with what it measures:
 * one core's Ed25519 verifications, SQLite WAL commits with synchronous=FULL,
 * raw nng REQ/REP (round trips with many contexts, the latency of one, bulk
 * transfer) over the relay's transports, and libsodium's secretstream.
 *
 * The nng references talk to a plain echo server in a child process (forked
 * before this process touches nng), so that, like the relay, the server has
 * its own process and threads. Its replies carry as many bytes as each
 * request asks for in its first four bytes, so one server serves every shape.
 * The child is killed when the benchmark exits.
 */
#ifndef DIVEX_BENCH_REFS_H
#define DIVEX_BENCH_REFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* Largest piece a relay request carries, the bulk reference's message size. */
#define REFS_BULK_PIECE (960 * 1024)

/* Ed25519 verifications per second on this thread over `seconds`. */
double refs_ed25519_verify_rate(double seconds);
/* Ed25519 signatures per second on this thread. */
double refs_ed25519_sign_rate(double seconds);

/*
 * SQLite in WAL mode with synchronous=FULL in dir: `commits` transactions of
 * `rows` 1 KiB rows each. Returns commits per second; when lat_ns is not
 * NULL it receives each commit's latency (commits entries).
 */
double refs_sqlite_commit_rate(const char *dir, unsigned rows, unsigned commits, uint64_t *lat_ns);

/* The echo server: tls chooses tls+tcp:// (a fresh self-signed certificate) or tcp://. */
struct refs_server {
	pid_t pid;
	int tls;
	char url[128];
	char ca[1100];
};
/* Must be called before this process opens any nng socket. */
int refs_server_start(struct refs_server *s, int tls, const char *dir) DX_MUST_CHECK;
void refs_server_stop(struct refs_server *s);

/*
 * Round trips per second over `seconds` with `contexts` requests in flight,
 * req_len bytes out and reply_len bytes back each.
 */
double refs_nng_rate(const struct refs_server *s, unsigned contexts, size_t req_len,
		     size_t reply_len, double seconds);
/*
 * The floor of a relay's durable throughput without its durability: round
 * trips per second with `contexts` in flight, each request a 1 KiB message
 * with an Ed25519 signature that the server verifies (on nng's threads)
 * before it answers 1 KiB. The transport and the one check per envelope the
 * design requires, and nothing else: no store, no log, no receipt.
 */
double refs_nng_verify_rate(const struct refs_server *s, unsigned contexts, double seconds);
/* n sequential round trips; lat_ns receives each one's time. */
int refs_nng_rtt(const struct refs_server *s, size_t req_len, size_t reply_len, size_t n,
		 uint64_t *lat_ns) DX_MUST_CHECK;
/*
 * Bulk transfer MB/s (10^6 bytes) of `total` bytes in pieces of `piece`
 * bytes (at most REFS_BULK_PIECE), one request outstanding as a node's
 * upload or download does: upload sends the pieces in requests, download
 * receives them in replies.
 */
double refs_nng_bulk(const struct refs_server *s, int upload, uint64_t total, size_t piece);

/*
 * The disk: `total` bytes written to a new file in dir in pieces of `piece`
 * bytes, each piece followed by fdatasync(), as a store that makes every
 * piece durable before answering must at least do. MB/s.
 */
double refs_fsync_write_rate(const char *dir, uint64_t total, size_t piece);

/* libsodium secretstream push over `total` bytes in 64 KiB chunks: MB/s. */
double refs_secretstream_rate(uint64_t total);

#endif
