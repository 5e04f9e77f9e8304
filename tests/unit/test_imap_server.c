/*
 * Unit tests of the IMAP server core (proto/imap_server.h) so far: the
 * greeting and CAPABILITY (LOGINDISABLED and STARTTLS as TLS and
 * auth.allow_plaintext say), NOOP, LOGOUT, STARTTLS (nothing sent after it
 * in the clear is run), LOGIN with atoms, quoted strings and literals,
 * AUTHENTICATE PLAIN with and without SASL-IR and cancelled, failed logins
 * up to BYE, ID, ENABLE, commands in the wrong state, a literal too big
 * before login, and BYE after too many BADs.  From RFC 9051's grammar and
 * examples; each input is fed whole, octet by octet and in pieces of 3
 * and 7, which must all give the same responses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "proto/imap_server.h"

struct run {
	bool tls;		/* conf.starttls */
	bool plain;		/* logins in the clear allowed */
	bool secure;		/* implicit TLS */
};

#define CAPS "IMAP4rev2 IMAP4rev1 LITERAL+ SASL-IR ID ENABLE"

/* Feeds text in pieces of chunk octets (0: whole); all the responses. */
static char *
run(const struct run *how, const char *text, size_t chunk)
{
	struct imap_conf conf = {.hostname = "imap.test", .max_errors = 5,
				 .max_auth_failures = 3,
				 .starttls = how->tls};
	struct imap_server *s = imap_server_new(&conf);
	struct buf *out = buf_new(1 << 20);
	size_t len = strlen(text), off = 0;
	bool closed = false;
	char *r;

	if (how->secure)
		imap_server_secure(s);
	imap_server_plain_auth(s, how->plain);
	imap_server_greet(s, out);
	while (off < len && !closed) {
		size_t n = chunk == 0 || len - off < chunk ? len - off : chunk;
		size_t used;
		enum imap_act a = imap_server_feed(s, text + off, n, &used,
						   out);

		off += used;
		while (a == IMAP_ACT_LOGIN) {
			const struct imap_req *q = imap_server_req(s);
			enum imap_login_result res = IMAP_LOGIN_BAD;

			if (strcmp(q->user, "alice") == 0 &&
			    strcmp(q->pass, "secret") == 0)
				res = IMAP_LOGIN_OK;
			else if (strcmp(q->user, "busy") == 0)
				res = IMAP_LOGIN_TEMP;
			a = imap_server_login_done(s, res, out);
		}
		if (a == IMAP_ACT_CLOSE || a == IMAP_ACT_STARTTLS)
			closed = true; /* STARTTLS: the clear text ends */
	}
	imap_server_free(&s);
	r = xstrdup(out->data);
	buf_free(&out);
	return r;
}

static void
check(const struct run *how, const char *text, const char *want)
{
	static const size_t chunks[] = {0, 1, 3, 7};

	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		char *got = run(how, text, chunks[i]);

		if (strcmp(got, want) != 0)
			fprintf(stderr, "chunk %zu:\n got: %s\nwant: %s\n",
				chunks[i], got, want);
		assert_string_equal(got, want);
		free(got);
	}
}

#define GREET_CLEAR "* OK [CAPABILITY " CAPS " STARTTLS LOGINDISABLED] " \
		    "imap.test owlpost IMAP ready\r\n"
#define GREET_PLAIN "* OK [CAPABILITY " CAPS " AUTH=PLAIN] imap.test " \
		    "owlpost IMAP ready\r\n"
#define LOGGED_IN "OK [CAPABILITY " CAPS " " IMAP_CAPS_LOGGED " APPENDLIMIT=0] " \
		  "Logged in\r\n"

static const struct run CLEAR = {.tls = true};
static const struct run PLAIN = {.plain = true};
static const struct run SECURE = {.secure = true};

static void
test_any_state(void **st)
{
	(void)st;
	check(&CLEAR, "a1 CAPABILITY\r\na2 noop\r\na3 LOGOUT\r\n",
	      GREET_CLEAR "* CAPABILITY " CAPS " STARTTLS LOGINDISABLED\r\n"
	      "a1 OK CAPABILITY completed\r\na2 OK NOOP completed\r\n"
	      "* BYE Logging out\r\na3 OK LOGOUT completed\r\n");
	/* after LOGOUT nothing more is read */
	check(&PLAIN, "a LOGOUT\r\nb NOOP\r\n",
	      GREET_PLAIN "* BYE Logging out\r\na OK LOGOUT completed\r\n");
	check(&PLAIN, "a ID NIL\r\nb ID (\"name\" \"mutt\" \"version\" NIL)"
	      "\r\nc ID (\"name\")\r\n",
	      GREET_PLAIN "* ID (\"name\" \"owlpost\" \"vendor\" \"owlpost\")"
	      "\r\na OK ID completed\r\n* ID (\"name\" \"owlpost\" \"vendor\" "
	      "\"owlpost\")\r\nb OK ID completed\r\nc BAD ID needs NIL or a "
	      "list of up to 30 field-value pairs\r\n");
}

static void
test_starttls(void **st)
{
	(void)st;
	/* what follows STARTTLS in the same packet is not run (6.2.1) */
	check(&CLEAR, "a STARTTLS\r\nb LOGIN alice secret\r\n",
	      GREET_CLEAR "a OK Begin TLS negotiation now\r\n");
	check(&SECURE, "a STARTTLS\r\n", "* OK [CAPABILITY " CAPS
	      " AUTH=PLAIN] imap.test owlpost IMAP ready\r\n"
	      "a BAD TLS is already active\r\n");
	check(&PLAIN, "a STARTTLS\r\n",
	      GREET_PLAIN "a BAD STARTTLS is not offered\r\n");
}

