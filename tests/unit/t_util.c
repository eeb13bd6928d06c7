/* t_util.c - number parsing and small helpers. */
#include "config.h"

#include "cubby/util.h"
#include "tap.h"

int
main(void)
{
	long long v;
	char small[4];

	is_int(parse_ll("42", 0, 100, &v), 0, "plain number");
	is_int(v, 42, "value");
	is_int(parse_ll("-5", -10, 10, &v), 0, "negative in range");
	is_int(parse_ll("101", 0, 100, &v), -1, "above max");
	is_int(parse_ll("12x", 0, 100, &v), -1, "trailing garbage");
	is_int(parse_ll("", 0, 100, &v), -1, "empty");
	is_int(parse_ll(" 1", 0, 100, &v), -1, "leading space");
	is_int(parse_ll("99999999999999999999", 0, INT64_MAX, &v), -1, "overflow");
	is_int(parse_size("4k", 0, INT64_MAX, &v), 0, "k suffix");
	is_int(v, 4096, "4k");
	is_int(parse_size("1G", 0, INT64_MAX, &v), 0, "G suffix");
	is_int(v, 1073741824LL, "1G");
	is_int(parse_size("k", 0, INT64_MAX, &v), -1, "suffix alone");
	is_int(parse_size("9999999999999g", 0, INT64_MAX, &v), -1, "suffix overflow");
	is_int(parse_bool("on"), 1, "on");
	is_int(parse_bool("FALSE"), 0, "FALSE");
	is_int(parse_bool("maybe"), -1, "maybe");
	is_int(strlcpy_cb(small, "abcdef", sizeof small), 6, "strlcpy returns the source length");
	is_str(small, "abc", "and truncates safely");
	{
		char iso[32];
		fmt_iso8601_ms(iso, sizeof iso, 1772274600123LL);
		is_str(iso, "2026-02-28T10:30:00.123Z", "ISO-8601 with milliseconds");
	}
	{
		int64_t f = -1, t = -1;
		is_int(http_range("bytes=0-9", 26, &f, &t), 1, "range 0-9");
		is_int(f * 100 + t, 9, "0 to 9");
		is_int(http_range("bytes=-5", 26, &f, &t), 1, "suffix range");
		is_int(f * 100 + t, 2125, "the last five");
		is_int(http_range("bytes=20-", 26, &f, &t), 1, "open range");
		is_int(f * 100 + t, 2025, "20 to the end");
		is_int(http_range("bytes=30-40", 26, &f, &t), -1, "past the end: not satisfiable");
		is_int(http_range("bytes=-5", 0, &f, &t), -1, "suffix of nothing");
		is_int(http_range("bytes=0-1,3-4", 26, &f, &t), 0, "several ranges: the whole body");
		is_int(http_range("bytes=5-2", 26, &f, &t), 0, "backwards: the whole body");
		is_int(http_range("items=0-1", 26, &f, &t), 0, "another unit");
		is_int(http_range(NULL, 26, &f, &t), 0, "no header");
	}
	return done_testing();
}
