/*
 * metrics_status.c: the relay's health summary for people: the /status HTML
 * page, and the plain-text and JSON forms that `divex relay status` prints.
 *
 * All three are drawn from one struct summary computed from a snapshot, so
 * they always agree. The HTML page is self-contained (inline CSS and an
 * inline SVG chart, no script) so that it can be served with a policy that
 * forbids everything else. Runs on whichever thread renders; holds no lock.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "metrics_impl.h"
#include "util.h"

/* The throughput chart groups seconds into bars of this width. */
#define CHART_BIN_SECONDS 10
#define CHART_BINS (METRICS_THROUGHPUT_SECONDS / CHART_BIN_SECONDS)
#define CHART_BAR_W 10
#define CHART_H 100
/* The summary names at most this many States that need attention. */
#define ATTENTION_LIST_MAX 40

enum state_flag {
	FLAG_UNSEEN = 1,  /* not seen for over METRICS_WARN_UNSEEN_MS, or never */
	FLAG_BACKLOG = 2, /* oldest undelivered envelope older than METRICS_WARN_BACKLOG_MS */
};

struct summary {
	const struct metrics_snap *s;
	uint64_t now_ms;
	uint64_t uptime_ms;
	uint64_t answered, refused, internal;
	uint64_t accepted_1min, accepted_10min;
	uint64_t errors_10min;
	uint64_t bins[CHART_BINS]; /* oldest first */
	uint64_t bin_max;
	uint64_t n_unseen, n_backlog;
	uint64_t depth_total, bytes_total;
};

static uint64_t age_ms(uint64_t now_ms, uint64_t then_ms)
{
	return now_ms > then_ms ? now_ms - then_ms : 0;
}

static unsigned state_flags(const struct metrics_state_row *r, uint64_t now_ms)
{
	unsigned f = 0;
	/* A suspended State is not expected to call in. */
	if (r->status != METRICS_STATUS_SUSPENDED &&
	    (r->last_seen_ms == 0 || age_ms(now_ms, r->last_seen_ms) > METRICS_WARN_UNSEEN_MS)) {
		f |= FLAG_UNSEEN;
	}
	if (r->oldest_ms != 0 && age_ms(now_ms, r->oldest_ms) > METRICS_WARN_BACKLOG_MS) {
		f |= FLAG_BACKLOG;
	}
	return f;
}

static void summarize(struct summary *y, const struct metrics_snap *s, uint64_t now_ms)
{
	memset(y, 0, sizeof(*y));
	y->s = s;
	y->now_ms = now_ms;
	y->uptime_ms = age_ms(now_ms, s->start_ms);
	for (size_t op = 0; op < METRICS_OP_COUNT; op++) {
		y->answered += s->requests[op][METRICS_OUTCOME_OK];
		y->refused += s->requests[op][METRICS_OUTCOME_REFUSED];
		y->internal += s->requests[op][METRICS_OUTCOME_INTERNAL];
	}
	uint64_t now_s = now_ms / 1000;
	for (unsigned back = 0; back < METRICS_THROUGHPUT_SECONDS; back++) {
		uint64_t n = metrics_snap_tp_at(s, now_s, back);
		if (back < 60) {
			y->accepted_1min += n;
		}
		y->accepted_10min += n;
		y->bins[CHART_BINS - 1 - back / CHART_BIN_SECONDS] += n;
	}
	for (size_t i = 0; i < CHART_BINS; i++) {
		if (y->bins[i] > y->bin_max) {
			y->bin_max = y->bins[i];
		}
	}
	for (size_t i = 0; i < s->n_errs; i++) {
		y->errors_10min += metrics_snap_err_recent(&s->errs[i], now_ms);
	}
	for (size_t i = 0; i < s->n_states; i++) {
		unsigned f = state_flags(&s->states[i], now_ms);
		y->n_unseen += (f & FLAG_UNSEEN) != 0;
		y->n_backlog += (f & FLAG_BACKLOG) != 0;
		y->depth_total += s->states[i].depth;
		y->bytes_total += s->states[i].bytes;
	}
}

