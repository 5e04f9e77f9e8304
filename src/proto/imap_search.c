/*
 * imap_search - see imap_search.h.  The keys are parsed into a tree of
 * nodes (an AND node for the implicit AND of a list, OR and NOT nodes,
 * one leaf per key) held in one array of IMAP_SEARCH_KEYS_MAX nodes.
 * Evaluation walks the tree with short cuts, and within AND and OR takes
 * the keys that need no text first, so that the text of a message is read
 * only when a text key still decides the result.
 *
 * Text: read whole (at most IMAP_SEARCH_TEXT_MAX octets; the rest is not
 * read and not searched) on the first text key of a message, then kept in
 * the program's per-message state until the next message, with the views
 * made from it on demand: the header fields (unfolded, RFC 2047 words
 * decoded), the body (mime_parse: transfer encodings undone, text parts in
 * UTF-8 (text attachments keep their charset), attached messages' headers
 * and text parts, parts that are not text left out) and the Date: field's
 * day.  rewind is never needed.
 *
 * FROM, TO, CC and BCC match the field's text or its addresses as
 * ENVELOPE parses them (imap_body_address_text: "name <mailbox@host>",
 * ", " between), made once per field and message when first asked.
 *
 * Matching is substring on text case-folded by fold_cp() below (simple
 * case folding, our own table, no locale): ASCII, Latin-1 Supplement,
 * Latin Extended-A, Greek and Cyrillic.
 *
 * Dates: BEFORE, ON and SINCE take the internal date's calendar day in
 * its own zone, the one it was appended with (RFC 9051 6.4.4:
 * "disregarding time and timezone"; delivered mail is +0000); OLDER and
 * YOUNGER its moment;
 * SENTBEFORE, SENTON and SENTSINCE take the day written in the Date:
 * field, its zone not applied; a message without a readable Date: field
 * matches none of them.
 *
 * Fails: parse gives IMAP_SEARCH_BAD / LIMIT / BADCHARSET with a static
 * text; match gives -1 when the text cannot be read.
 */
#include "imap_search.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../mime/mime.h"
#include "imap_body.h"
#include "imap_date.h"

#define RANGES_MAX IMAP_SEARCH_RANGES_MAX
#define READ_CHUNK 65536
#define EMBED_MAX 3		/* levels of attached messages searched */

enum op {
	OP_AND, OP_OR, OP_NOT,
	OP_ALL, OP_FLAG, OP_UNFLAG, OP_NEW, OP_OLD, OP_RECENT,
	OP_KEYWORD, OP_UNKEYWORD, OP_LARGER, OP_SMALLER,
	OP_BEFORE, OP_ON, OP_SINCE, OP_OLDER, OP_YOUNGER,
	OP_SENTBEFORE, OP_SENTON, OP_SENTSINCE,
	OP_SEQ, OP_UID, OP_SAVED, OP_MODSEQ,
	OP_HEADER, OP_BODY, OP_TEXT,
};

struct node {
	enum op op;
	int kid, next;		/* first child, next sibling; -1: none */
	bool text;		/* this subtree needs the message text */
	bool addr;		/* OP_HEADER of FROM, TO, CC, BCC */
	unsigned flag;		/* OP_FLAG, OP_UNFLAG */
	uint64_t num;		/* sizes, modseq, seconds */
	long long day;		/* dates */
	char *name;		/* OP_HEADER: field name; keywords */
	char *str;		/* folded search string */
	size_t len;
	struct imap_seqset set;	/* OP_SEQ, OP_UID as parsed */
	struct imap_seqset res;	/* resolved against res_star */
	uint32_t res_star;
	bool resolved;
};

struct field {
	size_t name, namelen;	/* in raw */
	size_t vstart, vlen;	/* the raw value, in raw */
	char *val;		/* unfolded, decoded, folded */
	size_t len;
	char *addrs;		/* its addresses as text, folded; on demand */
	size_t alen;
};

/* What one message's text gave; reset by each imap_search_match. */
struct msgtext {
	int state;		/* 0: not read, 1: read, -1: failed */
	char *raw;
	size_t len, cap;
	bool have_fields;
	struct field *fields;
	size_t nfields;
	char *htext;		/* "name: value\n" of every field, folded */
	size_t hlen;
	bool have_body;
	char *body;		/* decoded text parts, folded */
	size_t blen;
	bool have_date;
	bool date_ok;
	long long sent_day;
};

struct imap_search {
	struct node *nodes;
	size_t n;
	int root;
	unsigned ret;
	bool esearch;
	bool modseq, saved, text;
	struct msgtext *mt;	/* per-message state (match takes s const) */
};

/* The parser's cursor over a list of arguments. */
struct cur {
	const struct imap_arg *a;
	size_t n, i;
};

struct pctx {
	struct imap_search *s;
	enum imap_search_err err;
	const char *why;
	unsigned depth;
};

static int parse_key(struct pctx *pc, struct cur *c);

/* --- case folding --------------------------------------------------- */

/* Simple case folding of one code point (Unicode CaseFolding.txt, C+S),
 * for the scripts named at the top of this file. */
