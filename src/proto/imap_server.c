/*
 * imap_server - see imap_server.h.  Shaped as the SMTP and POP3 cores: the
 * state is explicit, each command is one function, and the command table
 * says in which states a command is valid, checked once in the
 * dispatcher.  Commands reach it whole from imap_parser; it answers the
 * parser's literal announcements ("+" for a synchronizing one it takes,
 * a refusal past what the state allows).
 */
#include "imap_server.h"
#include "imap_search.h"
#include "imap_server_private.h"
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static cmd_fn cmd_capability, cmd_noop, cmd_logout, cmd_starttls, cmd_login;
static cmd_fn cmd_authenticate, cmd_id, cmd_enable, cmd_compress, cmd_uid;

static const struct {
	const char *name;
	cmd_fn *fn;
	unsigned states;
} COMMANDS[] = {
	{"CAPABILITY", cmd_capability, IN_ANY},
	{"NOOP", cmd_noop, IN_ANY},
	{"LOGOUT", cmd_logout, IN_ANY},
	{"ID", cmd_id, IN_ANY},
	{"STARTTLS", cmd_starttls, IN_NOAUTH},
	{"LOGIN", cmd_login, IN_NOAUTH},
	{"AUTHENTICATE", cmd_authenticate, IN_NOAUTH},
	{"ENABLE", cmd_enable, IN_LOGGED},
	{"COMPRESS", cmd_compress, IN_LOGGED},
	{"SELECT", imap_cmd_select, IN_LOGGED},
	{"EXAMINE", imap_cmd_examine, IN_LOGGED},
	{"APPEND", imap_cmd_append, IN_LOGGED},
	{"IDLE", imap_cmd_idle, IN_LOGGED},
	{"CHECK", imap_cmd_check, IN_SELECTED},
	{"CLOSE", imap_cmd_close, IN_SELECTED},
	{"UNSELECT", imap_cmd_unselect, IN_SELECTED},
	{"EXPUNGE", imap_cmd_expunge, IN_SELECTED},
	{"FETCH", imap_cmd_fetch, IN_SELECTED},
	{"STORE", imap_cmd_store, IN_SELECTED},
	{"COPY", imap_cmd_copy, IN_SELECTED},
	{"MOVE", imap_cmd_move, IN_SELECTED},
	{"SEARCH", imap_cmd_search, IN_SELECTED},
	{"UID", cmd_uid, IN_SELECTED},
	{"SORT", imap_cmd_sort, IN_SELECTED},
	{"THREAD", imap_cmd_thread, IN_SELECTED},
	{"LIST", imap_cmd_list, IN_LOGGED},
	{"LSUB", imap_cmd_lsub, IN_LOGGED},
	{"CREATE", imap_cmd_create, IN_LOGGED},
	{"DELETE", imap_cmd_delete, IN_LOGGED},
	{"RENAME", imap_cmd_rename, IN_LOGGED},
	{"SUBSCRIBE", imap_cmd_subscribe, IN_LOGGED},
	{"UNSUBSCRIBE", imap_cmd_unsubscribe, IN_LOGGED},
	{"NAMESPACE", imap_cmd_namespace, IN_LOGGED},
	{"STATUS", imap_cmd_status, IN_LOGGED},
};

/* The parser's bounds once logged in: longer lines (a FETCH of many
 * items, a SEARCH, a long UID set), bigger kept literals (SEARCH
 * strings), more arguments; still far below what hurts. */
static const struct imap_limits LOGGED_LIMITS = {
	.line_max = IMAP_LOGGED_LINE_MAX,
	.literal_max = IMAP_LITERAL_MAX,
	.literals_max = 4 * IMAP_LITERAL_MAX,
	.depth_max = IMAP_SEARCH_DEPTH_MAX + 4,
	.args_max = 4 * IMAP_SEARCH_KEYS_MAX,
};

/* --- the session ---------------------------------------------------------- */

