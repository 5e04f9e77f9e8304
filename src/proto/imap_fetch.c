/*
 * proto/imap_fetch - FETCH items parsed and one message's response
 * written, streamed; see imap_fetch.h.
 *
 * Before the first octet, the writer reads the text once to learn its
 * structure (mime/mstruct; only up to the end of the header when no
 * item needs more) and counts the sizes of the sections that are not
 * their ranges' (a filtered header, a decoded part), so that a text that
 * cannot be read fails the command whole; then it writes the items in
 * the order asked.  A section's octets come from a "section stream" that
 * reads the text again from its start: LF made CRLF, the section's range
 * of the CRLF text kept, then HEADER.FIELDS' filter or BINARY's decoder,
 * then the partial range clipped (a section sent as it is is copied in
 * runs).  Memory: the structure, one read buffer, one output piece, one
 * item's text; never the text.  A text that turns out shorter than its
 * first reading said is a read error (the literal cannot be finished).
 */
#include "imap_fetch.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../mime/mstruct.h"
#include "imap_body.h"
#include "imap_date.h"

#define PARTS_MAX 64		/* numbers of a section followed */
#define FNAME_MAX 256		/* octets of a header field name matched */
#define RBUF (16 * 1024)	/* one read of the text: a message of
				   this size or less is read in one call */
#define OBUF (2 * RBUF + FNAME_MAX + 16)
/* One item's text before its literal: BODYSTRUCTURE or ENVELOPE is at
 * most about 14 MiB (MSTRUCT_KEPT_MAX of address lists written 17.5
 * times over, "a," as (NIL NIL "a" ".MISSING-HOST-NAME."), From three
 * times in each envelope); the bound is never reached. */
#define PEND_MAX (32u << 20)

enum kind {
	K_FLAGS, K_INTERNALDATE, K_RFC822_SIZE, K_ENVELOPE, K_BODY,
	K_BODYSTRUCTURE, K_UID, K_MODSEQ, K_SECTION, K_BINARY_SIZE,
};

/* What of a part or message a section is. */
enum stext { T_ALL, T_HEADER, T_FIELDS, T_FIELDS_NOT, T_TEXT, T_MIME };

struct item {
	enum kind kind;
	char *name;		/* the response's name, without <origin> */
	uint32_t part[PARTS_MAX];
	size_t npart;
	bool too_deep;		/* more numbers than PARTS_MAX: none such */
	const char *deep;	/* then the numbers as sent (while parsing) */
	size_t deeplen;
	enum stext text;
	char **fields;		/* HEADER.FIELDS names, unquoted */
	size_t nfields;
	bool binary;		/* BINARY[...] */
	bool seen;		/* sets \Seen */
	bool partial;
	uint32_t p_start, p_len;
};

struct imap_fetch_items {
	struct item *v;
	size_t n;
};

/* --- parsing the items ---------------------------------------------------- */

static void
item_clear(struct item *it)
{
	free(it->name);
	for (size_t i = 0; i < it->nfields; i++)
		free(it->fields[i]);
	free(it->fields);
}

void
imap_fetch_items_free(struct imap_fetch_items **itemsp)
{
	struct imap_fetch_items *items = *itemsp;

	if (items == NULL)
		return;
	for (size_t i = 0; i < items->n; i++)
		item_clear(&items->v[i]);
	free(items->v);
	free(items);
	*itemsp = NULL;
}

/* Adds it unless the same is there (then only its \Seen joins). */
static void
items_add(struct imap_fetch_items *items, struct item *it, bool front)
{
	for (size_t i = 0; i < items->n; i++) {
		struct item *o = &items->v[i];

		if (o->kind == it->kind &&
		    (it->name == NULL || strcmp(o->name, it->name) == 0) &&
		    o->partial == it->partial && o->p_start == it->p_start &&
		    o->p_len == it->p_len) {
			o->seen |= it->seen;
			item_clear(it);
			return;
		}
	}
	items->v = xrealloc(items->v, (items->n + 1) * sizeof(*items->v));
	if (front) {
		memmove(items->v + 1, items->v, items->n * sizeof(*items->v));
		items->v[0] = *it;
	} else {
		items->v[items->n] = *it;
	}
	items->n++;
}

static void
items_add_kind(struct imap_fetch_items *items, enum kind k, bool front)
{
	struct item it = {.kind = k};

	items_add(items, &it, front);
}

static bool
prefix(const char *s, size_t len, size_t i, const char *p)
{
	size_t pl = strlen(p);

	return len - i >= pl && strncasecmp(s + i, p, pl) == 0;
}

/* A number of RFC 9051 (at most 2^32-1) at *ip; -1 if none. */
static int
number(const char *s, size_t len, size_t *ip, uint32_t *n_r)
{
	size_t i = *ip;
	uint64_t n = 0;

	if (i >= len || s[i] < '0' || s[i] > '9')
		return -1;
	while (i < len && s[i] >= '0' && s[i] <= '9') {
		n = n * 10 + (uint64_t)(s[i++] - '0');
		if (n > UINT32_MAX)
			return -1;
	}
	*ip = i;
	*n_r = (uint32_t)n;
	return 0;
}

/* One header-fld-name (astring) at *ip into it's fields. */
static int
field_name(const char *s, size_t len, size_t *ip, struct item *it)
{
	size_t i = *ip;
	struct buf *b = buf_new(len + 1);

	if (i < len && s[i] == '"') {
		for (i++; i < len && s[i] != '"'; i++) {
			if (s[i] == '\\' && i + 1 < len &&
			    (s[i + 1] == '"' || s[i + 1] == '\\'))
				i++;
			buf_addc(b, s[i]);
		}
		if (i >= len) {
			buf_free(&b);
			return -1;
		}
		i++;
	} else {
		while (i < len && s[i] != ' ' && s[i] != ')' && s[i] != ']' &&
		       s[i] != '(' && s[i] != '"' && s[i] != '{' &&
		       (unsigned char)s[i] > 0x20 &&
		       (unsigned char)s[i] < 0x7f)
			buf_addc(b, s[i++]);
	}
	if (b->len == 0) {
		buf_free(&b);
		return -1;
	}
	it->fields = xrealloc(it->fields,
			      (it->nfields + 1) * sizeof(*it->fields));
	it->fields[it->nfields++] = xstrdup(b->data);
	buf_free(&b);
	*ip = i;
	return 0;
}

