/*
 * mime/build - the message owl sends; see mime.h.
 */
#include "mime.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/b64.h"

#define QP_LINE 76

static bool
is_ascii_text(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch >= 0x7f || (ch < 0x20 && ch != '\t'))
			return false;
	}
	return true;
}

size_t
mime_u8_len(const unsigned char *s, size_t left)
{
	size_t n = 1;

	if (s[0] >= 0xf0)
		n = 4;
	else if (s[0] >= 0xe0)
		n = 3;
	else if (s[0] >= 0xc0)
		n = 2;
	if (n > left)
		return 1;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 1;
	return n;
}

int
mime_qp_encode(const char *in, size_t len, struct buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;
	int rc = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)in[i];
		char enc[4];
		size_t n;
		bool eol = i + 1 == len || in[i + 1] == '\n';

		if (ch == '\n') {
			rc |= buf_addc(out, '\n');
			col = 0;
			continue;
		}
		if ((ch >= 33 && ch <= 126 && ch != '=') ||
		    ((ch == ' ' || ch == '\t') && !eol)) {
			enc[0] = (char)ch;
			n = 1;
		} else {
			enc[0] = '=';
			enc[1] = hex[ch >> 4];
			enc[2] = hex[ch & 15];
			n = 3;
		}
		/* room for a soft break "=" unless this ends the line */
		if (col + n > (eol ? QP_LINE : QP_LINE - 1)) {
			rc |= buf_add(out, "=\n", 2);
			col = 0;
		}
		rc |= buf_add(out, enc, n);
		col += n;
	}
	return rc == 0 ? 0 : -1;
}

int
mime_b64_encode(const char *in, size_t len, struct buf *out)
{
	char line[QP_LINE + 1];
	int rc = 0;

	for (size_t i = 0; i < len; i += 57) {
		size_t n = len - i < 57 ? len - i : 57;

		if (b64_encode(in + i, n, line, sizeof(line)) == -1)
			return -1;
		rc |= buf_addstr(out, line);
		rc |= buf_addc(out, '\n');
	}
	return rc == 0 ? 0 : -1;
}

/* One line of text, in a copy: CR, LF and other controls become spaces. */
static char *
flatten(const char *in)
{
	char *out = xstrdup(in);

	for (char *p = out; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	return out;
}

/*
 * "Name: a, b, c" from a comma separated address list, folded before an
 * address that would take the line past 78 octets (RFC 5322 2.1.1): a
 * long list never makes a line over the 998-octet limit.
 */
static int
add_addrs(struct buf *out, const char *name, const char *list)
{
	char *copy = flatten(list), *tok, *save = NULL;
	size_t col = strlen(name) + 1;
	bool first = true;
	int rc = buf_printf(out, "%s:", name);

	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		size_t n;

		tok += strspn(tok, " ");
		n = strlen(tok);
		while (n > 0 && tok[n - 1] == ' ')
			n--;
		if (n == 0)
			continue;
		if (!first) {
			rc |= buf_addc(out, ',');
			col++;
		}
		if (!first && col + 1 + n > 78) {
			rc |= buf_addc(out, '\n');
			col = 0;
		}
		rc |= buf_printf(out, " %.*s", (int)n, tok);
		col += 1 + n;
		first = false;
	}
	rc |= buf_addc(out, '\n');
	free(copy);
	return rc == 0 ? 0 : -1;
}

int
mime_header_encode(const char *name, const char *value, struct buf *out)
{
	size_t len = strlen(value), i = 0;
	int rc;

	if (is_ascii_text(value, len) && strlen(name) + 2 + len <= 998)
		return buf_printf(out, "%s: %s\n", name, value);
	/*
	 * Encoded words of at most 39 octets (52 in base64, 64 with the
	 * rest), whole UTF-8 characters each, one per line of < 78.
	 */
	rc = buf_printf(out, "%s:", name);
	while (i < len) {
		char enc[64];
		size_t n = 0;

		while (i + n < len) {
			size_t w = mime_u8_len((const unsigned char *)value +
					       i + n, len - i - n);

			if (n + w > 39)
				break;
			n += w;
		}
		if (b64_encode(value + i, n, enc, sizeof(enc)) == -1)
			return -1;
		rc |= buf_printf(out, "%s =?UTF-8?B?%s?=", i > 0 ? "\n" : "",
				 enc);
		i += n;
	}
	rc |= buf_addc(out, '\n');
	return rc == 0 ? 0 : -1;
}