static unsigned long
fold_cp(unsigned long c)
{
	if (c < 0x80)
		return c >= 'A' && c <= 'Z' ? c + 32 : c;
	if (c == 0xb5)
		return 0x3bc;
	if (c >= 0xc0 && c <= 0xde && c != 0xd7)
		return c + 32;
	if (c >= 0x100 && c <= 0x17f) {
		if (c == 0x130 || c == 0x131 || c == 0x138 || c == 0x149)
			return c;
		if (c == 0x178)
			return 0xff;
		if (c == 0x17f)
			return 's';
		if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e))
			return (c & 1) ? c + 1 : c;
		return (c & 1) ? c : c + 1;
	}
	if (c >= 0x370 && c <= 0x3ff) {
		if (c >= 0x391 && c <= 0x3ab && c != 0x3a2)
			return c + 32;
		switch (c) {
		case 0x386: return 0x3ac;
		case 0x388: case 0x389: case 0x38a: return c + 37;
		case 0x38c: return 0x3cc;
		case 0x38e: case 0x38f: return c + 63;
		case 0x3c2: return 0x3c3;
		case 0x3d0: return 0x3b2;
		case 0x3d1: return 0x3b8;
		case 0x3d5: return 0x3c6;
		case 0x3d6: return 0x3c0;
		case 0x3f0: return 0x3ba;
		case 0x3f1: return 0x3c1;
		case 0x3f5: return 0x3b5;
		default: break;
		}
		if (c >= 0x3d8 && c <= 0x3ef)
			return (c & 1) ? c : c + 1;
		return c;
	}
	if (c >= 0x400 && c <= 0x52f) {
		if (c <= 0x40f)
			return c + 80;
		if (c <= 0x42f)
			return c + 32;
		if (c <= 0x45f)
			return c;
		if (c == 0x4c0)
			return 0x4cf;
		if (c >= 0x4c1 && c <= 0x4ce)
			return (c & 1) ? c + 1 : c;
		if ((c >= 0x460 && c <= 0x481) || (c >= 0x48a && c <= 0x4bf) ||
		    (c >= 0x4d0 && c <= 0x52f))
			return (c & 1) ? c : c + 1;
	}
	return c;
}

/* The code point of the well-formed UTF-8 sequence of n octets at s. */
static unsigned long
u8_cp(const unsigned char *s, size_t n)
{
	unsigned long c = n == 2 ? s[0] & 0x1f : n == 3 ? s[0] & 0x0f :
			  s[0] & 0x07;

	for (size_t i = 1; i < n; i++)
		c = (c << 6) | (s[i] & 0x3f);
	return c;
}

/* Appends c as UTF-8 (c < 0x800 here: every folded code point is). */
static size_t
u8_put(unsigned long c, char *out)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	out[0] = (char)(0xc0 | (c >> 6));
	out[1] = (char)(0x80 | (c & 0x3f));
	return 2;
}

/*
 * in folded into a new string (never longer than in; NUL-terminated).
 * Octets that are not well-formed UTF-8 are copied as they are.
 */
static char *
fold_text(const char *in, size_t len, size_t *len_r)
{
	char *out = xmalloc(len + 1);
	size_t i = 0, o = 0;

	while (i < len) {
		const unsigned char *p = (const unsigned char *)in + i;
		size_t n = mime_u8_len(p, len - i);
		unsigned long c;

		if (n == 1 || n > 2 || (c = u8_cp(p, n)) < 0x80) {
			/* ASCII, stray octets, 3 and 4 octet characters */
			out[o++] = (char)(n == 1 && *p >= 'A' && *p <= 'Z' ?
					  *p + 32 : *p);
			for (size_t k = 1; k < n; k++)
				out[o++] = (char)p[k];
			i += n;
			continue;
		}
		o += u8_put(fold_cp(c), out + o);
		i += n;
	}
	out[o] = '\0';
	*len_r = o;
	return out;
}

static bool
contains(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	if (nlen == 0)
		return true;
	return hay != NULL && memmem(hay, hlen, needle, nlen) != NULL;
}

/* --- parsing: arguments --------------------------------------------- */

static int
fail(struct pctx *pc, enum imap_search_err err, const char *why)
{
	if (pc->err == IMAP_SEARCH_OK) {
		pc->err = err;
		pc->why = why;
	}
	return -1;
}

static bool
is_atom(const struct imap_arg *a, const char *word)
{
	return a->type == IMAP_ARG_ATOM && strcasecmp(a->str, word) == 0;
}

/* The next argument as an astring (atom, quoted, kept literal, NIL). */
static const struct imap_arg *
take_string(struct pctx *pc, struct cur *c, const char *why)
{
	const struct imap_arg *a;

	if (c->i == c->n) {
		fail(pc, IMAP_SEARCH_BAD, why);
		return NULL;
	}
	a = &c->a[c->i++];
	if (a->type == IMAP_ARG_LIST || a->str == NULL || a->literal8) {
		fail(pc, IMAP_SEARCH_BAD, why);
		return NULL;
	}
	return a;
}

static const struct imap_arg *
take_atom(struct pctx *pc, struct cur *c, const char *why)
{
	if (c->i == c->n || c->a[c->i].type != IMAP_ARG_ATOM) {
		fail(pc, IMAP_SEARCH_BAD, why);
		return NULL;
	}
	return &c->a[c->i++];
}

/* A number of at most max (digits only, no sign). */
static int
take_number(struct pctx *pc, struct cur *c, uint64_t max, uint64_t *v,
	    const char *why)
{
	const struct imap_arg *a = take_atom(pc, c, why);
	uint64_t n = 0;

	if (a == NULL)
		return -1;
	if (a->len == 0 || a->len > 20)
		return fail(pc, IMAP_SEARCH_BAD, why);
	for (size_t i = 0; i < a->len; i++) {
		unsigned d = (unsigned)(a->str[i] - '0');

		if (d > 9 || n > (max - d) / 10)
			return fail(pc, IMAP_SEARCH_BAD, why);
		n = n * 10 + d;
	}
	*v = n;
	return 0;
}

/* --- parsing: nodes ------------------------------------------------- */

static int
new_node(struct pctx *pc, enum op op)
{
	struct imap_search *s = pc->s;
	struct node *nd;

	if (s->n == IMAP_SEARCH_KEYS_MAX)
		return fail(pc, IMAP_SEARCH_LIMIT, "Too many search keys");
	nd = &s->nodes[s->n];
	memset(nd, 0, sizeof(*nd));
	nd->op = op;
	nd->kid = nd->next = -1;
	return (int)s->n++;
}

static int
leaf_flag(struct pctx *pc, enum op op, unsigned flag)
{
	int k = new_node(pc, op);

	if (k >= 0)
		pc->s->nodes[k].flag = flag;
	return k;
}

static int
leaf_string(struct pctx *pc, struct cur *c, enum op op, const char *name,
	    const char *why)
{
	const struct imap_arg *a = take_string(pc, c, why);
	struct node *nd;
	int k;

	if (a == NULL || (k = new_node(pc, op)) < 0)
		return -1;
	nd = &pc->s->nodes[k];
	nd->text = true;
	nd->str = fold_text(a->str, a->len, &nd->len);
	if (name != NULL)
		nd->name = xstrdup(name);
	pc->s->text = true;
	return k;
}

