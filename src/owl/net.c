/*
 * owl/net - blocking client connections with optional TLS.  owl talks to
 * one server at a time and waits for each answer, so plain blocking
 * sockets with a receive/send timeout are all it needs.
 */
#include "owl.h"

#include <errno.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define RBUF 16384

struct owl_conn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	char rbuf[RBUF];
	size_t start;		/* the first octet not handed out yet */
	size_t rlen;		/* octets in rbuf */
};

static void
ssl_err(const char *what, char *err, size_t errsz)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "";

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	snprintf(err, errsz, "%s%s%s", what, buf[0] ? ": " : "", buf);
}

struct owl_conn *
owl_connect(const char *host, int port, char *err, size_t errsz)
{
	struct addrinfo hints = {0}, *res, *ai;
	struct timeval tv = {OWL_TIMEOUT, 0};
	char ps[16];
	int fd = -1, rc, saved = 0;
	struct owl_conn *c;

	hints.ai_socktype = SOCK_STREAM;
	hints.ai_family = AF_UNSPEC;
	snprintf(ps, sizeof(ps), "%d", port);
	rc = getaddrinfo(host, ps, &hints, &res);
	if (rc != 0) {
		snprintf(err, errsz, "%s: %s", host, gai_strerror(rc));
		return NULL;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd == -1) {
			saved = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1) {
		snprintf(err, errsz, "cannot connect to %s port %d: %s", host,
			 port, strerror(saved));
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	return c;
}

int
owl_conn_tls(struct owl_conn *c, const char *host, bool verify,
	     const char *cafile, char *err, size_t errsz)
{
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (c->ctx == NULL) {
		ssl_err("TLS", err, errsz);
		return -1;
	}
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	if (verify) {
		if ((cafile[0] != '\0' ?
		     SSL_CTX_load_verify_locations(c->ctx, cafile, NULL) :
		     SSL_CTX_set_default_verify_paths(c->ctx)) != 1) {
			ssl_err("cannot load the CA certificates", err, errsz);
			return -1;
		}
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	}
	c->ssl = SSL_new(c->ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		ssl_err("TLS", err, errsz);
		return -1;
	}
	SSL_set_tlsext_host_name(c->ssl, host);
	if (verify && SSL_set1_host(c->ssl, host) != 1) {
		ssl_err("TLS", err, errsz);
		return -1;
	}
	if (SSL_connect(c->ssl) != 1) {
		long v = SSL_get_verify_result(c->ssl);

		if (verify && v != X509_V_OK) {
			snprintf(err, errsz, "TLS: certificate verify failed: "
				 "%s", X509_verify_cert_error_string(v));
			ERR_clear_error();
		} else {
			ssl_err("TLS handshake failed", err, errsz);
		}
		return -1;
	}
	return 0;
}

const char *
owl_conn_tls_version(const struct owl_conn *c)
{
	return c->ssl != NULL ? SSL_get_version(c->ssl) : NULL;
}

int
owl_conn_write(struct owl_conn *c, const char *data, size_t len, char *err,
	       size_t errsz)
{
	while (len > 0) {
		ssize_t n;

		if (c->ssl != NULL) {
			int r = SSL_write(c->ssl, data,
					  len > 1 << 30 ? 1 << 30 : (int)len);

			if (r <= 0) {
				ssl_err("write failed", err, errsz);
				return -1;
			}
			n = r;
		} else {
			n = send(c->fd, data, len, MSG_NOSIGNAL);
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1) {
				snprintf(err, errsz, "write failed: %s",
					 errno == EAGAIN ? "timed out" :
					 strerror(errno));
				return -1;
			}
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int
owl_conn_read(struct owl_conn *c, const char **p, size_t *n, char *err,
	      size_t errsz)
{
	char *nl;
	size_t len;

	/* the buffer moves down only when a line has to be read in */
	while ((nl = memchr(c->rbuf + c->start, '\n', c->rlen - c->start)) ==
		       NULL &&
	       c->rlen - c->start < RBUF) {
		ssize_t r;

		if (c->start > 0) {
			memmove(c->rbuf, c->rbuf + c->start,
				c->rlen - c->start);
			c->rlen -= c->start;
			c->start = 0;
		}

		if (c->ssl != NULL) {
			int s;

			errno = 0;
			s = SSL_read(c->ssl, c->rbuf + c->rlen,
					 (int)(RBUF - c->rlen));

			if (s <= 0) {
				int e = SSL_get_error(c->ssl, s);

				if (e == SSL_ERROR_ZERO_RETURN)
					r = 0;
				else if (e == SSL_ERROR_SYSCALL &&
					 ERR_peek_error() == 0 && errno == 0)
					r = 0;
				else {
					ssl_err(errno == EAGAIN ?
						"read timed out" :
						"read failed", err, errsz);
					return -1;
				}
			} else {
				r = s;
			}
		} else {
			r = recv(c->fd, c->rbuf + c->rlen, RBUF - c->rlen, 0);
			if (r == -1 && errno == EINTR)
				continue;
			if (r == -1) {
				snprintf(err, errsz, "read failed: %s",
					 errno == EAGAIN ? "timed out" :
					 strerror(errno));
				return -1;
			}
		}
		if (r == 0) {
			if (c->rlen == 0)
				return 0;
			break; /* a last line without LF */
		}
		c->rlen += (size_t)r;
	}
	*p = c->rbuf + c->start;
	if (nl != NULL)
		len = (size_t)(nl - *p) + 1;
	else if (c->rlen - c->start == RBUF && c->rbuf[RBUF - 1] == '\r')
		len = RBUF - 1; /* keep the CR with its LF */
	else
		len = c->rlen - c->start;
	c->start += len;
	*n = len;
	return 1;
}

void
owl_conn_close(struct owl_conn **cp)
{
	struct owl_conn *c = *cp;

	if (c == NULL)
		return;
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	SSL_CTX_free(c->ctx);
	close(c->fd);
	free(c);
	*cp = NULL;
}
