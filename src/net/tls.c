/*
 * tls - see tls.h.
 */
#include "tls.h"

#include <arpa/inet.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
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

/* --- server: session tickets ------------------------------------- */

/* A ticket key: its name (sent in the ticket), cipher and MAC keys. */
struct tkey {
	unsigned char name[16], aes[32], hmac[32];
	time_t born;
	bool set;
};

/*
 * [0] seals new tickets, [1] (the one before) still opens them; shared by
 * every server context, so a reload's new context reads the old tickets.
 * Only the event loop's thread does handshakes.
 */
static struct tkey tkeys[2];
static unsigned tkey_life = 3600;	/* tls.session_timeout */

/* A new key every tkey_life; -1 if there is no randomness. */
static int
tkeys_rotate(time_t now)
{
	struct tkey k;

	if (tkeys[0].set && now - tkeys[0].born < (time_t)tkey_life)
		return 0;
	if (RAND_bytes(k.name, sizeof(k.name)) != 1 ||
	    RAND_bytes(k.aes, sizeof(k.aes)) != 1 ||
	    RAND_bytes(k.hmac, sizeof(k.hmac)) != 1)
		return -1;
	k.born = now;
	k.set = true;
	tkeys[1] = tkeys[0];
	tkeys[0] = k;
	OPENSSL_cleanse(&k, sizeof(k));
	return 0;
}

/* The key a ticket names, if it may still open it. */
static const struct tkey *
tkey_find(const unsigned char *name, time_t now)
{
	for (size_t i = 0; i < 2; i++)
		if (tkeys[i].set && memcmp(tkeys[i].name, name, 16) == 0 &&
		    now - tkeys[i].born < 2 * (time_t)tkey_life)
			return &tkeys[i];
	return NULL;
}

/*
 * OpenSSL's ticket callback (SSL_CTX_set_tlsext_ticket_key_evp_cb): seal
 * with the current key (enc), or open with the one the ticket names: 1,
 * 2 (the key before: a new ticket is sent), 0 (unknown: full handshake),
 * -1 (error).
 */
static int
ticket_cb(SSL *ssl, unsigned char name[16], unsigned char *iv,
	  EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	time_t now = time(NULL);
	const struct tkey *k;
	OSSL_PARAM params[3];
	int ret = 1;

	(void)ssl;
	if (tkeys_rotate(now) == -1)
		return enc ? -1 : 0;
	if (enc) {
		k = &tkeys[0];
		memcpy(name, k->name, 16);
		if (RAND_bytes(iv, 16) != 1 ||
		    EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes,
				       iv) != 1)
			return -1;
	} else {
		if ((k = tkey_find(name, now)) == NULL)
			return 0;
		ret = k == &tkeys[0] ? 1 : 2;
		if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes,
				       iv) != 1)
			return -1;
	}
	params[0] = OSSL_PARAM_construct_octet_string(
		OSSL_MAC_PARAM_KEY, (void *)(uintptr_t)k->hmac,
		sizeof(k->hmac));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						     (char *)"SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	if (EVP_MAC_CTX_set_params(hctx, params) != 1)
		return -1;
	return ret;
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
	/* resumption: tickets with our keys, no session cache (see tls.h) */
	tkey_life = c->tls_session_timeout;
	SSL_CTX_set_timeout(ctx, (long)c->tls_session_timeout);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
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

/* --- client: one session per destination -------------------------- */

struct cached {
	char *key;
	SSL_SESSION *sess;
};

struct cache {
	struct cached *v;
	size_t n, max;
	size_t next;		/* the slot replaced when full */
};

static int cache_idx = -1;	/* SSL_CTX ex data: struct cache */
static int key_idx = -1;	/* SSL ex data: its destination key */

static void
cache_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
	   void *argp)
{
	struct cache *cc = ptr;

	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	if (cc == NULL)
		return;
	for (size_t i = 0; i < cc->n; i++) {
		free(cc->v[i].key);
		SSL_SESSION_free(cc->v[i].sess);
	}
	free(cc->v);
	free(cc);
}

static void
key_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
	 void *argp)
{
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	free(ptr);
}

static struct cached *
cache_find(struct cache *cc, const char *key)
{
	for (size_t i = 0; i < cc->n; i++)
		if (strcmp(cc->v[i].key, key) == 0)
			return &cc->v[i];
	return NULL;
}

/* OpenSSL has a new session (after the handshake, or a TLS 1.3 ticket). */
static int
new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct cache *cc = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl),
					       cache_idx);
	const char *key = SSL_get_ex_data(ssl, key_idx);
	struct cached *slot;

	if (cc == NULL || key == NULL || !SSL_SESSION_is_resumable(sess))
		return 0;
	if ((slot = cache_find(cc, key)) == NULL) {
		if (cc->n < cc->max) {
			slot = &cc->v[cc->n++];
		} else {
			slot = &cc->v[cc->next];
			cc->next = (cc->next + 1) % cc->max;
			free(slot->key);
		}
		slot->key = xstrdup(key);
		slot->sess = NULL;
	}
	SSL_SESSION_free(slot->sess);
	slot->sess = sess;
	return 1;		/* the reference is ours */
}

/* Keeps sessions per destination in ctx (at most max). */
static int
cache_attach(SSL_CTX *ctx, size_t max)
{
	struct cache *cc;

	if (cache_idx == -1)
		cache_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
						     cache_free);
	if (key_idx == -1)
		key_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, key_free);
	if (cache_idx == -1 || key_idx == -1)
		return -1;
	cc = xcalloc(1, sizeof(*cc));
	cc->max = max;
	cc->v = xcalloc(max, sizeof(*cc->v));
	if (SSL_CTX_set_ex_data(ctx, cache_idx, cc) != 1) {
		cache_free(NULL, cc, NULL, 0, 0, NULL);
		return -1;
	}
	SSL_CTX_set_session_cache_mode(
		ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
	return 0;
}

/* Offers the session kept for key, if one is and it has not expired. */
static void
cache_resume(SSL *ssl, const char *key)
{
	struct cache *cc = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl),
					       cache_idx);
	struct cached *slot;
	char *k;

	if (cc == NULL || key == NULL)
		return;
	k = xstrdup(key);
	if (SSL_set_ex_data(ssl, key_idx, k) != 1) {
		free(k);
		return;
	}
	if ((slot = cache_find(cc, key)) == NULL || slot->sess == NULL)
		return;
	if (SSL_SESSION_get_time(slot->sess) +
		    SSL_SESSION_get_timeout(slot->sess) <=
	    (long)time(NULL)) {
		SSL_SESSION_free(slot->sess);
		slot->sess = NULL;
		return;
	}
	(void)SSL_set_session(ssl, slot->sess); /* else a full handshake */
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
	if (c->relay_tls_cache_size > 0 &&
	    cache_attach(ctx, c->relay_tls_cache_size) == -1)
		return ctx_fail(ctx, "the TLS session cache", NULL, err,
				errsz);
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
tls_client_ssl(SSL_CTX *ctx, const char *host, const char *key)
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
	cache_resume(ssl, key);
	return ssl;
fail:
	SSL_free(ssl);
	return NULL;
}
