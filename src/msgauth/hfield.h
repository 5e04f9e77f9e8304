/*
 * hfield - walks the fields of a header section (RFC 5322 2.2) as DMARC's
 * From rule and the removal of forged Authentication-Results need them:
 * every field, with its continuation lines and its line end, none
 * hidden.  Pure: no allocation, no I/O.
 *
 * LF or CRLF end lines (owlpost stores LF).  The section ends at an empty
 * line or at the end of the text.  A line that is not a field (no name
 * and ':', or a continuation line first) is handed out as one with
 * named false, so that a caller can skip it without losing the fields
 * after it.
 */
#ifndef OWL_HFIELD_H
#define OWL_HFIELD_H

#include <stdbool.h>
#include <stddef.h>

struct hfield {
	size_t off, len;	/* the whole field, line end(s) included */
	bool named;		/* a name and ':' */
	const char *name;	/* nlen octets, no whitespace after it */
	size_t nlen;
	const char *value;	/* after the ':' up to the last line end */
	size_t vlen;
};

/*
 * The field at *pos of hdr (hlen octets) into *f, and *pos past it.
 * 1 with a field, 0 at the end of the section (then *pos is where the
 * body starts: past the empty line, or hlen).
 */
int hfield_next(const char *hdr, size_t hlen, size_t *pos,
		struct hfield *f);
/* True if f is named name (NUL-ended, any case). */
bool hfield_is(const struct hfield *f, const char *name);
/*
 * For a message as owlpost stores it (LF line ends): the header
 * section's length, up to and with the empty line (all n without one);
 * and where a field owld adds goes: after a leading Return-Path line, or
 * at 0.  What DKIM signing and the inbound checks both need.
 */
size_t hfield_section_len(const char *p, size_t n);
size_t hfield_insert_at(const char *p, size_t n);

#endif
