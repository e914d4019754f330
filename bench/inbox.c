/*
 * inbox.c: `divex inbox` with 10,000 stored messages (target: <= 50 ms).
 *
 * A State node (MEX) is set up with `divex init` and started once with an
 * empty inbox, for a baseline. Then, with divexd stopped, its store
 * (node.db, opened with the node's own store code and the key divexd derives
 * from the State's key file) receives BENCH_INBOX messages (10,000) from
 * FRA, exactly as divexd's inbox stores an opened envelope
 * (node_store_inbox_store_opened(): body and summary sealed at rest, id
 * marked seen, sequence numbers) and then marks acknowledged with a
 * receipt, in one transaction; the summaries are made by the node's own
 * node_payload_summary(). Each payload is a 900-byte case note.
 *
 * Measured, with divexd running: the wall time of the real command,
 * `divex --home MEX inbox` (a new process each time: start-up, the control
 * request, the daemon's query and decryption of 50 summaries, the table),
 * also with --limit 1000; and the control request alone, from a client
 * that stays connected; and `divex status`, whose inbox counts come from
 * the same store. The ratio on the last line is the median of `divex inbox`
 * over 50 ms.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "bench.h"
#include "bnode.h"
#include "canon.h"
#include "keyfile.h"
#include "node.h"
#include "node_store.h"
#include "wire.pb-c.h"

#define TEXT_LEN 900

static void fill(struct bnode *n, size_t count)
{
	char path[1300], pass[64] = "benchmark passphrase";
	uint8_t key[KEYS_STORE_KEY_LEN], receipt[1024], text[TEXT_LEN + 1];
	struct keys *k = NULL;
	struct node_store *st = NULL;
	snprintf(path, sizeof(path), "%s/state.key", n->home);
	BENCH_CHECK(keyfile_read(path, pass, strlen(pass), &k));
	snprintf(path, sizeof(path), "%s/%s", n->home, NODE_STORE_FILE);
	keys_derive_local_key(k, key, "node.db");
	BENCH_CHECK(node_store_open(path, key, &st));
	sodium_memzero(key, sizeof(key));
	keys_free(k);
	memset(text, 'x', TEXT_LEN);
	text[TEXT_LEN] = '\0';
	bench_random(receipt, sizeof(receipt));
	uint64_t now = dx_now_ms();
	BENCH_CHECK(node_store_begin(st));
	for (size_t i = 0; i < count; i++) {
		char subject[64];
		Dx__Payload p = DX__PAYLOAD__INIT;
		Dx__Marking mk = DX__MARKING__INIT;
		uint8_t *body = NULL;
		size_t len;
		snprintf(subject, sizeof(subject), "Case note %zu: rifles at the port", i + 1);
		mk.handling = DX__HANDLING_CODE__H2_NO_DISSEMINATION;
		mk.source_evaluation = "B";
		mk.information_evaluation = 2;
		p.type = 1;
		p.case_id = "FRA-2025-017";
		p.marking = &mk;
		p.copy_number = 1;
		p.copy_count = 1;
		p.copy_for = "MEX";
		p.subject = subject;
		p.text = (char *)text;
		BENCH_CHECK(proto_pack_alloc(&p.base, &body, &len));
		char *summary = node_payload_summary(body, len);
		BENCH_CHECK(summary == NULL);
		struct node_store_opened o = {
			.sequence = i + 1,
			.created_ms = now - (count - i) * 1000,
			.body = body,
			.body_len = len,
			.summary = summary,
			.fetch_receipt = receipt,
			.fetch_receipt_len = sizeof(receipt),
		};
		bench_random(o.digest, sizeof(o.digest));
		bench_random(o.envelope_id, sizeof(o.envelope_id));
		memcpy(o.sender, "FRA", 4);
		BENCH_CHECK(node_store_inbox_store_opened(st, &o));
		BENCH_CHECK(node_store_inbox_mark_acked(st, o.digest, receipt, sizeof(receipt)));
		free(summary);
		free(body);
	}
	BENCH_CHECK(node_store_commit(st));
	node_store_close(st);
}

/* Wall time of one `divex --home HOME inbox [--limit N]`, output discarded. */
static double cli_ms(const struct bnode *n, const char *limit)
{
	char *argv[] = { (char *)built("cli/divex"),
			 "--home",
			 (char *)n->home,
			 "inbox",
			 limit != NULL ? "--limit" : NULL,
			 (char *)limit,
			 NULL };
	uint64_t t0 = bench_now_ns();
	int st = proc_run("/dev/null", argv);
	double ms = (double)(bench_now_ns() - t0) / 1e6;
	BENCH_CHECK(st);
	return ms;
}

