/*
 * msgs - the message table of a box (struct store_msg in store.h) kept
 * small: 20 octets a message plus its name once, in one arena per box, so
 * that opening a folder of 100,000 messages costs a few MB and no malloc
 * per message.  What a Maildir name says (",S=" octets, ",W=" CRLF size,
 * arrival time and ",Z=" its zone, the UIDL before the first ',') is
 * parsed from the name when asked; what it cannot say is in an aux record.
 *
 * The arena holds NUL-terminated strings at offsets (it grows by realloc,
 * so pointers into it are valid only until the next add); offset 0 is an
 * empty string, so 0 means "none".  Nothing here fails: memory is
 * xmalloc'ed (an exhausted heap aborts, as everywhere in owlpost).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"
#include "store_private.h"

#define ARENA_MAX ((size_t)UINT32_MAX)

uint32_t
box_str(struct store_box *b, const char *s, size_t n)
{
	size_t need;
	uint32_t off;

	if (b->alen == 0) { /* offset 0: the empty string */
		b->acap = 4096;
		b->arena = xmalloc(b->acap);
		b->arena[0] = '\0';
		b->alen = 1;
	}
	need = b->alen + n + 1;
	if (need > ARENA_MAX)
		abort(); /* 4 GiB of names: not a mailbox we can serve */
	if (need > b->acap) {
		while (need > b->acap)
			b->acap *= 2;
		b->arena = xrealloc(b->arena, b->acap);
	}
	off = (uint32_t)b->alen;
	memcpy(b->arena + off, s, n);
	b->arena[off + n] = '\0';
	b->alen = need;
	return off;
}

size_t
box_add(struct store_box *b)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->msgs = xrealloc(b->msgs, b->cap * sizeof(*b->msgs));
	}
	memset(&b->msgs[b->n], 0, sizeof(b->msgs[b->n]));
	return b->n++;
}

struct store_aux *
box_aux(struct store_box *b, size_t i)
{
	struct store_msg *m = &b->msgs[i];

	if (m->aux == 0) {
		if (b->naux == b->aux_cap) {
			b->aux_cap = b->aux_cap ? b->aux_cap * 2 : 16;
			b->aux = xrealloc(b->aux,
					  b->aux_cap * sizeof(*b->aux));
		}
		memset(&b->aux[b->naux], 0, sizeof(b->aux[b->naux]));
		m->aux = (uint32_t)++b->naux;
	}
	return &b->aux[m->aux - 1];
}

static const struct store_aux *
aux_of(const struct store_box *b, size_t i)
{
	uint32_t a = b->msgs[i].aux;

	return a == 0 ? NULL : &b->aux[a - 1];
}

/* True if the octets before the first ',' or ':' make a UIDL. */
static bool
uidl_prefix(const char *name, size_t *n_r)
{
	size_t n = strcspn(name, ",:");

	*n_r = n;
	if (n == 0 || n > 70)
		return false;
	for (size_t k = 0; k < n; k++)
		if (name[k] <= ' ' || name[k] >= 0x7f)
			return false;
	return true;
}

static const char info_letters[] = "DFPRST";

/*
 * The flags of a ":2,LETTERS" ending of name, if it is one the flags can
 * give back exactly (system flag letters only, in ASCII order), with *at_r
 * where it starts; -1 if not.
 */
static int
info_flags(const char *name, size_t len, size_t *at_r)
{
	const char *colon = memchr(name, ':', len);
	int f = 0, last = -1;

	if (colon == NULL || strncmp(colon, ":2,", 3) != 0)
		return -1;
	for (const char *p = colon + 3; p < name + len; p++) {
		const char *l = strchr(info_letters, *p);
		int k = l != NULL && *p != '\0' ? (int)(l - info_letters) : -1;

		if (k <= last)
			return -1; /* unknown, repeated or out of order */
		f |= 1 << k;
		last = k;
	}
	*at_r = (size_t)(colon - name);
	return f;
}

