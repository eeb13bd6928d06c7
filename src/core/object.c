/* object.c - stored objects, presigned uploads and quotas.
 * Reserving bytes is a conditional UPDATE inside BEGIN IMMEDIATE, so two
 * uploads racing for the last bytes of a quota cannot both win. Every query
 * names the tenant. A blob is written before its row says "completed". */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cubby/arena.h"
#include "cubby/blob.h"
#include "cubby/config.h"
#include "cubby/crypto.h"
#include "cubby/db.h"
#include "cubby/log.h"
#include "cubby/media.h"
#include "cubby/asset.h"
#include "cubby/object.h"
#include "cubby/place.h"
#include "cubby/s3.h"
#include "cubby/tenant.h"
#include "cubby/util.h"
#include "cubby/uuid.h"
#include "cubby/webhook.h"
#include "cubby/xmalloc.h"
#include "core/object_int.h"

#define UPLOAD_LABEL   "cubby/upload-url/v1"
#define DOWNLOAD_LABEL "cubby/download-url/v1"

/* ---- signatures ------------------------------------------------------ */

static void
sign(const unsigned char master[CB_KEYLEN], const char *label, const char *msg,
    char hex[65])
{
	unsigned char sub[CB_KEYLEN], mac[32];

	masterkey_derive(master, label, sub);
	hmac_sha256(sub, sizeof sub, msg, strlen(msg), mac);
	hex_encode(hex, mac, sizeof mac);
	memset(sub, 0, sizeof sub);
}

void
upload_url_sign(const unsigned char master[CB_KEYLEN], const char *tenant_id,
    const char *id, int64_t expires_ms, char hex[65])
{
	char msg[128];

	snprintf(msg, sizeof msg, "PUT\n%s\n%s\n%lld", tenant_id, id, (long long)expires_ms);
	sign(master, UPLOAD_LABEL, msg, hex);
}

void
download_token(const unsigned char master[CB_KEYLEN], const char *id,
    const char *variant, int64_t expires_ms, char hex[65])
{
	char msg[128];

	/* The original is signed as it always was; a variant by name. */
	if (variant != NULL)
		snprintf(msg, sizeof msg, "GET\n%s/%s\n%lld", id, variant, (long long)expires_ms);
	else
		snprintf(msg, sizeof msg, "GET\n%s\n%lld", id, (long long)expires_ms);
	sign(master, DOWNLOAD_LABEL, msg, hex);
}

int
object_variant_valid(const char *variant)
{
	return variant != NULL && (strcmp(variant, "thumb") == 0 ||
	    strcmp(variant, "preview") == 0);
}

int
object_variant(const struct object *o, const char *variant, const char **key,
    const char **content_type)
{
	struct json_object *m, *t;
	const char *field;

	if (variant == NULL) {
		*key = o->blob_key;
		*content_type = o->content_type;
		return o->blob_key ? 0 : -1;
	}
	*key = strcmp(variant, "thumb") == 0 ? o->thumb_key :
	    strcmp(variant, "preview") == 0 ? o->preview_key : NULL;
	if (*key == NULL)
		return -1;
	/* The processor writes WebP or JPEG and says which. */
	field = strcmp(variant, "thumb") == 0 ? "thumb_type" : "preview_type";
	*content_type = "image/jpeg";
	if (o->media && (m = json_tokener_parse(o->media)) != NULL) {
		if (json_object_object_get_ex(m, field, &t) &&
		    strcmp(json_object_get_string(t), "image/webp") == 0)
			*content_type = "image/webp";
		json_object_put(m);
	}
	return 0;
}

struct json_object *
object_media_json(const struct object *o, int camel)
{
	static const char *const names[][2] = {
		{ "width", "width" }, { "height", "height" },
		{ "duration_ms", "durationMs" }, { "codec", "codec" },
		{ "format", "format" }, { "captured_at", "capturedAt" },
	};
	struct json_object *m, *out, *v;

	if (o->media == NULL || (m = json_tokener_parse(o->media)) == NULL)
		return NULL;
	out = json_object_new_object();
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (json_object_object_get_ex(m, names[i][0], &v))
			json_object_object_add(out, names[i][camel ? 1 : 0], json_object_get(v));
	json_object_put(m);
	return out;
}

const char *
object_file_status(const struct object *o)
{
	/* The file API knows pending, completed and failed. */
	return strcmp(o->processing_status, "skipped") == 0 ? "completed" : o->processing_status;
}

static int
signature_ok(const char *given, const char expected[65])
{
	return given != NULL && strlen(given) == 64 && ct_equal(given, expected, 64);
}

int
upload_url_verify(const unsigned char master[CB_KEYLEN], const char *tenant_id,
    const char *id, const char *expires, const char *sig, const char **code)
{
	long long exp;
	char expect[65];

	*code = "invalid_signature";
	if (expires == NULL || parse_ll(expires, 0, INT64_MAX, &exp) != 0 ||
	    !uuid_valid(tenant_id) || !uuid_valid(id))
		return 403;
	upload_url_sign(master, tenant_id, id, exp, expect);
	if (!signature_ok(sig, expect))
		return 403;
	if (exp <= now_unix_ms()) {
		*code = "upload_expired";
		return 403;
	}
	return 0;
}

