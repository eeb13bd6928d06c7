/* util.h - small parsing and time helpers shared by every module.
 * Replacements for atoi/strtol that reject garbage and overflow. */
#ifndef CUBBY_UTIL_H
#define CUBBY_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Whole-string decimal integer in [min,max]; 0 on success, -1 otherwise. */
int parse_ll(const char *s, long long min, long long max, long long *out);
/* Like parse_ll but accepts a k/m/g suffix (powers of 1024). */
int parse_size(const char *s, long long min, long long max, long long *out);
/* "1/0, yes/no, on/off, true/false" -> 1/0, or -1. */
int parse_bool(const char *s);
/* Microseconds from CLOCK_MONOTONIC. */
uint64_t now_mono_us(void);
/* Seconds / milliseconds since the epoch. */
int64_t now_unix(void);
int64_t now_unix_ms(void);
/* ISO-8601 UTC with milliseconds into out (>= 25 bytes). */
void fmt_iso8601_ms(char *out, size_t outlen, int64_t unix_ms);
/* Read an ISO-8601 date or date-time (Z or an offset; a time without
 * either is refused) into ms since the epoch. 0 or -1. */
int parse_iso8601_ms(const char *s, int64_t *out);
/* Bounded copy that always NUL-terminates; returns strlen(src). */
/* mkdir -p: path and its missing parents with mode. 0, or -1 with errno
 * set (ENAMETOOLONG past 4095 bytes). */
int mkdir_p(const char *path, mode_t mode);
/* Whether a file can be made and written beside prefix now (it makes and
 * removes "<prefix>.probe.<pid>"): 0, or the errno (EROFS, ENOSPC, ...). */
int probe_write(const char *prefix);
size_t strlcpy_cb(char *dst, const char *src, size_t dstlen);
/* Value of one hex digit, or -1. */
int hex_digit(int c);
/* An HTTP Range header ("bytes=a-b", "bytes=a-", "bytes=-n") against a
 * body of size bytes: 1 with [from, to], 0 to serve everything (absent,
 * malformed or several ranges), -1 when it is not satisfiable. */
int http_range(const char *h, int64_t size, int64_t *from, int64_t *to);
/* ASCII case-insensitive prefix test. */
int has_prefix_ci(const char *s, const char *prefix);
struct json_object;
/* The string at key k of object o, or NULL (absent, or not a string). */
const char *json_str(struct json_object *o, const char *k);

#endif
