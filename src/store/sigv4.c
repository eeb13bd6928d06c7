/* sigv4.c - see sigv4.h. Every output goes through a capped struct buf;
 * the query is split into at most SIGV4_MAX_PARAMS parameters. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cubby/buf.h"
#include "cubby/crypto.h"
#include "cubby/sigv4.h"
#include "cubby/util.h"
#include "cubby/xmalloc.h"

#define SIGV4_MAX_PARAMS   128
#define SIGV4_MAX_HEADERS  64

void
sigv4_date(long long t, char amz_date[17])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(amz_date, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static int
unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

int
sigv4_encode(struct buf *out, const char *s, size_t n, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (unreserved(c) || (keep_slash && c == '/')) {
			if (buf_putc(out, (char)c) != 0)
				return -1;
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			if (buf_append(out, e, 3) != 0)
				return -1;
		}
	}
	return 0;
}

int
sigv4_encode_path(struct buf *out, const char *path, int normalize)
{
	const char *seg[256];
	size_t len[256], n = 0;
	const char *p = path;

	if (!normalize)
		return *path ? sigv4_encode(out, path, strlen(path), 1) :
		    buf_putc(out, '/');
	/* RFC 3986 dot segments, and empty segments, removed. */
	while (*p) {
		const char *s;
		size_t l;
		while (*p == '/')
			p++;
		s = p;
		while (*p && *p != '/')
			p++;
		l = (size_t)(p - s);
		if (l == 0 || (l == 1 && s[0] == '.'))
			continue;
		if (l == 2 && s[0] == '.' && s[1] == '.') {
			if (n > 0)
				n--;
			continue;
		}
		if (n == sizeof seg / sizeof seg[0])
			return -1;
		seg[n] = s;
		len[n++] = l;
	}
	if (n == 0)
		return buf_putc(out, '/');
	for (size_t i = 0; i < n; i++)
		if (buf_putc(out, '/') != 0 || sigv4_encode(out, seg[i], len[i], 0) != 0)
			return -1;
	if (path[strlen(path) - 1] == '/')
		return buf_putc(out, '/');
	return 0;
}

/* Decode n bytes of a query part (%XX; a stray '%' stays) and append
 * them encoded canonically. */
static int
reencode(struct buf *out, const char *s, size_t n)
{
	struct buf raw;
	int rc;

	buf_init(&raw, n + 1);
	for (size_t i = 0; i < n; i++) {
		int h, l;
		if (s[i] == '%' && i + 2 < n &&
		    (h = hex_digit(s[i + 1])) >= 0 && (l = hex_digit(s[i + 2])) >= 0) {
			buf_putc(&raw, (char)(h << 4 | l));
			i += 2;
		} else
			buf_putc(&raw, s[i]);
	}
	rc = sigv4_encode(out, raw.data ? raw.data : "", raw.len, 0);
	buf_free(&raw);
	return rc;
}

struct param {
	char *key;
	char *val;
};

static int
param_cmp(const void *a, const void *b)
{
	const struct param *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : strcmp(x->val, y->val);
}

/* Split q into canonical (encoded) parameters appended to ps. */
static int
split_query(const char *q, struct param *ps, size_t *n)
{
	while (q && *q) {
		const char *amp = strchr(q, '&'), *end = amp ? amp : q + strlen(q);
		const char *eq = memchr(q, '=', (size_t)(end - q));
		struct buf k, v;

		if (end > q) {
			if (*n == SIGV4_MAX_PARAMS)
				return -1;
			buf_init(&k, 4096);
			buf_init(&v, 8192);
			if (reencode(&k, q, (size_t)((eq ? eq : end) - q)) != 0 ||
			    (eq && reencode(&v, eq + 1, (size_t)(end - eq - 1)) != 0)) {
				buf_free(&k);
				buf_free(&v);
				return -1;
			}
			ps[*n].key = xstrdup(buf_cstr(&k));
			ps[*n].val = xstrdup(buf_cstr(&v));
			(*n)++;
			buf_free(&k);
			buf_free(&v);
		}
		q = amp ? amp + 1 : end;
	}
	return 0;
}

struct hdr {
	char name[128];
	struct buf value;
};

static int
hdr_cmp(const void *a, const void *b)
{
	return strcmp(((const struct hdr *)a)->name, ((const struct hdr *)b)->name);
}

