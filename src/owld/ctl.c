/*
 * ctl - the control socket, DATA_DIR/owld.sock: owlctl sends one command
 * line ("queue flush", "queue hold ID", ..., "status", "reload") and
 * reads one answer line, "ok ..." or "error ...".  "status" answers
 * key=value words (version, uptime, sessions per protocol, queue, in_1m,
 * out_1m, the certificate's expiry); "reload" does what SIGHUP does
 * (reload.c) and says what it loaded.
 * Only the daemon's own user can reach it (mode 0600 in a 0700
 * directory).  If it cannot be made, owld serves without it and says so
 * in the log (event=control-socket-off, control-socket-failed).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../lib/clock.h"
#include "../lib/log.h"
#include "../net/conn.h"
#include "../net/listen.h"
#include "../net/tls.h"
#include "../relay/relay.h"
#include "check.h"
#include "owld.h"
#include "sess.h"

static struct listener *ctl_listener;
static char ctl_path[PATH_MAX];
static uint64_t ctl_started_ms;	/* for the uptime */

struct ctl_conn {
	struct owld *d;
	struct conn *conn;
};

/* The open sessions of proto ("smtp": inbound and submission). */
static unsigned
ctl_sessions(const struct owld *d, const char *proto)
{
	unsigned n = 0;

	for (const struct sess *s = d->sessions; s != NULL; s = s->next)
		if (strcmp(s->ops->proto, proto) == 0)
			n++;
	return n;
}

/* "status": one line of key=value words. */
static void
ctl_status(struct owld *d, char *reply, size_t size)
{
	char fp[65] = "-", checks[200];
	long long not_after = -1;
	size_t queued;
	uint64_t out_1m;

	relay_stats(d->relay, &queued, &out_1m);
	check_ctx_stats(d->check, checks, sizeof(checks));
	if (d->tls == NULL ||
	    tls_ctx_cert_info(d->tls, &not_after, fp, sizeof(fp)) == -1)
		snprintf(fp, sizeof(fp), "-");
	snprintf(reply, size, "ok version=%s uptime=%llu smtp=%u pop3=%u "
		 "imap=%u queue=%zu in_1m=%llu out_1m=%llu "
		 "cert_not_after=%lld cert_sha256=%s %s", d->version,
		 (unsigned long long)((mono_ms() - ctl_started_ms) / 1000),
		 ctl_sessions(d, "smtp"), ctl_sessions(d, "pop3"),
		 ctl_sessions(d, "imap"), queued,
		 (unsigned long long)rate60_sum(&d->msgs_in, mono_ms() / 1000),
		 (unsigned long long)out_1m, not_after, fp, checks);
}

/* "reload": as SIGHUP; "ok users=..." or "error ... tls=kept ...". */
static void
ctl_reload(struct owld *d, char *reply, size_t size)
{
	char summary[800];

	snprintf(reply, size, "%s %s",
		 owld_reload(d, summary, sizeof(summary)) == 0 ? "ok" : "error",
		 summary);
}

static bool
ctl_line(void *arg, const char *line, size_t len)
{
	struct ctl_conn *c = arg;
	char cmd[256], reply[1024];
	size_t n;

	snprintf(cmd, sizeof(cmd), "%.*s", (int)(len < 255 ? len : 255), line);
	cmd[strcspn(cmd, "\r\n")] = '\0';
	if (strncmp(cmd, "queue ", 6) == 0)
		relay_control(c->d->relay, cmd + 6, reply, sizeof(reply) - 2);
	else if (strcmp(cmd, "status") == 0)
		ctl_status(c->d, reply, sizeof(reply) - 2);
	else if (strcmp(cmd, "reload") == 0)
		ctl_reload(c->d, reply, sizeof(reply) - 2);
	else
		snprintf(reply, sizeof(reply) - 2, "error unknown command");
	n = strlen(reply);
	reply[n++] = '\n'; /* room was kept for it */
	conn_write(c->conn, reply, n);
	conn_close(c->conn, "done");
	return false;
}

static void
ctl_toolong(void *arg)
{
	struct ctl_conn *c = arg;

	conn_close(c->conn, "toolong");
}

static size_t
ctl_max_line(void *arg)
{
	(void)arg;
	return 256;
}

static void
ctl_timeout(void *arg)
{
	struct ctl_conn *c = arg;

	conn_close(c->conn, "timeout");
}

static void
ctl_closed(void *arg, const char *reason)
{
	(void)reason;
	free(arg);
}

static const struct conn_ops ctl_ops = {
	.line = ctl_line, .toolong = ctl_toolong, .max_line = ctl_max_line,
	.timeout = ctl_timeout, .closed = ctl_closed,
};

static void
ctl_accept(int fd, struct sockaddr *sa, socklen_t len, void *arg)
{
	struct ctl_conn *c = xcalloc(1, sizeof(*c));

	(void)sa, (void)len;
	c->d = arg;
	c->conn = conn_new(c->d->base, fd, &ctl_ops, c, 10, 512, 4096);
}

void
owld_ctl_open(struct owld *d)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	ctl_started_ms = mono_ms();
	if (bsnprintf(ctl_path, sizeof(ctl_path), "%s/owld.sock",
		      d->conf->data_dir) == -1 ||
	    strlen(ctl_path) >= sizeof(sun.sun_path)) {
		log_msg(LOGL_WARN, "main", "event=control-socket-off "
			"reason=path-too-long");
		ctl_path[0] = '\0';
		return;
	}
	memcpy(sun.sun_path, ctl_path, strlen(ctl_path) + 1);
	unlink(ctl_path); /* the pid file check said no owld runs here */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(ctl_path, 0600) == -1 || listen(fd, 16) == -1 ||
	    (ctl_listener = listener_new(d->base, fd, ctl_accept, d)) ==
		    NULL) {
		log_msg(LOGL_ERROR, "main", "event=control-socket-failed "
			"path=%s error=\"%s\"", ctl_path, strerror(errno));
		if (fd != -1)
			close(fd);
		ctl_path[0] = '\0';
	}
}

void
owld_ctl_close(void)
{
	listener_free(&ctl_listener);
	if (ctl_path[0] != '\0')
		unlink(ctl_path);
}
