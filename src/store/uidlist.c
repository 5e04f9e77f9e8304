/*
 * uidlist - see uidlist.h and docs/MAILDIR.md.  The format, one LF-ended
 * line each:
 *
 *   owlpost-uidlist 1 V<uidvalidity> N<uidnext> M<highestmodseq> R<recent>
 *   <uid> <modseq> <flags> [+<keyword> ...] :<base name>
 *
 * Numbers are decimal without leading zeros; flags are the Maildir info
 * letters in ASCII order or "-"; the base name is the rest of the line,
 * with '\' and LF written as "\\" and "\n".  The parser walks the buffer
 * once and never reads past len.
 *
 * Memory: the parser works in place on its own copy of the text (one
 * block): a record's base name is the rest of its line, its LF made a NUL
 * (unescaped in place when it has escapes), its keywords are moved down
 * over their " +" in place.  The names a sync adds go to one more block,
 * sized for them; past 16 blocks a sync copies the live strings into one.
 * So a record costs its line and its struct, and opening a folder of
 * 100,000 messages makes a handful of allocations, not 200,000.  Keywords
 * set by uidlist_set_keywords() are malloc'ed one by one (they are few,
 * and rewritten often); uidlist_free() tells them from the blocks' by
 * address.  Base names are matched by hashing (a set that keeps each
 * name's hash next to its index, so a probe touches a name only when the
 * hashes agree); the parser's set, built to refuse a repeated base, is
 * kept for the sync that follows it.
 */
#include "uidlist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char flag_letters[] = "DFPRST";

/* --- blocks of strings ------------------------------------------------- */

struct uidlist_block {
	struct uidlist_block *next;
	size_t len, cap;
	char data[];
};

static struct uidlist_block *
block_new(size_t cap)
{
	struct uidlist_block *b;

	if (cap > SIZE_MAX - sizeof(*b) - 1)
		abort();
	b = xmalloc(sizeof(*b) + cap + 1);
	b->next = NULL;
	b->len = 0;
	b->cap = cap;
	return b;
}

static struct uidlist_block *
block_of(char *buf)
{
	return (struct uidlist_block *)(void *)(buf -
		offsetof(struct uidlist_block, data));
}

char *
uidlist_buf_new(size_t len)
{
	struct uidlist_block *b = block_new(len);

	b->len = len;
	return b->data;
}

void
uidlist_buf_free(char *buf)
{
	if (buf != NULL)
		free(block_of(buf));
}

/* Adds b to ul's blocks. */
static void
block_keep(struct uidlist *ul, struct uidlist_block *b)
{
	b->next = ul->blocks;
	ul->blocks = b;
}

/* Copies s (n octets) NUL-terminated into b, which has room. */
static char *
block_add(struct uidlist_block *b, const char *s, size_t n)
{
	char *p = b->data + b->len;

	memcpy(p, s, n);
	p[n] = '\0';
	b->len += n + 1;
	return p;
}

/* True if p is in one of ul's blocks (else it was malloc'ed alone). */
static bool
in_blocks(const struct uidlist *ul, const char *p)
{
	uintptr_t a = (uintptr_t)p;

	for (const struct uidlist_block *b = ul->blocks; b != NULL;
	     b = b->next)
		if (a >= (uintptr_t)b->data && a <= (uintptr_t)b->data + b->cap)
			return true;
	return false;
}

/* --- a set of base names (open addressing) ---------------------------- */

/*
 * Matching names by hashing keeps a sync linear: sorting 100,000 names to
 * match them was most of the time of opening a big folder.  An entry is a
 * record (ref: its index + 1) or a file of a listing (ref: its index + 1
 * with FILE_REF set); each slot keeps the name's hash, so a probe reads a
 * name only when the hashes agree.
 */
#define FILE_REF 0x80000000u
#define NAMES_MAX 0x7fffffffu	/* records, or files, at most */

struct names_slot {
	uint32_t hash;
	uint32_t ref;		/* 0: empty */
};

struct uidlist_names {
	struct names_slot *slot;
	size_t mask, count;
};

/* Eight octets per step (names are ~60 octets), then a final mix. */
static uint32_t
hash_name(const char *s, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, w;

	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, s, n);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
	return (uint32_t)(h ^ (h >> 29));
}

static struct uidlist_names *
names_new(size_t n)
{
	struct uidlist_names *ns = xmalloc(sizeof(*ns));
	size_t cap = 16;

	while (cap < 2 * n + 1)
		cap *= 2;
	ns->slot = xcalloc(cap, sizeof(*ns->slot));
	ns->mask = cap - 1;
	ns->count = 0;
	return ns;
}

static void
names_free(struct uidlist_names **nsp)
{
	if (*nsp == NULL)
		return;
	free((*nsp)->slot);
	free(*nsp);
	*nsp = NULL;
}

/* Doubles the table when it is half full: from the kept hashes alone. */
static void
names_grow(struct uidlist_names *ns)
{
	struct names_slot *old = ns->slot;
	size_t oldcap = ns->mask + 1;

	if (2 * (ns->count + 1) <= oldcap)
		return;
	ns->slot = xcalloc(2 * oldcap, sizeof(*ns->slot));
	ns->mask = 2 * oldcap - 1;
	for (size_t i = 0; i < oldcap; i++) {
		size_t h = old[i].hash & ns->mask;

		if (old[i].ref == 0)
			continue;
		while (ns->slot[h].ref != 0)
			h = (h + 1) & ns->mask;
		ns->slot[h] = old[i];
	}
	free(old);
}

