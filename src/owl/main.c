/*
 * owl - the user's mail client: settings (defaults, ~/.owlrc, options),
 * the terminal menus and the mailx-style batch commands.
 */
#include "owl.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define EX_USAGE 64

static struct owl_conf C = {
	.host = "localhost", .smtp_port = 587, .pop3_port = 110,
	.tls = OWL_TLS_AUTO,
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: owl [-H host] [--smtp-port N] [--pop3-port N] [-u user]\n"
"           [--tls=auto|require|off] [--cafile FILE] [--from ADDR] [command]\n"
"commands (none: the menus):\n"
"  send -s SUBJECT [-a FILE]... [-c CC] TO... < body\n"
"  list | read N | delete N | save N DIR\n");
}

static void __attribute__((noreturn))
die(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
die(int code, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "owl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(code);
}

/* ~/.owlrc (rc.c); a file that cannot be read is no settings. */
static void
load_rc(void)
{
	const char *home = getenv("HOME");
	char path[4096], bad[64], chunk[8192];
	struct buf *b;
	unsigned lineno;
	size_t n;
	FILE *f;

	if (home == NULL || bsnprintf(path, sizeof(path), "%s/.owlrc", home)
	    == -1 || (f = fopen(path, "r")) == NULL)
		return;
	b = buf_new(OWL_RC_MAX);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_add(b, chunk, n) == -1)
			die(1, "%s: larger than %u octets", path, OWL_RC_MAX);
	fclose(f);
	if (owl_rc_parse(&C, b->data, b->len, &lineno, bad, sizeof(bad))
	    == -1)
		die(1, "%s:%u: bad setting \"%s\"", path, lineno, bad);
	buf_free(&b);
}

