/*
 * Unit tests of lib/: bounded buffers, the RFC 5321 address parser (valid
 * and invalid paths, the 64/255/256 limits, every prefix of a valid path
 * refused), the configuration table, and the worker pool's batching.
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

#include <arpa/inet.h>
#include <netinet/in.h>

#include "lib/addr.h"
#include "lib/cidr.h"
#include "lib/buf.h"
#include "lib/conf.h"
#include "lib/log.h"
#include "lib/wpool.h"

/* A buffer bounded only by SIZE_MAX grows (max + 1 wrapped to 0 once and
 * the growth loop spun). */
static void
test_buf_unbounded(void **st)
{
	struct buf *b = buf_new(SIZE_MAX);

	(void)st;
	for (int i = 0; i < 1000; i++)
		assert_int_equal(buf_addstr(b, "0123456789"), 0);
	assert_int_equal(b->len, 10000);
	assert_int_equal(b->data[b->len], '\0');
	buf_free(&b);
}

static void
test_buf_bounds(void **st)
{
	struct buf *b = buf_new(10);

	(void)st;
	assert_int_equal(buf_add(b, "12345", 5), 0);
	assert_int_equal(buf_addstr(b, "67890"), 0);
	assert_int_equal(b->len, 10);
	assert_int_equal(buf_addc(b, 'x'), -1);
	assert_int_equal(buf_printf(b, "%d", 1), -1);
	assert_string_equal(b->data, "1234567890");
	buf_consume(b, 4);
	assert_string_equal(b->data, "567890");
	assert_int_equal(buf_printf(b, "%s", "abcd"), 0);
	assert_string_equal(b->data, "567890abcd");
	buf_reset(b);
	assert_int_equal(buf_add(b, "\0\0", 2), 0);
	assert_int_equal(b->len, 2);
	buf_free(&b);
	assert_null(b);
	b = buf_new(100000);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(buf_add(b, "0123456789", 10), 0);
	assert_int_equal(buf_addc(b, 'x'), -1);
	buf_free(&b);
}

static void
ok_path(const char *s, unsigned flags, const char *local, const char *dom,
	size_t used)
{
	struct addr a;
	size_t n;
	const char *err = NULL;

	if (addr_parse_path(s, strlen(s), flags, &a, &n, &err) != 0)
		fail_msg("%s: %s", s, err);
	assert_string_equal(a.local, local);
	assert_string_equal(a.domain, dom);
	assert_int_equal(n, used);
}

static void
bad_path(const char *s, unsigned flags)
{
	struct addr a;
	size_t n;
	const char *err = NULL;

	if (addr_parse_path(s, strlen(s), flags, &a, &n, &err) == 0)
		fail_msg("accepted: %s", s);
	assert_non_null(err);
}

static void
test_addr_valid(void **st)
{
	struct addr a;
	size_t n;
	const char *err;

	(void)st;
	ok_path("<alice@example.org>", 0, "alice", "example.org", 19);
	ok_path("<a.b+c@x-y.example.org> SIZE=1", 0, "a.b+c",
		"x-y.example.org", 23);
	ok_path("<\"john doe\"@example.org>", 0, "john doe", "example.org",
		24);
	ok_path("<\"a\\\"b\"@x.org>", 0, "a\"b", "x.org", 14);
	ok_path("<@relay.net,@b.net:user@c.net>", 0, "user", "c.net", 30);
	ok_path("<u@[192.0.2.1]>", 0, "u", "[192.0.2.1]", 15);
	ok_path("<u@[IPv6:2001:db8::1]>", 0, "u", "[IPv6:2001:db8::1]", 22);
	ok_path("<u@[IPv6:::ffff:192.0.2.1]>", 0, "u",
		"[IPv6:::ffff:192.0.2.1]", 27);
	ok_path("<u@[x-tag:stuff]>", 0, "u", "[x-tag:stuff]", 17);
	ok_path("<postmaster>", ADDR_ALLOW_POSTMASTER, "postmaster", "", 12);
	assert_int_equal(addr_parse_path("<>", 2, ADDR_ALLOW_NULL, &a, &n,
					 &err), 0);
	assert_true(a.null);
	assert_int_equal(addr_parse_mailbox("bob@x.org", 9, &a, &err), 0);
}

