/*
 * refs.c: see refs.h.
 *
 * The round-trip rate uses nng's own asynchronous contexts, each one a
 * little state machine driven from nng's threads (send, then receive, then
 * send again) that only counts: the reference is nng itself, without the
 * libuv bridge the relay and the node put in front of it.
 */
#include "refs.h"

#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include "bench.h"
#include "tlsgen.h"

#define MSG_MAX (2 * 1024 * 1024)
#define SERVER_CONTEXTS 256
#define VERIFY_MSG_LEN 1024
/* A signed request: reply length, this magic, public key, signature. */
#define SIGNED_MAGIC "SIG1"
#define SIGNED_HDR (4 + 4 + crypto_sign_PUBLICKEYBYTES + crypto_sign_BYTES)

/* ---- Ed25519 ---- */

static double crypto_rate(double seconds, int verify)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	uint8_t msg[VERIFY_MSG_LEN], sig[crypto_sign_BYTES];
	crypto_sign_keypair(pk, sk);
	randombytes_buf(msg, sizeof(msg));
	crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
	uint64_t n = 0, t0 = bench_now_ns(), end = t0 + (uint64_t)(seconds * 1e9), t;
	do {
		for (int i = 0; i < 64; i++) {
			if (verify) {
				BENCH_CHECK(crypto_sign_verify_detached(sig, msg, sizeof(msg), pk));
			} else {
				crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
			}
		}
		n += 64;
		t = bench_now_ns();
	} while (t < end);
	sodium_memzero(sk, sizeof(sk));
	return (double)n / ((double)(t - t0) / 1e9);
}

double refs_ed25519_verify_rate(double seconds)
{
	return crypto_rate(seconds, 1);
}

double refs_ed25519_sign_rate(double seconds)
{
	return crypto_rate(seconds, 0);
}

/* ---- SQLite ---- */

double refs_sqlite_commit_rate(const char *dir, unsigned rows, unsigned commits, uint64_t *lat_ns)
{
	static unsigned seq;
	char path[1200];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	uint8_t blob[1024];
	snprintf(path, sizeof(path), "%s/ref-%u.db", dir, seq++);
	BENCH_CHECK(sqlite3_open(path, &db));
	BENCH_CHECK(sqlite3_exec(db,
				 "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
				 "CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL);",
				 NULL, NULL, NULL));
	BENCH_CHECK(sqlite3_prepare_v2(db, "INSERT INTO t (body) VALUES (?)", -1, &st, NULL));
	randombytes_buf(blob, sizeof(blob));
	uint64_t t0 = bench_now_ns();
	for (unsigned c = 0; c < commits; c++) {
		uint64_t c0 = bench_now_ns();
		BENCH_CHECK(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL));
		for (unsigned r = 0; r < rows; r++) {
			blob[0] = (uint8_t)r;
			sqlite3_bind_blob(st, 1, blob, sizeof(blob), SQLITE_STATIC);
			if (sqlite3_step(st) != SQLITE_DONE) {
				bench_die(__FILE__, __LINE__, "insert", sqlite3_errcode(db));
			}
			sqlite3_reset(st);
		}
		BENCH_CHECK(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL));
		if (lat_ns != NULL) {
			lat_ns[c] = bench_now_ns() - c0;
		}
	}
	double secs = (double)(bench_now_ns() - t0) / 1e9;
	sqlite3_finalize(st);
	sqlite3_close(db);
	unlink(path);
	char aux[1300];
	snprintf(aux, sizeof(aux), "%s-wal", path);
	unlink(aux);
	snprintf(aux, sizeof(aux), "%s-shm", path);
	unlink(aux);
	return (double)commits / secs;
}

/* ---- the echo server (child process) ---- */

struct srv_ctx {
	nng_ctx ctx;
	nng_aio *aio;
	int sending;
};

