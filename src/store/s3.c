/* s3.c - see s3.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cubby/buf.h"
#include "cubby/crypto.h"
#include "cubby/log.h"
#include "cubby/outbound.h"
#include "cubby/s3.h"
#include "cubby/sigv4.h"
#include "cubby/util.h"

#define S3_ATTEMPTS      3
#define S3_ERRBODY_MAX   (64 * 1024)
#define S3_LIST_MAX      (8 * 1024 * 1024)
#define S3_EXTRA_MAX     2

static CURL *easy;      /* this process's handle: its connection cache */

/* ---- request plumbing ------------------------------------------------ */

struct body_src {
	const char *mem;
	int fd;
	int64_t off, len, pos;
};

struct sink {
	struct buf *mem;        /* the reply body, capped */
	int overflow;
	/* A 2xx body goes to fn instead (non-zero stops the transfer);
	 * reset is called before each attempt. */
	int (*fn)(void *arg, const void *p, size_t n);
	void (*reset)(void *arg);
	void *arg;
};

static size_t
read_body(char *p, size_t size, size_t n, void *arg)
{
	struct body_src *b = arg;
	int64_t left = b->len - b->pos;
	size_t want = size * n;

	if (left <= 0)
		return 0;
	if ((int64_t)want > left)
		want = (size_t)left;
	if (b->mem != NULL) {
		memcpy(p, b->mem + b->pos, want);
	} else {
		ssize_t got = pread(b->fd, p, want, (off_t)(b->off + b->pos));
		if (got <= 0)
			return CURL_READFUNC_ABORT;
		want = (size_t)got;
	}
	b->pos += (int64_t)want;
	return want;
}

static size_t
write_sink(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t len = size * n;

	if (s->fn != NULL) {
		long status = 0;
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status < 300)
			return s->fn(s->arg, p, len) == 0 ? len : 0;
	}
	if (buf_append(s->mem, p, len) != 0) {
		s->overflow = 1;
		return 0;
	}
	return len;
}

static size_t
read_header(char *p, size_t size, size_t n, void *arg)
{
	struct s3_result *res = arg;
	size_t len = size * n, vl;
	const char *v;

	if (len > 5 && strncasecmp(p, "etag:", 5) == 0) {
		v = p + 5;
		while (*v == ' ' && v < p + len)
			v++;
		vl = (size_t)(p + len - v);
		while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
			vl--;
		if (vl < sizeof res->etag) {
			memcpy(res->etag, v, vl);
			res->etag[vl] = '\0';
		}
	} else if (len > 15 && strncasecmp(p, "content-length:", 15) == 0) {
		char num[32];
		long long x;
		v = p + 15;
		while (*v == ' ' && v < p + len)
			v++;
		vl = (size_t)(p + len - v);
		while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
			vl--;
		if (vl < sizeof num) {
			memcpy(num, v, vl);
			num[vl] = '\0';
			if (parse_ll(num, 0, INT64_MAX, &x) == 0)
				res->length = x;
		}
	}
	return len;
}

/* The text between <tag> and </tag> after *from, XML entities decoded,
 * into out; *from moves past it. 0, or -1 when absent. */
