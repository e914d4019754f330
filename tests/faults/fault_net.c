/*
 * fault_net.c: the network fault campaign. State nodes reach their relay
 * through fault proxies (faultproxy.h) and must deliver every message
 * exactly once, with the bytes of every attachment intact, no alarm, and
 * every daemon still answering, whatever the link does:
 *
 *   proxy      the proxy itself, against an echo server: shaping keeps the
 *              bytes, a cut and a refusal reset, a black hole swallows;
 *   cuts       both links cut every few hundred ms (FIN and RST in turn)
 *              during a stream of messages;
 *   shaped     latency, jitter, a bandwidth limit and writes split into
 *              small pieces, during messages with attachments;
 *   black hole the sender's connection becomes half-open (its bytes vanish,
 *              nothing closes); after the proxy passes again, the time until
 *              the node delivers and receives again is measured;
 *   restart    the relay restarted (SIGKILL, SIGTERM) mid-upload and
 *              mid-download of a large attachment: the bytes through the
 *              proxies prove that each transfer resumed instead of starting
 *              over;
 *   flapping   two senders on flapping links while a pair of nodes on direct
 *              links exchange messages: their latency, with and without the
 *              flapping, is reported (not asserted: it depends on the load
 *              of the machine).
 * Over tcp://, and the black hole, the restarts and the cuts again over
 * tls+tcp:// (whose transport in nng 1.5.2 needs the client's redial, see
 * daemon/core/bridge_client.c).
 *
 * The bounded form runs in ctest; DIVEX_FAULTS_FULL=1 (tests/faults/run
 * --full net) runs the long one (more messages, several black holes up to
 * 60 s, a 1 GiB attachment). DIVEX_FAULTS_ONLY=PATTERN runs only the
 * matching scenarios (cmocka's test filter, e.g. "*black_hole"). Figures
 * are printed as "fault_net: ..." lines.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "faultproxy.h"
#include "netfix.h"
#include "testlib.h"

#define FRA 0
#define MEX 1
#define BFA 2
#define NZL 3
#define LAT_MAX 64
/* The bounded or the full value of a parameter. */
#define PICK(bounded, full) (fnet_full() ? (full) : (bounded))

static struct fnet TCP, TLS;
static const char *const STATES[] = { "FRA", "MEX", "BFA", "NZL" };

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

/* ---- scenario 1: cuts ---- */

static void run_cuts(struct fnet *f, const char *tag, int count)
{
	static char ids[NF_COUNT_MAX][33];
	char subject[64], text[128], eid[33];
	struct tnode *a = &f->t.nodes[FRA], *b = &f->t.nodes[MEX];
	struct fproxy_stats sa, sb;
	struct fproxy *pa = fnet_proxy(f, FRA), *pb = fnet_proxy(f, MEX);
	fnet_calm(f);
	/*
	 * Both links, out of phase, so that sending and receiving are both cut:
	 * every 250 and 310 ms until everything is delivered, and besides, the
	 * sender's link right after each message is queued and the recipient's
	 * after every third (with RST and FIN in turn).
	 */
	fproxy_flap(pa, 250, 0);
	fproxy_flap(pb, 310, 0);
	long t0 = tn_now_ms();
	for (int i = 0; i < count; i++) {
		snprintf(subject, sizeof(subject), "%s %d.", tag, i);
		snprintf(text, sizeof(text), "Message %d of a stream cut again and again.", i);
		tnode_send(&f->t, a, "MEX", subject, text, NULL, ids[i]);
		fproxy_cut(pa, i & 1);
		if (i % 3 == 0) {
			fproxy_cut(pb, !(i & 1));
		}
	}
	fnet_wait_all(f, b, "FRA", tag, count, 1, PICK(90000, 300000));
	fnet_wait_receipted(f, a, ids, count, TN_DELIVER_MS);
	long took = tn_now_ms() - t0;
	fproxy_get_stats(pa, &sa);
	fproxy_get_stats(pb, &sb);
	fnet_calm(f);
	/* The bytes of one of them, end to end. */
	snprintf(subject, sizeof(subject), "%s %d.", tag, count / 2);
	fnet_find(f, b, "FRA", subject, eid);
	json_t *payload = NULL;
	json_t *r = tnode_read(&f->t, b, eid, &payload);
	snprintf(text, sizeof(text), "Message %d of a stream cut again and again.", count / 2);
	if (strcmp(tj_str(payload, "text"), text) != 0) {
		TN_FAIL(&f->t, "message %s arrived as \"%.200s\"", subject,
			tj_str(payload, "text"));
	}
	json_decref(r);
	fnet_check_sequences(f, b, "FRA");
	fnet_check_health(f);
	fnet_figure("cuts over %s: %d messages delivered exactly once in %ld ms; the sender's "
		    "proxy cut %llu connections (of %llu accepted), the recipient's %llu (of %llu)",
		    f->t.use_tls ? "tls+tcp" : "tcp", count, took, (unsigned long long)sa.cut,
		    (unsigned long long)sa.accepted, (unsigned long long)sb.cut,
		    (unsigned long long)sb.accepted);
}

