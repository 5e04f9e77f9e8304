/*
 * imap_cmd_folder - the IMAP core's folder commands (see
 * imap_server_private.h): LIST (RFC 9051 6.3.9 with LIST-EXTENDED's
 * selection and return options, RFC 5258; SPECIAL-USE, RFC 6154;
 * LIST-STATUS, RFC 5819), LSUB (RFC 3501 6.3.9), CREATE (with USE, RFC
 * 6154), DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, NAMESPACE (one personal
 * namespace, "" with '/') and STATUS (RFC 9051 6.3.11, SIZE of RFC 8438,
 * HIGHESTMODSEQ of RFC 7162, RECENT for IMAP4rev1 only); and mailbox
 * names between the wire (modified UTF-7, or UTF-8 once the session has
 * enabled it) and the store (UTF-8).
 *
 * Bad syntax is a BAD that says what was expected; a store failure is the
 * tagged NO with its RFC 5530 code (imap_tagged_mres).  LIST matches the
 * store's list of folders (and their parents, which need not exist)
 * against every pattern: '*' matches anything, '%' anything but '/';
 * INBOX matches without case.  A pattern that is not valid modified
 * UTF-7 matches nothing (RFC 9051 says nothing of it; a listing is not
 * refused for it).  Matching is imap_match's, whose cost is bounded by
 * the octets of the distinct names times the pattern's length / 64.
 */
#include "imap_match.h"
#include "imap_server_private.h"
#include "imap_utf7.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SEP '/'
#define ERR_MAX 256		/* a store's reason */

static bool
utf8_on(const struct imap_server *s)
{
	return s->rev2 || s->utf8;
}

/* No store given (imap_server_set_mbox): NO [UNAVAILABLE]. */
static bool
no_store(const struct imap_server *s, const char *tag, struct buf *out)
{
	if (s->ops != NULL)
		return false;
	imap_tagged(out, tag, "NO", "[UNAVAILABLE] No mailbox store");
	return true;
}

/* --- mailbox names -------------------------------------------------------- */

/* A name's octets as the store's UTF-8, appended to out; -1 if invalid. */
static int
name_decode(const struct imap_server *s, const char *in, size_t len,
	    struct buf *out)
{
	struct buf *check;
	int r;

	if (memchr(in, '\0', len) != NULL)
		return -1;
	if (!utf8_on(s))
		return imap_mutf7_to_utf8(in, len, out);
	/* UTF-8 must be well formed: the encoder checks it */
	check = buf_new(3 * len + 16);
	r = imap_utf8_to_mutf7(in, len, check);
	buf_free(&check);
	if (r == 0)
		r = buf_add(out, in, len);
	return r;
}

/* "inbox" and "Inbox/x" spelt "INBOX" (RFC 9051 5.1). */
static void
inbox_case(struct buf *name)
{
	if (name->len >= 5 && strncasecmp(name->data, "INBOX", 5) == 0 &&
	    (name->len == 5 || name->data[5] == SEP))
		memcpy(name->data, "INBOX", 5);
}

int
imap_mailbox_arg(const struct imap_server *s, const struct imap_arg *a,
		 struct buf *name, const char **why_r)
{
	size_t len;
	const char *str = imap_astring(a, &len);

	buf_reset(name);
	if (str == NULL) {
		*why_r = "Mailbox name expected";
		return -1;
	}
	if (name_decode(s, str, len, name) < 0) {
		buf_reset(name);
		*why_r = utf8_on(s) ? "Mailbox name is not valid UTF-8"
				    : "Mailbox name is not valid modified "
				      "UTF-7";
		return -1;
	}
	if (name->len > 0 && name->data[name->len - 1] == SEP)
		name->data[--name->len] = '\0';
	if (name->len == 0) {
		*why_r = "Empty mailbox name";
		return -1;
	}
	inbox_case(name);
	return 0;
}

/* A string as a quoted string, or a literal if it cannot be one. */
static void
write_string(struct buf *out, const char *p, size_t len, bool utf8)
{
	bool literal = false;

	for (size_t i = 0; i < len && !literal; i++) {
		unsigned char c = (unsigned char)p[i];

		literal = c == '\0' || c == '\r' || c == '\n' ||
			  (c >= 0x80 && !utf8);
	}
	if (literal) {
		buf_printf(out, "{%zu}\r\n", len);
		buf_add(out, p, len);
		return;
	}
	buf_addc(out, '"');
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '"' || p[i] == '\\')
			buf_addc(out, '\\');
		buf_addc(out, p[i]);
	}
	buf_addc(out, '"');
}

