/*
 * pop3_sess - glue between net/conn, the pop3_server core, auth/users and
 * the store's mailbox view (INBOX).  Slow work runs on the worker pool: the
 * password check (crypt(3), one job per login so logins spread over the
 * workers) with the mailbox snapshot, and the expunge at QUIT.  Messages
 * are streamed from the file as the client reads them (conn_await_drain),
 * so a session costs its buffers whatever the message size.
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
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/log.h"
#include "../net/conn.h"
#include "owld.h"

#define OUT_MAX (64 * 1024)	/* replies of one pipelined group */
#define CHUNK (16 * 1024)	/* stored text read per step */
#define OUT_CAP (OUT_MAX + 2 * CHUNK + 64)

struct pjob;

struct pop3_sess {
	struct owld *d;
	struct pop3_sess *prev, *next;
	char id[17];
	char peer[64];
	struct conn *conn;
	struct pop3_server *core;
	struct buf *out;
	char user[ADDR_PATH_MAX + 1];	/* the mailbox held, or "" */
	struct store_view *view;	/* its INBOX, once open */
	size_t nmsgs;
	struct pop3_msg *msgs;
	struct pjob *job;		/* in flight, or NULL */
	struct pjob *gated;		/* a checked login awaiting penalty */
	struct event *delay;		/* a login's answer waits (fail
					   delay, or penalty if gated) */
	bool streaming;
	struct store_reader rd;
	struct dot_stuff stuff;
	size_t streamed;
	size_t head;		/* octets of out before the text: the +OK */
	bool stop_after;		/* shut down once the job/stream ends */
	unsigned retrs;
};

enum pjob_kind { PJ_LOGIN, PJ_OPEN, PJ_UPDATE };

struct pjob {
	struct wpool_job job;
	enum pjob_kind kind;
	struct owld *d;
	struct pop3_sess *sess;		/* NULL once the session is gone */
	char user[ADDR_PATH_MAX + 1];
	struct owld_cred cred;		/* login */
	bool penalty_logged;
	/* both */
	struct store_view *view;
	bool *dele;
	unsigned ndele;
	enum store_res res;
	char err[300];
};

static bool on_line(void *arg, const char *line, size_t len);
static void on_toolong(void *arg);
static size_t on_max_line(void *arg);
static void on_timeout(void *arg);
static void on_deadline(void *arg, const char *why);
static void on_closed(void *arg, const char *reason);
static void on_drained(void *arg);
static void on_secured(void *arg);
static void run_act(struct pop3_sess *s, enum pop3_act act);

static const struct conn_ops pop3_conn_ops = {
	.line = on_line,
	.toolong = on_toolong,
	.max_line = on_max_line,
	.timeout = on_timeout,
	.closed = on_closed,
	.drained = on_drained,
	.secured = on_secured,
	.deadline = on_deadline,
};

static void
flush(struct pop3_sess *s)
{
	owld_send(s->conn, "pop3", s->id, s->out);
	if (s->out->cap > OUT_CAP) {
		/* a listing made it big: give that memory back */
		size_t max = s->out->max;

		buf_free(&s->out);
		s->out = buf_new(max);
	}
}

/* Sends streamed message text: traced as a count, not as text. */
static void
flush_text(struct pop3_sess *s)
{
	s->streamed += s->out->len - s->head;
	s->head = 0;
	conn_write(s->conn, s->out->data, s->out->len);
	buf_reset(s->out);
}

