/*
 * Unit tests of DMARC (src/msgauth/dmarc*.c): the record's parser (every
 * tag of RFC 7489 6.3, bad values, v=DMARC1 first, the p=none fallback
 * of 6.6.3 step 6), the From rule (6.6.1), policy discovery with a DNS
 * table standing in for the resolver (the From domain, then the
 * organizational domain; several records; temporary failures), relaxed
 * and strict alignment of SPF and DKIM, p= and sp=, and pct= sampling.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msgauth/dmarc.h"
#include "msgauth/psl.h"

/* --- the record ------------------------------------------------------ */

static int
parse(const char *s, struct dmarc_record *r, const char **why)
{
	*why = NULL;
	return dmarc_parse(s, strlen(s), r, why);
}

static void
test_record_defaults(void **st)
{
	struct dmarc_record r;
	const char *why;

	(void)st;
	assert_int_equal(parse("v=DMARC1; p=reject", &r, &why), 0);
	assert_int_equal(r.p, DMARC_P_REJECT);
	assert_false(r.has_sp);
	assert_false(r.p_fallback);
	assert_int_equal(r.pct, 100);
	assert_false(r.adkim_strict);
	assert_false(r.aspf_strict);
	assert_int_equal(r.fo, DMARC_FO_0);
	assert_true(r.rf_afrf);
	assert_int_equal(r.ri, 86400);
	assert_int_equal(r.rua, 0);
	assert_int_equal(r.ruf, 0);
	/* whitespace, a trailing ';', values in any case */
	assert_int_equal(parse("  v = DMARC1 ;\tp = Quarantine ; ", &r, &why),
			 0);
	assert_int_equal(r.p, DMARC_P_QUARANTINE);
}

static void
test_record_every_tag(void **st)
{
	struct dmarc_record r;
	const char *why;

	(void)st;
	assert_int_equal(parse("v=DMARC1; p=none; sp=reject; adkim=s; "
			       "aspf=S; pct=20; fo=1:d : s; rf=afrf:iodef; "
			       "ri=3600; rua=mailto:a@example.com!10m, "
			       "mailto:b@example.com; "
			       "ruf=mailto:f@example.com; np=reject; psd=n",
			       &r, &why), 0);
	assert_int_equal(r.p, DMARC_P_NONE);
	assert_true(r.has_sp);
	assert_int_equal(r.sp, DMARC_P_REJECT);
	assert_true(r.adkim_strict);
	assert_true(r.aspf_strict);
	assert_int_equal(r.pct, 20);
	assert_int_equal(r.fo, DMARC_FO_1 | DMARC_FO_D | DMARC_FO_S);
	assert_true(r.rf_afrf);
	assert_int_equal(r.ri, 3600);
	assert_int_equal(r.rua, 2);
	assert_int_equal(r.ruf, 1);
	assert_int_equal(parse("v=DMARC1; p=reject; pct=0; rf=iodef; "
			       "ri=4294967295; adkim=r", &r, &why), 0);
	assert_int_equal(r.pct, 0);
	assert_false(r.rf_afrf);
	assert_int_equal(r.ri, 4294967295ul);
}

