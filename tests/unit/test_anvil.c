/*
 * Unit tests of the per-client counters: lib/ktab (bounded table,
 * eviction in turn, refusal when nothing may go), net/anvil (sessions and
 * connections per minute per address) and auth/penalty (the doubling
 * delay per address, per account only for addresses that failed for it,
 * reset by success, forgotten after the window, bounded memory).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "auth/penalty.h"
#include "lib/ktab.h"
#include "net/anvil.h"

struct counter {
	unsigned n;
};

static bool
odd_only(const void *rec, void *arg)
{
	(void)arg;
	return ((const struct counter *)rec)->n % 2 == 1;
}

static void
test_ktab_basics(void **st)
{
	struct ktab *t = ktab_new(4, 8, sizeof(struct counter), 42);
	struct counter *c;

	(void)st;
	assert_null(ktab_find(t, "a"));
	c = ktab_add(t, "a", NULL, NULL);
	assert_non_null(c);
	assert_int_equal(c->n, 0);
	c->n = 7;
	assert_ptr_equal(ktab_add(t, "a", NULL, NULL), c);
	assert_int_equal(((struct counter *)ktab_find(t, "a"))->n, 7);
	assert_null(ktab_add(t, "123456789", NULL, NULL)); /* > keymax */
	assert_non_null(ktab_add(t, "12345678", NULL, NULL));
	assert_int_equal(ktab_count(t), 2);
	ktab_remove(t, "a");
	ktab_remove(t, "a");
	assert_null(ktab_find(t, "a"));
	assert_int_equal(ktab_count(t), 1);
	ktab_free(&t);
	assert_null(t);
}

static void
test_ktab_full(void **st)
{
	struct ktab *t = ktab_new(3, 8, sizeof(struct counter), 1);
	char key[9];

	(void)st;
	for (unsigned i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "k%u", i);
		((struct counter *)ktab_add(t, key, NULL, NULL))->n = i * 2;
	}
	/* all even: none may go */
	assert_null(ktab_add(t, "new", odd_only, NULL));
	((struct counter *)ktab_find(t, "k1"))->n = 3;
	assert_non_null(ktab_add(t, "new", odd_only, NULL));
	assert_null(ktab_find(t, "k1"));
	assert_non_null(ktab_find(t, "k0"));
	assert_non_null(ktab_find(t, "k2"));
	assert_int_equal(ktab_count(t), 3);
	/* with no veto, the slots are taken in turn, never more than 3 */
	for (unsigned i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "x%u", i);
		assert_non_null(ktab_add(t, key, NULL, NULL));
		assert_int_equal(ktab_count(t), 3);
	}
	assert_non_null(ktab_find(t, "x99"));
	assert_non_null(ktab_find(t, "x98"));
	assert_null(ktab_find(t, "x96"));
	ktab_free(&t);
}

static void
test_ktab_many_keys(void **st)
{
	struct ktab *t = ktab_new(1000, 16, sizeof(struct counter), 99);
	char key[17];

	(void)st;
	for (unsigned i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "10.0.%u.%u", i / 256, i % 256);
		((struct counter *)ktab_add(t, key, NULL, NULL))->n = i;
	}
	for (unsigned i = 0; i < 1000; i += 2) {
		snprintf(key, sizeof(key), "10.0.%u.%u", i / 256, i % 256);
		ktab_remove(t, key);
	}
	for (unsigned i = 1; i < 1000; i += 2) {
		snprintf(key, sizeof(key), "10.0.%u.%u", i / 256, i % 256);
		assert_int_equal(((struct counter *)ktab_find(t, key))->n, i);
	}
	assert_int_equal(ktab_count(t), 500);
	ktab_free(&t);
}

static void
test_anvil_sessions(void **st)
{
	struct anvil *a = anvil_new(100, 3, 0, 7);
	unsigned n;

	(void)st;
	for (int i = 0; i < 3; i++)
		assert_int_equal(anvil_connect(a, "192.0.2.1", 1000, &n),
				 ANVIL_OK);
	assert_int_equal(anvil_connect(a, "192.0.2.1", 1000, &n),
			 ANVIL_TOO_MANY);
	assert_int_equal(n, 3);
	/* another address is not affected */
	assert_int_equal(anvil_connect(a, "192.0.2.2", 1000, &n), ANVIL_OK);
	anvil_disconnect(a, "192.0.2.1");
	assert_int_equal(anvil_sessions(a, "192.0.2.1"), 2);
	assert_int_equal(anvil_connect(a, "192.0.2.1", 1000, &n), ANVIL_OK);
	for (int i = 0; i < 5; i++)
		anvil_disconnect(a, "192.0.2.1"); /* never below 0 */
	assert_int_equal(anvil_sessions(a, "192.0.2.1"), 0);
	anvil_disconnect(a, "2001:db8::1"); /* unknown: nothing */
	anvil_free(&a);
	assert_null(a);
}

