/* auth.c - tenant API keys and the server admin key on a request, for the
 * route table's AUTH_TENANT and AUTH_ADMIN rows: a Bearer token, checked by
 * the core, then the route's minimum scope. Never logs a key. */
#include "config.h"

#include <string.h>

#include "cubby/api.h"
#include "cubby/db.h"
#include "cubby/object.h"
#include "cubby/uuid.h"
#include "cubby/router.h"
#include "cubby/server.h"
#include "cubby/tenant.h"
#include "cubby/util.h"

/* The Bearer token, or NULL. */
static const char *
bearer(const struct cb_req *r)
{
	const char *h = req_header(r, "Authorization");

	if (h == NULL || !has_prefix_ci(h, "Bearer "))
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return *h ? h : NULL;
}

static struct db *
auth_db(struct cb_req *r)
{
	struct db *db = ctx_db(r->ctx);

	if (db == NULL || !r->ctx->have_master) {
		req_fail(r, 503, "service_unavailable", "storage unavailable");
		return NULL;
	}
	return db;
}

int
tenant_route_auth(struct cb_req *r)
{
	struct principal *p = arena_zalloc(r->a, sizeof *p);
	const char *key = bearer(r);
	struct db *db;
	int rc;

	if (key == NULL)
		return req_fail(r, 401, "unauthorized", "missing API key (Authorization: Bearer)");
	if ((db = auth_db(r)) == NULL)
		return -1;
	rc = apikey_authenticate(db, r->ctx->master, key, p);
	if (rc == 401)
		return req_fail(r, 401, "unauthorized", "invalid or revoked API key");
	if (rc != 0)
		return req_fail(r, 500, "internal_error", "key lookup failed");
	if (p->scope < (int)r->route->min_scope)
		return req_fail(r, 403, "insufficient_scope",
		    "this key's scope does not allow this");
	r->principal = p;
	return 0;
}

int
tenant_or_signed_auth(struct cb_req *r)
{
	static const char owner[] = "SELECT tenant_id FROM objects WHERE id = ?1";
	const char *tok = req_query(r, "token"), *exp_s = req_query(r, "expires");
	const char *id = req_param(r, "fileId"), *why;
	struct principal *p;
	sqlite3_stmt *st;
	struct db *db;
	int rc;

	if (tok == NULL && exp_s == NULL)
		return tenant_route_auth(r);
	/* A token signs the original or one variant, never another. */
	if ((rc = download_url_verify(r->ctx->master, id, req_query(r, "variant"), exp_s, tok,
	    &why)) != 0)
		return req_fail(r, rc, "unauthorized", "%s", why);
	if ((db = auth_db(r)) == NULL)
		return -1;
	/* The token names this object: its owner is the tenant in force. */
	p = arena_zalloc(r->a, sizeof *p);
	if ((st = db_prep(db, owner)) == NULL)
		return req_fail(r, 500, "internal_error", "lookup failed");
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		strlcpy_cb(p->tenant_id, (const char *)sqlite3_column_text(st, 0), sizeof p->tenant_id);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return req_fail(r, 404, "file_not_found", "File not found");
	p->scope = KEY_READ;
	r->principal = p;
	return 0;
}

int
admin_route_auth(struct cb_req *r)
{
	const char *key = bearer(r);
	struct db *db;
	int rc;

	if (key == NULL)
		return req_fail(r, 401, "unauthorized", "missing admin key (Authorization: Bearer)");
	if ((db = auth_db(r)) == NULL)
		return -1;
	rc = admin_authenticate(db, r->ctx->master, r->ctx->cfg->admin_api_key, key);
	if (rc == 401)
		return req_fail(r, 401, "unauthorized", "invalid admin key");
	return rc ? req_fail(r, 500, "internal_error", "key check failed") : 0;
}
