/* kv_key.c - KV keys in the KV document's shapes: GET/HEAD (the stored
 * value with its Content-Type), PUT/POST (inferred type, echoed), DELETE,
 * PATCH counters, and listing (text, json, jsonl; Accept negotiation).
 * Listing streams: memory stays flat whatever the number of keys. */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "api/kv_api.h"
#include "cubby/api.h"
#include "cubby/base64.h"
#include "cubby/buf.h"
#include "cubby/kv.h"
#include "cubby/server.h"
#include "cubby/util.h"

/* ?ttl=: -1 when absent; -2 after req_fail. */
static int64_t
ttl_param(struct cb_req *r)
{
	const char *t = req_query(r, "ttl");
	long long v;

	if (t == NULL)
		return -1;
	if (parse_ll(t, 0, KV_TTL_MAX, &v) != 0) {
		req_fail(r, 400, "bad_request", "ttl must be 0 to %lld seconds", KV_TTL_MAX);
		return -2;
	}
	return v;
}

static int
send_value(struct cb_req *r, int status, const struct kv_value *v)
{
	const char *body, *ctype;
	size_t len;

	kv_render(r->a, v, &body, &len, &ctype);
	return resp_send(r, status, ctype, body, len);
}

int
kv_api_get(struct cb_req *r)
{
	const char *key = req_param(r, "key");
	struct kv_value v;
	int rc = kv_get(ctx_db(r->ctx), r->a, kv_access_of(r)->b.id, key, strlen(key), &v);

	return rc ? kv_fail(r, rc, NULL) : send_value(r, 200, &v);
}

int
kv_api_put(struct cb_req *r)
{
	const char *key = req_param(r, "key"), *why = "";
	struct kv_value v;
	int64_t ttl = ttl_param(r);
	char *body;
	size_t len;
	int rc;

	if (ttl == -2 || req_body(r, KV_VALUE_MAX, &body, &len) != 0)
		return -1;
	if ((rc = kv_infer(r->a, req_header(r, "Content-Type"), body, len, &v, &why)) != 0 ||
	    (rc = kv_put(ctx_db(r->ctx), kv_limits_of(r), &kv_access_of(r)->b, key, strlen(key), &v, ttl, &why)) != 0)
		return kv_fail(r, rc, why);
	return send_value(r, 200, &v);
}

int
kv_api_delete(struct cb_req *r)
{
	const char *key = req_param(r, "key");
	int rc = kv_delete(ctx_db(r->ctx), kv_access_of(r)->b.id, key, strlen(key));

	return rc ? kv_fail(r, rc, NULL) : resp_empty(r, 204);
}

int
kv_api_incr(struct cb_req *r)
{
	const char *key = req_param(r, "key"), *why = "";
	struct kv_value v;
	int64_t ttl = ttl_param(r);
	char *body;
	size_t len;
	int rc;

	if (ttl == -2 || req_body(r, KV_VALUE_MAX, &body, &len) != 0)
		return -1;
	rc = kv_incr(ctx_db(r->ctx), kv_limits_of(r), r->a, &kv_access_of(r)->b,
	    key, strlen(key), body, len, ttl, &v, &why);
	return rc ? kv_fail(r, rc, why) : send_value(r, 200, &v);
}

/* ---- listing --------------------------------------------------------- */

enum fmt { FMT_TEXT, FMT_JSON, FMT_JSONL };

struct lister {
	struct cb_req *r;
	struct buf out;
	char *scratch;          /* one row's number or base64, reused */
	enum fmt fmt;
	int values;
	size_t n;
};

/* Pick the format: ?format= wins (an unknown name is 406), then the first
 * media range of Accept that names one; anything else falls back to
 * text, as Keydock does. */
static int
negotiate(struct cb_req *r, enum fmt *f)
{
	static const struct { const char *name, *media; enum fmt f; } fmts[] = {
		{ "json", "application/json", FMT_JSON },
		{ "jsonl", "application/x-ndjson", FMT_JSONL },
		{ "ndjson", "application/jsonl", FMT_JSONL },
		{ "text", "text/plain", FMT_TEXT },
		{ "txt", NULL, FMT_TEXT },
	};
	const size_t nf = sizeof fmts / sizeof fmts[0];
	const char *q = req_query(r, "format"), *accept = req_header(r, "Accept");

	*f = FMT_TEXT;
	if (q != NULL) {
		for (size_t i = 0; i < nf; i++)
			if (strcasecmp(q, fmts[i].name) == 0) {
				*f = fmts[i].f;
				return 0;
			}
		return req_fail(r, 406, "not_acceptable", "format is text, json or jsonl");
	}
	if (accept == NULL)
		return 0;
	for (const char *p = accept; *p; ) {
		size_t n;
		while (*p == ' ')
			p++;
		n = strcspn(p, ",;");
		while (n > 0 && p[n - 1] == ' ')
			n--;
		for (size_t i = 0; i < nf; i++)
			if (fmts[i].media != NULL && strlen(fmts[i].media) == n &&
			    strncasecmp(p, fmts[i].media, n) == 0) {
				*f = fmts[i].f;
				return 0;
			}
		p += strcspn(p, ",");
		while (*p == ',')
			p++;
	}
	return 0;
}

/* Text listing: one entry a line; a backslash, line feed or carriage
 * return inside a key or value is written \\, \n or \r, so no entry
 * can make a line of its own. */
