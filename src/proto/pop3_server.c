/*
 * pop3_server - the sans-I/O POP3 server core; see pop3_server.h.
 *
 * Commands come from one table with the states they are valid in and
 * what else they need (logins allowed here, a USER before, STLS offered,
 * no TLS yet), checked once by the dispatcher, after Dovecot's
 * pop3_commands[]; each handler checks its arguments before it acts.
 * Every -ERR the client caused (unknown command, bad syntax, wrong state,
 * no such message) counts toward max_errors; failed logins count toward
 * max_auth_failures.  Past either the core says -ERR and closes.  The
 * answer to each action (login, RETR, UPDATE) has a function of its own.
 */
#include "pop3_server.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum state {
	ST_AUTH,	/* AUTHORIZATION, no USER yet */
	ST_USER,	/* AUTHORIZATION, USER given */
	ST_TRANS,	/* TRANSACTION */
	ST_CLOSED,
};

/* What a command needs; the dispatcher checks them in this order. */
enum {
	IN_AUTH = 1 << 0,	/* valid in AUTHORIZATION */
	IN_TRANS = 1 << 1,	/* valid in TRANSACTION */
	P_LOGIN = 1 << 2,	/* logins allowed (TLS, or in the clear) */
	P_USER = 1 << 3,	/* after USER */
	P_STLS = 1 << 4,	/* conf->stls */
	P_CLEAR = 1 << 5,	/* not under TLS yet */
};

struct pop3_server {
	const struct pop3_conf *conf;
	enum state state;
	enum pop3_act pending;
	unsigned errors, auth_failures;
	char user[POP3_NAME_MAX + 1];
	char pass[POP3_PASS_MAX + 1];	/* PASS */
	struct sasl sasl;	/* AUTH PLAIN; its response is under way */
	pop3_msg_fn *msg_fn;		/* the snapshot's messages */
	void *msg_arg;
	bool *dele;
	unsigned nmsgs;
	struct pop3_req req;
	bool secure;
	bool plain_auth;	/* logins allowed without TLS */
	/* a LIST or UIDL listing being written (POP3_ACT_LISTING) */
	bool listing_uidl;
	unsigned listing_next;	/* the message its next line is for */
};

typedef enum pop3_act cmd_fn(struct pop3_server *, const char *,
			     struct buf *);

static cmd_fn cmd_user, cmd_pass, cmd_apop, cmd_auth, cmd_quit, cmd_capa;
static cmd_fn cmd_stat, cmd_list, cmd_retr, cmd_dele, cmd_noop, cmd_rset;
static cmd_fn cmd_top, cmd_uidl, cmd_stls;
static enum pop3_act auth_result(struct pop3_server *, enum sasl_result,
				 struct buf *);

static const struct cmd {
	const char *name;
	cmd_fn *fn;
	unsigned flags;
} CMDS[] = {
	{"USER", cmd_user, IN_AUTH | P_LOGIN},
	{"PASS", cmd_pass, IN_AUTH | P_LOGIN | P_USER},
	{"APOP", cmd_apop, IN_AUTH},
	{"AUTH", cmd_auth, IN_AUTH | P_LOGIN},
	{"QUIT", cmd_quit, IN_AUTH | IN_TRANS},
	{"CAPA", cmd_capa, IN_AUTH | IN_TRANS},
	{"STLS", cmd_stls, IN_AUTH | P_STLS | P_CLEAR},
	{"STAT", cmd_stat, IN_TRANS}, {"LIST", cmd_list, IN_TRANS},
	{"RETR", cmd_retr, IN_TRANS}, {"DELE", cmd_dele, IN_TRANS},
	{"NOOP", cmd_noop, IN_TRANS}, {"RSET", cmd_rset, IN_TRANS},
	{"TOP", cmd_top, IN_TRANS},   {"UIDL", cmd_uidl, IN_TRANS},
};

static bool allowed(struct pop3_server *, const struct cmd *, struct buf *,
		    enum pop3_act *);

