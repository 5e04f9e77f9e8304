/*
 * users - the users file: one "user@domain:{SCHEME}hash" line per user,
 * '#' comments allowed, like passwd(5).  Schemes: {CRYPT} (any crypt(3)
 * hash; owlctl writes yescrypt "$y$", or SHA-512-crypt "$6$" where yescrypt
 * is missing).  Names are lower case and must pass store_user_valid(); a
 * line that does not is skipped with a warning, never used as a path.
 *
 * The daemon keeps the file in memory (sorted, bsearch) and re-reads it when
 * its inode, size or mtime changes, so "owlctl user add" takes effect for
 * the next RCPT without a restart.  Edits (owlctl) take an flock on
 * FILE.lock, write FILE.tmp, fsync, rename over FILE and fsync the dir.
 */
#ifndef OWL_USERS_H
#define OWL_USERS_H

#include <stdbool.h>
#include <stddef.h>

#define USERS_LINE_MAX 1024		/* a longer line is skipped */
#define USERS_FILE_MAX (64 << 20)	/* a bigger file is not read */

struct users;

struct users *users_new(const char *path);
void users_free(struct users **up);
/* Re-reads the file if it changed; -1 (old table kept) if unreadable. */
int users_refresh(struct users *u, const char **error_r);
/*
 * Parses the text of a users file (len octets; what names it in warnings)
 * into u's table, replacing it.  A line that is not a user, too long, with
 * a NUL or an invalid name is skipped with a warning; of a name listed
 * twice the first line counts.  users_refresh() calls it on the file.
 */
void users_parse(struct users *u, const char *data, size_t len,
		 const char *what);
/* Lookup of a lower-case user@domain; the hash or NULL. */
const char *users_lookup(const struct users *u, const char *name);
size_t users_count(const struct users *u);
/* The i-th user name in sorted order. */
const char *users_name(const struct users *u, size_t i);

/* Hashes a password for storage: "{CRYPT}$y$..." into out. */
int users_hash_password(const char *password, char *out, size_t size,
			const char **error_r);
/*
 * A hash no password matches, made like owlctl's, for checking logins of
 * unknown users at the same cost; made on first use (a worker thread),
 * not at start-up.  Thread-safe.
 */
const char *users_dummy_hash(void);
/* Checks a password against a stored "{SCHEME}hash"; thread-safe. */
bool users_verify(const char *stored, const char *password);

/* Lower-cases name into out and validates it; -1 if not a valid user. */
int users_normalize(const char *name, char *out, size_t size);

enum users_edit { USERS_ADD, USERS_DEL, USERS_PASSWD };
/* Edits the file atomically; -1 with a message in err. */
int users_file_edit(const char *path, enum users_edit op, const char *name,
		    const char *hash, char *err, size_t errsz);

#endif
