/*
 * libFuzzer harness for the DNS answer parser (resolve_parse, what every
 * lookup does with the server's reply: the relay's MX and address
 * lookups, the inbound checks' TXT, owlctl doctor) and the cache's copy
 * of what it returns.  The first input octet picks the question's type
 * (A, AAAA, MX, TXT, PTR) and its name: "example.org", or the name in the
 * packet's own question so that the answer path is reached; the rest is
 * the packet.  Checks: no crash, no sanitizer report; -1 and 1 leave the
 * answer empty and TEMP; OK has 1 to DNSQ_RRS_MAX records, the others
 * none; a TXT record is at most DNSQ_TXT_MAX octets and NUL-ended; an MX
 * or PTR host is a terminated name of printable octets without spaces
 * (the presentation form, which goes into SMTP replies, logs and
 * bounces); a preference fits 16 bits; the cache gives back what it was
 * given.
 */
#include <arpa/nameser.h>
#include <resolv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay/dnscache.h"
#include "relay/resolve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const enum dnsq_type TYPES[] = {DNSQ_A, DNSQ_AAAA, DNSQ_MX, DNSQ_TXT,
				       DNSQ_PTR};

static uint64_t
fixed_clock(void *arg)
{
	(void)arg;
	return 1;
}

static void
check_rr(enum dnsq_type t, const struct dnsq_rr *rr)
{
	if (t == DNSQ_A || t == DNSQ_AAAA) {
		if (rr->text != NULL)
			abort();
		return;
	}
	if (rr->text == NULL || rr->text[rr->len] != '\0')
		abort();
	if (t == DNSQ_TXT) {
		if (rr->len > DNSQ_TXT_MAX)
			abort();
		return;
	}
	if (strlen(rr->text) != rr->len || rr->pref > 65535)
		abort();
	for (size_t k = 0; k < rr->len; k++)
		if (rr->text[k] <= ' ' || rr->text[k] >= 0x7f)
			abort();
}

static void
check_cache(const struct dnsq_question *q, const struct dnsq_answer *a)
{
	struct dnscache *c = dnscache_new(1 << 20, 86400, 3600, fixed_clock,
					  NULL);
	struct dnsq_answer got;
	int hit;

	dnscache_put(c, q, a);
	hit = dnscache_get(c, q, &got);
	dnscache_free(&c);
	if (!hit)
		return; /* not kept: TTL 0, TEMP, or too big */
	if (got.status != a->status || got.n != a->n)
		abort();
	for (size_t i = 0; i < a->n; i++)
		if (got.rr[i].len != a->rr[i].len ||
		    (a->rr[i].text != NULL &&
		     memcmp(got.rr[i].text, a->rr[i].text, a->rr[i].len)) ||
		    memcmp(got.rr[i].addr, a->rr[i].addr, 16))
			abort();
	dnsq_answer_free(&got);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dnsq_question q;
	struct dnsq_answer a;
	char name[NS_MAXDNAME];
	const char *why;
	int rc;

	if (size < 1)
		return 0;
	q.type = TYPES[data[0] % 5];
	strcpy(q.name, "example.org");
	if ((data[0] & 0x80) && size > 13 &&
	    dn_expand(data + 1, data + size, data + 13, name,
		      sizeof(name)) > 0)
		(void)resolve_question(&q, q.type, name);
	rc = resolve_parse(&q, data + 1, size - 1, &a, &why);
	if (rc != 0) {
		if ((rc != -1 && rc != 1) || a.n != 0 ||
		    a.status != DNSQ_TEMP || why == NULL)
			abort();
		return 0;
	}
	if (a.n > DNSQ_RRS_MAX || (a.status == DNSQ_OK) != (a.n > 0))
		abort();
	for (size_t i = 0; i < a.n; i++)
		check_rr(q.type, &a.rr[i]);
	check_cache(&q, &a);
	dnsq_answer_free(&a);
	return 0;
}
