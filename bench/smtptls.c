/*
 * smtptls - the STARTTLS load client of "make bench" section 8 (see
 * bench/outbound.py): the Python clients it replaces used a whole core
 * and bounded the rate they measured.
 *
 *   smtptls -p PORT -t RCPT -s SESSIONS -c CONNS -m PER_CONN
 *
 * SESSIONS threads, started together; each makes CONNS connections to
 * 127.0.0.1:PORT one after another: EHLO, STARTTLS, the handshake
 * (offering the session its previous connection ended with, as an MTA
 * with a session cache does), EHLO, then PER_CONN messages of 5 KB
 * (MAIL, RCPT, DATA one command at a time), QUIT.  The certificate is not
 * checked (loopback, a test key).  Prints one line:
 *   messages=N connections=N resumed=N seconds=S
 * seconds from the first connection to the last QUIT's reply.  Any
 * protocol or TLS error is one line on stderr and exit status 1.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct opts {
	int port;
	const char *rcpt;
	int sessions, conns, per_conn;
};

struct worker {
	pthread_t th;
	const struct opts *o;
	SSL_CTX *ctx;
	int msgs, resumed, conns;
	int failed;
	SSL_SESSION *latest;	/* the last ticket the server sent */
};

static char body[6000];
static size_t body_len;

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("smtptls: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* One connection's reading side, plain or TLS. */
struct link {
	int fd;
	SSL *ssl;
	char buf[4096];
	size_t off, len;
};

static int
link_fill(struct link *l)
{
	ssize_t n;

	l->off = 0;
	if (l->ssl != NULL) {
		int r = SSL_read(l->ssl, l->buf, sizeof(l->buf));

		n = r > 0 ? r : -1;
	} else {
		n = read(l->fd, l->buf, sizeof(l->buf));
	}
	if (n <= 0)
		return -1;
	l->len = (size_t)n;
	return 0;
}

/* The last line of one reply (continuation lines skipped), into line. */
static int
reply(struct link *l, char *line, size_t size)
{
	for (;;) {
		size_t n = 0;

		for (;;) {
			char c;

			if (l->off == l->len && link_fill(l) == -1)
				return -1;
			c = l->buf[l->off++];
			if (c == '\n')
				break;
			if (n + 1 < size)
				line[n++] = c;
		}
		line[n] = '\0';
		if (n < 4 || line[3] != '-')
			return 0;
	}
}

static int
send_all(struct link *l, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w;

		if (l->ssl != NULL) {
			int r = SSL_write(l->ssl, p, (int)n);

			w = r > 0 ? r : -1;
		} else {
			w = write(l->fd, p, n);
		}
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Sends cmd (may be NULL) and wants a reply starting with code. */
static int
step(struct link *l, const char *cmd, const char *code)
{
	char line[512];

	if (cmd != NULL && send_all(l, cmd, strlen(cmd)) == -1)
		return -1;
	if (reply(l, line, sizeof(line)) == -1)
		return -1;
	if (strncmp(line, code, 3) != 0) {
		fprintf(stderr, "smtptls: wanted %s after %s, got %s\n", code,
			cmd ? cmd : "connect", line);
		return -1;
	}
	return 0;
}

static int
connect_local(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	/* the handshake's last flight and EHLO: no Nagle wait between */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* The messages of one connection, after its EHLO under TLS. */
static int
messages(struct worker *w, struct link *l)
{
	char env[600];

	snprintf(env, sizeof(env), "MAIL FROM:<bench@example.org>\r\n");
	for (int i = 0; i < w->o->per_conn; i++) {
		char rcpt[600];

		snprintf(rcpt, sizeof(rcpt), "RCPT TO:<%s>\r\n", w->o->rcpt);
		if (step(l, env, "250") == -1 || step(l, rcpt, "250") == -1 ||
		    step(l, "DATA\r\n", "354") == -1 ||
		    send_all(l, body, body_len) == -1 ||
		    step(l, NULL, "250") == -1)
			return -1;
		w->msgs++;
	}
	return 0;
}

/*
 * A session (a TLS 1.3 ticket) the server sent: kept as the one to offer
 * next.  Tickets are single-use at many servers, so the latest counts.
 */
static int
new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct worker *w = SSL_get_app_data(ssl);

	SSL_SESSION_free(w->latest);
	w->latest = sess;
	return 1;	/* ours now */
}

/* One connection; *sess is the session to offer, and then the new one. */
static int
one_connection(struct worker *w, SSL_SESSION **sess)
{
	struct link l = {.fd = connect_local(w->o->port)};
	int rc = -1;

	if (l.fd == -1)
		return -1;
	if (step(&l, NULL, "220") == -1 ||
	    step(&l, "EHLO client.bench.test\r\n", "250") == -1 ||
	    step(&l, "STARTTLS\r\n", "220") == -1 || l.off != l.len)
		goto out;
	l.ssl = SSL_new(w->ctx);
	SSL_set_app_data(l.ssl, w);
	SSL_set_fd(l.ssl, l.fd);
	if (*sess != NULL)
		SSL_set_session(l.ssl, *sess);
	if (SSL_connect(l.ssl) != 1)
		goto out;
	w->resumed += SSL_session_reused(l.ssl);
	if (step(&l, "EHLO client.bench.test\r\n", "250") == -1 ||
	    messages(w, &l) == -1 || step(&l, "QUIT\r\n", "221") == -1)
		goto out;
	/* TLS 1.3 tickets arrive after the handshake (new_session) */
	if (w->latest == NULL)	/* none came: this one's, as Python's */
		w->latest = SSL_get1_session(l.ssl);
	if (w->latest != NULL) {
		SSL_SESSION_free(*sess);
		*sess = w->latest;
		w->latest = NULL;
	}
	rc = 0;
out:
	if (l.ssl != NULL) {
		SSL_shutdown(l.ssl);
		SSL_free(l.ssl);
	}
	close(l.fd);
	return rc;
}

static void *
run(void *arg)
{
	struct worker *w = arg;
	SSL_SESSION *sess = NULL;

	for (int c = 0; c < w->o->conns; c++) {
		if (one_connection(w, &sess) == -1) {
			w->failed = 1;
			break;
		}
		w->conns++;
	}
	SSL_SESSION_free(sess);
	SSL_SESSION_free(w->latest);
	return NULL;
}

static void
make_body(const char *rcpt)
{
	size_t n = (size_t)snprintf(body, sizeof(body),
				    "From: bench@example.org\r\nTo: %s\r\n"
				    "Subject: bench\r\n\r\n", rcpt);

	for (int i = 0; n < 4950; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n,
				      "Line %04d of the benchmark message, 5 KB "
				      "in all.......\r\n", i);
	n += (size_t)snprintf(body + n, sizeof(body) - n, ".\r\n");
	body_len = n;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	struct opts o = {.sessions = 10, .conns = 1, .per_conn = 1};
	struct worker *ws;
	SSL_CTX *ctx;
	double t0, t1;
	int ch, msgs = 0, resumed = 0, conns = 0;

	while ((ch = getopt(argc, argv, "p:t:s:c:m:")) != -1) {
		switch (ch) {
		case 'p': o.port = atoi(optarg); break;
		case 't': o.rcpt = optarg; break;
		case 's': o.sessions = atoi(optarg); break;
		case 'c': o.conns = atoi(optarg); break;
		case 'm': o.per_conn = atoi(optarg); break;
		default: die("usage: smtptls -p PORT -t RCPT -s N -c N -m N");
		}
	}
	if (o.port <= 0 || o.rcpt == NULL || strlen(o.rcpt) > 500 ||
	    o.sessions <= 0 || o.conns <= 0 || o.per_conn <= 0)
		die("usage: smtptls -p PORT -t RCPT -s N -c N -m N");
	make_body(o.rcpt);
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		die("SSL_CTX_new failed");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
					   SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, new_session);
	ws = calloc((size_t)o.sessions, sizeof(*ws));
	t0 = now();
	for (int i = 0; i < o.sessions; i++) {
		ws[i] = (struct worker){.o = &o, .ctx = ctx};
		if (pthread_create(&ws[i].th, NULL, run, &ws[i]) != 0)
			die("pthread_create failed");
	}
	for (int i = 0; i < o.sessions; i++) {
		pthread_join(ws[i].th, NULL);
		if (ws[i].failed)
			die("session %d failed after %d connections", i,
			    ws[i].conns);
		msgs += ws[i].msgs;
		resumed += ws[i].resumed;
		conns += ws[i].conns;
	}
	t1 = now();
	printf("messages=%d connections=%d resumed=%d seconds=%.6f\n", msgs,
	       conns, resumed, t1 - t0);
	free(ws);
	SSL_CTX_free(ctx);
	return 0;
}
