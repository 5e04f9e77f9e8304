/*
 * libFuzzer harness for cidr lists (relay.networks).  The input is 17
 * octets of peer address (a family byte, 16 address octets) and the list.
 * Checks: no crash, no out-of-bounds read (sanitizers); a list that is not
 * valid matches nothing; a valid one has no sign (prefix lengths are
 * digits: "/-0" is not "/0"); an IPv4 peer matches as its v4-mapped IPv6 form
 * does; a valid list with the peer's own network appended ("ADDR/BITS")
 * always matches it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cidr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in v4 = {.sin_family = AF_INET};
	struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
	const struct sockaddr *sa;
	char *list, *more, text[INET6_ADDRSTRLEN];
	bool is4, valid, hit;
	unsigned bits;
	size_t n;

	if (size < 17)
		return 0;
	is4 = data[0] & 1;
	bits = data[0] >> 1; /* 0..127 */
	memcpy(&v4.sin_addr, data + 1, 4);
	memcpy(&v6.sin6_addr, data + 1, 16);
	sa = is4 ? (const struct sockaddr *)&v4 : (const struct sockaddr *)&v6;
	n = size - 17;
	list = malloc(n + 1);
	memcpy(list, data + 17, n);
	list[n] = '\0';

	valid = cidr_list_valid(list);
	hit = cidr_match(list, sa);
	if ((hit && !valid) ||
	    (valid && (strchr(list, '+') != NULL || strchr(list, '-') != NULL)))
		abort();
	if (is4) {
		struct sockaddr_in6 m = {.sin6_family = AF_INET6};

		memset(m.sin6_addr.s6_addr + 10, 0xff, 2);
		memcpy(m.sin6_addr.s6_addr + 12, data + 1, 4);
		if (cidr_match(list, (const struct sockaddr *)&m) != hit)
			abort();
	}
	if (valid && strlen(list) == n) {
		size_t m = n + sizeof(text) + 8;
		bool mapped = !is4 && IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr);

		/* a v4-mapped peer is matched as IPv4: name it so */
		if (is4 || mapped)
			inet_ntop(AF_INET, is4 ? (const void *)&v4.sin_addr
					       : v6.sin6_addr.s6_addr + 12,
				  text, sizeof(text));
		else
			inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof(text));
		more = malloc(m);
		snprintf(more, m, "%s,%s/%u", list, text,
			 (is4 || mapped) ? bits % 33 : bits);
		if (!cidr_list_valid(more) || !cidr_match(more, sa))
			abort();
		free(more);
	}
	free(list);
	return 0;
}
