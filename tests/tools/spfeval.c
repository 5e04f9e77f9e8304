/*
 * spfeval - a test driver for the SPF core (src/msgauth/spf.c): answers
 * its DNS questions from a zone in a text file and prints the results,
 * so tests/integ/test_spf.py can put the same queries to pyspf.
 *
 * Usage: spfeval [-r RECEIVER] [-t NOW] ZONE < QUERIES
 *
 * ZONE: one record a line, "name type value" ('#' starts a comment);
 * type A, AAAA, MX ("pref host"), PTR, TXT (the rest of the line, one
 * string), or TEMP (value: the type whose lookups of name fail with
 * DNSQ_TEMP, or "*").  A name with records of other types only is
 * NODATA, one without any NXDOMAIN.
 * QUERIES: "ip<TAB>sender<TAB>helo[<TAB>domain]" a line (sender "<>" for
 * the null path; domain defaults to the sender's, or helo's for <>).
 * Output: "result<TAB>lookups<TAB>voids<TAB>exp<TAB>why" a line.
 * Exits 0, or 2 on a usage or zone error.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "msgauth/spf.h"

#define ZONE_MAX 4096

struct rec {
	char *name, *type, *value;
};

static struct rec zone[ZONE_MAX];
static size_t nzone;

static int
load_zone(const char *path)
{
	char line[9000];
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		perror(path);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *name, *type, *value, *save = NULL;

		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		name = strtok_r(line, " \t", &save);
		type = strtok_r(NULL, " \t", &save);
		value = save != NULL ? save + strspn(save, " \t") : "";
		if (name == NULL || type == NULL || nzone == ZONE_MAX) {
			fprintf(stderr, "%s: bad line\n", path);
			fclose(f);
			return -1;
		}
		zone[nzone].name = strdup(name);
		zone[nzone].type = strdup(type);
		zone[nzone].value = strdup(value);
		nzone++;
	}
	fclose(f);
	return 0;
}

static void
add_rr(struct dnsq_answer *a, enum dnsq_type t, const char *v)
{
	unsigned char addr[16];
	unsigned pref = 0;
	char host[300];

	switch (t) {
	case DNSQ_A:
	case DNSQ_AAAA:
		if (inet_pton(t == DNSQ_A ? AF_INET : AF_INET6, v, addr) == 1)
			dnsq_answer_add(a, addr, t == DNSQ_A ? 4 : 16, 0,
					NULL, 0);
		return;
	case DNSQ_MX:
		if (sscanf(v, "%u %299s", &pref, host) == 2) {
			size_t n = strlen(host);

			if (n > 0 && host[n - 1] == '.')
				host[--n] = '\0';
			dnsq_answer_add(a, NULL, 0, pref, host, n);
		}
		return;
	default:
		dnsq_answer_add(a, NULL, 0, 0, v, strlen(v));
	}
}

static void
lookup(const struct dnsq_question *q, struct dnsq_answer *a)
{
	const char *tn = dnsq_type_name(q->type);
	bool exists = false;

	memset(a, 0, sizeof(*a));
	for (size_t i = 0; i < nzone; i++) {
		if (strcasecmp(zone[i].name, q->name) != 0)
			continue;
		exists = true;
		if (strcasecmp(zone[i].type, "TEMP") == 0 &&
		    (strcmp(zone[i].value, "*") == 0 ||
		     strcasecmp(zone[i].value, tn) == 0)) {
			dnsq_answer_free(a);
			a->status = DNSQ_TEMP;
			return;
		}
		if (strcasecmp(zone[i].type, tn) == 0)
			add_rr(a, q->type, zone[i].value);
	}
	a->status = a->n > 0 ? DNSQ_OK : exists ? DNSQ_NODATA : DNSQ_NXDOMAIN;
}

static void
evaluate(char *line, const char *receiver, long long now)
{
	char *f[4] = { NULL, NULL, NULL, NULL }, *save = NULL;
	unsigned char ip[16];
	int family = AF_INET;
	const char *sender, *domain, *why, *exp;
	struct dnsq_question q;
	struct dnsq_answer a;
	unsigned lookups, voids;
	struct spf *s;
	enum spf_result r;

	for (int i = 0; i < 4; i++)
		f[i] = strtok_r(i == 0 ? line : NULL, "\t", &save);
	if (f[0] == NULL || f[1] == NULL || f[2] == NULL) {
		printf("usage\t0\t0\t\tbad query line\n");
		return;
	}
	if (inet_pton(AF_INET, f[0], ip) != 1) {
		family = AF_INET6;
		if (inet_pton(AF_INET6, f[0], ip) != 1) {
			printf("usage\t0\t0\t\tbad address\n");
			return;
		}
	}
	sender = strcmp(f[1], "<>") == 0 ? "" : f[1];
	domain = f[3];
	if (domain == NULL)
		domain = *sender == '\0' ? f[2] :
			 strchr(sender, '@') != NULL ?
			 strrchr(sender, '@') + 1 : sender;
	s = spf_new(NULL, family, ip, domain, sender, f[2], receiver, now);
	if (s == NULL) {
		printf("nomem\t0\t0\t\tout of memory\n");
		return;
	}
	while (spf_next(s, &q)) {
		lookup(&q, &a);
		spf_answer(s, &a);
		dnsq_answer_free(&a);
	}
	r = spf_result(s, &why, &exp);
	spf_counts(s, &lookups, &voids);
	printf("%s\t%u\t%u\t%s\t%s\n", spf_result_name(r), lookups, voids,
	       exp != NULL ? exp : "", why);
	spf_free(&s);
}

int
main(int argc, char **argv)
{
	const char *receiver = "receiver.test";
	long long now = 1700000000;
	char line[4096];
	int i;

	for (i = 1; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (strcmp(argv[i], "-r") == 0)
			receiver = argv[i + 1];
		else if (strcmp(argv[i], "-t") == 0)
			now = atoll(argv[i + 1]);
		else
			break;
	}
	if (i + 1 != argc) {
		fprintf(stderr, "usage: spfeval [-r RECEIVER] [-t NOW] ZONE "
			"< QUERIES\n");
		return 2;
	}
	if (load_zone(argv[i]) == -1)
		return 2;
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] != '\0' && line[0] != '#')
			evaluate(line, receiver, now);
		fflush(stdout);
	}
	for (size_t k = 0; k < nzone; k++) {
		free(zone[k].name);
		free(zone[k].type);
		free(zone[k].value);
	}
	return 0;
}
