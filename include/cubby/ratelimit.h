/* ratelimit.h - counters (space password failures, request rates) shared by
 * every process that serves one data directory: a table in a file there,
 * mapped shared before fork, so every worker of every pool (and every CGI
 * process) sees every attempt. Fixed windows per key; a full table forgets the oldest window
 * of the slots a key may use, except attempt counts (passwords), which
 * nothing evicts while their window is open. Keys are hashed (a client
 * address never sits in the table in the clear). */
#ifndef CUBBY_RATELIMIT_H
#define CUBBY_RATELIMIT_H

/* Map the table in the file path (before fork). With path NULL, or when
 * the file cannot be used (logged), the table is this process's and its
 * children's only. 0, or -1 when no table could be made at all. */
int ratelimit_init(const char *path);
/* Reserve one attempt for key before the attempt runs, at most max per
 * window: 0 when it may go (counted, pinned), else the seconds until it
 * may. Parallel attempts cannot pass max. With no slot left, refused. */
int ratelimit_attempt(const char *key, int max, int window_s);
/* Give a reserved attempt back (it succeeded). */
void ratelimit_forgive(const char *key);
/* A request by key, at most max per window: 0 when it may go (counted),
 * else the seconds until it may (not counted). What is left of the
 * window's allowance into *remaining, the seconds until the window ends
 * into *reset_s. */
int ratelimit_hit(const char *key, int max, int window_s, int *remaining, int *reset_s);

#endif