struct pop3_server *
pop3_server_new(const struct pop3_conf *conf)
{
	struct pop3_server *s = xcalloc(1, sizeof(*s));

	s->conf = conf;
	s->state = ST_AUTH;
	/* lenient as this core always was: "*" and "=" on either line */
	sasl_init(&s->sasl,
		  SASL_CANCEL_INITIAL | SASL_EMPTY_ALWAYS | SASL_USER_TOKEN);
	return s;
}

void
pop3_server_free(struct pop3_server **sp)
{
	if (*sp == NULL)
		return;
	explicit_bzero((*sp)->pass, sizeof((*sp)->pass));
	sasl_wipe(&(*sp)->sasl);
	free((*sp)->dele);
	free(*sp);
	*sp = NULL;
}

/* An -ERR the client caused: counts toward max_errors. */
static enum pop3_act
fail(struct pop3_server *s, struct buf *out, const char *text)
{
	buf_line(out, "-ERR %s", text);
	if (++s->errors >= s->conf->max_errors) {
		buf_line(out, "-ERR Too many errors, closing connection");
		s->state = ST_CLOSED;
		return POP3_ACT_CLOSE;
	}
	return POP3_ACT_NONE;
}

void
pop3_server_greet(struct pop3_server *s, struct buf *out)
{
	buf_line(out, "+OK owlpost POP3 ready %s", s->conf->hostname);
}

size_t
pop3_server_max_line(const struct pop3_server *s)
{
	return sasl_active(&s->sasl) ? POP3_SASL_MAX : POP3_CMD_MAX;
}

/* Strips the line end: CRLF or a lone LF; -1 if a CR or NUL is inside. */
static int
strip(const char *line, size_t len, char *out, size_t size)
{
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len >= size || memchr(line, '\0', len) != NULL ||
	    memchr(line, '\r', len) != NULL)
		return -1;
	memcpy(out, line, len);
	out[len] = '\0';
	return 0;
}

/* One command line, its line end stripped. */
static enum pop3_act
feed_command(struct pop3_server *s, const char *text, struct buf *out)
{
	char name[8];
	const char *args;
	size_t n, i;
	enum pop3_act act;

	n = strcspn(text, " ");
	if (n == 0 || n >= sizeof(name))
		return fail(s, out, text[0] ? "Not supported"
					    : "Empty command");
	for (i = 0; i < n; i++)
		name[i] = (char)toupper((unsigned char)text[i]);
	name[n] = '\0';
	args = text[n] == ' ' ? text + n + 1 : NULL;
	for (i = 0; i < sizeof(CMDS) / sizeof(CMDS[0]); i++) {
		if (strcmp(CMDS[i].name, name) != 0)
			continue;
		if (!allowed(s, &CMDS[i], out, &act))
			return act;
		return CMDS[i].fn(s, args, out);
	}
	return fail(s, out, "Not supported");
}

enum pop3_act
pop3_server_feed(struct pop3_server *s, const char *line, size_t len,
		 struct buf *out)
{
	char text[POP3_SASL_MAX + 1];
	enum pop3_act act;

	if (s->state == ST_CLOSED || s->pending != POP3_ACT_NONE)
		return POP3_ACT_NONE;
	if (strip(line, len, text, sizeof(text)) == -1) {
		sasl_wipe(&s->sasl); /* ends an AUTH under way */
		return fail(s, out, "Bad characters in command");
	}
	if (sasl_active(&s->sasl))
		act = auth_result(s, sasl_step(&s->sasl, text, strlen(text)),
				  out);
	else
		act = feed_command(s, text, out);
	explicit_bzero(text, strlen(text)); /* it may hold a password */
	return act;
}

enum pop3_act
pop3_server_toolong(struct pop3_server *s, struct buf *out)
{
	if (s->state == ST_CLOSED || s->pending != POP3_ACT_NONE)
		return POP3_ACT_NONE;
	sasl_wipe(&s->sasl); /* ends an AUTH under way */
	return fail(s, out, "Line too long");
}

size_t
pop3_server_max_drop(const struct pop3_server *s)
{
	(void)s;
	return WIRE_DROP_MAX;
}

void
pop3_server_endless(struct pop3_server *s, struct buf *out)
{
	sasl_wipe(&s->sasl);
	buf_line(out, "-ERR Line too long, closing connection");
	s->state = ST_CLOSED;
}

