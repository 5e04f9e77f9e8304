/*
 * libFuzzer harness for the IMAP core's folder commands
 * (proto/imap_cmd_folder.c) over the in-memory store of
 * tests/unit/imap_fake.h.  The first byte chooses IMAP4rev2 and which
 * store call fails once; the rest is what a logged-in client sends, fed
 * whole and in pieces whose sizes come from the input, each to a fresh
 * store holding folders at several levels, subscriptions and messages.
 * The responses must be the same either way, every response line must
 * end in CRLF, and the two stores must end alike.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/imap_fake.h"
#include "lib/buf.h"
#include "proto/imap_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct imap_fake *
store(unsigned how)
{
	static const char *const NAMES[] = {
		"Fruit", "Fruit/Apple", "A/B/C", "caf\xc3\xa9", "x&y",
		"q\"b\\s",
	};
	struct imap_fake *f = imap_fake_new();

	for (size_t i = 0; i < sizeof(NAMES) / sizeof(NAMES[0]); i++)
		imap_fake_create(f, NAMES[i], 0);
	imap_fake_subscribe(f, "Fruit/Apple", true);
	imap_fake_subscribe(f, "Gone/Away", true);
	imap_fake_deliver(f, "INBOX", "Subject: x\n\nbody\n");
	imap_fake_deliver_full(f, "Fruit", "a\n", IMAP_F_SEEN, "kw", 0);
	if ((how >> 1) % 8 < IMAP_FAKE_SELECT)
		imap_fake_fail(f, (enum imap_fake_op)((how >> 1) % 8),
			       IMAP_M_TEMP, "injected");
	return f;
}

static struct imap_fake *
run(unsigned how, const uint8_t *cuts, size_t ncuts, const char *text,
    size_t len, struct buf *out)
{
	static const char LOGIN[] = "L LOGIN alice secret\r\n";
	static const char REV2[] = "E ENABLE IMAP4rev2\r\n";
	struct imap_conf conf = {.hostname = "fuzz.test", .max_errors = 8,
				 .max_auth_failures = 3};
	struct imap_server *s = imap_server_new(&conf);
	struct imap_fake *f = store(how);
	size_t off = 0, k = 0, used;

	imap_server_plain_auth(s, true);
	if (imap_server_feed(s, LOGIN, strlen(LOGIN), &used, out) !=
	    IMAP_ACT_LOGIN)
		abort();
	imap_server_set_mbox(s, &imap_fake_ops, f);
	imap_server_login_done(s, IMAP_LOGIN_OK, out);
	if (how & 1)
		imap_server_feed(s, REV2, strlen(REV2), &used, out);
	while (off < len) {
		size_t n = ncuts == 0 ? len - off : 1 + cuts[k++ % ncuts] % 9;
		enum imap_act a;

		if (n > len - off)
			n = len - off;
		a = imap_server_feed(s, text + off, n, &used, out);
		off += used;
		if (a != IMAP_ACT_NONE)
			break;	/* CLOSE; nothing else is answered here */
	}
	imap_server_free(&s);
	return f;
}

/* The stores alike: the same folders, subscriptions and messages. */
static void
same_stores(struct imap_fake *x, struct imap_fake *y)
{
	struct imap_folder *lx, *ly;
	size_t nx, ny;
	char err[128];

	if (imap_fake_ops.list(x, &lx, &nx, err, sizeof(err)) != IMAP_M_OK)
		lx = NULL, nx = 0;
	if (imap_fake_ops.list(y, &ly, &ny, err, sizeof(err)) != IMAP_M_OK)
		ly = NULL, ny = 0;
	if (nx != ny)
		abort();
	for (size_t i = 0; i < nx; i++)
		if (strcmp(lx[i].name, ly[i].name) != 0 ||
		    lx[i].exists != ly[i].exists ||
		    lx[i].subscribed != ly[i].subscribed ||
		    lx[i].special_use != ly[i].special_use ||
		    imap_fake_count(x, lx[i].name) !=
			    imap_fake_count(y, ly[i].name))
			abort();
	imap_fake_ops.list_free(x, lx, nx);
	imap_fake_ops.list_free(y, ly, ny);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_fake *fa, *fb;
	struct buf *a, *b;

	if (size < 1 || size > 4096)
		return 0;
	a = buf_new(SIZE_MAX);
	b = buf_new(SIZE_MAX);
	fa = run(data[0], NULL, 0, (const char *)data + 1, size - 1, a);
	fb = run(data[0], data + 1, size - 1, (const char *)data + 1,
		 size - 1, b);
	if (a->len != b->len || memcmp(a->data, b->data, a->len) != 0)
		abort();
	if (a->len < 2 || memcmp(a->data + a->len - 2, "\r\n", 2) != 0)
		abort();
	same_stores(fa, fb);
	imap_fake_free(&fa);
	imap_fake_free(&fb);
	buf_free(&a);
	buf_free(&b);
	return 0;
}
