/*
 * attach.c: benchmark 4, attachments through the relay.
 *
 * One attachment stream of BENCH_ATTACH_MIB MiB (1024 by default, 64 with
 * --quick) is uploaded by FRA through the node's relay client in pieces of
 * 512 KiB, exactly as divexd's outbox does (NODE_ATTACH_PIECE in
 * daemon/node/node.h; node_outbox.c): two pieces on their way at once, one
 * stored by the relay while the next crosses the network; FRA then submits an envelope that names it, and MEX
 * downloads it the way divexd's inbox does. The bytes are random: the relay
 * stores ciphertext it cannot read and never looks inside. A fresh relay
 * per run and transport.
 *
 * Reported: upload and download MB/s (10^6 bytes per second), and the peak
 * resident memory of the relay and of this client process during each
 * phase, as growth over the resident size when the phase began (VmHWM reset
 * through /proc/PID/clear_refs). References, same run: raw nng bulk MB/s
 * with the same piece size and shape over the same transport, and
 * libsodium's secretstream MB/s (the encryption the CLI applies before a
 * node ever sees the stream), and the disk's rate for the same pieces each
 * followed by fdatasync (a durable upload can go no faster). Targets:
 * >= 0.5 x raw nng; RSS growth <= 32 MiB whatever the size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "brelay.h"
#include "refs.h"
#include "util.h"

#define PIECE (512 * 1024)
#define MIB (1024.0 * 1024.0)

struct xfer {
	uv_loop_t loop;
	struct relay_client *c;
	uint8_t id[RELAY_ATTACHMENT_ID_LEN];
	uint8_t digest[ENVELOPE_HASH_LEN];
	uint8_t *piece;
	uint64_t total, moved, sent;
	unsigned flight;
	int done, rc, closed;
};

static void run_loop(struct xfer *x, int *flag)
{
	while (!*flag) {
		uv_run(&x->loop, UV_RUN_ONCE);
	}
}

static void on_upload(void *arg, int rc, uint64_t received);

/* Two pieces on their way at once once the relay's count is known, one
 * before, as node_outbox.c does (UPLOAD_AHEAD). */
static void upload_next(struct xfer *x)
{
	while (x->flight < (x->moved > 0 ? 2u : 1u) && x->sent < x->total) {
		size_t n = x->total - x->sent < PIECE ? (size_t)(x->total - x->sent) : PIECE;
		/* Fresh bytes in every piece, as a real stream would have. */
		memcpy(x->piece, &x->sent, sizeof(x->sent));
		BENCH_CHECK(relay_client_upload(x->c, x->id, x->sent, x->piece, n, x->total,
						on_upload, x));
		x->flight++;
		x->sent += n;
	}
}

static void on_upload(void *arg, int rc, uint64_t received)
{
	struct xfer *x = arg;
	x->flight--;
	if (rc != DX_OK || received > x->total) {
		x->rc = rc != DX_OK ? rc : DX_EINVAL;
		x->done = 1;
		return;
	}
	/* Answers may come in either order: the larger count stands. */
	x->moved = received > x->moved ? received : x->moved;
	if (x->moved == x->total) {
		x->done = x->flight == 0;
		return;
	}
	upload_next(x);
}

static void on_download(void *arg, int rc, const uint8_t *data, size_t len, uint64_t total)
{
	struct xfer *x = arg;
	(void)data;
	if (rc != DX_OK || len == 0 || total != x->total) {
		x->rc = rc != DX_OK ? rc : DX_EINVAL;
		x->done = 1;
		return;
	}
	x->moved += len;
	if (x->moved == x->total) {
		x->done = 1;
		return;
	}
	BENCH_CHECK(relay_client_download(x->c, x->id, x->digest, x->moved, PIECE, on_download, x));
}

static void on_receipt(void *arg, int rc, const struct relay_receipt_info *r)
{
	struct xfer *x = arg;
	(void)r;
	x->rc = rc;
	x->done = 1;
}

static void on_closed(void *arg)
{
	((struct xfer *)arg)->closed = 1;
}

static void open_client(struct xfer *x, const struct brelay *r, const struct keys *k)
{
	struct relay_client_config cfg = brelay_client_config(r, k, 4);
	BENCH_CHECK(uv_loop_init(&x->loop));
	BENCH_CHECK(relay_client_open(&x->loop, &cfg, &x->c));
}

static void close_client(struct xfer *x)
{
	while (relay_client_in_flight(x->c) > 0) {
		uv_run(&x->loop, UV_RUN_ONCE);
	}
	relay_client_close(x->c, on_closed, x);
	run_loop(x, &x->closed);
	uv_run(&x->loop, UV_RUN_DEFAULT);
	BENCH_CHECK(uv_loop_close(&x->loop));
}