static int
xml_take(const char **from, const char *tag, char *out, size_t outlen)
{
	char open[64], close[64];
	const char *s, *e;
	size_t j = 0;

	snprintf(open, sizeof open, "<%s>", tag);
	snprintf(close, sizeof close, "</%s>", tag);
	if ((s = strstr(*from, open)) == NULL)
		return -1;
	s += strlen(open);
	if ((e = strstr(s, close)) == NULL)
		return -1;
	for (const char *c = s; c < e && j + 1 < outlen; c++) {
		static const struct { const char *ent; char ch; } ents[] = {
			{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
			{ "&quot;", '"' }, { "&apos;", '\'' },
		};
		size_t k;
		for (k = 0; k < sizeof ents / sizeof ents[0]; k++) {
			size_t l = strlen(ents[k].ent);
			if ((size_t)(e - c) >= l && strncmp(c, ents[k].ent, l) == 0) {
				out[j++] = ents[k].ch;
				c += l - 1;
				break;
			}
		}
		if (k == sizeof ents / sizeof ents[0])
			out[j++] = *c;
	}
	out[j] = '\0';
	*from = e + strlen(close);
	return 0;
}

/* res->code and message from an error reply (or the status alone). */
static void
fill_error(struct s3_result *res, const char *body)
{
	const char *p = body ? body : "";
	char msg[256] = "";

	if (xml_take(&p, "Code", res->code, sizeof res->code) != 0) {
		const char *c = res->status == 404 ? "NotFound" : res->status == 403 ?
		    "Forbidden" : res->status == 400 ? "BadRequest" :
		    res->status == 301 ? "PermanentRedirect" : res->status >= 500 ?
		    "ServiceUnavailable" : "UnexpectedStatus";
		snprintf(res->code, sizeof res->code, "%s", c);
	}
	p = body ? body : "";
	xml_take(&p, "Message", msg, sizeof msg);
	if (strcmp(res->code, "RequestTimeTooSkewed") == 0)
		snprintf(res->message, sizeof res->message, "clock skew: this server's clock "
		    "and the store's differ by more than the store allows (%s)", res->code);
	else if (strcmp(res->code, "SignatureDoesNotMatch") == 0)
		snprintf(res->message, sizeof res->message, "the store rejected the "
		    "signature (%s): check the secret key", res->code);
	else if (*msg)
		snprintf(res->message, sizeof res->message, "the store answered %ld %s: %s",
		    res->status, res->code, msg);
	else if (res->status == 403)    /* a HEAD: no body to say more */
		snprintf(res->message, sizeof res->message, "the store refused access "
		    "(403): check the access key, the secret and the bucket's policy");
	else if (res->status == 404)
		snprintf(res->message, sizeof res->message, "the store answered 404: "
		    "no such bucket or key");
	else if (res->status == 301)
		snprintf(res->message, sizeof res->message, "the store answered 301: "
		    "the bucket is in another region");
	else
		snprintf(res->message, sizeof res->message, "the store answered %ld %s",
		    res->status, res->code);
}

struct call {
	const char *method;
	const char *key;                /* NULL: the bucket (or the service) */
	const char *query;              /* raw, canonical order */
	const char *content_type;
	const char *range;              /* "bytes=a-b" */
	struct body_src body;           /* len 0: no body */
	const char *payload_hash;       /* NULL: computed (memory) or unsigned */
	struct sink sink;
	int head;
	const struct sigv4_header *extra;   /* more headers to sign and send */
	size_t nextra;                      /* at most S3_EXTRA_MAX */
};

/* scheme://host[:port] of the endpoint, the Host header and the decoded
 * path of a call. */
static int
locate(const struct s3_target *t, const char *key, struct buf *origin,
    struct buf *host, struct buf *path)
{
	const char *ep = t->endpoint, *hp;
	int https = has_prefix_ci(ep, "https://");
	size_t hl;

	if (!https && !has_prefix_ci(ep, "http://"))
		return -1;
	hp = ep + (https ? 8 : 7);
	hl = strcspn(hp, "/?#");
	if (hl == 0)
		return -1;
	if (t->bucket && *t->bucket && !t->path_style) {
		if (buf_printf(host, "%s.%.*s", t->bucket, (int)hl, hp) != 0)
			return -1;
	} else if (buf_append(host, hp, hl) != 0) {
		return -1;
	}
	if (buf_printf(origin, "%s%s", https ? "https://" : "http://", buf_cstr(host)) != 0)
		return -1;
	if (t->bucket && *t->bucket && t->path_style) {
		if (buf_printf(path, "/%s", t->bucket) != 0 ||
		    (key && buf_printf(path, "/%s", key) != 0))
			return -1;
	} else if (buf_printf(path, "/%s", key ? key : "") != 0) {
		return -1;
	}
	return 0;
}

static int
perform(const struct s3_target *t, struct call *c, struct s3_result *res)
{
	struct buf origin, host, path, wire, url, auth;
	char date[17], hash[65], pin[OUTBOUND_PIN_MAX], why[256], cerr[CURL_ERROR_SIZE];
	int rc = -1;

	memset(res, 0, sizeof *res);
	res->length = -1;
	buf_init(&origin, 1024);
	buf_init(&host, 512);
	buf_init(&path, 4096);
	buf_init(&wire, 16384);
	buf_init(&url, 20000);
	buf_init(&auth, 2048);
	if (locate(t, c->key, &origin, &host, &path) != 0 ||
	    buf_puts(&url, buf_cstr(&origin)) != 0 ||
	    sigv4_encode_path(&wire, buf_cstr(&path), 0) != 0 ||
	    buf_puts(&url, buf_cstr(&wire)) != 0 ||
	    (c->query && *c->query && buf_printf(&url, "?%s", c->query) != 0)) {
		snprintf(res->code, sizeof res->code, "InvalidTarget");
		snprintf(res->message, sizeof res->message, "the endpoint or key cannot "
		    "make a URL");
		goto out;
	}
	if (outbound_pin(buf_cstr(&url), t->allow_private, "s3_allow_private", pin,
	    sizeof pin, why, sizeof why) != 0) {
		snprintf(res->code, sizeof res->code, "Refused");
		snprintf(res->message, sizeof res->message, "%s", why);
		goto out;
	}
	if (c->payload_hash)
		snprintf(hash, sizeof hash, "%s", c->payload_hash);
	else if (c->body.mem != NULL || c->body.len == 0) {
		unsigned char h[32];
		sha256(c->body.mem ? c->body.mem : "", (size_t)c->body.len, h);
		hex_encode(hash, h, 32);
	} else
		snprintf(hash, sizeof hash, "UNSIGNED-PAYLOAD");
	if (easy == NULL && (easy = curl_easy_init()) == NULL) {
		snprintf(res->code, sizeof res->code, "NoCurl");
		snprintf(res->message, sizeof res->message, "curl is unavailable");
		goto out;
	}
	for (int attempt = 0; attempt < (t->once ? 1 : S3_ATTEMPTS); attempt++) {
		struct sigv4_key k = { t->access_key, t->secret_key, NULL, t->region, "s3" };
		struct sigv4_header hs[4 + S3_EXTRA_MAX];
		struct curl_slist *hl = NULL, *resolve = NULL;
		struct sigv4_req sr;
		char line[20000];
		size_t nh = 0;
		CURLcode cc;

		if (attempt > 0) {
			/* 200 ms, then 800 ms */
			struct timespec ts = { 0, attempt == 1 ? 200000000L : 800000000L };
			nanosleep(&ts, NULL);
		}
		res->attempts = attempt + 1;
		res->status = 0;
		res->code[0] = res->message[0] = res->etag[0] = '\0';
		res->length = -1;
		c->body.pos = 0;
		c->sink.overflow = 0;
		buf_reset(c->sink.mem);
		if (c->sink.reset != NULL)
			c->sink.reset(c->sink.arg);
		sigv4_date((long long)time(NULL), date);
		hs[nh++] = (struct sigv4_header){ "host", buf_cstr(&host) };
		hs[nh++] = (struct sigv4_header){ "x-amz-content-sha256", hash };
		hs[nh++] = (struct sigv4_header){ "x-amz-date", date };
		if (c->content_type)
			hs[nh++] = (struct sigv4_header){ "content-type", c->content_type };
		for (size_t i = 0; i < c->nextra && i < S3_EXTRA_MAX; i++)
			hs[nh++] = c->extra[i];
		sr = (struct sigv4_req){ c->method, buf_cstr(&path), c->query, hs, nh, hash, 0 };
		buf_reset(&auth);
		if (sigv4_authorization(&k, &sr, date, 0, &auth) != 0) {
			snprintf(res->code, sizeof res->code, "SigningFailed");
			snprintf(res->message, sizeof res->message, "the request could not be signed");
			goto out;
		}
		curl_easy_reset(easy);
		snprintf(line, sizeof line, "Host: %s", buf_cstr(&host));
		hl = curl_slist_append(hl, line);
		snprintf(line, sizeof line, "x-amz-content-sha256: %s", hash);
		hl = curl_slist_append(hl, line);
		snprintf(line, sizeof line, "x-amz-date: %s", date);
		hl = curl_slist_append(hl, line);
		snprintf(line, sizeof line, "Authorization: %s", buf_cstr(&auth));
		hl = curl_slist_append(hl, line);
		if (c->content_type) {
			snprintf(line, sizeof line, "Content-Type: %s", c->content_type);
			hl = curl_slist_append(hl, line);
		} else if (c->body.len > 0 || strcmp(c->method, "POST") == 0) {
			hl = curl_slist_append(hl, "Content-Type:");
		}
		if (c->range) {
			snprintf(line, sizeof line, "Range: %s", c->range);
			hl = curl_slist_append(hl, line);
		}
		for (size_t i = 0; i < c->nextra && i < S3_EXTRA_MAX; i++) {
			snprintf(line, sizeof line, "%s: %s", c->extra[i].name, c->extra[i].value);
			hl = curl_slist_append(hl, line);
		}
		if (*pin)
			resolve = curl_slist_append(resolve, pin);
		cerr[0] = '\0';
		curl_easy_setopt(easy, CURLOPT_URL, buf_cstr(&url));
		outbound_curl(easy, resolve);
		curl_easy_setopt(easy, CURLOPT_HTTPHEADER, hl);
		curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, cerr);
		curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
		/* No overall limit (bodies may be large); a transfer that
		 * stalls below 1 byte/s for 30 s is abandoned. */
		curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, 30L);
		curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, read_header);
		curl_easy_setopt(easy, CURLOPT_HEADERDATA, res);
		curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, c->method);
		if (c->head)
			curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
		if (strcmp(c->method, "PUT") == 0) {
			curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
			curl_easy_setopt(easy, CURLOPT_READFUNCTION, read_body);
			curl_easy_setopt(easy, CURLOPT_READDATA, &c->body);
			curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)c->body.len);
		} else if (strcmp(c->method, "POST") == 0) {
			curl_easy_setopt(easy, CURLOPT_POST, 1L);
			curl_easy_setopt(easy, CURLOPT_READFUNCTION, read_body);
			curl_easy_setopt(easy, CURLOPT_READDATA, &c->body);
			curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body.len);
		}
		curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_sink);
		curl_easy_setopt(easy, CURLOPT_WRITEDATA, &c->sink);
		cc = curl_easy_perform(easy);
		curl_slist_free_all(hl);
		curl_slist_free_all(resolve);
		if (cc == CURLE_OK)
			curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &res->status);
		if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && res->status >= 300)) {
			if (c->sink.overflow) {
				snprintf(res->code, sizeof res->code, "TooLarge");
				snprintf(res->message, sizeof res->message, "the store's reply is "
				    "larger than expected");
				goto out;
			}
			snprintf(res->code, sizeof res->code, "%s",
			    cc == CURLE_OPERATION_TIMEDOUT ? "Timeout" : "NetworkError");
			snprintf(res->message, sizeof res->message, "the store could not be "
			    "reached: %s", *cerr ? cerr : curl_easy_strerror(cc));
			res->status = 0;
			continue;       /* retried */
		}
		if (res->status >= 200 && res->status < 300) {
			rc = 0;
			goto out;
		}
		/* An error reply: its XML went to the sink; read it there. */
		fill_error(res, buf_cstr(c->sink.mem));
		if (res->status < 500)
			goto out;       /* 4xx: not retried */
	}
