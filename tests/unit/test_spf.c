/*
 * Unit tests of SPF (src/msgauth/spf*.c): the macro examples of RFC 7208
 * 7.4 and the rules of 7.3 (transformers, URL escaping, %% %_ %-, the
 * 253-octet cut), record syntax errors (permerror), each mechanism and
 * modifier, include's result table (5.2), redirect and exp=, the limits
 * of 4.6.4 (the 11th lookup, the 3rd void lookup, 11 MX names, PTR names
 * past 10 ignored), DNS trouble (temperror) and the question protocol.
 * DNS answers come from a table (ZONE); tests/integ/test_spf.py holds
 * the appendix A examples against pyspf.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "msgauth/spf.h"
#include "msgauth/spf_private.h"

/* --- a zone -------------------------------------------------------- */

struct zrec {
	const char *name, *type, *value;	/* type "TEMP": value fails */
};

static const struct zrec *zone;
static unsigned asked;		/* questions answered in the last run */

static void
answer(const struct dnsq_question *q, struct dnsq_answer *a)
{
	const char *tn = dnsq_type_name(q->type);
	unsigned char addr[16];
	unsigned pref;
	char host[256];
	bool exists = false;

	memset(a, 0, sizeof(*a));
	for (const struct zrec *z = zone; z != NULL && z->name != NULL; z++) {
		if (strcasecmp(z->name, q->name) != 0)
			continue;
		exists = true;
		if (strcmp(z->type, "TEMP") == 0 && strcmp(z->value, tn) == 0) {
			dnsq_answer_free(a);
			a->status = DNSQ_TEMP;
			return;
		}
		if (strcmp(z->type, tn) != 0)
			continue;
		if (q->type == DNSQ_A || q->type == DNSQ_AAAA) {
			int fam = q->type == DNSQ_A ? AF_INET : AF_INET6;

			assert_int_equal(inet_pton(fam, z->value, addr), 1);
			dnsq_answer_add(a, addr, q->type == DNSQ_A ? 4 : 16, 0,
					NULL, 0);
		} else if (q->type == DNSQ_MX) {
			assert_int_equal(sscanf(z->value, "%u %255s", &pref,
						host), 2);
			dnsq_answer_add(a, NULL, 0, pref, host, strlen(host));
		} else {
			dnsq_answer_add(a, NULL, 0, 0, z->value,
					strlen(z->value));
		}
	}
	a->status = a->n > 0 ? DNSQ_OK : exists ? DNSQ_NODATA : DNSQ_NXDOMAIN;
}

struct run {
	enum spf_result res;
	const char *why, *exp;
	unsigned lookups, voids;
	struct spf *s;
};

static void
check_lim(struct run *r, const struct spf_limits *lim, const char *ip,
	  const char *sender, const char *helo, const char *domain)
{
	unsigned char a[16];
	int family = strchr(ip, ':') != NULL ? AF_INET6 : AF_INET;
	struct dnsq_question q;
	struct dnsq_answer ans;

	assert_int_equal(inet_pton(family, ip, a), 1);
	r->s = spf_new(lim, family, a, domain, sender, helo, "mx.us.test",
		       1700000000);
	assert_non_null(r->s);
	asked = 0;
	while (spf_next(r->s, &q)) {
		assert_true(++asked < 500);
		answer(&q, &ans);
		spf_answer(r->s, &ans);
		dnsq_answer_free(&ans);
	}
	r->res = spf_result(r->s, &r->why, &r->exp);
	spf_counts(r->s, &r->lookups, &r->voids);
}

/* check_host(ip, the sender's domain, sender) */
static enum spf_result
check(struct run *r, const char *ip, const char *sender)
{
	const char *at = strrchr(sender, '@');

	check_lim(r, NULL, ip, sender, "helo.test", at + 1);
	return r->res;
}

static enum spf_result
result_of(const char *ip, const char *sender)
{
	struct run r;
	enum spf_result res = check(&r, ip, sender);

	spf_free(&r.s);
	assert_null(r.s);
	return res;
}

/* --- macros (7) ---------------------------------------------------- */

static struct spf_vars
vars4(void)
{
	return (struct spf_vars){ .s = "strong-bad@email.example.com",
		.l = "strong-bad", .o = "email.example.com",
		.d = "email.example.com", .i = "192.0.2.3", .p = "unknown",
		.v = "in-addr", .h = "mx.example.org", .c = "192.0.2.3",
		.r = "mx.us.test", .t = "1700000000" };
}

static void
expands_to(const struct spf_vars *v, const char *spec, const char *want)
{
	char out[DNSQ_NAME_MAX + 1];

	assert_true(spf_macro_valid(spec, strlen(spec), SPF_M_DOMAIN));
	assert_int_equal(spf_macro_domain(v, spec, strlen(spec), out), 0);
	assert_string_equal(out, want);
}

