/*
 * imap_seqset - see imap_seqset.h.  One pass over the text, element by
 * element; resolving sorts the ranges and merges those that touch.
 */
#include "imap_seqset.h"

#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"

/* A seq-number at *p: "*" (IMAP_SEQ_STAR) or an nz-number; -1 if none. */
static int
take_number(const char **p, const char *end, uint32_t *v)
{
	uint64_t n = 0;
	const char *q = *p;

	if (q < end && *q == '*') {
		*v = IMAP_SEQ_STAR;
		*p = q + 1;
		return 0;
	}
	if (q == end || *q < '1' || *q > '9')
		return -1; /* nz-number: no 0, no leading zero */
	for (; q < end && *q >= '0' && *q <= '9'; q++) {
		n = n * 10 + (uint64_t)(*q - '0');
		if (n > UINT32_MAX)
			return -1;
	}
	*v = (uint32_t)n;
	*p = q;
	return 0;
}

int
imap_seqset_parse(const char *s, size_t len, size_t max_ranges,
		  struct imap_seqset *out, const char **why_r)
{
	const char *p = s, *end = s + len;
	size_t cap = 0;

	memset(out, 0, sizeof(*out));
	while (1) {
		struct imap_range r;

		if (take_number(&p, end, &r.lo) == -1) {
			*why_r = "Invalid sequence set";
			goto fail;
		}
		r.hi = r.lo;
		if (p < end && *p == ':') {
			p++;
			if (take_number(&p, end, &r.hi) == -1) {
				*why_r = "Invalid sequence set";
				goto fail;
			}
		}
		if (out->n == max_ranges) {
			*why_r = "[LIMIT] Too many ranges in a sequence set";
			goto fail;
		}
		if (out->n == cap) {
			cap = cap ? cap * 2 : 8;
			out->r = xrealloc(out->r, cap * sizeof(*out->r));
		}
		out->r[out->n++] = r;
		if (p == end)
			return 0;
		if (*p++ != ',') {
			*why_r = "Invalid sequence set";
			goto fail;
		}
	}
fail:
	imap_seqset_free(out);
	return -1;
}

static int
cmp_range(const void *a, const void *b)
{
	const struct imap_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return (x->hi > y->hi) - (x->hi < y->hi);
}

void
imap_seqset_resolve(struct imap_seqset *set, uint32_t star)
{
	size_t k = 0;

	for (size_t i = 0; i < set->n; i++) {
		struct imap_range *r = &set->r[i];

		if (r->lo == IMAP_SEQ_STAR)
			r->lo = star;
		if (r->hi == IMAP_SEQ_STAR)
			r->hi = star;
		if (r->lo > r->hi) { /* 4:2 is 2:4 (RFC 9051 9) */
			uint32_t t = r->lo;

			r->lo = r->hi;
			r->hi = t;
		}
	}
	if (set->n > 1)
		qsort(set->r, set->n, sizeof(*set->r), cmp_range);
	for (size_t i = 0; i < set->n; i++) {
		struct imap_range *last = k > 0 ? &set->r[k - 1] : NULL;

		/* overlapping or touching (2:4,5:7 is 2:7): one range */
		if (last != NULL &&
		    (uint64_t)set->r[i].lo <= (uint64_t)last->hi + 1) {
			if (set->r[i].hi > last->hi)
				last->hi = set->r[i].hi;
			continue;
		}
		set->r[k++] = set->r[i];
	}
	set->n = k;
}

bool
imap_seqset_has(const struct imap_seqset *set, uint32_t v)
{
	size_t lo = 0, hi = set->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v < set->r[mid].lo)
			hi = mid;
		else if (v > set->r[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

void
imap_seqset_free(struct imap_seqset *set)
{
	free(set->r);
	set->r = NULL;
	set->n = 0;
}

void
imap_seqset_write(struct buf *b, const uint32_t *nums, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j + 1 < n && nums[j + 1] == nums[j] + 1)
			j++;
		buf_printf(b, "%s%u", i > 0 ? "," : "", nums[i]);
		if (j > i)
			buf_printf(b, ":%u", nums[j]);
		i = j + 1;
	}
}
