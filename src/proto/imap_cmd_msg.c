/*
 * imap_cmd_msg - the commands on messages of the selected mailbox (RFC
 * 9051 6.4): FETCH, STORE, COPY, MOVE (RFC 6851), SEARCH and their UID
 * forms, with UIDPLUS's COPYUID (RFC 4315), CONDSTORE's CHANGEDSINCE,
 * UNCHANGEDSINCE and MODSEQ, QRESYNC's VANISHED (RFC 7162) and
 * SEARCHRES's "$" (RFC 5182).
 * What the items and keys mean is imap_fetch's and imap_search's; this
 * file picks the messages, calls the store, and writes the frame.
 *
 * A FETCH writes through imap_fetch_write, which stops once the output
 * holds conf->out_max octets: the job is kept in s->fetch, the program
 * sends the output (IMAP_ACT_OUTPUT) and calls imap_server_resume().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_fetch.h"
#include "imap_search.h"
#include "imap_server_private.h"
#include "imap_sort.h"

/* --- picking messages ----------------------------------------------------- */

/* Drops the positions of messages expunged meanwhile; true if any. */
static bool
drop_expunged(struct imap_server *s, uint32_t *pos, size_t *n)
{
	size_t k = 0;

	for (size_t i = 0; i < *n; i++) {
		struct imap_msg m;

		s->ops->msg(s->mctx, pos[i], &m);
		if (!m.expunged)
			pos[k++] = pos[i];
	}
	if (k == *n)
		return false;
	*n = k;
	return true;
}

/* The untagged updates a command ends with, then its tagged OK text. */
static enum imap_act
finish(struct imap_server *s, const char *tag, bool uid, const char *text,
       struct buf *out)
{
	enum imap_act a = imap_sync(s, uid, out);

	if (a == IMAP_ACT_NONE)
		imap_tagged(out, tag, "OK", text);
	return a;
}

/* --- FETCH ---------------------------------------------------------------- */

struct imap_fetch_job {
	char *tag;
	char *done;		/* the tagged OK's text; NULL: the usual */
	bool uid, gone;
	bool text;		/* the items read the message text */
	struct imap_fetch_items *items;
	uint32_t *pos;
	size_t n, i;
	/* the message being written */
	struct imap_msg m;
	struct imap_fetch_msg fm;
	struct imap_fetch_writer *w;	/* made once, reset per message */
	bool busy;			/* w is writing message i */
	void *rd;
};

static void
fetch_job_free(struct imap_server *s)
{
	struct imap_fetch_job *j = s->fetch;

	if (j == NULL)
		return;
	imap_fetch_writer_free(&j->w);
	if (j->rd != NULL)
		s->ops->close(j->rd);
	imap_fetch_items_free(&j->items);
	free(j->pos);
	free(j->tag);
	free(j->done);
	free(j);
	s->fetch = NULL;
}

/* Sets up the writer of the next message; false if it is gone. */
static bool
fetch_start_msg(struct imap_server *s, struct imap_fetch_job *j)
{
	uint32_t pos = j->pos[j->i];
	char err[200];

	s->ops->msg(s->mctx, pos, &j->m);
	if (j->m.expunged)
		return false;
	memset(&j->fm, 0, sizeof(j->fm));
	j->fm.seq = pos + 1;
	j->fm.m = &j->m;
	j->fm.recent = imap_is_recent(s, &j->m);
	j->fm.rev2 = s->rev2;
	if (j->text) {
		if (s->ops->open(s->mctx, pos, &j->rd, err, sizeof(err)) !=
		    IMAP_M_OK)
			return false;
		j->fm.rd = j->rd;
		j->fm.read = s->ops->read;
		j->fm.rewind = s->ops->rewind;
	}
	if (j->w == NULL)
		j->w = imap_fetch_writer_new(j->items, &j->fm);
	else
		imap_fetch_writer_reset(j->w, &j->fm);
	j->busy = true;
	return true;
}

static void
fetch_end_msg(struct imap_server *s, struct imap_fetch_job *j)
{
	j->busy = false;
	if (j->rd != NULL)
		s->ops->close(j->rd);
	j->rd = NULL;
	j->i++;
}

