/*
 * relay - the queue runner; see relay.h and docs/QUEUE.md.
 *
 * A pass of schedule() takes every entry that is due (not held, not busy)
 * and gives each pending recipient to a route of its destination (its
 * domain, or the one relay.host): a route is one SMTP session with a
 * queue of messages.  Like Postfix's connection cache, a route whose
 * queue runs dry stays connected and idle for relay.connection_cache_time,
 * and a message for its destination that comes meanwhile goes out on it at
 * once; up to relay.max_connections_per_destination routes run to one
 * destination, a new message going to an idle route first, then to a new
 * one, then to the queue of the least busy (the policy is pick.c's).  A
 * route looks its targets up on the pool, connects to them in order until
 * one greets, then feeds the smtp_client core.  Each message's results
 * are written to its envelope (on the pool; or the entry is removed when
 * they leave nothing to do) before the session goes on to the next
 * message or QUIT, so a crash re-sends at most the one message whose
 * final reply had come and whose envelope was not yet saved: at most one
 * per session (docs/QUEUE.md).  A message leaves its route with its
 * results: when no route carries an entry any more, the attempt is over:
 * the entry is finished (bounce if needed, then removed) or rescheduled
 * with a doubled interval.  A session that had carried mail and then is
 * lost (the peer closed it, said 421, or went quiet) fails none of the
 * messages still open or queued on it: they go back to schedule() once,
 * for a fresh session (a cached session can be closed under us at any
 * time).
 */
#include "relay.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../auth/users.h"
#include "../lib/buf.h"
#include "../lib/clock.h"
#include "../lib/conf.h"
#include "../lib/log.h"
#include "../lib/rate.h"
#include "../lib/wpool.h"
#include "../net/conn.h"
#include "../net/tls.h"
#include "../proto/smtp_client.h"
#include "../store/store.h"
#include "bounce.h"
#include "dns.h"
#include "pick.h"

#define CHUNK (16 * 1024)
#define OUT_MAX (256 * 1024)
#define HEADERS_MAX (64 * 1024)	/* of the original, in a bounce */

struct qent {
	struct qent *prev, *next;
	struct qenv env;
	bool *tried;		/* recipient i has had a route this attempt */
	unsigned busy;		/* routes carrying some of its recipients */
	bool saving, dirty;	/* an envelope write in flight / needed */
	unsigned long gen;	/* changes asked to be saved so far */
	unsigned long saved_gen; /* of them, those on disk (or failed) */
	bool finishing;		/* the final job is in flight */
	bool need_fresh;	/* lost with a reused session: a new one */
	bool finish_wanted, finish_bounce;
	bool deleted;
};

/* One message on a route: some of its recipients. */
struct item {
	struct item *next;
	struct qent *e;
	size_t *idx;		/* indexes into e->env.rcpts */
	const char **rcpts;
	size_t n;
	struct smtpc_msg msg;
	bool sending;		/* handed to the core */
};

struct route {
	struct route *prev, *next;
	struct relay *r;
	char id[17];
	char key[256];		/* the recipient domain it serves */
	char name[256];		/* what is looked up: domain or relay.host */
	unsigned port;
	bool mx;
	struct item *head, *tail; /* to send, the current one first */
	size_t nqueued;
	/* the message just finished: the core reads it until the next */
	struct item *last;
	time_t born;		/* relay.connection_reuse_time runs from */
	unsigned long nsent;	/* messages the peer answered */
	bool idle;		/* connected, nothing to send: cached */
	bool kick;		/* idle, and given mail in this pass */
	bool ending;		/* QUIT sent or closing: takes no mail */
	bool no_reuse;		/* QUIT once the queue is empty (reload) */
	bool evicted;		/* idle, ended to make room (r->evicting) */
	struct event *idle_ev;	/* the end of the idle time */
	SSL *ssl;		/* the conn's, once STARTTLS began */
	struct dns_target *t;
	size_t nt, ti;
	int fd;			/* connecting */
	struct event *cev;
	struct conn *conn;
	struct smtp_client *cl;
	struct buf *out;
	int mfd;		/* the text being sent */
	bool closed_seen;	/* the core said CLOSE */
	bool any_result;
	struct qent *wait_e;	/* the session waits for this envelope */
	unsigned long wait_gen;	/* to be saved up to this change */
	bool wait_fin;		/* ... to be removed from the queue instead */
	bool started;		/* DNS job submitted */
	char err[QUEUE_TEXT_MAX];
	bool perm;
};

enum rjob_kind { RJ_DNS, RJ_SAVE, RJ_FINISH };

/* What a SAVE or FINISH job did; the log word is FIN_WORD's. */
enum rjob_fin {
	FIN_NONE,		/* SAVE: saved */
	FIN_REMOVED,		/* done: the entry is gone */
	FIN_BOUNCED_LOCALLY,	/* done: bounce delivered here, entry gone */
	FIN_BOUNCE_QUEUED,	/* done: bounce queued, entry gone */
	FIN_BOUNCE_FAILED,	/* kept: the bounce could not be made */
	FIN_REMOVE_FAILED,	/* kept: the entry could not be removed */
	FIN_SAVE_FAILED,	/* SAVE: the envelope could not be saved */
};
static const char *const FIN_WORD[] = {
	[FIN_NONE] = "", [FIN_REMOVED] = "removed",
	[FIN_BOUNCED_LOCALLY] = "bounced-locally",
	[FIN_BOUNCE_QUEUED] = "bounce-queued",
	[FIN_BOUNCE_FAILED] = "bounce-failed",
	[FIN_REMOVE_FAILED] = "remove-failed",
	[FIN_SAVE_FAILED] = "save-failed",
};

struct rjob {
	struct wpool_job job;
	enum rjob_kind kind;
	struct relay *r;
	struct route *rt;		/* DNS */
	struct qent *e;			/* SAVE, FINISH */
	struct qenv env;		/* the copy written */
	unsigned long gen;		/* SAVE: the change it carries */
	bool bounce;
	char bounce_id[QUEUE_ID_MAX];
	struct qenv benv;		/* a queued bounce */
	bool bqueued;
	enum dns_res dres;
	char err[QUEUE_TEXT_MAX];
	enum rjob_fin result;		/* what became of it */
};

struct relay {
	struct relay_deps deps;	/* what owld handed relay_new() */
	struct qent *ents;
	size_t nents;
	struct route *routes;
	unsigned nroutes;
	unsigned jobs;
	struct event *timer;
	struct smtpc_conf cconf;
	SSL_CTX *tls;		/* for STARTTLS, unless relay.tls = no */
	bool stopping;
	bool starved;		/* a recipient waits for a free route */
	bool want_slot;		/* ... for one under relay.max_connections */
	unsigned evicting;	/* idle routes ended to make room */
	struct rate60 sent;	/* recipients handed on, per second */
	uint64_t sent_total;	/* and since the start */
};

