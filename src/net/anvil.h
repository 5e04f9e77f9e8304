/*
 * anvil - per-address connection limits, after Postfix's anvil(8): how
 * many sessions one client address holds at once (max_connections_per_ip)
 * and how many connections it opened in the current minute
 * (connection_rate_limit).  Addresses are the peer's text form, one
 * counter per full address (IPv4, or IPv6 without aggregation), shared by
 * every listener.  Time comes in as an argument; no I/O.
 *
 * Memory is one ktab of max_connections + 1024 records allocated by
 * anvil_new(): a record with open sessions is never dropped, and those are
 * at most max_connections; when more addresses than that connect in one
 * minute, the rate records of addresses with no open session are replaced
 * in turn, so such an address may get a few more connections that minute.
 */
#ifndef OWL_ANVIL_H
#define OWL_ANVIL_H

#include <stdint.h>

struct anvil;

enum anvil_res {
	ANVIL_OK,	/* admitted: call anvil_disconnect() when it ends */
	ANVIL_TOO_MANY,	/* the address holds max_per_addr sessions */
	ANVIL_TOO_FAST,	/* past rate_per_min connections this minute */
};

/* 0 turns a limit off; max_total is max_connections (sizes the table). */
struct anvil *anvil_new(unsigned max_total, unsigned max_per_addr,
			unsigned rate_per_min, uint64_t seed);
void anvil_free(struct anvil **ap);
/*
 * A connection from addr at now_s (seconds, monotonic).  Every call counts
 * towards the address's rate, refused or not (as in Postfix); only
 * ANVIL_OK counts a session.  *count_r: the sessions (ANVIL_TOO_MANY) or
 * the connections this minute (ANVIL_TOO_FAST) of the address.
 */
enum anvil_res anvil_connect(struct anvil *a, const char *addr,
			     uint64_t now_s, unsigned *count_r);
/* A session admitted by anvil_connect() ended. */
void anvil_disconnect(struct anvil *a, const char *addr);
/* Sessions addr holds now (tests). */
unsigned anvil_sessions(const struct anvil *a, const char *addr);

#endif
