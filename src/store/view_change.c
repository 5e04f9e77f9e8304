/*
 * view_change - what a shared view (IMAP) changes in its folder: flags
 * and keywords (STORE), expunge, append and copy/move.  Each change is a
 * scan of the folder under its index lock with an edit (store_private.h)
 * that makes the change and updates the UID index before it is written,
 * so another session, here or on another host, sees the change with its
 * modseq at its next sync, and a crash leaves either the old state or the
 * new one (docs/MAILDIR.md).  Appends and copies write their files first
 * (maildir_save.c, durable before anything is said) and get their UIDs
 * in the same hold of the lock from the index log, without a scan.
 *
 * Storing flags renames message files one by one before the index is
 * written: if a rename fails part way, the messages renamed so far carry
 * their new flags, and the next scan gives them new modseqs; nothing is
 * lost, and the command fails.
 */
#include "store_private.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "fsops.h"
#include "uidlist.h"
#include "view_private.h"

/* --- keywords ------------------------------------------------------------ */

struct kwset {
	char *w[UIDLIST_KEYWORDS_MAX + 1];
	size_t n;
	bool over;		/* more than UIDLIST_KEYWORDS_MAX */
};

/* An IMAP atom usable as a keyword (RFC 9051 flag-keyword). */
static bool
keyword_valid(const char *w, size_t n)
{
	if (n == 0 || n > UIDLIST_KEYWORD_MAX || w[0] == '\\')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)w[i];

		if (c <= ' ' || c >= 0x7f || strchr("(){%*\"\\]", c))
			return false;
	}
	return true;
}

static bool
kwset_has(const struct kwset *k, const char *w, size_t n)
{
	for (size_t i = 0; i < k->n; i++)
		if (strlen(k->w[i]) == n && strncasecmp(k->w[i], w, n) == 0)
			return true;
	return false;
}

static void
kwset_add(struct kwset *k, const char *w, size_t n)
{
	if (kwset_has(k, w, n))
		return;
	if (k->n == UIDLIST_KEYWORDS_MAX) {
		k->over = true;
		return;
	}
	k->w[k->n++] = xstrndup(w, n);
}

static void
kwset_free(struct kwset *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->w[i]);
	k->n = 0;
}

/* Adds the words of text; -1 if one is not a valid keyword. */
static int
kwset_parse(struct kwset *k, const char *text)
{
	for (const char *p = text; p != NULL && *p != '\0';) {
		size_t n;

		p += strspn(p, " ");
		n = strcspn(p, " ");
		if (n == 0)
			break;
		if (!keyword_valid(p, n))
			return -1;
		kwset_add(k, p, n);
		p += n;
	}
	return 0;
}

/* "kw kw ..." of k, or NULL if empty. */
static char *
kwset_text(const struct kwset *k)
{
	size_t len = 1;
	char *s;

	if (k->n == 0)
		return NULL;
	for (size_t i = 0; i < k->n; i++)
		len += strlen(k->w[i]) + 1;
	s = xmalloc(len);
	s[0] = '\0';
	for (size_t i = 0; i < k->n; i++) {
		if (i > 0)
			strcat(s, " ");
		strcat(s, k->w[i]);
	}
	return s;
}

/* The keywords of cur after op with req; -1 (STORE_LIMIT) if too many. */
static int
apply_keywords(const char *cur, const struct kwset *req,
	       enum store_flags_op op, char **out)
{
	struct kwset k = {0};
	int r = 0;

	if (op != STORE_FLAGS_REPLACE)
		kwset_parse(&k, cur);
	if (op == STORE_FLAGS_REMOVE) {
		size_t j = 0;

		for (size_t i = 0; i < k.n; i++) {
			if (kwset_has(req, k.w[i], strlen(k.w[i])))
				free(k.w[i]);
			else
				k.w[j++] = k.w[i];
		}
		k.n = j;
	} else {
		for (size_t i = 0; i < req->n; i++)
			kwset_add(&k, req->w[i], strlen(req->w[i]));
	}
	if (k.over)
		r = -1;
	*out = r == 0 ? kwset_text(&k) : NULL;
	kwset_free(&k);
	return r;
}

