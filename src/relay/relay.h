/*
 * relay - the queue runner: delivers the outbound queue to relay.host or
 * to each recipient domain's MX, retries temporary failures with doubling
 * intervals, and sends a bounce (RFC 3464) for permanent ones.  Runs on
 * the event loop; DNS lookups and every queue write go to the worker pool.
 * The in-memory table of envelopes is loaded from disk at start
 * (queue_recover) and is the only copy the daemon acts on; owlctl changes
 * it through the control socket while owld runs.
 */
#ifndef OWL_RELAY_H
#define OWL_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../store/queue.h"

struct conf;
struct event_base;
struct relay;
struct store;
struct wpool;

/*
 * What the program that runs the relay (owld/main.c) hands it: the
 * handles it works with, which must outlive it, and two calls back up.
 */
struct relay_deps {
	const struct conf *conf;
	struct event_base *base;
	struct wpool *pool;
	struct store *store;	/* where bounces to local users go */
	const char *qdir;	/* the queue directory */
	uint64_t (*new_id)(void);	/* a new never-reused id */
	/* a delivery or a queue job ended: may the program stop now? */
	void (*check_stopped)(void *arg);
	void *arg;		/* for check_stopped */
};

/* Loads the queue (cleaning what a crash left); NULL with err. */
struct relay *relay_new(const struct relay_deps *deps, char *err,
			size_t errsz);
void relay_free(struct relay **rp);
/* A message was queued (e is copied): try it now. */
void relay_queued(struct relay *r, const struct qenv *e);
/*
 * A control command: "flush", "hold ID", "release ID", "delete ID".
 * Writes a one-line answer ("ok ..." or "error ...") to reply.
 */
void relay_control(struct relay *r, const char *cmd, char *reply,
		   size_t size);
/*
 * Stops: open deliveries are dropped (their recipients stay queued), idle
 * cached sessions get QUIT.
 */
void relay_shutdown(struct relay *r);
/*
 * owld reloads: idle cached sessions end (QUIT) and busy ones end once
 * their queue is done, so later mail goes out on sessions made after it.
 */
void relay_reload(struct relay *r);
/* Deliveries, cached sessions or queue writes still running. */
bool relay_busy(const struct relay *r);
/*
 * For owlctl status: the messages in the queue (each until all its
 * recipients are done) and the recipients handed on to another server in
 * the last minute.
 */
void relay_stats(const struct relay *r, size_t *queued_r,
		 uint64_t *sent_1m_r);
/* The recipients handed on since the start (the metrics' counter). */
uint64_t relay_sent_total(const struct relay *r);

#endif
