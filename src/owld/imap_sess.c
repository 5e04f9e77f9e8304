/*
 * imap_sess - glue between net/conn, the imap_server core, auth/users and
 * the store (imap_store.c), built on the session base (sess.h), which
 * accepts, checks the password and stops.
 *
 * The connection runs in byte-stream mode (conn.h): IMAP's literals are
 * not lines, and the core bounds what it keeps itself.  Before login the
 * core runs on the loop thread, fed each piece of input as it comes.  Once
 * logged in its calls may block (imap_store.c reads and writes files), so
 * every feed, resume and poll runs on the worker pool as one job: the
 * connection is paused, the job works on a copy of the input piece and
 * writes into its own output buffer, and when it is done the loop thread
 * drops what the core took from the input (conn_consume), sends the
 * output and acts on what the core asked: OUTPUT resumes on the pool at
 * once, the next step made while this one goes out, if the socket took
 * everything sent before (the client keeps up), else once the client has
 * read down to half of OUT_MAX (conn_await_drain); a FETCH keeps its
 * output buffer from one step to the next.  IDLE watches the selected
 * folder (net/watch.h) and polls on the pool when it changes.  One job at
 * a time per session: a change seen while one runs is polled after it.
 *
 * The core is the job's while it runs; a session that ends meanwhile
 * hands the core and the store over to the job, which frees them when it
 * comes back.  A login takes a count per user and client address
 * (imap.max_sessions_per_user), given back when the session ends.
 *
 * Failures: a client past a limit is told so in IMAP's words and closed;
 * a store that cannot be opened fails the login with NO [UNAVAILABLE].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/buf.h"
#include "../lib/clock.h"
#include "../lib/log.h"
#include "../net/conn.h"
#include "../net/watch.h"
#include "imap_store.h"
#include "owld.h"
#include "sess.h"

#define OUT_MAX (1024 * 1024) /* the connection's unsent output: a FETCH
				       step (IMAP_SESS_OUT_MAX) resumes once
				       it is down to half */
#define OUT_CAP (OUT_MAX + 8 * 1024) /* replies before login */
#define JOB_OUT_CAP (8 << 20)	/* a job's output: the core's bound, plus
				   what one step may add past it */
#define IN_MAX (64 * 1024)	/* input read ahead, unparsed */
#define FEED_MAX (16 * 1024)	/* input copied into one job */
#define FEED_SLICE_US 20000	/* a feed job's time before it gives its
				   worker back after a command: a pipeline
				   of slow commands (SEARCH TEXT over large
				   messages) must not keep logins and
				   deliveries waiting for a worker */
#define TRACE_LINES 16		/* of one piece, in the protocol trace */

struct ijob;

struct imap_sess {
	struct sess base;		/* first: the session base's half */
	struct imap_server *core;
	struct imap_store *ms;		/* the user's mail, once logged in */
	char user[ADDR_PATH_MAX + 1];	/* logged in as, or "" */
	char userip[64];		/* its count in d->imap_userip, or "" */
	struct ijob *job;		/* in flight, or NULL */
	struct buf *spare;		/* the last job's output buffer, kept
					   while a FETCH goes on (its next
					   step writes into it again) */
	bool draining;			/* OUTPUT sent, resumed on drain */
	bool poll_due;			/* a change seen while a job ran */
	struct watch *watch;		/* the idling folder's, or NULL */
	bool hide_next;			/* trace: the next line is secret */
	size_t in, out;			/* octets, for the disconnect line */
};

enum ijob_kind { IJ_OPEN, IJ_FEED, IJ_RESUME, IJ_POLL };

/* A job of a logged-in session (or the open of its store at login). */
struct ijob {
	struct wpool_job job;
	enum ijob_kind kind;
	struct owld *d;
	struct imap_sess *sess;		/* NULL once the session is gone */
	struct imap_server *core;	/* FEED, RESUME, POLL: the session's */
	struct imap_store *ms;		/* OPEN: made here; else NULL, or
					   the gone session's */
	char *data;			/* FEED: a copy of the input piece */
	size_t len, used;
	struct buf *out;
	enum imap_act act;
	uint64_t t0;			/* FEED: when it began to run */
	/* OPEN */
	char user[ADDR_PATH_MAX + 1];
	enum imap_mres res;
	size_t folders;
	double open_ms;
	char err[300];
};

