/*
 * libFuzzer harness for the mbox parser (mbox_parse, what mbox_box_open
 * does with the file's text).  The input is the file.  Checks: no crash,
 * no sanitizer report; fed in pieces of any size the result is the same;
 * messages are in order, inside the file, each at a "From " line (as
 * expunge checks); each message read back through store_reader (the
 * mboxrd unquoting POP3 RETR uses) has, with CRLF line ends and a final
 * line end, the size LIST says; after store_box_unique_uidls every UIDL
 * is 1-70 printable octets and no two are the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "store/store_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_same(const struct store_box *a, const struct store_box *b)
{
	if (a->n != b->n)
		abort();
	for (size_t i = 0; i < a->n; i++) {
		const struct store_aux *x = &a->aux[a->msgs[i].aux - 1];
		const struct store_aux *y = &b->aux[b->msgs[i].aux - 1];

		if (x->from_off != y->from_off || x->off != y->off ||
		    x->end != y->end || x->size != y->size ||
		    strcmp(store_box_uidl(a, i), store_box_uidl(b, i)) != 0)
			abort();
	}
}

/* What RETR sends of message i: its CRLF size, with a final line end. */
static size_t
read_size(struct store_box *b, size_t i)
{
	struct store_reader r;
	char buf[300];
	size_t total = 0;
	ssize_t n;
	char last = '\n';

	if (store_reader_open(b, i, &r) == -1)
		abort();
	/* small reads, so the unquoting state crosses many pieces */
	while ((n = store_reader_read(&r, buf, sizeof(buf))) > 0) {
		total += store_crlf_size(buf, (size_t)n);
		last = buf[n - 1];
	}
	if (n < 0)
		abort();
	store_reader_close(&r);
	return total + (last != '\n' ? 2 : 0);
}

static void
check_uidls(const struct store_box *b)
{
	for (size_t i = 0; i < b->n; i++) {
		const char *u = store_box_uidl(b, i);
		size_t n = strnlen(u, 72);

		if (n == 0 || n > 70)
			abort();
		for (size_t k = 0; k < n; k++)
			if (u[k] <= ' ' || u[k] >= 0x7f)
				abort();
		for (size_t j = 0; j < i; j++)
			if (strcmp(u, store_box_uidl(b, j)) == 0)
				abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct store st = {.ops = &store_mbox_ops};
	static int fd = -1;
	const char *text = (const char *)data;
	struct store_box a = {.st = &st, .fd = -1}, b = {.st = &st, .fd = -1};
	size_t chunk = size > 0 ? 1 + data[size - 1] % 17 : 1;

	if (fd == -1 && (fd = memfd_create("fuzz-mbox", 0)) == -1)
		abort();
	mbox_parse(&a, text, size, size > 0 ? size : 1);
	mbox_parse(&b, text, size, chunk);
	check_same(&a, &b);
	if (ftruncate(fd, 0) == -1 ||
	    pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	a.fd = fd;
	for (size_t i = 0; i < a.n; i++) {
		const struct store_aux *m = &a.aux[a.msgs[i].aux - 1];

		if (a.msgs[i].aux == 0 || m->from_off >= m->off ||
		    m->off > m->end || m->end > (off_t)size ||
		    (i > 0 && a.aux[a.msgs[i - 1].aux - 1].end > m->from_off) ||
		    memcmp(text + m->from_off, "From ", 5) != 0)
			abort();
		if (read_size(&a, i) != m->size)
			abort();
	}
	a.fd = -1;
	store_box_unique_uidls(&a);
	check_uidls(&a);
	store_box_free_msgs(&a);
	store_box_free_msgs(&b);
	return 0;
}
