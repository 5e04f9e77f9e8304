/*
 * view - the mailbox view of store.h over a backend's scan (struct
 * store_box): the folder name checked, the messages put in UID order, each
 * described without a file read, and for a shared view (IMAP) the sync
 * that brings it up to date and says what changed: from the index log
 * alone while only owld changed the folder (the log's chain of cur/
 * stamps says so), else by a scan; and an open built from the index
 * without listing cur/ while cur/ is as the index's last listing saw it.
 * The changes a view makes (flags, expunge, append, copy) are in
 * view_change.c.
 *
 * Fails as the scan does (STORE_INUSE, STORE_TEMP, STORE_PERM with a
 * message in err); an unknown folder is STORE_NOTFOUND, a folder whose
 * UIDVALIDITY changed under a shared view (its index was lost and
 * rebuilt) STORE_PERM: the session must end, as RFC 9051 wants.
 */
#include "store_private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "uidlist.h"
#include "view_private.h"

static enum store_res view_open_fast(struct store_view *v, bool *done,
				     char *err, size_t errsz);

/* UID order; a message without a UID after all, in delivery order
 * (the order of the scan, which the sort key's second half keeps). */
struct uid_key {
	uint64_t key;		/* the UID, or past every UID */
	size_t pos;
};

static int
cmp_uid_key(const void *a, const void *b)
{
	const struct uid_key *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

static uint64_t
uid_key(const struct store_msg *m)
{
	return m->uid ? m->uid : (uint64_t)UINT32_MAX + 1;
}

/* Puts b's messages in UID order, unless they are (the usual case). */
static void
uid_order(struct store_box *b)
{
	struct uid_key *k;
	struct store_msg *sorted;
	bool in_order = true;

	if (b->uidvalidity == 0)
		return; /* no UIDs: the backend's order */
	for (size_t i = 1; i < b->n && in_order; i++)
		in_order = uid_key(&b->msgs[i - 1]) < uid_key(&b->msgs[i]);
	if (in_order)
		return;
	k = xcalloc(b->n + 1, sizeof(*k));
	for (size_t i = 0; i < b->n; i++) {
		k[i].key = uid_key(&b->msgs[i]);
		k[i].pos = i;
	}
	qsort(k, b->n, sizeof(*k), cmp_uid_key);
	sorted = xmalloc((b->cap + 1) * sizeof(*sorted));
	for (size_t i = 0; i < b->n; i++)
		sorted[i] = b->msgs[k[i].pos];
	free(b->msgs);
	b->msgs = sorted;
	free(k);
}

/* A shared view shows only messages with a UID (they come last). */
static void
drop_without_uid(struct store_box *b)
{
	while (b->n > 0 && b->msgs[b->n - 1].uid == 0)
		b->n--;
}

int
view_folder_dir(struct store *st, const char *user, const char *folder,
		char *out, size_t size)
{
	struct stat sb;

	if (store_folder_dir(st, user, folder, out, size) == -1)
		return -1;
	if (store_folder_is_inbox(folder))
		return 0; /* made by the open if missing */
	if (stat(out, &sb) == -1 || !S_ISDIR(sb.st_mode)) {
		errno = ENOENT;
		return -1;
	}
	return 0;
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
		return STORE_NOTFOUND;
	}
	r = store_box_open(st, user, &b, err, errsz);
	if (r != STORE_OK)
		return r;
	uid_order(b);
	*vp = xcalloc(1, sizeof(**vp));
	(*vp)->st = st;
	(*vp)->box = b;
	(*vp)->dir = xstrdup(b->path);
	return STORE_OK;
}

/* One stamp: what stat says of path (missing: all zero). */
static void
stamp_of(const char *path, struct view_stamp *s)
{
	struct stat sb;

	memset(s, 0, sizeof(*s));
	if (stat(path, &sb) == -1)
		return;
	s->mtime = sb.st_mtim;
	s->ino = sb.st_ino;
	s->size = sb.st_size;
}

