/*
 * crash_check.c: the crash campaign's accounting, once every process is up
 * again (crash_campaign.h).
 *
 * The truth is in two places: what each sender's outbox holds (every
 * message divex confirmed must be there, and must end receipted), and what
 * each recipient's inbox holds (every receipted copy exactly once, with the
 * sender's sequence numbers 1..N each once and no gap). Every copy
 * received is then read back through `divex read --save` and compared with
 * the text and attachment regenerated from the seed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crash_campaign.h"
#include "testlib.h"

#define PAGE 1000
#define SETTLE_POLL_MS 500
/* Reads run a few at a time: the daemon answers one while the CLI decrypts another. */
#define READ_PARALLEL 3

struct listing {
	json_t *items; /* every item, all pages */
	json_t *gaps;  /* the first page's gaps (inbox only) */
};

/* `divex outbox` or `divex inbox`, every page. */
static void list_all(struct crash_run *c, const struct tnode *n, const char *what,
		     struct listing *l)
{
	char limit[16], offset[16];
	l->items = json_array();
	l->gaps = NULL;
	snprintf(limit, sizeof(limit), "%d", PAGE);
	for (int off = 0;; off += PAGE) {
		snprintf(offset, sizeof(offset), "%d", off);
		json_t *j =
			TN_CLI_OK(c->net, n, (char *)what, "--limit", limit, "--offset", offset);
		json_t *items = json_object_get(j, "items");
		size_t got = json_array_size(items);
		json_array_extend(l->items, items);
		if (l->gaps == NULL) {
			l->gaps = json_incref(json_object_get(j, "gaps"));
		}
		json_decref(j);
		if (got < PAGE) {
			break;
		}
	}
}

static void listing_free(struct listing *l)
{
	json_decref(l->items);
	json_decref(l->gaps);
	l->items = l->gaps = NULL;
}

/* The message number in an inbox summary "[H0] crash-msg <i>", or -1. */
static int summary_msg(const struct crash_run *c, const char *summary)
{
	const char *at = strstr(summary, CRASH_SUBJECT);
	if (at == NULL) {
		return -1;
	}
	char *end;
	long i = strtol(at + strlen(CRASH_SUBJECT), &end, 10);
	return *end == '\0' && i >= 0 && i < c->n_msgs ? (int)i : -1;
}

int crash_wait_settled(struct crash_run *c, int deadline_ms)
{
	long end = tn_now_ms() + deadline_ms;
	struct tnet *t = c->net;
	for (;;) {
		int settled = 1;
		json_t *want[CRASH_NODES] = { NULL };
		for (int r = CRASH_SENDERS; r < CRASH_NODES; r++) {
			want[r] = json_object();
		}
		for (int s = 0; s < CRASH_SENDERS; s++) {
			struct listing out;
			size_t i;
			json_t *it;
			list_all(c, &t->nodes[s], "outbox", &out);
			for (i = 0; i < json_array_size(out.items); i++) {
				it = json_array_get(out.items, i);
				const char *st = tj_str(it, "state");
				if (strcmp(st, "failed") == 0) {
					TN_FAIL(t,
						"%s: message %s to %s failed for good: error %lld",
						t->nodes[s].state, tj_str(it, "message_id"),
						tj_str(it, "recipient"), tj_int(it, "last_error"));
				}
				if (strcmp(st, "receipted") != 0) {
					settled = 0;
					continue;
				}
				for (int r = CRASH_SENDERS; r < CRASH_NODES; r++) {
					if (strcmp(tj_str(it, "recipient"), t->nodes[r].state) ==
					    0) {
						json_object_set_new(want[r],
								    tj_str(it, "envelope_id"),
								    json_true());
					}
				}
			}
			listing_free(&out);
		}
		/* Settled when every recipient holds the receipt of its own
		 * acknowledgement (a node whose receipt was lost acknowledges
		 * again once the relay lists nothing: node_inbox.c). */
		for (int r = CRASH_SENDERS; r < CRASH_NODES && settled; r++) {
			struct listing in;
			size_t i, acked = 0;
			json_t *it;
			list_all(c, &t->nodes[r], "inbox", &in);
			for (i = 0; i < json_array_size(in.items); i++) {
				it = json_array_get(in.items, i);
				const char *env = tj_str(it, "envelope_id");
				acked += json_object_get(want[r], env) != NULL &&
					 json_is_true(json_object_get(it, "acknowledged"));
			}
			settled = acked == json_object_size(want[r]);
			listing_free(&in);
		}
		for (int r = CRASH_SENDERS; r < CRASH_NODES; r++) {
			json_decref(want[r]);
		}
		if (settled) {
			return 0;
		}
		if (tn_now_ms() > end) {
			return -1;
		}
		struct timespec ts = { 0, SETTLE_POLL_MS * 1000L * 1000L };
		nanosleep(&ts, NULL); /* polling interval, not a synchronisation */
	}
}

