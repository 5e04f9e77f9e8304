/*
 * Unit tests of the public suffix list (src/msgauth/psl.c) and of the
 * Punycode encoder behind it: RFC 3492's samples, the list's own test
 * cases (publicsuffix/list tests/test_psl.txt) against the real list of
 * Debian's publicsuffix package, libpsl's answers for names made of the
 * list's rules (psl_vectors.h, gen_psl_vectors.py), rule kinds on a small
 * list, what is skipped, and the limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msgauth/psl.h"
#include "msgauth/punycode.h"

#include "psl_vectors.h"

#define PSL_FILE "/usr/share/publicsuffix/public_suffix_list.dat"

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *s;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	s = malloc((size_t)n + 1);
	*len = fread(s, 1, (size_t)n, f);
	s[*len] = '\0';
	fclose(f);
	return s;
}

static struct psl *
load(const char *text)
{
	struct psl *p;
	const char *err;

	assert_int_equal(psl_load(text, strlen(text), &p, &err), 0);
	return p;
}

/* org == NULL: psl_org_domain must fail (a public suffix, bad name) */
static void
check(const struct psl *p, const char *name, const char *org)
{
	char out[254];
	int r = psl_org_domain(p, name, out, sizeof(out));

	if (org == NULL) {
		if (r != -1)
			fail_msg("%s: got %s, want none", name, out);
		return;
	}
	if (r != 0)
		fail_msg("%s: got none, want %s", name, org);
	assert_string_equal(out, org);
}

static void
test_punycode(void **st)
{
	static const struct {
		const char *u, *a;
	} v[] = {
		{ "b\xc3\xbc" "cher", "bcher-kva" },
		{ "m\xc3\xbcnchen", "mnchen-3ya" },
		{ "\xe4\xb8\xad\xe5\x9b\xbd", "fiqs8s" },	/* 中国 */
		{ "\xe5\x85\xac\xe5\x8f\xb8", "55qx5d" },	/* 公司 */
		{ "\xe9\xa3\x9f\xe7\x8b\xae", "85x722f" },	/* 食狮 */
		/* RFC 3492 7.1 (A), Arabic (Egyptian) */
		{ "\xd9\x84\xd9\x8a\xd9\x87\xd9\x85\xd8\xa7\xd8\xa8\xd8\xaa"
		  "\xd9\x83\xd9\x84\xd9\x85\xd9\x88\xd8\xb4\xd8\xb9\xd8\xb1"
		  "\xd8\xa8\xd9\x8a\xd8\x9f", "egbpdaj6bu4bxfgehfvwxn" },
		/* (L) 3<nen>B<gumi><kinpachi><sensei> */
		{ "3\xe5\xb9\xb4" "B\xe7\xb5\x84\xe9\x87\x91\xe5\x85\xab"
		  "\xe5\x85\x88\xe7\x94\x9f", "3B-ww4c5e180e575a65lsy2b" },
	};
	char out[64];

	(void)st;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(punycode_encode(v[i].u, strlen(v[i].u), out,
						 sizeof(out)),
				 (int)strlen(v[i].a));
		assert_string_equal(out, v[i].a);
	}
	assert_int_equal(punycode_label("M\xc3\xbcnchen", 8, out,
					sizeof(out)), 14);
	assert_string_equal(out, "xn--mnchen-3ya");
	assert_int_equal(punycode_label("ExAmple", 7, out, sizeof(out)), 7);
	assert_string_equal(out, "example");
	/* bad UTF-8: a lone continuation, overlong, a surrogate, short */
	assert_int_equal(punycode_encode("\x80", 1, out, sizeof(out)), -1);
	assert_int_equal(punycode_encode("\xc0\xaf", 2, out, sizeof(out)),
			 -1);
	assert_int_equal(punycode_encode("\xed\xa0\x80", 3, out,
					 sizeof(out)), -1);
	assert_int_equal(punycode_encode("\xe4\xb8", 2, out, sizeof(out)),
			 -1);
	/* does not fit */
	assert_int_equal(punycode_encode("m\xc3\xbcnchen", 8, out, 5), -1);
	assert_int_equal(punycode_label("\xc3\xbc", 2, out, 5), -1);
}

