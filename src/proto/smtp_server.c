/*
 * smtp_server - the sans-I/O SMTP server core; see smtp_server.h.
 *
 * Commands are dispatched from one table (name, handler, flags), after
 * Postfix's smtpd_cmd_table: the dispatcher checks the flags (what the
 * command needs of the session: EHLO, TLS, AUTH, a transaction) once, in
 * one order, and each handler then checks its syntax and only then
 * proceeds to an action, after OpenSMTPD's check/proceed split.  Every
 * 5xx caused by the client counts toward max_errors; past it the core
 * says 421 and closes.  done() hands each answered action to a function
 * of its own.
 */
#include "smtp_server.h"
#include "sasl.h"
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum state {
	ST_INIT,	/* greeting sent, no HELO yet */
	ST_HELO,	/* HELO/EHLO done, no transaction */
	ST_MAIL,	/* MAIL accepted */
	ST_RCPT,	/* at least one RCPT accepted */
	ST_DATA,	/* reading the message */
	ST_CLOSED,
};

/* smtp.bare_newline = reject: what the message held first, if anything. */
enum bare {
	BARE_NONE,
	BARE_CR,
	BARE_LF,
};

struct smtp_server {
	const struct smtp_conf *conf;
	enum state state;
	enum smtp_act pending;	/* action awaiting done(), or NONE */
	unsigned errors;
	bool esmtp;
	char helo[256];
	struct addr sender;
	struct addr *rcpts;
	unsigned nrcpts, rcpts_cap;
	struct smtp_req req;
	/* DATA */
	size_t size;
	bool prev_crlf;
	bool too_big;
	bool line_too_long;
	enum bare bare;		/* REJECT: the first bare CR or LF seen */
	char *norm;		/* NORMALIZE: the line, its CRs made spaces */
	/* AUTH */
	struct sasl sasl;	/* the exchange, the password while checked */
	enum sasl_mech mech;	/* of the last AUTH */
	bool authed;
	unsigned auth_fails;
	/* TLS */
	bool secure;
	bool plain_auth;	/* AUTH allowed without TLS */
	char user[SMTP_USER_MAX + 1];
};

typedef enum smtp_act cmd_fn(struct smtp_server *, const char *, size_t,
			     struct buf *);

static cmd_fn cmd_helo, cmd_ehlo, cmd_mail, cmd_rcpt, cmd_data, cmd_rset;
static cmd_fn cmd_noop, cmd_quit, cmd_vrfy, cmd_help, cmd_auth;
static cmd_fn cmd_starttls;
static enum smtp_act feed_sasl(struct smtp_server *, const char *, size_t,
			       struct buf *);
static enum smtp_act auth_refused(struct smtp_server *, struct buf *);
static enum smtp_act auth_result(struct smtp_server *, enum sasl_result,
				 struct buf *);
static enum smtp_act feed_data(struct smtp_server *, const char *, size_t,
			       struct buf *);

/*
 * What a command needs before its handler runs.  check_flags() tests them
 * in the order of their values and answers the first that fails.  No
 * command runs during a SASL exchange: its lines are responses.
 */
enum {
	C_NOARG = 1 << 0,	/* takes no argument: 501 Syntax */
	C_NOTIMPL = 1 << 1,	/* 502, always */
	C_STARTTLS = 1 << 2,	/* conf->starttls, else 502 */
	C_AUTHCONF = 1 << 3,	/* conf->auth, else 502 */
	C_CLEAR = 1 << 4,	/* not under TLS yet, else 503 */
	C_HELO = 1 << 5,	/* after HELO or EHLO, else 503 */
	C_EHLO = 1 << 6,	/* after EHLO, else 503 */
	C_AUTHABLE = 1 << 7,	/* AUTH usable (TLS, or allowed), else 538 */
	C_UNAUTHED = 1 << 8,	/* not authenticated yet, else 503 */
	C_NOTXN = 1 << 9,	/* no transaction: else the table's 503 */
	C_AUTHED = 1 << 10,	/* authenticated, where conf->auth: else 530 */
	C_MAIL = 1 << 11,	/* in a transaction, else 503 */
	C_RCPT = 1 << 12,	/* a recipient accepted, else 554 */
};

static const struct cmd {
	const char *name;
	cmd_fn *fn;		/* NULL with C_NOTIMPL */
	unsigned flags;
	const char *in_txn;	/* the reply with C_NOTXN */
} CMDS[] = {
	{"HELO", cmd_helo, 0, NULL},
	{"EHLO", cmd_ehlo, 0, NULL},
	{"MAIL", cmd_mail, C_HELO | C_NOTXN | C_AUTHED,
	 "503 5.5.1 Error: nested MAIL command"},
	{"RCPT", cmd_rcpt, C_HELO | C_MAIL, NULL},
	{"DATA", cmd_data, C_NOARG | C_HELO | C_MAIL | C_RCPT, NULL},
	{"RSET", cmd_rset, C_NOARG, NULL},
	{"NOOP", cmd_noop, 0, NULL},
	{"QUIT", cmd_quit, C_NOARG, NULL},
	{"VRFY", cmd_vrfy, 0, NULL},
	{"HELP", cmd_help, 0, NULL},
	{"EXPN", NULL, C_NOTIMPL, NULL},
	{"SOML", NULL, C_NOTIMPL, NULL},
	{"SAML", NULL, C_NOTIMPL, NULL},
	{"SEND", NULL, C_NOTIMPL, NULL},
	{"TURN", NULL, C_NOTIMPL, NULL},
	/* its argument and a transaction are checked after EHLO (below) */
	{"STARTTLS", cmd_starttls, C_STARTTLS | C_CLEAR | C_EHLO, NULL},
	{"AUTH", cmd_auth,
	 C_AUTHCONF | C_EHLO | C_AUTHABLE | C_UNAUTHED | C_NOTXN,
	 "503 5.5.1 Error: AUTH not allowed in a mail transaction"},
	{"BDAT", NULL, C_NOTIMPL, NULL},
	{"ETRN", NULL, C_NOTIMPL, NULL},
};

