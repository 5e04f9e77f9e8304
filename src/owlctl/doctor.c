/*
 * owlctl doctor DOMAIN [--json] [-c FILE] - what other mail servers see
 * of DOMAIN and of this host, checked one thing at a time: the MX
 * records, the MX hosts' addresses, the PTR of the address owld sends
 * from (forward-confirmed), SPF (the record evaluated by the SPF core,
 * msgauth/spf, for this host's addresses), each DKIM key on disk against
 * its published record, DMARC (parsed by msgauth/dmarc), the TLS
 * certificate (names, dates) and an open-relay test against owld's own
 * SMTP listener.  Each check prints
 * ok, warn or FAIL, what is wrong, and the exact record (or step) that
 * fixes it; --json prints one object instead.
 *
 * Lookups go through relay/resolve (dns.resolver, dns.timeout,
 * dns.attempts), without a cache.  A lookup that fails (timeout,
 * SERVFAIL) is a FAIL of its check saying so: nothing can be told.
 * Exit status: 0 when nothing FAILs, 1 otherwise, 64 usage, 78 a bad
 * configuration (-c).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/cidr.h"
#include "../lib/conf.h"
#include "../msgauth/dkim.h"
#include "../msgauth/dmarc.h"
#include "../msgauth/spf.h"
#include "../relay/resolve.h"
#include "owlctl.h"

#define HOSTS_MAX 8		/* MX hosts, addresses looked at */
#define TEXT_MAX 8192		/* a detail or a fix */
#define KEY_FILE_MAX 65536	/* a DKIM key file (PEM) */
#define TLS_SOON_DAYS 14	/* a certificate expiring sooner: warn */
#define RELAY_TIMEOUT 10	/* seconds per reply of the relay test */
#define TXT_STRING_MAX 255

enum dstatus { DS_OK, DS_WARN, DS_FAIL };

struct dcheck {
	const char *name;
	enum dstatus status;
	char *detail, *fix;
};

struct daddr {
	int family;
	unsigned char a[16];
};

struct doctor {
	const struct conf *c;
	struct resolve_opts o;
	char domain[DNSQ_NAME_MAX + 1];
	char host[DNSQ_NAME_MAX + 1];	/* hostname: owld's HELO name */
	char mxname[DNSQ_NAME_MAX + 1];	/* the MX that is this host */
	char mx[HOSTS_MAX][DNSQ_NAME_MAX + 1];
	size_t nmx;
	struct daddr addr[HOSTS_MAX];	/* this host's: what owld sends from */
	size_t naddr;
	enum dnsq_status addr_status;
	struct dcheck *v;
	size_t n;
};