out:
	if (rc != 0 && res->code[0] && strcmp(res->code, "NotFound") != 0)
		log_debug("s3: %s %s: %s", c->method, buf_cstr(&path), res->message);
	buf_free(&origin);
	buf_free(&host);
	buf_free(&path);
	buf_free(&wire);
	buf_free(&url);
	buf_free(&auth);
	return rc;
}

/* A call whose reply body (if any) is read into a capped buffer. */
static int
simple(const struct s3_target *t, struct call *c, struct buf *reply,
    struct s3_result *res)
{
	struct buf own;
	int rc;

	if (reply == NULL) {
		buf_init(&own, S3_ERRBODY_MAX);
		reply = &own;
	}
	c->sink.mem = reply;
	rc = perform(t, c, res);
	if (reply == &own)
		buf_free(&own);
	return rc;
}

/* ---- operations --------------------------------------------------------- */

int
s3_head_bucket(const struct s3_target *t, struct s3_result *res)
{
	struct call c = { .method = "HEAD", .head = 1 };
	return simple(t, &c, NULL, res);
}

int
s3_head(const struct s3_target *t, const char *key, struct s3_result *res)
{
	struct call c = { .method = "HEAD", .key = key, .head = 1 };
	return simple(t, &c, NULL, res);
}

int
s3_put_mem(const struct s3_target *t, const char *key, const void *data,
    size_t n, const char *content_type, struct s3_result *res)
{
	struct call c = { .method = "PUT", .key = key, .content_type = content_type,
	    .body = { .mem = data ? data : "", .len = (int64_t)n } };
	return simple(t, &c, NULL, res);
}