static void
test_addr_invalid(void **st)
{
	static const char *bad[] = {
		"alice@example.org", "<alice@example.org", "<alice>",
		"<@example.org>", "<alice@>", "<a..b@x.org>", "<.a@x.org>",
		"<a.@x.org>", "<a@-x.org>", "<a@x-.org>", "<a@x..org>",
		"<a@x.org.>", "<a b@x.org>", "<\"unterminated@x.org>",
		"<a@[300.1.1.1]>", "<a@[1.2.3]>", "<a@[IPv6:1::2::3]>",
		"<a@[IPv6:12345::]>", "<a@[]>", "<a@x.org>>x", "<a\xc3\xa9@x.org>",
		"<a@ex\xc3\xa9.org>", "<\"a\rb\"@x.org>", "<a@x.org",
		"<@x.org:>", "<@x.org,a@y.org>", "<>", "<postmaster>",
		"<a@@x.org>", "<a@x_y.org>", "<\"a\\\xc3\"@x.org>",
	};
	(void)st;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		if (strcmp(bad[i], "<a@x.org>>x") == 0)
			continue; /* valid prefix; trailing text is params */
		bad_path(bad[i], 0);
	}
}

/* The reply's text names what is wrong (501 in SMTP either way). */
static void
test_addr_errors(void **st)
{
	static const struct {
		const char *s, *err;
	} cases[] = {
		{"<bob@example.net.>", "bad domain"},
		{"<bob@example.net@localhost>", "bad domain"},
		{"<al\\ice@localhost>", "bad character in local part"},
		{"<alice>", "missing @domain"},
		{"<alice@example.org", "missing closing angle bracket"},
		{"<alice@example.org x>", "missing closing angle bracket"},
	};
	struct addr a;
	size_t n;

	(void)st;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		const char *err = NULL;

		assert_int_equal(addr_parse_path(cases[i].s, strlen(cases[i].s),
						 0, &a, &n, &err), -1);
		assert_string_equal(err, cases[i].err);
	}
}

static void
test_addr_limits(void **st)
{
	char s[600], local[80], dom[300];
	struct addr a;
	size_t n;
	const char *err;

	(void)st;
	memset(local, 'l', 64);
	local[64] = '\0';
	snprintf(s, sizeof(s), "<%s@x.org>", local);
	assert_int_equal(addr_parse_path(s, strlen(s), 0, &a, &n, &err), 0);
	snprintf(s, sizeof(s), "<%sl@x.org>", local);
	assert_int_equal(addr_parse_path(s, strlen(s), 0, &a, &n, &err), -1);
	/* a 255-octet domain of 63-octet labels; the path is then > 256 */
	memset(dom, 0, sizeof(dom));
	for (int i = 0; i < 4; i++) {
		memset(dom + i * 64, 'd', 63);
		dom[i * 64 + 63] = '.';
	}
	dom[255] = '\0';
	dom[254] = 'd';
	dom[253] = 'd';
	dom[252] = 'd';
	assert_true(addr_domain_valid(dom, 255));
	snprintf(s, sizeof(s), "<a@%s>", dom);
	assert_int_equal(addr_parse_path(s, strlen(s), 0, &a, &n, &err), -1);
	assert_string_equal(err, "path too long");
	/* a 64-octet label is too long */
	memset(dom, 'd', 64);
	strcpy(dom + 64, ".org");
	assert_false(addr_domain_valid(dom, strlen(dom)));
}

static void
test_addr_prefixes(void **st)
{
	const char *s = "<\"x y\"@[IPv6:2001:db8::1]>";
	struct addr a;
	size_t n, len = strlen(s);
	const char *err;

	(void)st;
	for (size_t i = 0; i < len; i++)
		assert_int_equal(addr_parse_path(s, i, 0, &a, &n, &err), -1);
	assert_int_equal(addr_parse_path(s, len, 0, &a, &n, &err), 0);
}