static const struct sess_ops imap_ops;
static void run_act(struct imap_sess *s, enum imap_act act);
static void next(struct imap_sess *s);
static void job_submit(struct imap_sess *s, enum ijob_kind kind,
		       const char *data, size_t len);

static struct imap_sess *
is(struct sess *b)
{
	return (struct imap_sess *)(void *)b;
}

static const struct imap_sess *
cis(const struct sess *b)
{
	return (const struct imap_sess *)(const void *)b;
}

enum listener { L_IMAP, L_IMAPS };

void
imap_sess_accept(int fd, struct sockaddr *sa, socklen_t len, void *arg)
{
	(void)len;
	sess_accept(arg, fd, sa, &imap_ops, L_IMAP);
}

void
imap_sess_accept_tls(int fd, struct sockaddr *sa, socklen_t len, void *arg)
{
	(void)len;
	sess_accept(arg, fd, sa, &imap_ops, L_IMAPS);
}

static int
refuse(const struct owld *d, const char *peer, bool per_addr, char *line,
       size_t size)
{
	(void)peer;
	/* RFC 9051 7.1.5: BYE as the greeting, then close */
	return snprintf(line, size, "* BYE [UNAVAILABLE] %s\r\n",
			d->stopping ? "Server shutting down"
			: per_addr  ? "Too many connections from your address"
				    : "Too many connections, try again later");
}

static void
open_sess(struct sess *b, int fd, const struct sockaddr *sa, int kind,
	  struct sess_setup *set)
{
	struct imap_sess *s = is(b);
	const struct conf *c = b->d->conf;

	(void)sa;
	s->core = imap_server_new(&b->d->imap_conf);
	imap_server_plain_auth(s->core, owld_plain_auth(b->d, fd));
	*set = (struct sess_setup){
		.timeout = c->imap_timeout,
		.in_max = IN_MAX,
		.out_max = OUT_MAX,
		.out_cap = OUT_CAP,
		.out_keep = 4096,
		.command_deadline = c->imap_command_deadline,
		.login_deadline = c->imap_login_deadline,
		.implicit_tls = kind == L_IMAPS,
		.bytes = true,
		.listener = kind == L_IMAPS ? " listener=imaps" : "",
	};
	if (set->implicit_tls)
		imap_server_secure(s->core);
}

static void
greet(struct sess *b)
{
	imap_server_greet(is(b)->core, b->out);
	is(b)->out += b->out->len;
}

/* --- the protocol trace ---------------------------------------------- */

/* True if line's command is LOGIN or AUTHENTICATE ("tag CMD ..."). */
static bool
secret_command(const char *line, size_t len)
{
	const char *sp = memchr(line, ' ', len), *cmd;
	size_t n;

	if (sp == NULL)
		return false;
	cmd = sp + 1;
	n = (size_t)(line + len - cmd);
	return (n >= 5 && strncasecmp(cmd, "LOGIN", 5) == 0) ||
	       (n >= 12 && strncasecmp(cmd, "AUTHENTICATE", 12) == 0);
}

/*
 * Traces input the core took, line by line (at most TRACE_LINES of one
 * piece).  Before login what carries a password is not shown: a LOGIN or
 * AUTHENTICATE line, the literals it announces, the SASL response after
 * it.
 */
