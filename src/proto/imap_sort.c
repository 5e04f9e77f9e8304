/*
 * imap_sort - see imap_sort.h.  The base subject follows RFC 5256 2.1
 * step by step (trailers, leaders, blobs, "[fwd: ...]"); addresses are
 * read only as far as sorting needs: the first mailbox of a field, its
 * local part and its display name.
 */
#include "imap_sort.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../mime/mime.h"
#include "imap_date.h"

static const struct {
	const char *name;
	enum imap_sort_key key;
} KEYS[] = {
	{"ARRIVAL", IMAP_SK_ARRIVAL}, {"CC", IMAP_SK_CC},
	{"DATE", IMAP_SK_DATE}, {"FROM", IMAP_SK_FROM},
	{"SIZE", IMAP_SK_SIZE}, {"SUBJECT", IMAP_SK_SUBJECT},
	{"TO", IMAP_SK_TO}, {"DISPLAYFROM", IMAP_SK_DISPLAYFROM},
	{"DISPLAYTO", IMAP_SK_DISPLAYTO},
};

int
imap_sort_parse(const struct imap_arg *list, struct imap_sort_crit *c,
		const char **why_r)
{
	bool reverse = false;

	memset(c, 0, sizeof(*c));
	*why_r = "SORT needs a list of sort criteria";
	if (list->type != IMAP_ARG_LIST || list->n == 0)
		return -1;
	for (size_t i = 0; i < list->n; i++) {
		const struct imap_arg *a = &list->list[i];
		size_t k;

		if (a->type != IMAP_ARG_ATOM)
			return -1;
		if (strcasecmp(a->str, "REVERSE") == 0 && !reverse) {
			reverse = true;
			continue;
		}
		for (k = 0; k < sizeof(KEYS) / sizeof(KEYS[0]); k++)
			if (strcasecmp(a->str, KEYS[k].name) == 0)
				break;
		if (k == sizeof(KEYS) / sizeof(KEYS[0])) {
			*why_r = "Unknown sort criterion";
			return -1;
		}
		if (c->n == IMAP_SORT_KEYS_MAX) {
			*why_r = "Too many sort criteria";
			return -1;
		}
		c->k[c->n].key = KEYS[k].key;
		c->k[c->n].reverse = reverse;
		c->n++;
		reverse = false;
		if (KEYS[k].key != IMAP_SK_ARRIVAL &&
		    KEYS[k].key != IMAP_SK_SIZE)
			c->needs_header = true;
	}
	if (reverse) {
		*why_r = "REVERSE needs a criterion after it";
		return -1;
	}
	return 0;
}

/* --- the base subject (RFC 5256 2.1) -------------------------------------- */

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* Step 1: white space runs made one space (the text is decoded). */
static char *
collapse(const char *in)
{
	char *out = xmalloc(strlen(in) + 1), *o = out;

	for (const char *p = in; *p; p++) {
		char c = *p == '\t' || *p == '\r' || *p == '\n' ? ' ' : *p;

		if (c == ' ' && o > out && o[-1] == ' ')
			continue;
		*o++ = c;
	}
	*o = '\0';
	return out;
}

/* Step 2: trailing "(fwd)" and white space. */
static bool
cut_trailer(char *s, size_t *len)
{
	bool cut = false;

	for (;;) {
		if (*len > 0 && is_wsp(s[*len - 1])) {
			(*len)--;
		} else if (*len >= 5 &&
			   strncasecmp(s + *len - 5, "(fwd)", 5) == 0) {
			*len -= 5;
			cut = true;
		} else {
			break;
		}
	}
	s[*len] = '\0';
	return cut;
}

/* A subj-blob at p ("[" *BLOBCHAR "]" *WSP): its length, or 0. */
static size_t
blob_len(const char *p)
{
	const char *q = p;

	if (*q != '[')
		return 0;
	for (q++; *q && *q != '[' && *q != ']'; q++)
		;
	if (*q != ']')
		return 0;
	for (q++; is_wsp(*q); q++)
		;
	return (size_t)(q - p);
}

/* A subj-leader at p, other than white space: *blob subj-refwd; its
 * length, or 0. */
static size_t
refwd_len(const char *p)
{
	const char *q = p;
	size_t b;

	while ((b = blob_len(q)) > 0)
		q += b;
	if (strncasecmp(q, "re", 2) == 0)
		q += 2;
	else if (strncasecmp(q, "fwd", 3) == 0)
		q += 3;
	else if (strncasecmp(q, "fw", 2) == 0)
		q += 2;
	else
		return 0;
	while (is_wsp(*q))
		q++;
	q += blob_len(q);
	return *q == ':' ? (size_t)(q + 1 - p) : 0;
}

