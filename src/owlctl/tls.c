/*
 * owlctl tls selfsigned - a self-signed certificate for trying TLS out:
 * an EC P-256 key and a certificate for hostname, localhost, 127.0.0.1
 * and ::1, written to DATA_DIR/tls/ (the key 0600).  Clients must be told
 * to trust it (it is its own CA); for real use, get a certificate from a
 * CA such as Let's Encrypt and point tls.cert/tls.key at it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../net/tls.h"
#include "owlctl.h"

static int
add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if ((e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return -1;
	ok = X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok == 1 ? 0 : -1;
}

static X509 *
make_cert(EVP_PKEY *key, const char *host, long days)
{
	X509 *x = X509_new();
	X509_NAME *name;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	char san[600];

	if (x == NULL || RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] &= 0x7f; /* positive */
	if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto fail;
	BN_free(bn);
	bn = NULL;
	if (X509_set_version(x, 2) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL) ==
		    NULL ||
	    X509_set_pubkey(x, key) != 1)
		goto fail;
	name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
				       (const unsigned char *)"owlpost "
							      "self-signed",
				       -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				       (const unsigned char *)host, -1, -1,
				       0) != 1 ||
	    X509_set_issuer_name(x, name) != 1)
		goto fail;
	if (strcmp(host, "localhost") == 0)
		bsnprintf(san, sizeof(san),
			  "DNS:localhost,IP:127.0.0.1,IP:::1");
	else
		bsnprintf(san, sizeof(san),
			  "DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1", host);
	if (add_ext(x, NID_basic_constraints, "critical,CA:TRUE") == -1 ||
	    add_ext(x, NID_key_usage,
		    "critical,digitalSignature,keyCertSign") == -1 ||
	    add_ext(x, NID_ext_key_usage, "serverAuth") == -1 ||
	    add_ext(x, NID_subject_key_identifier, "hash") == -1 ||
	    add_ext(x, NID_authority_key_identifier, "keyid:always") == -1 ||
	    add_ext(x, NID_subject_alt_name, san) == -1)
		goto fail;
	if (X509_sign(x, key, EVP_sha256()) == 0)
		goto fail;
	return x;
fail:
	BN_free(bn);
	X509_free(x);
	return NULL;
}

/* Writes path.tmp with mode, then renames it over path. */
static int
write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert)
{
	char tmp[PATH_MAX];
	int fd, ok;
	FILE *fp;

	if (bsnprintf(tmp, sizeof(tmp), "%s.tmp", path) == -1)
		return -1;
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)) ==
	    -1)
		return -1;
	if ((fp = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	ok = key != NULL ? PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL,
						NULL)
			 : PEM_write_X509(fp, cert);
	if (fflush(fp) != 0 || fsync(fileno(fp)) != 0)
		ok = 0;
	if (fclose(fp) != 0)
		ok = 0;
	if (ok != 1 || rename(tmp, path) == -1) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

int
cmd_tls(const struct conf *c, int argc, char **argv)
{
	char dir[PATH_MAX], cpath[PATH_MAX], kpath[PATH_MAX];
	long days = 365;
	bool force = false;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int rc = 1;

	if (argc < 1 || strcmp(argv[0], "selfsigned") != 0)
		goto usage;
	for (int i = 1; i < argc; i++) {
		char *end;

		if (strcmp(argv[i], "--force") == 0) {
			force = true;
		} else if (strcmp(argv[i], "--days") == 0 && i + 1 < argc) {
			days = strtol(argv[++i], &end, 10);
			if (*end != '\0' || days < 1 || days > 3650)
				goto usage;
		} else {
			goto usage;
		}
	}
	if (bsnprintf(dir, sizeof(dir), "%s/tls", c->data_dir) == -1 ||
	    bsnprintf(cpath, sizeof(cpath), "%s/cert.pem", dir) == -1 ||
	    bsnprintf(kpath, sizeof(kpath), "%s/key.pem", dir) == -1) {
		fprintf(stderr, "owlctl: data_dir too long\n");
		return 1;
	}
	if (!force && (access(cpath, F_OK) == 0 || access(kpath, F_OK) == 0)) {
		fprintf(stderr, "owlctl: %s already exists (--force replaces "
			"it)\n", cpath);
		return 1;
	}
	if (mkdir(c->data_dir, 0755) == -1 && errno != EEXIST) {
		fprintf(stderr, "owlctl: %s: %s\n", c->data_dir,
			strerror(errno));
		return 1;
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		fprintf(stderr, "owlctl: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	if ((key = EVP_EC_gen("P-256")) == NULL ||
	    (cert = make_cert(key, c->hostname, days)) == NULL) {
		char e[200];

		tls_error_text(e, sizeof(e));
		fprintf(stderr, "owlctl: cannot make the certificate: %s\n", e);
		goto out;
	}
	if (write_pem(kpath, 0600, key, NULL) == -1 ||
	    write_pem(cpath, 0644, NULL, cert) == -1) {
		fprintf(stderr, "owlctl: cannot write %s: %s\n", dir,
			strerror(errno));
		goto out;
	}
	printf("wrote %s (for %s, %ld days) and %s\n"
	       "add to owld.conf (or pass with -o):\n"
	       "  tls.cert = %s\n  tls.key = %s\n"
	       "clients must be told to trust %s: it is self-signed\n",
	       cpath, c->hostname, days, kpath, cpath, kpath, cpath);
	rc = 0;
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
usage:
	fprintf(stderr, "usage: owlctl tls selfsigned [--days N] [--force]\n");
	return 64;
}
