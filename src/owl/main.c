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
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include "../lib/version.h"
#include "../mime/mime.h"
#include "../proto/imap_utf7.h"

#define EX_USAGE 64
#define EX_PARTIAL 2	/* sent to some recipients, refused for others */

static struct owl_conf C = {
	.host = "localhost", .smtp_port = 587, .pop3_port = 110,
	.imap_port = 143, .tls = OWL_TLS_AUTO, .protocol = OWL_PROTO_AUTO,
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: owl [-H host] [--smtp-port N] [--pop3-port N] [--imap-port N]\n"
"           [--protocol=auto|imap|pop3] [-u user] [--tls=auto|require|off]\n"
"           [--cafile FILE] [--from ADDR] [command]\n"
"       owl --help | --version\n"
"commands (none: the menus):\n"
"  send -s SUBJECT [-a FILE]... [-c CC] [-r FROM] TO... < body\n"
"  list | read N | delete N | save N DIR  (each: [-f FOLDER] over IMAP)\n"
"  folders\n"
"exit status: 0 ok, 1 failure, 2 sent to some recipients only, 64 usage\n");
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

/* ---- input ---- */

/* What reading a line gave. */
enum in {
	IN_LINE,		/* a line */
	IN_EOF,			/* end of input (Ctrl-D) */
	IN_INTR,		/* Ctrl-C while composing */
};

/* Set by the SIGINT handler while a message is composed; only read. */
static volatile sig_atomic_t got_intr;
static volatile sig_atomic_t composing;

static void
on_intr(int sig)
{
	(void)sig;
	got_intr = 1;
}

/*
 * While composing, Ctrl-C interrupts the read (no SA_RESTART) and the
 * menu asks what to do with the draft; the handler only sets a flag.
 */
static void
compose_signals(bool on)
{
	static struct sigaction old;
	struct sigaction sa;

	if (on) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_intr;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, &old);
	} else {
		sigaction(SIGINT, &old, NULL);
	}
	composing = on;
	got_intr = 0;
}

/* Holds Ctrl-C back while a message goes out, dropping it after. */
static void
hold_intr(bool hold)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigprocmask(hold ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
	if (!hold)
		got_intr = 0;
}

/* A line from stdin without its line end in *l (valid to the next). */
static enum in
read_line(const char *prompt, const char **l)
{
	static char *line;
	static size_t cap;
	ssize_t n;

	if (got_intr)
		return IN_INTR;
	if (prompt != NULL) {
		fputs(prompt, stdout);
		fflush(stdout);
	}
	n = getline(&line, &cap, stdin);
	if (n == -1 && got_intr) {
		clearerr(stdin);
		printf("\n");
		return IN_INTR;
	}
	if (n == -1)
		return IN_EOF;
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	*l = line;
	return IN_LINE;
}

/* A line from stdin without its line end; NULL at the end of input. */
static const char *
input(const char *prompt)
{
	const char *l;

	return read_line(prompt, &l) == IN_LINE ? l : NULL;
}

/* ---- the password ---- */

#define LOGIN_TRIES 3

/* The terminal's settings while the password is asked without echo. */
static struct termios tty_saved;
static volatile sig_atomic_t tty_fd = -1;

/*
 * Ctrl-C at the password prompt: the echo comes back before owl goes;
 * while composing it only interrupts the read (the draft is asked for).
 */
