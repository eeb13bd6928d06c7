/* router.c - compile the route table once, match (method, path) against it.
 * Reads decoded client path segments: never indexes past nsegs, never
 * returns a route whose method does not match. */
#include "config.h"

#include <string.h>

#include "cubby/log.h"
#include "cubby/router.h"
#include "cubby/xmalloc.h"

enum segt { SEG_REST = 0, SEG_PARAM = 1, SEG_LIT = 2 };

struct cseg {
	enum segt t;
	const char *lit;        /* SEG_LIT: the literal; else the param name */
	size_t len;
};

struct croute {
	struct cseg *segs;
	size_t nsegs;
	size_t nparams;
};

static const struct route *rtable;
static struct croute *compiled;
static size_t nroutes;

static int
compile(const struct route *r, struct croute *c)
{
	const char *p = r->pattern;
	size_t n = 0;

	if (*p != '/')
		return -1;
	for (const char *q = p; *q; q++)
		if (*q == '/')
			n++;
	c->segs = xcalloc(n, sizeof *c->segs);
	c->nsegs = 0;
	c->nparams = 0;
	p++;
	for (;;) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		struct cseg *s = &c->segs[c->nsegs++];

		if (len >= 2 && p[0] == '{' && p[len - 1] == '}') {
			int rest = len >= 3 && p[len - 2] == '+';
			s->t = rest ? SEG_REST : SEG_PARAM;
			s->lit = xstrndup(p + 1, len - 2 - (size_t)rest);
			s->len = len - 2 - (size_t)rest;
			if (s->len == 0 || c->nparams == CB_MAX_PARAMS)
				return -1;
			if (rest && end != NULL)
				return -1;  /* {x+} must be last */
			c->nparams++;
		} else {
			if (memchr(p, '{', len) || memchr(p, '}', len))
				return -1;
			s->t = SEG_LIT;
			s->lit = xstrndup(p, len);
			s->len = len;
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	return 0;
}

int
router_init(const struct route *table, size_t n)
{
	rtable = table;
	nroutes = n;
	compiled = xcalloc(n, sizeof *compiled);
	for (size_t i = 0; i < n; i++)
		if (compile(&table[i], &compiled[i]) != 0) {
			log_err("route table: bad pattern '%s'", table[i].pattern);
			return -1;
		}
	return 0;
}

static int
path_matches(const struct croute *c, char **segs, size_t nsegs)
{
	int rest = c->nsegs > 0 && c->segs[c->nsegs - 1].t == SEG_REST;

	if (rest ? nsegs < c->nsegs : nsegs != c->nsegs)
		return 0;
	for (size_t i = 0; i < c->nsegs; i++) {
		const struct cseg *s = &c->segs[i];
		if (s->t == SEG_LIT) {
			if (strcmp(s->lit, segs[i]) != 0)
				return 0;
		} else if (s->t == SEG_PARAM) {
			if (segs[i][0] == '\0')
				return 0;
		} else {
			/* The rest must not be empty: "/b/" is not key "". */
			size_t total = 0;
			for (size_t j = i; j < nsegs; j++)
				total += strlen(segs[j]) + 1;
			if (total <= nsegs - i)
				return 0;
		}
	}
	return 1;
}

/* >0 when a is more specific than b, 0 when they have the same shape. */
static int
specificity(const struct croute *a, const struct croute *b)
{
	size_t n = a->nsegs < b->nsegs ? a->nsegs : b->nsegs;

	for (size_t i = 0; i < n; i++)
		if (a->segs[i].t != b->segs[i].t)
			return (int)a->segs[i].t - (int)b->segs[i].t;
	return (int)a->nsegs - (int)b->nsegs;
}

static void
fill_params(struct arena *ar, const struct croute *c, char **segs,
    size_t nsegs, const char **params)
{
	size_t k = 0;

	for (size_t i = 0; i < c->nsegs; i++) {
		if (c->segs[i].t == SEG_PARAM) {
			params[k++] = segs[i];
		} else if (c->segs[i].t == SEG_REST) {
			size_t total = 0, off = 0;
			char *v;
			for (size_t j = i; j < nsegs; j++)
				total += strlen(segs[j]) + 1;
			v = arena_alloc(ar, total);
			for (size_t j = i; j < nsegs; j++) {
				size_t l = strlen(segs[j]);
				memcpy(v + off, segs[j], l);
				off += l;
				v[off++] = '/';
			}
			v[off - 1] = '\0';
			params[k++] = v;
		}
	}
}

static void
allow_add(char *allow, size_t len, const char *m)
{
	size_t used = strlen(allow), ml = strlen(m);
	const char *p = allow;

	/* skip duplicates */
	while ((p = strstr(p, m)) != NULL) {
		if ((p == allow || p[-1] == ' ') && (p[ml] == ',' || p[ml] == '\0'))
			return;
		p += ml;
	}
	if (used + ml + 3 > len)
		return;
	if (used) {
		memcpy(allow + used, ", ", 2);
		used += 2;
	}
	memcpy(allow + used, m, ml + 1);
}

int
router_match(struct arena *ar, const char *method, char **segs, size_t nsegs,
    int *idx, const char **params, char *allow, size_t allowlen)
{
	int best = -1, get = -1, found = -1;

	for (size_t i = 0; i < nroutes; i++)
		if (path_matches(&compiled[i], segs, nsegs) &&
		    (best < 0 || specificity(&compiled[i], &compiled[best]) > 0))
			best = (int)i;
	if (best < 0)
		return ROUTE_NOT_FOUND;

	if (allowlen)
		allow[0] = '\0';
	for (size_t i = 0; i < nroutes; i++) {
		if (specificity(&compiled[i], &compiled[best]) != 0 ||
		    !path_matches(&compiled[i], segs, nsegs))
			continue;
		if (strcmp(rtable[i].method, method) == 0 && found < 0)
			found = (int)i;
		if (strcmp(rtable[i].method, "GET") == 0 && get < 0)
			get = (int)i;
		allow_add(allow, allowlen, rtable[i].method);
		if (strcmp(rtable[i].method, "GET") == 0)
			allow_add(allow, allowlen, "HEAD");
	}
	if (found < 0 && strcmp(method, "HEAD") == 0)
		found = get;
	if (found < 0)
		return ROUTE_BAD_METHOD;
	*idx = found;
	fill_params(ar, &compiled[found], segs, nsegs, params);
	return ROUTE_FOUND;
}

const char *
router_param_name(int route_idx, size_t i)
{
	const struct croute *c;
	size_t k = 0;

	if (route_idx < 0 || (size_t)route_idx >= nroutes)
		return NULL;
	c = &compiled[route_idx];
	for (size_t j = 0; j < c->nsegs; j++)
		if (c->segs[j].t != SEG_LIT && k++ == i)
			return c->segs[j].lit;
	return NULL;
}

static int
path_under(const char *path, const char *root)
{
	size_t n = strlen(root);

	return strncmp(path, root, n) == 0 &&
	    (path[n] == '\0' || path[n] == '/');
}

enum cb_dialect
router_dialect_for(const char *path)
{
	static const char *const file_roots[] = {
		"/api/v1/upload", "/api/v1/files", "/api/v1/workspaces",
		"/api/v1/tenant", "/api/v1/admin", "/_internal",
	};

	if (path_under(path, "/v1"))
		return DIALECT_ASSET;
	for (size_t i = 0; i < sizeof file_roots / sizeof *file_roots; i++)
		if (path_under(path, file_roots[i]))
			return DIALECT_FILE;
	return DIALECT_KV;
}