static void test_cuts(void **state)
{
	run_cuts(&TCP, "cut", PICK(20, 200));
}

static void test_tls_cuts(void **state)
{
	run_cuts(&TLS, "tls cut", PICK(10, 100));
}

/* ---- scenario 2: shaped link, attachments ---- */

static void test_shaped(void **state)
{
	struct fnet *f = &TCP;
	static const struct {
		const char *name;
		uint64_t size;
	} files[] = { { "empty.bin", 0 }, { "two-chunks.bin", 70000 }, { "large.bin", 0 } };
	char paths[3][700], save[700], got[800], subject[64], id[33], eid[33], name[64];
	const char *attach[4];
	struct tnode *a = &f->t.nodes[FRA], *b = &f->t.nodes[MEX];
	uint64_t large = PICK(2, 16) * NF_MIB;
	struct fproxy_shape shape = { .delay_ms = 20,
				      .jitter_ms = 30,
				      .rate_bps = PICK(4, 16) * NF_MIB,
				      .split_max = 1500,
				      .split_gap_ms = 0 };
	struct fproxy_stats s0, s1;
	fnet_calm(f);
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "shaped-%s", files[i].name);
		fnet_path(paths[i], sizeof(paths[i]), f->t.dir, name);
		fnet_big_file(paths[i], i == 2 ? large : files[i].size, 40 + (unsigned)i);
		attach[i] = paths[i];
	}
	attach[3] = NULL;
	fproxy_get_stats(fnet_proxy(f, FRA), &s0);
	fproxy_set_shape(fnet_proxy(f, FRA), &shape);
	fproxy_set_shape(fnet_proxy(f, MEX), &shape);
	long t0 = tn_now_ms();
	snprintf(subject, sizeof(subject), "shaped 0.");
	tnode_send(&f->t, a, "MEX", subject, "Three files over a slow, chopped link.", attach, id);
	fnet_wait_all(f, b, "FRA", "shaped", 1, 1, PICK(90000, 600000));
	long took = tn_now_ms() - t0;
	fproxy_get_stats(fnet_proxy(f, FRA), &s1);
	fnet_calm(f);
	fnet_find(f, b, "FRA", subject, eid);
	fnet_path(save, sizeof(save), f->t.dir, "shaped-saved");
	assert_int_equal(mkdir(save, 0700), 0);
	json_decref(TN_CLI_OK(&f->t, b, "read", eid, "--save", save));
	for (int i = 0; i < 3; i++) {
		fnet_path(got, sizeof(got), save, strrchr(paths[i], '/') + 1);
		if (!fnet_same_file(paths[i], got)) {
			TN_FAIL(&f->t, "%s did not arrive intact (%s)", paths[i], got);
		}
	}
	fnet_wait_receipted(f, a, &id, 1, TN_DELIVER_MS);
	fnet_check_sequences(f, b, "FRA");
	fnet_check_health(f);
	uint64_t up = s1.up_bytes - s0.up_bytes, writes = s1.writes - s0.writes;
	fnet_figure("shaped link (latency 20 ms + 0..30 ms, %llu MiB/s, pieces of 1..1500 "
		    "bytes): attachments of 0 B, 70000 B and %llu MiB delivered intact in %ld "
		    "ms; the sender's proxy wrote %llu bytes in %llu pieces (%.0f bytes each on "
		    "average)",
		    (unsigned long long)(shape.rate_bps / NF_MIB),
		    (unsigned long long)(large / NF_MIB), took, (unsigned long long)up,
		    (unsigned long long)writes, writes > 0 ? (double)up / (double)writes : 0.0);
}

/* ---- scenario 3: black hole ---- */

