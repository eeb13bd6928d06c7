/* tenant.c - tenants, tenant API keys, workspaces.
 * Never stores or logs a raw key; every query about a tenant's things
 * names the tenant; multi-row changes are one BEGIN IMMEDIATE transaction. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "cubby/arena.h"
#include "cubby/buf.h"
#include "cubby/core.h"
#include "cubby/db.h"
#include "cubby/log.h"
#include "cubby/tenant.h"
#include "cubby/util.h"
#include "cubby/uuid.h"

const char *const cb_file_types[] = {
	"image/jpeg", "image/png", "image/webp", "image/gif", "image/avif",
	"application/pdf",
};
const size_t cb_nfile_types = sizeof cb_file_types / sizeof cb_file_types[0];

int
file_type_supported(const char *type)
{
	for (size_t i = 0; i < cb_nfile_types; i++)
		if (strcmp(type, cb_file_types[i]) == 0)
			return 1;
	return 0;
}

#define ALL_TYPES_JSON "[\"image/jpeg\",\"image/png\",\"image/webp\"," \
	"\"image/gif\",\"image/avif\",\"application/pdf\"]"

static const char *
col_text(struct arena *a, sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? arena_strdup(a, (const char *)t) : NULL;
}

/* ---- keys ------------------------------------------------------------ */

/* A new raw key (sk_live_ + 64 hex) and its short display hint. */
static void
new_raw_key(char key[APIKEY_MAX], char hint[24])
{
	unsigned char raw[32];
	char hex[65];

	crypto_random(raw, sizeof raw);
	hex_encode(hex, raw, sizeof raw);
	snprintf(key, APIKEY_MAX, "sk_live_%s", hex);
	snprintf(hint, 24, "sk_live_%.4s...%.4s", hex, hex + 60);
	memset(raw, 0, sizeof raw);
	memset(hex, 0, sizeof hex);
}

static int
insert_key(struct db *db, const unsigned char master[CB_KEYLEN],
    const char *tenant_id, const char *name, int scope, int primary,
    char key[APIKEY_MAX], char id[24])
{
	static const char sql[] =
	    "INSERT INTO api_keys (id, tenant_id, name, scope, is_primary,"
	    " key_hash, hint, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
	unsigned char idb[8], hash[32];
	char hint[24];
	sqlite3_stmt *st;
	int rc;

	new_raw_key(key, hint);
	crypto_random(idb, sizeof idb);
	memcpy(id, "key_", 4);
	hex_encode(id + 4, idb, sizeof idb);
	apikey_hash(master, key, hash);
	if ((st = db_prep(db, sql)) == NULL)
		return 500;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tenant_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, scope);
	sqlite3_bind_int(st, 5, primary);
	sqlite3_bind_blob(st, 6, hash, sizeof hash, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 7, hint, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 8, now_unix_ms());
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		log_err("apikey: insert: %s", db_errmsg(db));
		memset(key, 0, APIKEY_MAX);
		return 500;
	}
	return 0;
}

int
apikey_create(struct db *db, const unsigned char master[CB_KEYLEN],
    const char *tenant_id, const char *name, int scope, char key[APIKEY_MAX],
    char id[24], const char **why)
{
	struct tenant t;
	struct arena a;
	int rc;

	if (name == NULL || *name == '\0' || strlen(name) > 100) {
		*why = "key names are 1 to 100 characters";
		return 400;
	}
	if (scope < KEY_READ || scope > KEY_ADMIN) {
		*why = "scope is read, write or admin";
		return 400;
	}
	arena_init(&a, 1024);
	rc = tenant_load(db, &a, tenant_id, &t);
	arena_free(&a);
	if (rc != 0)
		return rc;
	return insert_key(db, master, tenant_id, name, scope, 0, key, id);
}

