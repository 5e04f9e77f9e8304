/*
 * imap_thread - THREAD=REFERENCES (RFC 5256 3; declared in imap_sort.h),
 * step by step as the RFC numbers them:
 *   1. links: each message's references in order, each the parent of
 *      the next (a link is made only for a reference without a parent,
 *      and never one that closes a loop), the last the parent of the
 *      message (its old parent let go); ids referred to but missing are
 *      dummies; a message without an id, or with one a message before it
 *      had, gets a fresh one;
 *   2. the containers without a parent are the roots;
 *   3. dummies pruned: one without children goes, one with children
 *      gives them to its parent, unless it is a root with more than one;
 *   4. roots ordered by sent date (a dummy: by its first child's);
 *   5. roots gathered by base subject (a dummy or a non-reply wins the
 *      table), and merged;
 *   6. every set of siblings ordered by sent date, ties by number.
 * Nodes live in one array and link by index; ids are found through an
 * open-addressing hash.  Work is bounded by the messages times
 * IMAP_THREAD_REFS_MAX.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_sort.h"

#define NONE ((size_t)-1)

struct node {
	const char *id;		/* NULL: a fresh id (matches nothing) */
	size_t msg;		/* index in msgs, or NONE: a dummy */
	size_t parent, child, next; /* first child, next sibling */
};

struct tree {
	struct node *v;
	size_t n, cap;
	size_t *hash;		/* node indexes, NONE where free */
	size_t hcap;		/* a power of two */
	const struct imap_sort_msg *msgs;
};

/* --- nodes and ids -------------------------------------------------------- */

static size_t
hash_str(const char *s)
{
	size_t h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

static size_t
new_node(struct tree *t, const char *id, size_t msg)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 64;
		t->v = xrealloc(t->v, t->cap * sizeof(*t->v));
	}
	t->v[t->n] = (struct node){id, msg, NONE, NONE, NONE};
	return t->n++;
}

/* The hash slot of id: its node's, or the free one to put it in. */
static size_t *
slot(struct tree *t, const char *id)
{
	size_t i = hash_str(id) & (t->hcap - 1);

	while (t->hash[i] != NONE && strcmp(t->v[t->hash[i]].id, id) != 0)
		i = (i + 1) & (t->hcap - 1);
	return &t->hash[i];
}

/* The node of id, made (a dummy) if it is new. */
static size_t
node_of(struct tree *t, const char *id)
{
	size_t *sl = slot(t, id);

	if (*sl == NONE)
		*sl = new_node(t, id, NONE);
	return *sl;
}

/* --- links ---------------------------------------------------------------- */

static void
unlink_node(struct tree *t, size_t c)
{
	size_t p = t->v[c].parent, *at;

	if (p == NONE)
		return;
	for (at = &t->v[p].child; *at != c; at = &t->v[*at].next)
		;
	*at = t->v[c].next;
	t->v[c].parent = t->v[c].next = NONE;
}

/* c becomes a child of p (the first: siblings are ordered later, in
 * steps 4 and 6). */
static void
link_node(struct tree *t, size_t c, size_t p)
{
	unlink_node(t, c);
	t->v[c].next = t->v[p].child;
	t->v[p].child = c;
	t->v[c].parent = p;
}

/* Would making c a child of p close a loop (c is p or above it)? */
static bool
loops(const struct tree *t, size_t c, size_t p)
{
	for (size_t a = p; a != NONE; a = t->v[a].parent)
		if (a == c)
			return true;
	return false;
}

/* Step 1 for message i. */
static void
link_message(struct tree *t, size_t i)
{
	const struct imap_sort_msg *m = &t->msgs[i];
	size_t prev = NONE, me;

	for (size_t k = 0; k < m->nrefs; k++) {
		size_t c = node_of(t, m->refs[k]);

		if (prev != NONE && t->v[c].parent == NONE &&
		    !loops(t, c, prev))
			link_node(t, c, prev);
		prev = c;
	}
	me = m->msgid != NULL ? node_of(t, m->msgid) : NONE;
	if (me == NONE || t->v[me].msg != NONE)
		me = new_node(t, NULL, i);	/* no id, or a repeated one */
	t->v[me].msg = i;
	unlink_node(t, me);
	if (prev != NONE && !loops(t, me, prev))
		link_node(t, me, prev);
}

/* --- dates and order ------------------------------------------------------ */

/* The message that stands for node x: itself, or a dummy's first
 * child's (down the first children). */
static size_t
stand_in(const struct tree *t, size_t x)
{
	while (x != NONE && t->v[x].msg == NONE)
		x = t->v[x].child;
	return x == NONE ? NONE : t->v[x].msg;
}

