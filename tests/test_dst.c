/*
 * test_dst.c: deadlines on the local calendar across daylight saving time.
 *
 * The rule 12 dates (respond-by = meeting - 15 days, a notice late under 30
 * days), a request's respond-by date and the overdue marks of `divex due`
 * are counted in calendar days, and "today" is the node's local day. Each
 * test runs with TZ set (setenv + tzset) to Europe/Berlin, America/New_York
 * and Australia/Lord_Howe (whose clocks move by 30 minutes) around their 2026
 * changes, at 23:30 and 00:30 local on the days the clocks move and on the
 * days around them.
 *
 * The expected local days are computed here without the C library's time
 * zone code: from the UTC moment and the zone's offset before and after its
 * change, as zdump(8) prints them. The bug this catches is a day found by
 * dividing a time by 86,400 seconds, or a deadline found by adding
 * multiples of 86,400 seconds to a time: the first gives the UTC day, the
 * second lands on the wrong day when a local day has 23 or 25 hours.
 *
 * One thread; TZ is process-wide, so every test sets the zone it needs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node_notice.h"
#include "node_request.h"
#include "notice_rules.h"
#include "testlib.h"

#define SEC_PER_MIN 60
#define SEC_PER_HOUR 3600
/* UTC has no daylight saving time: its days all last this long. */
#define UTC_DAY_SEC 86400

/* One change of a zone's offset from UTC, in 2026. */
struct change {
	const char *zone;
	const char *day; /* the local day the clocks move */
	int64_t at_utc;	 /* the UTC moment of the change, seconds */
	int before_min;	 /* offset from UTC before it, minutes */
	int after_min;	 /* and after it */
};

/* Seconds since the epoch of a UTC date and time (no time zone involved). */
static int64_t utc_seconds(const char *date, int h, int m)
{
	int64_t d = 0;
	assert_dx_ok(notice_date_parse(date, &d));
	return d * UTC_DAY_SEC + h * SEC_PER_HOUR + m * SEC_PER_MIN;
}

static const struct change *changes(size_t *n)
{
	static struct change c[6];
	static int ready;
	if (!ready) {
		/* zdump -v -c 2026,2027 ZONE */
		c[0] = (struct change){ "Europe/Berlin", "2026-03-29",
					utc_seconds("2026-03-29", 1, 0), 60, 120 };
		c[1] = (struct change){ "Europe/Berlin", "2026-10-25",
					utc_seconds("2026-10-25", 1, 0), 120, 60 };
		c[2] = (struct change){ "America/New_York", "2026-03-08",
					utc_seconds("2026-03-08", 7, 0), -300, -240 };
		c[3] = (struct change){ "America/New_York", "2026-11-01",
					utc_seconds("2026-11-01", 6, 0), -240, -300 };
		c[4] = (struct change){ "Australia/Lord_Howe", "2026-04-05",
					utc_seconds("2026-04-04", 15, 0), 660, 630 };
		c[5] = (struct change){ "Australia/Lord_Howe", "2026-10-04",
					utc_seconds("2026-10-03", 15, 30), 630, 660 };
		ready = 1;
	}
	*n = sizeof(c) / sizeof(c[0]);
	return c;
}

static void use_zone(const char *zone)
{
	assert_int_equal(setenv("TZ", zone, 1), 0);
	tzset();
}

/* The zone's files must be there (package tzdata), or every answer would be UTC. */
static void require_zone(const struct change *c)
{
	use_zone(c->zone);
	time_t before = (time_t)(c->at_utc - 1), after = (time_t)c->at_utc;
	struct tm a, b;
	assert_non_null(localtime_r(&before, &a));
	assert_non_null(localtime_r(&after, &b));
	if (a.tm_gmtoff != c->before_min * SEC_PER_MIN ||
	    b.tm_gmtoff != c->after_min * SEC_PER_MIN) {
		fail_msg("%s: offsets %ld/%ld s around %s, want %d/%d min: is tzdata installed?",
			 c->zone, (long)a.tm_gmtoff, (long)b.tm_gmtoff, c->day, c->before_min,
			 c->after_min);
	}
}

/* The local day of a UTC moment, from the offsets of the change alone. */
static void expected_day(const struct change *c, int64_t t, char out[NOTICE_DATE_LEN + 1])
{
	int off = t < c->at_utc ? c->before_min : c->after_min;
	int64_t local = t + off * SEC_PER_MIN;
	int64_t day =
		local >= 0 ? local / UTC_DAY_SEC : -((-local + UTC_DAY_SEC - 1) / UTC_DAY_SEC);
	assert_dx_ok(notice_date_format(day, out));
}

/* The UTC moment of a local wall time on a day near the change. */
static int64_t local_moment(const struct change *c, const char *date, int h, int m)
{
	/* Try the offset before the change, then the one after it. */
	int64_t t = utc_seconds(date, h, m) - (int64_t)c->before_min * SEC_PER_MIN;
	if (t >= c->at_utc) {
		t = utc_seconds(date, h, m) - (int64_t)c->after_min * SEC_PER_MIN;
	}
	return t;
}

