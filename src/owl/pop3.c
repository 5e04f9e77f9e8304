/*
 * owl/pop3 - a mailbox session: connect, let proto/pop3_client log in
 * (STLS when offered or required), then one command at a time.
 */
#include "owl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../proto/pop3_client.h"

struct owl_pop3 {
	const struct owl_conf *cf;
	struct pop3c_conf pconf;
	struct owl_conn *conn;
	struct pop3_client *pc;
	struct buf *out;
	bool closed;
	bool toobig;
};

/*
 * Sends what the core wrote and reads until it says READY or CLOSE; data
 * pieces go to data (NULL: dropped).  0 on READY, -1 with err otherwise.
 */
static int
run(struct owl_pop3 *s, enum pop3c_act a, struct buf *data, char *err,
    size_t errsz)
{
	const char *p;
	size_t n;
	bool eol;
	char e[512];

	s->toobig = false;
	for (;;) {
		if (s->out->len > 0) {
			if (owl_conn_write(s->conn, s->out->data, s->out->len,
					   e, sizeof(e)) == -1)
				a = pop3_client_eof(s->pc, e);
			buf_reset(s->out);
		}
		switch (a) {
		case POP3C_READY:
			return 0;
		case POP3C_CLOSE:
			s->closed = true;
			snprintf(err, errsz, "%s",
				 pop3_client_error(s->pc)->ok ?
				 "connection closed" :
				 pop3_client_error(s->pc)->text);
			return -1;
		case POP3C_STLS:
			if (owl_conn_tls(s->conn, s->cf->host,
					 s->cf->tls == OWL_TLS_REQUIRE,
					 s->cf->cafile, e, sizeof(e)) == -1) {
				a = pop3_client_eof(s->pc, e);
				continue;
			}
			pop3_client_secured(s->pc, s->out);
			a = POP3C_NONE;
			continue;
		case POP3C_DATA:
			pop3_client_data(s->pc, &p, &n, &eol);
			if (data != NULL && !s->toobig &&
			    (buf_add(data, p, n) == -1 ||
			     (eol && buf_addc(data, '\n') == -1)))
				s->toobig = true;
			break;
		case POP3C_NONE:
			break;
		}
		switch (owl_conn_read(s->conn, &p, &n, e, sizeof(e))) {
		case 1:
			a = pop3_client_feed(s->pc, p, n, s->out);
			break;
		case 0:
			a = pop3_client_eof(s->pc, "connection closed by the "
						   "server");
			break;
		default:
			a = pop3_client_eof(s->pc, e);
			break;
		}
	}
}

struct owl_pop3 *
owl_pop3_open(const struct owl_conf *cf, char *err, size_t errsz)
{
	struct owl_pop3 *s = xcalloc(1, sizeof(*s));

	s->cf = cf;
	s->pconf.user = cf->user;
	s->pconf.pass = cf->pass;
	s->pconf.tls = cf->tls == OWL_TLS_OFF ? POP3C_TLS_NO :
		       cf->tls == OWL_TLS_REQUIRE ? POP3C_TLS_REQUIRE :
		       POP3C_TLS_MAY;
	s->conn = owl_connect(cf->host, cf->pop3_port, err, errsz);
	if (s->conn == NULL) {
		free(s);
		return NULL;
	}
	s->pc = pop3_client_new(&s->pconf);
	s->out = buf_new(1 << 16);
	if (run(s, POP3C_NONE, NULL, err, errsz) == -1) {
		char ignored[64];

		owl_pop3_close(&s, ignored, sizeof(ignored));
		return NULL;
	}
	return s;
}

/* A command and its answer; -ERR is an error with the server's words. */
static int
cmd(struct owl_pop3 *s, enum pop3c_cmd c, unsigned long n,
    unsigned long lines, struct buf *data, char *err, size_t errsz)
{
	const struct pop3c_reply *r;

	if (run(s, pop3_client_cmd(s->pc, c, n, lines, s->out), data, err,
		errsz) == -1)
		return -1;
	r = pop3_client_reply(s->pc);
	if (!r->ok) {
		snprintf(err, errsz, "%s", r->text);
		return -1;
	}
	if (s->toobig) {
		snprintf(err, errsz, "message %lu is larger than %u MiB", n,
			 OWL_MSG_MAX >> 20);
		return -1;
	}
	return 0;
}

int
owl_pop3_list(struct owl_pop3 *s, unsigned long **nums,
	      unsigned long **sizes, size_t *count, char *err, size_t errsz)
{
	struct buf *data = buf_new(64u << 20);
	const char *p, *nl;
	size_t cap = 0;

	*nums = *sizes = NULL;
	*count = 0;
	if (cmd(s, POP3C_LIST, 0, 0, data, err, errsz) == -1) {
		buf_free(&data);
		return -1;
	}
	for (p = data->data ? data->data : ""; *p != '\0'; p = nl + 1) {
		unsigned long n, size;
		char line[64];

		nl = strchr(p, '\n');
		if (nl == NULL)
			break;
		if (bsnprintf(line, sizeof(line), "%.*s", (int)(nl - p), p) ==
		    -1 || !pop3_parse_listing(line, &n, &size))
			continue;
		if (*count == cap) {
			cap = cap ? cap * 2 : 64;
			*nums = xrealloc(*nums, cap * sizeof(**nums));
			*sizes = xrealloc(*sizes, cap * sizeof(**sizes));
		}
		(*nums)[*count] = n;
		(*sizes)[(*count)++] = size;
	}
	buf_free(&data);
	return 0;
}

int
owl_pop3_fetch(struct owl_pop3 *s, unsigned long n, long lines,
	       struct buf *out, char *err, size_t errsz)
{
	if (lines < 0)
		return cmd(s, POP3C_RETR, n, 0, out, err, errsz);
	return cmd(s, POP3C_TOP, n, (unsigned long)lines, out, err, errsz);
}

int
owl_pop3_dele(struct owl_pop3 *s, unsigned long n, char *err, size_t errsz)
{
	return cmd(s, POP3C_DELE, n, 0, NULL, err, errsz);
}

int
owl_pop3_close(struct owl_pop3 **sp, char *err, size_t errsz)
{
	struct owl_pop3 *s = *sp;
	int rc = 0;

	if (s == NULL)
		return 0;
	if (!s->closed) {
		enum pop3c_act a = pop3_client_quit(s->pc, s->out);

		if (run(s, a, NULL, err, errsz) == -1 &&
		    !pop3_client_error(s->pc)->ok)
			rc = -1;
	}
	pop3_client_free(&s->pc);
	buf_free(&s->out);
	owl_conn_close(&s->conn);
	free(s);
	*sp = NULL;
	return rc;
}

/*
 * The core fails a session on a refused login with the server's -ERR
 * line; other -ERRs at that stage carry [SYS/...] or [IN-USE] (RFC 3206)
 * or come from a broken server, where asking again does no harm.
 */
bool
owl_pop3_login_refused(const char *err)
{
	return strncmp(err, "-ERR", 4) == 0 && strstr(err, "[SYS/") == NULL &&
	       strstr(err, "[IN-USE]") == NULL;
}
