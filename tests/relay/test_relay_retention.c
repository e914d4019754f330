/*
 * test_relay_retention.c: attachment streams leave the relay (PROTOCOL.md
 * 12.4, retention). A relay with attachment_retention_seconds = 2 deletes
 * a stream once it is older than that and no envelope naming it waits for
 * its acknowledgement: a stream no envelope named goes first; one named by
 * an envelope goes once its recipient has acknowledged it, never before;
 * its bytes then no longer count against the uploader's quota.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "sqlplan.h"
#include "testlib.h"
#include "util.h"

#define RETENTION_S 2
#define QUOTA (1024 * 1024)
#define WAIT_MS 20000

/* A whole stream of `size` random bytes, in one piece. */
static void upload_stream(struct tclient *c, const uint8_t id[16], size_t size)
{
	uint8_t *data = malloc(size);
	assert_non_null(data);
	randombytes_buf(data, size);
	Dx__RelayResponse *r = rh_upload(c, id, 0, data, size, size, DX_OK);
	assert_int_equal(r->total_size, size);
	dx__relay_response__free_unpacked(r, NULL);
	free(data);
}

static void download(struct tclient *c, const uint8_t id[16], const uint8_t digest[32], int want)
{
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__DownloadOp d = DX__DOWNLOAD_OP__INIT;
	d.attachment_id = (ProtobufCBinaryData){ 16, (uint8_t *)id };
	d.envelope_digest = (ProtobufCBinaryData){ 32, (uint8_t *)digest };
	b.op_case = DX__REQUEST_BODY__OP_DOWNLOAD;
	b.download = &d;
	dx__relay_response__free_unpacked(rh_call(c, &b, want), NULL);
}

static int stream_file_exists(const uint8_t id[16])
{
	return access(rh_stream_file(id), F_OK) == 0;
}

/* Sends an envelope from FRA to `to` that names the stream. The tests send
 * it before the stream, so that no sweep can find the stream unnamed
 * however slowly the test runs. */
static void submit_naming(struct tclient *c, const struct keys *to, const uint8_t id[16],
			  struct envelope_info *e)
{
	size_t len;
	uint8_t *env = rh_seal_naming(H.fra, to, "see file", (const uint8_t(*)[16])id, 1, &len, e);
	dx__relay_response__free_unpacked(rh_submit(c, env, len, DX_OK), NULL);
	free(env);
}

/* Waits until the relay has deleted the stream's file (its row goes first). */
static void wait_gone(const uint8_t id[16])
{
	for (int waited = 0; stream_file_exists(id); waited += 10) {
		if (waited >= WAIT_MS) {
			fail_msg("the stream was not released within %d ms; see %s", WAIT_MS,
				 H.relay_log);
		}
		usleep(10000);
	}
}

static void test_released_once_acknowledged(void **state)
{
	(void)state;
	struct tclient cf, cm;
	struct envelope_info to_mex, to_bfa;
	uint8_t named[16], unnamed[16], waiting[16];
	uint8_t *raw = NULL;
	size_t raw_len;

	rh_open_client(&cf, H.fra);
	rh_open_client(&cm, H.mex);
	randombytes_buf(named, sizeof(named));
	randombytes_buf(unnamed, sizeof(unnamed));
	randombytes_buf(waiting, sizeof(waiting));
	submit_naming(&cf, H.mex, named, &to_mex);
	submit_naming(&cf, H.bfa, waiting, &to_bfa);
	upload_stream(&cf, named, 10000);
	upload_stream(&cf, unnamed, 10000);
	upload_stream(&cf, waiting, 10000);

	/* The stream no envelope names goes; the two an envelope waiting for
	 * its acknowledgement names stay, however old. */
	wait_gone(unnamed);
	assert_true(stream_file_exists(named));
	assert_true(stream_file_exists(waiting));
	assert_true(proc_log_count(&H.relay, "older than 2 s") >= 1);

	/* MEX downloads, then acknowledges: only then does its stream go. */
	download(&cm, named, to_mex.digest, DX_OK);
	Dx__RelayResponse *r = rh_fetch_or_ack(&cm, 0, to_mex.digest, DX_OK, &raw, &raw_len);
	dx__relay_response__free_unpacked(r, NULL);
	free(raw);
	raw = NULL;
	assert_true(stream_file_exists(named));
	r = rh_fetch_or_ack(&cm, 1, to_mex.digest, DX_OK, &raw, &raw_len);
	dx__relay_response__free_unpacked(r, NULL);
	free(raw);
	wait_gone(named);
	assert_true(stream_file_exists(waiting));
	/* Asked again, it is a stream the relay does not hold. */
	download(&cm, named, to_mex.digest, DX_ENOENT);

	tclient_close(&cf);
	tclient_close(&cm);
}

