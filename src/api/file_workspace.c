/* file_workspace.c - the file API's workspaces: list, create, get, patch,
 * delete, always within the calling tenant (another tenant's id is 404). */
#include "config.h"

#include <string.h>

#include <json-c/json.h>

#include "cubby/api.h"
#include "cubby/server.h"
#include "cubby/tenant.h"

static struct json_object *
render(const struct workspace *w)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(w->id));
	json_object_object_add(o, "name", json_object_new_string(w->name));
	json_object_object_add(o, "slug", json_object_new_string(w->slug));
	json_object_object_add(o, "quotaBytes", w->quota_bytes < 0 ? NULL :
	    json_object_new_int64(w->quota_bytes));
	json_object_object_add(o, "usedBytes", json_object_new_int64(w->used_bytes));
	json_object_object_add(o, "metadata", w->metadata ? json_tokener_parse(w->metadata) : NULL);
	json_object_object_add(o, "createdAt", json_object_new_int64(w->created_at / 1000));
	json_object_object_add(o, "updatedAt", json_object_new_int64(w->updated_at / 1000));
	return o;
}

static const char *
tenant_of(struct cb_req *r)
{
	return ((const struct principal *)r->principal)->tenant_id;
}

static int
fail(struct cb_req *r, int status, const char *why)
{
	if (status == 404)
		return req_fail(r, 404, "not_found", "Workspace not found");
	return req_fail(r, status, status == 400 ? "validation_error" :
	    status == 409 ? "conflict" : http_code_name(status), "%s",
	    why && *why ? why : "failed");
}

/* metadata: absent (0), null or an object (1, *text NULL or canonical). */
static int
metadata_field(struct cb_req *r, struct json_object *body, int *set,
    const char **text)
{
	struct json_object *v;

	*set = 0;
	*text = NULL;
	if (!json_object_object_get_ex(body, "metadata", &v))
		return 0;
	*set = 1;
	if (v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_object))
		return req_fail(r, 400, "validation_error", "metadata must be an object");
	*text = arena_strdup(r->a, json_object_to_json_string_ext(v,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	if (strlen(*text) > 65536)
		return req_fail(r, 400, "validation_error", "metadata is larger than 64 KiB");
	return 0;
}

/* quotaBytes: absent (0), null (-1 with set) or a whole number. */
static int
quota_field(struct cb_req *r, struct json_object *body, int *set, int64_t *q)
{
	struct json_object *v;

	*set = 0;
	*q = -1;
	if (!json_object_object_get_ex(body, "quotaBytes", &v))
		return 0;
	*set = 1;
	if (v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_int) || (*q = json_object_get_int64(v)) < 0)
		return req_fail(r, 400, "validation_error", "quotaBytes must be a whole number of bytes or null");
	return 0;
}

static const char *
string_field(struct json_object *body, const char *name, int *bad)
{
	struct json_object *v;

	*bad = 0;
	if (!json_object_object_get_ex(body, name, &v))
		return NULL;
	if (!json_object_is_type(v, json_type_string)) {
		*bad = 1;
		return NULL;
	}
	return json_object_get_string(v);
}

static int
add_one(void *arg, const struct workspace *w)
{
	json_object_array_add(arg, render(w));
	return 0;
}

int
file_workspace_list(struct cb_req *r)
{
	struct json_object *o = json_object_new_object(), *list = json_object_new_array();

	json_object_object_add(o, "workspaces", list);
	if (workspace_each(ctx_db(r->ctx), r->a, tenant_of(r), add_one, list) != 0) {
		json_object_put(o);
		return req_fail(r, 500, "internal_error", "listing failed");
	}
	return resp_json(r, 200, o);
}

int
file_workspace_create(struct cb_req *r)
{
	struct json_object *body;
	struct workspace w;
	const char *name, *slug, *meta, *why = "";
	int64_t quota;
	int set, bad1, bad2, rc;

	if (req_json(r, 131072, &body) != 0)
		return -1;
	if (!json_object_is_type(body, json_type_object))
		return req_fail(r, 400, "validation_error", "body must be a JSON object");
	name = string_field(body, "name", &bad1);
	slug = string_field(body, "slug", &bad2);
	if (bad1 || bad2 || name == NULL || slug == NULL)
		return req_fail(r, 400, "validation_error", "name and slug are required strings");
	if (quota_field(r, body, &set, &quota) != 0 || metadata_field(r, body, &set, &meta) != 0)
		return -1;
	rc = workspace_create(ctx_db(r->ctx), r->a, tenant_of(r), name, slug, quota,
	    meta, &w, &why);
	return rc ? fail(r, rc, why) : resp_json(r, 201, render(&w));
}

int
file_workspace_get(struct cb_req *r)
{
	struct workspace w;
	int rc = workspace_get(ctx_db(r->ctx), r->a, tenant_of(r),
	    req_param(r, "workspaceId"), &w);

	return rc ? fail(r, rc, NULL) : resp_json(r, 200, render(&w));
}

int
file_workspace_update(struct cb_req *r)
{
	struct json_object *body;
	struct workspace w;
	const char *name, *meta, *why = "";
	int64_t quota;
	int set_quota, set_meta, bad, rc;

	if (req_json(r, 131072, &body) != 0)
		return -1;
	if (!json_object_is_type(body, json_type_object))
		return req_fail(r, 400, "validation_error", "body must be a JSON object");
	name = string_field(body, "name", &bad);
	if (bad)
		return req_fail(r, 400, "validation_error", "name must be a string");
	if (quota_field(r, body, &set_quota, &quota) != 0 ||
	    metadata_field(r, body, &set_meta, &meta) != 0)
		return -1;
	rc = workspace_update(ctx_db(r->ctx), r->a, tenant_of(r),
	    req_param(r, "workspaceId"), name, set_quota, quota, set_meta, meta, &w, &why);
	return rc ? fail(r, rc, why) : resp_json(r, 200, render(&w));
}

int
file_workspace_delete(struct cb_req *r)
{
	struct json_object *o;
	int rc = workspace_delete(ctx_db(r->ctx), tenant_of(r), req_param(r, "workspaceId"));

	if (rc)
		return fail(r, rc, NULL);
	o = json_object_new_object();
	json_object_object_add(o, "success", json_object_new_boolean(1));
	return resp_json(r, 200, o);
}
