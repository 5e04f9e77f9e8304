/*
 * Unit tests of the POP3 core.  Each dialog is fed three ways through the LF
 * framer the daemon uses (net/framer; whole, byte by byte, 7-byte chunks) and
 * the transcripts must be identical.  A scripted glue answers the actions:
 * alice@example.org (or "alice") / "secret" has three messages; "busy" is
 * locked by another session, "broken" cannot be opened; message 3 cannot be
 * read.  Message text is streamed through dot_stuff in the same chunk size as
 * the input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/framer.h"
#include "proto/pop3_server.h"

static const char *const TEXTS[] = {
	"Subject: one\n\n.dot line\nbody\n",
	"Subject: two\nX-H: y\n\nl1\nl2\nl3\nl4\nl5\nl6\n",
	"Subject: three\n\nunreadable\n",
};
static const struct pop3_msg MSGS[] = {
	{33, "uid-one"},
	{49, "uid-two"},
	{30, "uid-three"},
};

/* The snapshot's messages, as the glue hands them over. */
static void
msgs_fn(void *arg, unsigned i, struct pop3_msg *out)
{
	(void)arg;
	*out = MSGS[i];
}

struct h {
	struct pop3_conf conf;
	struct pop3_server *s;
	struct buf *out;
	struct buf *line;
	struct framer fr;	/* net/framer, as conn.c uses it */
	bool closed;
	size_t chunk;
	char deleted[64];
	char logins[256];
	int stls;
	bool switched;		/* STLS: the rest of this input is dropped */
	unsigned listing_steps;	/* listing_more calls that did not end it */
};

static void
h_init(struct h *h, size_t chunk)
{
	memset(h, 0, sizeof(*h));
	h->conf = (struct pop3_conf){.hostname = "pop.example.org",
				     .max_errors = 10,
				     .max_auth_failures = 3};
	h->s = pop3_server_new(&h->conf);
	pop3_server_plain_auth(h->s, true); /* test_stls says no */
	h->out = buf_new(1 << 20);
	h->line = buf_new(1 << 20);
	h->chunk = chunk;
	pop3_server_greet(h->s, h->out);
}

static void
h_free(struct h *h)
{
	pop3_server_free(&h->s);
	buf_free(&h->out);
	buf_free(&h->line);
}

static enum pop3_result
check_login(struct h *h, const char *user, const char *pass)
{
	size_t n = strlen(h->logins);

	snprintf(h->logins + n, sizeof(h->logins) - n, "%s/%s;", user, pass);
	if (strcmp(user, "busy") == 0)
		return POP3_R_INUSE;
	if (strcmp(user, "broken") == 0)
		return POP3_R_TEMP;
	if (strcmp(user, "gone") == 0)
		return POP3_R_PERM;
	if ((strcmp(user, "alice@example.org") == 0 ||
	     strcmp(user, "alice") == 0) &&
	    strcmp(pass, "secret") == 0)
		return POP3_R_OK;
	return POP3_R_BADAUTH;
}

static void
act(struct h *h, enum pop3_act a)
{
	const struct pop3_req *r = pop3_server_req(h->s);

	switch (a) {
	case POP3_ACT_LOGIN: {
		enum pop3_result res = check_login(h, r->user, r->pass);

		if (res == POP3_R_OK)
			pop3_server_set_mailbox(h->s, msgs_fn, NULL, 3);
		act(h, pop3_server_login_done(h->s, res, h->out));
		break;
	}
	case POP3_ACT_RETR: {
		const char *t = TEXTS[r->msg];
		size_t len = strlen(t), step = h->chunk ? h->chunk : len;
		struct dot_stuff st;

		if (r->msg == 2) {
			act(h, pop3_server_done(h->s, POP3_R_PERM, h->out));
			break;
		}
		pop3_server_retr_begin(h->s, h->out);
		dot_stuff_init(&st, r->lines);
		for (size_t i = 0; i < len; i += step)
			if (dot_stuff_feed(&st, t + i,
					    len - i < step ? len - i : step,
					    h->out))
				break;
		dot_stuff_end(&st, h->out);
		act(h, pop3_server_done(h->s, POP3_R_OK, h->out));
		break;
	}
	case POP3_ACT_UPDATE: {
		size_t n = 0;

		for (unsigned i = 0; i < 3; i++)
			if (r->dele[i])
				n += (size_t)snprintf(h->deleted + n,
						      sizeof(h->deleted) - n,
						      "%u,", i + 1);
		assert_int_equal(r->ndele, n / 2);
		act(h, pop3_server_done(h->s, strstr(h->logins, "tempfail")
						      ? POP3_R_TEMP
						      : POP3_R_OK, h->out));
		break;
	}
	case POP3_ACT_LISTING:
		/* a line or so at a time, as a slow client reads it */
		while (!pop3_server_listing_more(h->s, h->out,
						 h->out->len + 1))
			h->listing_steps++;
		break;
	case POP3_ACT_CLOSE:
		h->closed = true;
		break;
	case POP3_ACT_STLS:
		h->stls++;
		h->switched = true;
		break;
	case POP3_ACT_NONE:
		break;
	}
}

