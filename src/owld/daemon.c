/*
 * daemon - the daemon-wide helpers every session shares (declared in
 * owld.h): new ids, the connection limits at accept, the login name and
 * password check, the failed-login penalty and delay, sending and tracing
 * replies, and the check that ends a graceful stop.  None of them fails:
 * a limit says why a client may not come in, a login check says whether
 * it succeeded; what cannot be had (memory) aborts, as xcalloc does.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../auth/penalty.h"
#include "../lib/buf.h"
#include "../lib/clock.h"
#include "../lib/log.h"
#include "../net/anvil.h"
#include "../net/conn.h"
#include "../relay/relay.h"
#include "owld.h"
#include "sess.h"

uint64_t
owld_new_id(void)
{
	static uint64_t next;

	if (next == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		/* time-based start: ids differ across restarts too */
		next = ((uint64_t)ts.tv_sec << 24) ^ (uint64_t)ts.tv_nsec;
	}
	return next++;
}

/*
 * The mailbox a login name means: "user@domain" as it is, or a bare
 * local part when exactly one local domain has that user.  Returns false
 * if the name cannot be a user at all (no lookup then).
 */
bool
owld_login_name(struct owld *d, const char *given, char *out, size_t size)
{
	const struct conf *c = d->conf;
	char name[ADDR_PATH_MAX + 2], dom[ADDR_DOMAIN_MAX + 1];
	int found = 0;

	if (strchr(given, '@') != NULL) {
		if (users_normalize(given, out, size) == 0)
			return true;
		snprintf(out, size, "%s", given); /* for the log */
		return false;
	}
	for (size_t i = 0; conf_domain(c, i, dom, sizeof(dom)); i++) {
		char canon[ADDR_PATH_MAX + 1];

		if (bsnprintf(name, sizeof(name), "%s@%s", given, dom) != -1 &&
		    users_normalize(name, canon, sizeof(canon)) == 0 &&
		    users_lookup(d->users, canon) != NULL &&
		    found++ == 0)
			snprintf(out, size, "%s", canon);
	}
	if (found == 1)
		return true;
	/* none or ambiguous: fails like an unknown user */
	snprintf(out, size, "%s", given);
	return false;
}

void
owld_cred_prepare(struct owld *d, struct owld_cred *c, const char *given,
		  const char *pass)
{
	const char *hash = NULL, *err;

	/* a failed re-read keeps the last good copy (and logs itself) */
	c->temp = users_refresh(d->users, &err) == -1;
	if (owld_login_name(d, given, c->user, sizeof(c->user)))
		hash = users_lookup(d->users, c->user);
	c->exists = hash != NULL;
	if (hash != NULL)
		snprintf(c->hash, sizeof(c->hash), "%s", hash);
	snprintf(c->pass, sizeof(c->pass), "%s", pass);
}

void
owld_cred_check(struct owld_cred *c)
{
	c->ok = users_verify(c->exists ? c->hash : users_dummy_hash(),
			     c->pass) &&
		c->exists;
	explicit_bzero(c->pass, sizeof(c->pass));
}

enum anvil_res
owld_admit(struct owld *d, const char *peer, unsigned *count_r)
{
	return anvil_connect(d->anvil, peer, mono_ms() / 1000, count_r);
}

void
owld_release(struct owld *d, const char *peer)
{
	anvil_disconnect(d->anvil, peer);
}

/* A timer; out of memory for one is fatal, as for a connection. */
static struct event *
new_timer(struct owld *d, void (*cb)(int, short, void *), void *arg)
{
	struct event *ev = evtimer_new(d->base, cb, arg);

	if (ev == NULL) {
		fprintf(stderr, "owld: out of memory for a timer\n");
		abort();
	}
	return ev;
}

struct event *
owld_penalty_wait(struct owld *d, const char *proto, const char *id,
		  const char *peer, const char *user, bool *logged,
		  void (*cb)(int, short, void *), void *arg)
{
	uint64_t now = mono_ms(), nb, wait;
	unsigned fails;
	struct timeval tv;
	struct event *ev;
	char q[600];

	nb = penalty_not_before(d->penalty, peer, user, now, &fails);
	if (nb <= now)
		return NULL;
	wait = nb - now;
	if (!*logged)
		log_msg(LOGL_WARN, proto, "id=%s peer=%s event=auth-penalty "
			"user=%s failures=%u delay=%llums", id, peer,
			log_q(q, sizeof(q), user), fails,
			(unsigned long long)wait);
	*logged = true;
	tv.tv_sec = (time_t)(wait / 1000);
	tv.tv_usec = (suseconds_t)(wait % 1000) * 1000;
	ev = new_timer(d, cb, arg);
	evtimer_add(ev, &tv);
	return ev;
}

void
owld_penalty_record(struct owld *d, const char *peer, const char *user,
		    bool ok)
{
	if (ok)
		penalty_succeeded(d->penalty, peer, user);
	else
		penalty_failed(d->penalty, peer, user, mono_ms());
}

struct event *
owld_fail_delay(struct owld *d, void (*cb)(int, short, void *), void *arg)
{
	struct timeval tv = {
		.tv_sec = d->conf->auth_fail_delay / 1000,
		.tv_usec = (d->conf->auth_fail_delay % 1000) * 1000,
	};
	struct event *ev = new_timer(d, cb, arg);

	evtimer_add(ev, &tv);
	return ev;
}

void
owld_trace_out(const char *proto, const char *id, const struct buf *out)
{
	if (log_trace_enabled()) {
		const char *p = out->data, *end = p + out->len;

		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) + 1
				      : (size_t)(end - p);

			log_trace(proto, id, 'S', p, n);
			p += n;
		}
	}
}

void
owld_send(struct conn *c, const char *proto, const char *id, struct buf *out)
{
	if (out->len == 0)
		return;
	owld_trace_out(proto, id, out);
	conn_write(c, out->data, out->len);
	buf_reset(out);
}

bool
owld_full(const struct owld *d, int pool)
{
	unsigned cap = pool == SESS_POOL_IMAP ? d->conf->imap_max_connections
					      : d->conf->max_connections;

	return d->npool[pool] >= cap;
}

void
owld_check_stopped(struct owld *d)
{
	if (d->stopping && d->nsessions == 0 &&
	    !relay_busy(d->relay) && wpool_pending(d->pool) == 0)
		event_base_loopbreak(d->base);
}
