/*
 * Unit tests of the IMAP value parsers of proto/: sequence sets
 * (imap_seqset.h, RFC 9051 9: numbers, ranges either way round, "*",
 * resolving against a mailbox, merging, membership, every refusal and
 * the range bound).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "proto/imap_seqset.h"

/* The resolved set as text ("lo:hi,..."), or "ERR why". */
static void
seq(const char *text, uint32_t star, size_t max, char *out, size_t size)
{
	struct imap_seqset set;
	const char *why;
	size_t n = 0;

	if (imap_seqset_parse(text, strlen(text), max, &set, &why) == -1) {
		snprintf(out, size, "ERR %s", why);
		assert_null(set.r);
		return;
	}
	imap_seqset_resolve(&set, star);
	out[0] = '\0';
	for (size_t i = 0; i < set.n; i++)
		n += (size_t)snprintf(out + n, size - n, "%s%u:%u",
				      i ? "," : "", set.r[i].lo, set.r[i].hi);
	imap_seqset_free(&set);
}

static void
expect(const char *text, uint32_t star, const char *want)
{
	char got[512];

	seq(text, star, 100, got, sizeof(got));
	assert_string_equal(got, want);
}

static void
test_seqset(void **st)
{
	(void)st;
	expect("1", 10, "1:1");
	expect("1:*", 10, "1:10");
	expect("*", 10, "10:10");
	expect("*:4", 10, "4:10");		/* either way round */
	expect("7:3", 10, "3:7");
	expect("2,4:7,9,12:*", 15, "2:2,4:7,9:9,12:15");
	expect("2:4,5:7,3", 10, "2:7");	/* touching and inside: merged */
	expect("9,1,5", 10, "1:1,5:5,9:9");	/* sorted */
	expect("4294967295", 10, "4294967295:4294967295");
	expect("1:*", 0, "0:1");		/* empty mailbox: nothing is 1 */
	expect("", 10, "ERR Invalid sequence set");
	expect("0", 10, "ERR Invalid sequence set");
	expect("01", 10, "ERR Invalid sequence set");
	expect("4294967296", 10, "ERR Invalid sequence set");
	expect("1,", 10, "ERR Invalid sequence set");
	expect(",1", 10, "ERR Invalid sequence set");
	expect("1::2", 10, "ERR Invalid sequence set");
	expect("1:2:3", 10, "ERR Invalid sequence set");
	expect("1 2", 10, "ERR Invalid sequence set");
	expect("$", 10, "ERR Invalid sequence set");
	expect("1:-1", 10, "ERR Invalid sequence set");
}

static void
test_seqset_bound_and_has(void **st)
{
	struct imap_seqset set;
	const char *why;
	char got[512];

	(void)st;
	seq("1,2,3", 10, 3, got, sizeof(got));
	assert_string_equal(got, "1:3"); /* three elements, merged */
	seq("1,2,3,4", 10, 3, got, sizeof(got));
	assert_string_equal(got, "ERR [LIMIT] Too many ranges in a sequence "
			    "set");
	assert_int_equal(imap_seqset_parse("3:5,9,20:*", 10, 10, &set, &why),
			 0);
	imap_seqset_resolve(&set, 25);
	for (uint32_t v = 0; v <= 30; v++)
		assert_int_equal(imap_seqset_has(&set, v),
				 (v >= 3 && v <= 5) || v == 9 ||
					 (v >= 20 && v <= 25));
	imap_seqset_free(&set);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seqset),
		cmocka_unit_test(test_seqset_bound_and_has),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
