/* xmalloc.h - allocation wrappers that abort on out-of-memory.
 * Never returns NULL: callers do not check. */
#ifndef CUBBY_XMALLOC_H
#define CUBBY_XMALLOC_H

#include <stddef.h>

/* Each returns valid memory or aborts the process with a log line. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
