/*
 * Unit tests of DKIM (src/msgauth): the tag-list parser and its errors,
 * canonicalization (RFC 6376 3.4.5's example, the body's edge cases, fed
 * whole, byte by byte and in chunks, CRLF and LF alike), the RFC 8463
 * example signature, messages signed by dkimpy (dkim_vectors.h), our own
 * signatures of both algorithms verified back, and the limits: key
 * sizes, signatures per message, h= length, l= (the tail is recorded as
 * unsigned).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "msgauth/dkim.h"
#include "msgauth/dkim_canon.h"
#include "msgauth/dkim_private.h"
#include "msgauth/dkim_tags.h"

#include "dkim_vectors.h"

/* --- tag lists ------------------------------------------------------ */

static int
tags(const char *s, struct dkim_tags *t, const char **err)
{
	return dkim_tags_parse(s, strlen(s), t, err);
}

static void
test_tags_good(void **st)
{
	struct dkim_tags t;
	const struct dkim_tag *g;
	const char *err = NULL;

	(void)st;
	assert_int_equal(tags(" v = 1 ;\r\n\ta=rsa-sha256;h=from :\n to;"
			      " x_1=;", &t, &err), 0);
	assert_int_equal(t.n, 4);
	g = dkim_tags_get(&t, "v");
	assert_non_null(g);
	assert_true(dkim_tag_is(g, "1"));
	g = dkim_tags_get(&t, "h");
	assert_int_equal(g->vlen, strlen("from :\n to"));
	assert_true(dkim_tag_is(dkim_tags_get(&t, "x_1"), ""));
	assert_null(dkim_tags_get(&t, "V")); /* names are case-sensitive */
	assert_int_equal(tags("", &t, &err), 0);
	assert_int_equal(t.n, 0);
}

static void
test_tags_errors(void **st)
{
	static const char *const bad[] = {
		"a",		/* no '=' */
		"a=b;;c=d",	/* an empty tag-spec */
		"a=1; a=2",	/* twice */
		"1a=b",		/* a name starts with a letter */
		"a-b=c",	/* '-' is not in a name */
		"a=b\001c",	/* a control octet in a value */
		"a=\xc3\xa9",	/* 8-bit */
		";",
		"=x",
	};
	char many[DKIM_TAGS_MAX * 8 + 16] = "";
	struct dkim_tags t;
	const char *err;

	(void)st;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		assert_int_equal(tags(bad[i], &t, &err), -1);
		assert_non_null(err);
	}
	for (int i = 0; i <= DKIM_TAGS_MAX; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many),
			 "t%d=x;", i);
	assert_int_equal(tags(many, &t, &err), -1);
	assert_string_equal(err, "too many tags");
}

/* --- canonicalization ------------------------------------------------ */

static void
collect(void *arg, const char *p, size_t n)
{
	assert_int_equal(buf_add(arg, p, n), 0);
}

/* The canonical body of text, fed in chunks of step octets (0: whole). */
static struct buf *
body(enum dkim_canon c, const char *text, size_t step, uint64_t limit,
     uint64_t *total)
{
	struct buf *out = buf_new(1 << 20);
	struct dkim_body b;
	size_t len = strlen(text);

	dkim_body_init(&b, c, limit, collect, out);
	for (size_t i = 0; i < len;) {
		size_t n = step == 0 || len - i < step ? len - i : step;

		dkim_body_feed(&b, text + i, n);
		i += n;
	}
	dkim_body_finish(&b);
	if (total != NULL)
		*total = b.total;
	return out;
}

static void
assert_body(enum dkim_canon c, const char *in, const char *want)
{
	static const size_t steps[] = {0, 1, 2, 3, 7};

	for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
		uint64_t total;
		struct buf *out = body(c, in, steps[k], UINT64_MAX, &total);

		assert_int_equal(out->len, strlen(want));
		assert_memory_equal(out->data, want, out->len);
		assert_int_equal(total, strlen(want));
		buf_free(&out);
	}
}