struct att_series {
	struct bench_series up, down, ref_up, ref_down, r_up, r_down, relay_up_rss, relay_down_rss,
		self_up_rss, self_down_rss, relay_hwm, r_disk;
};

static double growth_mib(pid_t pid, long base_kib)
{
	return (double)(bench_proc_hwm_kib(pid) - base_kib) / 1024.0;
}

static void one_run(int tls, uint64_t total, struct keys *const *states, struct att_series *s)
{
	struct brelay r;
	struct brelay_opts o = { .tls = tls };
	struct xfer *x = calloc(1, sizeof(*x));
	BENCH_CHECK(x == NULL);
	x->piece = malloc(PIECE);
	BENCH_CHECK(x->piece == NULL);
	bench_random(x->piece, PIECE);
	bench_random(x->id, sizeof(x->id));
	x->total = total;
	BENCH_CHECK(brelay_fresh(&r, &o, states, 2));
	pid_t self = getpid();

	open_client(x, &r, states[0]);
	BENCH_CHECK(bench_proc_reset_hwm(r.proc.pid));
	BENCH_CHECK(bench_proc_reset_hwm(self));
	long relay0 = bench_proc_rss_kib(r.proc.pid), self0 = bench_proc_rss_kib(self);
	uint64_t t0 = bench_now_ns();
	upload_next(x);
	run_loop(x, &x->done);
	double secs = (double)(bench_now_ns() - t0) / 1e9;
	BENCH_CHECK(x->rc);
	bench_series_add(&s->up, (double)total / 1e6 / secs);
	bench_series_add(&s->relay_up_rss, growth_mib(r.proc.pid, relay0));
	bench_series_add(&s->self_up_rss, growth_mib(self, self0));

	/* The envelope that names the attachment, so that MEX may download it. */
	struct seal_peer mex;
	struct envelope_info info;
	size_t len;
	uint8_t body[64] = { 0 };
	bench_peer(states[1], &mex);
	uint8_t *env = bench_seal(states[0], &mex, body, sizeof(body), (const uint8_t(*)[16])x->id,
				  1, &len, &info);
	memcpy(x->digest, info.digest, sizeof(x->digest));
	x->done = 0;
	BENCH_CHECK(relay_client_submit(x->c, env, len, on_receipt, x));
	run_loop(x, &x->done);
	BENCH_CHECK(x->rc);
	free(env);
	close_client(x);

	open_client(x, &r, states[1]);
	x->done = 0;
	x->moved = 0;
	BENCH_CHECK(bench_proc_reset_hwm(r.proc.pid));
	BENCH_CHECK(bench_proc_reset_hwm(self));
	relay0 = bench_proc_rss_kib(r.proc.pid);
	self0 = bench_proc_rss_kib(self);
	t0 = bench_now_ns();
	BENCH_CHECK(relay_client_download(x->c, x->id, x->digest, 0, PIECE, on_download, x));
	run_loop(x, &x->done);
	secs = (double)(bench_now_ns() - t0) / 1e9;
	BENCH_CHECK(x->rc);
	bench_series_add(&s->down, (double)total / 1e6 / secs);
	bench_series_add(&s->relay_down_rss, growth_mib(r.proc.pid, relay0));
	bench_series_add(&s->self_down_rss, growth_mib(self, self0));
	bench_series_add(&s->relay_hwm, (double)bench_proc_hwm_kib(r.proc.pid) / 1024.0);
	close_client(x);
	brelay_discard(&r);
	free(x->piece);
	free(x);
}

