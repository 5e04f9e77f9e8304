/*
 * Unit tests of the SMTP client core against scripted server replies.
 * The harness plays the caller: it frames the script into lines, answers
 * NEXT with the next queued message (or QUIT), BODY with the message text,
 * RESULT by recording "rcpt=code" for each recipient; every command the
 * core writes lands in h.out, which the tests compare whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/smtp_client.h"

struct h {
	struct smtpc_conf conf;
	struct smtp_client *c;
	struct buf *out;
	struct buf *results;	/* "rcpt=code ...;" per message */
	const struct smtpc_msg *msgs[4];
	const char *bodies[4];
	size_t nmsgs, cur;
	char text0[SMTPC_TEXT_MAX];	/* recipient 0's text, last RESULT */
	bool closed;
	int starttls;		/* SMTPC_STARTTLS seen */
	size_t chunk;		/* body fed in pieces this long; 0: whole */
};

static const char *R1[] = {"x@remote.test"};
static const char *R2[] = {"x@remote.test", "y@remote.test"};
static const struct smtpc_msg M1 = {"a@local.test", R1, 1, 12, false};
static const struct smtpc_msg M2 = {"a@local.test", R2, 2, 100, true};

static void
h_init(struct h *h)
{
	memset(h, 0, sizeof(*h));
	h->conf.helo = "mx.local.test";
	h->c = smtp_client_new(&h->conf);
	h->out = buf_new(1 << 16);
	h->results = buf_new(1 << 16);
}

static void
h_free(struct h *h)
{
	smtp_client_free(&h->c);
	buf_free(&h->out);
	buf_free(&h->results);
}

static void
h_msg(struct h *h, const struct smtpc_msg *m, const char *body)
{
	h->msgs[h->nmsgs] = m;
	h->bodies[h->nmsgs++] = body;
}

static void h_act(struct h *h, enum smtpc_act act);

/* Streams a message's text as the relay does, in h->chunk pieces. */
static void
h_body(struct h *h, const char *text)
{
	size_t len = strlen(text), step = h->chunk ? h->chunk : len;

	for (size_t i = 0; i < len; i += step)
		smtp_client_body(h->c, text + i,
				 len - i < step ? len - i : step, h->out);
}

static void
h_next(struct h *h)
{
	const struct smtpc_msg *m = h->cur < h->nmsgs ? h->msgs[h->cur] : NULL;

	h_act(h, smtp_client_next(h->c, m, h->out));
}

static void
h_act(struct h *h, enum smtpc_act act)
{
	const struct smtpc_msg *m;

	switch (act) {
	case SMTPC_NONE:
		break;
	case SMTPC_NEXT:
		h_next(h);
		break;
	case SMTPC_BODY:
		h_body(h, h->bodies[h->cur]);
		smtp_client_body_end(h->c, h->out);
		break;
	case SMTPC_RESULT:
		m = h->msgs[h->cur++];
		for (size_t i = 0; i < m->nrcpts; i++)
			buf_printf(h->results, "%s%s=%d", i ? " " : "",
				   m->rcpts[i], smtp_client_rcpt(h->c, i)->code);
		buf_addstr(h->results, ";");
		memcpy(h->text0, smtp_client_rcpt(h->c, 0)->text,
		       sizeof(h->text0));
		h_next(h);
		break;
	case SMTPC_CLOSE:
		h->closed = true;
		break;
	case SMTPC_STARTTLS:
		h->starttls++;
		break;
	}
}

/* Feeds script (CRLF lines) and clears out first. */
static void
h_feed(struct h *h, const char *script)
{
	const char *p = script;

	buf_reset(h->out);
	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);

		assert_false(h->closed);
		h_act(h, smtp_client_feed(h->c, p, n, h->out));
		p += n;
	}
}

static void
assert_out(struct h *h, const char *want)
{
	assert_string_equal(h->out->data ? h->out->data : "", want);
}

#define EHLO_PLAIN "250 mx.remote.test\r\n"
#define EHLO_FULL "250-mx.remote.test hello\r\n250-PIPELINING\r\n" \
		  "250-SIZE 1000\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n" \
		  "250 STARTTLS\r\n"

