/*
 * libFuzzer harness for the Maildir UID index parser (store/uidlist.c):
 * parse arbitrary bytes, from a copy (uidlist_parse) and in place
 * (uidlist_parse_buf), with the same verdict; what parses must keep the
 * index's invariants (ascending UIDs below UIDNEXT, modseqs at most
 * HIGHESTMODSEQ), format back to exactly the input (the format is
 * canonical), keep its text when a record's keywords are set to what they
 * were, and survive a sync with a listing made from its own names.  The
 * same bytes as an index log (store/uidlist.h): what parses, replayed
 * twice over an empty index, keeps those invariants and the second replay
 * adds nothing.  Any break aborts (ASan: a bad free of the parser's
 * strings too).
 */
#include <stdbool.h>
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

/*
 * Formats ul: exactly data, or abort; an index from before \Recent was
 * kept (no R in its header) formats with " R<uidnext>" added.
 */
static void
same_text(const struct uidlist *ul, const uint8_t *data, size_t size)
{
	struct buf *out = buf_new(size + 32), *want = buf_new(size + 32);
	const uint8_t *lf = memchr(data, '\n', size);
	size_t head = lf != NULL ? (size_t)(lf - data) : size;
	bool legacy = memmem(data, head, " R", 2) == NULL;

	buf_add(want, data, head);
	if (legacy) {
		if (ul->recent != ul->uidnext)
			abort();
		buf_printf(want, " R%u", (unsigned)ul->recent);
	}
	buf_add(want, data + head, size - head);
	if (ul->recent == 0 || ul->recent > ul->uidnext ||
	    uidlist_format(ul, out) == -1 || out->len != want->len ||
	    memcmp(out->data, want->data, want->len) != 0)
		abort();
	buf_free(&out);
	buf_free(&want);
}

/* The first record's keywords set again to the same words. */
static void
keywords_again(struct uidlist *ul)
{
	char kw[UIDLIST_KEYWORDS_MAX * (UIDLIST_KEYWORD_MAX + 1)];

	if (ul->n == 0)
		return;
	snprintf(kw, sizeof(kw), "%s",
		 ul->recs[0].keywords ? ul->recs[0].keywords : "");
	uidlist_set_keywords(ul, &ul->recs[0], kw);
}

/* data as the body of an index log, replayed twice over an empty index. */
static void
log_replay(const uint8_t *data, size_t size)
{
	struct uidlist ul;
	char err[128];

	uidlist_init(&ul, 7);
	for (int round = 0; round < 2; round++) {
		char *buf = uidlist_buf_new(size);
		struct uidlog lg;
		size_t before = ul.n;

		memcpy(buf, data, size);
		if (uidlog_parse(buf, size, &lg, err, sizeof(err)) == -1) {
			uidlist_buf_free(buf);
			break;
		}
		if (lg.committed > size)
			abort();
		uidlist_apply_log(&ul, &lg, buf);
		uidlog_free(&lg);
		check(&ul);
		if (round == 1 && ul.n != before)
			abort();
	}
	uidlist_free(&ul);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uidlist ul, in_place;
	char err[128], *buf = uidlist_buf_new(size);
	int r;

	log_replay(data, size);
	memcpy(buf, data, size);
	r = uidlist_parse_buf(&in_place, buf, size, err, sizeof(err));
	if (r == -1)
		uidlist_buf_free(buf);
	if (uidlist_parse(&ul, (const char *)data, size, err, sizeof(err)) !=
	    r)
		abort();
	if (r == -1)
		return 0;
	check(&ul);
	same_text(&ul, data, size);
	same_text(&in_place, data, size);
	uidlist_free(&in_place);
	keywords_again(&ul);
	same_text(&ul, data, size);
	sync_half(&ul);
	uidlist_free(&ul);
	return 0;
}