static void shift_day(const char *date, int by, char out[NOTICE_DATE_LEN + 1])
{
	int64_t d = 0;
	assert_dx_ok(notice_date_parse(date, &d));
	assert_dx_ok(notice_date_format(d + by, out));
}

/* 23:30 and 00:30 local on the day before, the day of and the day after each change. */
static void test_local_day_at_half_hours(void **state)
{
	(void)state;
	size_t n;
	const struct change *cs = changes(&n);
	for (size_t i = 0; i < n; i++) {
		const struct change *c = &cs[i];
		require_zone(c);
		for (int by = -1; by <= 1; by++) {
			char date[NOTICE_DATE_LEN + 1], got[NOTICE_DATE_LEN + 1];
			shift_day(c->day, by, date);
			const int times[2][2] = { { 0, 30 }, { 23, 30 } };
			for (int k = 0; k < 2; k++) {
				int64_t t = local_moment(c, date, times[k][0], times[k][1]);
				assert_dx_ok(notice_local_day((uint64_t)t * 1000u, got));
				if (strcmp(got, date) != 0) {
					fail_msg("%s: %02d:%02d local on %s is on %s", c->zone,
						 times[k][0], times[k][1], date, got);
				}
			}
		}
	}
}

/* Every 15 minutes for two days around each change: the day turns at local midnight only. */
static void test_local_day_sweep(void **state)
{
	(void)state;
	size_t n;
	const struct change *cs = changes(&n);
	for (size_t i = 0; i < n; i++) {
		const struct change *c = &cs[i];
		require_zone(c);
		int turns = 0;
		char prev[NOTICE_DATE_LEN + 1] = "";
		for (int64_t t = c->at_utc - 24 * SEC_PER_HOUR; t <= c->at_utc + 24 * SEC_PER_HOUR;
		     t += 15 * SEC_PER_MIN) {
			char got[NOTICE_DATE_LEN + 1], want[NOTICE_DATE_LEN + 1];
			assert_dx_ok(notice_local_day((uint64_t)t * 1000u, got));
			expected_day(c, t, want);
			if (strcmp(got, want) != 0) {
				fail_msg("%s: %lld s after the epoch is on %s locally, not %s",
					 c->zone, (long long)t, want, got);
			}
			turns += prev[0] != '\0' && strcmp(prev, got) != 0;
			memcpy(prev, got, sizeof(prev));
		}
		/* 48 hours see two local midnights, whatever the change did. */
		assert_int_equal(turns, 2);
	}
}

/*
 * The hazard itself: local midnight plus 86,400 seconds is not the next
 * midnight when the clocks move. On a 25-hour day it is still the same day,
 * which is why nothing in divex adds seconds to find a day.
 */
static void test_seconds_are_not_days(void **state)
{
	(void)state;
	size_t n;
	const struct change *cs = changes(&n);
	const struct change *autumn = &cs[1]; /* Berlin, 2026-10-25: 25 hours */
	require_zone(autumn);
	char got[NOTICE_DATE_LEN + 1];
	int64_t midnight = local_moment(autumn, "2026-10-25", 0, 0);
	assert_dx_ok(notice_local_day((uint64_t)(midnight + UTC_DAY_SEC) * 1000u, got));
	assert_string_equal(got, "2026-10-25");
	/* The day numbers of the rule functions have no such problem. */
	int64_t days = 0;
	assert_dx_ok(notice_days_between("2026-10-25", "2026-10-26", &days));
	assert_int_equal(days, 1);
	/* And a 23-hour day: 00:30 on the day of the change, plus 23.5 hours, is the next day. */
	const struct change *spring = &cs[0];
	int64_t t = local_moment(spring, "2026-03-29", 0, 30);
	assert_dx_ok(notice_local_day((uint64_t)(t + 23 * SEC_PER_HOUR + 30 * SEC_PER_MIN) * 1000u,
				      got));
	assert_string_equal(got, "2026-03-30");
}

