/* asset.h - the asset API's rules on top of objects: kinds decided from the
 * bytes, tags as a list, multipart uploads (S3's rules: parts of one size
 * but the last, 5 MiB to 5 GiB, at most 10,000), completion, abort, hard
 * delete, search and processing jobs. An asset is an object: the same row
 * the file API serves. Every call names the tenant, except the part PUT,
 * whose signed URL names the object. Functions returning int give 0 or an
 * HTTP status with a machine code in *code and a reason in *why. */
#ifndef CUBBY_ASSET_H
#define CUBBY_ASSET_H

#include <stddef.h>
#include <stdint.h>

#include "cubby/crypto.h"
#include "cubby/object.h"

struct arena;
struct cb_config;
struct db;

#define ASSET_SINGLE_MAX    FILE_MAX_BYTES                  /* 100 MiB */
#define ASSET_PART_MIN      (5LL * 1024 * 1024)
#define ASSET_PART_MAX      (5LL * 1024 * 1024 * 1024)
#define ASSET_PART_DEFAULT  (8LL * 1024 * 1024)
#define ASSET_MAX_PARTS     10000
#define ASSET_MAX_BYTES     (5LL * 1024 * 1024 * 1024 * 1024)   /* 5 TiB */
#define ASSET_PART_URL_TTL_MS   (15LL * 60 * 1000)
#define ASSET_MULTIPART_TTL_MS  (24LL * 3600 * 1000)   /* idle upload expiry */
#define ASSET_TAGS_MAX      50
#define ASSET_TAG_MAX       64
#define ASSET_ATTRS_MAX     16384

struct asset_new {
	const char *filename;
	const char *kind;           /* the client's claim, or NULL */
	const char *content_type;   /* NULL: application/octet-stream */
	const char *labels;         /* JSON array text, or NULL */
	const char *attributes;     /* JSON object text, or NULL */
	int64_t size;
	int multipart;              /* asked for multipart */
	int64_t part_size;          /* 0: chosen by Cubby */
};

struct asset_filter {
	const char *state;          /* pending|completed|failed, or NULL */
	int none;                   /* a status that matches nothing */
	const char *kind;
	const char *search;
	int64_t modified_after;     /* ms, or -1 */
	int64_t limit;
	int has_cursor;             /* plain listings: (created, id) */
	int64_t cursor_created;
	const char *cursor_id;
	int64_t cursor_seq;         /* searches: the last seq seen, 0 = none */
};

struct part_ref {
	int64_t number;
	const char *etag;           /* as the part PUT answered it, or NULL */
};

/* 1 when s is video, image, audio or file. */
int asset_kind_valid(const char *s);
/* The kind of a content type's top level (image/... -> image ...). */
const char *asset_kind_of_type(const char *content_type);
/* The kind the first bytes of a file say it is (magic numbers), or NULL
 * when they do not say. It looks at no more than its first
 * ASSET_SNIFF_BYTES (where a second MPEG audio frame header is). */
#define ASSET_SNIFF_BYTES 2048
const char *asset_kind_sniff(const unsigned char *p, size_t n);
/* The kind a stored blob's first bytes say, or NULL: from the data
 * directory, or a ranged GET of its bucket (storage_id: a tenant's). */
const char *asset_sniff_blob(struct db *db, const struct cb_config *cfg,
    const char *tenant_id, const char *storage_id, const char *key);
/* The asset API's status of an object: pending, active or failed. */
const char *asset_status(const struct object *o);

/* Decide single or multipart, the part size and count, for size bytes:
 * 0, or 400 with the reason in *why (naming *field). */
int asset_plan(int64_t size, int multipart, int64_t part_size,
    int64_t *out_part_size, int64_t *out_part_count, const char **field,
    const char **why);
/* Create a pending asset, reserving its size. */
int asset_create(struct db *db, const struct cb_config *cfg, struct arena *a,
    const char *tenant_id, const struct asset_new *n, struct object *out,
    const char **code,
    const char **why);

/* Part URL signature (hex) over object, upload, part number and expiry. */
void asset_part_sign(const unsigned char master[CB_KEYLEN], const char *id,
    const char *upload_id, int64_t part, int64_t expires_ms, char hex[65]);
/* Check a part URL as the client gave it: 0, or 403 with *code
 * invalid_signature or upload_expired. Constant-time. */
int asset_part_verify(const unsigned char master[CB_KEYLEN], const char *id,
    const char *upload_id, int64_t part, const char *expires, const char *sig,
    const char **code);
