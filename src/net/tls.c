/*
 * tls - see tls.h.
 */
#include "tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../lib/buf.h"
#include "../lib/conf.h"

void
tls_error_text(char *out, size_t size)
{
	unsigned long e = ERR_get_error();

	if (size == 0)
		return;
	out[0] = '\0';
	if (e != 0)
		ERR_error_string_n(e, out, size);
	ERR_clear_error();
}

static int
min_version(const struct conf *c)
{
	return c->tls_min_version == CONF_TLS_1_3 ? TLS1_3_VERSION
						  : TLS1_2_VERSION;
}

static SSL_CTX *
ctx_fail(SSL_CTX *ctx, const char *what, const char *file, char *err,
	 size_t errsz)
{
	char e[200];

	tls_error_text(e, sizeof(e));
	if (file != NULL)
		snprintf(err, errsz, "%s %s: %s", what, file, e);
	else
		snprintf(err, errsz, "%s: %s", what, e);
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *
tls_server_ctx(const struct conf *c, char *err, size_t errsz)
{
	static const unsigned char sid[] = "owlpost";
	SSL_CTX *ctx;

	if (c->tls_cert[0] == '\0' || c->tls_key[0] == '\0') {
		snprintf(err, errsz, "tls.cert and tls.key must both be set");
		return NULL;
	}
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		return ctx_fail(ctx, "SSL_CTX_new", NULL, err, errsz);
	SSL_CTX_set_min_proto_version(ctx, min_version(c));
	/*
	 * No renegotiation (a client could make us do handshakes for free)
	 * and no compression (CRIME); our cipher order wins.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
				 SSL_OP_NO_COMPRESSION |
				 SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_dh_auto(ctx, 1);
	SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
	if (SSL_CTX_set_cipher_list(ctx, c->tls_ciphers) != 1)
		return ctx_fail(ctx, "tls.ciphers", c->tls_ciphers, err,
				errsz);
	if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert) != 1)
		return ctx_fail(ctx, "tls.cert", c->tls_cert, err, errsz);
	if (SSL_CTX_use_PrivateKey_file(ctx, c->tls_key, SSL_FILETYPE_PEM) !=
	    1)
		return ctx_fail(ctx, "tls.key", c->tls_key, err, errsz);
	if (SSL_CTX_check_private_key(ctx) != 1)
		return ctx_fail(ctx, "tls.key does not match tls.cert",
				c->tls_key, err, errsz);
	return ctx;
}

int
tls_ctx_cert_info(SSL_CTX *ctx, long long *not_after_r, char *fp,
		  size_t fpsize)
{
	X509 *x = ctx != NULL ? SSL_CTX_get0_certificate(ctx) : NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	struct tm tm;

	if (x == NULL || fpsize < 2 * 32 + 1 ||
	    ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1 ||
	    X509_digest(x, EVP_sha256(), md, &mdlen) != 1)
		return -1;
	*not_after_r = (long long)timegm(&tm);
	for (unsigned i = 0; i < mdlen && 2 * i + 2 < fpsize; i++)
		snprintf(fp + 2 * i, 3, "%02x", md[i]);
	return 0;
}

SSL_CTX *
tls_client_ctx(const struct conf *c, bool verify, char *err, size_t errsz)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return ctx_fail(ctx, "SSL_CTX_new", NULL, err, errsz);
	SSL_CTX_set_min_proto_version(ctx, min_version(c));
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
				 SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (!verify) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return ctx;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (c->relay_tls_ca[0] != '\0') {
		if (SSL_CTX_load_verify_locations(ctx, c->relay_tls_ca,
						  NULL) != 1)
			return ctx_fail(ctx, "relay.tls.ca", c->relay_tls_ca,
					err, errsz);
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		return ctx_fail(ctx, "the system CA store", NULL, err, errsz);
	}
	return ctx;
}

SSL *
tls_client_ssl(SSL_CTX *ctx, const char *host)
{
	bool verify = SSL_CTX_get_verify_mode(ctx) & SSL_VERIFY_PEER;
	unsigned char a[16];
	bool literal = inet_pton(AF_INET, host, a) == 1 ||
		       inet_pton(AF_INET6, host, a) == 1;
	SSL *ssl = SSL_new(ctx);

	if (ssl == NULL)
		return NULL;
	/* SNI takes names only (RFC 6066 3) */
	if (!literal && host[0] != '\0' &&
	    SSL_set_tlsext_host_name(ssl, host) != 1)
		goto fail;
	if (verify) {
		if (literal ? X509_VERIFY_PARAM_set1_ip_asc(
				      SSL_get0_param(ssl), host) != 1
			    : SSL_set1_host(ssl, host) != 1)
			goto fail;
	}
	return ssl;
fail:
	SSL_free(ssl);
	return NULL;
}
