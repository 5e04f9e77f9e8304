/*
 * proto/imap_body - ENVELOPE, BODY and BODYSTRUCTURE; see imap_body.h.
 *
 * The address parser takes what RFC 5322 3.4 allows and what the wild
 * sends besides: a name with no address, an address with no domain or
 * no mailbox ("MISSING_DOMAIN", "MISSING_MAILBOX", as Dovecot writes
 * them), a comment after an address as its name when there is no
 * phrase, stray specials skipped.  It always ends: every step reads at
 * least one octet.  Where RFC 9051 leaves a choice, the output is
 * Dovecot's: a text part's charset us-ascii when none is given, a
 * language always a list.
 */
#include "imap_body.h"

#include <inttypes.h>
#include <string.h>
#include <strings.h>

/* What stands in for a missing part of an address (Dovecot's words). */
#define MISSING_MAILBOX "MISSING_MAILBOX"
#define MISSING_DOMAIN "MISSING_DOMAIN"

/* The empty part a multipart with no parts is shown with (RFC 9051's
 * grammar wants one; Dovecot writes the same). */
#define EMPTY_BODY "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") " \
		   "NIL NIL \"7BIT\" 0 0)"
#define EMPTY_BODY_EXT "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") " \
		       "NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL)"

/* --- strings -------------------------------------------------------------- */

static bool
quotable(const char *s, size_t len)
{
	if (len > IMAP_QUOTED_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\0' || c == '\r' || c == '\n' || c >= 0x80)
			return false;
	}
	return true;
}

void
imap_body_string(struct buf *out, const char *s, size_t len)
{
	if (quotable(s, len)) {
		buf_addc(out, '"');
		for (size_t i = 0; i < len; i++) {
			if (s[i] == '"' || s[i] == '\\')
				buf_addc(out, '\\');
			buf_addc(out, s[i]);
		}
		buf_addc(out, '"');
		return;
	}
	buf_printf(out, "{%zu}\r\n", len);
	for (size_t i = 0; i < len; i++)
		buf_addc(out, s[i] == '\0' ? (char)0x80 : s[i]);
}

void
imap_body_nstring(struct buf *out, const char *s)
{
	if (s == NULL)
		buf_addstr(out, "NIL");
	else
		imap_body_string(out, s, strlen(s));
}

static bool
is_atom_char(char c)
{
	unsigned char u = (unsigned char)c;

	return u > 0x20 && u < 0x7f && strchr("(){ %*\"\\]", c) == NULL;
}

void
imap_body_astring(struct buf *out, const char *s, size_t len)
{
	bool atom = len > 0;

	for (size_t i = 0; i < len && atom; i++)
		atom = is_atom_char(s[i]);
	if (atom && !(len == 3 && strncasecmp(s, "NIL", 3) == 0))
		buf_add(out, s, len);
	else
		imap_body_string(out, s, len);
}

/* --- addresses (RFC 5322 3.4) --------------------------------------------- */

struct ap {
	const char *s;
	size_t len, i;
	struct buf *comment;	/* the last comment skipped */
	unsigned count;		/* addresses written */
	bool text;		/* plain text (SEARCH), not IMAP data */
	bool sep;		/* text: ", " before the next address */
};

static bool
ap_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
ap_atext(char c)
{
	return !ap_wsp(c) && c != '\0' && strchr("()<>[]:;@\\,\"", c) == NULL;
}

/* Skips white space and comments; the last comment's text kept. */
static void
ap_cfws(struct ap *a)
{
	while (a->i < a->len) {
		unsigned depth = 0;

		if (ap_wsp(a->s[a->i])) {
			a->i++;
			continue;
		}
		if (a->s[a->i] != '(')
			return;
		buf_reset(a->comment);
		do {
			char c = a->s[a->i++];

			if (c == '(' && depth++ == 0)
				continue;
			if (c == ')' && --depth == 0)
				break;
			if (c == '\\' && a->i < a->len)
				c = a->s[a->i++];
			buf_addc(a->comment, c);
		} while (a->i < a->len && depth > 0);
	}
}

/*
 * A phrase or local part: words (atoms with dots, quoted strings) and the
 * white space between them.  name gets the words unquoted, one space
 * apart; local the words as they are, with nothing between.
 */
