/* storage.c - see storage.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "cubby/arena.h"
#include "cubby/db.h"
#include "cubby/log.h"
#include "cubby/storage.h"
#include "cubby/util.h"
#include "cubby/uuid.h"

#define SEAL_LABEL "cubby/storage-credentials/v1"
#define COLS "id, tenant_id, name, provider, endpoint, region, bucket, prefix," \
	" path_style, key_hint, is_default, created_at, updated_at"

static int64_t
ms_since(uint64_t t0)
{
	return (int64_t)((now_mono_us() - t0) / 1000);
}

static void
probe_set(struct storage_probe *p, const char *name, int rc,
    const struct s3_result *res, uint64_t t0)
{
	p->name = name;
	p->ok = rc == 0;
	p->status = res->status;
	p->ms = ms_since(t0);
	snprintf(p->code, sizeof p->code, "%s", rc == 0 ? "" : res->code);
	snprintf(p->message, sizeof p->message, "%s", rc == 0 ? "" : res->message);
}

int
storage_probe(const struct s3_target *t, const char *prefix,
    struct storage_probe out[PROBE_COUNT])
{
	char key[STORAGE_PREFIX_MAX + 80], rnd[16], hex[33], dir[STORAGE_PREFIX_MAX + 20];
	static const char body[] = "cubby storage probe\n";
	struct s3_result res;
	uint64_t t0;
	int rc, all = 1;

	crypto_random(rnd, sizeof rnd);
	hex_encode(hex, rnd, sizeof rnd);
	snprintf(dir, sizeof dir, "%s.cubby-probe/", prefix ? prefix : "");
	snprintf(key, sizeof key, "%s%s", dir, hex);
	t0 = now_mono_us();
	rc = s3_head_bucket(t, &res);
	probe_set(&out[PROBE_HEAD], "head", rc, &res, t0);
	t0 = now_mono_us();
	rc = s3_list(t, dir, 1, NULL, NULL, &res) < 0 ? -1 : 0;
	probe_set(&out[PROBE_LIST], "list", rc, &res, t0);
	t0 = now_mono_us();
	rc = s3_put_mem(t, key, body, sizeof body - 1, "text/plain", &res);
	probe_set(&out[PROBE_PUT], "put", rc, &res, t0);
	/* The probe object goes whether or not the PUT said it landed. */
	t0 = now_mono_us();
	rc = s3_delete(t, key, &res);
	probe_set(&out[PROBE_DELETE], "delete", rc, &res, t0);
	for (int i = 0; i < PROBE_COUNT; i++)
		all &= out[i].ok;
	return all;
}

/* The sealing key and the associated data binding a sealed blob to its
 * tenant and connection. */
static void
seal_ctx(const unsigned char master[CB_KEYLEN], const char *tenant_id,
    const char *id, unsigned char key[CB_KEYLEN], char aad[80])
{
	masterkey_derive(master, SEAL_LABEL, key);
	snprintf(aad, 80, "%s/%s", tenant_id, id);
}

int
storage_create(struct db *db, const unsigned char master[CB_KEYLEN],
    const char *tenant_id, struct storage_conn *c)
{
	static const char sql[] =
	    "INSERT INTO storage_connections (id, tenant_id, name, provider, endpoint,"
	    " region, bucket, prefix, path_style, credentials, key_hint, is_default,"
	    " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
	    " ?11, ?12, ?13, ?13)";
	unsigned char key[CB_KEYLEN], plain[2 * STORAGE_KEY_MAX + 2];
	unsigned char sealed[sizeof plain + CB_SEAL_OVERHEAD];
	size_t al = strlen(c->access_key), sl = strlen(c->secret_key), n;
	char aad[80], hint[16];
	sqlite3_stmt *st;
	int rc;

	uuid_new(c->id);
	snprintf(c->tenant_id, sizeof c->tenant_id, "%s", tenant_id);
	/* access key id, NUL, secret: sealed as one */
	memcpy(plain, c->access_key, al + 1);
	memcpy(plain + al + 1, c->secret_key, sl);
	n = al + 1 + sl;
	seal_ctx(master, tenant_id, c->id, key, aad);
	rc = aead_seal(key, aad, strlen(aad), plain, n, sealed);
	explicit_bzero(key, sizeof key);
	explicit_bzero(plain, sizeof plain);
	if (rc != 0)
		return 500;
	/* A hint, never the whole id: its first four and last two characters. */
	if (al > 8)
		snprintf(hint, sizeof hint, "%.4s…%s", c->access_key, c->access_key + al - 2);
	else
		snprintf(hint, sizeof hint, "…");
	if ((st = db_prep(db, sql)) == NULL)
		return 500;
	sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tenant_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, c->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, c->provider, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, c->endpoint, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, c->region, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, c->bucket, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, c->prefix ? c->prefix : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 9, c->path_style);
	sqlite3_bind_blob(st, 10, sealed, (int)(n + CB_SEAL_OVERHEAD), SQLITE_STATIC);
	sqlite3_bind_text(st, 11, hint, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 12, c->is_default);
	sqlite3_bind_int64(st, 13, now_unix_ms());
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT)
		return 409;
	if (rc != SQLITE_DONE) {
		log_err("storage: create: %s", db_errmsg(db));
		return 500;
	}
	return 0;
}

