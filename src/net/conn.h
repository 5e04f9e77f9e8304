/*
 * conn - one client connection on libevent: line framing, bounds, timeouts.
 *
 * Lines are framed on LF by conn itself, with net/framer (never
 * EVBUFFER_EOL_CRLF, which would also take a bare LF as CRLF): the owner
 * sees each line with its LF and any CR before it.  A line longer than
 * ops->max_line() is skipped up to its LF and reported once with
 * ops->toolong(); if ops->max_drop is set and more than ops->max_drop()
 * octets of it are dropped (after its first max_line, up to and with its
 * LF if that came), ops->endless() says why and the connection closes
 * with reason "line-too-long" (a line that never ends must not be read
 * until the deadline).  Input is bounded
 * (reading stops at in_max buffered bytes) and so is output: past out_max
 * unsent bytes no more lines are fed until the client has read its replies.
 *
 * Output goes straight to a plain socket when nothing is queued (one send,
 * no write event), and is queued in the bufferevent otherwise.
 *
 * The owner pauses feeding while an action is outstanding (conn_pause) and
 * resumes with conn_resume, which feeds the lines buffered meanwhile.  At
 * EOF the buffered complete lines are still fed, then the connection
 * closes.  conn_close() flushes and then closes; ops->closed() is called
 * exactly once, from the event loop (never from inside another callback
 * of this conn), after which the conn is gone.  While the owner streams a
 * long reply it asks for ops->drained (conn_await_drain) instead of lines.
 *
 * conn_starttls() moves the connection onto libevent's OpenSSL filter.
 * Asked for from ops->line (after the reply to STARTTLS/STLS is queued),
 * it takes effect once that line is consumed, and every byte the peer sent
 * after it is thrown away, unread: what a client pipelines behind STARTTLS
 * was sent in the clear and must not be taken as said under TLS
 * (CVE-2011-0411).  ops->secured is called when the handshake is done; a
 * failed handshake closes the connection with reason "tls-failed" and
 * conn_tls_error() says why; so does an EOF or a socket error during the
 * handshake, at once (nothing queued can be sent without it).  A
 * handshake must be done within conn_handshake_timeout() of the switch,
 * however slowly its bytes come, else the connection ends with reason
 * "timeout".  A TLS connection closes with close_notify once its output
 * is sent.
 *
 * Byte-stream mode (IMAP, whose literals are not lines): a connection
 * whose ops has bytes (and no line) hands the owner its input as it came,
 * one contiguous piece at a time, with no framing and no line limit (the
 * owner bounds what it keeps; the input buffer is bounded by in_max).
 * The owner says how many octets it took; the rest is offered again.  An
 * owner that works on a copy elsewhere (a worker) takes none, pauses, and
 * when done drops what it used with conn_consume() before conn_resume().
 * A request deadline (conn_deadline, line mode) in this mode runs from
 * the first octet of input after the owner last answered
 * (conn_deadline_answered: a response was written) until its next
 * answer, so a client that is quiet between commands meets only the idle
 * timeout, and one that trickles a command never answered meets the
 * deadline.
 *
 * Deadlines, against a client that keeps a request open by sending a byte
 * now and then (each byte resets the idle timeout): conn_deadline() in
 * line mode (rate 0) gives each line secs from the moment conn is ready
 * for it (the previous line taken, conn_resume, the handshake done); in
 * rate mode (SMTP DATA) the request from now on has secs, and each octet
 * received adds 1/rate s, never past secs ahead (Postfix's
 * smtpd_min_data_rate).  conn_session_deadline() ends the session secs from
 * now unless called again with 0 (a login).  No deadline ends a session
 * while it is paused (the owner's job in flight).  A missed one calls
 * ops->deadline (ops->timeout if it is NULL) with the reason given, and
 * closes with that reason.
 */
#ifndef OWL_CONN_H
#define OWL_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct event_base;
struct conn;
typedef struct ssl_st SSL;

