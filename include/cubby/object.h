/* object.h - stored objects: one row per file (a Storage Brain file and a
 * Khaos asset at once), owned by a tenant, optionally in a workspace.
 * Quotas are reserved atomically when an upload is accepted and released
 * on delete, failure or expiry: usage can never pass a quota. Every call
 * takes the tenant id. Functions returning int give 0 or an HTTP status,
 * with a machine code (*code, snake_case) and a reason (*why). */
#ifndef CUBBY_OBJECT_H
#define CUBBY_OBJECT_H

#include <stddef.h>
#include <stdint.h>

#include "cubby/crypto.h"

struct arena;
struct db;

#define FILE_MAX_BYTES      104857600LL
#define FILE_NAME_MAX       255
#define FILE_CONTEXT_MAX    100
#define UPLOAD_URL_TTL_MS   (15LL * 60 * 1000)

struct object {
	char id[37];
	char tenant_id[37];
	const char *workspace_id;       /* NULL: none */
	const char *name, *content_type, *context;
	const char *tags, *metadata;    /* JSON object text or NULL */
	int64_t size_bytes;             /* -1: not known yet */
	int64_t reserved_bytes;
	unsigned char sha256[32];
	int has_sha;
	const char *state;              /* pending | completed | failed */
	const char *processing_status;
	const char *webhook_url;
	const char *blob_key;           /* completed: where the bytes are */
	const char *storage_id;         /* a tenant's storage connection that
					 * holds them; NULL: the server's store */
	int64_t created_at, updated_at, upload_expires_at, deleted_at;   /* ms */
	/* asset API */
	const char *kind;               /* video|image|audio|file, NULL: not known */
	const char *labels;             /* JSON array of strings, or NULL */
	const char *upload_id;          /* multipart upload in progress, or NULL */
	int64_t part_size, part_count;  /* multipart: 0 when single PUT */
	const char *thumb_key, *preview_key;    /* derived blobs, or NULL */
	const char *media;              /* JSON object the processor read
					 * (width, height...), or NULL */
	const char *processing_error;   /* why processing failed or was
					 * skipped, or NULL */
	int64_t seq;                    /* search listings: place in the index */
};

struct upload_request {
	const char *file_type, *file_name, *context, *tags, *webhook_url,
	    *workspace_id;
	int64_t size;                   /* -1: not declared */
	int direct;                     /* the bytes go straight to the object
					 * store: a blob key is chosen now */
	const char *storage_id;         /* direct into this storage connection */
};

struct object_filter {
	const char *context, *file_type, *workspace_id;
	int64_t limit;
	int has_cursor;
	int64_t cursor_created;         /* keyset: strictly older than this */
	const char *cursor_id;
};

/* A file name both dialects accept: 1-255 printable bytes, none of
 * / \ : * ? " < > | %, not starting with a dot or a space. */
int object_name_ok(const char *s);
/* Validate a request, reserve a declared size, create a pending object. */
int object_upload_request(struct db *db, struct arena *a, const char *tenant_id,
    const struct upload_request *u, struct object *out, const char **code,
    const char **why);
/* The PUT of a pending upload may start: the object is pending and not
 * expired, the type and declared size match, and the bytes are reserved
 * (now, if they were not declared: *reserved_now). */
int object_upload_begin(struct db *db, struct arena *a, const char *tenant_id,
    const char *id, const char *content_type, int64_t length,
    struct object *out, int64_t *reserved_now, const char **code,
    const char **why);
/* Whether object_upload_finish of size would pass now (nothing changes):
 * 0, 403 over a quota, 409 not pending, 404, 500. */
int object_upload_fits(struct db *db, const char *tenant_id, const char *id, int64_t size);
/* Mark a pending object completed with its size, hash and the blob that
 * holds it; its reservation becomes exactly size (403 when that passes a
 * quota; 409 when it is no longer pending: another attempt won). sha may
 * be NULL: not known yet (processing computes it). kind: what the bytes
 * are (asset_kind_sniff), or NULL; an image, video or audio file is
 * queued for processing, which then sends the file API's event. */
