/*
 * resolve - see resolve.h.  The query goes out with res_nmkquery and
 * res_nsend (not res_nquery, which hides the answer of an NXDOMAIN and
 * with it the SOA that says how long the answer may be kept); the reply
 * is read with libresolv's ns_* parser, whose bounds checks we rely on,
 * and checked here against the question.
 */
#include "resolve.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/buf.h"

#define ANSWER_MAX 65536	/* a DNS message over TCP */
#define TTL_MAX 0x7fffffffU	/* RFC 2181 8: higher reads as 0 */

void
resolve_opts_conf(struct resolve_opts *o, const struct conf *c)
{
	o->resolver = c->dns_resolver;
	o->timeout = c->dns_timeout;
	o->attempts = c->dns_attempts;
}

int
resolve_setup(res_state st, const struct resolve_opts *o)
{
	char ip[64];
	unsigned port;
	struct in_addr a;

	memset(st, 0, sizeof(*st));
	if (res_ninit(st) == -1)
		return -1;
	st->retrans = (int)o->timeout;
	st->retry = (int)o->attempts;
	if (o->resolver[0] == '\0')
		return 0;
	if (conf_hostport(o->resolver, 53, ip, sizeof(ip), &port) == -1 ||
	    inet_pton(AF_INET, ip, &a) != 1) {
		res_nclose(st);
		return -1;
	}
	st->nscount = 1;
	memset(&st->nsaddr_list[0], 0, sizeof(st->nsaddr_list[0]));
	st->nsaddr_list[0].sin_family = AF_INET;
	st->nsaddr_list[0].sin_port = htons((unsigned short)port);
	st->nsaddr_list[0].sin_addr = a;
	return 0;
}

/* A name as parsed: lower case, no trailing dot (the root is ""). */
static void
norm_name(char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < n; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char)(s[i] + 32);
	if (n > 0 && s[n - 1] == '.' && (n == 1 || s[n - 2] != '\\'))
		s[n - 1] = '\0';
}

static uint32_t
rr_ttl(const ns_rr *rr)
{
	unsigned long t = ns_rr_ttl(*rr);

	return t > TTL_MAX ? 0 : (uint32_t)t;
}

/* The name at rdata offset off of rr into out, normalized; -1 if bad. */
static int
rdata_name(const ns_msg *m, const ns_rr *rr, size_t off, char *out,
	   size_t size)
{
	const unsigned char *rd = ns_rr_rdata(*rr);

	if (off >= ns_rr_rdlen(*rr) ||
	    dn_expand(ns_msg_base(*m), rd + ns_rr_rdlen(*rr), rd + off, out,
		      (int)size) < 0)
		return -1;
	norm_name(out);
	return 0;
}

/* A TXT record's character-strings joined into a->rr; -1 if bad. */
static int
add_txt(struct dnsq_answer *a, const ns_rr *rr)
{
	const unsigned char *rd = ns_rr_rdata(*rr);
	size_t rdlen = ns_rr_rdlen(*rr), len = 0;
	char *text;
	int rc;

	if (rdlen == 0)
		return -1;
	text = xmalloc(rdlen);
	for (size_t i = 0; i < rdlen; i += 1 + rd[i]) {
		if (rd[i] > rdlen - i - 1) {
			free(text);
			return -1;
		}
		memcpy(text + len, rd + i + 1, rd[i]);
		len += rd[i];
	}
	rc = len > DNSQ_TXT_MAX ? -1 : 0;
	if (rc == 0 && dnsq_answer_add(a, NULL, 0, 0, text, len) == -1)
		rc = a->n >= DNSQ_RRS_MAX ? 0 : -1; /* past the cap: not kept */
	free(text);
	return rc;
}

/* One record of the question's type into a; -1 if its data is bad. */
static int
add_rr(struct dnsq_answer *a, const ns_msg *m, const ns_rr *rr)
{
	char host[NS_MAXDNAME];
	const unsigned char *rd = ns_rr_rdata(*rr);
	size_t rdlen = ns_rr_rdlen(*rr);
	unsigned pref = 0;

	switch (ns_rr_type(*rr)) {
	case ns_t_a:
	case ns_t_aaaa:
		if (rdlen != (ns_rr_type(*rr) == ns_t_a ? 4u : 16u))
			return -1;
		(void)dnsq_answer_add(a, rd, rdlen, 0, NULL, 0);
		return 0;
	case ns_t_txt:
		return add_txt(a, rr);
	case ns_t_mx:
		if (rdlen < 3)
			return -1;
		pref = ns_get16(rd);
		if (rdata_name(m, rr, 2, host, sizeof(host)) == -1)
			return -1;
		break;
	case ns_t_ptr:
		if (rdata_name(m, rr, 0, host, sizeof(host)) == -1)
			return -1;
		break;
	default:
		return 0;
	}
	(void)dnsq_answer_add(a, NULL, 0, pref, host, strlen(host));
	return 0;
}

