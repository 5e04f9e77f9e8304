/*
 * test_rate - lib/rate: events of the last minute in one-second buckets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/rate.h"

static void
counts_the_last_minute(void **state)
{
	struct rate60 r = {0};

	(void)state;
	assert_int_equal(rate60_sum(&r, 1000), 0);
	rate60_add(&r, 1000, 1);
	rate60_add(&r, 1000, 2);
	rate60_add(&r, 1030, 4);
	assert_int_equal(rate60_sum(&r, 1030), 7);
	assert_int_equal(rate60_sum(&r, 1059), 7);
	/* the second 1000 is a minute old at 1060 */
	assert_int_equal(rate60_sum(&r, 1060), 4);
	assert_int_equal(rate60_sum(&r, 1089), 4);
	assert_int_equal(rate60_sum(&r, 1090), 0);
}

static void
a_bucket_is_reused_a_minute_later(void **state)
{
	struct rate60 r = {0};

	(void)state;
	rate60_add(&r, 5, 9);
	rate60_add(&r, 65, 1);	/* same bucket, a minute later */
	assert_int_equal(rate60_sum(&r, 65), 1);
	/* a long quiet stretch: nothing old comes back */
	assert_int_equal(rate60_sum(&r, 100000), 0);
	rate60_add(&r, 100000, UINT32_MAX);
	rate60_add(&r, 100000, 5);	/* saturates */
	assert_int_equal(rate60_sum(&r, 100000), UINT32_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(counts_the_last_minute),
		cmocka_unit_test(a_bucket_is_reused_a_minute_later),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
