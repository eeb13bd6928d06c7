/* space.c - spaces and publications (see space.h). Passwords are hashed
 * with scrypt before the transaction starts (it takes tens of
 * milliseconds, and must not hold the write lock). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cubby/arena.h"
#include "cubby/crypto.h"
#include "cubby/db.h"
#include "cubby/log.h"
#include "cubby/object.h"
#include "cubby/space.h"
#include "cubby/util.h"
#include "cubby/uuid.h"
#include "core/object_int.h"

#define SPACE_COLS "s.id, s.tenant_id, s.short_id, s.name, s.description, s.visibility," \
	" s.password_hash, s.created_at, s.updated_at, (SELECT count(*) FROM publications p" \
	" JOIN objects o ON o.id = p.object_id WHERE p.space_id = s.id" \
	" AND o.deleted_at IS NULL AND o.state = 'completed')"

#define BAD(f, w) do { *field = (f); *why = (w); return 400; } while (0)

static const char *
col(struct arena *a, sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? arena_strdup(a, (const char *)t) : NULL;
}

static void
row_space(struct arena *a, sqlite3_stmt *st, struct space *s)
{
	memset(s, 0, sizeof *s);
	strlcpy_cb(s->id, (const char *)sqlite3_column_text(st, 0), sizeof s->id);
	strlcpy_cb(s->tenant_id, (const char *)sqlite3_column_text(st, 1), sizeof s->tenant_id);
	s->short_id = col(a, st, 2);
	s->name = col(a, st, 3);
	s->description = col(a, st, 4);
	s->visibility = col(a, st, 5);
	s->password_hash = col(a, st, 6);
	s->created_at = sqlite3_column_int64(st, 7);
	s->updated_at = sqlite3_column_int64(st, 8);
	s->asset_count = sqlite3_column_int64(st, 9);
}

/* Check what a change sets; with a password, hash it into hash. */
static int
check_change(const struct space_change *c, int creating, char hash[CB_PWHASH_MAX],
    const char **field, const char **why)
{
	hash[0] = '\0';
	if (creating && c->name == NULL)
		BAD("name", "name is required");
	if (c->name != NULL && (*c->name == '\0' || strlen(c->name) > SPACE_NAME_MAX))
		BAD("name", "name must be 1 to 100 characters");
	if (c->description != NULL && strlen(c->description) > SPACE_DESC_MAX)
		BAD("description", "description is at most 2000 characters");
	if (c->visibility != NULL && strcmp(c->visibility, "public") != 0 &&
	    strcmp(c->visibility, "protected") != 0 && strcmp(c->visibility, "private") != 0)
		BAD("visibility", "visibility must be public, protected or private");
	if (c->set_password && c->password != NULL) {
		size_t n = strlen(c->password);
		if (n < SPACE_PASSWORD_MIN || n > SPACE_PASSWORD_MAX)
			BAD("password", "password must be 6 to 256 characters");
		if (password_hash(c->password, hash) != 0) {
			*field = NULL;
			*why = "could not hash the password";
			return 500;
		}
	}
	return 0;
}

/* SPACE_SHORT_ID_LEN characters of lowercase base32: 80 random bits, so
 * guessing a link is hopeless (links made before were 8 characters, 40
 * bits, and are still served). */
static void
new_short_id(char out[SPACE_SHORT_ID_LEN + 1])
{
	static const char abc[] = "abcdefghijklmnopqrstuvwxyz234567";
	unsigned char b[10];

	crypto_random(b, sizeof b);
	for (int half = 0; half < 2; half++) {
		uint64_t v = 0;
		for (int i = 0; i < 5; i++)
			v = v << 8 | b[half * 5 + i];
		for (int i = 7; i >= 0; i--, v >>= 5)
			out[half * 8 + i] = abc[v & 31];
	}
	out[SPACE_SHORT_ID_LEN] = '\0';
}

