/*
 * addr - RFC 5321 path parsing; see addr.h.  Every index is checked against
 * len before it is read: the input is untrusted and not NUL-terminated.
 */
#include "addr.h"

#include <stdio.h>
#include <string.h>

static bool
is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static bool
is_letdig(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* Length of the domain (LDH labels) at s, 0 if none. */
static size_t
scan_domain(const char *s, size_t len)
{
	size_t i = 0, label;

	for (;;) {
		if (i >= len || !is_letdig((unsigned char)s[i]))
			return 0;
		label = 0;
		while (i < len && (is_letdig((unsigned char)s[i]) ||
				   s[i] == '-')) {
			i++;
			if (++label > 63)
				return 0;
		}
		if (s[i - 1] == '-')
			return 0;
		if (i < len && s[i] == '.' && i + 1 < len &&
		    is_letdig((unsigned char)s[i + 1])) {
			i++;
			continue;
		}
		return i;
	}
}

bool
addr_domain_valid(const char *s, size_t len)
{
	return len > 0 && len <= ADDR_DOMAIN_MAX && scan_domain(s, len) == len;
}

bool
addr_user_valid(const char *name)
{
	const char *at = strchr(name, '@');
	size_t i, n;

	if (at == NULL || at == name || (size_t)(at - name) > ADDR_LOCAL_MAX)
		return false;
	n = (size_t)(at - name);
	if (name[0] == '.' || name[n - 1] == '.')
		return false;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-' || c == '+'))
			return false;
		if (c == '.' && name[i + 1] == '.')
			return false;
	}
	for (i = 1; at[i] != '\0'; i++)
		if (at[i] >= 'A' && at[i] <= 'Z')
			return false;
	return addr_domain_valid(at + 1, strlen(at + 1));
}

static bool
ipv4_valid(const char *s, size_t len)
{
	size_t i = 0;
	int parts;

	for (parts = 0; parts < 4; parts++) {
		unsigned v = 0, digits = 0;

		if (parts > 0) {
			if (i >= len || s[i] != '.')
				return false;
			i++;
		}
		while (i < len && s[i] >= '0' && s[i] <= '9' && digits < 4) {
			v = v * 10 + (unsigned)(s[i] - '0');
			i++;
			digits++;
		}
		if (digits == 0 || digits > 3 || v > 255)
			return false;
	}
	return i == len;
}

static bool
ipv6_valid(const char *s, size_t len)
{
	size_t i, groups = 0, hex = 0;
	bool dcolon = false;

	if (len < 2)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		    (c >= 'A' && c <= 'F')) {
			if (++hex > 4)
				return false;
		} else if (c == ':') {
			if (hex > 0)
				groups++;
			hex = 0;
			if (i + 1 < len && s[i + 1] == ':') {
				if (dcolon)
					return false;
				dcolon = true;
				i++;
			} else if (i == 0 || i + 1 == len) {
				return false;
			}
		} else if (c == '.') {
			/* trailing IPv4 part: from the last ':' */
			size_t start = i;

			while (start > 0 && s[start - 1] != ':')
				start--;
			if (!ipv4_valid(s + start, len - start))
				return false;
			groups += 2;
			hex = 0;
			break;
		} else {
			return false;
		}
	}
	if (hex > 0)
		groups++;
	return dcolon ? groups < 8 : groups == 8;
}

/* Address literal "[...]" at s; returns its length or 0. */
static size_t
scan_literal(const char *s, size_t len)
{
	size_t end, i;

	if (len < 3 || s[0] != '[')
		return 0;
	for (end = 1; end < len && s[end] != ']'; end++)
		if (s[end] == '[' || s[end] == '\\' ||
		    (unsigned char)s[end] < 33 || (unsigned char)s[end] > 126)
			return 0;
	if (end >= len)
		return 0;
	if (ipv4_valid(s + 1, end - 1))
		return end + 1;
	if (end - 1 > 5 && strncasecmp(s + 1, "IPv6:", 5) == 0)
		return ipv6_valid(s + 6, end - 6) ? end + 1 : 0;
	/* General-address-literal: Standardized-tag ":" 1*dcontent */
	for (i = 1; i < end && (is_letdig((unsigned char)s[i]) || s[i] == '-');
	     i++)
		;
	if (i > 1 && i < end - 1 && s[i] == ':' && s[i - 1] != '-')
		return end + 1;
	return 0;
}