/* "12 s", "5 min", "3 h", "2 d": coarse on purpose, to read at a glance. */
static void fmt_age(char *out, size_t n, uint64_t ms)
{
	unsigned long long s = ms / 1000;
	if (s < 120) {
		snprintf(out, n, "%llu s", s);
	} else if (s < 120 * 60) {
		snprintf(out, n, "%llu min", s / 60);
	} else if (s < 48 * 3600) {
		snprintf(out, n, "%llu h", s / 3600);
	} else {
		snprintf(out, n, "%llu d", s / 86400);
	}
}

static void fmt_utc(char *out, size_t n, uint64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL || strftime(out, n, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0) {
		snprintf(out, n, "%llu ms", (unsigned long long)ms);
	}
}

static void fmt_last_seen(char *out, size_t n, const struct metrics_state_row *r, uint64_t now)
{
	char age[32];
	if (r->last_seen_ms == 0) {
		snprintf(out, n, "never");
		return;
	}
	fmt_age(age, sizeof(age), age_ms(now, r->last_seen_ms));
	snprintf(out, n, "%s ago", age);
}

static void fmt_oldest(char *out, size_t n, const struct metrics_state_row *r, uint64_t now)
{
	if (r->oldest_ms == 0) {
		snprintf(out, n, "-");
		return;
	}
	fmt_age(out, n, age_ms(now, r->oldest_ms));
}

/* Writes untrusted text into HTML, as printable ASCII with the five specials as entities. */
static void put_html(struct sbuf *b, const char *s)
{
	char safe[4 * METRICS_NAME_MAX + 1];
	metrics_printable(safe, sizeof(safe), s);
	for (const char *p = safe; *p != '\0'; p++) {
		switch (*p) {
		case '&':
			sbuf_puts(b, "&amp;");
			break;
		case '<':
			sbuf_puts(b, "&lt;");
			break;
		case '>':
			sbuf_puts(b, "&gt;");
			break;
		case '"':
			sbuf_puts(b, "&quot;");
			break;
		case '\'':
			sbuf_puts(b, "&#39;");
			break;
		default:
			sbuf_putn(b, p, 1);
		}
	}
}

static const char page_css[] =
	"body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}"
	"h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.4em 0 .4em}"
	".sub{color:#666}.cards{display:flex;flex-wrap:wrap;gap:.6em}"
	".card{background:#fff;border:1px solid #ddd;border-radius:4px;padding:.5em .8em}"
	".card b{display:block;font-size:1.3em}"
	"table{border-collapse:collapse;background:#fff}"
	"th,td{border:1px solid #ddd;padding:.2em .6em;text-align:left}"
	"td.n{text-align:right}tr.warn td{background:#fff3cd}tr.bad td{background:#f8d7da}"
	"tr.susp td{color:#888}svg{background:#fff;border:1px solid #ddd}"
	"svg rect{fill:#3b73b9}svg text{font-size:10px;fill:#666}";

static void html_head(struct sbuf *b, const struct summary *y)
{
	char when[64];
	fmt_utc(when, sizeof(when), y->now_ms);
	sbuf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		     "<meta http-equiv=\"refresh\" content=\"30\">"
		     "<title>divex relay ");
	put_html(b, y->s->name);
	sbuf_printf(b, "</title><style>%s</style></head><body>\n<h1>divex relay ", page_css);
	put_html(b, y->s->name);
	sbuf_printf(b, "</h1><div class=\"sub\">status at %s</div>\n", when);
}

static void html_card(struct sbuf *b, const char *label, const char *value)
{
	sbuf_printf(b, "<div class=\"card\">%s<b>%s</b></div>", label, value);
}

