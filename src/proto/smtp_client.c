/*
 * smtp_client - the sans-I/O SMTP client core; see smtp_client.h.
 *
 * Replies are collected line by line into one struct smtpc_reply; when
 * the last line of a reply arrives it is handed to the handler of the
 * current state.  In a transaction, `want` counts the replies still
 * expected (MAIL, each RCPT, DATA) and `step` says which one comes next;
 * without PIPELINING each command is written only after the previous
 * reply.
 */
#include "smtp_client.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum state {
	ST_GREET,	/* waiting for 220 */
	ST_EHLO,
	ST_HELO,
	ST_STARTTLS,	/* waiting for 220 to STARTTLS */
	ST_TLS,		/* caller is doing the handshake */
	ST_AUTH,	/* waiting for 235 to AUTH PLAIN, or LOGIN's last */
	ST_AUTH_USER,	/* AUTH LOGIN: waiting for 334 (user name) */
	ST_AUTH_PASS,	/* AUTH LOGIN: waiting for 334 (password) */
	ST_AUTH_CANCEL,	/* sent "*" to a challenge; c->error says why */
	ST_READY,	/* caller's turn: next() */
	ST_TXN,		/* MAIL, RCPT..., DATA replies */
	ST_BODY,	/* caller is writing the text */
	ST_DOT,		/* waiting for the reply to "." */
	ST_RSET,
	ST_QUIT,
	ST_DEAD,	/* close */
};

struct smtp_client {
	const struct smtpc_conf *conf;
	enum state state;
	struct smtpc_ext ext;
	bool secure;
	bool authed;
	/* the reply being read */
	struct smtpc_reply cur;
	unsigned lines;
	struct smtpc_reply error;
	/* the message */
	const struct smtpc_msg *msg;
	struct smtpc_reply *res;
	size_t res_cap;
	bool *ok;		/* RCPT accepted */
	size_t step;		/* next reply: 0 MAIL, 1..n RCPT, n+1 DATA */
	size_t sent;		/* commands written */
	size_t accepted;
	bool mail_ok;
	struct smtpc_reply mail_reply;
	struct dot_stuff stuff;
};

struct smtp_client *
smtp_client_new(const struct smtpc_conf *conf)
{
	struct smtp_client *c = xcalloc(1, sizeof(*c));

	c->conf = conf;
	c->state = ST_GREET;
	return c;
}

void
smtp_client_free(struct smtp_client **cp)
{
	if (*cp == NULL)
		return;
	free((*cp)->res);
	free((*cp)->ok);
	free(*cp);
	*cp = NULL;
}

static void
set_reply(struct smtpc_reply *r, int code, const char *text)
{
	r->code = code;
	snprintf(r->text, sizeof(r->text), "%s", text);
}

/* Every recipient without a final reply gets r. */
static void
fail_open(struct smtp_client *c, const struct smtpc_reply *r)
{
	if (c->msg == NULL)
		return;
	for (size_t i = 0; i < c->msg->nrcpts; i++)
		if (c->res[i].code == 0 && c->res[i].text[0] == '\0')
			c->res[i] = *r;
}

/* The session cannot go on: fail what is open, QUIT unless r is 421. */
static enum smtpc_act
session_fail(struct smtp_client *c, const struct smtpc_reply *r,
	     struct buf *out)
{
	bool in_msg = c->msg != NULL && c->state != ST_READY;

	c->error = *r;
	fail_open(c, r);
	if (r->code == 421) {
		c->state = ST_DEAD;
	} else {
		buf_line(out, "QUIT");
		c->state = ST_QUIT;
	}
	if (in_msg)
		return SMTPC_RESULT;
	return c->state == ST_DEAD ? SMTPC_CLOSE : SMTPC_NONE;
}

