/*
 * milters - see milters.h.  Each milter is one struct mconn: a socket
 * connected without blocking (as relay.c connects), then a net/conn in
 * byte-stream mode whose input goes to the proto/milter core, and a timer
 * for the reply awaited.  A step runs the milters in turn: for the
 * current one, the step's packets are built one at a time (a header
 * field, a body piece), each sent and, when a reply is due, waited for.
 *
 * A closed session's mconn lives on until its conn says it is closed
 * (conn.h: ops->closed comes later, from the loop); then it is freed.
 */
#include "milters.h"

#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "../lib/conf.h"
#include "../lib/log.h"
#include "../net/conn.h"
#include "../proto/milter.h"
#include "owld.h"

#define MOUT_MAX (256 * 1024)	/* queued to one milter */
#define MIN_MAX (128 * 1024)	/* read from one milter, not yet taken */
#define HDR_WINDOW (256 * 1024)	/* of a spooled message: its header */
#define BODY_PIECE 32767	/* LF text per BODY: <= 65535 with CRLF */

enum step {
	S_ABORT, S_CONNECT, S_HELO, S_MAIL,	/* MAIL */
	S_RCPT,					/* RCPT */
	S_DATA, S_HEADER, S_EOH, S_BODY, S_EOM,	/* the message */
};

struct mconn {
	struct milters *ms;	/* NULL once the session let go of it */
	char name[300];		/* the milter.servers entry */
	struct milter *core;
	int fd;			/* connecting */
	struct event *cev;	/* the connect in progress */
	struct conn *conn;
	struct event *timer;	/* the reply awaited */
	struct buf *out;
	bool ready;		/* negotiated */
	bool dead;		/* failed: the default action */
	bool connect_sent;
	char helo_sent[256];
	bool eom_ok;		/* answered EOM: its modifications count */
	size_t hpos, bpos;	/* next header field, body octet */
};

struct milters {
	struct owld *d;
	char id[17], peer[64];
	struct sockaddr_storage sa;
	milters_done_fn *done;
	void *arg;
	struct mconn **m;
	size_t n;
	/* the step in flight */
	bool busy;
	enum step step, last;
	size_t cur;
	/* a milter that refused the connection or the HELO: every MAIL */
	enum milters_verdict sess_v;
	char sess_reply[MILTER_REPLY_MAX + 1], sess_name[300];
	/* what the steps send */
	struct milters_mail mail;
	char helo[256], sender[ADDR_PATH_MAX + 3], rcpt[ADDR_PATH_MAX + 3];
	char user[ADDR_PATH_MAX + 1], tls[32], cipher[64], msgid[17];
	/* the message */
	const char *data;	/* in memory, or NULL: */
	int fd;			/* in a spool */
	size_t len;
	char *hdr;		/* a spool's first HDR_WINDOW octets */
	const char *htext;	/* the header block (after Return-Path) */
	size_t hlen;
	size_t body_off;	/* where the body starts in the message */
	struct buf *piece;	/* one BODY's text with CRLF ends */
};

static void run(struct milters *ms);
static void mc_dead(struct mconn *mc, const char *why);
static void step_answer(struct milters *ms, enum milter_ev ev);

static const struct conf *
cf(const struct milters *ms)
{
	return ms->d->conf;
}

static void
mc_free(struct mconn *mc)
{
	if (mc->cev != NULL)
		event_free(mc->cev);
	if (mc->fd != -1)
		close(mc->fd);
	if (mc->timer != NULL)
		event_free(mc->timer);
	milter_free(&mc->core);
	buf_free(&mc->out);
	free(mc);
}

static void
timer_arm(struct mconn *mc, unsigned secs)
{
	struct timeval tv = {.tv_sec = secs};

	evtimer_add(mc->timer, &tv);
}

/* The timeout for a reply to the step in flight. */
static unsigned
step_timeout(const struct milters *ms)
{
	return ms->step >= S_DATA ? cf(ms)->milter_content_timeout
				  : cf(ms)->milter_command_timeout;
}

static void
flush(struct mconn *mc)
{
	if (mc->conn != NULL && mc->out->len > 0)
		conn_write(mc->conn, mc->out->data, mc->out->len);
	buf_reset(mc->out);
}

/* ---- the connection ---- */

