/*
 * libFuzzer harness for the aliases file: parse it (table_parse with the
 * aliases checks), check the report's invariants and that every kept line
 * is canonical (checking it again changes nothing), then expand every
 * name, so loops, depth and size bounds run on arbitrary tables.  Logging
 * goes to stderr, which libFuzzer runs keep quiet with -close_fd_mask.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/aliases.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Local domains: example.org and example.net; users: local parts "u...". */
static bool
is_local(void *arg, const char *domain)
{
	(void)arg;
	return strcmp(domain, "example.org") == 0 ||
	       strcmp(domain, "example.net") == 0;
}

static bool
is_user(void *arg, const char *name)
{
	(void)arg;
	return name[0] == 'u';
}

static void
check_report(const struct table_report *rep, size_t n)
{
	if (rep->refused == NULL && (rep->good != n || rep->bad > n ||
				     (n == 0 && rep->bad > 0)))
		abort();
	for (size_t i = 0; i < rep->bad && i < TABLE_REPORT_MAX; i++)
		if (rep->skipped_line[i] == 0 ||
		    rep->skipped_line[i] > rep->lines ||
		    rep->skipped_why[i] == NULL)
			abort();
}

static void
check_canonical(const struct table_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *k = strdup(v[i].key), *t = strdup(v[i].value);

		if (aliases_check(k, t) != NULL || strcmp(k, v[i].key) != 0 ||
		    strcmp(t, v[i].value) != 0)
			abort();
		if (i > 0 && strcmp(v[i - 1].key, v[i].key) >= 0)
			abort(); /* sorted, no duplicates */
		free(k);
		free(t);
	}
}

static void
expand_all(struct aliases *a)
{
	static const struct aliases_hooks h = {
		.is_local = is_local, .is_user = is_user, .max_depth = 10,
		.max_targets = 1000,
	};
	size_t n = aliases_count(a);

	for (size_t i = 0; i < n && i < 32; i++) {
		const struct table_entry *e = aliases_at(a, i);
		struct aliases_exp x = {0};
		char name[400];
		const char *err;

		snprintf(name, sizeof(name), "%s%s", e->key,
			 strchr(e->key, '@') ? "" : "@example.org");
		aliases_expand(a, &h, name, &x, &err);
		if (x.nlocal + x.nremote > h.max_targets)
			abort();
		aliases_exp_free(&x);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct table_report rep;
	struct table_entry *v;
	struct aliases *a;
	size_t n;

	if (aliases_parse((const char *)data, size, &v, &n, &rep) == 0) {
		check_report(&rep, n);
		check_canonical(v, n);
		table_entries_free(v, n);
	} else if (rep.refused == NULL) {
		abort();
	}
	a = aliases_new("/nonexistent/owlpost-fuzz-aliases");
	if (aliases_set_data(a, (const char *)data, size, &rep) == 0)
		expand_all(a);
	aliases_free(&a);
	return 0;
}
