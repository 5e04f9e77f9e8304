/*
 * imap_store - see imap_store.h.  Each call of the table is a store call
 * with its arguments converted: positions are uint32_t for the core and
 * size_t for the store, the flag, special-use and result enums have the
 * same values on both sides (checked below).  An APPEND's literal is
 * written to an anonymous spool file in the data directory as it comes
 * (CRLF made LF, as the store keeps text), then stored from that file, so
 * no message is ever whole in memory; a MULTIAPPEND's messages follow
 * each other in the command's one spool file (one descriptor however
 * many there are), then are stored together (store_append_many) or all
 * dropped.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../proto/imap_date.h"
#include "../store/store.h"
#include "imap_store.h"

static_assert((int)IMAP_F_DRAFT == (int)STORE_F_DRAFT &&
		      (int)IMAP_F_FLAGGED == (int)STORE_F_FLAGGED &&
		      (int)IMAP_F_PASSED == (int)STORE_F_PASSED &&
		      (int)IMAP_F_ANSWERED == (int)STORE_F_ANSWERED &&
		      (int)IMAP_F_SEEN == (int)STORE_F_SEEN &&
		      (int)IMAP_F_DELETED == (int)STORE_F_DELETED,
	      "imap_flag is store_flag");
static_assert((int)IMAP_SU_SENT == (int)STORE_SU_SENT &&
		      (int)IMAP_SU_DRAFTS == (int)STORE_SU_DRAFTS &&
		      (int)IMAP_SU_TRASH == (int)STORE_SU_TRASH &&
		      (int)IMAP_SU_JUNK == (int)STORE_SU_JUNK &&
		      (int)IMAP_SU_ARCHIVE == (int)STORE_SU_ARCHIVE &&
		      (int)IMAP_SU_ALL == (int)STORE_SU_ALL &&
		      (int)IMAP_SU_FLAGGED == (int)STORE_SU_FLAGGED,
	      "imap_special is store_special");
static_assert(IMAP_ZONE_MAX == STORE_ZONE_MAX,
	      "a zone (minutes east of UTC) has one range on both sides");

#define KEYWORDS_MAX IMAP_KEYWORDS_LIST_MAX /* SELECT's list of keywords
						in use */
#define SPOOL_CHUNK 8192

struct imap_store {
	struct store *st;
	char *user;
	unsigned max_folders;
	char *spool_dir;
	uint64_t append_max;
	struct store_view *view;	/* the selected folder, or NULL */
	char *sel;			/* its name */
	bool readonly;
	/* what a sync said, for the core (valid until the next call) */
	uint32_t *expunged, *changed;
	struct buf *keywords;		/* SELECT's keywords, or NULL */
	/* an APPEND streaming: one spool file for all of its messages */
	int spool;			/* -1: none */
	size_t written;			/* octets in the spool (LF) */
	/* the message being sent */
	bool in_msg;
	size_t msg_start;		/* where it starts in the spool */
	uint64_t announced, got;	/* octets as sent (CRLF) */
	bool cr;			/* a CR ended the last piece */
	/* the command's messages sent before it (MULTIAPPEND) */
	struct spooled *spooled;
	size_t nspooled, spooledcap;
};

/* A message of the spool whose literal has been read. */
struct spooled {
	size_t off, len;		/* octets (LF) */
};

/* A message text opened for the core. */
struct imap_store_reader {
	struct imap_store *ms;
	struct store_reader rd;
	struct store_reader at_open;	/* what a rewind goes back to: both
					   backends read with pread, so the
					   state at open is the start */
};

static enum imap_mres
mres(enum store_res r)
{
	switch (r) {
	case STORE_OK: return IMAP_M_OK;
	case STORE_TEMP: return IMAP_M_TEMP;
	case STORE_NOSPACE: return IMAP_M_NOSPACE;
	case STORE_PERM: return IMAP_M_PERM;
	case STORE_INUSE: return IMAP_M_INUSE;
	case STORE_EXISTS: return IMAP_M_EXISTS;
	case STORE_NOTFOUND: return IMAP_M_NOTFOUND;
	case STORE_LIMIT: return IMAP_M_LIMIT;
	}
	return IMAP_M_TEMP;
}