struct imap_server *
imap_server_new(const struct imap_conf *conf)
{
	struct imap_server *s = xcalloc(1, sizeof(*s));
	struct imap_limits lim = {
		.line_max = IMAP_LINE_MAX,
		.literal_max = IMAP_LOGIN_LITERAL_MAX,
		.literals_max = 2 * IMAP_LOGIN_LITERAL_MAX,
		.depth_max = 8,
		.args_max = 2 * ID_PAIRS_MAX + 16,
		.skip_max = WIRE_DROP_MAX,
	};

	s->conf = conf;
	s->parser = imap_parser_new(&lim);
	return s;
}

static void
wipe_login(struct imap_server *s)
{
	if (s->login != NULL) {
		sasl_wipe(&s->login->sasl);
		explicit_bzero(s->login, sizeof(*s->login));
		free(s->login);
		s->login = NULL;
	}
	s->req.user = s->req.pass = NULL;
}

/* The login's state, made when a login starts. */
static struct imap_login *
login_state(struct imap_server *s)
{
	if (s->login == NULL) {
		s->login = xcalloc(1, sizeof(*s->login));
		sasl_init(&s->login->sasl, SASL_EMPTY_ALWAYS);
	}
	return s->login;
}

void
imap_server_free(struct imap_server **sp)
{
	struct imap_server *s = *sp;

	if (s == NULL)
		return;
	wipe_login(s);
	if (s->ops != NULL) {
		imap_fetch_abort(s);
		imap_append_abort(s);
		if (s->mailbox != NULL)	/* selected, or logged out from it */
			s->ops->unselect(s->mctx);
	}
	free(s->mailbox);
	imap_seqset_free(&s->recent);
	imap_seqset_free(&s->saved);
	imap_keywords_free(&s->told);
	imap_parser_free(&s->parser);
	free(s->tag);
	free(s);
	*sp = NULL;
}

void
imap_server_set_mbox(struct imap_server *s, const struct imap_mbox_ops *ops,
		     void *ctx)
{
	s->ops = ops;
	s->mctx = ctx;
}

void
imap_server_clock(struct imap_server *s, int64_t now)
{
	s->now = now;
}

void
imap_server_secure(struct imap_server *s)
{
	s->secure = true;
}

void
imap_server_plain_auth(struct imap_server *s, bool allow)
{
	s->plain_auth = allow;
}

static bool
login_allowed(const struct imap_server *s)
{
	return s->secure || s->plain_auth;
}

/* The capabilities of the state, after "CAPABILITY " (RFC 9051 7.2.2). */
static void
capabilities(const struct imap_server *s, struct buf *out)
{
	buf_addstr(out, "IMAP4rev2 IMAP4rev1 LITERAL+ SASL-IR ID ENABLE");
	if (s->state != ST_NOAUTH) {
		buf_printf(out, " " IMAP_CAPS_LOGGED " APPENDLIMIT=%llu",
			   (unsigned long long)s->conf->append_max);
		if (s->conf->compress && !s->compressed)
			buf_addstr(out, " COMPRESS=DEFLATE");
		return;
	}
	if (s->conf->starttls && !s->secure)
		buf_addstr(out, " STARTTLS");
	buf_addstr(out, login_allowed(s) ? " AUTH=PLAIN" : " LOGINDISABLED");
}

void
imap_server_greet(struct imap_server *s, struct buf *out)
{
	buf_addstr(out, "* OK [CAPABILITY ");
	capabilities(s, out);
	buf_printf(out, "] %s owlpost IMAP ready\r\n", s->conf->hostname);
}

/* --- replies -------------------------------------------------------------- */

/* --- commands ------------------------------------------------------------- */

static enum imap_act
cmd_capability(struct imap_server *s, const char *tag,
	       const struct imap_arg *args, size_t nargs, struct buf *out)
{
	(void)args;
	if (nargs != 0)
		return imap_bad(s, tag, "CAPABILITY takes no arguments", out);
	buf_addstr(out, "* CAPABILITY ");
	capabilities(s, out);
	buf_addstr(out, "\r\n");
	imap_tagged(out, tag, "OK", "CAPABILITY completed");
	return IMAP_ACT_NONE;
}