static void schedule(struct relay *r);
static void route_end(struct route *rt);
static void save_env(struct relay *r, struct qent *e);
static void save_submit(struct relay *r, struct qent *e);
static void finish(struct relay *r, struct qent *e, bool bounce);
static void handle(struct route *rt, enum smtpc_act act);
static void send_next(struct route *rt);

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	schedule(arg);
}

static struct qent *
ent_add(struct relay *r, const struct qenv *env)
{
	struct qent *e = xcalloc(1, sizeof(*e));

	qenv_copy(&e->env, env);
	e->tried = xcalloc(env->nrcpts ? env->nrcpts : 1, sizeof(*e->tried));
	e->next = r->ents;
	if (r->ents != NULL)
		r->ents->prev = e;
	r->ents = e;
	r->nents++;
	return e;
}

static void
ent_free(struct relay *r, struct qent *e)
{
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		r->ents = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	r->nents--;
	qenv_free(&e->env);
	free(e->tried);
	free(e);
}

static struct qent *
ent_find(struct relay *r, const char *id)
{
	for (struct qent *e = r->ents; e != NULL; e = e->next)
		if (strcmp(e->env.id, id) == 0)
			return e;
	return NULL;
}

static void
recover_note(const char *what, const char *name)
{
	log_msg(LOGL_WARN, "queue", "event=%s file=%s", what, name);
}

struct relay *
relay_new(const struct relay_deps *deps, char *err, size_t errsz)
{
	struct relay *r = xcalloc(1, sizeof(*r));
	const struct conf *c = deps->conf;
	struct qenv *envs;
	size_t n;

	r->deps = *deps;
	r->cconf.helo = c->hostname;
	r->cconf.tls = c->relay_tls == CONF_RELAY_TLS_REQUIRE
			       ? SMTPC_TLS_REQUIRE
		       : c->relay_tls == CONF_RELAY_TLS_NO ? SMTPC_TLS_NO
							   : SMTPC_TLS_MAY;
	if (r->cconf.tls != SMTPC_TLS_NO &&
	    (r->tls = tls_client_ctx(c,
				     r->cconf.tls == SMTPC_TLS_REQUIRE, err,
				     errsz)) == NULL) {
		free(r);
		return NULL;
	}
	if (queue_init(deps->qdir, err, errsz) == -1 ||
	    queue_recover(deps->qdir, &envs, &n, recover_note, err, errsz) ==
		    -1) {
		free(r);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		struct qent *e = ent_add(r, &envs[i]);

		/* nothing left to send: finished by the first schedule() */
		if (qenv_pending(&e->env) == 0)
			e->env.held = false;
		qenv_free(&envs[i]);
	}
	free(envs);
	r->timer = evtimer_new(deps->base, timer_cb, r);
	log_msg(LOGL_INFO, "queue", "event=loaded messages=%zu dir=%s", n,
		deps->qdir);
	if (n > 0)
		event_active(r->timer, EV_TIMEOUT, 0);
	return r;
}

void
relay_free(struct relay **rp)
{
	struct relay *r = *rp;

	if (r == NULL)
		return;
	while (r->ents != NULL)
		ent_free(r, r->ents);
	if (r->timer != NULL)
		event_free(r->timer);
	SSL_CTX_free(r->tls);
	free(r);
	*rp = NULL;
}

bool
relay_busy(const struct relay *r)
{
	return r != NULL && (r->nroutes > 0 || r->jobs > 0);
}

void
relay_queued(struct relay *r, const struct qenv *e)
{
	ent_add(r, e);
	/* from the loop, not now: commits of one batch go out together */
	if (!r->stopping)
		event_active(r->timer, EV_TIMEOUT, 0);
}

