/*
 * imap_fake - see imap_fake.h.  Folders are an array of pointers; a
 * message is shared (reference counted) between its folder, the view's
 * entries and open text handles, so that a view keeps what another
 * session expunged until it may report it.  Each view entry holds its
 * own copy of the flags, keywords and modseq: what the session was last
 * shown, compared with the folder's on sync.  A broken invariant (a
 * position past the view) aborts: it is the core's bug, not a test's.
 */
#include "imap_fake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"

struct fmsg {
	unsigned refs;
	bool gone;		/* no longer in its folder */
	uint32_t uid;
	uint64_t modseq;
	unsigned flags;
	char *keywords;		/* "kw kw" or NULL */
	int64_t date;
	int zone;		/* the date's, minutes east of UTC */
	char *text;		/* LF line ends */
	size_t len;
};

struct ffolder {
	char *name;
	unsigned special_use;
	uint32_t uidvalidity, uidnext, recent_from;
	uint64_t hms;
	char *keywords;		/* every keyword ever used here */
	struct fmsg **msgs;
	size_t n, cap;
};

struct ventry {
	struct fmsg *m;
	uint64_t modseq;
	unsigned flags;
	char *keywords;
	bool expunged;
};

struct fhandle {
	struct imap_fake *f;
	struct fmsg *m;
	size_t off;
};

struct imap_fake {
	struct ffolder **folders;
	size_t nfolders;
	char **subs;
	size_t nsubs;
	uint32_t next_uidvalidity;
	int64_t now;

	/* the view */
	bool selected;
	struct ffolder *vf;	/* NULL: none, or detached */
	bool readonly;
	uint32_t v_uidvalidity, v_uidnext;
	uint32_t v_recent_lo, v_recent_hi;	/* the last claim */
	struct ventry *v;
	size_t vn, vcap;
	uint32_t *exp_out, *chg_out;

	/* APPEND: the message being sent, and the command's others */
	bool appending;
	uint64_t app_size;
	char *app_buf;
	size_t app_len;
	char **app_done;
	size_t *app_done_len;
	size_t app_ndone;

	unsigned handles;
	unsigned calls[IMAP_FAKE_OPS];
	bool fail_armed[IMAP_FAKE_OPS];
	enum imap_mres fail_r[IMAP_FAKE_OPS];
	char fail_err[IMAP_FAKE_OPS][128];
};

/* --- keywords: "kw kw" lists, matched without case ---------------------- */

static bool
kw_has(const char *list, const char *kw, size_t kl)
{
	const char *p = list;

	while (p != NULL && *p != '\0') {
		size_t l = strcspn(p, " ");

		if (l == kl && strncasecmp(p, kw, kl) == 0)
			return true;
		p += l;
		p += *p == ' ';
	}
	return false;
}

/* list with kw added (freed and replaced). */
static char *
kw_add(char *list, const char *kw, size_t kl)
{
	size_t ol = list != NULL ? strlen(list) : 0;
	char *n;

	if (kl == 0 || kw_has(list, kw, kl))
		return list;
	n = xmalloc(ol + kl + 2);
	if (ol > 0)
		memcpy(n, list, ol);
	if (ol > 0)
		n[ol++] = ' ';
	memcpy(n + ol, kw, kl);
	n[ol + kl] = '\0';
	free(list);
	return n;
}

static char *
kw_add_all(char *list, const char *kws)
{
	const char *p = kws;

	while (p != NULL && *p != '\0') {
		size_t l = strcspn(p, " ");

		list = kw_add(list, p, l);
		p += l;
		p += *p == ' ';
	}
	return list;
}

/* list without the keywords of kws (a new string or NULL). */
static char *
kw_remove_all(const char *list, const char *kws)
{
	char *n = NULL;
	const char *p = list;

	while (p != NULL && *p != '\0') {
		size_t l = strcspn(p, " ");

		if (!kw_has(kws, p, l))
			n = kw_add(n, p, l);
		p += l;
		p += *p == ' ';
	}
	return n;
}

static bool
kw_same(const char *a, const char *b)
{
	const char *p;

	for (p = a; p != NULL && *p != '\0';) {
		size_t l = strcspn(p, " ");

		if (!kw_has(b, p, l))
			return false;
		p += l;
		p += *p == ' ';
	}
	for (p = b; p != NULL && *p != '\0';) {
		size_t l = strcspn(p, " ");

		if (!kw_has(a, p, l))
			return false;
		p += l;
		p += *p == ' ';
	}
	return true;
}

static char *
kw_dup(const char *kws)
{
	return kw_add_all(NULL, kws);
}

/* --- messages and folders ----------------------------------------------- */

static void
msg_unref(struct fmsg *m)
{
	if (m == NULL || --m->refs > 0)
		return;
	free(m->keywords);
	free(m->text);
	free(m);
}

static uint64_t
crlf_size(const struct fmsg *m)
{
	uint64_t n = m->len;

	for (size_t i = 0; i < m->len; i++)
		n += m->text[i] == '\n';
	return n;
}

static struct ffolder *
folder_find(const struct imap_fake *f, const char *name)
{
	for (size_t i = 0; i < f->nfolders; i++)
		if (strcmp(f->folders[i]->name, name) == 0)
			return f->folders[i];
	return NULL;
}

