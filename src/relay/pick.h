/*
 * pick - the relay's connection-cache policy without I/O: which session
 * a recipient for a destination goes to (relay.c feeds it the sessions
 * of that destination and acts on the answer).  In order: a session of
 * this scheduling pass not started yet (a message's recipients of one
 * destination stay together); an idle cached session; a new session,
 * within relay.max_connections_per_destination and relay.max_connections
 * (the whole relay at that limit: one idle session elsewhere should end
 * to make room); the open session with the fewest messages queued.
 * "fresh": the message was on a cached session that was lost, only a
 * new one will do.  Nothing fails; NONE means wait for a session's end.
 */
#ifndef OWL_PICK_H
#define OWL_PICK_H

#include <stdbool.h>
#include <stddef.h>

/* A session of the destination, as pick sees it. */
struct pick_route {
	bool started;		/* past this pass (lookup, connect, ...) */
	bool open;		/* takes more mail (not ending, not too old) */
	bool idle;		/* connected, nothing to send, not given mail */
	size_t queued;		/* messages on it */
};

/* The sessions seen so far; fill with pick_init, then pick_add each. */
struct pick {
	bool fresh;
	unsigned n;		/* sessions of the destination */
	void *own, *idle, *least;
	size_t least_queued;
};

enum pick_what {
	PICK_ROUTE,		/* *route_r: that session */
	PICK_NEW,		/* a new session */
	PICK_NONE,		/* none now: wait for a session to end */
};

struct pick_limits {
	unsigned per_dest;	/* relay.max_connections_per_destination */
	unsigned total;		/* relay.max_connections */
	unsigned now;		/* sessions of every destination now */
};

void pick_init(struct pick *p, bool fresh);
/* route: the caller's handle for a session of the destination. */
void pick_add(struct pick *p, void *route, const struct pick_route *rt);
/*
 * The answer; *evict_r: the relay is full and a session elsewhere would
 * make room (end an idle one).  With PICK_ROUTE *route_r is set.
 */
enum pick_what pick_done(const struct pick *p, const struct pick_limits *l,
			 void **route_r, bool *evict_r);

#endif