static enum imap_act
cmd_noop(struct imap_server *s, const char *tag, const struct imap_arg *args,
	 size_t nargs, struct buf *out)
{
	enum imap_act a;

	(void)args;
	if (nargs != 0)
		return imap_bad(s, tag, "NOOP takes no arguments", out);
	if ((a = imap_sync(s, true, out)) != IMAP_ACT_NONE)
		return a;
	imap_tagged(out, tag, "OK", "NOOP completed");
	return IMAP_ACT_NONE;
}

static enum imap_act
cmd_logout(struct imap_server *s, const char *tag,
	   const struct imap_arg *args, size_t nargs, struct buf *out)
{
	(void)args;
	if (nargs != 0)
		return imap_bad(s, tag, "LOGOUT takes no arguments", out);
	buf_addstr(out, "* BYE Logging out\r\n");
	imap_tagged(out, tag, "OK", "LOGOUT completed");
	s->state = ST_LOGOUT;
	return IMAP_ACT_CLOSE;
}

static enum imap_act
cmd_starttls(struct imap_server *s, const char *tag,
	     const struct imap_arg *args, size_t nargs, struct buf *out)
{
	(void)args;
	if (nargs != 0)
		return imap_bad(s, tag, "STARTTLS takes no arguments", out);
	if (!s->conf->starttls || s->secure)
		return imap_bad(s, tag, s->secure ? "TLS is already active"
					     : "STARTTLS is not offered", out);
	imap_tagged(out, tag, "OK", "Begin TLS negotiation now");
	return IMAP_ACT_STARTTLS;
}

/* Holds the command's tag for the answer that comes later. */
static void
hold_tag(struct imap_server *s, const char *tag)
{
	free(s->tag);
	s->tag = xstrdup(tag);
}

static enum imap_act
start_login(struct imap_server *s, const char *tag)
{
	s->req.user = login_state(s)->user;
	s->req.pass = login_state(s)->pass;
	hold_tag(s, tag);
	s->pending = IMAP_ACT_LOGIN;
	return IMAP_ACT_LOGIN;
}

static enum imap_act
cmd_login(struct imap_server *s, const char *tag, const struct imap_arg *args,
	  size_t nargs, struct buf *out)
{
	const char *user, *pass;
	size_t ul, pl;

	if (nargs != 2 || (user = imap_astring(&args[0], &ul)) == NULL ||
	    (pass = imap_astring(&args[1], &pl)) == NULL)
		return imap_bad(s, tag, "LOGIN needs a user name and a password",
			   out);
	if (!login_allowed(s)) {
		imap_tagged(out, tag, "NO", "[PRIVACYREQUIRED] Plaintext "
		       "authentication is disallowed without TLS");
		return IMAP_ACT_NONE;
	}
	if (ul == 0 || ul > SASL_USER_MAX || pl > SASL_PASS_MAX ||
	    memchr(user, '\0', ul) != NULL || memchr(pass, '\0', pl) != NULL)
		return imap_bad(s, tag, "Invalid user name or password", out);
	memcpy(login_state(s)->user, user, ul);
	s->login->user[ul] = '\0';
	memcpy(s->login->pass, pass, pl);
	s->login->pass[pl] = '\0';
	return start_login(s, tag);
}

/* What a SASL exchange ended with (not OK or MORE): the tagged reply. */
static enum imap_act
sasl_failed(struct imap_server *s, const char *tag, enum sasl_result r,
	    struct buf *out)
{
	s->in_sasl = false;
	wipe_login(s);
	if (r == SASL_CANCELLED)
		return imap_bad(s, tag, "Authentication cancelled", out);
	return imap_bad(s, tag, r == SASL_BAD_BASE64 ? "Invalid base64"
						 : "Invalid PLAIN response",
		   out);
}

/* A SASL result: the login, a "+" continuation, or the failure. */
static enum imap_act
sasl_next(struct imap_server *s, const char *tag, enum sasl_result r,
	  struct buf *out)
{
	struct imap_login *l;

