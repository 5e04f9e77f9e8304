/*
 * uidlist - see uidlist.h and docs/MAILDIR.md.  The format, one LF-ended
 * line each:
 *
 *   owlpost-uidlist 1 V<uidvalidity> N<uidnext> M<highestmodseq>
 *   <uid> <modseq> <flags> [+<keyword> ...] :<base name>
 *
 * Numbers are decimal without leading zeros; flags are the Maildir info
 * letters in ASCII order or "-"; the base name is the rest of the line,
 * with '\' and LF written as "\\" and "\n".  The parser walks the buffer
 * once and never reads past len.
 */
#include "uidlist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char flag_letters[] = "DFPRST";

void
uidlist_init(struct uidlist *ul, uint32_t uidvalidity)
{
	memset(ul, 0, sizeof(*ul));
	ul->uidvalidity = uidvalidity;
	ul->uidnext = 1;
	ul->highestmodseq = 1;
}

void
uidlist_free(struct uidlist *ul)
{
	for (size_t i = 0; i < ul->n; i++) {
		free(ul->recs[i].keywords);
		free(ul->recs[i].base);
	}
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
	(void)ul;
	free(r->keywords);
	r->keywords = kw != NULL && *kw != '\0' ? xstrdup(kw) : NULL;
}

uint64_t
uidlist_next_modseq(struct uidlist *ul)
{
	if (ul->highestmodseq < UIDLIST_MODSEQ_MAX)
		ul->highestmodseq++;
	return ul->highestmodseq;
}

/* --- a set of base names (open addressing) --------------------------------- */

/*
 * Matching names by hashing keeps a sync linear: sorting 100,000 names to
 * match them was most of the time of opening a big folder.
 */
struct nameset {
	size_t *slot;		/* index + 1 of an entry, 0: empty */
	size_t mask;
};

/* Eight octets per step (names are ~60 octets), then a final mix. */
static uint64_t
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
	return h ^ (h >> 29);
}

static void
nameset_init(struct nameset *ns, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n + 1)
		cap *= 2;
	ns->slot = xcalloc(cap, sizeof(*ns->slot));
	ns->mask = cap - 1;
}

/*
 * The entry named s (n octets) among names(arg, i), or, if none, adds
 * index (when add) and returns SIZE_MAX.
 */
static size_t
nameset_find(struct nameset *ns, const char *s, size_t n,
	     const char *(*name)(const void *arg, size_t i, size_t *len),
	     const void *arg, bool add, size_t index)
{
	for (size_t h = (size_t)hash_name(s, n) & ns->mask;;
	     h = (h + 1) & ns->mask) {
		size_t len;
		const char *t;

		if (ns->slot[h] == 0) {
			if (add)
				ns->slot[h] = index + 1;
			return SIZE_MAX;
		}
		t = name(arg, ns->slot[h] - 1, &len);
		if (len == n && memcmp(t, s, n) == 0)
			return ns->slot[h] - 1;
	}
}

static void
nameset_free(struct nameset *ns)
{
	free(ns->slot);
	ns->slot = NULL;
}

static const char *
rec_name(const void *arg, size_t i, size_t *len)
{
	const struct uidlist_rec *r = &((const struct uidlist_rec *)arg)[i];

	*len = strlen(r->base);
	return r->base;
}

static const char *
file_name(const void *arg, size_t i, size_t *len)
{
	const struct uidlist_file *f = &((const struct uidlist_file *)arg)[i];

	*len = f->baselen;
	return f->name;
}

/* --- parsing ------------------------------------------------------------ */

struct cursor {
	const char *p, *end;	/* the rest of one line */
};

/* A decimal number of at most max, no leading zero; -1 if not. */
static int
take_num(struct cursor *c, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	const char *start = c->p;

	while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
		unsigned d = (unsigned)(*c->p - '0');

		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
		c->p++;
	}
	if (c->p == start || (*start == '0' && c->p - start > 1))
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

/* The flags field: "-" or distinct letters of DFPRST in ASCII order. */
static int
take_flags(struct cursor *c, unsigned *out)
{
	int last = -1;

	*out = 0;
	if (take_char(c, '-') == 0)
		return 0;
	while (c->p < c->end && *c->p != ' ') {
		const char *l = strchr(flag_letters, *c->p);

		if (*c->p == '\0' || l == NULL || l - flag_letters <= last)
			return -1;
		last = (int)(l - flag_letters);
		*out |= 1u << last;
		c->p++;
	}
	return last == -1 ? -1 : 0;
}

/* An IMAP atom character that may stand in a keyword. */
static bool
keyword_char(char ch)
{
	return ch > ' ' && ch < 0x7f && strchr("(){%*\"\\]", ch) == NULL;
}

