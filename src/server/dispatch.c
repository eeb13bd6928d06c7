/* dispatch.c - one request from first byte to access-log line:
 * parse, route, check (auth, scope, body size) from the route table, run the
 * handler, render any error once in the route's dialect, log, count.
 * No handler renders its own error; nothing here trusts a client byte. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cubby/api.h"
#include "cubby/buf.h"
#include "cubby/db.h"
#include "cubby/log.h"
#include "cubby/metrics.h"
#include "cubby/ratelimit.h"
#include "cubby/router.h"
#include "cubby/server.h"
#include "cubby/util.h"

/* A client's X-Request-Id is kept if it is short and plain. */
static int
rid_ok(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (n >= 32 || !(s[n] == '-' || s[n] == '_' || s[n] == '.' ||
		    (s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'z') ||
		    (s[n] >= 'A' && s[n] <= 'Z')))
			return 0;
	return n > 0;
}

static void
make_rid(struct cb_req *r)
{
	static unsigned long counter;
	const char *given = req_header(r, "X-Request-Id");

	if (given != NULL && rid_ok(given)) {
		strlcpy_cb(r->rid, given, sizeof r->rid);
		return;
	}
	snprintf(r->rid, sizeof r->rid, "%08llx%06lx%06lx",
	    (unsigned long long)(now_unix_ms() & 0xffffffffLL),
	    (unsigned long)getpid() & 0xffffff, ++counter & 0xffffff);
}

/* 1 when origin is one of the configured CORS origins. */
static int
origin_allowed(const char *list, const char *origin)
{
	size_t ol = strlen(origin);

	if (strcmp(list, "*") == 0)
		return 1;
	for (const char *p = list; *p; ) {
		size_t n;
		while (*p == ' ' || *p == ',')
			p++;
		n = strcspn(p, ", ");
		if (n == ol && n > 0 && strncmp(p, origin, n) == 0)
			return 1;
		p += n;
	}
	return 0;
}

/* CORS headers for an allowed Origin, on every response (errors too, or a
 * browser reports a CORS failure instead of the error). 1 if allowed. */
static int
cors(struct cb_req *r)
{
	const struct cb_config *cfg = r->ctx->cfg;
	const char *origin = req_header(r, "Origin");

	if (origin == NULL || *cfg->cors_origins == '\0' ||
	    !origin_allowed(cfg->cors_origins, origin))
		return 0;
	resp_header(r, "Access-Control-Allow-Origin",
	    strcmp(cfg->cors_origins, "*") == 0 ? "*" : origin);
	resp_header(r, "Vary", "Origin");
	resp_header(r, "Access-Control-Expose-Headers",
	    "ETag, Content-Range, Content-Length, Content-Disposition, X-Request-Id");
	return 1;
}

/* OPTIONS on a routed path: 204 with Allow, and the preflight answer when
 * the origin is allowed. */
static int
options(struct cb_req *r, const char *allow)
{
	resp_header(r, "Allow", allow);
	if (cors(r) && req_header(r, "Access-Control-Request-Method") != NULL) {
		resp_header(r, "Access-Control-Allow-Methods", allow);
		resp_header(r, "Access-Control-Allow-Headers", r->ctx->cfg->cors_headers);
		resp_header(r, "Access-Control-Max-Age",
		    arena_printf(r->a, "%lld", r->ctx->cfg->cors_max_age));
	}
	return resp_empty(r, 204);
}

/* Method, path, query and routing. 0, -1 after req_fail, or 1 when the
 * request (OPTIONS) has been answered already. */
