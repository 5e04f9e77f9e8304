/*
 * sess - the session base (see sess.h): accept under the limits, the list
 * of open sessions, the connection's callbacks, the login with its
 * penalty and fail delay, the graceful stop, the end of a session.
 *
 * A login job outlives its session if the client goes away while the
 * password is checked: the session lets go of it (sess = NULL) and the
 * job frees itself when it comes back.  Nothing here fails; a client past
 * a limit is told so and closed.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/log.h"
#include "../net/conn.h"
#include "owld.h"
#include "sess.h"

/* A login's password check: prepared on the loop, run on a worker. */
struct sess_login {
	struct wpool_job job;
	struct owld *d;
	struct sess *sess;	/* NULL once the session is gone */
	struct owld_cred cred;
	bool penalty_logged;
};

static bool on_line(void *arg, const char *line, size_t len);
static size_t on_bytes(void *arg, const char *data, size_t len, bool *more);
static void on_toolong(void *arg);
static void on_toolong_end(void *arg, bool crlf);
static size_t on_max_line(void *arg);
static size_t on_max_drop(void *arg);
static void on_endless(void *arg);
static void on_timeout(void *arg);
static void on_deadline(void *arg, const char *why);
static void on_closed(void *arg, const char *reason);
static void on_drained(void *arg);
static void on_secured(void *arg);

static const struct conn_ops sess_conn_ops = {
	.line = on_line,
	.toolong = on_toolong,
	.toolong_end = on_toolong_end,
	.max_line = on_max_line,
	.max_drop = on_max_drop,
	.endless = on_endless,
	.timeout = on_timeout,
	.closed = on_closed,
	.drained = on_drained,
	.secured = on_secured,
	.deadline = on_deadline,
};

/* Byte-stream mode (IMAP): no lines, no line limit. */
static const struct conn_ops sess_conn_bytes_ops = {
	.bytes = on_bytes,
	.timeout = on_timeout,
	.closed = on_closed,
	.drained = on_drained,
	.secured = on_secured,
	.deadline = on_deadline,
};

void
sess_flush(struct sess *s)
{
	owld_send(s->conn, s->ops->proto, s->id, s->out);
	if (s->out_keep != 0 && s->out->cap > s->out_keep) {
		/* a listing made it big: give that memory back */
		size_t max = s->out->max;

		buf_free(&s->out);
		s->out = buf_new(max);
	}
}

/*
 * Tells a client it may not come in now (why: ANVIL_OK for the stop or
 * its pool's connection limit, else the per-address limit and its count),
 * and logs it.
 */
static void
refuse(struct owld *d, int fd, const char *peer, const struct sess_ops *ops,
       enum anvil_res why, unsigned count)
{
	char line[512], reason[64];
	int n = ops->refuse(d, peer, why != ANVIL_OK, line, sizeof(line));

