/*
 * owlctl - owlpost's admin tool: users and the configuration check.
 *
 *   owlctl [-c FILE] [-D DIR] [-o key=value]... user add|del|passwd|list
 *   owlctl --help | --version
 *   owlctl [-c FILE] [-D DIR] [-o key=value]... alias add|del|list
 *   owlctl [-c FILE] [-D DIR] [-o key=value]... check
 *   owlctl [-c FILE] [-D DIR] [-o key=value]... queue list|show|flush|...
 *   owlctl [-c FILE] [-D DIR] [-o key=value]... doctor DOMAIN [--json]
 *   owlctl [-c FILE] [-D DIR] [-o key=value]... spf IP SENDER [HELO] [--json]
 *
 * It reads the same configuration as owld (exit 78 on a bad key) and edits
 * the users and aliases files atomically (table_file_edit); owld notices
 * the change on the next lookup.  Exit codes: 0, 1 failure, 64 usage, 65
 * a bad name or address, 73 the data directory cannot be made, 78 config.
 * Passwords come from a no-echo prompt on a terminal, or from the first
 * line of stdin otherwise (for scripts).
 */
#include <errno.h>
#include <getopt.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "../auth/aliases.h"
#include "../auth/users.h"
#include "../lib/buf.h"
#include "../lib/conf.h"
#include "../lib/version.h"
#include "../store/store.h"
#include "../net/tls.h"
#include "owlctl.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
		"usage: owlctl [-c FILE] [-D DIR] [-o key=value]... COMMAND\n"
		"       owlctl --help | --version\n"
		"commands:\n"
		"  user add [--force] USER@DOMAIN\n"
		"                           add a user (password from stdin or "
		"prompt);\n"
		"                           --force: a domain not in domains\n"
		"  user passwd USER@DOMAIN  change a user's password\n"
		"  user del USER@DOMAIN     remove a user (mail is kept)\n"
		"  user list [--json]       list the users\n"
		"  alias add NAME ADDRESS...\n"
		"                           add an alias (NAME: postmaster or "
		"local@domain)\n"
		"  alias del NAME           remove an alias\n"
		"  alias list               list the aliases\n"
		"  queue list [--json]      list the outbound queue\n"
		"  queue show ID            a queued message's envelope and "
		"text\n"
		"  queue flush              ask owld to try everything now\n"
		"  queue delete|hold|release ID\n"
		"                           drop, hold or release a message\n"
		"  tls selfsigned [--days N] [--force]\n"
		"                           make DATA_DIR/tls/{cert,key}.pem "
		"for testing\n"
		"  dkim keygen DOMAIN [--selector S] [--algo rsa|ed25519] "
		"[--force]\n"
		"                           make DATA_DIR/dkim/DOMAIN.S.key, "
		"print its TXT record\n"
		"  dkim verify --record TXT [FILE]\n"
		"                           check a message's DKIM signatures "
		"against a key record\n"
		"  dkim bench [--algo rsa|ed25519] [--count N]\n"
		"                           CPU time of one DKIM signature and "
		"verification\n"
		"  doctor DOMAIN [--json] [-c FILE]\n"
		"                           check DOMAIN's DNS (MX, PTR, SPF, "
		"DKIM, DMARC),\n"
		"                           the TLS certificate, the open-relay "
		"test\n"
		"  spf IP SENDER [HELO] [--json]\n"
		"                           the SPF result for mail from SENDER "
		"(\"\": HELO's)\n"
		"                           sent from IP, asked in the DNS\n"
		"  check                    validate the configuration and "
		"print it\n"
		"  status [--json]          ask the running owld how it is\n"
		"  reload                   make owld reload its TLS pair, "
		"users, aliases, log\n");
}

