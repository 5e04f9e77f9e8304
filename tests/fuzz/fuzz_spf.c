/*
 * libFuzzer harness for SPF (src/msgauth/spf*.c): the record parser, the
 * macro expander and the check's state machine.  The input's first line
 * is the top domain's record; each question the check asks is answered
 * by the next line: its first octet picks the status (OK, NODATA,
 * NXDOMAIN, TEMP) and the family of the client, the rest is the answer
 * (TXT: the text, so a line can be an included record; A/AAAA: octets;
 * MX/PTR: names split on spaces); past the last line every name is
 * NXDOMAIN.  Checks: no crash, no sanitizer report, no leak; every
 * question is a valid name; the counts stay within their limits; the
 * number of questions is bounded; the result is in its enum.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "msgauth/spf.h"
#include "msgauth/spf_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 10 lookups of up to 1 + 10 questions, 1 + 10 for PTR, exp=, TXTs */
#define QUESTIONS_MAX (SPF_MAX_LOOKUPS * 11 + 11 + 2 + 11)

static void
fill(struct dnsq_answer *a, const struct dnsq_question *q, const char *p,
     size_t n)
{
	unsigned char addr[16] = { 0 };
	size_t alen = q->type == DNSQ_A ? 4 : 16, i = 0, j;

	switch (q->type) {
	case DNSQ_A:
	case DNSQ_AAAA:
		for (size_t k = 0; k + alen <= n && a->n < 4; k += alen) {
			memcpy(addr, p + k, alen);
			dnsq_answer_add(a, addr, alen, 0, NULL, 0);
		}
		break;
	case DNSQ_MX:
	case DNSQ_PTR:
		while (i < n) {
			for (j = i; j < n && p[j] != ' '; j++)
				;
			if (dnsq_answer_add(a, NULL, 0, (unsigned)(j - i),
					    p + i, j - i) == -1)
				break;
			i = j + 1;
		}
		break;
	default:
		dnsq_answer_add(a, NULL, 0, 0, p, n);
	}
	if (a->n == 0 && a->status == DNSQ_OK)
		a->status = DNSQ_NODATA;
}

static void
check_macros(const char *p, size_t n)
{
	struct spf_vars v = { "a@b.test", "a", "b.test", "d.test",
			      "1.2.3.4", "p.test", "in-addr", "h.test",
			      "1.2.3.4", "r.test", "1" };
	char out[DNSQ_NAME_MAX + 1], text[64];

	if (spf_macro_valid(p, n, SPF_M_DOMAIN) &&
	    spf_macro_domain(&v, p, n, out) == 0 &&
	    (!spf_name_valid(out) || strlen(out) > DNSQ_NAME_MAX))
		abort();
	if (spf_macro_valid(p, n, SPF_M_EXPLAIN)) {
		spf_macro_explain(&v, p, n, text, sizeof(text));
		if (strlen(text) >= sizeof(text))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *nl;
	unsigned char ip[16] = { 192, 0, 2, 1 };
	struct dnsq_question q;
	struct dnsq_answer a;
	struct spf_record rec;
	const char *err, *why, *exp;
	unsigned lookups, voids, questions = 0;
	struct spf *s;
	enum spf_result r;
	int family = size > 0 && (data[0] & 1) ? AF_INET6 : AF_INET;

	if (spf_record_parse(p, size, &rec, &err) == 0)
		spf_record_free(&rec);
	check_macros(p, size);
	if (family == AF_INET6)
		memcpy(ip, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
	s = spf_new(NULL, family, ip, "top.test", "user+x@top.test",
		    "helo.test", "rcv.test", 1700000000);
	if (s == NULL)
		return 0;
	while (spf_next(s, &q)) {
		if (++questions > QUESTIONS_MAX || !spf_name_valid(q.name))
			abort();
		memset(&a, 0, sizeof(a));
		nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
		if (p >= end) {
			a.status = DNSQ_NXDOMAIN;
		} else if (questions == 1 && q.type == DNSQ_TXT) {
			/* the first line is the top record, as it is */
			a.status = DNSQ_OK;
			fill(&a, &q, p, (size_t)((nl ? nl : end) - p));
		} else {
			a.status = (enum dnsq_status)((unsigned char)*p % 4);
			if (a.status == DNSQ_OK)
				fill(&a, &q, p + 1,
				     (size_t)((nl ? nl : end) - p - 1));
		}
		p = nl != NULL ? nl + 1 : end;
		spf_answer(s, &a);
		dnsq_answer_free(&a);
	}
	r = spf_result(s, &why, &exp);
	spf_counts(s, &lookups, &voids);
	if (r > SPF_PERMERROR || why == NULL ||
	    lookups > SPF_MAX_LOOKUPS || voids > SPF_MAX_VOID + 1 ||
	    (exp != NULL && (r != SPF_FAIL || strlen(exp) > SPF_EXP_MAX)))
		abort();
	spf_free(&s);
	return 0;
}