/* The destination key of a recipient: its domain, lower case. */
static void
rcpt_domain(const char *addr, char *out, size_t size)
{
	const char *at = strrchr(addr, '@');
	size_t i;

	snprintf(out, size, "%s", at ? at + 1 : "");
	for (i = 0; out[i] != '\0'; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (char)(out[i] - 'A' + 'a');
}

static void idle_cb(evutil_socket_t fd, short what, void *arg);

static struct route *
route_new(struct relay *r, const char *domain)
{
	struct route *rt = xcalloc(1, sizeof(*rt));
	const char *rh = r->deps.conf->relay_host;

	rt->r = r;
	rt->fd = rt->mfd = -1;
	rt->born = time(NULL);
	rt->idle_ev = evtimer_new(r->deps.base, idle_cb, rt);
	snprintf(rt->key, sizeof(rt->key), "%s", domain);
	snprintf(rt->id, sizeof(rt->id), "%016llx",
		 (unsigned long long)r->deps.new_id());
	if (rh[0] != '\0') {
		/* conf checked it; a smarthost's port defaults to 25 */
		if (conf_hostport(rh, 25, rt->name, sizeof(rt->name),
				  &rt->port) == -1)
			rt->name[0] = '\0'; /* looked up: fails, retried */
		rt->mx = false;
	} else {
		snprintf(rt->name, sizeof(rt->name), "%s", domain);
		if (rt->name[0] == '[') { /* an address literal */
			memmove(rt->name, rt->name + 1, strlen(rt->name));
			rt->name[strcspn(rt->name, "]")] = '\0';
			if (strncasecmp(rt->name, "IPv6:", 5) == 0)
				memmove(rt->name, rt->name + 5,
					strlen(rt->name + 5) + 1);
			rt->mx = false;
		} else {
			rt->mx = true;
		}
		rt->port = r->deps.conf->relay_port;
	}
	rt->next = r->routes;
	if (r->routes != NULL)
		r->routes->prev = rt;
	r->routes = rt;
	r->nroutes++;
	return rt;
}

/* Recipient ri of e goes on rt (with e's others of this pass). */
static void
route_add(struct route *rt, struct qent *e, size_t ri)
{
	struct item *it = rt->tail;

	if (it == NULL || it->e != e || it->sending) {
		it = xcalloc(1, sizeof(*it));
		it->e = e;
		it->idx = xcalloc(e->env.nrcpts, sizeof(*it->idx));
		it->rcpts = xcalloc(e->env.nrcpts, sizeof(*it->rcpts));
		e->busy++;
		if (rt->tail != NULL)
			rt->tail->next = it;
		else
			rt->head = it;
		rt->tail = it;
		rt->nqueued++;
		if (rt->idle)
			rt->kick = true;
	}
	it->idx[it->n] = ri;
	it->rcpts[it->n++] = e->env.rcpts[ri].addr;
	e->tried[ri] = true;
}

static void rjob_run(struct wpool_job **jobs, size_t n);
static void rjob_done(struct wpool_job *job);

static struct rjob *
rjob_new(struct relay *r, enum rjob_kind kind)
{
	struct rjob *j = xcalloc(1, sizeof(*j));

	j->kind = kind;
	j->r = r;
	j->job.run = rjob_run;
	j->job.done = rjob_done;
	j->job.solo = kind == RJ_DNS; /* a slow lookup must not hold others */
	r->jobs++;
	return j;
}

static void
route_start(struct route *rt)
{
	struct rjob *j = rjob_new(rt->r, RJ_DNS);

	j->rt = rt;
	rt->started = true;
	wpool_submit(rt->r->deps.pool, &j->job);
}

/* Waiting for an attempt: idle, not held, not ending, recipients left. */
static bool
waiting(const struct qent *e)
{
	return !e->busy && !e->env.held && !e->finishing && !e->deleted &&
	       !e->finish_wanted && qenv_pending(&e->env) > 0;
}

/*
 * Finished but still here: every recipient is done or failed and nothing
 * works on it (loaded so at start, after a crash between the last
 * envelope save and the removal; or a finish that failed, once flushed).
 */
static bool
finished_idle(const struct qent *e)
{
	return !e->busy && !e->env.held && !e->finishing && !e->deleted &&
	       !e->finish_wanted && !e->saving && qenv_pending(&e->env) == 0;
}

/* Arms the timer for the next entry due (none while routes are full). */
static void
arm(struct relay *r)
{
	time_t now = time(NULL), min = 0;
	bool any = false;

	if (r->stopping)
		return;
	for (struct qent *e = r->ents; e != NULL; e = e->next) {
		if (!waiting(e))
			continue;
		if (!any || e->env.next < min)
			min = e->env.next;
		any = true;
	}
	event_del(r->timer);
	/*
	 * due but not placed: wait for a route's end (route_end schedules),
	 * or end an idle one for a recipient that waits for a free slot
	 */
	if (any && r->starved && min <= now) {
		for (struct route *rt = r->routes; rt != NULL; rt = rt->next)
			if (r->want_slot && r->evicting == 0 && rt->idle &&
			    !rt->kick) {
				event_active(r->timer, EV_TIMEOUT, 0);
				break;
			}
		return;
	}
	if (!any)
		return;
	{
		struct timeval tv = {.tv_sec = min > now ? min - now : 0};

		evtimer_add(r->timer, &tv);
	}
}

/* rt is a session to dom's destination. */
static bool
route_serves(const struct relay *r, const struct route *rt, const char *dom)
{
	return r->deps.conf->relay_host[0] != '\0' || strcmp(rt->key, dom) == 0;
}

/* rt may take more mail: not ending, not past its reuse time. */
static bool
route_open(const struct route *rt, time_t now)
{
	return !rt->ending && !rt->no_reuse &&
	       (rt->conn == NULL || !conn_closing(rt->conn)) &&
	       now - rt->born < (time_t)rt->r->deps.conf->relay_reuse_time;
}

static void route_quit(struct route *rt);
static void route_wake(struct route *rt);
static void flush(struct route *rt);

/*
 * All routes are taken: one idle route ends so that another can start
 * (one at a time: the next once it is gone).
 */
static void
evict_idle(struct relay *r)
{
	if (r->evicting > 0)
		return;
	for (struct route *rt = r->routes; rt != NULL; rt = rt->next)
		if (rt->idle && !rt->kick) {
			rt->evicted = true;
			r->evicting++;
			rt->idle = false;
			event_del(rt->idle_ev);
			route_quit(rt);
			flush(rt);
			return;
		}
}

/* The route for a recipient of dom (pick.h); NULL: none now (starved). */
static struct route *
route_for(struct relay *r, const char *dom, bool fresh)
{
	const struct conf *c = r->deps.conf;
	struct pick_limits lim = {c->relay_max_conns_dest, c->relay_max_conns,
				  r->nroutes};
	time_t now = time(NULL);
	struct pick p;
	void *rt;
	bool evict;

	pick_init(&p, fresh);
	for (struct route *x = r->routes; x != NULL; x = x->next)
		if (route_serves(r, x, dom))
			pick_add(&p, x, &(struct pick_route){
				.started = x->started,
				.open = route_open(x, now),
				.idle = x->idle && !x->kick,
				.queued = x->nqueued});
	switch (pick_done(&p, &lim, &rt, &evict)) {
	case PICK_ROUTE:
		break;
	case PICK_NEW:
		return route_new(r, dom);
	case PICK_NONE:
		r->starved = true;
		break;
	}
	if (evict) {
		r->want_slot = true;
		evict_idle(r);
	}
	return rt;
}

static void
schedule(struct relay *r)
{
	time_t now = time(NULL);

	if (r->stopping)
		return;
	r->starved = r->want_slot = false;
	for (struct qent *e = r->ents; e != NULL; e = e->next) {
		if (finished_idle(e))
			finish(r, e, true);
		if (!waiting(e) || e->env.next > now)
			continue;
		char last[256] = "";
		struct route *lrt = NULL; /* last's: one item per domain */

		for (size_t i = 0; i < e->env.nrcpts; i++) {
			char dom[256];
			struct route *rt;

			if (e->env.rcpts[i].state != QR_PENDING ||
			    e->tried[i])
				continue;
			rcpt_domain(e->env.rcpts[i].addr, dom, sizeof(dom));
			rt = lrt != NULL && strcmp(dom, last) == 0
				     ? lrt
				     : route_for(r, dom, e->need_fresh);
			if (rt != NULL)
				route_add(rt, e, i);
			lrt = rt;
			snprintf(last, sizeof(last), "%s", dom);
		}
	}
	for (struct route *rt = r->routes; rt != NULL; rt = rt->next) {
		if (!rt->started && rt->head != NULL)
			route_start(rt);
		if (rt->kick)
			route_wake(rt);
	}
	arm(r);
}

/* --- sending ------------------------------------------------------- */

static bool on_line(void *arg, const char *line, size_t len);
static void on_toolong(void *arg);
static size_t on_max_line(void *arg);
static void on_timeout(void *arg);
static void on_closed(void *arg, const char *reason);
static void on_drained(void *arg);
static void on_secured(void *arg);

static const struct conn_ops relay_conn_ops = {
	.line = on_line,
	.toolong = on_toolong,
	.max_line = on_max_line,
	.timeout = on_timeout,
	.closed = on_closed,
	.drained = on_drained,
	.secured = on_secured,
};

/* Sends our commands, traced as the client's ('C') lines. */
static void
flush(struct route *rt)
{
	if (rt->conn != NULL && rt->out->len > 0) {
		const char *p = rt->out->data, *end = p + rt->out->len;

		while (log_trace_enabled() && p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);

			log_trace("relay", rt->id, 'C', p, n);
			p += n;
		}
		conn_write(rt->conn, rt->out->data, rt->out->len);
	}
	buf_reset(rt->out);
}

