/*
 * Unit tests for relay/resolve (the DNS answer parser, fed crafted wire
 * answers, and the PTR names) and relay/dnscache (TTLs on an injected
 * clock, the byte bound and its LRU eviction, negative answers, TEMP
 * never kept, several threads at once).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/conf.h"
#include "msgauth/dnsq.h"
#include "relay/dnscache.h"
#include "relay/resolve.h"

/* --- a wire-format message builder ------------------------------------ */

struct pkt {
	unsigned char b[4096];
	size_t n;
};

static void
put8(struct pkt *p, unsigned v)
{
	p->b[p->n++] = (unsigned char)v;
}

static void
put16(struct pkt *p, unsigned v)
{
	put8(p, v >> 8);
	put8(p, v & 0xff);
}

static void
put32(struct pkt *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p, v & 0xffff);
}

static void
putname(struct pkt *p, const char *name)
{
	while (*name != '\0') {
		const char *dot = strchr(name, '.');
		size_t l = dot != NULL ? (size_t)(dot - name) : strlen(name);

		put8(p, (unsigned)l);
		memcpy(p->b + p->n, name, l);
		p->n += l;
		name += l + (dot != NULL);
	}
	put8(p, 0);
}

#define QR 0x8000
#define TC 0x0200
#define RD 0x0100
#define RA 0x0080

/* A header and one question; counts of the answer, authority sections. */
static void
start(struct pkt *p, unsigned flags, const char *qname, unsigned qtype,
      unsigned an, unsigned ns)
{
	p->n = 0;
	put16(p, 0x1234);
	put16(p, flags);
	put16(p, 1);
	put16(p, an);
	put16(p, ns);
	put16(p, 0);
	putname(p, qname);
	put16(p, qtype);
	put16(p, 1);
}

/* A record's head; its RDLENGTH's position, for rr_end(). */
static size_t
rr_start(struct pkt *p, const char *name, unsigned type, uint32_t ttl)
{
	size_t at;

	putname(p, name);
	put16(p, type);
	put16(p, 1);
	put32(p, ttl);
	at = p->n;
	put16(p, 0);
	return at;
}

static void
rr_end(struct pkt *p, size_t at)
{
	size_t len = p->n - at - 2;

	p->b[at] = (unsigned char)(len >> 8);
	p->b[at + 1] = (unsigned char)(len & 0xff);
}

static void
rr_txt(struct pkt *p, const char *name, uint32_t ttl, const char **strs)
{
	size_t at = rr_start(p, name, 16, ttl);

	for (; *strs != NULL; strs++) {
		put8(p, (unsigned)strlen(*strs));
		memcpy(p->b + p->n, *strs, strlen(*strs));
		p->n += strlen(*strs);
	}
	rr_end(p, at);
}

static void
rr_name(struct pkt *p, const char *name, unsigned type, uint32_t ttl,
	int pref, const char *target)
{
	size_t at = rr_start(p, name, type, ttl);

	if (pref >= 0)
		put16(p, (unsigned)pref);
	putname(p, target);
	rr_end(p, at);
}

static void
rr_soa(struct pkt *p, const char *zone, uint32_t ttl, uint32_t minimum)
{
	size_t at = rr_start(p, zone, 6, ttl);

	putname(p, "ns.example.org");
	putname(p, "hostmaster.example.org");
	put32(p, 2026120401);
	put32(p, 7200);
	put32(p, 900);
	put32(p, 1209600);
	put32(p, minimum);
	rr_end(p, at);
}

static struct dnsq_question
question(enum dnsq_type t, const char *name)
{
	struct dnsq_question q;

	assert_int_equal(resolve_question(&q, t, name), 0);
	return q;
}

static int
parse(const char *qname, enum dnsq_type t, const struct pkt *p,
      struct dnsq_answer *a)
{
	struct dnsq_question q = question(t, qname);
	const char *why;

	return resolve_parse(&q, p->b, p->n, a, &why);
}

/* --- the parser ---------------------------------------------------------- */