static enum imap_mres
fail(enum imap_mres r, char *err, size_t errsz, const char *why)
{
	snprintf(err, errsz, "%s", why);
	return r;
}

struct imap_store *
imap_store_new(struct store *st, const char *user, unsigned max_folders,
	       const char *spool_dir, uint64_t append_max)
{
	struct imap_store *ms = xcalloc(1, sizeof(*ms));

	ms->st = st;
	ms->user = xstrdup(user);
	ms->max_folders = max_folders;
	ms->spool_dir = xstrdup(spool_dir);
	ms->append_max = append_max;
	ms->spool = -1;
	return ms;
}

static void
forget_sync(struct imap_store *ms)
{
	free(ms->expunged);
	free(ms->changed);
	ms->expunged = ms->changed = NULL;
	buf_free(&ms->keywords);
}

/* Drops every spooled message of the command. */
static void
spool_close(struct imap_store *ms)
{
	if (ms->spool != -1)
		close(ms->spool);
	ms->spool = -1;
	ms->written = 0;
	ms->in_msg = false;
	ms->nspooled = 0;
}

void
imap_store_free(struct imap_store **msp)
{
	struct imap_store *ms = *msp;

	if (ms == NULL)
		return;
	spool_close(ms);
	free(ms->spooled);
	store_view_close(&ms->view);
	forget_sync(ms);
	free(ms->sel);
	free(ms->user);
	free(ms->spool_dir);
	free(ms);
	*msp = NULL;
}

const char *
imap_store_dir(const struct imap_store *ms)
{
	return ms->view != NULL ? store_view_dir(ms->view) : NULL;
}

/* --- folders ---------------------------------------------------------- */

static enum imap_mres
ms_list(void *ctx, struct imap_folder **list_r, size_t *n_r, char *err,
	size_t errsz)
{
	struct imap_store *ms = ctx;
	struct store_folder *sf;
	struct imap_folder *out;
	size_t n;
	enum store_res r = store_folder_list(ms->st, ms->user,
					     ms->max_folders, &sf, &n, err,
					     errsz);

	if (r != STORE_OK)
		return mres(r);
	out = xcalloc(n + 1, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		out[i] = (struct imap_folder){
			.name = sf[i].name,
			.special_use = sf[i].special_use,
			.exists = sf[i].exists,
			.subscribed = sf[i].subscribed,
			.children = sf[i].children,
		};
		sf[i].name = NULL; /* moved */
	}
	store_folder_list_free(&sf, n);
	*list_r = out;
	*n_r = n;
	return IMAP_M_OK;
}

