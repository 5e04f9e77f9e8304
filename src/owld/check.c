/*
 * check - the inbound checks' threads and the message edit they end with
 * (see check.h).  Fails soft: a spool that cannot be read or written
 * leaves the message as it came, without our Authentication-Results, and
 * says so in the log; the verdict is then the checks' own.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/clock.h"
#include "../lib/addr.h"
#include "../lib/conf.h"
#include "../lib/log.h"
#include "../lib/wpool.h"
#include "../msgauth/authres.h"
#include "../msgauth/hfield.h"
#include "../relay/dnscache.h"
#include "../relay/resolve.h"
#include "../store/fsops.h"
#include "../store/queue.h"
#include "../store/store.h"
#include "check.h"

#define HEAD_MAX (DKIM_HEADERS_MAX + 1) /* a header section we read */
#define CHUNK (64 * 1024)
#define SPANS_FEW 16	/* forged fields removed without an allocation */
#define PSL_MAX (16 * 1024 * 1024)

struct check_ctx {
	struct wpool *pool;
	struct event *ev;
	struct inbound_policy pol;
	struct psl *psl;
	struct dnscache *cache;		/* NULL: dns.cache_size = 0 */
	struct resolve_opts ro;
	char qdir[4096];
	char receiver[256];
	char authserv_id[256];
	unsigned timeout_ms;
};

struct check {
	struct wpool_job job;
	struct check_ctx *x;
	check_done_fn *done;
	void *arg;
	bool forgotten;
	struct inbound_in in;
	char helo[256], mailfrom[ADDR_PATH_MAX + 1], msgid[32];
	struct check_msg m;
	struct inbound_verdict v;
};

/* --- the context -------------------------------------------------- */

static void
pool_ready(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	wpool_complete(((struct check_ctx *)arg)->pool);
}

/* The public suffix list's text, parsed; NULL with *error_r. */
static struct psl *
load_psl(const char *path, const char **error_r)
{
	struct psl *psl = NULL;
	struct stat st;
	char *text;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1 || st.st_size > PSL_MAX) {
		*error_r = "cannot read inbound.public_suffix_list";
		if (fd != -1)
			close(fd);
		return NULL;
	}
	text = xmalloc((size_t)st.st_size + 1);
	if (read(fd, text, (size_t)st.st_size) != st.st_size) {
		*error_r = "cannot read inbound.public_suffix_list";
		free(text);
		close(fd);
		return NULL;
	}
	close(fd);
	if (psl_load(text, (size_t)st.st_size, &psl, error_r) == -1)
		psl = NULL;
	free(text);
	return psl;
}

static void
set_policy(struct check_ctx *x, const struct conf *c)
{
	x->pol.mode = c->inbound_checks == CONF_INBOUND_ENFORCE
			      ? INBOUND_ENFORCE
			      : INBOUND_TAG;
	x->pol.spf_reject = c->inbound_spf_fail == CONF_SPF_FAIL_REJECT;
	x->pol.spf = x->pol.dkim = x->pol.dmarc = true;
	x->pol.dkim_lim.max_sigs = c->dkim_max_sigs;
	x->pol.dkim_lim.rsa_min_bits = c->dkim_min_bits;
	x->pol.dkim_lim.rsa_max_bits = c->dkim_max_bits;
	x->pol.dkim_lim.max_h = DKIM_H_MAX;
	x->pol.spf_lim = (struct spf_limits){
		.max_lookups = c->spf_max_lookups,
		.max_void = c->spf_max_void,
		.max_mx_names = c->spf_max_mx_names,
		.max_ptr_names = c->spf_max_ptr_names,
	};
}

