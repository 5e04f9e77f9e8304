/*
 * dkim_key - DKIM keys on OpenSSL 3's EVP: private keys from PEM or made
 * new, public keys from a DNS record's p=, the record text to publish,
 * and the signature primitives.  RSA signs the canonical headers with
 * SHA-256 and PKCS#1 v1.5; Ed25519 (RFC 8463) signs their SHA-256 digest.
 * Errors are static texts; OpenSSL's error queue is cleared after each
 * failure so it never leaks into an unrelated caller (TLS).
 *
 * Public keys parsed from records are kept (keycache below): a verifier
 * meets the same few keys again and again (each sending domain's
 * selector), and OpenSSL 3's d2i_PUBKEY sets up a decoder each time,
 * about 1.4 million instructions, more than three RSA-2048
 * verifications.  The cache is the one state of this file: a mutex, at
 * most KEYCACHE_MAX keys of at most KEYCACHE_DER_MAX octets, the least
 * recently used replaced; a key is shared by reference (EVP_PKEY_up_ref),
 * which OpenSSL allows across threads for verification.
 */
#include "dkim_private.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/b64.h"

static int
key_fail(const char *why, const char **error_r)
{
	ERR_clear_error();
	*error_r = why;
	return -1;
}

/* Fills algo and bits from pkey and checks its size for signing. */
static int
key_kind(EVP_PKEY *pkey, unsigned min_bits, struct dkim_key **key_r,
	 const char **error_r)
{
	struct dkim_key *k;
	int id = EVP_PKEY_get_base_id(pkey);
	unsigned bits = (unsigned)EVP_PKEY_get_bits(pkey);

	if (id != EVP_PKEY_RSA && id != EVP_PKEY_ED25519) {
		EVP_PKEY_free(pkey);
		return key_fail("not an RSA or Ed25519 key", error_r);
	}
	if (id == EVP_PKEY_RSA && (bits < min_bits ||
				   bits > DKIM_RSA_MAX_BITS)) {
		EVP_PKEY_free(pkey);
		return key_fail(bits < min_bits ? "RSA key too small"
						: "RSA key too large",
				error_r);
	}
	k = xcalloc(1, sizeof(*k));
	k->pkey = pkey;
	k->algo = id == EVP_PKEY_RSA ? DKIM_RSA_SHA256 : DKIM_ED25519_SHA256;
	k->bits = bits;
	*key_r = k;
	return 0;
}

int
dkim_key_private(const char *pem, size_t len, struct dkim_key **key_r,
		 const char **error_r)
{
	BIO *bio;
	EVP_PKEY *pkey;

	if (len > 64 * 1024)
		return key_fail("key file too large", error_r);
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL)
		return key_fail("out of memory", error_r);
	pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (pkey == NULL)
		return key_fail("not a PEM private key", error_r);
	return key_kind(pkey, DKIM_SIGN_RSA_MIN_BITS, key_r, error_r);
}

int
dkim_key_generate(enum dkim_algo algo, struct dkim_key **key_r,
		  const char **error_r)
{
	EVP_PKEY *pkey = algo == DKIM_RSA_SHA256
				 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
						     (size_t)DKIM_SIGN_RSA_BITS)
				 : EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

	if (pkey == NULL)
		return key_fail("key generation failed", error_r);
	return key_kind(pkey, DKIM_SIGN_RSA_MIN_BITS, key_r, error_r);
}

int
dkim_key_pem(const struct dkim_key *key, struct buf *out)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p;
	long n;
	int rc = -1;

	if (bio == NULL)
		return -1;
	if (PEM_write_bio_PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL,
				     NULL) == 1 &&
	    (n = BIO_get_mem_data(bio, &p)) > 0)
		rc = buf_add(out, p, (size_t)n);
	BIO_free(bio);
	ERR_clear_error();
	return rc;
}

