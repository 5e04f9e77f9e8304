/*
 * dns - see dns.h.
 */
#include "dns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <limits.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"
#include "../lib/conf.h"

#define MX_MAX DNS_MX_MAX
#define TARGETS_MAX 32

/* A resolver state aimed at resolver ("" = the system's). */
static int
res_setup(res_state st, const char *resolver)
{
	char ip[64];
	unsigned port;
	struct in_addr a;

	memset(st, 0, sizeof(*st));
	if (res_ninit(st) == -1)
		return -1;
	st->retrans = 2;
	st->retry = 2;
	if (resolver[0] == '\0')
		return 0;
	if (conf_hostport(resolver, 53, ip, sizeof(ip), &port) == -1 ||
	    inet_pton(AF_INET, ip, &a) != 1)
		return -1;
	st->nscount = 1;
	memset(&st->nsaddr_list[0], 0, sizeof(st->nsaddr_list[0]));
	st->nsaddr_list[0].sin_family = AF_INET;
	st->nsaddr_list[0].sin_port = htons((unsigned short)port);
	st->nsaddr_list[0].sin_addr = a;
	return 0;
}

/* Hands the answer's records of type t to fn; how many, or -1. */
static int
parse_answer(const unsigned char *ans, size_t len, int t,
	     void (*fn)(ns_msg *m, ns_rr *rr, void *arg), void *arg)
{
	ns_msg m;
	int count = 0;

	if (len > INT_MAX || ns_initparse(ans, (int)len, &m) == -1)
		return -1;
	for (int i = 0; i < ns_msg_count(m, ns_s_an); i++) {
		ns_rr rr;

		if (ns_parserr(&m, ns_s_an, i, &rr) == -1)
			break;
		if ((int)ns_rr_type(rr) == t) {
			fn(&m, &rr, arg);
			count++;
		}
	}
	return count;
}

/*
 * One query; the answer's records of type t are handed to fn.  Returns
 * DNS_OK with *nodata when the name exists without such records.
 */
static enum dns_res
query(res_state st, const char *name, int t,
      void (*fn)(ns_msg *m, ns_rr *rr, void *arg), void *arg, bool *nodata,
      char *err, size_t errsz)
{
	unsigned char ans[NS_PACKETSZ * 4];
	int len, count;

	*nodata = false;
	len = res_nquery(st, name, ns_c_in, t, ans, sizeof(ans));
	if (len < 0) {
		switch (st->res_h_errno) {
		case HOST_NOT_FOUND:
			snprintf(err, errsz, "%s: domain not found", name);
			return DNS_PERM;
		case NO_DATA:
			*nodata = true;
			return DNS_OK;
		default:
			snprintf(err, errsz, "%s: DNS lookup failed (%s)",
				 name, hstrerror(st->res_h_errno));
			return DNS_TEMP;
		}
	}
	if ((count = parse_answer(ans, (size_t)len, t, fn, arg)) == -1) {
		snprintf(err, errsz, "%s: malformed DNS answer", name);
		return DNS_TEMP;
	}
	*nodata = count == 0;
	return DNS_OK;
}

struct mx_list {
	struct dns_mx mx[MX_MAX];
	size_t n;
};

static void
mx_cb(ns_msg *m, ns_rr *rr, void *arg)
{
	struct mx_list *l = arg;
	const unsigned char *rd = ns_rr_rdata(*rr);

	if (l->n == MX_MAX || ns_rr_rdlen(*rr) < 3)
		return;
	l->mx[l->n].pref = ns_get16(rd);
	if (dn_expand(ns_msg_base(*m), ns_msg_end(*m), rd + 2,
		      l->mx[l->n].host, sizeof(l->mx[l->n].host)) < 0)
		return;
	l->n++;
}

int
dns_parse_mx(const unsigned char *pkt, size_t len, struct dns_mx *mx,
	     size_t *n)
{
	struct mx_list l = {.n = 0};

	if (parse_answer(pkt, len, ns_t_mx, mx_cb, &l) == -1)
		return -1;
	memcpy(mx, l.mx, l.n * sizeof(*mx));
	*n = l.n;
	return 0;
}

struct addr_list {
	struct dns_target *t;
	size_t n;
	const char *host;
	unsigned port;
};

static void
add_target(struct addr_list *l, int family, const void *addr)
{
	struct dns_target *t;

	if (l->n == TARGETS_MAX)
		return;
	t = &l->t[l->n++];
	memset(t, 0, sizeof(*t));
	snprintf(t->host, sizeof(t->host), "%s", l->host);
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)(void *)&t->sa;

		s->sin_family = AF_INET;
		s->sin_port = htons((unsigned short)l->port);
		memcpy(&s->sin_addr, addr, 4);
		t->salen = sizeof(*s);
	} else {
		struct sockaddr_in6 *s =
			(struct sockaddr_in6 *)(void *)&t->sa;

		s->sin6_family = AF_INET6;
		s->sin6_port = htons((unsigned short)l->port);
		memcpy(&s->sin6_addr, addr, 16);
		t->salen = sizeof(*s);
	}
}