/* publicsuffix/list tests/test_psl.txt, on Debian's list */
static void
test_official_cases(void **st)
{
	static const char *v[][2] = {
		{ "COM", NULL }, { "example.COM", "example.com" },
		{ "WwW.example.COM", "example.com" },
		{ ".com", NULL }, { ".example", NULL },
		{ ".example.com", NULL }, { ".example.example", NULL },
		{ "example", NULL }, { "example.example", "example.example" },
		{ "b.example.example", "example.example" },
		{ "a.b.example.example", "example.example" },
		{ "biz", NULL }, { "domain.biz", "domain.biz" },
		{ "b.domain.biz", "domain.biz" },
		{ "a.b.domain.biz", "domain.biz" },
		{ "com", NULL }, { "example.com", "example.com" },
		{ "b.example.com", "example.com" },
		{ "a.b.example.com", "example.com" },
		{ "uk.com", NULL }, { "example.uk.com", "example.uk.com" },
		{ "b.example.uk.com", "example.uk.com" },
		{ "a.b.example.uk.com", "example.uk.com" },
		{ "test.ac", "test.ac" },
		{ "mm", NULL }, { "c.mm", NULL }, { "b.c.mm", "b.c.mm" },
		{ "a.b.c.mm", "b.c.mm" },
		{ "jp", NULL }, { "test.jp", "test.jp" },
		{ "www.test.jp", "test.jp" }, { "ac.jp", NULL },
		{ "test.ac.jp", "test.ac.jp" },
		{ "www.test.ac.jp", "test.ac.jp" }, { "kyoto.jp", NULL },
		{ "test.kyoto.jp", "test.kyoto.jp" }, { "ide.kyoto.jp", NULL },
		{ "b.ide.kyoto.jp", "b.ide.kyoto.jp" },
		{ "a.b.ide.kyoto.jp", "b.ide.kyoto.jp" },
		{ "c.kobe.jp", NULL }, { "b.c.kobe.jp", "b.c.kobe.jp" },
		{ "a.b.c.kobe.jp", "b.c.kobe.jp" },
		{ "city.kobe.jp", "city.kobe.jp" },
		{ "www.city.kobe.jp", "city.kobe.jp" },
		{ "ck", NULL }, { "test.ck", NULL },
		{ "b.test.ck", "b.test.ck" }, { "a.b.test.ck", "b.test.ck" },
		{ "www.ck", "www.ck" }, { "www.www.ck", "www.ck" },
		{ "us", NULL }, { "test.us", "test.us" },
		{ "www.test.us", "test.us" }, { "ak.us", NULL },
		{ "test.ak.us", "test.ak.us" },
		{ "www.test.ak.us", "test.ak.us" }, { "k12.ak.us", NULL },
		{ "test.k12.ak.us", "test.k12.ak.us" },
		{ "www.test.k12.ak.us", "test.k12.ak.us" },
		/* IDN labels: the answer in A-labels */
		{ "\xe9\xa3\x9f\xe7\x8b\xae.com.cn", "xn--85x722f.com.cn" },
		{ "\xe9\xa3\x9f\xe7\x8b\xae.\xe5\x85\xac\xe5\x8f\xb8.cn",
		  "xn--85x722f.xn--55qx5d.cn" },
		{ "www.\xe9\xa3\x9f\xe7\x8b\xae.\xe5\x85\xac\xe5\x8f\xb8.cn",
		  "xn--85x722f.xn--55qx5d.cn" },
		{ "shishi.\xe5\x85\xac\xe5\x8f\xb8.cn",
		  "shishi.xn--55qx5d.cn" },
		{ "\xe5\x85\xac\xe5\x8f\xb8.cn", NULL },
		{ "\xe9\xa3\x9f\xe7\x8b\xae.\xe4\xb8\xad\xe5\x9b\xbd",
		  "xn--85x722f.xn--fiqs8s" },
		{ "\xe4\xb8\xad\xe5\x9b\xbd", NULL },
		{ "xn--85x722f.com.cn", "xn--85x722f.com.cn" },
		{ "xn--85x722f.xn--55qx5d.cn", "xn--85x722f.xn--55qx5d.cn" },
		{ "www.xn--85x722f.xn--55qx5d.cn",
		  "xn--85x722f.xn--55qx5d.cn" },
		{ "shishi.xn--55qx5d.cn", "shishi.xn--55qx5d.cn" },
		{ "xn--55qx5d.cn", NULL },
		{ "xn--85x722f.xn--fiqs8s", "xn--85x722f.xn--fiqs8s" },
		{ "www.xn--85x722f.xn--fiqs8s", "xn--85x722f.xn--fiqs8s" },
		{ "shishi.xn--fiqs8s", "shishi.xn--fiqs8s" },
		{ "xn--fiqs8s", NULL },
		/* the PRIVATE section counts too (RFC 7489 does not split) */
		{ "foo.blogspot.com", "foo.blogspot.com" },
		{ "a.foo.github.io", "foo.github.io" },
	};
	struct psl *p;
	const char *err;
	size_t len = 0;
	char *text = slurp(PSL_FILE, &len);

	(void)st;
	if (text == NULL)
		fail_msg("%s: missing (Debian package publicsuffix)", PSL_FILE);
	assert_int_equal(psl_load(text, len, &p, &err), 0);
	assert_true(psl_rules(p) > 9000);
	assert_int_equal(psl_skipped(p), 0);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		check(p, v[i][0], v[i][1]);
	psl_free(&p);
	assert_null(p);
	free(text);
}