static const char *check_flags(const struct smtp_server *,
			       const struct cmd *, size_t, char *, size_t);

struct smtp_server *
smtp_server_new(const struct smtp_conf *conf)
{
	struct smtp_server *s = xcalloc(1, sizeof(*s));

	s->conf = conf;
	s->state = ST_INIT;
	sasl_init(&s->sasl, 0);
	return s;
}

void
smtp_server_free(struct smtp_server **sp)
{
	if (*sp == NULL)
		return;
	free((*sp)->rcpts);
	free((*sp)->norm);
	sasl_wipe(&(*sp)->sasl);
	free(*sp);
	*sp = NULL;
}

/* A 5xx the client caused: counts toward max_errors. */
static enum smtp_act
fail(struct smtp_server *s, struct buf *out, const char *text)
{
	buf_line(out, "%s", text);
	if (++s->errors >= s->conf->max_errors) {
		buf_line(out, "421 4.7.0 %s Error: too many errors",
			 s->conf->hostname);
		s->state = ST_CLOSED;
		return SMTP_ACT_CLOSE;
	}
	return SMTP_ACT_NONE;
}

static void
reset_txn(struct smtp_server *s)
{
	memset(&s->sender, 0, sizeof(s->sender));
	s->nrcpts = 0;
	s->size = 0;
	s->too_big = false;
	s->line_too_long = false;
	s->bare = BARE_NONE;
	if (s->state > ST_HELO && s->state != ST_CLOSED)
		s->state = ST_HELO;
}

void
smtp_server_secure(struct smtp_server *s)
{
	s->secure = true;
}

void
smtp_server_plain_auth(struct smtp_server *s, bool allow)
{
	s->plain_auth = allow;
}

/* AUTH may be offered and used now. */
static bool
auth_usable(const struct smtp_server *s)
{
	return s->conf->auth && (s->secure || s->plain_auth);
}

void
smtp_server_greet(struct smtp_server *s, struct buf *out)
{
	buf_line(out, "220 %s ESMTP owlpost", s->conf->hostname);
}

size_t
smtp_server_max_line(const struct smtp_server *s)
{
	if (s->state == ST_DATA)
		return s->conf->max_line;
	return s->conf->auth ? SMTP_AUTH_LINE_MAX : SMTP_CMD_MAX;
}

bool
smtp_server_in_sasl(const struct smtp_server *s)
{
	return sasl_active(&s->sasl);
}

const char *
smtp_server_trace_in(const struct smtp_server *s, const char *line,
		     size_t len, size_t *len_r)
{
	size_t n;

	if (sasl_active(&s->sasl)) {
		*len_r = 15;
		return "(SASL response)";
	}
	if (s->state == ST_DATA) {
		if (len != 3 || memcmp(line, ".\r\n", 3) != 0)
			return NULL; /* message text: not traced */
		*len_r = len;
		return line;
	}
	*len_r = len;
	if (len <= 5 || strncasecmp(line, "AUTH ", 5) != 0)
		return line;
	/* "AUTH" and its mechanism: an initial response is a secret */
	for (n = 5; n < len && line[n] != ' ' && line[n] != '\r' &&
		    line[n] != '\n' && line[n] != '\0';
	     n++)
		;
	*len_r = n;
	return line;
}

bool
smtp_server_pending(const struct smtp_server *s)
{
	return s->pending != SMTP_ACT_NONE;
}

bool
smtp_server_in_data(const struct smtp_server *s)
{
	return s->state == ST_DATA;
}

const struct smtp_req *
smtp_server_req(const struct smtp_server *s)
{
	return &s->req;
}

void
smtp_server_txn(const struct smtp_server *s, struct smtp_txn *t)
{
	t->helo = s->helo;
	t->esmtp = s->esmtp;
	t->in_mail = s->state >= ST_MAIL && s->state != ST_CLOSED;
	t->sender = s->sender;
	t->rcpts = s->rcpts;
	t->nrcpts = s->nrcpts;
	t->size = s->size;
	t->user = s->authed ? s->user : NULL;
	t->tls = s->secure;
}

void
smtp_server_shutdown(struct smtp_server *s, struct buf *out)
{
	buf_line(out, "421 4.3.2 %s Service shutting down", s->conf->hostname);
	s->state = ST_CLOSED;
}

void
smtp_server_timeout(struct smtp_server *s, struct buf *out)
{
	buf_line(out, "421 4.4.2 %s Error: timeout exceeded", s->conf->hostname);
	s->state = ST_CLOSED;
}