int
s3_put_file(const struct s3_target *t, const char *key, int fd, int64_t off,
    int64_t len, const char *sha_hex, const char *content_type,
    struct s3_result *res)
{
	struct call c = { .method = "PUT", .key = key, .content_type = content_type,
	    .body = { .fd = fd, .off = off, .len = len },
	    .payload_hash = sha_hex ? sha_hex : (len == 0 ? SIGV4_EMPTY_SHA256 : NULL) };
	return simple(t, &c, NULL, res);
}

static void
set_range(struct call *c, char range[64], int64_t from, int64_t to)
{
	if (from <= 0 && to < 0)
		return;
	if (to >= 0)
		snprintf(range, 64, "bytes=%lld-%lld", (long long)from, (long long)to);
	else
		snprintf(range, 64, "bytes=%lld-", (long long)from);
	c->range = range;
}

int
s3_get_mem(const struct s3_target *t, const char *key, int64_t from,
    int64_t to, struct buf *out, struct s3_result *res)
{
	struct call c = { .method = "GET", .key = key };
	char range[64];

	set_range(&c, range, from, to);
	return simple(t, &c, out, res);
}

int
s3_get_stream(const struct s3_target *t, const char *key,
    int (*fn)(void *arg, const void *p, size_t n), void (*reset)(void *arg),
    void *arg, struct s3_result *res)
{
	struct call c = { .method = "GET", .key = key,
	    .sink = { .fn = fn, .reset = reset, .arg = arg } };
	return simple(t, &c, NULL, res);
}

