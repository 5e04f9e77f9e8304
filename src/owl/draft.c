/*
 * owl/draft - the message being composed in the menus, and its copy in
 * ~/dead.letter when it cannot be sent (end of input, Ctrl-C, a login
 * refused three times), as mail(1) keeps one.  Appends, never truncates:
 * earlier drafts stay.  The file is created 0600 (a draft is private)
 * and never followed through a symbolic link.  Fails with the call and
 * errno text; the caller then still has the draft and says so.
 */
#include "owl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void
owl_draft_init(struct owl_draft *d)
{
	memset(d, 0, sizeof(*d));
	d->body = buf_new(OWL_MSG_MAX / 2);
}

void
owl_draft_free(struct owl_draft *d)
{
	free(d->from);
	free(d->to);
	free(d->subject);
	for (size_t i = 0; i < d->nfiles; i++)
		free(d->files[i]);
	free(d->in_reply_to);
	free(d->references);
	buf_free(&d->quote);
	for (size_t i = 0; i < d->nfwd; i++) {
		free(d->fwd[i].name);
		free(d->fwd[i].type);
		free(d->fwd[i].data);
	}
	buf_free(&d->body);
	memset(d, 0, sizeof(*d));
}

bool
owl_draft_has_content(const struct owl_draft *d)
{
	return (d->to != NULL && d->to[0] != '\0') ||
	       (d->subject != NULL && d->subject[0] != '\0') ||
	       d->body->len > 0 || d->nfiles > 0;
}

/* The draft's text as it goes into dead.letter. */
static void
draft_text(const struct owl_draft *d, struct buf *b)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	buf_printf(b, "Date: %s\n", date);
	buf_printf(b, "From: %s\n", d->from != NULL ? d->from : "");
	buf_printf(b, "To: %s\n", d->to != NULL ? d->to : "");
	buf_printf(b, "Subject: %s\n", d->subject != NULL ? d->subject : "");
	if (d->in_reply_to != NULL)
		buf_printf(b, "In-Reply-To: %s\n", d->in_reply_to);
	if (d->references != NULL)
		buf_printf(b, "References: %s\n", d->references);
	for (size_t i = 0; i < d->nfiles; i++)
		buf_printf(b, "X-Owl-Attachment: %s\n", d->files[i]);
	buf_addc(b, '\n');
	buf_add(b, d->body->data ? d->body->data : "", d->body->len);
	if (d->body->len > 0 && d->body->data[d->body->len - 1] != '\n')
		buf_addc(b, '\n');
	buf_addc(b, '\n');
}

int
owl_write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
owl_draft_save(const struct owl_draft *d, char *path, size_t pathsz,
	       char *err, size_t errsz)
{
	const char *home = getenv("HOME");
	struct buf *b;
	int fd, rc = 0;

	if (home == NULL || home[0] == '\0') {
		snprintf(err, errsz, "HOME is not set");
		return -1;
	}
	if (bsnprintf(path, pathsz, "%s/dead.letter", home) == -1) {
		snprintf(err, errsz, "%s/dead.letter: name too long", home);
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW |
		  O_CLOEXEC, 0600);
	if (fd == -1) {
		snprintf(err, errsz, "open %s: %s", path, strerror(errno));
		return -1;
	}
	b = buf_new(OWL_MSG_MAX);
	draft_text(d, b);
	if (owl_write_all(fd, b->data, b->len) == -1 || fsync(fd) == -1) {
		snprintf(err, errsz, "write %s: %s", path, strerror(errno));
		rc = -1;
	}
	if (close(fd) == -1 && rc == 0) {
		snprintf(err, errsz, "close %s: %s", path, strerror(errno));
		rc = -1;
	}
	buf_free(&b);
	return rc;
}
