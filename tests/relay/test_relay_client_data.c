/*
 * test_relay_client_data.c: the relay client's attachment transfer and
 * long-poll against a real divex-relay child process: an attachment uploaded
 * in pieces (a resent piece accepted again) is downloaded whole by the
 * recipient of an envelope that names it, refused to anyone else; two
 * pieces of a stream travel at once; a waiting list is answered when mail
 * arrives.
 */
#include <stdlib.h>
#include <string.h>

#include "rc_fixture.h"

struct xfer {
	int done, rc;
	uint64_t received, total;
	uint8_t *buf;
	size_t len;
};

static void upload_cb(void *arg, int rc, uint64_t received)
{
	struct xfer *x = arg;
	x->rc = rc;
	x->received = received;
	x->done++;
}

static void download_cb(void *arg, int rc, const uint8_t *data, size_t len, uint64_t total)
{
	struct xfer *x = arg;
	x->rc = rc;
	x->total = total;
	if (rc == DX_OK && len > 0) {
		memcpy(x->buf + x->len, data, len);
		x->len += len;
	}
	x->done++;
}

static int upload(struct relay_client *c, const uint8_t id[16], uint64_t off, const uint8_t *d,
		  size_t n, uint64_t total, uint64_t *received)
{
	struct xfer x = { 0 };
	assert_dx_ok(relay_client_upload(c, id, off, d, n, total, upload_cb, &x));
	WAIT_FOR(x.done);
	*received = x.received;
	return x.rc;
}

static void test_attachment_transfer(void **state)
{
	(void)state;
	fx_init();
	struct relay_client *cf = open_client(H.fra, NULL), *cm = open_client(H.mex, NULL);
	struct relay_client *cb = open_client(H.bfa, NULL);
	const size_t size = 2 * RELAY_DATA_MAX + 4321;
	uint8_t *stream = malloc(size), id[16];
	randombytes_buf(stream, size);
	randombytes_buf(id, sizeof(id));
	uint64_t got = 0;
	for (size_t off = 0; off < size; off += RELAY_DATA_MAX) {
		size_t n = size - off < RELAY_DATA_MAX ? size - off : RELAY_DATA_MAX;
		assert_dx_ok(upload(cf, id, off, stream + off, n, size, &got));
		assert_int_equal(got, off + n);
	}
	/* A piece sent again is accepted again; the stream does not change. */
	assert_dx_ok(upload(cf, id, 0, stream, RELAY_DATA_MAX, size, &got));

	/* The envelope to MEX names the attachment in its header. */
	size_t elen;
	struct envelope_info e;
	uint8_t *env =
		rh_seal_naming(H.fra, H.mex, "see file", (const uint8_t(*)[16])id, 1, &elen, &e);
	struct res r;
	assert_dx_ok(submit(cf, env, elen, &r));
	res_free(&r);

	struct xfer x = { .buf = malloc(size) };
	while (x.len < size) {
		int before = x.done;
		assert_dx_ok(relay_client_download(cm, id, e.digest, x.len, RELAY_DATA_MAX, download_cb, &x));
		WAIT_FOR(x.done > before);
		assert_dx_ok(x.rc);
		assert_int_equal(x.total, size);
	}
	assert_memory_equal(x.buf, stream, size);

	struct xfer no = { .buf = malloc(16) };
	assert_dx_ok(relay_client_download(cb, id, e.digest, 0, 16, download_cb, &no));
	WAIT_FOR(no.done);
	assert_int_equal(no.rc, DX_ENOT_RECIPIENT);

	free(no.buf);
	free(x.buf);
	free(env);
	free(stream);
	close_client(cf);
	close_client(cm);
	close_client(cb);
	fx_fini();
}

/*
 * Two pieces of one stream handed over back to back are on their way at
 * once (the relay holds one that arrives first); each is answered once, in
 * whichever order; the stream is stored byte for byte. Closing with pieces
 * on their way answers each once before the client says it is closed.
 */
