/*
 * dkim_sign - the signer (see dkim.h).  The header fields to sign are
 * canonicalized when the signer is made (the header section is complete
 * by then); the body is hashed as it comes; at the end the
 * DKIM-Signature field is built with an empty b=, appended canonicalized
 * to the headers' text, and that text is signed (RFC 6376 3.7, 5.5).
 */
#include "dkim_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/b64.h"
#include "dkim_canon.h"

/* RFC 6376 5.4.1: the fields a signer SHOULD sign when present. */
static const char *const SIGNED[] = {
	"from", "reply-to", "subject", "date", "to", "cc", "resent-date",
	"resent-from", "resent-to", "resent-cc", "in-reply-to", "references",
	"list-id", "list-help", "list-unsubscribe", "list-subscribe",
	"list-post", "list-owner", "list-archive", "message-id",
	"mime-version", "content-type", "content-transfer-encoding",
};
#define NSIGNED (sizeof(SIGNED) / sizeof(SIGNED[0]))
#define FOLD_AT 72

struct dkim_signer {
	const struct dkim_key *key;
	char domain[DKIM_DOMAIN_MAX + 1];
	char selector[DKIM_SELECTOR_MAX + 1];
	int64_t now;
	struct buf *hdata;	/* the signed fields, canonical */
	struct buf *hlist;	/* h=, folded */
	EVP_MD_CTX *body_sha;
	struct dkim_body body;
};

static void
body_out(void *arg, const char *p, size_t n)
{
	EVP_DigestUpdate((EVP_MD_CTX *)arg, p, n);
}

/* Letters, digits, '-', '_' and '.': nothing that could end a tag. */
static bool
name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.'))
			return false;
	}
	return true;
}

/* Adds name to h=, folding the line before it would pass FOLD_AT. */
static void
hlist_add(struct buf *h, const char *name, size_t *col)
{
	size_t n = strlen(name) + 1;

	if (h->len > 0) {
		if (*col + n > FOLD_AT) {
			buf_addstr(h, ":\n\t");
			*col = 8;
		} else {
			buf_addc(h, ':');
			(*col)++;
		}
	}
	buf_addstr(h, name);
	*col += n - 1;
}

/* The signed fields of hdr, each instance bottom up (RFC 6376 5.4.2). */
static int
pick_fields(struct dkim_signer *s, const struct dkim_hfield *f, size_t nf,
	    const char **error_r)
{
	size_t col = 10, froms = 0;

	for (size_t k = 0; k < NSIGNED; k++) {
		size_t nl = strlen(SIGNED[k]);

		for (size_t i = nf; i-- > 0;) {
			if (!dkim_canon_is(&f[i], SIGNED[k], nl))
				continue;
			if (dkim_canon_header(DKIM_RELAXED, f[i].p, f[i].len,
					      true, s->hdata) == -1) {
				*error_r = "the header section is too large";
				return -1;
			}
			hlist_add(s->hlist, SIGNED[k], &col);
			froms += k == 0;
		}
		if (k == 0 && froms == 0) {
			*error_r = "no From field to sign";
			return -1;
		}
		if (k == 0) /* once more: no From can be added unnoticed */
			hlist_add(s->hlist, "from", &col);
	}
	return 0;
}

