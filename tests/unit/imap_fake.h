/*
 * imap_fake - an in-memory store behind struct imap_mbox_ops
 * (proto/imap_mbox.h), for the IMAP core's unit tests: give the core
 * imap_fake_ops and the fake as its context (imap_server_set_mbox), then
 * drive the core; the helpers below play the other side (deliveries and
 * other sessions) and let a test make a call fail.
 *
 * Folders.  imap_fake_new() makes INBOX and Sent, Drafts, Trash, Junk,
 * Archive with their special-use roles, all empty, none subscribed.
 * UIDVALIDITY is 1 for INBOX and counts up for each folder made after
 * (Sent 2, ..., Archive 6, the next one created 7); HIGHESTMODSEQ starts
 * at 1 and, as in the real store (src/store/uidlist.c), every delivery,
 * flag change and expunge raises it by one (QRESYNC relies on an expunge
 * raising it).  Names follow store/folder.h: UTF-8, '/' between levels, no
 * empty level, no '*' or '%', no control character, nothing under INBOX;
 * a bad name is IMAP_M_PERM with the reason.  CREATE makes no parents;
 * list gives INBOX first, then every name in octet order, with the
 * parents of existing folders and the subscribed names that do not exist
 * listed with exists false.  delete keeps the children and the
 * subscription; rename moves the children too and keeps subscriptions.
 *
 * Messages.  Each has a UID, a modseq (the folder's HIGHESTMODSEQ after
 * its last change), flags, keywords ("kw kw", matched without case, kept
 * as first written), an internal date (imap_fake_set_now(), default
 * 2026-01-01T00:00:00Z = 1767225600, for deliveries and appends with
 * date 0) and its text with LF line ends; its size is that text's with
 * CRLF.  Text given by a test is taken as it is (write it with LF).
 *
 * The view.  select first closes any view (a failed select leaves none),
 * then copies the folder's messages; the view then changes
 * only by this session's own calls and by sync:
 *   - sync reports messages gone from the folder (expunged by anyone,
 *     this session included) as positions in ascending order, each valid
 *     after the ones before were removed (RFC 9051's "* 3 EXPUNGE * 3
 *     EXPUNGE"), unless keep_expunged: then they stay, msg() says
 *     expunged, and a later sync without it reports them;
 *   - then the positions (after the expunges) whose modseq in the folder
 *     differs from the view's copy (others' flag changes), refreshed;
 *   - then new messages (UIDs at or above the view's UIDNEXT) appended.
 * store and expunge act on the folder and show in the view at once
 * (store: the new flags; expunge: msg().expunged, removed at the next
 * sync).  store leaves alone, and does not report, a message already
 * gone; with UNCHANGEDSINCE a message whose modseq is above it is left
 * and marked in modified[]; a store that changes nothing bumps no modseq.
 * copy and move give the new UIDs in the order asked; a message gone in
 * the meantime fails the whole call with IMAP_M_EXPUNGED; move removes
 * the sources as expunge does.  open of a message gone is
 * IMAP_M_EXPUNGED.  A deleted selected folder leaves the view detached:
 * sync, store, expunge and copy say IMAP_M_NOTFOUND.
 *
 * \Recent.  A folder keeps the first UID no session has claimed.  A
 * read-write select, and each sync of it, claims every unclaimed message:
 * recent_lo/recent_hi are the UIDs [lo, hi) that call claimed (0, 0:
 * none).  A read-only select (EXAMINE) claims nothing, but its
 * recent_lo/recent_hi are the unclaimed UIDs it learnt of (at the select,
 * then the new ones of each sync), as the store's views without the
 * claim.  STATUS RECENT counts the unclaimed ones.
 *
 * APPEND.  append_begin(size) .. append_data(CRLF text), once per
 * message (MULTIAPPEND), .. append_end(req, n): each message's octets
 * must add up to its size and n must be the messages begun (else
 * IMAP_M_PERM, all dropped), CRLF is stored as LF (a bare CR or LF stays
 * as it is), the folder must exist (IMAP_M_NOTFOUND); date 0 is "now".
 *
 * Failures.  imap_fake_fail(f, op, r, err) makes the next call of op
 * return r with err (read: return -1; r is ignored), once; the call does
 * nothing else.  imap_fake_calls() counts the calls of each op, failed
 * ones included, so that a test can check the core never called the
 * store (say, for a BAD).
 *
 * Every helper returns -1 (or 0 for a UID) if its folder or message is
 * not there; the fake aborts on a position out of the view (a bug of the
 * core under test, which cmocka then reports).
 */