/* Reads one line; on a terminal without echo. -1 on EOF. */
static int
read_secret(const char *prompt, char *out, size_t size)
{
	struct termios old, quiet;
	bool tty = isatty(0);
	size_t n;

	if (tty) {
		fprintf(stderr, "%s", prompt);
		tcgetattr(0, &old);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(0, TCSAFLUSH, &quiet);
	}
	if (fgets(out, (int)size, stdin) == NULL) {
		if (tty) {
			tcsetattr(0, TCSAFLUSH, &old);
			fprintf(stderr, "\n");
		}
		return -1;
	}
	if (tty) {
		tcsetattr(0, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	n = strlen(out);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = '\0';
	return 0;
}

static int
get_password(char *hash, size_t size)
{
	char pw[1024], again[1024];
	const char *err;

	if (read_secret("Password: ", pw, sizeof(pw)) == -1) {
		fprintf(stderr, "owlctl: no password given\n");
		return -1;
	}
	if (isatty(0)) {
		if (read_secret("Again: ", again, sizeof(again)) == -1 ||
		    strcmp(pw, again) != 0) {
			fprintf(stderr, "owlctl: passwords do not match\n");
			return -1;
		}
		explicit_bzero(again, sizeof(again));
	}
	if (pw[0] == '\0') {
		fprintf(stderr, "owlctl: empty password refused\n");
		return -1;
	}
	if (users_hash_password(pw, hash, size, &err) == -1) {
		fprintf(stderr, "owlctl: %s\n", err);
		return -1;
	}
	explicit_bzero(pw, sizeof(pw));
	return 0;
}

/* True if the users file has name (as normalized); false if unreadable. */
static bool
user_exists(const struct conf *c, const char *name, bool *readable)
{
	struct table_entry *v;
	size_t n;
	bool found = false;

	*readable = owlctl_load(c->users_file, users_parse, &v, &n) == 0;
	if (!*readable)
		return false;
	for (size_t i = 0; i < n && !found; i++)
		found = strcmp(v[i].key, name) == 0;
	table_entries_free(v, n);
	return found;
}

/*
 * What can be said before the password is asked: a user to add exists,
 * a user to change does not, a domain owld would not deliver to.  The
 * exit status, or 0 to go on.
 */
static int
user_precheck(const struct conf *c, enum users_edit op, const char *name,
	      bool force)
{
	const char *domain = strchr(name, '@') + 1;
	bool readable, exists = user_exists(c, name, &readable);

	if (!readable)
		return 1; /* named on stderr */
	if (op == USERS_ADD && exists) {
		fprintf(stderr, "owlctl: user %s already exists\n", name);
		return 1;
	}
	if (op != USERS_ADD && !exists) {
		fprintf(stderr, "owlctl: no such user: %s\n", name);
		return 1;
	}
	if (op == USERS_ADD && !force && !conf_is_local_domain(c, domain)) {
		fprintf(stderr, "owlctl: %s is not in domains (%s): owld would "
			"relay its mail away, not deliver it to %s; add the "
			"domain to domains, or use --force\n", domain,
			c->domains, name);
		return EX_DATAERR_CODE;
	}
	if (op == USERS_ADD && !conf_is_local_domain(c, domain))
		fprintf(stderr, "owlctl: warning: %s is not in domains (%s); "
			"owld will not accept mail for it\n", domain,
			c->domains);
	return 0;
}

/* user list */
static int
user_list(const struct conf *c)
{
	struct table_entry *v;
	size_t n;

	if (owlctl_load(c->users_file, users_parse, &v, &n) == -1)
		return 1;
	for (size_t i = 0; i < n; i++)
		printf("%s\n", v[i].key);
	table_entries_free(v, n);
	return 0;
}

static int
cmd_user(struct conf *c, int argc, char **argv)
{
	char name[512], hash[512], err[512];
	enum users_edit op;
	bool force = false;
	int rc;

	if (argc == 2 && strcmp(argv[0], "list") == 0 &&
	    strcmp(argv[1], "--json") == 0)
		return owlctl_user_list_json(c);
	if (argc == 1 && strcmp(argv[0], "list") == 0)
		return user_list(c);
	if (argc == 3 && strcmp(argv[0], "add") == 0 &&
	    (strcmp(argv[1], "--force") == 0 ||
	     strcmp(argv[2], "--force") == 0)) {
		force = true;
		if (strcmp(argv[1], "--force") == 0)
			argv[1] = argv[2];
		argc = 2;
	}
	if (argc != 2) {
		usage(stderr);
		return 64;
	}
	if (strcmp(argv[0], "add") == 0)
		op = USERS_ADD;
	else if (strcmp(argv[0], "del") == 0)
		op = USERS_DEL;
	else if (strcmp(argv[0], "passwd") == 0)
		op = USERS_PASSWD;
	else {
		usage(stderr);
		return 64;
	}
	/* a leading '-' reads as an option to people and tools */
	if (argv[1][0] == '-' ||
	    users_normalize(argv[1], name, sizeof(name)) == -1) {
		fprintf(stderr, "owlctl: invalid user name '%s' (want "
			"local@domain: letters, digits, . _ - +, not starting "
			"with '-')\n", argv[1]);
		return EX_DATAERR_CODE;
	}
	if ((rc = user_precheck(c, op, name, force)) != 0)
		return rc;
	if (op != USERS_DEL && get_password(hash, sizeof(hash)) == -1)
		return 1;
	if (mkdir(c->data_dir, 0700) == -1 && errno != EEXIST) {
		fprintf(stderr, "owlctl: %s: %s\n", c->data_dir,
			strerror(errno));
		return EX_CANTCREAT_CODE;
	}
	if (users_file_edit(c->users_file, op, name, op == USERS_DEL ? ""
								    : hash,
			    err, sizeof(err)) == -1) {
		fprintf(stderr, "owlctl: %s\n", err);
		return 1;
	}
	printf("%s %s\n", op == USERS_ADD ? "added" : op == USERS_DEL
						      ? "removed" : "updated",
	       name);
	return 0;
}

/* check: what owld would load from the users and aliases files. */
static int
check_files(const struct conf *c)
{
	struct table_entry *v;
	size_t n;
	int rc = 0;

	if (owlctl_load(c->users_file, users_parse, &v, &n) == 0) {
		printf("# users.file: %zu users\n", n);
		table_entries_free(v, n);
	} else {
		rc = -1;
	}
	if (owlctl_load(c->aliases_file, aliases_parse, &v, &n) == 0) {
		printf("# aliases.file: %zu aliases\n", n);
		table_entries_free(v, n);
	} else {
		rc = -1;
	}
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	char err[512], *cfile = NULL, *ddir = NULL, **opts = NULL;
	size_t nopts = 0;
	struct conf c;
	int ch, rc;

	conf_init(&c);
	while ((ch = getopt_long(argc, argv, "+c:D:o:hV", lopts, NULL)) !=
	       -1) {
		switch (ch) {
		case 'c': cfile = optarg; break;
		case 'D': ddir = optarg; break;
		case 'o':
			opts = xrealloc(opts, (nopts + 1) * sizeof(*opts));
			opts[nopts++] = optarg;
			break;
		case 'h':
		case 'V':
			if (ch == 'h')
				usage(stdout);
			else
				printf("owlctl (owlpost) %s\n",
				       OWLPOST_VERSION);
			free(opts);
			conf_free(&c);
			return 0;
		default: usage(stderr); return 64;
		}
	}
	argc -= optind;
	argv += optind;
	if (conf_apply(&c, cfile, opts, nopts, ddir, err, sizeof(err)) == -1)
		goto bad;
	free(opts);
	opts = NULL;
	conf_finish(&c);
	if ((rc = owlctl_become_user(&c)) != 0) {
		conf_free(&c);
		return rc;
	}
	if (argc >= 1 && strcmp(argv[0], "user") == 0)
		rc = cmd_user(&c, argc - 1, argv + 1);
	else if (argc >= 1 && strcmp(argv[0], "alias") == 0)
		rc = cmd_alias(&c, argc - 1, argv + 1);
	else if (argc >= 1 && strcmp(argv[0], "queue") == 0)
		rc = cmd_queue(&c, argc - 1, argv + 1);
	else if (argc >= 1 && strcmp(argv[0], "tls") == 0)
		rc = cmd_tls(&c, argc - 1, argv + 1);
	else if (argc >= 1 && strcmp(argv[0], "dkim") == 0)
		rc = cmd_dkim(&c, argc - 1, argv + 1);
	else if (argc >= 1 && strcmp(argv[0], "doctor") == 0)
		rc = cmd_doctor(&c, argc, argv); /* argv[0]: getopt's name */
	else if (argc >= 1 && strcmp(argv[0], "spf") == 0)
		rc = cmd_spf(&c, argc, argv); /* argv[0]: getopt's name */
	else if (argc >= 1 && strcmp(argv[0], "status") == 0)
		rc = cmd_status(&c, argc - 1, argv + 1);
	else if (argc >= 1 && strcmp(argv[0], "reload") == 0)
		rc = cmd_reload(&c, argc - 1, argv + 1);
	else if (argc == 1 && strcmp(argv[0], "check") == 0) {
		SSL_CTX *ctx = NULL;
		bool files_bad;

		conf_dump(&c, stdout);
		files_bad = check_files(&c) == -1;
		/* the same load owld does, so a bad pair shows here */
		if ((c.tls_cert[0] != '\0' || c.tls_key[0] != '\0') &&
		    (ctx = tls_server_ctx(&c, err, sizeof(err))) == NULL) {
			fprintf(stderr, "owlctl: %s\n", err);
			rc = EX_CONFIG_CODE;
		} else if (files_bad) {
			rc = 1; /* named on stderr */
		} else {
			printf("# configuration OK\n");
			rc = 0;
		}
		SSL_CTX_free(ctx);
	} else {
		usage(stderr);
		rc = 64;
	}
	conf_free(&c);
	return rc;
bad:
	fprintf(stderr, "owlctl: %s\n", err);
	free(opts);
	conf_free(&c);
	return EX_CONFIG_CODE;
}