/* The p= value: SubjectPublicKeyInfo (RSA) or the raw 32 octets. */
static int
public_b64(const struct dkim_key *key, struct buf *out)
{
	unsigned char raw[2048], *q = raw;
	char b64[4096];
	size_t n = sizeof(raw);
	int len;

	if (key->algo == DKIM_ED25519_SHA256) {
		if (EVP_PKEY_get_raw_public_key(key->pkey, raw, &n) != 1)
			return -1;
	} else {
		if ((len = i2d_PUBKEY(key->pkey, NULL)) <= 0 ||
		    (size_t)len > sizeof(raw) ||
		    i2d_PUBKEY(key->pkey, &q) != len)
			return -1;
		n = (size_t)len;
	}
	if (b64_encode((const char *)raw, n, b64, sizeof(b64)) == -1)
		return -1;
	return buf_addstr(out, b64);
}

int
dkim_key_record(const struct dkim_key *key, struct buf *out)
{
	const char *k = key->algo == DKIM_RSA_SHA256 ? "rsa" : "ed25519";

	if (buf_printf(out, "v=DKIM1; k=%s; p=", k) == -1 ||
	    public_b64(key, out) == -1) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

enum dkim_algo
dkim_key_algo(const struct dkim_key *key)
{
	return key->algo;
}

unsigned
dkim_key_bits(const struct dkim_key *key)
{
	return key->bits;
}

void
dkim_key_free(struct dkim_key **key)
{
	if (*key == NULL)
		return;
	EVP_PKEY_free((*key)->pkey);
	free(*key);
	*key = NULL;
}

int
dkim_b64_decode(const char *in, size_t len, unsigned char *out, size_t size,
		size_t *outlen)
{
	char tmp[4 * DKIM_SIG_MAX + 16];
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (n == sizeof(tmp))
			return -1;
		tmp[n++] = c;
	}
	return b64_decode(tmp, n, (char *)out, size, outlen);
}

#define KEYCACHE_MAX 64
#define KEYCACHE_DER_MAX 1200	/* an 8192-bit RSA SubjectPublicKeyInfo */

static struct kc_entry {
	enum dkim_algo algo;
	unsigned char *der;
	size_t n;
	EVP_PKEY *pkey;
	uint64_t used;
} keycache[KEYCACHE_MAX];
static uint64_t keycache_clock;
static pthread_mutex_t keycache_mu = PTHREAD_MUTEX_INITIALIZER;

/* A new reference to the key parsed from der before, or NULL. */
static EVP_PKEY *
keycache_get(enum dkim_algo algo, const unsigned char *der, size_t n)
{
	EVP_PKEY *pkey = NULL;

	pthread_mutex_lock(&keycache_mu);
	for (size_t i = 0; i < KEYCACHE_MAX; i++) {
		struct kc_entry *e = &keycache[i];

		if (e->pkey != NULL && e->algo == algo && e->n == n &&
		    memcmp(e->der, der, n) == 0 &&
		    EVP_PKEY_up_ref(e->pkey) == 1) {
			e->used = ++keycache_clock;
			pkey = e->pkey;
			break;
		}
	}
	pthread_mutex_unlock(&keycache_mu);
	return pkey;
}

/* Keeps a reference to pkey, parsed from der, in the least used slot. */
static void
keycache_put(enum dkim_algo algo, const unsigned char *der, size_t n,
	     EVP_PKEY *pkey)
{
	struct kc_entry *e = &keycache[0];
	unsigned char *copy;

	if (n > KEYCACHE_DER_MAX || (copy = malloc(n)) == NULL)
		return;
	if (EVP_PKEY_up_ref(pkey) != 1) {
		free(copy);
		return;
	}
	memcpy(copy, der, n);
	pthread_mutex_lock(&keycache_mu);
	for (size_t i = 1; i < KEYCACHE_MAX && e->pkey != NULL; i++)
		if (keycache[i].pkey == NULL || keycache[i].used < e->used)
			e = &keycache[i];
	EVP_PKEY_free(e->pkey);
	free(e->der);
	*e = (struct kc_entry){algo, copy, n, pkey, ++keycache_clock};
	pthread_mutex_unlock(&keycache_mu);
}