static int
put_text(struct buf *b, const char *p, size_t n)
{
	int rc = 0;
	size_t run = 0;

	for (size_t i = 0; i < n; i++) {
		const char *esc = p[i] == '\\' ? "\\\\" : p[i] == '\n' ? "\\n" :
		    p[i] == '\r' ? "\\r" : NULL;
		if (esc == NULL)
			continue;
		rc |= buf_append(b, p + run, i - run);
		rc |= buf_append(b, esc, 2);
		run = i + 1;
	}
	rc |= buf_append(b, p + run, n - run);
	return rc;
}

/* A value as the text listing writes it, in l->scratch for bytes
 * (base64); other kinds point at their own data (a number at the text it
 * was sent as). json: a number written out as JSON instead. No per-row
 * allocation. */
static void
value_text(struct lister *l, const struct kv_value *v, int json, const char **p,
    size_t *n)
{
	switch (v->type) {
	case KV_INT:
	case KV_FLOAT:
		if (json || v->data == NULL) {
			*n = kv_format_number(v, l->scratch, KV_NUM_MAX);
			*p = l->scratch;
		} else {
			*p = v->data;
			*n = v->len;
		}
		break;
	case KV_BYTES:
		base64_encode(l->scratch, v->data, v->len);
		*n = strlen(l->scratch);
		*p = l->scratch;
		break;
	default:
		*p = v->data;
		*n = v->len;
	}
}

static int
put_json_value(struct lister *l, const struct kv_value *v)
{
	const char *p;
	size_t n;

	value_text(l, v, 1, &p, &n);
	if (v->type == KV_TEXT || v->type == KV_BYTES)
		return buf_json_string(&l->out, p, n);
	return buf_append(&l->out, p, n);
}

static int
flush(struct lister *l)
{
	int rc = resp_write(l->r, l->out.data, l->out.len);

	buf_reset(&l->out);
	return rc;
}

static int
list_row(void *arg, const char *key, size_t keylen, const struct kv_value *v)
{
	struct lister *l = arg;
	int rc = 0;

	if (l->fmt == FMT_JSON)
		rc |= buf_puts(&l->out, l->n ? "," : "");
	if (l->fmt == FMT_TEXT) {
		rc |= put_text(&l->out, key, keylen);
		if (l->values) {
			const char *p;
			size_t n;
			value_text(l, v, 0, &p, &n);
			rc |= buf_putc(&l->out, '=');
			rc |= put_text(&l->out, p, n);
		}
		rc |= buf_putc(&l->out, '\n');
	} else {
		if (l->values)
			rc |= buf_putc(&l->out, '[');
		rc |= buf_json_string(&l->out, key, keylen);
		if (l->values) {
			rc |= buf_putc(&l->out, ',');
			rc |= put_json_value(l, v);
			rc |= buf_putc(&l->out, ']');
		}
		if (l->fmt == FMT_JSONL)
			rc |= buf_putc(&l->out, '\n');
	}
	l->n++;
	if (rc != 0)
		return -1;
	return l->out.len >= 32768 ? flush(l) : 0;
}

int
kv_api_list(struct cb_req *r)
{
	static const char *const ctypes[] = {
		"text/plain; charset=utf-8", "application/json", "application/x-ndjson",
	};
	struct kv_list_opts o;
	struct lister l;
	const char *s, *prefix;
	long long v;
	int rc, b;

	memset(&o, 0, sizeof o);
	memset(&l, 0, sizeof l);
	l.r = r;
	o.limit = KV_LIST_DEFAULT;
	if ((s = req_query(r, "limit")) != NULL) {
		if (parse_ll(s, 1, KV_LIST_MAX, &v) != 0)
			return req_fail(r, 400, "bad_request", "limit is 1 to 1000000");
		o.limit = v;
	}
	if ((s = req_query(r, "skip")) != NULL) {
		if (parse_ll(s, 0, INT64_MAX, &v) != 0)
			return req_fail(r, 400, "bad_request", "skip is 0 or more");
		o.skip = v;
	}
	if ((s = req_query(r, "reverse")) != NULL) {
		if ((b = parse_bool(s)) < 0)
			return req_fail(r, 400, "bad_request", "reverse is true or false");
		o.reverse = b;
	}
	if ((s = req_query(r, "values")) != NULL) {
		if ((b = parse_bool(s)) < 0)
			return req_fail(r, 400, "bad_request", "values is true or false");
		o.values = l.values = b;
	}
	if (negotiate(r, &l.fmt) != 0)
		return -1;
	/* Listing needs enumerate; listing values needs read as well. */
	rc = kv_list_scope(kv_access_of(r), KV_ENUMERATE | (o.values ? KV_READ : 0),
	    req_query(r, "prefix"), &prefix);
	if (rc == KV_LIST_NOTHING)
		o.limit = 0;    /* beside the token's prefix: nothing to list */
	else if (rc != 0)
		return kv_fail(r, rc, "the credential may not list here");
	o.prefix = prefix;

	buf_init(&l.out, 1u << 20);
	l.scratch = arena_alloc(r->a, base64_len(KV_VALUE_MAX) + KV_NUM_MAX + 1);
	resp_begin(r, 200, ctypes[l.fmt], -1);
	if (l.fmt == FMT_JSON)
		buf_putc(&l.out, '[');
	rc = kv_list(ctx_db(r->ctx), r->a, kv_access_of(r)->b.id, &o, list_row, &l);
	if (l.fmt == FMT_JSON)
		buf_putc(&l.out, ']');
	if (rc == 0)
		flush(&l);
	buf_free(&l.out);
	if (rc != 0)
		return req_fail(r, 500, "internal_error", "listing failed");
	return 0;
}
