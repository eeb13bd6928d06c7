/* t_json.c - the strict JSON gate (RFC 8259 and nothing Cubby refuses to
 * store), and key-value numbers written as Keydock writes them. */
#include "config.h"

#include <string.h>

#include <json-c/json.h>

#include "cubby/json.h"
#include "cubby/kv.h"
#include "tap.h"

static int
valid(const char *s)
{
	return json_strict_valid(s, strlen(s));
}

static const char *
num(enum kv_type t, long long i, double f)
{
	static char buf[KV_NUM_MAX];
	struct kv_value v;

	memset(&v, 0, sizeof v);
	v.type = t;
	v.i = i;
	v.f = f;
	kv_format_number(&v, buf, sizeof buf);
	return buf;
}

int
main(void)
{
	static const char *const good[] = {
		"{}", "[]", "0", "-0", "1.5e-3", "\"\\u00e9\\ud83d\\ude00\"", " [1, 2 ,3] ",
		"{\"a\":{\"b\":[true,false,null]}}", "\"tab\\tand\\nnewline\"", "1E+2",
	};
	static const char *const bad[] = {
		"", " ", "{\"a\":NaN}", "Infinity", "-Infinity", "[1,]", "{'a':1}", "/*c*/1",
		"1 // c", "\"a\\u0000b\"", "[1e400]", "[1.]", "[.5]", "[01]", "[\"\t\"]", "+1",
		"\"\\ud800\"", "\"\\udc00x\"", "\"\\x41\"", "{\"a\" 1}", "[1 2]", "nul", "truex",
		"\"\xff\"", "\"\xc0\xaf\"", "{\"a\":1}}",
	};
	char deep[80];
	struct json_object *o;

	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		ok(valid(good[i]), "valid: %s", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ok(!valid(bad[i]), "refused: %s", bad[i]);
	memset(deep, '[', 33);
	memset(deep + 33, ']', 33);
	deep[66] = '\0';
	ok(!valid(deep), "nesting past 32 refused");
	memset(deep, '[', 32);
	memset(deep + 32, ']', 32);
	deep[64] = '\0';
	ok(valid(deep), "32 deep is fine");
	ok(json_strict_parse("{\"a\":[1,2]}", 11, &o) == 0 && o != NULL, "parses");
	json_object_put(o);
	ok(json_strict_parse("{\"a\":NaN}", 9, &o) == -1 && o == NULL, "refuses NaN");

	/* Rust's Display of an f64: shortest digits, no exponent */
	is_str(num(KV_FLOAT, 0, 10.0), "10", "10.0 is 10");
	is_str(num(KV_FLOAT, 0, 11.5), "11.5", "11.5");
	is_str(num(KV_FLOAT, 0, 0.1 + 0.2), "0.30000000000000004", "0.1 + 0.2");
	is_str(num(KV_FLOAT, 0, 1e21), "1000000000000000000000", "1e21");
	is_str(num(KV_FLOAT, 0, 1e-7), "0.0000001", "1e-7");
	is_str(num(KV_FLOAT, 0, -2.25), "-2.25", "-2.25");
	is_str(num(KV_FLOAT, 0, -0.0), "-0", "-0.0");
	is_str(num(KV_FLOAT, 0, 123456789012345680.0), "123456789012345680", "a large float");
	ok(strlen(num(KV_FLOAT, 0, 5e-324)) == 326 && valid(num(KV_FLOAT, 0, 5e-324)),
	    "the smallest subnormal fits and is JSON");
	ok(strlen(num(KV_FLOAT, 0, 1.7976931348623157e308)) == 309, "the largest double fits");
	is_str(num(KV_INT, -9223372036854775807LL - 1, 0), "-9223372036854775808", "INT64_MIN");
	return done_testing();
}