enum smtp_act
smtp_server_feed(struct smtp_server *s, const char *line, size_t len,
		 struct buf *out)
{
	const char *arg, *end;
	size_t vlen, alen, i;
	char txt[64];

	if (s->pending != SMTP_ACT_NONE || s->state == ST_CLOSED)
		return SMTP_ACT_NONE; /* caller bug; nothing to say */
	if (s->state == ST_DATA)
		return feed_data(s, line, len, out);
	if (sasl_active(&s->sasl))
		return feed_sasl(s, line, len, out);

	/* strip the line end: CRLF, or a bare LF as many clients send */
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (memchr(line, '\0', len) != NULL)
		return fail(s, out, "501 5.5.2 Error: NUL byte in command");
	if (memchr(line, '\r', len) != NULL || memchr(line, '\n', len) != NULL)
		return fail(s, out, "501 5.5.2 Error: bare CR or LF in command");
	for (i = 0; i < len; i++)
		if ((unsigned char)line[i] >= 0x80 ||
		    ((unsigned char)line[i] < 0x20 && line[i] != '\t'))
			return fail(s, out,
				    "501 5.5.2 Error: bad character in command");
	for (vlen = 0; vlen < len && line[vlen] != ' '; vlen++)
		;
	arg = line + vlen;
	end = line + len;
	while (arg < end && *arg == ' ')
		arg++;
	alen = (size_t)(end - arg);
	while (alen > 0 && (arg[alen - 1] == ' ' || arg[alen - 1] == '\t'))
		alen--;
	for (i = 0; i < sizeof(CMDS) / sizeof(CMDS[0]); i++) {
		const char *refused;

		if (strlen(CMDS[i].name) != vlen ||
		    strncasecmp(CMDS[i].name, line, vlen) != 0)
			continue;
		if ((refused = check_flags(s, &CMDS[i], alen, txt,
					   sizeof(txt))) != NULL)
			return fail(s, out, refused);
		return CMDS[i].fn(s, arg, alen, out);
	}
	if (len == 0)
		return fail(s, out, "500 5.5.2 Error: empty command");
	return fail(s, out, "500 5.5.2 Error: command not recognized");
}

enum smtp_act
smtp_server_toolong(struct smtp_server *s, struct buf *out)
{
	if (s->state == ST_DATA) {
		/*
		 * Keep reading to the end of the message, then refuse it.
		 * Whether the line ended in CR LF is told when its LF comes
		 * (smtp_server_toolong_end); until then it did not.
		 */
		s->line_too_long = true;
		s->prev_crlf = false;
		return SMTP_ACT_NONE;
	}
	if (s->state == ST_CLOSED || s->pending != SMTP_ACT_NONE)
		return SMTP_ACT_NONE;
	sasl_wipe(&s->sasl); /* the reply ends an AUTH under way */
	return fail(s, out, "500 5.5.6 Error: line too long");
}

size_t
smtp_server_max_drop(const struct smtp_server *s)
{
	if (s->state == ST_DATA)
		return s->conf->max_size;
	return WIRE_DROP_MAX;
}

void
smtp_server_endless(struct smtp_server *s, struct buf *out)
{
	if (s->state == ST_DATA)
		buf_line(out, "552 5.3.4 Error: message too big: a line without "
			 "end, closing connection");
	else
		buf_line(out, "421 4.7.0 %s Error: line too long, closing "
			 "connection", s->conf->hostname);
	s->state = ST_CLOSED;
}

void
smtp_server_toolong_end(struct smtp_server *s, bool crlf)
{
	if (s->state == ST_DATA)
		s->prev_crlf = crlf;
}

static bool
need_helo(const struct smtp_server *s)
{
	return s->state == ST_INIT;
}

/* The 530 of MAIL before AUTH: STARTTLS first where AUTH needs it. */
static const char *
auth_needed(const struct smtp_server *s)
{
	return auth_usable(s) || !s->conf->starttls
		       ? "530 5.7.0 Authentication required"
		       : "530 5.7.0 Must issue a STARTTLS command first";
}

/*
 * The reply refusing command c (with an argument of alen octets) in the
 * session's state, or NULL if its flags allow it; txt holds a built one.
 */
static const char *
check_flags(const struct smtp_server *s, const struct cmd *c, size_t alen,
	    char *txt, size_t size)
{
	unsigned f = c->flags;

	if ((f & C_NOARG) && alen > 0) {
		snprintf(txt, size, "501 5.5.4 Syntax: %s", c->name);
		return txt;
	}
	if ((f & C_NOTIMPL) || ((f & C_STARTTLS) && !s->conf->starttls) ||
	    ((f & C_AUTHCONF) && !s->conf->auth))
		return "502 5.5.1 Error: command not implemented";
	if ((f & C_CLEAR) && s->secure)
		return "503 5.5.1 Error: TLS already active";
	if ((f & C_HELO) && need_helo(s))
		return "503 5.5.1 Error: send HELO/EHLO first";
	if ((f & C_EHLO) && (need_helo(s) || !s->esmtp))
		return "503 5.5.1 Error: send EHLO first";
	if ((f & C_AUTHABLE) && !auth_usable(s))
		return "538 5.7.11 Encryption required for requested "
		       "authentication mechanism";
	if ((f & C_UNAUTHED) && s->authed)
		return "503 5.5.1 Error: already authenticated";
	if ((f & C_NOTXN) && s->state >= ST_MAIL)
		return c->in_txn;
	if ((f & C_AUTHED) && s->conf->auth && !s->authed)
		return auth_needed(s);
	if ((f & C_MAIL) && s->state < ST_MAIL)
		return "503 5.5.1 Error: need MAIL command";
	if ((f & C_RCPT) && s->state < ST_RCPT)
		return "554 5.5.1 Error: no valid recipients";
	return NULL;
}

