/* db.h - the metadata store: one SQLite connection per process, WAL mode.
 * Opened after fork, never shared between processes. Writes go through
 * db_begin() (BEGIN IMMEDIATE) so a transaction never fails half-way on a
 * lock upgrade. */
#ifndef CUBBY_DB_H
#define CUBBY_DB_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

struct cb_config;
struct db;

/* Schema version this binary needs (PRAGMA user_version). */
extern const int db_schema_latest;

enum { DB_OPEN_EXISTING = 0, DB_OPEN_CREATE = 1 };

/* Open the database named by cfg with Cubby's pragmas. 0, or -1 with a
 * message in err. flags: DB_OPEN_CREATE to create a missing file. */
int db_open(const struct cb_config *cfg, int flags, struct db **out,
    char *err, size_t errlen);
/* Open an existing database and check that its schema is this binary's:
 * 0, or -1 with the reason and the fixing command in err. */
int db_open_current(const struct cb_config *cfg, struct db **out, char *err,
    size_t errlen);
void db_close(struct db *db);
sqlite3 *db_handle(struct db *db);
/* The file's schema version into *v; 0 or -1. */
int db_version(struct db *db, int *v);
/* 0 when the schema is the one this binary needs; otherwise -1 with the
 * reason and the command that fixes it in err. */
int db_check_schema(struct db *db, char *err, size_t errlen);
/* Apply every pending migration, each in its own transaction. 0, or -1
 * with err; *from and *to report what was done. Refuses a newer schema. */
int db_migrate(struct db *db, int *from, int *to, char *err, size_t errlen);
/* A prepared statement for sql, reset and unbound, cached per connection
 * by the address of sql: pass string literals only. NULL on error. */
sqlite3_stmt *db_prep(struct db *db, const char *sql);
/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. 0 or -1 (rollback cannot fail). */
int db_begin(struct db *db);
int db_commit(struct db *db);
void db_rollback(struct db *db);
/* Execute one statement without results. 0 or -1. */
int db_exec(struct db *db, const char *sql);
/* 0 when the database is reachable: still the file that was opened, and
 * answers a query. -1 otherwise. */
int db_ping(struct db *db);
/* Jobs are claimed with a lease: a queued job becomes running until
 * lease_ms from now. 1 when this caller got it, 0 when another jobs worker
 * (another pool on the same database) did first, -1 on error. */
int db_job_claim(struct db *db, int64_t id, int64_t lease_ms);
/* Put running jobs whose lease ran out (their jobs worker died) back in
 * the queue. The number requeued, or -1. */
int db_jobs_requeue_expired(struct db *db);
/* The last error message of the connection (for logs, never for clients). */
const char *db_errmsg(struct db *db);
/* Why the database refused work since db_fault_clear (a transaction that
 * could not begin or commit, or a statement in autocommit), and forget
 * it: 0, or one of these. */
enum { DB_FAULT_BUSY = 1, DB_FAULT_FULL, DB_FAULT_READONLY, DB_FAULT_OTHER };
void db_fault_clear(struct db *db);
int db_fault_take(struct db *db);

#endif