/* Steps 3 to 5: leaders and blobs off the front; *s moves. */
static bool
cut_leaders(char **s)
{
	bool refwd = false, again = true;

	while (again) {
		size_t n;

		again = false;
		if (is_wsp(**s)) {
			(*s)++;
			again = true;
		} else if ((n = refwd_len(*s)) > 0) {
			*s += n;
			refwd = again = true;
		} else if ((n = blob_len(*s)) > 0 && (*s)[n] != '\0') {
			*s += n;
			again = true;
		}
	}
	return refwd;
}

char *
imap_base_subject(const char *subject, bool *refwd)
{
	char *buf = collapse(subject), *s = buf, *r;
	size_t len;

	*refwd = false;
	for (;;) {
		len = strlen(s);
		*refwd |= cut_trailer(s, &len);
		*refwd |= cut_leaders(&s);
		len = strlen(s);
		/* step 6: "[fwd:" ... "]" */
		if (len >= 6 && strncasecmp(s, "[fwd:", 5) == 0 &&
		    s[len - 1] == ']') {
			s[len - 1] = '\0';
			s += 5;
			*refwd = true;
			continue;
		}
		break;
	}
	r = xstrdup(s);
	free(buf);
	return r;
}

/* --- the header fields ---------------------------------------------------- */

/* The decoded value of a field, or NULL. */
static char *
field(const char *hdr, size_t len, const char *name)
{
	struct buf *b = buf_new(IMAP_SORT_HEADER_MAX);
	char *v = NULL;

	if (hdr != NULL && mime_header_get(hdr, len, name, b))
		v = xstrdup(b->data);
	buf_free(&b);
	return v;
}

/* Trims white space and one pair of quotes; a new string. */
static char *
trimmed(const char *p, size_t n)
{
	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n >= 2 && p[0] == '"' && p[n - 1] == '"') {
		p++;
		n -= 2;
	}
	return xstrndup(p, n);
}

/*
 * The first mailbox of an address list: its local part and its display
 * name (the phrase before "<", else the address).  A group's name is
 * skipped; comments are dropped.
 */
static void
first_address(const char *v, char **mailbox_r, char **display_r)
{
	const char *p = v, *lt = NULL, *gt = NULL, *start = v, *colon;
	bool quoted = false;
	unsigned depth = 0;
	const char *addr, *at, *end;

	colon = NULL;
	for (; *p && !(*p == ',' && !quoted && depth == 0); p++) {
		if (*p == '"' && depth == 0)
			quoted = !quoted;
		else if (quoted || *p == '\\')
			p += *p == '\\' && p[1] != '\0';
		else if (*p == '(')
			depth++;
		else if (*p == ')' && depth > 0)
			depth--;
		else if (depth == 0 && *p == '<' && lt == NULL)
			lt = p;
		else if (depth == 0 && *p == '>' && lt != NULL && gt == NULL)
			gt = p;
		else if (depth == 0 && *p == ':' && lt == NULL &&
			 colon == NULL)
			colon = p;
	}
	if (colon != NULL && lt == NULL) {	/* "group: a@b, ..." */
		first_address(colon + 1, mailbox_r, display_r);
		return;
	}
	if (colon != NULL)
		start = colon + 1;
	if (lt != NULL && gt != NULL) {
		addr = lt + 1;
		end = gt;
		*display_r = trimmed(start, (size_t)(lt - start));
	} else {
		addr = start;
		end = p;
		*display_r = NULL;
	}
	while (addr < end && (*addr == ' ' || *addr == '\t'))
		addr++;
	at = memchr(addr, '@', (size_t)(end - addr));
	*mailbox_r = trimmed(addr, (size_t)((at != NULL ? at : end) - addr));
	if (*display_r != NULL && **display_r == '\0') {
		free(*display_r);
		*display_r = NULL;
	}
	if (*display_r == NULL)
		*display_r = trimmed(addr, (size_t)(end - addr));
}

static void
address_keys(const char *hdr, size_t len, const char *name,
	     char **mailbox_r, char **display_r)
{
	char *v = field(hdr, len, name);

	*mailbox_r = NULL;
	if (display_r != NULL)
		*display_r = NULL;
	if (v == NULL)
		return;
	if (display_r != NULL) {
		first_address(v, mailbox_r, display_r);
	} else {
		char *d;

		first_address(v, mailbox_r, &d);
		free(d);
	}
	free(v);
}

