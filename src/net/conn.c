/*
 * conn - see conn.h.
 */
#include "conn.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <zlib.h>

#include "../lib/buf.h"
#include "../lib/clock.h"
#include "framer.h"

struct conn {
	struct bufferevent *bev;	/* the socket's, or the TLS filter */
	struct bufferevent *under;	/* under TLS: the socket's */
	struct evbuffer_cb_entry *under_cb;
	struct bufferevent *mid;	/* under the DEFLATE filter: the socket's
					   or the TLS filter */
	struct evbuffer_cb_entry *mid_cb;
	struct event *reaper;
	const struct conn_ops *ops;
	void *arg;
	size_t in_max, out_max;
	unsigned timeout_s;
	bool paused;
	bool out_full;		/* not reading: the client reads no replies */
	struct framer fr;	/* the line framing of the input */
	bool eof;
	bool closing;
	bool reaped;
	bool feeding;		/* inside process() */
	bool want_drain;	/* call ops->drained at the low watermark */
	const char *reason;
	/* TLS */
	SSL *ssl;		/* the filter's, once switched */
	SSL *tls_next;		/* conn_starttls() from inside a line */
	bool tls_server;
	bool secured;		/* handshake done */
	bool notified;		/* close_notify queued */
	size_t discarded;
	char tls_error[200];
	unsigned hs_secs;	/* a handshake's deadline */
	bool hs_running;	/* switched, not secured yet */
	/* the request deadline (conn_deadline); ms on the monotonic clock */
	struct event *dl_ev;
	int64_t dl_at;		/* when it falls; 0: none */
	int64_t dl_fire;	/* when dl_ev fires, if pending */
	unsigned dl_secs, dl_rate;
	const char *dl_why;
	size_t in_seen;		/* input octets at the end of process() */
	/* the session deadline (conn_session_deadline) */
	struct event *sess_ev;
	const char *sess_why;
};

static void process(struct conn *c);
static void dl_start(struct conn *c);

static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd, (void)what;
	/* the owner may still ask for the TLS details */
	c->ops->closed(c->arg, c->reason ? c->reason : "closed");
	if (c->under_cb != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_output(c->under),
					 c->under_cb);
	if (c->mid_cb != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_output(c->mid),
					 c->mid_cb);
	bufferevent_free(c->bev);
	if (c->ssl == NULL && c->tls_next != NULL)
		SSL_free(c->tls_next);
	event_free(c->dl_ev);
	if (c->sess_ev != NULL)
		event_free(c->sess_ev);
	event_free(c->reaper);
	free(c);
}

/* Schedules the end; safe from inside any callback. */
static void
finish(struct conn *c, const char *reason)
{
	if (c->reaped)
		return;
	c->reaped = true;
	if (c->reason == NULL)
		c->reason = reason;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	event_del(c->dl_ev);
	if (c->sess_ev != NULL)
		event_del(c->sess_ev);
	event_active(c->reaper, EV_TIMEOUT, 0);
}

