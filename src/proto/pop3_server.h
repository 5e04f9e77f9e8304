/*
 * pop3_server - the sans-I/O POP3 server core (RFC 1939, RFC 2449 CAPA and
 * response codes, RFC 5034 AUTH PLAIN).
 *
 * Fed one line at a time (as framed by net/: up to and including its LF),
 * it appends replies to an output buffer and returns one action.  It owns
 * the protocol state, the deletion marks and every reply text; it never
 * touches a socket, a file or a clock.
 *
 * Actions leave the core waiting; feed no more lines until it is answered:
 *   LOGIN   check req->user / req->pass (from USER+PASS or AUTH PLAIN) and
 *           open the mailbox; answer pop3_server_login_done(), after
 *           pop3_server_set_mailbox() when the result is OK.
 *   RETR    send message req->msg (0-based); req->lines is -1 for RETR or
 *           the TOP line count.  Answer pop3_server_retr_begin() (the +OK
 *           line), then stream the text through a dot_stuff, then
 *           pop3_server_done(OK); or pop3_server_done(TEMP/PERM) instead
 *           of all that if the message cannot be opened.
 *   UPDATE  QUIT in TRANSACTION: remove the messages marked in req->dele
 *           (req->ndele of them) durably, then pop3_server_done().
 *   LISTING LIST or UIDL of every message: the +OK line is written; call
 *           pop3_server_listing_more() whenever the output has room
 *           until it returns true (the "." is written then), so that a
 *           long listing goes out as the client reads it.
 * CLOSE is a notice: flush the replies, then close.
 *
 * STLS (RFC 2595) is a notice too: it is offered in CAPA and accepted in
 * AUTHORIZATION when conf->stls, until the session is secure; after its
 * +OK, flush, then switch the connection to TLS, reading nothing more in
 * the clear.  USER, PASS and AUTH are refused with -ERR [AUTH] (and not
 * listed in CAPA) unless the session is secure or pop3_server_plain_auth()
 * allows logins in the clear.
 *
 * Nothing is deleted except through UPDATE, so a dropped connection, a
 * timeout or a shutdown deletes nothing (RFC 1939 section 6).
 */
#ifndef OWL_POP3_SERVER_H
#define OWL_POP3_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "../lib/buf.h"
#include "sasl.h"
#include "wire.h"

#define POP3_CMD_MAX 512	/* a command line with CRLF (RFC 2449: 255) */
#define POP3_SASL_MAX SASL_LINE_MAX /* an AUTH continuation line */
#define POP3_NAME_MAX SASL_USER_MAX /* user name */
#define POP3_PASS_MAX SASL_PASS_MAX
#define POP3_UIDL_MAX 70	/* RFC 1939: 1 to 70 characters 0x21-0x7E */
/* The longest LIST or UIDL listing line, "4294967295 <uidl>\r\n". */
#define POP3_LIST_LINE_MAX (10 + 1 + POP3_UIDL_MAX + 2)

struct pop3_conf {
	const char *hostname;
	unsigned max_errors;	/* bad commands before -ERR and close */
	unsigned max_auth_failures;
	bool stls;		/* offer STLS (a certificate is loaded) */
};

enum pop3_act {
	POP3_ACT_NONE,
	POP3_ACT_LOGIN,
	POP3_ACT_RETR,
	POP3_ACT_UPDATE,
	POP3_ACT_CLOSE,
	POP3_ACT_STLS,		/* +OK written: switch to TLS, then read on */
	POP3_ACT_LISTING,	/* LIST/UIDL: pop3_server_listing_more() */
};

enum pop3_result {
	POP3_R_OK,
	POP3_R_BADAUTH,		/* -ERR [AUTH] */
	POP3_R_INUSE,		/* -ERR [IN-USE] */
	POP3_R_TEMP,		/* -ERR [SYS/TEMP] */
	POP3_R_PERM,		/* -ERR [SYS/PERM] */
};

