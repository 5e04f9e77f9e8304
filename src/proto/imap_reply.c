/*
 * imap_reply - the replies and argument readers every IMAP command file
 * shares: tagged responses, BAD with its count, store failures as their
 * RFC 5530 codes, astrings and 63-bit numbers.
 */
#include <stdio.h>
#include <string.h>

#include "imap_server_private.h"

void
imap_tagged(struct buf *out, const char *tag, const char *status,
	    const char *text)
{
	buf_printf(out, "%s %s %s\r\n", tag, status, text);
}

/* A BAD; past conf->max_errors the session ends. */
enum imap_act
imap_bad(struct imap_server *s, const char *tag, const char *text,
	 struct buf *out)
{
	imap_tagged(out, tag, "BAD", text);
	if (++s->errors < s->conf->max_errors)
		return IMAP_ACT_NONE;
	buf_addstr(out, "* BYE Too many bad commands\r\n");
	s->state = ST_LOGOUT;
	return IMAP_ACT_CLOSE;
}

/* An astring argument (RFC 9051 9): atom, quoted or a kept literal. */
const char *
imap_astring(const struct imap_arg *a, size_t *len_r)
{
	if (a->type == IMAP_ARG_LIST || a->streamed)
		return NULL;
	*len_r = a->len;
	return a->str;
}

int
imap_number64(const struct imap_arg *a, uint64_t *v_r)
{
	uint64_t v = 0;

	if (a->type != IMAP_ARG_ATOM || a->len == 0 || a->len > 20)
		return -1;
	for (size_t i = 0; i < a->len; i++) {
		unsigned d = (unsigned char)a->str[i] - '0';

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	/* mod-sequence-value: at most 2^63 - 1 (RFC 7162 7) */
	if (v > INT64_MAX)
		return -1;
	*v_r = v;
	return 0;
}

/* The tag and a store failure: "TAG NO [CODE] text". */
void
imap_tagged_mres(struct buf *out, const char *tag, enum imap_mres r,
		 const char *err, bool trycreate)
{
	static const struct {
		const char *code, *text;
	} M[] = {
		[IMAP_M_OK] = {"SERVERBUG", "Internal error"},
		[IMAP_M_TEMP] = {"UNAVAILABLE", "Temporary failure, try again"},
		[IMAP_M_NOSPACE] = {"OVERQUOTA", "Out of space"},
		[IMAP_M_PERM] = {"CANNOT", "Not possible"},
		[IMAP_M_INUSE] = {"INUSE", "Mailbox in use"},
		[IMAP_M_EXISTS] = {"ALREADYEXISTS", "Mailbox already exists"},
		[IMAP_M_NOTFOUND] = {"NONEXISTENT", "No such mailbox"},
		[IMAP_M_LIMIT] = {"LIMIT", "Limit reached"},
		[IMAP_M_EXPUNGED] = {"EXPUNGEISSUED", "A message was expunged"},
	};
	char text[256];
	size_t i = (size_t)r < sizeof(M) / sizeof(M[0]) ? (size_t)r : 0;
	const char *code = M[i].code;

	if (r == IMAP_M_NOTFOUND && trycreate)
		code = "TRYCREATE";
	/* the store's reason, on one line */
	snprintf(text, sizeof(text), "%s",
		 err != NULL && *err != '\0' ? err : M[i].text);
	for (char *p = text; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	buf_printf(out, "%s NO [%s] %s\r\n", tag, code, text);
}