static int
leaf_header(struct pctx *pc, struct cur *c)
{
	const struct imap_arg *a = take_string(pc, c,
					       "HEADER needs a field name");
	char *name;
	int k;

	if (a == NULL)
		return -1;
	if (a->len == 0 || a->len > 1000)
		return fail(pc, IMAP_SEARCH_BAD, "Invalid HEADER field name");
	for (size_t i = 0; i < a->len; i++)	/* ftext, RFC 5322 3.6.8 */
		if (a->str[i] < 33 || a->str[i] > 126 || a->str[i] == ':')
			return fail(pc, IMAP_SEARCH_BAD,
				    "Invalid HEADER field name");
	name = xstrndup(a->str, a->len);
	k = leaf_string(pc, c, OP_HEADER, name, "HEADER needs a string");
	free(name);
	return k;
}

static int
leaf_keyword(struct pctx *pc, struct cur *c, enum op op)
{
	const struct imap_arg *a = take_atom(pc, c, "KEYWORD needs a keyword");
	int k;

	if (a == NULL)
		return -1;
	if (a->len == 0 || strpbrk(a->str, "[]\\\"(){%*") != NULL)
		return fail(pc, IMAP_SEARCH_BAD, "Invalid keyword");
	if ((k = new_node(pc, op)) >= 0)
		pc->s->nodes[k].name = xstrdup(a->str);
	return k;
}

static int
leaf_number(struct pctx *pc, struct cur *c, enum op op, uint64_t max,
	    const char *why)
{
	uint64_t v;
	int k;

	if (take_number(pc, c, max, &v, why) < 0 || (k = new_node(pc, op)) < 0)
		return -1;
	pc->s->nodes[k].num = v;
	return k;
}

static int
leaf_date(struct pctx *pc, struct cur *c, enum op op)
{
	const struct imap_arg *a = take_string(pc, c, "A date is needed");
	long long day;
	int k;

	if (a == NULL)
		return -1;
	if (imap_date_parse(a->str, a->len, &day) < 0)
		return fail(pc, IMAP_SEARCH_BAD,
			    "Invalid date (d-Mon-yyyy expected)");
	if ((k = new_node(pc, op)) < 0)
		return -1;
	pc->s->nodes[k].day = day;
	if (op == OP_SENTBEFORE || op == OP_SENTON || op == OP_SENTSINCE) {
		pc->s->nodes[k].text = true;
		pc->s->text = true;
	}
	return k;
}

/* A sequence set (or "$") in a, for OP_SEQ or OP_UID. */
static int
leaf_set(struct pctx *pc, const struct imap_arg *a, enum op op)
{
	struct imap_seqset set;
	const char *why;
	int k;

	if (a->type != IMAP_ARG_ATOM)
		return fail(pc, IMAP_SEARCH_BAD, "Invalid sequence set");
	if (a->len == 1 && a->str[0] == '$') {
		pc->s->saved = true;
		return new_node(pc, OP_SAVED);
	}
	if (imap_seqset_parse(a->str, a->len, RANGES_MAX, &set, &why) < 0) {
		if (strncmp(why, "[LIMIT] ", 8) == 0)
			return fail(pc, IMAP_SEARCH_LIMIT, why + 8);
		return fail(pc, IMAP_SEARCH_BAD, why);
	}
	if ((k = new_node(pc, op)) < 0) {
		imap_seqset_free(&set);
		return -1;
	}
	pc->s->nodes[k].set = set;
	return k;
}

/* MODSEQ [entry-name entry-type-req] mod-sequence-valzer (RFC 7162). */
static int
leaf_modseq(struct pctx *pc, struct cur *c)
{
	if (c->i < c->n && c->a[c->i].type == IMAP_ARG_QUOTED) {
		const struct imap_arg *e = &c->a[c->i++], *t;

		if (strncasecmp(e->str, "/flags/", 7) != 0 || e->len < 8)
			return fail(pc, IMAP_SEARCH_BAD,
				    "Invalid MODSEQ entry name");
		t = take_atom(pc, c, "MODSEQ needs an entry type");
		if (t == NULL)
			return -1;
		if (strcasecmp(t->str, "priv") != 0 &&
		    strcasecmp(t->str, "shared") != 0 &&
		    strcasecmp(t->str, "all") != 0)
			return fail(pc, IMAP_SEARCH_BAD,
				    "Invalid MODSEQ entry type");
	}
	pc->s->modseq = true;
	return leaf_number(pc, c, OP_MODSEQ, INT64_MAX,
			   "MODSEQ needs a mod-sequence value");
}

/* An operator needs the text if one of its keys does. */
static void
inherit_text(struct imap_search *s, int k)
{
	for (int j = s->nodes[k].kid; j >= 0; j = s->nodes[j].next)
		s->nodes[k].text |= s->nodes[j].text;
}

/* Links the keys of c (to its end) under a new AND node. */
static int
parse_and(struct pctx *pc, struct cur *c)
{
	int k = new_node(pc, OP_AND), last = -1;

	if (k < 0)
		return -1;
	if (c->i == c->n)
		return fail(pc, IMAP_SEARCH_BAD, "Missing search key");
	while (c->i < c->n) {
		int kid = parse_key(pc, c);

		if (kid < 0)
			return -1;
		if (last < 0)
			pc->s->nodes[k].kid = kid;
		else
			pc->s->nodes[last].next = kid;
		last = kid;
	}
	inherit_text(pc->s, k);
	return k;
}

