/*
 * Unit tests of change events reaching shared views (issue 17 item 5): a
 * session watching its folder (net/watch.h on the view's directory) learns
 * of a delivery, another session's flag change and another session's
 * expunge within 1 s, and its sync then reports exactly that change; with
 * inotify (a local disk) and with polling (what a shared filesystem
 * gets), on a real event loop and temp dirs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/clock.h"
#include "net/watch.h"
#include "store/store.h"

#define USER "alice@example.org"
#define MSG "Subject: hi\n\nhello\n"

#define TMPROOT_NAME "vevents"
#include "tmproot.h"

struct session {
	struct store_view *v;
	struct store_view_changes ch;	/* of the last sync */
	unsigned woken;
	struct event_base *base;
};

/* The watch callback: sync now (as an IDLE session would), stop the loop. */
static void
changed(void *arg)
{
	struct session *s = arg;
	char err[300];

	store_view_changes_free(&s->ch);
	assert_int_equal(store_view_sync(s->v, 0, &s->ch, err, sizeof(err)),
			 STORE_OK);
	if (s->ch.nnew + s->ch.nchanged + s->ch.nexpunged == 0)
		return; /* a wake-up for nothing new: keep waiting */
	s->woken++;
	event_base_loopbreak(s->base);
}

/* Runs the loop until the session was woken with a change, at most 2 s;
 * returns how long it took in ms. */
static double
wait_change(struct session *s)
{
	struct timeval cap = {2, 0};
	double t0 = ((double)mono_us() / 1e3);
	unsigned before = s->woken;

	event_base_loopexit(s->base, &cap);
	event_base_dispatch(s->base);
	assert_int_equal(s->woken, before + 1);
	return ((double)mono_us() / 1e3) - t0;
}

static void
deliver(struct store *st)
{
	const char *users[] = {USER};
	struct store_delivery d = {.sender = "", .users = users, .nusers = 1,
				   .data = MSG, .fd = -1,
				   .len = sizeof(MSG) - 1, .when = 1700000000};
	struct store_delivery *batch[] = {&d};

	store_deliver(st, batch, 1);
	assert_int_equal(d.res, STORE_OK);
}

static void
run(enum watch_mode mode)
{
	struct store *st = open_store(MBOX_FMT_MAILDIR);
	struct watch_conf wc = {.mode = mode, .poll_interval_ms = 100};
	struct session a = {0};
	struct store_view *b;
	struct watch_hub *hub;
	struct watch *w;
	struct store_flags_req seen = {.op = STORE_FLAGS_ADD,
				       .flags = STORE_F_SEEN};
	const char *e;
	char err[300];
	size_t pos = 0;
	bool dele[1] = {true};
	double ms;

	a.base = event_base_new();
	hub = watch_hub_new(a.base, &wc, &e);
	assert_non_null(hub);
	assert_int_equal(store_view_open_shared(st, USER, "INBOX", &a.v, err,
						sizeof(err)), STORE_OK);
	w = watch_add(hub, store_view_dir(a.v), changed, &a);
	assert_int_equal(watch_is_polled(w), mode == WATCH_POLL);

	/* a delivery */
	deliver(st);
	ms = wait_change(&a);
	assert_true(ms < 1000);
	assert_int_equal(a.ch.nnew, 1);

	/* another session's flag change */
	assert_int_equal(store_view_open_shared(st, USER, "INBOX", &b, err,
						sizeof(err)), STORE_OK);
	assert_int_equal(store_view_store(b, &pos, 1, &seen, NULL, err,
					  sizeof(err)), STORE_OK);
	ms = wait_change(&a);
	assert_true(ms < 1000);
	assert_int_equal(a.ch.nchanged, 1);
	{
		struct store_vmsg m;

		store_view_msg(a.v, 0, &m);
		assert_true(m.flags & STORE_F_SEEN);
	}

	/* another session's expunge */
	assert_int_equal(store_view_expunge(b, dele, err, sizeof(err)),
			 STORE_OK);
	ms = wait_change(&a);
	assert_true(ms < 1000);
	assert_int_equal(a.ch.nexpunged, 1);

	store_view_close(&b);
	watch_del(&w);
	store_view_changes_free(&a.ch);
	store_view_close(&a.v);
	watch_hub_free(&hub);
	event_base_free(a.base);
	store_free(&st);
}

static void
test_inotify(void **state)
{
	(void)state;
	run(WATCH_AUTO);
}

static void
test_poll(void **state)
{
	(void)state;
	run(WATCH_POLL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_inotify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poll, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
