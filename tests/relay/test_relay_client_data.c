/*
 * test_relay_client_data.c: the relay client's attachment transfer and
 * long-poll against a real divex-relay child process: an attachment uploaded
 * in pieces (a resent piece accepted again) is downloaded whole by the
 * recipient of an envelope that names it, refused to anyone else, and a
 * waiting list is answered when mail arrives.
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
	struct seal_peer peer;
	memset(&peer, 0, sizeof(peer));
	memcpy(peer.state, "MEX", 4);
	keys_identity_pk(H.mex, peer.identity_pk);
	keys_static_pk(H.mex, peer.static_pk);
	memcpy(peer.prekey_pk, keys_prekey_current(H.mex, dx_now_ms())->pk, 32);
	const uint8_t(*ids)[16] = (const uint8_t(*)[16])id;
	struct seal_params p = { .sender = H.fra, .recipient = &peer, .sequence = 1,
				 .created_ms = dx_now_ms(), .attachment_ids = ids,
				 .n_attachment_ids = 1, .body = (const uint8_t *)"see file",
				 .body_len = 8 };
	uint8_t *env = NULL, eid[16];
	size_t elen;
	struct envelope_info e;
	assert_dx_ok(seal_envelope(&p, &env, &elen, eid, NULL));
	assert_dx_ok(envelope_parse(env, elen, &e));
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
		cmocka_unit_test(test_long_poll),
	};
	if (sodium_init() < 0) {
		return 1;
	}
	return cmocka_run_group_tests_name("relay client data", tests, rh_setup, rh_teardown);
}