void
imap_mailbox_write(const struct imap_server *s, const char *name,
		   struct buf *out)
{
	size_t len = strlen(name);
	struct buf *enc;

	if (utf8_on(s)) {
		write_string(out, name, len, true);
		return;
	}
	enc = buf_new(3 * len + 16);
	if (imap_utf8_to_mutf7(name, len, enc) == 0)
		write_string(out, enc->data, enc->len, false);
	else
		write_string(out, name, len, false);
	buf_free(&enc);
}

/* A mailbox argument into a new buffer; NULL (and a BAD written). */
static struct buf *
mailbox_or_bad(struct imap_server *s, const char *tag,
	       const struct imap_arg *a, struct buf *out, enum imap_act *act)
{
	size_t len = 0;
	struct buf *name;
	const char *why;

	(void)imap_astring(a, &len);
	name = buf_new(len + 16);
	if (imap_mailbox_arg(s, a, name, &why) == 0)
		return name;
	buf_free(&name);
	*act = imap_bad(s, tag, why, out);
	return NULL;
}

/* --- special-use attributes (RFC 6154) ------------------------------------ */

static const struct {
	unsigned bit;
	const char *attr;
} SPECIAL[] = {
	{IMAP_SU_ALL, "\\All"},
	{IMAP_SU_ARCHIVE, "\\Archive"},
	{IMAP_SU_DRAFTS, "\\Drafts"},
	{IMAP_SU_FLAGGED, "\\Flagged"},
	{IMAP_SU_JUNK, "\\Junk"},
	{IMAP_SU_SENT, "\\Sent"},
	{IMAP_SU_TRASH, "\\Trash"},
};

static unsigned
special_parse(const char *attr)
{
	for (size_t i = 0; i < sizeof(SPECIAL) / sizeof(SPECIAL[0]); i++)
		if (strcasecmp(attr, SPECIAL[i].attr) == 0)
			return SPECIAL[i].bit;
	return 0;
}

/* --- STATUS items --------------------------------------------------------- */

enum st_item {
	SI_MESSAGES, SI_UIDNEXT, SI_UIDVALIDITY, SI_UNSEEN, SI_DELETED,
	SI_SIZE, SI_RECENT, SI_HIGHESTMODSEQ,
};

static const char *const ST_NAMES[] = {
	[SI_MESSAGES] = "MESSAGES", [SI_UIDNEXT] = "UIDNEXT",
	[SI_UIDVALIDITY] = "UIDVALIDITY", [SI_UNSEEN] = "UNSEEN",
	[SI_DELETED] = "DELETED", [SI_SIZE] = "SIZE", [SI_RECENT] = "RECENT",
	[SI_HIGHESTMODSEQ] = "HIGHESTMODSEQ",
};
#define ST_ITEMS (sizeof(ST_NAMES) / sizeof(ST_NAMES[0]))

/* The items asked, each once, in the order first asked. */
struct st_req {
	enum st_item item[ST_ITEMS];
	size_t n;
};

/* The items of a list; NULL, or the text of the BAD. */
static const char *
status_items(const struct imap_server *s, const struct imap_arg *a,
	     struct st_req *req)
{
	unsigned seen = 0;

	if (a->type != IMAP_ARG_LIST || a->n == 0)
		return "STATUS needs a list of status items";
	req->n = 0;
	for (size_t i = 0; i < a->n; i++) {
		const struct imap_arg *it = &a->list[i];
		size_t k;

		if (it->type != IMAP_ARG_ATOM)
			return "Status items are atoms";
		for (k = 0; k < ST_ITEMS; k++)
			if (strcasecmp(it->str, ST_NAMES[k]) == 0)
				break;
		/* RECENT is not in IMAP4rev2 (RFC 9051 appendix E) */
		if (k == ST_ITEMS || (k == SI_RECENT && s->rev2))
			return "Unknown status item";
		if (!(seen & 1u << k))
			req->item[req->n++] = (enum st_item)k;
		seen |= 1u << k;
	}
	return NULL;
}

/* RFC 7162 3.1: STATUS (HIGHESTMODSEQ) is a CONDSTORE enabling command
 * (the session then gets modseqs without asking, say in SELECT). */
static void
status_condstore(struct imap_server *s, const struct st_req *req)
{
	for (size_t i = 0; i < req->n; i++)
		if (req->item[i] == SI_HIGHESTMODSEQ)
			s->condstore = true;
}

