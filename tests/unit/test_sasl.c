/*
 * Unit tests of the SASL module: PLAIN and LOGIN, each given whole (as an
 * initial response) and in pieces (one response line per step), the same
 * credentials either way; "*" and "=", the limits at their edges, the
 * protocol flags, and that every failed exchange leaves no secret behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "proto/sasl.h"
#include "proto/wire.h"

static char b64[4 * SASL_LINE_MAX];

/* The base64 of raw[0..n), in a static buffer. */
static const char *
enc(const char *raw, size_t n)
{
	assert_int_equal(b64_encode(raw, n, b64, sizeof(b64)), 0);
	return b64;
}

/* The user name and password are all zero bytes: nothing left behind. */
static void
assert_wiped(const struct sasl *x)
{
	static const char zero[SASL_PASS_MAX + 1];

	assert_memory_equal(x->user, zero, sizeof(x->user));
	assert_memory_equal(x->pass, zero, sizeof(x->pass));
	assert_false(sasl_active(x));
}

static enum sasl_result
plain_whole(struct sasl *x, const char *raw, size_t n)
{
	const char *t = enc(raw, n);

	return sasl_start(x, SASL_MECH_PLAIN, t, strlen(t));
}

static enum sasl_result
plain_pieces(struct sasl *x, const char *raw, size_t n)
{
	const char *t;

	assert_int_equal(sasl_start(x, SASL_MECH_PLAIN, NULL, 0), SASL_MORE);
	assert_true(sasl_active(x));
	assert_string_equal(sasl_challenge(x), "");
	t = enc(raw, n);
	return sasl_step(x, t, strlen(t));
}

static void
test_mech_parse(void **state)
{
	(void)state;
	assert_int_equal(sasl_mech_parse("PLAIN", 5), SASL_MECH_PLAIN);
	assert_int_equal(sasl_mech_parse("plain", 5), SASL_MECH_PLAIN);
	assert_int_equal(sasl_mech_parse("LoGiN", 5), SASL_MECH_LOGIN);
	assert_int_equal(sasl_mech_parse("PLAINX", 6), SASL_MECH_NONE);
	assert_int_equal(sasl_mech_parse("PLAI", 4), SASL_MECH_NONE);
	assert_int_equal(sasl_mech_parse("", 0), SASL_MECH_NONE);
	assert_int_equal(sasl_mech_parse("CRAM-MD5", 8), SASL_MECH_NONE);
}

static void
test_plain_whole_and_pieces(void **state)
{
	static const struct {
		const char *raw;
		size_t n;
		const char *user, *pass;
	} ok[] = {
		{"\0alice\0secret", 13, "alice", "secret"},
		{"alice\0alice\0secret", 18, "alice", "secret"},
		{"\0alice\0", 7, "alice", ""},		/* empty password */
		{"\0a b\0p q", 8, "a b", "p q"},	/* no USER_TOKEN */
	};
	struct sasl x;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		for (int pieces = 0; pieces < 2; pieces++) {
			sasl_init(&x, 0);
			assert_int_equal(pieces ? plain_pieces(&x, ok[i].raw,
							       ok[i].n)
						: plain_whole(&x, ok[i].raw,
							      ok[i].n),
					 SASL_OK);
			assert_false(sasl_active(&x));
			assert_string_equal(sasl_user(&x), ok[i].user);
			assert_string_equal(sasl_pass(&x), ok[i].pass);
			sasl_wipe(&x);
			assert_wiped(&x);
		}
	}
}

static void
test_plain_refused(void **state)
{
	static const struct {
		const char *raw;
		size_t n;
		enum sasl_result r;
	} bad[] = {
		{"", 0, SASL_MALFORMED},
		{"alice", 5, SASL_MALFORMED},
		{"\0alice", 6, SASL_MALFORMED},
		{"\0\0secret", 8, SASL_MALFORMED},	/* empty authcid */
		{"\0alice\0sec\0ret", 14, SASL_MALFORMED}, /* third NUL */
		{"bob\0alice\0secret", 16, SASL_AUTHZID},
	};
	struct sasl x;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (int pieces = 0; pieces < 2; pieces++) {
			sasl_init(&x, 0);
			assert_int_equal(pieces ? plain_pieces(&x, bad[i].raw,
							       bad[i].n)
						: plain_whole(&x, bad[i].raw,
							      bad[i].n),
					 bad[i].r);
			assert_wiped(&x);
		}
	}
	/* not base64, or not canonical (bits under the padding) */
	sasl_init(&x, 0);
	assert_int_equal(sasl_start(&x, SASL_MECH_PLAIN, "!!!!", 4),
			 SASL_BAD_BASE64);
	assert_wiped(&x);
	assert_int_equal(sasl_start(&x, SASL_MECH_PLAIN, "dR==", 4),
			 SASL_BAD_BASE64);
	assert_int_equal(sasl_start(&x, SASL_MECH_PLAIN, "AHUAcA", 6),
			 SASL_BAD_BASE64);
	assert_int_equal(sasl_start(&x, SASL_MECH_PLAIN, NULL, 0), SASL_MORE);
	assert_int_equal(sasl_step(&x, "AHUA\rcA==", 9), SASL_BAD_BASE64);
	assert_wiped(&x);
	/* no exchange under way, or no mechanism: a caller bug, said no */
	assert_int_equal(sasl_step(&x, "AHUAcA==", 8), SASL_MALFORMED);
	assert_int_equal(sasl_start(&x, SASL_MECH_NONE, NULL, 0),
			 SASL_MALFORMED);
	assert_wiped(&x);
}

