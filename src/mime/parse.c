/*
 * mime/parse - reading messages from the wild; see mime.h.
 *
 * Liberal in what it takes: LF or CRLF, missing or broken headers, wrong
 * transfer encodings, unknown charsets, unterminated multiparts.  Each
 * entity is split into its header section and body; a multipart body is
 * cut at its boundary lines and each piece parsed again (to
 * MIME_DEPTH_MAX); every other entity becomes a leaf part with its
 * transfer encoding removed and, for text, its charset made UTF-8.
 */
#include "mime.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/b64.h"

struct parser {
	struct mime_doc *doc;
};

/* The line at *pp (its end excluding CR LF); advances *pp past it. */
static bool
next_line(const char **pp, const char *end, const char **ls, size_t *ll)
{
	const char *p = *pp, *nl;

	if (p >= end)
		return false;
	nl = memchr(p, '\n', (size_t)(end - p));
	*ls = p;
	*ll = (size_t)((nl != NULL ? nl : end) - p);
	if (*ll > 0 && p[*ll - 1] == '\r')
		(*ll)--;
	*pp = nl != NULL ? nl + 1 : end;
	return true;
}

/* Where the body starts: after the first empty line (or at the end). */
static const char *
body_start(const char *text, size_t len)
{
	const char *p = text, *end = text + len, *ls;
	size_t ll;

	while (next_line(&p, end, &ls, &ll))
		if (ll == 0)
			return p;
	return end;
}

/* Appends what fits of data (a field cut at the buffer's maximum). */
static void
add_cut(struct buf *out, const char *data, size_t len)
{
	size_t room = out->max - out->len;

	buf_add(out, data, len < room ? len : room);
}

/*
 * The raw value of the first field called name in the header section
 * [h, end), unfolded (CRLF before white space removed), trimmed, cut at
 * out's maximum (MIME_HEADER_MAX).
 */
static bool
field_get(const char *h, const char *end, const char *name, struct buf *out)
{
	const char *p = h, *ls;
	size_t ll, nl = strlen(name);
	bool in = false, found = false;

	buf_reset(out);
	while (next_line(&p, end, &ls, &ll) && ll > 0) {
		if (ls[0] == ' ' || ls[0] == '\t') {
			if (in)
				add_cut(out, ls, ll);
			continue;
		}
		if (in)
			break;
		if (ll > nl && strncasecmp(ls, name, nl) == 0) {
			size_t i = nl;

			while (i < ll && (ls[i] == ' ' || ls[i] == '\t'))
				i++;
			if (i < ll && ls[i] == ':') {
				in = found = true;
				add_cut(out, ls + i + 1, ll - i - 1);
			}
		}
	}
	if (!found)
		return false;
	/* trim */
	{
		size_t s = 0, e = out->len;

		while (s < e && isspace((unsigned char)out->data[s]))
			s++;
		while (e > s && isspace((unsigned char)out->data[e - 1]))
			e--;
		out->data[e] = '\0';
		out->len = e;
		buf_consume(out, s);
	}
	return true;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool
is_utf8_name(const char *cs)
{
	return cs[0] == '\0' || strcasecmp(cs, "utf-8") == 0 ||
	       strcasecmp(cs, "utf8") == 0 || strcasecmp(cs, "us-ascii") == 0 ||
	       strcasecmp(cs, "ascii") == 0;
}

/* in (in charset) appended to out as UTF-8; unknown charsets as is. */
static void
to_utf8(const char *charset, const char *in, size_t len, struct buf *out)
{
	char cs[64];
	iconv_t cd;
	char *ip = (char *)(uintptr_t)in;
	size_t il = len;

	/* "UTF-8*en": RFC 2231 language suffix */
	snprintf(cs, sizeof(cs), "%.*s", (int)strcspn(charset, "*"), charset);
	if (is_utf8_name(cs) || (cd = iconv_open("UTF-8", cs)) ==
				    (iconv_t)-1) {
		buf_add(out, in, len);
		return;
	}
	while (il > 0) {
		char chunk[1024], *op = chunk;
		size_t ol = sizeof(chunk);
		size_t r = iconv(cd, &ip, &il, &op, &ol);
		int e = errno;

		buf_add(out, chunk, (size_t)(op - chunk));
		if (r != (size_t)-1 || e == E2BIG)
			continue;
		buf_addc(out, '?'); /* EILSEQ or EINVAL: skip one octet */
		ip++;
		il--;
	}
	iconv_close(cd);
}

/* Tolerant base64: anything outside the alphabet is skipped. */
static void
b64_loose(const char *in, size_t len, struct buf *out)
{
	unsigned acc = 0;
	int bits = 0;

	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)in[i];
		int v = c == '-' ? 62 : c == '_' ? 63 : b64_val((unsigned char)c);

		if (v < 0)
			continue;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_addc(out, (char)((acc >> bits) & 0xff));
		}
	}
}

