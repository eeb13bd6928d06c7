/* file_admin.c - the file API's admin routes (shared/seeds/file-api.txt):
 * create a tenant (its key returned once) and regenerate a tenant's key;
 * and those the current Storage Brain server adds, which its SDK calls:
 * list, get, update and delete tenants, and a tenant's files, workspaces
 * and quota (the tenant routes, run as the tenant named in the path).
 * Never shows a key after its creation. */
#include "config.h"

#include <limits.h>
#include <string.h>

#include <json-c/json.h>

#include "cubby/api.h"
#include "cubby/base64.h"
#include "cubby/server.h"
#include "cubby/tenant.h"
#include "cubby/util.h"
#include "cubby/uuid.h"
#include "cubby/webhook.h"

static struct json_object *
types_array(const char *json)
{
	struct json_object *a = json_tokener_parse(json);

	return a ? a : json_object_new_array();
}

/* A core failure in the file API's words. */
static int
fail(struct cb_req *r, int status, const char *why)
{
	return req_fail(r, status, status == 400 ? "validation_error" :
	    status == 409 ? "conflict" : http_code_name(status), "%s",
	    why && *why ? why : "failed");
}

int
file_admin_tenant_create(struct cb_req *r)
{
	struct json_object *body, *v, *o;
	const char *name = NULL, **types = NULL, *why = "";
	char key[APIKEY_MAX], secret[65];
	struct tenant t;
	int64_t quota = -1;
	size_t ntypes = 0;
	int rc;

	if (req_json(r, 65536, &body) != 0)
		return -1;
	if (!json_object_is_type(body, json_type_object))
		return req_fail(r, 400, "validation_error", "body must be a JSON object");
	if (!json_object_object_get_ex(body, "name", &v) ||
	    !json_object_is_type(v, json_type_string))
		return req_fail(r, 400, "validation_error", "name is required");
	name = json_object_get_string(v);
	if (json_object_object_get_ex(body, "quotaBytes", &v)) {
		if (!json_object_is_type(v, json_type_int) || (quota = json_object_get_int64(v)) < 0)
			return req_fail(r, 400, "validation_error", "quotaBytes must be a whole number of bytes");
	}
	if (json_object_object_get_ex(body, "allowedFileTypes", &v)) {
		if (!json_object_is_type(v, json_type_array))
			return req_fail(r, 400, "validation_error", "allowedFileTypes must be an array");
		ntypes = json_object_array_length(v);
		types = arena_alloc(r->a, (ntypes + 1) * sizeof *types);
		for (size_t i = 0; i < ntypes; i++) {
			struct json_object *e = json_object_array_get_idx(v, i);
			if (!json_object_is_type(e, json_type_string) ||
			    !file_type_supported(json_object_get_string(e)))
				return req_fail(r, 400, "invalid_file_type",
				    "allowedFileTypes may only list supported MIME types");
			types[i] = json_object_get_string(e);
		}
	}
	rc = tenant_create(ctx_db(r->ctx), r->a, r->ctx->master, name, quota,
	    types, ntypes, &t, key, &why);
	if (rc != 0)
		return fail(r, rc, why);
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(t.id));
	json_object_object_add(o, "name", json_object_new_string(t.name));
	json_object_object_add(o, "apiKey", json_object_new_string(key));
	json_object_object_add(o, "quotaBytes", json_object_new_int64(t.quota_bytes));
	json_object_object_add(o, "allowedFileTypes", types_array(t.allowed_types));
	/* Not in the document: the secret that verifies webhook signatures,
	 * shown here once like the key (cubbyctl tenant show has it too). */
	webhook_secret(r->ctx->master, t.id, 0, secret);
	json_object_object_add(o, "webhookSecret", json_object_new_string(secret));
	memset(key, 0, sizeof key);
	memset(secret, 0, sizeof secret);
	return resp_json(r, 201, o);
}