/* RFC 6376 3.4.5, both canonicalizations, headers and body. */
static void
test_canon_rfc6376_example(void **st)
{
	static const char msg[] = "A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n"
				  " C \r\nD \t E\r\n\r\n\r\n";
	struct dkim_hfield f[4];
	struct buf *h = buf_new(4096);
	size_t n, b;

	(void)st;
	assert_int_equal(dkim_canon_split(msg, strlen(msg), f, 4, &n, &b), 0);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++)
		dkim_canon_header(DKIM_RELAXED, f[i].p, f[i].len, true, h);
	assert_string_equal(h->data, "a:X\r\nb:Y Z\r\n");
	buf_reset(h);
	for (size_t i = 0; i < n; i++)
		dkim_canon_header(DKIM_SIMPLE, f[i].p, f[i].len, true, h);
	assert_string_equal(h->data, "A: X\r\nB : Y\t\r\n\tZ  \r\n");
	assert_body(DKIM_RELAXED, msg + b, " C\r\nD E\r\n");
	assert_body(DKIM_SIMPLE, msg + b, " C \r\nD \t E\r\n");
	buf_free(&h);
}

static void
test_canon_body_edges(void **st)
{
	(void)st;
	/* an empty body: CRLF under simple, nothing under relaxed */
	assert_body(DKIM_SIMPLE, "", "\r\n");
	assert_body(DKIM_RELAXED, "", "");
	assert_body(DKIM_SIMPLE, "\r\n\r\n\n", "\r\n");
	assert_body(DKIM_RELAXED, "\r\n \t\r\n", "");
	/* no line end at the end: one is added */
	assert_body(DKIM_SIMPLE, "abc", "abc\r\n");
	assert_body(DKIM_RELAXED, "abc  ", "abc\r\n");
	/* LF as owlpost stores it is the same as CRLF */
	assert_body(DKIM_SIMPLE, "a\n\nb \n\n", "a\r\n\r\nb \r\n");
	assert_body(DKIM_RELAXED, "a\n\nb \n\n", "a\r\n\r\nb\r\n");
	/* a bare CR is text; a CR at the very end too */
	assert_body(DKIM_SIMPLE, "a\rb\r\n", "a\rb\r\n");
	assert_body(DKIM_RELAXED, "a\rb\r", "a\rb\r\r\n");
	/* empty lines inside are kept, whitespace-only ones count as empty
	 * under relaxed */
	assert_body(DKIM_RELAXED, "a\r\n  \r\n\r\nb\r\n",
		    "a\r\n\r\n\r\nb\r\n");
	assert_body(DKIM_SIMPLE, "a\r\n  \r\n\r\nb\r\n",
		    "a\r\n  \r\n\r\nb\r\n");
	/* leading whitespace stays (as one SP under relaxed) */
	assert_body(DKIM_RELAXED, "\t\tx\r\n", " x\r\n");
}

/* A long body crosses the output runs; a limit passes on only that much. */
static void
test_canon_body_long_and_limit(void **st)
{
	char *big = malloc(3 * DKIM_CANON_RUN + 1);
	struct buf *out;
	uint64_t total;

	(void)st;
	for (size_t i = 0; i < 3 * DKIM_CANON_RUN; i++)
		big[i] = i % 80 == 79 ? '\n' : 'a' + (char)(i % 26);
	big[3 * DKIM_CANON_RUN] = '\0';
	out = body(DKIM_SIMPLE, big, 0, UINT64_MAX, &total);
	assert_int_equal(out->len, 3 * DKIM_CANON_RUN +
					   3 * DKIM_CANON_RUN / 80 + 2);
	buf_free(&out);
	out = body(DKIM_SIMPLE, big, 13, 100, &total);
	assert_int_equal(out->len, 100);
	assert_true(total > 100);
	buf_free(&out);
	free(big);
}

