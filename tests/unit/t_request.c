/* t_request.c - the request layer over an in-memory transport: streaming
 * body reads against Content-Length and the route limit, capped whole-body
 * reads, header lookup, response framing and error recording. */
#include "config.h"

#include <json-c/json.h>

#include "cubby/request.h"
#include "cubby/router.h"
#include "cubby/server.h"
#include "cubby/util.h"
#include "tap.h"

const struct route cb_routes[] = { { "GET", "/", NULL, AUTH_NONE, SCOPE_NONE, BODY_NONE, DIALECT_KV } };
const size_t cb_nroutes = 1;

struct mem {
	const char *in;
	size_t inlen, inpos, chunk;   /* chunk: most bytes per read call */
	char out[8192];
	size_t outlen;
};

static int
mem_read(void *p, char *buf, int n)
{
	struct mem *m = p;
	size_t k = m->inlen - m->inpos;

	if ((size_t)n < k)
		k = (size_t)n;
	if (m->chunk && k > m->chunk)
		k = m->chunk;
	memcpy(buf, m->in + m->inpos, k);
	m->inpos += k;
	return (int)k;
}

static int
mem_write(void *p, const char *buf, int n)
{
	struct mem *m = p;

	if (m->outlen + (size_t)n > sizeof m->out)
		return -1;
	memcpy(m->out + m->outlen, buf, (size_t)n);
	m->outlen += (size_t)n;
	return n;
}

static const struct cb_io mem_io = { mem_read, mem_write };

static void
setup(struct cb_req *r, struct arena *a, struct mem *m, const char *body,
    long long clen, long long limit, char **env)
{
	memset(m, 0, sizeof *m);
	m->in = body;
	m->inlen = strlen(body);
	m->chunk = 3;
	arena_reset(a);
	req_init(r, a, NULL, &mem_io, m, m, env);
	r->content_length = clen;
	r->body_limit = limit;
}

int
main(void)
{
	struct arena a;
	struct cb_req r;
	struct mem m;
	char *body;
	size_t len;
	char buf[64];
	char *env[] = { "HTTP_AUTHORIZATION=Bearer abc", "CONTENT_TYPE=text/plain",
	    "HTTP_X_MULTI_WORD=yes", "REMOTE_ADDR=127.0.0.1", NULL };

	arena_init(&a, 4096);

	setup(&r, &a, &m, "hello world", 11, 100, env);
	is_str(req_header(&r, "Authorization"), "Bearer abc", "header by HTTP name");
	is_str(req_header(&r, "authorization"), "Bearer abc", "case-insensitive");
	is_str(req_header(&r, "Content-Type"), "text/plain", "Content-Type is CONTENT_TYPE");
	is_str(req_header(&r, "X-Multi-Word"), "yes", "dashes become underscores");
	ok(req_header(&r, "X-Missing") == NULL, "missing header is NULL");
	is_str(req_env(&r, "REMOTE_ADDR"), "127.0.0.1", "CGI variable");

	is_int(req_body(&r, 100, &body, &len), 0, "whole body, read in 3-byte chunks");
	is_int(len, 11, "length");
	is_str(body, "hello world", "content, NUL-terminated");

	setup(&r, &a, &m, "hello world and more", 20, 100, env);
	is_int(req_body(&r, 10, &body, &len), -1, "announced length over the cap");
	is_int(r.err.status, 413, "-> 413");
	is_int(m.inpos, 0, "nothing was read");

	setup(&r, &a, &m, "hello world and more", -1, 100, env);
	is_int(req_body(&r, 10, &body, &len), -1, "unannounced body over the cap");
	is_int(r.err.status, 413, "-> 413 after reading at most cap+1 bytes");
	ok(m.inpos <= 11, "read %zu bytes, not the whole body", m.inpos);

	setup(&r, &a, &m, "0123456789", -1, 100, env);
	is_int(req_body(&r, 10, &body, &len), 0, "unannounced body exactly at the cap");
	is_int(len, 10, "length 10");

	setup(&r, &a, &m, "short", 10, 100, env);
	is_int(req_body(&r, 100, &body, &len), -1, "body shorter than Content-Length");
	is_int(r.err.status, 400, "-> 400");

	setup(&r, &a, &m, "abcdefghij", 10, 4, env);
	{
		long got, total = 0;
		while ((got = req_read(&r, buf, sizeof buf)) > 0)
			total += got;
		is_int(got, -1, "streaming past the route limit fails");
		is_int(r.err.status, 413, "-> 413");
		ok(total <= 6, "stopped within one chunk of the limit (%ld)", total);
	}

	setup(&r, &a, &m, "abcdefghijXYZ", 10, 100, env);
	is_int(req_body(&r, 100, &body, &len), 0, "bytes after Content-Length are not read");
	is_str(body, "abcdefghij", "exactly Content-Length bytes");

	setup(&r, &a, &m, "", 0, 0, env);
	is_int(req_fail(&r, 404, "not_found", "no %s", "thing"), -1, "req_fail returns -1");
	req_fail(&r, 500, "internal_error", "later");
	is_int(r.err.status, 404, "the first error wins");
	is_str(r.err.message, "no thing", "message formatted");

	setup(&r, &a, &m, "", 0, 0, env);
	strlcpy_cb(r.rid, "rid1", sizeof r.rid);
	resp_header(&r, "X-Ok", "1");
	resp_header(&r, "X-Bad", "a\r\nSet-Cookie: x=1");
	resp_send(&r, 201, "application/json", "{}", 2);
	m.out[m.outlen] = '\0';
	is_str(m.out, "Status: 201 Created\r\nContent-Type: application/json\r\n"
	    "Content-Length: 2\r\nX-Request-Id: rid1\r\nX-Ok: 1\r\n\r\n{}",
	    "response framing; a header value with CR/LF is refused");
	is_int(r.bytes_out, 2, "body bytes counted");

	setup(&r, &a, &m, "", 0, 0, env);
	r.head_only = 1;
	resp_send(&r, 200, "text/plain", "hello", 5);
	m.out[m.outlen] = '\0';
	ok(strstr(m.out, "Content-Length: 5\r\n") && !strstr(m.out, "hello"), "HEAD: length kept, body dropped");

	setup(&r, &a, &m, "", 0, 0, env);
	r.dialect = DIALECT_FILE;
	req_fail(&r, 404, "file_not_found", "File not found");
	render_error(&r);
	m.out[m.outlen] = '\0';
	ok(strstr(m.out, "{\"error\":{\"code\":\"FILE_NOT_FOUND\",\"message\":\"File not found\",\"details\":{}}}") != NULL,
	    "file dialect envelope");
	setup(&r, &a, &m, "", 0, 0, env);
	r.dialect = DIALECT_ASSET;
	req_fail(&r, 403, "insufficient_scope", "needs write");
	render_error(&r);
	m.out[m.outlen] = '\0';
	ok(strstr(m.out, "Status: 403 Forbidden") && strstr(m.out,
	    "{\"data\":null,\"error\":{\"code\":\"insufficient_scope\",\"message\":\"needs write\"}}"),
	    "asset dialect envelope");
	setup(&r, &a, &m, "", 0, 0, env);
	r.dialect = DIALECT_KV;
	req_fail(&r, 503, "service_unavailable", "no signing key");
	render_error(&r);
	m.out[m.outlen] = '\0';
	ok(strstr(m.out, "{\"error\":{\"code\":503,\"message\":\"service_unavailable\"}}") != NULL,
	    "kv dialect envelope");

	arena_free(&a);
	return done_testing();
}
