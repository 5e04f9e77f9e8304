/*
 * aliases - see aliases.h.  The parser (aliases_check, aliases_parse) and
 * the expansion use only lib/ and table.c, and no I/O, so the fuzz harness
 * and the unit tests link them alone.
 */
#include "aliases.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/addr.h"
#include "../lib/buf.h"

struct aliases {
	struct table *t;
};

/* A local part as user names have it: letters, digits, . _ - + */
static bool
local_valid(const char *s, size_t n)
{
	if (n == 0 || n > ADDR_LOCAL_MAX || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-' || c == '+'))
			return false;
		if (c == '.' && i + 1 < n && s[i + 1] == '.')
			return false;
	}
	return true;
}

static void
lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

static const char *
check_name(char *name)
{
	char *at;

	lower(name);
	at = strchr(name, '@');
	if (!local_valid(name, at ? (size_t)(at - name) : strlen(name)))
		return "invalid alias name (want a local part of letters, "
		       "digits, . _ - + and maybe @domain)";
	if (at != NULL && !addr_domain_valid(at + 1, strlen(at + 1)))
		return "invalid domain in the alias name";
	return NULL;
}

/* One target, s..s+n: appended to out in canonical form. */
static const char *
check_target(const char *s, size_t n, struct buf *out)
{
	const char *err;
	struct addr a;
	char txt[ADDR_PATH_MAX + 1];

	if (n == 0)
		return "empty target";
	if (addr_parse_mailbox(s, n, &a, &err) == -1)
		return "invalid target address";
	if (a.quoted || a.literal)
		return "quoted or address-literal targets are not supported";
	lower(a.domain);
	if (addr_format(&a, txt, sizeof(txt)) < 0)
		return "invalid target address";
	if (out->len > 0 && buf_addc(out, ',') == -1)
		return "too many targets";
	if (buf_addstr(out, txt) == -1)
		return "too many targets";
	return NULL;
}

const char *
aliases_check(char *name, char *targets)
{
	struct buf *out;
	const char *why, *p = targets, *end = targets + strlen(targets);

	if ((why = check_name(name)) != NULL)
		return why;
	if (p == end)
		return "no target";
	out = buf_new(strlen(targets) + 1);
	while (why == NULL && p <= end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *e = comma ? comma : end, *b = p;

		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		why = check_target(b, (size_t)(e - b), out);
		p = (comma ? comma : end) + 1;
	}
	/* the canonical text is never longer: blanks are dropped */
	if (why == NULL)
		memcpy(targets, out->data, out->len + 1);
	buf_free(&out);
	return why;
}

static const char *
check_line(char *name, char *targets)
{
	return aliases_check(name, targets);
}

int
aliases_parse(const char *data, size_t len, struct table_entry **v_r,
	      size_t *n_r, struct table_report *rep)
{
	return table_parse(data, len, check_line, v_r, n_r, rep);
}

struct aliases *
aliases_new(const char *path)
{
	struct aliases *a = xcalloc(1, sizeof(*a));

	a->t = table_new(path, "aliases", check_line, true);
	return a;
}

void
aliases_free(struct aliases **ap)
{
	if (*ap == NULL)
		return;
	table_free(&(*ap)->t);
	free(*ap);
	*ap = NULL;
}

int
aliases_set_data(struct aliases *a, const char *data, size_t len,
		 struct table_report *rep)
{
	return table_set_data(a->t, data, len, rep);
}

int
aliases_refresh(struct aliases *a, const char **error_r)
{
	return table_refresh(a->t, error_r);
}

bool
aliases_ready(const struct aliases *a)
{
	return table_loaded(a->t);
}

size_t
aliases_count(const struct aliases *a)
{
	return table_count(a->t);
}

const struct table_entry *
aliases_at(const struct aliases *a, size_t i)
{
	return table_at(a->t, i);
}

static void
add_unique(char ***v, size_t *n, size_t *cap, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (strcasecmp((*v)[i], s) == 0)
			return;
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		*v = xrealloc(*v, *cap * sizeof(**v));
	}
	(*v)[(*n)++] = xstrdup(s);
}