static void
write_cmd(struct smtp_client *c, struct buf *out)
{
	const struct smtpc_msg *m = c->msg;

	if (c->sent == 0) {
		if (buf_printf(out, "MAIL FROM:<%s>", m->sender) == -1)
			abort();
		if (c->ext.size > 0)
			buf_printf(out, " SIZE=%zu", m->size);
		if (m->eightbit && c->ext.eightbit)
			buf_addstr(out, " BODY=8BITMIME");
		buf_addstr(out, "\r\n");
	} else if (c->sent <= m->nrcpts) {
		buf_line(out, "RCPT TO:<%s>", m->rcpts[c->sent - 1]);
	} else {
		buf_line(out, "DATA");
	}
	c->sent++;
}

enum smtpc_act
smtp_client_next(struct smtp_client *c, const struct smtpc_msg *msg,
		 struct buf *out)
{
	if (msg == NULL) {
		c->msg = NULL;
		if (c->state == ST_QUIT)
			return SMTPC_NONE; /* QUIT already sent */
		if (c->state != ST_READY) {
			c->state = ST_DEAD;
			return SMTPC_CLOSE;
		}
		buf_line(out, "QUIT");
		c->state = ST_QUIT;
		return SMTPC_NONE;
	}
	if (msg->nrcpts > c->res_cap) {
		c->res_cap = msg->nrcpts;
		free(c->res);
		free(c->ok);
		c->res = xcalloc(c->res_cap, sizeof(*c->res));
		c->ok = xcalloc(c->res_cap, sizeof(*c->ok));
	}
	memset(c->res, 0, msg->nrcpts * sizeof(*c->res));
	memset(c->ok, 0, msg->nrcpts * sizeof(*c->ok));
	c->msg = msg;
	c->step = c->sent = c->accepted = 0;
	c->mail_ok = false;
	if (c->state != ST_READY) {
		struct smtpc_reply r = c->error;

		if (r.text[0] == '\0')
			set_reply(&r, 0, "session not usable");
		fail_open(c, &r);
		return SMTPC_RESULT;
	}
	if (c->ext.size > 0 && msg->size > c->ext.size) {
		struct smtpc_reply r;

		snprintf(r.text, sizeof(r.text), "552 5.3.4 message size "
			 "%zu exceeds the server's limit of %lu", msg->size,
			 c->ext.size);
		r.code = 552;
		fail_open(c, &r);
		return SMTPC_RESULT;
	}
	c->state = ST_TXN;
	if (c->ext.pipelining)
		while (c->sent < msg->nrcpts + 2)
			write_cmd(c, out);
	else
		write_cmd(c, out);
	return SMTPC_NONE;
}

static void
parse_ext(struct smtp_client *c, const char *kw)
{
	if (strcasecmp(kw, "PIPELINING") == 0)
		c->ext.pipelining = true;
	else if (strcasecmp(kw, "8BITMIME") == 0)
		c->ext.eightbit = true;
	else if (strcasecmp(kw, "STARTTLS") == 0)
		c->ext.starttls = true;
	else if (strncasecmp(kw, "SIZE", 4) == 0 &&
		 (kw[4] == ' ' || kw[4] == '\0'))
		c->ext.size = strtoul(kw + 4, NULL, 10);
	else if (strncasecmp(kw, "AUTH ", 5) == 0)
		bsnprintf(c->ext.auth, sizeof(c->ext.auth), "%s", kw + 5);
}

/* The end of a transaction: RESULT, after RSET if one is needed. */
static enum smtpc_act
txn_end(struct smtp_client *c, bool need_rset, struct buf *out)
{
	if (need_rset) {
		buf_line(out, "RSET");
		c->state = ST_RSET;
		return SMTPC_NONE;
	}
	c->state = ST_READY;
	return SMTPC_RESULT;
}

static enum smtpc_act
on_txn_reply(struct smtp_client *c, const struct smtpc_reply *r,
	     struct buf *out)
{
	const struct smtpc_msg *m = c->msg;
	size_t step = c->step++;

