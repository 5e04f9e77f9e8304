/*
 * tls - OpenSSL contexts for owld's listeners and for the relay.  The
 * connections themselves are switched to TLS by conn_starttls(), on
 * libevent's OpenSSL filter.
 *
 * Resumption.  Server: session tickets (RFC 5077, RFC 8446 4.6.1) sealed
 * with owld's own keys, which every server context shares, so tickets
 * survive a reload: a new key every tls.session_timeout, the one before
 * still opening tickets for another tls.session_timeout (a ticket lives
 * tls.session_timeout).  No server-side session cache: it would hold a
 * session per full handshake for tls.session_timeout (OpenSSL's default
 * bound is 20,480) for the rare client without tickets.  Keys are random
 * and only in memory: a restart
 * forgets them (clients do a full handshake).  Client (the relay): the
 * last session of each destination (up to relay.tls.session_cache_size of
 * them, the oldest replaced) is offered again on its next connection.
 * A failure in any of this costs a full handshake, never a connection.
 */
#ifndef OWL_TLS_H
#define OWL_TLS_H

#include <stdbool.h>
#include <stddef.h>

struct conf;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

/*
 * The server context from tls.cert, tls.key, tls.ciphers and
 * tls.min_version; NULL with a one-line reason in err.
 */
SSL_CTX *tls_server_ctx(const struct conf *c, char *err, size_t errsz);
/*
 * The certificate a server context serves: its notAfter as a time_t in
 * *not_after_r and its SHA-256 fingerprint as lower-case hex (65 octets
 * with the NUL) in fp; -1 if ctx holds none.  For the reload log line
 * and owlctl status.
 */
int tls_ctx_cert_info(SSL_CTX *ctx, long long *not_after_r, char *fp,
		      size_t fpsize);
/*
 * The relay's client context: verify checks the server's certificate
 * against relay.tls.ca (or the system store when empty).
 */
SSL_CTX *tls_client_ctx(const struct conf *c, bool verify, char *err,
			size_t errsz);
/*
 * A client SSL for host (SNI; when ctx verifies, also the name the
 * certificate must carry), resuming the session last made under key
 * (the destination: host, address and port) if ctx keeps one, and
 * keeping the new one; key NULL: none.  NULL on failure.
 */
SSL *tls_client_ssl(SSL_CTX *ctx, const char *host, const char *key);
/* The oldest queued OpenSSL error as text ("" if none); clears the queue. */
void tls_error_text(char *out, size_t size);

#endif
