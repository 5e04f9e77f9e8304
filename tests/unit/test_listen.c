/*
 * Unit tests of listen addresses: conf.c takes only numeric hosts,
 * "localhost" and "*" (a name would go to the DNS), and net/listen binds
 * them with AI_NUMERICHOST, "localhost" as 127.0.0.1 (and ::1).  Binds
 * are made on port 0 of loopback addresses only.
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

#include "lib/conf.h"
#include "net/listen.h"

static int
set_listen(const char *v)
{
	struct conf c;
	char err[300];
	int rc;

	conf_init(&c);
	rc = conf_set(&c, "smtp.listen", v, err, sizeof(err));
	if (rc == -1)
		assert_non_null(strstr(err, "'smtp.listen'"));
	conf_free(&c);
	return rc;
}

static void
test_conf_listen_hosts(void **st)
{
	static const char *const good[] = {
		"127.0.0.1:25", "[::1]:2525", "::1:2525", "*:25",
		"localhost:0", "0.0.0.0:25, [::]:25", "", " 127.0.0.1:1 ,",
	};
	static const char *const bad[] = {
		"999.1.1.1:25", "mail.example.com:25", "localhost", ":25",
		"[localhost]:25", "[127.0.0.1]:25", "127.1:25", "1.2.3.4:x",
		"127.0.0.1:65536", "127.0.0.1:25, example:25", "[::1:25",
	};

	(void)st;
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		if (set_listen(good[i]) != 0)
			fail_msg("refused '%s'", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		if (set_listen(bad[i]) != -1)
			fail_msg("took '%s'", bad[i]);
}

static void
test_bind_numeric_and_localhost(void **st)
{
	int *fds = NULL;
	size_t n = 0;
	char err[300], name[80];

	(void)st;
	assert_int_equal(listen_bind("127.0.0.1:0", &fds, &n, err,
				     sizeof(err)), 0);
	assert_int_equal(n, 1);
	listen_local_name(fds[0], name, sizeof(name));
	assert_memory_equal(name, "127.0.0.1:", 10);
	/* localhost: 127.0.0.1 first, ::1 too where IPv6 is up */
	assert_int_equal(listen_bind("localhost:0", &fds, &n, err,
				     sizeof(err)), 0);
	assert_true(n == 2 || n == 3);
	listen_local_name(fds[1], name, sizeof(name));
	assert_memory_equal(name, "127.0.0.1:", 10);
	if (n == 3) {
		listen_local_name(fds[2], name, sizeof(name));
		assert_memory_equal(name, "[::1]:", 6);
	}
	/* a name never reaches the resolver: refused as not numeric */
	assert_int_equal(listen_bind("mail.example.com:0", &fds, &n, err,
				     sizeof(err)), -1);
	assert_non_null(strstr(err, "bad listen address"));
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf_listen_hosts),
		cmocka_unit_test(test_bind_numeric_and_localhost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