	if (step == 0) {
		c->mail_ok = r->code / 100 == 2;
		c->mail_reply = *r;
		if (!c->mail_ok) {
			fail_open(c, r);
			if (c->sent == 1) /* nothing else sent */
				return txn_end(c, false, out);
		}
	} else if (step <= m->nrcpts) {
		size_t i = step - 1;

		if (!c->mail_ok)
			c->res[i] = c->mail_reply;
		else if (r->code / 100 == 2) {
			c->ok[i] = true;
			c->accepted++;
		} else
			c->res[i] = *r;
		if (step == m->nrcpts && c->sent == step + 1 &&
		    c->accepted == 0)
			return txn_end(c, c->mail_ok, out); /* skip DATA */
	} else {
		if (r->code == 354) {
			if (c->accepted > 0) {
				dot_stuff_init(&c->stuff, -1);
				dot_stuff_no_bare_cr(&c->stuff);
				c->state = ST_BODY;
				return SMTPC_BODY;
			}
			/* pipelined, nobody accepted, yet 354: empty text */
			buf_line(out, ".");
			c->state = ST_DOT;
			return SMTPC_NONE;
		}
		fail_open(c, r);
		return txn_end(c, c->mail_ok, out);
	}
	if (c->sent == c->step)
		write_cmd(c, out);
	return SMTPC_NONE;
}

/* Is mechanism mech in the space-separated list? */
static bool
has_mech(const char *list, const char *mech)
{
	size_t n = strlen(mech);

	for (const char *p = list; *p != '\0';) {
		size_t w = strcspn(p, " ");

		if (w == n && strncasecmp(p, mech, n) == 0)
			return true;
		p += w;
		p += strspn(p, " ");
	}
	return false;
}

/* Starts AUTH if we have credentials and the server a mechanism we know. */
static bool
start_auth(struct smtp_client *c, struct buf *out)
{
	const char *u = c->conf->user, *p = c->conf->pass;

	if (u == NULL || p == NULL || c->authed ||
	    strlen(u) > SMTPC_USER_MAX || strlen(p) > SMTPC_PASS_MAX)
		return false;
	if (has_mech(c->ext.auth, "PLAIN")) {
		sasl_plain_line(out, "AUTH PLAIN ", u, p);
		c->state = ST_AUTH;
		return true;
	}
	if (has_mech(c->ext.auth, "LOGIN")) {
		buf_line(out, "AUTH LOGIN");
		c->state = ST_AUTH_USER;
		return true;
	}
	return false;
}

/* A reply to AUTH. */
static enum smtpc_act
on_auth_reply(struct smtp_client *c, const struct smtpc_reply *r,
	      struct buf *out)
{
	const char *u = c->conf->user, *p = c->conf->pass;

	if (c->state == ST_AUTH_USER && r->code == 334) {
		b64_line(out, "", u, strlen(u)); /* lengths checked before */
		c->state = ST_AUTH_PASS;
		return SMTPC_NONE;
	}
	if (c->state == ST_AUTH_PASS && r->code == 334) {
		b64_line(out, "", p, strlen(p));
		c->state = ST_AUTH;
		return SMTPC_NONE;
	}
	if (c->state == ST_AUTH && r->code == 235) {
		c->authed = true;
		c->state = ST_READY;
		return SMTPC_NEXT;
	}
	if (r->code == 334) { /* a challenge we have no answer to */
		struct smtpc_reply e;

		buf_line(out, "*");
		bsnprintf(e.text, sizeof(e.text), "unexpected AUTH "
			  "challenge: %s", r->text);
		e.code = 0;
		c->error = e;
		c->state = ST_AUTH_CANCEL; /* its 501 ends the session */
		return SMTPC_NONE;
	}
	return session_fail(c, c->state == ST_AUTH_CANCEL ? &c->error : r,
			    out);
}

/* EHLO/HELO done: STARTTLS first if wanted, AUTH if we can, else ready. */
static enum smtpc_act
greeted(struct smtp_client *c, struct buf *out)
{
	struct smtpc_reply e;

	if (!c->secure && c->conf->tls != SMTPC_TLS_NO && c->ext.starttls) {
		buf_line(out, "STARTTLS");
		c->state = ST_STARTTLS;
		return SMTPC_NONE;
	}
	if (!c->secure && c->conf->tls == SMTPC_TLS_REQUIRE) {
		set_reply(&e, 0, "TLS is required but the server does not "
				 "offer STARTTLS");
		return session_fail(c, &e, out);
	}
	if (start_auth(c, out))
		return SMTPC_NONE;
	c->state = ST_READY;
	return SMTPC_NEXT;
}

