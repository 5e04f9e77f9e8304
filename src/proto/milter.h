/*
 * milter - the sans-I/O client core of the Sendmail milter protocol,
 * version 6 as Postfix speaks it, for ONE milter connection.
 *
 * A packet is a 4-octet big-endian length, one command octet and its
 * data.  The milter_send_*() calls append the packets of one step (its
 * macros first, then the command) to out and say whether a reply is due:
 * MILTER_SENT_REPLY (feed the bytes that come back until an event other
 * than MORE), MILTER_SENT_NOREPLY (sent; the milter asked not to answer
 * it, SMFIP_NR_*), or MILTER_SKIPPED (nothing sent: the milter asked not
 * to get this step, SMFIP_NO*, or it accepted or refused the session or
 * the message already, or it broke the protocol).
 *
 * milter_feed() takes the bytes read back in any chunking (it keeps at
 * most one partial packet, bounded by limits->max_packet) and returns
 * one event per reply.  A reply the step does not allow, an action the
 * milter did not negotiate, a packet over max_packet, or modifications
 * over max_mods is a protocol error: MILTER_EV_ERROR, with the reason in
 * milter_error(); the core is then broken and sends nothing more (the
 * caller applies its default action and closes the connection).
 *
 * At end of message the modification actions (add/change/insert header,
 * change sender, add/delete recipient, replace body, quarantine) are
 * collected until the final reply; milter_mod_next() walks them.
 *
 * No sockets, no clocks, no files; memory only within the limits.
 */
#ifndef OWL_PROTO_MILTER_H
#define OWL_PROTO_MILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/buf.h"

#define MILTER_VERSION 6
#define MILTER_CHUNK_MAX 65535	/* body octets per BODY packet */
#define MILTER_REPLY_MAX 512	/* a reply code and text we keep */

/* SMFIF_*: actions a milter may take at end of message (mfapi.h). */
#define MILTER_ACT_ADDHDRS 0x01
#define MILTER_ACT_CHGBODY 0x02
#define MILTER_ACT_ADDRCPT 0x04
#define MILTER_ACT_DELRCPT 0x08
#define MILTER_ACT_CHGHDRS 0x10
#define MILTER_ACT_QUARANTINE 0x20
#define MILTER_ACT_CHGFROM 0x40
#define MILTER_ACT_ADDRCPT_PAR 0x80
#define MILTER_ACTS_ALL 0xff	/* what owld offers (no SETSYMLIST) */

/* SMFIP_*: steps a milter need not get (NO) or answer (NR) (mfdef.h). */
#define MILTER_P_NOCONNECT 0x01
#define MILTER_P_NOHELO 0x02
#define MILTER_P_NOMAIL 0x04
#define MILTER_P_NORCPT 0x08
#define MILTER_P_NOBODY 0x10
#define MILTER_P_NOHDRS 0x20
#define MILTER_P_NOEOH 0x40
#define MILTER_P_NR_HDR 0x80
#define MILTER_P_NOUNKNOWN 0x100
#define MILTER_P_NODATA 0x200
#define MILTER_P_SKIP 0x400
#define MILTER_P_NR_CONN 0x1000
#define MILTER_P_NR_HELO 0x2000
#define MILTER_P_NR_MAIL 0x4000
#define MILTER_P_NR_RCPT 0x8000
#define MILTER_P_NR_DATA 0x10000
#define MILTER_P_NR_UNKN 0x20000
#define MILTER_P_NR_EOH 0x40000
#define MILTER_P_NR_BODY 0x80000
#define MILTER_P_HDR_LEADSPC 0x100000
/* what owld offers: every NO and NR flag and SKIP (not RCPT_REJ) */
#define MILTER_P_OFFER 0x0ff7ff

struct milter_limits {
	size_t max_packet;	/* data octets of one packet read back */
	size_t max_mods;	/* octets of end-of-message modifications */
};

enum milter_sent {
	MILTER_SKIPPED,		/* nothing sent */
	MILTER_SENT_NOREPLY,	/* sent; no reply comes */
	MILTER_SENT_REPLY,	/* sent; feed the reply */
};

enum milter_ev {
	MILTER_EV_MORE,		/* all bytes taken, no reply yet */
	MILTER_EV_NEGOTIATED,	/* OPTNEG answered: steps and actions set */
	MILTER_EV_CONTINUE,
	MILTER_EV_ACCEPT,	/* accept: no more steps for the message (or
				   the session, at CONNECT and HELO) */
	MILTER_EV_REJECT,	/* 5xx: milter_reply() has the text, or "" */
	MILTER_EV_TEMPFAIL,	/* 4xx: likewise */
	MILTER_EV_DISCARD,	/* accept the message and drop it */
	MILTER_EV_SKIP,		/* send no more body */
	MILTER_EV_PROGRESS,	/* still working: restart the timer */
	MILTER_EV_ERROR,	/* protocol error: see milter_error() */
};