/* Quoted-printable; in Q words (RFC 2047 4.2) '_' is a space. */
static void
qp_decode(const char *in, size_t len, bool q, struct buf *out)
{
	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (c == '_' && q) {
			buf_addc(out, ' ');
		} else if (c == '=' && i + 2 < len &&
			   hexval(in[i + 1]) >= 0 && hexval(in[i + 2]) >= 0) {
			buf_addc(out, (char)(hexval(in[i + 1]) * 16 +
					     hexval(in[i + 2])));
			i += 2;
		} else if (c == '=' && !q) {
			/* soft line break: "=", white space, line end */
			size_t j = i + 1;

			while (j < len && (in[j] == ' ' || in[j] == '\t'))
				j++;
			if (j < len && in[j] == '\r')
				j++;
			if (j < len && in[j] == '\n')
				i = j;
			else if (j >= len)
				i = j;
			else
				buf_addc(out, c);
		} else {
			buf_addc(out, c);
		}
	}
}

/* One encoded word at in[0..len) if it is one: its length, else 0. */
static size_t
word_decode(const char *in, size_t len, struct buf *out)
{
	const char *cs, *q1, *q2, *text, *endw;
	char charset[64];
	struct buf *raw;
	size_t n;

	if (len < 8 || in[0] != '=' || in[1] != '?')
		return 0;
	cs = in + 2;
	q1 = memchr(cs, '?', len - 2);
	if (q1 == NULL || q1 == cs || (size_t)(q1 - cs) >= sizeof(charset) ||
	    q1 + 3 >= in + len || q1[2] != '?')
		return 0;
	q2 = q1 + 2;
	text = q2 + 1;
	for (endw = text; endw + 1 < in + len; endw++)
		if (endw[0] == '?' && endw[1] == '=')
			break;
	if (endw + 1 >= in + len)
		return 0;
	for (const char *p = text; p < endw; p++)
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			return 0;
	memcpy(charset, cs, (size_t)(q1 - cs));
	charset[q1 - cs] = '\0';
	n = (size_t)(endw - text);
	raw = buf_new(n + 1);
	if (q1[1] == 'B' || q1[1] == 'b')
		b64_loose(text, n, raw);
	else if (q1[1] == 'Q' || q1[1] == 'q')
		qp_decode(text, n, true, raw);
	else {
		buf_free(&raw);
		return 0;
	}
	to_utf8(charset, raw->data ? raw->data : "", raw->len, out);
	buf_free(&raw);
	return (size_t)(endw + 2 - in);
}

void
mime_words_decode(const char *in, size_t len, struct buf *out)
{
	size_t i = 0, ws = 0, wsn = 0;
	bool prev_word = false;

	while (i < len) {
		size_t n = word_decode(in + i, len - i, out);

		if (n > 0) {
			/* white space between two words disappears */
			i += n;
			prev_word = true;
			wsn = 0;
			continue;
		}
		if (in[i] == ' ' || in[i] == '\t') {
			if (wsn == 0)
				ws = i;
			wsn++;
			/* emitted later unless a word follows a word */
			if (!prev_word) {
				buf_addc(out, in[i]);
				wsn = 0;
			}
			i++;
			continue;
		}
		if (wsn > 0)
			buf_add(out, in + ws, wsn);
		wsn = 0;
		prev_word = false;
		buf_addc(out, in[i++]);
	}
	if (wsn > 0)
		buf_add(out, in + ws, wsn);
}

