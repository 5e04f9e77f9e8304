/*
 * smtp_milter - the milter hooks of an SMTP session (milters.h talks to
 * the milters): MAIL and RCPT asked after owld's own checks pass, the
 * message at the end of DATA, and the milters' verdicts and changes
 * applied to it (headers, body, sender, recipients, quarantine) before
 * owld's checks and the commit (smtp_sess.c, called back through
 * s->glue).  A change that cannot be made is logged and the message
 * refused with 451 rather than stored half changed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/log.h"
#include "../net/conn.h"
#include "../proto/milter_edit.h"
#include "milters.h"
#include "owld.h"
#include "smtp_milter.h"
#include "smtp_types.h"

/* Asks the milters about MAIL; milter_done() answers the core. */
void
smtp_milter_mail(struct smtp_sess *s, const struct addr *sender)
{
	char from[ADDR_PATH_MAX + 1];
	struct smtp_txn t;
	struct milters_mail m;

	smtp_server_txn(s->core, &t);
	if (addr_format(sender, from, sizeof(from)) < 0)
		from[0] = '\0';
	m = (struct milters_mail){
		.helo = t.helo,
		.tls_version = conn_tls_version(s->base.conn),
		.cipher = conn_tls_cipher(s->base.conn),
		.user = t.user,
		.sender = from,
	};
	s->mstep = SMTP_ACT_MAIL;
	conn_pause(s->base.conn);
	milters_mail(s->milters, &m);
}

void
smtp_milter_rcpt(struct smtp_sess *s, const struct addr *rcpt)
{
	char to[ADDR_PATH_MAX + 1];

	if (addr_format(rcpt, to, sizeof(to)) < 0)
		to[0] = '\0';
	s->mstep = SMTP_ACT_RCPT;
	conn_pause(s->base.conn);
	milters_rcpt(s->milters, to);
}

/* A recipient a milter adds: one that routes, as RCPT would take it. */
static bool
milter_rcpt_ok(struct smtp_sess *s, const struct addr *a)
{
	char name[ADDR_PATH_MAX + 1];
	struct aliases_exp x = {0};
	enum smtp_result why;

	if (s->glue->local_name(s, a, name, sizeof(name), &why) == NULL)
		return why == SMTP_R_RELAY_DENIED; /* outside: the queue */
	why = owld_rcpt_route(s->base.d, name, false, &x, s->base.id);
	aliases_exp_free(&x);
	return why == SMTP_R_OK;
}

/* "<a@b>" or "a@b" as a path; false if it is none. */
static bool
milter_addr(const char *text, unsigned flags, struct addr *a)
{
	char path[ADDR_PATH_MAX + 3];
	const char *err;
	size_t used, n;

	if (bsnprintf(path, sizeof(path), text[0] == '<' ? "%s" : "<%s>",
		      text) == -1)
		return false;
	n = strlen(path);
	return addr_parse_path(path, n, flags, a, &used, &err) == 0 &&
	       used == n;
}

/* One milter's envelope changes: sender, recipients added, removed. */
static void
milter_envelope(struct smtp_sess *s, const struct milter *m,
		const char *name)
{
	struct milter_mod mod;
	struct addr a;
	size_t pos = 0;
	char q[600];
	const char *what;

	while (milter_mod_next(m, &pos, &mod)) {
		what = NULL;
		switch (mod.type) {
		case MILTER_MOD_CHGFROM:
			if (!milter_addr(mod.name, ADDR_ALLOW_NULL, &a))
				what = "bad-sender";
			else
				smtp_server_set_sender(s->core, &a);
			break;
		case MILTER_MOD_ADDRCPT:
		case MILTER_MOD_ADDRCPT_PAR:
			if (!milter_addr(mod.name, ADDR_ALLOW_POSTMASTER, &a) ||
			    !milter_rcpt_ok(s, &a))
				what = "recipient-does-not-route";
			else if (smtp_server_add_rcpt(s->core, &a) == -1)
				what = "too-many-recipients";
			break;
		case MILTER_MOD_DELRCPT:
			if (!milter_addr(mod.name, ADDR_ALLOW_POSTMASTER, &a) ||
			    smtp_server_del_rcpt(s->core, &a) == 0)
				what = "no-such-recipient";
			break;
		default:
			continue;
		}
		log_msg(what ? LOGL_WARN : LOGL_INFO, "milter", "id=%s "
			"event=%s msgid=%s milter=%s action=%c addr=%s%s%s",
			s->base.id,
			what ? "change-ignored" : "envelope-changed",
			s->msgid, name, (char)mod.type,
			log_q(q, sizeof(q), mod.name), what ? " reason=" : "",
			what ? what : "");
	}
}