/* A step's macro: {name} or a one-letter name, and its value. */
struct milter_macro {
	const char *name;
	const char *value;
};

/* One modification action from the end of message. */
enum milter_mod_type {
	MILTER_MOD_ADDHEADER = 'h',
	MILTER_MOD_CHGHEADER = 'm',	/* value "": delete the header */
	MILTER_MOD_INSHEADER = 'i',
	MILTER_MOD_CHGFROM = 'e',
	MILTER_MOD_ADDRCPT = '+',
	MILTER_MOD_ADDRCPT_PAR = '2',
	MILTER_MOD_DELRCPT = '-',
	MILTER_MOD_REPLBODY = 'b',	/* one piece of the new body */
	MILTER_MOD_QUARANTINE = 'q',
};

struct milter_mod {
	enum milter_mod_type type;
	uint32_t index;		/* CHGHEADER: nth of name (1-based);
				   INSHEADER: position (0: first) */
	const char *name;	/* header name, address, or reason */
	const char *value;	/* header value, ESMTP args, or NULL */
	const char *data;	/* REPLBODY: the piece (len octets) */
	size_t len;
};

struct milter;

/* A new core (limits copied); nothing sent yet. */
struct milter *milter_new(const struct milter_limits *lim);
void milter_free(struct milter **mp);

/* OPTNEG: version 6, every action, the steps owld can leave out. */
enum milter_sent milter_send_optneg(struct milter *m, struct buf *out);
/*
 * CONNECT: family '4', '6', 'L' (unix socket) or 'U' (unknown: no port
 * and address are sent); addr as text.
 */
enum milter_sent milter_send_connect(struct milter *m,
				     const struct milter_macro *mac,
				     size_t nmac, const char *host,
				     char family, unsigned port,
				     const char *addr, struct buf *out);
enum milter_sent milter_send_helo(struct milter *m,
				  const struct milter_macro *mac, size_t nmac,
				  const char *helo, struct buf *out);
/* MAIL and RCPT: args[0] the "<address>", then ESMTP arguments. */
enum milter_sent milter_send_mail(struct milter *m,
				  const struct milter_macro *mac, size_t nmac,
				  const char *const *args, size_t nargs,
				  struct buf *out);
enum milter_sent milter_send_rcpt(struct milter *m,
				  const struct milter_macro *mac, size_t nmac,
				  const char *const *args, size_t nargs,
				  struct buf *out);
enum milter_sent milter_send_data(struct milter *m,
				  const struct milter_macro *mac, size_t nmac,
				  struct buf *out);
/* One header field: name, and its value (folded lines joined by LF). */
enum milter_sent milter_send_header(struct milter *m, const char *name,
				    size_t nlen, const char *value,
				    size_t vlen, struct buf *out);
enum milter_sent milter_send_eoh(struct milter *m,
				 const struct milter_macro *mac, size_t nmac,
				 struct buf *out);
/* A piece of body, at most MILTER_CHUNK_MAX octets. */
enum milter_sent milter_send_body(struct milter *m, const char *data,
				  size_t len, struct buf *out);
/* End of message: the reply ends the collected modifications. */
enum milter_sent milter_send_eom(struct milter *m,
				 const struct milter_macro *mac, size_t nmac,
				 struct buf *out);
/* The transaction is over (RSET, a new MAIL): no reply; next: MAIL. */
enum milter_sent milter_send_abort(struct milter *m, struct buf *out);
/* The session ends; no reply. */
enum milter_sent milter_send_quit(struct milter *m, struct buf *out);

/*
 * Bytes read back: takes up to the end of one reply (*used_r octets) and
 * returns its event, or MORE with all taken.  Call again with the rest.
 */
enum milter_ev milter_feed(struct milter *m, const char *data, size_t len,
			   size_t *used_r);
/* A REJECT or TEMPFAIL's "550 5.7.1 text" from SMFIR_REPLYCODE, or "". */
const char *milter_reply(const struct milter *m);
/* Why the last MILTER_EV_ERROR. */
const char *milter_error(const struct milter *m);
/* A reply is awaited. */
bool milter_waiting(const struct milter *m);
/* The negotiated actions (MILTER_ACT_*) and steps (MILTER_P_*). */
uint32_t milter_actions(const struct milter *m);
uint32_t milter_protocol(const struct milter *m);
/*
 * The end of message's modifications in order: *pos starts at 0; true
 * and *mod filled (pointing into the core, valid until the next send or
 * feed) while there is one.
 */
bool milter_mod_next(const struct milter *m, size_t *pos,
		     struct milter_mod *mod);

#endif