/* Writes the job on until it ends or the output is full. */
static enum imap_act
fetch_run(struct imap_server *s, struct buf *out)
{
	struct imap_fetch_job *j = s->fetch;
	enum imap_act a;
	char *tag, *done;
	bool uid, gone;

	while (j->i < j->n) {
		int r;

		if (!j->busy && !fetch_start_msg(s, j)) {
			j->gone = true;
			fetch_end_msg(s, j);
			continue;
		}
		r = imap_fetch_write(j->w, out, s->conf->out_max);
		if (r == 1)
			return IMAP_ACT_OUTPUT;
		if (r == -1 && out->len > 0 &&
		    out->data[out->len - 1] != '\n') {
			/* cut inside a response: nothing can mend it */
			buf_addstr(out, "\r\n* BYE Message text unreadable\r\n");
			fetch_job_free(s);
			s->state = ST_LOGOUT;
			return IMAP_ACT_CLOSE;
		}
		if (r == -2) {		/* BINARY of an unknown encoding */
			tag = j->tag;
			j->tag = NULL;
			fetch_job_free(s);
			imap_tagged(out, tag, "NO", "[UNKNOWN-CTE] Unknown "
				    "Content-Transfer-Encoding");
			free(tag);
			return IMAP_ACT_NONE;
		}
		if (r == -1)
			j->gone = true;
		fetch_end_msg(s, j);
	}
	tag = j->tag;
	j->tag = NULL;
	done = j->done;
	j->done = NULL;
	uid = j->uid;
	gone = j->gone;
	fetch_job_free(s);
	if (gone && !uid) {
		a = imap_sync(s, false, out);
		if (a == IMAP_ACT_NONE)
			imap_tagged(out, tag, "NO", "[EXPUNGEISSUED] Some "
				    "messages were expunged meanwhile");
	} else {
		a = finish(s, tag, uid, done != NULL ? done : uid ?
			   "UID FETCH completed" : "FETCH completed", out);
	}
	free(tag);
	free(done);
	return a;
}

enum imap_act
imap_server_resume(struct imap_server *s, struct buf *out)
{
	if (s->fetch == NULL)
		return IMAP_ACT_NONE;
	return fetch_run(s, out);
}

/* FETCH's modifiers (RFC 7162 3.1.4, 3.2.6). */
struct fetch_mods {
	bool changedsince, vanished;
	uint64_t since;
};

/*
 * (CHANGEDSINCE n [VANISHED]), in any order.  VANISHED "MUST only be
 * specified together with the CHANGEDSINCE UID FETCH modifier", "is NOT
 * allowed with a FETCH command", and needs ENABLE QRESYNC (RFC 7162
 * 3.2.6, 3.2.3): each a BAD.  -1 with *why_r.
 */
static int
fetch_modifiers(const struct imap_server *s, const struct imap_arg *a,
		bool uid, struct fetch_mods *fm, const char **why_r)
{
	*why_r = "Invalid FETCH modifier";
	if (a->type != IMAP_ARG_LIST || a->n == 0)
		return -1;
	for (size_t i = 0; i < a->n; i++) {
		const struct imap_arg *m = &a->list[i];

		if (m->type != IMAP_ARG_ATOM)
			return -1;
		if (strcasecmp(m->str, "CHANGEDSINCE") == 0 &&
		    !fm->changedsince && i + 1 < a->n &&
		    imap_number64(&a->list[i + 1], &fm->since) == 0) {
			fm->changedsince = true;
			i++;
		} else if (strcasecmp(m->str, "VANISHED") == 0 &&
			   !fm->vanished) {
			fm->vanished = true;
		} else {
			return -1;
		}
	}
	if (fm->vanished && !uid)
		*why_r = "VANISHED is for UID FETCH only";
	else if (fm->vanished && !s->qresync)
		*why_r = "VANISHED needs ENABLE QRESYNC";
	else if (fm->vanished && !fm->changedsince)
		*why_r = "VANISHED needs CHANGEDSINCE";
	else
		return 0;
	return -1;
}

/*
 * UID FETCH's VANISHED: "* VANISHED (EARLIER)" for the UIDs of the set
 * that are gone, before any FETCH (RFC 7162 3.2.6: "Any VANISHED
 * (EARLIER) responses MUST be returned before any FETCH responses").
 * "*" is the last UID the session may know of, not the last message's:
 * "1:*" must also name UIDs expunged above the last message left.
 */
static void
fetch_vanished(struct imap_server *s, const struct imap_arg *a,
	       struct buf *out)
{
	struct imap_seqset set;
	const char *why;
	uint32_t star = imap_last_uid(s);

	if (a->type == IMAP_ARG_ATOM && strcmp(a->str, "$") == 0) {
		if (s->saved_valid)
			imap_write_vanished_earlier(s, &s->saved, 1, out);
		return;
	}
	if (a->type != IMAP_ARG_ATOM ||
	    imap_seqset_parse(a->str, a->len, IMAP_SET_RANGES_MAX, &set,
			      &why) == -1)
		return;		/* imap_positions says it */
	if (s->uidnext > 0 && s->uidnext - 1 > star)
		star = s->uidnext - 1;
	imap_seqset_resolve(&set, star);
	imap_write_vanished_earlier(s, &set, 1, out);
	imap_seqset_free(&set);
}

/* Leaves the messages whose modseq is above since. */
static void
keep_changed_since(struct imap_server *s, uint32_t *pos, size_t *n,
		   uint64_t since)
{
	size_t k = 0;

	for (size_t i = 0; i < *n; i++) {
		struct imap_msg m;

		s->ops->msg(s->mctx, pos[i], &m);
		if (m.modseq > since)
			pos[k++] = pos[i];
	}
	*n = k;
}

