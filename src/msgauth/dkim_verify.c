/*
 * dkim_verify - the verifier (see dkim.h).  The header section is copied
 * and split once; each DKIM-Signature field in it (up to the limit) is
 * parsed and checked for the tags RFC 6376 3.5 requires, then gets a
 * body canonicalizer and a SHA-256 of its own (its c= and l= may differ
 * from the others').  The key record comes from the caller per
 * signature, so the lookup can be asynchronous; the header hash is made
 * then, with the fields h= names taken bottom up (RFC 6376 5.4.2).
 */
#include "dkim_private.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dkim_canon.h"
#include "dkim_tags.h"

struct vsig {
	size_t field;		/* index of its DKIM-Signature field */
	enum dkim_result res;	/* decided early if not DKIM_PASS */
	const char *why;
	struct dkim_tags tags;
	enum dkim_algo algo;
	enum dkim_canon hc, bc;
	char domain[DKIM_DOMAIN_MAX + 1];
	char selector[DKIM_SELECTOR_MAX + 1];
	char auid_domain[DKIM_DOMAIN_MAX + 1]; /* of i=, "" if none */
	bool has_l;
	uint64_t l;
	unsigned char bh[32];	/* from bh= */
	unsigned char hash[32];	/* computed */
	EVP_MD_CTX *md;
	struct dkim_body body;
};

struct dkim_verifier {
	struct dkim_verify_limits lim;
	int64_t now;
	char *hdr;		/* the copy the fields point into */
	struct dkim_hfield *f;
	size_t nf;
	bool *used;		/* fields taken for one header hash */
	struct vsig *sigs;
	size_t nsigs;		/* checked */
	size_t found;		/* in the message: nsigs and the rest */
};

static const struct dkim_verify_limits DEFAULTS = {
	DKIM_SIGS_MAX, DKIM_RSA_MIN_BITS, DKIM_RSA_MAX_BITS, DKIM_H_MAX,
};

static int
reject(struct vsig *s, const char *why)
{
	s->res = DKIM_PERMERROR;
	s->why = why;
	return -1;
}

