/*
 * owlctl dkim keygen DOMAIN [--selector S] [--algo rsa|ed25519] [--force]
 * - a DKIM signing key for DOMAIN, written to DATA_DIR/dkim/DOMAIN.S.key
 * (PEM, mode 0600, owned by the user owlctl runs as: owld's, see priv.c),
 * and the DNS TXT record to publish printed: its name and its value, cut
 * into strings of at most 255 octets (RFC 1035 character-strings; a
 * 2048-bit RSA key does not fit one).  An existing key is kept unless
 * --force is given (then replaced through a rename).  Exit 0, 64 usage,
 * 65 a bad domain or selector, 73 the key cannot be written.
 *
 * owlctl dkim verify --record TXT [FILE] - checks each DKIM-Signature of
 * a message (FILE or standard input, CRLF or LF, at most smtp.max_size)
 * against the key record given, as owld will once it looks records up:
 * one line per signature, exit 0 if one passed, 1 if none did.
 *
 * owlctl dkim bench [--algo rsa|ed25519] [--count N] - the CPU time one
 * signature and one verification of a 4 KiB message take, with a key
 * made in memory: what owld spends per message it signs.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../msgauth/dkim.h"
#include "../store/fsops.h"
#include "owlctl.h"

#define DEFAULT_SELECTOR "owl"
#define TXT_STRING_MAX 255

/* A DNS name of letters, digits and '-' in dot-separated labels; lower
 * case in place.  Selectors have one label: their file name stays one
 * unambiguous DOMAIN.SELECTOR.key. */
static bool
dns_name_ok(char *s, bool one_label)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > DKIM_DOMAIN_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = s[i] = (char)(c + 32);
		if (c == '.') {
			if (one_label || label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-') || ++label > 63 || (label == 1 && c == '-'))
			return false;
	}
	return label > 0 && s[n - 1] != '-' &&
	       (!one_label || n <= DKIM_SELECTOR_MAX);
}

/* Writes text to path with mode 0600: new only, or replacing it. */
static int
write_key(const char *path, const struct buf *pem, bool force)
{
	char tmp[PATH_MAX];
	const char *target = path;
	int fd;

	if (force) {
		if (bsnprintf(tmp, sizeof(tmp), "%s.tmp", path) == -1)
			return -1;
		unlink(tmp);
		target = tmp;
	}
	fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	if (fsops_write_all(fd, pem->data, pem->len) == -1 ||
	    fsync(fd) == -1) {
		close(fd);
		unlink(target);
		return -1;
	}
	if (close(fd) == -1 || (force && rename(tmp, path) == -1)) {
		unlink(target);
		return -1;
	}
	return 0;
}

/* The record as zone-file strings of at most 255 octets. */
static void
print_record(const char *name, const char *rec)
{
	size_t n = strlen(rec);

	printf("%s IN TXT (", name);
	for (size_t i = 0; i < n; i += TXT_STRING_MAX)
		printf(" \"%.*s\"", (int)(n - i < TXT_STRING_MAX
						  ? n - i
						  : TXT_STRING_MAX),
		       rec + i);
	printf(" )\n");
}

static int
keygen(const struct conf *c, char *domain, char *selector,
       enum dkim_algo algo, bool force)
{
	char dir[PATH_MAX], path[PATH_MAX], name[512];
	struct buf *pem = buf_new(64 * 1024), *rec = buf_new(8192);
	struct dkim_key *key = NULL;
	const char *err;
	int rc = EX_CANTCREAT_CODE;

	if (!dns_name_ok(domain, false) || !dns_name_ok(selector, true)) {
		fprintf(stderr, "owlctl: bad %s\n",
			dns_name_ok(domain, false) ? "selector (one DNS label)"
						   : "domain");
		rc = EX_DATAERR_CODE;
		goto out;
	}
	if (bsnprintf(dir, sizeof(dir), "%s/dkim", c->data_dir) == -1 ||
	    bsnprintf(path, sizeof(path), "%s/%s.%s.key", dir, domain,
		      selector) == -1) {
		fprintf(stderr, "owlctl: data_dir too long\n");
		goto out;
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		fprintf(stderr, "owlctl: mkdir %s: %s\n", dir, strerror(errno));
		goto out;
	}
	if (!force && access(path, F_OK) == 0) {
		fprintf(stderr, "owlctl: %s exists (--force replaces it)\n",
			path);
		goto out;
	}
	if (dkim_key_generate(algo, &key, &err) == -1 ||
	    dkim_key_pem(key, pem) == -1 || dkim_key_record(key, rec) == -1) {
		fprintf(stderr, "owlctl: %s\n",
			key != NULL ? "key export failed" : err);
		rc = 1;
		goto out;
	}
	if (write_key(path, pem, force) == -1) {
		fprintf(stderr, "owlctl: write %s: %s\n", path,
			strerror(errno));
		goto out;
	}
	bsnprintf(name, sizeof(name), "%s._domainkey.%s.", selector, domain);
	printf("# %s: %s, %u bits; publish this TXT record, then reload "
	       "owld:\n", path, dkim_algo_name(algo), dkim_key_bits(key));
	print_record(name, rec->data);
	rc = 0;
out:
	dkim_key_free(&key);
	buf_free(&pem);
	buf_free(&rec);
	return rc;
}

