/*
 * pop3load - the POP3 load client of "make bench" (see bench/bench.py).
 *
 *   pop3load -p PORT -w PASS [-r] [-l] [-H] USER...
 *
 * One process per USER, all started together; each logs in with
 * USER/PASS on 127.0.0.1:PORT and then, one command at a time (no
 * pipelining, as a mail client does):
 *   -l  LIST and UIDL, timed together (the mailbox index cost);
 *   -r  RETR 1..n, where n is STAT's count, reading every line;
 *   -H  before QUIT, prints "held" on stdout and waits for a line on
 *       stdin (so that the bench can measure the server mid-session;
 *       one USER only);
 * then QUIT, which deletes nothing.  The parent prints one line:
 *   messages=N bytes=N seconds=S list_seconds=S session_seconds=S
 *   login_seconds=S
 * seconds is the wall time from the first login to the last QUIT's
 * reply over all users; list_seconds is the slowest user's LIST+UIDL;
 * session_seconds the slowest whole session (connect to QUIT's reply,
 * without the -H wait); login_seconds the slowest USER+PASS.
 * Any protocol error is one line on stderr and exit status 1.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RBUF (256 * 1024)

struct rd {
	int fd;
	size_t off, len;
	char buf[RBUF];
};

struct result {
	unsigned long msgs, bytes;
	double list_s, session_s, login_s;
};

static const char *user;

static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pop3load: %s: ", user ? user : "-");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One line without its CRLF, NUL-terminated in place; *len its length. */
static char *
getline_rd(struct rd *r, size_t *len)
{
	for (;;) {
		char *nl = memchr(r->buf + r->off, '\n', r->len - r->off);
		ssize_t n;

		if (nl != NULL) {
			char *line = r->buf + r->off;
			size_t l = (size_t)(nl - line);

			r->off += l + 1;
			if (l > 0 && line[l - 1] == '\r')
				l--;
			line[l] = '\0';
			*len = l;
			return line;
		}
		if (r->off > 0) {
			memmove(r->buf, r->buf + r->off, r->len - r->off);
			r->len -= r->off;
			r->off = 0;
		}
		if (r->len == sizeof(r->buf))
			die("line longer than %d octets", RBUF);
		n = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
		if (n <= 0)
			die("connection closed");
		r->len += (size_t)n;
	}
}

static char *
cmd(struct rd *r, const char *fmt, ...)
{
	char line[512];
	size_t len;
	va_list ap;
	char *reply;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	memcpy(line + n, "\r\n", 2);
	if (write(r->fd, line, (size_t)n + 2) != n + 2)
		die("write failed");
	reply = getline_rd(r, &len);
	if (strncmp(reply, "+OK", 3) != 0) {
		line[n] = '\0';
		die("%s: %s", line, reply);
	}
	return reply;
}

/* Reads a multi-line answer up to "."; returns its octets. */
static unsigned long
multiline(struct rd *r)
{
	unsigned long bytes = 0;
	size_t len;

	for (;;) {
		char *l = getline_rd(r, &len);

		if (len == 1 && l[0] == '.')
			return bytes;
		bytes += len + 2;
	}
}

/* Says "held" and waits for any line on stdin (-H). */
static void
hold(void)
{
	char line[16];

	printf("held\n");
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) == NULL)
		die("no go-ahead on stdin");
}

static struct result
session(int port, const char *pass, int do_list, int do_retr, int do_hold)
{
	static struct rd r;
	struct sockaddr_in sa;
	struct result res = {0, 0, 0, 0, 0};
	unsigned long count, i;
	size_t len;
	int one = 1;
	double t, t0 = now(), held;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r.fd = socket(AF_INET, SOCK_STREAM, 0);
	if (r.fd == -1 ||
	    connect(r.fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
		die("cannot connect to port %d", port);
	setsockopt(r.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (strncmp(getline_rd(&r, &len), "+OK", 3) != 0)
		die("no greeting");
	t = now();
	cmd(&r, "USER %s", user);
	cmd(&r, "PASS %s", pass);
	res.login_s = now() - t;
	if (sscanf(cmd(&r, "STAT"), "+OK %lu", &count) != 1)
		die("STAT answer unreadable");
	if (do_list) {
		t = now();
		cmd(&r, "LIST");
		multiline(&r);
		cmd(&r, "UIDL");
		multiline(&r);
		res.list_s = now() - t;
	}
	if (do_retr)
		for (i = 1; i <= count; i++) {
			cmd(&r, "RETR %lu", i);
			res.bytes += multiline(&r);
			res.msgs++;
		}
	held = now();
	if (do_hold)
		hold();
	held = now() - held;
	cmd(&r, "QUIT");
	res.session_s = now() - t0 - held;
	close(r.fd);
	return res;
}

int
main(int argc, char **argv)
{
	struct result total = {0, 0, 0, 0, 0};
	const char *pass = "pw";
	int port = 0, do_list = 0, do_retr = 0, do_hold = 0, c, fail = 0;
	int pipes[64];
	double t0;
	int i, n;

	while ((c = getopt(argc, argv, "p:w:lrH")) != -1) {
		switch (c) {
		case 'p': port = atoi(optarg); break;
		case 'w': pass = optarg; break;
		case 'l': do_list = 1; break;
		case 'r': do_retr = 1; break;
		case 'H': do_hold = 1; break;
		default: goto usage;
		}
	}
	n = argc - optind;
	if (port <= 0 || n < 1 || n > 64 || (do_hold && n != 1))
		goto usage;
	t0 = now();
	for (i = 0; i < n; i++) {
		int p[2];

		if (pipe(p) == -1)
			die("pipe");
		switch (fork()) {
		case -1:
			die("fork");
			break;
		case 0: {
			struct result res;

			user = argv[optind + i];
			res = session(port, pass, do_list, do_retr,
				      do_hold);
			if (write(p[1], &res, sizeof(res)) != sizeof(res))
				_exit(1);
			_exit(0);
		}
		}
		close(p[1]);
		pipes[i] = p[0];
	}
	for (i = 0; i < n; i++) {
		struct result res;

		if (read(pipes[i], &res, sizeof(res)) != sizeof(res)) {
			fail = 1;
			continue;
		}
		total.msgs += res.msgs;
		total.bytes += res.bytes;
		if (res.list_s > total.list_s)
			total.list_s = res.list_s;
		if (res.session_s > total.session_s)
			total.session_s = res.session_s;
		if (res.login_s > total.login_s)
			total.login_s = res.login_s;
	}
	while (wait(&c) > 0)
		if (!WIFEXITED(c) || WEXITSTATUS(c) != 0)
			fail = 1;
	if (fail)
		return 1;
	printf("messages=%lu bytes=%lu seconds=%.6f list_seconds=%.6f "
	       "session_seconds=%.6f login_seconds=%.6f\n", total.msgs,
	       total.bytes, now() - t0, total.list_s, total.session_s,
	       total.login_s);
	return 0;
usage:
	fprintf(stderr, "usage: pop3load -p PORT [-w PASS] [-l] [-r] [-H] "
		"USER...\n");
	return 64;
}