void
view_take_stamps(struct store_view *v, struct view_stamp *out)
{
	static const char *const names[VIEW_STAMPS] = {
		"new", "cur", ".owlpost-uidlist", ".owlpost-uidlist.log"};
	char path[4400];

	for (size_t i = 0; i < VIEW_STAMPS; i++) {
		bsnprintf(path, sizeof(path), "%s/%s", v->dir, names[i]);
		stamp_of(path, &out[i]);
	}
	clock_gettime(CLOCK_REALTIME, &out[VIEW_STAMPS].mtime);
}

/*
 * True if nothing changed since the stamps were taken: every stat the
 * same, and each mtime settled (maildir_settled_at) when the stamps were
 * taken, so that a change in the same tick would have shown in it.
 */
static bool
stamps_unchanged(const struct view_stamp *old, const struct view_stamp *now,
		 bool local)
{
	const struct timespec *taken = &old[VIEW_STAMPS].mtime;

	for (size_t i = 0; i < VIEW_STAMPS; i++) {
		if (old[i].ino != now[i].ino || old[i].size != now[i].size ||
		    old[i].mtime.tv_sec != now[i].mtime.tv_sec ||
		    old[i].mtime.tv_nsec != now[i].mtime.tv_nsec)
			return false;
		if (old[i].mtime.tv_sec == 0 && old[i].mtime.tv_nsec == 0)
			continue; /* not there then, nor now */
		if (!maildir_settled_at(old[i].mtime.tv_sec,
					old[i].mtime.tv_nsec, taken, local))
			return false;
	}
	return true;
}

/*
 * The edit of a scan that takes \Recent's claim: the messages no session
 * has seen yet (from the index's R on) are this view's, and R moves past
 * them, all under the index lock, so that one session only sees each
 * message as recent (RFC 3501 2.3.2).
 */
static enum store_res
edit_claim_recent(struct store_box *b, struct uidlist *ul, void *arg,
		  bool *changed, char *err, size_t errsz)
{
	struct store_view *v = arg;

	(void)b;
	(void)err;
	(void)errsz;
	v->recent_lo = v->recent_hi = 0;
	if (ul->uidnext > ul->recent) {
		v->recent_lo = ul->recent;
		v->recent_hi = ul->uidnext;
		ul->recent = ul->uidnext;
		*changed = true;
	}
	return STORE_OK;
}

/*
 * A view that takes no claim (EXAMINE, STATUS) still sees \Recent: the
 * messages it learns of (UIDs from known on) that no session has claimed
 * yet (from the index's R on), R left where it is, since EXAMINE "MUST
 * NOT cause messages to lose the \Recent flag" (RFC 3501 6.3.2).  known:
 * the view's UIDNEXT before this open (1) or sync.
 */
static void
note_unclaimed(struct store_view *v, uint32_t known)
{
	uint32_t lo;

	if (v->claim_recent || v->box->mark == NULL)
		return;
	lo = v->box->mark->recent > known ? v->box->mark->recent : known;
	if (lo > 0 && lo < v->box->uidnext) {
		v->recent_lo = lo;
		v->recent_hi = v->box->uidnext;
	}
}

/* A scan that takes the claim if the view does. */
static enum store_res
view_scan_claim(struct store_view *v, struct store_box **bp, char *err,
		size_t errsz)
{
	struct store_box_edit claim = {edit_claim_recent, v};

	v->recent_lo = v->recent_hi = 0;
	return view_scan(v, v->claim_recent ? &claim : NULL, bp, err, errsz);
}

enum store_res
view_scan(struct store_view *v, const struct store_box_edit *edit,
	  struct store_box **bp, char *err, size_t errsz)
{
	enum store_res r;

	r = store_box_open_path(v->st, v->dir, BOX_SHARED, edit, bp, err,
				errsz);
	if (r != STORE_OK)
		return r;
	uid_order(*bp);
	drop_without_uid(*bp);
	return STORE_OK;
}

