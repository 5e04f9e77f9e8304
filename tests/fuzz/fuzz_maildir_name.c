/*
 * libFuzzer harness for Maildir file names (maildir_name_info: the
 * ",S=...,W=..." sizes, the ":2,flags" info, the arrival time and the
 * UIDL that POP3 takes from a name), one name per input line, as readdir
 * would give them.  Checks: no crash, no sanitizer report; a UIDL is 1-70
 * printable octets, the base name when that is one; a name as owld
 * writes it (BASE,S=N,W=M:2,FLAGS) gives back M; after
 * store_box_unique_uidls no two UIDLs in the snapshot are the same.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_private.h"

#define NAMES_MAX 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_uidl(const char *name, const char *uidl)
{
	size_t n = strnlen(uidl, 72), base = strcspn(name, ",:");
	bool printable = base > 0 && base <= 70;

	if (n == 0 || n > 70)
		abort();
	for (size_t k = 0; k < n; k++)
		if (uidl[k] <= ' ' || uidl[k] >= 0x7f)
			abort();
	for (size_t k = 0; printable && k < base; k++)
		printable = name[k] > ' ' && name[k] < 0x7f;
	if (printable && (n != base || memcmp(uidl, name, n) != 0))
		abort();
}

static void
add(struct store_box *b, const char *name, long long want_w)
{
	struct store_msg *m = &b->msgs[b->n];
	long long w;

	memset(m, 0, sizeof(*m));
	w = maildir_name_info(name, m);
	if (w < -1 || (want_w >= 0 && w != want_w))
		abort();
	check_uidl(name, m->uidl);
	b->n++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_msg msgs[2 * NAMES_MAX];
	struct store_box b = {.msgs = msgs, .fd = -1};
	const char *p = (const char *)data, *end = p + size;

	while (p < end && b.n + 2 <= 2 * NAMES_MAX) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char name[256], ours[400];
		unsigned long long s;
		size_t k;

		if (l > 0 && l < sizeof(name) && p[0] != '.' &&
		    memchr(p, '/', l) == NULL && memchr(p, '\0', l) == NULL) {
			memcpy(name, p, l);
			name[l] = '\0';
			add(&b, name, -1);
			/* the same base as owld names its files */
			k = strcspn(name, ",:");
			s = store_hash(STORE_HASH_INIT, name, l);
			snprintf(ours, sizeof(ours), "%.*s,S=%llu,W=%llu:2,%s",
				 (int)k, name, s >> 40, (s >> 40) + (s & 0xffff),
				 name + k + (name[k] != '\0'));
			if (k > 0)
				add(&b, ours, (long long)((s >> 40) +
							  (s & 0xffff)));
		}
		p += l + (nl != NULL);
	}
	store_box_unique_uidls(&b);
	for (size_t i = 0; i < b.n; i++) {
		size_t n = strnlen(b.msgs[i].uidl, 72);

		if (n == 0 || n > 70)
			abort();
		for (size_t j = 0; j < i; j++)
			if (strcmp(b.msgs[i].uidl, b.msgs[j].uidl) == 0)
				abort();
	}
	return 0;
}