static const char *
target_text(const struct route *rt, char *out, size_t size)
{
	char ip[64];

	if (rt->ti >= rt->nt) {
		snprintf(out, size, "%s", rt->name);
		return out;
	}
	conn_addr_text((const struct sockaddr *)&rt->t[rt->ti].sa, ip,
		       sizeof(ip));
	snprintf(out, size, "%s[%s]:%u", rt->t[rt->ti].host, ip, rt->port);
	return out;
}

/* Recipient i of the current item got reply p. */
static void
apply(struct route *rt, struct item *it, size_t k,
      const struct smtpc_reply *p)
{
	struct qrcpt *q = &it->e->env.rcpts[it->idx[k]];
	char tgt[400], qq[QUEUE_TEXT_MAX + 100];
	const char *ev;

	snprintf(q->reply, sizeof(q->reply), "%s", p->text);
	if (p->code >= 200 && p->code < 300) {
		q->state = QR_DONE;
		ev = "sent";
		rate60_add(&rt->r->sent, mono_ms() / 1000, 1);
		rt->r->sent_total++;
	} else if (p->code >= 500) {
		q->state = QR_FAILED;
		ev = "bounced";
	} else {
		ev = "deferred";
		snprintf(it->e->env.error, sizeof(it->e->env.error), "%s",
			 p->text);
	}
	log_msg(p->code >= 200 && p->code < 300 ? LOGL_INFO : LOGL_WARN,
		"relay", "id=%s event=%s msgid=%s to=<%s> relay=%s tls=%s "
		"reply=%s", rt->id, ev, it->e->env.id, q->addr,
		target_text(rt, tgt, sizeof(tgt)),
		rt->conn != NULL && conn_tls_version(rt->conn) != NULL
			? conn_tls_version(rt->conn)
			: "no",
		log_q(qq, sizeof(qq), p->text));
}

static void attempt_end(struct relay *r, struct qent *e, const char *err);

/* Frees an item (its strings belong to its entry). */
static void
item_free(struct item *it)
{
	if (it == NULL)
		return;
	free(it->idx);
	free(it->rcpts);
	free(it);
}

/* Takes the first item off rt's queue. */
static struct item *
item_pop(struct route *rt)
{
	struct item *it = rt->head;

	rt->head = it->next;
	if (rt->head == NULL)
		rt->tail = NULL;
	rt->nqueued--;
	it->next = NULL;
	return it;
}

/* it has left its route: the attempt on its entry may be over. */
static void
item_release(struct relay *r, struct item *it, const char *err)
{
	if (--it->e->busy == 0)
		attempt_end(r, it->e, err);
}

/* A lost session's recipient k of it: not tried, for a fresh session. */
static void
item_back(struct item *it, size_t k)
{
	it->e->tried[it->idx[k]] = false;
	it->e->need_fresh = true;
}

/*
 * e is done with this result: every recipient handed on, no other route
 * on it, nothing else writing it.  Its removal from the queue (finish()
 * on item_release) records the 250s then: no envelope rewrite first (one
 * fsync per message instead of three; docs/QUEUE.md, state D2).
 */
static bool
all_sent(const struct qent *e)
{
	if (e->busy != 1 || e->saving || e->deleted || e->finishing)
		return false;
	for (size_t i = 0; i < e->env.nrcpts; i++)
		if (e->env.rcpts[i].state != QR_DONE)
			return false;
	return true;
}

static void
item_result(struct route *rt)
{
	struct item *it = item_pop(rt);
	struct relay *r = rt->r;
	/* the loss of a session that had carried mail is not the message's */
	bool reused = rt->nsent > 0 && !it->e->need_fresh && !r->stopping;
	bool answered = false, back = false;

	for (size_t k = 0; k < it->n; k++) {
		const struct smtpc_reply *p = smtp_client_rcpt(rt->cl, k);
		bool lost = p->code == 0 || p->code == 421;

		if (reused && lost) {
			back = true;
			continue;
		}
		answered |= !lost;
		apply(rt, it, k, p);
	}
	for (size_t k = 0; back && k < it->n; k++) {
		const struct smtpc_reply *p = smtp_client_rcpt(rt->cl, k);

		if (p->code == 0 || p->code == 421)
			item_back(it, k);
	}
	if (back)
		log_msg(LOGL_INFO, "relay", "id=%s event=retry-fresh msgid=%s "
			"reason=\"cached session lost\"", rt->id,
			it->e->env.id);
	if (answered)
		rt->nsent++;
	rt->any_result = true;
	/* no next MAIL (or QUIT) before this result is on disk */
	rt->wait_e = it->e;
	rt->wait_fin = all_sent(it->e);
	if (!rt->wait_fin) {
		save_env(r, it->e);
		rt->wait_gen = it->e->gen;
	}
	if (rt->conn != NULL)
		conn_pause(rt->conn);
	item_free(rt->last);
	rt->last = it;	/* the core may read it->msg until the next */
	item_release(r, it, "");
}

/*
 * The envelope of e is saved up to change gen (fin: e is finished, or
 * its finish failed): sessions waiting go on.
 */
static void
saved(struct relay *r, struct qent *e, bool fin)
{
	for (struct route *rt = r->routes; rt != NULL; rt = rt->next) {
		if (rt->wait_e != e || rt->wait_fin != fin ||
		    (!fin && rt->wait_gen > e->saved_gen))
			continue;
		rt->wait_e = NULL;
		rt->wait_fin = false;
		if (rt->conn == NULL || conn_closing(rt->conn))
			continue;
		send_next(rt);
		flush(rt);
		if (rt->mfd == -1 && rt->wait_e == NULL)
			conn_resume(rt->conn);
	}
}

/* Ends the session: QUIT, or a close if the core says so. */
static void
route_quit(struct route *rt)
{
	rt->ending = true;
	handle(rt, smtp_client_next(rt->cl, NULL, rt->out));
}

/* May rt wait, connected, for more mail (relay.connection_cache_time)? */
static bool
cacheable(const struct route *rt)
{
	const struct conf *c = rt->r->deps.conf;

	return !rt->r->stopping && c->relay_cache_ms > 0 && rt->conn != NULL &&
	       route_open(rt, time(NULL));
}

