/*
 * dns - see dns.h.
 */
#include "dns.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"
#include "../lib/conf.h"
#include "resolve.h"

#define MX_MAX DNS_MX_MAX
#define TARGETS_MAX 32

/*
 * One lookup of name's records of type t, through resolve_lookup (its
 * checks of the answer, CNAME chains, TCP after truncation), without a
 * cache: the relay asks once per delivery attempt.  The answer into *a
 * (freed by the caller); DNS_OK also for NODATA, with *nodata.
 */
static enum dns_res
query(const struct resolve_opts *o, const char *name, enum dnsq_type t,
      struct dnsq_answer *a, bool *nodata, char *err, size_t errsz)
{
	struct dnsq_question q;

	*nodata = false;
	if (resolve_question(&q, t, name) == -1) {
		memset(a, 0, sizeof(*a));
		snprintf(err, errsz, "%.300s: not a domain name", name);
		return DNS_PERM;
	}
	switch (resolve_lookup(NULL, o, &q, a, err, errsz)) {
	case DNSQ_OK:
		return DNS_OK;
	case DNSQ_NODATA:
		*nodata = true;
		return DNS_OK;
	case DNSQ_NXDOMAIN:
		snprintf(err, errsz, "%s: domain not found", name);
		return DNS_PERM;
	case DNSQ_TEMP:
		break;
	}
	return DNS_TEMP;
}

struct mx_list {
	struct dns_mx mx[MX_MAX];
	size_t n;
};

/* An MX answer's records (at most MX_MAX) into l. */
static void
mx_list_fill(struct mx_list *l, const struct dnsq_answer *a)
{
	for (size_t i = 0; i < a->n && l->n < MX_MAX; i++) {
		l->mx[l->n].pref = a->rr[i].pref;
		snprintf(l->mx[l->n].host, sizeof(l->mx[l->n].host), "%s",
			 a->rr[i].text);
		l->n++;
	}
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

/* An A or AAAA answer's addresses into l. */
static void
add_answer(struct addr_list *l, const struct dnsq_answer *a, int family)
{
	for (size_t i = 0; i < a->n; i++)
		add_target(l, family, a->rr[i].addr);
}

/* Addresses of one host into l; the result of the lookup. */
static enum dns_res
host_addrs(const struct resolve_opts *o, struct addr_list *l, char *err,
	   size_t errsz)
{
	struct dnsq_answer ans;
	unsigned char a[16];
	size_t before = l->n;
	enum dns_res r4, r6;
	bool nodata;

	memset(&ans, 0, sizeof(ans));
	if (inet_pton(AF_INET, l->host, a) == 1) {
		add_target(l, AF_INET, a);
		return DNS_OK;
	}
	if (inet_pton(AF_INET6, l->host, a) == 1) {
		add_target(l, AF_INET6, a);
		return DNS_OK;
	}
	if (o->resolver[0] == '\0') {
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
	r4 = query(o, l->host, DNSQ_A, &ans, &nodata, err, errsz);
	add_answer(l, &ans, AF_INET);
	dnsq_answer_free(&ans);
	r6 = query(o, l->host, DNSQ_AAAA, &ans, &nodata, err, errsz);
	add_answer(l, &ans, AF_INET6);
	dnsq_answer_free(&ans);
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
dns_targets(const struct resolve_opts *o, const char *name, bool mx,
	    unsigned port, struct dns_target **out, size_t *n, char *err,
	    size_t errsz)
{
	struct mx_list mxl = {.n = 0};
	struct addr_list l = {.port = port};
	enum dns_res r = DNS_OK, last = DNS_PERM;
	struct dnsq_answer ans;
	bool nodata = false;

	*out = NULL;
	*n = 0;
	l.t = xcalloc(TARGETS_MAX, sizeof(*l.t));
	if (mx) {
		r = query(o, name, DNSQ_MX, &ans, &nodata, err, errsz);
		mx_list_fill(&mxl, &ans);
		dnsq_answer_free(&ans);
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
		hr = host_addrs(o, &l, err, errsz);
		if (hr == DNS_TEMP)
			last = DNS_TEMP;
	}
	r = l.n > 0 ? DNS_OK : last;
out:
	if (r != DNS_OK) {
		free(l.t);
		return r;
	}
	*out = l.t;
	*n = l.n;
	return DNS_OK;
}