/* Frames what is in h->line with net/framer, as conn.c does. */
static void
h_frame(struct h *h)
{
	size_t off, len;

	while (!h->closed && !h->switched &&
	       (off = framer_offset(&h->fr)) < h->line->len) {
		switch (framer_scan(&h->fr, h->line->data + off,
				    h->line->len - off,
				    pop3_server_max_line(h->s), &len)) {
		case FRAMER_MORE:
			continue;
		case FRAMER_LINE:
			act(h, pop3_server_feed(h->s, h->line->data, len,
						 h->out));
			break;
		case FRAMER_TOOLONG:
			act(h, pop3_server_toolong(h->s, h->out));
			break;
		case FRAMER_DROP:
			if (framer_dropped(&h->fr) >
			    pop3_server_max_drop(h->s)) {
				pop3_server_endless(h->s, h->out);
				h->closed = true;
			}
			break;
		}
		buf_consume(h->line, len);
	}
}

/* A byte stream arriving in pieces, buffered and framed as conn.c does. */
static void
h_bytes(struct h *h, const char *p, size_t n)
{
	h->switched = false;
	while (n > 0 && !h->closed && !h->switched) {
		size_t k = h->line->max - h->line->len;

		k = k < n ? k : n;
		assert_int_equal(buf_add(h->line, p, k), 0);
		p += k;
		n -= k;
		h_frame(h);
	}
	if (h->switched) {
		/* STARTTLS: what followed was sent in the clear */
		buf_reset(h->line);
		framer_reset(&h->fr);
	}
}

/* Runs script three ways; returns the transcript (caller frees). */
static char *
run3(const char *script, char *deleted, size_t dsize)
{
	static const size_t chunks[] = {0, 1, 7};
	size_t len = strlen(script);
	char *first = NULL;

	for (size_t c = 0; c < 3; c++) {
		struct h h;
		size_t step = chunks[c] ? chunks[c] : len;

		h_init(&h, chunks[c]);
		for (size_t i = 0; i < len; i += step)
			h_bytes(&h, script + i, len - i < step ? len - i : step);
		if (first == NULL) {
			first = strdup(h.out->data);
			if (deleted)
				snprintf(deleted, dsize, "%s", h.deleted);
		} else {
			assert_string_equal(first, h.out->data);
		}
		h_free(&h);
	}
	return first;
}

static void
expect(const char *script, const char *want)
{
	char *got = run3(script, NULL, 0);

	if (strcmp(got, want) != 0)
		fail_msg("script:\n%s\nwant:\n%s\ngot:\n%s", script, want, got);
	free(got);
}

#define GREET "+OK owlpost POP3 ready pop.example.org\r\n"
#define LOGIN "USER alice@example.org\r\nPASS secret\r\n"
#define LOGGED GREET "+OK Send your password\r\n" \
	"+OK Logged in, 3 messages (112 octets)\r\n"

