/* url.h - percent-decoding and query-string parsing of client bytes.
 * Malformed encodings are refused (-1), never guessed at. Decoded text
 * never contains NUL: %00 is refused. */
#ifndef CUBBY_URL_H
#define CUBBY_URL_H

#include <stddef.h>

struct arena;

struct param {
	const char *name;
	const char *value;
};

/* Decode n bytes of src into dst (room for n+1); plus_space turns '+'
 * into ' ' (form/query encoding). Returns the decoded length, or -1 on a
 * bad escape or %00. */
long url_decode(char *dst, const char *src, size_t n, int plus_space);

/* Parse an application/x-www-form-urlencoded string (query strings too)
 * into at most max params, allocated from a. Returns the count, -1 on a
 * malformed escape, -2 on more than max params. */
int query_parse(struct arena *a, const char *qs, size_t len,
    struct param **out, size_t max);

/* Split the raw path (no query) on '/' and decode each segment; the
 * leading '/' is required. Returns the segment count, -1 on a malformed
 * escape, -2 when there are more than max segments or no leading '/'. */
int path_split(struct arena *a, const char *path, size_t len,
    char ***out, size_t max);

/* Percent-encode s for a path segment or query value (RFC 3986
 * unreserved characters stay), in arena memory. */
char *url_encode(struct arena *a, const char *s);

/* First value of name among n params, or NULL. */
const char *param_get(const struct param *p, size_t n, const char *name);

#endif
