/*
 * dnsq - a DNS question and its answer, as the sans-I/O checks (SPF,
 * DKIM keys, DMARC) ask them and the resolver (relay/dns.h) answers them.
 * Pure data: no socket, no parser of the wire format here.  A check core
 * hands out a struct dnsq_question, its caller looks it up (blocking on a
 * worker thread, from a cache, or from a test's table) and feeds back a
 * struct dnsq_answer.
 *
 * RFC 7208 4.4 and RFC 6376 3.6.2.2 split failures the same way: the name
 * does not exist or has no record of the type (NXDOMAIN, NODATA: a "void"
 * lookup for SPF), or the lookup itself failed (TEMP: timeout, SERVFAIL),
 * which never turns into a permanent verdict.
 */
#ifndef OWL_DNSQ_H
#define OWL_DNSQ_H

#include <stddef.h>
#include <stdint.h>

#define DNSQ_NAME_MAX 253	/* a domain name in text, no trailing dot */
#define DNSQ_RRS_MAX 64		/* records kept of one answer */
#define DNSQ_TXT_MAX 8192	/* one TXT record, its strings joined */

enum dnsq_type {
	DNSQ_A = 1,
	DNSQ_PTR = 12,
	DNSQ_MX = 15,
	DNSQ_TXT = 16,
	DNSQ_AAAA = 28,
};

enum dnsq_status {
	DNSQ_OK,	/* n >= 1 records of the type */
	DNSQ_NODATA,	/* the name exists, no record of the type */
	DNSQ_NXDOMAIN,	/* the name does not exist */
	DNSQ_TEMP,	/* timeout, SERVFAIL, a broken answer: try later */
};

struct dnsq_question {
	enum dnsq_type type;
	char name[DNSQ_NAME_MAX + 1];	/* lower case, no trailing dot */
};

struct dnsq_rr {
	unsigned char addr[16];	/* A: 4 octets, AAAA: 16 (network order) */
	unsigned pref;		/* MX */
	char *text;		/* TXT: the strings joined (NUL-ended, len
				   octets, may hold a NUL); MX, PTR: the host
				   name, lower case, no trailing dot */
	size_t len;
};

struct dnsq_answer {
	enum dnsq_status status;
	uint32_t ttl;		/* seconds it may be kept (cache) */
	size_t n;		/* records, at most DNSQ_RRS_MAX */
	struct dnsq_rr *rr;
};

/* Frees what an answer holds and leaves it empty (status DNSQ_TEMP). */
void dnsq_answer_free(struct dnsq_answer *a);
/* A deep copy of a into *to; -1 (to empty) when out of memory. */
int dnsq_answer_copy(struct dnsq_answer *to, const struct dnsq_answer *a);
/* Appends one record (text may be NULL for A/AAAA); -1 when full/no memory. */
int dnsq_answer_add(struct dnsq_answer *a, const unsigned char *addr,
		    size_t alen, unsigned pref, const char *text, size_t len);
const char *dnsq_type_name(enum dnsq_type t);

#endif
