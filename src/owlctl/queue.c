/*
 * owlctl queue - list, show, flush, delete, hold and release queued mail.
 *
 * Reading (list, show) goes straight to the queue files.  Changes go to
 * the running owld over its control socket (DATA_DIR/owld.sock), because
 * the daemon acts on its in-memory copy of each envelope; when no owld
 * answers there, owlctl changes the files itself (flush then has nobody
 * to ask, and says so).
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/conf.h"
#include "../store/queue.h"
#include "owlctl.h"

static void
qdir_of(const struct conf *c, char *out, size_t size)
{
	snprintf(out, size, "%s/queue", c->data_dir);
}

/* Asks owld; 1 if none listens, -1 on an error answer, 0 if ok. */
static int
ask_daemon(const struct conf *c, const char *cmd, char *reply, size_t size)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char line[300];
	ssize_t n;
	size_t got = 0;
	int fd;

	if (bsnprintf(sun.sun_path, sizeof(sun.sun_path), "%s/owld.sock",
		      c->data_dir) == -1)
		return 1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (fd != -1)
			close(fd);
		return 1;
	}
	snprintf(line, sizeof(line), "queue %s\n", cmd);
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line)) {
		close(fd);
		return 1;
	}
	while (got + 1 < size && (n = read(fd, reply + got, size - got - 1)) > 0)
		got += (size_t)n;
	close(fd);
	reply[got] = '\0';
	reply[strcspn(reply, "\n")] = '\0';
	if (strncmp(reply, "ok", 2) == 0)
		return 0;
	return -1;
}

static int
load_all(const char *qdir, struct qenv **out, size_t *n)
{
	char d[4096], err[300];
	DIR *dir;
	struct dirent *de;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (bsnprintf(d, sizeof(d), "%s/env", qdir) == -1)
		return -1;
	if ((dir = opendir(d)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(dir)) != NULL) {
		struct qenv e;

		if (de->d_name[0] == '.' ||
		    queue_load(qdir, de->d_name, &e, err, sizeof(err)) == -1)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		(*out)[(*n)++] = e;
	}
	closedir(dir);
	return 0;
}

static const char *
state_name(char s)
{
	return s == QR_DONE ? "sent" : s == QR_FAILED ? "failed" : "pending";
}

static void
json_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void
when(time_t t, char *out, size_t size)
{
	struct tm tm;

	if (t == 0) {
		snprintf(out, size, "now");
		return;
	}
	localtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%d %H:%M:%S", &tm);
}

static void
print_env(const struct qenv *e)
{
	char next[64];

	when(e->next, next, sizeof(next));
	/* nothing pending: finished, removed by owld (start-up or flush) */
	if (qenv_pending(e) == 0)
		snprintf(next, sizeof(next), "(removed by owld)");
	printf("%-16s %8zu  attempts %-3u %s %s <%s>\n", e->id, e->size,
	       e->attempts,
	       qenv_pending(e) == 0 ? "done" : e->held ? "held" : "next",
	       e->held && qenv_pending(e) > 0 ? "" : next, e->sender);
	for (size_t k = 0; k < e->nrcpts; k++)
		printf("    %-7s <%s>%s%s\n", state_name(e->rcpts[k].state),
		       e->rcpts[k].addr, e->rcpts[k].reply[0] ? " " : "",
		       e->rcpts[k].reply);
	if (e->error[0] != '\0')
		printf("    last error: %s\n", e->error);
}

static int
list(const char *qdir, bool json)
{
	struct qenv *envs;
	size_t n;

	if (load_all(qdir, &envs, &n) == -1) {
		fprintf(stderr, "owlctl: %s: %s\n", qdir, strerror(errno));
		return 1;
	}
	if (json)
		printf("[");
	for (size_t i = 0; i < n; i++) {
		const struct qenv *e = &envs[i];

		if (!json) {
			print_env(e);
			continue;
		}
		printf("%s\n {\"id\": ", i ? "," : "");
		json_str(e->id);
		printf(", \"sender\": ");
		json_str(e->sender);
		printf(", \"size\": %zu, \"created\": %lld, \"next_attempt\": "
		       "%lld, \"attempts\": %u, \"held\": %s, \"done\": %s, "
		       "\"last_error\": ",
		       e->size, (long long)e->created, (long long)e->next,
		       e->attempts, e->held ? "true" : "false",
		       qenv_pending(e) == 0 ? "true" : "false");
		json_str(e->error);
		printf(", \"recipients\": [");
		for (size_t k = 0; k < e->nrcpts; k++) {
			printf("%s{\"address\": ", k ? ", " : "");
			json_str(e->rcpts[k].addr);
			printf(", \"state\": \"%s\", \"reply\": ",
			       state_name(e->rcpts[k].state));
			json_str(e->rcpts[k].reply);
			printf("}");
		}
		printf("]}");
	}
	if (json)
		printf("%s]\n", n ? "\n" : "");
	else if (n == 0)
		printf("queue is empty\n");
	for (size_t i = 0; i < n; i++)
		qenv_free(&envs[i]);
	free(envs);
	return 0;
}

