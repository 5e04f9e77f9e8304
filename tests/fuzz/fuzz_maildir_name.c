/*
 * libFuzzer harness for Maildir file names (as a box keeps them: the
 * ",S=...,W=..." sizes, the ",Z=" zone, the ":2,flags" info, the arrival
 * time and the UIDL that POP3 takes from a name), one name per input
 * line, as readdir would give them.  Checks: no crash, no sanitizer
 * report; a UIDL is 1-70 printable octets, the base name when that is
 * one; the name comes back whole from the box's compact form; a zone is
 * within +-23:59; a name as owld writes it (BASE,S=N,W=M[,Z=+hhmm]:2,FLAGS)
 * gives back M and its zone; after store_box_unique_uidls no two UIDLs
 * in the snapshot are the same.
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

/* Keeps name in the box as the scan does: the name must come back
 * whole, its UIDL as check_uidl says, its W= as want_w says, its zone
 * as want_zone says (if want_w is given). */
static void
add(struct store_box *b, const char *name, long long want_w, int want_zone)
{
	char back[600];
	long long w, o;
	size_t i = box_add(b);

	box_set_name(b, i, name);
	w = maildir_name_sizes(name, &o);
	if (w < -1 || (want_w >= 0 && w != want_w))
		abort();
	if (store_box_file(b, i, back, sizeof(back)) == -1 ||
	    strcmp(back, name) != 0)
		abort();
	check_uidl(name, store_box_uidl(b, i));
	/* what the box reads in place is what the whole name says */
	{
		struct store_msg_info mi;
		unsigned long long sec, usec;

		store_box_info(b, i, &mi);
		maildir_name_time(name, &sec, &usec);
		if (mi.sec != sec || mi.usec != usec ||
		    (w >= 0 && o >= 0 &&
		     (mi.size != (size_t)w || mi.octets != (size_t)o)))
			abort();
		if (mi.zone != maildir_name_zone(name) ||
		    mi.zone < -STORE_ZONE_MAX || mi.zone > STORE_ZONE_MAX ||
		    (want_w >= 0 && mi.zone != want_zone))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_box b = {.fd = -1};
	const char *p = (const char *)data, *end = p + size;

	while (p < end && b.n + 2 <= 2 * NAMES_MAX) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char name[256], ours[400], zf[STORE_ZONE_FIELD];
		unsigned long long s;
		size_t k;
		int zone;

		if (l > 0 && l < sizeof(name) && p[0] != '.' &&
		    memchr(p, '/', l) == NULL && memchr(p, '\0', l) == NULL) {
			memcpy(name, p, l);
			name[l] = '\0';
			add(&b, name, -1, 0);
			/* the same base as owld names its files */
			k = strcspn(name, ",:");
			s = store_hash(STORE_HASH_INIT, name, l);
			zone = (int)((s >> 16) % (2 * STORE_ZONE_MAX + 1)) -
			       STORE_ZONE_MAX;
			maildir_zone_field(zone, zf, sizeof(zf));
			snprintf(ours, sizeof(ours),
				 "%.*s,S=%llu,W=%llu%s:2,%s", (int)k, name,
				 s >> 40, (s >> 40) + (s & 0xffff), zf,
				 name + k + (name[k] != '\0'));
			if (k > 0)
				add(&b, ours, (long long)((s >> 40) +
							  (s & 0xffff)), zone);
		}
		p += l + (nl != NULL);
	}
	store_box_unique_uidls(&b);
	for (size_t i = 0; i < b.n; i++) {
		size_t n = strnlen(store_box_uidl(&b, i), 72);

		if (n == 0 || n > 70)
			abort();
		for (size_t j = 0; j < i; j++)
			if (strcmp(store_box_uidl(&b, i),
				   store_box_uidl(&b, j)) == 0)
				abort();
	}
	store_box_free_msgs(&b);
	return 0;
}
