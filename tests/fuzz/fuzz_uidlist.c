/*
 * libFuzzer harness for the Maildir UID index parser (store/uidlist.c):
 * parse arbitrary bytes; what parses must keep the index's invariants
 * (ascending UIDs below UIDNEXT, modseqs at most HIGHESTMODSEQ), format
 * back to exactly the input (the format is canonical), and survive a sync
 * with a listing made from its own names.  Any break aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/uidlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const struct uidlist *ul)
{
	if (ul->uidvalidity == 0 || ul->uidnext == 0 ||
	    ul->highestmodseq == 0)
		abort();
	for (size_t i = 0; i < ul->n; i++) {
		const struct uidlist_rec *r = &ul->recs[i];

		if (r->uid == 0 || r->uid >= ul->uidnext ||
		    (i > 0 && r->uid <= ul->recs[i - 1].uid) ||
		    r->modseq == 0 || r->modseq > ul->highestmodseq ||
		    r->base == NULL || r->base[0] == '\0' ||
		    strlen(r->base) > UIDLIST_BASE_MAX)
			abort();
	}
}

/* Syncs with every other name of the index and one new: still valid. */
static void
sync_half(struct uidlist *ul)
{
	struct uidlist_file *f = calloc(ul->n + 1, sizeof(*f));
	size_t n = 0;
	uint32_t next = ul->uidnext;
	bool changed;

	for (size_t i = 0; i < ul->n; i += 2) {
		f[n].name = ul->recs[i].base;
		f[n].baselen = strlen(ul->recs[i].base);
		n++;
	}
	f[n].name = "fresh.name:2,S";
	f[n].baselen = 10;
	n++;
	if (uidlist_sync(ul, f, n, &changed) == 0) {
		if (ul->uidnext < next)
			abort();
		check(ul);
	}
	free(f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uidlist ul;
	struct buf *out;
	char err[128];

	if (uidlist_parse(&ul, (const char *)data, size, err, sizeof(err)) ==
	    -1)
		return 0;
	check(&ul);
	out = buf_new(size + 1);
	if (uidlist_format(&ul, out) == -1 || out->len != size ||
	    memcmp(out->data, data, size) != 0)
		abort();
	buf_free(&out);
	sync_half(&ul);
	uidlist_free(&ul);
	return 0;
}