static void
test_plain_session(void **state)
{
	struct h h;

	(void)state;
	h_init(&h);
	h_msg(&h, &M1, "Subject: x\n\nhi\n");
	h_feed(&h, "220 mx.remote.test ESMTP\r\n");
	assert_out(&h, "EHLO mx.local.test\r\n");
	h_feed(&h, EHLO_PLAIN);
	assert_out(&h, "MAIL FROM:<a@local.test>\r\n");
	h_feed(&h, "250 2.1.0 ok\r\n");
	assert_out(&h, "RCPT TO:<x@remote.test>\r\n");
	h_feed(&h, "250 2.1.5 ok\r\n");
	assert_out(&h, "DATA\r\n");
	h_feed(&h, "354 go ahead\r\n");
	assert_out(&h, "Subject: x\r\n\r\nhi\r\n.\r\n");
	h_feed(&h, "250 2.0.0 queued as 1\r\n");
	assert_out(&h, "QUIT\r\n");
	assert_string_equal(h.results->data, "x@remote.test=250;");
	assert_string_equal(smtp_client_rcpt(h.c, 0)->text,
			    "250 2.0.0 queued as 1");
	assert_false(h.closed);
	h_feed(&h, "221 bye\r\n");
	assert_true(h.closed);
	assert_int_equal(smtp_client_error(h.c)->code, 0);
	assert_false(smtp_client_ext(h.c)->pipelining);
	h_free(&h);
}

static void
test_pipelining_extensions(void **state)
{
	struct h h;
	const struct smtpc_ext *e;

	(void)state;
	h_init(&h);
	h_msg(&h, &M2, "8bit \xc3\xa9\n");
	h_feed(&h, "220 mx\r\n");
	h_feed(&h, EHLO_FULL);
	e = smtp_client_ext(h.c);
	assert_true(e->esmtp && e->pipelining && e->eightbit && e->starttls);
	assert_int_equal(e->size, 1000);
	assert_string_equal(e->auth, "PLAIN LOGIN");
	/* one write: MAIL, both RCPTs and DATA */
	assert_out(&h, "MAIL FROM:<a@local.test> SIZE=100 BODY=8BITMIME\r\n"
		       "RCPT TO:<x@remote.test>\r\nRCPT TO:<y@remote.test>\r\n"
		       "DATA\r\n");
	h_feed(&h, "250 ok\r\n250 ok\r\n550 5.1.1 no such user\r\n"
		   "354 go\r\n");
	assert_out(&h, "8bit \xc3\xa9\r\n.\r\n");
	h_feed(&h, "250 done\r\n");
	assert_string_equal(h.results->data,
			    "x@remote.test=250 y@remote.test=550;");
	assert_string_equal(smtp_client_rcpt(h.c, 1)->text,
			    "550 5.1.1 no such user");
	assert_out(&h, "QUIT\r\n");
	h_free(&h);
}

static void
test_helo_fallback(void **state)
{
	struct h h;

	(void)state;
	h_init(&h);
	h_msg(&h, &M2, "x\n");
	h_feed(&h, "220 old server\r\n");
	h_feed(&h, "502 5.5.2 what?\r\n");
	assert_out(&h, "HELO mx.local.test\r\n");
	h_feed(&h, "250 hi\r\n");
	/* no SIZE, no BODY= without EHLO */
	assert_out(&h, "MAIL FROM:<a@local.test>\r\n");
	assert_false(smtp_client_ext(h.c)->esmtp);
	h_free(&h);
}

static void
test_ehlo_temp_failure(void **state)
{
	struct h h;

	(void)state;
	h_init(&h);
	h_feed(&h, "220 mx\r\n");
	h_feed(&h, "451 4.3.0 try later\r\n");
	assert_out(&h, "QUIT\r\n");
	assert_int_equal(smtp_client_error(h.c)->code, 451);
	h_feed(&h, "221 bye\r\n");
	assert_true(h.closed);
	h_free(&h);
}

