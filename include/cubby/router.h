/* router.h - the one static route table and its matcher.
 * Auth, scope and body size are read from the table before a handler runs.
 * Literal segments win over parameters; {name+} takes the rest of the path. */
#ifndef CUBBY_ROUTER_H
#define CUBBY_ROUTER_H

#include <stddef.h>

#include "cubby/request.h"

enum cb_auth {
	AUTH_NONE = 0,      /* public */
	AUTH_ADMIN,         /* the server admin key (file API admin routes) */
	AUTH_TENANT,        /* a tenant API key with at least min_scope */
	AUTH_BUCKET,        /* KV bucket credentials, checked by the KV core */
	AUTH_TENANT_OR_URL, /* a tenant key, or a signed URL (token + expires) */
};

/* Tenant keys: read < write < admin. KV routes (AUTH_BUCKET) read the
 * same field as the bucket permission they need; SCOPE_NONE there means
 * the handler checks each key itself (transactions). */
enum cb_scope {
	SCOPE_NONE = 0, SCOPE_READ, SCOPE_WRITE, SCOPE_ADMIN,
	SCOPE_ENUMERATE, SCOPE_DELETE,
};

#define BODY_NONE    0LL     /* no request body accepted */
#define BODY_DEFAULT (-1LL)  /* the configured max_body */

typedef int (*cb_handler)(struct cb_req *r);

struct route {
	const char *method;
	const char *pattern;
	cb_handler handler;
	enum cb_auth auth;
	enum cb_scope min_scope;
	long long body_limit;
	enum cb_dialect dialect;
};

/* The table (src/server/routes.c). */
extern const struct route cb_routes[];
extern const size_t cb_nroutes;

enum { ROUTE_FOUND = 0, ROUTE_NOT_FOUND = 404, ROUTE_BAD_METHOD = 405 };

/* Compile the table's patterns once per process; 0, or -1 with a log line
 * naming the bad pattern. */
int router_init(const struct route *table, size_t n);
/* Match decoded segments. ROUTE_FOUND sets *idx and params[] (pointers into
 * segs or arena memory); ROUTE_BAD_METHOD fills allow with the methods the
 * path does take. */
int router_match(struct arena *a, const char *method, char **segs,
    size_t nsegs, int *idx, const char **params, char *allow, size_t allowlen);
/* Name of the idx-th parameter of a route, or NULL. */
const char *router_param_name(int route_idx, size_t i);
/* The dialect that owns a raw path, for errors raised before (or
 * without) a route match. */
enum cb_dialect router_dialect_for(const char *path);

#endif