/* \Seen for the messages a FETCH of a body reads (RFC 9051 6.4.5). */
static void
fetch_set_seen(struct imap_server *s, const uint32_t *pos, size_t n)
{
	struct imap_store_req req = {
		.op = IMAP_STORE_ADD, .flags = IMAP_F_SEEN,
	};
	uint32_t *unseen = xmalloc((n + 1) * sizeof(*unseen));
	size_t k = 0;
	char err[200];

	for (size_t i = 0; i < n; i++) {
		struct imap_msg m;

		s->ops->msg(s->mctx, pos[i], &m);
		if (!(m.flags & IMAP_F_SEEN) && !m.expunged)
			unseen[k++] = pos[i];
	}
	if (k > 0)	/* a failure leaves \Seen unset: the FETCH goes on */
		(void)s->ops->store(s->mctx, unseen, k, &req, NULL, err,
				    sizeof(err));
	free(unseen);
}

static enum imap_act
fetch(struct imap_server *s, const char *tag, const struct imap_arg *args,
      size_t nargs, bool uid, struct buf *out)
{
	struct imap_fetch_job *j;
	const char *why = "FETCH needs a set and items";
	struct fetch_mods fm = {0};

	if (nargs < 2 || nargs > 3)
		return imap_bad(s, tag, why, out);
	if (nargs == 3 && fetch_modifiers(s, &args[2], uid, &fm, &why) == -1)
		return imap_bad(s, tag, why, out);
	j = xcalloc(1, sizeof(*j));
	if (imap_fetch_parse(&args[1], &j->items, &why) == -1 ||
	    imap_positions(s, &args[0], uid, &j->pos, &j->n, &why) == -1) {
		imap_fetch_items_free(&j->items);
		free(j);
		return imap_bad(s, tag, why, out);
	}
	j->tag = xstrdup(tag);
	j->uid = uid;
	s->fetch = j;
	if (uid)
		imap_fetch_add_uid(j->items);
	if (fm.changedsince || imap_fetch_wants_modseq(j->items)) {
		imap_condstore_on(s, out);
		imap_fetch_add_modseq(j->items);
	}
	if (fm.vanished)
		fetch_vanished(s, &args[0], out);
	if (fm.changedsince)
		keep_changed_since(s, j->pos, &j->n, fm.since);
	if (imap_fetch_sets_seen(j->items) && !s->readonly) {
		fetch_set_seen(s, j->pos, j->n);
		imap_fetch_add_flags(j->items);
		if (s->qresync) {	/* RFC 7162 3.2.4 */
			imap_fetch_add_uid(j->items);
			imap_fetch_add_modseq(j->items);
		}
	}
	j->text = imap_fetch_wants_text(j->items);
	return fetch_run(s, out);
}

enum imap_act
imap_fetch_changed(struct imap_server *s, const char *tag, uint32_t *pos,
		   size_t n, const char *done, struct buf *out)
{
	static const struct imap_arg flags = {
		.type = IMAP_ARG_ATOM, .str = "FLAGS", .len = 5,
	};
	struct imap_fetch_job *j = xcalloc(1, sizeof(*j));
	const char *why;

	if (imap_fetch_parse(&flags, &j->items, &why) == -1) {
		free(j);	/* cannot be: FLAGS is an item */
		free(pos);
		imap_tagged(out, tag, "NO", "Internal error");
		return IMAP_ACT_NONE;
	}
	imap_fetch_add_uid(j->items);
	imap_fetch_add_modseq(j->items);
	j->tag = xstrdup(tag);
	j->done = xstrdup(done);
	j->uid = true;
	j->pos = pos;
	j->n = n;
	s->fetch = j;
	return fetch_run(s, out);
}

/* --- STORE ---------------------------------------------------------------- */

/* "FLAGS", "+FLAGS.SILENT", ...: the operation and its silence. */
static int
store_what(const struct imap_arg *a, enum imap_store_op *op, bool *silent)
{
	const char *w = a->str;

	if (a->type != IMAP_ARG_ATOM)
		return -1;
	*op = *w == '+' ? IMAP_STORE_ADD : *w == '-' ? IMAP_STORE_REMOVE
						      : IMAP_STORE_REPLACE;
	if (*w == '+' || *w == '-')
		w++;
	if (strcasecmp(w, "FLAGS") == 0)
		*silent = false;
	else if (strcasecmp(w, "FLAGS.SILENT") == 0)
		*silent = true;
	else
		return -1;
	return 0;
}

/* (UNCHANGEDSINCE n) of RFC 7162 3.1.3. */
static int
store_modifiers(const struct imap_arg *a, struct imap_store_req *req)
{
	if (a->type != IMAP_ARG_LIST || a->n != 2 ||
	    a->list[0].type != IMAP_ARG_ATOM ||
	    strcasecmp(a->list[0].str, "UNCHANGEDSINCE") != 0 ||
	    imap_number64(&a->list[1], &req->unchangedsince) == -1)
		return -1;
	req->conditional = true;
	return 0;
}

