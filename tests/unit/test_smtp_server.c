/*
 * Unit tests of the SMTP core.  Each dialog is fed three ways through the
 * LF framer the daemon uses (net/framer): the whole script at once, one byte
 * at a time, and in 7-byte chunks; the replies must be identical.  Actions
 * are answered by a scripted glue: users alice and bob at example.org.
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
#include "proto/smtp_server.h"
#include "proto/wire.h"

struct h {
	struct smtp_conf conf;
	struct smtp_server *s;
	struct buf *out;
	struct buf *line;	/* partial line being framed */
	struct buf *data;	/* message lines as the glue stores them */
	struct buf *msgs;	/* committed messages, separated by "\x01" */
	int commits;
	int auth_checks;
	struct framer fr;	/* net/framer, as conn.c uses it */
	bool closed;
	int starttls;
	bool switched;		/* STARTTLS: the rest of this input is dropped */
};

/* smtp.bare_newline and smtp.vrfy of the next sessions (tests reset them) */
static enum smtp_bare_newline opt_bare = SMTP_BARE_NORMALIZE;
static bool opt_vrfy;

static void
h_init(struct h *h, size_t max_size, unsigned max_rcpts)
{
	memset(h, 0, sizeof(*h));
	h->conf = (struct smtp_conf){.hostname = "mx.example.org",
				     .max_size = max_size,
				     .max_rcpts = max_rcpts,
				     .max_errors = 10,
				     .max_line = 1000,
				     .bare_newline = opt_bare,
				     .vrfy = opt_vrfy};
	h->s = smtp_server_new(&h->conf);
	smtp_server_plain_auth(h->s, true); /* test_starttls says no */
	h->out = buf_new(1 << 20);
	h->line = buf_new(1 << 20);
	h->data = buf_new(1 << 20);
	h->msgs = buf_new(1 << 20);
	smtp_server_greet(h->s, h->out);
}

static void
h_free(struct h *h)
{
	smtp_server_free(&h->s);
	buf_free(&h->out);
	buf_free(&h->line);
	buf_free(&h->data);
	buf_free(&h->msgs);
}

static enum smtp_result
lookup(const struct addr *a)
{
	const char *dom = a->domain[0] ? a->domain : "example.org";

	if (strcasecmp(dom, "example.org") != 0)
		return SMTP_R_RELAY_DENIED;
	if (strcmp(a->local, "alice") == 0 || strcmp(a->local, "bob") == 0 ||
	    strcmp(a->local, "postmaster") == 0)
		return SMTP_R_OK;
	return SMTP_R_NOUSER;
}