/* A line from stdin without its line end; NULL at the end of input. */
static char *
input(const char *prompt)
{
	static char *line;
	static size_t cap;
	ssize_t n;

	if (prompt != NULL) {
		fputs(prompt, stdout);
		fflush(stdout);
	}
	n = getline(&line, &cap, stdin);
	if (n == -1)
		return NULL;
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

/* The terminal's settings while the password is asked without echo. */
static struct termios tty_saved;
static volatile sig_atomic_t tty_fd = -1;

/* Ctrl-C at the password prompt: the echo comes back before owl goes. */
static void
tty_restore_and_die(int sig)
{
	if (tty_fd != -1)
		tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * The password: OWL_PASSWORD, else asked on the terminal without echo;
 * false at the end of input (Ctrl-D) at that prompt.
 */
static bool
get_password(void)
{
	const char *env = getenv("OWL_PASSWORD");
	struct sigaction sa, old_int, old_term;
	struct termios quiet;
	FILE *tty;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (C.pass != NULL)
		return true;
	if (env != NULL) {
		C.pass = xstrdup(env);
		return true;
	}
	tty = fopen("/dev/tty", "r+");
	if (tty == NULL)
		return true; /* no terminal: no password, no AUTH */
	fputs("Password: ", tty);
	fflush(tty);
	if (tcgetattr(fileno(tty), &tty_saved) == 0) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = tty_restore_and_die;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, &old_int);
		sigaction(SIGTERM, &sa, &old_term);
		tty_fd = fileno(tty); /* before the change: never too late */
		quiet = tty_saved;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(tty_fd, TCSAFLUSH, &quiet);
	}
	n = getline(&line, &cap, tty);
	if (tty_fd != -1) {
		tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
		tty_fd = -1;
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
	}
	fputs("\n", tty);
	fclose(tty);
	if (n == -1) {
		free(line);
		return false;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	C.pass = line;
	return true;
}

static const char *
default_from(void)
{
	if (C.from[0] != '\0')
		return C.from;
	if (strchr(C.user, '@') != NULL)
		return C.user;
	return NULL;
}

static bool
need_user(void)
{
	if (C.user[0] == '\0') {
		const char *u = input("User: ");

		if (u == NULL)
			return false;
		bsnprintf(C.user, sizeof(C.user), "%s", u);
	}
	return get_password();
}

/* ---- sending ---- */

static int
send_mail(const char *from, const char *to, const char *cc,
	  const char *subject, const char *body, size_t bodylen,
	  const char *const *files, size_t nfiles, char *err, size_t errsz)
{
	const char *rcpts[OWL_RCPTS_MAX];
	char *store = NULL, *all;
	size_t n;
	struct buf *msg;
	int rc;

	if (cc != NULL && cc[0] != '\0') {
		size_t l = strlen(to) + strlen(cc) + 2;

		all = xmalloc(l);
		snprintf(all, l, "%s,%s", to, cc);
	} else {
		all = xstrdup(to);
	}
	if (!owl_addrs(all, &store, rcpts, &n, OWL_RCPTS_MAX, err, errsz)) {
		free(all);
		free(store);
		return -2;
	}
	msg = buf_new(OWL_MSG_MAX);
	rc = owl_compose(from, to, cc, subject, body, bodylen, files, nfiles,
			 msg, err, errsz);
	if (rc == 0)
		rc = owl_smtp_send(&C, from, rcpts, n, msg->data, msg->len,
				   err, errsz);
	buf_free(&msg);
	free(all);
	free(store);
	return rc;
}

/* A list of at most OWL_RCPTS_MAX user@domain addresses. */
static bool
addrs_ok(const char *list)
{
	const char *r[OWL_RCPTS_MAX];
	char *store = NULL, err[1024];
	size_t n;
	bool ok = owl_addrs(list, &store, r, &n, OWL_RCPTS_MAX, err,
			    sizeof(err));

	free(store);
	return ok;
}

/* One address (From), with the same rules as the recipients. */
static bool
one_addr(const char *s)
{
	return strchr(s, ',') == NULL && addrs_ok(s);
}

/* The Send mail menu item; false at the end of input. */
static bool
menu_send(void)
{
	char from[256], err[1024], *to = NULL, *subject = NULL;
	const char *files[OWL_ATTS_MAX], *dflt = default_from(), *l;
	char *fcopy[OWL_ATTS_MAX];
	struct buf *body = buf_new(OWL_MSG_MAX / 2);
	size_t nfiles = 0;
	bool more = true;
	int rc;

	if (dflt != NULL)
		printf("From [%s]: ", dflt);
	if ((l = input(dflt != NULL ? NULL : "From: ")) == NULL)
		goto eof;
	/* an address cut short to fit would be someone else's: refused */
	if (bsnprintf(from, sizeof(from), "%s",
		      l[0] == '\0' && dflt ? dflt : l) == -1 ||
	    !one_addr(from)) {
		printf("Incorrect format\n");
		goto done;
	}
	if ((l = input("To: ")) == NULL)
		goto eof;
	to = xstrdup(l);
	if (!addrs_ok(to)) {
		printf("Incorrect format\n");
		goto done;
	}
	if ((l = input("Subject: ")) == NULL)
		goto eof;
	subject = xstrdup(l);
	printf("Message: (end with a line with a single \".\")\n");
	for (;;) {
		if ((l = input(NULL)) == NULL)
			goto eof;
		if (strcmp(l, ".") == 0)
			break;
		if (buf_addstr(body, l) == -1 || buf_addc(body, '\n') == -1) {
			printf("Message too long\n");
			goto done;
		}
	}
	while (nfiles < OWL_ATTS_MAX) {
		if ((l = input("Attachment: ")) == NULL)
			goto eof;
		if (l[0] == '\0')
			break;
		if (access(l, R_OK) != 0) {
			printf("Cannot attach %s: %s\n", l, strerror(errno));
			continue;
		}
		fcopy[nfiles] = xstrdup(l);
		files[nfiles] = fcopy[nfiles];
		nfiles++;
	}
	rc = send_mail(from, to, NULL, subject, body->data ? body->data : "",
		       body->len, files, nfiles, err, sizeof(err));
	if (rc == 0)
		printf("Mail sent successfully\n");
	else
		printf("Error in sending mail: %s\n", err);
	goto done;
eof:
	more = false;
done:
	for (size_t i = 0; i < nfiles; i++)
		free(fcopy[i]);
	free(to);
	free(subject);
	buf_free(&body);
	return more;
}

/* ---- reading ---- */

struct box {
	struct owl_pop3 *s;
	struct owl_entry *e;
	size_t count;
};

/* A POP3 failure: QUIT if the connection still works, one line, exit. */
static void __attribute__((noreturn))
pop3_die(struct box *b, const char *err)
{
	char e2[512];

	owl_pop3_close(&b->s, e2, sizeof(e2));
	die(1, "%s", err);
}

static void
box_open(struct box *b)
{
	char err[1024];
	unsigned long *nums, *sizes;
	struct buf *hdr = buf_new(OWL_MSG_MAX);

	memset(b, 0, sizeof(*b));
	b->s = owl_pop3_open(&C, err, sizeof(err));
	if (b->s == NULL)
		die(1, "%s", err);
	if (owl_pop3_list(b->s, &nums, &sizes, &b->count, err, sizeof(err))
	    == -1)
		pop3_die(b, err);
	b->e = xcalloc(b->count + 1, sizeof(*b->e));
	for (size_t i = 0; i < b->count; i++) {
		b->e[i].n = nums[i];
		b->e[i].size = sizes[i];
		buf_reset(hdr);
		if (owl_pop3_fetch(b->s, nums[i], 0, hdr, err, sizeof(err))
		    == -1)
			pop3_die(b, err);
		owl_entry_fill(&b->e[i], hdr->data ? hdr->data : "", hdr->len);
	}
	free(nums);
	free(sizes);
	buf_free(&hdr);
}

static void
box_close(struct box *b)
{
	char err[1024];

	free(b->e);
	b->e = NULL;
	if (owl_pop3_close(&b->s, err, sizeof(err)) == -1)
		die(1, "%s", err);
}

/* The entry for message number text, or NULL. */
static struct owl_entry *
box_find(struct box *b, const char *text)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || text[0] == '-')
		return NULL;
	for (size_t i = 0; i < b->count; i++)
		if (b->e[i].n == n && !b->e[i].deleted)
			return &b->e[i];
	return NULL;
}

