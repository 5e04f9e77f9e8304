/*
 * pop3_sess - glue between net/conn, the pop3_server core, auth/users and
 * the store's mailbox view (INBOX), built on the session base (sess.h),
 * which accepts, checks the password and stops.  Slow work runs on the
 * worker pool: the password check (sess.c), then the mailbox snapshot,
 * and the expunge at QUIT.  Messages are streamed from the file as the
 * client reads them (conn_await_drain), so a session costs its buffers
 * whatever the message size.
 *
 * Locking: a mailbox is held by at most one session, on this host or any
 * other sharing the mail tree.  The store's view holds the lock (an
 * in-process table and an fcntl lock inside the Maildir): it is taken by
 * the snapshot job, once the password checked out (so wrong passwords
 * cannot keep a user out), and let go when the view is closed, which is
 * when the session and any job it started are both gone, so a new session
 * can never snapshot a mailbox while an expunge is still running.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/buf.h"
#include "../lib/clock.h"
#include "../lib/log.h"
#include "../net/conn.h"
#include "owld.h"
#include "sess.h"

#define OUT_MAX (64 * 1024)	/* replies of one pipelined group */
#define CHUNK (16 * 1024)	/* stored text read per step */
#define OUT_CAP (OUT_MAX + 2 * CHUNK + 64)

struct pjob;

struct pop3_sess {
	struct sess base;		/* first: the session base's half */
	struct pop3_server *core;
	char user[ADDR_PATH_MAX + 1];	/* the mailbox held, or "" */
	struct store_view *view;	/* its INBOX, once open */
	size_t nmsgs;
	struct pjob *job;		/* in flight, or NULL */
	bool streaming;
	bool listing;			/* a LIST/UIDL listing going out */
	struct store_reader rd;
	struct dot_stuff stuff;
	size_t streamed;
	size_t head;		/* octets of out before the text: the +OK */
	unsigned retrs;
};

enum pjob_kind { PJ_OPEN, PJ_UPDATE };

/* A job on the mailbox: the lock and the snapshot, or the expunge. */
struct pjob {
	struct wpool_job job;
	enum pjob_kind kind;
	struct owld *d;
	struct pop3_sess *sess;		/* NULL once the session is gone */
	char user[ADDR_PATH_MAX + 1];
	struct store_view *view;
	bool *dele;
	unsigned ndele;
	enum store_res res;
	double open_ms;			/* PJ_OPEN: how long the open took */
	char err[300];
};

/* Message i of the session's view, for the core (no copy of the
 * mailbox: the view's 20 octets a message are all it keeps). */
static void
view_msg(void *arg, unsigned i, struct pop3_msg *out)
{
	struct store_vmsg m;

	store_view_msg(arg, i, &m);
	out->size = m.size;
	out->uidl = m.uidl;
}

static const struct sess_ops pop3_ops;
static void run_act(struct pop3_sess *s, enum pop3_act act);

static struct pop3_sess *
ps(struct sess *b)
{
	return (struct pop3_sess *)(void *)b;
}

static const struct pop3_sess *
cps(const struct sess *b)
{
	return (const struct pop3_sess *)(const void *)b;
}

enum listener { L_POP3, L_POP3S };

void
pop3_sess_accept(int fd, struct sockaddr *sa, socklen_t len, void *arg)
{
	(void)len;
	sess_accept(arg, fd, sa, &pop3_ops, L_POP3);
}

void
pop3_sess_accept_tls(int fd, struct sockaddr *sa, socklen_t len, void *arg)
{
	(void)len;
	sess_accept(arg, fd, sa, &pop3_ops, L_POP3S);
}

static int
refuse(const struct owld *d, const char *peer, bool per_addr, char *line,
       size_t size)
{
	(void)d, (void)peer;
	return snprintf(line, size, "-ERR [SYS/TEMP] Too many connections%s, "
			"try again later\r\n",
			per_addr ? " from your address" : "");
}

static void
open_sess(struct sess *b, int fd, const struct sockaddr *sa, int kind,
	  struct sess_setup *set)
{
	struct pop3_sess *s = ps(b);
	const struct conf *c = b->d->conf;

	(void)sa;
	s->rd.fd = -1;
	s->core = pop3_server_new(&b->d->pop3_conf);
	pop3_server_plain_auth(s->core, owld_plain_auth(b->d, fd));
	*set = (struct sess_setup){
		.timeout = c->pop3_timeout,
		.in_max = 2 * POP3_SASL_MAX,
		.out_max = OUT_MAX,
		.out_cap = OUT_CAP,
		.out_keep = OUT_CAP,
		.command_deadline = c->pop3_command_deadline,
		.login_deadline = c->pop3_login_deadline,
		.implicit_tls = kind == L_POP3S,
		.listener = kind == L_POP3S ? " listener=pop3s" : "",
	};
	if (set->implicit_tls)
		pop3_server_secure(s->core);
}

