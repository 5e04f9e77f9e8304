/*
 * milter - see milter.h.  The packet formats and codes are those of
 * Sendmail's libmilter (mfdef.h, mfapi.h) as Postfix's milter8.c speaks
 * them; the names here are owlpost's own.
 *
 * State: one step at a time.  A send that wants a reply leaves the core
 * waiting for a reply to that command (wait); milter_feed() checks each
 * reply against it.  Anything unexpected breaks the core for good: the
 * caller applies its default action, as Postfix does on a protocol error.
 */
#include "milter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Commands (SMFIC_*) */
#define C_ABORT 'A'
#define C_BODY 'B'
#define C_CONNECT 'C'
#define C_MACRO 'D'
#define C_EOM 'E'
#define C_HELO 'H'
#define C_HEADER 'L'
#define C_MAIL 'M'
#define C_EOH 'N'
#define C_OPTNEG 'O'
#define C_QUIT 'Q'
#define C_RCPT 'R'
#define C_DATA 'T'

/* Replies (SMFIR_*) */
#define R_ACCEPT 'a'
#define R_CONTINUE 'c'
#define R_DISCARD 'd'
#define R_REJECT 'r'
#define R_TEMPFAIL 't'
#define R_REPLYCODE 'y'
#define R_SKIP 's'
#define R_PROGRESS 'p'
#define R_SHUTDOWN '4'
#define R_CONNFAIL 'f'

enum state {
	ST_NEW,		/* OPTNEG not sent */
	ST_READY,	/* negotiated, no reply awaited */
	ST_WAIT,	/* a reply to wait is awaited */
	ST_BROKEN,	/* protocol error: sends nothing more */
};

struct milter {
	struct milter_limits lim;
	enum state state;
	char wait;		/* the command a reply is awaited for */
	uint32_t actions, proto;
	bool sess_done;		/* accepted or refused at CONNECT/HELO */
	bool msg_done;		/* accepted, refused or discarded: no more
				   steps until the next MAIL */
	bool in_msg;		/* MAIL sent, not yet ended (EOM, ABORT) */
	bool body_skip;		/* SKIP: no more BODY this message */
	struct buf *pkt;	/* the reply being read: length + data */
	struct buf *mods;	/* end of message modifications, as read */
	char reply[MILTER_REPLY_MAX + 1];
	char error[160];
};

static enum milter_ev broken(struct milter *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

struct milter *
milter_new(const struct milter_limits *lim)
{
	struct milter *m = xcalloc(1, sizeof(*m));

	m->lim = *lim;
	/* room for the length, the command and the data */
	m->pkt = buf_new(lim->max_packet + 5);
	m->mods = buf_new(lim->max_mods);
	return m;
}

void
milter_free(struct milter **mp)
{
	if (*mp == NULL)
		return;
	buf_free(&(*mp)->pkt);
	buf_free(&(*mp)->mods);
	free(*mp);
	*mp = NULL;
}

static enum milter_ev
broken(struct milter *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->error, sizeof(m->error), fmt, ap);
	va_end(ap);
	m->state = ST_BROKEN;
	return MILTER_EV_ERROR;
}

/* ---- sending ---- */

static void
put32(char *p, uint32_t v)
{
	p[0] = (char)(v >> 24);
	p[1] = (char)(v >> 16);
	p[2] = (char)(v >> 8);
	p[3] = (char)v;
}

static uint32_t
get32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;

	return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 |
	       (uint32_t)u[2] << 8 | u[3];
}

/* Starts a packet of cmd; its length is set by end_packet(). */
static size_t
begin_packet(struct buf *out, char cmd, int *err)
{
	size_t at = out->len;
	char hdr[5] = {0, 0, 0, 0, cmd};

	if (buf_add(out, hdr, sizeof(hdr)) == -1)
		*err = -1;
	return at;
}

static void
end_packet(struct buf *out, size_t at, int *err)
{
	if (*err == 0)
		put32(out->data + at, (uint32_t)(out->len - at - 4));
}

