/*
 * imap_parser - see imap_parser.h.  A byte-at-a-time state machine (the
 * state is explicit, so any split of the input gives the same result):
 * the tag, the command name, then arguments; strings grow in one token
 * buffer, finished arguments go to the list being filled (a stack of them
 * for nested lists), and a finished list is copied into the command's
 * arena.  Everything a command made is freed when the next one starts.
 * Errors never stop the parser: it skips to the end of the command (an
 * announced non-synchronizing literal's octets included) and says why.
 */
#include "imap_parser.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/buf.h"
#include "wire.h"

enum state {
	S_TAG,		/* the tag */
	S_NAME,		/* the command name */
	S_ARGS,		/* between arguments */
	S_ATOM,
	S_QUOTED,
	S_QUOTED_ESC,	/* after a '\' in a quoted string */
	S_LIT_OPEN,	/* after '~': '{' must follow */
	S_LIT_SIZE,	/* the digits of {n} */
	S_LIT_CLOSE,	/* after '}': CR LF must follow */
	S_LIT_WAIT,	/* IMAP_PARSE_LITERAL handed out */
	S_LIT_DATA,	/* reading the literal's octets */
	S_CR,		/* after a CR: LF must follow */
	S_SKIP,		/* after an error: to the command's end */
	S_SKIP_LIT,	/* after an error: a {n+} literal's octets */
	S_LINE,		/* imap_parser_want_line(): a raw line */
	S_ERR_NOW,	/* a refused synchronizing literal, or a {n+} one
			   too big to drop: ERROR at once */
};

/* A list being filled: its members so far. */
struct frame {
	struct imap_arg *v;
	size_t n, cap;
};

/* Memory of one command, freed when the next starts. */
struct block {
	struct block *next;
	max_align_t align[];
};

struct imap_parser {
	struct imap_limits lim;
	enum state st;
	char *tok;		/* the token being read */
	size_t ntok, tokcap;
	unsigned bracket;	/* '[' open in the atom */
	struct frame *stack;	/* stack[0]: the command's arguments */
	unsigned depth;		/* lists open */
	unsigned nargs;
	size_t line_octets;	/* outside literals, this command */
	size_t lit_octets;	/* kept literals, this command */
	size_t skipped;		/* {n+} literals dropped, this command */
	/* the literal announced or being read */
	uint64_t lit_size;
	bool lit_sync, lit_plus, lit8, lit_stream, lit_digits, lit_cr;
	size_t lit_left;
	const char *data;	/* IMAP_PARSE_DATA */
	size_t ndata;
	/* skipping after an error: the tail of the line, to see {n+} */
	char tail[24];
	size_t ntail;
	enum imap_parse_err err;
	char errtext[160];
	bool want_line;
	bool after_arg;		/* an argument just ended: SP, ')' or EOL */
	bool done;		/* a result was handed out: reset first */
	size_t nline;		/* IMAP_PARSE_LINE: its octets */
	/* the result */
	char *tag;
	char *name;
	struct imap_command cmd;
	struct block *blocks;
};

/* --- memory of one command ------------------------------------------------ */

static void *
cmd_alloc(struct imap_parser *p, size_t size)
{
	struct block *b = xmalloc(sizeof(*b) + size + 1);

	b->next = p->blocks;
	p->blocks = b;
	return b->align;
}

