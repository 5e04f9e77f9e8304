/*
 * imap_cmd_select - the selected state's frame (RFC 9051 6.3.2, 6.4, 7.4
 * and 7.5.1): SELECT and EXAMINE, CLOSE, UNSELECT, EXPUNGE and UID
 * EXPUNGE, CHECK, IDLE (RFC 2177), and the untagged updates every command
 * ends with (EXISTS, RECENT, EXPUNGE, FETCH FLAGS), said only where the
 * RFC allows: never an EXPUNGE while a FETCH, STORE or SEARCH by sequence
 * number answers, since the numbers the client holds would shift.
 *
 * The store is reached through imap_mbox.h only; a failed call is a
 * tagged NO with its response code, and the view stays as it was.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_server_private.h"

/* --- untagged updates ----------------------------------------------------- */

/* The messages of the view that are \Recent in this session. */
static uint32_t
recent_count(struct imap_server *s)
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
static bool
add_recent(struct imap_server *s, uint32_t lo, uint32_t hi)
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
	if (r == IMAP_M_PERM)
		return view_lost(s, err, out);
	if (r != IMAP_M_OK)
		return IMAP_ACT_NONE;	/* said at the next sync */
	for (size_t i = 0; i < ch.nexpunged; i++) {
		buf_printf(out, "* %u EXPUNGE\r\n", ch.expunged[i] + 1);
		if (s->count > 0)
			s->count--;
	}
	more_recent = add_recent(s, ch.recent_lo, ch.recent_hi);
	if (ch.count != s->count || more_recent) {
		bool grew = ch.count != s->count;

		s->count = ch.count;
		if (grew)
			buf_printf(out, "* %u EXISTS\r\n", s->count);
		if (!s->rev2)
			buf_printf(out, "* %u RECENT\r\n", recent_count(s));
	}
	for (size_t i = 0; i < ch.nchanged; i++)
		if (ch.changed[i] < s->count)
			imap_write_flags_fetch(s, ch.changed[i], false, out);
	return IMAP_ACT_NONE;
}

/* --- SELECT and EXAMINE --------------------------------------------------- */

static void
write_flag_lists(const struct imap_server *s, const char *keywords,
		 struct buf *out)
{
	const char *kw = keywords != NULL && *keywords != '\0' ? keywords
							       : NULL;

	buf_printf(out, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen "
		   "\\Draft%s%s)\r\n", kw ? " " : "", kw ? kw : "");
	if (s->readonly)
		buf_addstr(out, "* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n");
	else
		buf_printf(out, "* OK [PERMANENTFLAGS (\\Answered \\Flagged "
			   "\\Deleted \\Seen \\Draft%s%s \\*)] Flags permitted"
			   "\r\n", kw ? " " : "", kw ? kw : "");
}

/* rev1's [UNSEEN n]: the first message without \Seen. */
static void
write_unseen(struct imap_server *s, struct buf *out)
{
	for (uint32_t i = 0; i < s->count; i++) {
		struct imap_msg m;

		s->ops->msg(s->mctx, i, &m);
		if (!(m.flags & IMAP_F_SEEN)) {
			buf_printf(out, "* OK [UNSEEN %u] First unseen\r\n",
				   i + 1);
			return;
		}
	}
}

static void
write_selected(struct imap_server *s, const struct imap_view_info *info,
	       struct buf *out)
{
	buf_printf(out, "* %u EXISTS\r\n", s->count);
	if (!s->rev2) {
		buf_printf(out, "* %u RECENT\r\n", recent_count(s));
		write_unseen(s, out);
	}
	write_flag_lists(s, info->keywords, out);
	buf_printf(out, "* OK [UIDVALIDITY %u] UIDs valid\r\n",
		   s->uidvalidity);
	buf_printf(out, "* OK [UIDNEXT %u] Predicted next UID\r\n",
		   info->uidnext);
	buf_printf(out, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
		   (unsigned long long)info->highestmodseq);
	if (s->rev2) {	/* RFC 9051 6.3.2: the name as the server has it */
		buf_addstr(out, "* LIST () \"/\" ");
		imap_mailbox_write(s, s->mailbox, out);
		buf_addstr(out, "\r\n");
	}
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

/* SELECT's optional parameters: (CONDSTORE) of RFC 7162 3.1.8. */
static bool
select_params(struct imap_server *s, const struct imap_arg *a)
{
	for (size_t i = 0; i < a->n; i++) {
		if (a->list[i].type != IMAP_ARG_ATOM ||
		    strcasecmp(a->list[i].str, "CONDSTORE") != 0)
			return false;
		s->condstore = true;
	}
	return true;
}

static enum imap_act
select_or_examine(struct imap_server *s, const char *tag,
		  const struct imap_arg *args, size_t nargs, bool readonly,
		  struct buf *out)
{
	struct buf *name = buf_new(4096);
	struct imap_view_info info;
	const char *why;
	char err[200];
	enum imap_mres r;

