/*
 * Unit tests for what the parser fuzz harnesses (tests/fuzz) found: each
 * test is one finding, reproduced through the API the daemon uses (the
 * file readers), so that it fails on the code before the fix.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/users.h"
#include <netinet/in.h>

#include "lib/buf.h"
#include "lib/cidr.h"
#include "lib/conf.h"
#include "lib/log.h"
#include "relay/bounce.h"
#include "store/store_private.h"

#define TMPROOT_NAME "parsers"
#include "tmproot.h"

static void
write_file(const char *path, const char *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void
assert_unique_uidls(const struct store_box *b)
{
	for (size_t i = 0; i < b->n; i++) {
		assert_true(strlen(store_box_uidl(b, i)) > 0);
		assert_true(strlen(store_box_uidl(b, i)) <= 70);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(store_box_uidl(b, i),
						store_box_uidl(b, j));
	}
}

/* fuzz_mbox: 16 equal messages (no X-UIDL) kept repeated UIDLs */
static void
test_mbox_equal_messages_unique_uidls(void **st)
{
	char dir[300], path[400];
	const char *err;
	char e[200];
	struct store *s;
	struct store_box *b;
	struct buf *text = buf_new(1 << 16);

	(void)st;
	snprintf(dir, sizeof(dir), "%s/mail", root);
	s = store_new(MBOX_FMT_MBOX, dir, "host.example", &err);
	assert_non_null(s);
	snprintf(path, sizeof(path), "%s/example.org", dir);
	assert_int_equal(store_mkdirs(path, dir), 0);
	for (int i = 0; i < 16; i++)
		buf_addstr(text, "From MAILER-DAEMON Thu Jan  1 00:00:00 2026\n"
				 "Subject: same\n\nsame body\n\n");
	snprintf(path, sizeof(path), "%s/example.org/alice.mbox", dir);
	write_file(path, text->data, text->len);
	assert_int_equal(store_box_open(s, "alice@example.org", &b, e,
					sizeof(e)), STORE_OK);
	assert_int_equal(b->n, 16);
	assert_unique_uidls(b);
	store_box_free(&b);
	store_free(&s);
	buf_free(&text);
}

/* fuzz_mbox: a 70-octet UIDL ending ".2", twice, stayed the same */
static void
test_long_uidl_repeat(void **st)
{
	struct store_box b = {.fd = -1};
	char uidl[72];

	(void)st;
	memset(uidl, 'x', 68);
	memcpy(uidl + 68, ".2", 3);
	for (size_t i = 0; i < 3; i++)
		box_set_uidl(&b, box_add(&b), uidl);
	store_box_unique_uidls(&b);
	assert_unique_uidls(&b);
	store_box_free_msgs(&b);
}

/* A chain a, a, a.2, a.2.2, ... made each round a new repeat: after
 * the 8 rounds repeats were left */
static void
test_uidl_chain(void **st)
{
	struct store_box b = {.fd = -1};
	char uidl[72] = "a";

	(void)st;
	for (size_t i = 0; i < 14; i++) {
		if (i > 1)
			strcat(uidl, ".2");
		box_set_uidl(&b, box_add(&b), uidl);
	}
	store_box_unique_uidls(&b);
	assert_unique_uidls(&b);
	assert_string_equal(store_box_uidl(&b, 0), "a");
	store_box_free_msgs(&b);
}

/* fuzz_users: of a user listed twice, bsearch picked either line */
static void
test_users_first_line_wins(void **st)
{
	static const char text[] =
		"alice@example.org:{CRYPT}$6$first\n"
		"bob@example.org:{CRYPT}$6$bob\n"
		"alice@example.org:{CRYPT}$6$second\n";
	char path[300];
	const char *err;
	struct users *u;

	(void)st;
	snprintf(path, sizeof(path), "%s/users", root);
	write_file(path, text, sizeof(text) - 1);
	u = users_new(path);
	assert_int_equal(users_refresh(u, &err), 0);
	assert_int_equal(users_count(u), 2);
	assert_string_equal(users_lookup(u, "alice@example.org"),
			    "{CRYPT}$6$first");
	users_free(&u);
}

