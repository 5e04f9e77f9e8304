/*
 * listen - binds the listening sockets of a "host:port, [v6]:port" list
 * before privileges are dropped, and turns them into libevent listeners.
 * Port 0 picks a free port; listen_local_name() tells which (tests use it).
 */
#ifndef OWL_LISTEN_H
#define OWL_LISTEN_H

#include <stddef.h>
#include <sys/socket.h>

struct event_base;

typedef void listen_accept_fn(int fd, struct sockaddr *sa, socklen_t len,
			      void *arg);

/* Binds every address of spec; appends fds to *fds.  -1 and err. */
int listen_bind(const char *spec, int **fds, size_t *nfds, char *err,
		size_t errsz);
/* "127.0.0.1:2525" / "[::1]:2525" of a bound socket. */
void listen_local_name(int fd, char *out, size_t size);

struct listener;
struct listener *listener_new(struct event_base *base, int fd,
			      listen_accept_fn *cb, void *arg);
void listener_free(struct listener **lp);

#endif