enum store_res
store_view_open_shared(struct store *st, const char *user,
		       const char *folder, struct store_view **vp, char *err,
		       size_t errsz)
{
	return store_view_open_imap(st, user, folder, false, vp, err, errsz);
}

void
store_view_recent(const struct store_view *v, uint32_t *lo_r,
		  uint32_t *hi_r)
{
	*lo_r = v->recent_lo;
	*hi_r = v->recent_hi;
}

enum store_res
store_view_open_imap(struct store *st, const char *user, const char *folder,
		     bool claim_recent, struct store_view **vp, char *err,
		     size_t errsz)
{
	struct store_view *v;
	char dir[STORE_PATH_MAX];
	struct stat sb;
	enum store_res r;
	bool done;

	*vp = NULL;
	if (st->ops->set_flags == NULL) {
		snprintf(err, errsz, "IMAP needs mailbox.format = maildir");
		return STORE_PERM;
	}
	v = xcalloc(1, sizeof(*v));
	v->st = st;
	v->shared = true;
	v->claim_recent = claim_recent;
	if (view_folder_dir(st, user, folder, dir, sizeof(dir)) == -1) {
		snprintf(err, errsz, "%s: %s", folder, errno == ENOENT ?
			 "no such folder" : "invalid folder name");
		free(v);
		return errno == ENOENT ? STORE_NOTFOUND : STORE_PERM;
	}
	v->user = xstrdup(user);
	v->dir = xstrdup(dir);
	/* from here a failure closes v (its strings with it) */
	if (store_folder_is_inbox(folder) &&
	    maildir_ensure(st, v->dir) == -1) {
		r = store_sys_fail(err, errsz, "mkdir", v->dir);
		store_view_close(&v);
		return r;
	}
	if (stat(v->dir, &sb) == -1 || !S_ISDIR(sb.st_mode)) {
		snprintf(err, errsz, "%s: no such folder", folder);
		store_view_close(&v);
		return STORE_NOTFOUND;
	}
	v->local = maildir_fs_local(v->dir);
	view_take_stamps(v, v->stamps);
	r = view_open_fast(v, &done, err, errsz);
	if (r == STORE_OK && !done)
		r = view_scan_claim(v, &v->box, err, errsz);
	if (r != STORE_OK) {
		store_view_close(&v);
		return r;
	}
	note_unclaimed(v, 1);
	v->suspect = v->box->mark == NULL || !v->box->mark->cur_settled;
	*vp = v;
	return STORE_OK;
}

/* Appends x to a growing array of positions. */
static void
push(size_t **a, size_t *n, size_t x)
{
	if ((*n & (*n - 1)) == 0) /* 0, 1, 2, 4, ...: grow */
		*a = xrealloc(*a, (*n ? *n * 2 : 1) * sizeof(**a));
	(*a)[(*n)++] = x;
}

/* Descending positions: each EXPUNGE right when the ones before it were
 * said. */
static void
reverse(size_t *a, size_t n)
{
	for (size_t x = 0; x < n / 2; x++) {
		size_t t = a[x];

		a[x] = a[n - 1 - x];
		a[n - 1 - x] = t;
	}
}

static bool
same_state(const struct store_box *ba, size_t i, const struct store_box *bb,
	   size_t j)
{
	const char *ka = store_box_keywords(ba, i);
	const char *kb = store_box_keywords(bb, j);

	return store_box_modseq(ba, i) == store_box_modseq(bb, j) &&
	       ba->msgs[i].flags == bb->msgs[j].flags &&
	       strcmp(ka ? ka : "", kb ? kb : "") == 0;
}

/*
 * Merges the fresh scan nb into the view: both in UID order; a UID in
 * both takes the new state, one only in the view was expunged (kept and
 * marked with keep), one only in nb is new (UIDs only grow, so at the
 * end).  The view's box is built anew (what it kept is copied over), so
 * the names of expunged messages do not pile up.
 */