static void
accept_sess(int fd, struct sockaddr *sa, struct owld *d, bool implicit)
{
	struct pop3_sess *s;
	char peer[64];
	const char *limit = NULL;

	conn_addr_text(sa, peer, sizeof(peer));
	if (d->stopping || owld_full(d) ||
	    (limit = owld_admit(d, peer)) != NULL) {
		static const char line[] =
			"-ERR [SYS/TEMP] Too many connections, try again "
			"later\r\n";
		static const char line_ip[] =
			"-ERR [SYS/TEMP] Too many connections from your "
			"address, try again later\r\n";

		/* best effort: a fresh socket's buffer takes one line */
		if (limit != NULL)
			(void)send(fd, line_ip, sizeof(line_ip) - 1,
				   MSG_DONTWAIT | MSG_NOSIGNAL);
		else
			(void)send(fd, line, sizeof(line) - 1,
				   MSG_DONTWAIT | MSG_NOSIGNAL);
		close(fd);
		log_msg(LOGL_WARN, "pop3", "peer=%s event=reject reason=%s",
			peer, d->stopping ? "shutting-down"
				: limit ? limit : "max-connections");
		return;
	}
	s = xcalloc(1, sizeof(*s));
	s->d = d;
	s->rd.fd = -1;
	snprintf(s->id, sizeof(s->id), "%016llx",
		 (unsigned long long)owld_new_id());
	memcpy(s->peer, peer, sizeof(peer));
	s->core = pop3_server_new(&d->pop3_conf);
	pop3_server_plain_auth(s->core, owld_plain_auth(d, fd));
	s->out = buf_new(OUT_CAP);
	s->conn = conn_new(d->base, fd, &pop3_conn_ops, s,
			   d->conf->pop3_timeout, 2 * POP3_SASL_MAX, OUT_MAX);
	conn_deadline(s->conn, d->conf->pop3_command_deadline, 0,
		      "command-deadline");
	conn_session_deadline(s->conn, d->conf->pop3_login_deadline,
			      "login-deadline");
	if (implicit) {
		pop3_server_secure(s->core);
		owld_tls_start(d, s->conn);
	}
	s->next = d->pop3_sessions;
	if (d->pop3_sessions != NULL)
		d->pop3_sessions->prev = s;
	d->pop3_sessions = s;
	d->npop3++;
	log_msg(LOGL_INFO, "pop3", "id=%s peer=%s event=connect%s", s->id,
		s->peer, implicit ? " listener=pop3s" : "");
	pop3_server_greet(s->core, s->out);
	flush(s);
}

void
pop3_sess_accept(int fd, struct sockaddr *sa, socklen_t len, void *arg)
{
	(void)len;
	accept_sess(fd, sa, arg, false);
}

void
pop3_sess_accept_tls(int fd, struct sockaddr *sa, socklen_t len, void *arg)
{
	(void)len;
	accept_sess(fd, sa, arg, true);
}

static void
on_secured(void *arg)
{
	struct pop3_sess *s = arg;

	owld_tls_secured("pop3", s->id, s->conn);
}

/* Traces a client line, with any secret in it masked as the core says. */
static void
trace_in(struct pop3_sess *s, const char *line, size_t len)
{
	const char *shown;
	size_t n;

	if (!log_trace_enabled())
		return;
	shown = pop3_server_trace_in(s->core, line, len, &n);
	log_trace("pop3", s->id, 'C', shown, n);
}

static bool
on_line(void *arg, const char *line, size_t len)
{
	struct pop3_sess *s = arg;

	trace_in(s, line, len);
	run_act(s, pop3_server_feed(s->core, line, len, s->out));
	flush(s);
	return !pop3_server_pending(s->core) && s->delay == NULL &&
	       !conn_closing(s->conn);
}

static void
on_toolong(void *arg)
{
	struct pop3_sess *s = arg;

	log_trace("pop3", s->id, 'C', "(line too long)", 15);
	run_act(s, pop3_server_toolong(s->core, s->out));
	flush(s);
}

static size_t
on_max_line(void *arg)
{
	struct pop3_sess *s = arg;

	return pop3_server_max_line(s->core);
}

static void
on_timeout(void *arg)
{
	struct pop3_sess *s = arg;

	/* in the middle of a message text nothing more can be said */
	if (!s->streaming) {
		pop3_server_timeout(s->core, s->out);
		flush(s);
	}
	conn_close(s->conn, "timeout");
}

/* Too slow: a command line, or no login within pop3.login_deadline. */
static void
on_deadline(void *arg, const char *why)
{
	struct pop3_sess *s = arg;

	log_msg(LOGL_WARN, "pop3", "id=%s peer=%s event=deadline reason=%s",
		s->id, s->peer, why);
	pop3_server_deadline(s->core, s->out);
	flush(s);
	conn_close(s->conn, why);
}