static double ctl_ms(struct bctl *c, uint32_t limit)
{
	Dx__ControlRequest q = DX__CONTROL_REQUEST__INIT;
	Dx__InboxOp op = DX__INBOX_OP__INIT;
	Dx__ControlResponse *r = NULL;
	op.limit = limit;
	q.op_case = DX__CONTROL_REQUEST__OP_INBOX;
	q.inbox = &op;
	uint64_t t0 = bench_now_ns();
	BENCH_CHECK(bctl_call(c, &q, &r));
	double ms = (double)(bench_now_ns() - t0) / 1e6;
	BENCH_CHECK(r->error);
	dx__control_response__free_unpacked(r, NULL);
	return ms;
}

struct in_series {
	struct bench_series cli, cli1000, ctl, ctl1000, status, status_ctl;
};

/* Wall time of one `divex --home HOME status`. */
static double status_cli_ms(const struct bnode *n)
{
	char *argv[] = { (char *)built("cli/divex"), "--home", (char *)n->home, "status", NULL };
	uint64_t t0 = bench_now_ns();
	int st = proc_run("/dev/null", argv);
	double ms = (double)(bench_now_ns() - t0) / 1e6;
	BENCH_CHECK(st);
	return ms;
}

static double status_ctl_ms(struct bctl *c)
{
	uint64_t t0 = bench_now_ns();
	BENCH_CHECK(bctl_inbox_total(c) < 0);
	return (double)(bench_now_ns() - t0) / 1e6;
}

static void measure(struct bnode *n, int runs, struct in_series *s)
{
	struct bctl c;
	BENCH_CHECK(bctl_open(&c, n));
	/* One of each first, so that the page cache and the daemon are warm. */
	cli_ms(n, NULL);
	ctl_ms(&c, 1000);
	for (int i = 0; i < runs; i++) {
		bench_series_add(&s->cli, cli_ms(n, NULL));
		bench_series_add(&s->cli1000, cli_ms(n, "1000"));
		bench_series_add(&s->ctl, ctl_ms(&c, 50));
		bench_series_add(&s->ctl1000, ctl_ms(&c, 1000));
		bench_series_add(&s->status, status_cli_ms(n));
		bench_series_add(&s->status_ctl, status_ctl_ms(&c));
	}
	bctl_close(&c);
}

static void print(const char *title, const struct in_series *s)
{
	printf("\n%s\n", title);
	bench_print_series("divex inbox (new process, 50 newest)", "ms", &s->cli);
	bench_print_series("divex inbox --limit 1000", "ms", &s->cli1000);
	bench_print_series("inbox control request, 50 items", "ms", &s->ctl);
	bench_print_series("inbox control request, 1000 items", "ms", &s->ctl1000);
	bench_print_series("divex status (new process)", "ms", &s->status);
	bench_print_series("status control request", "ms", &s->status_ctl);
}

int main(void)
{
	int runs = bench_runs() < 10 ? 10 : bench_runs();
	size_t count = 10000;
	if (getenv("BENCH_INBOX") != NULL) {
		count = strtoul(getenv("BENCH_INBOX"), NULL, 10);
	}
	struct brelay r;
	struct brelay_opts o = { .tls = 0 };
	struct bnode mex;
	struct in_series empty, full;
	memset(&empty, 0, sizeof(empty));
	memset(&full, 0, sizeof(full));
	BENCH_CHECK(brelay_init(&r, &o));
	BENCH_CHECK(brelay_start(&r));
	BENCH_CHECK(bnode_init(&mex, &r, bench_tmpdir(), "MEX", 60000));
	BENCH_CHECK(bnode_start(&mex));
	measure(&mex, runs, &empty);
	BENCH_CHECK(bnode_stop(&mex));
	uint64_t t0 = bench_now_ns();
	fill(&mex, count);
	printf("inbox: %zu messages stored in %.1f s; %d runs of each\n", count,
	       (double)(bench_now_ns() - t0) / 1e9, runs);
	BENCH_CHECK(bnode_start(&mex));
	struct bctl c;
	BENCH_CHECK(bctl_open(&c, &mex));
	long total = bctl_inbox_total(&c);
	bctl_close(&c);
	BENCH_CHECK(total != (long)count);
	measure(&mex, runs, &full);
	BENCH_CHECK(bnode_stop(&mex));
	BENCH_CHECK(brelay_stop(&r));
	print("empty inbox", &empty);
	char title[64];
	snprintf(title, sizeof(title), "%zu messages in the inbox", count);
	print(title, &full);
	printf("\n");
	double ratio = bench_series_median(&full.cli) / 50.0;
	bench_print_ratio("divex inbox with the messages / 50 ms", ratio, "<=", 1.0);
	printf("\n");
	bench_print_final("inbox", ratio);
	return 0;
}
