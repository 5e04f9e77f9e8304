/*
 * wpool - a small pool of worker threads for blocking work (fsync, rename,
 * crypt(3), directory scans), after redis bio.c.
 *
 * DESIGN.  A job is a struct the caller embeds in its own request.  Jobs of
 * one kind with a batch function are taken off the FIFO together (up to
 * WPOOL_BATCH_MAX at a time) and run as one call: that is how commits from
 * many sessions share directory fsyncs (group commit).  Workers never touch
 * sessions or the event loop; a finished job goes on a done list and one
 * byte on a pipe wakes the loop, which calls wpool_complete() to run each
 * job's done callback on the loop thread.  Jobs are never cancelled: if the
 * submitter has gone, done() only releases what the job holds.
 */
#ifndef OWL_WPOOL_H
#define OWL_WPOOL_H

#include <stdbool.h>
#include <stddef.h>

#define WPOOL_BATCH_MAX 64

struct wpool_job;
/* Runs on a worker: n jobs of the same batch function. */
typedef void wpool_batch_fn(struct wpool_job **jobs, size_t n);
/* Runs on the loop thread after the job ran. */
typedef void wpool_done_fn(struct wpool_job *job);

struct wpool_job {
	wpool_batch_fn *run;
	wpool_done_fn *done;
	bool solo;		/* never batched (slow jobs: crypt(3)) */
	struct wpool_job *next; /* pool's own */
};

struct wpool;

/* Starts nthreads workers; NULL with *error_r on failure. */
struct wpool *wpool_new(unsigned nthreads, const char **error_r);
/* Stops the workers once every queued job has run; frees the pool. */
void wpool_free(struct wpool **pp);
/* Queues a job (loop thread only). */
void wpool_submit(struct wpool *p, struct wpool_job *job);
/* The fd to watch for readability; then call wpool_complete(). */
int wpool_fd(const struct wpool *p);
/* Runs done() for every finished job; returns how many. */
size_t wpool_complete(struct wpool *p);
/* Jobs submitted and not yet completed. */
size_t wpool_pending(const struct wpool *p);

#endif
