/* request.h - one HTTP request as the FastCGI (or CGI) layer hands it over,
 * and the helpers a handler uses to read it and answer it.
 * All request memory comes from r->a and dies with the request. A handler
 * answers exactly once: a resp_* call, or req_fail() and return -1. */
#ifndef CUBBY_REQUEST_H
#define CUBBY_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "cubby/arena.h"
#include "cubby/url.h"

struct json_object;
struct cb_config;
struct cb_ctx;
struct route;

#define CB_MAX_PARAMS   8
#define CB_MAX_SEGS     64
#define CB_MAX_QUERY    256
#define CB_MAX_HEADERS  32

/* Which document owns a route: decides the error envelope. */
enum cb_dialect { DIALECT_KV = 0, DIALECT_FILE, DIALECT_ASSET };

/* Byte transport under a request: FastCGI streams or plain CGI stdio. */
struct cb_io {
	int (*read)(void *in, char *buf, int n);          /* >0, 0 at end, <0 error */
	int (*write)(void *out, const char *buf, int n);  /* n, or <0 on error */
};

#define CB_MAX_FIELDS 16

struct cb_error {
	int status;             /* HTTP status, 0 = no error */
	const char *code;       /* snake_case machine code, e.g. "not_found" */
	const char *message;    /* human sentence, no secrets */
	size_t nfields;         /* validation: each bad field and why */
	const char *fields[CB_MAX_FIELDS];
	const char *field_msgs[CB_MAX_FIELDS];
};

struct cb_hdr {
	const char *name;
	const char *value;
};

struct cb_req {
	struct arena *a;
	struct cb_ctx *ctx;

	const struct cb_io *io;
	void *in, *out;
	char **envp;

	const char *method;
	const char *path;           /* raw path (no query), base path stripped */
	const char *query_string;
	char **segs;                /* decoded path segments */
	size_t nsegs;
	struct param *query;
	size_t nquery;

	const struct route *route;  /* NULL until routed */
	int route_idx;              /* index in the route table, -1 if none */
	const char *params[CB_MAX_PARAMS];
	enum cb_dialect dialect;
	int head_only;              /* HEAD: headers only */

	long long content_length;   /* -1 when not given */
	long long body_read;
	long long body_limit;

	int status;
	struct cb_hdr hdrs[CB_MAX_HEADERS];
	size_t nhdrs;
	int headers_sent;
	long long bytes_out;
	int write_failed;

	void *principal;            /* who is asking, set by the route's auth */

	struct cb_error err;
	char rid[33];
	uint64_t t_start_us;
};

/* --- reading --- */

/* Header by its HTTP name ("Authorization", "Content-Type"), or NULL. */
const char *req_header(const struct cb_req *r, const char *name);
/* CGI/FastCGI parameter by its variable name ("REMOTE_ADDR"), or NULL. */
const char *req_env(const struct cb_req *r, const char *var);
/* Decoded query parameter, or NULL. */
const char *req_query(const struct cb_req *r, const char *name);
/* Decoded path parameter of the matched route ("bucket"), or NULL. */
const char *req_param(const struct cb_req *r, const char *name);
/* Read up to n body bytes. >0 bytes, 0 at the end, -1 after req_fail
 * (413 past the route's limit, 400 for a body shorter than announced). */
long req_read(struct cb_req *r, char *buf, size_t n);
/* The whole body into arena memory (NUL-terminated), at most max bytes.
 * 0, or -1 after req_fail (413 when larger than max). */
int req_body(struct cb_req *r, size_t max, char **out, size_t *len);

/* The body parsed as one JSON value (at most max bytes, nesting depth 32,
 * nothing after it but white space). The object belongs to the request:
 * it is released with the arena; an empty body gives NULL. 0, or -1
 * after req_fail (400 validation_error, 413). */
int req_json(struct cb_req *r, size_t max, struct json_object **out);

/* --- answering --- */

/* Record an error for the dialect's renderer; always returns -1. */
/* Refuse a body over limit in the dialect's words (413, or 400 for a
 * key-value value as Keydock answers it); -1. */
int req_too_large(struct cb_req *r, long long limit);
int req_fail(struct cb_req *r, int status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Record a bad request field (a 400 validation_error; the first one's
 * reason becomes the message). Handlers go on checking the other fields
 * and return -1 when r->err.status is set. Always returns -1. */
int req_field_error(struct cb_req *r, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The configured public_url, else "scheme://host[:port]" + base path as
 * the client reached us (for absolute signed URLs); the Host header is
 * kept only when it is a plain host. */
const char *req_origin(struct cb_req *r);
/* Add a response header (copied; CR/LF in value are refused). */
void resp_header(struct cb_req *r, const char *name, const char *value);
/* Start a response of known (or -1 unknown) length. 0 or -1. */
int resp_begin(struct cb_req *r, int status, const char *ctype,
    long long length);
/* Body bytes after resp_begin. 0 or -1 (client gone). */
int resp_write(struct cb_req *r, const void *p, size_t n);
/* A complete response with a body. Returns 0. */
int resp_send(struct cb_req *r, int status, const char *ctype,
    const void *body, size_t len);
/* A complete JSON response; takes ownership of obj. Returns 0. */
int resp_json(struct cb_req *r, int status, struct json_object *obj);
/* A response without a body (204, 200 for HEAD...). Returns 0. */
int resp_empty(struct cb_req *r, int status);

/* snake_case name of a status, as the KV document's message table has it
 * ("not_found", "method_not_allowed", ...). */
const char *http_code_name(int status);
/* A failed write to the data directory, by its errno (and, for any other
 * than ENOSPC/EDQUOT/EROFS, by a probe of the directory): 507 (full), 503
 * (the file system went read-only) or 500; and the code to answer with. */
int storage_errno_status(const struct cb_config *cfg, int err);
const char *storage_status_code(int status);
/* Standard reason phrase for a status. */
const char *http_reason(int status);

#endif
