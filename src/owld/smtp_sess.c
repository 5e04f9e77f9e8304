/*
 * smtp_sess - glue between net/conn, the smtp_server core, auth/users and
 * store/, built on the session base (sess.h), which accepts, checks AUTH's
 * password and stops.  It runs every action the core returns: recipient
 * checks inline (an in-memory table), message commits on the worker pool.
 * At the end of DATA a message goes to the milters (smtp_milter.c, on the
 * loop), then to the inbound checks (check.h, on their own threads) when
 * its client is not trusted, then to the commit.  A commit job
 * holds everything it needs (message or its spool file, recipients); a
 * message past SPOOL_AT is written to the spool as it arrives, so memory
 * stays bounded whatever smtp.max_size is.  If its session is gone
 * when it completes, only the job is freed: the message is on disk, and
 * the client, which got no 250, may send it again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <strings.h>

#include "../lib/buf.h"
#include "../lib/cidr.h"
#include "../lib/clock.h"
#include "../lib/log.h"
#include "../net/conn.h"
#include "../net/watch.h"
#include "../relay/relay.h"
#include "../relay/signer.h"
#include "../store/fsops.h"
#include "../store/queue.h"
#include "check.h"
#include "milters.h"
#include "owld.h"
#include "sess.h"
#include "smtp_milter.h"
#include "smtp_types.h"

#define OUT_MAX (64 * 1024)	/* replies of one pipelined group */
/*
 * A message stays in memory up to this size (nearly all mail does); past it
 * what has arrived goes to a spool file in pieces of this size, so a big
 * message costs a session this much memory, not its size.
 */
#define SPOOL_AT (256 * 1024)

struct commit {
	struct wpool_job job;
	struct owld *d;
	struct smtp_sess *sess;	/* NULL once the session is gone */
	char msgid[17];
	char sender[ADDR_PATH_MAX + 1];
	char **users;
	struct store_delivery del;
	struct buf *msg;
	/* remote recipients go to the queue */
	struct qenv env;
	bool queued;
	bool sign;		/* an authenticated user's: DKIM-sign it */
	bool junk;		/* quarantined: to the users' Junk folders */
	char qerr[300];
};

static const struct sess_ops smtp_ops;
static void run_act(struct smtp_sess *s, enum smtp_act act);
static void spool_close(struct smtp_sess *s);
static const char *local_name(struct smtp_sess *s, const struct addr *a,
			      char *out, size_t size, enum smtp_result *why);
static void data_checked(struct smtp_sess *s);
static const struct smtp_glue glue = {
	.act = run_act,
	.local_name = local_name,
	.spool_close = spool_close,
	.data_checked = data_checked,
};

static struct smtp_sess *
ss(struct sess *b)
{
	return (struct smtp_sess *)(void *)b;
}

static const struct smtp_sess *
css(const struct sess *b)
{
	return (const struct smtp_sess *)(const void *)b;
}

enum listener { L_INBOUND, L_SUBMISSION, L_SUBMISSIONS };
static const char *const LISTENER_WORD[] = {
	"", " listener=submission", " listener=submissions",
};

void
smtp_sess_accept(int fd, struct sockaddr *sa, socklen_t len, void *arg)
{
	(void)len;
	sess_accept(arg, fd, sa, &smtp_ops, L_INBOUND);
}

void
smtp_sess_accept_submission(int fd, struct sockaddr *sa, socklen_t len,
			    void *arg)
{
	(void)len;
	sess_accept(arg, fd, sa, &smtp_ops, L_SUBMISSION);
}

void
smtp_sess_accept_submissions(int fd, struct sockaddr *sa, socklen_t len,
			     void *arg)
{
	(void)len;
	sess_accept(arg, fd, sa, &smtp_ops, L_SUBMISSIONS);
}

static int
refuse(const struct owld *d, const char *peer, bool per_addr, char *line,
       size_t size)
{
	return snprintf(line, size, "421 4.7.0 %s Error: too many connections"
			"%s%s, try again later\r\n", d->conf->hostname,
			per_addr ? " from " : "", per_addr ? peer : "");
}

static void
open_sess(struct sess *b, int fd, const struct sockaddr *sa, int kind,
	  struct sess_setup *set)
{
	struct smtp_sess *s = ss(b);
	const struct conf *c = b->d->conf;

	s->submission = kind != L_INBOUND;
	s->relay_net = cidr_match(c->relay_networks, sa);
	s->core = smtp_server_new(s->submission ? &b->d->sub_conf
						: &b->d->smtp_conf);
	smtp_server_plain_auth(s->core, owld_plain_auth(b->d, fd));
	s->spool.fd = -1;
	s->glue = &glue;
	s->milters = milters_open(b->d, b->id, b->peer, sa, smtp_milter_done,
				  s);
	*set = (struct sess_setup){
		.timeout = c->smtp_timeout,
		.in_max = 2 * c->smtp_max_line,
		.out_max = OUT_MAX,
		.out_cap = OUT_MAX,
		.command_deadline = c->smtp_command_deadline,
		.login_deadline = s->submission
					  ? c->submission_login_deadline
					  : 0,
		.implicit_tls = kind == L_SUBMISSIONS,
		.listener = LISTENER_WORD[kind],
	};
	if (set->implicit_tls)
		smtp_server_secure(s->core);
}

