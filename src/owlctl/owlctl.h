/*
 * owlctl - the admin tool's commands, one file each.
 */
#ifndef OWL_OWLCTL_H
#define OWL_OWLCTL_H

#include "../lib/conf.h"

#define EX_DATAERR_CODE 65	/* a bad user name, alias or address */
#define EX_CANTCREAT_CODE 73	/* the data directory cannot be made */

/* owlctl alias add|del|list; returns the exit status. */
int cmd_alias(const struct conf *c, int argc, char **argv);
/* owlctl queue ...; returns the exit status. */
int cmd_queue(const struct conf *c, int argc, char **argv);
/* owlctl tls selfsigned ... */
int cmd_tls(const struct conf *c, int argc, char **argv);

#endif