int
download_url_verify(const unsigned char master[CB_KEYLEN], const char *id,
    const char *variant, const char *expires, const char *token, const char **why)
{
	long long exp;
	char expect[65];

	*why = "invalid signed URL";
	if (token == NULL || expires == NULL || !uuid_valid(id) ||
	    parse_ll(expires, 0, INT64_MAX, &exp) != 0)
		return 401;
	if (variant != NULL && object_variant_valid(variant) != 1)
		return 401;
	download_token(master, id, variant, exp, expect);
	if (!signature_ok(token, expect))
		return 401;
	/* expires=0 is a permanent URL (GET /api/v1/files/{id}/permanent-url
	 * signs exactly that); it dies with the file. */
	if (exp != 0 && exp <= now_unix_ms()) {
		*why = "the signed URL has expired";
		return 401;
	}
	return 0;
}

/* ---- quota and counts -------------------------------------------------- */

/* Inside a transaction: run t_sql (?1 tenant, ?2 n) and, when ws is set,
 * w_sql (?1 workspace, ?2 tenant, ?3 n). With must_change, a statement
 * that changes no row (a condition failed) answers 403. 0, 403 or 500. */
static int
tenant_and_workspace(struct db *db, const char *t_sql, const char *w_sql,
    const char *tenant_id, const char *ws, int64_t n, int must_change)
{
	for (int step = 0; step < (ws ? 2 : 1); step++) {
		sqlite3_stmt *st = db_prep(db, step ? w_sql : t_sql);
		int rc;

		if (st == NULL)
			return 500;
		if (step) {
			sqlite3_bind_text(st, 1, ws, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, tenant_id, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 3, n);
		} else {
			sqlite3_bind_text(st, 1, tenant_id, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 2, n);
		}
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return 500;
		if (must_change && sqlite3_changes(db_handle(db)) == 0)
			return 403;
	}
	return 0;
}

/* Take n bytes from the tenant's quota and the workspace's (if any):
 * 403 when either would pass its quota. */
int
quota_reserve(struct db *db, const char *tenant_id, const char *ws, int64_t n)
{
	static const char t_sql[] =
	    "UPDATE tenants SET used_bytes = used_bytes + ?2"
	    " WHERE id = ?1 AND used_bytes + ?2 <= quota_bytes";
	static const char w_sql[] =
	    "UPDATE workspaces SET used_bytes = used_bytes + ?3"
	    " WHERE id = ?1 AND tenant_id = ?2"
	    " AND (quota_bytes IS NULL OR used_bytes + ?3 <= quota_bytes)";

	return tenant_and_workspace(db, t_sql, w_sql, tenant_id, ws, n, 1);
}

/* Give n bytes back at both levels. */
int
quota_release(struct db *db, const char *tenant_id, const char *ws, int64_t n)
{
	static const char t_sql[] =
	    "UPDATE tenants SET used_bytes = max(0, used_bytes - ?2) WHERE id = ?1";
	static const char w_sql[] =
	    "UPDATE workspaces SET used_bytes = max(0, used_bytes - ?3)"
	    " WHERE id = ?1 AND tenant_id = ?2";

	return n <= 0 ? 0 : tenant_and_workspace(db, t_sql, w_sql, tenant_id, ws, n, 0);
}

/* Add delta to the live file counts at both levels, and bytes to the
 * tenant's stored total. */
int
object_counts(struct db *db, const char *tenant_id, const char *ws,
    int64_t delta, int64_t bytes)
{
	static const char t_sql[] =
	    "UPDATE tenants SET file_count = max(0, file_count + ?2) WHERE id = ?1";
	static const char w_sql[] =
	    "UPDATE workspaces SET file_count = max(0, file_count + ?3)"
	    " WHERE id = ?1 AND tenant_id = ?2";
	static const char b_sql[] =
	    "UPDATE tenants SET stored_bytes = max(0, stored_bytes + ?2) WHERE id = ?1";
	int rc = tenant_and_workspace(db, t_sql, w_sql, tenant_id, ws, delta, 0);

	if (rc == 0 && bytes != 0)
		rc = tenant_and_workspace(db, b_sql, NULL, tenant_id, NULL, bytes, 0);
	return rc;
}

/* ---- rows ------------------------------------------------------------ */

static const char *
text_or_null(struct arena *a, sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? arena_strdup(a, (const char *)t) : NULL;
}

