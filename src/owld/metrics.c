/*
 * metrics - owld's numbers in Prometheus's text format over HTTP/1.0 on
 * metrics.listen (off by default): "GET /metrics" answers what owlctl
 * status says, as gauges, plus counters since the start.  No
 * authentication: bind it to loopback or a monitoring network.  The
 * request is bounded (lines of 1 KiB, 32 header lines, 10 s), answered
 * once, then the connection closes; anything else gets 404 or 405.  A
 * listener that cannot be bound stops owld at start (exit 71), as the
 * mail listeners do.  It is bound after privileges are dropped: a port
 * of 1024 or more, unless owld holds CAP_NET_BIND_SERVICE (owld.service).
 * The text is about 1 KiB; its buffer's 64 KiB bound is never reached.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../lib/buf.h"
#include "../lib/clock.h"
#include "../lib/log.h"
#include "../net/conn.h"
#include "../net/listen.h"
#include "../net/tls.h"
#include "../relay/relay.h"
#include "owld.h"
#include "sess.h"

#define METRICS_MAX_LINES 32

static struct listener **m_listeners;
static size_t m_nlisteners;
static uint64_t m_started_ms;

struct mconn {
	struct owld *d;
	struct conn *conn;
	unsigned lines;
	int status;		/* 200, 404, 405; 0 before the request line */
};

static unsigned
count_sessions(const struct owld *d, const char *proto)
{
	unsigned n = 0;

	for (const struct sess *s = d->sessions; s != NULL; s = s->next)
		if (strcmp(s->ops->proto, proto) == 0)
			n++;
	return n;
}

/* The exposition text into b. */
static void
metrics_body(struct owld *d, struct buf *b)
{
	static const char *const protos[] = {"smtp", "pop3", "imap"};
	long long not_after = -1;
	char fp[65];
	size_t queued;
	uint64_t out_1m, out_total;

	relay_stats(d->relay, &queued, &out_1m);
	out_total = relay_sent_total(d->relay);
	buf_printf(b, "# HELP owlpost_up 1 while owld serves.\n"
		   "# TYPE owlpost_up gauge\nowlpost_up 1\n"
		   "# HELP owlpost_uptime_seconds Seconds since owld "
		   "started serving.\n# TYPE owlpost_uptime_seconds gauge\n"
		   "owlpost_uptime_seconds %llu\n"
		   "# HELP owlpost_sessions Open sessions by protocol "
		   "(smtp: inbound and submission).\n"
		   "# TYPE owlpost_sessions gauge\n",
		   (unsigned long long)((mono_ms() - m_started_ms) / 1000));
	for (size_t i = 0; i < sizeof(protos) / sizeof(*protos); i++)
		buf_printf(b, "owlpost_sessions{proto=\"%s\"} %u\n", protos[i],
			   count_sessions(d, protos[i]));
	buf_printf(b, "# HELP owlpost_queue_messages Messages in the "
		   "outbound queue.\n# TYPE owlpost_queue_messages gauge\n"
		   "owlpost_queue_messages %zu\n"
		   "# HELP owlpost_messages_in_total Messages accepted.\n"
		   "# TYPE owlpost_messages_in_total counter\n"
		   "owlpost_messages_in_total %llu\n"
		   "# HELP owlpost_deliveries_out_total Recipients handed on "
		   "to other servers.\n"
		   "# TYPE owlpost_deliveries_out_total counter\n"
		   "owlpost_deliveries_out_total %llu\n", queued,
		   (unsigned long long)d->msgs_in_total,
		   (unsigned long long)out_total);
	if (d->tls != NULL &&
	    tls_ctx_cert_info(d->tls, &not_after, fp, sizeof(fp)) == 0)
		buf_printf(b, "# HELP owlpost_tls_cert_not_after_seconds "
			   "When the served certificate expires (Unix "
			   "time).\n# TYPE owlpost_tls_cert_not_after_seconds "
			   "gauge\nowlpost_tls_cert_not_after_seconds %lld\n",
			   not_after);
}

