/*
 * Unit tests of the POP3 client core against scripted server responses.
 * The harness frames the script into lines, collects DATA pieces into
 * h.data (a '\n' after each line end) and counts the other actions; every
 * command the core writes lands in h.out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pop3_client.h"

struct h {
	struct pop3c_conf conf;
	struct pop3_client *c;
	struct buf *out;
	struct buf *data;
	int ready, stls, closed;
};

static void
h_init(struct h *h, enum pop3c_tls tls)
{
	memset(h, 0, sizeof(*h));
	h->conf.user = "alice";
	h->conf.pass = "secret";
	h->conf.tls = tls;
	h->c = pop3_client_new(&h->conf);
	h->out = buf_new(1 << 16);
	h->data = buf_new(1 << 20);
}

static void
h_free(struct h *h)
{
	pop3_client_free(&h->c);
	buf_free(&h->out);
	buf_free(&h->data);
}

static void
h_act(struct h *h, enum pop3c_act act)
{
	const char *d;
	size_t n;
	bool eol;

	switch (act) {
	case POP3C_NONE:
		break;
	case POP3C_READY:
		h->ready++;
		break;
	case POP3C_DATA:
		pop3_client_data(h->c, &d, &n, &eol);
		buf_add(h->data, d, n);
		if (eol)
			buf_addc(h->data, '\n');
		break;
	case POP3C_STLS:
		h->stls++;
		break;
	case POP3C_CLOSE:
		h->closed++;
		break;
	}
}

/* Feeds script (lines) and clears out first. */
static void
h_feed(struct h *h, const char *script)
{
	const char *p = script;

	buf_reset(h->out);
	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);

		h_act(h, pop3_client_feed(h->c, p, n, h->out));
		p += n;
	}
}

/* Feeds one piece as is (no framing). */
static void
h_piece(struct h *h, const char *piece)
{
	h_act(h, pop3_client_feed(h->c, piece, strlen(piece), h->out));
}

static void
assert_out(struct h *h, const char *want)
{
	assert_string_equal(h->out->data ? h->out->data : "", want);
}

static void
h_cmd(struct h *h, enum pop3c_cmd cmd, unsigned long n, unsigned long l)
{
	buf_reset(h->out);
	h_act(h, pop3_client_cmd(h->c, cmd, n, l, h->out));
}

