/*
 * test_notice_store: the notices table of cases.db (daemon/node/notice_store.c):
 * sent copies and a received notice recorded and listed back field for
 * field, oldest first, by direction and by case; a received notice recorded
 * twice kept once; replies recorded and replaced; bad rows refused; and
 * sealing at rest: no notice or reply text in the database files, and a
 * sealed notice moved to another row refused.
 */
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "casework.pb-c.h"
#include "db.h"
#include "notice_store.h"
#include "testlib.h"

#define SUMMARY "Transfers of rifles through the port of Lomé, 2024"
#define REASON "The information came to light on 2 March"
#define REPLY_TEXT "Mexico confirms the export licence MX-4471"

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
	assert_dx_ok(notice_store_init(cs));
	return cs;
}

static void make_notice(const char *reason, uint8_t **out, size_t *len)
{
	Dx__Notice n = DX__NOTICE__INIT;
	n.meeting_date = "2026-03-31";
	n.meeting_name = "DIEF, CSP12";
	n.summary = SUMMARY;
	n.respond_by = "2026-03-16";
	n.late_reason = (char *)reason;
	n.sent_date = "2026-03-01";
	assert_dx_ok(proto_pack_alloc(&n.base, out, len));
}

static void fill(struct notice_row *r, enum notice_direction dir, uint8_t idbyte, uint8_t group,
		 const char *peer, const char *case_id)
{
	memset(r, 0, sizeof(*r));
	memset(r->id, idbyte, sizeof(r->id));
	memset(r->group, group, sizeof(r->group));
	r->direction = dir;
	snprintf(r->peer, sizeof(r->peer), "%s", peer);
	snprintf(r->case_id, sizeof(r->case_id), "%s", case_id);
	snprintf(r->meeting_date, sizeof(r->meeting_date), "2026-03-31");
	snprintf(r->respond_by, sizeof(r->respond_by), "2026-03-16");
	snprintf(r->sent_date, sizeof(r->sent_date), "2026-03-01");
}

#define MAX_SEEN 8
struct seen {
	size_t n;
	struct notice_row rows[MAX_SEEN];
	char replies[MAX_SEEN][128];
	int notice_ok[MAX_SEEN];
};

static int collect(void *ctx, const struct notice_row *r)
{
	struct seen *s = ctx;
	assert_true(s->n < MAX_SEEN);
	s->rows[s->n] = *r;
	s->rows[s->n].notice = NULL;
	s->rows[s->n].reply = NULL;
	snprintf(s->replies[s->n], sizeof(s->replies[0]), "%s", r->reply != NULL ? r->reply : "");
	ProtobufCMessage *m = NULL;
	s->notice_ok[s->n] = proto_unpack_strict(&dx__notice__descriptor, r->notice, r->notice_len,
						 NOTICE_STORE_NOTICE_MAX, &m) == DX_OK &&
			     strcmp(((Dx__Notice *)m)->summary, SUMMARY) == 0;
	if (m != NULL) {
		protobuf_c_message_free_unpacked(m, NULL);
	}
	s->n++;
	return 0;
}

