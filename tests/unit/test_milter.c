/*
 * Unit tests of the milter client core (proto/milter.h): the packets it
 * writes for each step, and the milter's replies fed back whole, one
 * octet at a time and in pieces of three, with the events they give.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/milter.h"
#include "proto/milter_edit.h"
#include "proto/smtp_server.h"
#include "lib/conf.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

static const struct milter_limits LIM = {.max_packet = 1024,
					 .max_mods = 4096};

/* A reply packet: len(4) cmd data. */
static size_t
pkt(char *out, char cmd, const void *data, size_t n)
{
	uint32_t l = (uint32_t)n + 1;

	out[0] = (char)(l >> 24);
	out[1] = (char)(l >> 16);
	out[2] = (char)(l >> 8);
	out[3] = (char)l;
	out[4] = cmd;
	memcpy(out + 5, data, n);
	return n + 5;
}

static size_t
optneg_reply(char *out, uint32_t actions, uint32_t proto)
{
	char d[12] = {0, 0, 0, 6};

	d[4] = (char)(actions >> 24), d[5] = (char)(actions >> 16);
	d[6] = (char)(actions >> 8), d[7] = (char)actions;
	d[8] = (char)(proto >> 24), d[9] = (char)(proto >> 16);
	d[10] = (char)(proto >> 8), d[11] = (char)proto;
	return pkt(out, 'O', d, sizeof(d));
}

/*
 * Feeds n octets in pieces of step (0: whole) and records every event
 * other than MORE in evs; returns how many.
 */
static size_t
feed(struct milter *m, const char *p, size_t n, size_t step,
     enum milter_ev *evs, size_t max)
{
	size_t at = 0, nev = 0;

	while (at < n) {
		size_t piece = step == 0 || n - at < step ? n - at : step;
		size_t used = 0, off = 0;

		while (off < piece) {
			enum milter_ev ev = milter_feed(m, p + at + off,
							piece - off, &used);

			off += used;
			if (ev != MILTER_EV_MORE && nev < max)
				evs[nev++] = ev;
			if (ev == MILTER_EV_ERROR)
				return nev;
		}
		at += piece;
	}
	return nev;
}

/* A negotiated core (actions, proto as the milter asks). */
static struct milter *
ready(uint32_t actions, uint32_t proto, size_t step)
{
	struct milter *m = milter_new(&LIM);
	struct buf *out = buf_new(4096);
	enum milter_ev ev[4];
	char r[64];
	size_t n;

	assert_int_equal(milter_send_optneg(m, out), MILTER_SENT_REPLY);
	n = optneg_reply(r, actions, proto);
	assert_int_equal(feed(m, r, n, step, ev, 4), 1);
	assert_int_equal(ev[0], MILTER_EV_NEGOTIATED);
	buf_free(&out);
	return m;
}

static const size_t STEPS[] = {0, 1, 3};

static void
test_optneg_packet(void **state)
{
	struct milter *m = milter_new(&LIM);
	struct buf *out = buf_new(4096);
	static const char want[] = {0, 0, 0, 13, 'O', 0, 0, 0, 6,
				    0, 0, 0, (char)0xff, 0, 0x0f,
				    (char)0xf7, (char)0xff};

	(void)state;
	assert_int_equal(milter_send_optneg(m, out), MILTER_SENT_REPLY);
	assert_int_equal(out->len, sizeof(want));
	assert_memory_equal(out->data, want, sizeof(want));
	assert_true(milter_waiting(m));
	/* once only */
	assert_int_equal(milter_send_optneg(m, out), MILTER_SKIPPED);
	milter_free(&m);
	buf_free(&out);
}

static void
test_optneg_reply(void **state)
{
	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct milter *m = ready(0x21, 0x1000 | 0x10, STEPS[i]);

		assert_int_equal(milter_actions(m), 0x21);
		assert_int_equal(milter_protocol(m), 0x1010);
		assert_false(milter_waiting(m));
		milter_free(&m);
	}
}