/* Bytes of part n of a multipart upload (all part_size but the last). */
int64_t asset_part_length(const struct object *o, int64_t part);
/* Part n of o's upload may be sent now (presigned or PUT): o is a
 * multipart upload in progress under upload_id, n in range. 0, 409
 * (not_multipart, upload_not_in_progress) or 400. */
int asset_part_check(const struct object *o, const char *upload_id,
    int64_t part, const char **code, const char **why);
/* A part PUT may start: the upload is in progress, the part number is in
 * range and length is that part's size. Fills out (the owner's object). */
int asset_part_begin(struct db *db, struct arena *a, const char *id,
    const char *upload_id, int64_t part, int64_t length, struct object *out,
    const char **code, const char **why);
/* The file a multipart upload's parts are written into (blob.h), and
 * where part n starts in it. */
void asset_upload_key(const struct object *o, char key[80]);
int64_t asset_part_offset(const struct object *o, int64_t part);
/* Record a written part (replacing an earlier attempt) under its etag (a
 * token naming this attempt) and push the upload's idle expiry. 0, 409
 * (no longer in progress), 500. */
int asset_part_record(struct db *db, const struct object *o, int64_t part,
    int64_t size, const char *etag);
/* Forget a part whose PUT failed after it started writing (its bytes are
 * no longer what the row says). Inside no transaction. */
int asset_part_forget(struct db *db, const struct object *o, int64_t part);
/* Finish an upload. Single (upload_id NULL): the PUT must have arrived.
 * Multipart: every part present, of its size, with the etag the client
 * names (nparts 0: the parts as stored); the upload file becomes the blob
 * and its SHA-256 is left to processing. Either way the kind is read from
 * the bytes and processing is queued. */
int asset_complete(struct db *db, const struct cb_config *cfg,
    struct arena *a, const char *tenant_id, const char *id,
    const char *upload_id, const struct part_ref *parts, size_t nparts,
    struct object *out, const char **code, const char **why);
/* Abort a multipart upload: the object fails, its reservation and parts
 * go. Idempotent for an upload already aborted. */
int asset_abort(struct db *db, const struct cb_config *cfg,
    const char *tenant_id, const char *id, const char *upload_id,
    const char **code, const char **why);
/* filename, labels, attributes: NULL leaves each unchanged. */
int asset_update(struct db *db, struct arena *a, const char *tenant_id,
    const char *id, const char *filename, const char *labels,
    const char *attributes, struct object *out);
/* Hard delete: the row keeps only a tombstone (so a second DELETE is
 * still a success), blobs and parts are removed, publications end.
 * 0, 404 (never the tenant's), 500. */
int asset_purge(struct db *db, const struct cb_config *cfg,
    const char *tenant_id, const char *id);
/* Jobs worker: purge up to limit deleted objects that still name bytes
 * (a file API DELETE or a workspace delete soft-deletes; a deleted file's
 * bytes must go, or deleting would free quota and keep the disk). The
 * number purged, or -1. */
int asset_purge_deleted(struct db *db, const struct cb_config *cfg, int limit);
/* 1 when a search for s uses the full-text index (it has a letter or a
 * digit): its pages are then keyed by seq, not by (created, id). */
int asset_search_indexed(const char *s);
/* Assets newest first, keyset-paged. With an indexed search: objects
 * whose filename or tags hold, in order, words starting with the search's
 * words (case-insensitive); otherwise a search is a substring match. fn
 * returns 0 to go on. */
int asset_list(struct db *db, struct arena *a, const char *tenant_id,
    const struct asset_filter *f,
    int (*fn)(void *arg, const struct object *o), void *arg);
/* Queue processing again for a completed asset. 0, 404, 409 (not
 * completed), 500. */
int asset_reprocess(struct db *db, const char *tenant_id, const char *id);

/* Jobs worker: when the search index has more than ASSET_SEARCH_SEGMENTS
 * segments, merge them into one, for up to budget_ms per call. 1 when
 * there is nothing (more) to do, 0 when work is left, -1 on error. */
#define ASSET_SEARCH_SEGMENTS 10
int asset_search_merge(struct db *db, int budget_ms);
/* Jobs worker: remove the parts of multipart uploads that failed, were
 * aborted or deleted; how many, or -1. */
int asset_sweep_parts(struct db *db, const struct cb_config *cfg, int limit);

#endif