static int
cmp_nodes(const struct tree *t, size_t a, size_t b)
{
	size_t ma = stand_in(t, a), mb = stand_in(t, b);
	int64_t da = ma != NONE ? t->msgs[ma].date : 0;
	int64_t db = mb != NONE ? t->msgs[mb].date : 0;
	uint32_t sa = ma != NONE ? t->msgs[ma].seq : 0;
	uint32_t sb = mb != NONE ? t->msgs[mb].seq : 0;

	if (da != db)
		return da < db ? -1 : 1;
	return (sa > sb) - (sa < sb);
}

static _Thread_local const struct tree *sort_tree;

static int
cmp_nodes_q(const void *x, const void *y)
{
	return cmp_nodes(sort_tree, *(const size_t *)x, *(const size_t *)y);
}

/* Orders a list of siblings (first at *head) by date. */
static void
sort_list(struct tree *t, size_t *head)
{
	size_t n = 0, *a, x;

	for (x = *head; x != NONE; x = t->v[x].next)
		n++;
	if (n < 2)
		return;
	a = xmalloc(n * sizeof(*a));
	n = 0;
	for (x = *head; x != NONE; x = t->v[x].next)
		a[n++] = x;
	sort_tree = t;
	qsort(a, n, sizeof(*a), cmp_nodes_q);
	sort_tree = NULL;
	*head = a[0];
	for (size_t i = 0; i + 1 < n; i++)
		t->v[a[i]].next = a[i + 1];
	t->v[a[n - 1]].next = NONE;
	free(a);
}

/* Step 6: children before parents, so a dummy's first child is its
 * earliest when the dummy is placed. */
static void
sort_all(struct tree *t, size_t *head)
{
	for (size_t x = *head; x != NONE; x = t->v[x].next)
		sort_all(t, &t->v[x].child);
	sort_list(t, head);
}

/* --- step 3: pruning ------------------------------------------------------ */

/*
 * Prunes the siblings at *head, bottom up: an empty dummy goes; a dummy
 * with children gives them its place, unless it is a root (at_root) with
 * more than one child.
 */
static void
prune(struct tree *t, size_t *head, bool at_root)
{
	size_t *at = head;

	while (*at != NONE) {
		size_t x = *at, c, last;

		prune(t, &t->v[x].child, false);
		c = t->v[x].child;
		if (t->v[x].msg != NONE ||
		    (at_root && c != NONE && t->v[c].next != NONE)) {
			at = &t->v[x].next;
			continue;
		}
		if (c == NONE) {
			*at = t->v[x].next;
			continue;
		}
		for (last = c;; last = t->v[last].next) {
			t->v[last].parent = t->v[x].parent;
			if (t->v[last].next == NONE)
				break;
		}
		t->v[last].next = t->v[x].next;
		*at = c;
		t->v[x].child = NONE;
		at = &t->v[last].next;
	}
}

/* --- step 5: subjects ----------------------------------------------------- */

/* The subject of a root: its message's, or its first child's. */
static const struct imap_sort_msg *
subject_msg(const struct tree *t, size_t x)
{
	size_t m = t->v[x].msg != NONE ? t->v[x].msg
				       : t->v[t->v[x].child].msg;

	if (m == NONE)	/* a dummy under a dummy cannot stay: defensive */
		m = stand_in(t, x);
	return m == NONE ? NULL : &t->msgs[m];
}

/* Root indexes in their order; *n_r of them. */
static size_t *
root_array(const struct tree *t, size_t head, size_t *n_r)
{
	size_t n = 0, *a;

	for (size_t x = head; x != NONE; x = t->v[x].next)
		n++;
	a = xmalloc((n + 1) * sizeof(*a));
	n = 0;
	for (size_t x = head; x != NONE; x = t->v[x].next)
		a[n++] = x;
	*n_r = n;
	return a;
}

