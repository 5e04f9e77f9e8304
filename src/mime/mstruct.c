/*
 * mime/mstruct - the streaming MIME structure parser; see mstruct.h.
 *
 * The text is read line by line: a line is at most LINE_KEEP octets kept
 * (enough to know a boundary), the field being read at most
 * MSTRUCT_FIELD_MAX; positions are counted in CRLF octets as the lines
 * go by.  The open parts form a stack from the top message down to the
 * deepest part, which gets the lines: its header's fields while its
 * header lasts, else nothing but the check for a boundary of any
 * multipart on the stack (the longest that prefixes the line wins, as
 * Dovecot does), which ends every part above that multipart.
 */
#include "mstruct.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/buf.h"

#define LINE_KEEP (MSTRUCT_BOUNDARY_MAX + 8)
#define SEGMENTS_MAX 64		/* pieces of one RFC 2231 parameter */

enum cfield {
	CF_TYPE, CF_ENC, CF_ID, CF_DESC, CF_DISP, CF_LANG, CF_LOC, CF_MD5,
	CF_N
};

static const char *const CONTENT_FIELDS[CF_N] = {
	"Content-Type", "Content-Transfer-Encoding", "Content-ID",
	"Content-Description", "Content-Disposition", "Content-Language",
	"Content-Location", "Content-MD5",
};

static const char *const ENV_FIELDS[MSTRUCT_ENV_N] = {
	"Date", "Subject", "From", "Sender", "Reply-To", "To", "Cc", "Bcc",
	"In-Reply-To", "Message-ID",
};

struct mstruct {
	struct mstruct_part *root;
	struct mstruct_part *stack[MSTRUCT_DEPTH_MAX + 1];
	unsigned top;
	unsigned nparts;
	size_t kept;
	bool no_bounds;		/* the part limit was hit: no more parts */
	bool truncated;
	bool ended;

	uint64_t pos;		/* CRLF offset of the line being read */
	uint64_t nlf;		/* LFs before it */
	/* the line being read */
	uint64_t lraw;		/* raw octets so far, LF not counted */
	char last;		/* its last octet */
	char lbuf[LINE_KEEP];
	size_t llen;
	/* the line before it */
	bool have_prev;
	bool prev_boundary;		/* it was a boundary line */
	uint64_t prev_start, prev_end;	/* its start, its content's end */
	uint64_t prev_nlf;		/* LFs before it */
	/* the header field being read, unfolded */
	char fbuf[MSTRUCT_FIELD_MAX];
	size_t flen;
};

struct mstruct *
mstruct_new(void)
{
	struct mstruct *ms = xcalloc(1, sizeof(*ms));

	ms->root = xcalloc(1, sizeof(*ms->root));
	ms->root->is_msg = true;
	ms->root->in_header = true;
	strcpy(ms->root->type, "TEXT");
	strcpy(ms->root->subtype, "PLAIN");
	ms->stack[0] = ms->root;
	ms->nparts = 1;
	return ms;
}

/* --- kept values ---------------------------------------------------------- */

