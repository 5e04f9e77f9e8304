/*
 * pop3_client - the sans-I/O POP3 client core; see pop3_client.h.
 *
 * `state` says which status line comes next; `multi` is set while the
 * data lines of a multi-line response are read, and `bol` while the next
 * octet starts a line (only there can the terminating "." or a stuffed
 * dot appear).
 */
#include "pop3_client.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wire.h"

enum state {
	ST_GREET,
	ST_CAPA,
	ST_STLS,
	ST_TLS,		/* caller is doing the handshake */
	ST_AUTH,	/* AUTH PLAIN's answer */
	ST_USER,
	ST_PASS,
	ST_READY,	/* caller's turn */
	ST_CMD,		/* a command's status line */
	ST_QUIT,
	ST_DEAD,
};

struct pop3_client {
	const struct pop3c_conf *conf;
	enum state state;
	struct pop3c_ext ext;
	bool secure;
	bool multi;		/* reading data lines */
	bool bol;
	bool cmd_multi;		/* the command in flight answers multi-line */
	struct pop3c_reply reply;
	struct pop3c_reply error;
	const char *data;
	size_t datalen;
	bool eol;
};

struct pop3_client *
pop3_client_new(const struct pop3c_conf *conf)
{
	struct pop3_client *c = xcalloc(1, sizeof(*c));

	c->conf = conf;
	c->state = ST_GREET;
	c->error.ok = true;
	return c;
}

void
pop3_client_free(struct pop3_client **cp)
{
	free(*cp);
	*cp = NULL;
}

static void
set_reply(struct pop3c_reply *r, bool ok, const char *text)
{
	r->ok = ok;
	snprintf(r->text, sizeof(r->text), "%s", text);
}

/* The session cannot go on: remember why, QUIT, CLOSE after its answer. */
static enum pop3c_act
session_fail(struct pop3_client *c, const struct pop3c_reply *why,
	     struct buf *out)
{
	c->error = *why;
	c->error.ok = false;
	c->multi = false;
	buf_line(out, "QUIT");
	c->state = ST_QUIT;
	return POP3C_NONE;
}

static enum pop3c_act __attribute__((format(printf, 3, 4)))
fail_text(struct pop3_client *c, struct buf *out, const char *fmt, ...)
{
	struct pop3c_reply e;
	va_list ap;

	e.ok = false;
	va_start(ap, fmt);
	if (vsnprintf(e.text, sizeof(e.text), fmt, ap) < 0)
		e.text[0] = '\0';
	va_end(ap);
	return session_fail(c, &e, out);
}

/* CAPA is done (or refused): STLS if wanted, else log in. */
static enum pop3c_act
capa_done(struct pop3_client *c, struct buf *out)
{
	const char *u = c->conf->user, *p = c->conf->pass;
	size_t ul, pl;

	if (!c->secure && c->conf->tls != POP3C_TLS_NO && c->ext.stls) {
		buf_line(out, "STLS");
		c->state = ST_STLS;
		return POP3C_NONE;
	}
	if (!c->secure && c->conf->tls == POP3C_TLS_REQUIRE)
		return fail_text(c, out, "TLS is required but the server "
				 "does not offer STLS");
	if (u == NULL || p == NULL)
		return fail_text(c, out, "no user name or password");
	ul = strlen(u);
	pl = strlen(p);
	if (ul == 0 || ul > POP3C_USER_MAX || pl > POP3C_PASS_MAX ||
	    strpbrk(u, "\r\n") != NULL || strpbrk(p, "\r\n") != NULL)
		return fail_text(c, out, "user name or password not usable");
	if (c->ext.sasl_plain) {
		sasl_plain_line(out, "AUTH PLAIN ", u, p);
		c->state = ST_AUTH;
		return POP3C_NONE;
	}
	buf_line(out, "USER %s", u);
	c->state = ST_USER;
	return POP3C_NONE;
}

/* One CAPA line (without CRLF). */
static void
parse_capa(struct pop3_client *c, const char *s, size_t n)
{
	char kw[128];
	const char *sasl;

	if (bsnprintf(kw, sizeof(kw), "%.*s", (int)n, s) == -1)
		return;
	if (strcasecmp(kw, "STLS") == 0)
		c->ext.stls = true;
	else if (strcasecmp(kw, "TOP") == 0)
		c->ext.top = true;
	else if (strcasecmp(kw, "UIDL") == 0)
		c->ext.uidl = true;
	else if (strcasecmp(kw, "USER") == 0)
		c->ext.user = true;
	else if (strcasecmp(kw, "PIPELINING") == 0)
		c->ext.pipelining = true;
	else if (strncasecmp(kw, "SASL ", 5) == 0)
		for (sasl = kw + 5; *sasl != '\0';) {
			size_t w = strcspn(sasl, " ");

			if (w == 5 && strncasecmp(sasl, "PLAIN", 5) == 0)
				c->ext.sasl_plain = true;
			sasl += w;
			sasl += strspn(sasl, " ");
		}
}

