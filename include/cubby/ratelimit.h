/* ratelimit.h - pool-wide failure counters (space password attempts), in
 * one MAP_SHARED table made before fork, so every worker sees every
 * attempt. Fixed windows per key; a full table forgets the oldest window
 * of the slots a key may use. Keys are hashed (a client address never sits
 * in the table in the clear). */
#ifndef CUBBY_RATELIMIT_H
#define CUBBY_RATELIMIT_H

/* Map the table (before fork). Without it, a process keeps its own. 0/-1. */
int ratelimit_init(void);
/* 0 when key may try again, else the seconds until it may. */
int ratelimit_wait(const char *key, int max, int window_s);
/* Count one failure for key. */
void ratelimit_fail(const char *key, int window_s);

#endif