static void
box_fetch(struct box *b, unsigned long n, struct buf *msg)
{
	char err[1024];

	if (owl_pop3_fetch(b->s, n, -1, msg, err, sizeof(err)) == -1)
		pop3_die(b, err);
}

/* The Manage mail menu item; false at the end of input. */
static bool
menu_manage(void)
{
	struct box b;
	struct buf *msg = buf_new(OWL_MSG_MAX);
	bool more = true, relist = true;

	box_open(&b);
	for (;;) {
		struct owl_entry *e;
		const char *l;
		size_t natts;
		char err[1024];

		if (relist)
			owl_print_list(b.e, b.count);
		relist = false;
		if ((l = input("Enter mail no. to see: ")) == NULL) {
			more = false;
			break;
		}
		if (strcmp(l, "-1") == 0)
			break;
		if ((e = box_find(&b, l)) == NULL) {
			printf("Mail no. out of range, give again\n");
			continue;
		}
		buf_reset(msg);
		box_fetch(&b, e->n, msg);
		printf("\n");
		natts = owl_show(msg->data ? msg->data : "", msg->len);
		relist = true;
		for (;;) {
			printf("\n%sd: delete, any other key: back to the "
			       "list\n", natts > 0 ? "s: save attachments, " :
			       "");
			if ((l = input("> ")) == NULL) {
				more = false;
				goto out;
			}
			if (natts > 0 && strcmp(l, "s") == 0) {
				if (owl_save(msg->data, msg->len, ".", err,
					     sizeof(err)) == -1)
					printf("Error in saving: %s\n", err);
				continue;
			}
			if (strcmp(l, "d") == 0) {
				if (owl_pop3_dele(b.s, e->n, err, sizeof(err))
				    == -1)
					pop3_die(&b, err);
				e->deleted = true;
				printf("Mail deleted\n");
			}
			break;
		}
	}
out:
	buf_free(&msg);
	box_close(&b);
	return more;
}

static int
interactive(void)
{
	const char *l;

	if (!need_user())
		return 0;
	for (;;) {
		printf("\n1. Manage mail   2. Send mail   3. Quit\n");
		if ((l = input("Choice: ")) == NULL)
			break;
		if (strcmp(l, "1") == 0) {
			if (!menu_manage())
				break;
		} else if (strcmp(l, "2") == 0) {
			if (!menu_send())
				break;
		} else if (strcmp(l, "3") == 0 || strcmp(l, "q") == 0) {
			break;
		} else if (l[0] != '\0') {
			printf("Choose 1, 2 or 3\n");
		}
	}
	printf("\n");
	return 0;
}

/* ---- batch ---- */