static void
test_canon_split_errors(void **st)
{
	struct dkim_hfield f[2];
	size_t n, b;

	(void)st;
	assert_int_equal(dkim_canon_split(" cont\r\n", 7, f, 2, &n, &b), -1);
	assert_int_equal(dkim_canon_split("nocolon\r\n", 9, f, 2, &n, &b), -1);
	assert_int_equal(dkim_canon_split("a:1\nb:2\nc:3\n", 12, f, 2, &n, &b),
			 -1);
	assert_int_equal(dkim_canon_split("a:1\nb:2\n", 8, f, 2, &n, &b), 0);
	assert_int_equal(b, 8); /* no body */
}

/* --- verification ----------------------------------------------------- */

/* RFC 8463 A.2 and A.3: the Ed25519 key and the signed message. */
static const char RFC8463_REC[] =
	"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
static const char RFC8463_MSG[] =
	"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
	" d=football.example.com; i=@football.example.com;\r\n"
	" q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
	" subject : date : message-id : from : subject : date;\r\n"
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	" b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
	" Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
	"From: Joe SixPack <joe@football.example.com>\r\n"
	"To: Suzie Q <suzie@shopping.example.net>\r\n"
	"Subject: Is dinner ready?\r\n"
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
	"\r\n"
	"Hi.\r\n"
	"\r\n"
	"We lost the game.  Are you hungry yet?\r\n"
	"\r\n"
	"Joe.\r\n";

/* Verifies msg's signature i with record, the body fed in step-octet
 * chunks (0: whole); the result in *r. */
static void
verify_step(const char *msg, const char *record, size_t step, size_t i,
	    const struct dkim_verify_limits *lim, struct dkim_sig_result *r)
{
	const char *blank = strstr(msg, "\r\n\r\n"), *err = NULL;
	size_t hlen, len = strlen(msg);
	struct dkim_verifier *v;

	if (blank != NULL)
		hlen = (size_t)(blank - msg) + 4;
	else
		hlen = (size_t)(strstr(msg, "\n\n") - msg) + 2;
	v = dkim_verifier_new(lim, msg, hlen, 1700000000, &err);
	assert_non_null(v);
	for (size_t k = hlen; k < len;) {
		size_t n = step == 0 || len - k < step ? len - k : step;

		dkim_verifier_body(v, msg + k, n);
		k += n;
	}
	dkim_verifier_finish(v);
	dkim_verifier_check(v, i, record, record ? strlen(record) : 0, r);
	dkim_verifier_free(&v);
}

static enum dkim_result
verify(const char *msg, const char *record)
{
	struct dkim_sig_result r;

	verify_step(msg, record, 0, 0, NULL, &r);
	return r.res;
}

