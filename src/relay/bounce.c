/*
 * bounce - see bounce.h.
 */
#include "bounce.h"

#include <stdio.h>
#include <string.h>

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

/* "5.1.1" from a reply like "550 5.1.1 text", else a default by class. */
static void
status_of(const char *reply, char *out, size_t size)
{
	unsigned a, b, c;
	char cls = reply[0];

	if (strlen(reply) > 4 &&
	    sscanf(reply + 4, "%1u.%3u.%3u", &a, &b, &c) == 3 && a == 5) {
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
	const char *bnd = id;

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
		   hostname, e->sender, now_s, id, hostname, bnd, hostname);
	buf_printf(b, "--%s/%s\nContent-Description: Notification\n"
		      "Content-Type: text/plain; charset=us-ascii\n\n"
		      "This is the mail system at host %s.\n\n"
		      "Your message could not be delivered to one or more "
		      "recipients.\nThe mail system said:\n\n",
		   bnd, hostname, hostname);
	for (size_t i = 0; i < e->nrcpts; i++)
		if (e->rcpts[i].state == QR_FAILED)
			buf_printf(b, "<%s>: %s\n", e->rcpts[i].addr,
				   e->rcpts[i].reply);
	buf_printf(b, "\n--%s/%s\nContent-Description: Delivery report\n"
		      "Content-Type: message/delivery-status\n\n"
		      "Reporting-MTA: dns; %s\nX-Owlpost-Queue-ID: %s\n"
		      "Arrival-Date: %s\n",
		   bnd, hostname, hostname, e->id, arr);
	for (size_t i = 0; i < e->nrcpts; i++) {
		const struct qrcpt *r = &e->rcpts[i];

		if (r->state != QR_FAILED)
			continue;
		status_of(r->reply, st, sizeof(st));
		buf_printf(b, "\nFinal-Recipient: rfc822; %s\n"
			      "Action: failed\nStatus: %s\n", r->addr, st);
		if (r->reply[0] >= '2' && r->reply[0] <= '5' &&
		    r->reply[1] >= '0' && r->reply[1] <= '9')
			buf_printf(b, "Diagnostic-Code: smtp; %s\n", r->reply);
		else
			buf_printf(b, "Diagnostic-Code: X-owlpost; %s\n",
				   r->reply);
	}
	buf_printf(b, "\n--%s/%s\nContent-Description: Undelivered message "
		      "headers\nContent-Type: text/rfc822-headers\n\n",
		   bnd, hostname);
	buf_add(b, headers, hlen);
	buf_printf(b, "\n--%s/%s--\n", bnd, hostname);
}