	if (nargs < 1 || nargs > 2 ||
	    (nargs == 2 && args[1].type != IMAP_ARG_LIST) ||
	    imap_mailbox_arg(s, &args[0], name, &why) == -1) {
		buf_free(&name);
		return imap_bad(s, tag, nargs < 1 || nargs > 2 ?
				"SELECT needs a mailbox name" : why, out);
	}
	if (nargs == 2 && !select_params(s, &args[1])) {
		buf_free(&name);
		return imap_bad(s, tag, "Unknown SELECT parameter", out);
	}
	if (s->state == ST_SELECTED) {
		imap_unselect(s);
		buf_addstr(out, "* OK [CLOSED] Previous mailbox closed\r\n");
	}
	r = s->ops->select(s->mctx, name->data, readonly, &info, err,
			   sizeof(err));
	if (r != IMAP_M_OK) {
		buf_free(&name);
		imap_tagged_mres(out, tag, r, err, false);
		return IMAP_ACT_NONE;
	}
	s->state = ST_SELECTED;
	s->mailbox = xstrdup(name->data);
	buf_free(&name);
	s->readonly = readonly;
	s->count = info.count;
	s->uidvalidity = info.uidvalidity;
	add_recent(s, info.recent_lo, info.recent_hi);
	write_selected(s, &info, out);
	buf_printf(out, "%s OK [%s] %s completed\r\n", tag,
		   readonly ? "READ-ONLY" : "READ-WRITE",
		   readonly ? "EXAMINE" : "SELECT");
	return IMAP_ACT_NONE;
}

enum imap_act
imap_cmd_select(struct imap_server *s, const char *tag,
		const struct imap_arg *args, size_t nargs, struct buf *out)
{
	return select_or_examine(s, tag, args, nargs, false, out);
}

enum imap_act
imap_cmd_examine(struct imap_server *s, const char *tag,
		 const struct imap_arg *args, size_t nargs, struct buf *out)
{
	return select_or_examine(s, tag, args, nargs, true, out);
}

/* --- EXPUNGE, CLOSE, UNSELECT, CHECK -------------------------------------- */

/*
 * Removes the messages with \Deleted (in set, if not NULL: UID EXPUNGE).
 * Nothing is written; the next sync reports them.
 */
static enum imap_mres
expunge_deleted(struct imap_server *s, const struct imap_seqset *set,
		char *err, size_t errsz)
{
	uint32_t *pos = xmalloc((s->count + 1) * sizeof(*pos));
	size_t n = 0;
	enum imap_mres r = IMAP_M_OK;

	for (uint32_t i = 0; i < s->count; i++) {
		struct imap_msg m;

		s->ops->msg(s->mctx, i, &m);
		if ((m.flags & IMAP_F_DELETED) && !m.expunged &&
		    (set == NULL || imap_seqset_has(set, m.uid)))
			pos[n++] = i;
	}
	if (n > 0)
		r = s->ops->expunge(s->mctx, pos, n, err, errsz);
	free(pos);
	return r;
}

static enum imap_act
expunge_and_report(struct imap_server *s, const char *tag,
		   const struct imap_seqset *set, const char *what,
		   struct buf *out)
{
	char err[200];
	enum imap_mres r;
	enum imap_act a;