static void
greet(struct sess *b)
{
	smtp_server_greet(ss(b)->core, b->out);
}

static bool
feed(struct sess *b, const char *line, size_t len)
{
	struct smtp_sess *s = ss(b);

	run_act(s, smtp_server_feed(s->core, line, len, b->out));
	return smtp_server_pending(s->core);
}

static const char *
trace_in(const struct sess *b, const char *line, size_t len, size_t *len_r)
{
	return smtp_server_trace_in(css(b)->core, line, len, len_r);
}

static void
toolong(struct sess *b)
{
	run_act(ss(b), smtp_server_toolong(ss(b)->core, b->out));
}

static void
toolong_end(struct sess *b, bool crlf)
{
	smtp_server_toolong_end(ss(b)->core, crlf);
}

static size_t
max_line(const struct sess *b)
{
	return smtp_server_max_line(css(b)->core);
}

static size_t
max_drop(const struct sess *b)
{
	return smtp_server_max_drop(css(b)->core);
}

static void
endless(struct sess *b)
{
	smtp_server_endless(ss(b)->core, b->out);
}

/* The idle timeout, a DATA phase below its rate, or no AUTH in time. */
static void
timeout(struct sess *b)
{
	smtp_server_timeout(ss(b)->core, b->out);
}

static void
shutdown_reply(struct sess *b)
{
	smtp_server_shutdown(ss(b)->core, b->out);
}

static bool
busy(const struct sess *b)
{
	return css(b)->commit != NULL || css(b)->check != NULL ||
	       milters_busy(css(b)->milters);
}

/* Back to a deadline per command line (after DATA). */
static void
command_deadline(struct smtp_sess *s)
{
	conn_deadline(s->base.conn, s->base.d->conf->smtp_command_deadline,
		      0, "command-deadline");
}

static void
words(const struct sess *b, char *out, size_t size)
{
	const struct smtp_sess *s = css(b);

	snprintf(out, size, " mails=%u rcpts=%u%s%s", s->mails, s->rcpts,
		 s->user[0] ? " user=" : "", s->user);
}

static void
close_sess(struct sess *b)
{
	struct smtp_sess *s = ss(b);

	if (s->commit != NULL)
		s->commit->sess = NULL; /* the job frees itself */
	if (s->check != NULL)
		check_forget(s->check);
	smtp_server_free(&s->core);
	buf_free(&s->msg);
	spool_close(s);
	aliases_exp_free(&s->remote);
	milters_close(&s->milters);
}

/*
 * The canonical user name (user@domain, lower case, safe as a path) of an
 * address in a local domain, or NULL with why.  No lookup, no I/O.
 */
static const char *
local_name(struct smtp_sess *s, const struct addr *a, char *out, size_t size,
	   enum smtp_result *why)
{
	const struct conf *c = s->base.d->conf;
	char dom[ADDR_DOMAIN_MAX + 1];
	char name[ADDR_LOCAL_MAX + ADDR_DOMAIN_MAX + 2];

	if (a->domain[0] == '\0')
		conf_first_domain(c, dom, sizeof(dom));
	else
		snprintf(dom, sizeof(dom), "%s", a->domain);
	if (a->literal || !conf_is_local_domain(c, dom)) {
		*why = SMTP_R_RELAY_DENIED;
		return NULL;
	}
	*why = SMTP_R_NOUSER;
	if (bsnprintf(name, sizeof(name), "%s@%s", a->local, dom) == -1 ||
	    users_normalize(name, out, size) == -1)
		return NULL;
	return out;
}

/* The canonical name of an existing local user, or NULL with why. */
static const char *
local_user(struct smtp_sess *s, const struct addr *a, char *out, size_t size,
	   enum smtp_result *why)
{
	const char *err;

	if (local_name(s, a, out, size, why) == NULL)
		return NULL;
	if (users_refresh(s->base.d->users, &err) == -1) {
		*why = SMTP_R_TEMP; /* logged by users_refresh */
		return NULL;
	}
	if (users_lookup(s->base.d->users, out) == NULL)
		return NULL;
	*why = SMTP_R_OK;
	return out;
}

/* Non-local recipients: after AUTH, or from relay.networks inbound. */
static bool
may_relay(const struct smtp_sess *s)
{
	return s->user[0] != '\0' || (!s->submission && s->relay_net);
}

/* Submission: may the authenticated user send as this sender? */
static enum smtp_result
check_sender(struct smtp_sess *s, const struct addr *a)
{
	enum conf_senders policy = s->base.d->conf->submission_senders;
	char txt[ADDR_PATH_MAX + 1], q[600];

	if (!s->submission || policy == CONF_SENDERS_ANY)
		return SMTP_R_OK;
	if (addr_format(a, txt, sizeof(txt)) < 0)
		txt[0] = '\0';
	if (txt[0] != '\0' && !a->literal && a->domain[0] != '\0' &&
	    (policy == CONF_SENDERS_LOCAL
		     ? conf_is_local_domain(s->base.d->conf, a->domain)
		     : strcasecmp(txt, s->user) == 0))
		return SMTP_R_OK;
	log_msg(LOGL_WARN, "smtp", "id=%s peer=%s event=sender-rejected "
		"user=%s from=%s policy=%s", s->base.id, s->base.peer, s->user,
		log_q(q, sizeof(q), txt),
		conf_choice_name("submission.senders", policy));
	return SMTP_R_PERM;
}

