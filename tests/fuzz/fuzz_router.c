/* fuzz_router.c - the router over the real route table: a method and a
 * raw path (input: "METHOD path"), split, decoded and matched. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cubby/arena.h"
#include "cubby/router.h"
#include "cubby/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

extern const struct route cb_routes[];
extern const size_t cb_nroutes;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	static int ready;
	const char *params[16];
	char method[16], allow[256], **segs, *s, *sp;
	struct arena a;
	size_t ml;
	int k, idx;

	if (!ready) {
		if (router_init(cb_routes, cb_nroutes) != 0)
			abort();
		ready = 1;
	}
	/* the request layer hands over NUL-terminated strings */
	if ((s = malloc(n + 1)) == NULL)
		return 0;
	memcpy(s, data, n);
	s[n] = '\0';
	sp = memchr(s, ' ', n);
	if (sp == NULL || (ml = (size_t)(sp - s)) >= sizeof method) {
		free(s);
		return 0;
	}
	memcpy(method, s, ml);
	method[ml] = '\0';
	arena_init(&a, 4096);
	k = path_split(&a, sp + 1, strlen(sp + 1), &segs, 32);
	if (k >= 0) {
		int rc = router_match(&a, method, segs, (size_t)k, &idx, params, allow, sizeof allow);
		if (rc == ROUTE_FOUND && (idx < 0 || (size_t)idx >= cb_nroutes))
			abort();
		for (size_t i = 0; rc == ROUTE_FOUND && router_param_name(idx, i) != NULL; i++)
			if (params[i] == NULL)
				abort();
	}
	(void)router_dialect_for(sp + 1);
	arena_free(&a);
	free(s);
	return 0;
}