static void test_upload_two_at_once(void **state)
{
	(void)state;
	fx_init();
	struct relay_client *cf = open_client(H.fra, NULL);
	const size_t size = 2 * RELAY_DATA_MAX + 999;
	uint8_t *stream = malloc(size), *buf = malloc(RELAY_DATA_MAX), ids[2][16];
	randombytes_buf(stream, size);
	randombytes_buf(ids, sizeof(ids));
	/* A session first, so that only uploads are counted in flight below. */
	assert_dx_ok(sync_once(cf));
	WAIT_FOR(relay_client_in_flight(cf) == 0);
	uint64_t held = 0;
	for (size_t off = 0; off < size; off += 2 * RELAY_DATA_MAX) {
		struct xfer x[2] = { { 0 } };
		size_t k = 0;
		for (; k < 2 && off + k * RELAY_DATA_MAX < size; k++) {
			size_t o = off + k * RELAY_DATA_MAX;
			size_t n = size - o < RELAY_DATA_MAX ? size - o : RELAY_DATA_MAX;
			/* One buffer for both: each piece is copied when handed over. */
			memcpy(buf, stream + o, n);
			assert_dx_ok(relay_client_upload(cf, ids[0], o, buf, n, size, upload_cb, &x[k]));
			memset(buf, 0xee, RELAY_DATA_MAX);
		}
		assert_int_equal(relay_client_in_flight(cf), k);
		WAIT_FOR(x[0].done && (k < 2 || x[1].done));
		for (size_t i = 0; i < k; i++) {
			assert_int_equal(x[i].done, 1);
			assert_dx_ok(x[i].rc);
			held = x[i].received > held ? x[i].received : held;
		}
	}
	assert_int_equal(held, size);
	/* The relay holds the stream byte for byte: a resend of each piece matches. */
	for (size_t off = 0; off < size; off += RELAY_DATA_MAX) {
		uint64_t got;
		size_t n = size - off < RELAY_DATA_MAX ? size - off : RELAY_DATA_MAX;
		assert_dx_ok(upload(cf, ids[0], off, stream + off, n, size, &got));
		assert_int_equal(got, size);
	}

	struct xfer c1 = { 0 }, c2 = { 0 };
	int closed = 0;
	assert_dx_ok(relay_client_upload(cf, ids[1], 0, stream, 100, 200, upload_cb, &c1));
	assert_dx_ok(relay_client_upload(cf, ids[1], 100, stream, 100, 200, upload_cb, &c2));
	relay_client_close(cf, set_flag, &closed);
	WAIT_FOR(closed);
	assert_int_equal(c1.done, 1);
	assert_int_equal(c2.done, 1);
	assert_true(c1.rc == DX_OK || c1.rc == DX_ECLOSED);
	assert_true(c2.rc == DX_OK || c2.rc == DX_ECLOSED || c2.rc == DX_EINVAL);
	free(buf);
	free(stream);
	fx_fini();
}

/* A list that waits is answered as soon as mail for its State arrives. */
static void test_long_poll(void **state)
{
	(void)state;
	fx_init();
	struct relay_client *cf = open_client(H.fra, NULL), *cb = open_client(H.bfa, NULL);
	struct res waiting;
	memset(&waiting, 0, sizeof(waiting));
	assert_dx_ok(relay_client_list(cb, 15000, 10, list_cb, &waiting));
	uint64_t t0 = dx_now_ms();
	size_t len;
	struct envelope_info e;
	uint8_t *env = rh_seal_for(H.fra, H.bfa, "for BFA", &len, &e);
	struct res r;
	assert_dx_ok(submit(cf, env, len, &r));
	res_free(&r);
	WAIT_FOR(waiting.done);
	assert_dx_ok(waiting.rc);
	assert_true(mail_has(&waiting, e.digest));
	assert_true(dx_now_ms() - t0 < 10000);
	free(env);
	close_client(cf);
	close_client(cb);
	fx_fini();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attachment_transfer),
		cmocka_unit_test(test_upload_two_at_once),
		cmocka_unit_test(test_long_poll),
	};
	if (sodium_init() < 0) {
		return 1;
	}
	return cmocka_run_group_tests_name("relay client data", tests, rh_setup, rh_teardown);
}
