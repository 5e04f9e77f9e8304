/*
 * imap_cmd_append - APPEND (RFC 9051 6.3.12) with MULTIAPPEND (RFC 3502),
 * UIDPLUS's APPENDUID (RFC 4315), APPENDLIMIT (RFC 7889) and the UTF8
 * data item of UTF8=ACCEPT (RFC 6855 4): no message literal is ever kept
 * in memory.  When the parser announces a literal of an APPEND command
 * after the mailbox name (at the top level, or in the list of a UTF8 data
 * item), it is a message: checked against conf->append_max, the number of
 * messages of one command (conf->append_msgs_max) and the octets of all
 * of them (conf->append_total_max), refused before it is sent when the
 * client waits for "+" (the tagged NO says which bound), and streamed
 * piece by piece to the store's spool (append_begin, append_data).  When
 * the command line ends, the mailbox and each message's flags and date
 * are read and the messages saved all or nothing (append_end), or every
 * spooled one dropped (append_abort): a refused or failed message leaves
 * nothing of the command behind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_date.h"
#include "imap_server_private.h"

struct imap_append_job {
	bool failed;		/* the spool failed: answer NO at the end */
	enum imap_mres r;
	char err[200];
	size_t n;		/* message literals announced */
	uint64_t total;		/* their octets */
	char refusal[120];	/* a literal refused: the tagged NO's text */
	/* the header of the message streaming: RFC 6855 4 */
	bool in_header;		/* its blank line not seen yet */
	bool line_empty;	/* nothing but CR since the last LF */
	bool header_8bit;	/* an octet >= 0x80 in a message's header */
};

/* One message of the command, as its arguments say it. */
struct append_msg {
	const struct imap_arg *flags;	/* a LIST, or NULL */
	const struct imap_arg *date;	/* a QUOTED, or NULL */
	const struct imap_arg *text;	/* the streamed literal */
};

/* Whether a literal at depth (lists open) after nargs top-level
 * arguments of APPEND can be a message: at the top after the mailbox,
 * or in the list of a UTF8 data item (checked when the command ends). */
static bool
message_place(unsigned depth, size_t nargs)
{
	return nargs >= 1 && depth <= 1;
}

/* A bound this literal would pass: its text in j->refusal, true. */
static bool
past_bound(struct imap_server *s, struct imap_append_job *j, size_t size)
{
	const struct imap_conf *c = s->conf;

	if (size > c->append_max)
		snprintf(j->refusal, sizeof(j->refusal), "[TOOBIG] Message "
			 "larger than APPENDLIMIT (%llu octets)",
			 (unsigned long long)c->append_max);
	else if (c->append_msgs_max != 0 && j->n >= c->append_msgs_max)
		snprintf(j->refusal, sizeof(j->refusal), "[LIMIT] At most %u "
			 "messages in one APPEND", c->append_msgs_max);
	else if (c->append_total_max != 0 &&
		 size > c->append_total_max - j->total)
		snprintf(j->refusal, sizeof(j->refusal), "[LIMIT] At most "
			 "%llu octets of messages in one APPEND",
			 (unsigned long long)c->append_total_max);
	else
		return false;
	return true;
}

bool
imap_append_literal(struct imap_server *s, size_t size, bool *refuse_r)
{
	const char *tag, *name;
	unsigned depth;
	size_t nargs;
	struct imap_append_job *j;

	*refuse_r = false;
	imap_parser_partial(s->parser, &tag, &name, &depth, &nargs);
	if (s->ops == NULL || strcmp(name, "APPEND") != 0 ||
	    !message_place(depth, nargs) ||
	    (s->state != ST_AUTH && s->state != ST_SELECTED))
		return false;
	if (s->append == NULL)
		s->append = xcalloc(1, sizeof(*s->append));
	j = s->append;
	if (past_bound(s, j, size)) {
		*refuse_r = true;
		return true;
	}
	j->n++;
	j->total += size;
	j->in_header = j->line_empty = true;
	if (j->failed)
		return true;	/* streamed into the void */
	j->r = s->ops->append_begin(s->mctx, size, j->err, sizeof(j->err));
	if (j->r != IMAP_M_OK) {
		j->failed = true;
		s->ops->append_abort(s->mctx);
	}
	return true;
}

