/*
 * bounce - the delivery status notification (RFC 3464) sent to a message's
 * sender when some recipients failed for good: a multipart/report with a
 * human-readable part, a message/delivery-status part (one block per
 * failed recipient) and the original header section as text/rfc822-headers.
 * Pure formatting: the relay reads the headers and delivers the result.
 */
#ifndef OWL_BOUNCE_H
#define OWL_BOUNCE_H

#include <stddef.h>
#include <time.h>

#include "../lib/buf.h"
#include "../store/queue.h"

/* The headers of text (up to the blank line), at most max octets. */
size_t bounce_headers_len(const char *text, size_t len, size_t max);
/* Appends the bounce (LF line ends) for e's failed recipients to b. */
void bounce_build(struct buf *b, const char *hostname, const struct qenv *e,
		  const char *headers, size_t hlen, time_t now,
		  const char *id);

#endif
