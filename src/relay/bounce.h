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
/*
 * The DKIM hook: set once at start, before the workers run (NULL: none).
 * bounce_build calls it on the bounce it appended at b->data + start; it
 * may insert a header field there (relay/signer.c's signer_bounce).
 */
typedef void bounce_sign_fn(struct buf *b, size_t start);
void bounce_set_signer(bounce_sign_fn *fn);
/* Appends the bounce (LF line ends) for e's failed recipients to b. */
void bounce_build(struct buf *b, const char *hostname, const struct qenv *e,
		  const char *headers, size_t hlen, time_t now,
		  const char *id);

#endif
