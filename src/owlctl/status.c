/*
 * status - owlctl's questions to the running owld over its control
 * socket (DATA_DIR/owld.sock; src/owld/ctl.c answers): "status [--json]"
 * (version, uptime, sessions per protocol, queue, messages in and
 * deliveries out in the last minute, the certificate's expiry) and
 * "reload" (what SIGHUP does); and "user list --json".  With no owld
 * answering, status and reload say so and exit 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../auth/users.h"
#include "../lib/buf.h"
#include "owlctl.h"

/* One question, one answer line; 1 if no owld answers, else 0. */
static int
ask(const struct conf *c, const char *cmd, char *reply, size_t size)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	size_t got = 0, len = strlen(cmd);
	ssize_t n;
	int fd;

	if (bsnprintf(sun.sun_path, sizeof(sun.sun_path), "%s/owld.sock",
		      c->data_dir) == -1)
		return 1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    write(fd, cmd, len) != (ssize_t)len || write(fd, "\n", 1) != 1) {
		if (fd != -1)
			close(fd);
		return 1;
	}
	while (got + 1 < size &&
	       (n = read(fd, reply + got, size - got - 1)) > 0)
		got += (size_t)n;
	close(fd);
	reply[got] = '\0';
	reply[strcspn(reply, "\n")] = '\0';
	return got == 0;
}

static int
not_running(const struct conf *c)
{
	fprintf(stderr, "owlctl: owld is not running (no answer on "
		"%s/owld.sock)\n", c->data_dir);
	return 1;
}

/* The value of key in a line of key=value words ("" if absent). */
static const char *
word(const char *line, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key);

	out[0] = '\0';
	for (const char *p = line; (p = strstr(p, key)) != NULL; p++) {
		if ((p == line || p[-1] == ' ') && p[klen] == '=') {
			snprintf(out, size, "%.*s",
				 (int)strcspn(p + klen + 1, " "), p + klen + 1);
			break;
		}
	}
	return out;
}

static unsigned long long
num(const char *line, const char *key)
{
	char v[64];

	return strtoull(word(line, key, v, sizeof(v)), NULL, 10);
}

void
owlctl_json_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);	/* UTF-8 passes as it is */
	}
	putchar('"');
}

/* 2027-01-01T00:00:00Z */
static void
utc(long long t, char *out, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, size, "%lld", t);
}

static void
cert_json(const char *r, long long na)
{
	char fp[80], when[40];

	utc(na, when, sizeof(when));
	printf("{\"not_after\":\"%s\",\"not_after_unix\":%lld,\"days_left\":"
	       "%lld,\"sha256\":", when, na,
	       (na - (long long)time(NULL)) / 86400);
	owlctl_json_str(word(r, "cert_sha256", fp, sizeof(fp)));
	printf("}");
}

static void
status_json(const char *r)
{
	char v[64];
	long long na = strtoll(word(r, "cert_not_after", v, sizeof(v)), NULL,
			       10);

	printf("{\"version\":");
	owlctl_json_str(word(r, "version", v, sizeof(v)));
	printf(",\"uptime\":%llu,\"sessions\":{\"smtp\":%llu,\"pop3\":%llu,"
	       "\"imap\":%llu},\"queue\":%llu,\"in_1m\":%llu,\"out_1m\":%llu,"
	       "\"cert\":", num(r, "uptime"), num(r, "smtp"), num(r, "pop3"),
	       num(r, "imap"), num(r, "queue"), num(r, "in_1m"),
	       num(r, "out_1m"));
	if (na < 0)
		printf("null");
	else
		cert_json(r, na);
	printf(",\"checks\":");
	owlctl_json_str(word(r, "checks", v, sizeof(v)));
	printf(",\"dns_cache\":{\"hits\":%llu,\"misses\":%llu,"
	       "\"entries\":%llu,\"bytes\":%llu}}\n", num(r, "dns_hits"),
	       num(r, "dns_misses"), num(r, "dns_entries"),
	       num(r, "dns_bytes"));
}


static void
status_text(const char *r)
{
	char v[64], fp[80], when[40];
	unsigned long long up = num(r, "uptime");
	long long na = strtoll(word(r, "cert_not_after", v, sizeof(v)), NULL,
			       10);

	printf("owld %s, up %llud %02lluh %02llum %02llus\n",
	       word(r, "version", v, sizeof(v)), up / 86400, up / 3600 % 24,
	       up / 60 % 60, up % 60);
	printf("sessions: smtp %llu, pop3 %llu, imap %llu\n", num(r, "smtp"),
	       num(r, "pop3"), num(r, "imap"));
	printf("queue: %llu messages\n", num(r, "queue"));
	printf("last minute: %llu messages in, %llu deliveries out\n",
	       num(r, "in_1m"), num(r, "out_1m"));
	if (na < 0) {
		printf("certificate: none (no tls.cert)\n");
	} else {
		utc(na, when, sizeof(when));
		printf("certificate: expires %s (%lld days), sha256 %s\n",
		       when, (na - (long long)time(NULL)) / 86400,
		       word(r, "cert_sha256", fp, sizeof(fp)));
	}
	printf("inbound checks: %s", word(r, "checks", v, sizeof(v)));
	if (strcmp(v, "off") != 0)
		printf("; DNS cache: %llu entries, %llu KiB, %llu hits, "
		       "%llu misses", num(r, "dns_entries"),
		       (num(r, "dns_bytes") + 1023) / 1024,
		       num(r, "dns_hits"), num(r, "dns_misses"));
	printf("\n");
}

int
cmd_status(const struct conf *c, int argc, char **argv)
{
	char reply[1024];

	if (argc > 1 || (argc == 1 && strcmp(argv[0], "--json") != 0)) {
		fprintf(stderr, "usage: owlctl status [--json]\n");
		return 64;
	}
	if (ask(c, "status", reply, sizeof(reply)) == 1)
		return not_running(c);
	if (strncmp(reply, "ok ", 3) != 0) {
		fprintf(stderr, "owlctl: owld says: %s\n", reply);
		return 1;
	}
	if (argc == 1)
		status_json(reply + 3);
	else
		status_text(reply + 3);
	return 0;
}

int
cmd_reload(const struct conf *c, int argc, char **argv)
{
	char reply[1024];

	(void)argv;
	if (argc != 0) {
		fprintf(stderr, "usage: owlctl reload\n");
		return 64;
	}
	if (ask(c, "reload", reply, sizeof(reply)) == 1)
		return not_running(c);
	if (strncmp(reply, "ok ", 3) == 0) {
		printf("reloaded: %s\n", reply + 3);
		return 0;
	}
	/* the TLS pair was refused: the old one stays in use */
	fprintf(stderr, "owlctl: reload: %s\n",
		strncmp(reply, "error ", 6) == 0 ? reply + 6 : reply);
	return 1;
}

int
owlctl_user_list_json(const struct conf *c)
{
	struct table_entry *v;
	size_t n;

	if (owlctl_load(c->users_file, users_parse, &v, &n) == -1)
		return 1;
	putchar('[');
	for (size_t i = 0; i < n; i++) {
		printf(i ? ",{\"user\":" : "{\"user\":");
		owlctl_json_str(v[i].key);
		putchar('}');
	}
	printf("]\n");
	table_entries_free(v, n);
	return 0;
}
