/*
 * imap_view - the selected mailbox as the IMAP core sees it, shared by
 * the command files: the untagged updates of a sync (EXISTS, RECENT,
 * EXPUNGE, FETCH FLAGS, said only where RFC 9051 7.5.1 allows), \Recent
 * kept as the set of UIDs the store let this session claim (or, under
 * EXAMINE, see unclaimed), the keywords the session was told of in FLAGS
 * (FLAGS said again before a FETCH shows a new one; past 64 KiB of names
 * a keyword is left out), flags written and parsed, and the messages a
 * sequence set or "$" names.
 *
 * With QRESYNC (RFC 7162 3.2) expunges are said as VANISHED: the store
 * reports them by position, so a sync that may remove messages first
 * notes the view's UIDs and says those it no longer has.  The store
 * keeps no log of expunged UIDs, so VANISHED (EARLIER) says every UID of
 * the client's range the mailbox does not hold (see vanished_ranges).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_server_private.h"

/* The messages of the view that are \Recent in this session. */
uint32_t
imap_recent_count(const struct imap_server *s)
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

/* --- the keywords the session was told of (FLAGS) ------------------------ */

/* a[0..alen) against b[0..blen), ASCII case folded. */
static int
kw_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int d = strncasecmp(a, b, n);

	if (d != 0)
		return d;
	return (alen > blen) - (alen < blen);
}

/* Where kw[0..len) is or would go in k->sorted; true if it is there. */
static bool
kw_find(const struct imap_keywords *k, const char *kw, size_t len,
	size_t *at)
{
	size_t lo = 0, hi = k->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct imap_kwref *r = &k->sorted[mid];
		int d = kw_cmp(k->list->data + r->off, r->len, kw, len);

		if (d == 0) {
			*at = mid;
			return true;
		}
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return false;
}

/* Adds kw[0..len) unless told already or past the list's bound; true if
 * it was added (the client must be told). */
static bool
kw_learn(struct imap_keywords *k, const char *kw, size_t len)
{
	size_t at, off = k->list->len + (k->list->len > 0);

	if (len == 0 || off + len > IMAP_KEYWORDS_LIST_MAX ||
	    kw_find(k, kw, len, &at))
		return false;
	/* within the list's max, checked above: neither fails */
	if (k->list->len > 0)
		(void)buf_addc(k->list, ' ');
	(void)buf_add(k->list, kw, len);
	if ((k->n & (k->n - 1)) == 0)	/* 0, 1, 2, 4, ...: grow */
		k->sorted = xrealloc(k->sorted, (k->n ? 2 * k->n : 1) *
				     sizeof(*k->sorted));
	memmove(&k->sorted[at + 1], &k->sorted[at],
		(k->n - at) * sizeof(*k->sorted));
	k->sorted[at].off = (uint32_t)off;
	k->sorted[at].len = (uint32_t)len;
	k->n++;
	return true;
}

/* Learns each keyword of list ("kw kw ..."); true if one was new. */
static bool
kw_learn_all(struct imap_keywords *k, const char *list)
{
	bool fresh = false;

	while (list != NULL && *list != '\0') {
		size_t len = strcspn(list, " ");

		fresh |= kw_learn(k, list, len);
		list += len + (list[len] == ' ');
	}
	return fresh;
}

void
imap_keywords_free(struct imap_keywords *k)
{
	buf_free(&k->list);
	free(k->sorted);
	memset(k, 0, sizeof(*k));
}

void
imap_keywords_reset(struct imap_server *s, const char *list)
{
	imap_keywords_free(&s->told);
	s->told.list = buf_new(IMAP_KEYWORDS_LIST_MAX);
	(void)kw_learn_all(&s->told, list);
}

void
imap_write_flag_lists(const struct imap_server *s, struct buf *out)
{
	const char *kw = s->told.list != NULL && s->told.list->len > 0 ?
			 s->told.list->data : NULL;

	buf_printf(out, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen "
		   "\\Draft%s%s)\r\n", kw ? " " : "", kw ? kw : "");
	if (s->readonly)
		buf_addstr(out, "* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n");
	else
		buf_printf(out, "* OK [PERMANENTFLAGS (\\Answered \\Flagged "
			   "\\Deleted \\Seen \\Draft%s%s \\*)] Flags permitted"
			   "\r\n", kw ? " " : "", kw ? kw : "");
}