/* ---- one copy's bytes ---- */

struct copy {
	int receiver, msg;
	char envelope_id[129];
	pid_t pid;
	char tag[48];
	char save[700];
};

static void copy_start(struct crash_run *c, struct copy *k)
{
	snprintf(k->tag, sizeof(k->tag), "check/r%d", k->msg);
	snprintf(k->save, sizeof(k->save), "%s/check/%d-%s", c->dir, k->msg, k->envelope_id);
	k->pid = crash_cli_start(c, &c->net->nodes[k->receiver],
				 TN_ARGS("read", k->envelope_id, "--save", k->save), k->tag);
}

/* Whether the answer to `divex read` is message k->msg, byte for byte. */
static int copy_same(struct crash_run *c, const struct copy *k, json_t *j, char why[256])
{
	const struct crash_msg *m = &c->msgs[k->msg];
	json_t *p = json_object_get(j, "payload");
	json_t *atts = json_object_get(p, "attachments");
	char subject[48], ref[700], name[32];
	snprintf(subject, sizeof(subject), CRASH_SUBJECT "%d", k->msg);
	if (strcmp(tj_str(j, "sender"), c->net->nodes[m->sender].state) != 0 ||
	    strcmp(tj_str(p, "subject"), subject) != 0) {
		snprintf(why, 256, "sender %s, subject \"%.40s\"", tj_str(j, "sender"),
			 tj_str(p, "subject"));
		return 0;
	}
	char *text = crash_text(c, k->msg);
	int same_text = strcmp(tj_str(p, "text"), text) == 0;
	free(text);
	if (!same_text) {
		snprintf(why, 256, "the text differs (%zu bytes, want %zu)",
			 strlen(tj_str(p, "text")), m->text_len);
		return 0;
	}
	if (json_array_size(atts) != (m->att_len > 0 ? 1u : 0u)) {
		snprintf(why, 256, "%zu attachments", json_array_size(atts));
		return 0;
	}
	if (m->att_len == 0) {
		return 1;
	}
	json_t *a = json_array_get(atts, 0);
	crash_att_name(k->msg, name);
	if (strcmp(tj_str(a, "name"), name) != 0 || tj_int(a, "size") != (long long)m->att_len) {
		snprintf(why, 256, "attachment %.40s of %lld bytes", tj_str(a, "name"),
			 tj_int(a, "size"));
		return 0;
	}
	char dir[700];
	snprintf(dir, sizeof(dir), "%s/check", c->dir);
	crash_att_write(c, k->msg, dir, ref);
	int same = tfile_same(ref, tj_str(a, "saved_to"));
	unlink(ref);
	if (!same) {
		snprintf(why, 256, "the attachment's bytes differ from those sent");
	}
	return same;
}

static void copy_end(struct crash_run *c, struct copy *k, struct crash_tally *t)
{
	struct tcli r;
	char why[256] = "";
	crash_cli_collect(c, k->pid, k->tag, &r);
	struct crash_msg *m = &c->msgs[k->msg];
	if (r.status != 0 || r.json == NULL) {
		m->unreadable = 1;
		snprintf(why, sizeof(why), "divex read: status %d: %.200s", r.status, r.err);
	} else if (!copy_same(c, k, r.json, why)) {
		m->corrupted = 1;
	}
	if (why[0] != '\0') {
		fprintf(stderr, "crash: message %d, copy %s in %s: %s\n", k->msg, k->envelope_id,
			c->net->nodes[k->receiver].state, why);
	}
	t->contents_checked++;
	t->attachments_checked += m->att_len > 0;
	/* The saved attachment is compared: it goes now, and its directory too. */
	char name[32], path[800];
	crash_att_name(k->msg, name);
	snprintf(path, sizeof(path), "%s/%s", k->save, name);
	unlink(path);
	rmdir(k->save);
	tcli_free(&r);
}

/* Reads every copy in copies, a few at a time. */
static void check_copies(struct crash_run *c, struct copy *copies, size_t n, struct crash_tally *t)
{
	char dir[700];
	snprintf(dir, sizeof(dir), "%s/check", c->dir);
	mkdir(dir, 0700);
	for (size_t i = 0; i < n; i += READ_PARALLEL) {
		size_t k, lim = i + READ_PARALLEL < n ? i + READ_PARALLEL : n;
		for (k = i; k < lim; k++) {
			copy_start(c, &copies[k]);
		}
		for (k = i; k < lim; k++) {
			copy_end(c, &copies[k], t);
		}
	}
}