const char *
mime_type_guess(const char *name, const char *data, size_t len)
{
	static const struct {
		const char *ext, *type;
	} exts[] = {
		{"txt", "text/plain"}, {"text", "text/plain"},
		{"log", "text/plain"}, {"md", "text/markdown"},
		{"c", "text/x-c"}, {"h", "text/x-c"},
		{"csv", "text/csv"}, {"html", "text/html"},
		{"htm", "text/html"}, {"css", "text/css"},
		{"xml", "application/xml"}, {"json", "application/json"},
		{"pdf", "application/pdf"}, {"zip", "application/zip"},
		{"gz", "application/gzip"}, {"tgz", "application/gzip"},
		{"tar", "application/x-tar"}, {"xz", "application/x-xz"},
		{"png", "image/png"}, {"jpg", "image/jpeg"},
		{"jpeg", "image/jpeg"}, {"gif", "image/gif"},
		{"svg", "image/svg+xml"}, {"webp", "image/webp"},
		{"mp3", "audio/mpeg"}, {"wav", "audio/wav"},
		{"mp4", "video/mp4"}, {"ics", "text/calendar"},
		{"odt", "application/vnd.oasis.opendocument.text"},
		{"docx", "application/vnd.openxmlformats-officedocument."
			 "wordprocessingml.document"},
		{"xlsx", "application/vnd.openxmlformats-officedocument."
			 "spreadsheetml.sheet"},
		{"eml", "message/rfc822"},
	};
	static const struct {
		const char *magic;
		size_t len;
		const char *type;
	} magics[] = {
		{"\x89PNG\r\n\x1a\n", 8, "image/png"},
		{"\xff\xd8\xff", 3, "image/jpeg"},
		{"GIF8", 4, "image/gif"},
		{"%PDF-", 5, "application/pdf"},
		{"PK\x03\x04", 4, "application/zip"},
		{"\x1f\x8b", 2, "application/gzip"},
	};
	const char *dot = strrchr(name, '.');
	size_t i;

	if (dot != NULL && dot != name)
		for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
			if (strcasecmp(dot + 1, exts[i].ext) == 0)
				return exts[i].type;
	for (i = 0; i < sizeof(magics) / sizeof(magics[0]); i++)
		if (len >= magics[i].len &&
		    memcmp(data, magics[i].magic, magics[i].len) == 0)
			return magics[i].type;
	/* valid UTF-8 without controls other than tab, CR, LF, FF: text */
	for (i = 0; i < len;) {
		unsigned char ch = (unsigned char)data[i];
		size_t w = mime_u8_len((const unsigned char *)data + i,
				       len - i);

		if ((ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r' &&
		     ch != '\f') || ch == 0x7f || (ch >= 0x80 && w == 1))
			return "application/octet-stream";
		i += w;
	}
	return "text/plain";
}

/* filename="x" when it can be, else filename*=UTF-8''%xx (RFC 2231). */
static int
add_filename(struct buf *out, const char *param, const char *name)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = strlen(name);
	int rc = 0;

	if (is_ascii_text(name, len) && strpbrk(name, "\"\\") == NULL)
		return buf_printf(out, "; %s=\"%s\"", param, name);
	rc |= buf_printf(out, "; %s*=UTF-8''", param);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];

		/* attr-char (RFC 5987) */
		if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= 'A' && ch <= 'Z') || strchr("!#$&+-.^_`|~", ch)) {
			rc |= buf_addc(out, (char)ch);
		} else {
			char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};

			rc |= buf_add(out, e, 3);
		}
	}
	return rc == 0 ? 0 : -1;
}

/* 7bit: US-ASCII without controls but tab, lines of at most 998. */
static bool
is_7bit(const char *s, size_t len)
{
	size_t line = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '\n') {
			line = 0;
			continue;
		}
		if (ch >= 0x7f || (ch < 0x20 && ch != '\t') || ++line > 998)
			return false;
	}
	return true;
}

/* The text/plain part's headers and body. */
static int
add_text(struct buf *out, const char *body, size_t len)
{
	int rc = 0;

	rc |= buf_addstr(out, "Content-Type: text/plain; charset=UTF-8\n");
	if (is_7bit(body, len)) {
		rc |= buf_addstr(out, "Content-Transfer-Encoding: 7bit\n\n");
		rc |= buf_add(out, body, len);
	} else {
		rc |= buf_addstr(out, "Content-Transfer-Encoding: "
				      "quoted-printable\n\n");
		rc |= mime_qp_encode(body, len, out);
	}
	if (len > 0 && body[len - 1] != '\n')
		rc |= buf_addc(out, '\n');
	return rc == 0 ? 0 : -1;
}

int
mime_build(const struct mime_out *m, struct buf *out)
{
	char *subject = flatten(m->subject != NULL ? m->subject : "");
	int rc = 0;

	rc |= buf_printf(out, "Date: %s\n", m->date);
	rc |= add_addrs(out, "From", m->from);
	rc |= add_addrs(out, "To", m->to);
	if (m->cc != NULL && m->cc[0] != '\0')
		rc |= add_addrs(out, "Cc", m->cc);
	rc |= mime_header_encode("Subject", subject, out);
	free(subject);
	rc |= buf_printf(out, "Message-ID: %s\n", m->message_id);
	rc |= buf_addstr(out, "MIME-Version: 1.0\nUser-Agent: owl "
			      "(owlpost)\n");
	if (m->natts == 0)
		return (rc | add_text(out, m->body, m->bodylen)) == 0 ? 0 : -1;
	rc |= buf_printf(out, "Content-Type: multipart/mixed; "
			 "boundary=\"%s\"\n\nThis is a message in MIME "
			 "format.\n\n--%s\n", m->boundary, m->boundary);
	rc |= add_text(out, m->body, m->bodylen);
	/* the line break before a delimiter is the delimiter's (RFC 2046) */
	rc |= buf_addc(out, '\n');
	for (size_t i = 0; i < m->natts; i++) {
		const struct mime_att *a = &m->atts[i];
		const char *type = a->type != NULL ? a->type :
				   mime_type_guess(a->name, a->data, a->len);

		rc |= buf_printf(out, "--%s\nContent-Type: %s", m->boundary,
				 type);
		rc |= add_filename(out, "name", a->name);
		rc |= buf_addstr(out, "\nContent-Disposition: attachment");
		rc |= add_filename(out, "filename", a->name);
		rc |= buf_addstr(out, "\nContent-Transfer-Encoding: base64\n\n");
		rc |= mime_b64_encode(a->data, a->len, out);
	}
	rc |= buf_printf(out, "--%s--\n", m->boundary);
	return rc == 0 ? 0 : -1;
}