/* The numbers (UIDs for UID STORE) of the messages UNCHANGEDSINCE left
 * alone, k of them: taken before the sync that ends the command, whose
 * expunges (another session's, said to UID STORE) move the positions. */
static uint32_t *
modified_nums(struct imap_server *s, bool uid, const uint32_t *pos,
	      const bool *modified, size_t n, size_t *k)
{
	uint32_t *nums = xmalloc((n + 1) * sizeof(*nums));

	*k = 0;
	for (size_t i = 0; i < n; i++) {
		struct imap_msg m;

		if (!modified[i])
			continue;
		s->ops->msg(s->mctx, pos[i], &m);
		nums[(*k)++] = uid ? m.uid : pos[i] + 1;
	}
	return nums;
}

/* STORE's tagged reply: [MODIFIED set] (nums, k of them) if
 * UNCHANGEDSINCE left some alone, else OK or NO [EXPUNGEISSUED]. */
static void
store_tagged(const char *tag, bool uid, const uint32_t *nums, size_t k,
	     bool gone, struct buf *out)
{
	if (k > 0) {
		buf_printf(out, "%s OK [MODIFIED ", tag);
		imap_seqset_write(out, nums, k);
		buf_addstr(out, "] Conditional STORE failed\r\n");
	} else if (gone && !uid) {
		imap_tagged(out, tag, "NO", "[EXPUNGEISSUED] Some messages "
			    "were expunged meanwhile");
	} else {
		imap_tagged(out, tag, "OK", uid ? "UID STORE completed" :
			    "STORE completed");
	}
}

/* "* N FETCH ([UID u ]MODSEQ (m))": a silent STORE with CONDSTORE. */
static void
write_modseq_fetch(struct imap_server *s, uint32_t pos, bool uid,
		   struct buf *out)
{
	struct imap_msg m;

	s->ops->msg(s->mctx, pos, &m);
	buf_printf(out, "* %u FETCH (", pos + 1);
	if (uid)
		buf_printf(out, "UID %u ", m.uid);
	buf_printf(out, "MODSEQ (%llu))\r\n", (unsigned long long)m.modseq);
}

static enum imap_act
store_reply(struct imap_server *s, const char *tag, bool uid, bool silent,
	    const uint32_t *pos, const bool *modified, size_t n,
	    bool gone, struct buf *out)
{
	uint32_t *nums;
	size_t k;
	enum imap_act a;

	imap_announce_keywords(s, pos, n, out);
	for (size_t i = 0; i < n; i++) {
		if (modified[i])
			continue;
		if (!silent)
			imap_write_flags_fetch(s, pos[i], uid, out);
		else if (s->condstore)	/* RFC 7162 3.1.3, example 3; the
					   UID with QRESYNC: 3.2.4 */
			write_modseq_fetch(s, pos[i], uid || s->qresync, out);
	}
	nums = modified_nums(s, uid, pos, modified, n, &k);
	if ((a = imap_sync(s, uid, out)) == IMAP_ACT_NONE)
		store_tagged(tag, uid, nums, k, gone, out);
	free(nums);
	return a;
}

static enum imap_act
store(struct imap_server *s, const char *tag, const struct imap_arg *args,
      size_t nargs, bool uid, struct buf *out)
{
	struct imap_store_req req = {0};
	struct buf *kw;
	const struct imap_arg *flags;
	uint32_t *pos;
	bool *modified, silent = false, gone;
	size_t n, nflags, at = 1;
	const char *why = "Invalid arguments";
	char err[200];
	enum imap_mres r;
	enum imap_act a;

	if (nargs >= 2 && args[1].type == IMAP_ARG_LIST) {
		if (store_modifiers(&args[1], &req) == -1)
			return imap_bad(s, tag, "Invalid STORE modifier", out);
		at = 2;
	}
	if (nargs < at + 2 || store_what(&args[at], &req.op, &silent) == -1)
		return imap_bad(s, tag, "STORE needs a set, FLAGS, +FLAGS or "
				"-FLAGS, and flags", out);
	flags = &args[at + 1];
	nflags = nargs - at - 1;
	if (flags->type == IMAP_ARG_LIST) {
		if (nflags != 1)
			return imap_bad(s, tag, "Invalid flag list", out);
		nflags = flags->n;
		flags = flags->list;
	}
	kw = buf_new(4096);
	if (imap_flag_list(flags, nflags, &req.flags, kw) == -1) {
		buf_free(&kw);
		return imap_bad(s, tag, "Invalid flag in the list", out);
	}
	if (imap_positions(s, &args[0], uid, &pos, &n, &why) == -1) {
		buf_free(&kw);
		return imap_bad(s, tag, why, out);
	}
	if (s->readonly) {
		buf_free(&kw);
		free(pos);
		imap_tagged(out, tag, "NO", "[READ-ONLY] Mailbox is "
			    "read-only");
		return IMAP_ACT_NONE;
	}
	if (req.conditional)
		imap_condstore_on(s, out);
	req.keywords = kw->len > 0 ? kw->data : NULL;
	gone = drop_expunged(s, pos, &n);
	modified = xcalloc(n + 1, sizeof(*modified));
	r = n == 0 ? IMAP_M_OK : s->ops->store(s->mctx, pos, n, &req,
						  modified, err, sizeof(err));
	buf_free(&kw);
	if (r != IMAP_M_OK) {
		imap_tagged_mres(out, tag, r, err, false);
		a = IMAP_ACT_NONE;
	} else {
		a = store_reply(s, tag, uid, silent, pos, modified, n, gone,
				out);
	}
	free(modified);
	free(pos);
	return a;
}

