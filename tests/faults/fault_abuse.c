/*
 * fault_abuse.c: protocol abuse against a live divex-relay (a child process
 * with FRA, MEX and BFA admitted, tests/relay/harness.h).
 *
 *   raw bytes   nngcat (nng's own client, an independent implementation of
 *               the wire) sends garbage, an empty message, a truncated
 *               request, random protobuf, 2 MiB and 64 MiB: each gets an
 *               error answer or a closed connection, and the relay goes on
 *               serving members;
 *   auth        forged signatures, a member naming another State, another
 *               State's mail (abuse_auth.c);
 *   replay      every request type sent twice, reused with another body,
 *               and outside the time window (abuse_auth.c);
 *   slow        hundreds of TCP connections held idle or stopped half-way
 *               through nng's handshake, and (against a TLS relay) TLS
 *               handshakes never finished: a member is still served in time;
 *   flood       one member far above its rate: DX_ERATE for it while another
 *               member is served in full; a refused request sent again must
 *               not get past the rate.
 * Figures (answers, connections held, RSS, rates) are printed as "abuse:"
 * lines. DIVEX_FAULTS_FULL=1 uses the long parameters (more connections, a
 * longer flood).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "abuse.h"
#include "canon.h"
#include "testlib.h"

static int full;

/* ---- shared helpers (abuse.h) ---- */

uint64_t abuse_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void abuse_sign_as(const struct keys *k, const char *node, Dx__RequestBody *body,
		   const uint8_t id[RELAY_REQUEST_ID_LEN], uint64_t time_ms, uint8_t **out,
		   size_t *len)
{
	static const char label[] = "divex/v1/relay-request";
	uint8_t *bytes = NULL, sig[KEYS_SIG_LEN];
	size_t blen;
	body->node = (char *)node;
	body->request_id = (ProtobufCBinaryData){ RELAY_REQUEST_ID_LEN, (uint8_t *)id };
	body->time_ms = time_ms;
	assert_dx_ok(proto_pack_alloc(&body->base, &bytes, &blen));
	uint8_t *stmt = malloc(sizeof(label) + blen);
	assert_non_null(stmt);
	memcpy(stmt, label, sizeof(label));
	memcpy(stmt + sizeof(label), bytes, blen);
	keys_sign(k, sig, stmt, sizeof(label) + blen);
	free(stmt);
	Dx__RelayRequest q = DX__RELAY_REQUEST__INIT;
	q.body = (ProtobufCBinaryData){ blen, bytes };
	q.signature = (ProtobufCBinaryData){ sizeof(sig), sig };
	assert_dx_ok(proto_pack_alloc(&q.base, out, len));
	free(bytes);
}

Dx__RelayResponse *abuse_call_raw(struct tclient *c, const uint8_t *req, size_t len)
{
	Dx__RelayResponse *r = NULL;
	int rc = tclient_call_raw(c, req, len, &r);
	if (rc != DX_OK) {
		fail_msg("no answer from the relay: %s", dx_errname(rc));
	}
	return r;
}

static Dx__RelayResponse *get_checkpoint(struct tclient *c)
{
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__CheckpointOp g = DX__CHECKPOINT_OP__INIT;
	Dx__RelayResponse *r = NULL;
	b.op_case = DX__REQUEST_BODY__OP_GET_CHECKPOINT;
	b.get_checkpoint = &g;
	int rc = tclient_call(c, &b, &r);
	if (rc != DX_OK) {
		fail_msg("get_checkpoint: no answer (%s)", dx_errname(rc));
	}
	return r;
}

uint64_t abuse_tree_size(void)
{
	struct tclient c;
	struct checkpoint cp;
	rh_open_client(&c, H.bfa);
	Dx__RelayResponse *r = get_checkpoint(&c);
	assert_int_equal(r->status, DX_OK);
	assert_dx_ok(checkpoint_parse_verify(r->checkpoint.data, r->checkpoint.len, H.rid.name,
					     H.rid.name, H.rid.pk, &cp));
	dx__relay_response__free_unpacked(r, NULL);
	tclient_close(&c);
	return cp.size;
}

