/*
 * imap_date - see imap_date.h.  Civil dates to days and back with Howard
 * Hinnant's algorithms (public domain arithmetic on the proleptic
 * Gregorian calendar), so no timegm(), locale or TZ is involved.
 */
#include "imap_date.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const MONTHS[12] = {"Jan", "Feb", "Mar", "Apr", "May",
				       "Jun", "Jul", "Aug", "Sep", "Oct",
				       "Nov", "Dec"};

long long
imap_days_from_civil(long long y, unsigned m, unsigned d)
{
	long long era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

static void
civil_from_days(long long z, long long *y, unsigned *m, unsigned *d)
{
	long long era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (long long)yoe + era * 400 + (*m <= 2);
}

static unsigned
days_in_month(long long y, unsigned m)
{
	static const unsigned n[12] = {31, 28, 31, 30, 31, 30,
				       31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : n[m - 1];
}

/* n digits at *p as a number; -1 if they are not all digits. */
static int
digits(const char **p, const char *end, int n)
{
	int v = 0;

	if (end - *p < n)
		return -1;
	for (int i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return -1;
		v = v * 10 + (**p - '0');
	}
	return v;
}

static bool
take(const char **p, const char *end, char c)
{
	if (*p == end || **p != c)
		return false;
	(*p)++;
	return true;
}

/* "-Mon-yyyy" after the day: the month and year, checked with day. */
static int
month_year(const char **p, const char *end, int day, long long *days_r)
{
	unsigned m = 0;
	int y;

	if (!take(p, end, '-') || end - *p < 3)
		return -1;
	for (unsigned i = 0; i < 12 && m == 0; i++)
		if (strncasecmp(*p, MONTHS[i], 3) == 0)
			m = i + 1;
	*p += 3;
	if (m == 0 || !take(p, end, '-') || (y = digits(p, end, 4)) < 1000)
		return -1;
	if (day < 1 || (unsigned)day > days_in_month(y, m))
		return -1;
	*days_r = imap_days_from_civil(y, m, (unsigned)day);
	return 0;
}

int
imap_date_parse(const char *s, size_t len, long long *days_r)
{
	const char *p = s, *end = s + len;
	int day = digits(&p, end, 1), more;

	if (day < 0)
		return -1;
	if (p < end && *p >= '0' && *p <= '9') {
		more = digits(&p, end, 1);
		day = day * 10 + more;
	}
	if (month_year(&p, end, day, days_r) == -1 || p != end)
		return -1;
	return 0;
}

int
imap_datetime_parse(const char *s, size_t len, int64_t *t_r, int *zone_r)
{
	const char *p = s, *end = s + len;
	long long days;
	int day, hh, mm, ss, zh, zm, sign;

	if (len != IMAP_DATETIME_LEN)
		return -1;
	if (*p == ' ') { /* date-day-fixed: SP DIGIT */
		p++;
		day = digits(&p, end, 1);
	} else {
		day = digits(&p, end, 2);
	}
	if (day < 0 || month_year(&p, end, day, &days) == -1 ||
	    !take(&p, end, ' ') || (hh = digits(&p, end, 2)) < 0 ||
	    !take(&p, end, ':') || (mm = digits(&p, end, 2)) < 0 ||
	    !take(&p, end, ':') || (ss = digits(&p, end, 2)) < 0 ||
	    !take(&p, end, ' ') || p == end)
		return -1;
	sign = *p == '+' ? 1 : *p == '-' ? -1 : 0;
	p++;
	if (sign == 0 || (zh = digits(&p, end, 2)) < 0 ||
	    (zm = digits(&p, end, 2)) < 0 || p != end)
		return -1;
	if (hh > 23 || mm > 59 || ss > 60 || zh > 23 || zm > 59)
		return -1;
	*t_r = (int64_t)(days * 86400 + hh * 3600 + mm * 60 + ss -
			sign * (zh * 3600 + zm * 60));
	/* in UTC too within years 1000-9999, so that it formats back */
	if (*t_r < imap_days_from_civil(1000, 1, 1) * 86400 ||
	    *t_r >= imap_days_from_civil(10000, 1, 1) * 86400)
		return -1;
	if (zone_r != NULL)
		*zone_r = sign * (zh * 60 + zm);
	return 0;
}

/*
 * The calendar day (since 1970-01-01) of moment t in zone, and the
 * seconds of that day (0-86399).  The zone moves the time of day by less
 * than a day, so the day moves by at most one: no overflow for any t.
 */
static void
local_day(int64_t t, int zone, long long *days_r, long long *rem_r)
{
	long long days = (long long)(t / 86400), rem = (long long)(t % 86400);

	if (zone < -IMAP_ZONE_MAX || zone > IMAP_ZONE_MAX)
		zone = 0;
	if (rem < 0) { /* round down before 1970 too */
		rem += 86400;
		days--;
	}
	rem += (long long)zone * 60;
	if (rem < 0) {
		rem += 86400;
		days--;
	} else if (rem >= 86400) {
		rem -= 86400;
		days++;
	}
	*days_r = days;
	*rem_r = rem;
}

long long
imap_day_in_zone(int64_t t, int zone)
{
	long long days, rem;

	local_day(t, zone, &days, &rem);
	return days;
}

void
imap_datetime_format(int64_t t, int zone, char *out)
{
	long long days, rem, y;
	unsigned m, d, az;

	if (zone < -IMAP_ZONE_MAX || zone > IMAP_ZONE_MAX)
		zone = 0;
	local_day(t, zone, &days, &rem);
	civil_from_days(days, &y, &m, &d);
	az = (unsigned)(zone < 0 ? -zone : zone);
	snprintf(out, IMAP_DATETIME_LEN + 1,
		 "%2u-%s-%04lld %02lld:%02lld:%02lld %c%02u%02u", d,
		 MONTHS[m - 1], y % 10000, rem / 3600, rem / 60 % 60, rem % 60,
		 zone < 0 ? '-' : '+', az / 60, az % 60);
}

/* --- RFC 5322 dates ------------------------------------------------------- */

/* Skips white space, line ends and (nested) comments. */
static void
skip_cfws(const char **p, const char *end)
{
	unsigned depth = 0;

	while (*p < end) {
		char c = **p;

		if (c == '(')
			depth++;
		else if (c == ')' && depth > 0)
			depth--;
		else if (c == '\\' && depth > 0 && *p + 1 < end)
			(*p)++;
		else if (depth == 0 && c != ' ' && c != '\t' && c != '\r' &&
			 c != '\n')
			return;
		(*p)++;
	}
}

/* 1 to max digits: their value, or -1; *n_r: how many. */
static long
number(const char **p, const char *end, int max, int *n_r)
{
	long v = 0;
	int n = 0;

	while (*p < end && **p >= '0' && **p <= '9' && n < max) {
		v = v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	*n_r = n;
	return n == 0 || (*p < end && **p >= '0' && **p <= '9') ? -1 : v;
}

/* A zone: +hhmm, -hhmm or an obsolete name; its offset in seconds. */
static int
zone(const char **p, const char *end, long *off_r)
{
	static const struct {
		const char *name;
		int hours;
	} names[] = {
		{"UT", 0}, {"GMT", 0}, {"EST", -5}, {"EDT", -4}, {"CST", -6},
		{"CDT", -5}, {"MST", -7}, {"MDT", -6}, {"PST", -8},
		{"PDT", -7},
	};
	const char *w = *p;
	int n;
	long v;

	if (w < end && (*w == '+' || *w == '-')) {
		int sign = *w == '-' ? -1 : 1;

		(*p)++;
		if ((v = number(p, end, 4, &n)) < 0 || n != 4 ||
		    v / 100 > 23 || v % 100 > 59)
			return -1;
		*off_r = sign * (v / 100 * 3600 + v % 100 * 60);
		return 0;
	}
	while (*p < end && ((**p >= 'A' && **p <= 'Z') ||
			    (**p >= 'a' && **p <= 'z')))
		(*p)++;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((size_t)(*p - w) == strlen(names[i].name) &&
		    strncasecmp(w, names[i].name, (size_t)(*p - w)) == 0) {
			*off_r = names[i].hours * 3600;
			return 0;
		}
	/* military and unknown zones mean nothing (RFC 5322 4.3): UTC */
	*off_r = 0;
	return *p > w && *p - w <= 5 ? 0 : -1;
}

/* "day month year": the day number since 1970. */
static int
day_month_year(const char **p, const char *end, long long *days_r)
{
	long day, year;
	unsigned m = 0;
	int n;

	if ((day = number(p, end, 2, &n)) < 1)
		return -1;
	skip_cfws(p, end);
	for (unsigned i = 0; i < 12 && m == 0 && end - *p >= 3; i++)
		if (strncasecmp(*p, MONTHS[i], 3) == 0)
			m = i + 1;
	if (m == 0)
		return -1;
	*p += 3;
	skip_cfws(p, end);
	if ((year = number(p, end, 4, &n)) < 0)
		return -1;
	if (n == 2)
		year += year < 50 ? 2000 : 1900;
	else if (n == 3)
		year += 1900;
	if (year < 1000 || (unsigned)day > days_in_month(year, m))
		return -1;
	*days_r = imap_days_from_civil(year, m, (unsigned)day);
	return 0;
}

int
imap_date_rfc5322(const char *s, size_t len, int64_t *t_r)
{
	const char *p = s, *end = s + len;
	long long days;
	long hh, mm, ss = 0, off;
	int n;

	skip_cfws(&p, end);
	if (end - p >= 3 && !(*p >= '0' && *p <= '9')) {
		/* day-of-week "," */
		p += 3;
		skip_cfws(&p, end);
		if (p == end || *p != ',')
			return -1;
		p++;
		skip_cfws(&p, end);
	}
	if (day_month_year(&p, end, &days) == -1)
		return -1;
	skip_cfws(&p, end);
	if ((hh = number(&p, end, 2, &n)) < 0 || hh > 23 ||
	    !take(&p, end, ':') || (mm = number(&p, end, 2, &n)) < 0 ||
	    mm > 59)
		return -1;
	if (take(&p, end, ':') &&
	    ((ss = number(&p, end, 2, &n)) < 0 || ss > 60))
		return -1;
	skip_cfws(&p, end);
	if (zone(&p, end, &off) == -1)
		return -1;
	skip_cfws(&p, end);
	if (p != end)
		return -1;
	*t_r = (int64_t)(days * 86400 + hh * 3600 + mm * 60 + ss - off);
	return 0;
}