/* The quota counts what is stored now: a released stream frees it. */
static void test_release_frees_quota(void **state)
{
	(void)state;
	struct tclient cf, cm;
	struct envelope_info to_mex;
	uint8_t first[16], second[16];
	uint8_t *raw = NULL;
	size_t raw_len, size = 700 * 1024;
	uint8_t *data = calloc(1, size);
	assert_non_null(data);

	rh_open_client(&cf, H.fra);
	rh_open_client(&cm, H.mex);
	randombytes_buf(first, sizeof(first));
	randombytes_buf(second, sizeof(second));
	submit_naming(&cf, H.mex, first, &to_mex);
	upload_stream(&cf, first, size);
	/* 700 KiB held (and 10,000 bytes from the test before): 700 KiB more
	 * would pass the 1 MiB quota. */
	Dx__RelayResponse *r = rh_upload(&cf, second, 0, data, 1000, size, DX_EQUOTA);
	dx__relay_response__free_unpacked(r, NULL);
	r = rh_fetch_or_ack(&cm, 1, to_mex.digest, DX_OK, &raw, &raw_len);
	dx__relay_response__free_unpacked(r, NULL);
	free(raw);
	wait_gone(first);
	r = rh_upload(&cf, second, 0, data, size, size, DX_OK);
	dx__relay_response__free_unpacked(r, NULL);
	assert_true(stream_file_exists(second));
	free(data);
	tclient_close(&cf);
	tclient_close(&cm);

	/* The quota is summed over the uploader's own streams, through an
	 * index, not over every stream the relay holds. */
	assert_true(test_plan_uses(test_path(H.home, "relay.db"),
				   "SELECT COALESCE(SUM(total_size), 0) FROM attachments"
				   " WHERE owner = 'FRA'",
				   "COVERING INDEX attachments_by_owner"));
}

/*
 * A pass reads at most 500 streams per tick and goes on from where it
 * stopped: a stream behind more than that many kept ones is still reached.
 */
static void test_release_pass_goes_on(void **state)
{
	(void)state;
	enum { ENVELOPES = 16, PER = 64 };
	static uint8_t ids[ENVELOPES * PER][16];
	struct tclient cf;
	struct envelope_info e;
	uint8_t last[16], one = 7;

	rh_open_client(&cf, H.fra);
	randombytes_buf(ids, sizeof(ids));
	for (size_t i = 0; i < ENVELOPES; i++) {
		size_t len;
		uint8_t *env = rh_seal_naming(H.fra, H.mex, "many files",
					      (const uint8_t(*)[16])ids[i * PER], PER, &len, &e);
		dx__relay_response__free_unpacked(rh_submit(&cf, env, len, DX_OK), NULL);
		free(env);
	}
	for (size_t i = 0; i < ENVELOPES * PER; i++) {
		dx__relay_response__free_unpacked(rh_upload(&cf, ids[i], 0, &one, 1, 1, DX_OK), NULL);
	}
	randombytes_buf(last, sizeof(last));
	upload_stream(&cf, last, 1);
	wait_gone(last);
	for (size_t i = 0; i < ENVELOPES * PER; i += 97) {
		assert_true(stream_file_exists(ids[i]));
	}
	tclient_close(&cf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_released_once_acknowledged),
		cmocka_unit_test(test_release_frees_quota),
		cmocka_unit_test(test_release_pass_goes_on),
	};
	if (sodium_init() < 0) {
		return 1;
	}
	H.attachment_retention_s = RETENTION_S;
	H.attachment_quota = QUOTA;
	return cmocka_run_group_tests_name("attachment retention", tests, rh_setup, rh_teardown);
}
