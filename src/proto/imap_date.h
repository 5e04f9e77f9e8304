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
 *
 * A zone travels as minutes east of UTC (-1439..1439; "-0000" is 0, the
 * offset of "+0000"): a message's internal date is its moment and the
 * zone it was given in (APPEND), so that INTERNALDATE shows it as given
 * and SEARCH takes its day in that zone (docs/IMAP.md).
 */
#ifndef OWL_IMAP_DATE_H
#define OWL_IMAP_DATE_H

#include <stddef.h>
#include <stdint.h>

#define IMAP_DATETIME_LEN 26	/* "dd-Mon-yyyy hh:mm:ss +zzzz" */
#define IMAP_ZONE_MAX 1439	/* minutes: "+2359" */

/* The day number (since 1970-01-01) of a proleptic Gregorian date. */
long long imap_days_from_civil(long long y, unsigned m, unsigned d);
/* date-text: the day as days since 1970-01-01 (SEARCH compares days). */
int imap_date_parse(const char *s, size_t len, long long *days_r);
/* date-time: the moment, seconds since the epoch (UTC), and its zone in
 * minutes east of UTC into *zone_r (may be NULL). */
int imap_datetime_parse(const char *s, size_t len, int64_t *t_r,
			int *zone_r);
/* t as date-time in zone (minutes east of UTC; one out of range is
 * taken as 0), with that offset ("+0200"), NUL-terminated; out has room
 * for IMAP_DATETIME_LEN + 1. */
void imap_datetime_format(int64_t t, int zone, char *out);
/* The calendar day (days since 1970-01-01) of moment t in zone, as
 * SEARCH BEFORE, ON and SINCE compare it (RFC 9051 6.4.4: the internal
 * date's day, disregarding time and zone).  No overflow for any t. */
long long imap_day_in_zone(int64_t t, int zone);
/*
 * An RFC 5322 date-time (3.3, with 4.3's obsolete forms: two- and
 * three-digit years, named zones, comments) as seconds since 1970 UTC;
 * -1 if it is not one.  The day of the week, if given, is not checked.
 */
int imap_date_rfc5322(const char *s, size_t len, int64_t *t_r);

#endif
