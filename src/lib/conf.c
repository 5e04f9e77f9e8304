/*
 * conf - see conf.h.  One table, KEYS, declares every key: adding a key is
 * one row here plus the README and owld.conf.sample lines.
 */
#include "conf.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "cidr.h"

enum ktype { K_STR, K_HOST, K_DOMAINS, K_LISTEN, K_UINT, K_SIZE, K_DURATION,
	     K_MSEC, K_FORMAT, K_USER, K_NETS, K_HOSTPORT, K_CHOICE,
	     K_MILTERS };

struct key {
	const char *name;
	enum ktype type;
	size_t off;
	const char *def;
	unsigned long min, max;
};

/*
 * The values a K_CHOICE key takes, each at the index of its enum value in
 * conf.h (the field holds the enum, set once here).
 */
static const struct {
	const char *key;
	const char *names[4];	/* by value; NULL after the last */
} CHOICES[] = {
	{"submission.senders", {"own", "local", "any"}},
	{"smtp.bare_newline", {"normalize", "reject"}},
	{"smtp.vrfy", {"no", "yes"}},
	{"auth.allow_plaintext", {"loopback", "yes", "no"}},
	{"tls.min_version", {"TLSv1.2", "TLSv1.3"}},
	{"relay.tls", {"may", "require", "no"}},
	{"mailbox.watch", {"auto", "poll"}},
	{"dkim.sign", {"off", "on"}},
	{"inbound.checks", {"off", "tag", "enforce"}},
	{"inbound.spf_fail", {"tag", "reject"}},
	{"milter.default_action", {"tempfail", "accept"}},
};
#define NCHOICES (sizeof(CHOICES) / sizeof(CHOICES[0]))

/* A choice field is written as an unsigned, as K_UINT fields are. */
static_assert(sizeof(enum conf_senders) == sizeof(unsigned) &&
		      sizeof(enum conf_bare_newline) == sizeof(unsigned) &&
		      sizeof(enum conf_vrfy) == sizeof(unsigned) &&
		      sizeof(enum conf_plaintext) == sizeof(unsigned) &&
		      sizeof(enum conf_tls_version) == sizeof(unsigned) &&
		      sizeof(enum conf_relay_tls) == sizeof(unsigned) &&
		      sizeof(enum conf_mailbox_watch) == sizeof(unsigned) &&
		      sizeof(enum conf_dkim_sign) == sizeof(unsigned) &&
		      sizeof(enum conf_inbound) == sizeof(unsigned) &&
		      sizeof(enum conf_spf_fail) == sizeof(unsigned) &&
		      sizeof(enum conf_milter_default) == sizeof(unsigned),
	      "choice enums are unsigned-sized");