void
object_row(struct arena *a, sqlite3_stmt *st, struct object *o)
{
	memset(o, 0, sizeof *o);
	strlcpy_cb(o->id, (const char *)sqlite3_column_text(st, 0), sizeof o->id);
	strlcpy_cb(o->tenant_id, (const char *)sqlite3_column_text(st, 1), sizeof o->tenant_id);
	o->workspace_id = text_or_null(a, st, 2);
	o->name = text_or_null(a, st, 3);
	o->content_type = text_or_null(a, st, 4);
	o->context = text_or_null(a, st, 5);
	o->tags = text_or_null(a, st, 6);
	o->metadata = text_or_null(a, st, 7);
	o->size_bytes = sqlite3_column_type(st, 8) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 8);
	o->reserved_bytes = sqlite3_column_int64(st, 9);
	if (sqlite3_column_bytes(st, 10) == 32) {
		memcpy(o->sha256, sqlite3_column_blob(st, 10), 32);
		o->has_sha = 1;
	}
	o->state = text_or_null(a, st, 11);
	o->processing_status = text_or_null(a, st, 12);
	o->webhook_url = text_or_null(a, st, 13);
	o->created_at = sqlite3_column_int64(st, 14);
	o->updated_at = sqlite3_column_int64(st, 15);
	o->upload_expires_at = sqlite3_column_int64(st, 16);
	o->deleted_at = sqlite3_column_int64(st, 17);
	o->blob_key = text_or_null(a, st, 18);
	o->kind = text_or_null(a, st, 19);
	o->labels = text_or_null(a, st, 20);
	o->upload_id = text_or_null(a, st, 21);
	o->part_size = sqlite3_column_int64(st, 22);
	o->part_count = sqlite3_column_int64(st, 23);
	o->thumb_key = text_or_null(a, st, 24);
	o->preview_key = text_or_null(a, st, 25);
	o->storage_id = text_or_null(a, st, 26);
	o->media = text_or_null(a, st, 27);
	o->processing_error = text_or_null(a, st, 28);
}

int
object_load(struct db *db, struct arena *a, const char *tenant_id,
    const char *id, int with_deleted, struct object *out)
{
	static const char live[] =
	    "SELECT " OBJ_COLS " FROM objects"
	    " WHERE id = ?1 AND tenant_id = ?2 AND deleted_at IS NULL";
	static const char any[] =
	    "SELECT " OBJ_COLS " FROM objects WHERE id = ?1 AND tenant_id = ?2";
	sqlite3_stmt *st;
	int rc;

	if (!uuid_valid(id))
		return 404;
	if ((st = db_prep(db, with_deleted ? any : live)) == NULL)
		return 500;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tenant_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		object_row(a, st, out);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 404 : 500;
}

static int
load(struct db *db, struct arena *a, const char *tenant_id, const char *id,
    struct object *out)
{
	return object_load(db, a, tenant_id, id, 0, out);
}

int
object_get(struct db *db, struct arena *a, const char *tenant_id,
    const char *id, int completed_only, struct object *out)
{
	int rc = load(db, a, tenant_id, id, out);

	if (rc == 0 && completed_only && strcmp(out->state, "completed") != 0)
		return 404;
	return rc;
}

/* ---- uploads --------------------------------------------------------- */

/* "No special characters": printable, and none of / \ : * ? " < > | */
int
object_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > FILE_NAME_MAX || s[0] == '.' || s[0] == ' ')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || strchr("/\\:*?\"<>|%", c) != NULL)
			return 0;
	}
	return 1;
}

static int
type_allowed(const char *allowed_json, const char *type)
{
	char quoted[128];

	/* allowed_json is the core's own canonical array of known types. */
	snprintf(quoted, sizeof quoted, "\"%s\"", type);
	return strstr(allowed_json, quoted) != NULL;
}

#define FAIL(st, c, w) do { *code = (c); *why = (w); return (st); } while (0)

int
object_insert_pending(struct db *db, const struct object *o, const char **code,
    const char **why)
{
	static const char ins[] =
	    "INSERT INTO objects (id, tenant_id, workspace_id, name, content_type,"
	    " size_bytes, reserved_bytes, context, tags, metadata, state, webhook_url,"
	    " created_at, updated_at, upload_expires_at, kind, labels, upload_id,"
	    " part_size, part_count, blob_key, storage_id)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'pending', ?11, ?12, ?12,"
	    " ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)";
	const char *texts[] = {
		o->id, o->tenant_id, o->workspace_id, o->name, o->content_type, NULL,
		NULL, o->context, o->tags, o->metadata, o->webhook_url, NULL, NULL,
		o->kind, o->labels, o->upload_id,
	};
	sqlite3_stmt *st;
	int rc;

	if (db_begin(db) != 0)
		FAIL(500, "internal_error", "database busy");
	if (o->reserved_bytes > 0 &&
	    (rc = quota_reserve(db, o->tenant_id, o->workspace_id, o->reserved_bytes)) != 0) {
		db_rollback(db);
		if (rc == 403)
			FAIL(403, "quota_exceeded", "the upload would exceed the storage quota");
		FAIL(500, "internal_error", "quota update failed");
	}
	if ((st = db_prep(db, ins)) == NULL)
		goto fail;
	for (int i = 0; i < (int)(sizeof texts / sizeof texts[0]); i++)
		if (texts[i] != NULL)
			sqlite3_bind_text(st, i + 1, texts[i], -1, SQLITE_STATIC);
	if (o->size_bytes >= 0)
		sqlite3_bind_int64(st, 6, o->size_bytes);
	sqlite3_bind_int64(st, 7, o->reserved_bytes);
	sqlite3_bind_int64(st, 12, o->created_at);
	sqlite3_bind_int64(st, 13, o->upload_expires_at);
	if (o->part_count > 0) {
		sqlite3_bind_int64(st, 17, o->part_size);
		sqlite3_bind_int64(st, 18, o->part_count);
	}
	/* Known up front only when the bytes go straight to S3. */
	if (o->blob_key != NULL)
		sqlite3_bind_text(st, 19, o->blob_key, -1, SQLITE_STATIC);
	if (o->storage_id != NULL)
		sqlite3_bind_text(st, 20, o->storage_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE || db_commit(db) != 0)
		goto fail;
	return 0;
fail:
	log_err("object: upload request: %s", db_errmsg(db));
	db_rollback(db);
	FAIL(500, "internal_error", "could not record the upload");
}