static uint64_t
status_value(const struct imap_status *st, enum st_item it)
{
	switch (it) {
	case SI_MESSAGES:
		return st->messages;
	case SI_UIDNEXT:
		return st->uidnext;
	case SI_UIDVALIDITY:
		return st->uidvalidity;
	case SI_UNSEEN:
		return st->unseen;
	case SI_DELETED:
		return st->deleted;
	case SI_SIZE:
		return st->size;
	case SI_RECENT:
		return st->recent;
	case SI_HIGHESTMODSEQ:
		return st->highestmodseq;
	}
	return 0;
}

/*
 * "* STATUS name (ITEM n ...)".  RECENT of the selected mailbox is the
 * session's own count, the messages \Recent in it (RFC 3501 6.3.10);
 * of another, the store's: those no session has claimed yet.
 */
static void
status_write(const struct imap_server *s, const char *name,
	     const struct st_req *req, const struct imap_status *given,
	     struct buf *out)
{
	struct imap_status mine = *given;
	const struct imap_status *st = &mine;

	if (s->state == ST_SELECTED && strcmp(name, s->mailbox) == 0)
		mine.recent = imap_recent_count(s);
	buf_addstr(out, "* STATUS ");
	imap_mailbox_write(s, name, out);
	buf_addstr(out, " (");
	for (size_t i = 0; i < req->n; i++)
		buf_printf(out, "%s%s %llu", i > 0 ? " " : "",
			   ST_NAMES[req->item[i]],
			   (unsigned long long)status_value(st, req->item[i]));
	buf_addstr(out, ")\r\n");
}

/* --- patterns ------------------------------------------------------------- */

struct pattern {
	char *text;		/* UTF-8, reference and pattern joined */
	size_t len;
	bool valid;		/* decoded; else it matches nothing */
	struct imap_match *mt;
};

/* The pattern: reference and pattern, each decoded, joined. */
static void
pattern_make(const struct imap_server *s, const char *ref, size_t rl,
	     const char *pat, size_t pl, struct pattern *p)
{
	struct buf *b = buf_new(rl + pl + 16);

	p->valid = name_decode(s, ref, rl, b) == 0 &&
		   name_decode(s, pat, pl, b) == 0;
	p->len = b->len;
	p->text = xstrndup(b->data, b->len);
	buf_free(&b);
}

/* --- LIST and LSUB -------------------------------------------------------- */

enum {
	SEL_SUBSCRIBED = 1 << 0,
	SEL_REMOTE = 1 << 1,
	SEL_RECURSIVE = 1 << 2,
	SEL_SPECIAL = 1 << 3,
	RET_SUBSCRIBED = 1 << 4,
	RET_CHILDREN = 1 << 5,
	RET_SPECIAL = 1 << 6,
	RET_STATUS = 1 << 7,
};

struct list_req {
	bool lsub;
	bool extended;		/* LIST-EXTENDED syntax used */
	unsigned opts;
	struct st_req status;
	const struct imap_arg *ref;
	const struct imap_arg *pats; /* pats[0..npats) */
	size_t npats;
};

/* A name the listing considers: a folder, or a level above one. */
struct cand {
	char *name;
	bool exists, subscribed;
	unsigned special;
	bool crit;		/* meets the selection criteria */
	bool matched;		/* matches a pattern */
	bool matched_pct;	/* matches a pattern that ends in '%' */
};

struct listing {
	struct cand *c;
	size_t n, cap;
};

static void
cand_add(struct listing *l, const char *name, size_t len,
	 const struct imap_folder *f)
{
	struct cand *c;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 32;
		l->c = xrealloc(l->c, l->cap * sizeof(*l->c));
	}
	c = &l->c[l->n++];
	memset(c, 0, sizeof(*c));
	c->name = xstrndup(name, len);
	if (f != NULL) {
		c->exists = f->exists;
		c->subscribed = f->subscribed;
		c->special = f->special_use;
	}
}

static int
cand_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cand *)a)->name,
		      ((const struct cand *)b)->name);
}

