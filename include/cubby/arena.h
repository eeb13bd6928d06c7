/* arena.h - per-request bump allocator.
 * Everything a request allocates comes from its arena and is released at
 * once by arena_reset() at the end of the request. Never free() arena memory. */
#ifndef CUBBY_ARENA_H
#define CUBBY_ARENA_H

#include <stddef.h>

struct arena_block;
struct arena_defer;

struct arena {
	struct arena_block *head;   /* current block; chain ends at the first */
	struct arena_block *large;  /* allocations too big for a block */
	struct arena_defer *defers; /* cleanups run at reset, newest first */
	size_t block_size;          /* size of ordinary blocks */
	size_t used_total;          /* bytes handed out since the last reset */
};

/* Prepare an arena whose ordinary blocks hold block_size bytes. */
void arena_init(struct arena *a, size_t block_size);
/* n bytes, 16-byte aligned, owned by the arena; aborts on OOM. */
void *arena_alloc(struct arena *a, size_t n);
/* Zeroed variant of arena_alloc. */
void *arena_zalloc(struct arena *a, size_t n);
/* NUL-terminated copies owned by the arena. */
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
/* printf into arena memory; never truncates. */
char *arena_printf(struct arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Run fn(p) when the arena is reset or freed (for memory the arena does
 * not own, e.g. a json-c object): request-scoped cleanup without a free()
 * on every path. */
void arena_defer(struct arena *a, void (*fn)(void *), void *p);
/* Release everything but the first block, which is kept for reuse. */
void arena_reset(struct arena *a);
/* Release everything. */
void arena_free(struct arena *a);

#endif
