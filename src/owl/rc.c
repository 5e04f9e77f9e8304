/*
 * rc - owl's settings: one "key value" from ~/.owlrc or an option
 * (owl_conf_set), and the ~/.owlrc text as a whole (owl_rc_parse): "key =
 * value" or "key value" lines, '#' comments, CR LF or LF line ends.  Pure:
 * main.c reads the file.  A bad line fails the whole file, naming the
 * line and its key; owl then exits rather than run with half a setup.
 */
#include "owl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
owl_conf_set(struct owl_conf *c, const char *key, const char *val)
{
	char *end;
	long port;

	if (strcmp(key, "host") == 0)
		return bsnprintf(c->host, sizeof(c->host), "%s", val) == -1 ||
		       val[0] == '\0' ? -1 : 0;
	if (strcmp(key, "user") == 0)
		return bsnprintf(c->user, sizeof(c->user), "%s", val);
	if (strcmp(key, "from") == 0)
		return bsnprintf(c->from, sizeof(c->from), "%s", val);
	if (strcmp(key, "cafile") == 0)
		return bsnprintf(c->cafile, sizeof(c->cafile), "%s", val);
	if (strcmp(key, "tls") == 0) {
		if (strcmp(val, "auto") == 0)
			c->tls = OWL_TLS_AUTO;
		else if (strcmp(val, "require") == 0)
			c->tls = OWL_TLS_REQUIRE;
		else if (strcmp(val, "off") == 0)
			c->tls = OWL_TLS_OFF;
		else
			return -1;
		return 0;
	}
	if (strcmp(key, "protocol") == 0) {
		if (strcmp(val, "auto") == 0)
			c->protocol = OWL_PROTO_AUTO;
		else if (strcmp(val, "imap") == 0)
			c->protocol = OWL_PROTO_IMAP;
		else if (strcmp(val, "pop3") == 0)
			c->protocol = OWL_PROTO_POP3;
		else
			return -1;
		return 0;
	}
	if (strcmp(key, "smtp-port") == 0 || strcmp(key, "pop3-port") == 0 ||
	    strcmp(key, "imap-port") == 0) {
		errno = 0;
		port = strtol(val, &end, 10);
		if (errno != 0 || *end != '\0' || end == val || port < 1 ||
		    port > 65535)
			return -1;
		*(key[0] == 's' ? &c->smtp_port : key[0] == 'p' ?
		  &c->pop3_port : &c->imap_port) = (int)port;
		return 0;
	}
	return -1;
}

/* One line (a copy, NUL-terminated, no LF); -1 with its key in bad. */
static int
rc_line(struct owl_conf *c, char *line, char *bad, size_t badsz)
{
	char *k = line, *v, *e;

	k += strspn(k, " \t");
	if (*k == '#' || *k == '\0')
		return 0;
	e = k + strlen(k);
	while (e > k && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	v = k + strcspn(k, " \t=");
	if (*v != '\0') {
		*v++ = '\0';
		v += strspn(v, " \t=");
	}
	if (owl_conf_set(c, k, v) == -1) {
		snprintf(bad, badsz, "%s", k);
		return -1;
	}
	return 0;
}

int
owl_rc_parse(struct owl_conf *c, const char *text, size_t len,
	     unsigned *lineno, char *bad, size_t badsz)
{
	const char *p = text, *end = text + len;

	*lineno = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *line;
		int r;

		++*lineno;
		if (memchr(p, '\0', n) != NULL) {
			snprintf(bad, badsz, "NUL octet");
			return -1;
		}
		line = xmalloc(n + 1);
		memcpy(line, p, n);
		line[n] = '\0';
		r = rc_line(c, line, bad, badsz);
		free(line);
		if (r == -1)
			return -1;
		p += n + (nl != NULL);
	}
	return 0;
}