/* Parses a message number: digits only, 1..n; returns 0 if bad. */
static unsigned long
parse_num(const char *p, const char **end)
{
	unsigned long v = 0;

	if (!isdigit((unsigned char)*p))
		return 0;
	while (isdigit((unsigned char)*p)) {
		if (v > 100000000UL)
			return 0;
		v = v * 10 + (unsigned long)(*p - '0');
		p++;
	}
	*end = p;
	return v;
}

/* The argument as a live message index, or -1 with the -ERR sent. */
static long
msg_arg(struct pop3_server *s, const char *args, bool last, struct buf *out,
	enum pop3_act *act, const char **rest)
{
	const char *end = NULL;
	unsigned long n;

	if (args == NULL || (n = parse_num(args, &end)) == 0 ||
	    (last ? *end != '\0' : *end != ' ')) {
		*act = fail(s, out, args == NULL ? "Message number required"
			    : "Syntax error: bad message number");
		return -1;
	}
	if (n > s->nmsgs) {
		*act = fail(s, out, "No such message");
		return -1;
	}
	if (s->dele[n - 1]) {
		*act = fail(s, out, "Message is deleted");
		return -1;
	}
	if (rest != NULL)
		*rest = end + 1;
	return (long)n - 1;
}

static bool
valid_user(const char *u)
{
	size_t n = strlen(u);

	if (n == 0 || n > POP3_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)u[i] <= ' ' || u[i] == 0x7f)
			return false;
	return true;
}

void
pop3_server_secure(struct pop3_server *s)
{
	s->secure = true;
}

void
pop3_server_plain_auth(struct pop3_server *s, bool allow)
{
	s->plain_auth = allow;
}

/* Logins may be made now. */
static bool
login_usable(const struct pop3_server *s)
{
	return s->secure || s->plain_auth;
}

static enum pop3_act
need_tls(struct pop3_server *s, struct buf *out)
{
	s->state = ST_AUTH;
	return fail(s, out, s->conf->stls
		    ? "[AUTH] Plaintext authentication disallowed on "
		      "non-secure connections; use STLS first"
		    : "[AUTH] Plaintext authentication disallowed on "
		      "non-secure connections");
}

/*
 * Whether command c may run in this state; if not, *act_r is the answer
 * (the -ERR written).
 */
static bool
allowed(struct pop3_server *s, const struct cmd *c, struct buf *out,
	enum pop3_act *act_r)
{
	unsigned f = c->flags;

	if (!(f & (s->state == ST_TRANS ? IN_TRANS : IN_AUTH)))
		*act_r = fail(s, out, s->state == ST_TRANS
				      ? "Already logged in"
				      : "Not logged in; use USER and PASS, "
					"or AUTH");
	else if ((f & P_LOGIN) && !login_usable(s))
		*act_r = need_tls(s, out);
	else if ((f & P_USER) && s->state != ST_USER)
		*act_r = fail(s, out, "USER first");
	else if ((f & P_STLS) && !s->conf->stls)
		*act_r = fail(s, out, "Not supported");
	else if ((f & P_CLEAR) && s->secure)
		*act_r = fail(s, out, "Command not permitted when TLS active");
	else
		return true;
	return false;
}

static enum pop3_act
cmd_stls(struct pop3_server *s, const char *args, struct buf *out)
{
	if (args != NULL)
		return fail(s, out, "Syntax error: STLS takes no argument");
	buf_line(out, "+OK Begin TLS negotiation now");
	/* forget what was said in the clear (a USER) */
	explicit_bzero(s->user, sizeof(s->user));
	s->state = ST_AUTH;
	s->secure = true;
	return POP3_ACT_STLS;
}

static enum pop3_act
cmd_user(struct pop3_server *s, const char *args, struct buf *out)
{
	if (args == NULL || !valid_user(args)) {
		s->state = ST_AUTH;
		return fail(s, out, "Syntax error: USER name");
	}
	snprintf(s->user, sizeof(s->user), "%s", args);
	s->state = ST_USER;
	/* the same answer whether or not the user exists */
	buf_line(out, "+OK Send your password");
	return POP3_ACT_NONE;
}

