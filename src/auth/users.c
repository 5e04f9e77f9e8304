/*
 * users - see users.h.
 */
#include "users.h"

#include <crypt.h>
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/addr.h"
#include "../lib/buf.h"

struct users {
	struct table *t;
};

/* A users line: a valid lower-case name; the hash is not checked. */
static const char *
check_line(char *name, char *hash)
{
	(void)hash;
	if (!addr_user_valid(name))
		return "invalid user name (want lower-case local@domain: "
		       "letters, digits, . _ - +)";
	return NULL;
}

int
users_parse(const char *data, size_t len, struct table_entry **v_r,
	    size_t *n_r, struct table_report *rep)
{
	return table_parse(data, len, check_line, v_r, n_r, rep);
}

struct users *
users_new(const char *path)
{
	struct users *u = xcalloc(1, sizeof(*u));

	u->t = table_new(path, "users", check_line, false);
	return u;
}

void
users_free(struct users **up)
{
	if (*up == NULL)
		return;
	table_free(&(*up)->t);
	free(*up);
	*up = NULL;
}

int
users_normalize(const char *name, char *out, size_t size)
{
	size_t n = strlen(name), i;

	if (n == 0 || n >= size)
		return -1;
	for (i = 0; i <= n; i++)
		out[i] = (char)tolower((unsigned char)name[i]);
	return addr_user_valid(out) ? 0 : -1;
}

int
users_refresh(struct users *u, const char **error_r)
{
	return table_refresh(u->t, error_r);
}

bool
users_ready(const struct users *u)
{
	return table_loaded(u->t);
}

const char *
users_lookup(const struct users *u, const char *name)
{
	return table_lookup(u->t, name);
}

size_t
users_count(const struct users *u)
{
	return table_count(u->t);
}

const char *
users_name(const struct users *u, size_t i)
{
	const struct table_entry *e = table_at(u->t, i);

	return e ? e->key : NULL;
}

int
users_hash_password(const char *password, char *out, size_t size,
		    const char **error_r)
{
	static const char *prefixes[] = {"$y$", "$6$"};
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	const char *h = NULL;

	for (size_t i = 0; i < 2 && h == NULL; i++) {
		if (crypt_gensalt_rn(prefixes[i], 0, NULL, 0, salt,
				     sizeof(salt)) == NULL)
			continue;
		h = crypt_r(password, salt, cd);
		if (h != NULL && h[0] == '*')
			h = NULL;
	}
	if (h == NULL) {
		*error_r = "crypt(3) could not hash the password";
		free(cd);
		return -1;
	}
	if ((size_t)snprintf(out, size, "{CRYPT}%s", h) >= size) {
		*error_r = "hash too long";
		free(cd);
		return -1;
	}
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return 0;
}

/* Compares in time independent of where the strings differ. */
static bool
ct_equal(const char *a, const char *b, size_t n)
{
	unsigned char d = 0;

	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

static char dummy[256];

static void
make_dummy(void)
{
	const char *err;

	/* a random salt: no password is known to match it */
	if (users_hash_password("owlpost-no-such-user", dummy, sizeof(dummy),
				&err) == -1)
		snprintf(dummy, sizeof(dummy), "{CRYPT}*");
}

const char *
users_dummy_hash(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, make_dummy);
	return dummy;
}

bool
users_verify(const char *stored, const char *password)
{
	struct crypt_data *cd;
	const char *h;
	bool ok;

	if (strncmp(stored, "{CRYPT}", 7) == 0)
		stored += 7;
	else if (strncmp(stored, "{SHA512-CRYPT}", 14) == 0)
		stored += 14;
	else if (stored[0] == '{')
		return false;
	if (stored[0] != '$')
		return false;
	cd = xcalloc(1, sizeof(*cd));
	h = crypt_r(password, stored, cd);
	ok = h != NULL && h[0] != '*' && strlen(h) == strlen(stored) &&
	     ct_equal(h, stored, strlen(h));
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}

int
users_file_edit(const char *path, enum users_edit op, const char *name,
		const char *hash, char *err, size_t errsz)
{
	static const enum table_edit ops[] = {
		[USERS_ADD] = TABLE_ADD, [USERS_DEL] = TABLE_DEL,
		[USERS_PASSWD] = TABLE_SET,
	};

	/* the messages owlctl always gave */
	switch (table_file_edit(path, ops[op], name, hash, err, errsz)) {
	case TABLE_R_OK:
		return 0;
	case TABLE_R_NOTFOUND:
		snprintf(err, errsz, "no such user: %s", name);
		break;
	case TABLE_R_EXISTS:
		snprintf(err, errsz, "user %s already exists", name);
		break;
	case TABLE_R_ERROR:
		break;
	}
	return -1;
}
