/*
 * Unit tests of Authentication-Results (src/msgauth/authres.c): fields
 * built and parsed back by a small reader of RFC 8601 2.2's grammar
 * written here (unfolding, comments, quoted strings, line lengths), the
 * values refused (line breaks, controls, non-ASCII, bad names), the
 * limits, and the search for fields claiming our authserv-id (folded
 * fields, comments, a version, quoted ids, CRLF; look-alikes kept).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "msgauth/authres.h"

/* --- a reader of the field, for the tests ------------------------------ */

struct reader {
	const char *p, *end;
	struct buf *out;	/* "id;m=r reason=v p.q=v;..." normalized */
};

static void
skip_cfws(struct reader *r)
{
	int depth = 0;

	while (r->p < r->end) {
		char c = *r->p;

		if (depth > 0 && c == '\\')
			r->p++;
		else if (c == '(')
			depth++;
		else if (c == ')') {
			assert_true(depth > 0);
			depth--;
		} else if (depth == 0 && c != ' ' && c != '\t')
			break;
		r->p++;
	}
	assert_int_equal(depth, 0);
}

static bool
tspecial(char c)
{
	return strchr("()<>@,;:\\\"/[]?= \t", c) != NULL;
}

/* a value: token, quoted-string, or (addr) [local@]domain; unquoted */
static void
read_value(struct reader *r, bool addr)
{
	if (*r->p == '"') {
		for (r->p++; *r->p != '"'; r->p++) {
			assert_true(r->p < r->end);
			if (*r->p == '\\')
				r->p++;
			buf_addc(r->out, *r->p);
		}
		r->p++;
		return;
	}
	assert_true(r->p < r->end &&
		    (!tspecial(*r->p) || (addr && *r->p == '@')));
	while (r->p < r->end &&
	       (!tspecial(*r->p) || (addr && *r->p == '@')))
		buf_addc(r->out, *r->p++);
}

static void
read_word(struct reader *r)
{
	assert_true(r->p < r->end && !tspecial(*r->p));
	while (r->p < r->end && !tspecial(*r->p) && *r->p != '.')
		buf_addc(r->out, *r->p++);
}

static void
read_resinfo(struct reader *r)
{
	read_word(r);	/* method */
	skip_cfws(r);
	assert_true(*r->p == '=');
	buf_addc(r->out, *r->p++);
	skip_cfws(r);
	read_word(r);	/* result */
	skip_cfws(r);
	while (r->p < r->end && *r->p != ';') {
		bool reason = r->end - r->p > 7 &&
			      strncmp(r->p, "reason=", 7) == 0;

		buf_addc(r->out, ' ');
		read_word(r);	/* ptype or "reason" */
		if (!reason) {
			assert_true(*r->p == '.');
			buf_addc(r->out, *r->p++);
			read_word(r);
		}
		assert_true(*r->p == '=');
		buf_addc(r->out, *r->p++);
		read_value(r, !reason);
		skip_cfws(r);
	}
}

/*
 * Checks the form of field (LF ends, folded lines, <= 78 columns unless
 * one piece is longer) and
 * returns it parsed back, normalized (the caller frees it).
 */
