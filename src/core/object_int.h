/* object_int.h - the pieces of object.c that the asset core (asset.c,
 * space.c) builds on: quotas, counts, rows and the pending insert. Private
 * to src/core/. Every function runs inside the caller's transaction except
 * object_insert_pending, which makes its own. */
#ifndef CUBBY_CORE_OBJECT_INT_H
#define CUBBY_CORE_OBJECT_INT_H

#include <sqlite3.h>
#include <stdint.h>

#include "cubby/object.h"

struct arena;
struct db;

/* Every column of an object, in object_row's order. */
#define OBJ_COLS "id, tenant_id, workspace_id, name, content_type, context, tags," \
	" metadata, size_bytes, reserved_bytes, sha256, state, processing_status," \
	" webhook_url, created_at, updated_at, upload_expires_at, deleted_at, blob_key," \
	" kind, labels, upload_id, part_size, part_count, thumb_key, preview_key, storage_id,"\
	" media, processing_error"
/* How many: a column selected after them is at this index. */
#define OBJ_NCOLS 29
/* The same, each prefixed with "o." for joins. */
#define OBJ_COLS_O "o.id, o.tenant_id, o.workspace_id, o.name, o.content_type, o.context," \
	" o.tags, o.metadata, o.size_bytes, o.reserved_bytes, o.sha256, o.state," \
	" o.processing_status, o.webhook_url, o.created_at, o.updated_at," \
	" o.upload_expires_at, o.deleted_at, o.blob_key, o.kind, o.labels, o.upload_id," \
	" o.part_size, o.part_count, o.thumb_key, o.preview_key, o.storage_id,"\
	" o.media, o.processing_error"

/* Take n bytes from the tenant's and the workspace's quota: 0, 403 when
 * either would pass it, 500. */
int quota_reserve(struct db *db, const char *tenant_id, const char *ws, int64_t n);
/* Give n bytes back at both levels. */
int quota_release(struct db *db, const char *tenant_id, const char *ws, int64_t n);
/* Live file counts += delta at both levels; tenant stored bytes += bytes. */
int object_counts(struct db *db, const char *tenant_id, const char *ws,
    int64_t delta, int64_t bytes);
/* Fill o from a row selected with OBJ_COLS (strings in a). */
void object_row(struct arena *a, sqlite3_stmt *st, struct object *o);
/* The tenant's object, deleted ones too when with_deleted. 0, 404, 500. */
int object_load(struct db *db, struct arena *a, const char *tenant_id,
    const char *id, int with_deleted, struct object *out);
/* Reserve o->reserved_bytes and insert o as a pending object, in one
 * transaction. 0, or an HTTP status with *code and *why. */
int object_insert_pending(struct db *db, const struct object *o,
    const char **code, const char **why);

#endif