/*
 * fuzz_users: the tail of a line over fgets' 1024 octets was read as a
 * user; now a line past TABLE_LINE_MAX is one bad line, skipped whole.
 */
static void
test_users_long_line_skipped(void **st)
{
	char path[300];
	const char *err;
	struct users *u;
	struct buf *text = buf_new(1 << 16);

	(void)st;
	buf_addstr(text, "alice@example.org:{CRYPT}$6$");
	while (text->len < TABLE_LINE_MAX + 10)
		buf_addc(text, 'x');
	buf_addstr(text, "mallory@example.org:{CRYPT}$6$known\n"
			 "bob@example.org:{CRYPT}$6$bob\n");
	snprintf(path, sizeof(path), "%s/users", root);
	write_file(path, text->data, text->len);
	u = users_new(path);
	assert_int_equal(users_refresh(u, &err), 0);
	assert_null(users_lookup(u, "mallory@example.org"));
	assert_null(users_lookup(u, "alice@example.org"));
	assert_string_equal(users_lookup(u, "bob@example.org"),
			    "{CRYPT}$6$bob");
	assert_int_equal(users_count(u), 1);
	users_free(&u);
	buf_free(&text);
}

/* fuzz_conf: the tail of a line over 4095 octets was read as a line */
static void
test_conf_long_line_refused(void **st)
{
	char path[300], err[512];
	struct conf c;
	struct buf *text = buf_new(1 << 16);

	(void)st;
	buf_addstr(text, "tls.cert = /");
	while (text->len < 4095)
		buf_addc(text, 'x');
	buf_addstr(text, "relay.host = evil.example\n");
	snprintf(path, sizeof(path), "%s/owld.conf", root);
	write_file(path, text->data, text->len);
	conf_init(&c);
	assert_int_equal(conf_load(&c, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":1: line longer than"));
	assert_string_equal(c.relay_host, "");
	conf_free(&c);
	buf_free(&text);
}

/* The bounce is valid mail text: no CR, no NUL, no line over 998. */
static void
assert_mail_text(const struct buf *b)
{
	size_t col = 0;

	for (size_t i = 0; i < b->len; i++) {
		assert_int_not_equal(b->data[i], '\0');
		assert_int_not_equal(b->data[i], '\r');
		col = b->data[i] == '\n' ? 0 : col + 1;
		assert_true(col <= 998);
	}
}

/* fuzz_bounce: NUL, CR and long lines of the original went out as is */
static void
test_bounce_quoted_headers(void **st)
{
	struct qrcpt r = {.addr = "bob@example.net", .state = QR_FAILED,
			  .reply = "550 5.1.1 no such user"};
	struct qenv e = {.id = "q1", .sender = "alice@example.org",
			 .rcpts = &r, .nrcpts = 1};
	struct buf *h = buf_new(1 << 16), *b = buf_new(1 << 20);

	(void)st;
	buf_addstr(h, "Subject: a\rbare CR\nX-Nul: ");
	buf_add(h, "\0\0", 2);
	buf_addstr(h, "\nX-Long: ");
	for (int i = 0; i < 2000; i++)
		buf_addc(h, 'x');
	buf_addstr(h, "\nTo: bob@example.net\n");
	bounce_build(b, "mx.example.org", &e, h->data,
		     bounce_headers_len(h->data, h->len, 65536), 0, "b1");
	assert_mail_text(b);
	assert_non_null(strstr(b->data, "\nSubject: a bare CR\n"));
	assert_non_null(strstr(b->data, "\nTo: bob@example.net\n"));
	buf_free(&b);
	buf_free(&h);
}

/* fuzz_bounce: a reply with a CR (from a remote server) went out as is */
static void
test_bounce_reply_control(void **st)
{
	struct qrcpt r = {.addr = "bob@example.net", .state = QR_FAILED,
			  .reply = "550 5.1.1 no\rX-Injected: yes"};
	struct qenv e = {.id = "q1", .sender = "alice@example.org",
			 .rcpts = &r, .nrcpts = 1};
	struct buf *b = buf_new(1 << 20);

	(void)st;
	bounce_build(b, "mx.example.org", &e, "", 0, 0, "b1");
	assert_mail_text(b);
	assert_non_null(strstr(b->data, "smtp; 550 5.1.1 no?X-Injected: yes"));
	buf_free(&b);
}