static void
ms_list_free(void *ctx, struct imap_folder *list, size_t n)
{
	(void)ctx;
	if (list == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(list[i].name);
	free(list);
}

static enum imap_mres
ms_create(void *ctx, const char *name, unsigned special_use, char *err,
	  size_t errsz)
{
	struct imap_store *ms = ctx;

	return mres(store_folder_create(ms->st, ms->user, name, special_use,
					ms->max_folders, err, errsz));
}

static enum imap_mres
ms_delete(void *ctx, const char *name, char *err, size_t errsz)
{
	struct imap_store *ms = ctx;

	return mres(store_folder_delete(ms->st, ms->user, name, err, errsz));
}

/*
 * RENAME INBOX (RFC 9051 6.3.6): a new folder to, and every message of
 * INBOX moved there with its flags, keywords and date, leaving INBOX
 * empty (its subfolders stay).  The move is store_view_copy's, all or
 * nothing; if it fails, to stays with whatever the failure left there,
 * as the originals do: a message may be in both, never in neither.
 */
static enum store_res
rename_inbox(struct imap_store *ms, const char *to, char *err, size_t errsz)
{
	struct store_view *v = NULL;
	struct store_view_info info;
	size_t *pos = NULL;
	uint32_t *uids = NULL, uidvalidity;
	enum store_res r;

	r = store_folder_create(ms->st, ms->user, to, 0, ms->max_folders, err,
				errsz);
	if (r == STORE_OK)
		r = store_view_open_shared(ms->st, ms->user, "INBOX", &v, err,
					   errsz);
	if (r != STORE_OK)
		return r;
	store_view_info(v, &info);
	if (info.count > 0) {
		pos = xcalloc(info.count, sizeof(*pos));
		uids = xcalloc(info.count, sizeof(*uids));
		for (size_t i = 0; i < info.count; i++)
			pos[i] = i;
		r = store_view_copy(v, pos, info.count, to, true, uids,
				    &uidvalidity, err, errsz);
	}
	free(pos);
	free(uids);
	store_view_close(&v);
	return r;
}

static enum imap_mres
ms_rename(void *ctx, const char *from, const char *to, char *err,
	  size_t errsz)
{
	struct imap_store *ms = ctx;

	if (store_folder_is_inbox(from))
		return mres(rename_inbox(ms, to, err, errsz));
	return mres(store_folder_rename(ms->st, ms->user, from, to, err,
					errsz));
}

static enum imap_mres
ms_subscribe(void *ctx, const char *name, bool on, char *err, size_t errsz)
{
	struct imap_store *ms = ctx;

	return mres(store_folder_subscribe(ms->st, ms->user, name, on,
					   ms->max_folders, err, errsz));
}

/*
 * Counts a view's messages into st (RFC 9051 STATUS).  RECENT (RFC 3501
 * 6.3.10), for a view just opened without the claim: the messages no
 * session has claimed yet (store_view_recent); the selected one's is the
 * session's own, which the core knows.
 */
static void
count_view(const struct store_view *v, bool fresh, struct imap_status *st)
{
	struct store_view_info info;
	uint32_t lo = 0, hi = 0;

	store_view_info(v, &info);
	*st = (struct imap_status){
		.messages = (uint32_t)info.count,
		.uidnext = info.uidnext,
		.uidvalidity = info.uidvalidity,
		.highestmodseq = info.highestmodseq,
	};
	if (fresh)
		store_view_recent(v, &lo, &hi);
	for (size_t i = 0; i < info.count; i++) {
		struct store_vmsg m;

		store_view_msg(v, i, &m);
		if (m.uid >= lo && m.uid < hi)
			st->recent++;
		if (!(m.flags & STORE_F_SEEN))
			st->unseen++;
		if (m.flags & STORE_F_DELETED)
			st->deleted++;
		st->size += m.size;
	}
}

/* True if name is the selected folder (INBOX in any case). */
static bool
is_selected(const struct imap_store *ms, const char *name)
{
	if (ms->view == NULL)
		return false;
	if (store_folder_is_inbox(name))
		return store_folder_is_inbox(ms->sel);
	return strcmp(name, ms->sel) == 0;
}

static enum imap_mres
ms_status(void *ctx, const char *name, struct imap_status *st, char *err,
	  size_t errsz)
{
	struct imap_store *ms = ctx;
	struct store_view *v;
	enum store_res r;

	if (is_selected(ms, name)) {
		/* its current state, as the session knows it */
		count_view(ms->view, false, st);
		return IMAP_M_OK;
	}
	r = store_view_open_shared(ms->st, ms->user, name, &v, err, errsz);
	if (r != STORE_OK)
		return mres(r);
	count_view(v, true, st);
	store_view_close(&v);
	return IMAP_M_OK;
}

/* --- the selected mailbox --------------------------------------------- */

/* Adds each keyword of kw ("a b c") not in ms->keywords yet. */
static void
add_keywords(struct imap_store *ms, const char *kw)
{
	struct buf *b = ms->keywords;

	while (*kw != '\0') {
		size_t n = strcspn(kw, " ");
		const char *p = b->data;
		bool seen = false;

		while (n > 0 && !seen && *p != '\0') {
			size_t m = strcspn(p, " ");

			seen = m == n && strncasecmp(p, kw, n) == 0;
			p += m + (p[m] == ' ');
		}
		/* past KEYWORDS_MAX the list is cut (FLAGS shows fewer) */
		if (n > 0 && !seen && (b->len == 0 || buf_addc(b, ' ') == 0))
			(void)buf_add(b, kw, n);
		kw += n + (kw[n] == ' ');
	}
}

static void
ms_unselect(void *ctx)
{
	struct imap_store *ms = ctx;

	store_view_close(&ms->view);
	free(ms->sel);
	ms->sel = NULL;
	forget_sync(ms);
}

static enum imap_mres
ms_select(void *ctx, const char *name, bool readonly,
	  struct imap_view_info *info, char *err, size_t errsz)
{
	struct imap_store *ms = ctx;
	struct store_view_info vi;
	enum store_res r;

	ms_unselect(ms);
	/* SELECT takes \Recent's claim, EXAMINE does not */
	r = store_view_open_imap(ms->st, ms->user, name, !readonly, &ms->view,
				 err, errsz);
	if (r != STORE_OK)
		return mres(r);
	ms->sel = xstrdup(name);
	ms->readonly = readonly;
	store_view_info(ms->view, &vi);
	ms->keywords = buf_new(KEYWORDS_MAX);
	for (size_t i = 0; i < vi.count; i++) {
		struct store_vmsg m;

		store_view_msg(ms->view, i, &m);
		if (m.keywords != NULL)
			add_keywords(ms, m.keywords);
	}
	*info = (struct imap_view_info){
		.count = (uint32_t)vi.count,
		.uidvalidity = vi.uidvalidity,
		.uidnext = vi.uidnext,
		.highestmodseq = vi.highestmodseq,
		.keywords = ms->keywords->len > 0 ? ms->keywords->data : NULL,
	};
	store_view_recent(ms->view, &info->recent_lo, &info->recent_hi);
	return IMAP_M_OK;
}

/* size_t positions as the core's uint32_t, into a new array (or NULL). */
static uint32_t *
positions32(const size_t *pos, size_t n)
{
	uint32_t *out;

	if (n == 0)
		return NULL;
	out = xcalloc(n, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		out[i] = (uint32_t)pos[i];
	return out;
}

static enum imap_mres
ms_sync(void *ctx, bool keep_expunged, struct imap_changes *ch, char *err,
	size_t errsz)
{
	struct imap_store *ms = ctx;
	struct store_view_changes sc = {0};
	struct store_view_info vi;
	enum store_res r;

	forget_sync(ms);
	*ch = (struct imap_changes){0};
	if (ms->view == NULL)
		return fail(IMAP_M_PERM, err, errsz, "No mailbox selected");
	r = store_view_sync(ms->view, keep_expunged ? STORE_SYNC_KEEP_EXPUNGED
						    : 0,
			    &sc, err, errsz);
	if (r != STORE_OK)
		return mres(r);
	ms->expunged = positions32(sc.expunged, sc.nexpunged);
	ms->changed = positions32(sc.changed, sc.nchanged);
	store_view_info(ms->view, &vi);
	*ch = (struct imap_changes){
		.expunged = ms->expunged,
		.nexpunged = sc.nexpunged,
		.changed = ms->changed,
		.nchanged = sc.nchanged,
		.count = (uint32_t)vi.count,
	};
	store_view_recent(ms->view, &ch->recent_lo, &ch->recent_hi);
	store_view_changes_free(&sc);
	return IMAP_M_OK;
}

static void
ms_msg(void *ctx, uint32_t pos, struct imap_msg *out)
{
	struct imap_store *ms = ctx;
	struct store_vmsg m;

	store_view_msg(ms->view, pos, &m);
	*out = (struct imap_msg){
		.uid = m.uid,
		.modseq = m.modseq,
		.flags = m.flags,
		.keywords = m.keywords,
		.size = m.size,
		.date = (int64_t)m.date,
		.zone = m.zone,
		.expunged = m.expunged,
	};
}

static bool
ms_find_uid(void *ctx, uint32_t uid, uint32_t *pos_r)
{
	struct imap_store *ms = ctx;
	size_t pos;

	if (ms->view == NULL || !store_view_find_uid(ms->view, uid, &pos))
		return false;
	*pos_r = (uint32_t)pos;
	return true;
}

/* The core's positions as the store's, into a new array. */
static size_t *
positions(const uint32_t *pos, size_t n)
{
	size_t *out = xcalloc(n + 1, sizeof(*out));

	for (size_t i = 0; i < n; i++)
		out[i] = pos[i];
	return out;
}

static enum imap_mres
writable(const struct imap_store *ms, char *err, size_t errsz)
{
	if (ms->view == NULL)
		return fail(IMAP_M_PERM, err, errsz, "No mailbox selected");
	if (ms->readonly)
		return fail(IMAP_M_PERM, err, errsz, "Mailbox is read-only");
	return IMAP_M_OK;
}

static enum imap_mres
ms_store(void *ctx, const uint32_t *pos, size_t n,
	 const struct imap_store_req *req, bool *modified, char *err,
	 size_t errsz)
{
	struct imap_store *ms = ctx;
	struct store_flags_req fr = {
		.op = req->op == IMAP_STORE_ADD      ? STORE_FLAGS_ADD
		      : req->op == IMAP_STORE_REMOVE ? STORE_FLAGS_REMOVE
						     : STORE_FLAGS_REPLACE,
		.flags = req->flags,
		.keywords = req->keywords,
		.conditional = req->conditional,
		.unchangedsince = req->unchangedsince,
	};
	enum imap_mres w = writable(ms, err, errsz);
	size_t *sp;
	enum store_res r;

	if (w != IMAP_M_OK)
		return w;
	sp = positions(pos, n);
	r = store_view_store(ms->view, sp, n, &fr, modified, err, errsz);
	free(sp);
	return mres(r);
}

/* A mark per message of the view for the positions given. */
static bool *
marks(const struct imap_store *ms, const uint32_t *pos, size_t n)
{
	struct store_view_info vi;
	bool *dele;

	store_view_info(ms->view, &vi);
	dele = xcalloc(vi.count + 1, sizeof(*dele));
	for (size_t i = 0; i < n; i++)
		if (pos[i] < vi.count)
			dele[pos[i]] = true;
	return dele;
}

static enum imap_mres
ms_expunge(void *ctx, const uint32_t *pos, size_t n, char *err,
	   size_t errsz)
{
	struct imap_store *ms = ctx;
	enum imap_mres w = writable(ms, err, errsz);
	bool *dele;
	enum store_res r;

	if (w != IMAP_M_OK)
		return w;
	if (n == 0)
		return IMAP_M_OK;
	dele = marks(ms, pos, n);
	r = store_view_expunge_shared(ms->view, dele, err, errsz);
	free(dele);
	return mres(r);
}

static enum imap_mres
ms_copy(void *ctx, const uint32_t *pos, size_t n, const char *folder,
	bool move, uint32_t *uids_r, uint32_t *uidvalidity_r, char *err,
	size_t errsz)
{
	struct imap_store *ms = ctx;
	enum imap_mres w = move ? writable(ms, err, errsz)
				: ms->view == NULL
				    ? fail(IMAP_M_PERM, err, errsz,
					   "No mailbox selected")
				    : IMAP_M_OK;
	size_t *sp;
	enum store_res r;

	if (w != IMAP_M_OK)
		return w;
	sp = positions(pos, n);
	r = store_view_copy(ms->view, sp, n, folder, move, uids_r,
			    uidvalidity_r, err, errsz);
	free(sp);
	return mres(r);
}

/* --- message text ------------------------------------------------------ */

static enum imap_mres
ms_open(void *ctx, uint32_t pos, void **rd, char *err, size_t errsz)
{
	struct imap_store *ms = ctx;
	struct imap_store_reader *r;

	if (ms->view == NULL)
		return fail(IMAP_M_PERM, err, errsz, "No mailbox selected");
	r = xcalloc(1, sizeof(*r));
	r->ms = ms;
	if (store_view_reader_open(ms->view, pos, &r->rd) == -1) {
		int e = errno;

		free(r);
		snprintf(err, errsz, "Cannot open the message: %s",
			 strerror(e));
		/* gone meanwhile (another session expunged it) */
		return e == ENOENT ? IMAP_M_EXPUNGED : IMAP_M_TEMP;
	}
	r->at_open = r->rd;
	*rd = r;
	return IMAP_M_OK;
}

static long
ms_read(void *rd, char *buf, size_t size)
{
	struct imap_store_reader *r = rd;

	return (long)store_reader_read(&r->rd, buf, size);
}

static int
ms_rewind(void *rd)
{
	struct imap_store_reader *r = rd;

	r->rd = r->at_open;	/* the same descriptor, from its start */
	return 0;
}

static void
ms_close(void *rd)
{
	struct imap_store_reader *r = rd;

	if (r == NULL)
		return;
	store_reader_close(&r->rd);
	free(r);
}

/* --- APPEND ----------------------------------------------------------- */

/* An anonymous file in the spool directory (nothing left by a crash). */
static int
spool_open(const char *dir)
{
	char path[4096];
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd != -1 || (errno != EOPNOTSUPP && errno != EISDIR &&
			 errno != EINVAL))
		return fd;
	/* a filesystem without O_TMPFILE: a name, gone at once */
	if (bsnprintf(path, sizeof(path), "%s/.imap-append-XXXXXX", dir) ==
	    -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = mkostemp(path, O_CLOEXEC)) != -1)
		unlink(path);
	return fd;
}

