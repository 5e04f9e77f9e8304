/*
 * watch - change events for Maildir folders: a session watching a folder
 * directory is called back when something in it may have changed (a
 * delivery, a flag change or an expunge by another session, process or
 * host), and then syncs its view (cheap when nothing changed).  net/ owns
 * the event loop, so the watcher lives here; it knows folders only as
 * directory paths and the three names a change shows in: DIR/new, DIR/cur
 * and the UID index DIR/.owlpost-uidlist (docs/MAILDIR.md).
 *
 * One hub per process; watched folders are bounded by sessions (a session
 * watches the folder it has selected), each costing one record and three
 * inotify watches.  Sessions on one folder (same path string) share
 * one record: one set of inotify watches (DIR, DIR/new, DIR/cur) or one
 * poll timer, whatever the number of sessions.  Events are coalesced: the
 * first relevant event starts a WATCH_COALESCE_MS timer and each watcher
 * is called once when it runs.  An inotify queue overflow calls every
 * watcher.  Callbacks run from the event loop only, never from inside
 * watch_add(), watch_del() or watch_hub_touch().
 *
 * Polling: where inotify cannot see other hosts' changes (NFS, CIFS/SMB,
 * FUSE such as GlusterFS, Ceph, AFS, cluster filesystems; told by statfs),
 * with mode WATCH_POLL, or where inotify fails (no inotify instance, the
 * per-user watch limit fs.inotify.max_user_watches reached, a directory
 * missing), a folder is polled every poll_interval_ms: DIR/new, DIR/cur
 * and DIR/.owlpost-uidlist are opened and fstat'ed (an open revalidates
 * NFS's attribute cache, a stat may not) and any difference in inode,
 * size, mtime or ctime (nanoseconds) calls the watchers, and so does the
 * first poll after a recent mtime got old (two changes in one clock tick
 * leave one mtime).  On a shared filesystem the folder is polled and, if
 * inotify works there, also watched (local changes at once, other hosts'
 * within the interval).  Failures never fail watch_add(): the folder
 * falls back to polling (component net, event=watch-fallback: the watch
 * limit logged once, any other failure once per folder) and tries inotify
 * again whenever its poll sees a change.
 */
#ifndef OWL_WATCH_H
#define OWL_WATCH_H

#include <stdbool.h>

#define WATCH_COALESCE_MS 20	/* from the first event to the callbacks */

struct event_base;

enum watch_mode {
	WATCH_AUTO,	/* inotify on local filesystems, else poll */
	WATCH_POLL,	/* always poll (a shared tree of unknown type) */
};

struct wpool;

struct watch_conf {
	enum watch_mode mode;		/* mailbox.watch */
	unsigned poll_interval_ms;	/* mailbox.poll_interval, > 0 */
	/*
	 * Where the polls' open+fstat run (owld's pool, so that a slow NFS
	 * server never holds the loop); NULL: on the loop.  A folder has
	 * one poll in flight at most (a poll due meanwhile is skipped); a
	 * folder freed meanwhile leaves its job to free itself when it
	 * completes, so the pool may outlive the hub or die first.
	 */
	struct wpool *pool;
};

struct watch_hub;
struct watch;

typedef void watch_fn(void *arg);

/*
 * A hub on base.  Never fails for want of inotify (then every folder is
 * polled, logged once); NULL with *error_r only for a bad conf.  Make it
 * after privileges are dropped: inotify charges its watches to the user
 * that made the instance and checks access when a watch is added.
 */
struct watch_hub *watch_hub_new(struct event_base *base,
				const struct watch_conf *wc,
				const char **error_r);
/*
 * Frees the hub and any watch left (owld deletes its sessions' watches
 * first); a watch pointer is invalid after this.  Not from a callback.
 */
void watch_hub_free(struct watch_hub **hp);

/*
 * Watches the folder directory folder_dir (a Maildir: DIR/new, DIR/cur):
 * cb(arg) runs after a change may have happened.  Add the watch before the
 * session's first sync, so that nothing between the two is missed.  Never
 * NULL; a directory that does not exist (yet) is polled.
 */
struct watch *watch_add(struct watch_hub *h, const char *folder_dir,
			watch_fn *cb, void *arg);
/*
 * Stops a watch and clears *wp (NULL is fine).  Safe from any callback,
 * its own included: a deleted watcher is not called again.
 */
void watch_del(struct watch **wp);

/*
 * This process changed folder_dir (a delivery batch is durable, flags
 * stored, messages expunged): its watchers are called at the next loop
 * turn, without waiting for the kernel or the poll (inotify would tell
 * within milliseconds; a polled folder only at its next poll).  Same path
 * string as given to watch_add(), trailing slashes aside; a folder nobody
 * watches is ignored.  From a callback too: its watchers run again.
 */
void watch_hub_touch(struct watch_hub *h, const char *folder_dir);

/* True if w's folder is polled (tests, and owlctl-style status). */
bool watch_is_polled(const struct watch *w);
/* Folders watched now (tests). */
unsigned watch_hub_folders(const struct watch_hub *h);
/*
 * Tests: every later inotify_add_watch() of h fails with err (ENOSPC
 * simulates the per-user watch limit); 0 ends it.
 */
void watch_hub_fail_inotify(struct watch_hub *h, int err);
/* Tests: folders set up later count as on a shared filesystem (NFS). */
void watch_hub_assume_shared(struct watch_hub *h, bool on);

#endif
