/*
 * owl/mail - composing, listing and showing messages; the MIME work is
 * src/mime's, this file reads files and prints.
 */
#include "owl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/addr.h"
#include "../mime/mime.h"

bool
owl_addrs(const char *list, char **store, const char **rcpts, size_t *n,
	  size_t max, char *err, size_t errsz)
{
	char *s, *tok, *save = NULL;

	*n = 0;
	*store = s = xstrdup(list);
	for (tok = strtok_r(s, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		struct addr a;
		const char *why;
		char *e;

		while (*tok == ' ' || *tok == '\t')
			tok++;
		e = tok + strlen(tok);
		while (e > tok && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (*tok == '\0')
			continue;
		if (addr_parse_mailbox(tok, strlen(tok), &a, &why) == -1 ||
		    a.literal || a.domain[0] == '\0') {
			snprintf(err, errsz, "%s", tok);
			return false;
		}
		if (*n == max) {
			snprintf(err, errsz, "more than %zu addresses", max);
			return false;
		}
		rcpts[(*n)++] = tok;
	}
	if (*n == 0) {
		snprintf(err, errsz, "no address");
		return false;
	}
	return true;
}

/* Reads a whole file of at most max octets. */
static char *
read_file(const char *path, size_t max, size_t *len, char *err,
	  size_t errsz)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *data;
	size_t got = 0;

	if (fd == -1 || fstat(fd, &st) == -1) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		snprintf(err, errsz, "%s: %s", path, S_ISREG(st.st_mode) ?
			 "file too large" : "not a regular file");
		close(fd);
		return NULL;
	}
	data = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, data + got, (size_t)st.st_size - got);

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(err, errsz, "%s: %s", path,
				 r == 0 ? "file shrank" : strerror(errno));
			free(data);
			close(fd);
			return NULL;
		}
		got += (size_t)r;
	}
	close(fd);
	*len = got;
	return data;
}

/* 16 random hex digits (for Message-ID and the boundary). */
static void
random_hex(char *out, size_t size)
{
	unsigned char r[8] = {0};
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd == -1 || read(fd, r, sizeof(r)) != (ssize_t)sizeof(r)) {
		unsigned long x = (unsigned long)time(NULL) ^
				  ((unsigned long)getpid() << 16);

		memcpy(r, &x, sizeof(x) < sizeof(r) ? sizeof(x) : sizeof(r));
	}
	if (fd != -1)
		close(fd);
	snprintf(out, size, "%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1],
		 r[2], r[3], r[4], r[5], r[6], r[7]);
}

/*
 * A reply's In-Reply-To and References into the header section of the
 * message built in out (before its empty line), References folded
 * between ids.  -1 if out's maximum is too small.
 */
static int
add_thread_fields(const struct owl_thread *th, struct buf *out)
{
	const char *end = memmem(out->data, out->len, "\n\n", 2);
	struct buf *f = buf_new(8192);
	size_t at, col;
	int rc = 0;

	if (end == NULL || th->references == NULL || th->in_reply_to == NULL) {
		buf_free(&f);
		return 0;
	}
	at = (size_t)(end - out->data) + 1;
	buf_printf(f, "In-Reply-To: %s\nReferences:", th->in_reply_to);
	col = strlen("References:");
	for (const char *p = th->references; *p != '\0';) {
		size_t n = strcspn(p, " ");

		if (col + 1 + n > 78 && col > 12) {
			buf_addstr(f, "\n");
			col = 0;
		}
		buf_printf(f, " %.*s", (int)n, p);
		col += 1 + n;
		p += n + strspn(p + n, " ");
	}
	buf_addc(f, '\n');
	if (buf_add(out, f->data, f->len) == -1)
		rc = -1;
	else {
		memmove(out->data + at + f->len, out->data + at,
			out->len - f->len - at);
		memcpy(out->data + at, f->data, f->len);
	}
	buf_free(&f);
	return rc;
}