/*
 * RFC 2231 value "charset'lang'%xx..." (ext) or a continuation's
 * percent-encoded text: percent-decoded into out.
 */
static void
pct_decode(const char *in, size_t len, struct buf *out)
{
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '%' && i + 2 < len && hexval(in[i + 1]) >= 0 &&
		    hexval(in[i + 2]) >= 0) {
			buf_addc(out, (char)(hexval(in[i + 1]) * 16 +
					     hexval(in[i + 2])));
			i += 2;
		} else {
			buf_addc(out, in[i]);
		}
	}
}

#define SECTIONS_MAX 64

/*
 * Parameter want of a header value ("type; a=b; c*=..."), decoded into
 * out as UTF-8: quoted strings, RFC 2231 extended values and
 * continuations, and RFC 2047 words inside plain values (common in the
 * wild though not allowed).
 */
static bool
param_get(const char *v, const char *want, struct buf *out)
{
	size_t wl = strlen(want), len = strlen(v), i;
	struct buf *plain = NULL, *ext = NULL, *sec[SECTIONS_MAX] = {0};
	bool sec_ext[SECTIONS_MAX] = {0}, found = false;
	char charset[64] = "";

	buf_reset(out);
	/* skip the type: up to the first ';' outside quotes */
	for (i = 0; i < len && v[i] != ';'; i++)
		if (v[i] == '"')
			while (++i < len && v[i] != '"')
				if (v[i] == '\\' && i + 1 < len)
					i++;
	while (i < len) {
		size_t ns, ne;
		struct buf *val = buf_new(len + 1);
		struct buf **dst = NULL;
		bool is_ext = false;

		while (i < len && (v[i] == ';' || isspace((unsigned char)v[i])))
			i++;
		ns = i;
		while (i < len && v[i] != '=' && v[i] != ';')
			i++;
		ne = i;
		while (ne > ns && isspace((unsigned char)v[ne - 1]))
			ne--;
		if (i < len && v[i] == '=') {
			i++;
			while (i < len && isspace((unsigned char)v[i]))
				i++;
			if (i < len && v[i] == '"') {
				while (++i < len && v[i] != '"') {
					if (v[i] == '\\' && i + 1 < len)
						i++;
					buf_addc(val, v[i]);
				}
				i++;
			} else {
				while (i < len && v[i] != ';' &&
				       !isspace((unsigned char)v[i]))
					buf_addc(val, v[i++]);
			}
		}
		if (ne - ns == wl && strncasecmp(v + ns, want, wl) == 0) {
			dst = &plain;
		} else if (ne - ns == wl + 1 && v[ns + wl] == '*' &&
			   strncasecmp(v + ns, want, wl) == 0) {
			dst = &ext;
		} else if (ne - ns > wl + 1 && v[ns + wl] == '*' &&
			   strncasecmp(v + ns, want, wl) == 0 &&
			   isdigit((unsigned char)v[ns + wl + 1])) {
			size_t j = ns + wl + 1;
			unsigned long k = 0;

			while (j < ne && isdigit((unsigned char)v[j]) &&
			       k < SECTIONS_MAX)
				k = k * 10 + (unsigned long)(v[j++] - '0');
			if (j < ne && v[j] == '*') {
				is_ext = true;
				j++;
			}
			if (j == ne && k < SECTIONS_MAX) {
				dst = &sec[k];
				sec_ext[k] = is_ext;
			}
		}
		if (dst != NULL && *dst == NULL) {
			*dst = val;
			val = NULL;
		}
		buf_free(&val);
	}
	if (ext != NULL || (sec[0] != NULL && sec_ext[0])) {
		/* charset'language'text */
		struct buf *src = ext != NULL ? ext : sec[0];
		const char *s = src->data ? src->data : "";
		const char *q1 = strchr(s, '\''), *q2;
		struct buf *raw = buf_new(len + 1);

		q2 = q1 != NULL ? strchr(q1 + 1, '\'') : NULL;
		if (q2 != NULL) {
			snprintf(charset, sizeof(charset), "%.*s",
				 (int)(q1 - s), s);
			s = q2 + 1;
		}
		pct_decode(s, strlen(s), raw);
		for (size_t k = 1; ext == NULL && k < SECTIONS_MAX &&
				   sec[k] != NULL; k++) {
			if (sec_ext[k])
				pct_decode(sec[k]->data, sec[k]->len, raw);
			else
				buf_add(raw, sec[k]->data, sec[k]->len);
		}
		to_utf8(charset, raw->data ? raw->data : "", raw->len, out);
		buf_free(&raw);
		found = true;
	} else if (sec[0] != NULL) {
		struct buf *raw = buf_new(len + 1);

		for (size_t k = 0; k < SECTIONS_MAX && sec[k] != NULL; k++)
			buf_add(raw, sec[k]->data, sec[k]->len);
		mime_words_decode(raw->data ? raw->data : "", raw->len, out);
		buf_free(&raw);
		found = true;
	} else if (plain != NULL) {
		mime_words_decode(plain->data ? plain->data : "", plain->len,
				  out);
		found = true;
	}
	buf_free(&plain);
	buf_free(&ext);
	for (size_t k = 0; k < SECTIONS_MAX; k++)
		buf_free(&sec[k]);
	return found;
}