/*
 * Outside recipients of one message: its envelope must fit the queue's
 * QUEUE_ENV_MAX with a full reply kept for each.  Only aliases can get
 * near it (aliases.max_expansion per recipient); RCPT refuses the
 * recipient that would go past it (452 4.5.3: the client sends it in
 * another transaction), so the check at commit never fails for it.
 */
#define QUEUE_RCPTS_MAX \
	(QUEUE_ENV_MAX / (ADDR_PATH_MAX + QUEUE_TEXT_MAX + 64))

/*
 * Adds a recipient's outside addresses to the transaction's; false (and
 * nothing added) if they would no longer fit one queue entry.
 */
static bool
remote_fits(struct smtp_sess *s, const struct aliases_exp *x)
{
	size_t before = s->remote.nremote;

	for (size_t i = 0; i < x->nremote; i++)
		aliases_exp_add_remote(&s->remote, x->remote[i]);
	if (s->remote.nremote <= QUEUE_RCPTS_MAX)
		return true;
	while (s->remote.nremote > before)
		free(s->remote.remote[--s->remote.nremote]);
	return false;
}

static enum smtp_result
check_rcpt(struct smtp_sess *s, const struct addr *a)
{
	char name[ADDR_PATH_MAX + 1], txt[ADDR_PATH_MAX + 1], q[600];
	struct aliases_exp x = {0};
	enum smtp_result why;

	if (local_name(s, a, name, sizeof(name), &why) != NULL) {
		/* a user, an alias, or postmaster (RFC 5321 4.5.1) */
		why = owld_rcpt_route(s->base.d, name, true, &x, s->base.id);
		if (why == SMTP_R_OK && !remote_fits(s, &x))
			why = SMTP_R_TOOMANY;
		aliases_exp_free(&x);
		if (why == SMTP_R_OK)
			return SMTP_R_OK;
	}
	if (why == SMTP_R_RELAY_DENIED && may_relay(s)) {
		if (addr_format(a, txt, sizeof(txt)) >= 0)
			aliases_exp_add_remote(&x, txt);
		why = remote_fits(s, &x) ? SMTP_R_OK : SMTP_R_TOOMANY;
		aliases_exp_free(&x);
		if (why == SMTP_R_OK)
			return SMTP_R_OK;
	}
	if (addr_format(a, txt, sizeof(txt)) < 0)
		txt[0] = '\0';
	log_msg(LOGL_INFO, "smtp", "id=%s peer=%s event=rcpt-rejected to=%s "
		"reason=%s", s->base.id, s->base.peer, log_q(q, sizeof(q), txt),
		why == SMTP_R_RELAY_DENIED ? "relay-denied"
		: why == SMTP_R_TOOMANY	   ? "too-many-outside-addresses"
		: why == SMTP_R_TEMP	   ? "temporary"
					   : "unknown-user");
	return why;
}

static enum smtp_result
check_vrfy(struct smtp_sess *s, const struct addr *a)
{
	char name[ADDR_PATH_MAX + 1];
	struct addr b = *a;
	enum smtp_result why;

	if (a->domain[0] != '\0')
		return local_user(s, a, name, sizeof(name), &why) ? SMTP_R_OK
								   : why;
	/* a bare name: is it a user in any local domain? */
	for (size_t i = 0; conf_domain(s->base.d->conf, i, b.domain,
				       sizeof(b.domain)); i++)
		if (local_user(s, &b, name, sizeof(name), &why) != NULL)
			return SMTP_R_OK;
	return SMTP_R_NOUSER;
}

static void commit_run(struct wpool_job **jobs, size_t n);
static void commit_done(struct wpool_job *job);


/*
 * Starts the message buffer with the trace headers (RFC 5321 4.4), dated
 * when DATA began, so the body is appended in place and never copied.
 */
static void
begin_message(struct smtp_sess *s)
{
	char date[64], rcpt[ADDR_PATH_MAX + 1], sender[ADDR_PATH_MAX + 1];
	time_t now = time(NULL);
	struct smtp_txn t;
	struct buf *b;
	struct tm tm;

	smtp_server_txn(s->core, &t);
	snprintf(s->msgid, sizeof(s->msgid), "%016llx",
		 (unsigned long long)owld_new_id());
	if (addr_format(&t.sender, sender, sizeof(sender)) < 0)
		sender[0] = '\0';
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	buf_free(&s->msg);
	spool_close(s);
	/* LF storage is never longer than the CRLF size the core caps */
	b = s->msg = buf_new(s->base.d->conf->smtp_max_size + TRACE_MAX);
	buf_printf(b, "Return-Path: <%s>\n", sender);
	/* RFC 3848: ESMTPS under TLS, ESMTPA after AUTH */
	buf_printf(b, "Received: from %s ([%s])\n\tby %s (owlpost) with %s%s%s "
		   "id %s", t.helo, s->base.peer, s->base.d->conf->hostname,
		   t.esmtp ? "ESMTP" : "SMTP", t.tls ? "S" : "",
		   t.user != NULL ? "A" : "", s->msgid);
	if (conn_tls_version(s->base.conn) != NULL)
		buf_printf(b, "\n\t(using %s with cipher %s)",
			   conn_tls_version(s->base.conn),
			   conn_tls_cipher(s->base.conn));
	if (t.nrcpts == 1 && addr_format(&t.rcpts[0], rcpt,
					 sizeof(rcpt)) >= 0)
		buf_printf(b, "\n\tfor <%s>", rcpt);
	buf_printf(b, ";\n\t%s\n", date);
}