int
apikey_regenerate(struct db *db, const unsigned char master[CB_KEYLEN],
    const char *tenant_id, char key[APIKEY_MAX])
{
	static const char revoke[] =
	    "UPDATE api_keys SET revoked_at = ?2 WHERE tenant_id = ?1"
	    " AND is_primary = 1 AND revoked_at IS NULL";
	static const char exists[] = "SELECT 1 FROM tenants WHERE id = ?1";
	sqlite3_stmt *st;
	char id[24];
	int rc;

	if (db_begin(db) != 0)
		return 500;
	if ((st = db_prep(db, exists)) == NULL)
		goto fail;
	sqlite3_bind_text(st, 1, tenant_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW) {
		db_rollback(db);
		return rc == SQLITE_DONE ? 404 : 500;
	}
	if ((st = db_prep(db, revoke)) == NULL)
		goto fail;
	sqlite3_bind_text(st, 1, tenant_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now_unix_ms());
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE ||
	    insert_key(db, master, tenant_id, "primary", KEY_ADMIN, 1, key, id) != 0 ||
	    db_commit(db) != 0)
		goto fail;
	return 0;
fail:
	db_rollback(db);
	memset(key, 0, APIKEY_MAX);
	return 500;
}

int
apikey_revoke(struct db *db, const char *tenant_id, const char *key_id)
{
	static const char sql[] =
	    "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?3)"
	    " WHERE id = ?1 AND (?2 IS NULL OR tenant_id = ?2)";
	sqlite3_stmt *st = db_prep(db, sql);
	int rc;

	if (st == NULL)
		return 500;
	sqlite3_bind_text(st, 1, key_id, -1, SQLITE_STATIC);
	if (tenant_id)
		sqlite3_bind_text(st, 2, tenant_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now_unix_ms());
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return 500;
	return sqlite3_changes(db_handle(db)) ? 0 : 404;
}