/* Whether from's outbox item id is receipted. */
static int receipted(struct fnet *f, const struct tnode *from, const char *id)
{
	json_t *j = TN_CLI_OK(&f->t, from, "outbox", "--limit", "1000");
	json_t *items = json_object_get(j, "items");
	int yes = 0;
	for (size_t i = 0; i < json_array_size(items); i++) {
		json_t *it = json_array_get(items, i);
		if (strcmp(tj_str(it, "message_id"), id) == 0) {
			yes = strcmp(tj_str(it, "state"), "receipted") == 0;
		}
	}
	json_decref(j);
	return yes;
}

/* Whether n's inbox holds subject from sender. */
static int arrived(struct fnet *f, const struct tnode *n, const char *sender, const char *subject)
{
	char eid[33];
	fnet_find(f, n, sender, subject, eid);
	return eid[0] != '\0';
}

static void run_black_hole(struct fnet *f, const char *proto, long hold)
{
	char tag[32];
	char out_id[33], in_id[33], warm[33], s_out[64], s_in[64], s_warm[64];
	struct tnode *a = &f->t.nodes[FRA], *b = &f->t.nodes[MEX];
	struct fproxy *px = fnet_proxy(f, FRA);
	struct fproxy_stats st0, st;
	long limit = PICK(60000, 300000);
	snprintf(tag, sizeof(tag), "%shole%ld", proto, hold);
	fnet_calm(f);
	/* A link in use: FRA holds an open connection when the hole opens. */
	snprintf(s_warm, sizeof(s_warm), "%s warm.", tag);
	tnode_send(&f->t, a, "MEX", s_warm, "Before the hole.", NULL, warm);
	fnet_wait_receipted(f, a, &warm, 1, TN_DELIVER_MS);
	fproxy_get_stats(px, &st0);
	fproxy_set_mode(px, FPROXY_BLACKHOLE);
	snprintf(s_out, sizeof(s_out), "%s out.", tag);
	snprintf(s_in, sizeof(s_in), "%s in.", tag);
	tnode_send(&f->t, a, "MEX", s_out, "Sent into a black hole.", NULL, out_id);
	tnode_send(&f->t, b, "FRA", s_in, "Sent to a node behind a black hole.", NULL, in_id);
	/* The fault lasts this long; nothing here waits for a condition. */
	sleep_ms(hold);
	if (receipted(f, a, out_id) || arrived(f, a, "MEX", s_in)) {
		TN_FAIL(&f->t, "a message crossed the black hole");
	}
	fproxy_set_mode(px, FPROXY_PASS);
	long t0 = tn_now_ms(), t_out = -1, t_in = -1;
	while ((t_out < 0 || t_in < 0) && tn_now_ms() - t0 < limit) {
		if (t_out < 0 && receipted(f, a, out_id)) {
			t_out = tn_now_ms() - t0;
		}
		if (t_in < 0 && arrived(f, a, "MEX", s_in)) {
			t_in = tn_now_ms() - t0;
		}
		sleep_ms(50);
	}
	fproxy_get_stats(px, &st);
	fnet_figure("black hole over %s for %ld ms: after the link passed again, FRA's message "
		    "was receipted after %ld ms and MEX's reached FRA after %ld ms (-1: not "
		    "within %ld ms); %llu connections black-holed, %llu bytes swallowed",
		    f->t.use_tls ? "tls+tcp" : "tcp", hold, t_out, t_in, limit,
		    (unsigned long long)(st.black_holed - st0.black_holed),
		    (unsigned long long)(st.dropped_bytes - st0.dropped_bytes));
	if (t_out < 0 || t_in < 0) {
		TN_FAIL(&f->t,
			"FRA did not recover from a half-open connection within %ld ms after the "
			"link passed again (sending %s, receiving %s)",
			limit, t_out < 0 ? "stuck" : "recovered", t_in < 0 ? "stuck" : "recovered");
	}
	json_decref(tnode_wait_inbox(&f->t, b, "FRA", s_out, 1, TN_DELIVER_MS));
	fnet_wait_receipted(f, b, &in_id, 1, TN_DELIVER_MS);
	fnet_check_sequences(f, b, "FRA");
	fnet_check_sequences(f, a, "MEX");
	fnet_check_health(f);
}

/*
 * A hole shorter than the node's request timeout (5 s here) is over by the
 * time the node gives up on its dead connection, so the next one passes; a
 * longer one makes the node dial again into the hole, where the new
 * connection hangs in nng's handshake until nng gives up on it too.
 */
static void test_black_hole(void **state)
{
	static const long bounded[] = { 7000 }, full[] = { 3000, 7000, 20000, 60000 };
	size_t n = fnet_full() ? sizeof(full) / sizeof(full[0]) : 1;
	for (size_t i = 0; i < n; i++) {
		run_black_hole(&TCP, "", fnet_full() ? full[i] : bounded[i]);
	}
}