static void
act(struct h *h, enum smtp_act a)
{
	const struct smtp_req *r = smtp_server_req(h->s);

	switch (a) {
	case SMTP_ACT_MAIL:
		act(h, smtp_server_done(h->s, SMTP_R_OK, NULL, h->out));
		break;
	case SMTP_ACT_RCPT:
	case SMTP_ACT_VRFY:
		act(h, smtp_server_done(h->s, lookup(&r->addr), NULL, h->out));
		break;
	case SMTP_ACT_AUTH:
		h->auth_checks++;
		act(h, smtp_server_done(h->s,
					strcmp(r->user, "alice@example.org") == 0 &&
							strcmp(r->pass, "secret") == 0
						? SMTP_R_OK
						: SMTP_R_NOUSER,
					NULL, h->out));
		break;
	case SMTP_ACT_DATA_START:
		buf_reset(h->data);
		break;
	case SMTP_ACT_DATA:
		buf_add(h->data, r->data, r->len);
		buf_addc(h->data, '\n');
		break;
	case SMTP_ACT_COMMIT:
		h->commits++;
		buf_add(h->msgs, h->data->data, h->data->len);
		buf_addc(h->msgs, '\x01');
		act(h, smtp_server_done(h->s, SMTP_R_OK, "ID1", h->out));
		break;
	case SMTP_ACT_DATA_ABORT:
		buf_reset(h->data);
		break;
	case SMTP_ACT_CLOSE:
		h->closed = true;
		break;
	case SMTP_ACT_STARTTLS:
		h->starttls++;
		h->switched = true;
		break;
	case SMTP_ACT_NONE:
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
				    smtp_server_max_line(h->s), &len)) {
		case FRAMER_MORE:
			continue;
		case FRAMER_LINE:
			act(h, smtp_server_feed(h->s, h->line->data, len,
						 h->out));
			break;
		case FRAMER_TOOLONG:
			act(h, smtp_server_toolong(h->s, h->out));
			break;
		case FRAMER_DROP: {
			bool crlf;

			if (framer_dropped(&h->fr) >
			    smtp_server_max_drop(h->s)) {
				smtp_server_endless(h->s, h->out);
				h->closed = true;
			} else if (framer_dropped_end(&h->fr, &crlf)) {
				smtp_server_toolong_end(h->s, crlf);
			}
			break;
		}
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

/* Runs script three ways; returns the replies (caller frees). */
static char *
run3(const char *script, size_t len, size_t max_size, unsigned max_rcpts,
     char **msgs_r)
{
	static const size_t chunks[] = {0, 1, 7};
	char *first = NULL, *first_msgs = NULL;

	for (size_t c = 0; c < 3; c++) {
		struct h h;
		size_t step = chunks[c] ? chunks[c] : len;

		h_init(&h, max_size, max_rcpts);
		for (size_t i = 0; i < len; i += step)
			h_bytes(&h, script + i, len - i < step ? len - i : step);
		if (first == NULL) {
			first = strdup(h.out->data);
			first_msgs = malloc(h.msgs->len + 1);
			memcpy(first_msgs, h.msgs->data, h.msgs->len + 1);
		} else {
			assert_string_equal(first, h.out->data);
			assert_memory_equal(first_msgs, h.msgs->data,
					    h.msgs->len);
		}
		h_free(&h);
	}
	if (msgs_r)
		*msgs_r = first_msgs;
	else
		free(first_msgs);
	return first;
}

/* The final reply codes ("250 " lines), space separated. */
static void
codes(const char *out, char *res, size_t size)
{
	size_t n = 0;
	const char *p = out;

	res[0] = '\0';
	while (*p) {
		const char *nl = strchr(p, '\n');

		if (strlen(p) >= 4 && p[3] == ' ' && n + 5 < size) {
			if (n)
				res[n++] = ' ';
			memcpy(res + n, p, 3);
			n += 3;
			res[n] = '\0';
		}
		if (!nl)
			break;
		p = nl + 1;
	}
}

static void
dialog(const char *script, const char *want, const char *want_msgs)
{
	char got[4096], *msgs, *out;

	out = run3(script, strlen(script), 10000, 5, &msgs);
	codes(out, got, sizeof(got));
	if (strcmp(got, want) != 0)
		fail_msg("want codes: %s\ngot codes:  %s\n%.300s",
			 want, got, out);
	if (want_msgs != NULL)
		assert_string_equal(msgs, want_msgs);
	free(out);
	free(msgs);
}

#define HELLO "EHLO client.example.net\r\n"
#define ENV "MAIL FROM:<x@example.net>\r\nRCPT TO:<alice@example.org>\r\n"

static void
test_basic(void **st)
{
	(void)st;
	dialog(HELLO ENV "DATA\r\nSubject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n",
	       "220 250 250 250 354 250 221", "Subject: hi\n\nbody\n\x01");
}

static void
test_ehlo_lists_extensions(void **st)
{
	char *out;

	(void)st;
	out = run3(HELLO, strlen(HELLO), 12345, 5, NULL);
	assert_non_null(strstr(out, "220 mx.example.org ESMTP owlpost\r\n"));
	assert_non_null(strstr(out, "250-mx.example.org\r\n"));
	assert_non_null(strstr(out, "250-PIPELINING\r\n"));
	assert_non_null(strstr(out, "250-SIZE 12345\r\n"));
	assert_non_null(strstr(out, "250-8BITMIME\r\n"));
	assert_non_null(strstr(out, "250-ENHANCEDSTATUSCODES\r\n"));
	assert_non_null(strstr(out, "250 HELP\r\n"));
	free(out);
	dialog("HELO client\r\n", "220 250", NULL);
	dialog("ehlo client\r\nmail from:<a@b.c>\r\nrcpt to:<ALICE@EXAMPLE.ORG>"
	       "\r\n", "220 250 250 550", NULL); /* local part is exact */
}

static void
test_sequence(void **st)
{
	(void)st;
	dialog("MAIL FROM:<a@b.c>\r\n", "220 503", NULL);
	dialog("RCPT TO:<alice@example.org>\r\n", "220 503", NULL);
	dialog("DATA\r\n", "220 503", NULL);
	dialog(HELLO "RCPT TO:<alice@example.org>\r\n", "220 250 503", NULL);
	dialog(HELLO "DATA\r\n", "220 250 503", NULL);
	dialog(HELLO "MAIL FROM:<a@b.c>\r\nDATA\r\n", "220 250 250 554",
	       NULL);
	dialog(HELLO "MAIL FROM:<a@b.c>\r\nMAIL FROM:<a@b.c>\r\n",
	       "220 250 250 503", NULL);
	/* RSET ends the transaction but keeps HELO */
	dialog(HELLO ENV "RSET\r\nRCPT TO:<alice@example.org>\r\n"
	       "MAIL FROM:<>\r\n", "220 250 250 250 250 503 250", NULL);
	/* EHLO again resets too */
	dialog(HELLO ENV HELLO "DATA\r\n", "220 250 250 250 250 503", NULL);
}

static void
test_simple_commands(void **st)
{
	(void)st;
	dialog("NOOP\r\nNOOP anything\r\nHELP\r\nRSET\r\nQUIT\r\n",
	       "220 250 250 214 250 221", NULL);
	dialog("EXPN list\r\nSOML FROM:<a@b>\r\nSAML FROM:<a@b>\r\n"
	       "SEND FROM:<a@b>\r\nTURN\r\n", "220 502 502 502 502 502", NULL);
	dialog("FOO\r\n\r\nMAILX\r\n", "220 500 500 500", NULL);
	/* smtp.vrfy = no (the default): 252 for all, users or not */
	dialog("VRFY alice\r\nVRFY <bob@example.org>\r\nVRFY carol\r\n"
	       "VRFY someone@elsewhere.net\r\nVRFY\r\nVRFY a b\r\n",
	       "220 252 252 252 252 501 501", NULL);
	opt_vrfy = true;
	dialog("VRFY alice\r\nVRFY <bob@example.org>\r\nVRFY carol\r\n"
	       "VRFY someone@elsewhere.net\r\nVRFY\r\n",
	       "220 250 250 550 550 501", NULL);
	opt_vrfy = false;
	dialog("RSET x\r\nQUIT now\r\nDATA x\r\n", "220 501 501 501", NULL);
}

static void
test_syntax(void **st)
{
	(void)st;
	dialog("HELO\r\nEHLO\r\nEHLO a\rb\r\n", "220 501 501 501", NULL);
	dialog(HELLO "MAIL FROM:a@b.c\r\n", "220 250 501", NULL);
	dialog(HELLO "MAIL TO:<a@b.c>\r\n", "220 250 501", NULL);
	dialog(HELLO "MAIL FROM:<a@b.c> FOO=1\r\n", "220 250 555", NULL);
	dialog(HELLO "MAIL FROM:<a@b.c> SIZE=99999\r\n", "220 250 552", NULL);
	dialog(HELLO "MAIL FROM:<a@b.c> SIZE=12x\r\n", "220 250 501", NULL);
	dialog(HELLO "MAIL FROM:<a@b.c> SIZE=100 BODY=8BITMIME\r\n",
	       "220 250 250", NULL);
	dialog(HELLO "MAIL FROM:<a@b.c> BODY=BINARYMIME\r\n", "220 250 501",
	       NULL);
	dialog(HELLO "MAIL FROM: <a@b.c>\r\n", "220 250 250", NULL);
	dialog(HELLO "MAIL FROM:<a@b.c>\r\nRCPT TO:<alice@example.org> "
	       "NOTIFY=NEVER\r\n", "220 250 250 555", NULL);
	dialog(HELLO "MAIL FROM:<a@b.c>\r\nRCPT TO:<>\r\n", "220 250 250 501",
	       NULL);
	dialog(HELLO "MAIL FROM:<a@@b.c>\r\n", "220 250 501", NULL);
	dialog(HELLO "MAIL FROM:<a\xc3\xa9@b.c>\r\n", "220 250 501", NULL);
}

static void
test_rcpt_results(void **st)
{
	char *out;
	const char *s = HELLO "MAIL FROM:<a@b.c>\r\nRCPT TO:<carol@example.org>"
			      "\r\nRCPT TO:<x@other.net>\r\nRCPT TO:<postmaster>"
			      "\r\n";

	(void)st;
	out = run3(s, strlen(s), 1000, 5, NULL);
	assert_non_null(strstr(out, "550 5.1.1 <carol@example.org>"));
	assert_non_null(strstr(out, "550 5.7.1 <x@other.net>: Relay access"));
	assert_non_null(strstr(out, "250 2.1.5 Ok"));
	free(out);
}

static void
test_too_many_recipients(void **st)
{
	(void)st;
	/* max_rcpts is 5 in dialog() */
	dialog(HELLO "MAIL FROM:<a@b.c>\r\n"
	       "RCPT TO:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\n"
	       "RCPT TO:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\n"
	       "RCPT TO:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\n"
	       "DATA\r\nx\r\n.\r\n",
	       "220 250 250 250 250 250 250 250 452 354 250", NULL);
}

static void
test_size_limit(void **st)
{
	char script[30000];
	size_t n;

	(void)st;
	n = (size_t)snprintf(script, sizeof(script), "%s%sDATA\r\n", HELLO,
			     ENV);
	for (int i = 0; i < 200; i++)
		n += (size_t)snprintf(script + n, sizeof(script) - n,
				      "%098d\r\n", i); /* 100 octets each */
	n += (size_t)snprintf(script + n, sizeof(script) - n,
			      ".\r\n%sDATA\r\nsmall\r\n.\r\n", ENV);
	/* 20,000 > 10,000: 552, nothing committed; the next one is fine */
	dialog(script, "220 250 250 250 354 552 250 250 354 250",
	       "small\n\x01");
}

/* head, fill octets of 'x', then tail: a script on the heap. */
static char *
long_script(const char *head, size_t fill, const char *tail)
{
	size_t hl = strlen(head), tl = strlen(tail);
	char *s = malloc(hl + fill + tl + 1);

	assert_non_null(s);
	memcpy(s, head, hl);
	memset(s + hl, 'x', fill);
	memcpy(s + hl + fill, tail, tl + 1);
	return s;
}

/*
 * A line without end (conn.c's bound, as h_frame runs it): in DATA past
 * max_size (10000 here) a 552 and the end; a command line WIRE_DROP_MAX
 * past its limit a 421; one that ends within the bound keeps the session.
 */
static void
test_line_without_end(void **st)
{
	char *script;

	(void)st;
	script = long_script(HELLO ENV "DATA\r\n", 30000, "");
	dialog(script, "220 250 250 250 354 552", "");
	free(script);
	script = long_script("NOOP ", WIRE_DROP_MAX + 600, "\r\nNOOP\r\n");
	dialog(script, "220 500 421", "");
	free(script);
	script = long_script("NOOP ", WIRE_DROP_MAX, "\r\nNOOP\r\n");
	dialog(script, "220 500 250", "");
	free(script);
}

static void
test_line_limits(void **st)
{
	char script[4000];
	int n;

	(void)st;
	/* 512 octets with CRLF is the longest command line */
	n = snprintf(script, sizeof(script), "NOOP %0505d\r\nNOOP %0506d\r\n"
		     "QUIT\r\n", 1, 1);
	assert_int_equal(n, 512 + 513 + 6);
	dialog(script, "220 250 500 221", NULL);
	/* a DATA line over max_line (1000): the message is refused */
	n = snprintf(script, sizeof(script), HELLO ENV "DATA\r\n%01500d\r\n"
		     ".\r\nNOOP\r\n", 7);
	dialog(script, "220 250 250 250 354 552 250", "");
	/*
	 * One ended by a bare LF: the "." line after it is text, not the end
	 * (only CR LF "." CR LF ends DATA), so what follows is not read as
	 * commands; the real end comes later.
	 */
	n = snprintf(script, sizeof(script), HELLO ENV "DATA\r\n%01500d\n"
		     ".\r\nRSET\r\n.\r\nNOOP\r\n", 7);
	dialog(script, "220 250 250 250 354 552 250", "");
	/* CR LF split between the kept head (1000 octets) and the rest */
	n = snprintf(script, sizeof(script), HELLO ENV "DATA\r\n%0999d\r\n"
		     ".\r\nNOOP\r\n", 7);
	dialog(script, "220 250 250 250 354 552 250", "");
	n = snprintf(script, sizeof(script), HELLO ENV "DATA\r\n%01000d\n"
		     ".\r\nRSET\r\n.\r\nNOOP\r\n", 7);
	dialog(script, "220 250 250 250 354 552 250", "");
}

static void
test_dot_stuffing(void **st)
{
	(void)st;
	dialog(HELLO ENV "DATA\r\n..\r\n...x\r\n.y\r\n. \r\n.\r\n",
	       "220 250 250 250 354 250", ".\n..x\ny\n \n\x01");
	/* an empty message */
	dialog(HELLO ENV "DATA\r\n.\r\n", "220 250 250 250 354 250", "\x01");
}

static void
test_smuggling(void **st)
{
	static const char *seps[] = {"\n.\n", "\n.\r\n", "\r\n.\n",
				     "\r.\r\n", "\r\n.\r"};
	char script[1000];

	(void)st;
	for (size_t i = 0; i < sizeof(seps) / sizeof(*seps); i++) {
		snprintf(script, sizeof(script),
			 HELLO ENV "DATA\r\nhello%sMAIL FROM:<evil@x.y>\r\n"
			 "RCPT TO:<bob@example.org>\r\nDATA\r\nsmuggled\r\n"
			 ".\r\nQUIT\r\n", seps[i]);
		/* one message; the smuggled commands are its text */
		dialog(script, "220 250 250 250 354 250 221", NULL);
	}
}

static void
test_nul_and_bare_cr(void **st)
{
	static const char s1[] = HELLO "NO\0OP\r\n";
	static const char s2[] = HELLO ENV "DATA\r\na\0b\r\nc\rd\r\n.\r\n";
	char *out, *msgs;

	(void)st;
	out = run3(s1, sizeof(s1) - 1, 1000, 5, NULL);
	assert_non_null(strstr(out, "501 5.5.2"));
	free(out);
	out = run3(s2, sizeof(s2) - 1, 1000, 5, &msgs);
	assert_non_null(strstr(out, "250 2.0.0 Ok: queued as ID1"));
	/* smtp.bare_newline = normalize: the bare CR is stored as a space */
	assert_memory_equal(msgs, "a\0b\nc d\n\x01", 10);
	free(out);
	free(msgs);
	/* bare CR inside MAIL cannot smuggle a header through the path */
	dialog(HELLO "MAIL FROM:<a@b.c>\rX-Evil: 1\r\n", "220 250 501", NULL);
}

static void
test_bare_lf_commands(void **st)
{
	(void)st;
	dialog("EHLO x\nMAIL FROM:<a@b.c>\nRCPT TO:<bob@example.org>\nDATA\n"
	       "line\r\n.\r\n", "220 250 250 250 354 250", "line\n\x01");
	/* after a bare-LF line, CRLF . CRLF is still text: no smuggling */
	dialog(HELLO ENV "DATA\r\nx\n.\r\ny\r\n.\r\n", "220 250 250 250 354 250",
	       "x\n.\ny\n\x01");
}

static void
test_bare_newline_normalize(void **st)
{
	(void)st;
	/* the smuggling sequence: one line, its CRs made spaces */
	dialog(HELLO ENV "DATA\r\nhello\r.\rMAIL FROM:<evil@x.y>\r\n.\r\n",
	       "220 250 250 250 354 250", "hello . MAIL FROM:<evil@x.y>\n\x01");
	/* a lone dot on a bare-LF line is text, and kept */
	dialog(HELLO ENV "DATA\r\nhello\n.\nworld\r\n.\r\n",
	       "220 250 250 250 354 250", "hello\n.\nworld\n\x01");
	dialog(HELLO ENV "DATA\r\nhello\r\n.\nworld\r\n.\r\n",
	       "220 250 250 250 354 250", "hello\n.\nworld\n\x01");
	/* a bare LF is a line end: the next line is unstuffed */
	dialog(HELLO ENV "DATA\r\na\n..b\n.c\r\n.\r\n",
	       "220 250 250 250 354 250", "a\n.b\nc\n\x01");
	/* CRs at line starts and ends, and a CR before CRLF */
	dialog(HELLO ENV "DATA\r\n\r.\r\nx\r\r\n.\r\r\n.\r\n",
	       "220 250 250 250 354 250", " .\nx \n \n\x01");
}

static void
test_bare_newline_reject(void **st)
{
	static const char *seps[] = {"\n.\n", "\n.\r\n", "\r\n.\n",
				     "\r.\r\n", "\r\n.\r", "\r.\r"};
	char script[1000], *out, *msgs;
	size_t n;

	(void)st;
	opt_bare = SMTP_BARE_REJECT;
	for (size_t i = 0; i < sizeof(seps) / sizeof(*seps); i++) {
		/* 550 after the end, none in the middle; nothing stored */
		snprintf(script, sizeof(script),
			 HELLO ENV "DATA\r\nhello%sMAIL FROM:<evil@x.y>\r\n"
			 "RCPT TO:<bob@example.org>\r\nDATA\r\nsmuggled\r\n"
			 ".\r\n" ENV "DATA\r\nclean\r\n.\r\nQUIT\r\n",
			 seps[i]);
		dialog(script, "220 250 250 250 354 550 250 250 354 250 221",
		       "clean\n\x01");
	}
	n = (size_t)snprintf(script, sizeof(script), HELLO ENV
			     "DATA\r\nok\r\nbare\nlf\r\n.\r\n");
	out = run3(script, n, 1000, 5, &msgs);
	assert_non_null(strstr(out, "\r\n550 5.5.2 Error: bare <LF> "
				    "received\r\n"));
	assert_string_equal(msgs, "");
	free(out);
	free(msgs);
	n = (size_t)snprintf(script, sizeof(script), HELLO ENV
			     "DATA\r\nbare\rcr\r\nand\nlf\r\n.\r\n");
	out = run3(script, n, 1000, 5, NULL);
	assert_non_null(strstr(out, "550 5.5.2 Error: bare <CR> received"));
	free(out);
	/* a clean message, dots and all, is not touched */
	dialog(HELLO ENV "DATA\r\n..\r\n.x\r\nend\r\n.\r\n",
	       "220 250 250 250 354 250", ".\nx\nend\n\x01");
	opt_bare = SMTP_BARE_NORMALIZE;
}

static void
test_too_many_errors(void **st)
{
	struct h h;

	(void)st;
	h_init(&h, 1000, 5);
	for (int i = 0; i < 20 && !h.closed; i++)
		h_bytes(&h, "BOGUS\r\n", 7);
	assert_true(h.closed);
	assert_non_null(strstr(h.out->data, "421 4.7.0 mx.example.org"));
	h_free(&h);
}

static void
test_enhanced_codes(void **st)
{
	char *out;
	const char *p;
	const char *s = HELLO ENV "RCPT TO:<zz@example.org>\r\nVRFY bob\r\n"
			"DATA\r\nx\r\n.\r\nNOOP\r\nRSET\r\nFOO\r\nHELP\r\n"
			"EXPN x\r\nQUIT\r\n";

	(void)st;
	out = run3(s, strlen(s), 1000, 5, NULL);
	for (p = out; *p; p = strchr(p, '\n') + 1) {
		if (strncmp(p, "220 ", 4) == 0 || strncmp(p, "250-", 4) == 0 ||
		    strncmp(p, "354 ", 4) == 0)
			continue;
		if (strncmp(p, "250 mx", 6) == 0 || strncmp(p, "250 HELP", 8) == 0)
			continue;
		assert_true(p[4] == p[0] && p[5] == '.');
	}
	free(out);
}

static void
test_shutdown_and_timeout(void **st)
{
	struct h h;

	(void)st;
	h_init(&h, 1000, 5);
	smtp_server_shutdown(h.s, h.out);
	assert_non_null(strstr(h.out->data,
			       "421 4.3.2 mx.example.org Service shutting "
			       "down\r\n"));
	/* nothing more is accepted */
	assert_int_equal(smtp_server_feed(h.s, "NOOP\r\n", 6, h.out),
			 SMTP_ACT_NONE);
	h_free(&h);
	h_init(&h, 1000, 5);
	smtp_server_timeout(h.s, h.out);
	assert_non_null(strstr(h.out->data, "421 4.4.2"));
	h_free(&h);
}

static void
test_temp_failures(void **st)
{
	struct h h;
	const char *s = HELLO ENV "DATA\r\nx\r\n.\r\n";
	enum smtp_act a;
	size_t i, start = 0;

	(void)st;
	h_init(&h, 1000, 5);
	/* feed by hand so the commit can be failed */
	for (i = 0; s[i]; i++) {
		if (s[i] != '\n')
			continue;
		a = smtp_server_feed(h.s, s + start, i + 1 - start, h.out);
		start = i + 1;
		if (a == SMTP_ACT_COMMIT) {
			assert_true(smtp_server_pending(h.s));
			smtp_server_done(h.s, SMTP_R_NOSPACE, NULL, h.out);
		} else if (a != SMTP_ACT_DATA && a != SMTP_ACT_DATA_START &&
			   a != SMTP_ACT_NONE) {
			smtp_server_done(h.s, SMTP_R_OK, NULL, h.out);
		}
	}
	assert_non_null(strstr(h.out->data, "452 4.3.1"));
	/* the transaction is over: RCPT needs a new MAIL */
	smtp_server_feed(h.s, "RCPT TO:<bob@example.org>\r\n", 27, h.out);
	assert_non_null(strstr(h.out->data, "503 5.5.1"));
	h_free(&h);
}

/* AUTH on a submission core: PLAIN, LOGIN, every refusal, the limit. */
static void
test_auth(void **st)
{
	/* "\0alice@example.org\0secret", "alice@example.org", "secret" */
	static const char script[] =
		"MAIL FROM:<a@example.org>\r\n"	/* 503: no EHLO */
		"AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==\r\n"
		"EHLO c\r\n"
		"MAIL FROM:<a@example.org>\r\n"	/* 530 */
		"AUTH\r\n"				/* 501 */
		"AUTH CRAM-MD5\r\n"			/* 504 */
		"AUTH PLAIN !!!!\r\n"			/* 501 base64 */
		"AUTH LOGIN\r\n*\r\n"			/* 334, 501 cancelled */
		"AUTH PLAIN\r\nAGFsaWNlQGV4YW1wbGUub3JnAHdyb25n\r\n" /* 535 */
		"AUTH LOGIN YWxpY2VAZXhhbXBsZS5vcmc=\r\nc2VjcmV0\r\n" /* 235 */
		"AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==\r\n" /* 503 */
		"MAIL FROM:<a@example.org> AUTH=<>\r\n"	/* 250 */
		"QUIT\r\n";
	static const char *want[] = {
		"220 ", "503 5.5.1", "503 5.5.1", "250-mx.example.org",
		"250-AUTH PLAIN LOGIN", "530 5.7.0", "501 5.5.4", "504 5.5.4",
		"501 5.5.2", "334 VXNlcm5hbWU6", "501 5.0.0", "334 ",
		"535 5.7.8", "334 UGFzc3dvcmQ6", "235 2.7.0", "503 5.5.1",
		"250 2.1.0", "221 ",
	};
	struct h h;
	const char *p;
	struct smtp_txn t;

	(void)st;
	h_init(&h, 1000, 10);
	h.conf.auth = true;
	h.conf.max_auth_failures = 3;
	h_bytes(&h, script, sizeof(script) - 1);
	p = h.out->data;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		p = strstr(p, want[i]);
		if (p == NULL)
			fail_msg("no %s in order in:\n%s", want[i], h.out->data);
		p += strlen(want[i]);
	}
	smtp_server_txn(h.s, &t);
	assert_string_equal(t.user, "alice@example.org");
	h_free(&h);

	/* the failure limit; an authzid that differs is refused */
	h_init(&h, 1000, 10);
	h.conf.auth = true;
	h.conf.max_auth_failures = 2;
	h_bytes(&h, "EHLO c\r\n"
		    "AUTH PLAIN Ym9iAGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==\r\n"
		    "AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHdyb25n\r\n"
		    "NOOP\r\n", 112);
	assert_non_null(strstr(h.out->data, "535 5.7.8"));
	assert_non_null(strstr(h.out->data, "421 4.7.0"));
	assert_null(strstr(h.out->data, "250 2.0.0"));
	assert_true(h.closed);
	h_free(&h);

	/* without conf.auth: not offered, not implemented */
	h_init(&h, 1000, 10);
	h_bytes(&h, "EHLO c\r\nAUTH PLAIN AGFAYgBj\r\n", 29);
	assert_null(strstr(h.out->data, "AUTH"));
	assert_non_null(strstr(h.out->data, "502 5.5.1"));
	h_free(&h);
}

