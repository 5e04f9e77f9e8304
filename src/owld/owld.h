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
#include "../proto/smtp_server.h"
#include "../store/store.h"

struct event_base;
struct smtp_sess;

struct owld {
	struct conf *conf;
	struct event_base *base;
	struct wpool *pool;
	struct store *store;
	struct users *users;
	struct smtp_conf smtp_conf;
	struct smtp_sess *sessions;	/* list of open SMTP sessions */
	unsigned nsessions;
	bool stopping;
};

/* Accepts one SMTP client on fd (listener callback). */
void smtp_sess_accept(int fd, struct sockaddr *sa, socklen_t len, void *arg);
/* Tells every open session 421 (after any in-flight commit finishes). */
void smtp_sess_shutdown_all(struct owld *d);
/* Called when a session or a job ended, to finish a graceful stop. */
void owld_check_stopped(struct owld *d);
/* A new never-reused 64-bit id (sessions, messages). */
uint64_t owld_new_id(void);

#endif
