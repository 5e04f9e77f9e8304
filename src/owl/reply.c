/*
 * owl/reply - the draft of a reply or a forward, made from the message
 * shown: who it goes to, the subject, the thread's In-Reply-To and
 * References (RFC 5322 3.6.4), the quoted text or the forwarded block
 * and a forward's attachments.  No I/O and no failure: what a hostile
 * message gives is bounded (ids kept, their length, the parts carried
 * over) and what cannot be used is left out.
 */
#include "owl.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../mime/mime.h"

#define REFS_KEPT 20	/* ids in References: the first and the newest */
#define ID_MAX 250	/* octets of one "<id>" kept */

/* Skips "Re:" (or "Fwd:", "Fw:") prefixes and the blanks after them. */
static const char *
skip_prefixes(const char *s, bool forward)
{
	static const char *re[] = {"re:", NULL};
	static const char *fw[] = {"fwd:", "fw:", NULL};
	const char *const *p = forward ? fw : re;
	bool again = true;

	while (again) {
		again = false;
		s += strspn(s, " \t");
		for (size_t i = 0; p[i] != NULL; i++) {
			size_t n = strlen(p[i]);

			if (strncasecmp(s, p[i], n) == 0) {
				s += n;
				again = true;
			}
		}
	}
	return s;
}

void
owl_reply_subject(const char *subject, bool forward, struct buf *out)
{
	buf_printf(out, "%s%s", forward ? "Fwd: " : "Re: ",
		   skip_prefixes(subject != NULL ? subject : "", forward));
}

/* The next "<id>" in s from *pos: its start and length, or false. */
static bool
next_id(const char *s, size_t *pos, const char **id, size_t *n)
{
	const char *lt, *gt;

	for (;;) {
		lt = strchr(s + *pos, '<');
		if (lt == NULL)
			return false;
		gt = strchr(lt + 1, '>');
		if (gt == NULL)
			return false;
		*pos = (size_t)(gt + 1 - s);
		*id = lt;
		*n = (size_t)(gt + 1 - lt);
		if (*n > 3 && *n <= ID_MAX && strcspn(lt + 1, " \t\r\n<") >=
		    *n - 2)
			return true;
	}
}

void
owl_reply_references(const char *refs, const char *msgid, struct buf *out)
{
	const char *ids[REFS_KEPT], *id;
	size_t lens[REFS_KEPT], count = 0, pos = 0, n;
	const char *src[2] = {refs, msgid};

	for (int k = 0; k < 2; k++) {
		pos = 0;
		while (src[k] != NULL && next_id(src[k], &pos, &id, &n)) {
			if (count == REFS_KEPT) { /* keep the first id */
				memmove(&ids[1], &ids[2],
					(REFS_KEPT - 2) * sizeof(ids[0]));
				memmove(&lens[1], &lens[2],
					(REFS_KEPT - 2) * sizeof(lens[0]));
				count--;
			}
			ids[count] = id;
			lens[count++] = n;
		}
	}
	for (size_t i = 0; i < count; i++)
		buf_printf(out, "%s%.*s", i > 0 ? " " : "", (int)lens[i],
			   ids[i]);
}

/*
 * The addresses of an address list ("Name" <a@b>, c@d) comma separated:
 * what is between <> where there is one, else the item itself.
 */
static void
bare_addresses(const char *v, struct buf *out)
{
	size_t start = 0, i = 0, count = 0;
	bool quoted = false;

	for (;; i++) {
		if (v[i] == '"')
			quoted = !quoted;
		if (v[i] != '\0' && (v[i] != ',' || quoted))
			continue;
		{
			const char *item = v + start, *lt, *gt;
			size_t n = i - start;

			lt = memchr(item, '<', n);
			gt = lt != NULL ? memchr(lt, '>', n -
					   (size_t)(lt - item)) : NULL;
			if (lt != NULL && gt != NULL) {
				item = lt + 1;
				n = (size_t)(gt - lt - 1);
			}
			while (n > 0 && (*item == ' ' || *item == '\t')) {
				item++;
				n--;
			}
			while (n > 0 && (item[n - 1] == ' ' ||
					 item[n - 1] == '\t'))
				n--;
			if (n > 0 && memchr(item, '\n', n) == NULL)
				buf_printf(out, "%s%.*s", count++ > 0 ? ", " :
					   "", (int)n, item);
		}
		if (v[i] == '\0')
			break;
		start = i + 1;
	}
}

/* The text shown for the message: its first text part, HTML as text. */
static void
main_text(const struct mime_doc *doc, struct buf *out)
{
	const struct mime_part *html = NULL;

	for (size_t i = 0; i < doc->nparts; i++) {
		const struct mime_part *p = &doc->parts[i];

		if (p->attachment)
			continue;
		if (strcmp(p->type, "text/plain") == 0) {
			buf_add(out, p->data, p->len);
			return;
		}
		if (html == NULL && strcmp(p->type, "text/html") == 0)
			html = p;
	}
	if (html != NULL)
		owl_html_text(html->data, html->len, out);
}