/* A copy of s[0..n) charged to the budget; NULL past it. */
static char *
keep(struct mstruct *ms, const char *s, size_t n)
{
	char *r;

	if (n + 1 > MSTRUCT_KEPT_MAX - ms->kept) {
		ms->truncated = true;
		return NULL;
	}
	ms->kept += n + 1;
	r = xmalloc(n + 1);
	memcpy(r, s, n);
	r[n] = '\0';
	return r;
}

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* RFC 2045 token characters. */
static bool
is_tchar(char c)
{
	unsigned char u = (unsigned char)c;

	return u > 0x20 && u < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* Skips white space and (nested) comments from *ip. */
static void
skip_cfws(const char *s, size_t len, size_t *ip)
{
	size_t i = *ip;
	unsigned depth = 0;

	while (i < len) {
		if (depth == 0 && is_wsp(s[i])) {
			i++;
		} else if (s[i] == '(') {
			depth++;
			i++;
		} else if (depth > 0 && s[i] == ')') {
			depth--;
			i++;
		} else if (depth > 0) {
			if (s[i] == '\\' && i + 1 < len)
				i++;
			i++;
		} else {
			break;
		}
	}
	*ip = i;
}

/* A token at *ip (its length, 0 if none), *ip past it. */
static size_t
token(const char *s, size_t len, size_t *ip, const char **tok_r)
{
	size_t i = *ip;

	*tok_r = s + i;
	while (i < len && is_tchar(s[i]))
		i++;
	len = i - *ip;
	*ip = i;
	return len;
}

/* --- parameters (RFC 2045 5.1, RFC 2231) ---------------------------------- */

struct rawp {
	const char *name;
	size_t nlen;
	char *value;		/* unquoted, malloc'ed */
	size_t vlen;
	long seg;		/* name*N: N; -1 if not a continuation */
	bool ext;		/* name* or name*N* */
	size_t blen;		/* octets of the name before '*' */
	bool used;
};

/* Reads a value (quoted string or token) at *ip into a new string. */
static char *
param_value(const char *s, size_t len, size_t *ip, size_t *vlen_r)
{
	size_t i = *ip, n = 0;
	char *v = xmalloc(len - i + 1);

	if (i < len && s[i] == '"') {
		for (i++; i < len && s[i] != '"'; i++) {
			if (s[i] == '\\' && i + 1 < len)
				i++;
			v[n++] = s[i];
		}
		if (i < len)
			i++;
	} else {
		while (i < len && s[i] != ';' && !is_wsp(s[i]))
			v[n++] = s[i++];
	}
	v[n] = '\0';
	*vlen_r = n;
	*ip = i;
	return v;
}

/* The name's continuation form: name*N or name*N* or name*. */
static void
param_form(struct rawp *r)
{
	const char *st = memchr(r->name, '*', r->nlen);
	size_t i;

	r->seg = -1;
	r->ext = false;
	r->blen = r->nlen;
	if (st == NULL)
		return;
	i = (size_t)(st - r->name) + 1;
	r->blen = (size_t)(st - r->name);
	if (i == r->nlen) {
		r->ext = true;
		return;
	}
	r->seg = 0;
	for (; i < r->nlen && r->name[i] >= '0' && r->name[i] <= '9'; i++)
		if (r->seg < SEGMENTS_MAX)
			r->seg = r->seg * 10 + (r->name[i] - '0');
	if (i < r->nlen && r->name[i] == '*') {
		r->ext = true;
		i++;
	}
	if (i != r->nlen || r->blen == 0 || r->seg >= SEGMENTS_MAX) {
		r->seg = -1;	/* not a form of 2231: kept as named */
		r->ext = false;
		r->blen = r->nlen;
	}
}

static void
pct_encode(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("!#$&+-.^_`|~", c))
			buf_addc(b, (char)c);
		else {
			buf_addc(b, '%');
			buf_addc(b, hex[c >> 4]);
			buf_addc(b, hex[c & 15]);
		}
	}
}

/* The pieces of r[k]'s name joined into one parameter, added to out. */
static void
param_join(struct mstruct *ms, struct rawp *r, size_t n, size_t k,
	   struct mstruct_param *out, size_t *nout)
{
	struct rawp *seg[SEGMENTS_MAX] = {0};
	struct buf *v = buf_new(MSTRUCT_FIELD_MAX * 2);
	bool any_ext = false;
	size_t nseg = 0;

