/*
 * output.c: what the CLI prints. Errors become one actionable line on stderr
 * (or a JSON object with --json) and an exit status from one table; results
 * are aligned "label: value" lines, or one JSON object on stdout. Text that
 * came from another State is escaped before it reaches a terminal.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* The one map from error codes to exit statuses; docs/cli.md lists it. */
static const struct {
	int err;
	int status;
} exit_table[] = {
	{ DX_ENOMEM, CLI_EXIT_FAILED },
	{ DX_EIO, CLI_EXIT_FAILED },
	{ DX_ENOSPC, CLI_EXIT_FAILED },
	{ DX_EINVAL, CLI_EXIT_USAGE },
	{ DX_EPARSE, CLI_EXIT_REFUSED },
	{ DX_ETOOBIG, CLI_EXIT_REFUSED },
	{ DX_ENOENT, CLI_EXIT_NOTSETUP },
	{ DX_EEXIST, CLI_EXIT_FAILED },
	{ DX_ECRYPTO, CLI_EXIT_FAILED },
	{ DX_ESTATE_CODE, CLI_EXIT_USAGE },
	{ DX_EKEYFILE_PERM, CLI_EXIT_KEYFILE },
	{ DX_EPASSPHRASE, CLI_EXIT_KEYFILE },
	{ DX_EKEYFILE_CORRUPT, CLI_EXIT_KEYFILE },
	{ DX_EKEYFILE_VERSION, CLI_EXIT_KEYFILE },
	{ DX_ENO_PASSPHRASE, CLI_EXIT_KEYFILE },
	{ DX_ESIG, CLI_EXIT_REFUSED },
	{ DX_EROSTER, CLI_EXIT_REFUSED },
	{ DX_ESUITE, CLI_EXIT_REFUSED },
	{ DX_ERECIPIENT, CLI_EXIT_REFUSED },
	{ DX_EPREKEY_UNKNOWN, CLI_EXIT_REFUSED },
	{ DX_EPREKEY_ERASED, CLI_EXIT_REFUSED },
	{ DX_EPREKEY_EXPIRED, CLI_EXIT_REFUSED },
	{ DX_EOUTER_SIG, CLI_EXIT_REFUSED },
	{ DX_EINNER_SIG, CLI_EXIT_REFUSED },
	{ DX_EDECRYPT, CLI_EXIT_REFUSED },
	{ DX_EREPLAY, CLI_EXIT_REFUSED },
	{ DX_ECOMMIT, CLI_EXIT_REFUSED },
	{ DX_EDH, CLI_EXIT_REFUSED },
	{ DX_ESTALE, CLI_EXIT_REFUSED },
	{ DX_ESENDER, CLI_EXIT_REFUSED },
	{ DX_EATT_TRUNCATED, CLI_EXIT_REFUSED },
	{ DX_EATT_CORRUPT, CLI_EXIT_REFUSED },
	{ DX_EATT_TRAILING, CLI_EXIT_REFUSED },
	{ DX_EATT_HASH, CLI_EXIT_REFUSED },
	{ DX_EPROOF, CLI_EXIT_REFUSED },
	{ DX_ELOG_INCONSISTENT, CLI_EXIT_REFUSED },
	/* The daemon: not running is a failure of the environment; a user
	 * without a role, or a key change nobody has verified, is a refusal. */
	{ DX_ENODAEMON, CLI_EXIT_FAILED },
	{ DX_EFORBIDDEN, CLI_EXIT_REFUSED },
	{ DX_EKEY_CHANGED, CLI_EXIT_REFUSED },
	{ DX_EAMBIGUOUS, CLI_EXIT_USAGE },
	/* Casework rules: a late notice without a reason, an export without consent. */
	{ DX_ELATE_NOTICE, CLI_EXIT_REFUSED },
	{ DX_ENO_CONSENT, CLI_EXIT_REFUSED },
	/* Network errors and the relay's refusals of a request: status 1. */
};

int cli_exit_for(int dx_err)
{
	if (dx_err == DX_OK) {
		return CLI_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(exit_table) / sizeof(exit_table[0]); i++) {
		if (exit_table[i].err == dx_err) {
			return exit_table[i].status;
		}
	}
	return CLI_EXIT_FAILED;
}

static void report(struct cli *c, const char *name, const char *msg)
{
	if (c->json) {
		json_t *j = json_pack("{s:s, s:s}", "error", name, "message", msg);
		if (j != NULL) {
			json_dumpf(j, stderr, JSON_COMPACT);
			fputc('\n', stderr);
			json_decref(j);
			return;
		}
	}
	fprintf(stderr, "divex: %s\n", msg);
}