static void
add_str(struct buf *out, const char *s, size_t len, int *err)
{
	if (buf_add(out, s, len) == -1 || buf_addc(out, '\0') == -1)
		*err = -1;
}

static void
add_cstr(struct buf *out, const char *s, int *err)
{
	add_str(out, s, strlen(s), err);
}

/* SMFIC_MACRO for the command cmd: name, value, ... */
static void
add_macros(struct buf *out, char cmd, const struct milter_macro *mac,
	   size_t nmac, int *err)
{
	size_t at;

	if (nmac == 0)
		return;
	at = begin_packet(out, C_MACRO, err);
	if (buf_addc(out, cmd) == -1)
		*err = -1;
	for (size_t i = 0; i < nmac; i++) {
		add_cstr(out, mac[i].name, err);
		add_cstr(out, mac[i].value, err);
	}
	end_packet(out, at, err);
}

/*
 * May a step be sent: the core negotiated, waits for nothing, and the
 * milter neither left the session or the message nor asked not to get
 * it (no_flag)?
 */
static bool
may_send(const struct milter *m, uint32_t no_flag, bool in_message)
{
	if (m->state != ST_READY || m->sess_done)
		return false;
	if (in_message && (m->msg_done || !m->in_msg))
		return false;
	return (m->proto & no_flag) == 0;
}

/* After a packet went into out: does a reply come? */
static enum milter_sent
sent(struct milter *m, struct buf *out, size_t undo, int err, char cmd,
     uint32_t nr_flag)
{
	if (err != 0) {
		/* out is full: nothing of the step stays half-written */
		out->len = undo;
		broken(m, "output buffer full");
		return MILTER_SKIPPED;
	}
	if (nr_flag != 0 && (m->proto & nr_flag) != 0)
		return MILTER_SENT_NOREPLY;
	m->state = ST_WAIT;
	m->wait = cmd;
	return MILTER_SENT_REPLY;
}

enum milter_sent
milter_send_optneg(struct milter *m, struct buf *out)
{
	size_t at, undo = out->len;
	int err = 0;
	char v[12];

	if (m->state != ST_NEW)
		return MILTER_SKIPPED;
	put32(v, MILTER_VERSION);
	put32(v + 4, MILTER_ACTS_ALL);
	put32(v + 8, MILTER_P_OFFER);
	at = begin_packet(out, C_OPTNEG, &err);
	if (buf_add(out, v, sizeof(v)) == -1)
		err = -1;
	end_packet(out, at, &err);
	m->state = ST_READY;
	return sent(m, out, undo, err, C_OPTNEG, 0);
}

enum milter_sent
milter_send_connect(struct milter *m, const struct milter_macro *mac,
		    size_t nmac, const char *host, char family, unsigned port,
		    const char *addr, struct buf *out)
{
	size_t at, undo = out->len;
	int err = 0;
	char p[2] = {(char)(port >> 8), (char)port};

	if (!may_send(m, MILTER_P_NOCONNECT, false))
		return MILTER_SKIPPED;
	add_macros(out, C_CONNECT, mac, nmac, &err);
	at = begin_packet(out, C_CONNECT, &err);
	add_cstr(out, host, &err);
	if (buf_addc(out, family) == -1)
		err = -1;
	if (family != 'U') {
		if (buf_add(out, p, 2) == -1)
			err = -1;
		add_cstr(out, addr, &err);
	}
	end_packet(out, at, &err);
	return sent(m, out, undo, err, C_CONNECT, MILTER_P_NR_CONN);
}

enum milter_sent
milter_send_helo(struct milter *m, const struct milter_macro *mac,
		 size_t nmac, const char *helo, struct buf *out)
{
	size_t at, undo = out->len;
	int err = 0;

	if (!may_send(m, MILTER_P_NOHELO, false))
		return MILTER_SKIPPED;
	add_macros(out, C_HELO, mac, nmac, &err);
	at = begin_packet(out, C_HELO, &err);
	add_cstr(out, helo, &err);
	end_packet(out, at, &err);
	return sent(m, out, undo, err, C_HELO, MILTER_P_NR_HELO);
}

