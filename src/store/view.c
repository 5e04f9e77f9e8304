/*
 * view - the mailbox view of store.h over a backend's snapshot (struct
 * store_box): the folder name checked, the messages put in UID order, and
 * each message described without a file read.  Fails as store_box_open
 * does (STORE_INUSE, STORE_TEMP, STORE_PERM with a message in err); an
 * unknown folder is STORE_PERM.
 */
#include "store_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/buf.h"

struct store_view {
	struct store_box *box;
};

/* UID order; a message without a UID after all, in delivery order. */
static int
cmp_uid(const void *a, const void *b)
{
	const struct store_msg *x = a, *y = b;
	uint64_t kx = x->uid ? x->uid : (uint64_t)UINT32_MAX + 1;
	uint64_t ky = y->uid ? y->uid : (uint64_t)UINT32_MAX + 1;

	if (kx != ky)
		return kx < ky ? -1 : 1;
	if (x->sec != y->sec)
		return x->sec < y->sec ? -1 : 1;
	if (x->usec != y->usec)
		return x->usec < y->usec ? -1 : 1;
	return strcmp(x->file, y->file);
}

/* Puts b's messages in UID order, unless they are (the usual case). */
static void
uid_order(struct store_box *b)
{
	bool sorted = true;

	if (b->uidvalidity == 0)
		return; /* no UIDs: the backend's order */
	for (size_t i = 1; i < b->n && sorted; i++)
		sorted = cmp_uid(&b->msgs[i - 1], &b->msgs[i]) < 0;
	if (!sorted)
		qsort(b->msgs, b->n, sizeof(*b->msgs), cmp_uid);
}

enum store_res
store_view_open(struct store *st, const char *user, const char *folder,
		struct store_view **vp, char *err, size_t errsz)
{
	struct store_box *b;
	enum store_res r;

	*vp = NULL;
	if (strcasecmp(folder, "INBOX") != 0) {
		snprintf(err, errsz, "no folder %s (only INBOX)", folder);
		return STORE_PERM;
	}
	r = store_box_open(st, user, &b, err, errsz);
	if (r != STORE_OK)
		return r;
	uid_order(b);
	*vp = xcalloc(1, sizeof(**vp));
	(*vp)->box = b;
	return STORE_OK;
}

void
store_view_info(const struct store_view *v, struct store_view_info *out)
{
	out->count = v->box->n;
	out->uidvalidity = v->box->uidvalidity;
	out->uidnext = v->box->uidnext;
	out->highestmodseq = v->box->highestmodseq;
}

void
store_view_msg(const struct store_view *v, size_t i, struct store_vmsg *out)
{
	const struct store_msg *m = &v->box->msgs[i];

	out->uid = m->uid;
	out->modseq = m->modseq;
	out->flags = m->flags;
	out->size = m->size;
	out->octets = m->octets;
	out->date = m->date;
	out->uidl = m->uidl;
}

int
store_view_reader_open(struct store_view *v, size_t i, struct store_reader *r)
{
	return store_reader_open(v->box, i, r);
}

enum store_res
store_view_expunge(struct store_view *v, const bool *dele, char *err,
		   size_t errsz)
{
	return store_box_expunge(v->box, dele, err, errsz);
}

void
store_view_close(struct store_view **vp)
{
	if (*vp == NULL)
		return;
	store_box_free(&(*vp)->box);
	free(*vp);
	*vp = NULL;
}