/* HELO/EHLO argument: one domain or address literal token. */
static bool
helo_valid(const char *arg, size_t len)
{
	size_t i;

	if (len == 0 || len >= 256)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)arg[i] <= 0x20 ||
		    (unsigned char)arg[i] >= 0x7f)
			return false;
	return true;
}

static enum smtp_act
do_helo(struct smtp_server *s, const char *arg, size_t len, struct buf *out,
	bool esmtp)
{
	if (!helo_valid(arg, len))
		return fail(s, out, esmtp ? "501 5.5.4 Syntax: EHLO hostname"
					  : "501 5.5.4 Syntax: HELO hostname");
	memcpy(s->helo, arg, len);
	s->helo[len] = '\0';
	s->esmtp = esmtp;
	s->state = ST_HELO;
	reset_txn(s);
	if (!esmtp) {
		buf_line(out, "250 %s", s->conf->hostname);
		return SMTP_ACT_NONE;
	}
	buf_line(out, "250-%s", s->conf->hostname);
	buf_line(out, "250-PIPELINING");
	buf_line(out, "250-SIZE %zu", s->conf->max_size);
	buf_line(out, "250-8BITMIME");
	buf_line(out, "250-ENHANCEDSTATUSCODES");
	if (s->conf->starttls && !s->secure)
		buf_line(out, "250-STARTTLS");
	if (auth_usable(s))
		buf_line(out, "250-AUTH PLAIN LOGIN");
	buf_line(out, "250 HELP");
	return SMTP_ACT_NONE;
}

static enum smtp_act
cmd_helo(struct smtp_server *s, const char *arg, size_t len, struct buf *out)
{
	return do_helo(s, arg, len, out, false);
}

static enum smtp_act
cmd_ehlo(struct smtp_server *s, const char *arg, size_t len, struct buf *out)
{
	return do_helo(s, arg, len, out, true);
}

/* Matches "FROM:" / "TO:" case-insensitively, then optional spaces. */
static const char *
skip_keyword(const char *arg, size_t *len, const char *kw)
{
	size_t k = strlen(kw);

	if (*len < k || strncasecmp(arg, kw, k) != 0)
		return NULL;
	arg += k;
	*len -= k;
	while (*len > 0 && *arg == ' ') {
		arg++;
		(*len)--;
	}
	return arg;
}

/* Splits the next space-separated ESMTP parameter. */
static bool
next_param(const char **p, const char *end, const char **kw, size_t *kwlen,
	   const char **val, size_t *vallen)
{
	const char *q;

	while (*p < end && **p == ' ')
		(*p)++;
	if (*p >= end)
		return false;
	q = *p;
	while (q < end && *q != ' ')
		q++;
	*kw = *p;
	*val = memchr(*p, '=', (size_t)(q - *p));
	if (*val != NULL) {
		*kwlen = (size_t)(*val - *p);
		(*val)++;
		*vallen = (size_t)(q - *val);
	} else {
		*kwlen = (size_t)(q - *p);
		*vallen = 0;
	}
	*p = q;
	return true;
}

static bool
kw_is(const char *kw, size_t len, const char *name)
{
	return strlen(name) == len && strncasecmp(kw, name, len) == 0;
}

static enum smtp_act
mail_params(struct smtp_server *s, const char *p, const char *end,
	    struct buf *out)
{
	const char *kw, *val;
	size_t kwlen, vallen;
	bool seen_size = false, seen_body = false;

	while (next_param(&p, end, &kw, &kwlen, &val, &vallen)) {
		if (kw_is(kw, kwlen, "SIZE")) {
			unsigned long long n = 0;
			size_t i;

			if (seen_size || val == NULL || vallen == 0 ||
			    vallen > 20)
				return fail(s, out,
					    "501 5.5.4 Bad SIZE parameter");
			for (i = 0; i < vallen; i++) {
				if (val[i] < '0' || val[i] > '9')
					return fail(s, out, "501 5.5.4 Bad "
							    "SIZE parameter");
				if (__builtin_mul_overflow(n, 10, &n) ||
				    __builtin_add_overflow(
					    n, (unsigned)(val[i] - '0'), &n))
					n = ~0ULL;
			}
			seen_size = true;
			if (n > s->conf->max_size)
				return fail(s, out,
					    "552 5.3.4 Message size exceeds "
					    "fixed maximum message size");
		} else if (kw_is(kw, kwlen, "BODY")) {
			if (seen_body || val == NULL ||
			    !(kw_is(val, vallen, "7BIT") ||
			      kw_is(val, vallen, "8BITMIME")))
				return fail(s, out,
					    "501 5.5.4 Bad BODY parameter");
			seen_body = true;
		} else if (s->conf->auth && kw_is(kw, kwlen, "AUTH") &&
			   val != NULL) {
			continue; /* RFC 4954 5: accepted, not trusted */
		} else {
			char txt[128];

			snprintf(txt, sizeof(txt),
				 "555 5.5.4 Unsupported option: %.*s",
				 (int)(kwlen > 64 ? 64 : kwlen), kw);
			return fail(s, out, txt);
		}
	}
	return SMTP_ACT_MAIL;
}