static void test_tls_black_hole(void **state)
{
	static const long bounded[] = { 7000 }, full[] = { 3000, 20000 };
	size_t n = fnet_full() ? sizeof(full) / sizeof(full[0]) : 1;
	for (size_t i = 0; i < n; i++) {
		run_black_hole(&TLS, "tls ", fnet_full() ? full[i] : bounded[i]);
	}
}

/* ---- scenario 4: the relay restarted mid-transfer ---- */

/* Waits until the proxy has moved at least want bytes since base, one way. */
static void wait_bytes(struct fnet *f, struct fproxy *px, int up, uint64_t base, uint64_t want,
		       long deadline_ms)
{
	struct fproxy_stats s;
	long end = tn_now_ms() + deadline_ms;
	for (;;) {
		fproxy_get_stats(px, &s);
		uint64_t moved = (up ? s.up_bytes : s.down_bytes) - base;
		if (moved >= want) {
			return;
		}
		if (tn_now_ms() >= end) {
			TN_FAIL(&f->t, "only %llu of %llu bytes moved %s in %ld ms",
				(unsigned long long)moved, (unsigned long long)want,
				up ? "up" : "down", deadline_ms);
		}
		sleep_ms(5);
	}
}

static void restart_relay(struct fnet *f, int sig, const char *when)
{
	int rc = trelay_stop(&f->t.relay, sig);
	int want = sig == SIGKILL ? 128 + SIGKILL : 0;
	if (rc != want) {
		TN_FAIL(&f->t, "the relay exited %d after signal %d %s, want %d", rc, sig, when,
			want);
	}
	trelay_start(&f->t.relay);
}

/* The stream size of an attachment of size bytes (PROTOCOL.md 6.3). */
static uint64_t stream_size(uint64_t size)
{
	uint64_t n = size == 0 ? 1 : (size + 65535) / 65536;
	return 24 + 65553 * (n - 1) + (size - 65536 * (n - 1)) + 17;
}

