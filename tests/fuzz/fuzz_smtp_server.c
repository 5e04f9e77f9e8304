/*
 * libFuzzer harness for the SMTP core: the input is a byte stream framed on
 * LF by net/framer, as net/conn.c does; every action is answered, with
 * results taken from the input so that every done() branch is reached.
 * Checks: no crash, no sanitizer report, replies always end in CRLF, and
 * no DATA line handed out holds a CR or LF (smtp.bare_newline, either
 * way), and the trace of a line is the line, a prefix of it or a stand-in.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/framer.h"
#include "proto/smtp_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the trace shows is the line, a prefix of it, or a stand-in. */
static void
trace(const struct smtp_server *s, const char *line, size_t len)
{
	size_t n;
	const char *t = smtp_server_trace_in(s, line, len, &n);

	if (t == NULL)
		return;
	if (t == line ? n > len : strlen(t) != n)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an odd first byte: the submission core, with AUTH */
	static const struct smtp_conf inbound = {.hostname = "fuzz.example",
						 .max_size = 4096,
						 .max_rcpts = 4,
						 .max_errors = 50,
						 .max_line = 200};
	static const struct smtp_conf sub = {.hostname = "fuzz.example",
					     .max_size = 4096,
					     .max_rcpts = 4,
					     .max_errors = 50,
					     .max_line = 200,
					     .auth = true,
					     .max_auth_failures = 5,
					     .starttls = true};
	const struct smtp_conf *cp = size > 0 && (data[0] & 1) ? &sub : &inbound;
	struct smtp_conf conf = *cp;
	struct smtp_server *s;
	struct buf *out = buf_new(1 << 20);
	struct framer fr;
	size_t done = 0, off;
	unsigned pick = 0;
	bool closed = false;

	/* bit 2: smtp.bare_newline = reject; bit 3: smtp.vrfy = yes */
	conf.bare_newline = size > 0 && (data[0] & 4) ? SMTP_BARE_REJECT
						      : SMTP_BARE_NORMALIZE;
	conf.vrfy = size > 0 && (data[0] & 8);
	s = smtp_server_new(&conf);
	/* bit 1 of the first byte: AUTH also in the clear */
	smtp_server_plain_auth(s, size > 0 && (data[0] & 2));
	smtp_server_greet(s, out);
	framer_reset(&fr);
	while (!closed && (off = done + framer_offset(&fr)) < size) {
		enum smtp_act a;
		size_t len;

		/* the framing net/conn.c runs, over the whole input */
		switch (framer_scan(&fr, (const char *)data + off, size - off,
				    smtp_server_max_line(s), &len)) {
		case FRAMER_MORE:
			continue;
		case FRAMER_DROP: {
			bool crlf;

			done += len;
			if (framer_dropped(&fr) > smtp_server_max_drop(s)) {
				smtp_server_endless(s, out);
				closed = true;
			} else if (framer_dropped_end(&fr, &crlf)) {
				smtp_server_toolong_end(s, crlf);
			}
			continue;
		}
		case FRAMER_TOOLONG:
			a = smtp_server_toolong(s, out);
			break;
		case FRAMER_LINE:
		default:
			trace(s, (const char *)data + done, len);
			a = smtp_server_feed(s, (const char *)data + done, len, out);
			break;
		}
		done += len;
		while (a == SMTP_ACT_MAIL || a == SMTP_ACT_RCPT ||
		       a == SMTP_ACT_VRFY || a == SMTP_ACT_COMMIT ||
		       a == SMTP_ACT_AUTH) {
			const struct smtp_req *r = smtp_server_req(s);
			enum smtp_result res =
				(enum smtp_result)(pick++ % (SMTP_R_PERM + 1));

			if (a == SMTP_ACT_VRFY && !conf.vrfy)
				abort(); /* smtp.vrfy = no looks nobody up */
			if (a == SMTP_ACT_AUTH &&
			    (!cp->auth || r->user == NULL || r->pass == NULL ||
			     strlen(r->user) == 0 ||
			     strlen(r->user) > SMTP_USER_MAX ||
			     strlen(r->pass) > SMTP_PASS_MAX))
				abort();
			a = smtp_server_done(s, res, "id", out);
		}
		if (a == SMTP_ACT_DATA) {
			const struct smtp_req *r = smtp_server_req(s);

			if (r->len > conf.max_line ||
			    memchr(r->data, '\r', r->len) != NULL ||
			    memchr(r->data, '\n', r->len) != NULL)
				abort();
		}
		if (a == SMTP_ACT_CLOSE)
			closed = true;
		if (out->len > 0 && (out->len < 2 ||
				     out->data[out->len - 1] != '\n'))
			abort();
		if (out->len > (1 << 19))
			buf_reset(out);
	}
	smtp_server_free(&s);
	buf_free(&out);
	return 0;
}
