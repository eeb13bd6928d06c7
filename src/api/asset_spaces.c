/* asset_spaces.c - the asset API's spaces, publications and the public
 * share endpoints. Public answers carry signed download URLs; a protected
 * space answers { requires_password: true } until a POST /access brings
 * the password, and failed attempts are limited per space and client
 * address across the whole pool (429 with Retry-After). */
#include "config.h"

#include <string.h>

#include <json-c/json.h>

#include "api/asset_api.h"
#include "api/file_api.h"
#include "cubby/api.h"
#include "cubby/asset.h"
#include "cubby/crypto.h"
#include "cubby/ratelimit.h"
#include "cubby/server.h"
#include "cubby/space.h"
#include "cubby/util.h"
#include "cubby/uuid.h"

#define PW_ATTEMPTS  5          /* failed attempts per window ... */
#define PW_WINDOW_S  900        /* ... of 15 minutes, per space and address */
#define SHORT_MISSES 50         /* unknown share links per window ... */
#define SHORT_MISS_WINDOW_S 600 /* ... of 10 minutes, per address */
#define MANIFEST_MAX 1000       /* assets in one manifest or listing */

static int
load_space(struct cb_req *r, char id[37], struct space *s)
{
	int rc;

	if (asset_param_id(r, "spaceId", "spc_", "Space", id) != 0)
		return -1;
	rc = space_get(ctx_db(r->ctx), r->a, asset_tenant(r), id, s);
	if (rc == 404)
		return req_fail(r, 404, "not_found", "Space not found");
	return rc ? req_fail(r, 500, "internal_error", "lookup failed") : 0;
}

/* The members of a create or update body. */
static int
parse_change(struct cb_req *r, struct json_object *body, int creating,
    struct space_change *c)
{
	int present;

	memset(c, 0, sizeof *c);
	json_object_object_foreach(body, k, kv) {
		(void)kv;
		if (strcmp(k, "name") != 0 && strcmp(k, "description") != 0 &&
		    strcmp(k, "visibility") != 0 && strcmp(k, "password") != 0)
			req_field_error(r, k, "unknown field: %s", k);
	}
	asset_opt_string(r, body, "name", SPACE_NAME_MAX, &c->name, &present);
	if (present && c->name == NULL)
		req_field_error(r, "name", "name cannot be null");
	asset_opt_string(r, body, "description", SPACE_DESC_MAX, &c->description, &c->set_description);
	asset_opt_string(r, body, "visibility", 16, &c->visibility, &present);
	if (present && c->visibility == NULL)
		req_field_error(r, "visibility", "visibility cannot be null");
	asset_opt_string(r, body, "password", SPACE_PASSWORD_MAX, &c->password, &c->set_password);
	if (creating && c->set_password && c->password == NULL)
		c->set_password = 0;
	return r->err.status ? -1 : 0;
}

static int
change_fail(struct cb_req *r, int rc, const char *field, const char *why)
{
	if (rc == 400)
		return req_field_error(r, field ? field : "body", "%s", why);
	if (rc == 404)
		return req_fail(r, 404, "not_found", "Space not found");
	return req_fail(r, 500, "internal_error", "%s", why && *why ? why : "failed");
}

int
space_api_create(struct cb_req *r)
{
	struct json_object *body;
	struct space_change c;
	struct space s;
	const char *field = NULL, *why = "";
	int rc;

	if (asset_body(r, 65536, &body) != 0 || parse_change(r, body, 1, &c) != 0)
		return -1;
	rc = space_create(ctx_db(r->ctx), r->a, asset_tenant(r), &c, &s, &field, &why);
	if (rc != 0)
		return change_fail(r, rc, field, why);
	return asset_reply(r, 201, space_render(r, &s), NULL);
}

int
space_api_list(struct cb_req *r)
{
	struct json_object *arr = json_object_new_array();
	void *p[2] = { r, arr };

	if (space_each(ctx_db(r->ctx), r->a, asset_tenant(r), space_append, p) != 0) {
		json_object_put(arr);
		return req_fail(r, 500, "internal_error", "listing failed");
	}
	return asset_reply(r, 200, arr, NULL);
}

int
space_api_get(struct cb_req *r)
{
	struct space s;
	char id[37];

	if (load_space(r, id, &s) != 0)
		return -1;
	return asset_reply(r, 200, space_render(r, &s), NULL);
}

int
space_api_update(struct cb_req *r)
{
	struct json_object *body;
	struct space_change c;
	struct space s;
	const char *field = NULL, *why = "";
	char id[37];
	int rc;

	if (asset_param_id(r, "spaceId", "spc_", "Space", id) != 0 ||
	    asset_body(r, 65536, &body) != 0 || parse_change(r, body, 0, &c) != 0)
		return -1;
	rc = space_update(ctx_db(r->ctx), r->a, asset_tenant(r), id, &c, &s, &field, &why);
	if (rc != 0)
		return change_fail(r, rc, field, why);
	return asset_reply(r, 200, space_render(r, &s), NULL);
}

