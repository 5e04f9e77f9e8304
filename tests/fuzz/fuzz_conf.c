/*
 * libFuzzer harness for the configuration file parser (conf_parse_text,
 * as conf_load calls it on the file's text).  Checks: no crash, no
 * sanitizer report; a refused file says where ("fuzz:LINE: "); an
 * accepted one, printed by conf_dump (owlctl check), parses again to the
 * same dump, so every value conf_set accepts is one it can read back; the
 * ports in listen lists, relay.host and dns.resolver are plain digits (as
 * getaddrinfo, which binds them, wants them), and a bracketed host is an
 * IPv6 address.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *
dump(const struct conf *c, size_t *len)
{
	char *text = NULL;
	FILE *fp = open_memstream(&text, len);

	if (fp == NULL)
		abort();
	conf_dump(c, fp);
	fclose(fp);
	return text;
}

/*
 * Each item of a comma list (list; else the value is one item) ends in
 * ":DIGITS" (must: a listen list).
 */
static void
check_ports(const char *list, bool must, bool is_list)
{
	for (const char *p = list; p != NULL && *p != '\0';) {
		const char *end = is_list ? strchr(p, ',') : NULL;
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *colon = NULL;

		while (len > 0 && p[len - 1] == ' ')
			len--;
		for (size_t i = 0; i < len; i++)
			if (p[i] == ':')
				colon = p + i;
		if (colon == NULL && must && len > 0)
			abort();
		if (colon != NULL && (colon[-1] == ']' || p[0] != '[')) {
			if (colon + 1 == p + len)
				abort();
			for (const char *d = colon + 1; d < p + len; d++)
				if (!isdigit((unsigned char)*d))
					abort();
		}
		p = end ? end + 1 : NULL;
	}
}

/* "" or host[:port] with a domain name or a bracketed IPv6 address. */
static void
check_hostport(const char *v)
{
	char host[300];
	unsigned port;
	unsigned char a[16];

	if (*v == '\0')
		return;
	if (conf_hostport(v, 25, host, sizeof(host), &port) == -1 ||
	    port == 0 || port > 65535)
		abort();
	if (v[0] == '[' ? inet_pton(AF_INET6, host, a) != 1
			: strchr(host, ':') != NULL || strchr(host, ' ') != NULL)
		abort();
	check_ports(v, false, false);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf c, c2;
	char err[1024];
	char *d1, *d2;
	size_t l1, l2;

	if (size > CONF_FILE_MAX)
		return 0;
	conf_init(&c);
	if (conf_parse_text(&c, (const char *)data, size, "fuzz", err,
			    sizeof(err)) == -1) {
		if (strncmp(err, "fuzz:", 5) != 0)
			abort();
		conf_free(&c);
		return 0;
	}
	check_ports(c.smtp_listen, true, true);
	check_ports(c.submission_listen, true, true);
	check_ports(c.submissions_listen, true, true);
	check_ports(c.pop3_listen, true, true);
	check_ports(c.pop3s_listen, true, true);
	check_hostport(c.relay_host);
	check_hostport(c.dns_resolver);
	d1 = dump(&c, &l1);
	conf_init(&c2);
	if (conf_parse_text(&c2, d1, l1, "dump", err, sizeof(err)) == -1) {
		fprintf(stderr, "dump not read back: %s\n", err);
		abort();
	}
	d2 = dump(&c2, &l2);
	if (l1 != l2 || memcmp(d1, d2, l1) != 0)
		abort();
	free(d2);
	free(d1);
	conf_free(&c2);
	conf_free(&c);
	return 0;
}
