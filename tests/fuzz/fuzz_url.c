/* fuzz_url.c - percent-decoding, query strings and path splitting: the
 * first bytes of every request Cubby parses. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cubby/arena.h"
#include "cubby/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct arena a;
	struct param *ps;
	char **segs, *dst = malloc(n + 1);
	long d;
	int k;

	if (dst == NULL)
		return 0;
	arena_init(&a, 4096);
	d = url_decode(dst, (const char *)data, n, n & 1);
	if (d >= 0 && (size_t)d > n)
		abort();        /* decoding never grows */
	k = query_parse(&a, (const char *)data, n, &ps, 64);
	for (int i = 0; i < k; i++)
		if (ps[i].name == NULL || ps[i].value == NULL)
			abort();
	if (k > 0)
		(void)param_get(ps, (size_t)k, "a");
	k = path_split(&a, (const char *)data, n, &segs, 32);
	for (int i = 0; i < k; i++)
		(void)url_encode(&a, segs[i]);
	arena_free(&a);
	free(dst);
	return 0;
}