int
space_api_delete(struct cb_req *r)
{
	struct json_object *d;
	char id[37];
	int rc;

	if (asset_param_id(r, "spaceId", "spc_", "Space", id) != 0)
		return -1;
	rc = space_delete(ctx_db(r->ctx), asset_tenant(r), id);
	if (rc == 404)
		return req_fail(r, 404, "not_found", "Space not found");
	if (rc != 0)
		return req_fail(r, 500, "internal_error", "delete failed");
	d = json_object_new_object();
	json_object_object_add(d, "id", json_object_new_string(asset_ext_id(r, "spc_", id)));
	json_object_object_add(d, "deleted", json_object_new_boolean(1));
	return asset_reply(r, 200, d, NULL);
}

/* ---- publications ---------------------------------------------------- */

int
space_api_publish(struct cb_req *r)
{
	struct json_object *body, *v, *results;
	struct space s;
	char sid[37];
	size_t n;
	int ok = 0;

	if (load_space(r, sid, &s) != 0 || asset_body(r, 65536, &body) != 0)
		return -1;
	if (!json_object_object_get_ex(body, "asset_ids", &v) || v == NULL ||
	    !json_object_is_type(v, json_type_array) || (n = json_object_array_length(v)) == 0)
		return req_field_error(r, "asset_ids", "asset_ids must be a non-empty list of asset ids");
	if (n > SPACE_PUBLISH_MAX)
		return req_field_error(r, "asset_ids", "at most 100 assets in one call");
	results = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i), *res = json_object_new_object();
		const char *ext = json_object_is_type(e, json_type_string) ? json_object_get_string(e) : NULL;
		char oid[37];
		int rc = 404;

		json_object_object_add(res, "asset_id", ext ? json_object_new_string(ext) : NULL);
		if (ext != NULL && uuid_from_prefixed(ext, "ast_", oid) == 0)
			rc = space_publish(ctx_db(r->ctx), asset_tenant(r), sid, oid);
		json_object_object_add(res, "success", json_object_new_boolean(rc == 0));
		if (rc != 0) {
			struct json_object *err = json_object_new_object();
			json_object_object_add(err, "code", json_object_new_string(
			    rc == 404 ? "not_found" : rc == 409 ? "asset_not_active" : "internal_error"));
			json_object_object_add(err, "message", json_object_new_string(
			    rc == 404 ? "Asset not found" : rc == 409 ?
			    "only an active asset can be published" : "could not publish"));
			json_object_object_add(res, "error", err);
		} else {
			ok++;
		}
		json_object_array_add(results, res);
	}
	{
		struct json_object *meta = json_object_new_object();
		json_object_object_add(meta, "published", json_object_new_int(ok));
		json_object_object_add(meta, "failed", json_object_new_int((int)n - ok));
		return asset_reply(r, 200, results, meta);
	}
}

struct pub_list {
	struct cb_req *r;
	struct json_object *arr;
	int with_urls;      /* public manifest: signed download URLs too */
};

static int
pub_one(void *arg, const struct object *o, int64_t published_at)
{
	struct pub_list *l = arg;
	struct json_object *j = asset_render(l->r, o);
	char iso[32];

	fmt_iso8601_ms(iso, sizeof iso, published_at);
	json_object_object_add(j, "published_at", json_object_new_string(iso));
	if (l->with_urls)
		json_object_object_add(j, "url", json_object_new_string(file_download_url(l->r, o, 3600, NULL)));
	json_object_array_add(l->arr, j);
	return 0;
}

int
space_api_publications(struct cb_req *r)
{
	struct pub_list l = { r, NULL, 0 };
	struct space s;
	char id[37];

	if (load_space(r, id, &s) != 0)
		return -1;
	l.arr = json_object_new_array();
	if (space_publications(ctx_db(r->ctx), r->a, asset_tenant(r), id, MANIFEST_MAX, pub_one, &l) != 0) {
		json_object_put(l.arr);
		return req_fail(r, 500, "internal_error", "listing failed");
	}
	return asset_reply(r, 200, l.arr, NULL);
}

int
space_api_unpublish(struct cb_req *r)
{
	struct json_object *d;
	struct space s;
	char sid[37], oid[37];
	int rc;

	if (load_space(r, sid, &s) != 0 || asset_param_id(r, "assetId", "ast_", "Asset", oid) != 0)
		return -1;
	rc = space_unpublish(ctx_db(r->ctx), asset_tenant(r), sid, oid);
	if (rc == 404)
		return req_fail(r, 404, "not_found", "the asset is not published in this space");
	if (rc != 0)
		return req_fail(r, 500, "internal_error", "unpublish failed");
	d = json_object_new_object();
	json_object_object_add(d, "space_id", json_object_new_string(asset_ext_id(r, "spc_", sid)));
	json_object_object_add(d, "asset_id", json_object_new_string(asset_ext_id(r, "ast_", oid)));
	json_object_object_add(d, "published", json_object_new_boolean(0));
	return asset_reply(r, 200, d, NULL);
}

