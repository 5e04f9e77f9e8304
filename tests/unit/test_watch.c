/*
 * Unit tests of net/watch: change events for Maildir folders on a real
 * event_base and temp dirs.  What wakes a watcher (a link into new/, a
 * rename or unlink in cur/, the UID index renamed into place, a touch) and
 * how fast; what does not (tmp/, the lock file, the index's .tmp);
 * sharing, coalescing, watch_del from callbacks; polling (mode poll, and
 * as the fallback when inotify fails: a missing new/, the watch limit, a
 * folder moved away) and an inotify queue overflow.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/conf.h"
#include "lib/wpool.h"
#include "net/watch.h"

#define TMPROOT_NAME "watch"
#include "tmproot.h"

#define POLL_MS 50
#define SLACK_MS 400		/* a loaded test machine */

struct hit {
	int n;
	struct event_base *base;
	bool stop;		/* break the loop when called */
	struct watch *w;	/* this watcher */
	struct watch **del;	/* watch_del(del) when called */
};

static void
on_change(void *arg)
{
	struct hit *h = arg;

	h->n++;
	if (h->del != NULL)
		watch_del(h->del);
	if (h->stop)
		event_base_loopbreak(h->base);
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* Runs the loop for ms, or until a callback breaks it; the time taken. */
static double
run(struct event_base *b, unsigned ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	struct event *t = evtimer_new(b, stop_cb, b);
	double start = ((double)mono_us() / 1e3);

	evtimer_add(t, &tv);
	event_base_dispatch(b);
	event_free(t);
	return ((double)mono_us() / 1e3) - start;
}

/* Each test's loop and hub (and pool), made by its setup, freed by
 * teardown_hub. */
static struct event_base *base;
static struct watch_hub *h;
static struct wpool *pool;
static struct event *pool_ev;

static void
pool_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	wpool_complete(arg);
}

/* with_pool: 1 polls on a pool, 2 too but its completions wait. */
static int
setup_hub(enum watch_mode mode, int with_pool)
{
	struct watch_conf wc = {mode, POLL_MS, NULL};
	const char *e = NULL;

	if (setup(NULL) == -1 || (base = event_base_new()) == NULL)
		return -1;
	if (with_pool) {
		if ((pool = wpool_new(2, &e)) == NULL)
			return -1;
		wc.pool = pool;
	}
	if (with_pool == 1) {
		pool_ev = event_new(base, wpool_fd(pool), EV_READ | EV_PERSIST,
				    pool_cb, pool);
		event_add(pool_ev, NULL);
	}
	h = watch_hub_new(base, &wc, &e);
	return h != NULL ? 0 : -1;
}

static int
setup_auto(void **st)
{
	(void)st;
	return setup_hub(WATCH_AUTO, 0);
}

static int
setup_poll(void **st)
{
	(void)st;
	return setup_hub(WATCH_POLL, 0);
}

static int
setup_pool(void **st)
{
	(void)st;
	return setup_hub(WATCH_POLL, 1);
}

static int
setup_pool_held(void **st)
{
	(void)st;
	return setup_hub(WATCH_POLL, 2);
}

/* The hub goes before the pool: a poll in flight frees itself. */
static int
teardown_hub(void **st)
{
	watch_hub_free(&h);
	if (pool_ev != NULL)
		event_free(pool_ev);
	pool_ev = NULL;
	wpool_free(&pool);
	event_base_free(base);
	base = NULL;
	return teardown(st);
}

static const char *
path(const char *name, const char *sub)
{
	static char bufs[4][512];
	static int i;
	char *p = bufs[i++ % 4];

	snprintf(p, 512, "%s/%s%s%s", root, name, *sub ? "/" : "", sub);
	return p;
}

static void
put(const char *p, const char *text)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* Sets the time of p an hour back: an old folder, nothing recent. */
static void
age(const char *p)
{
	struct timespec ts[2];

	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= 3600;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
}