static void
test_txt_several_strings(void **st)
{
	static const char *spf[] = {"v=spf1 ip4:192.0.2.1 ", "mx -all", NULL};
	static const char *other[] = {"google-site-verification=x", NULL};
	struct dnsq_answer a;
	struct pkt p;

	(void)st;
	start(&p, QR | RD | RA, "Example.ORG", 16, 2, 0);
	rr_txt(&p, "example.org", 300, spf);
	rr_txt(&p, "EXAMPLE.org", 120, other);
	assert_int_equal(parse("example.org", DNSQ_TXT, &p, &a), 0);
	assert_int_equal(a.status, DNSQ_OK);
	assert_int_equal(a.n, 2);
	assert_string_equal(a.rr[0].text, "v=spf1 ip4:192.0.2.1 mx -all");
	assert_int_equal(a.rr[0].len, strlen(a.rr[0].text));
	assert_string_equal(a.rr[1].text, "google-site-verification=x");
	assert_int_equal(a.ttl, 120); /* the smallest of the RRset */
	dnsq_answer_free(&a);
}

static void
test_txt_empty_string_and_nul(void **st)
{
	struct dnsq_answer a;
	struct pkt p;
	size_t at;

	(void)st;
	start(&p, QR, "example.org", 16, 1, 0);
	at = rr_start(&p, "example.org", 16, 60);
	put8(&p, 0);		/* "" */
	put8(&p, 3);		/* "a\0b" */
	put8(&p, 'a');
	put8(&p, 0);
	put8(&p, 'b');
	rr_end(&p, at);
	assert_int_equal(parse("example.org", DNSQ_TXT, &p, &a), 0);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.rr[0].len, 3);
	assert_memory_equal(a.rr[0].text, "a\0b", 4);
	dnsq_answer_free(&a);
}

static void
test_cname_then_txt(void **st)
{
	static const char *rec[] = {"v=DKIM1; p=abc", NULL};
	static const char *junk[] = {"not ours", NULL};
	struct dnsq_answer a;
	struct pkt p;

	(void)st;
	start(&p, QR | RA, "s._domainkey.example.org", 16, 4, 0);
	rr_txt(&p, "elsewhere.example", 5, junk); /* not on the chain */
	rr_name(&p, "s._domainkey.example.org", 5, 600, -1,
		"s.keys.example.net");
	rr_name(&p, "s.keys.example.net", 5, 400, -1, "final.example.net");
	rr_txt(&p, "final.example.net", 3600, rec);
	assert_int_equal(parse("s._domainkey.example.org", DNSQ_TXT, &p, &a),
			 0);
	assert_int_equal(a.status, DNSQ_OK);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.rr[0].text, "v=DKIM1; p=abc");
	assert_int_equal(a.ttl, 400); /* the chain's smallest */
	dnsq_answer_free(&a);
}

static void
test_cname_loop_is_temp(void **st)
{
	struct dnsq_answer a;
	struct pkt p;

	(void)st;
	start(&p, QR, "a.example.org", 16, 2, 0);
	rr_name(&p, "a.example.org", 5, 60, -1, "b.example.org");
	rr_name(&p, "b.example.org", 5, 60, -1, "a.example.org");
	assert_int_equal(parse("a.example.org", DNSQ_TXT, &p, &a), -1);
	assert_int_equal(a.status, DNSQ_TEMP);
	assert_int_equal(a.n, 0);
}

static void
test_cname_to_nothing_is_nodata(void **st)
{
	struct dnsq_answer a;
	struct pkt p;

	(void)st;
	start(&p, QR, "a.example.org", 1, 1, 1);
	rr_name(&p, "a.example.org", 5, 60, -1, "b.example.org");
	rr_soa(&p, "example.org", 3600, 30);
	assert_int_equal(parse("a.example.org", DNSQ_A, &p, &a), 0);
	assert_int_equal(a.status, DNSQ_NODATA);
	assert_int_equal(a.ttl, 30);
}

static void
test_truncated(void **st)
{
	struct dnsq_answer a;
	struct pkt p;

	(void)st;
	start(&p, QR | TC, "example.org", 16, 0, 0);
	assert_int_equal(parse("example.org", DNSQ_TXT, &p, &a), 1);
	assert_int_equal(a.status, DNSQ_TEMP);
}