static struct ffolder *
folder_add(struct imap_fake *f, const char *name, unsigned special_use)
{
	struct ffolder *d = xcalloc(1, sizeof(*d));

	d->name = xstrdup(name);
	d->special_use = special_use;
	d->uidvalidity = f->next_uidvalidity++;
	d->uidnext = 1;
	d->recent_from = 1;
	d->hms = 1;
	f->folders = xrealloc(f->folders,
			      (f->nfolders + 1) * sizeof(*f->folders));
	f->folders[f->nfolders++] = d;
	return d;
}

static void
folder_free(struct ffolder *d)
{
	for (size_t i = 0; i < d->n; i++) {
		d->msgs[i]->gone = true;
		msg_unref(d->msgs[i]);
	}
	free(d->msgs);
	free(d->keywords);
	free(d->name);
	free(d);
}

static struct fmsg *
folder_append(struct imap_fake *f, struct ffolder *d, const char *text,
	      size_t len, unsigned flags, const char *keywords, int64_t date,
	      int zone)
{
	struct fmsg *m = xcalloc(1, sizeof(*m));

	m->refs = 1;
	m->uid = d->uidnext++;
	m->modseq = ++d->hms;
	m->flags = flags & 0x3f;
	m->keywords = kw_dup(keywords);
	m->date = date != 0 ? date : f->now;
	m->zone = date != 0 ? zone : 0;
	m->text = xstrndup(text, len);
	m->len = len;
	d->keywords = kw_add_all(d->keywords, keywords);
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 8;
		d->msgs = xrealloc(d->msgs, d->cap * sizeof(*d->msgs));
	}
	d->msgs[d->n++] = m;
	return m;
}

static struct fmsg *
folder_msg(const struct ffolder *d, uint32_t uid, size_t *i_r)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->msgs[i]->uid == uid) {
			if (i_r != NULL)
				*i_r = i;
			return d->msgs[i];
		}
	return NULL;
}

/* Takes m out of d (expunged): gone, the folder's reference dropped. */
static void
folder_remove(struct ffolder *d, struct fmsg *m)
{
	size_t i;

	if (folder_msg(d, m->uid, &i) == NULL)
		return;
	memmove(d->msgs + i, d->msgs + i + 1,
		(d->n - i - 1) * sizeof(*d->msgs));
	d->n--;
	d->hms++;
	m->gone = true;
	msg_unref(m);
}

/* Applies a STORE to m; true if its flags or keywords changed. */
static bool
msg_apply(struct ffolder *d, struct fmsg *m, enum imap_store_op op,
	  unsigned flags, const char *keywords)
{
	unsigned nf = m->flags;
	char *nk;

	flags &= 0x3f;
	if (op == IMAP_STORE_REPLACE) {
		nf = flags;
		nk = kw_dup(keywords);
	} else if (op == IMAP_STORE_ADD) {
		nf |= flags;
		nk = kw_add_all(kw_dup(m->keywords), keywords);
	} else {
		nf &= ~flags;
		nk = kw_remove_all(m->keywords, keywords);
	}
	if (nf == m->flags && kw_same(nk, m->keywords)) {
		free(nk);
		return false;
	}
	m->flags = nf;
	free(m->keywords);
	m->keywords = nk;
	m->modseq = ++d->hms;
	d->keywords = kw_add_all(d->keywords, keywords);
	return true;
}

/* --- names (store/folder.h's rules, shortened) -------------------------- */

static bool
is_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0;
}

static const char *
name_check(const char *name)
{
	const char *p = name;
	unsigned levels = 0;

	if (*name == '\0')
		return "empty folder name";
	if (is_inbox(name))
		return "INBOX is not a folder name here";
	if (strlen(name) >= 200)
		return "folder name too long";
	for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
		if (*c < 0x20 || *c == 0x7f)
			return "control character in folder name";
		if (*c == '*' || *c == '%')
			return "'*' and '%' are not allowed in folder names";
	}
	for (;;) {
		const char *e = strchr(p, '/');
		size_t l = e != NULL ? (size_t)(e - p) : strlen(p);

		if (l == 0)
			return "empty level in folder name";
		if (levels == 0 && l == 5 && strncasecmp(p, "INBOX", 5) == 0)
			return "no folders under INBOX: create them at the "
			       "top level";
		if (++levels > 16)
			return "folder name has more than 16 levels";
		if (e == NULL)
			return NULL;
		p = e + 1;
	}
}

static bool
below(const char *name, const char *parent)
{
	size_t l = strlen(parent);

	return strncmp(name, parent, l) == 0 && name[l] == '/';
}

/* --- the fake ------------------------------------------------------------- */

struct imap_fake *
imap_fake_new(void)
{
	static const struct {
		const char *name;
		unsigned su;
	} DEF[] = {
		{"INBOX", 0},
		{"Sent", IMAP_SU_SENT},
		{"Drafts", IMAP_SU_DRAFTS},
		{"Trash", IMAP_SU_TRASH},
		{"Junk", IMAP_SU_JUNK},
		{"Archive", IMAP_SU_ARCHIVE},
	};
	struct imap_fake *f = xcalloc(1, sizeof(*f));

	f->next_uidvalidity = 1;
	f->now = IMAP_FAKE_NOW;
	for (size_t i = 0; i < sizeof(DEF) / sizeof(DEF[0]); i++)
		folder_add(f, DEF[i].name, DEF[i].su);
	return f;
}

static void
view_clear(struct imap_fake *f)
{
	for (size_t i = 0; i < f->vn; i++) {
		msg_unref(f->v[i].m);
		free(f->v[i].keywords);
	}
	f->vn = 0;
	f->vf = NULL;
	f->selected = false;
}