static void
merge(struct store_view *v, struct store_box *nb, bool keep,
      struct store_view_changes *ch)
{
	struct store_box *b = v->box, *out = xcalloc(1, sizeof(*out));
	size_t i = 0, j = 0, first = ch->nexpunged;

	*out = *b;
	out->msgs = NULL;
	out->aux = NULL;
	out->arena = NULL;
	out->n = out->cap = out->naux = out->aux_cap = 0;
	out->alen = out->acap = 0;
	out->msgs = xmalloc((b->n + nb->n + 1) * sizeof(*out->msgs));
	out->cap = b->n + nb->n + 1;
	while (i < b->n || j < nb->n) {
		if (j == nb->n ||
		    (i < b->n && b->msgs[i].uid < nb->msgs[j].uid)) {
			if (keep)
				out->msgs[box_adopt(out, b, i)].bits |=
					STORE_MSG_GONE;
			else
				push(&ch->expunged, &ch->nexpunged, i);
			i++;
		} else if (i < b->n && b->msgs[i].uid == nb->msgs[j].uid) {
			if (!same_state(b, i, nb, j))
				push(&ch->changed, &ch->nchanged, out->n);
			box_adopt(out, nb, j);
			i++;
			j++;
		} else {
			ch->nnew++;
			box_adopt(out, nb, j++);
		}
	}
	reverse(ch->expunged + first, ch->nexpunged - first);
	out->uidnext = nb->uidnext;
	out->highestmodseq = nb->highestmodseq;
	/* the old box's locks stay with the view: only its table goes */
	store_box_free_msgs(b);
	*b = *out;
	free(out);
}

/* Without a scan: says and drops what earlier syncs kept as gone. */
static void
drop_gone(struct store_view *v, struct store_view_changes *ch)
{
	struct store_box *b = v->box;
	size_t k = 0;

	for (size_t i = 0; i < b->n; i++) {
		if (view_gone(b, i))
			push(&ch->expunged, &ch->nexpunged, i);
		else
			b->msgs[k++] = b->msgs[i];
	}
	b->n = k;
	reverse(ch->expunged, ch->nexpunged);
}

/* --- sync without a scan ------------------------------------------------ */

/* What the scan nb saw becomes what v knows. */
static void
take_mark(struct store_view *v, struct store_box *nb)
{
	free(v->box->mark);
	v->box->mark = nb->mark;
	nb->mark = NULL;
	v->suspect = v->box->mark == NULL || !v->box->mark->cur_settled;
}

/* True if dir/new has no message (a delivery is seen by a scan). */
static bool
new_empty(const char *dir)
{
	char path[4400];
	struct dirent *de;
	bool empty = true;
	DIR *dp;

	bsnprintf(path, sizeof(path), "%s/new", dir);
	if ((dp = opendir(path)) == NULL)
		return errno == ENOENT;
	while (empty && (de = readdir(dp)) != NULL)
		empty = de->d_name[0] == '.';
	closedir(dp);
	return empty;
}

/*
 * True if new/ holds just what a scan listed: its stamp still the one
 * that scan took (settled then) and recorded as newdir (a mark's, or the
 * index's W); without one, if new/ is empty and was (held: a message of
 * the listing was in new/, and may have gone since).
 */
static bool
new_as_listed(const char *dir, const struct uidlist_stamp *newdir,
	      bool held)
{
	char path[4400];
	struct uidlist_stamp now;

	if (newdir->sec == 0)
		return !held && new_empty(dir);
	bsnprintf(path, sizeof(path), "%s/new", dir);
	return maildir_stamp(path, &now) == 0 &&
	       maildir_stamp_same(&now, newdir);
}

/* Adds the record r at the end of b: a message in cur/ (as owld saves
 * them) is named by its base, ":2," and its flags; one in new/ by its
 * base alone (as delivered). */
