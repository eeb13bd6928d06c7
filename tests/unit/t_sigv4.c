/* t_sigv4.c - the SigV4 signer against AWS's published vectors
 * (tests/fixtures/sigv4, see its README): every classic case's canonical
 * request, string to sign and Authorization header byte for byte; the
 * aws-c-auth cases, header-signed and presigned; the S3 worked examples.
 * Not covered: aws-chunked streaming signatures (Cubby never sends
 * aws-chunked bodies), and aws-c-auth's get-header-value-multiline, which
 * joins folded lines with spaces where the classic suite (our convention)
 * joins them with commas. */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cubby/buf.h"
#include "cubby/crypto.h"
#include "cubby/sigv4.h"
#include "tap.h"

#define MAXH 32

static char root[1024];

static char *
slurp(const char *dir, const char *name)
{
	char path[2048];
	FILE *f;
	char *s;
	long n;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	s = malloc((size_t)n + 1);
	if (s == NULL || fread(s, 1, (size_t)n, f) != (size_t)n) {
		free(s);
		fclose(f);
		return NULL;
	}
	s[n] = '\0';
	fclose(f);
	return s;
}

/* A request file: "METHOD target HTTP/1.1", headers (a line starting with
 * white space continues the previous header: another value of it), a
 * blank line, the body. Parsed in place. */
struct parsed {
	const char *method;
	char path[1024];
	const char *query;
	struct sigv4_header h[MAXH];
	size_t nh;
	const char *body;
};

static int
hexv(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 :
	    c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int
parse_req(char *s, struct parsed *p)
{
	char *eol = strchr(s, '\n'), *sp, *http, *q, *line;
	size_t j = 0;

	memset(p, 0, sizeof *p);
	if (eol == NULL)
		return -1;
	*eol = '\0';
	sp = strchr(s, ' ');
	http = strstr(s, " HTTP/1.1");
	if (sp == NULL || http == NULL)
		return -1;
	*sp = '\0';
	*http = '\0';
	p->method = s;
	if ((q = strchr(sp + 1, '?')) != NULL) {
		*q = '\0';
		p->query = q + 1;
	}
	for (char *c = sp + 1; *c && j + 1 < sizeof p->path; c++) {
		int h, l;
		if (c[0] == '%' && (h = hexv(c[1])) >= 0 && (l = hexv(c[2])) >= 0) {
			p->path[j++] = (char)(h << 4 | l);
			c += 2;
		} else
			p->path[j++] = *c;
	}
	line = eol + 1;
	while (*line && *line != '\n') {
		char *end = strchr(line, '\n'), *colon;
		if (end)
			*end = '\0';
		if ((*line == ' ' || *line == '\t') && p->nh > 0) {
			p->h[p->nh].name = p->h[p->nh - 1].name;
			p->h[p->nh++].value = line;
		} else if ((colon = strchr(line, ':')) != NULL && p->nh < MAXH) {
			*colon = '\0';
			p->h[p->nh].name = line;
			p->h[p->nh++].value = colon + 1;
		}
		if (!end) {
			p->body = "";
			return 0;
		}
		line = end + 1;
	}
	p->body = *line == '\n' ? line + 1 : line;
	return 0;
}

static void
body_hash(const char *body, char hex[65])
{
	unsigned char h[32];

	sha256(body, strlen(body), h);
	hex_encode(hex, h, 32);
}

/* ---- the classic suite -------------------------------------------- */

static void
classic_case(const char *dir, const char *name)
{
	static const struct sigv4_key k = { "AKIDEXAMPLE",
	    "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL, "us-east-1", "service" };
	char file[512], hash[65], sig[65];
	char *req, *creq, *sts, *authz;
	struct parsed p;
	struct sigv4_req r;
	struct buf got;

	snprintf(file, sizeof file, "%s.req", name);
	req = slurp(dir, file);
	snprintf(file, sizeof file, "%s.creq", name);
	creq = slurp(dir, file);
	snprintf(file, sizeof file, "%s.sts", name);
	sts = slurp(dir, file);
	snprintf(file, sizeof file, "%s.authz", name);
	authz = slurp(dir, file);
	if (!req || !creq || !sts || !authz || parse_req(req, &p) != 0) {
		ok(0, "%s: readable", name);
		goto out;
	}
	body_hash(p.body, hash);
	r = (struct sigv4_req){ p.method, p.path, p.query, p.h, p.nh, hash, 1 };
	buf_init(&got, 1 << 20);
	sigv4_canonical_request(&r, NULL, &got);
	is_str(buf_cstr(&got), creq, "%s: canonical request", name);
	buf_reset(&got);
	sigv4_string_to_sign(&k, "20150830T123600Z", creq, &got);
	is_str(buf_cstr(&got), sts, "%s: string to sign", name);
	sigv4_signature(&k, "20150830T123600Z", sts, sig);
	buf_reset(&got);
	sigv4_authorization(&k, &r, "20150830T123600Z", 1, &got);
	is_str(buf_cstr(&got), authz, "%s: Authorization", name);
	buf_free(&got);
out:
	free(req);
	free(creq);
	free(sts);
	free(authz);
}

static int
classic(const char *sub)
{
	char dir[1200], cdir[1500];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof dir, "%s%s", root, sub);
	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "get-", 4) != 0 && strncmp(de->d_name, "post-", 5) != 0)
			continue;
		if (strcmp(de->d_name, "post-sts-token") == 0)
			continue;       /* a folder of cases, read on its own */
		snprintf(cdir, sizeof cdir, "%s/%s", dir, de->d_name);
		classic_case(cdir, de->d_name);
		n++;
	}
	closedir(d);
	return n;
}

