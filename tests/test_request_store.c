/*
 * test_request_store: the requests table of cases.db
 * (daemon/node/request_store.c): sent copies and a received request
 * recorded and listed back field for field, oldest first, by direction and
 * by case; a received request recorded twice kept once; an answer recorded;
 * bad rows refused; and sealing at rest: no details or answer text in the
 * database files, a sealed request moved to another row refused, and
 * nothing opening under another key.
 */
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "casework.pb-c.h"
#include "db.h"
#include "request_store.h"
#include "testlib.h"

#define DETAILS "The end-user certificate of licence MX-4471 and its brokers"
#define ANSWER_TEXT "The certificate names the Ministry of Defence of Mexico"

static uint8_t KEY[CASE_STORE_KEY_LEN];
static uint64_t NOW = 1790000000000ULL;

static uint64_t clock_fn(void *ctx)
{
	(void)ctx;
	return NOW++;
}

static struct case_store *open_store(const char *path)
{
	struct case_store *cs = NULL;
	assert_dx_ok(case_store_open(path, KEY, &cs));
	case_store_set_clock(cs, clock_fn, NULL);
	assert_dx_ok(request_store_init(cs));
	return cs;
}

static void make_request(uint8_t **out, size_t *len)
{
	Dx__InformationKind kinds[] = { DX__INFORMATION_KIND__END_USER_FILE,
					DX__INFORMATION_KIND__BROKERS };
	Dx__InformationRequest r = DX__INFORMATION_REQUEST__INIT;
	r.n_kinds = 2;
	r.kinds = kinds;
	r.details = DETAILS;
	r.respond_by = "2026-03-20";
	assert_dx_ok(proto_pack_alloc(&r.base, out, len));
}

static void fill(struct request_row *r, enum request_direction dir, uint8_t idbyte, uint8_t group,
		 const char *peer, const char *case_id, const uint8_t *req, size_t len)
{
	memset(r, 0, sizeof(*r));
	memset(r->id, idbyte, sizeof(r->id));
	memset(r->group, group, sizeof(r->group));
	r->direction = dir;
	snprintf(r->peer, sizeof(r->peer), "%s", peer);
	snprintf(r->case_id, sizeof(r->case_id), "%s", case_id);
	snprintf(r->respond_by, sizeof(r->respond_by), "2026-03-20");
	snprintf(r->day, sizeof(r->day), "2026-03-01");
	r->request = req;
	r->request_len = len;
}

#define MAX_SEEN 8
struct seen {
	size_t n;
	struct request_row rows[MAX_SEEN];
	char answers[MAX_SEEN][128];
	int request_ok[MAX_SEEN];
};

static int collect(void *ctx, const struct request_row *r)
{
	struct seen *s = ctx;
	ProtobufCMessage *m = NULL;
	assert_true(s->n < MAX_SEEN);
	s->rows[s->n] = *r;
	s->rows[s->n].request = NULL;
	s->rows[s->n].answer = NULL;
	snprintf(s->answers[s->n], sizeof(s->answers[0]), "%s", r->answer != NULL ? r->answer : "");
	if (proto_unpack_strict(&dx__information_request__descriptor, r->request, r->request_len,
				REQUEST_STORE_REQUEST_MAX, &m) == DX_OK) {
		const Dx__InformationRequest *ir = (const Dx__InformationRequest *)m;
		s->request_ok[s->n] = ir->n_kinds == 2 && strcmp(ir->details, DETAILS) == 0;
		protobuf_c_message_free_unpacked(m, NULL);
	}
	s->n++;
	return 0;
}

/* Whether needle occurs anywhere in the file at path (absent file: no). */
static int file_contains(const char *path, const char *needle)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	if (dx_read_file(path, 64 * 1024 * 1024, &buf, &len) != DX_OK) {
		return 0;
	}
	size_t n = strlen(needle);
	int found = 0;
	for (size_t i = 0; i + n <= len && !found; i++) {
		found = memcmp(buf + i, needle, n) == 0;
	}
	free(buf);
	return found;
}