static char *
cmd_strdup(struct imap_parser *p, const char *s, size_t n)
{
	char *d = cmd_alloc(p, n + 1);

	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static void
reset_command(struct imap_parser *p)
{
	while (p->blocks != NULL) {
		struct block *b = p->blocks;

		p->blocks = b->next;
		free(b);
	}
	for (unsigned i = 0; i <= p->depth; i++)
		p->stack[i].n = 0;
	p->depth = 0;
	p->nargs = 0;
	p->ntok = 0;
	p->bracket = 0;
	p->line_octets = 0;
	p->lit_octets = 0;
	p->skipped = 0;
	p->after_arg = false;
	p->ntail = 0;
	p->err = IMAP_ERR_NONE;
	p->errtext[0] = '\0';
	p->tag = p->name = NULL;
	memset(&p->cmd, 0, sizeof(p->cmd));
}

struct imap_parser *
imap_parser_new(const struct imap_limits *lim)
{
	struct imap_parser *p = xcalloc(1, sizeof(*p));

	p->lim = *lim;
	if (p->lim.depth_max == 0)
		p->lim.depth_max = 1;
	p->stack = xcalloc(p->lim.depth_max + 1, sizeof(*p->stack));
	p->tokcap = 256;
	p->tok = xmalloc(p->tokcap);
	p->st = S_TAG;
	return p;
}

void
imap_parser_free(struct imap_parser **pp)
{
	struct imap_parser *p = *pp;

	if (p == NULL)
		return;
	reset_command(p);
	for (unsigned i = 0; i <= p->lim.depth_max; i++)
		free(p->stack[i].v);
	free(p->stack);
	free(p->tok);
	free(p);
	*pp = NULL;
}

/* --- errors --------------------------------------------------------------- */

static void
fail(struct imap_parser *p, enum imap_parse_err err, const char *text)
{
	if (p->err == IMAP_ERR_NONE) {
		p->err = err;
		snprintf(p->errtext, sizeof(p->errtext), "%s", text);
	}
	p->st = S_SKIP;
	p->ntail = 0;
}

/* --- tokens and arguments ------------------------------------------------- */

static bool
tok_add(struct imap_parser *p, char c)
{
	if (++p->line_octets > p->lim.line_max) {
		fail(p, IMAP_ERR_LINE_TOO_LONG, "[TOOBIG] Command line too "
		     "long");
		return false;
	}
	if (p->ntok + 1 >= p->tokcap) {
		p->tokcap *= 2;
		p->tok = xrealloc(p->tok, p->tokcap);
	}
	p->tok[p->ntok++] = c;
	return true;
}

/* A new argument in the list being filled; NULL after an error. */
static struct imap_arg *
push_arg(struct imap_parser *p, enum imap_arg_type type)
{
	struct frame *f = &p->stack[p->depth];
	struct imap_arg *a;

	if (++p->nargs > p->lim.args_max) {
		fail(p, IMAP_ERR_TOO_MANY, "[LIMIT] Too many arguments");
		return NULL;
	}
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 8;
		f->v = xrealloc(f->v, f->cap * sizeof(*f->v));
	}
	a = &f->v[f->n++];
	memset(a, 0, sizeof(*a));
	a->type = type;
	return a;
}

/* The token as a finished argument of type. */
static void
end_token(struct imap_parser *p, enum imap_arg_type type)
{
	struct imap_arg *a;

	if (type == IMAP_ARG_ATOM && p->ntok == 3 &&
	    strncasecmp(p->tok, "NIL", 3) == 0)
		type = IMAP_ARG_NIL;
	if ((a = push_arg(p, type)) == NULL)
		return;
	a->str = cmd_strdup(p, p->tok, p->ntok);
	a->len = p->ntok;
	p->ntok = 0;
	p->after_arg = true;
}

static bool
is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* ATOM-CHAR, with '*' and '%' (sequence sets, LIST patterns) and ']'. */
static bool
atom_char(unsigned char c)
{
	return !is_ctl(c) && c != ' ' && c != '(' && c != ')' && c != '{' &&
	       c != '"' && c != '\\' && c < 0x80;
}

/* A tag: ASTRING-CHAR but '+', no '*' or '%' (RFC 9051 tag). */
static bool
tag_char(unsigned char c)
{
	return atom_char(c) && c != '+' && c != '*' && c != '%';
}

/* --- the states ----------------------------------------------------------- */

static void
begin_list(struct imap_parser *p)
{
	if (p->depth + 1 > p->lim.depth_max) {
		fail(p, IMAP_ERR_TOO_DEEP, "[LIMIT] Lists nested too deep");
		return;
	}
	if (push_arg(p, IMAP_ARG_LIST) == NULL)
		return;
	p->depth++;
	p->stack[p->depth].n = 0;
	p->after_arg = false;
}

