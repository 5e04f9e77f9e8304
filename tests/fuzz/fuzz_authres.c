/*
 * libFuzzer harness for Authentication-Results (src/msgauth/authres.c).
 * The first octet picks the target, the rest is its input:
 *   even  a header section: authres_ours for "mx.example.org"; the
 *         spans lie inside it, in order, apart, each an
 *         Authentication-Results field;
 *   odd   lines: method, result, reason ("" none), then property and
 *         value pairs ("" ends a result, "(" starts a comment); the
 *         field made of what was accepted is printable ASCII, its line
 *         ends LF followed by a tab (folds) but the last, and
 *         authres_ours finds it whole as ours: nothing a value holds
 *         can end the field or start another.
 * Checks: no crash, no sanitizer report, no leak, and the above.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "msgauth/authres.h"

#define ID "mx.example.org"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_ours(const char *p, size_t n)
{
	struct authres_span sp[16];
	size_t k = authres_ours(p, n, ID, sp, 16), end = 0;

	for (size_t i = 0; i < k && i < 16; i++) {
		if (sp[i].off < end || sp[i].len < 23 ||
		    sp[i].off + sp[i].len > n ||
		    strncasecmp(p + sp[i].off, "Authentication-Results", 22)
			    != 0)
			abort();
		end = sp[i].off + sp[i].len;
	}
}

/* Splits p into up to max NUL-ended lines in store. */
static size_t
split(const char *p, size_t n, char *store, char **line, size_t max)
{
	size_t k = 0;

	memcpy(store, p, n);
	store[n] = '\0';
	for (char *s = store; k < max && s != NULL; k++) {
		char *nl = strchr(s, '\n');

		line[k] = s;
		if (nl != NULL)
			*nl++ = '\0';
		s = nl;
	}
	return k;
}

static void
check_field(const struct buf *b)
{
	struct authres_span sp[2];

	if (b->len == 0 || b->data[b->len - 1] != '\n')
		abort();
	for (size_t i = 0; i < b->len; i++) {
		unsigned char c = (unsigned char)b->data[i];

		if (c == '\n' ? i + 1 < b->len && b->data[i + 1] != '\t'
			      : (c < ' ' && c != '\t') || c > '~')
			abort();
	}
	if (authres_ours(b->data, b->len, ID, sp, 2) != 1 || sp[0].off != 0 ||
	    sp[0].len != b->len)
		abort();
}

static void
fuzz_build(const char *p, size_t n)
{
	static char store[65536];
	static char *line[64];
	struct authres *a = authres_new(ID);
	struct buf *b = buf_new(AUTHRES_FIELD_MAX + 1);
	size_t k, i = 0;

	if (n >= sizeof(store))
		n = sizeof(store) - 1;
	k = split(p, n, store, line, 64);
	while (i + 3 <= k) {
		const char *pr[4] = { NULL, NULL, NULL, NULL };
		size_t np = 0, j = i + 3;

		for (; j + 1 < k && line[j][0] != '\0' && np < 2; j += 2) {
			if (line[j][0] == '(')
				break;
			pr[np * 2] = line[j], pr[np * 2 + 1] = line[j + 1];
			np++;
		}
		(void)authres_add(a, line[i], line[i + 1],
				  line[i + 2][0] != '\0' ? line[i + 2] : NULL,
				  pr[0], pr[1], pr[2], pr[3], NULL);
		if (j < k && line[j][0] == '(')
			(void)authres_comment(a, line[j++] + 1);
		i = j + 1;
	}
	if (authres_format(a, b) == 0)
		check_field(b);
	buf_free(&b);
	authres_free(&a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] % 2 == 0)
		fuzz_ours((const char *)data + 1, size - 1);
	else
		fuzz_build((const char *)data + 1, size - 1);
	return 0;
}
