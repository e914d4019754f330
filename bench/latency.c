/*
 * latency.c: benchmark 2, submit latency over tcp://.
 *
 * One request outstanding: the time from handing an envelope to the client
 * to holding its verified receipt, through the node's relay client (as
 * divexd submits) and through the raw client (request MACed beforehand,
 * one blocking nng exchange; the receipt is verified after the clock). Then
 * under load: the node client paced at half of the peak it reaches in the
 * same run with 64 in flight, open loop (each submission's latency counts
 * from its scheduled time, so that a stall shows in the tail).
 *
 * Reference, same run: one raw nng round trip of 1 KiB each way (p50) plus
 * one SQLite WAL commit of one row with synchronous=FULL (p50). Targets:
 * p50 with one outstanding <= 1.5 x that sum; p99 <= 3 x p50 at 50% load.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "driver.h"
#include "refs.h"
#include "util.h"

#define RECIPIENTS 8
#define ENV_SIZE 1024

static struct keys *states[RECIPIENTS + 1];

struct lat_series {
	struct bench_series p50, p99, p999, max;
};

static void add_lat(struct lat_series *s, uint64_t *lat, size_t n)
{
	bench_series_add(&s->p50, bench_percentile(lat, n, 50) / 1e3);
	bench_series_add(&s->p99, bench_percentile(lat, n, 99) / 1e3);
	bench_series_add(&s->p999, bench_percentile(lat, n, 99.9) / 1e3);
	bench_series_add(&s->max, bench_percentile(lat, n, 100) / 1e3);
}

static void print_lat(const char *name, const struct lat_series *s)
{
	char what[160];
	snprintf(what, sizeof(what), "%s p50", name);
	bench_print_series(what, "us", &s->p50);
	snprintf(what, sizeof(what), "%s p99", name);
	bench_print_series(what, "us", &s->p99);
	snprintf(what, sizeof(what), "%s p99.9", name);
	bench_print_series(what, "us", &s->p999);
	snprintf(what, sizeof(what), "%s max", name);
	bench_print_series(what, "us", &s->max);
}

int main(void)
{
	/* The node's client runs in this process: set up as in divexd. */
	dx_malloc_for_messages();
	int runs = bench_runs(), quick = bench_quick();
	size_t n_seq = quick ? 1000 : 3000, n_peak = quick ? 3000 : 5000;
	size_t n_load = quick ? 3000 : 5000;
	struct refs_server srv;
	struct seal_peer peers[RECIPIENTS];
	struct sealed_set set;
	struct lat_series client, raw, load;
	struct bench_series rtt, commit, ref, ratio, tail, peak, rate, relay_commit, crypto, floor_ratio;
	memset(&client, 0, sizeof(client));
	memset(&raw, 0, sizeof(raw));
	memset(&load, 0, sizeof(load));
	memset(&rtt, 0, sizeof(rtt));
	memset(&commit, 0, sizeof(commit));
	memset(&ref, 0, sizeof(ref));
	memset(&ratio, 0, sizeof(ratio));
	memset(&tail, 0, sizeof(tail));
	memset(&peak, 0, sizeof(peak));
	memset(&rate, 0, sizeof(rate));
	memset(&relay_commit, 0, sizeof(relay_commit));
	memset(&crypto, 0, sizeof(crypto));
	memset(&floor_ratio, 0, sizeof(floor_ratio));
	size_t n_max = n_load > n_peak ? n_load : n_peak;
	uint64_t *lat = calloc(n_max, sizeof(uint64_t));
	BENCH_CHECK(lat == NULL);

	BENCH_CHECK(refs_server_start(&srv, 0, bench_tmpdir()));
	states[0] = bench_state("FRA", 0);
	for (int i = 0; i < RECIPIENTS; i++) {
		char code[4];
		bench_state_code((uint32_t)(1000 + i), code);
		states[i + 1] = bench_state(code, 0);
		bench_peer(states[i + 1], &peers[i]);
	}
	sealed_set_make(&set, states[0], peers, RECIPIENTS, n_seq * 2 + n_peak + n_load, ENV_SIZE);
	printf("latency: envelopes of %zu bytes over tcp, %zu sequential submissions per client"
	       " per run, %zu at half of peak, %d runs\n",
	       set.len[0], n_seq, n_load, runs);
	fflush(stdout);

	for (int run = 0; run < runs; run++) {
		struct brelay r;
		struct drive_result res;
		struct brelay_opts o = { .tls = 0 };
		/* The reference first, back to back with what it judges. */
		BENCH_CHECK(refs_nng_rtt(&srv, 1024, 1024, 2000, lat));
		double rtt_us = bench_percentile(lat, 2000, 50) / 1e3;
		refs_sqlite_commit_rate(bench_tmpdir(), 1, 1000, lat);
		double commit_us = bench_percentile(lat, 1000, 50) / 1e3;
		bench_series_add(&rtt, rtt_us);
		bench_series_add(&commit, commit_us);
		bench_series_add(&ref, rtt_us + commit_us);
		/* What the design puts on the path besides: the relay verifies
		 * the envelope's outer signature and signs the checkpoint, and
		 * the node verifies that signature on the receipt. */
		double crypto_us = 2e6 / refs_ed25519_verify_rate(0.3) +
				   1e6 / refs_ed25519_sign_rate(0.3);
		bench_series_add(&crypto, crypto_us);

		/* A fresh relay for each phase: every phase starts with empty
		 * mailboxes (RESULTS.md says why that matters). */
		BENCH_CHECK(brelay_fresh(&r, &o, states, RECIPIENTS + 1));
		BENCH_CHECK(drive_client(&r, states[0], &set, 0, n_seq, 1, 0, lat, &res));
		BENCH_CHECK(res.failed > 0);
		add_lat(&client, lat, n_seq);
		bench_series_add(&ratio, client.p50.v[client.p50.n - 1] / (rtt_us + commit_us));
		bench_series_add(&floor_ratio,
				 client.p50.v[client.p50.n - 1] / (rtt_us + commit_us + crypto_us));
		double csum = brelay_metric(&r, "divex_relay_commit_latency_seconds_sum");
		double ccount = brelay_metric(&r, "divex_relay_commit_latency_seconds_count");
		if (csum >= 0 && ccount > 0) {
			bench_series_add(&relay_commit, csum / ccount * 1e6);
		}
		brelay_discard(&r);
		BENCH_CHECK(brelay_fresh(&r, &o, states, RECIPIENTS + 1));
		BENCH_CHECK(drive_raw(&r, states[0], &set, n_seq, n_seq, 1, lat, &res));
		BENCH_CHECK(res.failed > 0);
		add_lat(&raw, lat, n_seq);
		brelay_discard(&r);
		/* Peak with 64 in flight, then half of it, open loop. */
		BENCH_CHECK(brelay_fresh(&r, &o, states, RECIPIENTS + 1));
		BENCH_CHECK(
			drive_client(&r, states[0], &set, 2 * n_seq, n_peak, 64, 0, NULL, &res));
		BENCH_CHECK(res.failed > 0);
		double pk = (double)res.done / res.seconds;
		bench_series_add(&peak, pk);
		brelay_discard(&r);
		BENCH_CHECK(brelay_fresh(&r, &o, states, RECIPIENTS + 1));
		BENCH_CHECK(drive_client(&r, states[0], &set, 2 * n_seq + n_peak, n_load, 64,
					 pk / 2, lat, &res));
		BENCH_CHECK(res.failed > 0);
		bench_series_add(&rate, (double)res.done / res.seconds);
		add_lat(&load, lat, n_load);
		bench_series_add(&tail, load.p99.v[load.p99.n - 1] / load.p50.v[load.p50.n - 1]);
		printf("  run %d: p50 node client %.0f us, raw %.0f us; reference %.0f + %.0f us;"
		       " peak %.0f/s, at half: p50 %.0f us, p99 %.0f us\n",
		       run + 1, client.p50.v[run], raw.p50.v[run], rtt_us, commit_us, pk,
		       load.p50.v[run], load.p99.v[run]);
		fflush(stdout);
		brelay_discard(&r);
	}

	printf("\nreferences (same run)\n");
	bench_print_series("nng REQ/REP tcp round trip, one outstanding, 1 KiB, p50", "us", &rtt);
	bench_print_series("sqlite WAL synchronous=FULL 1-row commit, p50", "us", &commit);
	bench_print_series("sum", "us", &ref);
	bench_print_series("the path's three Ed25519 operations (two verifications, one signature)",
			   "us", &crypto);
	printf("\none outstanding\n");
	print_lat("node client", &client);
	print_lat("raw client", &raw);
	bench_print_series("the relay's own mean commit time (its /metrics), node client phase",
			   "us", &relay_commit);
	printf("\nat half of peak (open loop, up to 64 in flight)\n");
	bench_print_series("peak, node client, 64 in flight", "envelopes/s", &peak);
	bench_print_series("offered half of peak, achieved", "envelopes/s", &rate);
	print_lat("node client", &load);
	printf("\n");
	bench_print_ratio("p50 node client / (nng round trip + fsync'd commit)",
			  bench_series_median(&ratio), "<=", 1.5);
	printf("  ratio p50 raw client / (nng round trip + fsync'd commit): %.3f\n",
	       bench_series_median(&raw.p50) / bench_series_median(&ref));
	printf("  ratio p50 node client / (nng round trip + fsync'd commit + the three Ed25519"
	       " operations): %.3f\n",
	       bench_series_median(&floor_ratio));
	bench_print_ratio("p99 / p50 at half of peak", bench_series_median(&tail), "<=", 3.0);
	printf("\n");
	sealed_set_free(&set);
	for (int i = 0; i <= RECIPIENTS; i++) {
		keys_free(states[i]);
	}
	refs_server_stop(&srv);
	free(lat);
	bench_print_final("latency", bench_series_median(&ratio));
	return 0;
}
