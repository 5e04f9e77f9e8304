/*
 * imap_cmd_select - the selected state's frame (RFC 9051 6.3.2, 6.4, 7.4
 * and 7.5.1): SELECT and EXAMINE, CLOSE, UNSELECT, EXPUNGE and UID
 * EXPUNGE, CHECK and IDLE (RFC 2177); the untagged updates they end with
 * are imap_view.c's.
 *
 * The store is reached through imap_mbox.h only; a failed call is a
 * tagged NO with its response code, and the view stays as it was.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_server_private.h"

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
		buf_printf(out, "* %u RECENT\r\n", imap_recent_count(s));
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
	const char *why = "Invalid arguments";
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
	imap_add_recent(s, info.recent_lo, info.recent_hi);
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
	const char *why = "Invalid arguments";
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