/* The store's folders and every level above them, sorted, once each. */
static void
listing_build(struct listing *l, const struct imap_folder *fs, size_t n)
{
	size_t w = 0;

	for (size_t i = 0; i < n; i++) {
		const char *name = fs[i].name;

		for (const char *p = name; (p = strchr(p, SEP)) != NULL; p++)
			cand_add(l, name, (size_t)(p - name), NULL);
		cand_add(l, name, strlen(name), &fs[i]);
	}
	if (l->n > 0)
		qsort(l->c, l->n, sizeof(*l->c), cand_cmp);
	for (size_t i = 0; i < l->n; i++) {
		struct cand *c = &l->c[i];

		if (w > 0 && strcmp(l->c[w - 1].name, c->name) == 0) {
			struct cand *k = &l->c[w - 1];

			k->exists |= c->exists;
			k->subscribed |= c->subscribed;
			k->special |= c->special;
			free(c->name);
			continue;
		}
		l->c[w++] = *c;
	}
	l->n = w;
}

static void
listing_free(struct listing *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->c[i].name);
	free(l->c);
}

/*
 * The descendants of l->c[i]: the names that start with its name and
 * '/', which in octet order are one run; [*from, *to).
 */
static void
descendants(const struct listing *l, size_t i, size_t *from, size_t *to)
{
	const char *name = l->c[i].name;
	size_t nl = strlen(name), lo = i + 1, hi = l->n;

	/* the first name at or above "name/" */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strncmp(l->c[mid].name, name, nl);

		if (c == 0)
			c = (unsigned char)l->c[mid].name[nl] < SEP ? -1 : 0;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*from = *to = lo;
	while (*to < l->n && strncmp(l->c[*to].name, name, nl) == 0 &&
	       l->c[*to].name[nl] == SEP)
		(*to)++;
}

static bool
meets(const struct list_req *q, const struct cand *c)
{
	if (q->lsub || (q->opts & SEL_SUBSCRIBED)) {
		if (!c->subscribed)
			return false;
		return !(q->opts & SEL_SPECIAL) || (c->exists && c->special);
	}
	return c->exists && (!(q->opts & SEL_SPECIAL) || c->special != 0);
}

/* Marks what each name is: criteria met, patterns matched (in the
 * listing's order, so each pattern's matcher reuses shared prefixes). */
static void
listing_mark(struct listing *l, const struct list_req *q,
	     struct pattern *pats)
{
	for (size_t i = 0; i < l->n; i++)
		l->c[i].crit = meets(q, &l->c[i]);
	for (size_t k = 0; k < q->npats; k++) {
		struct pattern *p = &pats[k];

		if (!p->valid || p->len == 0)
			continue;
		p->mt = imap_match_new(p->text, p->len);
		for (size_t i = 0; i < l->n; i++) {
			struct cand *c = &l->c[i];

			if (!imap_match(p->mt, c->name,
					strcmp(c->name, "INBOX") == 0))
				continue;
			c->matched = true;
			c->matched_pct |= imap_match_ends_pct(p->mt);
		}
		imap_match_free(&p->mt);
	}
}

/* What the descendants of l->c[i] hold. */
struct below {
	bool exists;		/* a folder below: \HasChildren */
	bool childinfo;		/* one meets the criteria, unmatched */
	bool crit;		/* one meets the criteria */
};

static struct below
below_of(const struct listing *l, size_t i)
{
	struct below b = {0};
	size_t from, to;

	descendants(l, i, &from, &to);
	for (size_t k = from; k < to; k++) {
		b.exists |= l->c[k].exists;
		b.crit |= l->c[k].crit;
		b.childinfo |= l->c[k].crit && !l->c[k].matched;
	}
	return b;
}

static void
attr(struct buf *out, bool *first, const char *a)
{
	buf_printf(out, "%s%s", *first ? "" : " ", a);
	*first = false;
}