	if (n > (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 1;
	/* best effort: a fresh socket's buffer takes one line */
	if (n > 0)
		(void)send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	close(fd);
	switch (why) {
	case ANVIL_OK:
		snprintf(reason, sizeof(reason), "%s", d->stopping
			 ? "shutting-down" : "max-connections");
		break;
	case ANVIL_TOO_MANY:
		snprintf(reason, sizeof(reason), "per-ip-limit sessions=%u",
			 count);
		break;
	case ANVIL_TOO_FAST:
		snprintf(reason, sizeof(reason),
			 "rate-limit connections=%u/min", count);
		break;
	}
	log_msg(LOGL_WARN, ops->proto, "peer=%s event=reject reason=%s", peer,
		reason);
}

static void
list_add(struct owld *d, struct sess *s)
{
	s->next = d->sessions;
	if (d->sessions != NULL)
		d->sessions->prev = s;
	d->sessions = s;
	d->nsessions++;
	d->npool[s->ops->pool]++;
}

static void
list_remove(struct owld *d, struct sess *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		d->sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	d->nsessions--;
	d->npool[s->ops->pool]--;
}

void
sess_free_per_ip(struct sess *s)
{
	if (s->per_ip_freed)
		return;
	owld_release(s->d, s->peer);
	s->per_ip_freed = true;
}

void
sess_accept(struct owld *d, int fd, const struct sockaddr *sa,
	    const struct sess_ops *ops, int kind)
{
	struct sess_setup set = {.listener = ""};
	struct sess *s;
	char peer[64];
	enum anvil_res why = ANVIL_OK;
	unsigned count = 0;

	conn_addr_text(sa, peer, sizeof(peer));
	if (d->stopping || owld_full(d, ops->pool) ||
	    (why = owld_admit(d, peer, &count)) != ANVIL_OK) {
		refuse(d, fd, peer, ops, why, count);
		return;
	}
	s = xcalloc(1, ops->size);
	s->d = d;
	s->ops = ops;
	snprintf(s->id, sizeof(s->id), "%016llx",
		 (unsigned long long)owld_new_id());
	memcpy(s->peer, peer, sizeof(peer));
	ops->open(s, fd, sa, kind, &set);
	s->out = buf_new(set.out_cap);
	s->out_keep = set.out_keep;
	s->conn = conn_new(d->base, fd, set.bytes ? &sess_conn_bytes_ops
						  : &sess_conn_ops,
			   s, set.timeout, set.in_max, set.out_max);
	conn_deadline(s->conn, set.command_deadline, 0, "command-deadline");
	if (set.login_deadline != 0)
		conn_session_deadline(s->conn, set.login_deadline,
				      "login-deadline");
	if (set.implicit_tls) {
		/* the greeting waits in the filter for the handshake */
		owld_tls_start(d, s->conn);
	}
	list_add(d, s);
	log_msg(LOGL_INFO, ops->proto, "id=%s peer=%s event=connect%s", s->id,
		s->peer, set.listener);
	ops->greet(s);
	sess_flush(s);
}

static void
on_secured(void *arg)
{
	struct sess *s = arg;

	owld_tls_secured(s->ops->proto, s->id, s->conn);
}

static bool
on_line(void *arg, const char *line, size_t len)
{
	struct sess *s = arg;
	bool pending;

	if (log_trace_enabled()) {
		size_t n;
		const char *shown = s->ops->trace_in(s, line, len, &n);

		if (shown != NULL)
			log_trace(s->ops->proto, s->id, 'C', shown, n);
	}
	pending = s->ops->feed(s, line, len);
	sess_flush(s);
	return !pending && s->delay == NULL && !conn_closing(s->conn);
}

static size_t
on_bytes(void *arg, const char *data, size_t len, bool *more)
{
	struct sess *s = arg;
	size_t used = 0;
	bool pending = s->ops->feed_bytes(s, data, len, &used);

	sess_flush(s);
	*more = !pending && s->delay == NULL && !conn_closing(s->conn);
	return used;
}

static void
on_toolong(void *arg)
{
	struct sess *s = arg;

	log_trace(s->ops->proto, s->id, 'C', "(line too long)", 15);
	s->ops->toolong(s);
	sess_flush(s);
}

static void
on_toolong_end(void *arg, bool crlf)
{
	struct sess *s = arg;

	if (s->ops->toolong_end != NULL)
		s->ops->toolong_end(s, crlf);
}

static size_t
on_max_drop(void *arg)
{
	struct sess *s = arg;

	return s->ops->max_drop(s);
}

/* An overlong line went on past max_drop: the last words; conn closes. */
static void
on_endless(void *arg)
{
	struct sess *s = arg;

	log_msg(LOGL_WARN, s->ops->proto, "id=%s peer=%s event=line-too-long "
		"dropped=%zu", s->id, s->peer, s->ops->max_drop(s));
	s->ops->endless(s);
	sess_flush(s);
}

static size_t
on_max_line(void *arg)
{
	struct sess *s = arg;

	return s->ops->max_line(s);
}

static void
on_timeout(void *arg)
{
	struct sess *s = arg;

	s->ops->timeout(s);
	sess_flush(s);
	conn_close(s->conn, "timeout");
}

/* Too slow: a command line, a DATA phase below its rate, or no login. */
static void
on_deadline(void *arg, const char *why)
{
	struct sess *s = arg;

	log_msg(LOGL_WARN, s->ops->proto, "id=%s peer=%s event=deadline "
		"reason=%s", s->id, s->peer, why);
	s->ops->deadline(s);
	sess_flush(s);
	conn_close(s->conn, why);
}

static void
on_drained(void *arg)
{
	struct sess *s = arg;

	if (s->ops->drained != NULL)
		s->ops->drained(s);
}

static void
login_free(struct sess_login *j)
{
	if (j == NULL)
		return;
	explicit_bzero(j->cred.pass, sizeof(j->cred.pass));
	free(j);
}

static void
on_closed(void *arg, const char *reason)
{
	struct sess *s = arg;
	struct owld *d = s->d;
	char tls[300], words[600];

	if (s->login != NULL)
		s->login->sess = NULL; /* the job frees itself */
	if (s->delay != NULL)
		event_free(s->delay);
	login_free(s->gated);
	if (!s->per_ip_freed)
		owld_release(d, s->peer);
	s->ops->words(s, words, sizeof(words));
	log_msg(LOGL_INFO, s->ops->proto, "id=%s peer=%s event=disconnect "
		"reason=%s%s%s", s->id, s->peer, reason, words,
		owld_tls_words(s->conn, tls, sizeof(tls)));
	list_remove(d, s);
	s->ops->close(s);
	buf_free(&s->out);
	free(s);
	owld_check_stopped(d);
}

void
sess_maybe_stop(struct sess *s)
{
	/* a login waiting out its penalty gets no answer */
	if (!s->stop_after || conn_closing(s->conn) || s->login != NULL ||
	    (s->delay != NULL && s->gated == NULL) || s->ops->busy(s))
		return;
	s->ops->shutdown(s);
	sess_flush(s);
	conn_close(s->conn, "shutdown");
}

void
sess_answered(struct sess *s)
{
	sess_flush(s);
	if (conn_closing(s->conn))
		return;
	if (s->stop_after)
		sess_maybe_stop(s);
	else
		conn_resume(s->conn);
}

void
sess_shutdown_all(struct owld *d)
{
	for (struct sess *s = d->sessions; s != NULL; s = s->next) {
		if (conn_closing(s->conn))
			continue;
		/* a job in flight is answered first: a commit is durable */
		s->stop_after = true;
		sess_maybe_stop(s);
	}
}

static void login_run(struct wpool_job **jobs, size_t n);
static void login_done(struct wpool_job *job);

void
sess_login_start(struct sess *s, const char *user, const char *pass)
{
	struct sess_login *j = xcalloc(1, sizeof(*j));

	j->d = s->d;
	j->sess = s;
	j->job.run = login_run;
	j->job.done = login_done;
	j->job.solo = true;
	owld_cred_prepare(s->d, &j->cred, user, pass);
	s->login = j;
	conn_pause(s->conn);
	wpool_submit(s->d->pool, &j->job);
}

/* Worker thread: the password check. */
static void
login_run(struct wpool_job **jobs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		owld_cred_check(&((struct sess_login *)(void *)jobs[i])->cred);
}

/* The fail delay is over: the failed login is answered. */
static void
delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sess *s = arg;

	(void)fd, (void)what;
	event_free(s->delay);
	s->delay = NULL;
	s->ops->login_done(s, SESS_LOGIN_BAD, NULL);
}

/* The penalty is waited out: the checked login goes on. */
static void
gate_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sess *s = arg;
	struct sess_login *j = s->gated;

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
	struct sess_login *j = (struct sess_login *)(void *)job;
	struct sess *s = j->sess;
	char user[sizeof(j->cred.user)], qb[600];
	const char *q;