static int
batch_send(int argc, char **argv)
{
	static const struct option opts[] = {{NULL, 0, NULL, 0}};
	const char *subject = "", *cc = NULL, *from = default_from();
	const char *files[OWL_ATTS_MAX];
	size_t nfiles = 0, tl = 0;
	struct buf *body = buf_new(OWL_MSG_MAX / 2);
	char err[1024], chunk[65536];
	struct buf *to;
	size_t n;
	int ch, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "+s:a:c:r:", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			subject = optarg;
			break;
		case 'a':
			if (nfiles == OWL_ATTS_MAX)
				die(1, "more than %d attachments",
				    OWL_ATTS_MAX);
			files[nfiles++] = optarg;
			break;
		case 'c':
			cc = optarg;
			break;
		case 'r':
			from = optarg;
			break;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EX_USAGE;
	}
	if (from == NULL)
		die(1, "no sender address: set from in ~/.owlrc, --from or "
		       "-r, or a user name with a domain");
	if (!one_addr(from))
		die(1, "Incorrect format: %s", from);
	/* the recipients as one "a, b, c" list */
	for (int i = optind; i < argc; i++)
		tl += strlen(argv[i]) + 2;
	to = buf_new(tl + 1);
	for (int i = optind; i < argc; i++)
		buf_printf(to, "%s%s", i > optind ? ", " : "", argv[i]);
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		if (buf_add(body, chunk, n) == -1)
			die(1, "message text larger than %u MiB",
			    OWL_MSG_MAX >> 21);
	if (ferror(stdin))
		die(1, "reading the message text: %s", strerror(errno));
	if (!get_password())
		die(1, "no password given");
	rc = send_mail(from, to->data, cc, subject,
		       body->data ? body->data : "", body->len, files, nfiles,
		       err, sizeof(err));
	buf_free(&to);
	buf_free(&body);
	if (rc == -2)
		die(1, "Incorrect format: %s", err);
	if (rc != 0)
		die(1, "Error in sending mail: %s", err);
	return 0;
}

static int
batch_mailbox(int argc, char **argv)
{
	const char *cmd = argv[0];
	struct box b;
	struct owl_entry *e = NULL;
	struct buf *msg;
	char err[1024];
	int want = strcmp(cmd, "list") == 0 ? 1 :
		   strcmp(cmd, "save") == 0 ? 3 : 2;

	if (argc != want) {
		usage(stderr);
		return EX_USAGE;
	}
	if (!get_password())
		die(1, "no password given");
	box_open(&b);
	if (want == 1) {
		owl_print_list(b.e, b.count);
		box_close(&b);
		return 0;
	}
	if ((e = box_find(&b, argv[1])) == NULL) {
		snprintf(err, sizeof(err), "no message %s", argv[1]);
		pop3_die(&b, err);
	}
	if (strcmp(cmd, "delete") == 0) {
		if (owl_pop3_dele(b.s, e->n, err, sizeof(err)) == -1)
			pop3_die(&b, err);
		box_close(&b);
		return 0;
	}
	msg = buf_new(OWL_MSG_MAX);
	box_fetch(&b, e->n, msg);
	box_close(&b);
	if (strcmp(cmd, "read") == 0) {
		owl_show(msg->data ? msg->data : "", msg->len);
	} else if (owl_save(msg->data ? msg->data : "", msg->len, argv[2],
			    err, sizeof(err)) == -1) {
		buf_free(&msg);
		die(1, "%s", err);
	}
	buf_free(&msg);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"smtp-port", required_argument, NULL, 'S'},
		{"pop3-port", required_argument, NULL, 'P'},
		{"tls", required_argument, NULL, 'T'},
		{"cafile", required_argument, NULL, 'A'},
		{"from", required_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *key;
	int ch;

	setvbuf(stdout, NULL, _IOLBF, 0);
	load_rc();
	while ((ch = getopt_long(argc, argv, "+H:u:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'H': key = "host"; break;
		case 'u': key = "user"; break;
		case 'S': key = "smtp-port"; break;
		case 'P': key = "pop3-port"; break;
		case 'T': key = "tls"; break;
		case 'A': key = "cafile"; break;
		case 'F': key = "from"; break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
		if (owl_conf_set(&C, key, optarg) == -1)
			die(EX_USAGE, "bad value for %s: \"%s\"", key, optarg);
	}
	argc -= optind;
	argv += optind;
	if (C.user[0] == '\0' && argc > 0 && getenv("USER") != NULL)
		bsnprintf(C.user, sizeof(C.user), "%s", getenv("USER"));
	if (argc == 0)
		return interactive();
	if (strcmp(argv[0], "send") == 0)
		return batch_send(argc, argv);
	if (strcmp(argv[0], "list") == 0 || strcmp(argv[0], "read") == 0 ||
	    strcmp(argv[0], "delete") == 0 || strcmp(argv[0], "save") == 0)
		return batch_mailbox(argc, argv);
	usage(stderr);
	return EX_USAGE;
}
