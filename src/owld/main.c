/*
 * owld - the owlpost daemon: start-up, signals, graceful stop.  The
 * helpers the sessions share are in daemon.c, the session base in sess.c,
 * the control socket in ctl.c.
 *
 * Order matters, and main() is that order, one named step each: read the
 * command line and the config (exit 78 on a bad key), open the log, load
 * the TLS key, bind every listener (as root if need be), daemonize, write
 * the pid file, drop privileges, open the store, users and aliases, start
 * the worker pool and the event loop, load the queue, listen, serve.
 * SIGTERM/SIGINT: stop accepting, tell each SMTP session 421, each POP3
 * session -ERR and each IMAP session BYE (sessions with a commit, a login,
 * a message text or an IMAP command in flight finish that first; POP3
 * deletes nothing without QUIT), wait for
 * the pool to drain (at most shutdown_grace seconds), exit 0.  SIGHUP:
 * reopen the log, re-read the users and aliases files, reload the TLS
 * pair (reload.c).  systemd hears READY=1 once clients are served,
 * STOPPING=1 at a stop (notify.c).  Nothing acknowledged is lost on
 * any of these paths because 250 is only said after the commit is durable.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <openssl/ssl.h>
#include <limits.h>
#include <malloc.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../auth/penalty.h"
#include "../lib/buf.h"
#include "../lib/log.h"
#include "../net/anvil.h"
#include "../net/conn.h"
#include "../net/listen.h"
#include "../net/watch.h"
#include "../net/tls.h"
#include "../relay/relay.h"
#include "../relay/bounce.h"
#include "../relay/signer.h"
#include "../store/fsops.h"
#include "../msgauth/dkim.h"
#include "check.h"
#include "owld.h"
#include "sess.h"

#include "../lib/version.h"

#define OWL_VERSION OWLPOST_VERSION

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
	{"imap.listen", "imap", &C.imap_listen, false, imap_sess_accept},
	{"imaps.listen", "imaps", &C.imaps_listen, true, imap_sess_accept_tls},
};
#define NKINDS (sizeof(KINDS) / sizeof(KINDS[0]))

static struct listener **listeners;
static size_t nlisteners;
static struct event *pool_ev, *grace_ev;
static bool pidfile_written;

/* A secret hash seed for the per-client tables (hash flooding). */
static uint64_t
table_seed(void)
{
	uint64_t seed;

	if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		seed = owld_new_id() ^ (uint64_t)getpid() << 32;
	return seed;
}

static void
usage(FILE *fp)
{
	fprintf(fp,
		"usage: owld [-dvhV] [-c FILE] [-D DIR] [-o key=value]...\n"
		"       owld --help | --version\n"
		"  -c FILE       read the configuration file FILE\n"
		"  -D DIR        data directory (default ./owl-data)\n"
		"  -o key=value  set a configuration key (repeatable)\n"
		"  -v            log the protocol trace\n"
		"  -d            run in the background (pid file)\n"
		"  -h, --help    print this and exit\n"
		"  -V, --version print the version and exit\n"
		"See owld(8) and README.md for the configuration keys.\n");
}

static void
die_config(const char *msg)
{
	fprintf(stderr, "owld: %s\n", msg);
	exit(EX_CONFIG_CODE);
}

/* The relay's stop check: a delivery or a queue job of its ended. */
static void
relay_check_stopped(void *arg)
{
	owld_check_stopped(arg);
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
		d->nsessions, wpool_pending(d->pool));
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
		sig == SIGTERM ? "TERM" : "INT", d->nsessions);
	owld_notify("STOPPING=1");
	d->stopping = true;
	for (size_t i = 0; i < nlisteners; i++)
		listener_free(&listeners[i]);
	sess_shutdown_all(d);
	relay_shutdown(d->relay);
	grace_ev = evtimer_new(d->base, grace_cb, d);
	evtimer_add(grace_ev, &tv);
	owld_check_stopped(d);
}

/* SIGHUP: the log, the users and aliases files, the TLS pair (reload.c). */
static void
hup_cb(evutil_socket_t sig, short what, void *arg)
{
	char summary[800];

	(void)sig, (void)what;
	(void)owld_reload(arg, summary, sizeof(summary));
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
	rlim_t need = ((rlim_t)c->max_connections + c->imap_max_connections) *
			      2 + c->relay_max_conns + c->workers * 4 + 64;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= need)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need
			      ? need
			      : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur < need)
		log_msg(LOGL_WARN, "owld", "event=nofile-limit limit=%llu "
			"needed=%llu max_connections=%u "
			"imap.max_connections=%u",
			(unsigned long long)rl.rlim_cur,
			(unsigned long long)need, c->max_connections,
			c->imap_max_connections);
}