static void
greet(struct sess *b)
{
	pop3_server_greet(ps(b)->core, b->out);
}

/* Sends streamed message text: traced as a count, not as text. */
static void
flush_text(struct pop3_sess *s)
{
	s->streamed += s->base.out->len - s->head;
	s->head = 0;
	conn_write(s->base.conn, s->base.out->data, s->base.out->len);
	buf_reset(s->base.out);
}

static bool
feed(struct sess *b, const char *line, size_t len)
{
	struct pop3_sess *s = ps(b);

	run_act(s, pop3_server_feed(s->core, line, len, b->out));
	return pop3_server_pending(s->core);
}

static const char *
trace_in(const struct sess *b, const char *line, size_t len, size_t *len_r)
{
	return pop3_server_trace_in(cps(b)->core, line, len, len_r);
}

static void
toolong(struct sess *b)
{
	run_act(ps(b), pop3_server_toolong(ps(b)->core, b->out));
}

static size_t
max_line(const struct sess *b)
{
	return pop3_server_max_line(cps(b)->core);
}

static size_t
max_drop(const struct sess *b)
{
	return pop3_server_max_drop(cps(b)->core);
}

/* No words in the middle of a message text or a listing (see timeout). */
static void
endless(struct sess *b)
{
	if (!ps(b)->streaming && !ps(b)->listing)
		pop3_server_endless(ps(b)->core, b->out);
}

static void
timeout(struct sess *b)
{
	/* in the middle of a message text or a listing nothing more can be
	 * said: an -ERR would read as one of its lines */
	if (!ps(b)->streaming && !ps(b)->listing)
		pop3_server_timeout(ps(b)->core, b->out);
}

/* Too slow: a command line, or no login within pop3.login_deadline. */
static void
deadline(struct sess *b)
{
	if (!ps(b)->streaming && !ps(b)->listing)
		pop3_server_deadline(ps(b)->core, b->out);
}

static void
shutdown_reply(struct sess *b)
{
	pop3_server_shutdown(ps(b)->core, b->out);
}

static bool
busy(const struct sess *b)
{
	return cps(b)->job != NULL || cps(b)->streaming || cps(b)->listing;
}

static void
pjob_free(struct pjob *j)
{
	if (j->sess == NULL) {
		/* the session is gone: the job lets go of the view (lock) */
		store_view_close(&j->view);
	}
	free(j->dele);
	free(j);
}

static void
words(const struct sess *b, char *out, size_t size)
{
	snprintf(out, size, " retrieved=%u", cps(b)->retrs);
}

static void
close_sess(struct sess *b)
{
	struct pop3_sess *s = ps(b);

	if (s->job != NULL) {
		/* the job finishes alone and lets go of the lock after it */
		s->job->sess = NULL;
		s->user[0] = '\0';
		if (s->job->kind == PJ_UPDATE)
			s->view = NULL; /* the job holds it */
	}
	store_reader_close(&s->rd);
	pop3_server_free(&s->core);
	store_view_close(&s->view);
}

static void
start_login(struct pop3_sess *s)
{
	const struct pop3_req *req = pop3_server_req(s->core);

	sess_login_start(&s->base, req->user, req->pass);
}

static void open_run(struct wpool_job **jobs, size_t n);
static void open_done(struct wpool_job *job);
static void update_run(struct wpool_job **jobs, size_t n);
static void update_done(struct wpool_job *job);

/* A job of kind on s's mailbox (s->user), in flight once submitted. */
static struct pjob *
pjob_new(struct pop3_sess *s, enum pjob_kind kind)
{
	struct pjob *j = xcalloc(1, sizeof(*j));

	j->kind = kind;
	j->d = s->base.d;
	j->sess = s;
	j->job.run = kind == PJ_OPEN ? open_run : update_run;
	j->job.done = kind == PJ_OPEN ? open_done : update_done;
	j->job.solo = true;
	snprintf(j->user, sizeof(j->user), "%s", s->user);
	s->job = j;
	return j;
}

/* The password is right: now the lock and the snapshot, on a worker. */
static void
start_open(struct pop3_sess *s, const char *user)
{
	snprintf(s->user, sizeof(s->user), "%s", user);
	wpool_submit(s->base.d->pool, &pjob_new(s, PJ_OPEN)->job);
}

