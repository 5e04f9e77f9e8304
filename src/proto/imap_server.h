/*
 * imap_server - the sans-I/O IMAP server core (RFC 9051 IMAP4rev2 and
 * RFC 3501 IMAP4rev1, both offered), built up for the IMAP issue one
 * state at a time.  Fed bytes (it owns an imap_parser and answers its
 * literals), it appends responses to an output buffer and returns one
 * action; it never touches a socket, a file or a clock.
 *
 * Once logged in, the core reaches the user's mail only through the
 * table of imap_mbox.h that the program gives it (imap_server_set_mbox,
 * before it answers the login); those calls may block, so owld runs a
 * logged-in session's feed, resume and poll on the worker pool.
 *
 * Actions leave the core waiting; feed nothing until it is answered:
 *   LOGIN    check req->user / req->pass, then imap_server_login_done().
 *   STARTTLS the OK is written: flush it, switch the connection to TLS,
 *            read nothing more in the clear (the rest of the fed bytes
 *            are dropped: RFC 9051 6.2.1, no command injection).
 *   OUTPUT   out holds conf->out_max octets or more of a response that
 *            goes on (a large FETCH): send them, and when out has
 *            drained call imap_server_resume().
 *   IDLE     the session idles (IDLE's "+" is in out): watch the
 *            selected folder and call imap_server_poll() when it may
 *            have changed; go on feeding (DONE ends it).
 *   COMPRESS COMPRESS DEFLATE's OK is written (RFC 4978): flush it as
 *            it is, then deflate what is sent and inflate what is read
 *            from the next octet on; the fed bytes after the command
 *            were not used (*used_r says where it ended): inflate them
 *            and feed them again.
 *   CLOSE    BYE (and LOGOUT's OK) written: flush, close.
 */
#ifndef OWL_IMAP_SERVER_H
#define OWL_IMAP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "../lib/buf.h"
#include "imap_mbox.h"
#include "imap_parser.h"
#include "sasl.h"

#define IMAP_LINE_MAX 8192	/* a command line outside literals */
#define IMAP_LOGIN_LITERAL_MAX 1024 /* a literal before login */
#define IMAP_LOGGED_LINE_MAX 65536 /* a command line once logged in */
#define IMAP_LITERAL_MAX 65536	/* a kept literal once logged in (APPEND's
				   message is streamed, not kept) */

/* What a logged-in session is offered besides the base (docs/IMAP.md,
 * "Extensions"): each only once it works. */
#define IMAP_CAPS_LOGGED "IDLE UIDPLUS MOVE UNSELECT NAMESPACE SPECIAL-USE " \
	"CREATE-SPECIAL-USE CHILDREN LIST-EXTENDED LIST-STATUS STATUS=SIZE " \
	"ESEARCH SEARCHRES CONDSTORE QRESYNC SORT SORT=DISPLAY " \
	"THREAD=ORDEREDSUBJECT THREAD=REFERENCES MULTIAPPEND UTF8=ACCEPT"

struct imap_conf {
	const char *hostname;
	unsigned max_errors;		/* BADs before BYE */
	unsigned max_auth_failures;	/* failed logins before BYE */
	bool starttls;			/* a certificate is loaded */
	bool compress;			/* the program can COMPRESS=DEFLATE */
	uint64_t append_max;		/* APPENDLIMIT: octets of a message */
	unsigned append_msgs_max;	/* messages of one APPEND (RFC 3502
					   MULTIAPPEND); 0: no bound */
	uint64_t append_total_max;	/* octets of all of them (the spool
					   one command takes); 0: no bound */
	size_t out_max;			/* IMAP_ACT_OUTPUT past this */
};

enum imap_act {
	IMAP_ACT_NONE,
	IMAP_ACT_LOGIN,
	IMAP_ACT_STARTTLS,
	IMAP_ACT_OUTPUT,
	IMAP_ACT_IDLE,
	IMAP_ACT_COMPRESS,
	IMAP_ACT_CLOSE,
};

enum imap_login_result {
	IMAP_LOGIN_OK,
	IMAP_LOGIN_BAD,		/* NO [AUTHENTICATIONFAILED] */
	IMAP_LOGIN_TEMP,	/* NO [UNAVAILABLE] */
	IMAP_LOGIN_LIMIT,	/* NO [LIMIT]: too many sessions of the user */
	IMAP_LOGIN_CANNOT,	/* NO [CANNOT]: the mailbox cannot be served
				   over IMAP (mbox) */
};

struct imap_req {
	const char *user;	/* LOGIN */
	const char *pass;
};

struct imap_server;

struct imap_server *imap_server_new(const struct imap_conf *conf);
void imap_server_free(struct imap_server **sp);
/* The session runs under TLS from its start (implicit TLS, the 993
 * role), or STARTTLS finished. */
void imap_server_secure(struct imap_server *s);
/* Logins may be made without TLS (auth.allow_plaintext). */
void imap_server_plain_auth(struct imap_server *s, bool allow);

/* The store of the user who logs in; set before login_done(OK). */
void imap_server_set_mbox(struct imap_server *s,
			  const struct imap_mbox_ops *ops, void *ctx);

/*
 * Optional: asked after each command that needs no action; true makes
 * imap_server_feed() return there (IMAP_ACT_NONE, the rest of its input
 * not used), so that a program running feeds on a pool of workers gives
 * the worker to others between the commands of a long pipeline and
 * feeds the rest later.  NULL: never.
 */
void imap_server_set_yield(struct imap_server *s, bool (*yield)(void *arg),
			   void *arg);

/* The time now, seconds since 1970 (SEARCH OLDER, YOUNGER). */
void imap_server_clock(struct imap_server *s, int64_t now);

/* The untagged OK greeting with the capabilities. */
void imap_server_greet(struct imap_server *s, struct buf *out);
/*
 * Reads from data (len octets) until an action or the end; *used_r: how
 * many it took (feed the rest after answering the action).
 */
enum imap_act imap_server_feed(struct imap_server *s, const char *data,
			       size_t len, size_t *used_r, struct buf *out);
const struct imap_req *imap_server_req(const struct imap_server *s);
/* Answers LOGIN; the password is wiped. */
enum imap_act imap_server_login_done(struct imap_server *s,
				     enum imap_login_result r,
				     struct buf *out);
bool imap_server_logged_in(const struct imap_server *s);
/* After IMAP_ACT_OUTPUT, out sent: goes on writing. */
enum imap_act imap_server_resume(struct imap_server *s, struct buf *out);
/* IDLE: the folder may have changed: sync, write what changed. */
enum imap_act imap_server_poll(struct imap_server *s, struct buf *out);
/* In IDLE (IMAP_ACT_IDLE said, DONE not yet read). */
bool imap_server_idling(const struct imap_server *s);
/* The selected folder's name (UTF-8), or NULL. */
const char *imap_server_selected(const struct imap_server *s);
/*
 * After IMAP_ACT_CLOSE: the reason for the log's disconnect line
 * ("logout", or "line-too-long" for a line without end).
 */
const char *imap_server_close_reason(const struct imap_server *s);
/* The next bytes are a secret (an AUTHENTICATE response). */
bool imap_server_in_sasl(const struct imap_server *s);
/* Server-initiated ends: an untagged BYE; the caller then closes. */
void imap_server_shutdown(struct imap_server *s, struct buf *out);
void imap_server_timeout(struct imap_server *s, struct buf *out);
/* A command (or the login) took longer than its deadline. */
void imap_server_deadline(struct imap_server *s, struct buf *out);

#endif
