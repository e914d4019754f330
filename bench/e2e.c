/*
 * e2e.c: benchmark 3, end-to-end delivery from the sender's control socket
 * to the recipient's inbox, through real divexd nodes and a real relay over
 * tls+tcp://.
 *
 * Two States, FRA and MEX, each with its own divexd; FRA's officer sends
 * messages of about 1 KiB at a fixed offered rate (100/s, then 1000/s) by
 * speaking the control protocol directly: `divex send` starts a process and
 * unlocks nothing, but costs some 10 ms a message, which alone would cap the
 * rate near 100/s. 32 sending threads, each with its own control
 * connection, keep the offered rate open loop: message i is due at
 * t0 + i/rate, and its latency counts from then. Each message's subject
 * carries its number and due time (wall clock, ms); MEX's node stores the
 * wall-clock time at which it put the opened message into its inbox
 * (received_ms), which the inbox operation returns. Latency = received_ms -
 * due time, in milliseconds, on one machine and one clock.
 *
 * Also reported: the delivered rate (arrivals over the time between the
 * first and the last arrival of a round). No target is stated for this benchmark;
 * the ratio on the last line of --quick is the delivered rate over the
 * offered rate at 1000/s (1.0 means the nodes kept up).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "bnode.h"
#include "canon.h"
#include "wire.pb-c.h"

#define SENDERS 32
#define TEXT_LEN 900

struct send_run {
	struct bnode *from;
	double rate;
	size_t n;
	uint64_t t0_ns, t0_wall_ms;
	atomic_size_t next;
	atomic_int errors;
	int first_error;
};

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_until_ns(uint64_t t)
{
	uint64_t now = bench_now_ns();
	if (t > now) {
		struct timespec ts = { (time_t)((t - now) / 1000000000u),
				       (long)((t - now) % 1000000000u) };
		nanosleep(&ts, NULL);
	}
}

static int send_one(struct bctl *c, size_t seq, uint64_t due_ms)
{
	char subject[96], text[TEXT_LEN + 1];
	Dx__Payload p = DX__PAYLOAD__INIT;
	Dx__Marking mk = DX__MARKING__INIT;
	uint8_t *body = NULL;
	size_t len;
	snprintf(subject, sizeof(subject), "bench %zu %llu", seq, (unsigned long long)due_ms);
	memset(text, 'x', TEXT_LEN);
	text[TEXT_LEN] = '\0';
	mk.handling = DX__HANDLING_CODE__H2_NO_DISSEMINATION;
	p.type = 1;
	p.marking = &mk;
	p.subject = subject;
	p.text = text;
	int rc = proto_pack_alloc(&p.base, &body, &len);
	if (rc != DX_OK) {
		return rc;
	}
	Dx__ControlRequest q = DX__CONTROL_REQUEST__INIT;
	Dx__SendOp s = DX__SEND_OP__INIT;
	char *to[] = { "MEX" };
	s.n_to = 1;
	s.to = to;
	s.payload = (ProtobufCBinaryData){ len, body };
	q.op_case = DX__CONTROL_REQUEST__OP_SEND;
	q.send = &s;
	Dx__ControlResponse *r = NULL;
	rc = bctl_call(c, &q, &r);
	free(body);
	if (rc == DX_OK) {
		rc = r->error;
		dx__control_response__free_unpacked(r, NULL);
	}
	return rc;
}

static void *sender(void *arg)
{
	struct send_run *run = arg;
	struct bctl c;
	BENCH_CHECK(bctl_open(&c, run->from));
	for (;;) {
		size_t i = atomic_fetch_add(&run->next, 1);
		if (i >= run->n) {
			break;
		}
		uint64_t off_ns = (uint64_t)((double)i * 1e9 / run->rate);
		sleep_until_ns(run->t0_ns + off_ns);
		int rc = send_one(&c, i, run->t0_wall_ms + off_ns / 1000000);
		if (rc != DX_OK && atomic_fetch_add(&run->errors, 1) == 0) {
			run->first_error = rc;
		}
	}
	bctl_close(&c);
	return NULL;
}

/* Whether the inbox holds at least n messages. */
static int inbox_holds(struct bctl *c, size_t n)
{
	Dx__ControlRequest q = DX__CONTROL_REQUEST__INIT;
	Dx__InboxOp op = DX__INBOX_OP__INIT;
	Dx__ControlResponse *r = NULL;
	op.limit = 1;
	op.offset = (uint32_t)(n - 1);
	q.op_case = DX__CONTROL_REQUEST__OP_INBOX;
	q.inbox = &op;
	BENCH_CHECK(bctl_call(c, &q, &r));
	int holds = r->error == 0 && r->inbox != NULL && r->inbox->n_items == 1;
	dx__control_response__free_unpacked(r, NULL);
	return holds;
}

