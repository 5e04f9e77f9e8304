/*
 * owld - the owlpost daemon: start-up, signals, graceful stop.
 *
 * Order matters: read the config (exit 78 on a bad key), open the log,
 * bind every listener (as root if need be), daemonize, write the pid
 * file, drop privileges, then start the worker pool and the event loop.
 * SIGTERM/SIGINT: stop accepting, tell each SMTP session 421 and each POP3
 * session -ERR (sessions with a commit, a login or a message text in
 * flight finish that first; POP3 deletes nothing without QUIT), wait for the pool to drain (at
 * most shutdown_grace seconds), exit 0.  SIGHUP: reopen the log, re-read
 * the users file.  Nothing acknowledged is lost on any of these paths
 * because 250 is only said after the commit is durable.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <grp.h>
#include <openssl/ssl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../auth/penalty.h"
#include "../lib/buf.h"
#include "../lib/log.h"
#include "../net/anvil.h"
#include "../net/conn.h"
#include "../net/listen.h"
#include "../net/tls.h"
#include "../relay/relay.h"
#include "../store/fsops.h"
#include "owld.h"

#define OWL_VERSION "0.1.0"

static struct owld D;
static struct conf C;
/* The listeners, in the order they are bound: key, log name, acceptor. */
static const struct {
	const char *key, *proto;
	char *const *spec;	/* the key's value in C */
	bool tls;		/* implicit TLS */
	listen_accept_fn *fn;
} KINDS[] = {
	{"smtp.listen", "smtp", &C.smtp_listen, false, smtp_sess_accept},
	{"submission.listen", "submission", &C.submission_listen, false,
	 smtp_sess_accept_submission},
	{"submissions.listen", "submissions", &C.submissions_listen, true,
	 smtp_sess_accept_submissions},
	{"pop3.listen", "pop3", &C.pop3_listen, false, pop3_sess_accept},
	{"pop3s.listen", "pop3s", &C.pop3s_listen, true, pop3_sess_accept_tls},
};
#define NKINDS (sizeof(KINDS) / sizeof(KINDS[0]))

static struct listener **listeners;
static size_t nlisteners;
static struct event *pool_ev, *grace_ev;
static bool pidfile_written;

uint64_t
owld_new_id(void)
{
	static uint64_t next;

	if (next == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		/* time-based start: ids differ across restarts too */
		next = ((uint64_t)ts.tv_sec << 24) ^ (uint64_t)ts.tv_nsec;
	}
	return next++;
}

/*
 * The mailbox a login name means: "user@domain" as it is, or a bare
 * local part when exactly one local domain has that user.  Returns false
 * if the name cannot be a user at all (no lookup then).
 */
bool
owld_login_name(struct owld *d, const char *given, char *out, size_t size)
{
	const struct conf *c = d->conf;
	char name[ADDR_PATH_MAX + 2], dom[ADDR_DOMAIN_MAX + 1];
	int found = 0;

	if (strchr(given, '@') != NULL) {
		if (users_normalize(given, out, size) == 0)
			return true;
		snprintf(out, size, "%s", given); /* for the log */
		return false;
	}
	for (size_t i = 0; conf_domain(c, i, dom, sizeof(dom)); i++) {
		char canon[ADDR_PATH_MAX + 1];

		if (bsnprintf(name, sizeof(name), "%s@%s", given, dom) != -1 &&
		    users_normalize(name, canon, sizeof(canon)) == 0 &&
		    users_lookup(d->users, canon) != NULL &&
		    found++ == 0)
			snprintf(out, size, "%s", canon);
	}
	if (found == 1)
		return true;
	/* none or ambiguous: fails like an unknown user */
	snprintf(out, size, "%s", given);
	return false;
}

void
owld_cred_prepare(struct owld *d, struct owld_cred *c, const char *given,
		  const char *pass)
{
	const char *hash = NULL, *err;

	/* a failed re-read keeps the last good copy (and logs itself) */
	c->temp = users_refresh(d->users, &err) == -1;
	if (owld_login_name(d, given, c->user, sizeof(c->user)))
		hash = users_lookup(d->users, c->user);
	c->exists = hash != NULL;
	if (hash != NULL)
		snprintf(c->hash, sizeof(c->hash), "%s", hash);
	snprintf(c->pass, sizeof(c->pass), "%s", pass);
}