static bool
has_8bit(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			return true;
	return false;
}

static void
spool_close(struct smtp_sess *s)
{
	if (s->spool.fd != -1)
		close(s->spool.fd);
	memset(&s->spool, 0, sizeof(s->spool));
	s->spool.fd = -1;
}

/* Moves what msg holds to the spool, made on first use. */
static void
spool_write(struct smtp_sess *s)
{
	struct spool *sp = &s->spool;
	struct buf *b = s->msg;

	if (sp->err == 0 && sp->fd == -1 &&
	    (sp->fd = queue_spool_open(s->base.d->qdir)) == -1)
		sp->err = errno;
	if (sp->err == 0 && fsops_write_all(sp->fd, b->data, b->len) == -1)
		sp->err = errno;
	if (sp->err == 0) {
		sp->len += b->len;
		sp->crlf_len += store_crlf_size(b->data, b->len);
		sp->eightbit = sp->eightbit || has_8bit(b->data, b->len);
	}
	buf_reset(b);
}

/*
 * A spooled message at its end: the tail goes to the file too.  False if
 * the spool failed on the way; the message is then answered 451/452 here,
 * with nothing stored.
 */
static bool
spool_finish(struct smtp_sess *s)
{
	int err;

	if (s->spool.fd == -1 && s->spool.err == 0)
		return true; /* all in memory */
	spool_write(s);
	if (s->spool.err == 0)
		return true;
	err = s->spool.err;
	log_msg(LOGL_ERROR, "smtp", "id=%s event=delivery-failed msgid=%s "
		"error=\"spool in %s/tmp: %s\"", s->base.id, s->msgid,
		s->base.d->qdir, strerror(err));
	spool_close(s);
	buf_free(&s->msg);
	run_act(s, smtp_server_done(s->core, err == ENOSPC || err == EDQUOT
						     ? SMTP_R_NOSPACE
						     : SMTP_R_TEMP,
				    s->msgid, s->base.out));
	return false;
}

/* Did an earlier recipient of t have this local name? */
static bool
routed_before(struct smtp_sess *s, const struct smtp_txn *t, size_t i,
	      const char *name)
{
	char other[ADDR_PATH_MAX + 1];
	enum smtp_result why;

	for (size_t j = 0; j < i; j++)
		if (local_name(s, &t->rcpts[j], other, sizeof(other), &why) &&
		    strcmp(other, name) == 0)
			return true;
	return false;
}

/*
 * The transaction's recipients as distinct mailboxes and outside addresses
 * (aliases expanded, each once whatever the spelling).  Each was routed
 * when RCPT accepted it; this routes again from memory, with no file stat.
 * False if one no longer routes (the files changed meanwhile) or there
 * are too many outside addresses for one queue entry.
 */
static bool
route_rcpts(struct smtp_sess *s, const struct smtp_txn *t,
	    struct aliases_exp *x)
{
	for (size_t i = 0; i < t->nrcpts; i++) {
		char name[ADDR_PATH_MAX + 1];
		enum smtp_result why;

		if (local_name(s, &t->rcpts[i], name, sizeof(name), &why) ==
		    NULL) {
			/* RCPT let it through: a relayed recipient */
			if (addr_format(&t->rcpts[i], name, sizeof(name)) >= 0)
				aliases_exp_add_remote(x, name);
			continue;
		}
		if (!routed_before(s, t, i, name) &&
		    owld_rcpt_route(s->base.d, name, false, x, s->base.id) !=
			    SMTP_R_OK)
			return false;
	}
	return x->nremote <= QUEUE_RCPTS_MAX;
}