/* A Maildir folder name with tmp/, new/ (if with_new), cur/, an index. */
static const char *
maildir(const char *name, bool with_new)
{
	assert_int_equal(mkdir(path(name, ""), 0700), 0);
	assert_int_equal(mkdir(path(name, "tmp"), 0700), 0);
	assert_int_equal(mkdir(path(name, "cur"), 0700), 0);
	if (with_new)
		assert_int_equal(mkdir(path(name, "new"), 0700), 0);
	put(path(name, ".owlpost-uidlist"), "owlpost-uidlist 1 V1 N1 M1\n");
	put(path(name, "cur/1.a.host:2,"), "x");
	age(path(name, ".owlpost-uidlist"));
	age(path(name, "cur"));
	age(path(name, "tmp"));
	if (with_new)
		age(path(name, "new"));
	age(path(name, ""));
	return path(name, "");
}

/* A delivery: written in tmp/, linked into new/. */
static void
deliver(const char *name, const char *file)
{
	char t[512], n[512];

	snprintf(t, sizeof(t), "%s/%s/tmp/%s", root, name, file);
	snprintf(n, sizeof(n), "%s/%s/new/%s", root, name, file);
	put(t, "Subject: x\n\nx\n");
	assert_int_equal(link(t, n), 0);
	assert_int_equal(unlink(t), 0);
}

/* A delivery into A/new wakes a watcher of A within 1 s: the time. */
static double
delivery_wakes(struct watch_hub *hub, bool polled, const char *file)
{
	struct hit a = {.base = base, .stop = true};
	double t;

	a.w = watch_add(hub, maildir("A", true), on_change, &a);
	assert_int_equal(watch_is_polled(a.w), polled);
	deliver("A", file);
	t = run(base, 2000);
	assert_int_equal(a.n, 1);
	assert_true(t < 1000.0);
	watch_del(&a.w);
	assert_null(a.w);
	return t;
}

static void
test_delivery_wakes_within_1s(void **st)
{
	(void)st;
	print_message("delivery seen after %.1f ms\n",
		      delivery_wakes(h, false, "100.x.host"));
	assert_int_equal(watch_hub_folders(h), 0);
}

/* Each change a session must see wakes it, within 1 s. */
static void
expect_wake(struct hit *a, int n)
{
	double t = run(base, 2000);

	assert_int_equal(a->n, n);
	assert_true(t < 1000.0);
}

static void
test_flags_expunge_index(void **st)
{
	struct hit a = {.base = base, .stop = true};

	(void)st;
	a.w = watch_add(h, maildir("A", true), on_change, &a);
	assert_int_equal(rename(path("A", "cur/1.a.host:2,"),
				path("A", "cur/1.a.host:2,S")), 0);
	expect_wake(&a, 1);
	assert_int_equal(unlink(path("A", "cur/1.a.host:2,S")), 0);
	expect_wake(&a, 2);
	put(path("A", ".owlpost-uidlist.tmp"), "owlpost-uidlist 1 V1 N2 M2\n");
	assert_int_equal(rename(path("A", ".owlpost-uidlist.tmp"),
				path("A", ".owlpost-uidlist")), 0);
	expect_wake(&a, 3);
	/* a message moved from new/ to cur/ */
	deliver("A", "101.x.host");
	expect_wake(&a, 4);
	assert_int_equal(rename(path("A", "new/101.x.host"),
				path("A", "cur/101.x.host:2,")), 0);
	expect_wake(&a, 5);
	watch_del(&a.w);
}

static void
test_tmp_and_lock_do_not_wake(void **st)
{
	struct hit a = {.base = base};

	(void)st;
	a.w = watch_add(h, maildir("A", true), on_change, &a);
	put(path("A", "tmp/200.x.host"), "half a message");
	unlink(path("A", "tmp/200.x.host"));
	put(path("A", ".owlpost-lock"), "");
	put(path("A", ".owlpost-lock"), "");
	put(path("A", ".owlpost-uidlist.tmp"), "being written");
	unlink(path("A", ".owlpost-uidlist.tmp"));
	assert_int_equal(mkdir(path("A", ".Sent"), 0700), 0);
	run(base, 150);
	assert_int_equal(a.n, 0);
	watch_del(&a.w);
}