#define O(f) offsetof(struct conf, f)
static const struct key KEYS[] = {
	{"data_dir", K_STR, O(data_dir), "./owl-data", 0, 0},
	{"hostname", K_HOST, O(hostname), NULL, 0, 0},
	{"domains", K_DOMAINS, O(domains), "localhost", 0, 0},
	{"smtp.listen", K_LISTEN, O(smtp_listen), "127.0.0.1:2525", 0, 0},
	{"smtp.timeout", K_DURATION, O(smtp_timeout), "300", 1, 86400},
	{"smtp.max_size", K_SIZE, O(smtp_max_size), "35M", 1024,
	 (unsigned long)1 << 31},
	{"smtp.max_recipients", K_UINT, O(smtp_max_rcpts), "100", 1, 100000},
	{"smtp.max_errors", K_UINT, O(smtp_max_errors), "20", 1, 1000},
	{"smtp.max_line_length", K_SIZE, O(smtp_max_line), "64k", 1000,
	 1 << 20},
	{"smtp.bare_newline", K_CHOICE, O(smtp_bare_newline), "normalize", 0,
	 0},
	{"smtp.vrfy", K_CHOICE, O(smtp_vrfy), "no", 0, 0},
	{"smtp.command_deadline", K_DURATION, O(smtp_command_deadline), "5m",
	 1, 86400},
	{"smtp.data_min_rate", K_UINT, O(smtp_data_min_rate), "500", 1,
	 1 << 30},
	{"submission.listen", K_LISTEN, O(submission_listen),
	 "127.0.0.1:2587", 0, 0},
	{"submission.senders", K_CHOICE, O(submission_senders), "own", 0, 0},
	{"submission.login_deadline", K_DURATION,
	 O(submission_login_deadline), "3m", 1, 86400},
	{"submissions.listen", K_LISTEN, O(submissions_listen), "", 0, 0},
	{"pop3.listen", K_LISTEN, O(pop3_listen), "127.0.0.1:1100", 0, 0},
	{"pop3s.listen", K_LISTEN, O(pop3s_listen), "", 0, 0},
	{"pop3.timeout", K_DURATION, O(pop3_timeout), "600", 1, 86400},
	{"pop3.max_errors", K_UINT, O(pop3_max_errors), "20", 1, 1000},
	{"pop3.command_deadline", K_DURATION, O(pop3_command_deadline), "10m",
	 1, 86400},
	{"pop3.login_deadline", K_DURATION, O(pop3_login_deadline), "3m", 1,
	 86400},
	{"imap.listen", K_LISTEN, O(imap_listen), "127.0.0.1:1143", 0, 0},
	{"imaps.listen", K_LISTEN, O(imaps_listen), "", 0, 0},
	{"metrics.listen", K_LISTEN, O(metrics_listen), "", 0, 0},
	/* RFC 9051 5.4 asks for at least 30 min; lower is the admin's call
	   (Dovecot's stance: clients re-IDLE every 29 min or less) */
	{"imap.timeout", K_DURATION, O(imap_timeout), "30m", 1, 86400},
	{"imap.max_errors", K_UINT, O(imap_max_errors), "20", 1, 1000},
	{"imap.command_deadline", K_DURATION, O(imap_command_deadline), "10m",
	 1, 86400},
	{"imap.login_deadline", K_DURATION, O(imap_login_deadline), "3m", 1,
	 86400},
	/* per user and client address, as Dovecot's
	   mail_max_userip_connections */
	{"imap.max_sessions_per_user", K_UINT, O(imap_max_userip), "10", 0,
	 100000},
	/* 0: smtp.max_size (conf_finish) */
	{"imap.append_max", K_SIZE, O(imap_append_max), "0", 0,
	 (unsigned long)1 << 31},
	/* MULTIAPPEND (RFC 3502); Dovecot sets no count of its own */
	/* at most 10,000: the parser's argument table grows with it (six
	 * arguments a message, 48 octets each) */
	{"imap.multiappend_max", K_UINT, O(imap_multiappend_max), "1000", 1,
	 10000},
	/* 0: 10 x imap.append_max (conf_finish) */
	{"imap.multiappend_max_size", K_SIZE, O(imap_multiappend_max_size),
	 "0", 0, (unsigned long)1 << 40},
	{"auth.fail_delay", K_MSEC, O(auth_fail_delay), "2s", 0, 60000},
	{"auth.max_failures", K_UINT, O(auth_max_failures), "3", 1, 100},
	{"auth.penalty_max_delay", K_MSEC, O(auth_penalty_max_delay), "15s", 0,
	 300000},
	{"auth.penalty_window", K_DURATION, O(auth_penalty_window), "1h", 1,
	 86400},
	{"auth.allow_plaintext", K_CHOICE, O(auth_allow_plaintext), "loopback",
	 0, 0},
	{"tls.cert", K_STR, O(tls_cert), "", 0, 0},
	{"tls.key", K_STR, O(tls_key), "", 0, 0},
	{"tls.ciphers", K_STR, O(tls_ciphers),
	 "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20", 0, 0},
	{"tls.min_version", K_CHOICE, O(tls_min_version), "TLSv1.2", 0, 0},
	{"tls.handshake_timeout", K_DURATION, O(tls_handshake_timeout), "10s",
	 1, 3600},
	/* Postfix: smtpd_tls_session_cache_timeout; also the ticket key's
	   rotation period (RFC 8446 4.6.1: at most 7 days) */
	{"tls.session_timeout", K_DURATION, O(tls_session_timeout), "3600",
	 1, 604800},
	{"relay.host", K_HOSTPORT, O(relay_host), "", 0, 0},
	{"relay.networks", K_NETS, O(relay_networks), "127.0.0.0/8, ::1", 0,
	 0},
	{"relay.port", K_UINT, O(relay_port), "25", 1, 65535},
	{"relay.timeout", K_DURATION, O(relay_timeout), "300", 1, 86400},
	{"relay.max_connections", K_UINT, O(relay_max_conns), "100", 1, 1000},
	/* Postfix: default_destination_concurrency_limit */
	{"relay.max_connections_per_destination", K_UINT,
	 O(relay_max_conns_dest), "20", 1, 1000},
	/* Postfix: smtp_connection_cache_time_limit; 0: no cache */
	{"relay.connection_cache_time", K_MSEC, O(relay_cache_ms), "2s", 0,
	 300000},
	/* Postfix: smtp_connection_reuse_time_limit */
	{"relay.connection_reuse_time", K_DURATION, O(relay_reuse_time),
	 "300", 1, 86400},
	{"relay.tls", K_CHOICE, O(relay_tls), "may", 0, 0},
	{"relay.tls.ca", K_STR, O(relay_tls_ca), "", 0, 0},
	/* destinations whose TLS session is kept for resumption; 0: none */
	{"relay.tls.session_cache_size", K_UINT, O(relay_tls_cache_size),
	 "1000", 0, 100000},
	{"dns.resolver", K_HOSTPORT, O(dns_resolver), "", 0, 0},
	/* the resolver's own defaults (resolv.conf(5): timeout:5,
	   attempts:2); at most its caps, RES_MAXRETRANS and RES_MAXRETRY */
	{"dns.timeout", K_DURATION, O(dns_timeout), "5s", 1, 30},
	{"dns.attempts", K_UINT, O(dns_attempts), "2", 1, 5},
	/* unbound's defaults: msg-cache-size 4m, cache-max-ttl 86400,
	   cache-max-negative-ttl 3600; dns.cache_size 0: no cache */
	{"dns.cache_size", K_SIZE, O(dns_cache_size), "4M", 0,
	 (unsigned long)1 << 30},
	{"dns.cache_max_ttl", K_DURATION, O(dns_cache_max_ttl), "1d", 1,
	 7 * 86400},
	{"dns.cache_negative_ttl", K_DURATION, O(dns_cache_negative_ttl),
	 "1h", 0, 86400},
	{"dkim.sign", K_CHOICE, O(dkim_sign), "on", 0, 0},
	{"dkim.selector", K_STR, O(dkim_selector), "", 0, 0},
	/* SPF's processing limits (RFC 7208 4.6.4; 10, 2, 10, 10 there) */
	{"spf.max_lookups", K_UINT, O(spf_max_lookups), "10", 1, 100},
	{"spf.max_void_lookups", K_UINT, O(spf_max_void), "2", 1, 100},
	{"spf.max_mx_names", K_UINT, O(spf_max_mx_names), "10", 1, 64},
	{"spf.max_ptr_names", K_UINT, O(spf_max_ptr_names), "10", 1, 64},
	/* verification (RFC 6376 6.1, RFC 8301 3.2: RSA of 1024 at least) */
	{"dkim.max_signatures", K_UINT, O(dkim_max_sigs), "5", 1, 50},
	{"dkim.min_key_bits", K_UINT, O(dkim_min_bits), "1024", 1024, 8192},
	{"dkim.max_key_bits", K_UINT, O(dkim_max_bits), "8192", 1024, 8192},
	/* SPF, DKIM, DMARC on the MX port; off as Postfix without milters */
	{"inbound.checks", K_CHOICE, O(inbound_checks), "off", 0, 0},
	{"inbound.spf_fail", K_CHOICE, O(inbound_spf_fail), "tag", 0, 0},
	{"inbound.authserv_id", K_STR, O(inbound_authserv_id), "", 0, 0},
	{"inbound.workers", K_UINT, O(inbound_workers), "8", 1, 256},
	{"inbound.timeout", K_DURATION, O(inbound_timeout), "30", 1, 600},
	{"inbound.public_suffix_list", K_STR, O(inbound_psl),
	 "/usr/share/publicsuffix/public_suffix_list.dat", 0, 0},
	/* Postfix: smtpd_milters, milter_*_timeout, milter_default_action */
	{"milter.servers", K_MILTERS, O(milter_servers), "", 0, 0},
	{"milter.connect_timeout", K_DURATION, O(milter_connect_timeout),
	 "30s", 1, 3600},
	{"milter.command_timeout", K_DURATION, O(milter_command_timeout),
	 "30s", 1, 3600},
	{"milter.content_timeout", K_DURATION, O(milter_content_timeout),
	 "300s", 1, 3600},
	{"milter.default_action", K_CHOICE, O(milter_default_action),
	 "tempfail", 0, 0},
	/* libmilter's largest MILTER_MAX_DATA_SIZE is 1M */
	{"milter.max_reply_size", K_SIZE, O(milter_max_reply), "1M", 65536,
	 64 << 20},
	{"queue.retry", K_DURATION, O(queue_retry), "1m", 1, 86400},
	{"queue.retry_max", K_DURATION, O(queue_retry_max), "4h", 1, 86400},
	{"queue.max_age", K_DURATION, O(queue_max_age), "5d", 1,
	 365 * 86400},
	{"max_connections", K_UINT, O(max_connections), "100", 1, 1000000},
	/* IMAP's own: clients keep sessions open (IDLE), Dovecot's 1024 */
	{"imap.max_connections", K_UINT, O(imap_max_connections), "1000", 1,
	 1000000},
	{"max_connections_per_ip", K_UINT, O(max_conns_per_ip), "50", 0,
	 1000000},
	{"connection_rate_limit", K_UINT, O(conn_rate_limit), "600", 0,
	 1000000},
	{"mailbox.format", K_FORMAT, O(mailbox_format), "maildir", 0, 0},
	{"mailbox.watch", K_CHOICE, O(mailbox_watch), "auto", 0, 0},
	/* 0 is refused: sessions would never see other hosts' changes */
	{"mailbox.poll_interval", K_MSEC, O(mailbox_poll_interval), "1s", 100,
	 60000},
	{"mailbox.dir", K_STR, O(mailbox_dir), "", 0, 0},
	{"mailbox.max_folders", K_UINT, O(mailbox_max_folders), "1000", 1,
	 100000},
	{"users.file", K_STR, O(users_file), "", 0, 0},
	{"aliases.file", K_STR, O(aliases_file), "", 0, 0},
	{"aliases.max_depth", K_UINT, O(aliases_max_depth), "10", 1, 100},
	/* at most 1000: one recipient's expansion always fits a queue entry */
	{"aliases.max_expansion", K_UINT, O(aliases_max_expansion), "1000", 1,
	 1000},
	{"log.file", K_STR, O(log_file), "", 0, 0},
	{"pid_file", K_STR, O(pid_file), "", 0, 0},
	{"user", K_USER, O(user), "", 0, 0},
	{"workers", K_UINT, O(workers), "4", 1, 64},
	{"shutdown_grace", K_DURATION, O(shutdown_grace), "10", 0, 3600},
};
#define NKEYS (sizeof(KEYS) / sizeof(KEYS[0]))