static void
trace_in(struct imap_sess *s, const char *data, size_t len)
{
	const char *p = data, *end = data + len;
	bool pre = !imap_server_logged_in(s->core);
	unsigned lines = 0;

	s->in += len;
	if (!log_trace_enabled())
		return;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		bool lit = n >= 2 && (p[n - 2] == '}' ||
				      (n >= 3 && p[n - 3] == '}'));

		if (++lines > TRACE_LINES) {
			char note[64];
			int k = snprintf(note, sizeof(note),
					 "(%zu more octets)",
					 (size_t)(end - p));

			log_trace("imap", s->base.id, 'C', note, (size_t)k);
			return;
		}
		if (pre && (s->hide_next || secret_command(p, n))) {
			log_trace("imap", s->base.id, 'C',
				  "(credentials, not shown)", 24);
			/* its literal, or its SASL response, comes next */
			s->hide_next = lit || secret_command(p, n);
		} else {
			log_trace("imap", s->base.id, 'C', p, n);
		}
		p += n;
	}
}

/* Sends out, traced (at most TRACE_LINES of it: FETCH sends mail). */
static void
send_out(struct imap_sess *s, struct buf *out)
{
	const char *p = out->data, *end = p + out->len;
	unsigned lines = 0;

	if (out->len == 0)
		return;
	s->out += out->len;
	while (log_trace_enabled() && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);

		if (++lines > TRACE_LINES) {
			char note[64];
			int k = snprintf(note, sizeof(note),
					 "(%zu more octets)",
					 (size_t)(end - p));

			log_trace("imap", s->base.id, 'S', note, (size_t)k);
			break;
		}
		log_trace("imap", s->base.id, 'S', p, n);
		p += n;
	}
	conn_write(s->base.conn, out->data, out->len);
	buf_reset(out);
	/* answered: the next command's deadline starts with its input */
	conn_deadline_answered(s->base.conn);
}

/* --- feeding --------------------------------------------------------- */

static bool
feed_bytes(struct sess *b, const char *data, size_t len, size_t *used_r)
{
	struct imap_sess *s = is(b);
	enum imap_act act;
	size_t used = 0;

	if (imap_server_logged_in(s->core)) {
		/* on the pool, from a copy; the input stays until done */
		job_submit(s, IJ_FEED, data, len < FEED_MAX ? len : FEED_MAX);
		*used_r = 0;
		return true;
	}
	act = imap_server_feed(s->core, data, len, &used, b->out);
	trace_in(s, data, used);
	*used_r = used;
	send_out(s, b->out);
	run_act(s, act);
	return b->login != NULL || s->job != NULL;
}

/* Is the core's output in the middle of a response (no BYE may go)? */
static bool
mid_response(const struct imap_sess *s)
{
	return s->job != NULL || s->draining;
}

static void
timeout(struct sess *b)
{
	if (!mid_response(is(b)))
		imap_server_timeout(is(b)->core, b->out);
}

/* Too slow: a command, or no login within imap.login_deadline. */
static void
deadline(struct sess *b)
{
	if (!mid_response(is(b)))
		imap_server_deadline(is(b)->core, b->out);
}

static void
shutdown_reply(struct sess *b)
{
	imap_server_shutdown(is(b)->core, b->out);
}

static bool
busy(const struct sess *b)
{
	return mid_response(cis(b));
}

static void
words(const struct sess *b, char *out, size_t size)
{
	snprintf(out, size, " in=%zu out=%zu", cis(b)->in, cis(b)->out);
}

static void
stop_watch(struct imap_sess *s)
{
	if (s->watch == NULL)
		return;
	watch_del(&s->watch);
	/* commands have their deadline again */
	conn_deadline(s->base.conn, s->base.d->conf->imap_command_deadline,
		      0, "command-deadline");
}

static void
close_sess(struct sess *b)
{
	struct imap_sess *s = is(b);

	watch_del(&s->watch);
	if (s->userip[0] != '\0')
		anvil_disconnect(b->d->imap_userip, s->userip);
	if (s->job != NULL) {
		/* the job finishes alone and frees what it uses */
		s->job->sess = NULL;
		if (s->job->core != NULL) {
			s->job->ms = s->ms;
			s->core = NULL;
			s->ms = NULL;
		}
	}
	imap_server_free(&s->core);
	imap_store_free(&s->ms);
	buf_free(&s->spare);
}

