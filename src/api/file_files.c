/* file_files.c - the file API's upload and file routes: upload request,
 * the presigned PUT, list, get, soft delete, download (Range, ETag,
 * If-None-Match) and signed download URLs. Parse, one core call, render. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "api/file_api.h"
#include "cubby/api.h"
#include "cubby/buf.h"
#include "cubby/base64.h"
#include "cubby/asset.h"
#include "cubby/blob.h"
#include "cubby/crypto.h"
#include "cubby/log.h"
#include "cubby/place.h"
#include "cubby/sigv4.h"
#include "cubby/server.h"
#include "cubby/tenant.h"
#include "cubby/url.h"
#include "cubby/util.h"
#include "cubby/uuid.h"

static const char *
tenant_of(struct cb_req *r)
{
	return ((const struct principal *)r->principal)->tenant_id;
}

static struct json_object *
json_or_null(const char *text)
{
	return text ? json_tokener_parse(text) : NULL;
}

struct json_object *
file_render(struct cb_req *r, const struct object *o)
{
	struct json_object *j = json_object_new_object();
	char iso[32];

	fmt_iso8601_ms(iso, sizeof iso, o->created_at);
	json_object_object_add(j, "id", json_object_new_string(o->id));
	json_object_object_add(j, "url", json_object_new_string(arena_printf(r->a,
	    "%s/api/v1/files/%s/download", r->ctx->cfg->base_path, o->id)));
	json_object_object_add(j, "originalName", json_object_new_string(o->name));
	json_object_object_add(j, "fileType", json_object_new_string(o->content_type));
	json_object_object_add(j, "sizeBytes", o->size_bytes < 0 ? NULL : json_object_new_int64(o->size_bytes));
	json_object_object_add(j, "context", o->context ? json_object_new_string(o->context) : NULL);
	json_object_object_add(j, "tags", json_or_null(o->tags));
	json_object_object_add(j, "metadata", json_or_null(o->metadata));
	json_object_object_add(j, "processingStatus", json_object_new_string(object_file_status(o)));
	json_object_object_add(j, "workspaceId", o->workspace_id ? json_object_new_string(o->workspace_id) : NULL);
	json_object_object_add(j, "createdAt", json_object_new_string(iso));
	/* Cubby's additions: what processing made of the file. */
	json_object_object_add(j, "processingError", o->processing_error ?
	    json_object_new_string(o->processing_error) : NULL);
	json_object_object_add(j, "media", object_media_json(o, 1));
	json_object_object_add(j, "thumbnailUrl", o->thumb_key ? json_object_new_string(arena_printf(r->a,
	    "%s/api/v1/files/%s/download?variant=thumb", r->ctx->cfg->base_path, o->id)) : NULL);
	json_object_object_add(j, "previewUrl", o->preview_key ? json_object_new_string(arena_printf(r->a,
	    "%s/api/v1/files/%s/download?variant=preview", r->ctx->cfg->base_path, o->id)) : NULL);
	return j;
}

static int
fail(struct cb_req *r, int status, const char *code, const char *why)
{
	return req_fail(r, status, code ? code : http_code_name(status), "%s",
	    why && *why ? why : "failed");
}