static void
test_rfc8463_example(void **st)
{
	struct dkim_sig_result r;
	const char *d, *s, *err;
	struct dkim_verifier *v;
	char *bad;

	(void)st;
	for (size_t step = 0; step < 4; step++) {
		verify_step(RFC8463_MSG, RFC8463_REC, step, 0, NULL, &r);
		assert_int_equal(r.res, DKIM_PASS);
		assert_int_equal(r.algo, DKIM_ED25519_SHA256);
		assert_string_equal(r.domain, "football.example.com");
		assert_string_equal(r.selector, "brisbane");
		assert_false(r.has_l);
	}
	v = dkim_verifier_new(NULL, RFC8463_MSG, strlen(RFC8463_MSG), 0, &err);
	assert_int_equal(dkim_verifier_count(v), 1);
	assert_true(dkim_verifier_query(v, 0, &d, &s));
	assert_string_equal(d, "football.example.com");
	dkim_verifier_free(&v);
	/* one octet changed in the body, then in a signed header */
	bad = strdup(RFC8463_MSG);
	*strstr(bad, "hungry") = 'H';
	assert_int_equal(verify(bad, RFC8463_REC), DKIM_FAIL);
	free(bad);
	bad = strdup(RFC8463_MSG);
	*strstr(bad, "dinner") = 'D';
	assert_int_equal(verify(bad, RFC8463_REC), DKIM_FAIL);
	free(bad);
	/* an unsigned field added: still a pass; a second From: a fail */
	bad = malloc(strlen(RFC8463_MSG) + 64);
	strcpy(bad, "X-Added: yes\r\n");
	strcat(bad, RFC8463_MSG);
	assert_int_equal(verify(bad, RFC8463_REC), DKIM_PASS);
	strcpy(bad, RFC8463_MSG);
	memmove(strstr(bad, "\r\n\r\nHi.") + 2 + 17, strstr(bad, "\r\n\r\nHi.")
		+ 2, strlen(strstr(bad, "\r\n\r\nHi.") + 2) + 1);
	memcpy(strstr(bad, "\r\n\r\nHi.") + 2, "From: evil@x.org\r\n", 18);
	assert_int_equal(verify(bad, RFC8463_REC), DKIM_FAIL);
	free(bad);
	/* the wrong key, no key, a revoked key, the wrong k= */
	assert_int_equal(verify(RFC8463_MSG, REC_ED), DKIM_FAIL);
	assert_int_equal(verify(RFC8463_MSG, NULL), DKIM_PERMERROR);
	assert_int_equal(verify(RFC8463_MSG, "v=DKIM1; k=ed25519; p="),
			 DKIM_PERMERROR);
	assert_int_equal(verify(RFC8463_MSG, "v=DKIM1; p=11qYAYKxCrfVS/7TyWQH"
				"Og7hcvPapiMlrwIaaPcHURo="), DKIM_PERMERROR);
	assert_int_equal(verify(RFC8463_MSG, "k=ed25519; v=DKIM1; p=11qYAY"
				"KxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="),
			 DKIM_PERMERROR);
	/* t=s: i= must then be d= itself, as it is here */
	assert_int_equal(verify(RFC8463_MSG, "v=DKIM1; k=ed25519; t=s; p=11q"
				"YAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="),
			 DKIM_PASS);
}

static void
test_dkimpy_vectors(void **st)
{
	struct dkim_sig_result r;

	(void)st;
	for (size_t step = 0; step < 3; step++) {
		verify_step(MSG_RSA_SIMPLE, REC_RSA, step * 5, 0, NULL, &r);
		assert_int_equal(r.res, DKIM_PASS);
		assert_int_equal(r.bits, 2048);
	}
	assert_int_equal(verify(MSG_RSA_RELAXED, REC_RSA), DKIM_PASS);
	assert_int_equal(verify(MSG_ED_RELAXED_SIMPLE, REC_ED), DKIM_PASS);
	assert_int_equal(verify(MSG_RSA_RELAXED, REC_RSA1024), DKIM_FAIL);
	/* a 1024-bit key is accepted for verifying (RFC 8301)... */
	verify_step(MSG_RSA1024_RELAXED, REC_RSA1024, 0, 0, NULL, &r);
	assert_int_equal(r.res, DKIM_PASS);
	assert_int_equal(r.bits, 1024);
	/* ...unless the limit says 2048 */
	{
		struct dkim_verify_limits lim = {5, 2048, 8192, 64};

		verify_step(MSG_RSA1024_RELAXED, REC_RSA1024, 0, 0, &lim, &r);
		assert_int_equal(r.res, DKIM_PERMERROR);
	}
}

/* l=: the signed part passes, the tail is recorded as not signed. */
static void
test_length_tag(void **st)
{
	struct dkim_sig_result r;
	char *shorter;

	(void)st;
	verify_step(MSG_ED_LENGTH, REC_ED, 0, 0, NULL, &r);
	assert_int_equal(r.res, DKIM_PASS);
	assert_true(r.has_l);
	assert_true(r.partial);
	assert_true(r.body_len > r.l);
	/* a body shorter than l= is an error */
	shorter = strdup(MSG_ED_LENGTH);
	strcpy(strstr(shorter, "Joe.\r\n"), "\r\n");
	assert_int_equal(verify(shorter, REC_ED), DKIM_PERMERROR);
	free(shorter);
}

