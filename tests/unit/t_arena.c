/* t_arena.c - the per-request arena. */
#include "config.h"

#include <stdint.h>

/* The module itself, to see its private block list. */
#include "../../src/lib/arena.c"
#include "tap.h"

int
main(void)
{
	struct arena a;
	char *p, *q, *big;

	arena_init(&a, 1024);
	p = arena_alloc(&a, 10);
	q = arena_alloc(&a, 10);
	ok(((uintptr_t)p % 16) == 0 && ((uintptr_t)q % 16) == 0, "allocations are 16-byte aligned");
	ok(q >= p + 10, "allocations do not overlap");
	memset(p, 'x', 10);
	memset(q, 'y', 10);
	ok(p[9] == 'x' && q[0] == 'y', "memory is usable");

	big = arena_alloc(&a, 100000);
	memset(big, 1, 100000);
	ok(big != NULL, "a large allocation gets its own block");
	q = arena_alloc(&a, 16);
	ok(q != NULL, "small allocations continue after a large one");

	for (int i = 0; i < 1000; i++)
		arena_alloc(&a, 100);
	ok(a.used_total >= 100000 + 100 * 1000, "used_total counts every allocation");

	is_str(arena_strdup(&a, "hello"), "hello", "strdup");
	is_str(arena_strndup(&a, "hello world", 5), "hello", "strndup stops at n");
	is_str(arena_printf(&a, "%s-%d", "id", 42), "id-42", "printf");
	{
		char longs[5000];
		memset(longs, 'z', sizeof longs - 1);
		longs[sizeof longs - 1] = '\0';
		ok(strlen(arena_printf(&a, "%s", longs)) == 4999, "printf never truncates");
	}
	ok(((char *)arena_zalloc(&a, 64))[63] == 0, "zalloc zeroes");

	arena_reset(&a);
	is_int(a.used_total, 0, "reset forgets everything");
	ok(a.large == NULL && a.head->prev == NULL, "reset keeps only the first block");
	p = arena_alloc(&a, 8);
	ok(p != NULL, "arena is usable after reset");
	arena_free(&a);
	return done_testing();
}