int
object_upload_request(struct db *db, struct arena *a, const char *tenant_id,
    const struct upload_request *u, struct object *out, const char **code,
    const char **why)
{
	struct tenant t;
	struct workspace w;
	int64_t now = now_unix_ms();

	if (u->file_type == NULL || !file_type_supported(u->file_type))
		FAIL(400, "invalid_file_type", "fileType must be one of image/jpeg, image/png, "
		    "image/webp, image/gif, image/avif, application/pdf");
	if (u->file_name == NULL || !object_name_ok(u->file_name))
		FAIL(400, "validation_error", "fileName must be 1-255 characters without "
		    "control or special characters (/ \\ : * ? \" < > | %)");
	if (u->size > FILE_MAX_BYTES)
		FAIL(400, "file_too_large", "fileSizeBytes must be at most 104857600");
	if (u->context != NULL && strlen(u->context) > FILE_CONTEXT_MAX)
		FAIL(400, "validation_error", "context must be at most 100 characters");
	if (u->webhook_url != NULL && (strlen(u->webhook_url) > 2048 ||
	    !(has_prefix_ci(u->webhook_url, "http://") || has_prefix_ci(u->webhook_url, "https://"))))
		FAIL(400, "validation_error", "webhookUrl must be an http(s) URL");
	if (tenant_load(db, a, tenant_id, &t) != 0)
		FAIL(500, "internal_error", "tenant lookup failed");
	if (!type_allowed(t.allowed_types, u->file_type))
		FAIL(400, "invalid_file_type", "this tenant does not accept that fileType");
	if (u->workspace_id != NULL &&
	    workspace_get(db, a, tenant_id, u->workspace_id, &w) != 0)
		FAIL(404, "not_found", "Workspace not found");

	memset(out, 0, sizeof *out);
	uuid_new(out->id);
	strlcpy_cb(out->tenant_id, tenant_id, sizeof out->tenant_id);
	out->workspace_id = u->workspace_id;
	out->name = u->file_name;
	out->content_type = u->file_type;
	out->context = u->context;
	out->tags = u->tags;
	out->size_bytes = u->size;
	out->reserved_bytes = u->size > 0 ? u->size : 0;
	out->state = "pending";
	out->processing_status = "pending";
	out->webhook_url = u->webhook_url;
	out->created_at = out->updated_at = now;
	out->upload_expires_at = now + UPLOAD_URL_TTL_MS;
	out->kind = strcmp(u->file_type, "application/pdf") == 0 ? "file" : "image";
	if (u->direct) {
		out->blob_key = object_new_blob_key(a, out->id);
		out->storage_id = u->storage_id;
	}
	return object_insert_pending(db, out, code, why);
}