static int
parse_and_route(struct cb_req *r)
{
	const struct cb_config *cfg = r->ctx->cfg;
	const char *uri, *q, *cl;
	char allow[128];
	size_t plen;
	int n, rc;

	r->method = req_env(r, "REQUEST_METHOD");
	uri = req_env(r, "REQUEST_URI");
	if (uri == NULL) {
		/* Plain CGI may omit REQUEST_URI: rebuild it. */
		const char *sn = req_env(r, "SCRIPT_NAME"), *pi = req_env(r, "PATH_INFO");
		uri = arena_printf(r->a, "%s%s", pi && *pi ? "" : (sn ? sn : ""),
		    pi && *pi ? pi : "");
	}
	q = strchr(uri, '?');
	plen = q ? (size_t)(q - uri) : strlen(uri);
	r->path = arena_strndup(r->a, uri, plen);
	r->query_string = q ? q + 1 : "";
	if (*cfg->base_path) {
		size_t bl = strlen(cfg->base_path);
		if (strncmp(r->path, cfg->base_path, bl) != 0 ||
		    (r->path[bl] != '/' && r->path[bl] != '\0')) {
			r->dialect = DIALECT_KV;
			return req_fail(r, 404, "not_found", "no such route");
		}
		r->path += bl;
		if (*r->path == '\0')
			r->path = "/";
	}
	r->dialect = router_dialect_for(r->path);
	if (r->method == NULL || *r->method == '\0')
		return req_fail(r, 400, "bad_request", "no request method");
	r->head_only = strcmp(r->method, "HEAD") == 0;

	n = path_split(r->a, r->path, strlen(r->path), &r->segs, CB_MAX_SEGS);
	if (n == -1)
		return req_fail(r, 400, "bad_request",
		    "malformed percent-encoding in the path");
	if (n < 0)
		return req_fail(r, 404, "not_found", "no such route");
	r->nsegs = (size_t)n;

	n = query_parse(r->a, r->query_string, strlen(r->query_string),
	    &r->query, CB_MAX_QUERY);
	if (n == -1)
		return req_fail(r, 400, "bad_request",
		    "malformed percent-encoding in the query string");
	if (n < 0)
		return req_fail(r, 400, "bad_request",
		    "more than %d query parameters", CB_MAX_QUERY);
	r->nquery = (size_t)n;

	rc = router_match(r->a, r->method, r->segs, r->nsegs, &r->route_idx,
	    r->params, allow, sizeof allow);
	/* A path under a file-API root that only the key-value parameters
	 * match (/api/v1/files/x/y as bucket "files") is no bucket: it is an
	 * unknown file-API path, answered as one. */
	if (rc == ROUTE_FOUND && r->dialect == DIALECT_FILE &&
	    cb_routes[r->route_idx].dialect == DIALECT_KV)
		rc = ROUTE_NOT_FOUND;
	if (rc == ROUTE_NOT_FOUND)
		return req_fail(r, 404, "not_found", "no route for %s %.200s",
		    r->method, r->path);
	if (rc == ROUTE_BAD_METHOD && strcmp(r->method, "OPTIONS") == 0) {
		options(r, allow);
		return 1;
	}
	if (rc == ROUTE_BAD_METHOD) {
		resp_header(r, "Allow", allow);
		return req_fail(r, 405, "method_not_allowed",
		    "method %s is not allowed here", r->method);
	}
	r->route = &cb_routes[r->route_idx];
	r->dialect = r->route->dialect;

	if ((cl = req_env(r, "CONTENT_LENGTH")) != NULL && *cl) {
		long long v;
		if (parse_ll(cl, 0, INT64_MAX, &v) != 0)
			return req_fail(r, 400, "bad_request", "bad Content-Length");
		r->content_length = v;
	}
	r->body_limit = r->route->body_limit == BODY_DEFAULT
	    ? cfg->max_body : r->route->body_limit;
	if (r->content_length > r->body_limit)
		return req_too_large(r, r->body_limit);
	return 0;
}

/* Request rates (rate_limit_ip, rate_limit_key), counted in the table
 * every process of this data directory shares. Health, readiness and
 * metrics are never limited (monitoring must see a flood). 0, or -1
 * after a 429 with Retry-After. */
