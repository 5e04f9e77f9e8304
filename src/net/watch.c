/*
 * watch - see watch.h.
 *
 * Records: the hub holds a list of folders (one per watched path) and a
 * hash from inotify watch descriptor to the slots using it (a slot is one
 * of a folder's three watches: DIR, DIR/new, DIR/cur).  Two folders may
 * share a descriptor (one directory under two spellings): inotify gives
 * the same one, so a descriptor is removed from the kernel only when no
 * slot uses it any more.
 *
 * A folder is "stale" when one of its watches is gone (its directory was
 * removed or moved: IN_IGNORED, IN_MOVE_SELF); its next fire sets it up
 * again from its path, before calling the watchers, and a set-up that
 * fails falls back to polling.  A folder polled after a failure tries
 * inotify again each time its poll sees a change, so a new/ created late
 * or a raised watch limit is picked up.
 *
 * Not watched: tmp/ (nothing there is visible to a session) and
 * IN_ATTRIB (flags live in names and the index is replaced by a rename,
 * so no change a session sees is an attribute change alone).
 *
 * Calling back: the fire timer marks every watcher due, then walks the
 * list with a cursor that watch_del() moves past a deleted watcher; the
 * folder is freed after the walk if its last watcher went meanwhile.
 *
 * Polls run on the worker pool when the hub has one (a job owns a copy of
 * the path and is orphaned, not cancelled, when its folder goes), else on
 * the loop; a folder's first probes are always taken at once, so that
 * its baseline is older than its sessions' first sync.
 */
#include "watch.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/clock.h"
#include "../lib/log.h"
#include "../lib/wpool.h"

#define INDEX_NAME ".owlpost-uidlist"	/* docs/MAILDIR.md */
#define SETTLE_S 2	/* an mtime this recent may hide a second change */
#define READ_ROUNDS 16	/* inotify reads per wake-up, then yield */
#define HASH_MIN 64
#define SLOW_POLL_MS 100	/* a poll of one folder blocking the loop */

/* What a change in the folder's own directory may be: the index, new/,
 * cur/; never the lock file, tmp/ or the index's .tmp. */
#define DIR_MASK (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
		  IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF)
/* new/ and cur/: a delivery links or renames in, a flag change renames,
 * an expunge unlinks. */
#define SUB_MASK (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
		  IN_DELETE_SELF | IN_MOVE_SELF)
#define ADD_FLAGS (IN_ONLYDIR | IN_EXCL_UNLINK | IN_MASK_ADD)

enum slot_kind { SLOT_DIR, SLOT_NEW, SLOT_CUR, NSLOTS };
static const char *const SLOT_SUB[NSLOTS] = {"", "/new", "/cur"};

enum { PROBE_NEW, PROBE_CUR, PROBE_INDEX, NPROBES };
static const char *const PROBE_SUB[NPROBES] = {"/new", "/cur",
					       "/" INDEX_NAME};

struct folder;

struct slot {			/* one inotify watch of a folder */
	struct folder *f;
	int wd;			/* -1: none */
	struct slot *hnext;	/* the hub's chain for wd */
};

struct probe {			/* what a poll compares */
	int err;		/* errno of open/fstat, 0 if none */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim, ctim;
};

struct pjob {			/* a poll on the worker pool */
	struct wpool_job job;	/* first: the pool hands this back */
	struct folder *f;	/* NULL once the folder went */
	char *dir;		/* the worker's own copy */
	struct probe out[NPROBES];
	bool recent;
};

struct folder {
	struct watch_hub *h;
	char *dir;
	struct slot slots[NSLOTS];
	bool armed;		/* every slot has its watch */
	bool shared;		/* other hosts' changes: poll */
	bool stale;		/* a watch went: set up again */
	bool logged;		/* its set-up failure was logged */
	struct event *fire;	/* coalescing timer */
	struct event *poll;	/* NULL: not polled */
	struct pjob *inflight;	/* its poll on the pool, if any */
	struct probe probes[NPROBES];
	bool unsettled;		/* the last poll saw a recent mtime */
	LIST_HEAD(, watch) watchers;
	struct watch *cursor;	/* next watcher of the fire walk */
	unsigned busy;		/* in the fire walk */
	LIST_ENTRY(folder) link;
};

struct watch {
	struct folder *f;
	watch_fn *cb;
	void *arg;
	bool due;
	LIST_ENTRY(watch) link;
};

