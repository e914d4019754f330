/*
 * test_relay_faults.c: divex-relay under a crash, hostile sizes, long-polls,
 * attachments, proofs, and the checks an operator relies on (metrics parse,
 * the executable holds no opening code).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <sqlite3.h>

#include "attach.h"
#include "harness.h"
#include "testlib.h"
#include "util.h"

static Dx__RelayResponse *get_checkpoint(struct tclient *c, struct checkpoint *cp)
{
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__CheckpointOp g = DX__CHECKPOINT_OP__INIT;
	b.op_case = DX__REQUEST_BODY__OP_GET_CHECKPOINT;
	b.get_checkpoint = &g;
	Dx__RelayResponse *r = rh_call(c, &b, DX_OK);
	assert_dx_ok(checkpoint_parse_verify(r->checkpoint.data, r->checkpoint.len, H.rid.name,
					     H.rid.name, H.rid.pk, cp));
	return r;
}

/* The relay proves that an old checkpoint is a prefix of its current one. */
static void check_consistent(struct tclient *c, const struct checkpoint *old)
{
	struct checkpoint now;
	Dx__RelayResponse *r = get_checkpoint(c, &now);
	dx__relay_response__free_unpacked(r, NULL);
	assert_true(now.size >= old->size);
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__ConsistencyOp co = DX__CONSISTENCY_OP__INIT;
	co.old_size = old->size;
	co.new_size = now.size;
	b.op_case = DX__REQUEST_BODY__OP_CONSISTENCY;
	b.consistency = &co;
	r = rh_call(c, &b, DX_OK);
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	assert_true(r->n_proof <= MERKLE_MAX_PROOF);
	for (size_t i = 0; i < r->n_proof; i++) {
		memcpy(proof[i], r->proof[i].data, MERKLE_HASH_LEN);
	}
	assert_dx_ok(checkpoint_check_consistent(old, &now, (const uint8_t(*)[MERKLE_HASH_LEN])proof,
						 r->n_proof));
	dx__relay_response__free_unpacked(r, NULL);
}

struct sender {
	pthread_t t;
	const struct keys *from;
	uint8_t (*digests)[32];
	size_t n, cap;
	struct checkpoint last;
	volatile int stop;
};

/* Submits until the relay stops answering; records what got a receipt. */
static void *send_loop(void *arg)
{
	struct sender *s = arg;
	struct tclient c;
	rh_open_client(&c, s->from);
	nng_socket_set_ms(c.sock, NNG_OPT_RECVTIMEO, 3000);
	nng_socket_set_ms(c.sock, NNG_OPT_SENDTIMEO, 3000);
	while (!s->stop && s->n < s->cap) {
		struct envelope_info e;
		size_t len;
		uint8_t *env = rh_seal_for(s->from, H.mex, "load", &len, &e);
		Dx__RequestBody b = DX__REQUEST_BODY__INIT;
		Dx__SubmitOp op = DX__SUBMIT_OP__INIT;
		op.envelope = (ProtobufCBinaryData){ len, env };
		b.op_case = DX__REQUEST_BODY__OP_SUBMIT;
		b.submit = &op;
		Dx__RelayResponse *r = NULL;
		int rc = tclient_call(&c, &b, &r);
		free(env);
		if (rc != DX_OK) {
			break; /* the relay is gone */
		}
		if (r->status == DX_OK && r->receipt != NULL) {
			uint8_t leaf[RELAY_LEAF_MAX];
			size_t n = relay_leaf_accepted(leaf, e.digest, e.sender, e.recipient,
						       r->receipt->salt.data, r->receipt->time_ms);
			if (relay_receipt_verify(r->receipt, leaf, n, &H.rid, &s->last) == DX_OK) {
				memcpy(s->digests[s->n++], e.digest, 32);
			}
		}
		dx__relay_response__free_unpacked(r, NULL);
	}
	tclient_close(&c);
	return NULL;
}

static int count_digest(Dx__RelayResponse *r, const uint8_t d[32])
{
	int n = 0;
	for (size_t i = 0; i < r->n_mail; i++) {
		n += memcmp(r->mail[i]->digest.data, d, 32) == 0;
	}
	return n;
}

/*
 * SIGKILL while three States submit: after a restart, every envelope that got
 * a receipt is in the mailbox exactly once, and the log extends every
 * checkpoint handed out before the crash.
 */
