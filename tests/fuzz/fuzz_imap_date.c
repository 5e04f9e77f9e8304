/*
 * libFuzzer harness for IMAP dates (proto/imap_date.h).  The input is
 * taken as date-text and as date-time; a date-time that parses must be
 * formatted (in UTC) and parsed back to the same moment, and its date
 * part must parse as date-text.  The first 8 octets, as a moment in
 * years 1000-9999, must survive format and parse too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/imap_date.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
round_trip(int64_t t)
{
	char out[IMAP_DATETIME_LEN + 1];
	int64_t back;

	imap_datetime_format(t, out);
	if (strlen(out) != IMAP_DATETIME_LEN ||
	    imap_datetime_parse(out, IMAP_DATETIME_LEN, &back) != 0 ||
	    back != t)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	long long days;
	int64_t t;

	(void)imap_date_parse(s, size, &days);
	if (imap_datetime_parse(s, size, &t) == 0) {
		const char *d = s[0] == ' ' ? s + 1 : s;

		round_trip(t);
		if (imap_date_parse(d, (size_t)(s + 11 - d), &days) != 0)
			abort();
	}
	if (size >= 8) {
		int64_t v;

		memcpy(&v, data, 8);
		/* 1000-01-01 .. 9999-12-31 23:59:59 */
		v = -30610224000LL + (int64_t)((uint64_t)v %
					       (253402300799ULL +
						30610224000ULL + 1));
		round_trip(v);
	}
	return 0;
}