void abuse_check_alive(const char *after)
{
	int status;
	if (waitpid(H.relay.pid, &status, WNOHANG) != 0) {
		fail_msg("the relay died after %s; see %s", after, H.relay_log);
	}
	struct tclient c;
	rh_open_client(&c, H.mex);
	Dx__RelayResponse *r = get_checkpoint(&c);
	if (r->status != DX_OK) {
		fail_msg("after %s a member's request got %s", after, dx_errname(r->status));
	}
	dx__relay_response__free_unpacked(r, NULL);
	tclient_close(&c);
}

long abuse_relay_rss_kib(void)
{
	char path[64], line[256];
	long kib = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)H.relay.pid);
	FILE *f = fopen(path, "r");
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) {
			break;
		}
	}
	if (f != NULL) {
		fclose(f);
	}
	return kib;
}

int abuse_relay_fds(void)
{
	char cmd[96], out[32] = "";
	snprintf(cmd, sizeof(cmd), "ls /proc/%d/fd | wc -l", (int)H.relay.pid);
	FILE *p = popen(cmd, "r");
	if (p == NULL || fgets(out, sizeof(out), p) == NULL) {
		out[0] = '\0';
	}
	if (p != NULL) {
		pclose(p);
	}
	return atoi(out);
}

/* ---- raw bytes through nngcat ---- */

