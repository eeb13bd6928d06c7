/* t_router.c - route matching: literals beat parameters, {x+} takes the
 * rest, 404 vs 405 with Allow, HEAD falls back to GET. */
#include "config.h"

#include "cubby/arena.h"
#include "cubby/router.h"
#include "cubby/url.h"
#include "tap.h"

static int h(struct cb_req *r) { (void)r; return 0; }

static const struct route table[] = {
	{ "GET",    "/health",                     h, AUTH_NONE, SCOPE_NONE, BODY_NONE, DIALECT_KV },
	{ "GET",    "/api/v1/files",               h, AUTH_TENANT, SCOPE_READ, BODY_NONE, DIALECT_FILE },
	{ "GET",    "/api/v1/files/{fileId}",      h, AUTH_TENANT, SCOPE_READ, BODY_NONE, DIALECT_FILE },
	{ "DELETE", "/api/v1/files/{fileId}",      h, AUTH_TENANT, SCOPE_WRITE, BODY_NONE, DIALECT_FILE },
	{ "POST",   "/api/v1/",                    h, AUTH_NONE, SCOPE_NONE, BODY_DEFAULT, DIALECT_KV },
	{ "GET",    "/api/v1/{bucket}",            h, AUTH_BUCKET, SCOPE_NONE, BODY_NONE, DIALECT_KV },
	{ "POST",   "/api/v1/{bucket}",            h, AUTH_BUCKET, SCOPE_NONE, BODY_DEFAULT, DIALECT_KV },
	{ "GET",    "/api/v1/{bucket}/",           h, AUTH_BUCKET, SCOPE_NONE, BODY_NONE, DIALECT_KV },
	{ "POST",   "/api/v1/{bucket}/tokens/",    h, AUTH_BUCKET, SCOPE_NONE, BODY_DEFAULT, DIALECT_KV },
	{ "GET",    "/api/v1/{bucket}/{key+}",     h, AUTH_BUCKET, SCOPE_NONE, BODY_NONE, DIALECT_KV },
	{ "HEAD",   "/api/v1/{bucket}/{key+}",     h, AUTH_BUCKET, SCOPE_NONE, BODY_NONE, DIALECT_KV },
	{ "PUT",    "/api/v1/{bucket}/{key+}",     h, AUTH_BUCKET, SCOPE_NONE, BODY_DEFAULT, DIALECT_KV },
};
/* Not used: the unit test brings its own table. */
const struct route cb_routes[] = { { "GET", "/", h, AUTH_NONE, SCOPE_NONE, BODY_NONE, DIALECT_KV } };
const size_t cb_nroutes = 1;

static struct arena a;
static const char *params[CB_MAX_PARAMS];
static char allow[128];

static int
match(const char *method, const char *path, int *idx)
{
	char **segs;
	int n = path_split(&a, path, strlen(path), &segs, 32);

	if (n < 0)
		return -1;
	*idx = -1;
	return router_match(&a, method, segs, (size_t)n, idx, params, allow,
	    sizeof allow);
}

int
main(void)
{
	int idx;

	arena_init(&a, 4096);
	is_int(router_init(table, sizeof table / sizeof table[0]), 0, "table compiles");

	is_int(match("GET", "/health", &idx), ROUTE_FOUND, "/health");
	is_int(idx, 0, "-> route 0");
	is_int(match("GET", "/nope", &idx), ROUTE_NOT_FOUND, "unknown path is 404");
	is_int(match("POST", "/health", &idx), ROUTE_BAD_METHOD, "wrong method is 405");
	is_str(allow, "GET, HEAD", "Allow lists GET and HEAD");
	is_int(match("HEAD", "/health", &idx), ROUTE_FOUND, "HEAD falls back to GET");
	is_int(idx, 0, "-> the GET route");

	is_int(match("GET", "/api/v1/files", &idx), ROUTE_FOUND, "literal files");
	is_int(idx, 1, "literal beats {bucket}");
	is_int(match("POST", "/api/v1/files", &idx), ROUTE_BAD_METHOD,
	    "POST /api/v1/files is 405, not a KV transaction on bucket 'files'");
	is_str(allow, "GET, HEAD", "Allow for /api/v1/files");
	is_int(match("DELETE", "/api/v1/files/abc", &idx), ROUTE_FOUND, "files/{id} DELETE");
	is_int(idx, 3, "-> route 3");
	is_str(params[0], "abc", "fileId param");
	is_int(match("PUT", "/api/v1/files/abc", &idx), ROUTE_BAD_METHOD,
	    "literal prefix keeps /api/v1/files/x out of the KV key routes");
	is_str(allow, "GET, HEAD, DELETE", "Allow lists every method of the path");

	is_int(match("POST", "/api/v1/", &idx), ROUTE_FOUND, "bucket create");
	is_int(idx, 4, "-> route 4");
	is_int(match("GET", "/api/v1/b1", &idx), ROUTE_FOUND, "bucket policy");
	is_str(params[0], "b1", "bucket param");
	is_int(match("GET", "/api/v1/b1/", &idx), ROUTE_FOUND, "list keys");
	is_int(idx, 7, "trailing slash is the list route, not key ''");
	is_int(match("POST", "/api/v1/b1/tokens/", &idx), ROUTE_FOUND, "tokens");
	is_int(idx, 8, "literal tokens/ beats the key route");
	is_int(match("GET", "/api/v1/b1/user%2F42", &idx), ROUTE_FOUND, "encoded key");
	is_str(params[1], "user/42", "key decoded");
	is_int(match("GET", "/api/v1/b1/user/42", &idx), ROUTE_FOUND, "unencoded key");
	is_str(params[1], "user/42", "same logical key");
	is_int(match("HEAD", "/api/v1/b1/k", &idx), ROUTE_FOUND, "explicit HEAD");
	is_int(idx, 10, "explicit HEAD route wins over GET fallback");
	is_int(match("DELETE", "/api/v1/b1/k", &idx), ROUTE_BAD_METHOD, "no DELETE key route here");
	is_str(allow, "GET, HEAD, PUT", "Allow for a key");
	is_int(match("GET", "/api/v1//k", &idx), ROUTE_NOT_FOUND, "an empty parameter does not match");
	is_int(match("GET", "/api", &idx), ROUTE_NOT_FOUND, "a prefix is not a match");

	arena_free(&a);
	return done_testing();
}
