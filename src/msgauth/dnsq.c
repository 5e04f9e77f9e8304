/*
 * dnsq - the answer's memory: add a record, copy, free (see dnsq.h).
 * Fails only for lack of memory or room, with -1 and the answer intact.
 */
#include <stdlib.h>
#include <string.h>

#include "dnsq.h"

void
dnsq_answer_free(struct dnsq_answer *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->rr[i].text);
	free(a->rr);
	a->rr = NULL;
	a->n = 0;
	a->ttl = 0;
	a->status = DNSQ_TEMP;
}

int
dnsq_answer_add(struct dnsq_answer *a, const unsigned char *addr,
		size_t alen, unsigned pref, const char *text, size_t len)
{
	struct dnsq_rr *rr, *grown;

	if (a->n >= DNSQ_RRS_MAX || alen > sizeof(rr->addr))
		return -1;
	grown = realloc(a->rr, (a->n + 1) * sizeof(*a->rr));
	if (grown == NULL)
		return -1;
	a->rr = grown;
	rr = &a->rr[a->n];
	memset(rr, 0, sizeof(*rr));
	if (addr != NULL)
		memcpy(rr->addr, addr, alen);
	rr->pref = pref;
	if (text != NULL) {
		if ((rr->text = malloc(len + 1)) == NULL)
			return -1;
		memcpy(rr->text, text, len);
		rr->text[len] = '\0';
		rr->len = len;
	}
	a->n++;
	return 0;
}

int
dnsq_answer_copy(struct dnsq_answer *to, const struct dnsq_answer *a)
{
	memset(to, 0, sizeof(*to));
	for (size_t i = 0; i < a->n; i++)
		if (dnsq_answer_add(to, a->rr[i].addr, sizeof(a->rr[i].addr),
				    a->rr[i].pref, a->rr[i].text,
				    a->rr[i].len) == -1) {
			dnsq_answer_free(to);
			return -1;
		}
	to->status = a->status;
	to->ttl = a->ttl;
	return 0;
}

const char *
dnsq_type_name(enum dnsq_type t)
{
	switch (t) {
	case DNSQ_A:
		return "A";
	case DNSQ_PTR:
		return "PTR";
	case DNSQ_MX:
		return "MX";
	case DNSQ_TXT:
		return "TXT";
	case DNSQ_AAAA:
		return "AAAA";
	}
	return "?";
}