static unsigned
apply_flags(unsigned cur, const struct store_flags_req *req)
{
	switch (req->op) {
	case STORE_FLAGS_ADD:
		return cur | req->flags;
	case STORE_FLAGS_REMOVE:
		return cur & ~req->flags;
	case STORE_FLAGS_REPLACE:
	default:
		return req->flags;
	}
}

/* --- storing flags ------------------------------------------------------- */

/* The messages of a store by UID, with what each is to become. */
struct flag_target {
	uint32_t uid;
	size_t k;		/* its index in the caller's pos[] */
	unsigned flags;
	char *keywords;
	bool modified;		/* UNCHANGEDSINCE failed */
	bool found;
};

struct flag_store {
	uint32_t uidvalidity;	/* the view's: UIDs mean its messages */
	const struct store_flags_req *req;
	struct kwset kw;
	struct flag_target *t;
	size_t n;
};

static int
cmp_target(const void *a, const void *b)
{
	const struct flag_target *x = a, *y = b;

	return (x->uid > y->uid) - (x->uid < y->uid);
}

static struct flag_target *
find_target(struct flag_store *fs, uint32_t uid)
{
	struct flag_target key = {.uid = uid};

	return bsearch(&key, fs->t, fs->n, sizeof(*fs->t), cmp_target);
}

/* Works out each message's new state; STORE_LIMIT before any rename. */
static enum store_res
plan_flags(struct store_box *b, struct uidlist *ul, struct flag_store *fs,
	   char *err, size_t errsz)
{
	for (size_t i = 0; i < b->n; i++) {
		struct flag_target *t = find_target(fs, b->msgs[i].uid);
		struct uidlist_rec *rec;

		if (t == NULL || (rec = uidlist_find(ul, t->uid)) == NULL)
			continue;
		t->found = true;
		if (fs->req->conditional &&
		    rec->modseq > fs->req->unchangedsince) {
			t->modified = true;
			continue;
		}
		t->flags = apply_flags(rec->flags, fs->req);
		if (apply_keywords(rec->keywords, &fs->kw, fs->req->op,
				   &t->keywords) == -1) {
			snprintf(err, errsz, "more than %d keywords on a "
				 "message", UIDLIST_KEYWORDS_MAX);
			return STORE_LIMIT;
		}
	}
	return STORE_OK;
}

/*
 * The UIDs a view knows mean messages only in its UIDVALIDITY: an index
 * rebuilt meanwhile (lost, corrupt, its UIDs ran out) numbers them anew,
 * and a change by the view's UIDs would hit other messages.
 */
static enum store_res
same_numbering(const struct uidlist *ul, uint32_t uidvalidity, char *err,
	       size_t errsz)
{
	if (ul->uidvalidity == uidvalidity)
		return STORE_OK;
	snprintf(err, errsz, "UIDVALIDITY changed (the index was rebuilt): "
		 "nothing changed");
	return STORE_PERM;
}

/* Makes the renames of a flag change durable before the index says it. */
static enum store_res
sync_cur(struct store_box *b, char *err, size_t errsz)
{
	char cur[4200];

	bsnprintf(cur, sizeof(cur), "%s/cur", b->path);
	if (fsops_fsync_dir(cur) == -1)
		return store_sys_fail(err, errsz, "fsync", cur);
	return STORE_OK;
}