static void
append_clear(struct imap_fake *f)
{
	free(f->app_buf);
	f->app_buf = NULL;
	f->app_len = 0;
	f->appending = false;
	for (size_t k = 0; k < f->app_ndone; k++)
		free(f->app_done[k]);
	free(f->app_done);
	free(f->app_done_len);
	f->app_done = NULL;
	f->app_done_len = NULL;
	f->app_ndone = 0;
}

void
imap_fake_free(struct imap_fake **fp)
{
	struct imap_fake *f = *fp;

	if (f == NULL)
		return;
	view_clear(f);
	free(f->v);
	free(f->exp_out);
	free(f->chg_out);
	append_clear(f);
	for (size_t i = 0; i < f->nfolders; i++)
		folder_free(f->folders[i]);
	free(f->folders);
	for (size_t i = 0; i < f->nsubs; i++)
		free(f->subs[i]);
	free(f->subs);
	free(f);
	*fp = NULL;
}

/* Counts the call; true (and r, err set) if a failure was armed. */
static bool
injected(struct imap_fake *f, enum imap_fake_op op, enum imap_mres *r,
	 char *err, size_t errsz)
{
	f->calls[op]++;
	if (!f->fail_armed[op])
		return false;
	f->fail_armed[op] = false;
	*r = f->fail_r[op];
	snprintf(err, errsz, "%s", f->fail_err[op]);
	return true;
}

static enum imap_mres
say(enum imap_mres r, char *err, size_t errsz, const char *why)
{
	snprintf(err, errsz, "%s", why);
	return r;
}

/* --- folders -------------------------------------------------------------- */

static bool
subscribed(const struct imap_fake *f, const char *name)
{
	for (size_t i = 0; i < f->nsubs; i++)
		if (strcmp(f->subs[i], name) == 0)
			return true;
	return false;
}

struct lentry {
	char *name;
	bool exists;
};

static void
lentry_add(struct lentry **v, size_t *n, size_t *cap, const char *name,
	   size_t len, bool exists)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 32;
		*v = xrealloc(*v, *cap * sizeof(**v));
	}
	(*v)[*n].name = xstrndup(name, len);
	(*v)[*n].exists = exists;
	(*n)++;
}

static int
lentry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct lentry *)a)->name,
		      ((const struct lentry *)b)->name);
}

/* Sorted, each name once (exists if any copy does). */
static size_t
lentry_unique(struct lentry *v, size_t n)
{
	size_t w = 0;

	if (n > 0)
		qsort(v, n, sizeof(*v), lentry_cmp);
	for (size_t i = 0; i < n; i++) {
		if (w > 0 && strcmp(v[w - 1].name, v[i].name) == 0) {
			v[w - 1].exists |= v[i].exists;
			free(v[i].name);
			continue;
		}
		v[w++] = v[i];
	}
	return w;
}

/* Some name of sorted v is below v[i] (they follow it as one run). */
static bool
lentry_children(const struct lentry *v, size_t n, size_t i)
{
	size_t l = strlen(v[i].name);

	for (size_t k = i + 1; k < n; k++) {
		int c = strncmp(v[k].name, v[i].name, l);

		if (c != 0)
			return false;
		if (v[k].name[l] == '/')
			return true;
		if ((unsigned char)v[k].name[l] > '/')
			return false;
	}
	return false;
}

static enum imap_mres
fake_list(void *ctx, struct imap_folder **list_r, size_t *n_r, char *err,
	  size_t errsz)
{
	struct imap_fake *f = ctx;
	struct lentry *v = NULL;
	struct imap_folder *out;
	enum imap_mres r;
	size_t n = 0, cap = 0, o = 0;

	if (injected(f, IMAP_FAKE_LIST, &r, err, errsz))
		return r;
	for (size_t i = 0; i < f->nfolders; i++) {
		const char *name = f->folders[i]->name;

		for (const char *p = name; (p = strchr(p, '/')) != NULL; p++)
			lentry_add(&v, &n, &cap, name, (size_t)(p - name),
				   false);
		lentry_add(&v, &n, &cap, name, strlen(name), true);
	}
	for (size_t i = 0; i < f->nsubs; i++)
		lentry_add(&v, &n, &cap, f->subs[i], strlen(f->subs[i]),
			   false);
	n = lentry_unique(v, n);
	out = xcalloc(n + 1, sizeof(*out));
	/* INBOX first, then the others in octet order */
	for (size_t pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++) {
			bool inbox = strcmp(v[i].name, "INBOX") == 0;
			struct ffolder *d;

			if (inbox != (pass == 0))
				continue;
			d = folder_find(f, v[i].name);
			out[o].name = v[i].name;
			out[o].exists = v[i].exists;
			out[o].special_use = d != NULL ? d->special_use : 0;
			out[o].subscribed = subscribed(f, v[i].name);
			out[o++].children = lentry_children(v, n, i);
		}
	free(v);
	*list_r = out;
	*n_r = n;
	return IMAP_M_OK;
}

static void
fake_list_free(void *ctx, struct imap_folder *list, size_t n)
{
	(void)ctx;
	for (size_t i = 0; i < n; i++)
		free(list[i].name);
	free(list);
}

