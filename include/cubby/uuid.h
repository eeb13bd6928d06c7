/* uuid.h - random (version 4) UUIDs in their canonical lowercase text. */
#ifndef CUBBY_UUID_H
#define CUBBY_UUID_H

/* A new random UUID into out (36 chars + NUL). */
void uuid_new(char out[37]);
/* 1 when s is exactly a canonical lowercase UUID. */
int uuid_valid(const char *s);

#endif
