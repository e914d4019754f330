/*
 * metrics.c: the relay's metrics registry and its rendering in the
 * Prometheus text exposition format (version 0.0.4).
 *
 * The registry is updated by the relay loop thread and read by the HTTP
 * thread; one mutex guards it (see metrics.h). Per-State rows and per-code
 * error rows live in sorted arrays that grow on demand, so 10,000 States cost
 * a binary search per update and a memmove per new State.
 */
#include "metrics.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_impl.h"
#include "util.h"

const double metrics_commit_bounds[METRICS_COMMIT_BUCKETS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
};
const char *const metrics_commit_bound_text[METRICS_COMMIT_BUCKETS] = {
	"0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01",
	"0.025",  "0.05",    "0.1",    "0.25",	"0.5",	  "1",
};
const uint64_t metrics_batch_bounds[METRICS_BATCH_BUCKETS] = {
	1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096,
};

/*
 * Every code dx_errname() does not know is counted under this one key (whose
 * name is "DX_EUNKNOWN" too), so that no two rows share a label.
 */
#define UNKNOWN_CODE INT_MIN

static const char *const op_names[METRICS_OP_COUNT] = {
	[METRICS_OP_SUBMIT] = "submit",
	[METRICS_OP_LIST] = "list",
	[METRICS_OP_FETCH] = "fetch",
	[METRICS_OP_ACK] = "ack",
	[METRICS_OP_UPLOAD] = "upload",
	[METRICS_OP_DOWNLOAD] = "download",
	[METRICS_OP_ROSTER] = "roster",
	[METRICS_OP_PUBLISH] = "publish",
	[METRICS_OP_CHECKPOINT] = "checkpoint",
	[METRICS_OP_INCLUSION] = "inclusion",
	[METRICS_OP_CONSISTENCY] = "consistency",
	[METRICS_OP_STATEMENTS] = "statements",
	[METRICS_OP_SESSION] = "session",
	[METRICS_OP_ADMIN] = "admin",
	[METRICS_OP_UNDECODABLE] = "undecodable",
};

static const char *const outcome_names[METRICS_OUTCOME_COUNT] = {
	[METRICS_OUTCOME_OK] = "ok",
	[METRICS_OUTCOME_REFUSED] = "refused",
	[METRICS_OUTCOME_INTERNAL] = "internal",
};

static const char *const status_names[METRICS_STATUS_COUNT] = {
	[METRICS_STATUS_PARTY] = "party",
	[METRICS_STATUS_SIGNATORY] = "signatory",
	[METRICS_STATUS_SUSPENDED] = "suspended",
};

struct metrics {
	pthread_mutex_t lock;
	struct metrics_snap d;
	size_t cap_errs;
	size_t cap_states;
};

const char *metrics_op_name(enum metrics_op op)
{
	if ((unsigned)op >= METRICS_OP_COUNT) {
		return "unknown";
	}
	return op_names[op];
}

const char *metrics_status_name(enum metrics_state_status status)
{
	if ((unsigned)status >= METRICS_STATUS_COUNT) {
		return "unknown";
	}
	return status_names[status];
}

enum metrics_outcome metrics_outcome_of(int err)
{
	if (err == 0) {
		return METRICS_OUTCOME_OK;
	}
	if (err == DX_EINTERNAL || err == DX_EIO || err == DX_ENOSPC || err == DX_ENOMEM) {
		return METRICS_OUTCOME_INTERNAL;
	}
	return METRICS_OUTCOME_REFUSED;
}

int metrics_new(const char *name, uint64_t start_ms, struct metrics **out)
{
	struct metrics *m = calloc(1, sizeof(*m));
	if (m == NULL) {
		return DX_ENOMEM;
	}
	if (pthread_mutex_init(&m->lock, NULL) != 0) {
		free(m);
		return DX_ENOMEM;
	}
	snprintf(m->d.name, sizeof(m->d.name), "%s", name != NULL ? name : "");
	m->d.start_ms = start_ms;
	m->d.disk_free = -1;
	*out = m;
	return 0;
}

void metrics_free(struct metrics *m)
{
	if (m == NULL) {
		return;
	}
	pthread_mutex_destroy(&m->lock);
	free(m->d.errs);
	free(m->d.states);
	free(m);
}

/* Index of the first error row whose code is >= code. */
static size_t err_lower_bound(const struct metrics_snap *d, int code)
{
	size_t lo = 0, hi = d->n_errs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (d->errs[mid].code < code) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo;
}

