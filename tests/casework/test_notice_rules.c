/*
 * test_notice_rules.c: the rule 12 dates (daemon/core/notice_rules.h):
 * exactly 30 days ahead passes, 29 is refused without a late reason and
 * passes with one, the response is due 15 days before the meeting, the
 * calendar is right across month, year and leap-year boundaries, and
 * malformed dates are refused. "Today" is always injected.
 */
#include <stdlib.h>
#include <string.h>

#include "notice_rules.h"
#include "testlib.h"

static int64_t day(const char *s)
{
	int64_t d = 0;
	assert_dx_ok(notice_date_parse(s, &d));
	return d;
}

static void test_thirty_days(void **state)
{
	(void)state;
	struct notice_dates nd;
	assert_dx_ok(notice_check("2025-03-01", "2025-03-31", 0, &nd));
	assert_int_equal(nd.days_before, 30);
	assert_false(nd.late);
	assert_string_equal(nd.respond_by, "2025-03-16");
	assert_false(nd.respond_by_is_today);
	/* Further ahead is fine too. */
	assert_dx_ok(notice_check("2025-01-01", "2025-12-31", 0, &nd));
	assert_string_equal(nd.respond_by, "2025-12-16");
}

static void test_twenty_nine_days(void **state)
{
	(void)state;
	struct notice_dates nd;
	memset(&nd, 0x55, sizeof(nd));
	assert_dx_err(notice_check("2025-03-02", "2025-03-31", 0, &nd), DX_ELATE_NOTICE);
	/* Nothing written on refusal. */
	assert_int_equal(nd.late, 0x55555555);
	assert_dx_ok(notice_check("2025-03-02", "2025-03-31", 1, &nd));
	assert_int_equal(nd.days_before, 29);
	assert_true(nd.late);
	assert_string_equal(nd.respond_by, "2025-03-16");
	/* The message tells the officer what to do. */
	assert_non_null(strstr(dx_strerror(DX_ELATE_NOTICE), "--late-reason"));
	assert_string_equal(dx_errname(DX_ELATE_NOTICE), "DX_ELATE_NOTICE");
	assert_int_equal(DX_ELATE_NOTICE, -120);
}

static void test_respond_by(void **state)
{
	(void)state;
	struct notice_dates nd;
	/* Meeting minus 15 days, across a month boundary. */
	assert_dx_ok(notice_check("2025-04-01", "2025-05-10", 0, &nd));
	assert_string_equal(nd.respond_by, "2025-04-25");
	int64_t between = 0;
	assert_dx_ok(notice_days_between(nd.respond_by, "2025-05-10", &between));
	assert_int_equal(between, NOTICE_RESPONSE_DAYS);
	/* A late notice 15 days ahead: due today; under that, still today. */
	assert_dx_ok(notice_check("2025-04-25", "2025-05-10", 1, &nd));
	assert_string_equal(nd.respond_by, "2025-04-25");
	assert_false(nd.respond_by_is_today);
	assert_dx_ok(notice_check("2025-05-01", "2025-05-10", 1, &nd));
	assert_string_equal(nd.respond_by, "2025-05-01");
	assert_true(nd.respond_by_is_today);
	assert_dx_ok(notice_check("2025-05-09", "2025-05-10", 1, &nd));
	assert_int_equal(nd.days_before, 1);
}

static void test_past_meeting(void **state)
{
	(void)state;
	struct notice_dates nd;
	assert_dx_err(notice_check("2025-05-10", "2025-05-10", 1, &nd), DX_EINVAL);
	assert_dx_err(notice_check("2025-05-11", "2025-05-10", 1, &nd), DX_EINVAL);
	assert_dx_err(notice_check("2026-01-01", "2025-05-10", 0, &nd), DX_EINVAL);
}