	for (size_t j = k; j < n; j++) {
		if (r[j].used || r[j].seg < 0 || r[j].blen != r[k].blen ||
		    strncasecmp(r[j].name, r[k].name, r[k].blen) != 0)
			continue;
		r[j].used = true;
		if (seg[r[j].seg] == NULL)
			seg[r[j].seg] = &r[j];
	}
	while (nseg < SEGMENTS_MAX && seg[nseg] != NULL)
		any_ext |= seg[nseg++]->ext;
	for (size_t s = 0; s < nseg; s++) {
		if (any_ext && s == 0 && !seg[0]->ext)
			buf_addstr(v, "''");
		if (any_ext && !seg[s]->ext)
			pct_encode(v, seg[s]->value, seg[s]->vlen);
		else
			buf_add(v, seg[s]->value, seg[s]->vlen);
	}
	if (nseg > 0) {
		char name[MSTRUCT_TOKEN_MAX + 2];
		size_t nl = r[k].blen < MSTRUCT_TOKEN_MAX ? r[k].blen :
			    MSTRUCT_TOKEN_MAX;

		memcpy(name, r[k].name, nl);
		if (any_ext)
			name[nl++] = '*';
		out[*nout].name = keep(ms, name, nl);
		out[*nout].value = keep(ms, v->data ? v->data : "", v->len);
		if (out[*nout].name != NULL && out[*nout].value != NULL)
			(*nout)++;
		else {
			free(out[*nout].name);
			free(out[*nout].value);
		}
	}
	buf_free(&v);
}

/* The parameters after the first ';' of s (outside quotes). */
static void
params_parse(struct mstruct *ms, const char *s, size_t len, size_t i,
	     struct mstruct_param **pp, size_t *np)
{
	struct rawp r[MSTRUCT_PARAMS_MAX * 2];
	size_t n = 0, nout = 0;
	struct mstruct_param *out;

	while (i < len && n < MSTRUCT_PARAMS_MAX * 2) {
		const char *nm;
		size_t nl;

		while (i < len && s[i] != ';') {
			if (s[i] == '"')	/* skip a stray quoted string */
				free(param_value(s, len, &i, &nl));
			else
				i++;
		}
		if (i >= len)
			break;
		i++;
		skip_cfws(s, len, &i);
		nm = s + i;
		while (i < len && s[i] != '=' && s[i] != ';' && !is_wsp(s[i]))
			i++;
		nl = (size_t)(s + i - nm);
		skip_cfws(s, len, &i);
		if (nl == 0 || i >= len || s[i] != '=')
			continue;
		i++;
		skip_cfws(s, len, &i);
		r[n].name = nm;
		r[n].nlen = nl;
		r[n].used = false;
		r[n].value = param_value(s, len, &i, &r[n].vlen);
		param_form(&r[n]);
		n++;
	}
	if (n == 0)
		return;
	out = xcalloc(n, sizeof(*out));
	for (size_t k = 0; k < n && nout < MSTRUCT_PARAMS_MAX; k++) {
		if (r[k].used)
			continue;
		if (r[k].seg >= 0) {
			param_join(ms, r, n, k, out, &nout);
			continue;
		}
		r[k].used = true;
		out[nout].name = keep(ms, r[k].name, r[k].nlen);
		out[nout].value = keep(ms, r[k].value, r[k].vlen);
		if (out[nout].name != NULL && out[nout].value != NULL)
			nout++;
		else {
			free(out[nout].name);
			free(out[nout].value);
		}
	}
	for (size_t k = 0; k < n; k++)
		free(r[k].value);
	if (nout == 0) {
		free(out);
		return;
	}
	*pp = out;
	*np = nout;
}

static void
params_free(struct mstruct_param **pp, size_t *np)
{
	for (size_t i = 0; i < *np; i++) {
		free((*pp)[i].name);
		free((*pp)[i].value);
	}
	free(*pp);
	*pp = NULL;
	*np = 0;
}

/* --- Content-* fields ----------------------------------------------------- */

/* Content-Type: type "/" subtype *(";" parameter); else the defaults. */
static void
ctype_parse(struct mstruct *ms, struct mstruct_part *p, const char *v,
	    size_t len)
{
	const char *t, *st;
	size_t i = 0, tl, sl;

	skip_cfws(v, len, &i);
	tl = token(v, len, &i, &t);
	skip_cfws(v, len, &i);
	if (tl == 0 || tl >= MSTRUCT_TOKEN_MAX || i >= len || v[i] != '/')
		return;
	i++;
	skip_cfws(v, len, &i);
	sl = token(v, len, &i, &st);
	skip_cfws(v, len, &i);
	/* anything but parameters after it: not a type (Dovecot) */
	if (sl == 0 || sl >= MSTRUCT_TOKEN_MAX || (i < len && v[i] != ';'))
		return;
	memcpy(p->type, t, tl);
	p->type[tl] = '\0';
	memcpy(p->subtype, st, sl);
	p->subtype[sl] = '\0';
	p->ct_given = true;
	params_parse(ms, v, len, i, &p->params, &p->nparams);
}