static void
end_list(struct imap_parser *p)
{
	struct frame *f;
	struct imap_arg *owner, *members;

	if (p->depth == 0) {
		fail(p, IMAP_ERR_SYNTAX, "Unexpected ')'");
		return;
	}
	f = &p->stack[p->depth];
	members = cmd_alloc(p, (f->n + 1) * sizeof(*members));
	if (f->n > 0)
		memcpy(members, f->v, f->n * sizeof(*members));
	p->depth--;
	owner = &p->stack[p->depth].v[p->stack[p->depth].n - 1];
	owner->list = members;
	owner->n = f->n;
	f->n = 0;
	p->after_arg = true;
}

/* The command is whole: make it the result. */
static void
end_command(struct imap_parser *p)
{
	struct frame *f = &p->stack[0];
	struct imap_arg *args = cmd_alloc(p, (f->n + 1) * sizeof(*args));

	if (p->depth != 0) {
		fail(p, IMAP_ERR_SYNTAX, "Missing ')'");
		return;
	}
	if (f->n > 0)
		memcpy(args, f->v, f->n * sizeof(*args));
	p->cmd.tag = p->tag;
	p->cmd.name = p->name;
	p->cmd.args = args;
	p->cmd.nargs = f->n;
	f->n = 0;
}

/* Between arguments: what c starts. */
static void
args_char(struct imap_parser *p, unsigned char c)
{
	if (++p->line_octets > p->lim.line_max) {
		fail(p, IMAP_ERR_LINE_TOO_LONG, "[TOOBIG] Command line too "
		     "long");
		return;
	}
	if (p->after_arg && c != ' ' && c != ')' && c != '\r') {
		fail(p, IMAP_ERR_SYNTAX, "Missing space between arguments");
		return;
	}
	switch (c) {
	case ' ':
		if (!p->after_arg) {
			fail(p, IMAP_ERR_SYNTAX, "Extra space");
			return;
		}
		p->after_arg = false;
		return;
	case '(':
		begin_list(p);
		return;
	case ')':
		end_list(p);
		return;
	case '"':
		p->st = S_QUOTED;
		return;
	case '~':
		p->lit8 = true;
		p->st = S_LIT_OPEN;
		return;
	case '{':
		p->lit8 = false;
		p->lit_size = 0;
		p->lit_digits = false;
		p->lit_plus = false;
		p->st = S_LIT_SIZE;
		return;
	case '\r':
		p->st = S_CR;
		return;
	default:
		break;
	}
	if ((!atom_char(c) && c != '\\') || c == ']') {
		/* '\\' starts a flag atom (\Seen); nothing else may */
		fail(p, IMAP_ERR_SYNTAX, "Invalid characters in an argument");
		return;
	}
	p->line_octets--; /* tok_add counts it */
	p->st = S_ATOM;
	p->bracket = 0;
	if (tok_add(p, (char)c) && c == '[')
		p->bracket = 1;
}

/* An atom, its bracketed parts included; false: it ended before c. */
static bool
atom_more(struct imap_parser *p, unsigned char c)
{
	if (c == '\r' || c == '\n')
		return false;
	if (p->bracket > 0) {
		if (c == '[')
			p->bracket++;
		else if (c == ']')
			p->bracket--;
		if (is_ctl(c)) {
			fail(p, IMAP_ERR_SYNTAX, "Invalid characters in an "
			     "atom");
			return true;
		}
		tok_add(p, (char)c);
		return true;
	}
	if (c == '[') {
		p->bracket = 1;
		tok_add(p, (char)c);
		return true;
	}
	if (!atom_char(c))
		return false;
	tok_add(p, (char)c);
	return true;
}

static void
atom_char_in(struct imap_parser *p, unsigned char c)
{
	if (atom_more(p, c))
		return;
	if (c == ' ' || c == ')' || c == '\r' || c == '\n') {
		end_token(p, IMAP_ARG_ATOM);
		if (p->st == S_SKIP)
			return;
		p->st = S_ARGS;
		if (c == ' ')
			p->after_arg = false; /* the separator, taken */
		else if (c == ')')
			end_list(p);
		else if (c == '\r')
			p->st = S_CR;
		return; /* '\n': the caller ends the line */
	}
	fail(p, IMAP_ERR_SYNTAX, c == '(' || c == '{' || c == '"' ?
	     "An atom runs into another argument" :
	     "Invalid characters in an atom");
}