/* Replaces the first "from" of tag text in msg with repl, into out. */
static char *
replace(const char *msg, const char *old, const char *repl)
{
	const char *p = strstr(msg, old);
	char *out = malloc(strlen(msg) + strlen(repl) + 1);

	assert_non_null(p);
	memcpy(out, msg, (size_t)(p - msg));
	strcpy(out + (p - msg), repl);
	strcat(out, p + strlen(old));
	return out;
}

static void
test_malformed_signatures(void **st)
{
	static const char *const bad[][2] = {
		{"v=1;", "v=2;"},
		{"a=ed25519-sha256", "a=rsa-sha1"},
		{"a=ed25519-sha256", "a=foo"},
		{"c=relaxed/relaxed", "c=relaxed/other"},
		{"h=from : to :\r\n subject : date : message-id : from :",
		 "h=to :\r\n subject : date : message-id :"},
		{"i=@football.example.com", "i=@example.com"},
		{"q=dns/txt", "q=http"},
		{"t=1528637909", "t=1528637909; x=1528637908"},
		{"t=1528637909", "t=1528637909; x=1600000000"}, /* expired */
		{"t=1528637909", "t=1528637909; l=99999999999999999999"},
		{"bh=2jUS", "bh=!!US"},
		{"d=football", "s=x; d=football"},
	};
	struct dkim_sig_result r;

	(void)st;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *m = replace(RFC8463_MSG, bad[i][0], bad[i][1]);

		verify_step(m, RFC8463_REC, 0, 0, NULL, &r);
		if (r.res != DKIM_PERMERROR)
			fail_msg("case %zu: %s", i, dkim_result_name(r.res));
		assert_true(strlen(r.why) > 0);
		free(m);
	}
}

/* More signatures than the limit: the rest are not checked; a long h=. */
static void
test_verify_limits(void **st)
{
	struct buf *m = buf_new(1 << 16);
	struct dkim_verify_limits lim = {2, 1024, 8192, 8};
	struct dkim_sig_result r;
	const char *sig_end = strstr(RFC8463_MSG, "From: Joe");
	const char *err;
	struct dkim_verifier *v;
	char *longh;

	(void)st;
	for (int i = 0; i < 3; i++)
		buf_add(m, RFC8463_MSG, (size_t)(sig_end - RFC8463_MSG));
	buf_addstr(m, sig_end);
	v = dkim_verifier_new(&lim, m->data, (size_t)(strstr(m->data,
		"\r\n\r\n") - m->data) + 4, 0, &err);
	assert_int_equal(dkim_verifier_count(v), 3);
	dkim_verifier_finish(v);
	dkim_verifier_check(v, 2, RFC8463_REC, strlen(RFC8463_REC), &r);
	assert_int_equal(r.res, DKIM_NOT_CHECKED);
	dkim_verifier_free(&v);
	buf_free(&m);
	/* nine names in h= against a limit of eight */
	longh = replace(RFC8463_MSG, "date;", "date : to;");
	verify_step(longh, RFC8463_REC, 0, 0, &lim, &r);
	assert_int_equal(r.res, DKIM_PERMERROR);
	free(longh);
}

/* --- signing ------------------------------------------------------------- */

static const char TO_SIGN[] =
	"Return-Path: <joe@example.org>\n"
	"Received: from x ([127.0.0.1])\n\tby mx (owlpost) with ESMTPA\n"
	"From: \"Joe, <the> Example\" <Joe@Example.ORG>\n"
	"To: a@example.net\n"
	"Subject: hello\n\t there\n"
	"Message-ID: <1@example.org>\n"
	"\n"
	"Body line  \n"
	"\n"
	"Last.\n\n\n";