static void
test_shared_folder_and_other_folder(void **st)
{
	struct hit a1 = {.base = base}, a2 = {.base = base}, b = {.base = base};
	char dir_slash[600];

	(void)st;
	a1.w = watch_add(h, maildir("A", true), on_change, &a1);
	/* one folder whatever the spelling of a trailing slash */
	snprintf(dir_slash, sizeof(dir_slash), "%s/A/", root);
	a2.w = watch_add(h, dir_slash, on_change, &a2);
	b.w = watch_add(h, maildir("B", true), on_change, &b);
	assert_int_equal(watch_hub_folders(h), 2);
	deliver("A", "300.x.host");
	run(base, 150);
	assert_int_equal(a1.n, 1);
	assert_int_equal(a2.n, 1);
	assert_int_equal(b.n, 0);
	watch_del(&a1.w);
	assert_int_equal(watch_hub_folders(h), 2);
	deliver("A", "301.x.host");
	run(base, 150);
	assert_int_equal(a2.n, 2);
	watch_del(&a2.w);
	watch_del(&b.w);
}

static void
test_burst_is_coalesced(void **st)
{
	struct hit a = {.base = base};
	char name[64];

	(void)st;
	a.w = watch_add(h, maildir("A", true), on_change, &a);
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "%d.x.host", 400 + i);
		deliver("A", name);
	}
	run(base, 150);
	print_message("100 deliveries: %d callbacks\n", a.n);
	assert_true(a.n >= 1);
	assert_true(a.n <= 3);
	watch_del(&a.w);
}

static void
test_del_from_callbacks(void **st)
{
	struct hit self = {.base = base}, killer = {.base = base};
	struct hit victim = {.base = base}, last = {.base = base};

	(void)st;
	maildir("A", true);
	/* the walk goes newest first: self, killer, victim, last */
	last.w = watch_add(h, path("A", ""), on_change, &last);
	last.del = &last.w;
	victim.w = watch_add(h, path("A", ""), on_change, &victim);
	killer.w = watch_add(h, path("A", ""), on_change, &killer);
	killer.del = &victim.w;
	self.w = watch_add(h, path("A", ""), on_change, &self);
	self.del = &self.w;
	deliver("A", "500.x.host");
	run(base, 150);
	assert_int_equal(self.n, 1);
	assert_null(self.w);
	assert_int_equal(killer.n, 1);
	assert_int_equal(victim.n, 0);	/* deleted before its turn */
	assert_null(victim.w);
	assert_int_equal(last.n, 1);
	assert_null(last.w);
	killer.del = NULL;
	watch_del(&killer.w);	/* the last one: the folder goes */
	assert_int_equal(watch_hub_folders(h), 0);

	/* the only watcher deletes itself: the folder goes after the walk */
	self.n = 0;
	self.w = watch_add(h, path("A", ""), on_change, &self);
	self.del = &self.w;
	deliver("A", "501.x.host");
	run(base, 150);
	assert_int_equal(self.n, 1);
	assert_int_equal(watch_hub_folders(h), 0);
}

static void
test_touch(void **st)
{
	struct hit a = {.base = base, .stop = true}, b = {.base = base};
	double t;

	(void)st;
	a.w = watch_add(h, maildir("A", true), on_change, &a);
	b.w = watch_add(h, maildir("B", true), on_change, &b);
	watch_hub_touch(h, path("A", ""));
	assert_int_equal(a.n, 0);	/* never from inside touch */
	t = run(base, 2000);
	assert_int_equal(a.n, 1);
	assert_int_equal(b.n, 0);
	assert_true(t < 50.0);	/* no poll waited for */
	watch_hub_touch(h, path("C", ""));	/* nobody watches: nothing */
	watch_del(&a.w);
	watch_del(&b.w);
}

