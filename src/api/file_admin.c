/* file_admin.c - the file API's admin routes (shared/seeds/file-api.txt):
 * create a tenant (its key returned once) and regenerate a tenant's key. */
#include "config.h"

#include <string.h>

#include <json-c/json.h>

#include "cubby/api.h"
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
	webhook_secret(r->ctx->master, t.id, secret);
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