static void
test_authorization_state(void **st)
{
	static const char *const trans[] = {"STAT", "LIST", "LIST 1",
					    "RETR 1", "DELE 1", "NOOP",
					    "RSET", "TOP 1 0", "UIDL",
					    "UIDL 1"};

	(void)st;
	for (size_t i = 0; i < sizeof(trans) / sizeof(*trans); i++) {
		char script[64];

		snprintf(script, sizeof(script), "%s\r\nQUIT\r\n", trans[i]);
		expect(script, GREET "-ERR Not logged in; use USER and PASS, "
				     "or AUTH\r\n+OK owlpost POP3 server "
				     "signing off\r\n");
	}
	expect("PASS secret\r\nUSER\r\nUSER a b\r\nAPOP a b\r\nFOO\r\n\r\n"
	       "QUIT x\r\n",
	       GREET "-ERR USER first\r\n-ERR Syntax error: USER name\r\n"
		     "-ERR Syntax error: USER name\r\n"
		     "-ERR [AUTH] APOP is not available; use USER and PASS, "
		     "or AUTH PLAIN\r\n-ERR Not supported\r\n"
		     "-ERR Empty command\r\n"
		     "-ERR Syntax error: QUIT takes no argument\r\n");
	expect("CAPA\r\n", GREET "+OK Capability list follows\r\nTOP\r\n"
			   "UIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
			   "PIPELINING\r\nEXPIRE NEVER\r\n"
			   "IMPLEMENTATION owlpost\r\nUSER\r\nSASL PLAIN\r\n"
			   ".\r\n");
	/* USER then a wrong PASS, then a good one; lower case; bare LF */
	expect("user alice\nPASS bad\r\nUSER alice\r\npass secret\r\n",
	       GREET "+OK Send your password\r\n"
		     "-ERR [AUTH] Invalid user name or password\r\n"
		     "+OK Send your password\r\n"
		     "+OK Logged in, 3 messages (112 octets)\r\n");
	/* NUL and CR inside a command */
	{
		struct h h;

		h_init(&h, 0);
		h_bytes(&h, "US\0ER x\r\nUSER a\rb\r\n", 19);
		assert_string_equal(h.out->data,
				    GREET "-ERR Bad characters in command\r\n"
					  "-ERR Bad characters in command\r\n");
		h_free(&h);
	}
}

static void
test_transaction_state(void **st)
{
	(void)st;
	expect(LOGIN "STAT\r\nLIST\r\nLIST 2\r\nUIDL\r\nUIDL 3\r\nNOOP\r\n",
	       LOGGED "+OK 3 112\r\n"
		      "+OK 3 messages (112 octets)\r\n1 33\r\n2 49\r\n"
		      "3 30\r\n.\r\n+OK 2 49\r\n"
		      "+OK Unique-ID listing follows\r\n1 uid-one\r\n"
		      "2 uid-two\r\n3 uid-three\r\n.\r\n+OK 3 uid-three\r\n"
		      "+OK\r\n");
	expect(LOGIN "RETR 1\r\n",
	       LOGGED "+OK 33 octets\r\nSubject: one\r\n\r\n..dot line\r\n"
		      "body\r\n.\r\n");
	expect(LOGIN "TOP 2 0\r\nTOP 2 2\r\nTOP 1 99\r\n",
	       LOGGED "+OK Top of message follows\r\nSubject: two\r\n"
		      "X-H: y\r\n\r\n.\r\n"
		      "+OK Top of message follows\r\nSubject: two\r\n"
		      "X-H: y\r\n\r\nl1\r\nl2\r\n.\r\n"
		      "+OK Top of message follows\r\nSubject: one\r\n\r\n"
		      "..dot line\r\nbody\r\n.\r\n");
	/* an unreadable message: an error, and the session goes on */
	expect(LOGIN "RETR 3\r\nNOOP\r\n",
	       LOGGED "-ERR [SYS/PERM] Message cannot be read\r\n+OK\r\n");
	expect(LOGIN "DELE 2\r\nDELE 2\r\nRETR 2\r\nLIST 2\r\nSTAT\r\n"
		     "LIST\r\nUIDL\r\nRSET\r\nSTAT\r\n",
	       LOGGED "+OK Message 2 deleted\r\n"
		      "-ERR Message is deleted\r\n-ERR Message is deleted\r\n"
		      "-ERR Message is deleted\r\n+OK 2 63\r\n"
		      "+OK 2 messages (63 octets)\r\n1 33\r\n3 30\r\n.\r\n"
		      "+OK Unique-ID listing follows\r\n1 uid-one\r\n"
		      "3 uid-three\r\n.\r\n"
		      "+OK 3 messages (112 octets)\r\n+OK 3 112\r\n");
	expect(LOGIN "USER x\r\nPASS y\r\nAUTH PLAIN\r\nAPOP a b\r\nCAPA\r\n",
	       LOGGED "-ERR Already logged in\r\n-ERR Already logged in\r\n"
		      "-ERR Already logged in\r\n-ERR Already logged in\r\n"
		      "+OK Capability list follows\r\nTOP\r\nUIDL\r\n"
		      "RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n"
		      "EXPIRE NEVER\r\nIMPLEMENTATION owlpost\r\n.\r\n");
}