	if (r == SASL_MORE) {
		buf_printf(out, "+ %s\r\n",
			   sasl_challenge(&login_state(s)->sasl));
		hold_tag(s, tag);
		s->in_sasl = true;
		imap_parser_want_line(s->parser);
		return IMAP_ACT_NONE;
	}
	if (r != SASL_OK)
		return sasl_failed(s, tag, r, out);
	s->in_sasl = false;
	l = login_state(s);
	snprintf(l->user, sizeof(l->user), "%s", sasl_user(&l->sasl));
	snprintf(l->pass, sizeof(l->pass), "%s", sasl_pass(&l->sasl));
	sasl_wipe(&l->sasl);
	return start_login(s, tag);
}

static enum imap_act
cmd_authenticate(struct imap_server *s, const char *tag,
		 const struct imap_arg *args, size_t nargs, struct buf *out)
{
	const char *mech, *ir = NULL;
	size_t ml = 0, il = 0;

	if (nargs < 1 || nargs > 2 || args[0].type != IMAP_ARG_ATOM ||
	    (nargs == 2 && args[1].type != IMAP_ARG_ATOM))
		return imap_bad(s, tag, "AUTHENTICATE needs a mechanism name", out);
	mech = imap_astring(&args[0], &ml);
	if (nargs == 2)
		ir = imap_astring(&args[1], &il);
	if (sasl_mech_parse(mech, ml) != SASL_MECH_PLAIN) {
		imap_tagged(out, tag, "NO", "Unsupported authentication mechanism");
		return IMAP_ACT_NONE;
	}
	if (!login_allowed(s)) {
		imap_tagged(out, tag, "NO", "[PRIVACYREQUIRED] Plaintext "
		       "authentication is disallowed without TLS");
		return IMAP_ACT_NONE;
	}
	return sasl_next(s, tag, sasl_start(&login_state(s)->sasl,
					    SASL_MECH_PLAIN, ir,
					    il), out);
}

/* ID: the client's list of pairs or NIL; ours (RFC 2971). */
static enum imap_act
cmd_id(struct imap_server *s, const char *tag, const struct imap_arg *args,
       size_t nargs, struct buf *out)
{
	bool ok = nargs == 1 && (args[0].type == IMAP_ARG_NIL ||
				 args[0].type == IMAP_ARG_LIST);

	if (ok && args[0].type == IMAP_ARG_LIST) {
		ok = args[0].n % 2 == 0 && args[0].n / 2 <= ID_PAIRS_MAX;
		for (size_t i = 0; ok && i < args[0].n; i++)
			ok = args[0].list[i].type != IMAP_ARG_LIST &&
			     (i % 2 == 1 ||
			      args[0].list[i].type != IMAP_ARG_NIL);
	}
	if (!ok)
		return imap_bad(s, tag, "ID needs NIL or a list of up to 30 "
			   "field-value pairs", out);
	buf_addstr(out, "* ID (\"name\" \"owlpost\" \"vendor\" "
		   "\"owlpost\")\r\n");
	imap_tagged(out, tag, "OK", "ID completed");
	return IMAP_ACT_NONE;
}

/* ENABLE (RFC 5161): IMAP4rev2, UTF8=ACCEPT (RFC 6855), CONDSTORE and
 * QRESYNC (RFC 7162 3.1, 3.2.3); the ENABLED response lists what this
 * command turned on. */