/* Reads every item of the inbox and the latency of those of this round. */
static size_t collect(struct bctl *c, uint64_t t0_wall_ms, size_t n, uint64_t *lat_ms,
		      uint64_t *first_ms, uint64_t *last_ms)
{
	size_t found = 0;
	*last_ms = 0;
	*first_ms = UINT64_MAX;
	for (size_t offset = 0;; offset += 1000) {
		Dx__ControlRequest q = DX__CONTROL_REQUEST__INIT;
		Dx__InboxOp op = DX__INBOX_OP__INIT;
		Dx__ControlResponse *r = NULL;
		op.limit = 1000;
		op.offset = (uint32_t)offset;
		q.op_case = DX__CONTROL_REQUEST__OP_INBOX;
		q.inbox = &op;
		BENCH_CHECK(bctl_call(c, &q, &r));
		BENCH_CHECK(r->error);
		size_t items = r->inbox != NULL ? r->inbox->n_items : 0;
		for (size_t i = 0; i < items; i++) {
			const Dx__InboxItem *it = r->inbox->items[i];
			const char *b = strstr(it->summary, "bench ");
			size_t seq;
			unsigned long long due;
			if (b == NULL || sscanf(b, "bench %zu %llu", &seq, &due) != 2 ||
			    due < t0_wall_ms || seq >= n) {
				continue;
			}
			lat_ms[found++] = it->received_ms > due ? it->received_ms - due : 0;
			*last_ms = it->received_ms > *last_ms ? it->received_ms : *last_ms;
			*first_ms = it->received_ms < *first_ms ? it->received_ms : *first_ms;
		}
		dx__control_response__free_unpacked(r, NULL);
		if (items < 1000) {
			break;
		}
	}
	return found;
}

struct e2e_series {
	struct bench_series p50, p99, rate, cpu_fra, cpu_mex, cpu_relay;
};

/* The three processes whose CPU time a round reports. */
static pid_t watched[3];

static void one_round(struct bnode *fra, struct bctl *mex, double rate, double seconds,
		      struct e2e_series *s, int run)
{
	double cpu0[3];
	for (int i = 0; i < 3; i++) {
		cpu0[i] = bench_proc_cpu_s(watched[i]);
	}
	uint64_t w0 = bench_now_ns();
	struct send_run sr = { .from = fra, .rate = rate };
	pthread_t t[SENDERS];
	sr.n = (size_t)(rate * seconds);
	/* Every earlier round delivered all it sent (or the benchmark stopped). */
	static size_t before;
	sr.t0_wall_ms = wall_ms() + 50;
	sr.t0_ns = bench_now_ns() + 50 * 1000000u;
	for (int i = 0; i < SENDERS; i++) {
		BENCH_CHECK(pthread_create(&t[i], NULL, sender, &sr));
	}
	for (int i = 0; i < SENDERS; i++) {
		BENCH_CHECK(pthread_join(t[i], NULL));
	}
	if (sr.errors > 0) {
		fprintf(stderr, "bench: %d sends failed (%s)\n", (int)sr.errors,
			dx_errname(sr.first_error));
		exit(1);
	}
	double sent_s = (double)(bench_now_ns() - sr.t0_ns) / 1e9;
	/* Wait for every message, with a deadline that a stalled system hits.
	 * The inbox is asked for its (before + n)-th newest item only: `status`
	 * would count the inbox by decrypting every summary (RESULTS.md). */
	uint64_t deadline = bench_now_ns() + (uint64_t)(seconds * 30 + 60) * 1000000000u;
	while (!inbox_holds(mex, before + sr.n) && bench_now_ns() < deadline) {
		struct timespec ts = { 0, 200 * 1000 * 1000 };
		nanosleep(&ts, NULL); /* polling interval, not a synchronisation */
	}
	before += sr.n;
	uint64_t *lat = calloc(sr.n, sizeof(uint64_t)), first, last;
	BENCH_CHECK(lat == NULL);
	size_t got = collect(mex, sr.t0_wall_ms, sr.n, lat, &first, &last);
	if (got < sr.n) {
		fprintf(stderr, "bench: only %zu of %zu messages arrived in time\n", got, sr.n);
		exit(1);
	}
	/* The recipient's pace: arrivals over the time between the first and the last. */
	double delivered = last > first ? (double)(got - 1) / ((double)(last - first) / 1e3) : 0;
	bench_series_add(&s->p50, bench_percentile(lat, got, 50));
	bench_series_add(&s->p99, bench_percentile(lat, got, 99));
	bench_series_add(&s->rate, delivered);
	double wall = (double)(bench_now_ns() - w0) / 1e9, busy[3];
	for (int i = 0; i < 3; i++) {
		busy[i] = 100 * (bench_proc_cpu_s(watched[i]) - cpu0[i]) / wall;
	}
	bench_series_add(&s->cpu_fra, busy[0]);
	bench_series_add(&s->cpu_mex, busy[1]);
	bench_series_add(&s->cpu_relay, busy[2]);
	printf("  run %d at %.0f/s: %zu messages sent in %.2f s; p50 %.0f ms, p99 %.0f ms;"
	       " delivered %.1f/s; CPU FRA %.0f%%, MEX %.0f%%, relay %.0f%%\n",
	       run + 1, rate, sr.n, sent_s, s->p50.v[s->p50.n - 1], s->p99.v[s->p99.n - 1],
	       delivered, busy[0], busy[1], busy[2]);
	fflush(stdout);
	free(lat);
}

