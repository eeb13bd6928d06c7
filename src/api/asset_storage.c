/* asset_storage.c - the asset API's storage connections: a tenant's own
 * S3-compatible bucket. Adding one runs the probes first and saves it
 * only if all pass; preview runs them and saves nothing; list-buckets and
 * create-bucket talk to the store with the credentials given (or a saved
 * connection's). Secrets come in, are used or sealed, and never go out:
 * not in a response, not in a log line. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "api/asset_api.h"
#include "cubby/api.h"
#include "cubby/arena.h"
#include "cubby/config.h"
#include "cubby/s3.h"
#include "cubby/server.h"
#include "cubby/storage.h"
#include "cubby/util.h"
#include "cubby/uuid.h"

#define BODY_MAX 8192

static struct json_object *
conn_render(struct cb_req *r, const struct storage_conn *c)
{
	struct json_object *j = json_object_new_object();

	json_object_object_add(j, "id", json_object_new_string(asset_ext_id(r, "stc_", c->id)));
	json_object_object_add(j, "name", json_object_new_string(c->name));
	json_object_object_add(j, "provider", json_object_new_string(c->provider));
	json_object_object_add(j, "endpoint", json_object_new_string(c->endpoint));
	json_object_object_add(j, "region", json_object_new_string(c->region));
	json_object_object_add(j, "bucket", json_object_new_string(c->bucket));
	json_object_object_add(j, "prefix", json_object_new_string(c->prefix ? c->prefix : ""));
	json_object_object_add(j, "path_style", json_object_new_boolean(c->path_style));
	json_object_object_add(j, "access_key_id_hint", json_object_new_string(c->key_hint));
	json_object_object_add(j, "is_default", json_object_new_boolean(c->is_default));
	json_object_object_add(j, "status", json_object_new_string("active"));
	json_object_object_add(j, "created_at", asset_iso(c->created_at));
	json_object_object_add(j, "updated_at", asset_iso(c->updated_at));
	return j;
}

static struct json_object *
probes_render(const struct storage_probe *p)
{
	struct json_object *a = json_object_new_array();

	for (int i = 0; i < PROBE_COUNT; i++) {
		struct json_object *j = json_object_new_object();
		json_object_object_add(j, "name", json_object_new_string(p[i].name));
		json_object_object_add(j, "ok", json_object_new_boolean(p[i].ok));
		json_object_object_add(j, "status", p[i].status ? json_object_new_int64(p[i].status) : NULL);
		json_object_object_add(j, "code", p[i].ok ? NULL : json_object_new_string(p[i].code));
		json_object_object_add(j, "message", p[i].ok ? NULL : json_object_new_string(p[i].message));
		json_object_object_add(j, "duration_ms", json_object_new_int64(p[i].ms));
		json_object_array_add(a, j);
	}
	return a;
}

static int
opt_bool(struct cb_req *r, struct json_object *body, const char *name, int *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(body, name, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return req_field_error(r, name, "%s must be true or false", name);
	*out = json_object_get_boolean(v);
	return 0;
}

/* The store a request names: its own fields, or connection_id's saved
 * ones (with allow_conn). need_bucket: the bucket field is required.
 * 0, or -1 after recording errors (the caller fails with them). */
