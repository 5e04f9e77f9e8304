/*
 * libFuzzer harness for LIST patterns (proto/imap_match.h).  The input is
 * a pattern, a NUL, and names separated by LF; each name's result must be
 * the one a plain table of prefixes gives (with case for every name and
 * without for each in turn), whatever order the names come in.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/imap_match.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char
fold(char c, bool icase)
{
	return icase && c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* ok[i][j]: the first i pattern octets match the first j name octets. */
static bool
reference(const char *p, size_t pl, const char *n, bool icase)
{
	size_t nl = strlen(n);
	bool *ok = calloc((pl + 1) * (nl + 1), sizeof(*ok));
	bool r;

	if (ok == NULL)
		abort();
	ok[0] = true;
	for (size_t i = 1; i <= pl; i++) {
		char c = p[i - 1];
		bool *row = ok + i * (nl + 1), *up = row - (nl + 1);

		row[0] = (c == '*' || c == '%') && up[0];
		for (size_t j = 1; j <= nl; j++) {
			if (c == '*')
				row[j] = up[j] || row[j - 1];
			else if (c == '%')
				row[j] = up[j] ||
					 (row[j - 1] && n[j - 1] != '/');
			else
				row[j] = up[j - 1] &&
					 fold(c, icase) ==
						 fold(n[j - 1], icase);
		}
	}
	r = ok[pl * (nl + 1) + nl];
	free(ok);
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	const char *nul = memchr(in, '\0', size);
	struct imap_match *m;
	char *names, *save = NULL;
	size_t pl, k = 0;

	if (nul == NULL || size > 2048)
		return 0;
	pl = (size_t)(nul - in);
	m = imap_match_new(in, pl);
	names = strndup(nul + 1, size - pl - 1);
	if (names == NULL)
		abort();
	for (char *n = strtok_r(names, "\n", &save); n != NULL;
	     n = strtok_r(NULL, "\n", &save), k++) {
		bool icase = k % 3 == 2;

		if (imap_match(m, n, icase) != reference(in, pl, n, icase))
			abort();
	}
	free(names);
	imap_match_free(&m);
	return 0;
}
