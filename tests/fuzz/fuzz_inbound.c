/*
 * libFuzzer harness for the inbound checks (src/msgauth/inbound.c) driven
 * whole: SPF, DKIM and DMARC over one message and a zone, both from the
 * input.  The input is: a first line with the MAIL FROM address and the
 * HELO name (space between), then zone lines "NAME TXT-TEXT" up to an
 * empty line (a TXT of "!" answers TEMP, a name not listed NXDOMAIN),
 * then the message (header section and body, LF line ends).  Every
 * question is answered from the zone; the checks must end (at most
 * MAX_QUESTIONS questions), the Authentication-Results field must be one
 * field that ends in LF and holds no NUL, CR or bare line start, and
 * the verdict's reply a 4xx/5xx line for a refusal.
 * Checks: no crash, no sanitizer report, no leak, and the above.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/buf.h"
#include "msgauth/inbound.h"

#define MAX_QUESTIONS 200
#define ZONE_MAX 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct zrr {
	char name[DNSQ_NAME_MAX + 1];
	const char *text;
	size_t len;
};

static struct psl *psl;

static void
init(void)
{
	static const char list[] = "test\nco.test\n*.wild.test\n!x.wild.test\n";
	const char *err;

	if (psl == NULL && psl_load(list, sizeof(list) - 1, &psl, &err) == -1)
		abort();
}

/* The next line of [*p, end) into [*l, *l + *n); false at the end. */
static bool
next_line(const char **p, const char *end, const char **l, size_t *n)
{
	const char *nl;

	if (*p >= end)
		return false;
	nl = memchr(*p, '\n', (size_t)(end - *p));
	*l = *p;
	*n = (nl != NULL ? nl : end) - *p;
	*p = nl != NULL ? nl + 1 : end;
	return true;
}

static void
answer(const struct zrr *z, size_t nz, const struct dnsq_question *q,
       struct dnsq_answer *a)
{
	memset(a, 0, sizeof(*a));
	a->status = DNSQ_NXDOMAIN;
	for (size_t i = 0; i < nz; i++) {
		if (strcmp(z[i].name, q->name) != 0)
			continue;
		if (z[i].len == 1 && z[i].text[0] == '!') {
			dnsq_answer_free(a);
			a->status = DNSQ_TEMP;
			return;
		}
		if (q->type != DNSQ_TXT) {
			if (a->n == 0)
				a->status = DNSQ_NODATA;
			continue;
		}
		if (dnsq_answer_add(a, NULL, 0, 0, z[i].text, z[i].len) == 0)
			a->status = DNSQ_OK;
	}
}

static void
check_field(const struct buf *b)
{
	if (b->len == 0 || b->data[b->len - 1] != '\n')
		abort();
	for (size_t i = 0; i < b->len; i++) {
		if (b->data[i] == '\0' || b->data[i] == '\r')
			abort();
		if (b->data[i] == '\n' && i + 1 < b->len &&
		    b->data[i + 1] != ' ' && b->data[i + 1] != '\t')
			abort();
	}
}

static void
run(const char *mailfrom, const char *helo, const struct zrr *z, size_t nz,
    const char *msg, size_t len)
{
	struct inbound_policy p = {
		.mode = INBOUND_ENFORCE, .spf_reject = true, .spf = true,
		.dkim = true, .dmarc = true,
		.dkim_lim = {DKIM_SIGS_MAX, DKIM_RSA_MIN_BITS,
			     DKIM_RSA_MAX_BITS, DKIM_H_MAX}};
	struct inbound_in in = {.family = AF_INET, .helo = helo,
				.mailfrom = mailfrom, .receiver = "mx.test",
				.authserv_id = "mx.test", .now = 1800000000,
				.pct_roll = (unsigned)(len % 100), .psl = psl};
	const char *e = memmem(msg, len, "\n\n", 2);
	size_t hlen = e != NULL ? (size_t)(e - msg) + 2 : len;
	struct buf *ar = buf_new(64 * 1024);
	struct inbound_verdict v;
	struct dnsq_question q;
	struct inbound *c;
	unsigned asked = 0;

	inet_pton(AF_INET, "192.0.2.1", in.ip);
	if ((c = inbound_new(&p, &in, msg, hlen)) == NULL)
		abort();
	inbound_body(c, msg + hlen, (len - hlen) / 2);
	inbound_body(c, msg + hlen + (len - hlen) / 2,
		     len - hlen - (len - hlen) / 2);
	inbound_body_end(c);
	while (inbound_next(c, &q)) {
		struct dnsq_answer a;

		if (++asked > MAX_QUESTIONS)
			abort();
		answer(z, nz, &q, &a);
		inbound_answer(c, &a);
		dnsq_answer_free(&a);
	}
	if (inbound_authres(c, ar) == 0)
		check_field(ar);
	inbound_verdict(c, &v);
	if ((v.action == INBOUND_REJECT && v.reply[0] != '5') ||
	    (v.action == INBOUND_TEMPFAIL && v.reply[0] != '4'))
		abort();
	inbound_free(&c);
	buf_free(&ar);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *l, *sp;
	char *copy, mailfrom[256] = "", helo[256] = "";
	struct zrr z[ZONE_MAX];
	size_t n, nz = 0;

	init();
	copy = malloc(size + 1);	/* NUL-ended zone texts */
	memcpy(copy, data, size);
	copy[size] = '\0';
	p = copy;
	end = copy + size;
	if (next_line(&p, end, &l, &n) && (sp = memchr(l, ' ', n)) != NULL &&
	    (size_t)(sp - l) < sizeof(mailfrom) &&
	    n - (size_t)(sp - l) - 1 < sizeof(helo)) {
		memcpy(mailfrom, l, (size_t)(sp - l));
		mailfrom[sp - l] = '\0';
		memcpy(helo, sp + 1, n - (size_t)(sp - l) - 1);
		helo[n - (size_t)(sp - l) - 1] = '\0';
	}
	while (next_line(&p, end, &l, &n) && n > 0) {
		if (nz == ZONE_MAX || (sp = memchr(l, ' ', n)) == NULL ||
		    (size_t)(sp - l) > DNSQ_NAME_MAX)
			continue;
		memcpy(z[nz].name, l, (size_t)(sp - l));
		z[nz].name[sp - l] = '\0';
		z[nz].text = sp + 1;
		z[nz].len = n - (size_t)(sp - l) - 1;
		nz++;
	}
	run(mailfrom, helo, z, nz, p, (size_t)(end - p));
	free(copy);
	return 0;
}
