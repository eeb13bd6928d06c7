/* asset_api.h - helpers shared by the asset API's handlers (private to
 * src/api/asset_*.c): the { data, meta? } envelope, ids spelled ast_/spc_,
 * and the asset and space objects as the document's clients read them. */
#ifndef CUBBY_API_ASSET_API_H
#define CUBBY_API_ASSET_API_H

#include <stdint.h>

#include "cubby/object.h"
#include "cubby/request.h"

struct json_object;
struct space;

/* { "data": data, "meta": meta } (meta may be NULL). Takes both. */
int asset_reply(struct cb_req *r, int status, struct json_object *data,
    struct json_object *meta);
/* ISO 8601 of a time in ms, or JSON null for 0. */
struct json_object *asset_iso(int64_t ms);
/* The tenant of the request's key. */
const char *asset_tenant(struct cb_req *r);
/* "ast_" + 32 hex of an object id; "spc_" of a space id. */
const char *asset_ext_id(struct cb_req *r, const char *prefix, const char *uuid);
/* The uuid of the path parameter param spelled prefix + hex, into out:
 * 0, or -1 after a 404 (an id that cannot exist is simply not found). */
int asset_param_id(struct cb_req *r, const char *param, const char *prefix,
    const char *what, char out[37]);
/* The asset object; signed thumb/preview URLs (1 hour) when present. */
struct json_object *asset_render(struct cb_req *r, const struct object *o);
/* The space object (never its password hash). */
struct json_object *space_render(struct cb_req *r, const struct space *s);
/* A space_each callback: arg is { struct cb_req *, json array }. */
int space_append(void *arg, const struct space *s);
/* The body as a JSON object; an empty body is an empty object. 0 or -1. */
int asset_body(struct cb_req *r, size_t max, struct json_object **out);
/* Optional typed members: 0 (absent: *out untouched, *present 0), or -1
 * after recording a field error. JSON null counts as present and NULL. */
int asset_opt_string(struct cb_req *r, struct json_object *o, const char *name,
    size_t max, const char **out, int *present);
/* A list of tags (strings of 1..64 bytes, at most 50) as canonical JSON
 * text, or NULL after a field error. */
const char *asset_tags_json(struct cb_req *r, struct json_object *v);

#endif
