/*
 * libFuzzer harness for the POP3 client core: the input is the server's
 * side of the conversation.  The first byte picks the TLS policy; the
 * rest is framed as owl frames it: at each LF, or in pieces of at most
 * PIECE octets that never end between CR and LF.  The harness plays owl:
 * after each READY it sends the next of STAT, LIST, UIDL, TOP, RETR,
 * DELE, then QUIT.  Checks: no crash, no sanitizer report, every command
 * ends in CRLF, DATA only while a command is open, and CLOSE once the
 * input ends.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pop3_client.h"

#define PIECE 100

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	struct pop3_client *c;
	struct buf *out;
	int step;
	bool closed;
	bool open;	/* a command is in flight */
};

static void
act(struct run *r, enum pop3c_act a)
{
	static const enum pop3c_cmd cmds[] = {
		POP3C_STAT, POP3C_LIST, POP3C_UIDL, POP3C_TOP, POP3C_RETR,
		POP3C_DELE,
	};
	const char *d;
	size_t n;
	bool eol;

	while (a != POP3C_NONE) {
		switch (a) {
		case POP3C_READY:
			r->open = false;
			if (r->step < 6) {
				r->open = true;
				a = pop3_client_cmd(r->c, cmds[r->step],
						    r->step == 1 ? 0 : 1, 0,
						    r->out);
				r->step++;
			} else {
				r->step++;
				a = pop3_client_quit(r->c, r->out);
			}
			break;
		case POP3C_DATA:
			if (!r->open)
				abort();
			pop3_client_data(r->c, &d, &n, &eol);
			if (n > 0 && d == NULL)
				abort();
			a = POP3C_NONE;
			break;
		case POP3C_STLS:
			pop3_client_secured(r->c, r->out);
			a = POP3C_NONE;
			break;
		case POP3C_CLOSE:
			r->closed = true;
			a = POP3C_NONE;
			break;
		case POP3C_NONE:
			break;
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct pop3c_conf confs[] = {
		{"alice", "secret", POP3C_TLS_NO},
		{"alice", "secret", POP3C_TLS_MAY},
		{"alice", "secret", POP3C_TLS_REQUIRE},
	};
	const struct pop3c_conf *conf;
	struct run r = {0};
	size_t start = 1, i, was, n;

	if (size == 0)
		return 0;
	conf = &confs[data[0] % 3];
	r.c = pop3_client_new(conf);
	r.out = buf_new(1 << 16);
	for (i = 1; i < size && !r.closed; i++) {
		n = i + 1 - start;
		if (data[i] != '\n' && n < PIECE)
			continue;
		if (data[i] == '\r' && n > 1) {
			n--; /* keep the CR with its LF */
			i--;
		}
		was = r.out->len;
		act(&r, pop3_client_feed(r.c, (const char *)data + start, n,
					 r.out));
		if (r.out->len > was &&
		    (r.out->len < 2 || r.out->data[r.out->len - 1] != '\n' ||
		     r.out->data[r.out->len - 2] != '\r'))
			abort();
		start = i + 1;
		buf_reset(r.out);
	}
	if (!r.closed) {
		act(&r, pop3_client_eof(r.c, "eof"));
		if (!r.closed)
			abort();
	}
	pop3_client_free(&r.c);
	buf_free(&r.out);
	return 0;
}
