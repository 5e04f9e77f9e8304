/*
 * Unit tests of owl/text: display width (wide East Asian characters two
 * columns, combining marks none, whatever the process's locale), list
 * cells cut and padded by columns, and HTML made readable text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "owl/owl.h"

static void
test_width(void **state)
{
	(void)state;
	setlocale(LC_ALL, "C"); /* the user's locale plays no part */
	assert_int_equal(owl_text_width("abc", 3), 3);
	assert_int_equal(owl_text_width("J\xc3\xbcrgen", 7), 6);
	/* 山田: two wide characters */
	assert_int_equal(owl_text_width("\xe5\xb1\xb1\xe7\x94\xb0", 6), 4);
	/* e + combining acute */
	assert_int_equal(owl_text_width("e\xcc\x81", 3), 1);
	/* an invalid octet: one column */
	assert_int_equal(owl_text_width("\xff", 1), 1);
}

/* The cell of s at cols columns. */
static char *
cell(const char *s, size_t cols)
{
	static char out[256];
	struct buf *b = buf_new(sizeof(out) - 1);

	owl_text_cell(s, cols, b);
	snprintf(out, sizeof(out), "%.*s", (int)b->len, b->data);
	buf_free(&b);
	return out;
}

static void
test_cell(void **state)
{
	(void)state;
	assert_string_equal(cell("ab", 4), "ab  ");
	assert_string_equal(cell("abcdef", 4), "abcd");
	assert_string_equal(cell("\xe5\xb1\xb1\xe7\x94\xb0", 6),
			    "\xe5\xb1\xb1\xe7\x94\xb0  ");
	/* a wide character that would pass the edge is left out */
	assert_string_equal(cell("a\xe5\xb1\xb1\xe7\x94\xb0", 4),
			    "a\xe5\xb1\xb1 ");
	assert_string_equal(cell("", 3), "   ");
}

static char *
html(const char *s)
{
	static char out[1024];
	struct buf *b = buf_new(sizeof(out) - 1);

	owl_html_text(s, strlen(s), b);
	snprintf(out, sizeof(out), "%.*s", (int)b->len, b->data ? b->data :
		 "");
	buf_free(&b);
	return out;
}

static void
test_html(void **state)
{
	(void)state;
	assert_string_equal(html("<p>a   b\n c</p><p>d</p>"), "a b c\n\nd\n");
	assert_string_equal(html("x<br>y<br/>z"), "x\ny\nz\n");
	assert_string_equal(html("<ul><li>one<li>two</ul>"),
			    "* one\n* two\n");
	assert_string_equal(html("<head><title>t</title></head>"
				 "<style>p{}</style><script>if (a<b) x()"
				 "</script>ok<!-- <p>hidden --> here"),
			    "ok here\n");
	assert_string_equal(html("&amp;&lt;&gt;&quot;&#65;&#x42;&nbsp;"
				 "&bogus; &"),
			    "&<>\"AB &bogus; &\n");
	assert_string_equal(html("&#0;&#x110000;"), "?&#x110000;\n");
	assert_string_equal(html("<pre>a\n  b</pre>c"), "a\n  b\n\nc\n");
	assert_string_equal(html("<td>a</td><td>b</td>"), "a b\n");
	assert_string_equal(html("<unclosed"), "");
	assert_string_equal(html(""), "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_width),
		cmocka_unit_test(test_cell),
		cmocka_unit_test(test_html),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