/* Does ref name s (n octets)?  A record's base is NUL-terminated. */
static bool
ref_is(const struct uidlist *ul, const struct uidlist_file *files,
       uint32_t ref, const char *s, size_t n)
{
	const char *t;

	if (ref & FILE_REF) {
		const struct uidlist_file *f = &files[(ref & ~FILE_REF) - 1];

		return f->baselen == n && memcmp(f->name, s, n) == 0;
	}
	t = ul->recs[ref - 1].base;
	return strncmp(t, s, n) == 0 && t[n] == '\0';
}

/*
 * The entry named s (n octets, hash h), or 0; if none and add is not 0,
 * adds add.
 */
static uint32_t
names_find(struct uidlist_names *ns, const struct uidlist *ul,
	   const struct uidlist_file *files, const char *s, size_t n,
	   uint32_t h, uint32_t add)
{
	size_t i;

	if (add != 0)
		names_grow(ns);
	for (i = h & ns->mask; ns->slot[i].ref != 0; i = (i + 1) & ns->mask)
		if (ns->slot[i].hash == h &&
		    ref_is(ul, files, ns->slot[i].ref, s, n))
			return ns->slot[i].ref;
	if (add != 0) {
		ns->slot[i].hash = h;
		ns->slot[i].ref = add;
		ns->count++;
	}
	return 0;
}

/*
 * A set of the bases of ul's records (a repeat is left out), with room for
 * extra more names.
 */
static struct uidlist_names *
names_of_recs(const struct uidlist *ul, size_t extra)
{
	struct uidlist_names *ns = names_new(ul->n + extra);

	for (size_t i = 0; i < ul->n; i++) {
		const char *b = ul->recs[i].base;
		size_t len = strlen(b);

		names_find(ns, ul, NULL, b, len, hash_name(b, len),
			   (uint32_t)i + 1);
	}
	return ns;
}

/* --- records ----------------------------------------------------------- */

void
uidlist_init(struct uidlist *ul, uint32_t uidvalidity)
{
	memset(ul, 0, sizeof(*ul));
	ul->uidvalidity = uidvalidity;
	ul->uidnext = 1;
	ul->highestmodseq = 1;
	ul->recent = 1;
}

