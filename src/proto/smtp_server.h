/*
 * smtp_server - the sans-I/O SMTP server core (RFC 5321, ESMTP).
 *
 * Fed one line at a time (as framed by net/: up to and including its LF, the
 * CR left in place), it appends replies to an output buffer and returns one
 * action.  It owns the protocol state and every reply text; it never touches
 * a socket, a file or a clock, and allocates only within its limits.
 *
 * Actions that need an answer (MAIL, RCPT, VRFY, AUTH, COMMIT) leave the core
 * waiting: feed no more lines until smtp_server_done() is called.  The other
 * actions are notices: DATA_START (354 sent; open a message), DATA (one
 * unstuffed body line in req->data, without its line end), DATA_ABORT (the
 * message was refused and its reply written; drop it) and CLOSE (flush the
 * replies, then close).
 *
 * DATA ends only at CRLF "." CRLF, where the previous line also ended in
 * CRLF: a bare LF or bare CR never ends a message and never starts a
 * command, so SMTP smuggling is not possible.  What a bare LF or bare CR
 * inside the text becomes is conf->bare_newline (RFC 5321 2.3.8):
 * NORMALIZE takes a bare LF as a line end and turns a bare CR into a
 * space, so no line handed out holds a CR or LF; REJECT reads on to the
 * end of the data and then answers 550 5.5.2, handing out no more lines.
 * A line that is only "." and is not the end of the data is text and is
 * kept; a leading "." is removed only when more follows (RFC 5321 4.5.2).
 *
 * VRFY is answered 252 2.5.2 without a lookup (no user enumeration)
 * unless conf->vrfy, which makes it an action; EXPN is 502.
 *
 * With conf->auth (the submission listener) EHLO offers AUTH PLAIN LOGIN
 * (RFC 4954, decoded by sasl.h), MAIL before a successful AUTH is 530
 * 5.7.0, and done(AUTH) answers 235, 535 5.7.8 (counted toward
 * max_auth_failures) or 454.  NULs in the text are kept as data.
 *
 * With conf->starttls EHLO offers STARTTLS (RFC 3207) until the session is
 * secure; STARTTLS answers 220 and returns SMTP_ACT_STARTTLS, a notice:
 * flush the replies, then switch the connection to TLS, reading nothing
 * more in the clear.  The core has then already forgotten the session
 * (EHLO, AUTH, transaction) and counts as secure.  AUTH is offered and
 * accepted only on a secure session, or where smtp_server_plain_auth()
 * allows it; otherwise AUTH gets 538 5.7.11 (RFC 4954).
 */
#ifndef OWL_SMTP_SERVER_H
#define OWL_SMTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "../lib/addr.h"
#include "../lib/buf.h"
#include "sasl.h"

#define SMTP_CMD_MAX 512	/* command line with CRLF, RFC 5321 4.5.3.1.4 */
#define SMTP_AUTH_LINE_MAX SASL_LINE_MAX /* lines where AUTH is offered */
#define SMTP_USER_MAX SASL_USER_MAX /* SASL authentication identity */
#define SMTP_PASS_MAX SASL_PASS_MAX

/* What a bare LF or bare CR inside DATA does (smtp.bare_newline). */
enum smtp_bare_newline {
	SMTP_BARE_NORMALIZE,	/* LF: a line end; CR: a space */
	SMTP_BARE_REJECT,	/* the message gets 550 5.5.2 after its end */
};

struct smtp_conf {
	const char *hostname;
	size_t max_size;	/* SIZE; message octets as sent, CRLF ends */
	unsigned max_rcpts;
	unsigned max_errors;	/* 5xx replies before 421 and close */
	size_t max_line;	/* DATA text line, with its line end */
	bool auth;		/* offer AUTH PLAIN/LOGIN; MAIL needs it */
	unsigned max_auth_failures; /* failed AUTHs before 421 and close */
	bool starttls;		/* offer STARTTLS (a certificate is loaded) */
	enum smtp_bare_newline bare_newline;
	bool vrfy;		/* VRFY looks users up; else 252, no lookup */
};

enum smtp_act {
	SMTP_ACT_NONE,
	SMTP_ACT_MAIL,		/* req->addr is the reverse-path */
	SMTP_ACT_RCPT,		/* req->addr is the forward-path */
	SMTP_ACT_VRFY,		/* req->addr, domain may be empty; conf->vrfy */
	SMTP_ACT_AUTH,		/* req->user, req->pass: check them */
	SMTP_ACT_DATA_START,
	SMTP_ACT_DATA,		/* req->data, req->len: no CR, no LF */
	SMTP_ACT_COMMIT,	/* the message is complete */
	SMTP_ACT_DATA_ABORT,
	SMTP_ACT_CLOSE,
	SMTP_ACT_STARTTLS,	/* 220 written: switch to TLS, then read on */
};