/* ---- aws-c-auth: header and query signing --------------------------- */

static const char *
jstr(struct json_object *o, const char *k)
{
	struct json_object *v;
	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static int
jbool(struct json_object *o, const char *k)
{
	struct json_object *v;
	return json_object_object_get_ex(o, k, &v) && json_object_get_boolean(v);
}

static void
cauth_case(const char *dir, const char *name)
{
	char *req = slurp(dir, "request.txt"), *ctx = slurp(dir, "context.json");
	char *want[6] = { slurp(dir, "header-canonical-request.txt"),
	    slurp(dir, "header-string-to-sign.txt"), slurp(dir, "header-signature.txt"),
	    slurp(dir, "query-canonical-request.txt"), slurp(dir, "query-string-to-sign.txt"),
	    slurp(dir, "query-signature.txt") };
	struct json_object *c = NULL, *cred;
	struct sigv4_key k;
	struct sigv4_req r;
	struct parsed p;
	struct buf got, extra;
	char hash[65], date[17], sig[65];
	const char *ts, *token;
	int omit;

	if (!req || !ctx || !want[0] || !want[5] || parse_req(req, &p) != 0 ||
	    (c = json_tokener_parse(ctx)) == NULL ||
	    !json_object_object_get_ex(c, "credentials", &cred)) {
		ok(0, "%s: readable", name);
		goto out;
	}
	k.access_key = jstr(cred, "access_key_id");
	k.secret_key = jstr(cred, "secret_access_key");
	token = jstr(cred, "token");
	k.session_token = token;
	k.region = jstr(c, "region");
	k.service = jstr(c, "service");
	omit = jbool(c, "omit_session_token");
	ts = jstr(c, "timestamp");     /* 2015-08-30T12:36:00Z */
	snprintf(date, sizeof date, "%.4s%.2s%.2sT%.2s%.2s%.2sZ", ts, ts + 5, ts + 8,
	    ts + 11, ts + 14, ts + 17);
	body_hash(p.body, hash);
	buf_init(&got, 1 << 20);

	/* Header signing: the signer's own headers added. */
	{
		struct sigv4_header h[MAXH + 3];
		size_t n = p.nh;
		memcpy(h, p.h, p.nh * sizeof *h);
		h[n++] = (struct sigv4_header){ "X-Amz-Date", date };
		if (token && !omit)
			h[n++] = (struct sigv4_header){ "X-Amz-Security-Token", token };
		if (jbool(c, "sign_body"))
			h[n++] = (struct sigv4_header){ "x-amz-content-sha256", hash };
		r = (struct sigv4_req){ p.method, p.path, p.query, h, n, hash, jbool(c, "normalize") };
		sigv4_canonical_request(&r, NULL, &got);
		is_str(buf_cstr(&got), want[0], "%s: header canonical request", name);
		buf_reset(&got);
		sigv4_string_to_sign(&k, date, want[0], &got);
		is_str(buf_cstr(&got), want[1], "%s: header string to sign", name);
		sigv4_signature(&k, date, want[1], sig);
		is_str(sig, want[2], "%s: header signature", name);
	}
	/* Query signing: the fields, the canonical request and string to
	 * sign they make, and the signature sigv4_presign_query puts in
	 * the URL. */
	buf_reset(&got);
	r = (struct sigv4_req){ p.method, p.path, p.query, p.h, p.nh, hash, jbool(c, "normalize") };
	{
		struct json_object *e;
		long secs = json_object_object_get_ex(c, "expiration_in_seconds", &e) ?
		    (long)json_object_get_int64(e) : 3600;
		const char *s;
		buf_init(&extra, 1 << 16);
		sigv4_presign_fields(&k, &r, date, secs, !omit, &extra);
		sigv4_canonical_request(&r, buf_cstr(&extra), &got);
		is_str(buf_cstr(&got), want[3], "%s: query canonical request", name);
		buf_reset(&got);
		sigv4_string_to_sign(&k, date, want[3], &got);
		is_str(buf_cstr(&got), want[4], "%s: query string to sign", name);
		buf_reset(&extra);
		sigv4_presign_query(&k, &r, date, secs, !omit, &extra);
		s = strstr(buf_cstr(&extra), "X-Amz-Signature=");
		ok(s != NULL && strlen(want[5]) >= 64 && strncmp(s + 16, want[5], 64) == 0,
		    "%s: presigned URL's signature", name);
		buf_free(&extra);
	}
out:
	buf_free(&got);
	free(req);
	free(ctx);
	for (int i = 0; i < 6; i++)
		free(want[i]);
	json_object_put(c);
}

static int
cauth(void)
{
	char dir[1200], cdir[1500];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof dir, "%s/aws-c-auth-v4", root);
	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, "get-header-value-multiline") == 0)
			continue;
		snprintf(cdir, sizeof cdir, "%s/%s", dir, de->d_name);
		cauth_case(cdir, de->d_name);
		n++;
	}
	closedir(d);
	return n;
}