static void
start_commit(struct smtp_sess *s)
{
	struct aliases_exp x = {0};
	struct smtp_txn t;
	struct commit *c;
	size_t i, n;

	smtp_server_txn(s->core, &t);
	if (!route_rcpts(s, &t, &x)) {
		log_msg(LOGL_ERROR, "smtp", "id=%s event=delivery-failed "
			"msgid=%s error=\"a recipient no longer routes (users "
			"or aliases file changed), or over %zu outside "
			"addresses\"", s->base.id, s->msgid,
			(size_t)QUEUE_RCPTS_MAX);
		aliases_exp_free(&x);
		spool_close(s);
		buf_free(&s->msg);
		run_act(s, smtp_server_done(s->core, SMTP_R_TEMP, s->msgid,
					    s->base.out));
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->d = s->base.d;
	c->sess = s;
	c->job.run = commit_run;
	c->job.done = commit_done;
	memcpy(c->msgid, s->msgid, sizeof(c->msgid));
	if (addr_format(&t.sender, c->sender, sizeof(c->sender)) < 0)
		c->sender[0] = '\0';
	/* the users' names move to the job; the addresses are copied */
	c->users = x.local;
	n = x.nlocal;
	x.local = NULL;
	x.nlocal = 0;
	c->env.rcpts = xcalloc(x.nremote + 1, sizeof(*c->env.rcpts));
	for (i = 0; i < x.nremote; i++) {
		struct qrcpt *r = &c->env.rcpts[c->env.nrcpts];

		if (bsnprintf(r->addr, sizeof(r->addr), "%s", x.remote[i]) ==
		    -1)
			continue;
		r->state = QR_PENDING;
		c->env.nrcpts++;
	}
	aliases_exp_free(&x);
	if (c->env.nrcpts > 0) {
		snprintf(c->env.id, sizeof(c->env.id), "%s", c->msgid);
		c->env.created = c->env.next = time(NULL);
		snprintf(c->env.sender, sizeof(c->env.sender), "%s",
			 c->sender);
	}
	/* the job owns the message (or its spool) from here */
	if (s->spool.fd != -1) {
		c->del.fd = s->spool.fd;
		c->del.len = s->spool.len;
		c->del.crlf_len = s->spool.crlf_len;
		c->env.eightbit = s->spool.eightbit;
		s->spool.fd = -1;
		spool_close(s);
		buf_free(&s->msg);
	} else {
		c->msg = s->msg;
		s->msg = NULL;
		c->del.fd = -1;
		c->del.data = c->msg->data;
		c->del.len = c->msg->len;
	}
	c->sign = s->user[0] != '\0' && c->env.nrcpts > 0;
	c->junk = s->quarantine;
	c->del.sender = c->sender;
	c->del.users = (const char *const *)c->users;
	c->del.nusers = n;
	c->del.when = time(NULL);
	s->commit = c;
	s->mails++;
	s->rcpts += (unsigned)(n + c->env.nrcpts);
	conn_pause(s->base.conn);
	wpool_submit(s->base.d->pool, &c->job);
}

/*
 * Mail from the MX port gets the inbound checks (check.h) unless the
 * client is trusted: authenticated, or in relay.networks.
 */
static bool
wants_checks(const struct smtp_sess *s)
{
	return s->base.d->check != NULL && !s->submission &&
	       s->user[0] == '\0' && !s->relay_net;
}

/* The checks are done: the verdict's reply, or the commit. */
static void
checks_done(struct check *k, void *arg)
{
	const struct inbound_verdict *v = check_verdict(k);
	struct smtp_sess *s = arg;
	struct check_msg m;
	char q[400];

	s->check = NULL;
	log_msg(LOGL_INFO, "check", "id=%s msgid=%s %s action=%s%s%s",
		s->base.id, s->msgid, v->log,
		v->action == INBOUND_ACCEPT	    ? "accept"
		: v->action == INBOUND_QUARANTINE ? "quarantine"
		: v->action == INBOUND_REJECT	    ? "reject"
						    : "tempfail",
		v->reply[0] != '\0' ? " reply=" : "",
		v->reply[0] != '\0' ? log_q(q, sizeof(q), v->reply) : "");
	if (v->action == INBOUND_REJECT || v->action == INBOUND_TEMPFAIL) {
		enum smtp_act act = smtp_server_done_reply(s->core, v->reply,
							   s->base.out);

		check_free(&k); /* v is k's: used above, not after */
		buf_free(&s->msg);
		run_act(s, act);
		sess_answered(&s->base);
		return;
	}
	s->quarantine |= v->action == INBOUND_QUARANTINE;
	check_take_msg(k, &m);
	check_free(&k);
	if (m.fd != -1) {
		s->spool.fd = m.fd;
		s->spool.len = m.len;
		s->spool.crlf_len = m.crlf_len;
		s->spool.eightbit = m.eightbit;
	} else {
		buf_free(&s->msg);
		s->msg = m.msg;
	}
	start_commit(s);
}

/* Hands the message, spool and all, to the checks. */
static void
start_checks(struct smtp_sess *s)
{
	char sender[ADDR_PATH_MAX + 1];
	struct check_msg m = {.fd = -1};
	struct check_who w;
	struct smtp_txn t;

	smtp_server_txn(s->core, &t);
	if (addr_format(&t.sender, sender, sizeof(sender)) < 0)
		sender[0] = '\0';
	w = (struct check_who){.peer = s->base.peer, .helo = t.helo,
			       .mailfrom = sender, .msgid = s->msgid};
	if (s->spool.fd != -1) {
		m.fd = s->spool.fd;
		m.len = s->spool.len;
		m.crlf_len = s->spool.crlf_len;
		m.eightbit = s->spool.eightbit;
		s->spool.fd = -1;
		spool_close(s);
	} else {
		m.msg = s->msg;
		s->msg = NULL;
	}
	s->check = check_start(s->base.d->check, &w, &m, checks_done, s);
	conn_pause(s->base.conn);
}

/* Puts field at ins of the job's message: a new buffer, or a new spool. */
static int
insert_field(struct commit *c, const struct buf *field, size_t ins)
{
	struct buf *b;
	int fd;

	if (c->del.fd == -1) {
		b = buf_new(c->del.len + field->len);
		if (buf_add(b, c->del.data, ins) == -1 ||
		    buf_add(b, field->data, field->len) == -1 ||
		    buf_add(b, c->del.data + ins, c->del.len - ins) == -1) {
			buf_free(&b);
			return -1;
		}
		buf_free(&c->msg);
		c->msg = b;
		c->del.data = b->data;
		c->del.len = b->len;
		return 0;
	}
	if ((fd = queue_spool_open(c->d->qdir)) == -1)
		return -1;
	if (signer_copy_fd(c->del.fd, c->del.len, ins, field, fd) == -1) {
		close(fd);
		return -1;
	}
	close(c->del.fd);
	c->del.fd = fd;
	c->del.len += field->len;
	c->del.crlf_len += store_crlf_size(field->data, field->len);
	return 0;
}

/*
 * Worker: the DKIM signature of an authenticated user's message to
 * outside recipients (relay/signer.h), over the text as queued, which is
 * what the next hop gets.  A message that cannot be signed goes unsigned.
 */
static void
sign_commit(struct commit *c)
{
	struct buf *field = buf_new(64 * 1024);
	char why[300], q[400];
	size_t ins = 0;
	int r;

	r = signer_sign(c->del.data, c->del.fd, c->del.len,
			(int64_t)time(NULL), field, &ins, why, sizeof(why));
	if (r == 1 && insert_field(c, field, ins) == -1) {
		snprintf(why, sizeof(why), "spool: %s", strerror(errno));
		r = -1;
	}
	if (r == 1)
		log_msg(LOGL_INFO, "dkim", "event=signed msgid=%s %s",
			c->msgid, why);
	else if (r == -1)
		log_msg(LOGL_WARN, "dkim", "event=unsigned msgid=%s error=%s",
			c->msgid, log_q(q, sizeof(q), why));
	buf_free(&field);
}

/*
 * Worker: a quarantined message (a milter's SMFIR_QUARANTINE, or DMARC's
 * p=quarantine under inbound.checks = enforce) goes to each local
 * recipient's Junk folder, made with its \\Junk role if it is missing,
 * in one delivery (all or nothing, as to the inboxes).  Where a user can
 * have no such folder (mbox, mailbox.max_folders) it goes to the inboxes
 * with the rest.
 */
static void
prepare_junk(struct commit *c)
{
	const struct conf *cf = c->d->conf;
	enum store_res r;
	char err[200];

	for (size_t i = 0; i < c->del.nusers; i++) {
		r = store_folder_create(c->d->store, c->users[i], "Junk",
					STORE_SU_JUNK, cf->mailbox_max_folders,
					err, sizeof(err));
		if (r != STORE_OK && r != STORE_EXISTS) {
			log_msg(LOGL_WARN, "smtp", "event=quarantine-inbox "
				"msgid=%s user=%s error=\"%s\"", c->msgid,
				c->users[i], err);
			return;
		}
	}
	c->del.folder = "Junk";
}

/* Worker thread: the text's final form and the figures counted from it. */
static void
commit_prepare(struct commit *c)
{
	c->del.res = STORE_OK;
	if (c->sign)
		sign_commit(c);
	if (c->del.data != NULL) {
		/* counted here, off the loop (a spool was, per piece) */
		c->del.crlf_len = store_crlf_size(c->del.data, c->del.len);
		if (c->env.nrcpts > 0)
			c->env.eightbit = has_8bit(c->del.data, c->del.len);
	}
	c->env.size = c->del.crlf_len;
}

/* Worker thread: the batch's remote recipients queued in one group commit. */
static void
commit_queue(struct commit **cs, size_t n)
{
	struct queue_new q[WPOOL_BATCH_MAX];
	struct commit *of[WPOOL_BATCH_MAX];
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		struct commit *c = cs[i];

		if (c->env.nrcpts == 0)
			continue;
		q[m] = (struct queue_new){.env = &c->env, .data = c->del.data,
					  .fd = c->del.fd, .len = c->del.len,
					  .err = c->qerr,
					  .errsz = sizeof(c->qerr)};
		of[m++] = c;
	}
	if (m == 0)
		return;
	queue_add_many(cs[0]->d->qdir, q, m);
	for (size_t i = 0; i < m; i++) {
		struct commit *c = of[i];

		if (q[i].result == 0) {
			c->queued = true;
			continue;
		}
		c->del.res = q[i].result == ENOSPC ? STORE_NOSPACE : STORE_TEMP;
		bsnprintf(c->del.error, sizeof(c->del.error), "queue: %s",
			  c->qerr);
	}
}

