/* maint.c - cubbyctl check, gc and stats: the data directory (or, with
 * blob_backend = s3, the bucket) against the database. check only reads; gc removes only what no row names and
 * what is older than an hour (younger files may belong to an upload in
 * flight: a blob is renamed into place before its row names it). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

#define GRACE_SECONDS 3600

struct keyset {
	char **k;
	size_t n, cap;
};

static void
keyset_add(struct keyset *s, const char *k)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->k = xrealloc(s->k, s->cap * sizeof *s->k);
	}
	s->k[s->n++] = xstrdup(k);
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
keyset_has(const struct keyset *s, const char *k)
{
	return s->n > 0 && bsearch(&k, s->k, s->n, sizeof *s->k, cmpstr) != NULL;
}

/* Sorted for keyset_has (qsort wants a real array, even of none). */
static void
keyset_sort(struct keyset *s)
{
	if (s->n > 0)
		qsort(s->k, s->n, sizeof *s->k, cmpstr);
}

static void
keyset_free(struct keyset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->k[i]);
	free(s->k);
	memset(s, 0, sizeof *s);
}

/* Every key the database names: blobs of any row (soft-deleted rows keep
 * theirs), and "<uuid>-<upload_id>" of pending multipart uploads. */
static int
load_keys(struct db *db, struct keyset *blobs, struct keyset *uploads)
{
	static const char b_sql[] =
	    "SELECT blob_key FROM objects WHERE blob_key IS NOT NULL"
	    " UNION ALL SELECT thumb_key FROM objects WHERE thumb_key IS NOT NULL"
	    " UNION ALL SELECT preview_key FROM objects WHERE preview_key IS NOT NULL";
	static const char u_sql[] =
	    "SELECT id || '-' || upload_id FROM objects"
	    " WHERE state = 'pending' AND upload_id IS NOT NULL";
	sqlite3_stmt *st;

	if ((st = db_prep(db, b_sql)) == NULL)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW)
		keyset_add(blobs, (const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	if ((st = db_prep(db, u_sql)) == NULL)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW)
		keyset_add(uploads, (const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	keyset_sort(blobs);
	keyset_sort(uploads);
	return 0;
}

/* A file in the blob tree (or an object in the bucket) that no row names
 * (or a leftover). */
struct finding {
	const char *what;     /* "orphan blob", "orphan upload", "temp file",
			       * "orphan object" */
	char path[4096];      /* in the bucket: the object's key */
	long long size;
	int old;              /* past the grace period */
	int in_s3;
};

typedef void (*finding_fn)(void *arg, const struct finding *f);

static void
scan_dir(const char *dir, const char *what, const struct keyset *named,
    finding_fn fn, void *arg, long long *files, long long *bytes)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	time_t now = time(NULL);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		struct finding f;
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(f.path, sizeof f.path, "%s/%s", dir, de->d_name) >= sizeof f.path)
			continue;
		if (lstat(f.path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (files != NULL) {
			(*files)++;
			*bytes += st.st_size;
		}
		if (named != NULL && keyset_has(named, de->d_name))
			continue;
		f.what = what;
		f.size = st.st_size;
		f.old = now - st.st_mtime >= GRACE_SECONDS;
		f.in_s3 = 0;
		fn(arg, &f);
	}
	closedir(d);
}

/* Walk data_dir/blobs: <aa>/<bb>/<key>, uploads/, tmp/. */
static void
scan_blobs(const struct cb_config *cfg, const struct keyset *blobs,
    const struct keyset *uploads, finding_fn fn, void *arg,
    long long *files, long long *bytes)
{
	char root[3072], p1[3584], p2[4096];
	DIR *d1, *d2;
	struct dirent *a, *b;

	if ((size_t)snprintf(root, sizeof root, "%s/blobs", cfg->data_dir) >= sizeof root ||
	    (d1 = opendir(root)) == NULL)
		return;
	while ((a = readdir(d1)) != NULL) {
		if (strlen(a->d_name) != 2 || a->d_name[0] == '.')
			continue;
		snprintf(p1, sizeof p1, "%s/%s", root, a->d_name);
		if ((d2 = opendir(p1)) == NULL)
			continue;
		while ((b = readdir(d2)) != NULL) {
			if (strlen(b->d_name) != 2 || b->d_name[0] == '.')
				continue;
			snprintf(p2, sizeof p2, "%s/%s", p1, b->d_name);
			scan_dir(p2, "orphan blob", blobs, fn, arg, files, bytes);
		}
		closedir(d2);
	}
	closedir(d1);
	snprintf(p1, sizeof p1, "%s/uploads", root);
	scan_dir(p1, "orphan upload", uploads, fn, arg, files, bytes);
	snprintf(p1, sizeof p1, "%s/tmp", root);
	scan_dir(p1, "temp file", NULL, fn, arg, files, bytes);
}

/* blob_backend = s3: every object under s3_prefix in the bucket. */
struct bucket_scan {
	const struct cb_config *cfg;
	const struct keyset *blobs;
	finding_fn fn;
	void *arg;
	long long *files, *bytes;
	time_t now;
};

static int
bucket_one(void *arg, const char *key, int64_t size, int64_t mtime)
{
	struct bucket_scan *b = arg;
	const char *rel = key + strlen(b->cfg->s3_prefix);
	struct finding f;

	if (b->files != NULL) {
		(*b->files)++;
		*b->bytes += size;
	}
	if (keyset_has(b->blobs, rel))
		return 0;
	f.what = "orphan object";
	snprintf(f.path, sizeof f.path, "%s", key);
	f.size = size;
	f.old = mtime > 0 && b->now - mtime >= GRACE_SECONDS;
	f.in_s3 = 1;
	b->fn(b->arg, &f);
	return 0;
}

/* 0, or -1 when the bucket cannot be listed (said on stderr). */
static int
scan_bucket(const struct cb_config *cfg, const struct keyset *blobs, finding_fn fn,
    void *arg, long long *files, long long *bytes)
{
	struct bucket_scan b = { cfg, blobs, fn, arg, files, bytes, time(NULL) };
	struct s3_target t;
	struct s3_result res;

	blob_s3_target(cfg, &t);
	if (s3_list_all(&t, cfg->s3_prefix, bucket_one, &b, &res) < 0) {
		fprintf(stderr, "cubbyctl: listing bucket %s: %s\n", cfg->s3_bucket, res.message);
		return -1;
	}
	return 0;
}

/* ---- check ---------------------------------------------------------------- */

struct check {
	int problems;
	int young;
};

static void
problem(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
problem(struct check *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	c->problems++;
}

static void
check_finding(void *arg, const struct finding *f)
{
	struct check *c = arg;

	if (!f->old) {
		c->young++;   /* may be an upload in flight */
		return;
	}
	problem(c, "%s: %s (%lld bytes, no row names it; cubbyctl gc removes it)",
	    f->what, f->path, f->size);
}

/* Rows whose totals disagree with the objects they count. */
static const char *const total_checks[][2] = {
	{ "tenant %s: used_bytes %lld, but its live objects reserve %lld",
	  "SELECT t.id, t.used_bytes, (SELECT coalesce(sum(reserved_bytes), 0) FROM objects o"
	  " WHERE o.tenant_id = t.id) AS want FROM tenants t WHERE t.used_bytes != want" },
	{ "tenant %s: stored_bytes %lld, but its completed objects hold %lld",
	  "SELECT t.id, t.stored_bytes, (SELECT coalesce(sum(size_bytes), 0) FROM objects o"
	  " WHERE o.tenant_id = t.id AND o.state = 'completed' AND o.deleted_at IS NULL) AS want"
	  " FROM tenants t WHERE t.stored_bytes != want" },
	{ "tenant %s: file_count %lld, but it has %lld completed objects",
	  "SELECT t.id, t.file_count, (SELECT count(*) FROM objects o"
	  " WHERE o.tenant_id = t.id AND o.state = 'completed' AND o.deleted_at IS NULL) AS want"
	  " FROM tenants t WHERE t.file_count != want" },
	{ "workspace %s: used_bytes %lld, but its live objects reserve %lld",
	  "SELECT w.id, w.used_bytes, (SELECT coalesce(sum(reserved_bytes), 0) FROM objects o"
	  " WHERE o.workspace_id = w.id) AS want FROM workspaces w WHERE w.used_bytes != want" },
	{ "workspace %s: file_count %lld, but it has %lld completed objects",
	  "SELECT w.id, w.file_count, (SELECT count(*) FROM objects o WHERE o.workspace_id = w.id"
	  " AND o.state = 'completed' AND o.deleted_at IS NULL) AS want"
	  " FROM workspaces w WHERE w.file_count != want" },
	{ "kv bucket %s: used_keys %lld, but it holds %lld keys",
	  "SELECT b.id, b.used_keys, (SELECT count(*) FROM kv_entries e"
	  " WHERE e.bucket_id = b.id) AS want FROM kv_buckets b WHERE b.used_keys != want" },
	{ "kv bucket %s: used_bytes %lld, but its keys and values hold %lld",
	  "SELECT b.id, b.used_bytes, (SELECT coalesce(sum(length(e.key) +"
	  " coalesce(length(CAST(e.value AS BLOB)), 0)), 0) FROM kv_entries e"
	  " WHERE e.bucket_id = b.id) AS want FROM kv_buckets b WHERE b.used_bytes != want" },
	{ "kv usage shard %s: keys %lld, but its buckets hold %lld",
	  "SELECT u.shard, u.keys, (SELECT coalesce(sum(used_keys), 0) FROM kv_buckets b"
	  " WHERE unicode(b.id) % 16 = u.shard) AS want FROM kv_usage u WHERE u.keys != want" },
	{ "kv usage shard %s: bytes %lld, but its buckets hold %lld",
	  "SELECT u.shard, u.bytes, (SELECT coalesce(sum(used_bytes), 0) FROM kv_buckets b"
	  " WHERE unicode(b.id) % 16 = u.shard) AS want FROM kv_usage u WHERE u.bytes != want" },
};

int
ctl_check(const struct cb_config *cfg, struct db *db)
{
	static const char live_sql[] =
	    "SELECT id, tenant_id, blob_key, size_bytes, storage_id FROM objects"
	    " WHERE state = 'completed' AND deleted_at IS NULL";
	struct keyset blobs = { 0 }, uploads = { 0 };
	struct check c = { 0 };
	sqlite3_stmt *st;
	long long live = 0;

	/* 1. SQLite's own view of the file. */
	if ((st = db_prep(db, "PRAGMA integrity_check")) == NULL)
		return 1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *m = (const char *)sqlite3_column_text(st, 0);

		if (m != NULL && strcmp(m, "ok") != 0)
			problem(&c, "database: %s", m);
	}
	sqlite3_reset(st);

	/* 2. Every live object has its blob, of its size. */
	if ((st = db_prep(db, live_sql)) == NULL)
		return 1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);
		const char *tid = (const char *)sqlite3_column_text(st, 1);
		const char *key = (const char *)sqlite3_column_text(st, 2);
		long long size = sqlite3_column_int64(st, 3);
		const char *sid;
		char path[4096];
		struct stat sb;

		live++;
		if (key == NULL) {
			problem(&c, "object %s (tenant %s): completed, but names no blob", id, tid);
			continue;
		}
		sid = (const char *)sqlite3_column_text(st, 4);
		if (sid != NULL || blob_on_s3(cfg)) {
			/* In a bucket: the server's, or the tenant's own. */
			struct s3_result res;
			struct place pl;
			struct arena a;

			arena_init(&a, 1024);
			if (place_of(db, cfg, &a, tid, sid, key, &pl) != 0) {
				problem(&c, "object %s (tenant %s): its storage connection %s "
				    "cannot be used", id, tid, sid ? sid : "");
			} else if (s3_head(&pl.t, pl.name, &res) != 0) {
				if (res.status == 404)
					problem(&c, "object %s (tenant %s): %s is missing from bucket %s",
					    id, tid, pl.name, pl.t.bucket);
				else
					problem(&c, "object %s (tenant %s): %s cannot be checked: %s",
					    id, tid, pl.name, res.message);
			} else if (res.length != size) {
				problem(&c, "object %s (tenant %s): %s has %lld bytes in the bucket, "
				    "the row says %lld", id, tid, pl.name, (long long)res.length, size);
			}
			place_done(&pl);
			arena_free(&a);
			continue;
		}
		snprintf(path, sizeof path, "%s/blobs/%.2s/%.2s/%s", cfg->data_dir, key, key + 2, key);
		if (stat(path, &sb) != 0)
			problem(&c, "object %s (tenant %s): blob %s is missing", id, tid, path);
		else if (sb.st_size != size)
			problem(&c, "object %s (tenant %s): blob %s has %lld bytes, the row says %lld",
			    id, tid, path, (long long)sb.st_size, size);
	}
	sqlite3_reset(st);

	/* 3. Every file in the blob tree is named by a row. */
	if (load_keys(db, &blobs, &uploads) != 0) {
		keyset_free(&blobs);
		keyset_free(&uploads);
		return 1;
	}
	if (blob_on_s3(cfg)) {
		if (scan_bucket(cfg, &blobs, check_finding, &c, NULL, NULL) != 0)
			problem(&c, "bucket %s: cannot be listed", cfg->s3_bucket);
	} else {
		scan_blobs(cfg, &blobs, &uploads, check_finding, &c, NULL, NULL);
	}
	keyset_free(&blobs);
	keyset_free(&uploads);

	/* 4. The totals kept on tenants and workspaces add up. */
	for (size_t i = 0; i < sizeof total_checks / sizeof total_checks[0]; i++) {
		if ((st = db_prep(db, total_checks[i][1])) == NULL)
			return 1;
		while (sqlite3_step(st) == SQLITE_ROW)
			problem(&c, total_checks[i][0], (const char *)sqlite3_column_text(st, 0),
			    (long long)sqlite3_column_int64(st, 1), (long long)sqlite3_column_int64(st, 2));
		sqlite3_reset(st);
	}
	if (c.young > 0)
		printf("%d file%s in the blob tree younger than an hour and named by no row "
		    "(uploads in flight, or left over: see again later)\n", c.young,
		    c.young == 1 ? "" : "s");
	if (c.problems > 0) {
		printf("%d problem%s found (%lld live objects checked)\n", c.problems,
		    c.problems == 1 ? "" : "s", live);
		return 1;
	}
	printf("ok: database intact, %lld live objects with their blobs, totals add up\n", live);
	return 0;
}

