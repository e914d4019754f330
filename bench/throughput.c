/*
 * throughput.c: benchmark 1, the relay's durable throughput.
 *
 * One State (FRA) submits pre-sealed envelopes of about 1 KiB to eight
 * recipients in turn, 64 in flight, to a fresh relay for every run (so that
 * every run starts from the same empty store), over tcp:// and tls+tcp://:
 * 5,000 per run (3,000 with --quick), so that no mailbox grows past 625.
 * How the rate falls as a mailbox grows is measured separately, last.
 * A submission counts only once its receipt has been verified by the
 * client. Two clients:
 *
 *   node client: daemon/node/relay_client.c, as divexd uses it: MACs each
 *     request under its session (PROTOCOL.md 12.2) when it sends it,
 *     verifies every answer's checkpoint and every receipt, proves each
 *     newer checkpoint consistent in the background;
 *   raw client:  requests MACed under a session before the clock, nng contexts without the
 *     libuv bridge, receipts verified after the clock (one signature check
 *     per distinct checkpoint): the relay's own bound on this machine.
 *
 * References, each measured in the same run, interleaved with the runs:
 * Ed25519 verifications per second on one core; SQLite WAL commits per
 * second with synchronous=FULL (1 and 100 rows of 1 KiB per commit); raw
 * nng REQ/REP round trips per second with 64 contexts over each transport.
 * The ratio the target is stated in is node-client envelopes per second
 * over one core's verifications per second, taken run by run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "driver.h"
#include "refs.h"
#include "util.h"

#define RECIPIENTS_MAX 512
#define IN_FLIGHT 64
#define ENV_SIZE 1024

struct tp_series {
	struct bench_series client, raw, ratio, raw_ratio, relay_us, client_us, raw_relay_us, batch,
		loop_us, raw_loop_us,
		ed, rr, floor;
};

static struct keys *states[RECIPIENTS_MAX + 1];
/* Recipients in turn; BENCH_RECIPIENTS overrides (mailbox depth matters, see RESULTS.md). */
static size_t recipients = 8;

/*
 * BENCH_TRANSPORT=tcp|tls and BENCH_CLIENT=node|raw restrict a run to one
 * case, for profiling the relay under it (RESULTS.md says how).
 */
static int wanted(const char *var, const char *value)
{
	const char *v = getenv(var);
	return v == NULL || strcmp(v, value) == 0;
}

static double one_run(int tls, const struct sealed_set *set, int raw, struct tp_series *s)
{
	struct brelay r;
	struct drive_result res;
	struct brelay_opts o = { .tls = tls };
	BENCH_CHECK(brelay_fresh(&r, &o, states, recipients + 1));
	if (raw) {
		BENCH_CHECK(drive_raw(&r, states[0], set, 0, set->n, IN_FLIGHT, NULL, &res));
	} else {
		BENCH_CHECK(drive_client(&r, states[0], set, 0, set->n, IN_FLIGHT, 0, NULL, &res));
	}
	if (res.failed > 0) {
		fprintf(stderr, "bench: %zu submissions failed (%s); see %s\n", res.failed,
			dx_errname(res.first_error), r.log);
		exit(1);
	}
	double rate = (double)res.done / res.seconds;
	double commits = brelay_metric(&r, "divex_relay_commit_latency_seconds_count");
	if (raw) {
		bench_series_add(&s->raw_relay_us, res.relay_cpu_s * 1e6 / (double)res.done);
		bench_series_add(&s->raw_loop_us, res.relay_loop_cpu_s * 1e6 / (double)res.done);
	} else {
		bench_series_add(&s->relay_us, res.relay_cpu_s * 1e6 / (double)res.done);
		bench_series_add(&s->loop_us, res.relay_loop_cpu_s * 1e6 / (double)res.done);
		bench_series_add(&s->client_us, res.self_cpu_s * 1e6 / (double)res.done);
		if (commits > 0) {
			bench_series_add(&s->batch, (double)res.done / commits);
		}
	}
	brelay_discard(&r);
	return rate;
}

/*
 * The same relay, one recipient, batches submitted back to back through the
 * raw client: each batch finds the mailbox as deep as the batches before
 * left it. Every submission checks the recipient's quota, which is why the
 * depth matters (RESULTS.md).
 */