static enum milter_sent
send_args(struct milter *m, char cmd, const struct milter_macro *mac,
	  size_t nmac, const char *const *args, size_t nargs, uint32_t nr,
	  struct buf *out)
{
	size_t at, undo = out->len;
	int err = 0;

	add_macros(out, cmd, mac, nmac, &err);
	at = begin_packet(out, cmd, &err);
	for (size_t i = 0; i < nargs; i++)
		add_cstr(out, args[i], &err);
	end_packet(out, at, &err);
	return sent(m, out, undo, err, cmd, nr);
}

enum milter_sent
milter_send_mail(struct milter *m, const struct milter_macro *mac,
		 size_t nmac, const char *const *args, size_t nargs,
		 struct buf *out)
{
	if (m->state != ST_READY || m->sess_done)
		return MILTER_SKIPPED;
	/* a new message: what the milter said of the last one is over */
	m->in_msg = true;
	m->msg_done = false;
	m->body_skip = false;
	if ((m->proto & MILTER_P_NOMAIL) != 0)
		return MILTER_SKIPPED;
	return send_args(m, C_MAIL, mac, nmac, args, nargs, MILTER_P_NR_MAIL,
			 out);
}

enum milter_sent
milter_send_rcpt(struct milter *m, const struct milter_macro *mac,
		 size_t nmac, const char *const *args, size_t nargs,
		 struct buf *out)
{
	if (!may_send(m, MILTER_P_NORCPT, true))
		return MILTER_SKIPPED;
	return send_args(m, C_RCPT, mac, nmac, args, nargs, MILTER_P_NR_RCPT,
			 out);
}

/* A command with no data, after its macros. */
static enum milter_sent
send_bare(struct milter *m, char cmd, const struct milter_macro *mac,
	  size_t nmac, uint32_t nr, struct buf *out)
{
	return send_args(m, cmd, mac, nmac, NULL, 0, nr, out);
}

enum milter_sent
milter_send_data(struct milter *m, const struct milter_macro *mac,
		 size_t nmac, struct buf *out)
{
	if (!may_send(m, MILTER_P_NODATA, true))
		return MILTER_SKIPPED;
	return send_bare(m, C_DATA, mac, nmac, MILTER_P_NR_DATA, out);
}

enum milter_sent
milter_send_header(struct milter *m, const char *name, size_t nlen,
		   const char *value, size_t vlen, struct buf *out)
{
	size_t at, undo = out->len;
	int err = 0;

	if (!may_send(m, MILTER_P_NOHDRS, true))
		return MILTER_SKIPPED;
	at = begin_packet(out, C_HEADER, &err);
	add_str(out, name, nlen, &err);
	add_str(out, value, vlen, &err);
	end_packet(out, at, &err);
	return sent(m, out, undo, err, C_HEADER, MILTER_P_NR_HDR);
}

enum milter_sent
milter_send_eoh(struct milter *m, const struct milter_macro *mac,
		size_t nmac, struct buf *out)
{
	if (!may_send(m, MILTER_P_NOEOH, true))
		return MILTER_SKIPPED;
	return send_bare(m, C_EOH, mac, nmac, MILTER_P_NR_EOH, out);
}

enum milter_sent
milter_send_body(struct milter *m, const char *data, size_t len,
		 struct buf *out)
{
	size_t at, undo = out->len;
	int err = 0;

	if (!may_send(m, MILTER_P_NOBODY, true) || m->body_skip ||
	    len > MILTER_CHUNK_MAX)
		return MILTER_SKIPPED;
	at = begin_packet(out, C_BODY, &err);
	if (buf_add(out, data, len) == -1)
		err = -1;
	end_packet(out, at, &err);
	return sent(m, out, undo, err, C_BODY, MILTER_P_NR_BODY);
}