static void srv_cb(void *arg)
{
	struct srv_ctx *c = arg;
	nng_msg *m;
	if (nng_aio_result(c->aio) != 0) {
		if (c->sending) {
			nng_msg_free(nng_aio_get_msg(c->aio));
		}
		c->sending = 0;
		nng_ctx_recv(c->ctx, c->aio);
		return;
	}
	if (c->sending) {
		c->sending = 0;
		nng_ctx_recv(c->ctx, c->aio);
		return;
	}
	m = nng_aio_get_msg(c->aio);
	uint32_t want = 0;
	int verified = -1;
	size_t len = nng_msg_len(m);
	if (len >= 4) {
		const uint8_t *b = nng_msg_body(m);
		want = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
		if (len > SIGNED_HDR && memcmp(b + 4, SIGNED_MAGIC, 4) == 0) {
			/* want | magic | pk | sig | message: verified here, on
			 * nng's own thread, as the floor of a relay's work. */
			verified = crypto_sign_verify_detached(b + 40, b + SIGNED_HDR,
							       len - SIGNED_HDR, b + 8) == 0;
		}
	}
	if (want > MSG_MAX - 1024) {
		want = 16;
	}
	/* The reply reuses the request's message (its header routes it back). */
	if (nng_msg_realloc(m, want) != 0) {
		nng_msg_free(m);
		nng_ctx_recv(c->ctx, c->aio);
		return;
	}
	if (verified >= 0 && want > 0) {
		/* The first byte of the reply says whether the signature held. */
		((uint8_t *)nng_msg_body(m))[0] = (uint8_t)verified;
	}
	nng_aio_set_msg(c->aio, m);
	c->sending = 1;
	nng_ctx_send(c->ctx, c->aio);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		return NULL;
	}
	char *b = calloc(1, 65536);
	if (b != NULL) {
		size_t n = fread(b, 1, 65535, f);
		b[n] = '\0';
	}
	fclose(f);
	return b;
}

static void server_main(int tls, const char *cert, const char *key, int fd)
{
	nng_socket sock;
	nng_listener l;
	int port = 0;
	static struct srv_ctx ctxs[SERVER_CONTEXTS];
	BENCH_CHECK(nng_rep0_open(&sock));
	nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, MSG_MAX);
	BENCH_CHECK(
		nng_listener_create(&l, sock, tls ? "tls+tcp://127.0.0.1:0" : "tcp://127.0.0.1:0"));
	if (tls) {
		nng_tls_config *cfg;
		char *c = slurp(cert), *k = slurp(key);
		BENCH_CHECK(c == NULL || k == NULL);
		BENCH_CHECK(nng_tls_config_alloc(&cfg, NNG_TLS_MODE_SERVER));
		BENCH_CHECK(nng_tls_config_own_cert(cfg, c, k, NULL));
		BENCH_CHECK(nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, cfg));
		nng_tls_config_free(cfg);
		free(c);
		free(k);
	}
	BENCH_CHECK(nng_listener_start(l, 0));
	BENCH_CHECK(nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port));
	for (int i = 0; i < SERVER_CONTEXTS; i++) {
		BENCH_CHECK(nng_ctx_open(&ctxs[i].ctx, sock));
		BENCH_CHECK(nng_aio_alloc(&ctxs[i].aio, srv_cb, &ctxs[i]));
		nng_ctx_recv(ctxs[i].ctx, ctxs[i].aio);
	}
	if (write(fd, &port, sizeof(port)) != (ssize_t)sizeof(port)) {
		_exit(1);
	}
	close(fd);
	for (;;) {
		pause();
	}
}

static pid_t server_pids[8];

static void kill_servers(void)
{
	for (size_t i = 0; i < sizeof(server_pids) / sizeof(server_pids[0]); i++) {
		if (server_pids[i] > 0) {
			kill(server_pids[i], SIGKILL);
			waitpid(server_pids[i], NULL, 0);
			server_pids[i] = 0;
		}
	}
}