static enum imap_act
cmd_enable(struct imap_server *s, const char *tag,
	   const struct imap_arg *args, size_t nargs, struct buf *out)
{
	struct buf *now = buf_new(256), *extra = buf_new(256);
	int cs_now = 0;	/* 1: CONDSTORE turned on by QRESYNC here;
			   2: listed */

	if (nargs == 0) {
		buf_free(&now);
		buf_free(&extra);
		return imap_bad(s, tag, "ENABLE needs capability names", out);
	}
	for (size_t i = 0; i < nargs; i++) {
		if (args[i].type != IMAP_ARG_ATOM)
			continue;
		if (strcasecmp(args[i].str, "IMAP4rev2") == 0 && !s->rev2) {
			s->rev2 = true;
			buf_addstr(now, " IMAP4rev2");
		} else if (strcasecmp(args[i].str, "UTF8=ACCEPT") == 0 &&
			   !s->utf8 && s->state == ST_AUTH) {
			/* RFC 6855 3: "only valid in the authenticated
			 * state": names of the selected mailbox keep their
			 * form */
			s->utf8 = true;	/* RFC 6855 3 */
			buf_addstr(now, " UTF8=ACCEPT");
		} else if (strcasecmp(args[i].str, "CONDSTORE") == 0 &&
			   (!s->condstore || cs_now == 1)) {
			imap_condstore_on(s, extra);
			buf_addstr(now, " CONDSTORE");
			cs_now = 2;
		} else if (strcasecmp(args[i].str, "QRESYNC") == 0 &&
			   !s->qresync) {
			/* RFC 7162 3.2.3: it enables CONDSTORE too ("ENABLE
			 * QRESYNC" and "ENABLE QRESYNC CONDSTORE" "have
			 * identical results"); CONDSTORE is listed only if
			 * asked for */
			cs_now += !s->condstore;
			imap_condstore_on(s, extra);
			s->qresync = true;
			buf_addstr(now, " QRESYNC");
		}
	}
	buf_printf(out, "* ENABLED%s\r\n", now->data);
	buf_add(out, extra->data, extra->len);
	imap_tagged(out, tag, "OK", "ENABLE completed");
	buf_free(&now);
	buf_free(&extra);
	return IMAP_ACT_NONE;
}

/* UID: UID EXPUNGE is imap_cmd_select.c's, the others imap_cmd_msg.c's
 * (which starts SELECT's QRESYNC FETCH: neither file calls the other). */
static enum imap_act
cmd_uid(struct imap_server *s, const char *tag, const struct imap_arg *args,
	size_t nargs, struct buf *out)
{
	if (nargs >= 1 && args[0].type == IMAP_ARG_ATOM &&
	    strcasecmp(args[0].str, "EXPUNGE") == 0)
		return imap_uid_expunge(s, tag, args + 1, nargs - 1, out);
	return imap_cmd_uid(s, tag, args, nargs, out);
}

/* COMPRESS DEFLATE (RFC 4978). */
static enum imap_act
cmd_compress(struct imap_server *s, const char *tag,
	     const struct imap_arg *args, size_t nargs, struct buf *out)
{
	if (nargs != 1 || args[0].type != IMAP_ARG_ATOM)
		return imap_bad(s, tag, "COMPRESS needs a mechanism", out);
	if (!s->conf->compress || strcasecmp(args[0].str, "DEFLATE") != 0) {
		imap_tagged(out, tag, "NO", "Unknown compression mechanism");
		return IMAP_ACT_NONE;
	}
	if (s->compressed) {
		imap_tagged(out, tag, "NO", "[COMPRESSIONACTIVE] DEFLATE is "
			    "active already");
		return IMAP_ACT_NONE;
	}
	s->compressed = true;
	imap_tagged(out, tag, "OK", "DEFLATE active");
	return IMAP_ACT_COMPRESS;
}

/* --- feeding -------------------------------------------------------------- */

static enum imap_act
run_command(struct imap_server *s, const struct imap_command *c,
	    struct buf *out)
{
	for (size_t i = 0; i < sizeof(COMMANDS) / sizeof(COMMANDS[0]); i++) {
		if (strcmp(c->name, COMMANDS[i].name) != 0)
			continue;
		if (!(COMMANDS[i].states & (1u << s->state)))
			return imap_bad(s, c->tag, "Command not valid in this "
				   "state", out);
		return COMMANDS[i].fn(s, c->tag, c->args, c->nargs, out);
	}
	return imap_bad(s, c->tag, "Unknown command", out);
}

/*
 * A literal announced: taken ("+" if the client waits) or refused.  True
 * if a synchronizing one was refused: its answer is due at once, since
 * the client sends nothing until it has one.
 */