static enum smtp_act
cmd_mail(struct smtp_server *s, const char *arg, size_t len, struct buf *out)
{
	const char *p, *err;
	size_t used;
	enum smtp_act act;

	if ((p = skip_keyword(arg, &len, "FROM:")) == NULL)
		return fail(s, out, "501 5.5.4 Syntax: MAIL FROM:<address>");
	if (addr_parse_path(p, len, ADDR_ALLOW_NULL, &s->req.addr, &used,
			    &err) == -1) {
		char txt[160];

		snprintf(txt, sizeof(txt),
			 "501 5.1.7 Bad sender address syntax: %s", err);
		return fail(s, out, txt);
	}
	if (used < len && p[used] != ' ')
		return fail(s, out, "501 5.5.4 Syntax: MAIL FROM:<address>");
	act = mail_params(s, p + used, p + len, out);
	if (act == SMTP_ACT_MAIL)
		s->pending = act;
	return act;
}

static enum smtp_act
cmd_rcpt(struct smtp_server *s, const char *arg, size_t len, struct buf *out)
{
	const char *p, *err;
	size_t used;

	if ((p = skip_keyword(arg, &len, "TO:")) == NULL)
		return fail(s, out, "501 5.5.4 Syntax: RCPT TO:<address>");
	if (addr_parse_path(p, len, ADDR_ALLOW_POSTMASTER, &s->req.addr,
			    &used, &err) == -1) {
		char txt[160];

		snprintf(txt, sizeof(txt),
			 "501 5.1.3 Bad recipient address syntax: %s", err);
		return fail(s, out, txt);
	}
	if (used < len) {
		const char *kw, *val, *q = p + used;
		size_t kwlen, vallen;

		if (*q != ' ')
			return fail(s, out,
				    "501 5.5.4 Syntax: RCPT TO:<address>");
		if (next_param(&q, p + len, &kw, &kwlen, &val, &vallen)) {
			char txt[128];

			snprintf(txt, sizeof(txt),
				 "555 5.5.4 Unsupported option: %.*s",
				 (int)(kwlen > 64 ? 64 : kwlen), kw);
			return fail(s, out, txt);
		}
	}
	if (s->nrcpts >= s->conf->max_rcpts) {
		/* 452 per RFC 5321 4.5.3.1.10; not a client error */
		buf_line(out, "452 4.5.3 Error: too many recipients");
		return SMTP_ACT_NONE;
	}
	s->pending = SMTP_ACT_RCPT;
	return SMTP_ACT_RCPT;
}

static enum smtp_act
cmd_data(struct smtp_server *s, const char *arg, size_t len, struct buf *out)
{
	(void)arg, (void)len;
	buf_line(out, "354 End data with <CR><LF>.<CR><LF>");
	s->state = ST_DATA;
	s->size = 0;
	s->prev_crlf = true; /* the DATA command's CRLF */
	s->too_big = false;
	s->line_too_long = false;
	s->bare = BARE_NONE;
	return SMTP_ACT_DATA_START;
}

static enum smtp_act
end_data(struct smtp_server *s, struct buf *out)
{
	if (s->too_big || s->line_too_long) {
		if (s->too_big)
			buf_line(out, "552 5.3.4 Error: message size exceeds "
				      "fixed limit");
		else
			buf_line(out, "552 5.3.4 Error: message line longer "
				      "than %zu octets", s->conf->max_line);
		reset_txn(s);
		return SMTP_ACT_DATA_ABORT;
	}
	if (s->bare != BARE_NONE) {
		/* after the end only, as Postfix does: never mid-message */
		buf_line(out, "550 5.5.2 Error: bare <%s> received",
			 s->bare == BARE_CR ? "CR" : "LF");
		reset_txn(s);
		return SMTP_ACT_DATA_ABORT;
	}
	s->pending = SMTP_ACT_COMMIT;
	return SMTP_ACT_COMMIT;
}

/*
 * A text line's bare CRs under smtp.bare_newline: REJECT notes the first
 * (the message is refused at its end), NORMALIZE makes each a space in a
 * copy.  A CR that ends a line would start a new one at a next hop that
 * takes a bare CR as a line end; a space keeps the line one line, as its
 * sender's own server saw it, and keeps its length.
 */
static const char *
bare_cr(struct smtp_server *s, const char *line, size_t len)
{
	if (memchr(line, '\r', len) == NULL)
		return line;
	if (s->conf->bare_newline == SMTP_BARE_REJECT) {
		if (s->bare == BARE_NONE)
			s->bare = BARE_CR;
		return line;
	}
	if (s->norm == NULL)
		s->norm = xmalloc(s->conf->max_line);
	for (size_t i = 0; i < len; i++)
		s->norm[i] = line[i] == '\r' ? ' ' : line[i];
	return s->norm;
}