static void
test_mismatched_question(void **st)
{
	struct dnsq_answer a;
	struct pkt p;
	const char *why;
	struct dnsq_question q = question(DNSQ_A, "example.org");

	(void)st;
	start(&p, QR, "example.net", 1, 1, 0);
	rr_name(&p, "example.net", 12, 60, -1, "x.example.net");
	assert_int_equal(parse("example.org", DNSQ_A, &p, &a), -1);
	start(&p, QR, "example.org", 28, 0, 0); /* AAAA, not A */
	assert_int_equal(resolve_parse(&q, p.b, p.n, &a, &why), -1);
	assert_string_equal(why, "DNS answer to another question");
	start(&p, 0, "example.org", 1, 0, 0); /* a query, not a reply */
	assert_int_equal(parse("example.org", DNSQ_A, &p, &a), -1);
	start(&p, QR, "example.org", 1, 0, 0);
	p.b[5] = 2; /* two questions */
	assert_int_equal(parse("example.org", DNSQ_A, &p, &a), -1);
}

static void
test_nxdomain_with_soa(void **st)
{
	struct dnsq_answer a;
	struct pkt p;

	(void)st;
	start(&p, QR | 3, "nx.example.org", 16, 0, 1);
	rr_soa(&p, "example.org", 900, 3600);
	assert_int_equal(parse("nx.example.org", DNSQ_TXT, &p, &a), 0);
	assert_int_equal(a.status, DNSQ_NXDOMAIN);
	assert_int_equal(a.n, 0);
	assert_int_equal(a.ttl, 900); /* min(SOA TTL, MINIMUM) */
	start(&p, QR | 3, "nx.example.org", 16, 0, 1);
	rr_soa(&p, "example.org", 900, 60);
	assert_int_equal(parse("nx.example.org", DNSQ_TXT, &p, &a), 0);
	assert_int_equal(a.ttl, 60);
	/* without a SOA: not to be kept */
	start(&p, QR | 3, "nx.example.org", 16, 0, 0);
	assert_int_equal(parse("nx.example.org", DNSQ_TXT, &p, &a), 0);
	assert_int_equal(a.status, DNSQ_NXDOMAIN);
	assert_int_equal(a.ttl, 0);
}

static void
test_nodata_and_servfail(void **st)
{
	struct dnsq_answer a;
	struct pkt p;
	const char *why;
	struct dnsq_question q = question(DNSQ_MX, "example.org");

	(void)st;
	start(&p, QR, "example.org", 15, 0, 1);
	rr_soa(&p, "example.org", 300, 300);
	assert_int_equal(parse("example.org", DNSQ_MX, &p, &a), 0);
	assert_int_equal(a.status, DNSQ_NODATA);
	assert_int_equal(a.ttl, 300);
	start(&p, QR | 2, "example.org", 15, 0, 0);
	assert_int_equal(resolve_parse(&q, p.b, p.n, &a, &why), 0);
	assert_int_equal(a.status, DNSQ_TEMP);
	assert_string_equal(why, "SERVFAIL");
}

static void
test_a_aaaa_mx_ptr(void **st)
{
	struct dnsq_answer a;
	struct pkt p;
	size_t at;

	(void)st;
	start(&p, QR, "mx.example.org", 1, 2, 0);
	at = rr_start(&p, "mx.example.org", 1, 60);
	put32(&p, 0xc0000201);
	rr_end(&p, at);
	at = rr_start(&p, "mx.example.org", 1, 60);
	put32(&p, 0xc0000202);
	rr_end(&p, at);
	assert_int_equal(parse("mx.example.org.", DNSQ_A, &p, &a), 0);
	assert_int_equal(a.n, 2);
	assert_memory_equal(a.rr[1].addr, "\xc0\x00\x02\x02", 4);
	dnsq_answer_free(&a);

	start(&p, QR, "mx.example.org", 28, 1, 0);
	at = rr_start(&p, "mx.example.org", 28, 60);
	for (int i = 0; i < 15; i++)
		put8(&p, 0x20);
	put8(&p, 1);
	rr_end(&p, at);
	assert_int_equal(parse("mx.example.org", DNSQ_AAAA, &p, &a), 0);
	assert_int_equal(a.rr[0].addr[15], 1);
	dnsq_answer_free(&a);

	start(&p, QR, "mx.example.org", 28, 1, 0); /* 5 octets: broken */
	at = rr_start(&p, "mx.example.org", 28, 60);
	put32(&p, 1);
	put8(&p, 1);
	rr_end(&p, at);
	assert_int_equal(parse("mx.example.org", DNSQ_AAAA, &p, &a), -1);

	start(&p, QR, "example.org", 15, 2, 0);
	rr_name(&p, "example.org", 15, 60, 20, "MX2.Example.org");
	rr_name(&p, "example.org", 15, 60, 10, "");
	assert_int_equal(parse("example.org", DNSQ_MX, &p, &a), 0);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.rr[0].pref, 20);
	assert_string_equal(a.rr[0].text, "mx2.example.org");
	assert_string_equal(a.rr[1].text, ""); /* null MX */
	dnsq_answer_free(&a);

	start(&p, QR, "1.2.0.192.in-addr.arpa", 12, 1, 0);
	rr_name(&p, "1.2.0.192.in-addr.arpa", 12, 60, -1, "mx.example.org");
	assert_int_equal(parse("1.2.0.192.in-addr.arpa", DNSQ_PTR, &p, &a), 0);
	assert_string_equal(a.rr[0].text, "mx.example.org");
	dnsq_answer_free(&a);
}

