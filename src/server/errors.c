/* errors.c - the one place an error becomes a response, in the envelope of
 * the document that owns the route:
 *   kv:    {"error":{"code":<int>,"message":"<snake_case>"}}
 *   file:  {"error":{"code":"UPPER_CASE","message":"...","details":{}}}
 *   asset: {"data":null,"error":{"code":"snake_case","message":"..."}}
 * Never puts a secret or an internal detail (SQL, paths) in a body. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "cubby/server.h"
#include "cubby/util.h"

const char *
http_code_name(int status)
{
	switch (status) {
	case 400: return "bad_request";
	case 401: return "unauthorized";
	case 403: return "forbidden";
	case 404: return "not_found";
	case 405: return "method_not_allowed";
	case 406: return "not_acceptable";
	case 408: return "request_timeout";
	case 409: return "conflict";
	case 413: return "payload_too_large";
	case 415: return "unsupported_media_type";
	case 429: return "too_many_requests";
	case 503: return "service_unavailable";
	case 507: return "insufficient_storage";
	default:  return status >= 500 ? "internal_error" : "bad_request";
	}
}

int
storage_errno_status(const struct cb_config *cfg, int err)
{
	/* An EIO (a write the failing disk took back before the kernel
	 * made the file system read-only) or anything else: ask the
	 * directory what it is now. */
	if (err != ENOSPC && err != EDQUOT && err != EROFS) {
		char probe[4096];
		int e;

		if ((size_t)snprintf(probe, sizeof probe, "%s/blobs/tmp/write", cfg->data_dir) <
		    sizeof probe && (e = probe_write(probe)) != 0)
			err = e;
	}
	if (err == ENOSPC || err == EDQUOT)
		return 507;
	return err == EROFS ? 503 : 500;
}

const char *
storage_status_code(int status)
{
	return status == 507 ? "storage_full" : status == 503 ? "storage_read_only" :
	    "internal_error";
}

static char *
upper(struct arena *a, const char *s)
{
	char *u = arena_strdup(a, s);

	for (char *p = u; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	return u;
}

/* The request field a file-API sentence is about ("fileName must be ..."),
 * for errors raised without one; "" when it names none. */
static const char *
field_named(const char *msg)
{
	static const char *const names[] = {
		"fileType", "fileName", "fileSizeBytes", "context", "tags",
		"webhookUrl", "workspaceId", "metadata", "name", "slug",
		"quotaBytes", "allowedFileTypes", "limit", "cursor", "expiresIn",
		"variant", "Content-Length",
	};

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		size_t n = strlen(names[i]);
		if (strncmp(msg, names[i], n) == 0 && msg[n] == ' ')
			return names[i];
	}
	return "";
}

static void
json_array_add_issue(struct json_object *arr, const char *path, const char *msg)
{
	struct json_object *i = json_object_new_object();

	json_object_object_add(i, "path", json_object_new_string(path));
	json_object_object_add(i, "message", json_object_new_string(msg));
	json_object_array_add(arr, i);
}

void
render_error(struct cb_req *r)
{
	struct json_object *root = json_object_new_object();
	struct json_object *e = json_object_new_object();
	int status = r->err.status ? r->err.status : 500;
	const char *code = r->err.code ? r->err.code : "internal_error";
	const char *msg = r->err.message ? r->err.message : "internal error";

	switch (r->dialect) {
	case DIALECT_KV:
		json_object_object_add(e, "code", json_object_new_int(status));
		json_object_object_add(e, "message",
		    json_object_new_string(http_code_name(status)));
		json_object_object_add(root, "error", e);
		break;
	case DIALECT_FILE: {
		struct json_object *d = json_object_new_object();
		json_object_object_add(e, "code",
		    json_object_new_string(upper(r->a, code)));
		if (status == 400 && strcmp(code, "validation_error") == 0) {
			/* Storage Brain's zod handler: one sentence, and each
			 * bad field as {path, message} (its SDK reads them). */
			struct json_object *errs = json_object_new_array();
			if (r->err.nfields == 0)
				json_array_add_issue(errs, field_named(msg), msg);
			for (size_t i = 0; i < r->err.nfields; i++)
				json_array_add_issue(errs, r->err.fields[i], r->err.field_msgs[i]);
			json_object_object_add(d, "errors", errs);
			msg = "Request validation failed";
		}
		json_object_object_add(e, "message", json_object_new_string(msg));
		json_object_object_add(e, "details", d);
		json_object_object_add(root, "error", e);
		break;
	}
	case DIALECT_ASSET:
		json_object_object_add(root, "data", NULL);
		json_object_object_add(e, "code", json_object_new_string(code));
		json_object_object_add(e, "message", json_object_new_string(msg));
		if (r->err.nfields > 0) {
			struct json_object *fs = json_object_new_array();
			for (size_t i = 0; i < r->err.nfields; i++) {
				struct json_object *f = json_object_new_object();
				json_object_object_add(f, "field", json_object_new_string(r->err.fields[i]));
				json_object_object_add(f, "message", json_object_new_string(r->err.field_msgs[i]));
				json_object_array_add(fs, f);
			}
			json_object_object_add(e, "fields", fs);
		}
		json_object_object_add(root, "error", e);
		break;
	}
	resp_json(r, status, root);
}