static void
pjob_free(struct pjob *j)
{
	explicit_bzero(j->cred.pass, sizeof(j->cred.pass));
	if (j->sess == NULL) {
		/* the session is gone: the job lets go of the view (lock) */
		store_view_close(&j->view);
	}
	free(j->dele);
	free(j);
}

static void
on_closed(void *arg, const char *reason)
{
	struct pop3_sess *s = arg;
	struct owld *d = s->d;
	char tls[300];

	if (s->job != NULL) {
		/* the job finishes alone and lets go of the lock after it */
		s->job->sess = NULL;
		s->user[0] = '\0';
		if (s->job->kind == PJ_UPDATE)
			s->view = NULL; /* the job holds it */
	}
	if (s->delay != NULL)
		event_free(s->delay);
	if (s->gated != NULL)
		pjob_free(s->gated);
	owld_release(d, s->peer);
	store_reader_close(&s->rd);
	log_msg(LOGL_INFO, "pop3", "id=%s peer=%s event=disconnect reason=%s "
		"retrieved=%u%s", s->id, s->peer, reason, s->retrs,
		owld_tls_words(s->conn, tls, sizeof(tls)));
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		d->pop3_sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	d->npop3--;
	pop3_server_free(&s->core);
	buf_free(&s->out);
	store_view_close(&s->view);
	free(s->msgs);
	free(s);
	owld_check_stopped(d);
}

/* Ends the session for a shutdown once nothing is in flight. */
static void
maybe_stop(struct pop3_sess *s)
{
	if (!s->stop_after || s->job != NULL || s->streaming ||
	    (s->delay != NULL && s->gated == NULL) || conn_closing(s->conn))
		return;
	pop3_server_shutdown(s->core, s->out);
	flush(s);
	conn_close(s->conn, "shutdown");
}

static void
resume(struct pop3_sess *s)
{
	if (s->stop_after)
		maybe_stop(s);
	else
		conn_resume(s->conn);
}

static void login_run(struct wpool_job **jobs, size_t n);
static void login_done(struct wpool_job *job);

static void
start_login(struct pop3_sess *s)
{
	const struct pop3_req *req = pop3_server_req(s->core);
	struct pjob *j = xcalloc(1, sizeof(*j));

	j->kind = PJ_LOGIN;
	j->d = s->d;
	j->sess = s;
	j->job.run = login_run;
	j->job.done = login_done;
	j->job.solo = true;
	owld_cred_prepare(s->d, &j->cred, req->user, req->pass);
	snprintf(j->user, sizeof(j->user), "%s", j->cred.user);
	s->job = j;
	conn_pause(s->conn);
	wpool_submit(s->d->pool, &j->job);
}

/* Worker thread: the password check, or (PJ_OPEN) the snapshot. */
static void
login_run(struct wpool_job **jobs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct pjob *j = (struct pjob *)(void *)jobs[i];

		if (j->kind == PJ_OPEN) {
			j->res = store_view_open(j->d->store, j->user,
						 "INBOX", &j->view, j->err,
						 sizeof(j->err));
			continue;
		}
		owld_cred_check(&j->cred);
	}
}

static void
delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pop3_sess *s = arg;

	(void)fd, (void)what;
	event_free(s->delay);
	s->delay = NULL;
	run_act(s, pop3_server_login_done(s->core, POP3_R_BADAUTH, s->out));
	flush(s);
	if (!conn_closing(s->conn))
		resume(s);
}

static void
gate_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pop3_sess *s = arg;
	struct pjob *j = s->gated;

	(void)fd, (void)what;
	event_free(s->delay);
	s->delay = NULL;
	if (conn_closing(s->conn))
		return; /* stopped meanwhile: on_closed frees the job */
	s->gated = NULL;
	login_done(&j->job);
}