static void run_restart(struct fnet *f, uint64_t size)
{
	struct tnode *a = &f->t.nodes[FRA], *b = &f->t.nodes[MEX];
	struct fproxy *pa = fnet_proxy(f, FRA), *pb = fnet_proxy(f, MEX);
	uint64_t stream = stream_size(size);
	char path[700], save[700], got[800], id[33], eid[33], name[64];
	const char *attach[2];
	struct fproxy_stats a0, b0, a1, b1;
	/* Generous: 1 MiB/s at least, 2 minutes for the restarts themselves. */
	long deadline = 120000 + (long)(size / NF_MIB) * 1000;
	uint64_t room = fnet_free_bytes(f->t.dir);
	if (room < 7 * size) {
		fprintf(stderr, "test_restart: skipped: %llu MiB free in %s, %llu MiB needed\n",
			(unsigned long long)(room / NF_MIB), f->t.dir,
			(unsigned long long)(7 * size / NF_MIB));
		skip();
	}
	fnet_calm(f);
	snprintf(name, sizeof(name), "restart-%llu-MiB.bin", (unsigned long long)(size / NF_MIB));
	fnet_path(path, sizeof(path), f->t.dir, name);
	long g0 = tn_now_ms();
	fnet_big_file(path, size, 77);
	long gen = tn_now_ms() - g0;
	attach[0] = path;
	attach[1] = NULL;
	/* Slow enough that each restart lands mid-transfer, whatever the machine. */
	struct fproxy_shape shape = { .rate_bps = PICK(size / 3, 0) };
	fproxy_set_shape(pa, &shape);
	fproxy_set_shape(pb, &shape);
	fproxy_get_stats(pa, &a0);
	fproxy_get_stats(pb, &b0);
	long t0 = tn_now_ms();
	tnode_send(&f->t, a, "MEX", "restart 0.", "One large file, the relay restarting.", attach,
		   id);
	long handed = tn_now_ms() - t0;
	wait_bytes(f, pa, 1, a0.up_bytes, stream / 3, deadline);
	restart_relay(f, SIGKILL, "mid-upload");
	wait_bytes(f, pa, 1, a0.up_bytes, 2 * stream / 3, deadline);
	restart_relay(f, SIGTERM, "mid-upload");
	wait_bytes(f, pb, 0, b0.down_bytes, stream / 3, deadline);
	restart_relay(f, SIGTERM, "mid-download");
	wait_bytes(f, pb, 0, b0.down_bytes, 2 * stream / 3, deadline);
	restart_relay(f, SIGKILL, "mid-download");
	fnet_wait_all(f, b, "FRA", "restart", 1, 1, deadline);
	long took = tn_now_ms() - t0;
	fproxy_get_stats(pa, &a1);
	fproxy_get_stats(pb, &b1);
	fnet_calm(f);
	fnet_wait_receipted(f, a, &id, 1, TN_DELIVER_MS);
	fnet_find(f, b, "FRA", "restart 0.", eid);
	fnet_path(save, sizeof(save), f->t.dir, "restart-saved");
	assert_int_equal(mkdir(save, 0700), 0);
	json_decref(TN_CLI_OK(&f->t, b, "read", eid, "--save", save));
	fnet_path(got, sizeof(got), save, name);
	if (!fnet_same_file(path, got)) {
		TN_FAIL(&f->t, "the large attachment did not arrive intact (%s)", got);
	}
	uint64_t up = a1.up_bytes - a0.up_bytes, down = b1.down_bytes - b0.down_bytes;
	fnet_figure("over %s, relay restarted 4 times (SIGKILL and SIGTERM at 1/3 and 2/3 of the "
		    "upload, "
		    "SIGTERM and SIGKILL at 1/3 and 2/3 of the download) while %llu MiB (stream "
		    "%llu bytes) crossed: written in %ld ms, handed to divexd in %ld ms, "
		    "delivered in %ld ms; bytes sent to the relay %llu (%.3f x the stream), "
		    "bytes received from it %llu (%.3f x)",
		    f->t.use_tls ? "tls+tcp" : "tcp", (unsigned long long)(size / NF_MIB),
		    (unsigned long long)stream, gen, handed, took, (unsigned long long)up,
		    (double)up / (double)stream, (unsigned long long)down,
		    (double)down / (double)stream);
	/*
	 * A transfer that started over after a restart at 2/3 would move at
	 * least 1.66 times the stream. Resuming costs, for each of the two
	 * restarts that hit a direction, at most five 512 KiB pieces (the two
	 * a node keeps on their way, each lost and then resent by nng into a
	 * session the restarted relay forgot, and the first piece resent to
	 * learn the offset), and the requests' own bytes are well under 5%: a
	 * bound that a restart from zero cannot meet, even for 16 MiB.
	 */
	uint64_t bound = stream + stream / 20 + 2 * 5 * NF_MIB / 2;
	if (up >= bound || down >= bound || up >= 2 * stream || down >= 2 * stream) {
		TN_FAIL(&f->t,
			"a transfer did not resume: %llu bytes up, %llu down for a stream "
			"of %llu (bound %llu)",
			(unsigned long long)up, (unsigned long long)down,
			(unsigned long long)stream, (unsigned long long)bound);
	}
	unlink(path);
	unlink(got);
	fnet_check_sequences(f, b, "FRA");
	fnet_check_health(f);
}

static void test_restart(void **state)
{
	run_restart(&TCP, PICK(48, 1024) * NF_MIB);
}

static void test_tls_restart(void **state)
{
	run_restart(&TLS, PICK(16, 128) * NF_MIB);
}

/* ---- scenario 5: flapping senders, direct neighbours ---- */

/* Sends one message from a to b and returns the ms until it is in b's inbox. */
static long one_trip(struct fnet *f, const struct tnode *a, const struct tnode *b,
		     const char *subject)
{
	char id[33];
	long t0 = tn_now_ms();
	tnode_send(&f->t, a, b->state, subject, "How long does this take?", NULL, id);
	while (!arrived(f, b, a->state, subject)) {
		if (tn_now_ms() - t0 > TN_DELIVER_MS) {
			TN_FAIL(&f->t, "%s never reached %s", subject, b->state);
		}
		sleep_ms(10);
	}
	return tn_now_ms() - t0;
}

static int cmp_long(const void *x, const void *y)
{
	long a = *(const long *)x, b = *(const long *)y;
	return (a > b) - (a < b);
}

/* Measures k trips NZL -> BFA; median and maximum in ms. */
static void trips(struct fnet *f, const char *tag, int k, long *median, long *max)
{
	long lat[LAT_MAX];
	char subject[64];
	assert_true(k <= LAT_MAX);
	for (int i = 0; i < k; i++) {
		snprintf(subject, sizeof(subject), "%s %d.", tag, i);
		lat[i] = one_trip(f, &f->t.nodes[NZL], &f->t.nodes[BFA], subject);
	}
	qsort(lat, (size_t)k, sizeof(lat[0]), cmp_long);
	*median = lat[k / 2];
	*max = lat[k - 1];
}

