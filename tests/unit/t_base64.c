/* t_base64.c - base64 and base64url, and the JSON string writer. */
#include "config.h"

#include "cubby/base64.h"
#include "cubby/buf.h"
#include "tap.h"

int
main(void)
{
	char out[64];
	unsigned char bin[64];
	long n;
	struct buf b;

	base64_encode(out, "hello", 5);
	is_str(out, "aGVsbG8=", "standard, padded");
	base64_encode(out, "hi", 2);
	is_str(out, "aGk=", "one pad");
	base64_encode(out, "", 0);
	is_str(out, "", "empty");
	is_int(base64url_encode(out, "\xfb\xff\xfe", 3), 4, "url length");
	is_str(out, "-__-", "url alphabet, no padding");

	n = base64_decode(bin, "aGVsbG8=", 8);
	ok(n == 5 && memcmp(bin, "hello", 5) == 0, "standard decode");
	n = base64_decode(bin, "aGVsbG8", 7);
	ok(n == 5 && memcmp(bin, "hello", 5) == 0, "standard decode without padding");
	is_int(base64_decode(bin, "aGVs!G8=", 8), -1, "a bad character is refused");
	is_int(base64_decode(bin, "a", 1), -1, "a lone character is refused");
	is_int(base64_decode(bin, "aGk=x", 5), -1, "padding in the middle is refused");
	n = base64url_decode(bin, "-__-", 4);
	ok(n == 3 && memcmp(bin, "\xfb\xff\xfe", 3) == 0, "url decode");
	is_int(base64url_decode(bin, "+//+", 4), -1, "standard alphabet refused by url decode");
	is_int(base64url_decode(bin, "aGk=", 4), -1, "padding refused by url decode");
	is_int(base64url_decode(bin, "aGl", 3), -1, "non-zero leftover bits refused (one spelling per value)");
	is_int(base64url_decode(bin, "aGk", 3), 2, "canonical form accepted");

	buf_init(&b, 256);
	buf_json_string(&b, "a\"b\\c\n\t\x01/\xc3\xa9", 11);
	is_str(buf_cstr(&b), "\"a\\\"b\\\\c\\n\\t\\u0001/\xc3\xa9\"", "JSON string escaping");
	buf_reset(&b);
	buf_json_string(&b, "nul\0byte", 8);
	is_str(buf_cstr(&b), "\"nul\\u0000byte\"", "an embedded NUL is escaped");
	buf_free(&b);
	buf_init(&b, 4);
	is_int(buf_json_string(&b, "abcdef", 6), -1, "the cap holds for JSON strings too");
	buf_free(&b);
	return done_testing();
}
