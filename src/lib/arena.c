/* arena.c - per-request bump allocator (h2o mem pools, Varnish workspaces).
 * Never hands out memory that outlives arena_reset(). */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cubby/arena.h"
#include "cubby/xmalloc.h"

#define ALIGN 16

struct arena_defer {
	struct arena_defer *next;
	void (*fn)(void *);
	void *p;
};

struct arena_block {
	struct arena_block *prev;
	size_t size;
	size_t used;
	_Alignas(ALIGN) unsigned char mem[];
};

static struct arena_block *
block_new(size_t size, struct arena_block *prev)
{
	struct arena_block *b = xmalloc(sizeof *b + size);
	b->prev = prev;
	b->size = size;
	b->used = 0;
	return b;
}

void
arena_init(struct arena *a, size_t block_size)
{
	if (block_size < 256)
		block_size = 256;
	a->block_size = block_size;
	a->head = block_new(block_size, NULL);
	a->large = NULL;
	a->defers = NULL;
	a->used_total = 0;
}

void
arena_defer(struct arena *a, void (*fn)(void *), void *p)
{
	struct arena_defer *d = arena_alloc(a, sizeof *d);

	d->fn = fn;
	d->p = p;
	d->next = a->defers;
	a->defers = d;
}

static void
run_defers(struct arena *a)
{
	/* The records live in the arena: take the list first. */
	struct arena_defer *d = a->defers;

	a->defers = NULL;
	for (; d != NULL; d = d->next)
		d->fn(d->p);
}

void *
arena_alloc(struct arena *a, size_t n)
{
	struct arena_block *b = a->head;
	size_t off = (b->used + ALIGN - 1) & ~(size_t)(ALIGN - 1);

	if (n == 0)
		n = 1;
	if (off > b->size || n > b->size - off) {
		if (n > a->block_size / 4) {
			/* Large: a block of its own on the large list, so the
			 * current block keeps serving small allocations. */
			struct arena_block *big = block_new(n, a->large);
			big->used = n;
			a->large = big;
			a->used_total += n;
			return big->mem;
		}
		b = block_new(a->block_size, b);
		a->head = b;
		off = 0;
	}
	b->used = off + n;
	a->used_total += n;
	return b->mem + off;
}

void *
arena_zalloc(struct arena *a, size_t n)
{
	void *p = arena_alloc(a, n);
	memset(p, 0, n);
	return p;
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *
arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return arena_strdup(a, "");
	p = arena_alloc(a, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

static void
free_chain(struct arena_block *b, struct arena_block *keep)
{
	while (b != NULL && b != keep) {
		struct arena_block *prev = b->prev;
		free(b);
		b = prev;
	}
}

void
arena_reset(struct arena *a)
{
	struct arena_block *first = a->head;

	run_defers(a);
	while (first->prev != NULL)
		first = first->prev;
	free_chain(a->head, first);
	free_chain(a->large, NULL);
	first->used = 0;
	a->head = first;
	a->large = NULL;
	a->used_total = 0;
}

void
arena_free(struct arena *a)
{
	run_defers(a);
	free_chain(a->head, NULL);
	free_chain(a->large, NULL);
	a->head = a->large = NULL;
}
