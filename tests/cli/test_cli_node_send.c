/*
 * test_cli_node_send.c: `divex send`, `divex reply` and `divex read --save`
 * against a fake control socket (fake_divexd.h): the attachment pieces divex
 * puts (in order, at the offset the daemon holds, at most 512 KiB each), the
 * payload it hands over (references, keys, marking, reply threading), that
 * the stream decrypts to the file, that memory does not grow with the file,
 * and that a stream altered at the daemon is refused and leaves no file.
 */
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attach.h"
#include "canon.h"
#include "envelope.h"
#include "error.h"
#include "fake_divexd.h"
#include "testlib.h"
#include "util.h"
#include "wire.pb-c.h"

#define PIECE (512 * 1024)
#define BIG_SIZE (1024 * 1024 + 12345)

/* Answers send with one message id per recipient; refuses anything else. */
static void send_handler(void *ctx, const Dx__ControlRequest *req, uint8_t **o, size_t *n)
{
	(void)ctx;
	static uint8_t ids[64][16];
	Dx__SentCopy copies[64], *ptrs[64];
	Dx__SendResult r = DX__SEND_RESULT__INIT;
	Dx__ControlResponse resp = DX__CONTROL_RESPONSE__INIT;
	if (req->op_case != DX__CONTROL_REQUEST__OP_SEND) {
		fake_refuse(DX_EINVAL, "unexpected", o, n);
		return;
	}
	for (size_t i = 0; i < req->send->n_to && i < 64; i++) {
		dx__sent_copy__init(&copies[i]);
		memset(ids[i], (int)(0xc0 + i), 16);
		copies[i].recipient = req->send->to[i];
		copies[i].message_id = (ProtobufCBinaryData){ 16, ids[i] };
		ptrs[i] = &copies[i];
	}
	r.n_copies = req->send->n_to;
	r.copies = ptrs;
	resp.result_case = DX__CONTROL_RESPONSE__RESULT_SEND;
	resp.send = &r;
	fake_pack(&resp, o, n);
}

static Dx__Payload *sent_payload(const Dx__ControlRequest *req)
{
	ProtobufCMessage *m = NULL;
	assert_int_equal(req->op_case, DX__CONTROL_REQUEST__OP_SEND);
	assert_dx_ok(proto_unpack_strict(&dx__payload__descriptor, req->send->payload.data,
					 req->send->payload.len, ENVELOPE_BODY_MAX, &m));
	return (Dx__Payload *)m;
}

static void random_file(const char *path, size_t len)
{
	uint8_t *b = malloc(len > 0 ? len : 1);
	assert_non_null(b);
	randombytes_buf(b, len);
	test_write_file(path, b, len);
	free(b);
}

/* Checks the puts from request `first` on: one stream of `size` bytes of
 * plaintext; returns the index of the request after them. */
static size_t check_puts(size_t first, uint64_t size, uint8_t id[16])
{
	uint64_t total = attach_stream_size(size), off = 0;
	size_t i = first;
	while (off < total) {
		const Dx__ControlRequest *r = fake_request(fx, i++);
		assert_int_equal(r->op_case, DX__CONTROL_REQUEST__OP_PUT_ATTACHMENT);
		const Dx__PutAttachmentOp *p = r->put_attachment;
		assert_int_equal(p->attachment_id.len, 16);
		if (off == 0) {
			memcpy(id, p->attachment_id.data, 16);
		}
		assert_memory_equal(p->attachment_id.data, id, 16);
		assert_int_equal(p->offset, off);
		assert_int_equal(p->total_size, total);
		assert_true(p->data.len > 0 && p->data.len <= PIECE);
		if (off + p->data.len < total) {
			assert_int_equal(p->data.len, PIECE);
		}
		off += p->data.len;
	}
	assert_int_equal(off, total);
	return i;
}

struct cmp {
	const uint8_t *want;
	size_t len, at;
};

static int cmp_sink(void *ctx, const uint8_t *data, size_t len)
{
	struct cmp *c = ctx;
	if (c->at + len > c->len || memcmp(c->want + c->at, data, len) != 0) {
		return DX_EIO;
	}
	c->at += len;
	return DX_OK;
}

