/*
 * owlctl spf IP SENDER [HELO] [--json] - check_host() of RFC 7208 for
 * the MAIL FROM identity of SENDER from the client address IP, as owld's
 * inbound check makes it: the SPF core (msgauth/spf) with the spf.max_*
 * limits, each of its DNS questions asked through dns.resolver,
 * dns.timeout and dns.attempts (relay/resolve), without a cache.  For the
 * null sender ("" or "<>") the HELO identity stands in (RFC 7208 2.4):
 * HELO is then required.  Prints the result, the reason, the explanation
 * (exp=) if any and the DNS lookups counted; --json one object.
 *
 * owlctl_spf_run() is also doctor's SPF evaluation.  A DNS lookup that
 * fails is temperror (its error text kept for the reason), never a
 * verdict.  Exit status: 0 pass, 1 any other result, 75 temperror (try
 * later: sysexits EX_TEMPFAIL), 64 usage, 65 a bad address or name.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/buf.h"
#include "../lib/conf.h"
#include "../msgauth/spf.h"
#include "../relay/resolve.h"
#include "owlctl.h"

#define EX_TEMPFAIL_CODE 75	/* temperror: a lookup failed, try later */

struct spf_args {
	int family;
	unsigned char ip[16];
	const char *iptext;
	char sender[SPF_SENDER_MAX + 1];	/* without <>; "" null */
	const char *helo;
	const char *domain;	/* the sender's, or HELO for <> */
};

static void spf_limits_conf(const struct conf *c, struct spf_limits *lim);
static int usage(void);
static int parse_args(struct spf_args *a, int argc, char **argv);
static void print_text(const struct spf_args *a, const struct spf *s,
		       const char *dnserr);
static void print_json(const struct spf_args *a, const struct spf *s,
		       const char *dnserr);

/* The spf.max_* keys as the core's limits (as owld's check sets them). */
static void
spf_limits_conf(const struct conf *c, struct spf_limits *lim)
{
	*lim = (struct spf_limits){
		.max_lookups = c->spf_max_lookups,
		.max_void = c->spf_max_void,
		.max_mx_names = c->spf_max_mx_names,
		.max_ptr_names = c->spf_max_ptr_names,
	};
}

struct spf *
owlctl_spf_run(const struct conf *c, const struct resolve_opts *o, int family,
	       const unsigned char *ip, const char *domain, const char *sender,
	       const char *helo, char *dnserr, size_t errsz)
{
	struct spf_limits lim;
	struct dnsq_question q;
	struct spf *s;

	dnserr[0] = '\0';
	spf_limits_conf(c, &lim);
	s = spf_new(&lim, family, ip, domain, sender, helo, c->hostname,
		    (int64_t)time(NULL));
	if (s == NULL)
		return NULL;
	while (spf_next(s, &q)) {
		struct dnsq_answer a;
		char err[512];

		if (resolve_lookup(NULL, o, &q, &a, err, sizeof(err)) ==
			    DNSQ_TEMP && err[0] != '\0')
			snprintf(dnserr, errsz, "%s", err);
		spf_answer(s, &a);
		dnsq_answer_free(&a);
	}
	return s;
}

static int
usage(void)
{
	fprintf(stderr, "usage: owlctl spf IP SENDER [HELO] [--json]\n"
		"       (SENDER \"\" or \"<>\": the null sender, checked "
		"as postmaster@HELO)\n");
	return 64;
}

/* IP, SENDER and HELO into *a: 0, or the exit status (said on stderr). */
static int
parse_args(struct spf_args *a, int argc, char **argv)
{
	const char *snd = argv[1], *at;
	size_t n = strlen(snd);

	a->iptext = argv[0];
	a->helo = argc == 3 ? argv[2] : "";
	if (inet_pton(AF_INET, argv[0], a->ip) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, argv[0], a->ip) == 1)
		a->family = AF_INET6;
	else {
		fprintf(stderr, "owlctl: %s is not an IPv4 or IPv6 address\n",
			argv[0]);
		return EX_DATAERR_CODE;
	}
	if (n >= 2 && snd[0] == '<' && snd[n - 1] == '>') {
		snd++;
		n -= 2;
	}
	if (bsnprintf(a->sender, sizeof(a->sender), "%.*s", (int)n, snd) ==
	    -1) {
		fprintf(stderr, "owlctl: SENDER is over %u octets\n",
			SPF_SENDER_MAX);
		return EX_DATAERR_CODE;
	}
	if (a->sender[0] == '\0') {
		if (a->helo[0] == '\0') {
			fprintf(stderr, "owlctl: the null sender is checked "
				"as postmaster@HELO: give HELO\n");
			return 64;
		}
		a->domain = a->helo;
		return 0;
	}
	if ((at = strrchr(a->sender, '@')) == NULL || at[1] == '\0') {
		fprintf(stderr, "owlctl: %s is not an address (local@domain, "
			"or \"\" for the null sender)\n", a->sender);
		return EX_DATAERR_CODE;
	}
	a->domain = at + 1;
	return 0;
}

