/*
 * sess_tls - what the SMTP and POP3 sessions share about TLS: starting it
 * on a connection, whether a login may be made in the clear, and the log
 * words for it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "../lib/log.h"
#include "../net/conn.h"
#include "owld.h"

bool
owld_tls_start(struct owld *d, struct conn *c)
{
	SSL *ssl;

	if (d->tls == NULL || (ssl = SSL_new(d->tls)) == NULL)
		return false;
	conn_starttls(c, ssl, true);
	return true;
}

/* A connection to one of our loopback addresses. */
static bool
local_is_loopback(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return false;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)&ss;

		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)&ss;

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			return s6->sin6_addr.s6_addr[12] == 127;
		return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
	}
	return ss.ss_family == AF_UNIX;
}

bool
owld_plain_auth(const struct owld *d, int fd)
{
	const char *v = d->conf->auth_allow_plaintext;

	if (strcmp(v, "yes") == 0)
		return true;
	if (strcmp(v, "no") == 0)
		return false;
	return local_is_loopback(fd);
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