/*
 * The lower-cased "type/subtype" of a Content-Type value; deftype unless
 * both are RFC 2045 tokens (the type is shown on the terminal as it is).
 */
static void
type_of(const char *v, const char *deftype, char *out, size_t size)
{
	size_t n = strcspn(v, ";"), j = 0, slash = 0;
	bool bad = false;

	for (size_t i = 0; i < n && !bad; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue; /* folding and blanks around the slash */
		if (c == '/' && slash++ == 0 && j > 0) {
			out[j++] = '/';
		} else if (c > 0x20 && c < 0x7f &&
			   strchr("()<>@,;:\\\"/[]?=", c) == NULL) {
			out[j++] = (char)tolower(c);
		} else {
			bad = true;
		}
		if (j + 1 >= size)
			bad = true;
	}
	if (bad || slash != 1 || j == 0 || out[j - 1] == '/') {
		snprintf(out, size, "%s", deftype);
		return;
	}
	out[j] = '\0';
}

static void parse_entity(struct parser *ps, const char *text, size_t len,
			 int depth, const char *deftype);

/* The parts of a multipart body; false if no delimiter was found. */
static bool
parse_multipart(struct parser *ps, const char *body, const char *end,
		const char *boundary, int depth, const char *deftype)
{
	size_t bl = strlen(boundary), ll;
	const char *p = body, *ls, *part = NULL;
	bool any = false;

	while (true) {
		const char *here = p;
		bool more = next_line(&p, end, &ls, &ll);
		bool delim = more && ll >= bl + 2 && ls[0] == '-' &&
			     ls[1] == '-' && memcmp(ls + 2, boundary, bl) == 0;
		bool close = false;

		if (delim) {
			size_t r = bl + 2;

			close = ll >= r + 2 && ls[r] == '-' && ls[r + 1] == '-';
			if (close)
				r += 2;
			while (r < ll && (ls[r] == ' ' || ls[r] == '\t'))
				r++;
			delim = r == ll;
		}
		if (more && !delim)
			continue;
		if (part != NULL) {
			/* the line break before a delimiter belongs to it */
			const char *e = more ? here : end;

			if (more && e > part && e[-1] == '\n')
				e--;
			if (more && e > part && e[-1] == '\r')
				e--;
			parse_entity(ps, part, (size_t)(e - part), depth + 1,
				     deftype);
		}
		if (!more || close)
			break;
		part = p;
		any = true;
	}
	return any;
}