/* --- login ----------------------------------------------------------- */

static void
start_login(struct imap_sess *s)
{
	const struct imap_req *req = imap_server_req(s->core);

	sess_login_start(&s->base, req->user, req->pass);
}

/* A hash of user with the daemon's seed, and the peer: the key of the
 * count per user and client address (fits the table's 63 octets). */
static void
userip_key(const struct owld *d, const char *user, const char *peer,
	   char *out, size_t size)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ d->imap_userip_seed;

	for (const unsigned char *p = (const void *)user; *p != '\0'; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	snprintf(out, size, "%016llx %.45s", (unsigned long long)h, peer);
}

/* A login that cannot go on: NO [LIMIT] or [CANNOT], logged. */
static void
refuse_login(struct imap_sess *s, const char *user, const char *why,
	     enum imap_login_result r)
{
	char qb[600];

	log_msg(LOGL_WARN, "imap", "id=%s peer=%s event=login-refused "
		"user=%s reason=%s", s->base.id, s->base.peer,
		log_q(qb, sizeof(qb), user), why);
	run_act(s, imap_server_login_done(s->core, r, s->base.out));
	send_out(s, s->base.out);
	sess_answered(&s->base);
}

static void
login_done(struct sess *b, enum sess_login_res r, const char *user)
{
	struct imap_sess *s = is(b);
	struct owld *d = b->d;
	char key[64];
	unsigned count;

	s->hide_next = false;
	if (r != SESS_LOGIN_OK) {
		run_act(s, imap_server_login_done(s->core,
						  r == SESS_LOGIN_TEMP
							  ? IMAP_LOGIN_TEMP
							  : IMAP_LOGIN_BAD,
						  b->out));
		send_out(s, b->out);
		sess_answered(b);
		return;
	}
	if (d->conf->mailbox_format != MBOX_FMT_MAILDIR) {
		refuse_login(s, user, "mbox", IMAP_LOGIN_CANNOT);
		return;
	}
	userip_key(d, user, b->peer, key, sizeof(key));
	if (anvil_connect(d->imap_userip, key, mono_ms() / 1000, &count) !=
	    ANVIL_OK) {
		refuse_login(s, user, "max-sessions-per-user",
			     IMAP_LOGIN_LIMIT);
		return;
	}
	memcpy(s->userip, key, sizeof(key));
	snprintf(s->user, sizeof(s->user), "%s", user);
	job_submit(s, IJ_OPEN, NULL, 0);
}

/* Worker: the user's store, and the first list (special-use folders). */
static void
open_run(struct ijob *j)
{
	struct imap_folder *list;
	uint64_t t0 = mono_us();
	const struct conf *c = j->d->conf;

	j->ms = imap_store_new(j->d->store, j->user, c->mailbox_max_folders,
			       c->data_dir, c->imap_append_max);
	j->res = imap_store_ops.list(j->ms, &list, &j->folders, j->err,
				     sizeof(j->err));
	if (j->res == IMAP_M_OK)
		imap_store_ops.list_free(j->ms, list, j->folders);
	j->open_ms = (double)(mono_us() - t0) / 1e3;
}

/* The store is open (or not): the login is answered. */
static void
open_done(struct imap_sess *s, struct ijob *j)
{
	char qb[600];
	const char *q = log_q(qb, sizeof(qb), j->user);
	enum imap_login_result r = IMAP_LOGIN_OK;

	if (j->res != IMAP_M_OK) {
		log_msg(LOGL_ERROR, "imap", "id=%s event=mailbox-error user=%s "
			"error=\"%s\"", s->base.id, q, j->err);
		anvil_disconnect(s->base.d->imap_userip, s->userip);
		s->userip[0] = '\0';
		s->user[0] = '\0';
		r = IMAP_LOGIN_TEMP;
	} else {
		sess_free_per_ip(&s->base);
		s->ms = j->ms;
		j->ms = NULL;
		imap_server_set_mbox(s->core, &imap_store_ops, s->ms);
		conn_session_deadline(s->base.conn, 0, NULL);
		log_msg(LOGL_INFO, "imap", "id=%s peer=%s event=login user=%s "
			"folders=%zu open_ms=%.1f", s->base.id, s->base.peer,
			q, j->folders, j->open_ms);
	}
	run_act(s, imap_server_login_done(s->core, r, s->base.out));
	send_out(s, s->base.out);
	sess_answered(&s->base);
}

