/*
 * buf - bounded byte buffers; see buf.h.  Growth doubles, capped at max+1
 * (room for the terminating NUL); all size arithmetic is overflow-checked.
 */
#include "buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
oom(size_t n)
{
	fprintf(stderr, "owlpost: out of memory allocating %zu bytes\n", n);
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom(n);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		oom(n * size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		oom(n);
	return q;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

struct buf *
buf_new(size_t max)
{
	struct buf *b = xcalloc(1, sizeof(*b));

	b->max = max;
	b->cap = max < 256 ? max + 1 : 256;
	b->data = xmalloc(b->cap);
	b->data[0] = '\0';
	return b;
}

void
buf_free(struct buf **bp)
{
	if (*bp == NULL)
		return;
	free((*bp)->data);
	free(*bp);
	*bp = NULL;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	b->data[0] = '\0';
}

/* Makes room for len more bytes plus the NUL; -1 past max. */
static int
reserve(struct buf *b, size_t len)
{
	size_t need, cap, limit;

	if (__builtin_add_overflow(b->len, len, &need) || need > b->max)
		return -1;
	if (need < b->cap)
		return 0;
	/* the text and its NUL; a max of SIZE_MAX must not wrap to 0 */
	limit = b->max == SIZE_MAX ? SIZE_MAX : b->max + 1;
	cap = b->cap > 0 ? b->cap : 16;
	while (cap <= need)
		if (__builtin_mul_overflow(cap, 2, &cap)) {
			cap = SIZE_MAX;
			break;
		}
	if (cap > limit)
		cap = limit;
	if (cap <= need)
		return -1; /* no room for the NUL */
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
	return 0;
}

int
buf_add(struct buf *b, const void *data, size_t len)
{
	if (reserve(b, len) == -1)
		return -1;
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int
buf_addstr(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int
buf_addc(struct buf *b, char c)
{
	return buf_add(b, &c, 1);
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || reserve(b, (size_t)n) == -1)
		return -1;
	vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

int
bsnprintf(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, size, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= size ? -1 : n;
}

void
buf_line(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t mark = b->len;

	va_start(ap, fmt);
	if (buf_vprintf(b, fmt, ap) == -1 || buf_add(b, "\r\n", 2) == -1) {
		b->len = mark;
		if (b->data != NULL)
			b->data[mark] = '\0';
	}
	va_end(ap);
}
