/*
 * driver.h: submitting pre-sealed envelopes to a benchmark relay, the two
 * ways the benchmarks need.
 *
 * Through the node's own client (daemon/node/relay_client.h) on a libuv loop
 * in this process: every request signed as it is sent, every receipt and
 * every checkpoint verified before the submission counts, consistency proofs
 * asked in the background, exactly as divexd does. Either with a fixed
 * number in flight (throughput), or paced at a given rate (latency under
 * load), recording each submission's latency.
 *
 * Or raw, to find the relay's own bound: requests signed before the clock
 * starts, sent over nng contexts without the libuv bridge, answers kept and
 * every receipt verified after the clock stops (with each distinct
 * checkpoint's signature checked once), so that the client costs the relay
 * as little CPU as a client can.
 *
 * Single-threaded, except that the raw path runs nng's callbacks on nng's
 * threads.
 */
#ifndef DIVEX_BENCH_DRIVER_H
#define DIVEX_BENCH_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "brelay.h"

/* Envelopes sealed before any measurement, reused across fresh relays. */
struct sealed_set {
	uint8_t **env;
	size_t *len;
	struct envelope_info *info;
	size_t n;
};
/*
 * n envelopes from `from`, to the peers in turn, each close to env_size bytes.
 * Sealing runs on both cores (two processes); it is not measured.
 */
void sealed_set_make(struct sealed_set *s, const struct keys *from, const struct seal_peer *to,
		     size_t n_to, size_t n, size_t env_size);
void sealed_set_free(struct sealed_set *s);

struct drive_result {
	double seconds;	    /* first submission to last verified receipt */
	double relay_cpu_s; /* the relay process's CPU time in that window */
	double relay_loop_cpu_s; /* of which its loop thread's */
	double self_cpu_s;  /* this process's (client, nng threads) */
	size_t done, failed;
	int first_error;
};

/*
 * Submits set[first, first+n) through relay_client with `in_flight`
 * outstanding (rate_per_s 0), or paced at rate_per_s with at most in_flight
 * outstanding. lat_ns (n entries, may be NULL) receives each submission's
 * time from the call to its verified receipt.
 */
int drive_client(const struct brelay *r, const struct keys *k, const struct sealed_set *set,
		 size_t first, size_t n, unsigned in_flight, double rate_per_s, uint64_t *lat_ns,
		 struct drive_result *out) DX_MUST_CHECK;

/* The raw path; lat_ns as above when in_flight is 1. */
int drive_raw(const struct brelay *r, const struct keys *k, const struct sealed_set *set,
	      size_t first, size_t n, unsigned in_flight, uint64_t *lat_ns,
	      struct drive_result *out) DX_MUST_CHECK;

/*
 * A counter from the relay's /metrics (the first sample whose line starts
 * with `name`); -1 when absent.
 */
double brelay_metric(const struct brelay *r, const char *name);

#endif