static enum imap_mres
fake_create(void *ctx, const char *name, unsigned special_use, char *err,
	    size_t errsz)
{
	struct imap_fake *f = ctx;
	enum imap_mres r;
	const char *why;

	if (injected(f, IMAP_FAKE_CREATE, &r, err, errsz))
		return r;
	if (is_inbox(name) || folder_find(f, name) != NULL)
		return say(IMAP_M_EXISTS, err, errsz, "folder exists");
	if ((why = name_check(name)) != NULL)
		return say(IMAP_M_PERM, err, errsz, why);
	folder_add(f, name, special_use);
	return IMAP_M_OK;
}

static void
folder_drop(struct imap_fake *f, struct ffolder *d)
{
	for (size_t i = 0; i < f->nfolders; i++)
		if (f->folders[i] == d) {
			memmove(f->folders + i, f->folders + i + 1,
				(f->nfolders - i - 1) * sizeof(*f->folders));
			f->nfolders--;
			break;
		}
	if (f->vf == d)
		f->vf = NULL;	/* the view is detached */
	folder_free(d);
}

static enum imap_mres
fake_delete(void *ctx, const char *name, char *err, size_t errsz)
{
	struct imap_fake *f = ctx;
	struct ffolder *d;
	enum imap_mres r;

	if (injected(f, IMAP_FAKE_DELETE, &r, err, errsz))
		return r;
	if (is_inbox(name))
		return say(IMAP_M_PERM, err, errsz, "INBOX cannot be deleted");
	if ((d = folder_find(f, name)) == NULL)
		return say(IMAP_M_NOTFOUND, err, errsz, "no such folder");
	folder_drop(f, d);
	return IMAP_M_OK;
}

/* The new name of old (from or below it) renamed to to. */
static char *
renamed(const char *old, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to), rl = strlen(old + fl);
	char *n = xmalloc(tl + rl + 1);

	memcpy(n, to, tl);
	memcpy(n + tl, old + fl, rl + 1);
	return n;
}

static enum imap_mres
rename_check(struct imap_fake *f, const char *from, const char *to,
	     char *err, size_t errsz)
{
	const char *why;

	if (folder_find(f, from) == NULL)
		return say(IMAP_M_NOTFOUND, err, errsz, "no such folder");
	if (is_inbox(to) || folder_find(f, to) != NULL)
		return say(IMAP_M_EXISTS, err, errsz, "folder exists");
	if ((why = name_check(to)) != NULL)
		return say(IMAP_M_PERM, err, errsz, why);
	if (strcmp(from, to) == 0 || below(to, from))
		return say(IMAP_M_PERM, err, errsz,
			   "a folder cannot move below itself");
	for (size_t i = 0; i < f->nfolders; i++) {
		char *n;
		bool clash;

		if (!below(f->folders[i]->name, from))
			continue;
		n = renamed(f->folders[i]->name, from, to);
		clash = folder_find(f, n) != NULL;
		why = name_check(n);
		free(n);
		if (clash)
			return say(IMAP_M_EXISTS, err, errsz,
				   "a child's new name exists");
		if (why != NULL)
			return say(IMAP_M_PERM, err, errsz, why);
	}
	return IMAP_M_OK;
}

/* RENAME INBOX: a new folder with INBOX's messages; INBOX empty. */
static enum imap_mres
rename_inbox(struct imap_fake *f, const char *to, char *err, size_t errsz)
{
	struct ffolder *in = folder_find(f, "INBOX"), *t;
	const char *why;

	if (is_inbox(to) || folder_find(f, to) != NULL)
		return say(IMAP_M_EXISTS, err, errsz, "folder exists");
	if ((why = name_check(to)) != NULL)
		return say(IMAP_M_PERM, err, errsz, why);
	t = folder_add(f, to, 0);
	while (in != NULL && in->n > 0) {
		struct fmsg *m = in->msgs[0];

		folder_append(f, t, m->text, m->len, m->flags, m->keywords,
			      m->date, m->zone);
		folder_remove(in, m);
	}
	return IMAP_M_OK;
}

static enum imap_mres
fake_rename(void *ctx, const char *from, const char *to, char *err,
	    size_t errsz)
{
	struct imap_fake *f = ctx;
	enum imap_mres r;

	if (injected(f, IMAP_FAKE_RENAME, &r, err, errsz))
		return r;
	if (is_inbox(from))
		return rename_inbox(f, to, err, errsz);
	if ((r = rename_check(f, from, to, err, errsz)) != IMAP_M_OK)
		return r;
	for (size_t i = 0; i < f->nfolders; i++) {
		struct ffolder *d = f->folders[i];
		char *n;

		if (strcmp(d->name, from) != 0 && !below(d->name, from))
			continue;
		n = renamed(d->name, from, to);
		free(d->name);
		d->name = n;
	}
	return IMAP_M_OK;
}

static void
sub_set(struct imap_fake *f, const char *name, bool on)
{
	for (size_t i = 0; i < f->nsubs; i++)
		if (strcmp(f->subs[i], name) == 0) {
			if (on)
				return;
			free(f->subs[i]);
			f->subs[i] = f->subs[--f->nsubs];
			return;
		}
	if (!on)
		return;
	f->subs = xrealloc(f->subs, (f->nsubs + 1) * sizeof(*f->subs));
	f->subs[f->nsubs++] = xstrdup(name);
}

static enum imap_mres
fake_subscribe(void *ctx, const char *name, bool on, char *err,
	       size_t errsz)
{
	struct imap_fake *f = ctx;
	enum imap_mres r;

	if (injected(f, IMAP_FAKE_SUBSCRIBE, &r, err, errsz))
		return r;
	sub_set(f, name, on);
	return IMAP_M_OK;
}