/*
 * Poll mode, on the loop (setup_poll) or on the worker pool (setup_pool,
 * where the loop never waits for the filesystem): nothing changed, no
 * callback; a delivery and the index replaced (another host's flag
 * change) each seen within the interval.
 */
static void
test_poll_mode(void **st)
{
	struct hit a = {.base = base, .stop = true};
	double t;

	(void)st;
	a.w = watch_add(h, maildir("A", true), on_change, &a);
	assert_true(watch_is_polled(a.w));
	run(base, 3 * POLL_MS + 20);
	assert_int_equal(a.n, 0);
	deliver("A", "600.x.host");
	t = run(base, 2000);
	assert_int_equal(a.n, 1);
	assert_true(t < POLL_MS + SLACK_MS);
	put(path("A", ".owlpost-uidlist.tmp"), "owlpost-uidlist 1 V1 N2 M3\n");
	assert_int_equal(rename(path("A", ".owlpost-uidlist.tmp"),
				path("A", ".owlpost-uidlist")), 0);
	t = run(base, 2000);
	assert_int_equal(a.n, 2);
	assert_true(t < POLL_MS + SLACK_MS);
	watch_del(&a.w);
}

/*
 * A folder on a shared filesystem is polled (other hosts' changes) and
 * watched by inotify too (this host's, at once: here well before the
 * poll interval of 10 s).
 */
static void
test_shared_fs_polls_and_watches(void **st)
{
	struct watch_conf wc = {WATCH_AUTO, 10000, NULL};
	const char *e = NULL;
	struct watch_hub *sh = watch_hub_new(base, &wc, &e);

	(void)st;
	assert_non_null(sh);
	watch_hub_assume_shared(sh, true);
	delivery_wakes(sh, true, "660.x.host");
	watch_hub_free(&sh);
}

/*
 * A poll still on the pool: no second one for the folder meanwhile, and
 * the folder may go (its job frees itself when the pool hands it back,
 * here in wpool_free after the hub is gone).
 */
static void
test_pool_job_outlives_folder(void **st)
{
	struct hit a = {.base = base};

	(void)st;
	a.w = watch_add(h, maildir("A", true), on_change, &a);
	run(base, 4 * POLL_MS + 20);
	assert_int_equal(wpool_pending(pool), 1);
	watch_del(&a.w);
	assert_int_equal(watch_hub_folders(h), 0);
	assert_int_equal(a.n, 0);
}

/*
 * A poll that saw a timestamp of the current second may have missed a
 * second change in that second (same mtime): one more callback once that
 * second is over.  Started early in a second, so the first poll sees the
 * change while it is recent.
 */
static void
test_poll_settles(void **st)
{
	struct hit a = {.base = base, .stop = true};
	struct timespec now, ts[2];

	(void)st;
	a.w = watch_add(h, maildir("A", true), on_change, &a);
	clock_gettime(CLOCK_REALTIME, &now);
	if (now.tv_nsec > 600000000L)
		usleep((useconds_t)((1000000000L - now.tv_nsec) / 1000 + 1000));
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= 1;
	ts[0].tv_nsec = 0;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, path("A", "new"), ts, 0), 0);
	run(base, 2000);
	assert_int_equal(a.n, 1);	/* the change */
	run(base, 2000);
	assert_int_equal(a.n, 2);	/* its second is over */
	a.stop = false;
	run(base, 2 * POLL_MS + 50);
	assert_int_equal(a.n, 2);	/* settled: quiet */
	watch_del(&a.w);
}

