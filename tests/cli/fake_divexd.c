/*
 * fake_divexd.c: see fake_divexd.h.
 */
#include "fake_divexd.h"

#include <fcntl.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "canon.h"
#include "error.h"
#include "testlib.h"
#include "util.h"

#define MSG_MAX (2 * 1024 * 1024)

static long last_rss_kib;

struct fake {
	nng_socket sock;
	pthread_t thread;
	pthread_mutex_t mu;
	int stop;
	fake_handler_fn fn;
	void *ctx;
	Dx__ControlRequest *reqs[FAKE_MAX_REQUESTS];
	size_t n_reqs;
	struct fake_stream streams[FAKE_MAX_STREAMS];
	size_t n_streams;
};

void fake_pack(const Dx__ControlResponse *resp, uint8_t **out, size_t *out_len)
{
	if (proto_pack_alloc(&resp->base, out, out_len) != DX_OK) {
		*out = NULL;
		*out_len = 0;
	}
}

void fake_pack_read(Dx__ReadResult *r, const ProtobufCMessage *pl, uint8_t **out, size_t *out_len)
{
	Dx__ControlResponse resp = DX__CONTROL_RESPONSE__INIT;
	uint8_t *body = NULL;
	size_t len = 0;
	assert_dx_ok(proto_pack_alloc(pl, &body, &len));
	if (r->payload.data == NULL) {
		r->payload = (ProtobufCBinaryData){ len, body };
	}
	resp.result_case = DX__CONTROL_RESPONSE__RESULT_READ;
	resp.read = r;
	fake_pack(&resp, out, out_len);
	free(body);
}

void fake_refuse(int err, const char *message, uint8_t **out, size_t *out_len)
{
	Dx__ControlResponse resp = DX__CONTROL_RESPONSE__INIT;
	resp.error = err;
	resp.message = (char *)message;
	fake_pack(&resp, out, out_len);
}

static struct fake_stream *find_stream(struct fake *f, const uint8_t *id, size_t id_len)
{
	for (size_t i = 0; id_len == 16 && i < f->n_streams; i++) {
		if (memcmp(f->streams[i].id, id, 16) == 0) {
			return &f->streams[i];
		}
	}
	return NULL;
}

struct fake_stream *fake_stream(struct fake *f, const uint8_t id[16])
{
	return find_stream(f, id, 16);
}

struct fake_stream *fake_stream_add(struct fake *f, const uint8_t id[16], const uint8_t *data,
				    size_t len)
{
	if (f->n_streams == FAKE_MAX_STREAMS) {
		return NULL;
	}
	struct fake_stream *s = &f->streams[f->n_streams++];
	memcpy(s->id, id, 16);
	s->data = malloc(len > 0 ? len : 1);
	if (len > 0) {
		memcpy(s->data, data, len);
	}
	s->len = len;
	return s;
}

void fake_streams_clear(struct fake *f)
{
	for (size_t i = 0; i < f->n_streams; i++) {
		free(f->streams[i].data);
	}
	f->n_streams = 0;
}

/* put_attachment as the contract says: a piece must start at what is held. */
static void put_piece(struct fake *f, const Dx__PutAttachmentOp *op, uint8_t **out, size_t *out_len)
{
	struct fake_stream *s = find_stream(f, op->attachment_id.data, op->attachment_id.len);
	if (s == NULL && op->attachment_id.len == 16) {
		s = fake_stream_add(f, op->attachment_id.data, NULL, 0);
	}
	if (s == NULL || op->offset != s->len || op->data.len > 512 * 1024 ||
	    s->len + op->data.len > op->total_size) {
		fake_refuse(DX_EINVAL, "piece out of order", out, out_len);
		return;
	}
	s->data = realloc(s->data, s->len + op->data.len + 1);
	memcpy(s->data + s->len, op->data.data, op->data.len);
	s->len += op->data.len;
	Dx__PutAttachmentResult r = DX__PUT_ATTACHMENT_RESULT__INIT;
	Dx__ControlResponse resp = DX__CONTROL_RESPONSE__INIT;
	r.received = s->len;
	resp.result_case = DX__CONTROL_RESPONSE__RESULT_PUT_ATTACHMENT;
	resp.put_attachment = &r;
	fake_pack(&resp, out, out_len);
}

