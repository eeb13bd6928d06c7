/* uuid.h - random (version 4) UUIDs in their canonical lowercase text. */
#ifndef CUBBY_UUID_H
#define CUBBY_UUID_H

/* A new random UUID into out (36 chars + NUL). */
void uuid_new(char out[37]);
/* 1 when s is exactly a canonical lowercase UUID. */
int uuid_valid(const char *s);

/* The 32 hex digits of a UUID, without dashes (for ast_..., spc_...). */
void uuid_compact(const char *uuid, char out[33]);
/* prefix + 32 lowercase hex digits back to a canonical UUID in out:
 * 0, or -1 when s is not exactly that. */
int uuid_from_prefixed(const char *s, const char *prefix, char out[37]);

#endif