/* Notes an 8-bit octet in the header part of a message's text (up to
 * its first empty line, CR LF or LF). */
static void
scan_header(struct imap_append_job *j, const char *data, size_t len)
{
	for (size_t i = 0; i < len && j->in_header; i++) {
		unsigned char c = (unsigned char)data[i];

		if (c == '\n') {
			j->in_header = !j->line_empty;
			j->line_empty = true;
		} else if (c != '\r') {
			j->line_empty = false;
			j->header_8bit |= c >= 0x80;
		}
	}
}

void
imap_append_data(struct imap_server *s, const char *data, size_t len)
{
	struct imap_append_job *j = s->append;

	if (j == NULL || j->failed)
		return;
	scan_header(j, data, len);
	j->r = s->ops->append_data(s->mctx, data, len, j->err,
				   sizeof(j->err));
	if (j->r != IMAP_M_OK) {
		j->failed = true;
		s->ops->append_abort(s->mctx);
	}
}

void
imap_append_refusal(const struct imap_server *s, char *text, size_t size)
{
	const struct imap_append_job *j = s->append;

	snprintf(text, size, "%s", j != NULL && j->refusal[0] != '\0'
		 ? j->refusal : "[TOOBIG] Literal too big");
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

/* --- the command's arguments ---------------------------------------------- */

/* The message at args[*i] (RFC 3502's append-message, RFC 6855's UTF8
 * data item); -1 with *why_r if it is not one. */
static int
next_message(const struct imap_server *s, const struct imap_arg *args,
	     size_t nargs, size_t *i, struct append_msg *m,
	     const char **why_r)
{
	const struct imap_arg *a;

	*m = (struct append_msg){0};
	if (*i < nargs && args[*i].type == IMAP_ARG_LIST)
		m->flags = &args[(*i)++];
	if (*i < nargs && args[*i].type == IMAP_ARG_QUOTED)
		m->date = &args[(*i)++];
	if (*i >= nargs) {
		*why_r = "APPEND needs a message literal";
		return -1;
	}
	a = &args[(*i)++];
	if (a->type == IMAP_ARG_ATOM && strcasecmp(a->str, "UTF8") == 0) {
		if (!s->utf8) {
			*why_r = "UTF8 needs ENABLE UTF8=ACCEPT (RFC 6855)";
			return -1;
		}
		if (*i >= nargs || args[*i].type != IMAP_ARG_LIST ||
		    args[*i].n != 1 || !args[*i].list[0].streamed ||
		    !args[*i].list[0].literal8) {
			*why_r = "UTF8 needs a literal8 in parentheses: "
				 "UTF8 (~{n})";
			return -1;
		}
		a = &args[(*i)++].list[0];
	}
	if (a->type != IMAP_ARG_LITERAL || !a->streamed) {
		*why_r = "Invalid APPEND arguments";
		return -1;
	}
	m->text = a;
	return 0;
}

/* A message's flags and date into req (keywords into kw). */
static int
message_req(const struct append_msg *m, struct imap_append_req *req,
	    struct buf *kw, const char **why_r)
{
	if (m->flags != NULL &&
	    imap_flag_list(m->flags->list, m->flags->n, &req->flags, kw) ==
		    -1) {
		*why_r = "Invalid flag in the list";
		return -1;
	}
	if (m->date != NULL &&
	    imap_datetime_parse(m->date->str, m->date->len, &req->date,
				&req->zone) == -1) {
		*why_r = "Invalid date-time";
		return -1;
	}
	return 0;
}

/* Every message after the mailbox into req[] (as many as j->n). */
static int
read_messages(const struct imap_server *s, const struct imap_arg *args,
	      size_t nargs, struct imap_append_req *req, struct buf **kw,
	      size_t n, const char **why_r)
{
	size_t i = 1, k = 0;
	struct append_msg m;

	while (i < nargs) {
		if (k == n) {
			*why_r = "Invalid APPEND arguments";
			return -1;
		}
		if (next_message(s, args, nargs, &i, &m, why_r) == -1)
			return -1;
		kw[k] = buf_new(4096);
		if (message_req(&m, &req[k], kw[k], why_r) == -1)
			return -1;
		req[k].keywords = kw[k]->len > 0 ? kw[k]->data : NULL;
		k++;
	}
	if (k != n) {
		*why_r = "APPEND needs a mailbox and a message literal";
		return -1;
	}
	return 0;
}

/* --- saving --------------------------------------------------------------- */

static enum imap_act
append_saved(struct imap_server *s, const char *tag,
	     const struct imap_append_req *req, size_t n, struct buf *out)
{
	enum imap_act a = imap_sync(s, true, out);
	uint32_t *uids;

	if (a != IMAP_ACT_NONE)
		return a;
	uids = xcalloc(n, sizeof(*uids));
	for (size_t k = 0; k < n; k++)
		uids[k] = req[k].uid;
	buf_printf(out, "%s OK [APPENDUID %u ", tag, req[0].uidvalidity);
	imap_seqset_write(out, uids, n);
	buf_addstr(out, "] APPEND completed\r\n");
	free(uids);
	return IMAP_ACT_NONE;
}

/* Saves the spooled messages; the tagged reply. */
static enum imap_act
append_save(struct imap_server *s, const char *tag,
	    struct imap_append_req *req, size_t n, struct buf *out)
{
	struct imap_append_job *j = s->append;
	enum imap_mres r;

	if (j->failed) {
		imap_tagged_mres(out, tag, j->r, j->err, false);
		return IMAP_ACT_NONE;
	}
	/* RFC 6855 4: "If an IMAP server supports 'UTF8=ACCEPT' and the
	 * IMAP client has not issued the 'ENABLE UTF8=ACCEPT' command, the
	 * server MUST reject, with a 'NO' response, an 'APPEND' command
	 * that includes any 8-bit character in message header fields";
	 * IMAP4rev2 includes UTF8=ACCEPT (RFC 9755) */
	if (j->header_8bit && !s->utf8 && !s->rev2) {
		imap_tagged(out, tag, "NO", "[CANNOT] 8-bit octets in message "
			    "header fields need ENABLE UTF8=ACCEPT");
		return IMAP_ACT_NONE;
	}
	r = s->ops->append_end(s->mctx, req, n, j->err, sizeof(j->err));
	j->failed = true;	/* the spool is gone either way */
	if (r != IMAP_M_OK) {
		imap_tagged_mres(out, tag, r, j->err, true);
		return IMAP_ACT_NONE;
	}
	return append_saved(s, tag, req, n, out);
}

enum imap_act
imap_cmd_append(struct imap_server *s, const char *tag,
		const struct imap_arg *args, size_t nargs, struct buf *out)
{
	struct imap_append_job *j = s->append;
	size_t n = j != NULL ? j->n : 0;
	struct imap_append_req *req = xcalloc(n + 1, sizeof(*req));
	struct buf **kw = xcalloc(n + 1, sizeof(*kw));
	struct buf *name = buf_new(4096);
	const char *why = "APPEND needs a mailbox and a message literal";
	enum imap_act a;

	if (j == NULL || nargs < 2 ||
	    imap_mailbox_arg(s, &args[0], name, &why) == -1 ||
	    read_messages(s, args, nargs, req, kw, n, &why) == -1) {
		a = imap_bad(s, tag, why, out);
	} else {
		for (size_t k = 0; k < n; k++)
			req[k].folder = name->data;
		a = append_save(s, tag, req, n, out);
	}
	imap_append_abort(s);
	for (size_t k = 0; k < n; k++)
		buf_free(&kw[k]);
	free(kw);
	free(req);
	buf_free(&name);
	return a;
}