static char **
str_field(struct conf *c, const struct key *k)
{
	return (char **)(void *)((char *)c + k->off);
}

void
conf_init(struct conf *c)
{
	char err[256];
	char host[256];
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < NKEYS; i++) {
		if (KEYS[i].def == NULL)
			continue;
		if (conf_set(c, KEYS[i].name, KEYS[i].def, err, sizeof(err)))
			abort(); /* a bad default is our bug */
	}
	if (gethostname(host, sizeof(host)) == -1 || host[0] == '\0')
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	c->hostname = xstrdup(host);
}

void
conf_free(struct conf *c)
{
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		switch (KEYS[i].type) {
		case K_STR: case K_HOST: case K_DOMAINS: case K_LISTEN:
		case K_USER: case K_NETS: case K_HOSTPORT: case K_MILTERS:
			free(*str_field(c, &KEYS[i]));
			*str_field(c, &KEYS[i]) = NULL;
			break;
		default:
			break;
		}
	}
}

static const struct key *
find_key(const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(KEYS[i].name, name) == 0)
			return &KEYS[i];
	return NULL;
}

/* Parses a number with an optional unit suffix; mult table per type. */
static int
parse_num(const char *v, enum ktype t, unsigned long *out)
{
	unsigned long long n, mult = 1;
	char *end;

	if (!isdigit((unsigned char)*v))
		return -1;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0)
		return -1;
	if (t == K_SIZE && *end != '\0') {
		switch (tolower((unsigned char)*end)) {
		case 'k': mult = 1024; break;
		case 'm': mult = 1024 * 1024; break;
		case 'g': mult = 1024 * 1024 * 1024; break;
		default: return -1;
		}
		end++;
		if (tolower((unsigned char)*end) == 'b')
			end++;
	} else if (t == K_MSEC) {
		mult = 1000;
		if (strcmp(end, "ms") == 0)
			mult = 1;
		else if (*end != '\0' && strcmp(end, "s") != 0)
			return -1;
		end += strlen(end);
	} else if (t == K_DURATION && *end != '\0') {
		switch (*end) {
		case 's': mult = 1; break;
		case 'm': mult = 60; break;
		case 'h': mult = 3600; break;
		case 'd': mult = 86400; break;
		default: return -1;
		}
		end++;
	}
	if (*end != '\0' || __builtin_mul_overflow(n, mult, &n) ||
	    n > ULONG_MAX)
		return -1;
	*out = (unsigned long)n;
	return 0;
}