static enum smtp_act
feed_data(struct smtp_server *s, const char *line, size_t len,
	  struct buf *out)
{
	bool crlf = false;
	size_t add;

	if (len == 3 && s->prev_crlf && memcmp(line, ".\r\n", 3) == 0)
		return end_data(s, out);
	if (len > s->conf->max_line)
		s->line_too_long = true; /* the framer's bound, kept here too */
	if (len > 0 && line[len - 1] == '\n') {
		len--;
		if (len > 0 && line[len - 1] == '\r') {
			len--;
			crlf = true;
		} else if (s->conf->bare_newline == SMTP_BARE_REJECT &&
			   s->bare == BARE_NONE) {
			s->bare = BARE_LF;
		}
	}
	s->prev_crlf = crlf;
	/*
	 * Unstuff (RFC 5321 4.5.2); a bare LF counts as a line end.  A line
	 * that is only "." is not the end here, so it is text and stays.
	 */
	if (len > 1 && line[0] == '.') {
		line++;
		len--;
	}
	if (__builtin_add_overflow(len, 2, &add) ||
	    __builtin_add_overflow(s->size, add, &s->size) ||
	    s->size > s->conf->max_size)
		s->too_big = true;
	if (s->too_big || s->line_too_long)
		return SMTP_ACT_NONE;
	line = bare_cr(s, line, len);
	if (s->bare != BARE_NONE)
		return SMTP_ACT_NONE;
	s->req.data = line;
	s->req.len = len;
	return SMTP_ACT_DATA;
}

static enum smtp_act
cmd_rset(struct smtp_server *s, const char *arg, size_t len, struct buf *out)
{
	(void)arg, (void)len;
	reset_txn(s);
	buf_line(out, "250 2.0.0 Ok");
	return SMTP_ACT_NONE;
}

static enum smtp_act
cmd_noop(struct smtp_server *s, const char *arg, size_t len, struct buf *out)
{
	(void)s, (void)arg, (void)len;
	buf_line(out, "250 2.0.0 Ok");
	return SMTP_ACT_NONE;
}

static enum smtp_act
cmd_quit(struct smtp_server *s, const char *arg, size_t len, struct buf *out)
{
	(void)arg, (void)len;
	buf_line(out, "221 2.0.0 %s Bye", s->conf->hostname);
	s->state = ST_CLOSED;
	return SMTP_ACT_CLOSE;
}

static enum smtp_act
cmd_vrfy(struct smtp_server *s, const char *arg, size_t len, struct buf *out)
{
	const char *err;
	size_t used, i;
	struct addr *a = &s->req.addr;

	if (len == 0)
		return fail(s, out, "501 5.5.4 Syntax: VRFY address");
	if (arg[0] == '<') {
		if (addr_parse_path(arg, len, ADDR_ALLOW_POSTMASTER, a, &used,
				    &err) == -1 || used != len)
			return fail(s, out, "501 5.1.3 Bad address syntax");
	} else if (memchr(arg, '@', len) != NULL) {
		if (addr_parse_mailbox(arg, len, a, &err) == -1)
			return fail(s, out, "501 5.1.3 Bad address syntax");
	} else {
		/* a bare user name: the glue looks it up in local domains */
		if (len > ADDR_LOCAL_MAX)
			return fail(s, out, "501 5.1.3 Bad address syntax");
		for (i = 0; i < len; i++)
			if (arg[i] == ' ' || arg[i] == '"' || arg[i] == '\\')
				return fail(s, out,
					    "501 5.1.3 Bad address syntax");
		memset(a, 0, sizeof(*a));
		memcpy(a->local, arg, len);
	}
	if (!s->conf->vrfy) {
		/* RFC 5321 3.5.3: neither confirms nor denies the user */
		buf_line(out, "252 2.5.2 Cannot VRFY user, but will accept "
			      "message and attempt delivery");
		return SMTP_ACT_NONE;
	}
	s->pending = SMTP_ACT_VRFY;
	return SMTP_ACT_VRFY;
}

static enum smtp_act
cmd_help(struct smtp_server *s, const char *arg, size_t len, struct buf *out)
{
	(void)s, (void)arg, (void)len;
	buf_line(out, "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP "
		      "QUIT VRFY HELP");
	return SMTP_ACT_NONE;
}

static void
add_rcpt(struct smtp_server *s)
{
	if (s->nrcpts == s->rcpts_cap) {
		unsigned cap = s->rcpts_cap ? s->rcpts_cap * 2 : 4;

		if (cap > s->conf->max_rcpts)
			cap = s->conf->max_rcpts;
		s->rcpts = xrealloc(s->rcpts, cap * sizeof(*s->rcpts));
		s->rcpts_cap = cap;
	}
	s->rcpts[s->nrcpts++] = s->req.addr;
	s->state = ST_RCPT;
}

static void
addr_text(const struct addr *a, char *txt, size_t size)
{
	if (addr_format(a, txt, size) < 0)
		snprintf(txt, size, "address");
}