void
uidlist_free(struct uidlist *ul)
{
	struct uidlist_block *b, *next;

	for (size_t i = 0; i < ul->n; i++)
		if (ul->recs[i].keywords != NULL &&
		    !in_blocks(ul, ul->recs[i].keywords))
			free(ul->recs[i].keywords);
	for (b = ul->blocks; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	names_free(&ul->names);
	free(ul->recs);
	memset(ul, 0, sizeof(*ul));
}

unsigned
uidlist_flags_of_name(const char *name)
{
	const char *info = strchr(name, ':');
	unsigned f = 0;

	if (info == NULL || strncmp(info, ":2,", 3) != 0)
		return 0;
	for (info += 3; *info != '\0'; info++) {
		const char *l = strchr(flag_letters, *info);

		if (l != NULL)
			f |= 1u << (l - flag_letters);
	}
	return f;
}

struct uidlist_rec *
uidlist_find(struct uidlist *ul, uint32_t uid)
{
	size_t lo = 0, hi = ul->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ul->recs[mid].uid == uid)
			return &ul->recs[mid];
		if (ul->recs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void
uidlist_set_keywords(struct uidlist *ul, struct uidlist_rec *r,
		     const char *kw)
{
	if (r->keywords != NULL && !in_blocks(ul, r->keywords))
		free(r->keywords);
	r->keywords = kw != NULL && *kw != '\0' ? xstrdup(kw) : NULL;
}

static int
cmp_u32_asc(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

void
uidlist_in_order(struct uidlist *ul, uint32_t *uids, size_t n)
{
	uint32_t *sorted = xcalloc(n + 1, sizeof(*sorted));
	struct uidlist_rec *was = xcalloc(n + 1, sizeof(*was));

	for (size_t k = 0; k < n; k++) {
		sorted[k] = uids[k];
		was[k] = *uidlist_find(ul, uids[k]);
	}
	qsort(sorted, n, sizeof(*sorted), cmp_u32_asc);
	for (size_t k = 0; k < n; k++) {
		struct uidlist_rec *to = uidlist_find(ul, sorted[k]);

		to->base = was[k].base;
		to->flags = was[k].flags;
		to->innew = was[k].innew;
		to->modseq = was[k].modseq;
		to->keywords = was[k].keywords;
		uids[k] = sorted[k];
	}
	names_free(&ul->names); /* its entries name records by place */
	free(sorted);
	free(was);
}

uint64_t
uidlist_next_modseq(struct uidlist *ul)
{
	if (ul->highestmodseq < UIDLIST_MODSEQ_MAX)
		ul->highestmodseq++;
	return ul->highestmodseq;
}

/* --- parsing ------------------------------------------------------------ */

struct cursor {
	char *p, *end;		/* the rest of one line */
};

/*
 * A decimal number of at most max, no leading zero; -1 if not.  Up to 19
 * digits cannot overflow 64 bits, so the bound is checked once at the end.
 */
static int
take_num(struct cursor *c, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	const char *start = c->p;

	while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
		if (c->p - start == 19)
			return -1;
		v = v * 10 + (unsigned)(*c->p - '0');
		c->p++;
	}
	if (c->p == start || (*start == '0' && c->p - start > 1) || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
take_char(struct cursor *c, char ch)
{
	if (c->p >= c->end || *c->p != ch)
		return -1;
	c->p++;
	return 0;
}

/* The bit of a flag letter (D F P R S T), or -1. */
static int
flag_bit(char ch)
{
	switch (ch) {
	case 'D': return 0;
	case 'F': return 1;
	case 'P': return 2;
	case 'R': return 3;
	case 'S': return 4;
	case 'T': return 5;
	default: return -1;
	}
}

/*
 * The flags field: "-" or distinct letters of DFPRST in ASCII order, and
 * after them an "n" if the file is in new/ ("n" alone: no flags).
 */
static int
take_flags(struct cursor *c, uint16_t *out, bool *innew)
{
	int last = -1;

	*out = 0;
	*innew = false;
	if (take_char(c, '-') == 0)
		return 0;
	while (c->p < c->end && *c->p != ' ' && *c->p != 'n') {
		int bit = flag_bit(*c->p);

		if (bit <= last)
			return -1;
		last = bit;
		*out |= (uint16_t)(1u << bit);
		c->p++;
	}
	if (c->p < c->end && *c->p == 'n') {
		*innew = true;
		c->p++;
		return c->p == c->end || *c->p == ' ' ? 0 : -1;
	}
	return last == -1 ? -1 : 0;
}

/* An IMAP atom character that may stand in a keyword. */
static bool
keyword_char(char ch)
{
	return ch > ' ' && ch < 0x7f && ch != '(' && ch != ')' &&
	       ch != '{' && ch != '%' && ch != '*' && ch != '"' &&
	       ch != '\\' && ch != ']';
}

/*
 * Zero or more " +keyword", moved down in place to "kw kw ...": shorter
 * by at least one octet, so its NUL lands before the line's next field.
 */
static int
take_keywords(struct cursor *c, char **out)
{
	char *start = c->p, *w = c->p;
	size_t count = 0;

	*out = NULL;
	while (c->end - c->p >= 2 && c->p[0] == ' ' && c->p[1] == '+') {
		char *s = c->p + 2, *e = s;

		while (e < c->end && keyword_char(*e))
			e++;
		if (e == s || e - s > UIDLIST_KEYWORD_MAX ||
		    ++count > UIDLIST_KEYWORDS_MAX)
			return -1;
		if (count > 1)
			*w++ = ' ';
		memmove(w, s, (size_t)(e - s));
		w += e - s;
		c->p = e;
	}
	if (count > 0) {
		*w = '\0';
		*out = start;
	}
	return 0;
}

/* Octets that end the quick scan of a base name: escapes and refusals. */
static bool
base_special(unsigned char ch)
{
	return ch == '\\' || ch == '\0' || ch == '/' || ch == ':' ||
	       ch == '\n';
}

/* Non-zero if a byte of v is zero (exactly: no false alarm). */
static uint64_t
zero_byte(uint64_t v)
{
	return (v - 0x0101010101010101ULL) & ~v & 0x8080808080808080ULL;
}

/*
 * The octets of [p, end) before the first base_special one: eight at a
 * time (names are ~60 octets; this was half the cost of a record).
 */
static size_t
plain_span(const char *p, const char *end)
{
	const uint64_t ones = 0x0101010101010101ULL;
	const char *q = p;

	for (; end - q >= 8; q += 8) {
		uint64_t w;

		memcpy(&w, q, 8);
		if (zero_byte(w) | zero_byte(w ^ (ones * '\\')) |
		    zero_byte(w ^ (ones * '/')) | zero_byte(w ^ (ones * ':')) |
		    zero_byte(w ^ (ones * '\n')))
			break;
	}
	while (q < end && !base_special((unsigned char)*q))
		q++;
	return (size_t)(q - p);
}

/*
 * The base name: the rest of the line, unescaped in place and checked;
 * the line's LF (at c->end) becomes its NUL.  *len_r: its octets.
 */
static int
take_base(struct cursor *c, char **out, size_t *len_r)
{
	char *q = c->p + plain_span(c->p, c->end), *w;
	size_t len = 0;

	/* the usual name has nothing to unescape */
	if (q == c->end && q - c->p <= UIDLIST_BASE_MAX && q > c->p &&
	    *c->p != '.') {
		*out = c->p;
		*len_r = (size_t)(q - c->p);
		*q = '\0';
		c->p = q;
		return 0;
	}
	for (w = c->p, *out = c->p; c->p < c->end; c->p++) {
		char ch = *c->p;

		if (ch == '\\') {
			if (++c->p == c->end)
				return -1;
			ch = *c->p == 'n' ? '\n' : *c->p == '\\' ? '\\' : 0;
			if (ch == 0)
				return -1;
		} else if (ch == '\0' || ch == '/' || ch == ':' || ch == '\n') {
			return -1;
		}
		if (len == UIDLIST_BASE_MAX)
			return -1;
		w[len++] = ch;
	}
	if (len == 0 || w[0] == '.')
		return -1;
	w[len] = '\0';
	*len_r = len;
	return 0;
}

/* A stamp SEC.NSEC.INO (nsec below 10^9). */
static int
take_stamp(struct cursor *c, struct uidlist_stamp *s)
{
	uint64_t sec, nsec, ino;

	if (take_num(c, INT64_MAX, &sec) == -1 || take_char(c, '.') == -1 ||
	    take_num(c, 999999999, &nsec) == -1 || take_char(c, '.') == -1 ||
	    take_num(c, UINT64_MAX >> 1, &ino) == -1)
		return -1;
	s->sec = (int64_t)sec;
	s->nsec = (long)nsec;
	s->ino = ino;
	return 0;
}

static int
parse_header(struct uidlist *ul, struct cursor *c)
{
	static const char magic[] = UIDLIST_MAGIC " ";
	uint64_t version, v, n, m, r;
	size_t ml = sizeof(magic) - 1;

	if ((size_t)(c->end - c->p) < ml || memcmp(c->p, magic, ml) != 0)
		return -1;
	c->p += ml;
	if (take_num(c, UINT32_MAX, &version) == -1 ||
	    version != UIDLIST_VERSION || take_char(c, ' ') == -1 ||
	    take_char(c, 'V') == -1 || take_num(c, UINT32_MAX, &v) == -1 ||
	    take_char(c, ' ') == -1 || take_char(c, 'N') == -1 ||
	    take_num(c, UINT32_MAX, &n) == -1 || take_char(c, ' ') == -1 ||
	    take_char(c, 'M') == -1 ||
	    take_num(c, UIDLIST_MODSEQ_MAX, &m) == -1 || v == 0 || n == 0 ||
	    m == 0)
		return -1;
	/* R<recent>: absent in an index written before \Recent was kept,
	 * where nothing is recent any more */
	r = n;
	if (c->p != c->end &&
	    (take_char(c, ' ') == -1 || take_char(c, 'R') == -1 ||
	     take_num(c, UINT32_MAX, &r) == -1 || r == 0 || r > n))
		return -1;
	/* C<stamp>: cur/ as the scan that wrote it saw it (optional) */
	if (c->p != c->end &&
	    (take_char(c, ' ') == -1 || take_char(c, 'C') == -1 ||
	     take_stamp(c, &ul->cur) == -1 || ul->cur.sec == 0))
		return -1;
	/* W<stamp>: new/ as that scan saw it (optional, only after C) */
	if (c->p != c->end && ul->cur.sec != 0 &&
	    (take_char(c, ' ') == -1 || take_char(c, 'W') == -1 ||
	     take_stamp(c, &ul->newdir) == -1 || ul->newdir.sec == 0))
		return -1;
	if (c->p != c->end)
		return -1;
	ul->recent = (uint32_t)r;
	ul->uidvalidity = (uint32_t)v;
	ul->uidnext = (uint32_t)n;
	ul->highestmodseq = m;
	return 0;
}

/* The fields of a record line into r (its strings in the line); -1 if
 * bad.  *len_r: the base's octets. */
static int
take_rec(struct cursor *c, struct uidlist_rec *r, size_t *len_r)
{
	uint64_t uid, modseq;

	memset(r, 0, sizeof(*r));
	if (take_num(c, UINT32_MAX, &uid) == -1 || uid == 0 ||
	    take_char(c, ' ') == -1 ||
	    take_num(c, UIDLIST_MODSEQ_MAX, &modseq) == -1 || modseq == 0 ||
	    take_char(c, ' ') == -1 ||
	    take_flags(c, &r->flags, &r->innew) == -1 ||
	    take_keywords(c, &r->keywords) == -1 ||
	    take_char(c, ' ') == -1 || take_char(c, ':') == -1 ||
	    take_base(c, &r->base, len_r) == -1)
		return -1;
	r->uid = (uint32_t)uid;
	r->modseq = modseq;
	return 0;
}

/*
 * One record line into ul->recs and its base into ul->names; -1 if bad,
 * or if its base is another's (*repeat_r).
 */
static int
parse_rec(struct uidlist *ul, struct cursor *c, bool *repeat_r)
{
	struct uidlist_rec *r;
	uint32_t prev = ul->n > 0 ? ul->recs[ul->n - 1].uid : 0;
	size_t len;

	if (ul->n == NAMES_MAX)
		return -1;
	if (ul->n == ul->cap) {
		ul->cap *= 2;
		ul->recs = xrealloc(ul->recs,
				    (ul->cap + 1) * sizeof(*ul->recs));
	}
	r = &ul->recs[ul->n];
	if (take_rec(c, r, &len) == -1 || r->uid <= prev ||
	    r->uid >= ul->uidnext || r->modseq > ul->highestmodseq)
		return -1;
	ul->n++;
	*repeat_r = names_find(ul->names, ul, NULL, r->base, len,
			       hash_name(r->base, len), (uint32_t)ul->n) != 0;
	return *repeat_r ? -1 : 0;
}

/* Parses the text of buf (not yet ul's) into ul; -1 with err. */
static int
parse_text(struct uidlist *ul, char *buf, size_t len, char *err,
	   size_t errsz)
{
	char *p = buf, *end = buf + len;
	size_t line = 0;
	bool repeat = false;

	/*
	 * Room for records of 48 octets (ours are longer), and a set for
	 * 64 (it grows): no copy for an index of ours, and memory in
	 * proportion to what parses, not to the LFs of a file that does not.
	 */
	ul->cap = len / 48 + 16;
	ul->recs = xmalloc((ul->cap + 1) * sizeof(*ul->recs));
	ul->names = names_new(len / 64 + 16);
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		struct cursor c = {p, nl};
		int r;

		line++;
		if (nl == NULL) {
			snprintf(err, errsz, "line %zu: cut (no newline)",
				 line);
			return -1;
		}
		if (nl - p > UIDLIST_LINE_MAX) {
			snprintf(err, errsz, "line %zu: too long", line);
			return -1;
		}
		r = line == 1 ? parse_header(ul, &c)
			      : parse_rec(ul, &c, &repeat);
		if (r == -1 || c.p != c.end) {
			snprintf(err, errsz, "line %zu: %s", line,
				 line == 1 ? "bad header"
				 : repeat  ? "a base name appears twice"
					   : "bad record");
			return -1;
		}
		p = nl + 1;
	}
	if (line == 0) {
		snprintf(err, errsz, "empty file");
		return -1;
	}
	return 0;
}

int
uidlist_parse_buf(struct uidlist *ul, char *buf, size_t len, char *err,
		  size_t errsz)
{
	memset(ul, 0, sizeof(*ul));
	if (parse_text(ul, buf, len, err, errsz) == -1) {
		/* every string is in buf, which stays the caller's */
		names_free(&ul->names);
		free(ul->recs);
		memset(ul, 0, sizeof(*ul));
		return -1;
	}
	block_keep(ul, block_of(buf));
	return 0;
}

int
uidlist_parse(struct uidlist *ul, const char *data, size_t len, char *err,
	      size_t errsz)
{
	char *buf = uidlist_buf_new(len);

	if (len > 0)
		memcpy(buf, data, len);
	if (uidlist_parse_buf(ul, buf, len, err, errsz) == -1) {
		uidlist_buf_free(buf);
		return -1;
	}
	return 0;
}

/* --- formatting --------------------------------------------------------- */

/* v in decimal at p; returns the end. */
static char *
put_num(char *p, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

/* The base name, '\' and LF escaped. */
static int
format_base(const char *base, struct buf *out)
{
	size_t n = strcspn(base, "\\\n");
	int e = buf_add(out, base, n);

	for (const char *s = base + n; e == 0 && *s != '\0'; s++)
		e = *s == '\\'	 ? buf_addstr(out, "\\\\")
		    : *s == '\n' ? buf_addstr(out, "\\n")
				 : buf_addc(out, *s);
	return e;
}

int
uidlist_format_rec(const struct uidlist_rec *r, struct buf *out)
{
	char head[64], *p = head;
	int e;

	p = put_num(p, r->uid);
	*p++ = ' ';
	p = put_num(p, r->modseq);
	*p++ = ' ';
	for (int i = 0; flag_letters[i] != '\0'; i++)
		if (r->flags & (1u << i))
			*p++ = flag_letters[i];
	if (r->innew)
		*p++ = 'n';
	else if ((r->flags & ((1u << 6) - 1)) == 0)
		*p++ = '-';
	e = buf_add(out, head, (size_t)(p - head));
	for (const char *k = r->keywords; e == 0 && k != NULL && *k != '\0';) {
		size_t n = strcspn(k, " ");

		e = buf_addstr(out, " +");
		if (e == 0)
			e = buf_add(out, k, n);
		k += n + (k[n] == ' ');
	}
	if (e == 0)
		e = buf_addstr(out, " :");
	if (e == 0)
		e = format_base(r->base, out);
	return e == 0 ? buf_addc(out, '\n') : -1;
}

int
uidlist_format(const struct uidlist *ul, struct buf *out)
{
	if (buf_printf(out, UIDLIST_MAGIC " %d V%u N%u M%llu R%u",
		       UIDLIST_VERSION, (unsigned)ul->uidvalidity,
		       (unsigned)ul->uidnext,
		       (unsigned long long)ul->highestmodseq,
		       (unsigned)ul->recent) == -1)
		return -1;
	if (ul->cur.sec != 0 &&
	    buf_printf(out, " C%lld.%ld.%llu", (long long)ul->cur.sec,
		       ul->cur.nsec, (unsigned long long)ul->cur.ino) == -1)
		return -1;
	if (ul->cur.sec != 0 && ul->newdir.sec != 0 &&
	    buf_printf(out, " W%lld.%ld.%llu", (long long)ul->newdir.sec,
		       ul->newdir.nsec,
		       (unsigned long long)ul->newdir.ino) == -1)
		return -1;
	if (buf_addc(out, '\n') == -1)
		return -1;
	for (size_t i = 0; i < ul->n; i++)
		if (uidlist_format_rec(&ul->recs[i], out) == -1)
			return -1;
	return 0;
}

/* --- sync --------------------------------------------------------------- */

/*
 * Looks each file up among the records (the parser's set of their bases,
 * or a new one) and adds the files that are none, so that a second name
 * of one base is found too: match[j] is the file (index + 1) that keeps
 * record j; known[i] is false only for the first file of a base no record
 * has (a new message).  *fresh_r: those; *bytes_r: their bases' octets.
 */
static void
match_files(struct uidlist *ul, struct uidlist_file *files, size_t n,
	    uint32_t *match, bool *known, size_t *fresh_r, size_t *bytes_r)
{
	/* the parser's set, unless records came or went since */
	if (ul->names != NULL && ul->names->count != ul->n)
		names_free(&ul->names);
	if (ul->names == NULL)
		ul->names = names_of_recs(ul, n);
	*fresh_r = *bytes_r = 0;
	for (size_t i = 0; i < n; i++) {
		struct uidlist_file *f = &files[i];
		uint32_t ref;

		/* the names may lie in any order in memory: ask ahead */
		if (i + 8 < n)
			__builtin_prefetch(files[i + 8].name);
		f->uid = 0;
		f->modseq = 0;
		f->flags = uidlist_flags_of_name(f->name);
		/* f->innew is the caller's: where it was listed */
		/* a name the index could not key: no UID */
		known[i] = f->baselen == 0 || f->baselen > UIDLIST_BASE_MAX ||
			   f->name[0] == '.';
		if (known[i])
			continue;
		ref = names_find(ul->names, ul, files, f->name, f->baselen,
				 hash_name(f->name, f->baselen),
				 ((uint32_t)i + 1) | FILE_REF);
		if (ref == 0) {
			(*fresh_r)++;
			*bytes_r += f->baselen + 1;
			continue;
		}
		known[i] = true;
		/* the first name of a base keeps its record; a repeat gets
		 * no UID */
		if (!(ref & FILE_REF) && match[ref - 1] == 0)
			match[ref - 1] = (uint32_t)i + 1;
	}
	names_free(&ul->names); /* it names files now */
}

/* Drops the records whose base is gone; notes the flags of the kept. */
static void
keep_matched(struct uidlist *ul, struct uidlist_file *files,
	     const uint32_t *match, bool *changed_r)
{
	size_t kept = 0;

	for (size_t i = 0; i < ul->n; i++) {
		struct uidlist_rec *r = &ul->recs[i];
		struct uidlist_file *f;

		if (match[i] == 0) {
			if (r->keywords != NULL && !in_blocks(ul, r->keywords))
				free(r->keywords);
			continue;
		}
		f = &files[match[i] - 1];
		f->uid = r->uid;
		if (f->flags != r->flags) {
			r->flags = (uint16_t)f->flags;
			r->modseq = ++ul->highestmodseq;
			*changed_r = true;
		}
		if (f->innew != r->innew) { /* moved: no change of state */
			r->innew = f->innew;
			*changed_r = true;
		}
		f->modseq = r->modseq;
		ul->recs[kept++] = *r;
	}
	if (kept < ul->n) {
		ul->highestmodseq++; /* the expunges */
		*changed_r = true;
	}
	ul->n = kept;
}

/* Gives the new files, in delivery order, UIDs above every one before. */
static void
add_fresh(struct uidlist *ul, struct uidlist_file *files, size_t n,
	  const bool *known, size_t fresh, size_t bytes, bool *changed_r)
{
	struct uidlist_block *b;

	if (fresh == 0)
		return;
	if (ul->cap - ul->n < fresh) {
		ul->cap = ul->n + fresh;
		ul->recs = xrealloc(ul->recs,
				    (ul->cap + 1) * sizeof(*ul->recs));
	}
	b = block_new(bytes);
	block_keep(ul, b);
	for (size_t i = 0; i < n; i++) {
		struct uidlist_rec *r = &ul->recs[ul->n];

		if (known[i])
			continue;
		r->uid = ul->uidnext++;
		r->modseq = ++ul->highestmodseq;
		r->flags = (uint16_t)files[i].flags;
		r->innew = files[i].innew;
		r->keywords = NULL;
		r->base = block_add(b, files[i].name, files[i].baselen);
		files[i].uid = r->uid;
		files[i].modseq = r->modseq;
		ul->n++;
	}
	*changed_r = true;
}

/*
 * Copies the records' strings that are in blocks into one new block once
 * there are more than BLOCKS_MAX (a view kept open gets a block per sync
 * with new mail, and the strings of dropped records stay in theirs), so
 * that the blocks stay few and hold little that is dead.
 */
#define BLOCKS_MAX 16

static void
compact_blocks(struct uidlist *ul)
{
	struct uidlist_block *b, *next, *nb;
	size_t nblocks = 0, bytes = 0;

	for (b = ul->blocks; b != NULL; b = b->next)
		nblocks++;
	if (nblocks <= BLOCKS_MAX)
		return;
	for (size_t i = 0; i < ul->n; i++) {
		const char *kw = ul->recs[i].keywords;

		bytes += strlen(ul->recs[i].base) + 1;
		if (kw != NULL && in_blocks(ul, kw))
			bytes += strlen(kw) + 1;
	}
	nb = block_new(bytes);
	for (size_t i = 0; i < ul->n; i++) {
		struct uidlist_rec *r = &ul->recs[i];

		if (r->keywords != NULL && in_blocks(ul, r->keywords))
			r->keywords = block_add(nb, r->keywords,
						strlen(r->keywords));
		r->base = block_add(nb, r->base, strlen(r->base));
	}
	for (b = ul->blocks; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	ul->blocks = nb;
}

int
uidlist_sync(struct uidlist *ul, struct uidlist_file *files, size_t n,
	     bool *changed_r)
{
	uint32_t *match;
	bool *known;
	size_t fresh, bytes;

	*changed_r = false;
	if (n > NAMES_MAX || ul->n > NAMES_MAX) {
		names_free(&ul->names);
		return -1; /* not 2^31 messages: the UIDs would run out */
	}
	match = xcalloc(ul->n + 1, sizeof(*match));
	known = xcalloc(n + 1, sizeof(*known));
	match_files(ul, files, n, match, known, &fresh, &bytes);
	if ((uint64_t)ul->uidnext + fresh > UINT32_MAX ||
	    ul->highestmodseq + ul->n + fresh + 1 > UIDLIST_MODSEQ_MAX) {
		free(known);
		free(match);
		return -1;
	}
	keep_matched(ul, files, match, changed_r);
	add_fresh(ul, files, n, known, fresh, bytes, changed_r);
	compact_blocks(ul);
	free(known);
	free(match);
	return 0;
}

/* --- the index log ------------------------------------------------------ */

int
uidlog_parse_header(const char *buf, size_t len, struct uidlog_hdr *h,
		    bool *bad_r)
{
	static const char magic[] = UIDLOG_MAGIC " ";
	const char *nl = memchr(buf, '\n', len < 128 ? len : 128);
	char line[128];
	struct cursor c;
	uint64_t version, v, nonce;
	size_t ml = sizeof(magic) - 1;

	*bad_r = false;
	memset(h, 0, sizeof(*h));
	if (nl == NULL) {
		/* a first write cut short (maybe zeros after a power loss:
		 * it was never fsync'ed), or not ours at all */
		size_t n = len < ml ? len : ml, z = 0;

		while (z < len && z < 128 && buf[z] == '\0')
			z++;
		*bad_r = z < len && (len >= 128 || memcmp(buf, magic, n) != 0);
		return -1;
	}
	memcpy(line, buf, (size_t)(nl - buf));
	c.p = line;
	c.end = line + (nl - buf);
	*bad_r = true;
	if ((size_t)(c.end - c.p) < ml || memcmp(c.p, magic, ml) != 0)
		return -1;
	c.p += ml;
	if (take_num(&c, UINT32_MAX, &version) == -1 || version != 1 ||
	    take_char(&c, ' ') == -1 || take_char(&c, 'V') == -1 ||
	    take_num(&c, UINT32_MAX, &v) == -1 || v == 0 ||
	    take_char(&c, ' ') == -1 || take_char(&c, 'I') == -1 ||
	    take_num(&c, UINT64_MAX >> 1, &nonce) == -1 || c.p != c.end)
		return -1;
	*bad_r = false;
	h->uidvalidity = (uint32_t)v;
	h->nonce = nonce;
	h->len = (size_t)(nl - buf) + 1;
	return 0;
}

/* "-" or a stamp; *touched_r false for "-". */
static int
take_log_stamp(struct cursor *c, struct uidlist_stamp *s, bool *touched_r)
{
	memset(s, 0, sizeof(*s));
	*touched_r = take_char(c, '-') == -1;
	return *touched_r ? take_stamp(c, s) : 0;
}

/* A commit line after its "C". */
static int
take_commit(struct cursor *c, struct uidlog_commit *k)
{
	uint64_t n, m, r;
	bool t1, t2;

	memset(k, 0, sizeof(*k));
	if (take_char(c, ' ') == -1 ||
	    take_log_stamp(c, &k->before, &t1) == -1 ||
	    take_char(c, ' ') == -1 ||
	    take_log_stamp(c, &k->after, &t2) == -1 || t1 != t2 ||
	    take_char(c, ' ') == -1 || take_char(c, 'N') == -1 ||
	    take_num(c, UINT32_MAX, &n) == -1 || n == 0 ||
	    take_char(c, ' ') == -1 || take_char(c, 'M') == -1 ||
	    take_num(c, UIDLIST_MODSEQ_MAX, &m) == -1 || m == 0 ||
	    take_char(c, ' ') == -1 || take_char(c, 'R') == -1 ||
	    take_num(c, UINT32_MAX, &r) == -1 || r == 0 || r > n ||
	    c->p != c->end)
		return -1;
	k->touched = t1;
	k->uidnext = (uint32_t)n;
	k->highestmodseq = m;
	k->recent = (uint32_t)r;
	return 0;
}

void
uidlog_free(struct uidlog *lg)
{
	free(lg->recs);
	free(lg->commits);
	memset(lg, 0, sizeof(*lg));
}

/*
 * One line of the log: a commit (counted in lg; the records since the
 * commit before it, from caps[2] on, must be below its UIDNEXT and at
 * most its HIGHESTMODSEQ) or a record (added to lg; it must be above
 * every record before it and at or above the UIDNEXT of the commit
 * before it).  -1 if it is neither.  caps: the arrays' sizes.
 */
static int
log_line(struct uidlog *lg, struct cursor *c, size_t *caps)
{
	if (c->p < c->end && *c->p == 'C') {
		struct uidlog_commit k;

		c->p++;
		if (take_commit(c, &k) == -1)
			return -1;
		/* its records must fit the state it gives */
		for (size_t i = caps[2]; i < lg->nrecs; i++)
			if (lg->recs[i].uid >= k.uidnext ||
			    lg->recs[i].modseq > k.highestmodseq)
				return -1;
		caps[2] = lg->nrecs;
		if (lg->ncommits == caps[1]) {
			caps[1] = caps[1] ? caps[1] * 2 : 16;
			lg->commits = xrealloc(lg->commits,
					       caps[1] * sizeof(*lg->commits));
		}
		lg->commits[lg->ncommits++] = k;
		return 1;
	}
	if (lg->nrecs == caps[0]) {
		caps[0] = caps[0] ? caps[0] * 2 : 64;
		lg->recs = xrealloc(lg->recs, caps[0] * sizeof(*lg->recs));
	}
	{
		struct uidlist_rec *r = &lg->recs[lg->nrecs];
		uint32_t prev = lg->nrecs ? lg->recs[lg->nrecs - 1].uid : 0;
		size_t len;

		if (take_rec(c, r, &len) == -1 || r->uid <= prev ||
		    (lg->ncommits > 0 &&
		     r->uid < lg->commits[lg->ncommits - 1].uidnext))
			return -1;
		lg->nrecs++;
	}
	return 0;
}

int
uidlog_parse(char *buf, size_t len, struct uidlog *lg, char *err,
	     size_t errsz)
{
	char *p = buf, *end = buf + len;
	size_t caps[3] = {0, 0, 0}, line = 0, recs_committed = 0;
	long bad = 0;		/* the first bad line not yet followed by a
				   commit: a torn tail, or corruption */

	memset(lg, 0, sizeof(*lg));
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		struct cursor c = {p, nl};
		int r;

		line++;
		if (nl == NULL)
			break; /* cut: the tail of a torn write */
		r = bad || nl - p > UIDLIST_LINE_MAX ? -1
						     : log_line(lg, &c, caps);
		if (bad == 0 && (r == -1 || c.p != c.end)) {
			bad = (long)line;
			/* a commit after it would make it corruption */
		} else if (r == 1) {
			lg->committed = (size_t)(nl + 1 - buf);
			recs_committed = lg->nrecs;
		}
		if (bad != 0 && *p == 'C') {
			struct uidlog_commit k;
			char *save = c.p;

			c.p = p + 1;
			if (take_commit(&c, &k) == 0 && c.p == c.end) {
				snprintf(err, errsz, "log line %ld: bad",
					 bad);
				uidlog_free(lg);
				return -1;
			}
			c.p = save;
		}
		p = nl + 1;
	}
	lg->nrecs = recs_committed; /* the rest was never acknowledged */
	return 0;
}

void
uidlist_apply_log(struct uidlist *ul, const struct uidlog *lg, char *buf)
{
	size_t c = 0, i = 0;

	block_keep(ul, block_of(buf));
	if (ul->cap - ul->n < lg->nrecs) {
		ul->cap = ul->n + lg->nrecs;
		ul->recs = xrealloc(ul->recs,
				    (ul->cap + 1) * sizeof(*ul->recs));
	}
	/* each commit's records come before it: walk both in step */
	for (c = 0; c < lg->ncommits; c++) {
		const struct uidlog_commit *k = &lg->commits[c];

		for (; i < lg->nrecs && lg->recs[i].uid < k->uidnext; i++) {
			const struct uidlist_rec *r = &lg->recs[i];
			size_t len = strlen(r->base);

			if (r->uid < ul->uidnext || ul->n >= NAMES_MAX)
				continue; /* in the index already, or
					     expunged since */
			if (ul->names != NULL &&
			    ul->names->count == ul->n &&
			    names_find(ul->names, ul, NULL, r->base, len,
				       hash_name(r->base, len),
				       (uint32_t)ul->n + 1) != 0)
				continue; /* a base twice: not ours */
			ul->recs[ul->n++] = *r;
			ul->uidnext = r->uid + 1;
		}
		if (k->uidnext > ul->uidnext)
			ul->uidnext = k->uidnext;
		if (k->highestmodseq > ul->highestmodseq)
			ul->highestmodseq = k->highestmodseq;
		if (k->recent > ul->recent)
			ul->recent = k->recent;
	}
	if (ul->names != NULL && ul->names->count != ul->n)
		names_free(&ul->names);
}

int
uidlog_format_commit(const struct uidlog_commit *k, struct buf *out)
{
	char b[80] = "-", a[80] = "-";

	if (k->touched) {
		snprintf(b, sizeof(b), "%lld.%ld.%llu",
			 (long long)k->before.sec, k->before.nsec,
			 (unsigned long long)k->before.ino);
		snprintf(a, sizeof(a), "%lld.%ld.%llu",
			 (long long)k->after.sec, k->after.nsec,
			 (unsigned long long)k->after.ino);
	}
	return buf_printf(out, "C %s %s N%u M%llu R%u\n", b, a,
			  (unsigned)k->uidnext,
			  (unsigned long long)k->highestmodseq,
			  (unsigned)k->recent);
}

int
uidlog_format_header(const struct uidlog_hdr *h, struct buf *out)
{
	return buf_printf(out, UIDLOG_MAGIC " 1 V%u I%llu\n",
			  (unsigned)h->uidvalidity,
			  (unsigned long long)h->nonce);
}