/* The next "<...>" id of v from *p (no white space inside), or NULL. */
static char *
next_id(const char **p)
{
	for (;;) {
		const char *lt = strchr(*p, '<'), *q;

		if (lt == NULL)
			return NULL;
		for (q = lt + 1; *q && *q != '>' && *q != '<' && *q != ' ' &&
		     *q != '\t'; q++)
			;
		*p = *q == '>' ? q + 1 : q;
		if (*q == '>' && q > lt + 1)
			return xstrndup(lt, (size_t)(q + 1 - lt));
		if (*q == '\0')
			return NULL;
	}
}

/* Message-ID, and References (else In-Reply-To's first id). */
static void
thread_ids(struct imap_sort_msg *m, const char *hdr, size_t len)
{
	char *v = field(hdr, len, "Message-ID"), *id;
	const char *p;

	p = v != NULL ? v : "";
	m->msgid = next_id(&p);
	free(v);
	v = field(hdr, len, "References");
	for (p = v != NULL ? v : "";
	     m->nrefs < IMAP_THREAD_REFS_MAX && (id = next_id(&p)) != NULL;) {
		m->refs = xrealloc(m->refs, (m->nrefs + 1) * sizeof(*m->refs));
		m->refs[m->nrefs++] = id;
	}
	free(v);
	if (m->nrefs > 0)
		return;
	v = field(hdr, len, "In-Reply-To");
	p = v != NULL ? v : "";
	if ((id = next_id(&p)) != NULL) {
		m->refs = xmalloc(sizeof(*m->refs));
		m->refs[m->nrefs++] = id;
	}
	free(v);
}

void
imap_sort_msg_header(struct imap_sort_msg *m, const char *hdr, size_t len)
{
	char *subject = field(hdr, len, "Subject"), *date;
	bool refwd;

	m->subject = imap_base_subject(subject != NULL ? subject : "",
				       &refwd);
	m->refwd = refwd;
	free(subject);
	m->date = m->arrival;
	date = field(hdr, len, "Date");
	if (date != NULL &&
	    imap_date_rfc5322(date, strlen(date), &m->date) == -1)
		m->date = m->arrival;
	free(date);
	address_keys(hdr, len, "From", &m->from, &m->dfrom);
	address_keys(hdr, len, "To", &m->to, &m->dto);
	address_keys(hdr, len, "Cc", &m->cc, NULL);
	thread_ids(m, hdr, len);
}

void
imap_sort_msg_clear(struct imap_sort_msg *m)
{
	free(m->subject);
	free(m->from);
	free(m->to);
	free(m->cc);
	free(m->dfrom);
	free(m->dto);
	m->subject = m->from = m->to = m->cc = m->dfrom = m->dto = NULL;
	for (size_t i = 0; i < m->nrefs; i++)
		free(m->refs[i]);
	free(m->refs);
	free(m->msgid);
	m->refs = NULL;
	m->msgid = NULL;
	m->nrefs = 0;
}

/* --- ordering ------------------------------------------------------------- */

/* An octet as i;ascii-casemap sees it: a-z changed to A-Z. */
static unsigned
casemap(unsigned char c)
{
	return c >= 'a' && c <= 'z' ? (unsigned)c - 32 : c;
}

/*
 * i;ascii-casemap (RFC 4790 9.2.1, the default comparator of RFC 5255):
 * i;octet after a-z are mapped to upper case, so "[\]^_`" sort after the
 * letters (strcasecmp maps to lower case: before them).  A missing
 * string sorts as "" (RFC 5256 3).
 */
static int
casecmp(const char *a, const char *b)
{
	const unsigned char *p = (const unsigned char *)(a != NULL ? a : "");
	const unsigned char *q = (const unsigned char *)(b != NULL ? b : "");

	for (;; p++, q++) {
		unsigned x = casemap(*p), y = casemap(*q);

		if (x != y || x == 0)
			return (x > y) - (x < y);
	}
}

static int
cmp_num(int64_t a, int64_t b)
{
	return (a > b) - (a < b);
}