static void
test_optneg_refused(void **state)
{
	struct buf *out = buf_new(4096);
	enum milter_ev ev[4];
	char r[64];
	size_t n;
	struct milter *m;

	(void)state;
	/* an action owld did not offer */
	m = milter_new(&LIM);
	milter_send_optneg(m, out);
	n = optneg_reply(r, 0x100, 0);
	assert_int_equal(feed(m, r, n, 0, ev, 4), 1);
	assert_int_equal(ev[0], MILTER_EV_ERROR);
	assert_non_null(strstr(milter_error(m), "actions"));
	assert_int_equal(milter_send_quit(m, out), MILTER_SKIPPED);
	milter_free(&m);
	/* a protocol flag not offered (RCPT_REJ) */
	m = milter_new(&LIM);
	milter_send_optneg(m, out);
	n = optneg_reply(r, 0, 0x800);
	assert_int_equal(feed(m, r, n, 1, ev, 4), 1);
	assert_int_equal(ev[0], MILTER_EV_ERROR);
	milter_free(&m);
	/* too short, and a verdict instead of OPTNEG */
	m = milter_new(&LIM);
	milter_send_optneg(m, out);
	n = pkt(r, 'O', "\0\0\0\6", 4);
	assert_int_equal(feed(m, r, n, 0, ev, 4), 1);
	assert_int_equal(ev[0], MILTER_EV_ERROR);
	milter_free(&m);
	m = milter_new(&LIM);
	milter_send_optneg(m, out);
	n = pkt(r, 'c', "", 0);
	assert_int_equal(feed(m, r, n, 0, ev, 4), 1);
	assert_int_equal(ev[0], MILTER_EV_ERROR);
	milter_free(&m);
	buf_free(&out);
}

static void
test_connect_packet(void **state)
{
	struct milter *m = ready(0, 0, 0);
	struct buf *out = buf_new(4096);
	struct milter_macro mac[] = {{"j", "mx.example"},
				     {"{client_addr}", "192.0.2.1"}};
	static const char want[] =
		"\0\0\0\x27"
		"DCj\0mx.example\0{client_addr}\0" "192.0.2.1\0"
		"\0\0\0\x1b"
		"Chost.example\0" "4\x01\x02" "192.0.2.1";

	(void)state;
	assert_int_equal(milter_send_connect(m, mac, 2, "host.example", '4',
					     0x0102, "192.0.2.1", out),
			 MILTER_SENT_REPLY);
	/* the literal's own NUL ends the address */
	assert_int_equal(out->len, sizeof(want));
	assert_memory_equal(out->data, want, sizeof(want));
	milter_free(&m);
	buf_free(&out);
}

static void
test_skipped_and_noreply(void **state)
{
	struct milter *m = ready(0, MILTER_P_NOCONNECT | MILTER_P_NR_HELO |
					    MILTER_P_NOHDRS,
				 0);
	struct buf *out = buf_new(4096);
	const char *mail[] = {"<a@example.org>"};

	(void)state;
	assert_int_equal(milter_send_connect(m, NULL, 0, "h", 'U', 0, NULL,
					     out),
			 MILTER_SKIPPED);
	assert_int_equal(out->len, 0);
	assert_int_equal(milter_send_helo(m, NULL, 0, "h", out),
			 MILTER_SENT_NOREPLY);
	assert_false(milter_waiting(m));
	/* no RCPT before MAIL */
	assert_int_equal(milter_send_rcpt(m, NULL, 0, mail, 1, out),
			 MILTER_SKIPPED);
	assert_int_equal(milter_send_mail(m, NULL, 0, mail, 1, out),
			 MILTER_SENT_REPLY);
	/* one step at a time */
	assert_int_equal(milter_send_rcpt(m, NULL, 0, mail, 1, out),
			 MILTER_SKIPPED);
	milter_free(&m);
	buf_free(&out);
}

