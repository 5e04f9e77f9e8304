/*
 * owld - the daemon's shared context, owned by main.c; the glue modules
 * (smtp_sess.c, pop3_sess.c, imap_sess.c) reach store/, auth/ and the
 * worker pool only through it.  The daemon-wide helpers (ids, limits at accept, logins,
 * penalties, sending and tracing replies, the stop check) are daemon.c's;
 * the session base both protocols are built on is sess.h's.
 */
#ifndef OWL_OWLD_H
#define OWL_OWLD_H

#include <stdbool.h>
#include <stdint.h>

#include "../auth/aliases.h"
#include "../auth/users.h"
#include "../lib/conf.h"
#include "../lib/rate.h"
#include "../lib/wpool.h"
#include "../net/anvil.h"
#include "../proto/imap_server.h"
#include "../proto/pop3_server.h"
#include "../proto/smtp_server.h"
#include "../store/store.h"

/* The IMAP core's OUTPUT point (imap_conf.out_max): a large response
 * goes out in pieces of about this, as the client reads them; each
 * piece is one job on the worker pool (about 40 us of thread hand-offs
 * on a VM: 100 of them for 10,000 messages of 5 KB). */
#define IMAP_SESS_OUT_MAX (512 * 1024)

struct event_base;
struct relay;
struct check_ctx;
struct penalty;
typedef struct ssl_ctx_st SSL_CTX;
struct sess;

struct owld {
	struct conf *conf;
	struct event_base *base;
	struct wpool *pool;
	struct store *store;
	struct users *users;
	struct aliases *aliases;
	struct smtp_conf smtp_conf;
	struct smtp_conf sub_conf;	/* the submission listener's */
	SSL_CTX *tls;			/* from tls.cert/tls.key, or NULL */
	char *qdir;			/* DATA_DIR/queue */
	struct relay *relay;
	struct check_ctx *check;	/* inbound checks, NULL when off */
	struct pop3_conf pop3_conf;
	struct imap_conf imap_conf;
	struct anvil *imap_userip;	/* logged-in IMAP sessions per user
					   and client address */
	uint64_t imap_userip_seed;	/* hashes the user into its key */
	struct sess *sessions;		/* open sessions, any protocol */
	unsigned nsessions;
	unsigned npool[2];		/* sessions of each enum sess_pool */
	struct anvil *anvil;		/* sessions, connections per address */
	struct penalty *penalty;	/* failed logins across connections */
	struct watch_hub *watch;	/* change events of Maildir folders */
	bool stopping;
	const char *version;		/* for owlctl status */
	struct rate60 msgs_in;		/* messages accepted, per second */
	uint64_t msgs_in_total;		/* and since the start */
};

/* Accepts one SMTP client on fd (listener callback). */
void smtp_sess_accept(int fd, struct sockaddr *sa, socklen_t len, void *arg);
/* Accepts one client on the submission listener. */
void smtp_sess_accept_submission(int fd, struct sockaddr *sa, socklen_t len,
				 void *arg);
/* Accepts one client on an implicit-TLS submission listener (465 role). */
void smtp_sess_accept_submissions(int fd, struct sockaddr *sa, socklen_t len,
				  void *arg);
/* Accepts one POP3 client on fd (listener callback). */
void pop3_sess_accept(int fd, struct sockaddr *sa, socklen_t len, void *arg);
/* Accepts one client on an implicit-TLS POP3 listener (995 role). */
void pop3_sess_accept_tls(int fd, struct sockaddr *sa, socklen_t len,
			  void *arg);
/* Accepts one IMAP client on fd (listener callback). */
void imap_sess_accept(int fd, struct sockaddr *sa, socklen_t len, void *arg);
/* Accepts one client on an implicit-TLS IMAP listener (993 role). */
void imap_sess_accept_tls(int fd, struct sockaddr *sa, socklen_t len,
			  void *arg);
/* True past the connection limit of pool (enum sess_pool): max_connections
 * for SMTP, submission and POP3, imap.max_connections for IMAP. */
bool owld_full(const struct owld *d, int pool);
/*
 * The per-address limits (max_connections_per_ip, connection_rate_limit)
 * for a new client from peer at accept: ANVIL_OK if it may have one more
 * session (call owld_release() when it ends), else the limit that refused
 * it, with *count_r as anvil_connect() says.
 */
enum anvil_res owld_admit(struct owld *d, const char *peer,
			  unsigned *count_r);
