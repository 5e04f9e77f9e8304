/*
 * rcpt - glue: where mail for a local recipient goes.  The users file and
 * the aliases file (auth/) decide it, in memory; RCPT asks with refresh
 * (one stat per file), a commit asks again without.
 *
 * Failures are temporary, never "unknown user": no good users file loaded
 * yet, no good aliases file loaded yet (for a name that is not a user), or
 * an alias that is too deep, too big or leads nowhere; each is logged.
 * Postmaster (RFC 5321 4.5.1) is never refused: without an alias, or with
 * a broken one, its mail goes to the alphabetically first user of its
 * domain (or of any local domain); it is answered 451 only while a file is
 * not loaded or when there is no user at all.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "../lib/log.h"
#include "owld.h"

static bool
is_local(void *arg, const char *domain)
{
	return conf_is_local_domain(((struct owld *)arg)->conf, domain);
}

static bool
is_user(void *arg, const char *name)
{
	return users_lookup(((struct owld *)arg)->users, name) != NULL;
}

/* The first user of domain (any local domain if NULL), or NULL. */
static const char *
first_user(struct owld *d, const char *domain)
{
	const char *u;

	for (size_t i = 0; (u = users_name(d->users, i)) != NULL; i++) {
		const char *at = strchr(u, '@');

		if (domain == NULL ? is_local(d, at + 1)
				   : strcmp(at + 1, domain) == 0)
			return u;
	}
	return NULL;
}

static enum smtp_result
postmaster_fallback(struct owld *d, const char *name, struct aliases_exp *x,
		    const char *id, bool loud)
{
	const char *u = first_user(d, strchr(name, '@') + 1);

	if (u == NULL)
		u = first_user(d, NULL);
	if (u == NULL) {
		if (loud)
			log_msg(LOGL_ERROR, "smtp", "id=%s event=postmaster-"
				"nowhere rcpt=%s hint=\"add an alias "
				"postmaster or a user\"", id, name);
		return SMTP_R_TEMP;
	}
	aliases_exp_add_local(x, u);
	if (loud)
		log_msg(LOGL_INFO, "smtp", "id=%s event=postmaster-fallback "
			"rcpt=%s to=%s hint=\"owlctl alias add postmaster "
			"USER@DOMAIN\"", id, name, u);
	return SMTP_R_OK;
}

static bool
is_postmaster(const char *name)
{
	return strncmp(name, "postmaster@", 11) == 0;
}

enum smtp_result
owld_rcpt_route(struct owld *d, const char *name, bool refresh,
		struct aliases_exp *x, const char *id)
{
	struct aliases_hooks h = {
		.is_local = is_local, .is_user = is_user, .arg = d,
		.max_depth = d->conf->aliases_max_depth,
		.max_targets = d->conf->aliases_max_expansion,
	};
	size_t dropped = x->dropped;
	const char *err = NULL;
	enum aliases_res r;
	char q[600];

	if (refresh) {
		(void)users_refresh(d->users, &err); /* they log failures */
		(void)aliases_refresh(d->aliases, &err);
	}
	if (!users_ready(d->users))
		return SMTP_R_TEMP;
	r = aliases_expand(aliases_ready(d->aliases) ? d->aliases : NULL, &h,
			   name, x, &err);
	if (refresh && x->dropped > dropped)
		log_msg(LOGL_WARN, "smtp", "id=%s event=alias-target-unknown "
			"rcpt=%s target=%s", id, name,
			log_q(q, sizeof(q), x->last_dropped));
	if (r == ALIASES_OK)
		return SMTP_R_OK;
	if (refresh && r == ALIASES_TEMP)
		log_msg(LOGL_ERROR, "smtp", "id=%s event=alias-failed rcpt=%s "
			"error=%s", id, name, log_q(q, sizeof(q), err));
	if (!aliases_ready(d->aliases))
		return SMTP_R_TEMP; /* it may be an alias: ask again later */
	if (is_postmaster(name))
		return postmaster_fallback(d, name, x, id, refresh);
	return r == ALIASES_UNKNOWN ? SMTP_R_NOUSER : SMTP_R_TEMP;
}
