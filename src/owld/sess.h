/*
 * sess - the session base every protocol's session is built on (SMTP,
 * POP3 and IMAP).  It owns what all of them do alike: accepting a
 * client under the connection limits (max_connections, the per-address
 * limits), the daemon's list of open sessions, the connection's callbacks
 * (tracing, the too-long line, the idle timeout, the deadlines, TLS), the
 * login's password check on the worker pool with its penalty and fail
 * delay, the graceful stop, and the end of a session with its log line.
 *
 * A protocol embeds struct sess first in its own session and fills one
 * struct sess_ops with what differs: its core's calls, its words in the
 * log, what it frees.  Every callback gets the struct sess * and casts it
 * to its own session.
 *
 * Nothing here fails: a client that may not come in is told so in the
 * protocol's words and closed; what cannot be had (memory) aborts.
 */
#ifndef OWL_OWLD_SESS_H
#define OWL_OWLD_SESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct owld;
struct conn;
struct buf;
struct event;
struct sess_login;

/* What a protocol sets up for a new session (ops->open). */
struct sess_setup {
	unsigned timeout;		/* idle timeout, seconds */
	size_t in_max, out_max;		/* the connection's bounds */
	size_t out_cap;			/* s->out's maximum */
	size_t out_keep;		/* s->out grown past this is given
					   back after a send; 0: kept */
	unsigned command_deadline;	/* seconds per command line */
	unsigned login_deadline;	/* seconds to log in; 0: none */
	bool implicit_tls;		/* TLS from the first octet */
	bool bytes;			/* byte-stream mode (conn.h): the
					   input goes to ops->feed_bytes */
	const char *listener;		/* words for the connect line */
};

/* How a login's password check came out (ops->login_done). */
enum sess_login_res {
	SESS_LOGIN_OK,		/* the password is right */
	SESS_LOGIN_TEMP,	/* no good users file loaded yet */
	SESS_LOGIN_BAD,		/* wrong password or unknown user, after the
				   fail delay */
};

struct sess;

/* The connection limit a session counts against (owld_full). */
enum sess_pool {
	SESS_POOL_MAIN,		/* max_connections: SMTP, submission, POP3 */
	SESS_POOL_IMAP,		/* imap.max_connections */
	SESS_POOLS
};

struct sess_ops {
	const char *proto;	/* log name: "smtp", "pop3" */
	enum sess_pool pool;	/* the connection limit it counts against */
	const char *login_event; /* "auth": event=auth-failed, ... */
	size_t size;		/* of the protocol's session */
	/*
	 * The line that refuses a client at accept into line (size octets):
	 * per_addr if the per-address limits refused it.  Returns its length.
	 */
	int (*refuse)(const struct owld *d, const char *peer, bool per_addr,
		      char *line, size_t size);
	/* Sets up the protocol's half of a new session (its core). */
	void (*open)(struct sess *s, int fd, const struct sockaddr *sa,
		     int kind, struct sess_setup *set);
	/* The greeting, into s->out. */
	void (*greet)(struct sess *s);
	/*
	 * A command line (already traced): feed it to the core and run the
	 * action it asks for; true while that action is in flight.
	 */
	bool (*feed)(struct sess *s, const char *line, size_t len);
	/*
	 * Byte-stream mode, instead of feed (and of trace_in, toolong and
	 * max_line, which it has no use for): a piece of input, traced by
	 * the protocol; *used_r the octets it took (the rest comes again);
	 * true while an action is in flight.
	 */
	bool (*feed_bytes)(struct sess *s, const char *data, size_t len,
			   size_t *used_r);
	/* The line as the trace shows it (secrets masked); NULL: not shown. */
	const char *(*trace_in)(const struct sess *s, const char *line,
				size_t len, size_t *len_r);
	/* A line too long: tell the core (its answer into s->out). */
	void (*toolong)(struct sess *s);
	/* Optional: the too-long line ended; crlf: with a CR. */
	void (*toolong_end)(struct sess *s, bool crlf);
	size_t (*max_line)(const struct sess *s);
	/*
	 * How much of an overlong line is dropped before the session ends;
	 * past it, endless puts the last words into s->out (conn.h).
	 */
	size_t (*max_drop)(const struct sess *s);
	void (*endless)(struct sess *s);
	/* The reply (into s->out) for the idle timeout; for a deadline. */
	void (*timeout)(struct sess *s);
	void (*deadline)(struct sess *s);
	/* Optional: the output fell after conn_await_drain(). */
	void (*drained)(struct sess *s);
	/* The reply (into s->out) to a graceful stop. */
	void (*shutdown)(struct sess *s);
	/* Is a job or a stream of the protocol's in flight? */
	bool (*busy)(const struct sess *s);
	/*
	 * A login's answer: OK (user is the canonical name), TEMP, or BAD.
	 * The protocol answers its core, then calls sess_answered() (or
	 * starts its next job).
	 */
	void (*login_done)(struct sess *s, enum sess_login_res r,
			   const char *user);
	/* Its counters for the disconnect line (" mails=1 rcpts=2"). */
	void (*words)(const struct sess *s, char *out, size_t size);
	/* The session ends: frees the protocol's half (not s). */
	void (*close)(struct sess *s);
};

struct sess {
	struct owld *d;
	const struct sess_ops *ops;
	struct sess *prev, *next;	/* d->sessions */
	char id[17];
	char peer[64];
	struct conn *conn;
	struct buf *out;		/* replies not sent yet */
	size_t out_keep;		/* see struct sess_setup */
	struct sess_login *login;	/* password check in flight, or NULL */
	struct sess_login *gated;	/* checked, waiting out its penalty */
	struct event *delay;		/* a login's answer waits (the fail
					   delay, or the penalty if gated) */
	bool stop_after;		/* stop once nothing is in flight */
	bool per_ip_freed;		/* no longer counted per address */
};

/*
 * Accepts a client on fd (a listener's callback does this with its ops
 * and kind, which ops->open gets): refused with ops->refuse's line while
 * stopping or past a connection limit, else a new session, greeted.
 */
void sess_accept(struct owld *d, int fd, const struct sockaddr *sa,
		 const struct sess_ops *ops, int kind);
/* Sends what s->out holds (traced). */
void sess_flush(struct sess *s);
/*
 * A logged-in session stops counting against max_connections_per_ip: it
 * has its own bound per user and address (IMAP's max_sessions_per_user),
 * and an office behind one address keeps many such sessions open.
 */
void sess_free_per_ip(struct sess *s);
/*
 * An action's answer is in s->out: sends it, then feeds the next line,
 * or ends the session if a stop waits for it.
 */
void sess_answered(struct sess *s);
/* Ends the session for a stop if one waits and nothing is in flight. */
void sess_maybe_stop(struct sess *s);
/*
 * Checks user's password on the worker pool (the connection paused), then
 * waits out the failed-login penalty and, for a failure, the fail delay;
 * then calls ops->login_done.
 */
void sess_login_start(struct sess *s, const char *user, const char *pass);
/*
 * Tells every open session to stop (ops->shutdown), at once or after the
 * job, login or text in flight; a login waiting out its penalty gets no
 * answer.
 */
void sess_shutdown_all(struct owld *d);

#endif