static void report(struct doctor *d, const char *name, enum dstatus st,
		   const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* --- the list of results ------------------------------------------------ */

static void
report(struct doctor *d, const char *name, enum dstatus st, const char *fix,
       const char *fmt, ...)
{
	struct dcheck *c;
	char detail[TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	d->v = xrealloc(d->v, (d->n + 1) * sizeof(*d->v));
	c = &d->v[d->n++];
	c->name = name;
	c->status = st;
	c->detail = xstrdup(detail);
	c->fix = xstrdup(fix != NULL ? fix : "");
}

static const char *
status_name(enum dstatus s, bool json)
{
	switch (s) {
	case DS_OK:
		return "ok";
	case DS_WARN:
		return "warn";
	case DS_FAIL:
		break;
	}
	return json ? "fail" : "FAIL";
}

static void
print_text(const struct doctor *d)
{
	size_t count[3] = {0, 0, 0};

	printf("owlctl doctor %s (this host: %s)\n", d->domain, d->host);
	for (size_t i = 0; i < d->n; i++) {
		const struct dcheck *c = &d->v[i];
		const char *f = c->fix;

		count[c->status]++;
		printf("%-4s  %-9s %s\n", status_name(c->status, false),
		       c->name, c->detail);
		while (*f != '\0') {
			size_t l = strcspn(f, "\n");

			printf("      fix: %.*s\n", (int)l, f);
			f += l + (f[l] == '\n');
		}
	}
	printf("%zu ok, %zu warn, %zu FAIL\n", count[DS_OK], count[DS_WARN],
	       count[DS_FAIL]);
}

static void
print_json(const struct doctor *d, bool ok)
{
	printf("{\"domain\":");
	owlctl_json_str(d->domain);
	printf(",\"host\":");
	owlctl_json_str(d->host);
	printf(",\"ok\":%s,\"checks\":[", ok ? "true" : "false");
	for (size_t i = 0; i < d->n; i++) {
		printf("%s{\"name\":", i > 0 ? "," : "");
		owlctl_json_str(d->v[i].name);
		printf(",\"status\":\"%s\",\"detail\":",
		       status_name(d->v[i].status, true));
		owlctl_json_str(d->v[i].detail);
		printf(",\"fix\":");
		owlctl_json_str(d->v[i].fix);
		printf("}");
	}
	printf("]}\n");
}

/* --- DNS ---------------------------------------------------------------- */

static enum dnsq_status
lookup(struct doctor *d, enum dnsq_type t, const char *name,
       struct dnsq_answer *a, char *err, size_t errsz)
{
	struct dnsq_question q;

	if (resolve_question(&q, t, name) == -1) {
		memset(a, 0, sizeof(*a));
		a->status = DNSQ_NXDOMAIN;
		snprintf(err, errsz, "%.300s is not a domain name", name);
		return DNSQ_NXDOMAIN;
	}
	return resolve_lookup(NULL, &d->o, &q, a, err, errsz);
}

/*
 * The A and AAAA records of name into out[0..*n) (at most max): OK if
 * any, else TEMP if a lookup failed, NXDOMAIN or NODATA.
 */
static enum dnsq_status
addresses(struct doctor *d, const char *name, struct daddr *out,
	  size_t max, size_t *n, char *err, size_t errsz)
{
	static const enum dnsq_type types[] = {DNSQ_A, DNSQ_AAAA};
	enum dnsq_status st[2];

	*n = 0;
	for (size_t t = 0; t < 2; t++) {
		struct dnsq_answer a;

		st[t] = lookup(d, types[t], name, &a, err, errsz);
		for (size_t i = 0; i < a.n && *n < max; i++) {
			out[*n].family = t == 0 ? AF_INET : AF_INET6;
			memcpy(out[*n].a, a.rr[i].addr, 16);
			(*n)++;
		}
		dnsq_answer_free(&a);
		if (st[t] == DNSQ_NXDOMAIN)
			return *n > 0 ? DNSQ_OK : DNSQ_NXDOMAIN;
	}
	if (*n > 0)
		return DNSQ_OK;
	return st[0] == DNSQ_TEMP || st[1] == DNSQ_TEMP ? DNSQ_TEMP
							: DNSQ_NODATA;
}

static const char *
addr_text(const struct daddr *a, char *out, size_t size)
{
	if (inet_ntop(a->family, a->a, out, (socklen_t)size) == NULL)
		snprintf(out, size, "?");
	return out;
}

static bool
addr_in(const struct daddr *a, const struct daddr *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (list[i].family == a->family &&
		    memcmp(list[i].a, a->a, a->family == AF_INET ? 4 : 16) ==
			    0)
			return true;
	return false;
}

/* --- MX, addresses, PTR --------------------------------------------------- */

static int
by_pref(const void *x, const void *y)
{
	const struct dnsq_rr *a = x, *b = y;

	return (a->pref > b->pref) - (a->pref < b->pref);
}

/* Is the MX host mx this host: its name, or one of its addresses? */
static bool
mx_is_us(struct doctor *d, const char *mx)
{
	struct daddr a[HOSTS_MAX];
	char err[512];
	size_t n;

	if (strcasecmp(mx, d->host) == 0)
		return true;
	if (addresses(d, mx, a, HOSTS_MAX, &n, err, sizeof(err)) != DNSQ_OK)
		return false;
	for (size_t i = 0; i < n; i++)
		if (addr_in(&a[i], d->addr, d->naddr))
			return true;
	return false;
}

static void
check_mx(struct doctor *d)
{
	char err[512], fix[1024], list[2048] = "";
	struct dnsq_answer a;
	size_t used = 0;

	snprintf(fix, sizeof(fix), "%s. IN MX 10 %s.", d->domain, d->host);
	switch (lookup(d, DNSQ_MX, d->domain, &a, err, sizeof(err))) {
	case DNSQ_TEMP:
		report(d, "mx", DS_FAIL, NULL, "cannot tell: %s", err);
		return;
	case DNSQ_NXDOMAIN:
		report(d, "mx", DS_FAIL, fix, "%s does not exist in the DNS",
		       d->domain);
		return;
	case DNSQ_NODATA:
		report(d, "mx", DS_FAIL, fix, "%s has no MX record", d->domain);
		return;
	case DNSQ_OK:
		break;
	}
	qsort(a.rr, a.n, sizeof(*a.rr), by_pref);
	if (a.n == 1 && a.rr[0].len == 0) {
		report(d, "mx", DS_FAIL, fix, "%s has a null MX (RFC 7505): it "
		       "says it takes no mail", d->domain);
		dnsq_answer_free(&a);
		return;
	}
	for (size_t i = 0; i < a.n; i++) {
		int w = snprintf(list + used, sizeof(list) - used, "%s%u %s",
				 i > 0 ? ", " : "", a.rr[i].pref,
				 a.rr[i].text);

		if (w > 0 && (size_t)w < sizeof(list) - used)
			used += (size_t)w;
		if (d->nmx < HOSTS_MAX && a.rr[i].len > 0 &&
		    a.rr[i].len <= DNSQ_NAME_MAX)
			memcpy(d->mx[d->nmx++], a.rr[i].text, a.rr[i].len + 1);
	}
	dnsq_answer_free(&a);
	for (size_t i = 0; i < d->nmx && d->mxname[0] == '\0'; i++)
		if (mx_is_us(d, d->mx[i]))
			memcpy(d->mxname, d->mx[i], strlen(d->mx[i]) + 1);
	if (d->mxname[0] != '\0')
		report(d, "mx", DS_OK, NULL, "MX %s; %s is this host", list,
		       d->mxname);
	else
		report(d, "mx", DS_FAIL, fix, "MX %s: none is this host (%s "
		       "or an address of it)", list, d->host);
}

/* The A/AAAA records of each MX host (this host's name without MX). */
static void
check_addresses(struct doctor *d)
{
	char err[512], fix[1024], list[1024], t[INET6_ADDRSTRLEN];
	size_t nhosts = d->nmx > 0 ? d->nmx : 1;

	for (size_t h = 0; h < nhosts; h++) {
		const char *host = d->nmx > 0 ? d->mx[h] : d->host;
		struct daddr a[HOSTS_MAX];
		size_t n, used = 0;

		snprintf(fix, sizeof(fix), "%s. IN A <the address of %s>",
			 host, host);
		switch (addresses(d, host, a, HOSTS_MAX, &n, err,
				  sizeof(err))) {
		case DNSQ_TEMP:
			report(d, "address", DS_FAIL, NULL, "cannot tell: %s",
			       err);
			continue;
		case DNSQ_NXDOMAIN:
		case DNSQ_NODATA:
			report(d, "address", DS_FAIL, fix, "%s has no A or "
			       "AAAA record", host);
			continue;
		case DNSQ_OK:
			break;
		}
		list[0] = '\0';
		for (size_t i = 0; i < n; i++) {
			int w = snprintf(list + used, sizeof(list) - used,
					 "%s%s", i > 0 ? ", " : "",
					 addr_text(&a[i], t, sizeof(t)));

			if (w > 0 && (size_t)w < sizeof(list) - used)
				used += (size_t)w;
		}
		report(d, "address", DS_OK, NULL, "%s has %s", host, list);
	}
}

/* One address of this host: its PTR names, one of which leads back. */
static void
check_ptr_of(struct doctor *d, const struct daddr *ad)
{
	char rev[RESOLVE_PTR_NAME_MAX], err[512], fix[1024], t[64];
	struct dnsq_answer a;
	enum dnsq_status st;
	const char *back = NULL;

	addr_text(ad, t, sizeof(t));
	if (resolve_ptr_name(ad->family, ad->a, rev, sizeof(rev)) == -1)
		return;
	snprintf(fix, sizeof(fix), "%s. IN PTR %s.\n(the reverse zone is "
		 "the address's: its provider sets it)", rev, d->host);
	st = lookup(d, DNSQ_PTR, rev, &a, err, sizeof(err));
	if (st == DNSQ_TEMP) {
		report(d, "ptr", DS_FAIL, NULL, "cannot tell: %s", err);
		return;
	}
	if (st != DNSQ_OK) {
		report(d, "ptr", DS_FAIL, fix, "%s has no PTR record: many "
		       "receivers refuse mail from it", t);
		return;
	}
	for (size_t i = 0; i < a.n && back == NULL; i++) {
		struct daddr fwd[HOSTS_MAX];
		size_t n;

		if (addresses(d, a.rr[i].text, fwd, HOSTS_MAX, &n, err,
			      sizeof(err)) == DNSQ_OK && addr_in(ad, fwd, n))
			back = a.rr[i].text;
	}
	if (back == NULL)
		report(d, "ptr", DS_FAIL, fix, "the PTR of %s (%s) does not "
		       "lead back to %s (not forward-confirmed)", t,
		       a.rr[0].text, t);
	else if (strcasecmp(back, d->host) != 0)
		report(d, "ptr", DS_WARN, fix, "%s -> %s -> %s, but owld says "
		       "HELO %s", t, back, t, d->host);
	else
		report(d, "ptr", DS_OK, NULL, "%s -> %s -> %s "
		       "(forward-confirmed)", t, back, t);
	dnsq_answer_free(&a);
}

/*
 * The address owld sends from: owld binds no source address of its own
 * (there is no key for it), so it is the one the host name resolves to.
 */
static void
check_ptr(struct doctor *d)
{
	char fix[1024];

	if (d->addr_status == DNSQ_TEMP) {
		report(d, "ptr", DS_FAIL, NULL, "cannot tell: the addresses of "
		       "%s cannot be looked up", d->host);
		return;
	}
	if (d->naddr == 0) {
		snprintf(fix, sizeof(fix), "%s. IN A <this host's public "
			 "address>", d->host);
		report(d, "ptr", DS_FAIL, fix, "this host's name %s has no A "
		       "or AAAA record, so the address it sends from is "
		       "unknown (set hostname to its public name)", d->host);
		return;
	}
	for (size_t i = 0; i < d->naddr && i < 4; i++)
		check_ptr_of(d, &d->addr[i]);
}

/* --- TXT records: SPF, DKIM, DMARC ---------------------------------------- */

/* The record line for a TXT value: strings of at most 255 octets. */
static void
txt_record(const char *name, const char *value, char *out, size_t size)
{
	size_t n = strlen(value), used;
	int w;

	w = snprintf(out, size, "%s. IN TXT %s", name,
		     n > TXT_STRING_MAX ? "(" : "");
	used = w > 0 ? (size_t)w : 0;
	for (size_t i = 0; i < n && used < size; i += TXT_STRING_MAX) {
		int l = (int)(n - i < TXT_STRING_MAX ? n - i : TXT_STRING_MAX);

		w = snprintf(out + used, size - used, "%s\"%.*s\"",
			     n > TXT_STRING_MAX ? " " : "", l, value + i);
		used += w > 0 ? (size_t)w : 0;
	}
	if (n > TXT_STRING_MAX && used < size)
		snprintf(out + used, size - used, " )");
}

/* The TXT records at name that start with prefix (case as said). */
static enum dnsq_status
txt_records(struct doctor *d, const char *name, const char *prefix,
	    bool nocase, struct dnsq_answer *keep, char *err, size_t errsz)
{
	struct dnsq_answer a;
	enum dnsq_status st;
	size_t pl = strlen(prefix);

	memset(keep, 0, sizeof(*keep));
	st = lookup(d, DNSQ_TXT, name, &a, err, errsz);
	keep->status = st;
	for (size_t i = 0; i < a.n; i++) {
		const char *t = a.rr[i].text;
		bool match = nocase ? strncasecmp(t, prefix, pl) == 0
				    : strncmp(t, prefix, pl) == 0;

		if (match && (t[pl] == '\0' || t[pl] == ' ' || t[pl] == ';'))
			(void)dnsq_answer_add(keep, NULL, 0, 0, t,
					      a.rr[i].len);
	}
	dnsq_answer_free(&a);
	keep->status = st;
	return st;
}

/*
 * Does the record let anyone pass: a top-level "all" or "+all" term?
 * (Included records are not looked at: their all does not end ours.)
 */
static bool
spf_all_pass(const char *t)
{
	while (*t != '\0') {
		size_t l;

		t += strspn(t, " ");
		l = strcspn(t, " ");
		if ((l == 3 && strncasecmp(t, "all", 3) == 0) ||
		    (l == 4 && strncasecmp(t, "+all", 4) == 0))
			return true;
		t += l;
	}
	return false;
}

/* One address of this host and what check_host() said of it. */
struct spf_eval {
	enum spf_result r;
	char why[600];
};

/* What a result means for our own mail: pass ok; the others that let it
 * through (none, neutral, softfail) warn; fail and the errors FAIL. */
static enum dstatus
spf_status(enum spf_result r)
{
	switch (r) {
	case SPF_PASS:
		return DS_OK;
	case SPF_NONE:
	case SPF_NEUTRAL:
	case SPF_SOFTFAIL:
		return DS_WARN;
	case SPF_FAIL:
	case SPF_TEMPERROR:
	case SPF_PERMERROR:
		break;
	}
	return DS_FAIL;
}

/*
 * check_host() as receivers run it, for each address this host sends
 * from, sender postmaster@DOMAIN and HELO the host name, into ev[]; it
 * stops at the first temperror (the next would wait out the same broken
 * lookups).  The number evaluated.
 */
static size_t
spf_evaluate(struct doctor *d, struct spf_eval *ev)
{
	char sender[DNSQ_NAME_MAX + 16], dnserr[512];
	size_t i;

	snprintf(sender, sizeof(sender), "postmaster@%s", d->domain);
	for (i = 0; i < d->naddr; i++) {
		const struct daddr *a = &d->addr[i];
		struct spf *s = owlctl_spf_run(d->c, &d->o, a->family, a->a,
					       d->domain, sender, d->host,
					       dnserr, sizeof(dnserr));
		const char *why = "out of memory";

		ev[i].r = s != NULL ? spf_result(s, &why, NULL)
				    : SPF_TEMPERROR;
		if (ev[i].r == SPF_TEMPERROR && dnserr[0] != '\0')
			why = dnserr;
		snprintf(ev[i].why, sizeof(ev[i].why), "%s", why);
		spf_free(&s);
		if (ev[i].r == SPF_TEMPERROR)
			return i + 1;
	}
	return i;
}

/*
 * The record to publish, as a zone line: the published record (rec,
 * after its "v=spf1") with an ip4:/ip6: term first for each address of
 * this host that did not pass; rec NULL: a fresh one, "v=spf1 mx -all"
 * when this host is the MX, else its addresses and -all.
 */
static void
spf_fix(const struct doctor *d, const char *rec, const struct spf_eval *ev,
	size_t n, char *out, size_t size)
{
	struct buf *b = buf_new(TEXT_MAX);
	char t[INET6_ADDRSTRLEN];

	(void)buf_addstr(b, "v=spf1");
	if (rec == NULL && (d->mxname[0] != '\0' || d->naddr == 0)) {
		(void)buf_addstr(b, " mx -all");
	} else {
		for (size_t i = 0; i < d->naddr; i++)
			if (rec == NULL || (i < n && ev[i].r != SPF_PASS))
				(void)buf_printf(b, " %s:%s",
						 d->addr[i].family == AF_INET
							 ? "ip4" : "ip6",
						 addr_text(&d->addr[i], t,
							   sizeof(t)));
		(void)buf_addstr(b, rec != NULL ? rec + 6 : " -all");
	}
	txt_record(d->domain, b->data, out, size);
	buf_free(&b);
}

/* "pass for 127.0.0.1 (mx matched at example.org); ..." into out. */
static void
spf_list(const struct doctor *d, const struct spf_eval *ev, size_t n,
	 char *out, size_t size)
{
	char t[INET6_ADDRSTRLEN];
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(out + used, size - used, "%s%s for %s (%s)",
				 i > 0 ? "; " : "", spf_result_name(ev[i].r),
				 addr_text(&d->addr[i], t, sizeof(t)),
				 ev[i].why);

		if (w < 0 || (size_t)w >= size - used)
			break;
		used += (size_t)w;
	}
}

/* The one record's verdict for this host's addresses. */
static void
spf_report_eval(struct doctor *d, const char *rec)
{
	struct spf_eval ev[HOSTS_MAX];
	char list[TEXT_MAX / 2], *fix = xmalloc(TEXT_MAX);
	enum dstatus st = DS_OK;
	size_t n = spf_evaluate(d, ev), worst = 0;

	for (size_t i = 0; i < n; i++)
		if (spf_status(ev[i].r) > st) {
			st = spf_status(ev[i].r);
			worst = i;
		}
	spf_list(d, ev, n, list, sizeof(list));
	spf_fix(d, ev[worst].r == SPF_PERMERROR ? NULL : rec, ev, n, fix,
		TEXT_MAX);
	if (st == DS_OK)
		report(d, "spf", DS_OK, NULL, "\"%s\" lets this host send: %s",
		       rec, list);
	else if (ev[worst].r == SPF_TEMPERROR)
		report(d, "spf", DS_FAIL, NULL, "cannot tell: %s", list);
	else if (st == DS_WARN)
		report(d, "spf", DS_WARN, fix, "\"%s\" does not say this host "
		       "may send (receivers may take its mail for spam): %s",
		       rec, list);
	else if (ev[worst].r == SPF_PERMERROR)
		report(d, "spf", DS_FAIL, fix, "\"%s\" is broken: receivers "
		       "refuse or distrust all its mail: %s", rec, list);
	else
		report(d, "spf", DS_FAIL, fix, "\"%s\" does not let this host "
		       "send: receivers refuse its mail: %s", rec, list);
	free(fix);
}

/*
 * SPF (RFC 7208): one "v=spf1" TXT record at the domain, evaluated with
 * the SPF core (msgauth/spf, through resolve_lookup) for each address
 * this host sends from, sender postmaster@DOMAIN, HELO the host name:
 * pass is ok; none, neutral, softfail warn; fail and permerror FAIL with
 * the record to publish; temperror FAILs (cannot tell).  A record whose
 * own all lets anyone pass FAILs whatever this host gets.
 */
static void
doctor_spf(struct doctor *d)
{
	char err[512], fix[1200], rec[1024];
	struct dnsq_answer spf;

	spf_fix(d, NULL, NULL, 0, rec, sizeof(rec));
	switch (txt_records(d, d->domain, "v=spf1", true, &spf, err,
			    sizeof(err))) {
	case DNSQ_TEMP:
		report(d, "spf", DS_FAIL, NULL, "cannot tell: %s", err);
		return;
	default:
		break;
	}
	if (spf.n == 0) {
		report(d, "spf", DS_FAIL, rec, "%s has no SPF record (TXT "
		       "\"v=spf1 ...\")", d->domain);
		return;
	}
	if (spf.n > 1) {
		snprintf(fix, sizeof(fix), "keep one record, merged: %s", rec);
		report(d, "spf", DS_FAIL, fix, "%s has %zu SPF records: "
		       "receivers take that as a permanent error (RFC 7208 "
		       "4.5)", d->domain, spf.n);
	} else if (spf_all_pass(spf.rr[0].text + 6)) {
		report(d, "spf", DS_FAIL, rec, "\"%s\" ends in +all: anyone "
		       "may send as %s", spf.rr[0].text, d->domain);
	} else if (d->naddr == 0) {
		report(d, "spf", d->addr_status == DNSQ_TEMP ? DS_FAIL
							     : DS_WARN,
		       NULL, "\"%s\" not evaluated: the addresses of %s are "
		       "%s (see ptr)", spf.rr[0].text, d->host,
		       d->addr_status == DNSQ_TEMP ? "not known now"
						   : "not in the DNS");
	} else {
		spf_report_eval(d, spf.rr[0].text);
	}
	dnsq_answer_free(&spf);
}

/*
 * The value of tag name in a tag list (RFC 6376 3.2: "a=1; b=2"), its
 * whitespace removed, into out; false if the tag is not there.
 */
static bool
tag_value(const char *list, const char *name, char *out, size_t size)
{
	size_t nl = strlen(name);

	while (*list != '\0') {
		const char *end = list + strcspn(list, ";");
		const char *p = list + strspn(list, " \t\r\n");

		if ((size_t)(end - p) > nl && strncmp(p, name, nl) == 0) {
			const char *q = p + nl + strspn(p + nl, " \t\r\n");

			if (q < end && *q == '=') {
				size_t o = 0;

				for (q++; q < end && o + 1 < size; q++)
					if (!strchr(" \t\r\n", *q))
						out[o++] = *q;
				out[o] = '\0';
				return true;
			}
		}
		list = *end == ';' ? end + 1 : end;
	}
	return false;
}

/* Reads a key file (at most KEY_FILE_MAX octets); NULL with errno. */
static char *
read_key_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "r");
	char *text;

	if (fp == NULL)
		return NULL;
	text = xmalloc(KEY_FILE_MAX + 1);
	*len = fread(text, 1, KEY_FILE_MAX + 1, fp);
	fclose(fp);
	if (*len > KEY_FILE_MAX) {
		free(text);
		errno = EFBIG;
		return NULL;
	}
	text[*len] = '\0';
	return text;
}

