/*
 * dkim_tags - see dkim_tags.h.  The grammar (RFC 6376 3.2):
 *   tag-list  = tag-spec *( ";" tag-spec ) [ ";" ]
 *   tag-spec  = [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
 *   tag-name  = ALPHA *ALNUMPUNC          ALNUMPUNC = ALPHA / DIGIT / "_"
 *   tag-value = [ tval *( 1*(WSP / FWS) tval ) ]
 *   tval      = 1*VALCHAR                 VALCHAR = %x21-3A / %x3C-7E
 */
#include "dkim_tags.h"

#include <string.h>

static bool
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_valchar(char c)
{
	return (unsigned char)c >= 0x21 && (unsigned char)c <= 0x7e &&
	       c != ';';
}

static size_t
skip_ws(const char *p, size_t i, size_t len)
{
	while (i < len && is_ws(p[i]))
		i++;
	return i;
}

static bool
same_name(const struct dkim_tag *t, const char *name, size_t n)
{
	return t->nlen == n && memcmp(t->name, name, n) == 0;
}

/* One tag-spec from p[*ip] up to the next ';' or the end. */
static int
parse_spec(const char *p, size_t len, size_t *ip, struct dkim_tag *t,
	   const char **error_r)
{
	size_t i = skip_ws(p, *ip, len), end;

	if (i >= len || !is_alpha(p[i])) {
		*error_r = "a tag name must start with a letter";
		return -1;
	}
	t->name = p + i;
	while (i < len && (is_alpha(p[i]) || (p[i] >= '0' && p[i] <= '9') ||
			   p[i] == '_'))
		i++;
	t->nlen = (size_t)(p + i - t->name);
	i = skip_ws(p, i, len);
	if (i >= len || p[i] != '=') {
		*error_r = "a tag without '='";
		return -1;
	}
	i = skip_ws(p, i + 1, len);
	t->val = p + i;
	end = i;
	while (i < len && p[i] != ';') {
		if (is_valchar(p[i]))
			end = i + 1;
		else if (!is_ws(p[i])) {
			*error_r = "a tag value holds a byte DKIM forbids";
			return -1;
		}
		i++;
	}
	t->vlen = end - (size_t)(t->val - p);
	*ip = i;
	return 0;
}

int
dkim_tags_parse(const char *text, size_t len, struct dkim_tags *out,
		const char **error_r)
{
	size_t i = 0;

	out->n = 0;
	while (skip_ws(text, i, len) < len) {
		struct dkim_tag t;

		if (parse_spec(text, len, &i, &t, error_r) == -1)
			return -1;
		for (size_t k = 0; k < out->n; k++)
			if (same_name(&out->t[k], t.name, t.nlen)) {
				*error_r = "a tag appears twice";
				return -1;
			}
		if (out->n == DKIM_TAGS_MAX) {
			*error_r = "too many tags";
			return -1;
		}
		out->t[out->n++] = t;
		if (i < len)
			i++; /* the ';' */
	}
	return 0;
}

const struct dkim_tag *
dkim_tags_get(const struct dkim_tags *tags, const char *name)
{
	size_t n = strlen(name);

	for (size_t k = 0; k < tags->n; k++)
		if (same_name(&tags->t[k], name, n))
			return &tags->t[k];
	return NULL;
}

bool
dkim_tag_is(const struct dkim_tag *t, const char *s)
{
	return t->vlen == strlen(s) && memcmp(t->val, s, t->vlen) == 0;
}
