/*
 * libFuzzer harness for IMAP sequence sets (proto/imap_seqset.h).  The
 * first byte gives "*" (the largest number in use), the rest is the set's
 * text.  A set that parses must resolve into sorted, disjoint,
 * non-touching ranges whose membership is what its elements say (checked
 * for every number up to 300 against the parsed elements themselves).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/imap_seqset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_seqset set, raw;
	const char *why;
	uint32_t star;

	if (size < 1)
		return 0;
	star = data[0];
	why = NULL;
	if (imap_seqset_parse((const char *)data + 1, size - 1, 64, &set,
			      &why) == -1) {
		if (why == NULL || set.r != NULL)
			abort(); /* a refusal says why and keeps nothing */
		return 0;
	}
	imap_seqset_parse((const char *)data + 1, size - 1, 64, &raw, &why);
	imap_seqset_resolve(&set, star);
	for (size_t i = 0; i < set.n; i++) {
		if (set.r[i].lo > set.r[i].hi)
			abort();
		if (i > 0 && (uint64_t)set.r[i - 1].hi + 1 >= set.r[i].lo)
			abort();
	}
	for (uint32_t v = 0; v <= 300; v++) {
		bool in = false;

		for (size_t i = 0; i < raw.n && !in; i++) {
			uint32_t lo = raw.r[i].lo ? raw.r[i].lo : star;
			uint32_t hi = raw.r[i].hi ? raw.r[i].hi : star;

			in = lo <= hi ? v >= lo && v <= hi : v >= hi && v <= lo;
		}
		if (in != imap_seqset_has(&set, v))
			abort();
	}
	imap_seqset_free(&set);
	imap_seqset_free(&raw);
	return 0;
}
