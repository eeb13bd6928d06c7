/* fuzz_kv.c - key-value bodies: type inference under each Content-Type
 * (the first byte picks one) and transaction documents. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cubby/arena.h"
#include "cubby/json.h"
#include "cubby/kv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	static const char *const types[] = { NULL, "application/json", "text/plain",
	    "text/plain; charset=utf-8", "application/octet-stream", "application/x-www-form-urlencoded" };
	struct kv_value v;
	struct kv_op *ops;
	struct arena a;
	const char *why, *body;
	size_t nops, blen;
	char *s;

	if (n == 0)
		return 0;
	/* NUL-terminated copies: the request layer hands bodies over so */
	s = malloc(n);
	if (s == NULL)
		return 0;
	memcpy(s, data + 1, n - 1);
	s[n - 1] = '\0';
	arena_init(&a, 4096);
	if (kv_infer(&a, types[data[0] % 6], s, n - 1, &v, &why) == 0) {
		char num[KV_NUM_MAX];
		if (v.type == KV_INT || v.type == KV_FLOAT) {
			/* a number written out is always JSON a strict parser takes */
			size_t nl = kv_format_number(&v, num, sizeof num);
			if (!json_strict_valid(num, nl))
				abort();
		}
		kv_render(&a, &v, &body, &blen, &why);
		/* a stored JSON value is always strict JSON */
		if (v.type == KV_JSON && !json_strict_valid(body, blen))
			abort();
	}
	(void)kv_txn_parse(&a, s, n - 1, &ops, &nops, &why);
	arena_free(&a);
	free(s);
	return 0;
}