static enum imap_mres spool_write(struct imap_store *ms, const char *data,
				  size_t len, char *err, size_t errsz);

/* The message being sent is whole: kept beside the command's others. */
static enum imap_mres
spool_finish(struct imap_store *ms, char *err, size_t errsz)
{
	enum imap_mres w = IMAP_M_OK;

	if (!ms->in_msg)
		return IMAP_M_OK;
	if (ms->got != ms->announced)
		w = fail(IMAP_M_PERM, err, errsz, "Message data cut short");
	else if (ms->cr)
		w = spool_write(ms, "\r", 1, err, errsz);
	ms->cr = false;
	if (w != IMAP_M_OK) {
		spool_close(ms);
		return w;
	}
	if (ms->nspooled == ms->spooledcap) {
		ms->spooledcap = ms->spooledcap ? 2 * ms->spooledcap : 8;
		ms->spooled = xrealloc(ms->spooled, ms->spooledcap *
				       sizeof(*ms->spooled));
	}
	ms->spooled[ms->nspooled++] = (struct spooled){ms->msg_start,
		ms->written - ms->msg_start};
	ms->in_msg = false;
	return IMAP_M_OK;
}

static enum imap_mres
ms_append_begin(void *ctx, uint64_t size, char *err, size_t errsz)
{
	struct imap_store *ms = ctx;
	enum imap_mres r;

	if (size > ms->append_max) {
		spool_close(ms);
		return fail(IMAP_M_LIMIT, err, errsz,
			    "Message larger than APPENDLIMIT");
	}
	if ((r = spool_finish(ms, err, errsz)) != IMAP_M_OK)
		return r;
	if (ms->spool == -1 && (ms->spool = spool_open(ms->spool_dir)) == -1) {
		snprintf(err, errsz, "Cannot make a spool file in %s: %s",
			 ms->spool_dir, strerror(errno));
		r = errno == ENOSPC || errno == EDQUOT ? IMAP_M_NOSPACE
						       : IMAP_M_TEMP;
		spool_close(ms);
		return r;
	}
	ms->in_msg = true;
	ms->msg_start = ms->written;
	ms->announced = size;
	ms->got = 0;
	ms->cr = false;
	return IMAP_M_OK;
}