static size_t
mc_bytes(void *arg, const char *data, size_t len, bool *more)
{
	struct mconn *mc = arg;
	struct milters *ms;
	size_t at = 0, used;

	*more = true;
	/* an answer may end the session (and its milters) under us */
	while (at < len && (ms = mc->ms) != NULL && !mc->dead) {
		enum milter_ev ev = milter_feed(mc->core, data + at, len - at,
						&used);

		at += used;
		switch (ev) {
		case MILTER_EV_MORE:
			break;
		case MILTER_EV_PROGRESS:
			timer_arm(mc, step_timeout(ms));
			break;
		case MILTER_EV_ERROR:
			mc_dead(mc, milter_error(mc->core));
			return len;
		case MILTER_EV_NEGOTIATED:
			evtimer_del(mc->timer);
			mc->ready = true;
			if (ms->busy && ms->m[ms->cur] == mc)
				run(ms);
			break;
		default:
			/* a verdict: the core took it only as one was due */
			evtimer_del(mc->timer);
			step_answer(ms, ev);
			break;
		}
	}
	return mc->ms == NULL || mc->dead ? len : at;
}

static void
mc_closed(void *arg, const char *reason)
{
	struct mconn *mc = arg;

	mc->conn = NULL;
	if (mc->ms == NULL) {
		mc_free(mc);
		return;
	}
	if (!mc->dead) {
		char why[100];

		snprintf(why, sizeof(why), "connection closed (%s)", reason);
		mc_dead(mc, why);
	}
}

static void
mc_timeout(void *arg)
{
	(void)arg; /* no idle timeout is set: the reply timer is ours */
}

static const struct conn_ops mc_ops = {
	.bytes = mc_bytes,
	.timeout = mc_timeout,
	.closed = mc_closed,
};

static void
mc_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mconn *mc = arg;

	(void)fd, (void)what;
	mc_dead(mc, mc->ready ? "timeout waiting for a reply"
			      : "timeout connecting and negotiating");
}

/*
 * The milter is out for this session: logged, closed; the step in flight
 * meets the default action.
 */
static void
mc_dead(struct mconn *mc, const char *why)
{
	struct milters *ms = mc->ms;
	char q[300];

	if (mc->dead || ms == NULL)
		return;
	mc->dead = true;
	evtimer_del(mc->timer);
	log_msg(LOGL_WARN, "milter", "id=%s event=milter-failed milter=%s "
		"error=%s action=%s", ms->id, mc->name,
		log_q(q, sizeof(q), why),
		cf(ms)->milter_default_action == CONF_MILTER_ACCEPT
			? "accept"
			: "tempfail");
	if (mc->cev != NULL) {
		event_free(mc->cev);
		mc->cev = NULL;
	}
	if (mc->fd != -1) {
		close(mc->fd);
		mc->fd = -1;
	}
	if (mc->conn != NULL)
		conn_close(mc->conn, "milter-failed");
	if (ms->busy && ms->m[ms->cur] == mc)
		run(ms);
}

static void
negotiate(struct mconn *mc)
{
	struct milters *ms = mc->ms;

	mc->conn = conn_new(ms->d->base, mc->fd, &mc_ops, mc, 0, MIN_MAX,
			    MOUT_MAX);
	mc->fd = -1;
	milter_send_optneg(mc->core, mc->out);
	flush(mc);
}

static void
connect_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mconn *mc = arg;
	int err = ETIMEDOUT;
	socklen_t len = sizeof(err);
	char why[200];

	event_free(mc->cev);
	mc->cev = NULL;
	if ((what & EV_WRITE) &&
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
	    err == 0) {
		negotiate(mc);
		return;
	}
	snprintf(why, sizeof(why), "connect: %s", strerror(err));
	mc_dead(mc, why);
}

static void
mc_connect(struct mconn *mc, const struct sockaddr_storage *sa,
	   unsigned salen)
{
	struct milters *ms = mc->ms;
	unsigned secs = cf(ms)->milter_connect_timeout;
	struct timeval tv = {.tv_sec = secs};
	char why[200];

	timer_arm(mc, secs); /* connect and OPTNEG together */
	mc->fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK |
					       SOCK_CLOEXEC, 0);
	if (mc->fd == -1) {
		snprintf(why, sizeof(why), "socket: %s", strerror(errno));
		mc_dead(mc, why);
		return;
	}
	if (connect(mc->fd, (const struct sockaddr *)sa, salen) == 0) {
		negotiate(mc);
		return;
	}
	if (errno == EINPROGRESS) {
		mc->cev = event_new(ms->d->base, mc->fd, EV_WRITE, connect_cb,
				    mc);
		event_add(mc->cev, &tv);
		return;
	}
	snprintf(why, sizeof(why), "connect: %s", strerror(errno));
	mc_dead(mc, why);
}

