/*
 * refs_main.c: every reference of lib/refs.h on its own (`bench/run refs`),
 * to describe the machine in bench/RESULTS.md. The benchmarks measure the
 * ones they are judged against again, in their own runs. The last line
 * compares this run's Ed25519 verification time with the 38 us the issue
 * measured on this machine when it was quiet: above 1, the machine is
 * slower now (loaded by other work).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "refs.h"

#define RTT_SAMPLES 2000

int main(void)
{
	int runs = bench_runs(), quick = bench_quick();
	double secs = quick ? 0.5 : 1.0;
	uint64_t bulk = quick ? 64ull << 20 : 256ull << 20;
	struct refs_server srv[2];
	struct bench_series ver, sig, sql1, sql100, lat1, rr[2], rtt[2], up[2], down[2], ss;
	uint64_t *lat = calloc(RTT_SAMPLES, sizeof(uint64_t));
	BENCH_CHECK(lat == NULL);
	memset(&ver, 0, sizeof(ver));
	memset(&sig, 0, sizeof(sig));
	memset(&sql1, 0, sizeof(sql1));
	memset(&sql100, 0, sizeof(sql100));
	memset(&lat1, 0, sizeof(lat1));
	memset(&ss, 0, sizeof(ss));
	memset(rr, 0, sizeof(rr));
	memset(rtt, 0, sizeof(rtt));
	memset(up, 0, sizeof(up));
	memset(down, 0, sizeof(down));
	BENCH_CHECK(refs_server_start(&srv[0], 0, bench_tmpdir()));
	BENCH_CHECK(refs_server_start(&srv[1], 1, bench_tmpdir()));
	for (int run = 0; run < runs; run++) {
		bench_series_add(&ver, refs_ed25519_verify_rate(secs));
		bench_series_add(&sig, refs_ed25519_sign_rate(secs));
		bench_series_add(&sql1, refs_sqlite_commit_rate(bench_tmpdir(), 1, 1000, lat));
		bench_series_add(&lat1, bench_percentile(lat, 1000, 50) / 1e3);
		bench_series_add(&sql100, refs_sqlite_commit_rate(bench_tmpdir(), 100, 300, NULL));
		for (int t = 0; t < 2; t++) {
			bench_series_add(&rr[t], refs_nng_rate(&srv[t], 64, 1024, 1024, secs));
			BENCH_CHECK(refs_nng_rtt(&srv[t], 1024, 1024, RTT_SAMPLES, lat));
			bench_series_add(&rtt[t], bench_percentile(lat, RTT_SAMPLES, 50) / 1e3);
			bench_series_add(&up[t], refs_nng_bulk(&srv[t], 1, bulk, REFS_BULK_PIECE));
			bench_series_add(&down[t],
					 refs_nng_bulk(&srv[t], 0, bulk, REFS_BULK_PIECE));
		}
		bench_series_add(&ss, refs_secretstream_rate(bulk));
	}
	printf("references\n");
	bench_print_series("ed25519 verify, one core (1 KiB message)", "/s", &ver);
	bench_print_series("ed25519 sign, one core (1 KiB message)", "/s", &sig);
	bench_print_series("sqlite WAL synchronous=FULL, 1 row/commit", "commits/s", &sql1);
	bench_print_series("sqlite WAL synchronous=FULL, 1 row/commit, p50 latency", "us", &lat1);
	bench_print_series("sqlite WAL synchronous=FULL, 100 rows/commit", "commits/s", &sql100);
	for (int t = 0; t < 2; t++) {
		const char *n = t ? "tls+tcp" : "tcp";
		char what[128];
		snprintf(what, sizeof(what), "nng REQ/REP %s, 64 contexts, 1 KiB each way", n);
		bench_print_series(what, "round trips/s", &rr[t]);
		snprintf(what, sizeof(what), "nng REQ/REP %s, one outstanding, 1 KiB, p50", n);
		bench_print_series(what, "us", &rtt[t]);
		snprintf(what, sizeof(what), "nng bulk %s, 960 KiB requests (upload shape)", n);
		bench_print_series(what, "MB/s", &up[t]);
		snprintf(what, sizeof(what), "nng bulk %s, 960 KiB replies (download shape)", n);
		bench_print_series(what, "MB/s", &down[t]);
	}
	bench_print_series("secretstream xchacha20poly1305 push, 64 KiB chunks", "MB/s", &ss);
	refs_server_stop(&srv[0]);
	refs_server_stop(&srv[1]);
	free(lat);
	bench_print_final("refs", 1e6 / bench_series_median(&ver) / 38.0);
	return 0;
}
