/*
 * libFuzzer harness for the queue envelope parser (qenv_parse, as
 * queue_load calls it on a file's text).  Checks: no crash, no sanitizer
 * report; an accepted envelope has a valid id, a recipient, known states
 * and terminated strings; and format -> parse -> format is a fixed point
 * that keeps every field (replies only lose their CRs, as the writer
 * makes them one line).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_fields(const struct qenv *e)
{
	if (!queue_id_valid(e->id) || e->nrcpts == 0 ||
	    strnlen(e->sender, sizeof(e->sender)) == sizeof(e->sender) ||
	    strnlen(e->error, sizeof(e->error)) == sizeof(e->error))
		abort();
	for (size_t i = 0; i < e->nrcpts; i++) {
		const struct qrcpt *r = &e->rcpts[i];

		if ((r->state != QR_PENDING && r->state != QR_DONE &&
		     r->state != QR_FAILED) ||
		    strnlen(r->addr, sizeof(r->addr)) == sizeof(r->addr) ||
		    strnlen(r->reply, sizeof(r->reply)) == sizeof(r->reply))
			abort();
	}
}

/* a and b's text fields are equal but for CR and LF in a being spaces */
static void
same_line(const char *a, const char *b)
{
	for (; *a != '\0' || *b != '\0'; a++, b++)
		if (*a != *b && !((*a == '\r' || *a == '\n') && *b == ' '))
			abort();
}

static void
check_same(const struct qenv *a, const struct qenv *b)
{
	if (strcmp(a->id, b->id) != 0 || a->created != b->created ||
	    a->next != b->next || a->attempts != b->attempts ||
	    a->held != b->held || a->size != b->size ||
	    a->eightbit != b->eightbit || strcmp(a->sender, b->sender) != 0 ||
	    a->nrcpts != b->nrcpts ||
	    qenv_pending(a) != qenv_pending(b))
		abort();
	same_line(a->error, b->error);
	for (size_t i = 0; i < a->nrcpts; i++) {
		if (a->rcpts[i].state != b->rcpts[i].state ||
		    strcmp(a->rcpts[i].addr, b->rcpts[i].addr) != 0)
			abort();
		same_line(a->rcpts[i].reply, b->rcpts[i].reply);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;
	struct qenv e, e2, e3;
	struct buf *b1, *b2;

	if (size > QUEUE_ENV_MAX)
		return 0;
	text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	if (qenv_parse(text, &e) == -1) {
		if (e.rcpts != NULL || e.nrcpts != 0)
			abort(); /* a failed parse holds nothing */
		free(text);
		return 0;
	}
	check_fields(&e);
	b1 = buf_new(QUEUE_ENV_MAX + 4096);
	b2 = buf_new(QUEUE_ENV_MAX + 4096);
	qenv_format(&e, b1);
	if (qenv_parse(b1->data, &e2) == -1)
		abort(); /* we cannot read back what we wrote */
	check_same(&e, &e2);
	qenv_format(&e2, b2);
	if (b1->len != b2->len || memcmp(b1->data, b2->data, b1->len) != 0)
		abort();
	qenv_copy(&e3, &e2);
	check_same(&e2, &e3);
	qenv_free(&e3);
	qenv_free(&e2);
	qenv_free(&e);
	buf_free(&b2);
	buf_free(&b1);
	free(text);
	return 0;
}