/* MAIL, RCPT answered: a REPLYCODE reject of one recipient. */
static void
test_rcpt_replycode(void **state)
{
	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct milter *m = ready(0, 0, STEPS[i]);
		struct buf *out = buf_new(4096);
		const char *a[] = {"<a@example.org>"};
		const char *t[] = {"<b@example.org>", "NOTIFY=NEVER"};
		enum milter_ev ev[4];
		char r[256];
		size_t n;

		milter_send_mail(m, NULL, 0, a, 1, out);
		n = pkt(r, 'c', "", 0);
		assert_int_equal(feed(m, r, n, STEPS[i], ev, 4), 1);
		assert_int_equal(ev[0], MILTER_EV_CONTINUE);
		assert_int_equal(milter_send_rcpt(m, NULL, 0, t, 2, out),
				 MILTER_SENT_REPLY);
		n = pkt(r, 'y', "550 5.7.1 no\rsuch\0", 18);
		assert_int_equal(feed(m, r, n, STEPS[i], ev, 4), 1);
		assert_int_equal(ev[0], MILTER_EV_REJECT);
		assert_string_equal(milter_reply(m), "550 5.7.1 no such");
		/* the message goes on: DATA may be sent */
		assert_int_equal(milter_send_data(m, NULL, 0, out),
				 MILTER_SENT_REPLY);
		n = pkt(r, 'y', "451 4.7.1 later\0", 16);
		assert_int_equal(feed(m, r, n, STEPS[i], ev, 4), 1);
		assert_int_equal(ev[0], MILTER_EV_TEMPFAIL);
		/* the message is over for the milter: no EOM */
		assert_int_equal(milter_send_eom(m, NULL, 0, out),
				 MILTER_SKIPPED);
		assert_int_equal(milter_send_abort(m, out),
				 MILTER_SENT_NOREPLY);
		milter_free(&m);
		buf_free(&out);
	}
}

static void
test_bad_replycode(void **state)
{
	static const char *const bad[] = {"250 ok", "55", "5x0 x", "550x",
					  "6"};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct milter *m = ready(0, 0, 0);
		struct buf *out = buf_new(4096);
		enum milter_ev ev[4];
		char r[64];
		size_t n;

		milter_send_helo(m, NULL, 0, "h", out);
		n = pkt(r, 'y', bad[i], strlen(bad[i]) + 1);
		assert_int_equal(feed(m, r, n, 0, ev, 4), 1);
		assert_int_equal(ev[0], MILTER_EV_ERROR);
		milter_free(&m);
		buf_free(&out);
	}
	/* not NUL-ended */
	{
		struct milter *m = ready(0, 0, 0);
		struct buf *out = buf_new(4096);
		enum milter_ev ev[4];
		char r[64];
		size_t n;

		milter_send_helo(m, NULL, 0, "h", out);
		n = pkt(r, 'y', "550 x", 5);
		assert_int_equal(feed(m, r, n, 0, ev, 4), 1);
		assert_int_equal(ev[0], MILTER_EV_ERROR);
		milter_free(&m);
		buf_free(&out);
	}
}

/* Sends MAIL, RCPT, DATA, a header, EOH, a body piece, each continued. */
static void
to_eom(struct milter *m, struct buf *out, size_t step)
{
	const char *a[] = {"<a@example.org>"};
	enum milter_ev ev[4];
	char r[16];
	size_t n = pkt(r, 'c', "", 0);

	assert_int_equal(milter_send_mail(m, NULL, 0, a, 1, out),
			 MILTER_SENT_REPLY);
	assert_int_equal(feed(m, r, n, step, ev, 4), 1);
	assert_int_equal(milter_send_rcpt(m, NULL, 0, a, 1, out),
			 MILTER_SENT_REPLY);
	assert_int_equal(feed(m, r, n, step, ev, 4), 1);
	assert_int_equal(milter_send_data(m, NULL, 0, out),
			 MILTER_SENT_REPLY);
	assert_int_equal(feed(m, r, n, step, ev, 4), 1);
	assert_int_equal(milter_send_header(m, "Subject", 7, "hi", 2, out),
			 MILTER_SENT_REPLY);
	assert_int_equal(feed(m, r, n, step, ev, 4), 1);
	assert_int_equal(milter_send_eoh(m, NULL, 0, out), MILTER_SENT_REPLY);
	assert_int_equal(feed(m, r, n, step, ev, 4), 1);
	assert_int_equal(milter_send_body(m, "x\r\n", 3, out),
			 MILTER_SENT_REPLY);
	assert_int_equal(feed(m, r, n, step, ev, 4), 1);
	assert_int_equal(ev[0], MILTER_EV_CONTINUE);
}

