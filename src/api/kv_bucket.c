/* kv_bucket.c - KV buckets in the KV document's shapes: create (form),
 * policy (public projection, never a secret or a hash), HEAD, PATCH,
 * DELETE, transactions, and token minting. Parse, one core call, render. */
#include "config.h"

#include <string.h>

#include <json-c/json.h>

#include "api/kv_api.h"
#include "cubby/api.h"
#include "cubby/kv.h"
#include "cubby/ratelimit.h"
#include "cubby/server.h"
#include "cubby/util.h"

/* Parse a form-encoded body; -1 after req_fail. */
static int
form(struct cb_req *r, struct param **p, size_t *n)
{
	const char *ct = req_header(r, "Content-Type");
	char *body;
	size_t len;
	int count;

	if (ct != NULL && *ct && !has_prefix_ci(ct, "application/x-www-form-urlencoded"))
		return req_fail(r, 400, "bad_request",
		    "send application/x-www-form-urlencoded");
	if (req_body(r, KV_FORM_MAX, &body, &len) != 0)
		return -1;
	if ((count = query_parse(r->a, body, len, p, 64)) < 0)
		return req_fail(r, 400, "bad_request", "malformed form body");
	*n = (size_t)count;
	return 0;
}

int
kv_api_bucket_create(struct cb_req *r)
{
	struct kv_settings s;
	struct param *p;
	struct db *db;
	size_t n;
	char id[37];
	const char *why = "";
	int rc;

	/* The one KV route without a bucket to load (kv_route_auth checks
	 * the rest): storage and the master key first. */
	if ((db = ctx_db(r->ctx)) == NULL || !r->ctx->have_master)
		return req_fail(r, 503, "service_unavailable", "storage unavailable");
	/* Creating a bucket needs no credential (the document): how many one
	 * client address may make is bounded, kv_bucket_create_limit an hour. */
	if (r->ctx->cfg->kv_bucket_create_limit > 0) {
		const char *addr = req_env(r, "REMOTE_ADDR");
		int rem, reset, wait = ratelimit_hit(arena_printf(r->a, "kv-create\n%s",
		    addr ? addr : "-"), (int)r->ctx->cfg->kv_bucket_create_limit, 3600, &rem, &reset);
		if (wait > 0) {
			resp_header(r, "Retry-After", arena_printf(r->a, "%d", wait));
			return req_fail(r, 429, "too_many_requests",
			    "too many buckets created from this address: try again later");
		}
	}
	if (form(r, &p, &n) != 0)
		return -1;
	memset(&s, 0, sizeof s);
	for (size_t i = 0; i < n; i++) {
		const char *k = p[i].name, *v = *p[i].value ? p[i].value : NULL;
		if (strcmp(k, "email") == 0) s.email = p[i].value;
		else if (strcmp(k, "secret_key") == 0) s.secret_key = v;
		else if (strcmp(k, "read_key") == 0) s.read_key = v;
		else if (strcmp(k, "write_key") == 0) s.write_key = v;
		else if (strcmp(k, "signing_key") == 0) s.signing_key = v;
		else if (strcmp(k, "default_ttl") == 0) {
			long long t;
			if (parse_ll(p[i].value, 0, KV_TTL_MAX, &t) != 0)
				return req_fail(r, 400, "bad_request",
				    "default_ttl must be 0 to %lld seconds", KV_TTL_MAX);
			s.has_ttl = 1;
			s.default_ttl = t;
		}
		/* Other fields are ignored, as Keydock's form reader does. */
	}
	rc = kv_bucket_create(db, r->ctx->master, &s, id, &why);
	if (rc != 0)
		return kv_fail(r, rc, why);
	return resp_send(r, 200, "text/plain; charset=utf-8", id, strlen(id));
}

int
kv_api_bucket_get(struct cb_req *r)
{
	const struct kv_access *acc = kv_access_of(r);
	const struct kv_bucket *b = &acc->b;
	struct json_object *o = json_object_new_object(), *anon = json_object_new_object();

	/* A cleared default is left out, as Keydock's projection does. */
	if (b->default_ttl != KV_TTL_CLEARED)
		json_object_object_add(o, "default_ttl", json_object_new_int64(b->default_ttl));
	json_object_object_add(o, "has_secret_key", json_object_new_boolean(b->has_secret));
	json_object_object_add(o, "has_read_key", json_object_new_boolean(b->has_read));
	json_object_object_add(o, "has_write_key", json_object_new_boolean(b->has_write));
	json_object_object_add(o, "has_signing_key", json_object_new_boolean(b->signing_sealed != NULL));
	json_object_object_add(o, "signing_key_generation", json_object_new_int64(b->signing_gen));
	json_object_object_add(anon, "read", json_object_new_boolean(acc->anon & KV_READ));
	json_object_object_add(anon, "write", json_object_new_boolean(acc->anon & KV_WRITE));
	json_object_object_add(anon, "enumerate", json_object_new_boolean(acc->anon & KV_ENUMERATE));
	json_object_object_add(anon, "delete", json_object_new_boolean(acc->anon & KV_DELETE));
	json_object_object_add(o, "anonymous_access", anon);
	return resp_json(r, 200, o);
}