/* One key file: the TXT record at SELECTOR._domainkey has its p=. */
static void
check_dkim_key(struct doctor *d, const char *path, const char *sel)
{
	char name[DNSQ_NAME_MAX + 80], err[512], *pem, *fix;
	char *disk_p = xmalloc(TEXT_MAX), *dns_p = xmalloc(TEXT_MAX);
	struct buf *rec = buf_new(TEXT_MAX);
	struct dkim_key *key = NULL;
	struct dnsq_answer a;
	const char *why;
	enum dnsq_status st;
	bool match = false, any = false;
	size_t len;

	fix = xmalloc(TEXT_MAX);
	snprintf(name, sizeof(name), "%s._domainkey.%s", sel, d->domain);
	if ((pem = read_key_file(path, &len)) == NULL ||
	    dkim_key_private(pem, len, &key, &why) == -1 ||
	    dkim_key_record(key, rec) == -1) {
		report(d, "dkim", DS_FAIL, "owlctl dkim keygen --force",
		       "%s: %s", path, pem == NULL ? strerror(errno)
						   : "not a usable key");
		goto out;
	}
	tag_value(rec->data, "p", disk_p, TEXT_MAX);
	txt_record(name, rec->data, fix, TEXT_MAX);
	st = lookup(d, DNSQ_TXT, name, &a, err, sizeof(err));
	for (size_t i = 0; i < a.n && !match; i++)
		if (tag_value(a.rr[i].text, "p", dns_p, TEXT_MAX)) {
			any = true;
			match = strcmp(dns_p, disk_p) == 0;
		}
	dnsq_answer_free(&a);
	if (st == DNSQ_TEMP)
		report(d, "dkim", DS_FAIL, NULL, "cannot tell: %s", err);
	else if (match)
		report(d, "dkim", DS_OK, NULL, "%s matches the key in %s",
		       name, path);
	else if (any)
		report(d, "dkim", DS_FAIL, fix, "the p= of %s is not the key "
		       "in %s: signatures will fail", name, path);
	else
		report(d, "dkim", DS_FAIL, fix, "%s has no DKIM key record "
		       "(for the key in %s)", name, path);
out:
	dkim_key_free(&key);
	buf_free(&rec);
	free(pem);
	free(fix);
	free(disk_p);
	free(dns_p);
}