/*
 * A listen host is numeric, "localhost" or "*": never a name to look up
 * (a DNS answer must not decide where the daemon listens).
 */
static bool
listen_host_valid(const char *h, size_t len)
{
	char tmp[INET6_ADDRSTRLEN];
	unsigned char a[sizeof(struct in6_addr)];
	bool v6 = len >= 2 && h[0] == '[' && h[len - 1] == ']';

	if (v6) {
		h++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(tmp))
		return false;
	memcpy(tmp, h, len);
	tmp[len] = '\0';
	if (v6)
		return inet_pton(AF_INET6, tmp, a) == 1;
	return strcmp(tmp, "*") == 0 || strcmp(tmp, "localhost") == 0 ||
	       inet_pton(AF_INET, tmp, a) == 1 ||
	       inet_pton(AF_INET6, tmp, a) == 1;
}

/* host:port or [v6]:port, comma separated; empty means off. */
static bool
listen_valid(const char *v)
{
	const char *p = v;

	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *colon;
		char *e;
		unsigned long port;

		while (len > 0 && *p == ' ') {
			p++;
			len--;
		}
		while (len > 0 && p[len - 1] == ' ')
			len--;
		colon = NULL;
		for (size_t i = 0; i < len; i++)
			if (p[i] == ':')
				colon = p + i;
		if (colon == NULL || colon == p)
			return false;
		if ((p[0] == '[' && colon[-1] != ']') ||
		    !listen_host_valid(p, (size_t)(colon - p)))
			return false;
		/* digits only, as getaddrinfo will want the port */
		if (!isdigit((unsigned char)colon[1]))
			return false;
		errno = 0;
		port = strtoul(colon + 1, &e, 10);
		if (e == colon + 1 || e != p + len || port > 65535 || errno)
			return false;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return true;
}

