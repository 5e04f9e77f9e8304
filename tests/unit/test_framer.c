/*
 * Unit tests of net/framer, the line framing conn.c runs.  Each case is fed
 * whole, byte by byte and in 3- and 7-byte chunks, and shown to the framer
 * in segments of every size from 1 up (an evbuffer's chains): the events
 * must be the same every time.  Lines end at LF only, the CR stays, an
 * overlong line is reported once and skipped up to its LF.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "net/framer.h"

/* A caller like conn.c over one flat buffer, shown in seg-sized pieces. */
struct drv {
	struct framer fr;
	char in[4096];
	size_t len;
	size_t seg;		/* the longest contiguous piece shown */
	size_t max;
	struct buf *log;	/* "L[...]" per line, "T" per too-long */
};

static void
drv_consume(struct drv *d, size_t n)
{
	assert_true(n > 0 && n <= d->len);
	memmove(d->in, d->in + n, d->len - n);
	d->len -= n;
}

static void
drv_run(struct drv *d)
{
	for (;;) {
		size_t off = framer_offset(&d->fr), n, len;

		if (off >= d->len)
			return;
		n = d->len - off < d->seg ? d->len - off : d->seg;
		switch (framer_scan(&d->fr, d->in + off, n, d->max, &len)) {
		case FRAMER_MORE:
			assert_int_equal(len, 0);
			break;
		case FRAMER_LINE:
			assert_true(len <= d->max && d->in[len - 1] == '\n');
			assert_null(memchr(d->in, '\n', len - 1));
			buf_printf(d->log, "L[%.*s]", (int)len, d->in);
			drv_consume(d, len);
			break;
		case FRAMER_TOOLONG:
			assert_null(memchr(d->in, '\n', len));
			buf_addc(d->log, 'T');
			drv_consume(d, len);
			break;
		case FRAMER_DROP:
			drv_consume(d, len);
			break;
		}
	}
}

static void
drv_add(struct drv *d, const char *p, size_t n)
{
	assert_true(d->len + n <= sizeof(d->in));
	memcpy(d->in + d->len, p, n);
	d->len += n;
	drv_run(d);
}

static const size_t chunks[] = {0, 1, 3, 7};

/* Feeds text to a new d in pieces of chunk (0: whole), shown seg-sized. */
static void
drive(struct drv *d, const char *text, size_t max, size_t chunk, size_t seg)
{
	size_t n = strlen(text), step = chunk ? chunk : n;

	memset(d, 0, sizeof(*d));
	d->seg = seg;
	d->max = max;
	framer_reset(&d->fr);
	d->log = buf_new(1 << 16);
	for (size_t i = 0; i < n; i += step)
		drv_add(d, text + i, n - i < step ? n - i : step);
}

/* Runs text every way and checks the events against want. */
static void
frame(const char *text, size_t max, const char *want)
{
	for (size_t c = 0; c < 4; c++) {
		for (size_t seg = 1; seg <= strlen(text) + 1; seg++) {
			struct drv d;

			drive(&d, text, max, chunks[c], seg);
			if (strcmp(d.log->data, want) != 0)
				fail_msg("chunk %zu seg %zu: got %s want %s",
					 chunks[c], seg, d.log->data, want);
			buf_free(&d.log);
		}
	}
}

static void
test_lines(void **st)
{
	(void)st;
	frame("HELO a\r\nNOOP\r\n", 512, "L[HELO a\r\n]L[NOOP\r\n]");
	frame("\n\r\n", 512, "L[\n]L[\r\n]");
	/* a line without its LF yet is not a line */
	frame("QUIT\r", 512, "");
	frame("QUIT", 512, "");
}