/* " (" name *(SP name) ")" of HEADER.FIELDS. */
static int
field_list(const char *s, size_t len, size_t *ip, struct item *it)
{
	size_t i = *ip;

	if (!prefix(s, len, i, " ("))
		return -1;
	i += 2;
	for (;;) {
		if (field_name(s, len, &i, it) < 0)
			return -1;
		if (i < len && s[i] == ')')
			break;
		if (i >= len || s[i] != ' ')
			return -1;
		i++;
	}
	*ip = i + 1;
	return 0;
}

/* The section text after '[' up to ']' (not included). */
static int
section(const char *s, size_t len, size_t *ip, struct item *it,
	bool binary)
{
	size_t i = *ip, start = *ip;

	while (i < len && s[i] >= '0' && s[i] <= '9') {
		uint32_t n;

		if (number(s, len, &i, &n) < 0 || n == 0)
			return -1;
		if (it->npart < PARTS_MAX)
			it->part[it->npart++] = n;
		else
			it->too_deep = true;
		if (i + 1 < len && s[i] == '.' && s[i + 1] >= '0' &&
		    s[i + 1] <= '9')
			i++;
		else
			break;
	}
	if (it->too_deep) {
		it->deep = s + start;
		it->deeplen = i - start;
	}
	if (i < len && s[i] == '.' && it->npart > 0 && !binary)
		i++;
	else if (it->npart > 0 || binary || (i < len && s[i] == ']'))
		goto end;
	if (prefix(s, len, i, "HEADER.FIELDS.NOT")) {
		it->text = T_FIELDS_NOT;
		i += 17;
	} else if (prefix(s, len, i, "HEADER.FIELDS")) {
		it->text = T_FIELDS;
		i += 13;
	} else if (prefix(s, len, i, "HEADER")) {
		it->text = T_HEADER;
		i += 6;
	} else if (prefix(s, len, i, "TEXT")) {
		it->text = T_TEXT;
		i += 4;
	} else if (prefix(s, len, i, "MIME") && it->npart > 0) {
		it->text = T_MIME;
		i += 4;
	} else {
		return -1;
	}
	if ((it->text == T_FIELDS || it->text == T_FIELDS_NOT) &&
	    field_list(s, len, &i, it) < 0)
		return -1;
end:
	if (i >= len || s[i] != ']')
		return -1;
	*ip = i;
	return 0;
}

/* The response's name: what[normalized section]. */
static char *
section_name(const char *what, const struct item *it)
{
	static const char *const texts[] = {
		"", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT",
		"MIME",
	};
	struct buf *b = buf_new(SIZE_MAX);
	char *r;

	buf_printf(b, "%s[", what);
	if (it->too_deep) /* no such part: its name as the client sent it */
		buf_add(b, it->deep, it->deeplen);
	for (size_t i = 0; i < it->npart && !it->too_deep; i++)
		buf_printf(b, "%s%" PRIu32, i > 0 ? "." : "", it->part[i]);
	if (it->npart > 0 && it->text != T_ALL)
		buf_addc(b, '.');
	buf_addstr(b, texts[it->text]);
	if (it->nfields > 0) {
		buf_addstr(b, " (");
		for (size_t i = 0; i < it->nfields; i++) {
			if (i > 0)
				buf_addc(b, ' ');
			imap_body_astring(b, it->fields[i],
					  strlen(it->fields[i]));
		}
		buf_addc(b, ')');
	}
	buf_addc(b, ']');
	r = xstrdup(b->data);
	buf_free(&b);
	return r;
}

/* "<" number "." nz-number ">" at *ip, if there. */
static int
partial(const char *s, size_t len, size_t *ip, struct item *it)
{
	size_t i = *ip;

	if (i >= len || s[i] != '<')
		return 0;
	i++;
	if (number(s, len, &i, &it->p_start) < 0 || i >= len ||
	    s[i++] != '.' || number(s, len, &i, &it->p_len) < 0 ||
	    it->p_len == 0 || i >= len || s[i++] != '>')
		return -1;
	it->partial = true;
	*ip = i;
	return 0;
}

/* BODY[...], BODY.PEEK[...], BINARY[...], BINARY.PEEK[...],
 * BINARY.SIZE[...]; i is past the '['. */
static int
section_item(const char *s, size_t len, size_t i, struct item *it,
	     const char *what, bool peek, bool size)
{
	bool binary = strcmp(what, "BODY") != 0;

	it->kind = size ? K_BINARY_SIZE : K_SECTION;
	it->binary = binary;
	it->seen = !peek && !size;
	if (section(s, len, &i, it, binary) < 0)
		return -1;
	i++;
	if (!size && partial(s, len, &i, it) < 0)
		return -1;
	if (i != len)
		return -1;
	it->name = section_name(what, it);
	it->deep = NULL; /* s is the caller's */
	return 0;
}

static const struct {
	const char *name;
	enum kind kind;
} SIMPLE[] = {
	{"FLAGS", K_FLAGS}, {"INTERNALDATE", K_INTERNALDATE},
	{"RFC822.SIZE", K_RFC822_SIZE}, {"ENVELOPE", K_ENVELOPE},
	{"BODY", K_BODY}, {"BODYSTRUCTURE", K_BODYSTRUCTURE},
	{"UID", K_UID}, {"MODSEQ", K_MODSEQ},
};

/* RFC822, RFC822.HEADER, RFC822.TEXT: sections under their own names. */
static bool
rfc822_item(const char *s, size_t len, struct item *it)
{
	static const struct {
		const char *name;
		enum stext text;
		bool seen;
	} R[] = {
		{"RFC822", T_ALL, true}, {"RFC822.HEADER", T_HEADER, false},
		{"RFC822.TEXT", T_TEXT, true},
	};

	for (size_t k = 0; k < sizeof(R) / sizeof(R[0]); k++)
		if (strlen(R[k].name) == len &&
		    strncasecmp(s, R[k].name, len) == 0) {
			it->kind = K_SECTION;
			it->text = R[k].text;
			it->seen = R[k].seen;
			it->name = xstrdup(R[k].name);
			return true;
		}
	return false;
}

