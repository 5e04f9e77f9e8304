/*
 * libFuzzer harness for the SASL module: the first byte picks the flags,
 * the mechanism and whether the first line is an initial response; the
 * rest is response lines split on LF.  Checks: no crash, no sanitizer
 * report, an exchange is under way exactly after SASL_MORE, SASL_OK gives
 * a user name and password within their limits (and a user name without
 * spaces or controls under SASL_USER_TOKEN), and every other result
 * leaves the user name and password wiped.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const struct sasl *x, enum sasl_result r, unsigned flags)
{
	static const char zero[SASL_PASS_MAX + 1];
	const char *u = sasl_user(x), *p = sasl_pass(x);

	if (sasl_active(x) != (r == SASL_MORE))
		abort();
	if (r == SASL_MORE) {
		const char *c = sasl_challenge(x);

		if (strcmp(c, "") != 0 && strcmp(c, "VXNlcm5hbWU6") != 0 &&
		    strcmp(c, "UGFzc3dvcmQ6") != 0)
			abort();
		return;
	}
	if (r != SASL_OK) {
		if (memcmp(x->user, zero, sizeof(x->user)) != 0 ||
		    memcmp(x->pass, zero, sizeof(x->pass)) != 0)
			abort();
		return;
	}
	if (u[0] == '\0' || strnlen(u, sizeof(x->user)) > SASL_USER_MAX ||
	    strnlen(p, sizeof(x->pass)) > SASL_PASS_MAX)
		abort();
	if (flags & SASL_USER_TOKEN)
		for (; *u != '\0'; u++)
			if ((unsigned char)*u <= ' ' || *u == 0x7f)
				abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sasl x;
	unsigned flags;
	enum sasl_mech m;
	enum sasl_result r;
	const char *p, *end, *nl;
	bool initial;

	if (size == 0)
		return 0;
	flags = data[0] & 7;
	m = data[0] & 8 ? SASL_MECH_LOGIN : SASL_MECH_PLAIN;
	initial = data[0] & 16;
	p = (const char *)data + 1;
	end = (const char *)data + size;
	sasl_init(&x, flags);
	if (initial) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		r = sasl_start(&x, m, p, (size_t)(nl - p));
		p = nl < end ? nl + 1 : end;
	} else {
		r = sasl_start(&x, m, NULL, 0);
	}
	check(&x, r, flags);
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if (!sasl_active(&x)) {
			/* a new exchange, as a client's next AUTH */
			r = sasl_start(&x, (nl - p) & 1 ? SASL_MECH_LOGIN
							: SASL_MECH_PLAIN,
				       NULL, 0);
			check(&x, r, flags);
		}
		r = sasl_step(&x, p, (size_t)(nl - p));
		check(&x, r, flags);
		p = nl < end ? nl + 1 : end;
	}
	sasl_wipe(&x);
	check(&x, SASL_CANCELLED, flags);
	return 0;
}