static enum imap_mres
fake_status(void *ctx, const char *name, struct imap_status *st, char *err,
	    size_t errsz)
{
	struct imap_fake *f = ctx;
	struct ffolder *d;
	enum imap_mres r;

	if (injected(f, IMAP_FAKE_STATUS, &r, err, errsz))
		return r;
	if ((d = folder_find(f, name)) == NULL)
		return say(IMAP_M_NOTFOUND, err, errsz, "no such folder");
	memset(st, 0, sizeof(*st));
	st->messages = (uint32_t)d->n;
	for (size_t i = 0; i < d->n; i++) {
		const struct fmsg *m = d->msgs[i];

		st->recent += m->uid >= d->recent_from;
		st->unseen += !(m->flags & IMAP_F_SEEN);
		st->deleted += !!(m->flags & IMAP_F_DELETED);
		st->size += crlf_size(m);
	}
	st->uidnext = d->uidnext;
	st->uidvalidity = d->uidvalidity;
	st->highestmodseq = d->hms;
	return IMAP_M_OK;
}

/* --- the view ------------------------------------------------------------- */

static void
ventry_set(struct ventry *e, struct fmsg *m)
{
	e->modseq = m->modseq;
	e->flags = m->flags;
	free(e->keywords);
	e->keywords = kw_dup(m->keywords);
}

static void
view_push(struct imap_fake *f, struct fmsg *m)
{
	struct ventry *e;

	if (f->vn == f->vcap) {
		f->vcap = f->vcap ? 2 * f->vcap : 16;
		f->v = xrealloc(f->v, f->vcap * sizeof(*f->v));
	}
	e = &f->v[f->vn++];
	memset(e, 0, sizeof(*e));
	e->m = m;
	m->refs++;
	ventry_set(e, m);
}

/* The view's \Recent: a read-write view claims the UIDs no session
 * claimed yet, [recent_from, uidnext); a read-only one claims none but
 * sees those of them it learns of now (UIDs from known on) as recent. */
static void
view_recent(struct imap_fake *f, uint32_t known)
{
	uint32_t lo = f->vf->recent_from > known ? f->vf->recent_from : known;

	f->v_recent_lo = f->v_recent_hi = 0;
	if (f->vf->uidnext <= lo)
		return;
	f->v_recent_lo = lo;
	f->v_recent_hi = f->vf->uidnext;
	if (!f->readonly)
		f->vf->recent_from = f->vf->uidnext;
}

static enum imap_mres
fake_select(void *ctx, const char *name, bool readonly,
	    struct imap_view_info *info, char *err, size_t errsz)
{
	struct imap_fake *f = ctx;
	struct ffolder *d;
	enum imap_mres r;

	view_clear(f);
	if (injected(f, IMAP_FAKE_SELECT, &r, err, errsz))
		return r;
	if ((d = folder_find(f, name)) == NULL)
		return say(IMAP_M_NOTFOUND, err, errsz, "no such folder");
	f->selected = true;
	f->vf = d;
	f->readonly = readonly;
	f->v_uidvalidity = d->uidvalidity;
	f->v_uidnext = d->uidnext;
	for (size_t i = 0; i < d->n; i++)
		view_push(f, d->msgs[i]);
	view_recent(f, 1);
	info->count = (uint32_t)f->vn;
	info->uidvalidity = d->uidvalidity;
	info->uidnext = d->uidnext;
	info->highestmodseq = d->hms;
	info->recent_lo = f->v_recent_lo;
	info->recent_hi = f->v_recent_hi;
	info->keywords = d->keywords;
	return IMAP_M_OK;
}

static void
fake_unselect(void *ctx)
{
	view_clear(ctx);
}

/* Others' expunges: reported (and removed) or kept, marked. */
static void
sync_expunges(struct imap_fake *f, bool keep, struct imap_changes *ch)
{
	size_t w = 0, nexp = 0;

	free(f->exp_out);
	f->exp_out = xcalloc(f->vn + 1, sizeof(*f->exp_out));
	for (size_t i = 0; i < f->vn; i++) {
		struct ventry *e = &f->v[i];

		if (e->m->gone && keep) {
			e->expunged = true;
		} else if (e->m->gone) {
			f->exp_out[nexp++] = (uint32_t)w;
			msg_unref(e->m);
			free(e->keywords);
			continue;
		}
		f->v[w++] = *e;
	}
	f->vn = w;
	ch->expunged = f->exp_out;
	ch->nexpunged = nexp;
}

static void
sync_changes(struct imap_fake *f, struct imap_changes *ch)
{
	size_t n = 0;

	free(f->chg_out);
	f->chg_out = xcalloc(f->vn + 1, sizeof(*f->chg_out));
	for (size_t i = 0; i < f->vn; i++) {
		struct ventry *e = &f->v[i];

		if (e->m->gone || e->modseq == e->m->modseq)
			continue;
		ventry_set(e, e->m);
		f->chg_out[n++] = (uint32_t)i;
	}
	ch->changed = f->chg_out;
	ch->nchanged = n;
}