/* ---- the accounting ---- */

/* Every outbox item by envelope id and by message id, with its sender. */
static void index_outboxes(struct crash_run *c, json_t *by_env, json_t *by_id,
			   struct crash_tally *t)
{
	for (int s = 0; s < CRASH_SENDERS; s++) {
		struct listing out;
		size_t i;
		json_t *it;
		list_all(c, &c->net->nodes[s], "outbox", &out);
		for (i = 0; i < json_array_size(out.items); i++) {
			it = json_array_get(out.items, i);
			json_object_set_new(it, "from", json_integer(s));
			json_object_set(by_id, tj_str(it, "message_id"), it);
			if (tj_str(it, "envelope_id")[0] != '\0') {
				json_object_set(by_env, tj_str(it, "envelope_id"), it);
			}
			t->outbox_items++;
			if (strcmp(tj_str(it, "state"), "receipted") == 0) {
				t->receipted++;
			} else {
				t->stuck++;
				fprintf(stderr, "crash: %s's message %s to %s is still %s\n",
					c->net->nodes[s].state, tj_str(it, "message_id"),
					tj_str(it, "recipient"), tj_str(it, "state"));
			}
		}
		listing_free(&out);
	}
}

/* Each sender's sequence numbers in r's inbox are 1..N, each once, and no gap. */
static void check_sequences(struct crash_run *c, int r, json_t *items, json_t *gaps, json_t *by_env,
			    struct crash_tally *t)
{
	for (int s = 0; s < CRASH_SENDERS; s++) {
		const char *from = c->net->nodes[s].state;
		size_t i, n = 0;
		json_t *it;
		for (void *iter = json_object_iter(by_env); iter != NULL;
		     iter = json_object_iter_next(by_env, iter)) {
			it = json_object_iter_value(iter);
			n += tj_int(it, "from") == s &&
			     strcmp(tj_str(it, "recipient"), c->net->nodes[r].state) == 0;
		}
		char *seen = calloc(n + 1, 1);
		assert_non_null(seen);
		for (i = 0; i < json_array_size(items); i++) {
			it = json_array_get(items, i);
			long long q = tj_int(it, "sequence");
			if (strcmp(tj_str(it, "sender"), from) != 0) {
				continue;
			}
			if (q < 1 || (size_t)q > n || seen[q]) {
				t->sequence_errors++;
				fprintf(stderr, "crash: %s: sequence %lld from %s is %s\n",
					c->net->nodes[r].state, q, from,
					q < 1 || (size_t)q > n ? "out of range" : "there twice");
				continue;
			}
			seen[q] = 1;
		}
		free(seen);
		for (i = 0; i < json_array_size(gaps); i++) {
			it = json_array_get(gaps, i);
			if (strcmp(tj_str(it, "peer"), from) == 0) {
				t->gaps++;
				fprintf(stderr,
					"crash: %s: messages %lld-%lld from %s never came\n",
					c->net->nodes[r].state, tj_int(it, "first"),
					tj_int(it, "last"), from);
			}
		}
	}
}

/*
 * A copy the recipient holds unacknowledged once settled: if the relay holds
 * it acknowledged, the recipient's node lost the receipt of its
 * acknowledgement and did not acknowledge again (a fault: node_inbox.c
 * does, once the relay lists nothing).
 */
static void check_acked(struct crash_run *c, int r, const json_t *it, const json_t *relay_acked,
			struct crash_tally *t)
{
	const char *env = tj_str(it, "envelope_id");
	if (json_is_true(json_object_get(it, "acknowledged"))) {
		return;
	}
	if (json_object_get(relay_acked, env) != NULL) {
		t->acks_unrecorded++;
		fprintf(stderr,
			"crash: %s: %s (\"%s\") is acknowledged at the relay, but %s holds no "
			"receipt for its acknowledgement and shows it unacknowledged\n",
			c->net->nodes[r].state, env, tj_str(it, "summary"), c->net->nodes[r].state);
	} else {
		t->unacked++;
		fprintf(stderr, "crash: %s: %s (\"%s\") was never acknowledged\n",
			c->net->nodes[r].state, env, tj_str(it, "summary"));
	}
}