/* Writes all of data to the spool; the error as a result. */
static enum imap_mres
spool_write(struct imap_store *ms, const char *data, size_t len, char *err,
	    size_t errsz)
{
	while (len > 0) {
		ssize_t n = write(ms->spool, data, len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n == -1 ? errno : EIO;

			snprintf(err, errsz, "Cannot write the spool file: "
				 "%s", strerror(e));
			return e == ENOSPC || e == EDQUOT ? IMAP_M_NOSPACE
							  : IMAP_M_TEMP;
		}
		data += n;
		len -= (size_t)n;
		ms->written += (size_t)n;
	}
	return IMAP_M_OK;
}

static enum imap_mres
ms_append_data(void *ctx, const char *data, size_t len, char *err,
	       size_t errsz)
{
	struct imap_store *ms = ctx;
	char out[SPOOL_CHUNK];
	size_t k = 0;
	enum imap_mres r = IMAP_M_OK;

	if (!ms->in_msg)
		return fail(IMAP_M_PERM, err, errsz, "No APPEND in progress");
	if (len > ms->announced - ms->got)
		return fail(IMAP_M_PERM, err, errsz,
			    "More message data than announced");
	ms->got += len;
	for (size_t i = 0; i < len && r == IMAP_M_OK; i++) {
		/* CRLF as LF; a bare CR stays what it was */
		if (ms->cr && data[i] != '\n')
			out[k++] = '\r';
		ms->cr = data[i] == '\r';
		if (!ms->cr)
			out[k++] = data[i];
		if (k >= sizeof(out) - 1) {
			r = spool_write(ms, out, k, err, errsz);
			k = 0;
		}
	}
	if (r == IMAP_M_OK && k > 0)
		r = spool_write(ms, out, k, err, errsz);
	return r;
}