/* Worker thread: a queued message whose local delivery failed is taken
 * out again (all or nothing: the client will send it again). */
static void
commit_undo_queue(struct commit *c)
{
	if (!c->queued || c->del.res == STORE_OK)
		return;
	if (queue_remove(c->d->qdir, c->env.id, c->qerr, sizeof(c->qerr)) == -1)
		log_msg(LOGL_ERROR, "queue", "event=undo-failed msgid=%s "
			"error=\"%s\"", c->env.id, c->qerr);
	c->queued = false;
}

/*
 * Worker thread: one batch of commits.  The queue first (one group commit
 * for the batch's remote recipients, undone if local delivery fails), then
 * one store call for the local ones.
 */
static void
commit_run(struct wpool_job **jobs, size_t n)
{
	struct commit *cs[WPOOL_BATCH_MAX];
	struct store_delivery *dels[WPOOL_BATCH_MAX];
	size_t i, m = 0;

	for (i = 0; i < n; i++) {
		cs[i] = (struct commit *)(void *)jobs[i];
		commit_prepare(cs[i]);
	}
	commit_queue(cs, n);
	for (i = 0; i < n; i++) {
		struct commit *c = cs[i];

		if (c->del.res != STORE_OK)
			continue;
		if (c->junk && c->del.nusers > 0)
			prepare_junk(c);
		if (c->del.nusers == 0) {
			if (!c->queued) {
				c->del.res = STORE_PERM;
				snprintf(c->del.error, sizeof(c->del.error),
					 "no recipients left");
			}
			continue;
		}
		dels[m++] = &c->del;
	}
	if (m > 0)
		store_deliver(cs[0]->d->store, dels, m);
	for (i = 0; i < n; i++)
		commit_undo_queue(cs[i]);
}

