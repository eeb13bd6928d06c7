/* storage.h - storage connections: a tenant's own S3-compatible bucket
 * ("bring your own storage"). The access key id and secret are sealed
 * (AES-256-GCM under a subkey of the master key, bound to the tenant and
 * the connection id) and leave the core only to sign requests; listings
 * show a hint of the key id. Before a connection is saved, probes run
 * against its bucket: HEAD, LIST, PUT, DELETE of a small object under
 * <prefix>.cubby-probe/. Every call names the tenant. Functions returning
 * int give 0 or an HTTP status. */
#ifndef CUBBY_STORAGE_H
#define CUBBY_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include "cubby/crypto.h"
#include "cubby/s3.h"

struct arena;
struct db;

#define STORAGE_NAME_MAX    100
#define STORAGE_PREFIX_MAX  200
#define STORAGE_KEY_MAX     256

struct storage_conn {
	char id[37];
	char tenant_id[37];
	const char *name, *provider, *endpoint, *region, *bucket, *prefix;
	const char *key_hint;
	int path_style, is_default;
	int64_t created_at, updated_at;
	/* Filled by storage_get with secrets, wiped by storage_wipe. */
	char access_key[STORAGE_KEY_MAX + 1];
	char secret_key[STORAGE_KEY_MAX + 1];
};

enum { PROBE_HEAD, PROBE_LIST, PROBE_PUT, PROBE_DELETE, PROBE_COUNT };

struct storage_probe {
	const char *name;           /* "head", "list", "put", "delete" */
	int ok;
	long status;                /* the store's HTTP status, 0: none */
	char code[64];
	char message[320];
	int64_t ms;
};

/* Run the four probes against t under prefix; 1 when all passed. */
int storage_probe(const struct s3_target *t, const char *prefix,
    struct storage_probe out[PROBE_COUNT]);
/* Save a connection whose probes passed (c's fields and credentials).
 * 0, 409 (the tenant already has a default), 500. c->id is set. */
int storage_create(struct db *db, const unsigned char master[CB_KEYLEN],
    const char *tenant_id, struct storage_conn *c);
/* One connection; with_secret: the credentials unsealed into c. 0, 404,
 * 500 (a sealed blob that does not open is a 500, logged). */
int storage_get(struct db *db, struct arena *a, const unsigned char master[CB_KEYLEN],
    const char *tenant_id, const char *id, int with_secret, struct storage_conn *c);
/* The tenant's connections, oldest first, without credentials. */
int storage_each(struct db *db, struct arena *a, const char *tenant_id,
    int (*fn)(void *arg, const struct storage_conn *c), void *arg);
/* 0, 404, 409 (live assets or uploads in flight keep bytes there), 500. */
int storage_delete(struct db *db, const char *tenant_id, const char *id);
/* Live assets of the tenant kept in its storage connections. 0 or -1. */
int storage_usage(struct db *db, const char *tenant_id, int64_t *assets, int64_t *bytes);
/* The S3 target of a connection (pointing into c). */
void storage_target(const struct storage_conn *c, int allow_private,
    struct s3_target *t);
/* Forget c's credentials. */
void storage_wipe(struct storage_conn *c);

#endif
