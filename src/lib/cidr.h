/*
 * cidr - lists of networks ("127.0.0.0/8, ::1, 192.168.1.0/24"), as in
 * relay.networks: parsed once, matched against a peer's address.
 */
#ifndef OWL_CIDR_H
#define OWL_CIDR_H

#include <stdbool.h>
#include <sys/socket.h>

/* True if list is a valid comma list of networks (empty is valid). */
bool cidr_list_valid(const char *list);
/* True if sa (AF_INET or AF_INET6; v4-mapped v6 counts as v4) is in list. */
bool cidr_match(const char *list, const struct sockaddr *sa);

#endif
