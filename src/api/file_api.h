/* file_api.h - helpers shared by the file API's handlers (private to
 * src/api/file_*.c). */
#ifndef CUBBY_API_FILE_API_H
#define CUBBY_API_FILE_API_H

#include <stdint.h>

#include "cubby/object.h"
#include "cubby/request.h"

struct json_object;

/* The document's file object: id, url, originalName, fileType, sizeBytes,
 * context, tags, metadata, processingStatus, workspaceId, createdAt. */
struct json_object *file_render(struct cb_req *r, const struct object *o);

struct object;
/* An absolute signed GET of an object's variant ("thumb", "preview";
 * NULL: the original) valid ttl_s seconds: presigned in its bucket when
 * it is in one, else the download route with token + expires; its expiry
 * (ms) into *expires_ms when not NULL. NULL when the object has no such
 * variant. The asset API hands these out (the file API's signed-url is
 * always Cubby's own URL, revocable). */
const char *file_variant_url(struct cb_req *r, const struct object *o, const char *variant,
    int64_t ttl_s, int64_t *expires_ms);
/* The original's (never NULL). */
const char *file_download_url(struct cb_req *r, const struct object *o, int64_t ttl_s,
    int64_t *expires_ms);

#endif