static int
check_rate(struct cb_req *r)
{
	const struct cb_config *cfg = r->ctx->cfg;
	const char *who[2] = { NULL, NULL };
	long long max[2] = { cfg->rate_limit_ip, cfg->rate_limit_key };
	int left = -1, reset = 0, limit = 0, wait = 0;

	if ((max[0] <= 0 && max[1] <= 0) || r->route->handler == ops_health ||
	    r->route->handler == ops_ready || r->route->handler == ops_metrics)
		return 0;
	if (max[0] > 0 && (who[0] = req_env(r, "REMOTE_ADDR")) != NULL)
		who[0] = arena_printf(r->a, "ip:%s", who[0]);
	/* The credential as sent: a header, else a token in the query. (A
	 * stream of made-up keys is what the address limit is for.) */
	if (max[1] > 0) {
		const char *c = req_header(r, "Authorization");
		if (c == NULL)
			c = req_query(r, "access_token");
		if (c != NULL && *c)
			who[1] = arena_printf(r->a, "key:%s", c);
	}
	for (int i = 0; i < 2; i++) {
		int rem, rs, w;
		if (who[i] == NULL)
			continue;
		w = ratelimit_hit(who[i], (int)max[i], (int)cfg->rate_limit_window, &rem, &rs);
		/* The headers tell of the tighter of the two. */
		if (left < 0 || rem < left) {
			left = rem;
			reset = rs;
			limit = (int)max[i];
		}
		if (w > wait)
			wait = w;
		if (w > 0)
			break;      /* refused: the key's allowance is not spent */
	}
	if (left < 0)
		return 0;
	resp_header(r, "X-RateLimit-Limit", arena_printf(r->a, "%d", limit));
	resp_header(r, "X-RateLimit-Remaining", arena_printf(r->a, "%d", left));
	resp_header(r, "X-RateLimit-Reset", arena_printf(r->a, "%d", reset));
	if (wait == 0)
		return 0;
	resp_header(r, "Retry-After", arena_printf(r->a, "%d", wait));
	return req_fail(r, 429, "rate_limited", "too many requests: try again in %d s", wait);
}

static void
db_fault_status(struct cb_req *r)
{
	switch (db_fault_take(r->ctx->db)) {
	case DB_FAULT_BUSY:
		r->err.status = 0;
		resp_header(r, "Retry-After", "1");
		req_fail(r, 503, "database_busy", "the database is busy: try again");
		break;
	case DB_FAULT_FULL:
		r->err.status = 0;
		req_fail(r, 507, "storage_full", "the server's storage is full");
		break;
	case DB_FAULT_READONLY:
		r->err.status = 0;
		resp_header(r, "Retry-After", "5");
		req_fail(r, 503, "storage_read_only", "the server's storage is read-only");
		break;
	}
}

/* Authentication and scope, from the route table. 0, or -1 after req_fail.
 * Fails closed: an auth kind with no checker refuses. */
static int
check_auth(struct cb_req *r)
{
	switch (r->route->auth) {
	case AUTH_NONE:
		return 0;
	case AUTH_BUCKET:
		return kv_route_auth(r);
	case AUTH_TENANT:
		return tenant_route_auth(r);
	case AUTH_ADMIN:
		return admin_route_auth(r);
	case AUTH_TENANT_OR_URL:
		return tenant_or_signed_auth(r);
	default:
		log_err("rid=%s route %s %s: no checker for its auth kind",
		    r->rid, r->route->method, r->route->pattern);
		return req_fail(r, 401, "unauthorized", "authentication required");
	}
}

/* One JSON object per request, for log pipelines (access_log_format =
 * json). Like the text line: never the query string. */