/* Zero or more " +keyword", copied space-separated into *out. */
static int
take_keywords(struct cursor *c, char **out)
{
	char buf[UIDLIST_KEYWORDS_MAX * (UIDLIST_KEYWORD_MAX + 1)];
	size_t len = 0, count = 0;

	*out = NULL;
	while (c->end - c->p >= 2 && c->p[0] == ' ' && c->p[1] == '+') {
		const char *s = c->p + 2, *e = s;

		while (e < c->end && keyword_char(*e))
			e++;
		if (e == s || e - s > UIDLIST_KEYWORD_MAX ||
		    ++count > UIDLIST_KEYWORDS_MAX)
			return -1;
		if (len > 0)
			buf[len++] = ' ';
		memcpy(buf + len, s, (size_t)(e - s));
		len += (size_t)(e - s);
		c->p = e;
	}
	if (count > 0)
		*out = xstrndup(buf, len);
	return 0;
}

/* Octets that end the quick scan of a base name: escapes and refusals. */
static bool
base_special(unsigned char ch)
{
	return ch == '\\' || ch == '\0' || ch == '/' || ch == ':' ||
	       ch == '\n';
}

/* The base name: the rest of the line, unescaped, checked. */
static int
take_base(struct cursor *c, char **out)
{
	char buf[UIDLIST_BASE_MAX + 1];
	const char *q = c->p;
	size_t len = 0;

	/* the usual name has nothing to unescape: one copy */
	while (q < c->end && !base_special((unsigned char)*q))
		q++;
	if (q == c->end && q - c->p <= UIDLIST_BASE_MAX && q > c->p &&
	    *c->p != '.') {
		*out = xstrndup(c->p, (size_t)(q - c->p));
		c->p = q;
		return 0;
	}
	for (; c->p < c->end; c->p++) {
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
		buf[len++] = ch;
	}
	if (len == 0 || buf[0] == '.')
		return -1;
	*out = xstrndup(buf, len);
	return 0;
}

static int
parse_header(struct uidlist *ul, struct cursor *c)
{
	static const char magic[] = UIDLIST_MAGIC " ";
	uint64_t version, v, n, m;
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
	    take_num(c, UIDLIST_MODSEQ_MAX, &m) == -1 || c->p != c->end ||
	    v == 0 || n == 0 || m == 0)
		return -1;
	ul->uidvalidity = (uint32_t)v;
	ul->uidnext = (uint32_t)n;
	ul->highestmodseq = m;
	return 0;
}

static int
parse_rec(struct uidlist *ul, struct cursor *c)
{
	struct uidlist_rec r = {0};
	uint64_t uid, modseq;
	uint32_t prev = ul->n > 0 ? ul->recs[ul->n - 1].uid : 0;

	if (take_num(c, UINT32_MAX, &uid) == -1 || uid <= prev ||
	    uid >= ul->uidnext || take_char(c, ' ') == -1 ||
	    take_num(c, UIDLIST_MODSEQ_MAX, &modseq) == -1 || modseq == 0 ||
	    modseq > ul->highestmodseq || take_char(c, ' ') == -1 ||
	    take_flags(c, &r.flags) == -1)
		return -1;
	if (take_keywords(c, &r.keywords) == -1)
		return -1;
	if (take_char(c, ' ') == -1 || take_char(c, ':') == -1 ||
	    take_base(c, &r.base) == -1) {
		free(r.keywords);
		return -1;
	}
	r.uid = (uint32_t)uid;
	r.modseq = modseq;
	if (ul->n == ul->cap) {
		ul->cap = ul->cap ? ul->cap * 2 : 64;
		ul->recs = xrealloc(ul->recs, ul->cap * sizeof(*ul->recs));
	}
	ul->recs[ul->n++] = r;
	return 0;
}

/* True if two records share a base name (sync keys on it). */
static bool
has_repeated_base(const struct uidlist *ul)
{
	struct nameset ns;
	bool rep = false;

	nameset_init(&ns, ul->n);
	for (size_t i = 0; i < ul->n && !rep; i++)
		rep = nameset_find(&ns, ul->recs[i].base,
				   strlen(ul->recs[i].base), rec_name,
				   ul->recs, true, i) != SIZE_MAX;
	nameset_free(&ns);
	return rep;
}

int
uidlist_parse(struct uidlist *ul, const char *data, size_t len, char *err,
	      size_t errsz)
{
	const char *p = data, *end = data + len;
	size_t line = 0;

	memset(ul, 0, sizeof(*ul));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		struct cursor c = {p, nl};
		int r;

		line++;
		if (nl == NULL) {
			snprintf(err, errsz, "line %zu: cut (no newline)",
				 line);
			goto bad;
		}
		if (nl - p > UIDLIST_LINE_MAX) {
			snprintf(err, errsz, "line %zu: too long", line);
			goto bad;
		}
		r = line == 1 ? parse_header(ul, &c) : parse_rec(ul, &c);
		if (r == -1 || c.p != c.end) {
			snprintf(err, errsz, "line %zu: %s", line,
				 line == 1 ? "bad header" : "bad record");
			goto bad;
		}
		p = nl + 1;
	}
	if (line == 0) {
		snprintf(err, errsz, "empty file");
		goto bad;
	}
	if (has_repeated_base(ul)) {
		snprintf(err, errsz, "a base name appears twice");
		goto bad;
	}
	return 0;
