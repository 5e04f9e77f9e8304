/*
 * users - the users file: one "user@domain:{SCHEME}hash" line per user,
 * '#' comments allowed, like passwd(5).  Schemes: {CRYPT} (any crypt(3)
 * hash; owlctl writes yescrypt "$y$", or SHA-512-crypt "$6$" where yescrypt
 * is missing).  Names are lower case and must pass addr_user_valid(); a
 * line that does not is skipped with a warning, never used as a path.
 *
 * The daemon keeps the file in memory and re-reads it when its inode, size
 * or mtime changes, so "owlctl user add" takes effect for the next RCPT
 * without a restart.  The file is a table (table.h): a missing, unreadable,
 * empty, binary or garbage file keeps the last good copy in use and is
 * logged; until a first good copy is loaded users_refresh() fails and
 * callers answer 4xx, never "unknown user".  Edits (owlctl) take an flock
 * on FILE.lock, write FILE.tmp, fsync, rename over FILE and fsync the dir.
 */
#ifndef OWL_USERS_H
#define OWL_USERS_H

#include <stdbool.h>
#include <stddef.h>

#include "table.h"

struct users;

/*
 * Parses a users file held in memory (for tests and fuzzing): see
 * table_parse() for the result and what makes a file refused.
 */
int users_parse(const char *data, size_t len, struct table_entry **v_r,
		size_t *n_r, struct table_report *rep);

struct users *users_new(const char *path);
void users_free(struct users **up);
/*
 * Re-reads the file if it changed.  0: a good copy is in use (the last
 * good one if this re-read failed; logged).  -1: no good copy was ever
 * loaded, *error_r says why.
 */
int users_refresh(struct users *u, const char **error_r);
/* True once a good copy of the file was loaded. */
bool users_ready(const struct users *u);
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
