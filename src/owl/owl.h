/*
 * owl - the user's mail client: compose and send over SMTP, list, read,
 * save and delete over POP3.  See docs/owl.1.
 *
 * net.c    blocking connections, TLS, the line framer
 * smtp.c   one message out, driving proto/smtp_client
 * pop3.c   a mailbox session, driving proto/pop3_client
 * mail.c   composing (mime_build), listing and showing (mime_parse)
 * text.c   display width, list cells, HTML as text (pure)
 * draft.c  the composed message kept in ~/dead.letter
 * reply.c  a reply's or a forward's draft from the message (pure)
 * editor.c $EDITOR on the message text
 * rc.c     settings: ~/.owlrc and options
 * main.c   the menus and the batch commands
 */
#ifndef OWL_OWL_H
#define OWL_OWL_H

#include <stdbool.h>
#include <stddef.h>

#include "../lib/buf.h"

#define OWL_MSG_MAX (64u << 20)	/* a message read or sent, octets */
#define OWL_ATTS_MAX 32
#define OWL_RCPTS_MAX 100
#define OWL_RC_MAX (1u << 20)	/* ~/.owlrc, octets */
#define OWL_TIMEOUT 60		/* seconds of silence before giving up */

enum owl_tls { OWL_TLS_AUTO, OWL_TLS_REQUIRE, OWL_TLS_OFF };

struct owl_conf {
	char host[256];
	int smtp_port;
	int pop3_port;
	char user[256];
	char from[256];
	char cafile[1024];
	enum owl_tls tls;
	char *pass;		/* NULL until known */
};

/* rc.c: one setting ("host", "smtp-port", ...); -1 if bad. */
int owl_conf_set(struct owl_conf *c, const char *key, const char *val);
/*
 * The text of ~/.owlrc (len octets) into c; -1 at the first bad line,
 * with its number in *lineno and its key (or what is wrong) in bad.
 */
int owl_rc_parse(struct owl_conf *c, const char *text, size_t len,
		 unsigned *lineno, char *bad, size_t badsz);

/* net.c */
struct owl_conn;
struct owl_conn *owl_connect(const char *host, int port, char *err,
			     size_t errsz);
/* TLS as the client; verify: the certificate must be valid for host. */
int owl_conn_tls(struct owl_conn *c, const char *host, bool verify,
		 const char *cafile, char *err, size_t errsz);
const char *owl_conn_tls_version(const struct owl_conn *c);
int owl_conn_write(struct owl_conn *c, const char *data, size_t len,
		   char *err, size_t errsz);
/*
 * The next line (with its LF) or, for a line longer than the buffer, a
 * piece of it that never ends between CR and LF.  1 with *p and *n set
 * (valid until the next call), 0 at the end of the stream, -1 on error.
 */
int owl_conn_read(struct owl_conn *c, const char **p, size_t *n, char *err,
		  size_t errsz);
void owl_conn_close(struct owl_conn **cp);

/* smtp.c: what became of one recipient. */
struct owl_rcpt {
	const char *addr;
	int code;		/* the server's reply code; 0: local failure */
	char text[512];		/* its reply, word for word */
};

/* What one owl_smtp_send did besides the recipients. */
struct owl_sent {
	struct owl_rcpt *r;	/* nrcpts of them, filled in */
	bool login_refused;	/* AUTH answered 53x: ask again */
	bool no_auth;		/* a password, but no AUTH offered */
};

/*
 * Sends text (LF line ends) to every recipient; each one's reply goes to
 * res->r[i].  0: all accepted; 1: some accepted, some refused; -1: none
 * sent, with the reason in err (a session failure, or the only reply).
 */
int owl_smtp_send(const struct owl_conf *cf, const char *from,
		  const char *const *rcpts, size_t nrcpts, const char *text,
		  size_t len, struct owl_sent *res, char *err, size_t errsz);

/* pop3.c */
struct owl_pop3;
struct owl_pop3 *owl_pop3_open(const struct owl_conf *cf, char *err,
			       size_t errsz);
/* LIST: numbers and sizes of the messages (caller frees both). */
int owl_pop3_list(struct owl_pop3 *s, unsigned long **nums,
		  unsigned long **sizes, size_t *count, char *err,
		  size_t errsz);
/* TOP n 0 (lines < 0: RETR) into out (LF line ends). */
int owl_pop3_fetch(struct owl_pop3 *s, unsigned long n, long lines,
		   struct buf *out, char *err, size_t errsz);
/* True when a failed owl_pop3_open was the server refusing the login. */
bool owl_pop3_login_refused(const char *err);
int owl_pop3_dele(struct owl_pop3 *s, unsigned long n, char *err,
		  size_t errsz);
/* QUIT (commits deletions) and free; -1 if QUIT failed. */
int owl_pop3_close(struct owl_pop3 **sp, char *err, size_t errsz);