static enum imap_mres
fake_sync(void *ctx, bool keep_expunged, struct imap_changes *ch,
	  char *err, size_t errsz)
{
	struct imap_fake *f = ctx;
	struct ffolder *d = f->vf;
	uint32_t known;
	enum imap_mres r;

	if (injected(f, IMAP_FAKE_SYNC, &r, err, errsz))
		return r;
	if (!f->selected)
		return say(IMAP_M_PERM, err, errsz, "no folder selected");
	if (d == NULL)
		return say(IMAP_M_NOTFOUND, err, errsz, "folder deleted");
	if (d->uidvalidity != f->v_uidvalidity)
		return say(IMAP_M_PERM, err, errsz, "UIDVALIDITY changed");
	memset(ch, 0, sizeof(*ch));
	sync_expunges(f, keep_expunged, ch);
	sync_changes(f, ch);
	for (size_t i = 0; i < d->n; i++)
		if (d->msgs[i]->uid >= f->v_uidnext)
			view_push(f, d->msgs[i]);
	known = f->v_uidnext;
	f->v_uidnext = d->uidnext;
	view_recent(f, known);
	ch->count = (uint32_t)f->vn;
	ch->recent_lo = f->v_recent_lo;
	ch->recent_hi = f->v_recent_hi;
	return IMAP_M_OK;
}

static struct ventry *
ventry(struct imap_fake *f, uint32_t pos)
{
	if (pos >= f->vn) {
		fprintf(stderr, "imap_fake: position %u past the view (%zu)\n",
			pos, f->vn);
		abort();
	}
	return &f->v[pos];
}

static void
fake_msg(void *ctx, uint32_t pos, struct imap_msg *out)
{
	struct ventry *e = ventry(ctx, pos);

	out->uid = e->m->uid;
	out->modseq = e->modseq;
	out->flags = e->flags;
	out->keywords = e->keywords;
	out->size = crlf_size(e->m);
	out->date = e->m->date;
	out->zone = e->m->zone;
	out->expunged = e->expunged || e->m->gone;
}

static bool
fake_find_uid(void *ctx, uint32_t uid, uint32_t *pos_r)
{
	struct imap_fake *f = ctx;
	size_t lo = 0, hi = f->vn;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->v[mid].m->uid == uid) {
			*pos_r = (uint32_t)mid;
			return true;
		}
		if (f->v[mid].m->uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* The checks every call on the view's messages makes. */
static enum imap_mres
view_usable(struct imap_fake *f, bool writes, char *err, size_t errsz)
{
	if (!f->selected)
		return say(IMAP_M_PERM, err, errsz, "no folder selected");
	if (f->vf == NULL)
		return say(IMAP_M_NOTFOUND, err, errsz, "folder deleted");
	if (writes && f->readonly)
		return say(IMAP_M_PERM, err, errsz, "folder is read-only");
	return IMAP_M_OK;
}

static enum imap_mres
fake_store(void *ctx, const uint32_t *pos, size_t n,
	   const struct imap_store_req *req, bool *modified, char *err,
	   size_t errsz)
{
	struct imap_fake *f = ctx;
	enum imap_mres r;

	if (injected(f, IMAP_FAKE_STORE, &r, err, errsz))
		return r;
	if ((r = view_usable(f, true, err, errsz)) != IMAP_M_OK)
		return r;
	for (size_t k = 0; k < n; k++) {
		struct ventry *e = ventry(f, pos[k]);

		if (modified != NULL)
			modified[k] = false;
		if (e->m->gone)
			continue;
		if (req->conditional && e->m->modseq > req->unchangedsince) {
			if (modified != NULL)
				modified[k] = true;
			continue;
		}
		msg_apply(f->vf, e->m, req->op, req->flags, req->keywords);
		ventry_set(e, e->m);
	}
	return IMAP_M_OK;
}

static enum imap_mres
fake_expunge(void *ctx, const uint32_t *pos, size_t n, char *err,
	     size_t errsz)
{
	struct imap_fake *f = ctx;
	enum imap_mres r;

	if (injected(f, IMAP_FAKE_EXPUNGE, &r, err, errsz))
		return r;
	if ((r = view_usable(f, true, err, errsz)) != IMAP_M_OK)
		return r;
	for (size_t k = 0; k < n; k++) {
		struct ventry *e = ventry(f, pos[k]);

		if (!e->m->gone)
			folder_remove(f->vf, e->m);
		e->expunged = true;
	}
	return IMAP_M_OK;
}

static enum imap_mres
fake_copy(void *ctx, const uint32_t *pos, size_t n, const char *folder,
	  bool move, uint32_t *uids_r, uint32_t *uidvalidity_r, char *err,
	  size_t errsz)
{
	struct imap_fake *f = ctx;
	struct ffolder *t;
	enum imap_mres r;

	if (injected(f, IMAP_FAKE_COPY, &r, err, errsz))
		return r;
	if ((r = view_usable(f, move, err, errsz)) != IMAP_M_OK)
		return r;
	if ((t = folder_find(f, folder)) == NULL)
		return say(IMAP_M_NOTFOUND, err, errsz, "no such folder");
	for (size_t k = 0; k < n; k++)
		if (ventry(f, pos[k])->m->gone)
			return say(IMAP_M_EXPUNGED, err, errsz,
				   "a message was expunged");
	for (size_t k = 0; k < n; k++) {
		struct fmsg *m = ventry(f, pos[k])->m;

		uids_r[k] = folder_append(f, t, m->text, m->len, m->flags,
					  m->keywords, m->date, m->zone)->uid;
	}
	*uidvalidity_r = t->uidvalidity;
	for (size_t k = 0; move && k < n; k++) {
		struct ventry *e = ventry(f, pos[k]);

		folder_remove(f->vf, e->m);
		e->expunged = true;
	}
	return IMAP_M_OK;
}

/* --- message text --------------------------------------------------------- */

static enum imap_mres
fake_open(void *ctx, uint32_t pos, void **rd, char *err, size_t errsz)
{
	struct imap_fake *f = ctx;
	struct fhandle *h;
	struct ventry *e;
	enum imap_mres r;

	if (injected(f, IMAP_FAKE_OPEN, &r, err, errsz))
		return r;
	e = ventry(f, pos);
	if (e->m->gone)
		return say(IMAP_M_EXPUNGED, err, errsz,
			   "the message was expunged");
	h = xcalloc(1, sizeof(*h));
	h->f = f;
	h->m = e->m;
	h->m->refs++;
	f->handles++;
	*rd = h;
	return IMAP_M_OK;
}

static long
fake_read(void *rd, char *buf, size_t size)
{
	struct fhandle *h = rd;
	size_t n = h->m->len - h->off;
	enum imap_mres r;
	char err[sizeof(h->f->fail_err[0])];

	if (injected(h->f, IMAP_FAKE_READ, &r, err, sizeof(err)))
		return -1;
	if (n > size)
		n = size;
	memcpy(buf, h->m->text + h->off, n);
	h->off += n;
	return (long)n;
}

static int
fake_rewind(void *rd)
{
	((struct fhandle *)rd)->off = 0;
	return 0;
}

static void
fake_close(void *rd)
{
	struct fhandle *h = rd;

	if (h == NULL)
		return;
	h->f->handles--;
	msg_unref(h->m);
	free(h);
}

/* --- APPEND --------------------------------------------------------------- */

/* CRLF to LF in place; the new length. */
static size_t
crlf_to_lf(char *s, size_t len)
{
	size_t w = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n')
			continue;
		s[w++] = s[i];
	}
	s[w] = '\0';
	return w;
}