/* The message's one question is q (name, type, class IN). */
static bool
question_matches(ns_msg *m, const struct dnsq_question *q)
{
	char name[NS_MAXDNAME];
	ns_rr rr;

	if (ns_msg_count(*m, ns_s_qd) != 1 ||
	    ns_parserr(m, ns_s_qd, 0, &rr) == -1 ||
	    ns_rr_type(rr) != (ns_type)q->type || ns_rr_class(rr) != ns_c_in)
		return false;
	snprintf(name, sizeof(name), "%s", ns_rr_name(rr));
	norm_name(name);
	return strcasecmp(name, q->name) == 0;
}

/*
 * Follows the CNAME chain from q's name through the answer section: the
 * name the records are at into cur; the chain's smallest TTL into *ttl.
 * -1 if the chain is too long or a CNAME's target is unreadable.
 */
static int
follow_cnames(ns_msg *m, const struct dnsq_question *q, char *cur,
	      size_t size, uint32_t *ttl)
{
	int n = ns_msg_count(*m, ns_s_an);
	bool moved = true;

	snprintf(cur, size, "%s", q->name);
	for (int hops = 0; moved; hops++) {
		moved = false;
		for (int i = 0; i < n && !moved; i++) {
			char owner[NS_MAXDNAME];
			ns_rr rr;

			if (ns_parserr(m, ns_s_an, i, &rr) == -1)
				return -1;
			if (ns_rr_type(rr) != ns_t_cname ||
			    ns_rr_class(rr) != ns_c_in)
				continue;
			snprintf(owner, sizeof(owner), "%s", ns_rr_name(rr));
			norm_name(owner);
			if (strcasecmp(owner, cur) != 0)
				continue;
			if (hops == RESOLVE_CNAME_MAX ||
			    rdata_name(m, &rr, 0, cur, size) == -1)
				return -1;
			if (rr_ttl(&rr) < *ttl)
				*ttl = rr_ttl(&rr);
			moved = true;
		}
	}
	return 0;
}

/* The records of q's type at name into a, their smallest TTL into *ttl. */
static int
collect(ns_msg *m, const struct dnsq_question *q, const char *name,
	struct dnsq_answer *a, uint32_t *ttl)
{
	for (int i = 0; i < ns_msg_count(*m, ns_s_an); i++) {
		char owner[NS_MAXDNAME];
		ns_rr rr;

		if (ns_parserr(m, ns_s_an, i, &rr) == -1)
			return -1;
		if (ns_rr_type(rr) != (ns_type)q->type ||
		    ns_rr_class(rr) != ns_c_in)
			continue;
		snprintf(owner, sizeof(owner), "%s", ns_rr_name(rr));
		norm_name(owner);
		if (strcasecmp(owner, name) != 0)
			continue;
		if (add_rr(a, m, &rr) == -1)
			return -1;
		if (rr_ttl(&rr) < *ttl)
			*ttl = rr_ttl(&rr);
	}
	return 0;
}

/* A negative answer's TTL: the SOA of the authority section (RFC 2308
 * 5), or 0 without one. */
static uint32_t
negative_ttl(ns_msg *m)
{
	for (int i = 0; i < ns_msg_count(*m, ns_s_ns); i++) {
		const unsigned char *rd, *end;
		uint32_t min, ttl;
		int k;
		ns_rr rr;

		if (ns_parserr(m, ns_s_ns, i, &rr) == -1)
			return 0;
		if (ns_rr_type(rr) != ns_t_soa)
			continue;
		rd = ns_rr_rdata(rr);
		end = rd + ns_rr_rdlen(rr);
		for (k = 0; k < 2; k++) { /* MNAME, RNAME */
			int skip = dn_skipname(rd, end);

			if (skip < 0)
				return 0;
			rd += skip;
		}
		if (end - rd != 20)
			return 0;
		min = ns_get32(rd + 16);
		ttl = rr_ttl(&rr);
		min = min > TTL_MAX ? 0 : min;
		return min < ttl ? min : ttl;
	}
	return 0;
}

static int
parse_fail(struct dnsq_answer *a, const char **why, const char *text)
{
	dnsq_answer_free(a);
	*why = text;
	return -1;
}