static void test_crash_keeps_receipts(void **state)
{
	(void)state;
	struct sender s[3] = { { .from = NULL } };
	const struct keys *from[3] = { H.fra, H.bfa, H.fra };
	for (int i = 0; i < 3; i++) {
		s[i].from = from[i];
		s[i].cap = 200;
		s[i].digests = calloc(s[i].cap, 32);
		assert_int_equal(pthread_create(&s[i].t, NULL, send_loop, &s[i]), 0);
	}
	/* Wait (with a deadline) until the load is well under way, then kill. */
	for (int waited = 0; waited < 30000; waited += 10) {
		if (s[0].n + s[1].n + s[2].n >= 60) {
			break;
		}
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	assert_true(proc_stop(&H.relay, SIGKILL, 5000) == 128 + SIGKILL);
	for (int i = 0; i < 3; i++) {
		s[i].stop = 1;
		pthread_join(s[i].t, NULL);
	}
	size_t total = s[0].n + s[1].n + s[2].n;
	assert_true(total >= 60);

	rh_start_relay();
	struct tclient cm;
	rh_open_client(&cm, H.mex);
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__ListOp l = DX__LIST_OP__INIT;
	l.max = 256;
	b.op_case = DX__REQUEST_BODY__OP_LIST;
	b.list = &l;
	Dx__RelayResponse *r = rh_call(&cm, &b, DX_OK);
	assert_true(r->n_mail >= total && r->n_mail <= 256);
	for (int i = 0; i < 3; i++) {
		for (size_t j = 0; j < s[i].n; j++) {
			assert_int_equal(count_digest(r, s[i].digests[j]), 1);
		}
		if (s[i].n > 0) {
			check_consistent(&cm, &s[i].last);
		}
		free(s[i].digests);
	}
	dx__relay_response__free_unpacked(r, NULL);
	/* Leave the mailbox empty for the tests that follow. */
	for (;;) {
		r = rh_call(&cm, &b, DX_OK);
		size_t n = r->n_mail;
		for (size_t i = 0; i < n; i++) {
			uint8_t *raw = NULL;
			size_t raw_len;
			Dx__RelayResponse *a = rh_fetch_or_ack(&cm, 1, r->mail[i]->digest.data, DX_OK,
							       &raw, &raw_len);
			dx__relay_response__free_unpacked(a, NULL);
			free(raw);
		}
		dx__relay_response__free_unpacked(r, NULL);
		if (n == 0) {
			break;
		}
	}
	tclient_close(&cm);
}

/* A TCP connection to 127.0.0.1:port whose reads and writes give up after 20 s. */
static int loopback_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct timeval tv = { .tv_sec = 20 };
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/*
 * An oversized message costs its sender the connection; others go on. The
 * sender speaks SP over a plain TCP socket: an nng REQ socket would redial
 * and resend the message for ever, and nng 1.5.2 can then hang in
 * nng_close() (nng issues #1543, #1813), which would hang the test.
 */
static void test_oversized_message(void **state)
{
	(void)state;
	const char *colon = strrchr(H.url, ':');
	assert_non_null(colon);
	assert_int_equal(strncmp(H.url, "tcp://", 6), 0);
	int fd = loopback_connect(atoi(colon + 1));
	/* SP headers: ours (REQ0, 0x30), then the relay's (REP0, 0x31). */
	static const uint8_t req0[8] = { 0, 'S', 'P', 0, 0x00, 0x30, 0, 0 };
	uint8_t theirs[8];
	assert_int_equal(write(fd, req0, sizeof(req0)), (ssize_t)sizeof(req0));
	size_t have = 0;
	while (have < sizeof(theirs)) {
		ssize_t got = read(fd, theirs + have, sizeof(theirs) - have);
		assert_true(got > 0);
		have += (size_t)got;
	}
	assert_int_equal(theirs[5], 0x31);
	/* A 3 MiB message: its 8-byte length and its first 64 KiB (nng reads the
	 * length first and drops the connection before allocating). */
	uint64_t big = 3 * 1024 * 1024;
	uint8_t len[8];
	for (int i = 0; i < 8; i++) {
		len[i] = (uint8_t)(big >> (56 - 8 * i));
	}
	assert_int_equal(write(fd, len, sizeof(len)), (ssize_t)sizeof(len));
	uint8_t *junk = calloc(1, 64 * 1024);
	assert_non_null(junk);
	(void)send(fd, junk, 64 * 1024, MSG_NOSIGNAL);
	free(junk);
	/* The relay closes the connection without an answer (EOF or a reset). */
	uint8_t b;
	ssize_t got;
	while ((got = read(fd, &b, 1)) < 0 && errno == EINTR) {
	}
	if (got < 0 && errno != ECONNRESET) {
		fail_msg("the relay kept the connection of an oversized message: %s",
			 strerror(errno));
	}
	assert_true(got <= 0);
	close(fd);
	struct tclient cf;
	rh_open_client(&cf, H.fra);
	Dx__RelayResponse *r = rh_list(&cf, 0);
	dx__relay_response__free_unpacked(r, NULL);
	tclient_close(&cf);
}

struct poll_arg {
	Dx__RelayResponse *r;
	long elapsed_ms;
};

static long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *poll_thread(void *arg)
{
	struct poll_arg *p = arg;
	struct tclient c;
	rh_open_client(&c, H.mex);
	long t0 = mono_ms();
	p->r = rh_list(&c, 20000);
	p->elapsed_ms = mono_ms() - t0;
	tclient_close(&c);
	return NULL;
}

/* A waiting list is answered as soon as mail arrives, not at its timeout. */
static void test_long_poll(void **state)
{
	(void)state;
	struct poll_arg p = { 0 };
	pthread_t t;
	struct tclient cf;
	struct envelope_info e;
	size_t len;
	assert_int_equal(pthread_create(&t, NULL, poll_thread, &p), 0);
	rh_open_client(&cf, H.fra);
	uint8_t *env = rh_seal_for(H.fra, H.mex, "wake up", &len, &e);
	Dx__RelayResponse *r = rh_submit(&cf, env, len, DX_OK);
	dx__relay_response__free_unpacked(r, NULL);
	pthread_join(t, NULL);
	assert_int_equal(p.r->n_mail, 1);
	assert_true(p.elapsed_ms < 15000);
	dx__relay_response__free_unpacked(p.r, NULL);
	free(env);
	tclient_close(&cf);
}

static Dx__RelayResponse *download(struct tclient *c, const uint8_t id[16], const uint8_t dg[32],
				   uint64_t off, int want)
{
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__DownloadOp d = DX__DOWNLOAD_OP__INIT;
	d.attachment_id = (ProtobufCBinaryData){ 16, (uint8_t *)id };
	d.envelope_digest = (ProtobufCBinaryData){ 32, (uint8_t *)dg };
	d.offset = off;
	b.op_case = DX__REQUEST_BODY__OP_DOWNLOAD;
	b.download = &d;
	return rh_call(c, &b, want);
}

/* Downloads a whole stream as the recipient and compares it with want. */
static void download_same(struct tclient *c, const uint8_t id[16], const uint8_t digest[32],
			  const uint8_t *want, size_t len)
{
	uint8_t *got = malloc(len);
	size_t have = 0;
	while (have < len) {
		Dx__RelayResponse *r = download(c, id, digest, have, DX_OK);
		assert_int_equal(r->total_size, len);
		assert_true(r->data.len > 0 && have + r->data.len <= len);
		memcpy(got + have, r->data.data, r->data.len);
		have += r->data.len;
		dx__relay_response__free_unpacked(r, NULL);
	}
	assert_memory_equal(got, want, len);
	free(got);
}

/* An attachment goes up once in pieces and comes down only to its recipient. */
static void test_attachment_pieces(void **state)
{
	(void)state;
	const size_t size = 3 * 1024 * 1024 + 123;
	uint8_t *plain = malloc(size), *stream = NULL;
	randombytes_buf(plain, size);
	memcpy(plain, CANARY, strlen(CANARY));
	const char *pin = test_path(test_tmpdir(), "att.plain");
	const char *sout = test_path(test_tmpdir(), "att.stream");
	test_write_file(pin, plain, size);
	struct attach_meta meta;
	FILE *fi = fopen(pin, "rb"), *fo = fopen(sout, "wb");
	assert_dx_ok(attach_encrypt_fd(fileno(fi), fileno(fo), NULL, &meta, NULL, NULL));
	fclose(fi);
	fclose(fo);
	size_t slen;
	assert_dx_ok(dx_read_file(sout, 64 << 20, &stream, &slen));
	assert_int_equal(slen, meta.stream_size);

	struct tclient cf, cm, cb;
	rh_open_client(&cf, H.fra);
	rh_open_client(&cm, H.mex);
	rh_open_client(&cb, H.bfa);
	Dx__RelayResponse *r;
	for (size_t off = 0; off < slen; off += RELAY_DATA_MAX) {
		size_t n = slen - off < RELAY_DATA_MAX ? slen - off : RELAY_DATA_MAX;
		r = rh_upload(&cf, meta.id, off, stream + off, n, slen, DX_OK);
		assert_int_equal(r->total_size, off + n);
		dx__relay_response__free_unpacked(r, NULL);
		if (off == 0) {
			/* A resent piece is fine; a gap is not. */
			r = rh_upload(&cf, meta.id, 0, stream, n, slen, DX_OK);
			dx__relay_response__free_unpacked(r, NULL);
			r = rh_upload(&cf, meta.id, off + n + 1, stream, 10, slen, DX_EINVAL);
			dx__relay_response__free_unpacked(r, NULL);
		}
	}
	/* An envelope to MEX names the attachment in its header. */
	size_t elen;
	struct envelope_info e;
	uint8_t *env = rh_seal_naming(H.fra, H.mex, "see file", (const uint8_t(*)[16])meta.id, 1,
				      &elen, &e);
	r = rh_submit(&cf, env, elen, DX_OK);
	dx__relay_response__free_unpacked(r, NULL);

	r = download(&cb, meta.id, e.digest, 0, DX_ENOT_RECIPIENT);
	dx__relay_response__free_unpacked(r, NULL);
	download_same(&cm, meta.id, e.digest, stream, slen);
	/* The relay's file holds the stream, never the plaintext. */
	assert_true(file_contains(rh_stream_file(meta.id), stream, 4096));
	assert_false(file_contains(rh_stream_file(meta.id), CANARY, strlen(CANARY)));
	free(env);
	free(stream);
	free(plain);
	tclient_close(&cf);
	tclient_close(&cm);
	tclient_close(&cb);
}

static long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void sql(sqlite3 *db, const char *text)
{
	char *err = NULL;
	if (sqlite3_exec(db, text, NULL, NULL, &err) != SQLITE_OK) {
		fail_msg("%s: %s", text, err);
	}
}

/*
 * Streams live in files beside relay.db, and a start puts them in order:
 * bytes past what a commit recorded (a crash between a piece's write and
 * its batch's commit) are written over when the piece comes again; a file
 * no stream names is removed, a file that is not a stream's is left; the
 * pieces a store of the earlier layout kept in SQLite are moved into files.
 */
static void test_attachment_files(void **state)
{
	(void)state;
	const size_t size = 2 * RELAY_DATA_MAX + 777, old_size = 1000;
	uint8_t ids[3][16], *stream = malloc(size), old[1000];
	randombytes_buf(ids, sizeof(ids));
	randombytes_buf(stream, size);
	randombytes_buf(old, sizeof(old));
	struct tclient cf;
	rh_open_client(&cf, H.fra);
	Dx__RelayResponse *r = rh_upload(&cf, ids[0], 0, stream, RELAY_DATA_MAX, size, DX_OK);
	dx__relay_response__free_unpacked(r, NULL);
	tclient_close(&cf);
	assert_int_equal(file_size(rh_stream_file(ids[0])), RELAY_DATA_MAX);

	assert_true(proc_stop(&H.relay, SIGKILL, 5000) == 128 + SIGKILL);
	/* What a batch wrote and never committed: longer than the rest. */
	uint8_t *junk = malloc(2 * RELAY_DATA_MAX);
	memset(junk, 0xa5, 2 * RELAY_DATA_MAX);
	FILE *f = fopen(rh_stream_file(ids[0]), "ab");
	assert_non_null(f);
	assert_int_equal(fwrite(junk, 1, 2 * RELAY_DATA_MAX, f), 2 * RELAY_DATA_MAX);
	fclose(f);
	free(junk);
	test_write_file(rh_stream_file(ids[1]), "orphan", 6);
	const char *other = test_path(test_path(H.home, "attachments"), "NOTES");
	test_write_file(other, "kept", 4);
	/* A stream in the earlier layout: its pieces in a table. */
	sqlite3 *db;
	assert_int_equal(sqlite3_open(test_path(H.home, "relay.db"), &db), SQLITE_OK);
	sql(db,
	    "CREATE TABLE attachment_data (attachment_id BLOB NOT NULL, offset INTEGER NOT NULL,"
	    " data BLOB NOT NULL, PRIMARY KEY (attachment_id, offset)) WITHOUT ROWID");
	sqlite3_stmt *st;
	assert_int_equal(
		sqlite3_prepare_v2(db,
				   "INSERT INTO attachments (attachment_id, owner,"
				   " total_size, received, created_ms) VALUES (?, 'FRA', ?, ?, 0)",
				   -1, &st, NULL),
		SQLITE_OK);
	sqlite3_bind_blob(st, 1, ids[2], 16, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, old_size);
	sqlite3_bind_int64(st, 3, old_size);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	for (size_t off = 0; off < old_size; off += 600) {
		assert_int_equal(sqlite3_prepare_v2(db,
						    "INSERT INTO attachment_data VALUES (?, ?, ?)",
						    -1, &st, NULL),
				 SQLITE_OK);
		sqlite3_bind_blob(st, 1, ids[2], 16, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)off);
		sqlite3_bind_blob(st, 3, old + off, off == 0 ? 600 : (int)(old_size - 600),
				  SQLITE_STATIC);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);

	rh_start_relay();
	/* Said in the log an operator reads. */
	assert_true(file_contains(H.relay_log, "moved 1 attachment stream", 25));
	assert_true(file_contains(H.relay_log, "removed 1 file(s)", 17));
	assert_int_equal(file_size(rh_stream_file(ids[1])), -1);
	assert_int_equal(file_size(other), 4);
	assert_int_equal(file_size(rh_stream_file(ids[2])), (long)old_size);
	assert_int_equal(
		sqlite3_open_v2(test_path(H.home, "relay.db"), &db, SQLITE_OPEN_READONLY, NULL),
		SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT COUNT(*) FROM sqlite_master WHERE"
					    " name = 'attachment_data'",
					    -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 0);
	sqlite3_finalize(st);
	sqlite3_close(db);

	rh_open_client(&cf, H.fra);
	/* The junk is not taken for the resend of a piece: it is written over. */
	r = rh_upload(&cf, ids[0], RELAY_DATA_MAX, stream + RELAY_DATA_MAX, RELAY_DATA_MAX, size,
		   DX_OK);
	assert_int_equal(r->total_size, 2 * RELAY_DATA_MAX);
	dx__relay_response__free_unpacked(r, NULL);
	r = rh_upload(&cf, ids[0], 2 * RELAY_DATA_MAX, stream + 2 * RELAY_DATA_MAX, 777, size, DX_OK);
	assert_int_equal(r->total_size, size);
	dx__relay_response__free_unpacked(r, NULL);
	/* A resent piece is compared with the file. */
	r = rh_upload(&cf, ids[0], RELAY_DATA_MAX, stream, RELAY_DATA_MAX, size, DX_EINVAL);
	dx__relay_response__free_unpacked(r, NULL);

	size_t elen;
	struct envelope_info e;
	uint8_t *env =
		rh_seal_naming(H.fra, H.mex, "see file", (const uint8_t(*)[16])ids, 3, &elen, &e);
	r = rh_submit(&cf, env, elen, DX_OK);
	dx__relay_response__free_unpacked(r, NULL);
	struct tclient cm;
	rh_open_client(&cm, H.mex);
	download_same(&cm, ids[0], e.digest, stream, size);
	download_same(&cm, ids[2], e.digest, old, old_size);
	/* A stream that never came (its orphan file removed) is not there. */
	r = download(&cm, ids[1], e.digest, 0, DX_ENOENT);
	dx__relay_response__free_unpacked(r, NULL);
	/* A file cut short behind the relay's back: refused, and said in the log. */
	assert_int_equal(truncate(rh_stream_file(ids[2]), 500), 0);
	r = download(&cm, ids[2], e.digest, 400, DX_EINTERNAL);
	dx__relay_response__free_unpacked(r, NULL);
	assert_true(file_contains(H.relay_log, "is missing or shorter than the 1000 bytes", 41));
	tclient_close(&cm);
	tclient_close(&cf);
	free(env);
	free(stream);
}