static void
test_eom_mods(void **state)
{
	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct milter *m = ready(MILTER_ACTS_ALL, 0, STEPS[i]);
		struct buf *out = buf_new(8192);
		enum milter_ev ev[4];
		char r[1024];
		size_t n = 0, pos = 0;
		struct milter_mod mod;

		to_eom(m, out, STEPS[i]);
		assert_int_equal(milter_send_eom(m, NULL, 0, out),
				 MILTER_SENT_REPLY);
		n += pkt(r + n, 'p', "", 0);
		n += pkt(r + n, 'h', "X-Spam\0yes\0", 11);
		n += pkt(r + n, 'm', "\0\0\0\2Subject\0\0", 13);
		n += pkt(r + n, 'i', "\0\0\0\0X-First\0v\0", 14);
		n += pkt(r + n, 'e', "<new@example.org>\0SIZE=1\0", 25);
		n += pkt(r + n, '+', "<c@example.org>\0", 16);
		n += pkt(r + n, '2', "<d@example.org>\0NOTIFY=NEVER\0", 29);
		n += pkt(r + n, '-', "<a@example.org>\0", 16);
		n += pkt(r + n, 'b', "new\r\nbody", 9);
		n += pkt(r + n, 'q', "spam\0", 5);
		n += pkt(r + n, 'a', "", 0);
		assert_int_equal(feed(m, r, n, STEPS[i], ev, 4), 2);
		assert_int_equal(ev[0], MILTER_EV_PROGRESS);
		assert_int_equal(ev[1], MILTER_EV_ACCEPT);
		assert_true(milter_mod_next(m, &pos, &mod));
		assert_int_equal(mod.type, MILTER_MOD_ADDHEADER);
		assert_string_equal(mod.name, "X-Spam");
		assert_string_equal(mod.value, "yes");
		assert_true(milter_mod_next(m, &pos, &mod));
		assert_int_equal(mod.type, MILTER_MOD_CHGHEADER);
		assert_int_equal(mod.index, 2);
		assert_string_equal(mod.name, "Subject");
		assert_string_equal(mod.value, "");
		assert_true(milter_mod_next(m, &pos, &mod));
		assert_int_equal(mod.type, MILTER_MOD_INSHEADER);
		assert_int_equal(mod.index, 0);
		assert_string_equal(mod.value, "v");
		assert_true(milter_mod_next(m, &pos, &mod));
		assert_int_equal(mod.type, MILTER_MOD_CHGFROM);
		assert_string_equal(mod.name, "<new@example.org>");
		assert_string_equal(mod.value, "SIZE=1");
		assert_true(milter_mod_next(m, &pos, &mod));
		assert_int_equal(mod.type, MILTER_MOD_ADDRCPT);
		assert_null(mod.value);
		assert_true(milter_mod_next(m, &pos, &mod));
		assert_int_equal(mod.type, MILTER_MOD_ADDRCPT_PAR);
		assert_string_equal(mod.value, "NOTIFY=NEVER");
		assert_true(milter_mod_next(m, &pos, &mod));
		assert_int_equal(mod.type, MILTER_MOD_DELRCPT);
		assert_true(milter_mod_next(m, &pos, &mod));
		assert_int_equal(mod.type, MILTER_MOD_REPLBODY);
		assert_int_equal(mod.len, 9);
		assert_memory_equal(mod.data, "new\r\nbody", 9);
		assert_true(milter_mod_next(m, &pos, &mod));
		assert_int_equal(mod.type, MILTER_MOD_QUARANTINE);
		assert_string_equal(mod.name, "spam");
		assert_false(milter_mod_next(m, &pos, &mod));
		/* the next message starts clean */
		assert_int_equal(milter_send_abort(m, out), MILTER_SKIPPED);
		to_eom(m, out, STEPS[i]);
		milter_free(&m);
		buf_free(&out);
	}
}

