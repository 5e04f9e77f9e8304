/*
 * buf - bounded byte buffers.
 *
 * Every buffer gets its maximum when it is created.  Appending past the
 * maximum fails with -1 and leaves the buffer as it was: it never grows past
 * max and never aborts, so a protocol core can answer 500/552 instead of
 * dying on client-driven input.  The data is kept NUL-terminated (the NUL is
 * not counted in len) so that text can be used as a C string, but raw bytes,
 * NULs included, travel as (data, len).
 *
 * Allocation failure of the buffer's own memory is fatal (xmalloc), as for
 * every fixed-size allocation in owlpost.
 */
#ifndef OWL_BUF_H
#define OWL_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};

/* A new empty buffer that will never hold more than max bytes. */
struct buf *buf_new(size_t max);
/* Frees *bp and sets it to NULL; NULL is fine. */
void buf_free(struct buf **bp);
/* Forget the contents, keep the allocation. */
void buf_reset(struct buf *b);

/* Appends; 0 on success, -1 (unchanged) if max would be exceeded. */
int buf_add(struct buf *b, const void *data, size_t len);
int buf_addstr(struct buf *b, const char *s);
int buf_addc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * A protocol reply line: the text and CRLF, whole or not at all (a full
 * buffer drops the line; callers bound their output so it never is).
 */
void buf_line(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Removes the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);

/* snprintf that returns -1 when the output was truncated (or failed). */
int bsnprintf(char *out, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Fatal-on-failure allocation for fixed-size, non client-driven memory. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