/* OR, NOT and a parenthesized list: a node over the keys that follow. */
static int
parse_nested(struct pctx *pc, struct cur *c, enum op op)
{
	struct node *nd;
	int k, a, b = -1;

	if (++pc->depth > IMAP_SEARCH_DEPTH_MAX)
		return fail(pc, IMAP_SEARCH_LIMIT,
			    "Search keys nested too deep");
	if (op == OP_AND) {
		const struct imap_arg *l = &c->a[c->i++];
		struct cur sub = {l->list, l->n, 0};

		k = parse_and(pc, &sub);
		pc->depth--;
		return k;
	}
	if ((k = new_node(pc, op)) < 0)
		return -1;
	if (c->i == c->n)
		return fail(pc, IMAP_SEARCH_BAD, op == OP_OR ?
			    "OR needs two search keys" :
			    "NOT needs a search key");
	if ((a = parse_key(pc, c)) < 0)
		return -1;
	if (op == OP_OR) {
		if (c->i == c->n)
			return fail(pc, IMAP_SEARCH_BAD,
				    "OR needs two search keys");
		if ((b = parse_key(pc, c)) < 0)
			return -1;
	}
	nd = &pc->s->nodes[k];
	nd->kid = a;
	pc->s->nodes[a].next = b;
	inherit_text(pc->s, k);
	pc->depth--;
	return k;
}

struct keyword {
	const char *name;
	enum op op;
	unsigned flag;
};

/* The keys without arguments. */
static const struct keyword BARE[] = {
	{"ALL", OP_ALL, 0},
	{"ANSWERED", OP_FLAG, IMAP_F_ANSWERED},
	{"DELETED", OP_FLAG, IMAP_F_DELETED},
	{"DRAFT", OP_FLAG, IMAP_F_DRAFT},
	{"FLAGGED", OP_FLAG, IMAP_F_FLAGGED},
	{"SEEN", OP_FLAG, IMAP_F_SEEN},
	{"UNANSWERED", OP_UNFLAG, IMAP_F_ANSWERED},
	{"UNDELETED", OP_UNFLAG, IMAP_F_DELETED},
	{"UNDRAFT", OP_UNFLAG, IMAP_F_DRAFT},
	{"UNFLAGGED", OP_UNFLAG, IMAP_F_FLAGGED},
	{"UNSEEN", OP_UNFLAG, IMAP_F_SEEN},
	{"NEW", OP_NEW, 0},
	{"OLD", OP_OLD, 0},
	{"RECENT", OP_RECENT, 0},
};

/* The keys taking a string: the header field they search, if one, and
 * whether it holds addresses. */
static const struct {
	const char *name;
	enum op op;
	const char *field;
	bool addr;
} STRINGS[] = {
	{"BCC", OP_HEADER, "Bcc", true},
	{"CC", OP_HEADER, "Cc", true},
	{"FROM", OP_HEADER, "From", true},
	{"SUBJECT", OP_HEADER, "Subject", false},
	{"TO", OP_HEADER, "To", true},
	{"BODY", OP_BODY, NULL, false},
	{"TEXT", OP_TEXT, NULL, false},
};

