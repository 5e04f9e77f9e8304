/*
 * fsops - the file system calls store/ makes, behind one seam so that tests
 * can fail the Nth call with an errno (ENOSPC, EIO) and check that nothing
 * half-written becomes visible.  Each wrapper retries EINTR and returns what
 * the call returns; fsops_write_all() writes everything or fails.
 *
 * Fault injection: fsops_inject(FSOP_WRITE, 3, ENOSPC) fails the third
 * write from now on (and, with sticky, every one after it).  owld also reads
 * OWLPOST_FAULT="write:3:ENOSPC[:sticky]" at start for integration tests,
 * several specs separated by ','.  Two errnames are not errors: KILL
 * stands for a crash (the process sends itself SIGKILL instead of making
 * the call, so tests reach each crash state of docs/MAILDIR.md and
 * docs/QUEUE.md deterministically), and DELAY makes the call after one
 * second (a slow disk, to show what waits for it).
 *
 * Two classes of files are counted apart: mail (messages, the expunge
 * record, mbox files: the default) and the UID index.  A thread sets the
 * class around an index write with fsops_set_class(); a spec whose op is
 * prefixed "index." ("index.rename:1:KILL") counts only the index's calls,
 * so adding the index did not move the numbers of the mail's faults.
 */
#ifndef OWL_FSOPS_H
#define OWL_FSOPS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum fsop { FSOP_OPEN, FSOP_WRITE, FSOP_FSYNC, FSOP_LINK, FSOP_RENAME,
	    FSOP_MKDIR, FSOP_UNLINK, FSOP_COUNT };

enum fsops_class { FSOPS_MAIL, FSOPS_INDEX, FSOPS_CLASSES };

#define FSOPS_KILL (-1)		/* err of fsops_inject: a crash */
#define FSOPS_DELAY (-2)	/* err of fsops_inject: a slow call */

void fsops_inject(enum fsop op, unsigned long nth, int err, bool sticky);
void fsops_inject_class(enum fsops_class cls, enum fsop op,
			unsigned long nth, int err, bool sticky);
/* The class this thread's calls count in, until set again. */
void fsops_set_class(enum fsops_class cls);
void fsops_clear(void);
/* Parses "op:N:ERRNAME[:sticky][,...]"; -1 if it cannot. */
int fsops_inject_spec(const char *spec);

int fsops_open(const char *path, int flags, mode_t mode);
int fsops_write_all(int fd, const void *data, size_t len);
/*
 * Writes a message text: len octets of data, or when data is NULL, of the
 * file in from offset 0 (a spool file; copied in the kernel where it can
 * be, with 64 KiB of memory where not).  A write fault fails it as a whole.
 */
int fsops_write_text(int fd, const char *data, int in, size_t len);
/* The same from offset off of the file in (one of several messages
 * spooled in one file: an IMAP MULTIAPPEND). */
int fsops_write_text_at(int fd, const char *data, int in, off_t off,
			size_t len);
/*
 * Reads len octets of the file in from offset off in pieces of at most
 * 64 KiB (pread, one buffer) and hands each to fn; stops at fn's -1.  A
 * file shorter than len fails with EIO.
 */
int fsops_read_pieces(int in, off_t off, size_t len,
		      int (*fn)(void *arg, const char *p, size_t n),
		      void *arg);
int fsops_fsync(int fd);
int fsops_close(int fd);
int fsops_link(const char *from, const char *to);
int fsops_rename(const char *from, const char *to);
/* unlink(2); what the POP3 expunge removes goes through here. */
int fsops_unlink(const char *path);
/* mkdir that treats EEXIST as success. */
int fsops_mkdir(const char *path, mode_t mode);
/* Opens a directory and fsyncs it. */
int fsops_fsync_dir(const char *path);
/*
 * Puts data in place as path, durably: written to tmp (created 0600),
 * fsync'ed, closed, renamed over path, then dir (path's directory)
 * fsync'ed.  0: done.  -1: path untouched, tmp removed.  -2: path in place
 * but its directory not synced, so maybe not durable.  On failure errno is
 * the failing call's and *call_r names it ("open", "write", "rename",
 * "fsync").  Each step goes through the calls above, so faults reach it.
 */
int fsops_replace(const char *tmp, const char *path, const char *dir,
		  const void *data, size_t len, const char **call_r);

#endif