static void
test_record_bad(void **st)
{
	static const char *bad[] = {
		"v=DMARC1",			/* no p=, no rua= */
		"v=DMARC1; p=block",
		"v=DMARC1; p=reject; sp=maybe",
		"v=DMARC1; p=reject; adkim=x",
		"v=DMARC1; p=reject; aspf=relaxed",
		"v=DMARC1; p=reject; pct=101",
		"v=DMARC1; p=reject; pct=-1",
		"v=DMARC1; p=reject; pct=0100",
		"v=DMARC1; p=reject; pct=",
		"v=DMARC1; p=reject; fo=2",
		"v=DMARC1; p=reject; fo=0:",
		"v=DMARC1; p=reject; rf=-x",
		"v=DMARC1; p=reject; ri=4294967296",
		"v=DMARC1; p=reject; ri=1h",
		"v=DMARC1; p=reject; p=none",	/* a tag twice */
		"v=DMARC1; p=reject;; pct=5",	/* an empty tag */
		"v=DMARC1; p=re\x01ject",
		/* v=DMARC1 not first, or not exactly */
		"p=reject; v=DMARC1",
		"v=DMARC2; p=reject",
		"v=dmarc1; p=reject",
		"V=DMARC1; p=reject",
		"v=DMARC1x; p=reject",
		"",
	};
	struct dmarc_record r;
	const char *why;

	(void)st;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], &r, &why) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(why);
	}
	assert_false(dmarc_is_record("p=reject; v=DMARC1", 18));
	assert_true(dmarc_is_record("v=DMARC1", 8));
	assert_true(dmarc_is_record("v = DMARC1 ; p=bogus", 20));
}

static void
test_record_p_fallback(void **st)
{
	struct dmarc_record r;
	const char *why;

	(void)st;
	/* 6.6.3 step 6: a bad p= (or sp=) with a valid rua=: p=none */
	assert_int_equal(parse("v=DMARC1; p=block; rua=mailto:r@example.com",
			       &r, &why), 0);
	assert_true(r.p_fallback);
	assert_int_equal(r.p, DMARC_P_NONE);
	assert_int_equal(parse("v=DMARC1; rua=mailto:r@example.com", &r,
			       &why), 0);
	assert_true(r.p_fallback);
	assert_int_equal(parse("v=DMARC1; p=reject; sp=x; "
			       "rua=mailto:r@example.com", &r, &why), 0);
	assert_int_equal(r.p, DMARC_P_NONE);
	assert_false(r.has_sp);
	/* no valid URI in rua=: the record is broken */
	assert_int_equal(parse("v=DMARC1; p=block; rua=not a uri", &r, &why),
			 -1);
	assert_int_equal(parse("v=DMARC1; p=block; rua=mailto:a!x", &r, &why),
			 -1);
	assert_int_equal(parse("v=DMARC1; p=block; rua=:x", &r, &why), -1);
}

/* --- the From rule ---------------------------------------------------- */

static int
from(const char *hdr, char *out)
{
	return dmarc_from_domain(hdr, strlen(hdr), out, 254);
}