/* One LIST response's attributes and name, and CHILDINFO. */
static void
list_line(const struct imap_server *s, const struct list_req *q,
	  const struct cand *c, const struct below *b, struct buf *out)
{
	bool first = true;

	buf_addstr(out, "* LIST (");
	if (!c->exists)
		attr(out, &first, q->extended || s->rev2 ? "\\NonExistent"
							 : "\\Noselect");
	if ((q->opts & (RET_SUBSCRIBED | SEL_SUBSCRIBED)) && c->subscribed)
		attr(out, &first, "\\Subscribed");
	if (b->exists)
		attr(out, &first, "\\HasChildren");
	else if (c->exists)
		attr(out, &first, "\\HasNoChildren");
	for (size_t i = 0; c->exists && i < sizeof(SPECIAL) /
	     sizeof(SPECIAL[0]); i++)
		if (c->special & SPECIAL[i].bit)
			attr(out, &first, SPECIAL[i].attr);
	buf_addstr(out, ") \"/\" ");
	imap_mailbox_write(s, c->name, out);
	if ((q->opts & SEL_RECURSIVE) && b->childinfo)
		buf_addstr(out, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	buf_addstr(out, "\r\n");
}

/* LIST-STATUS (RFC 5819): a STATUS after a selectable name's LIST; a
 * folder whose status fails is left without one. */
static void
list_status(const struct imap_server *s, const struct list_req *q,
	    const struct cand *c, struct buf *out)
{
	struct imap_status st;
	char err[ERR_MAX];

	if (!(q->opts & RET_STATUS) || !c->exists)
		return;
	if (s->ops->status(s->mctx, c->name, &st, err, sizeof(err)) ==
	    IMAP_M_OK)
		status_write(s, c->name, &q->status, &st, out);
}

/* A name of the listing, if it is one to show. */
static void
list_one(const struct imap_server *s, const struct list_req *q,
	 const struct listing *l, size_t i, struct buf *out)
{
	const struct cand *c = &l->c[i];
	struct below b;
	bool show;

	if (!c->matched)
		return;
	b = below_of(l, i);
	if (q->lsub) {
		/* an unsubscribed level with subscriptions below (6.3.9) */
		if (!c->crit && !(c->matched_pct && b.crit))
			return;
		buf_addstr(out, c->crit ? "* LSUB () \"/\" "
					: "* LSUB (\\Noselect) \"/\" ");
		imap_mailbox_write(s, c->name, out);
		buf_addstr(out, "\r\n");
		return;
	}
	show = c->crit || ((q->opts & SEL_RECURSIVE) && b.childinfo);
	/* a trailing '%' also shows the levels above folders (6.3.9) */
	if (!(q->opts & (SEL_SUBSCRIBED | SEL_SPECIAL)) && c->matched_pct &&
	    b.exists)
		show = true;
	if (!show)
		return;
	list_line(s, q, c, &b, out);
	list_status(s, q, c, out);
}

static void
list_write(const struct imap_server *s, const struct list_req *q,
	   const struct listing *l, struct buf *out)
{
	size_t inbox = l->n;

	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->c[i].name, "INBOX") == 0)
			inbox = i;
	if (inbox < l->n)
		list_one(s, q, l, inbox, out);
	for (size_t i = 0; i < l->n; i++)
		if (i != inbox)
			list_one(s, q, l, i, out);
}

/* Runs a parsed LIST or LSUB against the store. */
static enum imap_act
list_run(struct imap_server *s, const char *tag, const struct list_req *q,
	 struct buf *out)
{
	const char *cmd = q->lsub ? "LSUB" : "LIST";
	struct pattern *pats = xcalloc(q->npats, sizeof(*pats));
	const char *ref;
	size_t rl, want = 0;
	struct imap_folder *fs = NULL;
	struct listing l = {0};
	char err[ERR_MAX];
	enum imap_mres r;
	size_t nf = 0;

	if (no_store(s, tag, out)) {
		free(pats);
		return IMAP_ACT_NONE;
	}
	ref = imap_astring(q->ref, &rl);
	for (size_t k = 0; k < q->npats; k++) {
		size_t pl;
		const char *p = imap_astring(&q->pats[k], &pl);

		/* "": the separator and the root (RFC 9051 6.3.9) */
		if (pl == 0)
			buf_printf(out, "* %s (\\Noselect) \"/\" \"\"\r\n",
				   cmd);
		else
			pattern_make(s, ref, rl, p, pl, &pats[k]);
		want += pl > 0;
	}
	r = want == 0 ? IMAP_M_OK
		      : s->ops->list(s->mctx, &fs, &nf, err, sizeof(err));
	if (r == IMAP_M_OK && want > 0) {
		listing_build(&l, fs, nf);
		listing_mark(&l, q, pats);
		list_write(s, q, &l, out);
		listing_free(&l);
		s->ops->list_free(s->mctx, fs, nf);
	}
	for (size_t k = 0; k < q->npats; k++)
		free(pats[k].text);
	free(pats);
	if (r != IMAP_M_OK)
		imap_tagged_mres(out, tag, r, err, false);
	else
		buf_printf(out, "%s OK %s completed\r\n", tag, cmd);
	return IMAP_ACT_NONE;
}

