/*
 * netfix.c: see netfix.h.
 */
#include "netfix.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "error.h"
#include "testlib.h"

#define BLOCK (1024 * 1024)

int fnet_full(void)
{
	const char *v = getenv("DIVEX_FAULTS_FULL");
	return v != NULL && strcmp(v, "1") == 0;
}

void fnet_figure(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "fault_net: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

void fnet_path(char *buf, size_t size, const char *dir, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= size) {
		fail_msg("the path %s/%s is too long", dir, name);
	}
}

/* ---- the network ---- */

struct proxied {
	struct fnet *f;
	unsigned mask;
};

/* Routes the node's relay URL through a fault proxy of its own. */
static void route_through_proxy(struct tnet *t, struct tnode *node, int i, void *arg)
{
	struct proxied *p = arg;
	char url[128];
	if ((p->mask & (1u << i)) == 0) {
		return;
	}
	assert_dx_ok(fproxy_start(t->relay.port, 1000 + (unsigned)i, &p->f->px[i]));
	snprintf(url, sizeof(url), "%s://127.0.0.1:%d", t->use_tls ? "tls+tcp" : "tcp",
		 fproxy_port(p->f->px[i]));
	tnode_conf_set(node, "relay", "url", url);
}

void fnet_setup(struct fnet *f, const char *dir_name, int use_tls, const char *const states[],
		int n, unsigned proxied)
{
	struct proxied p = { f, proxied };
	memset(f, 0, sizeof(*f));
	tnet_setup_with(&f->t, dir_name, use_tls, states, n, route_through_proxy, &p);
}

void fnet_teardown(struct fnet *f)
{
	tnet_teardown(&f->t);
	for (int i = 0; i < TN_NODES_MAX; i++) {
		fproxy_stop(f->px[i]);
		f->px[i] = NULL;
	}
}

void fnet_calm(struct fnet *f)
{
	static const struct fproxy_shape plain = { 0 };
	for (int i = 0; i < TN_NODES_MAX; i++) {
		if (f->px[i] != NULL) {
			fproxy_flap(f->px[i], 0, 0);
			fproxy_set_shape(f->px[i], &plain);
			fproxy_set_mode(f->px[i], FPROXY_PASS);
		}
	}
}

struct fproxy *fnet_proxy(struct fnet *f, int i)
{
	if (i < 0 || i >= TN_NODES_MAX || f->px[i] == NULL) {
		fail_msg("node %d has no proxy", i);
	}
	return f->px[i];
}

/* ---- messages ---- */

static json_t *inbox_all(struct fnet *f, const struct tnode *n)
{
	return TN_CLI_OK(&f->t, n, "inbox", "--limit", "1000");
}

/*
 * Counts, per index, the messages "<tag> <i>." from sender in an inbox
 * answer; returns how many indexes below count are present (and
 * acknowledged, with acked set).
 */
static int count_tagged(const json_t *inbox, const char *sender, const char *tag, int count,
			int acked, int seen[])
{
	json_t *items = json_object_get(inbox, "items");
	size_t tl = strlen(tag);
	int have = 0;
	memset(seen, 0, sizeof(int) * (size_t)count);
	for (size_t i = 0; i < json_array_size(items); i++) {
		json_t *it = json_array_get(items, i);
		const char *sum = tj_str(it, "summary");
		const char *at = strstr(sum, tag);
		if (strcmp(tj_str(it, "sender"), sender) != 0 || at == NULL || at[tl] != ' ') {
			continue;
		}
		char *end;
		long k = strtol(at + tl + 1, &end, 10);
		if (*end != '.' || k < 0 || k >= count) {
			continue;
		}
		if (seen[k]++ == 0 &&
		    (!acked || json_is_true(json_object_get(it, "acknowledged")))) {
			have++;
		}
	}
	return have;
}

void fnet_wait_all(struct fnet *f, const struct tnode *to, const char *sender, const char *tag,
		   int count, int acked, long deadline_ms)
{
	static int seen[NF_COUNT_MAX];
	long end = tn_now_ms() + deadline_ms;
	int have = 0;
	assert_true(count <= NF_COUNT_MAX);
	for (;;) {
		json_t *j = inbox_all(f, to);
		have = count_tagged(j, sender, tag, count, acked, seen);
		json_decref(j);
		if (have == count || tn_now_ms() >= end) {
			break;
		}
		tn_pause();
	}
	if (have != count) {
		TN_FAIL(&f->t, "%s: %d of %d messages \"%s\" from %s after %ld ms", to->state, have,
			count, tag, sender, deadline_ms);
	}
	for (int i = 0; i < count; i++) {
		if (seen[i] != 1) {
			TN_FAIL(&f->t, "%s: message \"%s %d.\" from %s is there %d times",
				to->state, tag, i, sender, seen[i]);
		}
	}
}