/* Closing: finishes once everything queued is on the wire. */
static void
close_step(struct conn *c)
{
	if (c->reaped ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		return; /* write_cb calls again */
	if (c->mid != NULL &&
	    evbuffer_get_length(bufferevent_get_output(c->mid)) > 0)
		return; /* mid_out_cb calls again */
	if (c->under != NULL) {
		if (c->secured && !c->notified) {
			c->notified = true;
			(void)SSL_shutdown(c->ssl); /* close_notify */
			ERR_clear_error();
		}
		if (evbuffer_get_length(bufferevent_get_output(c->under)) > 0)
			return; /* under_out_cb calls again */
	}
	finish(c, c->reason);
}

/* The socket's output under TLS changed: a close may be waiting for it. */
static void
under_out_cb(struct evbuffer *b, const struct evbuffer_cb_info *info,
	     void *arg)
{
	struct conn *c = arg;

	if (info->n_deleted > 0 && c->closing && !c->reaped &&
	    evbuffer_get_length(b) == 0)
		close_step(c);
}

/* The output under DEFLATE changed: a close may be waiting for it. */
static void
mid_out_cb(struct evbuffer *b, const struct evbuffer_cb_info *info,
	   void *arg)
{
	struct conn *c = arg;

	if (info->n_deleted > 0 && c->closing && !c->reaped &&
	    evbuffer_get_length(b) == 0)
		close_step(c);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (c->closing) {
		close_step(c);
		return;
	}
	if (c->out_full) {
		c->out_full = false; /* see process() */
		if (!c->paused && !c->eof)
			bufferevent_enable(c->bev, EV_READ);
	}
	if (c->want_drain) {
		c->want_drain = false;
		bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
		c->ops->drained(c->arg);
		return;
	}
	process(c); /* output drained below out_max: feed again */
}

/* Rate mode: what arrived since the last process() buys time. */
static void
dl_credit(struct conn *c)
{
	size_t len = evbuffer_get_length(bufferevent_get_input(c->bev));
	int64_t cap;

	if (c->dl_rate == 0 || c->dl_at == 0 || len <= c->in_seen)
		return;
	cap = (int64_t)mono_ms() + (int64_t)c->dl_secs * 1000;
	c->dl_at += (int64_t)(len - c->in_seen) * 1000 / c->dl_rate;
	if (c->dl_at > cap)
		c->dl_at = cap;
	c->in_seen = len;
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	dl_credit(arg);
	process(arg);
}

/* A deadline passed: the owner says why, then the connection closes. */
static void
missed(struct conn *c, const char *why)
{
	if (c->closing || c->reaped)
		return;
	c->reason = why;
	if (c->ops->deadline != NULL)
		c->ops->deadline(c->arg, why);
	else
		c->ops->timeout(c->arg);
	if (!c->closing)
		conn_close(c, why);
}

/* The handshake failed or the peer left during it: nothing can be said. */
static void
handshake_failed(struct conn *c, struct bufferevent *bev, short what)
{
	unsigned long e, first = 0;
	long v = SSL_get_verify_result(c->ssl);
	char t[160];

	while ((e = bufferevent_get_openssl_error(bev)) != 0)
		if (first == 0)
			first = e;
	if (v != X509_V_OK) {
		snprintf(c->tls_error, sizeof(c->tls_error),
			 "certificate verify failed: %s",
			 X509_verify_cert_error_string(v));
	} else if (first != 0) {
		ERR_error_string_n(first, t, sizeof(t));
		snprintf(c->tls_error, sizeof(c->tls_error), "%s", t);
	} else if (what & BEV_EVENT_TIMEOUT) {
		snprintf(c->tls_error, sizeof(c->tls_error),
			 "handshake timed out");
	} else if (what & BEV_EVENT_EOF) {
		snprintf(c->tls_error, sizeof(c->tls_error),
			 "connection closed during the handshake");
	} else {
		snprintf(c->tls_error, sizeof(c->tls_error),
			 "handshake failed");
	}
	ERR_clear_error();
	finish(c, what & BEV_EVENT_TIMEOUT ? "timeout" : "tls-failed");
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	/*
	 * During the handshake an EOF or error of the socket (the peer
	 * connected and left, or sent half a ClientHello) ends the
	 * connection now.  Taken as an ordinary EOF it would wait to flush
	 * output that only the handshake could send (the greeting queued
	 * under implicit TLS), holding the session and its socket in
	 * CLOSE-WAIT until the idle timeout.
	 */
	if (c->hs_running &&
	    (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))) {
		handshake_failed(c, bev, what);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (c->closing) {
			finish(c, c->reason);
		} else {
			c->reason = "timeout";
			c->ops->timeout(c->arg);
			if (!c->closing)
				conn_close(c, "timeout");
		}
		return;
	}
	if (what & BEV_EVENT_EOF) {
		c->eof = true;
		bufferevent_disable(c->bev, EV_READ);
		process(c);
		return;
	}
	if (what & BEV_EVENT_CONNECTED) {
		c->secured = true;
		c->hs_running = false;
		dl_start(c);
		if (c->ops->secured != NULL && !c->closing)
			c->ops->secured(c->arg);
		return;
	}
	/* a reset or other error: nothing more can be said */
	finish(c, "error");
}

