/*
 * alias - owlctl alias add|del|list: edits the aliases file (aliases.file)
 * atomically through table_file_edit; a running owld sees the change at
 * the next RCPT.  A name or target aliases_check() refuses, or a name that
 * starts with '-', exits 65 and changes nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../auth/aliases.h"
#include "../lib/buf.h"
#include "owlctl.h"

/* "a@x,b@y" as "a@x, b@y" */
static void
print_targets(const char *v)
{
	for (; *v != '\0'; v++) {
		putchar(*v);
		if (*v == ',')
			putchar(' ');
	}
}

static int
alias_list(const struct conf *c)
{
	struct table_entry *v;
	size_t n;

	if (owlctl_load(c->aliases_file, aliases_parse, &v, &n) == -1)
		return 1;
	for (size_t i = 0; i < n; i++) {
		printf("%s: ", v[i].key);
		print_targets(v[i].value);
		putchar('\n');
	}
	table_entries_free(v, n);
	return 0;
}

/* The targets given as arguments, joined with sep. */
static char *
join(int argc, char **argv, const char *sep)
{
	size_t len = 1;
	struct buf *b;
	char *s;

	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + strlen(sep);
	b = buf_new(len);
	for (int i = 0; i < argc; i++)
		buf_printf(b, "%s%s", i > 0 ? sep : "", argv[i]);
	s = xstrdup(b->len > 0 ? b->data : "");
	buf_free(&b);
	return s;
}

/* Canonical "a@x,b@y" as the file shows it: " a@x, b@y" (aliases(5)). */
static struct buf *
file_value(const char *targets)
{
	struct buf *b = buf_new(2 * strlen(targets) + 2);

	buf_addc(b, ' ');
	for (const char *p = targets; *p != '\0'; p++) {
		buf_addc(b, *p);
		if (*p == ',')
			buf_addc(b, ' ');
	}
	return b;
}

static int
alias_edit(const struct conf *c, enum table_edit op, const char *given,
	   int argc, char **argv)
{
	char name[512], err[512], *targets;
	const char *why, *at;
	struct buf *value;
	int rc = 1;

	if (bsnprintf(name, sizeof(name), "%s", given) == -1)
		name[0] = '-'; /* refused below */
	targets = op == TABLE_DEL ? xstrdup("nobody@invalid")
				  : join(argc, argv, ",");
	why = name[0] == '-' ? "a name may not start with '-'"
			     : aliases_check(name, targets);
	if (why != NULL) {
		fprintf(stderr, "owlctl: alias %s: %s\n", given, why);
		free(targets);
		return EX_DATAERR_CODE;
	}
	if (op == TABLE_ADD && (at = strchr(name, '@')) != NULL &&
	    !conf_is_local_domain(c, at + 1))
		fprintf(stderr, "owlctl: warning: %s is not in domains (%s); "
			"owld will not accept mail for it\n", at + 1,
			c->domains);
	if (mkdir(c->data_dir, 0700) == -1 && errno != EEXIST) {
		fprintf(stderr, "owlctl: %s: %s\n", c->data_dir,
			strerror(errno));
		free(targets);
		return EX_CANTCREAT_CODE;
	}
	value = file_value(targets);
	if (table_file_edit(c->aliases_file, op, name, value->data, err,
			    sizeof(err)) != TABLE_R_OK) {
		fprintf(stderr, "owlctl: %s\n", err);
	} else {
		printf("%s alias %s\n", op == TABLE_ADD ? "added" : "removed",
		       name);
		rc = 0;
	}
	buf_free(&value);
	free(targets);
	return rc;
}

int
cmd_alias(const struct conf *c, int argc, char **argv)
{
	if (argc == 1 && strcmp(argv[0], "list") == 0)
		return alias_list(c);
	if (argc >= 3 && strcmp(argv[0], "add") == 0)
		return alias_edit(c, TABLE_ADD, argv[1], argc - 2, argv + 2);
	if (argc == 2 && strcmp(argv[0], "del") == 0)
		return alias_edit(c, TABLE_DEL, argv[1], 0, NULL);
	fprintf(stderr, "usage: owlctl alias add NAME ADDRESS... | "
		"alias del NAME | alias list\n");
	return 64;
}
