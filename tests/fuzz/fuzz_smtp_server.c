/*
 * libFuzzer harness for the SMTP core: the input is a byte stream framed on
 * LF by net/framer, as net/conn.c does; every action is answered, with
 * results taken from the input so that every done() branch is reached.
 * Checks: no crash, no sanitizer report, and replies always end in CRLF.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/framer.h"
#include "proto/smtp_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
	const struct smtp_conf conf = *cp;
	struct smtp_server *s = smtp_server_new(cp);
	struct buf *out = buf_new(1 << 20);
	struct framer fr;
	size_t done = 0, off;
	unsigned pick = 0;
	bool closed = false;

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
		case FRAMER_DROP:
			done += len;
			continue;
		case FRAMER_TOOLONG:
			a = smtp_server_toolong(s, out);
			break;
		case FRAMER_LINE:
		default:
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

			if (r->len > conf.max_line)
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
