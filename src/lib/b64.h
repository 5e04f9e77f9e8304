/*
 * b64 - base64 (RFC 4648) of the standard alphabet, padded: the strict
 * decoder of SASL (proto/) and the encoder of SASL and MIME (mime/).  Pure:
 * no allocation, no I/O.  Each call fails with -1 (and writes nothing the
 * caller may use) on malformed input or when out has no room.
 */
#ifndef OWL_B64_H
#define OWL_B64_H

#include <stddef.h>

/* Strict base64 (RFC 4648, padded, no whitespace); -1 if malformed. */
int b64_decode(const char *in, size_t len, char *out, size_t size,
	       size_t *outlen);

/* The value of a base64 (RFC 4648) character; -1 if not one. */
int b64_val(unsigned char c);

/* Standard padded base64 of in into out (NUL-terminated); -1 if no room. */
int b64_encode(const char *in, size_t len, char *out, size_t size);

#endif