static void
test_mod_refused(void **state)
{
	struct buf *out = buf_new(8192);
	enum milter_ev ev[4];
	char r[256];
	size_t n;
	struct milter *m;

	(void)state;
	/* not negotiated */
	m = ready(MILTER_ACT_ADDHDRS, 0, 0);
	to_eom(m, out, 0);
	milter_send_eom(m, NULL, 0, out);
	n = pkt(r, '+', "<c@x>\0", 6);
	assert_int_equal(feed(m, r, n, 0, ev, 4), 1);
	assert_int_equal(ev[0], MILTER_EV_ERROR);
	assert_non_null(strstr(milter_error(m), "negotiated"));
	milter_free(&m);
	/* before end of message */
	m = ready(MILTER_ACTS_ALL, 0, 0);
	milter_send_helo(m, NULL, 0, "h", out);
	n = pkt(r, 'h', "X\0y\0", 4);
	assert_int_equal(feed(m, r, n, 0, ev, 4), 1);
	assert_int_equal(ev[0], MILTER_EV_ERROR);
	milter_free(&m);
	/* a header without its value's NUL */
	m = ready(MILTER_ACTS_ALL, 0, 0);
	to_eom(m, out, 0);
	milter_send_eom(m, NULL, 0, out);
	n = pkt(r, 'h', "X\0y", 3);
	assert_int_equal(feed(m, r, n, 0, ev, 4), 1);
	assert_int_equal(ev[0], MILTER_EV_ERROR);
	milter_free(&m);
	/* over max_mods */
	m = ready(MILTER_ACTS_ALL, 0, 0);
	to_eom(m, out, 0);
	milter_send_eom(m, NULL, 0, out);
	{
		char big[1000];
		size_t k, evs = 0;

		memset(big, 'b', sizeof(big));
		n = pkt(r, 'b', big, 200);
		for (k = 0; k < 30 && evs == 0; k++)
			evs = feed(m, r, n, 0, ev, 4);
		assert_int_equal(evs, 1);
		assert_int_equal(ev[0], MILTER_EV_ERROR);
		assert_non_null(strstr(milter_error(m), "modifications"));
	}
	milter_free(&m);
	buf_free(&out);
}

static void
test_bad_packets(void **state)
{
	static const char zero[] = {0, 0, 0, 0};
	static const char huge[] = {0, 0, 4, 2, 'c'}; /* 1026 > 1024 + 1 */
	struct buf *out = buf_new(4096);
	enum milter_ev ev[4];
	char r[64];
	size_t n;
	struct milter *m;

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		m = ready(0, 0, 0);
		milter_send_helo(m, NULL, 0, "h", out);
		assert_int_equal(feed(m, zero, sizeof(zero), STEPS[i], ev, 4),
				 1);
		assert_int_equal(ev[0], MILTER_EV_ERROR);
		milter_free(&m);
		m = ready(0, 0, 0);
		milter_send_helo(m, NULL, 0, "h", out);
		assert_int_equal(feed(m, huge, sizeof(huge), STEPS[i], ev, 4),
				 1);
		assert_int_equal(ev[0], MILTER_EV_ERROR);
		assert_non_null(strstr(milter_error(m), "packet"));
		milter_free(&m);
	}
	/* a reply when none is due */
	m = ready(0, 0, 0);
	n = pkt(r, 'c', "", 0);
	assert_int_equal(feed(m, r, n, 0, ev, 4), 1);
	assert_int_equal(ev[0], MILTER_EV_ERROR);
	milter_free(&m);
	/* an unknown reply; skip outside the body; discard at HELO */
	{
		static const char cmds[] = {'Z', 's', 'd'};

		for (size_t i = 0; i < sizeof(cmds); i++) {
			m = ready(0, MILTER_P_SKIP, 0);
			milter_send_helo(m, NULL, 0, "h", out);
			n = pkt(r, cmds[i], "", 0);
			assert_int_equal(feed(m, r, n, 0, ev, 4), 1);
			assert_int_equal(ev[0], MILTER_EV_ERROR);
			milter_free(&m);
		}
	}
	buf_free(&out);
}

