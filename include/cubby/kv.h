/* kv.h - the key-value core: buckets with their own credentials, typed
 * values with TTLs, counters, listing, atomic transactions and
 * prefix-scoped tokens. Every rule of the KV document lives here; the
 * dialect (src/api/kv_*.c) only parses and renders.
 * Credentials are stored as keyed hashes (HMAC-SHA256 under a master-key
 * subkey); the signing key is sealed with AES-256-GCM. Functions returning
 * int give 0 or an HTTP status, with the reason in *why. */
#ifndef CUBBY_KV_H
#define CUBBY_KV_H

#include <stddef.h>
#include <stdint.h>

#include "cubby/crypto.h"

struct arena;
struct db;

#define KV_KEY_MAX      128
#define KV_VALUE_MAX    16384
#define KV_DEFAULT_TTL  604800
/* The longest TTL anywhere (query, bucket default, transaction): 100
 * years, so an expiry in milliseconds never overflows. */
#define KV_TTL_MAX      (100LL * 366 * 86400)
#define KV_LIST_DEFAULT 10000
#define KV_LIST_MAX     1000000
#define KV_TXN_MAX_OPS  1000
#define KV_CRED_MAX     256
#define KV_FORM_MAX     65536      /* form and PATCH bodies */
#define KV_TXN_BODY     (1 << 20)  /* transaction bodies */

enum kv_perm {
	KV_READ = 1, KV_WRITE = 2, KV_ENUMERATE = 4, KV_DELETE = 8, KV_ADMIN = 16,
};

enum kv_type { KV_JSON = 1, KV_TEXT = 2, KV_INT = 3, KV_FLOAT = 4, KV_BYTES = 5 };

struct kv_bucket {
	char id[37];
	int has_secret, has_read, has_write;
	unsigned char secret_hash[32], read_hash[32], write_hash[32];
	const unsigned char *signing_sealed;    /* arena; NULL = no signing key */
	size_t signing_sealed_len;
	int64_t signing_gen;
	int64_t default_ttl;
};

/* Who is asking, once kv_authenticate has looked at the credential. */
struct kv_access {
	struct kv_bucket b;
	unsigned anon;          /* what anyone may do */
	unsigned cred;          /* added by a bucket key (whole bucket) */
	unsigned token;         /* added by a token, only under prefix */
	const char *prefix;
	int presented;          /* a credential was presented */
};

struct kv_value {
	enum kv_type type;
	const char *data;       /* JSON text, UTF-8 text or bytes */
	size_t len;
	int64_t i;
	double f;
};

/* A bucket's settings as given to create and patch. A NULL string is
 * "absent"; for patch, clear_* means "null" (clear). */
struct kv_settings {
	const char *email;
	const char *secret_key, *read_key, *write_key, *signing_key;
	int clear_read, clear_write, clear_signing;
	int has_ttl, clear_ttl;  /* clear_ttl: default_ttl null (no default) */
	int64_t default_ttl;
};
/* A bucket's default_ttl once cleared: no default expiry, and the policy
 * projection leaves the field out, as Keydock does. */
#define KV_TTL_CLEARED (-1)

/* Load a bucket: 0 found, 404 missing, 500 database error. */
int kv_bucket_load(struct db *db, struct arena *a, const char *id,
    struct kv_bucket *out);
/* Create a bucket; its new id into id (37 bytes). */
int kv_bucket_create(struct db *db, const unsigned char master[CB_KEYLEN],
    const struct kv_settings *s, char id[37], const char **why);
/* Apply a patch (absent = unchanged, clear = null). Rotating or clearing
 * the signing key bumps its generation, invalidating earlier tokens. */
int kv_bucket_patch(struct db *db, const unsigned char master[CB_KEYLEN],
    const struct kv_bucket *b, const struct kv_settings *s, const char **why);
/* Delete a bucket and all its keys. */
int kv_bucket_delete(struct db *db, const char *id);
/* Permissions anyone has on b, by the document's matrix; KV_ADMIN only
 * while the bucket has no credential at all. They apply only to a
 * request that presents no credential. */
unsigned kv_anonymous(const struct kv_bucket *b);

/* Look at the credential (NULL = none): 0, or 401 for one that matches
 * nothing (or a bad, expired or revoked token). */
int kv_authenticate(const unsigned char master[CB_KEYLEN], struct arena *a,
    const char *cred, struct kv_access *acc, const char **why);