/* Checks that want[] occur in out, in order. */
static void
in_order(const char *out, const char *const *want, size_t n)
{
	const char *p = out;

	for (size_t i = 0; i < n; i++) {
		p = strstr(p, want[i]);
		if (p == NULL)
			fail_msg("no %s in order in:\n%s", want[i], out);
		p += strlen(want[i]);
	}
}

/*
 * STARTTLS (RFC 3207): offered until secure, AUTH only under TLS, the
 * session forgotten at the switch, never twice.
 */
static void
test_starttls(void **st)
{
	static const char plain_part[] =
		"STARTTLS\r\n"				/* 503: no EHLO */
		"EHLO c\r\n"
		"AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==\r\n" /* 538 */
		"MAIL FROM:<a@example.org>\r\n"	/* 530 STARTTLS first */
		"STARTTLS now\r\n"			/* 501 */
		"STARTTLS\r\n"				/* 220 */
		"RSET\r\n";				/* dropped */
	static const char tls_part[] =
		"MAIL FROM:<a@example.org>\r\n"	/* 503: EHLO again */
		"EHLO c\r\n"
		"STARTTLS\r\n"				/* 503 already */
		"AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==\r\n" /* 235 */
		"MAIL FROM:<alice@example.org>\r\n";	/* 250 */
	static const char *want_plain[] = {
		"220 mx", "503 5.5.1", "250-STARTTLS", "250 HELP", "538 5.7.11",
		"530 5.7.0 Must issue a STARTTLS", "501 5.5.4",
		"220 2.0.0 Ready to start TLS\r\n",
	};
	static const char *want_tls[] = {
		"503 5.5.1 Error: send HELO", "250-AUTH PLAIN LOGIN",
		"503 5.5.1 Error: TLS already active", "235 2.7.0",
		"250 2.1.0",
	};
	struct h h;
	struct smtp_txn t;
	const char *ehlo2;

	(void)st;
	h_init(&h, 1000, 10);
	h.conf.auth = true;
	h.conf.starttls = true;
	h.conf.max_auth_failures = 3;
	smtp_server_plain_auth(h.s, false);
	h_bytes(&h, plain_part, sizeof(plain_part) - 1);
	assert_int_equal(h.starttls, 1);
	in_order(h.out->data, want_plain, 8);
	/* nothing after the 220: RSET was never read */
	assert_non_null(strstr(h.out->data, "TLS\r\n"));
	assert_string_equal(strstr(h.out->data, "220 2.0.0"),
			    "220 2.0.0 Ready to start TLS\r\n");
	assert_null(strstr(h.out->data, "AUTH PLAIN LOGIN"));
	smtp_server_txn(h.s, &t);
	assert_true(t.tls);
	assert_string_equal(t.helo, "");
	buf_reset(h.out);
	h_bytes(&h, tls_part, sizeof(tls_part) - 1);
	in_order(h.out->data, want_tls, 5);
	ehlo2 = strstr(h.out->data, "250-mx");
	assert_non_null(ehlo2);
	assert_null(strstr(ehlo2, "STARTTLS\r\n250"));
	assert_null(strstr(h.out->data, "250-STARTTLS"));
	assert_int_equal(h.starttls, 1);
	smtp_server_txn(h.s, &t);
	assert_string_equal(t.user, "alice@example.org");
	h_free(&h);

	/* inbound: offered without AUTH; not inside a transaction */
	h_init(&h, 1000, 10);
	h.conf.starttls = true;
	{
		static const char sc[] = "EHLO c\r\nMAIL FROM:<a@b.example>\r\n"
					 "STARTTLS\r\nRSET\r\nSTARTTLS\r\n";

		h_bytes(&h, sc, sizeof(sc) - 1);
	}
	{
		static const char *w[] = {"250-STARTTLS", "250 2.1.0",
					  "503 5.5.1 Error: MAIL", "250 2.0.0",
					  "220 2.0.0"};

		in_order(h.out->data, w, 5);
	}
	assert_null(strstr(h.out->data, "AUTH"));
	assert_int_equal(h.starttls, 1);
	h_free(&h);

	/* no certificate: neither offered nor accepted */
	h_init(&h, 1000, 10);
	h_bytes(&h, "EHLO c\r\nSTARTTLS\r\n", 18);
	assert_null(strstr(h.out->data, "250-STARTTLS"));
	assert_non_null(strstr(h.out->data, "502 5.5.1"));
	assert_int_equal(h.starttls, 0);
	h_free(&h);

	/* implicit TLS: secure from the start, AUTH offered, no STARTTLS */
	h_init(&h, 1000, 10);
	h.conf.auth = true;
	h.conf.starttls = true;
	smtp_server_plain_auth(h.s, false);
	smtp_server_secure(h.s);
	h_bytes(&h, "EHLO c\r\n", 8);
	assert_null(strstr(h.out->data, "250-STARTTLS"));
	assert_non_null(strstr(h.out->data, "250-AUTH PLAIN LOGIN"));
	h_free(&h);
}