static void
test_full_session(void **state)
{
	struct h h;
	unsigned long n, size;

	(void)state;
	h_init(&h, POP3C_TLS_MAY);
	h_feed(&h, "+OK owld ready\r\n");
	assert_out(&h, "CAPA\r\n");
	h_feed(&h, "+OK capabilities\r\nTOP\r\nUIDL\r\nSTLS\r\n"
		   "SASL PLAIN\r\n.\r\n");
	assert_out(&h, "STLS\r\n");
	assert_true(pop3_client_ext(h.c)->sasl_plain);
	h_feed(&h, "+OK begin TLS\r\n");
	assert_int_equal(h.stls, 1);
	buf_reset(h.out);
	pop3_client_secured(h.c, h.out);
	assert_true(pop3_client_secure(h.c));
	assert_out(&h, "CAPA\r\n");
	assert_false(pop3_client_ext(h.c)->stls); /* forgotten */
	h_feed(&h, "+OK\r\nTOP\r\nUIDL\r\nUSER\r\nSASL LOGIN PLAIN\r\n.\r\n");
	assert_out(&h, "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
	assert_int_equal(h.ready, 0);
	h_feed(&h, "+OK logged in\r\n");
	assert_int_equal(h.ready, 1);

	h_cmd(&h, POP3C_STAT, 0, 0);
	assert_out(&h, "STAT\r\n");
	h_feed(&h, "+OK 2 320\r\n");
	assert_int_equal(h.ready, 2);
	assert_true(pop3_client_reply(h.c)->ok);
	assert_true(pop3_parse_listing(pop3_client_reply(h.c)->text + 4,
				       &n, &size));
	assert_int_equal(n, 2);
	assert_int_equal(size, 320);

	h_cmd(&h, POP3C_LIST, 0, 0);
	assert_out(&h, "LIST\r\n");
	h_feed(&h, "+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n");
	assert_string_equal(h.data->data, "1 120\n2 200\n");
	assert_int_equal(h.ready, 3);

	buf_reset(h.data);
	h_cmd(&h, POP3C_TOP, 2, 0);
	assert_out(&h, "TOP 2 0\r\n");
	h_feed(&h, "+OK\r\nSubject: x\r\n\r\n.\r\n");
	assert_string_equal(h.data->data, "Subject: x\n\n");

	buf_reset(h.data);
	h_cmd(&h, POP3C_RETR, 1, 0);
	assert_out(&h, "RETR 1\r\n");
	h_feed(&h, "+OK 120 octets\r\nSubject: y\r\n\r\n..dot\r\n"
		   "...\r\n. \r\nbare lf\n.\r\n");
	assert_string_equal(h.data->data,
			    "Subject: y\n\n.dot\n..\n \nbare lf\n");
	assert_int_equal(h.ready, 5);

	h_cmd(&h, POP3C_DELE, 9, 0);
	assert_out(&h, "DELE 9\r\n");
	h_feed(&h, "-ERR no such message\r\n");
	assert_int_equal(h.ready, 6);
	assert_false(pop3_client_reply(h.c)->ok);
	assert_string_equal(pop3_client_reply(h.c)->text,
			    "-ERR no such message");
	h_cmd(&h, POP3C_DELE, 1, 0);
	h_feed(&h, "+OK deleted\r\n");
	assert_true(pop3_client_reply(h.c)->ok);

	h_cmd(&h, POP3C_UIDL, 1, 0);
	assert_out(&h, "UIDL 1\r\n");
	h_feed(&h, "+OK 1 abc\r\n"); /* single line: no data */
	assert_int_equal(h.ready, 8);

	buf_reset(h.out);
	assert_int_equal(pop3_client_quit(h.c, h.out), POP3C_NONE);
	assert_out(&h, "QUIT\r\n");
	h_feed(&h, "+OK bye\r\n");
	assert_int_equal(h.closed, 1);
	assert_true(pop3_client_error(h.c)->ok);
	h_free(&h);
}

static void
test_user_pass(void **state)
{
	struct h h;

	(void)state;
	/* an RFC 1939 server without CAPA; TLS may: stays in the clear */
	h_init(&h, POP3C_TLS_MAY);
	h_feed(&h, "+OK hi\r\n");
	h_feed(&h, "-ERR unknown command\r\n");
	assert_out(&h, "USER alice\r\n");
	h_feed(&h, "+OK\r\n");
	assert_out(&h, "PASS secret\r\n");
	h_feed(&h, "+OK maildrop locked\r\n");
	assert_int_equal(h.ready, 1);
	assert_false(pop3_client_secure(h.c));
	h_free(&h);

	/* STLS refused with tls may: on in the clear */
	h_init(&h, POP3C_TLS_MAY);
	h_feed(&h, "+OK hi\r\n");
	h_feed(&h, "+OK\r\nSTLS\r\nUSER\r\n.\r\n");
	assert_out(&h, "STLS\r\n");
	h_feed(&h, "-ERR not now\r\n");
	assert_out(&h, "USER alice\r\n");
	h_free(&h);

	/* tls no: STLS never asked for */
	h_init(&h, POP3C_TLS_NO);
	h_feed(&h, "+OK hi\r\n");
	h_feed(&h, "+OK\r\nSTLS\r\nSASL PLAIN\r\n.\r\n");
	assert_out(&h, "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
	h_free(&h);
}

static void
test_session_failures(void **state)
{
	struct h h;

	(void)state;
	/* refused login: QUIT, the server's words kept */
	h_init(&h, POP3C_TLS_NO);
	h_feed(&h, "+OK hi\r\n");
	h_feed(&h, "+OK\r\nUSER\r\n.\r\n");
	h_feed(&h, "+OK\r\n");
	assert_out(&h, "PASS secret\r\n");
	h_feed(&h, "-ERR [AUTH] Authentication failed\r\n");
	assert_out(&h, "QUIT\r\n");
	assert_int_equal(h.ready, 0);
	h_feed(&h, "+OK bye\r\n");
	assert_int_equal(h.closed, 1);
	assert_false(pop3_client_error(h.c)->ok);
	assert_string_equal(pop3_client_error(h.c)->text,
			    "-ERR [AUTH] Authentication failed");
	h_free(&h);

	/* TLS required, not offered; and refused */
	h_init(&h, POP3C_TLS_REQUIRE);
	h_feed(&h, "+OK hi\r\n");
	h_feed(&h, "+OK\r\nUSER\r\n.\r\n");
	assert_out(&h, "QUIT\r\n");
	assert_non_null(strstr(pop3_client_error(h.c)->text,
			       "does not offer STLS"));
	h_free(&h);
	h_init(&h, POP3C_TLS_REQUIRE);
	h_feed(&h, "+OK hi\r\n+OK\r\nSTLS\r\n.\r\n");
	h_feed(&h, "-ERR no\r\n");
	assert_out(&h, "QUIT\r\n");
	assert_non_null(strstr(pop3_client_error(h.c)->text,
			       "STLS was refused: -ERR no"));
	h_free(&h);

	/* greeting refused */
	h_init(&h, POP3C_TLS_NO);
	h_feed(&h, "-ERR too busy\r\n");
	assert_out(&h, "QUIT\r\n");
	assert_string_equal(pop3_client_error(h.c)->text, "-ERR too busy");
	h_free(&h);

	/* malformed, NUL, too long, without LF, out of turn */
	static const char *bad[] = {
		"hello\r\n", "+OKAY\r\n", "-ERRx\r\n", "+OK a\0b\r\n",
		"+OK no line end",
	};
	static const char *why[] = {
		"malformed", "malformed", "malformed", "NUL", "too long",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		h_init(&h, POP3C_TLS_NO);
		buf_reset(h.out);
		h_act(&h, pop3_client_feed(h.c, bad[i],
					   i == 3 ? 9 : strlen(bad[i]),
					   h.out));
		assert_out(&h, "QUIT\r\n");
		assert_non_null(strstr(pop3_client_error(h.c)->text, why[i]));
		/* whatever answers QUIT, the session is over */
		h_feed(&h, "garbage\r\n");
		assert_int_equal(h.closed, 1);
		h_feed(&h, "+OK more\r\n");
		assert_int_equal(h.closed, 2);
		h_free(&h);
	}
	{
		char longl[POP3C_LINE_MAX + 2];

		h_init(&h, POP3C_TLS_NO);
		memset(longl, 'x', sizeof(longl));
		memcpy(longl, "+OK ", 4);
		longl[sizeof(longl) - 2] = '\r';
		longl[sizeof(longl) - 1] = '\n';
		h_act(&h, pop3_client_feed(h.c, longl, sizeof(longl), h.out));
		assert_non_null(strstr(pop3_client_error(h.c)->text,
				       "too long"));
		h_free(&h);
		/* exactly POP3C_LINE_MAX is fine */
		h_init(&h, POP3C_TLS_NO);
		memcpy(longl + 2, "+OK ", 4);
		h_act(&h, pop3_client_feed(h.c, longl + 2, sizeof(longl) - 2,
					   h.out));
		assert_true(pop3_client_error(h.c)->ok);
		h_free(&h);
	}
	h_init(&h, POP3C_TLS_NO);
	h_feed(&h, "+OK hi\r\n-ERR\r\n+OK\r\n+OK\r\n");
	assert_int_equal(h.ready, 1);
	h_feed(&h, "+OK unasked\r\n");
	assert_out(&h, "QUIT\r\n");
	assert_non_null(strstr(pop3_client_error(h.c)->text, "out of turn"));
	h_free(&h);

	/* the connection lost in the middle of RETR */
	h_init(&h, POP3C_TLS_NO);
	h_feed(&h, "+OK hi\r\n-ERR\r\n+OK\r\n+OK\r\n");
	h_cmd(&h, POP3C_RETR, 1, 0);
	h_feed(&h, "+OK\r\nSubject: x\r\n");
	assert_int_equal(pop3_client_eof(h.c, "connection reset"),
			 POP3C_CLOSE);
	assert_string_equal(pop3_client_error(h.c)->text, "connection reset");
	buf_reset(h.out);
	assert_int_equal(pop3_client_quit(h.c, h.out), POP3C_CLOSE);
	assert_out(&h, "");
	h_free(&h);

	/* QUIT's -ERR: deletions not committed */
	h_init(&h, POP3C_TLS_NO);
	h_feed(&h, "+OK hi\r\n-ERR\r\n+OK\r\n+OK\r\n");
	pop3_client_quit(h.c, h.out);
	h_feed(&h, "-ERR some deleted messages not removed\r\n");
	assert_int_equal(h.closed, 1);
	assert_false(pop3_client_error(h.c)->ok);
	assert_non_null(strstr(pop3_client_error(h.c)->text, "not removed"));
	h_free(&h);

	/* commands out of turn, or without the message number */
	h_init(&h, POP3C_TLS_NO);
	h_cmd(&h, POP3C_STAT, 0, 0);
	assert_int_equal(h.ready, 1);
	assert_false(pop3_client_reply(h.c)->ok);
	assert_out(&h, "");
	h_feed(&h, "+OK hi\r\n-ERR\r\n+OK\r\n+OK\r\n");
	h_cmd(&h, POP3C_RETR, 0, 0);
	assert_out(&h, "");
	assert_false(pop3_client_reply(h.c)->ok);
	/* no credentials */
	h.conf.user = NULL;
	pop3_client_free(&h.c);
	h.c = pop3_client_new(&h.conf);
	h_feed(&h, "+OK hi\r\n");
	h_feed(&h, "-ERR\r\n");
	assert_out(&h, "QUIT\r\n");
	h_free(&h);
}

static void
test_credential_limits(void **state)
{
	char user[POP3C_USER_MAX + 2], pass[POP3C_PASS_MAX + 2];
	struct {
		size_t ul, pl;
		bool ok;
	} cases[] = {
		{POP3C_USER_MAX, POP3C_PASS_MAX, true},
		{POP3C_USER_MAX + 1, 1, false},
		{1, POP3C_PASS_MAX + 1, false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct h h;

		memset(user, 'u', cases[i].ul);
		user[cases[i].ul] = '\0';
		memset(pass, 'p', cases[i].pl);
		pass[cases[i].pl] = '\0';
		h_init(&h, POP3C_TLS_NO);
		h.conf.user = user;
		h.conf.pass = pass;
		h_feed(&h, "+OK hi\r\n");
		h_feed(&h, "+OK\r\nSASL PLAIN\r\n.\r\n");
		if (cases[i].ok) {
			assert_true(strncmp(h.out->data, "AUTH PLAIN ", 11) == 0);
		} else {
			assert_out(&h, "QUIT\r\n");
			assert_non_null(strstr(pop3_client_error(h.c)->text,
					       "not usable"));
		}
		h_free(&h);
	}
}

static void
test_data_pieces(void **state)
{
	struct h h;

	(void)state;
	h_init(&h, POP3C_TLS_NO);
	h_feed(&h, "+OK hi\r\n-ERR\r\n+OK\r\n+OK\r\n");
	h_cmd(&h, POP3C_RETR, 1, 0);
	h_feed(&h, "+OK\r\n");
	/* a long line in pieces; a dot inside it is not unstuffed */
	h_piece(&h, "..abc");
	h_piece(&h, ".def");
	h_piece(&h, "\r\n");
	h_piece(&h, ".");	/* a piece ".": stuffed, line continues */
	h_piece(&h, ".x\r\n");
	h_piece(&h, "..\r\n");
	h_piece(&h, ".\r\n");
	assert_string_equal(h.data->data, ".abc.def\n.x\n.\n");
	assert_int_equal(h.ready, 2);
	h_free(&h);
}

static void
test_parse_listing(void **state)
{
	unsigned long n, s;

	(void)state;
	assert_true(pop3_parse_listing("1 120", &n, &s));
	assert_int_equal(n, 1);
	assert_int_equal(s, 120);
	assert_true(pop3_parse_listing("3 40 extra", &n, &s));
	assert_false(pop3_parse_listing("", &n, &s));
	assert_false(pop3_parse_listing("1", &n, &s));
	assert_false(pop3_parse_listing("1 ", &n, &s));
	assert_false(pop3_parse_listing("x 1", &n, &s));
	assert_false(pop3_parse_listing("1  2", &n, &s));
	assert_false(pop3_parse_listing("-1 2", &n, &s));
	assert_false(pop3_parse_listing("1 2x", &n, &s));
	assert_false(pop3_parse_listing("99999999999999999999999 1", &n, &s));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_session),
		cmocka_unit_test(test_user_pass),
		cmocka_unit_test(test_session_failures),
		cmocka_unit_test(test_credential_limits),
		cmocka_unit_test(test_data_pieces),
		cmocka_unit_test(test_parse_listing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