/* ---- public ---------------------------------------------------------- */

static int
manifest(struct cb_req *r, const struct space *s)
{
	struct pub_list l = { r, NULL, 1 };
	struct json_object *d = json_object_new_object(), *sp = json_object_new_object();

	json_object_object_add(sp, "short_id", json_object_new_string(s->short_id));
	json_object_object_add(sp, "name", json_object_new_string(s->name));
	json_object_object_add(sp, "description", s->description ? json_object_new_string(s->description) : NULL);
	json_object_object_add(sp, "visibility", json_object_new_string(s->visibility));
	json_object_object_add(d, "space", sp);
	json_object_object_add(d, "requires_password", json_object_new_boolean(0));
	l.arr = json_object_new_array();
	if (space_publications(ctx_db(r->ctx), r->a, s->tenant_id, s->id, MANIFEST_MAX, pub_one, &l) != 0) {
		json_object_put(l.arr);
		json_object_put(d);
		return req_fail(r, 500, "internal_error", "listing failed");
	}
	json_object_object_add(d, "assets", l.arr);
	/* Signed URLs inside: no shared cache may keep this. */
	resp_header(r, "Cache-Control", "no-store");
	return asset_reply(r, 200, d, NULL);
}

/* The space of a share link, public or protected; private and unknown
 * ones are the same 404. */
static int
public_space(struct cb_req *r, struct space *s)
{
	const char *sid = req_param(r, "shortId");
	struct db *db = ctx_db(r->ctx);
	int rc;

	const char *addr = req_env(r, "REMOTE_ADDR");
	char *miss = arena_printf(r->a, "space-miss\n%s", addr ? addr : "-");
	int wait;

	if (db == NULL || !r->ctx->have_master)
		return req_fail(r, 503, "service_unavailable", "storage unavailable");
	/* Lookups are attempts, given back when they find a space: a client
	 * guessing links gets SHORT_MISSES wrong ones per window, then 429. */
	if ((wait = ratelimit_attempt(miss, SHORT_MISSES, SHORT_MISS_WINDOW_S)) > 0) {
		resp_header(r, "Retry-After", arena_printf(r->a, "%d", wait));
		return req_fail(r, 429, "rate_limited", "too many unknown links: try again later");
	}
	rc = sid ? space_by_short_id(db, r->a, sid, s) : 404;
	if (rc == 0 && strcmp(s->visibility, "private") == 0)
		rc = 404;
	if (rc == 404)
		return req_fail(r, 404, "not_found", "Space not found");
	ratelimit_forgive(miss);
	return rc ? req_fail(r, 500, "internal_error", "lookup failed") : 0;
}

int
public_api_space(struct cb_req *r)
{
	struct json_object *d;
	struct space s;

	if (public_space(r, &s) != 0)
		return -1;
	if (strcmp(s.visibility, "public") == 0)
		return manifest(r, &s);
	d = json_object_new_object();
	json_object_object_add(d, "requires_password", json_object_new_boolean(1));
	json_object_object_add(d, "name", json_object_new_string(s.name));
	return asset_reply(r, 200, d, NULL);
}

int
public_api_access(struct cb_req *r)
{
	struct json_object *body;
	struct space s;
	const char *pw = NULL, *addr = req_env(r, "REMOTE_ADDR");
	char *key;
	int wait;

	if (public_space(r, &s) != 0)
		return -1;
	if (strcmp(s.visibility, "public") == 0)
		return manifest(r, &s);
	key = arena_printf(r->a, "space-pw\n%s\n%s", s.id, addr ? addr : "-");
	if (asset_body(r, 4096, &body) != 0)
		return -1;
	asset_opt_string(r, body, "password", SPACE_PASSWORD_MAX, &pw, NULL);
	if (r->err.status)
		return -1;
	if (pw == NULL)
		return req_field_error(r, "password", "password is required");
	/* The attempt is reserved before the KDF runs (a blocked client
	 * costs nothing, and parallel attempts cannot pass the limit while
	 * the hashing of the first ones is still going on); a right password
	 * gives it back. */
	if ((wait = ratelimit_attempt(key, PW_ATTEMPTS, PW_WINDOW_S)) > 0) {
		resp_header(r, "Retry-After", arena_printf(r->a, "%d", wait));
		return req_fail(r, 429, "rate_limited", "too many wrong passwords: try again later");
	}
	if (!password_verify(s.password_hash, pw))
		return req_fail(r, 401, "invalid_password", "wrong password");
	ratelimit_forgive(key);
	return manifest(r, &s);
}
