/*
 * smtp_milter - an SMTP session's milter hooks (see smtp_milter.c).  Each
 * pauses the connection and answers the core later, from
 * smtp_milter_done(), the milters' callback (milters.h).
 */
#ifndef OWL_SMTP_MILTER_H
#define OWL_SMTP_MILTER_H

#include "../lib/addr.h"
#include "milters.h"
#include "smtp_types.h"

/* MAIL and RCPT, after owld's own checks took them. */
void smtp_milter_mail(struct smtp_sess *s, const struct addr *sender);
void smtp_milter_rcpt(struct smtp_sess *s, const struct addr *rcpt);
/* The milters' answer to the step in s->mstep (milters_done_fn). */
void smtp_milter_done(void *arg, enum milters_verdict v, const char *reply,
		      const char *name);

#endif
