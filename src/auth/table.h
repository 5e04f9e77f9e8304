/*
 * table - the line files of auth/ (users, aliases): "key:value" lines,
 * '#' comments and blank lines, like passwd(5) and aliases(5).
 *
 * table_parse() reads one from memory: pure, no I/O, fuzzed through
 * tests/fuzz/fuzz_aliases.c.  A bad line is skipped and reported with its
 * number and why; the whole file is refused ("garbage") when
 *   - it holds a NUL byte (a binary file, a half-written editor save),
 *   - it is empty (0 bytes: an editor truncating in place, "> file"); a
 *     file meant to hold no entries says so with a comment line, and
 *     table_file_edit() writes one when it removes the last entry,
 *   - it has lines that are not comments but none is valid, or
 *   - more of its lines are bad than good,
 * so that a wrong file never turns every lookup into "unknown".
 *
 * struct table keeps the last good copy of a file in memory (sorted,
 * bsearch) and re-reads the file when its inode, size or mtime changes.  A
 * failed re-read (missing, unreadable, too large, garbage) keeps the last
 * good copy and is logged once per change of the file; the first good
 * copy, and each later one, is logged with its skipped lines.
 */
#ifndef OWL_TABLE_H
#define OWL_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#define TABLE_LINE_MAX 8192		/* longer lines are bad lines */
#define TABLE_FILE_MAX (64u << 20)	/* larger files are refused */
#define TABLE_REPORT_MAX 20		/* skipped lines named in a report */

struct table_entry {
	char *key;
	char *value;
	size_t line;			/* where it was in the file */
};

struct table_report {
	size_t lines;			/* lines in the file */
	size_t good, bad;		/* entries kept, lines skipped */
	size_t skipped_line[TABLE_REPORT_MAX];
	const char *skipped_why[TABLE_REPORT_MAX];
	const char *refused;		/* NULL, or why the file was refused */
};

/*
 * Checks one line's key and value (NUL-terminated, blanks around them
 * removed; either may be rewritten in place, e.g. lower-cased).  NULL if
 * the line is good, else a static text saying why it is not.
 */
typedef const char *table_check_fn(char *key, char *value);

/*
 * Parses len bytes of data.  0: *v_r holds *n_r entries sorted by key
 * (free with table_entries_free; a later duplicate of a key is a bad
 * line).  -1: the file is refused, rep->refused says why, nothing is
 * allocated.  rep is filled either way.
 */
int table_parse(const char *data, size_t len, table_check_fn *check,
		struct table_entry **v_r, size_t *n_r,
		struct table_report *rep);
void table_entries_free(struct table_entry *v, size_t n);

/*
 * Reads a whole file (at most TABLE_FILE_MAX bytes) into *data_r (freed by
 * the caller, NUL-terminated).  -1 with errno set (EFBIG if too large).
 */
int table_read_file(const char *path, char **data_r, size_t *len_r);

struct table;

/*
 * A file's table, not read yet.  what names it in the log ("users").  An
 * optional file that does not exist is an empty good copy; a required one
 * has no good copy until it exists and parses.
 */
struct table *table_new(const char *path, const char *what,
			table_check_fn *check, bool optional);
void table_free(struct table **tp);
/*
 * Re-reads the file if it changed (one stat when it did not).  0: a good
 * copy is in use (maybe older than the file: the re-read failed and was
 * logged).  -1: no good copy was ever loaded; *error_r says why (callers
 * answer 4xx, never "unknown").
 */
int table_refresh(struct table *t, const char **error_r);
/*
 * Parses data as the file's content and, if it is not refused, makes it
 * the good copy (as a re-read would, without the file: tests, fuzzing).
 */
int table_set_data(struct table *t, const char *data, size_t len,
		   struct table_report *rep);
/* True once a good copy was loaded (it then stays, maybe stale). */
bool table_loaded(const struct table *t);
/* The value of key in the good copy, or NULL. */
const char *table_lookup(const struct table *t, const char *key);
size_t table_count(const struct table *t);
/* The i-th entry in key order, or NULL. */
const struct table_entry *table_at(const struct table *t, size_t i);

enum table_edit { TABLE_ADD, TABLE_DEL, TABLE_SET };
/* How an edit came out; a caller words its own message from it. */
enum table_res {
	TABLE_R_OK,
	TABLE_R_EXISTS,		/* ADD: the key is there already */
	TABLE_R_NOTFOUND,	/* DEL, SET: no such key */
	TABLE_R_ERROR,		/* the file could not be read or written */
};
/*
 * Edits the file atomically: lock FILE.lock, write FILE.tmp.PID, fsync,
 * rename over FILE, fsync the directory.  ADD fails if key exists, DEL and
 * SET if it does not; other lines are kept as they are.  Any failure
 * leaves a message in err.
 */
enum table_res table_file_edit(const char *path, enum table_edit op,
			       const char *key, const char *value, char *err,
			       size_t errsz);

#endif
