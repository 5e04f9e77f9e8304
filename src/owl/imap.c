/*
 * owl/imap - a mailbox session over IMAP (RFC 9051, and IMAP4rev1 RFC
 * 3501 servers): a small client of owl's own, one command at a time.
 * Connect, STARTTLS when offered (required with tls = require), log in
 * with AUTHENTICATE PLAIN (SASL-IR when offered) or LOGIN, then LIST and
 * STATUS for the folders, SELECT and UID FETCH for a folder's messages,
 * UID MOVE (or COPY, STORE \Deleted, EXPUNGE) to the \Trash folder for a
 * delete, APPEND to \Sent after a send, LOGOUT.
 *
 * Responses are read whole, literals included, into one buffer of at
 * most OWL_MSG_MAX + 64 KiB; imap_resp.c takes the values out with
 * bounds.  A longer response or literal, a closed connection or a
 * response that makes no sense fails the session with one line in err;
 * a NO or BAD fails the command with the server's words (control
 * characters shown as '?').
 */
#include "owl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/b64.h"

#define RESP_MAX (OWL_MSG_MAX + 65536)

struct owl_imap {
	const struct owl_conf *cf;
	struct owl_conn *conn;
	struct buf *resp;	/* the response being read */
	char caps[4096];
	unsigned tag;
	bool closed;
	struct owl_folder *folders;	/* after owl_imap_folders */
	size_t nfolders;
	bool listed;
	char selected[512];
	unsigned long exists;	/* of the selected folder */
};

/* What to do with an untagged response. */
typedef void untagged_fn(struct owl_imap *s, void *arg);

/* Text from the server made safe for one line on a terminal. */
static void
safe_copy(char *out, size_t size, const char *p, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < size; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch == '\r' || ch == '\n')
			break;
		out[o++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	out[o] = '\0';
}

static void
fail(struct owl_imap *s, char *err, size_t errsz, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A session failure: the connection is not used again. */
static void
fail(struct owl_imap *s, char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	s->closed = true;
}

/*
 * One whole response into s->resp: lines and the literals they end in.
 * 0, or -1 with err (the session is over).
 */
static int
read_response(struct owl_imap *s, char *err, size_t errsz)
{
	size_t line_start = 0, left = 0;
	char e[512];

	buf_reset(s->resp);
	for (;;) {
		const char *p;
		size_t n, take;
		long long lit;
		int rc = owl_conn_read(s->conn, &p, &n, e, sizeof(e));

		if (rc <= 0) {
			fail(s, err, errsz, "%s", rc == 0 ? "connection "
			     "closed by the server" : e);
			return -1;
		}
		take = left < n ? left : n;
		if (buf_add(s->resp, p, n) == -1) {
			fail(s, err, errsz, "a response larger than %u MiB",
			     RESP_MAX >> 20);
			return -1;
		}
		left -= take;
		if (take > 0 && left == 0)
			line_start = s->resp->len - (n - take);
		if (left > 0 || n == take || p[n - 1] != '\n')
			continue;
		lit = owl_imap_literal_len(s->resp->data + line_start,
					   s->resp->len - line_start);
		if (lit < 0)
			return 0;
		if (lit > (long long)(RESP_MAX - s->resp->len)) {
			fail(s, err, errsz, "a literal of %lld octets, more "
			     "than %u MiB", lit, RESP_MAX >> 20);
			return -1;
		}
		left = (size_t)lit;
		line_start = s->resp->len;
	}
}

static int
send_text(struct owl_imap *s, const char *p, size_t n, char *err,
	  size_t errsz)
{
	char e[512];

	if (owl_conn_write(s->conn, p, n, e, sizeof(e)) == -1) {
		fail(s, err, errsz, "%s", e);
		return -1;
	}
	return 0;
}

/* Untagged responses every command watches: CAPABILITY, EXISTS, BYE. */
static void
common_untagged(struct owl_imap *s)
{
	const char *r = s->resp->data;
	size_t n = s->resp->len;
	unsigned long v;
	struct owl_imap_cur c = {r + 2, r + n};

	owl_imap_parse_caps(r, n, s->caps, sizeof(s->caps));
	if (owl_imap_number(&c, &v) && n - (size_t)(c.p - r) >= 7 &&
	    strncasecmp(c.p, " EXISTS", 7) == 0)
		s->exists = v;
}

/*
 * Sends "tag command" and reads to its tagged answer; cont is sent at a
 * "+" (a literal's octets or a SASL answer, with its CRLF), each
 * untagged response goes to fn.  0 on OK; -1 with err: the server's NO
 * or BAD line, or a session failure.
 */
static int
command(struct owl_imap *s, untagged_fn *fn, void *arg, const char *cont,
	size_t contlen, char *err, size_t errsz, const char *fmt, ...)
	__attribute__((format(printf, 8, 9)));

static int
command(struct owl_imap *s, untagged_fn *fn, void *arg, const char *cont,
	size_t contlen, char *err, size_t errsz, const char *fmt, ...)
{
	struct buf *line = buf_new(65536);
	char tag[16];
	size_t tl;
	va_list ap;
	int rc = -1;

	if (s->closed) {
		snprintf(err, errsz, "the connection is closed");
		buf_free(&line);
		return -1;
	}
	tl = (size_t)snprintf(tag, sizeof(tag), "o%u ", ++s->tag);
	buf_addstr(line, tag);
	va_start(ap, fmt);
	buf_vprintf(line, fmt, ap);
	va_end(ap);
	buf_addstr(line, "\r\n");
	if (send_text(s, line->data, line->len, err, errsz) == -1)
		goto out;
	for (;;) {
		const char *r;

		if (read_response(s, err, errsz) == -1)
			goto out;
		r = s->resp->data;
		if (r[0] == '+') {
			if (cont == NULL) { /* nothing to send: give up */
				send_text(s, "*\r\n", 3, err, errsz);
				continue;
			}
			if (send_text(s, cont, contlen, err, errsz) == -1)
				goto out;
			cont = NULL;
			continue;
		}
		if (strncmp(r, "* ", 2) == 0) {
			common_untagged(s);
			if (fn != NULL)
				fn(s, arg);
			continue;
		}
		if (strncmp(r, tag, tl) != 0)
			continue; /* not ours: ignored */
		owl_imap_parse_caps(r, s->resp->len, s->caps,
				    sizeof(s->caps));
		if (strncasecmp(r + tl, "OK", 2) == 0) {
			rc = 0;
			goto out;
		}
		safe_copy(err, errsz, r + tl, s->resp->len - tl);
		goto out;
	}
out:
	buf_free(&line);
	return rc;
}

/*
 * A quoted string for a command; false if s cannot be one (CR, LF, NUL
 * or 8-bit octets: IMAP4rev1 quoted strings are 7-bit).
 */
static bool
quote(const char *in, char *out, size_t size)
{
	size_t o = 0;

	if (size < 3)
		return false;
	out[o++] = '"';
	for (const char *p = in; *p != '\0'; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch == '\r' || ch == '\n' || ch >= 0x80)
			return false;
		if (o + 4 >= size)
			return false;
		if (ch == '"' || ch == '\\')
			out[o++] = '\\';
		out[o++] = (char)ch;
	}
	out[o++] = '"';
	out[o] = '\0';
	return true;
}