static void
test_size_refused_before_sending(void **state)
{
	static const struct smtpc_msg big = {"a@l", R1, 1, 5000, false};
	struct h h;

	(void)state;
	h_init(&h);
	h_msg(&h, &big, "x\n");
	h_msg(&h, &M1, "small\n");
	h_feed(&h, "220 mx\r\n");
	h_feed(&h, EHLO_FULL);
	/* the big one never reaches the wire; the next one goes */
	assert_string_equal(h.results->data, "x@remote.test=552;");
	assert_non_null(strstr(h.text0, "5.3.4"));
	assert_out(&h, "MAIL FROM:<a@local.test> SIZE=12\r\n"
		       "RCPT TO:<x@remote.test>\r\nDATA\r\n");
	h_free(&h);
}

static void
test_mail_refused(void **state)
{
	struct h h;

	(void)state;
	h_init(&h);
	h_msg(&h, &M2, "x\n");
	h_msg(&h, &M1, "y\n");
	h_feed(&h, "220 mx\r\n" EHLO_PLAIN);
	h_feed(&h, "553 5.1.8 bad sender\r\n");
	/* no RCPT, no RSET (no transaction open); straight to the next */
	assert_string_equal(h.results->data,
			    "x@remote.test=553 y@remote.test=553;");
	assert_out(&h, "MAIL FROM:<a@local.test>\r\n");
	h_free(&h);
}

static void
test_mail_refused_pipelined(void **state)
{
	struct h h;

	(void)state;
	h_init(&h);
	h_msg(&h, &M2, "x\n");
	h_feed(&h, "220 mx\r\n" EHLO_FULL);
	h_feed(&h, "553 5.1.8 bad sender\r\n503 5.5.1 no MAIL\r\n"
		   "503 5.5.1 no MAIL\r\n503 5.5.1 no valid recipients\r\n");
	assert_string_equal(h.results->data,
			    "x@remote.test=553 y@remote.test=553;");
	assert_out(&h, "QUIT\r\n");
	h_free(&h);
}

static void
test_all_rcpts_refused(void **state)
{
	struct h h;

	(void)state;
	h_init(&h);
	h_msg(&h, &M2, "x\n");
	h_feed(&h, "220 mx\r\n" EHLO_PLAIN "250 ok\r\n");
	h_feed(&h, "550 no\r\n");
	assert_out(&h, "RCPT TO:<y@remote.test>\r\n");
	h_feed(&h, "450 later\r\n");
	/* no DATA; the open transaction is reset first */
	assert_out(&h, "RSET\r\n");
	assert_string_equal(h.results->data, "");
	h_feed(&h, "250 reset\r\n");
	assert_string_equal(h.results->data,
			    "x@remote.test=550 y@remote.test=450;");
	assert_out(&h, "QUIT\r\n");
	h_free(&h);
}

static void
test_data_refused(void **state)
{
	struct h h;

	(void)state;
	h_init(&h);
	h_msg(&h, &M2, "x\n");
	h_feed(&h, "220 mx\r\n" EHLO_FULL);
	h_feed(&h, "250 ok\r\n250 ok\r\n550 no\r\n554 5.5.1 no thanks\r\n");
	assert_out(&h, "RSET\r\n");
	h_feed(&h, "250 ok\r\n");
	assert_string_equal(h.results->data,
			    "x@remote.test=554 y@remote.test=550;");
	h_free(&h);
}

static void
test_354_with_nobody_accepted(void **state)
{
	struct h h;

	(void)state;
	h_init(&h);
	h_msg(&h, &M1, "secret text\n");
	h_feed(&h, "220 mx\r\n" EHLO_FULL);
	h_feed(&h, "250 ok\r\n550 no\r\n354 go\r\n");
	/* an empty text, never the message */
	assert_out(&h, ".\r\n");
	h_feed(&h, "554 no valid recipients\r\n");
	assert_string_equal(h.results->data, "x@remote.test=550;");
	h_free(&h);
}

