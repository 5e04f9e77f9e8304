/*
 * imap_date - IMAP dates (RFC 9051 9): date-text for SEARCH (d-Mon-yyyy
 * or dd-Mon-yyyy) and date-time for APPEND and INTERNALDATE
 * ("dd-Mon-yyyy hh:mm:ss +zzzz", the day space-padded), as the argument's
 * text without its quotes.  Pure: no locale, no time zone but the one in
 * the text.  Refused (-1): anything else, a day the month does not have
 * (29-Feb in a common year), a time or zone out of range (hh 0-23, mm and
 * ss 0-59 (60 for a leap second), zone hours 0-23 and minutes 0-59), a
 * year before 1000, a date-time whose moment in UTC falls outside the
 * years 1000-9999 (it could not be written back).
 */
#ifndef OWL_IMAP_DATE_H
#define OWL_IMAP_DATE_H

#include <stddef.h>
#include <stdint.h>

#define IMAP_DATETIME_LEN 26	/* "dd-Mon-yyyy hh:mm:ss +zzzz" */

/* The day number (since 1970-01-01) of a proleptic Gregorian date. */
long long imap_days_from_civil(long long y, unsigned m, unsigned d);
/* date-text: the day as days since 1970-01-01 (SEARCH compares days). */
int imap_date_parse(const char *s, size_t len, long long *days_r);
/* date-time: the moment, seconds since the epoch (UTC). */
int imap_datetime_parse(const char *s, size_t len, int64_t *t_r);
/* t as date-time in UTC ("+0000"), NUL-terminated; out has room for
 * IMAP_DATETIME_LEN + 1. */
void imap_datetime_format(int64_t t, char *out);
/*
 * An RFC 5322 date-time (3.3, with 4.3's obsolete forms: two- and
 * three-digit years, named zones, comments) as seconds since 1970 UTC;
 * -1 if it is not one.  The day of the week, if given, is not checked.
 */
int imap_date_rfc5322(const char *s, size_t len, int64_t *t_r);

#endif