static enum store_res
edit_flags(struct store_box *b, struct uidlist *ul, void *arg, bool *changed,
	   char *err, size_t errsz)
{
	struct flag_store *fs = arg;
	enum store_res r = same_numbering(ul, fs->uidvalidity, err, errsz);
	bool renamed = false;

	if (r == STORE_OK)
		r = plan_flags(b, ul, fs, err, errsz);
	for (size_t i = 0; r == STORE_OK && i < b->n; i++) {
		struct flag_target *t = find_target(fs, b->msgs[i].uid);
		struct uidlist_rec *rec;
		const char *kw;

		if (t == NULL || !t->found || t->modified ||
		    (rec = uidlist_find(ul, t->uid)) == NULL)
			continue;
		kw = rec->keywords ? rec->keywords : "";
		if (t->flags == rec->flags &&
		    strcmp(kw, t->keywords ? t->keywords : "") == 0)
			continue; /* nothing to change: no new modseq */
		if (t->flags != rec->flags) {
			r = b->st->ops->set_flags(b, i, t->flags, err, errsz);
			renamed = true;
		}
		if (r != STORE_OK)
			break;
		rec->flags = (uint16_t)t->flags;
		rec->innew = (b->msgs[i].bits & STORE_MSG_NEW) != 0;
		uidlist_set_keywords(ul, rec, t->keywords);
		rec->modseq = uidlist_next_modseq(ul);
		*changed = true;
	}
	if (r == STORE_OK && renamed)
		r = sync_cur(b, err, errsz);
	return r;
}

/* Shows the state of the stored messages in the view (from nb). */
static void
show_stored(struct store_view *v, struct store_box *nb,
	    const struct flag_store *fs)
{
	for (size_t k = 0; k < fs->n; k++) {
		struct store_msg *m;
		size_t i, j;

		char name[STORE_NAME_MAX * 2];

		if (fs->t[k].modified ||
		    !box_find_uid(v->box, fs->t[k].uid, &i) ||
		    view_gone(v->box, i) ||
		    !box_find_uid(nb, fs->t[k].uid, &j))
			continue;
		m = &v->box->msgs[i];
		m->flags = nb->msgs[j].flags;
		box_set_modseq(v->box, i, store_box_modseq(nb, j));
		if (store_box_modseq(nb, j) > v->box->highestmodseq)
			v->box->highestmodseq = store_box_modseq(nb, j);
		box_set_keywords(v->box, i, store_box_keywords(nb, j));
		if (store_box_file(nb, j, name, sizeof(name)) == 0)
			box_set_name(v->box, i, name);
		m->bits = (uint8_t)((m->bits & ~STORE_MSG_NEW) |
				    (nb->msgs[j].bits & STORE_MSG_NEW));
	}
}

enum store_res
store_view_store(struct store_view *v, const size_t *pos, size_t n,
		 const struct store_flags_req *req, bool *modified, char *err,
		 size_t errsz)
{
	struct flag_store fs = {.uidvalidity = v->box->uidvalidity, .req = req};
	struct store_box_edit edit = {edit_flags, &fs};
	struct store_box *nb = NULL;
	enum store_res r;

	if (!v->shared) {
		snprintf(err, errsz, "a POP3 view keeps no flags");
		return STORE_PERM;
	}
	if (kwset_parse(&fs.kw, req->keywords) == -1 || fs.kw.over) {
		kwset_free(&fs.kw);
		snprintf(err, errsz, fs.kw.over ? "too many keywords"
						: "invalid keyword");
		return fs.kw.over ? STORE_LIMIT : STORE_PERM;
	}
	fs.t = xcalloc(n + 1, sizeof(*fs.t));
	for (size_t k = 0; k < n; k++) {
		if (view_gone(v->box, pos[k]))
			continue;
		fs.t[fs.n].uid = v->box->msgs[pos[k]].uid;
		fs.t[fs.n++].k = k;
	}
	qsort(fs.t, fs.n, sizeof(*fs.t), cmp_target);
	r = view_scan(v, &edit, &nb, err, errsz);
	if (r == STORE_OK)
		show_stored(v, nb, &fs);
	for (size_t x = 0; x < fs.n; x++) {
		if (modified != NULL)
			modified[fs.t[x].k] = fs.t[x].modified;
		free(fs.t[x].keywords);
	}
	store_box_free(&nb);
	kwset_free(&fs.kw);
	free(fs.t);
	return r;
}