	if (s == NULL) {
		struct owld *d = j->d;

		login_free(j);
		owld_check_stopped(d);
		return;
	}
	s->login = NULL;
	q = log_q(qb, sizeof(qb), j->cred.user);
	if (j->cred.temp) {
		/* no users file yet: a temporary error, not a wrong password */
		log_msg(LOGL_WARN, s->ops->proto, "id=%s peer=%s event=%s-"
			"deferred user=%s reason=no-users-file", s->id,
			s->peer, s->ops->login_event, q);
		login_free(j);
		s->ops->login_done(s, SESS_LOGIN_TEMP, NULL);
		return;
	}
	/* right or wrong, the answer waits for the penalty */
	s->delay = owld_penalty_wait(s->d, s->ops->proto, s->id, s->peer,
				     j->cred.user, &j->penalty_logged,
				     gate_cb, s);
	if (s->delay != NULL) {
		s->gated = j;
		sess_maybe_stop(s);
		return;
	}
	owld_penalty_record(s->d, s->peer, j->cred.user, j->cred.ok);
	if (j->cred.ok) {
		memcpy(user, j->cred.user, sizeof(user));
		login_free(j);
		s->ops->login_done(s, SESS_LOGIN_OK, user);
		return;
	}
	log_msg(LOGL_WARN, s->ops->proto, "id=%s peer=%s event=%s-failed "
		"user=%s reason=%s", s->id, s->peer, s->ops->login_event, q,
		j->cred.exists ? "bad-password" : "unknown-user");
	login_free(j);
	/* the same answer, after the same delay, either way */
	s->delay = owld_fail_delay(s->d, delay_cb, s);
}