/* The row of code, inserted if new; NULL when the table is full or memory is short. */
static struct metrics_err_row *err_row(struct metrics *m, int code)
{
	struct metrics_snap *d = &m->d;
	size_t i = err_lower_bound(d, code);
	if (i < d->n_errs && d->errs[i].code == code) {
		return &d->errs[i];
	}
	if (d->n_errs >= METRICS_MAX_ERROR_CODES) {
		return NULL;
	}
	if (d->n_errs == m->cap_errs) {
		size_t cap = m->cap_errs == 0 ? 16 : m->cap_errs * 2;
		struct metrics_err_row *p = realloc(d->errs, cap * sizeof(*p));
		if (p == NULL) {
			return NULL;
		}
		d->errs = p;
		m->cap_errs = cap;
	}
	memmove(&d->errs[i + 1], &d->errs[i], (d->n_errs - i) * sizeof(d->errs[0]));
	memset(&d->errs[i], 0, sizeof(d->errs[i]));
	d->errs[i].code = code;
	d->n_errs++;
	return &d->errs[i];
}

void metrics_count_request(struct metrics *m, enum metrics_op op, int err, uint64_t now_ms)
{
	if ((unsigned)op >= METRICS_OP_COUNT) {
		op = METRICS_OP_ADMIN;
	}
	int code = err;
	if (err != 0 && strcmp(dx_errname(err), "DX_EUNKNOWN") == 0) {
		code = UNKNOWN_CODE;
	}
	uint64_t minute = now_ms / 60000 + 1;
	pthread_mutex_lock(&m->lock);
	m->d.requests[op][metrics_outcome_of(err)]++;
	struct metrics_err_row *e = err != 0 ? err_row(m, code) : NULL;
	if (e != NULL) {
		e->total++;
		size_t slot = (size_t)(minute % METRICS_ERROR_MINUTES);
		if (e->minute_stamp[slot] != minute) {
			/* A slot holding a later minute means the clock stepped back: keep it. */
			if (e->minute_stamp[slot] < minute) {
				e->minute_stamp[slot] = minute;
				e->minute_count[slot] = 1;
			}
		} else {
			e->minute_count[slot]++;
		}
	}
	pthread_mutex_unlock(&m->lock);
}

void metrics_set_listeners_replaced(struct metrics *m, uint64_t n)
{
	pthread_mutex_lock(&m->lock);
	m->d.listeners_replaced = n;
	pthread_mutex_unlock(&m->lock);
}

void metrics_set_pieces_waiting(struct metrics *m, uint64_t n)
{
	pthread_mutex_lock(&m->lock);
	m->d.pieces_waiting = n;
	pthread_mutex_unlock(&m->lock);
}

void metrics_set_disk_free(struct metrics *m, int64_t bytes)
{
	pthread_mutex_lock(&m->lock);
	m->d.disk_free = bytes;
	pthread_mutex_unlock(&m->lock);
}

void metrics_count_accepted(struct metrics *m, uint64_t n, uint64_t now_ms)
{
	uint64_t sec = now_ms / 1000 + 1;
	size_t slot = (size_t)(sec % METRICS_THROUGHPUT_SECONDS);
	pthread_mutex_lock(&m->lock);
	m->d.accepted_total += n;
	if (m->d.tp_stamp[slot] == sec) {
		m->d.tp_count[slot] += n;
	} else if (m->d.tp_stamp[slot] < sec) {
		m->d.tp_stamp[slot] = sec;
		m->d.tp_count[slot] = n;
	}
	pthread_mutex_unlock(&m->lock);
}

void metrics_observe_commit(struct metrics *m, double commit_seconds, double fsync_seconds,
			    uint64_t batch_size)
{
	/* NaN and negative durations (a clock that stepped) count as zero. */
	if (!(commit_seconds > 0)) {
		commit_seconds = 0;
	}
	if (!(fsync_seconds > 0)) {
		fsync_seconds = 0;
	}
	size_t cb = 0;
	while (cb < METRICS_COMMIT_BUCKETS && commit_seconds > metrics_commit_bounds[cb]) {
		cb++;
	}
	size_t bb = 0;
	while (bb < METRICS_BATCH_BUCKETS && batch_size > metrics_batch_bounds[bb]) {
		bb++;
	}
	pthread_mutex_lock(&m->lock);
	m->d.commit_bucket[cb]++;
	m->d.commit_count++;
	m->d.commit_sum += commit_seconds;
	m->d.fsync_sum += fsync_seconds;
	m->d.batch_bucket[bb]++;
	m->d.batch_sum += batch_size;
	pthread_mutex_unlock(&m->lock);
}