int
apikey_each(struct db *db, struct arena *a, const char *tenant_id,
    int (*fn)(void *arg, const struct apikey_info *k), void *arg)
{
	static const char sql[] =
	    "SELECT id, name, hint, scope, is_primary, created_at,"
	    " coalesce(last_used_at, 0), coalesce(revoked_at, 0)"
	    " FROM api_keys WHERE tenant_id = ?1 ORDER BY created_at, id";
	sqlite3_stmt *st = db_prep(db, sql);
	int rc;

	if (st == NULL)
		return 500;
	sqlite3_bind_text(st, 1, tenant_id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct apikey_info k;
		k.id = col_text(a, st, 0);
		k.name = col_text(a, st, 1);
		k.hint = col_text(a, st, 2);
		k.scope = sqlite3_column_int(st, 3);
		k.is_primary = sqlite3_column_int(st, 4);
		k.created_at = sqlite3_column_int64(st, 5);
		k.last_used_at = sqlite3_column_int64(st, 6);
		k.revoked_at = sqlite3_column_int64(st, 7);
		if (fn(arg, &k) != 0)
			break;
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : 500;
}

int
apikey_authenticate(struct db *db, const unsigned char master[CB_KEYLEN],
    const char *raw, struct principal *p)
{
	static const char sql[] =
	    "SELECT id, tenant_id, scope, key_hash, coalesce(last_used_at, 0)"
	    " FROM api_keys WHERE key_hash = ?1 AND revoked_at IS NULL";
	static const char touch[] =
	    "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1";
	unsigned char hash[32];
	sqlite3_stmt *st;
	int64_t last = 0, now;
	int rc, found = 0;

	if (raw == NULL || strncmp(raw, "sk_live_", 8) != 0 || strlen(raw) > APIKEY_MAX)
		return 401;
	/* The lookup is by keyed hash, which an attacker cannot aim; the
	 * stored hash is compared again in constant time. */
	apikey_hash(master, raw, hash);
	if ((st = db_prep(db, sql)) == NULL)
		return 500;
	sqlite3_bind_blob(st, 1, hash, sizeof hash, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 3) == 32 &&
	    ct_equal(sqlite3_column_blob(st, 3), hash, 32)) {
		strlcpy_cb(p->key_id, (const char *)sqlite3_column_text(st, 0), sizeof p->key_id);
		strlcpy_cb(p->tenant_id, (const char *)sqlite3_column_text(st, 1), sizeof p->tenant_id);
		p->scope = sqlite3_column_int(st, 2);
		last = sqlite3_column_int64(st, 4);
		found = 1;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return 500;
	if (!found)
		return 401;
	/* last_used_at is kept to the minute: no write on every request. */
	now = now_unix_ms();
	if (now - last > 60000 && (st = db_prep(db, touch)) != NULL) {
		sqlite3_bind_text(st, 1, p->key_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, now);
		if (sqlite3_step(st) != SQLITE_DONE)
			log_warn("apikey: last_used_at not updated: %s", db_errmsg(db));
		sqlite3_reset(st);
	}
	return 0;
}

int
admin_authenticate(struct db *db, const unsigned char master[CB_KEYLEN],
    const char *cfg_key, const char *raw)
{
	unsigned char a[32], b[32];
	int rc;

	if (raw == NULL || *raw == '\0')
		return 401;
	if (cfg_key != NULL && *cfg_key) {
		/* Equal-length digests: the comparison time says nothing. */
		apikey_hash(master, cfg_key, a);
		apikey_hash(master, raw, b);
		if (ct_equal(a, b, 32))
			return 0;
	}
	rc = admin_key_check(db, master, raw);
	return rc < 0 ? 500 : rc ? 0 : 401;
}

/* ---- tenants --------------------------------------------------------- */

/* Check types against the supported list and render them as a JSON array
 * (arena). NULL types: every supported type. 1, or 0 with *why. */
static int
types_json(struct arena *a, const char *const *types, size_t n,
    const char **out, const char **why)
{
	struct buf b;

	if (types == NULL) {
		*out = ALL_TYPES_JSON;
		return 1;
	}
	if (n == 0 || n > cb_nfile_types) {
		*why = "allowedFileTypes must be a non-empty list of supported types";
		return 0;
	}
	buf_init(&b, 1024);
	buf_putc(&b, '[');
	for (size_t i = 0; i < n; i++) {
		if (!file_type_supported(types[i])) {
			*why = "allowedFileTypes may only list supported types";
			buf_free(&b);
			return 0;
		}
		if (i)
			buf_putc(&b, ',');
		buf_json_string(&b, types[i], strlen(types[i]));
	}
	buf_putc(&b, ']');
	*out = arena_strdup(a, buf_cstr(&b));
	buf_free(&b);
	return 1;
}

/* The columns every tenant reader selects, in row_tenant's order. */
#define TENANT_COLS \
	"id, name, quota_bytes, used_bytes, allowed_types, created_at," \
	" coalesce(updated_at, created_at)," \
	" (SELECT hint FROM api_keys k WHERE k.tenant_id = tenants.id" \
	"  AND k.is_primary = 1 AND k.revoked_at IS NULL" \
	"  ORDER BY k.created_at DESC LIMIT 1), webhook_gen"

static void
row_tenant(struct arena *a, sqlite3_stmt *st, struct tenant *t)
{
	strlcpy_cb(t->id, (const char *)sqlite3_column_text(st, 0), sizeof t->id);
	t->name = col_text(a, st, 1);
	t->quota_bytes = sqlite3_column_int64(st, 2);
	t->used_bytes = sqlite3_column_int64(st, 3);
	t->allowed_types = col_text(a, st, 4);
	t->created_at = sqlite3_column_int64(st, 5);
	t->updated_at = sqlite3_column_int64(st, 6);
	t->key_prefix = col_text(a, st, 7);
	t->webhook_gen = sqlite3_column_int64(st, 8);
}

int
tenant_create(struct db *db, struct arena *a,
    const unsigned char master[CB_KEYLEN], const char *name, int64_t quota,
    const char *const *types, size_t ntypes, struct tenant *out,
    char key[APIKEY_MAX], const char **why)
{
	static const char sql[] =
	    "INSERT INTO tenants (id, name, quota_bytes, allowed_types, created_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5)";
	sqlite3_stmt *st;
	char key_id[24];
	int rc;

	memset(out, 0, sizeof *out);
	if (name == NULL || *name == '\0' || strlen(name) > TENANT_NAME_MAX) {
		*why = "name must be 1 to 100 characters";
		return 400;
	}
	if (!types_json(a, types, ntypes, &out->allowed_types, why))
		return 400;
	uuid_new(out->id);
	out->name = name;
	out->quota_bytes = quota < 0 ? TENANT_DEFAULT_QUOTA : quota;
	out->created_at = now_unix_ms();
	if (db_begin(db) != 0 || (st = db_prep(db, sql)) == NULL) {
		rc = 500;
		goto fail;
	}
	sqlite3_bind_text(st, 1, out->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, out->quota_bytes);
	sqlite3_bind_text(st, 4, out->allowed_types, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, out->created_at);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT_UNIQUE) {
		*why = "a tenant with that name already exists";
		rc = 409;
		goto fail;
	}
	if (rc != SQLITE_DONE ||
	    insert_key(db, master, out->id, "primary", KEY_ADMIN, 1, key, key_id) != 0 ||
	    db_commit(db) != 0) {
		rc = 500;
		goto fail;
	}
	return 0;
fail:
	db_rollback(db);
	return rc;
}