static void
add_part(struct parser *ps, const char *type, const char *charset,
	 const char *cte, const char *disp, const char *filename,
	 const char *body, size_t len)
{
	struct mime_doc *d = ps->doc;
	struct mime_part *pt;
	struct buf *raw = buf_new(len + 1), *text;
	bool is_text = strncmp(type, "text/", 5) == 0;

	if (d->nparts >= MIME_PARTS_MAX) {
		d->truncated = true;
		buf_free(&raw);
		return;
	}
	if (d->nparts % 8 == 0)
		d->parts = xrealloc(d->parts, (d->nparts + 8) * sizeof(*pt));
	pt = &d->parts[d->nparts++];
	memset(pt, 0, sizeof(*pt));
	snprintf(pt->type, sizeof(pt->type), "%s", type);
	if (strcasecmp(cte, "base64") == 0)
		b64_loose(body, len, raw);
	else if (strcasecmp(cte, "quoted-printable") == 0)
		qp_decode(body, len, false, raw);
	else
		buf_add(raw, body, len);
	pt->attachment = strncasecmp(disp, "attachment", 10) == 0 ||
			 !is_text ||
			 (filename != NULL && strncasecmp(disp, "inline", 6) != 0);
	if (is_text && !pt->attachment) {
		/* shown: UTF-8 with LF line ends; attachments stay as sent */
		text = buf_new(raw->len * 4 + 16);
		to_utf8(charset, raw->data ? raw->data : "", raw->len, text);
		buf_free(&raw);
		raw = text;
		size_t j = 0;

		for (size_t i = 0; i < raw->len; i++)
			if (!(raw->data[i] == '\r' && i + 1 < raw->len &&
			      raw->data[i + 1] == '\n'))
				raw->data[j++] = raw->data[i];
		raw->len = j;
	}
	pt->len = raw->len;
	pt->data = xmalloc(raw->len + 1);
	memcpy(pt->data, raw->data ? raw->data : "", raw->len);
	pt->data[raw->len] = '\0';
	buf_free(&raw);
	if (filename != NULL)
		pt->filename = xstrdup(filename);
}

static void
parse_entity(struct parser *ps, const char *text, size_t len, int depth,
	     const char *deftype)
{
	const char *end = text + len, *body = body_start(text, len);
	struct buf *v = buf_new(MIME_HEADER_MAX), *fn = buf_new(MIME_HEADER_MAX);
	char type[128], charset[64] = "", cte[32] = "", disp[32] = "";
	char *ctype;
	bool has_fn;

	ctype = xstrdup(field_get(text, body, "Content-Type", v) && v->data ?
			v->data : "");
	type_of(ctype, deftype, type, sizeof(type));
	if (strncmp(type, "multipart/", 10) == 0 && depth < MIME_DEPTH_MAX &&
	    param_get(ctype, "boundary", fn) && fn->len > 0 &&
	    fn->len <= 200) {
		char *boundary = xstrdup(fn->data);
		bool ok = parse_multipart(ps, body, end, boundary, depth,
					  strcmp(type, "multipart/digest") == 0 ?
					  "message/rfc822" : "text/plain");

		free(boundary);
		if (ok)
			goto done;
		snprintf(type, sizeof(type), "text/plain");
	} else if (strncmp(type, "multipart/", 10) == 0) {
		if (depth >= MIME_DEPTH_MAX)
			ps->doc->truncated = true;
		snprintf(type, sizeof(type), "text/plain");
	}
	if (param_get(ctype, "charset", fn) && fn->data != NULL)
		snprintf(charset, sizeof(charset), "%s", fn->data);
	if (field_get(text, body, "Content-Transfer-Encoding", v) && v->data)
		snprintf(cte, sizeof(cte), "%.*s", (int)strcspn(v->data, " \t;("),
			 v->data);
	has_fn = field_get(text, body, "Content-Disposition", v) && v->data;
	if (has_fn) {
		snprintf(disp, sizeof(disp), "%s", v->data);
		has_fn = param_get(v->data, "filename", fn);
	}
	if (!has_fn)
		has_fn = param_get(ctype, "name", fn);
	add_part(ps, type, charset, cte, disp,
		 has_fn && fn->data != NULL ? fn->data : NULL, body,
		 (size_t)(end - body));
done:
	free(ctype);
	buf_free(&v);
	buf_free(&fn);
}