static void
access_json(struct cb_req *r, uint64_t dur_us)
{
	const char *addr = req_env(r, "REMOTE_ADDR");
	char iso[32];
	struct buf b;

	buf_init(&b, 8192);
	fmt_iso8601_ms(iso, sizeof iso, now_unix_ms());
	buf_printf(&b, "{\"time\":\"%s\",\"level\":\"info\",\"type\":\"access\","
	    "\"pid\":%ld,\"rid\":", iso, (long)getpid());
	buf_json_string(&b, r->rid, strlen(r->rid));
	buf_puts(&b, ",\"method\":");
	buf_json_string(&b, r->method ? r->method : "-", strlen(r->method ? r->method : "-"));
	buf_puts(&b, ",\"path\":");
	buf_json_string(&b, r->path ? r->path : "-", strlen(r->path ? r->path : "-"));
	buf_puts(&b, ",\"route\":");
	if (r->route != NULL)
		buf_json_string(&b, r->route->pattern, strlen(r->route->pattern));
	else
		buf_puts(&b, "null");
	buf_printf(&b, ",\"status\":%d,\"bytes_in\":%lld,\"bytes_out\":%lld,"
	    "\"duration_ms\":%.3f,\"remote_addr\":", r->status, r->body_read,
	    r->bytes_out, (double)dur_us / 1000.0);
	if (addr != NULL)
		buf_json_string(&b, addr, strlen(addr));
	else
		buf_puts(&b, "null");
	/* The last byte stays free for log_line's newline; a line over the
	 * cap (a path of kilobytes) is not written half. */
	if (buf_putc(&b, '}') == 0 && b.len < b.max)
		log_line(CB_LOG_INFO, b.data, b.len);
	buf_free(&b);
}

void
dispatch(struct cb_req *r)
{
	struct metrics_slot *slot = metrics_slot(r->ctx->slot);
	uint64_t dur;
	int rc;

	r->t_start_us = now_mono_us();
	make_rid(r);
	rc = parse_and_route(r);   /* 1: an OPTIONS request, answered */
	if (rc != 1)
		cors(r);
	if (rc == 0)
		rc = check_rate(r);
	if (rc == 0)
		rc = check_auth(r);
	if (rc == 0) {
		if (slot != NULL) {
			memcpy(slot->rid, r->rid, sizeof slot->rid);
			__atomic_store_n(&slot->route, r->route_idx, __ATOMIC_RELAXED);
		}
		db_fault_clear(r->ctx->db);
		rc = r->route->handler(r);
		if (rc != 0 && r->err.status == 0)
			req_fail(r, 500, "internal_error", "internal error");
		if (rc == 0 && !r->headers_sent) {
			log_err("rid=%s %s %s: handler sent no response", r->rid,
			    r->route->method, r->route->pattern);
			req_fail(r, 500, "internal_error", "internal error");
		}
	}
	/* A 500 whose transaction the database refused says why, in a
	 * status a client can act on. */
	if (r->err.status == 500 && !r->headers_sent && r->route != NULL)
		db_fault_status(r);
	if (r->err.status != 0) {
		if (!r->headers_sent)
			render_error(r);
		if (r->err.status >= 500)
			log_err("rid=%s %s %s: %d %s", r->rid, r->method ? r->method : "-",
			    r->path ? r->path : "-", r->err.status, r->err.message);
	}
	dur = now_mono_us() - r->t_start_us;
	if (slot != NULL) {
		__atomic_store_n(&slot->route, -1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&slot->requests, 1, __ATOMIC_RELAXED);
	}
	metrics_record(r->route_idx, r->status, dur, (uint64_t)r->body_read,
	    (uint64_t)r->bytes_out);
	/* The query string is never logged: it can carry credentials
	 * (access_token, key, signed-URL tokens). */
	if (r->ctx->cfg->access_log && log_get_level() >= CB_LOG_INFO) {
		if (r->ctx->cfg->access_log_format[0] == 'j')
			access_json(r, dur);
		else
			log_info("access rid=%s %s %s %d in=%lld out=%lld %.3fms",
			    r->rid, r->method ? r->method : "-", r->path ? r->path : "-",
			    r->status, r->body_read, r->bytes_out, (double)dur / 1000.0);
	}
	r->ctx->served++;
}

struct db *
ctx_db(struct cb_ctx *ctx)
{
	char err[512];
	uint64_t now;

	if (ctx->db != NULL)
		return ctx->db;
	now = now_mono_us();
	if (now < ctx->db_retry_us)
		return NULL;
	ctx->db_retry_us = now + 1000000;
	if (db_open_current(ctx->cfg, &ctx->db, err, sizeof err) != 0)
		log_err("%s", err);
	return ctx->db;
}
