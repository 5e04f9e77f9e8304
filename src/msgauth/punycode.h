/*
 * punycode - the Punycode encoder of RFC 3492 and the A-label of a
 * domain label (IDNA: "xn--" and the encoding), for the public suffix
 * list, whose rules are written in U-labels (UTF-8) while names in mail
 * arrive as A-labels.  Pure: no allocation, no I/O.
 *
 * Only the encoding: no Nameprep, no IDNA2008 mapping or validity check
 * (the list is already normalized, lower case).  Fails with -1 on bytes
 * that are not UTF-8 (overlong forms, surrogates, past U+10FFFF) and
 * when the output does not fit.
 */
#ifndef OWL_PUNYCODE_H
#define OWL_PUNYCODE_H

#include <stddef.h>

#define PUNYCODE_LABEL_MAX 63	/* octets of a DNS label */

/*
 * The Punycode of the UTF-8 text in (len octets) into out (size octets,
 * NUL-ended).  Returns the output length, or -1.
 */
int punycode_encode(const char *in, size_t len, char *out, size_t size);
/*
 * One label as DNS carries it: ASCII labels are copied lower-cased, others
 * become "xn--" and their Punycode.  Returns the length, or -1 (bad UTF-8,
 * longer than PUNYCODE_LABEL_MAX or than size - 1).
 */
int punycode_label(const char *in, size_t len, char *out, size_t size);

#endif