static char *
top_field(const char *text, const char *hend, const char *name)
{
	struct buf *v = buf_new(MIME_HEADER_MAX), *d;
	char *s = NULL;

	if (field_get(text, hend, name, v)) {
		d = buf_new(MIME_HEADER_MAX * 2);
		mime_words_decode(v->data ? v->data : "", v->len, d);
		s = xstrdup(d->data ? d->data : "");
		buf_free(&d);
	}
	buf_free(&v);
	return s;
}

void
mime_parse(const char *text, size_t len, struct mime_doc *doc)
{
	struct parser ps = {doc};
	const char *hend = body_start(text, len);

	memset(doc, 0, sizeof(*doc));
	doc->from = top_field(text, hend, "From");
	doc->to = top_field(text, hend, "To");
	doc->cc = top_field(text, hend, "Cc");
	doc->date = top_field(text, hend, "Date");
	doc->subject = top_field(text, hend, "Subject");
	parse_entity(&ps, text, len, 0, "text/plain");
}

void
mime_doc_free(struct mime_doc *doc)
{
	free(doc->from);
	free(doc->to);
	free(doc->cc);
	free(doc->date);
	free(doc->subject);
	for (size_t i = 0; i < doc->nparts; i++) {
		free(doc->parts[i].filename);
		free(doc->parts[i].data);
	}
	free(doc->parts);
	memset(doc, 0, sizeof(*doc));
}

bool
mime_header_get(const char *text, size_t len, const char *name,
		struct buf *out)
{
	char *s = top_field(text, body_start(text, len), name);

	buf_reset(out);
	if (s == NULL)
		return false;
	buf_addstr(out, s);
	free(s);
	return true;
}

/* The code point of a valid UTF-8 sequence at s, and its length; 0 if
 * invalid (overlong, surrogate, out of range, truncated). */
static size_t
u8_decode(const unsigned char *s, size_t left, unsigned long *cp)
{
	size_t n;
	unsigned long c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		c = s[0] & 0x1f;
		min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		c = s[0] & 0x0f;
		min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		c = s[0] & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

void
mime_safe_text(const char *in, size_t len, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)in;

	for (size_t i = 0; i < len;) {
		unsigned long cp;
		size_t n = u8_decode(s + i, len - i, &cp);

		if (n == 0) {
			buf_addc(out, '?');
			i++;
			continue;
		}
		if (cp == '\r') {
			/* dropped */
		} else if ((cp < 0x20 && cp != '\t' && cp != '\n') ||
			   (cp >= 0x7f && cp <= 0x9f) ||
			   (cp >= 0x202a && cp <= 0x202e) ||
			   (cp >= 0x2066 && cp <= 0x2069)) {
			/* controls, and bidi overrides that reorder text */
			buf_addc(out, '?');
		} else {
			buf_add(out, in + i, n);
		}
		i += n;
	}
}

void
mime_safe_name(const char *name, char *out, size_t size)
{
	const char *base = name;
	size_t n = 0, cap = size - 1 < MIME_NAME_MAX ? size - 1 : MIME_NAME_MAX;

	for (const char *p = name; *p != '\0'; p++)
		if (*p == '/' || *p == '\\')
			base = p + 1;
	while (*base == '.' || *base == ' ')
		base++;
	for (const unsigned char *p = (const unsigned char *)base;
	     *p != '\0' && n < cap; p++) {
		unsigned long cp;
		size_t w = u8_decode(p, strlen((const char *)p), &cp);

		if (w == 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
		    (cp >= 0x202a && cp <= 0x202e) ||
		    (cp >= 0x2066 && cp <= 0x2069)) {
			out[n++] = '_';
			continue;
		}
		if (n + w > cap)
			break;
		memcpy(out + n, p, w);
		n += w;
		p += w - 1;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
	if (n == 0)
		snprintf(out, size, "attachment");
}
