/*
 * resolve - one DNS question (A, AAAA, MX, TXT, PTR: msgauth/dnsq.h)
 * answered through dns.resolver, blocking: call it on a worker thread
 * (or from owlctl).  Used by the inbound checks (SPF, DKIM keys, DMARC)
 * and owlctl doctor; the relay's MX routing is dns.h.
 *
 * A lookup is bounded in time: dns.timeout per try, dns.attempts tries
 * (per server of /etc/resolv.conf when dns.resolver is empty), so at
 * most timeout x attempts x servers.  The answer is checked before it
 * is believed: a reply, to our question (name, type, class IN), with a
 * known RCODE; a truncated reply (TC) is asked again over TCP; a CNAME
 * chain in the answer is followed from the question's name (at most
 * RESOLVE_CNAME_MAX links), records of other names are ignored.  The TTL
 * kept is the smallest of the chain and the RRset; for NXDOMAIN and
 * NODATA it is the SOA's (the smaller of its TTL and MINIMUM field, RFC
 * 2308 5) from the authority section, 0 (not to be cached) without one.
 *
 * Every failure is DNSQ_TEMP with a reason: no answer in time, SERVFAIL,
 * REFUSED, an answer that is malformed, mismatched or holds a TXT record
 * over DNSQ_TXT_MAX.  Never a permanent verdict from a broken answer.
 */
#ifndef OWL_RESOLVE_H
#define OWL_RESOLVE_H

#include <netinet/in.h>
#include <resolv.h>
#include <stddef.h>

#include "../lib/conf.h"
#include "../msgauth/dnsq.h"
#include "dnscache.h"

#define RESOLVE_CNAME_MAX 8	/* CNAME links followed in one answer */
#define RESOLVE_PTR_NAME_MAX 73	/* 32 nibbles "x." + "ip6.arpa" + NUL */

struct resolve_opts {
	const char *resolver;	/* "" (the system's) or ip[:port] */
	unsigned timeout;	/* seconds per try */
	unsigned attempts;	/* tries per server */
};

/* The options of a configuration (dns.resolver, dns.timeout, ...); the
 * strings stay c's. */
void resolve_opts_conf(struct resolve_opts *o, const struct conf *c);

/*
 * A resolver state aimed at o's server, with o's timeout and attempts,
 * for res_nsend; -1 if res_ninit fails or the resolver is not ip[:port].
 * The caller res_nclose()s it.
 */
int resolve_setup(res_state st, const struct resolve_opts *o);

/*
 * Parses pkt, len octets, as the answer to q into a (emptied first):
 * 0 and a->status set (OK with n >= 1 records, NODATA, NXDOMAIN, TEMP
 * for SERVFAIL and other RCODEs) with its TTL; 1 if the reply is
 * truncated (ask again over TCP); -1 if it is not an answer to q or is
 * malformed (a is then empty, DNSQ_TEMP), why saying which.
 */
int resolve_parse(const struct dnsq_question *q, const unsigned char *pkt,
		  size_t len, struct dnsq_answer *a, const char **why);

/*
 * Looks q up: from cache (may be NULL) if it holds a live answer, else
 * from the server (then put in the cache, unless TEMP).  The status, with
 * *a filled (the caller frees it: dnsq_answer_free); for DNSQ_TEMP, err
 * says why.  Blocking, thread-safe.
 */
enum dnsq_status resolve_lookup(struct dnscache *cache,
				const struct resolve_opts *o,
				const struct dnsq_question *q,
				struct dnsq_answer *a, char *err,
				size_t errsz);

/*
 * The question of type t for name: lower case, a trailing dot dropped;
 * -1 if the name is empty or longer than DNSQ_NAME_MAX.
 */
int resolve_question(struct dnsq_question *q, enum dnsq_type t,
		     const char *name);

/*
 * The PTR name of an address: family AF_INET (4 octets at addr,
 * "4.3.2.1.in-addr.arpa") or AF_INET6 (16, nibbles under "ip6.arpa"),
 * into out (RESOLVE_PTR_NAME_MAX is enough); -1 for another family or if
 * out is too small.  resolve_ptr_name_text takes the address as text.
 */
int resolve_ptr_name(int family, const void *addr, char *out, size_t size);
int resolve_ptr_name_text(const char *ip, char *out, size_t size);

#endif
