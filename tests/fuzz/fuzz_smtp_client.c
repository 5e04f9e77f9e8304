/*
 * libFuzzer harness for the SMTP client core: the input is the server's
 * side of the conversation, framed on LF as net/conn.c does.  The harness
 * plays the relay: it offers three messages, streams a text with dot
 * lines, bare CRs and CR LFs when asked (in pieces sized by the first
 * byte), and calls eof when the input ends.  Checks: no crash, no
 * sanitizer report, every command ends in CRLF, no bare CR or bare LF is
 * ever written, every recipient of an offered message gets a result
 * exactly once per RESULT, and nothing is written after CLOSE.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/smtp_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *RCPTS[] = {"a@x.test", "b@x.test", "c@x.test"};
static const struct smtpc_msg MSGS[] = {
	{"s@l.test", RCPTS, 3, 100, true},
	{"", RCPTS, 1, 5000, false},
	{"s@l.test", RCPTS + 1, 2, 10, false},
};
static const char TEXT[] = "Subject: x\r\n\n.\n..\r\nbo\rdy\n.\r.\r\r\n"
			   "\r\n\rlast\r";

struct run {
	struct smtp_client *c;
	struct buf *out;
	size_t cur;
	size_t chunk;		/* the text goes out in pieces this long */
	bool closed;
};

static void act(struct run *r, enum smtpc_act a);

/* A CR without LF after it, or an LF without CR before it. */
static bool
has_bare(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((p[i] == '\r' && (i + 1 == len || p[i + 1] != '\n')) ||
		    (p[i] == '\n' && (i == 0 || p[i - 1] != '\r')))
			return true;
	return false;
}

static void
act(struct run *r, enum smtpc_act a)
{
	while (a != SMTPC_NONE) {
		switch (a) {
		case SMTPC_BODY:
			if (r->cur >= 3)
				abort();
			for (size_t i = 0; i < sizeof(TEXT) - 1; i += r->chunk)
				smtp_client_body(r->c, TEXT + i,
						 sizeof(TEXT) - 1 - i < r->chunk
							 ? sizeof(TEXT) - 1 - i
							 : r->chunk,
						 r->out);
			smtp_client_body_end(r->c, r->out);
			a = SMTPC_NONE;
			break;
		case SMTPC_RESULT:
			if (r->cur >= 3)
				abort();
			for (size_t i = 0; i < MSGS[r->cur].nrcpts; i++) {
				const struct smtpc_reply *p =
					smtp_client_rcpt(r->c, i);

				if (p->code == 0 && p->text[0] == '\0')
					abort(); /* a recipient left open */
			}
			r->cur++;
			/* fall through */
		case SMTPC_NEXT:
			a = smtp_client_next(r->c, r->cur < 3 ? &MSGS[r->cur]
							      : NULL, r->out);
			break;
		case SMTPC_CLOSE:
			r->closed = true;
			a = SMTPC_NONE;
			break;
		case SMTPC_STARTTLS:
			/* the handshake "succeeds" at once */
			smtp_client_secured(r->c, r->out);
			a = SMTPC_NONE;
			break;
		case SMTPC_NONE:
			break;
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the first byte picks the TLS policy and whether to log in */
	static const struct smtpc_conf confs[] = {
		{.helo = "fuzz.example", .tls = SMTPC_TLS_NO},
		{.helo = "fuzz.example", .tls = SMTPC_TLS_MAY},
		{.helo = "fuzz.example", .tls = SMTPC_TLS_REQUIRE},
		{"fuzz.example", SMTPC_TLS_NO, "alice", "secret"},
		{"fuzz.example", SMTPC_TLS_MAY, "alice", "secret"},
		{"fuzz.example", SMTPC_TLS_REQUIRE, "alice", "secret"},
	};
	const struct smtpc_conf *conf = &confs[size > 0 ? data[0] % 6 : 0];
	size_t k = size > 0 ? data[0] / 6 % 9 : 0; /* 0: the text whole */
	struct run r = {smtp_client_new(conf), buf_new(1 << 20), 0,
			k > 0 ? k : sizeof(TEXT), false};
	size_t start = 0, i, was;

	for (i = 0; i < size && !r.closed; i++) {
		if (data[i] != '\n' && i + 1 - start < SMTPC_LINE_MAX)
			continue;
		was = r.out->len;
		if (data[i] != '\n') {
			act(&r, smtp_client_toolong(r.c, r.out));
			while (i < size && data[i] != '\n')
				i++;
		} else {
			act(&r, smtp_client_feed(r.c, (const char *)data + start,
						 i + 1 - start, r.out));
		}
		if (r.out->len > was &&
		    (r.out->len < 2 || r.out->data[r.out->len - 1] != '\n' ||
		     r.out->data[r.out->len - 2] != '\r'))
			abort();
		if (has_bare(r.out->data, r.out->len))
			abort();
		start = i + 1;
		buf_reset(r.out);
	}
	if (!r.closed) {
		act(&r, smtp_client_eof(r.c, "eof"));
		if (!r.closed)
			abort();
	}
	smtp_client_free(&r.c);
	buf_free(&r.out);
	return 0;
}
