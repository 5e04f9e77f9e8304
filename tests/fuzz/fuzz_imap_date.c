/*
 * libFuzzer harness for IMAP dates (proto/imap_date.h).  The input is
 * taken as date-text and as date-time; a date-time that parses must be
 * formatted in its zone and parsed back to the same moment and zone
 * ("-0000" comes back as "+0000", the same offset), and its date part
 * must parse as date-text, the day it is in its zone.  The first 8
 * octets, as a moment in years 1000-9999, must survive format and parse
 * in UTC too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/imap_date.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
round_trip(int64_t t, int zone)
{
	char out[IMAP_DATETIME_LEN + 1];
	int64_t back;
	int bzone;

	imap_datetime_format(t, zone, out);
	if (strlen(out) != IMAP_DATETIME_LEN ||
	    imap_datetime_parse(out, IMAP_DATETIME_LEN, &back, &bzone) != 0 ||
	    back != t || bzone != zone)
		abort();
}

/* The day of s (a date-time that parsed as t in zone) in its zone is
 * the day it writes. */
static void
same_day(const char *s, int64_t t, int zone)
{
	const char *d = s[0] == ' ' ? s + 1 : s;
	long long days;

	if (imap_date_parse(d, (size_t)(s + 11 - d), &days) != 0 ||
	    imap_day_in_zone(t, zone) != days)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	long long days;
	int64_t t;
	int zone;

	(void)imap_date_parse(s, size, &days);
	if (imap_datetime_parse(s, size, &t, &zone) == 0) {
		/* a leap second (:60) is written as the next second, which
		 * in its zone may be past 9999: that one in UTC only */
		round_trip(t, s[18] == '6' ? 0 : zone);
		if (s[18] != '6')
			same_day(s, t, zone);
	}
	if (size >= 8) {
		int64_t v;

		memcpy(&v, data, 8);
		/* 1000-01-01 .. 9999-12-31 23:59:59 */
		v = -30610224000LL + (int64_t)((uint64_t)v %
					       (253402300799ULL +
						30610224000ULL + 1));
		round_trip(v, 0);
	}
	return 0;
}
