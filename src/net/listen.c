/*
 * listen - see listen.h.
 */
#include "listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/log.h"
#include "conn.h"

struct listener {
	struct evconnlistener *ev;
	struct event *retry;
	listen_accept_fn *cb;
	void *arg;
};

static int
bind_one(const char *host, const char *port, int **fds, size_t *nfds,
	 char *err, size_t errsz)
{
	/* numeric only: a listen address never goes to the DNS */
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV |
					     AI_NUMERICHOST};
	struct addrinfo *res, *ai;
	int r, one = 1;

	r = getaddrinfo(*host ? host : NULL, port, &hints, &res);
	if (r != 0) {
		snprintf(err, errsz, "bad listen address %s: %s", host,
			 gai_strerror(r));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		int fd = socket(ai->ai_family,
				ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				0);

		if (fd == -1)
			goto fail;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
				   sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
		    listen(fd, 512) == -1) {
			close(fd);
			goto fail;
		}
		*fds = xrealloc(*fds, (*nfds + 1) * sizeof(**fds));
		(*fds)[(*nfds)++] = fd;
	}
	freeaddrinfo(res);
	return 0;
fail:
	r = errno;
	snprintf(err, errsz, "cannot listen on %s:%s: %s", host, port,
		 strerror(r));
	freeaddrinfo(res);
	errno = r; /* bind_localhost looks at it */
	return -1;
}

/*
 * "localhost" is 127.0.0.1 and ::1, said here rather than asked of the
 * resolver; ::1 may be missing (no IPv6), 127.0.0.1 may not.
 */
static int
bind_localhost(const char *port, int **fds, size_t *nfds, char *err,
	       size_t errsz)
{
	char e6[200];

	if (bind_one("127.0.0.1", port, fds, nfds, err, errsz) == -1)
		return -1;
	if (bind_one("::1", port, fds, nfds, e6, sizeof(e6)) == -1 &&
	    errno != EADDRNOTAVAIL && errno != EAFNOSUPPORT) {
		snprintf(err, errsz, "%s", e6);
		return -1;
	}
	return 0;
}

int
listen_bind(const char *spec, int **fds, size_t *nfds, char *err,
	    size_t errsz)
{
	char *copy = xstrdup(spec), *tok, *save = NULL;
	int rc = 0;

	for (tok = strtok_r(copy, ",", &save); tok != NULL && rc == 0;
	     tok = strtok_r(NULL, ",", &save)) {
		char *colon, *host = tok;

		while (*host == ' ')
			host++;
		for (char *e = host + strlen(host); e > host && e[-1] == ' ';)
			*--e = '\0';
		if (*host == '\0')
			continue;
		colon = strrchr(host, ':');
		if (colon == NULL) {
			snprintf(err, errsz, "bad listen address '%s'", host);
			rc = -1;
			break;
		}
		*colon = '\0';
		if (host[0] == '[') {
			size_t n = strlen(host);

			if (n < 2 || host[n - 1] != ']') {
				snprintf(err, errsz, "bad listen address");
				rc = -1;
				break;
			}
			host[n - 1] = '\0';
			host++;
		}
		if (strcmp(host, "*") == 0)
			host[0] = '\0';
		if (strcmp(host, "localhost") == 0)
			rc = bind_localhost(colon + 1, fds, nfds, err, errsz);
		else
			rc = bind_one(host, colon + 1, fds, nfds, err, errsz);
	}
	free(copy);
	return rc;
}

void
listen_local_name(int fd, char *out, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN];
	unsigned port;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		snprintf(out, size, "?");
		return;
	}
	conn_addr_text((struct sockaddr *)&ss, host, sizeof(host));
	if (ss.ss_family == AF_INET6) {
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		snprintf(out, size, "[%s]:%u", host, port);
	} else {
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		snprintf(out, size, "%s:%u", host, port);
	}
}

static void
accept_cb(struct evconnlistener *ev, evutil_socket_t fd, struct sockaddr *sa,
	  int len, void *arg)
{
	struct listener *l = arg;

	(void)ev;
	l->cb(fd, sa, (socklen_t)len, l->arg);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	evconnlistener_enable(((struct listener *)arg)->ev);
}

/*
 * accept(2) failed, typically EMFILE or ENFILE: pause this listener for
 * a moment instead of spinning on a socket that stays readable.
 */
static void
error_cb(struct evconnlistener *ev, void *arg)
{
	struct listener *l = arg;
	struct timeval tv = {0, 200 * 1000};
	int err = EVUTIL_SOCKET_ERROR();

	log_msg(LOGL_ERROR, "net", "event=accept-failed error=\"%s\"",
		evutil_socket_error_to_string(err));
	evconnlistener_disable(ev);
	evtimer_add(l->retry, &tv);
}

struct listener *
listener_new(struct event_base *base, int fd, listen_accept_fn *cb,
	     void *arg)
{
	struct listener *l = xcalloc(1, sizeof(*l));

	l->cb = cb;
	l->arg = arg;
	l->ev = evconnlistener_new(base, accept_cb, l,
				   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1,
				   fd);
	if (l->ev == NULL) {
		free(l);
		return NULL;
	}
	l->retry = evtimer_new(base, retry_cb, l);
	evconnlistener_set_error_cb(l->ev, error_cb);
	return l;
}

void
listener_free(struct listener **lp)
{
	if (*lp == NULL)
		return;
	evconnlistener_free((*lp)->ev);
	event_free((*lp)->retry);
	free(*lp);
	*lp = NULL;
}