struct watch_hub {
	struct event_base *base;
	struct watch_conf conf;
	int ifd;		/* inotify; -1: none (poll) */
	struct event *iev;
	struct slot **buckets;	/* wd hash */
	size_t nbuckets, nslots;
	LIST_HEAD(, folder) folders;
	unsigned nfolders;
	int fail_err;		/* tests: inotify_add_watch fails so */
	bool all_shared;	/* tests: every filesystem is shared */
	bool logged_limit, logged_overflow, logged_slow;
};

/*
 * Filesystems where another host may change the tree without this
 * kernel seeing it (statfs f_type; Linux magic numbers).
 */
static const struct {
	unsigned long magic;
	const char *name;
} SHARED_FS[] = {
	{0x6969, "nfs"},
	{0x517b, "smb"},
	{0xff534d42, "cifs"},
	{0xfe534d42, "smb2"},
	{0x65735546, "fuse"},	/* GlusterFS, sshfs, s3fs, ... */
	{0x00c36400, "ceph"},
	{0x01161970, "gfs2"},
	{0x7461636f, "ocfs2"},
	{0x5346414f, "afs"},
	{0x6b414653, "kafs"},
	{0x0bd00bd0, "lustre"},
	{0x47504653, "gpfs"},
	{0x01021997, "9p"},
	{0x73757245, "coda"},
	{0x13661366, "orangefs"},
};

static void folder_setup(struct folder *f);
static void folder_free(struct folder *f);

static struct event *
xevent_new(struct event_base *base, int fd, short what,
	   event_callback_fn cb, void *arg)
{
	struct event *ev = event_new(base, fd, what, cb, arg);

	if (ev == NULL) {
		fprintf(stderr, "owld: out of memory for an event\n");
		abort();
	}
	return ev;
}

/* DIR + sub into out; -1 (ENAMETOOLONG) if it does not fit. */
static int
subpath(char *out, size_t size, const char *dir, const char *sub)
{
	int n = snprintf(out, size, "%s%s", dir, sub);

	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* The length of dir without trailing slashes ("/" stays). */
static size_t
dir_len(const char *dir)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	return n;
}

static bool
on_shared_fs(const char *dir)
{
	struct statfs sf;

	if (statfs(dir, &sf) == -1)
		return false;	/* the set-up fails too, and polls */
	for (size_t i = 0; i < sizeof(SHARED_FS) / sizeof(*SHARED_FS); i++)
		if (((unsigned long)sf.f_type & 0xffffffffUL) ==
		    SHARED_FS[i].magic)
			return true;
	return false;
}

/* ---- the descriptor hash ---- */

static struct slot **
bucket(struct watch_hub *h, int wd)
{
	return &h->buckets[(unsigned)wd & (h->nbuckets - 1)];
}

static struct slot *
slot_find(struct watch_hub *h, int wd)
{
	struct slot *s;

	for (s = *bucket(h, wd); s != NULL; s = s->hnext)
		if (s->wd == wd)
			return s;
	return NULL;
}

static void
hash_grow(struct watch_hub *h)
{
	struct slot **old = h->buckets;
	size_t n = h->nbuckets;

	h->nbuckets = n * 2;
	h->buckets = xcalloc(h->nbuckets, sizeof(*h->buckets));
	for (size_t i = 0; i < n; i++)
		while (old[i] != NULL) {
			struct slot *s = old[i];

			old[i] = s->hnext;
			s->hnext = *bucket(h, s->wd);
			*bucket(h, s->wd) = s;
		}
	free(old);
}

static void
slot_hash(struct watch_hub *h, struct slot *s, int wd)
{
	if (h->nslots >= h->nbuckets)
		hash_grow(h);
	s->wd = wd;
	s->hnext = *bucket(h, wd);
	*bucket(h, wd) = s;
	h->nslots++;
}

static void
slot_unhash(struct watch_hub *h, struct slot *s)
{
	struct slot **pp;

	for (pp = bucket(h, s->wd); *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == s) {
			*pp = s->hnext;
			h->nslots--;
			break;
		}
	s->hnext = NULL;
	s->wd = -1;
}

/* ---- inotify watches of a folder ---- */

