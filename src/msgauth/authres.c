/*
 * authres - Authentication-Results (RFC 8601 2.2), written and found.
 * A field under construction keeps its pieces ("dkim=pass", "(comment)",
 * "reason=...", "header.d=...") as NUL-ended tokens in one bounded
 * buffer; authres_format lays them out and folds between them.  See
 * authres.h.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authres.h"
#include "hfield.h"

#define TOKENS_MAX 256
#define FOLD_AT 78
#define NAME "Authentication-Results"

struct tok {
	size_t off;	/* in toks */
	size_t len;
	size_t item;	/* the result it belongs to */
};

struct authres {
	char id[AUTHRES_VALUE_MAX + 1];
	struct buf *toks;
	struct tok tok[TOKENS_MAX];
	size_t ntok, nres;
};

static bool
is_letdig(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* Keyword = ldh-str (RFC 5321): let-dig, then let-dig or '-', let-dig. */
static bool
is_keyword(const char *s, size_t n)
{
	if (n == 0 || !is_letdig(s[0]) || !is_letdig(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_letdig(s[i]) && s[i] != '-')
			return false;
	return true;
}

/* A MIME token character (RFC 2045 5.1). */
static bool
is_tchar(unsigned char c)
{
	return c > ' ' && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

static bool
is_token(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_tchar((unsigned char)s[i]))
			return false;
	return n > 0;
}

/* dot-atom whose atoms are made of chars in set (and letters, digits) */
static bool
is_dot_atom(const char *s, size_t n, const char *set)
{
	bool prev_dot = true;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (prev_dot)
				return false;
			prev_dot = true;
		} else if (is_letdig(s[i]) || strchr(set, s[i]) != NULL) {
			prev_dot = false;
		} else {
			return false;
		}
	}
	return n > 0 && !prev_dot;
}

/* [ [ local-part ] "@" ] domain-name, as pvalue allows it bare. */
static bool
is_addr_value(const char *s, size_t n)
{
	const char *at = memchr(s, '@', n);
	size_t l = at != NULL ? (size_t)(at - s) : 0;

	if (at != NULL && l > 0 &&
	    !is_dot_atom(s, l, "!#$%&'*+-/=?^_`{|}~"))
		return false;
	if (at != NULL)
		s += l + 1, n -= l + 1;
	return is_dot_atom(s, n, "-_");
}

/* Printable ASCII and space only, and not too long. */
static bool
value_ok(const char *s)
{
	size_t n = strlen(s);

	if (n > AUTHRES_VALUE_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < ' ' || (unsigned char)s[i] > '~')
			return false;
	return true;
}

struct authres *
authres_new(const char *authserv_id)
{
	struct authres *a;
	size_t n = strlen(authserv_id);

	if (n > AUTHRES_VALUE_MAX || !is_token(authserv_id, n))
		return NULL;
	a = xcalloc(1, sizeof(*a));
	memcpy(a->id, authserv_id, n + 1);
	a->toks = buf_new(AUTHRES_FIELD_MAX);
	return a;
}

/* Starts a token; its text follows with the add_* helpers. */
static int
tok_begin(struct authres *a, size_t item)
{
	if (a->ntok == TOKENS_MAX)
		return -1;
	a->tok[a->ntok].off = a->toks->len;
	a->tok[a->ntok].item = item;
	return 0;
}

static int
tok_end(struct authres *a)
{
	struct tok *t = &a->tok[a->ntok];

	t->len = a->toks->len - t->off;
	if (buf_addc(a->toks, '\0') == -1)
		return -1;
	a->ntok++;
	return 0;
}

/* s quoted: '"', with '\' before '"' and '\'. */
static int
add_quoted(struct buf *b, const char *s, char open, char close)
{
	int r = buf_addc(b, open);

	for (; *s != '\0' && r == 0; s++) {
		if (*s == '"' || *s == '\\' ||
		    (open == '(' && (*s == '(' || *s == ')')))
			r = buf_addc(b, '\\');
		if (r == 0)
			r = buf_addc(b, *s);
	}
	return r == 0 ? buf_addc(b, close) : -1;
}

/* name=value, the value bare when it may be (addr: pvalue's forms). */
static int
add_pair(struct authres *a, size_t item, const char *name, const char *v,
	 bool addr)
{
	size_t n = strlen(v);

	if (!value_ok(v) || tok_begin(a, item) == -1 ||
	    buf_printf(a->toks, "%s=", name) == -1)
		return -1;
	if (is_token(v, n) || (addr && is_addr_value(v, n))) {
		if (buf_add(a->toks, v, n) == -1)
			return -1;
	} else if (add_quoted(a->toks, v, '"', '"') == -1) {
		return -1;
	}
	return tok_end(a);
}

/* "ptype.property": two Keywords. */
static bool
is_prop(const char *s)
{
	const char *dot = strchr(s, '.');

	return dot != NULL && is_keyword(s, (size_t)(dot - s)) &&
	       is_keyword(dot + 1, strlen(dot + 1));
}