/* "=" is an empty initial response; "*" cancels a response line. */
static void
test_cancel_and_empty(void **state)
{
	struct sasl x;

	(void)state;
	sasl_init(&x, 0);
	assert_int_equal(sasl_start(&x, SASL_MECH_PLAIN, "=", 1),
			 SASL_MALFORMED); /* empty: no authcid */
	assert_int_equal(sasl_start(&x, SASL_MECH_PLAIN, "*", 1),
			 SASL_BAD_BASE64); /* no cancel before a challenge */
	assert_int_equal(sasl_start(&x, SASL_MECH_PLAIN, NULL, 0), SASL_MORE);
	assert_int_equal(sasl_step(&x, "*", 1), SASL_CANCELLED);
	assert_wiped(&x);
	assert_int_equal(sasl_start(&x, SASL_MECH_PLAIN, NULL, 0), SASL_MORE);
	assert_int_equal(sasl_step(&x, "=", 1), SASL_BAD_BASE64);
	assert_int_equal(sasl_start(&x, SASL_MECH_LOGIN, NULL, 0), SASL_MORE);
	assert_int_equal(sasl_step(&x, "dQ==", 4), SASL_MORE);
	assert_int_equal(sasl_step(&x, "*", 1), SASL_CANCELLED);
	assert_wiped(&x);

	/* POP3's leniencies */
	sasl_init(&x, SASL_CANCEL_INITIAL | SASL_EMPTY_ALWAYS);
	assert_int_equal(sasl_start(&x, SASL_MECH_PLAIN, "*", 1),
			 SASL_CANCELLED);
	assert_wiped(&x);
	assert_int_equal(sasl_start(&x, SASL_MECH_PLAIN, NULL, 0), SASL_MORE);
	assert_int_equal(sasl_step(&x, "=", 1), SASL_MALFORMED);
	assert_int_equal(sasl_start(&x, SASL_MECH_PLAIN, NULL, 0), SASL_MORE);
	assert_int_equal(sasl_step(&x, "*", 1), SASL_CANCELLED);
}

static void
test_login_whole_and_pieces(void **state)
{
	struct sasl x;
	const char *t;

	(void)state;
	/* the user name as initial response, then the password */
	sasl_init(&x, 0);
	assert_int_equal(sasl_start(&x, SASL_MECH_LOGIN, "YWxpY2U=", 8),
			 SASL_MORE);
	assert_string_equal(sasl_challenge(&x), "UGFzc3dvcmQ6");
	assert_int_equal(sasl_step(&x, "c2VjcmV0", 8), SASL_OK);
	assert_string_equal(sasl_user(&x), "alice");
	assert_string_equal(sasl_pass(&x), "secret");
	sasl_wipe(&x);
	assert_wiped(&x);
	/* each on its own line */
	assert_int_equal(sasl_start(&x, SASL_MECH_LOGIN, NULL, 0), SASL_MORE);
	assert_true(sasl_active(&x));
	assert_string_equal(sasl_challenge(&x), "VXNlcm5hbWU6");
	assert_int_equal(sasl_step(&x, "YWxpY2U=", 8), SASL_MORE);
	assert_string_equal(sasl_challenge(&x), "UGFzc3dvcmQ6");
	assert_int_equal(sasl_step(&x, "c2VjcmV0", 8), SASL_OK);
	assert_string_equal(sasl_user(&x), "alice");
	assert_string_equal(sasl_pass(&x), "secret");
	/* an empty password is the checker's to refuse */
	assert_int_equal(sasl_start(&x, SASL_MECH_LOGIN, "YWxpY2U=", 8),
			 SASL_MORE);
	assert_int_equal(sasl_step(&x, "", 0), SASL_OK);
	assert_string_equal(sasl_pass(&x), "");
	/* an empty user name ("=" is empty), a NUL in either field */
	assert_int_equal(sasl_start(&x, SASL_MECH_LOGIN, "=", 1),
			 SASL_MALFORMED);
	assert_wiped(&x);
	t = enc("a\0b", 3);
	assert_int_equal(sasl_start(&x, SASL_MECH_LOGIN, t, strlen(t)),
			 SASL_MALFORMED);
	assert_int_equal(sasl_start(&x, SASL_MECH_LOGIN, "YWxpY2U=", 8),
			 SASL_MORE);
	t = enc("se\0cret", 7);
	assert_int_equal(sasl_step(&x, t, strlen(t)), SASL_MALFORMED);
	assert_wiped(&x);
	assert_int_equal(sasl_start(&x, SASL_MECH_LOGIN, "YWxpY2U=", 8),
			 SASL_MORE);
	assert_int_equal(sasl_step(&x, "c2Vj!", 5), SASL_BAD_BASE64);
	assert_wiped(&x);
}

