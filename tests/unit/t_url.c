/* t_url.c - percent-decoding, query parsing and path splitting. */
#include "config.h"

#include "cubby/arena.h"
#include "cubby/url.h"
#include "tap.h"

static const char *
dec(const char *s, int plus)
{
	static char out[256];
	return url_decode(out, s, strlen(s), plus) < 0 ? NULL : out;
}

int
main(void)
{
	struct arena a;
	struct param *p;
	char **segs;
	int n;

	is_str(dec("abc", 0), "abc", "plain text");
	is_str(dec("user%2F42", 0), "user/42", "%%2F decodes to /");
	is_str(dec("a%20b+c", 0), "a b+c", "path: + stays +");
	is_str(dec("a%20b+c", 1), "a b c", "query: + is a space");
	is_str(dec("%e2%82%AC", 0), "\xe2\x82\xac", "mixed-case hex");
	ok(dec("%zz", 0) == NULL, "bad hex digits are refused");
	ok(dec("abc%", 0) == NULL, "a trailing %% is refused");
	ok(dec("abc%4", 0) == NULL, "a truncated escape is refused");
	ok(dec("a%00b", 0) == NULL, "%%00 is refused");
	is_str(dec("", 0), "", "empty input");

	arena_init(&a, 4096);
	n = query_parse(&a, "a=1&b=two+words&c=%41&flag&&d=", 30, &p, 16);
	is_int(n, 5, "five params, empty pairs skipped");
	is_str(param_get(p, (size_t)n, "a"), "1", "a=1");
	is_str(param_get(p, (size_t)n, "b"), "two words", "plus decodes");
	is_str(param_get(p, (size_t)n, "c"), "A", "escape decodes");
	is_str(param_get(p, (size_t)n, "flag"), "", "a bare name has an empty value");
	is_str(param_get(p, (size_t)n, "d"), "", "empty value");
	ok(param_get(p, (size_t)n, "missing") == NULL, "missing is NULL");
	is_int(query_parse(&a, "a=%zz", 5, &p, 16), -1, "malformed escape in a value");
	is_int(query_parse(&a, "a=1&b=2&c=3", 11, &p, 2), -2, "too many params");
	is_int(query_parse(&a, "", 0, &p, 2), 0, "empty query");
	is_int(query_parse(&a, "x=1;y=2", 7, &p, 4), 2, "; separates too");

	n = path_split(&a, "/api/v1/b/user%2F42", 19, &segs, 16);
	is_int(n, 4, "four segments");
	is_str(segs[3], "user/42", "segment decoded, slash kept inside it");
	n = path_split(&a, "/", 1, &segs, 16);
	is_int(n, 1, "root is one empty segment");
	is_str(segs[0], "", "the empty segment");
	n = path_split(&a, "/api/v1/b/", 10, &segs, 16);
	is_int(n, 4, "a trailing slash makes an empty last segment");
	is_str(segs[3], "", "which is empty");
	is_int(path_split(&a, "/a/%g0", 6, &segs, 16), -1, "malformed escape in the path");
	is_int(path_split(&a, "a/b", 3, &segs, 16), -2, "no leading slash");
	is_int(path_split(&a, "/a/b/c/d", 8, &segs, 3), -2, "too many segments");
	arena_free(&a);
	return done_testing();
}
