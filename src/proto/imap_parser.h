/*
 * imap_parser - the resumable parser of IMAP command lines (RFC 9051
 * sections 2.2, 4 and 9; RFC 3501; RFC 7888 LITERAL+/LITERAL-; RFC 3516
 * literal8), apart from what the commands mean, as Dovecot's lib-imap
 * keeps imap-parser apart from the commands.  Sans-I/O: fed bytes in any
 * pieces, it hands back one whole command at a time as a tree of
 * arguments; it never touches a socket, a file or a clock, and the pieces
 * the bytes come in never change the result.
 *
 * A command is: tag SP name [SP arguments] CRLF, where an argument is an
 * atom, a quoted string, NIL, a literal ({n} CRLF and n octets, {n+}
 * non-synchronizing, ~{n} literal8) or a parenthesized list of them.  An
 * atom may hold '[' ... ']' with anything but CR and LF inside, spaces
 * and parentheses included, so that a FETCH item such as
 * BODY[HEADER.FIELDS (From To)]<0.100> is one atom for the command's own
 * parser; sequence sets and LIST patterns ('*', '%') are atoms too.
 *
 * Literals: when a literal's {n} line ends, feed returns
 * IMAP_PARSE_LITERAL and waits for the caller's answer:
 *   imap_parser_literal_accept(p, false): the octets are kept with the
 *     command (at most lim.literal_max; past it the parser refuses by
 *     itself); for a synchronizing literal the caller first sends "+ ...".
 *   imap_parser_literal_accept(p, true): the octets are streamed: feed
 *     returns IMAP_PARSE_DATA with each piece (imap_parser_data()) until
 *     the literal ends, and the argument is a literal of len octets with
 *     no text (APPEND spools a 50 MB message this way in constant memory).
 *   imap_parser_literal_refuse(p): a synchronizing literal is never sent
 *     by the client (the caller answers the tag NO or BAD, RFC 9051
 *     7.1.4 [TOOBIG]); a non-synchronizing one is read and dropped, and
 *     the command ends as an error (IMAP_PARSE_ERROR with
 *     IMAP_ERR_LITERAL_REFUSED).
 *
 * Bounds (struct imap_limits): the octets of a line outside literals,
 * the octets of one kept literal and of all of one command's literals,
 * the depth of nested lists and the number of arguments; each is a clear
 * error (IMAP_PARSE_ERROR, imap_parser_error() says which) after which
 * the rest of the command is skipped (up to the end of its line; an
 * announced literal's octets are skipped, not read as commands).  A line
 * that goes on for WIRE_DROP_MAX octets past lim.line_max without its LF
 * (literals aside) is IMAP_ERR_LINE_ENDLESS at once: the caller ends the
 * session rather than read it until a deadline.  So is a {n+} literal to
 * be dropped that takes the command's dropped octets past lim.skip_max
 * (IMAP_ERR_SKIP_TOO_BIG, told before any of its octets is read).
 *
 * Lines that are not commands (an AUTHENTICATE response, IDLE's DONE)
 * are read with imap_parser_want_line(): the next IMAP_PARSE_LINE is that
 * line, without its CRLF, in imap_parser_line().
 */
#ifndef OWL_IMAP_PARSER_H
#define OWL_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>

enum imap_arg_type {
	IMAP_ARG_ATOM,
	IMAP_ARG_QUOTED,
	IMAP_ARG_LITERAL,
	IMAP_ARG_NIL,
	IMAP_ARG_LIST,
};

struct imap_arg {
	enum imap_arg_type type;
	const char *str;	/* ATOM, QUOTED, LITERAL (kept): the text,
				   NUL-terminated (a literal may hold NULs:
				   len counts); streamed literal, LIST: NULL */
	size_t len;
	bool literal8;		/* ~{n} */
	bool streamed;		/* a literal handed out by IMAP_PARSE_DATA */
	const struct imap_arg *list; /* LIST: its members */
	size_t n;		/* LIST: how many */
};

struct imap_command {
	const char *tag;
	const char *name;	/* upper case */
	const struct imap_arg *args;
	size_t nargs;
};