/* An optional string field; -1 after req_fail when it is not a string. */
static int
opt_string(struct cb_req *r, struct json_object *o, const char *name,
    const char **out)
{
	struct json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(o, name, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return req_field_error(r, name, "%s must be a string", name);
	*out = json_object_get_string(v);
	return 0;
}

int
file_upload_request(struct cb_req *r)
{
	struct json_object *body, *v, *o, *meta, *types;
	struct upload_request u;
	struct object obj;
	struct tenant t;
	const char *code = NULL, *why = "";
	char sig[65], iso[32];
	int rc;

	if (req_json(r, 65536, &body) != 0)
		return -1;
	if (!json_object_is_type(body, json_type_object))
		return req_fail(r, 400, "validation_error", "body must be a JSON object");
	memset(&u, 0, sizeof u);
	u.size = -1;
	if (opt_string(r, body, "fileType", &u.file_type) || opt_string(r, body, "fileName", &u.file_name) ||
	    opt_string(r, body, "context", &u.context) || opt_string(r, body, "webhookUrl", &u.webhook_url) ||
	    opt_string(r, body, "workspaceId", &u.workspace_id))
		return -1;
	if (u.file_type == NULL)
		req_field_error(r, "fileType", "fileType is required");
	if (u.file_name == NULL)
		req_field_error(r, "fileName", "fileName is required");
	/* Storage Brain's schema: a positive whole number of bytes. */
	if (json_object_object_get_ex(body, "fileSizeBytes", &v) && v != NULL) {
		if (!json_object_is_type(v, json_type_int) || (u.size = json_object_get_int64(v)) <= 0)
			req_field_error(r, "fileSizeBytes", "fileSizeBytes must be a positive whole number of bytes");
	}
	/* A workspaceId that is no UUID is the schema's refusal (400), one
	 * that names no workspace of this tenant a 404. */
	if (u.workspace_id != NULL && !uuid_valid(u.workspace_id))
		req_field_error(r, "workspaceId", "workspaceId must be a UUID");
	if (r->err.status != 0)
		return -1;
	if (json_object_object_get_ex(body, "tags", &v) && v != NULL) {
		if (!json_object_is_type(v, json_type_object))
			return req_field_error(r, "tags", "tags must be an object of strings");
		json_object_object_foreach(v, tk, tv) {
			if (!json_object_is_type(tv, json_type_string))
				return req_field_error(r, arena_printf(r->a, "tags.%s", tk),
				    "tags must be an object of strings");
		}
		u.tags = arena_strdup(r->a, json_object_to_json_string_ext(v,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		if (strlen(u.tags) > 8192)
			return req_field_error(r, "tags", "tags are at most 8 KiB");
	}
	/* Into the tenant's default storage connection, or the server's
	 * bucket: straight there. Otherwise through Cubby to data_dir. */
	{
		char *sid = arena_alloc(r->a, 37);
		int d = place_default(ctx_db(r->ctx), tenant_of(r), sid);
		if (d < 0)
			return req_fail(r, 500, "internal_error", "storage lookup failed");
		u.storage_id = d ? sid : NULL;
		u.direct = d || blob_on_s3(r->ctx->cfg);
	}
	rc = object_upload_request(ctx_db(r->ctx), r->a, tenant_of(r), &u, &obj, &code, &why);
	if (rc != 0)
		return fail(r, rc, code, why);
	if (tenant_load(ctx_db(r->ctx), r->a, tenant_of(r), &t) != 0)
		return req_fail(r, 500, "internal_error", "tenant lookup failed");
	fmt_iso8601_ms(iso, sizeof iso, obj.upload_expires_at);
	o = json_object_new_object();
	json_object_object_add(o, "fileId", json_object_new_string(obj.id));
	if (u.direct) {
		/* Straight to the bucket; the Content-Type is signed. Cubby
		 * sees the file arrive (GET, or the jobs worker's poll). */
		struct buf url;
		buf_init(&url, 8192);
		if (object_presign(ctx_db(r->ctx), r->ctx->cfg, r->a, &obj, "PUT", NULL,
		    obj.content_type, (long)((obj.upload_expires_at - now_unix_ms() + 999) / 1000),
		    &url) != 0) {
			buf_free(&url);
			json_object_put(o);
			return req_fail(r, 502, "storage_unavailable", "could not sign the upload URL");
		}
		json_object_object_add(o, "presignedUrl", json_object_new_string(buf_cstr(&url)));
		buf_free(&url);
	} else {
		upload_url_sign(r->ctx->master, obj.tenant_id, obj.id, obj.upload_expires_at, sig);
		json_object_object_add(o, "presignedUrl", json_object_new_string(arena_printf(r->a,
		    "%s/_internal/upload/tenants/%s/files/%s/%s?expires=%lld&signature=%s",
		    r->ctx->cfg->base_path, obj.tenant_id, obj.id, url_encode(r->a, obj.name),
		    (long long)obj.upload_expires_at, sig)));
	}
	json_object_object_add(o, "expiresAt", json_object_new_string(iso));
	meta = json_object_new_object();
	json_object_object_add(meta, "maxSizeBytes", json_object_new_int64(FILE_MAX_BYTES));
	types = json_tokener_parse(t.allowed_types);
	json_object_object_add(meta, "allowedTypes", types ? types : json_object_new_array());
	json_object_object_add(o, "uploadMetadata", meta);
	return resp_json(r, 200, o);
}

int
file_upload_put(struct cb_req *r)
{
	const char *tid = req_param(r, "tenantId"), *fid = req_param(r, "fileId");
	const char *exp_s = req_query(r, "expires"), *sig = req_query(r, "signature");
	const char *code = NULL, *why = "";
	struct blob_writer w;
	struct object obj;
	unsigned char sha[32], rnd[8];
	char buf[65536], blob_key[64], rhex[17];
	unsigned char head[ASSET_SNIFF_BYTES];
	size_t headn = 0;
	int64_t reserved_now = 0;
	long got;
	int rc;

	if (blob_on_s3(r->ctx->cfg))
		return fail(r, 409, "conflict", "uploads go straight to the object store: "
		    "use the presignedUrl from /api/v1/upload/request");
	/* The signature first: nothing about the object is revealed to a
	 * request that does not carry one. */
	if ((rc = upload_url_verify(r->ctx->master, tid, fid, exp_s, sig, &code)) != 0)
		return req_fail(r, rc, code, strcmp(code, "upload_expired") == 0 ?
		    "the upload URL has expired" : "the upload URL is not valid");

	rc = object_upload_begin(ctx_db(r->ctx), r->a, tid, fid, req_header(r, "Content-Type"),
	    r->content_length, &obj, &reserved_now, &code, &why);
	if (rc != 0)
		return fail(r, rc, code, why);
	/* Each attempt writes its own blob: two PUTs of one URL never share
	 * a file; the one that completes the row names its blob. */
	crypto_random(rnd, sizeof rnd);
	hex_encode(rhex, rnd, sizeof rnd);
	snprintf(blob_key, sizeof blob_key, "%s-%s", obj.id, rhex);
	if (blob_create(r->ctx->cfg, blob_key, &w) != 0) {
		log_err("rid=%s blob create: %s", r->rid, strerror(errno));
		rc = storage_errno_status(r->ctx->cfg, errno);
		why = "storage unavailable";
		goto fail;
	}
	while ((got = req_read(r, buf, sizeof buf)) > 0) {
		/* The first bytes say what it is (for processing). */
		if (headn < sizeof head) {
			size_t take = sizeof head - headn < (size_t)got ? sizeof head - headn : (size_t)got;
			memcpy(head + headn, buf, take);
			headn += take;
		}
		if (blob_write(&w, buf, (size_t)got) != 0) {
			log_err("rid=%s blob write: %s", r->rid, strerror(errno));
			rc = storage_errno_status(r->ctx->cfg, errno);
			why = "storage write failed";
			break;
		}
	}
	if (got < 0 || rc != 0 || w.size != r->content_length) {
		blob_abort(&w);
		if (rc == 0) {
			rc = r->err.status ? r->err.status : 400;
			why = "the body ended early";
		}
		goto fail;
	}
	if (blob_commit(&w, sha) != 0) {
		log_err("rid=%s blob commit: %s", r->rid, strerror(errno));
		rc = storage_errno_status(r->ctx->cfg, errno);
		why = "storage write failed";
		goto fail;
	}
	rc = object_upload_finish(ctx_db(r->ctx), tid, fid, w.size, sha, blob_key,
	    asset_kind_sniff(head, headn));
	if (rc != 0) {
		/* Not recorded (another attempt won, or over quota): this
		 * attempt's blob goes; the winner's stays. */
		blob_remove(r->ctx->cfg, blob_key);
		why = rc == 409 ? "this upload URL was already used" :
		    rc == 403 ? "the upload would exceed the storage quota" : "could not record the upload";
		goto fail;
	}
	if (object_get(ctx_db(r->ctx), r->a, tid, fid, 1, &obj) != 0)
		return req_fail(r, 500, "internal_error", "upload recorded but unreadable");
	{
		/* Storage Brain answers {status, fileId, sizeBytes}; the file
		 * object's own fields come with them. */
		struct json_object *o = file_render(r, &obj);
		json_object_object_add(o, "status", json_object_new_string("completed"));
		json_object_object_add(o, "fileId", json_object_new_string(obj.id));
		return resp_json(r, 200, o);
	}
fail:
	object_upload_release(ctx_db(r->ctx), tid, fid, reserved_now);
	if (r->err.status)
		return -1;
	return fail(r, rc, rc == 409 ? "upload_already_completed" :
	    rc == 403 ? "quota_exceeded" : rc >= 500 ? storage_status_code(rc) : NULL, why);
}

/* ---- files ----------------------------------------------------------- */

struct lister {
	struct cb_req *r;
	struct json_object *arr;
	struct object last;
	int64_t n, limit;
	int more;               /* a row past the page: there is a next one */
};

static int
list_one(void *arg, const struct object *o)
{
	struct lister *l = arg;

	if (l->n == l->limit) {
		l->more = 1;
		return 0;
	}
	json_object_array_add(l->arr, file_render(l->r, o));
	l->last = *o;
	l->n++;
	return 0;
}

/* Cursor: base64 of {"c":<created ms>,"id":"<uuid>"}. -1 after req_fail. */
static int
parse_cursor(struct cb_req *r, const char *s, struct object_filter *f)
{
	size_t n = strlen(s);
	char *dec = arena_alloc(r->a, n + 4);
	struct json_object *o, *c, *id;
	long len = n <= 256 ? base64_decode(dec, s, n) : -1;
	int ok;

	if (len <= 0)
		return req_fail(r, 400, "validation_error", "bad cursor");
	dec[len] = '\0';
	o = json_tokener_parse(dec);
	ok = o && json_object_object_get_ex(o, "c", &c) && json_object_is_type(c, json_type_int) &&
	    json_object_object_get_ex(o, "id", &id) && json_object_is_type(id, json_type_string) &&
	    uuid_valid(json_object_get_string(id));
	if (ok) {
		f->has_cursor = 1;
		f->cursor_created = json_object_get_int64(c);
		f->cursor_id = arena_strdup(r->a, json_object_get_string(id));
	}
	json_object_put(o);
	return ok ? 0 : req_fail(r, 400, "validation_error", "bad cursor");
}

int
file_list(struct cb_req *r)
{
	struct object_filter f;
	struct lister l;
	struct json_object *o;
	const char *s;
	long long limit = 20;
	int64_t total;

	memset(&f, 0, sizeof f);
	if ((s = req_query(r, "limit")) != NULL && parse_ll(s, 1, 100, &limit) != 0)
		return req_field_error(r, "limit", "limit must be 1 to 100");
	if ((s = req_query(r, "workspaceId")) != NULL && !uuid_valid(s))
		return req_field_error(r, "workspaceId", "workspaceId must be a UUID");
	if ((s = req_query(r, "cursor")) != NULL && *s && parse_cursor(r, s, &f) != 0)
		return -1;
	/* One row more than the page: nextCursor only when there is one
	 * (a last page that is exactly full has none). */
	f.limit = limit + 1;
	f.context = req_query(r, "context");
	f.file_type = req_query(r, "fileType");
	f.workspace_id = req_query(r, "workspaceId");
	memset(&l, 0, sizeof l);
	l.r = r;
	l.limit = limit;
	l.arr = json_object_new_array();
	if (object_list(ctx_db(r->ctx), r->a, tenant_of(r), &f, &total, list_one, &l) != 0) {
		json_object_put(l.arr);
		return req_fail(r, 500, "internal_error", "listing failed");
	}
	o = json_object_new_object();
	json_object_object_add(o, "files", l.arr);
	if (l.more) {
		char *cur = arena_printf(r->a, "{\"c\":%lld,\"id\":\"%s\"}",
		    (long long)l.last.created_at, l.last.id);
		char *b64 = arena_alloc(r->a, base64_len(strlen(cur)) + 1);
		base64_encode(b64, cur, strlen(cur));
		json_object_object_add(o, "nextCursor", json_object_new_string(b64));
	} else {
		json_object_object_add(o, "nextCursor", NULL);
	}
	json_object_object_add(o, "total", json_object_new_int64(total));
	return resp_json(r, 200, o);
}

/* A file id in the path that is no UUID: the schema's 400, as Storage
 * Brain's fileIdSchema answers (its path is the id itself: ""). */
static int
file_id_ok(struct cb_req *r)
{
	if (uuid_valid(req_param(r, "fileId")))
		return 1;
	req_field_error(r, "", "Invalid uuid: the file id must be a UUID");
	return 0;
}

static int
load_file(struct cb_req *r, struct object *o)
{
	int rc;

	if (!file_id_ok(r))
		return -1;
	rc = object_get(ctx_db(r->ctx), r->a, tenant_of(r), req_param(r, "fileId"), 1, o);
	int done;

	/* A direct upload (blob_backend = s3) is complete once its bytes
	 * are in the bucket: look now rather than wait for the poll. */
	if (rc == 404 && uuid_valid(req_param(r, "fileId")) &&
	    object_direct_check(ctx_db(r->ctx), r->ctx->cfg, tenant_of(r),
	    req_param(r, "fileId"), &done) == 0 && done)
		rc = object_get(ctx_db(r->ctx), r->a, tenant_of(r), req_param(r, "fileId"), 1, o);

	if (rc == 404)
		return req_fail(r, 404, "file_not_found", "File not found");
	return rc ? req_fail(r, 500, "internal_error", "lookup failed") : 0;
}

int
file_get(struct cb_req *r)
{
	struct object o;

	if (load_file(r, &o) != 0)
		return -1;
	return resp_json(r, 200, file_render(r, &o));
}

int
file_delete(struct cb_req *r)
{
	struct json_object *o;
	int rc;

	if (!file_id_ok(r))
		return -1;
	rc = object_delete(ctx_db(r->ctx), tenant_of(r), req_param(r, "fileId"));
	if (rc == 404)
		return req_fail(r, 404, "file_not_found", "File not found");
	if (rc != 0)
		return req_fail(r, 500, "internal_error", "delete failed");
	/* Its bytes go now (the row stays, as the soft delete's tombstone);
	 * if this fails, the jobs worker's sweep takes them. */
	(void)asset_purge(ctx_db(r->ctx), r->ctx->cfg, tenant_of(r), req_param(r, "fileId"));
	o = json_object_new_object();
	json_object_object_add(o, "success", json_object_new_boolean(1));
	return resp_json(r, 200, o);
}

/* Cubby's own signed URL of a variant (NULL: the original): the download
 * route with token and expires, in the document's form, whatever store
 * holds the bytes (from a bucket the route redirects to a presigned GET of
 * a few minutes). So it needs no Authorization header, is refused when
 * tampered or expired, and stops working the moment the file is deleted.
 * The file API's signed-url hands out these. */
static const char *
own_url(struct cb_req *r, const struct object *o, const char *variant, int64_t exp)
{
	char tok[65];

	download_token(r->ctx->master, o->id, variant, exp, tok);
	if (variant != NULL)
		return arena_printf(r->a, "%s/api/v1/files/%s/download?variant=%s&token=%s&expires=%lld",
		    req_origin(r), o->id, variant, tok, (long long)exp);
	return arena_printf(r->a, "%s/api/v1/files/%s/download?token=%s&expires=%lld",
	    req_origin(r), o->id, tok, (long long)exp);
}

const char *
file_variant_url(struct cb_req *r, const struct object *o, const char *variant,
    int64_t ttl_s, int64_t *expires_ms)
{
	const char *key, *ctype;
	int64_t exp = now_unix_ms() + ttl_s * 1000;

	if (expires_ms)
		*expires_ms = exp;
	/* (A variant that is not there has no URL; the original always has
	 * one: the download route says why when its blob is missing.) */
	if (object_variant(o, variant, &key, &ctype) != 0 && variant != NULL)
		return NULL;
	if (object_in_bucket(r->ctx->cfg, o) && key != NULL) {
		/* Straight from the bucket: the bytes never pass through. */
		struct object v = *o;
		struct buf url;
		const char *u = NULL;
		v.blob_key = key;
		buf_init(&url, 8192);
		if (object_presign(ctx_db(r->ctx), r->ctx->cfg, r->a, &v, "GET", NULL, NULL,
		    (long)ttl_s, &url) == 0)
			u = arena_strdup(r->a, buf_cstr(&url));
		buf_free(&url);
		if (u != NULL)
			return u;
		log_err("files: could not sign a download URL for %s", o->id);
	}
	return own_url(r, o, variant, exp);
}

int
file_permanent_url(struct cb_req *r)
{
	struct json_object *o;
	struct object obj;
	char tok[65];

	if (load_file(r, &obj) != 0)
		return -1;
	/* Storage Brain's permanent URL: signed with expires=0, no expiry;
	 * deleting the file ends it. */
	download_token(r->ctx->master, obj.id, NULL, 0, tok);
	o = json_object_new_object();
	json_object_object_add(o, "fileId", json_object_new_string(obj.id));
	json_object_object_add(o, "url", json_object_new_string(arena_printf(r->a,
	    "%s/api/v1/files/%s/download?token=%s&expires=0", req_origin(r), obj.id, tok)));
	return resp_json(r, 200, o);
}

const char *
file_download_url(struct cb_req *r, const struct object *o, int64_t ttl_s,
    int64_t *expires_ms)
{
	return file_variant_url(r, o, NULL, ttl_s, expires_ms);
}

int
file_signed_url(struct cb_req *r)
{
	const char *s = req_query(r, "expiresIn"), *url, *variant = req_query(r, "variant");
	struct json_object *o;
	struct object obj;
	long long ttl = 3600;
	int64_t expires;
	char iso[32];

	/* Clamped into 60..86400, as Storage Brain does; a value that is no
	 * number at all is still refused. */
	if (s != NULL) {
		if (parse_ll(s, LLONG_MIN, LLONG_MAX, &ttl) != 0)
			return req_field_error(r, "expiresIn", "expiresIn must be a whole number of seconds");
		ttl = ttl < 60 ? 60 : ttl > 86400 ? 86400 : ttl;
	}
	if (variant != NULL && !object_variant_valid(variant))
		return req_field_error(r, "variant", "variant must be thumb or preview");
	if (load_file(r, &obj) != 0)
		return -1;
	{
		const char *key, *ctype;
		if (object_variant(&obj, variant, &key, &ctype) != 0 && variant != NULL)
			return req_fail(r, 404, "file_not_found", "this file has no %s (yet)", variant);
	}
	expires = now_unix_ms() + ttl * 1000;
	url = own_url(r, &obj, variant, expires);
	fmt_iso8601_ms(iso, sizeof iso, expires);
	o = json_object_new_object();
	json_object_object_add(o, "fileId", json_object_new_string(obj.id));
	json_object_object_add(o, "url", json_object_new_string(url));
	json_object_object_add(o, "expiresAt", json_object_new_string(iso));
	json_object_object_add(o, "expiresIn", json_object_new_int64(ttl));
	return resp_json(r, 200, o);
}

/* attachment; filename="..." with every byte a quoted string cannot
 * safely carry (non-ASCII, controls, quote, backslash) as '_', and, when
 * any was, the exact name as RFC 5987's filename*=UTF-8''... too. */
static char *
content_disposition(struct arena *a, const char *name)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(name);
	char *plain = arena_alloc(a, n + 1), *ext = arena_alloc(a, 3 * n + 1), *p = ext;
	int odd = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		int safe = c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
		plain[i] = safe ? (char)c : '_';
		odd |= !safe;
		if (isalnum(c) || strchr("!#$&+-.^_`|~", c) != NULL) {
			*p++ = (char)c;
		} else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	plain[n] = '\0';
	*p = '\0';
	if (!odd)
		return arena_printf(a, "attachment; filename=\"%s\"", plain);
	return arena_printf(a, "attachment; filename=\"%s\"; filename*=UTF-8''%s", plain, ext);
}

/* Tenant bytes are never a page of this origin: no sniffing, and a
 * sandbox that runs no script of theirs (text/html, image/svg+xml). */
static void
untrusted_content(struct cb_req *r)
{
	resp_header(r, "X-Content-Type-Options", "nosniff");
	resp_header(r, "Content-Security-Policy", "sandbox; default-src 'none'");
}

/* The header that hands a download to the web server, or NULL to stream. */
static const char *
offload_mode(struct cb_req *r)
{
	const char *mode = r->ctx->cfg->download_offload;
	const char *sw = req_env(r, "SERVER_SOFTWARE");

	if (r->head_only || strcmp(mode, "off") == 0)
		return NULL;
	if (strcmp(mode, "x-sendfile") == 0)
		return "X-Sendfile";
	if (strcmp(mode, "x-accel-redirect") == 0)
		return "X-Accel-Redirect";
	if (sw != NULL && has_prefix_ci(sw, "nginx"))
		return "X-Accel-Redirect";
	if (sw != NULL && (has_prefix_ci(sw, "lighttpd") || has_prefix_ci(sw, "Apache")))
		return "X-Sendfile";
	return NULL;    /* an unknown front: stream it ourselves */
}

int
file_download(struct cb_req *r)
{
	struct object o;
	char etag[70], *disp, buf[65536];
	const char *inm, *offload, *variant = req_query(r, "variant"), *ctype;
	int64_t size, from = 0, to, left;
	int fd, range, status = 200;

	if (variant != NULL && !object_variant_valid(variant))
		return req_field_error(r, "variant", "variant must be thumb or preview");
	if (load_file(r, &o) != 0)
		return -1;
	/* A thumbnail or preview is served as the original is, from its
	 * own blob (no ETag: the content's hash is the original's). */
	if (object_variant(&o, variant, &o.blob_key, &ctype) != 0 && variant != NULL)
		return req_fail(r, 404, "file_not_found", "this file has no %s (yet)", variant);
	o.content_type = ctype;
	if (variant != NULL)
		o.has_sha = 0;
	/* Said by Cubby, or by the bucket on Cubby's word. Names are plain
	 * (no quotes, slashes or %); still encode for RFC 6266. */
	disp = variant ? (char *)"inline" : content_disposition(r->a, o.name);
	if (object_in_bucket(r->ctx->cfg, &o) && o.blob_key != NULL) {
		/* The bucket serves it (Range, ETag and 304 included): a
		 * short-lived presigned GET (a HEAD for a HEAD), which also
		 * names the headers the bucket answers with. Clients follow
		 * the redirect (curl: -L). */
		struct buf url, q;
		int bad;
		buf_init(&url, 8192);
		buf_init(&q, 4096);
		bad = buf_puts(&q, "response-content-disposition=") != 0 ||
		    sigv4_encode(&q, disp, strlen(disp), 0) != 0 ||
		    (o.content_type != NULL && (buf_puts(&q, "&response-content-type=") != 0 ||
		    sigv4_encode(&q, o.content_type, strlen(o.content_type), 0) != 0)) ||
		    object_presign(ctx_db(r->ctx), r->ctx->cfg, r->a, &o,
		    r->head_only ? "HEAD" : "GET", buf_cstr(&q), NULL, 300, &url) != 0;
		buf_free(&q);
		if (!bad) {
			resp_header(r, "Location", arena_strdup(r->a, buf_cstr(&url)));
			resp_header(r, "Cache-Control", "no-store");
			untrusted_content(r);
		}
		buf_free(&url);
		if (bad)
			return req_fail(r, 502, "storage_unavailable", "the file's store cannot be used");
		return resp_empty(r, 302);
	}
	if (o.blob_key == NULL || blob_open(r->ctx->cfg, o.blob_key, &fd, &size) != 0) {
		log_err("rid=%s file %s: blob missing: %s", r->rid, o.id, strerror(errno));
		return req_fail(r, 404, "file_not_found", "File not in storage");
	}
	/* The ETag is the content's SHA-256; a multipart upload has it once
	 * processing has hashed it (until then: no ETag, no 304). */
	etag[0] = '\0';
	if (o.has_sha) {
		etag[0] = '"';
		hex_encode(etag + 1, o.sha256, 32);
		etag[65] = '"';
		etag[66] = '\0';
		resp_header(r, "ETag", etag);
	}
	resp_header(r, "Accept-Ranges", "bytes");
	resp_header(r, "Cache-Control", "private, max-age=0");
	resp_header(r, "Content-Disposition", disp);
	untrusted_content(r);
	if (o.has_sha && (inm = req_header(r, "If-None-Match")) != NULL &&
	    (strcmp(inm, "*") == 0 || strstr(inm, etag) != NULL)) {
		close(fd);
		return resp_empty(r, 304);
	}
	if ((offload = offload_mode(r)) != NULL) {
		/* Checks done: the web server sends the bytes (and Ranges). */
		char blobfile[4096];
		close(fd);
		if (strcmp(offload, "X-Sendfile") == 0) {
			blob_path(r->ctx->cfg, o.blob_key, blobfile, sizeof blobfile);
			resp_header(r, "X-Sendfile", blobfile);
		} else {
			resp_header(r, "X-Accel-Redirect", arena_printf(r->a, "%s/%.2s/%.2s/%s",
			    r->ctx->cfg->accel_prefix, o.blob_key, o.blob_key + 2, o.blob_key));
		}
		resp_begin(r, 200, o.content_type, -1);
		return 0;
	}
	to = size - 1;
	range = http_range(req_header(r, "Range"), size, &from, &to);
	if (range < 0) {
		close(fd);
		resp_header(r, "Content-Range", arena_printf(r->a, "bytes */%lld", (long long)size));
		return req_fail(r, 416, "range_not_satisfiable", "the range is outside the file");
	}
	if (range > 0) {
		status = 206;
		resp_header(r, "Content-Range", arena_printf(r->a, "bytes %lld-%lld/%lld",
		    (long long)from, (long long)to, (long long)size));
	}
	left = size == 0 ? 0 : to - from + 1;
	resp_begin(r, status, o.content_type, left);
	if (from > 0 && lseek(fd, from, SEEK_SET) != from)
		left = 0;
	while (left > 0 && !r->head_only) {
		ssize_t n = read(fd, buf, left < (int64_t)sizeof buf ? (size_t)left : sizeof buf);
		if (n <= 0 || resp_write(r, buf, (size_t)n) != 0)
			break;
		left -= n;
	}
	close(fd);
	return 0;
}
