/*
 * smtp_client - the sans-I/O SMTP client core (RFC 5321), used by the relay
 * and by owl.
 *
 * Fed one reply line at a time (as framed by net/), it writes commands to an
 * output buffer and returns what the caller must do next:
 *
 *   NEXT    the session is ready for a message (after the greeting and
 *           EHLO, or after the previous message's results): call
 *           smtp_client_next() with a message, or with NULL to QUIT.
 *   RESULT  the current message is finished: read each recipient's
 *           reply with smtp_client_rcpt(), then call smtp_client_next().
 *   BODY    the server said 354: stream the stored text (LF line ends)
 *           with smtp_client_body(), then smtp_client_body_end().  The
 *           text goes out dot-stuffed in CRLF lines and never holds a
 *           bare CR or bare LF (RFC 5321 2.3.8): a CR LF in the text is
 *           one line end, any other CR is sent as a space.
 *   CLOSE   close the connection; smtp_client_error() says why if the
 *           session failed before QUIT's reply.
 *   STARTTLS the server said 220 to STARTTLS: switch the connection to
 *           TLS (as the client) and call smtp_client_secured() once the
 *           handshake is done (EHLO is then sent again, RFC 3207 4.2).
 *
 * With conf->user and conf->pass, the client logs in (AUTH PLAIN, else
 * LOGIN) before the first message.
 *
 * With conf->tls MAY, STARTTLS is used when EHLO offers it, and a refusal
 * of it leaves the session in the clear; with REQUIRE a session without
 * TLS fails before any message (code 0: retry later, never a bounce).
 *
 * EHLO falls back to HELO on a 5xx; MAIL, RCPT and DATA go in one write when
 * the server offers PIPELINING; SIZE= is sent when offered (and a message
 * over the server's limit is refused before any command), BODY=8BITMIME
 * when the text has 8-bit octets and the server offers it.  A transaction
 * left open by a refusal is closed with RSET before the next message.  A
 * 421, a malformed reply or a lost connection fails every recipient still
 * open with that reply (code 0 for a local failure: retry later).  The
 * session may wait between messages (after NEXT or RESULT) for as long as
 * the caller likes, feeding what comes: a 421 then (a server ending an
 * idle session) is CLOSE without QUIT, any other reply QUIT.
 */
#ifndef OWL_SMTP_CLIENT_H
#define OWL_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "../lib/buf.h"
#include "wire.h"

#define SMTPC_LINE_MAX 2048	/* reply line, with CRLF (512 by RFC) */
#define SMTPC_LINES_MAX 100	/* lines of one multiline reply */
#define SMTPC_TEXT_MAX 512	/* reply text kept for logs and bounces */
#define SMTPC_USER_MAX 255	/* AUTH user name, octets */
#define SMTPC_PASS_MAX 1024	/* AUTH password, octets */

enum smtpc_tls { SMTPC_TLS_NO, SMTPC_TLS_MAY, SMTPC_TLS_REQUIRE };

struct smtpc_conf {
	const char *helo;	/* our name for EHLO/HELO */
	enum smtpc_tls tls;
	/*
	 * With both set, AUTH (RFC 4954) once EHLO offers PLAIN or LOGIN
	 * (after STARTTLS when that is used); a refused login fails the
	 * session with the server's reply.  A server offering neither is
	 * used without AUTH.
	 */
	const char *user;
	const char *pass;
};

enum smtpc_act {
	SMTPC_NONE,		/* feed more replies */
	SMTPC_NEXT,
	SMTPC_RESULT,
	SMTPC_BODY,
	SMTPC_CLOSE,
	SMTPC_STARTTLS,
};

struct smtpc_reply {
	int code;		/* 200..599; 0 for a local or network failure */
	char text[SMTPC_TEXT_MAX]; /* "550 5.1.1 no such user" */
};

struct smtpc_msg {
	const char *sender;	/* reverse-path without <>; "" for null */
	const char *const *rcpts; /* forward-paths without <> */
	size_t nrcpts;
	size_t size;		/* octets as sent (CRLF), for SIZE= */
	bool eightbit;
};

/* What EHLO said. */
struct smtpc_ext {
	bool esmtp, pipelining, eightbit, starttls;
	unsigned long size;	/* 0: no limit given */
	char auth[128];		/* AUTH mechanisms, space separated */
};

struct smtp_client;

struct smtp_client *smtp_client_new(const struct smtpc_conf *conf);
void smtp_client_free(struct smtp_client **cp);

/* Feeds one reply line (len bytes, normally ending in CRLF). */
enum smtpc_act smtp_client_feed(struct smtp_client *c, const char *line,
				size_t len, struct buf *out);
/* The framer skipped a line longer than SMTPC_LINE_MAX. */
enum smtpc_act smtp_client_toolong(struct smtp_client *c, struct buf *out);
/*
 * The connection is gone (closed, reset or timed out); why is the text for
 * the open recipients.  Returns RESULT if a message was open, else CLOSE.
 */
enum smtpc_act smtp_client_eof(struct smtp_client *c, const char *why);

/*
 * After NEXT or RESULT: start msg (strings must live until its RESULT), or
 * QUIT with msg NULL.  A message is refused without a command when the
 * session is no longer usable or the message is over the server's SIZE
 * (RESULT at once).
 */
enum smtpc_act smtp_client_next(struct smtp_client *c,
				const struct smtpc_msg *msg, struct buf *out);
/*
 * After BODY: appends the wire form of text to out (out needs room for
 * 2 * len + 2 octets); then body_end once, which writes the final ".".
 */
void smtp_client_body(struct smtp_client *c, const char *data, size_t len,
		      struct buf *out);
void smtp_client_body_end(struct smtp_client *c, struct buf *out);

/* After STARTTLS: the handshake is done; writes EHLO. */
void smtp_client_secured(struct smtp_client *c, struct buf *out);
/* True once the session runs under TLS. */
bool smtp_client_secure(const struct smtp_client *c);
/* True once the server accepted our AUTH. */
bool smtp_client_authed(const struct smtp_client *c);

/* Recipient i's final reply, valid after RESULT until the next message. */
const struct smtpc_reply *smtp_client_rcpt(const struct smtp_client *c,
					   size_t i);
/* Why the session failed (code 0 if it did not). */
const struct smtpc_reply *smtp_client_error(const struct smtp_client *c);
/* True while more messages may be sent on this session. */
bool smtp_client_usable(const struct smtp_client *c);
const struct smtpc_ext *smtp_client_ext(const struct smtp_client *c);

#endif