void
smtp_client_secured(struct smtp_client *c, struct buf *out)
{
	if (c->state != ST_TLS)
		return;
	c->secure = true;
	memset(&c->ext, 0, sizeof(c->ext));
	buf_line(out, "EHLO %s", c->conf->helo);
	c->state = ST_EHLO;
}

bool
smtp_client_secure(const struct smtp_client *c)
{
	return c->secure;
}

bool
smtp_client_authed(const struct smtp_client *c)
{
	return c->authed;
}

/* One complete reply, in c->cur. */
static enum smtpc_act
on_reply(struct smtp_client *c, struct buf *out)
{
	const struct smtpc_reply *r = &c->cur;
	int cls = r->code / 100;

	if (r->code == 421 && c->state != ST_QUIT)
		return session_fail(c, r, out);
	switch (c->state) {
	case ST_GREET:
		if (cls != 2)
			return session_fail(c, r, out);
		buf_line(out, "EHLO %s", c->conf->helo);
		c->state = ST_EHLO;
		return SMTPC_NONE;
	case ST_EHLO:
		if (cls == 2) {
			c->ext.esmtp = true;
			return greeted(c, out);
		}
		if (cls != 5)
			return session_fail(c, r, out);
		memset(&c->ext, 0, sizeof(c->ext));
		buf_line(out, "HELO %s", c->conf->helo);
		c->state = ST_HELO;
		return SMTPC_NONE;
	case ST_HELO:
		if (cls != 2)
			return session_fail(c, r, out);
		return greeted(c, out);
	case ST_STARTTLS:
		if (r->code == 220) {
			c->state = ST_TLS;
			return SMTPC_STARTTLS;
		}
		if (c->conf->tls == SMTPC_TLS_REQUIRE) {
			struct smtpc_reply e;

			bsnprintf(e.text, sizeof(e.text), "TLS is required but "
				  "STARTTLS was refused: %s", r->text);
			e.code = 0;
			return session_fail(c, &e, out);
		}
		/* opportunistic: go on in the clear */
		if (start_auth(c, out))
			return SMTPC_NONE;
		c->state = ST_READY;
		return SMTPC_NEXT;
	case ST_AUTH:
	case ST_AUTH_USER:
	case ST_AUTH_PASS:
	case ST_AUTH_CANCEL:
		return on_auth_reply(c, r, out);
	case ST_TXN:
		return on_txn_reply(c, r, out);
	case ST_DOT:
		for (size_t i = 0; i < c->msg->nrcpts; i++)
			if (c->ok[i])
				c->res[i] = *r;
		c->state = ST_READY;
		return SMTPC_RESULT;
	case ST_RSET:
		if (cls != 2) {
			session_fail(c, r, out);
			return SMTPC_RESULT;
		}
		c->state = ST_READY;
		return SMTPC_RESULT;
	case ST_QUIT:
		c->state = ST_DEAD;
		return SMTPC_CLOSE;
	case ST_READY:
	case ST_BODY:
	case ST_TLS:
	case ST_DEAD:
		break;
	}
	/* a reply nobody asked for */
	{
		struct smtpc_reply e;

		bsnprintf(e.text, sizeof(e.text), "unexpected reply: %s",
			  r->text);
		e.code = 0;
		return session_fail(c, &e, out);
	}
}

static enum smtpc_act
bad_reply(struct smtp_client *c, const char *why, struct buf *out)
{
	struct smtpc_reply e;

	set_reply(&e, 0, why);
	c->lines = 0;
	return session_fail(c, &e, out);
}

enum smtpc_act
smtp_client_feed(struct smtp_client *c, const char *line, size_t len,
		 struct buf *out)
{
	int code;
	bool last;
	size_t n, tl;