static int
cmp_key(enum imap_sort_key k, const struct imap_sort_msg *a,
	const struct imap_sort_msg *b)
{
	switch (k) {
	case IMAP_SK_ARRIVAL:
		return cmp_num(a->arrival, b->arrival);
	case IMAP_SK_CC:
		return casecmp(a->cc, b->cc);
	case IMAP_SK_DATE:
		return cmp_num(a->date, b->date);
	case IMAP_SK_FROM:
		return casecmp(a->from, b->from);
	case IMAP_SK_SIZE:
		return cmp_num((int64_t)a->size, (int64_t)b->size);
	case IMAP_SK_SUBJECT:
		return casecmp(a->subject, b->subject);
	case IMAP_SK_TO:
		return casecmp(a->to, b->to);
	case IMAP_SK_DISPLAYFROM:
		return casecmp(a->dfrom, b->dfrom);
	case IMAP_SK_DISPLAYTO:
		return casecmp(a->dto, b->dto);
	}
	return 0;
}

/* qsort has no context argument in C17: the criteria of the sort under
 * way are passed through a thread-local. */
static _Thread_local const struct imap_sort_crit *crit_now;

static int
cmp_msgs(const void *x, const void *y)
{
	const struct imap_sort_msg *a = x, *b = y;

	for (size_t i = 0; i < crit_now->n; i++) {
		int r = cmp_key(crit_now->k[i].key, a, b);

		if (r != 0)
			return crit_now->k[i].reverse ? -r : r;
	}
	return cmp_num(a->seq, b->seq);
}

void
imap_sort_run(const struct imap_sort_crit *c, struct imap_sort_msg *msgs,
	      size_t n)
{
	crit_now = c;
	if (n > 1)
		qsort(msgs, n, sizeof(*msgs), cmp_msgs);
	crit_now = NULL;
}

void
imap_sort_write(const struct imap_sort_msg *msgs, size_t n, bool modseq,
		struct buf *out)
{
	uint64_t m = 0;

	buf_addstr(out, "* SORT");
	for (size_t i = 0; i < n; i++) {
		buf_printf(out, " %u", msgs[i].num);
		if (msgs[i].modseq > m)
			m = msgs[i].modseq;
	}
	if (modseq && n > 0)
		buf_printf(out, " (MODSEQ %llu)", (unsigned long long)m);
	buf_addstr(out, "\r\n");
}

/* --- THREAD=ORDEREDSUBJECT ------------------------------------------------ */

static int
cmp_subject_date(const void *x, const void *y)
{
	const struct imap_sort_msg *a = x, *b = y;
	int r = casecmp(a->subject, b->subject);

	if (r == 0)
		r = cmp_num(a->date, b->date);
	return r != 0 ? r : cmp_num(a->seq, b->seq);
}

/* A thread: msgs[first .. first + n), its first message the parent. */
struct thread {
	size_t first, n;
};

static int
cmp_threads(const void *x, const void *y, const struct imap_sort_msg *msgs)
{
	const struct thread *a = x, *b = y;
	int r = cmp_num(msgs[a->first].date, msgs[b->first].date);

	return r != 0 ? r : cmp_num(msgs[a->first].seq, msgs[b->first].seq);
}

static _Thread_local const struct imap_sort_msg *thread_msgs;

static int
cmp_threads_q(const void *x, const void *y)
{
	return cmp_threads(x, y, thread_msgs);
}

static void
write_thread(const struct imap_sort_msg *msgs, const struct thread *t,
	     struct buf *out)
{
	buf_printf(out, "(%u", msgs[t->first].num);
	if (t->n == 2)
		buf_printf(out, " %u", msgs[t->first + 1].num);
	else
		for (size_t i = 1; i < t->n; i++)
			buf_printf(out, "%s(%u)", i == 1 ? " " : "",
				   msgs[t->first + i].num);
	buf_addc(out, ')');
}

void
imap_thread_orderedsubject(struct imap_sort_msg *msgs, size_t n,
			   struct buf *out)
{
	struct thread *t = xmalloc((n + 1) * sizeof(*t));
	size_t nt = 0;

	if (n > 1)
		qsort(msgs, n, sizeof(*msgs), cmp_subject_date);
	for (size_t i = 0; i < n; i++) {
		if (nt > 0 && casecmp(msgs[t[nt - 1].first].subject,
				      msgs[i].subject) == 0) {
			t[nt - 1].n++;
			continue;
		}
		t[nt].first = i;
		t[nt].n = 1;
		nt++;
	}
	thread_msgs = msgs;
	if (nt > 1)
		qsort(t, nt, sizeof(*t), cmp_threads_q);
	thread_msgs = NULL;
	buf_addstr(out, nt > 0 ? "* THREAD " : "* THREAD");
	for (size_t i = 0; i < nt; i++)
		write_thread(msgs, &t[i], out);
	buf_addstr(out, "\r\n");
	free(t);
}