static void get_piece(struct fake *f, const Dx__GetAttachmentOp *op, uint8_t **out, size_t *out_len)
{
	const struct fake_stream *s = find_stream(f, op->attachment_id.data, op->attachment_id.len);
	if (s == NULL || op->offset > s->len) {
		fake_refuse(DX_ENOENT, "no such attachment", out, out_len);
		return;
	}
	size_t n = s->len - op->offset;
	if (n > op->max) {
		n = op->max;
	}
	Dx__GetAttachmentResult r = DX__GET_ATTACHMENT_RESULT__INIT;
	Dx__ControlResponse resp = DX__CONTROL_RESPONSE__INIT;
	r.data = (ProtobufCBinaryData){ n, s->data + op->offset };
	r.total_size = s->len;
	resp.result_case = DX__CONTROL_RESPONSE__RESULT_GET_ATTACHMENT;
	resp.get_attachment = &r;
	fake_pack(&resp, out, out_len);
}

static void answer(struct fake *f, const uint8_t *buf, size_t len, uint8_t **out, size_t *out_len)
{
	ProtobufCMessage *m = NULL;
	if (proto_unpack_strict(&dx__control_request__descriptor, buf, len, MSG_MAX, &m) != DX_OK) {
		fake_refuse(DX_EPARSE, "not a canonical ControlRequest", out, out_len);
		return;
	}
	Dx__ControlRequest *req = (Dx__ControlRequest *)m;
	pthread_mutex_lock(&f->mu);
	if (f->n_reqs < FAKE_MAX_REQUESTS) {
		f->reqs[f->n_reqs++] = req;
	} else {
		protobuf_c_message_free_unpacked(m, NULL);
		req = NULL;
	}
	if (req == NULL) {
		fake_refuse(DX_EINTERNAL, "too many requests", out, out_len);
	} else if (req->op_case == DX__CONTROL_REQUEST__OP_PUT_ATTACHMENT) {
		put_piece(f, req->put_attachment, out, out_len);
	} else if (req->op_case == DX__CONTROL_REQUEST__OP_GET_ATTACHMENT) {
		get_piece(f, req->get_attachment, out, out_len);
	} else if (f->fn != NULL) {
		f->fn(f->ctx, req, out, out_len);
	} else {
		fake_refuse(DX_EINTERNAL, "no handler", out, out_len);
	}
	pthread_mutex_unlock(&f->mu);
}

static void *serve(void *arg)
{
	struct fake *f = arg;
	for (;;) {
		pthread_mutex_lock(&f->mu);
		int stop = f->stop;
		pthread_mutex_unlock(&f->mu);
		if (stop) {
			return NULL;
		}
		nng_msg *msg = NULL;
		int rv = nng_recvmsg(f->sock, &msg, 0);
		if (rv == NNG_ETIMEDOUT) {
			continue;
		}
		if (rv != 0) {
			return NULL;
		}
		uint8_t *out = NULL;
		size_t out_len = 0;
		answer(f, nng_msg_body(msg), nng_msg_len(msg), &out, &out_len);
		nng_msg_clear(msg);
		if (nng_msg_append(msg, out, out_len) != 0 || nng_sendmsg(f->sock, msg, 0) != 0) {
			nng_msg_free(msg);
		}
		free(out);
	}
}

struct fake *fake_start(const char *home)
{
	char url[4200];
	struct fake *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_dx_ok(dx_mkdir_p(home));
	snprintf(url, sizeof(url), "ipc://%s/control.sock", home);
	pthread_mutex_init(&f->mu, NULL);
	assert_int_equal(nng_rep0_open(&f->sock), 0);
	assert_int_equal(nng_socket_set_size(f->sock, NNG_OPT_RECVMAXSZ, MSG_MAX), 0);
	assert_int_equal(nng_socket_set_ms(f->sock, NNG_OPT_RECVTIMEO, 50), 0);
	assert_int_equal(nng_listen(f->sock, url, NULL, 0), 0);
	assert_int_equal(pthread_create(&f->thread, NULL, serve, f), 0);
	return f;
}