/* --- COPY and MOVE -------------------------------------------------------- */

/* The UIDs of the messages at pos: taken before the sync that ends the
 * command, whose expunges (another session's) move the positions. */
static uint32_t *
source_uids(struct imap_server *s, const uint32_t *pos, size_t n)
{
	uint32_t *src = xmalloc((n + 1) * sizeof(*src));

	for (size_t i = 0; i < n; i++) {
		struct imap_msg m;

		s->ops->msg(s->mctx, pos[i], &m);
		src[i] = m.uid;
	}
	return src;
}

static void
write_copyuid(uint32_t validity, const uint32_t *src, const uint32_t *uids,
	      size_t n, struct buf *out)
{
	buf_printf(out, "[COPYUID %u ", validity);
	imap_seqset_write(out, src, n);
	buf_addc(out, ' ');
	imap_seqset_write(out, uids, n);
	buf_addc(out, ']');
}

static enum imap_act
copy_done(struct imap_server *s, const char *tag, bool uid, bool move,
	  const uint32_t *pos, const uint32_t *uids, size_t n,
	  uint32_t validity, struct buf *out)
{
	const char *what = move ? (uid ? "UID MOVE" : "MOVE")
				: (uid ? "UID COPY" : "COPY");
	uint32_t *src = source_uids(s, pos, n);
	enum imap_act a;

	if (n > 0 && move) {
		buf_addstr(out, "* OK ");
		write_copyuid(validity, src, uids, n, out);
		buf_addstr(out, " Moved\r\n");
	}
	if ((a = imap_sync(s, move || uid, out)) == IMAP_ACT_NONE) {
		buf_printf(out, "%s OK ", tag);
		if (n > 0 && !move) {
			write_copyuid(validity, src, uids, n, out);
			buf_addc(out, ' ');
		}
		buf_printf(out, "%s completed\r\n", what);
	}
	free(src);
	return a;
}

static enum imap_act
copy(struct imap_server *s, const char *tag, const struct imap_arg *args,
     size_t nargs, bool uid, bool move, struct buf *out)
{
	struct buf *name;
	uint32_t *pos, *uids, validity = 0;
	size_t n;
	const char *why = "Invalid arguments";
	char err[200];
	enum imap_mres r = IMAP_M_OK;
	enum imap_act a;

	if (nargs != 2)
		return imap_bad(s, tag, "COPY and MOVE need a set and a "
				"mailbox", out);
	name = buf_new(4096);
	if (imap_mailbox_arg(s, &args[1], name, &why) == -1 ||
	    imap_positions(s, &args[0], uid, &pos, &n, &why) == -1) {
		buf_free(&name);
		return imap_bad(s, tag, why, out);
	}
	if (move && s->readonly) {
		imap_tagged(out, tag, "NO", "[READ-ONLY] Mailbox is "
			    "read-only");
		a = IMAP_ACT_NONE;
	} else if (drop_expunged(s, pos, &n)) {
		imap_tagged(out, tag, "NO", "[EXPUNGEISSUED] Some messages "
			    "were expunged meanwhile");
		a = IMAP_ACT_NONE;
	} else {
		uids = xmalloc((n + 1) * sizeof(*uids));
		if (n > 0)
			r = s->ops->copy(s->mctx, pos, n, name->data, move,
					 uids, &validity, err, sizeof(err));
		if (r != IMAP_M_OK) {
			imap_tagged_mres(out, tag, r, err, true);
			a = IMAP_ACT_NONE;
		} else {
			a = copy_done(s, tag, uid, move, pos, uids, n,
				      validity, out);
		}
		free(uids);
	}
	free(pos);
	buf_free(&name);
	return a;
}

/* --- SEARCH --------------------------------------------------------------- */

/* The mailbox a search program runs on: "*", "$" and the clock. */
static struct imap_search_box
search_box(struct imap_server *s)
{
	return (struct imap_search_box){
		.count = s->count, .last_uid = imap_last_uid(s),
		.saved = s->saved_valid ? &s->saved : NULL, .now = s->now,
	};
}