/* The stream the fake holds decrypts, with the sent reference, to want. */
static void check_stream(const Dx__AttachmentRef *r, const uint8_t *want, size_t len)
{
	struct attach_meta m;
	struct attach_opener *op = NULL;
	struct fake_stream *s = fake_stream(fx, r->attachment_id.data);
	assert_non_null(s);
	assert_int_equal(r->key.len, ATTACH_KEY_LEN);
	assert_int_equal(r->ciphertext_hash.len, ATTACH_HASH_LEN);
	memcpy(m.id, r->attachment_id.data, 16);
	memcpy(m.key, r->key.data, ATTACH_KEY_LEN);
	memcpy(m.hash, r->ciphertext_hash.data, ATTACH_HASH_LEN);
	m.size = r->size;
	m.stream_size = r->stream_size;
	struct cmp c = { want, len, 0 };
	assert_dx_ok(attach_opener_new(&m, &op));
	assert_dx_ok(attach_opener_feed(op, s->data, s->len, cmp_sink, &c));
	assert_dx_ok(attach_opener_finish(op, cmp_sink, &c));
	assert_int_equal(c.at, len);
	attach_opener_free(op);
}

static void test_send_attachments(void **state)
{
	(void)state;
	char big[4096], empty[4096], note[4096];
	const char *dir = test_tmpdir();
	snprintf(big, sizeof(big), "%s/big.bin", dir);
	snprintf(empty, sizeof(empty), "%s/empty.bin", dir);
	snprintf(note, sizeof(note), "%s/note.txt", dir);
	random_file(big, BIG_SIZE);
	test_write_file(empty, "", 0);
	test_write_file(note, "Forty rifles.\n", 14);
	fake_streams_clear(fx);
	fake_set(fx, send_handler, NULL);
	assert_int_equal(RUN("send", "--to", "MEX,BFA", "--subject", "Rifles", "--case", "C-7",
			     "--handling", "H2", "--evaluation", "b2", "--file", note, "--attach",
			     big, "--attach", empty, "--json"),
			 0);

	uint8_t id1[16], id2[16];
	size_t next = check_puts(0, BIG_SIZE, id1);
	assert_int_equal(next, 3);
	next = check_puts(next, 0, id2);
	assert_int_equal(fake_count(fx), next + 1);
	const Dx__ControlRequest *req = fake_request(fx, next);
	assert_int_equal(req->send->n_to, 2);
	assert_string_equal(req->send->to[0], "MEX");
	assert_string_equal(req->send->to[1], "BFA");

	Dx__Payload *pl = sent_payload(req);
	assert_int_equal(pl->type, 1);
	assert_string_equal(pl->subject, "Rifles");
	assert_string_equal(pl->case_id, "C-7");
	assert_string_equal(pl->text, "Forty rifles.\n");
	assert_int_equal(pl->marking->handling, DX__HANDLING_CODE__H2_NO_DISSEMINATION);
	assert_string_equal(pl->marking->source_evaluation, "B");
	assert_int_equal(pl->marking->information_evaluation, 2);
	assert_int_equal(pl->copy_count, 0); /* the daemon numbers the copies */
	assert_int_equal(pl->in_reply_to.len, 0);
	assert_int_equal(pl->n_attachments, 2);
	const Dx__AttachmentRef *r1 = pl->attachments[0], *r2 = pl->attachments[1];
	assert_memory_equal(r1->attachment_id.data, id1, 16);
	assert_memory_equal(r2->attachment_id.data, id2, 16);
	assert_string_equal(r1->name, "big.bin");
	assert_string_equal(r2->name, "empty.bin");
	assert_string_equal(r1->media_type, "application/octet-stream");
	assert_int_equal(r1->size, BIG_SIZE);
	assert_int_equal(r1->stream_size, attach_stream_size(BIG_SIZE));
	assert_int_equal(r2->size, 0);
	assert_int_equal(r2->stream_size, attach_stream_size(0));
	assert_true(sodium_memcmp(r1->key.data, r2->key.data, ATTACH_KEY_LEN) != 0);
	uint8_t *want = NULL;
	size_t want_len = 0;
	assert_dx_ok(dx_read_file(big, BIG_SIZE, &want, &want_len));
	check_stream(r1, want, want_len);
	check_stream(r2, (const uint8_t *)"", 0);
	free(want);
	protobuf_c_message_free_unpacked(&pl->base, NULL);

	json_error_t je;
	json_t *j = json_loads(OUT(), 0, &je);
	assert_non_null(j);
	json_t *copies = json_object_get(j, "copies");
	assert_int_equal(json_array_size(copies), 2);
	json_t *c0 = json_array_get(copies, 0);
	assert_string_equal(json_string_value(json_object_get(c0, "recipient")), "MEX");
	assert_string_equal(json_string_value(json_object_get(c0, "message_id")),
			    "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0");
	json_decref(j);

	/* Text output, and the text from standard input. */
	assert_int_equal(fake_cmd(note, (const char *const[]){ "send", "--to", "MEX", "-", NULL }),
			 0);
	fake_contains(OUT(), "MEX  c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0");
	fake_contains(OUT(), "divex outbox");
	pl = sent_payload(fake_request(fx, fake_count(fx) - 1));
	assert_string_equal(pl->text, "Forty rifles.\n");
	assert_int_equal(pl->marking->handling, DX__HANDLING_CODE__H0_STATED_PURPOSE_ONLY);
	protobuf_c_message_free_unpacked(&pl->base, NULL);
}