int
object_upload_begin(struct db *db, struct arena *a, const char *tenant_id,
    const char *id, const char *content_type, int64_t length,
    struct object *out, int64_t *reserved_now, const char **code,
    const char **why)
{
	static const char set_reserved[] =
	    "UPDATE objects SET reserved_bytes = ?3 WHERE id = ?1 AND tenant_id = ?2"
	    " AND state = 'pending'";
	sqlite3_stmt *st;
	int rc;

	*reserved_now = 0;
	if (db_begin(db) != 0)
		FAIL(500, "internal_error", "database busy");
	rc = load(db, a, tenant_id, id, out);
	if (rc != 0) {
		db_rollback(db);
		FAIL(rc, rc == 404 ? "file_not_found" : "internal_error", "no such upload");
	}
	if (strcmp(out->state, "failed") == 0) {
		db_rollback(db);
		FAIL(403, "upload_expired", "the upload expired before its bytes arrived");
	}
	if (strcmp(out->state, "pending") != 0) {
		db_rollback(db);
		FAIL(409, "upload_already_completed", "this upload URL was already used");
	}
	if (out->upload_expires_at <= now_unix_ms()) {
		db_rollback(db);
		FAIL(403, "upload_expired", "the upload URL has expired");
	}
	if (content_type == NULL || strcmp(content_type, out->content_type) != 0) {
		db_rollback(db);
		FAIL(400, "invalid_file_type", "Content-Type must be the fileType of the request");
	}
	if (length < 0) {
		db_rollback(db);
		FAIL(411, "validation_error", "Content-Length is required");
	}
	if (length > FILE_MAX_BYTES) {
		db_rollback(db);
		FAIL(413, "file_too_large", "files are at most 104857600 bytes");
	}
	if (out->size_bytes >= 0 && length != out->size_bytes) {
		db_rollback(db);
		FAIL(400, "validation_error", "the body length differs from fileSizeBytes");
	}
	if (out->reserved_bytes == 0 && length > 0) {
		rc = quota_reserve(db, tenant_id, out->workspace_id, length);
		if (rc == 0 && (st = db_prep(db, set_reserved)) != NULL) {
			sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, tenant_id, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 3, length);
			rc = sqlite3_step(st) == SQLITE_DONE ? 0 : 500;
			sqlite3_reset(st);
		}
		if (rc != 0) {
			db_rollback(db);
			if (rc == 403)
				FAIL(403, "quota_exceeded", "the upload would exceed the storage quota");
			FAIL(500, "internal_error", "quota update failed");
		}
		*reserved_now = length;
		out->reserved_bytes = length;
	}
	if (db_commit(db) != 0) {
		db_rollback(db);
		*reserved_now = 0;
		FAIL(500, "internal_error", "database busy");
	}
	return 0;
}

/* In a transaction: the pending object, its reservation made exactly
 * size (403 past a quota, 409 when no longer pending). */
static int
finish_reserve(struct db *db, struct arena *a, const char *tenant_id, const char *id,
    int64_t size, struct object *o)
{
	int rc = load(db, a, tenant_id, id, o);

	if (rc == 0 && strcmp(o->state, "pending") != 0)
		rc = 409;   /* another attempt with the same URL won */
	/* A completed object holds exactly its size against the quotas,
	 * whatever other attempts reserved or released meanwhile. */
	if (rc == 0 && o->reserved_bytes < size)
		rc = quota_reserve(db, tenant_id, o->workspace_id, size - o->reserved_bytes);
	if (rc == 0 && o->reserved_bytes > size)
		rc = quota_release(db, tenant_id, o->workspace_id, o->reserved_bytes - size);
	return rc;
}

int
object_upload_fits(struct db *db, const char *tenant_id, const char *id, int64_t size)
{
	struct arena a;
	struct object o;
	int rc = 500;

	arena_init(&a, 1024);
	if (db_begin(db) == 0) {
		rc = finish_reserve(db, &a, tenant_id, id, size, &o);
		db_rollback(db);
	}
	arena_free(&a);
	return rc;
}

int
object_upload_finish(struct db *db, const char *tenant_id, const char *id,
    int64_t size, const unsigned char sha[32], const char *blob_key, const char *kind)
{
	static const char sql[] =
	    "UPDATE objects SET state = 'completed', processing_status = 'completed',"
	    " size_bytes = ?3, reserved_bytes = ?3, sha256 = ?4, blob_key = ?5,"
	    " updated_at = ?6, upload_expires_at = NULL, kind = coalesce(?7, kind)"
	    " WHERE id = ?1 AND tenant_id = ?2 AND state = 'pending' AND deleted_at IS NULL";
	int media = media_kind(kind);
	struct arena a;
	struct object o;
	sqlite3_stmt *st;
	int rc;

	arena_init(&a, 1024);
	if (db_begin(db) != 0) {
		arena_free(&a);
		return 500;
	}
	rc = finish_reserve(db, &a, tenant_id, id, size, &o);
	if (rc == 0) {
		rc = 500;
		if ((st = db_prep(db, sql)) != NULL) {
			sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, tenant_id, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 3, size);
			if (sha != NULL)
				sqlite3_bind_blob(st, 4, sha, 32, SQLITE_STATIC);
			sqlite3_bind_text(st, 5, blob_key, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 6, now_unix_ms());
			if (kind)
				sqlite3_bind_text(st, 7, kind, -1, SQLITE_STATIC);
			/* The webhook is queued in the same transaction: a
			 * completed upload never loses its event. Media is
			 * processed first; processing sends it. An asset's
			 * bytes (upload_id set until its complete call) are
			 * queued for processing by that call, once. */
			if (sqlite3_step(st) == SQLITE_DONE &&
			    object_counts(db, tenant_id, o.workspace_id, 1, size) == 0 &&
			    (media && o.upload_id == NULL ?
			    media_enqueue(db, tenant_id, id, o.webhook_url != NULL) == 0 :
			    o.webhook_url == NULL ||
			    webhook_enqueue(db, "file.uploaded", tenant_id, id) == 0) &&
			    db_commit(db) == 0)
				rc = 0;
			sqlite3_reset(st);
		}
	}
	if (rc != 0)
		db_rollback(db);
	arena_free(&a);
	return rc;
}