/* The message being sent is whole: kept with the command's others. */
static enum imap_mres
append_finish(struct imap_fake *f, char *err, size_t errsz)
{
	size_t k = f->app_ndone;

	if (!f->appending)
		return IMAP_M_OK;
	if (f->app_len != f->app_size) {
		append_clear(f);
		return say(IMAP_M_PERM, err, errsz,
			   "fewer octets than announced");
	}
	f->app_done = xrealloc(f->app_done, (k + 1) * sizeof(*f->app_done));
	f->app_done_len = xrealloc(f->app_done_len,
				   (k + 1) * sizeof(*f->app_done_len));
	f->app_done_len[k] = crlf_to_lf(f->app_buf, f->app_len);
	f->app_done[k] = f->app_buf;
	f->app_ndone++;
	f->app_buf = NULL;
	f->app_len = 0;
	f->appending = false;
	return IMAP_M_OK;
}

static enum imap_mres
fake_append_begin(void *ctx, uint64_t size, char *err, size_t errsz)
{
	struct imap_fake *f = ctx;
	enum imap_mres r;

	if (injected(f, IMAP_FAKE_APPEND_BEGIN, &r, err, errsz)) {
		append_clear(f);
		return r;
	}
	if ((r = append_finish(f, err, errsz)) != IMAP_M_OK)
		return r;
	f->appending = true;
	f->app_size = size;
	f->app_buf = xmalloc(1);
	f->app_buf[0] = '\0';
	return IMAP_M_OK;
}

static enum imap_mres
fake_append_data(void *ctx, const char *data, size_t len, char *err,
		 size_t errsz)
{
	struct imap_fake *f = ctx;
	enum imap_mres r;

	if (injected(f, IMAP_FAKE_APPEND_DATA, &r, err, errsz))
		return r;
	if (!f->appending)
		return say(IMAP_M_PERM, err, errsz, "no append begun");
	if (f->app_len + len > f->app_size)
		return say(IMAP_M_PERM, err, errsz,
			   "more octets than announced");
	f->app_buf = xrealloc(f->app_buf, f->app_len + len + 1);
	memcpy(f->app_buf + f->app_len, data, len);
	f->app_len += len;
	f->app_buf[f->app_len] = '\0';
	return IMAP_M_OK;
}

static enum imap_mres
fake_append_end(void *ctx, struct imap_append_req *req, size_t n, char *err,
		size_t errsz)
{
	struct imap_fake *f = ctx;
	struct ffolder *d;
	struct fmsg *m;
	enum imap_mres r;

	if (injected(f, IMAP_FAKE_APPEND_END, &r, err, errsz)) {
		append_clear(f);
		return r;
	}
	if (!f->appending && f->app_ndone == 0)
		return say(IMAP_M_PERM, err, errsz, "no append begun");
	if ((r = append_finish(f, err, errsz)) != IMAP_M_OK)
		return r;
	if (n != f->app_ndone) {
		append_clear(f);
		return say(IMAP_M_PERM, err, errsz, "not as many messages "
			   "as were sent");
	}
	if ((d = folder_find(f, req[0].folder)) == NULL) {
		append_clear(f);
		return say(IMAP_M_NOTFOUND, err, errsz, "no such folder");
	}
	for (size_t k = 0; k < n; k++) {
		m = folder_append(f, d, f->app_done[k], f->app_done_len[k],
				  req[k].flags, req[k].keywords, req[k].date,
				  req[k].zone);
		req[k].uid = m->uid;
		req[k].uidvalidity = d->uidvalidity;
	}
	append_clear(f);
	return IMAP_M_OK;
}