/* ---- the S3 worked examples ------------------------------------------ */

static int
s3_examples(void)
{
	char *text = slurp(root, "s3-examples.json");
	struct json_object *all, *cred, *list;
	struct sigv4_key k;
	const char *date;
	int n = 0;

	if (text == NULL || (all = json_tokener_parse(text)) == NULL) {
		free(text);
		return 0;
	}
	json_object_object_get_ex(all, "credentials", &cred);
	json_object_object_get_ex(all, "examples", &list);
	k = (struct sigv4_key){ jstr(cred, "access_key_id"), jstr(cred, "secret_access_key"),
	    NULL, jstr(all, "region"), jstr(all, "service") };
	date = jstr(all, "amz_date");
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *e = json_object_array_get_idx(list, i), *hs, *x;
		const char *name = jstr(e, "name"), *url = jstr(e, "url"), *path;
		struct sigv4_header h[MAXH];
		struct sigv4_req r;
		struct buf got, fields;
		char pathbuf[1024], *q, sig[65];
		size_t nh = 0;

		/* https://host/path?query: the path as given (S3: no decoding
		 * beyond what the URL shows, encoded once) */
		path = strchr(strstr(url, "://") + 3, '/');
		snprintf(pathbuf, sizeof pathbuf, "%s", path);
		if ((q = strchr(pathbuf, '?')) != NULL)
			*q++ = '\0';
		json_object_object_get_ex(e, "headers", &hs);
		json_object_object_foreach(hs, hk, hv) {
			if (nh < MAXH)
				h[nh++] = (struct sigv4_header){ hk, json_object_get_string(hv) };
		}
		r = (struct sigv4_req){ jstr(e, "method"), pathbuf, q, h, nh,
		    jstr(e, "payload_sha256"), 0 };
		buf_init(&got, 1 << 16);
		buf_init(&fields, 1 << 16);
		if (json_object_object_get_ex(e, "presigned_url", &x)) {
			long secs = atol(jstr(e, "expires_seconds"));
			sigv4_presign_fields(&k, &r, date, secs, 1, &fields);
			sigv4_canonical_request(&r, buf_cstr(&fields), &got);
		} else
			sigv4_canonical_request(&r, NULL, &got);
		is_str(buf_cstr(&got), jstr(e, "canonical_request"), "S3 %s: canonical request", name);
		buf_reset(&got);
		sigv4_string_to_sign(&k, date, jstr(e, "canonical_request"), &got);
		is_str(buf_cstr(&got), jstr(e, "string_to_sign"), "S3 %s: string to sign", name);
		sigv4_signature(&k, date, jstr(e, "string_to_sign"), sig);
		is_str(sig, jstr(e, "signature"), "S3 %s: signature", name);
		if (json_object_object_get_ex(e, "authorization", &x)) {
			buf_reset(&got);
			sigv4_authorization(&k, &r, date, 0, &got);
			is_str(buf_cstr(&got), json_object_get_string(x), "S3 %s: Authorization", name);
		}
		if (json_object_object_get_ex(e, "presigned_url", &x)) {
			buf_reset(&got);
			sigv4_presign_query(&k, &r, date, atol(jstr(e, "expires_seconds")), 1, &got);
			is_str(buf_cstr(&got), strchr(json_object_get_string(x), '?') + 1,
			    "S3 %s: the presigned URL's query", name);
		}
		buf_free(&got);
		buf_free(&fields);
		n++;
	}
	json_object_put(all);
	free(text);
	return n;
}

