/*
 * imap_cmd_select - the selected state's frame (RFC 9051 6.3.2, 6.4, 7.4
 * and 7.5.1): SELECT and EXAMINE, CLOSE, UNSELECT, EXPUNGE and UID
 * EXPUNGE, CHECK and IDLE (RFC 2177); the untagged updates they end with
 * are imap_view.c's.  SELECT's QRESYNC parameter (RFC 7162 3.2.5) resyncs
 * a client: VANISHED (EARLIER) for what is gone, then FETCH for what
 * changed since its mod-sequence.
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
	imap_keywords_reset(s, info->keywords);
	imap_write_flag_lists(s, out);
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

/* SELECT (QRESYNC (uidvalidity modseq [known-uids] [seq-match-data])). */
struct qresync {
	bool on;
	uint32_t uidvalidity;
	uint64_t modseq;
	struct imap_seqset known;	/* n == 0: 1:UIDNEXT-1 */
	struct imap_seqset mseq, muid;	/* seq-match-data, n == 0: none */
};

static void
qresync_free(struct qresync *q)
{
	imap_seqset_free(&q->known);
	imap_seqset_free(&q->mseq);
	imap_seqset_free(&q->muid);
}

/* A sequence set without "*" (known-uids, seq-match-data: RFC 7162 7),
 * sorted and merged. */
static int
plain_set(const struct imap_arg *a, struct imap_seqset *set)
{
	const char *why;

	if (a->type != IMAP_ARG_ATOM || memchr(a->str, '*', a->len) != NULL ||
	    imap_seqset_parse(a->str, a->len, IMAP_SET_RANGES_MAX, set,
			      &why) == -1)
		return -1;
	imap_seqset_resolve(set, 0);
	return 0;
}

/* How many numbers a resolved set holds. */
static uint64_t
set_size(const struct imap_seqset *set)
{
	uint64_t n = 0;

	for (size_t k = 0; k < set->n; k++)
		n += (uint64_t)set->r[k].hi - set->r[k].lo + 1;
	return n;
}

/* seq-match-data: "(" known-sequence-set SP known-uid-set ")", as many
 * of each (RFC 7162 3.2.5.2). */
static int
match_data(const struct imap_arg *a, struct qresync *q)
{
	if (a->type != IMAP_ARG_LIST || a->n != 2 ||
	    plain_set(&a->list[0], &q->mseq) == -1 ||
	    plain_set(&a->list[1], &q->muid) == -1)
		return -1;
	return set_size(&q->mseq) == set_size(&q->muid) ? 0 : -1;
}

/* QRESYNC's list; -1 for a BAD. */
static int
qresync_param(const struct imap_arg *a, struct qresync *q)
{
	uint64_t v;
	size_t i = 2;

	if (q->on || a->type != IMAP_ARG_LIST || a->n < 2 || a->n > 4 ||
	    imap_number64(&a->list[0], &v) == -1 || v == 0 ||
	    v > UINT32_MAX || imap_number64(&a->list[1], &q->modseq) == -1)
		return -1;
	q->on = true;
	q->uidvalidity = (uint32_t)v;
	if (i < a->n && a->list[i].type == IMAP_ARG_ATOM &&
	    plain_set(&a->list[i++], &q->known) == -1)
		return -1;
	if (i < a->n && match_data(&a->list[i++], q) == -1)
		return -1;
	return i == a->n ? 0 : -1;
}

/*
 * SELECT's optional parameters: (CONDSTORE) of RFC 7162 3.1.8 and
 * (QRESYNC (...)) of 3.2.5, the latter only once ENABLE QRESYNC said so
 * ("A server MUST respond with a tagged BAD response if the Quick
 * Resynchronization parameter to SELECT/EXAMINE command is specified and
 * the client hasn't issued "ENABLE QRESYNC"").  *why_r: the BAD's text.
 */