int
owl_compose(const char *from, const char *to, const char *cc,
	    const char *subject, const char *body, size_t bodylen,
	    const char *const *files, size_t nfiles,
	    const struct owl_thread *th, struct buf *out, char *err,
	    size_t errsz)
{
	struct mime_att atts[2 * OWL_ATTS_MAX];
	size_t nfwd = th != NULL ? th->nfwd : 0;
	char date[64], msgid[128], boundary[64], rnd[20];
	const char *at = strchr(from, '@');
	struct mime_out m;
	size_t total = bodylen;
	time_t now = time(NULL);
	struct tm tm;
	int rc = -1;

	if (nfiles > OWL_ATTS_MAX || nfwd > OWL_ATTS_MAX) {
		snprintf(err, errsz, "more than %d attachments", OWL_ATTS_MAX);
		return -1;
	}
	memset(atts, 0, sizeof(atts));
	for (size_t i = 0; i < nfwd; i++) {
		atts[nfiles + i] = (struct mime_att){th->fwd[i].name,
			th->fwd[i].data, th->fwd[i].len, th->fwd[i].type};
		total += th->fwd[i].len;
	}
	for (size_t i = 0; i < nfiles; i++) {
		const char *base = strrchr(files[i], '/');

		atts[i].data = read_file(files[i], OWL_MSG_MAX, &atts[i].len,
					 err, errsz);
		if (atts[i].data == NULL)
			goto out;
		atts[i].name = base != NULL ? base + 1 : files[i];
		total += atts[i].len;
	}
	if (total > OWL_MSG_MAX / 4 * 3 - 65536) {
		snprintf(err, errsz, "message larger than %u MiB",
			 OWL_MSG_MAX >> 20);
		goto out;
	}
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	random_hex(rnd, sizeof(rnd));
	snprintf(msgid, sizeof(msgid), "<%lld.%s@%s>", (long long)now, rnd,
		 at != NULL ? at + 1 : "owl.invalid");
	snprintf(boundary, sizeof(boundary), "=_owl_%s", rnd);
	m = (struct mime_out){date, msgid, from, to, cc, subject, body,
			      bodylen, atts, nfiles + nfwd, boundary};
	if (mime_build(&m, out) == -1 ||
	    (th != NULL && add_thread_fields(th, out) == -1)) {
		snprintf(err, errsz, "message larger than %u MiB",
			 OWL_MSG_MAX >> 20);
		goto out;
	}
	rc = 0;
out:
	for (size_t i = 0; i < nfiles; i++)
		free((char *)(uintptr_t)atts[i].data);
	return rc;
}

/* Copies s into out (size) for a terminal, cut at a character. */
static void
cell(const char *s, char *out, size_t size)
{
	struct buf *b = buf_new(4096);
	size_t n = 0;

	mime_safe_text(s, strlen(s), b);
	for (size_t i = 0; i < b->len; i++)
		if (b->data[i] == '\n' || b->data[i] == '\t')
			b->data[i] = ' ';
	while (n < b->len) {
		size_t w = mime_u8_len((const unsigned char *)b->data + n,
				       b->len - n);

		if (n + w >= size)
			break;
		n += w;
	}
	memcpy(out, b->data ? b->data : "", n);
	out[n] = '\0';
	buf_free(&b);
}

/* "2026-11-22 10:05" in local time from an RFC 5322 date; raw if odd. */
static void
format_when(const char *date, char *out, size_t size)
{
	static const char *fmts[] = {
		"%a, %d %b %Y %H:%M:%S %z", "%d %b %Y %H:%M:%S %z",
		"%a, %d %b %Y %H:%M %z", "%d %b %Y %H:%M %z",
	};
	struct tm tm;

	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		const char *end;
		long off;
		time_t t;

		memset(&tm, 0, sizeof(tm));
		end = strptime(date, fmts[i], &tm);
		if (end == NULL)
			continue;
		off = tm.tm_gmtoff;
		t = timegm(&tm) - off;
		localtime_r(&t, &tm);
		strftime(out, size, "%Y-%m-%d %H:%M", &tm);
		return;
	}
	cell(date, out, size);
}