/* mail.c */
struct owl_entry {
	unsigned long n, size;
	char from[64];
	char when[32];
	char subject[128];
	bool deleted;
};
/* The list line fields from a message's header section. */
void owl_entry_fill(struct owl_entry *e, const char *hdr, size_t len);
void owl_print_list(const struct owl_entry *e, size_t count);
/* Shows a whole message; returns how many attachments it has. */
size_t owl_show(const char *text, size_t len);
/* Saves the attachments into dir, never overwriting; -1 on an error. */
int owl_save(const char *text, size_t len, const char *dir, char *err,
	     size_t errsz);
/* An attachment carried over from a forwarded message. */
struct owl_fwd {
	char *name, *type, *data;
	size_t len;
};

/* What a reply or a forward adds to a message; all may be NULL/0. */
struct owl_thread {
	const char *in_reply_to;	/* "<id>" */
	const char *references;		/* "<id> <id> ..." */
	const struct owl_fwd *fwd;
	size_t nfwd;
};

/*
 * Builds a message; files are read here.  th: In-Reply-To, References
 * and forwarded attachments (NULL: none).  -1 with err on a file that
 * cannot be read or a message over OWL_MSG_MAX.
 */
int owl_compose(const char *from, const char *to, const char *cc,
		const char *subject, const char *body, size_t bodylen,
		const char *const *files, size_t nfiles,
		const struct owl_thread *th, struct buf *out, char *err,
		size_t errsz);
/*
 * Splits a comma separated address list into rcpts (pointers into the
 * copy in *store); false with the bad address in err if one is not
 * user@domain.
 */
bool owl_addrs(const char *list, char **store, const char **rcpts,
	       size_t *n, size_t max, char *err, size_t errsz);

/* text.c: columns that UTF-8 text s (len octets) takes on a terminal. */
size_t owl_text_width(const char *s, size_t len);
/*
 * Appends s (NUL-terminated UTF-8) cut at a character to at most cols
 * columns, then spaces to exactly cols columns.
 */
void owl_text_cell(const char *s, size_t cols, struct buf *out);
/*
 * Readable text of HTML (len octets, s[len] == '\0'): tags dropped
 * (script, style and head with their content), block elements and <br>
 * as line breaks, list items as "* ", white space collapsed outside
 * <pre>, character references decoded.
 */
void owl_html_text(const char *s, size_t len, struct buf *out);

/* draft.c: a message being composed in the menus. */
struct owl_draft {
	char *from, *to, *subject;	/* NULL until asked */
	struct buf *body;
	char *files[OWL_ATTS_MAX];
	size_t nfiles;
	/* a reply's or a forward's (reply.c); NULL and 0 otherwise */
	char *in_reply_to, *references;
	struct buf *quote;	/* quoted text or the forwarded block */
	bool quote_after;	/* below what the user types (a forward) */
	struct owl_fwd fwd[OWL_ATTS_MAX];
	size_t nfwd;
};

void owl_draft_init(struct owl_draft *d);
void owl_draft_free(struct owl_draft *d);
/* True if the user typed anything worth keeping (To onwards). */
bool owl_draft_has_content(const struct owl_draft *d);
/*
 * Appends the draft to ~/dead.letter (created 0600): header lines Date,
 * From, To, Subject, one X-Owl-Attachment per file (its path), an empty
 * line, the text, an empty line.  0 with the path in path, or -1 with err.
 */
int owl_draft_save(const struct owl_draft *d, char *path, size_t pathsz,
		   char *err, size_t errsz);

/*
 * reply.c: a draft answering (forward false) or forwarding message text
 * (len octets): To (the Reply-To or From address) and Subject ("Re: " or
 * "Fwd: " once), In-Reply-To and References (RFC 5322 3.6.4), the quote
 * ("On DATE, FROM wrote:" and "> " lines) or the forwarded block, and a
 * forward's attachments.  d is owl_draft_init'ed.  Returns how many
 * attachments were left out (more than OWL_ATTS_MAX).
 */
size_t owl_reply_draft(const char *text, size_t len, bool forward,
		       struct owl_draft *d);
/* The subject with one "Re: " (or "Fwd: ") in front, never two. */
void owl_reply_subject(const char *subject, bool forward, struct buf *out);
/* References of an answer: the original's References and Message-ID. */
void owl_reply_references(const char *refs, const char *msgid,
			  struct buf *out);

/*
 * editor.c: runs editor (through /bin/sh, on the terminal) on a 0600
 * temporary file holding text; 0 with what it saved in out, -1 with err
 * (the file could not be made or read, or the editor failed).
 */
int owl_edit(const char *editor, const char *text, size_t len,
	     struct buf *out, char *err, size_t errsz);

#endif
