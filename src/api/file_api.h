/* file_api.h - helpers shared by the file API's handlers (private to
 * src/api/file_*.c). */
#ifndef CUBBY_API_FILE_API_H
#define CUBBY_API_FILE_API_H

#include "cubby/object.h"
#include "cubby/request.h"

struct json_object;

/* The document's file object: id, url, originalName, fileType, sizeBytes,
 * context, tags, metadata, processingStatus, workspaceId, createdAt. */
struct json_object *file_render(struct cb_req *r, const struct object *o);

#endif