static void
test_skip_body(void **state)
{
	struct milter *m = ready(0, MILTER_P_SKIP, 0);
	struct buf *out = buf_new(8192);
	enum milter_ev ev[4];
	char r[16];
	size_t n;

	(void)state;
	to_eom(m, out, 0);
	assert_int_equal(milter_send_body(m, "y", 1, out), MILTER_SENT_REPLY);
	n = pkt(r, 's', "", 0);
	assert_int_equal(feed(m, r, n, 0, ev, 4), 1);
	assert_int_equal(ev[0], MILTER_EV_SKIP);
	assert_int_equal(milter_send_body(m, "z", 1, out), MILTER_SKIPPED);
	assert_int_equal(milter_send_eom(m, NULL, 0, out), MILTER_SENT_REPLY);
	milter_free(&m);
	buf_free(&out);
}

/* Accepted or refused at CONNECT: nothing more but QUIT. */
static void
test_session_verdict(void **state)
{
	static const char verdicts[] = {'a', 'r', 't'};

	(void)state;
	for (size_t i = 0; i < sizeof(verdicts); i++) {
		struct milter *m = ready(0, 0, 0);
		struct buf *out = buf_new(4096);
		const char *a[] = {"<a@b>"};
		enum milter_ev ev[4];
		char r[16];
		size_t n;

		milter_send_connect(m, NULL, 0, "h", 'U', 0, NULL, out);
		n = pkt(r, verdicts[i], "", 0);
		assert_int_equal(feed(m, r, n, 0, ev, 4), 1);
		assert_int_equal(ev[0], verdicts[i] == 'a' ? MILTER_EV_ACCEPT
					: verdicts[i] == 'r'
						? MILTER_EV_REJECT
						: MILTER_EV_TEMPFAIL);
		assert_string_equal(milter_reply(m), "");
		assert_int_equal(milter_send_helo(m, NULL, 0, "h", out),
				 MILTER_SKIPPED);
		assert_int_equal(milter_send_mail(m, NULL, 0, a, 1, out),
				 MILTER_SKIPPED);
		buf_reset(out);
		assert_int_equal(milter_send_quit(m, out),
				 MILTER_SENT_NOREPLY);
		assert_int_equal(out->len, 5);
		assert_int_equal(out->data[4], 'Q');
		milter_free(&m);
		buf_free(&out);
	}
}

/* A full output buffer leaves no half packet and breaks the core. */
static void
test_output_full(void **state)
{
	struct milter *m = ready(0, 0, 0);
	struct buf *out = buf_new(8);

	(void)state;
	assert_int_equal(milter_send_helo(m, NULL, 0, "a.long.name", out),
			 MILTER_SKIPPED);
	assert_int_equal(out->len, 0);
	assert_false(milter_waiting(m));
	milter_free(&m);
	buf_free(&out);
}

/* A core at the end of a message whose EOM got the packets r[0..n). */
static struct milter *
with_mods(const char *r, size_t n)
{
	struct milter *m = ready(MILTER_ACTS_ALL, 0, 0);
	struct buf *out = buf_new(8192);
	enum milter_ev ev[4];

	to_eom(m, out, 0);
	milter_send_eom(m, NULL, 0, out);
	assert_int_equal(feed(m, r, n, 1, ev, 4), 1);
	assert_int_equal(ev[0], MILTER_EV_CONTINUE);
	buf_free(&out);
	return m;
}