static void
test_addr_format(void **st)
{
	struct addr a;
	char out[300];
	size_t n;
	const char *err;
	const char *s = "<\"a b\\\"c\"@x.org>";

	(void)st;
	assert_int_equal(addr_parse_path(s, strlen(s), 0, &a, &n, &err), 0);
	assert_int_equal(addr_format(&a, out, sizeof(out)), 14);
	assert_string_equal(out, "\"a b\\\"c\"@x.org");
	assert_int_equal(addr_format(&a, out, 5), -1);
}

static void
test_conf(void **st)
{
	struct conf c;
	char err[300], path[] = "/tmp/owl-conf-XXXXXX";
	FILE *fp;
	int fd;

	(void)st;
	conf_init(&c);
	assert_int_equal(c.smtp_timeout, 300);
	assert_int_equal(c.max_connections, 100);
	assert_string_equal(c.smtp_listen, "127.0.0.1:2525");
	assert_int_equal(conf_set(&c, "smtp.timeout", "5m", err, sizeof(err)),
			 0);
	assert_int_equal(c.smtp_timeout, 300);
	assert_int_equal(conf_set_arg(&c, "smtp.max_size=10M", err,
				      sizeof(err)), 0);
	assert_int_equal(c.smtp_max_size, 10 * 1024 * 1024);
	assert_int_equal(conf_set(&c, "nope", "1", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "'nope'"));
	assert_int_equal(conf_set(&c, "max_connections", "-1", err,
				  sizeof(err)), -1);
	assert_non_null(strstr(err, "'max_connections'"));
	assert_int_equal(conf_set(&c, "mailbox.format", "mh", err,
				  sizeof(err)), -1);
	assert_int_equal(conf_set(&c, "smtp.listen", "nohost", err,
				  sizeof(err)), -1);
	assert_int_equal(conf_set(&c, "smtp.listen",
				  "127.0.0.1:25, [::1]:2525", err, sizeof(err)),
			 0);
	assert_int_equal(conf_set(&c, "domains", "Example.ORG, b.net", err,
				  sizeof(err)), 0);
	assert_string_equal(c.domains, "example.org,b.net");
	assert_true(conf_is_local_domain(&c, "EXAMPLE.org"));
	assert_false(conf_is_local_domain(&c, "example"));
	assert_int_equal(conf_set(&c, "domains", "a..b", err, sizeof(err)),
			 -1);
	assert_int_equal(conf_set_arg(&c, "novalue", err, sizeof(err)), -1);

	fd = mkstemp(path);
	fp = fdopen(fd, "w");
	fprintf(fp, "# comment\n\nhostname = mx.test.org\n"
		    "mailbox.format = mbox\n  smtp.max_recipients=7 \n");
	fclose(fp);
	assert_int_equal(conf_load(&c, path, err, sizeof(err)), 0);
	assert_string_equal(c.hostname, "mx.test.org");
	assert_int_equal(c.mailbox_format, MBOX_FMT_MBOX);
	assert_int_equal(c.smtp_max_rcpts, 7);
	fp = fopen(path, "w");
	fprintf(fp, "hostname = ok.org\nbogus.key = 1\n");
	fclose(fp);
	assert_int_equal(conf_load(&c, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":2: unknown configuration key "
				    "'bogus.key'"));
	unlink(path);
	conf_finish(&c);
	assert_non_null(strstr(c.users_file, "/users"));
	conf_free(&c);
}

struct tjob {
	struct wpool_job job;
	int value;
	size_t batch;
	int *done_count;
};

static void
tjob_run(struct wpool_job **jobs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct tjob *t = (struct tjob *)(void *)jobs[i];

		t->value *= 2;
		t->batch = n;
	}
	usleep(1000);
}