/* The body pieces of a REPLBODY, CR LF made LF; false if there is none. */
static bool
milter_body(const struct milter *m, struct buf *out, int *err)
{
	struct milter_mod mod;
	size_t pos = 0;
	bool any = false;

	while (milter_mod_next(m, &pos, &mod)) {
		if (mod.type != MILTER_MOD_REPLBODY)
			continue;
		if (!any)
			buf_reset(out);
		any = true;
		for (size_t i = 0; i < mod.len; i++)
			if (mod.data[i] != '\r' &&
			    buf_addc(out, mod.data[i]) == -1)
				*err = -1;
	}
	return any;
}

/* A quarantine: logged, and marked in a header for the reader's filter. */
static void
milter_quarantine(struct smtp_sess *s, const struct milter *m,
		  const char *name, struct buf *hdr, int *err)
{
	struct milter_mod mod;
	size_t pos = 0;
	char q[600];

	while (milter_mod_next(m, &pos, &mod)) {
		if (mod.type != MILTER_MOD_QUARANTINE)
			continue;
		log_msg(LOGL_WARN, "milter", "id=%s event=quarantine msgid=%s "
			"milter=%s reason=%s", s->base.id, s->msgid, name,
			log_q(q, sizeof(q), mod.name));
		s->quarantine = true;
		if (buf_printf(hdr, "X-Quarantine: %s (%s)\n", mod.name,
			       name) == -1)
			*err = -1;
	}
}

/*
 * The message as the milters changed it (headers, body, quarantine) into
 * msg, from its text t[0..len): Return-Path, the fields, the empty line,
 * the body.  -1 if it no longer fits smtp.max_size.
 */
static int
milter_rewrite(struct smtp_sess *s, const char *t, size_t len, bool *changed)
{
	size_t max = s->base.d->conf->smtp_max_size + TRACE_MAX;
	struct buf *hdr = buf_new(max), *body = buf_new(max), *tmp;
	const char *lf = memchr(t, '\n', len), *end, *name;
	size_t rp = lf ? (size_t)(lf - t) + 1 : len, hend, boff;
	const struct milter *m;
	bool new_body = false;
	unsigned skipped;
	int err = 0;

	/* the fields end at the first empty line */
	for (hend = rp; hend < len; ) {
		if (t[hend] == '\n')
			break;
		end = memchr(t + hend, '\n', len - hend);
		hend = end ? (size_t)(end - t) + 1 : len;
	}
	boff = hend < len ? hend + 1 : len;
	buf_add(hdr, t + rp, hend - rp);
	for (size_t i = 0; milters_result(s->milters, i, &m, &name); i++) {
		if (m == NULL)
			continue;
		tmp = buf_new(max);
		if (milter_edit_headers(m, hdr->data, hdr->len, tmp,
					&skipped) == -1)
			err = -1;
		buf_free(&hdr);
		hdr = tmp;
		milter_quarantine(s, m, name, hdr, &err);
		new_body |= milter_body(m, body, &err);
		milter_envelope(s, m, name);
	}
	*changed = err == 0;
	if (err == 0) {
		struct smtp_txn txn;
		char from[ADDR_PATH_MAX + 1];

		/* the sender may have changed: Return-Path says the new one */
		smtp_server_txn(s->core, &txn);
		if (addr_format(&txn.sender, from, sizeof(from)) < 0)
			from[0] = '\0';
		tmp = buf_new(max);
		if (buf_printf(tmp, "Return-Path: <%s>\n", from) == -1 ||
		    buf_add(tmp, hdr->data, hdr->len) == -1 ||
		    buf_addc(tmp, '\n') == -1 ||
		    (new_body ? buf_add(tmp, body->data, body->len)
			      : buf_add(tmp, t + boff, len - boff)) == -1)
			err = -1;
		buf_free(&s->msg);
		s->msg = tmp;
	}
	buf_free(&hdr);
	buf_free(&body);
	return err;
}

/* A spooled message read back whole (see milter_apply); NULL if it fails. */
static struct buf *
spool_read(struct smtp_sess *s)
{
	struct buf *text = buf_new(s->spool.len);
	char *piece = xmalloc(64 * 1024);
	size_t off = 0;

	while (off < s->spool.len) {
		size_t n = s->spool.len - off < 64 * 1024 ? s->spool.len - off
							   : 64 * 1024;
		ssize_t r = pread(s->spool.fd, piece, n, (off_t)off);

		if (r <= 0 || buf_add(text, piece, (size_t)r) == -1) {
			log_msg(LOGL_ERROR, "smtp", "id=%s "
				"event=delivery-failed msgid=%s "
				"error=\"read back spool: %s\"",
				s->base.id, s->msgid,
				r < 0 ? strerror(errno) : "short read");
			buf_free(&text);
			break;
		}
		off += (size_t)r;
	}
	free(piece);
	return text;
}

