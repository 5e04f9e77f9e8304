/*
 * libFuzzer harness for the IMAP server core (proto/imap_server.h).  The
 * first byte chooses TLS, logins in the clear and how logins are answered;
 * the rest is what a client sends, fed whole and in pieces whose sizes
 * come from the input.  The responses must be the same either way, every
 * response line must end in CRLF, and nothing may follow a BYE.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "proto/imap_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
run(unsigned how, const uint8_t *cuts, size_t ncuts, const char *text,
    size_t len, struct buf *out)
{
	struct imap_conf conf = {.hostname = "fuzz.test", .max_errors = 8,
				 .max_auth_failures = 3,
				 .starttls = (how & 1) != 0};
	struct imap_server *s = imap_server_new(&conf);
	size_t off = 0, k = 0, logins = 0;
	bool closed = false;

	if (how & 2)
		imap_server_secure(s);
	imap_server_plain_auth(s, (how & 4) != 0);
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
		while (a == IMAP_ACT_LOGIN) {
			const struct imap_req *q = imap_server_req(s);

			if (q->user == NULL || q->pass == NULL)
				abort();
			a = imap_server_login_done(
				s, (enum imap_login_result)((how >> 3) +
							    logins++) % 3,
				out);
		}
		if (a == IMAP_ACT_CLOSE || a == IMAP_ACT_STARTTLS)
			closed = true;
	}
	imap_server_free(&s);
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