/*
 * "pre NAME post" with the mailbox name quoted, or (a name a quoted
 * string cannot hold: UTF-8, as owld sends them) as a literal, the rest
 * of the command sent at the server's "+".  No name with CR, LF or NUL.
 */
static int
mailbox_command(struct owl_imap *s, untagged_fn *fn, void *arg,
		const char *pre, const char *name, const char *post,
		char *err, size_t errsz)
{
	char q[1100];
	struct buf *rest;
	int rc;

	if (quote(name, q, sizeof(q)))
		return command(s, fn, arg, NULL, 0, err, errsz, "%s %s%s", pre,
			       q, post);
	if (strpbrk(name, "\r\n") != NULL) {
		snprintf(err, errsz, "a folder name with a line break");
		return -1;
	}
	rest = buf_new(strlen(name) + strlen(post) + 3);
	buf_printf(rest, "%s%s\r\n", name, post);
	rc = command(s, fn, arg, rest->data, rest->len, err, errsz,
		     "%s {%zu}", pre, strlen(name));
	buf_free(&rest);
	return rc;
}

/* The greeting: OK (log in), PREAUTH (logged in: 1), else -1. */
static int
greeting(struct owl_imap *s, char *err, size_t errsz)
{
	const char *r;

	if (read_response(s, err, errsz) == -1)
		return -1;
	r = s->resp->data;
	owl_imap_parse_caps(r, s->resp->len, s->caps, sizeof(s->caps));
	if (strncasecmp(r, "* OK", 4) == 0)
		return 0;
	if (strncasecmp(r, "* PREAUTH", 9) == 0)
		return 1;
	safe_copy(err, errsz, r, s->resp->len);
	s->closed = true;
	return -1;
}