int
object_upload_release(struct db *db, const char *tenant_id, const char *id,
    int64_t bytes)
{
	static const char sql[] =
	    "UPDATE objects SET reserved_bytes = max(0, reserved_bytes - ?3)"
	    " WHERE id = ?1 AND tenant_id = ?2 AND state = 'pending'";
	struct arena a;
	struct object o;
	sqlite3_stmt *st;
	int rc = 500;

	if (bytes <= 0)
		return 0;
	arena_init(&a, 1024);
	if (db_begin(db) != 0)
		goto out;
	if (load(db, &a, tenant_id, id, &o) != 0 || strcmp(o.state, "pending") != 0) {
		db_rollback(db);
		rc = 0;
		goto out;
	}
	if ((st = db_prep(db, sql)) == NULL)
		goto fail;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tenant_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, bytes);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE || quota_release(db, tenant_id, o.workspace_id, bytes) != 0 ||
	    db_commit(db) != 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	db_rollback(db);
	rc = 500;
out:
	arena_free(&a);
	return rc;
}

int
object_delete(struct db *db, const char *tenant_id, const char *id)
{
	static const char sql[] =
	    "UPDATE objects SET deleted_at = ?3, reserved_bytes = 0"
	    " WHERE id = ?1 AND tenant_id = ?2 AND deleted_at IS NULL";
	struct arena a;
	struct object o;
	sqlite3_stmt *st;
	int rc;

	arena_init(&a, 1024);
	if (db_begin(db) != 0) {
		arena_free(&a);
		return 500;
	}
	rc = load(db, &a, tenant_id, id, &o);
	if (rc == 0 && strcmp(o.state, "completed") != 0)
		rc = 404;
	if (rc != 0)
		goto done;
	rc = 500;
	if ((st = db_prep(db, sql)) == NULL)
		goto done;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tenant_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now_unix_ms());
	if (sqlite3_step(st) == SQLITE_DONE &&
	    quota_release(db, tenant_id, o.workspace_id, o.reserved_bytes) == 0 &&
	    object_counts(db, tenant_id, o.workspace_id, -1, -o.size_bytes) == 0 &&
	    db_commit(db) == 0)
		rc = 0;
	sqlite3_reset(st);
done:
	if (rc != 0)
		db_rollback(db);
	arena_free(&a);
	return rc;
}

int
object_list(struct db *db, struct arena *a, const char *tenant_id,
    const struct object_filter *f, int64_t *total,
    int (*fn)(void *arg, const struct object *o), void *arg)
{
	/* Pages walk the objects_live index newest first; a cursor is a row
	 * value, so a deep page seeks instead of scanning. */
	static const char first[] =
	    "SELECT " OBJ_COLS " FROM objects"
	    " WHERE tenant_id = ?1 AND deleted_at IS NULL AND state = 'completed'"
	    " AND (?2 IS NULL OR context = ?2) AND (?3 IS NULL OR content_type = ?3)"
	    " AND (?4 IS NULL OR workspace_id = ?4)"
	    " ORDER BY created_at DESC, id DESC LIMIT ?7";
	static const char next[] =
	    "SELECT " OBJ_COLS " FROM objects"
	    " WHERE tenant_id = ?1 AND deleted_at IS NULL AND state = 'completed'"
	    " AND (?2 IS NULL OR context = ?2) AND (?3 IS NULL OR content_type = ?3)"
	    " AND (?4 IS NULL OR workspace_id = ?4) AND (created_at, id) < (?5, ?6)"
	    " ORDER BY created_at DESC, id DESC LIMIT ?7";
	/* Totals: the kept counts; only context and type filters count rows. */
	static const char t_count[] = "SELECT file_count FROM tenants WHERE id = ?1";
	static const char w_count[] =
	    "SELECT file_count FROM workspaces WHERE id = ?4 AND tenant_id = ?1";
	static const char f_count[] =
	    "SELECT count(*) FROM objects"
	    " WHERE tenant_id = ?1 AND deleted_at IS NULL AND state = 'completed'"
	    " AND (?2 IS NULL OR context = ?2) AND (?3 IS NULL OR content_type = ?3)"
	    " AND (?4 IS NULL OR workspace_id = ?4)";
	const char *sqls[2];
	int rc = 0;

	sqls[0] = f->context || f->file_type ? f_count : f->workspace_id ? w_count : t_count;
	sqls[1] = f->has_cursor ? next : first;
	*total = 0;
	for (int q = 0; q < 2 && rc == 0; q++) {
		sqlite3_stmt *st = db_prep(db, sqls[q]);
		if (st == NULL)
			return 500;
		/* Every statement names its parameters; unused ones stay NULL. */
		for (int k = 1; k <= sqlite3_bind_parameter_count(st); k++) {
			const char *name = sqlite3_bind_parameter_name(st, k);
			int n = name ? (int)strtol(name + 1, NULL, 10) : k;
			switch (n) {
			case 1: sqlite3_bind_text(st, k, tenant_id, -1, SQLITE_STATIC); break;
			case 2: if (f->context) sqlite3_bind_text(st, k, f->context, -1, SQLITE_STATIC); break;
			case 3: if (f->file_type) sqlite3_bind_text(st, k, f->file_type, -1, SQLITE_STATIC); break;
			case 4: if (f->workspace_id) sqlite3_bind_text(st, k, f->workspace_id, -1, SQLITE_STATIC); break;
			case 5: sqlite3_bind_int64(st, k, f->cursor_created); break;
			case 6: if (f->cursor_id) sqlite3_bind_text(st, k, f->cursor_id, -1, SQLITE_STATIC); break;
			case 7: sqlite3_bind_int64(st, k, f->limit); break;
			}
		}
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			if (q == 0) {
				*total = sqlite3_column_int64(st, 0);
				continue;
			}
			struct object o;
			object_row(a, st, &o);
			if (fn(arg, &o) != 0)
				break;
		}
		sqlite3_reset(st);
		rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : 500;
	}
	return rc;
}