int
file_admin_regenerate_key(struct cb_req *r)
{
	const char *id = req_param(r, "tenantId");
	struct json_object *o;
	char key[APIKEY_MAX];
	int rc;

	if (!uuid_valid(id))
		return req_fail(r, 404, "not_found", "Tenant not found");
	rc = apikey_regenerate(ctx_db(r->ctx), r->ctx->master, id, key);
	if (rc == 404)
		return req_fail(r, 404, "not_found", "Tenant not found");
	if (rc != 0)
		return fail(r, rc, "key regeneration failed");
	o = json_object_new_object();
	json_object_object_add(o, "tenantId", json_object_new_string(id));
	json_object_object_add(o, "apiKey", json_object_new_string(key));
	json_object_object_add(o, "message", json_object_new_string(
	    "API key regenerated successfully. Store this key securely."));
	memset(key, 0, sizeof key);
	return resp_json(r, 200, o);
}

int
file_tenant_quota(struct cb_req *r)
{
	const struct principal *p = r->principal;
	struct json_object *o;
	struct tenant t;
	int64_t avail;

	if (tenant_load(ctx_db(r->ctx), r->a, p->tenant_id, &t) != 0)
		return req_fail(r, 500, "internal_error", "tenant lookup failed");
	avail = t.quota_bytes > t.used_bytes ? t.quota_bytes - t.used_bytes : 0;
	o = json_object_new_object();
	json_object_object_add(o, "quotaBytes", json_object_new_int64(t.quota_bytes));
	json_object_object_add(o, "usedBytes", json_object_new_int64(t.used_bytes));
	json_object_object_add(o, "availableBytes", json_object_new_int64(avail));
	json_object_object_add(o, "usagePercent", json_object_new_int64(t.quota_bytes > 0 ?
	    (t.used_bytes * 100 + t.quota_bytes / 2) / t.quota_bytes : 0));
	return resp_json(r, 200, o);
}

int
file_tenant_info(struct cb_req *r)
{
	const struct principal *p = r->principal;
	struct json_object *o;
	struct tenant t;
	char iso[32];

	if (tenant_load(ctx_db(r->ctx), r->a, p->tenant_id, &t) != 0)
		return req_fail(r, 500, "internal_error", "tenant lookup failed");
	fmt_iso8601_ms(iso, sizeof iso, t.created_at);
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(t.id));
	json_object_object_add(o, "name", json_object_new_string(t.name));
	json_object_object_add(o, "allowedFileTypes", types_array(t.allowed_types));
	json_object_object_add(o, "createdAt", json_object_new_string(iso));
	return resp_json(r, 200, o);
}

/* ---- Storage Brain's admin tenant routes ------------------------------ */

/* A tenant as the admin routes show it (times in ms, as upstream). */
static struct json_object *
tenant_json(const struct tenant *t)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(t->id));
	json_object_object_add(o, "name", json_object_new_string(t->name));
	json_object_object_add(o, "keyPrefix", t->key_prefix ?
	    json_object_new_string(t->key_prefix) : NULL);
	json_object_object_add(o, "quotaBytes", json_object_new_int64(t->quota_bytes));
	json_object_object_add(o, "usedBytes", json_object_new_int64(t->used_bytes));
	json_object_object_add(o, "allowedFileTypes", types_array(t->allowed_types));
	json_object_object_add(o, "createdAt", json_object_new_int64(t->created_at));
	json_object_object_add(o, "updatedAt", json_object_new_int64(t->updated_at));
	return o;
}

static struct json_object *
quota_json(const struct tenant *t)
{
	struct json_object *o = json_object_new_object();
	int64_t avail = t->quota_bytes > t->used_bytes ? t->quota_bytes - t->used_bytes : 0;

	json_object_object_add(o, "quotaBytes", json_object_new_int64(t->quota_bytes));
	json_object_object_add(o, "usedBytes", json_object_new_int64(t->used_bytes));
	json_object_object_add(o, "availableBytes", json_object_new_int64(avail));
	json_object_object_add(o, "usagePercent", json_object_new_int64(t->quota_bytes > 0 ?
	    (t->used_bytes * 100 + t->quota_bytes / 2) / t->quota_bytes : 0));
	return o;
}

/* The tenant in the path: 0, or -1 after a 404 (or 500). */
static int
path_tenant(struct cb_req *r, struct tenant *t)
{
	int rc = tenant_load(ctx_db(r->ctx), r->a, req_param(r, "tenantId"), t);

	if (rc == 404)
		return req_fail(r, 404, "not_found", "Tenant not found");
	return rc ? req_fail(r, 500, "internal_error", "tenant lookup failed") : 0;
}