/* Sets dl_ev to fire at dl_at. */
static void
dl_arm(struct conn *c)
{
	int64_t left = c->dl_at - (int64_t)mono_ms();
	struct timeval tv;

	if (left < 0)
		left = 0;
	tv.tv_sec = (time_t)(left / 1000);
	tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
	c->dl_fire = c->dl_at;
	event_add(c->dl_ev, &tv);
}

/*
 * Ready for a new line (line mode): its deadline starts.  The timer is
 * moved only when the deadline comes earlier than it fires; a later one is
 * met when it fires (dl_cb), so the line after line of a pipelined group
 * costs a clock read, not a timer change.  A handshake's deadline and a
 * request's (rate mode) run on from when they were set.
 */
static void
dl_restart(struct conn *c)
{
	if (c->hs_running || (c->dl_rate > 0 && c->dl_secs > 0))
		return;
	if (c->dl_secs == 0) {
		c->dl_at = 0;
		event_del(c->dl_ev);
		return;
	}
	c->dl_at = (int64_t)mono_ms() + (int64_t)c->dl_secs * 1000;
	if (!event_pending(c->dl_ev, EV_TIMEOUT, NULL) ||
	    c->dl_at < c->dl_fire)
		dl_arm(c);
}

/* Byte-stream mode: input came; the request's deadline starts unless it
 * runs already. */
static void
dl_input(struct conn *c)
{
	if (c->dl_secs == 0 || c->dl_rate != 0 || c->hs_running ||
	    c->dl_at != 0)
		return;
	c->dl_at = (int64_t)mono_ms() + (int64_t)c->dl_secs * 1000;
	if (!event_pending(c->dl_ev, EV_TIMEOUT, NULL) ||
	    c->dl_at < c->dl_fire)
		dl_arm(c);
}

/* Starts the deadline conn_deadline() set, from now (byte-stream mode:
 * from the next input). */
static void
dl_start(struct conn *c)
{
	if (c->ops->bytes != NULL && c->dl_rate == 0) {
		c->dl_at = 0;
		if (c->dl_secs == 0)
			event_del(c->dl_ev);
		return;
	}
	if (c->dl_secs == 0 || c->dl_rate == 0) {
		dl_restart(c);
		return;
	}
	c->in_seen = evbuffer_get_length(bufferevent_get_input(c->bev));
	c->dl_at = (int64_t)mono_ms() + (int64_t)c->dl_secs * 1000;
	dl_arm(c);
}

static void
dl_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd, (void)what;
	if (c->reaped || c->dl_at == 0)
		return;
	if ((int64_t)mono_ms() < c->dl_at) {
		dl_arm(c); /* moved on since it was set */
		return;
	}
	if (c->hs_running) {
		/* closing too: a 421 queued meanwhile needs the handshake */
		handshake_failed(c, c->bev, BEV_EVENT_TIMEOUT);
		return;
	}
	if (c->closing || c->paused)
		return; /* paused: the owner works; conn_resume restarts it */
	missed(c, c->dl_why);
}

static void
sess_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct timeval tv = {1, 0};

	(void)fd, (void)what;
	if (c->paused) {
		/* a job in flight (the login itself): its answer first */
		event_add(c->sess_ev, &tv);
		return;
	}
	missed(c, c->sess_why);
}

void
conn_deadline(struct conn *c, unsigned secs, unsigned rate, const char *why)
{
	if (c->reaped)
		return;
	c->dl_secs = secs;
	c->dl_rate = rate;
	c->dl_why = why;
	if (!c->hs_running)
		dl_start(c); /* else once the handshake is done */
}