enum smtp_result {
	SMTP_R_OK,
	SMTP_R_NOUSER,		/* 550 5.1.1 */
	SMTP_R_RELAY_DENIED,	/* 550 5.7.1 */
	SMTP_R_TEMP,		/* 451 4.3.0 */
	SMTP_R_NOSPACE,		/* 452 4.3.1 */
	SMTP_R_PERM,		/* 554 5.3.0 (550 5.7.1 for MAIL) */
	SMTP_R_TOOMANY,		/* RCPT: 452 4.5.3, send it in another
				   transaction (RFC 5321 4.5.3.1.10) */
};

struct smtp_req {
	struct addr addr;
	const char *user, *pass;	/* AUTH */
	const char *data;
	size_t len;
};

struct smtp_txn {
	const char *helo;	/* "" before HELO/EHLO */
	bool esmtp;
	bool in_mail;		/* MAIL accepted */
	struct addr sender;
	const struct addr *rcpts;
	unsigned nrcpts;
	size_t size;		/* message octets (CRLF) so far */
	const char *user;	/* the AUTH identity, or NULL */
	bool tls;		/* the session is under TLS */
};

struct smtp_server;

/* A new session core; conf and its strings must outlive it. */
struct smtp_server *smtp_server_new(const struct smtp_conf *conf);
void smtp_server_free(struct smtp_server **sp);

/* The session runs under TLS from its start (implicit TLS, RFC 8314). */
void smtp_server_secure(struct smtp_server *s);
/* AUTH may be used without TLS on this session (auth.allow_plaintext). */
void smtp_server_plain_auth(struct smtp_server *s, bool allow);

/* The 220 greeting. */
void smtp_server_greet(struct smtp_server *s, struct buf *out);
/* Longest line net/ may frame now (command or DATA state). */
size_t smtp_server_max_line(const struct smtp_server *s);

/* Feeds one line (len bytes, normally ending in LF). */
enum smtp_act smtp_server_feed(struct smtp_server *s, const char *line,
			       size_t len, struct buf *out);
/* The framer skipped a line longer than smtp_server_max_line(). */
enum smtp_act smtp_server_toolong(struct smtp_server *s, struct buf *out);
/*
 * How much of an overlong line net/ drops before the session ends: in
 * DATA smtp.max_size (the message cannot fit then), else WIRE_DROP_MAX.
 */
size_t smtp_server_max_drop(const struct smtp_server *s);
/* The overlong line went on past that: the last reply; then close. */
void smtp_server_endless(struct smtp_server *s, struct buf *out);
/*
 * The overlong line's LF came; crlf: with a CR before it.  In DATA only a
 * CR LF ended line lets the next "." line end the text, as for any line.
 */
void smtp_server_toolong_end(struct smtp_server *s, bool crlf);
/* Answers the pending action; info is the queue id for COMMIT (or NULL). */
enum smtp_act smtp_server_done(struct smtp_server *s, enum smtp_result r,
			       const char *info, struct buf *out);

/*
 * Answers the pending MAIL, RCPT or COMMIT with a reply a filter gave
 * (a milter's "550 5.7.1 text" or "451 4.7.1 text": one line, no CR or
 * LF, 4xx or 5xx): the sender or recipient is not taken, the message is
 * not accepted; a 5xx counts as an error as the core's own refusals do.
 */
enum smtp_act smtp_server_done_reply(struct smtp_server *s, const char *reply,
				     struct buf *out);
/*
 * While COMMIT is pending, a filter's changes to the envelope (milter
 * chgfrom, addrcpt, delrcpt): the new sender; one more recipient (-1 past
 * max_recipients); a recipient removed (every spelling equal in any case:
 * how many were).
 */
void smtp_server_set_sender(struct smtp_server *s, const struct addr *a);
int smtp_server_add_rcpt(struct smtp_server *s, const struct addr *a);
unsigned smtp_server_del_rcpt(struct smtp_server *s, const struct addr *a);

/* Server-initiated ends: 421 replies; the caller then closes. */
void smtp_server_shutdown(struct smtp_server *s, struct buf *out);
void smtp_server_timeout(struct smtp_server *s, struct buf *out);

bool smtp_server_pending(const struct smtp_server *s);
bool smtp_server_in_data(const struct smtp_server *s);
/* The next line is a SASL response (a secret: mask it in traces). */
bool smtp_server_in_sasl(const struct smtp_server *s);
/*
 * What a trace may show of the client line line[0..len), asked before the
 * line is fed (feeding changes the state): the text to show, its length
 * in *len_r; or NULL when the line is not traced (message text, all but
 * its end).  The text is the line, or of an AUTH command only the
 * mechanism (never the initial response), or "(SASL response)" for a
 * response line; it points into line or is static.
 */
const char *smtp_server_trace_in(const struct smtp_server *s,
				 const char *line, size_t len, size_t *len_r);
const struct smtp_req *smtp_server_req(const struct smtp_server *s);
void smtp_server_txn(const struct smtp_server *s, struct smtp_txn *t);

#endif
