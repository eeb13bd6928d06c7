/* t_ratelimit.c - the shared counters: attempts reserved before they run
 * never pass their limit, a success gives its attempt back, and no amount
 * of other keys' traffic evicts a live attempt count (the review found a
 * full neighbourhood reset a password-failure count). */
#include "config.h"

#include <stdio.h>

#include "cubby/ratelimit.h"
#include "tap.h"

int
main(void)
{
	char k[64];
	int rem, reset, passed = 0, blocked = 0;

	ok(ratelimit_init(NULL) == 0, "a table of this process");
	for (int i = 0; i < 12; i++) {
		if (ratelimit_attempt("space-pw\nS\n10.0.0.1", 5, 900) == 0)
			passed++;
		else
			blocked++;
	}
	is_int(passed, 5, "5 attempts of 12 go");
	is_int(blocked, 7, "the other 7 wait");
	ok(ratelimit_attempt("space-pw\nS\n10.0.0.2", 5, 900) == 0, "another address has its own count");
	/* a success gives its reservation back */
	for (int i = 0; i < 4; i++)
		ratelimit_attempt("space-pw\nT\nx", 5, 900);
	ok(ratelimit_attempt("space-pw\nT\nx", 5, 900) == 0, "the fifth attempt goes");
	ratelimit_forgive("space-pw\nT\nx");
	ok(ratelimit_attempt("space-pw\nT\nx", 5, 900) == 0, "forgiven: one more may go");
	ok(ratelimit_attempt("space-pw\nT\nx", 5, 900) > 0, "then it waits again");
	/* churn: 200,000 other keys' requests (far more than the table holds) */
	for (int i = 0; i < 200000; i++) {
		snprintf(k, sizeof k, "ip\n10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		(void)ratelimit_hit(k, 1000, 60, &rem, &reset);
	}
	ok(ratelimit_attempt("space-pw\nS\n10.0.0.1", 5, 900) > 0,
	    "after the churn the blocked address still waits");
	ok(ratelimit_attempt("space-pw\nT\nx", 5, 900) > 0, "and so does the other");
	return done_testing();
}
