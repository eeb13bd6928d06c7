/* asset_account.c - the asset API's API keys, account and usage routes.
 * A key's raw value appears once, in the create response; listings show
 * its hint (first and last characters), never the value or its hash. */
#include "config.h"

#include <string.h>

#include <json-c/json.h>

#include "api/asset_api.h"
#include "cubby/api.h"
#include "cubby/server.h"
#include "cubby/storage.h"
#include "cubby/tenant.h"
#include "cubby/util.h"

static const char *const scope_names[] = { NULL, "read", "write", "admin" };

/* scopes: the key's scope and those it inherits, lowest first. */
static struct json_object *
scopes_of(int scope)
{
	struct json_object *a = json_object_new_array();

	for (int s = KEY_READ; s <= scope && s <= KEY_ADMIN; s++)
		json_object_array_add(a, json_object_new_string(scope_names[s]));
	return a;
}

static struct json_object *
key_render(const struct apikey_info *k)
{
	struct json_object *j = json_object_new_object();

	json_object_object_add(j, "id", json_object_new_string(k->id));
	json_object_object_add(j, "name", json_object_new_string(k->name));
	json_object_object_add(j, "scopes", scopes_of(k->scope));
	json_object_object_add(j, "hint", json_object_new_string(k->hint));
	json_object_object_add(j, "created_at", asset_iso(k->created_at));
	json_object_object_add(j, "last_used_at", asset_iso(k->last_used_at));
	json_object_object_add(j, "revoked_at", asset_iso(k->revoked_at));
	return j;
}

static int
key_one(void *arg, const struct apikey_info *k)
{
	json_object_array_add(arg, key_render(k));
	return 0;
}

int
apikey_api_list(struct cb_req *r)
{
	struct json_object *arr = json_object_new_array();

	if (apikey_each(ctx_db(r->ctx), r->a, asset_tenant(r), key_one, arr) != 0) {
		json_object_put(arr);
		return req_fail(r, 500, "internal_error", "listing failed");
	}
	return asset_reply(r, 200, arr, NULL);
}

struct find_key {
	const char *id;
	struct json_object *out;
};

static int
key_find(void *arg, const struct apikey_info *k)
{
	struct find_key *f = arg;

	if (strcmp(k->id, f->id) != 0)
		return 0;
	f->out = key_render(k);
	return 1;
}

int
apikey_api_create(struct cb_req *r)
{
	struct json_object *body, *v, *j;
	struct find_key f;
	const char *name = NULL, *why = "";
	char key[APIKEY_MAX], id[24];
	int scope = 0, rc;

	if (asset_body(r, 4096, &body) != 0)
		return -1;
	asset_opt_string(r, body, "name", 100, &name, NULL);
	if (name == NULL || *name == '\0')
		req_field_error(r, "name", "name is required (1 to 100 characters)");
	if (!json_object_object_get_ex(body, "scopes", &v) || v == NULL ||
	    !json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0) {
		req_field_error(r, "scopes", "scopes must be a non-empty list of read, write, admin");
	} else {
		/* Higher scopes inherit lower: the key gets the highest named. */
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			const char *s = json_object_get_string(json_object_array_get_idx(v, i));
			int k = 0;
			if (json_object_is_type(json_object_array_get_idx(v, i), json_type_string))
				for (int x = KEY_READ; x <= KEY_ADMIN; x++)
					if (strcmp(s, scope_names[x]) == 0)
						k = x;
			if (k == 0) {
				req_field_error(r, "scopes", "each scope is read, write or admin");
				break;
			}
			if (k > scope)
				scope = k;
		}
	}
	if (r->err.status)
		return -1;
	rc = apikey_create(ctx_db(r->ctx), r->ctx->master, asset_tenant(r), name, scope, key, id, &why);
	if (rc != 0)
		return req_fail(r, rc, rc == 400 ? "validation_error" : "internal_error", "%s",
		    why && *why ? why : "could not create the key");
	f.id = id;
	f.out = NULL;
	if (apikey_each(ctx_db(r->ctx), r->a, asset_tenant(r), key_find, &f) != 0 || f.out == NULL) {
		memset(key, 0, sizeof key);
		return req_fail(r, 500, "internal_error", "key created but unreadable");
	}
	j = f.out;
	json_object_object_add(j, "key", json_object_new_string(key));
	memset(key, 0, sizeof key);
	resp_header(r, "Cache-Control", "no-store");
	return asset_reply(r, 201, j, NULL);
}

