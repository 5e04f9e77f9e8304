/*
 * sess_tls - what the SMTP and POP3 sessions share about TLS: starting it
 * on a connection, whether a login may be made in the clear, and the log
 * words for it.
 */
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "../lib/cidr.h"
#include "../lib/log.h"
#include "../net/conn.h"
#include "owld.h"

void
owld_tls_start(struct owld *d, struct conn *c)
{
	SSL *ssl;

	if (d->tls == NULL || (ssl = SSL_new(d->tls)) == NULL) {
		conn_close(c, "tls-failed");
		return;
	}
	conn_handshake_timeout(c, d->conf->tls_handshake_timeout);
	conn_starttls(c, ssl, true);
}

bool
owld_plain_auth(const struct owld *d, int fd)
{
	enum conf_plaintext v = d->conf->auth_allow_plaintext;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (v == CONF_PLAIN_YES)
		return true;
	if (v == CONF_PLAIN_NO)
		return false;
	/* a connection to one of our loopback addresses */
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return false;
	return cidr_match("127.0.0.0/8, ::1", (const struct sockaddr *)&ss);
}

void
owld_tls_secured(const char *proto, const char *id, const struct conn *c)
{
	size_t n = conn_tls_discarded(c);

	log_msg(n > 0 ? LOGL_WARN : LOGL_INFO, proto,
		"id=%s event=tls version=%s cipher=%s%s", id,
		conn_tls_version(c), conn_tls_cipher(c),
		n > 0 ? " discarded-cleartext=yes" : "");
}

const char *
owld_tls_words(const struct conn *c, char *out, size_t size)
{
	const char *err = conn_tls_error(c);

	if (conn_tls_version(c) != NULL)
		snprintf(out, size, " tls=%s cipher=%s", conn_tls_version(c),
			 conn_tls_cipher(c));
	else if (err[0] != '\0')
		snprintf(out, size, " tls=failed tls_error=\"%s\"", err);
	else
		snprintf(out, size, " tls=no");
	return out;
}
