/*
 * inbound - the checks on a message that arrives on the MX port: SPF for
 * the HELO name and the MAIL FROM domain (RFC 7208), every DKIM signature
 * (RFC 6376), then DMARC for the From domain (RFC 7489) from those two;
 * one Authentication-Results field (RFC 8601) with the results; and the
 * verdict under owld's policy.  Sans-I/O, like the cores it drives: the
 * header section and the body come in as text, DNS questions go out one
 * at a time (inbound_next) and their answers come back (inbound_answer),
 * so the caller decides how to look them up (owld: a worker thread and
 * relay/dns's cache; tests: a table).
 *
 * The steps run in order: SPF for HELO (when it is a domain name), SPF for
 * MAIL FROM (the HELO result stands for it when MAIL FROM is <>), the key
 * of each DKIM signature, and DMARC's record.  A check that is off is
 * skipped.  Failures are results: nothing here fails but memory, and a
 * message that cannot be read (no header section) gets DKIM and DMARC
 * permerror / none as the RFCs say.
 */
#ifndef OWL_INBOUND_H
#define OWL_INBOUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/buf.h"
#include "dkim.h"
#include "dmarc.h"
#include "dnsq.h"
#include "psl.h"
#include "spf.h"

/* What owld does with the results (inbound.checks and its keys). */
enum inbound_mode {
	INBOUND_OFF,
	INBOUND_TAG,		/* results in Authentication-Results only */
	INBOUND_ENFORCE,	/* and the policy below */
};

struct inbound_policy {
	enum inbound_mode mode;
	bool spf_reject;	/* inbound.spf_fail = reject (enforce only) */
	bool dkim, spf, dmarc;	/* which checks run */
	struct dkim_verify_limits dkim_lim;
	struct spf_limits spf_lim;	/* zeros: RFC 7208's */
};

struct inbound_in {
	int family;		/* AF_INET, AF_INET6 of the client */
	unsigned char ip[16];
	const char *helo;	/* as the client gave it ("" if none) */
	const char *mailfrom;	/* the reverse-path address, "" for <> */
	const char *receiver;	/* our host name (SPF's %{r}) */
	const char *authserv_id; /* ours, in Authentication-Results */
	int64_t now;
	unsigned pct_roll;	/* 0..99 at random: DMARC's pct= */
	const struct psl *psl;	/* NULL: no DMARC (none) */
};

enum inbound_action {
	INBOUND_ACCEPT,
	INBOUND_QUARANTINE,	/* deliver to the Junk folder */
	INBOUND_REJECT,		/* 550 */
	INBOUND_TEMPFAIL,	/* 451 */
};

struct inbound_verdict {
	enum inbound_action action;
	char reply[200];	/* the SMTP reply for REJECT and TEMPFAIL */
	char log[300];		/* one line for the log: what was found */
};

struct inbound;

/*
 * Checks for one message whose header section is hdr (hlen octets, up to
 * and with the empty line; LF line ends).  The strings of in and p must
 * outlive it.  NULL: no memory.
 */
struct inbound *inbound_new(const struct inbound_policy *p,
			    const struct inbound_in *in, const char *hdr,
			    size_t hlen);
/* The body, in pieces, then its end. */
void inbound_body(struct inbound *c, const char *p, size_t len);
void inbound_body_end(struct inbound *c);
/*
 * true: q is the next DNS question, to be answered with inbound_answer();
 * false: every check has its result.  Call after inbound_body_end().
 */
bool inbound_next(struct inbound *c, struct dnsq_question *q);
void inbound_answer(struct inbound *c, const struct dnsq_answer *a);
/*
 * The Authentication-Results field with every result, LF line ends,
 * appended to out; and the verdict under the policy.
 */
int inbound_authres(const struct inbound *c, struct buf *out);
void inbound_verdict(const struct inbound *c, struct inbound_verdict *v);
/* The results, for tests and the log. */
enum spf_result inbound_spf(const struct inbound *c, bool helo);
enum dmarc_result inbound_dmarc(const struct inbound *c,
				enum dmarc_policy *applied);
void inbound_free(struct inbound **c);

#endif