static void
add_logged(struct store_box *b, const struct uidlist_rec *r)
{
	static const char letters[] = "DFPRST";
	char name[STORE_NAME_MAX * 2];
	size_t n, k;

	if (r->innew)
		n = (size_t)snprintf(name, sizeof(name), "%s", r->base);
	else
		n = (size_t)snprintf(name, sizeof(name), "%s:2,", r->base);
	for (size_t f = 0; !r->innew && f < 6 && n < sizeof(name) - 1; f++)
		if (r->flags & (1u << f))
			name[n++] = letters[f];
	name[n] = '\0';
	k = box_add(b);
	box_set_name(b, k, name);
	if (r->innew)
		b->msgs[k].bits |= STORE_MSG_NEW;
	b->msgs[k].uid = r->uid;
	b->msgs[k].flags = (uint8_t)r->flags;
	box_set_modseq(b, k, r->modseq);
	box_set_keywords(b, k, r->keywords);
}

/*
 * Follows cur/ from what the view knew (m->cur) through the log's
 * commits: each change of cur/ must start where the one before it ended
 * (else another program changed cur/ in between), and cur/ must be now
 * where the last one ended.  *touched_r: owld changed cur/.
 */
static bool
chain_holds(const char *dir, const struct store_mark *m,
	    const struct uidlog *lg, struct uidlist_stamp *at,
	    bool *touched_r)
{
	char path[4400];
	struct uidlist_stamp now;

	*at = m->cur;
	*touched_r = false;
	for (size_t i = 0; i < lg->ncommits; i++) {
		const struct uidlog_commit *k = &lg->commits[i];

		if (!k->touched)
			continue;
		if (!maildir_stamp_same(&k->before, at))
			return false;
		*at = k->after;
		*touched_r = true;
	}
	bsnprintf(path, sizeof(path), "%s/cur", dir);
	return maildir_stamp(path, &now) == 0 && maildir_stamp_same(&now, at);
}

/*
 * Under the index lock: what the log added since the view's last look,
 * when nothing but owld's logged changes touched the folder: the index
 * file the same, new/ empty, no expunge to finish, and cur/ changed only
 * along the log's chain.  *done false: a scan must do it.
 */
static enum store_res
sync_from_log(struct store_view *v, struct store_view_changes *ch,
	      bool *done, char *err, size_t errsz)
{
	struct store_mark *m = v->box->mark;
	struct store_box *b = v->box;
	struct uidlist_stamp at;
	struct uidlog lg;
	char path[4400], *buf = NULL;
	uint32_t uidnext = b->uidnext, recent = m->recent;
	uint64_t modseq = b->highestmodseq, nonce;
	int64_t end;
	bool same, touched;
	enum store_res r;

	bsnprintf(path, sizeof(path), "%s/owlpost-expunge", v->dir);
	if (access(path, F_OK) == 0 ||
	    !new_as_listed(v->dir, &m->newdir, m->new_held))
		return STORE_OK;
	r = maildir_index_tail(v->dir, m, &same, &lg, &buf, &end, &nonce, err,
			       errsz);
	if (r != STORE_OK || !same)
		goto out;
	if (!chain_holds(v->dir, m, &lg, &at, &touched))
		goto out;
	for (size_t i = 0; i < lg.ncommits; i++) {
		if (lg.commits[i].uidnext > uidnext)
			uidnext = lg.commits[i].uidnext;
		if (lg.commits[i].highestmodseq > modseq)
			modseq = lg.commits[i].highestmodseq;
		if (lg.commits[i].recent > recent)
			recent = lg.commits[i].recent;
	}
	if (v->claim_recent && recent < uidnext) {
		if (nonce == 0)
			goto out; /* no log to claim in: a scan claims */
		r = maildir_index_claim(v->dir, uidnext, modseq, uidnext, &end,
					err, errsz);
		if (r != STORE_OK)
			goto out;
		v->recent_lo = recent;
		v->recent_hi = uidnext;
		recent = uidnext;
	}
	for (size_t i = 0; i < lg.nrecs; i++)
		if (lg.recs[i].uid >= b->uidnext) {
			add_logged(b, &lg.recs[i]);
			ch->nnew++;
		}
	b->uidnext = uidnext;
	b->highestmodseq = modseq;
	m->cur = at;
	m->recent = recent;
	if (nonce != 0) {
		m->log_nonce = nonce;
		m->log_off = end;
	}
	/* owld's own change may share its clock tick with another's */
	v->suspect = v->suspect || touched;
	*done = true;
out:
	uidlog_free(&lg);
	uidlist_buf_free(buf);
	return r;
}

