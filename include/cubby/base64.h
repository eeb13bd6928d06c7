/* base64.h - standard and URL-safe base64 (RFC 4648).
 * Decoders refuse anything that is not canonical base64 of their alphabet. */
#ifndef CUBBY_BASE64_H
#define CUBBY_BASE64_H

#include <stddef.h>

/* Encoded length of n bytes (padded standard form), without the NUL. */
size_t base64_len(size_t n);
/* Standard alphabet with '=' padding; out needs base64_len(n)+1. */
void base64_encode(char *out, const void *in, size_t n);
/* URL-safe alphabet, no padding; out needs base64_len(n)+1. Returns length. */
size_t base64url_encode(char *out, const void *in, size_t n);
/* Decode standard base64 (padding optional) of len chars into out (room
 * for len*3/4+1). Returns the byte count or -1. */
long base64_decode(void *out, const char *in, size_t len);
/* Decode URL-safe, unpadded base64 of len chars into out (room for
 * len*3/4+1). Returns the byte count or -1. */
long base64url_decode(void *out, const char *in, size_t len);

#endif