/* new/ missing at first: polled, then inotify once new/ is there. */
static void
test_fallback_missing_new(void **st)
{
	struct hit a = {.base = base, .stop = true};
	double t;

	(void)st;
	a.w = watch_add(h, maildir("A", false), on_change, &a);
	assert_true(watch_is_polled(a.w));
	assert_int_equal(mkdir(path("A", "new"), 0700), 0);
	deliver("A", "700.x.host");
	t = run(base, 2000);
	assert_int_equal(a.n, 1);
	assert_true(t < POLL_MS + SLACK_MS);
	assert_false(watch_is_polled(a.w));	/* set up again */
	deliver("A", "701.x.host");
	t = run(base, 2000);
	assert_int_equal(a.n, 2);
	assert_true(t < 1000.0);
	watch_del(&a.w);
}

/* The per-user watch limit (ENOSPC): polled until inotify works again. */
static void
test_fallback_watch_limit(void **st)
{
	struct hit a = {.base = base, .stop = true};
	struct hit b = {.base = base, .stop = true};
	double t;

	(void)st;
	b.w = watch_add(h, maildir("B", true), on_change, &b);
	watch_hub_fail_inotify(h, ENOSPC);
	a.w = watch_add(h, maildir("A", true), on_change, &a);
	assert_true(watch_is_polled(a.w));
	assert_false(watch_is_polled(b.w));	/* watched before: kept */
	deliver("A", "800.x.host");
	t = run(base, 2000);
	assert_int_equal(a.n, 1);
	assert_true(t < POLL_MS + SLACK_MS);
	assert_true(watch_is_polled(a.w));	/* still over the limit */
	watch_hub_fail_inotify(h, 0);
	deliver("A", "801.x.host");
	run(base, 2000);
	assert_int_equal(a.n, 2);
	assert_false(watch_is_polled(a.w));
	assert_int_equal(b.n, 0);
	watch_del(&a.w);
	watch_del(&b.w);
}

/* A folder moved away (IMAP RENAME elsewhere) and made again. */
static void
test_folder_moved_away(void **st)
{
	struct hit a = {.base = base, .stop = true};
	double t;

	(void)st;
	a.w = watch_add(h, maildir("A", true), on_change, &a);
	assert_int_equal(rename(path("A", ""), path("A2", "")), 0);
	t = run(base, 2000);
	assert_int_equal(a.n, 1);
	assert_true(t < 1000.0);
	run(base, 50);		/* the fire set it up again: polled */
	assert_true(watch_is_polled(a.w));
	/* a change in the moved folder is not this watch's business */
	deliver("A2", "900.x.host");
	a.stop = false;
	run(base, 2 * POLL_MS + 50);
	assert_int_equal(a.n, 1);
	a.stop = true;
	maildir("A", true);
	t = run(base, 2000);
	assert_int_equal(a.n, 2);
	assert_true(t < POLL_MS + SLACK_MS);
	run(base, 50);
	assert_false(watch_is_polled(a.w));
	watch_del(&a.w);
}

static int
queued_max(void)
{
	FILE *fp = fopen("/proc/sys/fs/inotify/max_queued_events", "r");
	int n = 0;

	if (fp == NULL)
		return 0;
	if (fscanf(fp, "%d", &n) != 1)
		n = 0;
	fclose(fp);
	return n;
}

/* Past max_queued_events the kernel says overflow: every watcher syncs. */
static void
test_queue_overflow(void **st)
{
	struct hit a = {.base = base}, b = {.base = base};
	int max = queued_max();
	char p[512];

	(void)st;
	if (max <= 0 || max > 65536)
		skip();
	a.w = watch_add(h, maildir("A", true), on_change, &a);
	b.w = watch_add(h, maildir("B", true), on_change, &b);
	/* two events per rename, with the loop not running */
	put(path("A", "new/0"), "x");
	for (int i = 0; i < max / 2 + 16; i++) {
		char q[512];

		snprintf(p, sizeof(p), "%s/A/new/%d", root, i % 2);
		snprintf(q, sizeof(q), "%s/A/new/%d", root, (i + 1) % 2);
		assert_int_equal(rename(p, q), 0);
	}
	run(base, 150);
	assert_true(a.n >= 1);
	assert_int_equal(b.n, 1);	/* untouched, told all the same */
	watch_del(&a.w);
	watch_del(&b.w);
}