/* Rule 12 counted across the changes: the same answers in every zone. */
static void test_notice_rules_across_changes(void **state)
{
	(void)state;
	static const struct {
		const char *today, *meeting, *respond_by;
		int64_t days;
		int late;
	} cases[] = {
		/* Berlin: 29 March is 23 hours long, 25 October 25 hours. */
		{ "2026-03-01", "2026-03-31", "2026-03-16", 30, 0 },
		{ "2026-03-02", "2026-03-31", "2026-03-16", 29, 1 },
		{ "2026-03-29", "2026-04-28", "2026-04-13", 30, 0 },
		{ "2026-03-28", "2026-04-12", "2026-03-28", 15, 1 },
		{ "2026-09-25", "2026-10-25", "2026-10-10", 30, 0 },
		{ "2026-10-25", "2026-11-09", "2026-10-25", 15, 1 },
		/* New York: 8 March and 1 November. */
		{ "2026-02-06", "2026-03-08", "2026-02-21", 30, 0 },
		{ "2026-03-08", "2026-03-23", "2026-03-08", 15, 1 },
		{ "2026-10-02", "2026-11-01", "2026-10-17", 30, 0 },
		{ "2026-11-01", "2026-12-01", "2026-11-16", 30, 0 },
		/* Lord Howe: 5 April lasts 24.5 hours, 4 October 23.5. */
		{ "2026-03-06", "2026-04-05", "2026-03-21", 30, 0 },
		{ "2026-04-05", "2026-04-20", "2026-04-05", 15, 1 },
		{ "2026-09-04", "2026-10-04", "2026-09-19", 30, 0 },
		{ "2026-10-04", "2026-10-19", "2026-10-04", 15, 1 },
	};
	static const char *const zones[] = { "UTC", "Europe/Berlin", "America/New_York",
					     "Australia/Lord_Howe" };
	for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
		use_zone(zones[z]);
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			struct notice_dates nd;
			assert_dx_ok(notice_check(cases[i].today, cases[i].meeting, 1, &nd));
			if (nd.days_before != cases[i].days || nd.late != cases[i].late ||
			    strcmp(nd.respond_by, cases[i].respond_by) != 0) {
				fail_msg("TZ=%s: notice on %s for %s: %lld days, late %d, respond "
					 "by "
					 "%s; want %lld, %d, %s",
					 zones[z], cases[i].today, cases[i].meeting,
					 (long long)nd.days_before, nd.late, nd.respond_by,
					 (long long)cases[i].days, cases[i].late,
					 cases[i].respond_by);
			}
			if (!cases[i].late) {
				assert_dx_ok(
					notice_check(cases[i].today, cases[i].meeting, 0, &nd));
			} else {
				assert_dx_err(
					notice_check(cases[i].today, cases[i].meeting, 0, &nd),
					DX_ELATE_NOTICE);
			}
		}
	}
}

/* The overdue marks of `divex due`: a date is overdue from the local day after it. */
static void test_overdue_marks(void **state)
{
	(void)state;
	size_t n;
	const struct change *cs = changes(&n);
	for (size_t i = 0; i < n; i++) {
		const struct change *c = &cs[i];
		require_zone(c);
		struct notice_row nr;
		struct request_row rr;
		memset(&nr, 0, sizeof(nr));
		memset(&rr, 0, sizeof(rr));
		/* Due on the day the clocks move. */
		snprintf(nr.respond_by, sizeof(nr.respond_by), "%s", c->day);
		snprintf(rr.respond_by, sizeof(rr.respond_by), "%s", c->day);
		char before[NOTICE_DATE_LEN + 1], after[NOTICE_DATE_LEN + 1];
		shift_day(c->day, -1, before);
		shift_day(c->day, 1, after);
		/* Today as the daemon sees it at 23:30 and 00:30 local. */
		const struct {
			const char *date;
			int h, m;
			const char *state;
		} at[] = {
			{ before, 23, 30, "awaiting" },
			{ c->day, 0, 30, "awaiting" },
			{ c->day, 23, 30, "awaiting" },
			{ after, 0, 30, "overdue" },
		};
		for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
			char today[NOTICE_DATE_LEN + 1];
			int64_t t = local_moment(c, at[k].date, at[k].h, at[k].m);
			assert_dx_ok(notice_local_day((uint64_t)t * 1000u, today));
			const char *ns = node_notice_state(&nr, today);
			const char *rs = node_request_state(&rr, today);
			if (strcmp(ns, at[k].state) != 0 || strcmp(rs, at[k].state) != 0) {
				fail_msg("%s: due %s, at %02d:%02d local on %s (today %s): notice "
					 "%s, "
					 "request %s, want %s",
					 c->zone, c->day, at[k].h, at[k].m, at[k].date, today, ns,
					 rs, at[k].state);
			}
		}
	}
}

/* DIVEX_TODAY still decides the day when set, whatever the zone. */
static void test_injected_today(void **state)
{
	(void)state;
	char out[NOTICE_DATE_LEN + 1];
	use_zone("Australia/Lord_Howe");
	assert_int_equal(setenv("DIVEX_TODAY", "2026-10-04", 1), 0);
	assert_dx_ok(notice_today(out));
	assert_string_equal(out, "2026-10-04");
	assert_int_equal(unsetenv("DIVEX_TODAY"), 0);
	/* Unset, today is the local day of the clock, as notice_local_day() gives it. */
	char want[NOTICE_DATE_LEN + 1];
	time_t now = time(NULL);
	assert_dx_ok(notice_today(out));
	assert_dx_ok(notice_local_day((uint64_t)now * 1000u, want));
	if (strcmp(out, want) != 0) {
		/* Midnight passed between the two calls: ask again. */
		assert_dx_ok(notice_today(out));
	}
	assert_string_equal(out, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_local_day_at_half_hours),
		cmocka_unit_test(test_local_day_sweep),
		cmocka_unit_test(test_seconds_are_not_days),
		cmocka_unit_test(test_notice_rules_across_changes),
		cmocka_unit_test(test_overdue_marks),
		cmocka_unit_test(test_injected_today),
	};
	return cmocka_run_group_tests_name("daylight saving", tests, NULL, NULL);
}