static int
show(const char *qdir, const char *id)
{
	struct qenv e;
	char err[300], p[4096], buf[16384];
	ssize_t n;
	int fd;

	if (queue_load(qdir, id, &e, err, sizeof(err)) == -1) {
		fprintf(stderr, "owlctl: no such message: %s\n", id);
		return 1;
	}
	print_env(&e);
	qenv_free(&e);
	printf("\n");
	fflush(stdout);
	if (queue_msg_path(qdir, id, p, sizeof(p)) == -1 ||
	    (fd = open(p, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "owlctl: %s: %s\n", p, strerror(errno));
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(1, buf, (size_t)n) != n)
			break;
	close(fd);
	return 0;
}

/* hold, release, delete without a daemon: edit the files. */
static int
edit_offline(const char *qdir, const char *verb, const char *id)
{
	struct qenv e;
	char err[300];
	int r;

	if (queue_load(qdir, id, &e, err, sizeof(err)) == -1) {
		fprintf(stderr, "owlctl: no such message: %s\n", id);
		return 1;
	}
	if (strcmp(verb, "delete") == 0) {
		r = queue_remove(qdir, id, err, sizeof(err));
	} else {
		e.held = strcmp(verb, "hold") == 0;
		if (!e.held)
			e.next = 0;
		r = queue_save(qdir, &e, err, sizeof(err));
	}
	qenv_free(&e);
	if (r == -1) {
		fprintf(stderr, "owlctl: %s\n", err);
		return 1;
	}
	printf("ok %s %s (owld not running: files changed)\n", verb, id);
	return 0;
}

int
cmd_queue(const struct conf *c, int argc, char **argv)
{
	char qdir[4096], cmd[128], reply[300];
	const char *verb = argc > 0 ? argv[0] : "";
	int r;

	qdir_of(c, qdir, sizeof(qdir));
	if (strcmp(verb, "list") == 0 && argc <= 2) {
		if (argc == 2 && strcmp(argv[1], "--json") != 0)
			goto usage;
		return list(qdir, argc == 2);
	}
	if (strcmp(verb, "show") == 0 && argc == 2)
		return show(qdir, argv[1]);
	if (strcmp(verb, "flush") == 0 && argc == 1) {
		r = ask_daemon(c, "flush", reply, sizeof(reply));
		if (r == 1) {
			fprintf(stderr, "owlctl: owld is not running (no "
				"answer on %s/owld.sock); it delivers the "
				"queue when it starts\n", c->data_dir);
			return 1;
		}
		printf("%s\n", reply);
		return r == 0 ? 0 : 1;
	}
	if ((strcmp(verb, "delete") == 0 || strcmp(verb, "hold") == 0 ||
	     strcmp(verb, "release") == 0) &&
	    argc == 2) {
		if (!queue_id_valid(argv[1])) {
			fprintf(stderr, "owlctl: no such message: %s\n",
				argv[1]);
			return 1;
		}
		snprintf(cmd, sizeof(cmd), "%s %s", verb, argv[1]);
		r = ask_daemon(c, cmd, reply, sizeof(reply));
		if (r == 1)
			return edit_offline(qdir, verb, argv[1]);
		if (r == -1) {
			fprintf(stderr, "owlctl: %s\n",
				strncmp(reply, "error ", 6) == 0 ? reply + 6
								 : reply);
			return 1;
		}
		printf("%s\n", reply);
		return 0;
	}
usage:
	fprintf(stderr, "usage: owlctl queue list [--json] | show ID | flush "
		"| delete ID | hold ID | release ID\n");
	return 64;
}