void
dkim_key_cache_clear(void)
{
	pthread_mutex_lock(&keycache_mu);
	for (size_t i = 0; i < KEYCACHE_MAX; i++) {
		EVP_PKEY_free(keycache[i].pkey);
		free(keycache[i].der);
		keycache[i] = (struct kc_entry){0};
	}
	pthread_mutex_unlock(&keycache_mu);
}

/* The key of der as k= says (SubjectPublicKeyInfo or RSAPublicKey). */
static EVP_PKEY *
parse_public(enum dkim_algo algo, const unsigned char *der, size_t n,
	     const char **error_r)
{
	const unsigned char *q = der;
	EVP_PKEY *pkey;

	if (algo == DKIM_ED25519_SHA256) {
		if (n != 32) {
			key_fail("an Ed25519 key is 32 octets", error_r);
			return NULL;
		}
		pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
						   der, n);
	} else {
		/* SubjectPublicKeyInfo, or a bare RSAPublicKey as some
		 * publish it */
		pkey = d2i_PUBKEY(NULL, &q, (long)n);
		if (pkey == NULL) {
			q = der;
			pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, (long)n);
		}
		if (pkey != NULL &&
		    EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
			EVP_PKEY_free(pkey);
			key_fail("the key is not RSA as k= says", error_r);
			return NULL;
		}
	}
	if (pkey == NULL)
		key_fail("the key's p= is not a public key", error_r);
	return pkey;
}

int
dkim_key_public(enum dkim_algo algo, const char *b64, size_t len,
		struct dkim_key **key_r, const char **error_r)
{
	unsigned char der[2 * DKIM_SIG_MAX + 64];
	EVP_PKEY *pkey;
	size_t n;

	if (dkim_b64_decode(b64, len, der, sizeof(der), &n) == -1)
		return key_fail("the key's p= is not base64", error_r);
	if ((pkey = keycache_get(algo, der, n)) == NULL) {
		if ((pkey = parse_public(algo, der, n, error_r)) == NULL)
			return -1;
		keycache_put(algo, der, n, pkey);
	}
	return key_kind(pkey, DKIM_RSA_MIN_BITS, key_r, error_r);
}

static bool
sha256(const char *data, size_t len, unsigned char *md)
{
	unsigned int n;

	return EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) == 1;
}

int
dkim_key_sign(const struct dkim_key *key, const char *data, size_t len,
	      unsigned char *sig, size_t *siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[32];
	int ok = 0;

	*siglen = DKIM_SIG_MAX;
	if (ctx == NULL)
		return -1;
	if (key->algo == DKIM_RSA_SHA256)
		ok = EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL,
					key->pkey) == 1 &&
		     EVP_DigestSign(ctx, sig, siglen,
				    (const unsigned char *)data, len) == 1;
	else
		ok = sha256(data, len, md) &&
		     EVP_DigestSignInit(ctx, NULL, NULL, NULL, key->pkey) ==
			     1 &&
		     EVP_DigestSign(ctx, sig, siglen, md, sizeof(md)) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		ERR_clear_error();
	return ok ? 0 : -1;
}

bool
dkim_key_verify(const struct dkim_key *key, const char *data, size_t len,
		const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[32];
	bool ok = false;

	if (ctx == NULL)
		return false;
	if (key->algo == DKIM_RSA_SHA256)
		ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL,
					  key->pkey) == 1 &&
		     EVP_DigestVerify(ctx, sig, siglen,
				      (const unsigned char *)data, len) == 1;
	else
		ok = sha256(data, len, md) &&
		     EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key->pkey) ==
			     1 &&
		     EVP_DigestVerify(ctx, sig, siglen, md, sizeof(md)) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}
