/*
 * notice_rules.h: the dates of a rule 12 notice (DIEF Terms of Reference,
 * rule 12): a State that will present information involving other States
 * notifies them at least 30 days before the meeting and asks for their
 * response at least 15 days before it. docs/casework-rules.md explains the
 * rule and how divex applies it.
 *
 * Dates are calendar days written YYYY-MM-DD in the proleptic Gregorian
 * calendar. No time zone is involved: the caller gives the sender's own
 * calendar day ("today") as input, so the same inputs always give the same
 * answer, and tests inject whatever day they need. Pure functions;
 * thread-safe, except notice_today(), which reads the environment and the
 * local time zone.
 */
#ifndef DIVEX_CORE_NOTICE_RULES_H
#define DIVEX_CORE_NOTICE_RULES_H

#include <stdint.h>

#include "error.h"

/* "YYYY-MM-DD" */
#define NOTICE_DATE_LEN 10
/* Rule 12: notify at least 30 days ahead, ask for the response at least 15. */
#define NOTICE_MIN_DAYS 30
#define NOTICE_RESPONSE_DAYS 15

/*
 * Parses a date: exactly four digits of year (0001..9999), '-', two of month,
 * '-', two of day, nothing after; the day must exist in that month (29
 * February only in a leap year). *day receives the number of days since
 * 1970-01-01 (negative before it). DX_EPARSE otherwise.
 */
int notice_date_parse(const char *s, int64_t *day) DX_MUST_CHECK;
/* Writes a day number from notice_date_parse() back as YYYY-MM-DD and a NUL;
 * DX_EINVAL when it lies outside years 0001..9999. */
int notice_date_format(int64_t day, char out[static NOTICE_DATE_LEN + 1]) DX_MUST_CHECK;
/* *days = to - from, in days (negative when to is earlier). */
int notice_days_between(const char *from, const char *to, int64_t *days) DX_MUST_CHECK;

struct notice_dates {
	int64_t days_before;		       /* from today to the meeting */
	int late;			       /* fewer than NOTICE_MIN_DAYS: sent with a reason */
	char respond_by[NOTICE_DATE_LEN + 1]; /* meeting - NOTICE_RESPONSE_DAYS, or today */
	int respond_by_is_today;	       /* a late notice sent under 15 days ahead */
};

/*
 * Decides whether a notice for a meeting may be sent today, and its
 * response-by date. DX_EPARSE for a malformed date; DX_EINVAL when the
 * meeting is today or earlier (there is nothing left to notify);
 * DX_ELATE_NOTICE when the meeting is fewer than NOTICE_MIN_DAYS days away
 * and has_late_reason is 0. The response-by date is the meeting less
 * NOTICE_RESPONSE_DAYS days; a late notice sent under that many days ahead
 * asks for the response today, the earliest a response can be asked for.
 * *out is written only on success.
 */
int notice_check(const char *today, const char *meeting, int has_late_reason,
		 struct notice_dates *out) DX_MUST_CHECK;

/*
 * The sender's calendar day: $DIVEX_TODAY when it is set (it must then be a
 * valid date, else DX_EINVAL: a clock for tests and demonstrations), else
 * the local date of the system clock.
 */
int notice_today(char out[static NOTICE_DATE_LEN + 1]) DX_MUST_CHECK;

/*
 * The local calendar day (in the process's time zone, TZ) of a moment given
 * in milliseconds since the Unix epoch. A day is never found by dividing a
 * time by 86,400 seconds: that is the UTC day, which differs from the local
 * one for part of every day, and a local day lasts 23 or 25 hours when
 * daylight saving time begins or ends.
 */
int notice_local_day(uint64_t ms, char out[static NOTICE_DATE_LEN + 1]) DX_MUST_CHECK;

#endif