int refs_server_start(struct refs_server *s, int tls, const char *dir)
{
	static unsigned seq;
	static int registered;
	char key[1100];
	int fds[2], port = 0;
	memset(s, 0, sizeof(*s));
	s->tls = tls;
	snprintf(s->ca, sizeof(s->ca), "%s/refs-cert-%u.pem", dir, seq);
	snprintf(key, sizeof(key), "%s/refs-key-%u.pem", dir, seq++);
	if (tls) {
		char fp[TLSGEN_FINGERPRINT_HEX_LEN + 1];
		int rc = tlsgen_self_signed(s->ca, key, "127.0.0.1", fp);
		if (rc != DX_OK) {
			return rc;
		}
	}
	if (pipe(fds) != 0) {
		return DX_EIO;
	}
	fflush(NULL);
	s->pid = fork();
	if (s->pid < 0) {
		return DX_EIO;
	}
	if (s->pid == 0) {
		close(fds[0]);
		server_main(tls, s->ca, key, fds[1]);
		_exit(0);
	}
	close(fds[1]);
	if (!registered) {
		atexit(kill_servers);
		registered = 1;
	}
	for (size_t i = 0; i < sizeof(server_pids) / sizeof(server_pids[0]); i++) {
		if (server_pids[i] == 0) {
			server_pids[i] = s->pid;
			break;
		}
	}
	ssize_t n = read(fds[0], &port, sizeof(port));
	close(fds[0]);
	if (n != (ssize_t)sizeof(port) || port <= 0) {
		return DX_EIO;
	}
	snprintf(s->url, sizeof(s->url), "%s://127.0.0.1:%d", tls ? "tls+tcp" : "tcp", port);
	return DX_OK;
}

void refs_server_stop(struct refs_server *s)
{
	for (size_t i = 0; i < sizeof(server_pids) / sizeof(server_pids[0]); i++) {
		if (server_pids[i] == s->pid) {
			server_pids[i] = 0;
		}
	}
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
}

/* ---- clients ---- */

static int dial(const struct refs_server *s, nng_socket *sock)
{
	nng_dialer d;
	int rc = nng_req0_open(sock);
	if (rc != 0) {
		return rc;
	}
	nng_socket_set_size(*sock, NNG_OPT_RECVMAXSZ, MSG_MAX);
	nng_socket_set_ms(*sock, NNG_OPT_REQ_RESENDTIME, 600000);
	if ((rc = nng_dialer_create(&d, *sock, s->url)) != 0) {
		return rc;
	}
	if (s->tls) {
		nng_tls_config *cfg;
		if ((rc = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT)) != 0 ||
		    (rc = nng_tls_config_ca_file(cfg, s->ca)) != 0 ||
		    (rc = nng_tls_config_server_name(cfg, "127.0.0.1")) != 0 ||
		    (rc = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) != 0 ||
		    (rc = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg)) != 0) {
			return rc;
		}
		nng_tls_config_free(cfg);
	}
	return nng_dialer_start(d, 0);
}

static nng_msg *request(size_t req_len, size_t reply_len)
{
	nng_msg *m;
	BENCH_CHECK(nng_msg_alloc(&m, req_len < 4 ? 4 : req_len));
	uint8_t *b = nng_msg_body(m);
	b[0] = (uint8_t)(reply_len >> 24);
	b[1] = (uint8_t)(reply_len >> 16);
	b[2] = (uint8_t)(reply_len >> 8);
	b[3] = (uint8_t)reply_len;
	return m;
}

struct rr_run;
struct rr_ctx {
	nng_ctx ctx;
	nng_aio *aio;
	int sending;
	struct rr_run *run;
};
struct rr_run {
	size_t req_len, reply_len;
	const uint8_t *signed_req; /* NULL, or req_len bytes to send as they are */
	atomic_uint_fast64_t done;
	atomic_int stop, stopped, errors;
};

static void rr_send(struct rr_ctx *c)
{
	nng_msg *m = request(c->run->req_len, c->run->reply_len);
	if (c->run->signed_req != NULL) {
		memcpy(nng_msg_body(m), c->run->signed_req, c->run->req_len);
	}
	nng_aio_set_msg(c->aio, m);
	c->sending = 1;
	nng_ctx_send(c->ctx, c->aio);
}