/* watch_hub_free frees what sessions left (valgrind: no leak). */
static void
test_hub_free_with_watches(void **st)
{
	struct watch_conf bad = {WATCH_AUTO, 0, NULL};
	const char *e = NULL;
	struct hit a = {.base = base};

	(void)st;
	a.w = watch_add(h, maildir("A", true), on_change, &a);
	watch_add(h, path("A", ""), on_change, &a);
	watch_add(h, path("nowhere", ""), on_change, &a);
	assert_int_equal(watch_hub_folders(h), 2);
	watch_hub_touch(h, path("A", ""));
	watch_hub_free(&h);
	assert_null(h);
	assert_null(watch_hub_new(base, &bad, &e));
	assert_non_null(e);
}

static void
test_conf_keys(void **st)
{
	struct conf c;
	char err[300];

	(void)st;
	conf_init(&c);
	assert_int_equal(c.mailbox_watch, CONF_WATCH_AUTO);
	assert_int_equal(c.mailbox_poll_interval, 1000);
	assert_int_equal(conf_set(&c, "mailbox.watch", "poll", err,
				  sizeof(err)), 0);
	assert_int_equal(c.mailbox_watch, CONF_WATCH_POLL);
	assert_int_equal(conf_set(&c, "mailbox.watch", "inotify", err,
				  sizeof(err)), -1);
	assert_non_null(strstr(err, "auto|poll"));
	assert_int_equal(conf_set(&c, "mailbox.poll_interval", "250ms", err,
				  sizeof(err)), 0);
	assert_int_equal(c.mailbox_poll_interval, 250);
	assert_int_equal(conf_set(&c, "mailbox.poll_interval", "2", err,
				  sizeof(err)), 0);
	assert_int_equal(c.mailbox_poll_interval, 2000);
	assert_int_equal(conf_set(&c, "mailbox.poll_interval", "0", err,
				  sizeof(err)), -1);
	assert_non_null(strstr(err, "from 100ms to 60000ms"));
	assert_int_equal(conf_set(&c, "mailbox.poll_interval", "61s", err,
				  sizeof(err)), -1);
	assert_int_equal(conf_set(&c, "auth.fail_delay", "61", err,
				  sizeof(err)), -1);
	assert_non_null(strstr(err, "from 0 to 60 seconds"));
	conf_free(&c);
}

#define ON_AUTO(t) \
	cmocka_unit_test_setup_teardown(t, setup_auto, teardown_hub)
#define ON_POLL(t) \
	cmocka_unit_test_setup_teardown(t, setup_poll, teardown_hub)
#define ON_POOL(t) \
	cmocka_unit_test_setup_teardown(t, setup_pool, teardown_hub)
#define ON_POOL_HELD(t) \
	cmocka_unit_test_setup_teardown(t, setup_pool_held, teardown_hub)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		ON_AUTO(test_delivery_wakes_within_1s),
		ON_AUTO(test_flags_expunge_index),
		ON_AUTO(test_tmp_and_lock_do_not_wake),
		ON_AUTO(test_shared_folder_and_other_folder),
		ON_AUTO(test_burst_is_coalesced),
		ON_AUTO(test_del_from_callbacks),
		ON_POLL(test_touch),
		ON_POLL(test_poll_mode),
		ON_POLL(test_poll_settles),
		ON_POOL(test_poll_mode),
		ON_AUTO(test_shared_fs_polls_and_watches),
		ON_POOL_HELD(test_pool_job_outlives_folder),
		ON_AUTO(test_fallback_missing_new),
		ON_AUTO(test_fallback_watch_limit),
		ON_AUTO(test_folder_moved_away),
		ON_AUTO(test_queue_overflow),
		ON_AUTO(test_hub_free_with_watches),
		cmocka_unit_test(test_conf_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
