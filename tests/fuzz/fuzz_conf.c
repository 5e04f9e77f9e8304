/*
 * libFuzzer harness for the configuration file parser (conf_parse_text,
 * as conf_load calls it on the file's text).  Checks: no crash, no
 * sanitizer report; a refused file says where ("fuzz:LINE: "); an
 * accepted one, printed by conf_dump (owlctl check), parses again to the
 * same dump, so every value conf_set accepts is one it can read back.
 */
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