static void
folder_disarm(struct folder *f)
{
	struct watch_hub *h = f->h;

	for (int k = 0; k < NSLOTS; k++) {
		int wd = f->slots[k].wd;

		if (wd == -1)
			continue;
		slot_unhash(h, &f->slots[k]);
		if (slot_find(h, wd) == NULL)
			inotify_rm_watch(h->ifd, wd); /* EINVAL if gone: fine */
	}
	f->armed = false;
}

static int
add_watch(struct watch_hub *h, const char *dir, int k)
{
	char path[PATH_MAX];

	if (h->fail_err != 0) {
		errno = h->fail_err;
		return -1;
	}
	if (subpath(path, sizeof(path), dir, SLOT_SUB[k]) == -1)
		return -1;
	return inotify_add_watch(h->ifd, path,
				 (k == SLOT_DIR ? DIR_MASK : SUB_MASK) |
					 ADD_FLAGS);
}

/* Why a folder polls instead: the watch limit once per hub, any other
 * failure once per folder. */
static void
log_fallback(struct folder *f, int err)
{
	struct watch_hub *h = f->h;
	char q[PATH_MAX + 16];

	if (err == ENOSPC || err == ENOMEM) {
		if (h->logged_limit)
			return;
		h->logged_limit = true;
		log_msg(LOGL_WARN, "net",
			"event=watch-fallback reason=watch-limit dir=%s "
			"error=\"%s\" hint=fs.inotify.max_user_watches "
			"note=\"folders past the limit are polled; logged "
			"once\"", log_q(q, sizeof(q), f->dir), strerror(err));
		return;
	}
	if (f->logged)
		return;
	f->logged = true;
	log_msg(LOGL_INFO, "net",
		"event=watch-fallback reason=add-watch dir=%s error=\"%s\" "
		"note=\"polled; logged once for the folder\"",
		log_q(q, sizeof(q), f->dir), strerror(err));
}

/* Every slot's watch, or none: 0, or -1 with errno. */
static int
folder_arm(struct folder *f, bool quiet)
{
	struct watch_hub *h = f->h;

	for (int k = 0; k < NSLOTS; k++) {
		int wd = add_watch(h, f->dir, k);

		if (wd == -1) {
			int err = errno;

			folder_disarm(f);
			if (!quiet)
				log_fallback(f, err);
			errno = err;
			return -1;
		}
		slot_hash(h, &f->slots[k], wd);
	}
	f->armed = true;
	return 0;
}

/* ---- polling ---- */

static void
probe_take(const char *dir, int i, struct probe *p)
{
	char path[PATH_MAX];
	struct stat st;
	int fd;

	memset(p, 0, sizeof(*p));
	if (subpath(path, sizeof(path), dir, PROBE_SUB[i]) == -1) {
		p->err = errno;
		return;
	}
	/* open, not stat: NFS revalidates attributes on open (close-to-open)
	 * and may answer a stat from its cache for up to acdirmax */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY |
				(i == PROBE_INDEX ? 0 : O_DIRECTORY));
	if (fd == -1 || fstat(fd, &st) == -1) {
		p->err = errno;
		if (fd != -1)
			close(fd);
		return;
	}
	close(fd);
	p->dev = st.st_dev;
	p->ino = st.st_ino;
	p->size = st.st_size;
	p->mtim = st.st_mtim;
	p->ctim = st.st_ctim;
}

