/*
 * libFuzzer harness for DKIM (src/msgauth): the tag-list parser and the
 * verifier.  The input's first line is a key record, the rest a message
 * (header section, body).  The whole input goes through dkim_tags_parse;
 * the message through dkim_verifier_* (body fed in two pieces, split by
 * the first octet) with the record as every signature's key, and through
 * both body canonicalizations with a limit.  Checks: no crash, no
 * sanitizer report, no leak; every tag lies inside the input with a
 * name; results within their enum; l= partial consistent with the body
 * length; the canonical body's octets passed on never exceed the limit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msgauth/dkim.h"
#include "msgauth/dkim_canon.h"
#include "msgauth/dkim_tags.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_tags(const char *p, size_t n)
{
	struct dkim_tags t;
	const char *err;

	if (dkim_tags_parse(p, n, &t, &err) == -1)
		return;
	if (t.n > DKIM_TAGS_MAX)
		abort();
	for (size_t i = 0; i < t.n; i++)
		if (t.t[i].nlen == 0 || t.t[i].name < p ||
		    t.t[i].val + t.t[i].vlen > p + n)
			abort();
}

static void
count(void *arg, const char *p, size_t n)
{
	(void)p;
	*(uint64_t *)arg += n;
}

static void
check_body(enum dkim_canon c, const char *p, size_t n, uint64_t limit)
{
	struct dkim_body b;
	uint64_t out = 0;

	dkim_body_init(&b, c, limit, count, &out);
	dkim_body_feed(&b, p, n / 2);
	dkim_body_feed(&b, p + n / 2, n - n / 2);
	dkim_body_finish(&b);
	if (out > limit || out > b.total)
		abort();
}

static void
check_verify(const char *rec, size_t rlen, const char *msg, size_t n)
{
	static struct dkim_hfield f[DKIM_FIELDS_MAX];
	struct dkim_sig_result r;
	struct dkim_verifier *v;
	size_t nf, body = n;
	const char *err, *d, *s;
	char *rz = malloc(rlen + 1);

	memcpy(rz, rec, rlen);
	rz[rlen] = '\0';
	if (dkim_canon_split(msg, n, f, DKIM_FIELDS_MAX, &nf, &body) == -1)
		body = n;
	if (body > n || nf > DKIM_FIELDS_MAX)
		abort();
	v = dkim_verifier_new(NULL, msg, body < n ? body : n, 1700000000,
			      &err);
	if (v != NULL) {
		size_t split = body < n ? body + (n - body) / 3 : n;

		dkim_verifier_body(v, msg + body, split - body);
		dkim_verifier_body(v, msg + split, n - split);
		dkim_verifier_finish(v);
		for (size_t i = 0; i < dkim_verifier_count(v); i++) {
			(void)dkim_verifier_query(v, i, &d, &s);
			dkim_verifier_check(v, i, rz, rlen, &r);
			if (r.res > DKIM_NOT_CHECKED ||
			    (r.partial && (!r.has_l || r.body_len <= r.l)))
				abort();
		}
		dkim_verifier_free(&v);
	}
	free(rz);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	const char *nl = memchr(p, '\n', size);
	size_t rlen = nl != NULL ? (size_t)(nl - p) : size;
	const char *msg = nl != NULL ? nl + 1 : p + size;
	size_t n = size - (size_t)(msg - p);

	check_tags(p, size);
	check_tags(p, rlen);
	check_body(DKIM_SIMPLE, msg, n, size > 0 ? data[0] : 0);
	check_body(DKIM_RELAXED, msg, n, UINT64_MAX);
	check_verify(p, rlen, msg, n);
	return 0;
}