/* fuzz_bounce: sscanf's %u took "-1" in a reply's status code */
static void
test_bounce_status_digits(void **st)
{
	struct qrcpt r[4] = {
		{.addr = "a@example.net", .state = QR_FAILED,
		 .reply = "550 5.-1.1 signed"},
		{.addr = "b@example.net", .state = QR_FAILED,
		 .reply = "550 5.+2.3 plus"},
		{.addr = "c@example.net", .state = QR_FAILED,
		 .reply = "554 5.7.1 relaying denied"},
		{.addr = "d@example.net", .state = QR_FAILED,
		 .reply = "550 5.1.1234 too long"},
	};
	struct qenv e = {.id = "q1", .sender = "alice@example.org",
			 .rcpts = r, .nrcpts = 4};
	struct buf *b = buf_new(1 << 20);
	const char *p;

	(void)st;
	bounce_build(b, "mx.example.org", &e, "", 0, 0, "b1");
	p = strstr(b->data, "Final-Recipient: rfc822; a@example.net\n"
			    "Action: failed\nStatus: 5.0.0\n");
	assert_non_null(p);
	assert_non_null(strstr(p, "rfc822; b@example.net\n"
				  "Action: failed\nStatus: 5.0.0\n"));
	assert_non_null(strstr(p, "rfc822; c@example.net\n"
				  "Action: failed\nStatus: 5.7.1\n"));
	assert_non_null(strstr(p, "rfc822; d@example.net\n"
				  "Action: failed\nStatus: 5.0.0\n"));
	buf_free(&b);
}

/* fuzz_cidr: strtoul took a sign, so "/-0" was /0 and matched all */
static void
test_cidr_signed_prefix(void **st)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(0xc0000207)};

	(void)st;
	assert_false(cidr_list_valid("10.0.0.0/-0"));
	assert_false(cidr_match("10.0.0.0/-0", (struct sockaddr *)&sa));
	assert_false(cidr_list_valid("::1/+128"));
	assert_true(cidr_list_valid("10.0.0.0/0, ::1/128"));
}

/* fuzz_conf: ports with a sign or a space passed as valid, and so did
 * any text in brackets as a relay.host or dns.resolver address */
static void
test_conf_port_digits(void **st)
{
	static const char *bad[] = {
		"smtp.listen = 127.0.0.1:+25",
		"pop3.listen = [::1]:-0",
		"relay.host = mx.example.org:+587",
		"relay.host = mx.example.org:-18446744073709551591",
		"dns.resolver = 127.0.0.1: 53",
		/* and "[...]" took anything, commas and tabs too */
		"relay.host = [mx.example.org, x\t]",
		"relay.host = [::1, 10.0.0.1]:25",
	};
	static const char good[] = "relay.host = [2001:db8::1]:587\n"
				   "relay.host = a.example:25\n"
				   "smtp.listen = [::1]:0, 127.0.0.1:25\n";
	char err[512];
	struct conf c;

	(void)st;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		conf_init(&c);
		assert_int_equal(conf_parse_text(&c, bad[i], strlen(bad[i]),
						 "t", err, sizeof(err)), -1);
		conf_free(&c);
	}
	conf_init(&c);
	assert_int_equal(conf_parse_text(&c, good, strlen(good), "t", err,
					 sizeof(err)), 0);
	conf_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_mbox_equal_messages_unique_uidls, setup, teardown),
		cmocka_unit_test(test_long_uidl_repeat),
		cmocka_unit_test(test_uidl_chain),
		cmocka_unit_test_setup_teardown(test_users_first_line_wins,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_users_long_line_skipped,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_conf_long_line_refused,
						setup, teardown),
		cmocka_unit_test(test_bounce_quoted_headers),
		cmocka_unit_test(test_bounce_reply_control),
		cmocka_unit_test(test_bounce_status_digits),
		cmocka_unit_test(test_cidr_signed_prefix),
		cmocka_unit_test(test_conf_port_digits),
	};
	const char *err;

	log_open("/dev/null", &err);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