static int
item_parse(const char *s, size_t len, struct imap_fetch_items *items)
{
	static const struct {
		const char *pfx, *what;
		bool peek, size;
	} SECT[] = {
		{"BODY[", "BODY", false, false},
		{"BODY.PEEK[", "BODY", true, false},
		{"BINARY[", "BINARY", false, false},
		{"BINARY.PEEK[", "BINARY", true, false},
		{"BINARY.SIZE[", "BINARY.SIZE", false, true},
	};
	struct item it = {0};

	for (size_t k = 0; k < sizeof(SIMPLE) / sizeof(SIMPLE[0]); k++)
		if (strlen(SIMPLE[k].name) == len &&
		    strncasecmp(s, SIMPLE[k].name, len) == 0) {
			items_add_kind(items, SIMPLE[k].kind, false);
			return 0;
		}
	if (rfc822_item(s, len, &it)) {
		items_add(items, &it, false);
		return 0;
	}
	for (size_t k = 0; k < sizeof(SECT) / sizeof(SECT[0]); k++)
		if (prefix(s, len, 0, SECT[k].pfx)) {
			if (section_item(s, len, strlen(SECT[k].pfx), &it,
					 SECT[k].what, SECT[k].peek,
					 SECT[k].size) < 0) {
				item_clear(&it);
				return -1;
			}
			items_add(items, &it, false);
			return 0;
		}
	return -1;
}

/* ALL, FAST, FULL (RFC 9051 6.4.5): false if s is none of them. */
static bool
macro(const char *s, struct imap_fetch_items *items)
{
	static const enum kind FAST[] = {K_FLAGS, K_INTERNALDATE,
					 K_RFC822_SIZE};
	int n;

	if (strcasecmp(s, "FAST") == 0)
		n = 0;
	else if (strcasecmp(s, "ALL") == 0)
		n = 1;
	else if (strcasecmp(s, "FULL") == 0)
		n = 2;
	else
		return false;
	for (size_t k = 0; k < 3; k++)
		items_add_kind(items, FAST[k], false);
	if (n >= 1)
		items_add_kind(items, K_ENVELOPE, false);
	if (n >= 2)
		items_add_kind(items, K_BODY, false);
	return true;
}

int
imap_fetch_parse(const struct imap_arg *arg,
		 struct imap_fetch_items **items_r, const char **why_r)
{
	struct imap_fetch_items *items = xcalloc(1, sizeof(*items));
	const struct imap_arg *list = arg;
	size_t n = 1;

	if (arg->type == IMAP_ARG_ATOM && macro(arg->str, items)) {
		*items_r = items;
		return 0;
	}
	if (arg->type == IMAP_ARG_LIST) {
		list = arg->list;
		n = arg->n;
		if (n == 0) {
			*why_r = "FETCH: an empty list of items";
			goto bad;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (list[i].type != IMAP_ARG_ATOM ||
		    item_parse(list[i].str, list[i].len, items) < 0) {
			*why_r = "FETCH: unknown item or bad section";
			goto bad;
		}
	}
	*items_r = items;
	return 0;
bad:
	imap_fetch_items_free(&items);
	return -1;
}

void
imap_fetch_add_uid(struct imap_fetch_items *items)
{
	items_add_kind(items, K_UID, true);
}

void
imap_fetch_add_modseq(struct imap_fetch_items *items)
{
	items_add_kind(items, K_MODSEQ, false);
}

void
imap_fetch_add_flags(struct imap_fetch_items *items)
{
	items_add_kind(items, K_FLAGS, false);
}

static bool
item_wants_text(const struct item *it)
{
	return it->kind == K_ENVELOPE || it->kind == K_BODY ||
	       it->kind == K_BODYSTRUCTURE || it->kind == K_SECTION ||
	       it->kind == K_BINARY_SIZE;
}

bool
imap_fetch_wants_text(const struct imap_fetch_items *items)
{
	for (size_t i = 0; i < items->n; i++)
		if (item_wants_text(&items->v[i]))
			return true;
	return false;
}

bool
imap_fetch_sets_seen(const struct imap_fetch_items *items)
{
	for (size_t i = 0; i < items->n; i++)
		if (items->v[i].seen)
			return true;
	return false;
}

bool
imap_fetch_wants_modseq(const struct imap_fetch_items *items)
{
	for (size_t i = 0; i < items->n; i++)
		if (items->v[i].kind == K_MODSEQ)
			return true;
	return false;
}

/* --- section streams ------------------------------------------------------ */

enum filter { F_NONE, F_FIELDS, F_NOT };
enum decode { D_NONE, D_B64, D_QP };
enum lstate { LS_START, LS_CR, LS_NAME, LS_KEEP, LS_DROP, LS_BODY };

struct sect {
	uint64_t rs, re;	/* the range of the CRLF text */
	enum filter filter;
	const struct item *it;	/* its field names */
	enum decode dec;
	bool emit;		/* into obuf; else only counted */
	bool nul80;		/* BODY: a NUL goes as 0x80 */
	uint64_t cs, ce;	/* the section's octets kept: [cs, ce) */

	uint64_t pos;		/* CRLF offset of the next octet */
	char prev;		/* the last raw octet */
	uint64_t opos;		/* the section's octets so far */
	uint64_t emitted;	/* octets kept */
	bool nul;		/* a kept octet was NUL */
	bool done;

	enum lstate ls;
	bool keep;		/* the current field is kept */
	char fname[FNAME_MAX + 1];
	size_t fnlen;

