/*
 * check - the inbound checks (msgauth/inbound.h: SPF, DKIM, DMARC) run
 * for the SMTP sessions of the MX port, on threads of their own so that a
 * slow DNS answer holds neither the event loop nor the commit workers.
 *
 * A message goes to a check with its text (in memory or in a spool file);
 * the thread reads it, asks the DNS questions through relay/dns's cache
 * (each lookup bounded by dns.timeout, the whole check by
 * inbound.timeout, after which the questions left count as DNS trouble),
 * and makes the message as it will be stored: our Authentication-Results
 * field on top, and any incoming one that claims our authserv-id removed
 * (RFC 8601 5).  On the loop thread the caller then gets the verdict and
 * the new text.  A check whose session has gone frees itself.
 */
#ifndef OWL_CHECK_H
#define OWL_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "../lib/buf.h"
#include "../msgauth/inbound.h"

struct event_base;
struct conf;

/* A message's text: all of it in msg, or in the file fd (msg unused). */
struct check_msg {
	struct buf *msg;	/* owned */
	int fd;			/* owned; -1: none */
	size_t len, crlf_len;	/* the file's, when fd != -1 */
	bool eightbit;
};

/* Who sent it, as SMTP said. */
struct check_who {
	const char *peer;	/* the client's address, text */
	const char *helo;
	const char *mailfrom;	/* "" for <> */
	const char *msgid;	/* for the log */
};

struct check_ctx;
struct check;

typedef void check_done_fn(struct check *k, void *arg);

/*
 * The checks' threads, DNS cache and public suffix list, as conf says;
 * NULL (nothing to free) when inbound.checks is off.  *error_r is set and
 * NULL returned when they cannot start.
 */
struct check_ctx *check_ctx_new(struct event_base *base,
				const struct conf *c, const char **error_r);
/* Waits for the checks in flight, then frees everything. */
void check_ctx_free(struct check_ctx **x);
/*
 * "checks=MODE dns_hits=N dns_misses=N dns_entries=N dns_bytes=N" (or
 * "checks=off") for owlctl status.
 */
void check_ctx_stats(const struct check_ctx *x, char *out, size_t size);

/*
 * Starts the checks of one message; the text moves into the check (m is
 * left empty).  done(k, arg) runs on the loop thread when they are done,
 * unless check_forget() was called first.
 */
struct check *check_start(struct check_ctx *x, const struct check_who *w,
			  struct check_msg *m, check_done_fn *done,
			  void *arg);
/* The session went: the check frees itself when its thread is done. */
void check_forget(struct check *k);
/* In done(): the verdict, and the text to store (moved out to *m). */
const struct inbound_verdict *check_verdict(const struct check *k);
void check_take_msg(struct check *k, struct check_msg *m);
void check_free(struct check **k);

#endif