static int
starttls(struct owl_imap *s, char *err, size_t errsz)
{
	const struct owl_conf *cf = s->cf;
	char e[512];

	if (cf->tls == OWL_TLS_OFF)
		return 0;
	if (!owl_imap_has_cap(s->caps, "STARTTLS")) {
		if (cf->tls != OWL_TLS_REQUIRE)
			return 0;
		fail(s, err, errsz, "%s offers no STARTTLS (tls = require)",
		     cf->host);
		return -1;
	}
	if (command(s, NULL, NULL, NULL, 0, err, errsz, "STARTTLS") == -1) {
		char why[512];

		/* not a refused login: that is asked again */
		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errsz, "STARTTLS refused: %s", why);
		return -1;
	}
	if (owl_conn_tls(s->conn, cf->host, cf->tls == OWL_TLS_REQUIRE,
			 cf->cafile, e, sizeof(e)) == -1) {
		fail(s, err, errsz, "%s", e);
		return -1;
	}
	s->caps[0] = '\0'; /* RFC 9051 6.2.1: ask again */
	return command(s, NULL, NULL, NULL, 0, err, errsz, "CAPABILITY");
}

/* AUTHENTICATE PLAIN (RFC 4616), else LOGIN. */
static int
login(struct owl_imap *s, char *err, size_t errsz)
{
	const struct owl_conf *cf = s->cf;
	char plain[1024], b64[1400], u[600], p[600];
	size_t ul = strlen(cf->user), pl;
	int rc;

	if (cf->pass == NULL) {
		snprintf(err, errsz, "no password given");
		return -1;
	}
	pl = strlen(cf->pass);
	if (owl_imap_has_cap(s->caps, "AUTH=PLAIN") && ul + pl + 2 <=
	    sizeof(plain)) {
		plain[0] = '\0';
		memcpy(plain + 1, cf->user, ul);
		plain[ul + 1] = '\0';
		memcpy(plain + ul + 2, cf->pass, pl);
		if (b64_encode(plain, ul + pl + 2, b64, sizeof(b64) - 2) ==
		    -1) {
			snprintf(err, errsz, "user name or password too long");
			return -1;
		}
		if (owl_imap_has_cap(s->caps, "SASL-IR"))
			return command(s, NULL, NULL, NULL, 0, err, errsz,
				       "AUTHENTICATE PLAIN %s", b64);
		strcat(b64, "\r\n");
		return command(s, NULL, NULL, b64, strlen(b64), err, errsz,
			       "AUTHENTICATE PLAIN");
	}
	if (owl_imap_has_cap(s->caps, "LOGINDISABLED")) {
		snprintf(err, errsz, "%s allows no login here (LOGINDISABLED)",
			 cf->host);
		return -1;
	}
	if (!quote(cf->user, u, sizeof(u)) || !quote(cf->pass, p, sizeof(p))) {
		snprintf(err, errsz, "the user name or password cannot be "
			 "sent with LOGIN");
		return -1;
	}
	rc = command(s, NULL, NULL, NULL, 0, err, errsz, "LOGIN %s %s", u, p);
	explicit_bzero(p, sizeof(p));
	return rc;
}

bool
owl_imap_login_refused(const char *err)
{
	return strncasecmp(err, "NO ", 3) == 0 &&
	       strstr(err, "[UNAVAILABLE]") == NULL &&
	       strstr(err, "[SERVERBUG]") == NULL;
}

static struct owl_imap *
session_new(const struct owl_conf *cf, char *err, size_t errsz)
{
	struct owl_imap *s = xcalloc(1, sizeof(*s));

	s->cf = cf;
	s->conn = owl_connect(cf->host, cf->imap_port, err, errsz);
	if (s->conn == NULL) {
		free(s);
		return NULL;
	}
	s->resp = buf_new(RESP_MAX);
	return s;
}

bool
owl_imap_answers(const struct owl_conf *cf)
{
	char err[512];
	struct owl_imap *s = session_new(cf, err, sizeof(err));
	bool yes;

	if (s == NULL)
		return false;
	yes = greeting(s, err, sizeof(err)) != -1;
	s->closed = true; /* no LOGOUT: nothing was begun */
	owl_imap_close(&s);
	return yes;
}

struct owl_imap *
owl_imap_open(const struct owl_conf *cf, char *err, size_t errsz)
{
	struct owl_imap *s = session_new(cf, err, errsz);
	int g;

	if (s == NULL)
		return NULL;
	if ((g = greeting(s, err, errsz)) == -1 ||
	    (g == 0 && (((s->caps[0] == '\0' &&
			  command(s, NULL, NULL, NULL, 0, err, errsz,
				  "CAPABILITY") == -1)) ||
			starttls(s, err, errsz) == -1 ||
			login(s, err, errsz) == -1))) {
		owl_imap_close(&s);
		return NULL;
	}
	return s;
}