static void html_cards(struct sbuf *b, const struct summary *y)
{
	char v[96], age[32];
	sbuf_puts(b, "<div class=\"cards\">");
	fmt_age(v, sizeof(v), y->uptime_ms);
	html_card(b, "uptime", v);
	snprintf(v, sizeof(v), "%llu", (unsigned long long)y->s->log_leaves);
	html_card(b, "audit log leaves", v);
	if (y->s->ckpt_ms != 0) {
		fmt_age(age, sizeof(age), age_ms(y->now_ms, y->s->ckpt_ms));
		snprintf(v, sizeof(v), "%llu, %s old", (unsigned long long)y->s->ckpt_size, age);
	} else {
		snprintf(v, sizeof(v), "none yet");
	}
	html_card(b, "checkpoint", v);
	snprintf(v, sizeof(v), "%llu / %llu", (unsigned long long)y->accepted_1min,
		 (unsigned long long)y->accepted_10min);
	html_card(b, "accepted, last 1 / 10 min", v);
	snprintf(v, sizeof(v), "%llu / %llu / %llu", (unsigned long long)y->answered,
		 (unsigned long long)y->refused, (unsigned long long)y->internal);
	html_card(b, "requests ok / refused / internal", v);
	snprintf(v, sizeof(v), "%llu", (unsigned long long)y->errors_10min);
	html_card(b, "errors, last 10 min", v);
	snprintf(v, sizeof(v), "%llu (%llu unseen &gt; 1 h, %llu backlog &gt; 24 h)",
		 (unsigned long long)y->s->n_states, (unsigned long long)y->n_unseen,
		 (unsigned long long)y->n_backlog);
	html_card(b, "States", v);
	snprintf(v, sizeof(v), "%llu envelopes, %llu bytes", (unsigned long long)y->depth_total,
		 (unsigned long long)y->bytes_total);
	html_card(b, "waiting in mailboxes", v);
	sbuf_puts(b, "</div>\n");
}

static void html_chart(struct sbuf *b, const struct summary *y)
{
	const unsigned w = CHART_BINS * CHART_BAR_W;
	sbuf_printf(b,
		    "<h2>Envelopes accepted, last 10 minutes (per %d s)</h2>\n"
		    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%u\" height=\"%d\" "
		    "viewBox=\"0 0 %u %d\" role=\"img\" aria-label=\"throughput chart\">",
		    CHART_BIN_SECONDS, w, CHART_H + 14, w, CHART_H + 14);
	for (unsigned i = 0; i < CHART_BINS; i++) {
		uint64_t v = y->bins[i];
		unsigned h = y->bin_max == 0 ? 0 : (unsigned)((v * (CHART_H - 12)) / y->bin_max);
		if (v > 0 && h == 0) {
			h = 1;
		}
		sbuf_printf(b,
			    "<rect x=\"%u\" y=\"%u\" width=\"%d\" height=\"%u\">"
			    "<title>%llu envelopes, %u to %u s ago</title></rect>",
			    i * CHART_BAR_W, CHART_H - h, CHART_BAR_W - 1, h, (unsigned long long)v,
			    (CHART_BINS - 1 - i) * CHART_BIN_SECONDS,
			    (CHART_BINS - i) * CHART_BIN_SECONDS - 1);
	}
	sbuf_printf(b,
		    "<text x=\"2\" y=\"10\">max %llu</text>"
		    "<text x=\"2\" y=\"%d\">-10 min</text>"
		    "<text x=\"%u\" y=\"%d\" text-anchor=\"end\">now</text></svg>\n",
		    (unsigned long long)y->bin_max, CHART_H + 12, w - 2, CHART_H + 12);
}

static void html_errors(struct sbuf *b, const struct summary *y)
{
	const struct metrics_snap *s = y->s;
	sbuf_puts(b, "<h2>Errors by code</h2>\n");
	if (s->n_errs == 0) {
		sbuf_puts(b, "<p>No errors since start.</p>\n");
		return;
	}
	sbuf_puts(b, "<table><tr><th>code</th><th>last 10 min</th><th>per min</th>"
		     "<th>since start</th></tr>\n");
	for (size_t i = 0; i < s->n_errs; i++) {
		uint64_t recent = metrics_snap_err_recent(&s->errs[i], y->now_ms);
		sbuf_puts(b, "<tr><td>");
		put_html(b, dx_errname(s->errs[i].code));
		sbuf_printf(b,
			    "</td><td class=\"n\">%llu</td><td class=\"n\">%.1f</td>"
			    "<td class=\"n\">%llu</td></tr>\n",
			    (unsigned long long)recent, (double)recent / METRICS_ERROR_MINUTES,
			    (unsigned long long)s->errs[i].total);
	}
	sbuf_puts(b, "</table>\n");
}