/*
 * Under the index lock: v's box from the index and its log alone, when
 * cur/ is as the scan that wrote the index listed it (its C stamp, which
 * a scan records only for a settled cur/ whose every name its record
 * gives back), new/ is empty, no expunge is left to finish, and no
 * \Recent is to be claimed.  *done false: a scan must do it.
 */
static enum store_res
open_from_index(struct store_view *v, bool *done, char *err, size_t errsz)
{
	char path[4400];
	struct uidlist ul;
	struct uidlist_stamp now;
	struct store_mark m;
	struct store_box *b;
	enum store_res r;
	bool ok;

	bsnprintf(path, sizeof(path), "%s/owlpost-expunge", v->dir);
	if (access(path, F_OK) == 0)
		return STORE_OK;
	r = maildir_index_load(v->dir, &ul, &m, &ok, err, errsz);
	if (r != STORE_OK || !ok)
		return r;
	bsnprintf(path, sizeof(path), "%s/cur", v->dir);
	if (m.cur.sec == 0 || maildir_stamp(path, &now) == -1 ||
	    !maildir_stamp_same(&now, &m.cur) ||
	    !new_as_listed(v->dir, &m.newdir, m.new_held) ||
	    (v->claim_recent && ul.recent < ul.uidnext)) {
		uidlist_free(&ul);
		return STORE_OK;
	}
	b = xcalloc(1, sizeof(*b));
	b->st = v->st;
	b->fd = -1;
	b->path = xstrdup(v->dir);
	b->msgs = xmalloc((ul.n + 1) * sizeof(*b->msgs));
	b->cap = ul.n + 1;
	for (size_t i = 0; i < ul.n; i++)
		add_logged(b, &ul.recs[i]);
	b->uidvalidity = ul.uidvalidity;
	b->uidnext = ul.uidnext;
	b->highestmodseq = ul.highestmodseq;
	b->mark = xmalloc(sizeof(*b->mark));
	*b->mark = m;
	store_box_unique_uidls(b);
	uidlist_free(&ul);
	v->box = b;
	*done = true;
	return STORE_OK;
}

/* A new view's box without a scan, if it can be: *done. */
static enum store_res
view_open_fast(struct store_view *v, bool *done, char *err, size_t errsz)
{
	enum store_res r;
	bool nodir;

	*done = false;
	r = store_lock_index(v->st, v->dir, &nodir, err, errsz);
	if (r != STORE_OK)
		return r;
	if (!nodir)
		r = open_from_index(v, done, err, errsz);
	store_unlock_index(v->st, v->dir);
	return r;
}

/* The sync without a scan, if it can be: *done. */
static enum store_res
view_sync_fast(struct store_view *v, bool keep, struct store_view_changes *ch,
	       char *err, size_t errsz, bool *done)
{
	enum store_res r;
	bool nodir;

	*done = false;
	if (v->box->mark == NULL)
		return STORE_OK;
	r = store_lock_index(v->st, v->dir, &nodir, err, errsz);
	if (r != STORE_OK)
		return r;
	v->recent_lo = v->recent_hi = 0;
	if (!nodir) {
		r = sync_from_log(v, ch, done, err, errsz);
		/* the gone are before the new: their positions hold */
		if (*done && !keep)
			drop_gone(v, ch);
	}
	store_unlock_index(v->st, v->dir);
	return r;
}