static enum pop3_act
login(struct pop3_server *s)
{
	s->req.user = s->user;
	s->req.pass = s->pass;
	s->pending = POP3_ACT_LOGIN;
	return POP3_ACT_LOGIN;
}

static enum pop3_act
cmd_pass(struct pop3_server *s, const char *args, struct buf *out)
{
	if (args == NULL || strlen(args) > POP3_PASS_MAX) {
		s->state = ST_AUTH;
		return fail(s, out, "Syntax error: PASS password");
	}
	/* the rest of the line: passwords may hold spaces */
	snprintf(s->pass, sizeof(s->pass), "%s", args);
	return login(s);
}

static enum pop3_act
cmd_apop(struct pop3_server *s, const char *args, struct buf *out)
{
	(void)args;
	/* needs a plaintext secret; the users file holds only hashes */
	s->state = ST_AUTH;
	return fail(s, out, "[AUTH] APOP is not available; use USER and PASS, "
		    "or AUTH PLAIN");
}

/* What the AUTH PLAIN exchange said, as a reply or a LOGIN action. */
static enum pop3_act
auth_result(struct pop3_server *s, enum sasl_result r, struct buf *out)
{
	switch (r) {
	case SASL_OK:
		snprintf(s->user, sizeof(s->user), "%s", sasl_user(&s->sasl));
		s->req.user = s->user;
		s->req.pass = sasl_pass(&s->sasl);
		s->pending = POP3_ACT_LOGIN;
		return POP3_ACT_LOGIN;
	case SASL_MORE:
		buf_line(out, "+ %s", sasl_challenge(&s->sasl));
		return POP3_ACT_NONE;
	case SASL_CANCELLED:
		return fail(s, out, "Authentication cancelled");
	case SASL_BAD_BASE64:
		return fail(s, out, "Bad base64 in AUTH response");
	case SASL_MALFORMED:
		return fail(s, out, "Malformed AUTH PLAIN response");
	case SASL_AUTHZID:
		return fail(s, out, "[AUTH] Cannot log in as another user");
	}
	return fail(s, out, "Malformed AUTH PLAIN response");
}

static enum pop3_act
cmd_auth(struct pop3_server *s, const char *args, struct buf *out)
{
	size_t n;

	if (args == NULL) {
		/* the mechanism list, as most servers answer a bare AUTH */
		buf_line(out, "+OK SASL mechanisms follow");
		buf_line(out, "PLAIN");
		buf_line(out, ".");
		return POP3_ACT_NONE;
	}
	s->state = ST_AUTH; /* a USER given before is forgotten */
	n = strcspn(args, " ");
	if (sasl_mech_parse(args, n) != SASL_MECH_PLAIN)
		return fail(s, out, "Unsupported SASL mechanism");
	if (args[n] == ' ')
		return auth_result(s, sasl_start(&s->sasl, SASL_MECH_PLAIN,
						 args + n + 1,
						 strlen(args + n + 1)),
				   out);
	return auth_result(s, sasl_start(&s->sasl, SASL_MECH_PLAIN, NULL, 0),
			   out);
}

static enum pop3_act
cmd_quit(struct pop3_server *s, const char *args, struct buf *out)
{
	if (args != NULL)
		return fail(s, out, "Syntax error: QUIT takes no argument");
	if (s->state != ST_TRANS) {
		buf_line(out, "+OK owlpost POP3 server signing off");
		s->state = ST_CLOSED;
		return POP3_ACT_CLOSE;
	}
	s->req.dele = s->dele;
	s->req.ndele = 0;
	for (unsigned i = 0; i < s->nmsgs; i++)
		s->req.ndele += s->dele[i];
	s->pending = POP3_ACT_UPDATE;
	return POP3_ACT_UPDATE;
}