static void test_flapping(void **state)
{
	struct fnet *f = &TCP;
	struct tnode *a = &f->t.nodes[FRA], *b = &f->t.nodes[MEX];
	int k = PICK(6, 30), burst = PICK(12, TN_BURST_MAX);
	long base_med, base_max, flap_med, flap_max;
	static char ids_a[TN_BURST_MAX][33], ids_b[TN_BURST_MAX][33];
	struct fproxy_stats sa, sb;
	fnet_calm(f);
	trips(f, "direct calm", k, &base_med, &base_max);
	fproxy_flap(fnet_proxy(f, FRA), 500, 300);
	fproxy_flap(fnet_proxy(f, MEX), 430, 250);
	long t0 = tn_now_ms();
	tnode_send_burst(&f->t, a, "MEX", "flap from FRA", burst, ids_a);
	tnode_send_burst(&f->t, b, "FRA", "flap from MEX", burst, ids_b);
	trips(f, "direct during flapping", k, &flap_med, &flap_max);
	fnet_wait_all(f, b, "FRA", "flap from FRA", burst, 1, PICK(90000, 600000));
	fnet_wait_all(f, a, "MEX", "flap from MEX", burst, 1, PICK(90000, 600000));
	long took = tn_now_ms() - t0;
	fproxy_get_stats(fnet_proxy(f, FRA), &sa);
	fproxy_get_stats(fnet_proxy(f, MEX), &sb);
	fnet_calm(f);
	fnet_wait_receipted(f, a, ids_a, burst, TN_DELIVER_MS);
	fnet_wait_receipted(f, b, ids_b, burst, TN_DELIVER_MS);
	fnet_check_sequences(f, b, "FRA");
	fnet_check_sequences(f, a, "MEX");
	fnet_check_sequences(f, &f->t.nodes[BFA], "NZL");
	fnet_check_health(f);
	fnet_figure("flapping: FRA and MEX exchanged 2 x %d messages over links cut every "
		    "430-500 ms and refused for 250-300 ms after each cut, in %ld ms (%llu + %llu "
		    "cuts, %llu + %llu connections refused); meanwhile NZL -> BFA on direct "
		    "links took median %ld ms, max %ld ms over %d messages, against median %ld "
		    "ms, max %ld ms before",
		    burst, took, (unsigned long long)sa.cut, (unsigned long long)sb.cut,
		    (unsigned long long)sa.refused, (unsigned long long)sb.refused, flap_med,
		    flap_max, k, base_med, base_max);
}

/* ---- the groups ---- */

static int tcp_setup(void **state)
{
	/* FRA and MEX behind proxies; BFA and NZL direct. */
	fnet_setup(&TCP, "net-tcp", 0, STATES, 4, (1u << FRA) | (1u << MEX));
	return 0;
}

static int tcp_teardown(void **state)
{
	fnet_teardown(&TCP);
	return 0;
}

static int tls_setup(void **state)
{
	fnet_setup(&TLS, "net-tls", 1, STATES, 2, (1u << FRA) | (1u << MEX));
	return 0;
}

static int tls_teardown(void **state)
{
	fnet_teardown(&TLS);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tcp[] = {
		cmocka_unit_test(test_cuts),	   cmocka_unit_test(test_shaped),
		cmocka_unit_test(test_black_hole), cmocka_unit_test(test_restart),
		cmocka_unit_test(test_flapping),
	};
	const struct CMUnitTest tls[] = {
		cmocka_unit_test(test_tls_black_hole),
		cmocka_unit_test(test_tls_restart),
		cmocka_unit_test(test_tls_cuts),
	};
	test_find_build_tree(); /* tests/faults/run runs this program outside ctest */
	if (getenv("DIVEX_FAULTS_ONLY") != NULL) {
		cmocka_set_test_filter(getenv("DIVEX_FAULTS_ONLY")); /* e.g. "*black_hole" */
	}
	signal(SIGPIPE, SIG_IGN);
	fnet_figure("%s form", fnet_full() ? "full" : "bounded");
	int failed = fault_net_proxy_tests();
	failed += cmocka_run_group_tests_name("network faults over tcp", tcp, tcp_setup,
					      tcp_teardown);
	failed += cmocka_run_group_tests_name("network faults over tls+tcp", tls, tls_setup,
					      tls_teardown);
	return failed;
}