struct check_ctx *
check_ctx_new(struct event_base *base, const struct conf *c,
	      const char **error_r)
{
	struct check_ctx *x;

	*error_r = NULL;
	if (c->inbound_checks == CONF_INBOUND_OFF)
		return NULL;
	x = xcalloc(1, sizeof(*x));
	set_policy(x, c);
	if ((x->psl = load_psl(c->inbound_psl, error_r)) == NULL)
		goto fail;
	x->cache = dnscache_from_conf(c);
	resolve_opts_conf(&x->ro, c);
	if ((x->pool = wpool_new(c->inbound_workers, error_r)) == NULL)
		goto fail;
	x->ev = event_new(base, wpool_fd(x->pool), EV_READ | EV_PERSIST,
			  pool_ready, x);
	event_add(x->ev, NULL);
	snprintf(x->qdir, sizeof(x->qdir), "%s/queue", c->data_dir);
	snprintf(x->receiver, sizeof(x->receiver), "%s", c->hostname);
	snprintf(x->authserv_id, sizeof(x->authserv_id), "%s",
		 c->inbound_authserv_id[0] != '\0' ? c->inbound_authserv_id
						   : c->hostname);
	x->timeout_ms = c->inbound_timeout * 1000;
	return x;
fail:
	check_ctx_free(&x);
	return NULL;
}

void
check_ctx_free(struct check_ctx **xp)
{
	struct check_ctx *x = *xp;

	if (x == NULL)
		return;
	wpool_free(&x->pool);	/* the sessions are gone: none in flight */
	if (x->ev != NULL)
		event_free(x->ev);
	psl_free(&x->psl);
	dnscache_free(&x->cache);
	free(x);
	*xp = NULL;
}

void
check_ctx_stats(const struct check_ctx *x, char *out, size_t size)
{
	struct dnscache_stats st = {0};

	if (x == NULL) {
		snprintf(out, size, "checks=off");
		return;
	}
	if (x->cache != NULL)
		dnscache_stats(x->cache, &st);
	snprintf(out, size, "checks=%s dns_hits=%llu dns_misses=%llu "
		 "dns_entries=%zu dns_bytes=%zu",
		 x->pol.mode == INBOUND_ENFORCE ? "enforce" : "tag",
		 (unsigned long long)st.hits, (unsigned long long)st.misses,
		 st.entries, st.bytes);
}

/* --- on the thread: reading -------------------------------------- */

/* The first octets of the message (up to HEAD_MAX) into *have. */
static char *
read_head(const struct check_msg *m, size_t *have)
{
	size_t want = m->len < HEAD_MAX ? m->len : HEAD_MAX;
	char *head;
	ssize_t n;

	if (m->fd == -1) {
		*have = m->msg->len;
		return m->msg->data;
	}
	head = xmalloc(want + 1);
	n = pread(m->fd, head, want, 0);
	if (n < 0) {
		free(head);
		return NULL;
	}
	*have = (size_t)n;
	return head;
}

static int
feed_body(struct inbound *in, const struct check_msg *m, const char *head,
	  size_t have, size_t hlen)
{
	char *chunk;
	size_t off;

	if (m->fd == -1) {
		inbound_body(in, head + hlen, have - hlen);
		return 0;
	}
	inbound_body(in, head + hlen, have - hlen);
	chunk = xmalloc(CHUNK);
	for (off = have; off < m->len;) {
		ssize_t n = pread(m->fd, chunk,
				  m->len - off < CHUNK ? m->len - off : CHUNK,
				  (off_t)off);

		if (n <= 0) {
			free(chunk);
			return -1;
		}
		inbound_body(in, chunk, (size_t)n);
		off += (size_t)n;
	}
	free(chunk);
	return 0;
}

/* Every question asked until the checks are done or the time is up. */
static void
ask_all(struct check *k, struct inbound *in)
{
	uint64_t end = mono_ms() + k->x->timeout_ms;
	struct dnsq_question q;
	char err[200], qe[300];

	while (inbound_next(in, &q)) {
		struct dnsq_answer a = {.status = DNSQ_TEMP};

		if (mono_ms() < end &&
		    resolve_lookup(k->x->cache, &k->x->ro, &q, &a, err,
				   sizeof(err)) == DNSQ_TEMP)
			log_msg(LOGL_WARN, "check", "event=dns-trouble "
				"msgid=%s question=\"%s %s\" error=%s",
				k->msgid,
				dnsq_type_name(q.type), q.name,
				log_q(qe, sizeof(qe), err));
		inbound_answer(in, &a);
		dnsq_answer_free(&a);
	}
}