static char *
read_field(const char *field)
{
	static char unf[65536];
	size_t n = strlen(field), k = 0, col = 0, line = 0;
	struct reader r;
	char *res;

	assert_true(n > 0 && field[n - 1] == '\n');
	for (size_t i = 0; i < n; i++) {
		assert_true(field[i] != '\r');
		if (field[i] == '\n') {
			/* longer only when one piece fills the line */
			assert_true(col <= 78 ||
				    memchr(field + line + 1, ' ',
					   i - line - 1) == NULL);
			col = 0;
			line = i + 1;
			/* a line end inside is a fold */
			assert_true(i + 1 == n || field[i + 1] == '\t' ||
				    field[i + 1] == ' ');
			continue;
		}
		assert_true(field[i] == '\t' ||
			    (field[i] >= ' ' && field[i] <= '~'));
		col = field[i] == '\t' ? (col / 8 + 1) * 8 : col + 1;
		unf[k++] = field[i];
	}
	unf[k] = '\0';
	assert_memory_equal(unf, "Authentication-Results:", 23);
	r.p = unf + 23;
	r.end = unf + k;
	r.out = buf_new(65536);
	skip_cfws(&r);
	read_value(&r, false);	/* authserv-id */
	skip_cfws(&r);
	while (r.p < r.end) {
		assert_true(*r.p == ';');
		buf_addc(r.out, *r.p++);
		skip_cfws(&r);
		read_resinfo(&r);
	}
	res = strdup(r.out->data);
	buf_free(&r.out);
	return res;
}

static char *
format(const struct authres *a)
{
	struct buf *b = buf_new(AUTHRES_FIELD_MAX + 1);
	char *s;

	assert_int_equal(authres_format(a, b), 0);
	s = strdup(b->data);
	buf_free(&b);
	return s;
}

/* --- building ---------------------------------------------------------- */

static void
test_format_typical(void **st)
{
	struct authres *a = authres_new("mx.example.org");
	char *f, *back;

	(void)st;
	assert_int_equal(authres_add(a, "spf", "pass", NULL, "smtp.mailfrom",
				     "example.com", NULL), 0);
	assert_int_equal(authres_add(a, "dkim", "pass", NULL, "header.d",
				     "example.com", "header.s", "sel2024",
				     "header.a", "rsa-sha256", "header.b",
				     "AbC/dE+f", NULL), 0);
	assert_int_equal(authres_add(a, "dmarc", "fail", NULL, "header.from",
				     "example.com", NULL), 0);
	assert_int_equal(authres_comment(a, "p=reject dis=quarantine"), 0);
	assert_int_equal(authres_count(a), 3);
	f = format(a);
	assert_string_equal(f,
		"Authentication-Results: mx.example.org;\n"
		"\tspf=pass smtp.mailfrom=example.com;\n"
		"\tdkim=pass header.d=example.com header.s=sel2024 "
		"header.a=rsa-sha256\n"
		"\theader.b=\"AbC/dE+f\";\n"
		"\tdmarc=fail (p=reject dis=quarantine) "
		"header.from=example.com\n");
	back = read_field(f);
	assert_string_equal(back,
		"mx.example.org;spf=pass smtp.mailfrom=example.com"
		";dkim=pass header.d=example.com header.s=sel2024"
		" header.a=rsa-sha256 header.b=AbC/dE+f"
		";dmarc=fail header.from=example.com");
	free(f);
	free(back);
	authres_free(&a);
	assert_null(a);
}

static void
test_format_values(void **st)
{
	struct authres *a = authres_new("MX-1.example.org");
	char *f, *back;

	(void)st;
	/* none */
	f = format(a);
	assert_string_equal(f, "Authentication-Results: MX-1.example.org; "
			       "none\n");
	free(f);
	/* quoted when not a token nor [local@]domain; "" dropped */
	assert_int_equal(authres_add(a, "spf", "softfail",
				     "a \"quoted\" \\ reason", "smtp.mailfrom",
				     "user@example.com", "smtp.helo", "",
				     NULL), 0);
	assert_int_equal(authres_add(a, "spf", "none", NULL, "smtp.mailfrom",
				     "@example.com", NULL), 0);
	assert_int_equal(authres_add(a, "x-test", "pass", "ok", "header.x",
				     "a b", "header.y", "x;y", "header.z",
				     "=?", "policy.t", "(c)", NULL), 0);
	assert_int_equal(authres_add(a, "auth", "pass", NULL, "smtp.auth",
				     "a.b@c", "smtp.mailfrom", "a..b@c.d",
				     NULL), 0);
	assert_int_equal(authres_comment(a, "a (nested) \\ one"), 0);
	f = format(a);
	back = read_field(f);
	assert_string_equal(back,
		"MX-1.example.org;spf=softfail reason=a \"quoted\" \\ reason"
		" smtp.mailfrom=user@example.com"
		";spf=none smtp.mailfrom=@example.com"
		";x-test=pass reason=ok header.x=a b header.y=x;y"
		" header.z==? policy.t=(c)"
		";auth=pass smtp.auth=a.b@c smtp.mailfrom=a..b@c.d");
	assert_non_null(strstr(f, "smtp.mailfrom=\"a..b@c.d\""));
	assert_non_null(strstr(f, "(a \\(nested\\) \\\\ one)"));
	free(f);
	free(back);
	authres_free(&a);
}

