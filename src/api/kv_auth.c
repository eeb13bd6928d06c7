/* kv_auth.c - the KV document's credentials on a request: Authorization
 * Bearer, then Basic (the username is the credential), then ?access_token=,
 * then ?key=. Loads the bucket, asks the core who is asking, and checks the
 * permission the route table names. Never logs a credential. */
#include "config.h"

#include <string.h>

#include "api/kv_api.h"
#include "cubby/api.h"
#include "cubby/base64.h"
#include "cubby/kv.h"
#include "cubby/router.h"
#include "cubby/server.h"
#include "cubby/util.h"
#include "cubby/uuid.h"

/* The presented credential, or NULL. -1 after req_fail for a malformed
 * Authorization header. */
static int
credential(struct cb_req *r, const char **out)
{
	const char *h = req_header(r, "Authorization"), *q;

	*out = NULL;
	if (h != NULL && *h) {
		if (has_prefix_ci(h, "Bearer ")) {
			*out = h + 7;
			while (**out == ' ')
				(*out)++;
			return 0;
		}
		if (has_prefix_ci(h, "Basic ")) {
			const char *b = h + 6;
			size_t n;
			char *dec, *colon;
			long len;
			while (*b == ' ')
				b++;
			n = strlen(b);
			if (n > 4 * KV_CRED_MAX)
				return req_fail(r, 401, "unauthorized", "credential too long");
			dec = arena_alloc(r->a, n * 3 / 4 + 2);
			if ((len = base64_decode(dec, b, n)) < 0 ||
			    memchr(dec, '\0', (size_t)len) != NULL)
				return req_fail(r, 401, "unauthorized", "malformed Basic credentials");
			dec[len] = '\0';
			if ((colon = strchr(dec, ':')) != NULL)
				*colon = '\0';
			*out = dec;
			return 0;
		}
		return req_fail(r, 401, "unauthorized", "unsupported Authorization scheme");
	}
	if ((q = req_query(r, "access_token")) != NULL || (q = req_query(r, "key")) != NULL)
		*out = q;
	return 0;
}

static unsigned
perm_for(enum cb_scope s)
{
	switch (s) {
	case SCOPE_READ:      return KV_READ;
	case SCOPE_WRITE:     return KV_WRITE;
	case SCOPE_ADMIN:     return KV_ADMIN;
	case SCOPE_ENUMERATE: return KV_ENUMERATE;
	case SCOPE_DELETE:    return KV_DELETE;
	default:              return 0;
	}
}

struct kv_access *
kv_access_of(struct cb_req *r)
{
	return r->principal;
}

const struct kv_limits *
kv_limits_of(struct cb_req *r)
{
	const struct cb_config *cfg = r->ctx->cfg;
	struct kv_limits *l = arena_alloc(r->a, sizeof *l);

	l->bucket_keys = cfg->kv_bucket_max_keys;
	l->bucket_bytes = cfg->kv_bucket_max_bytes;
	l->total_keys = cfg->kv_max_keys;
	l->total_bytes = cfg->kv_max_bytes;
	return l;
}

int
kv_fail(struct cb_req *r, int status, const char *why)
{
	return req_fail(r, status, http_code_name(status), "%s",
	    why && *why ? why : status == 404 ? "not found" : "failed");
}

int
kv_route_auth(struct cb_req *r)
{
	const char *bucket = req_param(r, "bucket"), *key, *cred, *why = "";
	int head_probe = r->route->handler == kv_api_bucket_head;
	struct kv_access *acc;
	struct db *db;
	unsigned need;
	int rc;

	if ((db = ctx_db(r->ctx)) == NULL || !r->ctx->have_master)
		return req_fail(r, 503, "service_unavailable", "storage unavailable");
	acc = arena_zalloc(r->a, sizeof *acc);
	rc = kv_bucket_load(db, r->a, bucket ? bucket : "", &acc->b);
	if (rc == 404) {
		/* Not a bucket id at all: the path's owner answers (e.g. the
		 * file API under /api/v1/files before its routes exist). */
		if (bucket == NULL || !uuid_valid(bucket))
			r->dialect = router_dialect_for(r->path);
		return req_fail(r, 404, "not_found", "no such bucket");
	}
	if (rc != 0)
		return req_fail(r, 500, "internal_error", "bucket lookup failed");
	if (credential(r, &cred) != 0) {
		if (head_probe) {   /* HEAD answers only 200 or 404 */
			r->err.status = 404;
			r->err.code = "not_found";
		}
		return -1;
	}
	if ((rc = kv_authenticate(r->ctx->master, r->a, cred, acc, &why)) != 0)
		return req_fail(r, head_probe ? 404 : rc, http_code_name(head_probe ? 404 : rc), "%s", why);
	need = perm_for(r->route->min_scope);
	if (need != 0 && need != KV_ENUMERATE) {
		/* Listing checks its prefix in the handler; transactions check
		 * each key. Everything else is one key, or the bucket itself. */
		key = req_param(r, "key");
		rc = kv_allowed(acc, need, key, key ? strlen(key) : 0);
		if (rc != 0)
			return req_fail(r, head_probe ? 404 : rc,
			    http_code_name(head_probe ? 404 : rc),
			    "the credential does not allow this");
	}
	r->principal = acc;
	return 0;
}