/* refused recipients count as errors: slows address probing */
static enum smtp_act
count_refusal(struct smtp_server *s, struct buf *out)
{
	if (++s->errors < s->conf->max_errors)
		return SMTP_ACT_NONE;
	buf_line(out, "421 4.7.0 %s Error: too many errors", s->conf->hostname);
	s->state = ST_CLOSED;
	return SMTP_ACT_CLOSE;
}

static enum smtp_act
done_mail(struct smtp_server *s, enum smtp_result r, struct buf *out)
{
	if (r == SMTP_R_TEMP || r == SMTP_R_NOSPACE) {
		buf_line(out, "451 4.3.0 Error: try again later");
		return SMTP_ACT_NONE;
	}
	if (r != SMTP_R_OK)
		return fail(s, out, "550 5.7.1 Error: sender rejected");
	s->sender = s->req.addr;
	s->nrcpts = 0;
	s->state = ST_MAIL;
	buf_line(out, "250 2.1.0 Ok");
	return SMTP_ACT_NONE;
}

static enum smtp_act
done_rcpt(struct smtp_server *s, enum smtp_result r, struct buf *out)
{
	char txt[ADDR_PATH_MAX + 8];

	addr_text(&s->req.addr, txt, sizeof(txt));
	switch (r) {
	case SMTP_R_OK:
		add_rcpt(s);
		buf_line(out, "250 2.1.5 Ok");
		return SMTP_ACT_NONE;
	case SMTP_R_TEMP:
	case SMTP_R_NOSPACE:
		buf_line(out, "451 4.3.0 <%s>: Temporary lookup failure", txt);
		return SMTP_ACT_NONE;
	case SMTP_R_TOOMANY:
		buf_line(out, "452 4.5.3 Error: too many recipients");
		return SMTP_ACT_NONE;
	case SMTP_R_NOUSER:
		buf_line(out, "550 5.1.1 <%s>: Recipient address rejected: "
			      "User unknown", txt);
		break;
	case SMTP_R_RELAY_DENIED:
		buf_line(out, "550 5.7.1 <%s>: Relay access denied", txt);
		break;
	case SMTP_R_PERM:
		buf_line(out, "550 5.1.1 <%s>: Recipient address rejected",
			 txt);
		break;
	}
	return count_refusal(s, out);
}

static enum smtp_act
done_vrfy(struct smtp_server *s, enum smtp_result r, struct buf *out)
{
	char txt[ADDR_PATH_MAX + 8];

	addr_text(&s->req.addr, txt, sizeof(txt));
	if (r == SMTP_R_OK)
		buf_line(out, "250 2.1.5 <%s>", txt);
	else if (r == SMTP_R_TEMP || r == SMTP_R_NOSPACE)
		buf_line(out, "451 4.3.0 <%s>: Temporary lookup failure", txt);
	else
		buf_line(out, "550 5.1.1 <%s>: User unknown", txt);
	return SMTP_ACT_NONE;
}

static enum smtp_act
done_auth(struct smtp_server *s, enum smtp_result r, struct buf *out)
{
	sasl_wipe(&s->sasl); /* the password is checked: forget it */
	s->req.pass = NULL;
	if (r == SMTP_R_TEMP || r == SMTP_R_NOSPACE) {
		buf_line(out, "454 4.7.0 Temporary authentication failure");
		return SMTP_ACT_NONE;
	}
	if (r != SMTP_R_OK)
		return auth_refused(s, out);
	s->authed = true;
	buf_line(out, "235 2.7.0 Authentication successful");
	return SMTP_ACT_NONE;
}

static enum smtp_act
done_commit(struct smtp_server *s, enum smtp_result r, const char *info,
	    struct buf *out)
{
	switch (r) {
	case SMTP_R_OK:
		buf_line(out, "250 2.0.0 Ok: queued as %s", info ? info : "-");
		break;
	case SMTP_R_NOSPACE:
		buf_line(out, "452 4.3.1 Error: insufficient system storage");
		break;
	case SMTP_R_TEMP:
		buf_line(out, "451 4.3.0 Error: local delivery failed, try "
			      "again later");
		break;
	default:
		buf_line(out, "554 5.3.0 Error: delivery failed");
		break;
	}
	reset_txn(s);
	return SMTP_ACT_NONE;
}

enum smtp_act
smtp_server_done(struct smtp_server *s, enum smtp_result r, const char *info,
		 struct buf *out)
{
	enum smtp_act was = s->pending;

	s->pending = SMTP_ACT_NONE;
	switch (was) {
	case SMTP_ACT_MAIL:
		return done_mail(s, r, out);
	case SMTP_ACT_RCPT:
		return done_rcpt(s, r, out);
	case SMTP_ACT_VRFY:
		return done_vrfy(s, r, out);
	case SMTP_ACT_AUTH:
		return done_auth(s, r, out);
	case SMTP_ACT_COMMIT:
		return done_commit(s, r, info, out);
	default:
		abort(); /* done() without a pending action: caller bug */
	}
}

enum smtp_act
smtp_server_done_reply(struct smtp_server *s, const char *reply,
		       struct buf *out)
{
	enum smtp_act was = s->pending;
	bool perm = reply[0] == '5';