void
owld_cred_check(struct owld_cred *c)
{
	c->ok = users_verify(c->exists ? c->hash : users_dummy_hash(),
			     c->pass) &&
		c->exists;
	explicit_bzero(c->pass, sizeof(c->pass));
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A secret hash seed for the per-client tables (hash flooding). */
static uint64_t
table_seed(void)
{
	uint64_t seed;

	if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		seed = owld_new_id() ^ (uint64_t)getpid() << 32;
	return seed;
}

const char *
owld_admit(struct owld *d, const char *peer)
{
	static char why[64];
	unsigned n;

	switch (anvil_connect(d->anvil, peer, mono_ms() / 1000, &n)) {
	case ANVIL_OK:
		return NULL;
	case ANVIL_TOO_MANY:
		snprintf(why, sizeof(why), "per-ip-limit sessions=%u", n);
		return why;
	case ANVIL_TOO_FAST:
		snprintf(why, sizeof(why), "rate-limit connections=%u/min", n);
		return why;
	}
	abort();
}

void
owld_release(struct owld *d, const char *peer)
{
	anvil_disconnect(d->anvil, peer);
}

struct event *
owld_penalty_wait(struct owld *d, const char *proto, const char *id,
		  const char *peer, const char *user, bool *logged,
		  void (*cb)(int, short, void *), void *arg)
{
	uint64_t now = mono_ms(), nb, wait;
	unsigned fails;
	struct timeval tv;
	struct event *ev;
	char q[600];

	nb = penalty_not_before(d->penalty, peer, user, now, &fails);
	if (nb <= now)
		return NULL;
	wait = nb - now;
	if (!*logged)
		log_msg(LOGL_WARN, proto, "id=%s peer=%s event=auth-penalty "
			"user=%s failures=%u delay=%llums", id, peer,
			log_q(q, sizeof(q), user), fails,
			(unsigned long long)wait);
	*logged = true;
	tv.tv_sec = (time_t)(wait / 1000);
	tv.tv_usec = (suseconds_t)(wait % 1000) * 1000;
	ev = evtimer_new(d->base, cb, arg);
	evtimer_add(ev, &tv);
	return ev;
}

void
owld_penalty_record(struct owld *d, const char *peer, const char *user,
		    bool ok)
{
	if (ok)
		penalty_succeeded(d->penalty, peer, user);
	else
		penalty_failed(d->penalty, peer, user, mono_ms());
}

struct event *
owld_fail_delay(struct owld *d, void (*cb)(int, short, void *), void *arg)
{
	struct timeval tv = {
		.tv_sec = d->conf->auth_fail_delay / 1000,
		.tv_usec = (d->conf->auth_fail_delay % 1000) * 1000,
	};
	struct event *ev = evtimer_new(d->base, cb, arg);

	evtimer_add(ev, &tv);
	return ev;
}

void
owld_trace_out(const char *proto, const char *id, const struct buf *out)
{
	if (log_trace_enabled()) {
		const char *p = out->data, *end = p + out->len;

		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) + 1
				      : (size_t)(end - p);

			log_trace(proto, id, 'S', p, n);
			p += n;
		}
	}
}

void
owld_send(struct conn *c, const char *proto, const char *id, struct buf *out)
{
	if (out->len == 0)
		return;
	owld_trace_out(proto, id, out);
	conn_write(c, out->data, out->len);
	buf_reset(out);
}

/*
 * The control socket, DATA_DIR/owld.sock: owlctl sends one command line
 * ("queue flush", "queue hold ID", ...) and reads one answer line.  Only
 * the daemon's own user can reach it (mode 0600 in a 0700 directory).
 */
static struct listener *ctl_listener;
static char ctl_path[PATH_MAX];

struct ctl_conn {
	struct owld *d;
	struct conn *conn;
};

