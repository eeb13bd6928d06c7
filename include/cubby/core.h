/* core.h - the rules every dialect shares. Foundation part: server admin
 * keys. A raw key exists only in the caller's buffer, once; the database
 * holds its keyed hash (HMAC-SHA256 under a subkey of the master key). */
#ifndef CUBBY_CORE_H
#define CUBBY_CORE_H

#include <stddef.h>

#include "cubby/crypto.h"

struct db;

#define CB_APIKEY_MAX 96

/* Keyed hash of a raw API key (the stored form). */
void apikey_hash(const unsigned char master[CB_KEYLEN], const char *raw,
    unsigned char out[32]);
/* Make a new admin key, store its hash, write the raw key to out (shown
 * once). revoke_old revokes every earlier admin key in the same
 * transaction. 0 or -1. */
int admin_key_create(struct db *db, const unsigned char master[CB_KEYLEN],
    int revoke_old, char *out, size_t outlen);
/* Number of live admin keys, or -1. */
int admin_key_count(struct db *db);
/* 1 when raw is a live admin key, 0 when not, -1 on a database error.
 * Constant-time in the key material. */
int admin_key_check(struct db *db, const unsigned char master[CB_KEYLEN],
    const char *raw);

#endif
