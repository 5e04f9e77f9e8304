/*
 * libFuzzer harness for the DNS MX answer parser (dns_parse_mx, what
 * dns_targets does with res_nquery's answer).  The input is the packet.
 * Checks: no crash, no sanitizer report; at most DNS_MX_MAX records;
 * each host is a terminated name of printable octets without spaces (the
 * presentation form dn_expand gives, which then goes into SMTP replies,
 * logs and bounces) and each preference fits 16 bits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_mx mx[DNS_MX_MAX];
	size_t n = 99;

	if (dns_parse_mx(data, size, mx, &n) == -1)
		return 0;
	if (n > DNS_MX_MAX)
		abort();
	for (size_t i = 0; i < n; i++) {
		size_t l = strnlen(mx[i].host, sizeof(mx[i].host));

		if (l == sizeof(mx[i].host) || mx[i].pref > 65535)
			abort();
		for (size_t k = 0; k < l; k++)
			if (mx[i].host[k] <= ' ' || mx[i].host[k] >= 0x7f)
				abort();
	}
	return 0;
}
