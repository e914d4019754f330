/*
 * metrics_impl.h: internals shared by metrics.c (the registry and the
 * Prometheus rendering) and metrics_status.c (the status page, text and
 * JSON summaries). Nothing outside those two files includes it.
 *
 * struct metrics_snap is a private copy of every figure, taken under the
 * registry's lock by metrics_snapshot(); renderers work on it without the
 * lock. struct sbuf is a growable text buffer whose first allocation
 * failure sticks, so a renderer checks once at the end.
 */
#ifndef DIVEX_RELAY_METRICS_IMPL_H
#define DIVEX_RELAY_METRICS_IMPL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

/* Upper bounds of the commit latency histogram, in seconds. */
#define METRICS_COMMIT_BUCKETS 13
/* Upper bounds of the batch size histogram, in entries (powers of two). */
#define METRICS_BATCH_BUCKETS 12
/* Distinct error codes kept; every DX_E* code fits many times over. */
#define METRICS_MAX_ERROR_CODES 256

extern const double metrics_commit_bounds[METRICS_COMMIT_BUCKETS];
extern const char *const metrics_commit_bound_text[METRICS_COMMIT_BUCKETS];
extern const uint64_t metrics_batch_bounds[METRICS_BATCH_BUCKETS];

struct metrics_err_row {
	int code;
	uint64_t total;
	/* Count per minute, for the minute (number + 1) in stamp; 0 = unused. */
	uint64_t minute_count[METRICS_ERROR_MINUTES];
	uint64_t minute_stamp[METRICS_ERROR_MINUTES];
};

struct metrics_state_row {
	char state[METRICS_STATE_MAX + 1];
	enum metrics_state_status status;
	uint64_t last_seen_ms;
	uint64_t depth;
	uint64_t bytes;
	uint64_t oldest_ms;
};

struct metrics_snap {
	char name[METRICS_NAME_MAX + 1];
	uint64_t start_ms;
	uint64_t requests[METRICS_OP_COUNT][METRICS_OUTCOME_COUNT];
	uint64_t accepted_total;
	uint64_t listeners_replaced; /* tls+tcp listeners the watch replaced */
	uint64_t pieces_waiting;     /* upload pieces ahead of their stream, waiting */
	int64_t disk_free;           /* bytes free for the relay in data_dir; -1 unknown */
	/* Accepted envelopes per second, for the second (number + 1) in stamp. */
	uint64_t tp_count[METRICS_THROUGHPUT_SECONDS];
	uint64_t tp_stamp[METRICS_THROUGHPUT_SECONDS];
	/* Per-bucket (not cumulative) counts; the last slot is above every bound. */
	uint64_t commit_bucket[METRICS_COMMIT_BUCKETS + 1];
	uint64_t commit_count;
	double commit_sum;
	double fsync_sum;
	uint64_t batch_bucket[METRICS_BATCH_BUCKETS + 1];
	uint64_t batch_sum;
	uint64_t log_leaves;
	uint64_t ckpt_size;
	uint64_t ckpt_ms;
	/* Sorted by code. */
	struct metrics_err_row *errs;
	size_t n_errs;
	/* Sorted by State key (strcmp). */
	struct metrics_state_row *states;
	size_t n_states;
};

/* Copies the registry's figures; free with metrics_snap_free(). */
int metrics_snapshot(struct metrics *m, struct metrics_snap **out) DX_MUST_CHECK;
void metrics_snap_free(struct metrics_snap *s);

/* Envelopes accepted in the whole second now_s - back_s (0 = the current second). */
uint64_t metrics_snap_tp_at(const struct metrics_snap *s, uint64_t now_s, unsigned back_s);
/* Errors of one code within the last METRICS_ERROR_MINUTES minutes up to now_ms. */
uint64_t metrics_snap_err_recent(const struct metrics_err_row *e, uint64_t now_ms);

struct sbuf {
	char *p;
	size_t len;
	size_t cap;
	int err;
};

void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_putn(struct sbuf *b, const char *s, size_t n);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the text to the caller (or frees it and returns the error). */
int sbuf_finish(struct sbuf *b, char **out, size_t *len) DX_MUST_CHECK;

/*
 * Makes untrusted text printable ASCII with dx_escape() into out (outsz
 * bytes); 4 * METRICS_NAME_MAX + 1 always suffices for a kept string.
 */
void metrics_printable(char *out, size_t outsz, const char *in);

#endif