static int
read_target(struct cb_req *r, struct json_object *body, int need_bucket,
    int allow_conn, struct storage_conn *c, struct s3_target *t)
{
	const char *conn_id = NULL, *field, *why;
	const char *provider = NULL;
	char id[37];

	memset(c, 0, sizeof *c);
	if (allow_conn)
		asset_opt_string(r, body, "connection_id", 64, &conn_id, NULL);
	if (conn_id != NULL) {
		int rc;
		if (uuid_from_prefixed(conn_id, "stc_", id) != 0)
			return req_fail(r, 404, "not_found", "storage connection not found");
		rc = storage_get(ctx_db(r->ctx), r->a, r->ctx->master, asset_tenant(r), id, 1, c);
		if (rc == 404)
			return req_fail(r, 404, "not_found", "storage connection not found");
		if (rc != 0)
			return req_fail(r, 500, "internal_error", "the connection cannot be read");
		storage_target(c, r->ctx->cfg->s3_allow_private, t);
		/* a bucket named in the body (create-bucket) replaces the saved one */
		asset_opt_string(r, body, "bucket", 63, &t->bucket, NULL);
		if (need_bucket && s3_target_check(t, 1, &field, &why) != 0)
			req_field_error(r, field, "%s", why);
		return r->err.status ? -1 : 0;
	}
	c->path_style = -1;
	asset_opt_string(r, body, "endpoint", 300, &c->endpoint, NULL);
	asset_opt_string(r, body, "region", 63, &c->region, NULL);
	asset_opt_string(r, body, "bucket", 63, &c->bucket, NULL);
	asset_opt_string(r, body, "provider", 32, &provider, NULL);
	asset_opt_string(r, body, "prefix", STORAGE_PREFIX_MAX, &c->prefix, NULL);
	{
		const char *ak = NULL, *sk = NULL;
		asset_opt_string(r, body, "access_key_id", STORAGE_KEY_MAX, &ak, NULL);
		asset_opt_string(r, body, "secret_access_key", STORAGE_KEY_MAX, &sk, NULL);
		snprintf(c->access_key, sizeof c->access_key, "%s", ak ? ak : "");
		snprintf(c->secret_key, sizeof c->secret_key, "%s", sk ? sk : "");
	}
	opt_bool(r, body, "path_style", &c->path_style);
	if (r->err.status)
		return -1;
	if (provider == NULL || *provider == '\0')
		provider = "s3";
	if (strlen(provider) > 32 || strspn(provider, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(provider))
		req_field_error(r, "provider", "provider is a short name: s3, aws, r2, minio, ...");
	c->provider = provider;
	/* AWS wants virtual-hosted requests; other stores take path-style. */
	if (c->path_style < 0)
		c->path_style = strcmp(provider, "aws") != 0;
	if (c->prefix && (c->prefix[0] == '/' || strstr(c->prefix, "..") != NULL))
		req_field_error(r, "prefix", "prefix is a key prefix such as cubby/, not starting with '/'");
	storage_target(c, r->ctx->cfg->s3_allow_private, t);
	if (s3_target_check(t, need_bucket, &field, &why) != 0)
		req_field_error(r, field, "%s", why);
	return r->err.status ? -1 : 0;
}

static int
store_fail(struct cb_req *r, const struct s3_result *res)
{
	/* The store said no (credentials, bucket, region): the caller's
	 * input. No answer, or a 5xx: the store's trouble. */
	if (res->status >= 400 && res->status < 500)
		return req_fail(r, 422, "storage_rejected", "%s", res->message);
	if (strcmp(res->code, "Refused") == 0)
		return req_fail(r, 422, "storage_refused", "%s", res->message);
	return req_fail(r, 502, "storage_unavailable", "%s", res->message);
}

static int
probe_and(struct cb_req *r, int save)
{
	struct json_object *body, *d;
	struct storage_probe p[PROBE_COUNT];
	struct storage_conn c;
	struct s3_target t;
	const char *name = NULL;
	int all, rc;

	if (asset_body(r, BODY_MAX, &body) != 0)
		return -1;
	if (save) {
		asset_opt_string(r, body, "name", STORAGE_NAME_MAX, &name, NULL);
		if (name == NULL || *name == '\0')
			req_field_error(r, "name", "name is required (1 to 100 characters)");
	}
	if (read_target(r, body, 1, 0, &c, &t) != 0 || (save && opt_bool(r, body, "is_default", &c.is_default) != 0) ||
	    r->err.status) {
		storage_wipe(&c);
		return -1;
	}
	all = storage_probe(&t, c.prefix, p);
	if (!all) {
		struct json_object *root, *e;
		const char *failed = "";
		storage_wipe(&c);
		if (!save) {
			d = json_object_new_object();
			json_object_object_add(d, "ok", json_object_new_boolean(0));
			json_object_object_add(d, "probes", probes_render(p));
			return asset_reply(r, 200, d, NULL);
		}
		for (int i = 0; i < PROBE_COUNT; i++)
			if (!p[i].ok) {
				failed = p[i].name;
				break;
			}
		root = json_object_new_object();
		e = json_object_new_object();
		json_object_object_add(root, "data", NULL);
		json_object_object_add(e, "code", json_object_new_string("probe_failed"));
		json_object_object_add(e, "message", json_object_new_string(arena_printf(r->a,
		    "the bucket failed the %s probe; nothing was saved", failed)));
		json_object_object_add(e, "probes", probes_render(p));
		json_object_object_add(root, "error", e);
		return resp_json(r, 422, root);
	}
	d = json_object_new_object();
	if (!save) {
		storage_wipe(&c);
		json_object_object_add(d, "ok", json_object_new_boolean(1));
		json_object_object_add(d, "probes", probes_render(p));
		return asset_reply(r, 200, d, NULL);
	}
	c.name = name;
	rc = storage_create(ctx_db(r->ctx), r->ctx->master, asset_tenant(r), &c);
	storage_wipe(&c);
	if (rc == 409) {
		json_object_put(d);
		return req_fail(r, 409, "conflict", "another connection is already the default");
	}
	if (rc == 0)
		rc = storage_get(ctx_db(r->ctx), r->a, r->ctx->master, asset_tenant(r), c.id, 0, &c);
	if (rc != 0) {
		json_object_put(d);
		return req_fail(r, 500, "internal_error", "the connection could not be saved");
	}
	json_object_object_add(d, "connection", conn_render(r, &c));
	json_object_object_add(d, "probes", probes_render(p));
	return asset_reply(r, 201, d, NULL);
}

int
storage_api_create(struct cb_req *r)
{
	return probe_and(r, 1);
}

int
storage_api_preview(struct cb_req *r)
{
	return probe_and(r, 0);
}

struct list_ctx {
	struct cb_req *r;
	struct json_object *arr;
};

static int
conn_one(void *arg, const struct storage_conn *c)
{
	struct list_ctx *l = arg;

	json_object_array_add(l->arr, conn_render(l->r, c));
	return 0;
}

int
storage_api_list(struct cb_req *r)
{
	struct list_ctx l = { r, json_object_new_array() };

	if (storage_each(ctx_db(r->ctx), r->a, asset_tenant(r), conn_one, &l) != 0) {
		json_object_put(l.arr);
		return req_fail(r, 500, "internal_error", "listing failed");
	}
	return asset_reply(r, 200, l.arr, NULL);
}

static int
bucket_one(void *arg, const char *name, const char *created)
{
	struct json_object *j = json_object_new_object();

	json_object_object_add(j, "name", json_object_new_string(name));
	json_object_object_add(j, "created_at", *created ? json_object_new_string(created) : NULL);
	json_object_array_add(arg, j);
	return 0;
}

int
storage_api_list_buckets(struct cb_req *r)
{
	struct json_object *body, *arr;
	struct storage_conn c;
	struct s3_target t;
	struct s3_result res;
	int n;

	if (asset_body(r, BODY_MAX, &body) != 0)
		return -1;
	if (read_target(r, body, 0, 1, &c, &t) != 0) {
		storage_wipe(&c);
		return r->err.status ? -1 : req_fail(r, 400, "validation_error", "invalid input");
	}
	arr = json_object_new_array();
	n = s3_list_buckets(&t, bucket_one, arr, &res);
	storage_wipe(&c);
	if (n < 0) {
		json_object_put(arr);
		return store_fail(r, &res);
	}
	return asset_reply(r, 200, arr, NULL);
}

int
storage_api_create_bucket(struct cb_req *r)
{
	struct json_object *body, *d;
	struct storage_conn c;
	struct s3_target t;
	struct s3_result res;
	int rc;

	if (asset_body(r, BODY_MAX, &body) != 0)
		return -1;
	if (read_target(r, body, 1, 1, &c, &t) != 0) {
		storage_wipe(&c);
		return -1;
	}
	rc = s3_create_bucket(&t, &res);
	storage_wipe(&c);
	if (rc != 0) {
		if (strcmp(res.code, "BucketAlreadyOwnedByYou") == 0 ||
		    strcmp(res.code, "BucketAlreadyExists") == 0)
			return req_fail(r, 409, "bucket_exists", "%s", res.message);
		return store_fail(r, &res);
	}
	d = json_object_new_object();
	json_object_object_add(d, "name", json_object_new_string(t.bucket));
	json_object_object_add(d, "region", json_object_new_string(t.region));
	return asset_reply(r, 201, d, NULL);
}

int
storage_api_delete(struct cb_req *r)
{
	struct json_object *d;
	char id[37];
	int rc;

	if (asset_param_id(r, "connectionId", "stc_", "storage connection", id) != 0)
		return -1;
	rc = storage_delete(ctx_db(r->ctx), asset_tenant(r), id);
	if (rc == 404)
		return req_fail(r, 404, "not_found", "storage connection not found");
	if (rc == 409)
		return req_fail(r, 409, "conflict", "assets are stored in this connection: "
		    "delete them first");
	if (rc != 0)
		return req_fail(r, 500, "internal_error", "delete failed");
	d = json_object_new_object();
	json_object_object_add(d, "id", json_object_new_string(req_param(r, "connectionId")));
	json_object_object_add(d, "deleted", json_object_new_boolean(1));
	return asset_reply(r, 200, d, NULL);
}
