/*
 * test_relay_pick - the relay's connection-cache policy (relay/pick.c):
 * which session a recipient goes to, within the per-destination and the
 * total limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "relay/pick.h"

static char A, B, C;	/* the caller's handles for three sessions */
static const struct pick_limits ROOM = {.per_dest = 3, .total = 10,
					.now = 3};

static enum pick_what
run(const struct pick_route *v, void *const *h, size_t n, bool fresh,
    const struct pick_limits *l, void **r, bool *evict)
{
	struct pick p;

	pick_init(&p, fresh);
	for (size_t i = 0; i < n; i++)
		pick_add(&p, h[i], &v[i]);
	return pick_done(&p, l, r, evict);
}

static void
test_own_then_idle_then_new(void **state)
{
	struct pick_route v[3] = {
		{.started = true, .open = true, .queued = 2},
		{.started = true, .open = true, .idle = true},
		{.started = false},
	};
	void *h[3] = {&A, &B, &C};
	void *r;
	bool evict;

	(void)state;
	/* this pass's own session keeps a message's recipients together */
	assert_int_equal(run(v, h, 3, false, &ROOM, &r, &evict), PICK_ROUTE);
	assert_ptr_equal(r, &C);
	/* then the idle cached one, before a new connection */
	assert_int_equal(run(v, h, 2, false, &ROOM, &r, &evict), PICK_ROUTE);
	assert_ptr_equal(r, &B);
	assert_false(evict);
	/* busy only, room left: a new session (a burst uses them all) */
	assert_int_equal(run(v, h, 1, false, &ROOM, &r, &evict), PICK_NEW);
	assert_int_equal(run(v, h, 0, false, &ROOM, &r, &evict), PICK_NEW);
}

static void
test_destination_limit_then_least_busy(void **state)
{
	struct pick_route v[3] = {
		{.started = true, .open = true, .queued = 4},
		{.started = true, .open = true, .queued = 1},
		{.started = true, .open = false, .queued = 0}, /* ending */
	};
	void *h[3] = {&A, &B, &C};
	void *r;
	bool evict;

	(void)state;
	/* three sessions, the ending one counted: the least busy open one */
	assert_int_equal(run(v, h, 3, false, &ROOM, &r, &evict), PICK_ROUTE);
	assert_ptr_equal(r, &B);
	assert_false(evict);
	/* every one ending: wait for one to end, no fourth */
	v[0].open = v[1].open = false;
	assert_int_equal(run(v, h, 3, false, &ROOM, &r, &evict), PICK_NONE);
	assert_false(evict);
}

static void
test_relay_full(void **state)
{
	struct pick_route v[1] = {{.started = true, .open = true, .queued = 2}};
	void *h[1] = {&A};
	struct pick_limits full = {.per_dest = 3, .total = 5, .now = 5};
	void *r;
	bool evict;

	(void)state;
	/* room for the destination, none in the relay: make room elsewhere,
	   meanwhile its own session */
	assert_int_equal(run(v, h, 1, false, &full, &r, &evict), PICK_ROUTE);
	assert_ptr_equal(r, &A);
	assert_true(evict);
	assert_int_equal(run(v, h, 0, false, &full, &r, &evict), PICK_NONE);
	assert_true(evict);
}

static void
test_fresh_only_new(void **state)
{
	struct pick_route v[2] = {
		{.started = true, .open = true, .idle = true},
		{.started = true, .open = true, .queued = 1},
	};
	void *h[2] = {&A, &B};
	struct pick_limits two = {.per_dest = 2, .total = 10, .now = 2};
	void *r;
	bool evict;

	(void)state;
	/* lost on a cached session: never a cached one again */
	assert_int_equal(run(v, h, 2, true, &ROOM, &r, &evict), PICK_NEW);
	assert_int_equal(run(v, h, 2, true, &two, &r, &evict), PICK_NONE);
	assert_false(evict);
	/* a session of this pass is fresh */
	v[1].started = false;
	assert_int_equal(run(v, h, 2, true, &two, &r, &evict), PICK_ROUTE);
	assert_ptr_equal(r, &B);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_then_idle_then_new),
		cmocka_unit_test(test_destination_limit_then_least_busy),
		cmocka_unit_test(test_relay_full),
		cmocka_unit_test(test_fresh_only_new),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