int
s3_copy(const struct s3_target *t, const char *from, const char *to,
    const char *if_match, struct s3_result *res)
{
	struct sigv4_header h[2];
	struct call c = { .method = "PUT", .key = to, .extra = h, .nextra = 1 };
	struct buf src, path;
	int rc = -1;

	/* x-amz-copy-source: /bucket/key, URL-encoded ('/' kept). */
	buf_init(&src, 4096);
	buf_init(&path, 4096);
	if (buf_printf(&path, "/%s/%s", t->bucket, from) != 0 ||
	    sigv4_encode_path(&src, buf_cstr(&path), 0) != 0) {
		memset(res, 0, sizeof *res);
		snprintf(res->code, sizeof res->code, "InvalidTarget");
		snprintf(res->message, sizeof res->message, "the key cannot be copied");
		goto out;
	}
	h[0] = (struct sigv4_header){ "x-amz-copy-source", buf_cstr(&src) };
	if (if_match != NULL && *if_match) {
		h[1] = (struct sigv4_header){ "x-amz-copy-source-if-match", if_match };
		c.nextra = 2;
	}
	rc = simple(t, &c, NULL, res);
out:
	buf_free(&src);
	buf_free(&path);
	return rc;
}

int
s3_delete(const struct s3_target *t, const char *key, struct s3_result *res)
{
	struct call c = { .method = "DELETE", .key = key };
	return simple(t, &c, NULL, res);
}

int
s3_list(const struct s3_target *t, const char *prefix, int max,
    int (*cb)(void *arg, const char *key, int64_t size), void *arg,
    struct s3_result *res)
{
	struct buf q, reply;
	struct call c = { .method = "GET" };
	int n = -1;

	buf_init(&q, 4096);
	buf_init(&reply, S3_LIST_MAX);
	if (buf_printf(&q, "list-type=2&max-keys=%d&prefix=", max) != 0 ||
	    sigv4_encode(&q, prefix ? prefix : "", prefix ? strlen(prefix) : 0, 0) != 0)
		goto out;
	c.query = buf_cstr(&q);
	if (simple(t, &c, &reply, res) != 0)
		goto out;
	n = 0;
	for (const char *p = buf_cstr(&reply); ; ) {
		char key[1100], size[32];
		const char *item;
		long long sz = 0;
		if ((item = strstr(p, "<Contents>")) == NULL)
			break;
		p = item;
		if (xml_take(&p, "Key", key, sizeof key) != 0)
			break;
		if (xml_take(&p, "Size", size, sizeof size) == 0)
			parse_ll(size, 0, INT64_MAX, &sz);
		n++;
		if (cb && cb(arg, key, sz) != 0)
			break;
	}
out:
	buf_free(&q);
	buf_free(&reply);
	return n;
}