/* Content-Disposition: type *(";" parameter). */
static void
disp_parse(struct mstruct *ms, struct mstruct_part *p, const char *v,
	   size_t len)
{
	const char *t;
	size_t i = 0, tl;

	skip_cfws(v, len, &i);
	tl = token(v, len, &i, &t);
	if (tl == 0)
		return;
	p->disp = keep(ms, t, tl);
	if (p->disp != NULL)
		params_parse(ms, v, len, i, &p->dparams, &p->ndparams);
}

static void
content_field(struct mstruct *ms, struct mstruct_part *p, enum cfield f,
	      const char *v, size_t len)
{
	const char *t;
	size_t i = 0, tl;

	switch (f) {
	case CF_TYPE:
		ctype_parse(ms, p, v, len);
		break;
	case CF_ENC:
		skip_cfws(v, len, &i);
		tl = token(v, len, &i, &t);
		if (tl > 0)
			p->enc = keep(ms, t, tl);
		break;
	case CF_DISP:
		disp_parse(ms, p, v, len);
		break;
	case CF_ID:
		p->id = keep(ms, v, len);
		break;
	case CF_DESC:
		p->desc = keep(ms, v, len);
		break;
	case CF_LANG:
		p->lang = keep(ms, v, len);
		break;
	case CF_LOC:
		p->loc = keep(ms, v, len);
		break;
	case CF_MD5:
		p->md5 = keep(ms, v, len);
		break;
	case CF_N:
		break;
	}
}

/* The field in fbuf, read into the deepest part; fbuf emptied. */
static void
field_finish(struct mstruct *ms)
{
	struct mstruct_part *p = ms->stack[ms->top];
	const char *f = ms->fbuf, *colon;
	size_t nl, vs, ve;

	if (ms->flen == 0)
		return;
	colon = memchr(f, ':', ms->flen);
	nl = colon != NULL ? (size_t)(colon - f) : 0;
	while (nl > 0 && is_wsp(f[nl - 1]))
		nl--;
	if (nl == 0 || is_wsp(f[0])) {
		ms->flen = 0;
		return;
	}
	vs = (size_t)(colon - f) + 1;
	ve = ms->flen;
	while (vs < ve && is_wsp(f[vs]))
		vs++;
	while (ve > vs && is_wsp(f[ve - 1]))
		ve--;
	for (int k = 0; k < CF_N; k++)
		if (!p->has_field[k] && strlen(CONTENT_FIELDS[k]) == nl &&
		    strncasecmp(f, CONTENT_FIELDS[k], nl) == 0) {
			p->has_field[k] = true;
			content_field(ms, p, (enum cfield)k, f + vs, ve - vs);
		}
	/* the last of an envelope field wins, as with Dovecot; the first
	 * Content-Type (its parser's rule too) */
	for (int k = 0; p->is_msg && k < MSTRUCT_ENV_N; k++)
		if (strlen(ENV_FIELDS[k]) == nl &&
		    strncasecmp(f, ENV_FIELDS[k], nl) == 0) {
			if (p->env[k] != NULL) {
				ms->kept -= strlen(p->env[k]) + 1;
				free(p->env[k]);
			}
			p->env[k] = keep(ms, f + vs, ve - vs);
		}
	ms->flen = 0;
}

/* --- the tree ------------------------------------------------------------- */

bool
mstruct_is(const struct mstruct_part *p, const char *type,
	   const char *subtype)
{
	return strcasecmp(p->type, type) == 0 &&
	       (subtype == NULL || strcasecmp(p->subtype, subtype) == 0);
}