static const struct keyword DATES[] = {
	{"BEFORE", OP_BEFORE, 0},
	{"ON", OP_ON, 0},
	{"SINCE", OP_SINCE, 0},
	{"SENTBEFORE", OP_SENTBEFORE, 0},
	{"SENTON", OP_SENTON, 0},
	{"SENTSINCE", OP_SENTSINCE, 0},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* A key named by the atom w (its arguments follow in c); -2: no such. */
static int
parse_named(struct pctx *pc, struct cur *c, const char *w)
{
	for (size_t i = 0; i < NELEM(BARE); i++)
		if (strcasecmp(w, BARE[i].name) == 0)
			return leaf_flag(pc, BARE[i].op, BARE[i].flag);
	for (size_t i = 0; i < NELEM(STRINGS); i++) {
		int k;

		if (strcasecmp(w, STRINGS[i].name) != 0)
			continue;
		k = leaf_string(pc, c, STRINGS[i].op, STRINGS[i].field,
				"This search key needs a string");
		if (k >= 0)
			pc->s->nodes[k].addr = STRINGS[i].addr;
		return k;
	}
	for (size_t i = 0; i < NELEM(DATES); i++)
		if (strcasecmp(w, DATES[i].name) == 0)
			return leaf_date(pc, c, DATES[i].op);
	if (strcasecmp(w, "HEADER") == 0)
		return leaf_header(pc, c);
	if (strcasecmp(w, "KEYWORD") == 0)
		return leaf_keyword(pc, c, OP_KEYWORD);
	if (strcasecmp(w, "UNKEYWORD") == 0)
		return leaf_keyword(pc, c, OP_UNKEYWORD);
	if (strcasecmp(w, "LARGER") == 0)
		return leaf_number(pc, c, OP_LARGER, INT64_MAX,
				   "LARGER needs a number");
	if (strcasecmp(w, "SMALLER") == 0)
		return leaf_number(pc, c, OP_SMALLER, INT64_MAX,
				   "SMALLER needs a number");
	if (strcasecmp(w, "OLDER") == 0)
		return leaf_number(pc, c, OP_OLDER, INT32_MAX,
				   "OLDER needs a number of seconds");
	if (strcasecmp(w, "YOUNGER") == 0)
		return leaf_number(pc, c, OP_YOUNGER, INT32_MAX,
				   "YOUNGER needs a number of seconds");
	if (strcasecmp(w, "MODSEQ") == 0)
		return leaf_modseq(pc, c);
	if (strcasecmp(w, "UID") == 0) {
		if (c->i == c->n)
			return fail(pc, IMAP_SEARCH_BAD, "UID needs a set");
		return leaf_set(pc, &c->a[c->i++], OP_UID);
	}
	if (strcasecmp(w, "OR") == 0)
		return parse_nested(pc, c, OP_OR);
	if (strcasecmp(w, "NOT") == 0)
		return parse_nested(pc, c, OP_NOT);
	return -2;
}

static int
parse_key(struct pctx *pc, struct cur *c)
{
	const struct imap_arg *a = &c->a[c->i];
	int k;

	if (a->type == IMAP_ARG_LIST)
		return parse_nested(pc, c, OP_AND);
	if (a->type != IMAP_ARG_ATOM)
		return fail(pc, IMAP_SEARCH_BAD, "Invalid search key");
	if ((a->str[0] >= '0' && a->str[0] <= '9') || a->str[0] == '*' ||
	    a->str[0] == '$') {
		c->i++;
		return leaf_set(pc, a, OP_SEQ);
	}
	c->i++;
	k = parse_named(pc, c, a->str);
	if (k == -2)
		return fail(pc, IMAP_SEARCH_BAD, "Unknown search key");
	return k;
}

/* RETURN (opts): the RFC 4731 / RFC 5182 result options. */
static int
parse_return(struct pctx *pc, struct cur *c)
{
	static const struct { const char *name; unsigned bit; } OPTS[] = {
		{"MIN", IMAP_SEARCH_RET_MIN}, {"MAX", IMAP_SEARCH_RET_MAX},
		{"ALL", IMAP_SEARCH_RET_ALL}, {"COUNT", IMAP_SEARCH_RET_COUNT},
		{"SAVE", IMAP_SEARCH_RET_SAVE},
	};
	const struct imap_arg *l;

	if (c->i == c->n || c->a[c->i].type != IMAP_ARG_LIST)
		return fail(pc, IMAP_SEARCH_BAD, "RETURN needs a list");
	l = &c->a[c->i++];
	for (size_t i = 0; i < l->n; i++) {
		size_t j;

		for (j = 0; j < NELEM(OPTS); j++)
			if (is_atom(&l->list[i], OPTS[j].name))
				break;
		if (j == NELEM(OPTS))
			return fail(pc, IMAP_SEARCH_BAD,
				    "Unknown RETURN option");
		pc->s->ret |= OPTS[j].bit;
	}
	if (pc->s->ret == 0)
		pc->s->ret = IMAP_SEARCH_RET_ALL;
	pc->s->esearch = true;
	return 0;
}

static int
parse_charset(struct pctx *pc, struct cur *c)
{
	const struct imap_arg *a = take_string(pc, c, "CHARSET needs a name");

	if (a == NULL)
		return -1;
	if (strcasecmp(a->str, "UTF-8") != 0 &&
	    strcasecmp(a->str, "US-ASCII") != 0)
		return fail(pc, IMAP_SEARCH_BADCHARSET,
			    "This charset is not supported");
	return 0;
}

static int
parse_all(struct pctx *pc, struct cur *c, bool rev2)
{
	struct imap_search *s = pc->s;

	if (c->i < c->n && is_atom(&c->a[c->i], "RETURN")) {
		c->i++;
		if (parse_return(pc, c) < 0)
			return -1;
	}
	if (c->i < c->n && is_atom(&c->a[c->i], "CHARSET")) {
		c->i++;
		if (parse_charset(pc, c) < 0)
			return -1;
	}
	if (!s->esearch && rev2) {
		s->esearch = true;
		s->ret = IMAP_SEARCH_RET_ALL;
	}
	if ((s->root = parse_and(pc, c)) < 0)
		return -1;
	return 0;
}

bool
imap_search_has_charset(const struct imap_arg *args, size_t nargs)
{
	size_t i = 0;

	if (i < nargs && is_atom(&args[i], "RETURN"))
		i += 2;
	return i < nargs && is_atom(&args[i], "CHARSET");
}

enum imap_search_err
imap_search_parse(const struct imap_arg *args, size_t nargs, bool rev2,
		  struct imap_search **s_r, const char **why_r)
{
	struct imap_search *s = xcalloc(1, sizeof(*s));
	struct pctx pc = {s, IMAP_SEARCH_OK, NULL, 0};
	struct cur c = {args, nargs, 0};

	s->nodes = xcalloc(IMAP_SEARCH_KEYS_MAX, sizeof(*s->nodes));
	s->mt = xcalloc(1, sizeof(*s->mt));
	if (parse_all(&pc, &c, rev2) < 0) {
		imap_search_free(&s);
		*s_r = NULL;
		*why_r = pc.why;
		return pc.err;
	}
	*s_r = s;
	*why_r = NULL;
	return IMAP_SEARCH_OK;
}

/* --- the per-message text ------------------------------------------- */

static void
msgtext_clear(struct msgtext *mt, bool all)
{
	for (size_t i = 0; i < mt->nfields; i++) {
		free(mt->fields[i].val);
		free(mt->fields[i].addrs);
	}
	free(mt->fields);
	free(mt->htext);
	free(mt->body);
	if (all) {
		free(mt->raw);
		memset(mt, 0, sizeof(*mt));
		return;
	}
	mt->fields = NULL;
	mt->nfields = 0;
	mt->htext = mt->body = NULL;
	mt->hlen = mt->blen = 0;
	mt->have_fields = mt->have_body = mt->have_date = false;
	mt->state = 0;
	mt->len = 0;
}

void
imap_search_free(struct imap_search **sp)
{
	struct imap_search *s = *sp;

	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->nodes[i].name);
		free(s->nodes[i].str);
		imap_seqset_free(&s->nodes[i].set);
		imap_seqset_free(&s->nodes[i].res);
	}
	free(s->nodes);
	msgtext_clear(s->mt, true);
	free(s->mt);
	free(s);
	*sp = NULL;
}

/* Reads the message once (at most IMAP_SEARCH_TEXT_MAX octets). */
static int
text_read(struct msgtext *mt, const struct imap_search_msg *msg)
{
	if (mt->state != 0)
		return mt->state;
	mt->state = -1;
	if (msg->read == NULL)
		return -1;
	mt->len = 0;
	while (mt->len < IMAP_SEARCH_TEXT_MAX) {
		size_t want = IMAP_SEARCH_TEXT_MAX - mt->len;
		long r;

		if (want > READ_CHUNK)
			want = READ_CHUNK;
		if (mt->cap - mt->len < want) {
			/* doubling, up to the bound */
			mt->cap = mt->len + want > 2 * mt->cap ?
				  mt->len + want : 2 * mt->cap;
			if (mt->cap > IMAP_SEARCH_TEXT_MAX)
				mt->cap = IMAP_SEARCH_TEXT_MAX;
			mt->raw = xrealloc(mt->raw, mt->cap + 1);
		}
		r = msg->read(msg->rd, mt->raw + mt->len, want);
		if (r < 0 || (size_t)r > want)
			return -1;
		if (r == 0)
			break;
		mt->len += (size_t)r;
	}
	if (mt->raw == NULL)
		mt->raw = xmalloc(1);
	mt->raw[mt->len] = '\0';
	mt->state = 1;
	return 1;
}