static bool
ctl_line(void *arg, const char *line, size_t len)
{
	struct ctl_conn *c = arg;
	char cmd[256], reply[300];

	snprintf(cmd, sizeof(cmd), "%.*s", (int)(len < 255 ? len : 255), line);
	cmd[strcspn(cmd, "\r\n")] = '\0';
	if (strncmp(cmd, "queue ", 6) == 0)
		relay_control(c->d->relay, cmd + 6, reply, sizeof(reply) - 2);
	else
		snprintf(reply, sizeof(reply) - 2, "error unknown command");
	strcat(reply, "\n");
	conn_write(c->conn, reply, strlen(reply));
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

static void
ctl_open(struct owld *d)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

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

static void
ctl_close(void)
{
	listener_free(&ctl_listener);
	if (ctl_path[0] != '\0')
		unlink(ctl_path);
}

static void
usage(FILE *fp)
{
	fprintf(fp,
		"usage: owld [-dvhV] [-c FILE] [-D DIR] [-o key=value]...\n"
		"  -c FILE       read the configuration file FILE\n"
		"  -D DIR        data directory (default ./owl-data)\n"
		"  -o key=value  set a configuration key (repeatable)\n"
		"  -v            log the protocol trace\n"
		"  -d            run in the background (pid file)\n"
		"  -V            print the version\n"
		"See owld(8) and README.md for the configuration keys.\n");
}

static void
die_config(const char *msg)
{
	fprintf(stderr, "owld: %s\n", msg);
	exit(EX_CONFIG_CODE);
}

void
owld_check_stopped(struct owld *d)
{
	if (d->stopping && d->nsessions == 0 && d->npop3 == 0 &&
	    !relay_busy(d->relay) && wpool_pending(d->pool) == 0)
		event_base_loopbreak(d->base);
}

static void
pool_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	wpool_complete(((struct owld *)arg)->pool);
}

static void
grace_cb(evutil_socket_t fd, short what, void *arg)
{
	struct owld *d = arg;

	(void)fd, (void)what;
	log_msg(LOGL_WARN, "main", "event=stop-forced sessions=%u jobs=%zu",
		d->nsessions + d->npop3, wpool_pending(d->pool));
	event_base_loopbreak(d->base);
}

static void
stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct owld *d = arg;
	struct timeval tv = {.tv_sec = d->conf->shutdown_grace};

	(void)what;
	if (d->stopping)
		return;
	log_msg(LOGL_INFO, "main", "event=stopping signal=%s sessions=%u",
		sig == SIGTERM ? "TERM" : "INT", d->nsessions + d->npop3);
	d->stopping = true;
	for (size_t i = 0; i < nlisteners; i++)
		listener_free(&listeners[i]);
	smtp_sess_shutdown_all(d);
	pop3_sess_shutdown_all(d);
	relay_shutdown(d->relay);
	grace_ev = evtimer_new(d->base, grace_cb, d);
	evtimer_add(grace_ev, &tv);
	owld_check_stopped(d);
}

static void
hup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct owld *d = arg;
	const char *err;

	(void)sig, (void)what;
	log_reopen();
	/* each logs what it loaded, or why it kept the last good copy */
	(void)users_refresh(d->users, &err);
	(void)aliases_refresh(d->aliases, &err);
	log_msg(LOGL_INFO, "main", "event=reload");
}

/*
 * The users and aliases files at start-up: each logs what it loaded and
 * every line it skipped (auth event=users-loaded, users-line-skipped).  A
 * users file that cannot be used is said on stderr too: local mail gets
 * 451 until it is fixed, never 550.
 */
static void
load_tables(struct owld *d)
{
	struct stat sb;
	const char *e;
	bool missing = stat(d->conf->users_file, &sb) == -1 &&
		       errno == ENOENT; /* a new installation */

	d->users = users_new(d->conf->users_file);
	d->aliases = aliases_new(d->conf->aliases_file);
	if (users_refresh(d->users, &e) == -1 && !missing)
		fprintf(stderr, "owld: %s; local recipients get 451 until it "
			"is fixed\n", e);
	if (aliases_refresh(d->aliases, &e) == -1)
		fprintf(stderr, "owld: %s; recipients that are not users get "
			"451 until it is fixed\n", e);
}

static void
mkdir_or_die(const char *path)
{
	if (mkdir(path, 0700) == -1 && errno != EEXIST) {
		fprintf(stderr, "owld: cannot create %s: %s\n", path,
			strerror(errno));
		exit(73); /* EX_CANTCREAT */
	}
}