static enum imap_mres
ms_append_end(void *ctx, struct imap_append_req *req, size_t n, char *err,
	      size_t errsz)
{
	struct imap_store *ms = ctx;
	struct store_append_req *a;
	enum imap_mres w;
	enum store_res r;

	if (!ms->in_msg && ms->nspooled == 0)
		return fail(IMAP_M_PERM, err, errsz, "No APPEND in progress");
	if ((w = spool_finish(ms, err, errsz)) != IMAP_M_OK)
		return w;
	if (n != ms->nspooled) {
		spool_close(ms);
		return fail(IMAP_M_PERM, err, errsz, "Not as many messages "
			    "as were sent");
	}
	a = xcalloc(n, sizeof(*a));
	for (size_t k = 0; k < n; k++)
		a[k] = (struct store_append_req){
			.fd = ms->spool,
			.off = (off_t)ms->spooled[k].off,
			.len = ms->spooled[k].len,
			.flags = req[k].flags,
			.keywords = req[k].keywords,
			.date = (time_t)req[k].date,
			.zone = req[k].zone,
		};
	r = store_append_many(ms->st, ms->user, req[0].folder, a, n, err,
			      errsz);
	spool_close(ms);
	for (size_t k = 0; k < n; k++) {
		req[k].uidvalidity = r == STORE_OK ? a[k].uidvalidity : 0;
		req[k].uid = r == STORE_OK ? a[k].uid : 0;
	}
	free(a);
	return mres(r);
}

static void
ms_append_abort(void *ctx)
{
	spool_close(ctx);
}

const struct imap_mbox_ops imap_store_ops = {
	.list = ms_list,
	.list_free = ms_list_free,
	.create = ms_create,
	.delete = ms_delete,
	.rename = ms_rename,
	.subscribe = ms_subscribe,
	.status = ms_status,
	.select = ms_select,
	.unselect = ms_unselect,
	.sync = ms_sync,
	.msg = ms_msg,
	.find_uid = ms_find_uid,
	.store = ms_store,
	.expunge = ms_expunge,
	.copy = ms_copy,
	.open = ms_open,
	.read = ms_read,
	.rewind = ms_rewind,
	.close = ms_close,
	.append_begin = ms_append_begin,
	.append_data = ms_append_data,
	.append_end = ms_append_end,
	.append_abort = ms_append_abort,
};