/* Learns the keywords of the message at pos; true if one was new. */
static bool
learn_msg(struct imap_server *s, uint32_t pos)
{
	struct imap_msg m;

	if (s->told.list == NULL)
		return false;	/* not selected */
	s->ops->msg(s->mctx, pos, &m);
	return kw_learn_all(&s->told, m.keywords);
}

/*
 * RFC 9051 7.3.5: FLAGS lists "the flags ... that are applicable for this
 * mailbox", and the client "MUST record" its update.  A keyword new to
 * the mailbox (a STORE, a COPY, MOVE or APPEND into it, another
 * session's change) is said in a new FLAGS and PERMANENTFLAGS before the
 * first FETCH that shows it, as Dovecot and Cyrus do: a client that keeps
 * its keywords from FLAGS (Thunderbird), or checks them (imaptest),
 * would not know it until the next SELECT.  FLAGS never shrinks.
 */
void
imap_announce_keywords(struct imap_server *s, const uint32_t *pos, size_t n,
		       struct buf *out)
{
	bool fresh = false;

	for (size_t i = 0; i < n; i++)
		fresh |= learn_msg(s, pos[i]);
	if (fresh)
		imap_write_flag_lists(s, out);
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

/*
 * The view went away under the session (UIDVALIDITY changed, the folder
 * deleted or renamed): only a BYE is right (RFC 9051 2.3.1.1).  Its text
 * is ours: the store's names the folder's path on the server.
 */
static enum imap_act
view_lost(struct imap_server *s, struct buf *out)
{
	buf_addstr(out, "* BYE The selected folder was deleted, renamed or "
		   "renumbered (UIDVALIDITY); select it again\r\n");
	s->state = ST_LOGOUT;
	s->close_reason = "folder-lost";
	return IMAP_ACT_CLOSE;
}

/* The UIDs of the view's messages, ascending (count of them). */
static uint32_t *
view_uids(struct imap_server *s)
{
	uint32_t *uids = xmalloc(((size_t)s->count + 1) * sizeof(*uids));

	for (uint32_t i = 0; i < s->count; i++) {
		struct imap_msg m;

		s->ops->msg(s->mctx, i, &m);
		uids[i] = m.uid;
	}
	return uids;
}

void
imap_write_vanished(struct buf *out, bool earlier, const uint32_t *uids,
		    size_t n)
{
	if (n == 0)
		return;
	buf_addstr(out, earlier ? "* VANISHED (EARLIER) " : "* VANISHED ");
	imap_seqset_write(out, uids, n);
	buf_addstr(out, "\r\n");
}

/*
 * The expunges of a sync as one VANISHED (RFC 7162 3.2.10.2): the UIDs
 * of before (the view's n UIDs before the sync) the view no longer has.
 * Both are in UID order and new messages come after the old ones, so one
 * walk finds them; they are gathered at the front of before.
 */
static size_t
say_vanished(struct imap_server *s, uint32_t *before, size_t n,
	     uint32_t count, struct buf *out)
{
	size_t k = 0;
	uint32_t j = 0;

	for (size_t i = 0; i < n; i++) {
		struct imap_msg m;

		if (j < count) {
			s->ops->msg(s->mctx, j, &m);
			if (m.uid == before[i]) {
				j++;
				continue;
			}
		}
		before[k++] = before[i];
	}
	imap_write_vanished(out, false, before, k);
	return k;
}

/* Some message of the view is expunged but not said yet. */
static bool
expunges_pending(struct imap_server *s)
{
	for (uint32_t i = 0; i < s->count; i++) {
		struct imap_msg m;

		s->ops->msg(s->mctx, i, &m);
		if (m.expunged)
			return true;
	}
	return false;
}

/* The view's HIGHESTMODSEQ now, or the last one known. */
static uint64_t
view_highestmodseq(struct imap_server *s)
{
	struct imap_status st;
	char err[200];

	if (s->ops->status(s->mctx, s->mailbox, &st, err, sizeof(err)) !=
	    IMAP_M_OK)
		return s->highestmodseq;
	return st.highestmodseq;
}

/*
 * Keeps s->highestmodseq a value the client may be told, and says it when
 * it must.  RFC 7162 3.2 (errata 1810): "if server sends MODSEQ FETCH
 * data items while EXPUNGE (or VANISHED) replies with lower mod-sequences
 * are being delayed, the server MUST send HIGHESTMODSEQ response code
 * with a lower value than the EXPUNGE's mod-sequence."  A client that
 * took a FETCH's MODSEQ as its HIGHESTMODSEQ while an expunge was held
 * back (FETCH, STORE, SEARCH by number) would resync from there and never
 * hear of the expunge.  So after such a sync, with an expunge held, the
 * last value from before it is said again; the client takes a
 * HIGHESTMODSEQ code over the MODSEQs it saw (RFC 7162 6).  Without a
 * held expunge, the view's value is safe.  Refreshed only when something
 * changed: a value too low is safe (a resync says a little more).
 */
static void
note_highestmodseq(struct imap_server *s, bool allow_expunge, bool changed,
		   struct buf *out)
{
	if (!s->condstore)
		return;
	if (!allow_expunge && expunges_pending(s)) {
		buf_printf(out, "* OK [HIGHESTMODSEQ %llu] Expunges are held "
			   "back\r\n", (unsigned long long)s->highestmodseq);
		return;
	}
	if (changed)
		s->highestmodseq = view_highestmodseq(s);
}

enum imap_act
imap_sync(struct imap_server *s, bool allow_expunge, struct buf *out)
{
	struct imap_changes ch;
	char err[200];
	bool more_recent, fresh = false;
	uint32_t *before = NULL, kept;
	size_t nbefore = s->count;
	enum imap_mres r;

	if (s->state != ST_SELECTED)
		return IMAP_ACT_NONE;
	if (s->qresync && allow_expunge)
		before = view_uids(s);
	memset(&ch, 0, sizeof(ch));
	r = s->ops->sync(s->mctx, !allow_expunge, &ch, err, sizeof(err));
	if (r != IMAP_M_OK) {
		free(before);
		if (r == IMAP_M_PERM || r == IMAP_M_NOTFOUND)
			return view_lost(s, out);
		return IMAP_ACT_NONE;	/* said at the next sync */
	}
	if (before != NULL && ch.nexpunged > 0)
		(void)say_vanished(s, before, nbefore, ch.count, out);
	free(before);
	for (size_t i = 0; i < ch.nexpunged; i++) {
		if (!s->qresync)
			buf_printf(out, "* %u EXPUNGE\r\n", ch.expunged[i] + 1);
		if (s->count > 0)
			s->count--;
	}
	kept = s->count;	/* the new messages come after these */
	more_recent = imap_add_recent(s, ch.recent_lo, ch.recent_hi);
	if (ch.count != s->count || more_recent) {
		bool grew = ch.count != s->count;

		s->count = ch.count;
		if (grew)
			buf_printf(out, "* %u EXISTS\r\n", s->count);
		if (!s->rev2)
			buf_printf(out, "* %u RECENT\r\n", imap_recent_count(s));
	}
	if (imap_last_uid(s) >= s->uidnext && imap_last_uid(s) < UINT32_MAX)
		s->uidnext = imap_last_uid(s) + 1;
	/* a keyword new to the session, in a change or a new message */
	for (size_t i = 0; i < ch.nchanged; i++)
		if (ch.changed[i] < s->count)
			fresh |= learn_msg(s, ch.changed[i]);
	for (uint32_t i = kept; i < s->count; i++)
		fresh |= learn_msg(s, i);
	if (fresh)
		imap_write_flag_lists(s, out);
	for (size_t i = 0; i < ch.nchanged; i++)
		if (ch.changed[i] < s->count)
			imap_write_flags_fetch(s, ch.changed[i], false, out);
	note_highestmodseq(s, allow_expunge, ch.nexpunged > 0 ||
			   ch.nchanged > 0 || ch.count != nbefore, out);
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
	imap_keywords_free(&s->told);
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
	if (imap_seqset_parse(a->str, a->len, IMAP_SET_RANGES_MAX, set,
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

/*
 * Turns CONDSTORE on; said once with a mailbox selected (RFC 7162 3.1):
 * the view's HIGHESTMODSEQ, or while an expunge is held back the last
 * value from before it (note_highestmodseq says why).
 */
void
imap_condstore_on(struct imap_server *s, struct buf *out)
{
	if (s->condstore)
		return;
	s->condstore = true;
	if (s->state != ST_SELECTED)
		return;
	if (!expunges_pending(s))
		s->highestmodseq = view_highestmodseq(s);
	buf_printf(out, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
		   (unsigned long long)s->highestmodseq);
}

/* --- VANISHED (EARLIER) --------------------------------------------------- */

#define VANISHED_LINE_RANGES 1000 /* ranges in one VANISHED (EARLIER) */

struct vanished_out {
	struct buf *out;
	size_t ranges;		/* in the line being written */
};

static void
vanished_range(struct vanished_out *vo, uint32_t lo, uint32_t hi)
{
	if (vo->ranges == VANISHED_LINE_RANGES) {
		buf_addstr(vo->out, "\r\n");
		vo->ranges = 0;
	}
	buf_addstr(vo->out, vo->ranges == 0 ? "* VANISHED (EARLIER) " : ",");
	if (lo == hi)
		buf_printf(vo->out, "%u", lo);
	else
		buf_printf(vo->out, "%u:%u", lo, hi);
	vo->ranges++;
}

/*
 * The UIDs of [lo, hi] the view does not hold, as ranges; *j walks the
 * view (UIDs ascending) and is left at the first UID above hi.
 */
static void
vanished_ranges(struct imap_server *s, uint32_t lo, uint32_t hi, uint32_t *j,
		struct vanished_out *vo)
{
	struct imap_msg m;
	uint64_t next = lo;	/* the first UID not yet looked at */

	while (*j < s->count) {
		s->ops->msg(s->mctx, *j, &m);
		if (m.uid > hi)
			break;
		if (m.uid >= next) {
			if (m.uid > next)
				vanished_range(vo, (uint32_t)next, m.uid - 1);
			next = (uint64_t)m.uid + 1;
		}
		(*j)++;
	}
	if (next <= hi)
		vanished_range(vo, (uint32_t)next, hi);
}

/*
 * The store keeps no log of which UIDs were expunged when, so this says
 * every UID of the set the mailbox does not hold, whatever the client's
 * mod-sequence.  RFC 7162 allows it, 5.1: "Strictly speaking, a server
 * implementation that doesn't remember mod-sequences associated with
 * expunged messages can be considered compliant with this specification.
 * Such implementations return all expunged messages specified in the UID
 * set of the UID FETCH (VANISHED) command every time, without paying
 * attention to the specified CHANGEDSINCE mod-sequence."  And 3.2.6:
 * "A server that receives a mod-sequence smaller than <minmodseq>, where
 * <minmodseq> is the value of the smallest expunged mod-sequence it
 * remembers minus one, MUST behave as if it was requested to report all
 * expunged messages from the provided UID set parameter."  A UID of the
 * set that was never used is said too: the server cannot tell it from
 * one expunged, VANISHED (EARLIER) moves no sequence number (3.2.10.1),
 * and no message can ever have it.  UIDs above the last one the session
 * may know of (SELECT's UIDNEXT, or a later UID it said) are left out:
 * they may yet be given.
 */
void
imap_write_vanished_earlier(struct imap_server *s,
			    const struct imap_seqset *set, uint32_t from,
			    struct buf *out)
{
	struct vanished_out vo = {out, 0};
	uint32_t top = s->uidnext > 0 ? s->uidnext - 1 : 0, j = 0;

	if (imap_last_uid(s) > top)
		top = imap_last_uid(s);
	for (size_t k = 0; k < set->n; k++) {
		uint32_t lo = set->r[k].lo, hi = set->r[k].hi;

		if (lo < from)
			lo = from;
		if (hi > top)
			hi = top;
		if (lo == 0 || lo > hi)
			continue;
		vanished_ranges(s, lo, hi, &j, &vo);
	}
	if (vo.ranges > 0)
		buf_addstr(out, "\r\n");
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