/* --- expunge ------------------------------------------------------------- */

struct expunge_by_uid {
	uint32_t uidvalidity;	/* the view's */
	uint32_t *uids;		/* ascending */
	size_t n;
};

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static enum store_res
edit_expunge(struct store_box *b, struct uidlist *ul, void *arg,
	     bool *changed, char *err, size_t errsz)
{
	struct expunge_by_uid *e = arg;
	bool *dele;
	bool any = false;
	enum store_res r = same_numbering(ul, e->uidvalidity, err, errsz);

	(void)changed; /* the next scan drops the removed files' records */
	if (r != STORE_OK)
		return r;
	dele = xcalloc(b->n + 1, sizeof(*dele));
	for (size_t i = 0; i < b->n; i++) {
		uint32_t u = b->msgs[i].uid;

		dele[i] = u != 0 && bsearch(&u, e->uids, e->n, sizeof(u),
					    cmp_u32) != NULL;
		any |= dele[i];
	}
	if (any)
		r = b->st->ops->box_expunge(b, dele, err, errsz);
	free(dele);
	return r;
}

enum store_res
store_view_expunge_shared(struct store_view *v, const bool *dele, char *err,
			  size_t errsz)
{
	struct expunge_by_uid e = {.uidvalidity = v->box->uidvalidity};
	struct store_box_edit edit = {edit_expunge, &e};
	struct store_box *nb = NULL;
	enum store_res r;

	e.uids = xcalloc(v->box->n + 1, sizeof(*e.uids));
	for (size_t i = 0; i < v->box->n; i++)
		if (dele[i] && !view_gone(v->box, i))
			e.uids[e.n++] = v->box->msgs[i].uid;
	if (e.n == 0) {
		free(e.uids);
		return STORE_OK;
	}
	qsort(e.uids, e.n, sizeof(*e.uids), cmp_u32);
	r = view_scan(v, &edit, &nb, err, errsz);
	store_box_free(&nb);
	free(e.uids);
	return r;
}

enum store_res
store_view_expunge(struct store_view *v, const bool *dele, char *err,
		   size_t errsz)
{
	if (v->shared)
		return store_view_expunge_shared(v, dele, err, errsz);
	return store_box_expunge(v->box, dele, err, errsz);
}

/* Message i's keywords as a string of the caller's, or NULL. */
static char *
box_keywords_copy(const struct store_box *b, size_t i)
{
	const char *kw = store_box_keywords(b, i);

	return kw != NULL ? xstrdup(kw) : NULL;
}

/* --- append and copy ----------------------------------------------------- */

/* Saved files by name, to find them in the scan that gives them UIDs. */
struct saved {
	char (*names)[STORE_NAME_MAX];
	char **keywords;	/* of names[k], or NULL */
	uint32_t *uids;		/* out */
	size_t n;
	uint32_t uidvalidity;	/* out */
	size_t *order;		/* k's in the order of names[k]'s bases */
	size_t *at;		/* where names[k] is in the scan, or SIZE_MAX */
};

/* Compares two file names by their bases (up to ':'): the flags in a
 * name may change under us (another session, a Maildir program). */
static int
cmp_base(const char *x, const char *y)
{
	size_t lx = strcspn(x, ":"), ly = strcspn(y, ":");
	int c = memcmp(x, y, lx < ly ? lx : ly);

	return c != 0 ? c : (lx > ly) - (lx < ly);
}

static int
cmp_saved(const void *a, const void *b, void *arg)
{
	const struct saved *sv = arg;

	return cmp_base(sv->names[*(const size_t *)a],
			sv->names[*(const size_t *)b]);
}