/* LIST-EXTENDED's selection options; NULL or the BAD's text. */
static const char *
select_opts(const struct imap_arg *a, unsigned *opts)
{
	for (size_t i = 0; i < a->n; i++) {
		const char *o = a->list[i].str;

		if (a->list[i].type != IMAP_ARG_ATOM)
			return "Selection options are atoms";
		if (strcasecmp(o, "SUBSCRIBED") == 0)
			*opts |= SEL_SUBSCRIBED;
		else if (strcasecmp(o, "REMOTE") == 0)
			*opts |= SEL_REMOTE;
		else if (strcasecmp(o, "RECURSIVEMATCH") == 0)
			*opts |= SEL_RECURSIVE;
		else if (strcasecmp(o, "SPECIAL-USE") == 0)
			*opts |= SEL_SPECIAL;
		else
			return "Unknown selection option";
	}
	/* RFC 5258 6: a modifier of a base option, and SUBSCRIBED is the
	 * only one (REMOTE and SPECIAL-USE are independent, RFC 6154 6) */
	if ((*opts & SEL_RECURSIVE) && !(*opts & SEL_SUBSCRIBED))
		return "RECURSIVEMATCH needs SUBSCRIBED";
	return NULL;
}

/* LIST-EXTENDED's return options; NULL or the BAD's text. */
static const char *
return_opts(const struct imap_server *s, const struct imap_arg *a,
	    struct list_req *q)
{
	for (size_t i = 0; i < a->n; i++) {
		const char *o = a->list[i].str;
		const char *why;

		if (a->list[i].type != IMAP_ARG_ATOM)
			return "Return options are atoms";
		if (strcasecmp(o, "SUBSCRIBED") == 0) {
			q->opts |= RET_SUBSCRIBED;
		} else if (strcasecmp(o, "CHILDREN") == 0) {
			q->opts |= RET_CHILDREN;
		} else if (strcasecmp(o, "SPECIAL-USE") == 0) {
			q->opts |= RET_SPECIAL;
		} else if (strcasecmp(o, "STATUS") == 0 && i + 1 < a->n &&
			   !(q->opts & RET_STATUS)) {
			if ((why = status_items(s, &a->list[++i],
						&q->status)) != NULL)
				return why;
			q->opts |= RET_STATUS;
		} else {
			return "Unknown return option";
		}
	}
	return NULL;
}

static bool
is_list_mailbox(const struct imap_arg *a)
{
	return a->type != IMAP_ARG_LIST && !a->streamed;
}

/* LIST [(selection)] reference patterns [RETURN (options)]. */
static const char *
list_parse(const struct imap_server *s, const struct imap_arg *args,
	   size_t nargs, struct list_req *q)
{
	const char *why;
	size_t i = 0;

	if (nargs > 0 && args[0].type == IMAP_ARG_LIST) {
		q->extended = true;
		if ((why = select_opts(&args[0], &q->opts)) != NULL)
			return why;
		i = 1;
	}
	if (nargs < i + 2 || !is_list_mailbox(&args[i]))
		return "LIST needs a reference and a mailbox pattern";
	q->ref = &args[i++];
	if (args[i].type == IMAP_ARG_LIST) {
		q->extended = true;
		q->pats = args[i].list;
		q->npats = args[i].n;
		for (size_t k = 0; k < q->npats; k++)
			if (!is_list_mailbox(&q->pats[k]))
				return "Mailbox patterns are strings";
		if (q->npats == 0)
			return "LIST needs a mailbox pattern";
	} else {
		q->pats = &args[i];
		q->npats = 1;
	}
	i++;
	if (i == nargs)
		return NULL;
	if (nargs != i + 2 || args[i].type != IMAP_ARG_ATOM ||
	    strcasecmp(args[i].str, "RETURN") != 0 ||
	    args[i + 1].type != IMAP_ARG_LIST)
		return "LIST ends with RETURN and a list of return options";
	q->extended = true;
	return return_opts(s, &args[i + 1], q);
}

enum imap_act
imap_cmd_list(struct imap_server *s, const char *tag,
	      const struct imap_arg *args, size_t nargs, struct buf *out)
{
	struct list_req q;
	const char *why;

	memset(&q, 0, sizeof(q));
	if ((why = list_parse(s, args, nargs, &q)) != NULL)
		return imap_bad(s, tag, why, out);
	status_condstore(s, &q.status);
	return list_run(s, tag, &q, out);
}