static bool
answer_literal(struct imap_server *s, struct buf *out)
{
	size_t size, max = s->state == ST_NOAUTH ? IMAP_LOGIN_LITERAL_MAX
						 : IMAP_LITERAL_MAX;
	bool sync, l8, refuse, stream;
	const char *why, *tag;

	imap_parser_literal(s->parser, &size, &sync, &l8);
	stream = imap_append_literal(s, size, &refuse);
	if (stream ? refuse : size > max) {
		imap_parser_literal_refuse(s->parser);
		return sync;
	}
	imap_parser_literal_accept(s->parser, stream);
	if (imap_parser_error(s->parser, &why, &tag) != IMAP_ERR_NONE)
		return sync;	/* the parser refused it (a bound): no "+" */
	if (sync)
		buf_addstr(out, "+ Ready for literal data\r\n");
	return false;
}

/* The parser's error: a BAD, or NO [TOOBIG] for a refused literal. */
static enum imap_act
parse_error(struct imap_server *s, struct buf *out)
{
	const char *text, *tag;
	enum imap_parse_err e = imap_parser_error(s->parser, &text, &tag);
	char refused[160];

	imap_append_refusal(s, refused, sizeof(refused));
	imap_append_abort(s);
	if (e == IMAP_ERR_LINE_ENDLESS || e == IMAP_ERR_SKIP_TOO_BIG) {
		buf_printf(out, "* BYE %s\r\n", text);
		s->state = ST_LOGOUT;
		s->close_reason = e == IMAP_ERR_LINE_ENDLESS ? "line-too-long"
							     : "literal-too-big";
		return IMAP_ACT_CLOSE;
	}
	if (s->in_sasl) {
		s->in_sasl = false;
		wipe_login(s);
		return imap_bad(s, s->tag, "Invalid response", out);
	}
	if (e == IMAP_ERR_LITERAL_REFUSED || e == IMAP_ERR_LITERAL_TOO_BIG) {
		imap_tagged(out, tag, "NO", refused);
		return IMAP_ACT_NONE;
	}
	return imap_bad(s, tag, text, out);
}

static enum imap_act
idle_line(struct imap_server *s, struct buf *out)
{
	size_t len;
	const char *line = imap_parser_line(s->parser, &len);

	return imap_idle_line(s, line, len, out);
}

static void
append_piece(struct imap_server *s)
{
	size_t len;
	const char *data = imap_parser_data(s->parser, &len);

	imap_append_data(s, data, len);
}

/* An AUTHENTICATE response line. */
static enum imap_act
sasl_line(struct imap_server *s, struct buf *out)
{
	size_t len;
	const char *line = imap_parser_line(s->parser, &len);
	char *tag = s->tag;
	enum imap_act a;

	s->tag = NULL;
	a = sasl_next(s, tag, sasl_step(&login_state(s)->sasl, line, len),
		      out);
	free(tag);
	return a;
}

void
imap_server_set_yield(struct imap_server *s, bool (*yield)(void *arg),
		      void *arg)
{
	s->yield = yield;
	s->yield_arg = arg;
}

/* After a command that needs no action: stop here for now? */
static bool
yields(const struct imap_server *s, enum imap_act a)
{
	return a == IMAP_ACT_NONE && s->yield != NULL &&
	       s->yield(s->yield_arg);
}

enum imap_act
imap_server_feed(struct imap_server *s, const char *data, size_t len,
		 size_t *used_r, struct buf *out)
{
	enum imap_act a = IMAP_ACT_NONE;
	size_t used = 0;
	bool due = false;	/* a refusal to answer with no input left */
	bool yielded = false;

	while ((used < len || due) && a == IMAP_ACT_NONE && !yielded &&
	       s->fetch == NULL && s->pending == IMAP_ACT_NONE &&
	       s->state != ST_LOGOUT) {
		size_t n;

		due = false;
		switch (imap_parser_feed(s->parser, data + used, len - used,
					 &n)) {
		case IMAP_PARSE_COMMAND:
			a = run_command(s, imap_parser_command(s->parser),
					out);
			yielded = yields(s, a);
			break;
		case IMAP_PARSE_LINE:
			a = s->idling ? idle_line(s, out) : sasl_line(s, out);
			break;
		case IMAP_PARSE_LITERAL:
			due = answer_literal(s, out);
			break;
		case IMAP_PARSE_ERROR:
			a = parse_error(s, out);
			break;
		case IMAP_PARSE_DATA:
			append_piece(s);
			break;
		case IMAP_PARSE_MORE:
			break;
		}
		used += n;
	}
	/* nothing sent in the clear after STARTTLS may count (6.2.1) */
	*used_r = a == IMAP_ACT_STARTTLS || a == IMAP_ACT_CLOSE ? len : used;
	return a;
}