static void rr_cb(void *arg)
{
	struct rr_ctx *c = arg;
	struct rr_run *run = c->run;
	if (nng_aio_result(c->aio) != 0) {
		if (c->sending) {
			nng_msg_free(nng_aio_get_msg(c->aio));
		}
		atomic_fetch_add(&run->errors, 1);
		atomic_fetch_add(&run->stopped, 1);
		return;
	}
	if (c->sending) {
		c->sending = 0;
		nng_ctx_recv(c->ctx, c->aio);
		return;
	}
	nng_msg *reply = nng_aio_get_msg(c->aio);
	if (run->signed_req != NULL &&
	    (nng_msg_len(reply) < 1 || ((const uint8_t *)nng_msg_body(reply))[0] != 1)) {
		atomic_fetch_add(&run->errors, 1);
	}
	nng_msg_free(reply);
	atomic_fetch_add(&run->done, 1);
	if (atomic_load(&run->stop)) {
		atomic_fetch_add(&run->stopped, 1);
		return;
	}
	rr_send(c);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static double rr_rate(const struct refs_server *s, unsigned contexts, size_t req_len,
		      size_t reply_len, const uint8_t *signed_req, double seconds)
{
	nng_socket sock;
	struct rr_run run = { .req_len = req_len, .reply_len = reply_len, .signed_req = signed_req };
	struct rr_ctx *c = calloc(contexts, sizeof(*c));
	BENCH_CHECK(c == NULL);
	BENCH_CHECK(dial(s, &sock));
	for (unsigned i = 0; i < contexts; i++) {
		c[i].run = &run;
		BENCH_CHECK(nng_ctx_open(&c[i].ctx, sock));
		BENCH_CHECK(nng_aio_alloc(&c[i].aio, rr_cb, &c[i]));
	}
	for (unsigned i = 0; i < contexts; i++) {
		rr_send(&c[i]);
	}
	/* Warm up (connection, TLS handshake), then count over the window. */
	sleep_ms(300);
	uint64_t n0 = atomic_load(&run.done), t0 = bench_now_ns();
	sleep_ms((unsigned)(seconds * 1000));
	uint64_t n1 = atomic_load(&run.done), t1 = bench_now_ns();
	atomic_store(&run.stop, 1);
	while (atomic_load(&run.stopped) < (int)contexts) {
		sleep_ms(5);
	}
	for (unsigned i = 0; i < contexts; i++) {
		nng_aio_free(c[i].aio);
		nng_ctx_close(c[i].ctx);
	}
	nng_close(sock);
	free(c);
	BENCH_CHECK(atomic_load(&run.errors));
	return (double)(n1 - n0) / ((double)(t1 - t0) / 1e9);
}

double refs_nng_rate(const struct refs_server *s, unsigned contexts, size_t req_len,
		     size_t reply_len, double seconds)
{
	return rr_rate(s, contexts, req_len, reply_len, NULL, seconds);
}

double refs_nng_verify_rate(const struct refs_server *s, unsigned contexts, double seconds)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	uint8_t req[SIGNED_HDR + VERIFY_MSG_LEN];
	const size_t reply_len = 1024;
	req[0] = (uint8_t)(reply_len >> 24);
	req[1] = (uint8_t)(reply_len >> 16);
	req[2] = (uint8_t)(reply_len >> 8);
	req[3] = (uint8_t)reply_len;
	memcpy(req + 4, SIGNED_MAGIC, 4);
	crypto_sign_keypair(pk, sk);
	memcpy(req + 8, pk, sizeof(pk));
	randombytes_buf(req + SIGNED_HDR, VERIFY_MSG_LEN);
	crypto_sign_detached(req + 8 + sizeof(pk), NULL, req + SIGNED_HDR, VERIFY_MSG_LEN, sk);
	sodium_memzero(sk, sizeof(sk));
	return rr_rate(s, contexts, sizeof(req), reply_len, req, seconds);
}

