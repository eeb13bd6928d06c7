/* webhook.c - webhook jobs: payloads in the file API's shape, HMAC-signed,
 * sent with libcurl through an SSRF guard, retried with back-off.
 * Never follows a redirect; never connects to an address it did not check;
 * never logs the secret or the signature. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "cubby/arena.h"
#include "cubby/config.h"
#include "cubby/db.h"
#include "cubby/log.h"
#include "cubby/object.h"
#include "cubby/util.h"
#include "cubby/outbound.h"
#include "cubby/webhook.h"

#define SECRET_LABEL "cubby/webhook-secret/v1"

void
webhook_secret(const unsigned char master[CB_KEYLEN], const char *tenant_id,
    int64_t gen, char hex[65])
{
	unsigned char sub[CB_KEYLEN], mac[32];
	char msg[64];
	int n;

	/* Generation 0 is the secret every tenant has had from the start. */
	if (gen == 0)
		n = snprintf(msg, sizeof msg, "%s", tenant_id);
	else
		n = snprintf(msg, sizeof msg, "%s\n%lld", tenant_id, (long long)gen);
	masterkey_derive(master, SECRET_LABEL, sub);
	hmac_sha256(sub, sizeof sub, msg, n < 0 ? 0 : (size_t)n, mac);
	hex_encode(hex, mac, sizeof mac);
	memset(sub, 0, sizeof sub);
}

/* The tenant's secret generation and until when the one before signs. */
static int
secret_state(struct db *db, const char *tenant_id, int64_t *gen, int64_t *prev_until)
{
	static const char sql[] =
	    "SELECT webhook_gen, coalesce(webhook_prev_until, 0) FROM tenants WHERE id = ?1";
	sqlite3_stmt *st = db_prep(db, sql);
	int rc;

	*gen = 0;
	*prev_until = 0;
	if (st == NULL)
		return 500;
	sqlite3_bind_text(st, 1, tenant_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*gen = sqlite3_column_int64(st, 0);
		*prev_until = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 404 : 500;
}

int
webhook_secret_rotate(struct db *db, const unsigned char master[CB_KEYLEN],
    const char *tenant_id, char hex[65], int64_t *prev_until)
{
	static const char sql[] =
	    "UPDATE tenants SET webhook_gen = webhook_gen + 1, webhook_prev_until = ?2,"
	    " updated_at = ?3 WHERE id = ?1 RETURNING webhook_gen";
	int64_t now = now_unix_ms(), gen;
	sqlite3_stmt *st = db_prep(db, sql);
	int rc;

	if (st == NULL)
		return 500;
	*prev_until = now + WEBHOOK_SECRET_OVERLAP_MS;
	sqlite3_bind_text(st, 1, tenant_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, *prev_until);
	sqlite3_bind_int64(st, 3, now);
	rc = sqlite3_step(st);
	gen = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	if (rc == SQLITE_ROW)
		rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return 500;
	if (gen == 0)
		return 404;
	webhook_secret(master, tenant_id, gen, hex);
	return 0;
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
    const char *previous, char *why, size_t whylen)
{
	char pin[OUTBOUND_PIN_MAX], hdr[5][160];
	int nh = 4;
	struct curl_slist *headers = NULL, *resolve = NULL;
	int rc = -1;
	long status = 0;
	CURL *c;
	CURLcode cc;

	/* Resolved and checked once; curl is pinned to that address. */
	if (outbound_pin(url, cfg->webhook_allow_private, "webhook_allow_private",
	    pin, sizeof pin, why, whylen) != 0)
		return -1;
	if ((c = curl_easy_init()) == NULL) {
		snprintf(why, whylen, "curl unavailable");
		return -1;
	}
	snprintf(hdr[0], sizeof hdr[0], "X-Cubby-Event: %s", event);
	snprintf(hdr[1], sizeof hdr[1], "X-Cubby-Delivery: %s", delivery);
	snprintf(hdr[2], sizeof hdr[2], "X-Cubby-Signature: sha256=%s", signature);
	snprintf(hdr[3], sizeof hdr[3], "User-Agent: cubby/%s", PACKAGE_VERSION);
	/* While a rotation overlaps, the old secret's signature too. */
	if (previous != NULL)
		snprintf(hdr[nh++], sizeof hdr[4], "X-Cubby-Signature-Previous: sha256=%s", previous);
	headers = curl_slist_append(headers, "Content-Type: application/json");
	for (int i = 0; i < nh; i++)
		headers = curl_slist_append(headers, hdr[i]);
	if (*pin)
		resolve = curl_slist_append(resolve, pin);
	curl_easy_setopt(c, CURLOPT_URL, url);
	outbound_curl(c, resolve);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
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
	json_object_object_add(f, "processingStatus", json_object_new_string(object_file_status(&o)));
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
			int64_t gen, prev_until;
			char prev[65];
			int overlap;
			(void)secret_state(db, tenant, &gen, &prev_until);
			overlap = gen > 0 && prev_until > now_unix_ms();
			webhook_secret(master, tenant, gen, secret);
			hmac_sha256(secret, 64, body, strlen(body), mac);
			hex_encode(sig, mac, sizeof mac);
			if (overlap) {
				webhook_secret(master, tenant, gen - 1, secret);
				hmac_sha256(secret, 64, body, strlen(body), mac);
				hex_encode(prev, mac, sizeof mac);
			}
			snprintf(delivery, sizeof delivery, "%lld", (long long)id);
			rc = deliver(cfg, url, body, event, delivery, sig, overlap ? prev : NULL,
			    why, sizeof why);
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