static bool
ts_equal(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static bool
probe_same(const struct probe *a, const struct probe *b)
{
	return a->err == b->err && a->dev == b->dev && a->ino == b->ino &&
	       a->size == b->size && ts_equal(&a->mtim, &b->mtim) &&
	       ts_equal(&a->ctim, &b->ctim);
}

/*
 * An mtime within SETTLE_S of now may be shared by a later change in the
 * same clock tick (coarse timestamps: a jiffy locally, 1 s on some
 * servers), which a comparison cannot see.  (ctime is compared but not
 * waited for: a change of entries moves the mtime too.)
 */
static bool
probe_recent(const struct probe *p, time_t now)
{
	return p->err == 0 && now - p->mtim.tv_sec < SETTLE_S;
}

static void
probe_all(const char *dir, struct probe out[NPROBES], bool *recent_r)
{
	time_t now = time(NULL);

	*recent_r = false;
	for (int i = 0; i < NPROBES; i++) {
		probe_take(dir, i, &out[i]);
		if (probe_recent(&out[i], now))
			*recent_r = true;
	}
}

static void
folder_schedule(struct folder *f, unsigned ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	if (ms == 0 || !evtimer_pending(f->fire, NULL))
		evtimer_add(f->fire, &tv);
}

/*
 * A poll's probes came in: the watchers are called if something differs,
 * or if the last poll saw a recent mtime and this one does not (a change
 * hidden in that tick is synced once, after the tick).
 */
static void
poll_result(struct folder *f, const struct probe now[NPROBES], bool recent)
{
	bool changed = f->unsettled && !recent;

	for (int i = 0; i < NPROBES; i++)
		if (!probe_same(&f->probes[i], &now[i]))
			changed = true;
	memcpy(f->probes, now, sizeof(f->probes));
	f->unsettled = recent;
	if (!changed)
		return;
	/* polled after a failure: inotify may work now (see the top) */
	if (!f->armed && !f->shared && f->h->ifd != -1)
		f->stale = true;
	folder_schedule(f, 0);
}

/* Runs on a worker: a batch of polls, no folder or hub touched. */
static void
pjob_run(struct wpool_job **jobs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct pjob *pj = (struct pjob *)(void *)jobs[i];

		probe_all(pj->dir, pj->out, &pj->recent);
	}
}

/* On the loop: the folder gets its result, unless it went meanwhile. */
static void
pjob_done(struct wpool_job *job)
{
	struct pjob *pj = (struct pjob *)(void *)job;
	struct folder *f = pj->f;

	if (f != NULL) {
		f->inflight = NULL;
		if (f->poll != NULL)	/* else inotify took over */
			poll_result(f, pj->out, pj->recent);
	}
	free(pj->dir);
	free(pj);
}

static void
poll_on_pool(struct folder *f)
{
	struct pjob *pj;

	if (f->inflight != NULL)
		return;		/* the last one is not back yet: skip */
	pj = xcalloc(1, sizeof(*pj));
	pj->job.run = pjob_run;
	pj->job.done = pjob_done;
	pj->f = f;
	pj->dir = xstrdup(f->dir);
	f->inflight = pj;
	wpool_submit(f->h->conf.pool, &pj->job);
}

/*
 * Without a pool the probes run on the loop thread: a few microseconds
 * each on a local disk, a round trip each on NFS.  A poll that takes
 * SLOW_POLL_MS or more is logged once.
 */
static void
poll_inline(struct folder *f)
{
	struct probe now[NPROBES];
	uint64_t start = mono_ms(), took;
	bool recent;
	char q[PATH_MAX + 16];

	probe_all(f->dir, now, &recent);
	took = mono_ms() - start;
	if (took >= SLOW_POLL_MS && !f->h->logged_slow) {
		f->h->logged_slow = true;
		log_msg(LOGL_WARN, "net",
			"event=watch-slow-poll dir=%s ms=%llu note=\"the event "
			"loop waited for the filesystem; logged once\"",
			log_q(q, sizeof(q), f->dir), (unsigned long long)took);
	}
	poll_result(f, now, recent);
}

static void
poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct folder *f = arg;

	(void)fd;
	(void)what;
	if (f->h->conf.pool != NULL)
		poll_on_pool(f);
	else
		poll_inline(f);
}

/*
 * The first probes are taken at once, on the loop: the baseline must be
 * older than the session's first sync.
 */
static void
poll_start(struct folder *f)
{
	unsigned ms = f->h->conf.poll_interval_ms;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	if (f->poll != NULL)
		return;
	probe_all(f->dir, f->probes, &f->unsettled);
	f->poll = xevent_new(f->h->base, -1, EV_PERSIST, poll_cb, f);
	evtimer_add(f->poll, &tv);
}

static void
poll_stop(struct folder *f)
{
	if (f->poll != NULL)
		event_free(f->poll);
	f->poll = NULL;
}

/* ---- folders ---- */

/*
 * inotify where it works and sees every change; polling on shared
 * filesystems (plus inotify, quietly, for this host's changes), in poll
 * mode and where inotify fails.
 */
static void
folder_setup(struct folder *f)
{
	struct watch_hub *h = f->h;
	bool inotify_ok = false;

	f->stale = false;
	if (h->ifd != -1) {
		folder_disarm(f);
		f->shared = h->all_shared || on_shared_fs(f->dir);
		inotify_ok = folder_arm(f, f->shared) == 0;
	}
	if (inotify_ok && !f->shared)
		poll_stop(f);
	else
		poll_start(f);
}