static int
search_one(struct imap_server *s, const struct imap_search *prog,
	   const struct imap_search_box *box, uint32_t pos)
{
	struct imap_search_msg sm = {0};
	struct imap_msg m;
	char err[200];
	int r;

	s->ops->msg(s->mctx, pos, &m);
	if (m.expunged)
		return 0;
	sm.seq = pos + 1;
	sm.m = &m;
	sm.recent = imap_is_recent(s, &m);
	if (imap_search_wants_text(prog)) {
		if (s->ops->open(s->mctx, pos, &sm.rd, err, sizeof(err)) !=
		    IMAP_M_OK)
			return 0;
		sm.read = s->ops->read;
		sm.rewind = s->ops->rewind;
	}
	r = imap_search_match(prog, box, &sm);
	if (sm.rd != NULL)
		s->ops->close(sm.rd);
	return r;
}

/* SAVE: the matches' UIDs become "$" (RFC 5182). */
static void
save_result(struct imap_server *s, const uint32_t *uids, size_t n)
{
	struct imap_seqset set = {0};

	set.r = xmalloc((n + 1) * sizeof(*set.r));
	for (size_t i = 0; i < n; i++) {
		if (set.n > 0 && set.r[set.n - 1].hi + 1 == uids[i]) {
			set.r[set.n - 1].hi = uids[i];
			continue;
		}
		set.r[set.n].lo = set.r[set.n].hi = uids[i];
		set.n++;
	}
	imap_seqset_free(&s->saved);
	s->saved = set;
	s->saved_valid = true;
}

/*
 * SAVE with MIN or MAX (and neither ALL nor COUNT) saves only the lowest
 * and/or highest match (RFC 5182 2.4); else every match.
 */
static void
save_matches(struct imap_server *s, unsigned ret, const uint32_t *uids,
	     size_t n)
{
	uint32_t ends[2];
	size_t k = 0;

	if (n == 0 || !(ret & (IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_MAX)) ||
	    (ret & (IMAP_SEARCH_RET_ALL | IMAP_SEARCH_RET_COUNT))) {
		save_result(s, uids, n);
		return;
	}
	if (ret & IMAP_SEARCH_RET_MIN)
		ends[k++] = uids[0];
	if ((ret & IMAP_SEARCH_RET_MAX) && (k == 0 || uids[n - 1] != uids[0]))
		ends[k++] = uids[n - 1];
	save_result(s, ends, k);
}

static enum imap_act
search_run(struct imap_server *s, const char *tag,
	   const struct imap_search *prog, bool uid, struct buf *out)
{
	struct imap_search_box box = search_box(s);
	uint32_t *nums = xmalloc(((size_t)s->count + 1) * sizeof(*nums));
	uint32_t *uids = xmalloc(((size_t)s->count + 1) * sizeof(*uids));
	uint64_t *modseqs = xmalloc(((size_t)s->count + 1) *
				    sizeof(*modseqs));
	size_t n = 0;

	for (uint32_t i = 0; i < s->count; i++) {
		struct imap_msg m;

		if (search_one(s, prog, &box, i) != 1)
			continue;
		s->ops->msg(s->mctx, i, &m);
		modseqs[n] = m.modseq;
		uids[n] = m.uid;
		nums[n++] = uid ? m.uid : i + 1;
	}
	if (imap_search_return(prog) & IMAP_SEARCH_RET_SAVE)
		save_matches(s, imap_search_return(prog), uids, n);
	imap_search_write(prog, tag, uid, nums, n, modseqs, out);
	free(modseqs);
	free(nums);
	free(uids);
	return finish(s, tag, uid, uid ? "UID SEARCH completed" :
		      "SEARCH completed", out);
}

static enum imap_act
search(struct imap_server *s, const char *tag, const struct imap_arg *args,
       size_t nargs, bool uid, struct buf *out)
{
	struct imap_search *prog;
	const char *why = "Invalid search";
	enum imap_act a;

	if (s->utf8 && imap_search_has_charset(args, nargs))
		return imap_bad(s, tag, "No CHARSET after ENABLE UTF8=ACCEPT "
				"(RFC 6855 3)", out);
	switch (imap_search_parse(args, nargs, s->rev2, &prog, &why)) {
	case IMAP_SEARCH_OK:
		break;
	case IMAP_SEARCH_BADCHARSET:
		imap_tagged(out, tag, "NO", "[BADCHARSET (UTF-8 US-ASCII)] "
			    "Unsupported charset");
		return IMAP_ACT_NONE;
	case IMAP_SEARCH_LIMIT:
		buf_printf(out, "%s BAD [LIMIT] %s\r\n", tag, why);
		return IMAP_ACT_NONE;
	case IMAP_SEARCH_BAD:
		return imap_bad(s, tag, why, out);
	}
	if (imap_search_wants_modseq(prog))
		imap_condstore_on(s, out);
	a = search_run(s, tag, prog, uid, out);
	imap_search_free(&prog);
	return a;
}