enum milter_sent
milter_send_eom(struct milter *m, const struct milter_macro *mac,
		size_t nmac, struct buf *out)
{
	enum milter_sent r;

	if (!may_send(m, 0, true))
		return MILTER_SKIPPED;
	buf_reset(m->mods);
	r = send_bare(m, C_EOM, mac, nmac, 0, out);
	return r;
}

enum milter_sent
milter_send_abort(struct milter *m, struct buf *out)
{
	size_t at, undo = out->len;
	int err = 0;

	if (m->state != ST_READY || m->sess_done || !m->in_msg)
		return MILTER_SKIPPED;
	m->in_msg = false;
	m->msg_done = false;
	at = begin_packet(out, C_ABORT, &err);
	end_packet(out, at, &err);
	if (err != 0) {
		out->len = undo;
		broken(m, "output buffer full");
		return MILTER_SKIPPED;
	}
	return MILTER_SENT_NOREPLY;
}

enum milter_sent
milter_send_quit(struct milter *m, struct buf *out)
{
	size_t at, undo = out->len;
	int err = 0;

	if (m->state == ST_NEW || m->state == ST_BROKEN)
		return MILTER_SKIPPED;
	at = begin_packet(out, C_QUIT, &err);
	end_packet(out, at, &err);
	m->state = ST_BROKEN; /* nothing may follow a QUIT */
	snprintf(m->error, sizeof(m->error), "quit sent");
	if (err != 0) {
		out->len = undo;
		return MILTER_SKIPPED;
	}
	return MILTER_SENT_NOREPLY;
}

/* ---- replies ---- */

static enum milter_ev
got_optneg(struct milter *m, const char *d, size_t n)
{
	uint32_t version, actions, proto;

	if (n < 12)
		return broken(m, "OPTNEG reply of %zu octets", n);
	version = get32(d);
	actions = get32(d + 4);
	proto = get32(d + 8);
	if (version < 2 || version > MILTER_VERSION)
		return broken(m, "milter protocol version %u", version);
	if ((actions & ~(uint32_t)MILTER_ACTS_ALL) != 0)
		return broken(m, "actions 0x%x not offered", actions);
	if ((proto & ~(uint32_t)MILTER_P_OFFER) != 0)
		return broken(m, "protocol steps 0x%x not offered", proto);
	/* anything after the 12 octets (SETSYMLIST) was not offered: unused */
	m->actions = actions;
	m->proto = proto;
	m->state = ST_READY;
	return MILTER_EV_NEGOTIATED;
}

/*
 * SMFIR_REPLYCODE: "4xx text" or "5xx text", NUL-ended.  Kept with any
 * control octets made spaces, so it can be sent on as one SMTP reply.
 */
static enum milter_ev
got_replycode(struct milter *m, const char *d, size_t n)
{
	size_t len = strnlen(d, n), i;

	if (len == n || len < 3 || (d[0] != '4' && d[0] != '5') ||
	    d[1] < '0' || d[1] > '9' || d[2] < '0' || d[2] > '9' ||
	    (len > 3 && d[3] != ' ' && d[3] != '-'))
		return broken(m, "bad reply code");
	if (len > MILTER_REPLY_MAX)
		len = MILTER_REPLY_MAX;
	for (i = 0; i < len; i++)
		m->reply[i] = (unsigned char)d[i] < 0x20 || d[i] == 0x7f
				      ? ' '
				      : d[i];
	m->reply[len] = '\0';
	if (len > 3)
		m->reply[3] = ' '; /* one line: "550-" would start several */
	return d[0] == '4' ? MILTER_EV_TEMPFAIL : MILTER_EV_REJECT;
}

