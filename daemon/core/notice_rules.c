/*
 * notice_rules.c: calendar arithmetic for rule 12 notices (see
 * notice_rules.h). Day numbers use the days-from-civil algorithm: years are
 * counted from March so that the leap day is the last day of a year, which
 * makes the count a closed formula without tables.
 */
#include "notice_rules.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIN_YEAR 1
#define MAX_YEAR 9999

static int is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a valid proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t mp = (m + 9) % 12; /* March is 0 */
	int64_t doy = (153 * mp + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int digits(const char *s, size_t n, int *out)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return 0;
		}
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 1;
}

int notice_date_parse(const char *s, int64_t *day)
{
	int y, m, d;
	if (s == NULL || strlen(s) != NOTICE_DATE_LEN || s[4] != '-' || s[7] != '-' ||
	    !digits(s, 4, &y) || !digits(s + 5, 2, &m) || !digits(s + 8, 2, &d)) {
		return DX_EPARSE;
	}
	if (y < MIN_YEAR || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m)) {
		return DX_EPARSE;
	}
	*day = days_from_civil(y, m, d);
	return DX_OK;
}

int notice_date_format(int64_t day, char out[static NOTICE_DATE_LEN + 1])
{
	int64_t y;
	int m, d;
	if (day < days_from_civil(MIN_YEAR, 1, 1) || day > days_from_civil(MAX_YEAR, 12, 31)) {
		return DX_EINVAL;
	}
	civil_from_days(day, &y, &m, &d);
	/* Written digit by digit: the ranges are known, so nothing can be cut. */
	const int parts[3][2] = { { (int)y, 4 }, { m, 2 }, { d, 2 } };
	size_t at = 0;
	for (int i = 0; i < 3; i++) {
		int v = parts[i][0], w = parts[i][1];
		for (int j = w - 1; j >= 0; j--) {
			out[at + (size_t)j] = (char)('0' + v % 10);
			v /= 10;
		}
		at += (size_t)w;
		out[at++] = i < 2 ? '-' : '\0';
	}
	return DX_OK;
}

int notice_days_between(const char *from, const char *to, int64_t *days)
{
	int64_t a, b;
	int rc = notice_date_parse(from, &a);
	if (rc == DX_OK) {
		rc = notice_date_parse(to, &b);
	}
	if (rc == DX_OK) {
		*days = b - a;
	}
	return rc;
}

int notice_check(const char *today, const char *meeting, int has_late_reason,
		 struct notice_dates *out)
{
	struct notice_dates r;
	int64_t t, mt;
	int rc;
	memset(&r, 0, sizeof(r));
	if ((rc = notice_date_parse(today, &t)) != DX_OK ||
	    (rc = notice_date_parse(meeting, &mt)) != DX_OK) {
		return rc;
	}
	r.days_before = mt - t;
	if (r.days_before <= 0) {
		return DX_EINVAL;
	}
	if (r.days_before < NOTICE_MIN_DAYS) {
		if (!has_late_reason) {
			return DX_ELATE_NOTICE;
		}
		r.late = 1;
	}
	int64_t by = mt - NOTICE_RESPONSE_DAYS;
	if (by < t) {
		by = t;
		r.respond_by_is_today = 1;
	}
	/* Both ends were valid dates, so every day between them formats. */
	if ((rc = notice_date_format(by, r.respond_by)) != DX_OK) {
		return rc;
	}
	*out = r;
	return DX_OK;
}

int notice_today(char out[static NOTICE_DATE_LEN + 1])
{
	const char *env = getenv("DIVEX_TODAY");
	int64_t day;
	if (env != NULL && env[0] != '\0') {
		if (notice_date_parse(env, &day) != DX_OK) {
			return DX_EINVAL;
		}
		memcpy(out, env, NOTICE_DATE_LEN + 1);
		return DX_OK;
	}
	time_t now = time(NULL);
	if (now < 0) {
		return DX_EIO;
	}
	return notice_local_day((uint64_t)now * 1000u, out);
}

int notice_local_day(uint64_t ms, char out[static NOTICE_DATE_LEN + 1])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if ((uint64_t)t != ms / 1000 || localtime_r(&t, &tm) == NULL) {
		return DX_EINVAL;
	}
	/* Years outside 0001..9999 do not have the YYYY-MM-DD form. */
	if (tm.tm_year < MIN_YEAR - 1900 || tm.tm_year > MAX_YEAR - 1900) {
		return DX_EINVAL;
	}
	if (strftime(out, NOTICE_DATE_LEN + 1, "%Y-%m-%d", &tm) != NOTICE_DATE_LEN) {
		return DX_EINVAL;
	}
	return DX_OK;
}