static bool
select_params(struct imap_server *s, const struct imap_arg *a,
	      struct qresync *q, const char **why_r)
{
	*why_r = "Unknown SELECT parameter";
	for (size_t i = 0; i < a->n; i++) {
		if (a->list[i].type != IMAP_ARG_ATOM)
			return false;
		if (strcasecmp(a->list[i].str, "CONDSTORE") == 0) {
			s->condstore = true;
			continue;
		}
		if (strcasecmp(a->list[i].str, "QRESYNC") != 0)
			return false;
		if (!s->qresync) {
			*why_r = "QRESYNC is not enabled (ENABLE QRESYNC)";
			return false;
		}
		*why_r = "Invalid QRESYNC parameter";
		if (i + 1 == a->n || qresync_param(&a->list[++i], q) == -1)
			return false;
	}
	return true;
}

/*
 * The UID below which nothing vanished, by seq-match-data (RFC 7162
 * 3.2.5.2): "If a pair matches, then the client knows of any expunges up
 * to, and including, the message"; the pairs are taken in order up to
 * the first that does not match.
 */
static uint32_t
matched_from(struct imap_server *s, const struct qresync *q)
{
	uint32_t from = 1;
	size_t a = 0, b = 0;
	uint64_t seq = q->mseq.n > 0 ? q->mseq.r[0].lo : 0;
	uint64_t uid = q->muid.n > 0 ? q->muid.r[0].lo : 0;

	while (a < q->mseq.n && b < q->muid.n) {
		struct imap_msg m;

		if (seq == 0 || seq > s->count)
			break;
		s->ops->msg(s->mctx, (uint32_t)seq - 1, &m);
		if (m.uid != uid || m.expunged || uid == UINT32_MAX)
			break;
		from = (uint32_t)uid + 1;
		if (++seq > q->mseq.r[a].hi && ++a < q->mseq.n)
			seq = q->mseq.r[a].lo;
		if (++uid > q->muid.r[b].hi && ++b < q->muid.n)
			uid = q->muid.r[b].lo;
	}
	return from;
}

/*
 * After SELECT's responses, QRESYNC's (RFC 7162 3.2.5.1): VANISHED
 * (EARLIER) for the known UIDs gone (before any FETCH, "otherwise the
 * client might get confused about how message numbers map to UIDs"),
 * then a FETCH of each known message changed since the client's
 * mod-sequence, then the tagged OK.  Nothing when the UIDVALIDITY differs
 * ("the server MUST ignore the remaining parameters and behave as if no
 * dynamic message data changed").  Nothing either when the client's
 * mod-sequence is the mailbox's HIGHESTMODSEQ or above: every expunge
 * raises it, so nothing was expunged or changed since (RFC 7162 5.2).
 */
static enum imap_act
qresync_resync(struct imap_server *s, const char *tag, struct qresync *q,
	       const struct imap_view_info *info, const char *done,
	       struct buf *out)
{
	uint32_t *pos;
	size_t n = 0;

	if (q->uidvalidity != info->uidvalidity ||
	    q->modseq >= info->highestmodseq) {
		imap_tagged(out, tag, "OK", done);
		return IMAP_ACT_NONE;
	}
	if (q->known.n == 0 && info->uidnext > 1) {
		q->known.r = xmalloc(sizeof(*q->known.r));
		q->known.r[0].lo = 1;
		q->known.r[0].hi = info->uidnext - 1;
		q->known.n = 1;
	}
	imap_write_vanished_earlier(s, &q->known, matched_from(s, q), out);
	pos = xmalloc(((size_t)s->count + 1) * sizeof(*pos));
	for (uint32_t i = 0; i < s->count; i++) {
		struct imap_msg m;

		s->ops->msg(s->mctx, i, &m);
		if (m.modseq > q->modseq && !m.expunged &&
		    imap_seqset_has(&q->known, m.uid))
			pos[n++] = i;
	}
	return imap_fetch_changed(s, tag, pos, n, done, out);
}

static enum imap_act
select_or_examine(struct imap_server *s, const char *tag,
		  const struct imap_arg *args, size_t nargs, bool readonly,
		  struct buf *out)
{
	struct buf *name = buf_new(4096);
	struct imap_view_info info;
	struct qresync q = {0};
	const char *why = "Invalid arguments";
	const char *done = readonly ? "[READ-ONLY] EXAMINE completed"
				    : "[READ-WRITE] SELECT completed";
	char err[200];
	enum imap_mres r;
	enum imap_act a = IMAP_ACT_NONE;

