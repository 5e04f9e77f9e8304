/*
 * sasl - the server side of the SASL exchanges both cores offer, sans-I/O:
 * PLAIN (RFC 4616: [authzid] NUL authcid NUL passwd, in base64) and LOGIN
 * (the user name, then the password, each in base64).  The SMTP core runs
 * it for AUTH (RFC 4954), the POP3 core for AUTH (RFC 5034); each maps the
 * results to its own replies.
 *
 * An exchange starts with an optional initial response, where "=" is an
 * empty response, and goes on one response line at a time, where "*"
 * cancels (RFC 4954 4).  Lines are given without their line end.  The
 * decoded user name and password live in the struct until sasl_wipe();
 * every result other than SASL_OK and SASL_MORE ends the exchange and has
 * already wiped the password and every decoded copy (explicit_bzero).
 *
 * It fails by result, never by crashing: bad base64, a malformed or too
 * long field, an authzid that is not the authcid, a cancel.
 */
#ifndef OWL_SASL_H
#define OWL_SASL_H

#include <stdbool.h>
#include <stddef.h>

#define SASL_LINE_MAX 2048	/* a response line, base64, with its CRLF */
#define SASL_USER_MAX 255	/* the authentication identity */
#define SASL_PASS_MAX 1024

/* Flags of sasl_init(): the leniencies one protocol keeps. */
#define SASL_CANCEL_INITIAL 0x1	/* "*" as initial response cancels too */
#define SASL_EMPTY_ALWAYS 0x2	/* "=" is an empty response on any line */
#define SASL_USER_TOKEN 0x4	/* user names hold no space, control, DEL */

enum sasl_mech {
	SASL_MECH_NONE,		/* none, or not one we know */
	SASL_MECH_PLAIN,
	SASL_MECH_LOGIN,
};

enum sasl_result {
	SASL_OK,		/* user and pass are in; sasl_wipe() after */
	SASL_MORE,		/* send sasl_challenge(), feed the next line */
	SASL_CANCELLED,		/* the client answered "*" */
	SASL_BAD_BASE64,
	SASL_MALFORMED,		/* not the mechanism's form, empty user, or
				 * a field past SASL_USER_MAX/SASL_PASS_MAX */
	SASL_AUTHZID,		/* PLAIN: an authzid other than the authcid */
};

/* One exchange's state, embedded in the session core; fields are private. */
struct sasl {
	unsigned flags;
	enum sasl_mech mech;	/* the exchange under way, or NONE */
	bool have_user;		/* LOGIN: the user name came */
	char user[SASL_USER_MAX + 1];
	char pass[SASL_PASS_MAX + 1];
};

/* Clears x for a session; flags are SASL_* above, or 0. */
void sasl_init(struct sasl *x, unsigned flags);
/* The mechanism named name[0..len), case-insensitive; NONE if unknown. */
enum sasl_mech sasl_mech_parse(const char *name, size_t len);
/*
 * Starts an exchange of mechanism m (PLAIN or LOGIN); initial is the
 * initial response (len bytes), or NULL if none came.  OK, MORE or an
 * error as for sasl_step().
 */
enum sasl_result sasl_start(struct sasl *x, enum sasl_mech m,
			    const char *initial, size_t len);
/* Feeds one response line (no line end) to the exchange under way. */
enum sasl_result sasl_step(struct sasl *x, const char *line, size_t len);
/* The base64 challenge text to send after SASL_MORE ("" for PLAIN). */
const char *sasl_challenge(const struct sasl *x);
/* An exchange is under way: the next line is a response (a secret). */
bool sasl_active(const struct sasl *x);
/* After SASL_OK: the NUL-terminated user name and password. */
const char *sasl_user(const struct sasl *x);
const char *sasl_pass(const struct sasl *x);
/* Wipes the user name and password and ends any exchange. */
void sasl_wipe(struct sasl *x);

#endif
