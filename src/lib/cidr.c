/*
 * cidr - see cidr.h.  The list is parsed at every match: it is short, and
 * a match happens once per relayed recipient.
 */
#include "cidr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct net {
	int family;
	unsigned char addr[16];
	unsigned bits;
};

/* One "addr[/bits]" of len octets; -1 if it is not one. */
static int
parse_net(const char *s, size_t len, struct net *n)
{
	char tmp[64], *slash, *end;
	unsigned long bits;

	if (len == 0 || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if ((slash = strchr(tmp, '/')) != NULL)
		*slash = '\0';
	if (inet_pton(AF_INET, tmp, n->addr) == 1) {
		n->family = AF_INET;
		n->bits = 32;
	} else if (inet_pton(AF_INET6, tmp, n->addr) == 1) {
		n->family = AF_INET6;
		n->bits = 128;
	} else {
		return -1;
	}
	if (slash != NULL) {
		/* digits only: strtoul would take "-0" (all) and "+8" */
		if (!isdigit((unsigned char)slash[1]))
			return -1;
		bits = strtoul(slash + 1, &end, 10);
		if (end == slash + 1 || *end != '\0' || bits > n->bits)
			return -1;
		n->bits = (unsigned)bits;
	}
	return 0;
}

static bool
prefix_eq(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[whole] ^ b[whole]) & (0xff << (8 - rest))) == 0;
}

/* Calls fn for each network; false if an item is malformed. */
static bool
each(const char *list, bool (*fn)(const struct net *, const void *),
     const void *arg, bool *hit)
{
	const char *p = list;

	*hit = false;
	while (*p != '\0') {
		const char *s, *e;
		struct net n;

		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		s = p;
		while (*p != '\0' && *p != ',' && *p != ' ')
			p++;
		e = p;
		if (parse_net(s, (size_t)(e - s), &n) == -1)
			return false;
		if (fn != NULL && fn(&n, arg))
			*hit = true;
	}
	return true;
}

bool
cidr_list_valid(const char *list)
{
	bool hit;

	return each(list, NULL, NULL, &hit);
}

static bool
match_one(const struct net *n, const void *arg)
{
	const struct net *a = arg;

	return n->family == a->family && prefix_eq(n->addr, a->addr, n->bits);
}

bool
cidr_match(const char *list, const struct sockaddr *sa)
{
	struct net a = {0};
	bool hit;

	if (sa->sa_family == AF_INET) {
		a.family = AF_INET;
		memcpy(a.addr, &((const struct sockaddr_in *)(const void *)sa)
				       ->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *v6 =
			&((const struct sockaddr_in6 *)(const void *)sa)
				 ->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(v6)) {
			a.family = AF_INET;
			memcpy(a.addr, v6->s6_addr + 12, 4);
		} else {
			a.family = AF_INET6;
			memcpy(a.addr, v6->s6_addr, 16);
		}
	} else {
		return false;
	}
	return each(list, match_one, &a, &hit) && hit;
}