/* --- jobs on the pool -------------------------------------------------- */

static void job_run(struct wpool_job **jobs, size_t n);
static void job_done(struct wpool_job *job);

/* A job of kind for s (FEED: a copy of data), submitted; s paused. */
static void
job_submit(struct imap_sess *s, enum ijob_kind kind, const char *data,
	   size_t len)
{
	struct ijob *j = xcalloc(1, sizeof(*j));

	j->kind = kind;
	j->d = s->base.d;
	j->sess = s;
	j->job.run = job_run;
	j->job.done = job_done;
	j->job.solo = true;
	if (kind == IJ_OPEN) {
		snprintf(j->user, sizeof(j->user), "%s", s->user);
	} else {
		j->core = s->core;
		j->out = s->spare != NULL ? s->spare : buf_new(JOB_OUT_CAP);
		s->spare = NULL;
	}
	if (len > 0) {
		j->data = xmalloc(len);
		memcpy(j->data, data, len);
		j->len = len;
	}
	s->job = j;
	conn_pause(s->base.conn);
	wpool_submit(s->base.d->pool, &j->job);
}

/* Worker thread, the core's yield hook: has the feed had its slice? The
 * rest of its input comes back as a new job, behind the others. */
static bool
feed_slice_over(void *arg)
{
	const struct ijob *j = arg;

	return mono_us() - j->t0 >= FEED_SLICE_US;
}

/* Worker thread: the core's step, or the open. */
static void
job_run(struct wpool_job **jobs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct ijob *j = (struct ijob *)(void *)jobs[i];

		switch (j->kind) {
		case IJ_OPEN:
			open_run(j);
			break;
		case IJ_FEED:
			j->t0 = mono_us();
			imap_server_set_yield(j->core, feed_slice_over, j);
			j->act = imap_server_feed(j->core, j->data, j->len,
						  &j->used, j->out);
			imap_server_set_yield(j->core, NULL, NULL);
			break;
		case IJ_RESUME:
			j->act = imap_server_resume(j->core, j->out);
			break;
		case IJ_POLL:
			j->act = imap_server_poll(j->core, j->out);
			break;
		}
	}
}

static void
job_free(struct ijob *j)
{
	if (j->sess == NULL) {
		/* the session is gone: what it handed over goes too */
		imap_server_free(&j->core);
	}
	imap_store_free(&j->ms);
	buf_free(&j->out);
	free(j->data);
	free(j);
}

/*
 * Has the socket taken everything sent so far (the client reads as fast
 * as the FETCH is made)?  Then the FETCH's next step may run while this
 * one is sent: unsent output stays within two steps, as with a resume at
 * half of OUT_MAX.
 */
static bool
keeping_up(const struct imap_sess *s)
{
	return !conn_closing(s->base.conn) &&
	       conn_out_queued(s->base.conn) == 0;
}

static void
job_done(struct wpool_job *job)
{
	struct ijob *j = (struct ijob *)(void *)job;
	struct imap_sess *s = j->sess;
	struct owld *d = j->d;

	if (s == NULL) {
		job_free(j);
		owld_check_stopped(d);
		return;
	}
	s->job = NULL;
	if (j->kind == IJ_OPEN) {
		open_done(s, j);
		job_free(j);
		return;
	}
	if (j->kind == IJ_FEED) {
		trace_in(s, j->data, j->used);
		conn_consume(s->base.conn, j->used);
	}
	j->core = NULL; /* still the session's */
	if (j->act == IMAP_ACT_OUTPUT && keeping_up(s)) {
		/* the next step is made while this one goes out */
		job_submit(s, IJ_RESUME, NULL, 0);
		send_out(s, j->out);
	} else {
		send_out(s, j->out);
	}
	if (j->act != IMAP_ACT_OUTPUT) {
		buf_free(&s->spare);	/* an idle session keeps none */
	} else if (s->spare == NULL) {
		s->spare = j->out;	/* the next step writes into it */
		j->out = NULL;
	}
	if (s->job == NULL) {	/* else the next step is on its way */
		if (j->act == IMAP_ACT_NONE)
			next(s);
		else
			run_act(s, j->act);
	}
	job_free(j);
}