int
resolve_parse(const struct dnsq_question *q, const unsigned char *pkt,
	      size_t len, struct dnsq_answer *a, const char **why)
{
	char name[NS_MAXDNAME];
	uint32_t ttl = TTL_MAX;
	ns_msg m;
	int rcode;

	memset(a, 0, sizeof(*a));
	a->status = DNSQ_TEMP;
	*why = "";
	if (len > INT_MAX || ns_initparse(pkt, (int)len, &m) == -1)
		return parse_fail(a, why, "malformed DNS answer");
	if (!ns_msg_getflag(m, ns_f_qr) || ns_msg_getflag(m, ns_f_opcode) != 0)
		return parse_fail(a, why, "not a DNS answer");
	if (ns_msg_getflag(m, ns_f_tc))
		return 1;
	if (!question_matches(&m, q))
		return parse_fail(a, why, "DNS answer to another question");
	rcode = ns_msg_getflag(m, ns_f_rcode);
	if (rcode != ns_r_noerror && rcode != ns_r_nxdomain) {
		*why = rcode == ns_r_servfail ? "SERVFAIL"
		       : rcode == ns_r_refused ? "REFUSED" : "DNS error";
		return 0;
	}
	if (follow_cnames(&m, q, name, sizeof(name), &ttl) == -1 ||
	    collect(&m, q, name, a, &ttl) == -1)
		return parse_fail(a, why, "malformed DNS answer");
	if (a->n > 0) {
		a->status = DNSQ_OK;
		a->ttl = ttl;
		return 0;
	}
	a->status = rcode == ns_r_nxdomain ? DNSQ_NXDOMAIN : DNSQ_NODATA;
	a->ttl = negative_ttl(&m);
	return 0;
}

/* Sends the query q over st, the answer into a; 0, or -1 with err set. */
static int
ask(res_state st, const struct dnsq_question *q, struct dnsq_answer *a,
    char *err, size_t errsz)
{
	unsigned char qbuf[NS_PACKETSZ], *ans = xmalloc(ANSWER_MAX);
	const char *why = "truncated DNS answer, even over TCP";
	int qlen, len, r = 1;

	qlen = res_nmkquery(st, ns_o_query, q->name, ns_c_in, (int)q->type,
			    NULL, 0, NULL, qbuf, sizeof(qbuf));
	for (int tcp = 0; qlen > 0 && tcp < 2 && r == 1; tcp++) {
		if (tcp) /* glibc retries over TCP itself; if not, we do */
			st->options |= RES_USEVC;
		len = res_nsend(st, qbuf, qlen, ans, ANSWER_MAX);
		if (len < 0) {
			snprintf(err, errsz, "%s %s: no answer from the DNS "
				 "server (%s)", dnsq_type_name(q->type),
				 q->name, strerror(errno));
			free(ans);
			return -1;
		}
		r = resolve_parse(q, ans, len < ANSWER_MAX ? (size_t)len
							   : ANSWER_MAX,
				  a, &why);
	}
	free(ans);
	if (qlen < 0)
		why = "cannot make the query";
	if (r != 0 || a->status == DNSQ_TEMP) {
		dnsq_answer_free(a);
		snprintf(err, errsz, "%s %s: %s", dnsq_type_name(q->type),
			 q->name, why);
		return -1;
	}
	return 0;
}

enum dnsq_status
resolve_lookup(struct dnscache *cache, const struct resolve_opts *o,
	       const struct dnsq_question *q, struct dnsq_answer *a,
	       char *err, size_t errsz)
{
	struct __res_state st;

	memset(a, 0, sizeof(*a));
	a->status = DNSQ_TEMP;
	err[0] = '\0';
	if (dnscache_get(cache, q, a))
		return a->status;
	if (resolve_setup(&st, o) == -1) {
		snprintf(err, errsz, "cannot set up the resolver (%s)",
			 o->resolver);
		return DNSQ_TEMP;
	}
	if (ask(&st, q, a, err, errsz) == 0)
		dnscache_put(cache, q, a);
	res_nclose(&st);
	return a->status;
}

int
resolve_question(struct dnsq_question *q, enum dnsq_type t,
		 const char *name)
{
	size_t n = strlen(name);

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n > DNSQ_NAME_MAX)
		return -1;
	q->type = t;
	for (size_t i = 0; i < n; i++)
		q->name[i] = (char)(name[i] >= 'A' && name[i] <= 'Z'
					    ? name[i] + 32 : name[i]);
	q->name[n] = '\0';
	return 0;
}

int
resolve_ptr_name(int family, const void *addr, char *out, size_t size)
{
	const unsigned char *b = addr;
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (family == AF_INET)
		return bsnprintf(out, size, "%u.%u.%u.%u.in-addr.arpa", b[3],
				 b[2], b[1], b[0]) == -1 ? -1 : 0;
	if (family != AF_INET6 || size < RESOLVE_PTR_NAME_MAX)
		return -1;
	for (int i = 15; i >= 0; i--) {
		out[o++] = hex[b[i] & 0xf];
		out[o++] = '.';
		out[o++] = hex[b[i] >> 4];
		out[o++] = '.';
	}
	memcpy(out + o, "ip6.arpa", sizeof("ip6.arpa"));
	return 0;
}

int
resolve_ptr_name_text(const char *ip, char *out, size_t size)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, ip, a) == 1)
		return resolve_ptr_name(AF_INET, a, out, size);
	if (inet_pton(AF_INET6, ip, a) == 1)
		return resolve_ptr_name(AF_INET6, a, out, size);
	return -1;
}