/*
 * A listing goes out in steps as the output drains (it was written whole,
 * or refused when the output bound could not hold it): the same lines
 * whatever the steps, none while a command is pending, DELE'd ones left
 * out, and at most one line past the budget at each step.
 */
static void
test_listing_streamed(void **st)
{
	struct h h;

	(void)st;
	h_init(&h, 0);
	h_bytes(&h, LOGIN, strlen(LOGIN));
	buf_reset(h.out);
	h_bytes(&h, "DELE 2\r\nLIST\r\nUIDL\r\n", 20);
	assert_string_equal(h.out->data,
			    "+OK Message 2 deleted\r\n"
			    "+OK 2 messages (63 octets)\r\n1 33\r\n3 30\r\n.\r\n"
			    "+OK Unique-ID listing follows\r\n1 uid-one\r\n"
			    "3 uid-three\r\n.\r\n");
	assert_true(h.listing_steps >= 2);
	/* the core waits while its listing is out: no line is taken */
	{
		struct pop3_server *p = pop3_server_new(&h.conf);
		struct buf *o = buf_new(1 << 16);
		const char *lines[] = {"USER alice\r\n", "PASS secret\r\n"};

		pop3_server_plain_auth(p, true);
		pop3_server_feed(p, lines[0], strlen(lines[0]), o);
		assert_int_equal(pop3_server_feed(p, lines[1], strlen(lines[1]),
						  o), POP3_ACT_LOGIN);
		pop3_server_set_mailbox(p, msgs_fn, NULL, 3);
		pop3_server_login_done(p, POP3_R_OK, o);
		buf_reset(o);
		assert_int_equal(pop3_server_feed(p, "LIST\r\n", 6, o),
				 POP3_ACT_LISTING);
		assert_true(pop3_server_pending(p));
		assert_int_equal(pop3_server_feed(p, "NOOP\r\n", 6, o),
				 POP3_ACT_NONE);
		assert_false(pop3_server_listing_more(p, o, o->len));
		assert_true(pop3_server_listing_more(p, o, 1 << 16));
		assert_false(pop3_server_pending(p));
		assert_string_equal(o->data, "+OK 3 messages (112 octets)\r\n"
				    "1 33\r\n2 49\r\n3 30\r\n.\r\n");
		buf_free(&o);
		pop3_server_free(&p);
	}
	h_free(&h);
}

static void
test_bad_arguments(void **st)
{
	static const char *const bad[] = {
		"LIST 0",   "LIST 4",	"LIST x",    "LIST 1 2",   "LIST +1",
		"LIST -1",  "RETR",	"RETR 1 2",  "TOP 1",	   "TOP 1 x",
		"TOP 1 -1", "TOP x 1",	"TOP 1 1 1", "DELE",	   "DELE 9",
		"UIDL 0",   "STAT 1",	"NOOP 1",    "RSET 1",	   "CAPA 1",
		"DELE 99999999999999999999",	     "LIST  1",
	};

	(void)st;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		char script[200], *got;

		snprintf(script, sizeof(script), LOGIN "%s\r\nNOOP\r\n",
			 bad[i]);
		got = run3(script, NULL, 0);
		assert_true(strncmp(got, LOGGED, strlen(LOGGED)) == 0);
		if (strncmp(got + strlen(LOGGED), "-ERR ", 5) != 0 ||
		    strstr(got + strlen(LOGGED), "\r\n+OK\r\n") == NULL)
			fail_msg("%s: %s", bad[i], got + strlen(LOGGED));
		free(got);
	}
}

static void
test_update(void **st)
{
	char deleted[64], *got;

	(void)st;
	got = run3(LOGIN "DELE 1\r\nDELE 3\r\nQUIT\r\nNOOP\r\n", deleted,
		   sizeof(deleted));
	assert_string_equal(deleted, "1,3,");
	assert_non_null(strstr(got, "+OK owlpost POP3 server signing off "
				    "(2 messages deleted)\r\n"));
	assert_null(strstr(got, "+OK\r\n")); /* nothing after QUIT */
	free(got);
	/* RSET clears the marks; nothing is deleted */
	got = run3(LOGIN "DELE 1\r\nRSET\r\nQUIT\r\n", deleted,
		   sizeof(deleted));
	assert_string_equal(deleted, "");
	free(got);
	/* a failed expunge says so */
	expect("USER tempfail\r\nPASS x\r\nUSER alice\r\nPASS secret\r\n"
	       "DELE 1\r\nQUIT\r\n",
	       GREET "+OK Send your password\r\n"
		     "-ERR [AUTH] Invalid user name or password\r\n"
		     "+OK Send your password\r\n"
		     "+OK Logged in, 3 messages (112 octets)\r\n"
		     "+OK Message 1 deleted\r\n"
		     "-ERR [SYS/TEMP] Some deleted messages were not "
		     "removed\r\n");
}

