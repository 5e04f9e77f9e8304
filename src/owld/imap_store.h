/*
 * imap_store - the IMAP core's mailbox table (proto/imap_mbox.h) over the
 * mail store (store/store.h, folder.h) for one logged-in user: folders,
 * STATUS, the selected folder as a shared view, message text, APPEND
 * through a spool file.  Its calls block (file I/O, fsync): owld makes
 * them from the worker pool only, one session's at a time.
 *
 * Store results map one to one onto enum imap_mres, with the store's
 * reason in err.  What it keeps between calls is small: the user's name,
 * the view (20 octets a message, store.h), and while an APPEND streams,
 * one open spool file.  Nothing here aborts but a failed allocation.
 */
#ifndef OWL_OWLD_IMAP_STORE_H
#define OWL_OWLD_IMAP_STORE_H

#include <stdint.h>

#include "../proto/imap_mbox.h"

struct store;
struct imap_store;

/* The table; its ctx is a struct imap_store *. */
extern const struct imap_mbox_ops imap_store_ops;

/*
 * user's mail in st: folders up to max_folders (mailbox.max_folders),
 * APPEND spooled in spool_dir (the data directory) up to append_max
 * octets.
 */
struct imap_store *imap_store_new(struct store *st, const char *user,
				  unsigned max_folders, const char *spool_dir,
				  uint64_t append_max);
/* Closes the view and any spool; NULL is fine. */
void imap_store_free(struct imap_store **msp);
/* The selected folder's directory (to watch for changes), or NULL. */
const char *imap_store_dir(const struct imap_store *ms);

#endif
