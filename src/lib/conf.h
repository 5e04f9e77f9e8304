/*
 * conf - owlpost's configuration: one file of "key = value" lines with
 * '#' comments and dotted keys, then "-o key=value" overrides, then -D for
 * the data directory.  Every key is declared once in the table in conf.c
 * with its type, default and documentation line; an unknown key or a bad
 * value is one line naming the key, and the programs exit with 78
 * (EX_CONFIG).  conf_dump() prints the effective values (owlctl check).
 */
#ifndef OWL_CONF_H
#define OWL_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define EX_CONFIG_CODE 78
#define CONF_LINE_MAX 4096	/* a line is shorter, without its LF */
#define CONF_FILE_MAX (1 << 20)

enum mailbox_format { MBOX_FMT_MAILDIR, MBOX_FMT_MBOX };
/* The choice keys: each value is parsed once, into its enum. */
enum conf_bare_newline { CONF_BARE_NORMALIZE, CONF_BARE_REJECT };
enum conf_vrfy { CONF_VRFY_NO, CONF_VRFY_YES };
enum conf_senders { CONF_SENDERS_OWN, CONF_SENDERS_LOCAL, CONF_SENDERS_ANY };
enum conf_plaintext { CONF_PLAIN_LOOPBACK, CONF_PLAIN_YES, CONF_PLAIN_NO };
enum conf_tls_version { CONF_TLS_1_2, CONF_TLS_1_3 };
enum conf_relay_tls { CONF_RELAY_TLS_MAY, CONF_RELAY_TLS_REQUIRE,
		      CONF_RELAY_TLS_NO };
enum conf_mailbox_watch { CONF_WATCH_AUTO, CONF_WATCH_POLL };
enum conf_dkim_sign { CONF_DKIM_OFF, CONF_DKIM_ON };
/* inbound.checks: what the checks of mail on the MX port do */
enum conf_inbound { CONF_INBOUND_OFF, CONF_INBOUND_TAG, CONF_INBOUND_ENFORCE };
enum conf_spf_fail { CONF_SPF_FAIL_TAG, CONF_SPF_FAIL_REJECT };
enum conf_milter_default { CONF_MILTER_TEMPFAIL, CONF_MILTER_ACCEPT };

