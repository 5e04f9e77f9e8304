/*
 * imap_date - see imap_date.h.  Civil dates to days and back with Howard
 * Hinnant's algorithms (public domain arithmetic on the proleptic
 * Gregorian calendar), so no timegm(), locale or TZ is involved.
 */
#include "imap_date.h"

#include <stdbool.h>
#include <stdio.h>
#include <strings.h>

static const char *const MONTHS[12] = {"Jan", "Feb", "Mar", "Apr", "May",
				       "Jun", "Jul", "Aug", "Sep", "Oct",
				       "Nov", "Dec"};

static long long
days_from_civil(long long y, unsigned m, unsigned d)
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
	*days_r = days_from_civil(y, m, (unsigned)day);
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
imap_datetime_parse(const char *s, size_t len, int64_t *t_r)
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
	if (*t_r < days_from_civil(1000, 1, 1) * 86400 ||
	    *t_r >= days_from_civil(10000, 1, 1) * 86400)
		return -1;
	return 0;
}

void
imap_datetime_format(int64_t t, char *out)
{
	long long s = (long long)t, days = s / 86400, y;
	long long rem = s % 86400;
	unsigned m, d;

	if (rem < 0) {
		rem += 86400;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	snprintf(out, IMAP_DATETIME_LEN + 1,
		 "%2u-%s-%04lld %02lld:%02lld:%02lld +0000", d, MONTHS[m - 1],
		 y % 10000, rem / 3600, rem / 60 % 60, rem % 60);
}
