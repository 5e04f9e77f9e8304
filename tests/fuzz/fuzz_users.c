/*
 * libFuzzer harness for the users file parser (users_parse, the function
 * users_refresh runs on the file's text through auth/table).  Checks: no
 * crash, no sanitizer report; a refused file yields nothing and says why;
 * an accepted one is sorted, without repeats, holds only valid names, and
 * counts as many entries as the report's good lines.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/users.h"
#include "lib/log.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool opened;
	struct table_entry *v = NULL;
	struct table_report rep;
	size_t n = 0;

	if (!opened) {
		const char *err;

		if (log_open("/dev/null", &err) == -1)
			abort();
		opened = true;
	}
	if (users_parse((const char *)data, size, &v, &n, &rep) == -1) {
		if (v != NULL || n != 0 || rep.refused == NULL)
			abort();
		return 0;
	}
	if (rep.refused != NULL || n != rep.good || rep.bad > rep.good)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (!store_user_valid(v[i].key) || v[i].value == NULL ||
		    (i > 0 && strcmp(v[i - 1].key, v[i].key) >= 0))
			abort();
	}
	table_entries_free(v, n);
	return 0;
}