/* A multi-line response's data piece. */
static enum pop3c_act
on_data(struct pop3_client *c, const char *line, size_t len)
{
	size_t n = len;
	bool eol = n > 0 && line[n - 1] == '\n';

	if (eol) {
		n--;
		if (n > 0 && line[n - 1] == '\r')
			n--;
	}
	if (c->bol && eol && n == 1 && line[0] == '.') {
		c->multi = false;
		if (c->state == ST_CAPA) {
			c->ext.capa = true;
			return POP3C_NONE; /* capa_done by the caller */
		}
		c->state = ST_READY;
		return POP3C_READY;
	}
	if (c->bol && n > 0 && line[0] == '.') {
		line++;
		n--;
	}
	c->bol = eol;
	if (c->state == ST_CAPA) {
		if (eol)
			parse_capa(c, line, n);
		return POP3C_NONE; /* CAPA lines are short; pieces ignored */
	}
	c->data = line;
	c->datalen = n;
	c->eol = eol;
	return POP3C_DATA;
}

/* One whole status line, without CRLF, NUL-free; ok is "+OK". */
static enum pop3c_act
on_status(struct pop3_client *c, bool ok, struct buf *out)
{
	switch (c->state) {
	case ST_GREET:
		if (!ok)
			return session_fail(c, &c->reply, out);
		buf_line(out, "CAPA");
		c->state = ST_CAPA;
		return POP3C_NONE;
	case ST_CAPA:
		if (ok) { /* its lines follow */
			c->multi = true;
			c->bol = true;
			return POP3C_NONE;
		}
		return capa_done(c, out); /* an RFC 1939 server */
	case ST_STLS:
		if (ok) {
			c->state = ST_TLS;
			return POP3C_STLS;
		}
		if (c->conf->tls == POP3C_TLS_REQUIRE)
			return fail_text(c, out, "TLS is required but STLS "
					 "was refused: %s", c->reply.text);
		c->ext.stls = false; /* on in the clear */
		return capa_done(c, out);
	case ST_USER:
		if (!ok)
			return session_fail(c, &c->reply, out);
		buf_line(out, "PASS %s", c->conf->pass);
		c->state = ST_PASS;
		return POP3C_NONE;
	case ST_AUTH:
	case ST_PASS:
		if (!ok)
			return session_fail(c, &c->reply, out);
		c->state = ST_READY;
		return POP3C_READY;
	case ST_CMD:
		if (ok && c->cmd_multi) {
			c->multi = true;
			c->bol = true;
			return POP3C_NONE;
		}
		c->state = ST_READY;
		return POP3C_READY;
	case ST_QUIT:
		if (!ok && c->error.ok)
			c->error = c->reply;
		c->state = ST_DEAD;
		return POP3C_CLOSE;
	case ST_TLS:
	case ST_READY:
	case ST_DEAD:
		break;
	}
	return fail_text(c, out, "response out of turn: %s", c->reply.text);
}

enum pop3c_act
pop3_client_feed(struct pop3_client *c, const char *line, size_t len,
		 struct buf *out)
{
	enum pop3c_act act;
	size_t n = len;
	bool ok;

	if (c->state == ST_DEAD)
		return POP3C_CLOSE;
	if (c->multi) {
		act = on_data(c, line, len);
		if (act == POP3C_NONE && !c->multi && c->state == ST_CAPA)
			return capa_done(c, out);
		return act;
	}
	if (c->state == ST_QUIT && (n == 0 || line[n - 1] != '\n')) {
		c->state = ST_DEAD; /* whatever it says, we are done */
		return POP3C_CLOSE;
	}
	if (n == 0 || line[n - 1] != '\n' || n > POP3C_LINE_MAX)
		return fail_text(c, out, "response line too long");
	n--;
	if (n > 0 && line[n - 1] == '\r')
		n--;
	if (memchr(line, '\0', n) != NULL)
		return fail_text(c, out, "NUL in a response");
	if (n >= 3 && memcmp(line, "+OK", 3) == 0 && (n == 3 || line[3] == ' '))
		ok = true;
	else if (n >= 4 && memcmp(line, "-ERR", 4) == 0 &&
		 (n == 4 || line[4] == ' '))
		ok = false;
	else if (c->state == ST_QUIT)
		ok = false;
	else
		return fail_text(c, out, "malformed response: %.*s",
				 (int)(n < 200 ? n : 200), line);
	c->reply.ok = ok;
	snprintf(c->reply.text, sizeof(c->reply.text), "%.*s", (int)n, line);
	if (c->state == ST_READY || c->state == ST_TLS)
		return fail_text(c, out, "response out of turn: %.200s",
				 c->reply.text);
	return on_status(c, ok, out);
}