/* Each key DATA_DIR/dkim/DOMAIN.SELECTOR.key (see relay/signer.h). */
static void
check_dkim(struct doctor *d)
{
	char dir[PATH_MAX], path[PATH_MAX + 256], fix[512];
	size_t dl = strlen(d->domain), found = 0;
	struct dirent *e;
	DIR *dp;

	snprintf(dir, sizeof(dir), "%s/dkim", d->c->data_dir);
	snprintf(fix, sizeof(fix), "owlctl dkim keygen %s, then publish the "
		 "record it prints", d->domain);
	if ((dp = opendir(dir)) != NULL) {
		while ((e = readdir(dp)) != NULL) {
			const char *n = e->d_name, *sel = n + dl + 1;
			size_t l = strlen(n), sl;
			char s[DKIM_SELECTOR_MAX + 1];

			if (l < dl + 6 || strncasecmp(n, d->domain, dl) != 0 ||
			    n[dl] != '.' || strcmp(n + l - 4, ".key") != 0)
				continue;
			sl = (size_t)(n + l - 4 - sel);
			if (sl == 0 || sl > DKIM_SELECTOR_MAX ||
			    memchr(sel, '.', sl) != NULL)
				continue;
			memcpy(s, sel, sl);
			s[sl] = '\0';
			snprintf(path, sizeof(path), "%s/%s", dir, n);
			check_dkim_key(d, path, s);
			found++;
		}
		closedir(dp);
	}
	if (found == 0)
		report(d, "dkim", DS_WARN, fix, "no DKIM key for %s in %s: its "
		       "mail goes out unsigned", d->domain, dir);
}