/* Root with user= set: hand the data dir over, then become that user. */
static void
drop_privileges(const struct conf *c)
{
	struct passwd *pw;

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
	mkdir(c->mailbox_dir, 0700);
	const char *own[] = {c->data_dir, c->mailbox_dir, c->users_file,
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

/* The command line. */
struct opts {
	char *cfile, *ddir;	/* -c, -D */
	char **keys;		/* each -o key=value */
	size_t nkeys;
	bool daemon, verbose;	/* -d, -v */
};

/* Reads the command line into o; exits after -h, -V or a usage error. */
static void
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "c:D:o:vdhV", lopts, NULL)) !=
	       -1) {
		switch (ch) {
		case 'c': o->cfile = optarg; break;
		case 'D': o->ddir = optarg; break;
		case 'o':
			o->keys = xrealloc(o->keys,
					   (o->nkeys + 1) * sizeof(*o->keys));
			o->keys[o->nkeys++] = optarg;
			break;
		case 'v': o->verbose = true; break;
		case 'd': o->daemon = true; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("owld %s\n", OWL_VERSION); exit(0);
		default: usage(stderr); exit(64);
		}
	}
	if (optind < argc) {
		usage(stderr);
		exit(64);
	}
}

/*
 * The configuration: the file, then -o and -D, into C; the data directory
 * made and made absolute.  Exits 78 on a bad key or OWLPOST_FAULT.
 */
static void
load_config(struct opts *o)
{
	char err[512], path[PATH_MAX];
	const char *fault;

	if (conf_apply(&C, o->cfile, o->keys, o->nkeys, o->ddir, err,
		       sizeof(err)) == -1)
		die_config(err);
	free(o->keys);
	o->keys = NULL;
	mkdir_or_die(C.data_dir);
	if (realpath(C.data_dir, path) != NULL) {
		free(C.data_dir);
		C.data_dir = xstrdup(path);
	}
	conf_finish(&C);
	if ((fault = getenv("OWLPOST_FAULT")) != NULL &&
	    fsops_inject_spec(fault) == -1)
		die_config("bad OWLPOST_FAULT value");
}

/* log.file (DATA_DIR/owld.log in the background); exits 78 if unusable. */
static void
open_log(const struct opts *o)
{
	char path[PATH_MAX];
	const char *e;

	if (o->daemon && C.log_file[0] == '\0') {
		free(C.log_file);
		snprintf(path, sizeof(path), "%s/owld.log", C.data_dir);
		C.log_file = xstrdup(path);
	}
	if (log_open(C.log_file, &e) == -1) {
		fprintf(stderr, "owld: cannot open log.file %s: %s\n",
			C.log_file, e);
		exit(EX_CONFIG_CODE);
	}
	log_set_trace(o->verbose);
}

/* tls.cert and tls.key, if set; exits 78 if they cannot be used. */
static void
load_tls(void)
{
	char err[512];

	/* the key may be readable by root only: load it before the drop */
	if (C.tls_cert[0] != '\0' || C.tls_key[0] != '\0') {
		if ((D.tls = tls_server_ctx(&C, err, sizeof(err))) == NULL) {
			fprintf(stderr, "owld: %s\n", err);
			exit(EX_CONFIG_CODE);
		}
	}
}

/* The bound sockets of every kind of listener, in the order of KINDS. */
struct bound {
	int *fds;
	size_t nfds;
	size_t kind_end[NKINDS];	/* fds[kind_end[k - 1]..kind_end[k]) */
};

/*
 * Binds every *.listen address (as root if need be); exits 78 for an
 * implicit-TLS listener without a certificate, 71 if a bind fails.
 */
static void
bind_listeners(struct bound *b)
{
	char err[512];

	for (size_t k = 0; k < NKINDS; k++) {
		const char *spec = *KINDS[k].spec;

		if (KINDS[k].tls && spec[0] != '\0' && D.tls == NULL) {
			fprintf(stderr, "owld: %s needs tls.cert and tls.key\n",
				KINDS[k].key);
			exit(EX_CONFIG_CODE);
		}
		if (listen_bind(spec, &b->fds, &b->nfds, err, sizeof(err)) ==
		    -1) {
			fprintf(stderr, "owld: %s: %s\n", KINDS[k].key, err);
			exit(71); /* EX_OSERR */
		}
		b->kind_end[k] = b->nfds;
	}
}

/*
 * The pid file (exits 75 if another owld runs), the background, the file
 * limit and the privilege drop, in this order.
 */
