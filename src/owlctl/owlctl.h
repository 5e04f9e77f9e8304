/*
 * owlctl - the admin tool's commands, one file each.
 */
#ifndef OWL_OWLCTL_H
#define OWL_OWLCTL_H

#include "../lib/conf.h"

/* owlctl queue ...; returns the exit status. */
int cmd_queue(const struct conf *c, int argc, char **argv);
/* owlctl tls selfsigned ... */
int cmd_tls(const struct conf *c, int argc, char **argv);

#endif
