/*
 * imap_utf7 - mailbox names in modified UTF-7 (RFC 3501 5.1.3), for
 * IMAP4rev1 clients that did not ENABLE UTF8=ACCEPT or IMAP4rev2: to and
 * from the UTF-8 the store uses.  Pure.
 *
 * Both directions are strict and give back exactly what the other makes:
 * UTF-8 must be well formed (no overlong forms, no surrogates, nothing
 * past U+10FFFF); modified UTF-7 must be canonical: printable ASCII
 * (0x20-0x7e) as itself, '&' as "&-", everything else as UTF-16 in
 * modified base64 ('+' and ',' as the last two digits, no padding, unused
 * bits zero) between '&' and '-', surrogates paired, no printable ASCII
 * and no octet above 0x7e in it.  So one name has one spelling, and a
 * name read back is the name written.  -1: not valid (out unchanged
 * beyond what was appended before the error).
 */
#ifndef OWL_IMAP_UTF7_H
#define OWL_IMAP_UTF7_H

#include <stddef.h>

#include "../lib/buf.h"

int imap_utf8_to_mutf7(const char *in, size_t len, struct buf *out);
int imap_mutf7_to_utf8(const char *in, size_t len, struct buf *out);

#endif