/* A tag's value as a NUL-terminated name, checked. */
static int
copy_name(const struct dkim_tag *t, char *out, size_t size)
{
	if (t->vlen == 0 || t->vlen >= size)
		return -1;
	for (size_t i = 0; i < t->vlen; i++) {
		char c = t->val[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.'))
			return -1;
		out[i] = c >= 'A' && c <= 'Z' ? c + 32 : c;
	}
	out[t->vlen] = '\0';
	return 0;
}

static int
parse_u64(const struct dkim_tag *t, uint64_t *v)
{
	*v = 0;
	if (t->vlen == 0 || t->vlen > 19)
		return -1;
	for (size_t i = 0; i < t->vlen; i++) {
		if (t->val[i] < '0' || t->val[i] > '9')
			return -1;
		*v = *v * 10 + (uint64_t)(t->val[i] - '0');
	}
	return 0;
}

static bool
is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Calls each(name, n, arg) for the colon-separated items of a value
 * (h=, a key's t= and h=), whitespace trimmed; the count.
 */
static size_t
each_item(const struct dkim_tag *t,
	  bool (*each)(const char *, size_t, void *), void *arg)
{
	const char *p = t->val, *end = t->val + t->vlen;
	size_t count = 0;

	while (p <= end) {
		const char *c = memchr(p, ':', (size_t)(end - p));
		const char *q = c != NULL ? c : end, *a = p;

		while (a < q && is_fws(*a))
			a++;
		while (q > a && is_fws(q[-1]))
			q--;
		count++;
		if (each != NULL && each(a, (size_t)(q - a), arg))
			break;
		if (c == NULL)
			break;
		p = c + 1;
	}
	return count;
}

struct want {
	const char *s;
	bool found;
};

static bool
item_is(const char *p, size_t n, void *arg)
{
	struct want *w = arg;

	if (n == strlen(w->s) && strncasecmp(p, w->s, n) == 0)
		w->found = true;
	return w->found;
}

/* True if the colon list of t holds want (any case). */
static bool
has_item(const struct dkim_tag *t, const char *want)
{
	struct want w = {want, false};

	each_item(t, item_is, &w);
	return w.found;
}

static int
parse_canon(struct vsig *s)
{
	const struct dkim_tag *c = dkim_tags_get(&s->tags, "c");
	const char *p, *slash;
	size_t n;

	s->hc = s->bc = DKIM_SIMPLE;
	if (c == NULL)
		return 0;
	p = c->val;
	slash = memchr(p, '/', c->vlen);
	n = slash != NULL ? (size_t)(slash - p) : c->vlen;
	if (n == 7 && memcmp(p, "relaxed", 7) == 0)
		s->hc = DKIM_RELAXED;
	else if (!(n == 6 && memcmp(p, "simple", 6) == 0))
		return reject(s, "unknown canonicalization in c=");
	if (slash == NULL)
		return 0;
	p = slash + 1;
	n = c->vlen - n - 1;
	if (n == 7 && memcmp(p, "relaxed", 7) == 0)
		s->bc = DKIM_RELAXED;
	else if (!(n == 6 && memcmp(p, "simple", 6) == 0))
		return reject(s, "unknown canonicalization in c=");
	return 0;
}

static int
parse_algo(struct vsig *s)
{
	const struct dkim_tag *a = dkim_tags_get(&s->tags, "a");

	if (dkim_tag_is(a, "rsa-sha256"))
		s->algo = DKIM_RSA_SHA256;
	else if (dkim_tag_is(a, "ed25519-sha256"))
		s->algo = DKIM_ED25519_SHA256;
	else if (dkim_tag_is(a, "rsa-sha1"))
		return reject(s, "rsa-sha1 is not accepted (RFC 8301)");
	else
		return reject(s, "unknown algorithm in a=");
	return 0;
}

/* i=: its domain must be d= or below it (RFC 6376 3.5). */
static int
parse_auid(struct vsig *s)
{
	const struct dkim_tag *i = dkim_tags_get(&s->tags, "i");
	struct dkim_tag dom;
	const char *at;
	size_t dl = strlen(s->domain), n;

	if (i == NULL)
		return 0;
	at = memrchr(i->val, '@', i->vlen);
	if (at == NULL)
		return reject(s, "i= has no '@'");
	dom.val = at + 1;
	dom.vlen = i->vlen - (size_t)(at + 1 - i->val);
	if (copy_name(&dom, s->auid_domain, sizeof(s->auid_domain)) == -1)
		return reject(s, "bad domain in i=");
	n = strlen(s->auid_domain);
	if (!(n == dl || (n > dl && s->auid_domain[n - dl - 1] == '.')) ||
	    strcmp(s->auid_domain + n - dl, s->domain) != 0)
		return reject(s, "i= is not within d=");
	return 0;
}

static int
parse_times(struct vsig *s, int64_t now)
{
	const struct dkim_tag *t = dkim_tags_get(&s->tags, "t");
	const struct dkim_tag *x = dkim_tags_get(&s->tags, "x");
	uint64_t tv = 0, xv;

	if (t != NULL && parse_u64(t, &tv) == -1)
		return reject(s, "bad t=");
	if (x == NULL)
		return 0;
	if (parse_u64(x, &xv) == -1)
		return reject(s, "bad x=");
	if (t != NULL && xv < tv)
		return reject(s, "x= is before t=");
	if (now >= 0 && xv < (uint64_t)now)
		return reject(s, "the signature has expired (x=)");
	return 0;
}

static int
parse_required(struct vsig *s, const struct dkim_verify_limits *lim)
{
	static const char *const REQ[] = {"v", "a", "b", "bh", "d", "h", "s"};
	const struct dkim_tag *h, *bh, *l, *q;
	size_t n;

	for (size_t k = 0; k < sizeof(REQ) / sizeof(REQ[0]); k++)
		if (dkim_tags_get(&s->tags, REQ[k]) == NULL)
			return reject(s, "a required tag is missing");
	if (!dkim_tag_is(dkim_tags_get(&s->tags, "v"), "1"))
		return reject(s, "v= is not 1");
	if (copy_name(dkim_tags_get(&s->tags, "d"), s->domain,
		      sizeof(s->domain)) == -1 ||
	    copy_name(dkim_tags_get(&s->tags, "s"), s->selector,
		      sizeof(s->selector)) == -1)
		return reject(s, "bad d= or s=");
	h = dkim_tags_get(&s->tags, "h");
	if (each_item(h, NULL, NULL) > lim->max_h)
		return reject(s, "h= names too many fields");
	if (!has_item(h, "from"))
		return reject(s, "h= does not name From");
	bh = dkim_tags_get(&s->tags, "bh");
	if (dkim_b64_decode(bh->val, bh->vlen, s->bh, sizeof(s->bh), &n) ==
		    -1 ||
	    n != sizeof(s->bh))
		return reject(s, "bh= is not a SHA-256 in base64");
	if ((l = dkim_tags_get(&s->tags, "l")) != NULL) {
		if (parse_u64(l, &s->l) == -1)
			return reject(s, "bad l=");
		s->has_l = true;
	}
	q = dkim_tags_get(&s->tags, "q");
	if (q != NULL && !has_item(q, "dns/txt"))
		return reject(s, "q= has no dns/txt");
	return 0;
}

static void
parse_sig(struct dkim_verifier *v, struct vsig *s)
{
	const struct dkim_hfield *f = &v->f[s->field];
	const char *val = (const char *)memchr(f->p, ':', f->len) + 1;
	const char *err;

	s->res = DKIM_PASS; /* not decided yet */
	s->why = "";
	if (dkim_tags_parse(val, f->len - (size_t)(val - f->p), &s->tags,
			    &err) == -1) {
		reject(s, err);
		return;
	}
	if (parse_required(s, &v->lim) == -1 || parse_algo(s) == -1 ||
	    parse_canon(s) == -1 || parse_auid(s) == -1 ||
	    parse_times(s, v->now) == -1)
		return;
	s->md = EVP_MD_CTX_new();
	if (s->md == NULL || EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1)
		abort(); /* out of memory, as xmalloc */
}

static void
md_out(void *arg, const char *p, size_t n)
{
	EVP_DigestUpdate((EVP_MD_CTX *)arg, p, n);
}

struct dkim_verifier *
dkim_verifier_new(const struct dkim_verify_limits *lim, const char *hdr,
		  size_t hlen, int64_t now, const char **error_r)
{
	struct dkim_verifier *v;
	size_t body, i;

	if (hlen > DKIM_HEADERS_MAX) {
		*error_r = "the header section is too large";
		return NULL;
	}
	v = xcalloc(1, sizeof(*v));
	v->lim = lim != NULL ? *lim : DEFAULTS;
	v->now = now;
	v->hdr = xmalloc(hlen + 1);
	memcpy(v->hdr, hdr, hlen);
	v->f = xcalloc(DKIM_FIELDS_MAX, sizeof(*v->f));
	if (dkim_canon_split(v->hdr, hlen, v->f, DKIM_FIELDS_MAX, &v->nf,
			     &body) == -1) {
		*error_r = "a header line that is not a field, or too many";
		dkim_verifier_free(&v);
		return NULL;
	}
	v->used = xcalloc(v->nf + 1, sizeof(*v->used));
	v->sigs = xcalloc(v->lim.max_sigs + 1, sizeof(*v->sigs));
	for (i = 0; i < v->nf; i++) {
		struct vsig *s;

		if (!dkim_canon_is(&v->f[i], "dkim-signature", 14))
			continue;
		if (v->found++ >= v->lim.max_sigs)
			continue;
		s = &v->sigs[v->nsigs++];
		s->field = i;
		parse_sig(v, s);
		if (s->md != NULL)
			dkim_body_init(&s->body, s->bc,
				       s->has_l ? s->l : UINT64_MAX, md_out,
				       s->md);
	}
	return v;
}

void
dkim_verifier_body(struct dkim_verifier *v, const char *p, size_t len)
{
	for (size_t i = 0; i < v->nsigs; i++)
		if (v->sigs[i].md != NULL)
			dkim_body_feed(&v->sigs[i].body, p, len);
}

void
dkim_verifier_finish(struct dkim_verifier *v)
{
	for (size_t i = 0; i < v->nsigs; i++) {
		struct vsig *s = &v->sigs[i];

		if (s->md == NULL)
			continue;
		dkim_body_finish(&s->body);
		EVP_DigestFinal_ex(s->md, s->hash, NULL);
	}
}

size_t
dkim_verifier_count(const struct dkim_verifier *v)
{
	return v->found;
}

bool
dkim_verifier_query(const struct dkim_verifier *v, size_t i,
		    const char **domain, const char **selector)
{
	if (i >= v->nsigs || v->sigs[i].res != DKIM_PASS)
		return false;
	*domain = v->sigs[i].domain;
	*selector = v->sigs[i].selector;
	return true;
}

/* --- the key record and the header hash ----------------------------- */

struct keyrec {
	struct dkim_key *key;
	bool testing, strict;
};

static bool
flag_item(const char *p, size_t n, void *arg)
{
	struct keyrec *k = arg;

	if (n == 1 && *p == 'y')
		k->testing = true;
	if (n == 1 && *p == 's')
		k->strict = true;
	return false;
}

static int
parse_record(struct vsig *s, const struct dkim_verify_limits *lim,
	     const char *rec, size_t len, struct keyrec *k)
{
	struct dkim_tags t;
	const struct dkim_tag *v, *kt, *h, *sv, *p, *fl;
	const char *err;

	if (dkim_tags_parse(rec, len, &t, &err) == -1)
		return reject(s, "the key record is malformed");
	v = dkim_tags_get(&t, "v");
	if (v != NULL && (!dkim_tag_is(v, "DKIM1") || &t.t[0] != v))
		return reject(s, "the key record's v= is not DKIM1 first");
	kt = dkim_tags_get(&t, "k");
	if ((kt == NULL || dkim_tag_is(kt, "rsa")) ? s->algo != DKIM_RSA_SHA256
	    : !dkim_tag_is(kt, "ed25519") || s->algo != DKIM_ED25519_SHA256)
		return reject(s, "the key's k= does not match a=");
	h = dkim_tags_get(&t, "h");
	if (h != NULL && !has_item(h, "sha256"))
		return reject(s, "the key's h= excludes sha256");
	sv = dkim_tags_get(&t, "s");
	if (sv != NULL && !has_item(sv, "email") && !has_item(sv, "*"))
		return reject(s, "the key is not for email (s=)");
	if ((p = dkim_tags_get(&t, "p")) == NULL)
		return reject(s, "the key record has no p=");
	if (p->vlen == 0)
		return reject(s, "the key is revoked (empty p=)");
	if ((fl = dkim_tags_get(&t, "t")) != NULL)
		each_item(fl, flag_item, k);
	if (dkim_key_public(s->algo, p->val, p->vlen, &k->key, &err) == -1)
		return reject(s, err);
	if (s->algo == DKIM_RSA_SHA256 && (k->key->bits < lim->rsa_min_bits ||
					   k->key->bits > lim->rsa_max_bits)) {
		dkim_key_free(&k->key);
		return reject(s, "the RSA key's size is outside the limits");
	}
	return 0;
}

/* The last not yet used field named name[0..n), or -1. */
static long
take_field(struct dkim_verifier *v, const char *name, size_t n)
{
	for (size_t i = v->nf; i-- > 0;)
		if (!v->used[i] && dkim_canon_is(&v->f[i], name, n)) {
			v->used[i] = true;
			return (long)i;
		}
	return -1;
}

struct hctx {
	struct dkim_verifier *v;
	struct vsig *s;
	struct buf *out;
	int err;
};

static bool
add_named(const char *name, size_t n, void *arg)
{
	struct hctx *h = arg;
	long i = take_field(h->v, name, n);

	/* a name with no (more) field contributes nothing (5.4.2) */
	if (i >= 0 && dkim_canon_header(h->s->hc, h->v->f[i].p,
					h->v->f[i].len, true, h->out) == -1)
		h->err = -1;
	return h->err != 0;
}

/* The signature's own field with b='s value deleted (RFC 6376 3.7). */
static int
add_self(struct vsig *s, const struct dkim_hfield *f, struct buf *out)
{
	const struct dkim_tag *b = dkim_tags_get(&s->tags, "b");
	const char *eq = b->name + b->nlen, *end = f->p + f->len;
	const char *semi;
	struct buf *tmp = buf_new(f->len);
	int rc;

	while (*eq != '=')
		eq++;
	semi = memchr(b->val, ';', (size_t)(end - b->val));
	buf_add(tmp, f->p, (size_t)(eq + 1 - f->p));
	if (semi != NULL)
		buf_add(tmp, semi, (size_t)(end - semi));
	rc = dkim_canon_header(s->hc, tmp->data, tmp->len, false, out);
	buf_free(&tmp);
	return rc;
}

static void
check_signature(struct dkim_verifier *v, struct vsig *s,
		const struct dkim_key *key)
{
	const struct dkim_tag *b = dkim_tags_get(&s->tags, "b");
	unsigned char sig[DKIM_SIG_MAX];
	struct hctx h = {v, s, buf_new(2 * DKIM_HEADERS_MAX + 4096), 0};
	size_t n;

	memset(v->used, 0, v->nf * sizeof(*v->used));
	each_item(dkim_tags_get(&s->tags, "h"), add_named, &h);
	if (h.err != 0 || add_self(s, &v->f[s->field], h.out) == -1)
		reject(s, "the signed header fields are too large");
	else if (dkim_b64_decode(b->val, b->vlen, sig, sizeof(sig), &n) == -1)
		reject(s, "b= is not base64");
	else if (!dkim_key_verify(key, h.out->data, h.out->len, sig, n)) {
		s->res = DKIM_FAIL;
		s->why = "the signature does not verify";
	}
	buf_free(&h.out);
}

static void
fill(const struct vsig *s, struct dkim_sig_result *r)
{
	memset(r, 0, sizeof(*r));
	r->res = s->res;
	r->why = s->why != NULL ? s->why : "";
	r->algo = s->algo;
	snprintf(r->domain, sizeof(r->domain), "%s", s->domain);
	snprintf(r->selector, sizeof(r->selector), "%s", s->selector);
	r->has_l = s->has_l;
	r->l = s->l;
	r->body_len = s->body.total;
	r->partial = s->has_l && s->body.total > s->l;
}

void
dkim_verifier_check(struct dkim_verifier *v, size_t i, const char *record,
		    size_t rlen, struct dkim_sig_result *r)
{
	struct keyrec k = {0};
	struct vsig *s;

	if (i >= v->nsigs) {
		memset(r, 0, sizeof(*r));
		r->res = DKIM_NOT_CHECKED;
		r->why = "over the limit of signatures per message";
		return;
	}
	s = &v->sigs[i];
	if (s->res == DKIM_PASS && record == NULL)
		reject(s, "no key record");
	if (s->res == DKIM_PASS &&
	    parse_record(s, &v->lim, record, rlen, &k) == 0) {
		if (k.strict && strcmp(s->auid_domain, s->domain) != 0 &&
		    s->auid_domain[0] != '\0')
			reject(s, "the key's t=s wants i= in d= itself");
		else if (s->has_l && s->body.total < s->l)
			reject(s, "l= is longer than the body");
		else if (memcmp(s->hash, s->bh, sizeof(s->bh)) != 0) {
			s->res = DKIM_FAIL;
			s->why = "the body hash does not match";
		} else {
			check_signature(v, s, k.key);
		}
	}
	fill(s, r);
	r->testing = k.testing;
	if (k.key != NULL)
		r->bits = k.key->bits;
	dkim_key_free(&k.key);
}

void
dkim_verifier_free(struct dkim_verifier **vp)
{
	struct dkim_verifier *v = *vp;

	if (v == NULL)
		return;
	for (size_t i = 0; i < v->nsigs; i++)
		EVP_MD_CTX_free(v->sigs[i].md);
	free(v->sigs);
	free(v->used);
	free(v->f);
	free(v->hdr);
	free(v);
	*vp = NULL;
}

const char *
dkim_result_name(enum dkim_result r)
{
	switch (r) {
	case DKIM_PASS:
		return "pass";
	case DKIM_FAIL:
		return "fail";
	case DKIM_PERMERROR:
		return "permerror";
	case DKIM_TEMPERROR:
		return "temperror";
	case DKIM_NOT_CHECKED:
		return "neutral";
	}
	return "permerror";
}