static void
quoted_char(struct imap_parser *p, unsigned char c)
{
	if (p->st == S_QUOTED_ESC) {
		if (c != '"' && c != '\\') {
			fail(p, IMAP_ERR_SYNTAX, "Invalid escape in a quoted "
			     "string");
			return;
		}
		p->st = S_QUOTED;
		tok_add(p, (char)c);
		return;
	}
	if (c == '\\') {
		p->st = S_QUOTED_ESC;
		p->line_octets++;
		return;
	}
	if (c == '"') {
		p->line_octets++;
		end_token(p, IMAP_ARG_QUOTED);
		if (p->st != S_SKIP)
			p->st = S_ARGS;
		return;
	}
	if (c == '\r' || c == '\n' || c == '\0') {
		fail(p, IMAP_ERR_SYNTAX, "Invalid characters in a quoted "
		     "string");
		return;
	}
	tok_add(p, (char)c); /* 8-bit: UTF-8 for IMAP4rev2 */
}

static void
lit_size_char(struct imap_parser *p, unsigned char c)
{
	p->line_octets++;
	if (c >= '0' && c <= '9' && !p->lit_plus) {
		if (p->lit_size > (UINT64_MAX - 9) / 10) {
			fail(p, IMAP_ERR_LITERAL_TOO_BIG, "[TOOBIG] Literal "
			     "too big");
			return;
		}
		p->lit_size = p->lit_size * 10 + (c - '0');
		p->lit_digits = true;
		return;
	}
	if (c == '+' && p->lit_digits && !p->lit_plus) {
		p->lit_plus = true;
		return;
	}
	if (c == '}' && p->lit_digits) {
		p->st = S_LIT_CLOSE;
		return;
	}
	fail(p, IMAP_ERR_SYNTAX, "Invalid literal size");
}

/* After "{n}": CR LF; then the literal is announced. */
static bool
lit_close_char(struct imap_parser *p, unsigned char c)
{
	if (c == '\r' && !p->lit_cr) {
		p->lit_cr = true;
		return false;
	}
	p->lit_cr = false;
	if (c == '\n') {
		p->lit_sync = !p->lit_plus;
		p->st = S_LIT_WAIT;
		return true;
	}
	fail(p, IMAP_ERR_SYNTAX, "Missing CRLF after a literal's size");
	return false;
}

/* --- skipping after an error ---------------------------------------------- */

/* The size of a "{n+}" that ends the skipped line (tail), or -1. */
static long long
tail_nonsync(const struct imap_parser *p)
{
	const char *t = p->tail;
	size_t n = p->ntail;
	long long v = 0;
	size_t i;

	if (n > 0 && t[n - 1] == '\r')
		n--;
	if (n < 4 || t[n - 1] != '}' || t[n - 2] != '+')
		return -1;
	for (i = n - 2; i > 0 && t[i - 1] >= '0' && t[i - 1] <= '9'; i--)
		;
	if (i == 0 || t[i - 1] != '{' || i == n - 2)
		return -1;
	for (size_t k = i; k < n - 2; k++) {
		if (v > (long long)1e15)
			return -1;
		v = v * 10 + (t[k] - '0');
	}
	return v;
}

/*
 * Counts an octet skipped outside literals after an error; true once the
 * line has gone on for WIRE_DROP_MAX octets past the line limit without
 * a LF: the error becomes IMAP_ERR_LINE_ENDLESS (the session ends).
 */
static bool
skipped_too_much(struct imap_parser *p)
{
	if (++p->line_octets <= p->lim.line_max + WIRE_DROP_MAX)
		return false;
	p->err = IMAP_ERR_LINE_ENDLESS;
	snprintf(p->errtext, sizeof(p->errtext), "[TOOBIG] Command line too "
		 "long");
	p->st = S_TAG;
	return true;
}

/*
 * Counts a {n+} literal of n octets to be dropped; true once the
 * command's go past lim.skip_max: the error becomes IMAP_ERR_SKIP_TOO_BIG
 * (the session ends) and none of them is read.
 */