struct tenant_page {
	struct json_object *arr;
	struct tenant last;
	int64_t n, limit;
	int more;
};

static int
page_one(void *arg, const struct tenant *t)
{
	struct tenant_page *p = arg;

	if (p->n == p->limit) {
		p->more = 1;
		return 1;
	}
	json_object_array_add(p->arr, tenant_json(t));
	p->last = *t;
	p->n++;
	return 0;
}

int
file_admin_tenant_list(struct cb_req *r)
{
	const char *s = req_query(r, "limit"), *cur = req_query(r, "cursor"), *after = NULL;
	long long limit = 20, created = 0;
	struct tenant_page p;
	struct json_object *o;
	int64_t total;

	if (s != NULL && parse_ll(s, 1, 100, &limit) != 0)
		return req_field_error(r, "limit", "limit must be 1 to 100");
	if (cur != NULL && *cur) {
		/* the cursor: base64url of "<created ms>.<uuid>" */
		size_t n = strlen(cur);
		char *dec = arena_alloc(r->a, n + 4), *dot;
		long len = n <= 128 ? base64url_decode(dec, cur, n) : -1;
		if (len > 0)
			dec[len] = '\0';
		if (len <= 0 || (dot = strchr(dec, '.')) == NULL || !uuid_valid(dot + 1))
			return req_field_error(r, "cursor", "cursor is not one this server made");
		*dot = '\0';
		if (parse_ll(dec, 0, LLONG_MAX, &created) != 0)
			return req_field_error(r, "cursor", "cursor is not one this server made");
		after = dot + 1;
	}
	memset(&p, 0, sizeof p);
	p.arr = json_object_new_array();
	p.limit = limit;
	if (tenant_page(ctx_db(r->ctx), r->a, created, after, limit + 1, &total, page_one, &p) != 0) {
		json_object_put(p.arr);
		return req_fail(r, 500, "internal_error", "listing failed");
	}
	o = json_object_new_object();
	json_object_object_add(o, "tenants", p.arr);
	if (p.more) {
		char *c = arena_printf(r->a, "%lld.%s", (long long)p.last.created_at, p.last.id);
		char *b64 = arena_alloc(r->a, base64_len(strlen(c)) + 1);
		base64url_encode(b64, c, strlen(c));
		json_object_object_add(o, "nextCursor", json_object_new_string(b64));
	} else {
		json_object_object_add(o, "nextCursor", NULL);
	}
	json_object_object_add(o, "total", json_object_new_int64(total));
	return resp_json(r, 200, o);
}

int
file_admin_tenant_get(struct cb_req *r)
{
	struct json_object *o;
	struct tenant t;

	if (path_tenant(r, &t) != 0)
		return -1;
	o = tenant_json(&t);
	json_object_object_add(o, "quota", quota_json(&t));
	return resp_json(r, 200, o);
}

int
file_admin_tenant_update(struct cb_req *r)
{
	struct json_object *body, *v;
	const char *name = NULL, **types = NULL, *why = "";
	int64_t quota = -1;
	size_t ntypes = 0;
	struct tenant t;
	int rc;

	if (req_json(r, 65536, &body) != 0)
		return -1;
	if (!json_object_is_type(body, json_type_object))
		return req_field_error(r, "", "body must be a JSON object");
	if (json_object_object_get_ex(body, "name", &v)) {
		if (!json_object_is_type(v, json_type_string))
			req_field_error(r, "name", "name must be a string");
		else
			name = json_object_get_string(v);
	}
	if (json_object_object_get_ex(body, "quotaBytes", &v) &&
	    (!json_object_is_type(v, json_type_int) || (quota = json_object_get_int64(v)) < 0))
		req_field_error(r, "quotaBytes", "quotaBytes must be a whole number of bytes");
	if (json_object_object_get_ex(body, "allowedFileTypes", &v)) {
		if (!json_object_is_type(v, json_type_array)) {
			req_field_error(r, "allowedFileTypes", "allowedFileTypes must be an array");
		} else {
			ntypes = json_object_array_length(v);
			types = arena_alloc(r->a, (ntypes + 1) * sizeof *types);
			for (size_t i = 0; i < ntypes; i++) {
				struct json_object *e = json_object_array_get_idx(v, i);
				if (!json_object_is_type(e, json_type_string))
					return req_field_error(r, "allowedFileTypes",
					    "allowedFileTypes must list MIME types");
				types[i] = json_object_get_string(e);
			}
		}
	}
	if (r->err.status)
		return -1;
	rc = tenant_update(ctx_db(r->ctx), r->a, req_param(r, "tenantId"), name, quota,
	    types, ntypes, &t, &why);
	if (rc == 404)
		return req_fail(r, 404, "not_found", "Tenant not found");
	if (rc != 0)
		return rc == 400 ? req_field_error(r, name && strstr(why, "name") ? "name" :
		    "allowedFileTypes", "%s", why) : fail(r, rc, why);
	return resp_json(r, 200, tenant_json(&t));
}

