/*
 * wpool - see wpool.h.  One mutex guards the FIFO and the done list; the
 * pipe is non-blocking and written only when the done list goes from empty
 * to non-empty, so the loop is woken once per burst of completions.  Solo
 * jobs (password checks) are taken one at a time, so that a burst of
 * logins spreads over every worker instead of queueing behind one.
 */
#include "wpool.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"

struct wpool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct wpool_job *head, *tail; /* FIFO */
	struct wpool_job *done;        /* LIFO, reversed on completion */
	bool stopping;
	unsigned nthreads;
	pthread_t *threads;
	int pipefd[2];
	size_t pending;                /* loop thread only */
};

static void *
worker(void *arg)
{
	struct wpool *p = arg;
	struct wpool_job *batch[WPOOL_BATCH_MAX];

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct wpool_job **pp;
		size_t n = 0;
		bool wake;

		while (p->head == NULL && !p->stopping)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->head == NULL)
			break;
		/* take the first job and every queued job of the same kind */
		batch[n++] = p->head;
		p->head = p->head->next;
		for (pp = &p->head; *pp != NULL && n < WPOOL_BATCH_MAX &&
				    !batch[0]->solo;) {
			if ((*pp)->run == batch[0]->run && !(*pp)->solo) {
				batch[n++] = *pp;
				*pp = (*pp)->next;
			} else {
				pp = &(*pp)->next;
			}
		}
		p->tail = NULL;
		for (struct wpool_job *j = p->head; j != NULL; j = j->next)
			p->tail = j;
		pthread_mutex_unlock(&p->mu);

		batch[0]->run(batch, n);

		pthread_mutex_lock(&p->mu);
		wake = p->done == NULL;
		for (size_t i = 0; i < n; i++) {
			batch[i]->next = p->done;
			p->done = batch[i];
		}
		if (wake) {
			ssize_t r;

			do
				r = write(p->pipefd[1], "x", 1);
			while (r == -1 && errno == EINTR);
		}
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct wpool *
wpool_new(unsigned nthreads, const char **error_r)
{
	struct wpool *p = xcalloc(1, sizeof(*p));
	unsigned i;

	if (pipe2(p->pipefd, O_NONBLOCK | O_CLOEXEC) == -1) {
		*error_r = strerror(errno);
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->threads = xcalloc(nthreads, sizeof(*p->threads));
	for (i = 0; i < nthreads; i++) {
		if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
			*error_r = "pthread_create failed";
			p->nthreads = i;
			wpool_free(&p);
			return NULL;
		}
	}
	p->nthreads = nthreads;
	return p;
}

void
wpool_free(struct wpool **pp)
{
	struct wpool *p = *pp;
	unsigned i;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	wpool_complete(p);
	close(p->pipefd[0]);
	close(p->pipefd[1]);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->threads);
	free(p);
	*pp = NULL;
}

void
wpool_submit(struct wpool *p, struct wpool_job *job)
{
	job->next = NULL;
	p->pending++;
	pthread_mutex_lock(&p->mu);
	if (p->tail != NULL)
		p->tail->next = job;
	else
		p->head = job;
	p->tail = job;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

int
wpool_fd(const struct wpool *p)
{
	return p->pipefd[0];
}

size_t
wpool_complete(struct wpool *p)
{
	struct wpool_job *list, *rev = NULL, *next;
	char drain[64];
	size_t n = 0;

	while (read(p->pipefd[0], drain, sizeof(drain)) > 0)
		;
	pthread_mutex_lock(&p->mu);
	list = p->done;
	p->done = NULL;
	pthread_mutex_unlock(&p->mu);
	for (; list != NULL; list = next) {
		next = list->next;
		list->next = rev;
		rev = list;
	}
	for (; rev != NULL; rev = next) {
		next = rev->next;
		p->pending--;
		n++;
		rev->done(rev);
	}
	return n;
}

size_t
wpool_pending(const struct wpool *p)
{
	return p->pending;
}
