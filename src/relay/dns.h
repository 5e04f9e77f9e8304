/*
 * dns - where mail for a domain goes (RFC 5321 5.1): its MX hosts in
 * preference order, the domain itself when it has no MX (implicit MX),
 * and a permanent failure for a null MX (RFC 7505) or a domain that does
 * not exist.  Queries go through resolve_lookup (resolve.h: its checks
 * of the answer, dns.timeout and dns.attempts) to dns.resolver when that
 * is set (tests point it at their own dnsmasq), else to the system's
 * resolver; host addresses come from getaddrinfo when no resolver is set,
 * so /etc/hosts still works.  Blocking: call it on a worker thread.
 */
#ifndef OWL_DNS_H
#define OWL_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <arpa/nameser.h>
#include <sys/socket.h>

#include "resolve.h"

struct dns_target {
	char host[256];			/* the MX (or relay) host name */
	struct sockaddr_storage sa;	/* with the port set */
	socklen_t salen;
};

enum dns_res { DNS_OK, DNS_TEMP, DNS_PERM };

#define DNS_MX_MAX 16	/* MX records used of one answer */

struct dns_mx {
	unsigned pref;
	char host[NS_MAXDNAME];	/* "" for the root (a null MX) */
};

/*
 * Targets for domain (mx true) or for one host (relay.host; an IP literal
 * needs no lookup), each with port, asked as o says.
 */
enum dns_res dns_targets(const struct resolve_opts *o, const char *name,
			 bool mx, unsigned port, struct dns_target **out,
			 size_t *n, char *err, size_t errsz);

#endif