static bool
skip_too_big(struct imap_parser *p, uint64_t n)
{
	if (p->lim.skip_max == 0 || n <= p->lim.skip_max - p->skipped) {
		p->skipped += (size_t)n;
		return false;
	}
	p->err = IMAP_ERR_SKIP_TOO_BIG;
	snprintf(p->errtext, sizeof(p->errtext), "[TOOBIG] Literal too big");
	return true;
}

/* Skips c; true when the command has ended. */
static bool
skip_char(struct imap_parser *p, unsigned char c)
{
	long long n;

	if (c != '\n') {
		if (skipped_too_much(p))
			return true;
		if (p->ntail == sizeof(p->tail)) {
			memmove(p->tail, p->tail + 1, sizeof(p->tail) - 1);
			p->ntail--;
		}
		p->tail[p->ntail++] = (char)c;
		return false;
	}
	if ((n = tail_nonsync(p)) < 0 || skip_too_big(p, (uint64_t)n))
		return true;
	p->lit_left = (size_t)n;
	p->ntail = 0;
	p->st = S_SKIP_LIT;
	return p->lit_left == 0 ? (p->st = S_SKIP, false) : false;
}

/* --- feeding -------------------------------------------------------------- */

/* Ends the command at its LF: COMMAND, or ERROR if one was met. */
static enum imap_parse_res
end_line(struct imap_parser *p)
{
	if (p->st != S_SKIP && p->err == IMAP_ERR_NONE) {
		if (p->name == NULL)
			fail(p, IMAP_ERR_SYNTAX, p->tag == NULL ?
			     "Empty command line" : "Missing command");
		else
			end_command(p);
	}
	p->st = S_TAG;
	return p->err != IMAP_ERR_NONE ? IMAP_PARSE_ERROR
				       : IMAP_PARSE_COMMAND;
}

/* The tag or the name: c ends it or adds to it. */
static void
word_char(struct imap_parser *p, unsigned char c)
{
	bool tag = p->st == S_TAG;

	if (c == ' ' && p->ntok > 0) {
		char *w = cmd_strdup(p, p->tok, p->ntok);

		p->ntok = 0;
		if (tag) {
			p->tag = w;
			p->st = S_NAME;
		} else {
			for (char *q = w; *q; q++)
				*q = (char)toupper((unsigned char)*q);
			p->name = w;
			p->st = S_ARGS;
		}
		return;
	}
	if (c == '\r' && !tag && p->ntok > 0) {
		word_char(p, ' ');
		p->st = S_CR;
		return;
	}
	if (tag ? tag_char(c) : atom_char(c) && c != '[' && c != ']') {
		tok_add(p, (char)c);
		return;
	}
	if (tag && p->ntok > 0 && c == '\r') {
		p->tag = cmd_strdup(p, p->tok, p->ntok);
		fail(p, IMAP_ERR_SYNTAX, "Missing command");
	} else {
		fail(p, IMAP_ERR_SYNTAX, tag ? "Invalid tag"
					     : "Invalid command name");
	}
}

/* A streamed or kept literal's octets from data. */
static enum imap_parse_res
lit_data(struct imap_parser *p, const char *data, size_t len, size_t *i)
{
	size_t n = len - *i < p->lit_left ? len - *i : p->lit_left;

	if (p->lit_stream) {
		p->data = data + *i;
		p->ndata = n;
		*i += n;
		p->lit_left -= n;
		if (p->lit_left == 0)
			p->st = S_ARGS;
		return IMAP_PARSE_DATA;
	}
	if (p->ntok + n + 1 > p->tokcap) {
		while (p->ntok + n + 1 > p->tokcap)
			p->tokcap *= 2;
		p->tok = xrealloc(p->tok, p->tokcap);
	}
	memcpy(p->tok + p->ntok, data + *i, n);
	p->ntok += n;
	*i += n;
	p->lit_left -= n;
	if (p->lit_left == 0) {
		end_token(p, IMAP_ARG_LITERAL);
		if (p->st != S_SKIP) {
			struct frame *f = &p->stack[p->depth];

			f->v[f->n - 1].literal8 = p->lit8;
			p->st = S_ARGS;
		}
	}
	return IMAP_PARSE_MORE;
}