int refs_nng_rtt(const struct refs_server *s, size_t req_len, size_t reply_len, size_t n,
		 uint64_t *lat_ns)
{
	nng_socket sock;
	nng_msg *m;
	int rc = dial(s, &sock);
	if (rc != 0) {
		return DX_EIO;
	}
	for (size_t i = 0; i < n + 100; i++) {
		uint64_t t0 = bench_now_ns();
		if ((rc = nng_sendmsg(sock, request(req_len, reply_len), 0)) != 0 ||
		    (rc = nng_recvmsg(sock, &m, 0)) != 0) {
			break;
		}
		nng_msg_free(m);
		/* The first hundred warm the connection up. */
		if (i >= 100) {
			lat_ns[i - 100] = bench_now_ns() - t0;
		}
	}
	nng_close(sock);
	return rc == 0 ? DX_OK : DX_EIO;
}

double refs_nng_bulk(const struct refs_server *s, int upload, uint64_t total, size_t piece_max)
{
	nng_socket sock;
	nng_msg *m;
	BENCH_CHECK(dial(s, &sock));
	/* One exchange first, so that the connection is up before the clock starts. */
	BENCH_CHECK(nng_sendmsg(sock, request(16, 16), 0));
	BENCH_CHECK(nng_recvmsg(sock, &m, 0));
	nng_msg_free(m);
	uint64_t moved = 0, t0 = bench_now_ns();
	while (moved < total) {
		size_t piece = total - moved < piece_max ? (size_t)(total - moved) : piece_max;
		nng_msg *q = upload ? request(piece, 16) : request(64, piece);
		if (upload) {
			/* Touch the payload as a sender filling a buffer would. */
			memset((uint8_t *)nng_msg_body(q) + 4, (int)moved, piece - 4);
		}
		BENCH_CHECK(nng_sendmsg(sock, q, 0));
		BENCH_CHECK(nng_recvmsg(sock, &m, 0));
		nng_msg_free(m);
		moved += piece;
	}
	double secs = (double)(bench_now_ns() - t0) / 1e9;
	nng_close(sock);
	return (double)total / 1e6 / secs;
}

double refs_fsync_write_rate(const char *dir, uint64_t total, size_t piece)
{
	char path[1200];
	static unsigned seq;
	uint8_t *buf = malloc(piece);
	BENCH_CHECK(buf == NULL);
	randombytes_buf(buf, piece);
	snprintf(path, sizeof(path), "%s/fsync-ref-%u", dir, seq++);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	BENCH_CHECK(fd < 0);
	uint64_t done = 0, t0 = bench_now_ns();
	while (done < total) {
		size_t n = total - done < piece ? (size_t)(total - done) : piece;
		BENCH_CHECK(write(fd, buf, n) != (ssize_t)n);
		BENCH_CHECK(fdatasync(fd));
		done += n;
	}
	double secs = (double)(bench_now_ns() - t0) / 1e9;
	close(fd);
	unlink(path);
	free(buf);
	return (double)total / 1e6 / secs;
}

double refs_secretstream_rate(uint64_t total)
{
	crypto_secretstream_xchacha20poly1305_state st;
	uint8_t key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
	uint8_t header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
	const size_t chunk = 64 * 1024;
	uint8_t *pt = malloc(chunk),
		*ct = malloc(chunk + crypto_secretstream_xchacha20poly1305_ABYTES);
	BENCH_CHECK(pt == NULL || ct == NULL);
	randombytes_buf(pt, chunk);
	crypto_secretstream_xchacha20poly1305_keygen(key);
	crypto_secretstream_xchacha20poly1305_init_push(&st, header, key);
	uint64_t done = 0, t0 = bench_now_ns();
	while (done < total) {
		unsigned long long clen;
		crypto_secretstream_xchacha20poly1305_push(&st, ct, &clen, pt, chunk, NULL, 0, 0);
		done += chunk;
	}
	double secs = (double)(bench_now_ns() - t0) / 1e9;
	sodium_memzero(key, sizeof(key));
	free(pt);
	free(ct);
	return (double)total / 1e6 / secs;
}
