/*
 * bounce - see bounce.h.  The result goes out with CRLF for each LF, so it
 * must hold no CR or NUL of its own and no line over 998 octets (RFC 5322
 * 2.1.1): envelope text (addresses, replies) goes in with control octets
 * as '?', the quoted headers with CR and NUL as spaces and each line cut
 * at 998 octets.
 */
#include "bounce.h"

#include <stdio.h>
#include <string.h>

static bounce_sign_fn *signer;

void
bounce_set_signer(bounce_sign_fn *fn)
{
	signer = fn;
}

size_t
bounce_headers_len(const char *text, size_t len, size_t max)
{
	const char *p = text, *end = text + (len < max ? len : max);

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (nl == NULL)
			break;
		if (nl == p || (nl == p + 1 && *p == '\r'))
			return (size_t)(p - text);
		p = nl + 1;
	}
	return (size_t)(p - text); /* whole lines only */
}

#define LINE_MAX_OCTETS 998

/* s as one line of text: control octets become '?' (out: size > 0). */
static const char *
clean(const char *s, char *out, size_t size)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < size; i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?'
								  : s[i];
	out[i] = '\0';
	return out;
}

/* The original headers: CR and NUL as spaces, lines cut at 998. */
static void
add_headers(struct buf *b, const char *h, size_t len)
{
	size_t col = 0;

	for (size_t i = 0; i < len; i++) {
		char c = h[i];

		if (c == '\n') {
			col = 0;
		} else if (col++ >= LINE_MAX_OCTETS) {
			continue;
		} else if (c == '\r' || c == '\0') {
			c = ' ';
		}
		buf_addc(b, c);
	}
}

/* Digits at *p, 1 to max of them, into *v; *p moves past them. */
static int
digits(const char **p, size_t max, unsigned *v)
{
	size_t n = 0;

	*v = 0;
	while (n < max && (*p)[n] >= '0' && (*p)[n] <= '9')
		*v = *v * 10 + (unsigned)((*p)[n++] - '0');
	*p += n;
	return n > 0 && !(**p >= '0' && **p <= '9') ? 0 : -1;
}

/* "5.1.1" from a reply like "550 5.1.1 text", else a default by class. */
static void
status_of(const char *reply, char *out, size_t size)
{
	unsigned a, b, c;
	char cls = reply[0];
	const char *p = reply + 4;

	/* RFC 3463: class "." subject (1-3 digits) "." detail (1-3 digits) */
	if (strlen(reply) > 4 && digits(&p, 1, &a) == 0 && a == 5 &&
	    *p++ == '.' && digits(&p, 3, &b) == 0 && *p++ == '.' &&
	    digits(&p, 3, &c) == 0 && (*p == ' ' || *p == '\0')) {
		snprintf(out, size, "%u.%u.%u", a, b, c);
		return;
	}
	snprintf(out, size, "%s", cls == '5' ? "5.0.0" : "4.4.7");
	if (cls != '5') /* gave up on a temporary failure: expired */
		out[0] = '5';
}

static void
date(char *out, size_t size, time_t t)
{
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, size, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

void
bounce_build(struct buf *b, const char *hostname, const struct qenv *e,
	     const char *headers, size_t hlen, time_t now, const char *id)
{
	char now_s[64], arr[64], st[16];
	char host[300], bnd[QUEUE_ID_MAX + 8], sender[ADDR_PATH_MAX + 1];
	char addr[ADDR_PATH_MAX + 1], reply[QUEUE_TEXT_MAX], qid[QUEUE_ID_MAX];
	size_t start = b->len;

	clean(hostname, host, sizeof(host));
	clean(id, bnd, sizeof(bnd));
	clean(e->sender, sender, sizeof(sender));
	clean(e->id, qid, sizeof(qid));
	date(now_s, sizeof(now_s), now);
	date(arr, sizeof(arr), e->created);
	buf_printf(b, "From: Mail Delivery System <MAILER-DAEMON@%s>\n"
		      "To: <%s>\n"
		      "Subject: Undelivered Mail Returned to Sender\n"
		      "Date: %s\n"
		      "Message-ID: <%s@%s>\n"
		      "Auto-Submitted: auto-replied\n"
		      "MIME-Version: 1.0\n"
		      "Content-Type: multipart/report; "
		      "report-type=delivery-status;\n"
		      "\tboundary=\"%s/%s\"\n\n"
		      "This is a MIME-encapsulated message.\n\n",
		   host, sender, now_s, bnd, host, bnd, host);
	buf_printf(b, "--%s/%s\nContent-Description: Notification\n"
		      "Content-Type: text/plain; charset=us-ascii\n\n"
		      "This is the mail system at host %s.\n\n"
		      "Your message could not be delivered to one or more "
		      "recipients.\nThe mail system said:\n\n",
		   bnd, host, host);
	for (size_t i = 0; i < e->nrcpts; i++)
		if (e->rcpts[i].state == QR_FAILED)
			buf_printf(b, "<%s>: %s\n",
				   clean(e->rcpts[i].addr, addr, sizeof(addr)),
				   clean(e->rcpts[i].reply, reply,
					 sizeof(reply)));
	buf_printf(b, "\n--%s/%s\nContent-Description: Delivery report\n"
		      "Content-Type: message/delivery-status\n\n"
		      "Reporting-MTA: dns; %s\nX-Owlpost-Queue-ID: %s\n"
		      "Arrival-Date: %s\n",
		   bnd, host, host, qid, arr);
	for (size_t i = 0; i < e->nrcpts; i++) {
		const struct qrcpt *r = &e->rcpts[i];

		if (r->state != QR_FAILED)
			continue;
		status_of(r->reply, st, sizeof(st));
		clean(r->reply, reply, sizeof(reply));
		buf_printf(b, "\nFinal-Recipient: rfc822; %s\n"
			      "Action: failed\nStatus: %s\n",
			   clean(r->addr, addr, sizeof(addr)), st);
		if (r->reply[0] >= '2' && r->reply[0] <= '5' &&
		    r->reply[1] >= '0' && r->reply[1] <= '9')
			buf_printf(b, "Diagnostic-Code: smtp; %s\n", reply);
		else
			buf_printf(b, "Diagnostic-Code: X-owlpost; %s\n",
				   reply);
	}
	buf_printf(b, "\n--%s/%s\nContent-Description: Undelivered message "
		      "headers\nContent-Type: text/rfc822-headers\n\n",
		   bnd, host);
	add_headers(b, headers, hlen);
	buf_printf(b, "\n--%s/%s--\n", bnd, host);
	if (signer != NULL)
		signer(b, start);
}