static void
login_done(struct sess *b, enum sess_login_res r, const char *user)
{
	struct pop3_sess *s = ps(b);

	if (r == SESS_LOGIN_OK) {
		start_open(s, user);
		return;
	}
	run_act(s, pop3_server_login_done(s->core, r == SESS_LOGIN_TEMP
						    ? POP3_R_TEMP
						    : POP3_R_BADAUTH,
					  b->out));
	sess_answered(b);
}

/* Worker thread: the lock and the snapshot. */
static void
open_run(struct wpool_job **jobs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct pjob *j = (struct pjob *)(void *)jobs[i];
		uint64_t t0 = mono_us();

		j->res = store_view_open(j->d->store, j->user, "INBOX",
					 &j->view, j->err, sizeof(j->err));
		j->open_ms = (double)(mono_us() - t0) / 1e3;
	}
}

/* The mailbox is open: its messages are the core's listing. */
static void
take_view(struct pop3_sess *s, struct pjob *j)
{
	struct store_view_info info;

	s->view = j->view;
	j->view = NULL;
	store_view_info(s->view, &info);
	s->nmsgs = info.count;
	pop3_server_set_mailbox(s->core, view_msg, s->view,
				(unsigned)s->nmsgs);
	conn_session_deadline(s->base.conn, 0, NULL);
}

static void
open_done(struct wpool_job *job)
{
	struct pjob *j = (struct pjob *)(void *)job;
	struct pop3_sess *s = j->sess;
	enum pop3_result r;
	char qb[600];
	const char *q = log_q(qb, sizeof(qb), j->user);

	if (s == NULL) {
		struct owld *d = j->d;

		pjob_free(j);
		owld_check_stopped(d);
		return;
	}
	s->job = NULL;
	if (j->res == STORE_INUSE) {
		r = POP3_R_INUSE;
		log_msg(LOGL_WARN, "pop3", "id=%s peer=%s event=login-refused "
			"user=%s reason=in-use", s->base.id, s->base.peer, q);
		s->user[0] = '\0';
	} else if (j->res != STORE_OK) {
		r = j->res == STORE_PERM ? POP3_R_PERM : POP3_R_TEMP;
		log_msg(LOGL_ERROR, "pop3", "id=%s event=mailbox-error user=%s "
			"error=\"%s\"", s->base.id, q, j->err);
		s->user[0] = '\0';
	} else {
		take_view(s, j);
		r = POP3_R_OK;
		log_msg(LOGL_INFO, "pop3", "id=%s peer=%s event=login user=%s "
			"messages=%zu open_ms=%.1f", s->base.id, s->base.peer,
			q, s->nmsgs, j->open_ms);
	}
	pjob_free(j);
	run_act(s, pop3_server_login_done(s->core, r, s->base.out));
	sess_answered(&s->base);
}

/* Queues message text until the output is half full or the text ends. */
static void
stream_more(struct pop3_sess *s)
{
	struct buf *out = s->base.out;
	char chunk[CHUNK];

	while (out->len < OUT_MAX / 2) {
		ssize_t n = store_reader_read(&s->rd, chunk, sizeof(chunk));

		if (n == -1) {
			/* mid-text: no -ERR can be said any more */
			log_msg(LOGL_ERROR, "pop3", "id=%s event=read-error "
				"error=\"%s\"", s->base.id, strerror(errno));
			s->streaming = false;
			store_reader_close(&s->rd);
			conn_close(s->base.conn, "error");
			return;
		}
		if (n == 0 || dot_stuff_feed(&s->stuff, chunk, (size_t)n,
					      out)) {
			char note[64];
			int k;

			dot_stuff_end(&s->stuff, out);
			flush_text(s);
			k = snprintf(note, sizeof(note),
				     "(message text, %zu octets)", s->streamed);
			log_trace("pop3", s->base.id, 'S', note, (size_t)k);
			store_reader_close(&s->rd);
			s->streaming = false;
			s->retrs++;
			run_act(s, pop3_server_done(s->core, POP3_R_OK, out));
			sess_answered(&s->base);
			return;
		}
	}
	flush_text(s);
	conn_await_drain(s->base.conn);
}

/* Queues listing lines until the output is half full or the listing
 * ends, so that it goes out as the client reads it. */
static void
list_more(struct pop3_sess *s)
{
	if (pop3_server_listing_more(s->core, s->base.out, OUT_MAX / 2)) {
		s->listing = false;
		sess_answered(&s->base);
		return;
	}
	sess_flush(&s->base);
	conn_await_drain(s->base.conn);
}

