/*
 * libFuzzer harness for the users file parser (users_parse, as
 * users_refresh calls it on the file's text).  Checks: no crash, no
 * sanitizer report; the table is sorted, without repeats, and holds only
 * valid names; each name's hash is the one on the first usable line of
 * that name in the input; lookups find every name.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/users.h"
#include "lib/log.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The hash on the first line for name that the parser may use. */
static void
check_first(const char *data, size_t size, const char *name,
	    const char *hash)
{
	size_t nl = strlen(name);

	for (const char *p = data, *end = data + size; p < end;) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		size_t l = e ? (size_t)(e - p) : (size_t)(end - p);

		if (l < USERS_LINE_MAX && memchr(p, '\0', l) == NULL &&
		    l > nl && memcmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *h = p + nl + 1;
			size_t hl = l - nl - 1;

			while (hl > 0 && h[hl - 1] == '\r')
				hl--;
			if (strlen(hash) != hl || memcmp(hash, h, hl) != 0)
				abort();
			return;
		}
		p += l + (e != NULL);
	}
	abort(); /* a name from nowhere */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct users *u;
	const char *text = (const char *)data;
	size_t n;

	if (u == NULL) {
		const char *err;

		if (log_open("/dev/null", &err) == -1)
			abort();
		u = users_new("/nonexistent/fuzz-users");
	}
	users_parse(u, text, size, "fuzz");
	n = users_count(u);
	for (size_t i = 0; i < n; i++) {
		const char *name = users_name(u, i), *hash;

		if (name == NULL || !store_user_valid(name) ||
		    (i > 0 && strcmp(users_name(u, i - 1), name) >= 0))
			abort();
		hash = users_lookup(u, name);
		if (hash == NULL)
			abort();
		check_first(text, size, name, hash);
	}
	if (users_name(u, n) != NULL)
		abort();
	return 0;
}