/* ---- gc --------------------------------------------------------------------- */

struct gc {
	const struct cb_config *cfg;
	int dry_run;
	long long files, bytes, failed;
};

static void
gc_finding(void *arg, const struct finding *f)
{
	struct gc *g = arg;

	if (!f->old)
		return;
	if (!g->dry_run && f->in_s3) {
		struct s3_target t;
		struct s3_result res;

		blob_s3_target(g->cfg, &t);
		if (s3_delete(&t, f->path, &res) != 0) {
			fprintf(stderr, "cubbyctl: %s: %s\n", f->path, res.message);
			g->failed++;
			return;
		}
	} else if (!g->dry_run && unlink(f->path) != 0) {
		fprintf(stderr, "cubbyctl: %s: %s\n", f->path, strerror(errno));
		g->failed++;
		return;
	}
	printf("%s %s: %s (%lld bytes)\n", g->dry_run ? "would remove" : "removed", f->what,
	    f->path, f->size);
	g->files++;
	g->bytes += f->size;
}

int
ctl_gc(const struct cb_config *cfg, struct db *db, int dry_run)
{
	struct keyset blobs = { 0 }, uploads = { 0 };
	struct gc g = { .cfg = cfg, .dry_run = dry_run };
	sqlite3_stmt *st;
	int keys = 0;

	/* Keys first, in one read transaction (writers go on): a row
	 * committed after it can only name a file younger than the grace
	 * period, which is left alone. */
	if (db_exec(db, "BEGIN") != 0 || load_keys(db, &blobs, &uploads) != 0) {
		db_rollback(db);
		keyset_free(&blobs);
		keyset_free(&uploads);
		return 1;
	}
	db_rollback(db);
	if (blob_on_s3(cfg)) {
		if (scan_bucket(cfg, &blobs, gc_finding, &g, NULL, NULL) != 0)
			g.failed++;
	} else {
		scan_blobs(cfg, &blobs, &uploads, gc_finding, &g, NULL, NULL);
	}
	keyset_free(&blobs);
	keyset_free(&uploads);
	/* Expired key-value entries (the jobs worker removes them too). */
	st = db_prep(db, dry_run ?
	    "SELECT count(*) FROM kv_entries WHERE expires_at IS NOT NULL AND expires_at <= ?1" :
	    "DELETE FROM kv_entries WHERE expires_at IS NOT NULL AND expires_at <= ?1");
	if (st == NULL)
		return 1;
	sqlite3_bind_int64(st, 1, now_unix_ms());
	if (sqlite3_step(st) == SQLITE_ROW)
		keys = sqlite3_column_int(st, 0);
	else
		keys = sqlite3_changes(db_handle(db));
	sqlite3_reset(st);
	printf("%s %lld file%s (%lld bytes) and %d expired key%s\n",
	    dry_run ? "would remove" : "removed", g.files, g.files == 1 ? "" : "s", g.bytes,
	    keys, keys == 1 ? "" : "s");
	return g.failed ? 1 : 0;
}