static void
ap_words(struct ap *a, struct buf *name, struct buf *local)
{
	for (;;) {
		ap_cfws(a);
		if (a->i >= a->len)
			return;
		if (a->s[a->i] == '"') {
			size_t st = a->i++;

			if (name->len > 0)
				buf_addc(name, ' ');
			while (a->i < a->len && a->s[a->i] != '"') {
				if (a->s[a->i] == '\\' && a->i + 1 < a->len)
					a->i++;
				buf_addc(name, a->s[a->i++]);
			}
			if (a->i < a->len)
				a->i++;
			buf_add(local, a->s + st, a->i - st);
		} else if (ap_atext(a->s[a->i])) {
			size_t st = a->i;

			while (a->i < a->len && ap_atext(a->s[a->i]))
				a->i++;
			if (name->len > 0)
				buf_addc(name, ' ');
			buf_add(name, a->s + st, a->i - st);
			buf_add(local, a->s + st, a->i - st);
		} else {
			return;
		}
	}
}

/* A domain: dot-atoms and domain literals, white space dropped. */
static void
ap_domain(struct ap *a, struct buf *dom)
{
	for (;;) {
		ap_cfws(a);
		if (a->i >= a->len)
			return;
		if (a->s[a->i] == '[') {
			while (a->i < a->len && a->s[a->i] != ']')
				buf_addc(dom, a->s[a->i++]);
			if (a->i < a->len)
				buf_addc(dom, a->s[a->i++]);
		} else if (ap_atext(a->s[a->i])) {
			while (a->i < a->len && ap_atext(a->s[a->i]))
				buf_addc(dom, a->s[a->i++]);
		} else {
			return;
		}
	}
}

static void
ap_str(struct buf *out, const struct buf *b, bool nil_if_empty)
{
	if (b->len == 0 && nil_if_empty)
		buf_addstr(out, "NIL");
	else
		imap_body_string(out, b->data ? b->data : "", b->len);
}

/* Text: "name <mbox@host>", or "mbox@host" without a name; what is
 * missing left out. */
static void
ap_write_text(struct ap *a, struct buf *out, const struct buf *name,
	      const struct buf *mbox, const struct buf *host)
{
	if (a->sep)
		buf_addstr(out, ", ");
	if (name->len > 0) {
		buf_add(out, name->data, name->len);
		buf_addstr(out, " <");
	}
	buf_add(out, mbox->data ? mbox->data : "", mbox->len);
	if (host->len > 0) {
		buf_addc(out, '@');
		buf_add(out, host->data, host->len);
	}
	if (name->len > 0)
		buf_addc(out, '>');
	a->sep = true;
	a->count++;
}

static void
ap_write(struct ap *a, struct buf *out, const struct buf *name,
	 const struct buf *adl, const struct buf *mbox, const struct buf *host)
{
	if (a->text) {
		ap_write_text(a, out, name, mbox, host);
		return;
	}
	buf_addc(out, '(');
	ap_str(out, name, true);
	buf_addc(out, ' ');
	ap_str(out, adl, true);
	buf_addc(out, ' ');
	if (mbox->len == 0)
		buf_addstr(out, "\"" MISSING_MAILBOX "\"");
	else
		ap_str(out, mbox, false);
	buf_addc(out, ' ');
	if (host->len == 0)
		buf_addstr(out, "\"" MISSING_DOMAIN "\"");
	else
		ap_str(out, host, false);
	buf_addc(out, ')');
	a->count++;
}

/* "<" [route ":"] addr-spec ">" after a phrase in name. */
static void
ap_angle(struct ap *a, struct buf *out, struct buf *name)
{
	struct buf *adl = buf_new(a->len + 1), *mbox = buf_new(a->len + 1);
	struct buf *host = buf_new(a->len + 1), *junk = buf_new(a->len + 1);

	a->i++;
	ap_cfws(a);
	if (a->i < a->len && a->s[a->i] == '@') {
		while (a->i < a->len && a->s[a->i] != ':' &&
		       a->s[a->i] != '>') {
			if (!ap_wsp(a->s[a->i]))
				buf_addc(adl, a->s[a->i]);
			a->i++;
		}
		if (a->i < a->len && a->s[a->i] == ':')
			a->i++;
	}
	ap_words(a, junk, mbox);
	if (a->i < a->len && a->s[a->i] == '@') {
		a->i++;
		ap_domain(a, host);
	}
	while (a->i < a->len && a->s[a->i] != '>')
		a->i++;
	if (a->i < a->len)
		a->i++;
	ap_write(a, out, name, adl, mbox, host);
	buf_free(&adl);
	buf_free(&mbox);
	buf_free(&host);
	buf_free(&junk);
}

static void ap_list(struct ap *a, struct buf *out, bool in_group);

/* A group's start: "(NIL NIL name NIL)", as text "name: ". */
static void
ap_group_start(struct ap *a, struct buf *out, const struct buf *name)
{
	if (a->text) {
		if (a->sep)
			buf_addstr(out, ", ");
		buf_add(out, name->data ? name->data : "", name->len);
		buf_addstr(out, ": ");
		a->sep = false;
	} else {
		buf_addstr(out, "(NIL NIL ");
		ap_str(out, name, false);
		buf_addstr(out, " NIL)");
	}
	a->count++;
}