static void
commit_free(struct commit *c)
{
	for (size_t i = 0; i < c->del.nusers; i++)
		free(c->users[i]);
	free(c->users);
	buf_free(&c->msg);
	if (c->del.fd != -1)
		close(c->del.fd);
	qenv_free(&c->env);
	free(c);
}

/* Tells the sessions watching the delivered-to mailboxes at once. */
static void
touch_mailboxes(struct owld *d, const struct store_delivery *del)
{
	char path[4096];

	for (size_t i = 0; i < del->nusers; i++)
		if (store_delivery_dir(d->store, del, i, path, sizeof(path)) ==
		    0)
			watch_hub_touch(d->watch, path);
}

static void
commit_done(struct wpool_job *job)
{
	struct commit *c = (struct commit *)(void *)job;
	struct smtp_sess *s = c->sess;
	struct owld *d = c->d;
	enum smtp_result r;
	char q[600], e[600];

	if (c->del.res == STORE_OK && c->del.nusers > 0)
		log_msg(LOGL_INFO, "smtp", "id=%s event=delivered msgid=%s "
			"from=<%s> rcpts=%zu size=%zu name=%s%s", s ? s->base.id
								    : "-",
			c->msgid, log_q(q, sizeof(q), c->sender),
			c->del.nusers, c->del.len, c->del.name,
			s ? "" : " session=gone");
	if (c->del.res == STORE_OK && c->del.folder != NULL)
		log_msg(LOGL_INFO, "smtp", "event=quarantined msgid=%s "
			"users=%zu folder=%s", c->msgid, c->del.nusers,
			c->del.folder);
	if (c->del.res == STORE_OK) {
		touch_mailboxes(d, &c->del);
		rate60_add(&d->msgs_in, mono_ms() / 1000, 1); /* owlctl status */
		d->msgs_in_total++;			      /* metrics */
	}
	if (c->del.res == STORE_OK && c->queued) {
		log_msg(LOGL_INFO, "queue", "id=%s event=queued msgid=%s "
			"from=<%s> rcpts=%zu size=%zu%s", s ? s->base.id : "-",
			c->msgid, log_q(q, sizeof(q), c->sender),
			c->env.nrcpts, c->env.size,
			s ? "" : " session=gone");
		relay_queued(d->relay, &c->env);
	}
	if (c->del.res != STORE_OK)
		log_msg(LOGL_ERROR, "smtp", "id=%s event=delivery-failed "
			"msgid=%s error=%s", s ? s->base.id : "-", c->msgid,
			log_q(e, sizeof(e), c->del.error));
	if (s != NULL) {
		r = c->del.res == STORE_OK	  ? SMTP_R_OK
		    : c->del.res == STORE_NOSPACE ? SMTP_R_NOSPACE
		    : c->del.res == STORE_TEMP	  ? SMTP_R_TEMP
						  : SMTP_R_PERM;
		s->commit = NULL;
		run_act(s, smtp_server_done(s->core, r, c->msgid, s->base.out));
		sess_answered(&s->base);
	}
	commit_free(c);
	owld_check_stopped(d);
}

/* The end of DATA once the milters have answered: owld's own, then commit. */
static void
data_checked(struct smtp_sess *s)
{
	if (wants_checks(s))
		start_checks(s); /* checks_done() commits */
	else
		start_commit(s);
}

/*
 * The end of DATA: the milters get the message first (their answer comes
 * to smtp_milter_done), then data_checked() commits it.
 */
static void
end_of_data(struct smtp_sess *s)
{
	if (!spool_finish(s))
		return;
	if (s->milters == NULL) {
		data_checked(s);
		return;
	}
	s->mstep = SMTP_ACT_COMMIT;
	conn_pause(s->base.conn);
	milters_message(s->milters, s->msgid,
			s->spool.fd == -1 ? s->msg->data : NULL, s->spool.fd,
			s->spool.fd == -1 ? s->msg->len : s->spool.len);
}

