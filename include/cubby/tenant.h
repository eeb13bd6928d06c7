/* tenant.h - tenants, their API keys and workspaces: the core both file
 * dialects share (a tenant is a Storage Brain tenant and a Khaos account at
 * once; its keys work on /v1 and /api/v1). Raw keys exist once, in the
 * caller's buffer; the database holds keyed hashes. Every lookup takes the
 * tenant id: another tenant's id is simply not found.
 * Functions returning int give 0 or an HTTP status, the reason in *why. */
#ifndef CUBBY_TENANT_H
#define CUBBY_TENANT_H

#include <stddef.h>
#include <stdint.h>

#include "cubby/crypto.h"

struct cb_config;

struct arena;
struct db;

#define TENANT_DEFAULT_QUOTA 524288000LL
#define TENANT_NAME_MAX      100
#define APIKEY_MAX           96
#define WORKSPACE_NAME_MAX   255
#define WORKSPACE_SLUG_MAX   100

/* The file types the file API accepts (and allowedFileTypes defaults to). */
extern const char *const cb_file_types[];
extern const size_t cb_nfile_types;

/* 1 when the file API accepts this MIME type. */
int file_type_supported(const char *type);

enum key_scope { KEY_READ = 1, KEY_WRITE = 2, KEY_ADMIN = 3 };

struct tenant {
	char id[37];
	const char *name;
	int64_t quota_bytes, used_bytes;
	const char *allowed_types;      /* JSON array text */
	int64_t created_at, updated_at; /* ms */
	const char *key_prefix;         /* its primary key's hint, or NULL */
	int64_t webhook_gen;            /* its webhook secret's generation */
};

/* Who is asking with a tenant key. */
struct principal {
	char tenant_id[37];
	char key_id[24];
	int scope;
};

struct apikey_info {
	const char *id, *name, *hint;
	int scope, is_primary;
	int64_t created_at, last_used_at, revoked_at;   /* ms, 0 = never */
};

struct workspace {
	char id[37];
	const char *name, *slug;
	int64_t quota_bytes;            /* -1 = no quota */
	int64_t used_bytes;
	const char *metadata;           /* JSON object text or NULL */
	int64_t created_at, updated_at; /* ms */
};

/* Create a tenant with its primary (admin-scope) key, written to key.
 * quota < 0: the default; types NULL: every supported type, else ntypes
 * of them. 409 when the name is taken. out's strings live in a. */
int tenant_create(struct db *db, struct arena *a,
    const unsigned char master[CB_KEYLEN], const char *name, int64_t quota,
    const char *const *types, size_t ntypes, struct tenant *out,
    char key[APIKEY_MAX], const char **why);
/* 0, 404 or 500. Strings in arena memory. */
int tenant_load(struct db *db, struct arena *a, const char *id,
    struct tenant *out);
/* By id or by name. */
int tenant_find(struct db *db, struct arena *a, const char *id_or_name,
    struct tenant *out);
/* Each tenant, oldest first; fn returns 0 to go on. */
int tenant_each(struct db *db, struct arena *a,
    int (*fn)(void *arg, const struct tenant *t), void *arg);
/* One page of tenants, oldest first, after (after_created, after_id) when
 * after_id is not NULL: up to limit of them to fn; *total counts them
 * all. 0 or 500. */
int tenant_page(struct db *db, struct arena *a, int64_t after_created,
    const char *after_id, int64_t limit, int64_t *total,
    int (*fn)(void *arg, const struct tenant *t), void *arg);
/* Change a tenant: name NULL, quota < 0, types NULL leave each as it is.
 * 0 with out reloaded, 400, 404, 409 (name taken), 500. */
int tenant_update(struct db *db, struct arena *a, const char *id,
    const char *name, int64_t quota, const char *const *types, size_t ntypes,
    struct tenant *out, const char **why);
/* Delete a tenant and everything it has: its keys, workspaces, spaces,
 * storage connections and files, the files' bytes (and derived images)
 * removed from wherever they are. 0, 404, 500. */
int tenant_delete(struct db *db, const struct cb_config *cfg, const char *id);

/* A new key for a tenant; raw key into key, its id into id. */
int apikey_create(struct db *db, const unsigned char master[CB_KEYLEN],
    const char *tenant_id, const char *name, int scope, char key[APIKEY_MAX],
    char id[24], const char **why);
/* Revoke the tenant's primary key(s) and make a new one, atomically. */
int apikey_regenerate(struct db *db, const unsigned char master[CB_KEYLEN],
    const char *tenant_id, char key[APIKEY_MAX]);
/* Revoke a key (of tenant_id when not NULL). 0, or 404. Idempotent. */
int apikey_revoke(struct db *db, const char *tenant_id, const char *key_id);
/* The tenant's keys, oldest first (revoked ones too). */
int apikey_each(struct db *db, struct arena *a, const char *tenant_id,
    int (*fn)(void *arg, const struct apikey_info *k), void *arg);
/* Who holds raw: 0 with *p filled, 401 (unknown or revoked), 500. */
int apikey_authenticate(struct db *db, const unsigned char master[CB_KEYLEN],
    const char *raw, struct principal *p);
/* The server admin key: the configured one (cfg_key, may be empty) or one
 * made by cubbyctl. 0, 401 or 500. */
int admin_authenticate(struct db *db, const unsigned char master[CB_KEYLEN],
    const char *cfg_key, const char *raw);

/* The asset API's account view of a tenant. */
struct account {
	const char *display_name, *email;   /* NULL: not set */
	const char *plan, *status;
	int64_t file_count, stored_bytes;   /* live completed objects */
};
#define ACCOUNT_NAME_MAX  100
#define ACCOUNT_EMAIL_MAX 254

int tenant_account(struct db *db, struct arena *a, const char *tenant_id,
    struct account *out);
/* NULL leaves a field unchanged. 0, 404, 500. */
int tenant_account_update(struct db *db, const char *tenant_id,
    const char *display_name, const char *email);

/* Workspaces, always within tenant_id. quota < 0: none. metadata: JSON
 * object text or NULL. 409 when the slug is taken. */
int workspace_create(struct db *db, struct arena *a, const char *tenant_id,
    const char *name, const char *slug, int64_t quota, const char *metadata,
    struct workspace *out, const char **why);
int workspace_get(struct db *db, struct arena *a, const char *tenant_id,
    const char *id, struct workspace *out);
int workspace_each(struct db *db, struct arena *a, const char *tenant_id,
    int (*fn)(void *arg, const struct workspace *w), void *arg);
/* name NULL: unchanged; set_quota: quota (< 0 = remove the limit);
 * set_metadata: metadata (replaces). */
int workspace_update(struct db *db, struct arena *a, const char *tenant_id,
    const char *id, const char *name, int set_quota, int64_t quota,
    int set_metadata, const char *metadata, struct workspace *out,
    const char **why);
/* Delete it, soft-delete its files and release their bytes at both
 * levels, in one transaction. 0 or 404. */
int workspace_delete(struct db *db, const char *tenant_id, const char *id);

#endif