static void
tty_restore_and_die(int sig)
{
	if (composing) {
		got_intr = 1;
		return;
	}
	if (tty_fd != -1)
		tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Reads a line from tty with the echo off; -1 at its end. */
static ssize_t
read_quietly(FILE *tty, char **line, size_t *cap)
{
	struct sigaction sa, old_int, old_term;
	struct termios quiet;
	ssize_t n;

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
	n = getline(line, cap, tty);
	if (tty_fd != -1) {
		tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
		tty_fd = -1;
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
	}
	return n;
}

/*
 * The password asked on the terminal without echo into C.pass: 1, 0 at
 * the end of input (Ctrl-D) or Ctrl-C while composing, -1 with no
 * terminal.
 */
static int
ask_password(void)
{
	FILE *tty = fopen("/dev/tty", "r+");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (tty == NULL)
		return -1;
	fputs("Password: ", tty);
	fflush(tty);
	n = read_quietly(tty, &line, &cap);
	fputs("\n", tty);
	fclose(tty);
	if (n == -1) {
		free(line);
		return 0;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	free(C.pass);
	C.pass = line;
	return 1;
}

/*
 * The password: OWL_PASSWORD, else asked on the terminal without echo;
 * false at the end of input (Ctrl-D) at that prompt.  No terminal: no
 * password, no AUTH.
 */
static bool
get_password(void)
{
	const char *env = getenv("OWL_PASSWORD");

	if (C.pass != NULL)
		return true;
	if (env != NULL) {
		C.pass = xstrdup(env);
		return true;
	}
	return ask_password() != 0;
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

struct mail {
	const char *from, *to, *cc, *subject, *body;
	size_t bodylen;
	const char *const *files;
	size_t nfiles;
	const struct owl_thread *th;	/* a reply's or forward's; NULL */
};

/* Each recipient's outcome, a line each. */
static void
report_rcpts(FILE *f, const struct owl_sent *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s->r[i].code / 100 == 2)
			fprintf(f, "  sent to %s\n", s->r[i].addr);
		else
			fprintf(f, "  refused for %s: %s\n", s->r[i].addr,
				s->r[i].text);
	}
}

/*
 * What a send did: on stdout in the menus, on stderr (after "owl: ") in
 * batch mode, where all sent says nothing.  A login refused in the
 * menus is reported by the caller, which asks again.
 */
static void
report_send(int rc, const struct owl_sent *s, size_t n, bool batch,
	    const char *err)
{
	FILE *f = batch ? stderr : stdout;
	const char *pre = batch ? "owl: " : "";
	size_t ok = 0, replied = 0;

	for (size_t i = 0; i < n; i++) {
		ok += s->r[i].code / 100 == 2;
		replied += s->r[i].code != 0;
	}
	if (s->no_auth)
		fprintf(stderr, "owl: warning: %s offers no AUTH; the mail "
			"was sent without logging in\n", C.host);
	if (rc == 0 && !batch)
		printf("Mail sent successfully\n");
	else if (rc == 1)
		fprintf(f, "%sMail sent to %zu of %zu recipients:\n", pre, ok,
			n);
	else if (rc == -1 && (batch || !s->login_refused))
		fprintf(f, "%sError in sending mail: %s\n", pre, err);
	if (rc == 1 || (rc == -1 && n > 1 && replied > 0))
		report_rcpts(f, s, n);
}

static bool use_imap(void);

/*
 * Over IMAP, a copy of a message sent goes to the Sent folder (APPEND);
 * said in the menus, a failure said in both (the mail went out anyway).
 */
static void
keep_sent_copy(const struct buf *msg, bool batch)
{
	struct owl_imap *im;
	char err[1024], where[512];
	int rc;

	if (C.protocol == OWL_PROTO_POP3 || !use_imap())
		return;
	if ((im = owl_imap_open(&C, err, sizeof(err))) == NULL)
		rc = -1;
	else
		rc = owl_imap_append_sent(im, msg->data, msg->len, where,
					  sizeof(where), err, sizeof(err));
	owl_imap_close(&im);
	if (rc == -1)
		fprintf(stderr, "owl: warning: no copy in Sent: %s\n", err);
	else if (rc == 0)
		fprintf(stderr, "owl: warning: no Sent folder for a copy\n");
	else if (!batch)
		printf("A copy is in %s\n", where);
}

/*
 * Sends m and reports each recipient (report_send).  0 all sent, 1 some,
 * -1 none (err), -2 a bad address (err names it).
 */
static int
send_mail(const struct mail *m, bool batch, struct owl_sent *sent,
	  char *err, size_t errsz)
{
	const char *rcpts[OWL_RCPTS_MAX];
	struct owl_rcpt res[OWL_RCPTS_MAX];
	char *store = NULL, *all;
	size_t n;
	struct buf *msg;
	int rc;

	memset(sent, 0, sizeof(*sent));
	if (m->cc != NULL && m->cc[0] != '\0') {
		size_t l = strlen(m->to) + strlen(m->cc) + 2;

		all = xmalloc(l);
		snprintf(all, l, "%s,%s", m->to, m->cc);
	} else {
		all = xstrdup(m->to);
	}
	if (!owl_addrs(all, &store, rcpts, &n, OWL_RCPTS_MAX, err, errsz)) {
		free(all);
		free(store);
		return -2;
	}
	sent->r = res;
	msg = buf_new(OWL_MSG_MAX);
	rc = owl_compose(m->from, m->to, m->cc, m->subject, m->body,
			 m->bodylen, m->files, m->nfiles, m->th, msg, err,
			 errsz);
	if (rc == 0)
		rc = owl_smtp_send(&C, m->from, rcpts, n, msg->data, msg->len,
				   sent, err, errsz);
	else
		n = 0; /* nothing was tried */
	report_send(rc, sent, n, batch, err);
	if (rc == 0 || rc == 1)
		keep_sent_copy(msg, batch);
	sent->r = NULL;
	buf_free(&msg);
	free(all);
	free(store);
	return rc;
}

/* A list of at most OWL_RCPTS_MAX user@domain addresses. */
static bool
addrs_ok(const char *list, char *err, size_t errsz)
{
	const char *r[OWL_RCPTS_MAX];
	char *store = NULL;
	size_t n;
	bool ok = owl_addrs(list, &store, r, &n, OWL_RCPTS_MAX, err, errsz);

	free(store);
	return ok;
}

/* One address (From), with the same rules as the recipients. */
static bool
one_addr(const char *s)
{
	char err[1024];

	return strchr(s, ',') == NULL && addrs_ok(s, err, sizeof(err));
}

/* ---- composing (the Send mail menu) ---- */

/* Keeps the draft in ~/dead.letter and says so on stderr. */
static void
keep_draft(const struct owl_draft *d)
{
	char path[4096], err[1024];

	if (owl_draft_save(d, path, sizeof(path), err, sizeof(err)) == -1)
		fprintf(stderr, "owl: the message could not be saved: %s\n",
			err);
	else
		fprintf(stderr, "owl: message saved to %s\n", path);
}

static bool
is_answer(const char *l, const char *yes)
{
	return strcasecmp(l, yes) == 0 || (l[0] != '\0' && l[1] == '\0' &&
					   (l[0] | 0x20) == yes[0]);
}

/*
 * Asks question until y or n: y discards, n (or end of input, or
 * Ctrl-C) saves the draft.  IN_EOF at the end of input, else IN_LINE.
 */
static enum in
discard_or_save(const struct owl_draft *d, const char *question)
{
	const char *l;

	for (;;) {
		enum in r = read_line(question, &l);

		got_intr = 0;
		if (r == IN_LINE && is_answer(l, "yes")) {
			printf("Message discarded\n");
			return IN_LINE;
		}
		if (r != IN_LINE || is_answer(l, "no")) {
			keep_draft(d);
			return r == IN_EOF ? IN_EOF : IN_LINE;
		}
	}
}

/* Ctrl-C while composing: nothing typed is lost without a yes. */
static enum in
after_intr(const struct owl_draft *d)
{
	got_intr = 0;
	if (!owl_draft_has_content(d)) {
		printf("Message cancelled\n");
		return IN_LINE;
	}
	return discard_or_save(d, "Discard the message? (y = discard, "
			       "n = save to ~/dead.letter) ");
}

static enum in
ask_from(struct owl_draft *d)
{
	const char *dflt = default_from(), *l;
	struct buf *prompt = buf_new(512);
	enum in r;

	if (dflt != NULL)
		buf_printf(prompt, "From [%s]: ", dflt);
	else
		buf_addstr(prompt, "From: ");
	/* an address cut short to fit would be someone else's: refused */
	while ((r = read_line(prompt->data, &l)) == IN_LINE) {
		if (l[0] == '\0' && dflt != NULL)
			l = dflt;
		if (strlen(l) < sizeof(C.from) && one_addr(l)) {
			d->from = xstrdup(l);
			break;
		}
		printf("Incorrect format in From: give one address, "
		       "user@domain\n");
	}
	buf_free(&prompt);
	return r;
}

/*
 * The prompt for a field: "Name: ", or with what a reply or forward put
 * there already, kept by Enter: "Name [value] (Enter keeps it): ".
 */
static void
field_prompt(const char *name, const char *dflt, struct buf *prompt)
{
	buf_reset(prompt);
	if (dflt == NULL)
		buf_printf(prompt, "%s: ", name);
	else if (buf_printf(prompt, "%s [%s] (Enter keeps it): ", name,
			    dflt) == -1)
		buf_printf(prompt, "%s [%.200s...] (Enter keeps it): ", name,
			   dflt);
}

/* A field's answer: Enter keeps what was there (if anything). */
static void
set_field(char **field, const char *l)
{
	char *old = *field;

	if ((l[0] == '\0' && old != NULL) || l == old)
		return;
	*field = xstrdup(l);
	free(old);
}

static enum in
ask_to(struct owl_draft *d)
{
	struct buf *prompt = buf_new(4096);
	char err[1024];
	const char *l;
	enum in r;

	field_prompt("To", d->to, prompt);
	while ((r = read_line(prompt->data, &l)) == IN_LINE) {
		if (l[0] == '\0' && d->to != NULL)
			l = d->to;
		if (addrs_ok(l, err, sizeof(err))) {
			set_field(&d->to, l);
			break;
		}
		if (strncmp(err, "more than ", 10) == 0 ||
		    strcmp(err, "no address") == 0)
			printf("Incorrect format in To: %s\n", err);
		else
			printf("Incorrect format in To: \"%s\" is not an "
			       "address user@domain (separate addresses "
			       "with commas)\n", err);
	}
	buf_free(&prompt);
	return r;
}

static enum in
ask_subject(struct owl_draft *d)
{
	struct buf *prompt = buf_new(4096);
	const char *l;
	enum in r;

	field_prompt("Subject", d->subject, prompt);
	r = read_line(prompt->data, &l);
	if (r == IN_LINE)
		set_field(&d->subject, l);
	buf_free(&prompt);
	return r;
}

/* Prints text for the terminal (escape sequences made harmless). */
static void
print_quote(const struct buf *q)
{
	struct buf *b = buf_new(q->len * 2 + 16);

	mime_safe_text(q->data ? q->data : "", q->len, b);
	if (b->len > 0)
		fwrite(b->data, 1, b->len, stdout);
	buf_free(&b);
}

/* The text in $EDITOR: the quote above or below an empty line. */
static bool
edit_text(struct owl_draft *d, const char *editor)
{
	struct buf *start = buf_new(OWL_MSG_MAX / 2 + 2);
	char err[1024];
	int rc;

	if (d->quote != NULL && !d->quote_after)
		buf_add(start, d->quote->data, d->quote->len);
	buf_addc(start, '\n');
	if (d->quote != NULL && d->quote_after) {
		buf_addc(start, '\n');
		buf_add(start, d->quote->data, d->quote->len);
	}
	rc = owl_edit(editor, start->data, start->len, d->body, err,
		      sizeof(err));
	buf_free(&start);
	if (rc == -1) {
		buf_reset(d->body);
		printf("%s; type the text here instead.\n", err);
		return false;
	}
	printf("Message: %zu bytes from the editor\n", d->body->len);
	return true;
}

/* The forwarded block (below what was typed), even at end of input. */
static void
add_quote_after(struct owl_draft *d)
{
	if (d->quote == NULL || !d->quote_after)
		return;
	if (d->body->len > 0)
		buf_addc(d->body, '\n');
	if (buf_add(d->body, d->quote->data, d->quote->len) == -1)
		printf("Message too long: the forwarded text was left out\n");
}

/*
 * The message text: in $EDITOR when set (and it works), else line by
 * line to a "." line, under a reply's quote or above a forwarded block.
 */
static enum in
ask_text(struct owl_draft *d)
{
	const char *editor = getenv("EDITOR"), *l;
	enum in r;

	if (editor != NULL && editor[0] != '\0' && edit_text(d, editor))
		return IN_LINE;
	if (d->quote != NULL && !d->quote_after) {
		print_quote(d->quote);
		buf_add(d->body, d->quote->data, d->quote->len);
		printf("Message: (what you type goes below the quoted text; "
		       "end with a line with a single \".\")\n");
	} else if (d->quote != NULL) {
		printf("Message: (the forwarded message goes below what you "
		       "type; end with a line with a single \".\")\n");
	} else {
		printf("Message: (end with a line with a single \".\")\n");
	}
	while ((r = read_line(NULL, &l)) == IN_LINE && strcmp(l, ".") != 0)
		if (buf_addstr(d->body, l) == -1 ||
		    buf_addc(d->body, '\n') == -1)
			printf("Message too long (at most %u MiB): that line "
			       "was not kept; end with \".\"\n",
			       OWL_MSG_MAX >> 21);
	add_quote_after(d);
	return r;
}

static enum in
ask_files(struct owl_draft *d)
{
	const char *l;
	enum in r = IN_LINE;

	while (d->nfiles < OWL_ATTS_MAX &&
	       (r = read_line("Attachment (empty line to finish): ", &l)) ==
		       IN_LINE && l[0] != '\0') {
		if (access(l, R_OK) != 0)
			printf("Cannot attach %s: %s\n", l, strerror(errno));
		else
			d->files[d->nfiles++] = xstrdup(l);
	}
	return r;
}

/* The prompts in the seed's order: From, To, Subject, text, files. */
static enum in
compose(struct owl_draft *d)
{
	enum in r;

	if ((r = ask_from(d)) != IN_LINE || (r = ask_to(d)) != IN_LINE ||
	    (r = ask_subject(d)) != IN_LINE || (r = ask_text(d)) != IN_LINE)
		return r;
	return ask_files(d);
}

/* One try at sending the draft; see send_mail. */
static int
send_draft_once(const struct owl_draft *d, struct owl_sent *sent)
{
	struct owl_thread th = {d->in_reply_to, d->references, d->fwd,
				d->nfwd};
	struct mail m = {d->from, d->to, NULL, d->subject,
			 d->body->data ? d->body->data : "", d->body->len,
			 (const char *const *)d->files, d->nfiles, &th};
	char err[1024];
	int rc;

	hold_intr(true);
	rc = send_mail(&m, false, sent, err, sizeof(err));
	hold_intr(false);
	if (rc == -1 && sent->login_refused)
		printf("Login failed: %s\n", err);
	if (rc == -2) { /* the prompts checked them: not expected */
		printf("Incorrect format: %s\n", err);
		rc = -1;
	}
	return rc;
}

/*
 * Sends the draft; a refused login asks the password again, up to
 * LOGIN_TRIES in all.  A draft not sent is never dropped unasked.
 */
static enum in
send_draft(const struct owl_draft *d)
{
	struct owl_sent sent;

	for (int tries = 1;; tries++) {
		int rc = send_draft_once(d, &sent), pw;

		if (rc != -1)
			return IN_LINE;
		if (!sent.login_refused || tries == LOGIN_TRIES)
			break;
		pw = ask_password();
		if (pw == 0 && got_intr)
			return IN_INTR;
		if (pw == 0) {
			keep_draft(d); /* end of input, as in the text */
			return IN_EOF;
		}
		if (pw == -1)
			break;
	}
	if (sent.login_refused)
		printf("The login failed %d times.\n", LOGIN_TRIES);
	return discard_or_save(d, "The message was not sent.  Discard it? "
			       "(y = discard, n = save to ~/dead.letter) ");
}

/* Composes and sends draft d (and frees it); false at end of input. */
static bool
compose_and_send(struct owl_draft *d)
{
	enum in r;

	compose_signals(true);
	r = compose(d);
	if (r == IN_LINE)
		r = send_draft(d); /* keeps the draft itself if need be */
	else if (r == IN_EOF && owl_draft_has_content(d))
		keep_draft(d); /* as mail(1) does at end of input */
	if (r == IN_INTR)
		r = after_intr(d);
	compose_signals(false);
	owl_draft_free(d);
	return r != IN_EOF;
}

/* The Send mail menu item; false at the end of input. */
static bool
menu_send(void)
{
	struct owl_draft d;

	owl_draft_init(&d);
	return compose_and_send(&d);
}

/* r or f in the message view: a reply or a forward of msg. */
static bool
reply_or_forward(const struct buf *msg, bool forward)
{
	struct owl_draft d;
	size_t left;

	owl_draft_init(&d);
	left = owl_reply_draft(msg->data ? msg->data : "", msg->len, forward,
			       &d);
	if (left > 0)
		printf("%zu attachments were left out (at most %d)\n", left,
		       OWL_ATTS_MAX);
	else if (d.nfwd > 0)
		printf("Forwarding %zu attachments\n", d.nfwd);
	return compose_and_send(&d);
}

/* ---- reading ---- */

static bool is_number_text(const char *text);

struct box {
	struct owl_pop3 *s;	/* one of these two */
	struct owl_imap *im;
	char folder[512];	/* IMAP: the folder listed */
	struct owl_entry *e;
	size_t count;
};

/* Whether mail is read over IMAP: protocol, or auto's answer (once). */
static bool
use_imap(void)
{
	static int known = -1;

	if (known == -1)
		known = C.protocol == OWL_PROTO_IMAP ||
			(C.protocol == OWL_PROTO_AUTO && owl_imap_answers(&C));
	return known == 1;
}

/* A session failure: QUIT/LOGOUT if the connection works, one line. */
static void __attribute__((noreturn))
box_die(struct box *b, const char *err)
{
	char e2[512];

	owl_pop3_close(&b->s, e2, sizeof(e2));
	owl_imap_close(&b->im);
	die(1, "%s", err);
}

/* POP3: LIST, then each message's header (TOP n 0). */
static void
pop3_listing(struct box *b)
{
	unsigned long *nums, *sizes;
	struct buf *hdr;
	char err[1024];

	if (owl_pop3_list(b->s, &nums, &sizes, &b->count, err, sizeof(err))
	    == -1)
		box_die(b, err);
	hdr = buf_new(OWL_MSG_MAX);
	b->e = xcalloc(b->count + 1, sizeof(*b->e));
	for (size_t i = 0; i < b->count; i++) {
		b->e[i].n = nums[i];
		b->e[i].size = sizes[i];
		buf_reset(hdr);
		if (owl_pop3_fetch(b->s, nums[i], 0, hdr, err, sizeof(err))
		    == -1)
			box_die(b, err);
		owl_entry_fill(&b->e[i], hdr->data ? hdr->data : "", hdr->len);
	}
	free(nums);
	free(sizes);
	buf_free(&hdr);
}

/* A folder's name as shown: modified UTF-7 as UTF-8 (else as sent). */
static void
folder_shown(const char *name, struct buf *out)
{
	buf_reset(out);
	if (imap_mutf7_to_utf8(name, strlen(name), out) == -1) {
		buf_reset(out);
		buf_addstr(out, name);
	}
}

/*
 * A folder named by the user (-f, UTF-8) as IMAP4rev1 spells it:
 * modified UTF-7 (RFC 3501 5.1.3), or as typed when that fails.
 */
static void
folder_sent(const char *name, char *out, size_t size)
{
	struct buf *b = buf_new(size - 1);

	if (imap_utf8_to_mutf7(name, strlen(name), b) == 0 && b->len > 0)
		memcpy(out, b->data, b->len + 1);
	else
		snprintf(out, size, "%s", name);
	buf_free(&b);
}

/* IMAP: the messages of folder (SELECT, UID FETCH). */
static void
imap_listing(struct box *b, const char *folder)
{
	char err[1024];

	free(b->e);
	b->e = NULL;
	b->count = 0;
	if (owl_imap_list(b->im, folder, &b->e, &b->count, err, sizeof(err))
	    == -1) {
		char what[1200];

		snprintf(what, sizeof(what), "folder %s: %s", folder, err);
		box_die(b, what);
	}
	snprintf(b->folder, sizeof(b->folder), "%s", folder);
}

/* Logs in and lists folder (POP3: NULL); -1 with err if login failed. */
static int
box_open(struct box *b, const char *folder, char *err, size_t errsz)
{
	memset(b, 0, sizeof(*b));
	if (use_imap()) {
		if ((b->im = owl_imap_open(&C, err, errsz)) == NULL)
			return -1;
		char name[512];

		folder_sent(folder != NULL ? folder : "INBOX", name,
			    sizeof(name));
		imap_listing(b, name);
		return 0;
	}
	if (folder != NULL) {
		snprintf(err, errsz, "folders need IMAP (protocol = imap, "
			 "--imap-port)");
		return -1;
	}
	b->s = owl_pop3_open(&C, err, errsz);
	if (b->s == NULL)
		return -1;
	pop3_listing(b);
	return 0;
}

/*
 * box_open in the menus: a refused login asks the password again, up
 * to LOGIN_TRIES in all.  1 open, 0 not (back to the menu), -1 at the
 * end of input.  Other failures end owl (box_die).
 */
static int
box_login(struct box *b)
{
	char err[1024];

	for (int tries = 1;; tries++) {
		int pw;

		if (box_open(b, NULL, err, sizeof(err)) == 0)
			return 1;
		if (!(use_imap() ? owl_imap_login_refused(err) :
		      owl_pop3_login_refused(err)))
			die(1, "%s", err);
		printf("Login failed: %s\n", err);
		if (tries == LOGIN_TRIES) {
			printf("The login failed %d times.\n", LOGIN_TRIES);
			return 0;
		}
		if ((pw = ask_password()) != 1)
			return pw == 0 ? -1 : 0;
	}
}

static void
box_close(struct box *b)
{
	char err[1024];

	free(b->e);
	b->e = NULL;
	owl_imap_close(&b->im);
	if (owl_pop3_close(&b->s, err, sizeof(err)) == -1)
		die(1, "%s", err);
}

/* Deletes e: POP3 DELE (at QUIT), IMAP to Trash or expunged now. */
static void
box_delete(struct box *b, struct owl_entry *e)
{
	char err[1024];

	if ((b->im != NULL ? owl_imap_delete(b->im, e->uid, err, sizeof(err)) :
	     owl_pop3_dele(b->s, e->n, err, sizeof(err))) == -1)
		box_die(b, err);
	e->deleted = true;
}

/* The counts of the folder listed, from its list (no STATUS there). */
static void
count_listed(const struct box *b, struct owl_folder *f)
{
	f->messages = f->unseen = 0;
	for (size_t i = 0; i < b->count; i++) {
		f->messages += !b->e[i].deleted;
		f->unseen += !b->e[i].deleted && b->e[i].unseen;
	}
}

/*
 * The folders with their counts, numbered from 1 (IMAP); *n of them,
 * the caller frees.
 */
static struct owl_folder *
box_folders(struct box *b, size_t *n, bool numbered)
{
	struct owl_folder *f;
	char err[1024];

	if (owl_imap_folders(b->im, &f, n, err, sizeof(err)) == -1)
		box_die(b, err);
	for (size_t i = 0; i < *n; i++)
		if (strcmp(f[i].name, b->folder) == 0)
			count_listed(b, &f[i]);
	for (size_t i = 0; i < *n; i++) {
		struct buf *name = buf_new(4 * sizeof(f[i].name) + 64);
		struct buf *shown = buf_new(4 * sizeof(f[i].name));

		folder_shown(f[i].name, shown);
		mime_safe_text(shown->data, shown->len, name);
		buf_reset(shown);
		buf_add(shown, name->data, name->len);
		buf_reset(name);
		owl_text_cell(shown->data ? shown->data : "", 24, name);
		buf_free(&shown);
		if (numbered)
			printf("%3zu. ", i + 1);
		if (f[i].noselect)
			printf("%s  (not a folder of messages)\n", name->data);
		else
			printf("%s %6lu messages, %lu unread\n", name->data,
			       f[i].messages, f[i].unseen);
		buf_free(&name);
	}
	return f;
}

/* "Folder NAME" over the list (IMAP), the name shown safely. */
static void
print_folder(const char *folder)
{
	struct buf *shown = buf_new(4 * strlen(folder) + 16);
	struct buf *safe = buf_new(8 * strlen(folder) + 16);

	folder_shown(folder, shown);
	mime_safe_text(shown->data ? shown->data : "", shown->len, safe);
	printf("Folder %s\n", safe->data ? safe->data : "");
	buf_free(&shown);
	buf_free(&safe);
}

/* f in the list (IMAP): the folders, then one to list; Enter: stay. */
static void
pick_folder(struct box *b)
{
	size_t n, k;
	struct owl_folder *f = box_folders(b, &n, true);
	const char *l = input("Folder no. (Enter: stay in this one): ");
	char *end;

	if (l != NULL && is_number_text(l)) {
		k = strtoul(l, &end, 10);
		if (k >= 1 && k <= n && !f[k - 1].noselect)
			imap_listing(b, f[k - 1].name);
		else
			printf("No folder %s\n", l);
	}
	free(f);
}

/* True if text is a message number (digits only). */
static bool
is_number_text(const char *text)
{
	return text[0] != '\0' && strspn(text, "0123456789") == strlen(text);
}

/* The entry for message number text, or NULL. */
static struct owl_entry *
box_find(struct box *b, const char *text)
{
	char *end;
	unsigned long n;

	if (!is_number_text(text))
		return NULL;
	errno = 0;
	n = strtoul(text, &end, 10);
	if (errno != 0)
		return NULL;
	for (size_t i = 0; i < b->count; i++)
		if (b->e[i].n == n && !b->e[i].deleted)
			return &b->e[i];
	return NULL;
}

static void
box_fetch(struct box *b, struct owl_entry *e, struct buf *msg)
{
	char err[1024];

	if ((b->im != NULL ? owl_imap_fetch(b->im, e->uid, msg, err,
					     sizeof(err)) :
	     owl_pop3_fetch(b->s, e->n, -1, msg, err, sizeof(err))) == -1)
		box_die(b, err);
	e->unseen = false; /* BODY[] set \Seen */
}

/*
 * After a message is shown: s saves its attachments, d deletes it,
 * Enter (or anything else) goes back.  false at the end of input.
 */
static bool
message_actions(struct box *b, struct owl_entry *e, const struct buf *msg,
		size_t natts)
{
	char err[1024];
	const char *l;

	for (;;) {
		printf("\nr: reply, f: forward, %sd: delete, Enter: back to "
		       "the list\n", natts > 0 ? "s: save attachments, " : "");
		if ((l = input("> ")) == NULL)
			return false;
		if (strcmp(l, "r") == 0 || strcmp(l, "f") == 0)
			return reply_or_forward(msg, l[0] == 'f');
		if (natts > 0 && strcmp(l, "s") == 0) {
			if (owl_save(msg->data, msg->len, ".", err,
				     sizeof(err)) == -1)
				printf("Error in saving: %s\n", err);
			continue;
		}
		if (strcmp(l, "d") == 0) {
			box_delete(b, e);
			printf("Mail deleted%s\n", b->im != NULL ?
			       " (moved to Trash where there is one)" : "");
		}
		return true;
	}
}

/* Shows message e and its actions; false at the end of input. */
static bool
show_message(struct box *b, struct owl_entry *e, struct buf *msg)
{
	size_t natts;

	buf_reset(msg);
	box_fetch(b, e, msg);
	printf("\n");
	natts = owl_show(msg->data ? msg->data : "", msg->len);
	return message_actions(b, e, msg, natts);
}

/* The Manage mail menu item; false at the end of input. */
static bool
menu_manage(void)
{
	struct box b;
	struct buf *msg;
	bool more = true, relist = true;
	int open = box_login(&b);

	if (open != 1)
		return open == 0;
	msg = buf_new(OWL_MSG_MAX);
	while (more) {
		struct owl_entry *e;
		const char *l;

		if (relist && b.im != NULL)
			print_folder(b.folder);
		if (relist)
			owl_print_list(b.e, b.count);
		relist = false;
		l = input(b.im != NULL ? "Enter mail no. to see (f: folders, "
			  "-1 to go back): " :
			  "Enter mail no. to see (-1 to go back): ");
		if (l == NULL)
			more = false;
		else if (strcmp(l, "-1") == 0)
			break;
		else if (b.im != NULL && strcmp(l, "f") == 0) {
			pick_folder(&b);
			relist = true;
		}
		else if (!is_number_text(l))
			printf("Give a mail no. from the list, or -1 to go "
			       "back\n");
		else if ((e = box_find(&b, l)) == NULL)
			printf("Mail no. out of range, give again\n");
		else
			relist = more = show_message(&b, e, msg);
	}
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
	struct owl_sent sent;
	struct mail m;
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
	m = (struct mail){from, to->data, cc, subject,
			  body->data ? body->data : "", body->len, files,
			  nfiles, NULL};
	rc = send_mail(&m, true, &sent, err, sizeof(err));
	buf_free(&to);
	buf_free(&body);
	if (rc == -2)
		die(1, "Incorrect format: %s", err);
	/* send_mail said what went wrong, for each recipient */
	return rc == 0 ? 0 : rc == 1 ? EX_PARTIAL : 1;
}

/* folders: each folder with its counts (IMAP). */
static int
batch_folders(int argc)
{
	struct box b;
	char err[1024];
	size_t n;

	if (argc != 1) {
		usage(stderr);
		return EX_USAGE;
	}
	if (!use_imap())
		die(1, "folders need IMAP (protocol = imap, --imap-port)");
	if (!get_password())
		die(1, "no password given");
	memset(&b, 0, sizeof(b));
	if ((b.im = owl_imap_open(&C, err, sizeof(err))) == NULL)
		die(1, "%s", err);
	free(box_folders(&b, &n, false));
	box_close(&b);
	return 0;
}

/* list | read N | delete N | save N DIR, each with -f FOLDER. */
static int
batch_mailbox(int argc, char **argv)
{
	static const struct option opts[] = {{NULL, 0, NULL, 0}};
	const char *cmd = argv[0], *folder = NULL;
	struct box b;
	struct owl_entry *e = NULL;
	struct buf *msg;
	char err[1024];
	int want = strcmp(cmd, "list") == 0 ? 1 :
		   strcmp(cmd, "save") == 0 ? 3 : 2, ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "+f:", opts, NULL)) != -1) {
		if (ch != 'f') {
			usage(stderr);
			return EX_USAGE;
		}
		folder = optarg;
	}
	argc -= optind - 1;
	argv += optind - 1;
	if (argc != want) {
		usage(stderr);
		return EX_USAGE;
	}
	if (!get_password())
		die(1, "no password given");
	if (box_open(&b, folder, err, sizeof(err)) == -1)
		die(1, "%s", err);
	if (want == 1) {
		owl_print_list(b.e, b.count);
		box_close(&b);
		return 0;
	}
	if ((e = box_find(&b, argv[1])) == NULL) {
		snprintf(err, sizeof(err), "no message %s", argv[1]);
		box_die(&b, err);
	}
	if (strcmp(cmd, "delete") == 0) {
		box_delete(&b, e);
		box_close(&b);
		return 0;
	}
	msg = buf_new(OWL_MSG_MAX);
	box_fetch(&b, e, msg);
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
		{"imap-port", required_argument, NULL, 'I'},
		{"protocol", required_argument, NULL, 'R'},
		{"tls", required_argument, NULL, 'T'},
		{"cafile", required_argument, NULL, 'A'},
		{"from", required_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
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
		case 'I': key = "imap-port"; break;
		case 'R': key = "protocol"; break;
		case 'T': key = "tls"; break;
		case 'A': key = "cafile"; break;
		case 'F': key = "from"; break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("owl (owlpost) %s\n", OWLPOST_VERSION);
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
	if (strcmp(argv[0], "folders") == 0)
		return batch_folders(argc);
	usage(stderr);
	return EX_USAGE;
}