static void
fire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct folder *f = arg;
	struct watch *w;

	(void)fd;
	(void)what;
	if (f->stale)
		folder_setup(f);
	LIST_FOREACH(w, &f->watchers, link)
		w->due = true;
	f->busy++;
	f->cursor = LIST_FIRST(&f->watchers);
	while ((w = f->cursor) != NULL) {
		f->cursor = LIST_NEXT(w, link);
		if (w->due) {
			w->due = false;
			w->cb(w->arg);
		}
	}
	f->busy--;
	if (LIST_EMPTY(&f->watchers))
		folder_free(f); /* the last watcher left during the walk */
}

static struct folder *
folder_find(struct watch_hub *h, const char *dir)
{
	size_t n = dir_len(dir);
	struct folder *f;

	LIST_FOREACH(f, &h->folders, link)
		if (strlen(f->dir) == n && memcmp(f->dir, dir, n) == 0)
			return f;
	return NULL;
}

static struct folder *
folder_new(struct watch_hub *h, const char *dir)
{
	struct folder *f = xcalloc(1, sizeof(*f));
	size_t n = dir_len(dir);

	f->h = h;
	f->dir = xmalloc(n + 1);
	memcpy(f->dir, dir, n);
	f->dir[n] = '\0';
	for (int k = 0; k < NSLOTS; k++) {
		f->slots[k].f = f;
		f->slots[k].wd = -1;
	}
	LIST_INIT(&f->watchers);
	f->fire = xevent_new(h->base, -1, 0, fire_cb, f);
	LIST_INSERT_HEAD(&h->folders, f, link);
	h->nfolders++;
	folder_setup(f);
	return f;
}

/* Frees f and any watcher left on it (watch_hub_free). */
static void
folder_free(struct folder *f)
{
	struct watch_hub *h = f->h;
	struct watch *w;

	while ((w = LIST_FIRST(&f->watchers)) != NULL) {
		LIST_REMOVE(w, link);
		free(w);
	}
	if (h->ifd != -1)
		folder_disarm(f);
	poll_stop(f);
	if (f->inflight != NULL)
		f->inflight->f = NULL;	/* pjob_done frees it */
	event_free(f->fire);
	LIST_REMOVE(f, link);
	h->nfolders--;
	free(f->dir);
	free(f);
}

/* ---- inotify events ---- */

/* An event that may change what a session of the folder sees. */
static bool
relevant(const struct folder *f, const struct slot *s, uint32_t mask,
	 const char *name)
{
	if (mask & (IN_DELETE_SELF | IN_MOVE_SELF))
		return true;
	if (s != &f->slots[SLOT_DIR])
		return true;	/* anything in new/ or cur/ */
	return strcmp(name, INDEX_NAME) == 0 || strcmp(name, "new") == 0 ||
	       strcmp(name, "cur") == 0;
}

static void
overflow(struct watch_hub *h)
{
	struct folder *f;

	if (!h->logged_overflow) {
		h->logged_overflow = true;
		log_msg(LOGL_INFO, "net",
			"event=watch-overflow note=\"inotify queue overflowed; "
			"every watcher syncs; fs.inotify.max_queued_events; "
			"logged once\"");
	}
	LIST_FOREACH(f, &h->folders, link)
		folder_schedule(f, 0);
}

/* The kernel dropped wd (its directory went): each user sets up again. */
static void
wd_gone(struct watch_hub *h, int wd)
{
	struct slot *s;

	while ((s = slot_find(h, wd)) != NULL) {
		slot_unhash(h, s);
		s->f->armed = false;
		s->f->stale = true;
		folder_schedule(s->f, WATCH_COALESCE_MS);
	}
}

static void
inotify_one(struct watch_hub *h, int wd, uint32_t mask, const char *name)
{
	if (mask & IN_Q_OVERFLOW) {
		overflow(h);
		return;
	}
	if (mask & IN_IGNORED) {
		wd_gone(h, wd);
		return;
	}
	for (struct slot *s = *bucket(h, wd); s != NULL; s = s->hnext) {
		if (s->wd != wd || !relevant(s->f, s, mask, name))
			continue;
		if (mask & IN_MOVE_SELF)
			s->f->stale = true; /* the path is elsewhere now */
		folder_schedule(s->f, WATCH_COALESCE_MS);
	}
}

