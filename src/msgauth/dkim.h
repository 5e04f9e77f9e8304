/*
 * dkim - DomainKeys Identified Mail (RFC 6376) signing and verification,
 * rsa-sha256 and ed25519-sha256 (RFC 8463), on OpenSSL 3's EVP.  Sans-I/O:
 * keys come in as text (a PEM private key, a DNS key record), messages in
 * chunks, and the time as an argument; nothing here reads a file, a
 * socket or a clock, so the DNS lookup of a key record is the caller's
 * (later asynchronous) business.
 *
 * Signing (dkim_signer_*): relaxed/relaxed, the header fields RFC 6376
 * 5.4.1 recommends that are present, From signed once more than it
 * appears (so none can be added), t= but never l=.  RSA keys of 2048 to
 * 8192 bits; keygen makes 2048.
 *
 * Verification (dkim_verifier_*): every DKIM-Signature field up to a
 * limit, each checked against the key record the caller looked up for its
 * selector and domain.  Errors are results, not failures: a malformed
 * signature is DKIM_PERMERROR with a reason.  A signature with l= covers
 * only part of the body: the result says how much more there was
 * (partial), so nothing beyond l= is taken as signed.
 *
 * Every function that can fail returns -1 and a static error text; memory
 * is bounded by the limits (header section, signatures, h= names).
 */
#ifndef OWL_DKIM_H
#define OWL_DKIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/buf.h"

enum dkim_algo { DKIM_RSA_SHA256, DKIM_ED25519_SHA256 };

#define DKIM_SIGN_RSA_BITS 2048	/* what keygen makes */
#define DKIM_RSA_MIN_BITS 1024	/* verify: RFC 8301 3.2 */
#define DKIM_RSA_MAX_BITS 8192
#define DKIM_SIGN_RSA_MIN_BITS 2048
#define DKIM_HEADERS_MAX (256 * 1024) /* a header section we sign or check */
#define DKIM_FIELDS_MAX 1000	/* header fields in it */
#define DKIM_SIGS_MAX 5		/* signatures checked per message */
#define DKIM_H_MAX 64		/* names in a signature's h= */
#define DKIM_DOMAIN_MAX 253
#define DKIM_SELECTOR_MAX 63

/* --- keys ---------------------------------------------------------- */

struct dkim_key;

/*
 * A private key for signing from PEM text (PKCS#8 or traditional RSA):
 * Ed25519, or RSA of DKIM_SIGN_RSA_MIN_BITS to DKIM_RSA_MAX_BITS.
 */
int dkim_key_private(const char *pem, size_t len, struct dkim_key **key_r,
		     const char **error_r);
/* A new private key: Ed25519, or RSA of DKIM_SIGN_RSA_BITS. */
int dkim_key_generate(enum dkim_algo algo, struct dkim_key **key_r,
		      const char **error_r);
/* The key as PEM (PKCS#8) text, appended to out. */
int dkim_key_pem(const struct dkim_key *key, struct buf *out);
/* The DNS TXT record text for it: "v=DKIM1; k=...; p=...". */
int dkim_key_record(const struct dkim_key *key, struct buf *out);
enum dkim_algo dkim_key_algo(const struct dkim_key *key);
unsigned dkim_key_bits(const struct dkim_key *key);
void dkim_key_free(struct dkim_key **key);
/*
 * Drops the public keys kept from records (dkim_key.c's cache of parsed
 * keys, shared by threads); for a clean exit and for tests.
 */
void dkim_key_cache_clear(void);

/* --- signing ------------------------------------------------------- */

struct dkim_signer;

/*
 * A signature by key for domain d= and selector s=, dated now (t=), over
 * the header section hdr (hlen octets, up to the empty line or the whole
 * of it; LF or CRLF ends); the body follows with dkim_signer_body().
 * NULL with *error_r if the header section cannot be signed (no From,
 * over DKIM_HEADERS_MAX, a line that is not a field).
 */
struct dkim_signer *dkim_signer_new(const struct dkim_key *key,
				    const char *domain, const char *selector,
				    int64_t now, const char *hdr, size_t hlen,
				    const char **error_r);
void dkim_signer_body(struct dkim_signer *s, const char *p, size_t len);
/*
 * Appends the DKIM-Signature field, folded, with LF line ends (as owlpost
 * stores a message), to out; it goes before the signed header section.
 */
int dkim_signer_finish(struct dkim_signer *s, struct buf *out,
		       const char **error_r);
void dkim_signer_free(struct dkim_signer **s);

/*
 * The domain of the (first) From field's address in hdr, lower case, into
 * out; -1 if there is no From or no address with a domain in it.
 */
int dkim_from_domain(const char *hdr, size_t hlen, char *out, size_t size);

/* --- verification -------------------------------------------------- */

enum dkim_result {
	DKIM_PASS,
	DKIM_FAIL,	/* the hashes or the signature do not match */
	DKIM_PERMERROR,	/* malformed, unknown algorithm, bad or no key */
	DKIM_TEMPERROR,	/* set by the caller when DNS failed */
	DKIM_NOT_CHECKED /* over the limit of signatures */
};

struct dkim_verify_limits {
	unsigned max_sigs;	/* DKIM_SIGS_MAX */
	unsigned rsa_min_bits, rsa_max_bits;
	unsigned max_h;		/* names in h= */
};

struct dkim_sig_result {
	enum dkim_result res;
	const char *why;	/* static text for FAIL/PERMERROR, else "" */
	enum dkim_algo algo;
	unsigned bits;
	char domain[DKIM_DOMAIN_MAX + 1];	/* d= ("" if unreadable) */
	char selector[DKIM_SELECTOR_MAX + 1];	/* s= */
	bool testing;		/* the key record has t=y */
	bool has_l;		/* l= present ... */
	uint64_t l;		/* its value */
	uint64_t body_len;	/* the canonical body's length */
	bool partial;		/* body_len > l: the tail is not signed */
};

struct dkim_verifier;

/*
 * A verifier for one message whose header section is hdr (as for
 * dkim_signer_new), checked at time now (x=).  lim NULL: the defaults.
 * NULL with *error_r only when the header section cannot be read; a
 * message without signatures gives a verifier with none.
 */
struct dkim_verifier *dkim_verifier_new(const struct dkim_verify_limits *lim,
					const char *hdr, size_t hlen,
					int64_t now, const char **error_r);
void dkim_verifier_body(struct dkim_verifier *v, const char *p, size_t len);
/* The body is complete: the body hashes are computed. */
void dkim_verifier_finish(struct dkim_verifier *v);
/* The signatures found (up to the limit, and those past it). */
size_t dkim_verifier_count(const struct dkim_verifier *v);
/*
 * Signature i's domain and selector, for the key lookup at
 * SELECTOR._domainkey.DOMAIN; false if the signature is already decided
 * (malformed, over the limit): then no lookup is needed.
 */
bool dkim_verifier_query(const struct dkim_verifier *v, size_t i,
			 const char **domain, const char **selector);
/*
 * Checks signature i against the key record text (the TXT strings joined;
 * NULL: there is none, a PERMERROR) and fills *r.
 */
void dkim_verifier_check(struct dkim_verifier *v, size_t i,
			 const char *record, size_t rlen,
			 struct dkim_sig_result *r);
void dkim_verifier_free(struct dkim_verifier **v);

const char *dkim_result_name(enum dkim_result r);
const char *dkim_algo_name(enum dkim_algo a);

#endif