/* Runs nngcat sending file as one REQ message; its raw reply goes to reply. */
static int run_nngcat(const char *file, const char *reply, const char *errlog)
{
	char *argv[] = { "nngcat", "--req",	     "--dial",	   H.url,
			 "--raw",  "--recv-timeout", "3",	   "--send-timeout",
			 "3",	   "--file",	     (char *)file, NULL };
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int out = open(reply, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int err = open(errlog, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (out < 0 || err < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) {
			_exit(126);
		}
		execvp("nngcat", argv);
		_exit(127);
	}
	int status;
	for (uint64_t end = abuse_now_ms() + 30000; abuse_now_ms() < end;) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	fail_msg("nngcat did not end within 30 s");
	return -1;
}

static int have_nngcat(void)
{
	return system("command -v nngcat >/dev/null 2>&1") == 0;
}

/*
 * Sends one raw message with nngcat: it must get an error answer (a
 * RelayResponse with a failure status) or no answer at all (the connection
 * was dropped); then the relay must still serve a member.
 */
static void raw_case(const char *name, const uint8_t *data, size_t len)
{
	char file[1100], reply[1100], errlog[1100];
	uint8_t *got = NULL;
	size_t got_len = 0;
	snprintf(file, sizeof(file), "%s/nngcat-%s.in", test_tmpdir(), name);
	snprintf(reply, sizeof(reply), "%s/nngcat-%s.out", test_tmpdir(), name);
	snprintf(errlog, sizeof(errlog), "%s/nngcat.log", test_tmpdir());
	unlink(file);
	test_write_file(file, data, len);
	uint64_t t0 = abuse_now_ms();
	int status = run_nngcat(file, reply, errlog);
	uint64_t took = abuse_now_ms() - t0;
	unlink(file);
	assert_dx_ok(dx_read_file(reply, RELAY_RESPONSE_MAX, &got, &got_len));
	if (got_len == 0) {
		printf("abuse: nngcat %s (%zu bytes): no answer, connection dropped (nngcat exit "
		       "%d, "
		       "%llu ms)\n",
		       name, len, status, (unsigned long long)took);
	} else {
		ProtobufCMessage *m = NULL;
		if (proto_unpack_strict(&dx__relay_response__descriptor, got, got_len,
					RELAY_RESPONSE_MAX, &m) != DX_OK) {
			fail_msg("nngcat %s: the answer is not a RelayResponse", name);
		}
		const Dx__RelayResponse *r = (const Dx__RelayResponse *)m;
		if (r->status >= 0) {
			fail_msg("nngcat %s: the relay answered %d", name, r->status);
		}
		printf("abuse: nngcat %s (%zu bytes): answered %s (%llu ms)\n", name, len,
		       dx_errname(r->status), (unsigned long long)took);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	free(got);
	abuse_check_alive(name);
}

static void test_raw_bytes(void **state)
{
	(void)state;
	if (!have_nngcat()) {
		printf("abuse: nngcat is missing (Debian package nng-utils): raw cases skipped\n");
		skip();
	}
	uint8_t junk[1000];
	randombytes_buf(junk, sizeof(junk));
	raw_case("garbage", junk, sizeof(junk));
	raw_case("empty", junk, 0);

	/* A real signed request, cut short. */
	struct tclient c;
	rh_open_client(&c, H.fra);
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__CheckpointOp g = DX__CHECKPOINT_OP__INIT;
	b.op_case = DX__REQUEST_BODY__OP_GET_CHECKPOINT;
	b.get_checkpoint = &g;
	uint8_t *req = NULL;
	size_t len;
	assert_dx_ok(tclient_sign(&c, &b, &req, &len));
	tclient_close(&c);
	raw_case("truncated", req, len / 2);
	raw_case("truncated-by-one", req, len - 1);
	free(req);

	/* Random protobuf: a RelayRequest of random parts, and a message of another type. */
	uint8_t body[200], sig[64];
	randombytes_buf(body, sizeof(body));
	randombytes_buf(sig, sizeof(sig));
	Dx__RelayRequest q = DX__RELAY_REQUEST__INIT;
	q.body = (ProtobufCBinaryData){ sizeof(body), body };
	q.signature = (ProtobufCBinaryData){ sizeof(sig), sig };
	assert_dx_ok(proto_pack_alloc(&q.base, &req, &len));
	raw_case("random-request", req, len);
	free(req);
	Dx__Receipt rc = DX__RECEIPT__INIT;
	rc.leaf_index = 7;
	rc.checkpoint = (ProtobufCBinaryData){ sizeof(body), body };
	assert_dx_ok(proto_pack_alloc(&rc.base, &req, &len));
	raw_case("other-message", req, len);
	free(req);

	/* Beyond the relay's receive limit (1 MiB + 64 KiB by default). */
	size_t big = full ? 256u << 20 : 64u << 20;
	uint8_t *huge = calloc(1, big);
	assert_non_null(huge);
	randombytes_buf(huge, 2u << 20);
	raw_case("2MiB", huge, 2u << 20);
	raw_case(full ? "256MiB" : "64MiB", huge, big);
	free(huge);
	printf("abuse: relay RSS after the raw cases: %ld KiB\n", abuse_relay_rss_kib());
}

/* ---- slow clients ---- */

static int connect_raw(int port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Waits (with a deadline) until the relay holds at least n descriptors. */
static int wait_fds(int n, int deadline_ms)
{
	int fds = abuse_relay_fds();
	for (uint64_t end = abuse_now_ms() + (uint64_t)deadline_ms;
	     fds < n && abuse_now_ms() < end;) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		fds = abuse_relay_fds();
	}
	return fds;
}

/*
 * Holds idle connections: `idle` that never send a byte, `partial` that
 * send the first bytes of a handshake (nng's SP header, or a TLS record
 * header) and stop. A member must still be served within 20 s.
 */
static void hold_connections(const char *what, int idle, int partial, const uint8_t *hello,
			     size_t hello_len)
{
	int n = idle + partial, *fds = calloc((size_t)n, sizeof(int)), opened = 0;
	assert_non_null(fds);
	int base = abuse_relay_fds();
	long rss0 = abuse_relay_rss_kib();
	for (int i = 0; i < n; i++) {
		fds[i] = connect_raw(H.port);
		if (fds[i] < 0) {
			break;
		}
		opened++;
		if (i >= idle) {
			assert_int_equal(send(fds[i], hello, hello_len, MSG_NOSIGNAL),
					 (ssize_t)hello_len);
		}
	}
	int held = wait_fds(base + opened, 10000) - base;
	long rss = abuse_relay_rss_kib();
	uint64_t t0 = abuse_now_ms();
	abuse_check_alive(what);
	uint64_t served = abuse_now_ms() - t0;
	printf("abuse: %s: %d connections opened (%d idle, %d half-way), the relay held %d more "
	       "descriptors, RSS %ld -> %ld KiB; a member was served in %llu ms\n",
	       what, opened, idle, opened > idle ? opened - idle : 0, held, rss0, rss,
	       (unsigned long long)served);
	assert_int_equal(opened, n);
	assert_true(served < 20000);
	if (full) {
		/* Does the relay give up on handshakes that never finish? */
		struct timespec ts = { 15, 0 };
		nanosleep(&ts, NULL);
		printf("abuse: %s: 15 s later the relay holds %d more descriptors\n", what,
		       abuse_relay_fds() - base);
	}
	for (int i = 0; i < opened; i++) {
		close(fds[i]);
	}
	free(fds);
	/* Every connection is released once its client is gone. */
	int left = abuse_relay_fds();
	for (uint64_t end = abuse_now_ms() + 20000; left > base + 8 && abuse_now_ms() < end;) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		left = abuse_relay_fds();
	}
	printf("abuse: %s: after the clients left the relay holds %d descriptors (%d before)\n",
	       what, left, base);
	assert_true(left <= base + 8);
}

static void test_slow_tcp(void **state)
{
	(void)state;
	static const uint8_t sp_header_part[4] = { 0x00, 'S', 'P', 0x00 };
	int idle = full ? 1500 : 300, partial = full ? 500 : 100;
	hold_connections("slow TCP clients", idle, partial, sp_header_part, sizeof(sp_header_part));
}

static void test_slow_tls(void **state)
{
	(void)state;
	/* A TLS handshake record header announcing 512 bytes that never come. */
	static const uint8_t record[5] = { 0x16, 0x03, 0x01, 0x02, 0x00 };
	int idle = full ? 1000 : 200, partial = full ? 500 : 100;
	hold_connections("unfinished TLS handshakes", idle, partial, record, sizeof(record));
}

/* ---- a flood from one member ---- */

#define FLOOD_RATE 50
#define FLOOD_BURST 50

struct flooder {
	pthread_t t;
	const struct keys *k;
	uint64_t until_ms, pause_ms;
	unsigned ok, refused, other;
};

static void *flood_loop(void *arg)
{
	struct flooder *f = arg;
	struct tclient c;
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__CheckpointOp g = DX__CHECKPOINT_OP__INIT;
	b.op_case = DX__REQUEST_BODY__OP_GET_CHECKPOINT;
	b.get_checkpoint = &g;
	if (tclient_open(&c, H.url, f->k, NULL) != 0) {
		f->other++;
		return NULL;
	}
	while (abuse_now_ms() < f->until_ms) {
		Dx__RelayResponse *r = NULL;
		b.request_id = (ProtobufCBinaryData){ 0, NULL };
		b.time_ms = 0;
		if (tclient_call(&c, &b, &r) != DX_OK) {
			f->other++;
			continue;
		}
		if (r->status == DX_OK) {
			f->ok++;
		} else if (r->status == DX_ERATE) {
			f->refused++;
		} else {
			f->other++;
		}
		dx__relay_response__free_unpacked(r, NULL);
		if (f->pause_ms > 0) {
			struct timespec ts = { 0, (long)f->pause_ms * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	tclient_close(&c);
	return NULL;
}

/* relay.conf with a low rate, applied by a restart. */
static void low_rate_relay(void)
{
	char path[1100], text[1024];
	snprintf(path, sizeof(path), "%s/relay.conf", H.home);
	snprintf(text, sizeof(text),
		 "[relay]\nname = %s\nlisten = tcp://127.0.0.1:0\nadmin_listen = 127.0.0.1:0\n"
		 "[limits]\nmailbox_max_envelopes = 1000\nrate_per_second = %d\nrate_burst = %d\n",
		 NAME, FLOOD_RATE, FLOOD_BURST);
	unlink(path);
	test_write_file(path, text, strlen(text));
	assert_int_equal(proc_stop(&H.relay, SIGTERM, 20000), 0);
	rh_start_relay();
}

static void test_flood(void **state)
{
	(void)state;
	low_rate_relay();
	const uint64_t secs = full ? 20 : 3;
	enum { N_FLOOD = 4 };
	struct flooder f[N_FLOOD + 1];
	uint64_t t0 = abuse_now_ms();
	memset(f, 0, sizeof(f));
	for (int i = 0; i <= N_FLOOD; i++) {
		f[i].k = i < N_FLOOD ? H.fra : H.mex;
		f[i].until_ms = t0 + secs * 1000;
		f[i].pause_ms = i < N_FLOOD ? 0 : 100; /* MEX: 10 requests a second */
		assert_int_equal(pthread_create(&f[i].t, NULL, flood_loop, &f[i]), 0);
	}
	for (int i = 0; i <= N_FLOOD; i++) {
		pthread_join(f[i].t, NULL);
	}
	double took = (double)(abuse_now_ms() - t0) / 1000.0;
	unsigned ok = 0, refused = 0, other = 0;
	for (int i = 0; i < N_FLOOD; i++) {
		ok += f[i].ok;
		refused += f[i].refused;
		other += f[i].other;
	}
	struct flooder *m = &f[N_FLOOD];
	printf("abuse: flood (rate %d/s, burst %d, %.1f s): FRA sent %u (%.0f/s), %u served "
	       "(%.1f/s), %u DX_ERATE, %u other; MEX sent %u (%.1f/s), %u served, %u refused, "
	       "%u other\n",
	       FLOOD_RATE, FLOOD_BURST, took, ok + refused + other, (ok + refused + other) / took,
	       ok, ok / took, refused, other, m->ok + m->refused + m->other,
	       (m->ok + m->refused + m->other) / took, m->ok, m->refused, m->other);
	assert_int_equal(other, 0);
	assert_true(refused > 0);
	assert_true(ok <= FLOOD_BURST + (unsigned)(FLOOD_RATE * took * 1.1) + 5);
	assert_int_equal(m->refused + m->other, 0);
	assert_true(m->ok >= 10);
	abuse_check_alive("the flood");
}

/*
 * A request refused with DX_ERATE and sent again as it was is a new request
 * as far as the rate goes: it must not be carried out as a resend, or a
 * member could pass any rate by sending everything twice.
 */
static void test_rate_resend(void **state)
{
	(void)state;
	struct tclient c;
	rh_open_client(&c, H.fra);
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__CheckpointOp g = DX__CHECKPOINT_OP__INIT;
	b.op_case = DX__REQUEST_BODY__OP_GET_CHECKPOINT;
	b.get_checkpoint = &g;
	unsigned pairs = 0, resends_served = 0;
	uint64_t t0 = abuse_now_ms();
	for (int tries = 0; tries < 2000 && pairs < 40; tries++) {
		uint8_t *raw = NULL, id[RELAY_REQUEST_ID_LEN];
		size_t len;
		randombytes_buf(id, sizeof(id));
		abuse_sign_as(H.fra, "FRA", &b, id, dx_now_ms(), &raw, &len);
		Dx__RelayResponse *r = abuse_call_raw(&c, raw, len);
		int refused = r->status == DX_ERATE;
		dx__relay_response__free_unpacked(r, NULL);
		if (refused) {
			pairs++;
			r = abuse_call_raw(&c, raw, len);
			resends_served += r->status == DX_OK;
			dx__relay_response__free_unpacked(r, NULL);
		}
		free(raw);
	}
	double took = (double)(abuse_now_ms() - t0) / 1000.0;
	printf("abuse: %u requests refused with DX_ERATE were sent again: %u of them served "
	       "(%.1f s; the rate allows about %.0f)\n",
	       pairs, resends_served, took, FLOOD_RATE * took);
	tclient_close(&c);
	assert_true(pairs > 0);
	assert_true(resends_served <= 2 + (unsigned)(FLOOD_RATE * took));
}

int main(void)
{
	const struct CMUnitTest tcp[] = {
		cmocka_unit_test(test_raw_bytes),	  cmocka_unit_test(test_invalid_signatures),
		cmocka_unit_test(test_other_states_mail), cmocka_unit_test(test_replay_every_type),
		cmocka_unit_test(test_slow_tcp),	  cmocka_unit_test(test_flood),
		cmocka_unit_test(test_rate_resend),
	};
	const struct CMUnitTest tls[] = {
		cmocka_unit_test(test_slow_tls),
	};
	struct rlimit rl;
	const char *f = getenv("DIVEX_FAULTS_FULL");
	full = f != NULL && strcmp(f, "1") == 0;
	if (sodium_init() < 0) {
		return 1;
	}
	/* Hundreds of sockets at once: raise the descriptor limit to the hard one. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	H.mailbox_max = 1000;
	int rc = cmocka_run_group_tests_name("protocol abuse (tcp relay)", tcp, rh_setup,
					     rh_teardown);
	H.use_tls = 1;
	return rc | cmocka_run_group_tests_name("protocol abuse (tls relay)", tls, rh_setup,
						rh_teardown);
}