/* May acc do perm on key? 0, 401 (nothing presented), or 403 (the
 * presented credential lacks it; also KV_ADMIN asked anonymously). */
int kv_allowed(const struct kv_access *acc, unsigned perm, const char *key,
    size_t keylen);
/* The prefix a listing is confined to: 0 with *eff set (a token's
 * listing is intersected with its prefix), KV_LIST_NOTHING when the asked
 * prefix lies outside the token's (an empty listing), or 401/403. */
#define KV_LIST_NOTHING 1
int kv_list_scope(const struct kv_access *acc, unsigned perm,
    const char *prefix, const char **eff);

/* What the key-value store may hold (0 = no limit): per bucket, and for
 * all buckets together. Keys and bytes (a key's bytes plus its value's)
 * are counted by the database as entries are written, removed and swept;
 * an expired key counts until the sweep removes it. A write that would
 * take a count past its limit is refused whole with 507; one that does
 * not grow a count (an overwrite as large or smaller, a delete) always
 * passes, so a bucket over a lowered limit can still shrink. */
struct kv_limits {
	int64_t bucket_keys, bucket_bytes;
	int64_t total_keys, total_bytes;
};

/* Infer a stored value from a request body and its Content-Type. */
int kv_infer(struct arena *a, const char *ctype, const char *body,
    size_t len, struct kv_value *out, const char **why);
/* Store key (ttl < 0: the bucket default; 0: no expiry). */
int kv_put(struct db *db, const struct kv_limits *lim, const struct kv_bucket *b,
    const char *key, size_t keylen, const struct kv_value *v, int64_t ttl,
    const char **why);
/* 0 found (value in arena memory), 404 missing or expired, 500. */
int kv_get(struct db *db, struct arena *a, const char *bucket, const char *key,
    size_t keylen, struct kv_value *out);
/* 0 deleted, 404 missing or expired, 500. */
int kv_delete(struct db *db, const char *bucket, const char *key,
    size_t keylen);
/* Add the signed delta ("+N"/"-N") atomically; ttl as kv_put, but an
 * existing key keeps its expiry when ttl < 0. The new value in *out. */
int kv_incr(struct db *db, const struct kv_limits *lim, struct arena *a,
    const struct kv_bucket *b, const char *key, size_t keylen,
    const char *delta, size_t dlen, int64_t ttl, struct kv_value *out,
    const char **why);

/* Room a number needs written out without an exponent (5e-324). */
#define KV_NUM_MAX 400
/* Write an INT or FLOAT value's number into buf (>= KV_NUM_MAX bytes) as
 * Keydock writes it (a float without exponent, 10.0 as "10"); its length.
 * The text a value was sent as is not looked at. */
size_t kv_format_number(const struct kv_value *v, char *buf, size_t len);
/* Render a value as its body and Content-Type (arena memory). */
void kv_render(struct arena *a, const struct kv_value *v, const char **body,
    size_t *len, const char **ctype);

struct kv_list_opts {
	const char *prefix;     /* NULL or "" = all */
	int64_t limit, skip;
	int reverse, values;
};
/* Call fn for each live key in byte order; fn returns 0 to go on, -1 to
 * stop (client gone). 0, or 500. */
int kv_list(struct db *db, struct arena *a, const char *bucket,
    const struct kv_list_opts *o,
    int (*fn)(void *arg, const char *key, size_t keylen,
        const struct kv_value *v), void *arg);

/* One transaction operation, already validated by kv_txn_parse. */
struct kv_op {
	int is_set;
	const char *key;
	size_t keylen;
	struct kv_value v;
	int64_t ttl;            /* -1 = bucket default */
};
/* Parse and validate {"txn":[...]} into ops (arena). */
int kv_txn_parse(struct arena *a, const char *body, size_t len,
    struct kv_op **ops, size_t *n, const char **why);
/* Check every op against acc, then apply all or nothing. */
int kv_txn_apply(struct db *db, const struct kv_limits *lim,
    const struct kv_access *acc, const struct kv_op *ops, size_t n,
    const char **why);

/* Mint a token (HS256 JWT) for prefix/perms/ttl with the bucket's signing
 * key: 0 with the token in *out, 503 without a signing key, 400. */
int kv_token_create(const unsigned char master[CB_KEYLEN], struct arena *a,
    const struct kv_bucket *b, const char *prefix, const char *perms,
    const char *ttl, const char **out, const char **why);

/* Remove up to limit expired keys; the number removed, or -1. */
int kv_sweep(struct db *db, int limit);

#endif