int object_upload_finish(struct db *db, const char *tenant_id, const char *id,
    int64_t size, const unsigned char sha[32], const char *blob_key, const char *kind);
/* Give back bytes reserved by object_upload_begin after a failed PUT. */
int object_upload_release(struct db *db, const char *tenant_id, const char *id,
    int64_t bytes);
/* A live (not deleted) object of the tenant: 0 or 404. completed_only
 * hides pending and failed ones. */
int object_get(struct db *db, struct arena *a, const char *tenant_id,
    const char *id, int completed_only, struct object *out);
/* Soft-delete and release its bytes at both levels. 0 or 404. */
int object_delete(struct db *db, const char *tenant_id, const char *id);
/* Completed live objects, newest first, keyset-paged; *total counts every
 * match. fn returns 0 to go on. */
int object_list(struct db *db, struct arena *a, const char *tenant_id,
    const struct object_filter *f, int64_t *total,
    int (*fn)(void *arg, const struct object *o), void *arg);
/* Fail pending uploads past their expiry and release their bytes; how
 * many, or -1. */
int object_expire_uploads(struct db *db, int limit);
/* A new blob key for object id (id-<16 hex>), in a. */
char *object_new_blob_key(struct arena *a, const char *id);

struct cb_config;
/* Direct uploads (blob_backend = s3): when the single PUT of pending
 * object id has landed in the bucket, complete it (its size checked
 * against the declared one and the file limit; a wrong object is
 * deleted so the client can PUT again). 0 (completed now or already,
 * or still pending: *done says), or an HTTP status. */
int object_direct_check(struct db *db, const struct cb_config *cfg,
    const char *tenant_id, const char *id, int *done);
/* The jobs worker's poll of pending direct uploads, oldest first: how
 * many completed, or -1. */
int object_direct_poll(struct db *db, const struct cb_config *cfg, int limit);
/* Remove from the bucket what failed direct uploads (expired, aborted)
 * left there. How many were looked at, or -1. */
int object_direct_sweep(struct db *db, const struct cb_config *cfg, int limit);

/* Upload URL signature (hex) over tenant, object and expiry. */
void upload_url_sign(const unsigned char master[CB_KEYLEN], const char *tenant_id,
    const char *id, int64_t expires_ms, char hex[65]);
/* Download token (hex) over object, variant (NULL: the original; or
 * "thumb", "preview") and expiry. */
void download_token(const unsigned char master[CB_KEYLEN], const char *id,
    const char *variant, int64_t expires_ms, char hex[65]);
struct json_object;
/* What processing read (width, height, duration, codec, format, capture
 * time), keys in snake_case or (camel) camelCase; NULL when nothing. */
struct json_object *object_media_json(const struct object *o, int camel);
/* processing_status as the file API says it (skipped is completed). */
const char *object_file_status(const struct object *o);
/* 1 for "thumb" and "preview" (derived blobs), 0 for anything else. */
int object_variant_valid(const char *variant);
/* The blob key and content type of an object's variant (NULL: the
 * original): 0, or -1 when it has none. */
int object_variant(const struct object *o, const char *variant, const char **key,
    const char **content_type);
/* Check a presigned upload URL's expires (ms) and signature for tenant
 * and object, as given by the client: 0, or 403 with a machine code in
 * *code (invalid_signature, upload_expired). Constant-time. */
int upload_url_verify(const unsigned char master[CB_KEYLEN], const char *tenant_id,
    const char *id, const char *expires, const char *sig, const char **code);
/* Check a signed download URL's token and expires (ms) for an object:
 * 0, or 401 with the reason in *why. Constant-time. */
int download_url_verify(const unsigned char master[CB_KEYLEN], const char *id,
    const char *variant, const char *expires, const char *token, const char **why);

#endif