enum imap_act
imap_cmd_lsub(struct imap_server *s, const char *tag,
	      const struct imap_arg *args, size_t nargs, struct buf *out)
{
	struct list_req q;

	memset(&q, 0, sizeof(q));
	if (nargs != 2 || !is_list_mailbox(&args[0]) ||
	    !is_list_mailbox(&args[1]))
		return imap_bad(s, tag, "LSUB needs a reference and a "
				"mailbox pattern", out);
	q.lsub = true;
	q.ref = &args[0];
	q.pats = &args[1];
	q.npats = 1;
	return list_run(s, tag, &q, out);
}

/* --- CREATE, DELETE, RENAME, SUBSCRIBE ------------------------------------ */

static enum imap_act
done(const char *tag, enum imap_mres r, const char *err, const char *cmd,
     struct buf *out)
{
	if (r != IMAP_M_OK)
		imap_tagged_mres(out, tag, r, err, false);
	else
		buf_printf(out, "%s OK %s completed\r\n", tag, cmd);
	return IMAP_ACT_NONE;
}

/* CREATE's parameters (RFC 4466): USE (attrs) only (RFC 6154).  -1 with
 * a BAD's text, or 1 with *unknown: an attribute this server lacks. */
static int
create_params(const struct imap_arg *a, unsigned *use, bool *unknown,
	      const char **why_r)
{
	*why_r = "CREATE's parameters are USE and a list of attributes";
	if (a->type != IMAP_ARG_LIST || a->n % 2 != 0)
		return -1;
	for (size_t i = 0; i < a->n; i += 2) {
		const struct imap_arg *k = &a->list[i], *v = &a->list[i + 1];

		if (k->type != IMAP_ARG_ATOM ||
		    strcasecmp(k->str, "USE") != 0 || v->type != IMAP_ARG_LIST)
			return -1;
		for (size_t j = 0; j < v->n; j++) {
			unsigned bit;

			if (v->list[j].type != IMAP_ARG_ATOM)
				return -1;
			bit = special_parse(v->list[j].str);
			*unknown |= bit == 0;
			*use |= bit;
		}
	}
	return 0;
}

enum imap_act
imap_cmd_create(struct imap_server *s, const char *tag,
		const struct imap_arg *args, size_t nargs, struct buf *out)
{
	enum imap_act act = IMAP_ACT_NONE;
	unsigned use = 0;
	bool unknown = false;
	char err[ERR_MAX] = "";
	enum imap_mres r;
	struct buf *name;
	const char *why;

	if (nargs < 1 || nargs > 2)
		return imap_bad(s, tag, "CREATE needs a mailbox name", out);
	if (nargs == 2 && create_params(&args[1], &use, &unknown, &why) < 0)
		return imap_bad(s, tag, why, out);
	if ((name = mailbox_or_bad(s, tag, &args[0], out, &act)) == NULL)
		return act;
	if (strcmp(name->data, "INBOX") == 0) {
		imap_tagged(out, tag, "NO", "[ALREADYEXISTS] INBOX always "
			    "exists");
	} else if (no_store(s, tag, out)) {
		/* answered */
	} else if (unknown) {
		imap_tagged(out, tag, "NO", "[USEATTR] Unsupported "
			    "special-use attribute");
	} else {
		r = s->ops->create(s->mctx, name->data, use, err,
				   sizeof(err));
		done(tag, r, err, "CREATE", out);
	}
	buf_free(&name);
	return act;
}

enum imap_act
imap_cmd_delete(struct imap_server *s, const char *tag,
		const struct imap_arg *args, size_t nargs, struct buf *out)
{
	enum imap_act act = IMAP_ACT_NONE;
	char err[ERR_MAX] = "";
	struct buf *name;

	if (nargs != 1)
		return imap_bad(s, tag, "DELETE needs a mailbox name", out);
	if ((name = mailbox_or_bad(s, tag, &args[0], out, &act)) == NULL)
		return act;
	if (strcmp(name->data, "INBOX") == 0)
		imap_tagged(out, tag, "NO", "[CANNOT] INBOX cannot be deleted");
	else if (!no_store(s, tag, out))
		done(tag, s->ops->delete(s->mctx, name->data, err,
					 sizeof(err)), err, "DELETE", out);
	buf_free(&name);
	return act;
}

/* The selected mailbox renamed with its parent: its new name. */
static void
follow_rename(struct imap_server *s, const char *from, const char *to)
{
	size_t fl = strlen(from);
	struct buf *n;

	if (s->mailbox == NULL || strncmp(s->mailbox, from, fl) != 0 ||
	    (s->mailbox[fl] != '\0' && s->mailbox[fl] != SEP))
		return;
	n = buf_new(strlen(to) + strlen(s->mailbox) + 1);
	buf_addstr(n, to);
	buf_addstr(n, s->mailbox + fl);
	free(s->mailbox);
	s->mailbox = xstrdup(n->data);
	buf_free(&n);
}