static void
inotify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct watch_hub *h = arg;
	char buf[16384];

	(void)fd;
	(void)what;
	for (int round = 0; round < READ_ROUNDS; round++) {
		ssize_t n = read(h->ifd, buf, sizeof(buf));
		size_t off = 0;

		if (n <= 0) {
			if (n == -1 && errno != EAGAIN && errno != EINTR)
				log_msg(LOGL_ERROR, "net",
					"event=watch-read-failed error=\"%s\"",
					strerror(errno));
			return;
		}
		while (off + sizeof(struct inotify_event) <= (size_t)n) {
			struct inotify_event ev;
			const char *name = buf + off + sizeof(ev);

			memcpy(&ev, buf + off, sizeof(ev));
			if (ev.len > (size_t)n - off - sizeof(ev))
				break;	/* never split by the kernel */
			if (ev.len == 0 || name[ev.len - 1] != '\0')
				name = "";
			inotify_one(h, ev.wd, ev.mask, name);
			off += sizeof(ev) + ev.len;
		}
	}
}

/* ---- the API ---- */

struct watch_hub *
watch_hub_new(struct event_base *base, const struct watch_conf *wc,
	      const char **error_r)
{
	struct watch_hub *h;

	if ((wc->mode != WATCH_AUTO && wc->mode != WATCH_POLL) ||
	    wc->poll_interval_ms == 0) {
		*error_r = "watch: bad mode or zero poll interval";
		return NULL;
	}
	h = xcalloc(1, sizeof(*h));
	h->base = base;
	h->conf = *wc;
	h->ifd = -1;
	LIST_INIT(&h->folders);
	h->nbuckets = HASH_MIN;
	h->buckets = xcalloc(h->nbuckets, sizeof(*h->buckets));
	if (wc->mode == WATCH_POLL)
		return h;
	h->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (h->ifd == -1) {
		log_msg(LOGL_WARN, "net",
			"event=watch-fallback reason=inotify-init "
			"error=\"%s\" note=\"every folder is polled\"",
			strerror(errno));
		return h;
	}
	h->iev = xevent_new(base, h->ifd, EV_READ | EV_PERSIST, inotify_cb, h);
	event_add(h->iev, NULL);
	return h;
}

void
watch_hub_free(struct watch_hub **hp)
{
	struct watch_hub *h = *hp;

	if (h == NULL)
		return;
	while (!LIST_EMPTY(&h->folders))
		folder_free(LIST_FIRST(&h->folders));
	if (h->iev != NULL)
		event_free(h->iev);
	if (h->ifd != -1)
		close(h->ifd);
	free(h->buckets);
	free(h);
	*hp = NULL;
}

struct watch *
watch_add(struct watch_hub *h, const char *folder_dir, watch_fn *cb,
	  void *arg)
{
	struct folder *f = folder_find(h, folder_dir);
	struct watch *w = xcalloc(1, sizeof(*w));

	if (f == NULL)
		f = folder_new(h, folder_dir);
	w->f = f;
	w->cb = cb;
	w->arg = arg;
	LIST_INSERT_HEAD(&f->watchers, w, link);
	return w;
}

void
watch_del(struct watch **wp)
{
	struct watch *w = *wp;
	struct folder *f;

	if (w == NULL)
		return;
	f = w->f;
	if (f->cursor == w)
		f->cursor = LIST_NEXT(w, link);
	LIST_REMOVE(w, link);
	free(w);
	*wp = NULL;
	if (LIST_EMPTY(&f->watchers) && f->busy == 0)
		folder_free(f);
}

void
watch_hub_touch(struct watch_hub *h, const char *folder_dir)
{
	struct folder *f = folder_find(h, folder_dir);

	if (f != NULL)
		folder_schedule(f, 0);
}

bool
watch_is_polled(const struct watch *w)
{
	return w->f->poll != NULL;
}

unsigned
watch_hub_folders(const struct watch_hub *h)
{
	return h->nfolders;
}

void
watch_hub_fail_inotify(struct watch_hub *h, int err)
{
	h->fail_err = err;
}

void
watch_hub_assume_shared(struct watch_hub *h, bool on)
{
	h->all_shared = on;
}
