/* webhook.c - webhook jobs: payloads in the file API's shape, HMAC-signed,
 * sent with libcurl through an SSRF guard, retried with back-off.
 * Never follows a redirect; never connects to an address it did not check;
 * never logs the secret or the signature. */
#include "config.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "cubby/arena.h"
#include "cubby/config.h"
#include "cubby/db.h"
#include "cubby/log.h"
#include "cubby/object.h"
#include "cubby/util.h"
#include "cubby/webhook.h"

#define SECRET_LABEL "cubby/webhook-secret/v1"

void
webhook_secret(const unsigned char master[CB_KEYLEN], const char *tenant_id,
    char hex[65])
{
	unsigned char sub[CB_KEYLEN], mac[32];

	masterkey_derive(master, SECRET_LABEL, sub);
	hmac_sha256(sub, sizeof sub, tenant_id, strlen(tenant_id), mac);
	hex_encode(hex, mac, sizeof mac);
	memset(sub, 0, sizeof sub);
}

static int
v4_internal(uint32_t a)
{
	return (a >> 24) == 0 || (a >> 24) == 10 || (a >> 24) == 127 ||
	    (a >> 16) == 0xa9fe ||                      /* 169.254/16 link-local */
	    (a >> 20) == 0xac1 ||                       /* 172.16/12 */
	    (a >> 16) == 0xc0a8 ||                      /* 192.168/16 */
	    (a >> 22) == (100u << 2 | 1) ||             /* 100.64/10 CGNAT */
	    (a >> 8) == 0xc00000 || (a >> 8) == 0xc00002 || /* 192.0.0/24, 192.0.2/24 */
	    (a >> 17) == (0xc612 >> 1) ||               /* 198.18/15 */
	    (a >> 8) == 0xc63364 || (a >> 8) == 0xcb0071 || /* 198.51.100/24, 203.0.113/24 */
	    (a >> 28) >= 0xe;                           /* multicast, reserved, broadcast */
}

