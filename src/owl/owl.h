/*
 * owl - the user's mail client: compose and send over SMTP, list, read,
 * save and delete over POP3.  See docs/owl.1.
 *
 * net.c    blocking connections, TLS, the line framer
 * smtp.c   one message out, driving proto/smtp_client
 * pop3.c   a mailbox session, driving proto/pop3_client
 * imap.c   a mailbox session over IMAP (a small client of its own)
 * imap_resp.c  the IMAP responses' values (pure, bounded)
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
/* auto: IMAP when the server answers on the IMAP port, else POP3 */
enum owl_proto { OWL_PROTO_AUTO, OWL_PROTO_IMAP, OWL_PROTO_POP3 };

struct owl_conf {
	char host[256];
	int smtp_port;
	int pop3_port;
	char user[256];
	char from[256];
	char cafile[1024];
	enum owl_tls tls;
	int imap_port;
	enum owl_proto protocol;
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

struct owl_entry;

/* imap_resp.c: one response (tagged or untagged, literals inline). */
#define OWL_IMAP_DEPTH_MAX 32	/* nested lists followed */
#define OWL_FOLDERS_MAX 1000	/* folders listed */

struct owl_folder {
	char name[512];		/* as the server spells it */
	bool trash, sent, noselect;	/* RFC 6154 attributes, \Noselect */
	unsigned long messages, unseen;
};

/* What owl reads from one FETCH response. */
struct owl_imap_item {
	unsigned long seq, uid, size;
	bool seen, has_flags, has_body;
	struct buf *body;	/* the first BODY[...] value; NULL: skipped */
};

struct owl_imap_cur {
	const char *p, *end;
};

/* N if the line (its LF included) ends in a literal {N}; else -1. */
long long owl_imap_literal_len(const char *line, size_t n);
bool owl_imap_sp(struct owl_imap_cur *c);
bool owl_imap_atom(struct owl_imap_cur *c, char *out, size_t size);
bool owl_imap_number(struct owl_imap_cur *c, unsigned long *v);
/* An astring or nstring into out (NULL: skipped): 1, 0 for NIL, -1. */
int owl_imap_string(struct owl_imap_cur *c, struct buf *out);
/* Skips one value of any kind (lists nested to OWL_IMAP_DEPTH_MAX). */
bool owl_imap_skip(struct owl_imap_cur *c, int depth);
bool owl_imap_parse_list(const char *r, size_t n, struct owl_folder *f);
/* "* STATUS name (MESSAGES n UNSEEN m)" for folder f (by name). */
bool owl_imap_parse_status(const char *r, size_t n, struct owl_folder *f);
bool owl_imap_parse_fetch(const char *r, size_t n, struct owl_imap_item *f);
/* The capabilities of "* CAPABILITY ..." or "[CAPABILITY ...]". */
bool owl_imap_parse_caps(const char *r, size_t n, char *caps, size_t size);
bool owl_imap_has_cap(const char *caps, const char *cap);

/* imap.c */
struct owl_imap;
/* Connects (STARTTLS as for POP3) and logs in; NULL with err. */
struct owl_imap *owl_imap_open(const struct owl_conf *cf, char *err,
			       size_t errsz);
/* True if the server answers IMAP on the IMAP port (protocol auto). */
bool owl_imap_answers(const struct owl_conf *cf);
/* True when a failed owl_imap_open was the server refusing the login. */
bool owl_imap_login_refused(const char *err);
/*
 * The folders with their counts (LIST, STATUS; the selected folder's
 * counts are the caller's to fill in); caller frees *f.
 */
int owl_imap_folders(struct owl_imap *s, struct owl_folder **f, size_t *n,
		     char *err, size_t errsz);
/* SELECTs folder and lists its messages (n: 1, 2, ...; uid, unseen). */
int owl_imap_list(struct owl_imap *s, const char *folder,
		  struct owl_entry **e, size_t *count, char *err,
		  size_t errsz);
/* The whole message uid into out; marks it \Seen. */
int owl_imap_fetch(struct owl_imap *s, unsigned long uid, struct buf *out,
		   char *err, size_t errsz);
/* Moves uid to Trash, or (no Trash, or in Trash) deletes it for good. */
int owl_imap_delete(struct owl_imap *s, unsigned long uid, char *err,
		    size_t errsz);
/*
 * APPENDs a sent message (LF line ends) to the \Sent folder (or one
 * named Sent), flagged \Seen; 1 done, 0 no such folder, -1 with err.
 */
int owl_imap_append_sent(struct owl_imap *s, const char *text, size_t len,
			 char *where, size_t wheresz, char *err,
			 size_t errsz);
/* LOGOUT and free. */
void owl_imap_close(struct owl_imap **sp);

/* mail.c */
struct owl_entry {
	unsigned long n, size;
	unsigned long uid;	/* IMAP; 0 over POP3 */
	bool unseen;		/* IMAP: no \Seen flag */
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
/* Writes all n octets of p to fd (again after EINTR); -1 with errno. */
int owl_write_all(int fd, const char *p, size_t n);
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