static enum pop3_act
cmd_capa(struct pop3_server *s, const char *args, struct buf *out)
{
	if (args != NULL)
		return fail(s, out, "Syntax error: CAPA takes no argument");
	buf_line(out, "+OK Capability list follows");
	buf_line(out, "TOP");
	buf_line(out, "UIDL");
	buf_line(out, "RESP-CODES");
	buf_line(out, "AUTH-RESP-CODE");
	buf_line(out, "PIPELINING");
	buf_line(out, "EXPIRE NEVER");
	buf_line(out, "IMPLEMENTATION owlpost");
	if (s->state != ST_TRANS && s->conf->stls && !s->secure)
		buf_line(out, "STLS");
	if (s->state != ST_TRANS && login_usable(s)) {
		buf_line(out, "USER");
		buf_line(out, "SASL PLAIN");
	}
	buf_line(out, ".");
	return POP3_ACT_NONE;
}

/* Message i of the snapshot, as the glue describes it. */
static struct pop3_msg
msg_at(const struct pop3_server *s, unsigned i)
{
	struct pop3_msg m = {0, ""};

	s->msg_fn(s->msg_arg, i, &m);
	return m;
}

static void
totals(const struct pop3_server *s, unsigned *count, size_t *size)
{
	*count = 0;
	*size = 0;
	for (unsigned i = 0; i < s->nmsgs; i++) {
		if (s->dele[i])
			continue;
		(*count)++;
		*size += msg_at(s, i).size;
	}
}

static enum pop3_act
cmd_stat(struct pop3_server *s, const char *args, struct buf *out)
{
	unsigned count;
	size_t size;

	if (args != NULL)
		return fail(s, out, "Syntax error: STAT takes no argument");
	totals(s, &count, &size);
	buf_line(out, "+OK %u %zu", count, size);
	return POP3_ACT_NONE;
}

/*
 * LIST and UIDL without an argument: the +OK line now, the lines as the
 * client reads them (POP3_ACT_LISTING, pop3_server_listing_more), so that
 * a listing of 100,000 messages costs no more memory than a few lines.
 */
static enum pop3_act
start_listing(struct pop3_server *s, bool uidl, struct buf *out)
{
	unsigned count;
	size_t size;

	if (uidl) {
		buf_line(out, "+OK Unique-ID listing follows");
	} else {
		totals(s, &count, &size);
		buf_line(out, "+OK %u messages (%zu octets)", count, size);
	}
	s->listing_uidl = uidl;
	s->listing_next = 0;
	s->pending = POP3_ACT_LISTING;
	return POP3_ACT_LISTING;
}

/* Appends the decimal digits of v (no printf: a listing of 100,000 lines
 * spent most of its time there). */