static void
test_from_domain(void **st)
{
	static const char *good[][2] = {
		{ "From: a@Example.COM\n", "example.com" },
		{ "Subject: x\r\nfrom: Joe <joe@b.example>\r\n\r\n",
		  "b.example" },
		{ "From: \"x@evil.example, y\" <a@b.example>\n", "b.example" },
		{ "From: (c) a (d) @ (e) b . example (f)\n", "b.example" },
		{ "From: Joe\n <a@b.example> (comment)\n", "b.example" },
		{ "From: <@r1.example,@r2.example:a@b.example>\n",
		  "b.example" },
		{ "From : a@b.example,\n", "b.example" },	/* obs */
		{ "From: a@b.example\n\nFrom: x@y.example\n", "b.example" },
		{ "From: \"J\\\"oe\" <\"a b\"@b.example>\n", "b.example" },
	};
	static const char *bad[] = {
		"Subject: no from\n",
		"From: a@b.example\nFrom: a@b.example\n",	/* two */
		"From: a@b.example\nX: y\nfrom: c@d.example\n",
		/* a line that is not a field does not hide the second */
		"From: a@b.example\nnot a field\nFrom: c@d.example\n",
		" folded first\nFrom: a@b.example\nFrom: c@d.example\n",
		"From: a@b.example, c@d.example\n",
		"From: <a@b.example>, <a@b.example>\n",
		"From: <a@b.example,c@d.example>\n",
		"From: friends: a@b.example;\n",		/* group */
		"From: undisclosed-recipients:;\n",
		"From: a@[192.0.2.1]\n",
		"From: joe\n",
		"From: <>\n",
		"From: @b.example\n",
		"From: a@b.example.\n",
		"From: a@b..example\n",
		"From: a@\"b.example\"\n",
		"From: a@b.example (unterminated\n",
		"From: \"unterminated <a@b.example>\n",
		"From: <a@b.example\n",
		"From: <a@b.example> trailing\n",
		"From: a@b.example <c@d.example>\n",
		"From: a@b@c.example\n",
		"From: a@b\xc3\xa9.example\n",
		"From:\n",
	};
	char out[254];

	(void)st;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (from(good[i][0], out) != 0)
			fail_msg("refused: %s", good[i][0]);
		assert_string_equal(out, good[i][1]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (from(bad[i], out) != -1)
			fail_msg("accepted: %s (%s)", bad[i], out);
	/* out too small */
	assert_int_equal(dmarc_from_domain("From: a@b.example\n", 18, out, 9),
			 -1);
	assert_int_equal(dmarc_from_domain("From: a@b.example\n", 18, out,
					   10), 0);
}

/* --- discovery and the verdict ---------------------------------------- */

struct zone {
	const char *name;
	enum dnsq_status status;
	const char *txt[4];
};

struct run {
	char asked[4][DNSQ_NAME_MAX + 1];
	size_t nasked;
};

static struct psl *
small_psl(void)
{
	static const char list[] = "com\nuk\nco.uk\nexample\n";
	struct psl *p;
	const char *err;

	assert_int_equal(psl_load(list, sizeof(list) - 1, &p, &err), 0);
	return p;
}

static void
add_txt(struct dnsq_answer *a, const char *txt)
{
	assert_int_equal(dnsq_answer_add(a, NULL, 0, 0, txt, strlen(txt)), 0);
}

/* Answers d's questions from zone (names not in it: NXDOMAIN). */
static void
discover(struct dmarc *d, const struct zone *zone, struct run *run)
{
	struct dnsq_question q;

	run->nasked = 0;
	while (dmarc_next(d, &q)) {
		struct dnsq_answer a = { DNSQ_NXDOMAIN, 0, 0, NULL };

		assert_int_equal(q.type, DNSQ_TXT);
		assert_true(run->nasked < 4);
		strcpy(run->asked[run->nasked++], q.name);
		for (const struct zone *z = zone; z->name != NULL; z++) {
			if (strcmp(z->name, q.name) != 0)
				continue;
			a.status = z->status;
			for (size_t i = 0; z->txt[i] != NULL; i++)
				add_txt(&a, z->txt[i]);
		}
		dmarc_answer(d, &a);
		dnsq_answer_free(&a);
	}
	assert_false(dmarc_next(d, &q));	/* stays over */
}

static const struct zone zone[] = {
	{ "_dmarc.example.com", DNSQ_OK,
	  { "v=spf1 -all", "v=DMARC1; p=reject; sp=quarantine; pct=50",
	    NULL } },
	{ "_dmarc.strict.com", DNSQ_OK,
	  { "v=DMARC1; p=reject; adkim=s; aspf=s", NULL } },
	{ "_dmarc.nosp.com", DNSQ_OK, { "v=DMARC1; p=quarantine", NULL } },
	{ "_dmarc.own.nosp.com", DNSQ_OK, { "v=DMARC1; p=reject", NULL } },
	{ "_dmarc.two.com", DNSQ_OK,
	  { "v=DMARC1; p=reject", "v=DMARC1; p=none", NULL } },
	{ "_dmarc.broken.com", DNSQ_OK, { "v=DMARC1; p=reject; pct=x",
					  NULL } },
	{ "_dmarc.sub.broken2.com", DNSQ_OK, { "v=DMARC1; p=oops", NULL } },
	{ "_dmarc.broken2.com", DNSQ_OK, { "v=DMARC1; p=reject", NULL } },
	{ "_dmarc.temp.com", DNSQ_TEMP, { NULL } },
	{ "_dmarc.a.temp2.com", DNSQ_NODATA, { NULL } },
	{ "_dmarc.temp2.com", DNSQ_TEMP, { NULL } },
	{ "_dmarc.example.co.uk", DNSQ_OK, { "v=DMARC1; p=reject", NULL } },
	{ NULL, DNSQ_OK, { NULL } },
};

static struct dmarc *
evaluate(const struct psl *p, const char *fromd, struct run *run)
{
	struct dmarc *d = dmarc_new(p, fromd);

	discover(d, zone, run);
	return d;
}

static enum dmarc_result
verdict(const struct dmarc *d, unsigned roll, enum dmarc_policy *applied)
{
	const char *why = NULL;
	enum dmarc_result r = dmarc_result(d, roll, applied, &why);

	assert_non_null(why);
	return r;
}

static void
test_discovery(void **st)
{
	struct psl *p = small_psl();
	struct run run;
	struct dmarc *d;
	enum dmarc_policy pol;
	const char *dom;

	(void)st;
	/* the From domain's own record: one question */
	d = evaluate(p, "Example.COM", &run);
	assert_int_equal(run.nasked, 1);
	assert_string_equal(run.asked[0], "_dmarc.example.com");
	assert_true(dmarc_requested(d, &pol));
	assert_int_equal(pol, DMARC_P_REJECT);	/* p=, not sp= */
	assert_non_null(dmarc_found_record(d, &dom));
	assert_string_equal(dom, "example.com");
	dmarc_free(&d);
	assert_null(d);
	/* a subdomain: the From domain, then the org domain; sp= */
	d = evaluate(p, "a.b.example.com", &run);
	assert_int_equal(run.nasked, 2);
	assert_string_equal(run.asked[0], "_dmarc.a.b.example.com");
	assert_string_equal(run.asked[1], "_dmarc.example.com");
	assert_string_equal(dmarc_org_domain(d), "example.com");
	assert_true(dmarc_requested(d, &pol));
	assert_int_equal(pol, DMARC_P_QUARANTINE);
	(void)dmarc_found_record(d, &dom);
	assert_string_equal(dom, "example.com");
	dmarc_free(&d);
	/* no sp=: p= for subdomains too; a subdomain's own record wins */
	d = evaluate(p, "x.nosp.com", &run);
	assert_true(dmarc_requested(d, &pol));
	assert_int_equal(pol, DMARC_P_QUARANTINE);
	dmarc_free(&d);
	d = evaluate(p, "own.nosp.com", &run);
	assert_int_equal(run.nasked, 1);
	assert_true(dmarc_requested(d, &pol));
	assert_int_equal(pol, DMARC_P_REJECT);
	dmarc_free(&d);
	/* the public suffix list decides where the org domain is */
	d = evaluate(p, "mail.example.co.uk", &run);
	assert_int_equal(run.nasked, 2);
	assert_string_equal(run.asked[1], "_dmarc.example.co.uk");
	assert_true(dmarc_requested(d, &pol));
	dmarc_free(&d);
	/* nothing anywhere: none; the org domain asked only once */
	d = evaluate(p, "nothing.com", &run);
	assert_int_equal(run.nasked, 1);
	assert_int_equal(verdict(d, 0, &pol), DMARC_NONE);
	assert_false(dmarc_requested(d, &pol));
	dmarc_free(&d);
	d = evaluate(p, "a.nothing.com", &run);
	assert_int_equal(run.nasked, 2);
	assert_int_equal(verdict(d, 0, &pol), DMARC_NONE);
	dmarc_free(&d);
	psl_free(&p);
}

static void
test_discovery_errors(void **st)
{
	struct psl *p = small_psl();
	struct run run;
	struct dmarc *d;
	enum dmarc_policy pol;

	(void)st;
	/* two DMARC records: none (6.6.3 step 5), the org not asked */
	d = evaluate(p, "two.com", &run);
	assert_int_equal(verdict(d, 0, &pol), DMARC_NONE);
	assert_int_equal(pol, DMARC_P_NONE);
	dmarc_free(&d);
	/* a malformed record: permerror, no policy */
	d = evaluate(p, "broken.com", &run);
	dmarc_add_dkim(d, false, "broken.com");
	assert_int_equal(verdict(d, 0, &pol), DMARC_PERMERROR);
	assert_int_equal(pol, DMARC_P_NONE);
	dmarc_free(&d);
	/* a broken record at the From domain stops discovery there */
	d = evaluate(p, "sub.broken2.com", &run);
	assert_int_equal(run.nasked, 1);
	assert_int_equal(verdict(d, 0, &pol), DMARC_PERMERROR);
	dmarc_free(&d);
	/* DNS trouble: temperror, at either step */
	d = evaluate(p, "temp.com", &run);
	assert_int_equal(verdict(d, 0, &pol), DMARC_TEMPERROR);
	assert_int_equal(pol, DMARC_P_NONE);
	dmarc_free(&d);
	d = evaluate(p, "a.temp2.com", &run);
	assert_int_equal(run.nasked, 2);
	assert_int_equal(verdict(d, 0, &pol), DMARC_TEMPERROR);
	dmarc_free(&d);
	/* not finished: temperror; the question repeats until answered */
	{
		struct dnsq_question q1, q2;

		d = dmarc_new(p, "example.com");
		assert_int_equal(verdict(d, 0, &pol), DMARC_TEMPERROR);
		assert_true(dmarc_next(d, &q1));
		assert_true(dmarc_next(d, &q2));
		assert_string_equal(q1.name, q2.name);
		dmarc_free(&d);
	}
	/* a malformed From domain: no question, permerror */
	d = evaluate(p, "a..com", &run);
	assert_int_equal(run.nasked, 0);
	assert_int_equal(verdict(d, 0, &pol), DMARC_PERMERROR);
	dmarc_free(&d);
	psl_free(&p);
}

static void
test_alignment_relaxed(void **st)
{
	struct psl *p = small_psl();
	struct run run;
	struct dmarc *d;
	enum dmarc_policy pol;

	(void)st;
	/* SPF for a sibling under the same org domain: aligned */
	d = evaluate(p, "news.example.com", &run);
	dmarc_set_spf(d, true, "bounces.example.com");
	assert_int_equal(verdict(d, 0, &pol), DMARC_PASS);
	assert_int_equal(pol, DMARC_P_NONE);
	/* SPF that did not pass does not count, however aligned */
	dmarc_set_spf(d, false, "news.example.com");
	assert_int_equal(verdict(d, 0, &pol), DMARC_FAIL);
	assert_int_equal(pol, DMARC_P_QUARANTINE);	/* sp= */
	/* DKIM: the first failing, a second for another org, then one */
	dmarc_add_dkim(d, false, "example.com");
	dmarc_add_dkim(d, true, "example.net");
	assert_int_equal(verdict(d, 0, &pol), DMARC_FAIL);
	dmarc_add_dkim(d, true, "EXAMPLE.com");
	assert_int_equal(verdict(d, 0, &pol), DMARC_PASS);
	dmarc_free(&d);
	/* a look-alike is not aligned */
	d = evaluate(p, "example.com", &run);
	dmarc_set_spf(d, true, "notexample.com");
	dmarc_add_dkim(d, true, "example.com.evil.com");
	dmarc_add_dkim(d, true, "com");
	dmarc_add_dkim(d, true, NULL);
	dmarc_add_dkim(d, true, "");
	assert_int_equal(verdict(d, 0, &pol), DMARC_FAIL);
	assert_int_equal(pol, DMARC_P_REJECT);
	dmarc_free(&d);
	/* without a list each domain is its own org domain */
	d = dmarc_new(NULL, "a.example.com");
	discover(d, zone, &run);
	assert_int_equal(run.nasked, 1);
	dmarc_free(&d);
	psl_free(&p);
}

static void
test_alignment_strict(void **st)
{
	struct psl *p = small_psl();
	struct run run;
	struct dmarc *d;
	enum dmarc_policy pol;

	(void)st;
	d = evaluate(p, "mail.strict.com", &run);
	dmarc_set_spf(d, true, "strict.com");
	dmarc_add_dkim(d, true, "strict.com");
	assert_int_equal(verdict(d, 0, &pol), DMARC_FAIL);
	assert_int_equal(pol, DMARC_P_REJECT);
	dmarc_set_spf(d, true, "MAIL.strict.com");
	assert_int_equal(verdict(d, 0, &pol), DMARC_PASS);
	dmarc_set_spf(d, false, "mail.strict.com");
	assert_int_equal(verdict(d, 0, &pol), DMARC_FAIL);
	dmarc_add_dkim(d, true, "mail.strict.com");
	assert_int_equal(verdict(d, 0, &pol), DMARC_PASS);
	dmarc_free(&d);
	psl_free(&p);
}

static void
test_pct(void **st)
{
	struct psl *p = small_psl();
	struct run run;
	struct dmarc *d;
	enum dmarc_policy pol;
	unsigned in = 0;

	(void)st;
	/* example.com: p=reject pct=50; a subdomain: sp=quarantine */
	d = evaluate(p, "example.com", &run);
	assert_int_equal(verdict(d, 49, &pol), DMARC_FAIL);
	assert_int_equal(pol, DMARC_P_REJECT);
	assert_int_equal(verdict(d, 50, &pol), DMARC_FAIL);
	assert_int_equal(pol, DMARC_P_QUARANTINE);	/* next lower */
	for (unsigned roll = 0; roll < 100; roll++) {
		assert_int_equal(verdict(d, roll, &pol), DMARC_FAIL);
		in += pol == DMARC_P_REJECT;
	}
	assert_int_equal(in, 50);
	/* the pointers may be NULL */
	assert_int_equal(dmarc_result(d, 0, NULL, NULL), DMARC_FAIL);
	dmarc_free(&d);
	d = evaluate(p, "a.example.com", &run);
	assert_int_equal(verdict(d, 10, &pol), DMARC_FAIL);
	assert_int_equal(pol, DMARC_P_QUARANTINE);
	assert_int_equal(verdict(d, 99, &pol), DMARC_FAIL);
	assert_int_equal(pol, DMARC_P_NONE);
	dmarc_free(&d);
	psl_free(&p);
}

static void
test_names(void **st)
{
	(void)st;
	assert_string_equal(dmarc_result_name(DMARC_NONE), "none");
	assert_string_equal(dmarc_result_name(DMARC_PASS), "pass");
	assert_string_equal(dmarc_result_name(DMARC_FAIL), "fail");
	assert_string_equal(dmarc_result_name(DMARC_TEMPERROR), "temperror");
	assert_string_equal(dmarc_result_name(DMARC_PERMERROR), "permerror");
	assert_string_equal(dmarc_policy_name(DMARC_P_QUARANTINE),
			    "quarantine");
	assert_string_equal(dmarc_policy_name(DMARC_P_REJECT), "reject");
	assert_string_equal(dmarc_policy_name(DMARC_P_NONE), "none");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_defaults),
		cmocka_unit_test(test_record_every_tag),
		cmocka_unit_test(test_record_bad),
		cmocka_unit_test(test_record_p_fallback),
		cmocka_unit_test(test_from_domain),
		cmocka_unit_test(test_discovery),
		cmocka_unit_test(test_discovery_errors),
		cmocka_unit_test(test_alignment_relaxed),
		cmocka_unit_test(test_alignment_strict),
		cmocka_unit_test(test_pct),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
