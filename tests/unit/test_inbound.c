/*
 * Unit tests of the inbound check core (src/msgauth/inbound.c): SPF, DKIM
 * and DMARC driven together over a DNS table, the body fed whole, byte by
 * byte and in chunks; the Authentication-Results field; the verdicts of
 * the tag and enforce policies (DMARC reject and quarantine, SPF fail
 * with spf_reject, DNS trouble never a 5xx); the HELO identity standing
 * for a null MAIL FROM.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/buf.h"
#include "msgauth/dkim.h"
#include "msgauth/inbound.h"

#define NOW 1800000000

struct rr {
	const char *name;
	enum dnsq_type type;
	const char *text;	/* TXT; NULL: TEMP (a lookup that fails) */
};

/* The zone of every test; the DKIM key's record is added at run time. */
static struct rr zone[32] = {
	{"good.test", DNSQ_TXT, "v=spf1 ip4:192.0.2.10 -all"},
	{"_dmarc.good.test", DNSQ_TXT, "v=DMARC1; p=reject"},
	{"fail.test", DNSQ_TXT, "v=spf1 ip4:198.51.100.1 -all"},
	{"_dmarc.fail.test", DNSQ_TXT, "v=DMARC1; p=reject"},
	{"quar.test", DNSQ_TXT, "v=spf1 -all"},
	{"_dmarc.quar.test", DNSQ_TXT, "v=DMARC1; p=quarantine"},
	{"temp.test", DNSQ_TXT, NULL},
	{"_dmarc.temp.test", DNSQ_TXT, NULL},
	{"mx.good.test", DNSQ_TXT, "v=spf1 ip4:192.0.2.10 -all"},
};
static size_t nzone = 9;
static unsigned asked;

static struct dkim_key *key;
static struct buf *keyrec;

static void
answer(const struct dnsq_question *q, struct dnsq_answer *a)
{
	memset(a, 0, sizeof(*a));
	a->status = DNSQ_NXDOMAIN;
	asked++;
	for (size_t i = 0; i < nzone; i++) {
		if (strcmp(zone[i].name, q->name) != 0)
			continue;
		if (zone[i].text == NULL) {
			a->status = DNSQ_TEMP;
			return;
		}
		if (zone[i].type != q->type) {
			a->status = DNSQ_NODATA;
			continue;
		}
		assert_int_equal(dnsq_answer_add(a, NULL, 0, 0, zone[i].text,
						 strlen(zone[i].text)), 0);
		a->status = DNSQ_OK;
		a->ttl = 300;
	}
}

static struct psl *psl;

static int
setup(void **st)
{
	static const char list[] = "// a small list\ntest\nco.test\n";
	const char *err;

	(void)st;
	assert_int_equal(psl_load(list, sizeof(list) - 1, &psl, &err), 0);
	assert_int_equal(dkim_key_generate(DKIM_ED25519_SHA256, &key, &err),
			 0);
	keyrec = buf_new(256);
	assert_int_equal(dkim_key_record(key, keyrec), 0);
	assert_int_equal(buf_addc(keyrec, '\0'), 0);
	zone[nzone++] = (struct rr){"s1._domainkey.good.test", DNSQ_TXT,
				    keyrec->data};
	return 0;
}

static int
teardown(void **st)
{
	(void)st;
	psl_free(&psl);
	dkim_key_free(&key);
	buf_free(&keyrec);
	return 0;
}

static const char HDR_FMT[] =
	"Return-Path: <%s>\n"
	"Received: from client by mx.test; Thu, 3 Dec 2026 10:00:00 +0000\n"
	"From: Bob <bob@%s>\n"
	"To: alice@mx.test\n"
	"Subject: hello\n"
	"\n";
static const char BODY[] = "Hello there.\nSecond line.\n";

/* The message from domain, DKIM-signed by good.test when sign. */
static struct buf *
make_msg(const char *mailfrom, const char *from_domain, bool sign)
{
	struct buf *m = buf_new(4096), *field = buf_new(1024);
	char hdr[1024];
	const char *err;
	struct dkim_signer *s;
	int n;

	n = snprintf(hdr, sizeof(hdr), HDR_FMT, mailfrom, from_domain);
	if (sign) {
		s = dkim_signer_new(key, "good.test", "s1", NOW, hdr,
				    (size_t)n, &err);
		assert_non_null(s);
		dkim_signer_body(s, BODY, sizeof(BODY) - 1);
		assert_int_equal(dkim_signer_finish(s, field, &err), 0);
		dkim_signer_free(&s);
		buf_add(m, field->data, field->len);
	}
	buf_add(m, hdr, (size_t)n);
	buf_add(m, BODY, sizeof(BODY) - 1);
	buf_free(&field);
	return m;
}