/* --- SORT and THREAD (RFC 5256) ------------------------------------------- */

/* The header section of the message at pos (up to IMAP_SORT_HEADER_MAX
 * octets) into b; false if it cannot be read. */
static bool
read_header(struct imap_server *s, uint32_t pos, struct buf *b)
{
	char err[200], chunk[4096];
	void *rd;
	long n;

	buf_reset(b);
	if (s->ops->open(s->mctx, pos, &rd, err, sizeof(err)) != IMAP_M_OK)
		return false;
	while (b->len < IMAP_SORT_HEADER_MAX &&
	       strstr(b->data, "\n\n") == NULL &&
	       (n = s->ops->read(rd, chunk, sizeof(chunk))) > 0)
		buf_add(b, chunk, (size_t)n < IMAP_SORT_HEADER_MAX - b->len ?
			(size_t)n : IMAP_SORT_HEADER_MAX - b->len);
	s->ops->close(rd);
	return true;
}

/*
 * The messages a SORT or THREAD picks: search, then what sorting needs
 * of each; *n_r of them into *msgs_r (free each with
 * imap_sort_msg_clear, then the array).
 */
static void
sort_collect(struct imap_server *s, const struct imap_search *prog,
	     bool uid, bool header, struct imap_sort_msg **msgs_r,
	     size_t *n_r)
{
	struct imap_search_box box = search_box(s);
	struct imap_sort_msg *msgs = xcalloc((size_t)s->count + 1,
					     sizeof(*msgs));
	struct buf *hdr = buf_new(IMAP_SORT_HEADER_MAX + 1);
	size_t n = 0;

	for (uint32_t i = 0; i < s->count; i++) {
		struct imap_sort_msg *m = &msgs[n];
		struct imap_msg im;

		if (search_one(s, prog, &box, i) != 1)
			continue;
		s->ops->msg(s->mctx, i, &im);
		m->num = uid ? im.uid : i + 1;
		m->seq = i + 1;
		m->size = im.size;
		m->modseq = im.modseq;
		m->arrival = im.date;
		if (header && read_header(s, i, hdr))
			imap_sort_msg_header(m, hdr->data, hdr->len);
		else
			imap_sort_msg_header(m, NULL, 0);
		n++;
	}
	buf_free(&hdr);
	*msgs_r = msgs;
	*n_r = n;
}

/* "charset key...": the charset checked, the keys parsed. */
static enum imap_act
sort_search(struct imap_server *s, const char *tag,
	    const struct imap_arg *args, size_t nargs,
	    struct imap_search **prog_r, struct buf *out)
{
	const char *why = "Invalid search";

	if (nargs < 2 || args[0].type == IMAP_ARG_LIST)
		return imap_bad(s, tag, "A charset and search keys are "
				"needed", out);
	if (s->utf8 && strcasecmp(args[0].str, "UTF-8") != 0)
		return imap_bad(s, tag, "Only UTF-8 after ENABLE UTF8=ACCEPT "
				"(RFC 6855 3)", out);
	if (strcasecmp(args[0].str, "UTF-8") != 0 &&
	    strcasecmp(args[0].str, "US-ASCII") != 0) {
		imap_tagged(out, tag, "NO", "[BADCHARSET (UTF-8 US-ASCII)] "
			    "Unsupported charset");
		return IMAP_ACT_NONE;
	}
	switch (imap_search_parse(args + 1, nargs - 1, false, prog_r, &why)) {
	case IMAP_SEARCH_OK:
		return IMAP_ACT_NONE;
	case IMAP_SEARCH_BADCHARSET:
	case IMAP_SEARCH_BAD:
		break;
	case IMAP_SEARCH_LIMIT:
		buf_printf(out, "%s BAD [LIMIT] %s\r\n", tag, why);
		return IMAP_ACT_NONE;
	}
	return imap_bad(s, tag, why, out);
}

static void
sort_free(struct imap_sort_msg *msgs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		imap_sort_msg_clear(&msgs[i]);
	free(msgs);
}

static enum imap_act
sort(struct imap_server *s, const char *tag, const struct imap_arg *args,
     size_t nargs, bool uid, struct buf *out)
{
	struct imap_sort_crit crit;
	struct imap_search *prog = NULL;
	struct imap_sort_msg *msgs;
	const char *why = "Invalid arguments";
	size_t n, len = out->len;
	enum imap_act a;

	if (nargs < 1 || imap_sort_parse(&args[0], &crit, &why) == -1)
		return imap_bad(s, tag, nargs < 1 ? "SORT needs criteria" :
				why, out);
	a = sort_search(s, tag, args + 1, nargs - 1, &prog, out);
	if (prog == NULL || out->len != len)
		return a;
	if (imap_search_wants_modseq(prog))
		imap_condstore_on(s, out);	/* RFC 7162 3.1 */
	sort_collect(s, prog, uid, crit.needs_header, &msgs, &n);
	imap_sort_run(&crit, msgs, n);
	imap_sort_write(msgs, n, imap_search_wants_modseq(prog), out);
	sort_free(msgs, n);
	imap_search_free(&prog);
	return finish(s, tag, uid, uid ? "UID SORT completed" :
		      "SORT completed", out);
}

