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

	/* 5: the asset API. An object gains its asset kind, tags as a list
	 * (labels: the file API's tags stay a string map), multipart upload
	 * state and derived blobs; tenants gain the account fields and a kept
	 * total of stored bytes; spaces publish objects. asset_search is a
	 * full-text index over names and labels (and a token naming the
	 * tenant), kept by triggers; its rowid is minus the object's place in
	 * creation order, so a search walks it newest first in ascending
	 * rowid order (FTS5's fast direction) and stops after a page. */
	"ALTER TABLE objects ADD COLUMN kind TEXT"
	"  CHECK (kind IS NULL OR kind IN ('video','image','audio','file'));"
	"ALTER TABLE objects ADD COLUMN labels TEXT;"
	"ALTER TABLE objects ADD COLUMN upload_id TEXT;"
	"ALTER TABLE objects ADD COLUMN part_size INTEGER;"
	"ALTER TABLE objects ADD COLUMN part_count INTEGER;"
	"ALTER TABLE objects ADD COLUMN thumb_key TEXT;"
	"ALTER TABLE objects ADD COLUMN preview_key TEXT;"
	"UPDATE objects SET kind = CASE WHEN content_type LIKE 'image/%' THEN 'image'"
	"  WHEN content_type LIKE 'video/%' THEN 'video' WHEN content_type LIKE 'audio/%'"
	"  THEN 'audio' ELSE 'file' END;"
	"CREATE INDEX objects_all ON objects(tenant_id, created_at, id)"
	"  WHERE deleted_at IS NULL;"
	"CREATE INDEX objects_uploads ON objects(upload_id)"
	"  WHERE upload_id IS NOT NULL AND part_count > 0;"
	"CREATE TABLE upload_parts ("
	"  object_id TEXT NOT NULL REFERENCES objects(id) ON DELETE CASCADE,"
	"  part_number INTEGER NOT NULL,"
	"  size_bytes INTEGER NOT NULL,"
	"  etag TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  PRIMARY KEY (object_id, part_number)"
	") WITHOUT ROWID;"
	"ALTER TABLE tenants ADD COLUMN display_name TEXT;"
	"ALTER TABLE tenants ADD COLUMN email TEXT;"
	"ALTER TABLE tenants ADD COLUMN plan TEXT NOT NULL DEFAULT 'self-hosted';"
	"ALTER TABLE tenants ADD COLUMN status TEXT NOT NULL DEFAULT 'active';"
	"ALTER TABLE tenants ADD COLUMN stored_bytes INTEGER NOT NULL DEFAULT 0;"
	"UPDATE tenants SET stored_bytes = (SELECT coalesce(sum(size_bytes), 0) FROM objects o"
	"  WHERE o.tenant_id = tenants.id AND o.deleted_at IS NULL AND o.state = 'completed');"
	"CREATE TABLE spaces ("
	"  id TEXT PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  short_id TEXT NOT NULL UNIQUE,"
	"  name TEXT NOT NULL,"
	"  description TEXT,"
	"  visibility TEXT NOT NULL CHECK (visibility IN ('public','protected','private')),"
	"  password_hash TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE INDEX spaces_tenant ON spaces(tenant_id, created_at, id);"
	"CREATE TABLE publications ("
	"  space_id TEXT NOT NULL REFERENCES spaces(id) ON DELETE CASCADE,"
	"  object_id TEXT NOT NULL REFERENCES objects(id) ON DELETE CASCADE,"
	"  created_at INTEGER NOT NULL,"
	"  PRIMARY KEY (space_id, object_id)"
	") WITHOUT ROWID;"
	"CREATE INDEX publications_object ON publications(object_id);"
	"CREATE TABLE asset_search_ids ("
	"  n INTEGER PRIMARY KEY,"
	"  object_id TEXT NOT NULL UNIQUE"
	");"
	"CREATE VIRTUAL TABLE asset_search USING fts5(body, prefix = '2 3');"
	"CREATE TRIGGER objects_search_ins AFTER INSERT ON objects BEGIN"
	"  INSERT INTO asset_search_ids (object_id) VALUES (new.id);"
	"  INSERT INTO asset_search (rowid, body) VALUES ("
	"    -(SELECT n FROM asset_search_ids WHERE object_id = new.id),"
	"    't' || replace(new.tenant_id, '-', '') || ' ' || new.name || ' ' ||"
	"    coalesce((SELECT group_concat(value, ' ') FROM json_each(new.labels)), ''));"
	"END;"
	"CREATE TRIGGER objects_search_upd AFTER UPDATE OF name, labels ON objects BEGIN"
	"  UPDATE asset_search SET body = 't' || replace(new.tenant_id, '-', '') || ' ' ||"
	"    new.name || ' ' || coalesce((SELECT group_concat(value, ' ')"
	"    FROM json_each(new.labels)), '')"
	"  WHERE rowid = -(SELECT n FROM asset_search_ids WHERE object_id = new.id);"
	"END;"
	"CREATE TRIGGER objects_search_del AFTER DELETE ON objects BEGIN"
	"  DELETE FROM asset_search"
	"  WHERE rowid = -(SELECT n FROM asset_search_ids WHERE object_id = old.id);"
	"  DELETE FROM asset_search_ids WHERE object_id = old.id;"
	"END;"
	"INSERT INTO asset_search_ids (object_id) SELECT id FROM objects ORDER BY created_at, id;"
	"INSERT INTO asset_search (rowid, body) SELECT -m.n, 't' || replace(o.tenant_id, '-', '')"
	"  || ' ' || o.name FROM objects o JOIN asset_search_ids m ON m.object_id = o.id;",

	/* 6: storage connections: a tenant's own S3-compatible buckets. The
	 * access key id and secret are sealed together (AES-256-GCM under a
	 * subkey of the master key, bound to the tenant and the connection's
	 * id); key_hint shows a few characters of the key id. */
	"CREATE TABLE storage_connections ("
	"  id TEXT PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  provider TEXT NOT NULL,"
	"  endpoint TEXT NOT NULL,"
	"  region TEXT NOT NULL,"
	"  bucket TEXT NOT NULL,"
	"  prefix TEXT NOT NULL DEFAULT '',"
	"  path_style INTEGER NOT NULL DEFAULT 1,"
	"  credentials BLOB NOT NULL,"
	"  key_hint TEXT NOT NULL,"
	"  is_default INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE INDEX storage_connections_tenant ON storage_connections(tenant_id, created_at, id);"
	"CREATE UNIQUE INDEX storage_connections_default ON storage_connections(tenant_id)"
	"  WHERE is_default = 1;",

	/* 7: where an object's bytes are: a tenant's storage connection
	 * (NULL: the server's own store); failed direct uploads whose bytes
	 * may still be in a bucket, for the sweep. */
	"ALTER TABLE objects ADD COLUMN storage_id TEXT;"
	"CREATE INDEX objects_storage ON objects(storage_id) WHERE storage_id IS NOT NULL;"
	"CREATE INDEX objects_failed_blobs ON objects(id)"
	"  WHERE state = 'failed' AND blob_key IS NOT NULL;",

	/* 8: media processing: what the processor read from the bytes
	 * (JSON: width, height, duration_ms, codec, captured_at) and, when
	 * it failed or could not run, why. */
	"ALTER TABLE objects ADD COLUMN media TEXT;"
	"ALTER TABLE objects ADD COLUMN processing_error TEXT;",

	/* 9: when a tenant was last changed (the file API's admin routes
	 * show updatedAt; NULL: never since it was created); the generation
	 * of its webhook secret, and until when (ms) the one before still
	 * signs deliveries beside it. */
	"ALTER TABLE tenants ADD COLUMN updated_at INTEGER;"
	"ALTER TABLE tenants ADD COLUMN webhook_gen INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE tenants ADD COLUMN webhook_prev_until INTEGER;",

	/* 10: what the key-value store holds, counted as it is written: keys
	 * and bytes (key plus value) per bucket, and for all buckets in 16
	 * shards (by the bucket id's first character, so no one row is
	 * every write's). The limits (struct kv_limits) are checked against
	 * these inside each write's transaction. A bucket's delete cascades
	 * to its entries, whose trigger takes them off the shard. */
	"ALTER TABLE kv_buckets ADD COLUMN used_keys INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE kv_buckets ADD COLUMN used_bytes INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE kv_usage ("
	"  shard INTEGER PRIMARY KEY,"
	"  keys INTEGER NOT NULL,"
	"  bytes INTEGER NOT NULL"
	");"
	"WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < 15)"
	"  INSERT INTO kv_usage (shard, keys, bytes) SELECT i, 0, 0 FROM s;"
	"CREATE TRIGGER kv_entries_count_ins AFTER INSERT ON kv_entries BEGIN"
	"  UPDATE kv_buckets SET used_keys = used_keys + 1, used_bytes = used_bytes +"
	"    length(new.key) + coalesce(length(CAST(new.value AS BLOB)), 0)"
	"  WHERE id = new.bucket_id;"
	"  UPDATE kv_usage SET keys = keys + 1, bytes = bytes +"
	"    length(new.key) + coalesce(length(CAST(new.value AS BLOB)), 0)"
	"  WHERE shard = unicode(new.bucket_id) % 16;"
	"END;"
	"CREATE TRIGGER kv_entries_count_upd AFTER UPDATE OF value ON kv_entries BEGIN"
	"  UPDATE kv_buckets SET used_bytes = used_bytes +"
	"    coalesce(length(CAST(new.value AS BLOB)), 0) -"
	"    coalesce(length(CAST(old.value AS BLOB)), 0)"
	"  WHERE id = new.bucket_id;"
	"  UPDATE kv_usage SET bytes = bytes +"
	"    coalesce(length(CAST(new.value AS BLOB)), 0) -"
	"    coalesce(length(CAST(old.value AS BLOB)), 0)"
	"  WHERE shard = unicode(new.bucket_id) % 16;"
	"END;"
	"CREATE TRIGGER kv_entries_count_del AFTER DELETE ON kv_entries BEGIN"
	"  UPDATE kv_buckets SET used_keys = used_keys - 1, used_bytes = used_bytes -"
	"    length(old.key) - coalesce(length(CAST(old.value AS BLOB)), 0)"
	"  WHERE id = old.bucket_id;"
	"  UPDATE kv_usage SET keys = keys - 1, bytes = bytes -"
	"    length(old.key) - coalesce(length(CAST(old.value AS BLOB)), 0)"
	"  WHERE shard = unicode(old.bucket_id) % 16;"
	"END;"
	"UPDATE kv_buckets SET"
	"  used_keys = (SELECT count(*) FROM kv_entries e WHERE e.bucket_id = kv_buckets.id),"
	"  used_bytes = (SELECT coalesce(sum(length(e.key) +"
	"    coalesce(length(CAST(e.value AS BLOB)), 0)), 0)"
	"    FROM kv_entries e WHERE e.bucket_id = kv_buckets.id);"
	"UPDATE kv_usage SET"
	"  keys = (SELECT coalesce(sum(used_keys), 0) FROM kv_buckets b"
	"    WHERE unicode(b.id) % 16 = kv_usage.shard),"
	"  bytes = (SELECT coalesce(sum(used_bytes), 0) FROM kv_buckets b"
	"    WHERE unicode(b.id) % 16 = kv_usage.shard);",
};

/* The schema this binary speaks: one version per step, never kept by hand. */
const int db_schema_latest = sizeof db_migrations / sizeof db_migrations[0];