static void
test_login(void **st)
{
	(void)st;
	check(&CLEAR, "a LOGIN alice secret\r\n",
	      GREET_CLEAR "a NO [PRIVACYREQUIRED] Plaintext authentication "
	      "is disallowed without TLS\r\n");
	check(&SECURE, "a LOGIN alice secret\r\nb ENABLE IMAP4rev2\r\n"
	      "c ENABLE IMAP4rev2 CONDSTORE\r\nd LOGIN alice secret\r\n",
	      "* OK [CAPABILITY " CAPS " AUTH=PLAIN] imap.test owlpost IMAP "
	      "ready\r\na " LOGGED_IN "* ENABLED IMAP4rev2\r\n"
	      "b OK ENABLE completed\r\n* ENABLED CONDSTORE\r\n"
	      "c OK ENABLE completed\r\n"
	      "d BAD Command not valid in this state\r\n");
	/* quoted strings and a synchronizing literal */
	check(&PLAIN, "a LOGIN \"alice\" {6}\r\nsecret\r\n",
	      GREET_PLAIN "+ Ready for literal data\r\na " LOGGED_IN);
	check(&PLAIN, "a LOGIN {5+}\r\nalice \"secret\"\r\n",
	      GREET_PLAIN "a " LOGGED_IN);
	check(&PLAIN, "a LOGIN busy x\r\n",
	      GREET_PLAIN "a NO [UNAVAILABLE] Temporary failure, try again "
	      "later\r\n");
	/* three failures end the session */
	check(&PLAIN, "a LOGIN alice x\r\nb LOGIN alice y\r\n"
	      "c LOGIN alice z\r\nd NOOP\r\n",
	      GREET_PLAIN "a NO [AUTHENTICATIONFAILED] Authentication failed"
	      "\r\nb NO [AUTHENTICATIONFAILED] Authentication failed\r\n"
	      "c NO [AUTHENTICATIONFAILED] Authentication failed\r\n"
	      "* BYE Too many failed logins\r\n");
	check(&PLAIN, "a LOGIN alice\r\nb LOGIN (alice) secret\r\n",
	      GREET_PLAIN "a BAD LOGIN needs a user name and a password\r\n"
	      "b BAD LOGIN needs a user name and a password\r\n");
	/* a literal past what a login needs is refused before it comes,
	 * and at once: the client waits for the answer */
	check(&PLAIN, "a LOGIN {5000}\r\nb NOOP\r\n",
	      GREET_PLAIN "a NO [TOOBIG] Literal too big\r\n"
	      "b OK NOOP completed\r\n");
	check(&PLAIN, "a LOGIN {5000}\r\n",
	      GREET_PLAIN "a NO [TOOBIG] Literal too big\r\n");
}

static void
test_authenticate(void **st)
{
	(void)st;
	/* base64 of "\0alice\0secret" */
	check(&PLAIN, "a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n",
	      GREET_PLAIN "a " LOGGED_IN);
	check(&PLAIN, "a AUTHENTICATE plain\r\nAGFsaWNlAHNlY3JldA==\r\n",
	      GREET_PLAIN "+ \r\na " LOGGED_IN);
	check(&PLAIN, "a AUTHENTICATE PLAIN\r\n*\r\nb NOOP\r\n",
	      GREET_PLAIN "+ \r\na BAD Authentication cancelled\r\n"
	      "b OK NOOP completed\r\n");
	check(&PLAIN, "a AUTHENTICATE PLAIN\r\n!!!\r\n",
	      GREET_PLAIN "+ \r\na BAD Invalid base64\r\n");
	check(&PLAIN, "a AUTHENTICATE CRAM-MD5\r\n",
	      GREET_PLAIN "a NO Unsupported authentication mechanism\r\n");
	check(&CLEAR, "a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n",
	      GREET_CLEAR "a NO [PRIVACYREQUIRED] Plaintext authentication "
	      "is disallowed without TLS\r\n");
}

static void
test_errors(void **st)
{
	(void)st;
	check(&PLAIN, "a SELECT INBOX\r\nb FOO\r\nc ENABLE X\r\n",
	      GREET_PLAIN "a BAD Command not valid in this state\r\n"
	      "b BAD Unknown command\r\n"
	      "c BAD Command not valid in this state\r\n");
	check(&PLAIN, "a NOOP x\r\nb (\r\nc\r\n* NOOP\r\nd NOOP\r\ne NOOP\r\n",
	      GREET_PLAIN "a BAD NOOP takes no arguments\r\n"
	      "b BAD Invalid command name\r\nc BAD Missing command\r\n"
	      "* BAD Invalid tag\r\nd OK NOOP completed\r\n"
	      "e OK NOOP completed\r\n");
	/* the fifth BAD ends the session */
	check(&PLAIN, "a X\r\nb X\r\nc X\r\nd X\r\ne X\r\nf NOOP\r\n",
	      GREET_PLAIN "a BAD Unknown command\r\nb BAD Unknown command\r\n"
	      "c BAD Unknown command\r\nd BAD Unknown command\r\n"
	      "e BAD Unknown command\r\n* BYE Too many bad commands\r\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_any_state),
		cmocka_unit_test(test_starttls),
		cmocka_unit_test(test_login),
		cmocka_unit_test(test_authenticate),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