static void test_boundaries(void **state)
{
	(void)state;
	struct notice_dates nd;
	int64_t d = 0;
	assert_int_equal(day("1970-01-01"), 0);
	assert_int_equal(day("1969-12-31"), -1);
	assert_int_equal(day("2000-03-01") - day("2000-02-28"), 2); /* 2000 is leap */
	assert_int_equal(day("1900-03-01") - day("1900-02-28"), 1); /* 1900 is not */
	assert_int_equal(day("2024-03-01") - day("2024-02-28"), 2);
	assert_int_equal(day("2025-03-01") - day("2025-02-28"), 1);
	assert_int_equal(day("2025-01-01") - day("2024-12-31"), 1);
	assert_int_equal(day("2025-01-01") - day("2024-01-01"), 366);
	assert_int_equal(day("2026-01-01") - day("2025-01-01"), 365);
	assert_int_equal(day("2400-01-01") - day("2000-01-01"), 146097);
	/* Year end: 30 days before 2025-01-15 is 2024-12-16. */
	assert_dx_ok(notice_check("2024-12-16", "2025-01-15", 0, &nd));
	assert_string_equal(nd.respond_by, "2024-12-31");
	assert_dx_err(notice_check("2024-12-17", "2025-01-15", 0, &nd), DX_ELATE_NOTICE);
	/* Leap day: a meeting on 2024-03-15 is 30 days after 2024-02-14. */
	assert_dx_ok(notice_check("2024-02-14", "2024-03-15", 0, &nd));
	assert_string_equal(nd.respond_by, "2024-02-29");
	assert_dx_err(notice_check("2025-02-14", "2025-03-15", 0, &nd), DX_ELATE_NOTICE);
	assert_dx_ok(notice_check("2025-02-13", "2025-03-15", 0, &nd));
	assert_string_equal(nd.respond_by, "2025-02-28");
	/* Round trip over every day of four centuries. */
	char out[NOTICE_DATE_LEN + 1];
	for (int64_t z = day("1900-01-01"); z <= day("2300-12-31"); z++) {
		assert_dx_ok(notice_date_format(z, out));
		assert_dx_ok(notice_date_parse(out, &d));
		assert_int_equal(d, z);
	}
	assert_dx_ok(notice_date_format(day("0001-01-01"), out));
	assert_string_equal(out, "0001-01-01");
	assert_dx_ok(notice_date_format(day("9999-12-31"), out));
	assert_string_equal(out, "9999-12-31");
	assert_dx_err(notice_date_format(day("0001-01-01") - 1, out), DX_EINVAL);
	assert_dx_err(notice_date_format(day("9999-12-31") + 1, out), DX_EINVAL);
}

static void test_malformed(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",	      "2025-1-01",   "2025-01-1",  "25-01-01",	 "2025/01/01",
		"2025-00-10", "2025-13-01",  "2025-01-00", "2025-01-32", "2025-02-29",
		"1900-02-29", "2025-04-31",  "0000-01-01", "2025-01-01 ", " 2025-01-01",
		"2025-01-01T00:00", "+025-01-01", "2025-0a-01", "２０２５-01-01",
	};
	int64_t d;
	struct notice_dates nd;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_dx_err(notice_date_parse(bad[i], &d), DX_EPARSE);
		assert_dx_err(notice_check(bad[i], "2030-01-01", 1, &nd), DX_EPARSE);
		assert_dx_err(notice_check("2025-01-01", bad[i], 1, &nd), DX_EPARSE);
	}
	assert_dx_err(notice_date_parse(NULL, &d), DX_EPARSE);
	assert_dx_ok(notice_date_parse("2024-02-29", &d));
}

static void test_today(void **state)
{
	(void)state;
	char out[NOTICE_DATE_LEN + 1];
	int64_t d;
	setenv("DIVEX_TODAY", "2031-07-04", 1);
	assert_dx_ok(notice_today(out));
	assert_string_equal(out, "2031-07-04");
	setenv("DIVEX_TODAY", "2031-02-30", 1);
	assert_dx_err(notice_today(out), DX_EINVAL);
	unsetenv("DIVEX_TODAY");
	assert_dx_ok(notice_today(out));
	assert_dx_ok(notice_date_parse(out, &d));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thirty_days), cmocka_unit_test(test_twenty_nine_days),
		cmocka_unit_test(test_respond_by),  cmocka_unit_test(test_past_meeting),
		cmocka_unit_test(test_boundaries),  cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_today),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