/* The k of names[k] with name's base, by bisecting sv->order; -1 if none. */
static ssize_t
find_saved(const struct saved *sv, const char *name)
{
	size_t lo = 0, hi = sv->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_base(name, sv->names[sv->order[mid]]);

		if (c == 0)
			return (ssize_t)sv->order[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/*
 * The scan numbered the saved files in delivery order (their names'
 * times: the internal dates); COPYUID pairs them in the order asked for,
 * so the same UIDs are handed out again in that order.  Nobody else saw
 * these UIDs: the files were linked and numbered under one hold of the
 * index lock.
 */
static void
uids_in_order(struct store_box *b, struct uidlist *ul, struct saved *sv)
{
	uidlist_in_order(ul, sv->uids, sv->n);
	for (size_t k = 0; k < sv->n; k++)
		b->msgs[sv->at[k]].uid = sv->uids[k];
}

static enum store_res
edit_saved(struct store_box *b, struct uidlist *ul, void *arg, bool *changed,
	   char *err, size_t errsz)
{
	struct saved *sv = arg;
	bool all = true, in_order = true;

	sv->uidvalidity = ul->uidvalidity;
	for (size_t i = 0; i < b->n; i++) {
		char name[STORE_NAME_MAX * 2];
		ssize_t k;

		if (store_box_file(b, i, name, sizeof(name)) == -1 ||
		    (k = find_saved(sv, name)) == -1)
			continue;
		sv->uids[k] = b->msgs[i].uid;
		sv->at[k] = i;
	}
	for (size_t k = 0; k < sv->n; k++) {
		all = all && sv->uids[k] != 0 &&
		      uidlist_find(ul, sv->uids[k]) != NULL;
		in_order = in_order && (k == 0 || sv->uids[k - 1] < sv->uids[k]);
	}
	if (!all) {
		snprintf(err, errsz, "a saved message was not found");
		return STORE_TEMP;
	}
	if (!in_order) {
		uids_in_order(b, ul, sv);
		*changed = true;
	}
	for (size_t k = 0; k < sv->n; k++) {
		if (sv->keywords[k] == NULL)
			continue;
		uidlist_set_keywords(ul, uidlist_find(ul, sv->uids[k]),
				     sv->keywords[k]);
		uidlist_find(ul, sv->uids[k])->modseq =
			uidlist_next_modseq(ul);
		*changed = true;
	}
	return STORE_OK;
}

/* Takes back the first n saved files (nobody saw them). */
static void
unlink_saved(const char *dir, char (*names)[STORE_NAME_MAX], size_t n)
{
	char path[4400];

	for (size_t k = 0; k < n; k++) {
		bsnprintf(path, sizeof(path), "%s/cur/%s", dir, names[k]);
		unlink(path);
	}
	bsnprintf(path, sizeof(path), "%s/cur", dir);
	fsops_fsync_dir(path);
}

/* Takes back saved files whose numbering failed (nobody saw them). */
static void
unsave(const char *dir, const struct saved *sv)
{
	unlink_saved(dir, sv->names, sv->n);
}

/*
 * Saves with save() and numbers the files it made in one hold of the
 * folder's index lock: no other session numbers them first, and if the
 * numbering fails they are taken back, so a failed APPEND or COPY leaves
 * nothing a retry would duplicate.  The numbering is one transaction on
 * the index log (UIDs from UIDNEXT in the order of the names: COPYUID's
 * order), without a listing of cur/; only where the log cannot take it
 * (no index yet, the log due to be folded) is it a scan.  Files that came
 * into new/ or cur/ meanwhile are numbered by the next scan, after these:
 * UIDs follow the order owld first saw messages in, not their dates.
 */
static enum store_res
save_and_number(struct store *st, const char *dir, struct saved *sv,
		enum store_res (*save)(void *arg, char *err, size_t errsz),
		void *arg, char *err, size_t errsz)
{
	struct store_box_edit edit = {edit_saved, sv};
	struct store_box *nb = NULL;
	struct uidlist_stamp before, after;
	char cur[4200];
	enum store_res r;
	bool nodir, fallback = false;

	if (maildir_ensure(st, dir) == -1)
		return store_sys_fail(err, errsz, "mkdir", dir);
	r = store_lock_index(st, dir, &nodir, err, errsz);
	if (r != STORE_OK)
		return r;
	bsnprintf(cur, sizeof(cur), "%s/cur", dir);
	maildir_stamp(cur, &before);
	/* several messages: all or nothing across a crash too */
	r = sv->n > 1 ? maildir_saving_begin(st, dir, err, errsz) : STORE_OK;
	if (r != STORE_OK) {
		store_unlock_index(st, dir);
		return r;
	}
	r = save(arg, err, errsz);
	if (r == STORE_OK) {
		/* numbered through the index log, without a scan */
		maildir_stamp(cur, &after);
		r = maildir_index_append(dir, sv->names, sv->keywords, sv->n,
					 &before, &after, sv->uids,
					 &sv->uidvalidity, &fallback, err,
					 errsz);
		if (r != STORE_OK)
			unsave(dir, sv);
	}
	if (r == STORE_OK && fallback) {
		sv->order = xcalloc(sv->n + 1, sizeof(*sv->order));
		sv->at = xcalloc(sv->n + 1, sizeof(*sv->at));
		for (size_t k = 0; k < sv->n; k++)
			sv->order[k] = k;
		qsort_r(sv->order, sv->n, sizeof(*sv->order), cmp_saved, sv);
		r = store_box_open_path(st, dir, BOX_LOCKED, &edit, &nb, err,
					errsz);
		store_box_free(&nb);
		if (r != STORE_OK)
			unsave(dir, sv);
		free(sv->order);
		free(sv->at);
		sv->order = sv->at = NULL;
	}
	if (r == STORE_OK && sv->n > 1)
		maildir_saving_end(dir);
	store_unlock_index(st, dir);
	return r;
}

/* The normal form of keywords ("kw kw", deduplicated), or NULL. */
static enum store_res
norm_keywords(const char *text, char **out, char *err, size_t errsz)
{
	struct kwset k = {0};

	*out = NULL;
	if (kwset_parse(&k, text) == -1 || k.over) {
		snprintf(err, errsz, k.over ? "too many keywords"
					    : "invalid keyword");
		kwset_free(&k);
		return k.over ? STORE_LIMIT : STORE_PERM;
	}
	*out = kwset_text(&k);
	kwset_free(&k);
	return STORE_OK;
}

struct append_call {
	struct store *st;
	const char *dir;
	const struct store_append_req *a;
	size_t n;
	char (*names)[STORE_NAME_MAX];
};

/* Saves the n messages in order; if one fails, the ones saved before it
 * are taken back, so that nothing is left. */
static enum store_res
append_save(void *arg, char *err, size_t errsz)
{
	struct append_call *c = arg;
	enum store_res r = STORE_OK;
	size_t k;

	for (k = 0; k < c->n && r == STORE_OK; k++)
		r = c->st->ops->append(c->st, c->dir, &c->a[k], c->names[k],
				       STORE_NAME_MAX, err, errsz);
	if (r != STORE_OK && k > 1)
		unlink_saved(c->dir, c->names, k - 1);
	return r;
}

/* Each request's keywords in their normal form (kw[k], or NULL). */
static enum store_res
norm_all_keywords(const struct store_append_req *a, size_t n, char **kw,
		  char *err, size_t errsz)
{
	enum store_res r = STORE_OK;

	for (size_t k = 0; k < n && r == STORE_OK; k++)
		r = norm_keywords(a[k].keywords, &kw[k], err, errsz);
	return r;
}

enum store_res
store_append_many(struct store *st, const char *user, const char *folder,
		  struct store_append_req *a, size_t n, char *err,
		  size_t errsz)
{
	char dir[4096];
	struct saved sv = {.n = n};
	struct append_call call = {st, dir, a, n, NULL};
	enum store_res r;

	for (size_t k = 0; k < n; k++)
		a[k].uid = a[k].uidvalidity = 0;
	if (st->ops->append == NULL) {
		snprintf(err, errsz, "IMAP needs mailbox.format = maildir");
		return STORE_PERM;
	}
	if (view_folder_dir(st, user, folder, dir, sizeof(dir)) == -1) {
		snprintf(err, errsz, "%s: %s", folder, errno == ENOENT ?
			 "no such folder" : "invalid folder name");
		return errno == ENOENT ? STORE_NOTFOUND : STORE_PERM;
	}
	if (n == 0)
		return STORE_OK;
	sv.names = call.names = xcalloc(n, sizeof(*sv.names));
	sv.keywords = xcalloc(n, sizeof(*sv.keywords));
	sv.uids = xcalloc(n, sizeof(*sv.uids));
	r = norm_all_keywords(a, n, sv.keywords, err, errsz);
	if (r == STORE_OK)
		r = save_and_number(st, dir, &sv, append_save, &call, err,
				    errsz);
	for (size_t k = 0; k < n; k++) {
		a[k].uid = r == STORE_OK ? sv.uids[k] : 0;
		a[k].uidvalidity = r == STORE_OK ? sv.uidvalidity : 0;
		free(sv.keywords[k]);
	}
	free(sv.names);
	free(sv.keywords);
	free(sv.uids);
	return r;
}

enum store_res
store_append(struct store *st, const char *user, const char *folder,
	     struct store_append_req *a, char *err, size_t errsz)
{
	return store_append_many(st, user, folder, a, 1, err, errsz);
}

struct copy_call {
	struct store_view *v;
	const size_t *pos;
	size_t n;
	const char *dir;
	char (*names)[STORE_NAME_MAX];
};

static enum store_res
copy_save(void *arg, char *err, size_t errsz)
{
	struct copy_call *c = arg;

	return c->v->st->ops->copy(c->v->box, c->pos, c->n, c->dir,
				   c->names, err, errsz);
}

enum store_res
store_view_copy(struct store_view *v, const size_t *pos, size_t n,
		const char *folder, bool move, uint32_t *uids_r,
		uint32_t *uidvalidity_r, char *err, size_t errsz)
{
	char dir[4096];
	struct saved sv = {.uids = uids_r, .n = n};
	struct copy_call call;
	enum store_res r;

	*uidvalidity_r = 0;
	memset(uids_r, 0, n * sizeof(*uids_r));
	if (!v->shared) {
		snprintf(err, errsz, "a POP3 view copies nothing");
		return STORE_PERM;
	}
	for (size_t k = 0; k < n; k++)
		if (view_gone(v->box, pos[k])) {
			snprintf(err, errsz, "message %u was expunged",
				 (unsigned)v->box->msgs[pos[k]].uid);
			return STORE_NOTFOUND;
		}
	if (view_folder_dir(v->st, v->user, folder, dir, sizeof(dir)) == -1) {
		snprintf(err, errsz, "%s: no such folder", folder);
		return STORE_NOTFOUND;
	}
	sv.names = xcalloc(n + 1, sizeof(*sv.names));
	sv.keywords = xcalloc(n + 1, sizeof(*sv.keywords));
	for (size_t k = 0; k < n; k++)
		sv.keywords[k] = box_keywords_copy(v->box, pos[k]);
	call = (struct copy_call){v, pos, n, dir, sv.names};
	r = save_and_number(v->st, dir, &sv, copy_save, &call, err, errsz);
	*uidvalidity_r = r == STORE_OK ? sv.uidvalidity : 0;
	if (r == STORE_OK && move) {
		bool *dele = xcalloc(v->box->n + 1, sizeof(*dele));

		for (size_t k = 0; k < n; k++)
			dele[pos[k]] = true;
		r = store_view_expunge_shared(v, dele, err, errsz);
		free(dele);
	}
	for (size_t k = 0; k < n; k++)
		free(sv.keywords[k]);
	free(sv.names);
	free(sv.keywords);
	return r;
}