void metrics_set_log(struct metrics *m, uint64_t leaves, uint64_t checkpoint_size,
		     uint64_t checkpoint_ms)
{
	pthread_mutex_lock(&m->lock);
	m->d.log_leaves = leaves;
	m->d.ckpt_size = checkpoint_size;
	m->d.ckpt_ms = checkpoint_ms;
	pthread_mutex_unlock(&m->lock);
}

/* Index of the first State row whose key is >= state; *found says whether equal. */
static size_t state_lower_bound(const struct metrics_snap *d, const char *state, int *found)
{
	size_t lo = 0, hi = d->n_states;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(d->states[mid].state, state) < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	*found = lo < d->n_states && strcmp(d->states[lo].state, state) == 0;
	return lo;
}

static int state_key_valid(const char *state)
{
	if (state == NULL) {
		return 0;
	}
	size_t n = strnlen(state, METRICS_STATE_MAX + 1);
	return n > 0 && n <= METRICS_STATE_MAX;
}

int metrics_set_state(struct metrics *m, const char *state, enum metrics_state_status status,
		      uint64_t last_seen_ms, uint64_t depth, uint64_t bytes, uint64_t oldest_ms)
{
	if (!state_key_valid(state) || (unsigned)status >= METRICS_STATUS_COUNT) {
		return DX_EINVAL;
	}
	int rc = 0, found;
	pthread_mutex_lock(&m->lock);
	struct metrics_snap *d = &m->d;
	size_t i = state_lower_bound(d, state, &found);
	if (!found) {
		if (d->n_states == m->cap_states) {
			size_t cap = m->cap_states == 0 ? 64 : m->cap_states * 2;
			struct metrics_state_row *p = realloc(d->states, cap * sizeof(*p));
			if (p == NULL) {
				rc = DX_ENOMEM;
				goto out;
			}
			d->states = p;
			m->cap_states = cap;
		}
		memmove(&d->states[i + 1], &d->states[i], (d->n_states - i) * sizeof(d->states[0]));
		memset(&d->states[i], 0, sizeof(d->states[i]));
		snprintf(d->states[i].state, sizeof(d->states[i].state), "%s", state);
		d->n_states++;
	}
	struct metrics_state_row *r = &d->states[i];
	r->status = status;
	if (last_seen_ms > r->last_seen_ms) {
		r->last_seen_ms = last_seen_ms;
	}
	r->depth = depth;
	r->bytes = bytes;
	r->oldest_ms = oldest_ms;
out:
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int metrics_touch_state(struct metrics *m, const char *state, uint64_t now_ms)
{
	if (!state_key_valid(state)) {
		return DX_ENOENT;
	}
	int found;
	pthread_mutex_lock(&m->lock);
	size_t i = state_lower_bound(&m->d, state, &found);
	if (found && now_ms > m->d.states[i].last_seen_ms) {
		m->d.states[i].last_seen_ms = now_ms;
	}
	pthread_mutex_unlock(&m->lock);
	return found ? 0 : DX_ENOENT;
}

int metrics_remove_state(struct metrics *m, const char *state)
{
	if (!state_key_valid(state)) {
		return DX_ENOENT;
	}
	int found;
	pthread_mutex_lock(&m->lock);
	struct metrics_snap *d = &m->d;
	size_t i = state_lower_bound(d, state, &found);
	if (found) {
		memmove(&d->states[i], &d->states[i + 1],
			(d->n_states - i - 1) * sizeof(d->states[0]));
		d->n_states--;
	}
	pthread_mutex_unlock(&m->lock);
	return found ? 0 : DX_ENOENT;
}

int metrics_snapshot(struct metrics *m, struct metrics_snap **out)
{
	int rc = DX_ENOMEM;
	struct metrics_snap *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return DX_ENOMEM;
	}
	pthread_mutex_lock(&m->lock);
	*s = m->d;
	s->errs = NULL;
	s->states = NULL;
	if (s->n_errs > 0) {
		s->errs = malloc(s->n_errs * sizeof(s->errs[0]));
		if (s->errs == NULL) {
			goto out;
		}
		memcpy(s->errs, m->d.errs, s->n_errs * sizeof(s->errs[0]));
	}
	if (s->n_states > 0) {
		s->states = malloc(s->n_states * sizeof(s->states[0]));
		if (s->states == NULL) {
			goto out;
		}
		memcpy(s->states, m->d.states, s->n_states * sizeof(s->states[0]));
	}
	rc = 0;
out:
	pthread_mutex_unlock(&m->lock);
	if (rc != 0) {
		metrics_snap_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void metrics_snap_free(struct metrics_snap *s)
{
	if (s == NULL) {
		return;
	}
	free(s->errs);
	free(s->states);
	free(s);
}

uint64_t metrics_snap_tp_at(const struct metrics_snap *s, uint64_t now_s, unsigned back_s)
{
	if (back_s >= METRICS_THROUGHPUT_SECONDS || back_s > now_s) {
		return 0;
	}
	uint64_t sec = now_s - back_s + 1;
	size_t slot = (size_t)(sec % METRICS_THROUGHPUT_SECONDS);
	return s->tp_stamp[slot] == sec ? s->tp_count[slot] : 0;
}

uint64_t metrics_snap_err_recent(const struct metrics_err_row *e, uint64_t now_ms)
{
	uint64_t minute = now_ms / 60000 + 1;
	uint64_t sum = 0;
	for (size_t i = 0; i < METRICS_ERROR_MINUTES; i++) {
		uint64_t st = e->minute_stamp[i];
		if (st != 0 && st <= minute && minute - st < METRICS_ERROR_MINUTES) {
			sum += e->minute_count[i];
		}
	}
	return sum;
}

static void sbuf_reserve(struct sbuf *b, size_t more)
{
	if (b->err != 0) {
		return;
	}
	if (more > SIZE_MAX / 2 - b->len) {
		b->err = DX_ENOMEM;
		return;
	}
	size_t need = b->len + more + 1;
	if (need <= b->cap) {
		return;
	}
	size_t cap = b->cap == 0 ? 4096 : b->cap;
	while (cap < need) {
		cap *= 2;
	}
	char *p = realloc(b->p, cap);
	if (p == NULL) {
		b->err = DX_ENOMEM;
		return;
	}
	b->p = p;
	b->cap = cap;
}

void sbuf_putn(struct sbuf *b, const char *s, size_t n)
{
	sbuf_reserve(b, n);
	if (b->err != 0) {
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void sbuf_puts(struct sbuf *b, const char *s)
{
	sbuf_putn(b, s, strlen(s));
}

void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->err = DX_EINVAL;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		sbuf_putn(b, small, (size_t)n);
		return;
	}
	sbuf_reserve(b, (size_t)n);
	if (b->err != 0) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

int sbuf_finish(struct sbuf *b, char **out, size_t *len)
{
	sbuf_reserve(b, 0);
	if (b->err != 0) {
		free(b->p);
		return b->err;
	}
	*out = b->p;
	*len = b->len;
	return 0;
}

void metrics_printable(char *out, size_t outsz, const char *in)
{
	dx_escape(out, outsz, in, strlen(in));
}

/* Writes s as a Prometheus label value: printable ASCII, then \\ and \" escaped. */
static void put_label_value(struct sbuf *b, const char *s)
{
	char safe[4 * METRICS_NAME_MAX + 1];
	metrics_printable(safe, sizeof(safe), s);
	for (const char *p = safe; *p != '\0'; p++) {
		if (*p == '\\' || *p == '"') {
			sbuf_putn(b, "\\", 1);
		}
		sbuf_putn(b, p, 1);
	}
}

static void put_family(struct sbuf *b, const char *name, const char *type, const char *help)
{
	sbuf_printf(b, "# HELP divex_relay_%s %s\n# TYPE divex_relay_%s %s\n", name, help, name,
		    type);
}

static void put_state_sample(struct sbuf *b, const char *name, const char *state, const char *value)
{
	sbuf_printf(b, "divex_relay_%s{state=\"", name);
	put_label_value(b, state);
	sbuf_printf(b, "\"} %s\n", value);
}

static double age_seconds(uint64_t now_ms, uint64_t then_ms)
{
	return now_ms > then_ms ? (double)(now_ms - then_ms) / 1000.0 : 0.0;
}

static void render_requests(struct sbuf *b, const struct metrics_snap *s)
{
	put_family(b, "requests_total", "counter",
		   "Requests answered, by operation and outcome (ok, refused, internal).");
	for (size_t op = 0; op < METRICS_OP_COUNT; op++) {
		for (size_t oc = 0; oc < METRICS_OUTCOME_COUNT; oc++) {
			sbuf_printf(b,
				    "divex_relay_requests_total{op=\"%s\",outcome=\"%s\"} %llu\n",
				    op_names[op], outcome_names[oc],
				    (unsigned long long)s->requests[op][oc]);
		}
	}
	put_family(b, "errors_total", "counter", "Requests refused or failed, by error code.");
	for (size_t i = 0; i < s->n_errs; i++) {
		sbuf_puts(b, "divex_relay_errors_total{code=\"");
		put_label_value(b, dx_errname(s->errs[i].code));
		sbuf_printf(b, "\"} %llu\n", (unsigned long long)s->errs[i].total);
	}
	put_family(b, "envelopes_accepted_total", "counter",
		   "Envelopes accepted and made durable.");
	sbuf_printf(b, "divex_relay_envelopes_accepted_total %llu\n",
		    (unsigned long long)s->accepted_total);
	put_family(b, "listener_replacements_total", "counter",
		   "Times the node-facing listener stopped accepting and was replaced.");
	sbuf_printf(b, "divex_relay_listener_replacements_total %llu\n",
		    (unsigned long long)s->listeners_replaced);
	put_family(b, "upload_pieces_waiting", "gauge",
		   "Attachment pieces that arrived before the piece they follow, waiting for it.");
	sbuf_printf(b, "divex_relay_upload_pieces_waiting %llu\n",
		    (unsigned long long)s->pieces_waiting);
	if (s->disk_free >= 0) {
		put_family(b, "disk_free_bytes", "gauge",
			   "Bytes free for the relay on the file system of its data_dir.");
		sbuf_printf(b, "divex_relay_disk_free_bytes %lld\n", (long long)s->disk_free);
	}
}

static void render_commits(struct sbuf *b, const struct metrics_snap *s)
{
	uint64_t cum = 0;
	put_family(b, "commit_latency_seconds", "histogram",
		   "Time to commit a batch to the store and the audit log, fsync included.");
	for (size_t i = 0; i < METRICS_COMMIT_BUCKETS; i++) {
		cum += s->commit_bucket[i];
		sbuf_printf(b, "divex_relay_commit_latency_seconds_bucket{le=\"%s\"} %llu\n",
			    metrics_commit_bound_text[i], (unsigned long long)cum);
	}
	cum += s->commit_bucket[METRICS_COMMIT_BUCKETS];
	sbuf_printf(b, "divex_relay_commit_latency_seconds_bucket{le=\"+Inf\"} %llu\n",
		    (unsigned long long)cum);
	sbuf_printf(b, "divex_relay_commit_latency_seconds_sum %.9g\n", s->commit_sum);
	sbuf_printf(b, "divex_relay_commit_latency_seconds_count %llu\n",
		    (unsigned long long)s->commit_count);

	cum = 0;
	put_family(b, "commit_batch_size", "histogram", "Entries per group commit.");
	for (size_t i = 0; i < METRICS_BATCH_BUCKETS; i++) {
		cum += s->batch_bucket[i];
		sbuf_printf(b, "divex_relay_commit_batch_size_bucket{le=\"%llu\"} %llu\n",
			    (unsigned long long)metrics_batch_bounds[i], (unsigned long long)cum);
	}
	cum += s->batch_bucket[METRICS_BATCH_BUCKETS];
	sbuf_printf(b, "divex_relay_commit_batch_size_bucket{le=\"+Inf\"} %llu\n",
		    (unsigned long long)cum);
	sbuf_printf(b, "divex_relay_commit_batch_size_sum %llu\n",
		    (unsigned long long)s->batch_sum);
	sbuf_printf(b, "divex_relay_commit_batch_size_count %llu\n",
		    (unsigned long long)s->commit_count);

	put_family(b, "fsync_seconds_total", "counter", "Time spent in fsync by group commits.");
	sbuf_printf(b, "divex_relay_fsync_seconds_total %.9g\n", s->fsync_sum);
}

static void render_log(struct sbuf *b, const struct metrics_snap *s, uint64_t now_ms)
{
	put_family(b, "uptime_seconds", "gauge", "Seconds since the relay started.");
	sbuf_printf(b, "divex_relay_uptime_seconds %.3f\n", age_seconds(now_ms, s->start_ms));
	put_family(b, "log_leaves", "gauge", "Entries in the audit log.");
	sbuf_printf(b, "divex_relay_log_leaves %llu\n", (unsigned long long)s->log_leaves);
	put_family(b, "checkpoint_size", "gauge", "Tree size of the latest signed checkpoint.");
	sbuf_printf(b, "divex_relay_checkpoint_size %llu\n", (unsigned long long)s->ckpt_size);
	put_family(b, "checkpoint_age_seconds", "gauge",
		   "Age of the latest signed checkpoint (absent before the first).");
	if (s->ckpt_ms != 0) {
		sbuf_printf(b, "divex_relay_checkpoint_age_seconds %.3f\n",
			    age_seconds(now_ms, s->ckpt_ms));
	}
}

static void render_states(struct sbuf *b, const struct metrics_snap *s, uint64_t now_ms)
{
	char v[64];
	uint64_t per_status[METRICS_STATUS_COUNT] = { 0 };
	for (size_t i = 0; i < s->n_states; i++) {
		per_status[s->states[i].status]++;
	}
	put_family(b, "states", "gauge", "States in the roster, by status.");
	for (size_t st = 0; st < METRICS_STATUS_COUNT; st++) {
		sbuf_printf(b, "divex_relay_states{status=\"%s\"} %llu\n", status_names[st],
			    (unsigned long long)per_status[st]);
	}
	put_family(b, "state_info", "gauge", "A State's status in the roster; the value is 1.");
	for (size_t i = 0; i < s->n_states; i++) {
		sbuf_puts(b, "divex_relay_state_info{state=\"");
		put_label_value(b, s->states[i].state);
		sbuf_printf(b, "\",status=\"%s\"} 1\n", status_names[s->states[i].status]);
	}
	put_family(b, "state_last_seen_timestamp_seconds", "gauge",
		   "When a State's node was last heard from (absent if never).");
	for (size_t i = 0; i < s->n_states; i++) {
		if (s->states[i].last_seen_ms != 0) {
			snprintf(v, sizeof(v), "%.3f", (double)s->states[i].last_seen_ms / 1000.0);
			put_state_sample(b, "state_last_seen_timestamp_seconds", s->states[i].state,
					 v);
		}
	}
	put_family(b, "mailbox_envelopes", "gauge", "Envelopes waiting in a State's mailbox.");
	for (size_t i = 0; i < s->n_states; i++) {
		snprintf(v, sizeof(v), "%llu", (unsigned long long)s->states[i].depth);
		put_state_sample(b, "mailbox_envelopes", s->states[i].state, v);
	}
	put_family(b, "mailbox_bytes", "gauge", "Bytes waiting in a State's mailbox.");
	for (size_t i = 0; i < s->n_states; i++) {
		snprintf(v, sizeof(v), "%llu", (unsigned long long)s->states[i].bytes);
		put_state_sample(b, "mailbox_bytes", s->states[i].state, v);
	}
	put_family(b, "mailbox_oldest_age_seconds", "gauge",
		   "Age of the oldest undelivered envelope in a State's mailbox (0 if empty).");
	for (size_t i = 0; i < s->n_states; i++) {
		double age = s->states[i].oldest_ms != 0
				     ? age_seconds(now_ms, s->states[i].oldest_ms)
				     : 0.0;
		snprintf(v, sizeof(v), "%.3f", age);
		put_state_sample(b, "mailbox_oldest_age_seconds", s->states[i].state, v);
	}
}

int metrics_render_prometheus(struct metrics *m, uint64_t now_ms, char **out, size_t *len)
{
	struct metrics_snap *s;
	int rc = metrics_snapshot(m, &s);
	if (rc != 0) {
		return rc;
	}
	struct sbuf b = { 0 };
	put_family(&b, "info", "gauge", "The relay's name (its log origin); the value is 1.");
	sbuf_puts(&b, "divex_relay_info{name=\"");
	put_label_value(&b, s->name);
	sbuf_puts(&b, "\"} 1\n");
	render_log(&b, s, now_ms);
	render_requests(&b, s);
	render_commits(&b, s);
	render_states(&b, s, now_ms);
	metrics_snap_free(s);
	return sbuf_finish(&b, out, len);
}
