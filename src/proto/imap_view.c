/*
 * imap_view - the selected mailbox as the IMAP core sees it, shared by
 * the command files: the untagged updates of a sync (EXISTS, RECENT,
 * EXPUNGE, FETCH FLAGS, said only where RFC 9051 7.5.1 allows), \Recent
 * kept as the set of UIDs the store let this session claim, flags
 * written and parsed, and the messages a sequence set or "$" names.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_server_private.h"

#define SET_RANGES_MAX 10000	/* elements of one sequence set */

/* The messages of the view that are \Recent in this session. */
uint32_t
imap_recent_count(struct imap_server *s)
{
	uint32_t n = 0;

	for (uint32_t i = 0; s->recent.n > 0 && i < s->count; i++) {
		struct imap_msg m;

		s->ops->msg(s->mctx, i, &m);
		n += !m.expunged && imap_is_recent(s, &m);
	}
	return n;
}

bool
imap_is_recent(const struct imap_server *s, const struct imap_msg *m)
{
	return s->recent.n > 0 && imap_seqset_has(&s->recent, m->uid);
}

/* The UIDs [lo, hi) the store says are this session's to call recent:
 * claims come in ascending order, so the set stays sorted. */
bool
imap_add_recent(struct imap_server *s, uint32_t lo, uint32_t hi)
{
	struct imap_seqset *r = &s->recent;

	if (hi <= lo || lo == 0)
		return false;
	if (r->n > 0 && r->r[r->n - 1].hi + 1 >= lo) {
		if (hi - 1 > r->r[r->n - 1].hi)
			r->r[r->n - 1].hi = hi - 1;
		return true;
	}
	r->r = xrealloc(r->r, (r->n + 1) * sizeof(*r->r));
	r->r[r->n].lo = lo;
	r->r[r->n].hi = hi - 1;
	r->n++;
	return true;
}

void
imap_write_flags(const struct imap_server *s, const struct imap_msg *m,
		 struct buf *out)
{
	static const struct {
		unsigned bit;
		const char *name;
	} sys[] = {
		{IMAP_F_ANSWERED, "\\Answered"}, {IMAP_F_FLAGGED, "\\Flagged"},
		{IMAP_F_DELETED, "\\Deleted"}, {IMAP_F_SEEN, "\\Seen"},
		{IMAP_F_DRAFT, "\\Draft"},
	};
	const char *sep = "";

	buf_addstr(out, "FLAGS (");
	for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
		if (m->flags & sys[i].bit) {
			buf_printf(out, "%s%s", sep, sys[i].name);
			sep = " ";
		}
	if (!s->rev2 && imap_is_recent(s, m)) {
		buf_printf(out, "%s\\Recent", sep);
		sep = " ";
	}
	if (m->keywords != NULL && *m->keywords != '\0')
		buf_printf(out, "%s%s", sep, m->keywords);
	buf_addc(out, ')');
}

/* "* N FETCH (FLAGS (...) UID u [MODSEQ (m)])" for a change. */
void
imap_write_flags_fetch(const struct imap_server *s, uint32_t pos, bool uid,
		       struct buf *out)
{
	struct imap_msg m;

	s->ops->msg(s->mctx, pos, &m);
	buf_printf(out, "* %u FETCH (", pos + 1);
	imap_write_flags(s, &m, out);
	if (uid || s->condstore)
		buf_printf(out, " UID %u", m.uid);
	if (s->condstore)
		buf_printf(out, " MODSEQ (%llu)",
			   (unsigned long long)m.modseq);
	buf_addstr(out, ")\r\n");
}

/* The view went away under the session (UIDVALIDITY changed, the folder
 * deleted or renamed): only a BYE is right (RFC 9051 2.3.1.1). */
static enum imap_act
view_lost(struct imap_server *s, const char *err, struct buf *out)
{
	buf_printf(out, "* BYE %s\r\n", err);
	s->state = ST_LOGOUT;
	return IMAP_ACT_CLOSE;
}

enum imap_act
imap_sync(struct imap_server *s, bool allow_expunge, struct buf *out)
{
	struct imap_changes ch;
	char err[200];
	bool more_recent;
	enum imap_mres r;

	if (s->state != ST_SELECTED)
		return IMAP_ACT_NONE;
	memset(&ch, 0, sizeof(ch));
	r = s->ops->sync(s->mctx, !allow_expunge, &ch, err, sizeof(err));
	if (r == IMAP_M_PERM || r == IMAP_M_NOTFOUND)
		return view_lost(s, err, out);
	if (r != IMAP_M_OK)
		return IMAP_ACT_NONE;	/* said at the next sync */
	for (size_t i = 0; i < ch.nexpunged; i++) {
		buf_printf(out, "* %u EXPUNGE\r\n", ch.expunged[i] + 1);
		if (s->count > 0)
			s->count--;
	}
	more_recent = imap_add_recent(s, ch.recent_lo, ch.recent_hi);
	if (ch.count != s->count || more_recent) {
		bool grew = ch.count != s->count;

		s->count = ch.count;
		if (grew)
			buf_printf(out, "* %u EXISTS\r\n", s->count);
		if (!s->rev2)
			buf_printf(out, "* %u RECENT\r\n", imap_recent_count(s));
	}
	for (size_t i = 0; i < ch.nchanged; i++)
		if (ch.changed[i] < s->count)
			imap_write_flags_fetch(s, ch.changed[i], false, out);
	return IMAP_ACT_NONE;
}