int cli_error(struct cli *c, int dx_err, const char *fmt, ...)
{
	char what[1024], msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "%s: %s", what, dx_strerror(dx_err));
	report(c, dx_errname(dx_err), msg);
	return cli_exit_for(dx_err);
}

int cli_fail(struct cli *c, int status, const char *name, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report(c, name, msg);
	return status;
}

int cli_usage(struct cli *c, const char *fmt, ...)
{
	char what[1024], msg[1400];
	const char *cmd = c->cmd != NULL ? c->cmd : "";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "%s%s%s (see 'divex %s%s--help')", cmd, cmd[0] ? ": " : "", what,
		 cmd, cmd[0] ? " " : "");
	report(c, "usage", msg);
	return CLI_EXIT_USAGE;
}

void cli_time(char out[static CLI_TIME_LEN], uint64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if ((uint64_t)t != ms / 1000 || gmtime_r(&t, &tm) == NULL ||
	    strftime(out, CLI_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		snprintf(out, CLI_TIME_LEN, "@%llu ms", (unsigned long long)ms);
	}
}

void cli_progress_init(struct cli *c, struct cli_progress *p, const char *label)
{
	p->enabled = !c->json && isatty(STDERR_FILENO);
	p->label = label;
	p->last = -1;
}

void cli_progress_cb(void *ctx, uint64_t done, uint64_t total)
{
	struct cli_progress *p = ctx;
	if (!p->enabled || total == 0) {
		return;
	}
	int pct = done >= total ? 100 : (int)(done * 100 / total);
	if (pct == p->last) {
		return;
	}
	p->last = pct;
	char bar[21];
	int fill = pct / 5;
	for (int i = 0; i < 20; i++) {
		bar[i] = i < fill ? '#' : '.';
	}
	bar[20] = '\0';
	fprintf(stderr, "\r%s [%s] %3d%%", p->label, bar, pct);
	fflush(stderr);
}

void cli_progress_done(struct cli_progress *p)
{
	if (p->enabled && p->last >= 0) {
		fputc('\n', stderr);
	}
}

/* Structured output. */

static json_t *cur(struct out *o)
{
	return o->depth > 0 ? (json_t *)o->stack[o->depth - 1] : NULL;
}

static char cur_kind(struct out *o)
{
	return o->depth > 0 ? o->kind[o->depth - 1] : 'o';
}

void out_init(struct out *o, struct cli *c)
{
	memset(o, 0, sizeof(*o));
	o->json = c->json;
	if (o->json) {
		o->stack[0] = json_object();
		o->kind[0] = 'o';
		o->depth = 1;
		o->failed = o->stack[0] == NULL;
	}
}

static void flush_pending(struct out *o)
{
	if (o->pending != NULL) {
		printf("%*s%s:\n", o->indent - 4, "", o->pending);
		o->pending = NULL;
	}
}

static void json_put(struct out *o, const char *key, json_t *v)
{
	json_t *parent = cur(o);
	if (v == NULL || parent == NULL) {
		o->failed = 1;
		json_decref(v);
		return;
	}
	int rc = json_is_array(parent) ? json_array_append_new(parent, v)
				       : json_object_set_new(parent, key, v);
	if (rc != 0) {
		o->failed = 1;
	}
}

/* True while a table is printing in text mode: lines then become cells. */
static int in_table(const struct out *o)
{
	return !o->json && o->cols != NULL && o->depth >= o->table_depth;
}

static void set_cell(struct out *o, const char *key, const char *value)
{
	if (o->depth != o->table_depth + 1 || key == NULL) {
		return;
	}
	for (size_t i = 0; i < o->n_cols; i++) {
		if (strcmp(o->cols[i].key, key) == 0) {
			free(o->cells[i]);
			o->cells[i] = strdup(value);
			o->failed |= o->cells[i] == NULL;
			return;
		}
	}
}

static void text_line(struct out *o, const char *key, const char *label, const char *value)
{
	char lab[128];
	if (in_table(o)) {
		set_cell(o, key, value);
		return;
	}
	flush_pending(o);
	if (cur_kind(o) == 'l') {
		printf("%*s- %s\n", o->indent - 2, "", value);
		return;
	}
	if (o->item_start) {
		printf("%*s- ", o->indent - 2, "");
		o->item_start = 0;
	} else {
		printf("%*s", o->indent, "");
	}
	snprintf(lab, sizeof(lab), "%s:", label);
	int width = 24 - o->indent;
	printf("%-*s %s\n", width > 0 ? width : 0, lab, value);
}

void out_str(struct out *o, const char *key, const char *label, const char *value)
{
	if (o->json) {
		json_put(o, key, json_string(value));
	} else {
		text_line(o, key, label, value);
	}
}

static char *escape_alloc(const char *raw, size_t len)
{
	if (len > (SIZE_MAX - 1) / 4) {
		return NULL;
	}
	char *e = malloc(4 * len + 1);
	if (e != NULL) {
		dx_escape_text(e, 4 * len + 1, raw, len);
	}
	return e;
}

static json_t *json_untrusted(const char *raw, size_t len)
{
	/* jansson refuses invalid UTF-8; such text is shown escaped instead. */
	json_t *j = json_stringn(raw, len);
	if (j == NULL) {
		char *e = escape_alloc(raw, len);
		if (e != NULL) {
			j = json_string(e);
			free(e);
		}
	}
	return j;
}

void out_text(struct out *o, const char *key, const char *label, const char *raw, size_t len)
{
	if (o->json) {
		json_put(o, key, json_untrusted(raw, len));
		return;
	}
	char *e = escape_alloc(raw, len);
	text_line(o, key, label, e != NULL ? e : "(out of memory)");
	free(e);
}

void out_block(struct out *o, const char *key, const char *label, const char *raw, size_t len)
{
	if (o->json) {
		json_put(o, key, json_untrusted(raw, len));
		return;
	}
	if (in_table(o)) {
		return;
	}
	flush_pending(o);
	printf("%*s%s:\n", o->indent, "", label);
	size_t start = 0;
	while (start < len) {
		const char *nl = memchr(raw + start, '\n', len - start);
		size_t end = nl != NULL ? (size_t)(nl - raw) : len;
		char *e = escape_alloc(raw + start, end - start);
		printf("%*s  %s\n", o->indent, "", e != NULL ? e : "(out of memory)");
		free(e);
		start = end + 1;
	}
}

void out_u64(struct out *o, const char *key, const char *label, uint64_t v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	if (o->json) {
		/* Most JSON readers hold numbers exactly only up to 2^53: larger
		 * values (a sequence number can be) go out as decimal strings. */
		json_put(o, key,
			 v <= (1ull << 53) ? json_integer((json_int_t)v) : json_string(buf));
		return;
	}
	text_line(o, key, label, buf);
}

void out_bool(struct out *o, const char *key, const char *label, int v)
{
	if (o->json) {
		json_put(o, key, json_boolean(v));
	} else {
		text_line(o, key, label, v ? "yes" : "no");
	}
}

void out_hex(struct out *o, const char *key, const char *label, const uint8_t *b, size_t len)
{
	char small[2 * 64 + 1];
	char *buf = small;
	if (len > 64 && (len > (SIZE_MAX - 1) / 2 || (buf = malloc(2 * len + 1)) == NULL)) {
		o->failed = 1;
		return;
	}
	dx_hex(buf, b, len);
	out_str(o, key, label, buf);
	if (buf != small) {
		free(buf);
	}
}

void out_json_hex(struct out *o, const char *key, const uint8_t *b, size_t len)
{
	if (o->json) {
		out_hex(o, key, NULL, b, len);
	}
}

void out_ms(struct out *o, const char *key, const char *label, uint64_t ms, const char *if_zero)
{
	if (o->json) {
		out_u64(o, key, label, ms);
	} else if (ms == 0 && if_zero != NULL) {
		text_line(o, key, label, if_zero);
	} else {
		out_time(o, key, label, ms);
	}
}

void out_err(struct out *o, const char *key, const char *label, int code)
{
	if (o->json) {
		json_put(o, key, json_integer(code));
	} else {
		text_line(o, key, label, code == 0 ? "none" : dx_errname(code));
	}
}

void out_time(struct out *o, const char *key, const char *label, uint64_t ms)
{
	char buf[CLI_TIME_LEN];
	cli_time(buf, ms);
	out_str(o, key, label, buf);
}

void out_note(struct out *o, const char *fmt, ...)
{
	if (o->json || in_table(o)) {
		return;
	}
	flush_pending(o);
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void push(struct out *o, const char *key, char kind, json_t *j)
{
	if (o->depth >= OUT_MAX_DEPTH) {
		o->failed = 1;
		json_decref(j);
		return;
	}
	if (o->json) {
		json_incref(j);
		json_put(o, key, j);
	}
	o->stack[o->depth] = j;
	o->kind[o->depth] = kind;
	o->depth++;
}

static void pop(struct out *o)
{
	if (o->depth > 0) {
		o->depth--;
		json_decref(o->stack[o->depth]);
	}
}

void out_list_begin(struct out *o, const char *key, const char *label)
{
	if (!o->json && !in_table(o)) {
		flush_pending(o);
		o->indent += 4;
		o->pending = label;
	}
	push(o, key, 'l', o->json ? json_array() : NULL);
}

void out_list_end(struct out *o)
{
	if (!o->json && !in_table(o)) {
		o->indent -= 4;
		if (o->pending != NULL) {
			char lab[128];
			snprintf(lab, sizeof(lab), "%s:", o->pending);
			printf("%*s%-*s none\n", o->indent, "", 24 - o->indent, lab);
			o->pending = NULL;
		}
	}
	pop(o);
}

void out_item_begin(struct out *o)
{
	if (!o->json && !in_table(o)) {
		flush_pending(o);
		o->item_start = 1;
	}
	push(o, NULL, 'i', o->json ? json_object() : NULL);
}

static void print_row(struct out *o, const char *const *cells)
{
	printf("%*s", o->indent, "");
	for (size_t i = 0; i < o->n_cols; i++) {
		const char *v = cells[i] != NULL ? cells[i] : "";
		int w = o->cols[i].width;
		if (i + 1 < o->n_cols) {
			printf("%-*.*s  ", w, w, v);
		} else {
			printf("%s\n", v);
		}
	}
}

void out_item_end(struct out *o)
{
	o->item_start = 0;
	if (in_table(o) && o->depth == o->table_depth + 1) {
		if (o->rows++ == 0) {
			const char *head[OUT_MAX_COLS];
			for (size_t i = 0; i < o->n_cols; i++) {
				head[i] = o->cols[i].heading;
			}
			print_row(o, head);
		}
		print_row(o, (const char *const *)o->cells);
		for (size_t i = 0; i < o->n_cols; i++) {
			free(o->cells[i]);
			o->cells[i] = NULL;
		}
	}
	pop(o);
}

void out_table_begin(struct out *o, const char *key, const char *empty, const struct out_col *cols,
		     size_t n_cols)
{
	push(o, key, 'l', o->json ? json_array() : NULL);
	if (!o->json && o->cols == NULL) {
		flush_pending(o);
		o->cols = cols;
		o->n_cols = n_cols < OUT_MAX_COLS ? n_cols : OUT_MAX_COLS;
		o->table_depth = o->depth;
		o->rows = 0;
		o->table_empty = empty;
	}
}

void out_table_end(struct out *o)
{
	if (!o->json && o->cols != NULL && o->depth == o->table_depth) {
		if (o->rows == 0 && o->table_empty != NULL) {
			printf("%*s%s\n", o->indent, "", o->table_empty);
		}
		o->cols = NULL;
	}
	pop(o);
}

void out_cell(struct out *o, const char *key, const char *value)
{
	if (in_table(o)) {
		set_cell(o, key, value);
	}
}

void out_obj_begin(struct out *o, const char *key, const char *label)
{
	if (!o->json && label != NULL && !in_table(o)) {
		flush_pending(o);
		printf("%*s%s:\n", o->indent, "", label);
		o->indent += 2;
	}
	push(o, key, label != NULL ? 'o' : 'O', o->json ? json_object() : NULL);
}

void out_obj_end(struct out *o)
{
	if (!o->json && cur_kind(o) == 'o' && !in_table(o)) {
		o->indent -= 2;
	}
	pop(o);
}

int out_finish(struct out *o, struct cli *c)
{
	int status = CLI_EXIT_OK;
	if (o->json) {
		json_t *root = o->depth > 0 ? (json_t *)o->stack[0] : NULL;
		if (o->failed || root == NULL ||
		    json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
			status = cli_error(c, DX_ENOMEM, "building the JSON output");
		} else {
			putchar('\n');
		}
	}
	out_discard(o);
	if (fflush(stdout) != 0 && status == CLI_EXIT_OK) {
		status = cli_error(c, DX_EIO, "writing to standard output");
	}
	return status;
}

void out_discard(struct out *o)
{
	while (o->depth > 0) {
		pop(o);
	}
	for (size_t i = 0; i < OUT_MAX_COLS; i++) {
		free(o->cells[i]);
		o->cells[i] = NULL;
	}
	o->cols = NULL;
}
