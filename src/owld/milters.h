/*
 * milters - the milters of one SMTP session (milter.servers), as Postfix's
 * smtpd_milters: a connection to each, opened when the session starts,
 * driven by proto/milter.h on the event loop, never blocking it.
 *
 * The session asks for one step at a time and gets one answer through
 * its callback: MAIL (CONNECT and the latest HELO go first, as a milter
 * that refused the connection or the HELO refuses every MAIL after, as
 * Sendmail and Postfix do), RCPT, and the message (DATA, the header
 * fields, EOH, the body, EOM).  The milters are asked in their order;
 * the first that rejects, tempfails or discards decides.
 *
 * A milter that cannot be reached within milter.connect_timeout, does not
 * answer within milter.command_timeout (milter.content_timeout for the
 * message's steps) or breaks the protocol is dropped for the session and
 * milter.default_action applies: tempfail answers every step after it
 * 451 4.7.1, accept goes on without it.  Every such failure is logged.
 */
#ifndef OWL_OWLD_MILTERS_H
#define OWL_OWLD_MILTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "../lib/buf.h"

struct owld;
struct milters;
struct milter;

enum milters_verdict {
	MILTERS_CONTINUE,	/* go on (every milter continued or accepted) */
	MILTERS_REJECT,		/* 5xx: reply, or a default text */
	MILTERS_TEMPFAIL,	/* 4xx: likewise */
	MILTERS_DISCARD,	/* accept the message and drop it */
};

/*
 * A step's answer: reply is a milter's own "550 5.7.1 text" or "" (the
 * caller picks its text); name the milter that decided, or "".
 */
typedef void milters_done_fn(void *arg, enum milters_verdict v,
			     const char *reply, const char *name);

/* Connects to every milter; NULL if milter.servers is empty. */
struct milters *milters_open(struct owld *d, const char *id,
			     const char *peer, const struct sockaddr *sa,
			     milters_done_fn *done, void *arg);
/* QUIT to every milter (ABORT first in a message), then frees; NULL ok. */
void milters_close(struct milters **msp);
/* A step is in flight (its answer will come). */
bool milters_busy(const struct milters *ms);

/* What the session knows, for the steps and their macros. */
struct milters_mail {
	const char *helo;	/* "" before HELO/EHLO */
	const char *tls_version, *cipher;	/* or NULL */
	const char *user;	/* the AUTH identity, or NULL */
	const char *sender;	/* the reverse-path text ("" for <>) */
};

/* MAIL (after ABORT, CONNECT, HELO as due). */
void milters_mail(struct milters *ms, const struct milters_mail *m);
/* RCPT for the forward-path text rcpt. */
void milters_rcpt(struct milters *ms, const char *rcpt);
/*
 * The message: its text with LF line ends, in memory (data) or in a
 * spool file (fd, data NULL), len octets; the first line (owld's
 * Return-Path) is not sent.  The text must stay as it is until the
 * answer.  XXX a spooled message's header block and body are read with
 * pread() on the loop, a page-cached file just written.
 */
void milters_message(struct milters *ms, const char *msgid, const char *data,
		     int fd, size_t len);
/*
 * After the message's answer: the core of milter i (for its collected
 * modifications, milter_mod_next) if it got to the end of the message,
 * else NULL; false past the last milter.
 */
bool milters_result(const struct milters *ms, size_t i,
		    const struct milter **m_r, const char **name_r);

#endif