/* Each line of text with "> " in front (">" for an empty line). */
static void
quote_lines(const char *s, size_t len, struct buf *out)
{
	size_t i = 0;

	while (i < len) {
		const char *nl = memchr(s + i, '\n', len - i);
		size_t n = nl != NULL ? (size_t)(nl - (s + i)) : len - i;
		size_t shown = n;

		if (shown > 0 && s[i + shown - 1] == '\r')
			shown--;
		buf_printf(out, "%s%.*s\n", shown > 0 ? "> " : ">",
			   (int)shown, s + i);
		i += n + 1;
	}
}

static void
add_field(struct buf *out, const char *name, const char *value)
{
	if (value != NULL)
		buf_printf(out, "%s: %s\n", name, value);
}

/* The forwarded block: the original's header fields, then its text. */
static void
forward_block(const struct mime_doc *doc, const char *text,
	      struct buf *out)
{
	buf_addstr(out, "---------- Forwarded message ----------\n");
	add_field(out, "From", doc->from);
	add_field(out, "Date", doc->date);
	add_field(out, "Subject", doc->subject);
	add_field(out, "To", doc->to);
	add_field(out, "Cc", doc->cc);
	buf_addc(out, '\n');
	buf_addstr(out, text);
	if (text[0] != '\0' && text[strlen(text) - 1] != '\n')
		buf_addc(out, '\n');
}

/* A forward's attachments: every part shown as one; how many left out. */
static size_t
carry_attachments(const struct mime_doc *doc, struct owl_draft *d)
{
	size_t left = 0;

	for (size_t i = 0; i < doc->nparts; i++) {
		const struct mime_part *p = &doc->parts[i];
		struct owl_fwd *f;
		char name[MIME_NAME_MAX + 1];

		if (!p->attachment)
			continue;
		if (d->nfwd == OWL_ATTS_MAX) {
			left++;
			continue;
		}
		mime_safe_name(p->filename != NULL ? p->filename :
			       strcmp(p->type, "message/rfc822") == 0 ?
			       "message.eml" : "attachment", name,
			       sizeof(name));
		f = &d->fwd[d->nfwd++];
		f->name = xstrdup(name);
		f->type = xstrdup(p->type);
		f->data = xmalloc(p->len + 1);
		memcpy(f->data, p->data, p->len);
		f->len = p->len;
	}
	return left;
}

/* In-Reply-To and References of a reply, from the original's header. */
static void
thread_ids(const char *text, size_t len, struct owl_draft *d)
{
	struct buf *v = buf_new(MIME_HEADER_MAX * 2);
	struct buf *refs = buf_new(MIME_HEADER_MAX * 2);
	struct buf *out = buf_new(REFS_KEPT * (ID_MAX + 1) + 1);
	const char *id;
	size_t pos = 0, n;

	if (mime_header_get(text, len, "Message-ID", v) && v->data != NULL &&
	    next_id(v->data, &pos, &id, &n))
		d->in_reply_to = xstrndup(id, n);
	if (!mime_header_get(text, len, "References", refs) ||
	    refs->data == NULL)
		buf_reset(refs);
	owl_reply_references(refs->data, d->in_reply_to, out);
	if (out->len > 0)
		d->references = xstrdup(out->data);
	buf_free(&v);
	buf_free(&refs);
	buf_free(&out);
}

size_t
owl_reply_draft(const char *text, size_t len, bool forward,
		struct owl_draft *d)
{
	struct buf *v = buf_new(MIME_HEADER_MAX * 2 + 16);
	struct buf *body = buf_new(OWL_MSG_MAX / 2);
	struct mime_doc doc;
	size_t left = 0;

	mime_parse(text, len, &doc);
	owl_reply_subject(doc.subject, forward, v);
	d->subject = xstrdup(v->data != NULL ? v->data : "");
	main_text(&doc, body);
	d->quote = buf_new(OWL_MSG_MAX / 2);
	if (forward) {
		forward_block(&doc, body->data ? body->data : "", d->quote);
		d->quote_after = true;
		left = carry_attachments(&doc, d);
	} else {
		const char *who = doc.from != NULL ? doc.from : "(no sender)";

		buf_reset(v);
		if (!mime_header_get(text, len, "Reply-To", v) ||
		    v->data == NULL)
			buf_addstr(v, doc.from != NULL ? doc.from : "");
		{
			struct buf *to = buf_new(v->len + 1);

			bare_addresses(v->data != NULL ? v->data : "", to);
			if (to->len > 0)
				d->to = xstrdup(to->data);
			buf_free(&to);
		}
		if (doc.date != NULL)
			buf_printf(d->quote, "On %s, %s wrote:\n", doc.date,
				   who);
		else
			buf_printf(d->quote, "%s wrote:\n", who);
		quote_lines(body->data ? body->data : "", body->len,
			    d->quote);
		thread_ids(text, len, d);
	}
	mime_doc_free(&doc);
	buf_free(&v);
	buf_free(&body);
	return left;
}