/* "" or a valid host[:port] (conf_hostport). */
static bool
hostport_valid(const char *v)
{
	char host[300];
	unsigned port;

	return *v == '\0' ||
	       conf_hostport(v, 25, host, sizeof(host), &port) == 0;
}

/* One milter.servers entry [p, e): its address. */
static bool
milter_entry(const char *p, const char *e, struct sockaddr_storage *sa,
	     unsigned *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	size_t n = (size_t)(e - p);
	const char *colon;
	unsigned long port;
	char *end;

	memset(sa, 0, sizeof(*sa));
	if (n > 5 && strncmp(p, "unix:", 5) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)(void *)sa;

		if (p[5] != '/' || n - 5 >= sizeof(un->sun_path))
			return false;
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, p + 5, n - 5);
		*len = (unsigned)sizeof(*un);
		return true;
	}
	if (n > 6 && strncmp(p, "inet6:", 6) == 0)
		p += 6;
	else if (n > 5 && strncmp(p, "inet:", 5) == 0)
		p += 5;
	else
		return false;
	colon = e;
	while (colon > p && colon[-1] != ':')
		colon--;
	if (colon <= p + 1 || colon == e)
		return false;
	errno = 0;
	port = strtoul(colon, &end, 10);
	if (end != e || port == 0 || port > 65535 || errno != 0 ||
	    *colon == '+' || *colon == '-' || *colon == ' ')
		return false;
	n = (size_t)(colon - 1 - p);
	if (*p == '[' && colon[-2] == ']') {
		p++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(host))
		return false;
	memcpy(host, p, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)(void *)sa)
						->sin_addr) == 1) {
		struct sockaddr_in *in = (struct sockaddr_in *)(void *)sa;

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*len = (unsigned)sizeof(*in);
		return true;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)(void *)sa)
						 ->sin6_addr) == 1) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)sa;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = (unsigned)sizeof(*in6);
		return true;
	}
	return false;
}

bool
conf_milter(const char *servers, size_t i, struct sockaddr_storage *sa,
	    unsigned *len, char *text, size_t size)
{
	const char *p = servers, *e;

	for (;;) {
		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			return false;
		for (e = p; *e != '\0' && *e != ',' && *e != ' '; e++)
			;
		if (i-- == 0)
			break;
		p = e;
	}
	if (text != NULL)
		snprintf(text, size, "%.*s", (int)(e - p), p);
	return milter_entry(p, e, sa, len);
}

/* "" or a comma list of good milter.servers entries. */
static bool
milters_valid(const char *v)
{
	struct sockaddr_storage sa;
	unsigned len;
	size_t i, n = 0;

	for (const char *p = v; *p != '\0'; p++)
		if (*p != ' ' && *p != ',' && (p == v || p[-1] == ' ' ||
					       p[-1] == ','))
			n++;
	for (i = 0; i < n; i++)
		if (!conf_milter(v, i, &sa, &len, NULL, 0))
			return false;
	return true;
}

/* The row of a K_CHOICE key in CHOICES. */
static size_t
choice_row(const char *key)
{
	for (size_t i = 0; i < NCHOICES; i++)
		if (strcmp(CHOICES[i].key, key) == 0)
			return i;
	abort(); /* a K_CHOICE key without its row: our bug */
}