void
box_set_name(struct store_box *b, size_t i, const char *name)
{
	struct store_msg *m = &b->msgs[i];
	size_t n, at, len = strlen(name);
	int f = info_flags(name, len, &at);

	m->bits &= (uint8_t)~(STORE_MSG_SPLIT | STORE_MSG_INFO);
	if (f >= 0) { /* ":2,FLAGS" is given back from info */
		m->info = (uint8_t)f;
		m->bits |= STORE_MSG_INFO;
		len = at;
	}
	if (uidl_prefix(name, &n) && n < len) {
		/* "UIDL\0REST", REST from the ',' on: the UIDL is a string
		 * of its own and the name is the two joined */
		char *s;

		m->name = box_str(b, name, len + 1);
		s = b->arena + m->name;
		memmove(s + n + 1, s + n, len - n);
		s[n] = '\0';
		s[len + 1] = '\0';
		m->bits |= STORE_MSG_SPLIT;
		return;
	}
	m->name = box_str(b, name, len);
	if (uidl_prefix(name, &n))
		return; /* the name (without its info) is its UIDL */
	snprintf(box_aux(b, i)->uidl, 72, "h%016llx",
		 store_hash(STORE_HASH_INIT, name, n));
}

int
store_box_file(const struct store_box *b, size_t i, char *out, size_t size)
{
	const struct store_msg *m = &b->msgs[i];
	const char *s = b->arena != NULL ? b->arena + m->name : "";
	char info[8];
	size_t k = 0;
	int n;

	if (m->bits & STORE_MSG_INFO)
		for (size_t f = 0; f < 6; f++)
			if (m->info & (1u << f))
				info[k++] = info_letters[f];
	info[k] = '\0';
	n = snprintf(out, size, "%s%s%s%s", s,
		     m->bits & STORE_MSG_SPLIT ? s + strlen(s) + 1 : "",
		     m->bits & STORE_MSG_INFO ? ":2," : "", info);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int
store_box_path(const struct store_box *b, size_t i, char *out, size_t size)
{
	char file[STORE_NAME_MAX * 2];
	int n;

	if (store_box_file(b, i, file, sizeof(file)) == -1)
		return -1;
	n = snprintf(out, size, "%s/%s/%s", b->path,
		     b->msgs[i].bits & STORE_MSG_NEW ? "new" : "cur", file);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

uint64_t
store_box_modseq(const struct store_box *b, size_t i)
{
	const struct store_msg *m = &b->msgs[i];

	if (m->aux != 0 && (b->aux[m->aux - 1].has & AUX_MODSEQ))
		return b->aux[m->aux - 1].modseq;
	return (uint64_t)m->modseq_hi << 32 | m->modseq_lo;
}

void
box_set_modseq(struct store_box *b, size_t i, uint64_t modseq)
{
	struct store_msg *m = &b->msgs[i];

	if (modseq >> 40 != 0) {
		struct store_aux *a = box_aux(b, i);

		a->modseq = modseq;
		a->has |= AUX_MODSEQ;
		return;
	}
	if (m->aux != 0)
		b->aux[m->aux - 1].has &= (uint8_t)~AUX_MODSEQ;
	m->modseq_lo = (uint32_t)modseq;
	m->modseq_hi = (uint8_t)(modseq >> 32);
}

const char *
store_box_uidl(const struct store_box *b, size_t i)
{
	const struct store_aux *a = aux_of(b, i);

	if (a != NULL && a->uidl[0] != '\0')
		return a->uidl;
	if (b->arena == NULL)
		return "";
	return b->arena + b->msgs[i].name; /* split: the UIDL part */
}

void
box_set_uidl(struct store_box *b, size_t i, const char *uidl)
{
	snprintf(box_aux(b, i)->uidl, 72, "%s", uidl);
}

/* A decimal number at p (at most 18 digits): its value, *end_r after it;
 * -1 if there is no digit.  strtoull's locale work was a tenth of an
 * open. */
static long long
take_decimal(const char *p, const char **end_r)
{
	long long v = 0;
	int n = 0;

	while (*p >= '0' && *p <= '9' && n < 18) {
		v = v * 10 + (*p++ - '0');
		n++;
	}
	*end_r = p;
	return n == 0 ? -1 : v;
}

/* The value after the first ",X=" of a name's base (its first base
 * octets) at or after from, or NULL. */
static const char *
next_field(const char *name, size_t base, const char *from, char x)
{
	for (const char *p = from; (p = memchr(p, ',', base -
					       (size_t)(p - name))) != NULL;
	     p++)
		if ((size_t)(p - name) + 3 <= base && p[1] == x && p[2] == '=')
			return p + 3;
	return NULL;
}

/* True if a field's value ends at end: at ',', ':' or the name's end. */
static bool
field_end(const char *end)
{
	return *end == ',' || *end == ':' || *end == '\0';
}

/* The value of ",X=" in a name's base (up to ':'), or -1. */
static long long
name_field(const char *name, size_t base, char x)
{
	for (const char *p = next_field(name, base, name, x); p != NULL;
	     p = next_field(name, base, p, x)) {
		const char *end;
		long long v = take_decimal(p, &end);

		if (v >= 0 && field_end(end))
			return v;
	}
	return -1;
}

long long
maildir_name_sizes(const char *name, long long *octets_r)
{
	size_t base = strcspn(name, ":");

	*octets_r = name_field(name, base, 'S');
	return name_field(name, base, 'W');
}

/* "+hhmm" or "-hhmm" at p, ending a field: its minutes, or -1 if not. */
static int
zone_value(const char *p, int *zone_r)
{
	int v[4];

	if (p[0] != '+' && p[0] != '-')
		return -1;
	for (int k = 0; k < 4; k++) {
		if (p[1 + k] < '0' || p[1 + k] > '9')
			return -1;
		v[k] = p[1 + k] - '0';
	}
	if (!field_end(p + 5) || v[0] * 10 + v[1] > 23 || v[2] > 5)
		return -1;
	*zone_r = (p[0] == '-' ? -1 : 1) *
		  ((v[0] * 10 + v[1]) * 60 + v[2] * 10 + v[3]);
	return 0;
}

int
maildir_name_zone(const char *name)
{
	size_t base = strcspn(name, ":");
	int zone;

	for (const char *p = next_field(name, base, name, 'Z'); p != NULL;
	     p = next_field(name, base, p, 'Z'))
		if (zone_value(p, &zone) == 0)
			return zone;
	return 0;
}

void
maildir_zone_field(int zone, char *out, size_t size)
{
	unsigned az = (unsigned)(zone < 0 ? -zone : zone);

	if (zone == 0 || zone < -STORE_ZONE_MAX || zone > STORE_ZONE_MAX) {
		if (size > 0)
			out[0] = '\0';
		return;
	}
	snprintf(out, size, ",Z=%c%02u%02u", zone < 0 ? '-' : '+', az / 60,
		 az % 60);
}

void
maildir_name_time(const char *name, unsigned long long *sec,
		  unsigned long long *usec)
{
	const char *end;
	long long v = take_decimal(name, &end);

	*sec = v < 0 ? 0 : (unsigned long long)v;
	*usec = 0;
	if (end[0] == '.' && end[1] == 'M' &&
	    (v = take_decimal(end + 2, &end)) >= 0)
		*usec = (unsigned long long)v;
}

void
store_box_info(const struct store_box *b, size_t i,
	       struct store_msg_info *out)
{
	const struct store_msg *m = &b->msgs[i];
	const struct store_aux *a = aux_of(b, i);

	memset(out, 0, sizeof(*out));
	if (m->name != 0) {
		/* read in place: the time starts the name, the sizes are
		 * in its rest (a name kept whole has none or an aux) */
		const char *s = b->arena + m->name;
		const char *rest = m->bits & STORE_MSG_SPLIT
					   ? s + strlen(s) + 1 : s;
		long long o, w = maildir_name_sizes(rest, &o);

		maildir_name_time(s, &out->sec, &out->usec);
		out->date = (time_t)out->sec;
		out->zone = maildir_name_zone(rest);
		out->size = w < 0 ? 0 : (size_t)w;
		out->octets = o < 0 ? 0 : (size_t)o;
	}
	if (a != NULL && (a->has & AUX_SIZES)) {
		out->size = a->size;
		out->octets = a->octets;
	}
	if (a != NULL && (a->has & AUX_DATE))
		out->date = a->date;
}

const char *
store_box_keywords(const struct store_box *b, size_t i)
{
	const struct store_aux *a = aux_of(b, i);

	return a != NULL && a->keywords != 0 ? b->arena + a->keywords : NULL;
}

void
box_set_keywords(struct store_box *b, size_t i, const char *kw)
{
	if (kw == NULL || *kw == '\0') {
		if (b->msgs[i].aux != 0)
			box_aux(b, i)->keywords = 0;
		return;
	}
	/* the arena first: box_aux may move b->aux, not the arena */
	{
		uint32_t off = box_str(b, kw, strlen(kw));

		box_aux(b, i)->keywords = off;
	}
}

size_t
box_adopt(struct store_box *to, const struct store_box *from, size_t i)
{
	const struct store_msg *m = &from->msgs[i];
	const struct store_aux *a = aux_of(from, i);
	char name[STORE_NAME_MAX * 2];
	size_t k = box_add(to);

	if (m->name != 0 && store_box_file(from, i, name, sizeof(name)) == 0)
		box_set_name(to, k, name);
	if (a != NULL) {
		struct store_aux *na = box_aux(to, k);
		uint32_t kw = na->keywords;

		*na = *a;
		na->keywords = kw;
		if (a->keywords != 0)
			box_set_keywords(to, k, from->arena + a->keywords);
	}
	box_set_modseq(to, k, store_box_modseq(from, i));
	to->msgs[k].uid = m->uid;
	to->msgs[k].flags = m->flags;
	to->msgs[k].bits |= (uint8_t)(m->bits &
				      (STORE_MSG_GONE | STORE_MSG_NEW));
	return k;
}

void
store_box_free_msgs(struct store_box *b)
{
	free(b->msgs);
	free(b->aux);
	free(b->arena);
	b->msgs = NULL;
	b->aux = NULL;
	b->arena = NULL;
	b->n = b->cap = b->naux = b->aux_cap = b->alen = b->acap = 0;
}

/* --- UIDLs made unique (POP3 needs them so) ---------------------------- */

static int
cmp_uidl_idx(const void *a, const void *b, void *arg)
{
	const struct store_box *box = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = strcmp(store_box_uidl(box, i), store_box_uidl(box, j));

	return c != 0 ? c : (i > j) - (i < j);
}

/* A repeat's uidl: "UIDL.K", or "HASH.K" where that would be too long. */
static void
uidl_suffix(char *uidl, size_t k)
{
	char tail[24];
	size_t n = (size_t)snprintf(tail, sizeof(tail), ".%zu", k);

	if (strlen(uidl) + n > 70)
		snprintf(uidl, 72, "h%016llx",
			 store_hash(STORE_HASH_INIT, uidl, strlen(uidl)));
	strcat(uidl, tail);
}

/*
 * One pass: sort indexes by uidl; in each run of one uidl every message
 * but the first gets ".2", ".3", ... (salt > 0: a hash of the salt, the
 * uidl and the message's number, then ".number", instead).  True if it
 * renamed any.
 */
static bool
unique_round(struct store_box *b, unsigned salt)
{
	size_t *idx = xcalloc(b->n + 1, sizeof(*idx));
	bool renamed = false;
	char run[72], uidl[72];

	for (size_t i = 0; i < b->n; i++)
		idx[i] = i;
	qsort_r(idx, b->n, sizeof(*idx), cmp_uidl_idx, b);
	snprintf(run, sizeof(run), "%s", store_box_uidl(b, idx[0]));
	for (size_t i = 1, k = 2; i < b->n; i++) {
		snprintf(uidl, sizeof(uidl), "%s", store_box_uidl(b, idx[i]));
		if (strcmp(uidl, run) != 0) {
			snprintf(run, sizeof(run), "%s", uidl);
			k = 2;
			continue;
		}
		if (salt > 0)
			snprintf(uidl, sizeof(uidl), "h%016llx.%zu",
				 store_hash(store_hash(store_hash(
					STORE_HASH_INIT, &salt, sizeof(salt)),
					run, strlen(run)),
					&idx[i], sizeof(idx[i])),
				 idx[i] + 1);
		else
			uidl_suffix(uidl, k++);
		box_set_uidl(b, idx[i], uidl);
		renamed = true;
	}
	free(idx);
	return renamed;
}

/* True if no two of b's uidls are the same: one pass with a hash table
 * (the usual case; sorting 100,000 of them was a third of an open). */
static bool
uidls_unique(const struct store_box *b)
{
	size_t cap = 16, mask;
	uint32_t *slot;
	bool unique = true;

	while (cap < b->n * 2)
		cap *= 2;
	mask = cap - 1;
	slot = xcalloc(cap, sizeof(*slot));
	for (size_t i = 0; i < b->n && unique; i++) {
		const char *u = store_box_uidl(b, i);
		size_t h = (size_t)store_hash(STORE_HASH_INIT, u, strlen(u));

		for (h &= mask; slot[h] != 0; h = (h + 1) & mask)
			if (strcmp(store_box_uidl(b, slot[h] - 1), u) == 0) {
				unique = false;
				break;
			}
		slot[h] = (uint32_t)i + 1;
	}
	free(slot);
	return unique;
}

void
store_box_unique_uidls(struct store_box *b)
{
	unsigned round = 0;

	/*
	 * Again while a suffix made a new repeat: a few rounds at most unless
	 * the names were made to collide; then hashes settle it, a new salt
	 * each round, since a hashed name can meet a name already there.
	 */
	if (b->n < 2 || b->n >= UINT32_MAX || uidls_unique(b))
		return;
	while (unique_round(b, 0))
		if (++round == 8)
			break;
	for (unsigned salt = 1; round == 8 && unique_round(b, salt); salt++)
		;
}