/* ---- stats ------------------------------------------------------------------ */

static long long
one(struct db *db, const char *sql)
{
	sqlite3_stmt *st = db_prep(db, sql);
	long long v = -1;

	if (st != NULL && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	if (st != NULL)
		sqlite3_reset(st);
	return v;
}

static void
count_finding(void *arg, const struct finding *f)
{
	(void)f;
	(*(long long *)arg)++;
}

int
ctl_stats(const struct cb_config *cfg, struct db *db)
{
	struct keyset blobs = { 0 }, uploads = { 0 };
	long long files = 0, bytes = 0, unnamed = 0;
	char wal[4200];
	struct stat st;

	printf("tenants              %lld\n", one(db, "SELECT count(*) FROM tenants"));
	printf("objects live         %lld (%lld bytes)\n",
	    one(db, "SELECT count(*) FROM objects WHERE state = 'completed' AND deleted_at IS NULL"),
	    one(db, "SELECT coalesce(sum(size_bytes), 0) FROM objects"
	    " WHERE state = 'completed' AND deleted_at IS NULL"));
	printf("objects pending      %lld (%lld bytes reserved)\n",
	    one(db, "SELECT count(*) FROM objects WHERE state = 'pending'"),
	    one(db, "SELECT coalesce(sum(reserved_bytes), 0) FROM objects WHERE state = 'pending'"));
	printf("objects failed       %lld\n",
	    one(db, "SELECT count(*) FROM objects WHERE state = 'failed' AND deleted_at IS NULL"));
	printf("objects deleted      %lld (rows kept)\n",
	    one(db, "SELECT count(*) FROM objects WHERE deleted_at IS NOT NULL"));
	printf("spaces               %lld (%lld publications)\n",
	    one(db, "SELECT count(*) FROM spaces"), one(db, "SELECT count(*) FROM publications"));
	printf("kv buckets           %lld (%lld keys, %lld bytes)\n",
	    one(db, "SELECT count(*) FROM kv_buckets"), one(db, "SELECT sum(keys) FROM kv_usage"),
	    one(db, "SELECT sum(bytes) FROM kv_usage"));
	printf("jobs queued          %lld (%lld failed)\n",
	    one(db, "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')"),
	    one(db, "SELECT count(*) FROM jobs WHERE state = 'failed'"));
	printf("schema               %lld\n", one(db, "PRAGMA user_version"));
	snprintf(wal, sizeof wal, "%s-wal", cfg->db_path);
	printf("database file        %lld bytes (WAL %lld bytes)\n",
	    stat(cfg->db_path, &st) == 0 ? (long long)st.st_size : -1LL,
	    stat(wal, &st) == 0 ? (long long)st.st_size : 0LL);
	if (load_keys(db, &blobs, &uploads) == 0) {
		if (blob_on_s3(cfg))
			scan_bucket(cfg, &blobs, count_finding, &unnamed, &files, &bytes);
		else
			scan_blobs(cfg, &blobs, &uploads, count_finding, &unnamed, &files, &bytes);
	}
	keyset_free(&blobs);
	keyset_free(&uploads);
	if (blob_on_s3(cfg))
		printf("bucket objects       %lld (%lld bytes; %lld named by no row) in %s\n",
		    files, bytes, unnamed, cfg->s3_bucket);
	else
		printf("blob files           %lld (%lld bytes; %lld named by no row)\n", files, bytes,
		    unnamed);
	return 0;
}

/* ---- blobs-to-s3 ------------------------------------------------------------ */

int
ctl_blobs_to_s3(const struct cb_config *cfg, struct db *db, int dry_run)
{
	struct keyset blobs = { 0 }, uploads = { 0 };
	struct s3_target t;
	long long copied = 0, present = 0, bytes = 0, failed = 0;

	if (!*cfg->s3_endpoint || !*cfg->s3_bucket || !*cfg->s3_access_key ||
	    !*cfg->s3_secret_key) {
		fprintf(stderr, "cubbyctl: set s3_endpoint, s3_bucket, s3_access_key and "
		    "s3_secret_key (keep blob_backend = fs until the copy is done)\n");
		return 2;
	}
	if (blob_on_s3(cfg)) {
		fprintf(stderr, "cubbyctl: blob_backend is s3 already: blobs-to-s3 reads "
		    "%s/blobs, so run it with blob_backend = fs\n", cfg->data_dir);
		return 2;
	}
	if (db_exec(db, "BEGIN") != 0 || load_keys(db, &blobs, &uploads) != 0) {
		db_rollback(db);
		keyset_free(&blobs);
		keyset_free(&uploads);
		return 1;
	}
	db_rollback(db);
	/* The operator's store: wherever it is. */
	t = (struct s3_target){ cfg->s3_endpoint, cfg->s3_region, cfg->s3_bucket,
	    cfg->s3_access_key, cfg->s3_secret_key, cfg->s3_path_style, 1, 0 };
	for (size_t i = 0; i < blobs.n; i++) {
		const char *key = blobs.k[i];
		char path[4096], name[1024], hex[65];
		struct s3_result res;
		long long size;
		int fd;

		snprintf(path, sizeof path, "%s/blobs/%.2s/%.2s/%s", cfg->data_dir, key, key + 2, key);
		if ((size_t)snprintf(name, sizeof name, "%s%s", cfg->s3_prefix, key) >= sizeof name)
			continue;
		if (sha256_file(path, hex, &size) != 0) {
			if (errno != ENOENT) {
				fprintf(stderr, "cubbyctl: %s: %s\n", path, strerror(errno));
				failed++;
			}
			continue;       /* a row naming nothing: cubbyctl check says so */
		}
		/* Already there with its size: a second run skips it. */
		if (s3_head(&t, name, &res) == 0 && res.length == size) {
			present++;
			continue;
		}
		if (dry_run) {
			printf("would copy %s (%lld bytes)\n", key, size);
			copied++;
			bytes += size;
			continue;
		}
		/* The body's SHA-256 is signed: the store refuses other bytes. */
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
		    s3_put_file(&t, name, fd, 0, size, hex, NULL, &res) != 0) {
			fprintf(stderr, "cubbyctl: %s: %s\n", key, fd < 0 ? strerror(errno) : res.message);
			failed++;
		} else {
			copied++;
			bytes += size;
		}
		if (fd >= 0)
			close(fd);
	}
	keyset_free(&blobs);
	keyset_free(&uploads);
	printf("%s %lld blob%s (%lld bytes) to bucket %s; %lld already there; %lld failed\n",
	    dry_run ? "would copy" : "copied", copied, copied == 1 ? "" : "s", bytes,
	    cfg->s3_bucket, present, failed);
	if (!dry_run && failed == 0)
		printf("next: stop the pool, run blobs-to-s3 again (for uploads that finished "
		    "meanwhile), set blob_backend = s3, start the pool, cubbyctl check\n");
	return failed ? 1 : 0;
}