static void
drained(struct sess *b)
{
	if (ps(b)->streaming)
		stream_more(ps(b));
	else if (ps(b)->listing)
		list_more(ps(b));
}

static void
start_retr(struct pop3_sess *s)
{
	const struct pop3_req *req = pop3_server_req(s->core);
	struct buf *out = s->base.out;

	if (store_view_reader_open(s->view, req->msg, &s->rd) == -1) {
		int err = errno;

		log_msg(LOGL_ERROR, "pop3", "id=%s event=open-error msg=%u "
			"error=\"%s\"", s->base.id, req->msg + 1,
			strerror(err));
		run_act(s, pop3_server_done(s->core, err == ENOENT
						     ? POP3_R_PERM
						     : POP3_R_TEMP, out));
		return;
	}
	pop3_server_retr_begin(s->core, out);
	/* the +OK line goes out with the first text: one send, one segment */
	owld_trace_out("pop3", s->base.id, out);
	dot_stuff_init(&s->stuff, req->lines);
	s->streaming = true;
	s->streamed = 0;
	s->head = out->len;
	conn_pause(s->base.conn);
	stream_more(s);
}

static void
start_update(struct pop3_sess *s)
{
	const struct pop3_req *req = pop3_server_req(s->core);
	struct pjob *j;

	if (req->ndele == 0) {
		run_act(s, pop3_server_done(s->core, POP3_R_OK, s->base.out));
		return;
	}
	j = pjob_new(s, PJ_UPDATE);
	j->view = s->view;
	j->ndele = req->ndele;
	j->dele = xcalloc(s->nmsgs + 1, sizeof(*j->dele));
	memcpy(j->dele, req->dele, s->nmsgs * sizeof(*j->dele));
	conn_pause(s->base.conn);
	wpool_submit(s->base.d->pool, &j->job);
}

static void
update_run(struct wpool_job **jobs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct pjob *j = (struct pjob *)(void *)jobs[i];

		j->res = store_view_expunge(j->view, j->dele, j->err,
					    sizeof(j->err));
	}
}

static void
update_done(struct wpool_job *job)
{
	struct pjob *j = (struct pjob *)(void *)job;
	struct pop3_sess *s = j->sess;
	struct owld *d = j->d;
	const char *id = s ? s->base.id : "-";
	char qb[600];
	const char *q = log_q(qb, sizeof(qb), j->user);

	if (j->res == STORE_OK)
		log_msg(LOGL_INFO, "pop3", "id=%s event=expunge user=%s "
			"deleted=%u%s", id, q, j->ndele,
			s ? "" : " session=gone");
	else
		log_msg(LOGL_ERROR, "pop3", "id=%s event=expunge-failed "
			"user=%s error=\"%s\"", id, q, j->err);
	if (s != NULL) {
		s->job = NULL;
		j->view = NULL; /* still the session's */
		run_act(s, pop3_server_done(s->core, j->res == STORE_OK
						     ? POP3_R_OK
						     : POP3_R_TEMP,
					    s->base.out));
		sess_flush(&s->base);
	}
	pjob_free(j);
	owld_check_stopped(d);
}

static void
run_act(struct pop3_sess *s, enum pop3_act act)
{
	switch (act) {
	case POP3_ACT_NONE:
		break;
	case POP3_ACT_LOGIN:
		start_login(s);
		break;
	case POP3_ACT_RETR:
		start_retr(s);
		break;
	case POP3_ACT_UPDATE:
		start_update(s);
		break;
	case POP3_ACT_LISTING:
		s->listing = true;
		conn_pause(s->base.conn);
		list_more(s);
		break;
	case POP3_ACT_CLOSE:
		sess_flush(&s->base);
		conn_close(s->base.conn, "quit");
		break;
	case POP3_ACT_STLS:
		sess_flush(&s->base); /* the +OK goes out in the clear */
		owld_tls_start(s->base.d, s->base.conn);
		break;
	}
}

static const struct sess_ops pop3_ops = {
	.proto = "pop3",
	.login_event = "login",
	.size = sizeof(struct pop3_sess),
	.refuse = refuse,
	.open = open_sess,
	.greet = greet,
	.feed = feed,
	.trace_in = trace_in,
	.toolong = toolong,
	.max_line = max_line,
	.max_drop = max_drop,
	.endless = endless,
	.timeout = timeout,
	.deadline = deadline,
	.drained = drained,
	.shutdown = shutdown_reply,
	.busy = busy,
	.login_done = login_done,
	.words = words,
	.close = close_sess,
};