static int
add_props(struct authres *a, size_t item, va_list ap)
{
	const char *prop, *v;

	while ((prop = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		if (!is_prop(prop))
			return -1;
		if (v != NULL && v[0] != '\0' &&
		    add_pair(a, item, prop, v, true) == -1)
			return -1;
	}
	return 0;
}

int
authres_add(struct authres *a, const char *method, const char *result,
	    const char *reason, ...)
{
	size_t ntok = a->ntok, blen = a->toks->len, item = a->nres;
	va_list ap;
	int r;

	if (a->nres == AUTHRES_RESULTS_MAX ||
	    !is_keyword(method, strlen(method)) ||
	    !is_keyword(result, strlen(result)))
		return -1;
	r = tok_begin(a, item);
	if (r == 0)
		r = buf_printf(a->toks, "%s=%s", method, result);
	if (r == 0)
		r = tok_end(a);
	if (r == 0 && reason != NULL)
		r = add_pair(a, item, "reason", reason, false);
	if (r == 0) {
		va_start(ap, reason);
		r = add_props(a, item, ap);
		va_end(ap);
	}
	if (r == -1) {	/* nothing of it stays */
		a->ntok = ntok;
		a->toks->len = blen;
		a->toks->data[blen] = '\0';
		return -1;
	}
	a->nres++;
	return 0;
}

/* Moves the last token to index to, the ones from there up by one. */
static void
tok_move_last(struct authres *a, size_t to)
{
	struct tok t = a->tok[a->ntok - 1];

	memmove(&a->tok[to + 1], &a->tok[to],
		(a->ntok - 1 - to) * sizeof(t));
	a->tok[to] = t;
}

int
authres_comment(struct authres *a, const char *text)
{
	size_t first, blen = a->toks->len;

	if (a->nres == 0 || !value_ok(text) || a->ntok == TOKENS_MAX)
		return -1;
	/* after the last result's method=result: shift what follows */
	for (first = a->ntok; first > 0 &&
	     a->tok[first - 1].item == a->nres - 1; first--)
		;
	if (tok_begin(a, a->nres - 1) == -1 ||
	    add_quoted(a->toks, text, '(', ')') == -1 || tok_end(a) == -1) {
		a->toks->len = blen;
		a->toks->data[blen] = '\0';
		return -1;
	}
	tok_move_last(a, first + 1);
	return 0;
}

size_t
authres_count(const struct authres *a)
{
	return a->nres;
}

int
authres_format(const struct authres *a, struct buf *out)
{
	size_t len0 = out->len, col = 0;
	int r;

	r = buf_printf(out, NAME ": %s;%s", a->id, a->nres == 0 ? " none"
								 : "");
	for (size_t i = 0; i < a->ntok && r == 0; i++) {
		const struct tok *t = &a->tok[i];
		bool first = i == 0 || a->tok[i - 1].item != t->item;
		bool last = i + 1 == a->ntok || a->tok[i + 1].item != t->item;
		bool semi = last && i + 1 < a->ntok;

		if (first || col + 1 + t->len + semi > FOLD_AT) {
			r = buf_add(out, "\n\t", 2);
			col = 8;
		} else {
			r = buf_addc(out, ' ');
			col++;
		}
		if (r == 0)
			r = buf_add(out, a->toks->data + t->off, t->len);
		if (r == 0 && semi)
			r = buf_addc(out, ';');
		col += t->len + semi;
	}
	if (r == 0)
		r = buf_addc(out, '\n');
	if (r == -1) {
		out->len = len0;
		if (out->data != NULL)
			out->data[len0] = '\0';
	}
	return r;
}

void
authres_free(struct authres **ap)
{
	struct authres *a = *ap;

	if (a == NULL)
		return;
	buf_free(&a->toks);
	free(a);
	*ap = NULL;
}

/* --- finding ours ---------------------------------------------------- */

/* Past CFWS at v[i]: whitespace, line breaks, nested comments. */
static size_t
skip_cfws(const char *v, size_t n, size_t i)
{
	int depth = 0;

	for (; i < n; i++) {
		char c = v[i];

		if (depth > 0 && c == '\\')
			i++;
		else if (c == '(')
			depth++;
		else if (c == ')' && depth > 0)
			depth--;
		else if (depth == 0 && c != ' ' && c != '\t' && c != '\r' &&
			 c != '\n')
			break;
	}
	return i;
}

/* The authserv-id at the start of a field's value, unquoted, into id. */
static size_t
read_id(const char *v, size_t n, char *id, size_t size)
{
	size_t i = skip_cfws(v, n, 0), k = 0;

	if (i < n && v[i] == '"') {
		for (i++; i < n && v[i] != '"'; i++) {
			if (v[i] == '\\' && i + 1 < n)
				i++;
			if (k + 1 == size)
				return 0;
			id[k++] = v[i];
		}
		if (i == n)
			return 0;	/* unterminated: not an id */
	} else {
		for (; i < n && is_tchar((unsigned char)v[i]); i++) {
			if (k + 1 == size)
				return 0;
			id[k++] = v[i];
		}
	}
	id[k] = '\0';
	return k;
}

size_t
authres_ours(const char *hdr, size_t hlen, const char *authserv_id,
	     struct authres_span *spans, size_t max)
{
	char id[AUTHRES_VALUE_MAX + 2];
	struct hfield f;
	size_t pos = 0, n = 0, len = strlen(authserv_id);

	if (len == 0)
		return 0;
	while (hfield_next(hdr, hlen, &pos, &f) == 1) {
		if (!hfield_is(&f, NAME) ||
		    read_id(f.value, f.vlen, id, sizeof(id)) != len ||
		    strcasecmp(id, authserv_id) != 0)
			continue;
		if (n < max) {
			spans[n].off = f.off;
			spans[n].len = f.len;
		}
		n++;
	}
	return n;
}