static void
row_read(sqlite3_stmt *st, struct arena *a, struct storage_conn *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->id, sizeof c->id, "%s", (const char *)sqlite3_column_text(st, 0));
	snprintf(c->tenant_id, sizeof c->tenant_id, "%s", (const char *)sqlite3_column_text(st, 1));
	c->name = arena_strdup(a, (const char *)sqlite3_column_text(st, 2));
	c->provider = arena_strdup(a, (const char *)sqlite3_column_text(st, 3));
	c->endpoint = arena_strdup(a, (const char *)sqlite3_column_text(st, 4));
	c->region = arena_strdup(a, (const char *)sqlite3_column_text(st, 5));
	c->bucket = arena_strdup(a, (const char *)sqlite3_column_text(st, 6));
	c->prefix = arena_strdup(a, (const char *)sqlite3_column_text(st, 7));
	c->path_style = sqlite3_column_int(st, 8);
	c->key_hint = arena_strdup(a, (const char *)sqlite3_column_text(st, 9));
	c->is_default = sqlite3_column_int(st, 10);
	c->created_at = sqlite3_column_int64(st, 11);
	c->updated_at = sqlite3_column_int64(st, 12);
}

int
storage_get(struct db *db, struct arena *a, const unsigned char master[CB_KEYLEN],
    const char *tenant_id, const char *id, int with_secret, struct storage_conn *c)
{
	static const char sql[] = "SELECT " COLS ", credentials FROM storage_connections"
	    " WHERE id = ?1 AND tenant_id = ?2";
	unsigned char key[CB_KEYLEN], plain[2 * STORAGE_KEY_MAX + 2];
	const unsigned char *sealed;
	sqlite3_stmt *st;
	char aad[80];
	int rc, len;

	if (!uuid_valid(id))
		return 404;
	if ((st = db_prep(db, sql)) == NULL)
		return 500;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tenant_id, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? 404 : 500;
	}
	row_read(st, a, c);
	rc = 0;
	if (with_secret) {
		sealed = sqlite3_column_blob(st, 13);
		len = sqlite3_column_bytes(st, 13);
		seal_ctx(master, tenant_id, c->id, key, aad);
		if (len < CB_SEAL_OVERHEAD || (size_t)len - CB_SEAL_OVERHEAD >= sizeof plain ||
		    aead_open(key, aad, strlen(aad), sealed, (size_t)len, plain) != 0) {
			log_err("storage: the credentials of connection %s do not open "
			    "(a different master key?)", c->id);
			rc = 500;
		} else {
			size_t n = (size_t)len - CB_SEAL_OVERHEAD, al;
			plain[n] = '\0';
			al = strnlen((const char *)plain, n);
			snprintf(c->access_key, sizeof c->access_key, "%.*s", (int)al, plain);
			snprintf(c->secret_key, sizeof c->secret_key, "%.*s",
			    al < n ? (int)(n - al - 1) : 0, al < n ? (const char *)plain + al + 1 : "");
		}
		explicit_bzero(key, sizeof key);
		explicit_bzero(plain, sizeof plain);
	}
	sqlite3_reset(st);
	return rc;
}

int
storage_each(struct db *db, struct arena *a, const char *tenant_id,
    int (*fn)(void *arg, const struct storage_conn *c), void *arg)
{
	static const char sql[] = "SELECT " COLS " FROM storage_connections"
	    " WHERE tenant_id = ?1 ORDER BY created_at, id";
	sqlite3_stmt *st = db_prep(db, sql);
	struct storage_conn c;
	int rc;

	if (st == NULL)
		return 500;
	sqlite3_bind_text(st, 1, tenant_id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row_read(st, a, &c);
		if (fn(arg, &c) != 0)
			break;
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : 500;
}

int
storage_delete(struct db *db, const char *tenant_id, const char *id)
{
	static const char sql[] =
	    "DELETE FROM storage_connections WHERE id = ?1 AND tenant_id = ?2";
	static const char used[] =
	    "SELECT 1 FROM objects WHERE storage_id = ?1 AND tenant_id = ?2"
	    " AND blob_key IS NOT NULL AND deleted_at IS NULL LIMIT 1";
	sqlite3_stmt *st;
	int rc;

	if (!uuid_valid(id))
		return 404;
	/* Live assets (and uploads in flight) keep their bytes there. */
	if ((st = db_prep(db, used)) == NULL)
		return 500;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tenant_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 409;
	if (rc != SQLITE_DONE)
		return 500;
	if ((st = db_prep(db, sql)) == NULL)
		return 500;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tenant_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return 500;
	return sqlite3_changes(db_handle(db)) == 1 ? 0 : 404;
}

void
storage_target(const struct storage_conn *c, int allow_private, struct s3_target *t)
{
	t->endpoint = c->endpoint;
	t->region = c->region;
	t->bucket = c->bucket;
	t->access_key = c->access_key;
	t->secret_key = c->secret_key;
	t->path_style = c->path_style;
	t->allow_private = allow_private;
}

void
storage_wipe(struct storage_conn *c)
{
	explicit_bzero(c->access_key, sizeof c->access_key);
	explicit_bzero(c->secret_key, sizeof c->secret_key);
}

int
storage_usage(struct db *db, const char *tenant_id, int64_t *assets, int64_t *bytes)
{
	static const char sql[] =
	    "SELECT count(*), coalesce(sum(size_bytes), 0) FROM objects"
	    " WHERE tenant_id = ?1 AND storage_id IS NOT NULL AND state = 'completed'"
	    " AND deleted_at IS NULL";
	sqlite3_stmt *st = db_prep(db, sql);
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, tenant_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*assets = sqlite3_column_int64(st, 0);
		*bytes = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : -1;
}