struct milters *
milters_open(struct owld *d, const char *id, const char *peer,
	     const struct sockaddr *sa, milters_done_fn *done, void *arg)
{
	const struct conf *c = d->conf;
	struct milter_limits lim = {.max_packet = c->milter_max_reply};
	struct sockaddr_storage msa;
	struct milters *ms;
	unsigned salen;
	size_t i, n = 0;

	while (conf_milter(c->milter_servers, n, &msa, &salen, NULL, 0))
		n++;
	if (n == 0)
		return NULL;
	/* a new body may be as big as a message may be, and some headers */
	lim.max_mods = c->smtp_max_size + c->milter_max_reply;
	ms = xcalloc(1, sizeof(*ms));
	ms->d = d;
	snprintf(ms->id, sizeof(ms->id), "%s", id);
	snprintf(ms->peer, sizeof(ms->peer), "%s", peer);
	memcpy(&ms->sa, sa, sa->sa_family == AF_INET6
				    ? sizeof(struct sockaddr_in6)
				    : sizeof(struct sockaddr_in));
	ms->done = done;
	ms->arg = arg;
	ms->fd = -1;
	ms->m = xcalloc(n, sizeof(*ms->m));
	ms->n = n;
	ms->piece = buf_new(2 * BODY_PIECE + 2);
	for (i = 0; i < n; i++) {
		struct mconn *mc = xcalloc(1, sizeof(*mc));

		ms->m[i] = mc;
		mc->ms = ms;
		mc->fd = -1;
		conf_milter(c->milter_servers, i, &msa, &salen, mc->name,
			    sizeof(mc->name));
		mc->core = milter_new(&lim);
		/* never full: one step's packets, sent at once */
		mc->out = buf_new(c->smtp_max_size + 2 * MILTER_CHUNK_MAX);
		mc->timer = evtimer_new(d->base, mc_timer_cb, mc);
		mc_connect(mc, &msa, salen);
	}
	return ms;
}

void
milters_close(struct milters **msp)
{
	struct milters *ms = *msp;

	if (ms == NULL)
		return;
	for (size_t i = 0; i < ms->n; i++) {
		struct mconn *mc = ms->m[i];

		if (mc->conn != NULL && !mc->dead && mc->ready &&
		    !milter_waiting(mc->core)) {
			milter_send_abort(mc->core, mc->out);
			milter_send_quit(mc->core, mc->out);
			flush(mc);
		}
		mc->ms = NULL;
		evtimer_del(mc->timer);
		if (mc->conn != NULL)
			conn_close(mc->conn, "quit"); /* mc_closed frees */
		else
			mc_free(mc);
	}
	free(ms->m);
	free(ms->hdr);
	buf_free(&ms->piece);
	free(ms);
	*msp = NULL;
}

bool
milters_busy(const struct milters *ms)
{
	return ms != NULL && ms->busy;
}

/* ---- steps ---- */

static void
finish(struct milters *ms, enum milters_verdict v, const char *reply,
       const char *name)
{
	char r[MILTER_REPLY_MAX + 1], n[300];

	/* the callback may start the next step: copy what it gets */
	snprintf(r, sizeof(r), "%s", reply);
	snprintf(n, sizeof(n), "%s", name);
	ms->busy = false;
	ms->done(ms->arg, v, r, n);
}

static void
start(struct milters *ms, enum step first, enum step last)
{
	ms->busy = true;
	ms->step = first;
	ms->last = last;
	ms->cur = 0;
	run(ms);
}

#define NMAC(a) (sizeof(a) / sizeof((a)[0]))