/* ---- folders ---- */

static void
on_list(struct owl_imap *s, void *arg)
{
	struct owl_folder f;
	size_t *cap = arg;

	if (!owl_imap_parse_list(s->resp->data, s->resp->len, &f) ||
	    s->nfolders == OWL_FOLDERS_MAX)
		return;
	for (size_t i = 0; i < s->nfolders; i++)
		if (strcmp(s->folders[i].name, f.name) == 0)
			return;
	if (s->nfolders == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		s->folders = xrealloc(s->folders, *cap * sizeof(f));
	}
	s->folders[s->nfolders++] = f;
}

static void
on_status(struct owl_imap *s, void *arg)
{
	owl_imap_parse_status(s->resp->data, s->resp->len, arg);
}

/* LIST (with the special-use attributes) once per session. */
static int
list_folders(struct owl_imap *s, char *err, size_t errsz)
{
	size_t cap = 0;
	bool su = owl_imap_has_cap(s->caps, "SPECIAL-USE") &&
		  owl_imap_has_cap(s->caps, "LIST-EXTENDED");

	if (s->listed)
		return 0;
	free(s->folders);
	s->folders = NULL;
	s->nfolders = 0;
	if (command(s, on_list, &cap, NULL, 0, err, errsz, "LIST \"\" \"*\"%s",
		    su ? " RETURN (SPECIAL-USE)" : "") == -1)
		return -1;
	s->listed = true;
	return 0;
}

int
owl_imap_folders(struct owl_imap *s, struct owl_folder **f, size_t *n,
		 char *err, size_t errsz)
{
	if (list_folders(s, err, errsz) == -1)
		return -1;
	for (size_t i = 0; i < s->nfolders; i++) {
		struct owl_folder *x = &s->folders[i];

		/* RFC 9051 6.3.11: STATUS is for the other mailboxes */
		if (x->noselect || strcmp(x->name, s->selected) == 0)
			continue;
		if (mailbox_command(s, on_status, x, "STATUS", x->name,
				    " (MESSAGES UNSEEN)", err, errsz) == -1 &&
		    s->closed)
			return -1;
	}
	*f = xcalloc(s->nfolders + 1, sizeof(**f));
	memcpy(*f, s->folders, s->nfolders * sizeof(**f));
	*n = s->nfolders;
	return 0;
}

/* The folder with attribute (trash or sent), else by name; or NULL. */
static const struct owl_folder *
special(struct owl_imap *s, bool trash)
{
	const char *name = trash ? "Trash" : "Sent";

	for (size_t i = 0; i < s->nfolders; i++)
		if (trash ? s->folders[i].trash : s->folders[i].sent)
			return &s->folders[i];
	for (size_t i = 0; i < s->nfolders; i++)
		if (strcasecmp(s->folders[i].name, name) == 0 &&
		    !s->folders[i].noselect)
			return &s->folders[i];
	return NULL;
}

/* ---- messages ---- */

struct listing {
	struct owl_entry *e;
	size_t count, cap;
	struct buf *hdr;
};

static void
on_list_fetch(struct owl_imap *s, void *arg)
{
	struct listing *l = arg;
	struct owl_imap_item f = {.body = l->hdr};
	struct owl_entry *e;

	buf_reset(l->hdr);
	if (!owl_imap_parse_fetch(s->resp->data, s->resp->len, &f) ||
	    f.uid == 0 || !f.has_body)
		return;
	if (l->count == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->e = xrealloc(l->e, (l->cap + 1) * sizeof(*l->e));
	}
	e = &l->e[l->count++];
	memset(e, 0, sizeof(*e));
	e->n = l->count;
	e->uid = f.uid;
	e->size = f.size;
	e->unseen = f.has_flags && !f.seen;
	owl_entry_fill(e, l->hdr->data ? l->hdr->data : "", l->hdr->len);
}

int
owl_imap_list(struct owl_imap *s, const char *folder, struct owl_entry **e,
	      size_t *count, char *err, size_t errsz)
{
	struct listing l = {0};

	*e = NULL;
	*count = 0;
	s->exists = 0;
	if (mailbox_command(s, NULL, NULL, "SELECT", folder, "", err, errsz)
	    == -1)
		return -1;
	snprintf(s->selected, sizeof(s->selected), "%s", folder);
	l.hdr = buf_new(OWL_MSG_MAX);
	if (s->exists > 0 &&
	    command(s, on_list_fetch, &l, NULL, 0, err, errsz,
		    "UID FETCH 1:* (UID FLAGS RFC822.SIZE "
		    "BODY.PEEK[HEADER])") == -1) {
		buf_free(&l.hdr);
		free(l.e);
		return -1;
	}
	buf_free(&l.hdr);
	*e = l.e != NULL ? l.e : xcalloc(1, sizeof(**e));
	*count = l.count;
	return 0;
}