int
object_expire_uploads(struct db *db, int limit)
{
	static const char pick[] =
	    "SELECT id, tenant_id, workspace_id, reserved_bytes, webhook_url IS NOT NULL"
	    " FROM objects WHERE state = 'pending' AND upload_expires_at <= ?1 LIMIT ?2";
	static const char fail_sql[] =
	    "UPDATE objects SET state = 'failed', processing_status = 'failed',"
	    " reserved_bytes = 0, updated_at = ?2 WHERE id = ?1 AND state = 'pending'";
	struct arena a;
	sqlite3_stmt *st;
	int n = 0, rc;

	arena_init(&a, 4096);
	if (db_begin(db) != 0) {
		arena_free(&a);
		return -1;
	}
	if ((st = db_prep(db, pick)) == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, now_unix_ms());
	sqlite3_bind_int(st, 2, limit);
	struct expired { const char *id, *tenant, *ws; int64_t bytes; int hook; } *list =
	    arena_alloc(&a, (size_t)limit * sizeof *list);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < limit) {
		list[n].id = text_or_null(&a, st, 0);
		list[n].tenant = text_or_null(&a, st, 1);
		list[n].ws = text_or_null(&a, st, 2);
		list[n].bytes = sqlite3_column_int64(st, 3);
		list[n].hook = sqlite3_column_int(st, 4);
		n++;
	}
	sqlite3_reset(st);
	for (int i = 0; i < n; i++) {
		if ((st = db_prep(db, fail_sql)) == NULL)
			goto fail;
		sqlite3_bind_text(st, 1, list[i].id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, now_unix_ms());
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE || quota_release(db, list[i].tenant, list[i].ws, list[i].bytes) != 0 ||
		    (list[i].hook && webhook_enqueue(db, "file.failed", list[i].tenant, list[i].id) != 0))
			goto fail;
	}
	if (db_commit(db) != 0)
		goto fail;
	arena_free(&a);
	return n;
fail:
	log_err("object: expiring uploads: %s", db_errmsg(db));
	db_rollback(db);
	arena_free(&a);
	return -1;
}

char *
object_new_blob_key(struct arena *a, const char *id)
{
	unsigned char rnd[8];
	char hex[17];

	crypto_random(rnd, sizeof rnd);
	hex_encode(hex, rnd, sizeof rnd);
	return arena_printf(a, "%s-%s", id, hex);
}

int
object_direct_check(struct db *db, const struct cb_config *cfg,
    const char *tenant_id, const char *id, int *done)
{
	struct s3_result res, cres;
	struct place pl;
	struct arena a;
	struct object o;
	char key[80], name[1100];
	int rc, hrc, moved;

	*done = 0;
	arena_init(&a, 2048);
	if ((rc = object_load(db, &a, tenant_id, id, 0, &o)) != 0)
		goto out;
	if (strcmp(o.state, "completed") == 0) {
		*done = 1;
		goto out;
	}
	if (strcmp(o.state, "pending") != 0 || o.part_count > 0 || o.blob_key == NULL ||
	    !object_in_bucket(cfg, &o))
		goto out;
	if (place_of(db, cfg, &a, tenant_id, o.storage_id, o.blob_key, &pl) != 0) {
		rc = 502;
		goto out;
	}
	hrc = s3_head(&pl.t, pl.name, &res);
	if (hrc != 0) {
		if (res.status != 404) {
			log_warn("object: HEAD %s in %s: %s", o.id, pl.t.bucket, res.message);
			rc = res.status == 0 || res.status >= 500 ? 503 : 502;
		}
		goto done;
	}
	/* Not what was declared, or over a quota now: left pending, so the
	 * client can PUT again while the URL lasts (deleting it here could
	 * race that PUT); what is still there at expiry is removed then. */
	if ((o.size_bytes >= 0 && res.length != o.size_bytes) || res.length > FILE_MAX_BYTES)
		goto done;
	/* Over a quota: looked at again next time (it may fit then). */
	if ((rc = object_upload_fits(db, tenant_id, id, res.length)) != 0) {
		*done = rc == 409;
		rc = rc == 403 || rc == 409 ? 0 : rc;
		goto done;
	}
	/* Complete under a name no upload URL names (place_seal); bytes
	 * that changed meanwhile are looked at again next time. */
	if ((moved = place_seal(cfg, &pl, id, o.blob_key, res.etag, key, name, &cres)) < 0) {
		if (cres.status != 404 && cres.status != 412) {
			log_warn("object: copy %s in %s: %s", o.id, pl.t.bucket, cres.message);
			rc = cres.status == 0 || cres.status >= 500 ? 503 : 502;
		}
		goto done;
	}
	rc = object_upload_finish(db, tenant_id, id, res.length, NULL, key,
	    asset_sniff_blob(db, cfg, tenant_id, o.storage_id, key));
	/* The name that is not the object's goes (gc removes what a failed
	 * delete leaves): the upload's once recorded, else the copy. */
	if (moved == 0 && s3_delete(&pl.t, rc == 0 ? pl.name : name, &cres) != 0 &&
	    cres.status != 404)
		log_warn("object: delete %s in %s: %s", rc == 0 ? pl.name : name, pl.t.bucket,
		    cres.message);
	if (rc == 0 || rc == 409) {
		rc = 0;
		*done = 1;
	} else if (rc == 403) {
		rc = 0;
	}
done:
	place_done(&pl);
out:
	arena_free(&a);
	return rc;
}