static void
test_bad_txt_and_every_prefix(void **st)
{
	static const char *strs[] = {"one", "two", NULL};
	struct dnsq_answer a;
	struct pkt p, cut;
	size_t at;

	(void)st;
	start(&p, QR, "example.org", 16, 1, 0);
	at = rr_start(&p, "example.org", 16, 60);
	put8(&p, 9); /* a string longer than the data */
	put8(&p, 'x');
	rr_end(&p, at);
	assert_int_equal(parse("example.org", DNSQ_TXT, &p, &a), -1);
	/* every cut of a good answer: an error or an answer, never a crash */
	start(&p, QR, "example.org", 16, 2, 1);
	rr_txt(&p, "example.org", 60, strs);
	rr_txt(&p, "example.org", 60, strs);
	rr_soa(&p, "example.org", 60, 60);
	for (size_t n = 0; n < p.n; n++) {
		memcpy(cut.b, p.b, n);
		cut.n = n;
		assert_int_equal(parse("example.org", DNSQ_TXT, &cut, &a), -1);
		assert_int_equal(a.n, 0);
	}
	assert_int_equal(parse("example.org", DNSQ_TXT, &p, &a), 0);
	assert_int_equal(a.n, 2);
	dnsq_answer_free(&a);
}

static void
test_ptr_names(void **st)
{
	char out[RESOLVE_PTR_NAME_MAX];

	(void)st;
	assert_int_equal(resolve_ptr_name_text("192.0.2.7", out, sizeof(out)),
			 0);
	assert_string_equal(out, "7.2.0.192.in-addr.arpa");
	assert_int_equal(resolve_ptr_name_text("2001:db8::567:89ab", out,
					       sizeof(out)), 0);
	assert_string_equal(out, "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
				 "0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	assert_int_equal(strlen(out) + 1, RESOLVE_PTR_NAME_MAX);
	assert_int_equal(resolve_ptr_name_text("example.org", out,
					       sizeof(out)), -1);
	assert_int_equal(resolve_ptr_name_text("192.0.2.7", out, 10), -1);
}

static void
test_question(void **st)
{
	struct dnsq_question q;
	char big[300];

	(void)st;
	assert_int_equal(resolve_question(&q, DNSQ_TXT, "_DMARC.Example.ORG."),
			 0);
	assert_string_equal(q.name, "_dmarc.example.org");
	assert_int_equal(resolve_question(&q, DNSQ_TXT, "."), -1);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(resolve_question(&q, DNSQ_TXT, big), -1);
}

/* --- the cache ----------------------------------------------------------- */

static uint64_t fake_now = 1000;

static uint64_t
fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

/* An answer of status s, ttl, with one TXT record of len octets. */
static struct dnsq_answer
answer(enum dnsq_status s, uint32_t ttl, size_t len)
{
	struct dnsq_answer a = {.status = s, .ttl = ttl};
	char *text = calloc(1, len + 1);

	memset(text, 'x', len);
	if (s == DNSQ_OK)
		assert_int_equal(dnsq_answer_add(&a, NULL, 0, 0, text, len),
				 0);
	free(text);
	return a;
}

static void
put_answer(struct dnscache *c, const char *name, enum dnsq_status s,
	   uint32_t ttl, size_t len)
{
	struct dnsq_question q = question(DNSQ_TXT, name);
	struct dnsq_answer a = answer(s, ttl, len);

	dnscache_put(c, &q, &a);
	dnsq_answer_free(&a);
}

/* 1 if name is cached; its remaining TTL into *ttl. */
static int
cached(struct dnscache *c, const char *name, uint32_t *ttl)
{
	struct dnsq_question q = question(DNSQ_TXT, name);
	struct dnsq_answer a;
	int hit = dnscache_get(c, &q, &a);

	if (hit) {
		if (ttl != NULL)
			*ttl = a.ttl;
		dnsq_answer_free(&a);
	}
	return hit;
}

static void
test_cache_ttl_expiry(void **st)
{
	struct dnscache *c = dnscache_new(1 << 20, 86400, 3600, fake_clock,
					  NULL);
	struct dnscache_stats s;
	uint32_t ttl;

	(void)st;
	fake_now = 1000;
	put_answer(c, "a.example", DNSQ_OK, 60, 10);
	put_answer(c, "b.example", DNSQ_OK, 200000, 10); /* capped: 1d */
	fake_now = 1059;
	assert_true(cached(c, "a.example", &ttl));
	assert_int_equal(ttl, 1);
	assert_true(cached(c, "A.EXAMPLE", NULL)); /* names in any case */
	fake_now = 1060;
	assert_false(cached(c, "a.example", NULL));
	fake_now = 1000 + 86399;
	assert_true(cached(c, "b.example", &ttl));
	assert_int_equal(ttl, 1);
	fake_now = 1000 + 86400;
	assert_false(cached(c, "b.example", NULL));
	dnscache_stats(c, &s);
	assert_int_equal(s.hits, 3);
	assert_int_equal(s.misses, 2);
	assert_int_equal(s.entries, 0); /* expired ones dropped when met */
	assert_int_equal(s.bytes, 0);
	dnscache_free(&c);
	assert_null(c);
}

static void
test_cache_type_is_part_of_key(void **st)
{
	struct dnscache *c = dnscache_new(1 << 20, 86400, 3600, fake_clock,
					  NULL);
	struct dnsq_question q = question(DNSQ_A, "a.example");
	struct dnsq_answer a;

	(void)st;
	put_answer(c, "a.example", DNSQ_OK, 60, 10);
	assert_int_equal(dnscache_get(c, &q, &a), 0);
	assert_true(cached(c, "a.example", NULL));
	dnscache_free(&c);
}

static void
test_cache_negative(void **st)
{
	struct dnscache *c = dnscache_new(1 << 20, 86400, 60, fake_clock,
					  NULL);
	struct dnsq_question q = question(DNSQ_TXT, "nx.example");
	struct dnsq_answer a;

	(void)st;
	fake_now = 5000;
	put_answer(c, "nx.example", DNSQ_NXDOMAIN, 900, 0);
	put_answer(c, "nd.example", DNSQ_NODATA, 30, 0);
	put_answer(c, "nosoa.example", DNSQ_NXDOMAIN, 0, 0);
	assert_int_equal(dnscache_get(c, &q, &a), 1);
	assert_int_equal(a.status, DNSQ_NXDOMAIN);
	assert_int_equal(a.ttl, 60); /* capped by the negative TTL */
	assert_int_equal(a.n, 0);
	dnsq_answer_free(&a);
	assert_false(cached(c, "nosoa.example", NULL));
	fake_now = 5030;
	assert_false(cached(c, "nd.example", NULL));
	assert_true(cached(c, "nx.example", NULL));
	fake_now = 5060;
	assert_false(cached(c, "nx.example", NULL));
	dnscache_free(&c);
	/* dns.cache_negative_ttl = 0: none kept */
	c = dnscache_new(1 << 20, 86400, 0, fake_clock, NULL);
	put_answer(c, "nx.example", DNSQ_NXDOMAIN, 900, 0);
	assert_false(cached(c, "nx.example", NULL));
	dnscache_free(&c);
}

static void
test_cache_temp_never_kept(void **st)
{
	struct dnscache *c = dnscache_new(1 << 20, 86400, 3600, fake_clock,
					  NULL);
	struct dnsq_question q = question(DNSQ_TXT, "t.example");
	struct dnsq_answer a = {.status = DNSQ_TEMP, .ttl = 300};
	struct dnscache_stats s;

	(void)st;
	dnscache_put(c, &q, &a);
	assert_false(cached(c, "t.example", NULL));
	put_answer(c, "zero.example", DNSQ_OK, 0, 5); /* TTL 0 */
	assert_false(cached(c, "zero.example", NULL));
	dnscache_stats(c, &s);
	assert_int_equal(s.entries, 0);
	dnscache_free(&c);
	/* no cache at all: every call a miss, nothing kept, no crash */
	assert_null(dnscache_new(0, 86400, 3600, NULL, NULL));
	dnscache_put(NULL, &q, &a);
	assert_int_equal(dnscache_get(NULL, &q, &a), 0);
}

static void
test_cache_lru_eviction(void **st)
{
	struct dnscache *c;
	struct dnscache_stats s;
	size_t one;
	char name[32];

	(void)st;
	/* the size of one entry, measured */
	c = dnscache_new(1 << 20, 86400, 3600, fake_clock, NULL);
	put_answer(c, "n00.example", DNSQ_OK, 600, 100);
	dnscache_stats(c, &s);
	one = s.bytes;
	assert_true(one > 100);
	dnscache_free(&c);
	/* room for four */
	c = dnscache_new(4 * one + one / 2, 86400, 3600, fake_clock, NULL);
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "n%02d.example", i);
		put_answer(c, name, DNSQ_OK, 600, 100);
	}
	dnscache_stats(c, &s);
	assert_int_equal(s.entries, 4);
	assert_int_equal(s.bytes, 4 * one);
	assert_true(cached(c, "n00.example", NULL)); /* n01 is now the LRU */
	put_answer(c, "n04.example", DNSQ_OK, 600, 100);
	assert_false(cached(c, "n01.example", NULL));
	assert_true(cached(c, "n00.example", NULL));
	assert_true(cached(c, "n02.example", NULL));
	assert_true(cached(c, "n03.example", NULL));
	assert_true(cached(c, "n04.example", NULL));
	dnscache_stats(c, &s);
	assert_int_equal(s.entries, 4);
	assert_true(s.bytes <= s.max_bytes);
	assert_int_equal(s.evictions, 1);
	/* a bigger answer makes room for itself; the same key replaced */
	put_answer(c, "n02.example", DNSQ_OK, 600, 100 + one);
	dnscache_stats(c, &s);
	assert_true(s.bytes <= s.max_bytes);
	assert_true(cached(c, "n02.example", NULL));
	assert_int_equal(s.entries, 3);
	/* one over the whole bound is not kept, and evicts nothing */
	put_answer(c, "huge.example", DNSQ_OK, 600, 5 * one);
	assert_false(cached(c, "huge.example", NULL));
	dnscache_stats(c, &s);
	assert_int_equal(s.entries, 3);
	dnscache_free(&c);
}