static void
go_idle(struct route *rt)
{
	const struct conf *c = rt->r->deps.conf;
	unsigned ms = c->relay_cache_ms;
	/* not kept past relay.connection_reuse_time: it could take nothing */
	time_t left = rt->born + (time_t)c->relay_reuse_time - time(NULL);
	struct timeval tv;

	if (left >= 0 && (unsigned long)left * 1000 < ms)
		ms = (unsigned)left * 1000;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	rt->idle = true;
	evtimer_add(rt->idle_ev, &tv);
	arm(rt->r); /* a recipient waiting for a route takes this one's place */
}

/* The idle time is over: QUIT. */
static void
idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct route *rt = arg;

	(void)fd, (void)what;
	rt->idle = false;
	route_quit(rt);
	flush(rt);
}

/* An idle route got mail (schedule()): it goes out now. */
static void
route_wake(struct route *rt)
{
	rt->kick = false;
	rt->idle = false;
	event_del(rt->idle_ev);
	send_next(rt);
	flush(rt);
}

static void
send_next(struct route *rt)
{
	while (rt->head != NULL && rt->head->e->deleted) {
		struct item *it = item_pop(rt); /* deleted meanwhile */

		item_release(rt->r, it, "");
		item_free(it);
	}
	if (!smtp_client_usable(rt->cl)) {
		/* the session failed: what is queued waits for route_end */
		if (rt->err[0] == '\0')
			snprintf(rt->err, sizeof(rt->err), "%s",
				 smtp_client_error(rt->cl)->text);
		route_quit(rt);
		return;
	}
	if (rt->head == NULL) {
		if (cacheable(rt))
			go_idle(rt);
		else
			route_quit(rt);
		return;
	}
	item_free(rt->last);
	rt->last = NULL;
	{
		struct item *it = rt->head;

		it->sending = true;
		it->msg.sender = it->e->env.sender;
		it->msg.rcpts = it->rcpts;
		it->msg.nrcpts = it->n;
		it->msg.size = it->e->env.size;
		it->msg.eightbit = it->e->env.eightbit;
		handle(rt, smtp_client_next(rt->cl, &it->msg, rt->out));
	}
}

