/*
 * libFuzzer harness for the POP3 core: the input is a byte stream framed on
 * LF by net/framer, as net/conn.c does; every action is answered with results
 * taken from the input (logins succeed or fail, messages read or not), and
 * message text is streamed through dot_stuff.  Checks: no crash, no sanitizer
 * report, replies end in CRLF, a stuffed text never has a line that is a lone
 * "." before its end, UPDATE's count matches its marks, and the trace of a
 * line is the line, a prefix of it or a stand-in.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/framer.h"
#include "proto/pop3_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char TEXT[] = "Subject: x\n\n.\n..\nbody\n.\nlast";
static const struct pop3_msg MSGS[] = {
	{40, "a"}, {40, "b"}, {40, "c"}, {40, "d"},
};

/* The snapshot's messages, as the glue hands them over. */
static void
msgs_fn(void *arg, unsigned i, struct pop3_msg *out)
{
	(void)arg;
	*out = MSGS[i];
}

/* What the trace shows is the line, a prefix of it, or a stand-in. */
static void
trace(const struct pop3_server *s, const char *line, size_t len)
{
	size_t n;
	const char *t = pop3_server_trace_in(s, line, len, &n);

	if (t == NULL)
		return;
	if (t == line ? n > len : strlen(t) != n)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct pop3_conf conf = {.hostname = "fuzz.example",
					      .max_errors = 50,
					      .max_auth_failures = 5,
					      .stls = true};
	struct pop3_server *s = pop3_server_new(&conf);
	struct buf *out = buf_new(1 << 20);
	struct framer fr;
	size_t done = 0, off;
	unsigned pick = 0;
	bool closed = false;

	/* an odd first byte: logins in the clear are refused (STLS first) */
	pop3_server_plain_auth(s, size == 0 || (data[0] & 1) == 0);
	pop3_server_greet(s, out);
	framer_reset(&fr);
	while (!closed && (off = done + framer_offset(&fr)) < size) {
		enum pop3_act a;
		size_t len;

		/* the framing net/conn.c runs, over the whole input */
		switch (framer_scan(&fr, (const char *)data + off, size - off,
				    pop3_server_max_line(s), &len)) {
		case FRAMER_MORE:
			continue;
		case FRAMER_DROP:
			done += len;
			if (framer_dropped(&fr) > pop3_server_max_drop(s)) {
				pop3_server_endless(s, out);
				closed = true;
			}
			continue;
		case FRAMER_TOOLONG:
			a = pop3_server_toolong(s, out);
			break;
		case FRAMER_LINE:
		default:
			trace(s, (const char *)data + done, len);
			a = pop3_server_feed(s, (const char *)data + done, len, out);
			break;
		}
		done += len;
		while (a == POP3_ACT_LOGIN || a == POP3_ACT_RETR ||
		       a == POP3_ACT_UPDATE || a == POP3_ACT_LISTING) {
			const struct pop3_req *r = pop3_server_req(s);

			pick++;
			if (a == POP3_ACT_LISTING) {
				/* in steps, each at most a line past it */
				size_t step = 1 + pick % 40, before;

				do {
					before = out->len;
					if (pop3_server_listing_more(
						    s, out, out->len + step))
						break;
					if (out->len - before >
					    step + POP3_LIST_LINE_MAX)
						abort();
				} while (1);
				a = POP3_ACT_NONE;
			} else if (a == POP3_ACT_LOGIN) {
				enum pop3_result res =
					(enum pop3_result)(pick % 5);

				if (r->user == NULL || r->pass == NULL)
					abort();
				if (res == POP3_R_OK)
					pop3_server_set_mailbox(s, msgs_fn, NULL, 4);
				a = pop3_server_login_done(s, res, out);
			} else if (a == POP3_ACT_RETR) {
				struct dot_stuff st;
				size_t mark;

				if (r->msg >= 4)
					abort();
				if (pick % 7 == 0) {
					a = pop3_server_done(s, POP3_R_TEMP,
							     out);
					continue;
				}
				pop3_server_retr_begin(s, out);
				mark = out->len;
				dot_stuff_init(&st, r->lines);
				for (size_t k = 0; k < sizeof(TEXT) - 1; k += 3)
					if (dot_stuff_feed(&st, TEXT + k,
							    k + 3 < sizeof(TEXT) - 1
								    ? 3
								    : sizeof(TEXT) - 1 - k,
							    out))
						break;
				dot_stuff_end(&st, out);
				/* the only lone "." line is the last one */
				{
					char *dot = memmem(out->data + mark,
							   out->len - mark,
							   "\r\n.\r\n", 5);

					if (dot == NULL ||
					    dot + 5 != out->data + out->len)
						abort();
				}
				a = pop3_server_done(s, POP3_R_OK, out);
			} else {
				unsigned n = 0;

				for (unsigned k = 0; k < 4; k++)
					n += r->dele[k];
				if (n != r->ndele)
					abort();
				a = pop3_server_done(s, pick % 2 ? POP3_R_OK
								 : POP3_R_TEMP,
						     out);
			}
		}
		if (a == POP3_ACT_CLOSE)
			closed = true;
		if (out->len > 0 && (out->len < 2 ||
				     out->data[out->len - 1] != '\n'))
			abort();
		if (out->len > (1 << 19))
			buf_reset(out);
	}
	pop3_server_free(&s);
	buf_free(&out);
	return 0;
}