/* The end of the header section: after the first empty line. */
static size_t
header_end(const char *t, size_t len)
{
	size_t i = 0;

	while (i < len) {
		const char *nl = memchr(t + i, '\n', len - i);
		size_t e = nl != NULL ? (size_t)(nl - t) : len;

		if (e == i || (e == i + 1 && t[i] == '\r'))
			return nl != NULL ? e + 1 : len;
		i = nl != NULL ? e + 1 : len;
	}
	return len;
}

/* One field's value (the octets [v, e) with its folds) unfolded,
 * trimmed, RFC 2047 decoded and case-folded into f. */
static void
field_value(struct field *f, const char *v, size_t vlen)
{
	struct buf *u = buf_new(vlen + 1), *d;
	size_t s = 0, e;

	for (size_t i = 0; i < vlen; i++)
		if (v[i] != '\r' && v[i] != '\n')
			buf_addc(u, v[i]);
	e = u->len;
	while (s < e && (u->data[s] == ' ' || u->data[s] == '\t'))
		s++;
	while (e > s && (u->data[e - 1] == ' ' || u->data[e - 1] == '\t'))
		e--;
	d = buf_new(4 * (e - s) + 64);
	mime_words_decode(u->data ? u->data + s : "", e - s, d);
	f->val = fold_text(d->data ? d->data : "", d->len, &f->len);
	buf_free(&u);
	buf_free(&d);
}

/* The header fields of the message (every occurrence, in order). */
static void
text_fields(struct msgtext *mt)
{
	size_t hend = header_end(mt->raw, mt->len), i = 0, cap = 0;
	struct buf *h = buf_new(SIZE_MAX);

	mt->have_fields = true;
	while (i < hend) {
		const char *p = mt->raw + i, *colon;
		size_t e = i, namelen;
		struct field *f;

		/* the field runs to a line that starts with no white space */
		do {
			const char *nl = memchr(mt->raw + e, '\n', hend - e);

			e = nl != NULL ? (size_t)(nl - mt->raw) + 1 : hend;
		} while (e < hend && (mt->raw[e] == ' ' || mt->raw[e] == '\t'));
		colon = memchr(p, ':', e - i);
		if (colon == NULL || colon == p) {
			i = e;
			continue;
		}
		namelen = (size_t)(colon - p);
		while (namelen > 0 && (p[namelen - 1] == ' ' ||
				       p[namelen - 1] == '\t'))
			namelen--;
		if (mt->nfields == cap) {
			cap = cap ? cap * 2 : 16;
			mt->fields = xrealloc(mt->fields,
					      cap * sizeof(*mt->fields));
		}
		f = &mt->fields[mt->nfields++];
		memset(f, 0, sizeof(*f));
		f->name = i;
		f->namelen = namelen;
		f->vstart = (size_t)(colon + 1 - mt->raw);
		f->vlen = (size_t)(mt->raw + e - colon - 1);
		field_value(f, colon + 1, (size_t)(mt->raw + e - colon - 1));
		buf_add(h, p, namelen);
		buf_add(h, ": ", 2);
		buf_add(h, f->val, f->len);
		buf_addc(h, '\n');
		i = e;
	}
	mt->htext = fold_text(h->data ? h->data : "", h->len, &mt->hlen);
	buf_free(&h);
}

/*
 * The text parts of the entity text[0..len) decoded, into b; an attached
 * message (message/rfc822) gives its header section (RFC 2047 words
 * decoded) and its own text parts, to EMBED_MAX levels.
 */
static void
body_parts(const char *text, size_t len, int depth, struct buf *b)
{
	struct mime_doc doc;

	mime_parse(text, len, &doc);
	for (size_t i = 0; i < doc.nparts; i++) {
		const struct mime_part *pt = &doc.parts[i];

		if (strcmp(pt->type, "message/rfc822") == 0 &&
		    depth < EMBED_MAX) {
			mime_words_decode(pt->data, header_end(pt->data,
							       pt->len), b);
			body_parts(pt->data, pt->len, depth + 1, b);
			continue;
		}
		if (strncmp(pt->type, "text/", 5) != 0)
			continue;
		buf_add(b, pt->data, pt->len);
		buf_addc(b, '\n');
	}
	mime_doc_free(&doc);
}

/* The decoded text parts of the body, folded. */
static void
text_body(struct msgtext *mt)
{
	struct buf *b = buf_new(SIZE_MAX);

	mt->have_body = true;
	body_parts(mt->raw, mt->len, 0, b);
	mt->body = fold_text(b->data ? b->data : "", b->len, &mt->blen);
	buf_free(&b);
}

/* --- the Date: field (RFC 5322 3.3) --------------------------------- */

static void
skip_cfws(const char **p, const char *end)
{
	int depth = 0;

	for (; *p < end; (*p)++) {
		if (**p == '(' && depth < 8)
			depth++;
		else if (**p == ')' && depth > 0)
			depth--;
		else if (depth == 0 && **p != ' ' && **p != '\t' &&
			 **p != '\r' && **p != '\n')
			return;
	}
}