/* "2026-11-24T02:37:00.000Z" to unix seconds, or 0. */
static int64_t
iso_seconds(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof tm);
	if (strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
		return 0;
	return (int64_t)timegm(&tm);
}

int
s3_list_all(const struct s3_target *t, const char *prefix,
    int (*cb)(void *arg, const char *key, int64_t size, int64_t mtime), void *arg,
    struct s3_result *res)
{
	struct buf q, reply;
	char token[1100] = "";
	int n = 0, more = 1;

	buf_init(&q, 4096);
	buf_init(&reply, S3_LIST_MAX);
	while (more) {
		struct call c = { .method = "GET" };
		const char *p;
		char trunc[16] = "";

		buf_reset(&q);
		if ((*token && (buf_puts(&q, "continuation-token=") != 0 ||
		    sigv4_encode(&q, token, strlen(token), 0) != 0 || buf_putc(&q, '&') != 0)) ||
		    buf_puts(&q, "list-type=2&max-keys=1000&prefix=") != 0 ||
		    sigv4_encode(&q, prefix ? prefix : "", prefix ? strlen(prefix) : 0, 0) != 0) {
			n = -1;
			break;
		}
		c.query = buf_cstr(&q);
		if (simple(t, &c, &reply, res) != 0) {
			n = -1;
			break;
		}
		for (p = buf_cstr(&reply); (p = strstr(p, "<Contents>")) != NULL; ) {
			char key[1100], size[32], mod[40] = "";
			const char *end = strstr(p, "</Contents>"), *q2 = p;
			long long sz = 0;
			if (end == NULL || xml_take(&p, "Key", key, sizeof key) != 0)
				break;
			if (xml_take(&q2, "LastModified", mod, sizeof mod) != 0 || q2 > end)
				mod[0] = '\0';
			q2 = p;
			if (xml_take(&q2, "Size", size, sizeof size) == 0 && q2 <= end + 11)
				parse_ll(size, 0, INT64_MAX, &sz);
			p = end;
			n++;
			if (cb && cb(arg, key, sz, iso_seconds(mod)) != 0) {
				more = 0;
				break;
			}
		}
		p = buf_cstr(&reply);
		more = more && xml_take(&p, "IsTruncated", trunc, sizeof trunc) == 0 &&
		    strcmp(trunc, "true") == 0;
		p = buf_cstr(&reply);
		if (more && xml_take(&p, "NextContinuationToken", token, sizeof token) != 0)
			more = 0;
	}
	buf_free(&q);
	buf_free(&reply);
	return n;
}

int
s3_list_buckets(const struct s3_target *t,
    int (*cb)(void *arg, const char *name, const char *created), void *arg,
    struct s3_result *res)
{
	struct s3_target svc = *t;
	struct buf reply;
	struct call c = { .method = "GET" };
	int n = -1;

	svc.bucket = "";
	buf_init(&reply, S3_LIST_MAX);
	if (simple(&svc, &c, &reply, res) != 0)
		goto out;
	n = 0;
	for (const char *p = buf_cstr(&reply); (p = strstr(p, "<Bucket>")) != NULL; ) {
		char name[256], created[64] = "";
		if (xml_take(&p, "Name", name, sizeof name) != 0)
			break;
		{
			const char *q = p, *next = strstr(p, "<Bucket>");
			if (xml_take(&q, "CreationDate", created, sizeof created) == 0 &&
			    (next == NULL || q <= next))
				p = q;
			else
				created[0] = '\0';
		}
		n++;
		if (cb && cb(arg, name, created) != 0)
			break;
	}
out:
	buf_free(&reply);
	return n;
}

int
s3_create_bucket(const struct s3_target *t, struct s3_result *res)
{
	char body[512] = "";
	struct call c = { .method = "PUT" };

	/* us-east-1 (and R2's "auto") take no location constraint. */
	if (strcmp(t->region, "us-east-1") != 0 && strcmp(t->region, "auto") != 0)
		snprintf(body, sizeof body, "<CreateBucketConfiguration xmlns="
		    "\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>%s"
		    "</LocationConstraint></CreateBucketConfiguration>", t->region);
	c.body.mem = body;
	c.body.len = (int64_t)strlen(body);
	return simple(t, &c, NULL, res);
}