void
owl_entry_fill(struct owl_entry *e, const char *hdr, size_t len)
{
	struct buf *v = buf_new(MIME_HEADER_MAX * 2);
	const char *semi;

	cell(mime_header_get(hdr, len, "From", v) && v->data ? v->data : "",
	     e->from, sizeof(e->from));
	cell(mime_header_get(hdr, len, "Subject", v) && v->data ? v->data :
	     "", e->subject, sizeof(e->subject));
	/* when it was received: the newest Received line's date */
	if (mime_header_get(hdr, len, "Received", v) && v->data &&
	    (semi = strrchr(v->data, ';')) != NULL) {
		semi += 1 + strspn(semi + 1, " \t");
		format_when(semi, e->when, sizeof(e->when));
	} else if (mime_header_get(hdr, len, "Date", v) && v->data) {
		format_when(v->data, e->when, sizeof(e->when));
	} else {
		e->when[0] = '\0';
	}
	buf_free(&v);
}

#define SENDER_COLS 30

/* One list line: the sender's cell padded by display width. */
static void
print_entry(const struct owl_entry *e)
{
	struct buf *b = buf_new(4 * sizeof(e->from) + SENDER_COLS + 1);
	char num[32];

	owl_text_cell(e->from[0] != '\0' ? e->from : "(no sender)",
		      SENDER_COLS, b);
	snprintf(num, sizeof(num), "%lu%s", e->n, e->unseen ? "*" : "");
	printf("%-4s %s %-17s %s\n", num, b->data, e->when, e->subject);
	buf_free(&b);
}

void
owl_print_list(const struct owl_entry *e, size_t count)
{
	size_t shown = 0, unseen = 0;

	printf("%-4s %-*s %-17s %s\n", "No.", SENDER_COLS, "Sender",
	       "Received", "Subject");
	for (size_t i = 0; i < count; i++) {
		if (e[i].deleted)
			continue;
		print_entry(&e[i]);
		shown++;
		unseen += e[i].unseen;
	}
	if (shown == 0)
		printf("(no mail)\n");
	else if (unseen > 0)
		printf("(%zu unread, marked *)\n", unseen);
}

static void
print_safe(const char *s, size_t len)
{
	struct buf *b = buf_new(len * 2 + 16);

	mime_safe_text(s, len, b);
	if (b->len > 0)
		fwrite(b->data, 1, b->len, stdout);
	buf_free(&b);
}

static void
print_field(const char *name, const char *value)
{
	if (value == NULL)
		return;
	printf("%s: ", name);
	print_safe(value, strlen(value));
	printf("\n");
}

static bool
is_type(const struct mime_part *p, const char *type)
{
	return strcmp(p->type, type) == 0;
}

/* Report parts of a bounce, shown as text under a heading. */
static const char *
report_heading(const struct mime_part *p)
{
	if (is_type(p, "text/rfc822-headers"))
		return "Headers of the returned message";
	if (is_type(p, "message/delivery-status") ||
	    is_type(p, "message/global-delivery-status"))
		return "Delivery status";
	return NULL;
}

/*
 * In the list of attachments (and saved by s): files, attached messages
 * and the report parts of a bounce.
 */
static bool
is_listed(const struct mime_part *p)
{
	return p->attachment || report_heading(p) != NULL;
}

/* The name an attachment is listed and saved under. */
static void
part_name(const struct mime_part *p, char *name, size_t size)
{
	const char *n = p->filename;

	if (n == NULL || n[0] == '\0')
		n = is_type(p, "message/rfc822") ? "message.eml" :
		    is_type(p, "text/rfc822-headers") ? "headers.txt" :
		    report_heading(p) != NULL ? "delivery-status.txt" : "";
	mime_safe_name(n, name, size);
}

static void
print_text(const char *s, size_t len)
{
	print_safe(s, len);
	if (len > 0 && s[len - 1] != '\n')
		printf("\n");
}

/* An attached message (message/rfc822): its header fields. */
static void
show_attached_message(const struct mime_part *p)
{
	struct mime_doc sub;

	mime_parse(p->data, p->len, &sub);
	printf("\n[Attached message]\n");
	print_field("From", sub.from != NULL ? sub.from : "(no sender)");
	print_field("To", sub.to);
	print_field("Cc", sub.cc);
	print_field("Date", sub.date);
	print_field("Subject", sub.subject);
	mime_doc_free(&sub);
}

