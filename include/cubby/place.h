/* place.h - where an object's bytes are: the server's data directory
 * (blob_backend = fs), the server's bucket (blob_backend = s3), or a
 * tenant's own bucket (a storage connection, objects.storage_id). Every
 * core and API path that touches bytes in a bucket resolves the object's
 * place first, so the same code serves the server's bucket and a
 * tenant's. */
#ifndef CUBBY_PLACE_H
#define CUBBY_PLACE_H

#include <stddef.h>

#include "cubby/crypto.h"
#include "cubby/s3.h"
#include "cubby/storage.h"

struct arena;
struct buf;
struct cb_config;
struct db;

struct place {
	int in_s3;                  /* 0: data_dir/blobs */
	struct s3_target t;         /* in_s3: the bucket */
	struct storage_conn conn;   /* a connection's, credentials unsealed */
	char name[1100];            /* in_s3: the object's name in the bucket */
};

/* This process's master key, to unseal connections' credentials (the
 * workers, the jobs worker and cubbyctl set it once). */
void place_keyring(const unsigned char master[CB_KEYLEN]);
/* The place of blob_key for an object of tenant_id stored per storage_id
 * (NULL: the server's store). 0, or -1 when the connection is gone or its
 * credentials do not open (logged). Call place_done after. */
int place_of(struct db *db, const struct cb_config *cfg, struct arena *a,
    const char *tenant_id, const char *storage_id, const char *blob_key,
    struct place *p);
/* A single PUT's object (blob_key, at p->name, the name its presigned
 * URL names), copied by the store to a new key of object id that no URL
 * names, while its ETag is still etag: a later PUT to the URL cannot
 * change the object once it is complete. The new blob key and its name
 * in the bucket in key and name; the caller records the key, then
 * deletes p->name (or, when the record fails, the copy). 0; 1 when the
 * store cannot copy (501): key and name are the object's own, nothing
 * to delete; -1 with res (412: the bytes changed since etag). */
int place_seal(const struct cb_config *cfg, const struct place *p, const char *id,
    const char *blob_key, const char *etag, char key[80], char name[1100],
    struct s3_result *res);
/* Wipe the credentials p holds. */
void place_done(struct place *p);
/* The tenant's default storage connection (new uploads go there): 1 with
 * its id in out, 0 when none, -1 on error. */
int place_default(struct db *db, const char *tenant_id, char out[37]);
/* A presigned URL for the place (in_s3 only). */
int place_presign(const struct place *p, const char *method, const char *query,
    const char *content_type, long expires, struct buf *url);
/* The SHA-256 of the object in a bucket, read through once (in_s3
 * only), and how many bytes that was. 0, or -1 with res saying why. */
int place_sha256(const struct place *p, unsigned char sha[32], int64_t *size,
    struct s3_result *res);
struct object;
/* 1 when an object's bytes go to, or are in, a bucket (a storage
 * connection's, or the server's with blob_backend = s3). */
int object_in_bucket(const struct cb_config *cfg, const struct object *o);
/* A presigned URL for an object's blob in its bucket. 0, or -1 (the
 * object is not in a bucket, or its connection cannot be used). */
int object_presign(struct db *db, const struct cb_config *cfg, struct arena *a,
    const struct object *o, const char *method, const char *query,
    const char *content_type, long expires, struct buf *url);
/* Remove a blob from wherever it is; a missing one is not an error. */
int place_remove(struct db *db, const struct cb_config *cfg, const char *tenant_id,
    const char *storage_id, const char *blob_key);

#endif
