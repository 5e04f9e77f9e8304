/*
 * dkim_tags - the tag=value lists of DKIM (RFC 6376 3.2): the
 * DKIM-Signature header field's value and the key record in DNS.  Pure: no
 * allocation, no I/O.  A list is parsed in place: each tag points into the
 * caller's text, which must outlive the result.  A malformed list (a tag
 * without '=', a bad name, a value with a byte outside VALCHAR, a
 * duplicate tag, more than DKIM_TAGS_MAX tags) is refused with -1 and a
 * static error text: RFC 6376 makes each a PERMFAIL.
 */
#ifndef OWL_DKIM_TAGS_H
#define OWL_DKIM_TAGS_H

#include <stdbool.h>
#include <stddef.h>

#define DKIM_TAGS_MAX 32	/* a signature has 14 tags at most that mean
				   anything; unknown ones are allowed */

struct dkim_tag {
	const char *name;	/* not NUL-terminated: nlen octets */
	size_t nlen;
	const char *val;	/* without the whitespace around it */
	size_t vlen;
};

struct dkim_tags {
	struct dkim_tag t[DKIM_TAGS_MAX];
	size_t n;
};

/*
 * Parses text (len octets; folding whitespace allowed where RFC 6376 3.2
 * allows FWS, with bare LF line ends as owlpost stores them) into *out.
 * 0, or -1 with *error_r set.
 */
int dkim_tags_parse(const char *text, size_t len, struct dkim_tags *out,
		    const char **error_r);
/* The tag named name (case-sensitive, as RFC 6376 says), or NULL. */
const struct dkim_tag *dkim_tags_get(const struct dkim_tags *tags,
				     const char *name);
/* True if the tag's value is exactly s. */
bool dkim_tag_is(const struct dkim_tag *t, const char *s);

#endif