/* Up to max digits at *p; -1 if none. */
static long
take_digits(const char **p, const char *end, int max, int *n_r)
{
	long v = 0;
	int n = 0;

	while (*p < end && n < max && **p >= '0' && **p <= '9') {
		v = v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	*n_r = n;
	return n > 0 ? v : -1;
}

/* "[Www,] d Mon yyyy ...": the day as days since 1970; -1 if none. */
static int
sent_day(const char *v, size_t len, long long *day_r)
{
	static const char MON[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	static const unsigned MDAYS[12] = {31, 29, 31, 30, 31, 30,
					   31, 31, 30, 31, 30, 31};
	const char *p = v, *end = v + (len > 200 ? 200 : len);
	const char *comma = memchr(v, ',', (size_t)(end - v));
	long d, y;
	unsigned m;
	int n;

	if (comma != NULL && comma - v < 16)
		p = comma + 1;
	skip_cfws(&p, end);
	if ((d = take_digits(&p, end, 2, &n)) < 1 || d > 31)
		return -1;
	skip_cfws(&p, end);
	if (end - p < 3)
		return -1;
	for (m = 0; m < 12; m++)
		if (strncasecmp(p, MON + 3 * m, 3) == 0)
			break;
	if (m == 12)
		return -1;
	p += 3;
	skip_cfws(&p, end);
	if ((y = take_digits(&p, end, 4, &n)) < 0 || n < 2)
		return -1;
	if (n == 2)
		y += y < 50 ? 2000 : 1900;	/* obs-year, RFC 5322 4.3 */
	else if (n == 3)
		y += 1900;
	if ((unsigned)d > MDAYS[m] || (m == 1 && d == 29 &&
	    !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)))
		return -1;
	*day_r = imap_days_from_civil(y, m + 1, (unsigned)d);
	return 0;
}

static void
text_date(struct msgtext *mt)
{
	size_t hend = header_end(mt->raw, mt->len);
	struct buf *v = buf_new(MIME_HEADER_MAX);

	mt->have_date = true;
	mt->date_ok = mime_header_get(mt->raw, hend, "Date", v) &&
		      sent_day(v->data ? v->data : "", v->len,
			       &mt->sent_day) == 0;
	buf_free(&v);
}

/* --- evaluation ----------------------------------------------------- */

struct ectx {
	const struct imap_search *s;
	const struct imap_search_box *box;
	const struct imap_search_msg *msg;
};

static int eval(const struct ectx *e, int k);

static bool
has_keyword(const char *list, const char *kw)
{
	size_t n = strlen(kw);

	while (list != NULL && *list != '\0') {
		size_t w = strcspn(list, " ");

		if (w == n && strncasecmp(list, kw, n) == 0)
			return true;
		list += w;
		list += strspn(list, " ");
	}
	return false;
}

/* Seconds from t to now, saturated. */
static int64_t
age(int64_t now, int64_t t)
{
	int64_t d;

	if (__builtin_sub_overflow(now, t, &d))
		return now > t ? INT64_MAX : INT64_MIN;
	return d;
}

static bool
in_set(struct node *nd, uint32_t star, uint32_t v)
{
	if (!nd->resolved || nd->res_star != star) {
		imap_seqset_free(&nd->res);
		nd->res.n = nd->set.n;
		nd->res.r = xmalloc((nd->set.n ? nd->set.n : 1) *
				    sizeof(*nd->res.r));
		memcpy(nd->res.r, nd->set.r, nd->set.n * sizeof(*nd->res.r));
		imap_seqset_resolve(&nd->res, star);
		nd->res_star = star;
		nd->resolved = true;
	}
	return imap_seqset_has(&nd->res, v);
}

/*
 * The addresses of an address field as ENVELOPE parses them, as text
 * ("name <mailbox@host>, ..."; comments, quoting and folds gone), RFC
 * 2047 words decoded, folded: what FROM, TO, CC and BCC search besides
 * the field's text.
 */
static void
field_addresses(const struct msgtext *mt, struct field *f)
{
	struct buf *u = buf_new(f->vlen + 1), *t, *d;

	for (size_t i = 0; i < f->vlen; i++) {
		char c = mt->raw[f->vstart + i];

		if (c != '\r' && c != '\n')
			buf_addc(u, c);
	}
	t = buf_new(SIZE_MAX);
	imap_body_address_text(t, u->data ? u->data : "");
	d = buf_new(SIZE_MAX);
	mime_words_decode(t->data ? t->data : "", t->len, d);
	f->addrs = fold_text(d->data ? d->data : "", d->len, &f->alen);
	buf_free(&u);
	buf_free(&t);
	buf_free(&d);
}

/* HEADER, SUBJECT: the field's text; FROM, TO, CC, BCC (RFC 9051
 * 6.4.4: "the envelope structure's FROM field") its addresses too. */
static int
eval_header(const struct ectx *e, const struct node *nd)
{
	struct msgtext *mt = e->s->mt;
	size_t nl = strlen(nd->name);

	if (!mt->have_fields)
		text_fields(mt);
	for (size_t i = 0; i < mt->nfields; i++) {
		struct field *f = &mt->fields[i];

		if (f->namelen != nl ||
		    strncasecmp(mt->raw + f->name, nd->name, nl) != 0)
			continue;
		if (contains(f->val, f->len, nd->str, nd->len))
			return 1;
		if (!nd->addr)
			continue;
		if (f->addrs == NULL)
			field_addresses(mt, f);
		if (contains(f->addrs, f->alen, nd->str, nd->len))
			return 1;
	}
	return 0;
}

/* The keys that read the message text. */
static int
eval_text(const struct ectx *e, const struct node *nd)
{
	struct msgtext *mt = e->s->mt;

	if (text_read(mt, e->msg) < 0)
		return -1;
	switch (nd->op) {
	case OP_HEADER:
		return eval_header(e, nd);
	case OP_TEXT:
		if (!mt->have_fields)
			text_fields(mt);
		if (contains(mt->htext, mt->hlen, nd->str, nd->len))
			return 1;
		/* FALLTHROUGH */
	case OP_BODY:
		if (!mt->have_body)
			text_body(mt);
		return contains(mt->body, mt->blen, nd->str, nd->len);
	default:
		break;
	}
	if (!mt->have_date)
		text_date(mt);
	if (!mt->date_ok)
		return 0;
	if (nd->op == OP_SENTBEFORE)
		return mt->sent_day < nd->day;
	if (nd->op == OP_SENTON)
		return mt->sent_day == nd->day;
	return mt->sent_day >= nd->day;
}

/* AND (all) or OR (any) of the keys under nd, the ones without text
 * first. */
static int
eval_list(const struct ectx *e, const struct node *nd, bool any)
{
	const struct node *nodes = e->s->nodes;
	int err = 0;

	for (int pass = 0; pass < 2; pass++) {
		for (int j = nd->kid; j >= 0; j = nodes[j].next) {
			int r;

			if (nodes[j].text != (pass == 1))
				continue;
			r = eval(e, j);
			if (r < 0)
				err = -1;
			else if (r == (any ? 1 : 0))
				return r;
		}
	}
	return err < 0 ? -1 : any ? 0 : 1;
}

static int
eval(const struct ectx *e, int k)
{
	struct node *nd = &e->s->nodes[k];
	const struct imap_msg *m = e->msg->m;
	const struct imap_search_box *box = e->box;
	int r;

	switch (nd->op) {
	case OP_AND:
		return eval_list(e, nd, false);
	case OP_OR:
		return eval_list(e, nd, true);
	case OP_NOT:
		r = eval(e, nd->kid);
		return r < 0 ? -1 : !r;
	case OP_ALL:
		return 1;
	case OP_FLAG:
		return (m->flags & nd->flag) != 0;
	case OP_UNFLAG:
		return (m->flags & nd->flag) == 0;
	case OP_NEW:
		return e->msg->recent && !(m->flags & IMAP_F_SEEN);
	case OP_OLD:
		return !e->msg->recent;
	case OP_RECENT:
		return e->msg->recent;
	case OP_KEYWORD:
		return has_keyword(m->keywords, nd->name);
	case OP_UNKEYWORD:
		return !has_keyword(m->keywords, nd->name);
	case OP_LARGER:
		return m->size > nd->num;
	case OP_SMALLER:
		return m->size < nd->num;
	case OP_BEFORE:
		return imap_day_in_zone(m->date, m->zone) < nd->day;
	case OP_ON:
		return imap_day_in_zone(m->date, m->zone) == nd->day;
	case OP_SINCE:
		return imap_day_in_zone(m->date, m->zone) >= nd->day;
	case OP_OLDER:
		return age(box->now, m->date) > (int64_t)nd->num;
	case OP_YOUNGER:
		return age(box->now, m->date) <= (int64_t)nd->num;
	case OP_SEQ:
		return in_set(nd, box->count, e->msg->seq);
	case OP_UID:
		return in_set(nd, box->last_uid, m->uid);
	case OP_SAVED:
		return box->saved != NULL && imap_seqset_has(box->saved,
							     m->uid);
	case OP_MODSEQ:
		return m->modseq >= nd->num;
	default:
		return eval_text(e, nd);
	}
}

int
imap_search_match(const struct imap_search *s,
		  const struct imap_search_box *box,
		  const struct imap_search_msg *msg)
{
	struct ectx e = {s, box, msg};

	msgtext_clear(s->mt, false);
	return eval(&e, s->root);
}

bool
imap_search_wants_text(const struct imap_search *s)
{
	return s->text;
}

bool
imap_search_uses_saved(const struct imap_search *s)
{
	return s->saved;
}

bool
imap_search_wants_modseq(const struct imap_search *s)
{
	return s->modseq;
}

unsigned
imap_search_return(const struct imap_search *s)
{
	return s->ret;
}

/* --- the response --------------------------------------------------- */

/*
 * The MODSEQ a response gives (RFC 4731 3.2, RFC 7162 3.1.5): with MIN
 * and/or MAX but neither ALL nor COUNT, the mod-sequence of the message
 * MIN or MAX returns (the higher of the two with both); else the highest
 * of all the matches.
 */
static uint64_t
result_modseq(const struct imap_search *s, const uint64_t *modseqs,
	      size_t n)
{
	const unsigned ends = IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_MAX;
	const unsigned all = IMAP_SEARCH_RET_ALL | IMAP_SEARCH_RET_COUNT;
	uint64_t m = 0;

	if (s->esearch && (s->ret & ends) && !(s->ret & all)) {
		if (s->ret & IMAP_SEARCH_RET_MIN)
			m = modseqs[0];
		if ((s->ret & IMAP_SEARCH_RET_MAX) && modseqs[n - 1] > m)
			m = modseqs[n - 1];
		return m;
	}
	for (size_t i = 0; i < n; i++)
		if (modseqs[i] > m)
			m = modseqs[i];
	return m;
}

static void
write_esearch(const struct imap_search *s, const char *tag, bool uid,
	      const uint32_t *nums, size_t n, const uint64_t *modseqs,
	      struct buf *b)
{
	buf_addstr(b, "* ESEARCH (TAG \"");
	for (const char *t = tag; *t != '\0'; t++) {
		if (*t == '"' || *t == '\\')
			buf_addc(b, '\\');
		buf_addc(b, *t);
	}
	buf_addstr(b, "\")");
	if (uid)
		buf_addstr(b, " UID");
	if ((s->ret & IMAP_SEARCH_RET_MIN) && n > 0)
		buf_printf(b, " MIN %u", nums[0]);
	if ((s->ret & IMAP_SEARCH_RET_MAX) && n > 0)
		buf_printf(b, " MAX %u", nums[n - 1]);
	if (s->ret & IMAP_SEARCH_RET_COUNT)
		buf_printf(b, " COUNT %zu", n);
	if ((s->ret & IMAP_SEARCH_RET_ALL) && n > 0) {
		buf_addstr(b, " ALL ");
		imap_seqset_write(b, nums, n);
	}
	if (s->modseq && n > 0)
		buf_printf(b, " MODSEQ %llu", (unsigned long long)
			   result_modseq(s, modseqs, n));
}

void
imap_search_write(const struct imap_search *s, const char *tag, bool uid,
		  const uint32_t *nums, size_t n, const uint64_t *modseqs,
		  struct buf *out)
{
	struct buf *b;

	if (s->esearch && s->ret == IMAP_SEARCH_RET_SAVE)
		return;	/* RFC 5182 2.4: SAVE alone answers nothing */
	b = buf_new(SIZE_MAX);
	if (s->esearch) {
		write_esearch(s, tag, uid, nums, n, modseqs, b);
	} else {
		buf_addstr(b, "* SEARCH");
		for (size_t i = 0; i < n; i++)
			buf_printf(b, " %u", nums[i]);
		if (s->modseq && n > 0)
			buf_printf(b, " (MODSEQ %llu)", (unsigned long long)
				   result_modseq(s, modseqs, n));
	}
	buf_add(b, "\r\n", 2);
	buf_add(out, b->data, b->len);
	buf_free(&b);
}