void
conn_session_deadline(struct conn *c, unsigned secs, const char *why)
{
	struct timeval tv = {.tv_sec = secs};

	if (c->reaped)
		return;
	c->sess_why = why;
	if (secs == 0) {
		if (c->sess_ev != NULL)
			event_del(c->sess_ev);
		return;
	}
	/* made on first use: inbound SMTP never has one */
	if (c->sess_ev == NULL &&
	    (c->sess_ev = evtimer_new(bufferevent_get_base(c->bev), sess_cb,
				      c)) == NULL) {
		fprintf(stderr, "owld: out of memory for a timer\n");
		abort();
	}
	event_add(c->sess_ev, &tv);
}

void
conn_handshake_timeout(struct conn *c, unsigned secs)
{
	c->hs_secs = secs;
}

struct conn *
conn_new(struct event_base *base, int fd, const struct conn_ops *ops,
	 void *arg, unsigned timeout_s, size_t in_max, size_t out_max)
{
	struct conn *c = xcalloc(1, sizeof(*c));
	struct timeval tv = {.tv_sec = timeout_s};
	int one = 1;

	/*
	 * Replies are built whole before they are written, so Nagle has
	 * nothing to merge; it would only hold back the second of two writes
	 * (POP3's +OK line, then the text) until the client's delayed ACK.
	 * Not a TCP socket (owlctl's): the call fails, harmlessly.
	 */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->ops = ops;
	c->arg = arg;
	c->in_max = in_max;
	c->out_max = out_max;
	c->timeout_s = timeout_s;
	c->hs_secs = timeout_s;
	c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->reaper = event_new(base, -1, 0, reap_cb, c);
	c->dl_ev = evtimer_new(base, dl_cb, c);
	if (c->bev == NULL || c->reaper == NULL || c->dl_ev == NULL) {
		fprintf(stderr, "owld: out of memory for a connection\n");
		abort();
	}
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, in_max);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return c;
}

void
conn_write(struct conn *c, const void *data, size_t len)
{
	struct evbuffer *out;

	if (c->reaped)
		return;
	out = bufferevent_get_output(c->bev);
	/*
	 * A plain socket (no TLS, no DEFLATE) with nothing queued: send now.  A reply then costs
	 * one send() instead of adding the write event, a loop pass, writev
	 * and removing the event (two epoll_ctl).  What the socket does not
	 * take is queued as before; an error is left for the bufferevent to
	 * meet on its next write.
	 */
	if (c->under == NULL && c->mid == NULL && len > 0 &&
	    evbuffer_get_length(out) == 0) {
		ssize_t n = send(bufferevent_getfd(c->bev), data, len,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n > 0) {
			data = (const char *)data + n;
			len -= (size_t)n;
		}
	}
	if (len > 0)
		bufferevent_write(c->bev, data, len);
}

void
conn_pause(struct conn *c)
{
	c->paused = true;
	/*
	 * No reading (and no idle timeout) while the owner works.  Inside
	 * process() that waits for its end, so an owner that resumes at once
	 * (a short RETR) costs no epoll_ctl.
	 */
	if (!c->feeding)
		bufferevent_disable(c->bev, EV_READ);
}

void
conn_await_drain(struct conn *c)
{
	if (c->closing || c->reaped)
		return;
	c->want_drain = true;
	bufferevent_setwatermark(c->bev, EV_WRITE, c->out_max / 2, 0);
	/* sent at once (conn_write): no write will call back, so say it */
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) <=
	    c->out_max / 2)
		bufferevent_trigger(c->bev, EV_WRITE,
				    BEV_TRIG_DEFER_CALLBACKS);
}

/*
 * Under DEFLATE: compressed input that waits below while the inflated
 * input was full is inflated once there is room again (the filter
 * itself runs only when more arrives from the socket).
 */