#ifndef OWL_TESTS_IMAP_FAKE_H
#define OWL_TESTS_IMAP_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/imap_mbox.h"

#define IMAP_FAKE_NOW 1767225600	/* 2026-01-01T00:00:00Z */

enum imap_fake_op {
	IMAP_FAKE_LIST,
	IMAP_FAKE_CREATE,
	IMAP_FAKE_DELETE,
	IMAP_FAKE_RENAME,
	IMAP_FAKE_SUBSCRIBE,
	IMAP_FAKE_STATUS,
	IMAP_FAKE_SELECT,
	IMAP_FAKE_SYNC,
	IMAP_FAKE_STORE,
	IMAP_FAKE_EXPUNGE,
	IMAP_FAKE_COPY,
	IMAP_FAKE_OPEN,
	IMAP_FAKE_READ,
	IMAP_FAKE_APPEND_BEGIN,
	IMAP_FAKE_APPEND_DATA,
	IMAP_FAKE_APPEND_END,
	IMAP_FAKE_OPS
};

struct imap_fake;

/* The table to give the core, with the fake as its ctx. */
extern const struct imap_mbox_ops imap_fake_ops;

struct imap_fake *imap_fake_new(void);
void imap_fake_free(struct imap_fake **fp);

/* --- set up, as another session or the delivery agent would --------- */

/* Creates a folder (no failure injection, no call counted). */
int imap_fake_create(struct imap_fake *f, const char *name,
		     unsigned special_use);
int imap_fake_subscribe(struct imap_fake *f, const char *name, bool on);
void imap_fake_set_now(struct imap_fake *f, int64_t now);
/* A new message at the end of folder; its UID, 0 if no such folder. */
uint32_t imap_fake_deliver(struct imap_fake *f, const char *folder,
			   const char *text);
uint32_t imap_fake_deliver_full(struct imap_fake *f, const char *folder,
				const char *text, unsigned flags,
				const char *keywords, int64_t date);
/* Another session's STORE on uid (modseq bumped if anything changed). */
int imap_fake_other_store(struct imap_fake *f, const char *folder,
			  uint32_t uid, enum imap_store_op op, unsigned flags,
			  const char *keywords);
/* Another session's EXPUNGE of uid. */
int imap_fake_other_expunge(struct imap_fake *f, const char *folder,
			    uint32_t uid);
/* The folder's index rebuilt: a new UIDVALIDITY (the view's next sync
 * says IMAP_M_PERM "UIDVALIDITY changed"). */
int imap_fake_set_uidvalidity(struct imap_fake *f, const char *folder,
			      uint32_t uidvalidity);

/* --- failure injection and inspection -------------------------------- */

void imap_fake_fail(struct imap_fake *f, enum imap_fake_op op,
		    enum imap_mres r, const char *err);
unsigned imap_fake_calls(const struct imap_fake *f, enum imap_fake_op op);

bool imap_fake_exists(const struct imap_fake *f, const char *name);
bool imap_fake_subscribed(const struct imap_fake *f, const char *name);
unsigned imap_fake_special_use(const struct imap_fake *f, const char *name);
/* Messages in the folder (not the view); -1 if no such folder. */
long imap_fake_count(const struct imap_fake *f, const char *folder);
/* A message of the folder by UID, as msg() would give it (keywords
 * valid until the message changes); -1 if not there. */
int imap_fake_msg(const struct imap_fake *f, const char *folder,
		  uint32_t uid, struct imap_msg *out);
/* Its text (LF line ends), or NULL. */
const char *imap_fake_text(const struct imap_fake *f, const char *folder,
			   uint32_t uid);
/* The selected folder's name, or NULL (none, or detached). */
const char *imap_fake_selected(const struct imap_fake *f);
/* An append in progress (begun, not ended nor aborted). */
bool imap_fake_appending(const struct imap_fake *f);
/* Text handles open (each open not yet closed). */
unsigned imap_fake_open_handles(const struct imap_fake *f);

#endif
