/*
 * milter_edit - a milter's header changes applied to a message's header
 * block (sans-I/O, as proto/milter.h): add (at the end), change or
 * delete the nth field of a name, insert at a position.
 *
 * The block is the header fields as the milter was sent them, LF line
 * ends, each field ending in LF, without the empty line after them.  A
 * new field is written "Name: value" (the value's CR LF and CR made LF,
 * a line that would not start with white space given a TAB, so a value
 * never adds a field of its own); one with a name that is not a field
 * name (RFC 5322 2.2) is left out and counted.
 */
#ifndef OWL_PROTO_MILTER_EDIT_H
#define OWL_PROTO_MILTER_EDIT_H

#include <stddef.h>

#include "../lib/buf.h"
#include "milter.h"

/*
 * Applies m's collected header modifications to hdr[0..len) into out;
 * *skipped_r counts the ones left out.  -1 if out is full (out then
 * holds part of it).
 */
int milter_edit_headers(const struct milter *m, const char *hdr, size_t len,
			struct buf *out, unsigned *skipped_r);

#endif
