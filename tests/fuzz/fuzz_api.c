/* fuzz_api.c - whole requests through dispatch(), the real route table and
 * handlers, over an in-memory transport, against a real SQLite database
 * in a temporary data directory holding a tenant, a bucket, a space and
 * an asset: every route's JSON and form bodies, Authorization headers
 * (the tenant's key, a bucket token, Basic, anything) and query strings
 * (signed-URL tokens, expiries, variants, cursors). Each answer must be a
 * whole response with a status.
 *
 * Input: byte 0 picks the route, byte 1 the credential and Content-Type;
 * then query \0 Authorization \0 body (missing parts are empty). Routes
 * that revoke or rotate keys or reach out to other servers are left out
 * (they would lock the fixture out, or wait on DNS); a route whose id no
 * longer exists is still fuzzed (a 404 path), and the fixture is made
 * again every few thousand inputs. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <unistd.h>

#include "cubby/arena.h"
#include "cubby/config.h"
#include "cubby/crypto.h"
#include "cubby/db.h"
#include "cubby/json.h"
#include "cubby/log.h"
#include "cubby/place.h"
#include "cubby/request.h"
#include "cubby/router.h"
#include "cubby/server.h"
#include "cubby/tenant.h"
#include "cubby/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

struct mem {
	const char *in;
	size_t inlen, inpos;
	char out[65536];
	size_t outlen, total;
};

static int
mem_read(void *p, char *buf, int n)
{
	struct mem *m = p;
	size_t k = m->inlen - m->inpos;

	if ((size_t)n < k)
		k = (size_t)n;
	memcpy(buf, m->in + m->inpos, k);
	m->inpos += k;
	return (int)k;
}

static int
mem_write(void *p, const char *buf, int n)
{
	struct mem *m = p;
	size_t k = (size_t)n;

	/* The head is kept; the rest only counted. */
	if (m->outlen + k > sizeof m->out)
		k = sizeof m->out - m->outlen;
	memcpy(m->out + m->outlen, buf, k);
	m->outlen += k;
	m->total += (size_t)n;
	return n;
}

static const struct cb_io mem_io = { mem_read, mem_write };

static struct cb_config cfg;
static struct cb_ctx ctx;
static struct arena ra;
static char tenant_key[APIKEY_MAX], tenant_id[37], bucket[64], space[64], asset[64],
    file_id[64], short_id[16];
static unsigned long runs;
static char tmpdir[64];

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

