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

	/* 3: tenants, their API keys, workspaces and stored objects (one row
	 * per file: a Storage Brain file and a Khaos asset at once). Times
	 * are milliseconds since the epoch. */
	"CREATE TABLE tenants ("
	"  id TEXT PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  quota_bytes INTEGER NOT NULL CHECK (quota_bytes >= 0),"
	"  used_bytes INTEGER NOT NULL DEFAULT 0 CHECK (used_bytes >= 0),"
	"  allowed_types TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE api_keys ("
	"  id TEXT PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  scope INTEGER NOT NULL CHECK (scope BETWEEN 1 AND 3),"
	"  is_primary INTEGER NOT NULL DEFAULT 0,"
	"  key_hash BLOB NOT NULL UNIQUE,"
	"  hint TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  last_used_at INTEGER,"
	"  revoked_at INTEGER"
	");"
	"CREATE INDEX api_keys_tenant ON api_keys(tenant_id, created_at);"
	"CREATE TABLE workspaces ("
	"  id TEXT PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  slug TEXT NOT NULL,"
	"  quota_bytes INTEGER CHECK (quota_bytes IS NULL OR quota_bytes >= 0),"
	"  used_bytes INTEGER NOT NULL DEFAULT 0 CHECK (used_bytes >= 0),"
	"  metadata TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  UNIQUE (tenant_id, slug)"
	") WITHOUT ROWID;"
	"CREATE TABLE objects ("
	"  id TEXT PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  workspace_id TEXT REFERENCES workspaces(id) ON DELETE SET NULL,"
	"  name TEXT NOT NULL,"
	"  content_type TEXT NOT NULL,"
	"  size_bytes INTEGER,"
	"  reserved_bytes INTEGER NOT NULL DEFAULT 0,"
	"  sha256 BLOB,"
	"  context TEXT,"
	"  tags TEXT,"
	"  metadata TEXT,"
	"  state TEXT NOT NULL CHECK (state IN ('pending','completed','failed')),"
	"  processing_status TEXT NOT NULL DEFAULT 'pending',"
	"  webhook_url TEXT,"
	"  blob_key TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  upload_expires_at INTEGER,"
	"  deleted_at INTEGER"
	") WITHOUT ROWID;"
	"CREATE INDEX objects_live ON objects(tenant_id, created_at, id)"
	"  WHERE deleted_at IS NULL AND state = 'completed';"
	"CREATE INDEX objects_workspace ON objects(workspace_id) WHERE workspace_id IS NOT NULL;"
	"CREATE INDEX objects_pending ON objects(upload_expires_at) WHERE state = 'pending';",

	/* 4: live file counts, kept with every completion and deletion, so
	 * listing's total does not count rows (cost must not grow with the
	 * table). */
	"ALTER TABLE tenants ADD COLUMN file_count INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE workspaces ADD COLUMN file_count INTEGER NOT NULL DEFAULT 0;"
	"UPDATE tenants SET file_count = (SELECT count(*) FROM objects o WHERE"
	"  o.tenant_id = tenants.id AND o.deleted_at IS NULL AND o.state = 'completed');"
	"UPDATE workspaces SET file_count = (SELECT count(*) FROM objects o WHERE"
	"  o.workspace_id = workspaces.id AND o.deleted_at IS NULL AND o.state = 'completed');",
};

const int db_nmigrations = sizeof db_migrations / sizeof db_migrations[0];
