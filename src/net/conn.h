/*
 * conn - one client connection on libevent: line framing, bounds, timeouts.
 *
 * Lines are framed on LF by conn itself (never EVBUFFER_EOL_CRLF, which
 * would also take a bare LF as CRLF): the owner sees each line with its
 * LF and any CR before it.  A line longer than ops->max_line() is skipped
 * up to its LF and reported once with ops->toolong().  Input is bounded
 * (reading stops at in_max buffered bytes) and so is output: past out_max
 * unsent bytes no more lines are fed until the client has read its replies.
 *
 * The owner pauses feeding while an action is outstanding (conn_pause) and
 * resumes with conn_resume, which feeds the lines buffered meanwhile.  At
 * EOF the buffered complete lines are still fed, then the connection
 * closes.  conn_close() flushes and then closes; ops->closed() is called
 * exactly once, from the event loop (never from inside another callback
 * of this conn), after which the conn is gone.  While the owner streams a
 * long reply it asks for ops->drained (conn_await_drain) instead of lines.
 */
#ifndef OWL_CONN_H
#define OWL_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct event_base;
struct conn;

struct conn_ops {
	/* One line; return false to stop feeding (the owner paused). */
	bool (*line)(void *arg, const char *line, size_t len);
	void (*toolong)(void *arg);
	size_t (*max_line)(void *arg);
	/* No input for the idle timeout: say 421 and conn_close(). */
	void (*timeout)(void *arg);
	/* Gone: reason is "quit", "eof", "timeout", "error", ... */
	void (*closed)(void *arg, const char *reason);
	/* After conn_await_drain(): the output fell to out_max / 2. */
	void (*drained)(void *arg);
};

struct conn *conn_new(struct event_base *base, int fd,
		      const struct conn_ops *ops, void *arg,
		      unsigned timeout_s, size_t in_max, size_t out_max);
/* Queues bytes for the client. */
void conn_write(struct conn *c, const void *data, size_t len);
void conn_pause(struct conn *c);
/*
 * Streaming (POP3 RETR): call ops->drained once the queued output has
 * fallen to out_max / 2, so a large text is produced chunk by chunk as
 * the client reads it.  Call it after queueing a chunk, while paused.
 */
void conn_await_drain(struct conn *c);
void conn_resume(struct conn *c);
/* Flushes what is queued (bounded by the timeout), then closes. */
void conn_close(struct conn *c, const char *reason);
bool conn_closing(const struct conn *c);
/* Formats a peer address as text ("192.0.2.1", "2001:db8::1"). */
void conn_addr_text(const struct sockaddr *sa, char *out, size_t size);

#endif
