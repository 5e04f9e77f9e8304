/*
 * pop3_client - the sans-I/O POP3 client core (RFC 1939; CAPA, RFC 2449;
 * STLS, RFC 2595; AUTH PLAIN, RFC 5034), used by owl.
 *
 * Fed response lines (as framed by the caller), it writes commands to an
 * output buffer and returns what the caller must do next:
 *
 *   NONE   feed more lines.
 *   READY  logged in, and the previous command (if any) is done:
 *          pop3_client_reply() says how it went; then call
 *          pop3_client_cmd() or pop3_client_quit().
 *   DATA   one piece of a multi-line response (LIST, UIDL, TOP, RETR),
 *          dot-unstuffed: pop3_client_data().  READY follows the last.
 *   STLS   the server said +OK to STLS: switch the connection to TLS and
 *          call pop3_client_secured() once the handshake is done (CAPA
 *          is then asked again, RFC 2595 4).
 *   CLOSE  close the connection; pop3_client_error() says why when the
 *          session failed (code false) or QUIT's -ERR (deletions not
 *          committed).
 *
 * The session: greeting, CAPA, STLS when offered (conf->tls MAY) or
 * demanded (REQUIRE: a server without it fails the session), then AUTH
 * PLAIN when CAPA lists "SASL PLAIN", else USER and PASS.  A refused
 * login, a malformed or over-long status line, or -ERR to the greeting
 * fail the session: QUIT is sent and CLOSE follows its answer.  -ERR to
 * a command after the login is just that command's answer.
 *
 * Lines: a status line must be whole (ending in LF) and at most
 * POP3C_LINE_MAX octets.  Data lines may come in pieces of any size, as
 * long as a piece never ends between CR and LF; the caller's framer
 * hands over a full buffer without its last octet when that is a CR.
 */
#ifndef OWL_POP3_CLIENT_H
#define OWL_POP3_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "../lib/buf.h"

#define POP3C_LINE_MAX 1024	/* status line with CRLF (512 by RFC 2449) */
#define POP3C_TEXT_MAX 512	/* status text kept */
#define POP3C_USER_MAX 255
#define POP3C_PASS_MAX 1024

enum pop3c_tls { POP3C_TLS_NO, POP3C_TLS_MAY, POP3C_TLS_REQUIRE };

struct pop3c_conf {
	const char *user;
	const char *pass;
	enum pop3c_tls tls;
};

enum pop3c_act {
	POP3C_NONE,
	POP3C_READY,
	POP3C_DATA,
	POP3C_STLS,
	POP3C_CLOSE,
};

enum pop3c_cmd {
	POP3C_STAT,	/* +OK count size */
	POP3C_LIST,	/* n 0: scan listing of all (DATA); n > 0: one */
	POP3C_UIDL,	/* likewise */
	POP3C_TOP,	/* message n, lines of body */
	POP3C_RETR,	/* message n (DATA) */
	POP3C_DELE,
	POP3C_RSET,
	POP3C_NOOP,
};

struct pop3c_reply {
	bool ok;			/* +OK */
	char text[POP3C_TEXT_MAX];	/* the status line without CRLF */
};

/* What CAPA said. */
struct pop3c_ext {
	bool capa, stls, top, uidl, user, sasl_plain, pipelining;
};

struct pop3_client;

struct pop3_client *pop3_client_new(const struct pop3c_conf *conf);
void pop3_client_free(struct pop3_client **cp);

/* Feeds one line or a piece of a data line (see above). */
enum pop3c_act pop3_client_feed(struct pop3_client *c, const char *line,
				size_t len, struct buf *out);
/* The connection is gone; why says how (for pop3_client_error). */
enum pop3c_act pop3_client_eof(struct pop3_client *c, const char *why);

/*
 * After READY: sends a command.  Returns NONE, or READY at once (with a
 * local -ERR reply) when n is 0 where a message number is needed.
 */
enum pop3c_act pop3_client_cmd(struct pop3_client *c, enum pop3c_cmd cmd,
			       unsigned long n, unsigned long lines,
			       struct buf *out);
/* Ends the session: QUIT (which commits DELE); CLOSE follows. */
enum pop3c_act pop3_client_quit(struct pop3_client *c, struct buf *out);
/* After STLS: the handshake is done; writes CAPA. */
void pop3_client_secured(struct pop3_client *c, struct buf *out);

/*
 * After DATA: the piece (without CRLF) and whether it ends its line.
 * Valid until the next feed; it points into the fed line.
 */
void pop3_client_data(const struct pop3_client *c, const char **data,
		      size_t *len, bool *eol);
/* The last command's status line (valid after READY and CLOSE). */
const struct pop3c_reply *pop3_client_reply(const struct pop3_client *c);
/* Why the session failed; ok is true when it did not. */
const struct pop3c_reply *pop3_client_error(const struct pop3_client *c);
const struct pop3c_ext *pop3_client_ext(const struct pop3_client *c);
bool pop3_client_secure(const struct pop3_client *c);

/*
 * Parses "n size" (a scan listing, RFC 1939 5; also STAT's text after
 * "+OK ") into n and size; false if malformed.
 */
bool pop3_parse_listing(const char *s, unsigned long *n,
			unsigned long *size);

#endif