static void *short_poll(void *arg)
{
	struct poll_arg *p = arg;
	struct tclient c;
	rh_open_client(&c, H.mex);
	long t0 = mono_ms();
	p->r = rh_list(&c, 2500);
	p->elapsed_ms = mono_ms() - t0;
	tclient_close(&c);
	return NULL;
}

/* A State holds at most two waiting polls: a third is answered at once. */
static void test_parked_polls_bounded(void **state)
{
	(void)state;
	struct poll_arg p[3] = { { 0 } };
	pthread_t t[3];
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pthread_create(&t[i], NULL, short_poll, &p[i]), 0);
	}
	int fast = 0;
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(p[i].r->n_mail, 0);
		fast += p[i].elapsed_ms < 2000;
		dx__relay_response__free_unpacked(p[i].r, NULL);
	}
	assert_true(fast >= 1);
}

/* Reads the status page port from the log and fetches a path over HTTP. */
static char *http_get(const char *path)
{
	int port = (int)proc_log_number_last(&H.relay, "status page http://127.0.0.1:");
	assert_true(port > 0);
	/* A status page that never ends fails the test instead of hanging it. */
	int fd = loopback_connect(port);
	char req[256];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
	assert_int_equal(write(fd, req, (size_t)n), n);
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap + 1);
	ssize_t got;
	while ((got = read(fd, buf + len, cap - len)) > 0) {
		len += (size_t)got;
	}
	if (got < 0) {
		fail_msg("GET %s: no end of the answer within 20 s (%s)", path, strerror(errno));
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

/* The value of one sample of the relay's /metrics ("name" or "name{labels}"); -1 if absent. */
static double metric(const char *sample)
{
	char want[256];
	snprintf(want, sizeof(want), "\n%s ", sample);
	char *m = http_get("/metrics");
	char *at = strstr(m, want);
	double v = at != NULL ? strtod(at + strlen(want), NULL) : -1;
	free(m);
	return v;
}

/* Waits (30 s at most) for a sample to reach at least min and at most max. */
static double wait_metric(const char *sample, double min, double max)
{
	double v;
	for (int waited = 0; (v = metric(sample)) < min || v > max; waited += 20) {
		if (waited > 30000) {
			fail_msg("%s is %g after 30 s, want %g to %g", sample, v, min, max);
		}
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return v;
}

/* /metrics from the running relay parses as Prometheus text (promtool). */
static void test_metrics_parse(void **state)
{
	(void)state;
	char *resp = http_get("/metrics");
	assert_non_null(strstr(resp, "200 OK"));
	char *body = strstr(resp, "\r\n\r\n");
	assert_non_null(body);
	body += 4;
	assert_non_null(strstr(body, "divex_relay_"));
	/* The relay reads its disk's free space at start and every second. */
	assert_true(metric("divex_relay_disk_free_bytes") > 0);
	const char *file = test_path(test_tmpdir(), "metrics.txt");
	test_write_file(file, body, strlen(body));
	if (system("command -v promtool >/dev/null 2>&1") != 0) {
		free(resp);
		skip(); /* scripts/test installs Debian's prometheus package */
	}
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", file);
	assert_int_equal(system(cmd), 0);
	free(resp);
	char *status = http_get("/status");
	assert_non_null(strstr(status, "FRA"));
	free(status);
}

/* Waits for a per-State gauge of the mailboxes to reach at least min and at most max. */
static void wait_gauge(const char *name, const char *st, double min, double max)
{
	char sample[160];
	snprintf(sample, sizeof(sample), "divex_relay_%s{state=\"%s\"}", name, st);
	wait_metric(sample, min, max);
}

static void ack_as_bfa(struct tclient *cb, const struct envelope_info *e)
{
	uint8_t *raw = NULL;
	size_t raw_len;
	dx__relay_response__free_unpacked(rh_fetch_or_ack(cb, 1, e->digest, DX_OK, &raw, &raw_len),
					  NULL);
	free(raw);
}

/*
 * The mailbox gauges of a running relay follow its mail: count and bytes as
 * envelopes are accepted and acknowledged, and the age of the oldest one
 * waiting, which moves to the next one when the oldest is acknowledged.
 */
static void test_mailbox_gauges(void **state)
{
	(void)state;
	struct tclient cf, cb;
	struct envelope_info e[2];
	size_t len[2];
	rh_open_client(&cf, H.fra);
	rh_open_client(&cb, H.bfa);
	/* BFA's mailbox starts empty here: the tests before send it nothing
	 * or take what they send. */
	wait_gauge("mailbox_envelopes", "BFA", 0, 0);
	wait_gauge("mailbox_oldest_age_seconds", "BFA", 0, 0);
	for (int i = 0; i < 2; i++) {
		uint8_t *env = rh_seal_for(H.fra, H.bfa, "gauge", &len[i], &e[i]);
		dx__relay_response__free_unpacked(rh_submit(&cf, env, len[i], DX_OK), NULL);
		free(env);
		if (i == 0) {
			/* The age grows from the first one's arrival. */
			wait_gauge("mailbox_envelopes", "BFA", 1, 1);
			wait_gauge("mailbox_oldest_age_seconds", "BFA", 3.5, 3600);
		}
	}
	wait_gauge("mailbox_envelopes", "BFA", 2, 2);
	wait_gauge("mailbox_bytes", "BFA", (double)(len[0] + len[1]), (double)(len[0] + len[1]));
	/* The oldest acknowledged, the age is the second one's, 3.5 s younger. */
	ack_as_bfa(&cb, &e[0]);
	wait_gauge("mailbox_envelopes", "BFA", 1, 1);
	wait_gauge("mailbox_bytes", "BFA", (double)len[1], (double)len[1]);
	wait_gauge("mailbox_oldest_age_seconds", "BFA", 0, 2.5);
	ack_as_bfa(&cb, &e[1]);
	wait_gauge("mailbox_envelopes", "BFA", 0, 0);
	wait_gauge("mailbox_bytes", "BFA", 0, 0);
	wait_gauge("mailbox_oldest_age_seconds", "BFA", 0, 0);
	tclient_close(&cf);
	tclient_close(&cb);
}

/*
 * A peer sending refused requests as fast as it can does not fill the log:
 * at most REFUSAL_LINES refusal lines per window, then one line that
 * counts the rest by error once the window closes.
 */
/* RELAY_REFUSAL_LINES and RELAY_REFUSAL_WINDOW_MS (daemon/relay/relay.h). */
#define REFUSAL_LINES 20
#define REFUSAL_WINDOW_MS 10000

static void test_refusal_lines_capped(void **state)
{
	(void)state;
	const char *line = "refused a request from an undecodable sender: DX_EPARSE";
	const char *summary = "more request(s) in the last";
	const int sent = 3 * REFUSAL_LINES;
	struct tclient c;
	uint8_t junk[200];
	rh_open_client(&c, H.fra);
	int lines0 = proc_log_count(&H.relay, line);
	int summaries0 = proc_log_count(&H.relay, summary);
	for (int i = 0; i < sent; i++) {
		Dx__RelayResponse *r = NULL;
		randombytes_buf(junk, sizeof(junk));
		junk[0] = 0xff; /* not a protobuf field: undecodable */
		assert_int_equal(tclient_call_raw(&c, junk, sizeof(junk), &r), DX_OK);
		assert_int_equal(r->status, DX_EPARSE);
		dx__relay_response__free_unpacked(r, NULL);
	}
	int lines = proc_log_count(&H.relay, line) - lines0;
	assert_true(lines >= 1 && lines <= REFUSAL_LINES);
	if (proc_wait_log(&H.relay, summary, summaries0 + 1,
			  REFUSAL_WINDOW_MS + 10000) != 0) {
		fail_msg("no line counting the %d refusals without a line of their own",
			 sent - lines);
	}
	assert_int_equal(proc_log_number_last(&H.relay, "DX_EPARSE "), sent - lines);
	/* The metrics count every one. */
	assert_true(metric("divex_relay_requests_total{op=\"undecodable\",outcome=\"refused\"}") >=
		    sent);
	tclient_close(&c);
}

/* One upload (from FRA unless from is set) on a connection of its own, for a thread. */
struct piece_call {
	const struct keys *from;
	const uint8_t *id, *data;
	uint64_t off, total;
	size_t n;
	int want;
	uint64_t received;
	pthread_t t;
};

static void *piece_thread(void *arg)
{
	struct piece_call *p = arg;
	struct tclient c;
	rh_open_client(&c, p->from != NULL ? p->from : H.fra);
	Dx__RelayResponse *r = rh_upload(&c, p->id, p->off, p->data, p->n, p->total, p->want);
	p->received = r->total_size;
	dx__relay_response__free_unpacked(r, NULL);
	tclient_close(&c);
	return NULL;
}

#define PIECES_WAITING "divex_relay_upload_pieces_waiting"

static long pieces_waiting(void)
{
	double n = metric(PIECES_WAITING);
	assert_true(n >= 0);
	return (long)n;
}

static void wait_pieces_waiting(long n)
{
	wait_metric(PIECES_WAITING, (double)n, (double)n);
}

/*
 * A piece that arrives before the one it follows (two on their way at once,
 * handed over by nng in either order) waits for it and is stored after it;
 * one further ahead than a piece is refused at once; one whose predecessor
 * is refused is answered at once; at most RELAY_AHEAD_PER_MEMBER wait per
 * State and a quarter of the contexts in all, and a piece whose
 * predecessor never comes is refused after RELAY_AHEAD_WAIT_MS.
 */
static void test_upload_ahead(void **state)
{
	(void)state;
	const uint64_t size = 2 * RELAY_DATA_MAX + 10;
	uint8_t *stream = malloc(size), ids[5][16];
	randombytes_buf(stream, size);
	randombytes_buf(ids, sizeof(ids));
	struct tclient c;
	rh_open_client(&c, H.fra);

	struct piece_call second = { .id = ids[0], .data = stream + RELAY_DATA_MAX,
				     .off = RELAY_DATA_MAX, .n = RELAY_DATA_MAX, .total = size,
				     .want = DX_OK };
	assert_int_equal(pthread_create(&second.t, NULL, piece_thread, &second), 0);
	wait_pieces_waiting(1);
	Dx__RelayResponse *r = rh_upload(&c, ids[0], 0, stream, RELAY_DATA_MAX, size, DX_OK);
	assert_int_equal(r->total_size, RELAY_DATA_MAX);
	dx__relay_response__free_unpacked(r, NULL);
	pthread_join(second.t, NULL);
	assert_int_equal(second.received, 2 * RELAY_DATA_MAX);
	r = rh_upload(&c, ids[0], 2 * RELAY_DATA_MAX, stream + 2 * RELAY_DATA_MAX, 10, size, DX_OK);
	assert_int_equal(r->total_size, size);
	dx__relay_response__free_unpacked(r, NULL);
	/* Stored in order, byte for byte: each piece resent matches. */
	for (uint64_t off = 0; off < size; off += RELAY_DATA_MAX) {
		size_t n = size - off < RELAY_DATA_MAX ? (size_t)(size - off) : RELAY_DATA_MAX;
		r = rh_upload(&c, ids[0], off, stream + off, n, size, DX_OK);
		dx__relay_response__free_unpacked(r, NULL);
	}

	/* More than a piece ahead: refused without waiting. */
	r = rh_upload(&c, ids[1], RELAY_DATA_MAX + 1, stream, 10, size, DX_EINVAL);
	dx__relay_response__free_unpacked(r, NULL);
	assert_int_equal(pieces_waiting(), 0);

	/* Waiting for a piece that is refused (over the quota): answered with it. */
	struct piece_call orphan = { .id = ids[1], .data = stream, .off = RELAY_DATA_MAX,
				     .n = 10, .total = size, .want = DX_EINVAL };
	assert_int_equal(pthread_create(&orphan.t, NULL, piece_thread, &orphan), 0);
	wait_pieces_waiting(1);
	/* A malformed upload (a short id) while a piece waits: refused, and it
	 * names no stream (nor is compared with the waiting one's). */
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__UploadOp bad = DX__UPLOAD_OP__INIT;
	bad.attachment_id = (ProtobufCBinaryData){ 3, (uint8_t *)"abc" };
	bad.data = (ProtobufCBinaryData){ 10, stream };
	bad.total_size = size;
	b.op_case = DX__REQUEST_BODY__OP_UPLOAD;
	b.upload = &bad;
	r = rh_call(&c, &b, DX_EPARSE);
	dx__relay_response__free_unpacked(r, NULL);

	r = rh_upload(&c, ids[1], 0, stream, RELAY_DATA_MAX, 1ull << 50, DX_EQUOTA);
	dx__relay_response__free_unpacked(r, NULL);
	assert_int_equal(pieces_waiting(), 0);
	pthread_join(orphan.t, NULL);

	/* RELAY_AHEAD_PER_MEMBER (8) wait per State, FRA's and MEX's: a ninth
	 * from FRA is refused at once, and so is BFA's first, the 16 waiting
	 * being a quarter of the relay's 64 contexts; those waiting are refused
	 * when the pieces before them do not come. */
	struct piece_call w[16];
	for (int i = 0; i < 16; i++) {
		w[i] = (struct piece_call){ .from = i < 8 ? H.fra : H.mex, .data = stream,
					    .off = 100, .n = 10, .total = size, .want = DX_EINVAL };
		w[i].id = malloc(16);
		randombytes_buf((uint8_t *)w[i].id, 16);
		assert_int_equal(pthread_create(&w[i].t, NULL, piece_thread, &w[i]), 0);
		wait_pieces_waiting(i + 1);
	}
	r = rh_upload(&c, ids[4], 100, stream, 10, size, DX_EINVAL);
	dx__relay_response__free_unpacked(r, NULL);
	struct tclient cb;
	rh_open_client(&cb, H.bfa);
	r = rh_upload(&cb, ids[3], 100, stream, 10, size, DX_EINVAL);
	dx__relay_response__free_unpacked(r, NULL);
	tclient_close(&cb);
	assert_int_equal(pieces_waiting(), 16);
	for (int i = 0; i < 16; i++) {
		pthread_join(w[i].t, NULL);
		free((uint8_t *)w[i].id);
	}
	/* This client resends after 5 s (a node after 60 s): the resent copy
	 * may be the one answered, and the first copy leaves when it expires. */
	wait_pieces_waiting(0);
	tclient_close(&c);
	free(stream);
}

/* `divex relay status` prints the same summary, as text and as JSON. */
static void test_cli_relay_status(void **state)
{
	(void)state;
	char admin[64], out[1200];
	int port = (int)proc_log_number_last(&H.relay, "status page http://127.0.0.1:");
	snprintf(admin, sizeof(admin), "127.0.0.1:%d", port);
	snprintf(out, sizeof(out), "%s/cli-status.txt", test_tmpdir());
	char *argv[] = { (char *)built("cli/divex"), "relay", "status", "--admin", admin, NULL };
	assert_int_equal(proc_run(out, argv), 0);
	assert_true(file_contains(out, "MEX", 3));
	snprintf(out, sizeof(out), "%s/cli-status.json", test_tmpdir());
	char *argj[] = { (char *)built("cli/divex"), "--json", "relay", "status", "--admin", admin,
			 NULL };
	assert_int_equal(proc_run(out, argj), 0);
	assert_true(file_contains(out, "\"states\"", 8) || file_contains(out, "\"MEX\"", 5));
	/* Nothing listening: a clear failure, not a hang. */
	snprintf(out, sizeof(out), "%s/cli-status-down.txt", test_tmpdir());
	char *argd[] = { (char *)built("cli/divex"), "relay", "status", "--admin", "127.0.0.1:1",
			 NULL };
	assert_int_equal(proc_run(out, argd), 1);
	assert_true(file_contains(out, "is divex-relay running", 22));
}

/* The relay executable contains no code that opens an envelope. */
static void test_no_opening_code(void **state)
{
	(void)state;
	static const char *forbidden[] = {
		"open_envelope", "seal_envelope", "attach_opener_feed", "attach_decrypt_fd",
		"crypto_aead_xchacha20poly1305_ietf_decrypt",
		"crypto_secretstream_xchacha20poly1305_pull",
	};
	char cmd[1200], line[512];
	snprintf(cmd, sizeof(cmd), "nm -a %s 2>&1; nm -D %s 2>&1", rh_relay_bin(), rh_relay_bin());
	FILE *f = popen(cmd, "r");
	int lines = 0;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		lines++;
		for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++) {
			if (strstr(line, forbidden[i]) != NULL) {
				fail_msg("divex-relay contains %s: %s", forbidden[i], line);
			}
		}
	}
	assert_int_equal(pclose(f), 0);
	/* The check read a real symbol table, not an error message. */
	assert_true(lines > 100);
}