static size_t
header_len(const struct buf *m)
{
	const char *e = memmem(m->data, m->len, "\n\n", 2);

	return e != NULL ? (size_t)(e - m->data) + 2 : m->len;
}

struct run {
	enum inbound_mode mode;
	bool spf_reject;
	const char *mailfrom, *helo, *from_domain;
	const char *ip;
	bool sign, tamper;
	size_t chunk;		/* 0: the body whole */
	unsigned pct_roll;
	/* out */
	struct inbound_verdict v;
	char authres[2048];
	enum spf_result spf, spf_helo;
	enum dmarc_result dmarc;
};

static void
run(struct run *r)
{
	struct inbound_policy p = {.mode = r->mode, .spf_reject = r->spf_reject,
				   .spf = true, .dkim = true, .dmarc = true};
	struct inbound_in in = {.family = AF_INET, .helo = r->helo,
				.mailfrom = r->mailfrom, .receiver = "mx.test",
				.authserv_id = "mx.test", .now = NOW + 10,
				.pct_roll = r->pct_roll, .psl = psl};
	struct buf *m = make_msg(r->mailfrom, r->from_domain, r->sign);
	struct buf *ar = buf_new(2048);
	struct dnsq_question q;
	struct inbound *c;
	size_t hlen, off;

	p.dkim_lim = (struct dkim_verify_limits){DKIM_SIGS_MAX,
						 DKIM_RSA_MIN_BITS,
						 DKIM_RSA_MAX_BITS, DKIM_H_MAX};
	assert_int_equal(inet_pton(AF_INET, r->ip, in.ip), 1);
	if (r->tamper)
		m->data[m->len - 3] ^= 1;
	hlen = header_len(m);
	c = inbound_new(&p, &in, m->data, hlen);
	assert_non_null(c);
	for (off = hlen; off < m->len;) {
		size_t n = r->chunk == 0 ? m->len - off : r->chunk;

		if (n > m->len - off)
			n = m->len - off;
		inbound_body(c, m->data + off, n);
		off += n;
	}
	inbound_body_end(c);
	while (inbound_next(c, &q)) {
		struct dnsq_answer a;

		answer(&q, &a);
		inbound_answer(c, &a);
		dnsq_answer_free(&a);
	}
	assert_int_equal(inbound_authres(c, ar), 0);
	snprintf(r->authres, sizeof(r->authres), "%.*s", (int)ar->len,
		 ar->data);
	inbound_verdict(c, &r->v);
	r->spf = inbound_spf(c, false);
	r->spf_helo = inbound_spf(c, true);
	r->dmarc = inbound_dmarc(c, NULL);
	inbound_free(&c);
	buf_free(&ar);
	buf_free(&m);
}

static void
test_all_pass(void **st)
{
	static const size_t chunks[] = {0, 1, 7};

	(void)st;
	for (size_t i = 0; i < 3; i++) {
		struct run r = {.mode = INBOUND_ENFORCE,
				.mailfrom = "bob@good.test",
				.helo = "mx.good.test",
				.from_domain = "good.test",
				.ip = "192.0.2.10", .sign = true,
				.chunk = chunks[i]};

		run(&r);
		assert_int_equal(r.spf, SPF_PASS);
		assert_int_equal(r.spf_helo, SPF_PASS);
		assert_int_equal(r.dmarc, DMARC_PASS);
		assert_int_equal(r.v.action, INBOUND_ACCEPT);
		assert_non_null(strstr(r.authres, "Authentication-Results: "
						  "mx.test;"));
		assert_non_null(strstr(r.authres, "spf=pass"));
		assert_non_null(strstr(r.authres, "smtp.mailfrom=good.test"));
		assert_non_null(strstr(r.authres, "smtp.helo=mx.good.test"));
		assert_non_null(strstr(r.authres, "dkim=pass"));
		assert_non_null(strstr(r.authres, "header.d=good.test"));
		assert_null(strstr(r.authres, "reason=\"\""));
		assert_non_null(strstr(r.authres, "dmarc=pass"));
		assert_non_null(strstr(r.authres, "header.from=good.test"));
		assert_int_equal(r.authres[strlen(r.authres) - 1], '\n');
	}
}

static void
test_dmarc_reject_enforced(void **st)
{
	struct run r = {.mode = INBOUND_ENFORCE, .mailfrom = "x@fail.test",
			.helo = "client.example", .from_domain = "fail.test",
			.ip = "192.0.2.10"};

	(void)st;
	run(&r);
	assert_int_equal(r.spf, SPF_FAIL);
	assert_int_equal(r.dmarc, DMARC_FAIL);
	assert_int_equal(r.v.action, INBOUND_REJECT);
	assert_memory_equal(r.v.reply, "550 5.7.1 ", 10);
	assert_non_null(strstr(r.v.reply, "fail.test"));
	/* tag: the same results, accepted */
	r.mode = INBOUND_TAG;
	run(&r);
	assert_int_equal(r.dmarc, DMARC_FAIL);
	assert_int_equal(r.v.action, INBOUND_ACCEPT);
	assert_non_null(strstr(r.authres, "dmarc=fail"));
}