/* A file of 48 MiB goes through in constant memory. Under AddressSanitizer
 * freed memory is held in quarantine, which would count as growth: the
 * children of this test run without it. */
static void test_send_constant_memory(void **state)
{
	(void)state;
	char small[4096], large[4096], asan[1024];
	const char *prev = getenv("ASAN_OPTIONS");
	snprintf(asan, sizeof(asan), "%s%squarantine_size_mb=0", prev != NULL ? prev : "",
		 prev != NULL && prev[0] != '\0' ? ":" : "");
	char *saved = prev != NULL ? strdup(prev) : NULL;
	setenv("ASAN_OPTIONS", asan, 1);
	snprintf(small, sizeof(small), "%s/small.bin", test_tmpdir());
	snprintf(large, sizeof(large), "%s/large.bin", test_tmpdir());
	random_file(small, 1000);
	int fd = open(large, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 48l * 1024 * 1024), 0);
	close(fd);
	fake_set(fx, send_handler, NULL);
	assert_int_equal(RUN("send", "--to", "MEX", "--attach", small), 0);
	long base = fake_last_rss_kib();
	fake_streams_clear(fx);
	fake_set(fx, send_handler, NULL);
	assert_int_equal(RUN("send", "--to", "MEX", "--attach", large), 0);
	long peak = fake_last_rss_kib();
	fake_streams_clear(fx);
	if (saved != NULL) {
		setenv("ASAN_OPTIONS", saved, 1);
		free(saved);
	} else {
		unsetenv("ASAN_OPTIONS");
	}
	print_message("peak RSS: %ld KiB for 1000 bytes, %ld KiB for 48 MiB\n", base, peak);
	if (peak - base > 16 * 1024) {
		fail_msg("sending 48 MiB took %ld KiB more than sending 1000 bytes", peak - base);
	}
}

static void test_send_refusals(void **state)
{
	(void)state;
	char note[4096];
	snprintf(note, sizeof(note), "%s/note2.txt", test_tmpdir());
	test_write_file(note, "x\n", 2);
	fake_set(fx, send_handler, NULL);
	assert_int_equal(RUN("send", "--file", note), 2);
	assert_int_equal(RUN("send", "--to", "MEX,mex", "--file", note), 2);
	assert_int_equal(RUN("send", "--to", "MEX,MEX", "--file", note), 2);
	assert_int_equal(RUN("send", "--to", "MEX"), 2);
	assert_int_equal(RUN("send", "--to", "MEX", "--file", note, "--handling", "H3"), 2);
	assert_int_equal(RUN("send", "--to", "MEX", "--file", note, "--evaluation", "Z9"), 2);
	assert_int_equal(fake_count(fx), 0);
	assert_int_equal(RUN("send", "--to", "MEX", "--file", note, "--attach", "/nonexistent"), 4);
	assert_int_equal(fake_count(fx), 0);
	assert_int_equal(RUN("send", "--to", "MEX", "--file", note, "--attach", test_tmpdir()), 2);
	assert_int_equal(fake_count(fx), 0);
}

