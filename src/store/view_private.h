/*
 * view_private - what view.c and view_change.c share: the view itself and
 * the scan and folder helpers the changes use.
 */
#ifndef OWL_VIEW_PRIVATE_H
#define OWL_VIEW_PRIVATE_H

#include <time.h>

#include "store_private.h"

#define VIEW_STAMPS 4		/* new/, cur/, the index, its log */

struct view_stamp {
	struct timespec mtime;
	ino_t ino;
	off_t size;
};

struct store_view {
	struct store *st;
	struct store_box *box;	/* the messages the session knows */
	bool shared;		/* IMAP: synced, changed; else a snapshot */
	char *dir;		/* the folder's directory */
	char *user;		/* whose (shared views), or NULL */
	/* at the last scan; [VIEW_STAMPS].mtime: when they were taken */
	struct view_stamp stamps[VIEW_STAMPS + 1];
	bool claim_recent;	/* IMAP SELECT: takes \Recent's claim */
	bool local;		/* on a filesystem of one clock
				   (maildir_fs_local) */
	bool suspect;		/* cur/ was last known in a clock tick
				   that had not passed: list it once its
				   mtime is settled (view.c) */
	uint32_t recent_lo, recent_hi; /* UIDs \Recent in this view since
					  the last open or sync: claimed,
					  or (no claim) unclaimed yet */
};

/* The directory of user's folder (folder.h); -1 with errno (ENOENT: no
 * such folder, EINVAL: a bad name). */
int view_folder_dir(struct store *st, const char *user, const char *folder,
		    char *out, size_t size);
/* Scans v's folder under the index lock, running edit: *bp in UID order,
 * only messages with a UID. */
enum store_res view_scan(struct store_view *v,
			 const struct store_box_edit *edit,
			 struct store_box **bp, char *err, size_t errsz);
void view_take_stamps(struct store_view *v, struct view_stamp *out);
/* The position of uid in b (in UID order): true if it is there. */
bool box_find_uid(const struct store_box *b, uint32_t uid, size_t *pos_r);

static inline bool
view_gone(const struct store_box *b, size_t i)
{
	return (b->msgs[i].bits & STORE_MSG_GONE) != 0;
}

#endif