static void forget_requests(struct fake *f)
{
	for (size_t i = 0; i < f->n_reqs; i++) {
		protobuf_c_message_free_unpacked(&f->reqs[i]->base, NULL);
	}
	f->n_reqs = 0;
}

void fake_stop(struct fake *f)
{
	pthread_mutex_lock(&f->mu);
	f->stop = 1;
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->thread, NULL);
	nng_close(f->sock);
	forget_requests(f);
	fake_streams_clear(f);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

void fake_set(struct fake *f, fake_handler_fn fn, void *ctx)
{
	pthread_mutex_lock(&f->mu);
	forget_requests(f);
	f->fn = fn;
	f->ctx = ctx;
	pthread_mutex_unlock(&f->mu);
}

size_t fake_count(struct fake *f)
{
	pthread_mutex_lock(&f->mu);
	size_t n = f->n_reqs;
	pthread_mutex_unlock(&f->mu);
	return n;
}

const Dx__ControlRequest *fake_request(struct fake *f, size_t i)
{
	pthread_mutex_lock(&f->mu);
	const Dx__ControlRequest *r = i < f->n_reqs ? f->reqs[i] : NULL;
	pthread_mutex_unlock(&f->mu);
	assert_non_null(r);
	return r;
}

static void redirect(const char *path, int fd, int flags)
{
	int f = open(path, flags, 0600);
	if (f < 0 || dup2(f, fd) < 0) {
		_exit(127);
	}
	close(f);
}

int fake_run(const char *home, const char *in_path, const char *out_path, const char *err_path,
	     const char *const *args)
{
	const char *argv[64];
	char divex[4096];
	size_t n = 0;
	snprintf(divex, sizeof(divex), "%s/cli/divex", test_binary_dir());
	argv[n++] = divex;
	argv[n++] = "--home";
	argv[n++] = home;
	for (size_t i = 0; args[i] != NULL && n < 63; i++) {
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		redirect(in_path != NULL ? in_path : "/dev/null", 0, O_RDONLY);
		redirect(out_path, 1, O_WRONLY | O_CREAT | O_TRUNC);
		redirect(err_path, 2, O_WRONLY | O_CREAT | O_TRUNC);
		execv(divex, (char *const *)argv);
		_exit(127);
	}
	int st = 0;
	struct rusage ru;
	assert_int_equal(wait4(pid, &st, 0, &ru), pid);
	last_rss_kib = ru.ru_maxrss;
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

long fake_last_rss_kib(void)
{
	return last_rss_kib;
}

const char *fake_slurp(const char *path)
{
	static char *bufs[4];
	static unsigned slot;
	char **b = &bufs[slot++ % 4];
	uint8_t *data = NULL;
	size_t len = 0;
	free(*b);
	*b = NULL;
	if (dx_read_file(path, 16 * 1024 * 1024, &data, &len) != DX_OK) {
		return "";
	}
	*b = realloc(data, len + 1);
	assert_non_null(*b);
	(*b)[len] = '\0';
	return *b;
}

struct fake *fx;
char fx_home[4096], fx_out[4096], fx_err[4096];

int fake_setup(void **state)
{
	(void)state;
	unsetenv("DIVEX_HOME");
	setenv("DIVEX_CTL_TIMEOUT_MS", "20000", 1);
	snprintf(fx_home, sizeof(fx_home), "%s/node", test_tmpdir());
	snprintf(fx_out, sizeof(fx_out), "%s/out", test_tmpdir());
	snprintf(fx_err, sizeof(fx_err), "%s/err", test_tmpdir());
	fx = fake_start(fx_home);
	return 0;
}

int fake_teardown(void **state)
{
	(void)state;
	fake_stop(fx);
	fx = NULL;
	return 0;
}

int fake_cmd(const char *in_path, const char *const *args)
{
	return fake_run(fx_home, in_path, fx_out, fx_err, args);
}

void fake_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL) {
		fail_msg("no '%s' in:\n%s", needle, hay);
	}
}
