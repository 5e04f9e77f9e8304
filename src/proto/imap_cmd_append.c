/*
 * imap_cmd_append - APPEND (RFC 9051 6.3.12) with UIDPLUS's APPENDUID
 * (RFC 4315) and APPENDLIMIT (RFC 7889): the message literal is never
 * kept in memory.  When the parser announces a literal of an APPEND
 * command at the top level after the mailbox name, it is checked against
 * conf->append_max (refused before it is sent when the client waits for
 * "+": NO [TOOBIG]) and streamed piece by piece to the store's spool
 * (append_begin, append_data); when the command line ends, the mailbox,
 * flags and date are read and the message saved all or nothing
 * (append_end), or the spool dropped (append_abort).  One message per
 * APPEND: MULTIAPPEND (RFC 3502) is not offered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_date.h"
#include "imap_server_private.h"

struct imap_append_job {
	bool failed;		/* the spool failed: answer NO at the end */
	bool second;		/* a second message literal: BAD */
	enum imap_mres r;
	char err[200];
};

bool
imap_append_literal(struct imap_server *s, size_t size, bool *refuse_r)
{
	const char *tag, *name;
	unsigned depth;
	size_t nargs;
	struct imap_append_job *j;

	*refuse_r = false;
	imap_parser_partial(s->parser, &tag, &name, &depth, &nargs);
	if (s->ops == NULL || strcmp(name, "APPEND") != 0 || depth != 0 ||
	    nargs < 1 || (s->state != ST_AUTH && s->state != ST_SELECTED))
		return false;
	if (s->append != NULL) {
		s->append->second = true;
		return true;	/* streamed into the void */
	}
	if (size > s->conf->append_max) {
		*refuse_r = true;
		return true;
	}
	j = s->append = xcalloc(1, sizeof(*j));
	j->r = s->ops->append_begin(s->mctx, size, j->err, sizeof(j->err));
	j->failed = j->r != IMAP_M_OK;
	return true;
}

void
imap_append_data(struct imap_server *s, const char *data, size_t len)
{
	struct imap_append_job *j = s->append;

	if (j == NULL || j->failed || j->second)
		return;
	j->r = s->ops->append_data(s->mctx, data, len, j->err,
				   sizeof(j->err));
	if (j->r != IMAP_M_OK) {
		j->failed = true;
		s->ops->append_abort(s->mctx);
	}
}

void
imap_append_abort(struct imap_server *s)
{
	if (s->append == NULL)
		return;
	if (!s->append->failed)
		s->ops->append_abort(s->mctx);
	free(s->append);
	s->append = NULL;
}

/* The optional flag list and date-time before the message. */
static int
append_options(const struct imap_arg *args, size_t n, unsigned *flags,
	       struct buf *kw, int64_t *date, const char **why_r)
{
	size_t i = 0;

	if (i < n && args[i].type == IMAP_ARG_LIST) {
		if (imap_flag_list(args[i].list, args[i].n, flags, kw) == -1) {
			*why_r = "Invalid flag in the list";
			return -1;
		}
		i++;
	}
	if (i < n) {
		if (args[i].type != IMAP_ARG_QUOTED ||
		    imap_datetime_parse(args[i].str, args[i].len, date) == -1) {
			*why_r = "Invalid date-time";
			return -1;
		}
		i++;
	}
	if (i != n) {
		*why_r = "Invalid APPEND arguments";
		return -1;
	}
	return 0;
}

static enum imap_act
append_saved(struct imap_server *s, const char *tag,
	     const struct imap_append_req *req, struct buf *out)
{
	enum imap_act a = imap_sync(s, true, out);

	if (a == IMAP_ACT_NONE)
		buf_printf(out, "%s OK [APPENDUID %u %u] APPEND completed\r\n",
			   tag, req->uidvalidity, req->uid);
	return a;
}

enum imap_act
imap_cmd_append(struct imap_server *s, const char *tag,
		const struct imap_arg *args, size_t nargs, struct buf *out)
{
	struct imap_append_job *j = s->append;
	struct imap_append_req req = {0};
	struct buf *name = buf_new(4096), *kw = buf_new(4096);
	const char *why = "APPEND needs a mailbox and a message literal";
	enum imap_act a = IMAP_ACT_NONE;
	bool second = j != NULL && j->second;
	enum imap_mres r;

	if (j == NULL || j->second || nargs < 2 ||
	    !args[nargs - 1].streamed ||
	    imap_mailbox_arg(s, &args[0], name, &why) == -1 ||
	    append_options(args + 1, nargs - 2, &req.flags, kw, &req.date,
			   &why) == -1) {
		imap_append_abort(s);
		a = imap_bad(s, tag, second ? "One message per APPEND (no "
			     "MULTIAPPEND)" : why, out);
	} else if (j->failed) {
		imap_tagged_mres(out, tag, j->r, j->err, false);
		imap_append_abort(s);
	} else {
		req.folder = name->data;
		req.keywords = kw->len > 0 ? kw->data : NULL;
		r = s->ops->append_end(s->mctx, &req, j->err, sizeof(j->err));
		j->failed = true;	/* the spool is gone either way */
		if (r != IMAP_M_OK)
			imap_tagged_mres(out, tag, r, j->err, true);
		else
			a = append_saved(s, tag, &req, out);
		imap_append_abort(s);
	}
	buf_free(&name);
	buf_free(&kw);
	return a;
}
