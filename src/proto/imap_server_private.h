/*
 * imap_server_private - the IMAP core's session and the calls its files
 * share: imap_server.c (states, dispatch, login, ENABLE, COMPRESS),
 * imap_reply.c (replies every command writes), imap_view.c (the selected
 * mailbox: updates, \Recent, sets), and the command files:
 * imap_cmd_select.c (SELECT, EXAMINE, CLOSE, UNSELECT, EXPUNGE, CHECK,
 * IDLE), imap_cmd_msg.c (FETCH, STORE, COPY, MOVE, SEARCH, SORT, THREAD,
 * UID), imap_cmd_append.c (APPEND, MULTIAPPEND) and imap_cmd_folder.c (LIST, LSUB,
 * CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, NAMESPACE, STATUS).
 * Dependencies point one way: imap_server.c to the command files, they to
 * imap_view.c and imap_reply.c (check-layers finds no circle).
 * Not for the program: it sees imap_server.h only.
 */
#ifndef OWL_IMAP_SERVER_PRIVATE_H
#define OWL_IMAP_SERVER_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/buf.h"
#include "imap_mbox.h"
#include "imap_parser.h"
#include "imap_seqset.h"
#include "imap_server.h"
#include "sasl.h"

enum imap_state { ST_NOAUTH, ST_AUTH, ST_SELECTED, ST_LOGOUT };

/* Where a command is valid (RFC 9051 6). */
enum {
	IN_NOAUTH = 1 << ST_NOAUTH,
	IN_AUTH = 1 << ST_AUTH,
	IN_SELECTED = 1 << ST_SELECTED,
	IN_LOGGED = IN_AUTH | IN_SELECTED,
	IN_ANY = IN_NOAUTH | IN_AUTH | IN_SELECTED,
};

#define ID_PAIRS_MAX 30		/* RFC 2971 3.3 */

struct imap_fetch_job;

/* What a login needs, allocated while it is under way (an idle session
 * keeps none of it) and wiped after. */
struct imap_login {
	struct sasl sasl;
	char user[SASL_USER_MAX + 1];
	char pass[SASL_PASS_MAX + 1];
};
struct imap_append_job;

/*
 * The keywords the session was told of in its last FLAGS (RFC 9051
 * 7.3.5): the list as said, and its names sorted without case for
 * lookup.  Bounded by the list's IMAP_KEYWORDS_LIST_MAX octets.
 */
struct imap_kwref {
	uint32_t off;		/* in list */
	uint32_t len;
};
struct imap_keywords {
	struct buf *list;	/* "kw kw ...", or NULL: none told */
	struct imap_kwref *sorted;
	size_t n;
};

struct imap_server {
	const struct imap_conf *conf;
	enum imap_state state;
	struct imap_parser *parser;
	enum imap_act pending;
	char *tag;			/* of the command answered later */
	unsigned errors, auth_failures;
	const char *close_reason;	/* NULL: "logout" */
	bool (*yield)(void *arg);	/* imap_server_set_yield() */
	void *yield_arg;
	bool secure, plain_auth;
	bool rev2;			/* ENABLE IMAP4rev2 */
	bool utf8;			/* ENABLE UTF8=ACCEPT (RFC 6855) */
	bool condstore;			/* CONDSTORE enabled (RFC 7162) */
	bool qresync;			/* QRESYNC enabled (RFC 7162 3.2):
					   VANISHED instead of EXPUNGE */
	bool in_sasl;			/* AUTHENTICATE: a response is due */
	bool compressed;		/* COMPRESS DEFLATE is on */
	struct imap_login *login;	/* while a login is under way */
	struct imap_req req;

	/* the store, from imap_server_set_mbox() */
	const struct imap_mbox_ops *ops;
	void *mctx;

	/* the selected mailbox */
	char *mailbox;			/* its name (UTF-8) */
	bool readonly;			/* EXAMINE */
	uint32_t count;			/* messages said (EXISTS) */
	uint32_t uidnext, uidvalidity;	/* uidnext: SELECT's, raised past
					   each UID said since */
	uint64_t highestmodseq;	/* the HIGHESTMODSEQ the client may be
				   told: every expunge at or below it
				   has been said (RFC 7162 3.2,
				   errata 1810) */
	struct imap_seqset recent;	/* UIDs \Recent in this session */
	struct imap_keywords told;	/* keywords said in FLAGS */
	struct imap_seqset saved;	/* SEARCHRES "$" (RFC 5182) */
	bool saved_valid;

