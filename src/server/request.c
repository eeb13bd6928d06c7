/* request.c - reading a request (headers, query, body) and writing its
 * response over FastCGI or CGI. Bodies stream: nothing here holds a whole
 * body unless the handler asks for it with a cap. */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "cubby/json.h"
#include "cubby/kv.h"
#include "cubby/request.h"
#include "cubby/router.h"
#include "cubby/server.h"
#include "cubby/util.h"

void
req_init(struct cb_req *r, struct arena *a, struct cb_ctx *ctx,
    const struct cb_io *io, void *in, void *out, char **envp)
{
	memset(r, 0, sizeof *r);
	r->a = a;
	r->ctx = ctx;
	r->io = io;
	r->in = in;
	r->out = out;
	r->envp = envp;
	r->route_idx = -1;
	r->content_length = -1;
}

const char *
req_env(const struct cb_req *r, const char *var)
{
	size_t n = strlen(var);

	for (char **e = r->envp; e && *e; e++)
		if (strncmp(*e, var, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

const char *
req_header(const struct cb_req *r, const char *name)
{
	char var[128];
	size_t i, o = 0;

	if (strcasecmp(name, "Content-Type") == 0)
		return req_env(r, "CONTENT_TYPE");
	if (strcasecmp(name, "Content-Length") == 0)
		return req_env(r, "CONTENT_LENGTH");
	memcpy(var, "HTTP_", 5);
	o = 5;
	for (i = 0; name[i] && o < sizeof var - 1; i++)
		var[o++] = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
	var[o] = '\0';
	return req_env(r, var);
}

const char *
req_query(const struct cb_req *r, const char *name)
{
	return param_get(r->query, r->nquery, name);
}

const char *
req_param(const struct cb_req *r, const char *name)
{
	for (size_t i = 0; i < CB_MAX_PARAMS; i++) {
		const char *n = router_param_name(r->route_idx, i);
		if (n == NULL)
			break;
		if (strcmp(n, name) == 0)
			return r->params[i];
	}
	return NULL;
}

/* A body that has taken body_min_rate_after seconds and averages less than
 * body_min_rate bytes a second holds a worker for a client that is not
 * sending it: cut it off. */
static int
body_too_slow(const struct cb_req *r)
{
	const struct cb_config *cfg = r->ctx ? r->ctx->cfg : NULL;
	uint64_t us;

	if (cfg == NULL || cfg->body_min_rate <= 0)
		return 0;
	us = now_mono_us() - r->t_start_us;
	if (us < (uint64_t)cfg->body_min_rate_after * 1000000u)
		return 0;
	return (double)r->body_read < (double)cfg->body_min_rate * ((double)us / 1e6);
}

long
req_read(struct cb_req *r, char *buf, size_t n)
{
	int got;

	if (r->content_length >= 0) {
		long long left = r->content_length - r->body_read;
		if (left <= 0)
			return 0;
		if ((long long)n > left)
			n = (size_t)left;
	}
	if (n > 1 << 30)
		n = 1 << 30;
	got = r->io->read(r->in, buf, (int)n);
	if (got < 0)
		return req_fail(r, 400, "bad_request", "error reading the request body");
	if (got == 0) {
		if (r->content_length >= 0 && r->body_read < r->content_length)
			return req_fail(r, 400, "bad_request",
			    "request body shorter than Content-Length");
		return 0;
	}
	r->body_read += got;
	if (r->body_limit >= 0 && r->body_read > r->body_limit)
		return req_too_large(r, r->body_limit);
	if (body_too_slow(r))
		return req_fail(r, 408, "request_timeout", "the request body arrived "
		    "slower than %lld bytes a second; send it again",
		    r->ctx->cfg->body_min_rate);
	return got;
}

int
req_body(struct cb_req *r, size_t max, char **out, size_t *len)
{
	size_t cap, used = 0;
	char *p;

	if (r->content_length > (long long)max)
		return req_too_large(r, (long long)max);
	cap = r->content_length >= 0 ? (size_t)r->content_length : 4096;
	if (cap > max)
		cap = max;
	p = arena_alloc(r->a, cap + 1);
	for (;;) {
		long got;
		if (used == cap) {
			char *np;
			if (cap >= max) {
				/* Full: one more byte means over the cap. */
				char probe;
				got = req_read(r, &probe, 1);
				if (got < 0)
					return -1;
				if (got > 0)
					return req_too_large(r, (long long)max);
				break;
			}
			cap = cap * 2 > max ? max : cap * 2;
			np = arena_alloc(r->a, cap + 1);
			memcpy(np, p, used);
			p = np;
		}
		got = req_read(r, p + used, cap - used);
		if (got < 0)
			return -1;
		if (got == 0)
			break;
		used += (size_t)got;
	}
	p[used] = '\0';
	*out = p;
	*len = used;
	return 0;
}

static void
json_put(void *p)
{
	json_object_put(p);
}

int
req_json(struct cb_req *r, size_t max, struct json_object **out)
{
	struct json_object *o;
	char *body;
	size_t len;

	*out = NULL;
	if (req_body(r, max, &body, &len) != 0)
		return -1;
	/* No body at all (curl -X POST sends no Content-Length) is no JSON,
	 * not bad JSON: *out stays NULL and the caller decides. */
	if (len == 0)
		return 0;
	/* Strictly (cubby/json.h): NaN, comments, \u0000 and the like never
	 * reach a handler, so nothing stored can be echoed as bad JSON. */
	if (json_strict_parse(body, len, &o) != 0)
		return req_fail(r, 400, "validation_error", "body is not valid JSON");
	if (o != NULL)
		arena_defer(r->a, json_put, o);
	*out = o;
	return 0;
}

int
req_too_large(struct cb_req *r, long long limit)
{
	/* A key-value value past its 16 KiB is the value's fault, and
	 * Keydock answers it 400 bad_request; every other body is 413. */
	if (r->dialect == DIALECT_KV && r->route != NULL &&
	    r->route->body_limit == KV_VALUE_MAX)
		return req_fail(r, 400, "bad_request",
		    "values are at most %lld bytes", limit);
	return req_fail(r, 413, r->dialect == DIALECT_FILE ? "file_too_large" :
	    "payload_too_large", "request body exceeds %lld bytes", limit);
}

int
req_fail(struct cb_req *r, int status, const char *code, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	/* The first error wins: it is the cause, later ones are fallout. */
	if (r->err.status != 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	r->err.status = status;
	r->err.code = code;
	r->err.message = arena_strdup(r->a, msg);
	return -1;
}

int
req_field_error(struct cb_req *r, const char *field, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (r->err.status == 0) {
		r->err.status = 400;
		r->err.code = "validation_error";
		r->err.message = arena_strdup(r->a, msg);
	}
	if (r->err.status == 400 && r->err.nfields < CB_MAX_FIELDS) {
		r->err.fields[r->err.nfields] = arena_strdup(r->a, field);
		r->err.field_msgs[r->err.nfields++] = arena_strdup(r->a, msg);
	}
	return -1;
}

/* The entry of list (names separated by commas or spaces) that host
 * (its port left out) is, case-insensitively; else the list's first entry.
 * Into out. */
static void
pinned_host(const char *list, const char *host, char *out, size_t outlen)
{
	size_t hl = strcspn(host, ":"), first = 0;
	const char *first_at = NULL;

	if (*host == '[')
		hl = strcspn(host, "]") + 1;
	for (const char *p = list; *p; ) {
		size_t n;
		p += strspn(p, ", \t");
		n = strcspn(p, ", \t");
		if (n == 0)
			break;
		if (first_at == NULL) {
			first_at = p;
			first = n;
		}
		if (strcspn(p, ":") >= n ? n == hl && strncasecmp(p, host, n) == 0 :
		    strlen(host) == n && strncasecmp(p, host, n) == 0) {
			snprintf(out, outlen, "%.*s", (int)n, p);
			return;
		}
		p += n;
	}
	snprintf(out, outlen, "%.*s", (int)first, first_at ? first_at : "localhost");
}

const char *
req_origin(struct cb_req *r)
{
	const char *host = req_header(r, "Host"), *https = req_env(r, "HTTPS");
	const char *scheme = req_env(r, "REQUEST_SCHEME"), *port;

	/* Behind a proxy that terminates TLS, the request itself cannot say
	 * how clients reach us: the operator does. */
	if (*r->ctx->cfg->public_url)
		return r->ctx->cfg->public_url;
	if (scheme == NULL || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
		scheme = https && (strcmp(https, "on") == 0 || strcmp(https, "1") == 0) ? "https" : "http";
	if (host == NULL || *host == '\0' || strlen(host) > 255 ||
	    strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") != strlen(host))
		host = "localhost";
	/* allowed_hosts pins the names URLs are built from: a request naming
	 * another Host gets the first allowed one in its URLs. */
	if (*r->ctx->cfg->allowed_hosts) {
		char *pinned = arena_alloc(r->a, 256);
		pinned_host(r->ctx->cfg->allowed_hosts, host, pinned, 256);
		host = pinned;
	}
	/* Some fronts pass the host without its port (Debian's nginx sets
	 * HTTP_HOST to $host): add the port the request came in on. */
	if (strchr(host, ':') == NULL && (port = req_env(r, "SERVER_PORT")) != NULL &&
	    strspn(port, "0123456789") == strlen(port) && *port && strlen(port) <= 5 &&
	    strcmp(port, strcmp(scheme, "https") == 0 ? "443" : "80") != 0)
		return arena_printf(r->a, "%s://%s:%s%s", scheme, host, port, r->ctx->cfg->base_path);
	return arena_printf(r->a, "%s://%s%s", scheme, host, r->ctx->cfg->base_path);
}

void
resp_header(struct cb_req *r, const char *name, const char *value)
{
	if (r->headers_sent || r->nhdrs == CB_MAX_HEADERS)
		return;
	if (strpbrk(value, "\r\n") != NULL || strpbrk(name, "\r\n: ") != NULL)
		return;
	r->hdrs[r->nhdrs].name = arena_strdup(r->a, name);
	r->hdrs[r->nhdrs].value = arena_strdup(r->a, value);
	r->nhdrs++;
}

const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 507: return "Insufficient Storage";
	default:  return "Unknown";
	}
}

static int
out_raw(struct cb_req *r, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0 && !r->write_failed) {
		int chunk = n > (1u << 30) ? (1 << 30) : (int)n;
		if (r->io->write(r->out, c, chunk) != chunk) {
			r->write_failed = 1;
			return -1;
		}
		c += chunk;
		n -= (size_t)chunk;
	}
	return r->write_failed ? -1 : 0;
}

/* Append one formatted header line if it fits whole; keeps room for the
 * final CRLF. */
static void __attribute__((format(printf, 4, 5)))
head_add(char *head, size_t size, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int m;

	va_start(ap, fmt);
	m = vsnprintf(head + *n, size - *n, fmt, ap);
	va_end(ap);
	if (m > 0 && (size_t)m < size - *n - 2)
		*n += (size_t)m;
	else
		head[*n] = '\0';   /* dropped: it did not fit */
}

int
resp_begin(struct cb_req *r, int status, const char *ctype, long long length)
{
	char head[8192];
	size_t n = 0;

	if (r->headers_sent)
		return -1;
	r->status = status;
	head_add(head, sizeof head, &n, "Status: %d %s\r\n", status,
	    http_reason(status));
	if (ctype != NULL)
		head_add(head, sizeof head, &n, "Content-Type: %s\r\n", ctype);
	if (length >= 0)
		head_add(head, sizeof head, &n, "Content-Length: %lld\r\n", length);
	if (r->rid[0])
		head_add(head, sizeof head, &n, "X-Request-Id: %s\r\n", r->rid);
	for (size_t i = 0; i < r->nhdrs; i++)
		head_add(head, sizeof head, &n, "%s: %s\r\n", r->hdrs[i].name,
		    r->hdrs[i].value);
	head[n++] = '\r';
	head[n++] = '\n';
	r->headers_sent = 1;
	return out_raw(r, head, n);
}

int
resp_write(struct cb_req *r, const void *p, size_t n)
{
	if (r->head_only)
		return 0;
	if (out_raw(r, p, n) != 0)
		return -1;
	r->bytes_out += (long long)n;
	return 0;
}

int
resp_send(struct cb_req *r, int status, const char *ctype, const void *body,
    size_t len)
{
	if (resp_begin(r, status, ctype, (long long)len) == 0)
		resp_write(r, body, len);
	return 0;
}

int
resp_json(struct cb_req *r, int status, struct json_object *obj)
{
	size_t len;
	const char *s = json_object_to_json_string_length(obj,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);

	resp_send(r, status, "application/json", s, len);
	json_object_put(obj);
	return 0;
}

int
resp_empty(struct cb_req *r, int status)
{
	resp_begin(r, status, NULL, status == 204 || status == 304 ? -1 : 0);
	return 0;
}