static void
test_final_reply_refusal(void **state)
{
	struct h h;

	(void)state;
	h_init(&h);
	h_msg(&h, &M2, "x\n");
	h_feed(&h, "220 mx\r\n" EHLO_FULL);
	h_feed(&h, "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
	h_feed(&h, "552 5.3.4 too big after all\r\n");
	assert_string_equal(h.results->data,
			    "x@remote.test=552 y@remote.test=552;");
	assert_out(&h, "QUIT\r\n"); /* no RSET after a final reply */
	h_free(&h);
}

static void
test_dot_stuffing(void **state)
{
	struct h h;

	(void)state;
	h_init(&h);
	h_msg(&h, &M1, "a\n.b\n..\n.\nlast");
	h_feed(&h, "220 mx\r\n" EHLO_FULL);
	h_feed(&h, "250 ok\r\n250 ok\r\n354 go\r\n");
	assert_out(&h, "a\r\n..b\r\n...\r\n..\r\nlast\r\n.\r\n");
	h_free(&h);
}

/* No CR without LF after it, no LF without CR before it. */
static void
assert_no_bare(const char *p)
{
	for (size_t i = 0; p[i] != '\0'; i++) {
		if (p[i] == '\r')
			assert_int_equal(p[i + 1], '\n');
		if (p[i] == '\n')
			assert_true(i > 0 && p[i - 1] == '\r');
	}
}

static void
test_no_bare_cr_or_lf_sent(void **state)
{
	static const size_t chunks[] = {0, 1, 2, 3, 7};
	/* what an old queue file or an mbox message may hold */
	static const char text[] = "a\r.\rMAIL FROM:<e@x>\n.\n\r\n.\r\n"
				   "b\rc\r\n\r.d\n..\nlast\r";

	(void)state;
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		struct h h;

		h_init(&h);
		h.chunk = chunks[i];
		h_msg(&h, &M1, text);
		h_feed(&h, "220 mx\r\n" EHLO_FULL);
		h_feed(&h, "250 ok\r\n250 ok\r\n354 go\r\n");
		/* lone CRs are spaces, CR LF one line end, dots stuffed */
		assert_out(&h, "a . MAIL FROM:<e@x>\r\n..\r\n\r\n..\r\n"
			       "b c\r\n .d\r\n...\r\nlast \r\n.\r\n");
		assert_no_bare(h.out->data);
		h_free(&h);
	}
}

static void
test_two_messages_one_session(void **state)
{
	struct h h;

	(void)state;
	h_init(&h);
	h_msg(&h, &M1, "one\n");
	h_msg(&h, &M2, "two\n");
	h_feed(&h, "220 mx\r\n" EHLO_PLAIN "250 ok\r\n250 ok\r\n354 go\r\n");
	h_feed(&h, "250 first\r\n");
	assert_out(&h, "MAIL FROM:<a@local.test>\r\n");
	h_feed(&h, "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 second\r\n");
	assert_string_equal(h.results->data, "x@remote.test=250;"
			    "x@remote.test=250 y@remote.test=250;");
	assert_string_equal(smtp_client_rcpt(h.c, 1)->text, "250 second");
	assert_out(&h, "RCPT TO:<x@remote.test>\r\nRCPT TO:<y@remote.test>\r\n"
		       "DATA\r\ntwo\r\n.\r\nQUIT\r\n");
	h_free(&h);
}

static void
test_greeting_refused(void **state)
{
	struct h h;

	(void)state;
	h_init(&h);
	h_feed(&h, "554-not here\r\n554 go away\r\n");
	assert_out(&h, "QUIT\r\n");
	assert_int_equal(smtp_client_error(h.c)->code, 554);
	assert_string_equal(smtp_client_error(h.c)->text,
			    "554-not here / go away");
	assert_false(smtp_client_usable(h.c));
	/* a message offered now fails at once with the session's reply */
	h_msg(&h, &M1, "x\n");
	h_act(&h, smtp_client_next(h.c, &M1, h.out));
	assert_string_equal(h.results->data, "x@remote.test=554;");
	h_feed(&h, "221 bye\r\n");
	assert_true(h.closed);
	h_free(&h);
}