bad:
	uidlist_free(ul);
	return -1;
}

/* --- formatting --------------------------------------------------------- */

static int
format_rec(const struct uidlist_rec *r, struct buf *out)
{
	int e = buf_printf(out, "%u %llu ", (unsigned)r->uid,
			   (unsigned long long)r->modseq);

	for (int i = 0; e == 0 && flag_letters[i] != '\0'; i++)
		if (r->flags & (1u << i))
			e = buf_addc(out, flag_letters[i]);
	if (e == 0 && (r->flags & ((1u << 6) - 1)) == 0)
		e = buf_addc(out, '-');
	for (const char *k = r->keywords; e == 0 && k != NULL && *k != '\0';) {
		size_t n = strcspn(k, " ");

		e = buf_addstr(out, " +");
		if (e == 0)
			e = buf_add(out, k, n);
		k += n + (k[n] == ' ');
	}
	if (e == 0)
		e = buf_addstr(out, " :");
	for (const char *s = r->base; e == 0 && *s != '\0'; s++)
		e = *s == '\\'	 ? buf_addstr(out, "\\\\")
		    : *s == '\n' ? buf_addstr(out, "\\n")
				 : buf_addc(out, *s);
	return e == 0 ? buf_addc(out, '\n') : -1;
}

int
uidlist_format(const struct uidlist *ul, struct buf *out)
{
	if (buf_printf(out, UIDLIST_MAGIC " %d V%u N%u M%llu\n",
		       UIDLIST_VERSION, (unsigned)ul->uidvalidity,
		       (unsigned)ul->uidnext,
		       (unsigned long long)ul->highestmodseq) == -1)
		return -1;
	for (size_t i = 0; i < ul->n; i++)
		if (format_rec(&ul->recs[i], out) == -1)
			return -1;
	return 0;
}

/* --- sync --------------------------------------------------------------- */

int
uidlist_sync(struct uidlist *ul, struct uidlist_file *files, size_t n,
	     bool *changed_r)
{
	struct nameset ns;
	bool *known = xcalloc(n + 1, sizeof(*known));
	size_t *match = xcalloc(ul->n + 1, sizeof(*match));
	size_t kept = 0, fresh = 0, gone = 0;

	*changed_r = false;
	nameset_init(&ns, n);
	/*
	 * A repeated base (two names of one message) gets no UID but the
	 * first's, nor does a name the index could not key (no base, a dot,
	 * too long).
	 */
	for (size_t i = 0; i < n; i++) {
		struct uidlist_file *f = &files[i];

		f->uid = 0;
		f->modseq = 0;
		f->flags = uidlist_flags_of_name(f->name);
		if (f->baselen == 0 || f->baselen > UIDLIST_BASE_MAX ||
		    f->name[0] == '.' ||
		    nameset_find(&ns, f->name, f->baselen, file_name, files,
				 true, i) != SIZE_MAX)
			known[i] = true;
	}
	for (size_t i = 0; i < ul->n; i++) {
		const char *b = ul->recs[i].base;

		match[i] = nameset_find(&ns, b, strlen(b), file_name, files,
					false, 0);
		if (match[i] != SIZE_MAX)
			known[match[i]] = true;
	}
	nameset_free(&ns);
	for (size_t i = 0; i < n; i++)
		fresh += !known[i];
	if ((uint64_t)ul->uidnext + fresh > UINT32_MAX ||
	    ul->highestmodseq + ul->n + fresh + 1 > UIDLIST_MODSEQ_MAX) {
		free(known);
		free(match);
		return -1;
	}
	/* drop the gone, note the flags of the kept */
	for (size_t i = 0; i < ul->n; i++) {
		struct uidlist_rec *r = &ul->recs[i];
		struct uidlist_file *f;

		if (match[i] == SIZE_MAX) {
			free(r->keywords);
			free(r->base);
			gone++;
			continue;
		}
		f = &files[match[i]];
		f->uid = r->uid;
		if (f->flags != r->flags) {
			r->flags = f->flags;
			r->modseq = ++ul->highestmodseq;
			*changed_r = true;
		}
		f->modseq = r->modseq;
		ul->recs[kept++] = *r;
	}
	ul->n = kept;
	if (gone > 0) {
		ul->highestmodseq++; /* the expunges */
		*changed_r = true;
	}
	/* the new, in delivery order, above every UID given before */
	for (size_t i = 0; i < n; i++) {
		struct uidlist_rec r = {0};

		if (known[i])
			continue;
		if (ul->n == ul->cap) {
			ul->cap = ul->cap ? ul->cap * 2 : 64;
			ul->recs = xrealloc(ul->recs,
					    ul->cap * sizeof(*ul->recs));
		}
		r.uid = ul->uidnext++;
		r.modseq = ++ul->highestmodseq;
		r.flags = files[i].flags;
		r.base = xstrndup(files[i].name, files[i].baselen);
		files[i].uid = r.uid;
		files[i].modseq = r.modseq;
		ul->recs[ul->n++] = r;
		*changed_r = true;
	}
	free(known);
	free(match);
	return 0;
}