int
tenant_load(struct db *db, struct arena *a, const char *id, struct tenant *out)
{
	static const char sql[] =
	    "SELECT " TENANT_COLS " FROM tenants WHERE id = ?1";
	sqlite3_stmt *st;
	int rc;

	if (!uuid_valid(id))
		return 404;
	if ((st = db_prep(db, sql)) == NULL)
		return 500;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		row_tenant(a, st, out);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 404 : 500;
}

int
tenant_find(struct db *db, struct arena *a, const char *id_or_name,
    struct tenant *out)
{
	static const char sql[] =
	    "SELECT " TENANT_COLS " FROM tenants WHERE name = ?1";
	sqlite3_stmt *st;
	int rc;

	if (uuid_valid(id_or_name))
		return tenant_load(db, a, id_or_name, out);
	if ((st = db_prep(db, sql)) == NULL)
		return 500;
	sqlite3_bind_text(st, 1, id_or_name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		row_tenant(a, st, out);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 404 : 500;
}

int
tenant_each(struct db *db, struct arena *a,
    int (*fn)(void *arg, const struct tenant *t), void *arg)
{
	static const char sql[] =
	    "SELECT " TENANT_COLS " FROM tenants ORDER BY created_at, id";
	sqlite3_stmt *st = db_prep(db, sql);
	int rc;

	if (st == NULL)
		return 500;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct tenant t;
		row_tenant(a, st, &t);
		if (fn(arg, &t) != 0)
			break;
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : 500;
}

int
tenant_page(struct db *db, struct arena *a, int64_t after_created,
    const char *after_id, int64_t limit, int64_t *total,
    int (*fn)(void *arg, const struct tenant *t), void *arg)
{
	static const char sql[] =
	    "SELECT " TENANT_COLS " FROM tenants"
	    " WHERE ?1 IS NULL OR (created_at, id) > (?2, ?1)"
	    " ORDER BY created_at, id LIMIT ?3";
	static const char count[] = "SELECT count(*) FROM tenants";
	sqlite3_stmt *st;
	int rc;

	*total = 0;
	if ((st = db_prep(db, count)) == NULL)
		return 500;
	if (sqlite3_step(st) == SQLITE_ROW)
		*total = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if ((st = db_prep(db, sql)) == NULL)
		return 500;
	if (after_id != NULL)
		sqlite3_bind_text(st, 1, after_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, after_created);
	sqlite3_bind_int64(st, 3, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct tenant t;
		row_tenant(a, st, &t);
		if (fn(arg, &t) != 0)
			break;
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : 500;
}

int
tenant_update(struct db *db, struct arena *a, const char *id,
    const char *name, int64_t quota, const char *const *types, size_t ntypes,
    struct tenant *out, const char **why)
{
	static const char sql[] =
	    "UPDATE tenants SET name = coalesce(?2, name),"
	    " quota_bytes = CASE WHEN ?3 >= 0 THEN ?3 ELSE quota_bytes END,"
	    " allowed_types = coalesce(?4, allowed_types), updated_at = ?5"
	    " WHERE id = ?1";
	const char *tj = NULL;
	sqlite3_stmt *st;
	int rc;

	if (name != NULL && (*name == '\0' || strlen(name) > TENANT_NAME_MAX)) {
		*why = "name must be 1 to 100 characters";
		return 400;
	}
	if (types != NULL && !types_json(a, types, ntypes, &tj, why))
		return 400;
	if (!uuid_valid(id))
		return 404;
	if ((st = db_prep(db, sql)) == NULL)
		return 500;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (name != NULL)
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, quota);
	if (tj != NULL)
		sqlite3_bind_text(st, 4, tj, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, now_unix_ms());
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT_UNIQUE) {
		*why = "a tenant with that name already exists";
		return 409;
	}
	if (rc != SQLITE_DONE)
		return 500;
	if (sqlite3_changes(db_handle(db)) == 0)
		return 404;
	return tenant_load(db, a, id, out);
}