/* The TXT records at name that are DMARC records (dmarc_is_record). */
static enum dnsq_status
dmarc_records(struct doctor *d, const char *name, struct dnsq_answer *keep,
	      char *err, size_t errsz)
{
	struct dnsq_answer a;
	enum dnsq_status st;

	memset(keep, 0, sizeof(*keep));
	st = lookup(d, DNSQ_TXT, name, &a, err, errsz);
	for (size_t i = 0; i < a.n; i++)
		if (dmarc_is_record(a.rr[i].text, a.rr[i].len))
			(void)dnsq_answer_add(keep, NULL, 0, 0, a.rr[i].text,
					      a.rr[i].len);
	dnsq_answer_free(&a);
	keep->status = st;
	return st;
}

/* One record, parsed as receivers parse it (msgauth/dmarc). */
static void
dmarc_report_record(struct doctor *d, const char *txt, size_t len,
		    const char *fix)
{
	struct dmarc_record r;
	const char *why;

	if (dmarc_parse(txt, len, &r, &why) == -1)
		report(d, "dmarc", DS_FAIL, fix, "\"%s\" is not a valid DMARC "
		       "record: %s", txt, why);
	else if (r.p_fallback)
		report(d, "dmarc", DS_FAIL, fix, "\"%s\" has no valid p= tag "
		       "(none, quarantine or reject): receivers apply none",
		       txt);
	else if (r.p == DMARC_P_NONE)
		report(d, "dmarc", DS_WARN, fix, "\"%s\": p=none, monitoring "
		       "only: mail that fails DMARC is still delivered", txt);
	else
		report(d, "dmarc", DS_OK, NULL, "\"%s\": p=%s%s", txt,
		       dmarc_policy_name(r.p),
		       r.pct < 100 ? " (on a part of the mail: pct=)" : "");
}