static void list(struct case_store *cs, int dir, const char *case_id, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	assert_dx_ok(notice_store_list(cs, dir, case_id, collect, s));
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
	const char *path = test_path(test_tmpdir(), "notices-rt.db");
	struct case_store *cs = open_store(path);
	uint8_t *on_time = NULL, *late = NULL;
	size_t on_time_len = 0, late_len = 0;
	struct notice_row r;
	struct seen s;
	make_notice("", &on_time, &on_time_len);
	make_notice(REASON, &late, &late_len);

	/* Two copies of one sent notice, a received late one, a sent one of another case. */
	fill(&r, NOTICE_SENT, 0x11, 0x11, "MEX", "FRA-2025-017");
	r.notice = on_time;
	r.notice_len = on_time_len;
	assert_dx_ok(notice_store_add(cs, &r));
	fill(&r, NOTICE_SENT, 0x12, 0x11, "BFA", "FRA-2025-017");
	r.notice = on_time;
	r.notice_len = on_time_len;
	assert_dx_ok(notice_store_add(cs, &r));
	fill(&r, NOTICE_RECEIVED, 0x21, 0x21, "DEU", "DEU-7");
	r.late = 1;
	r.notice = late;
	r.notice_len = late_len;
	assert_dx_ok(notice_store_add(cs, &r));
	/* Seen again after a restart: kept once. */
	assert_dx_ok(notice_store_add(cs, &r));
	fill(&r, NOTICE_SENT, 0x31, 0x31, "MEX", "FRA-2025-020");
	r.notice = on_time;
	r.notice_len = on_time_len;
	assert_dx_ok(notice_store_add(cs, &r));

	list(cs, 0, NULL, &s);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.rows[0].id[0], 0x11);
	assert_int_equal(s.rows[1].id[0], 0x12);
	assert_int_equal(s.rows[1].group[0], 0x11);
	assert_string_equal(s.rows[1].peer, "BFA");
	assert_int_equal(s.rows[2].direction, NOTICE_RECEIVED);
	assert_true(s.rows[2].late);
	assert_string_equal(s.rows[2].case_id, "DEU-7");
	assert_string_equal(s.rows[2].meeting_date, "2026-03-31");
	assert_string_equal(s.rows[2].respond_by, "2026-03-16");
	assert_string_equal(s.rows[2].sent_date, "2026-03-01");
	for (size_t i = 0; i < s.n; i++) {
		assert_true(s.notice_ok[i]);
		assert_int_equal(s.rows[i].replied_ms, 0);
	}
	list(cs, NOTICE_SENT, "FRA-2025-017", &s);
	assert_int_equal(s.n, 2);
	list(cs, NOTICE_RECEIVED, NULL, &s);
	assert_int_equal(s.n, 1);

	/* A reply recorded, then replaced by a later one. */
	uint8_t id[NOTICE_STORE_ID_LEN], reply_id[NOTICE_STORE_ID_LEN];
	memset(id, 0x11, sizeof(id));
	memset(reply_id, 0xa1, sizeof(reply_id));
	assert_dx_ok(notice_store_mark_replied(cs, id, 1790000100000ULL, reply_id, "first", 5));
	memset(reply_id, 0xa2, sizeof(reply_id));
	assert_dx_ok(notice_store_mark_replied(cs, id, 1790000200000ULL, reply_id, REPLY_TEXT,
					       strlen(REPLY_TEXT)));
	list(cs, NOTICE_SENT, "FRA-2025-017", &s);
	assert_int_equal(s.rows[0].replied_ms, 1790000200000ULL);
	assert_int_equal(s.rows[0].reply_id[0], 0xa2);
	assert_string_equal(s.replies[0], REPLY_TEXT);
	assert_int_equal(s.rows[1].replied_ms, 0);
	memset(id, 0x99, sizeof(id));
	assert_dx_err(notice_store_mark_replied(cs, id, 1, reply_id, "x", 1), DX_ENOENT);

	/* Rows that do not make sense are refused. */
	fill(&r, NOTICE_SENT, 0x41, 0x41, "mex", "FRA-2025-017");
	r.notice = on_time;
	r.notice_len = on_time_len;
	assert_dx_err(notice_store_add(cs, &r), DX_EINVAL);
	fill(&r, NOTICE_SENT, 0x41, 0x41, "MEX", "FRA 2025");
	r.notice = on_time;
	r.notice_len = on_time_len;
	assert_dx_err(notice_store_add(cs, &r), DX_EINVAL);
	fill(&r, NOTICE_SENT, 0x41, 0x41, "MEX", "FRA-2025-017");
	snprintf(r.respond_by, sizeof(r.respond_by), "2026-02-30");
	r.notice = on_time;
	r.notice_len = on_time_len;
	assert_dx_err(notice_store_add(cs, &r), DX_EINVAL);

	case_store_close(cs);
	/* Reopened: everything is still there. */
	cs = open_store(path);
	list(cs, 0, NULL, &s);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.replies[0], REPLY_TEXT);
	case_store_close(cs);
	free(on_time);
	free(late);
}

static void test_sealed_at_rest(void **state)
{
	(void)state;
	const char *path = test_path(test_tmpdir(), "notices-seal.db");
	char wal[1024];
	struct case_store *cs = open_store(path);
	uint8_t *late = NULL;
	size_t late_len = 0;
	struct notice_row r;
	struct seen s;
	make_notice(REASON, &late, &late_len);
	fill(&r, NOTICE_SENT, 0x51, 0x51, "MEX", "FRA-2025-017");
	r.notice = late;
	r.notice_len = late_len;
	assert_dx_ok(notice_store_add(cs, &r));
	fill(&r, NOTICE_SENT, 0x52, 0x51, "BFA", "FRA-2025-017");
	r.notice = late;
	r.notice_len = late_len;
	assert_dx_ok(notice_store_add(cs, &r));
	uint8_t id[NOTICE_STORE_ID_LEN], reply_id[NOTICE_STORE_ID_LEN];
	memset(id, 0x51, sizeof(id));
	memset(reply_id, 0xb1, sizeof(reply_id));
	assert_dx_ok(notice_store_mark_replied(cs, id, 1790000100000ULL, reply_id, REPLY_TEXT,
					       strlen(REPLY_TEXT)));
	snprintf(wal, sizeof(wal), "%s-wal", path);
	const char *secrets[] = { SUMMARY, REASON, REPLY_TEXT, "DIEF, CSP12" };
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		assert_false(file_contains(path, secrets[i]));
		assert_false(file_contains(wal, secrets[i]));
	}

	/* A sealed notice copied into another row does not open there. */
	assert_dx_ok(db_exec(case_store_db(cs),
			     "UPDATE notices SET notice = (SELECT notice FROM notices WHERE "
			     "peer = 'MEX') WHERE peer = 'BFA'"));
	memset(&s, 0, sizeof(s));
	assert_dx_err(notice_store_list(cs, 0, NULL, collect, &s), DX_EDECRYPT);
	case_store_close(cs);

	/* Under another key nothing opens. */
	KEY[0] ^= 1;
	cs = open_store(path);
	assert_dx_err(notice_store_list(cs, NOTICE_SENT, NULL, collect, &s), DX_EDECRYPT);
	case_store_close(cs);
	KEY[0] ^= 1;
	free(late);
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
