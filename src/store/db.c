/* db.c - SQLite connection setup, migrations, statement cache, transactions.
 * One connection per process, opened after fork. Never puts SQL text or
 * SQLite messages in a response: they go to the log. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cubby/config.h"
#include "cubby/db.h"
#include "cubby/log.h"
#include "cubby/util.h"
#include "cubby/xmalloc.h"
#include "store/migrations.h"

#define STMT_CACHE 256

struct cache_ent {
	const char *sql;
	sqlite3_stmt *st;
};

struct db {
	sqlite3 *h;
	char *path;
	dev_t dev;
	ino_t ino;
	struct cache_ent cache[STMT_CACHE];
	int fault;                  /* the last BEGIN or COMMIT failure's code */
	int fault_errno;            /* and the system's errno behind it */
};

int
db_open(const struct cb_config *cfg, int flags, struct db **out, char *err,
    size_t errlen)
{
	struct db *db;
	struct stat st;
	char pragmas[256];
	int oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;

	*out = NULL;
	if (flags & DB_OPEN_CREATE) {
		/* A new database is the pool's and its group's only, whatever
		 * the umask of the shell that ran cubbyctl init; SQLite gives
		 * the -wal and -shm files the same mode. (An empty file is an
		 * empty database.) */
		int fd = open(cfg->db_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
		    O_NOFOLLOW, 0660);
		if (fd >= 0)
			close(fd);
		else if (errno != EEXIST) {
			snprintf(err, errlen, "database %s: %s", cfg->db_path,
			    strerror(errno));
			return -1;
		}
		oflags |= SQLITE_OPEN_CREATE;
	} else if (stat(cfg->db_path, &st) != 0) {
		snprintf(err, errlen, "database %s: %s (run cubbyctl init)",
		    cfg->db_path, strerror(errno));
		return -1;
	}
	db = xcalloc(1, sizeof *db);
	db->path = xstrdup(cfg->db_path);
	if (sqlite3_open_v2(cfg->db_path, &db->h, oflags, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "database %s: %s", cfg->db_path,
		    db->h ? sqlite3_errmsg(db->h) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(db->h, (int)cfg->busy_timeout_ms);
	sqlite3_extended_result_codes(db->h, 1);
	snprintf(pragmas, sizeof pragmas,
	    "PRAGMA journal_mode=WAL;"
	    "PRAGMA synchronous=%s;"
	    "PRAGMA foreign_keys=ON;"
	    "PRAGMA temp_store=MEMORY;",
	    strcmp(cfg->synchronous, "full") == 0 ? "FULL" : "NORMAL");
	if (sqlite3_exec(db->h, pragmas, NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "database %s: %s", cfg->db_path,
		    sqlite3_errmsg(db->h));
		goto fail;
	}
	if (stat(cfg->db_path, &st) == 0) {
		db->dev = st.st_dev;
		db->ino = st.st_ino;
	}
	*out = db;
	return 0;
fail:
	db_close(db);
	return -1;
}

int
db_open_current(const struct cb_config *cfg, struct db **out, char *err,
    size_t errlen)
{
	if (db_open(cfg, DB_OPEN_EXISTING, out, err, errlen) != 0)
		return -1;
	if (db_check_schema(*out, err, errlen) != 0) {
		db_close(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	for (size_t i = 0; i < STMT_CACHE; i++)
		if (db->cache[i].st)
			sqlite3_finalize(db->cache[i].st);
	sqlite3_close(db->h);
	free(db->path);
	free(db);
}

sqlite3 *
db_handle(struct db *db)
{
	return db->h;
}

const char *
db_errmsg(struct db *db)
{
	return sqlite3_errmsg(db->h);
}

int
db_version(struct db *db, int *v)
{
	sqlite3_stmt *st;
	int rc = -1;

	if (sqlite3_prepare_v2(db->h, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*v = sqlite3_column_int(st, 0);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

int
db_check_schema(struct db *db, char *err, size_t errlen)
{
	int v;

	if (db_version(db, &v) != 0) {
		snprintf(err, errlen, "database %s: cannot read schema version: %s",
		    db->path, sqlite3_errmsg(db->h));
		return -1;
	}
	if (v == 0) {
		snprintf(err, errlen, "database %s has no schema (run cubbyctl init)",
		    db->path);
		return -1;
	}
	if (v < db_schema_latest) {
		snprintf(err, errlen, "database %s is at schema %d, this cubby needs "
		    "%d: run cubbyctl migrate", db->path, v, db_schema_latest);
		return -1;
	}
	if (v > db_schema_latest) {
		snprintf(err, errlen, "database %s is at schema %d, newer than this "
		    "cubby (%d): upgrade cubby", db->path, v, db_schema_latest);
		return -1;
	}
	return 0;
}

int
db_migrate(struct db *db, int *from, int *to, char *err, size_t errlen)
{
	int v;

	if (db_begin(db) != 0 || db_version(db, &v) != 0) {
		snprintf(err, errlen, "database %s: %s", db->path,
		    sqlite3_errmsg(db->h));
		db_rollback(db);
		return -1;
	}
	db_rollback(db);
	*from = *to = v;
	if (v > db_schema_latest) {
		snprintf(err, errlen, "database %s is at schema %d, newer than this "
		    "cubby (%d): refusing to touch it", db->path, v, db_schema_latest);
		return -1;
	}
	while (v < db_schema_latest) {
		char pragma[64];
		int cur;

		/* Re-read inside the write lock: another process may have
		 * migrated meanwhile. */
		if (db_begin(db) != 0 || db_version(db, &cur) != 0)
			goto fail;
		if (cur != v) {
			db_rollback(db);
			v = cur;
			continue;
		}
		if (sqlite3_exec(db->h, db_migrations[v], NULL, NULL, NULL) != SQLITE_OK)
			goto fail;
		snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d", v + 1);
		if (sqlite3_exec(db->h, pragma, NULL, NULL, NULL) != SQLITE_OK ||
		    db_commit(db) != 0)
			goto fail;
		v++;
		*to = v;
	}
	return 0;
fail:
	snprintf(err, errlen, "migration %d of %s failed: %s", v + 1, db->path,
	    sqlite3_errmsg(db->h));
	db_rollback(db);
	return -1;
}

sqlite3_stmt *
db_prep(struct db *db, const char *sql)
{
	size_t h = ((uintptr_t)sql >> 3) % STMT_CACHE;
	sqlite3_stmt *st;

	for (size_t i = 0; i < STMT_CACHE; i++) {
		struct cache_ent *e = &db->cache[(h + i) % STMT_CACHE];
		if (e->sql == sql) {
			sqlite3_reset(e->st);
			sqlite3_clear_bindings(e->st);
			return e->st;
		}
		if (e->sql == NULL) {
			if (sqlite3_prepare_v3(db->h, sql, -1,
			    SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
				log_err("db: prepare failed: %s", sqlite3_errmsg(db->h));
				return NULL;
			}
			e->sql = sql;
			e->st = st;
			return st;
		}
	}
	log_err("db: statement cache full");
	return NULL;
}

int
db_exec(struct db *db, const char *sql)
{
	if (sqlite3_exec(db->h, sql, NULL, NULL, NULL) != SQLITE_OK) {
		log_err("db: %s", sqlite3_errmsg(db->h));
		return -1;
	}
	return 0;
}

int
db_job_claim(struct db *db, int64_t id, int64_t lease_ms)
{
	sqlite3_stmt *st = db_prep(db, "UPDATE jobs SET state = 'running', run_at = ?2"
	    " WHERE id = ?1 AND state = 'queued'");
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now_unix_ms() + lease_ms);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return -1;
	return sqlite3_changes(db->h) == 1;
}

int
db_jobs_requeue_expired(struct db *db)
{
	sqlite3_stmt *st = db_prep(db, "UPDATE jobs SET state = 'queued'"
	    " WHERE state = 'running' AND run_at <= ?1");
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, now_unix_ms());
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? sqlite3_changes(db->h) : -1;
}

int
db_begin(struct db *db)
{
	int rc = sqlite3_exec(db->h, "BEGIN IMMEDIATE", NULL, NULL, NULL);

	if (rc != SQLITE_OK) {
		db->fault = rc & 0xff;
		db->fault_errno = sqlite3_system_errno(db->h);
	}
	return rc == SQLITE_OK ? 0 : -1;
}

int
db_commit(struct db *db)
{
	int rc = sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL);

	if (rc != SQLITE_OK) {
		db->fault = rc & 0xff;
		db->fault_errno = sqlite3_system_errno(db->h);
	}
	return rc == SQLITE_OK ? 0 : -1;
}

void
db_fault_clear(struct db *db)
{
	if (db == NULL)
		return;
	db->fault = db->fault_errno = 0;
	/* (An empty statement leaves the connection's error code SQLITE_OK.) */
	sqlite3_exec(db->h, "", NULL, NULL, NULL);
}

int
db_fault_take(struct db *db)
{
	int f, e;

	if (db == NULL)
		return 0;
	/* A transaction refused, else a statement that failed by itself
	 * (one in autocommit leaves its code on the connection). */
	if (db->fault) {
		f = db->fault;
		e = db->fault_errno;
	} else {
		f = sqlite3_errcode(db->h) & 0xff;
		e = sqlite3_system_errno(db->h);
	}
	db->fault = db->fault_errno = 0;
	/* An I/O error says more through the system's errno: a file system
	 * the kernel turned read-only (a failing disk), or one full. */
	if (f == SQLITE_IOERR || f == SQLITE_CANTOPEN) {
		/* SQLite's errno is often gone by now, or an EIO from a
		 * write the failing disk took back before the kernel made
		 * the file system read-only: ask the directory. */
		if (e != EROFS && e != ENOSPC && e != EDQUOT) {
			int p = probe_write(db->path);

			if (p != 0)
				e = p;
		}
		if (e == EROFS)
			f = SQLITE_READONLY;
		else if (e == ENOSPC || e == EDQUOT)
			f = SQLITE_FULL;
	}
	switch (f) {
	case SQLITE_BUSY: case SQLITE_LOCKED: return DB_FAULT_BUSY;
	case SQLITE_FULL: return DB_FAULT_FULL;
	case SQLITE_READONLY: return DB_FAULT_READONLY;
	case 0: return 0;
	default: return DB_FAULT_OTHER;
	}
}

void
db_rollback(struct db *db)
{
	if (!sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

int
db_ping(struct db *db)
{
	static const char sql[] = "SELECT count(*) FROM settings";
	struct stat st;
	sqlite3_stmt *q;
	int rc;

	/* A moved, deleted or replaced file still answers through the open
	 * descriptor; what clients would reach next time is gone. */
	if (stat(db->path, &st) != 0 || st.st_dev != db->dev ||
	    st.st_ino != db->ino)
		return -1;
	if ((q = db_prep(db, sql)) == NULL)
		return -1;
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	return rc == SQLITE_ROW ? 0 : -1;
}