void
aliases_exp_add_local(struct aliases_exp *x, const char *name)
{
	add_unique(&x->local, &x->nlocal, &x->local_cap, name);
}

void
aliases_exp_add_remote(struct aliases_exp *x, const char *addr)
{
	add_unique(&x->remote, &x->nremote, &x->remote_cap, addr);
}

void
aliases_exp_free(struct aliases_exp *x)
{
	for (size_t i = 0; i < x->nlocal; i++)
		free(x->local[i]);
	for (size_t i = 0; i < x->nremote; i++)
		free(x->remote[i]);
	free(x->local);
	free(x->remote);
	memset(x, 0, sizeof(*x));
}

/* One expansion's state: the aliases being expanded, counters. */
struct walk {
	const struct aliases *a;
	const struct aliases_hooks *h;
	struct aliases_exp *x;
	const char *stack[ALIASES_DEPTH_MAX];
	unsigned depth;
	size_t visited;		/* targets looked at */
	size_t found;		/* users and outside addresses reached */
	const char *error;
};

/* name@domain's alias, or the bare name's. */
static const char *
lookup(const struct aliases *a, const char *name)
{
	char local[ADDR_LOCAL_MAX + 1];
	const char *v, *at = strchr(name, '@');

	if (a == NULL)
		return NULL;
	if ((v = table_lookup(a->t, name)) != NULL || at == NULL ||
	    (size_t)(at - name) > ADDR_LOCAL_MAX)
		return v;
	memcpy(local, name, (size_t)(at - name));
	local[at - name] = '\0';
	return table_lookup(a->t, local);
}

static bool
on_stack(const struct walk *w, const char *name)
{
	for (unsigned i = 0; i < w->depth; i++)
		if (strcmp(w->stack[i], name) == 0)
			return true;
	return false;
}

/* A name that is not (further) an alias: a user, or nobody. */
static void
leaf(struct walk *w, const char *name)
{
	if (w->h->is_user(w->h->arg, name)) {
		aliases_exp_add_local(w->x, name);
		w->found++;
		return;
	}
	if (w->depth > 0) {
		w->x->dropped++;
		snprintf(w->x->last_dropped, sizeof(w->x->last_dropped), "%s",
			 name);
	}
}

static void walk_name(struct walk *w, char *name);

static void
walk_target(struct walk *w, char *t)
{
	char *at = strrchr(t, '@');

	if (++w->visited > w->h->max_targets) {
		w->error = "alias expands to too many addresses "
			   "(aliases.max_expansion)";
		return;
	}
	if (at != NULL && w->h->is_local(w->h->arg, at + 1)) {
		lower(t);
		walk_name(w, t);
		return;
	}
	aliases_exp_add_remote(w->x, t);
	w->found++;
}

static void
walk_name(struct walk *w, char *name)
{
	const char *value = lookup(w->a, name);
	char *copy, *p, *comma;

	if (value == NULL || on_stack(w, name)) {
		leaf(w, name);
		return;
	}
	if (w->depth >= w->h->max_depth || w->depth >= ALIASES_DEPTH_MAX) {
		w->error = "aliases nested too deep (aliases.max_depth)";
		return;
	}
	w->stack[w->depth++] = name;
	copy = xstrdup(value);	/* canonical: "a@x,b@y" */
	for (p = copy; p != NULL && w->error == NULL; p = comma) {
		if ((comma = strchr(p, ',')) != NULL)
			*comma++ = '\0';
		walk_target(w, p);
	}
	w->depth--;
	free(copy);
}

enum aliases_res
aliases_expand(const struct aliases *a, const struct aliases_hooks *h,
	       const char *name, struct aliases_exp *x, const char **error_r)
{
	struct walk w = {.a = a, .h = h, .x = x};
	char *copy = xstrdup(name);
	bool aliased = lookup(a, name) != NULL;

	walk_name(&w, copy);
	free(copy);
	if (w.error != NULL) {
		*error_r = w.error;
		return ALIASES_TEMP;
	}
	if (w.found > 0)
		return ALIASES_OK;
	if (!aliased)
		return ALIASES_UNKNOWN;
	*error_r = "alias has no target that is a user or an outside address";
	return ALIASES_TEMP;
}