static void
inflate_more(struct conn *c)
{
	if (c->mid != NULL && !c->reaped &&
	    evbuffer_get_length(bufferevent_get_input(c->mid)) > 0 &&
	    evbuffer_get_length(bufferevent_get_input(c->bev)) < c->in_max)
		bufferevent_trigger(c->mid, EV_READ,
				    BEV_TRIG_IGNORE_WATERMARKS |
				    BEV_TRIG_DEFER_CALLBACKS);
}

void
conn_resume(struct conn *c)
{
	c->paused = false;
	if (c->closing || c->reaped)
		return;
	if (!c->eof)
		bufferevent_enable(c->bev, EV_READ);
	if (c->dl_rate == 0 && c->ops->bytes == NULL)
		dl_restart(c);
	else if (c->dl_at != 0)
		dl_arm(c);
	inflate_more(c);
	process(c);
}

void
conn_consume(struct conn *c, size_t n)
{
	struct evbuffer *in;

	if (c->reaped)
		return;
	in = bufferevent_get_input(c->bev);
	if (n > evbuffer_get_length(in))
		n = evbuffer_get_length(in);
	evbuffer_drain(in, n);
	c->in_seen = evbuffer_get_length(in);
	inflate_more(c);
}

void
conn_deadline_answered(struct conn *c)
{
	if (c->reaped || c->dl_rate != 0 || c->hs_running)
		return;
	c->dl_at = 0; /* dl_cb ignores a timer that fires meanwhile */
}

void
conn_close(struct conn *c, const char *reason)
{
	if (c->closing || c->reaped)
		return;
	c->closing = true;
	if (c->reason == NULL)
		c->reason = reason;
	bufferevent_disable(c->bev, EV_READ);
	close_step(c);
}

/* Puts the TLS filter over the socket's bufferevent. */
static void
switch_tls(struct conn *c)
{
	struct timeval tv = {.tv_sec = c->timeout_s};
	struct bufferevent *tb;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	SSL *ssl = c->tls_next;

	c->tls_next = NULL;
	/* sent in the clear after STARTTLS: never read as commands */
	c->discarded = evbuffer_get_length(in);
	evbuffer_drain(in, c->discarded);
	framer_reset(&c->fr);
	c->in_seen = 0;
	c->under = c->bev;
	bufferevent_set_timeouts(c->under, NULL, NULL);
	/* the filter stops encrypting past out_max unsent octets */
	bufferevent_setwatermark(c->under, EV_WRITE, 0, c->out_max);
	bufferevent_setwatermark(c->under, EV_READ, 0, c->in_max);
	tb = bufferevent_openssl_filter_new(
		bufferevent_get_base(c->under), c->under, ssl,
		c->tls_server ? BUFFEREVENT_SSL_ACCEPTING
			      : BUFFEREVENT_SSL_CONNECTING,
		BEV_OPT_CLOSE_ON_FREE);
	if (tb == NULL) {
		fprintf(stderr, "owld: out of memory for a TLS filter\n");
		abort();
	}
	c->ssl = ssl;
	c->bev = tb;
	c->under_cb = evbuffer_add_cb(bufferevent_get_output(c->under),
				      under_out_cb, c);
	bufferevent_openssl_set_allow_dirty_shutdown(tb, 1);
	bufferevent_setcb(tb, read_cb, write_cb, event_cb, c);
	bufferevent_setwatermark(tb, EV_READ, 0, c->in_max);
	/* a handshake that does not progress times out like a command */
	bufferevent_set_timeouts(tb, &tv, &tv);
	/* and one that does, but slowly, has its own deadline */
	c->hs_running = true;
	c->dl_at = (int64_t)mono_ms() + (int64_t)c->hs_secs * 1000;
	dl_arm(c);
	bufferevent_enable(tb, EV_READ | EV_WRITE);
}

