/*
 * bench.c: see bench.h.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"

void bench_die(const char *file, int line, const char *what, int rc)
{
	fprintf(stderr, "bench: %s:%d: %s failed: %d (%s)\n", file, line, what, rc,
		rc < 0 ? dx_errname(rc) : "");
	fflush(NULL);
	exit(1);
}

uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int bench_quick(void)
{
	const char *q = getenv("BENCH_QUICK");
	return q != NULL && strcmp(q, "1") == 0;
}

int bench_runs(void)
{
	const char *r = getenv("BENCH_RUNS");
	int n = r != NULL ? atoi(r) : 0;
	if (n < BENCH_RUNS_MIN) {
		n = BENCH_RUNS_MIN;
	}
	return n > BENCH_SERIES_MAX ? BENCH_SERIES_MAX : n;
}

const char *bench_tmpdir(void)
{
	return test_tmpdir();
}

void bench_series_add(struct bench_series *s, double v)
{
	if (s->n < BENCH_SERIES_MAX) {
		s->v[s->n++] = v;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double bench_series_median(const struct bench_series *s)
{
	double v[BENCH_SERIES_MAX];
	if (s->n == 0) {
		return NAN;
	}
	memcpy(v, s->v, s->n * sizeof(v[0]));
	qsort(v, s->n, sizeof(v[0]), cmp_double);
	return s->n % 2 == 1 ? v[s->n / 2] : (v[s->n / 2 - 1] + v[s->n / 2]) / 2;
}

double bench_series_min(const struct bench_series *s)
{
	double m = s->n > 0 ? s->v[0] : NAN;
	for (size_t i = 1; i < s->n; i++) {
		m = s->v[i] < m ? s->v[i] : m;
	}
	return m;
}

double bench_series_max(const struct bench_series *s)
{
	double m = s->n > 0 ? s->v[0] : NAN;
	for (size_t i = 1; i < s->n; i++) {
		m = s->v[i] > m ? s->v[i] : m;
	}
	return m;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

double bench_percentile(uint64_t *v, size_t n, double p)
{
	if (n == 0) {
		return NAN;
	}
	qsort(v, n, sizeof(v[0]), cmp_u64);
	/* Nearest rank: the smallest sample with at least p% at or below it. */
	size_t rank = (size_t)ceil(p / 100.0 * (double)n);
	rank = rank == 0 ? 1 : rank > n ? n : rank;
	return (double)v[rank - 1];
}

/* Three significant digits at least, and no exponent for everyday figures. */
static void fmt(char *out, size_t cap, double v)
{
	double a = fabs(v);
	if (a >= 1000 || a == 0) {
		snprintf(out, cap, "%.0f", v);
	} else if (a >= 100) {
		snprintf(out, cap, "%.1f", v);
	} else if (a >= 1) {
		snprintf(out, cap, "%.2f", v);
	} else {
		snprintf(out, cap, "%.3g", v);
	}
}

void bench_print_series(const char *name, const char *unit, const struct bench_series *s)
{
	char med[32], lo[32], hi[32];
	fmt(med, sizeof(med), bench_series_median(s));
	fmt(lo, sizeof(lo), bench_series_min(s));
	fmt(hi, sizeof(hi), bench_series_max(s));
	printf("  %s: %s %s (median of %zu; min %s, max %s)\n", name, med, unit, s->n, lo, hi);
	fflush(stdout);
}

void bench_print_ratio(const char *what, double ratio, const char *op, double target)
{
	int met = strcmp(op, ">=") == 0 ? ratio >= target : ratio <= target;
	printf("  ratio %s: %.3f (target %s %.2f: %s)\n", what, ratio, op, target,
	       met ? "met" : "MISSED");
	fflush(stdout);
}

void bench_print_final(const char *name, double ratio)
{
	printf("%s ratio: %.3f\n", name, ratio);
	fflush(stdout);
}

static long status_field(pid_t pid, const char *field)
{
	char path[64], line[256];
	long v = -1;
	size_t n = strlen(field);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, field, n) == 0 && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

long bench_proc_rss_kib(pid_t pid)
{
	return status_field(pid, "VmRSS");
}

long bench_proc_hwm_kib(pid_t pid)
{
	return status_field(pid, "VmHWM");
}

int bench_proc_reset_hwm(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/clear_refs", (int)pid);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		return dx_from_errno(errno);
	}
	/* "5" resets the peak resident set size to the current one (proc(5)). */
	ssize_t w = write(fd, "5", 1);
	close(fd);
	return w == 1 ? DX_OK : DX_EIO;
}

static double stat_cpu_s(const char *path)
{
	char buf[1024];
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return -1;
	}
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name, which may hold spaces: skip past ')'. */
	char *p = strrchr(buf, ')');
	unsigned long utime = 0, stime = 0;
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
				&utime, &stime) != 2) {
		return -1;
	}
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

double bench_proc_cpu_s(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	return stat_cpu_s(path);
}

double bench_main_thread_cpu_s(pid_t pid)
{
	char path[96];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)pid);
	return stat_cpu_s(path);
}

void bench_random(void *buf, size_t len)
{
	randombytes_buf(buf, len);
}