static void
test_login_results(void **st)
{
	(void)st;
	expect("USER busy\r\nPASS x\r\nUSER broken\r\nPASS x\r\n"
	       "USER gone\r\nPASS x\r\n",
	       GREET "+OK Send your password\r\n"
		     "-ERR [IN-USE] Mailbox is in use by another session\r\n"
		     "+OK Send your password\r\n"
		     "-ERR [SYS/TEMP] Cannot open the mailbox now, try again "
		     "later\r\n+OK Send your password\r\n"
		     "-ERR [SYS/PERM] Cannot open the mailbox\r\n");
	/* the third failure closes; nothing after it is answered */
	expect("USER a\r\nPASS 1\r\nUSER a\r\nPASS 2\r\nUSER a\r\nPASS 3\r\n"
	       "NOOP\r\n",
	       GREET "+OK Send your password\r\n"
		     "-ERR [AUTH] Invalid user name or password\r\n"
		     "+OK Send your password\r\n"
		     "-ERR [AUTH] Invalid user name or password\r\n"
		     "+OK Send your password\r\n"
		     "-ERR [AUTH] Too many failed logins, closing "
		     "connection\r\n");
	/* passwords keep their spaces */
	{
		struct h h;

		h_init(&h, 0);
		h_bytes(&h, "USER bob\r\nPASS  two words \r\n", 28);
		assert_string_equal(h.logins, "bob/ two words ;");
		h_free(&h);
	}
}

static void
test_auth_plain(void **st)
{
	struct h h;

	(void)st;
	/* "\0alice\0secret" and "alice\0alice\0secret" */
	expect("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nSTAT\r\n",
	       GREET "+OK Logged in, 3 messages (112 octets)\r\n"
		     "+OK 3 112\r\n");
	expect("AUTH plain\r\nYWxpY2UAYWxpY2UAc2VjcmV0\r\n",
	       GREET "+ \r\n+OK Logged in, 3 messages (112 octets)\r\n");
	expect("AUTH\r\nAUTH PLAIN\r\n*\r\nAUTH LOGIN\r\n"
	       "AUTH PLAIN AGFsaWNl\r\nAUTH PLAIN YWJj=\r\n"
	       "AUTH PLAIN Ym9iAGFsaWNlAHNlY3JldA==\r\nAUTH PLAIN =\r\n",
	       GREET "+OK SASL mechanisms follow\r\nPLAIN\r\n.\r\n+ \r\n"
		     "-ERR Authentication cancelled\r\n"
		     "-ERR Unsupported SASL mechanism\r\n"
		     "-ERR Malformed AUTH PLAIN response\r\n"
		     "-ERR Bad base64 in AUTH response\r\n"
		     "-ERR [AUTH] Cannot log in as another user\r\n"
		     "-ERR Malformed AUTH PLAIN response\r\n");
	/* the secret line may be longer than a command */
	h_init(&h, 0);
	h_bytes(&h, "AUTH PLAIN\r\n", 12);
	assert_true(pop3_server_in_sasl(h.s));
	assert_int_equal(pop3_server_max_line(h.s), POP3_SASL_MAX);
	h_free(&h);
}

static void
b64(const char *in, size_t n, char *out)
{
	static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				"0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned long w = (unsigned long)(unsigned char)in[i] << 16;

		if (i + 1 < n)
			w |= (unsigned long)(unsigned char)in[i + 1] << 8;
		if (i + 2 < n)
			w |= (unsigned char)in[i + 2];
		out[o++] = A[w >> 18 & 63];
		out[o++] = A[w >> 12 & 63];
		out[o++] = i + 1 < n ? A[w >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? A[w & 63] : '=';
	}
	out[o] = '\0';
}