static void
fake_append_abort(void *ctx)
{
	append_clear(ctx);
}

const struct imap_mbox_ops imap_fake_ops = {
	.list = fake_list,
	.list_free = fake_list_free,
	.create = fake_create,
	.delete = fake_delete,
	.rename = fake_rename,
	.subscribe = fake_subscribe,
	.status = fake_status,
	.select = fake_select,
	.unselect = fake_unselect,
	.sync = fake_sync,
	.msg = fake_msg,
	.find_uid = fake_find_uid,
	.store = fake_store,
	.expunge = fake_expunge,
	.copy = fake_copy,
	.open = fake_open,
	.read = fake_read,
	.rewind = fake_rewind,
	.close = fake_close,
	.append_begin = fake_append_begin,
	.append_data = fake_append_data,
	.append_end = fake_append_end,
	.append_abort = fake_append_abort,
};

/* --- helpers -------------------------------------------------------------- */

int
imap_fake_create(struct imap_fake *f, const char *name, unsigned special_use)
{
	if (is_inbox(name) || folder_find(f, name) != NULL ||
	    name_check(name) != NULL)
		return -1;
	folder_add(f, name, special_use);
	return 0;
}

int
imap_fake_subscribe(struct imap_fake *f, const char *name, bool on)
{
	sub_set(f, name, on);
	return 0;
}

void
imap_fake_set_now(struct imap_fake *f, int64_t now)
{
	f->now = now;
}

uint32_t
imap_fake_deliver_full(struct imap_fake *f, const char *folder,
		       const char *text, unsigned flags, const char *keywords,
		       int64_t date)
{
	struct ffolder *d = folder_find(f, folder);

	if (d == NULL)
		return 0;
	return folder_append(f, d, text, strlen(text), flags, keywords,
			     date, 0)->uid;
}

uint32_t
imap_fake_deliver(struct imap_fake *f, const char *folder, const char *text)
{
	return imap_fake_deliver_full(f, folder, text, 0, NULL, 0);
}

int
imap_fake_other_store(struct imap_fake *f, const char *folder, uint32_t uid,
		      enum imap_store_op op, unsigned flags,
		      const char *keywords)
{
	struct ffolder *d = folder_find(f, folder);
	struct fmsg *m = d != NULL ? folder_msg(d, uid, NULL) : NULL;

	if (m == NULL)
		return -1;
	msg_apply(d, m, op, flags, keywords);
	return 0;
}

int
imap_fake_other_expunge(struct imap_fake *f, const char *folder,
			uint32_t uid)
{
	struct ffolder *d = folder_find(f, folder);
	struct fmsg *m = d != NULL ? folder_msg(d, uid, NULL) : NULL;

	if (m == NULL)
		return -1;
	folder_remove(d, m);
	return 0;
}

int
imap_fake_set_uidvalidity(struct imap_fake *f, const char *folder,
			  uint32_t uidvalidity)
{
	struct ffolder *d = folder_find(f, folder);

	if (d == NULL)
		return -1;
	d->uidvalidity = uidvalidity;
	return 0;
}

void
imap_fake_fail(struct imap_fake *f, enum imap_fake_op op, enum imap_mres r,
	       const char *err)
{
	f->fail_armed[op] = true;
	f->fail_r[op] = r;
	snprintf(f->fail_err[op], sizeof(f->fail_err[op]), "%s",
		 err != NULL ? err : "");
}

unsigned
imap_fake_calls(const struct imap_fake *f, enum imap_fake_op op)
{
	return f->calls[op];
}

bool
imap_fake_exists(const struct imap_fake *f, const char *name)
{
	return folder_find(f, name) != NULL;
}

bool
imap_fake_subscribed(const struct imap_fake *f, const char *name)
{
	return subscribed(f, name);
}

unsigned
imap_fake_special_use(const struct imap_fake *f, const char *name)
{
	const struct ffolder *d = folder_find(f, name);

	return d != NULL ? d->special_use : 0;
}

long
imap_fake_count(const struct imap_fake *f, const char *folder)
{
	const struct ffolder *d = folder_find(f, folder);

	return d != NULL ? (long)d->n : -1;
}

int
imap_fake_msg(const struct imap_fake *f, const char *folder, uint32_t uid,
	      struct imap_msg *out)
{
	const struct ffolder *d = folder_find(f, folder);
	const struct fmsg *m = d != NULL ? folder_msg(d, uid, NULL) : NULL;

	if (m == NULL)
		return -1;
	out->uid = m->uid;
	out->modseq = m->modseq;
	out->flags = m->flags;
	out->keywords = m->keywords;
	out->size = crlf_size(m);
	out->date = m->date;
	out->zone = m->zone;
	out->expunged = false;
	return 0;
}

const char *
imap_fake_text(const struct imap_fake *f, const char *folder, uint32_t uid)
{
	const struct ffolder *d = folder_find(f, folder);
	const struct fmsg *m = d != NULL ? folder_msg(d, uid, NULL) : NULL;

	return m != NULL ? m->text : NULL;
}

const char *
imap_fake_selected(const struct imap_fake *f)
{
	return f->selected && f->vf != NULL ? f->vf->name : NULL;
}

bool
imap_fake_appending(const struct imap_fake *f)
{
	return f->appending || f->app_ndone > 0;
}

unsigned
imap_fake_open_handles(const struct imap_fake *f)
{
	return f->handles;
}
