/* keys.c - server admin keys: generated from 32 random bytes, shown once,
 * stored as HMAC-SHA256 under a master-key subkey, compared in constant time.
 * Never stores or logs a raw key. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cubby/core.h"
#include "cubby/db.h"
#include "cubby/util.h"

#define KEYHASH_LABEL "cubby/apikey-hash/v1"

void
apikey_hash(const unsigned char master[CB_KEYLEN], const char *raw,
    unsigned char out[32])
{
	unsigned char sub[CB_KEYLEN];

	masterkey_derive(master, KEYHASH_LABEL, sub);
	hmac_sha256(sub, sizeof sub, raw, strlen(raw), out);
	memset(sub, 0, sizeof sub);
}

int
admin_key_create(struct db *db, const unsigned char master[CB_KEYLEN],
    int revoke_old, char *out, size_t outlen)
{
	static const char revoke_sql[] =
	    "UPDATE admin_keys SET revoked_at = ?1 WHERE revoked_at IS NULL";
	static const char insert_sql[] =
	    "INSERT INTO admin_keys (id, key_hash, created_at) VALUES (?1, ?2, ?3)";
	unsigned char raw[32], idb[8], hash[32];
	char hex[65], id[24];
	sqlite3_stmt *st;

	if (outlen < sizeof "sk_admin_" + 64)
		return -1;
	crypto_random(raw, sizeof raw);
	crypto_random(idb, sizeof idb);
	hex_encode(hex, raw, sizeof raw);
	snprintf(out, outlen, "sk_admin_%s", hex);
	memcpy(id, "adm_", 4);
	hex_encode(id + 4, idb, sizeof idb);
	apikey_hash(master, out, hash);

	if (db_begin(db) != 0)
		return -1;
	if (revoke_old) {
		if ((st = db_prep(db, revoke_sql)) == NULL)
			goto fail;
		sqlite3_bind_int64(st, 1, now_unix());
		if (sqlite3_step(st) != SQLITE_DONE)
			goto fail;
	}
	if ((st = db_prep(db, insert_sql)) == NULL)
		goto fail;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 2, hash, sizeof hash, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, now_unix());
	if (sqlite3_step(st) != SQLITE_DONE || db_commit(db) != 0)
		goto fail;
	memset(raw, 0, sizeof raw);
	memset(hex, 0, sizeof hex);
	return 0;
fail:
	db_rollback(db);
	memset(out, 0, outlen);
	return -1;
}

int
admin_key_count(struct db *db)
{
	static const char sql[] =
	    "SELECT count(*) FROM admin_keys WHERE revoked_at IS NULL";
	sqlite3_stmt *st = db_prep(db, sql);
	int n = -1;

	if (st != NULL && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	if (st != NULL)
		sqlite3_reset(st);
	return n;
}

int
admin_key_check(struct db *db, const unsigned char master[CB_KEYLEN],
    const char *raw)
{
	static const char sql[] =
	    "SELECT key_hash FROM admin_keys WHERE revoked_at IS NULL";
	unsigned char hash[32];
	sqlite3_stmt *st = db_prep(db, sql);
	int found = 0, rc;

	if (st == NULL)
		return -1;
	apikey_hash(master, raw, hash);
	/* Few rows; compare every one so timing does not say which matched. */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(st, 0) == 32 &&
		    ct_equal(sqlite3_column_blob(st, 0), hash, 32))
			found = 1;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? found : -1;
}