static void
login_done(struct wpool_job *job)
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
	if (j->kind == PJ_LOGIN && j->cred.temp) {
		/* no users file yet: -ERR [SYS/TEMP], not a wrong password */
		log_msg(LOGL_WARN, "pop3", "id=%s peer=%s event=login-deferred "
			"user=%s reason=no-users-file", s->id, s->peer, q);
		pjob_free(j);
		run_act(s, pop3_server_login_done(s->core, POP3_R_TEMP,
						  s->out));
		flush(s);
		if (!conn_closing(s->conn))
			resume(s);
		return;
	}
	if (j->kind == PJ_LOGIN) {
		/* right or wrong, the answer waits for the penalty */
		s->delay = owld_penalty_wait(s->d, "pop3", s->id, s->peer,
					     j->user, &j->penalty_logged,
					     gate_cb, s);
		if (s->delay != NULL) {
			s->gated = j;
			maybe_stop(s);
			return;
		}
		owld_penalty_record(s->d, s->peer, j->user, j->cred.ok);
	}
	if (j->kind == PJ_LOGIN && !j->cred.ok) {
		log_msg(LOGL_WARN, "pop3", "id=%s peer=%s event=login-failed "
			"user=%s reason=%s", s->id, s->peer, q,
			j->cred.exists ? "bad-password" : "unknown-user");
		pjob_free(j);
		/* the same answer, after the same delay, either way */
		s->delay = owld_fail_delay(s->d, delay_cb, s);
		return;
	}
	if (j->kind == PJ_LOGIN) {
		/* the password is right: now the lock and the snapshot */
		snprintf(s->user, sizeof(s->user), "%s", j->user);
		j->kind = PJ_OPEN;
		s->job = j;
		wpool_submit(s->d->pool, &j->job);
		return;
	}
	if (j->res == STORE_INUSE) {
		r = POP3_R_INUSE;
		log_msg(LOGL_WARN, "pop3", "id=%s peer=%s event=login-refused "
			"user=%s reason=in-use", s->id, s->peer, q);
		s->user[0] = '\0';
	} else if (j->res != STORE_OK) {
		r = j->res == STORE_PERM ? POP3_R_PERM : POP3_R_TEMP;
		log_msg(LOGL_ERROR, "pop3", "id=%s event=mailbox-error user=%s "
			"error=\"%s\"", s->id, q, j->err);
		s->user[0] = '\0';
	} else {
		struct store_view_info info;

		s->view = j->view;
		j->view = NULL;
		store_view_info(s->view, &info);
		s->nmsgs = info.count;
		s->msgs = xcalloc(s->nmsgs + 1, sizeof(*s->msgs));
		for (size_t i = 0; i < s->nmsgs; i++) {
			struct store_vmsg m;

			store_view_msg(s->view, i, &m);
			s->msgs[i].size = m.size;
			s->msgs[i].uidl = m.uidl;
		}
		pop3_server_set_mailbox(s->core, s->msgs, (unsigned)s->nmsgs);
		/* the core writes a LIST/UIDL listing whole: make room */
		s->out->max = OUT_CAP + (s->nmsgs + 2) * POP3_LIST_LINE_MAX;
		r = POP3_R_OK;
		conn_session_deadline(s->conn, 0, NULL);
		log_msg(LOGL_INFO, "pop3", "id=%s peer=%s event=login user=%s "
			"messages=%zu", s->id, s->peer, q, s->nmsgs);
	}
	pjob_free(j);
	run_act(s, pop3_server_login_done(s->core, r, s->out));
	flush(s);
	if (!conn_closing(s->conn))
		resume(s);
}

