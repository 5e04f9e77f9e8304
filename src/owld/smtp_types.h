/*
 * smtp_types - the SMTP session as owld's SMTP glue files share it
 * (smtp_sess.c, which owns it, and smtp_milter.c, its milter hooks): the
 * session struct, and the calls back into smtp_sess.c that the milter
 * hooks make through a table (struct smtp_glue), so that the two files
 * depend one way only (check-layers: no circle of files).  Private to
 * src/owld.
 */
#ifndef OWL_SMTP_TYPES_H
#define OWL_SMTP_TYPES_H

#include <stdbool.h>
#include <stddef.h>

#include "../auth/aliases.h"
#include "../lib/addr.h"
#include "../lib/buf.h"
#include "../proto/smtp_server.h"
#include "sess.h"

/* Room for the trace headers: every field in them is bounded. */
#define TRACE_MAX 4096

/* A message that outgrew memory: its text so far, in an anonymous file. */
struct spool {
	int fd;			/* -1: none, the message is all in msg */
	size_t len;		/* octets written to it */
	size_t crlf_len;	/* their size with CRLF line ends */
	bool eightbit;		/* any octet >= 0x80 in them */
	int err;		/* a write failed: the message gets 451/452 */
};

struct commit;
struct check;
struct milters;
struct smtp_glue;

struct smtp_sess {
	struct sess base;	/* first: the session base's half */
	const struct smtp_glue *glue; /* smtp_sess.c's calls, for the hooks */
	bool submission;	/* the submission listener: AUTH, relaying */
	bool relay_net;		/* the peer is in relay.networks */
	char user[ADDR_PATH_MAX + 1]; /* authenticated user, or "" */
	struct smtp_server *core;
	struct buf *msg;	/* trace headers + message, LF line ends; */
	struct spool spool;	/* or its tail, with the rest in a spool */
	char msgid[17];		/* of the message being received */
	struct commit *commit;	/* in flight, or NULL */
	struct check *check;	/* the inbound checks in flight, or NULL */
	/* this transaction's outside addresses so far (aliases expanded) */
	struct aliases_exp remote;
	unsigned mails, rcpts;
	struct milters *milters; /* milter.servers, or NULL */
	enum smtp_act mstep;	/* the step the milters answer */
	bool discard;		/* a milter discarded the transaction */
	bool quarantine;	/* a milter or the checks quarantined the
				   message: to the users' Junk folders */
};


/* smtp_sess.c's functions the milter hooks call (smtp_milter.c). */
struct smtp_glue {
	/* runs an action of the core (after an answer to it) */
	void (*act)(struct smtp_sess *s, enum smtp_act act);
	/* the local user an address routes to, or NULL with why */
	const char *(*local_name)(struct smtp_sess *s, const struct addr *a,
				  char *out, size_t size,
				  enum smtp_result *why);
	/* drops the message's spool file */
	void (*spool_close)(struct smtp_sess *s);
	/* the message passed the milters: owld's checks, then the commit */
	void (*data_checked)(struct smtp_sess *s);
};

#endif