static void
test_anvil_rate(void **st)
{
	struct anvil *a = anvil_new(100, 0, 5, 7);
	unsigned n;

	(void)st;
	for (int i = 0; i < 5; i++) {
		assert_int_equal(anvil_connect(a, "2001:db8::1", 500, &n),
				 ANVIL_OK);
		anvil_disconnect(a, "2001:db8::1");
	}
	assert_int_equal(anvil_connect(a, "2001:db8::1", 559, &n),
			 ANVIL_TOO_FAST);
	assert_int_equal(n, 6);
	/* refused ones count too: still too fast within the minute */
	assert_int_equal(anvil_connect(a, "2001:db8::1", 559, &n),
			 ANVIL_TOO_FAST);
	assert_int_equal(n, 7);
	assert_int_equal(anvil_connect(a, "2001:db8::2", 559, &n), ANVIL_OK);
	/* the next minute starts again */
	assert_int_equal(anvil_connect(a, "2001:db8::1", 560, &n), ANVIL_OK);
	anvil_free(&a);
}

static void
test_anvil_off_and_bounded(void **st)
{
	struct anvil *a = anvil_new(10, 0, 0, 7);
	unsigned n;
	char addr[64];

	(void)st;
	for (int i = 0; i < 1000; i++)
		assert_int_equal(anvil_connect(a, "192.0.2.1", 1, &n),
				 ANVIL_OK);
	anvil_free(&a);
	/* 2 sessions per address, 10 + 1024 records: many addresses with a
	 * rate only are replaced, a held session never is */
	a = anvil_new(10, 2, 100, 7);
	assert_int_equal(anvil_connect(a, "198.51.100.1", 1, &n), ANVIL_OK);
	assert_int_equal(anvil_connect(a, "198.51.100.1", 1, &n), ANVIL_OK);
	for (int i = 0; i < 5000; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.1", i / 256, i % 256);
		assert_int_equal(anvil_connect(a, addr, 1, &n), ANVIL_OK);
		anvil_disconnect(a, addr);
	}
	assert_int_equal(anvil_sessions(a, "198.51.100.1"), 2);
	assert_int_equal(anvil_connect(a, "198.51.100.1", 1, &n),
			 ANVIL_TOO_MANY);
	anvil_free(&a);
}

static void
test_penalty_delay_curve(void **st)
{
	struct penalty *p = penalty_new(2000, 15000, 3600, 3);
	struct penalty *off = penalty_new(2000, 0, 3600, 3);
	unsigned f;

	(void)st;
	assert_int_equal(penalty_delay(p, 0), 0);
	assert_int_equal(penalty_delay(p, 1), 2000);
	assert_int_equal(penalty_delay(p, 2), 4000);
	assert_int_equal(penalty_delay(p, 3), 8000);
	assert_int_equal(penalty_delay(p, 4), 15000);
	assert_int_equal(penalty_delay(p, 1000000), 15000);
	assert_int_equal(penalty_delay(off, 5), 0);
	penalty_failed(off, "192.0.2.1", "alice@x", 10);
	assert_int_equal(penalty_not_before(off, "192.0.2.1", "alice@x", 10,
					    &f), 10);
	penalty_free(&off);
	penalty_free(&p);
	assert_null(p);
}

static void
test_penalty_per_address(void **st)
{
	struct penalty *p = penalty_new(100, 1000, 60, 3);
	unsigned f;

	(void)st;
	assert_int_equal(penalty_not_before(p, "192.0.2.1", "alice@x", 5000,
					    &f), 5000);
	assert_int_equal(f, 0);
	assert_int_equal(penalty_failed(p, "192.0.2.1", "alice@x", 5000), 1);
	assert_int_equal(penalty_failed(p, "192.0.2.1", "bob@x", 5010), 2);
	assert_int_equal(penalty_failed(p, "192.0.2.1", "carol@x", 5020), 3);
	/* any account, even a right password, waits for the address */
	assert_int_equal(penalty_not_before(p, "192.0.2.1", "dave@x", 5030,
					    &f), 5020 + 400);
	assert_int_equal(f, 3);
	assert_int_equal(penalty_failed(p, "192.0.2.1", "bob@x", 5420), 4);
	assert_int_equal(penalty_not_before(p, "192.0.2.1", "alice@x", 5421,
					    &f), 5420 + 800);
	for (int i = 0; i < 10; i++)
		penalty_failed(p, "192.0.2.1", "alice@x", 6000);
	assert_int_equal(penalty_not_before(p, "192.0.2.1", "bob@x", 6000,
					    &f), 6000 + 1000); /* the cap */
	/* the real user elsewhere: no wait at all */
	assert_int_equal(penalty_not_before(p, "198.51.100.7", "alice@x",
					    6000, &f), 6000);
	/*
	 * A success takes off only that account's failures: bob's two and
	 * carol's one stay, so one valid account does not wipe the penalty of
	 * guesses sprayed at others from the same address.
	 */
	penalty_succeeded(p, "192.0.2.1", "alice@x");
	assert_int_equal(penalty_not_before(p, "192.0.2.1", "alice@x", 6001,
					    &f), 6000 + 400);
	assert_int_equal(f, 3);
	penalty_succeeded(p, "192.0.2.1", "bob@x");
	assert_int_equal(penalty_not_before(p, "192.0.2.1", "dave@x", 6001,
					    &f), 6000 + 100);
	penalty_succeeded(p, "192.0.2.1", "carol@x");
	assert_int_equal(penalty_not_before(p, "192.0.2.1", "alice@x", 6001,
					    &f), 6001);
	penalty_free(&p);
}

