/*
 * addr - RFC 5321 paths and mailboxes.
 *
 *   Path    = "<" [ A-d-l ":" ] Mailbox ">"     (source route accepted, dropped)
 *   Mailbox = Local-part "@" ( Domain / address-literal )
 *
 * Local parts may be dot-strings or quoted strings; domains are LDH labels
 * or [IPv4], [IPv6:...] or [tag:text] literals.  Limits of RFC 5321 4.5.3.1:
 * local part 64 octets, domain 255, path 256 (with its punctuation).  Only
 * ASCII is accepted (owld does not offer SMTPUTF8).  The parser is pure: no
 * allocation, no I/O; it is fuzzed by tests/fuzz/fuzz_addr.c.
 */
#ifndef OWL_ADDR_H
#define OWL_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#define ADDR_LOCAL_MAX 64
#define ADDR_DOMAIN_MAX 255
#define ADDR_PATH_MAX 256

struct addr {
	bool null;            /* the null reverse-path <> */
	bool quoted;          /* the local part was a quoted string */
	bool literal;         /* the domain is an address literal */
	char local[ADDR_LOCAL_MAX + 1];   /* unquoted value */
	char domain[ADDR_DOMAIN_MAX + 1]; /* as given; literal with brackets */
};

enum {
	ADDR_ALLOW_NULL = 1 << 0,       /* <> is allowed (reverse-path) */
	ADDR_ALLOW_POSTMASTER = 1 << 1, /* <postmaster> without a domain */
};

/*
 * Parses a Path at the start of s (len bytes).  On success returns 0, fills
 * *a and sets *consumed to the bytes used (the rest are ESMTP parameters).
 * On failure returns -1 with a short reason in *error_r.  <postmaster> gives
 * local "postmaster" and an empty domain.
 */
int addr_parse_path(const char *s, size_t len, unsigned flags, struct addr *a,
		    size_t *consumed, const char **error_r);

/* Parses a bare Mailbox filling all of s. 0 or -1 with *error_r. */
int addr_parse_mailbox(const char *s, size_t len, struct addr *a,
		       const char **error_r);

/* True if s is a syntactically valid domain (LDH labels, <= 255). */
bool addr_domain_valid(const char *s, size_t len);

/*
 * True if name is a user owlpost keeps mail for: "local@domain" (NUL-
 * terminated), the local part of a-z 0-9 . _ - + with no dot first, last
 * or doubled, the domain valid and lower case.  Such a name is safe as
 * path components (store/ makes mailbox paths of it; auth/ keeps users).
 */
bool addr_user_valid(const char *name);

/*
 * Writes the mailbox as text (re-quoting the local part when needed) into
 * out; returns the length, or -1 if it does not fit.  "" for the null path.
 */
int addr_format(const struct addr *a, char *out, size_t size);

#endif
