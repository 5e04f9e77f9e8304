/*
 * aliases - the aliases file (aliases.file, default DATA_DIR/aliases), in
 * the spirit of aliases(5):
 *
 *   # comments and blank lines
 *   postmaster: alice@example.org          a bare name: every local domain
 *   abuse@example.org: alice@example.org, bob@example.org
 *   info@example.org: alice@example.org, carol@elsewhere.example
 *
 * A name is a lower-case local part (letters, digits, . _ - +) with or
 * without "@domain"; name@domain wins over the bare name.  Targets are
 * addresses, separated by commas: one in a local domain is a user or
 * another alias, any other one is forwarded through the outbound queue
 * with the original envelope sender (no SRS).  An alias also wins over a
 * user of the same name; an alias that names itself (or an alias it came
 * from) means that user's mailbox, so "alice@x: alice@x, bob@y" keeps a
 * copy.  Expansion is bounded in depth and size, loops stop at the first
 * repeat, and every user or address is delivered to once.
 *
 * The file is a table (table.h), re-read when it changes, with the same
 * outage rules as the users file: a failed re-read keeps the last good
 * copy.  It is optional: a file that never existed is an empty table.
 */
#ifndef OWL_ALIASES_H
#define OWL_ALIASES_H

#include <stdbool.h>
#include <stddef.h>

#include "table.h"

#define ALIASES_DEPTH_MAX 100	/* the highest aliases.max_depth */

struct aliases;

/*
 * Checks one line (name, targets) and rewrites it in canonical form:
 * name lower-cased, targets "a@x,b@y" with lower-case domains.  NULL if
 * good, else why not.  owlctl checks its arguments with it too.
 */
const char *aliases_check(char *name, char *targets);
/* Parses an aliases file held in memory: see table_parse(). */
int aliases_parse(const char *data, size_t len, struct table_entry **v_r,
		  size_t *n_r, struct table_report *rep);

struct aliases *aliases_new(const char *path);
void aliases_free(struct aliases **ap);
/* Makes data the good copy, as table_set_data() (tests, fuzzing). */
int aliases_set_data(struct aliases *a, const char *data, size_t len,
		     struct table_report *rep);
/* As users_refresh(): 0 with a good copy, -1 if none was ever loaded. */
int aliases_refresh(struct aliases *a, const char **error_r);
/* True once a good copy of the file was loaded. */
bool aliases_ready(const struct aliases *a);
size_t aliases_count(const struct aliases *a);
/* The i-th alias in name order (key, targets), or NULL. */
const struct table_entry *aliases_at(const struct aliases *a, size_t i);

/* What the expansion needs to know about the rest of the system. */
struct aliases_hooks {
	bool (*is_local)(void *arg, const char *domain);
	bool (*is_user)(void *arg, const char *name);
	void *arg;
	unsigned max_depth;	/* aliases within aliases (1..100) */
	size_t max_targets;	/* addresses one expansion may visit */
};

/* The targets of a message's recipients, each one once. */
struct aliases_exp {
	char **local;		/* user names */
	size_t nlocal, local_cap;
	char **remote;		/* outside addresses */
	size_t nremote, remote_cap;
	size_t dropped;		/* local targets that are nobody */
	char last_dropped[300];
};

void aliases_exp_free(struct aliases_exp *x);
/* Adds a user / an outside address unless it is there already. */
void aliases_exp_add_local(struct aliases_exp *x, const char *name);
void aliases_exp_add_remote(struct aliases_exp *x, const char *addr);

enum aliases_res {
	ALIASES_OK,		/* targets added to x */
	ALIASES_UNKNOWN,	/* neither an alias nor a user */
	ALIASES_TEMP,		/* too deep, too many, or no target: *error_r */
};

/*
 * Where mail for name (a lower-case user@domain in a local domain) goes:
 * its users and outside addresses are added to x.  With a NULL a (no
 * aliases table) only users are known.  A local target that is nobody is
 * dropped and counted in x->dropped; an alias left with no target at all
 * is ALIASES_TEMP, as a fault of the file that the operator can fix.
 */
enum aliases_res aliases_expand(const struct aliases *a,
				const struct aliases_hooks *h,
				const char *name, struct aliases_exp *x,
				const char **error_r);

#endif