static enum milter_sent
send_connect(struct milters *ms, struct mconn *mc)
{
	const struct conf *c = cf(ms);
	char port[8], host[80], under[160];
	unsigned p = 0;
	char family = 'U';
	struct milter_macro mac[] = {
		{"j", c->hostname}, {"{daemon_name}", c->hostname},
		{"v", "owlpost"}, {"_", under}, {"{client_addr}", ms->peer},
		{"{client_port}", port}, {"{client_name}", host},
		{"{client_ptr}", host},
	};

	if (ms->sa.ss_family == AF_INET) {
		family = '4';
		p = ntohs(((struct sockaddr_in *)(void *)&ms->sa)->sin_port);
	} else if (ms->sa.ss_family == AF_INET6) {
		family = '6';
		p = ntohs(((struct sockaddr_in6 *)(void *)&ms->sa)->sin6_port);
	}
	snprintf(port, sizeof(port), "%u", p);
	/* no reverse lookup: the address as Sendmail names an unknown host */
	snprintf(host, sizeof(host), "[%s]", ms->peer);
	snprintf(under, sizeof(under), "unknown [%s]", ms->peer);
	mc->connect_sent = true;
	return milter_send_connect(mc->core, mac, NMAC(mac), host, family, p,
				   ms->peer, mc->out);
}

static enum milter_sent
send_helo(struct milters *ms, struct mconn *mc)
{
	struct milter_macro mac[2];
	size_t n = 0;

	if (ms->helo[0] == '\0' || strcmp(mc->helo_sent, ms->helo) == 0)
		return MILTER_SKIPPED;
	snprintf(mc->helo_sent, sizeof(mc->helo_sent), "%s", ms->helo);
	if (ms->tls[0] != '\0') {
		mac[n++] = (struct milter_macro){"{tls_version}", ms->tls};
		mac[n++] = (struct milter_macro){"{cipher}", ms->cipher};
	}
	return milter_send_helo(mc->core, mac, n, ms->helo, mc->out);
}

static enum milter_sent
send_mail(struct milters *ms, struct mconn *mc)
{
	const char *args[] = {ms->sender};
	struct milter_macro mac[3] = {{"{mail_addr}", ms->sender + 1}};
	char addr[ADDR_PATH_MAX + 1];
	size_t n = 1;

	/* the macro is the address without its brackets */
	snprintf(addr, sizeof(addr), "%.*s", (int)strlen(ms->sender) - 2,
		 ms->sender + 1);
	mac[0].value = addr;
	mac[n++] = (struct milter_macro){"{mail_mailer}", "smtp"};
	if (ms->user[0] != '\0')
		mac[n++] = (struct milter_macro){"{auth_authen}", ms->user};
	return milter_send_mail(mc->core, mac, n, args, 1, mc->out);
}

static enum milter_sent
send_rcpt(struct milters *ms, struct mconn *mc)
{
	const char *args[] = {ms->rcpt};
	char addr[ADDR_PATH_MAX + 1];
	struct milter_macro mac[] = {{"{rcpt_addr}", addr}};

	snprintf(addr, sizeof(addr), "%.*s", (int)strlen(ms->rcpt) - 2,
		 ms->rcpt + 1);
	return milter_send_rcpt(mc->core, mac, NMAC(mac), args, 1, mc->out);
}

/* The field at *pos of the header block: name and value; false at end. */
static bool
next_field(const struct milters *ms, size_t *pos, const char **name,
	   size_t *nlen, const char **value, size_t *vlen)
{
	const char *h = ms->htext, *end = h + ms->hlen;

	while (h + *pos < end) {
		const char *f = h + *pos, *e = f, *colon;

		do {
			const char *lf = memchr(e, '\n', (size_t)(end - e));

			e = lf ? lf + 1 : end;
		} while (e < end && (*e == ' ' || *e == '\t'));
		*pos = (size_t)(e - h);
		colon = memchr(f, ':', (size_t)(e - f));
		if (colon == NULL || colon == f)
			continue; /* not a field: not sent */
		*name = f;
		*nlen = (size_t)(colon - f);
		while (*nlen > 0 &&
		       (f[*nlen - 1] == ' ' || f[*nlen - 1] == '\t'))
			(*nlen)--;
		colon++;
		while (colon < e && (*colon == ' ' || *colon == '\t'))
			colon++;
		*value = colon;
		*vlen = (size_t)(e - colon);
		if (*vlen > 0 && colon[*vlen - 1] == '\n')
			(*vlen)--;
		return true;
	}
	return false;
}

static enum milter_sent
send_header(struct milters *ms, struct mconn *mc)
{
	const char *name, *value;
	size_t nlen, vlen;

	if (!next_field(ms, &mc->hpos, &name, &nlen, &value, &vlen))
		return MILTER_SKIPPED;
	return milter_send_header(mc->core, name, nlen, value, vlen, mc->out);
}