/* A modification action: which negotiated action allows it. */
static uint32_t
mod_action(char cmd)
{
	switch (cmd) {
	case MILTER_MOD_ADDHEADER:
		return MILTER_ACT_ADDHDRS;
	case MILTER_MOD_CHGHEADER:
	case MILTER_MOD_INSHEADER:
		/* Postfix allows insheader with ADDHDRS too */
		return MILTER_ACT_CHGHDRS | MILTER_ACT_ADDHDRS;
	case MILTER_MOD_CHGFROM:
		return MILTER_ACT_CHGFROM;
	case MILTER_MOD_ADDRCPT:
		return MILTER_ACT_ADDRCPT;
	case MILTER_MOD_ADDRCPT_PAR:
		return MILTER_ACT_ADDRCPT_PAR;
	case MILTER_MOD_DELRCPT:
		return MILTER_ACT_DELRCPT;
	case MILTER_MOD_REPLBODY:
		return MILTER_ACT_CHGBODY;
	case MILTER_MOD_QUARANTINE:
		return MILTER_ACT_QUARANTINE;
	default:
		return 0;
	}
}

/* The strings a modification carries: how many NUL-ended ones, at least. */
static bool
mod_valid(char cmd, const char *d, size_t n)
{
	size_t need, i, got = 0;

	switch (cmd) {
	case MILTER_MOD_REPLBODY:
		return true;
	default:
		break;
	}
	/* every other one ends in a NUL: no string runs past the packet */
	if (n == 0 || d[n - 1] != '\0')
		return false;
	switch (cmd) {
	case MILTER_MOD_CHGHEADER:
	case MILTER_MOD_INSHEADER:
		if (n < 4)
			return false;
		d += 4;
		n -= 4;
		need = 2;
		break;
	case MILTER_MOD_ADDHEADER:
		need = 2;
		break;
	default:
		need = 1;
		break;
	}
	for (i = 0; i < n && got < need; i++)
		if (d[i] == '\0')
			got++;
	return got == need;
}

/* A modification at end of message: kept as it came, with its command. */
static enum milter_ev
got_mod(struct milter *m, char cmd, const char *d, size_t n)
{
	char hdr[5];
	uint32_t need = mod_action(cmd);

	if (m->wait != C_EOM)
		return broken(m, "modification '%c' before end of message",
			      cmd);
	if ((m->actions & need) == 0)
		return broken(m, "modification '%c' not negotiated", cmd);
	if (!mod_valid(cmd, d, n))
		return broken(m, "malformed modification '%c'", cmd);
	put32(hdr, (uint32_t)n + 1);
	hdr[4] = cmd;
	if (buf_add(m->mods, hdr, sizeof(hdr)) == -1 ||
	    buf_add(m->mods, d, n) == -1)
		return broken(m, "modifications over %zu octets",
			      m->lim.max_mods);
	return MILTER_EV_MORE;
}

/* The step the reply answered is over. */
static void
step_over(struct milter *m, enum milter_ev ev)
{
	char was = m->wait;

	m->state = ST_READY;
	m->wait = 0;
	if (was == C_EOM)
		m->in_msg = false;
	if (ev == MILTER_EV_CONTINUE || ev == MILTER_EV_SKIP)
		return;
	if (was == C_CONNECT || was == C_HELO) {
		m->sess_done = true;
		return;
	}
	/* a refused recipient leaves the message as it was */
	if (was == C_RCPT &&
	    (ev == MILTER_EV_REJECT || ev == MILTER_EV_TEMPFAIL))
		return;
	if (was != C_EOM)
		m->msg_done = true;
}