static const char *row_class(const struct metrics_state_row *r, unsigned flags)
{
	if ((flags & FLAG_BACKLOG) != 0) {
		return " class=\"bad\"";
	}
	if ((flags & FLAG_UNSEEN) != 0) {
		return " class=\"warn\"";
	}
	return r->status == METRICS_STATUS_SUSPENDED ? " class=\"susp\"" : "";
}

static void html_states(struct sbuf *b, const struct summary *y)
{
	const struct metrics_snap *s = y->s;
	char seen[48], oldest[32];
	sbuf_puts(b, "<h2>States</h2>\n<table><tr><th>State</th><th>status</th><th>last seen</th>"
		     "<th>backlog</th><th>bytes</th><th>oldest undelivered</th></tr>\n");
	for (size_t i = 0; i < s->n_states; i++) {
		const struct metrics_state_row *r = &s->states[i];
		unsigned f = state_flags(r, y->now_ms);
		fmt_last_seen(seen, sizeof(seen), r, y->now_ms);
		fmt_oldest(oldest, sizeof(oldest), r, y->now_ms);
		sbuf_printf(b, "<tr%s><td>", row_class(r, f));
		put_html(b, r->state);
		sbuf_printf(b,
			    "</td><td>%s</td><td>%s</td><td class=\"n\">%llu</td>"
			    "<td class=\"n\">%llu</td><td>%s</td></tr>\n",
			    metrics_status_name(r->status), seen, (unsigned long long)r->depth,
			    (unsigned long long)r->bytes, oldest);
	}
	sbuf_puts(b, "</table>\n");
}

int metrics_render_status_html(struct metrics *m, uint64_t now_ms, char **out, size_t *len)
{
	struct metrics_snap *s;
	int rc = metrics_snapshot(m, &s);
	if (rc != 0) {
		return rc;
	}
	struct summary y;
	summarize(&y, s, now_ms);
	struct sbuf b = { 0 };
	html_head(&b, &y);
	html_cards(&b, &y);
	html_chart(&b, &y);
	html_errors(&b, &y);
	html_states(&b, &y);
	sbuf_puts(&b, "</body></html>\n");
	metrics_snap_free(s);
	return sbuf_finish(&b, out, len);
}

static void text_attention(struct sbuf *b, const struct summary *y)
{
	const struct metrics_snap *s = y->s;
	char safe[4 * METRICS_STATE_MAX + 1];
	size_t listed = 0;
	if (y->n_unseen + y->n_backlog == 0) {
		return;
	}
	sbuf_puts(b, "attention      ");
	for (size_t i = 0; i < s->n_states && listed < ATTENTION_LIST_MAX; i++) {
		if (state_flags(&s->states[i], y->now_ms) != 0) {
			metrics_printable(safe, sizeof(safe), s->states[i].state);
			sbuf_printf(b, "%s%s", listed > 0 ? " " : "", safe);
			listed++;
		}
	}
	if (y->n_unseen + y->n_backlog > listed) {
		sbuf_puts(b, " ...");
	}
	sbuf_puts(b, "\n");
}

static void text_summary(struct sbuf *b, const struct summary *y)
{
	const struct metrics_snap *s = y->s;
	char name[4 * METRICS_NAME_MAX + 1], when[64], age[32];
	metrics_printable(name, sizeof(name), s->name);
	fmt_utc(when, sizeof(when), y->now_ms);
	fmt_age(age, sizeof(age), y->uptime_ms);
	sbuf_printf(b, "relay          %s\nstatus at      %s\nuptime         %s\n", name, when,
		    age);
	sbuf_printf(b, "audit log      %llu leaves", (unsigned long long)s->log_leaves);
	if (s->ckpt_ms != 0) {
		fmt_age(age, sizeof(age), age_ms(y->now_ms, s->ckpt_ms));
		sbuf_printf(b, "; checkpoint at %llu, %s old\n", (unsigned long long)s->ckpt_size,
			    age);
	} else {
		sbuf_puts(b, "; no checkpoint yet\n");
	}
	sbuf_printf(b, "accepted       %llu in the last minute, %llu in 10 min, %llu since start\n",
		    (unsigned long long)y->accepted_1min, (unsigned long long)y->accepted_10min,
		    (unsigned long long)s->accepted_total);
	sbuf_printf(b, "requests       %llu ok, %llu refused, %llu internal failures\n",
		    (unsigned long long)y->answered, (unsigned long long)y->refused,
		    (unsigned long long)y->internal);
	sbuf_puts(b, "errors 10 min ");
	for (size_t i = 0; i < s->n_errs; i++) {
		uint64_t recent = metrics_snap_err_recent(&s->errs[i], y->now_ms);
		if (recent > 0) {
			sbuf_printf(b, " %s %llu", dx_errname(s->errs[i].code),
				    (unsigned long long)recent);
		}
	}
	sbuf_puts(b, y->errors_10min == 0 ? " none\n" : "\n");
	sbuf_printf(b,
		    "States         %llu; %llu not seen for over 1 h, %llu with backlog over 24 h\n"
		    "mailboxes      %llu envelopes, %llu bytes waiting\n",
		    (unsigned long long)s->n_states, (unsigned long long)y->n_unseen,
		    (unsigned long long)y->n_backlog, (unsigned long long)y->depth_total,
		    (unsigned long long)y->bytes_total);
	text_attention(b, y);
}