/*
 * DMARC (RFC 7489): one record at _dmarc.DOMAIN (a TXT record starting
 * with v=DMARC1), parsed as receivers do (msgauth/dmarc): an invalid one
 * FAILs with why, p=none is a warning (monitoring only).
 */
static void
check_dmarc(struct doctor *d)
{
	char name[DNSQ_NAME_MAX + 8], err[512], fix[1024], rec[512];
	struct dnsq_answer dm;

	snprintf(name, sizeof(name), "_dmarc.%s", d->domain);
	snprintf(rec, sizeof(rec), "v=DMARC1; p=quarantine; "
		 "rua=mailto:postmaster@%s", d->domain);
	txt_record(name, rec, fix, sizeof(fix));
	if (dmarc_records(d, name, &dm, err, sizeof(err)) == DNSQ_TEMP) {
		report(d, "dmarc", DS_FAIL, NULL, "cannot tell: %s", err);
		return;
	}
	if (dm.n == 0)
		report(d, "dmarc", DS_FAIL, fix, "%s has no DMARC record "
		       "(TXT \"v=DMARC1; p=...\")", name);
	else if (dm.n > 1)
		report(d, "dmarc", DS_FAIL, fix, "%s has %zu DMARC records: "
		       "receivers then apply none (RFC 7489 6.6.3)", name,
		       dm.n);
	else
		dmarc_report_record(d, dm.rr[0].text, dm.rr[0].len, fix);
	dnsq_answer_free(&dm);
}