static void
test_cr_kept_bare_lf_frames(void **st)
{
	(void)st;
	/* LF alone ends a line; the core sees it had no CR */
	frame("a\nb\r\n", 512, "L[a\n]L[b\r\n]");
	/* a bare CR ends nothing */
	frame("a\rb\r\n.\r\r\n", 512, "L[a\rb\r\n]L[.\r\r\n]");
	frame("\r\r\r\n", 512, "L[\r\r\r\n]");
}

static void
test_overlong_reported_once(void **st)
{
	(void)st;
	/* max 8: 8 octets with the LF fit, 9 do not */
	frame("123456\r\n", 8, "L[123456\r\n]");
	frame("1234567\r\n", 8, "T");
	frame("1234567\r\nok\r\n", 8, "TL[ok\r\n]");
	frame("0123456789abcdefghij\r\nok\r\n", 8, "TL[ok\r\n]");
	/* long past max, in any pieces: once */
	frame("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 8,
	      "T");
	frame("xxxxxxxxxxxxxxxxxxxxxxxxxx\nyyyyyyyyyyyyyyyy\nok\n", 8,
	      "TTL[ok\n]");
	/* the LF right after max octets ends the skipped line */
	frame("12345678\nA\n", 8, "TL[A\n]");
}

/* Runs text every way; framer_dropped() must then be want. */
static void
dropped(const char *text, size_t max, size_t want)
{
	for (size_t c = 0; c < 4; c++) {
		for (size_t seg = 1; seg <= strlen(text) + 1; seg++) {
			struct drv d;

			drive(&d, text, max, chunks[c], seg);
			if (framer_dropped(&d.fr) != want)
				fail_msg("chunk %zu seg %zu: dropped %zu want "
					 "%zu", chunks[c], seg,
					 framer_dropped(&d.fr), want);
			buf_free(&d.log);
		}
	}
}

/* What conn.c bounds a line that never ends with. */
static void
test_dropped_counts_past_the_first_max(void **st)
{
	(void)st;
	dropped("", 8, 0);
	dropped("1234567\n", 8, 0);
	/* the first max octets are the TOOLONG's, the rest is dropped */
	dropped("12345678", 8, 0);
	dropped("123456789", 8, 1);
	dropped("0123456789abcdefghij", 8, 12);
	/* with its LF; a new overlong line counts from 0 again */
	dropped("0123456789\n", 8, 3);
	dropped("0123456789\nabcdefghijk", 8, 3);
	dropped("0123456789\nabcdefghijkl", 8, 4);
	/* a line that fits after one that did not: what was last dropped */
	dropped("0123456789\nok\n", 8, 3);
}

static void
test_max_shrinks_under_pending_line(void **st)
{
	struct framer f;
	size_t len;

	(void)st;
	framer_reset(&f);
	assert_int_equal(framer_scan(&f, "abcdef", 6, 10, &len), FRAMER_MORE);
	assert_int_equal(framer_offset(&f), 6);
	/* the next line's max is 4: what is pending is already too long */
	assert_int_equal(framer_scan(&f, "gh\n", 3, 4, &len), FRAMER_TOOLONG);
	assert_int_equal(len, 6);
	assert_int_equal(framer_offset(&f), 0);
	assert_int_equal(framer_scan(&f, "gh\nok\n", 6, 4, &len), FRAMER_DROP);
	assert_int_equal(len, 3);
	assert_int_equal(framer_scan(&f, "ok\n", 3, 4, &len), FRAMER_LINE);
	assert_int_equal(len, 3);
	/* reset (STARTTLS threw the input away) forgets a skip */
	assert_int_equal(framer_scan(&f, "123456", 6, 4, &len),
			 FRAMER_TOOLONG);
	framer_reset(&f);
	assert_int_equal(framer_scan(&f, "ok\n", 3, 4, &len), FRAMER_LINE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_cr_kept_bare_lf_frames),
		cmocka_unit_test(test_overlong_reported_once),
		cmocka_unit_test(test_dropped_counts_past_the_first_max),
		cmocka_unit_test(test_max_shrinks_under_pending_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