/* The value v names for the key of row; -1 if it names none. */
static int
choice_value(size_t row, const char *v)
{
	for (int i = 0; CHOICES[row].names[i] != NULL; i++)
		if (strcmp(CHOICES[row].names[i], v) == 0)
			return i;
	return -1;
}

/* "a|b|c": the values of the key of row, for a message. */
static const char *
choices_text(size_t row, char *out, size_t size)
{
	out[0] = '\0';
	for (int i = 0; CHOICES[row].names[i] != NULL; i++)
		bsnprintf(out + strlen(out), size - strlen(out), "%s%s",
			  i > 0 ? "|" : "", CHOICES[row].names[i]);
	return out;
}

const char *
conf_choice_name(const char *key, unsigned value)
{
	size_t row = choice_row(key);

	for (unsigned i = 0; CHOICES[row].names[i] != NULL; i++)
		if (i == value)
			return CHOICES[row].names[i];
	abort(); /* a value conf_set never stores */
}

/* Lower-cases and validates a comma list of domains; NULL if bad. */
static char *
norm_domains(const char *v)
{
	struct buf *b = buf_new(64 * 1024);
	const char *p = v;
	char *out;

	while (*p != '\0') {
		const char *s, *e;
		size_t i;

		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		s = p;
		while (*p != '\0' && *p != ',' && *p != ' ')
			p++;
		e = p;
		if (!addr_domain_valid(s, (size_t)(e - s)) ||
		    (b->len > 0 && buf_addc(b, ',') == -1)) {
			buf_free(&b);
			return NULL;
		}
		for (i = 0; s + i < e; i++)
			buf_addc(b, (char)tolower((unsigned char)s[i]));
		while (*p == ' ')
			p++;
		if (*p != '\0' && *p != ',') {
			buf_free(&b);
			return NULL;
		}
	}
	if (b->len == 0) {
		buf_free(&b);
		return NULL;
	}
	out = xstrdup(b->data);
	buf_free(&b);
	return out;
}

int
conf_set(struct conf *c, const char *key, const char *value, char *err,
	 size_t errsz)
{
	const struct key *k = find_key(key);
	unsigned long n;
	char *s = NULL, list[64];
	int v;

	if (k == NULL) {
		snprintf(err, errsz, "unknown configuration key '%s'", key);
		return -1;
	}
	switch (k->type) {
	case K_STR:
		s = xstrdup(value);
		break;
	case K_USER:
		if (strchr(value, ':') || strchr(value, '/'))
			goto bad;
		s = xstrdup(value);
		break;
	case K_HOST:
		if (!addr_domain_valid(value, strlen(value)))
			goto bad;
		s = xstrdup(value);
		break;
	case K_DOMAINS:
		if ((s = norm_domains(value)) == NULL)
			goto bad;
		break;
	case K_LISTEN:
		if (!listen_valid(value))
			goto bad;
		s = xstrdup(value);
		break;
	case K_NETS:
		if (!cidr_list_valid(value))
			goto bad;
		s = xstrdup(value);
		break;
	case K_HOSTPORT:
		if (!hostport_valid(value))
			goto bad;
		s = xstrdup(value);
		break;
	case K_MILTERS:
		if (!milters_valid(value))
			goto bad;
		s = xstrdup(value);
		break;
	case K_CHOICE:
		if ((v = choice_value(choice_row(k->name), value)) < 0)
			goto bad;
		*(unsigned *)(void *)((char *)c + k->off) = (unsigned)v;
		return 0;
	case K_UINT:
	case K_DURATION:
	case K_MSEC:
		if (parse_num(value, k->type, &n) || n < k->min || n > k->max)
			goto bad;
		*(unsigned *)(void *)((char *)c + k->off) = (unsigned)n;
		return 0;
	case K_SIZE:
		if (parse_num(value, k->type, &n) || n < k->min || n > k->max)
			goto bad;
		*(size_t *)(void *)((char *)c + k->off) = n;
		return 0;
	case K_FORMAT:
		if (strcasecmp(value, "maildir") == 0)
			c->mailbox_format = MBOX_FMT_MAILDIR;
		else if (strcasecmp(value, "mbox") == 0)
			c->mailbox_format = MBOX_FMT_MBOX;
		else
			goto bad;
		return 0;
	}
	free(*str_field(c, k));
	*str_field(c, k) = s;
	return 0;
bad:
	if (k->type == K_MSEC && k->min % 1000 != 0)
		snprintf(err, errsz,
			 "bad value '%s' for key '%s' (from %lums to %lums: "
			 "a number of seconds, or milliseconds with ms)",
			 value, key, k->min, k->max);
	else if (k->type == K_UINT || k->type == K_SIZE ||
		 k->type == K_DURATION || k->type == K_MSEC)
		snprintf(err, errsz,
			 "bad value '%s' for key '%s' (a number from %lu to "
			 "%lu%s)", value, key,
			 k->type == K_MSEC ? k->min / 1000 : k->min,
			 k->type == K_MSEC ? k->max / 1000 : k->max,
			 k->type == K_SIZE ? ", with an optional k/M/G"
			 : k->type == K_DURATION ? " seconds, or with s/m/h/d"
			 : k->type == K_MSEC	 ? " seconds, or milliseconds "
						   "with ms"
						 : "");
	else if (k->type == K_CHOICE)
		snprintf(err, errsz, "bad value '%s' for key '%s' (one of %s)",
			 value, key, choices_text(choice_row(k->name), list,
						  sizeof(list)));
	else if (k->type == K_LISTEN)
		snprintf(err, errsz,
			 "bad value '%s' for key '%s' (ip:port, [ipv6]:port, "
			 "localhost:port or *:port, comma separated; no host "
			 "names)", value, key);
	else if (k->type == K_MILTERS)
		snprintf(err, errsz,
			 "bad value '%s' for key '%s' (inet:IP:PORT, "
			 "inet6:[IP]:PORT or unix:/PATH, comma separated; no "
			 "host names)", value, key);
	else if (k->type == K_FORMAT)
		snprintf(err, errsz,
			 "bad value '%s' for key '%s' (maildir or mbox)",
			 value, key);
	else
		snprintf(err, errsz, "bad value '%s' for key '%s'", value,
			 key);
	return -1;
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
			 e[-1] == '\n'))
		*--e = '\0';
	return s;
}