void
conn_starttls(struct conn *c, SSL *ssl, bool server)
{
	if (c->reaped || c->closing || c->ssl != NULL || c->tls_next != NULL) {
		SSL_free(ssl);
		return;
	}
	c->tls_next = ssl;
	c->tls_server = server;
	if (!c->feeding)
		switch_tls(c);
	/* else process() switches once the current line is consumed */
}

/* --- COMPRESS=DEFLATE (RFC 4978) ------------------------------------------ */

/* The two zlib streams of a compressed connection. */
struct zpair {
	z_stream in, out;
	struct conn *c;
	bool broken;		/* the peer's stream failed or ended */
};

#define Z_CHUNK 16384	/* octets made per zlib call */

static void
zpair_free(void *arg)
{
	struct zpair *z = arg;

	inflateEnd(&z->in);
	deflateEnd(&z->out);
	free(z);
}

/* Runs one zlib call over the first chunk of src into dst; octets of
 * src it took into *took, made into *made. */
static int
z_step(z_stream *zs, bool inflating, struct evbuffer *src,
       struct evbuffer *dst, int flush, size_t *took, size_t *made)
{
	struct evbuffer_iovec in = {0}, out;
	int r;

	if (evbuffer_peek(src, -1, NULL, &in, 1) < 1)
		in.iov_len = 0;
	if (evbuffer_reserve_space(dst, Z_CHUNK, &out, 1) < 1)
		return Z_MEM_ERROR;
	zs->next_in = in.iov_base;
	zs->avail_in = (uInt)in.iov_len;
	zs->next_out = out.iov_base;
	zs->avail_out = (uInt)out.iov_len;
	r = inflating ? inflate(zs, flush) : deflate(zs, flush);
	*took = in.iov_len - zs->avail_in;
	*made = out.iov_len - zs->avail_out;
	out.iov_len = *made;
	evbuffer_commit_space(dst, &out, 1);
	evbuffer_drain(src, *took);
	return r;
}

/* What the peer sent, inflated, up to lim octets made. */
static enum bufferevent_filter_result
inflate_filter(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t lim,
	       enum bufferevent_flush_mode mode, void *arg)
{
	struct zpair *z = arg;
	size_t took, made, before = evbuffer_get_length(dst);

	(void)mode;
	while (!z->broken && evbuffer_get_length(src) > 0 &&
	       (lim < 0 || evbuffer_get_length(dst) < (size_t)lim)) {
		int r = z_step(&z->in, true, src, dst, Z_SYNC_FLUSH, &took,
			       &made);

		if (r == Z_STREAM_END || (r != Z_OK && r != Z_BUF_ERROR)) {
			/* a bad stream, or one that ended: nothing after it
			 * can be read, so the connection ends (libevent
			 * does not tell a filter's error to anyone: left
			 * unread, the input woke the loop for ever) */
			z->broken = true;
			finish(z->c, "compress-error");
		}
		if (took == 0 && made == 0)
			break;
	}
	if (z->broken) {
		evbuffer_drain(src, evbuffer_get_length(src));
		return BEV_ERROR;
	}
	return evbuffer_get_length(dst) > before ? BEV_OK : BEV_NEED_MORE;
}

/* What is sent, deflated and flushed to an octet boundary, so that each
 * response reaches the peer whole. */
static enum bufferevent_filter_result
deflate_filter(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t lim,
	       enum bufferevent_flush_mode mode, void *arg)
{
	struct zpair *z = arg;
	size_t took, made;

	(void)lim;
	(void)mode;
	if (evbuffer_get_length(src) == 0)
		return BEV_NEED_MORE;
	while (evbuffer_get_length(src) > 0)
		if (z_step(&z->out, false, src, dst, Z_NO_FLUSH, &took,
			   &made) == Z_STREAM_ERROR)
			return BEV_ERROR;
	do {
		if (z_step(&z->out, false, src, dst, Z_SYNC_FLUSH, &took,
			   &made) == Z_STREAM_ERROR)
			return BEV_ERROR;
	} while (made == Z_CHUNK);
	return BEV_OK;
}