/* Parses Mailbox at s; returns bytes used or 0 with *error_r. */
static size_t
parse_mailbox(const char *s, size_t len, struct addr *a, const char **error_r)
{
	size_t i = 0, n = 0, d;

	memset(a, 0, sizeof(*a));
	if (len > 0 && s[0] == '"') {
		a->quoted = true;
		for (i = 1; i < len && s[i] != '"'; i++) {
			unsigned char c = (unsigned char)s[i];

			if (c == '\\') {
				if (++i >= len || (unsigned char)s[i] < 32 ||
				    (unsigned char)s[i] > 126) {
					*error_r = "bad quoted pair";
					return 0;
				}
				c = (unsigned char)s[i];
			} else if (c < 32 || c > 126) {
				*error_r = "bad character in local part";
				return 0;
			}
			if (n >= ADDR_LOCAL_MAX) {
				*error_r = "local part too long";
				return 0;
			}
			a->local[n++] = (char)c;
		}
		if (i >= len) {
			*error_r = "unterminated quoted string";
			return 0;
		}
		i++;
		/* the limit is on the local part as sent, quotes included */
		if (i > ADDR_LOCAL_MAX) {
			*error_r = "local part too long";
			return 0;
		}
	} else {
		while (i < len && (is_atext((unsigned char)s[i]) ||
				   s[i] == '.')) {
			if (s[i] == '.' && (i == 0 || s[i - 1] == '.')) {
				*error_r = "bad dot in local part";
				return 0;
			}
			if (n >= ADDR_LOCAL_MAX) {
				*error_r = "local part too long";
				return 0;
			}
			a->local[n++] = s[i++];
		}
		if (n == 0) {
			*error_r = "empty or bad local part";
			return 0;
		}
		if (a->local[n - 1] == '.') {
			*error_r = "bad dot in local part";
			return 0;
		}
	}
	a->local[n] = '\0';
	if (i < len && s[i] != '@' && s[i] != '>') {
		*error_r = "bad character in local part";
		return 0;
	}
	if (i >= len || s[i] != '@') {
		*error_r = "missing @domain";
		return 0;
	}
	i++;
	if (i < len && s[i] == '[') {
		d = scan_literal(s + i, len - i);
		a->literal = true;
	} else {
		d = scan_domain(s + i, len - i);
	}
	if (d == 0) {
		*error_r = "bad domain";
		return 0;
	}
	if (d > ADDR_DOMAIN_MAX) {
		*error_r = "domain too long";
		return 0;
	}
	memcpy(a->domain, s + i, d);
	a->domain[d] = '\0';
	return i + d;
}

int
addr_parse_mailbox(const char *s, size_t len, struct addr *a,
		   const char **error_r)
{
	size_t n = parse_mailbox(s, len, a, error_r);

	if (n == 0)
		return -1;
	if (n != len) {
		*error_r = "trailing characters after address";
		return -1;
	}
	return 0;
}

/* Skips a source route "@dom,@dom:"; returns bytes or 0 if none, -1 bad. */
static long
skip_adl(const char *s, size_t len)
{
	size_t i = 0, d;

	if (len == 0 || s[0] != '@')
		return 0;
	for (;;) {
		if (i >= len || s[i] != '@')
			return -1;
		i++;
		d = scan_domain(s + i, len - i);
		if (d == 0)
			return -1;
		i += d;
		if (i < len && s[i] == ',') {
			i++;
			continue;
		}
		if (i < len && s[i] == ':')
			return (long)(i + 1);
		return -1;
	}
}

int
addr_parse_path(const char *s, size_t len, unsigned flags, struct addr *a,
		size_t *consumed, const char **error_r)
{
	size_t i = 1, n;
	long adl;

	memset(a, 0, sizeof(*a));
	if (len == 0 || s[0] != '<') {
		*error_r = "address must be in angle brackets";
		return -1;
	}
	if (len >= 2 && s[1] == '>') {
		if (!(flags & ADDR_ALLOW_NULL)) {
			*error_r = "null address not allowed here";
			return -1;
		}
		a->null = true;
		*consumed = 2;
		return 0;
	}
	if ((flags & ADDR_ALLOW_POSTMASTER) && len >= 12 &&
	    strncasecmp(s + 1, "postmaster>", 11) == 0) {
		strcpy(a->local, "postmaster");
		*consumed = 12;
		return 0;
	}
	adl = skip_adl(s + 1, len - 1);
	if (adl < 0) {
		*error_r = "bad source route";
		return -1;
	}
	i += (size_t)adl;
	n = parse_mailbox(s + i, len - i, a, error_r);
	if (n == 0)
		return -1;
	i += n;
	if (i >= len || s[i] != '>') {
		/* the domain ended before the end: a character it cannot
		 * hold there (a second '@', a trailing dot), or nothing */
		*error_r = i < len && s[i] != ' ' ? "bad domain"
						  : "missing closing angle bracket";
		memset(a, 0, sizeof(*a));
		return -1;
	}
	i++;
	if (i > ADDR_PATH_MAX) {
		*error_r = "path too long";
		memset(a, 0, sizeof(*a));
		return -1;
	}
	*consumed = i;
	return 0;
}

static bool
needs_quotes(const char *local)
{
	size_t i, n = strlen(local);

	if (n == 0 || local[0] == '.' || local[n - 1] == '.')
		return true;
	for (i = 0; i < n; i++) {
		if (local[i] == '.' && local[i + 1] == '.')
			return true;
		if (local[i] != '.' && !is_atext((unsigned char)local[i]))
			return true;
	}
	return false;
}

int
addr_format(const struct addr *a, char *out, size_t size)
{
	size_t n = 0, i;

	if (a->null) {
		if (size < 1)
			return -1;
		out[0] = '\0';
		return 0;
	}
	if (needs_quotes(a->local)) {
		if (n + 1 >= size)
			return -1;
		out[n++] = '"';
		for (i = 0; a->local[i] != '\0'; i++) {
			if (a->local[i] == '"' || a->local[i] == '\\') {
				if (n + 1 >= size)
					return -1;
				out[n++] = '\\';
			}
			if (n + 1 >= size)
				return -1;
			out[n++] = a->local[i];
		}
		if (n + 1 >= size)
			return -1;
		out[n++] = '"';
	} else {
		i = strlen(a->local);
		if (n + i >= size)
			return -1;
		memcpy(out + n, a->local, i);
		n += i;
	}
	if (a->domain[0] != '\0') {
		i = strlen(a->domain);
		if (n + 1 + i >= size)
			return -1;
		out[n++] = '@';
		memcpy(out + n, a->domain, i);
		n += i;
	}
	out[n] = '\0';
	return (int)n;
}