/* CPU seconds of this process so far. */
static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A 4 KiB message as owld stores it: trace fields, headers, a body. */
static struct buf *
bench_message(size_t *hlen)
{
	struct buf *m = buf_new(8192);

	buf_addstr(m, "Return-Path: <alice@example.org>\n"
		      "Received: from client ([192.0.2.1])\n\tby "
		      "mx.example.org (owlpost) with ESMTPSA id 1;\n"
		      "\tThu, 03 Dec 2026 22:00:00 +0000\n"
		      "From: Alice <alice@example.org>\n"
		      "To: Bob <bob@example.net>\nSubject: a benchmark\n"
		      "Date: Thu, 03 Dec 2026 22:00:00 +0000\n"
		      "Message-ID: <bench@example.org>\nMIME-Version: 1.0\n"
		      "Content-Type: text/plain; charset=utf-8\n\n");
	*hlen = m->len;
	while (m->len < 4096)
		buf_addstr(m, "The quick brown fox jumps over the lazy dog, "
			      "again and again.\n");
	return m;
}

/* One signature of m: the field into out (reset first). */
static int
bench_sign(const struct dkim_key *key, const struct buf *m, size_t hlen,
	   struct buf *out)
{
	struct dkim_signer *s;
	const char *err;
	int rc;

	buf_reset(out);
	s = dkim_signer_new(key, "example.org", "bench", 1796335200, m->data,
			    hlen, &err);
	if (s == NULL)
		return -1;
	dkim_signer_body(s, m->data + hlen, m->len - hlen);
	rc = dkim_signer_finish(s, out, &err);
	dkim_signer_free(&s);
	return rc;
}

/* One verification of the signed message sm against rec: 0 if it passed. */
static int
bench_verify(const struct buf *sm, size_t hlen, const char *rec)
{
	struct dkim_sig_result r;
	struct dkim_verifier *v;
	const char *err;

	v = dkim_verifier_new(NULL, sm->data, hlen, 1796335200, &err);
	if (v == NULL)
		return -1;
	dkim_verifier_body(v, sm->data + hlen, sm->len - hlen);
	dkim_verifier_finish(v);
	dkim_verifier_check(v, 0, rec, strlen(rec), &r);
	dkim_verifier_free(&v);
	return r.res == DKIM_PASS ? 0 : -1;
}

static int
bench(enum dkim_algo algo, unsigned count)
{
	struct buf *m, *field = buf_new(16384), *sm = buf_new(16384);
	struct buf *rec = buf_new(8192);
	struct dkim_key *key = NULL;
	double t0, sign_s, verify_s;
	const char *err;
	size_t hlen;
	int rc = 1;

	m = bench_message(&hlen);
	if (dkim_key_generate(algo, &key, &err) == -1 ||
	    dkim_key_record(key, rec) == -1) {
		fprintf(stderr, "owlctl: %s\n", "key generation failed");
		goto out;
	}
	t0 = cpu_now();
	for (unsigned i = 0; i < count; i++)
		if (bench_sign(key, m, hlen, field) == -1)
			goto fail;
	sign_s = cpu_now() - t0;
	buf_add(sm, field->data, field->len);
	buf_add(sm, m->data, m->len);
	t0 = cpu_now();
	for (unsigned i = 0; i < count; i++)
		if (bench_verify(sm, hlen + field->len, rec->data) == -1)
			goto fail;
	verify_s = cpu_now() - t0;
	printf("%s (%u bits), %zu-octet message, %u each: sign %.3f ms CPU, "
	       "verify %.3f ms CPU per message\n", dkim_algo_name(algo),
	       dkim_key_bits(key), m->len, count, sign_s * 1e3 / count,
	       verify_s * 1e3 / count);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "owlctl: signing or verifying failed\n");
out:
	dkim_key_free(&key);
	buf_free(&m);
	buf_free(&field);
	buf_free(&sm);
	buf_free(&rec);
	return rc;
}

/* Reads all of fp, at most max octets; NULL if more or on error. */
static struct buf *
read_all(FILE *fp, size_t max)
{
	struct buf *b = buf_new(max);
	char chunk[65536];
	size_t n;

	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		if (buf_add(b, chunk, n) == -1) {
			buf_free(&b);
			return NULL;
		}
	if (ferror(fp))
		buf_free(&b);
	return b;
}