/* Leaves the selected state (no expunge). */
void
imap_unselect(struct imap_server *s)
{
	if (s->state != ST_SELECTED)
		return;
	s->ops->unselect(s->mctx);
	free(s->mailbox);
	s->mailbox = NULL;
	imap_seqset_free(&s->saved);
	imap_seqset_free(&s->recent);
	s->saved_valid = false;
	s->count = 0;
	s->state = ST_AUTH;
}

uint32_t
imap_last_uid(struct imap_server *s)
{
	struct imap_msg m;

	if (s->count == 0)
		return 0;
	s->ops->msg(s->mctx, s->count - 1, &m);
	return m.uid;
}

int
imap_set_arg(struct imap_server *s, const struct imap_arg *a, bool uid,
	     struct imap_seqset *set, const char **why_r)
{
	memset(set, 0, sizeof(*set));
	if (a->type != IMAP_ARG_ATOM) {
		*why_r = "Invalid sequence set";
		return -1;
	}
	if (strcmp(a->str, "$") == 0) {
		*why_r = "The saved search result is not usable here";
		return -1;
	}
	if (imap_seqset_parse(a->str, a->len, SET_RANGES_MAX, set,
			      why_r) == -1)
		return -1;
	imap_seqset_resolve(set, uid ? imap_last_uid(s) : s->count);
	return 0;
}

/* The positions of "$": the saved UIDs still in the view. */
static void
saved_positions(struct imap_server *s, uint32_t *pos, size_t *n)
{
	for (uint32_t i = 0; s->saved_valid && i < s->count; i++) {
		struct imap_msg m;

		s->ops->msg(s->mctx, i, &m);
		if (imap_seqset_has(&s->saved, m.uid))
			pos[(*n)++] = i;
	}
}

/*
 * The positions a set argument names, ascending, into *pos_r (free it):
 * sequence numbers (each must be in the mailbox, RFC 9051 9), UIDs (those
 * not in the mailbox are left out) or "$".  -1 with *why_r for a BAD.
 */
int
imap_positions(struct imap_server *s, const struct imap_arg *a, bool uid,
	       uint32_t **pos_r, size_t *n_r, const char **why_r)
{
	struct imap_seqset set;
	uint32_t *pos;
	size_t n = 0;

	pos = xmalloc(((size_t)s->count + 1) * sizeof(*pos));
	if (a->type == IMAP_ARG_ATOM && strcmp(a->str, "$") == 0) {
		saved_positions(s, pos, &n);
	} else if (imap_set_arg(s, a, uid, &set, why_r) == -1) {
		free(pos);
		return -1;
	} else if (!uid) {
		/* "*" of an empty mailbox (lo 0) names nothing */
		for (size_t k = 0; k < set.n; k++)
			if (set.r[k].hi > s->count && set.r[k].lo != 0) {
				imap_seqset_free(&set);
				free(pos);
				*why_r = "Invalid message sequence number";
				return -1;
			}
		for (size_t k = 0; k < set.n; k++)
			for (uint32_t v = set.r[k].lo; v != 0 &&
			     v <= set.r[k].hi; v++)
				pos[n++] = v - 1;
		imap_seqset_free(&set);
	} else {
		for (uint32_t i = 0; i < s->count; i++) {
			struct imap_msg m;

			s->ops->msg(s->mctx, i, &m);
			if (imap_seqset_has(&set, m.uid))
				pos[n++] = i;
		}
		imap_seqset_free(&set);
	}
	*pos_r = pos;
	*n_r = n;
	return 0;
}

/* Turns CONDSTORE on; said once with a mailbox selected (RFC 7162 3.1). */
void
imap_condstore_on(struct imap_server *s, struct buf *out)
{
	struct imap_status st;
	char err[200];

	if (s->condstore)
		return;
	s->condstore = true;
	if (s->state == ST_SELECTED &&
	    s->ops->status(s->mctx, s->mailbox, &st, err, sizeof(err)) ==
	    IMAP_M_OK)
		buf_printf(out, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
			   (unsigned long long)st.highestmodseq);
}

/* A flag of a STORE or APPEND list: system bit or keyword. */
static int
flag_parse(const struct imap_arg *a, unsigned *flags, struct buf *kw)
{
	static const struct {
		const char *name;
		unsigned bit;
	} sys[] = {
		{"\\Answered", IMAP_F_ANSWERED}, {"\\Flagged", IMAP_F_FLAGGED},
		{"\\Deleted", IMAP_F_DELETED}, {"\\Seen", IMAP_F_SEEN},
		{"\\Draft", IMAP_F_DRAFT},
	};

	if (a->type != IMAP_ARG_ATOM || a->len == 0 ||
	    strpbrk(a->str, "[]") != NULL)
		return -1;
	if (a->str[0] != '\\') {
		if (kw->len > 0 && buf_addc(kw, ' ') == -1)
			return -1;
		return buf_addstr(kw, a->str);
	}
	for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
		if (strcasecmp(a->str, sys[i].name) == 0) {
			*flags |= sys[i].bit;
			return 0;
		}
	return -1;	/* \Recent, \* and unknown system flags */
}

/* A flag list, parenthesized or (STORE) bare atoms. */
int
imap_flag_list(const struct imap_arg *args, size_t n, unsigned *flags,
	       struct buf *kw)
{
	for (size_t i = 0; i < n; i++)
		if (flag_parse(&args[i], flags, kw) == -1)
			return -1;
	return 0;
}