struct worker_arg {
	struct dnscache *c;
	unsigned seed;
	unsigned gets, hits;
};

static void *
worker(void *p)
{
	struct worker_arg *w = p;
	char name[32];

	for (int i = 0; i < 20000; i++) {
		struct dnsq_question q;
		struct dnsq_answer a;

		snprintf(name, sizeof(name), "h%u.example",
			 (unsigned)rand_r(&w->seed) % 300);
		q = question(DNSQ_TXT, name);
		w->gets++;
		if (dnscache_get(w->c, &q, &a)) {
			w->hits++;
			assert_int_equal(a.n, 1);
			assert_int_equal(a.rr[0].len, 64);
			dnsq_answer_free(&a);
		} else {
			a = answer(DNSQ_OK, 1 + rand_r(&w->seed) % 5, 64);
			dnscache_put(w->c, &q, &a);
			dnsq_answer_free(&a);
		}
	}
	return NULL;
}

static void
test_cache_threads(void **st)
{
	struct dnscache *c = dnscache_new(16 * 1024, 86400, 3600, NULL, NULL);
	struct worker_arg w[4];
	pthread_t t[4];
	struct dnscache_stats s;
	unsigned gets = 0, hits = 0;

	(void)st;
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker_arg){.c = c, .seed = (unsigned)i + 1};
		assert_int_equal(pthread_create(&t[i], NULL, worker, &w[i]),
				 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		gets += w[i].gets;
		hits += w[i].hits;
	}
	dnscache_stats(c, &s);
	assert_int_equal(s.hits + s.misses, gets);
	assert_int_equal(s.hits, hits);
	assert_true(hits > 0);
	assert_true(s.bytes <= 16 * 1024);
	assert_true(s.evictions > 0); /* 300 names do not fit in 16 KiB */
	dnscache_free(&c);
}

