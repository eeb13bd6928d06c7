/* backup.c - cubbyctl backup and restore.
 *
 * A backup is a directory: cubby.db (SQLite's online backup, a
 * consistent snapshot taken while the pool serves), master.key, and
 * manifest.json naming every blob the snapshot's rows name, with its size
 * and SHA-256; with --with-blobs the blobs themselves under blobs/ (hard
 * links when the backup is on the same filesystem, copies otherwise).
 * Restore puts the database and key in place and checks every blob of
 * the manifest against the data directory. Never overwrites a database
 * or key without --force; never leaves a half-copied file under its
 * final name. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "cubby/arena.h"
#include "cubby/blob.h"
#include "cubby/config.h"
#include "cubby/crypto.h"
#include "cubby/db.h"
#include "cubby/place.h"
#include "cubby/s3.h"
#include "cubby/util.h"
#include "cubby/xmalloc.h"
#include "ctl/maint.h"

static int
join(char *out, size_t n, const char *a, const char *b)
{
	if ((size_t)snprintf(out, n, "%s/%s", a, b) >= n) {
		fprintf(stderr, "cubbyctl: path too long: %s/%s\n", a, b);
		return -1;
	}
	return 0;
}

/* Copy from to to (via to.tmp, fsynced, renamed), with mode. */
static int
copy_file(const char *from, const char *to, mode_t mode)
{
	char tmp[4200], buf[1 << 16];
	int in, out, rc = -1;
	ssize_t n;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", to) >= sizeof tmp)
		return -1;
	if ((in = open(from, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	if (n == 0 && fchmod(out, mode) == 0 && fsync(out) == 0)
		rc = 0;
	if (close(out) != 0)
		rc = -1;
	close(in);
	if (rc == 0 && rename(tmp, to) != 0)
		rc = -1;
	if (rc != 0) {
		int e = errno;

		unlink(tmp);
		errno = e;
	}
	return rc;
}

static void
blob_rel(char *out, size_t n, const char *key)
{
	snprintf(out, n, "blobs/%.2s/%.2s/%s", key, key + 2, key);
}

/* The directory a file goes in, made if missing. */
static int
mkdirs_for(const char *file)
{
	char d[4096];
	char *slash;

	if ((size_t)snprintf(d, sizeof d, "%s", file) >= sizeof d ||
	    (slash = strrchr(d, '/')) == NULL || slash == d)
		return -1;
	*slash = '\0';
	return mkdir_p(d, 0750);
}

/* The snapshot, with SQLite's backup API: a read transaction on the
 * source, so writers go on and the copy is one consistent state. */
static int
snapshot(struct db *db, const char *to)
{
	sqlite3 *dst;
	sqlite3_backup *b;
	int rc;

	if (sqlite3_open_v2(to, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		fprintf(stderr, "cubbyctl: %s: %s\n", to, sqlite3_errmsg(dst));
		sqlite3_close(dst);
		return -1;
	}
	if ((b = sqlite3_backup_init(dst, "main", db_handle(db), "main")) == NULL) {
		fprintf(stderr, "cubbyctl: backup: %s\n", sqlite3_errmsg(dst));
		sqlite3_close(dst);
		return -1;
	}
	do {
		rc = sqlite3_backup_step(b, -1);
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
			sqlite3_sleep(50);
	} while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "cubbyctl: backup: %s\n", sqlite3_errstr(rc));
		sqlite3_close(dst);
		return -1;
	}
	/* A self-contained file: no WAL beside it. */
	rc = sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
	sqlite3_close(dst);
	return rc == SQLITE_OK ? 0 : -1;
}

/* The size of a blob in its bucket (the server's or a tenant's), or -1
 * (said); its name there into name. */
static long long
s3_size(struct db *db, const struct cb_config *cfg, const char *tenant_id,
    const char *storage_id, const char *key, char *name, size_t len)
{
	struct s3_result res;
	struct place pl;
	struct arena a;
	long long size = -1;

	arena_init(&a, 1024);
	snprintf(name, len, "%s", key);
	if (place_of(db, cfg, &a, tenant_id, storage_id, key, &pl) == 0) {
		snprintf(name, len, "%s/%s", pl.t.bucket, pl.name);
		if (s3_head(&pl.t, pl.name, &res) == 0)
			size = res.length;
		else if (res.status != 404)
			fprintf(stderr, "cubbyctl: %s: %s\n", name, res.message);
		place_done(&pl);
	}
	arena_free(&a);
	return size;
}

int
ctl_backup(const struct cb_config *cfg, struct db *db, const char *dir, int with_blobs)
{
	static const char keys_sql[] =
	    "SELECT blob_key, sha256, tenant_id, storage_id FROM objects"
	    " WHERE blob_key IS NOT NULL AND state = 'completed'"
	    " UNION ALL SELECT thumb_key, NULL, tenant_id, storage_id FROM objects"
	    " WHERE thumb_key IS NOT NULL"
	    " UNION ALL SELECT preview_key, NULL, tenant_id, storage_id FROM objects"
	    " WHERE preview_key IS NOT NULL";
	char dbcopy[4200], path[4200], rel[200], hex[65], dbhex[65];
	json_object *man, *arr;
	sqlite3 *snap = NULL;
	sqlite3_stmt *st;
	long long size, total = 0, missing = 0, n = 0;
	int rc = 1;

	if (with_blobs && blob_on_s3(cfg)) {
		fprintf(stderr, "cubbyctl: blobs are in bucket %s, not in %s: --with-blobs "
		    "copies local blobs only; back the bucket up with the store's own tools "
		    "(versioning, replication)\n", cfg->s3_bucket, cfg->data_dir);
		return 2;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "cubbyctl: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	if (join(dbcopy, sizeof dbcopy, dir, "cubby.db") != 0)
		return 1;
	if (access(dbcopy, F_OK) == 0) {
		fprintf(stderr, "cubbyctl: %s already holds a backup: pick a new directory\n", dir);
		return 1;
	}
	if (snapshot(db, dbcopy) != 0)
		return 1;
	if (join(path, sizeof path, dir, "master.key") != 0 ||
	    copy_file(cfg->master_key_file, path, 0600) != 0) {
		fprintf(stderr, "cubbyctl: cannot copy %s: %s\n", cfg->master_key_file, strerror(errno));
		return 1;
	}
	/* The manifest is made from the snapshot, so it names exactly the
	 * blobs that database needs. Read only, without Cubby's pragmas: the
	 * file stays byte for byte what was hashed. */
	if (sqlite3_open_v2(dbcopy, &snap, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(snap, keys_sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "cubbyctl: %s: %s\n", dbcopy, sqlite3_errmsg(snap));
		sqlite3_close(snap);
		return 1;
	}
	man = json_object_new_object();
	arr = json_object_new_array();
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(st, 0), *sid;
		char known[65] = "";
		json_object *b = json_object_new_object();

		/* The row's SHA-256, when known, is 32 raw bytes. */
		if (sqlite3_column_bytes(st, 1) == 32)
			hex_encode(known, sqlite3_column_blob(st, 1), 32);

		blob_rel(rel, sizeof rel, key);
		sid = (const char *)sqlite3_column_text(st, 3);
		if (sid != NULL || blob_on_s3(cfg)) {
			/* The bucket's HEAD: present, and its size. The SHA-256 is
			 * the row's, when known (not read back from the store). */
			size = s3_size(db, cfg, (const char *)sqlite3_column_text(st, 2), sid, key,
			    path, sizeof path);
			snprintf(hex, sizeof hex, "%s", known);
			if (size < 0) {
				fprintf(stderr, "cubbyctl: warning: %s is missing from its bucket\n", path);
				missing++;
			}
		} else if (join(path, sizeof path, cfg->data_dir, rel) != 0 || sha256_file(path, hex, &size) != 0) {
			/* Gone from the store (deleted since the snapshot, or lost):
			 * named, so restore can say so. */
			fprintf(stderr, "cubbyctl: warning: blob %s: %s\n", path, strerror(errno));
			missing++;
			size = -1;
			hex[0] = '\0';
		} else if (known[0] && strcmp(known, hex) != 0) {
			fprintf(stderr, "cubbyctl: warning: blob %s does not match its row's SHA-256\n", path);
			missing++;
		}
		json_object_object_add(b, "key", json_object_new_string(key));
		json_object_object_add(b, "size", json_object_new_int64(size));
		json_object_object_add(b, "sha256", hex[0] ? json_object_new_string(hex) : NULL);
		if (sid != NULL)        /* in a tenant's own bucket */
			json_object_object_add(b, "storage_id", json_object_new_string(sid));
		json_object_array_add(arr, b);
		if (with_blobs && size >= 0) {
			char to[4200];

			if (join(to, sizeof to, dir, rel) != 0 || mkdirs_for(to) != 0 ||
			    (link(path, to) != 0 && copy_file(path, to, 0640) != 0)) {
				fprintf(stderr, "cubbyctl: cannot copy %s: %s\n", path, strerror(errno));
				goto out;
			}
		}
		total += size > 0 ? size : 0;
		n++;
	}
	sqlite3_finalize(st);
	st = NULL;
	sqlite3_close(snap);
	snap = NULL;
	if (sha256_file(dbcopy, dbhex, &size) != 0)
		goto out;
	json_object_object_add(man, "format", json_object_new_string("cubby-backup/1"));
	json_object_object_add(man, "version", json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(man, "created_at", json_object_new_int64(now_unix_ms()));
	json_object_object_add(man, "schema", json_object_new_int(db_schema_latest));
	json_object_object_add(man, "database_sha256", json_object_new_string(dbhex));
	json_object_object_add(man, "blobs_included", json_object_new_boolean(with_blobs));
	if (blob_on_s3(cfg)) {
		char where[1200];
		snprintf(where, sizeof where, "s3:%s/%s/%s", cfg->s3_endpoint, cfg->s3_bucket,
		    cfg->s3_prefix);
		json_object_object_add(man, "blob_store", json_object_new_string(where));
	}
	json_object_object_add(man, "blobs", arr);
	arr = NULL;
	if (join(path, sizeof path, dir, "manifest.json") != 0)
		goto out;
	{
		char tmp[4300];

		snprintf(tmp, sizeof tmp, "%s.tmp", path);
		if (json_object_to_file_ext(tmp, man, JSON_C_TO_STRING_PRETTY) != 0 ||
		    rename(tmp, path) != 0) {
			fprintf(stderr, "cubbyctl: cannot write %s\n", path);
			goto out;
		}
	}
	printf("backup in %s: database (schema %d), master key, manifest of %lld blobs "
	    "(%lld bytes)%s\n", dir, db_schema_latest, n, total,
	    with_blobs ? ", blobs included" : "");
	if (blob_on_s3(cfg))
		printf("the blobs stay in bucket %s (checked present); back it up with the "
		    "store's own tools\n", cfg->s3_bucket);
	else if (!with_blobs)
		printf("copy %s/blobs with it (blobs never change once written), or use --with-blobs\n",
		    cfg->data_dir);
	rc = missing ? 1 : 0;
	if (missing)
		printf("%lld blob%s missing or damaged in the store (named in the manifest)\n",
		    missing, missing == 1 ? "" : "s");
out:
	if (arr != NULL)
		json_object_put(arr);
	json_object_put(man);
	sqlite3_finalize(st);
	sqlite3_close(snap);
	return rc;
}

int
ctl_restore(const struct cb_config *cfg, const char *dir, int force)
{
	char path[4200], from[4200], rel[200], hex[65];
	json_object *man = NULL, *blobs, *v;
	long long size, ok = 0, bad = 0, elsewhere = 0;
	struct stat st;
	size_t n;
	int rc = 1, have_blobs;

	if (join(path, sizeof path, dir, "manifest.json") != 0)
		return 1;
	if ((man = json_object_from_file(path)) == NULL ||
	    !json_object_object_get_ex(man, "format", &v) ||
	    strcmp(json_object_get_string(v), "cubby-backup/1") != 0 ||
	    !json_object_object_get_ex(man, "blobs", &blobs) ||
	    !json_object_is_type(blobs, json_type_array)) {
		fprintf(stderr, "cubbyctl: %s is not a cubby backup (no readable manifest.json)\n", dir);
		goto out;
	}
	/* The database is the one the manifest was made for. */
	if (join(from, sizeof from, dir, "cubby.db") != 0 || sha256_file(from, hex, &size) != 0 ||
	    !json_object_object_get_ex(man, "database_sha256", &v) ||
	    strcmp(json_object_get_string(v), hex) != 0) {
		fprintf(stderr, "cubbyctl: %s/cubby.db is missing or does not match the manifest\n", dir);
		goto out;
	}
	if (!force && (access(cfg->db_path, F_OK) == 0 || access(cfg->master_key_file, F_OK) == 0)) {
		fprintf(stderr, "cubbyctl: %s already has a database or master key: stop the pool, "
		    "then restore with --force to replace them\n", cfg->data_dir);
		goto out;
	}
	if (mkdir(cfg->data_dir, 0750) != 0 && errno != EEXIST) {
		fprintf(stderr, "cubbyctl: %s: %s\n", cfg->data_dir, strerror(errno));
		goto out;
	}
	if (copy_file(from, cfg->db_path, 0640) != 0) {
		fprintf(stderr, "cubbyctl: cannot write %s: %s\n", cfg->db_path, strerror(errno));
		goto out;
	}
	/* The replaced database's WAL would be replayed into the new one. */
	snprintf(path, sizeof path, "%s-wal", cfg->db_path);
	unlink(path);
	snprintf(path, sizeof path, "%s-shm", cfg->db_path);
	unlink(path);
	if (join(from, sizeof from, dir, "master.key") != 0 ||
	    copy_file(from, cfg->master_key_file, 0600) != 0) {
		fprintf(stderr, "cubbyctl: cannot write %s: %s\n", cfg->master_key_file, strerror(errno));
		goto out;
	}
	have_blobs = json_object_object_get_ex(man, "blobs_included", &v) && json_object_get_boolean(v);
	n = json_object_array_length(blobs);
	for (size_t i = 0; i < n; i++) {
		json_object *b = json_object_array_get_idx(blobs, i), *k, *h;
		const char *key, *want;

		if (!json_object_object_get_ex(b, "key", &k) || !json_object_object_get_ex(b, "sha256", &h))
			continue;
		if (json_object_object_get_ex(b, "storage_id", &v)) {
			elsewhere++;    /* a tenant's own bucket: check looks there */
			continue;
		}
		key = json_object_get_string(k);
		want = json_object_get_string(h);
		if (strlen(key) < 4 || strspn(key, "0123456789abcdef-") != strlen(key))
			continue;   /* not a key Cubby makes: never a path */
		blob_rel(rel, sizeof rel, key);
		if (blob_on_s3(cfg)) {
			/* (A tenant's own buckets are not looked at here: restore
			 * has no database open yet to find their credentials.) */
			if (s3_size(NULL, cfg, NULL, NULL, key, path, sizeof path) < 0) {
				printf("missing from bucket %s: %s\n", cfg->s3_bucket, path);
				bad++;
			} else {
				ok++;
			}
			continue;
		}
		if (join(path, sizeof path, cfg->data_dir, rel) != 0)
			continue;
		if (have_blobs && stat(path, &st) != 0) {
			if (join(from, sizeof from, dir, rel) == 0 && mkdirs_for(path) == 0 &&
			    link(from, path) != 0 && copy_file(from, path, 0640) != 0)
				fprintf(stderr, "cubbyctl: cannot copy %s: %s\n", from, strerror(errno));
		}
		if (sha256_file(path, hex, &size) != 0) {
			printf("missing blob %s\n", path);
			bad++;
		} else if (want != NULL && strcmp(want, hex) != 0) {
			printf("damaged blob %s (SHA-256 %s, the backup says %s)\n", path, hex, want);
			bad++;
		} else {
			ok++;
		}
	}
	printf("restored the database and master key into %s; %lld of %zu blobs present and "
	    "intact\n", cfg->data_dir, ok, n - (size_t)elsewhere);
	if (elsewhere > 0)
		printf("%lld more in tenants' own buckets: cubbyctl check looks at them\n",
		    elsewhere);
	if (bad > 0)
		printf("%lld blob%s missing or damaged: copy them from the backup's blob copy, "
		    "then run cubbyctl check\n", bad, bad == 1 ? "" : "s");
	else
		printf("next: cubbyctl migrate (if this binary is newer), then start the pool\n");
	rc = bad > 0 ? 1 : 0;
out:
	if (man != NULL)
		json_object_put(man);
	return rc;
}