static enum imap_act
thread(struct imap_server *s, const char *tag, const struct imap_arg *args,
       size_t nargs, bool uid, struct buf *out)
{
	struct imap_search *prog = NULL;
	struct imap_sort_msg *msgs;
	size_t n, len = out->len;
	enum imap_act a;

	if (nargs < 1 || args[0].type != IMAP_ARG_ATOM)
		return imap_bad(s, tag, "THREAD needs an algorithm", out);
	if (strcasecmp(args[0].str, "ORDEREDSUBJECT") != 0 &&
	    strcasecmp(args[0].str, "REFERENCES") != 0)
		return imap_bad(s, tag, "Unknown threading algorithm", out);
	a = sort_search(s, tag, args + 1, nargs - 1, &prog, out);
	if (prog == NULL || out->len != len)
		return a;
	if (imap_search_wants_modseq(prog))
		imap_condstore_on(s, out);	/* RFC 7162 3.1 */
	sort_collect(s, prog, uid, true, &msgs, &n);
	if (strcasecmp(args[0].str, "REFERENCES") == 0)
		imap_thread_references(msgs, n, out);
	else
		imap_thread_orderedsubject(msgs, n, out);
	sort_free(msgs, n);
	imap_search_free(&prog);
	return finish(s, tag, uid, uid ? "UID THREAD completed" :
		      "THREAD completed", out);
}

/* --- the commands --------------------------------------------------------- */

enum imap_act
imap_cmd_fetch(struct imap_server *s, const char *tag,
	       const struct imap_arg *args, size_t nargs, struct buf *out)
{
	return fetch(s, tag, args, nargs, false, out);
}

enum imap_act
imap_cmd_store(struct imap_server *s, const char *tag,
	       const struct imap_arg *args, size_t nargs, struct buf *out)
{
	return store(s, tag, args, nargs, false, out);
}

enum imap_act
imap_cmd_copy(struct imap_server *s, const char *tag,
	      const struct imap_arg *args, size_t nargs, struct buf *out)
{
	return copy(s, tag, args, nargs, false, false, out);
}

enum imap_act
imap_cmd_move(struct imap_server *s, const char *tag,
	      const struct imap_arg *args, size_t nargs, struct buf *out)
{
	return copy(s, tag, args, nargs, false, true, out);
}

enum imap_act
imap_cmd_search(struct imap_server *s, const char *tag,
		const struct imap_arg *args, size_t nargs, struct buf *out)
{
	return search(s, tag, args, nargs, false, out);
}

enum imap_act
imap_cmd_sort(struct imap_server *s, const char *tag,
	      const struct imap_arg *args, size_t nargs, struct buf *out)
{
	return sort(s, tag, args, nargs, false, out);
}

enum imap_act
imap_cmd_thread(struct imap_server *s, const char *tag,
		const struct imap_arg *args, size_t nargs, struct buf *out)
{
	return thread(s, tag, args, nargs, false, out);
}

/* UID FETCH, STORE, COPY, MOVE, SEARCH, SORT, THREAD (RFC 9051 6.4.9);
 * UID EXPUNGE is imap_cmd_select.c's (imap_server.c sends it there). */
enum imap_act
imap_cmd_uid(struct imap_server *s, const char *tag,
	     const struct imap_arg *args, size_t nargs, struct buf *out)
{
	const char *w;

	if (nargs < 1 || args[0].type != IMAP_ARG_ATOM)
		return imap_bad(s, tag, "UID needs a command", out);
	w = args[0].str;
	args++;
	nargs--;
	if (strcasecmp(w, "FETCH") == 0)
		return fetch(s, tag, args, nargs, true, out);
	if (strcasecmp(w, "STORE") == 0)
		return store(s, tag, args, nargs, true, out);
	if (strcasecmp(w, "COPY") == 0)
		return copy(s, tag, args, nargs, true, false, out);
	if (strcasecmp(w, "MOVE") == 0)
		return copy(s, tag, args, nargs, true, true, out);
	if (strcasecmp(w, "SEARCH") == 0)
		return search(s, tag, args, nargs, true, out);
	if (strcasecmp(w, "SORT") == 0)
		return sort(s, tag, args, nargs, true, out);
	if (strcasecmp(w, "THREAD") == 0)
		return thread(s, tag, args, nargs, true, out);
	return imap_bad(s, tag, "Unknown UID command", out);
}

void
imap_fetch_abort(struct imap_server *s)
{
	fetch_job_free(s);
}