	if (s->readonly) {
		imap_tagged(out, tag, "NO", "[READ-ONLY] Mailbox is "
			    "read-only");
		return IMAP_ACT_NONE;
	}
	r = expunge_deleted(s, set, err, sizeof(err));
	a = imap_sync(s, true, out);
	if (a != IMAP_ACT_NONE)
		return a;
	if (r != IMAP_M_OK)
		imap_tagged_mres(out, tag, r, err, false);
	else
		buf_printf(out, "%s OK %s completed\r\n", tag, what);
	return IMAP_ACT_NONE;
}

enum imap_act
imap_cmd_expunge(struct imap_server *s, const char *tag,
		 const struct imap_arg *args, size_t nargs, struct buf *out)
{
	(void)args;
	if (nargs != 0)
		return imap_bad(s, tag, "EXPUNGE takes no arguments", out);
	return expunge_and_report(s, tag, NULL, "EXPUNGE", out);
}

/* UID EXPUNGE set (RFC 4315 2.1, RFC 9051 6.4.9). */
enum imap_act
imap_uid_expunge(struct imap_server *s, const char *tag,
		 const struct imap_arg *args, size_t nargs, struct buf *out)
{
	struct imap_seqset set;
	const char *why;
	enum imap_act a;

	if (nargs != 1 || imap_set_arg(s, &args[0], true, &set, &why) == -1)
		return imap_bad(s, tag, nargs != 1 ? "UID EXPUNGE needs a "
				"set of UIDs" : why, out);
	a = expunge_and_report(s, tag, &set, "UID EXPUNGE", out);
	imap_seqset_free(&set);
	return a;
}

enum imap_act
imap_cmd_close(struct imap_server *s, const char *tag,
	       const struct imap_arg *args, size_t nargs, struct buf *out)
{
	char err[200];

	(void)args;
	if (nargs != 0)
		return imap_bad(s, tag, "CLOSE takes no arguments", out);
	/* CLOSE expunges silently; a failure there still closes */
	if (!s->readonly)
		(void)expunge_deleted(s, NULL, err, sizeof(err));
	imap_unselect(s);
	imap_tagged(out, tag, "OK", "CLOSE completed");
	return IMAP_ACT_NONE;
}

enum imap_act
imap_cmd_unselect(struct imap_server *s, const char *tag,
		  const struct imap_arg *args, size_t nargs, struct buf *out)
{
	(void)args;
	if (nargs != 0)
		return imap_bad(s, tag, "UNSELECT takes no arguments", out);
	imap_unselect(s);
	imap_tagged(out, tag, "OK", "UNSELECT completed");
	return IMAP_ACT_NONE;
}

enum imap_act
imap_cmd_check(struct imap_server *s, const char *tag,
	       const struct imap_arg *args, size_t nargs, struct buf *out)
{
	enum imap_act a;

	(void)args;
	if (nargs != 0)
		return imap_bad(s, tag, "CHECK takes no arguments", out);
	if ((a = imap_sync(s, true, out)) != IMAP_ACT_NONE)
		return a;
	imap_tagged(out, tag, "OK", "CHECK completed");
	return IMAP_ACT_NONE;
}

/* --- IDLE (RFC 2177, RFC 9051 6.3.13) ------------------------------------- */

enum imap_act
imap_cmd_idle(struct imap_server *s, const char *tag,
	      const struct imap_arg *args, size_t nargs, struct buf *out)
{
	enum imap_act a;

	(void)args;
	if (nargs != 0)
		return imap_bad(s, tag, "IDLE takes no arguments", out);
	if ((a = imap_sync(s, true, out)) != IMAP_ACT_NONE)
		return a;
	free(s->tag);
	s->tag = xstrdup(tag);
	s->idling = true;
	imap_parser_want_line(s->parser);
	buf_addstr(out, "+ idling\r\n");
	return IMAP_ACT_IDLE;
}

/* The line that ends IDLE: DONE, else a BAD (and IDLE ends too). */
enum imap_act
imap_idle_line(struct imap_server *s, const char *line, size_t len,
	       struct buf *out)
{
	char *tag = s->tag;
	enum imap_act a;

	s->tag = NULL;
	s->idling = false;
	if (len == 4 && strncasecmp(line, "DONE", 4) == 0) {
		a = imap_sync(s, true, out);
		if (a == IMAP_ACT_NONE)
			imap_tagged(out, tag, "OK", "IDLE terminated");
	} else {
		a = imap_bad(s, tag, "Expected DONE", out);
	}
	free(tag);
	return a;
}

enum imap_act
imap_server_poll(struct imap_server *s, struct buf *out)
{
	if (!s->idling)
		return IMAP_ACT_NONE;
	return imap_sync(s, true, out);
}

bool
imap_server_idling(const struct imap_server *s)
{
	return s->idling;
}

const char *
imap_server_selected(const struct imap_server *s)
{
	return s->state == ST_SELECTED ? s->mailbox : NULL;
}
