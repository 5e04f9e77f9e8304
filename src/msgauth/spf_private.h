/*
 * spf_private - what spf.c shares with its record parser (spf_record.c)
 * and its macro expander (spf_macro.c).  Not for other modules.
 */
#ifndef OWL_SPF_PRIVATE_H
#define OWL_SPF_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "dnsq.h"

enum spf_kind {
	SPF_T_ALL,
	SPF_T_INCLUDE,
	SPF_T_A,
	SPF_T_MX,
	SPF_T_PTR,
	SPF_T_IP4,
	SPF_T_IP6,
	SPF_T_EXISTS,
	SPF_T_REDIRECT,
	SPF_T_EXP,
	SPF_T_UNKNOWN		/* a modifier we ignore (syntax checked) */
};

/* One term of a record; pointers into the record text. */
struct spf_term {
	enum spf_kind kind;
	char qual;		/* '+', '-', '~', '?' (mechanisms) */
	const char *text;	/* the whole term, for reasons */
	size_t tlen;
	const char *spec;	/* domain-spec; NULL: the current domain */
	size_t slen;
	unsigned cidr4, cidr6;	/* prefix lengths (a, mx, ip4, ip6) */
	unsigned char net[16];	/* ip4 (4 octets), ip6 */
};

struct spf_record {
	struct spf_term *t;
	size_t n;
	long redirect, exp;	/* index of the modifier, -1: none */
	bool has_all;		/* an "all" anywhere: no redirect */
	const char *bad;	/* after a syntax error: the term */
	size_t badlen;
};

/*
 * Parses the whole record (RFC 7208 4.6, 12): 0, or -1 with *error_r on a
 * syntax error anywhere (the check's permerror), or -2 on no memory.
 * rec must stay as long as r is used; spf_record_free releases r.
 */
int spf_record_parse(const char *rec, size_t len, struct spf_record *r,
		     const char **error_r);
void spf_record_free(struct spf_record *r);

/* The values of the macro letters (RFC 7208 7.3), NUL-ended. */
struct spf_vars {
	const char *s, *l, *o, *d, *i, *p, *v, *h, *c, *r, *t;
};

enum spf_mctx {
	SPF_M_DOMAIN,	/* a domain-spec: macro-string domain-end */
	SPF_M_STRING,	/* an unknown modifier's macro-string */
	SPF_M_EXPLAIN	/* the exp= TXT: explain-string, c r t allowed */
};

/* True if p (n octets) is valid in that context (RFC 7208 7.1, 12). */
bool spf_macro_valid(const char *p, size_t n, enum spf_mctx ctx);
/* True if p uses %{p} (which needs PTR lookups first). */
bool spf_macro_uses_p(const char *p, size_t n);
/*
 * Expands the domain-spec p into out as a name to look up: lower case, no
 * trailing dot, cut from the left to 253 octets (RFC 7208 7.3).  -1 if
 * the result is no valid name (an empty or a 64+ octet label, octets that
 * cannot be in a query name).  p must be valid (spf_macro_valid).
 */
int spf_macro_domain(const struct spf_vars *v, const char *p, size_t n,
		     char out[DNSQ_NAME_MAX + 1]);
/*
 * Expands an explain-string into out (size octets with the NUL; cut at
 * the end if longer).  p must be valid.
 */
void spf_macro_explain(const struct spf_vars *v, const char *p, size_t n,
		       char *out, size_t size);
/* True if name is a name we may ask for: labels of 1..63, <= 253. */
bool spf_name_valid(const char *name);

#endif