/* One octet in a state that reads octet by octet; a result or MORE. */
static enum imap_parse_res
step(struct imap_parser *p, unsigned char c)
{
	switch (p->st) {
	case S_TAG:
		if (p->ntok == 0 && p->tag == NULL && (c == '\r' || c == '\n'))
			break; /* an empty line: ignored */
		/* fall through */
	case S_NAME:
		if (c == '\n') {
			if (p->st == S_NAME && p->ntok > 0)
				word_char(p, ' ');
			return end_line(p);
		}
		word_char(p, c);
		break;
	case S_ARGS:
		if (c == '\n')
			return end_line(p);
		args_char(p, c);
		break;
	case S_ATOM:
		atom_char_in(p, c);
		if (c == '\n' && p->st != S_SKIP)
			return end_line(p);
		break;
	case S_QUOTED:
	case S_QUOTED_ESC:
		quoted_char(p, c);
		break;
	case S_LIT_OPEN:
		if (c == '{') {
			p->lit_size = 0;
			p->lit_digits = false;
			p->lit_plus = false;
			p->st = S_LIT_SIZE;
		} else {
			fail(p, IMAP_ERR_SYNTAX, "'~' without a literal");
		}
		break;
	case S_LIT_SIZE:
		lit_size_char(p, c);
		break;
	case S_LIT_CLOSE:
		if (lit_close_char(p, c))
			return IMAP_PARSE_LITERAL;
		break;
	case S_CR:
		if (c == '\n')
			return end_line(p);
		fail(p, IMAP_ERR_SYNTAX, "CR without LF");
		break;
	case S_SKIP:
		if (skip_char(p, c)) {
			p->st = S_TAG;
			return IMAP_PARSE_ERROR;
		}
		break;
	default:
		break;
	}
	return IMAP_PARSE_MORE;
}

/* A raw line (imap_parser_want_line) octet; LINE at its end. */
static enum imap_parse_res
line_char(struct imap_parser *p, unsigned char c)
{
	if (c == '\n') {
		if (p->ntok > 0 && p->tok[p->ntok - 1] == '\r')
			p->ntok--;
		p->tok[p->ntok] = '\0';
		p->nline = p->ntok;
		p->st = S_TAG;
		p->want_line = false;
		if (p->err != IMAP_ERR_NONE) {
			p->ntok = 0;
			return IMAP_PARSE_ERROR;
		}
		return IMAP_PARSE_LINE;
	}
	if (p->err != IMAP_ERR_NONE) {
		if (skipped_too_much(p))
			return IMAP_PARSE_ERROR;
	} else if (!tok_add(p, (char)c)) {
		p->st = S_LINE; /* too long: read on to the LF, then ERROR */
	}
	return IMAP_PARSE_MORE;
}

enum imap_parse_res
imap_parser_feed(struct imap_parser *p, const char *data, size_t len,
		 size_t *used_r)
{
	size_t i = 0;
	enum imap_parse_res r = IMAP_PARSE_MORE;

	*used_r = 0;
	if (p->done) {
		reset_command(p);
		p->done = false;
		p->st = p->want_line ? S_LINE : S_TAG;
	}
	if (p->st == S_ERR_NOW) {
		p->done = true;
		return IMAP_PARSE_ERROR;
	}
	if (p->st == S_LIT_WAIT)
		return IMAP_PARSE_LITERAL; /* not answered yet */
	while (i < len && r == IMAP_PARSE_MORE) {
		if (p->st == S_LIT_DATA) {
			r = lit_data(p, data, len, &i);
			continue;
		}
		if (p->st == S_SKIP_LIT) {
			size_t n = len - i < p->lit_left ? len - i
							 : p->lit_left;

			i += n;
			p->lit_left -= n;
			if (p->lit_left == 0)
				p->st = S_SKIP;
			continue;
		}
		if (p->st == S_LINE)
			r = line_char(p, (unsigned char)data[i++]);
		else
			r = step(p, (unsigned char)data[i++]);
	}
	*used_r = i;
	if (r == IMAP_PARSE_COMMAND || r == IMAP_PARSE_ERROR ||
	    r == IMAP_PARSE_LINE)
		p->done = true;
	return r;
}

const struct imap_command *
imap_parser_command(const struct imap_parser *p)
{
	return &p->cmd;
}