/* SIGHUP applies new limits without a restart. */
static void test_sighup_reloads_limits(void **state)
{
	(void)state;
	struct tclient cf;
	struct envelope_info e;
	size_t len;
	int before = proc_log_count(&H.relay, "roster and limits reloaded");
	rh_rewrite_config(1);
	kill(H.relay.pid, SIGHUP);
	assert_int_equal(proc_wait_log(&H.relay, "roster and limits reloaded", before + 1, 10000), 0);
	rh_open_client(&cf, H.fra);
	uint8_t *env = rh_seal_for(H.fra, H.bfa, "one", &len, &e);
	Dx__RelayResponse *r = rh_submit(&cf, env, len, DX_OK);
	dx__relay_response__free_unpacked(r, NULL);
	free(env);
	env = rh_seal_for(H.fra, H.bfa, "two", &len, &e);
	r = rh_submit(&cf, env, len, DX_EQUOTA);
	dx__relay_response__free_unpacked(r, NULL);
	free(env);
	tclient_close(&cf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_opening_code),
		cmocka_unit_test(test_oversized_message),
		cmocka_unit_test(test_long_poll),
		cmocka_unit_test(test_attachment_pieces),
		cmocka_unit_test(test_attachment_files),
		cmocka_unit_test(test_crash_keeps_receipts),
		cmocka_unit_test(test_parked_polls_bounded),
		cmocka_unit_test(test_metrics_parse),
		cmocka_unit_test(test_mailbox_gauges),
		cmocka_unit_test(test_refusal_lines_capped),
		cmocka_unit_test(test_upload_ahead),
		cmocka_unit_test(test_cli_relay_status),
		cmocka_unit_test(test_sighup_reloads_limits),
	};
	if (sodium_init() < 0) {
		return 1;
	}
	H.mailbox_max = 1000;
	return cmocka_run_group_tests_name("relay under faults", tests, rh_setup, rh_teardown);
}