enum store_res
store_view_sync(struct store_view *v, unsigned how,
		struct store_view_changes *ch, char *err, size_t errsz)
{
	struct view_stamp now[VIEW_STAMPS + 1];
	struct store_view_changes mine = {0};
	struct store_box *nb;
	bool keep = (how & STORE_SYNC_KEEP_EXPUNGED) != 0;
	uint32_t known;
	enum store_res r;

	if (ch == NULL)
		ch = &mine;
	memset(ch, 0, sizeof(*ch));
	v->recent_lo = v->recent_hi = 0; /* what this sync gives, if any */
	if (!v->shared)
		return STORE_OK; /* a POP3 view is a snapshot */
	known = v->box->uidnext;
	view_take_stamps(v, now);
	if (!v->suspect && stamps_unchanged(v->stamps, now, v->local)) {
		if (!keep)
			drop_gone(v, ch);
		store_view_changes_free(&mine);
		return STORE_OK;
	}
	/* cur/ quiet for long enough after a tick that could hide a change
	 * of another program's: listed once more */
	if (!(v->suspect &&
	      maildir_settled_at(now[1].mtime.tv_sec, now[1].mtime.tv_nsec,
				 &now[VIEW_STAMPS].mtime, v->local))) {
		bool done;

		r = view_sync_fast(v, keep, ch, err, errsz, &done);
		if (r != STORE_OK || done) {
			if (r == STORE_OK) {
				memcpy(v->stamps, now, sizeof(now));
				note_unclaimed(v, known);
			}
			store_view_changes_free(&mine);
			return r;
		}
	}
	r = view_scan_claim(v, &nb, err, errsz);
	if (r != STORE_OK)
		return r;
	if (nb->uidvalidity != v->box->uidvalidity) {
		snprintf(err, errsz, "%s: UIDVALIDITY changed (the index was "
			 "rebuilt)", v->dir);
		store_box_free(&nb);
		return STORE_PERM;
	}
	if (!keep) /* said now: the merge must not keep them again */
		drop_gone(v, ch);
	merge(v, nb, keep, ch);
	take_mark(v, nb);
	store_box_free(&nb);
	memcpy(v->stamps, now, sizeof(now));
	note_unclaimed(v, known);
	store_view_changes_free(&mine);
	return STORE_OK;
}

void
store_view_changes_free(struct store_view_changes *ch)
{
	if (ch == NULL)
		return;
	free(ch->expunged);
	free(ch->changed);
	memset(ch, 0, sizeof(*ch));
}

bool
store_view_find_uid(const struct store_view *v, uint32_t uid, size_t *pos_r)
{
	return box_find_uid(v->box, uid, pos_r);
}

bool
box_find_uid(const struct store_box *b, uint32_t uid, size_t *pos_r)
{
	size_t lo = 0, hi = b->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint32_t u = b->msgs[mid].uid;

		if (u == uid) {
			*pos_r = mid;
			return true;
		}
		if (u < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

const char *
store_view_dir(const struct store_view *v)
{
	return v->dir;
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
	struct store_msg_info mi;

	store_box_info(v->box, i, &mi);
	out->uid = m->uid;
	out->modseq = store_box_modseq(v->box, i);
	out->flags = m->flags;
	out->size = mi.size;
	out->octets = mi.octets;
	out->date = mi.date;
	out->zone = mi.zone;
	out->uidl = store_box_uidl(v->box, i);
	out->keywords = store_box_keywords(v->box, i);
	out->expunged = view_gone(v->box, i);
}

int
store_view_reader_open(struct store_view *v, size_t i, struct store_reader *r)
{
	if (i < v->box->n && view_gone(v->box, i)) {
		memset(r, 0, sizeof(*r));
		r->fd = -1;
		errno = ENOENT;
		return -1;
	}
	return store_reader_open(v->box, i, r);
}

void
store_view_close(struct store_view **vp)
{
	if (*vp == NULL)
		return;
	store_box_free(&(*vp)->box);
	free((*vp)->dir);
	free((*vp)->user);
	free(*vp);
	*vp = NULL;
}