/* The data directory goes with the process. */
static void
cleanup(void)
{
	if (*tmpdir)
		nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* One request; the answer's head into out (NUL-terminated). */
static void
request(const char *method, const char *uri, const char *auth, const char *ctype,
    const char *body, size_t blen, char *out, size_t outlen)
{
	char e[8][8192], clen[32], *env[9];
	struct mem m;
	struct cb_req r;
	int k = 0;

	snprintf(clen, sizeof clen, "%zu", blen);
	snprintf(e[k], sizeof e[k], "REQUEST_METHOD=%s", method), env[k] = e[k], k++;
	snprintf(e[k], sizeof e[k], "REQUEST_URI=%s", uri), env[k] = e[k], k++;
	snprintf(e[k], sizeof e[k], "CONTENT_LENGTH=%s", clen), env[k] = e[k], k++;
	snprintf(e[k], sizeof e[k], "REMOTE_ADDR=127.0.0.1"), env[k] = e[k], k++;
	snprintf(e[k], sizeof e[k], "HTTP_HOST=fuzz.localhost"), env[k] = e[k], k++;
	if (ctype != NULL)
		snprintf(e[k], sizeof e[k], "CONTENT_TYPE=%s", ctype), env[k] = e[k], k++;
	if (auth != NULL)
		snprintf(e[k], sizeof e[k], "HTTP_AUTHORIZATION=%s", auth), env[k] = e[k], k++;
	env[k] = NULL;
	memset(&m, 0, sizeof m);
	m.in = body;
	m.inlen = blen;
	arena_reset(&ra);
	req_init(&r, &ra, &ctx, &mem_io, &m, &m, env);
	dispatch(&r);
	/* A whole answer, always: CGI head with a status first. */
	if (m.outlen < 8 || memcmp(m.out, "Status: ", 8) != 0) {
		fprintf(stderr, "fuzz_api: %s %s: no status in the answer\n", method, uri);
		abort();
	}
	/* Every answer that says it is JSON is JSON a strict parser takes
	 * (when all of it was kept): nothing a client sent can break it. */
	if (m.total == m.outlen) {
		const char *end = memmem(m.out, m.outlen, "\r\n\r\n", 4);
		const char *ct = memmem(m.out, end ? (size_t)(end - m.out) : 0,
		    "Content-Type: application/json", 30);
		if (end != NULL && ct != NULL && strncmp(method, "HEAD", 4) != 0 &&
		    !json_strict_valid(end + 4, m.outlen - (size_t)(end + 4 - m.out))) {
			fprintf(stderr, "fuzz_api: %s %s: the JSON answer is not strict JSON\n",
			    method, uri);
			abort();
		}
	}
	if (out != NULL) {
		size_t c = m.outlen < outlen - 1 ? m.outlen : outlen - 1;
		memcpy(out, m.out, c);
		out[c] = '\0';
	}
}

/* The value of "name":"..." in a JSON answer, into v. */
static void
field(const char *ans, const char *name, char *v, size_t vlen)
{
	char pat[64];
	const char *p;
	size_t n;

	snprintf(pat, sizeof pat, "\"%s\":\"", name);
	v[0] = '\0';
	if ((p = strstr(ans, pat)) == NULL)
		return;
	p += strlen(pat);
	n = strcspn(p, "\"");
	if (n < vlen) {
		memcpy(v, p, n);
		v[n] = '\0';
	}
}

static void
fixture(void)
{
	char ans[4096], auth[APIKEY_MAX + 16], *nl;
	static const char sp[] = "{\"name\":\"fuzz\",\"visibility\":\"public\"}";
	static const char as[] = "{\"filename\":\"f.png\",\"size_bytes\":16}";

	snprintf(auth, sizeof auth, "Bearer %s", tenant_key);
	request("POST", "/api/v1/", NULL, "application/x-www-form-urlencoded",
	    "email=f%40example.com", 21, ans, sizeof ans);
	if ((nl = strstr(ans, "\r\n\r\n")) != NULL)
		snprintf(bucket, sizeof bucket, "%.36s", nl + 4);
	request("POST", "/v1/spaces", auth, "application/json", sp, sizeof sp - 1, ans, sizeof ans);
	field(ans, "id", space, sizeof space);
	field(ans, "short_id", short_id, sizeof short_id);
	request("POST", "/v1/assets", auth, "application/json", as, sizeof as - 1, ans, sizeof ans);
	field(ans, "id", asset, sizeof asset);
	field(ans, "file_id", file_id, sizeof file_id);
}

static int
setup(void)
{
	char dir[] = "/tmp/cubby-fuzz-XXXXXX", conf[4096], err[512];
	struct tenant t;
	struct db *db;
	const char *why;
	int from, to;
	FILE *f;

	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(tmpdir, sizeof tmpdir, "%s", dir);
	atexit(cleanup);
	snprintf(conf, sizeof conf, "%s/cubby.conf", dir);
	if ((f = fopen(conf, "w")) == NULL)
		return -1;
	/* No creation limit: the fixture makes a bucket every 4,000 runs,
	 * and every run comes from one address. */
	fprintf(f, "data_dir = %s\nlog_level = error\naccess_log = off\nmedia = off\n"
	    "kv_bucket_create_limit = 0\n", dir);
	fclose(f);
	if (config_load(&cfg, conf, err, sizeof err) != 0)
		return fprintf(stderr, "fuzz_api: %s\n", err), -1;
	log_init("fuzz_api", CB_LOG_ERR);
	if (crypto_init() != 0 || router_init(cb_routes, cb_nroutes) != 0)
		return -1;
	if (masterkey_create(cfg.master_key_file) != 0 ||
	    db_open(&cfg, DB_OPEN_CREATE, &db, err, sizeof err) != 0 ||
	    db_migrate(db, &from, &to, err, sizeof err) != 0)
		return fprintf(stderr, "fuzz_api: %s\n", err), -1;
	db_close(db);
	memset(&ctx, 0, sizeof ctx);
	ctx.cfg = &cfg;
	ctx.slot = -1;
	if (masterkey_load(cfg.master_key_file, ctx.master, err, sizeof err) != 0)
		return -1;
	ctx.have_master = 1;
	place_keyring(ctx.master);
	if (ctx_db(&ctx) == NULL)
		return -1;
	arena_init(&ra, 64 * 1024);
	if (tenant_create(ctx.db, &ra, ctx.master, "fuzz", -1, NULL, 0, &t, tenant_key, &why) != 0)
		return fprintf(stderr, "fuzz_api: tenant: %s\n", why), -1;
	snprintf(tenant_id, sizeof tenant_id, "%s", t.id);
	fixture();
	if (getenv("FUZZ_API_DEBUG"))
		fprintf(stderr, "fuzz_api: bucket %s space %s asset %s file %s\n", bucket, space,
		    asset, file_id);
	return 0;
}

static const char *
param(const char *name)
{
	if (strcmp(name, "assetId") == 0) return asset;
	if (strcmp(name, "bucket") == 0) return bucket;
	if (strcmp(name, "fileId") == 0) return file_id;
	if (strcmp(name, "spaceId") == 0) return space;
	if (strcmp(name, "tenantId") == 0) return tenant_id;
	if (strcmp(name, "shortId") == 0) return short_id;
	if (strcmp(name, "partNumber") == 0) return "1";
	if (strcmp(name, "fileName") == 0) return "f.png";
	return "k";
}

static int
skipped(const struct route *rt)
{
	return strstr(rt->pattern, "revoke") || strstr(rt->pattern, "regenerate") ||
	    strstr(rt->pattern, "rotate") || strstr(rt->pattern, "storage-connections") ||
	    (strcmp(rt->method, "DELETE") == 0 && strstr(rt->pattern, "api-keys"));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	static int ready;
	static const char *const ctypes[] = { "application/json", "application/x-www-form-urlencoded",
	    "text/plain", "application/octet-stream", NULL, "application/json; charset=utf-8" };
	const struct route *rt;
	char uri[8192], authbuf[4096], *buf;
	const char *q, *auth = NULL, *body, *p;
	size_t u = 0, blen;

	if (!ready) {
		if (setup() != 0)
			abort();
		ready = 1;
	}
	if (n < 2)
		return 0;
	rt = &cb_routes[data[0] % cb_nroutes];
	if (skipped(rt))
		return 0;
	if (++runs % 4000 == 0)
		fixture();
	/* query \0 auth \0 body, NUL-terminated copies */
	if ((buf = malloc(n + 2)) == NULL)
		return 0;
	memcpy(buf, data + 2, n - 2);
	buf[n - 2] = '\0';
	buf[n - 1] = '\0';
	buf[n] = '\0';
	q = buf;
	p = q + strlen(q) + 1;
	body = p < buf + n - 2 ? p + strlen(p) + 1 : buf + n - 2;
	if (body > buf + n - 2)
		body = buf + n - 2;
	blen = (size_t)(buf + n - 2 - body);
	/* the path, with the fixture's ids for the parameters */
	for (const char *s = rt->pattern; *s && u < sizeof uri - 200; ) {
		if (*s == '{') {
			char name[32];
			size_t k = strcspn(s + 1, "}");
			snprintf(name, sizeof name, "%.*s", (int)k, s + 1);
			u += (size_t)snprintf(uri + u, sizeof uri - u, "%s", param(name));
			s += k + (s[k + 1] ? 2 : 1);
		} else {
			uri[u++] = *s++;
		}
	}
	uri[u] = '\0';
	if (*q && u + strlen(q) + 2 < sizeof uri)
		snprintf(uri + u, sizeof uri - u, "?%s", q);
	switch (data[1] % 4) {
	case 0: break;                                                  /* none */
	case 1: snprintf(authbuf, sizeof authbuf, "Bearer %s", tenant_key); auth = authbuf; break;
	case 2: auth = p < buf + n - 2 ? p : ""; break;                 /* the input's */
	case 3: snprintf(authbuf, sizeof authbuf, "Basic %.3000s", p < buf + n - 2 ? p : ""); auth = authbuf; break;
	}
	request(rt->method, uri, auth, ctypes[(data[1] >> 2) % 6], body, blen, NULL, 0);
	free(buf);
	return 0;
}