static void depth_sweep(int quick)
{
	size_t batch = quick ? 1000 : 2500, batches = 5;
	struct sealed_set one;
	struct seal_peer to;
	struct brelay r;
	struct brelay_opts o = { .tls = 0 };
	bench_peer(states[1], &to);
	sealed_set_make(&one, states[0], &to, 1, batch * batches, ENV_SIZE);
	BENCH_CHECK(brelay_fresh(&r, &o, states, 2));
	printf("\nmailbox depth: one recipient, raw client, 64 in flight, tcp, batches of %zu\n",
	       batch);
	for (size_t b = 0; b < batches; b++) {
		struct drive_result res;
		BENCH_CHECK(
			drive_raw(&r, states[0], &one, b * batch, batch, IN_FLIGHT, NULL, &res));
		BENCH_CHECK(res.failed > 0);
		printf("  mailbox holding %zu to %zu envelopes: %.0f envelopes/s, relay CPU %.0f us"
		       " each\n",
		       b * batch, (b + 1) * batch, (double)res.done / res.seconds,
		       res.relay_cpu_s * 1e6 / (double)res.done);
		fflush(stdout);
	}
	brelay_discard(&r);
	sealed_set_free(&one);
}

int main(void)
{
	/* The node's client runs in this process: set up as in divexd. */
	dx_malloc_for_messages();
	int runs = bench_runs(), quick = bench_quick();
	size_t per_run = quick ? 3000 : 5000;
	if (getenv("BENCH_ENVELOPES") != NULL) {
		per_run = (size_t)strtoul(getenv("BENCH_ENVELOPES"), NULL, 10);
	}
	double ref_secs = quick ? 0.5 : 1.0;
	struct refs_server srv[2];
	struct seal_peer peers[RECIPIENTS_MAX];
	struct sealed_set set;
	struct tp_series s[2];
	struct bench_series sql1, sql100;
	memset(s, 0, sizeof(s));
	memset(&sql1, 0, sizeof(sql1));
	memset(&sql100, 0, sizeof(sql100));

	BENCH_CHECK(refs_server_start(&srv[0], 0, bench_tmpdir()));
	BENCH_CHECK(refs_server_start(&srv[1], 1, bench_tmpdir()));
	states[0] = bench_state("FRA", 0);
	if (getenv("BENCH_RECIPIENTS") != NULL) {
		recipients = (size_t)strtoul(getenv("BENCH_RECIPIENTS"), NULL, 10);
		recipients = recipients < 1		   ? 1
			     : recipients > RECIPIENTS_MAX ? RECIPIENTS_MAX
							   : recipients;
	}
	for (size_t i = 0; i < recipients; i++) {
		char code[4];
		bench_state_code((uint32_t)(1000 + i), code);
		states[i + 1] = bench_state(code, 0);
		bench_peer(states[i + 1], &peers[i]);
	}
	sealed_set_make(&set, states[0], peers, recipients, per_run, ENV_SIZE);
	printf("throughput: %zu envelopes of %zu bytes per run, %d in flight, %zu recipients,"
	       " a fresh relay per run, %d runs\n",
	       per_run, set.len[0], IN_FLIGHT, recipients, runs);
	fflush(stdout);

	for (int run = 0; run < runs; run++) {
		for (int tls = 0; tls < 2; tls++) {
			struct tp_series *t = &s[tls];
			if (!wanted("BENCH_TRANSPORT", tls ? "tls" : "tcp")) {
				continue;
			}
			double ed = refs_ed25519_verify_rate(ref_secs);
			double c = wanted("BENCH_CLIENT", "node") ? one_run(tls, &set, 0, t) : 0;
			double rw = wanted("BENCH_CLIENT", "raw") ? one_run(tls, &set, 1, t) : 0;
			bench_series_add(&t->ed, ed);
			bench_series_add(&t->client, c);
			bench_series_add(&t->raw, rw);
			bench_series_add(&t->ratio, c / ed);
			bench_series_add(&t->raw_ratio, rw / ed);
			bench_series_add(&t->rr,
					 refs_nng_rate(&srv[tls], IN_FLIGHT, 1024, 1024, ref_secs));
			bench_series_add(&t->floor,
					 refs_nng_verify_rate(&srv[tls], IN_FLIGHT, ref_secs));
			printf("  run %d %s: node client %.0f/s, raw client %.0f/s, ed25519 "
			       "%.0f/s\n",
			       run + 1, tls ? "tls+tcp" : "tcp", c, rw, ed);
			fflush(stdout);
		}
		bench_series_add(&sql1, refs_sqlite_commit_rate(bench_tmpdir(), 1,
								quick ? 300 : 1000, NULL));
		bench_series_add(&sql100, refs_sqlite_commit_rate(bench_tmpdir(), 100,
								  quick ? 100 : 300, NULL));
	}

	printf("\nreferences (same run)\n");
	bench_print_series("ed25519 verify, one core (1 KiB message)", "/s",
			   s[0].ed.n > 0 ? &s[0].ed : &s[1].ed);
	bench_print_series("sqlite WAL synchronous=FULL, 1 row/commit", "commits/s", &sql1);
	bench_print_series("sqlite WAL synchronous=FULL, 100 rows/commit", "commits/s", &sql100);
	if (s[0].rr.n > 0) {
		bench_print_series("nng REQ/REP, 64 contexts, tcp, 1 KiB each way", "round trips/s",
				   &s[0].rr);
	}
	if (s[1].rr.n > 0) {
		bench_print_series("nng REQ/REP, 64 contexts, tls+tcp, 1 KiB each way",
				   "round trips/s", &s[1].rr);
	}
	for (int tls = 0; tls < 2; tls++) {
		char what[160];
		if (s[tls].floor.n == 0) {
			continue;
		}
		/* The design's floor without its durability: the transport and
		 * the one Ed25519 check per envelope, nothing stored. */
		snprintf(what, sizeof(what),
			 "nng REQ/REP, 64 contexts, %s, server verifies one Ed25519 signature per "
			 "1 KiB request",
			 tls ? "tls+tcp" : "tcp");
		bench_print_series(what, "round trips/s", &s[tls].floor);
		printf("  ratio of that floor / one core's ed25519 verify rate: %.3f\n",
		       bench_series_median(&s[tls].floor) / bench_series_median(&s[tls].ed));
	}
	for (int tls = 0; tls < 2; tls++) {
		struct tp_series *t = &s[tls];
		const char *name = tls ? "tls+tcp" : "tcp";
		char what[128];
		if (t->ed.n == 0) {
			continue; /* left out with BENCH_TRANSPORT */
		}
		printf("\nrelay durable throughput over %s\n", name);
		bench_print_series("node client (relay_client, receipts verified)", "envelopes/s",
				   &t->client);
		bench_print_series("raw client (MACed beforehand, receipts verified after)",
				   "envelopes/s", &t->raw);
		bench_print_series("relay CPU per envelope, node client", "us", &t->relay_us);
		bench_print_series("client process CPU per envelope, node client", "us",
				   &t->client_us);
		bench_print_series("relay CPU per envelope, raw client", "us", &t->raw_relay_us);
		/* The loop thread is the relay's serial part: with a core to
		 * itself, the relay cannot exceed 1 s / this. */
		bench_print_series("relay loop thread CPU per envelope, node client", "us",
				   &t->loop_us);
		bench_print_series("relay loop thread CPU per envelope, raw client", "us",
				   &t->raw_loop_us);
		bench_print_series("envelopes per commit (group commit), node client", "",
				   &t->batch);
		bench_print_series("ed25519 verify, one core, same runs", "/s", &t->ed);
		snprintf(what, sizeof(what), "%s node client / one core's ed25519 verify rate",
			 name);
		bench_print_ratio(what, bench_series_median(&t->ratio), ">=", tls ? 0.5 : 0.75);
		snprintf(what, sizeof(what), "%s raw client / one core's ed25519 verify rate",
			 name);
		bench_print_ratio(what, bench_series_median(&t->raw_ratio), ">=", tls ? 0.5 : 0.75);
		printf("  ratio %s node client / nng 64-context round trips: %.3f\n", name,
		       bench_series_median(&t->client) / bench_series_median(&t->rr));
		printf("  ratio %s node client / nng round trips with one verification each:"
		       " %.3f (raw client %.3f)\n",
		       name, bench_series_median(&t->client) / bench_series_median(&t->floor),
		       bench_series_median(&t->raw) / bench_series_median(&t->floor));
		printf("  ratio %s node client / sqlite 1-row commits: %.3f; / 100-row commits x "
		       "100:"
		       " %.3f\n",
		       name, bench_series_median(&t->client) / bench_series_median(&sql1),
		       bench_series_median(&t->client) / (100 * bench_series_median(&sql100)));
	}
	depth_sweep(quick);
	printf("\n");
	sealed_set_free(&set);
	for (size_t i = 0; i <= recipients; i++) {
		keys_free(states[i]);
	}
	refs_server_stop(&srv[0]);
	refs_server_stop(&srv[1]);
	bench_print_final("throughput", bench_series_median(&s[0].ratio));
	return 0;
}