/* The reply to "AUTH PLAIN" + the response for user and a password of
 * plen octets, sent as a continuation line. */
static char *
auth_reply(const char *user, size_t plen)
{
	char raw[4096], line[6000];
	size_t n = (size_t)snprintf(raw, sizeof(raw), "%c%s%c", 0, user, 0);
	struct h h;
	char *r;

	memset(raw + n, 'p', plen);
	b64(raw, n + plen, line);
	strcat(line, "\r\n");
	h_init(&h, 0);
	h_bytes(&h, "AUTH PLAIN\r\n", 12);
	buf_reset(h.out);
	h_bytes(&h, line, strlen(line));
	r = strdup(h.out->data);
	h_free(&h);
	return r;
}

static void
test_name_and_secret_limits(void **st)
{
	char script[700], *r;

	(void)st;
	/* USER: 255 octets at most */
	snprintf(script, sizeof(script), "USER %0255d\r\nUSER %0256d\r\n", 0,
		 0);
	expect(script, GREET "+OK Send your password\r\n"
			     "-ERR Syntax error: USER name\r\n");
	/* a password of 1024 octets is checked; 1025 is refused unseen */
	r = auth_reply("bob", POP3_PASS_MAX);
	assert_string_equal(r, "-ERR [AUTH] Invalid user name or password\r\n");
	free(r);
	r = auth_reply("bob", POP3_PASS_MAX + 1);
	assert_string_equal(r, "-ERR Malformed AUTH PLAIN response\r\n");
	free(r);
	/* an AUTH response line past POP3_SASL_MAX is skipped as too long */
	r = auth_reply("bob", 1600);
	assert_string_equal(r, "-ERR Line too long\r\n");
	free(r);
}

static void
test_limits(void **st)
{
	char script[2048];

	(void)st;
	/* ten errors close the session */
	script[0] = '\0';
	for (int i = 0; i < 12; i++)
		strcat(script, "BOGUS\r\n");
	{
		char *got = run3(script, NULL, 0);

		assert_non_null(strstr(got, "-ERR Too many errors, closing "
					    "connection\r\n"));
		assert_int_equal(
			strstr(got, "-ERR Too many") - got,
			(long)(strlen(GREET) + 10 * strlen("-ERR Not supported\r\n")));
		free(got);
	}
	/* an overlong line is one error; the next line is read normally */
	memset(script, 'x', 600);
	strcpy(script + 600, "\r\nNOOP\r\nQUIT\r\n");
	expect(script, GREET "-ERR Line too long\r\n"
			     "-ERR Not logged in; use USER and PASS, or "
			     "AUTH\r\n+OK owlpost POP3 server signing off\r\n");
}

/* A line WIRE_DROP_MAX past its limit ends the session (conn.c's bound,
 * as h_frame runs it); one that ends within it does not. */
static void
test_line_without_end(void **st)
{
	size_t fill = POP3_CMD_MAX + WIRE_DROP_MAX;
	char *script = malloc(fill + 64);

	(void)st;
	assert_non_null(script);
	memset(script, 'x', fill + 1);
	strcpy(script + fill + 1, "\r\nQUIT\r\n");
	expect(script, GREET "-ERR Line too long\r\n"
			     "-ERR Line too long, closing connection\r\n");
	strcpy(script + fill - 8, "\r\nQUIT\r\n");
	expect(script, GREET "-ERR Line too long\r\n"
			     "+OK owlpost POP3 server signing off\r\n");
	free(script);
}

static void
test_shutdown_timeout(void **st)
{
	struct h h;

	(void)st;
	h_init(&h, 0);
	pop3_server_shutdown(h.s, h.out);
	assert_string_equal(h.out->data, GREET "-ERR Server shutting down\r\n");
	assert_int_equal(pop3_server_feed(h.s, "NOOP\r\n", 6, h.out),
			 POP3_ACT_NONE);
	h_free(&h);
	h_init(&h, 0);
	pop3_server_timeout(h.s, h.out);
	assert_string_equal(h.out->data,
			    GREET "-ERR Idle for too long, closing "
				  "connection\r\n");
	h_free(&h);
	/* while an action is pending, lines are not taken */
	h_init(&h, 0);
	h_bytes(&h, "USER a\r\n", 8);
	assert_int_equal(pop3_server_feed(h.s, "PASS b\r\n", 8, h.out),
			 POP3_ACT_LOGIN);
	assert_true(pop3_server_pending(h.s));
	assert_int_equal(pop3_server_feed(h.s, "NOOP\r\n", 6, h.out),
			 POP3_ACT_NONE);
	assert_int_equal(pop3_server_done(h.s, POP3_R_OK, h.out),
			 POP3_ACT_NONE); /* not the pending kind */
	pop3_server_login_done(h.s, POP3_R_BADAUTH, h.out);
	assert_false(pop3_server_pending(h.s));
	assert_false(pop3_server_logged_in(h.s));
	h_free(&h);
}