int
addr_is_internal(const void *sa_)
{
	const struct sockaddr *sa = sa_;

	if (sa->sa_family == AF_INET)
		return v4_internal(ntohl(((const struct sockaddr_in *)sa_)->sin_addr.s_addr));
	if (sa->sa_family == AF_INET6) {
		const unsigned char *b = ((const struct sockaddr_in6 *)sa_)->sin6_addr.s6_addr;
		static const unsigned char zero[16];
		if (memcmp(b, zero, 15) == 0 && (b[15] == 0 || b[15] == 1))
			return 1;                           /* :: and ::1 */
		if (memcmp(b, zero, 10) == 0 && b[10] == 0xff && b[11] == 0xff)
			return v4_internal((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 |
			    (uint32_t)b[14] << 8 | b[15]);  /* ::ffff:a.b.c.d */
		return (b[0] & 0xfe) == 0xfc ||             /* fc00::/7 unique local */
		    (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) || /* fe80::/10 link-local */
		    b[0] == 0xff ||                         /* multicast */
		    (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8); /* doc */
	}
	return 1;
}

int
webhook_enqueue(struct db *db, const char *event, const char *tenant_id,
    const char *object_id)
{
	static const char sql[] =
	    "INSERT INTO jobs (kind, payload, run_at, created_at)"
	    " VALUES ('webhook', json_object('event', ?1, 'tenantId', ?2, 'fileId', ?3), ?4, ?4)";
	sqlite3_stmt *st = db_prep(db, sql);
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, event, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tenant_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, object_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now_unix_ms());
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The host and port of an http(s) URL, into host/port. 0 or -1. */
static int
url_host(const char *url, char *host, size_t hlen, int *port)
{
	const char *p, *end;
	long long v;

	if (has_prefix_ci(url, "https://")) {
		p = url + 8;
		*port = 443;
	} else if (has_prefix_ci(url, "http://")) {
		p = url + 7;
		*port = 80;
	} else {
		return -1;
	}
	end = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t)(end - p)) != NULL)
		return -1;      /* no credentials in webhook URLs */
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));
		if (rb == NULL || (size_t)(rb - p - 1) >= hlen)
			return -1;
		memcpy(host, p + 1, (size_t)(rb - p - 1));
		host[rb - p - 1] = '\0';
		p = rb + 1;
	} else {
		const char *colon = memchr(p, ':', (size_t)(end - p));
		const char *hend = colon ? colon : end;
		if (hend == p || (size_t)(hend - p) >= hlen)
			return -1;
		memcpy(host, p, (size_t)(hend - p));
		host[hend - p] = '\0';
		p = hend;
	}
	if (*p == ':') {
		char num[8];
		size_t n = (size_t)(end - p - 1);
		if (n == 0 || n >= sizeof num)
			return -1;
		memcpy(num, p + 1, n);
		num[n] = '\0';
		if (parse_ll(num, 1, 65535, &v) != 0)
			return -1;
		*port = (int)v;
	}
	return 0;
}

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* One delivery. 0 when the receiver answered 2xx; else -1 with why. */
static int
deliver(const struct cb_config *cfg, const char *url, const char *body,
    const char *event, const char *delivery, const char *signature,
    char *why, size_t whylen)
{
	struct addrinfo hints, *res = NULL, *ai;
	char host[256], ip[INET6_ADDRSTRLEN], pin[300], hdr[4][160];
	struct curl_slist *headers = NULL, *resolve = NULL;
	int port, rc = -1, gai;
	long status = 0;
	CURL *c;
	CURLcode cc;

	if (url_host(url, host, sizeof host, &port) != 0) {
		snprintf(why, whylen, "not an http(s) URL");
		return -1;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	if ((gai = getaddrinfo(host, NULL, &hints, &res)) != 0) {
		snprintf(why, whylen, "cannot resolve the host: %s", gai_strerror(gai));
		return -1;
	}
	/* Every address the name has must be acceptable: no mixing a public
	 * address with a private one to slip through. */
	for (ai = res; ai != NULL; ai = ai->ai_next)
		if (addr_is_internal(ai->ai_addr) && !cfg->webhook_allow_private) {
			snprintf(why, whylen, "refused: the host resolves to an internal "
			    "address (webhook_allow_private is off)");
			freeaddrinfo(res);
			return -1;
		}
	/* Connect to the first of the checked addresses. */
	ip[0] = '\0';
	inet_ntop(res->ai_family, res->ai_family == AF_INET ?
	    (const void *)&((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr :
	    (const void *)&((struct sockaddr_in6 *)(void *)res->ai_addr)->sin6_addr,
	    ip, sizeof ip);
	freeaddrinfo(res);
	/* Pin curl to the address that was checked (no second lookup). */
	snprintf(pin, sizeof pin, strchr(ip, ':') ? "%s:%d:[%s]" : "%s:%d:%s", host, port, ip);
	if ((c = curl_easy_init()) == NULL) {
		snprintf(why, whylen, "curl unavailable");
		return -1;
	}
	snprintf(hdr[0], sizeof hdr[0], "X-Cubby-Event: %s", event);
	snprintf(hdr[1], sizeof hdr[1], "X-Cubby-Delivery: %s", delivery);
	snprintf(hdr[2], sizeof hdr[2], "X-Cubby-Signature: sha256=%s", signature);
	snprintf(hdr[3], sizeof hdr[3], "User-Agent: cubby/%s", PACKAGE_VERSION);
	headers = curl_slist_append(headers, "Content-Type: application/json");
	for (int i = 0; i < 4; i++)
		headers = curl_slist_append(headers, hdr[i]);
	resolve = curl_slist_append(resolve, pin);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		snprintf(why, whylen, "%s", curl_easy_strerror(cc));
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status < 300)
			rc = 0;
		else
			snprintf(why, whylen, "the receiver answered %ld", status);
	}
	curl_slist_free_all(headers);
	curl_slist_free_all(resolve);
	curl_easy_cleanup(c);
	return rc;
}

/* The documented payload for an event, as JSON text (arena). */
static const char *
payload(struct db *db, struct arena *a, const struct cb_config *cfg,
    const char *event, const char *tenant_id, const char *file_id,
    const char **url)
{
	struct json_object *p, *f;
	struct object o;
	char iso[32];
	const char *s;

	if (object_get(db, a, tenant_id, file_id, 0, &o) != 0 || o.webhook_url == NULL)
		return NULL;
	*url = o.webhook_url;
	f = json_object_new_object();
	fmt_iso8601_ms(iso, sizeof iso, o.created_at);
	json_object_object_add(f, "id", json_object_new_string(o.id));
	json_object_object_add(f, "url", json_object_new_string(arena_printf(a,
	    "%s/api/v1/files/%s/download", cfg->base_path, o.id)));
	json_object_object_add(f, "originalName", json_object_new_string(o.name));
	json_object_object_add(f, "fileType", json_object_new_string(o.content_type));
	json_object_object_add(f, "sizeBytes", o.size_bytes < 0 ? NULL : json_object_new_int64(o.size_bytes));
	json_object_object_add(f, "context", o.context ? json_object_new_string(o.context) : NULL);
	json_object_object_add(f, "tags", o.tags ? json_tokener_parse(o.tags) : NULL);
	json_object_object_add(f, "metadata", o.metadata ? json_tokener_parse(o.metadata) : NULL);
	json_object_object_add(f, "processingStatus", json_object_new_string(o.processing_status));
	json_object_object_add(f, "workspaceId", o.workspace_id ? json_object_new_string(o.workspace_id) : NULL);
	json_object_object_add(f, "createdAt", json_object_new_string(iso));
	p = json_object_new_object();
	json_object_object_add(p, "event", json_object_new_string(event));
	json_object_object_add(p, "fileId", json_object_new_string(o.id));
	json_object_object_add(p, "tenantId", json_object_new_string(o.tenant_id));
	json_object_object_add(p, "workspaceId", o.workspace_id ? json_object_new_string(o.workspace_id) : NULL);
	json_object_object_add(p, "file", f);
	fmt_iso8601_ms(iso, sizeof iso, now_unix_ms());
	json_object_object_add(p, "timestamp", json_object_new_string(iso));
	s = arena_strdup(a, json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(p);
	return s;
}

int
webhook_run_due(struct db *db, const struct cb_config *cfg,
    const unsigned char master[CB_KEYLEN], int limit)
{
	static const char pick[] =
	    "SELECT id, json_extract(payload, '$.event'), json_extract(payload, '$.tenantId'),"
	    " json_extract(payload, '$.fileId'), attempts FROM jobs"
	    " WHERE kind = 'webhook' AND state = 'queued' AND run_at <= ?1"
	    " ORDER BY run_at LIMIT 1";
	static const char done[] =
	    "UPDATE jobs SET state = ?2, attempts = ?3, run_at = ?4, last_error = ?5 WHERE id = ?1";
	int ran = 0;

	while (ran < limit) {
		struct arena a;
		sqlite3_stmt *st = db_prep(db, pick);
		char event[32], tenant[40], file[40], delivery[24], why[256] = "";
		char secret[65], sig[65];
		const char *body, *url = NULL;
		unsigned char mac[32];
		int64_t id, attempts;
		int rc;

		if (st == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, now_unix_ms());
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			sqlite3_reset(st);
			return rc == SQLITE_DONE ? ran : -1;
		}
		id = sqlite3_column_int64(st, 0);
		strlcpy_cb(event, (const char *)sqlite3_column_text(st, 1), sizeof event);
		strlcpy_cb(tenant, (const char *)sqlite3_column_text(st, 2), sizeof tenant);
		strlcpy_cb(file, (const char *)sqlite3_column_text(st, 3), sizeof file);
		attempts = sqlite3_column_int64(st, 4) + 1;
		sqlite3_reset(st);
		/* Another pool on this database may have taken it meanwhile;
		 * the lease outlasts a delivery (13 s at most) four times. */
		if ((rc = db_job_claim(db, id, 60 * 1000)) <= 0) {
			if (rc < 0)
				return -1;
			continue;
		}

		arena_init(&a, 4096);
		body = payload(db, &a, cfg, event, tenant, file, &url);
		if (body == NULL) {
			snprintf(why, sizeof why, "the file or its webhook URL is gone");
			rc = -1;
			attempts = WEBHOOK_ATTEMPTS;
		} else {
			webhook_secret(master, tenant, secret);
			hmac_sha256(secret, 64, body, strlen(body), mac);
			hex_encode(sig, mac, sizeof mac);
			snprintf(delivery, sizeof delivery, "%lld", (long long)id);
			rc = deliver(cfg, url, body, event, delivery, sig, why, sizeof why);
			memset(secret, 0, sizeof secret);
		}
		if (rc != 0)
			log_warn("webhook job %lld (%s, file %s) attempt %lld failed: %s",
			    (long long)id, event, file, (long long)attempts, why);
		if ((st = db_prep(db, done)) == NULL) {
			arena_free(&a);
			return -1;
		}
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 2, rc == 0 ? "done" : attempts >= WEBHOOK_ATTEMPTS ?
		    "failed" : "queued", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, attempts);
		/* Back-off: 1 s after the first failure, 2 s after the second. */
		sqlite3_bind_int64(st, 4, now_unix_ms() + (1000LL << (attempts - 1)));
		if (rc != 0)
			sqlite3_bind_text(st, 5, why, -1, SQLITE_TRANSIENT);
		sqlite3_step(st);
		sqlite3_reset(st);
		arena_free(&a);
		ran++;
	}
	return ran;
}