/* ---- workspaces ------------------------------------------------------ */

static int
slug_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > WORKSPACE_SLUG_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '-'))
			return 0;
	return 1;
}

static void
row_workspace(struct arena *a, sqlite3_stmt *st, struct workspace *w)
{
	strlcpy_cb(w->id, (const char *)sqlite3_column_text(st, 0), sizeof w->id);
	w->name = col_text(a, st, 1);
	w->slug = col_text(a, st, 2);
	w->quota_bytes = sqlite3_column_type(st, 3) == SQLITE_NULL ? -1 :
	    sqlite3_column_int64(st, 3);
	w->used_bytes = sqlite3_column_int64(st, 4);
	w->metadata = col_text(a, st, 5);
	w->created_at = sqlite3_column_int64(st, 6);
	w->updated_at = sqlite3_column_int64(st, 7);
}

#define WS_COLS "id, name, slug, quota_bytes, used_bytes, metadata, created_at, updated_at"

int
workspace_create(struct db *db, struct arena *a, const char *tenant_id,
    const char *name, const char *slug, int64_t quota, const char *metadata,
    struct workspace *out, const char **why)
{
	static const char sql[] =
	    "INSERT INTO workspaces (id, tenant_id, name, slug, quota_bytes,"
	    " metadata, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)";
	sqlite3_stmt *st;
	char id[37];
	int rc;

	if (name == NULL || *name == '\0' || strlen(name) > WORKSPACE_NAME_MAX) {
		*why = "name must be 1 to 255 characters";
		return 400;
	}
	if (slug == NULL || !slug_ok(slug)) {
		*why = "slug must be 1 to 100 lowercase letters, digits and hyphens";
		return 400;
	}
	uuid_new(id);
	if ((st = db_prep(db, sql)) == NULL)
		return 500;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tenant_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, slug, -1, SQLITE_STATIC);
	if (quota >= 0)
		sqlite3_bind_int64(st, 5, quota);
	if (metadata)
		sqlite3_bind_text(st, 6, metadata, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, now_unix_ms());
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT_UNIQUE) {
		*why = "a workspace with that slug already exists";
		return 409;
	}
	if (rc != SQLITE_DONE) {
		log_err("workspace: insert: %s", db_errmsg(db));
		return 500;
	}
	return workspace_get(db, a, tenant_id, id, out);
}

int
workspace_get(struct db *db, struct arena *a, const char *tenant_id,
    const char *id, struct workspace *out)
{
	static const char sql[] =
	    "SELECT " WS_COLS " FROM workspaces WHERE id = ?1 AND tenant_id = ?2";
	sqlite3_stmt *st;
	int rc;

	if (!uuid_valid(id))
		return 404;
	if ((st = db_prep(db, sql)) == NULL)
		return 500;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tenant_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		row_workspace(a, st, out);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 404 : 500;
}

int
workspace_each(struct db *db, struct arena *a, const char *tenant_id,
    int (*fn)(void *arg, const struct workspace *w), void *arg)
{
	static const char sql[] =
	    "SELECT " WS_COLS " FROM workspaces WHERE tenant_id = ?1"
	    " ORDER BY created_at, id LIMIT 10000";
	sqlite3_stmt *st = db_prep(db, sql);
	int rc;

	if (st == NULL)
		return 500;
	sqlite3_bind_text(st, 1, tenant_id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct workspace w;
		row_workspace(a, st, &w);
		if (fn(arg, &w) != 0)
			break;
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : 500;
}

int
workspace_update(struct db *db, struct arena *a, const char *tenant_id,
    const char *id, const char *name, int set_quota, int64_t quota,
    int set_metadata, const char *metadata, struct workspace *out,
    const char **why)
{
	static const char sql[] =
	    "UPDATE workspaces SET name = coalesce(?3, name),"
	    " quota_bytes = CASE WHEN ?4 THEN ?5 ELSE quota_bytes END,"
	    " metadata = CASE WHEN ?6 THEN ?7 ELSE metadata END,"
	    " updated_at = ?8 WHERE id = ?1 AND tenant_id = ?2";
	sqlite3_stmt *st;
	int rc;

	if (name != NULL && (*name == '\0' || strlen(name) > WORKSPACE_NAME_MAX)) {
		*why = "name must be 1 to 255 characters";
		return 400;
	}
	if (!uuid_valid(id))
		return 404;
	if ((st = db_prep(db, sql)) == NULL)
		return 500;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tenant_id, -1, SQLITE_STATIC);
	if (name)
		sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, set_quota);
	if (set_quota && quota >= 0)
		sqlite3_bind_int64(st, 5, quota);
	sqlite3_bind_int(st, 6, set_metadata);
	if (set_metadata && metadata)
		sqlite3_bind_text(st, 7, metadata, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, now_unix_ms());
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return 500;
	if (sqlite3_changes(db_handle(db)) == 0)
		return 404;
	return workspace_get(db, a, tenant_id, id, out);
}