static void
start_auth(struct smtp_sess *s)
{
	const struct smtp_req *req = smtp_server_req(s->core);

	sess_login_start(&s->base, req->user, req->pass);
}

static void
login_done(struct sess *b, enum sess_login_res r, const char *user)
{
	struct smtp_sess *s = ss(b);
	enum smtp_result res = r == SESS_LOGIN_OK     ? SMTP_R_OK
			       : r == SESS_LOGIN_TEMP ? SMTP_R_TEMP
						      : SMTP_R_NOUSER;

	if (r == SESS_LOGIN_OK) {
		char q[600];

		snprintf(s->user, sizeof(s->user), "%s", user);
		conn_session_deadline(b->conn, 0, NULL);
		log_msg(LOGL_INFO, "smtp", "id=%s peer=%s event=auth user=%s",
			b->id, b->peer, log_q(q, sizeof(q), user));
	}
	run_act(s, smtp_server_done(s->core, res, NULL, b->out));
	sess_answered(b);
}

/*
 * The core refused the message at its end (too big, a line too long, a
 * bare CR or LF under smtp.bare_newline = reject): say so in the log with
 * the reply it wrote last, so an operator sees what a sender was told.
 */
static void
log_refused(const struct smtp_sess *s)
{
	const char *p = s->base.out->data, *end = p + s->base.out->len, *line;
	char q[600], text[300];
	size_t n;

	while (end > p && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	for (line = end; line > p && line[-1] != '\n'; line--)
		;
	n = (size_t)(end - line) < sizeof(text) ? (size_t)(end - line)
						: sizeof(text) - 1;
	memcpy(text, line, n);
	text[n] = '\0';
	log_msg(LOGL_WARN, "smtp", "id=%s peer=%s event=message-refused "
		"msgid=%s reply=%s", s->base.id, s->base.peer, s->msgid,
		log_q(q, sizeof(q), text));
}

static void
run_act(struct smtp_sess *s, enum smtp_act act)
{
	const struct smtp_req *req = smtp_server_req(s->core);
	const struct conf *c = s->base.d->conf;

	switch (act) {
	case SMTP_ACT_NONE:
		break;
	case SMTP_ACT_MAIL: {
		/* any sender is fine inbound; submission checks it */
		enum smtp_result r = check_sender(s, &req->addr);

		aliases_exp_free(&s->remote); /* a new transaction */
		s->discard = false;
		s->quarantine = false;
		if (r == SMTP_R_OK && s->milters != NULL)
			smtp_milter_mail(s, &req->addr);
		else
			run_act(s, smtp_server_done(s->core, r, NULL,
						    s->base.out));
		break;
	}
	case SMTP_ACT_AUTH:
		start_auth(s);
		break;
	case SMTP_ACT_RCPT: {
		enum smtp_result r = check_rcpt(s, &req->addr);

		if (r == SMTP_R_OK && s->milters != NULL)
			smtp_milter_rcpt(s, &req->addr);
		else
			run_act(s, smtp_server_done(s->core, r, NULL,
						    s->base.out));
		break;
	}
	case SMTP_ACT_VRFY:
		run_act(s, smtp_server_done(s->core, check_vrfy(s, &req->addr),
					    NULL, s->base.out));
		break;
	case SMTP_ACT_DATA_START:
		begin_message(s);
		/* the whole text against one deadline, kept up by its rate */
		conn_deadline(s->base.conn, c->smtp_command_deadline,
			      c->smtp_data_min_rate, "data-rate");
		break;
	case SMTP_ACT_DATA:
		if (buf_add(s->msg, req->data, req->len) == -1 ||
		    buf_addc(s->msg, '\n') == -1)
			abort(); /* the core's size cap makes this impossible */
		if (s->msg->len >= SPOOL_AT)
			spool_write(s);
		break;
	case SMTP_ACT_COMMIT:
		command_deadline(s);
		end_of_data(s);
		break;
	case SMTP_ACT_DATA_ABORT:
		log_refused(s);
		command_deadline(s);
		buf_free(&s->msg);
		spool_close(s);
		break;
	case SMTP_ACT_CLOSE:
		sess_flush(&s->base);
		conn_close(s->base.conn, "quit");
		break;
	case SMTP_ACT_STARTTLS:
		sess_flush(&s->base); /* the 220 goes out in the clear */
		owld_tls_start(s->base.d, s->base.conn);
		break;
	}
}

static const struct sess_ops smtp_ops = {
	.proto = "smtp",
	.login_event = "auth",
	.size = sizeof(struct smtp_sess),
	.refuse = refuse,
	.open = open_sess,
	.greet = greet,
	.feed = feed,
	.trace_in = trace_in,
	.toolong = toolong,
	.toolong_end = toolong_end,
	.max_line = max_line,
	.max_drop = max_drop,
	.endless = endless,
	.timeout = timeout,
	.deadline = timeout,
	.shutdown = shutdown_reply,
	.busy = busy,
	.login_done = login_done,
	.words = words,
	.close = close_sess,
};