static void
test_format_folds_long(void **st)
{
	struct authres *a = authres_new("mx.example.org");
	char dom[254], *f, *back;

	(void)st;
	memset(dom, 'a', 60);
	strcpy(dom + 60, ".example.com");
	assert_int_equal(authres_add(a, "dkim", "pass", NULL, "header.d", dom,
				     "header.i", dom, "header.s", "s", NULL),
			 0);
	f = format(a);
	back = read_field(f);	/* checks <= 78 columns where it can */
	assert_non_null(strstr(back, "header.i=aaaa"));
	free(f);
	free(back);
	authres_free(&a);
}

static void
test_refused(void **st)
{
	static const char *bad_values[] = {
		"a\nb", "a\r\nX-Injected: 1", "a\tb", "caf\xc3\xa9", "\x7f",
	};
	struct authres *a = authres_new("mx.example.org");
	char big[AUTHRES_VALUE_MAX + 2], *f;

	(void)st;
	assert_null(authres_new("mx example"));
	assert_null(authres_new(""));
	assert_null(authres_new("a;b"));
	assert_int_equal(authres_comment(a, "nothing to comment"), -1);
	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]);
	     i++) {
		assert_int_equal(authres_add(a, "spf", "pass", NULL,
					     "smtp.helo", bad_values[i],
					     NULL), -1);
		assert_int_equal(authres_add(a, "spf", "pass", bad_values[i],
					     NULL), -1);
	}
	assert_int_equal(authres_add(a, "sp f", "pass", NULL, NULL), -1);
	assert_int_equal(authres_add(a, "spf", "-pass", NULL, NULL), -1);
	assert_int_equal(authres_add(a, "spf", "pass", NULL, "smtp",
				     "x", NULL), -1);
	assert_int_equal(authres_add(a, "spf", "pass", NULL, "smtp.",
				     "x", NULL), -1);
	assert_int_equal(authres_add(a, "spf", "pass", NULL, "smtp.a=b",
				     "x", NULL), -1);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(authres_add(a, "spf", "pass", NULL, "smtp.helo", big,
				     NULL), -1);
	big[sizeof(big) - 2] = '\0';	/* AUTHRES_VALUE_MAX: fine */
	assert_int_equal(authres_add(a, "spf", "pass", NULL, "smtp.helo", big,
				     NULL), 0);
	assert_int_equal(authres_comment(a, "x\ny"), -1);
	/* a refused add leaves nothing behind */
	assert_int_equal(authres_count(a), 1);
	f = format(a);
	free(read_field(f));
	assert_null(strstr(f, "Injected"));
	free(f);
	authres_free(&a);
	authres_free(&a);	/* NULL is fine */
}

static void
test_limits(void **st)
{
	struct authres *a = authres_new("mx.example.org");
	struct buf *small = buf_new(30);
	char *f;

	(void)st;
	for (int i = 0; i < AUTHRES_RESULTS_MAX; i++)
		assert_int_equal(authres_add(a, "dkim", "pass", NULL,
					     "header.d", "example.com",
					     "header.s", "selector", NULL), 0);
	assert_int_equal(authres_add(a, "spf", "pass", NULL, NULL), -1);
	f = format(a);
	free(read_field(f));
	free(f);
	/* out too small: -1, out unchanged */
	buf_addstr(small, "kept");
	assert_int_equal(authres_format(a, small), -1);
	assert_string_equal(small->data, "kept");
	buf_free(&small);
	authres_free(&a);
}

