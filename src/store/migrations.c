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

	/* 2: key-value buckets and entries. Credentials are keyed hashes; the
	 * signing key is sealed (AES-256-GCM). Keys are BLOBs so they sort in
	 * byte order; value is untyped so each kind keeps its SQLite type. */
	"CREATE TABLE kv_buckets ("
	"  id TEXT PRIMARY KEY,"
	"  email TEXT NOT NULL,"
	"  secret_hash BLOB,"
	"  read_hash BLOB,"
	"  write_hash BLOB,"
	"  signing_key BLOB,"
	"  signing_gen INTEGER NOT NULL DEFAULT 0,"
	"  default_ttl INTEGER NOT NULL,"
	"  created_at INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE kv_entries ("
	"  bucket_id TEXT NOT NULL REFERENCES kv_buckets(id) ON DELETE CASCADE,"
	"  key BLOB NOT NULL,"
	"  type INTEGER NOT NULL CHECK (type BETWEEN 1 AND 5),"
	"  value,"
	"  expires_at INTEGER,"
	"  PRIMARY KEY (bucket_id, key)"
	") WITHOUT ROWID;"
	"CREATE INDEX kv_entries_expiry ON kv_entries(expires_at)"
	"  WHERE expires_at IS NOT NULL;",
};

const int db_nmigrations = sizeof db_migrations / sizeof db_migrations[0];