/* --- TLS ---------------------------------------------------------------- */

/* The certificate of tls.cert: its names cover the MX host, its dates. */
static void
check_tls(struct doctor *d)
{
	const char *name = d->mxname[0] != '\0' ? d->mxname : d->host;
	char fix[1024];
	time_t soon = time(NULL) + TLS_SOON_DAYS * 86400;
	int days = 0, secs = 0;
	X509 *cert;
	FILE *fp;

	snprintf(fix, sizeof(fix), "a certificate for %s (e.g. certbot "
		 "certonly --standalone -d %s), in tls.cert and tls.key",
		 name, name);
	if (d->c->tls_cert[0] == '\0') {
		report(d, "tls", DS_WARN, fix, "no tls.cert: owld offers no "
		       "STARTTLS, and mail to it travels in clear text");
		return;
	}
	if ((fp = fopen(d->c->tls_cert, "r")) == NULL) {
		report(d, "tls", DS_FAIL, fix, "%s: %s", d->c->tls_cert,
		       strerror(errno));
		return;
	}
	cert = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	if (cert == NULL) {
		report(d, "tls", DS_FAIL, fix, "%s: no PEM certificate",
		       d->c->tls_cert);
		return;
	}
	ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert));
	if (X509_check_host(cert, name, 0, 0, NULL) != 1)
		report(d, "tls", DS_FAIL, fix, "%s does not cover %s (its "
		       "subjectAltName or CN)", d->c->tls_cert, name);
	else if (X509_cmp_time(X509_get0_notAfter(cert), NULL) != 1)
		report(d, "tls", DS_FAIL, fix, "%s has expired (%d days ago)",
		       d->c->tls_cert, -days);
	else if (X509_cmp_time(X509_get0_notBefore(cert), NULL) != -1)
		report(d, "tls", DS_FAIL, fix, "%s is not valid yet",
		       d->c->tls_cert);
	else if (X509_cmp_time(X509_get0_notAfter(cert), &soon) != 1)
		report(d, "tls", DS_WARN, fix, "%s covers %s but expires in "
		       "%d days", d->c->tls_cert, name, days);
	else
		report(d, "tls", DS_OK, NULL, "%s covers %s, valid %d more "
		       "days", d->c->tls_cert, name, days);
	X509_free(cert);
}

/* --- open relay ----------------------------------------------------------- */

/* One SMTP reply: its code (its last line into line), -1 on error. */
static int
smtp_reply(FILE *fp, char *line, size_t size)
{
	for (int lines = 0; lines < 100; lines++) {
		if (fgets(line, (int)size, fp) == NULL || strlen(line) < 4)
			return -1;
		if (line[3] == ' ' || line[3] == '\r' || line[3] == '\n') {
			line[strcspn(line, "\r\n")] = '\0';
			return atoi(line);
		}
	}
	return -1;
}

static int
smtp_cmd(int fd, FILE *fp, const char *cmd, char *line, size_t size)
{
	size_t n = strlen(cmd);

	if (write(fd, cmd, n) != (ssize_t)n)
		return -1;
	return smtp_reply(fp, line, size);
}

/* A socket connected to the first smtp.listen address (a wildcard one
 * as loopback); -1, with where it went into where. */
static int
relay_connect(const struct conf *c, char *where, size_t size)
{
	char first[300], host[256];
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICHOST}, *res;
	struct timeval tv = {.tv_sec = RELAY_TIMEOUT};
	unsigned port;
	char ps[16];
	int fd;

	snprintf(first, sizeof(first), "%.*s",
		 (int)strcspn(c->smtp_listen, ", "), c->smtp_listen);
	if (conf_hostport(first, 25, host, sizeof(host), &port) == -1)
		return -1;
	if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 ||
	    strcmp(host, "*") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	else if (strcmp(host, "::") == 0)
		snprintf(host, sizeof(host), "::1");
	snprintf(where, size, "%s port %u", host, port);
	snprintf(ps, sizeof(ps), "%u", port);
	if (getaddrinfo(host, ps, &hints, &res) != 0)
		return -1;
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, 0);
	if (fd != -1 &&
	    (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	     setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	     connect(fd, res->ai_addr, res->ai_addrlen) == -1)) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* Does relay.networks let the Internet at large relay? */