	/* a command that spans more than one feed */
	struct imap_fetch_job *fetch;	/* FETCH writing, resumed */
	struct imap_append_job *append;	/* APPEND's literal streaming */
	bool idling;			/* IDLE until DONE */
	int64_t now;			/* imap_server_clock() */
};

typedef enum imap_act cmd_fn(struct imap_server *, const char *tag,
			     const struct imap_arg *args, size_t nargs,
			     struct buf *out);

/* "TAG STATUS TEXT\r\n". */
void imap_tagged(struct buf *out, const char *tag, const char *status,
		 const char *text);
/* A BAD; past conf->max_errors the session ends (BYE, IMAP_ACT_CLOSE). */
enum imap_act imap_bad(struct imap_server *s, const char *tag,
		       const char *text, struct buf *out);
/* An astring argument (atom, quoted or kept literal), or NULL. */
const char *imap_astring(const struct imap_arg *a, size_t *len_r);
/*
 * A store failure as the tagged NO with its response code (RFC 5530):
 * "TAG NO [CODE] err".  trycreate: NOTFOUND says [TRYCREATE] (APPEND,
 * COPY and MOVE targets).
 */
void imap_tagged_mres(struct buf *out, const char *tag, enum imap_mres r,
		      const char *err, bool trycreate);

/* A number of up to 63 bits (mod-sequence-value); -1 if not one. */
int imap_number64(const struct imap_arg *a, uint64_t *v_r);

/* --- imap_view.c: the selected mailbox ----------------------------------- */

#define IMAP_SET_RANGES_MAX 10000	/* elements of one sequence set */

/*
 * The untagged updates of what changed in the folder: EXPUNGE (unless
 * !allow_expunge: during FETCH, STORE and SEARCH by number), EXISTS,
 * RECENT, FETCH FLAGS.  IMAP_ACT_CLOSE (a BYE written) if the view is
 * lost.
 */
enum imap_act imap_sync(struct imap_server *s, bool allow_expunge,
			struct buf *out);
bool imap_is_recent(const struct imap_server *s, const struct imap_msg *m);
/* "FLAGS (...)" of a message. */
void imap_write_flags(const struct imap_server *s, const struct imap_msg *m,
		      struct buf *out);
/* "* N FETCH (FLAGS (...) [UID u] [MODSEQ (m)])\r\n". */
void imap_write_flags_fetch(const struct imap_server *s, uint32_t pos,
			    bool uid, struct buf *out);
void imap_unselect(struct imap_server *s);
/* The keywords of SELECT's FLAGS: list ("kw kw ...", or NULL), none
 * said yet. */
void imap_keywords_reset(struct imap_server *s, const char *list);
void imap_keywords_free(struct imap_keywords *k);
/* "* FLAGS (...)" and "* OK [PERMANENTFLAGS (...)]" with the keywords
 * told so far (read-only: "PERMANENTFLAGS ()"). */
void imap_write_flag_lists(const struct imap_server *s, struct buf *out);
/* The FLAGS and PERMANENTFLAGS again if a message at pos has a keyword
 * the session was not told of (before a FETCH shows it). */
void imap_announce_keywords(struct imap_server *s, const uint32_t *pos,
			    size_t n, struct buf *out);
/* Messages of the view \Recent in this session. */
uint32_t imap_recent_count(const struct imap_server *s);
/* The UIDs [lo, hi) the store let this session claim (EXAMINE: that it
 * saw unclaimed); true if any. */
bool imap_add_recent(struct imap_server *s, uint32_t lo, uint32_t hi);
/* The last UID of the view, 0 if it is empty. */
uint32_t imap_last_uid(struct imap_server *s);
/* A sequence set argument resolved (UIDs: against the last UID). */
int imap_set_arg(struct imap_server *s, const struct imap_arg *a, bool uid,
		 struct imap_seqset *set, const char **why_r);
/* The positions a set (or "$") names, ascending; free *pos_r. */
int imap_positions(struct imap_server *s, const struct imap_arg *a,
		   bool uid, uint32_t **pos_r, size_t *n_r,
		   const char **why_r);