static void
test_421_mid_transaction(void **state)
{
	struct h h;

	(void)state;
	h_init(&h);
	h_msg(&h, &M2, "x\n");
	h_feed(&h, "220 mx\r\n" EHLO_FULL);
	h_feed(&h, "250 ok\r\n250 ok\r\n421 4.3.2 shutting down\r\n");
	/* no QUIT after 421; the open recipients get the 421 */
	assert_out(&h, "");
	assert_string_equal(h.results->data,
			    "x@remote.test=421 y@remote.test=421;");
	assert_true(h.closed);
	h_free(&h);
}

static void
test_eof(void **state)
{
	struct h h;

	(void)state;
	h_init(&h);
	h_msg(&h, &M2, "x\n");
	h_feed(&h, "220 mx\r\n" EHLO_PLAIN "250 ok\r\n550 no\r\n");
	h_act(&h, smtp_client_eof(h.c, "connection reset"));
	assert_string_equal(h.results->data,
			    "x@remote.test=550 y@remote.test=0;");
	assert_string_equal(smtp_client_rcpt(h.c, 1)->text,
			    "connection reset");
	assert_true(h.closed);
	h_free(&h);

	/* before any message: CLOSE, error says why */
	h_init(&h);
	assert_int_equal(smtp_client_eof(h.c, "refused"), SMTPC_CLOSE);
	assert_string_equal(smtp_client_error(h.c)->text, "refused");
	h_free(&h);

	/* after QUIT was sent: a normal end */
	h_init(&h);
	h_feed(&h, "220 mx\r\n");
	h_feed(&h, EHLO_PLAIN);
	assert_out(&h, "QUIT\r\n");
	assert_int_equal(smtp_client_eof(h.c, "eof"), SMTPC_CLOSE);
	assert_int_equal(smtp_client_error(h.c)->code, 0);
	h_free(&h);
}

static void
test_bad_replies(void **state)
{
	static const char *bad[] = {
		"hello\r\n", "22\r\n", "220x\r\n", "620 six\r\n",
		"120 one\r\n", "2a0 x\r\n", "220-a\r\n230 b\r\n",
		"250 x\0y\r\n",
	};
	struct h h;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		h_init(&h);
		h_msg(&h, &M1, "x\n");
		if (i == 7) {
			h_feed(&h, "220 mx\r\n");
			buf_reset(h.out);
			h_act(&h, smtp_client_feed(h.c, bad[i], 9, h.out));
		} else {
			h_feed(&h, bad[i]);
		}
		assert_int_equal(smtp_client_error(h.c)->code, 0);
		assert_true(strlen(smtp_client_error(h.c)->text) > 0);
		assert_out(&h, "QUIT\r\n");
		h_free(&h);
	}
	/* a reply while the caller has the turn */
	h_init(&h);
	h_feed(&h, "220 mx\r\n" EHLO_PLAIN);
	h_feed(&h, "250 surprise\r\n");
	assert_true(h.closed || strstr(h.out->data, "QUIT"));
	h_free(&h);
}

static void
test_limits(void **state)
{
	struct h h;
	char line[32];

	(void)state;
	h_init(&h);
	for (int i = 0; i < SMTPC_LINES_MAX - 1; i++)
		h_feed(&h, "220-more\r\n");
	assert_out(&h, "");
	h_feed(&h, "220 last\r\n");
	assert_out(&h, "EHLO mx.local.test\r\n");
	h_free(&h);

	h_init(&h);
	for (int i = 0; i < SMTPC_LINES_MAX; i++) {
		snprintf(line, sizeof(line), "220-more\r\n");
		h_feed(&h, line);
	}
	h_feed(&h, "220 one too many\r\n");
	assert_out(&h, "QUIT\r\n");
	assert_non_null(strstr(smtp_client_error(h.c)->text, "too many"));
	h_free(&h);

	h_init(&h);
	buf_reset(h.out);
	h_act(&h, smtp_client_toolong(h.c, h.out));
	assert_out(&h, "QUIT\r\n");
	assert_non_null(strstr(smtp_client_error(h.c)->text, "too long"));
	h_free(&h);
}