/* Stuffs text in every chunk size; all must give want. */
static void
stuff_all(const char *text, long lines, const char *want)
{
	size_t len = strlen(text);

	for (size_t step = 1; step <= len + 1; step++) {
		struct buf *out = buf_new(1 << 16);
		struct dot_stuff st;

		dot_stuff_init(&st, lines);
		for (size_t i = 0; i < len; i += step)
			if (dot_stuff_feed(&st, text + i,
					    len - i < step ? len - i : step,
					    out))
				break;
		dot_stuff_end(&st, out);
		if (strcmp(out->data, want) != 0)
			fail_msg("step %zu: want %s got %s", step, want,
				 out->data);
		buf_free(&out);
	}
}

static void
test_stuff(void **st)
{
	(void)st;
	stuff_all("", -1, ".\r\n");
	stuff_all("a", -1, "a\r\n.\r\n");
	stuff_all(".\n..\n.x\nx.\n", -1, "..\r\n...\r\n..x\r\nx.\r\n.\r\n");
	stuff_all("cr\r\nbare\rcr\n", -1, "cr\r\r\nbare\rcr\r\n.\r\n");
	stuff_all("H: 1\n\nb1\nb2\n", 0, "H: 1\r\n\r\n.\r\n");
	stuff_all("H: 1\n\nb1\nb2\n", 1, "H: 1\r\n\r\nb1\r\n.\r\n");
	stuff_all("H: 1\n\nb1\nb2", 5, "H: 1\r\n\r\nb1\r\nb2\r\n.\r\n");
	stuff_all("H: 1\nno body\n", 0, "H: 1\r\nno body\r\n.\r\n");
	stuff_all("\n.b\n", 1, "\r\n..b\r\n.\r\n");
}