int metrics_render_status_text(struct metrics *m, uint64_t now_ms, char **out, size_t *len)
{
	struct metrics_snap *s;
	int rc = metrics_snapshot(m, &s);
	if (rc != 0) {
		return rc;
	}
	struct summary y;
	char safe[4 * METRICS_STATE_MAX + 1], seen[48], oldest[32], line[256];
	summarize(&y, s, now_ms);
	struct sbuf b = { 0 };
	text_summary(&b, &y);
	if (s->n_states > 0) {
		sbuf_printf(&b, "\n%-15s %-10s %-12s %10s %14s %-10s %s\n", "STATE", "STATUS",
			    "LAST SEEN", "BACKLOG", "BYTES", "OLDEST", "FLAGS");
	}
	for (size_t i = 0; i < s->n_states; i++) {
		const struct metrics_state_row *r = &s->states[i];
		unsigned f = state_flags(r, now_ms);
		metrics_printable(safe, sizeof(safe), r->state);
		fmt_last_seen(seen, sizeof(seen), r, now_ms);
		fmt_oldest(oldest, sizeof(oldest), r, now_ms);
		int n = snprintf(line, sizeof(line), "%-15s %-10s %-12s %10llu %14llu %-10s %s %s",
				 safe, metrics_status_name(r->status), seen,
				 (unsigned long long)r->depth, (unsigned long long)r->bytes, oldest,
				 (f & FLAG_UNSEEN) != 0 ? "unseen" : "",
				 (f & FLAG_BACKLOG) != 0 ? "backlog" : "");
		size_t end = n < 0 ? 0 : (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
		while (end > 0 && line[end - 1] == ' ') {
			end--;
		}
		sbuf_putn(&b, line, end);
		sbuf_puts(&b, "\n");
	}
	metrics_snap_free(s);
	return sbuf_finish(&b, out, len);
}

/* json_object_set_new() that remembers a failure instead of returning it. */
static void jset(json_t *o, const char *key, json_t *v, int *bad)
{
	if (v == NULL || json_object_set_new(o, key, v) != 0) {
		*bad = 1;
	}
}

static void jappend(json_t *a, json_t *v, int *bad)
{
	if (v == NULL || json_array_append_new(a, v) != 0) {
		*bad = 1;
	}
}

static json_t *jstr(const char *untrusted)
{
	char safe[4 * METRICS_NAME_MAX + 1];
	metrics_printable(safe, sizeof(safe), untrusted);
	return json_string(safe);
}

static json_t *jnum(uint64_t v)
{
	return json_integer((json_int_t)(v > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : v));
}

static json_t *json_states(const struct summary *y, int *bad)
{
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && i < y->s->n_states; i++) {
		const struct metrics_state_row *r = &y->s->states[i];
		unsigned f = state_flags(r, y->now_ms);
		json_t *o = json_object();
		if (o == NULL) {
			*bad = 1;
			break;
		}
		jset(o, "state", jstr(r->state), bad);
		jset(o, "status", json_string(metrics_status_name(r->status)), bad);
		jset(o, "last_seen_ms", r->last_seen_ms != 0 ? jnum(r->last_seen_ms) : json_null(),
		     bad);
		jset(o, "mailbox_envelopes", jnum(r->depth), bad);
		jset(o, "mailbox_bytes", jnum(r->bytes), bad);
		jset(o, "oldest_undelivered_ms",
		     r->oldest_ms != 0 ? jnum(r->oldest_ms) : json_null(), bad);
		jset(o, "unseen", json_boolean((f & FLAG_UNSEEN) != 0), bad);
		jset(o, "backlog", json_boolean((f & FLAG_BACKLOG) != 0), bad);
		jappend(a, o, bad);
	}
	return a;
}