static void
tjob_done(struct wpool_job *job)
{
	(*((struct tjob *)(void *)job)->done_count)++;
}

static void
test_wpool(void **st)
{
	const char *err;
	struct wpool *p = wpool_new(2, &err);
	struct tjob jobs[200];
	int done = 0;
	size_t maxbatch = 0;

	(void)st;
	assert_non_null(p);
	for (int i = 0; i < 200; i++) {
		jobs[i] = (struct tjob){.job = {.run = tjob_run,
						.done = tjob_done},
					.value = i,
					.done_count = &done};
		wpool_submit(p, &jobs[i].job);
	}
	while (done < 200) {
		usleep(1000);
		wpool_complete(p);
	}
	assert_int_equal(wpool_pending(p), 0);
	for (int i = 0; i < 200; i++) {
		assert_int_equal(jobs[i].value, 2 * i);
		if (jobs[i].batch > maxbatch)
			maxbatch = jobs[i].batch;
	}
	/* queued jobs of one kind ran together */
	assert_true(maxbatch > 1 && maxbatch <= WPOOL_BATCH_MAX);
	wpool_free(&p);
}

static void
test_log_quote(void **st)
{
	char tmp[64];

	(void)st;
	assert_string_equal(log_q(tmp, sizeof(tmp), "plain"), "plain");
	assert_string_equal(log_q(tmp, sizeof(tmp), "a b"), "\"a b\"");
	assert_string_equal(log_q(tmp, sizeof(tmp), "a\"b\n"),
			    "\"a\\\"b\\x0a\"");
	assert_string_equal(log_q(tmp, sizeof(tmp), ""), "\"\"");
}

static bool
in4(const char *list, const char *ip)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};

	inet_pton(AF_INET, ip, &sa.sin_addr);
	return cidr_match(list, (struct sockaddr *)&sa);
}

static bool
in6(const char *list, const char *ip)
{
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6};

	inet_pton(AF_INET6, ip, &sa.sin6_addr);
	return cidr_match(list, (struct sockaddr *)&sa);
}

/* relay.networks: v4, v6, v4-mapped v6, prefixes, bad lists. */
static void
test_cidr(void **st)
{
	const char *def = "127.0.0.0/8, ::1";

	(void)st;
	assert_true(in4(def, "127.0.0.1"));
	assert_true(in4(def, "127.255.0.9"));
	assert_false(in4(def, "128.0.0.1"));
	assert_true(in6(def, "::1"));
	assert_false(in6(def, "::2"));
	assert_true(in6(def, "::ffff:127.0.0.5"));
	assert_false(in4("", "127.0.0.1"));
	assert_true(in4("10.1.2.0/23", "10.1.3.255"));
	assert_false(in4("10.1.2.0/23", "10.1.4.0"));
	assert_true(in4("0.0.0.0/0", "192.0.2.1"));
	assert_true(in6("2001:db8::/33", "2001:db8:7fff::1"));
	assert_false(in6("2001:db8::/33", "2001:db8:8000::1"));
	assert_true(cidr_list_valid(""));
	assert_true(cidr_list_valid(def));
	assert_false(cidr_list_valid("127.0.0.0/33"));
	assert_false(cidr_list_valid("::1/129"));
	assert_false(cidr_list_valid("localhost"));
	assert_false(cidr_list_valid("10.0.0.0/"));
	assert_false(cidr_list_valid("10.0.0.0/8x"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_bounds),
		cmocka_unit_test(test_buf_unbounded),
		cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_addr_valid),
		cmocka_unit_test(test_addr_invalid),
		cmocka_unit_test(test_addr_errors),
		cmocka_unit_test(test_addr_limits),
		cmocka_unit_test(test_addr_prefixes),
		cmocka_unit_test(test_addr_format),
		cmocka_unit_test(test_conf),
		cmocka_unit_test(test_wpool),
		cmocka_unit_test(test_log_quote),
	};

	return cmocka_run_group_tests_name("lib", tests, NULL, NULL);
}