/* Text parts, bounce reports and attached messages' headers. */
static void
show_parts(const struct mime_doc *d)
{
	bool shown_text = false;

	for (size_t i = 0; i < d->nparts; i++) {
		const struct mime_part *p = &d->parts[i];
		const char *heading = report_heading(p);

		if (is_type(p, "message/rfc822")) {
			show_attached_message(p);
		} else if (heading != NULL) {
			printf("\n[%s]\n", heading);
			print_text(p->data, p->len);
		} else if (p->attachment ||
			   (shown_text && !is_type(p, "text/plain"))) {
			continue; /* a file, or the HTML twin of a text */
		} else if (is_type(p, "text/html")) {
			struct buf *b = buf_new(p->len + 16);

			owl_html_text(p->data, p->len, b);
			print_text(b->data ? b->data : "", b->len);
			buf_free(&b);
			shown_text = true;
		} else {
			print_text(p->data, p->len);
			shown_text = true;
		}
	}
}

size_t
owl_show(const char *text, size_t len)
{
	struct mime_doc d;
	size_t natts = 0;

	mime_parse(text, len, &d);
	print_field("From", d.from != NULL && d.from[0] != '\0' ? d.from :
		    "(no sender)");
	print_field("To", d.to);
	print_field("Cc", d.cc);
	print_field("Date", d.date);
	print_field("Subject", d.subject);
	printf("\n");
	show_parts(&d);
	for (size_t i = 0; i < d.nparts; i++) {
		const struct mime_part *p = &d.parts[i];
		char name[MIME_NAME_MAX + 1];

		if (!is_listed(p))
			continue;
		if (natts++ == 0)
			printf("\nAttachments:\n");
		part_name(p, name, sizeof(name));
		printf("  %zu. ", natts);
		print_safe(name, strlen(name));
		printf(" (%s, %zu bytes)\n", p->type, p->len);
	}
	if (d.truncated)
		printf("(some parts of this message were not shown)\n");
	mime_doc_free(&d);
	return natts;
}

/* Creates dir/name, or dir/stem-N.ext when taken; the name chosen. */
static int
create_new(const char *dir, const char *name, char *path, size_t size)
{
	const char *dot = strrchr(name, '.');
	int stem = dot != NULL && dot != name ? (int)(dot - name) :
		   (int)strlen(name);

	for (int i = 0; i < 1000; i++) {
		int fd;

		if ((i == 0 ? bsnprintf(path, size, "%s/%s", dir, name) :
		     bsnprintf(path, size, "%s/%.*s-%d%s", dir, stem, name, i,
			       name + stem)) == -1) {
			errno = ENAMETOOLONG; /* a cut name: another file */
			return -1;
		}
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
			  O_NOFOLLOW, 0644);
		if (fd != -1 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

int
owl_save(const char *text, size_t len, const char *dir, char *err,
	 size_t errsz)
{
	struct mime_doc d;
	size_t saved = 0;
	int rc = 0;

	mime_parse(text, len, &d);
	for (size_t i = 0; i < d.nparts && rc == 0; i++) {
		const struct mime_part *p = &d.parts[i];
		char name[MIME_NAME_MAX + 1], path[4096];
		int fd;
		size_t off = 0;

		if (!is_listed(p))
			continue;
		part_name(p, name, sizeof(name));
		fd = create_new(dir, name, path, sizeof(path));
		if (fd == -1) {
			snprintf(err, errsz, "cannot save %s: %s (in %s)", name,
				 strerror(errno), dir);
			rc = -1;
			break;
		}
		while (off < p->len) {
			ssize_t w = write(fd, p->data + off, p->len - off);

			if (w == -1 && errno == EINTR)
				continue;
			if (w <= 0) {
				snprintf(err, errsz, "%s: %s", path,
					 strerror(errno));
				rc = -1;
				break;
			}
			off += (size_t)w;
		}
		if (close(fd) == -1 && rc == 0) {
			snprintf(err, errsz, "%s: %s", path, strerror(errno));
			rc = -1;
		}
		if (rc != 0)
			unlink(path); /* no half attachment left behind */
		if (rc == 0) {
			printf("Saved ");
			print_safe(path, strlen(path));
			printf(" (%zu bytes)\n", p->len);
			saved++;
		}
	}
	if (rc == 0 && saved == 0)
		printf("No attachments\n");
	mime_doc_free(&d);
	return rc;
}
