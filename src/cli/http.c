/* http.c - the client's HTTP layer: one kept libcurl handle for API
 * calls, answers read into capped buffers, and the mapping from
 * answers to messages and exit codes. Never prints an API key. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cubby/xmalloc.h"

volatile sig_atomic_t cli_interrupted;

void
cli_err(const char *fmt, ...)
{
	va_list ap;

	fputs("cubby: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
cli_curl_defaults(CURL *h)
{
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 15L);
	/* A stalled transfer (under 1 byte/s for 60 s) is a network error. */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "cubby/" PACKAGE_VERSION);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
}

static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	if (buf_append(b, p, size * n) != 0)
		return 0;   /* over the cap: the transfer fails */
	return size * n;
}

char *
cli_escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0);
	char *out;

	if (e == NULL)
		return xstrdup("");
	out = xstrdup(e);
	curl_free(e);
	return out;
}

void
resp_free(struct resp *r)
{
	buf_free(&r->body);
	if (r->json != NULL)
		json_object_put(r->json);
	r->json = NULL;
}

json_object *
resp_data(const struct resp *r)
{
	json_object *d;

	if (r->json == NULL || !json_object_object_get_ex(r->json, "data", &d))
		return NULL;
	return d;
}

const char *
jstr(json_object *o, const char *key)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int
resp_take_string(struct resp *r, const char *key, const char *what, char **out)
{
	const char *v = jstr(resp_data(r), key);

	*out = v != NULL ? xstrdup(v) : NULL;
	resp_free(r);
	if (*out == NULL) {
		cli_err("the server's answer to %s has no %s", what, key);
		return EX_SERVER;
	}
	return EX_OK;
}

long long
jint(json_object *o, const char *key)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v))
		return -1;
	return json_object_get_int64(v);
}

size_t
jlen(json_object *o)
{
	return json_object_is_type(o, json_type_array) ? json_object_array_length(o) : 0;
}