static void
check_pidfile(const char *path)
{
	FILE *fp = fopen(path, "r");
	long pid;

	if (fp == NULL)
		return;
	if (fscanf(fp, "%ld", &pid) == 1 && pid > 0 &&
	    kill((pid_t)pid, 0) == 0 && pid != getpid()) {
		fprintf(stderr, "owld: already running as pid %ld (%s)\n", pid,
			path);
		exit(75); /* EX_TEMPFAIL */
	}
	fclose(fp);
}

static void
write_pidfile(const char *path)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL || fprintf(fp, "%ld\n", (long)getpid()) < 0 ||
	    fclose(fp) != 0) {
		fprintf(stderr, "owld: cannot write %s: %s\n", path,
			strerror(errno));
		exit(73);
	}
	pidfile_written = true;
}

static void
daemonize(void)
{
	pid_t pid = fork();
	int fd;

	if (pid == -1) {
		perror("owld: fork");
		exit(71);
	}
	if (pid > 0)
		_exit(0);
	setsid();
	fd = open("/dev/null", O_RDWR);
	if (fd != -1) {
		dup2(fd, 0);
		dup2(fd, 1);
		close(fd);
	}
	dup2(log_fd(), 2);
}

/*
 * Each connection holds a socket, and a POP3 session streaming a message
 * one more descriptor; the usual soft limit of 1024 would make accept()
 * fail with EMFILE long before max_connections.  Raise the soft limit to
 * what the configuration needs, up to the hard limit, which is the
 * administrator's (systemd's LimitNOFILE=, limits.conf) and left alone;
 * if it is too low, say so and serve with what there is.
 */
static void
raise_nofile(const struct conf *c)
{
	rlim_t need = (rlim_t)c->max_connections * 2 + c->relay_max_conns +
		      c->workers * 4 + 64;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= need)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need
			      ? need
			      : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur < need)
		log_msg(LOGL_WARN, "owld", "event=nofile-limit limit=%llu "
			"needed=%llu max_connections=%u",
			(unsigned long long)rl.rlim_cur,
			(unsigned long long)need, c->max_connections);
}

/* Root with user= set: hand the data dir over, then become that user. */
static void
drop_privileges(const struct conf *c)
{
	struct passwd *pw;
	char mail[PATH_MAX];

	if (geteuid() != 0)
		return;
	if (c->user == NULL || c->user[0] == '\0') {
		log_msg(LOGL_WARN, "main", "event=running-as-root "
			"hint=\"set user= to drop privileges\"");
		return;
	}
	if ((pw = getpwnam(c->user)) == NULL) {
		fprintf(stderr, "owld: unknown user '%s' (key 'user')\n",
			c->user);
		exit(EX_CONFIG_CODE);
	}
	/* the daemon's own files: data dir, mail dir, users file, pid file */
	snprintf(mail, sizeof(mail), "%s/mail", c->data_dir);
	mkdir(mail, 0700);
	const char *own[] = {c->data_dir, mail, c->users_file,
			     c->aliases_file,
			     pidfile_written ? c->pid_file : NULL};
	for (size_t i = 0; i < sizeof(own) / sizeof(*own); i++) {
		if (own[i] == NULL ||
		    chown(own[i], pw->pw_uid, pw->pw_gid) == 0 ||
		    errno == ENOENT)
			continue;
		fprintf(stderr, "owld: chown %s: %s\n", own[i],
			strerror(errno));
		exit(77);
	}
	if (initgroups(pw->pw_name, pw->pw_gid) == -1 ||
	    setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1) {
		fprintf(stderr, "owld: cannot become %s: %s\n", c->user,
			strerror(errno));
		exit(77); /* EX_NOPERM */
	}
	if (setuid(0) == 0) {
		fprintf(stderr, "owld: privilege drop failed\n");
		abort();
	}
	log_msg(LOGL_INFO, "main", "event=privileges-dropped user=%s uid=%ld",
		c->user, (long)pw->pw_uid);
}

