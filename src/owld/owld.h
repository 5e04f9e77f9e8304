/*
 * owld - the daemon's shared context, owned by main.c; the glue modules
 * (smtp_sess.c) reach store/, auth/ and the worker pool only through it.
 */
#ifndef OWL_OWLD_H
#define OWL_OWLD_H

#include <stdbool.h>
#include <stdint.h>

#include "../auth/users.h"
#include "../lib/conf.h"
#include "../lib/wpool.h"
#include "../proto/pop3_server.h"
#include "../proto/smtp_server.h"
#include "../store/store.h"

struct event_base;
struct smtp_sess;
struct pop3_sess;

struct owld {
	struct conf *conf;
	struct event_base *base;
	struct wpool *pool;
	struct store *store;
	struct users *users;
	struct smtp_conf smtp_conf;
	struct smtp_sess *sessions;	/* list of open SMTP sessions */
	unsigned nsessions;
	struct pop3_conf pop3_conf;
	struct pop3_sess *pop3_sessions;
	unsigned npop3;
	char **locks;			/* mailboxes held by POP3 sessions */
	size_t nlocks, locks_cap;
	bool stopping;
};

/* Accepts one SMTP client on fd (listener callback). */
void smtp_sess_accept(int fd, struct sockaddr *sa, socklen_t len, void *arg);
/* Tells every open session 421 (after any in-flight commit finishes). */
void smtp_sess_shutdown_all(struct owld *d);
/* Accepts one POP3 client on fd (listener callback). */
void pop3_sess_accept(int fd, struct sockaddr *sa, socklen_t len, void *arg);
/* Tells every open POP3 session -ERR (after its job or stream ends). */
void pop3_sess_shutdown_all(struct owld *d);
/* True past max_connections (SMTP and POP3 sessions together). */
bool owld_full(const struct owld *d);
/* Called when a session or a job ended, to finish a graceful stop. */
void owld_check_stopped(struct owld *d);
/* Sends out's replies on c, each line traced under proto and id. */
struct conn;
void owld_send(struct conn *c, const char *proto, const char *id,
	       struct buf *out);
/* A new never-reused 64-bit id (sessions, messages). */
uint64_t owld_new_id(void);

#endif