/* A new webhook secret, shown once; the old one keeps signing beside it
 * (X-Cubby-Signature-Previous) for a day, so receivers can switch. */
int
file_admin_rotate_webhook_secret(struct cb_req *r)
{
	struct json_object *o;
	char secret[65], iso[32];
	int64_t until;
	int rc;

	if (!uuid_valid(req_param(r, "tenantId")))
		return req_fail(r, 404, "not_found", "Tenant not found");
	rc = webhook_secret_rotate(ctx_db(r->ctx), r->ctx->master, req_param(r, "tenantId"),
	    secret, &until);
	if (rc == 404)
		return req_fail(r, 404, "not_found", "Tenant not found");
	if (rc != 0)
		return fail(r, rc, "the webhook secret could not be rotated");
	fmt_iso8601_ms(iso, sizeof iso, until);
	o = json_object_new_object();
	json_object_object_add(o, "tenantId", json_object_new_string(req_param(r, "tenantId")));
	json_object_object_add(o, "webhookSecret", json_object_new_string(secret));
	json_object_object_add(o, "previousSecretValidUntil", json_object_new_string(iso));
	memset(secret, 0, sizeof secret);
	return resp_json(r, 200, o);
}

int
file_admin_tenant_delete(struct cb_req *r)
{
	struct json_object *o;
	int rc = tenant_delete(ctx_db(r->ctx), r->ctx->cfg, req_param(r, "tenantId"));

	if (rc == 404)
		return req_fail(r, 404, "not_found", "Tenant not found");
	if (rc != 0)
		return fail(r, rc, "the tenant could not be deleted");
	o = json_object_new_object();
	json_object_object_add(o, "success", json_object_new_boolean(1));
	return resp_json(r, 200, o);
}

/* /api/v1/admin/tenants/{tenantId}/...: the tenant route each mirrors,
 * run as that tenant with admin scope, once the tenant is known to exist.
 * 0, or -1 after a 404. */
static int
as_tenant(struct cb_req *r, struct tenant *t)
{
	struct principal *p;

	if (path_tenant(r, t) != 0)
		return -1;
	p = arena_zalloc(r->a, sizeof *p);
	memcpy(p->tenant_id, t->id, sizeof p->tenant_id);
	strlcpy_cb(p->key_id, "admin", sizeof p->key_id);
	p->scope = KEY_ADMIN;
	r->principal = p;
	return 0;
}

#define AS_TENANT(name, call) \
int \
name(struct cb_req *r) \
{ \
	struct tenant t; \
	return as_tenant(r, &t) != 0 ? -1 : (call); \
}

AS_TENANT(file_admin_files, file_list(r))
AS_TENANT(file_admin_file_get, file_get(r))
AS_TENANT(file_admin_file_delete, file_delete(r))
AS_TENANT(file_admin_file_signed_url, file_signed_url(r))
AS_TENANT(file_admin_workspaces, file_workspace_list(r))
AS_TENANT(file_admin_workspace_create, file_workspace_create(r))
AS_TENANT(file_admin_upload_request, file_upload_request(r))
AS_TENANT(file_admin_quota, resp_json(r, 200, quota_json(&t)))