static void
put_uint(struct buf *out, unsigned long long v)
{
	char d[24];
	size_t n = sizeof(d);

	do {
		d[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	buf_add(out, d + n, sizeof(d) - n);
}

bool
pop3_server_listing_more(struct pop3_server *s, struct buf *out,
			 size_t until)
{
	if (s->pending != POP3_ACT_LISTING)
		return true;
	for (; s->listing_next < s->nmsgs && out->len < until;
	     s->listing_next++) {
		unsigned j = s->listing_next;

		if (s->dele[j])
			continue;
		put_uint(out, j + 1);
		buf_addc(out, ' ');
		if (s->listing_uidl)
			buf_addstr(out, msg_at(s, j).uidl);
		else
			put_uint(out, msg_at(s, j).size);
		buf_add(out, "\r\n", 2);
	}
	if (s->listing_next < s->nmsgs)
		return false;
	buf_line(out, ".");
	s->pending = POP3_ACT_NONE;
	return true;
}

static enum pop3_act
cmd_list(struct pop3_server *s, const char *args, struct buf *out)
{
	enum pop3_act act;
	long i;

	if (args != NULL) {
		if ((i = msg_arg(s, args, true, out, &act, NULL)) == -1)
			return act;
		buf_line(out, "+OK %ld %zu", i + 1, msg_at(s, (unsigned)i).size);
		return POP3_ACT_NONE;
	}
	return start_listing(s, false, out);
}

static enum pop3_act
cmd_uidl(struct pop3_server *s, const char *args, struct buf *out)
{
	enum pop3_act act;
	long i;

	if (args != NULL) {
		if ((i = msg_arg(s, args, true, out, &act, NULL)) == -1)
			return act;
		buf_line(out, "+OK %ld %s", i + 1, msg_at(s, (unsigned)i).uidl);
		return POP3_ACT_NONE;
	}
	return start_listing(s, true, out);
}

static enum pop3_act
retr(struct pop3_server *s, long i, long lines)
{
	s->req.msg = (unsigned)i;
	s->req.lines = lines;
	s->pending = POP3_ACT_RETR;
	return POP3_ACT_RETR;
}

static enum pop3_act
cmd_retr(struct pop3_server *s, const char *args, struct buf *out)
{
	enum pop3_act act;
	long i;

	if ((i = msg_arg(s, args, true, out, &act, NULL)) == -1)
		return act;
	return retr(s, i, -1);
}

static enum pop3_act
cmd_top(struct pop3_server *s, const char *args, struct buf *out)
{
	enum pop3_act act;
	const char *rest, *end;
	unsigned long lines = 0;
	long i;

	if ((i = msg_arg(s, args, false, out, &act, &rest)) == -1)
		return act;
	/* a line count of 0 is valid; parse_num() returns 0 for "bad" too */
	if (strcmp(rest, "0") != 0 &&
	    ((lines = parse_num(rest, &end)) == 0 || *end != '\0'))
		return fail(s, out, "Syntax error: TOP message lines");
	return retr(s, i, (long)lines);
}

static enum pop3_act
cmd_dele(struct pop3_server *s, const char *args, struct buf *out)
{
	enum pop3_act act;
	long i;

	if ((i = msg_arg(s, args, true, out, &act, NULL)) == -1)
		return act;
	s->dele[i] = true;
	buf_line(out, "+OK Message %ld deleted", i + 1);
	return POP3_ACT_NONE;
}

static enum pop3_act
cmd_noop(struct pop3_server *s, const char *args, struct buf *out)
{
	if (args != NULL)
		return fail(s, out, "Syntax error: NOOP takes no argument");
	buf_line(out, "+OK");
	return POP3_ACT_NONE;
}

static enum pop3_act
cmd_rset(struct pop3_server *s, const char *args, struct buf *out)
{
	unsigned count;
	size_t size;

	if (args != NULL)
		return fail(s, out, "Syntax error: RSET takes no argument");
	memset(s->dele, 0, s->nmsgs * sizeof(*s->dele));
	totals(s, &count, &size);
	buf_line(out, "+OK %u messages (%zu octets)", count, size);
	return POP3_ACT_NONE;
}

void
pop3_server_set_mailbox(struct pop3_server *s, pop3_msg_fn *fn, void *arg,
			unsigned n)
{
	s->msg_fn = fn;
	s->msg_arg = arg;
	s->nmsgs = n;
	free(s->dele);
	s->dele = xcalloc(n + 1, sizeof(*s->dele));
}

static enum pop3_act
logged_in(struct pop3_server *s, struct buf *out)
{
	unsigned count;
	size_t size;

	if (s->dele == NULL)
		pop3_server_set_mailbox(s, NULL, NULL, 0);
	s->state = ST_TRANS;
	totals(s, &count, &size);
	buf_line(out, "+OK Logged in, %u messages (%zu octets)", count, size);
	return POP3_ACT_NONE;
}

static enum pop3_act
login_refused(struct pop3_server *s, enum pop3_result r, struct buf *out)
{
	s->state = ST_AUTH;
	switch (r) {
	case POP3_R_OK:
		break; /* not refused; login_done() does not get here */
	case POP3_R_BADAUTH:
		if (++s->auth_failures >= s->conf->max_auth_failures) {
			buf_line(out, "-ERR [AUTH] Too many failed logins, "
				 "closing connection");
			s->state = ST_CLOSED;
			return POP3_ACT_CLOSE;
		}
		buf_line(out, "-ERR [AUTH] Invalid user name or password");
		break;
	case POP3_R_INUSE:
		buf_line(out, "-ERR [IN-USE] Mailbox is in use by another "
			 "session");
		break;
	case POP3_R_TEMP:
		buf_line(out, "-ERR [SYS/TEMP] Cannot open the mailbox now, "
			 "try again later");
		break;
	case POP3_R_PERM:
		buf_line(out, "-ERR [SYS/PERM] Cannot open the mailbox");
		break;
	}
	return POP3_ACT_NONE;
}

enum pop3_act
pop3_server_login_done(struct pop3_server *s, enum pop3_result r,
		       struct buf *out)
{
	if (s->pending != POP3_ACT_LOGIN)
		return POP3_ACT_NONE;
	s->pending = POP3_ACT_NONE;
	explicit_bzero(s->pass, sizeof(s->pass));
	sasl_wipe(&s->sasl);
	s->req.pass = NULL;
	if (r == POP3_R_OK)
		return logged_in(s, out);
	return login_refused(s, r, out);
}

void
pop3_server_retr_begin(struct pop3_server *s, struct buf *out)
{
	if (s->pending != POP3_ACT_RETR)
		return;
	if (s->req.lines < 0)
		buf_line(out, "+OK %zu octets", msg_at(s, s->req.msg).size);
	else
		buf_line(out, "+OK Top of message follows");
}

static enum pop3_act
done_retr(enum pop3_result r, struct buf *out)
{
	if (r == POP3_R_OK)
		return POP3_ACT_NONE; /* the text has been sent */
	buf_line(out, r == POP3_R_PERM
			      ? "-ERR [SYS/PERM] Message cannot be read"
			      : "-ERR [SYS/TEMP] Message cannot be read now");
	return POP3_ACT_NONE;
}

static enum pop3_act
done_update(struct pop3_server *s, enum pop3_result r, struct buf *out)
{
	s->state = ST_CLOSED;
	if (r == POP3_R_OK)
		buf_line(out, "+OK owlpost POP3 server signing off (%u "
			 "messages deleted)", s->req.ndele);
	else
		buf_line(out, "-ERR [SYS/TEMP] Some deleted messages were not "
			 "removed");
	return POP3_ACT_CLOSE;
}

enum pop3_act
pop3_server_done(struct pop3_server *s, enum pop3_result r, struct buf *out)
{
	enum pop3_act was = s->pending;

	if (was != POP3_ACT_RETR && was != POP3_ACT_UPDATE)
		return POP3_ACT_NONE;
	s->pending = POP3_ACT_NONE;
	if (was == POP3_ACT_RETR)
		return done_retr(r, out);
	return done_update(s, r, out);
}

void
pop3_server_shutdown(struct pop3_server *s, struct buf *out)
{
	buf_line(out, "-ERR Server shutting down");
	s->state = ST_CLOSED;
}

void
pop3_server_timeout(struct pop3_server *s, struct buf *out)
{
	buf_line(out, "-ERR Idle for too long, closing connection");
	s->state = ST_CLOSED;
}

void
pop3_server_deadline(struct pop3_server *s, struct buf *out)
{
	buf_line(out, "-ERR Too slow, closing connection");
	s->state = ST_CLOSED;
}

bool
pop3_server_pending(const struct pop3_server *s)
{
	return s->pending != POP3_ACT_NONE;
}

bool
pop3_server_logged_in(const struct pop3_server *s)
{
	return s->state == ST_TRANS;
}

bool
pop3_server_in_sasl(const struct pop3_server *s)
{
	return sasl_active(&s->sasl);
}

const char *
pop3_server_trace_in(const struct pop3_server *s, const char *line,
		     size_t len, size_t *len_r)
{
	static const struct {
		const char *cmd, *shown; /* a command, what shows of it */
	} secret[] = {
		{"PASS ", "PASS ****"},
		{"AUTH PLAIN ", "AUTH PLAIN ****"},
	};

	if (sasl_active(&s->sasl)) {
		*len_r = 4;
		return "****";
	}
	for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++) {
		size_t n = strlen(secret[i].cmd);

		if (len >= n && strncasecmp(line, secret[i].cmd, n) == 0) {
			*len_r = strlen(secret[i].shown);
			return secret[i].shown;
		}
	}
	*len_r = len;
	return line;
}

const struct pop3_req *
pop3_server_req(const struct pop3_server *s)
{
	return &s->req;
}