/* The reason; for a failed lookup the resolver's words (which name it). */
static void
reason_text(const struct spf *s, const char *dnserr, char *out, size_t size)
{
	const char *why;

	if (spf_result(s, &why, NULL) == SPF_TEMPERROR && dnserr[0] != '\0' &&
	    strncmp(why, "DNS error", 9) == 0)
		snprintf(out, size, "DNS error: %s", dnserr);
	else
		snprintf(out, size, "%s", why);
}

static void
print_text(const struct spf_args *a, const struct spf *s, const char *dnserr)
{
	char reason[1024];
	const char *exp;
	unsigned lookups, voids;
	enum spf_result r = spf_result(s, NULL, &exp);

	reason_text(s, dnserr, reason, sizeof(reason));
	spf_counts(s, &lookups, &voids);
	printf("check_host(%s, %s, <%s>)%s\n", a->iptext, a->domain,
	       a->sender, a->sender[0] == '\0' ? " (null sender: HELO)" : "");
	printf("result: %s\n", spf_result_name(r));
	printf("reason: %s\n", reason);
	if (exp != NULL)
		printf("explanation: %s\n", exp);
	printf("lookups: %u (void: %u)\n", lookups, voids);
}

static void
print_json(const struct spf_args *a, const struct spf *s, const char *dnserr)
{
	char reason[1024];
	const char *exp;
	unsigned lookups, voids;
	enum spf_result r = spf_result(s, NULL, &exp);

	reason_text(s, dnserr, reason, sizeof(reason));
	spf_counts(s, &lookups, &voids);
	printf("{\"ip\":");
	owlctl_json_str(a->iptext);
	printf(",\"sender\":");
	owlctl_json_str(a->sender);
	printf(",\"helo\":");
	owlctl_json_str(a->helo);
	printf(",\"identity\":\"%s\",\"domain\":",
	       a->sender[0] == '\0' ? "helo" : "mailfrom");
	owlctl_json_str(a->domain);
	printf(",\"result\":\"%s\",\"reason\":", spf_result_name(r));
	owlctl_json_str(reason);
	printf(",\"explanation\":");
	if (exp != NULL)
		owlctl_json_str(exp);
	else
		printf("null");
	printf(",\"lookups\":%u,\"void_lookups\":%u}\n", lookups, voids);
}

int
cmd_spf(const struct conf *c, int argc, char **argv)
{
	static const struct option lopts[] = {
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	struct spf_args a = {0};
	struct resolve_opts o;
	struct spf *s;
	char dnserr[768];
	bool json = false;
	int ch, rc;
	enum spf_result r;

	optind = 0; /* GNU getopt: start afresh (main used "+") */
	while ((ch = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		if (ch != 'j')
			return usage();
		json = true;
	}
	if (argc - optind < 2 || argc - optind > 3)
		return usage();
	if ((rc = parse_args(&a, argc - optind, argv + optind)) != 0)
		return rc;
	resolve_opts_conf(&o, c);
	s = owlctl_spf_run(c, &o, a.family, a.ip, a.domain, a.sender, a.helo,
			   dnserr, sizeof(dnserr));
	if (s == NULL) {
		fprintf(stderr, "owlctl: out of memory\n");
		return EX_TEMPFAIL_CODE;
	}
	if (json)
		print_json(&a, s, dnserr);
	else
		print_text(&a, s, dnserr);
	r = spf_result(s, NULL, NULL);
	spf_free(&s);
	return r == SPF_PASS ? 0 : r == SPF_TEMPERROR ? EX_TEMPFAIL_CODE : 1;
}