/* STARTTLS (RFC 3207) as the client: may, require, no. */
static void
test_starttls(void **state)
{
	struct h h;

	(void)state;
	/* may: offered, used, EHLO again, not a second time */
	h_init(&h);
	h.conf.tls = SMTPC_TLS_MAY;
	h_msg(&h, &M1, "hi\n");
	h_feed(&h, "220 mx\r\n");
	assert_string_equal(h.out->data, "EHLO mx.local.test\r\n");
	h_feed(&h, "250-mx\r\n250-STARTTLS\r\n250 8BITMIME\r\n");
	assert_string_equal(h.out->data, "STARTTLS\r\n");
	h_feed(&h, "220 2.0.0 go ahead\r\n");
	assert_int_equal(h.starttls, 1);
	assert_string_equal(h.out->data, "");
	assert_false(smtp_client_secure(h.c));
	smtp_client_secured(h.c, h.out);
	assert_true(smtp_client_secure(h.c));
	assert_string_equal(h.out->data, "EHLO mx.local.test\r\n");
	assert_false(smtp_client_ext(h.c)->eightbit); /* forgotten */
	h_feed(&h, "250-mx\r\n250 STARTTLS\r\n");
	assert_string_equal(h.out->data, "MAIL FROM:<a@local.test>\r\n");
	assert_int_equal(h.starttls, 1);
	h_free(&h);

	/* may: refused, so on in the clear */
	h_init(&h);
	h.conf.tls = SMTPC_TLS_MAY;
	h_msg(&h, &M1, "hi\n");
	h_feed(&h, "220 mx\r\n");
	h_feed(&h, "250-mx\r\n250 STARTTLS\r\n");
	h_feed(&h, "454 4.7.0 TLS not available\r\n");
	assert_string_equal(h.out->data, "MAIL FROM:<a@local.test>\r\n");
	assert_int_equal(h.starttls, 0);
	h_free(&h);

	/* require: not offered, or refused, fails for later (code 0) */
	for (int refused = 0; refused < 2; refused++) {
		h_init(&h);
		h.conf.tls = SMTPC_TLS_REQUIRE;
		h_msg(&h, &M1, "hi\n");
		h_feed(&h, "220 mx\r\n");
		if (refused) {
			h_feed(&h, "250-mx\r\n250 STARTTLS\r\n");
			h_feed(&h, "554 5.7.0 no TLS for you\r\n");
		} else {
			h_feed(&h, "250 mx\r\n");
		}
		assert_string_equal(h.out->data, "QUIT\r\n");
		assert_int_equal(smtp_client_error(h.c)->code, 0);
		assert_non_null(strstr(smtp_client_error(h.c)->text,
				       refused ? "refused: 554 5.7.0"
					       : "does not offer STARTTLS"));
		assert_false(smtp_client_usable(h.c));
		h_feed(&h, "221 bye\r\n");
		assert_true(h.closed);
		h_free(&h);
	}

	/* require after HELO fallback: no STARTTLS possible */
	h_init(&h);
	h.conf.tls = SMTPC_TLS_REQUIRE;
	h_feed(&h, "220 mx\r\n");
	h_feed(&h, "500 what\r\n");
	h_feed(&h, "250 mx\r\n");
	assert_string_equal(h.out->data, "QUIT\r\n");
	h_free(&h);

	/* no: never asked for; a reply during the handshake is an error */
	h_init(&h);
	h_feed(&h, "220 mx\r\n");
	h_feed(&h, "250-mx\r\n250 STARTTLS\r\n");
	assert_string_equal(h.out->data, "QUIT\r\n"); /* no message */
	h_free(&h);
	h_init(&h);
	h.conf.tls = SMTPC_TLS_MAY;
	h_feed(&h, "220 mx\r\n");
	h_feed(&h, "250-mx\r\n250 STARTTLS\r\n");
	h_feed(&h, "220 go\r\n");
	h_feed(&h, "250 unexpected\r\n");
	assert_non_null(strstr(smtp_client_error(h.c)->text, "out of turn"));
	h_free(&h);
}

static enum smtpc_act
feed_line(struct smtp_client *c, const char *line, struct buf *out)
{
	return smtp_client_feed(c, line, strlen(line), out);
}