const struct imap_req *
imap_server_req(const struct imap_server *s)
{
	return &s->req;
}

/*
 * The octets of {n+} literals one command may have dropped once logged
 * in: all of one APPEND's messages (imap.multiappend_max_size) and the
 * line bound's margin; 0 (no bound) if APPEND has none.
 */
static size_t
skip_max(const struct imap_conf *conf)
{
	if (conf->append_total_max == 0 ||
	    conf->append_total_max > SIZE_MAX - WIRE_DROP_MAX)
		return 0;
	return (size_t)conf->append_total_max + WIRE_DROP_MAX;
}

enum imap_act
imap_server_login_done(struct imap_server *s, enum imap_login_result r,
		       struct buf *out)
{
	const char *tag = s->tag != NULL ? s->tag : "*";
	enum imap_act a = IMAP_ACT_NONE;

	if (s->pending != IMAP_ACT_LOGIN)
		return IMAP_ACT_NONE;
	s->pending = IMAP_ACT_NONE;
	wipe_login(s);
	if (r == IMAP_LOGIN_OK) {
		struct imap_limits lim = LOGGED_LIMITS;

		/* a MULTIAPPEND message is some arguments (a flags
		 * list and its flags, a date, a literal): its count must fit */
		if (lim.args_max < 6 * (unsigned)s->conf->append_msgs_max + 8)
			lim.args_max = 6 * (unsigned)s->conf->append_msgs_max + 8;
		/* a refused APPEND's {n+} literals are read into nothing up
		 * to what one command may send; past it the session ends */
		lim.skip_max = skip_max(s->conf);
		s->state = ST_AUTH;
		imap_parser_set_limits(s->parser, &lim);
		buf_printf(out, "%s OK [CAPABILITY ", tag);
		capabilities(s, out);
		buf_addstr(out, "] Logged in\r\n");
	} else if (r == IMAP_LOGIN_LIMIT) {
		imap_tagged(out, tag, "NO", "[LIMIT] Too many sessions of this "
			    "user; log out of another first");
	} else if (r == IMAP_LOGIN_CANNOT) {
		imap_tagged(out, tag, "NO", "[CANNOT] This mailbox cannot be "
			    "served over IMAP (mailbox.format is mbox)");
	} else if (r == IMAP_LOGIN_TEMP) {
		imap_tagged(out, tag, "NO", "[UNAVAILABLE] Temporary failure, try "
		       "again later");
	} else {
		imap_tagged(out, tag, "NO", "[AUTHENTICATIONFAILED] Authentication "
		       "failed");
		if (++s->auth_failures >= s->conf->max_auth_failures) {
			buf_addstr(out, "* BYE Too many failed logins\r\n");
			s->state = ST_LOGOUT;
			a = IMAP_ACT_CLOSE;
		}
	}
	free(s->tag);
	s->tag = NULL;
	return a;
}

bool
imap_server_logged_in(const struct imap_server *s)
{
	return s->state == ST_AUTH || s->state == ST_SELECTED;
}

bool
imap_server_in_sasl(const struct imap_server *s)
{
	return s->in_sasl;
}

const char *
imap_server_close_reason(const struct imap_server *s)
{
	return s->close_reason != NULL ? s->close_reason : "logout";
}

void
imap_server_shutdown(struct imap_server *s, struct buf *out)
{
	buf_addstr(out, "* BYE Server shutting down\r\n");
	s->state = ST_LOGOUT;
}

void
imap_server_deadline(struct imap_server *s, struct buf *out)
{
	buf_addstr(out, "* BYE Too slow; the command took too long\r\n");
	s->state = ST_LOGOUT;
}

void
imap_server_timeout(struct imap_server *s, struct buf *out)
{
	buf_addstr(out, "* BYE Autologout; idle for too long\r\n");
	s->state = ST_LOGOUT;
}