/* Queues message text until the output is half full or the text ends. */
static void
stream_more(struct pop3_sess *s)
{
	char chunk[CHUNK];

	while (s->out->len < OUT_MAX / 2) {
		ssize_t n = store_reader_read(&s->rd, chunk, sizeof(chunk));

		if (n == -1) {
			/* mid-text: no -ERR can be said any more */
			log_msg(LOGL_ERROR, "pop3", "id=%s event=read-error "
				"error=\"%s\"", s->id, strerror(errno));
			s->streaming = false;
			store_reader_close(&s->rd);
			conn_close(s->conn, "error");
			return;
		}
		if (n == 0 || dot_stuff_feed(&s->stuff, chunk, (size_t)n,
					      s->out)) {
			char note[64];
			int k;

			dot_stuff_end(&s->stuff, s->out);
			flush_text(s);
			k = snprintf(note, sizeof(note),
				     "(message text, %zu octets)", s->streamed);
			log_trace("pop3", s->id, 'S', note, (size_t)k);
			store_reader_close(&s->rd);
			s->streaming = false;
			s->retrs++;
			run_act(s, pop3_server_done(s->core, POP3_R_OK,
						    s->out));
			flush(s);
			if (!conn_closing(s->conn))
				resume(s);
			return;
		}
	}
	flush_text(s);
	conn_await_drain(s->conn);
}

static void
on_drained(void *arg)
{
	struct pop3_sess *s = arg;

	if (s->streaming)
		stream_more(s);
}

static void
start_retr(struct pop3_sess *s)
{
	const struct pop3_req *req = pop3_server_req(s->core);

	if (store_view_reader_open(s->view, req->msg, &s->rd) == -1) {
		int err = errno;

		log_msg(LOGL_ERROR, "pop3", "id=%s event=open-error msg=%u "
			"error=\"%s\"", s->id, req->msg + 1, strerror(err));
		run_act(s, pop3_server_done(s->core, err == ENOENT
						     ? POP3_R_PERM
						     : POP3_R_TEMP, s->out));
		return;
	}
	pop3_server_retr_begin(s->core, s->out);
	/* the +OK line goes out with the first text: one send, one segment */
	owld_trace_out("pop3", s->id, s->out);
	dot_stuff_init(&s->stuff, req->lines);
	s->streaming = true;
	s->streamed = 0;
	s->head = s->out->len;
	conn_pause(s->conn);
	stream_more(s);
}

static void update_run(struct wpool_job **jobs, size_t n);
static void update_done(struct wpool_job *job);

static void
start_update(struct pop3_sess *s)
{
	const struct pop3_req *req = pop3_server_req(s->core);
	struct pjob *j;

	if (req->ndele == 0) {
		run_act(s, pop3_server_done(s->core, POP3_R_OK, s->out));
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->kind = PJ_UPDATE;
	j->d = s->d;
	j->sess = s;
	j->job.run = update_run;
	j->job.done = update_done;
	j->job.solo = true;
	snprintf(j->user, sizeof(j->user), "%s", s->user);
	j->view = s->view;
	j->ndele = req->ndele;
	j->dele = xcalloc(s->nmsgs + 1, sizeof(*j->dele));
	memcpy(j->dele, req->dele, s->nmsgs * sizeof(*j->dele));
	s->job = j;
	conn_pause(s->conn);
	wpool_submit(s->d->pool, &j->job);
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
	char qb[600];
	const char *q = log_q(qb, sizeof(qb), j->user);

	if (j->res == STORE_OK)
		log_msg(LOGL_INFO, "pop3", "id=%s event=expunge user=%s "
			"deleted=%u%s", s ? s->id : "-", q, j->ndele,
			s ? "" : " session=gone");
	else
		log_msg(LOGL_ERROR, "pop3", "id=%s event=expunge-failed "
			"user=%s error=\"%s\"", s ? s->id : "-", q, j->err);
	if (s != NULL) {
		s->job = NULL;
		j->view = NULL; /* still the session's */
		run_act(s, pop3_server_done(s->core, j->res == STORE_OK
						     ? POP3_R_OK
						     : POP3_R_TEMP, s->out));
		flush(s);
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
	case POP3_ACT_CLOSE:
		flush(s);
		conn_close(s->conn, "quit");
		break;
	case POP3_ACT_STLS:
		flush(s); /* the +OK goes out in the clear */
		owld_tls_start(s->d, s->conn);
		break;
	}
}

void
pop3_sess_shutdown_all(struct owld *d)
{
	for (struct pop3_sess *s = d->pop3_sessions; s != NULL; s = s->next) {
		if (conn_closing(s->conn))
			continue;
		s->stop_after = true;
		maybe_stop(s);
	}
}
