/* url.c - percent-decoding, query and path splitting.
 * Reads client bytes: every loop is bounded by the input length and every
 * output fits the space computed up front. */
#include "config.h"

#include <string.h>

#include "cubby/arena.h"
#include "cubby/url.h"
#include "cubby/util.h"

long
url_decode(char *dst, const char *src, size_t n, int plus_space)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];
		if (c == '%') {
			int hi, lo;
			if (i + 2 >= n)
				return -1;
			hi = hex_digit((unsigned char)src[i + 1]);
			lo = hex_digit((unsigned char)src[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			dst[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus_space) {
			dst[o++] = ' ';
		} else if (c == '\0') {
			return -1;
		} else {
			dst[o++] = (char)c;
		}
	}
	dst[o] = '\0';
	return (long)o;
}

static char *
decode_dup(struct arena *a, const char *s, size_t n, int plus_space)
{
	char *d = arena_alloc(a, n + 1);
	if (url_decode(d, s, n, plus_space) < 0)
		return NULL;
	return d;
}

int
query_parse(struct arena *a, const char *qs, size_t len, struct param **out,
    size_t max)
{
	size_t count = 0, i, start;
	struct param *p;

	*out = NULL;
	if (len == 0)
		return 0;
	/* Upper bound on pairs: separators + 1. */
	for (i = 0; i < len; i++)
		if (qs[i] == '&' || qs[i] == ';')
			count++;
	count++;
	p = arena_alloc(a, (count < max ? count : max) * sizeof *p + 1);
	count = 0;
	for (start = 0; start <= len; ) {
		size_t end = start, eq;
		while (end < len && qs[end] != '&' && qs[end] != ';')
			end++;
		if (end > start) {
			if (count == max)
				return -2;
			eq = start;
			while (eq < end && qs[eq] != '=')
				eq++;
			p[count].name = decode_dup(a, qs + start, eq - start, 1);
			p[count].value = eq < end
			    ? decode_dup(a, qs + eq + 1, end - eq - 1, 1) : "";
			if (p[count].name == NULL || p[count].value == NULL)
				return -1;
			count++;
		}
		start = end + 1;
	}
	*out = p;
	return (int)count;
}

int
path_split(struct arena *a, const char *path, size_t len, char ***out,
    size_t max)
{
	size_t count = 0, i, start;
	char **segs;

	if (len == 0 || path[0] != '/')
		return -2;
	for (i = 0; i < len; i++)
		if (path[i] == '/')
			count++;
	if (count > max)
		return -2;
	segs = arena_alloc(a, count * sizeof *segs + 1);
	count = 0;
	for (start = 1; start <= len; ) {
		size_t end = start;
		while (end < len && path[end] != '/')
			end++;
		segs[count] = decode_dup(a, path + start, end - start, 0);
		if (segs[count] == NULL)
			return -1;
		count++;
		start = end + 1;
	}
	*out = segs;
	return (int)count;
}

char *
url_encode(struct arena *a, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = arena_alloc(a, strlen(s) * 3 + 1), *o = out;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~') {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

const char *
param_get(const struct param *p, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(p[i].name, name) == 0)
			return p[i].value;
	return NULL;
}