/* --- finding ours ------------------------------------------------------ */

static size_t
ours(const char *hdr, struct authres_span *sp, size_t max)
{
	return authres_ours(hdr, strlen(hdr), "mx.example.org", sp, max);
}

static void
test_ours(void **st)
{
	static const char hdr[] =
		"Received: from x\n"
		"Authentication-Results: mx.example.org; spf=pass\n"	/* 1 */
		"authentication-results:\n"				/* 2 */
		"\t(a comment (nested) \\) ) MX.Example.ORG 1 ;\n"
		"  dkim=pass header.d=example.com\n"
		"Authentication-Results: mx.example.org.evil.com; spf=pass\n"
		"Authentication-Results: mx.example.orgx; spf=pass\n"
		"Authentication-Results: other.example.org; spf=pass\n"
		"X-Authentication-Results: mx.example.org; spf=pass\n"
		"Authentication-Results : \"mx.example.org\"; none\n"	/* 3 */
		"Authentication-Results: mx.example.org(c);none\n"	/* 4 */
		"Authentication-Results: mx.example.org\n"		/* 5 */
		"Authentication-Results: (unterminated mx.example.org\n"
		"Authentication-Results: \"mx.example.org; none\n"
		"Subject: Authentication-Results: mx.example.org;\n"
		"\n"
		"Authentication-Results: mx.example.org; in the body\n";
	struct authres_span sp[8];
	size_t n = ours(hdr, sp, 8);
	const char *want[] = {
		"Authentication-Results: mx.example.org; spf=pass\n",
		"authentication-results:\n"
		"\t(a comment (nested) \\) ) MX.Example.ORG 1 ;\n"
		"  dkim=pass header.d=example.com\n",
		"Authentication-Results : \"mx.example.org\"; none\n",
		"Authentication-Results: mx.example.org(c);none\n",
		"Authentication-Results: mx.example.org\n",
	};

	(void)st;
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(sp[i].len, strlen(want[i]));
		assert_memory_equal(hdr + sp[i].off, want[i], sp[i].len);
	}
	/* more than max: counted, max filled */
	assert_int_equal(ours(hdr, sp, 2), 5);
	assert_int_equal(ours(hdr, NULL, 0), 5);
	assert_int_equal(authres_ours(hdr, strlen(hdr), "", sp, 8), 0);
}

static void
test_ours_crlf_and_removal(void **st)
{
	static const char hdr[] =
		"From: a@example.com\r\n"
		"Authentication-Results: mx.example.org;\r\n"
		"\tdmarc=pass header.from=example.com\r\n"
		"Authentication-Results: mx.example.net; spf=pass\r\n"
		"Subject: x\r\n"
		"not a field: it does not hide the next\r\n"
		/* the last, without a line end */
		"Authentication-Results: mx.example.org; dkim=pass";
	struct authres_span sp[4];
	struct buf *b = buf_new(1024);
	size_t n = ours(hdr, sp, 4), at = 0;

	(void)st;
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {	/* what the caller does */
		buf_add(b, hdr + at, sp[i].off - at);
		at = sp[i].off + sp[i].len;
	}
	buf_add(b, hdr + at, strlen(hdr) - at);
	assert_string_equal(b->data,
		"From: a@example.com\r\n"
		"Authentication-Results: mx.example.net; spf=pass\r\n"
		"Subject: x\r\n"
		"not a field: it does not hide the next\r\n");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_typical),
		cmocka_unit_test(test_format_values),
		cmocka_unit_test(test_format_folds_long),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_ours),
		cmocka_unit_test(test_ours_crlf_and_removal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
