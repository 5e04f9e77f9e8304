/*
 * libFuzzer harness for SORT and THREAD's message keys (proto/imap_sort.h)
 * and RFC 5322 dates (imap_date_rfc5322): the input is a header section;
 * its keys are taken, and must be NUL-terminated strings no longer than
 * the input's decoded text allows; the base subject of the input (as a
 * subject) must be a fixed point (its own base subject); the input as a
 * date must give the same moment twice.  Three copies with different
 * sequence numbers are sorted by every criterion and threaded: each
 * number must come out once.  The input cut in three is threaded by
 * REFERENCES: each number once, parentheses balanced.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "proto/imap_date.h"
#include "proto/imap_sort.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fixed_point(const char *text)
{
	bool refwd;
	char *b = imap_base_subject(text, &refwd), *bb;

	bb = imap_base_subject(b, &refwd);
	if (strcmp(b, bb) != 0 || strlen(b) > strlen(text))
		abort();
	free(b);
	free(bb);
}

static void
each_once(const struct imap_sort_msg *m, size_t n)
{
	unsigned seen = 0;

	for (size_t i = 0; i < n; i++)
		seen |= 1u << m[i].num;
	if (seen != 0xe)
		abort();
}

/* The THREAD response names 1, 2 and 3 once each, in balanced lists. */
static void
check_thread(const char *r)
{
	unsigned seen = 0;
	int depth = 0;

	if (strncmp(r, "* THREAD", 8) != 0)
		abort();
	for (const char *p = r + 8; *p; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')' && --depth < 0)
			abort();
		else if (*p >= '1' && *p <= '3') {
			if (seen & (1u << (*p - '0')))
				abort();
			seen |= 1u << (*p - '0');
		}
	}
	if (depth != 0 || seen != 0xe)
		abort();
}

static void
thread_three(const uint8_t *data, size_t size)
{
	struct imap_sort_msg m[3];
	struct buf *out = buf_new(1 << 16);
	size_t third = size / 3;

	for (size_t i = 0; i < 3; i++) {
		memset(&m[i], 0, sizeof(m[i]));
		m[i].num = m[i].seq = (uint32_t)(i + 1);
		imap_sort_msg_header(&m[i], (const char *)data + i * third,
				     i < 2 ? third : size - 2 * third);
	}
	imap_thread_references(m, 3, out);
	check_thread(out->data);
	for (size_t i = 0; i < 3; i++)
		imap_sort_msg_clear(&m[i]);
	buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const all[] = {
		"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO",
		"DISPLAYFROM", "DISPLAYTO",
	};
	char *text = xstrndup((const char *)data, size);
	struct imap_sort_msg m[3];
	struct buf *out = buf_new(1 << 16);
	int64_t t1, t2;
	int r1 = imap_date_rfc5322((const char *)data, size, &t1);
	int r2 = imap_date_rfc5322((const char *)data, size, &t2);

	if (r1 != r2 || (r1 == 0 && t1 != t2))
		abort();
	fixed_point(text);
	for (size_t i = 0; i < 3; i++) {
		memset(&m[i], 0, sizeof(m[i]));
		m[i].num = m[i].seq = (uint32_t)(i + 1);
		m[i].arrival = (int64_t)i;
		imap_sort_msg_header(&m[i], (const char *)data, size);
	}
	for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++) {
		struct imap_sort_crit c = {.n = 1};

		c.k[0].key = (enum imap_sort_key)k;
		c.k[0].reverse = size % 2 == 1;
		imap_sort_run(&c, m, 3);
		each_once(m, 3);
	}
	imap_thread_orderedsubject(m, 3, out);
	each_once(m, 3);
	for (size_t i = 0; i < 3; i++)
		imap_sort_msg_clear(&m[i]);
	buf_free(&out);
	free(text);
	thread_three(data, size);
	return 0;
}