	uint32_t acc;		/* base64 */
	int bits;
	int qst;		/* quoted-printable */
	char qh;
	char qws[32];		/* white space held back */
	size_t nqws;
};

/* A section's size counted before the response begins. */
struct counted {
	uint64_t size;
	bool nul;		/* a NUL within the partial range */
};

struct imap_fetch_writer {
	const struct imap_fetch_items *items;
	struct counted *counted;	/* one per item */
	const struct imap_fetch_msg *msg;
	struct mstruct *ms;
	int failed;		/* -1 or -2 once failed */
	bool started, closed, done;
	size_t idx;
	struct buf *pend;
	size_t pend_off;
	bool lit;		/* a literal's octets are being sent */
	uint64_t lit_len;
	struct sect s;
	size_t held;		/* octets in rbuf read from the text's
				   start, for the first section that
				   starts there (the reader is past them) */
	char obuf[OBUF];
	size_t olen, ooff;
	char rbuf[RBUF];
};

static void
out_octet(struct imap_fetch_writer *w, struct sect *s, char c)
{
	if (s->opos >= s->cs && s->opos < s->ce) {
		if (c == '\0')
			s->nul = true;
		if (s->emit)
			w->obuf[w->olen++] = c == '\0' && s->nul80 ?
					     (char)0x80 : c;
		s->emitted++;
	}
	s->opos++;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The white space held back by quoted-printable goes out after all. */
static void
qws_flush(struct imap_fetch_writer *w, struct sect *s)
{
	for (size_t i = 0; i < s->nqws; i++)
		out_octet(w, s, s->qws[i]);
	s->nqws = 0;
}

/* Holds a space or tab back (out at once when too many are held). */
static void
qws_hold(struct imap_fetch_writer *w, struct sect *s, char c)
{
	if (s->nqws == sizeof(s->qws)) {
		if (s->qst == 4) {	/* "=" and white space: not a break */
			out_octet(w, s, '=');
			s->qst = 0;
		}
		qws_flush(w, s);
	}
	s->qws[s->nqws++] = c;
}

/*
 * Quoted-printable (RFC 2045 6.7), one octet at a time: "=XX" an octet,
 * "=" and white space before a line end a soft line break, white space
 * before a line end dropped; anything else malformed goes as it is.
 */
static void
qp_octet(struct imap_fetch_writer *w, struct sect *s, char c)
{
	for (;;) {
		switch (s->qst) {
		case 0:
			if (c == ' ' || c == '\t') {
				qws_hold(w, s, c);
				return;
			}
			if (c == '\r' || c == '\n')
				s->nqws = 0;	/* trailing white space */
			else
				qws_flush(w, s);
			if (c == '=')
				s->qst = 1;
			else
				out_octet(w, s, c);
			return;
		case 1:		/* after '=' */
			if (hexval(c) >= 0) {
				s->qh = c;
				s->qst = 2;
				return;
			}
			if (c == '\r') {
				s->qst = 3;
				return;
			}
			if (c == ' ' || c == '\t') {
				s->qst = 4;
				qws_hold(w, s, c);
				return;
			}
			s->qst = 0;
			if (c == '\n')
				return;
			out_octet(w, s, '=');
			continue;
		case 2:		/* after '=' and a hex digit */
			s->qst = 0;
			if (hexval(c) >= 0) {
				out_octet(w, s, (char)(hexval(s->qh) * 16 +
						       hexval(c)));
				return;
			}
			out_octet(w, s, '=');
			out_octet(w, s, s->qh);
			continue;
		case 3:		/* after "=\r" (and white space) */
			s->qst = 0;
			s->nqws = 0;
			if (c == '\n')
				return;
			continue;
		default:	/* after '=' and white space */
			if (c == ' ' || c == '\t') {
				qws_hold(w, s, c);
				return;
			}
			if (c == '\r' || c == '\n') {
				s->nqws = 0;
				s->qst = c == '\r' ? 3 : 0;
				return;
			}
			s->qst = 0;
			out_octet(w, s, '=');
			qws_flush(w, s);
			continue;
		}
	}
}

static void
decode_octet(struct imap_fetch_writer *w, struct sect *s, char c)
{
	int v;

	switch (s->dec) {
	case D_NONE:
		out_octet(w, s, c);
		break;
	case D_QP:
		qp_octet(w, s, c);
		break;
	case D_B64:
		if (c == '=') {
			s->bits = 0;
			break;
		}
		v = c == '+' ? 62 : c == '/' ? 63 :
		    c >= 'A' && c <= 'Z' ? c - 'A' :
		    c >= 'a' && c <= 'z' ? c - 'a' + 26 :
		    c >= '0' && c <= '9' ? c - '0' + 52 : -1;
		if (v < 0)
			break;
		s->acc = (s->acc << 6) | (uint32_t)v;
		s->bits += 6;
		if (s->bits >= 8) {
			s->bits -= 8;
			out_octet(w, s, (char)((s->acc >> s->bits) & 0xff));
		}
		break;
	}
}

static bool
field_wanted(const struct sect *s, bool colon)
{
	size_t n = s->fnlen;
	bool match = false;

	while (n > 0 && (s->fname[n - 1] == ' ' || s->fname[n - 1] == '\t'))
		n--;
	for (size_t i = 0; colon && i < s->it->nfields && !match; i++)
		match = strlen(s->it->fields[i]) == n &&
			strncasecmp(s->it->fields[i], s->fname, n) == 0;
	return s->filter == F_FIELDS ? match : !match;
}

/* The field name held is decided: kept or dropped with its lines. */
static void
field_decide(struct imap_fetch_writer *w, struct sect *s, bool colon)
{
	s->keep = field_wanted(s, colon);
	s->ls = s->keep ? LS_KEEP : LS_DROP;
	for (size_t i = 0; s->keep && i < s->fnlen; i++)
		decode_octet(w, s, s->fname[i]);
	s->fnlen = 0;
}

/* HEADER.FIELDS[.NOT] over the header's CRLF text, one octet. */
static void
filter_octet(struct imap_fetch_writer *w, struct sect *s, char c)
{
	if (s->filter == F_NONE) {
		decode_octet(w, s, c);
		return;
	}
	switch (s->ls) {
	case LS_START:
		if (c == '\r') {
			s->ls = LS_CR;
		} else if (c == ' ' || c == '\t') {
			s->ls = s->keep ? LS_KEEP : LS_DROP;
			if (s->keep)
				decode_octet(w, s, c);
		} else {
			s->fname[0] = c;
			s->fnlen = 1;
			s->ls = LS_NAME;
			if (c == '\n')
				field_decide(w, s, false);
		}
		return;
	case LS_CR:
		if (c == '\n') {	/* the blank line */
			decode_octet(w, s, '\r');
			decode_octet(w, s, '\n');
			s->ls = LS_BODY;
			return;
		}
		s->fname[0] = '\r';
		s->fnlen = 1;
		s->ls = LS_NAME;
		break;
	default:
		break;
	}
	switch (s->ls) {
	case LS_NAME:
		if (c == ':' || c == '\r' || c == '\n' ||
		    s->fnlen >= FNAME_MAX) {
			field_decide(w, s, c == ':');
			filter_octet(w, s, c);
			return;
		}
		s->fname[s->fnlen++] = c;
		return;
	case LS_KEEP:
		decode_octet(w, s, c);
		if (c == '\n')
			s->ls = LS_START;
		return;
	case LS_DROP:
		if (c == '\n')
			s->ls = LS_START;
		return;
	default:
		decode_octet(w, s, c);
		return;
	}
}

/* The end of the section: what the filter and decoder hold. */
static void
sect_flush(struct imap_fetch_writer *w, struct sect *s)
{
	if (s->filter != F_NONE && s->ls == LS_CR) {
		s->fname[0] = '\r';
		s->fnlen = 1;
		s->ls = LS_NAME;
	}
	if (s->filter != F_NONE && s->ls == LS_NAME)
		field_decide(w, s, false);
	/* white space at the end is a line's trailing white space */
	if (s->dec == D_QP && s->qst == 1)
		out_octet(w, s, '=');
	if (s->dec == D_QP && s->qst == 2) {
		out_octet(w, s, '=');
		out_octet(w, s, s->qh);
	}
	s->done = true;
}

/* One octet of the CRLF text at s->pos. */
static void
crlf_octet(struct imap_fetch_writer *w, struct sect *s, char c)
{
	if (s->pos >= s->rs && s->pos < s->re)
		filter_octet(w, s, c);
	s->pos++;
}

/* A run of octets with no LF, sent as they are: the part of it in the
 * range and the partial range copied whole (nul: the run may hold a NUL,
 * which BODY sends as 0x80). */
static void
plain_run(struct imap_fetch_writer *w, struct sect *s, const char *d,
	  size_t n, bool nul)
{
	uint64_t a = s->pos, b = s->pos + n;
	uint64_t lo = a > s->rs ? a : s->rs, hi = b < s->re ? b : s->re;

	if (lo < hi) {
		/* each octet of the range is one of the section */
		uint64_t olo = s->opos, ohi = s->opos + (hi - lo);
		uint64_t clo = olo > s->cs ? olo : s->cs;
		uint64_t chi = ohi < s->ce ? ohi : s->ce;

		if (clo < chi) {
			char *o = w->obuf + w->olen;
			size_t m = (size_t)(chi - clo);

			memcpy(o, d + (lo - a) + (clo - olo), m);
			for (char *z = nul ? memchr(o, '\0', m) : NULL;
			     z != NULL;
			     z = memchr(z + 1, '\0', (size_t)(o + m - z - 1)))
				*z = (char)0x80;
			w->olen += m;
			s->emitted += m;
		}
		s->opos = ohi;
	}
	s->pos = b;
}

/*
 * The lines of d copied whole, each LF as CRLF, while every octet is in
 * the range and the partial range (all of a BODY[] but its last octets
 * past a text that grew); the octets of d taken.
 */
static size_t
plain_lines(struct imap_fetch_writer *w, struct sect *s, const char *d,
	    size_t n)
{
	const char *p = d, *end = d + n;
	char *o = w->obuf + w->olen;
	uint64_t room;
	size_t m;

	if (s->pos < s->rs || s->pos >= s->re || s->opos < s->cs ||
	    s->opos >= s->ce)
		return 0;
	room = s->re - s->pos;
	if (s->ce - s->opos < room)
		room = s->ce - s->opos;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t k = (size_t)((nl != NULL ? nl : end) - p);

		if (k + (nl != NULL ? 2 : 0) > room)
			break;
		memcpy(o, p, k);
		o += k;
		p += k;
		room -= k;
		if (nl != NULL) {
			*o++ = '\r';
			*o++ = '\n';
			p++;
			room -= 2;
		}
	}
	m = (size_t)(o - (w->obuf + w->olen));
	w->olen += m;
	s->emitted += m;
	s->opos += m;
	s->pos += m;
	if (p > d)
		s->prev = p[-1];
	return (size_t)(p - d);
}

/* sect_raw for a section sent as it is (no filter, no decoding): runs
 * between line ends copied whole. */
static void
plain_raw(struct imap_fetch_writer *w, struct sect *s, const char *d,
	  size_t n)
{
	bool nul = s->nul80 && memchr(d, '\0', n) != NULL;
	size_t i = nul ? 0 : plain_lines(w, s, d, n);

	while (i < n && s->pos < s->re && s->opos < s->ce) {
		const char *nl = memchr(d + i, '\n', n - i);
		size_t k = nl != NULL ? (size_t)(nl - d) : n;

		if (k > i) {
			plain_run(w, s, d + i, k - i, nul);
			s->prev = d[k - 1];
			i = k;
			continue;
		}
		/* every LF: as the store counts */
		plain_run(w, s, "\r\n", 2, false);
		s->prev = '\n';
		i++;
	}
}

/* Octets n of the raw text: LF made CRLF, the range kept. */
static void
sect_raw(struct imap_fetch_writer *w, struct sect *s, const char *d,
	 size_t n)
{
	size_t i = 0;

	/* before the range: count only */
	while (i < n && s->pos + 2 * (n - i) < s->rs) {
		const char *nl = memchr(d + i, '\n', n - i);
		size_t k = nl != NULL ? (size_t)(nl - d) + 1 : n;

		s->pos += k - i;
		if (nl != NULL)
			s->pos++;
		s->prev = d[k - 1];
		i = k;
	}
	if (s->emit && s->filter == F_NONE && s->dec == D_NONE) {
		plain_raw(w, s, d + i, n - i);
		return;
	}
	for (; i < n && s->pos < s->re; i++) {
		if (d[i] == '\n')
			crlf_octet(w, s, '\r');
		crlf_octet(w, s, d[i]);
		s->prev = d[i];
		if (s->emit && s->opos >= s->ce)
			break;
	}
}

/* Starts s over the text: rewound unless the range is empty. */
static int
sect_start(struct imap_fetch_writer *w, struct sect *s)
{
	s->pos = 0;
	s->prev = '\0';
	s->opos = s->emitted = 0;
	s->nul = s->done = false;
	s->ls = LS_START;
	s->keep = s->filter == F_NOT;
	s->fnlen = 0;
	s->acc = 0;
	s->bits = s->qst = 0;
	s->nqws = 0;
	if (s->rs >= s->re) {
		sect_flush(w, s);
		return 0;
	}
	if (w->held > 0)
		return 0;	/* sect_step takes rbuf first */
	return w->msg->rewind(w->msg->rd) < 0 ? -1 : 0;
}

/* Reads and runs one piece of text: 0 (s->done tells whether it ended),
 * -1 on a read error or a text shorter than its structure. */
static int
sect_step(struct imap_fetch_writer *w, struct sect *s)
{
	long n;

	if (s->done)
		return 0;
	if (w->held > 0) {
		n = (long)w->held;
		w->held = 0;
	} else {
		n = w->msg->read(w->msg->rd, w->rbuf, sizeof(w->rbuf));
	}
	if (n <= 0)
		return -1;
	sect_raw(w, s, w->rbuf, (size_t)n);
	if (s->pos >= s->re || (s->emit && s->opos >= s->ce)) {
		if (s->pos >= s->re)
			sect_flush(w, s);
		s->done = true;
	}
	return 0;
}

/* Runs s to its end, counting. */
static int
sect_count(struct imap_fetch_writer *w, struct sect *s)
{
	if (sect_start(w, s) < 0)
		return -1;
	while (!s->done)
		if (sect_step(w, s) < 0)
			return -1;
	return 0;
}

/* --- sections of the structure -------------------------------------------- */

/*
 * The part a section's numbers name (RFC 9051 6.4.5, walked as Dovecot
 * walks it): a multipart's parts by number; "1" of any other part the
 * part itself, as the last number, or before more numbers when it is a
 * message/rfc822 (a message that is not multipart has only part 1); a
 * message/rfc822 followed by more numbers is entered; NULL if there is
 * none.
 */
static const struct mstruct_part *
part_find(const struct mstruct_part *root, const struct item *it)
{
	const struct mstruct_part *p = root;

	if (it->too_deep)
		return NULL;
	for (size_t i = 0; i < it->npart && p != NULL; i++) {
		uint32_t k = it->part[i];
		bool last = i + 1 == it->npart;

		if (p->multipart) {
			for (p = p->children; p != NULL && k > 1; k--)
				p = p->next;
		} else if (k != 1 || (!last && !p->rfc822)) {
			return NULL;
		}
		if (p != NULL && p->rfc822 && !last)
			p = p->children;
	}
	return p;
}

static enum decode
cte(const struct mstruct_part *p, bool *known)
{
	*known = true;
	if (p->multipart || p->rfc822 || p->enc == NULL)
		return D_NONE;
	if (strcasecmp(p->enc, "base64") == 0)
		return D_B64;
	if (strcasecmp(p->enc, "quoted-printable") == 0)
		return D_QP;
	*known = strcasecmp(p->enc, "7bit") == 0 ||
		 strcasecmp(p->enc, "8bit") == 0 ||
		 strcasecmp(p->enc, "binary") == 0;
	return D_NONE;
}

/* The range (and filter, decoder) of an item's section; false if the
 * section does not exist. */
static bool
sect_of(const struct imap_fetch_writer *w, const struct item *it,
	struct sect *s)
{
	const struct mstruct_part *root, *p, *m;
	bool known;