/* Maps r's inbox onto the plan; appends a copy to read for each item. */
static void index_inbox(struct crash_run *c, int r, json_t *by_env, struct copy *copies,
			size_t *n_copies, size_t cap, struct crash_tally *t)
{
	struct listing in;
	size_t i;
	json_t *it;
	json_t *relay_acked = crash_relay_acked(c);
	list_all(c, &c->net->nodes[r], "inbox", &in);
	for (i = 0; i < json_array_size(in.items); i++) {
		it = json_array_get(in.items, i);
		const char *env = tj_str(it, "envelope_id");
		json_t *ob = json_object_get(by_env, env);
		int k = summary_msg(c, tj_str(it, "summary"));
		check_acked(c, r, it, relay_acked, t);
		if (ob == NULL || k < 0 || c->msgs[k].recipient != r ||
		    strcmp(tj_str(it, "sender"), c->net->nodes[c->msgs[k].sender].state) != 0 ||
		    tj_int(ob, "from") != c->msgs[k].sender) {
			t->spurious++;
			fprintf(stderr, "crash: %s holds %s from %s (\"%s\") that no outbox sent\n",
				c->net->nodes[r].state, env, tj_str(it, "sender"),
				tj_str(it, "summary"));
			continue;
		}
		c->msgs[k].copies_in++;
		json_object_set_new(ob, "delivered", json_true());
		assert_true(*n_copies < cap);
		struct copy *cp = &copies[(*n_copies)++];
		memset(cp, 0, sizeof(*cp));
		cp->receiver = r;
		cp->msg = k;
		snprintf(cp->envelope_id, sizeof(cp->envelope_id), "%s", env);
	}
	check_sequences(c, r, in.items, in.gaps, by_env, t);
	listing_free(&in);
	json_decref(relay_acked);
}

void crash_account(struct crash_run *c, struct crash_tally *t)
{
	json_t *by_env = json_object(), *by_id = json_object();
	const char *key;
	json_t *it;
	memset(t, 0, sizeof(*t));
	index_outboxes(c, by_env, by_id, t);
	/* Every message divex confirmed is in its sender's outbox. */
	for (int i = 0; i < c->n_msgs; i++) {
		struct crash_msg *m = &c->msgs[i];
		if (m->state == CRASH_CONFIRMED) {
			t->confirmed++;
			json_t *ob = json_object_get(by_id, m->id);
			m->in_outbox = ob != NULL;
			m->receipted = ob != NULL && strcmp(tj_str(ob, "state"), "receipted") == 0;
			if (ob != NULL) {
				snprintf(m->envelope_id, sizeof(m->envelope_id), "%s",
					 tj_str(ob, "envelope_id"));
			}
		} else if (m->state == CRASH_UNCONFIRMED) {
			t->unconfirmed++;
		}
	}
	size_t cap = (size_t)c->n_msgs * 2 + 16, n_copies = 0;
	struct copy *copies = calloc(cap, sizeof(*copies));
	assert_non_null(copies);
	for (int r = CRASH_SENDERS; r < CRASH_NODES; r++) {
		index_inbox(c, r, by_env, copies, &n_copies, cap, t);
	}
	/* A receipted copy that no inbox holds is lost, confirmed or not. */
	for (void *iter = json_object_iter(by_env); iter != NULL;
	     iter = json_object_iter_next(by_env, iter)) {
		key = json_object_iter_key(iter);
		it = json_object_iter_value(iter);
		if (strcmp(tj_str(it, "state"), "receipted") == 0 &&
		    json_object_get(it, "delivered") == NULL) {
			t->lost++;
			fprintf(stderr,
				"crash: %s's message %s (envelope %s) to %s never arrived\n",
				c->net->nodes[tj_int(it, "from")].state, tj_str(it, "message_id"),
				key, tj_str(it, "recipient"));
		}
	}
	for (int i = 0; i < c->n_msgs; i++) {
		struct crash_msg *m = &c->msgs[i];
		if (m->state == CRASH_CONFIRMED && !m->in_outbox) {
			t->lost++;
			fprintf(stderr, "crash: message %d (%s) was confirmed but %s forgot it\n",
				i, m->id, c->net->nodes[m->sender].state);
		}
	}
	check_copies(c, copies, n_copies, t);
	for (int i = 0; i < c->n_msgs; i++) {
		struct crash_msg *m = &c->msgs[i];
		t->duplicated += m->copies_in > 1;
		t->corrupted += m->corrupted;
		t->unreadable += m->unreadable;
		if (m->copies_in > 1) {
			fprintf(stderr, "crash: message %d arrived %d times in %s\n", i,
				m->copies_in, c->net->nodes[m->recipient].state);
		}
		if (m->copies_in == 1 && !m->corrupted && !m->unreadable) {
			t->delivered_once += m->state == CRASH_CONFIRMED && m->receipted;
			t->unconfirmed_delivered += m->state == CRASH_UNCONFIRMED;
		}
	}
	free(copies);
	json_decref(by_env);
	json_decref(by_id);
}