static void
test_dkim_alone_aligns(void **st)
{
	/* SPF fails for MAIL FROM, the aligned DKIM signature passes */
	struct run r = {.mode = INBOUND_ENFORCE, .mailfrom = "bob@fail.test",
			.helo = "", .from_domain = "good.test",
			.ip = "192.0.2.10", .sign = true};

	(void)st;
	run(&r);
	assert_int_equal(r.spf, SPF_FAIL);
	assert_int_equal(r.dmarc, DMARC_PASS);
	assert_int_equal(r.v.action, INBOUND_ACCEPT);
	/* the body changed: DKIM fails, DMARC with it */
	r.tamper = true;
	run(&r);
	assert_non_null(strstr(r.authres, "dkim=fail"));
	assert_int_equal(r.dmarc, DMARC_FAIL);
	assert_int_equal(r.v.action, INBOUND_REJECT);
}

static void
test_quarantine(void **st)
{
	struct run r = {.mode = INBOUND_ENFORCE, .mailfrom = "x@quar.test",
			.helo = "", .from_domain = "quar.test",
			.ip = "192.0.2.10"};

	(void)st;
	run(&r);
	assert_int_equal(r.dmarc, DMARC_FAIL);
	assert_int_equal(r.v.action, INBOUND_QUARANTINE);
}

static void
test_spf_reject(void **st)
{
	struct run r = {.mode = INBOUND_ENFORCE, .spf_reject = true,
			.mailfrom = "x@fail.test", .helo = "",
			.from_domain = "quar.test", .ip = "192.0.2.10"};

	(void)st;
	run(&r);
	assert_int_equal(r.v.action, INBOUND_REJECT);
	assert_memory_equal(r.v.reply, "550 5.7.23 ", 11);
	/* without spf_reject the DMARC policy decides: quarantine */
	r.spf_reject = false;
	run(&r);
	assert_int_equal(r.v.action, INBOUND_QUARANTINE);
}

static void
test_dns_trouble_temporary(void **st)
{
	struct run r = {.mode = INBOUND_ENFORCE, .spf_reject = true,
			.mailfrom = "x@temp.test", .helo = "",
			.from_domain = "temp.test", .ip = "192.0.2.10"};

	(void)st;
	run(&r);
	assert_int_equal(r.spf, SPF_TEMPERROR);
	assert_int_equal(r.dmarc, DMARC_TEMPERROR);
	assert_int_equal(r.v.action, INBOUND_TEMPFAIL);
	assert_memory_equal(r.v.reply, "451 ", 4);
	r.mode = INBOUND_TAG;
	run(&r);
	assert_int_equal(r.v.action, INBOUND_ACCEPT);
	assert_non_null(strstr(r.authres, "temperror"));
}

static void
test_null_sender_takes_helo(void **st)
{
	struct run r = {.mode = INBOUND_TAG, .mailfrom = "",
			.helo = "mx.good.test", .from_domain = "good.test",
			.ip = "192.0.2.10"};

	(void)st;
	run(&r);
	assert_int_equal(r.spf_helo, SPF_PASS);
	assert_int_equal(r.spf, SPF_PASS);
	assert_non_null(strstr(r.authres, "smtp.helo=mx.good.test"));
	assert_null(strstr(r.authres, "smtp.mailfrom"));
	/* DMARC: the HELO domain mx.good.test aligns with good.test
	   (relaxed) */
	assert_int_equal(r.dmarc, DMARC_PASS);
}

static void
test_no_records(void **st)
{
	struct run r = {.mode = INBOUND_ENFORCE, .mailfrom = "x@none.test",
			.helo = "[192.0.2.10]", .from_domain = "none.test",
			.ip = "192.0.2.10"};

	(void)st;
	asked = 0;
	run(&r);
	assert_int_equal(r.spf, SPF_NONE);
	assert_int_equal(r.dmarc, DMARC_NONE);
	assert_int_equal(r.v.action, INBOUND_ACCEPT);
	assert_non_null(strstr(r.authres, "dkim=none"));
	/* SPF's TXT, then _dmarc.none.test (none.test is its own org
	   domain): no HELO lookup for an address literal */
	assert_int_equal(asked, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_pass),
		cmocka_unit_test(test_dmarc_reject_enforced),
		cmocka_unit_test(test_dkim_alone_aligns),
		cmocka_unit_test(test_quarantine),
		cmocka_unit_test(test_spf_reject),
		cmocka_unit_test(test_dns_trouble_temporary),
		cmocka_unit_test(test_null_sender_takes_helo),
		cmocka_unit_test(test_no_records),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