/* SASL_USER_MAX and SASL_PASS_MAX, each at the edge, both mechanisms. */
static void
test_limits(void **state)
{
	static char raw[2 + SASL_USER_MAX + 1 + SASL_PASS_MAX + 1];
	static const struct {
		size_t user, pass;
		bool ok;
	} cases[] = {
		{SASL_USER_MAX, SASL_PASS_MAX, true},
		{SASL_USER_MAX + 1, 1, false},
		{1, SASL_PASS_MAX + 1, false},
	};
	struct sasl x;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t u = cases[i].user, p = cases[i].pass, n = 0;
		enum sasl_result want = cases[i].ok ? SASL_OK : SASL_MALFORMED;
		const char *t;

		raw[n++] = '\0';
		memset(raw + n, 'u', u);
		n += u;
		raw[n++] = '\0';
		memset(raw + n, 'p', p);
		n += p;
		for (int pieces = 0; pieces < 2; pieces++) {
			sasl_init(&x, 0);
			assert_int_equal(pieces ? plain_pieces(&x, raw, n)
						: plain_whole(&x, raw, n),
					 want);
			if (cases[i].ok) {
				assert_int_equal(strlen(sasl_user(&x)), u);
				assert_int_equal(strlen(sasl_pass(&x)), p);
			} else {
				assert_wiped(&x);
			}
		}
		/* LOGIN: the same fields, one per line */
		sasl_init(&x, 0);
		t = enc(raw + 1, u);
		if (u > SASL_USER_MAX) {
			assert_int_equal(sasl_start(&x, SASL_MECH_LOGIN, t,
						    strlen(t)),
					 SASL_MALFORMED);
			assert_wiped(&x);
			continue;
		}
		assert_int_equal(sasl_start(&x, SASL_MECH_LOGIN, t, strlen(t)),
				 SASL_MORE);
		t = enc(raw + 2 + u, p);
		assert_int_equal(sasl_step(&x, t, strlen(t)), want);
		if (!cases[i].ok)
			assert_wiped(&x);
	}
}

/* SASL_USER_TOKEN: a user name with a space, control or DEL is refused. */
static void
test_user_token(void **state)
{
	static const char *const names[] = {"a b", "a\tb", "a\x7f", " "};
	struct sasl x;
	char raw[32];

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i]);

		raw[0] = '\0';
		memcpy(raw + 1, names[i], n);
		raw[n + 1] = '\0';
		raw[n + 2] = 'p';
		sasl_init(&x, SASL_USER_TOKEN);
		assert_int_equal(plain_whole(&x, raw, n + 3), SASL_MALFORMED);
		assert_wiped(&x);
		/* checked before the authzid: malformed, not "another user" */
		raw[0] = 'z';
		memcpy(raw + 2, names[i], n);
		raw[1] = '\0';
		raw[n + 2] = '\0';
		raw[n + 3] = 'p';
		assert_int_equal(plain_whole(&x, raw, n + 4), SASL_MALFORMED);
		sasl_init(&x, 0);
		assert_int_equal(plain_whole(&x, raw, n + 4), SASL_AUTHZID);
	}
	sasl_init(&x, SASL_USER_TOKEN);
	assert_int_equal(plain_whole(&x, "\0\xc3\xa9t\xc3\xa9\0p", 8),
			 SASL_OK); /* 8-bit is allowed */
	assert_string_equal(sasl_user(&x), "\xc3\xa9t\xc3\xa9");
}

/* A new exchange starts clean even if the last was never wiped. */
static void
test_start_wipes(void **state)
{
	struct sasl x;

	(void)state;
	sasl_init(&x, 0);
	assert_int_equal(plain_whole(&x, "\0alice\0secret", 13), SASL_OK);
	assert_int_equal(sasl_start(&x, SASL_MECH_PLAIN, "!!!!", 4),
			 SASL_BAD_BASE64);
	assert_wiped(&x);
	assert_int_equal(plain_whole(&x, "\0alice\0secret", 13), SASL_OK);
	assert_int_equal(sasl_start(&x, SASL_MECH_LOGIN, NULL, 0), SASL_MORE);
	assert_string_equal(sasl_pass(&x), "");
	assert_string_equal(sasl_user(&x), "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mech_parse),
		cmocka_unit_test(test_plain_whole_and_pieces),
		cmocka_unit_test(test_plain_refused),
		cmocka_unit_test(test_cancel_and_empty),
		cmocka_unit_test(test_login_whole_and_pieces),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_user_token),
		cmocka_unit_test(test_start_wipes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
