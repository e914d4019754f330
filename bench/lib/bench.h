/*
 * bench.h: what every benchmark shares: clocks, the series of runs whose
 * median, minimum and maximum are reported, latency percentiles, the
 * resource use of a process (CPU time, resident and peak resident memory),
 * and one format for figures, references and ratios, so that bench/run and
 * bench/RESULTS.md can quote every program the same way.
 *
 * Benchmarks are programs, not tests: a failed setup step prints what failed
 * and exits with status 1 (BENCH_CHECK), and every child process started
 * through tests/relay/proc.h is killed at exit. Single-threaded unless a
 * benchmark says otherwise.
 */
#ifndef DIVEX_BENCH_H
#define DIVEX_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* Runs of each measurement: at least five, whatever BENCH_RUNS says. */
#define BENCH_RUNS_MIN 5
#define BENCH_SERIES_MAX 64

/* Exits with a message naming the expression when it is not 0. */
#define BENCH_CHECK(expr)                                                                          \
	do {                                                                                       \
		int brc_ = (expr);                                                                 \
		if (brc_ != 0) {                                                                   \
			bench_die(__FILE__, __LINE__, #expr, brc_);                                \
		}                                                                                  \
	} while (0)

void bench_die(const char *file, int line, const char *what, int rc) __attribute__((noreturn));

uint64_t bench_now_ns(void);
/* BENCH_QUICK=1 in the environment: the short version (bench/run --quick). */
int bench_quick(void);
/* BENCH_RUNS, never below BENCH_RUNS_MIN. */
int bench_runs(void);
/* A fresh directory under BENCH_TMP (default /tmp), removed at exit. */
const char *bench_tmpdir(void);

/* One figure measured several times. */
struct bench_series {
	double v[BENCH_SERIES_MAX];
	size_t n;
};
void bench_series_add(struct bench_series *s, double v);
double bench_series_median(const struct bench_series *s);
double bench_series_min(const struct bench_series *s);
double bench_series_max(const struct bench_series *s);

/* The p-th percentile (0..100) of n samples; sorts v in place. */
double bench_percentile(uint64_t *v, size_t n, double p);

/*
 * "  NAME: MEDIAN UNIT (median of N; min MIN, max MAX)". Every figure that
 * RESULTS.md quotes is printed through this.
 */
void bench_print_series(const char *name, const char *unit, const struct bench_series *s);
/* "  ratio WHAT: X (target OP T: met|MISSED)"; op is ">=" or "<=". */
void bench_print_ratio(const char *what, double ratio, const char *op, double target);
/* The line bench/run --quick ends with: "NAME ratio: X". */
void bench_print_final(const char *name, double ratio);

/* Resource use of a process, from /proc/PID/status and /proc/PID/stat. */
long bench_proc_rss_kib(pid_t pid);
long bench_proc_hwm_kib(pid_t pid);
/* Resets the peak (VmHWM) to the current RSS, so that a phase's peak can be read. */
int bench_proc_reset_hwm(pid_t pid);
/* User + system CPU seconds used so far. */
double bench_proc_cpu_s(pid_t pid);
/* The CPU time of pid's main thread alone (the relay's and divexd's loop). */
double bench_main_thread_cpu_s(pid_t pid);

/* Random bytes (libsodium). */
void bench_random(void *buf, size_t len);

#endif
