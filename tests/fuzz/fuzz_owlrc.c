/*
 * libFuzzer harness for owl's ~/.owlrc parser (owl_rc_parse, what owl
 * does with the file's text).  Checks: no crash, no sanitizer report; a
 * refused file names a line of the input and a terminated key; an
 * accepted one leaves terminated strings, a non-empty host, ports in
 * 1-65535 and a known TLS mode.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "owl/owl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct owl_conf c = {.host = "localhost", .smtp_port = 587,
			     .pop3_port = 110, .tls = OWL_TLS_AUTO};
	char bad[64];
	unsigned lineno, lines = 1;

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	memset(bad, 'x', sizeof(bad));
	if (owl_rc_parse(&c, (const char *)data, size, &lineno, bad,
			 sizeof(bad)) == -1) {
		if (lineno == 0 || lineno > lines ||
		    memchr(bad, '\0', sizeof(bad)) == NULL)
			abort();
		return 0;
	}
	if (memchr(c.host, '\0', sizeof(c.host)) == NULL ||
	    memchr(c.user, '\0', sizeof(c.user)) == NULL ||
	    memchr(c.from, '\0', sizeof(c.from)) == NULL ||
	    memchr(c.cafile, '\0', sizeof(c.cafile)) == NULL ||
	    c.host[0] == '\0' || c.smtp_port < 1 || c.smtp_port > 65535 ||
	    c.pop3_port < 1 || c.pop3_port > 65535 ||
	    (c.tls != OWL_TLS_AUTO && c.tls != OWL_TLS_REQUIRE &&
	     c.tls != OWL_TLS_OFF))
		abort();
	return 0;
}