int
main(int argc, char **argv)
{
	char err[512], path[PATH_MAX], **opts = NULL, *cfile = NULL;
	char *ddir = NULL;
	size_t nopts = 0;
	int *fds = NULL, ch;
	size_t nfds = 0, kind_end[NKINDS];
	bool daemon = false, verbose = false;
	const char *e, *fault;
	struct event *sigs[3];

	conf_init(&C);
	while ((ch = getopt(argc, argv, "c:D:o:vdhV")) != -1) {
		switch (ch) {
		case 'c': cfile = optarg; break;
		case 'D': ddir = optarg; break;
		case 'o':
			opts = xrealloc(opts, (nopts + 1) * sizeof(*opts));
			opts[nopts++] = optarg;
			break;
		case 'v': verbose = true; break;
		case 'd': daemon = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("owld %s\n", OWL_VERSION); return 0;
		default: usage(stderr); return 64;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 64;
	}
	if (conf_apply(&C, cfile, opts, nopts, ddir, err, sizeof(err)) == -1)
		die_config(err);
	free(opts);
	mkdir_or_die(C.data_dir);
	if (realpath(C.data_dir, path) != NULL) {
		free(C.data_dir);
		C.data_dir = xstrdup(path);
	}
	conf_finish(&C);
	if ((fault = getenv("OWLPOST_FAULT")) != NULL &&
	    fsops_inject_spec(fault) == -1)
		die_config("bad OWLPOST_FAULT value");
	if (daemon && C.log_file[0] == '\0') {
		free(C.log_file);
		snprintf(path, sizeof(path), "%s/owld.log", C.data_dir);
		C.log_file = xstrdup(path);
	}
	if (log_open(C.log_file, &e) == -1) {
		fprintf(stderr, "owld: cannot open log.file %s: %s\n",
			C.log_file, e);
		return EX_CONFIG_CODE;
	}
	log_set_trace(verbose);
	/* the key may be readable by root only: load it before the drop */
	if (C.tls_cert[0] != '\0' || C.tls_key[0] != '\0') {
		if ((D.tls = tls_server_ctx(&C, err, sizeof(err))) == NULL) {
			fprintf(stderr, "owld: %s\n", err);
			return EX_CONFIG_CODE;
		}
	}
	for (size_t k = 0; k < NKINDS; k++) {
		const char *spec = *KINDS[k].spec;

		if (KINDS[k].tls && spec[0] != '\0' && D.tls == NULL) {
			fprintf(stderr, "owld: %s needs tls.cert and tls.key\n",
				KINDS[k].key);
			return EX_CONFIG_CODE;
		}
		if (listen_bind(spec, &fds, &nfds, err, sizeof(err)) == -1) {
			fprintf(stderr, "owld: %s: %s\n", KINDS[k].key, err);
			return 71; /* EX_OSERR */
		}
		kind_end[k] = nfds;
	}
	check_pidfile(C.pid_file);
	if (daemon)
		daemonize();
	write_pidfile(C.pid_file);
	raise_nofile(&C);
	drop_privileges(&C);
	signal(SIGPIPE, SIG_IGN);

	D.conf = &C;
	D.anvil = anvil_new(C.max_connections, C.max_conns_per_ip,
			    C.conn_rate_limit, table_seed());
	D.penalty = penalty_new(C.auth_fail_delay, C.auth_penalty_max_delay,
				C.auth_penalty_window, table_seed());
	D.smtp_conf = (struct smtp_conf){
		.hostname = C.hostname,
		.max_size = C.smtp_max_size,
		.max_rcpts = C.smtp_max_rcpts,
		.max_errors = C.smtp_max_errors,
		.max_line = C.smtp_max_line,
		.bare_newline = strcmp(C.smtp_bare_newline, "reject") == 0
					? SMTP_BARE_REJECT
					: SMTP_BARE_NORMALIZE,
		.vrfy = strcmp(C.smtp_vrfy, "yes") == 0,
	};
	D.smtp_conf.starttls = D.tls != NULL;
	D.sub_conf = D.smtp_conf;
	D.sub_conf.auth = true;
	D.sub_conf.max_auth_failures = C.auth_max_failures;
	D.pop3_conf = (struct pop3_conf){
		.hostname = C.hostname,
		.max_errors = C.pop3_max_errors,
		.max_auth_failures = C.auth_max_failures,
		.stls = D.tls != NULL,
	};
	snprintf(path, sizeof(path), "%s/mail", C.data_dir);
	if ((D.store = store_new(C.mailbox_format, path, C.hostname, &e)) ==
	    NULL) {
		fprintf(stderr, "owld: cannot create %s: %s\n", path, e);
		return 73;
	}
	load_tables(&D);
	if ((D.pool = wpool_new(C.workers, &e)) == NULL) {
		fprintf(stderr, "owld: worker pool: %s\n", e);
		return 71;
	}
	D.base = event_base_new();
	if (D.base == NULL) {
		fprintf(stderr, "owld: event_base_new failed\n");
		return 71;
	}
	pool_ev = event_new(D.base, wpool_fd(D.pool), EV_READ | EV_PERSIST,
			    pool_cb, &D);
	event_add(pool_ev, NULL);
	sigs[0] = evsignal_new(D.base, SIGTERM, stop_cb, &D);
	sigs[1] = evsignal_new(D.base, SIGINT, stop_cb, &D);
	sigs[2] = evsignal_new(D.base, SIGHUP, hup_cb, &D);
	for (int i = 0; i < 3; i++)
		event_add(sigs[i], NULL);
	snprintf(path, sizeof(path), "%s/queue", C.data_dir);
	D.qdir = xstrdup(path);
	if ((D.relay = relay_new(&D, err, sizeof(err))) == NULL) {
		fprintf(stderr, "owld: queue: %s\n", err);
		return 73;
	}
	ctl_open(&D);
	listeners = xcalloc(nfds, sizeof(*listeners));
	log_msg(LOGL_INFO, "main", "event=start version=%s pid=%ld "
		"data_dir=%s format=%s users=%zu aliases=%zu%s", OWL_VERSION,
		(long)getpid(), C.data_dir,
		C.mailbox_format == MBOX_FMT_MBOX ? "mbox" : "maildir",
		users_count(D.users), aliases_count(D.aliases),
		users_ready(D.users) ? "" : " users_file=unusable");
	for (size_t i = 0, k = 0; i < nfds; i++) {
		char name[80];

		while (i >= kind_end[k])
			k++;
		listeners[i] = listener_new(D.base, fds[i], KINDS[k].fn, &D);
		if (listeners[i] == NULL) {
			fprintf(stderr, "owld: cannot listen\n");
			return 71;
		}
		listen_local_name(fds[i], name, sizeof(name));
		log_msg(LOGL_INFO, "main", "event=listen proto=%s addr=%s",
			KINDS[k].proto, name);
	}
	nlisteners = nfds;
	free(fds);
	if (users_count(D.users) == 0 && !daemon &&
	    (users_ready(D.users) || access(C.users_file, F_OK) == -1)) {
		/* name owlctl as this owld was named: build/owlctl, owlctl */
		const char *slash = strrchr(argv[0], '/');

		fprintf(stderr, "owld: no users yet; add one with:\n"
			"  %.*sowlctl -D %s user add alice@%s\n",
			slash ? (int)(slash - argv[0] + 1) : 0, argv[0],
			C.data_dir, conf_first_domain(&C, err, sizeof(err)));
	}

	event_base_dispatch(D.base);

	/* stopped: let in-flight commits finish, then clean up */
	for (size_t i = 0; i < nlisteners; i++)
		listener_free(&listeners[i]);
	free(listeners);
	wpool_free(&D.pool);
	ctl_close();
	relay_free(&D.relay);
	free(D.qdir);
	log_msg(LOGL_INFO, "main", "event=stopped");
	for (int i = 0; i < 3; i++)
		event_free(sigs[i]);
	event_free(pool_ev);
	if (grace_ev != NULL)
		event_free(grace_ev);
	if (pidfile_written)
		unlink(C.pid_file);
	users_free(&D.users);
	aliases_free(&D.aliases);
	anvil_free(&D.anvil);
	penalty_free(&D.penalty);
	store_free(&D.store);
	SSL_CTX_free(D.tls);
	conf_free(&C);
	event_base_free(D.base);
	return 0;
}