int
space_create(struct db *db, struct arena *a, const char *tenant_id,
    const struct space_change *c, struct space *out, const char **field,
    const char **why)
{
	static const char sql[] =
	    "INSERT INTO spaces (id, tenant_id, short_id, name, description, visibility,"
	    " password_hash, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)";
	char hash[CB_PWHASH_MAX], id[37], sid[SPACE_SHORT_ID_LEN + 1];
	const char *vis = c->visibility ? c->visibility : "public";
	int rc;

	if ((rc = check_change(c, 1, hash, field, why)) != 0)
		return rc;
	if (strcmp(vis, "protected") == 0 && !*hash)
		BAD("password", "a protected space needs a password");
	uuid_new(id);
	/* A clash is all but impossible; were one to happen, another id. */
	for (int tries = 0; tries < 5; tries++) {
		sqlite3_stmt *st = db_prep(db, sql);
		if (st == NULL)
			return 500;
		new_short_id(sid);
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, tenant_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, sid, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, c->name, -1, SQLITE_STATIC);
		if (c->description)
			sqlite3_bind_text(st, 5, c->description, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, vis, -1, SQLITE_STATIC);
		if (*hash)
			sqlite3_bind_text(st, 7, hash, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 8, now_unix_ms());
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_CONSTRAINT_UNIQUE && rc != SQLITE_CONSTRAINT)
			break;
	}
	if (rc != SQLITE_DONE) {
		log_err("space: create: %s", db_errmsg(db));
		return 500;
	}
	return space_get(db, a, tenant_id, id, out);
}

int
space_get(struct db *db, struct arena *a, const char *tenant_id,
    const char *id, struct space *out)
{
	static const char sql[] =
	    "SELECT " SPACE_COLS " FROM spaces s WHERE s.id = ?1 AND s.tenant_id = ?2";
	sqlite3_stmt *st;
	int rc;

	if (!uuid_valid(id))
		return 404;
	if ((st = db_prep(db, sql)) == NULL)
		return 500;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tenant_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		row_space(a, st, out);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 404 : 500;
}

int
space_by_short_id(struct db *db, struct arena *a, const char *short_id,
    struct space *out)
{
	static const char sql[] = "SELECT " SPACE_COLS " FROM spaces s WHERE s.short_id = ?1";
	sqlite3_stmt *st;
	int rc;