int
workspace_delete(struct db *db, const char *tenant_id, const char *id)
{
	/* Bytes held by the workspace's live files go back to the tenant. */
	static const char release[] =
	    "UPDATE tenants SET used_bytes = max(0, used_bytes - (SELECT"
	    " coalesce(sum(reserved_bytes), 0) FROM objects WHERE workspace_id = ?1"
	    " AND tenant_id = ?2 AND deleted_at IS NULL)) WHERE id = ?2";
	static const char recount[] =
	    "UPDATE tenants SET file_count = max(0, file_count - (SELECT count(*)"
	    " FROM objects WHERE workspace_id = ?1 AND tenant_id = ?2"
	    " AND deleted_at IS NULL AND state = 'completed')) WHERE id = ?2";
	static const char soft[] =
	    "UPDATE objects SET deleted_at = ?3, reserved_bytes = 0"
	    " WHERE workspace_id = ?1 AND tenant_id = ?2 AND deleted_at IS NULL";
	static const char del[] =
	    "DELETE FROM workspaces WHERE id = ?1 AND tenant_id = ?2";
	const char *steps[4] = { release, recount, soft, del };
	int rc;

	if (!uuid_valid(id))
		return 404;
	if (db_begin(db) != 0)
		return 500;
	for (int i = 0; i < 4; i++) {
		sqlite3_stmt *st = db_prep(db, steps[i]);
		if (st == NULL)
			goto fail;
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, tenant_id, -1, SQLITE_STATIC);
		if (steps[i] == soft)
			sqlite3_bind_int64(st, 3, now_unix_ms());
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			goto fail;
	}
	if (sqlite3_changes(db_handle(db)) == 0) {
		db_rollback(db);
		return 404;
	}
	return db_commit(db) == 0 ? 0 : 500;
fail:
	log_err("workspace: delete: %s", db_errmsg(db));
	db_rollback(db);
	return 500;
}

int
tenant_account(struct db *db, struct arena *a, const char *tenant_id,
    struct account *out)
{
	static const char sql[] =
	    "SELECT display_name, email, plan, status, file_count, stored_bytes"
	    " FROM tenants WHERE id = ?1";
	sqlite3_stmt *st;
	int rc;

	if ((st = db_prep(db, sql)) == NULL)
		return 500;
	sqlite3_bind_text(st, 1, tenant_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->display_name = col_text(a, st, 0);
		out->email = col_text(a, st, 1);
		out->plan = col_text(a, st, 2);
		out->status = col_text(a, st, 3);
		out->file_count = sqlite3_column_int64(st, 4);
		out->stored_bytes = sqlite3_column_int64(st, 5);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 404 : 500;
}

int
tenant_account_update(struct db *db, const char *tenant_id,
    const char *display_name, const char *email)
{
	static const char sql[] =
	    "UPDATE tenants SET display_name = coalesce(?2, display_name),"
	    " email = coalesce(?3, email) WHERE id = ?1";
	sqlite3_stmt *st;
	int rc;

	if ((st = db_prep(db, sql)) == NULL)
		return 500;
	sqlite3_bind_text(st, 1, tenant_id, -1, SQLITE_STATIC);
	if (display_name)
		sqlite3_bind_text(st, 2, display_name, -1, SQLITE_STATIC);
	if (email)
		sqlite3_bind_text(st, 3, email, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return 500;
	return sqlite3_changes(db_handle(db)) ? 0 : 404;
}
