/*
 * files - owlctl reads the users and aliases files as owld would (the same
 * parser, the same refusals) and names on stderr each line owld skips, so
 * "user list", "alias list" and "check" show what the daemon will use.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "owlctl.h"

int
owlctl_load(const char *path, owlctl_parse_fn *parse,
	    struct table_entry **v_r, size_t *n_r)
{
	struct table_report rep;
	char *data;
	size_t len;

	*v_r = NULL;
	*n_r = 0;
	if (table_read_file(path, &data, &len) == -1) {
		if (errno == ENOENT)
			return 0; /* none yet */
		fprintf(stderr, "owlctl: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (parse(data, len, v_r, n_r, &rep) == -1) {
		fprintf(stderr, "owlctl: %s: %s; owld keeps its last good copy "
			"or, with none, answers 451\n", path, rep.refused);
		free(data);
		return -1;
	}
	for (size_t i = 0; i < rep.bad && i < TABLE_REPORT_MAX; i++)
		fprintf(stderr, "owlctl: %s:%zu: %s (line skipped)\n", path,
			rep.skipped_line[i], rep.skipped_why[i]);
	if (rep.bad > TABLE_REPORT_MAX)
		fprintf(stderr, "owlctl: %s: %zu more lines skipped\n", path,
			rep.bad - TABLE_REPORT_MAX);
	free(data);
	return 0;
}