	if (nargs < 1 || nargs > 2 ||
	    (nargs == 2 && args[1].type != IMAP_ARG_LIST) ||
	    imap_mailbox_arg(s, &args[0], name, &why) == -1) {
		buf_free(&name);
		return imap_bad(s, tag, nargs < 1 || nargs > 2 ?
				"SELECT needs a mailbox name" : why, out);
	}
	if (nargs == 2 && !select_params(s, &args[1], &q, &why)) {
		buf_free(&name);
		qresync_free(&q);
		return imap_bad(s, tag, why, out);
	}
	if (s->state == ST_SELECTED) {
		/* RFC 7162 3.2.11, RFC 9051 7.1: what comes before it was
		 * the old mailbox's */
		imap_unselect(s);
		buf_addstr(out, "* OK [CLOSED] Previous mailbox closed\r\n");
	}
	r = s->ops->select(s->mctx, name->data, readonly, &info, err,
			   sizeof(err));
	if (r != IMAP_M_OK) {
		buf_free(&name);
		qresync_free(&q);
		imap_tagged_mres(out, tag, r, err, false);
		return IMAP_ACT_NONE;
	}
	s->state = ST_SELECTED;
	s->mailbox = xstrdup(name->data);
	buf_free(&name);
	s->readonly = readonly;
	s->count = info.count;
	s->uidvalidity = info.uidvalidity;
	s->uidnext = info.uidnext;
	s->highestmodseq = info.highestmodseq;
	imap_add_recent(s, info.recent_lo, info.recent_hi);
	write_selected(s, &info, out);
	if (q.on)
		a = qresync_resync(s, tag, &q, &info, done, out);
	else
		imap_tagged(out, tag, "OK", done);
	qresync_free(&q);
	return a;
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
 * Removes the messages with \Deleted (in set, if not NULL: UID EXPUNGE);
 * *n_r: how many.  Nothing is written; the next sync reports them.
 */
static enum imap_mres
expunge_deleted(struct imap_server *s, const struct imap_seqset *set,
		size_t *n_r, char *err, size_t errsz)
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
	*n_r = n;
	return r;
}

/*
 * (UID) EXPUNGE: the expunges said (VANISHED with QRESYNC), then the
 * tagged OK; with QRESYNC, when some message went, with the mailbox's
 * new HIGHESTMODSEQ (RFC 7162 3.2.7 and 3.2.9: "If at least one message
 * got expunged and QRESYNC was enabled, the server MUST send the updated
 * per-mailbox modification sequence using the HIGHESTMODSEQ response
 * code").
 */
static enum imap_act
expunge_and_report(struct imap_server *s, const char *tag,
		   const struct imap_seqset *set, const char *what,
		   struct buf *out)
{
	char err[200];
	size_t n = 0;
	enum imap_mres r;
	enum imap_act a;

	if (s->readonly) {
		imap_tagged(out, tag, "NO", "[READ-ONLY] Mailbox is "
			    "read-only");
		return IMAP_ACT_NONE;
	}
	r = expunge_deleted(s, set, &n, err, sizeof(err));
	a = imap_sync(s, true, out);
	if (a != IMAP_ACT_NONE)
		return a;
	if (r != IMAP_M_OK)
		imap_tagged_mres(out, tag, r, err, false);
	else if (s->qresync && n > 0)
		buf_printf(out, "%s OK [HIGHESTMODSEQ %llu] %s completed\r\n",
			   tag, (unsigned long long)s->highestmodseq, what);
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
	size_t n;

	(void)args;
	if (nargs != 0)
		return imap_bad(s, tag, "CLOSE takes no arguments", out);
	/* CLOSE expunges silently (no VANISHED either, nor HIGHESTMODSEQ:
	 * RFC 7162 3.2.8); a failure there still closes */
	if (!s->readonly)
		(void)expunge_deleted(s, NULL, &n, err, sizeof(err));
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