static void
become_daemon(bool background)
{
	check_pidfile(C.pid_file);
	if (background)
		daemonize();
	write_pidfile(C.pid_file);
	raise_nofile(&C);
	drop_privileges(&C);
	signal(SIGPIPE, SIG_IGN);
}

/* The per-address limits, the login penalties and the cores' settings. */
static void
init_sessions(void)
{
	D.conf = &C;
	D.anvil = anvil_new(C.max_connections + C.imap_max_connections,
			    C.max_conns_per_ip,
			    C.conn_rate_limit, table_seed());
	D.penalty = penalty_new(C.auth_fail_delay, C.auth_penalty_max_delay,
				C.auth_penalty_window, table_seed());
	D.smtp_conf = (struct smtp_conf){
		.hostname = C.hostname,
		.max_size = C.smtp_max_size,
		.max_rcpts = C.smtp_max_rcpts,
		.max_errors = C.smtp_max_errors,
		.max_line = C.smtp_max_line,
		.bare_newline = C.smtp_bare_newline == CONF_BARE_REJECT
					? SMTP_BARE_REJECT
					: SMTP_BARE_NORMALIZE,
		.vrfy = C.smtp_vrfy == CONF_VRFY_YES,
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
	D.imap_conf = (struct imap_conf){
		.hostname = C.hostname,
		.max_errors = C.imap_max_errors,
		.max_auth_failures = C.auth_max_failures,
		.starttls = D.tls != NULL,
		.append_max = C.imap_append_max,
		.append_msgs_max = C.imap_multiappend_max,
		.append_total_max = C.imap_multiappend_max_size,
		.out_max = IMAP_SESS_OUT_MAX,
		.compress = true,	/* net/conn's DEFLATE layer */
	};
	D.imap_userip = anvil_new(C.imap_max_connections, C.imap_max_userip, 0,
				  table_seed());
	D.imap_userip_seed = table_seed();
}

/* The mail store (exits 73 if mailbox.dir cannot be made), users, aliases. */
static void
open_stores(void)
{
	const char *e;

	if ((D.store = store_new(C.mailbox_format, C.mailbox_dir, C.hostname,
				 &e)) == NULL) {
		fprintf(stderr, "owld: cannot create %s: %s\n", C.mailbox_dir,
			e);
		exit(73);
	}
	load_tables(&D);
}

static struct event *sigs[3];	/* SIGTERM, SIGINT, SIGHUP */

/*
 * The change events of Maildir folders (net/watch.h), for sessions that
 * keep a folder open (IMAP) to learn of deliveries and other sessions'
 * changes; made after privileges were dropped, as inotify wants.
 */
static void
start_watch(void)
{
	struct watch_conf wc = {
		.mode = C.mailbox_watch == CONF_WATCH_POLL ? WATCH_POLL
							   : WATCH_AUTO,
		.poll_interval_ms = C.mailbox_poll_interval,
		.pool = D.pool,
	};
	const char *e;

	if ((D.watch = watch_hub_new(D.base, &wc, &e)) == NULL) {
		fprintf(stderr, "owld: mailbox.watch: %s\n", e);
		exit(78);
	}
}

/* The worker pool, the event loop and the signals on it; exits 71. */
static void
start_loop(void)
{
	const char *e;

	if ((D.pool = wpool_new(C.workers, &e)) == NULL) {
		fprintf(stderr, "owld: worker pool: %s\n", e);
		exit(71);
	}
	D.base = event_base_new();
	if (D.base == NULL) {
		fprintf(stderr, "owld: event_base_new failed\n");
		exit(71);
	}
	start_watch();
	pool_ev = event_new(D.base, wpool_fd(D.pool), EV_READ | EV_PERSIST,
			    pool_cb, &D);
	event_add(pool_ev, NULL);
	sigs[0] = evsignal_new(D.base, SIGTERM, stop_cb, &D);
	sigs[1] = evsignal_new(D.base, SIGINT, stop_cb, &D);
	sigs[2] = evsignal_new(D.base, SIGHUP, hup_cb, &D);
	for (int i = 0; i < 3; i++)
		event_add(sigs[i], NULL);
}

/* The inbound checks (inbound.checks); exits 78 if they cannot start. */
static void
start_checks(void)
{
	const char *e;

	D.check = check_ctx_new(D.base, &C, &e);
	if (D.check == NULL && e != NULL) {
		fprintf(stderr, "owld: inbound checks: %s\n", e);
		exit(78);
	}
}

/* The queue runner on DATA_DIR/queue; exits 73 if it cannot be loaded. */
static void
start_relay(void)
{
	char err[512], path[PATH_MAX];
	struct relay_deps rdeps;

	snprintf(path, sizeof(path), "%s/queue", C.data_dir);
	D.qdir = xstrdup(path);
	/* the DKIM keys, for submission and bounces, before any worker */
	signer_load(&C);
	bounce_set_signer(signer_bounce);
	rdeps = (struct relay_deps){
		.conf = &C, .base = D.base, .pool = D.pool, .store = D.store,
		.qdir = D.qdir, .new_id = owld_new_id,
		.check_stopped = relay_check_stopped, .arg = &D,
	};
	if ((D.relay = relay_new(&rdeps, err, sizeof(err))) == NULL) {
		fprintf(stderr, "owld: queue: %s\n", err);
		exit(73);
	}
	start_checks();
}

/* Logs the start, then accepts on every bound socket; exits 71. */
static void
start_listeners(struct bound *b)
{
	listeners = xcalloc(b->nfds, sizeof(*listeners));
	log_msg(LOGL_INFO, "main", "event=start version=%s pid=%ld "
		"data_dir=%s format=%s users=%zu aliases=%zu%s", OWL_VERSION,
		(long)getpid(), C.data_dir,
		C.mailbox_format == MBOX_FMT_MBOX ? "mbox" : "maildir",
		users_count(D.users), aliases_count(D.aliases),
		users_ready(D.users) ? "" : " users_file=unusable");
	for (size_t i = 0, k = 0; i < b->nfds; i++) {
		char name[80];

		while (i >= b->kind_end[k])
			k++;
		listeners[i] = listener_new(D.base, b->fds[i], KINDS[k].fn,
					    &D);
		if (listeners[i] == NULL) {
			fprintf(stderr, "owld: cannot listen\n");
			exit(71);
		}
		listen_local_name(b->fds[i], name, sizeof(name));
		log_msg(LOGL_INFO, "main", "event=listen proto=%s addr=%s",
			KINDS[k].proto, name);
	}
	nlisteners = b->nfds;
	free(b->fds);
	b->fds = NULL;
}

/* In the foreground with no users yet: how to add the first one. */
static void
hint_first_user(const char *argv0, bool background)
{
	char err[512];

	if (users_count(D.users) == 0 && !background &&
	    (users_ready(D.users) || access(C.users_file, F_OK) == -1)) {
		/* name owlctl as this owld was named: build/owlctl, owlctl */
		const char *slash = strrchr(argv0, '/');

		fprintf(stderr, "owld: no users yet; add one with:\n"
			"  %.*sowlctl -D %s user add alice@%s\n",
			slash ? (int)(slash - argv0 + 1) : 0, argv0,
			C.data_dir, conf_first_domain(&C, err, sizeof(err)));
	}
}

/* Stopped: closes what serves clients, lets in-flight commits finish. */
static void
stop_serving(void)
{
	for (size_t i = 0; i < nlisteners; i++)
		listener_free(&listeners[i]);
	free(listeners);
	check_ctx_free(&D.check);
	dkim_key_cache_clear();	/* the verifier's parsed keys */
	wpool_free(&D.pool);
	owld_ctl_close();
	owld_metrics_close();
	relay_free(&D.relay);
	signer_unload();
	free(D.qdir);
	log_msg(LOGL_INFO, "main", "event=stopped");
}

/* Frees what start-up made, and removes the pid file. */
static void
free_daemon(void)
{
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
	anvil_free(&D.imap_userip);
	penalty_free(&D.penalty);
	store_free(&D.store);
	SSL_CTX_free(D.tls);
	conf_free(&C);
	watch_hub_free(&D.watch);
	event_base_free(D.base);
}

int
main(int argc, char **argv)
{
	struct opts o = {0};
	struct bound b = {0};

	/*
	 * Big buffers (a scan's listing, a parsed UID index) always from
	 * mmap, so that they go back to the system when freed: glibc's
	 * moving threshold otherwise keeps tens of MB after opening a big
	 * folder (docs/MAILDIR.md, "Memory").
	 */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	conf_init(&C);
	parse_args(argc, argv, &o);
	load_config(&o);
	open_log(&o);
	load_tls();
	bind_listeners(&b);
	become_daemon(o.daemon);
	init_sessions();
	open_stores();
	start_loop();
	start_relay();
	D.version = OWL_VERSION;
	owld_ctl_open(&D);
	owld_metrics_open(&D);
	start_listeners(&b);
	hint_first_user(argv[0], o.daemon);
	owld_notify("READY=1\nSTATUS=serving");

	event_base_dispatch(D.base);

	stop_serving();
	free_daemon();
	return 0;
}
