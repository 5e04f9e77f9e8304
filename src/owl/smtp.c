/*
 * owl/smtp - one message out: connect, let proto/smtp_client run the
 * session (STARTTLS when offered or required, AUTH when a password is
 * known), hand it the message when it asks, QUIT.  Every recipient's
 * reply is kept, so a partly refused message is reported as such.
 */
#include "owl.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../proto/smtp_client.h"

struct run {
	const struct owl_conf *cf;
	struct owl_conn *conn;
	struct smtp_client *sc;
	struct buf *out;
	const struct smtpc_msg *msg;
	struct owl_sent *res;
	const char *text;
	size_t len;
	bool sent;		/* RESULT seen */
	bool closed;
	size_t accepted;	/* recipients with a 2xx after DATA */
	char *err;
	size_t errsz;
	int rc;
};

static void
fail(struct run *r, const char *what)
{
	if (r->rc == 0)
		snprintf(r->err, r->errsz, "%s", what);
	r->rc = -1;
}

/* Each recipient's final reply into res; err: the first refusal. */
static void
check_rcpts(struct run *r)
{
	const struct smtpc_reply *first = NULL;

	for (size_t i = 0; i < r->msg->nrcpts; i++) {
		const struct smtpc_reply *p = smtp_client_rcpt(r->sc, i);
		struct owl_rcpt *o = &r->res->r[i];

		o->code = p->code;
		snprintf(o->text, sizeof(o->text), "%s", p->text);
		if (p->code / 100 == 2)
			r->accepted++;
		else if (first == NULL)
			first = p;
	}
	if (r->accepted == 0 && first != NULL)
		fail(r, first->text);
}
static void
act(struct run *r, enum smtpc_act a)
{
	char e[512];

	while (a != SMTPC_NONE && !r->closed) {
		switch (a) {
		case SMTPC_NEXT:
			a = smtp_client_next(r->sc, r->sent ? NULL : r->msg,
					     r->out);
			break;
		case SMTPC_BODY:
			smtp_client_body(r->sc, r->text, r->len, r->out);
			smtp_client_body_end(r->sc, r->out);
			a = SMTPC_NONE;
			break;
		case SMTPC_RESULT:
			r->sent = true;
			check_rcpts(r);
			a = smtp_client_next(r->sc, NULL, r->out);
			break;
		case SMTPC_STARTTLS:
			if (owl_conn_tls(r->conn, r->cf->host,
					 r->cf->tls == OWL_TLS_REQUIRE,
					 r->cf->cafile, e, sizeof(e)) == -1) {
				fail(r, e);
				r->closed = true;
				break;
			}
			smtp_client_secured(r->sc, r->out);
			a = SMTPC_NONE;
			break;
		case SMTPC_CLOSE:
			r->closed = true;
			a = SMTPC_NONE;
			break;
		case SMTPC_NONE:
			break;
		}
	}
}

/* Before RESULT every recipient has the session's failure. */
static void
fail_all(struct run *r)
{
	for (size_t i = 0; i < r->msg->nrcpts; i++) {
		r->res->r[i].code = 0;
		snprintf(r->res->r[i].text, sizeof(r->res->r[i].text), "%s",
			 r->err);
	}
}

/* What the session said about the login, for the menus. */
static void
note_login(struct run *r, bool had_pass)
{
	const struct smtpc_reply *e = smtp_client_error(r->sc);

	r->res->login_refused = had_pass && !smtp_client_authed(r->sc) &&
				e->code >= 530 && e->code <= 539;
	r->res->no_auth = had_pass && r->sent &&
			  !smtp_client_authed(r->sc) &&
			  smtp_client_ext(r->sc)->auth[0] == '\0';
}

int
owl_smtp_send(const struct owl_conf *cf, const char *from,
	      const char *const *rcpts, size_t nrcpts, const char *text,
	      size_t len, struct owl_sent *res, char *err, size_t errsz)
{
	char helo[256] = "localhost", e[512];
	struct smtpc_conf sconf = {helo, SMTPC_TLS_MAY, NULL, NULL};
	struct smtpc_msg msg = {from, rcpts, nrcpts, 0, false};
	struct run r = {.cf = cf, .text = text, .len = len, .err = err,
			.errsz = errsz, .msg = &msg, .res = res};
	const char *p;
	size_t n;

	if (gethostname(helo, sizeof(helo)) != 0 || strchr(helo, '.') == NULL)
		snprintf(helo, sizeof(helo), "localhost");
	sconf.tls = cf->tls == OWL_TLS_OFF ? SMTPC_TLS_NO :
		    cf->tls == OWL_TLS_REQUIRE ? SMTPC_TLS_REQUIRE :
		    SMTPC_TLS_MAY;
	if (cf->pass != NULL && cf->user[0] != '\0') {
		sconf.user = cf->user;
		sconf.pass = cf->pass;
	}
	for (size_t i = 0; i < len; i++) /* CRLF on the wire */
		msg.size += text[i] == '\n' ? 2 : 1;
	res->login_refused = res->no_auth = false;
	for (size_t i = 0; i < nrcpts; i++)
		res->r[i] = (struct owl_rcpt){.addr = rcpts[i]};
	r.conn = owl_connect(cf->host, cf->smtp_port, err, errsz);
	if (r.conn == NULL) {
		r.rc = -1;
		fail_all(&r);
		return -1;
	}
	r.sc = smtp_client_new(&sconf);
	r.out = buf_new(2 * len + 65536);
	while (!r.closed) {
		int rc = owl_conn_read(r.conn, &p, &n, e, sizeof(e));

		if (rc <= 0) {
			act(&r, smtp_client_eof(r.sc, rc == 0 ?
				"connection closed by the server" : e));
			break;
		}
		if (n > SMTPC_LINE_MAX)
			act(&r, smtp_client_toolong(r.sc, r.out));
		else
			act(&r, smtp_client_feed(r.sc, p, n, r.out));
		if (r.out->len > 0 && !r.closed &&
		    owl_conn_write(r.conn, r.out->data, r.out->len, e,
				   sizeof(e)) == -1) {
			act(&r, smtp_client_eof(r.sc, e));
			break;
		}
		buf_reset(r.out);
	}
	if (!r.sent) {
		fail(&r, smtp_client_error(r.sc)->text[0] != '\0' ?
			 smtp_client_error(r.sc)->text : "session ended early");
		fail_all(&r);
	}
	note_login(&r, sconf.user != NULL);
	if (r.rc == 0 && r.accepted < nrcpts)
		r.rc = 1;
	smtp_client_free(&r.sc);
	buf_free(&r.out);
	owl_conn_close(&r.conn);
	return r.rc;
}