int
conf_set_arg(struct conf *c, const char *arg, char *err, size_t errsz)
{
	char tmp[4096];
	char *eq;

	if (snprintf(tmp, sizeof(tmp), "%s", arg) >= (int)sizeof(tmp)) {
		snprintf(err, errsz, "option too long: %.40s...", arg);
		return -1;
	}
	eq = strchr(tmp, '=');
	if (eq == NULL) {
		snprintf(err, errsz, "expected key=value, got '%s'", arg);
		return -1;
	}
	*eq = '\0';
	return conf_set(c, trim(tmp), trim(eq + 1), err, errsz);
}

/* One line of a file (len octets, no LF); -1 with err. */
static int
parse_line(struct conf *c, const char *s, size_t len, char *err,
	   size_t errsz)
{
	char line[CONF_LINE_MAX], *p, *eq;

	if (len >= sizeof(line)) {
		snprintf(err, errsz, "line longer than %d octets",
			 CONF_LINE_MAX - 1);
		return -1;
	}
	if (memchr(s, '\0', len) != NULL) {
		snprintf(err, errsz, "NUL octet in the line");
		return -1;
	}
	memcpy(line, s, len);
	line[len] = '\0';
	p = trim(line);
	if (*p == '\0' || *p == '#')
		return 0;
	eq = strchr(p, '=');
	if (eq == NULL) {
		snprintf(err, errsz, "expected key = value");
		return -1;
	}
	*eq = '\0';
	return conf_set(c, trim(p), trim(eq + 1), err, errsz);
}

int
conf_parse_text(struct conf *c, const char *text, size_t len,
		const char *name, char *err, size_t errsz)
{
	const char *p = text, *end = text + len;
	unsigned lineno = 0;
	char e[512];

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		lineno++;
		if (parse_line(c, p, n, e, sizeof(e)) == -1) {
			snprintf(err, errsz, "%s:%u: %s", name, lineno, e);
			return -1;
		}
		p += n + (nl != NULL);
	}
	return 0;
}

