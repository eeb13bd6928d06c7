/* json.h - strict JSON (RFC 8259) for every body a client sends. */
#ifndef CUBBY_JSON_H
#define CUBBY_JSON_H

#include <stddef.h>

struct json_object;

/* Deepest nesting a client body may have. */
#define JSON_MAX_DEPTH 32

/* 1 when s[0..n) is exactly one JSON value by RFC 8259 (white space
 * around it allowed) and nothing Cubby refuses to store: invalid UTF-8,
 * a raw control character or \u0000 inside a string, a lone surrogate,
 * NaN, Infinity, comments, single quotes, trailing commas, a number too
 * large for a double, nesting past JSON_MAX_DEPTH. Else 0. */
int json_strict_valid(const char *s, size_t n);

/* Parse s[0..n) strictly: 0 with *out (the caller owns it: put it), -1
 * when json_strict_valid refuses it. */
int json_strict_parse(const char *s, size_t n, struct json_object **out);

/* 1 when s[0..n) is valid UTF-8 (no overlong forms, no surrogates). */
int utf8_valid(const unsigned char *s, size_t n);

#endif