/* Streams the next chunk of the text; true when the text is all sent. */
static bool
stream(struct route *rt)
{
	char chunk[CHUNK];
	ssize_t n;

	for (;;) {
		n = read(rt->mfd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	if (n < 0) {
		/* cannot read our own queue file: give up on this session */
		snprintf(rt->err, sizeof(rt->err), "queue file read: %s",
			 strerror(errno));
		close(rt->mfd);
		rt->mfd = -1;
		conn_close(rt->conn, "error");
		return false;
	}
	if (n == 0) {
		close(rt->mfd);
		rt->mfd = -1;
		smtp_client_body_end(rt->cl, rt->out);
		flush(rt);
		return true;
	}
	smtp_client_body(rt->cl, chunk, (size_t)n, rt->out);
	conn_write(rt->conn, rt->out->data, rt->out->len); /* untraced */
	buf_reset(rt->out);
	conn_pause(rt->conn);
	conn_await_drain(rt->conn);
	return false;
}

static void
on_drained(void *arg)
{
	struct route *rt = arg;

	if (rt->mfd != -1 && stream(rt))
		conn_resume(rt->conn);
}

static void
start_body(struct route *rt)
{
	char p[4096];
	struct item *it = rt->head;

	if (queue_msg_path(rt->r->deps.qdir, it->e->env.id, p, sizeof(p)) ==
		    -1 ||
	    (rt->mfd = open(p, O_RDONLY | O_CLOEXEC)) == -1) {
		bsnprintf(rt->err, sizeof(rt->err), "queue file %s: %s", p,
			 strerror(errno));
		conn_close(rt->conn, "error");
		return;
	}
	stream(rt); /* the rest follows from on_drained */
}

/* The remote said 220 to STARTTLS: the handshake, as the client. */
static void
start_tls(struct route *rt)
{
	const char *host = rt->ti < rt->nt ? rt->t[rt->ti].host : rt->name;
	char key[400];
	SSL *ssl = tls_client_ssl(rt->r->tls, host,
				  target_text(rt, key, sizeof(key)));

	if (ssl == NULL) {
		snprintf(rt->err, sizeof(rt->err), "cannot set up TLS for %s",
			 host);
		conn_close(rt->conn, "error");
		return;
	}
	rt->ssl = ssl;	/* the conn's: freed with it */
	conn_starttls(rt->conn, ssl, false);
}

static void
on_secured(void *arg)
{
	struct route *rt = arg;
	char tgt[400];

	log_msg(LOGL_INFO, "relay", "id=%s event=tls target=%s version=%s "
		"cipher=%s verified=%s resumed=%s", rt->id,
		target_text(rt, tgt, sizeof(tgt)), conn_tls_version(rt->conn),
		conn_tls_cipher(rt->conn),
		rt->r->cconf.tls == SMTPC_TLS_REQUIRE ? "yes" : "no",
		rt->ssl != NULL && SSL_session_reused(rt->ssl) ? "yes" : "no");
	smtp_client_secured(rt->cl, rt->out);
	flush(rt);
}

static void
handle(struct route *rt, enum smtpc_act act)
{
	switch (act) {
	case SMTPC_NONE:
		break;
	case SMTPC_NEXT:
		send_next(rt);
		break;
	case SMTPC_RESULT:
		item_result(rt);
		break; /* send_next() once saved() */
	case SMTPC_BODY:
		start_body(rt);
		break;
	case SMTPC_STARTTLS:
		start_tls(rt);
		break;
	case SMTPC_CLOSE:
		rt->closed_seen = true;
		rt->ending = true;
		if (rt->conn != NULL && !conn_closing(rt->conn)) {
			flush(rt);
			conn_close(rt->conn, "quit");
		}
		break;
	}
}

static bool
on_line(void *arg, const char *line, size_t len)
{
	struct route *rt = arg;

	log_trace("relay", rt->id, 'S', line, len);
	handle(rt, smtp_client_feed(rt->cl, line, len, rt->out));
	flush(rt);
	return rt->mfd == -1 && rt->wait_e == NULL && !conn_closing(rt->conn);
}

static void
on_toolong(void *arg)
{
	struct route *rt = arg;

	handle(rt, smtp_client_toolong(rt->cl, rt->out));
	flush(rt);
}

static size_t
on_max_line(void *arg)
{
	(void)arg;
	return SMTPC_LINE_MAX;
}

static void
on_timeout(void *arg)
{
	struct route *rt = arg;

	snprintf(rt->err, sizeof(rt->err), "timeout waiting for %s",
		 rt->name);
	conn_close(rt->conn, "timeout");
}

static void try_connect(struct route *rt);

static void
on_closed(void *arg, const char *reason)
{
	struct route *rt = arg;
	char why[QUEUE_TEXT_MAX + 64], tgt[400], tls_err[200];

	/* the conn is still readable inside closed() */
	snprintf(tls_err, sizeof(tls_err), "%s", conn_tls_error(rt->conn));
	rt->conn = NULL;
	rt->ssl = NULL;	/* freed with the conn */
	rt->idle = false;
	event_del(rt->idle_ev);
	if (rt->mfd != -1) {
		close(rt->mfd);
		rt->mfd = -1;
	}
	target_text(rt, tgt, sizeof(tgt));
	if (tls_err[0] != '\0') {
		log_msg(LOGL_WARN, "relay", "id=%s event=tls-failed target=%s "
			"error=\"%s\"", rt->id, tgt, tls_err);
		bsnprintf(rt->err, sizeof(rt->err), "TLS with %s failed: %s",
			  tgt, tls_err);
	}
	if (!rt->closed_seen) {
		bsnprintf(why, sizeof(why), "connection with %s lost (%s)%s%s",
			 tgt, reason, rt->err[0] ? ": " : "", rt->err);
		if (smtp_client_eof(rt->cl, why) == SMTPC_RESULT)
			item_result(rt);
	}
	if (!rt->any_result && rt->head != NULL) {
		const struct smtpc_reply *e = smtp_client_error(rt->cl);

		/* never got to a message: the next target, if any */
		if (e->text[0] != '\0')
			bsnprintf(rt->err, sizeof(rt->err), "%s said: %s",
				 tgt, e->text);
		smtp_client_free(&rt->cl);
		rt->closed_seen = false;
		rt->ending = false;
		rt->ti++;
		try_connect(rt);
		return;
	}
	route_end(rt);
}

static void
connected(struct route *rt)
{
	rt->cl = smtp_client_new(&rt->r->cconf);
	rt->conn = conn_new(rt->r->deps.base, rt->fd, &relay_conn_ops, rt,
			    rt->r->deps.conf->relay_timeout, 2 * SMTPC_LINE_MAX,
			    OUT_MAX);
	rt->fd = -1;
}

static void
connect_cb(evutil_socket_t fd, short what, void *arg)
{
	struct route *rt = arg;
	int err = ETIMEDOUT;
	socklen_t len = sizeof(err);
	char tgt[400];

	event_free(rt->cev);
	rt->cev = NULL;
	if ((what & EV_WRITE) &&
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
	    err == 0) {
		connected(rt);
		return;
	}
	close(rt->fd);
	rt->fd = -1;
	snprintf(rt->err, sizeof(rt->err), "connect to %s: %s",
		 target_text(rt, tgt, sizeof(tgt)), strerror(err));
	log_msg(LOGL_WARN, "relay", "id=%s event=connect-failed target=%s "
		"error=\"%s\"", rt->id, tgt, strerror(err));
	rt->ti++;
	try_connect(rt);
}

/* Connects to target ti, or the next one that answers; route_end if none. */
static void
try_connect(struct route *rt)
{
	struct relay *r = rt->r;
	char tgt[400];

	for (; rt->ti < rt->nt && !r->stopping; rt->ti++) {
		const struct dns_target *t = &rt->t[rt->ti];
		struct timeval tv = {.tv_sec = r->deps.conf->relay_timeout};
		int fd = socket(t->sa.ss_family,
				SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd == -1) {
			snprintf(rt->err, sizeof(rt->err), "socket: %s",
				 strerror(errno));
			continue;
		}
		rt->fd = fd;
		if (connect(fd, (const struct sockaddr *)&t->sa, t->salen) ==
		    0) {
			connected(rt);
			return;
		}
		if (errno == EINPROGRESS) {
			rt->cev = event_new(r->deps.base, fd, EV_WRITE,
					    connect_cb, rt);
			event_add(rt->cev, &tv);
			return;
		}
		snprintf(rt->err, sizeof(rt->err), "connect to %s: %s",
			 target_text(rt, tgt, sizeof(tgt)), strerror(errno));
		log_msg(LOGL_WARN, "relay", "id=%s event=connect-failed "
			"target=%s error=\"%s\"", rt->id, tgt,
			strerror(errno));
		close(fd);
		rt->fd = -1;
	}
	route_end(rt);
}

static time_t
backoff(const struct conf *c, unsigned attempts)
{
	unsigned long iv = c->queue_retry;

	for (unsigned i = 1; i < attempts && iv < c->queue_retry_max; i++)
		iv *= 2;
	return (time_t)(iv < c->queue_retry_max ? iv : c->queue_retry_max);
}

/* The attempt on e is over (no route carries it any more). */
static void
attempt_end(struct relay *r, struct qent *e, const char *err)
{
	const struct conf *c = r->deps.conf;
	time_t now = time(NULL), iv;

	if (e->deleted) {
		finish(r, e, false);
		return;
	}
	if (qenv_pending(&e->env) == 0) {
		finish(r, e, true);
		return;
	}
	for (size_t i = 0; i < e->env.nrcpts; i++)
		if (e->env.rcpts[i].state == QR_PENDING && !e->tried[i]) {
			/* relay.max_connections left some for the next pass */
			save_env(r, e);
			return;
		}
	memset(e->tried, 0, e->env.nrcpts * sizeof(*e->tried));
	e->need_fresh = false;
	e->env.attempts++;
	if (err[0] != '\0')
		snprintf(e->env.error, sizeof(e->env.error), "%s", err);
	if (now - e->env.created >= (time_t)c->queue_max_age) {
		for (size_t i = 0; i < e->env.nrcpts; i++) {
			struct qrcpt *q = &e->env.rcpts[i];
			char last[QUEUE_TEXT_MAX];

			if (q->state != QR_PENDING)
				continue;
			snprintf(last, sizeof(last), "%s",
				 q->reply[0] ? q->reply : e->env.error);
			bsnprintf(q->reply, sizeof(q->reply),
				  "gave up after %u attempts: %s",
				 e->env.attempts, last);
			q->state = QR_FAILED;
		}
		log_msg(LOGL_WARN, "queue", "event=expired msgid=%s "
			"attempts=%u", e->env.id, e->env.attempts);
		finish(r, e, true);
		return;
	}
	iv = backoff(c, e->env.attempts);
	/*
	 * next is in whole seconds and now was rounded down: one more, or a
	 * wake-up just after the second turns would retry up to 1 s early
	 */
	e->env.next = now + iv + 1;
	log_msg(LOGL_INFO, "queue", "event=deferred msgid=%s attempts=%u "
		"next_in=%llds", e->env.id, e->env.attempts, (long long)iv);
	save_env(r, e);
}

static void
route_end(struct route *rt)
{
	struct relay *r = rt->r;
	/* a session that had carried mail: the rest goes to a fresh one */
	bool requeue = rt->nsent > 0 && !r->stopping && !rt->perm;

	while (rt->head != NULL) {
		struct item *it = item_pop(rt);
		bool back = requeue && !it->e->need_fresh;

		for (size_t k = 0; k < it->n; k++) {
			struct smtpc_reply p;

			if (back) {
				item_back(it, k);
				continue;
			}
			/* never tried: the route's error, or retry */
			p.code = rt->perm ? 550 : 0;
			snprintf(p.text, sizeof(p.text), "%s",
				 rt->err[0] ? rt->err : "not attempted");
			if (!r->stopping || rt->perm)
				apply(rt, it, k, &p);
		}
		item_release(r, it, rt->err);
		item_free(it);
	}
	item_free(rt->last);
	event_free(rt->idle_ev);
	if (rt->evicted)
		r->evicting--;
	free(rt->t);
	smtp_client_free(&rt->cl);
	buf_free(&rt->out);
	if (rt->prev != NULL)
		rt->prev->next = rt->next;
	else
		r->routes = rt->next;
	if (rt->next != NULL)
		rt->next->prev = rt->prev;
	r->nroutes--;
	free(rt);
	schedule(r);
	r->deps.check_stopped(r->deps.arg);
}

/* --- pool jobs ------------------------------------------------------ */

/* e->env changed: write it (after the write in flight, if any). */
static void
save_env(struct relay *r, struct qent *e)
{
	e->gen++;
	if (e->saving) {
		e->dirty = true;
		return;
	}
	save_submit(r, e);
}

static void
save_submit(struct relay *r, struct qent *e)
{
	struct rjob *j;

	e->saving = true;
	e->dirty = false;
	j = rjob_new(r, RJ_SAVE);
	j->e = e;
	j->gen = e->gen;
	qenv_copy(&j->env, &e->env);
	wpool_submit(r->deps.pool, &j->job);
}

static void
finish(struct relay *r, struct qent *e, bool bounce)
{
	struct rjob *j;

	if (e->finishing)
		return;
	if (e->saving) { /* after the write in flight, never before it */
		e->finish_wanted = true;
		e->finish_bounce = bounce;
		return;
	}
	e->finishing = true;
	j = rjob_new(r, RJ_FINISH);
	j->e = e;
	qenv_copy(&j->env, &e->env);
	j->bounce = bounce && e->env.sender[0] != '\0' && !e->deleted;
	if (j->bounce) { /* only for recipients that failed for good */
		j->bounce = false;
		for (size_t i = 0; i < e->env.nrcpts; i++)
			if (e->env.rcpts[i].state == QR_FAILED)
				j->bounce = true;
	}
	snprintf(j->bounce_id, sizeof(j->bounce_id), "%016llx",
		 (unsigned long long)r->deps.new_id());
	wpool_submit(r->deps.pool, &j->job);
}

/* Worker: the bounce for j->env, delivered locally or queued. */
static void
make_bounce(struct rjob *j)
{
	const struct relay_deps *d = &j->r->deps;
	char p[4096], *head = xmalloc(HEADERS_MAX), user[ADDR_PATH_MAX + 1];
	struct buf *b = buf_new(HEADERS_MAX + 64 * 1024 +
				j->env.nrcpts * 2 * QUEUE_TEXT_MAX);
	ssize_t n = 0;
	int fd;
	const char *at = strrchr(j->env.sender, '@');
	bool local = at != NULL && conf_is_local_domain(d->conf, at + 1) &&
		     users_normalize(j->env.sender, user, sizeof(user)) == 0;

	if (queue_msg_path(d->qdir, j->env.id, p, sizeof(p)) == 0 &&
	    (fd = open(p, O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, head, HEADERS_MAX);
		close(fd);
	}
	/* local delivery stores the trace header SMTP would have added */
	if (local)
		buf_addstr(b, "Return-Path: <>\n");
	bounce_build(b, d->conf->hostname, &j->env, head,
		     bounce_headers_len(head, n > 0 ? (size_t)n : 0,
					HEADERS_MAX),
		     time(NULL), j->bounce_id);
	free(head);
	if (local) {
		const char *users[1] = {user};
		struct store_delivery del = {
			.sender = "", .users = users, .nusers = 1,
			.fd = -1, .when = time(NULL),
		};
		struct store_delivery *dp = &del;

		del.data = b->data;
		del.len = b->len;
		store_deliver(d->store, &dp, 1);
		j->result = del.res == STORE_OK ? FIN_BOUNCED_LOCALLY
						: FIN_BOUNCE_FAILED;
		if (del.res != STORE_OK)
			snprintf(j->err, sizeof(j->err), "%s", del.error);
	} else {
		struct qenv *be = &j->benv;

		memset(be, 0, sizeof(*be));
		snprintf(be->id, sizeof(be->id), "%s", j->bounce_id);
		be->created = be->next = time(NULL);
		be->size = store_crlf_size(b->data, b->len);
		be->rcpts = xcalloc(1, sizeof(*be->rcpts));
		be->nrcpts = 1;
		be->rcpts[0].state = QR_PENDING;
		snprintf(be->rcpts[0].addr, sizeof(be->rcpts[0].addr), "%s",
			 j->env.sender);
		if (queue_add(d->qdir, be, b->data, -1, b->len, j->err,
			      sizeof(j->err)) == 0) {
			j->bqueued = true;
			j->result = FIN_BOUNCE_QUEUED;
		} else {
			j->result = FIN_BOUNCE_FAILED;
		}
	}
	buf_free(&b);
}

/* Worker thread: one job, but for an RJ_FINISH's removal (false). */
static bool
rjob_run_one(struct rjob *j)
{
	const struct relay_deps *d = &j->r->deps;

	switch (j->kind) {
	case RJ_DNS: {
		struct resolve_opts o;

		resolve_opts_conf(&o, d->conf);
		j->dres = dns_targets(&o, j->rt->name, j->rt->mx, j->rt->port,
				      &j->rt->t, &j->rt->nt, j->err,
				      sizeof(j->err));
		return true;
	}
	case RJ_SAVE:
		if (queue_save(d->qdir, &j->env, j->err, sizeof(j->err)) == -1)
			j->result = FIN_SAVE_FAILED;
		return true;
	case RJ_FINISH:
		j->result = FIN_REMOVED;
		if (j->bounce)
			make_bounce(j);
		/* a bounce that could not be made keeps the entry */
		return j->result == FIN_BOUNCE_FAILED;
	}
	return true;
}

/*
 * Worker thread: a batch of jobs.  The entries they finish are removed
 * together, with one fsync of env/ for the batch.
 */
static void
rjob_run(struct wpool_job **jobs, size_t n)
{
	struct queue_gone gone[WPOOL_BATCH_MAX];
	struct rjob *of[WPOOL_BATCH_MAX];
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		struct rjob *j = (struct rjob *)(void *)jobs[i];

		if (rjob_run_one(j))
			continue;
		gone[m] = (struct queue_gone){.id = j->env.id, .err = j->err,
					      .errsz = sizeof(j->err)};
		of[m++] = j;
	}
	if (m == 0)
		return;
	queue_remove_many(of[0]->r->deps.qdir, gone, m);
	for (size_t i = 0; i < m; i++)
		if (gone[i].result != 0)
			of[i]->result = FIN_REMOVE_FAILED;
}

static void
rjob_done(struct wpool_job *job)
{
	struct rjob *j = (struct rjob *)(void *)job;
	struct relay *r = j->r;
	struct qent *e = j->e;
	char q[QUEUE_TEXT_MAX + 100];

	r->jobs--;
	switch (j->kind) {
	case RJ_DNS:
		if (j->dres != DNS_OK) {
			snprintf(j->rt->err, sizeof(j->rt->err), "%s", j->err);
			j->rt->perm = j->dres == DNS_PERM;
			log_msg(LOGL_WARN, "relay", "id=%s event=dns-failed "
				"name=%s error=%s", j->rt->id, j->rt->name,
				log_q(q, sizeof(q), j->err));
			route_end(j->rt);
			break;
		}
		j->rt->out = buf_new(OUT_MAX);
		try_connect(j->rt);
		break;
	case RJ_SAVE:
		if (j->result == FIN_SAVE_FAILED)
			log_msg(LOGL_ERROR, "queue", "event=save-failed "
				"msgid=%s error=%s", j->env.id,
				log_q(q, sizeof(q), j->err));
		e->saving = false;
		/* a failed save is logged; waiting would not mend it */
		e->saved_gen = j->gen;
		if (e->dirty)
			save_submit(r, e);
		else if (e->finish_wanted) {
			e->finish_wanted = false;
			finish(r, e, e->finish_bounce);
		}
		saved(r, e, false);
		break;
	case RJ_FINISH:
		if (j->result == FIN_BOUNCE_FAILED ||
		    j->result == FIN_REMOVE_FAILED) {
			log_msg(LOGL_ERROR, "queue", "event=%s msgid=%s "
				"error=%s", FIN_WORD[j->result], j->env.id,
				log_q(q, sizeof(q), j->err));
			/* kept on disk: tried again at the next start */
			e->finishing = false;
			e->env.held = true;
			saved(r, e, true);
			save_env(r, e); /* its states, if not written yet */
			break;
		}
		log_msg(LOGL_INFO, "queue", "event=done msgid=%s result=%s%s%s",
			j->env.id, e->deleted ? "deleted" : FIN_WORD[j->result],
			j->bqueued ? " bounce=" : "",
			j->bqueued ? j->benv.id : "");
		saved(r, e, true);
		ent_free(r, e);
		if (j->bqueued)
			relay_queued(r, &j->benv);
		break;
	}
	qenv_free(&j->env);
	qenv_free(&j->benv);
	free(j);
	arm(r);
	r->deps.check_stopped(r->deps.arg);
}

/* --- control -------------------------------------------------------- */

void
relay_control(struct relay *r, const char *cmd, char *reply, size_t size)
{
	char verb[16], id[QUEUE_ID_MAX + 1];
	struct qent *e;
	int n = sscanf(cmd, "%15s %32s", verb, id);

	if (n >= 1 && strcmp(verb, "flush") == 0) {
		size_t k = 0;

		for (e = r->ents; e != NULL; e = e->next) {
			if (e->busy || e->finishing)
				continue;
			if (qenv_pending(&e->env) == 0) {
				/* finished: removed, even after a failure */
				e->env.held = false;
				k++;
			} else if (!e->env.held) {
				e->env.next = 0;
				k++;
			}
		}
		schedule(r);
		snprintf(reply, size, "ok flushed %zu", k);
		return;
	}
	if (n != 2 || (e = ent_find(r, id)) == NULL ||
	    e->finishing) {
		snprintf(reply, size, "error no such message%s%s",
			 n == 2 ? ": " : "", n == 2 ? id : "");
		return;
	}
	if (strcmp(verb, "hold") == 0) {
		e->env.held = true;
		save_env(r, e);
	} else if (strcmp(verb, "release") == 0) {
		e->env.held = false;
		e->env.next = 0;
		save_env(r, e);
		schedule(r);
	} else if (strcmp(verb, "delete") == 0) {
		e->deleted = true;
		if (e->busy == 0)
			finish(r, e, false);
	} else {
		snprintf(reply, size, "error unknown command %s", verb);
		return;
	}
	log_msg(LOGL_INFO, "queue", "event=%s msgid=%s source=owlctl", verb,
		id);
	snprintf(reply, size, "ok %s %s", verb, id);
}

void
relay_shutdown(struct relay *r)
{
	r->stopping = true;
	event_del(r->timer);
	for (struct route *rt = r->routes, *next; rt != NULL; rt = next) {
		next = rt->next;
		if (rt->idle) { /* cached: QUIT, then close */
			rt->idle = false;
			event_del(rt->idle_ev);
			route_quit(rt);
			flush(rt);
		}
		if (rt->conn != NULL) {
			snprintf(rt->err, sizeof(rt->err), "owld stopping");
			conn_close(rt->conn, "shutdown");
		} else if (rt->cev != NULL) {
			event_free(rt->cev);
			rt->cev = NULL;
			close(rt->fd);
			rt->fd = -1;
			route_end(rt);
		}
		/* DNS in flight: ends when the job returns */
	}
}

void
relay_reload(struct relay *r)
{
	for (struct route *rt = r->routes; rt != NULL; rt = rt->next) {
		rt->no_reuse = true;
		if (rt->idle) {
			rt->idle = false;
			event_del(rt->idle_ev);
			route_quit(rt);
			flush(rt);
		}
	}
}

void
relay_stats(const struct relay *r, size_t *queued_r, uint64_t *sent_1m_r)
{
	*queued_r = r->nents;
	*sent_1m_r = rate60_sum(&r->sent, mono_ms() / 1000);
}

uint64_t
relay_sent_total(const struct relay *r)
{
	return r->sent_total;
}
