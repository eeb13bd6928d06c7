/* routes.c - THE route table. Every endpoint Cubby serves is one row here:
 * method, pattern, handler, auth, minimum scope, body limit, dialect.
 * The router checks auth, scope and body size from this table before the
 * handler runs; the OpenAPI document is tested against it. */
#include "config.h"

#include "cubby/api.h"
#include "cubby/router.h"

const struct route cb_routes[] = {
	/* operational (KV document shapes) */
	{ "GET", "/health",  ops_health,  AUTH_NONE, SCOPE_NONE, BODY_NONE, DIALECT_KV },
	{ "GET", "/ready",   ops_ready,   AUTH_NONE, SCOPE_NONE, BODY_NONE, DIALECT_KV },
	{ "GET", "/metrics", ops_metrics, AUTH_NONE, SCOPE_NONE, BODY_NONE, DIALECT_KV },
};

const size_t cb_nroutes = sizeof cb_routes / sizeof cb_routes[0];