struct conf {
	char *data_dir;
	char *hostname;
	char *domains;        /* comma list, normalised to lower case */
	char *smtp_listen;    /* comma list of host:port, [v6]:port */
	unsigned smtp_timeout;    /* seconds */
	size_t smtp_max_size;     /* bytes, advertised as SIZE */
	unsigned smtp_max_rcpts;
	unsigned smtp_max_errors;
	size_t smtp_max_line;     /* DATA text line cap (octets) */
	enum conf_bare_newline smtp_bare_newline; /* normalize | reject */
	enum conf_vrfy smtp_vrfy; /* no | yes */
	unsigned smtp_command_deadline; /* seconds for one command line */
	unsigned smtp_data_min_rate; /* octets/s a DATA phase must keep */
	char *submission_listen; /* comma list; empty: no submission */
	enum conf_senders submission_senders; /* own | local | any */
	unsigned submission_login_deadline; /* seconds to AUTH on submission */
	char *submissions_listen; /* implicit TLS submission (465 role) */
	char *pop3_listen;    /* comma list; empty: no POP3 */
	char *pop3s_listen;   /* implicit TLS POP3 (995 role) */
	unsigned pop3_timeout;    /* seconds (RFC 1939: at least 10 min) */
	unsigned pop3_max_errors;
	unsigned pop3_command_deadline; /* seconds for one command line */
	unsigned pop3_login_deadline; /* seconds from connect to login */
	char *imap_listen;    /* comma list; empty: no IMAP */
	char *imaps_listen;   /* implicit TLS IMAP (993 role) */
	char *metrics_listen; /* Prometheus text over HTTP; empty: off */
	unsigned imap_timeout;    /* seconds (RFC 9051: at least 30 min) */
	unsigned imap_max_errors; /* BAD replies before BYE */
	unsigned imap_command_deadline; /* seconds for one command */
	unsigned imap_login_deadline; /* seconds from connect to login */
	unsigned imap_max_userip; /* sessions of one user from one address */
	size_t imap_append_max;   /* APPENDLIMIT; 0 until conf_finish:
				     smtp.max_size */
	unsigned imap_multiappend_max; /* messages of one APPEND */
	size_t imap_multiappend_max_size; /* their octets; 0 until
					     conf_finish: 10 x append_max */
	unsigned auth_fail_delay; /* milliseconds before a failed login's answer */
	unsigned auth_max_failures; /* failed logins before the connection closes */
	unsigned auth_penalty_max_delay; /* ms cap of the penalty; 0: off */
	unsigned auth_penalty_window; /* seconds a failure is remembered */
	enum conf_plaintext auth_allow_plaintext; /* loopback | yes | no */
	char *tls_cert;       /* PEM certificate chain; empty: no TLS */
	char *tls_key;        /* PEM private key */
	char *tls_ciphers;    /* OpenSSL cipher list for TLS 1.2 */
	enum conf_tls_version tls_min_version; /* TLSv1.2 | TLSv1.3 */
	unsigned tls_handshake_timeout; /* seconds for a whole handshake */
	unsigned tls_session_timeout; /* resumption lifetime, key rotation */
	char *relay_host;     /* smarthost host[:port]; empty: MX lookup */
	char *relay_networks; /* clients that may relay without AUTH */
	unsigned relay_port;      /* port for MX deliveries */
	unsigned relay_timeout;   /* seconds per remote reply */
	unsigned relay_max_conns; /* outbound connections at once */
	unsigned relay_max_conns_dest; /* of them, to one destination */
	unsigned relay_cache_ms;  /* an idle session is kept this long */
	unsigned relay_reuse_time; /* a session carries mail this long */
	unsigned relay_tls_cache_size; /* TLS sessions kept, per destination */
	enum conf_relay_tls relay_tls; /* may | require | no */
	char *relay_tls_ca;   /* CA file for relay.tls = require; empty: system */
	char *dns_resolver;   /* ip[:port] for MX lookups; empty: system */
	unsigned dns_timeout;     /* seconds per try of a lookup */
	unsigned dns_attempts;    /* tries per server */
	size_t dns_cache_size;    /* octets of cached answers; 0: no cache */
	unsigned dns_cache_max_ttl; /* seconds an answer is kept at most */
	unsigned dns_cache_negative_ttl; /* the same for NXDOMAIN, NODATA */
	enum conf_dkim_sign dkim_sign; /* off | on (relay/signer.h) */
	char *dkim_selector;  /* the key file to use; empty: the only one */
	unsigned spf_max_lookups, spf_max_void; /* RFC 7208 4.6.4 */
	unsigned spf_max_mx_names, spf_max_ptr_names;
	unsigned dkim_max_sigs;	/* signatures verified per message */
	unsigned dkim_min_bits, dkim_max_bits; /* RSA keys verified */
	enum conf_inbound inbound_checks; /* off | tag | enforce */
	enum conf_spf_fail inbound_spf_fail; /* tag | reject (enforce) */
	char *inbound_authserv_id; /* empty: hostname */
	unsigned inbound_workers; /* threads for the checks' DNS waits */
	unsigned inbound_timeout; /* seconds for all of one message's */
	char *inbound_psl;	/* the public suffix list file (DMARC) */
	char *milter_servers; /* inet:IP:PORT, inet6:[IP]:PORT, unix:PATH */
	unsigned milter_connect_timeout; /* seconds: connect + negotiate */
	unsigned milter_command_timeout; /* seconds per SMTP step's reply */
	unsigned milter_content_timeout; /* seconds per message step's reply */
	enum conf_milter_default milter_default_action; /* tempfail | accept */
	size_t milter_max_reply;  /* octets of one packet from a milter */
	unsigned queue_retry;     /* seconds before the first retry */
	unsigned queue_retry_max; /* cap of the doubling retry interval */
	unsigned queue_max_age;   /* seconds before a message bounces */
	unsigned max_connections; /* SMTP, submission and POP3 sessions */
	unsigned imap_max_connections; /* IMAP sessions (they stay, IDLE) */
	unsigned max_conns_per_ip; /* sessions of one client address; 0 off */
	unsigned conn_rate_limit; /* connections a minute per address; 0 off */
	enum mailbox_format mailbox_format;
	enum conf_mailbox_watch mailbox_watch; /* auto | poll (net/watch.h) */
	unsigned mailbox_poll_interval; /* ms between polls of a folder */
	unsigned mailbox_max_folders; /* folders a user may have (IMAP) */
	char *mailbox_dir;    /* the mail tree; default DATA_DIR/mail */
	char *users_file;     /* default DATA_DIR/users */
	char *aliases_file;   /* default DATA_DIR/aliases */
	unsigned aliases_max_depth;     /* aliases within aliases */
	unsigned aliases_max_expansion; /* addresses one recipient may become */
	char *log_file;       /* empty: stderr (or DATA_DIR/owld.log with -d) */
	char *pid_file;       /* default DATA_DIR/owld.pid */
	char *user;           /* privilege drop target when started as root */
	unsigned workers;
	unsigned shutdown_grace;  /* seconds to let in-flight work finish */
};