void
imap_parser_set_limits(struct imap_parser *p, const struct imap_limits *lim)
{
	unsigned old = p->lim.depth_max;

	p->lim = *lim;
	if (p->lim.depth_max == 0)
		p->lim.depth_max = 1;
	if (p->lim.depth_max < old) {
		p->lim.depth_max = old;	/* the stack stays as big */
		return;
	}
	p->stack = xrealloc(p->stack, (p->lim.depth_max + 1) *
			    sizeof(*p->stack));
	memset(p->stack + old + 1, 0, (p->lim.depth_max - old) *
	       sizeof(*p->stack));
}

void
imap_parser_partial(const struct imap_parser *p, const char **tag_r,
		    const char **name_r, unsigned *depth_r, size_t *nargs_r)
{
	*tag_r = p->tag != NULL ? p->tag : "*";
	*name_r = p->name != NULL ? p->name : "";
	*depth_r = p->depth;
	*nargs_r = p->stack[0].n;
}

const char *
imap_parser_line(const struct imap_parser *p, size_t *len_r)
{
	*len_r = p->nline;
	return p->tok;
}

void
imap_parser_literal(const struct imap_parser *p, size_t *size_r,
		    bool *sync_r, bool *literal8_r)
{
	*size_r = p->lit_size > SIZE_MAX ? SIZE_MAX : (size_t)p->lit_size;
	*sync_r = p->lit_sync;
	*literal8_r = p->lit8;
}

/* Drops the announced literal: a synchronizing one is never sent (ERROR
 * at the next feed), a non-synchronizing one is read and dropped (unless
 * past lim.skip_max: ERROR at the next feed, the session ends). */
static void
drop_literal(struct imap_parser *p)
{
	if (p->lit_sync || skip_too_big(p, p->lit_size)) {
		p->st = S_ERR_NOW;
		return;
	}
	p->lit_left = p->lit_size > SIZE_MAX ? SIZE_MAX : (size_t)p->lit_size;
	p->ntail = 0;
	p->st = p->lit_left > 0 ? S_SKIP_LIT : S_SKIP;
}

void
imap_parser_literal_accept(struct imap_parser *p, bool stream)
{
	if (p->st != S_LIT_WAIT)
		return;
	p->lit_stream = stream;
	p->lit_left = (size_t)p->lit_size;
	p->ntok = 0;
	if (!stream && (p->lit_size > p->lim.literal_max ||
			p->lit_octets + p->lit_size > p->lim.literals_max)) {
		fail(p, IMAP_ERR_LITERAL_TOO_BIG, "[TOOBIG] Literal too big");
		drop_literal(p);
		return;
	}
	if (stream) {
		struct imap_arg *a = push_arg(p, IMAP_ARG_LITERAL);

		if (a == NULL) { /* too many arguments */
			drop_literal(p);
			return;
		}
		a->len = (size_t)p->lit_size;
		a->streamed = true;
		a->literal8 = p->lit8;
		p->after_arg = true;
		p->st = p->lit_left > 0 ? S_LIT_DATA : S_ARGS;
		return;
	}
	p->lit_octets += (size_t)p->lit_size;
	p->st = S_LIT_DATA;
	if (p->lit_left == 0) {
		end_token(p, IMAP_ARG_LITERAL);
		if (p->st != S_SKIP)
			p->st = S_ARGS;
	}
}

void
imap_parser_literal_refuse(struct imap_parser *p)
{
	if (p->st != S_LIT_WAIT)
		return;
	fail(p, IMAP_ERR_LITERAL_REFUSED, "Literal refused");
	drop_literal(p);
}

const char *
imap_parser_data(const struct imap_parser *p, size_t *len_r)
{
	*len_r = p->ndata;
	return p->data;
}

enum imap_parse_err
imap_parser_error(const struct imap_parser *p, const char **text_r,
		  const char **tag_r)
{
	*text_r = p->errtext;
	*tag_r = p->tag != NULL ? p->tag : "*";
	return p->err;
}

void
imap_parser_want_line(struct imap_parser *p)
{
	p->want_line = true;
	if (p->st == S_TAG && p->ntok == 0)
		p->st = S_LINE;
}