/* --- actions ----------------------------------------------------------- */

static void
drained(struct sess *b)
{
	struct imap_sess *s = is(b);

	if (!s->draining)
		return;
	s->draining = false;
	job_submit(s, IJ_RESUME, NULL, 0);
}

/* The idling folder may have changed (net/watch.h callback). */
static void
on_change(void *arg)
{
	struct imap_sess *s = arg;

	if (s->watch == NULL || conn_closing(s->base.conn))
		return;
	if (mid_response(s) || s->base.stop_after)
		s->poll_due = true;
	else
		job_submit(s, IJ_POLL, NULL, 0);
}

/* IDLE: the selected folder is watched until DONE. */
static void
start_idle(struct imap_sess *s)
{
	const char *dir = imap_store_dir(s->ms);

	if (dir != NULL && s->watch == NULL)
		s->watch = watch_add(s->base.d->watch, dir, on_change, s);
	/* no command deadline while idling: the idle timeout holds */
	conn_deadline(s->base.conn, 0, 0, NULL);
	/* a change between the core's last sync and the watch */
	job_submit(s, IJ_POLL, NULL, 0);
}

/* No action: the next input, or a poll that waited for the job. */
static void
next(struct imap_sess *s)
{
	if (s->watch != NULL && !imap_server_idling(s->core)) {
		s->poll_due = false;
		stop_watch(s);
	}
	if (s->poll_due && s->watch != NULL && !s->base.stop_after) {
		s->poll_due = false;
		job_submit(s, IJ_POLL, NULL, 0);
		return;
	}
	sess_answered(&s->base);
}

static void
run_act(struct imap_sess *s, enum imap_act act)
{
	switch (act) {
	case IMAP_ACT_NONE:
		break; /* the caller goes on (next(), sess_answered()) */
	case IMAP_ACT_LOGIN:
		start_login(s);
		break;
	case IMAP_ACT_STARTTLS:
		send_out(s, s->base.out); /* the OK goes out in the clear */
		imap_server_secure(s->core);
		owld_tls_start(s->base.d, s->base.conn);
		break;
	case IMAP_ACT_OUTPUT:
		s->draining = true;
		conn_await_drain(s->base.conn);
		break;
	case IMAP_ACT_IDLE:
		start_idle(s);
		break;
	case IMAP_ACT_COMPRESS:	/* the OK went out as it is */
		if (conn_compress(s->base.conn) == -1) {
			log_msg(LOGL_ERROR, "imap", "id=%s event=compress-failed",
				s->base.id);
			conn_close(s->base.conn, "compress-failed");
			break;
		}
		next(s);	/* the rest of the input, inflated */
		break;
	case IMAP_ACT_CLOSE:
		send_out(s, s->base.out);
		conn_close(s->base.conn, imap_server_close_reason(s->core));
		break;
	}
}

static const struct sess_ops imap_ops = {
	.proto = "imap",
	.pool = SESS_POOL_IMAP,
	.login_event = "login",
	.size = sizeof(struct imap_sess),
	.refuse = refuse,
	.open = open_sess,
	.greet = greet,
	.feed_bytes = feed_bytes,
	.timeout = timeout,
	.deadline = deadline,
	.drained = drained,
	.shutdown = shutdown_reply,
	.busy = busy,
	.login_done = login_done,
	.words = words,
	.close = close_sess,
};