/* resolve_lookup answers from the cache without asking the server */
static void
test_lookup_hits_cache(void **st)
{
	struct dnscache *c = dnscache_new(1 << 20, 86400, 3600, NULL, NULL);
	struct resolve_opts o = {.resolver = "127.0.0.1:1", .timeout = 1,
				 .attempts = 1};
	struct dnsq_question q = question(DNSQ_TXT, "c.example");
	struct dnsq_answer a = answer(DNSQ_OK, 600, 7), got;
	char err[256];

	(void)st;
	dnscache_put(c, &q, &a);
	dnsq_answer_free(&a);
	assert_int_equal(resolve_lookup(c, &o, &q, &got, err, sizeof(err)),
			 DNSQ_OK);
	assert_string_equal(got.rr[0].text, "xxxxxxx");
	dnsq_answer_free(&got);
	/* not cached: the server (nothing listens) is asked: TEMP */
	q = question(DNSQ_TXT, "d.example");
	assert_int_equal(resolve_lookup(c, &o, &q, &got, err, sizeof(err)),
			 DNSQ_TEMP);
	assert_non_null(strstr(err, "TXT d.example"));
	assert_false(cached(c, "d.example", NULL));
	dnscache_free(&c);
}

/* the dns.* keys: their defaults, their bounds, the cache made of them */
static void
test_cache_from_conf(void **st)
{
	struct dnscache_stats s;
	struct dnscache *c;
	struct conf cf;
	char err[256];

	(void)st;
	conf_init(&cf);
	assert_int_equal(cf.dns_timeout, 5);
	assert_int_equal(cf.dns_attempts, 2);
	assert_int_equal(cf.dns_cache_size, 4 << 20);
	assert_int_equal(cf.dns_cache_max_ttl, 86400);
	assert_int_equal(cf.dns_cache_negative_ttl, 3600);
	assert_int_equal(conf_set(&cf, "dns.timeout", "31", err, sizeof(err)),
			 -1);
	assert_int_equal(conf_set(&cf, "dns.attempts", "6", err, sizeof(err)),
			 -1);
	assert_int_equal(conf_set(&cf, "dns.attempts", "0", err, sizeof(err)),
			 -1);
	assert_int_equal(conf_set(&cf, "dns.cache_max_ttl", "0", err,
				  sizeof(err)), -1);
	assert_int_equal(conf_set(&cf, "dns.cache_size", "64k", err,
				  sizeof(err)), 0);
	c = dnscache_from_conf(&cf);
	dnscache_stats(c, &s);
	assert_int_equal(s.max_bytes, 64 * 1024);
	dnscache_free(&c);
	assert_int_equal(conf_set(&cf, "dns.cache_size", "0", err,
				  sizeof(err)), 0);
	assert_null(dnscache_from_conf(&cf)); /* no cache */
	conf_free(&cf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_txt_several_strings),
		cmocka_unit_test(test_txt_empty_string_and_nul),
		cmocka_unit_test(test_cname_then_txt),
		cmocka_unit_test(test_cname_loop_is_temp),
		cmocka_unit_test(test_cname_to_nothing_is_nodata),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_mismatched_question),
		cmocka_unit_test(test_nxdomain_with_soa),
		cmocka_unit_test(test_nodata_and_servfail),
		cmocka_unit_test(test_a_aaaa_mx_ptr),
		cmocka_unit_test(test_bad_txt_and_every_prefix),
		cmocka_unit_test(test_ptr_names),
		cmocka_unit_test(test_question),
		cmocka_unit_test(test_cache_ttl_expiry),
		cmocka_unit_test(test_cache_type_is_part_of_key),
		cmocka_unit_test(test_cache_negative),
		cmocka_unit_test(test_cache_temp_never_kept),
		cmocka_unit_test(test_cache_lru_eviction),
		cmocka_unit_test(test_cache_threads),
		cmocka_unit_test(test_lookup_hits_cache),
		cmocka_unit_test(test_cache_from_conf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