static void
test_base64(void **st)
{
	char out[64];
	size_t n;

	(void)st;
	assert_int_equal(b64_decode("", 0, out, sizeof(out), &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(b64_decode("Zm9vYmFy", 8, out, 64, &n), 0);
	assert_memory_equal(out, "foobar", 6);
	assert_int_equal(b64_decode("Zm9vYg==", 8, out, 64, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(b64_decode("Zm9vYmE=", 8, out, 64, &n), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "fooba", 5);
	/* malformed: length, alphabet, padding place, non-zero pad bits */
	assert_int_equal(b64_decode("Zm9", 3, out, 64, &n), -1);
	assert_int_equal(b64_decode("Zm9v YmFy", 9, out, 64, &n), -1);
	assert_int_equal(b64_decode("Zm==Zm9v", 8, out, 64, &n), -1);
	assert_int_equal(b64_decode("Z===", 4, out, 64, &n), -1);
	assert_int_equal(b64_decode("Zm9=", 4, out, 64, &n), -1);
	assert_int_equal(b64_decode("Zh==", 4, out, 64, &n), -1);
	assert_int_equal(b64_decode("Zm9vYmFy", 8, out, 5, &n), -1);
}

/* STLS (RFC 2595): logins only under TLS unless allowed in the clear. */
static void
test_stls(void **st)
{
	static const char clear[] =
		"CAPA\r\n"
		"USER alice\r\n"
		"PASS secret\r\n"
		"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"
		"STLS x\r\n"
		"STLS\r\n"
		"USER alice\r\n";	/* sent in the clear: dropped */
	static const char under_tls[] =
		"CAPA\r\n"
		"STLS\r\n"
		"USER alice\r\n"
		"PASS secret\r\n"
		"STLS\r\n";
	struct h h;
	char *p;

	(void)st;
	h_init(&h, 0);
	h.conf.stls = true;
	pop3_server_plain_auth(h.s, false);
	h_bytes(&h, clear, sizeof(clear) - 1);
	assert_int_equal(h.stls, 1);
	assert_string_equal(h.logins, "");
	p = strstr(h.out->data, "+OK Capability");
	assert_non_null(p);
	assert_non_null(strstr(p, "STLS\r\n"));
	assert_null(strstr(p, "USER\r\n"));
	assert_null(strstr(p, "SASL"));
	p = strstr(p, "-ERR [AUTH] Plaintext authentication disallowed");
	assert_non_null(p);
	p = strstr(p + 1, "-ERR [AUTH] Plaintext");
	assert_non_null(p);
	p = strstr(p + 1, "-ERR [AUTH] Plaintext");
	assert_non_null(p);
	p = strstr(p, "-ERR Syntax error: STLS");
	assert_non_null(p);
	assert_string_equal(strstr(p, "+OK Begin"),
			    "+OK Begin TLS negotiation now\r\n");
	buf_reset(h.out);
	h_bytes(&h, under_tls, sizeof(under_tls) - 1);
	p = h.out->data;
	assert_null(strstr(p, "STLS\r\n"));
	assert_non_null(strstr(p, "USER\r\n"));
	assert_non_null(strstr(p, "SASL PLAIN\r\n"));
	assert_non_null(strstr(p, "-ERR Command not permitted when TLS"));
	assert_string_equal(h.logins, "alice/secret;");
	/* logged in: STLS is now a wrong-state error */
	p = strstr(p, "+OK Logged in");
	assert_non_null(p);
	assert_non_null(strstr(p, "-ERR"));
	assert_int_equal(h.stls, 1);
	h_free(&h);

	/* no certificate: neither listed nor accepted */
	h_init(&h, 0);
	h_bytes(&h, "CAPA\r\nSTLS\r\n", strlen("CAPA\r\nSTLS\r\n"));
	assert_null(strstr(h.out->data, "STLS"));
	assert_non_null(strstr(h.out->data, "-ERR Not supported"));
	assert_int_equal(h.stls, 0);
	h_free(&h);

	/* implicit TLS: secure from the start */
	h_init(&h, 0);
	h.conf.stls = true;
	pop3_server_plain_auth(h.s, false);
	pop3_server_secure(h.s);
	{
		static const char sc[] = "CAPA\r\nUSER alice\r\nPASS secret\r\n";

		h_bytes(&h, sc, sizeof(sc) - 1);
	}
	assert_null(strstr(h.out->data, "STLS"));
	assert_string_equal(h.logins, "alice/secret;");
	h_free(&h);
}

/*
 * The trace: each line as the core says it may be shown, asked before the
 * line is fed; "|" between lines.
 */
static void
trace_of(const char *script, const char *want)
{
	char got[1024];
	size_t n = 0;
	struct h h;

	h_init(&h, 0);
	while (*script != '\0') {
		size_t len = strcspn(script, "\n") + 1, k;
		const char *t = pop3_server_trace_in(h.s, script, len, &k);

		n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%.*s",
				      n ? "|" : "", (int)k, t);
		act(&h, pop3_server_feed(h.s, script, len, h.out));
		script += len;
	}
	assert_string_equal(got, want);
	h_free(&h);
}

static void
test_trace_masking(void **st)
{
	(void)st;
	trace_of("USER alice\r\npass wrong\r\nAUTH PLAIN\r\n"
		 "YWxpY2UAYWxpY2UAd3Jvbmc=\r\nAUTH PLAIN\r\n*\r\n"
		 "auth plain YWxpY2UAYWxpY2UAc2VjcmV0\r\nSTAT\r\n",
		 "USER alice\r\n|PASS ****|AUTH PLAIN\r\n|****|"
		 "AUTH PLAIN\r\n|****|AUTH PLAIN ****|STAT\r\n");
	/* a PASS is masked in any state; an unknown mechanism is shown */
	trace_of("AUTH LOGIN x\r\nPASS \r\nAUTH PLAIN \r\nQUIT\r\n",
		 "AUTH LOGIN x\r\n|PASS ****|AUTH PLAIN ****|QUIT\r\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_authorization_state),
		cmocka_unit_test(test_transaction_state),
		cmocka_unit_test(test_listing_streamed),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_update),
		cmocka_unit_test(test_login_results),
		cmocka_unit_test(test_auth_plain),
		cmocka_unit_test(test_name_and_secret_limits),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_line_without_end),
		cmocka_unit_test(test_shutdown_timeout),
		cmocka_unit_test(test_stuff),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_stls),
		cmocka_unit_test(test_trace_masking),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