void
fmt_bytes(char *out, size_t outlen, double n)
{
	static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int i = 0;

	while (n >= 1024 && i < 4) {
		n /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(out, outlen, "%.0f B", n);
	else
		snprintf(out, outlen, "%.1f %s", n, unit[i]);
}

int
curl_fail(CURLcode rc, const char *errbuf, const char *url)
{
	if (cli_interrupted)
		return EX_INTERRUPTED;
	cli_err("network error talking to %.*s: %s", (int)strcspn(url, "?"),
	    url, errbuf && *errbuf ? errbuf : curl_easy_strerror(rc));
	return EX_NETWORK;
}

int
resp_fail(struct cli *c, const struct resp *r)
{
	json_object *e = NULL, *v;
	const char *code = NULL, *msg = NULL;
	char codebuf[16];
	int ex;

	if (r->json != NULL && json_object_object_get_ex(r->json, "error", &e)) {
		if (json_object_is_type(e, json_type_string)) {
			msg = json_object_get_string(e);
		} else {
			if (json_object_object_get_ex(e, "code", &v)) {
				if (json_object_is_type(v, json_type_int)) {
					snprintf(codebuf, sizeof codebuf, "%d",
					    json_object_get_int(v));
					code = codebuf;
				} else {
					code = json_object_get_string(v);
				}
			}
			msg = jstr(e, "message");
		}
	}
	snprintf(c->err_code, sizeof c->err_code, "%s",
	    code != NULL ? code : "http_error");
	if (r->status == 401 || (r->status == 403 &&
	    (code == NULL || strstr(code, "quota") == NULL)))
		ex = EX_AUTH;
	else if (r->status == 404)
		ex = EX_NOTFOUND;
	else if (r->status >= 500)
		ex = EX_SERVER;
	else
		ex = EX_FAIL;
	if (code == NULL && msg == NULL) {
		/* Not an API answer: a proxy's page, or an empty body. */
		cli_err("HTTP %ld from the server%s", r->status,
		    r->status == 413 ? " (the web server refused the size)" : "");
		return ex;
	}
	cli_err("%s%s%s (HTTP %ld)", code ? code : "", code && msg ? ": " : "",
	    msg ? msg : "", r->status);
	if (e != NULL && json_object_object_get_ex(e, "fields", &v) &&
	    json_object_is_type(v, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			json_object *f = json_object_array_get_idx(v, i);
			cli_err("  %s: %s", jstr(f, "field") ? jstr(f, "field") : "?",
			    jstr(f, "message") ? jstr(f, "message") : "");
		}
	}
	if (ex == EX_AUTH && r->status == 403 && c->scope != NULL)
		cli_err("this command needs a key with the '%s' scope", c->scope);
	else if (r->status == 401 && c->key_source != NULL)
		cli_err("the key from %s was refused: check it%s", c->key_source,
		    c->kv ? "" : ", or run 'cubby login'");
	return ex;
}

int
http_call(struct cli *c, const char *method, const char *url,
    const char *bearer, const char *ctype, const void *data, size_t len,
    const char *const *headers, int keep_errors, struct resp *r)
{
	struct curl_slist *h = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct buf auth;
	char *full = NULL;
	CURLcode rc;
	int ex = EX_OK;

	memset(r, 0, sizeof *r);
	buf_init(&r->body, CLI_BODY_MAX);
	if (c->easy == NULL) {
		c->easy = curl_easy_init();
		if (c->easy == NULL) {
			cli_err("cannot start libcurl");
			return EX_NETWORK;
		}
	}
	curl_easy_reset(c->easy);
	cli_curl_defaults(c->easy);
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
		size_t n = strlen(c->base_url) + strlen(url) + 1;

		full = xmalloc(n);
		snprintf(full, n, "%s%s", c->base_url, url);
		url = full;
	}
	buf_init(&auth, 8192);
	if (bearer != NULL) {
		buf_printf(&auth, "Authorization: Bearer %s", bearer);
		h = curl_slist_append(h, buf_cstr(&auth));
	}
	if (ctype != NULL) {
		struct buf ct;

		buf_init(&ct, 512);
		buf_printf(&ct, "Content-Type: %s", ctype);
		h = curl_slist_append(h, buf_cstr(&ct));
		buf_free(&ct);
	}
	for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
		h = curl_slist_append(h, headers[i]);
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c->easy, CURLOPT_URL, url);
	curl_easy_setopt(c->easy, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c->easy, CURLOPT_NOBODY, 1L);
	if (data == NULL && strcmp(method, "GET") != 0 &&
	    strcmp(method, "HEAD") != 0 && strcmp(method, "DELETE") != 0) {
		data = "";   /* an empty body, with its Content-Length: 0 */
		len = 0;
	}
	if (data != NULL) {
		curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, data);
		curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)len);
	}
	curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c->easy, CURLOPT_TIMEOUT, 300L);
	curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, errbuf);
	rc = c->perform != NULL ? c->perform(c->perform_arg, c->easy) :
	    curl_easy_perform(c->easy);
	curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
	/* The header held the key: wipe it before the memory goes back. */
	if (auth.data != NULL)
		memset(auth.data, 0, auth.cap);
	buf_free(&auth);
	if (rc != CURLE_OK) {
		if (rc == CURLE_WRITE_ERROR)
			cli_err("the answer from %s is larger than %u MiB",
			    url, CLI_BODY_MAX >> 20);
		ex = rc == CURLE_WRITE_ERROR ? EX_SERVER :
		    curl_fail(rc, errbuf, url);
		snprintf(c->err_code, sizeof c->err_code, "network_error");
		free(full);
		resp_free(r);
		return ex;
	}
	curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->body.len > 0) {
		json_tokener *tok = json_tokener_new();

		r->json = json_tokener_parse_ex(tok, r->body.data, (int)r->body.len);
		if (json_tokener_get_error(tok) != json_tokener_success &&
		    r->json != NULL) {
			json_object_put(r->json);
			r->json = NULL;
		}
		json_tokener_free(tok);
	}
	free(full);
	if ((r->status < 200 || r->status > 299) && !keep_errors) {
		ex = resp_fail(c, r);
		resp_free(r);
	}
	return ex;
}

int
api_call(struct cli *c, const char *method, const char *path,
    json_object *body, struct resp *r)
{
	const char *s = NULL;
	size_t n = 0;

	if (c->api_key == NULL) {
		memset(r, 0, sizeof *r);
		cli_err("no API key: run 'cubby login', or set CUBBY_API_KEY");
		return EX_AUTH;
	}
	if (body != NULL) {
		s = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
		n = strlen(s);
	}
	return http_call(c, method, path, c->api_key,
	    body != NULL ? "application/json" : NULL, s, n, NULL, 0, r);
}