/* PLAIN's "\0user\0pass" in base64 into out. */
static void
plain(char *out, size_t size, size_t ulen, size_t plen)
{
	char raw[2048];
	size_t n = 0;

	raw[n++] = '\0';
	memset(raw + n, 'u', ulen);
	n += ulen;
	raw[n++] = '\0';
	memset(raw + n, 'p', plen);
	n += plen;
	assert_int_equal(b64_encode(raw, n, out, size), 0);
}

/* SMTP_USER_MAX, SMTP_PASS_MAX and SMTP_AUTH_LINE_MAX, each at the edge. */
static void
test_auth_limits(void **st)
{
	static const struct {
		size_t ulen, plen;
		bool checked;	/* reaches the password check */
	} cases[] = {
		{SMTP_USER_MAX, SMTP_PASS_MAX, true},
		{SMTP_USER_MAX + 1, 1, false},
		{1, SMTP_PASS_MAX + 1, false},
	};
	char b64[4096], line[4200];
	struct h h;

	(void)st;
	for (size_t i = 0; i < 3; i++) {
		h_init(&h, 1000, 10);
		h.conf.auth = true;
		h.conf.max_auth_failures = 5;
		plain(b64, sizeof(b64), cases[i].ulen, cases[i].plen);
		snprintf(line, sizeof(line), "EHLO c\r\nAUTH PLAIN %s\r\n", b64);
		h_bytes(&h, line, strlen(line));
		/* refused either way (not alice), but only the first is checked */
		assert_non_null(strstr(h.out->data, "535 5.7.8"));
		assert_int_equal(h.auth_checks, cases[i].checked ? 1 : 0);
		h_free(&h);
	}
	/* an AUTH line of SMTP_AUTH_LINE_MAX octets is read; one more is not */
	for (size_t extra = 0; extra < 2; extra++) {
		size_t n = SMTP_AUTH_LINE_MAX - strlen("AUTH PLAIN \r\n") +
			   extra;

		h_init(&h, 1000, 10);
		h.conf.auth = true;
		h.conf.max_auth_failures = 5;
		h_bytes(&h, "EHLO c\r\n", 8);
		memcpy(line, "AUTH PLAIN ", 11);
		memset(line + 11, 'A', n);
		memcpy(line + 11 + n, "\r\n", 2);
		h_bytes(&h, line, 11 + n + 2);
		assert_non_null(strstr(h.out->data, extra ? "500 5.5.6"
							  : "501 5.5.2"));
		h_free(&h);
	}
	/*
	 * a response line too long ends the AUTH with its 500: the next line
	 * is a command again, not a response (it was taken as one: NOOP
	 * became a user name, the client's next command the password)
	 */
	h_init(&h, 1000, 10);
	h.conf.auth = true;
	h.conf.max_auth_failures = 5;
	h_bytes(&h, "EHLO c\r\nAUTH LOGIN\r\n", 20);
	memset(line, 'A', SMTP_AUTH_LINE_MAX + 10);
	memcpy(line + SMTP_AUTH_LINE_MAX + 10, "\r\nNOOP\r\n", 8);
	buf_reset(h.out);
	h_bytes(&h, line, SMTP_AUTH_LINE_MAX + 18);
	assert_string_equal(h.out->data, "500 5.5.6 Error: line too long\r\n"
					 "250 2.0.0 Ok\r\n");
	h_free(&h);
	/* the inbound core keeps the 512-octet command limit */
	h_init(&h, 1000, 10);
	memset(line, 'A', 600);
	memcpy(line, "NOOP ", 5);
	memcpy(line + 598, "\r\n", 3);
	h_bytes(&h, line, 600);
	assert_non_null(strstr(h.out->data, "500 5.5.6"));
	h_free(&h);
}