static uint32_t
fnv1a32(const char *s, size_t n)
{
	uint32_t h = 0x811c9dc5u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x01000193u;
	return h;
}

/* libpsl (Debian's libpsl5) on the same list: psl_vectors.h */
static void
test_libpsl_vectors(void **st)
{
	struct psl *p;
	const char *err;
	size_t len = 0;
	char *text = slurp(PSL_FILE, &len);

	(void)st;
	assert_non_null(text);
	if (len != PSL_VECTORS_LIST_SIZE ||
	    fnv1a32(text, len) != PSL_VECTORS_LIST_FNV) {
		free(text);
		print_message("%s changed since psl_vectors.h was written: "
			      "run gen_psl_vectors.py\n", PSL_FILE);
		skip();
	}
	assert_int_equal(psl_load(text, len, &p, &err), 0);
	for (size_t i = 0; i < sizeof(psl_vectors) / sizeof(psl_vectors[0]);
	     i++)
		check(p, psl_vectors[i][0], psl_vectors[i][1]);
	psl_free(&p);
	free(text);
}

static void
test_rule_kinds(void **st)
{
	struct psl *p = load("// a comment line\n"
			     "com\r\n"
			     "co.uk  trailing words are ignored\n"
			     "uk\n"
			     "*.ck\n!www.ck\n"
			     "*.sch.uk\n"
			     "\n\t\n"
			     "b\xc3\xbc" "cher.example\n");

	(void)st;
	check(p, "mail.example.com", "example.com");
	check(p, "a.b.example.co.uk", "example.co.uk");
	check(p, "co.uk", NULL);
	check(p, "x.uk", "x.uk");
	check(p, "a.b.c.ck", "b.c.ck");
	check(p, "www.ck", "www.ck");
	check(p, "a.b.school.sch.uk", "b.school.sch.uk");
	check(p, "school.sch.uk", NULL);
	check(p, "a.xn--bcher-kva.example", "a.xn--bcher-kva.example");
	check(p, "xn--bcher-kva.example", NULL);
	/* no rule: "*" */
	check(p, "a.b.test", "b.test");
	check(p, "test", NULL);
	/* malformed names */
	check(p, "", NULL);
	check(p, "a..com", NULL);
	check(p, "example.com.", NULL);
	psl_free(&p);
}

static void
test_skipped_and_limits(void **st)
{
	static char big[300];
	char out[254];
	struct psl *p = load("com\n*\na.*.b\nb\xc3\n!k\n"
			     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com\n");
	const char *err;
	struct psl *q;
	size_t n = 0;

	(void)st;
	assert_int_equal(psl_rules(p), 1);
	assert_int_equal(psl_skipped(p), 5);
	/* out too small */
	assert_int_equal(psl_org_domain(p, "a.example.com", out, 11), -1);
	assert_int_equal(psl_org_domain(p, "a.example.com", out, 12), 0);
	/* 254 octets, a leading dot, then 253 */
	for (n = 0; n < 252; n += 2)
		big[n] = 'a', big[n + 1] = '.';
	memcpy(big + n, "co", 3);	/* 254 octets */
	assert_int_equal(psl_org_domain(p, big, out, sizeof(out)), -1);
	assert_int_equal(psl_org_domain(p, big + 1, out, sizeof(out)), -1);
	big[1] = 'b';			/* 253 octets from big + 1 */
	assert_int_equal(psl_org_domain(p, big + 1, out, sizeof(out)), 0);
	assert_string_equal(out, "a.co");
	psl_free(&p);
	assert_int_equal(psl_load("// only comments\n\n", 18, &q, &err), -1);
	assert_null(q);
	assert_int_equal(psl_load("com", PSL_TEXT_MAX + 1, &q, &err), -1);
	psl_free(&q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_punycode),
		cmocka_unit_test(test_official_cases),
		cmocka_unit_test(test_libpsl_vectors),
		cmocka_unit_test(test_rule_kinds),
		cmocka_unit_test(test_skipped_and_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
