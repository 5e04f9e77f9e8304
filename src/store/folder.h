/*
 * folder - a user's folders in the Maildir++ layout, for IMAP: names,
 * their directories, list, create, delete, rename, subscriptions and
 * special-use roles (RFC 6154).  Included by store.h (include that one):
 * it uses struct store and enum store_res.
 *
 * Names are as IMAP shows them once decoded from modified UTF-7: UTF-8,
 * '/' separating levels; "INBOX" in any case is the user's Maildir itself
 * and always reported as "INBOX".  Folder "A/B" is the Maildir
 * ROOT/.A.B (tmp/ new/ cur/ and an empty maildirfolder file); a '.' or
 * '%' of a name is %2E, %25 on disk, and a name starting "owlpost-" has
 * its first octet escaped (%6F), so that no folder is ever named like the
 * store's own files (.owlpost-uidlist, .owlpost-lock, and the hidden
 * .owlpost-new.* and .owlpost-deleted.* directories below).  Folders
 * under INBOX ("INBOX/x") are refused: Maildir++ keeps INBOX's children
 * at the top level, where "x" is.  See docs/MAILDIR.md "Folders".
 *
 * Failures: STORE_PERM (a bad name, with the reason in err; INBOX where
 * it cannot be; mbox, which has INBOX only), STORE_EXISTS, STORE_NOTFOUND,
 * STORE_LIMIT (mailbox.max_folders), STORE_TEMP and STORE_NOSPACE (a
 * system call failed; err names it, the path and errno).  The limit
 * max_folders is a parameter: owld passes conf mailbox_max_folders.
 */
#ifndef OWL_STORE_FOLDER_H
#define OWL_STORE_FOLDER_H

#ifndef OWL_STORE_H
#error "include store.h, which includes folder.h"
#endif

#define STORE_FOLDER_SEP '/'
#define STORE_FOLDER_MAX_LEVELS 16
/* octets of a folder's directory name, its leading '.' included */
#define STORE_FOLDER_MAX_DISK 200

/* Special-use roles (RFC 6154), as bits. */
enum store_special {
	STORE_SU_SENT = 1 << 0,
	STORE_SU_DRAFTS = 1 << 1,
	STORE_SU_TRASH = 1 << 2,
	STORE_SU_JUNK = 1 << 3,
	STORE_SU_ARCHIVE = 1 << 4,
	STORE_SU_ALL = 1 << 5,
	STORE_SU_FLAGGED = 1 << 6,
};
#define STORE_SU_MASK 0x7fu

/* The IMAP attribute of one role bit ("\\Sent"), NULL if not one. */
const char *store_folder_special_name(unsigned bit);
/* The role bit of an IMAP attribute ("\\sent" in any case), or 0. */
unsigned store_folder_special_parse(const char *attr);

/*
 * NULL if name is a valid folder name other than INBOX, else why not
 * ("empty level", "too long", ...): a static text.
 */
const char *store_folder_name_check(const char *name);
/* True if name is INBOX, in any case. */
bool store_folder_is_inbox(const char *name);
/*
 * The on-disk directory name of a valid folder (".A.B"), into out; -1
 * with errno EINVAL (not valid, or INBOX) or ENAMETOOLONG (size).  Pure.
 */
int store_folder_encode(const char *name, char *out, size_t size);
/*
 * The folder name of a directory name; -1 (EINVAL) unless disk is exactly
 * what store_folder_encode gives for some valid name (ENAMETOOLONG:
 * size).  Pure.
 */
int store_folder_decode(const char *disk, char *out, size_t size);

/*
 * The directory of a user's folder (INBOX: the Maildir root; mbox: INBOX
 * only, the mbox file); -1 with errno EINVAL (bad user or name) or
 * ENAMETOOLONG.  The folder need not exist.
 */
int store_folder_dir(const struct store *st, const char *user,
		     const char *folder, char *out, size_t size);

struct store_folder {
	char *name;		/* "INBOX", or a valid folder name */
	unsigned special_use;	/* enum store_special bits */
	bool exists;		/* false: \NonExistent (see below) */
	bool subscribed;
	bool children;		/* some listed name is below it */
};

/*
 * Every folder of user into *list_r (*n_r of them; free with
 * store_folder_list_free): INBOX first, then by name in octet order.
 * Names that do not exist are listed too, with exists false: parents of
 * existing folders (only ".A.B" exists: "A", with children) and
 * subscribed names.  The first list of a Maildir creates Sent, Drafts,
 * Trash, Junk and Archive with their roles (a name that exists without a
 * role gets it; a role that some folder has is not given twice); later
 * lists do not, so a user may delete them.  At most max_folders folders
 * on disk are listed (the first the directory gives; more are logged).
 * mbox: INBOX only.
 */
enum store_res store_folder_list(struct store *st, const char *user,
				 unsigned max_folders,
				 struct store_folder **list_r, size_t *n_r,
				 char *err, size_t errsz);
void store_folder_list_free(struct store_folder **listp, size_t n);

/*
 * Creates folder name, empty, with the roles special_use (0: none);
 * missing parents are not made.  STORE_LIMIT if the user has max_folders
 * folders already.  Durable when STORE_OK.
 */
enum store_res store_folder_create(struct store *st, const char *user,
				   const char *name, unsigned special_use,
				   unsigned max_folders, char *err,
				   size_t errsz);
/*
 * Deletes folder name and its messages; its children stay (RFC 9051
 * 6.3.4).  The folder is first renamed to a hidden name, so it is gone
 * at once, and removed after; what a crash leaves there is removed by
 * the next list or delete.
 */
enum store_res store_folder_delete(struct store *st, const char *user,
				   const char *name, char *err, size_t errsz);
/*
 * Renames folder from, and every folder below it, to to.  STORE_NOTFOUND:
 * from does not exist; STORE_EXISTS: to (or a folder a child would
 * become) exists, or to is INBOX; STORE_PERM: from is INBOX (moving its
 * messages is how INBOX is renamed), to is below from or a parent of it
 * that does not exist, or a child's new name would not be valid (too deep
 * or too long); then nothing moved.  Subscriptions are not changed.
 */
enum store_res store_folder_rename(struct store *st, const char *user,
				   const char *from, const char *to,
				   char *err, size_t errsz);
/*
 * Subscribes (on) or unsubscribes name, which need not exist (RFC 9051);
 * unsubscribing a name not subscribed is STORE_OK.  At most max_folders
 * subscriptions (STORE_LIMIT).  Kept in ROOT/subscriptions, one name a
 * line, replaced durably.  mbox: INBOX only, always subscribed.
 */
enum store_res store_folder_subscribe(struct store *st, const char *user,
				      const char *name, bool on,
				      unsigned max_folders, char *err,
				      size_t errsz);

#endif
