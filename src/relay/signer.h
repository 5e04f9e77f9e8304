/*
 * signer - DKIM signing of what owld sends: mail from authenticated users
 * (submission) and owld's own bounces.  The keys are the files
 * DATA_DIR/dkim/DOMAIN.SELECTOR.key that "owlctl dkim keygen" writes; a
 * message is signed when a key for the domain of its From field is
 * loaded (dkim.sign = on).  A domain with several key files is signed
 * with the one dkim.selector names, and with none if that key is empty
 * (a warning at load says so): a new key must not be used before its
 * record is published.
 *
 * The keys are loaded at start and by a reload; the set in use is shared
 * by the worker threads that sign, each holding a reference while it
 * does, so a reload never frees a key in use.  That set is the one state
 * of this module (the bounce hook has no other way to it).  Signing never
 * stops a message: a failure is logged and the message goes unsigned.
 */
#ifndef OWL_SIGNER_H
#define OWL_SIGNER_H

#include <stddef.h>
#include <stdint.h>

#include "../lib/buf.h"
#include "../lib/conf.h"

/*
 * Loads the keys of DATA_DIR/dkim (each logged, and each file it skips
 * with why) and puts them in use; the last set stays if the directory
 * cannot be read.  Returns the number of domains that will be signed.
 */
size_t signer_load(const struct conf *c);
/* Drops the set in use (at exit). */
void signer_unload(void);

/*
 * Signs a message stored with LF line ends: the text is data, or the file
 * fd from offset 0 when data is NULL; len octets either way.  1: field
 * holds the DKIM-Signature field, to be inserted at *ins_r (after a
 * leading Return-Path); 0: not signed (no key for the From domain,
 * signing off), why says so; -1: signing failed, why says why.  Blocking
 * work (reads fd, hashes the message): call it on a worker thread.
 */
int signer_sign(const char *data, int fd, size_t len, int64_t now,
		struct buf *field, size_t *ins_r, char *why, size_t whysz);
/*
 * The text of src (len octets, from fd when src is NULL) with field
 * inserted at ins, written to the file newfd; -1 with errno.
 */
int signer_copy_fd(int fd, size_t len, size_t ins, const struct buf *field,
		   int newfd);
/* bounce.h's hook: signs the bounce at b->data + start, if it can. */
void signer_bounce(struct buf *b, size_t start);

#endif
