/* fuzz_json.c - the strict JSON gate (src/lib/json.c) on any bytes: what it
 * takes json-c must parse, and what json-c writes back out of it the gate
 * must take again; what it refuses, json_strict_parse refuses too. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cubby/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	const char *s = (const char *)data;
	struct json_object *o = NULL;
	int valid = json_strict_valid(s, n);
	int parsed = json_strict_parse(s, n, &o) == 0;

	if (valid != parsed)
		abort();
	if (parsed) {
		size_t l;
		const char *out = json_object_to_json_string_length(o,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &l);
		if (!json_strict_valid(out, l))
			abort();
	}
	json_object_put(o);
	return 0;
}