/* One mailbox or group at a->i. */
static void
ap_element(struct ap *a, struct buf *out, bool in_group)
{
	struct buf *name = buf_new(a->len + 1), *local = buf_new(a->len + 1);
	struct buf *host = buf_new(a->len + 1), *none = buf_new(1);
	char c;

	ap_words(a, name, local);
	c = a->i < a->len ? a->s[a->i] : '\0';
	if (c == ':' && !in_group) {
		a->i++;
		ap_group_start(a, out, name);
		ap_list(a, out, true);
		if (a->i < a->len && a->s[a->i] == ';')
			a->i++;
		if (a->text)
			buf_addc(out, ';');
		else
			buf_addstr(out, "(NIL NIL NIL NIL)");
	} else if (c == '<') {
		ap_angle(a, out, name);
	} else if (c == '@' || local->len > 0) {
		buf_reset(a->comment);	/* only one after it names it */
		if (c == '@') {
			a->i++;
			ap_domain(a, host);
		}
		ap_cfws(a);
		ap_write(a, out, a->comment, none, local, host);
	} else if (c != ',' && c != ';' && c != '\0') {
		a->i++;		/* a stray special */
	}
	buf_free(&name);
	buf_free(&local);
	buf_free(&host);
	buf_free(&none);
}

/* Elements up to the end (in a group: up to ';'). */
static void
ap_list(struct ap *a, struct buf *out, bool in_group)
{
	while (a->i < a->len) {
		size_t before;

		buf_reset(a->comment);
		ap_cfws(a);
		if (a->i >= a->len)
			return;
		if (a->s[a->i] == ',') {
			a->i++;
			continue;
		}
		if (a->s[a->i] == ';') {
			if (in_group)
				return;
			a->i++;
			continue;
		}
		before = a->i;
		ap_element(a, out, in_group);
		if (a->i == before)
			a->i++;
	}
}

void
imap_body_addresses(struct buf *out, const char *value)
{
	struct ap a = {.s = value, .len = value ? strlen(value) : 0};
	size_t mark = out->len;

	if (value == NULL) {
		buf_addstr(out, "NIL");
		return;
	}
	a.comment = buf_new(a.len + 1);
	buf_addc(out, '(');
	ap_list(&a, out, false);
	buf_addc(out, ')');
	buf_free(&a.comment);
	if (a.count == 0) {
		out->len = mark;
		if (out->data != NULL)
			out->data[mark] = '\0';
		buf_addstr(out, "NIL");
	}
}

void
imap_body_address_text(struct buf *out, const char *value)
{
	struct ap a = {.s = value, .len = value ? strlen(value) : 0,
		       .text = true};

	if (value == NULL)
		return;
	a.comment = buf_new(a.len + 1);
	ap_list(&a, out, false);
	buf_free(&a.comment);
}

/* Does the value hold an address (else Sender and Reply-To take From's)? */
static bool
has_address(const char *value)
{
	struct buf *b;
	bool r;

	if (value == NULL)
		return false;
	b = buf_new(SIZE_MAX);
	imap_body_addresses(b, value);
	r = strcmp(b->data, "NIL") != 0;
	buf_free(&b);
	return r;
}

void
imap_body_envelope(struct buf *out, const struct mstruct_part *msg)
{
	char *const *e = msg->env;

	buf_addc(out, '(');
	imap_body_nstring(out, e[MSTRUCT_DATE]);
	buf_addc(out, ' ');
	imap_body_nstring(out, e[MSTRUCT_SUBJECT]);
	for (int k = MSTRUCT_FROM; k <= MSTRUCT_BCC; k++) {
		const char *v = e[k];

		if ((k == MSTRUCT_SENDER || k == MSTRUCT_REPLY_TO) &&
		    !has_address(v))
			v = e[MSTRUCT_FROM];
		buf_addc(out, ' ');
		imap_body_addresses(out, v);
	}
	buf_addc(out, ' ');
	imap_body_nstring(out, e[MSTRUCT_IN_REPLY_TO]);
	buf_addc(out, ' ');
	imap_body_nstring(out, e[MSTRUCT_MESSAGE_ID]);
	buf_addc(out, ')');
}

/* --- BODY and BODYSTRUCTURE ----------------------------------------------- */

static void
params(struct buf *out, const struct mstruct_param *p, size_t n)
{
	if (n == 0) {
		buf_addstr(out, "NIL");
		return;
	}
	buf_addc(out, '(');
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_addc(out, ' ');
		imap_body_nstring(out, p[i].name);
		buf_addc(out, ' ');
		imap_body_nstring(out, p[i].value);
	}
	buf_addc(out, ')');
}