struct pop3_req {
	const char *user;	/* LOGIN */
	const char *pass;
	unsigned msg;		/* RETR: 0-based */
	long lines;		/* RETR: -1, or TOP's line count */
	const bool *dele;	/* UPDATE: one mark per message */
	unsigned ndele;		/* UPDATE: how many are marked */
};

/* One message of the session's snapshot, as the glue describes it. */
struct pop3_msg {
	size_t size;		/* octets with CRLF line ends, unstuffed */
	const char *uidl;	/* unique, stable, <= POP3_UIDL_MAX, printable */
};

struct pop3_server;

/* A new session core; conf and its strings must outlive it. */
struct pop3_server *pop3_server_new(const struct pop3_conf *conf);
void pop3_server_free(struct pop3_server **sp);

/* The session runs under TLS from its start (implicit TLS). */
void pop3_server_secure(struct pop3_server *s);
/* Logins may be made without TLS on this session (auth.allow_plaintext). */
void pop3_server_plain_auth(struct pop3_server *s, bool allow);

void pop3_server_greet(struct pop3_server *s, struct buf *out);
/* Longest line net/ may frame now. */
size_t pop3_server_max_line(const struct pop3_server *s);

enum pop3_act pop3_server_feed(struct pop3_server *s, const char *line,
			       size_t len, struct buf *out);
/* The framer skipped a line longer than pop3_server_max_line(). */
enum pop3_act pop3_server_toolong(struct pop3_server *s, struct buf *out);
/* How much of an overlong line net/ drops before the session ends. */
size_t pop3_server_max_drop(const struct pop3_server *s);
/* The overlong line went on past that: the last words; then close. */
void pop3_server_endless(struct pop3_server *s, struct buf *out);

/*
 * Message i (< n) of the snapshot, asked for when a reply needs it (the
 * glue's mailbox view describes it; no copy of the whole mailbox is kept):
 * out->uidl must stay valid while the mailbox is set.
 */
typedef void pop3_msg_fn(void *arg, unsigned i, struct pop3_msg *out);
/* Before login_done(OK): the snapshot of n messages, described by fn. */
void pop3_server_set_mailbox(struct pop3_server *s, pop3_msg_fn *fn,
			     void *arg, unsigned n);
enum pop3_act pop3_server_login_done(struct pop3_server *s,
				     enum pop3_result r, struct buf *out);
/*
 * LISTING: appends listing lines while out->len < until (a line may pass
 * it by at most POP3_LIST_LINE_MAX); true once the listing and its "."
 * are written, and the core reads commands again.
 */
bool pop3_server_listing_more(struct pop3_server *s, struct buf *out,
			      size_t until);
/* RETR/TOP: writes the +OK line; the glue streams the text next. */
void pop3_server_retr_begin(struct pop3_server *s, struct buf *out);
/* Ends RETR (OK after the text, or an error before it) or UPDATE. */
enum pop3_act pop3_server_done(struct pop3_server *s, enum pop3_result r,
			       struct buf *out);

/* Server-initiated ends: an -ERR line; the caller then closes. */
void pop3_server_shutdown(struct pop3_server *s, struct buf *out);
void pop3_server_timeout(struct pop3_server *s, struct buf *out);
/* A deadline passed (a dripping command, no login in time): -ERR, closed. */
void pop3_server_deadline(struct pop3_server *s, struct buf *out);

bool pop3_server_pending(const struct pop3_server *s);
bool pop3_server_logged_in(const struct pop3_server *s);
/* The next line is an AUTH response (a secret: mask it in traces). */
bool pop3_server_in_sasl(const struct pop3_server *s);
/*
 * What a trace may show of the client line line[0..len), asked before the
 * line is fed (feeding changes the state): the text to show, its length
 * in *len_r.  The line itself, or in place of a secret "PASS ****",
 * "AUTH PLAIN ****" (an initial response) or "****" (a response line);
 * it points into line or is static.
 */
const char *pop3_server_trace_in(const struct pop3_server *s,
				 const char *line, size_t len, size_t *len_r);
const struct pop3_req *pop3_server_req(const struct pop3_server *s);

#endif