/* A session kept between messages (the relay's cache) that the server
 * ends: a 421 is a close without QUIT, anything else QUIT. */
static void
test_reply_while_idle(void **state)
{
	struct smtpc_conf conf = {.helo = "mx.local.test"};
	struct buf *out = buf_new(1 << 16);
	struct smtp_client *c = smtp_client_new(&conf);

	(void)state;
	assert_int_equal(feed_line(c, "220 mx\r\n", out), SMTPC_NONE);
	assert_int_equal(feed_line(c, "250 mx\r\n", out), SMTPC_NEXT);
	assert_true(smtp_client_usable(c));
	buf_reset(out);
	assert_int_equal(feed_line(c, "421-4.3.2 idle too long\r\n", out),
			 SMTPC_NONE);
	assert_int_equal(feed_line(c, "421 4.3.2 bye\r\n", out), SMTPC_CLOSE);
	assert_int_equal(out->len, 0); /* no QUIT after a 421 */
	assert_int_equal(smtp_client_error(c)->code, 421);
	assert_false(smtp_client_usable(c));
	smtp_client_free(&c);

	c = smtp_client_new(&conf);
	feed_line(c, "220 mx\r\n", out);
	assert_int_equal(feed_line(c, "250 mx\r\n", out), SMTPC_NEXT);
	buf_reset(out);
	assert_int_equal(feed_line(c, "250 what\r\n", out), SMTPC_NONE);
	assert_string_equal(out->data, "QUIT\r\n");
	assert_non_null(strstr(smtp_client_error(c)->text, "unexpected"));
	smtp_client_free(&c);
	buf_free(&out);
}