/* The message's octets [off, off + n) into dst; -1 if a read failed. */
static int
msg_read(const struct milters *ms, size_t off, char *dst, size_t n)
{
	if (ms->data != NULL) {
		memcpy(dst, ms->data + off, n);
		return 0;
	}
	while (n > 0) {
		ssize_t r = pread(ms->fd, dst, n, (off_t)off);

		if (r <= 0)
			return -1;
		dst += r;
		off += (size_t)r;
		n -= (size_t)r;
	}
	return 0;
}

/* The next body piece with CRLF line ends. */
static enum milter_sent
send_body(struct milters *ms, struct mconn *mc)
{
	char raw[BODY_PIECE];
	size_t at = ms->body_off + mc->bpos, n;
	enum milter_sent r;

	if (at >= ms->len)
		return MILTER_SKIPPED;
	n = ms->len - at < sizeof(raw) ? ms->len - at : sizeof(raw);
	if (msg_read(ms, at, raw, n) == -1) {
		mc->bpos = ms->len; /* logged by the commit's own read */
		return MILTER_SKIPPED;
	}
	buf_reset(ms->piece);
	for (size_t i = 0; i < n; i++) {
		if (raw[i] == '\n')
			buf_addc(ms->piece, '\r');
		buf_addc(ms->piece, raw[i]);
	}
	mc->bpos += n;
	r = milter_send_body(mc->core, ms->piece->data, ms->piece->len,
			     mc->out);
	if (r == MILTER_SKIPPED)
		mc->bpos = ms->len; /* no body wanted, or SKIP */
	return r;
}

static enum milter_sent
send_step(struct milters *ms, struct mconn *mc)
{
	struct milter_macro qid[] = {{"i", ms->msgid}};

	switch (ms->step) {
	case S_ABORT:
		return milter_send_abort(mc->core, mc->out);
	case S_CONNECT:
		return mc->connect_sent ? MILTER_SKIPPED
					: send_connect(ms, mc);
	case S_HELO:
		return send_helo(ms, mc);
	case S_MAIL:
		return send_mail(ms, mc);
	case S_RCPT:
		return send_rcpt(ms, mc);
	case S_DATA:
		mc->hpos = mc->bpos = 0;
		mc->eom_ok = false;
		return milter_send_data(mc->core, qid, 1, mc->out);
	case S_HEADER:
		return send_header(ms, mc);
	case S_EOH:
		return milter_send_eoh(mc->core, qid, 1, mc->out);
	case S_BODY:
		return send_body(ms, mc);
	case S_EOM:
		return milter_send_eom(mc->core, qid, 1, mc->out);
	}
	return MILTER_SKIPPED;
}

/* The step went (or was skipped) for the current milter: what next. */
static void
step_next(struct milters *ms)
{
	struct mconn *mc = ms->m[ms->cur];

	if (ms->step == S_HEADER && mc->hpos < ms->hlen)
		return; /* more fields */
	if (ms->step == S_BODY && ms->body_off + mc->bpos < ms->len)
		return; /* more body */
	ms->step++;
}

static void
next_milter(struct milters *ms, enum step first)
{
	ms->cur++;
	ms->step = first;
}

static enum step
first_step(const struct milters *ms)
{
	return ms->last == S_MAIL ? S_ABORT : ms->last == S_RCPT ? S_RCPT
								 : S_DATA;
}

static void
run(struct milters *ms)
{
	while (ms->busy) {
		struct mconn *mc;
		enum milter_sent r;

		if (ms->cur >= ms->n) {
			finish(ms, MILTERS_CONTINUE, "", "");
			return;
		}
		mc = ms->m[ms->cur];
		if (mc->dead) {
			if (cf(ms)->milter_default_action ==
			    CONF_MILTER_TEMPFAIL) {
				finish(ms, MILTERS_TEMPFAIL, "", mc->name);
				return;
			}
			next_milter(ms, first_step(ms));
			continue;
		}
		if (!mc->ready)
			return; /* negotiate() or mc_dead() calls run() */
		if (ms->step > ms->last) {
			next_milter(ms, first_step(ms));
			continue;
		}
		r = send_step(ms, mc);
		flush(mc);
		if (r == MILTER_SENT_REPLY) {
			timer_arm(mc, step_timeout(ms));
			return;
		}
		step_next(ms);
	}
}