/* Fills the embedded defaults (hostname from the system). */
void conf_init(struct conf *c);
void conf_free(struct conf *c);

/* Sets one key; -1 with a one-line message in err (naming the key). */
int conf_set(struct conf *c, const char *key, const char *value, char *err,
	     size_t errsz);
/* Parses "key=value" (an -o argument). */
int conf_set_arg(struct conf *c, const char *arg, char *err, size_t errsz);
/* Reads a file; errors carry "FILE:LINE: ". */
int conf_load(struct conf *c, const char *path, char *err, size_t errsz);
/*
 * Parses a configuration file's text (len octets, named name in errors):
 * what conf_load does once it has read the file.  A line of CONF_LINE_MAX
 * octets or more, or with a NUL, is an error, as is a file over
 * CONF_FILE_MAX octets.
 */
int conf_parse_text(struct conf *c, const char *text, size_t len,
		    const char *name, char *err, size_t errsz);
/*
 * What both programs do with their options, in the one order: the file
 * (if any), then each "-o key=value", then -D.  Does not call conf_finish.
 */
int conf_apply(struct conf *c, const char *file, char *const *opts,
	       size_t nopts, const char *data_dir, char *err, size_t errsz);
/* Fills the derived defaults (users file, pid file, imap.append_max)
 * once all is read. */
void conf_finish(struct conf *c);
/* Prints every key with its effective value, "key = value". */
void conf_dump(const struct conf *c, FILE *fp);
/* The name of a choice key's value ("require" for relay.tls's 1). */
const char *conf_choice_name(const char *key, unsigned value);

/*
 * Splits "host", "host:port", "[v6]" or "[v6]:port" (relay.host,
 * dns.resolver) into host, without brackets, and port (defport if none);
 * -1 if v is not one of those.
 */
int conf_hostport(const char *v, unsigned defport, char *host, size_t size,
		  unsigned *port);
/*
 * The i-th entry of milter.servers: "inet:IP:PORT", "inet6:[IP]:PORT"
 * (or "inet:[IP]:PORT") or "unix:/PATH", as a socket address in *sa
 * (*len its size) and its text in text; false past the last entry or if
 * it is not one of those (conf_set refuses such a value).
 */
struct sockaddr_storage;
bool conf_milter(const char *servers, size_t i, struct sockaddr_storage *sa,
		 unsigned *len, char *text, size_t size);
/* True if domain (any case) is one of c->domains. */
bool conf_is_local_domain(const struct conf *c, const char *domain);
/* The i-th local domain into out; false past the last one. */
bool conf_domain(const struct conf *c, size_t i, char *out, size_t size);
/* The first local domain (for <postmaster>). */
const char *conf_first_domain(const struct conf *c, char *out, size_t size);

#endif