static void
test_macro_rfc_examples(void **state)
{
	struct spf_vars v = vars4();
	static const char *const ex[][2] = {	/* RFC 7208 7.4 */
		{ "%{s}.x.test", "strong-bad@email.example.com.x.test" },
		{ "%{o}", "email.example.com" },
		{ "%{d}", "email.example.com" },
		{ "%{d4}", "email.example.com" },
		{ "%{d3}", "email.example.com" },
		{ "%{d2}", "example.com" },
		{ "%{d1}", "com" },
		{ "%{dr}", "com.example.email" },
		{ "%{d2r}", "example.email" },
		{ "%{l}.x.test", "strong-bad.x.test" },
		{ "%{l-}.x.test", "strong.bad.x.test" },
		{ "%{lr}.x.test", "strong-bad.x.test" },
		{ "%{lr-}.x.test", "bad.strong.x.test" },
		{ "%{l1r-}.x.test", "strong.x.test" },
		{ "%{ir}.%{v}._spf.%{d2}",
		  "3.2.0.192.in-addr._spf.example.com" },
		{ "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com" },
		{ "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
		  "bad.strong.lp.3.2.0.192.in-addr._spf.example.com" },
		{ "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
		  "3.2.0.192.in-addr.strong.lp._spf.example.com" },
		{ "%{d2}.trusted-domains.example.net",
		  "example.com.trusted-domains.example.net" },
		{ "%{d2}.trusted-domains.example.net.",
		  "example.com.trusted-domains.example.net" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++)
		expands_to(&v, ex[i][0], ex[i][1]);
	v.i = "2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	      "c.b.0.1";
	v.v = "ip6";
	expands_to(&v, "%{ir}.%{v}._spf.%{d2}",
		   "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0."
		   "1.0.0.2.ip6._spf.example.com");
}

static void
test_macro_rules(void **state)
{
	struct spf_vars v = vars4();
	char out[DNSQ_NAME_MAX + 1], text[64], long_l[300];

	(void)state;
	/* upper case: URL-escaped (7.3), "@" is %40 */
	expands_to(&v, "%{S}.x.test", "strong-bad%40email.example.com.x.test");
	/* delimiters: any of them, joined with "." */
	v.l = "a+b=c_d,e/f";
	expands_to(&v, "%{l+=_,/}.x.test", "a.b.c.d.e.f.x.test");
	expands_to(&v, "%{l2r+=_,/}.x.test", "b.a.x.test");
	/* %% %_ %- in an explanation */
	spf_macro_explain(&v, "100%% %_%- %{c} %{r} %{t} %{V}", 30, text,
			  sizeof(text));
	assert_string_equal(text, "100%  %20 192.0.2.3 mx.us.test 1700000000"
			    " in-addr");
	/* an explanation is cut at its buffer */
	spf_macro_explain(&v, "%{d}%{d}%{d}%{d}%{d}", 20, text, 10);
	assert_string_equal(text, "email.exa");
	/* longer than 253: labels dropped from the left (7.3) */
	memset(long_l, 'a', 60);
	for (int i = 0; i < 3; i++) {
		long_l[60 + i * 61] = '.';
		memset(long_l + 61 + i * 61, 'b' + i, 60);
	}
	long_l[60 + 3 * 61] = '\0';	/* 4 labels of 60: 243 octets */
	v.l = long_l;
	assert_int_equal(spf_macro_domain(&v, "%{l}.%{d}", 9, out), 0);
	assert_true(strlen(out) <= 253);
	assert_string_equal(out + strlen(out) - 18, ".email.example.com");
	assert_int_equal(strncmp(out, "bbbb", 4), 0);	/* the a's went */
	/* a label over 63 octets: no name to ask for */
	memset(long_l, 'x', 70);
	long_l[70] = '\0';
	assert_int_equal(spf_macro_domain(&v, "%{l}.%{d}", 9, out), -1);
	/* syntax: 7.1, 12 */
	static const char *const bad[] = {
		"%{d0}", "%{x}", "%{d", "%", "%a.test", "foo", "a b.test",
		"%{r}.test", "%{c}.test", "%{t}.test", "x.test-", "x.-test",
		"x.123", "%{d}.", "%{d!}", "", "x.t\xc3\xa9st",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(spf_macro_valid(bad[i], strlen(bad[i]),
					     SPF_M_DOMAIN));
	static const char *const good[] = {
		"%{d}", "x.%{d}", "a.b.test.", "%{d}.1-2", "x.%%", "x%_y.test",
		"%{l1r+-}.x.test", "%{D}", "a.x1y",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(spf_macro_valid(good[i], strlen(good[i]),
					    SPF_M_DOMAIN));
	assert_true(spf_macro_valid("%{r} %{c} %{t}", 14, SPF_M_EXPLAIN));
	assert_false(spf_macro_valid("%{r}", 4, SPF_M_STRING));
	assert_true(spf_macro_uses_p("x.%{p2}.test", 12));
	assert_false(spf_macro_uses_p("x.%%{p}.test", 12));
}

/* --- RFC 7208 appendix A ------------------------------------------- */

static struct zrec appx_zone[] = {
	{ "example.com", "TXT", NULL },	/* the record under test */
	{ "example.com", "A", "192.0.2.10" },
	{ "example.com", "A", "192.0.2.11" },
	{ "example.com", "MX", "10 mail-a.example.com" },
	{ "example.com", "MX", "20 mail-b.example.com" },
	{ "amy.example.com", "A", "192.0.2.65" },
	{ "bob.example.com", "A", "192.0.2.66" },
	{ "mail-a.example.com", "A", "192.0.2.129" },
	{ "mail-b.example.com", "A", "192.0.2.130" },
	{ "example.org", "MX", "10 mail-c.example.org" },
	{ "mail-c.example.org", "A", "192.0.2.140" },
	{ "10.2.0.192.in-addr.arpa", "PTR", "example.com" },
	{ "11.2.0.192.in-addr.arpa", "PTR", "example.com" },
	{ "65.2.0.192.in-addr.arpa", "PTR", "amy.example.com" },
	{ "66.2.0.192.in-addr.arpa", "PTR", "bob.example.com" },
	{ "129.2.0.192.in-addr.arpa", "PTR", "mail-a.example.com" },
	{ "130.2.0.192.in-addr.arpa", "PTR", "mail-b.example.com" },
	{ "140.2.0.192.in-addr.arpa", "PTR", "mail-c.example.org" },
	{ "4.0.0.10.in-addr.arpa", "PTR", "bob.example.com" },
	/* A.3, A.4 (their records at _spf.example.com) */
	{ "mobile-users._spf.example.com", "TXT",
	  "v=spf1 exists:%{l1r+}.%{d}" },
	{ "remote-users._spf.example.com", "TXT",
	  "v=spf1 exists:%{ir}.%{l1r+}.%{d}" },
	{ "mary.mobile-users._spf.example.com", "A", "127.0.0.2" },
	{ "15.15.168.192.joel.remote-users._spf.example.com", "A",
	  "127.0.0.2" },
	{ "ip4._spf.example.com", "TXT", "v=spf1 -ip4:192.0.2.0/24 +all" },
	{ "ptr._spf.example.com", "TXT", "v=spf1 -ptr:example.com +all" },
	{ NULL, NULL, NULL }
};

/* record for example.com, the addresses that pass, some that do not */
static const struct {
	const char *record, *sender, *pass[6], *nopass[4];
} appx[] = {
	{ "v=spf1 +all", "x@example.com",
	  { "192.0.2.1", "10.0.0.4" }, { NULL } },
	{ "v=spf1 a -all", "x@example.com",
	  { "192.0.2.10", "192.0.2.11" }, { "192.0.2.65", "192.0.2.129" } },
	{ "v=spf1 a:example.org -all", "x@example.com",
	  { NULL }, { "192.0.2.10", "192.0.2.140" } },
	{ "v=spf1 mx -all", "x@example.com",
	  { "192.0.2.129", "192.0.2.130" }, { "192.0.2.10", "192.0.2.140" } },
	{ "v=spf1 mx:example.org -all", "x@example.com",
	  { "192.0.2.140" }, { "192.0.2.129" } },
	{ "v=spf1 mx mx:example.org -all", "x@example.com",
	  { "192.0.2.129", "192.0.2.130", "192.0.2.140" }, { "192.0.2.10" } },
	{ "v=spf1 mx/30 mx:example.org/30 -all", "x@example.com",
	  { "192.0.2.128", "192.0.2.131", "192.0.2.140", "192.0.2.143" },
	  { "192.0.2.132", "192.0.2.144" } },
	{ "v=spf1 ptr -all", "x@example.com",
	  { "192.0.2.10", "192.0.2.11", "192.0.2.65", "192.0.2.66",
	    "192.0.2.129", "192.0.2.130" }, { "192.0.2.140", "10.0.0.4" } },
	{ "v=spf1 ip4:192.0.2.128/28 -all", "x@example.com",
	  { "192.0.2.128", "192.0.2.143" }, { "192.0.2.127", "192.0.2.144" } },
	/* A.3: mobile users by name, remote users by address and name */
	{ "v=spf1 mx include:mobile-users._spf.%{d} "
	  "include:remote-users._spf.%{d} -all", "mary@example.com",
	  { "192.0.2.129", "203.0.113.9" }, { NULL } },
	{ "v=spf1 mx include:mobile-users._spf.%{d} "
	  "include:remote-users._spf.%{d} -all", "joel@example.com",
	  { "192.168.15.15", "192.0.2.130" }, { "192.168.15.16" } },
	/* A.4: in 192.0.2.0/24 and a name in example.com */
	{ "v=spf1 -include:ip4._spf.%{d} -include:ptr._spf.%{d} +all",
	  "x@example.com", { "192.0.2.65", "192.0.2.129" },
	  { "192.0.2.140", "10.0.0.4", "192.0.2.200" } },
};

static void
test_appendix_a(void **state)
{
	(void)state;
	zone = appx_zone;
	for (size_t i = 0; i < sizeof(appx) / sizeof(appx[0]); i++) {
		appx_zone[0].value = appx[i].record;
		for (size_t j = 0; j < 6 && appx[i].pass[j] != NULL; j++)
			if (result_of(appx[i].pass[j], appx[i].sender) !=
			    SPF_PASS)
				fail_msg("%s: %s does not pass", appx[i].record,
					 appx[i].pass[j]);
		for (size_t j = 0; j < 4 && appx[i].nopass[j] != NULL; j++)
			if (result_of(appx[i].nopass[j], appx[i].sender) !=
			    SPF_FAIL)
				fail_msg("%s: %s does not fail", appx[i].record,
					 appx[i].nopass[j]);
	}
}

/* --- mechanisms ---------------------------------------------------- */

static const struct zrec mech_zone[] = {
	{ "all.test", "TXT", "v=spf1 -all" },
	{ "qual.test", "TXT", "v=spf1 ~ip4:192.0.2.1 ?ip4:192.0.2.2 "
	  "+ip4:192.0.2.3 -ip4:192.0.2.4" },
	{ "a.test", "TXT", "v=spf1 a a:host.a.test/24 -all" },
	{ "a.test", "A", "192.0.2.10" },
	{ "host.a.test", "A", "198.51.100.77" },
	{ "a6.test", "TXT", "v=spf1 a//48 -all" },
	{ "a6.test", "AAAA", "2001:db8:aa::1" },
	{ "mx.test", "TXT", "v=spf1 mx/31 -all" },
	{ "mx.test", "MX", "10 m1.mx.test" },
	{ "mx.test", "MX", "5 m2.mx.test" },
	{ "m1.mx.test", "A", "192.0.2.20" },
	{ "m2.mx.test", "A", "192.0.2.30" },
	{ "mxdot.test", "TXT", "v=spf1 mx -all" },
	{ "mxdot.test", "MX", "10 m1.mx.test." },	/* a root's dot */
	{ "ptr.test", "TXT", "v=spf1 ptr -all" },
	{ "1.2.0.192.in-addr.arpa", "PTR", "evil.test" },
	{ "1.2.0.192.in-addr.arpa", "PTR", "host.ptr.test" },
	{ "host.ptr.test", "A", "192.0.2.1" },
	{ "evil.test", "A", "192.0.2.1" },
	{ "2.2.0.192.in-addr.arpa", "PTR", "host2.ptr.test" },
	{ "host2.ptr.test", "A", "192.0.2.99" },	/* not validated */
	{ "ip6.test", "TXT", "v=spf1 ip6:2001:db8::/33 ip6:::1 -all" },
	{ "exists.test", "TXT", "v=spf1 exists:%{i}.bl.test -all" },
	{ "192.0.2.5.bl.test", "A", "127.0.0.2" },
	{ "2001:db8::5.bl.test", "A", "127.0.0.2" },	/* %{i} nibbles */
	{ NULL, NULL, NULL }
};

static void
test_mechanisms(void **state)
{
	struct run r;

	(void)state;
	zone = mech_zone;
	assert_int_equal(result_of("192.0.2.1", "x@all.test"), SPF_FAIL);
	assert_int_equal(result_of("192.0.2.1", "x@qual.test"), SPF_SOFTFAIL);
	assert_int_equal(result_of("192.0.2.2", "x@qual.test"), SPF_NEUTRAL);
	assert_int_equal(result_of("192.0.2.3", "x@qual.test"), SPF_PASS);
	assert_int_equal(result_of("192.0.2.4", "x@qual.test"), SPF_FAIL);
	assert_int_equal(result_of("192.0.2.5", "x@qual.test"), SPF_NEUTRAL);
	assert_int_equal(check(&r, "192.0.2.10", "x@a.test"), SPF_PASS);
	assert_string_equal(r.why, "a matched at a.test");
	assert_int_equal(r.lookups, 1);
	spf_free(&r.s);
	assert_int_equal(result_of("198.51.100.1", "x@a.test"), SPF_PASS);
	assert_int_equal(result_of("198.51.101.1", "x@a.test"), SPF_FAIL);
	assert_int_equal(result_of("2001:db8:aa:0:1::9", "x@a6.test"),
			 SPF_PASS);
	assert_int_equal(result_of("2001:db8:ab::1", "x@a6.test"), SPF_FAIL);
	assert_int_equal(result_of("192.0.2.21", "x@mx.test"), SPF_PASS);
	assert_int_equal(result_of("192.0.2.31", "x@mx.test"), SPF_PASS);
	assert_int_equal(result_of("192.0.2.22", "x@mx.test"), SPF_FAIL);
	assert_int_equal(result_of("192.0.2.20", "x@mxdot.test"), SPF_PASS);
	/* ptr: both names validate, one is in ptr.test */
	assert_int_equal(result_of("192.0.2.1", "x@ptr.test"), SPF_PASS);
	assert_int_equal(result_of("192.0.2.2", "x@ptr.test"), SPF_FAIL);
	assert_int_equal(result_of("2001:db8:7fff::1", "x@ip6.test"),
			 SPF_PASS);
	assert_int_equal(result_of("::1", "x@ip6.test"), SPF_PASS);
	assert_int_equal(result_of("2001:db8:8000::1", "x@ip6.test"),
			 SPF_FAIL);
	assert_int_equal(result_of("192.0.2.5", "x@exists.test"), SPF_PASS);
	assert_int_equal(result_of("192.0.2.6", "x@exists.test"), SPF_FAIL);
}

/* --- include, redirect, exp ---------------------------------------- */

static const struct zrec inc_zone[] = {
	{ "pass.test", "TXT", "v=spf1 +all" },
	{ "fail.test", "TXT", "v=spf1 -all" },
	{ "soft.test", "TXT", "v=spf1 ~all" },
	{ "neutral.test", "TXT", "v=spf1 ?all" },
	{ "perm.test", "TXT", "v=spf1 ip4:1.2.3" },
	{ "temp.test", "TEMP", "TXT" },
	{ "none.test", "A", "192.0.2.1" },
	{ "i-pass.test", "TXT", "v=spf1 -include:pass.test +all" },
	{ "i-fail.test", "TXT", "v=spf1 -include:fail.test +all" },
	{ "i-soft.test", "TXT", "v=spf1 -include:soft.test +all" },
	{ "i-neutral.test", "TXT", "v=spf1 -include:neutral.test +all" },
	{ "i-perm.test", "TXT", "v=spf1 include:perm.test +all" },
	{ "i-temp.test", "TXT", "v=spf1 include:temp.test +all" },
	{ "i-none.test", "TXT", "v=spf1 include:none.test +all" },
	{ "r.test", "TXT", "v=spf1 redirect=fail.test exp=e.r.test" },
	{ "e.r.test", "TXT", "not this one" },
	{ "r-none.test", "TXT", "v=spf1 redirect=none.test" },
	{ "r-all.test", "TXT", "v=spf1 redirect=fail.test ?all" },
	{ "r-p.test", "TXT", "v=spf1 redirect=%{p1r}.r.test" },
	{ "host.r.test", "TXT", "v=spf1 ip4:192.0.2.7 -all" },
	{ "7.2.0.192.in-addr.arpa", "PTR", "host.r.test" },
	{ "host.r.test", "A", "192.0.2.7" },
	{ "x.test", "TXT", "v=spf1 -all exp=e.%{d}" },
	{ "e.x.test", "TXT", "%{i} may not send for %{d} (%{p})" },
	{ "x2.test", "TXT", "v=spf1 -all exp=e.x2.test" },
	{ "e.x2.test", "TXT", "one" },
	{ "e.x2.test", "TXT", "two" },
	{ "x3.test", "TXT", "v=spf1 -all exp=e.x3.test" },
	{ "e.x3.test", "TEMP", "TXT" },
	{ "x4.test", "TXT", "v=spf1 ~all exp=e.x.test" },
	{ "x5.test", "TXT", "v=spf1 -all exp=e.x5.test" },
	{ "x6.test", "TXT", "v=spf1 -all exp=e.x6.test" },
	{ "e.x6.test", "TXT", "%{r} %{t} %{c} %{h} %{S}" },
	{ "e.x5.test", "TXT", "bad %{z} macro" },
	{ NULL, NULL, NULL }
};

static void
test_include_table(void **state)
{
	(void)state;
	zone = inc_zone;
	/* 5.2: pass matches; fail, softfail, neutral do not; temperror,
	 * permerror and none are errors */
	assert_int_equal(result_of("192.0.2.1", "x@i-pass.test"), SPF_FAIL);
	assert_int_equal(result_of("192.0.2.1", "x@i-fail.test"), SPF_PASS);
	assert_int_equal(result_of("192.0.2.1", "x@i-soft.test"), SPF_PASS);
	assert_int_equal(result_of("192.0.2.1", "x@i-neutral.test"),
			 SPF_PASS);
	assert_int_equal(result_of("192.0.2.1", "x@i-perm.test"),
			 SPF_PERMERROR);
	assert_int_equal(result_of("192.0.2.1", "x@i-temp.test"),
			 SPF_TEMPERROR);
	assert_int_equal(result_of("192.0.2.1", "x@i-none.test"),
			 SPF_PERMERROR);
}

static void
test_redirect_and_exp(void **state)
{
	struct run r;

	(void)state;
	zone = inc_zone;
	/* redirect: the target's result, not the redirecting exp= (6.2) */
	assert_int_equal(check(&r, "192.0.2.1", "x@r.test"), SPF_FAIL);
	assert_null(r.exp);
	spf_free(&r.s);
	assert_int_equal(result_of("192.0.2.1", "x@r-none.test"),
			 SPF_PERMERROR);
	/* 6.1: ignored when the record has "all" */
	assert_int_equal(result_of("192.0.2.1", "x@r-all.test"), SPF_NEUTRAL);
	/* %{p} in redirect=: the PTR procedure first */
	assert_int_equal(result_of("192.0.2.7", "x@r-p.test"), SPF_PASS);
	assert_int_equal(result_of("192.0.2.8", "x@r-p.test"), SPF_PERMERROR);
	/* exp=: expanded, with %{p}; none for other results */
	assert_int_equal(check(&r, "192.0.2.1", "x@x.test"), SPF_FAIL);
	assert_string_equal(r.exp, "192.0.2.1 may not send for x.test "
			    "(unknown)");
	assert_int_equal(r.lookups, 0);	/* exp= is not counted */
	spf_free(&r.s);
	/* two TXT, a DNS error, bad macros: as if there were no exp= */
	assert_int_equal(check(&r, "192.0.2.1", "x@x2.test"), SPF_FAIL);
	assert_null(r.exp);
	spf_free(&r.s);
	assert_int_equal(check(&r, "192.0.2.1", "x@x3.test"), SPF_FAIL);
	assert_null(r.exp);
	spf_free(&r.s);
	assert_int_equal(check(&r, "192.0.2.1", "x@x5.test"), SPF_FAIL);
	assert_null(r.exp);
	spf_free(&r.s);
	/* c, r, t in an explanation; a receiver name that does not fit is
	 * "unknown" (7.3) */
	assert_int_equal(check(&r, "2001:db8::1", "x y@x6.test"), SPF_FAIL);
	assert_string_equal(r.exp, "mx.us.test 1700000000 2001:db8::1 "
			    "helo.test x%20y%40x6.test");
	spf_free(&r.s);
	char bigname[300];
	unsigned char ip4[4] = { 192, 0, 2, 1 };
	struct dnsq_question q;
	struct dnsq_answer a;

	memset(bigname, 'r', sizeof(bigname) - 1);
	bigname[sizeof(bigname) - 1] = '\0';
	r.s = spf_new(NULL, AF_INET, ip4, "x6.test", "x@x6.test", "h.test",
		      bigname, 0);
	while (spf_next(r.s, &q)) {
		answer(&q, &a);
		spf_answer(r.s, &a);
		dnsq_answer_free(&a);
	}
	assert_int_equal(spf_result(r.s, NULL, &r.exp), SPF_FAIL);
	assert_string_equal(r.exp, "unknown 0 192.0.2.1 h.test x%40x6.test");
	spf_free(&r.s);
	assert_int_equal(check(&r, "192.0.2.1", "x@x4.test"), SPF_SOFTFAIL);
	assert_null(r.exp);
	spf_free(&r.s);
}

/* --- limits (4.6.4) ------------------------------------------------ */

static const struct zrec lim_zone[] = {
	{ "l10.test", "TXT", "v=spf1 include:c1.test -all" },
	{ "c1.test", "TXT", "v=spf1 include:c2.test" },
	{ "c2.test", "TXT", "v=spf1 include:c3.test" },
	{ "c3.test", "TXT", "v=spf1 include:c4.test" },
	{ "c4.test", "TXT", "v=spf1 include:c5.test" },
	{ "c5.test", "TXT", "v=spf1 include:c6.test" },
	{ "c6.test", "TXT", "v=spf1 include:c7.test" },
	{ "c7.test", "TXT", "v=spf1 include:c8.test" },
	{ "c8.test", "TXT", "v=spf1 include:c9.test" },
	{ "c9.test", "TXT", "v=spf1 a:c9.test" },
	{ "c9.test", "A", "192.0.2.9" },
	{ "l11.test", "TXT", "v=spf1 include:c1.test a -all" },
	{ "void2.test", "TXT", "v=spf1 a:nx1.test mx:nx2.test -all" },
	{ "void3.test", "TXT", "v=spf1 a:nx1.test mx:nx2.test "
	  "exists:nx3.test -all" },
	{ "voidptr.test", "TXT", "v=spf1 ptr ptr ptr -all" },
	{ "mx10.test", "TXT", "v=spf1 mx -all" },
	{ "mx11.test", "TXT", "v=spf1 mx -all" },
	{ "ptr11.test", "TXT", "v=spf1 ptr -all" },
	{ NULL, NULL, NULL }
};

static struct zrec *
big_zone(void)
{
	static char names[24][64], ptrs[12][64];
	static struct zrec z[64];
	size_t n = 0;

	memcpy(z, lim_zone, sizeof(lim_zone));
	n = sizeof(lim_zone) / sizeof(lim_zone[0]) - 1;
	for (int i = 0; i < 11; i++) {	/* mx10: 10 names, mx11: 11 */
		snprintf(names[i], sizeof(names[i]), "%d h%d.mx.test", i, i);
		z[n++] = (struct zrec){ "mx11.test", "MX", names[i] };
		if (i < 10)
			z[n++] = (struct zrec){ "mx10.test", "MX", names[i] };
	}
	for (int i = 0; i < 11; i++) {	/* the 11th PTR name is ignored */
		snprintf(ptrs[i], sizeof(ptrs[i]), "p%d.ptr11.test", i);
		z[n++] = (struct zrec){ "1.2.0.192.in-addr.arpa", "PTR",
					ptrs[i] };
	}
	z[n++] = (struct zrec){ "p10.ptr11.test", "A", "192.0.2.1" };
	z[n++] = (struct zrec){ "h9.mx.test", "A", "192.0.2.1" };
	z[n] = (struct zrec){ NULL, NULL, NULL };
	return z;
}

static void
test_limits(void **state)
{
	struct spf_limits lim = { 3, 1, 2, 1 };
	struct run r;

	(void)state;
	zone = big_zone();
	/* 10 lookups (9 includes, one a) are allowed ... */
	assert_int_equal(check(&r, "192.0.2.9", "x@l10.test"), SPF_PASS);
	assert_int_equal(r.lookups, 10);
	spf_free(&r.s);
	/* ... the 11th is a permerror before it is asked */
	assert_int_equal(check(&r, "192.0.2.1", "x@l11.test"), SPF_PERMERROR);
	assert_int_equal(r.lookups, 10);
	assert_non_null(strstr(r.why, "more than 10 DNS lookups"));
	spf_free(&r.s);
	/* void lookups: 2 fine, the 3rd a permerror */
	assert_int_equal(check(&r, "192.0.2.1", "x@void2.test"), SPF_FAIL);
	assert_int_equal(r.voids, 2);
	spf_free(&r.s);
	assert_int_equal(check(&r, "192.0.2.1", "x@void3.test"),
			 SPF_PERMERROR);
	assert_non_null(strstr(r.why, "void"));
	spf_free(&r.s);
	/* a void PTR counts for each ptr term */
	assert_int_equal(result_of("192.0.2.200", "x@voidptr.test"),
			 SPF_PERMERROR);
	/* 10 MX names are looked at, 11 are a permerror */
	assert_int_equal(result_of("192.0.2.1", "x@mx10.test"), SPF_PASS);
	assert_int_equal(result_of("192.0.2.1", "x@mx11.test"),
			 SPF_PERMERROR);
	/* the 11th PTR name is not looked at */
	assert_int_equal(result_of("192.0.2.1", "x@ptr11.test"), SPF_FAIL);
	/* the caller's limits */
	check_lim(&r, &lim, "192.0.2.9", "x@l10.test", "h.test", "l10.test");
	assert_int_equal(r.res, SPF_PERMERROR);
	assert_int_equal(r.lookups, 3);
	spf_free(&r.s);
	check_lim(&r, &lim, "192.0.2.1", "x@void2.test", "h.test",
		  "void2.test");
	assert_int_equal(r.res, SPF_PERMERROR);
	spf_free(&r.s);
	check_lim(&r, &lim, "192.0.2.1", "x@mx10.test", "h.test",
		  "mx10.test");
	assert_int_equal(r.res, SPF_PERMERROR);
	spf_free(&r.s);
}

/* --- records: selection and syntax (4.5, 4.6) ---------------------- */

static const struct zrec syn_zone[] = {
	{ "two.test", "TXT", "v=spf1 +all" },
	{ "two.test", "TXT", "v=spf1 -all" },
	{ "other.test", "TXT", "v=spf1x +all" },
	{ "other.test", "TXT", "spf2.0/pra +all" },
	{ "empty.test", "TXT", "v=spf1" },
	{ "nul.test", "TXT", "v=spf1 -all" },
	{ "temp.test", "TEMP", "TXT" },
	{ "atemp.test", "TXT", "v=spf1 a:t.atemp.test -all" },
	{ "t.atemp.test", "TEMP", "A" },
	{ "ptrtemp.test", "TXT", "v=spf1 ptr -all" },
	{ "1.2.0.192.in-addr.arpa", "TEMP", "PTR" },
	{ NULL, NULL, NULL }
};

static void
test_records(void **state)
{
	static const char *const bad[] = {
		"v=spf1 foo", "v=spf1 a:", "v=spf1 a:foo", "v=spf1 a/33",
		"v=spf1 a//129", "v=spf1 a/024", "v=spf1 ip4:1.2.3.4/33",
		"v=spf1 ip4:01.2.3.4", "v=spf1 ip4:1.2.3", "v=spf1 ip4",
		"v=spf1 ip4:1.2.3.4//32", "v=spf1 ip6:2001:db8::/129",
		"v=spf1 ip6:2001:gb8::", "v=spf1 include", "v=spf1 exists",
		"v=spf1 include:x.test/24", "v=spf1 ptr/24", "v=spf1 -all:x",
		"v=spf1 redirect=a.test redirect=b.test",
		"v=spf1 exp=a.test exp=b.test", "v=spf1 redirect=",
		"v=spf1 foo=%{z}", "v=spf1 =a", "v=spf1 *all",
		"v=spf1 -all\tx", "v=spf1 a:x.%{c}.test",
		"v=spf1 a:t\xc3\xa9st.test",
	};
	static const char *const good[] = {
		"v=spf1", "v=spf1 ", "v=spf1 -all", "V=SPF1 -ALL",
		"v=spf1 a/24//64 mx:%{d}/30 ptr:x.test ip4:1.2.3.4/0",
		"v=spf1 ip6:::1 ip6:2001:db8::/32 ip4:192.0.2.0/24",
		"v=spf1 foo=bar moo= x.y-z_w=%{d} -all",
		"v=spf1 redirect=%{d2} exp=x.%{d}",
		"v=spf1 exists:%{ir}.%{l1r+}.%{d} include:_spf.x.test",
	};
	struct spf_record rec;
	const char *err;
	struct run r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		assert_int_equal(spf_record_parse(bad[i], strlen(bad[i]),
						  &rec, &err), -1);
		assert_non_null(err);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(spf_record_parse(good[i], strlen(good[i]),
						  &rec, &err), 0);
		spf_record_free(&rec);
	}
	zone = syn_zone;
	assert_int_equal(check(&r, "192.0.2.1", "x@two.test"), SPF_PERMERROR);
	assert_non_null(strstr(r.why, "more than one"));
	spf_free(&r.s);
	assert_int_equal(result_of("192.0.2.1", "x@other.test"), SPF_NONE);
	/* a record over SPF_RECORD_MAX octets is a permerror */
	static char big[SPF_RECORD_MAX + 2];
	static struct zrec big_zone_[] = {
		{ "big.test", "TXT", big }, { NULL, NULL, NULL } };

	memset(big, ' ', SPF_RECORD_MAX);
	memcpy(big, "v=spf1", 6);
	memcpy(big + SPF_RECORD_MAX - 4, "-all", 4);
	zone = big_zone_;
	assert_int_equal(result_of("192.0.2.1", "x@big.test"), SPF_FAIL);
	big[SPF_RECORD_MAX] = ' ';
	assert_int_equal(result_of("192.0.2.1", "x@big.test"), SPF_PERMERROR);
	zone = syn_zone;
	assert_int_equal(result_of("192.0.2.1", "x@nowhere.test"), SPF_NONE);
	assert_int_equal(result_of("192.0.2.1", "x@empty.test"), SPF_NEUTRAL);
	assert_int_equal(result_of("192.0.2.1", "x@temp.test"), SPF_TEMPERROR);
	assert_int_equal(result_of("192.0.2.1", "x@atemp.test"),
			 SPF_TEMPERROR);
	/* 5.5: a PTR lookup error makes ptr not match */
	assert_int_equal(result_of("192.0.2.1", "x@ptrtemp.test"), SPF_FAIL);
}

static void
test_domain_and_sender(void **state)
{
	struct run r;
	char longname[300];

	(void)state;
	zone = syn_zone;
	/* 4.3: a malformed or single-label domain is none, nothing asked */
	memset(longname, 'a', 70);
	memcpy(longname + 70, ".test", 6);
	check_lim(&r, NULL, "192.0.2.1", "x@y", "h", longname);
	assert_int_equal(r.res, SPF_NONE);
	assert_int_equal(asked, 0);
	spf_free(&r.s);
	check_lim(&r, NULL, "192.0.2.1", "x@localhost", "h", "localhost");
	assert_int_equal(r.res, SPF_NONE);
	spf_free(&r.s);
	check_lim(&r, NULL, "192.0.2.1", "x@a..test", "h", "a..test");
	assert_int_equal(r.res, SPF_NONE);
	spf_free(&r.s);
	/* a trailing dot is the root's */
	check_lim(&r, NULL, "192.0.2.1", "x@two.test.", "h", "two.test.");
	assert_int_equal(r.res, SPF_PERMERROR);
	spf_free(&r.s);
	/* the question is the same until it is answered */
	unsigned char ip[4] = { 192, 0, 2, 1 };
	struct dnsq_question q1, q2;
	struct spf *s = spf_new(NULL, AF_INET, ip, "Two.TEST", "", "h.test",
				NULL, 0);

	assert_true(spf_next(s, &q1));
	assert_true(spf_next(s, &q2));
	assert_int_equal(q1.type, DNSQ_TXT);
	assert_string_equal(q1.name, "two.test");	/* lower case */
	assert_string_equal(q2.name, q1.name);
	assert_int_equal(spf_result(s, NULL, NULL), SPF_TEMPERROR);
	spf_free(&s);
	/* no client address */
	s = spf_new(NULL, 99, ip, "two.test", "", "h.test", NULL, 0);
	assert_false(spf_next(s, &q1));
	assert_int_equal(spf_result(s, NULL, NULL), SPF_NONE);
	spf_free(&s);
	spf_free(&s);	/* NULL is fine */
	/* an over-long sender is none, nothing asked */
	char longsender[600];

	memset(longsender, 'l', sizeof(longsender) - 1);
	longsender[sizeof(longsender) - 1] = '\0';
	longsender[550] = '@';
	s = spf_new(NULL, AF_INET, ip, "two.test", longsender, "h.test",
		    NULL, 0);
	assert_false(spf_next(s, &q1));
	assert_int_equal(spf_result(s, NULL, NULL), SPF_NONE);
	/* an answer nobody asked for is ignored */
	struct dnsq_answer none = { .status = DNSQ_TEMP };

	spf_answer(s, &none);
	assert_int_equal(spf_result(s, NULL, NULL), SPF_NONE);
	spf_free(&s);
	assert_string_equal(spf_result_name(SPF_SOFTFAIL), "softfail");
	assert_string_equal(spf_result_name(SPF_PERMERROR), "permerror");
}

static const struct zrec null_zone[] = {
	{ "helo.test", "TXT", "v=spf1 exists:%{l}.%{o}.%{s}.q.test -all" },
	{ "postmaster.helo.test.postmaster@helo.test.q.test", "A",
	  "127.0.0.2" },
	{ "v4.test", "TXT", "v=spf1 exists:%{i}.%{v}.q.test -all" },
	{ "192.0.2.1.in-addr.q.test", "A", "127.0.0.2" },
	{ NULL, NULL, NULL }
};

static void
test_null_sender_and_mapped(void **state)
{
	struct run r;
	unsigned char mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
				     192, 0, 2, 1 };
	struct dnsq_question q;
	struct dnsq_answer a;
	struct spf *s;

	(void)state;
	zone = null_zone;
	/* 2.4: the null path is postmaster@helo */
	check_lim(&r, NULL, "192.0.2.1", "", "helo.test", "helo.test");
	assert_int_equal(r.res, SPF_PASS);
	spf_free(&r.s);
	/* an IPv4-mapped address is checked as IPv4 */
	s = spf_new(NULL, AF_INET6, mapped, "v4.test", "x@v4.test", "h",
		    NULL, 0);
	while (spf_next(s, &q)) {
		answer(&q, &a);
		spf_answer(s, &a);
		dnsq_answer_free(&a);
	}
	assert_int_equal(spf_result(s, NULL, NULL), SPF_PASS);
	spf_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_macro_rfc_examples),
		cmocka_unit_test(test_macro_rules),
		cmocka_unit_test(test_appendix_a),
		cmocka_unit_test(test_mechanisms),
		cmocka_unit_test(test_include_table),
		cmocka_unit_test(test_redirect_and_exp),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_domain_and_sender),
		cmocka_unit_test(test_null_sender_and_mapped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