/* A received message from MEX, in case C-7, marked H2 B2. */
static uint8_t orig_id[16];
static void reply_handler(void *ctx, const Dx__ControlRequest *req, uint8_t **o, size_t *n)
{
	if (req->op_case == DX__CONTROL_REQUEST__OP_SEND) {
		send_handler(ctx, req, o, n);
		return;
	}
	Dx__Marking mk = DX__MARKING__INIT;
	Dx__Payload pl = DX__PAYLOAD__INIT;
	Dx__ReadResult r = DX__READ_RESULT__INIT;
	mk.handling = DX__HANDLING_CODE__H2_NO_DISSEMINATION;
	mk.source_evaluation = "B";
	mk.information_evaluation = 2;
	mk.releasability = "customs only";
	pl.type = 1;
	pl.case_id = "C-7";
	pl.marking = &mk;
	pl.subject = "Rifles";
	pl.text = "Forty rifles.\n";
	memset(orig_id, 0xee, sizeof(orig_id));
	r.direction = ctx != NULL ? "sent" : "received";
	r.envelope_id = (ProtobufCBinaryData){ 16, orig_id };
	r.sender = "MEX";
	r.recipient = "FRA";
	fake_pack_read(&r, &pl.base, o, n);
}

static void test_reply(void **state)
{
	(void)state;
	char note[4096];
	snprintf(note, sizeof(note), "%s/answer.txt", test_tmpdir());
	test_write_file(note, "We checked.\n", 12);
	fake_set(fx, reply_handler, NULL);
	assert_int_equal(RUN("reply", "eeeeee", "--file", note), 0);
	assert_int_equal(fake_count(fx), 2);
	assert_string_equal(fake_request(fx, 0)->read->id, "eeeeee");
	const Dx__ControlRequest *req = fake_request(fx, 1);
	assert_int_equal(req->send->n_to, 1);
	assert_string_equal(req->send->to[0], "MEX");
	Dx__Payload *pl = sent_payload(req);
	assert_int_equal(pl->in_reply_to.len, 16);
	assert_memory_equal(pl->in_reply_to.data, orig_id, 16);
	assert_string_equal(pl->case_id, "C-7");
	assert_string_equal(pl->subject, "Re: Rifles");
	assert_string_equal(pl->text, "We checked.\n");
	assert_int_equal(pl->marking->handling, DX__HANDLING_CODE__H2_NO_DISSEMINATION);
	assert_string_equal(pl->marking->source_evaluation, "B");
	assert_string_equal(pl->marking->releasability, "customs only");
	protobuf_c_message_free_unpacked(&pl->base, NULL);
	fake_contains(OUT(), "In reply to:");

	/* Options override what the reply takes from the original. */
	assert_int_equal(RUN("reply", "eeeeee", "--file", note, "--handling", "H1", "--subject",
			     "Other", "--case", "C-8"),
			 0);
	pl = sent_payload(fake_request(fx, 3));
	assert_int_equal(pl->marking->handling, DX__HANDLING_CODE__H1_NO_JUDICIAL_USE);
	assert_string_equal(pl->marking->source_evaluation, "");
	assert_string_equal(pl->subject, "Other");
	assert_string_equal(pl->case_id, "C-8");
	protobuf_c_message_free_unpacked(&pl->base, NULL);

	assert_int_equal(RUN("reply", "--file", note), 2);
	fake_set(fx, reply_handler, (void *)1);
	assert_int_equal(RUN("reply", "eeeeee", "--file", note), 2);
	fake_contains(ERR(), "this State sent");
	assert_int_equal(fake_count(fx), 1);
}

struct buf {
	uint8_t *data;
	size_t len;
};

static int buf_sink(void *ctx, const uint8_t *data, size_t len)
{
	struct buf *b = ctx;
	b->data = realloc(b->data, b->len + len + 1);
	memcpy(b->data + b->len, data, len);
	b->len += len;
	return DX_OK;
}

/* An attachment as a sender made it: the stream goes into the fake. */
static struct attach_meta att_meta;
static void make_attachment(const uint8_t *pt, size_t len)
{
	uint8_t id[16];
	struct attach_sealer *s = NULL;
	struct buf b = { NULL, 0 };
	randombytes_buf(id, sizeof(id));
	assert_dx_ok(attach_sealer_new(id, &s));
	assert_dx_ok(attach_sealer_feed(s, pt, len, buf_sink, &b));
	assert_dx_ok(attach_sealer_finish(s, buf_sink, &b, &att_meta));
	attach_sealer_free(s);
	fake_streams_clear(fx);
	assert_non_null(fake_stream_add(fx, id, b.data, b.len));
	free(b.data);
}