int
apikey_api_revoke(struct cb_req *r)
{
	const char *id = req_param(r, "keyId");
	struct json_object *d;
	int rc;

	if (id == NULL || strncmp(id, "key_", 4) != 0 || strlen(id) >= 24)
		return req_fail(r, 404, "not_found", "API key not found");
	rc = apikey_revoke(ctx_db(r->ctx), asset_tenant(r), id);
	if (rc == 404)
		return req_fail(r, 404, "not_found", "API key not found");
	if (rc != 0)
		return req_fail(r, 500, "internal_error", "revoke failed");
	d = json_object_new_object();
	json_object_object_add(d, "id", json_object_new_string(id));
	json_object_object_add(d, "revoked", json_object_new_boolean(1));
	return asset_reply(r, 200, d, NULL);
}

/* ---- account and usage ----------------------------------------------- */

static int
account_reply(struct cb_req *r)
{
	struct json_object *j = json_object_new_object();
	struct account acc;
	struct tenant t;

	if (tenant_load(ctx_db(r->ctx), r->a, asset_tenant(r), &t) != 0 ||
	    tenant_account(ctx_db(r->ctx), r->a, asset_tenant(r), &acc) != 0) {
		json_object_put(j);
		return req_fail(r, 500, "internal_error", "account lookup failed");
	}
	json_object_object_add(j, "id", json_object_new_string(t.id));
	json_object_object_add(j, "display_name", json_object_new_string(acc.display_name ?
	    acc.display_name : t.name));
	json_object_object_add(j, "email", acc.email ? json_object_new_string(acc.email) : NULL);
	json_object_object_add(j, "plan", json_object_new_string(acc.plan));
	json_object_object_add(j, "status", json_object_new_string(acc.status));
	json_object_object_add(j, "quota_bytes", json_object_new_int64(t.quota_bytes));
	json_object_object_add(j, "created_at", asset_iso(t.created_at));
	return asset_reply(r, 200, j, NULL);
}

int
account_api_get(struct cb_req *r)
{
	return account_reply(r);
}

/* A plain address: local@domain, printable, one @, a dot in the domain. */
static int
email_ok(const char *s)
{
	const char *at = strchr(s, '@');
	size_t n = strlen(s);

	if (n < 3 || n > ACCOUNT_EMAIL_MAX || at == NULL || at == s || strchr(at + 1, '@') != NULL ||
	    strchr(at + 1, '.') == NULL || at[1] == '.' || s[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f ||
		    strchr("()<>,;:\\\"[]", s[i]) != NULL)
			return 0;
	return 1;
}

int
account_api_update(struct cb_req *r)
{
	struct json_object *body;
	const char *name = NULL, *email = NULL;
	int pn, pe;

	if (asset_body(r, 4096, &body) != 0)
		return -1;
	json_object_object_foreach(body, k, kv) {
		(void)kv;
		if (strcmp(k, "display_name") != 0 && strcmp(k, "email") != 0)
			req_field_error(r, k, "unknown field: only display_name and email can change");
	}
	asset_opt_string(r, body, "display_name", ACCOUNT_NAME_MAX, &name, &pn);
	asset_opt_string(r, body, "email", ACCOUNT_EMAIL_MAX, &email, &pe);
	if (pn && (name == NULL || *name == '\0'))
		req_field_error(r, "display_name", "display_name must be 1 to 100 characters");
	if (pe && (email == NULL || !email_ok(email)))
		req_field_error(r, "email", "email must be an email address");
	if (r->err.status)
		return -1;
	if (tenant_account_update(ctx_db(r->ctx), asset_tenant(r), name, email) != 0)
		return req_fail(r, 500, "internal_error", "update failed");
	return account_reply(r);
}

int
usage_api_get(struct cb_req *r)
{
	struct json_object *j = json_object_new_object();
	struct account acc;
	int64_t byok_n = 0, byok_b = 0;

	if (tenant_account(ctx_db(r->ctx), r->a, asset_tenant(r), &acc) != 0) {
		json_object_put(j);
		return req_fail(r, 500, "internal_error", "usage lookup failed");
	}
	/* byok_*: what lives in the tenant's own storage connections;
	 * managed_*: the rest, in the server's store. */
	if (storage_usage(ctx_db(r->ctx), asset_tenant(r), &byok_n, &byok_b) != 0) {
		json_object_put(j);
		return req_fail(r, 500, "internal_error", "usage lookup failed");
	}
	json_object_object_add(j, "total_assets", json_object_new_int64(acc.file_count));
	json_object_object_add(j, "total_bytes", json_object_new_int64(acc.stored_bytes));
	json_object_object_add(j, "managed_assets", json_object_new_int64(acc.file_count - byok_n));
	json_object_object_add(j, "managed_bytes", json_object_new_int64(acc.stored_bytes - byok_b));
	json_object_object_add(j, "byok_assets", json_object_new_int64(byok_n));
	json_object_object_add(j, "byok_bytes", json_object_new_int64(byok_b));
	return asset_reply(r, 200, j, NULL);
}