int
conn_compress(struct conn *c)
{
	struct timeval tv = {.tv_sec = c->timeout_s};
	struct zpair *z;
	struct bufferevent *zb;

	if (c->mid != NULL || c->reaped || c->closing)
		return -1;
	z = xcalloc(1, sizeof(*z));
	z->c = c;
	/* the peer may use any window; ours is 4 KiB (32 KiB of state, not
	 * 256): a compressed session should not cost much more */
	if (inflateInit2(&z->in, -15) != Z_OK) {
		free(z);
		return -1;
	}
	if (deflateInit2(&z->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 5,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		inflateEnd(&z->in);
		free(z);
		return -1;
	}
	zb = bufferevent_filter_new(c->bev, inflate_filter, deflate_filter,
				    BEV_OPT_CLOSE_ON_FREE, zpair_free, z);
	if (zb == NULL) {
		zpair_free(z);
		return -1;
	}
	c->mid = c->bev;
	c->bev = zb;
	bufferevent_set_timeouts(c->mid, NULL, NULL);
	/* the filter stops deflating past out_max unsent octets below it */
	bufferevent_setwatermark(c->mid, EV_WRITE, 0, c->out_max);
	c->mid_cb = evbuffer_add_cb(bufferevent_get_output(c->mid),
				    mid_out_cb, c);
	bufferevent_setcb(zb, read_cb, write_cb, event_cb, c);
	bufferevent_setwatermark(zb, EV_READ, 0, c->in_max);
	bufferevent_set_timeouts(zb, &tv, &tv);
	bufferevent_enable(zb, EV_READ | EV_WRITE);
	c->in_seen = 0;
	/* what came after the command was already compressed */
	if (evbuffer_get_length(bufferevent_get_input(c->mid)) > 0)
		bufferevent_trigger(c->mid, EV_READ,
				    BEV_TRIG_IGNORE_WATERMARKS |
				    BEV_TRIG_DEFER_CALLBACKS);
	return 0;
}

const char *
conn_tls_version(const struct conn *c)
{
	return c->secured ? SSL_get_version(c->ssl) : NULL;
}

const char *
conn_tls_cipher(const struct conn *c)
{
	return c->secured ? SSL_get_cipher_name(c->ssl) : NULL;
}

const char *
conn_tls_error(const struct conn *c)
{
	return c->tls_error;
}

size_t
conn_tls_discarded(const struct conn *c)
{
	return c->discarded;
}

bool
conn_closing(const struct conn *c)
{
	return c->closing || c->reaped;
}

size_t
conn_out_queued(const struct conn *c)
{
	size_t n;

	if (c->reaped)
		return 0;
	n = evbuffer_get_length(bufferevent_get_output(c->bev));
	if (c->mid != NULL)
		n += evbuffer_get_length(bufferevent_get_output(c->mid));
	if (c->under != NULL)
		n += evbuffer_get_length(bufferevent_get_output(c->under));
	return n;
}

/* The contiguous input at off onwards (its first piece); 0 if none. */
static size_t
segment_at(struct evbuffer *in, size_t off, const char **seg)
{
	struct evbuffer_ptr p;
	struct evbuffer_iovec v;

	if (evbuffer_get_length(in) <= off)
		return 0;
	if (off == 0) {
		/* the usual case (a line in pieces is not): no walk */
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			return 0;
	} else if (evbuffer_ptr_set(in, &p, off, EVBUFFER_PTR_SET) == -1 ||
		   evbuffer_peek(in, -1, &p, &v, 1) < 1) {
		return 0;
	}
	*seg = v.iov_base;
	return v.iov_len;
}

/* Byte-stream mode: hands the first piece of input to the owner. */
static bool
feed_bytes(struct conn *c, struct evbuffer *in)
{
	const char *seg = NULL;
	size_t n = segment_at(in, 0, &seg), used;
	bool more = true;

	if (n == 0)
		return false; /* wait for more */
	dl_input(c);
	used = c->ops->bytes(c->arg, seg, n, &more);
	if (!c->reaped)
		evbuffer_drain(in, used);
	/* nothing taken and not paused: it waits for more input */
	return more && used > 0;
}

/* Feeds complete lines while the owner wants them (framing: framer.c). */
/* Has the overlong line being dropped gone on past the owner's bound? */
static bool
line_endless(const struct conn *c)
{
	return c->ops->max_drop != NULL &&
	       framer_dropped(&c->fr) > c->ops->max_drop(c->arg);
}

static void
process(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (c->feeding)
		return; /* re-entered from a callback: the outer loop goes on */
	c->feeding = true;
	while (!c->paused && !c->closing && !c->reaped) {
		const char *seg = NULL, *line;
		size_t n, len;
		bool more;

		if (evbuffer_get_length(out) > c->out_max) {
			/*
			 * client is not reading replies: wait for drain,
			 * reading nothing meanwhile (write_cb starts again).
			 * Left on, input at its high watermark makes libevent
			 * call read_cb again at once, for ever: a core burnt.
			 */
			bufferevent_setwatermark(c->bev, EV_WRITE,
						 c->out_max / 2, 0);
			bufferevent_disable(c->bev, EV_READ);
			c->out_full = true;
			break;
		}
		if (c->ops->bytes != NULL) {
			bool go = feed_bytes(c, in);

			if (c->tls_next != NULL && !c->closing && !c->reaped) {
				switch_tls(c);
				in = bufferevent_get_input(c->bev);
				out = bufferevent_get_output(c->bev);
			}
			if (!go)
				break;
			continue;
		}
		n = segment_at(in, framer_offset(&c->fr), &seg);
		if (n == 0)
			break; /* wait for the rest of the line */
		switch (framer_scan(&c->fr, seg, n, c->ops->max_line(c->arg),
				    &len)) {
		case FRAMER_MORE:
			continue;
		case FRAMER_DROP: {
			bool crlf;

			evbuffer_drain(in, len);
			if (line_endless(c)) {
				c->ops->endless(c->arg);
				conn_close(c, "line-too-long");
			} else if (framer_dropped_end(&c->fr, &crlf) &&
				   c->ops->toolong_end != NULL) {
				c->ops->toolong_end(c->arg, crlf);
			}
			continue;
		}
		case FRAMER_TOOLONG:
			evbuffer_drain(in, len);
			c->ops->toolong(c->arg);
			continue;
		case FRAMER_LINE:
			break;
		}
		line = (const char *)evbuffer_pullup(in, (ssize_t)len);
		more = c->ops->line(c->arg, line, len);
		evbuffer_drain(in, len);
		if (c->dl_rate == 0 && !c->reaped)
			dl_restart(c); /* the next line's deadline */
		if (c->tls_next != NULL && !c->closing && !c->reaped) {
			switch_tls(c);
			in = bufferevent_get_input(c->bev);
			out = bufferevent_get_output(c->bev);
		}
		if (!more)
			break;
	}
	c->feeding = false;
	if (!c->reaped)
		c->in_seen = evbuffer_get_length(in);
	if (c->paused && !c->closing && !c->reaped)
		bufferevent_disable(c->bev, EV_READ); /* see conn_pause */
	if (c->eof && !c->paused && !c->closing && !c->reaped)
		conn_close(c, "eof");
}

void
conn_addr_text(const struct sockaddr *sa, char *out, size_t size)
{
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
			  out, (socklen_t)size);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], out,
				  (socklen_t)size);
		else
			inet_ntop(AF_INET6, &s6->sin6_addr, out,
				  (socklen_t)size);
	} else {
		snprintf(out, size, "local");
	}
}
