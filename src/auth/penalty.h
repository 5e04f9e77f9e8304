/*
 * penalty - failed-login penalties across connections, after Dovecot's
 * auth penalty: a login's answer waits longer the more logins failed
 * recently, and a success resets them.  Three counts are kept, each with
 * the time of its last failure, forgotten window_s after it:
 *
 *   the client address       any account, from that address
 *   the account              from any address
 *   the (account, address)   pair
 *
 * After f failures the delay is min(base_ms * 2^(f-1), max_ms).  A login
 * is answered no earlier than the address's last failure plus the delay
 * of the address's count; and, if this address has failed for this
 * account itself, no earlier than the account's last failure plus the
 * delay of the account's count.  So a guesser is slowed on its own
 * address whatever account it tries, one spread over many addresses is
 * slowed on each of them after its first failure there, and the account's
 * owner, from an address without failures, is answered at once: a
 * guesser can not lock them out.  A success from an address clears its
 * pair for the account and takes the pair's failures off the address's
 * count (failures there for other accounts stay; the account's count is
 * kept).
 *
 * Memory: a ktab of PENALTY_SLOTS records (about 2.9 MB at most, touched
 * only as used); when full, the records are replaced in turn, so an
 * attacker with more addresses than that in one window makes the table
 * forget older penalties.  No I/O; times are passed in (milliseconds,
 * monotonic).
 */
#ifndef OWL_PENALTY_H
#define OWL_PENALTY_H

#include <stdint.h>

#define PENALTY_SLOTS 8192

struct penalty;

/* max_ms == 0 or base_ms == 0: no penalty (every call says "now"). */
struct penalty *penalty_new(unsigned base_ms, unsigned max_ms,
			    unsigned window_s, uint64_t seed);
void penalty_free(struct penalty **pp);
/* The delay after failures failed logins (0 for none). */
unsigned penalty_delay(const struct penalty *p, unsigned failures);
/*
 * The earliest time a login of user from addr may be answered (at most
 * now_ms if there is no penalty); *failures_r: the count that decided it.
 */
uint64_t penalty_not_before(const struct penalty *p, const char *addr,
			    const char *user, uint64_t now_ms,
			    unsigned *failures_r);
/* A failed login at now_ms; returns the address's failures now. */
unsigned penalty_failed(struct penalty *p, const char *addr,
			const char *user, uint64_t now_ms);
/* A login succeeded: clears the pair; its failures leave the address. */
void penalty_succeeded(struct penalty *p, const char *addr,
		       const char *user);

#endif