enum pop3c_act
pop3_client_eof(struct pop3_client *c, const char *why)
{
	if (c->state != ST_QUIT && c->state != ST_DEAD && c->error.ok)
		set_reply(&c->error, false, why);
	c->state = ST_DEAD;
	c->multi = false;
	return POP3C_CLOSE;
}

enum pop3c_act
pop3_client_cmd(struct pop3_client *c, enum pop3c_cmd cmd, unsigned long n,
		unsigned long lines, struct buf *out)
{
	static const char *const names[] = {
		[POP3C_STAT] = "STAT", [POP3C_LIST] = "LIST",
		[POP3C_UIDL] = "UIDL", [POP3C_TOP] = "TOP",
		[POP3C_RETR] = "RETR", [POP3C_DELE] = "DELE",
		[POP3C_RSET] = "RSET", [POP3C_NOOP] = "NOOP",
	};
	bool needs_n = cmd == POP3C_TOP || cmd == POP3C_RETR ||
		       cmd == POP3C_DELE;

	if (c->state != ST_READY) {
		set_reply(&c->reply, false, "-ERR session not ready");
		return POP3C_READY;
	}
	if (needs_n && n == 0) {
		set_reply(&c->reply, false, "-ERR no message number");
		return POP3C_READY;
	}
	c->cmd_multi = cmd == POP3C_TOP || cmd == POP3C_RETR ||
		       ((cmd == POP3C_LIST || cmd == POP3C_UIDL) && n == 0);
	if (cmd == POP3C_TOP)
		buf_line(out, "TOP %lu %lu", n, lines);
	else if (n > 0 && cmd != POP3C_STAT && cmd != POP3C_RSET &&
		 cmd != POP3C_NOOP)
		buf_line(out, "%s %lu", names[cmd], n);
	else
		buf_line(out, "%s", names[cmd]);
	c->state = ST_CMD;
	return POP3C_NONE;
}

enum pop3c_act
pop3_client_quit(struct pop3_client *c, struct buf *out)
{
	if (c->state == ST_QUIT)
		return POP3C_NONE;
	if (c->state == ST_DEAD || c->state == ST_TLS || c->multi ||
	    c->state == ST_CMD) {
		/* mid-response: nothing sensible to say; just close */
		c->state = ST_DEAD;
		return POP3C_CLOSE;
	}
	buf_line(out, "QUIT");
	c->state = ST_QUIT;
	return POP3C_NONE;
}

void
pop3_client_secured(struct pop3_client *c, struct buf *out)
{
	if (c->state != ST_TLS)
		return;
	c->secure = true;
	memset(&c->ext, 0, sizeof(c->ext));
	buf_line(out, "CAPA");
	c->state = ST_CAPA;
}

void
pop3_client_data(const struct pop3_client *c, const char **data,
		 size_t *len, bool *eol)
{
	*data = c->data;
	*len = c->datalen;
	*eol = c->eol;
}

const struct pop3c_reply *
pop3_client_reply(const struct pop3_client *c)
{
	return &c->reply;
}

const struct pop3c_reply *
pop3_client_error(const struct pop3_client *c)
{
	return &c->error;
}

const struct pop3c_ext *
pop3_client_ext(const struct pop3_client *c)
{
	return &c->ext;
}

bool
pop3_client_secure(const struct pop3_client *c)
{
	return c->secure;
}

bool
pop3_parse_listing(const char *s, unsigned long *n, unsigned long *size)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	*n = strtoul(s, &end, 10);
	if (errno != 0 || *end != ' ')
		return false;
	s = end + 1;
	if (!isdigit((unsigned char)*s))
		return false;
	*size = strtoul(s, &end, 10);
	return errno == 0 && (*end == '\0' || *end == ' ');
}