/* Canonical headers, merged by name and sorted; returns how many. */
static int
canon_headers(const struct sigv4_req *r, struct hdr *hs, size_t *nh)
{
	*nh = 0;
	for (size_t i = 0; i < r->nheaders; i++) {
		const char *v = r->headers[i].value;
		size_t nl = strlen(r->headers[i].name), j, vl;
		char name[128];
		struct hdr *h = NULL;
		int space = 0;

		if (nl == 0 || nl >= sizeof name)
			return -1;
		for (j = 0; j < nl; j++) {
			char c = r->headers[i].name[j];
			name[j] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
		name[nl] = '\0';
		for (j = 0; j < *nh; j++)
			if (strcmp(hs[j].name, name) == 0)
				h = &hs[j];
		if (h == NULL) {
			if (*nh == SIGV4_MAX_HEADERS)
				return -1;
			h = &hs[(*nh)++];
			memcpy(h->name, name, nl + 1);
			buf_init(&h->value, 16384);
		} else if (buf_putc(&h->value, ',') != 0)
			return -1;
		/* Trimmed, inner runs of spaces collapsed to one. */
		while (*v == ' ' || *v == '\t')
			v++;
		vl = strlen(v);
		while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			vl--;
		for (j = 0; j < vl; j++) {
			int sp = v[j] == ' ' || v[j] == '\t';
			if (sp && space)
				continue;
			space = sp;
			if (buf_putc(&h->value, sp ? ' ' : v[j]) != 0)
				return -1;
		}
	}
	qsort(hs, *nh, sizeof *hs, hdr_cmp);
	return 0;
}

static void
hdrs_free(struct hdr *hs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_free(&hs[i].value);
}

static int
signed_headers(const struct sigv4_req *r, struct buf *out)
{
	struct hdr *hs = xcalloc(SIGV4_MAX_HEADERS, sizeof *hs);
	size_t n = 0;
	int rc = canon_headers(r, hs, &n);

	for (size_t i = 0; rc == 0 && i < n; i++)
		if ((i && buf_putc(out, ';') != 0) || buf_puts(out, hs[i].name) != 0)
			rc = -1;
	hdrs_free(hs, n);
	free(hs);
	return rc;
}

/* The canonical query of q1 and q2 together. */
static int
canon_query(const char *q1, const char *q2, struct buf *out)
{
	struct param *ps = xcalloc(SIGV4_MAX_PARAMS, sizeof *ps);
	size_t np = 0;
	int rc = -1;

	if (split_query(q1, ps, &np) != 0 || split_query(q2, ps, &np) != 0)
		goto done;
	qsort(ps, np, sizeof *ps, param_cmp);
	for (size_t i = 0; i < np; i++)
		if ((i && buf_putc(out, '&') != 0) ||
		    buf_printf(out, "%s=%s", ps[i].key, ps[i].val) != 0)
			goto done;
	rc = 0;
done:
	for (size_t i = 0; i < np; i++) {
		free(ps[i].key);
		free(ps[i].val);
	}
	free(ps);
	return rc;
}

int
sigv4_canonical_request(const struct sigv4_req *r, const char *extra_query,
    struct buf *out)
{
	struct hdr *hs = xcalloc(SIGV4_MAX_HEADERS, sizeof *hs);
	size_t nh = 0;
	int rc = -1;

	if (buf_puts(out, r->method) != 0 || buf_putc(out, '\n') != 0 ||
	    sigv4_encode_path(out, r->path, r->normalize) != 0 ||
	    buf_putc(out, '\n') != 0 ||
	    canon_query(r->query, extra_query, out) != 0 ||
	    buf_putc(out, '\n') != 0 || canon_headers(r, hs, &nh) != 0)
		goto done;
	for (size_t i = 0; i < nh; i++)
		if (buf_printf(out, "%s:%s\n", hs[i].name, buf_cstr(&hs[i].value)) != 0)
			goto done;
	if (buf_putc(out, '\n') != 0)
		goto done;
	for (size_t i = 0; i < nh; i++)
		if ((i && buf_putc(out, ';') != 0) || buf_puts(out, hs[i].name) != 0)
			goto done;
	if (buf_putc(out, '\n') != 0 || buf_puts(out, r->payload_hash) != 0)
		goto done;
	rc = 0;
done:
	hdrs_free(hs, nh);
	free(hs);
	return rc;
}

static int
scope(const struct sigv4_key *k, const char *amz_date, struct buf *out)
{
	return buf_printf(out, "%.8s/%s/%s/aws4_request", amz_date, k->region,
	    k->service);
}

int
sigv4_string_to_sign(const struct sigv4_key *k, const char *amz_date,
    const char *creq, struct buf *out)
{
	unsigned char h[32];
	char hex[65];

	sha256(creq, strlen(creq), h);
	hex_encode(hex, h, 32);
	if (buf_printf(out, "AWS4-HMAC-SHA256\n%s\n", amz_date) != 0 ||
	    scope(k, amz_date, out) != 0 || buf_printf(out, "\n%s", hex) != 0)
		return -1;
	return 0;
}

void
sigv4_signature(const struct sigv4_key *k, const char *amz_date,
    const char *sts, char hex[65])
{
	unsigned char key[32], mac[32];
	struct buf secret;
	char day[9];

	memcpy(day, amz_date, 8);
	day[8] = '\0';
	buf_init(&secret, 4 + strlen(k->secret_key) + 1);
	buf_printf(&secret, "AWS4%s", k->secret_key);
	hmac_sha256(secret.data, secret.len, day, 8, key);
	hmac_sha256(key, 32, k->region, strlen(k->region), key);
	hmac_sha256(key, 32, k->service, strlen(k->service), key);
	hmac_sha256(key, 32, "aws4_request", 12, key);
	hmac_sha256(key, 32, sts, strlen(sts), mac);
	hex_encode(hex, mac, 32);
	explicit_bzero(key, sizeof key);
	explicit_bzero(secret.data, secret.len);
	buf_free(&secret);
}

/* Canonical request -> string to sign -> signature. */
static int
sign(const struct sigv4_key *k, const struct sigv4_req *r, const char *amz_date,
    const char *extra_query, char hex[65])
{
	struct buf creq, sts;
	int rc = -1;

	buf_init(&creq, 1 << 20);
	buf_init(&sts, 4096);
	if (sigv4_canonical_request(r, extra_query, &creq) == 0 &&
	    sigv4_string_to_sign(k, amz_date, buf_cstr(&creq), &sts) == 0) {
		sigv4_signature(k, amz_date, buf_cstr(&sts), hex);
		rc = 0;
	}
	buf_free(&creq);
	buf_free(&sts);
	return rc;
}

int
sigv4_authorization(const struct sigv4_key *k, const struct sigv4_req *r,
    const char *amz_date, int comma_space, struct buf *out)
{
	const char *sep = comma_space ? ", " : ",";
	char sig[65];

	if (sign(k, r, amz_date, NULL, sig) != 0)
		return -1;
	if (buf_printf(out, "AWS4-HMAC-SHA256 Credential=%s/", k->access_key) != 0 ||
	    scope(k, amz_date, out) != 0 ||
	    buf_printf(out, "%sSignedHeaders=", sep) != 0 ||
	    signed_headers(r, out) != 0 ||
	    buf_printf(out, "%sSignature=%s", sep, sig) != 0)
		return -1;
	return 0;
}

int
sigv4_presign_fields(const struct sigv4_key *k, const struct sigv4_req *r,
    const char *amz_date, long expires, int sign_token, struct buf *out)
{
	const char *token = k->session_token && *k->session_token ? k->session_token : NULL;
	struct buf v;
	int rc = -1;

	buf_init(&v, 4096);
	if (buf_puts(out, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=") != 0 ||
	    buf_printf(&v, "%s/", k->access_key) != 0 || scope(k, amz_date, &v) != 0 ||
	    sigv4_encode(out, v.data, v.len, 0) != 0 ||
	    buf_printf(out, "&X-Amz-Date=%s&X-Amz-Expires=%ld", amz_date, expires) != 0 ||
	    buf_puts(out, "&X-Amz-SignedHeaders=") != 0)
		goto done;
	buf_reset(&v);
	if (signed_headers(r, &v) != 0 || sigv4_encode(out, buf_cstr(&v), v.len, 0) != 0)
		goto done;
	if (token && sign_token && (buf_puts(out, "&X-Amz-Security-Token=") != 0 ||
	    sigv4_encode(out, token, strlen(token), 0) != 0))
		goto done;
	rc = 0;
done:
	buf_free(&v);
	return rc;
}

int
sigv4_presign_query(const struct sigv4_key *k, const struct sigv4_req *r,
    const char *amz_date, long expires, int sign_token, struct buf *out)
{
	const char *token = k->session_token && *k->session_token ? k->session_token : NULL;
	struct buf extra;
	char sig[65];
	int rc = -1;

	buf_init(&extra, 16384);
	if (sigv4_presign_fields(k, r, amz_date, expires, sign_token, &extra) != 0 ||
	    sign(k, r, amz_date, buf_cstr(&extra), sig) != 0)
		goto done;
	/* The URL's query: the same parameters in canonical order, then the
	 * signature (and a token that is not signed). */
	if (canon_query(r->query, buf_cstr(&extra), out) != 0 ||
	    buf_printf(out, "&X-Amz-Signature=%s", sig) != 0)
		goto done;
	if (token && !sign_token && (buf_puts(out, "&X-Amz-Security-Token=") != 0 ||
	    sigv4_encode(out, token, strlen(token), 0) != 0))
		goto done;
	rc = 0;
done:
	buf_free(&extra);
	return rc;
}