static json_t *json_errors(const struct summary *y, int *bad)
{
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && i < y->s->n_errs; i++) {
		json_t *o = json_object();
		if (o == NULL) {
			*bad = 1;
			break;
		}
		jset(o, "code", json_string(dx_errname(y->s->errs[i].code)), bad);
		jset(o, "last_10_min", jnum(metrics_snap_err_recent(&y->s->errs[i], y->now_ms)),
		     bad);
		jset(o, "since_start", jnum(y->s->errs[i].total), bad);
		jappend(a, o, bad);
	}
	return a;
}

static json_t *json_summary(const struct summary *y, int *bad)
{
	const struct metrics_snap *s = y->s;
	json_t *o = json_object(), *bins = json_array();
	if (o == NULL || bins == NULL) {
		json_decref(o);
		json_decref(bins);
		*bad = 1;
		return NULL;
	}
	for (size_t i = 0; i < CHART_BINS; i++) {
		jappend(bins, jnum(y->bins[i]), bad);
	}
	jset(o, "relay", jstr(s->name), bad);
	jset(o, "now_ms", jnum(y->now_ms), bad);
	jset(o, "uptime_ms", jnum(y->uptime_ms), bad);
	jset(o, "log_leaves", jnum(s->log_leaves), bad);
	jset(o, "checkpoint_size", jnum(s->ckpt_size), bad);
	jset(o, "checkpoint_ms", s->ckpt_ms != 0 ? jnum(s->ckpt_ms) : json_null(), bad);
	jset(o, "accepted_last_minute", jnum(y->accepted_1min), bad);
	jset(o, "accepted_last_10_min", jnum(y->accepted_10min), bad);
	jset(o, "accepted_since_start", jnum(s->accepted_total), bad);
	jset(o, "throughput_bin_seconds", jnum(CHART_BIN_SECONDS), bad);
	jset(o, "throughput", bins, bad);
	jset(o, "requests_ok", jnum(y->answered), bad);
	jset(o, "requests_refused", jnum(y->refused), bad);
	jset(o, "requests_internal", jnum(y->internal), bad);
	jset(o, "errors_last_10_min", jnum(y->errors_10min), bad);
	jset(o, "errors", json_errors(y, bad), bad);
	jset(o, "states_unseen", jnum(y->n_unseen), bad);
	jset(o, "states_backlog", jnum(y->n_backlog), bad);
	jset(o, "mailbox_envelopes", jnum(y->depth_total), bad);
	jset(o, "mailbox_bytes", jnum(y->bytes_total), bad);
	jset(o, "states", json_states(y, bad), bad);
	return o;
}

int metrics_render_status_json(struct metrics *m, uint64_t now_ms, char **out, size_t *len)
{
	struct metrics_snap *s;
	int rc = metrics_snapshot(m, &s);
	if (rc != 0) {
		return rc;
	}
	struct summary y;
	int bad = 0;
	summarize(&y, s, now_ms);
	json_t *doc = json_summary(&y, &bad);
	char *text = NULL;
	/* Dumped into our own malloc'd buffer, so the caller's free() always matches. */
	const size_t flags = JSON_COMPACT | JSON_PRESERVE_ORDER;
	size_t need = !bad && doc != NULL ? json_dumpb(doc, NULL, 0, flags) : 0;
	if (need > 0 && (text = malloc(need + 1)) != NULL) {
		if (json_dumpb(doc, text, need, flags) == need) {
			text[need] = '\0';
		} else {
			free(text);
			text = NULL;
		}
	}
	json_decref(doc);
	metrics_snap_free(s);
	if (text == NULL) {
		return DX_ENOMEM;
	}
	*out = text;
	*len = need;
	return 0;
}
