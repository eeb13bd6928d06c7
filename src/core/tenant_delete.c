/* tenant_delete.c - deleting a tenant with everything it has. Its files go
 * the way a hard delete takes them (asset_purge: the bytes and derived
 * images removed from the data directory, the server's bucket or the
 * tenant's own, unfinished multipart uploads aborted), then the tenant's
 * row, whose foreign keys take its keys, workspaces, spaces, publications,
 * storage connections and file rows with it. Never leaves a tenant row
 * whose files are half gone: the row goes last, and a failure before it
 * leaves the tenant in place for another try. */
#include "config.h"

#include <string.h>

#include "cubby/arena.h"
#include "cubby/asset.h"
#include "cubby/db.h"
#include "cubby/log.h"
#include "cubby/tenant.h"
#include "cubby/uuid.h"

/* Up to n ids of the tenant's file rows, in id order after after. */
static int
next_ids(struct db *db, const char *tenant, const char *after,
    char (*ids)[37], int n, int *got)
{
	static const char sql[] =
	    "SELECT id FROM objects WHERE tenant_id = ?1 AND id > ?2"
	    " ORDER BY id LIMIT ?3";
	sqlite3_stmt *st = db_prep(db, sql);
	int rc;

	*got = 0;
	if (st == NULL)
		return 500;
	sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, after, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, n);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *got < n) {
		const unsigned char *id = sqlite3_column_text(st, 0);
		if (id != NULL && strlen((const char *)id) == 36)
			memcpy(ids[(*got)++], id, 37);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : 500;
}

int
tenant_delete(struct db *db, const struct cb_config *cfg, const char *id)
{
	static const char del[] = "DELETE FROM tenants WHERE id = ?1";
	char ids[64][37], after[37] = "";
	struct arena a;
	struct tenant t;
	sqlite3_stmt *st;
	int rc, got;

	if (!uuid_valid(id))
		return 404;
	arena_init(&a, 4096);
	rc = tenant_load(db, &a, id, &t);
	arena_free(&a);
	if (rc != 0)
		return rc;
	/* Each file as a hard delete does it, in pages of 64 ids. */
	do {
		if ((rc = next_ids(db, id, after, ids, 64, &got)) != 0)
			return rc;
		for (int i = 0; i < got; i++) {
			int prc = asset_purge(db, cfg, id, ids[i]);
			if (prc != 0 && prc != 404) {
				log_err("tenant %s: could not delete file %s (%d)", id, ids[i], prc);
				return 500;
			}
		}
		if (got > 0)
			memcpy(after, ids[got - 1], 37);
	} while (got == 64);
	if ((st = db_prep(db, del)) == NULL)
		return 500;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		log_err("tenant %s: delete: %s", id, db_errmsg(db));
		return 500;
	}
	return 0;
}