enum imap_act
imap_cmd_rename(struct imap_server *s, const char *tag,
		const struct imap_arg *args, size_t nargs, struct buf *out)
{
	enum imap_act act = IMAP_ACT_NONE;
	char err[ERR_MAX] = "";
	struct buf *from, *to = NULL;
	enum imap_mres r;

	if (nargs != 2)
		return imap_bad(s, tag, "RENAME needs two mailbox names", out);
	if ((from = mailbox_or_bad(s, tag, &args[0], out, &act)) == NULL ||
	    (to = mailbox_or_bad(s, tag, &args[1], out, &act)) == NULL) {
		buf_free(&from);
		return act;
	}
	if (strcmp(to->data, "INBOX") == 0) {
		imap_tagged(out, tag, "NO", "[ALREADYEXISTS] INBOX always "
			    "exists");
	} else if (!no_store(s, tag, out)) {
		/* INBOX's messages move, INBOX stays (RFC 9051 6.3.6) */
		r = s->ops->rename(s->mctx, from->data, to->data, err,
				   sizeof(err));
		if (r == IMAP_M_OK && strcmp(from->data, "INBOX") != 0)
			follow_rename(s, from->data, to->data);
		done(tag, r, err, "RENAME", out);
	}
	buf_free(&from);
	buf_free(&to);
	return act;
}

static enum imap_act
subscribe(struct imap_server *s, const char *tag,
	  const struct imap_arg *args, size_t nargs, bool on, struct buf *out)
{
	const char *cmd = on ? "SUBSCRIBE" : "UNSUBSCRIBE";
	enum imap_act act = IMAP_ACT_NONE;
	char err[ERR_MAX] = "";
	struct buf *name;

	if (nargs != 1)
		return imap_bad(s, tag, on ? "SUBSCRIBE needs a mailbox name"
					   : "UNSUBSCRIBE needs a mailbox "
					     "name", out);
	if ((name = mailbox_or_bad(s, tag, &args[0], out, &act)) == NULL)
		return act;
	if (!no_store(s, tag, out))
		done(tag, s->ops->subscribe(s->mctx, name->data, on, err,
					    sizeof(err)), err, cmd, out);
	buf_free(&name);
	return act;
}

enum imap_act
imap_cmd_subscribe(struct imap_server *s, const char *tag,
		   const struct imap_arg *args, size_t nargs, struct buf *out)
{
	return subscribe(s, tag, args, nargs, true, out);
}

enum imap_act
imap_cmd_unsubscribe(struct imap_server *s, const char *tag,
		     const struct imap_arg *args, size_t nargs,
		     struct buf *out)
{
	return subscribe(s, tag, args, nargs, false, out);
}

/* --- NAMESPACE and STATUS ------------------------------------------------- */

enum imap_act
imap_cmd_namespace(struct imap_server *s, const char *tag,
		   const struct imap_arg *args, size_t nargs, struct buf *out)
{
	(void)args;
	if (nargs != 0)
		return imap_bad(s, tag, "NAMESPACE takes no arguments", out);
	buf_addstr(out, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
	imap_tagged(out, tag, "OK", "NAMESPACE completed");
	return IMAP_ACT_NONE;
}

enum imap_act
imap_cmd_status(struct imap_server *s, const char *tag,
		const struct imap_arg *args, size_t nargs, struct buf *out)
{
	enum imap_act act = IMAP_ACT_NONE;
	char err[ERR_MAX] = "";
	struct imap_status st;
	struct st_req req;
	struct buf *name;
	const char *why;
	enum imap_mres r;

	if (nargs != 2)
		return imap_bad(s, tag, "STATUS needs a mailbox name and a "
				"list of status items", out);
	if ((why = status_items(s, &args[1], &req)) != NULL)
		return imap_bad(s, tag, why, out);
	status_condstore(s, &req);
	if ((name = mailbox_or_bad(s, tag, &args[0], out, &act)) == NULL)
		return act;
	if (!no_store(s, tag, out)) {
		r = s->ops->status(s->mctx, name->data, &st, err,
				   sizeof(err));
		if (r == IMAP_M_OK)
			status_write(s, name->data, &req, &st, out);
		done(tag, r, err, "STATUS", out);
	}
	buf_free(&name);
	return act;
}