static void
test_edit_headers(void **state)
{
	static const char hdr[] = "Received: a\nSubject: one\n\tcont\n"
				  "X-Old: 1\nsubject: two\n";
	char r[512];
	size_t n = 0;
	struct milter *m;
	struct buf *out = buf_new(4096);
	unsigned skipped;

	(void)state;
	n += pkt(r + n, 'm', "\0\0\0\2Subject\0[2]\0", 17);
	n += pkt(r + n, 'm', "\0\0\0\1X-Old\0\0", 12);	/* delete */
	n += pkt(r + n, 'm', "\0\0\0\3Subject\0x\r\n\0", 17); /* add */
	n += pkt(r + n, 'i', "\0\0\0\1X-Ins\0a\nb\0", 14);
	n += pkt(r + n, 'h', "X-Add\0v\r\n\0", 11);
	n += pkt(r + n, 'h', "Bad Name\0v\0", 11);		/* skipped */
	/* a position past the end: the end */
	n += pkt(r + n, 'i', "\0\0\0\x63X-End\0e\0", 12);
	n += pkt(r + n, 'c', "", 0);
	m = with_mods(r, n);
	assert_int_equal(milter_edit_headers(m, hdr, sizeof(hdr) - 1, out,
					     &skipped), 0);
	assert_int_equal(skipped, 1);
	assert_string_equal(out->data, "Received: a\n"
				       "X-Ins: a\n\tb\n"
				       "Subject: one\n\tcont\n"
				       "Subject: [2]\n"
				       "Subject: x\n"
				       "X-Add: v\n"
				       "X-End: e\n");
	milter_free(&m);
	/* the output's bound */
	n = pkt(r, 'h', "X-Long\0vvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\0", 38);
	n += pkt(r + n, 'c', "", 0);
	m = with_mods(r, n);
	buf_free(&out);
	out = buf_new(40);
	assert_int_equal(milter_edit_headers(m, hdr, 12, out, &skipped), -1);
	milter_free(&m);
	buf_free(&out);
}

/* What smtp_server offers the milter hooks: a filter's reply, edits. */
static void
test_smtp_server_hooks(void **state)
{
	struct smtp_conf conf = {.hostname = "mx.test", .max_size = 1000,
				 .max_rcpts = 2, .max_errors = 10,
				 .max_line = 1000};
	struct smtp_server *s = smtp_server_new(&conf);
	struct buf *out = buf_new(4096);
	struct smtp_txn t;
	struct addr a;
	const char *err;
	size_t used;

	(void)state;
#define FEED(l) smtp_server_feed(s, l, strlen(l), out)
	FEED("EHLO c\r\n");
	assert_int_equal(FEED("MAIL FROM:<a@b.c>\r\n"), SMTP_ACT_MAIL);
	buf_reset(out);
	smtp_server_done_reply(s, "550 5.7.1 go away", out);
	assert_string_equal(out->data, "550 5.7.1 go away\r\n");
	smtp_server_txn(s, &t);
	assert_false(t.in_mail);
	assert_int_equal(FEED("MAIL FROM:<a@b.c>\r\n"), SMTP_ACT_MAIL);
	smtp_server_done(s, SMTP_R_OK, NULL, out);
	assert_int_equal(FEED("RCPT TO:<x@b.c>\r\n"), SMTP_ACT_RCPT);
	buf_reset(out);
	smtp_server_done_reply(s, "451 4.7.1 later", out);
	assert_string_equal(out->data, "451 4.7.1 later\r\n");
	assert_int_equal(FEED("RCPT TO:<y@b.c>\r\n"), SMTP_ACT_RCPT);
	smtp_server_done(s, SMTP_R_OK, NULL, out);
	smtp_server_txn(s, &t);
	assert_int_equal(t.nrcpts, 1);
	assert_int_equal(FEED("DATA\r\n"), SMTP_ACT_DATA_START);
	assert_int_equal(FEED(".\r\n"), SMTP_ACT_COMMIT);
	addr_parse_path("<z@b.c>", 7, 0, &a, &used, &err);
	assert_int_equal(smtp_server_add_rcpt(s, &a), 0);
	assert_int_equal(smtp_server_add_rcpt(s, &a), -1); /* max_rcpts 2 */
	addr_parse_path("<Y@B.C>", 7, 0, &a, &used, &err);
	assert_int_equal(smtp_server_del_rcpt(s, &a), 1);
	assert_int_equal(smtp_server_del_rcpt(s, &a), 0);
	addr_parse_path("<>", 2, ADDR_ALLOW_NULL, &a, &used, &err);
	smtp_server_set_sender(s, &a);
	smtp_server_txn(s, &t);
	assert_int_equal(t.nrcpts, 1);
	assert_string_equal(t.rcpts[0].local, "z");
	assert_true(t.sender.null);
	buf_reset(out);
	smtp_server_done_reply(s, "554 5.7.1 spam", out);
	assert_string_equal(out->data, "554 5.7.1 spam\r\n");
	smtp_server_txn(s, &t);
	assert_int_equal(t.nrcpts, 0);
#undef FEED
	smtp_server_free(&s);
	buf_free(&out);
}

