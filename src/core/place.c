/* place.c - see place.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <gcrypt.h>
#include <sqlite3.h>

#include "cubby/arena.h"
#include "cubby/blob.h"
#include "cubby/buf.h"
#include "cubby/config.h"
#include "cubby/crypto.h"
#include "cubby/db.h"
#include "cubby/log.h"
#include "cubby/object.h"
#include "cubby/place.h"

static unsigned char keyring[CB_KEYLEN];
static int have_keyring;

void
place_keyring(const unsigned char master[CB_KEYLEN])
{
	memcpy(keyring, master, CB_KEYLEN);
	have_keyring = 1;
}

int
place_of(struct db *db, const struct cb_config *cfg, struct arena *a,
    const char *tenant_id, const char *storage_id, const char *blob_key,
    struct place *p)
{
	memset(p, 0, sizeof *p);
	if (storage_id == NULL) {
		if (!blob_on_s3(cfg))
			return 0;
		p->in_s3 = 1;
		blob_s3_target(cfg, &p->t);
		return blob_key != NULL && blob_s3_key(cfg, blob_key, p->name, sizeof p->name) != 0 ?
		    -1 : 0;
	}
	if (!have_keyring) {
		log_err("place: no master key to open connection %s", storage_id);
		return -1;
	}
	if (storage_get(db, a, keyring, tenant_id, storage_id, 1, &p->conn) != 0) {
		log_err("place: storage connection %s of tenant %s cannot be used", storage_id,
		    tenant_id);
		return -1;
	}
	p->in_s3 = 1;
	storage_target(&p->conn, cfg->s3_allow_private, &p->t);
	if (blob_key != NULL && (size_t)snprintf(p->name, sizeof p->name, "%s%s",
	    p->conn.prefix ? p->conn.prefix : "", blob_key) >= sizeof p->name) {
		place_done(p);
		return -1;
	}
	return 0;
}

/* The name of key in p's bucket (the connection's prefix, or the
 * server's s3_prefix). */
static int
place_name(const struct cb_config *cfg, const struct place *p, const char *key,
    char *out, size_t len)
{
	if (p->conn.id[0] == '\0')
		return blob_s3_key(cfg, key, out, len);
	return (size_t)snprintf(out, len, "%s%s", p->conn.prefix ? p->conn.prefix : "", key) >=
	    len ? -1 : 0;
}

int
place_seal(const struct cb_config *cfg, const struct place *p, const char *id,
    const char *blob_key, const char *etag, char key[80], char name[1100],
    struct s3_result *res)
{
	unsigned char rnd[8];
	char hex[17];

	crypto_random(rnd, sizeof rnd);
	hex_encode(hex, rnd, sizeof rnd);
	snprintf(key, 80, "%s-%s", id, hex);
	if (place_name(cfg, p, key, name, 1100) != 0) {
		memset(res, 0, sizeof *res);
		snprintf(res->code, sizeof res->code, "InvalidTarget");
		snprintf(res->message, sizeof res->message, "the object's new name is too long");
		return -1;
	}
	if (s3_copy(&p->t, p->name, name, etag, res) == 0)
		return 0;
	if (res->status != 501)
		return -1;
	/* A store without CopyObject: the object stays where it is. */
	log_warn("place: bucket %s cannot copy objects (%s): %s completes under its "
	    "upload's name", p->t.bucket, res->message, id);
	snprintf(key, 80, "%s", blob_key);
	snprintf(name, 1100, "%s", p->name);
	return 1;
}

void
place_done(struct place *p)
{
	storage_wipe(&p->conn);
}

int
place_default(struct db *db, const char *tenant_id, char out[37])
{
	static const char sql[] =
	    "SELECT id FROM storage_connections WHERE tenant_id = ?1 AND is_default = 1";
	sqlite3_stmt *st = db_prep(db, sql);
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, tenant_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		snprintf(out, 37, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int
place_presign(const struct place *p, const char *method, const char *query,
    const char *content_type, long expires, struct buf *url)
{
	if (!p->in_s3)
		return -1;
	return s3_presign(&p->t, method, p->name, query, content_type, expires, url);
}

struct hashing {
	gcry_md_hd_t h;
	int64_t n;
};

static int
hash_more(void *arg, const void *p, size_t n)
{
	struct hashing *x = arg;

	gcry_md_write(x->h, p, n);
	x->n += (int64_t)n;
	return 0;
}

static void
hash_again(void *arg)
{
	struct hashing *x = arg;

	gcry_md_reset(x->h);
	x->n = 0;
}

int
place_sha256(const struct place *p, unsigned char sha[32], int64_t *size,
    struct s3_result *res)
{
	struct hashing x = { NULL, 0 };
	int rc;

	memset(res, 0, sizeof *res);
	if (!p->in_s3 || gcry_md_open(&x.h, GCRY_MD_SHA256, 0) != 0) {
		snprintf(res->code, sizeof res->code, "NoHash");
		snprintf(res->message, sizeof res->message, "cannot hash here");
		return -1;
	}
	rc = s3_get_stream(&p->t, p->name, hash_more, hash_again, &x, res);
	if (rc == 0) {
		memcpy(sha, gcry_md_read(x.h, GCRY_MD_SHA256), 32);
		*size = x.n;
	}
	gcry_md_close(x.h);
	return rc;
}

int
object_in_bucket(const struct cb_config *cfg, const struct object *o)
{
	return o->storage_id != NULL || blob_on_s3(cfg);
}

int
object_presign(struct db *db, const struct cb_config *cfg, struct arena *a,
    const struct object *o, const char *method, const char *query,
    const char *content_type, long expires, struct buf *url)
{
	struct place p;
	int rc;

	if (o->blob_key == NULL ||
	    place_of(db, cfg, a, o->tenant_id, o->storage_id, o->blob_key, &p) != 0)
		return -1;
	rc = place_presign(&p, method, query, content_type, expires, url);
	place_done(&p);
	return rc;
}

int
place_remove(struct db *db, const struct cb_config *cfg, const char *tenant_id,
    const char *storage_id, const char *blob_key)
{
	struct arena a;
	struct place p;
	struct s3_result res;
	int rc = 0;

	if (storage_id == NULL)
		return blob_remove(cfg, blob_key);
	arena_init(&a, 1024);
	if (place_of(db, cfg, &a, tenant_id, storage_id, blob_key, &p) != 0) {
		arena_free(&a);
		return -1;
	}
	if (s3_delete(&p.t, p.name, &res) != 0 && res.status != 404) {
		log_warn("place: delete %s in %s: %s", p.name, p.t.bucket, res.message);
		rc = -1;
	}
	place_done(&p);
	arena_free(&a);
	return rc;
}