/* --- on the thread: the new text --------------------------------- */

struct edit {
	size_t ins;			/* where the field goes */
	const struct buf *field;
	struct authres_span few[SPANS_FEW];
	struct authres_span *spans;	/* removed, in order: few or malloc'd */
	size_t nspans;
};

/* Calls out(p, n) for the text of [from, to) of head less the spans. */
static int
emit_head(const struct edit *e, const char *head, size_t from, size_t to,
	  int (*out)(void *, const char *, size_t), void *arg)
{
	size_t at = from;

	for (size_t i = 0; i < e->nspans; i++) {
		const struct authres_span *s = &e->spans[i];

		if (s->off < at || s->off + s->len > to)
			continue;
		if (out(arg, head + at, s->off - at) == -1)
			return -1;
		at = s->off + s->len;
	}
	return out(arg, head + at, to - at);
}

static int
to_buf(void *arg, const char *p, size_t n)
{
	return buf_add(arg, p, n);
}

static int
to_fd(void *arg, const char *p, size_t n)
{
	return fsops_write_all(*(int *)arg, p, n);
}

/* The spool's tail past the head, copied to fd. */
static int
copy_rest(int from, size_t off, size_t len, int fd)
{
	char *chunk = xmalloc(CHUNK);

	while (off < len) {
		ssize_t n = pread(from, chunk,
				  len - off < CHUNK ? len - off : CHUNK,
				  (off_t)off);

		if (n <= 0 || fsops_write_all(fd, chunk, (size_t)n) == -1) {
			free(chunk);
			return -1;
		}
		off += (size_t)n;
	}
	free(chunk);
	return 0;
}

static size_t
removed_crlf(const struct edit *e, const char *head)
{
	size_t n = 0;

	for (size_t i = 0; i < e->nspans; i++)
		n += store_crlf_size(head + e->spans[i].off, e->spans[i].len);
	return n;
}

/* Writes the edited message (its first have octets are head). */
static int
rewrite(struct check *k, const struct edit *e, const char *head, size_t have)
{
	struct check_msg *m = &k->m;
	struct buf *b;
	int fd;

	if (m->fd == -1) {
		b = buf_new(m->msg->len + e->field->len);
		if (to_buf(b, head, e->ins) == -1 ||
		    to_buf(b, e->field->data, e->field->len) == -1 ||
		    emit_head(e, head, e->ins, have, to_buf, b) == -1) {
			buf_free(&b);
			return -1;
		}
		buf_free(&m->msg);
		m->msg = b;
		return 0;
	}
	if ((fd = queue_spool_open(k->x->qdir)) == -1)
		return -1;
	if (to_fd(&fd, head, e->ins) == -1 ||
	    to_fd(&fd, e->field->data, e->field->len) == -1 ||
	    emit_head(e, head, e->ins, have, to_fd, &fd) == -1 ||
	    copy_rest(m->fd, have, m->len, fd) == -1) {
		close(fd);
		return -1;
	}
	close(m->fd);
	m->fd = fd;
	m->crlf_len += store_crlf_size(e->field->data, e->field->len);
	m->crlf_len -= removed_crlf(e, head);
	m->len = m->len + e->field->len;
	for (size_t i = 0; i < e->nspans; i++)
		m->len -= e->spans[i].len;
	return 0;
}

static void
add_results(struct check *k, struct inbound *in, const char *head,
	    size_t have, size_t hlen)
{
	struct buf *field = buf_new(4096);
	struct edit e = {.field = field};

	e.ins = hfield_insert_at(head, hlen);
	e.spans = e.few;
	e.nspans = authres_ours(head, hlen, k->x->authserv_id, e.few,
				SPANS_FEW);
	if (e.nspans > SPANS_FEW) {
		/* as many as the header holds (it is bounded): all go */
		e.spans = xcalloc(e.nspans, sizeof(*e.spans));
		e.nspans = authres_ours(head, hlen, k->x->authserv_id,
					e.spans, e.nspans);
	}
	if (inbound_authres(in, field) == -1 ||
	    rewrite(k, &e, head, have) == -1)
		log_msg(LOGL_WARN, "check", "event=no-results msgid=%s "
			"error=\"%s\"", k->msgid, strerror(errno));
	if (e.spans != e.few)
		free(e.spans);
	buf_free(&field);
}