static bool
relay_networks_open(const struct conf *c)
{
	struct sockaddr_in s4 = {.sin_family = AF_INET};
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};

	inet_pton(AF_INET, "198.51.100.1", &s4.sin_addr);
	inet_pton(AF_INET6, "2001:db8::1", &s6.sin6_addr);
	return cidr_match(c->relay_networks, (struct sockaddr *)&s4) ||
	       cidr_match(c->relay_networks, (struct sockaddr *)&s6);
}

/*
 * A stranger's mail for a stranger, through owld's MX listener: refused
 * is right.  From loopback, which relay.networks usually trusts, a 250
 * says nothing of strangers: that case is a warning.
 */
static void
check_open_relay(struct doctor *d)
{
	static const char fix[] = "relay.networks: only your own networks "
				  "(default 127.0.0.0/8, ::1); users send "
				  "through submission with AUTH";
	char where[300], line[1024];
	struct sockaddr_storage me;
	socklen_t melen = sizeof(me);
	int fd, code;
	bool trusted;
	FILE *fp;

	if (relay_networks_open(d->c))
		report(d, "relay", DS_FAIL, fix, "relay.networks (%s) takes "
		       "in addresses of the whole Internet: an open relay",
		       d->c->relay_networks);
	if ((fd = relay_connect(d->c, where, sizeof(where))) == -1) {
		report(d, "relay", DS_WARN, NULL, "nothing answers on %s "
		       "(smtp.listen): is owld running? open-relay test "
		       "skipped", where);
		return;
	}
	trusted = getsockname(fd, (struct sockaddr *)&me, &melen) == 0 &&
		  cidr_match(d->c->relay_networks, (struct sockaddr *)&me);
	if ((fp = fdopen(fd, "r")) == NULL) {
		close(fd);
		return;
	}
	if ((code = smtp_reply(fp, line, sizeof(line))) == 220 &&
	    smtp_cmd(fd, fp, "EHLO doctor.example.invalid\r\n", line,
		     sizeof(line)) == 250 &&
	    (code = smtp_cmd(fd, fp, "MAIL FROM:<doctor@example.invalid>\r\n",
			     line, sizeof(line))) == 250)
		code = smtp_cmd(fd, fp, "RCPT TO:<test@example.net>\r\n", line,
				sizeof(line));
	(void)!write(fd, "QUIT\r\n", 6);
	fclose(fp);
	if (code == 250 || code == 251) {
		if (trusted)
			report(d, "relay", DS_WARN, NULL, "%s took mail for "
			       "test@example.net from this host, which "
			       "relay.networks trusts: that says nothing of "
			       "strangers (test from outside)", where);
		else
			report(d, "relay", DS_FAIL, fix, "%s took mail from "
			       "doctor@example.invalid for test@example.net: "
			       "an open relay", where);
	} else if (code >= 400 && code < 600) {
		report(d, "relay", DS_OK, NULL, "%s refused to relay: %s",
		       where, line);
	} else {
		report(d, "relay", DS_WARN, NULL, "%s: the SMTP dialogue "
		       "broke off (%s)", where, code == -1 ? "no reply"
							  : line);
	}
}

/* --- the command --------------------------------------------------------- */

static int
run(struct doctor *d, bool json)
{
	char err[512];
	bool failed = false;

	d->addr_status = addresses(d, d->host, d->addr, HOSTS_MAX, &d->naddr,
				   err, sizeof(err));
	check_mx(d);
	check_addresses(d);
	check_ptr(d);
	doctor_spf(d);
	check_dkim(d);
	check_dmarc(d);
	check_tls(d);
	check_open_relay(d);
	for (size_t i = 0; i < d->n; i++)
		failed |= d->v[i].status == DS_FAIL;
	if (json)
		print_json(d, !failed);
	else
		print_text(d);
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].detail);
		free(d->v[i].fix);
	}
	free(d->v);
	return failed ? 1 : 0;
}

static int
usage(void)
{
	fprintf(stderr, "usage: owlctl doctor DOMAIN [--json] [-c FILE]\n");
	return 64;
}

int
cmd_doctor(const struct conf *c, int argc, char **argv)
{
	static const struct option lopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"config", required_argument, NULL, 'c'},
		{NULL, 0, NULL, 0},
	};
	struct doctor d = {.c = c};
	const char *file = NULL;
	struct conf own;
	bool json = false;
	char err[512];
	int ch, rc;

	optind = 0; /* GNU getopt: start afresh (main used "+") */
	while ((ch = getopt_long(argc, argv, "c:", lopts, NULL)) != -1) {
		if (ch == 'j')
			json = true;
		else if (ch == 'c')
			file = optarg;
		else
			return usage();
	}
	if (optind != argc - 1 ||
	    resolve_question(&(struct dnsq_question){0}, DNSQ_MX,
			     argv[optind]) == -1 ||
	    bsnprintf(d.domain, sizeof(d.domain), "%s", argv[optind]) == -1)
		return usage();
	for (char *p = d.domain; *p != '\0'; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	if (file != NULL) { /* owlctl -c FILE doctor ..., said after */
		conf_init(&own);
		if (conf_apply(&own, file, NULL, 0, NULL, err,
			       sizeof(err)) == -1) {
			fprintf(stderr, "owlctl: %s\n", err);
			conf_free(&own);
			return EX_CONFIG_CODE;
		}
		conf_finish(&own);
		d.c = &own;
	}
	snprintf(d.host, sizeof(d.host), "%s", d.c->hostname);
	resolve_opts_conf(&d.o, d.c);
	rc = run(&d, json);
	if (file != NULL)
		conf_free(&own);
	return rc;
}