	if (c->state == ST_DEAD)
		return SMTPC_CLOSE;
	/* between messages (READY) a reply is read whole: a 421 there is a
	   server closing an idle session, not a malformed dialogue */
	if (c->state == ST_BODY || c->state == ST_TLS)
		return bad_reply(c, "reply out of turn", out);
	/* strip the line end (a bare LF is tolerated) */
	n = len;
	if (n > 0 && line[n - 1] == '\n')
		n--;
	if (n > 0 && line[n - 1] == '\r')
		n--;
	if (n < 3 || !isdigit((unsigned char)line[0]) || line[0] < '2' ||
	    line[0] > '5' || !isdigit((unsigned char)line[1]) ||
	    !isdigit((unsigned char)line[2]) ||
	    (n > 3 && line[3] != ' ' && line[3] != '-'))
		return bad_reply(c, "malformed reply from server", out);
	for (size_t i = 0; i < n; i++)
		if (line[i] == '\0')
			return bad_reply(c, "NUL in a reply", out);
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	last = n == 3 || line[3] == ' ';
	if (c->lines == 0) {
		c->cur.code = code;
		c->cur.text[0] = '\0';
		if (c->state == ST_EHLO)
			memset(&c->ext, 0, sizeof(c->ext));
	} else if (code != c->cur.code) {
		return bad_reply(c, "reply code changed inside a reply", out);
	}
	if (++c->lines > SMTPC_LINES_MAX)
		return bad_reply(c, "reply has too many lines", out);
	/* keep "CODE text" of the first line, more lines after " / " */
	tl = strlen(c->cur.text);
	if (tl == 0)
		snprintf(c->cur.text, sizeof(c->cur.text), "%.*s", (int)n,
			 line);
	else if (tl + 3 < sizeof(c->cur.text) && n > 4)
		snprintf(c->cur.text + tl, sizeof(c->cur.text) - tl,
			 " / %.*s", (int)(n - 4), line + 4);
	if (c->state == ST_EHLO && c->lines > 1 && n > 4) {
		char kw[256];

		bsnprintf(kw, sizeof(kw), "%.*s", (int)(n - 4), line + 4);
		parse_ext(c, kw);
	}
	if (!last)
		return SMTPC_NONE;
	c->lines = 0;
	return on_reply(c, out);
}

enum smtpc_act
smtp_client_toolong(struct smtp_client *c, struct buf *out)
{
	if (c->state == ST_DEAD)
		return SMTPC_CLOSE;
	return bad_reply(c, "reply line too long", out);
}

enum smtpc_act
smtp_client_eof(struct smtp_client *c, const char *why)
{
	struct smtpc_reply e;
	bool in_msg = c->msg != NULL && c->state != ST_READY &&
		      c->state != ST_QUIT && c->state != ST_DEAD;

	if (c->state == ST_QUIT) { /* QUIT sent: the session is over */
		c->state = ST_DEAD;
		return SMTPC_CLOSE;
	}
	set_reply(&e, 0, why);
	if (c->error.text[0] == '\0')
		c->error = e;
	fail_open(c, &e);
	c->state = ST_DEAD;
	return in_msg ? SMTPC_RESULT : SMTPC_CLOSE;
}

void
smtp_client_body(struct smtp_client *c, const char *data, size_t len,
		 struct buf *out)
{
	if (c->state == ST_BODY)
		dot_stuff_feed(&c->stuff, data, len, out);
}

void
smtp_client_body_end(struct smtp_client *c, struct buf *out)
{
	if (c->state != ST_BODY)
		return;
	dot_stuff_end(&c->stuff, out);
	c->state = ST_DOT;
}

const struct smtpc_reply *
smtp_client_rcpt(const struct smtp_client *c, size_t i)
{
	return &c->res[i];
}

const struct smtpc_reply *
smtp_client_error(const struct smtp_client *c)
{
	return &c->error;
}

bool
smtp_client_usable(const struct smtp_client *c)
{
	return c->state == ST_READY;
}

const struct smtpc_ext *
smtp_client_ext(const struct smtp_client *c)
{
	return &c->ext;
}