static void
a_cb(ns_msg *m, ns_rr *rr, void *arg)
{
	(void)m;
	if (ns_rr_rdlen(*rr) == 4)
		add_target(arg, AF_INET, ns_rr_rdata(*rr));
}

static void
aaaa_cb(ns_msg *m, ns_rr *rr, void *arg)
{
	(void)m;
	if (ns_rr_rdlen(*rr) == 16)
		add_target(arg, AF_INET6, ns_rr_rdata(*rr));
}

/* Addresses of one host into l; the result of the lookup. */
static enum dns_res
host_addrs(res_state st, const char *resolver, struct addr_list *l,
	   char *err, size_t errsz)
{
	unsigned char a[16];
	size_t before = l->n;
	enum dns_res r4, r6;
	bool nodata;

	if (inet_pton(AF_INET, l->host, a) == 1) {
		add_target(l, AF_INET, a);
		return DNS_OK;
	}
	if (inet_pton(AF_INET6, l->host, a) == 1) {
		add_target(l, AF_INET6, a);
		return DNS_OK;
	}
	if (resolver[0] == '\0') {
		struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *p;
		int e = getaddrinfo(l->host, NULL, &hints, &res);

		if (e != 0) {
			snprintf(err, errsz, "%s: %s", l->host,
				 gai_strerror(e));
			return e == EAI_NONAME ? DNS_PERM : DNS_TEMP;
		}
		for (p = res; p != NULL; p = p->ai_next) {
			if (p->ai_family == AF_INET)
				add_target(l, AF_INET,
					   &((struct sockaddr_in *)(void *)
						     p->ai_addr)->sin_addr);
			else if (p->ai_family == AF_INET6)
				add_target(l, AF_INET6,
					   &((struct sockaddr_in6 *)(void *)
						     p->ai_addr)->sin6_addr);
		}
		freeaddrinfo(res);
		return DNS_OK;
	}
	r4 = query(st, l->host, ns_t_a, a_cb, l, &nodata, err, errsz);
	r6 = query(st, l->host, ns_t_aaaa, aaaa_cb, l, &nodata, err, errsz);
	if (l->n > before)
		return DNS_OK;
	if (r4 == DNS_PERM || r6 == DNS_PERM)
		return DNS_PERM;
	if (r4 == DNS_OK && r6 == DNS_OK) {
		snprintf(err, errsz, "%s: no address", l->host);
		return DNS_PERM;
	}
	return DNS_TEMP;
}

static int
by_pref(const void *a, const void *b)
{
	const struct dns_mx *x = a, *y = b;

	return (x->pref > y->pref) - (x->pref < y->pref);
}

enum dns_res
dns_targets(const char *resolver, const char *name, bool mx, unsigned port,
	    struct dns_target **out, size_t *n, char *err, size_t errsz)
{
	struct __res_state st;
	struct mx_list mxl = {.n = 0};
	struct addr_list l = {.port = port};
	enum dns_res r = DNS_OK, last = DNS_PERM;
	bool nodata = false;

	*out = NULL;
	*n = 0;
	if (res_setup(&st, resolver) == -1) {
		snprintf(err, errsz, "cannot set up the resolver");
		return DNS_TEMP;
	}
	l.t = xcalloc(TARGETS_MAX, sizeof(*l.t));
	if (mx) {
		r = query(&st, name, ns_t_mx, mx_cb, &mxl, &nodata, err,
			  errsz);
		if (r != DNS_OK)
			goto out;
		if (mxl.n == 0) { /* implicit MX: the domain itself */
			mxl.n = 1;
			mxl.mx[0].pref = 0;
			snprintf(mxl.mx[0].host, sizeof(mxl.mx[0].host), "%s",
				 name);
		} else if (mxl.n == 1 && mxl.mx[0].host[0] == '\0') {
			snprintf(err, errsz, "%s: null MX, the domain accepts "
				 "no mail", name);
			r = DNS_PERM;
			goto out;
		}
		qsort(mxl.mx, mxl.n, sizeof(mxl.mx[0]), by_pref);
	} else {
		mxl.n = 1;
		snprintf(mxl.mx[0].host, sizeof(mxl.mx[0].host), "%s", name);
	}
	for (size_t i = 0; i < mxl.n; i++) {
		enum dns_res hr;

		if (mxl.mx[i].host[0] == '\0')
			continue;
		l.host = mxl.mx[i].host;
		hr = host_addrs(&st, resolver, &l, err, errsz);
		if (hr == DNS_TEMP)
			last = DNS_TEMP;
	}
	r = l.n > 0 ? DNS_OK : last;
out:
	res_nclose(&st);
	if (r != DNS_OK) {
		free(l.t);
		return r;
	}
	*out = l.t;
	*n = l.n;
	return DNS_OK;
}
