/*
 * libFuzzer harness for the IMAP server core (proto/imap_server.h).  The
 * first byte chooses TLS, logins in the clear and how logins are answered;
 * the rest is what a client sends, fed whole and in pieces whose sizes
 * come from the input.  A login that succeeds gets the in-memory store of
 * tests/unit/imap_fake.h, with an INBOX of three messages (a multipart
 * one among them) and a second folder, so every logged-in and selected
 * command runs; the output is written in pieces (IMAP_ACT_OUTPUT) of a
 * size from the first byte.  The responses must be the same either way,
 * every response line must end in CRLF, nothing may follow a BYE, and no
 * message text handle or APPEND may be left open.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/imap_fake.h"
#include "lib/buf.h"
#include "proto/imap_server.h"

static const char *const MSGS[] = {
	"From: a@x.org\nTo: b@y.org\nSubject: one\nMessage-ID: <1@x>\n\n"
	"first\n",
	"From: \"B\" <b@y.org>\nSubject: Re: one\nReferences: <1@x>\n"
	"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
	"--b\nContent-Type: text/plain; charset=utf-8\n\nh\xc3\xa9\n--b\n"
	"Content-Type: message/rfc822\n\nSubject: in\n\ninner\n--b\n"
	"Content-Transfer-Encoding: base64\n\naGVsbG8=\n--b--\n",
	"Subject: three\nDate: 1 Jan 2026 00:00 +0000\n\n"
	"=?utf-8?q?x?= third\n",
};

/* The store: INBOX with MSGS, and Work. */
static struct imap_fake *
new_store(void)
{
	struct imap_fake *f = imap_fake_new();

	for (size_t i = 0; i < sizeof(MSGS) / sizeof(MSGS[0]); i++)
		imap_fake_deliver(f, "INBOX", MSGS[i]);
	imap_fake_create(f, "Work", 0);
	imap_fake_deliver(f, "Work", MSGS[0]);
	return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The output so far "sent": moved into all. */
static void
drain(struct buf *out, struct buf *all)
{
	buf_add(all, out->data, out->len);
	buf_reset(out);
}

static void
run(unsigned how, const uint8_t *cuts, size_t ncuts, const char *text,
    size_t len, struct buf *all)
{
	struct imap_conf conf = {.hostname = "fuzz.test", .max_errors = 8,
				 .max_auth_failures = 3,
				 .starttls = (how & 1) != 0,
				 .append_max = 200,
				 .append_msgs_max = 3,
				 .append_total_max = 400,
				 .out_max = 1 + (how % 64),
				 .compress = (how & 32) != 0};
	struct imap_server *s = imap_server_new(&conf);
	struct imap_fake *f = new_store();
	struct buf *out = buf_new(SIZE_MAX);
	size_t off = 0, k = 0, logins = 0;
	bool closed = false;

	if (how & 2)
		imap_server_secure(s);
	imap_server_plain_auth(s, (how & 4) != 0);
	imap_server_clock(s, IMAP_FAKE_NOW);
	imap_server_greet(s, out);
	while (off < len && !closed) {
		size_t n = ncuts == 0 ? len - off : 1 + cuts[k++ % ncuts] % 9;
		size_t used;
		enum imap_act a;

		if (n > len - off)
			n = len - off;
		a = imap_server_feed(s, text + off, n, &used, out);
		if (used > n || (a == IMAP_ACT_NONE && used < n))
			abort(); /* no action: every octet taken */
		off += used;
		for (;;) {
			if (a == IMAP_ACT_LOGIN) {
				const struct imap_req *q = imap_server_req(s);
				enum imap_login_result r;

				if (q->user == NULL || q->pass == NULL)
					abort();
				r = (enum imap_login_result)((how >> 3) +
							     logins++) % 3;
				if (r == IMAP_LOGIN_OK)
					imap_server_set_mbox(s, &imap_fake_ops,
							     f);
				a = imap_server_login_done(s, r, out);
			} else if (a == IMAP_ACT_OUTPUT) {
				drain(out, all);
				a = imap_server_resume(s, out);
			} else {
				break;
			}
		}
		if (a == IMAP_ACT_CLOSE || a == IMAP_ACT_STARTTLS)
			closed = true;
		drain(out, all);
	}
	imap_server_free(&s);
	drain(out, all);
	if (imap_fake_open_handles(f) != 0 || imap_fake_appending(f))
		abort();
	imap_fake_free(&f);
	buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf *a, *b;
	char *bye;

	if (size < 1 || size > 4096)
		return 0;
	a = buf_new(SIZE_MAX);
	b = buf_new(SIZE_MAX);
	run(data[0], NULL, 0, (const char *)data + 1, size - 1, a);
	run(data[0], data + 1, size - 1, (const char *)data + 1, size - 1, b);
	if (a->len != b->len || memcmp(a->data, b->data, a->len) != 0)
		abort();
	if (a->len < 2 || memcmp(a->data + a->len - 2, "\r\n", 2) != 0)
		abort();
	/* after a BYE at most the tagged OK of LOGOUT */
	if ((bye = strstr(a->data, "* BYE ")) != NULL) {
		char *end = strstr(bye, "\r\n") + 2;

		if (*end != '\0' &&
		    (strstr(end, "OK LOGOUT completed\r\n") == NULL ||
		     strstr(end, "\r\n") + 2 != a->data + a->len))
			abort();
	}
	buf_free(&a);
	buf_free(&b);
	return 0;
}