	memset(s, 0, sizeof(*s));
	s->it = it;
	s->nul80 = !it->binary;
	if (w->ms == NULL) {	/* whole_message(): the store's size */
		s->re = w->msg->m->size;
		return true;
	}
	root = mstruct_root(w->ms);
	p = part_find(root, it);
	if (p == NULL)
		return false;
	if (it->binary) {
		s->rs = it->npart > 0 ? p->body_off : 0;
		s->re = it->npart > 0 ? p->body_off + p->body_size :
			mstruct_size(w->ms);
		s->dec = it->npart > 0 ? cte(p, &known) : D_NONE;
		return true;
	}
	m = p;
	if (it->npart > 0 && it->text != T_ALL && it->text != T_MIME) {
		if (!p->rfc822 || p->children == NULL)
			return false;
		m = p->children;
	}
	switch (it->text) {
	case T_ALL:
		s->rs = it->npart > 0 ? p->body_off : 0;
		s->re = it->npart > 0 ? p->body_off + p->body_size :
			mstruct_size(w->ms);
		break;
	case T_HEADER:
	case T_FIELDS:
	case T_FIELDS_NOT:
	case T_MIME:
		s->rs = m->hdr_off;
		s->re = m->hdr_off + m->hdr_size;
		s->filter = it->text == T_FIELDS ? F_FIELDS :
			    it->text == T_FIELDS_NOT ? F_NOT : F_NONE;
		break;
	case T_TEXT:
		s->rs = m->body_off;
		s->re = m->body_off + m->body_size;
		break;
	}
	return true;
}

/* Does a BINARY item ask for a part of an unknown encoding? */
static bool
unknown_cte(const struct imap_fetch_writer *w)
{
	for (size_t i = 0; i < w->items->n; i++) {
		const struct item *it = &w->items->v[i];
		const struct mstruct_part *p;
		bool known;

		if (!it->binary && it->kind != K_BINARY_SIZE)
			continue;
		p = part_find(mstruct_root(w->ms), it);
		if (p != NULL && it->npart > 0) {
			cte(p, &known);
			if (!known)
				return true;
		}
	}
	return false;
}

/* --- the response --------------------------------------------------------- */

/* Everything zeroed but pend, kept (emptied), and the buffers, left as
 * they are (only what olen, ooff and held say of them is read). */
static void
writer_clear(struct imap_fetch_writer *w, const struct imap_fetch_items *items,
	     const struct imap_fetch_msg *msg)
{
	struct buf *pend = w->pend;

	mstruct_free(&w->ms);
	free(w->counted);
	memset(w, 0, offsetof(struct imap_fetch_writer, obuf));
	w->olen = w->ooff = 0;
	w->items = items;
	w->msg = msg;
	w->pend = pend;
	buf_reset(pend);
}

struct imap_fetch_writer *
imap_fetch_writer_new(const struct imap_fetch_items *items,
		      const struct imap_fetch_msg *msg)
{
	struct imap_fetch_writer *w = xmalloc(sizeof(*w));

	memset(w, 0, offsetof(struct imap_fetch_writer, obuf));
	w->pend = buf_new(PEND_MAX);
	writer_clear(w, items, msg);
	return w;
}

void
imap_fetch_writer_reset(struct imap_fetch_writer *w,
			const struct imap_fetch_msg *msg)
{
	writer_clear(w, w->items, msg);
}

void
imap_fetch_writer_free(struct imap_fetch_writer **wp)
{
	struct imap_fetch_writer *w = *wp;

	if (w == NULL)
		return;
	mstruct_free(&w->ms);
	buf_free(&w->pend);
	free(w->counted);
	free(w);
	*wp = NULL;
}

/* Does the item need nothing but the top header (ENVELOPE, HEADER,
 * HEADER.FIELDS[.NOT], RFC822.HEADER)? */
static bool
header_only(const struct item *it)
{
	return it->kind == K_ENVELOPE ||
	       (it->kind == K_SECTION && !it->binary && it->npart == 0 &&
		(it->text == T_HEADER || it->text == T_FIELDS ||
		 it->text == T_FIELDS_NOT));
}

/*
 * The structure pass: the text read once, or only up to the end of its
 * header when no item needs more (a client listing a mailbox asks for
 * ENVELOPE and some header fields of every message: a 50 MB message
 * costs its header then).
 */
static int
structure(struct imap_fetch_writer *w)
{
	bool all = false;
	long n;

	for (size_t i = 0; i < w->items->n; i++)
		all |= item_wants_text(&w->items->v[i]) &&
		       !header_only(&w->items->v[i]);
	w->ms = mstruct_new();
	w->held = 0;
	if (w->msg->rewind(w->msg->rd) < 0)
		return -1;
	while ((all || !mstruct_header_ended(w->ms)) &&
	       (n = w->msg->read(w->msg->rd, w->rbuf, sizeof(w->rbuf))) != 0) {
		if (n < 0)
			return -1;
		mstruct_feed(w->ms, w->rbuf, (size_t)n);
	}
	mstruct_end(w->ms);
	return 0;
}

/* s, then v in decimal: the numbers of every response, without printf
 * (a FETCH of FLAGS for 100,000 messages writes 200,000 of them). */
static void
add_num(struct buf *b, const char *s, uint64_t v)
{
	char d[20];
	size_t i = sizeof(d);

	do
		d[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	buf_addstr(b, s);
	buf_add(b, d + i, sizeof(d) - i);
}

static void
flags(struct buf *b, const struct imap_fetch_msg *msg)
{
	static const struct {
		unsigned bit;
		const char *name;
	} F[] = {
		{IMAP_F_ANSWERED, "\\Answered"}, {IMAP_F_FLAGGED, "\\Flagged"},
		{IMAP_F_DELETED, "\\Deleted"}, {IMAP_F_SEEN, "\\Seen"},
		{IMAP_F_DRAFT, "\\Draft"},
	};
	const char *sep = "";

	buf_addstr(b, "FLAGS (");
	for (size_t k = 0; k < sizeof(F) / sizeof(F[0]); k++)
		if (msg->m->flags & F[k].bit) {
			buf_addstr(b, sep);
			buf_addstr(b, F[k].name);
			sep = " ";
		}
	if (msg->recent && !msg->rev2) {
		buf_addstr(b, sep);
		buf_addstr(b, "\\Recent");
		sep = " ";
	}
	if (msg->m->keywords != NULL && msg->m->keywords[0] != '\0') {
		buf_addstr(b, sep);
		buf_addstr(b, msg->m->keywords);
	}
	buf_addc(b, ')');
}

/* The octets of a section the partial range keeps, all by default. */
static void
clip_set(const struct item *it, struct sect *s)
{
	s->cs = it->partial ? it->p_start : 0;
	s->ce = it->partial ? (uint64_t)it->p_start + it->p_len : UINT64_MAX;
}

/*
 * The sizes of the sections that are not their range's (HEADER.FIELDS
 * filtered, BINARY decoded), counted before the response begins, so that
 * a text that cannot be read fails the command before its first octet.
 */
static int
count_sections(struct imap_fetch_writer *w)
{
	struct sect *s = &w->s;

	w->counted = xcalloc(w->items->n, sizeof(*w->counted));
	for (size_t i = 0; i < w->items->n; i++) {
		const struct item *it = &w->items->v[i];

		if ((it->kind != K_SECTION && it->kind != K_BINARY_SIZE) ||
		    !sect_of(w, it, s) || (!it->binary && s->filter == F_NONE))
			continue;
		clip_set(it, s);
		if (sect_count(w, s) < 0)
			return -1;
		w->counted[i].size = s->opos;
		w->counted[i].nul = s->nul;
	}
	return 0;
}

/* A section item: its name, and its literal's header (the octets then
 * come from w->s); -1 if the text could not be read. */
static int
section_begin(struct imap_fetch_writer *w, size_t i)
{
	const struct item *it = &w->items->v[i];
	struct buf *b = w->pend;
	uint64_t size, start, len;
	struct sect *s = &w->s;

	buf_addstr(b, it->name);
	if (it->partial)
		buf_printf(b, "<%" PRIu32 ">", it->p_start);
	buf_addc(b, ' ');
	if (!sect_of(w, it, s)) {
		buf_addstr(b, "\"\"");
		return 0;
	}
	clip_set(it, s);
	if (it->binary || s->filter != F_NONE)
		size = w->counted[i].size;
	else
		size = s->re - s->rs;
	start = s->cs < size ? s->cs : size;
	len = size - start;
	if (it->partial && len > it->p_len)
		len = it->p_len;
	if (len == 0) {
		buf_addstr(b, "\"\"");
		return 0;
	}
	add_num(b, it->binary && w->counted[i].nul ? "~{" : "{", len);
	buf_addstr(b, "}\r\n");
	s->cs = start;
	s->ce = start + len;
	s->emit = true;
	if (sect_start(w, s) < 0)
		return -1;
	w->lit = true;
	w->lit_len = len;
	return 0;
}

/* Item i's text into pend (a literal's header last); -1 on a read
 * error. */
static int
item_begin(struct imap_fetch_writer *w, size_t i)
{
	const struct item *it = &w->items->v[i];
	struct buf *b = w->pend;
	const struct imap_msg *m = w->msg->m;
	char date[IMAP_DATETIME_LEN + 1];

	if (i > 0)
		buf_addc(b, ' ');
	switch (it->kind) {
	case K_FLAGS:
		flags(b, w->msg);
		break;
	case K_INTERNALDATE:
		imap_datetime_format(m->date, m->zone, date);
		buf_printf(b, "INTERNALDATE \"%s\"", date);
		break;
	case K_RFC822_SIZE:
		add_num(b, "RFC822.SIZE ", m->size);
		break;
	case K_UID:
		add_num(b, "UID ", m->uid);
		break;
	case K_MODSEQ:
		add_num(b, "MODSEQ (", m->modseq);
		buf_addc(b, ')');
		break;
	case K_ENVELOPE:
		buf_addstr(b, "ENVELOPE ");
		imap_body_envelope(b, mstruct_root(w->ms));
		break;
	case K_BODY:
	case K_BODYSTRUCTURE:
		buf_addstr(b, it->kind == K_BODY ? "BODY " : "BODYSTRUCTURE ");
		imap_body_structure(b, mstruct_root(w->ms),
				    it->kind == K_BODYSTRUCTURE);
		break;
	case K_BINARY_SIZE:
		buf_printf(b, "%s %" PRIu64, it->name, w->counted[i].size);
		break;
	case K_SECTION:
		return section_begin(w, i);
	}
	return 0;
}

/* Copies what fits of data[*off..len) into out (up to lim octets). */
static void
copy_out(struct buf *out, size_t lim, const char *data, size_t len,
	 size_t *off)
{
	size_t n = len - *off;

	if (n > lim - out->len)
		n = lim - out->len;
	buf_add(out, data + *off, n);
	*off += n;
}

/*
 * Is every item that needs the text the whole message (BODY[],
 * BODY.PEEK[], RFC822, with or without a partial range)?  Then its size
 * is the store's CRLF size (RFC822.SIZE, which every LF made CRLF
 * gives, as this file sends it) and no structure pass is needed: a
 * mailbox fetched whole is read once.
 */
static bool
whole_message(const struct imap_fetch_writer *w)
{
	for (size_t i = 0; i < w->items->n; i++) {
		const struct item *it = &w->items->v[i];

		if (!item_wants_text(it))
			continue;
		if (it->kind != K_SECTION || it->binary || it->npart > 0 ||
		    it->text != T_ALL)
			return false;
	}
	return true;
}

/* The first call: the structure read, the sizes counted, the line
 * begun; -1: the text could not be read, -2: UNKNOWN-CTE. */
static int
start(struct imap_fetch_writer *w)
{
	if (imap_fetch_wants_text(w->items) && whole_message(w)) {
		/* a text that cannot be read fails before the first octet,
		 * so the command can still say NO; what was read is the
		 * first piece of the section (held) */
		long n = 0;

		if (w->msg->rewind(w->msg->rd) < 0 ||
		    (w->msg->m->size > 0 &&
		     (n = w->msg->read(w->msg->rd, w->rbuf,
				       sizeof(w->rbuf))) <= 0))
			return -1;
		w->held = (size_t)n;
	} else if (imap_fetch_wants_text(w->items)) {
		if (structure(w) < 0)
			return -1;
		if (unknown_cte(w))
			return -2;
		if (count_sections(w) < 0)
			return -1;
	}
	add_num(w->pend, "* ", w->msg->seq);
	buf_addstr(w->pend, " FETCH (");
	w->started = true;
	return 0;
}

/* The next thing to send: pend or the literal's next piece refilled;
 * 1 when there is some, 0 when the response is whole, -1 on an error. */
static int
refill(struct imap_fetch_writer *w)
{
	if (w->lit) {
		if (w->s.emitted >= w->lit_len && w->ooff >= w->olen) {
			w->lit = false;
		} else {
			if (w->s.done)
				return -1;	/* the text got shorter */
			w->olen = w->ooff = 0;
			return sect_step(w, &w->s) < 0 ? -1 : 1;
		}
	}
	buf_reset(w->pend);
	w->pend_off = 0;
	if (w->idx < w->items->n) {
		return item_begin(w, w->idx++) < 0 ? -1 : 1;
	}
	if (!w->closed) {
		buf_addstr(w->pend, ")\r\n");
		w->closed = true;
		return 1;
	}
	w->done = true;
	return 0;
}

int
imap_fetch_write(struct imap_fetch_writer *w, struct buf *out,
		 size_t out_max)
{
	size_t lim = out_max < out->max ? out_max : out->max;
	int r;

	if (w->failed)
		return w->failed;
	if (!w->started && (r = start(w)) < 0) {
		w->failed = r;
		return r;
	}
	while (!w->done) {
		if (w->pend_off < w->pend->len) {
			if (out->len >= lim)
				return 1;
			copy_out(out, lim, w->pend->data, w->pend->len,
				 &w->pend_off);
		} else if (w->lit && w->ooff < w->olen) {
			if (out->len >= lim)
				return 1;
			copy_out(out, lim, w->obuf, w->olen, &w->ooff);
		} else if ((r = refill(w)) < 0) {
			w->failed = -1;
			return -1;
		}
	}
	return 0;
}