static enum milters_verdict
verdict(enum milter_ev ev)
{
	return ev == MILTER_EV_REJECT	  ? MILTERS_REJECT
	       : ev == MILTER_EV_TEMPFAIL ? MILTERS_TEMPFAIL
					  : MILTERS_DISCARD;
}

/* A verdict from the current milter. */
static void
step_answer(struct milters *ms, enum milter_ev ev)
{
	struct mconn *mc = ms->m[ms->cur];

	switch (ev) {
	case MILTER_EV_CONTINUE:
		if (ms->step == S_EOM)
			mc->eom_ok = true;
		step_next(ms);
		break;
	case MILTER_EV_SKIP:
		mc->bpos = ms->len;
		step_next(ms);
		break;
	case MILTER_EV_ACCEPT:
		if (ms->step == S_EOM)
			mc->eom_ok = true;
		next_milter(ms, first_step(ms));
		break;
	default:
		if (ms->step == S_CONNECT || ms->step == S_HELO) {
			/* Sendmail and Postfix: it holds for every MAIL */
			ms->sess_v = verdict(ev);
			snprintf(ms->sess_reply, sizeof(ms->sess_reply), "%s",
				 milter_reply(mc->core));
			snprintf(ms->sess_name, sizeof(ms->sess_name), "%s",
				 mc->name);
		}
		finish(ms, verdict(ev), milter_reply(mc->core), mc->name);
		return;
	}
	run(ms);
}

void
milters_mail(struct milters *ms, const struct milters_mail *m)
{
	if (ms->sess_v != MILTERS_CONTINUE) {
		ms->busy = true;
		finish(ms, ms->sess_v, ms->sess_reply, ms->sess_name);
		return;
	}
	snprintf(ms->helo, sizeof(ms->helo), "%s", m->helo);
	snprintf(ms->sender, sizeof(ms->sender), "<%s>", m->sender);
	snprintf(ms->user, sizeof(ms->user), "%s", m->user ? m->user : "");
	snprintf(ms->tls, sizeof(ms->tls), "%s",
		 m->tls_version ? m->tls_version : "");
	snprintf(ms->cipher, sizeof(ms->cipher), "%s",
		 m->cipher ? m->cipher : "");
	start(ms, S_ABORT, S_MAIL);
}

void
milters_rcpt(struct milters *ms, const char *rcpt)
{
	snprintf(ms->rcpt, sizeof(ms->rcpt), "<%s>", rcpt);
	start(ms, S_RCPT, S_RCPT);
}

/* Where the header block and the body are: after Return-Path. */
static void
locate(struct milters *ms)
{
	const char *t = ms->data;
	size_t n = ms->len, i;
	const char *lf;

	if (t == NULL) {
		n = ms->len < HDR_WINDOW ? ms->len : HDR_WINDOW;
		free(ms->hdr);
		ms->hdr = xmalloc(n + 1);
		if (msg_read(ms, 0, ms->hdr, n) == -1)
			n = 0; /* no header sent; the commit meets the error */
		t = ms->hdr;
	}
	lf = memchr(t, '\n', n);
	i = lf ? (size_t)(lf - t) + 1 : n;
	ms->htext = t + i;
	if (i < n && t[i] == '\n') {
		/* no field at all */
		ms->hlen = 0;
		ms->body_off = i + 1;
		return;
	}
	for (; i + 1 < n; i++)
		if (t[i] == '\n' && t[i + 1] == '\n')
			break;
	if (i + 1 < n) {
		/* the fields end with the LF at i; the empty line follows */
		ms->hlen = (size_t)(t + i + 1 - ms->htext);
		ms->body_off = i + 2;
	} else {
		/* all fields (or all that a spool's window holds) */
		ms->hlen = (size_t)(t + n - ms->htext);
		ms->body_off = n;
	}
}

void
milters_message(struct milters *ms, const char *msgid, const char *data,
		int fd, size_t len)
{
	snprintf(ms->msgid, sizeof(ms->msgid), "%s", msgid);
	ms->data = data;
	ms->fd = fd;
	ms->len = len;
	locate(ms);
	start(ms, S_DATA, S_EOM);
}

bool
milters_result(const struct milters *ms, size_t i, const struct milter **m_r,
	       const char **name_r)
{
	if (i >= ms->n)
		return false;
	*m_r = ms->m[i]->eom_ok && !ms->m[i]->dead ? ms->m[i]->core : NULL;
	*name_r = ms->m[i]->name;
	return true;
}
