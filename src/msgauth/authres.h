/*
 * authres - the Authentication-Results header field (RFC 8601): one field
 * built from the checks' results, and the fields a message arrives with
 * that claim our authserv-id found, so that they can be removed before
 * ours is added (section 5).  Pure: no I/O; a field under construction
 * holds a fixed table and one bounded buffer (AUTHRES_FIELD_MAX).
 *
 * The field owld writes: one result a line, a line folded before a
 * property that would pass 78 columns, LF line ends, a tab starting each
 * continuation line (shown as 8 spaces):
 *
 * Authentication-Results: mx.example.org;
 *         spf=pass smtp.mailfrom=example.com;
 *         dkim=pass header.d=example.com header.s=sel2024 header.a=rsa-sha256
 *         header.b="AbC/dE+f";
 *         dmarc=fail (p=reject) header.from=example.com
 *
 * Every value from the message (domains, selectors, reasons) is checked
 * before it goes in: it is written as it is when it is a token or
 * [local-part "@"] domain-name, else as a quoted string; a value with a
 * control character, a line break or a byte outside ASCII is refused
 * (-1), so nothing read from a peer can end the field or start another.
 */
#ifndef OWL_AUTHRES_H
#define OWL_AUTHRES_H

#include <stdbool.h>
#include <stddef.h>

#include "../lib/buf.h"

#define AUTHRES_RESULTS_MAX 32	/* resinfo items in one field */
#define AUTHRES_VALUE_MAX 255	/* octets of one value, reason, comment */
#define AUTHRES_FIELD_MAX 16384	/* the formatted field */

struct authres;

/*
 * A field for authserv_id (a host name or other token, RFC 8601 2.5);
 * NULL if it is not a token.
 */
struct authres *authres_new(const char *authserv_id);
/*
 * Adds one result: method (a Keyword such as "spf", "dkim", "dmarc"),
 * result (a Keyword: "pass", "fail", ...), a reason (NULL: none) and
 * then pairs of property ("ptype.property", e.g. "smtp.mailfrom",
 * "header.d") and value, ended by NULL.  A NULL or empty value leaves its
 * pair out.  0, or -1 (nothing added) when a name is not a Keyword, a
 * value is refused (above), there are AUTHRES_RESULTS_MAX results, or
 * the field would pass AUTHRES_FIELD_MAX.
 */
int authres_add(struct authres *a, const char *method, const char *result,
		const char *reason, ...) __attribute__((sentinel));
/*
 * A comment "(text)" after the last result's method=result, such as
 * DMARC's "(p=reject)"; '(' ')' and '\' in it are escaped.  -1 as
 * authres_add refuses a value, or if there is no result yet.
 */
int authres_comment(struct authres *a, const char *text);
/* Results added so far. */
size_t authres_count(const struct authres *a);
/*
 * Appends the whole field, "Authentication-Results: ...", folded, with
 * its final LF, to out ("authserv-id; none" with no result).  -1 if out
 * is full (out unchanged).
 */
int authres_format(const struct authres *a, struct buf *out);
void authres_free(struct authres **a);

struct authres_span {
	size_t off, len;	/* a whole field: its lines and line ends */
};

/*
 * The Authentication-Results fields of the header section hdr (hlen
 * octets, to the empty line or all of it) whose authserv-id is
 * authserv_id (any case; CFWS before and after it skipped, a version
 * after it allowed, a quoted-string id unquoted): their spans, in order,
 * into spans (at most max).  Returns how many there are, which may be
 * more than max.
 */
size_t authres_ours(const char *hdr, size_t hlen, const char *authserv_id,
		    struct authres_span *spans, size_t max);

#endif