struct imap_limits {
	size_t line_max;	/* octets of a line outside literals */
	size_t literal_max;	/* octets of one literal kept in memory */
	size_t literals_max;	/* octets of a command's kept literals */
	unsigned depth_max;	/* nested lists */
	unsigned args_max;	/* arguments of a command, in all lists */
	size_t skip_max;	/* octets of a command's {n+} literals read
				   into nothing (refused, or after an
				   error); 0: no bound */
};

enum imap_parse_res {
	IMAP_PARSE_MORE,	/* all fed bytes used: feed more */
	IMAP_PARSE_COMMAND,	/* imap_parser_command() */
	IMAP_PARSE_LINE,	/* after imap_parser_want_line() */
	IMAP_PARSE_LITERAL,	/* answer with _accept or _refuse */
	IMAP_PARSE_DATA,	/* a piece of a streamed literal */
	IMAP_PARSE_ERROR,	/* imap_parser_error(); the command is gone */
};

enum imap_parse_err {
	IMAP_ERR_NONE,
	IMAP_ERR_SYNTAX,	/* BAD: the text says what */
	IMAP_ERR_LINE_TOO_LONG,	/* BAD [TOOBIG] */
	IMAP_ERR_LITERAL_TOO_BIG, /* BAD [TOOBIG] (a kept literal) */
	IMAP_ERR_LITERAL_REFUSED, /* the caller refused a literal */
	IMAP_ERR_TOO_DEEP,	/* BAD [LIMIT] */
	IMAP_ERR_TOO_MANY,	/* BAD [LIMIT] */
	IMAP_ERR_LINE_ENDLESS,	/* WIRE_DROP_MAX past line_max without a
				   LF: BYE [TOOBIG], the session ends */
	IMAP_ERR_SKIP_TOO_BIG,	/* {n+} literals to drop past skip_max:
				   BYE [TOOBIG], the session ends */
};

struct imap_parser;

struct imap_parser *imap_parser_new(const struct imap_limits *lim);
void imap_parser_free(struct imap_parser **pp);
/* New bounds, from the next command on (after a login); the depth of
 * lists is raised, never lowered. */
void imap_parser_set_limits(struct imap_parser *p,
			    const struct imap_limits *lim);

/*
 * Reads from data (len octets) until a result other than MORE, and says
 * how many octets it used: feed the rest again after handling the result.
 * A COMMAND, LINE or error's text is valid until the next feed.
 */
enum imap_parse_res imap_parser_feed(struct imap_parser *p, const char *data,
				     size_t len, size_t *used_r);
const struct imap_command *imap_parser_command(const struct imap_parser *p);
const char *imap_parser_line(const struct imap_parser *p, size_t *len_r);

/*
 * IMAP_PARSE_LITERAL: the command it is in, so far: its tag and name
 * (upper case), how deep in lists the literal is (0: an argument of the
 * command) and how many arguments came before it at the top.
 */
void imap_parser_partial(const struct imap_parser *p, const char **tag_r,
			 const char **name_r, unsigned *depth_r,
			 size_t *nargs_r);
/* IMAP_PARSE_LITERAL: its size, whether the client waits for "+"
 * (synchronizing), whether it is literal8. */
void imap_parser_literal(const struct imap_parser *p, size_t *size_r,
			 bool *sync_r, bool *literal8_r);
void imap_parser_literal_accept(struct imap_parser *p, bool stream);
void imap_parser_literal_refuse(struct imap_parser *p);
/* IMAP_PARSE_DATA: the piece (inside the fed data). */
const char *imap_parser_data(const struct imap_parser *p, size_t *len_r);

/* IMAP_PARSE_ERROR: which, the text for a BAD, and the tag if one was
 * read (else "*"). */
enum imap_parse_err imap_parser_error(const struct imap_parser *p,
				      const char **text_r,
				      const char **tag_r);

/* The next line is not a command: hand it out whole as IMAP_PARSE_LINE. */
void imap_parser_want_line(struct imap_parser *p);

#endif