int
kv_api_bucket_head(struct cb_req *r)
{
	return resp_empty(r, 200);
}

/* A PATCH credential field: absent, null (clear) or a string. */
static int
patch_cred(struct cb_req *r, struct json_object *v, const char **set, int *clear,
    int clearable)
{
	if (v == NULL) {
		if (!clearable)
			return req_fail(r, 400, "bad_request", "secret_key cannot be cleared");
		*clear = 1;
		return 0;
	}
	if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0)
		return req_fail(r, 400, "bad_request", "credentials are non-empty strings or null");
	*set = arena_strdup(r->a, json_object_get_string(v));
	return 0;
}

int
kv_api_bucket_patch(struct cb_req *r)
{
	struct json_object *o;
	struct kv_settings s;
	const char *why = "";
	int rc, unused = 0;

	if (req_json(r, KV_FORM_MAX, &o) != 0)
		return -1;
	/* No body at all is {}: a patch of nothing, 204 (Keydock takes {}). */
	if (o == NULL && r->body_read == 0)
		return resp_empty(r, 204);
	if (!json_object_is_type(o, json_type_object))
		return req_fail(r, 400, "bad_request", "body must be a JSON object");
	memset(&s, 0, sizeof s);
	json_object_object_foreach(o, k, v) {
		int bad;
		if (strcmp(k, "secret_key") == 0)
			bad = patch_cred(r, v, &s.secret_key, &unused, 0);
		else if (strcmp(k, "read_key") == 0)
			bad = patch_cred(r, v, &s.read_key, &s.clear_read, 1);
		else if (strcmp(k, "write_key") == 0)
			bad = patch_cred(r, v, &s.write_key, &s.clear_write, 1);
		else if (strcmp(k, "signing_key") == 0)
			bad = patch_cred(r, v, &s.signing_key, &s.clear_signing, 1);
		else if (strcmp(k, "default_ttl") == 0) {
			/* null clears it: no default expiry */
			s.has_ttl = 1;
			s.clear_ttl = v == NULL;
			bad = v != NULL && (!json_object_is_type(v, json_type_int) ||
			    (s.default_ttl = json_object_get_int64(v)) < 0 ||
			    s.default_ttl > KV_TTL_MAX)
			    ? req_fail(r, 400, "bad_request", "default_ttl must be 0 to %lld seconds",
			    KV_TTL_MAX) : 0;
		} else
			bad = req_fail(r, 400, "bad_request", "unknown field");
		if (bad)
			return -1;
	}
	if ((rc = kv_bucket_patch(ctx_db(r->ctx), r->ctx->master, &kv_access_of(r)->b, &s, &why)) != 0)
		return kv_fail(r, rc, why);
	return resp_empty(r, 204);
}

int
kv_api_bucket_delete(struct cb_req *r)
{
	int rc = kv_bucket_delete(ctx_db(r->ctx), kv_access_of(r)->b.id);

	return rc ? kv_fail(r, rc, "delete failed") : resp_empty(r, 204);
}

int
kv_api_txn(struct cb_req *r)
{
	struct kv_op *ops;
	const char *why = "";
	char *body;
	size_t len, n;
	int rc;

	if (req_body(r, (size_t)r->body_limit, &body, &len) != 0)
		return -1;
	if ((rc = kv_txn_parse(r->a, body, len, &ops, &n, &why)) != 0 ||
	    (rc = kv_txn_apply(ctx_db(r->ctx), kv_limits_of(r), kv_access_of(r),
	    ops, n, &why)) != 0)
		return kv_fail(r, rc, why);
	return resp_empty(r, 204);
}

int
kv_api_token_create(struct cb_req *r)
{
	struct json_object *o;
	struct param *p;
	size_t n;
	const char *tok, *why = "";
	int rc;

	if (form(r, &p, &n) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (strcmp(p[i].name, "prefix") != 0 && strcmp(p[i].name, "permissions") != 0 &&
		    strcmp(p[i].name, "ttl") != 0)
			return req_fail(r, 400, "bad_request", "unknown field");
	rc = kv_token_create(r->ctx->master, r->a, &kv_access_of(r)->b,
	    param_get(p, n, "prefix"), param_get(p, n, "permissions"),
	    param_get(p, n, "ttl"), &tok, &why);
	if (rc != 0)
		return kv_fail(r, rc, why);
	o = json_object_new_object();
	json_object_object_add(o, "access_token", json_object_new_string(tok));
	return resp_json(r, 200, o);
}
