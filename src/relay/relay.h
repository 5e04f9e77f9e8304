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

#include "../store/queue.h"

struct owld;
struct relay;

/* Loads the queue (cleaning what a crash left); NULL with err. */
struct relay *relay_new(struct owld *d, char *err, size_t errsz);
void relay_free(struct relay **rp);
/* A message was queued (e is copied): try it now. */
void relay_queued(struct relay *r, const struct qenv *e);
/*
 * A control command: "flush", "hold ID", "release ID", "delete ID".
 * Writes a one-line answer ("ok ..." or "error ...") to reply.
 */
void relay_control(struct relay *r, const char *cmd, char *reply,
		   size_t size);
/* Stops: open deliveries are dropped (their recipients stay queued). */
void relay_shutdown(struct relay *r);
/* Deliveries or queue writes still running. */
bool relay_busy(const struct relay *r);

#endif