/* Base subjects compare by i;ascii-casemap: hashed the same way. */
static size_t
hash_subject(const char *s)
{
	size_t h = 5381;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		h = h * 33 + (c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	return h;
}

/* The subject table of step 5: a root per base subject. */
struct subjects {
	size_t *root;		/* NONE where free */
	const char **subj;
	size_t cap;		/* a power of two */
};

/* The entry of s: its root, or a free one (root NONE) to fill. */
static size_t
subject_slot(const struct subjects *st, const char *s)
{
	size_t i = hash_subject(s) & (st->cap - 1);

	while (st->root[i] != NONE && strcasecmp(st->subj[i], s) != 0)
		i = (i + 1) & (st->cap - 1);
	return i;
}

/* The base subject a root is gathered by, or NULL (none: not gathered). */
static const struct imap_sort_msg *
gathered(const struct tree *t, size_t x)
{
	const struct imap_sort_msg *m = subject_msg(t, x);

	return m == NULL || m->subject == NULL || *m->subject == '\0' ? NULL
									 : m;
}

/* Step 5.B: a dummy, else a message that is not a reply, wins. */
static void
fill_table(const struct tree *t, const size_t *roots, size_t nr,
	   struct subjects *st)
{
	for (size_t i = 0; i < nr; i++) {
		const struct imap_sort_msg *m = gathered(t, roots[i]);
		size_t k, y;

		if (m == NULL)
			continue;
		k = subject_slot(st, m->subject);
		y = st->root[k];
		if (y == NONE) {
			st->root[k] = roots[i];
			st->subj[k] = m->subject;
		} else if (t->v[y].msg != NONE &&
			   (t->v[roots[i]].msg == NONE ||
			    (subject_msg(t, y)->refwd && !m->refwd))) {
			st->root[k] = roots[i];
		}
	}
}

/* Step 5.C: root x merged with the table's root *e. */
static void
merge_root(struct tree *t, size_t x, size_t *e, size_t top)
{
	size_t y = *e, d;
	bool x_dummy = t->v[x].msg == NONE, y_dummy = t->v[y].msg == NONE;

	if (x_dummy && y_dummy) {
		while (t->v[x].child != NONE)
			link_node(t, t->v[x].child, y);
		unlink_node(t, x);
		return;
	}
	if (y_dummy) {
		link_node(t, x, y);
		return;
	}
	if (!x_dummy && t->msgs[t->v[x].msg].refwd &&
	    !t->msgs[t->v[y].msg].refwd) {
		link_node(t, x, y);
		return;
	}
	/* a new dummy in y's place, y and x its children */
	d = new_node(t, NULL, NONE);
	link_node(t, d, top);
	link_node(t, y, d);
	link_node(t, x, d);
	*e = d;
}

static void
gather_subjects(struct tree *t, size_t top)
{
	size_t nr, *roots = root_array(t, t->v[top].child, &nr);
	struct subjects st = {.cap = 16};

	while (st.cap < 2 * nr + 2)
		st.cap *= 2;
	st.root = xmalloc(st.cap * sizeof(*st.root));
	st.subj = xcalloc(st.cap, sizeof(*st.subj));
	for (size_t i = 0; i < st.cap; i++)
		st.root[i] = NONE;
	fill_table(t, roots, nr, &st);
	for (size_t i = 0; i < nr; i++) {
		const struct imap_sort_msg *m;
		size_t x = roots[i], k;

		if (t->v[x].parent != top || (m = gathered(t, x)) == NULL)
			continue;	/* merged away, or no subject */
		k = subject_slot(&st, m->subject);
		if (st.root[k] == NONE || st.root[k] == x)
			continue;
		merge_root(t, x, &st.root[k], top);
	}
	free(roots);
	free(st.root);
	free(st.subj);
}

/* --- output --------------------------------------------------------------- */

static void write_node(const struct tree *t, size_t x, struct buf *out);

/* thread-nested: each child as its own list. */
static void
write_children(const struct tree *t, size_t x, struct buf *out)
{
	size_t c = t->v[x].child;

	if (c == NONE)
		return;
	if (t->v[c].next == NONE && t->v[x].msg != NONE) {
		buf_addc(out, ' ');
		write_node(t, c, out);
		return;
	}
	if (t->v[x].msg != NONE)
		buf_addc(out, ' ');
	for (; c != NONE; c = t->v[c].next) {
		buf_addc(out, '(');
		write_node(t, c, out);
		buf_addc(out, ')');
	}
}

/* A node and what is below it, inside its thread-list's parentheses. */
static void
write_node(const struct tree *t, size_t x, struct buf *out)
{
	if (t->v[x].msg != NONE)
		buf_printf(out, "%u", t->msgs[t->v[x].msg].num);
	write_children(t, x, out);
}

void
imap_thread_references(struct imap_sort_msg *msgs, size_t n,
		       struct buf *out)
{
	struct tree t = {.msgs = msgs};
	size_t top, x, ids;

	ids = n;
	for (size_t i = 0; i < n; i++)
		ids += msgs[i].nrefs;
	t.hcap = 64;
	while (t.hcap < 2 * ids + 2)	/* at most half full */
		t.hcap *= 2;
	t.hash = xmalloc(t.hcap * sizeof(*t.hash));
	for (size_t i = 0; i < t.hcap; i++)
		t.hash[i] = NONE;
	for (size_t i = 0; i < n; i++)
		link_message(&t, i);
	/* step 2: the roots under one top node */
	top = new_node(&t, NULL, NONE);
	for (x = 0; x < top; x++)
		if (t.v[x].parent == NONE)
			link_node(&t, x, top);
	prune(&t, &t.v[top].child, true);
	sort_all(&t, &t.v[top].child);		/* step 4 */
	gather_subjects(&t, top);		/* step 5 */
	sort_all(&t, &t.v[top].child);		/* step 6 */
	buf_addstr(out, "* THREAD");
	if (t.v[top].child != NONE)
		buf_addc(out, ' ');
	for (x = t.v[top].child; x != NONE; x = t.v[x].next) {
		buf_addc(out, '(');
		write_node(&t, x, out);
		buf_addc(out, ')');
	}
	buf_addstr(out, "\r\n");
	free(t.hash);
	free(t.v);
}