	if ((strlen(short_id) != 8 && strlen(short_id) != SPACE_SHORT_ID_LEN) ||
	    strspn(short_id, "abcdefghijklmnopqrstuvwxyz234567") != strlen(short_id))
		return 404;
	if ((st = db_prep(db, sql)) == NULL)
		return 500;
	sqlite3_bind_text(st, 1, short_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		row_space(a, st, out);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 404 : 500;
}

int
space_each(struct db *db, struct arena *a, const char *tenant_id,
    int (*fn)(void *arg, const struct space *s), void *arg)
{
	static const char sql[] =
	    "SELECT " SPACE_COLS " FROM spaces s WHERE s.tenant_id = ?1"
	    " ORDER BY s.created_at, s.id";
	sqlite3_stmt *st = db_prep(db, sql);
	int rc;

	if (st == NULL)
		return 500;
	sqlite3_bind_text(st, 1, tenant_id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct space s;
		row_space(a, st, &s);
		if (fn(arg, &s) != 0)
			break;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : 500;
}

int
space_update(struct db *db, struct arena *a, const char *tenant_id,
    const char *id, const struct space_change *c, struct space *out,
    const char **field, const char **why)
{
	static const char sql[] =
	    "UPDATE spaces SET name = coalesce(?3, name),"
	    " description = CASE WHEN ?4 THEN ?5 ELSE description END,"
	    " visibility = coalesce(?6, visibility),"
	    " password_hash = CASE WHEN ?7 THEN ?8 ELSE password_hash END, updated_at = ?9"
	    " WHERE id = ?1 AND tenant_id = ?2";
	char hash[CB_PWHASH_MAX];
	struct space cur;
	sqlite3_stmt *st;
	const char *vis;
	int rc, has_pw;

	if ((rc = check_change(c, 0, hash, field, why)) != 0)
		return rc;
	if (db_begin(db) != 0)
		return 500;
	if ((rc = space_get(db, a, tenant_id, id, &cur)) != 0)
		goto fail;
	vis = c->visibility ? c->visibility : cur.visibility;
	has_pw = c->set_password ? c->password != NULL : cur.password_hash != NULL;
	if (strcmp(vis, "protected") == 0 && !has_pw) {
		db_rollback(db);
		BAD("password", "a protected space needs a password");
	}
	rc = 500;
	if ((st = db_prep(db, sql)) == NULL)
		goto fail;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tenant_id, -1, SQLITE_STATIC);
	if (c->name)
		sqlite3_bind_text(st, 3, c->name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, c->set_description);
	if (c->description)
		sqlite3_bind_text(st, 5, c->description, -1, SQLITE_STATIC);
	if (c->visibility)
		sqlite3_bind_text(st, 6, c->visibility, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 7, c->set_password);
	if (*hash)
		sqlite3_bind_text(st, 8, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, now_unix_ms());
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : 500;
	sqlite3_reset(st);
	if (rc == 0 && db_commit(db) != 0)
		rc = 500;
	if (rc != 0)
		goto fail;
	return space_get(db, a, tenant_id, id, out);
fail:
	db_rollback(db);
	return rc;
}

/* Run sql with ?1 = a, ?2 = b: 0 with *changed, or 500. */
static int
exec2(struct db *db, const char *sql, const char *a, const char *b, int *changed)
{
	sqlite3_stmt *st = db_prep(db, sql);
	int rc;

	if (st == NULL)
		return 500;
	sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	*changed = sqlite3_changes(db_handle(db));
	return rc == SQLITE_DONE ? 0 : 500;
}

int
space_delete(struct db *db, const char *tenant_id, const char *id)
{
	/* publications go by ON DELETE CASCADE */
	static const char sql[] = "DELETE FROM spaces WHERE id = ?1 AND tenant_id = ?2";
	int changed, rc;

	if (!uuid_valid(id))
		return 404;
	rc = exec2(db, sql, id, tenant_id, &changed);
	return rc ? rc : changed ? 0 : 404;
}

int
space_publish(struct db *db, const char *tenant_id, const char *space_id,
    const char *object_id)
{
	static const char sql[] =
	    "INSERT OR IGNORE INTO publications (space_id, object_id, created_at) VALUES (?1, ?2, ?3)";
	struct arena a;
	struct space s;
	struct object o;
	sqlite3_stmt *st;
	int rc;

	arena_init(&a, 2048);
	if (db_begin(db) != 0) {
		arena_free(&a);
		return 500;
	}
	rc = space_get(db, &a, tenant_id, space_id, &s);
	if (rc == 0)
		rc = object_load(db, &a, tenant_id, object_id, 0, &o);
	if (rc == 0 && strcmp(o.state, "completed") != 0)
		rc = 409;
	if (rc == 0) {
		rc = 500;
		if ((st = db_prep(db, sql)) != NULL) {
			sqlite3_bind_text(st, 1, space_id, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, object_id, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 3, now_unix_ms());
			rc = sqlite3_step(st) == SQLITE_DONE ? 0 : 500;
			sqlite3_reset(st);
		}
	}
	if (rc == 0 && db_commit(db) != 0)
		rc = 500;
	if (rc != 0)
		db_rollback(db);
	arena_free(&a);
	return rc;
}

int
space_unpublish(struct db *db, const char *tenant_id, const char *space_id,
    const char *object_id)
{
	static const char sql[] =
	    "DELETE FROM publications WHERE space_id = ?1 AND object_id = ?2"
	    " AND EXISTS (SELECT 1 FROM spaces WHERE id = ?1 AND tenant_id = ?3)";
	sqlite3_stmt *st;
	int rc;

	if (!uuid_valid(space_id) || !uuid_valid(object_id))
		return 404;
	if ((st = db_prep(db, sql)) == NULL)
		return 500;
	sqlite3_bind_text(st, 1, space_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, object_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, tenant_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return 500;
	return sqlite3_changes(db_handle(db)) ? 0 : 404;
}

int
space_publications(struct db *db, struct arena *a, const char *tenant_id,
    const char *space_id, int64_t limit,
    int (*fn)(void *arg, const struct object *o, int64_t published_at),
    void *arg)
{
	static const char sql[] =
	    "SELECT " OBJ_COLS_O ", p.created_at FROM publications p"
	    " JOIN objects o ON o.id = p.object_id"
	    " WHERE p.space_id = ?1 AND o.tenant_id = ?2 AND o.deleted_at IS NULL"
	    " AND o.state = 'completed' ORDER BY p.created_at DESC, o.id LIMIT ?3";
	sqlite3_stmt *st = db_prep(db, sql);
	int rc;

	if (st == NULL)
		return 500;
	sqlite3_bind_text(st, 1, space_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tenant_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct object o;
		object_row(a, st, &o);
		if (fn(arg, &o, sqlite3_column_int64(st, OBJ_NCOLS)) != 0)
			break;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : 500;
}

int
space_each_of_object(struct db *db, struct arena *a, const char *tenant_id,
    const char *object_id, int (*fn)(void *arg, const struct space *s),
    void *arg)
{
	static const char sql[] =
	    "SELECT " SPACE_COLS " FROM publications pub JOIN spaces s ON s.id = pub.space_id"
	    " WHERE pub.object_id = ?1 AND s.tenant_id = ?2 ORDER BY s.created_at, s.id";
	sqlite3_stmt *st = db_prep(db, sql);
	int rc;

	if (st == NULL)
		return 500;
	sqlite3_bind_text(st, 1, object_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tenant_id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct space s;
		row_space(a, st, &s);
		if (fn(arg, &s) != 0)
			break;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : 500;
}