static void test_round_trip(void **state)
{
	(void)state;
	const char *path = test_path(test_tmpdir(), "requests-rt.db");
	struct case_store *cs = open_store(path);
	uint8_t *req = NULL;
	size_t len = 0;
	struct request_row r;
	struct seen s;
	make_request(&req, &len);
	fill(&r, REQUEST_SENT, 0x11, 0x11, "MEX", "FRA-2025-017", req, len);
	assert_dx_ok(request_store_add(cs, &r));
	fill(&r, REQUEST_SENT, 0x12, 0x11, "BFA", "FRA-2025-017", req, len);
	r.respond_by[0] = '\0'; /* no date asked */
	assert_dx_ok(request_store_add(cs, &r));
	fill(&r, REQUEST_RECEIVED, 0x21, 0x21, "MEX", "MEX-7", req, len);
	assert_dx_ok(request_store_add(cs, &r));
	assert_dx_ok(request_store_add(cs, &r)); /* seen again: kept once */

	/* Bad rows. */
	fill(&r, REQUEST_SENT, 0x31, 0x31, "MEX", "FRA-2025-017", req, len);
	snprintf(r.respond_by, sizeof(r.respond_by), "2026-13-01");
	assert_dx_err(request_store_add(cs, &r), DX_EINVAL);
	fill(&r, REQUEST_SENT, 0x31, 0x31, "mex", "FRA-2025-017", req, len);
	assert_dx_err(request_store_add(cs, &r), DX_EINVAL);
	fill(&r, REQUEST_SENT, 0x31, 0x31, "MEX", "", req, len);
	assert_dx_err(request_store_add(cs, &r), DX_EINVAL);
	fill(&r, REQUEST_SENT, 0x31, 0x31, "MEX", "FRA-2025-017", NULL, 0);
	assert_dx_err(request_store_add(cs, &r), DX_EINVAL);

	/* An answer. */
	uint8_t id[REQUEST_STORE_ID_LEN], answer_id[REQUEST_STORE_ID_LEN];
	memset(id, 0x11, sizeof(id));
	memset(answer_id, 0xa1, sizeof(answer_id));
	assert_dx_ok(request_store_mark_answered(cs, id, 1790000100000ULL, answer_id, ANSWER_TEXT,
						 strlen(ANSWER_TEXT)));
	memset(id, 0x77, sizeof(id));
	assert_dx_err(request_store_mark_answered(cs, id, 1, answer_id, NULL, 0), DX_ENOENT);

	memset(&s, 0, sizeof(s));
	assert_dx_ok(request_store_list(cs, 0, NULL, collect, &s));
	assert_int_equal(s.n, 3);
	assert_int_equal(s.rows[0].id[0], 0x11);
	assert_int_equal(s.rows[0].direction, REQUEST_SENT);
	assert_string_equal(s.rows[0].peer, "MEX");
	assert_string_equal(s.rows[0].respond_by, "2026-03-20");
	assert_string_equal(s.rows[0].day, "2026-03-01");
	assert_int_equal(s.rows[0].answered_ms, 1790000100000ULL);
	assert_int_equal(s.rows[0].answer_id[0], 0xa1);
	assert_string_equal(s.answers[0], ANSWER_TEXT);
	assert_int_equal(s.rows[1].id[0], 0x12);
	assert_int_equal(s.rows[1].group[0], 0x11);
	assert_string_equal(s.rows[1].respond_by, "");
	assert_int_equal(s.rows[1].answered_ms, 0);
	assert_string_equal(s.answers[1], "");
	assert_int_equal(s.rows[2].direction, REQUEST_RECEIVED);
	assert_string_equal(s.rows[2].case_id, "MEX-7");
	for (size_t i = 0; i < 3; i++) {
		assert_true(s.request_ok[i]);
	}
	assert_true(s.rows[0].created_ms < s.rows[1].created_ms);

	memset(&s, 0, sizeof(s));
	assert_dx_ok(request_store_list(cs, REQUEST_RECEIVED, NULL, collect, &s));
	assert_int_equal(s.n, 1);
	memset(&s, 0, sizeof(s));
	assert_dx_ok(request_store_list(cs, 0, "FRA-2025-017", collect, &s));
	assert_int_equal(s.n, 2);
	case_store_close(cs);
	free(req);
}

static void test_sealed_at_rest(void **state)
{
	(void)state;
	const char *path = test_path(test_tmpdir(), "requests-seal.db");
	char wal[1024];
	struct case_store *cs = open_store(path);
	uint8_t *req = NULL;
	size_t len = 0;
	struct request_row r;
	struct seen s;
	make_request(&req, &len);
	fill(&r, REQUEST_SENT, 0x51, 0x51, "MEX", "FRA-2025-017", req, len);
	assert_dx_ok(request_store_add(cs, &r));
	fill(&r, REQUEST_SENT, 0x52, 0x51, "BFA", "FRA-2025-017", req, len);
	assert_dx_ok(request_store_add(cs, &r));
	uint8_t id[REQUEST_STORE_ID_LEN], answer_id[REQUEST_STORE_ID_LEN];
	memset(id, 0x51, sizeof(id));
	memset(answer_id, 0xb1, sizeof(answer_id));
	assert_dx_ok(request_store_mark_answered(cs, id, 1790000100000ULL, answer_id, ANSWER_TEXT,
						 strlen(ANSWER_TEXT)));
	snprintf(wal, sizeof(wal), "%s-wal", path);
	const char *secrets[] = { DETAILS, ANSWER_TEXT, "MX-4471" };
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		assert_false(file_contains(path, secrets[i]));
		assert_false(file_contains(wal, secrets[i]));
	}

	/* A sealed request copied into another row does not open there. */
	assert_dx_ok(db_exec(case_store_db(cs),
			     "UPDATE requests SET request = (SELECT request FROM requests WHERE "
			     "peer = 'MEX') WHERE peer = 'BFA'"));
	memset(&s, 0, sizeof(s));
	assert_dx_err(request_store_list(cs, 0, NULL, collect, &s), DX_EDECRYPT);
	case_store_close(cs);

	/* Under another key nothing opens. */
	KEY[0] ^= 1;
	cs = open_store(path);
	memset(&s, 0, sizeof(s));
	assert_dx_err(request_store_list(cs, REQUEST_SENT, NULL, collect, &s), DX_EDECRYPT);
	case_store_close(cs);
	KEY[0] ^= 1;
	free(req);
}

int main(void)
{
	if (sodium_init() < 0) {
		return 1;
	}
	randombytes_buf(KEY, sizeof(KEY));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_sealed_at_rest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
