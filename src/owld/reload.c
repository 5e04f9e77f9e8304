/*
 * reload - what SIGHUP and "owlctl reload" do, without a restart: reopen
 * the log (after logrotate), re-read the users and aliases files and the
 * DKIM keys of DATA_DIR/dkim (relay/signer.h), load tls.cert and tls.key
 * again, and end the relay's cached sessions (new ones are made after the
 * reload).  New connections get the new pair;
 * sessions already in TLS keep the one they shook hands with (each SSL
 * holds a reference on its context, so the old context lives until the
 * last of them ends).  A pair that cannot be loaded (missing, unreadable
 * by the user owld runs as, not matching, not PEM) keeps the old one and
 * is logged (event=tls-reload-failed); the other keys of the
 * configuration are not re-read.  systemd hears RELOADING=1 and READY=1
 * around it (notify.c).
 */
#include <openssl/ssl.h>
#include <stdio.h>
#include <sys/socket.h>

#include "../lib/log.h"
#include "../net/tls.h"
#include "../relay/relay.h"
#include "../relay/signer.h"
#include "owld.h"

/* " tls=reloaded not_after=... sha256=..." or " tls=kept ..."; -1 if kept. */
static int
reload_tls(struct owld *d, char *out, size_t size)
{
	char err[512], fp[65];
	long long not_after;
	SSL_CTX *ctx;

	if (d->tls == NULL) {
		/* no TLS at start: turning it on needs the TLS listeners,
		 * which are bound once; that takes a restart */
		snprintf(out, size, " tls=off");
		return 0;
	}
	if ((ctx = tls_server_ctx(d->conf, err, sizeof(err))) == NULL) {
		log_msg(LOGL_ERROR, "main", "event=tls-reload-failed "
			"error=\"%s\" using=old", err);
		snprintf(out, size, " tls=kept tls_error=\"%s\"", err);
		return -1;
	}
	SSL_CTX_free(d->tls);	/* sessions in TLS hold their own reference */
	d->tls = ctx;
	if (tls_ctx_cert_info(ctx, &not_after, fp, sizeof(fp)) == 0)
		snprintf(out, size, " tls=reloaded not_after=%lld sha256=%s",
			 not_after, fp);
	else
		snprintf(out, size, " tls=reloaded");
	return 0;
}

int
owld_reload(struct owld *d, char *summary, size_t size)
{
	char tls[700];
	const char *err;
	int rc;

	/* a reload during a stop is done, but systemd hears only STOPPING */
	if (!d->stopping)
		owld_notify_reloading();
	log_reopen();
	/* each logs what it loaded, or why it kept the last good copy */
	(void)users_refresh(d->users, &err);
	(void)aliases_refresh(d->aliases, &err);
	rc = reload_tls(d, tls, sizeof(tls));
	if (d->relay != NULL)
		relay_reload(d->relay); /* cached sessions end */
	snprintf(summary, size, "users=%zu aliases=%zu%s dkim_domains=%zu",
		 users_count(d->users), aliases_count(d->aliases), tls,
		 signer_load(d->conf));
	log_msg(rc == 0 ? LOGL_INFO : LOGL_WARN, "main", "event=reload %s",
		summary);
	if (!d->stopping)
		owld_notify("READY=1");
	return rc;
}