/* A session that owld_admit() let in ended. */
void owld_release(struct owld *d, const char *peer);
/* Called when a session or a job ended, to finish a graceful stop. */
void owld_check_stopped(struct owld *d);
/* Sends out's replies on c, each line traced under proto and id. */
struct conn;
void owld_send(struct conn *c, const char *proto, const char *id,
	       struct buf *out);
/* Traces the replies in out (as owld_send does) without sending them. */
void owld_trace_out(const char *proto, const char *id, const struct buf *out);
/*
 * The user a login name means: "user@domain", or a bare local part when
 * exactly one local domain has that user; false (out holds the name as
 * given, for the log) if none does.
 */
bool owld_login_name(struct owld *d, const char *given, char *out,
		     size_t size);
/*
 * A login's password check, shared by SMTP AUTH and POP3: prepared on the
 * loop (name resolution and lookup), checked on a worker (an unknown user
 * costs the same check, on a dummy hash); pass is wiped after the check.
 */
struct owld_cred {
	char user[ADDR_PATH_MAX + 1];	/* canonical, or the name as given */
	char hash[256];
	char pass[1025];
	bool exists, ok;
	bool temp;	/* no good users file was ever loaded: answer 4xx */
};
void owld_cred_prepare(struct owld *d, struct owld_cred *c,
		       const char *given, const char *pass);
void owld_cred_check(struct owld_cred *c);
/*
 * The failed-login penalty (auth/penalty.h) a checked login of user from
 * peer waits for before its answer, right password or wrong: NULL if the
 * answer may go now, else a timer (the caller frees it) that calls
 * cb(arg) when the answer may be asked for again.  The first wait of a
 * login is logged (event=auth-penalty); *logged remembers that.
 */
struct event *owld_penalty_wait(struct owld *d, const char *proto,
				const char *id, const char *peer,
				const char *user, bool *logged,
				void (*cb)(int, short, void *), void *arg);
/* Counts the answered login in the penalties: a failure, or a reset. */
void owld_penalty_record(struct owld *d, const char *peer, const char *user,
			 bool ok);
/* A timer that fires cb(arg) after auth.fail_delay (a failed login). */
struct event *owld_fail_delay(struct owld *d,
			      void (*cb)(int, short, void *), void *arg);
/* TLS for sessions (sess_tls.c). */
/* Switches c to TLS as the server; closes it if that cannot be done. */
void owld_tls_start(struct owld *d, struct conn *c);
/* May a login be made in the clear on accepted socket fd? */
bool owld_plain_auth(const struct owld *d, int fd);
/* Logs the handshake's result (ops->secured). */
void owld_tls_secured(const char *proto, const char *id,
		      const struct conn *c);
/* " tls=TLSv1.3 cipher=..." / " tls=failed tls_error=..." / " tls=no". */
const char *owld_tls_words(const struct conn *c, char *out, size_t size);
/*
 * Where mail for a local recipient goes (rcpt.c): name is a lower-case
 * user@domain of a local domain; its users and outside addresses are added
 * to x.  SMTP_R_OK, SMTP_R_NOUSER (no user, no alias), or SMTP_R_TEMP (no
 * good users file yet, a broken alias).  Postmaster is never NOUSER.  With
 * refresh the files are re-read first if they changed and what is odd is
 * logged (RCPT); a commit routes again from memory, quietly.  id names the
 * session in log lines.
 */
enum smtp_result owld_rcpt_route(struct owld *d, const char *name,
				 bool refresh, struct aliases_exp *x,
				 const char *id);
/*
 * The control socket DATA_DIR/owld.sock (ctl.c), for owlctl; owld serves
 * without it if it cannot be made (logged).  Closing removes it.
 */
void owld_ctl_open(struct owld *d);
void owld_ctl_close(void);
/*
 * The Prometheus text endpoint on metrics.listen (metrics.c), if set;
 * exits 71 if it cannot be bound.  Closing stops it.
 */
void owld_metrics_open(struct owld *d);
void owld_metrics_close(void);
/*
 * Reloads the log, the users and aliases files and the TLS pair
 * (reload.c; SIGHUP and owlctl reload): 0, or -1 if the pair could not be
 * loaded and the old one is kept.  summary gets "users=N aliases=N
 * tls=..." as logged (event=reload).
 */
int owld_reload(struct owld *d, char *summary, size_t size);
/*
 * systemd's readiness protocol (notify.c): sends state ("READY=1",
 * "STOPPING=1") to $NOTIFY_SOCKET if it is set; a reload is announced
 * with owld_notify_reloading() and ended with READY=1.
 */
void owld_notify(const char *state);
void owld_notify_reloading(void);
/* A new never-reused 64-bit id (sessions, messages). */
uint64_t owld_new_id(void);

#endif