/*
 * Applies the milters' modifications to the message.  A spooled message
 * is read back whole to be rewritten in memory (XXX on the loop; only
 * when a milter changed something).  -1: it could not be (logged).
 */
static int
milter_apply(struct smtp_sess *s)
{
	const struct milter *m;
	const char *name;
	struct buf *text = NULL;
	struct milter_mod mod;
	bool any = false, changed;
	int r;

	for (size_t i = 0; milters_result(s->milters, i, &m, &name); i++) {
		size_t pos = 0;

		if (m != NULL && milter_mod_next(m, &pos, &mod))
			any = true;
	}
	if (!any)
		return 0;
	if (s->spool.fd != -1) {
		if ((text = spool_read(s)) == NULL)
			return -1;
		s->glue->spool_close(s);
		buf_free(&s->msg);
		s->msg = text;
	}
	text = s->msg;
	s->msg = NULL;
	r = milter_rewrite(s, text->data, text->len, &changed);
	if (s->msg == NULL) {
		s->msg = text;
		text = NULL;
	}
	buf_free(&text);
	return r;
}

/* The default texts of a milter's refusal without its own (Postfix's). */
static const char *
milter_text(enum milters_verdict v, const char *reply)
{
	if (reply[0] != '\0')
		return reply;
	return v == MILTERS_REJECT ? "550 5.7.1 Command rejected"
				   : "451 4.7.1 Service unavailable - try "
				     "again later";
}

/*
 * Answers the pending MAIL, RCPT or message with a milter's refusal;
 * false if it was a 421, which ends the session (RFC 5321 3.8).
 */
static bool
milter_refuse(struct smtp_sess *s, const char *text)
{
	s->glue->act(s, smtp_server_done_reply(s->core, text, s->base.out));
	if (strncmp(text, "421", 3) != 0)
		return true;
	sess_flush(&s->base);
	conn_close(s->base.conn, "milter-421");
	return false;
}

/* A message dropped by a milter's verdict: no commit, the reply given. */
static void
milter_drop(struct smtp_sess *s, enum milters_verdict v, const char *reply,
	    const char *name)
{
	char q[600];

	log_msg(LOGL_WARN, "milter", "id=%s peer=%s event=%s msgid=%s "
		"milter=%s reply=%s", s->base.id, s->base.peer,
		v == MILTERS_DISCARD ? "discarded" : "message-refused",
		s->msgid, name,
		log_q(q, sizeof(q), v == MILTERS_DISCARD ? "250"
						: milter_text(v, reply)));
	buf_free(&s->msg);
	s->glue->spool_close(s);
	if (v == MILTERS_DISCARD) {
		s->mails++;
		s->glue->act(s, smtp_server_done(s->core, SMTP_R_OK, s->msgid,
					    s->base.out));
	} else {
		milter_refuse(s, milter_text(v, reply));
	}
}

/* The message's verdict; then its changes, then the commit. */
static void
milter_eom(struct smtp_sess *s, enum milters_verdict v, const char *reply,
	   const char *name)
{
	if (v == MILTERS_CONTINUE && s->discard)
		v = MILTERS_DISCARD;
	if (v != MILTERS_CONTINUE) {
		milter_drop(s, v, reply, name);
		return;
	}
	if (milter_apply(s) == -1) {
		milter_drop(s, MILTERS_TEMPFAIL, "451 4.3.0 Error: the "
			    "message as changed by a milter is too big", "-");
		return;
	}
	s->glue->data_checked(s);
}

/* The milters answered the step in s->mstep. */
void
smtp_milter_done(void *arg, enum milters_verdict v, const char *reply,
	    const char *name)
{
	struct smtp_sess *s = arg;
	char q[600];

	if (s->mstep == SMTP_ACT_COMMIT) {
		milter_eom(s, v, reply, name);
	} else if (v == MILTERS_CONTINUE || v == MILTERS_DISCARD) {
		s->discard |= v == MILTERS_DISCARD;
		s->glue->act(s, smtp_server_done(s->core, SMTP_R_OK, NULL,
					    s->base.out));
	} else {
		log_msg(LOGL_INFO, "milter", "id=%s peer=%s event=%s-refused "
			"milter=%s reply=%s", s->base.id, s->base.peer,
			s->mstep == SMTP_ACT_MAIL ? "mail" : "rcpt", name,
			log_q(q, sizeof(q), milter_text(v, reply)));
		if (!milter_refuse(s, milter_text(v, reply)))
			return;
	}
	if (s->commit == NULL && s->check == NULL)
		sess_answered(&s->base);
}