static void print_cpu(const struct e2e_series *s)
{
	bench_print_series("CPU of FRA's divexd over the round (100% = one core)", "%",
			   &s->cpu_fra);
	bench_print_series("CPU of MEX's divexd", "%", &s->cpu_mex);
	bench_print_series("CPU of the relay", "%", &s->cpu_relay);
}

int main(void)
{
	int runs = bench_runs(), quick = bench_quick();
	double secs100 = quick ? 2 : 10, secs1000 = quick ? 0.5 : 3;
	struct brelay r;
	struct brelay_opts o = { .tls = 1 };
	struct bnode fra, mex;
	struct bctl cmex;
	struct e2e_series s100, s1000;
	memset(&s100, 0, sizeof(s100));
	memset(&s1000, 0, sizeof(s1000));
	BENCH_CHECK(brelay_init(&r, &o));
	BENCH_CHECK(brelay_start(&r));
	BENCH_CHECK(bnode_init(&fra, &r, bench_tmpdir(), "FRA", 500));
	BENCH_CHECK(bnode_init(&mex, &r, bench_tmpdir(), "MEX", 500));
	BENCH_CHECK(bnode_start(&fra));
	BENCH_CHECK(bnode_start(&mex));
	BENCH_CHECK(bctl_open(&cmex, &mex));
	struct bctl cfra;
	BENCH_CHECK(bctl_open(&cfra, &fra));
	BENCH_CHECK(bctl_wait_roster(&cfra, 2, 60000));
	BENCH_CHECK(bctl_wait_roster(&cmex, 2, 60000));
	bctl_close(&cfra);
	watched[0] = fra.proc.pid;
	watched[1] = mex.proc.pid;
	watched[2] = r.proc.pid;
	printf("e2e: FRA's divexd -> relay (tls+tcp) -> MEX's divexd, %d-byte texts, %d sending"
	       " connections, %d runs of %.1f s at 100/s and %.1f s at 1000/s\n",
	       TEXT_LEN, SENDERS, runs, secs100, secs1000);
	fflush(stdout);
	for (int run = 0; run < runs; run++) {
		one_round(&fra, &cmex, 100, secs100, &s100, run);
		one_round(&fra, &cmex, 1000, secs1000, &s1000, run);
	}
	printf("\nend-to-end, offered 100/s\n");
	bench_print_series("p50", "ms", &s100.p50);
	bench_print_series("p99", "ms", &s100.p99);
	bench_print_series("delivered", "messages/s", &s100.rate);
	print_cpu(&s100);
	printf("\nend-to-end, offered 1000/s\n");
	bench_print_series("p50", "ms", &s1000.p50);
	bench_print_series("p99", "ms", &s1000.p99);
	bench_print_series("delivered", "messages/s", &s1000.rate);
	print_cpu(&s1000);
	printf("  ratio delivered / offered at 100/s: %.3f\n",
	       bench_series_median(&s100.rate) / 100);
	printf("  ratio delivered / offered at 1000/s: %.3f\n",
	       bench_series_median(&s1000.rate) / 1000);
	printf("\n");
	bctl_close(&cmex);
	BENCH_CHECK(bnode_stop(&fra));
	BENCH_CHECK(bnode_stop(&mex));
	BENCH_CHECK(brelay_stop(&r));
	bench_print_final("e2e", bench_series_median(&s1000.rate) / 1000);
	return 0;
}
