/*
 * libFuzzer harness for the RFC 5321 address parser: parse, check the
 * limits hold, format, and re-parse the formatted text to the same value.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct addr a, b;
	size_t used;
	const char *err;
	char text[ADDR_PATH_MAX * 3], path[ADDR_PATH_MAX * 3 + 2];
	int n;

	if (addr_parse_path((const char *)data, size,
			    ADDR_ALLOW_NULL | ADDR_ALLOW_POSTMASTER, &a, &used,
			    &err) == -1)
		return 0;
	if (used > size || used > ADDR_PATH_MAX ||
	    strlen(a.local) > ADDR_LOCAL_MAX ||
	    strlen(a.domain) > ADDR_DOMAIN_MAX)
		abort();
	n = addr_format(&a, text, sizeof(text));
	if (n < 0)
		abort();
	if (a.null || a.domain[0] == '\0')
		return 0;
	snprintf(path, sizeof(path), "<%s>", text);
	if (addr_parse_path(path, strlen(path), 0, &b, &used, &err) == 0 &&
	    (strcmp(a.local, b.local) != 0 || strcmp(a.domain, b.domain) != 0))
		abort();
	return 0;
}
