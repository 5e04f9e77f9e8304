/*
 * dkim_private - what dkim_key.c shares with dkim_sign.c and
 * dkim_verify.c: the key structure and the two primitives over the header
 * hash (RFC 6376 3.7; RFC 8463 3: Ed25519 signs the SHA-256 digest).
 */
#ifndef OWL_DKIM_PRIVATE_H
#define OWL_DKIM_PRIVATE_H

#include <openssl/evp.h>

#include "dkim.h"

struct dkim_key {
	EVP_PKEY *pkey;
	enum dkim_algo algo;
	unsigned bits;
};

#define DKIM_SIG_MAX 1024	/* octets of a signature: 8192-bit RSA */

/* A public key from a key record's p= value (base64, FWS allowed). */
int dkim_key_public(enum dkim_algo algo, const char *b64, size_t len,
		    struct dkim_key **key_r, const char **error_r);
/* Signs data (the canonical headers) into sig (DKIM_SIG_MAX). */
int dkim_key_sign(const struct dkim_key *key, const char *data, size_t len,
		  unsigned char *sig, size_t *siglen);
/* True if sig is key's signature of data. */
bool dkim_key_verify(const struct dkim_key *key, const char *data,
		     size_t len, const unsigned char *sig, size_t siglen);
/* Decodes base64 with folding whitespace in it; -1 if malformed. */
int dkim_b64_decode(const char *in, size_t len, unsigned char *out,
		    size_t size, size_t *outlen);

#endif
