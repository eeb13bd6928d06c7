/* space.h - spaces: how a tenant shares assets. A space is public (anyone
 * with its link), protected (the link plus a password, kept as a scrypt
 * hash) or private (nobody outside). Publications join spaces and objects;
 * deleting a space removes its publications, never an asset. Every call
 * but space_by_short_id names the tenant. Functions returning int give 0
 * or an HTTP status (400 with *field and *why). */
#ifndef CUBBY_SPACE_H
#define CUBBY_SPACE_H

/* A new space's short id: 16 base32 characters (80 bits). Links made
 * before had 8 (40 bits); both are served. */
#define SPACE_SHORT_ID_LEN 16

#include <stddef.h>
#include <stdint.h>

struct arena;
struct db;
struct object;

#define SPACE_NAME_MAX      100
#define SPACE_DESC_MAX      2000
#define SPACE_PASSWORD_MIN  6
#define SPACE_PASSWORD_MAX  256
#define SPACE_PUBLISH_MAX   100     /* assets in one publish call */

struct space {
	char id[37];
	char tenant_id[37];
	const char *short_id;       /* 8 characters of base32, for the link */
	const char *name, *description, *visibility;
	const char *password_hash;  /* never leaves the core but to verify */
	int64_t asset_count;
	int64_t created_at, updated_at;
};

struct space_change {
	const char *name;           /* NULL: unchanged */
	int set_description;
	const char *description;    /* NULL with set: cleared */
	const char *visibility;     /* NULL: unchanged */
	int set_password;
	const char *password;       /* NULL with set: cleared */
};

int space_create(struct db *db, struct arena *a, const char *tenant_id,
    const struct space_change *c, struct space *out, const char **field,
    const char **why);
/* 0, 404, 500; asset_count counts live published assets. */
int space_get(struct db *db, struct arena *a, const char *tenant_id,
    const char *id, struct space *out);
/* The tenant's spaces, oldest first. fn returns 0 to go on. */
int space_each(struct db *db, struct arena *a, const char *tenant_id,
    int (*fn)(void *arg, const struct space *s), void *arg);
int space_update(struct db *db, struct arena *a, const char *tenant_id,
    const char *id, const struct space_change *c, struct space *out,
    const char **field, const char **why);
/* Delete a space and its publications. 0, 404, 500. */
int space_delete(struct db *db, const char *tenant_id, const char *id);

/* Publish one object: 0 (also when it already was), 404 (no such space
 * or asset), 409 (the asset is not active), 500. */
int space_publish(struct db *db, const char *tenant_id, const char *space_id,
    const char *object_id);
/* 0, 404 (no such space or not published there), 500. */
int space_unpublish(struct db *db, const char *tenant_id, const char *space_id,
    const char *object_id);
/* The live assets published in a space, newest publication first, at
 * most limit. fn returns 0 to go on. */
int space_publications(struct db *db, struct arena *a, const char *tenant_id,
    const char *space_id, int64_t limit,
    int (*fn)(void *arg, const struct object *o, int64_t published_at),
    void *arg);
/* The spaces an object is published in. */
int space_each_of_object(struct db *db, struct arena *a, const char *tenant_id,
    const char *object_id, int (*fn)(void *arg, const struct space *s),
    void *arg);
/* A space by its short id, whoever owns it (the public endpoints). */
int space_by_short_id(struct db *db, struct arena *a, const char *short_id,
    struct space *out);

#endif