struct dkim_signer *
dkim_signer_new(const struct dkim_key *key, const char *domain,
		const char *selector, int64_t now, const char *hdr,
		size_t hlen, const char **error_r)
{
	struct dkim_hfield *f;
	struct dkim_signer *s;
	size_t nf, body;

	if (!name_ok(domain, DKIM_DOMAIN_MAX) ||
	    !name_ok(selector, DKIM_SELECTOR_MAX)) {
		*error_r = "bad domain or selector";
		return NULL;
	}
	if (hlen > DKIM_HEADERS_MAX) {
		*error_r = "the header section is too large";
		return NULL;
	}
	f = xcalloc(DKIM_FIELDS_MAX, sizeof(*f));
	if (dkim_canon_split(hdr, hlen, f, DKIM_FIELDS_MAX, &nf, &body) ==
	    -1) {
		free(f);
		*error_r = "a header line that is not a field, or too many";
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->key = key;
	snprintf(s->domain, sizeof(s->domain), "%s", domain);
	snprintf(s->selector, sizeof(s->selector), "%s", selector);
	s->now = now;
	s->hdata = buf_new(2 * DKIM_HEADERS_MAX);
	s->hlist = buf_new(DKIM_HEADERS_MAX);
	if (pick_fields(s, f, nf, error_r) == -1) {
		free(f);
		dkim_signer_free(&s);
		return NULL;
	}
	free(f);
	s->body_sha = EVP_MD_CTX_new();
	if (s->body_sha == NULL ||
	    EVP_DigestInit_ex(s->body_sha, EVP_sha256(), NULL) != 1)
		abort(); /* out of memory, as xmalloc */
	dkim_body_init(&s->body, DKIM_RELAXED, UINT64_MAX, body_out,
		       s->body_sha);
	return s;
}

void
dkim_signer_body(struct dkim_signer *s, const char *p, size_t len)
{
	dkim_body_feed(&s->body, p, len);
}

/* Appends base64 text folded at FOLD_AT columns from col. */
static void
add_folded(struct buf *out, const char *t, size_t col)
{
	size_t n = strlen(t);

	while (n > 0) {
		size_t k = col + n > FOLD_AT ? FOLD_AT - col : n;

		buf_add(out, t, k);
		t += k;
		n -= k;
		if (n > 0)
			buf_addstr(out, "\n\t");
		col = 8;
	}
}

int
dkim_signer_finish(struct dkim_signer *s, struct buf *out,
		   const char **error_r)
{
	unsigned char bh[32], sig[DKIM_SIG_MAX];
	char bh64[64], sig64[2 * DKIM_SIG_MAX];
	struct buf *field = buf_new(DKIM_HEADERS_MAX + 8192);
	size_t siglen;
	int rc = -1;

	dkim_body_finish(&s->body);
	EVP_DigestFinal_ex(s->body_sha, bh, NULL);
	b64_encode((const char *)bh, sizeof(bh), bh64, sizeof(bh64));
	buf_printf(field, "DKIM-Signature: v=1; a=%s; c=relaxed/relaxed; "
			  "d=%s;\n\ts=%s; t=%lld; h=%s;\n\tbh=%s;\n\tb=",
		   dkim_algo_name(s->key->algo), s->domain, s->selector,
		   (long long)s->now, s->hlist->data, bh64);
	if (dkim_canon_header(DKIM_RELAXED, field->data, field->len, false,
			      s->hdata) == -1 ||
	    dkim_key_sign(s->key, s->hdata->data, s->hdata->len, sig,
			  &siglen) == -1 ||
	    b64_encode((const char *)sig, siglen, sig64, sizeof(sig64)) ==
		    -1) {
		*error_r = "signing failed";
		goto out;
	}
	add_folded(field, sig64, 10);
	if (buf_addc(field, '\n') == -1 ||
	    buf_add(out, field->data, field->len) == -1) {
		*error_r = "no room for the signature";
		goto out;
	}
	rc = 0;
out:
	buf_free(&field);
	return rc;
}

void
dkim_signer_free(struct dkim_signer **sp)
{
	struct dkim_signer *s = *sp;

	if (s == NULL)
		return;
	buf_free(&s->hdata);
	buf_free(&s->hlist);
	EVP_MD_CTX_free(s->body_sha);
	free(s);
	*sp = NULL;
}

const char *
dkim_algo_name(enum dkim_algo a)
{
	return a == DKIM_RSA_SHA256 ? "rsa-sha256" : "ed25519-sha256";
}

/* --- the From domain ----------------------------------------------- */

/* The address part of a From value: after the first '<' outside quotes
 * and comments, else the value without comments. */
static size_t
addr_start(const char *v, size_t n, bool *angle)
{
	bool q = false;
	int depth = 0;

	*angle = false;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];

		if (c == '\\') {
			i++;
		} else if (q) {
			q = c != '"';
		} else if (c == '"' && depth == 0) {
			q = true;
		} else if (c == '(') {
			depth++;
		} else if (c == ')' && depth > 0) {
			depth--;
		} else if (c == '<' && depth == 0) {
			*angle = true;
			return i + 1;
		}
	}
	return 0;
}

int
dkim_from_domain(const char *hdr, size_t hlen, char *out, size_t size)
{
	struct dkim_hfield f[256];
	size_t nf, body, i, j, n = 0;
	const char *v, *at = NULL;
	bool angle;
	int depth = 0;

	/* the fields before a malformed line or past the 256th still count:
	 * From comes early nearly always */
	(void)dkim_canon_split(hdr, hlen, f, 256, &nf, &body);
	for (i = 0; i < nf && !dkim_canon_is(&f[i], "from", 4); i++)
		;
	if (i == nf)
		return -1;
	v = (const char *)memchr(f[i].p, ':', f[i].len) + 1;
	n = f[i].len - (size_t)(v - f[i].p);
	j = addr_start(v, n, &angle);
	for (; j < n; j++) {
		char c = v[j];

		if (!angle && c == '(' && at == NULL) {
			depth++; /* a comment before the address */
			continue;
		}
		if (depth > 0) {
			depth -= c == ')';
			continue;
		}
		if (c == '@')
			at = v + j;
		if (c == '>' || c == ',' || c == ';' ||
		    (!angle && (c == '(' || c == ' ' || c == '\t') &&
		     at != NULL))
			break;
	}
	if (at == NULL)
		return -1;
	for (i = 0, at++; at < v + j && i + 1 < size; at++) {
		char c = *at;

		if (c >= 'A' && c <= 'Z')
			c += 32;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.'))
			break;
		out[i++] = c;
	}
	out[i] = '\0';
	/* the whole domain taken, and "<...>" closed */
	return i > 0 && at == v + j && (!angle || (j < n && v[j] == '>'))
		       ? 0
		       : -1;
}