/* A new part under parent, at the end of its children; NULL past the
 * part limit. */
static struct mstruct_part *
part_new(struct mstruct *ms, struct mstruct_part *parent)
{
	struct mstruct_part *p, **tail;

	if (ms->nparts >= MSTRUCT_PARTS_MAX) {
		ms->truncated = true;
		return NULL;
	}
	ms->nparts++;
	p = xcalloc(1, sizeof(*p));
	p->parent = parent;
	p->depth = parent->depth + 1;
	p->in_header = true;
	if (parent->multipart && mstruct_is(parent, "multipart", "digest")) {
		strcpy(p->type, "MESSAGE");
		strcpy(p->subtype, "RFC822");
	} else {
		strcpy(p->type, "TEXT");
		strcpy(p->subtype, "PLAIN");
	}
	for (tail = &parent->children; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = p;
	parent->nchildren++;
	return p;
}

/* A part that cannot be followed is shown as a text/plain leaf. */
static void
flatten(struct mstruct_part *p)
{
	strcpy(p->type, "TEXT");
	strcpy(p->subtype, "PLAIN");
	p->ct_given = false;
	params_free(&p->params, &p->nparams);
}

static bool
encoding_is_identity(const struct mstruct_part *p)
{
	return p->enc == NULL || strcasecmp(p->enc, "7bit") == 0 ||
	       strcasecmp(p->enc, "8bit") == 0 ||
	       strcasecmp(p->enc, "binary") == 0;
}

static const char *
param_find(const struct mstruct_part *p, const char *name)
{
	for (size_t i = 0; i < p->nparams; i++)
		if (strcasecmp(p->params[i].name, name) == 0)
			return p->params[i].value;
	return NULL;
}

/*
 * The header of p ended (with a blank line when body is true): what p
 * is, and for a container that can be followed, its first child (a
 * message/rfc822's message) pushed.
 */
static void
header_done(struct mstruct *ms, struct mstruct_part *p, bool body)
{
	bool is_mp = mstruct_is(p, "multipart", NULL);
	bool is_msg = mstruct_is(p, "message", "rfc822") ||
		      mstruct_is(p, "message", "global");
	const char *b = is_mp ? param_find(p, "boundary") : NULL;
	struct mstruct_part *m;

	p->in_header = false;
	if (!is_mp && !is_msg)
		return;
	if (p->depth >= MSTRUCT_DEPTH_MAX || ms->no_bounds) {
		if (p->depth >= MSTRUCT_DEPTH_MAX)
			ms->truncated = true;
		flatten(p);
		return;
	}
	if (is_mp) {
		/* no boundary to follow (or no body): no parts */
		p->multipart = true;
		if (body && b != NULL && b[0] != '\0' &&
		    strlen(b) <= MSTRUCT_BOUNDARY_MAX)
			p->boundary = xstrdup(b);
		return;
	}
	if ((m = part_new(ms, p)) == NULL) {
		flatten(p);
		return;
	}
	p->rfc822 = true;
	m->is_msg = true;
	m->hdr_off = m->body_off = p->body_off;
	if (!body || !encoding_is_identity(p)) {
		/* no body, or encoded: its message is empty */
		m->in_header = false;
		return;
	}
	ms->stack[++ms->top] = m;
}

/* The deepest part's header ends with the line just read (blank). */
static void
header_end(struct mstruct *ms, uint64_t next, uint64_t nlf_after)
{
	struct mstruct_part *p = ms->stack[ms->top];

	p->hdr_size = next - p->hdr_off;
	p->body_off = next;
	p->lf_start = nlf_after;
	header_done(ms, p, true);
	if (ms->stack[ms->top] != p) {
		/* its message begins here too */
		ms->stack[ms->top]->lf_start = nlf_after;
	}
}

/* p ends at end, with nlf LFs before it (a boundary line's); a body
 * that would begin after it is empty, and the header gives the line
 * break of its blank line to the boundary. */
static void
end_at(struct mstruct *ms, struct mstruct_part *p, uint64_t end,
       uint64_t nlf)
{
	if (!p->in_header && p->body_off > end) {
		p->hdr_size = end - p->hdr_off;
		p->body_off = end;
		p->body_size = 0;
		p->body_lines = 0;
		if (p->rfc822)	/* its empty message, never read */
			p->children->hdr_off = p->children->body_off = end;
		return;
	}
	if (p->in_header) {
		p->hdr_size = end - p->hdr_off;
		p->body_off = end;
		p->body_size = 0;
		p->body_lines = 0;
		header_done(ms, p, false);
		return;
	}
	p->body_size = end - p->body_off;
	p->body_lines = nlf - p->lf_start;
}

/* p ends at the end of the text. */
static void
end_at_eof(struct mstruct *ms, struct mstruct_part *p)
{
	uint64_t end = ms->pos;

	if (p->in_header) {
		p->hdr_size = end - p->hdr_off;
		p->body_off = end;
		header_done(ms, p, false);
		return;
	}
	p->body_size = end - p->body_off;
	p->body_lines = ms->nlf - p->lf_start;
}

/* The stack index of the multipart whose boundary the line is (the
 * longest match, the deepest of equals); -1 if none.  *close_r: "--"
 * followed the boundary. */
static int
boundary_match(const struct mstruct *ms, bool *close_r)
{
	int best = -1;
	size_t best_len = 0;
	const char *l = ms->lbuf;

	if (ms->no_bounds || ms->llen < 3 || l[0] != '-' || l[1] != '-')
		return -1;
	for (int i = (int)ms->top; i >= 0; i--) {
		const struct mstruct_part *p = ms->stack[i];
		size_t bl;

		if (!p->multipart || p->closed || p->boundary == NULL)
			continue;
		bl = strlen(p->boundary);
		if (bl + 2 > ms->llen || memcmp(l + 2, p->boundary, bl) != 0 ||
		    bl <= best_len)
			continue;
		best = i;
		best_len = bl;
	}
	if (best >= 0)
		*close_r = ms->llen >= best_len + 4 &&
			   l[best_len + 2] == '-' && l[best_len + 3] == '-';
	return best;
}

/*
 * A boundary line of stack[i]: the parts above it end, all where the
 * line before it ends (the line break before a boundary belongs to it,
 * that of a header's blank line too: RFC 2046 5.1.1, as Dovecot reads
 * it) unless that line is not the deepest part's own (the boundary that
 * began it, or a close-delimiter, whose line break stays in its
 * multipart): then where the boundary line begins.  A new part begins
 * after the line unless it closes the multipart.
 */
static void
delimiter(struct mstruct *ms, unsigned i, bool close, bool lf,
	  uint64_t next)
{
	struct mstruct_part *mp = ms->stack[i], *c, *x = ms->stack[ms->top];
	uint64_t end = ms->pos, nlf = ms->nlf;

	if (ms->have_prev && !ms->prev_boundary &&
	    ms->prev_start >= x->hdr_off) {
		end = ms->prev_end;
		nlf = ms->prev_nlf;
	}
	ms->flen = 0;
	while (ms->top > i)
		end_at(ms, ms->stack[ms->top--], end, nlf);
	if (close) {
		mp->closed = true;
		return;
	}
	if (!lf)
		return;
	c = part_new(ms, mp);
	if (c == NULL) {
		ms->no_bounds = true;
		return;
	}
	c->hdr_off = next;
	ms->stack[++ms->top] = c;
}

/* A line (without its LF) begins with octet c. */
static void
line_begins(struct mstruct *ms, char c)
{
	if (ms->stack[ms->top]->in_header && c != ' ' && c != '\t')
		field_finish(ms);
}

static void
line_add(struct mstruct *ms, const char *data, size_t n)
{
	size_t k;

	if (n == 0)
		return;
	if (ms->lraw == 0)
		line_begins(ms, data[0]);
	k = LINE_KEEP - ms->llen < n ? LINE_KEEP - ms->llen : n;
	memcpy(ms->lbuf + ms->llen, data, k);
	ms->llen += k;
	if (ms->stack[ms->top]->in_header)
		for (size_t i = 0; i < n && ms->flen < MSTRUCT_FIELD_MAX; i++)
			if (data[i] != '\0')
				ms->fbuf[ms->flen++] = data[i];
	ms->lraw += n;
	ms->last = data[n - 1];
}

/* The line read ends (lf: with a LF; else at the end of the text). */
static void
line_end(struct mstruct *ms, bool lf)
{
	/* every LF is CRLF on the wire, a CR before it included (the store
	 * keeps LF line ends: its CRLF size counts 1 more per LF, and so
	 * must every size here); for matching, that CR is dropped */
	bool cr = lf && ms->lraw > 0 && ms->last == '\r';
	uint64_t start = ms->pos, end = start + ms->lraw;
	uint64_t next = end + (lf ? 2 : 0);
	bool close = false;
	int bi;

	if (ms->lraw == 0)
		line_begins(ms, '\n');
	if (cr && ms->llen > 0 && ms->llen == ms->lraw)
		ms->llen--;
	if (cr && ms->flen > 0 && ms->fbuf[ms->flen - 1] == '\r')
		ms->flen--;
	bi = boundary_match(ms, &close);
	if (bi >= 0) {
		delimiter(ms, (unsigned)bi, close, lf, next);
	} else if (ms->stack[ms->top]->in_header && lf &&
		   ms->lraw == (cr ? 1u : 0u)) {
		field_finish(ms);
		header_end(ms, next, ms->nlf + 1);
	}
	ms->have_prev = true;
	ms->prev_boundary = bi >= 0;
	ms->prev_start = start;
	ms->prev_end = end;
	ms->prev_nlf = ms->nlf;
	if (lf)
		ms->nlf++;
	ms->pos = next;
	ms->lraw = 0;
	ms->llen = 0;
	ms->last = '\0';
}

void
mstruct_feed(struct mstruct *ms, const char *data, size_t len)
{
	while (len > 0 && !ms->ended) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl != NULL ? (size_t)(nl - data) : len;

		line_add(ms, data, n);
		if (nl == NULL)
			return;
		line_end(ms, true);
		data += n + 1;
		len -= n + 1;
	}
}