static void
run_one(struct check *k)
{
	bool owned = k->m.fd != -1; /* head was read from the spool */
	size_t have = 0, hlen;
	struct inbound *in;
	char *head;

	if ((head = read_head(&k->m, &have)) == NULL) {
		log_msg(LOGL_WARN, "check", "event=unchecked msgid=%s "
			"error=\"spool: %s\"", k->msgid, strerror(errno));
		return;
	}
	hlen = hfield_section_len(head, have);
	in = inbound_new(&k->x->pol, &k->in, head, hlen);
	if (in == NULL || feed_body(in, &k->m, head, have, hlen) == -1) {
		log_msg(LOGL_WARN, "check", "event=unchecked msgid=%s "
			"error=\"%s\"", k->msgid,
			in == NULL ? "no memory" : strerror(errno));
		goto out;
	}
	inbound_body_end(in);
	ask_all(k, in);
	inbound_verdict(in, &k->v);
	if (k->v.action == INBOUND_ACCEPT ||
	    k->v.action == INBOUND_QUARANTINE)
		add_results(k, in, head, have, hlen);
out:
	inbound_free(&in);
	if (owned)
		free(head);
}

static void
check_run(struct wpool_job **jobs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		run_one((struct check *)(void *)jobs[i]);
}

/* --- on the loop ---------------------------------------------------- */

static void
check_done(struct wpool_job *job)
{
	struct check *k = (struct check *)(void *)job;

	if (k->forgotten) {
		check_free(&k);
		return;
	}
	k->done(k, k->arg);
}

static void
client_ip(struct inbound_in *in, const char *peer)
{
	if (inet_pton(AF_INET, peer, in->ip) == 1) {
		in->family = AF_INET;
		return;
	}
	in->family = AF_INET6;
	if (inet_pton(AF_INET6, peer, in->ip) != 1)
		memset(in->ip, 0, sizeof(in->ip));
}

struct check *
check_start(struct check_ctx *x, const struct check_who *w,
	    struct check_msg *m, check_done_fn *done, void *arg)
{
	struct check *k = xcalloc(1, sizeof(*k));

	k->x = x;
	k->done = done;
	k->arg = arg;
	k->job.run = check_run;
	k->job.done = check_done;
	k->job.solo = true;	/* one message per thread: DNS waits */
	snprintf(k->helo, sizeof(k->helo), "%s", w->helo);
	snprintf(k->mailfrom, sizeof(k->mailfrom), "%s", w->mailfrom);
	snprintf(k->msgid, sizeof(k->msgid), "%s", w->msgid);
	client_ip(&k->in, w->peer);
	k->in.helo = k->helo;
	k->in.mailfrom = k->mailfrom;
	k->in.receiver = x->receiver;
	k->in.authserv_id = x->authserv_id;
	k->in.now = (int64_t)time(NULL);
	k->in.pct_roll = arc4random_uniform(100);
	k->in.psl = x->psl;
	k->m = *m;
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	wpool_submit(x->pool, &k->job);
	return k;
}

void
check_forget(struct check *k)
{
	k->forgotten = true;
}

const struct inbound_verdict *
check_verdict(const struct check *k)
{
	return &k->v;
}

void
check_take_msg(struct check *k, struct check_msg *m)
{
	*m = k->m;
	memset(&k->m, 0, sizeof(k->m));
	k->m.fd = -1;
}

void
check_free(struct check **kp)
{
	struct check *k = *kp;

	if (k == NULL)
		return;
	buf_free(&k->m.msg);
	if (k->m.fd != -1)
		close(k->m.fd);
	free(k);
	*kp = NULL;
}