/* Content-Type's parameters; a text part with no charset has
 * us-ascii's (RFC 2045 5.2). */
static void
type_params(struct buf *out, const struct mstruct_part *p)
{
	bool cs = !mstruct_is(p, "text", NULL);

	for (size_t i = 0; i < p->nparams && !cs; i++)
		cs = strcasecmp(p->params[i].name, "charset") == 0;
	if (cs) {
		params(out, p->params, p->nparams);
		return;
	}
	buf_addc(out, '(');
	for (size_t i = 0; i < p->nparams; i++) {
		imap_body_nstring(out, p->params[i].name);
		buf_addc(out, ' ');
		imap_body_nstring(out, p->params[i].value);
		buf_addc(out, ' ');
	}
	buf_addstr(out, "\"CHARSET\" \"US-ASCII\")");
}

static void
disposition(struct buf *out, const struct mstruct_part *p)
{
	if (p->disp == NULL) {
		buf_addstr(out, "NIL");
		return;
	}
	buf_addc(out, '(');
	imap_body_nstring(out, p->disp);
	buf_addc(out, ' ');
	params(out, p->dparams, p->ndparams);
	buf_addc(out, ')');
}

/* Content-Language: NIL or a list of strings. */
static void
language(struct buf *out, const char *v)
{
	const char *tok[64];
	size_t tl[64], n = 0, i = 0, len = v ? strlen(v) : 0;

	while (i < len && n < 64) {
		size_t st;

		while (i < len && (ap_wsp(v[i]) || v[i] == ','))
			i++;
		if (i < len && v[i] == '(') {
			while (i < len && v[i] != ')')
				i++;
			i++;
			continue;
		}
		st = i;
		while (i < len && !ap_wsp(v[i]) && v[i] != ',' && v[i] != '(')
			i++;
		if (i > st) {
			tok[n] = v + st;
			tl[n++] = i - st;
		}
	}
	if (n == 0) {
		buf_addstr(out, "NIL");
	} else {
		buf_addc(out, '(');
		for (size_t k = 0; k < n; k++) {
			if (k > 0)
				buf_addc(out, ' ');
			imap_body_string(out, tok[k], tl[k]);
		}
		buf_addc(out, ')');
	}
}

/* disposition, language, location: the extension data both kinds end
 * with. */
static void
ext_tail(struct buf *out, const struct mstruct_part *p)
{
	buf_addc(out, ' ');
	disposition(out, p);
	buf_addc(out, ' ');
	language(out, p->lang);
	buf_addc(out, ' ');
	imap_body_nstring(out, p->loc);
}

static void
multipart(struct buf *out, const struct mstruct_part *p, bool ext)
{
	buf_addc(out, '(');
	if (p->children == NULL)
		buf_addstr(out, ext ? EMPTY_BODY_EXT : EMPTY_BODY);
	for (const struct mstruct_part *c = p->children; c != NULL;
	     c = c->next)
		imap_body_structure(out, c, ext);
	buf_addc(out, ' ');
	imap_body_nstring(out, p->subtype);
	if (ext) {
		buf_addc(out, ' ');
		params(out, p->params, p->nparams);
		ext_tail(out, p);
	}
	buf_addc(out, ')');
}

void
imap_body_structure(struct buf *out, const struct mstruct_part *p, bool ext)
{
	if (p->multipart) {
		multipart(out, p, ext);
		return;
	}
	buf_addc(out, '(');
	imap_body_nstring(out, p->type);
	buf_addc(out, ' ');
	imap_body_nstring(out, p->subtype);
	buf_addc(out, ' ');
	type_params(out, p);
	buf_addc(out, ' ');
	imap_body_nstring(out, p->id);
	buf_addc(out, ' ');
	imap_body_nstring(out, p->desc);
	buf_addc(out, ' ');
	imap_body_nstring(out, p->enc != NULL ? p->enc : "7BIT");
	buf_printf(out, " %" PRIu64, p->body_size);
	if (p->rfc822 && p->children != NULL) {
		buf_addc(out, ' ');
		imap_body_envelope(out, p->children);
		buf_addc(out, ' ');
		imap_body_structure(out, p->children, ext);
		buf_printf(out, " %" PRIu64, p->body_lines);
	} else if (mstruct_is(p, "text", NULL)) {
		buf_printf(out, " %" PRIu64, p->body_lines);
	}
	if (ext) {
		buf_addc(out, ' ');
		imap_body_nstring(out, p->md5);
		ext_tail(out, p);
	}
	buf_addc(out, ')');
}