const struct mstruct_part *
mstruct_end(struct mstruct *ms)
{
	if (ms->ended)
		return ms->root;
	if (ms->lraw > 0)
		line_end(ms, false);
	if (ms->stack[ms->top]->in_header)
		field_finish(ms);
	for (;;) {
		end_at_eof(ms, ms->stack[ms->top]);
		if (ms->top == 0)
			break;
		ms->top--;
	}
	ms->ended = true;
	return ms->root;
}

bool
mstruct_header_ended(const struct mstruct *ms)
{
	return !ms->root->in_header;
}

const struct mstruct_part *
mstruct_root(const struct mstruct *ms)
{
	return ms->root;
}

uint64_t
mstruct_size(const struct mstruct *ms)
{
	return ms->pos + ms->lraw;
}

bool
mstruct_truncated(const struct mstruct *ms)
{
	return ms->truncated;
}

static void
part_free(struct mstruct_part *p)
{
	while (p != NULL) {
		struct mstruct_part *next = p->next;

		part_free(p->children);
		params_free(&p->params, &p->nparams);
		params_free(&p->dparams, &p->ndparams);
		free(p->id);
		free(p->desc);
		free(p->enc);
		free(p->md5);
		free(p->lang);
		free(p->loc);
		free(p->disp);
		free(p->boundary);
		for (int k = 0; k < MSTRUCT_ENV_N; k++)
			free(p->env[k]);
		free(p);
		p = next;
	}
}

void
mstruct_free(struct mstruct **msp)
{
	if (*msp == NULL)
		return;
	part_free((*msp)->root);
	free(*msp);
	*msp = NULL;
}
