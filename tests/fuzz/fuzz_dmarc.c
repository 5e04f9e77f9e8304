/*
 * libFuzzer harness for DMARC and the public suffix list (src/msgauth).
 * The first octet picks the target, the rest is its input:
 *   0  a DMARC record: dmarc_is_record, dmarc_parse; a parsed record's
 *      values lie in their ranges;
 *   1  a header section: dmarc_from_domain; a domain found is lower
 *      case LDH (and '_') labels, none empty;
 *   2  a list, an empty line, then names: psl_load, psl_org_domain; an
 *      organizational domain of an ASCII name is a suffix of it at a
 *      label boundary, of two labels or more;
 *   3  an evaluation: a From domain line, then one line per DNS answer
 *      (a status digit, TXT records split by '|'), then "s" or "d"
 *      lines (pass flag, domain) for SPF and DKIM; the verdict is in
 *      range and only a fail carries a policy, never above the request.
 * Checks: no crash, no sanitizer report, no leak, and the above.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msgauth/dmarc.h"
#include "msgauth/psl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_record(const char *p, size_t n)
{
	struct dmarc_record r;
	const char *why;

	if (dmarc_parse(p, n, &r, &why) == -1)
		return;
	if (!dmarc_is_record(p, n) || r.pct > 100 || r.p > DMARC_P_REJECT ||
	    r.sp > DMARC_P_REJECT || r.ri > UINT32_MAX ||
	    (r.p_fallback && (r.rua == 0 || r.p != DMARC_P_NONE)))
		abort();
}

static void
fuzz_from(const char *p, size_t n)
{
	char out[254];

	if (dmarc_from_domain(p, n, out, sizeof(out)) == -1)
		return;
	if (out[0] == '\0' || out[0] == '.' || strstr(out, "..") != NULL)
		abort();
	for (const char *c = out; *c != '\0'; c++)
		if (strchr("abcdefghijklmnopqrstuvwxyz0123456789-_.", *c) ==
		    NULL)
			abort();
}

/* org is name's suffix at a label boundary, of >= 2 labels */
static void
check_org(const char *name, const char *org)
{
	char low[254];
	size_t n = strlen(name), o = strlen(org);

	if (n >= sizeof(low) || strchr(org, '.') == NULL)
		abort();
	for (size_t i = 0; i <= n; i++) {
		if ((unsigned char)name[i] >= 0x80)
			return;	/* converted to A-labels: not comparable */
		low[i] = (char)(name[i] >= 'A' && name[i] <= 'Z'
					? name[i] + 32 : name[i]);
	}
	if (o > n || strcmp(low + n - o, org) != 0 ||
	    (o < n && low[n - o - 1] != '.'))
		abort();
}

static void
fuzz_psl(const char *p, size_t n)
{
	const char *sep = memmem(p, n, "\n\n", 2), *err;
	size_t ln = sep != NULL ? (size_t)(sep - p) : n, i;
	struct psl *psl;
	char name[300], out[254];

	if (psl_load(p, ln, &psl, &err) == -1)
		return;
	for (i = ln; i < n;) {
		const char *nl = memchr(p + i, '\n', n - i);
		size_t l = nl != NULL ? (size_t)(nl - p) - i : n - i;

		if (l < sizeof(name) && memchr(p + i, '\0', l) == NULL) {
			memcpy(name, p + i, l);
			name[l] = '\0';
			if (psl_org_domain(psl, name, out, sizeof(out)) == 0)
				check_org(name, out);
		}
		i += l + 1;
	}
	psl_free(&psl);
}

static struct psl *
small_psl(void)
{
	static const char list[] = "com\nuk\nco.uk\n*.ck\n!www.ck\n";
	static struct psl *p;
	const char *err;

	if (p == NULL && psl_load(list, sizeof(list) - 1, &p, &err) == -1)
		abort();
	return p;
}

/* The next line of p (NUL-ended copy into line); false at the end. */
static bool
next_line(const char *p, size_t n, size_t *i, char *line, size_t size)
{
	const char *nl;
	size_t l;

	if (*i >= n)
		return false;
	nl = memchr(p + *i, '\n', n - *i);
	l = nl != NULL ? (size_t)(nl - p) - *i : n - *i;
	l = l < size ? l : size - 1;
	memcpy(line, p + *i, l);
	line[l] = '\0';
	*i = nl != NULL ? (size_t)(nl - p) + 1 : n;
	return true;
}

static void
answer_from(struct dmarc *d, const char *line)
{
	struct dnsq_answer a = { DNSQ_OK, 0, 0, NULL };
	const char *s = line;

	a.status = (enum dnsq_status)((line[0] & 0xff) % 4);
	if (*s != '\0')
		s++;
	while (*s != '\0') {
		const char *bar = strchr(s, '|');
		size_t l = bar != NULL ? (size_t)(bar - s) : strlen(s);

		(void)dnsq_answer_add(&a, NULL, 0, 0, s, l);
		s += l + (bar != NULL);
	}
	dmarc_answer(d, &a);
	dnsq_answer_free(&a);
}

static void
fuzz_eval(const char *p, size_t n)
{
	static char line[DNSQ_TXT_MAX];
	struct dnsq_question q;
	struct dmarc *d;
	enum dmarc_policy applied, req;
	enum dmarc_result r;
	size_t i = 0, asked = 0;
	const char *why;

	if (!next_line(p, n, &i, line, 300))
		return;
	d = dmarc_new(small_psl(), line);
	while (dmarc_next(d, &q) && next_line(p, n, &i, line, sizeof(line))) {
		if (++asked > 2 || strncmp(q.name, "_dmarc.", 7) != 0 ||
		    q.type != DNSQ_TXT)
			abort();
		answer_from(d, line);
	}
	while (next_line(p, n, &i, line, 300)) {
		bool pass = line[0] != '\0' && line[1] == '1';
		const char *dom = line[0] != '\0' && line[1] != '\0'
					  ? line + 2 : "";

		if (line[0] == 's')
			dmarc_set_spf(d, pass, dom);
		else
			dmarc_add_dkim(d, pass, dom);
	}
	r = dmarc_result(d, (unsigned)n % 100, &applied, &why);
	if (r > DMARC_PERMERROR || why == NULL ||
	    (r != DMARC_FAIL && applied != DMARC_P_NONE))
		abort();
	if (r == DMARC_FAIL &&
	    (!dmarc_requested(d, &req) || applied > req))
		abort();
	(void)dmarc_result_name(r);
	(void)dmarc_policy_name(applied);
	dmarc_free(&d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data + 1;

	if (size == 0)
		return 0;
	switch (data[0] % 4) {
	case 0:
		fuzz_record(p, size - 1);
		break;
	case 1:
		fuzz_from(p, size - 1);
		break;
	case 2:
		fuzz_psl(p, size - 1);
		break;
	default:
		fuzz_eval(p, size - 1);
		break;
	}
	return 0;
}