	s->pending = SMTP_ACT_NONE;
	switch (was) {
	case SMTP_ACT_MAIL:
		if (perm)
			return fail(s, out, reply);
		buf_line(out, "%s", reply);
		return SMTP_ACT_NONE;
	case SMTP_ACT_RCPT:
		buf_line(out, "%s", reply);
		return perm ? count_refusal(s, out) : SMTP_ACT_NONE;
	case SMTP_ACT_COMMIT:
		buf_line(out, "%s", reply);
		reset_txn(s);
		return SMTP_ACT_NONE;
	default:
		abort(); /* no MAIL, RCPT or COMMIT pending: caller bug */
	}
}

void
smtp_server_set_sender(struct smtp_server *s, const struct addr *a)
{
	s->sender = *a;
}

int
smtp_server_add_rcpt(struct smtp_server *s, const struct addr *a)
{
	if (s->nrcpts >= s->conf->max_rcpts)
		return -1;
	s->req.addr = *a;
	add_rcpt(s);
	return 0;
}

/* Same mailbox: local part and domain, in any case. */
static bool
same_addr(const struct addr *a, const struct addr *b)
{
	return strcasecmp(a->local, b->local) == 0 &&
	       strcasecmp(a->domain, b->domain) == 0;
}

unsigned
smtp_server_del_rcpt(struct smtp_server *s, const struct addr *a)
{
	unsigned i, j = 0, n = s->nrcpts;

	for (i = 0; i < n; i++)
		if (!same_addr(&s->rcpts[i], a))
			s->rcpts[j++] = s->rcpts[i];
	s->nrcpts = j;
	return n - j;
}

/* STARTTLS (RFC 3207) */
static enum smtp_act
cmd_starttls(struct smtp_server *s, const char *arg, size_t len,
	     struct buf *out)
{
	(void)arg;
	/* after the flags, as before: the argument, then a transaction */
	if (len > 0)
		return fail(s, out, "501 5.5.4 Syntax: STARTTLS");
	if (s->state >= ST_MAIL)
		return fail(s, out, "503 5.5.1 Error: MAIL transaction in "
				    "progress");
	buf_line(out, "220 2.0.0 Ready to start TLS");
	/* 4.2: forget all that was said in the clear */
	reset_txn(s);
	s->state = ST_INIT;
	s->esmtp = false;
	s->helo[0] = '\0';
	s->authed = false;
	s->user[0] = '\0';
	s->secure = true;
	return SMTP_ACT_STARTTLS;
}

/* AUTH (RFC 4954): PLAIN (RFC 4616) and LOGIN */

/* 535; past max_auth_failures also 421 and close. */
static enum smtp_act
auth_refused(struct smtp_server *s, struct buf *out)
{
	s->user[0] = '\0';
	buf_line(out, "535 5.7.8 Authentication credentials invalid");
	if (++s->auth_fails < s->conf->max_auth_failures)
		return SMTP_ACT_NONE;
	buf_line(out, "421 4.7.0 %s Error: too many failed authentications",
		 s->conf->hostname);
	s->state = ST_CLOSED;
	return SMTP_ACT_CLOSE;
}

/*
 * What the SASL exchange said, as a reply: LOGIN's malformed fields are
 * 501 as bad base64 is, PLAIN's are a refused login (535).
 */
static enum smtp_act
auth_result(struct smtp_server *s, enum sasl_result r, struct buf *out)
{
	switch (r) {
	case SASL_OK:
		snprintf(s->user, sizeof(s->user), "%s", sasl_user(&s->sasl));
		s->req.user = s->user;
		s->req.pass = sasl_pass(&s->sasl);
		s->pending = SMTP_ACT_AUTH;
		return SMTP_ACT_AUTH;
	case SASL_MORE:
		buf_line(out, "334 %s", sasl_challenge(&s->sasl));
		return SMTP_ACT_NONE;
	case SASL_CANCELLED:
		return fail(s, out, "501 5.0.0 Error: authentication "
				    "cancelled");
	case SASL_MALFORMED:
	case SASL_AUTHZID:
		if (s->mech == SASL_MECH_PLAIN)
			return auth_refused(s, out);
		/* FALLTHROUGH */
	case SASL_BAD_BASE64:
		break;
	}
	return fail(s, out, "501 5.5.2 Error: bad base64 in AUTH");
}

static enum smtp_act
cmd_auth(struct smtp_server *s, const char *arg, size_t len, struct buf *out)
{
	size_t mlen;
	const char *init;
	size_t ilen;

	for (mlen = 0; mlen < len && arg[mlen] != ' '; mlen++)
		;
	init = arg + mlen;
	while (init < arg + len && *init == ' ')
		init++;
	ilen = (size_t)(arg + len - init);
	s->mech = sasl_mech_parse(arg, mlen);
	if (s->mech == SASL_MECH_NONE && mlen == 0)
		return fail(s, out, "501 5.5.4 Syntax: AUTH mechanism");
	if (s->mech == SASL_MECH_NONE)
		return fail(s, out, "504 5.5.4 Error: unsupported "
				    "authentication mechanism");
	return auth_result(s, sasl_start(&s->sasl, s->mech,
					 ilen > 0 ? init : NULL, ilen),
			   out);
}

static enum smtp_act
feed_sasl(struct smtp_server *s, const char *line, size_t len,
	  struct buf *out)
{
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	return auth_result(s, sasl_step(&s->sasl, line, len), out);
}