/* The header section's length: through its empty line, CRLF or LF. */
static size_t
head_len(const struct buf *m)
{
	for (size_t i = 0; i < m->len; i++) {
		if (m->data[i] != '\n')
			continue;
		if (i + 1 < m->len && m->data[i + 1] == '\n')
			return i + 2;
		if (i + 2 < m->len && m->data[i + 1] == '\r' &&
		    m->data[i + 2] == '\n')
			return i + 3;
	}
	return m->len;
}

static int
verify(const struct conf *c, const char *record, const char *file)
{
	FILE *fp = file != NULL ? fopen(file, "rb") : stdin;
	struct dkim_sig_result r;
	struct dkim_verifier *v;
	struct buf *m;
	const char *err;
	size_t hlen, passed = 0;

	if (fp == NULL) {
		fprintf(stderr, "owlctl: %s: %s\n", file, strerror(errno));
		return 1;
	}
	m = read_all(fp, c->smtp_max_size);
	if (fp != stdin)
		fclose(fp);
	if (m == NULL) {
		fprintf(stderr, "owlctl: the message cannot be read or is over "
				"smtp.max_size\n");
		return 1;
	}
	hlen = head_len(m);
	if ((v = dkim_verifier_new(NULL, m->data, hlen, (int64_t)time(NULL),
				   &err)) == NULL) {
		fprintf(stderr, "owlctl: %s\n", err);
		buf_free(&m);
		return 1;
	}
	dkim_verifier_body(v, m->data + hlen, m->len - hlen);
	dkim_verifier_finish(v);
	for (size_t i = 0; i < dkim_verifier_count(v); i++) {
		dkim_verifier_check(v, i, record, strlen(record), &r);
		printf("signature %zu: %s d=%s s=%s a=%s%s%s%s\n", i + 1,
		       dkim_result_name(r.res), r.domain, r.selector,
		       dkim_algo_name(r.algo), r.partial ? " l=partial" : "",
		       r.why[0] != '\0' ? " why=" : "", r.why);
		passed += r.res == DKIM_PASS;
	}
	if (dkim_verifier_count(v) == 0)
		printf("no DKIM-Signature\n");
	dkim_verifier_free(&v);
	buf_free(&m);
	return passed > 0 ? 0 : 1;
}

int
cmd_dkim(const struct conf *c, int argc, char **argv)
{
	static const struct option lopts[] = {
		{"selector", required_argument, NULL, 's'},
		{"algo", required_argument, NULL, 'a'},
		{"force", no_argument, NULL, 'f'},
		{"count", required_argument, NULL, 'n'},
		{"record", required_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	char selector[DKIM_SELECTOR_MAX + 2] = DEFAULT_SELECTOR;
	char domain[DKIM_DOMAIN_MAX + 2];
	enum dkim_algo algo = DKIM_RSA_SHA256;
	bool force = false, is_bench, is_verify;
	const char *record = NULL;
	unsigned long count = 200;
	char *end;
	int ch;

	if (argc < 1 || (strcmp(argv[0], "keygen") != 0 &&
			 strcmp(argv[0], "bench") != 0 &&
			 strcmp(argv[0], "verify") != 0))
		goto usage;
	is_bench = strcmp(argv[0], "bench") == 0;
	is_verify = strcmp(argv[0], "verify") == 0;
	optind = 0; /* GNU getopt: start afresh (main used "+") */
	while ((ch = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (bsnprintf(selector, sizeof(selector), "%s",
				      optarg) == -1)
				goto usage;
			break;
		case 'a':
			if (strcmp(optarg, "rsa") == 0)
				algo = DKIM_RSA_SHA256;
			else if (strcmp(optarg, "ed25519") == 0)
				algo = DKIM_ED25519_SHA256;
			else
				goto usage;
			break;
		case 'f': force = true; break;
		case 'r': record = optarg; break;
		case 'n':
			count = strtoul(optarg, &end, 10);
			if (*end != '\0' || count == 0 || count > 1000000)
				goto usage;
			break;
		default: goto usage;
		}
	}
	if (is_verify && record != NULL && optind >= argc - 1)
		return verify(c, record, optind < argc ? argv[optind] : NULL);
	if (is_verify || (is_bench && optind != argc))
		goto usage;
	if (is_bench)
		return bench(algo, (unsigned)count);
	if (optind != argc - 1 ||
	    bsnprintf(domain, sizeof(domain), "%s", argv[optind]) == -1)
		goto usage;
	return keygen(c, domain, selector, algo, force);
usage:
	fprintf(stderr, "usage: owlctl dkim keygen DOMAIN [--selector S] "
			"[--algo rsa|ed25519] [--force]\n"
			"       owlctl dkim verify --record TXT [FILE]\n"
			"       owlctl dkim bench [--algo rsa|ed25519] "
			"[--count N]\n");
	return 64;
}