struct one {
	unsigned long uid;
	struct buf *body;
	bool got;
};

static void
on_fetch_one(struct owl_imap *s, void *arg)
{
	struct one *o = arg;
	struct owl_imap_item f = {.body = o->body};

	if (o->got)
		return;
	buf_reset(o->body);
	if (owl_imap_parse_fetch(s->resp->data, s->resp->len, &f) &&
	    f.has_body && (f.uid == o->uid || f.uid == 0))
		o->got = true;
	else
		buf_reset(o->body);
}

/* CRLF line ends as LF, as owl keeps text. */
static void
to_lf(struct buf *b)
{
	size_t o = 0;

	for (size_t i = 0; i < b->len; i++)
		if (!(b->data[i] == '\r' && i + 1 < b->len &&
		      b->data[i + 1] == '\n'))
			b->data[o++] = b->data[i];
	b->len = o;
	if (b->data != NULL)
		b->data[o] = '\0';
}

int
owl_imap_fetch(struct owl_imap *s, unsigned long uid, struct buf *out,
	       char *err, size_t errsz)
{
	struct one o = {uid, out, false};

	if (command(s, on_fetch_one, &o, NULL, 0, err, errsz,
		    "UID FETCH %lu (UID BODY[])", uid) == -1)
		return -1;
	if (!o.got) {
		snprintf(err, errsz, "message UID %lu is gone", uid);
		return -1;
	}
	to_lf(out);
	return 0;
}

/* STORE \Deleted and EXPUNGE (only uid when UIDPLUS allows). */
static int
expunge(struct owl_imap *s, unsigned long uid, char *err, size_t errsz)
{
	if (command(s, NULL, NULL, NULL, 0, err, errsz,
		    "UID STORE %lu +FLAGS.SILENT (\\Deleted)", uid) == -1)
		return -1;
	if (owl_imap_has_cap(s->caps, "UIDPLUS"))
		return command(s, NULL, NULL, NULL, 0, err, errsz,
			       "UID EXPUNGE %lu", uid);
	return command(s, NULL, NULL, NULL, 0, err, errsz, "EXPUNGE");
}

int
owl_imap_delete(struct owl_imap *s, unsigned long uid, char *err,
		size_t errsz)
{
	const struct owl_folder *t;
	char pre[64];
	bool move = owl_imap_has_cap(s->caps, "MOVE");
	int rc;

	if (list_folders(s, err, errsz) == -1)
		return -1;
	t = special(s, true);
	if (t == NULL || strcmp(t->name, s->selected) == 0)
		return expunge(s, uid, err, errsz);
	snprintf(pre, sizeof(pre), "UID %s %lu", move ? "MOVE" : "COPY", uid);
	rc = mailbox_command(s, NULL, NULL, pre, t->name, "", err, errsz);
	if (rc == -1 || move)
		return rc;
	return expunge(s, uid, err, errsz);
}

int
owl_imap_append_sent(struct owl_imap *s, const char *text, size_t len,
		     char *where, size_t wheresz, char *err, size_t errsz)
{
	const struct owl_folder *f;
	struct buf *data;
	char q[1100];
	int rc;

	if (list_folders(s, err, errsz) == -1)
		return -1;
	if ((f = special(s, false)) == NULL || !quote(f->name, q, sizeof(q)))
		return 0;
	snprintf(where, wheresz, "%s", f->name);
	data = buf_new(2 * len + 3);
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r'))
			buf_addc(data, '\r');
		buf_addc(data, text[i]);
	}
	rc = data->len > 0 ? 0 : -1;
	buf_addstr(data, "\r\n");
	if (rc == 0)
		rc = command(s, NULL, NULL, data->data, data->len, err, errsz,
			     "APPEND %s (\\Seen) {%zu}", q, data->len - 2);
	else
		snprintf(err, errsz, "an empty message");
	buf_free(&data);
	return rc == 0 ? 1 : -1;
}

void
owl_imap_close(struct owl_imap **sp)
{
	struct owl_imap *s = *sp;
	char err[256];

	if (s == NULL)
		return;
	if (!s->closed)
		command(s, NULL, NULL, NULL, 0, err, sizeof(err), "LOGOUT");
	buf_free(&s->resp);
	owl_conn_close(&s->conn);
	free(s->folders);
	free(s);
	*sp = NULL;
}