static void save_handler(void *ctx, const Dx__ControlRequest *req, uint8_t **o, size_t *n)
{
	(void)ctx;
	(void)req;
	Dx__AttachmentRef ref = DX__ATTACHMENT_REF__INIT, *refs[] = { &ref };
	Dx__Payload pl = DX__PAYLOAD__INIT;
	Dx__ReadResult r = DX__READ_RESULT__INIT;
	ref.attachment_id = (ProtobufCBinaryData){ 16, att_meta.id };
	ref.key = (ProtobufCBinaryData){ ATTACH_KEY_LEN, att_meta.key };
	ref.ciphertext_hash = (ProtobufCBinaryData){ ATTACH_HASH_LEN, att_meta.hash };
	ref.size = att_meta.size;
	ref.stream_size = att_meta.stream_size;
	ref.name = "../evil name.bin";
	pl.type = 1;
	pl.subject = "Evidence";
	pl.n_attachments = 1;
	pl.attachments = refs;
	r.direction = "received";
	r.envelope_id = (ProtobufCBinaryData){ 16, att_meta.id };
	r.sender = "MEX";
	r.recipient = "FRA";
	fake_pack_read(&r, &pl.base, o, n);
}

static size_t dir_entries(const char *path)
{
	size_t n = 0;
	DIR *d = opendir(path);
	if (d == NULL) {
		return 0;
	}
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	}
	closedir(d);
	return n;
}

static void test_read_save(void **state)
{
	(void)state;
	size_t len = 700 * 1024 + 3;
	uint8_t *pt = malloc(len);
	char dir[4096];
	assert_non_null(pt);
	randombytes_buf(pt, len);
	make_attachment(pt, len);
	fake_set(fx, save_handler, NULL);
	snprintf(dir, sizeof(dir), "%s/saved", test_tmpdir());
	assert_int_equal(RUN("read", "a1b2c3", "--save", dir), 0);
	fake_contains(OUT(), "saved to:");
	/* read, then two pieces of at most 512 KiB. */
	assert_int_equal(fake_count(fx), 3);
	const Dx__GetAttachmentOp *g = fake_request(fx, 2)->get_attachment;
	assert_string_equal(g->id, "a1b2c3");
	assert_int_equal(g->offset, PIECE);
	assert_true(g->max <= PIECE);
	uint8_t *got = NULL;
	size_t got_len = 0;
	assert_dx_ok(dx_read_file(test_path(dir, "evil_name.bin"), len, &got, &got_len));
	assert_int_equal(got_len, len);
	assert_memory_equal(got, pt, len);
	free(got);
	assert_int_equal(dir_entries(dir), 1);

	/* A byte changed at the daemon: refused, nothing written. */
	struct fake_stream *s = fake_stream(fx, att_meta.id);
	s->data[600000] ^= 1;
	snprintf(dir, sizeof(dir), "%s/tampered", test_tmpdir());
	assert_int_equal(RUN("read", "a1b2c3", "--save", dir), 3);
	fake_contains(ERR(), "nothing was saved");
	assert_int_equal(dir_entries(dir), 0);
	s->data[600000] ^= 1;
	/* A stream the daemon holds only in part: refused too. */
	s->len -= 100;
	assert_int_equal(RUN("read", "a1b2c3", "--save", dir), 3);
	assert_int_equal(dir_entries(dir), 0);
	s->len += 100;
	assert_int_equal(RUN("read", "a1b2c3", "--save", dir), 0);
	assert_int_equal(dir_entries(dir), 1);
	sodium_memzero(&att_meta, sizeof(att_meta));
	free(pt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_send_attachments),
		cmocka_unit_test(test_send_constant_memory),
		cmocka_unit_test(test_send_refusals),
		cmocka_unit_test(test_reply),
		cmocka_unit_test(test_read_save),
	};
	return cmocka_run_group_tests(tests, fake_setup, fake_teardown);
}