static void
metrics_answer(struct mconn *m)
{
	struct buf *body = buf_new(64 * 1024);
	struct buf *head = buf_new(4096);

	if (m->status == 200)
		metrics_body(m->d, body);
	else
		buf_printf(body, "%s\n", m->status == 404 ? "not found; try "
			   "/metrics" : "GET only");
	buf_printf(head, "HTTP/1.0 %d %s\r\nContent-Type: %s\r\n"
		   "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		   m->status, m->status == 200 ? "OK" : m->status == 404
		   ? "Not Found" : "Method Not Allowed",
		   m->status == 200 ? "text/plain; version=0.0.4; "
		   "charset=utf-8" : "text/plain", body->len);
	conn_write(m->conn, head->data, head->len);
	conn_write(m->conn, body->data, body->len);
	buf_free(&head);
	buf_free(&body);
	conn_close(m->conn, "done");
}

/* "GET /metrics HTTP/1.1": 200; another path 404; another method 405. */
static int
request_status(const char *line, size_t len)
{
	if (len < 4 || memcmp(line, "GET ", 4) != 0)
		return 405;
	line += 4, len -= 4;
	if ((len >= 9 && memcmp(line, "/metrics ", 9) == 0) ||
	    (len >= 2 && memcmp(line, "/ ", 2) == 0))
		return 200;
	return 404;
}

static bool
metrics_line(void *arg, const char *line, size_t len)
{
	struct mconn *m = arg;

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (m->status == 0) {
		m->status = request_status(line, len);
	} else if (len == 0) {
		metrics_answer(m);	/* the end of the headers */
		return false;
	}
	if (++m->lines > METRICS_MAX_LINES) {
		conn_close(m->conn, "toolong");
		return false;
	}
	return true;
}

static void
metrics_drop(void *arg)
{
	conn_close(((struct mconn *)arg)->conn, "toolong");
}

static size_t
metrics_max_line(void *arg)
{
	(void)arg;
	return 1024;
}

static void
metrics_timeout(void *arg)
{
	conn_close(((struct mconn *)arg)->conn, "timeout");
}

static void
metrics_closed(void *arg, const char *reason)
{
	(void)reason;
	free(arg);
}

static const struct conn_ops metrics_ops = {
	.line = metrics_line, .toolong = metrics_drop,
	.max_line = metrics_max_line, .timeout = metrics_timeout,
	.closed = metrics_closed,
};

static void
metrics_accept(int fd, struct sockaddr *sa, socklen_t len, void *arg)
{
	struct mconn *m = xcalloc(1, sizeof(*m));

	(void)sa, (void)len;
	m->d = arg;
	m->conn = conn_new(m->d->base, fd, &metrics_ops, m, 10, 1024,
			   128 * 1024);
}

void
owld_metrics_open(struct owld *d)
{
	char err[512], name[80];
	int *fds = NULL;
	size_t nfds = 0;

	m_started_ms = mono_ms();
	if (d->conf->metrics_listen[0] == '\0')
		return;
	if (listen_bind(d->conf->metrics_listen, &fds, &nfds, err,
			sizeof(err)) == -1) {
		fprintf(stderr, "owld: metrics.listen: %s\n", err);
		exit(71); /* EX_OSERR, as the mail listeners */
	}
	m_listeners = xcalloc(nfds, sizeof(*m_listeners));
	for (size_t i = 0; i < nfds; i++) {
		m_listeners[i] = listener_new(d->base, fds[i], metrics_accept,
					      d);
		listen_local_name(fds[i], name, sizeof(name));
		log_msg(LOGL_INFO, "main", "event=listen proto=metrics addr=%s",
			name);
	}
	m_nlisteners = nfds;
	free(fds);
}

void
owld_metrics_close(void)
{
	for (size_t i = 0; i < m_nlisteners; i++)
		listener_free(&m_listeners[i]);
	free(m_listeners);
	m_listeners = NULL;
	m_nlisteners = 0;
}