/* ---- edges ------------------------------------------------------------ */

static void
edges(void)
{
	struct buf b;
	char d[17];

	buf_init(&b, 64);
	sigv4_encode_path(&b, "/a b/ü/x+y=z&", 0);
	is_str(buf_cstr(&b), "/a%20b/%C3%BC/x%2By%3Dz%26", "S3 paths are encoded once, '/' kept");
	buf_reset(&b);
	sigv4_encode_path(&b, "", 0);
	is_str(buf_cstr(&b), "/", "an empty path is /");
	buf_reset(&b);
	sigv4_encode_path(&b, "/a/../../b/./c//", 1);
	is_str(buf_cstr(&b), "/b/c/", "normalised: dot segments and empty ones go");
	buf_free(&b);
	buf_init(&b, 8);
	ok(sigv4_encode(&b, "0123456789", 10, 0) != 0, "the output cap holds");
	buf_free(&b);
	sigv4_date(1369353600LL, d);
	is_str(d, "20130524T000000Z", "amz date from unix time");
}

int
main(void)
{
	const char *src = getenv("CUBBY_SRCDIR");
	int n;

	snprintf(root, sizeof root, "%s/tests/fixtures/sigv4", src ? src : "..");
	n = classic("") + classic("/normalize-path") + classic("/post-sts-token");
	is_int(n, 31, "all 31 classic cases ran");
	is_int(cauth(), 37, "the aws-c-auth cases ran (all but multiline)");
	is_int(s3_examples(), 7, "the S3 examples ran");
	edges();
	return done_testing();
}
