/*
 * conn - see conn.h.
 */
#include "conn.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "../lib/buf.h"

struct conn {
	struct bufferevent *bev;
	struct event *reaper;
	const struct conn_ops *ops;
	void *arg;
	size_t in_max, out_max;
	unsigned timeout_s;
	bool paused;
	bool skipping;		/* inside an overlong line */
	bool eof;
	bool closing;
	bool reaped;
	bool feeding;		/* inside process() */
	bool want_drain;	/* call ops->drained at the low watermark */
	const char *reason;
};

static void process(struct conn *c);

static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd, (void)what;
	bufferevent_free(c->bev);
	event_free(c->reaper);
	c->ops->closed(c->arg, c->reason ? c->reason : "closed");
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
	event_active(c->reaper, EV_TIMEOUT, 0);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (c->closing) {
		finish(c, c->reason);
		return;
	}
	if (c->want_drain) {
		c->want_drain = false;
		bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
		c->ops->drained(c->arg);
		return;
	}
	process(c); /* output drained below out_max: feed again */
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	process(arg);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	(void)bev;
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
	/* a reset or other error: nothing more can be said */
	finish(c, "error");
}

struct conn *
conn_new(struct event_base *base, int fd, const struct conn_ops *ops,
	 void *arg, unsigned timeout_s, size_t in_max, size_t out_max)
{
	struct conn *c = xcalloc(1, sizeof(*c));
	struct timeval tv = {.tv_sec = timeout_s};

	c->ops = ops;
	c->arg = arg;
	c->in_max = in_max;
	c->out_max = out_max;
	c->timeout_s = timeout_s;
	c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->reaper = event_new(base, -1, 0, reap_cb, c);
	if (c->bev == NULL || c->reaper == NULL) {
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
	if (!c->reaped)
		bufferevent_write(c->bev, data, len);
}

void
conn_pause(struct conn *c)
{
	c->paused = true;
	/* no reading (and no idle timeout) while the owner works */
	bufferevent_disable(c->bev, EV_READ);
}

void
conn_await_drain(struct conn *c)
{
	if (c->closing || c->reaped)
		return;
	c->want_drain = true;
	bufferevent_setwatermark(c->bev, EV_WRITE, c->out_max / 2, 0);
}

void
conn_resume(struct conn *c)
{
	c->paused = false;
	if (c->closing || c->reaped)
		return;
	if (!c->eof)
		bufferevent_enable(c->bev, EV_READ);
	process(c);
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
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		finish(c, reason);
	/* else write_cb finishes once the output has drained */
}

bool
conn_closing(const struct conn *c)
{
	return c->closing || c->reaped;
}

/* Feeds complete lines while the owner wants them. */
static void
process(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (c->feeding)
		return; /* re-entered from a callback: the outer loop goes on */
	c->feeding = true;
	while (!c->paused && !c->closing && !c->reaped) {
		size_t avail = evbuffer_get_length(in);
		size_t max = c->ops->max_line(c->arg);
		struct evbuffer_ptr end, pos;
		size_t scan = avail < max ? avail : max, len;
		const char *line;

		if (evbuffer_get_length(out) > c->out_max) {
			/* client is not reading replies: wait for drain */
			bufferevent_setwatermark(c->bev, EV_WRITE,
						 c->out_max / 2, 0);
			break;
		}
		if (avail == 0)
			break;
		evbuffer_ptr_set(in, &end, scan, EVBUFFER_PTR_SET);
		pos = evbuffer_search_range(in, "\n", 1, NULL, &end);
		if (c->skipping) {
			if (pos.pos == -1) {
				pos = evbuffer_search(in, "\n", 1, NULL);
				if (pos.pos == -1) {
					evbuffer_drain(in, avail);
					break;
				}
			}
			evbuffer_drain(in, (size_t)pos.pos + 1);
			c->skipping = false;
			continue;
		}
		if (pos.pos == -1) {
			if (avail < max)
				break; /* wait for the rest of the line */
			c->skipping = true;
			c->ops->toolong(c->arg);
			continue;
		}
		len = (size_t)pos.pos + 1;
		line = (const char *)evbuffer_pullup(in, (ssize_t)len);
		if (!c->ops->line(c->arg, line, len)) {
			evbuffer_drain(in, len);
			break;
		}
		evbuffer_drain(in, len);
	}
	c->feeding = false;
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