static void
test_penalty_per_account(void **st)
{
	struct penalty *p = penalty_new(100, 1000, 60, 3);
	char addr[64];
	unsigned f;

	(void)st;
	/* one guess each from 20 addresses at alice */
	for (int i = 0; i < 20; i++) {
		snprintf(addr, sizeof(addr), "10.0.0.%d", i);
		penalty_failed(p, addr, "alice@x", 1000);
	}
	/* an address that failed for alice waits for alice's count */
	assert_int_equal(penalty_not_before(p, "10.0.0.3", "alice@x", 1001,
					    &f), 1000 + 1000);
	assert_int_equal(f, 20);
	/* but not for another account (its own single failure only) */
	assert_int_equal(penalty_not_before(p, "10.0.0.3", "bob@x", 1001, &f),
			 1000 + 100);
	/* an address without failures is not locked out */
	assert_int_equal(penalty_not_before(p, "198.51.100.7", "alice@x",
					    1001, &f), 1001);
	/* the owner's success clears its own pair, not the account */
	penalty_failed(p, "198.51.100.7", "alice@x", 1002);
	penalty_succeeded(p, "198.51.100.7", "alice@x");
	assert_int_equal(penalty_not_before(p, "198.51.100.7", "alice@x",
					    1003, &f), 1003);
	assert_int_equal(penalty_not_before(p, "10.0.0.4", "alice@x", 1003,
					    &f), 1002 + 1000);
	penalty_free(&p);
}

static void
test_penalty_window(void **st)
{
	struct penalty *p = penalty_new(100, 1000, 2, 3);
	unsigned f;

	(void)st;
	for (int i = 0; i < 5; i++)
		penalty_failed(p, "192.0.2.1", "alice@x", 10000);
	assert_int_equal(penalty_not_before(p, "192.0.2.1", "alice@x", 10500,
					    &f), 11000);
	assert_int_equal(penalty_failed(p, "192.0.2.1", "alice@x", 10001), 6);
	/* two seconds after the last failure it is forgotten */
	assert_int_equal(penalty_not_before(p, "10.9.9.9", "alice@x", 12000,
					    &f), 12000);
	assert_int_equal(penalty_failed(p, "192.0.2.1", "alice@x", 12001), 1);
	penalty_free(&p);
}

static void
test_penalty_bounded(void **st)
{
	struct penalty *p = penalty_new(100, 1000, 3600, 3);
	char addr[64], user[300];
	unsigned f;

	(void)st;
	/* far more keys than PENALTY_SLOTS: memory stays fixed and the
	 * latest records are still there */
	for (int i = 0; i < 3 * PENALTY_SLOTS; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.%d", i >> 16,
			 (i >> 8) & 255, i & 255);
		snprintf(user, sizeof(user), "%0250d@x", i);
		penalty_failed(p, addr, user, 1000);
	}
	assert_int_equal(penalty_not_before(p, addr, user, 1000, &f), 1100);
	penalty_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ktab_basics),
		cmocka_unit_test(test_ktab_full),
		cmocka_unit_test(test_ktab_many_keys),
		cmocka_unit_test(test_anvil_sessions),
		cmocka_unit_test(test_anvil_rate),
		cmocka_unit_test(test_anvil_off_and_bounded),
		cmocka_unit_test(test_penalty_delay_curve),
		cmocka_unit_test(test_penalty_per_address),
		cmocka_unit_test(test_penalty_per_account),
		cmocka_unit_test(test_penalty_window),
		cmocka_unit_test(test_penalty_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