int
s3_mpu_create(const struct s3_target *t, const char *key,
    const char *content_type, struct s3_result *res)
{
	struct buf reply;
	struct call c = { .method = "POST", .key = key, .query = "uploads=",
	    .content_type = content_type, .body = { .mem = "" } };
	int rc;

	buf_init(&reply, S3_ERRBODY_MAX);
	rc = simple(t, &c, &reply, res);
	if (rc == 0) {
		const char *p = buf_cstr(&reply);
		if (xml_take(&p, "UploadId", res->upload_id, sizeof res->upload_id) != 0 ||
		    !*res->upload_id) {
			snprintf(res->code, sizeof res->code, "BadReply");
			snprintf(res->message, sizeof res->message, "the store's reply has no UploadId");
			rc = -1;
		}
	}
	buf_free(&reply);
	return rc;
}

static int
upload_query(struct buf *q, const char *upload_id, int part)
{
	if (part > 0 && buf_printf(q, "partNumber=%d&", part) != 0)
		return -1;
	return buf_puts(q, "uploadId=") == 0 &&
	    sigv4_encode(q, upload_id, strlen(upload_id), 0) == 0 ? 0 : -1;
}

int
s3_mpu_part_file(const struct s3_target *t, const char *key,
    const char *upload_id, int part, int fd, int64_t off, int64_t len,
    struct s3_result *res)
{
	struct buf q;
	struct call c = { .method = "PUT", .key = key,
	    .body = { .fd = fd, .off = off, .len = len } };
	int rc = -1;

	buf_init(&q, 2048);
	if (upload_query(&q, upload_id, part) == 0) {
		c.query = buf_cstr(&q);
		rc = simple(t, &c, NULL, res);
	}
	buf_free(&q);
	return rc;
}

int
s3_mpu_complete(const struct s3_target *t, const char *key,
    const char *upload_id, const struct s3_part *parts, size_t n,
    struct s3_result *res)
{
	struct buf q, body, reply;
	struct call c = { .method = "POST", .key = key, .content_type = "application/xml" };
	int rc = -1;

	buf_init(&q, 2048);
	buf_init(&body, 64 + n * 160);
	buf_init(&reply, S3_ERRBODY_MAX);
	if (upload_query(&q, upload_id, 0) != 0 ||
	    buf_puts(&body, "<CompleteMultipartUpload>") != 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (buf_printf(&body, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>",
		    parts[i].number, parts[i].etag) != 0)
			goto out;
	if (buf_puts(&body, "</CompleteMultipartUpload>") != 0)
		goto out;
	c.query = buf_cstr(&q);
	c.body.mem = body.data;
	c.body.len = (int64_t)body.len;
	rc = simple(t, &c, &reply, res);
	/* S3 may answer 200 and put the error in the body. */
	if (rc == 0 && strstr(buf_cstr(&reply), "<Error>") != NULL) {
		res->status = 500;
		fill_error(res, buf_cstr(&reply));
		rc = -1;
	}
out:
	buf_free(&q);
	buf_free(&body);
	buf_free(&reply);
	return rc;
}

int
s3_mpu_abort(const struct s3_target *t, const char *key,
    const char *upload_id, struct s3_result *res)
{
	struct buf q;
	struct call c = { .method = "DELETE", .key = key };
	int rc = -1;

	buf_init(&q, 2048);
	if (upload_query(&q, upload_id, 0) == 0) {
		c.query = buf_cstr(&q);
		rc = simple(t, &c, NULL, res);
	}
	buf_free(&q);
	return rc;
}

int
s3_mpu_list_parts(const struct s3_target *t, const char *key,
    const char *upload_id,
    int (*cb)(void *arg, int number, const char *etag, int64_t size), void *arg,
    struct s3_result *res)
{
	struct buf q, reply;
	struct call c = { .method = "GET", .key = key };
	int n = -1;

