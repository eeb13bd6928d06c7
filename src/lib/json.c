/* json.c - the strict JSON gate: a grammar check (RFC 8259) in front of
 * json-c, whose own strict mode still takes NaN, Infinity, single quotes,
 * "1." and \u0000 inside strings. Nothing a client sends as JSON reaches
 * a handler without passing here, so nothing stored or echoed can make an
 * answer that a strict parser refuses. Never allocates before the check. */
#include "config.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cubby/json.h"

int
utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i];
		size_t k;
		unsigned cp;
		if (c < 0x80) { i++; continue; }
		if (c >= 0xc2 && c <= 0xdf) { k = 1; cp = c & 0x1f; }
		else if (c >= 0xe0 && c <= 0xef) { k = 2; cp = c & 0x0f; }
		else if (c >= 0xf0 && c <= 0xf4) { k = 3; cp = c & 0x07; }
		else return 0;
		if (i + k >= n)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if ((k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
		i += k + 1;
	}
	return 1;
}

struct scan {
	const unsigned char *s;
	size_t n, i;
};

static void
ws(struct scan *p)
{
	while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' ||
	    p->s[p->i] == '\n' || p->s[p->i] == '\r'))
		p->i++;
}

static int
hex4(struct scan *p, unsigned *v)
{
	*v = 0;
	if (p->n - p->i < 4)
		return 0;
	for (int k = 0; k < 4; k++) {
		int c = p->s[p->i++];
		*v <<= 4;
		if (c >= '0' && c <= '9') *v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f') *v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F') *v |= (unsigned)(c - 'A' + 10);
		else return 0;
	}
	return 1;
}

static int
string(struct scan *p)
{
	p->i++;                                 /* the opening quote */
	while (p->i < p->n) {
		unsigned c = p->s[p->i];
		if (c == '"') {
			p->i++;
			return 1;
		}
		if (c < 0x20)
			return 0;
		if (c != '\\') {
			p->i++;
			continue;
		}
		if (++p->i >= p->n)
			return 0;
		c = p->s[p->i++];
		if (c == 'u') {
			unsigned u, lo;
			if (!hex4(p, &u) || u == 0 || (u >= 0xdc00 && u <= 0xdfff))
				return 0;
			if (u >= 0xd800 && u <= 0xdbff) {
				/* a high surrogate needs its low half */
				if (p->n - p->i < 2 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u')
					return 0;
				p->i += 2;
				if (!hex4(p, &lo) || lo < 0xdc00 || lo > 0xdfff)
					return 0;
			}
		} else if (strchr("\"\\/bfnrt", (int)c) == NULL || c == 0) {
			return 0;
		}
	}
	return 0;
}

static int
digits(struct scan *p)
{
	size_t start = p->i;

	while (p->i < p->n && isdigit(p->s[p->i]))
		p->i++;
	return p->i > start;
}

static int
number(struct scan *p)
{
	size_t start = p->i;
	char tmp[400];
	double d;

	if (p->s[p->i] == '-')
		p->i++;
	if (p->i < p->n && p->s[p->i] == '0')
		p->i++;
	else if (!digits(p))
		return 0;
	if (p->i < p->n && p->s[p->i] == '.') {
		p->i++;
		if (!digits(p))
			return 0;
	}
	if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
		p->i++;
		if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
			p->i++;
		if (!digits(p))
			return 0;
	}
	/* A number must be one a double holds: 1e400 would come back as
	 * Infinity, which is no JSON. Long literals are rare; test those
	 * that could overflow through strtod on a bounded copy. */
	if (p->i - start >= sizeof tmp)
		return 0;
	memcpy(tmp, p->s + start, p->i - start);
	tmp[p->i - start] = '\0';
	d = strtod(tmp, NULL);
	return isfinite(d);
}

static int
literal(struct scan *p, const char *word)
{
	size_t l = strlen(word);

	if (p->n - p->i < l || memcmp(p->s + p->i, word, l) != 0)
		return 0;
	p->i += l;
	return 1;
}

static int
value(struct scan *p, int depth)
{
	ws(p);
	if (p->i >= p->n)
		return 0;
	switch (p->s[p->i]) {
	case '"':
		return string(p);
	case 't':
		return literal(p, "true");
	case 'f':
		return literal(p, "false");
	case 'n':
		return literal(p, "null");
	case '[':
	case '{': {
		int obj = p->s[p->i] == '{';
		char close = obj ? '}' : ']';
		if (depth >= JSON_MAX_DEPTH)
			return 0;
		p->i++;
		ws(p);
		if (p->i < p->n && p->s[p->i] == close) {
			p->i++;
			return 1;
		}
		for (;;) {
			if (obj) {
				ws(p);
				if (p->i >= p->n || p->s[p->i] != '"' || !string(p))
					return 0;
				ws(p);
				if (p->i >= p->n || p->s[p->i] != ':')
					return 0;
				p->i++;
			}
			if (!value(p, depth + 1))
				return 0;
			ws(p);
			if (p->i >= p->n)
				return 0;
			if (p->s[p->i] == close) {
				p->i++;
				return 1;
			}
			if (p->s[p->i] != ',')
				return 0;
			p->i++;
		}
	}
	default:
		return (p->s[p->i] == '-' || isdigit(p->s[p->i])) && number(p);
	}
}

int
json_strict_valid(const char *s, size_t n)
{
	struct scan p = { (const unsigned char *)s, n, 0 };

	if (!utf8_valid(p.s, n) || !value(&p, 0))
		return 0;
	ws(&p);
	return p.i == n;
}

int
json_strict_parse(const char *s, size_t n, struct json_object **out)
{
	struct json_tokener *tok;
	struct json_object *o;
	int ok;

	*out = NULL;
	if (n > (size_t)0x7fffffff || !json_strict_valid(s, n))
		return -1;
	if ((tok = json_tokener_new_ex(JSON_MAX_DEPTH + 1)) == NULL)
		return -1;
	o = json_tokener_parse_ex(tok, s, (int)n);
	if (o == NULL && json_tokener_get_error(tok) == json_tokener_continue)
		o = json_tokener_parse_ex(tok, "", -1);   /* a bare number */
	ok = json_tokener_get_error(tok) == json_tokener_success;
	json_tokener_free(tok);
	if (!ok) {
		json_object_put(o);
		return -1;
	}
	*out = o;
	return 0;
}