struct conn_ops {
	/* One line; return false to stop feeding (the owner paused). */
	bool (*line)(void *arg, const char *line, size_t len);
	/*
	 * Byte-stream mode instead of line (see above): a piece of input;
	 * returns the octets taken, *more false to stop feeding (paused).
	 */
	size_t (*bytes)(void *arg, const char *data, size_t len, bool *more);
	void (*toolong)(void *arg);
	/* Optional: the overlong line's LF was reached; crlf: a CR before. */
	void (*toolong_end)(void *arg, bool crlf);
	size_t (*max_line)(void *arg);
	/*
	 * Optional, with endless: octets of an overlong line dropped after
	 * its first max_line before the connection closes; endless puts the
	 * last words, and conn_close() follows.
	 */
	size_t (*max_drop)(void *arg);
	void (*endless)(void *arg);
	/* No input for the idle timeout: say 421 and conn_close(). */
	void (*timeout)(void *arg);
	/* Gone: reason is "quit", "eof", "timeout", "error", ... */
	void (*closed)(void *arg, const char *reason);
	/* After conn_await_drain(): the output fell to out_max / 2. */
	void (*drained)(void *arg);
	/* The TLS handshake is done (optional). */
	void (*secured)(void *arg);
	/* A deadline passed (optional): say why, then conn_close(). */
	void (*deadline)(void *arg, const char *why);
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
/* Byte-stream mode: drops n octets of input the owner took on a copy. */
void conn_consume(struct conn *c, size_t n);
/* Byte-stream mode: what was read is answered; the request deadline
 * stops until more input comes. */
void conn_deadline_answered(struct conn *c);
/* Flushes what is queued (bounded by the timeout), then closes. */
void conn_close(struct conn *c, const char *reason);
bool conn_closing(const struct conn *c);
/* Octets queued and not yet taken by the socket (every layer: TLS,
 * DEFLATE and the socket's own). */
size_t conn_out_queued(const struct conn *c);
/*
 * Switches to TLS as the server (accepting) or the client; ssl is taken
 * over (freed with the connection).  See above for when.
 */
void conn_starttls(struct conn *c, SSL *ssl, bool server);
/*
 * From now on, deflates what is sent and inflates what is read (IMAP
 * COMPRESS=DEFLATE, RFC 4978: raw DEFLATE, RFC 1951, both ways, each
 * write flushed so a response goes out whole).  What is queued to send
 * already goes out as it is; input read but not yet taken by the owner
 * (conn_consume) is inflated first.  Inflated input is bounded as plain
 * input is (in_max), so a small compressed stream cannot fill memory.
 * -1 if zlib cannot start (nothing changed); once only.
 */
int conn_compress(struct conn *c);
/* The deadline of a later handshake (default: the idle timeout). */
void conn_handshake_timeout(struct conn *c, unsigned secs);
/*
 * Request deadline: secs per line (rate 0) or for the request that starts
 * now at rate octets per second (see above); secs 0: none.  why is the
 * reason reported, a string that outlives the connection.
 */
void conn_deadline(struct conn *c, unsigned secs, unsigned rate,
		   const char *why);
/* The session ends secs from now (why) unless called again with 0. */
void conn_session_deadline(struct conn *c, unsigned secs, const char *why);
/* After ops->secured: "TLSv1.3", "TLS_AES_256_GCM_SHA384"; else NULL. */
const char *conn_tls_version(const struct conn *c);
const char *conn_tls_cipher(const struct conn *c);
/* Why the handshake failed ("" if it did not); valid in ops->closed. */
const char *conn_tls_error(const struct conn *c);
/* Octets sent before the handshake and thrown away by the switch. */
size_t conn_tls_discarded(const struct conn *c);
/* Formats a peer address as text ("192.0.2.1", "2001:db8::1"). */
void conn_addr_text(const struct sockaddr *sa, char *out, size_t size);

#endif