/* milter.servers: the entries conf_set takes, and the ones it refuses. */
static void
test_conf_servers(void **state)
{
	static const char *const bad[] = {
		"inet:127.0.0.1", "inet:127.0.0.1:0", "inet:127.0.0.1:65536",
		"inet:milter.example:11332", "inet:[::1]", "inet6:[::1]",
		"unix:relative", "unix:", "tcp:127.0.0.1:25", "inet::25",
		"inet:127.0.0.1:+25", "inet:127.0.0.1:25x",
	};
	struct sockaddr_storage sa;
	char text[300], err[300];
	unsigned len;
	struct conf c;

	(void)state;
	assert_true(conf_milter("inet:127.0.0.1:11332 , inet6:[::1]:25,"
				"unix:/run/m.sock,inet:[127.0.0.2]:7",
				1, &sa, &len, text, sizeof(text)));
	assert_string_equal(text, "inet6:[::1]:25");
	assert_int_equal(sa.ss_family, AF_INET6);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)(void *)&sa)->sin6_port),
			 25);
	assert_true(conf_milter("inet:127.0.0.1:11332, unix:/run/m.sock", 1,
				&sa, &len, text, sizeof(text)));
	assert_int_equal(sa.ss_family, AF_UNIX);
	assert_string_equal(((struct sockaddr_un *)(void *)&sa)->sun_path,
			    "/run/m.sock");
	assert_true(conf_milter("inet:[127.0.0.2]:7", 0, &sa, &len, NULL, 0));
	assert_int_equal(sa.ss_family, AF_INET);
	assert_false(conf_milter("inet:127.0.0.1:1", 1, &sa, &len, NULL, 0));
	/* the last colon starts the port: brackets may be left out */
	assert_true(conf_milter("inet6:::1:25", 0, &sa, &len, NULL, 0));
	assert_int_equal(sa.ss_family, AF_INET6);
	conf_init(&c);
	assert_int_equal(conf_set(&c, "milter.servers", "", err, sizeof(err)),
			 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(conf_set(&c, "milter.servers", bad[i], err,
					  sizeof(err)), -1);
		assert_non_null(strstr(err, "milter.servers"));
	}
	conf_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_optneg_packet),
		cmocka_unit_test(test_optneg_reply),
		cmocka_unit_test(test_optneg_refused),
		cmocka_unit_test(test_connect_packet),
		cmocka_unit_test(test_skipped_and_noreply),
		cmocka_unit_test(test_rcpt_replycode),
		cmocka_unit_test(test_bad_replycode),
		cmocka_unit_test(test_eom_mods),
		cmocka_unit_test(test_mod_refused),
		cmocka_unit_test(test_bad_packets),
		cmocka_unit_test(test_skip_body),
		cmocka_unit_test(test_session_verdict),
		cmocka_unit_test(test_output_full),
		cmocka_unit_test(test_edit_headers),
		cmocka_unit_test(test_smtp_server_hooks),
		cmocka_unit_test(test_conf_servers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