/*
 * The trace: each line as the core says it may be shown, asked before the
 * line is fed; "|" between lines, "-" for a line not traced.
 */
static void
trace_of(const char *script, const char *want)
{
	char got[1024];
	size_t n = 0;
	struct h h;

	h_init(&h, 10000, 5);
	h.conf.auth = true;
	h.conf.max_auth_failures = 3;
	while (*script != '\0') {
		size_t len = strcspn(script, "\n") + 1, k;
		const char *t = smtp_server_trace_in(h.s, script, len, &k);

		if (t == NULL) {
			t = "-";
			k = 1;
		}
		n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%.*s",
				      n ? "|" : "", (int)k, t);
		act(&h, smtp_server_feed(h.s, script, len, h.out));
		script += len;
	}
	assert_string_equal(got, want);
	h_free(&h);
}

static void
test_trace_masking(void **st)
{
	(void)st;
	/* the initial response and every response line are secrets */
	trace_of("EHLO c\r\n"
		 "AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHdyb25n\r\n"
		 "auth login YWxpY2VAZXhhbXBsZS5vcmc=\r\nc2VjcmV0\r\n"
		 "MAIL FROM:<a@example.org>\r\n",
		 "EHLO c\r\n|AUTH PLAIN|auth login|(SASL response)|"
		 "MAIL FROM:<a@example.org>\r\n");
	trace_of("EHLO c\r\nAUTH LOGIN\r\nYQ==\r\n*\r\nAUTH PLAIN\n"
		 "AHUAcA==\r\nAUTH \r\nAUTH\r\nNOOP\r\n",
		 "EHLO c\r\n|AUTH LOGIN|(SASL response)|(SASL response)|"
		 "AUTH PLAIN|(SASL response)|AUTH |AUTH\r\n|NOOP\r\n");
	/* message text is not traced, its end is */
	trace_of("EHLO c\r\n"
		 "AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==\r\n"
		 "MAIL FROM:<>\r\nRCPT TO:<bob@example.org>\r\n"
		 "DATA\r\nAUTH PLAIN x\r\n.\n..\r\n.\r\nQUIT\r\n",
		 "EHLO c\r\n|AUTH PLAIN|MAIL FROM:<>\r\n|"
		 "RCPT TO:<bob@example.org>\r\n|DATA\r\n|-|-|-|.\r\n|"
		 "QUIT\r\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_ehlo_lists_extensions),
		cmocka_unit_test(test_sequence),
		cmocka_unit_test(test_simple_commands),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_rcpt_results),
		cmocka_unit_test(test_too_many_recipients),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_line_limits),
		cmocka_unit_test(test_line_without_end),
		cmocka_unit_test(test_dot_stuffing),
		cmocka_unit_test(test_smuggling),
		cmocka_unit_test(test_nul_and_bare_cr),
		cmocka_unit_test(test_bare_lf_commands),
		cmocka_unit_test(test_bare_newline_normalize),
		cmocka_unit_test(test_bare_newline_reject),
		cmocka_unit_test(test_too_many_errors),
		cmocka_unit_test(test_enhanced_codes),
		cmocka_unit_test(test_shutdown_and_timeout),
		cmocka_unit_test(test_temp_failures),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_auth_limits),
		cmocka_unit_test(test_starttls),
		cmocka_unit_test(test_trace_masking),
	};

	return cmocka_run_group_tests_name("smtp_server", tests, NULL, NULL);
}
