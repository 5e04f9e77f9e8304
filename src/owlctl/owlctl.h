/*
 * owlctl - the admin tool's commands, one file each.
 */
#ifndef OWL_OWLCTL_H
#define OWL_OWLCTL_H

#include <stddef.h>

struct resolve_opts;
struct spf;

#include "../auth/table.h"
#include "../lib/conf.h"

#define EX_DATAERR_CODE 65	/* a bad user name, alias or address */
#define EX_CANTCREAT_CODE 73	/* the data directory cannot be made */

typedef int owlctl_parse_fn(const char *data, size_t len,
			    struct table_entry **v_r, size_t *n_r,
			    struct table_report *rep);
/*
 * Reads a users or aliases file with its parser (files.c): 0 with its
 * entries (none if it does not exist), skipped lines named on stderr; -1
 * if it cannot be read or is refused as a whole (said on stderr).
 */
int owlctl_load(const char *path, owlctl_parse_fn *parse,
		struct table_entry **v_r, size_t *n_r);

/*
 * Run as root with the user key set: becomes that user (priv.c).  0, or
 * the exit status (78 unknown user, 77 the switch failed), said on stderr.
 */
int owlctl_become_user(const struct conf *c);
/* owlctl alias add|del|list; returns the exit status. */
int cmd_alias(const struct conf *c, int argc, char **argv);
/* owlctl queue ...; returns the exit status. */
int cmd_queue(const struct conf *c, int argc, char **argv);
/* owlctl status [--json], owlctl reload (status.c): the exit status. */
int cmd_status(const struct conf *c, int argc, char **argv);
int cmd_reload(const struct conf *c, int argc, char **argv);
/* owlctl user list --json: [{"user":"alice@example.org"},...]. */
int owlctl_user_list_json(const struct conf *c);
/* s as a JSON string on stdout (quotes, escapes; UTF-8 kept). */
void owlctl_json_str(const char *s);
/* owlctl tls selfsigned ... */
int cmd_tls(const struct conf *c, int argc, char **argv);
/* owlctl dkim keygen ... (dkim.c) */
int cmd_dkim(const struct conf *c, int argc, char **argv);
/* owlctl doctor DOMAIN [--json] [-c FILE] (doctor.c); argv[0] is
 * "doctor".  Exit 0 if no check FAILs, 1 if one does. */
int cmd_doctor(const struct conf *c, int argc, char **argv);
/* owlctl spf IP SENDER [HELO] [--json] (spf.c); argv[0] is "spf".
 * Exit 0 pass, 1 another result, 75 temperror, 64 usage, 65 bad input. */
int cmd_spf(const struct conf *c, int argc, char **argv);
/*
 * check_host(ip, domain, sender) of RFC 7208 with c's spf.max_* limits,
 * c's hostname as %{r}, and each DNS question asked through o (no
 * cache), to the end: the finished check (spf_result; the caller
 * spf_free()s it), NULL if out of memory.  dnserr gets the last failed
 * lookup's error, which names the question ("" if none failed).
 */
struct spf *owlctl_spf_run(const struct conf *c, const struct resolve_opts *o,
			   int family, const unsigned char *ip,
			   const char *domain, const char *sender,
			   const char *helo, char *dnserr, size_t errsz);

#endif