/* Signs TO_SIGN with key, then verifies the result with its record. */
static void
sign_and_verify(struct dkim_key *key)
{
	const char *body = strstr(TO_SIGN, "\n\n") + 2, *err = NULL;
	struct buf *out = buf_new(1 << 20), *rec = buf_new(8192);
	struct dkim_signer *s;
	struct dkim_sig_result r;

	s = dkim_signer_new(key, "example.org", "sel", 1700000000, TO_SIGN,
			    (size_t)(body - TO_SIGN), &err);
	assert_non_null(s);
	for (const char *p = body; *p != '\0'; p++)
		dkim_signer_body(s, p, 1);
	assert_int_equal(dkim_signer_finish(s, out, &err), 0);
	dkim_signer_free(&s);
	assert_non_null(strstr(out->data, "c=relaxed/relaxed"));
	if (strstr(out->data, "h=from:from:subject:to:message-id;") == NULL)
		fail_msg("%s", out->data);
	assert_null(strstr(out->data, "l="));
	assert_null(strstr(out->data, "\r"));
	for (const char *p = out->data; (p = strchr(p, '\n')) != NULL; p++)
		assert_true(p[1] == '\t' || p[1] == '\0');
	buf_addstr(out, TO_SIGN);
	assert_int_equal(dkim_key_record(key, rec), 0);
	verify_step(out->data, rec->data, 0, 0, NULL, &r);
	assert_int_equal(r.res, DKIM_PASS);
	buf_free(&out);
	buf_free(&rec);
}

static void
test_sign_both(void **st)
{
	struct dkim_key *k = NULL, *k2 = NULL;
	struct buf *pem = buf_new(16384);
	const char *err;

	(void)st;
	assert_int_equal(dkim_key_generate(DKIM_ED25519_SHA256, &k, &err), 0);
	sign_and_verify(k);
	/* the PEM round trip gives the same key */
	assert_int_equal(dkim_key_pem(k, pem), 0);
	assert_int_equal(dkim_key_private(pem->data, pem->len, &k2, &err), 0);
	sign_and_verify(k2);
	dkim_key_free(&k);
	dkim_key_free(&k2);
	assert_int_equal(dkim_key_generate(DKIM_RSA_SHA256, &k, &err), 0);
	assert_int_equal(dkim_key_bits(k), 2048);
	sign_and_verify(k);
	dkim_key_free(&k);
	buf_free(&pem);
}

static void
test_sign_refusals(void **st)
{
	EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	struct buf *pem = buf_new(16384);
	struct dkim_key *k = NULL;
	const char *err = NULL;
	BIO *bio = BIO_new(BIO_s_mem());
	char *p;
	long n;

	(void)st;
	PEM_write_bio_PrivateKey(bio, small, NULL, NULL, 0, NULL, NULL);
	n = BIO_get_mem_data(bio, &p);
	assert_int_equal(dkim_key_private(p, (size_t)n, &k, &err), -1);
	assert_string_equal(err, "RSA key too small");
	BIO_free(bio);
	EVP_PKEY_free(small);
	assert_int_equal(dkim_key_private("junk", 4, &k, &err), -1);
	assert_int_equal(dkim_key_generate(DKIM_ED25519_SHA256, &k, &err), 0);
	assert_null(dkim_signer_new(k, "example.org", "sel", 0, "To: x\n\n", 7,
				    &err));
	assert_string_equal(err, "no From field to sign");
	assert_null(dkim_signer_new(k, "exa mple.org", "sel", 0,
				    "From: x@y\n\n", 11, &err));
	assert_null(dkim_signer_new(k, "example.org", "s;l", 0,
				    "From: x@y\n\n", 11, &err));
	dkim_key_free(&k);
	buf_free(&pem);
}