	buf_init(&q, 2048);
	buf_init(&reply, S3_LIST_MAX);
	if (buf_puts(&q, "max-parts=10000&") != 0 || upload_query(&q, upload_id, 0) != 0)
		goto out;
	c.query = buf_cstr(&q);
	if (simple(t, &c, &reply, res) != 0)
		goto out;
	n = 0;
	for (const char *p = buf_cstr(&reply); (p = strstr(p, "<Part>")) != NULL; ) {
		char num[16], etag[136], size[32];
		long long pn = 0, sz = 0;
		if (xml_take(&p, "PartNumber", num, sizeof num) != 0 ||
		    xml_take(&p, "ETag", etag, sizeof etag) != 0 ||
		    xml_take(&p, "Size", size, sizeof size) != 0 ||
		    parse_ll(num, 1, 10000, &pn) != 0 || parse_ll(size, 0, INT64_MAX, &sz) != 0)
			break;
		n++;
		if (cb && cb(arg, (int)pn, etag, sz) != 0)
			break;
	}
out:
	buf_free(&q);
	buf_free(&reply);
	return n;
}

int
s3_presign(const struct s3_target *t, const char *method, const char *key,
    const char *query, const char *content_type, long expires, struct buf *url)
{
	struct sigv4_key k = { t->access_key, t->secret_key, NULL, t->region, "s3" };
	struct buf origin, host, path;
	struct sigv4_header h[2];
	struct sigv4_req r;
	char date[17];
	int rc = -1;

	buf_init(&origin, 1024);
	buf_init(&host, 512);
	buf_init(&path, 4096);
	if (locate(t, key, &origin, &host, &path) != 0)
		goto out;
	sigv4_date((long long)time(NULL), date);
	h[0] = (struct sigv4_header){ "host", buf_cstr(&host) };
	h[1] = (struct sigv4_header){ "content-type", content_type };
	r = (struct sigv4_req){ method, buf_cstr(&path), query, h, content_type ? 2 : 1,
	    "UNSIGNED-PAYLOAD", 0 };
	if (buf_puts(url, buf_cstr(&origin)) != 0 ||
	    sigv4_encode_path(url, buf_cstr(&path), 0) != 0 || buf_putc(url, '?') != 0 ||
	    sigv4_presign_query(&k, &r, date, expires, 1, url) != 0)
		goto out;
	rc = 0;
out:
	buf_free(&origin);
	buf_free(&host);
	buf_free(&path);
	return rc;
}

int
s3_target_check(const struct s3_target *t, int need_bucket, const char **field,
    const char **why)
{
	const char *ep = t->endpoint ? t->endpoint : "", *hp;
	size_t n;

	*field = "endpoint";
	if (!has_prefix_ci(ep, "https://") && !has_prefix_ci(ep, "http://")) {
		*why = "endpoint must be an http:// or https:// URL";
		return -1;
	}
	hp = ep + (has_prefix_ci(ep, "https://") ? 8 : 7);
	n = strcspn(hp, "/?#@");
	if (n == 0 || n > 253 || (hp[n] != '\0' && !(hp[n] == '/' && hp[n + 1] == '\0'))) {
		*why = "endpoint must be scheme://host[:port], without a path, query or user";
		return -1;
	}
	*field = "region";
	n = t->region ? strlen(t->region) : 0;
	if (n == 0 || n > 63 || strspn(t->region, "abcdefghijklmnopqrstuvwxyz0123456789-") != n) {
		*why = "region is required: lower-case letters, digits and '-' (us-east-1, auto)";
		return -1;
	}
	*field = "bucket";
	n = t->bucket ? strlen(t->bucket) : 0;
	if (need_bucket || n > 0) {
		const char *b = t->bucket ? t->bucket : "";
		if (n < 3 || n > 63 || strspn(b, "abcdefghijklmnopqrstuvwxyz0123456789.-") != n ||
		    b[0] == '.' || b[0] == '-' || b[n - 1] == '.' || b[n - 1] == '-' ||
		    strstr(b, "..") != NULL) {
			*why = "bucket must be 3 to 63 lower-case letters, digits, '.' and '-'";
			return -1;
		}
	}
	*field = "access_key_id";
	n = t->access_key ? strlen(t->access_key) : 0;
	if (n == 0 || n > 256 || strpbrk(t->access_key, " \t\r\n/") != NULL) {
		*why = "access_key_id is required (1 to 256 characters, no spaces or '/')";
		return -1;
	}
	*field = "secret_access_key";
	n = t->secret_key ? strlen(t->secret_key) : 0;
	if (n == 0 || n > 256 || strpbrk(t->secret_key, "\r\n") != NULL) {
		*why = "secret_access_key is required (1 to 256 characters)";
		return -1;
	}
	return 0;
}
