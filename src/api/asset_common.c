/* asset_common.c - the asset API's envelope, ids and renderings (see
 * asset_api.h). */
#include "config.h"

#include <string.h>

#include <json-c/json.h>

#include "api/asset_api.h"
#include "api/file_api.h"
#include "cubby/asset.h"
#include "cubby/crypto.h"
#include "cubby/server.h"
#include "cubby/space.h"
#include "cubby/tenant.h"
#include "cubby/util.h"
#include "cubby/uuid.h"

int
asset_reply(struct cb_req *r, int status, struct json_object *data,
    struct json_object *meta)
{
	struct json_object *root = json_object_new_object();

	json_object_object_add(root, "data", data);
	if (meta != NULL)
		json_object_object_add(root, "meta", meta);
	return resp_json(r, status, root);
}

const char *
asset_tenant(struct cb_req *r)
{
	return ((const struct principal *)r->principal)->tenant_id;
}

const char *
asset_ext_id(struct cb_req *r, const char *prefix, const char *uuid)
{
	char hex[33];

	uuid_compact(uuid, hex);
	return arena_printf(r->a, "%s%s", prefix, hex);
}

int
asset_param_id(struct cb_req *r, const char *param, const char *prefix,
    const char *what, char out[37])
{
	const char *s = req_param(r, param);

	if (s == NULL || uuid_from_prefixed(s, prefix, out) != 0)
		return req_fail(r, 404, "not_found", "%s not found", what);
	return 0;
}

struct json_object *
asset_iso(int64_t ms)
{
	char b[32];

	if (ms <= 0)
		return NULL;
	fmt_iso8601_ms(b, sizeof b, ms);
	return json_object_new_string(b);
}

static struct json_object *
str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

struct json_object *
asset_render(struct cb_req *r, const struct object *o)
{
	struct json_object *j = json_object_new_object(), *v;
	char hex[65];

	json_object_object_add(j, "id", json_object_new_string(asset_ext_id(r, "ast_", o->id)));
	json_object_object_add(j, "file_id", json_object_new_string(o->id));
	json_object_object_add(j, "filename", json_object_new_string(o->name));
	json_object_object_add(j, "type", json_object_new_string(o->kind ? o->kind :
	    asset_kind_of_type(o->content_type)));
	json_object_object_add(j, "content_type", json_object_new_string(o->content_type));
	json_object_object_add(j, "size_bytes", o->size_bytes < 0 ? NULL : json_object_new_int64(o->size_bytes));
	json_object_object_add(j, "status", json_object_new_string(asset_status(o)));
	json_object_object_add(j, "processing_status", json_object_new_string(o->processing_status));
	v = o->labels ? json_tokener_parse(o->labels) : NULL;
	json_object_object_add(j, "tags", v ? v : json_object_new_array());
	v = o->metadata ? json_tokener_parse(o->metadata) : NULL;
	json_object_object_add(j, "attributes", v ? v : json_object_new_object());
	if (o->has_sha)
		hex_encode(hex, o->sha256, 32);
	json_object_object_add(j, "sha256", o->has_sha ? json_object_new_string(hex) : NULL);
	/* Derived blobs, made by processing: 1-hour signed GETs, or null. */
	json_object_object_add(j, "thumb_url", str_or_null(o->thumb_key ?
	    file_variant_url(r, o, "thumb", 3600, NULL) : NULL));
	json_object_object_add(j, "preview_url", str_or_null(o->preview_key ?
	    file_variant_url(r, o, "preview", 3600, NULL) : NULL));
	json_object_object_add(j, "processing_error", str_or_null(o->processing_error));
	json_object_object_add(j, "media", object_media_json(o, 0));
	json_object_object_add(j, "created_at", asset_iso(o->created_at));
	json_object_object_add(j, "updated_at", asset_iso(o->updated_at));
	return j;
}

struct json_object *
space_render(struct cb_req *r, const struct space *s)
{
	struct json_object *j = json_object_new_object();

	json_object_object_add(j, "id", json_object_new_string(asset_ext_id(r, "spc_", s->id)));
	json_object_object_add(j, "short_id", json_object_new_string(s->short_id));
	json_object_object_add(j, "name", json_object_new_string(s->name));
	json_object_object_add(j, "description", str_or_null(s->description));
	json_object_object_add(j, "visibility", json_object_new_string(s->visibility));
	json_object_object_add(j, "has_password", json_object_new_boolean(s->password_hash != NULL));
	/* The share page (served by the web server from pkgdatadir/share). */
	json_object_object_add(j, "share_url", json_object_new_string(arena_printf(r->a,
	    "%s%s/%s", req_origin(r), r->ctx->cfg->share_path, s->short_id)));
	json_object_object_add(j, "asset_count", json_object_new_int64(s->asset_count));
	json_object_object_add(j, "created_at", asset_iso(s->created_at));
	json_object_object_add(j, "updated_at", asset_iso(s->updated_at));
	return j;
}

static void
json_put(void *p)
{
	json_object_put(p);
}

int
space_append(void *arg, const struct space *s)
{
	void **p = arg;

	json_object_array_add(p[1], space_render(p[0], s));
	return 0;
}

int
asset_body(struct cb_req *r, size_t max, struct json_object **out)
{
	if (r->content_length == 0) {
		*out = json_object_new_object();
		arena_defer(r->a, json_put, *out);
		return 0;
	}
	if (req_json(r, max, out) != 0)
		return -1;
	if (*out == NULL) {     /* an empty chunked body */
		*out = json_object_new_object();
		arena_defer(r->a, json_put, *out);
	}
	if (!json_object_is_type(*out, json_type_object))
		return req_fail(r, 400, "validation_error", "the body must be a JSON object");
	return 0;
}

int
asset_opt_string(struct cb_req *r, struct json_object *o, const char *name,
    size_t max, const char **out, int *present)
{
	struct json_object *v;

	if (present)
		*present = 0;
	if (!json_object_object_get_ex(o, name, &v))
		return 0;
	if (present)
		*present = 1;
	if (v == NULL) {
		*out = NULL;
		return 0;
	}
	/* A reported field counts as absent: one error per field. */
	if (!json_object_is_type(v, json_type_string)) {
		if (present)
			*present = 0;
		return req_field_error(r, name, "%s must be a string", name);
	}
	if (strlen(json_object_get_string(v)) > max) {
		if (present)
			*present = 0;
		return req_field_error(r, name, "%s is at most %zu bytes", name, max);
	}
	*out = json_object_get_string(v);
	return 0;
}

const char *
asset_tags_json(struct cb_req *r, struct json_object *v)
{
	size_t n;

	if (v == NULL || !json_object_is_type(v, json_type_array)) {
		req_field_error(r, "tags", "tags must be a list of strings");
		return NULL;
	}
	n = json_object_array_length(v);
	if (n > ASSET_TAGS_MAX) {
		req_field_error(r, "tags", "at most 50 tags");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *t = json_object_array_get_idx(v, i);
		size_t len;
		if (!json_object_is_type(t, json_type_string) ||
		    (len = strlen(json_object_get_string(t))) == 0 || len > ASSET_TAG_MAX) {
			req_field_error(r, "tags", "each tag is a string of 1 to 64 bytes");
			return NULL;
		}
	}
	return arena_strdup(r->a, json_object_to_json_string_ext(v,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}