static void
test_auth(void **state)
{
	struct h h;

	(void)state;
	/* PLAIN preferred, after STARTTLS, with the initial response */
	h_init(&h);
	h.conf.tls = SMTPC_TLS_MAY;
	h.conf.user = "alice";
	h.conf.pass = "secret";
	h_msg(&h, &M1, "hi\n");
	h_feed(&h, "220 mx\r\n");
	h_feed(&h, "250-mx\r\n250-AUTH LOGIN PLAIN\r\n250 STARTTLS\r\n");
	assert_out(&h, "STARTTLS\r\n"); /* not before TLS */
	h_feed(&h, "220 go\r\n");
	smtp_client_secured(h.c, h.out);
	h_feed(&h, "250-mx\r\n250 AUTH LOGIN PLAIN\r\n");
	assert_out(&h, "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
	assert_false(smtp_client_authed(h.c));
	h_feed(&h, "235 2.7.0 ok\r\n");
	assert_true(smtp_client_authed(h.c));
	assert_out(&h, "MAIL FROM:<a@local.test>\r\n");
	h_free(&h);

	/* LOGIN when PLAIN is not offered */
	h_init(&h);
	h.conf.user = "alice";
	h.conf.pass = "secret";
	h_msg(&h, &M1, "hi\n");
	h_feed(&h, "220 mx\r\n");
	h_feed(&h, "250-mx\r\n250-AUTH=LOGIN\r\n250 AUTH CRAM-MD5 LOGIN\r\n");
	assert_out(&h, "AUTH LOGIN\r\n");
	h_feed(&h, "334 VXNlcm5hbWU6\r\n");
	assert_out(&h, "YWxpY2U=\r\n");
	h_feed(&h, "334 UGFzc3dvcmQ6\r\n");
	assert_out(&h, "c2VjcmV0\r\n");
	h_feed(&h, "235 ok\r\n");
	assert_out(&h, "MAIL FROM:<a@local.test>\r\n");
	h_free(&h);

	/* refused: the session fails with the server's reply */
	h_init(&h);
	h.conf.user = "alice";
	h.conf.pass = "wrong";
	h_msg(&h, &M1, "hi\n");
	h_feed(&h, "220 mx\r\n");
	h_feed(&h, "250-mx\r\n250 AUTH PLAIN\r\n");
	h_feed(&h, "535 5.7.8 Authentication credentials invalid\r\n");
	assert_out(&h, "QUIT\r\n");
	assert_int_equal(smtp_client_error(h.c)->code, 535);
	assert_string_equal(smtp_client_error(h.c)->text,
			    "535 5.7.8 Authentication credentials invalid");
	assert_false(smtp_client_usable(h.c));
	h_feed(&h, "221 bye\r\n");
	assert_true(h.closed);
	h_free(&h);

	/* a challenge to PLAIN's initial response: cancelled, failed */
	h_init(&h);
	h.conf.user = "alice";
	h.conf.pass = "x";
	h_feed(&h, "220 mx\r\n");
	h_feed(&h, "250-mx\r\n250 AUTH PLAIN\r\n");
	h_feed(&h, "334 what\r\n");
	assert_out(&h, "*\r\n");
	h_feed(&h, "501 5.7.0 cancelled\r\n");
	assert_out(&h, "QUIT\r\n");
	assert_non_null(strstr(smtp_client_error(h.c)->text,
			       "unexpected AUTH challenge"));
	h_free(&h);

	/* the limits: SMTPC_USER_MAX and SMTPC_PASS_MAX log in, one more
	 * octet of either does not (no AUTH; the server decides) */
	{
		char user[SMTPC_USER_MAX + 2], pass[SMTPC_PASS_MAX + 2];
		size_t ul[] = {SMTPC_USER_MAX, SMTPC_USER_MAX + 1, 1};
		size_t pl[] = {SMTPC_PASS_MAX, 1, SMTPC_PASS_MAX + 1};

		for (int i = 0; i < 3; i++) {
			memset(user, 'u', ul[i]);
			user[ul[i]] = '\0';
			memset(pass, 'p', pl[i]);
			pass[pl[i]] = '\0';
			h_init(&h);
			h.conf.user = user;
			h.conf.pass = pass;
			h_msg(&h, &M1, "hi\n");
			h_feed(&h, "220 mx\r\n");
			h_feed(&h, "250-mx\r\n250 AUTH PLAIN\r\n");
			if (i == 0)
				assert_true(strncmp(h.out->data, "AUTH PLAIN ",
						    11) == 0);
			else
				assert_out(&h, "MAIL FROM:<a@local.test>\r\n");
			h_free(&h);
		}
	}

	/* no mechanism we know, or no credentials: no AUTH */
	h_init(&h);
	h.conf.user = "alice";
	h.conf.pass = "x";
	h_msg(&h, &M1, "hi\n");
	h_feed(&h, "220 mx\r\n");
	h_feed(&h, "250-mx\r\n250 AUTH CRAM-MD5 XOAUTH2\r\n");
	assert_out(&h, "MAIL FROM:<a@local.test>\r\n");
	h_free(&h);
	h_init(&h);
	h_msg(&h, &M1, "hi\n");
	h_feed(&h, "220 mx\r\n");
	h_feed(&h, "250-mx\r\n250 AUTH PLAIN\r\n");
	assert_out(&h, "MAIL FROM:<a@local.test>\r\n");
	h_free(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_session),
		cmocka_unit_test(test_pipelining_extensions),
		cmocka_unit_test(test_helo_fallback),
		cmocka_unit_test(test_ehlo_temp_failure),
		cmocka_unit_test(test_size_refused_before_sending),
		cmocka_unit_test(test_mail_refused),
		cmocka_unit_test(test_mail_refused_pipelined),
		cmocka_unit_test(test_all_rcpts_refused),
		cmocka_unit_test(test_data_refused),
		cmocka_unit_test(test_354_with_nobody_accepted),
		cmocka_unit_test(test_final_reply_refusal),
		cmocka_unit_test(test_dot_stuffing),
		cmocka_unit_test(test_no_bare_cr_or_lf_sent),
		cmocka_unit_test(test_two_messages_one_session),
		cmocka_unit_test(test_greeting_refused),
		cmocka_unit_test(test_421_mid_transaction),
		cmocka_unit_test(test_eof),
		cmocka_unit_test(test_bad_replies),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_starttls),
		cmocka_unit_test(test_reply_while_idle),
		cmocka_unit_test(test_auth),
	};

	return cmocka_run_group_tests_name("smtp_client", tests, NULL, NULL);
}