void fnet_wait_receipted(struct fnet *f, const struct tnode *from, char ids[][33], int count,
			 long deadline_ms)
{
	long end = tn_now_ms() + deadline_ms;
	int done = 0;
	do {
		json_t *j = TN_CLI_OK(&f->t, from, "outbox", "--limit", "1000");
		json_t *items = json_object_get(j, "items");
		done = 0;
		for (int k = 0; k < count; k++) {
			for (size_t i = 0; i < json_array_size(items); i++) {
				json_t *it = json_array_get(items, i);
				if (strcmp(tj_str(it, "message_id"), ids[k]) == 0) {
					done += strcmp(tj_str(it, "state"), "receipted") == 0;
					break;
				}
			}
		}
		json_decref(j);
		if (done == count) {
			return;
		}
		tn_pause();
	} while (tn_now_ms() < end);
	TN_FAIL(&f->t, "%s: %d of %d messages receipted after %ld ms", from->state, done, count,
		deadline_ms);
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

void fnet_check_sequences(struct fnet *f, const struct tnode *n, const char *sender)
{
	static long long seq[1000];
	json_t *j = inbox_all(f, n);
	json_t *items = json_object_get(j, "items");
	size_t got = 0;
	for (size_t i = 0; i < json_array_size(items) && got < 1000; i++) {
		json_t *it = json_array_get(items, i);
		if (strcmp(tj_str(it, "sender"), sender) == 0) {
			seq[got++] = tj_int(it, "sequence");
		}
	}
	qsort(seq, got, sizeof(seq[0]), cmp_ll);
	for (size_t i = 0; i < got; i++) {
		if (seq[i] != (long long)i + 1) {
			TN_FAIL(&f->t,
				"%s: from %s, sequence %lld where %zu was expected (%zu messages)",
				n->state, sender, seq[i], i + 1, got);
		}
	}
	json_t *gaps = json_object_get(j, "gaps");
	for (size_t i = 0; i < json_array_size(gaps); i++) {
		json_t *g = json_array_get(gaps, i);
		if (strcmp(tj_str(g, "peer"), sender) == 0) {
			TN_FAIL(&f->t, "%s: gap %lld..%lld from %s", n->state, tj_int(g, "first"),
				tj_int(g, "last"), sender);
		}
	}
	json_decref(j);
}

/* How many files pid holds open (-1 if it cannot be told). */
static int open_fds(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (d == NULL) {
		return -1;
	}
	int n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		n += e->d_name[0] != '.';
	}
	closedir(d);
	return n;
}

void fnet_check_health(struct fnet *f)
{
	struct tnet *t = &f->t;
	if (!t->relay.running || kill(t->relay.proc.pid, 0) != 0) {
		TN_FAIL(t, "the relay is not running");
	}
	for (int i = 0; i < t->n_nodes; i++) {
		const struct tnode *n = &t->nodes[i];
		json_t *s = TN_CLI_OK(t, n, "status");
		size_t alarms = json_array_size(json_object_get(s, "alarms"));
		size_t gaps = json_array_size(json_object_get(s, "gaps"));
		long long failed = tj_int(s, "outbox_failed");
		json_decref(s);
		if (alarms != 0 || gaps != 0 || failed > 0) {
			TN_FAIL(t, "%s: status shows %zu alarms, %zu gaps, %lld failed messages",
				n->state, alarms, gaps, failed);
		}
		if (proc_log_count(&n->proc, "ALARM") != 0) {
			TN_FAIL(t, "%s: its log holds an ALARM", n->state);
		}
		/*
		 * A wedged nng stops reaping closed pipes, and every divex command
		 * then leaves a descriptor behind in the daemon: a few dozen is
		 * normal, hundreds are a leak.
		 */
		int fds = open_fds(n->proc.pid);
		if (fds > NF_FDS_MAX) {
			TN_FAIL(t, "%s: divexd holds %d open files (at most %d expected)", n->state,
				fds, NF_FDS_MAX);
		}
	}
}

void fnet_find(struct fnet *f, const struct tnode *n, const char *sender, const char *subject,
	       char envelope_id[33])
{
	json_t *j = inbox_all(f, n);
	json_t *items = json_object_get(j, "items");
	envelope_id[0] = '\0';
	for (size_t i = 0; i < json_array_size(items); i++) {
		json_t *it = json_array_get(items, i);
		if (strcmp(tj_str(it, "sender"), sender) == 0 &&
		    strstr(tj_str(it, "summary"), subject) != NULL) {
			snprintf(envelope_id, 33, "%s", tj_str(it, "envelope_id"));
			break;
		}
	}
	json_decref(j);
}

/* ---- files ---- */

void fnet_big_file(const char *path, uint64_t size, unsigned seed)
{
	uint8_t *b = malloc(BLOCK);
	uint64_t x = 0x9e3779b97f4a7c15ull ^ seed;
	assert_non_null(b);
	for (size_t i = 0; i < BLOCK; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b[i] = (uint8_t)(x >> 24);
	}
	FILE *out = fopen(path, "wb");
	assert_non_null(out);
	for (uint64_t done = 0, k = 0; done < size; k++) {
		/* Every block differs: its number is written into its first bytes. */
		memcpy(b, &k, sizeof(k));
		size_t n = size - done < BLOCK ? (size_t)(size - done) : BLOCK;
		assert_int_equal(fwrite(b, 1, n, out), n);
		done += n;
	}
	assert_int_equal(fclose(out), 0);
	free(b);
}

int fnet_same_file(const char *a, const char *b)
{
	FILE *x = fopen(a, "rb"), *y = fopen(b, "rb");
	uint8_t *p = malloc(BLOCK), *q = malloc(BLOCK);
	int same = x != NULL && y != NULL && p != NULL && q != NULL;
	while (same) {
		size_t n = fread(p, 1, BLOCK, x), m = fread(q, 1, BLOCK, y);
		same = n == m && memcmp(p, q, n) == 0;
		if (n < BLOCK) {
			break;
		}
	}
	if (x != NULL) {
		fclose(x);
	}
	if (y != NULL) {
		fclose(y);
	}
	free(p);
	free(q);
	return same;
}

uint64_t fnet_free_bytes(const char *path)
{
	struct statvfs v;
	if (statvfs(path, &v) != 0) {
		return 0;
	}
	return (uint64_t)v.f_bavail * v.f_frsize;
}