static enum milter_ev
got_verdict(struct milter *m, char cmd, const char *d, size_t n)
{
	enum milter_ev ev;

	m->reply[0] = '\0';
	switch (cmd) {
	case R_ACCEPT:
		ev = MILTER_EV_ACCEPT;
		break;
	case R_CONTINUE:
		ev = MILTER_EV_CONTINUE;
		break;
	case R_REJECT:
		ev = MILTER_EV_REJECT;
		break;
	case R_TEMPFAIL:
	case R_SHUTDOWN:
	case R_CONNFAIL:
		ev = MILTER_EV_TEMPFAIL;
		break;
	case R_REPLYCODE:
		if ((ev = got_replycode(m, d, n)) == MILTER_EV_ERROR)
			return ev;
		break;
	case R_DISCARD:
		/* a message's verdict: Postfix refuses it before MAIL too */
		if (m->wait == C_CONNECT || m->wait == C_HELO)
			return broken(m, "discard at '%c'", m->wait);
		ev = MILTER_EV_DISCARD;
		break;
	case R_SKIP:
		if (m->wait != C_BODY)
			return broken(m, "skip at '%c'", m->wait);
		m->body_skip = true;
		ev = MILTER_EV_SKIP;
		break;
	default:
		if (mod_action(cmd) != 0)
			return got_mod(m, cmd, d, n);
		return broken(m, "unknown reply 0x%02x to '%c'",
			      (unsigned char)cmd, m->wait);
	}
	step_over(m, ev);
	return ev;
}

static enum milter_ev
got_packet(struct milter *m, const char *p, size_t n)
{
	char cmd = p[0];

	if (m->state != ST_WAIT)
		return broken(m, "reply 0x%02x when none was due",
			      (unsigned char)cmd);
	if (cmd == R_PROGRESS)
		return MILTER_EV_PROGRESS;
	if (m->wait == C_OPTNEG) {
		if (cmd != C_OPTNEG)
			return broken(m, "reply 0x%02x to OPTNEG",
				      (unsigned char)cmd);
		m->wait = 0;
		return got_optneg(m, p + 1, n - 1);
	}
	return got_verdict(m, cmd, p + 1, n - 1);
}

enum milter_ev
milter_feed(struct milter *m, const char *data, size_t len, size_t *used_r)
{
	struct buf *b = m->pkt;
	size_t used = 0, want, take;
	enum milter_ev ev;

	*used_r = 0;
	if (m->state == ST_BROKEN)
		return MILTER_EV_ERROR;
	while (used < len) {
		want = b->len < 4 ? 4 : 4 + (size_t)get32(b->data);
		take = want - b->len < len - used ? want - b->len
						   : len - used;
		if (buf_add(b, data + used, take) == -1)
			abort(); /* bounded below: cannot be */
		used += take;
		*used_r = used;
		if (b->len == 4) {
			uint32_t n = get32(b->data);

			if (n == 0 || n > m->lim.max_packet + 1) {
				buf_reset(b);
				return broken(m, "packet of %u octets", n);
			}
		}
		if (b->len < 4 || b->len < 4 + (size_t)get32(b->data))
			continue;
		ev = got_packet(m, b->data + 4, b->len - 4);
		buf_reset(b);
		if (ev != MILTER_EV_MORE)
			return ev;
	}
	return MILTER_EV_MORE;
}

const char *
milter_reply(const struct milter *m)
{
	return m->reply;
}

const char *
milter_error(const struct milter *m)
{
	return m->error;
}

bool
milter_waiting(const struct milter *m)
{
	return m->state == ST_WAIT;
}

uint32_t
milter_actions(const struct milter *m)
{
	return m->actions;
}

uint32_t
milter_protocol(const struct milter *m)
{
	return m->proto;
}

bool
milter_mod_next(const struct milter *m, size_t *pos, struct milter_mod *mod)
{
	const char *p, *d;
	size_t n;

	if (*pos + 5 > m->mods->len)
		return false;
	p = m->mods->data + *pos;
	n = get32(p) - 1;
	d = p + 5;
	*pos += 5 + n;
	memset(mod, 0, sizeof(*mod));
	mod->type = (enum milter_mod_type)p[4];
	if (mod->type == MILTER_MOD_REPLBODY) {
		mod->data = d;
		mod->len = n;
		return true;
	}
	if (mod->type == MILTER_MOD_CHGHEADER ||
	    mod->type == MILTER_MOD_INSHEADER) {
		mod->index = get32(d);
		d += 4;
	}
	mod->name = d;
	/* every string is NUL-ended (mod_valid); a second may be there */
	d += strlen(d) + 1;
	if (d < p + 5 + n)
		mod->value = d;
	return true;
}
