/* asset_assets.c - the asset API's /v1/assets routes and the multipart
 * part PUT. Parse, one core call, render in { data, meta? }. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "api/asset_api.h"
#include "api/file_api.h"
#include "cubby/api.h"
#include "cubby/place.h"
#include "cubby/sigv4.h"
#include "cubby/buf.h"
#include "cubby/asset.h"
#include "cubby/base64.h"
#include "cubby/blob.h"
#include "cubby/log.h"
#include "cubby/server.h"
#include "cubby/space.h"
#include "cubby/url.h"
#include "cubby/util.h"
#include "cubby/uuid.h"

static int
fail(struct cb_req *r, int status, const char *code, const char *why)
{
	return req_fail(r, status, code ? code : http_code_name(status), "%s",
	    why && *why ? why : "failed");
}

/* A content type: type/subtype of token characters (parameters allowed). */
static int
content_type_ok(const char *s)
{
	const char *slash = strchr(s, '/');
	size_t n = strlen(s);

	if (n == 0 || n > 127 || slash == NULL || slash == s || slash[1] == '\0')
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

/* attributes: a JSON object of at most 16 KiB, as text; NULL after a field
 * error. */
static const char *
attributes_json(struct cb_req *r, struct json_object *v)
{
	const char *t;

	if (v == NULL || !json_object_is_type(v, json_type_object)) {
		req_field_error(r, "attributes", "attributes must be an object");
		return NULL;
	}
	t = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (strlen(t) > ASSET_ATTRS_MAX) {
		req_field_error(r, "attributes", "attributes are at most 16 KiB");
		return NULL;
	}
	return arena_strdup(r->a, t);
}

static int
load_asset(struct cb_req *r, char id[37], struct object *o)
{
	int rc;

	if (asset_param_id(r, "assetId", "ast_", "Asset", id) != 0)
		return -1;
	rc = object_get(ctx_db(r->ctx), r->a, asset_tenant(r), id, 0, o);
	if (rc == 404)
		return req_fail(r, 404, "not_found", "Asset not found");
	return rc ? req_fail(r, 500, "internal_error", "lookup failed") : 0;
}

/* ---- create ---------------------------------------------------------- */

int
asset_api_create(struct cb_req *r)
{
	struct json_object *body, *v, *up, *hdrs, *data;
	struct asset_new n;
	struct object o;
	const char *code = NULL, *why = "", *field;
	char sig[65], iso[32];
	int64_t ps, pc;

	if (asset_body(r, 65536, &body) != 0)
		return -1;
	memset(&n, 0, sizeof n);
	n.size = -1;
	asset_opt_string(r, body, "filename", 255, &n.filename, NULL);
	asset_opt_string(r, body, "type", 16, &n.kind, NULL);
	asset_opt_string(r, body, "content_type", 127, &n.content_type, NULL);
	if (n.filename == NULL) {
		if (!json_object_object_get_ex(body, "filename", &v) || v == NULL)
			req_field_error(r, "filename", "filename is required");
	} else if (!object_name_ok(n.filename))
		req_field_error(r, "filename", "filename must be 1-255 characters without "
		    "control or special characters (/ \\ : * ? \" < > | %%)");
	if (n.kind != NULL && !asset_kind_valid(n.kind))
		req_field_error(r, "type", "type must be video, image, audio or file");
	if (n.content_type != NULL && !content_type_ok(n.content_type))
		req_field_error(r, "content_type", "content_type must be a MIME type");
	if (!json_object_object_get_ex(body, "size_bytes", &v) || v == NULL)
		req_field_error(r, "size_bytes", "size_bytes is required");
	else if (!json_object_is_type(v, json_type_int) || (n.size = json_object_get_int64(v)) < 0)
		req_field_error(r, "size_bytes", "size_bytes must be a whole number of bytes");
	if (json_object_object_get_ex(body, "multipart", &v) && v != NULL) {
		if (!json_object_is_type(v, json_type_boolean))
			req_field_error(r, "multipart", "multipart must be true or false");
		else
			n.multipart = json_object_get_boolean(v);
	}
	if (json_object_object_get_ex(body, "part_size", &v) && v != NULL &&
	    (!json_object_is_type(v, json_type_int) || (n.part_size = json_object_get_int64(v)) <= 0))
		req_field_error(r, "part_size", "part_size must be a whole number of bytes");
	if (json_object_object_get_ex(body, "tags", &v))
		n.labels = asset_tags_json(r, v);
	if (json_object_object_get_ex(body, "attributes", &v))
		n.attributes = attributes_json(r, v);
	if (r->err.status == 0 && asset_plan(n.size, n.multipart, n.part_size, &ps, &pc, &field, &why) != 0)
		req_field_error(r, field, "%s", why);
	if (r->err.status)
		return -1;
	int rc = asset_create(ctx_db(r->ctx), r->ctx->cfg, r->a, asset_tenant(r), &n, &o, &code, &why);
	if (rc != 0)
		return fail(r, rc, code, why);

	up = json_object_new_object();
	if (o.part_count == 0 && object_in_bucket(r->ctx->cfg, &o)) {
		/* Straight to the bucket: Cubby only signs. */
		struct buf url;
		buf_init(&url, 8192);
		if (object_presign(ctx_db(r->ctx), r->ctx->cfg, r->a, &o, "PUT", NULL, o.content_type,
		    (long)((o.upload_expires_at - now_unix_ms() + 999) / 1000), &url) != 0) {
			buf_free(&url);
			json_object_put(up);
			return req_fail(r, 502, "storage_unavailable", "could not sign the upload URL");
		}
		fmt_iso8601_ms(iso, sizeof iso, o.upload_expires_at);
		json_object_object_add(up, "kind", json_object_new_string("single"));
		json_object_object_add(up, "method", json_object_new_string("PUT"));
		json_object_object_add(up, "url", json_object_new_string(buf_cstr(&url)));
		hdrs = json_object_new_object();
		json_object_object_add(hdrs, "Content-Type", json_object_new_string(o.content_type));
		json_object_object_add(up, "headers", hdrs);
		json_object_object_add(up, "expires_at", json_object_new_string(iso));
		buf_free(&url);
	} else if (o.part_count == 0) {
		upload_url_sign(r->ctx->master, o.tenant_id, o.id, o.upload_expires_at, sig);
		fmt_iso8601_ms(iso, sizeof iso, o.upload_expires_at);
		json_object_object_add(up, "kind", json_object_new_string("single"));
		json_object_object_add(up, "method", json_object_new_string("PUT"));
		json_object_object_add(up, "url", json_object_new_string(arena_printf(r->a,
		    "%s/_internal/upload/tenants/%s/files/%s/%s?expires=%lld&signature=%s",
		    req_origin(r), o.tenant_id, o.id, url_encode(r->a, o.name),
		    (long long)o.upload_expires_at, sig)));
		hdrs = json_object_new_object();
		json_object_object_add(hdrs, "Content-Type", json_object_new_string(o.content_type));
		json_object_object_add(up, "headers", hdrs);
		json_object_object_add(up, "expires_at", json_object_new_string(iso));
	} else {
		fmt_iso8601_ms(iso, sizeof iso, o.upload_expires_at);
		json_object_object_add(up, "kind", json_object_new_string("multipart"));
		json_object_object_add(up, "upload_id", json_object_new_string(o.upload_id));
		json_object_object_add(up, "part_size", json_object_new_int64(o.part_size));
		json_object_object_add(up, "part_count", json_object_new_int64(o.part_count));
		json_object_object_add(up, "expires_at", json_object_new_string(iso));
	}
	data = json_object_new_object();
	json_object_object_add(data, "asset", asset_render(r, &o));
	json_object_object_add(data, "upload", up);
	return asset_reply(r, 201, data, NULL);
}

/* ---- list ------------------------------------------------------------ */

struct lister {
	struct cb_req *r;
	struct json_object *arr;
	struct object last;
	int64_t n, limit;
	int more;               /* a row past the page: there is a next one */
};

/* Pages are asked for one row longer than they are: next_cursor only when
 * that row exists (a last page that is exactly full has none). */
static int
list_one(void *arg, const struct object *o)
{
	struct lister *l = arg;

	if (l->n == l->limit) {
		l->more = 1;
		return 0;
	}
	json_object_array_add(l->arr, asset_render(l->r, o));
	l->last = *o;
	l->n++;
	return 0;
}

/* cursor: base64url of "<created ms>.<uuid>", or of "s.<seq>" for a
 * search's pages */
static int
parse_cursor(struct cb_req *r, const char *s, struct asset_filter *f)
{
	size_t n = strlen(s);
	char *dec = arena_alloc(r->a, n + 4), *dot;
	long len = n <= 128 ? base64url_decode(dec, s, n) : -1;
	long long c;

	if (len <= 0)
		return req_field_error(r, "cursor", "bad cursor");
	dec[len] = '\0';
	if (strncmp(dec, "s.", 2) == 0) {
		if (parse_ll(dec + 2, 1, INT64_MAX, &c) != 0)
			return req_field_error(r, "cursor", "bad cursor");
		f->cursor_seq = c;
		return 0;
	}
	if ((dot = strchr(dec, '.')) == NULL)
		return req_field_error(r, "cursor", "bad cursor");
	*dot = '\0';
	if (parse_ll(dec, 0, INT64_MAX, &c) != 0 || !uuid_valid(dot + 1))
		return req_field_error(r, "cursor", "bad cursor");
	f->has_cursor = 1;
	f->cursor_created = c;
	f->cursor_id = dot + 1;
	return 0;
}

int
asset_api_list(struct cb_req *r)
{
	struct asset_filter f;
	struct lister l;
	struct json_object *meta;
	const char *s;
	long long limit = 50;

	memset(&f, 0, sizeof f);
	f.modified_after = -1;
	if ((s = req_query(r, "limit")) != NULL && parse_ll(s, 1, 200, &limit) != 0)
		req_field_error(r, "limit", "limit must be 1 to 200");
	if ((s = req_query(r, "cursor")) != NULL && *s)
		parse_cursor(r, s, &f);
	/* A cursor belongs to the kind of listing that made it. */
	if (r->err.status == 0 && (f.cursor_seq != 0 || f.has_cursor)) {
		const char *q = req_query(r, "search");
		int indexed = q != NULL && *q && asset_search_indexed(q);
		if (indexed != (f.cursor_seq != 0))
			req_field_error(r, "cursor", "the cursor is from another listing");
	}
	if ((s = req_query(r, "status")) != NULL) {
		if (strcmp(s, "active") == 0)
			f.state = "completed";
		else if (strcmp(s, "pending") == 0 || strcmp(s, "failed") == 0)
			f.state = s;
		else if (strcmp(s, "archived") == 0)
			f.none = 1;     /* nothing is archived (no route archives) */
		else
			req_field_error(r, "status", "status must be pending, active, failed or archived");
	}
	if ((s = req_query(r, "type")) != NULL) {
		if (!asset_kind_valid(s))
			req_field_error(r, "type", "type must be video, image, audio or file");
		f.kind = s;
	}
	if ((s = req_query(r, "search")) != NULL && *s) {
		if (strlen(s) > 200)
			req_field_error(r, "search", "search is at most 200 bytes");
		f.search = s;
	}
	if ((s = req_query(r, "modified_after")) != NULL && parse_iso8601_ms(s, &f.modified_after) != 0)
		req_field_error(r, "modified_after", "modified_after must be an ISO 8601 date-time");
	if (r->err.status)
		return -1;
	f.limit = limit + 1;
	memset(&l, 0, sizeof l);
	l.r = r;
	l.limit = limit;
	l.arr = json_object_new_array();
	if (asset_list(ctx_db(r->ctx), r->a, asset_tenant(r), &f, list_one, &l) != 0) {
		json_object_put(l.arr);
		return req_fail(r, 500, "internal_error", "listing failed");
	}
	meta = json_object_new_object();
	json_object_object_add(meta, "limit", json_object_new_int64(limit));
	if (l.more) {
		char *cur = f.search && asset_search_indexed(f.search) ?
		    arena_printf(r->a, "s.%lld", (long long)l.last.seq) :
		    arena_printf(r->a, "%lld.%s", (long long)l.last.created_at, l.last.id);
		char *b64 = arena_alloc(r->a, base64_len(strlen(cur)) + 1);
		base64url_encode(b64, cur, strlen(cur));
		json_object_object_add(meta, "next_cursor", json_object_new_string(b64));
	} else {
		json_object_object_add(meta, "next_cursor", NULL);
	}
	return asset_reply(r, 200, l.arr, meta);
}

/* ---- one asset ------------------------------------------------------- */

int
asset_api_get(struct cb_req *r)
{
	struct object o;
	char id[37];

	if (load_asset(r, id, &o) != 0)
		return -1;
	return asset_reply(r, 200, asset_render(r, &o), NULL);
}

int
asset_api_patch(struct cb_req *r)
{
	struct json_object *body, *v;
	const char *name = NULL, *labels = NULL, *attrs = NULL;
	struct object o;
	char id[37];
	int rc, present;

	if (asset_param_id(r, "assetId", "ast_", "Asset", id) != 0 || asset_body(r, 65536, &body) != 0)
		return -1;
	json_object_object_foreach(body, k, kv) {
		(void)kv;
		if (strcmp(k, "filename") != 0 && strcmp(k, "tags") != 0 && strcmp(k, "attributes") != 0)
			req_field_error(r, k, "unknown field: only filename, tags and attributes can change");
	}
	asset_opt_string(r, body, "filename", 255, &name, &present);
	if (present && (name == NULL || !object_name_ok(name)))
		req_field_error(r, "filename", "filename must be 1-255 characters without "
		    "control or special characters");
	if (json_object_object_get_ex(body, "tags", &v))
		labels = asset_tags_json(r, v);
	if (json_object_object_get_ex(body, "attributes", &v))
		attrs = attributes_json(r, v);
	if (r->err.status)
		return -1;
	rc = asset_update(ctx_db(r->ctx), r->a, asset_tenant(r), id, name, labels, attrs, &o);
	if (rc == 404)
		return req_fail(r, 404, "not_found", "Asset not found");
	if (rc != 0)
		return req_fail(r, 500, "internal_error", "update failed");
	return asset_reply(r, 200, asset_render(r, &o), NULL);
}

int
asset_api_delete(struct cb_req *r)
{
	struct json_object *d;
	char id[37];
	int rc;

	if (asset_param_id(r, "assetId", "ast_", "Asset", id) != 0)
		return -1;
	rc = asset_purge(ctx_db(r->ctx), r->ctx->cfg, asset_tenant(r), id);
	if (rc == 404)
		return req_fail(r, 404, "not_found", "Asset not found");
	if (rc != 0)
		return req_fail(r, 500, "internal_error", "delete failed");
	d = json_object_new_object();
	json_object_object_add(d, "id", json_object_new_string(asset_ext_id(r, "ast_", id)));
	json_object_object_add(d, "deleted", json_object_new_boolean(1));
	return asset_reply(r, 200, d, NULL);
}

int
asset_api_url(struct cb_req *r)
{
	struct json_object *d;
	struct object o;
	const char *s = req_query(r, "expires_in"), *url;
	long long ttl = 3600;
	int64_t exp;
	char id[37], iso[32];

	if (s != NULL && parse_ll(s, 60, 604800, &ttl) != 0)
		return req_field_error(r, "expires_in", "expires_in must be 60 to 604800 seconds");
	if (load_asset(r, id, &o) != 0)
		return -1;
	if (strcmp(o.state, "completed") != 0)
		return req_fail(r, 409, "asset_not_active", "the asset has no bytes yet");
	url = file_download_url(r, &o, ttl, &exp);
	fmt_iso8601_ms(iso, sizeof iso, exp);
	d = json_object_new_object();
	json_object_object_add(d, "url", json_object_new_string(url));
	json_object_object_add(d, "expires_at", json_object_new_string(iso));
	json_object_object_add(d, "expires_in", json_object_new_int64(ttl));
	return asset_reply(r, 200, d, NULL);
}

/* ---- multipart ------------------------------------------------------- */

/* upload_id from the body: required, a string. */
static const char *
body_upload_id(struct cb_req *r, struct json_object *body, int required)
{
	const char *u = NULL;
	int present;

	/* S3's own upload ids (blob_backend = s3) run to a few hundred. */
	asset_opt_string(r, body, "upload_id", 1024, &u, &present);
	if (u == NULL && required && r->err.status == 0)
		req_field_error(r, "upload_id", "upload_id is required");
	return u;
}

int
asset_api_parts(struct cb_req *r)
{
	struct json_object *body, *v, *d;
	struct object o;
	const char *upload_id, *code = "", *why = "";
	int64_t part = 0, exp;
	char id[37], sig[65], iso[32];
	int rc;

	if (load_asset(r, id, &o) != 0 || asset_body(r, 4096, &body) != 0)
		return -1;
	upload_id = body_upload_id(r, body, 1);
	if (!json_object_object_get_ex(body, "part_number", &v) || v == NULL)
		req_field_error(r, "part_number", "part_number is required");
	else if (!json_object_is_type(v, json_type_int) || (part = json_object_get_int64(v)) < 1 ||
	    part > ASSET_MAX_PARTS)
		req_field_error(r, "part_number", "part_number must be 1 to 10000");
	if (r->err.status)
		return -1;
	if ((rc = asset_part_check(&o, upload_id, part, &code, &why)) != 0)
		return rc == 400 ? req_field_error(r, "part_number", "part_number is past the last part (%lld)",
		    (long long)o.part_count) : fail(r, rc, code, why);
	exp = now_unix_ms() + ASSET_PART_URL_TTL_MS;
	fmt_iso8601_ms(iso, sizeof iso, exp);
	d = json_object_new_object();
	json_object_object_add(d, "part_number", json_object_new_int64(part));
	json_object_object_add(d, "method", json_object_new_string("PUT"));
	if (object_in_bucket(r->ctx->cfg, &o)) {
		/* The bucket's own UploadPart, presigned. */
		struct buf url, q;
		int bad;
		buf_init(&url, 8192);
		buf_init(&q, 2048);
		bad = buf_printf(&q, "partNumber=%lld&uploadId=", (long long)part) != 0 ||
		    sigv4_encode(&q, o.upload_id, strlen(o.upload_id), 0) != 0 ||
		    object_presign(ctx_db(r->ctx), r->ctx->cfg, r->a, &o, "PUT", buf_cstr(&q), NULL,
		    ASSET_PART_URL_TTL_MS / 1000, &url) != 0;
		if (!bad)
			json_object_object_add(d, "url", json_object_new_string(buf_cstr(&url)));
		buf_free(&url);
		buf_free(&q);
		if (bad) {
			json_object_put(d);
			return req_fail(r, 500, "internal_error", "could not sign the part URL");
		}
	} else {
		asset_part_sign(r->ctx->master, o.id, o.upload_id, part, exp, sig);
		json_object_object_add(d, "url", json_object_new_string(arena_printf(r->a,
		    "%s/v1/uploads/%s/parts/%lld?upload_id=%s&expires=%lld&signature=%s",
		    req_origin(r), asset_ext_id(r, "ast_", o.id), (long long)part, o.upload_id,
		    (long long)exp, sig)));
	}
	json_object_object_add(d, "size_bytes", json_object_new_int64(asset_part_length(&o, part)));
	json_object_object_add(d, "expires_at", json_object_new_string(iso));
	return asset_reply(r, 200, d, NULL);
}

int
asset_api_part_put(struct cb_req *r)
{
	const char *upload_id = req_query(r, "upload_id"), *code = "", *why = "";
	const char *ps = req_param(r, "partNumber");
	struct blob_part bp;
	struct object o;
	unsigned char sha[32], want[48], rnd[16];
	char id[37], key[80], etag[67], tag[33], *buf;
	const char *ck;
	long long part;
	long got = 0;
	int rc = 0;

	if (blob_on_s3(r->ctx->cfg))
		return req_fail(r, 409, "upload_not_in_progress", "parts go straight to the "
		    "object store: use the URL from POST /v1/assets/{id}/parts");
	/* The signature first: nothing about the upload is revealed to a
	 * request without one. */
	if (ps == NULL || parse_ll(ps, 1, ASSET_MAX_PARTS, &part) != 0 ||
	    uuid_from_prefixed(req_param(r, "assetId"), "ast_", id) != 0)
		return req_fail(r, 403, "invalid_signature", "the part URL is not valid");
	if ((rc = asset_part_verify(r->ctx->master, id, upload_id, part, req_query(r, "expires"),
	    req_query(r, "signature"), &code)) != 0)
		return req_fail(r, rc, code, strcmp(code, "upload_expired") == 0 ?
		    "the part URL has expired: ask for a new one" : "the part URL is not valid");
	rc = asset_part_begin(ctx_db(r->ctx), r->a, id, upload_id, part, r->content_length, &o, &code, &why);
	if (rc != 0)
		return fail(r, rc, code, why);
	if (o.storage_id != NULL)
		return req_fail(r, 409, "upload_not_in_progress", "parts go straight to the "
		    "tenant's bucket: use the URL from POST /v1/assets/{id}/parts");
	/* The client may ask for its bytes to be checked: S3's
	 * x-amz-checksum-sha256 (base64 of the part's SHA-256). Otherwise
	 * nothing is hashed here; the whole object's SHA-256 is computed by
	 * processing after completion. */
	if ((ck = req_header(r, "x-amz-checksum-sha256")) != NULL &&
	    (strlen(ck) > 64 || base64_decode(want, ck, strlen(ck)) != 32))
		return req_fail(r, 400, "validation_error",
		    "x-amz-checksum-sha256 must be the base64 of 32 bytes");
	/* Straight into the upload file at the part's offset: completing
	 * the upload is then a rename, not a copy. */
	asset_upload_key(&o, key);
	if (blob_part_begin(r->ctx->cfg, key, asset_part_offset(&o, part), r->content_length,
	    ck != NULL, &bp) != 0) {
		if (errno == ESTALE)
			return req_fail(r, 409, "upload_not_in_progress",
			    "the upload was completed or aborted meanwhile");
		log_err("rid=%s part file: %s", r->rid, strerror(errno));
		rc = storage_errno_status(r->ctx->cfg, errno);
		return req_fail(r, rc, storage_status_code(rc), "storage unavailable");
	}
	buf = arena_alloc(r->a, 262144);
	while ((got = req_read(r, buf, 262144)) > 0)
		if (blob_part_write(&bp, buf, (size_t)got) != 0) {
			log_err("rid=%s part write: %s", r->rid, strerror(errno));
			rc = storage_errno_status(r->ctx->cfg, errno);
			break;
		}
	if (got < 0 || rc != 0 || bp.size != r->content_length) {
		/* An earlier attempt's row no longer describes these bytes:
		 * forget it (under the part's lock), so completion asks for the
		 * part again. */
		if (bp.size > 0 && asset_part_forget(ctx_db(r->ctx), &o, part) != 0)
			log_err("rid=%s part %lld of %s: stale row kept", r->rid, part, id);
		blob_part_close(&bp);
		if (r->err.status)
			return -1;
		return req_fail(r, rc ? rc : 400, rc ? storage_status_code(rc) : "validation_error",
		    rc ? "storage write failed" : "the body ended early");
	}
	if (blob_part_end(&bp, sha) != 0) {
		log_err("rid=%s part sync: %s", r->rid, strerror(errno));
		rc = storage_errno_status(r->ctx->cfg, errno);
		asset_part_forget(ctx_db(r->ctx), &o, part);
		blob_part_close(&bp);
		return req_fail(r, rc, storage_status_code(rc), "storage write failed");
	}
	if (ck != NULL && !ct_equal(sha, want, 32)) {
		asset_part_forget(ctx_db(r->ctx), &o, part);
		blob_part_close(&bp);
		return req_fail(r, 400, "checksum_mismatch",
		    "the part's SHA-256 is not x-amz-checksum-sha256: send it again");
	}
	/* The ETag names this attempt: complete checks the client's list
	 * against the attempts stored. */
	crypto_random(rnd, sizeof rnd);
	hex_encode(tag, rnd, sizeof rnd);
	rc = asset_part_record(ctx_db(r->ctx), &o, part, bp.size, tag);
	blob_part_close(&bp);
	if (rc != 0) {
		if (rc != 409)
			return req_fail(r, 500, "internal_error", "could not record the part");
		/* Over already: a file this PUT made afresh is garbage. */
		blob_upload_remove(r->ctx->cfg, key);
		return req_fail(r, 409, "upload_not_in_progress",
		    "the upload was completed or aborted meanwhile");
	}
	snprintf(etag, sizeof etag, "\"%s\"", tag);
	resp_header(r, "ETag", etag);
	{
		struct json_object *d = json_object_new_object();
		json_object_object_add(d, "part_number", json_object_new_int64(part));
		json_object_object_add(d, "etag", json_object_new_string(etag));
		json_object_object_add(d, "size_bytes", json_object_new_int64(bp.size));
		return asset_reply(r, 200, d, NULL);
	}
}

int
asset_api_complete(struct cb_req *r)
{
	struct json_object *body, *v;
	struct part_ref *parts = NULL;
	struct object o;
	const char *upload_id, *code = "", *why = "";
	size_t n = 0;
	char id[37];
	int rc;

	if (asset_param_id(r, "assetId", "ast_", "Asset", id) != 0 || asset_body(r, 1048576, &body) != 0)
		return -1;
	upload_id = body_upload_id(r, body, 0);
	if (json_object_object_get_ex(body, "parts", &v) && v != NULL) {
		if (!json_object_is_type(v, json_type_array) ||
		    (n = json_object_array_length(v)) > ASSET_MAX_PARTS) {
			req_field_error(r, "parts", "parts must be a list of at most 10000 parts");
		} else {
			parts = arena_zalloc(r->a, (n ? n : 1) * sizeof *parts);
			for (size_t i = 0; i < n && r->err.status == 0; i++) {
				struct json_object *p = json_object_array_get_idx(v, i), *pn, *pe;
				if (!json_object_is_type(p, json_type_object) ||
				    !json_object_object_get_ex(p, "part_number", &pn) ||
				    !json_object_is_type(pn, json_type_int)) {
					req_field_error(r, "parts", "each part is { part_number, etag }");
					break;
				}
				parts[i].number = json_object_get_int64(pn);
				if (json_object_object_get_ex(p, "etag", &pe) && pe != NULL) {
					if (!json_object_is_type(pe, json_type_string)) {
						req_field_error(r, "parts", "etag must be a string");
						break;
					}
					parts[i].etag = json_object_get_string(pe);
				}
			}
			if (n == 0)
				req_field_error(r, "parts", "parts must not be empty");
		}
	}
	if (r->err.status)
		return -1;
	rc = asset_complete(ctx_db(r->ctx), r->ctx->cfg, r->a, asset_tenant(r), id, upload_id,
	    parts, n, &o, &code, &why);
	if (rc != 0)
		return fail(r, rc, code, why);
	return asset_reply(r, 200, asset_render(r, &o), NULL);
}

int
asset_api_abort(struct cb_req *r)
{
	struct json_object *body, *d;
	const char *upload_id, *code = "", *why = "";
	char id[37];
	int rc;

	if (asset_param_id(r, "assetId", "ast_", "Asset", id) != 0 || asset_body(r, 4096, &body) != 0)
		return -1;
	upload_id = body_upload_id(r, body, 1);
	if (r->err.status)
		return -1;
	rc = asset_abort(ctx_db(r->ctx), r->ctx->cfg, asset_tenant(r), id, upload_id, &code, &why);
	if (rc != 0)
		return fail(r, rc, code, why);
	d = json_object_new_object();
	json_object_object_add(d, "id", json_object_new_string(asset_ext_id(r, "ast_", id)));
	json_object_object_add(d, "upload_id", json_object_new_string(upload_id));
	json_object_object_add(d, "aborted", json_object_new_boolean(1));
	return asset_reply(r, 200, d, NULL);
}

int
asset_api_reprocess(struct cb_req *r)
{
	struct object o;
	char id[37];
	int rc;

	if (asset_param_id(r, "assetId", "ast_", "Asset", id) != 0)
		return -1;
	rc = asset_reprocess(ctx_db(r->ctx), asset_tenant(r), id);
	if (rc == 404)
		return req_fail(r, 404, "not_found", "Asset not found");
	if (rc == 409)
		return req_fail(r, 409, "asset_not_active", "only an active asset can be processed");
	if (rc != 0 || object_get(ctx_db(r->ctx), r->a, asset_tenant(r), id, 0, &o) != 0)
		return req_fail(r, 500, "internal_error", "could not queue processing");
	return asset_reply(r, 202, asset_render(r, &o), NULL);
}

int
asset_api_spaces(struct cb_req *r)
{
	struct json_object *arr;
	struct object o;
	char id[37];
	void *p[2];

	if (load_asset(r, id, &o) != 0)
		return -1;
	arr = json_object_new_array();
	p[0] = r;
	p[1] = arr;
	if (space_each_of_object(ctx_db(r->ctx), r->a, asset_tenant(r), id, space_append, p) != 0) {
		json_object_put(arr);
		return req_fail(r, 500, "internal_error", "listing failed");
	}
	return asset_reply(r, 200, arr, NULL);
}