static void
test_from_domain(void **st)
{
	static const char *const cases[][2] = {
		{"From: Joe <joe@Example.ORG>\n\n", "example.org"},
		{"To: x\nFrom: joe@example.net\n\n", "example.net"},
		{"From: \"a@b.c <x>\" <joe@real.example>\n\n", "real.example"},
		{"From: (c@d.e) joe@example.com (Joe)\n\n", "example.com"},
		{"From:\n\tJoe <joe@folded.example>\n\n", "folded.example"},
	};
	char d[256];

	(void)st;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (dkim_from_domain(cases[i][0], strlen(cases[i][0]), d,
				     sizeof(d)) != 0)
			fail_msg("%s", cases[i][0]);
		assert_string_equal(d, cases[i][1]);
	}
	/* From after 100 other fields */
	{
		struct buf *h = buf_new(4096);

		for (int i = 0; i < 100; i++)
			buf_addstr(h, "X-A: 1\n");
		buf_addstr(h, "From: a@late.example\n\n");
		assert_int_equal(dkim_from_domain(h->data, h->len, d,
						  sizeof(d)), 0);
		assert_string_equal(d, "late.example");
		buf_free(&h);
	}
	assert_int_equal(dkim_from_domain("To: x\n\n", 7, d, sizeof(d)), -1);
	assert_int_equal(dkim_from_domain("From: joe\n\n", 11, d, sizeof(d)),
			 -1);
	assert_int_equal(dkim_from_domain("From: <joe@ex;ample>\n\n", 22, d,
					  sizeof(d)), -1);
}

/* The p= of a record made by dkim_key_record, in out. */
static void
record_p(const struct dkim_key *k, char *out, size_t size)
{
	struct buf *b = buf_new(4096);
	const char *p;

	assert_int_equal(dkim_key_record(k, b), 0);
	assert_int_equal(buf_addc(b, '\0'), 0);
	p = strstr(b->data, "p=");
	assert_non_null(p);
	snprintf(out, size, "%s", p + 2);
	buf_free(&b);
}

/*
 * Public keys parsed from records are kept (dkim_key.c's cache): more
 * keys than it holds, each parsed twice in turn, still verify their own
 * signatures and no other key's, and a clear leaves them working.
 */
static void
test_public_key_cache(void **st)
{
	enum { N = 70 };
	struct dkim_key *priv[N];
	char rec[N][128];
	unsigned char sig[DKIM_SIG_MAX];
	size_t siglen;
	const char *err;

	(void)st;
	for (size_t i = 0; i < N; i++) {
		assert_int_equal(dkim_key_generate(DKIM_ED25519_SHA256,
						   &priv[i], &err), 0);
		record_p(priv[i], rec[i], sizeof(rec[i]));
	}
	for (int pass = 0; pass < 3; pass++) {
		if (pass == 2)
			dkim_key_cache_clear();
		for (size_t i = 0; i < N; i++) {
			struct dkim_key *pub, *other;
			size_t j = (i + 1) % N;

			assert_int_equal(dkim_key_public(DKIM_ED25519_SHA256,
							 rec[i], strlen(rec[i]),
							 &pub, &err), 0);
			assert_int_equal(dkim_key_public(DKIM_ED25519_SHA256,
							 rec[j], strlen(rec[j]),
							 &other, &err), 0);
			assert_int_equal(dkim_key_sign(priv[i], "text", 4, sig,
						       &siglen), 0);
			assert_true(dkim_key_verify(pub, "text", 4, sig,
						    siglen));
			assert_false(dkim_key_verify(other, "text", 4, sig,
						     siglen));
			dkim_key_free(&pub);
			dkim_key_free(&other);
		}
	}
	for (size_t i = 0; i < N; i++)
		dkim_key_free(&priv[i]);
	dkim_key_cache_clear();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tags_good),
		cmocka_unit_test(test_tags_errors),
		cmocka_unit_test(test_canon_rfc6376_example),
		cmocka_unit_test(test_canon_body_edges),
		cmocka_unit_test(test_canon_body_long_and_limit),
		cmocka_unit_test(test_canon_split_errors),
		cmocka_unit_test(test_rfc8463_example),
		cmocka_unit_test(test_dkimpy_vectors),
		cmocka_unit_test(test_length_tag),
		cmocka_unit_test(test_malformed_signatures),
		cmocka_unit_test(test_verify_limits),
		cmocka_unit_test(test_sign_both),
		cmocka_unit_test(test_sign_refusals),
		cmocka_unit_test(test_from_domain),
		cmocka_unit_test(test_public_key_cache),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