int
object_direct_poll(struct db *db, const struct cb_config *cfg, int limit)
{
	/* Round the pending uploads from where the last call stopped, so
	 * that more than limit abandoned ones cannot keep a new upload from
	 * being looked at until they expire. */
	static const char pick[] =
	    "SELECT id, tenant_id, upload_expires_at FROM objects WHERE state = 'pending'"
	    " AND part_count IS NULL"
	    " AND blob_key IS NOT NULL AND deleted_at IS NULL AND upload_expires_at > ?1"
	    " AND upload_expires_at >= ?3 AND (upload_expires_at > ?3 OR id > ?4)"
	    " ORDER BY upload_expires_at, id LIMIT ?2";
	static char after[37];
	static int64_t after_exp;
	char (*ids)[2][37];
	sqlite3_stmt *st;
	int n = 0, done = 0, rc, d;

	if ((st = db_prep(db, pick)) == NULL)
		return -1;
	ids = xcalloc((size_t)limit, sizeof *ids);
	sqlite3_bind_int64(st, 1, now_unix_ms());
	sqlite3_bind_int(st, 2, limit);
	sqlite3_bind_int64(st, 3, after_exp);
	sqlite3_bind_text(st, 4, after, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < limit) {
		strlcpy_cb(ids[n][0], (const char *)sqlite3_column_text(st, 0), 37);
		strlcpy_cb(ids[n][1], (const char *)sqlite3_column_text(st, 1), 37);
		if (n == limit - 1)
			after_exp = sqlite3_column_int64(st, 2);
		n++;
	}
	sqlite3_reset(st);
	/* A short round reached the end: the next starts from the top. */
	if (n < limit) {
		after[0] = '\0';
		after_exp = 0;
	} else {
		memcpy(after, ids[n - 1][0], sizeof after);
	}
	for (int i = 0; i < n; i++)
		if (object_direct_check(db, cfg, ids[i][1], ids[i][0], &d) == 0 && d)
			done++;
	free(ids);
	return done;
}

int
object_direct_sweep(struct db *db, const struct cb_config *cfg, int limit)
{
	static const char pick[] =
	    "SELECT id, blob_key, tenant_id, storage_id FROM objects"
	    " WHERE state = 'failed' AND blob_key IS NOT NULL"
	    /* A multipart upload's parts first (asset_sweep_parts finds the
	     * bucket's upload by the blob key, then clears upload_id). */
	    " AND (upload_id IS NULL OR coalesce(part_count, 0) = 0) LIMIT ?1";
	static const char done[] =
	    "UPDATE objects SET blob_key = NULL WHERE id = ?1 AND state = 'failed' AND blob_key = ?2";
	char (*v)[4][80];
	sqlite3_stmt *st;
	int n = 0, rc;

	if ((st = db_prep(db, pick)) == NULL)
		return -1;
	v = xcalloc((size_t)limit, sizeof *v);
	sqlite3_bind_int(st, 1, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < limit) {
		for (int c = 0; c < 4; c++)
			strlcpy_cb(v[n][c], sqlite3_column_type(st, c) == SQLITE_NULL ? "" :
			    (const char *)sqlite3_column_text(st, c), 80);
		n++;
	}
	sqlite3_reset(st);
	for (int i = 0; i < n; i++) {
		/* (In data_dir, a failed upload's blob key names nothing yet.) */
		if (place_remove(db, cfg, v[i][2], *v[i][3] ? v[i][3] : NULL, v[i][1]) != 0 ||
		    (st = db_prep(db, done)) == NULL)
			continue;       /* the store is away: next sweep */
		sqlite3_bind_text(st, 1, v[i][0], -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, v[i][1], -1, SQLITE_STATIC);
		sqlite3_step(st);
		sqlite3_reset(st);
	}
	free(v);
	return n;
}