/* Flags of STORE and APPEND: system bits, keywords into kw. */
int imap_flag_list(const struct imap_arg *args, size_t n, unsigned *flags,
		   struct buf *kw);
void imap_condstore_on(struct imap_server *s, struct buf *out);
/* "* VANISHED [(EARLIER) ]uids\r\n" (RFC 7162 3.2.10); nothing if n is 0. */
void imap_write_vanished(struct buf *out, bool earlier, const uint32_t *uids,
			 size_t n);
/*
 * "* VANISHED (EARLIER) ..." for the UIDs of set (resolved, at or above
 * from, at most the last UID the session may know of) that are not in
 * the view: a superset of those expunged (RFC 7162 5.1; imap_view.c says
 * why).  Nothing if there are none.
 */
void imap_write_vanished_earlier(struct imap_server *s,
				 const struct imap_seqset *set, uint32_t from,
				 struct buf *out);

/* --- imap_cmd_select.c: SELECT, EXPUNGE, CLOSE, IDLE ---------------------- */

enum imap_act imap_idle_line(struct imap_server *s, const char *line,
			     size_t len, struct buf *out);
enum imap_act imap_uid_expunge(struct imap_server *s, const char *tag,
			       const struct imap_arg *args, size_t nargs,
			       struct buf *out);
cmd_fn imap_cmd_select, imap_cmd_examine, imap_cmd_expunge, imap_cmd_close;
cmd_fn imap_cmd_unselect, imap_cmd_check, imap_cmd_idle;

/* --- imap_cmd_msg.c: messages -------------------------------------------- */

/* Drops a FETCH in progress (the session ends). */
void imap_fetch_abort(struct imap_server *s);
/*
 * SELECT (QRESYNC ...)'s changes (RFC 7162 3.2.5.1): "* n FETCH (UID u
 * FLAGS (...) MODSEQ (m))" for the messages at pos (ascending; the array
 * is taken and freed), written as a FETCH (resumed past out_max), then
 * "tag OK done".
 */
enum imap_act imap_fetch_changed(struct imap_server *s, const char *tag,
				 uint32_t *pos, size_t n, const char *done,
				 struct buf *out);
cmd_fn imap_cmd_fetch, imap_cmd_store, imap_cmd_copy, imap_cmd_move;
cmd_fn imap_cmd_search, imap_cmd_uid, imap_cmd_sort, imap_cmd_thread;

/* --- imap_cmd_append.c ---------------------------------------------------- */

/*
 * A literal announced: true if it is an APPEND's message (stream it;
 * *refuse_r: past APPENDLIMIT, refuse it).
 */
bool imap_append_literal(struct imap_server *s, size_t size, bool *refuse_r);
void imap_append_data(struct imap_server *s, const char *data, size_t len);
/* The tagged NO's text for a refused literal: the bound an APPEND
 * message would pass, else "[TOOBIG] Literal too big". */
void imap_append_refusal(const struct imap_server *s, char *text,
			 size_t size);
/* Drops the spool of an APPEND that failed or was cut. */
void imap_append_abort(struct imap_server *s);
cmd_fn imap_cmd_append;

/* --- imap_cmd_folder.c -------------------------------------------------- */

/*
 * A mailbox argument (astring) as the store's name, into name: modified
 * UTF-7 decoded unless the session has UTF-8 on (IMAP4rev2 or
 * UTF8=ACCEPT), INBOX in any case made "INBOX", a trailing separator
 * dropped.  -1 with *why_r (the text of a BAD) if it cannot be one.
 */
int imap_mailbox_arg(const struct imap_server *s, const struct imap_arg *a,
		     struct buf *name, const char **why_r);
/* A mailbox name as the session shows it (quoted, or a literal when it
 * needs one), modified UTF-7 unless UTF-8 is on. */
void imap_mailbox_write(const struct imap_server *s, const char *name,
			struct buf *out);

cmd_fn imap_cmd_list, imap_cmd_lsub, imap_cmd_create, imap_cmd_delete;
cmd_fn imap_cmd_rename, imap_cmd_subscribe, imap_cmd_unsubscribe;
cmd_fn imap_cmd_namespace, imap_cmd_status;

#endif
