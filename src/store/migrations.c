/* migrations.c - the schema, as numbered forward-only steps.
 * Never edit a released step: add a new one. Step i takes user_version
 * from i to i+1. */
#include "config.h"

#include "store/migrations.h"

const char *const db_migrations[] = {
	/* 1: foundation */
	"CREATE TABLE settings ("
	"  key TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE admin_keys ("
	"  id TEXT PRIMARY KEY,"
	"  key_hash BLOB NOT NULL UNIQUE,"
	"  created_at INTEGER NOT NULL,"
	"  revoked_at INTEGER"
	");"
	"CREATE TABLE jobs ("
	"  id INTEGER PRIMARY KEY,"
	"  kind TEXT NOT NULL,"
	"  payload TEXT NOT NULL,"
	"  run_at INTEGER NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  state TEXT NOT NULL DEFAULT 'queued'"
	"    CHECK (state IN ('queued','running','done','failed')),"
	"  last_error TEXT,"
	"  created_at INTEGER NOT NULL"
	");"
	"CREATE INDEX jobs_due ON jobs(state, run_at);",
};

const int db_nmigrations = sizeof db_migrations / sizeof db_migrations[0];