int
conf_load(struct conf *c, const char *path, char *err, size_t errsz)
{
	struct buf *b = buf_new(CONF_FILE_MAX);
	char chunk[8192];
	size_t n;
	int r;
	FILE *fp = fopen(path, "r");

	if (fp == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		buf_free(&b);
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		if (buf_add(b, chunk, n) == -1) {
			snprintf(err, errsz, "%s: larger than %d octets", path,
				 CONF_FILE_MAX);
			fclose(fp);
			buf_free(&b);
			return -1;
		}
	if (ferror(fp)) {
		snprintf(err, errsz, "%s: read error", path);
		fclose(fp);
		buf_free(&b);
		return -1;
	}
	fclose(fp);
	r = conf_parse_text(c, b->data, b->len, path, err, errsz);
	buf_free(&b);
	return r;
}

int
conf_apply(struct conf *c, const char *file, char *const *opts, size_t nopts,
	   const char *data_dir, char *err, size_t errsz)
{
	if (file != NULL && conf_load(c, file, err, errsz) == -1)
		return -1;
	for (size_t i = 0; i < nopts; i++)
		if (conf_set_arg(c, opts[i], err, errsz) == -1)
			return -1;
	if (data_dir != NULL &&
	    conf_set(c, "data_dir", data_dir, err, errsz) == -1)
		return -1;
	return 0;
}

static void
derive(char **field, const char *dir, const char *name)
{
	size_t n;

	if (*field != NULL && **field != '\0')
		return;
	free(*field);
	n = strlen(dir) + strlen(name) + 2;
	*field = xmalloc(n);
	snprintf(*field, n, "%s/%s", dir, name);
}

void
conf_finish(struct conf *c)
{
	derive(&c->mailbox_dir, c->data_dir, "mail");
	derive(&c->users_file, c->data_dir, "users");
	derive(&c->aliases_file, c->data_dir, "aliases");
	derive(&c->pid_file, c->data_dir, "owld.pid");
	if (c->imap_append_max == 0)
		c->imap_append_max = c->smtp_max_size;
	if (c->imap_multiappend_max_size == 0)
		c->imap_multiappend_max_size = 10 * c->imap_append_max;
	if (c->imap_multiappend_max_size < c->imap_append_max)
		c->imap_multiappend_max_size = c->imap_append_max;
}

void
conf_dump(const struct conf *c, FILE *fp)
{
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		const struct key *k = &KEYS[i];
		const void *f = (const char *)c + k->off;

		fprintf(fp, "%s = ", k->name);
		switch (k->type) {
		case K_UINT: case K_DURATION:
			fprintf(fp, "%u\n", *(const unsigned *)f);
			break;
		case K_MSEC:
			fprintf(fp, "%ums\n", *(const unsigned *)f);
			break;
		case K_SIZE:
			fprintf(fp, "%zu\n", *(const size_t *)f);
			break;
		case K_FORMAT:
			fprintf(fp, "%s\n", c->mailbox_format == MBOX_FMT_MBOX
						    ? "mbox" : "maildir");
			break;
		case K_CHOICE:
			fprintf(fp, "%s\n", conf_choice_name(k->name,
						*(const unsigned *)f));
			break;
		default:
			fprintf(fp, "%s\n", *(char *const *)f ? *(char *const *)f
							       : "");
			break;
		}
	}
}

bool
conf_is_local_domain(const struct conf *c, const char *domain)
{
	size_t n = strlen(domain);
	const char *p = c->domains;

	while (p != NULL && *p != '\0') {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == n && strncasecmp(p, domain, n) == 0)
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

bool
conf_domain(const struct conf *c, size_t i, char *out, size_t size)
{
	const char *p = c->domains;
	size_t len;

	for (; i > 0 && p != NULL; i--)
		if ((p = strchr(p, ',')) != NULL)
			p++;
	if (p == NULL || *p == '\0' || size == 0)
		return false;
	len = strcspn(p, ",");
	if (len >= size)
		len = size - 1;
	memcpy(out, p, len);
	out[len] = '\0';
	return true;
}

const char *
conf_first_domain(const struct conf *c, char *out, size_t size)
{
	if (!conf_domain(c, 0, out, size) && size > 0)
		out[0] = '\0';
	return out;
}

int
conf_hostport(const char *v, unsigned defport, char *host, size_t size,
	      unsigned *port)
{
	const char *colon, *hs;
	struct in6_addr a6;
	size_t hl;

	if (*v == '[') {
		const char *end = strchr(v, ']');

		if (end == NULL || end == v + 1)
			return -1;
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] != '\0' && colon == NULL)
			return -1;
		hs = v + 1;
		hl = (size_t)(end - hs);
	} else {
		colon = strrchr(v, ':');
		hs = v;
		hl = colon ? (size_t)(colon - v) : strlen(v);
		if (hl == 0 || !addr_domain_valid(v, hl))
			return -1;
	}
	if (hl >= size)
		return -1;
	memcpy(host, hs, hl);
	host[hl] = '\0';
	if (*v == '[' && inet_pton(AF_INET6, host, &a6) != 1)
		return -1; /* "[v6]" holds an IPv6 address, nothing else */
	*port = defport;
	if (colon != NULL) {
		char *e;
		unsigned long n;

		errno = 0;
		n = strtoul(colon + 1, &e, 10);
		if (!isdigit((unsigned char)colon[1]) || *e != '\0' ||
		    n == 0 || n > 65535 || errno)
			return -1;
		*port = (unsigned)n;
	}
	return 0;
}