int main(void)
{
	/* The node's client runs in this process: set up as in divexd. */
	dx_malloc_for_messages();
	int runs = bench_runs(), quick = bench_quick();
	uint64_t mib = quick ? 64 : 1024;
	if (getenv("BENCH_ATTACH_MIB") != NULL) {
		mib = strtoull(getenv("BENCH_ATTACH_MIB"), NULL, 10);
	}
	uint64_t total = mib << 20;
	struct refs_server srv[2];
	struct att_series s[2];
	struct bench_series ss, disk;
	struct keys *states[2];
	memset(s, 0, sizeof(s));
	memset(&ss, 0, sizeof(ss));
	memset(&disk, 0, sizeof(disk));
	BENCH_CHECK(refs_server_start(&srv[0], 0, bench_tmpdir()));
	BENCH_CHECK(refs_server_start(&srv[1], 1, bench_tmpdir()));
	states[0] = bench_state("FRA", 0);
	states[1] = bench_state("MEX", 0);
	printf("attachments: %llu MiB up and down, pieces of %d KiB, one outstanding, %d runs\n",
	       (unsigned long long)mib, PIECE / 1024, runs);
	fflush(stdout);
	for (int run = 0; run < runs; run++) {
		for (int tls = 0; tls < 2; tls++) {
			struct att_series *t = &s[tls];
			/* The raw reference carries the same bytes in the same pieces. */
			double ru = refs_nng_bulk(&srv[tls], 1, total, PIECE);
			double rd = refs_nng_bulk(&srv[tls], 0, total, PIECE);
			bench_series_add(&t->ref_up, ru);
			bench_series_add(&t->ref_down, rd);
			double dk = refs_fsync_write_rate(bench_tmpdir(), total, PIECE);
			bench_series_add(&disk, dk);
			one_run(tls, total, states, t);
			bench_series_add(&t->r_disk, t->up.v[t->up.n - 1] / dk);
			bench_series_add(&t->r_up, t->up.v[t->up.n - 1] / ru);
			bench_series_add(&t->r_down, t->down.v[t->down.n - 1] / rd);
			printf("  run %d %s: upload %.1f MB/s (raw nng %.1f), download %.1f MB/s "
			       "(raw"
			       " nng %.1f); relay peak growth %.1f / %.1f MiB\n",
			       run + 1, tls ? "tls+tcp" : "tcp", t->up.v[t->up.n - 1], ru,
			       t->down.v[t->down.n - 1], rd,
			       t->relay_up_rss.v[t->relay_up_rss.n - 1],
			       t->relay_down_rss.v[t->relay_down_rss.n - 1]);
			fflush(stdout);
		}
		bench_series_add(&ss, refs_secretstream_rate(quick ? 64ull << 20 : 256ull << 20));
	}
	printf("\nreferences (same run)\n");
	bench_print_series("secretstream xchacha20poly1305 push, 64 KiB chunks", "MB/s", &ss);
	bench_print_series("disk: 512 KiB writes, each followed by fdatasync", "MB/s", &disk);
	double worst = 1e9, worst_rss = 0;
	for (int tls = 0; tls < 2; tls++) {
		struct att_series *t = &s[tls];
		const char *n = tls ? "tls+tcp" : "tcp";
		char what[160];
		printf("\nattachments over %s\n", n);
		bench_print_series("raw nng bulk, 512 KiB requests (upload shape)", "MB/s",
				   &t->ref_up);
		bench_print_series("raw nng bulk, 512 KiB replies (download shape)", "MB/s",
				   &t->ref_down);
		bench_print_series("upload through the relay", "MB/s", &t->up);
		bench_print_series("download through the relay", "MB/s", &t->down);
		bench_print_series("relay peak RSS growth, upload", "MiB", &t->relay_up_rss);
		bench_print_series("relay peak RSS growth, download", "MiB", &t->relay_down_rss);
		bench_print_series("relay peak RSS (VmHWM) after download", "MiB", &t->relay_hwm);
		bench_print_series("client process peak RSS growth, upload", "MiB",
				   &t->self_up_rss);
		bench_print_series("client process peak RSS growth, download", "MiB",
				   &t->self_down_rss);
		snprintf(what, sizeof(what), "%s upload / raw nng bulk", n);
		bench_print_ratio(what, bench_series_median(&t->r_up), ">=", 0.5);
		snprintf(what, sizeof(what), "%s download / raw nng bulk", n);
		bench_print_ratio(what, bench_series_median(&t->r_down), ">=", 0.5);
		printf("  ratio %s upload / secretstream: %.3f\n", n,
		       bench_series_median(&t->up) / bench_series_median(&ss));
		printf("  ratio %s upload / disk with fdatasync per piece: %.3f\n", n,
		       bench_series_median(&t->r_disk));
		double m = bench_series_median(&t->r_up) < bench_series_median(&t->r_down)
				   ? bench_series_median(&t->r_up)
				   : bench_series_median(&t->r_down);
		worst = m < worst ? m : worst;
		double rss[] = { bench_series_max(&t->relay_up_rss),
				 bench_series_max(&t->relay_down_rss),
				 bench_series_max(&t->self_up_rss),
				 bench_series_max(&t->self_down_rss) };
		for (size_t i = 0; i < 4; i++) {
			worst_rss = rss[i] > worst_rss ? rss[i] : worst_rss;
		}
	}
	printf("\n");
	bench_print_ratio("largest peak RSS growth of any process / 32 MiB", worst_rss / 32.0,
			  "<=", 1.0);
	keys_free(states[0]);
	keys_free(states[1]);
	refs_server_stop(&srv[0]);
	refs_server_stop(&srv[1]);
	bench_print_final("attach", worst);
	return 0;
}
