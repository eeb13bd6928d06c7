/* media.c - the jobs worker's side of processing (see media.h): picks
 * 'asset.process' jobs, does what needs no decoder itself (the kind from
 * the first bytes, the SHA-256 of a multipart upload), hands images,
 * video and audio to a pool of cubby-media processors over pipes, and
 * stores what they make where the object is. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cubby/arena.h"
#include "cubby/asset.h"
#include "cubby/blob.h"
#include "cubby/buf.h"
#include "cubby/config.h"
#include "cubby/db.h"
#include "cubby/log.h"
#include "cubby/media.h"
#include "cubby/object.h"
#include "cubby/place.h"
#include "cubby/s3.h"
#include "cubby/util.h"
#include "cubby/webhook.h"
#include "core/object_int.h"

#define MAX_HELPERS     16
#define ANSWER_MAX      16384   /* one line of JSON from a processor */
#define HELPER_JOBS     500     /* then it is replaced (what it leaked goes) */
#define GRACE_MS        5000    /* past media_timeout before a kill (at most) */
#define INLINE_BATCH    20      /* jobs run here per dispatch */
#define CLAIM_LEASE_MS  (10 * 60 * 1000)   /* until the processor has it
					 * (hashing a large upload first) */
#define LEASE_MARGIN_MS 5000

struct job {
	int64_t id;
	int64_t attempts;       /* with this one */
	int notify;
	char oid[37], tid[37], sid[37];
	char key[80];
	const char *kind;
};

struct helper {
	pid_t pid;              /* 0: not running */
	int in, out;
	int busy, served;
	struct job job;
	char thumb[4096], preview[4096];
	int64_t deadline;       /* ms */
	char line[ANSWER_MAX];
	size_t n;
};

struct media_pool {
	const struct cb_config *cfg;
	char prog[PATH_MAX];
	int have_prog;
	int n;
	struct helper h[MAX_HELPERS];
};

int
media_enqueue(struct db *db, const char *tenant_id, const char *id, int notify)
{
	static const char job[] =
	    "INSERT INTO jobs (kind, payload, run_at, created_at)"
	    " VALUES ('asset.process', json_object('tenantId', ?1, 'objectId', ?2,"
	    " 'notify', ?4), ?3, ?3)";
	static const char mark[] =
	    "UPDATE objects SET processing_status = 'pending', processing_error = NULL,"
	    " updated_at = ?3 WHERE id = ?2 AND tenant_id = ?1";
	sqlite3_stmt *st;
	int rc = 0;

	for (int i = 0; i < 2 && rc == 0; i++) {
		if ((st = db_prep(db, i ? mark : job)) == NULL)
			return 500;
		sqlite3_bind_text(st, 1, tenant_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, now_unix_ms());
		if (i == 0)
			sqlite3_bind_int(st, 4, notify ? 1 : 0);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : 500;
		sqlite3_reset(st);
	}
	return rc;
}

int
media_helper_path(const struct cb_config *cfg, char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n;

	if (cfg->media_helper[0]) {
		strlcpy_cb(out, cfg->media_helper, len);
		return access(out, X_OK) == 0 ? 0 : -1;
	}
	/* Beside this program (a build tree, or bindir), then bindir. */
	if ((n = readlink("/proc/self/exe", self, sizeof self - 1)) > 0) {
		char *slash;
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL &&
		    (size_t)snprintf(out, len, "%.*s/cubby-media", (int)(slash - self), self) < len &&
		    access(out, X_OK) == 0)
			return 0;
	}
	strlcpy_cb(out, BINDIR "/cubby-media", len);
	return access(out, X_OK) == 0 ? 0 : -1;
}

struct media_pool *
media_pool_new(const struct cb_config *cfg)
{
	struct media_pool *mp = calloc(1, sizeof *mp);
	long ncpu;

	if (mp == NULL)
		return NULL;
	mp->cfg = cfg;
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	mp->n = cfg->media_workers > 0 ? (int)cfg->media_workers :
	    ncpu < 1 ? 1 : ncpu > 4 ? 4 : (int)ncpu;
	if (mp->n > MAX_HELPERS)
		mp->n = MAX_HELPERS;
	if (cfg->media) {
		mp->have_prog = media_helper_path(cfg, mp->prog, sizeof mp->prog) == 0;
		if (!mp->have_prog)
			log_warn("media: no processor at %s: no thumbnails or previews", mp->prog);
	}
	return mp;
}

static void
helper_stop(struct helper *h, int hard)
{
	int status;

	if (h->pid <= 0)
		return;
	close(h->in);
	close(h->out);
	if (hard)
		kill(-h->pid, SIGKILL);     /* it and its ffmpeg */
	/* Closing its stdin ends a healthy one at once. */
	while (waitpid(h->pid, &status, 0) < 0 && errno == EINTR)
		;
	h->pid = 0;
	h->busy = 0;
	h->n = 0;
}

void
media_pool_free(struct media_pool *mp)
{
	if (mp == NULL)
		return;
	for (int i = 0; i < mp->n; i++) {
		if (mp->h[i].busy) {
			unlink(mp->h[i].thumb);
			unlink(mp->h[i].preview);
		}
		helper_stop(&mp->h[i], mp->h[i].busy);
	}
	free(mp);
}

static int
helper_start(struct media_pool *mp, struct helper *h)
{
	const struct cb_config *cfg = mp->cfg;
	char tmp[4096], a[8][32];
	int in[2], out[2];
	pid_t pid;

	snprintf(tmp, sizeof tmp, "%s/blobs/tmp", cfg->data_dir);
	if (mkdir_p(tmp, 0750) != 0)
		return -1;
	snprintf(a[0], sizeof a[0], "%lld", cfg->thumb_size);
	snprintf(a[1], sizeof a[1], "%lld", cfg->preview_size);
	snprintf(a[2], sizeof a[2], "%lld", cfg->media_max_pixels);
	snprintf(a[3], sizeof a[3], "%lld", cfg->media_max_bytes);
	snprintf(a[4], sizeof a[4], "%lld", cfg->media_memory);
	snprintf(a[5], sizeof a[5], "%lld", cfg->media_timeout);
	if (pipe2(in, O_CLOEXEC) != 0)
		return -1;
	if (pipe2(out, O_CLOEXEC) != 0) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	if ((pid = fork()) < 0) {
		close(in[0]); close(in[1]); close(out[0]); close(out[1]);
		return -1;
	}
	if (pid == 0) {
		char *argv[] = { mp->prog, (char *)"--serve", (char *)"--thumb", a[0],
		    (char *)"--preview", a[1], (char *)"--max-pixels", a[2],
		    (char *)"--max-bytes", a[3], (char *)"--memory", a[4],
		    (char *)"--timeout", a[5], (char *)"--ffmpeg", cfg->ffmpeg,
		    (char *)"--ffprobe", cfg->ffprobe, (char *)"--tmp", tmp, NULL };
		sigset_t none;
		/* Its own group: a kill takes its ffmpeg along; and it
		 * goes when the jobs worker does. */
		setpgid(0, 0);
#ifdef __linux__
		prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		dup2(in[0], 0);
		dup2(out[1], 1);
		/* Nothing else of the jobs worker's (the database above all)
		 * reaches a process that decodes hostile files. */
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		execv(mp->prog, argv);
		_exit(127);
	}
	setpgid(pid, pid);
	close(in[0]);
	close(out[1]);
	h->pid = pid;
	h->in = in[1];
	h->out = out[0];
	fcntl(h->out, F_SETFL, fcntl(h->out, F_GETFL) | O_NONBLOCK);
	h->served = 0;
	h->n = 0;
	h->busy = 0;
	return 0;
}

/* ---- finishing a job -------------------------------------------------- */

static int
exec1(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
job_done(struct db *db, int64_t jid, const char *error)
{
	sqlite3_stmt *st = db_prep(db, "UPDATE jobs SET state = 'done', last_error = ?2"
	    " WHERE id = ?1");

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, jid);
	if (error)
		sqlite3_bind_text(st, 2, error, -1, SQLITE_STATIC);
	return exec1(st);
}

/* The end of a job: the object's processing state, what was read, its
 * derived blobs (set_derived: replace the old ones with these), the job
 * done and the file API's event; the old derived blobs removed after.
 * When the object is gone or was replaced meanwhile, the new blobs go. */
static int
finish(struct media_pool *mp, struct db *db, const struct job *j, const char *status,
    const char *error, const char *media, const char *kind, int set_derived,
    const char *thumb, const char *preview)
{
	static const char old_sql[] =
	    "SELECT thumb_key, preview_key FROM objects WHERE id = ?1 AND tenant_id = ?2"
	    " AND deleted_at IS NULL AND blob_key = ?3";
	static const char set_sql[] =
	    "UPDATE objects SET processing_status = ?3, processing_error = ?4, media = ?5,"
	    " kind = coalesce(?6, kind), updated_at = ?7,"
	    " thumb_key = CASE WHEN ?8 THEN ?9 ELSE thumb_key END,"
	    " preview_key = CASE WHEN ?8 THEN ?10 ELSE preview_key END"
	    " WHERE id = ?1 AND tenant_id = ?2";
	char old[2][80] = { "", "" };
	sqlite3_stmt *st;
	int live = 0, rc = -1;

	if (db_begin(db) != 0)
		return -1;
	if ((st = db_prep(db, old_sql)) == NULL)
		goto fail;
	sqlite3_bind_text(st, 1, j->oid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, j->tid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, j->key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		live = 1;
		for (int i = 0; i < 2; i++)
			if (sqlite3_column_type(st, i) != SQLITE_NULL)
				strlcpy_cb(old[i], (const char *)sqlite3_column_text(st, i), sizeof old[i]);
	}
	sqlite3_reset(st);
	if (live) {
		if ((st = db_prep(db, set_sql)) == NULL)
			goto fail;
		sqlite3_bind_text(st, 1, j->oid, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, j->tid, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, status, -1, SQLITE_STATIC);
		if (error)
			sqlite3_bind_text(st, 4, error, -1, SQLITE_STATIC);
		if (media)
			sqlite3_bind_text(st, 5, media, -1, SQLITE_STATIC);
		if (kind)
			sqlite3_bind_text(st, 6, kind, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 7, now_unix_ms());
		sqlite3_bind_int(st, 8, set_derived);
		if (thumb)
			sqlite3_bind_text(st, 9, thumb, -1, SQLITE_STATIC);
		if (preview)
			sqlite3_bind_text(st, 10, preview, -1, SQLITE_STATIC);
		if (exec1(st) != 0)
			goto fail;
		if (j->notify && webhook_enqueue(db, strcmp(status, "failed") == 0 ?
		    "file.failed" : "file.uploaded", j->tid, j->oid) != 0)
			goto fail;
	}
	if (job_done(db, j->id, error) != 0 || db_commit(db) != 0)
		goto fail;
	rc = 0;
	/* What is no longer referenced (a crash here leaves an orphan for
	 * cubbyctl gc, never a reference to nothing). */
	for (int i = 0; i < 2; i++) {
		const char *now = i ? preview : thumb;
		const char *gone = !live ? now : set_derived ? old[i] : NULL;
		if (gone && *gone && (!live || now == NULL || strcmp(gone, now) != 0) &&
		    place_remove(db, mp->cfg, j->tid, *j->sid ? j->sid : NULL, gone) != 0)
			log_warn("media: could not remove %s", gone);
	}
	return rc;
fail:
	db_rollback(db);
	return -1;
}

/* A job that could not finish now (a processor crash or stall, a store
 * that failed): again later, or failed for good after MEDIA_ATTEMPTS. */
static int
retry_or_fail(struct media_pool *mp, struct db *db, const struct job *j, const char *why)
{
	sqlite3_stmt *st;

	if (j->attempts >= MEDIA_ATTEMPTS) {
		char msg[600];
		snprintf(msg, sizeof msg, "%s (tried %d times)", why, MEDIA_ATTEMPTS);
		log_warn("media: %s of tenant %s: %s", j->oid, j->tid, msg);
		return finish(mp, db, j, "failed", msg, NULL, NULL, 1, NULL, NULL);
	}
	log_info("media: %s of tenant %s: %s; trying again", j->oid, j->tid, why);
	st = db_prep(db, "UPDATE jobs SET state = 'queued', run_at = ?2, last_error = ?3"
	    " WHERE id = ?1");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, j->id);
	sqlite3_bind_int64(st, 2, now_unix_ms() + 1000 * j->attempts);
	sqlite3_bind_text(st, 3, why, -1, SQLITE_STATIC);
	return exec1(st);
}

/* A processor's file into the object's place as a new blob; its key into
 * a. NULL on failure (logged). */
static const char *
store_derived(struct media_pool *mp, struct db *db, struct arena *a, const struct job *j,
    const char *path, const char *ctype)
{
	const char *key = object_new_blob_key(a, j->oid);
	struct place pl;
	struct stat sb;
	int fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &sb) != 0) {
		log_err("media: %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (place_of(db, mp->cfg, a, j->tid, *j->sid ? j->sid : NULL, key, &pl) != 0) {
		close(fd);
		return NULL;
	}
	if (pl.in_s3) {
		struct s3_result res;
		rc = s3_put_file(&pl.t, pl.name, fd, 0, sb.st_size, NULL, ctype, &res);
		if (rc != 0)
			log_err("media: storing %s: %ld %s", key, res.status, res.message);
	} else {
		struct blob_writer w;
		char buf[65536];
		ssize_t n;
		unsigned char sha[32];
		if (blob_create(mp->cfg, key, &w) == 0) {
			while ((n = read(fd, buf, sizeof buf)) > 0 && blob_write(&w, buf, (size_t)n) == 0)
				;
			if (n == 0)
				rc = blob_commit(&w, sha);
			else
				blob_abort(&w);
		}
		if (rc != 0)
			log_err("media: storing %s: %s", key, strerror(errno));
	}
	place_done(&pl);
	close(fd);
	return rc == 0 ? key : NULL;
}

/* What the processor read, kept with the object (JSON text in a). */
static const char *
media_json(struct arena *a, struct json_object *ans, const char *thumb_type,
    const char *preview_type)
{
	static const char *const keep[] = { "width", "height", "duration_ms", "codec",
	    "format", "captured_at" };
	struct json_object *m = json_object_new_object(), *v;
	const char *s;

	for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
		if (json_object_object_get_ex(ans, keep[i], &v))
			json_object_object_add(m, keep[i], json_object_get(v));
	if (thumb_type)
		json_object_object_add(m, "thumb_type", json_object_new_string(thumb_type));
	if (preview_type)
		json_object_object_add(m, "preview_type", json_object_new_string(preview_type));
	s = json_object_object_length(m) ? arena_strdup(a, json_object_to_json_string_ext(m,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) : NULL;
	json_object_put(m);
	return s;
}

/* Only the types the processor writes are served. */
static const char *
image_type(const char *t)
{
	if (t && (strcmp(t, "image/webp") == 0 || strcmp(t, "image/jpeg") == 0))
		return t;
	return NULL;
}

static int
answered(struct media_pool *mp, struct db *db, struct helper *h)
{
	struct json_object *ans = json_tokener_parse(h->line), *ok;
	const struct job *j = &h->job;
	struct arena a;
	int rc;

	arena_init(&a, 1024);
	if (ans == NULL || !json_object_object_get_ex(ans, "ok", &ok)) {
		rc = retry_or_fail(mp, db, j, "the processor's answer was unreadable");
	} else if (json_object_get_boolean(ok)) {
		const char *tt = image_type(json_str(ans, "thumb")), *pt = image_type(json_str(ans, "preview"));
		const char *tk = NULL, *pk = NULL, *kind = json_str(ans, "kind");
		if (kind && !asset_kind_valid(kind))
			kind = NULL;
		if ((tt && (tk = store_derived(mp, db, &a, j, h->thumb, tt)) == NULL) ||
		    (pt && (pk = store_derived(mp, db, &a, j, h->preview, pt)) == NULL)) {
			if (tk)
				place_remove(db, mp->cfg, j->tid, *j->sid ? j->sid : NULL, tk);
			rc = retry_or_fail(mp, db, j, "the thumbnail could not be stored");
		} else {
			rc = finish(mp, db, j, "completed", NULL, media_json(&a, ans, tt, pt), kind,
			    1, tk, pk);
		}
	} else {
		struct json_object *sk;
		const char *why = json_str(ans, "error");
		int skipped = json_object_object_get_ex(ans, "skipped", &sk) &&
		    json_object_get_boolean(sk);
		rc = finish(mp, db, j, skipped ? "skipped" : "failed",
		    why ? why : "the processor gave no reason", media_json(&a, ans, NULL, NULL),
		    NULL, !skipped, NULL, NULL);
	}
	if (ans)
		json_object_put(ans);
	unlink(h->thumb);
	unlink(h->preview);
	arena_free(&a);
	return rc;
}

/* ---- dispatching ------------------------------------------------------- */

static struct helper *
idle_helper(struct media_pool *mp)
{
	for (int i = 0; i < mp->n; i++)
		if (!mp->h[i].busy)
			return &mp->h[i];
	return NULL;
}

int
media_kind(const char *kind)
{
	return kind && (strcmp(kind, "image") == 0 || strcmp(kind, "video") == 0 ||
	    strcmp(kind, "audio") == 0);
}

/* Hand j to h: 0, or -1 (the processor could not be started or fed). */
static int
start(struct media_pool *mp, struct db *db, struct helper *h, const struct job *j)
{
	const struct cb_config *cfg = mp->cfg;
	char input[8192], req[16384];
	struct arena a;
	struct place pl;
	sqlite3_stmt *st;
	int n, rc = -1;

	arena_init(&a, 1024);
	if (place_of(db, cfg, &a, j->tid, *j->sid ? j->sid : NULL, j->key, &pl) != 0)
		goto out;
	if (pl.in_s3) {
		/* The processor fetches it (ffmpeg reads ranges itself). */
		struct buf url;
		buf_init(&url, sizeof input);
		rc = place_presign(&pl, "GET", NULL, NULL, (long)cfg->media_timeout + 600, &url);
		if (rc == 0 && url.len < sizeof input)
			strlcpy_cb(input, buf_cstr(&url), sizeof input);
		else
			rc = -1;
		buf_free(&url);
	} else {
		blob_path(cfg, j->key, input, sizeof input);
		rc = 0;
	}
	place_done(&pl);
	if (rc != 0)
		goto out;
	rc = -1;
	if (h->pid > 0 && h->served >= HELPER_JOBS)
		helper_stop(h, 0);
	if (h->pid <= 0 && helper_start(mp, h) != 0) {
		log_err("media: cannot start %s: %s", mp->prog, strerror(errno));
		goto out;
	}
	snprintf(h->thumb, sizeof h->thumb, "%s/blobs/tmp/media-%ld.thumb", cfg->data_dir,
	    (long)h->pid);
	snprintf(h->preview, sizeof h->preview, "%s/blobs/tmp/media-%ld.preview", cfg->data_dir,
	    (long)h->pid);
	n = snprintf(req, sizeof req, "%s\t%s\t%s\t%s\n", j->kind, input, h->thumb, h->preview);
	if (n <= 0 || (size_t)n >= sizeof req || strpbrk(input, "\t\n") != NULL)
		goto out;
	if (write(h->in, req, (size_t)n) != n) {
		helper_stop(h, 1);
		goto out;
	}
	/* Its lease from now: the time limit, the grace, and a margin (a
	 * job whose jobs worker died runs again then). */
	if ((st = db_prep(db, "UPDATE jobs SET run_at = ?2 WHERE id = ?1")) != NULL) {
		sqlite3_bind_int64(st, 1, j->id);
		sqlite3_bind_int64(st, 2, now_unix_ms() + cfg->media_timeout * 2000 + LEASE_MARGIN_MS);
		exec1(st);
	}
	h->job = *j;
	h->busy = 1;
	h->served++;
	h->n = 0;
	/* The processor keeps its programs to the limit itself; past it
	 * (and a grace as long, up to GRACE_MS) it is stuck in a decoder. */
	h->deadline = now_unix_ms() + cfg->media_timeout * 1000 +
	    (cfg->media_timeout * 1000 < GRACE_MS ? cfg->media_timeout * 1000 : GRACE_MS);
	rc = 0;
out:
	arena_free(&a);
	return rc;
}

/* The SHA-256 of a job's object in its bucket: read back once through
 * the jobs worker (the bytes went from the client straight to the
 * bucket). Bytes of another size than the row's are not the object that
 * was completed: no digest for them. */
static int
hash_in_bucket(struct db *db, const struct cb_config *cfg, const struct job *j,
    int64_t size, unsigned char sha[32])
{
	struct s3_result res;
	struct place pl;
	struct arena a;
	int64_t got = -1;
	int rc = -1;

	arena_init(&a, 1024);
	if (place_of(db, cfg, &a, j->tid, *j->sid ? j->sid : NULL, j->key, &pl) != 0) {
		arena_free(&a);
		return -1;
	}
	if (place_sha256(&pl, sha, &got, &res) != 0)
		log_warn("media: hashing %s in its bucket: %s", j->key, res.message);
	else if (size >= 0 && got != size)
		log_warn("media: %s in its bucket is %lld bytes, not the %lld completed",
		    j->key, (long long)got, (long long)size);
	else
		rc = 0;
	place_done(&pl);
	arena_free(&a);
	return rc;
}

int
media_dispatch(struct media_pool *mp, struct db *db)
{
	static const char pick[] =
	    "SELECT j.id, j.attempts, coalesce(json_extract(j.payload, '$.notify'), 0),"
	    " o.id, o.tenant_id, o.blob_key, o.sha256 IS NULL, o.storage_id, o.size_bytes,"
	    " j.run_at"
	    " FROM jobs j"
	    " LEFT JOIN objects o ON o.id = json_extract(j.payload, '$.objectId')"
	    "  AND o.tenant_id = json_extract(j.payload, '$.tenantId')"
	    "  AND o.deleted_at IS NULL AND o.state = 'completed'"
	    " WHERE j.kind = 'asset.process' AND j.state = 'queued' AND j.run_at <= ?1"
	    "  AND (?2 OR o.id IS NULL OR coalesce(o.kind, '') NOT IN ('image', 'video', 'audio'))"
	    " ORDER BY j.run_at LIMIT 1";
	static const char count[] = "UPDATE jobs SET attempts = attempts + 1 WHERE id = ?1";
	/* A media file found while every processor is busy: back in the
	 * queue where it was, not counted as an attempt. */
	static const char put_back[] =
	    "UPDATE jobs SET state = 'queued', run_at = ?2, attempts = attempts - 1"
	    " WHERE id = ?1 AND state = 'running'";
	static const char settle[] =
	    "UPDATE objects SET kind = coalesce(?3, kind), sha256 = coalesce(sha256, ?4)"
	    " WHERE id = ?1 AND tenant_id = ?2 AND deleted_at IS NULL AND blob_key = ?5";
	const struct cb_config *cfg = mp->cfg;
	int ran = 0, inline_ran = 0;

	while (inline_ran < INLINE_BATCH) {
		struct helper *h = idle_helper(mp);
		sqlite3_stmt *st;
		struct job j;
		unsigned char sha[32];
		int rc, need_sha = 0, have_sha = 0, use;
		int64_t size = -1, queued_at;

		/* With every processor busy, what needs none (a document's
		 * type and SHA-256) still goes on; media waits its turn. */
		if ((st = db_prep(db, pick)) == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, now_unix_ms());
		sqlite3_bind_int(st, 2, h != NULL);
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			sqlite3_reset(st);
			return rc == SQLITE_DONE ? ran : -1;
		}
		memset(&j, 0, sizeof j);
		j.id = sqlite3_column_int64(st, 0);
		j.attempts = sqlite3_column_int64(st, 1) + 1;
		j.notify = sqlite3_column_int(st, 2);
		if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
			strlcpy_cb(j.oid, (const char *)sqlite3_column_text(st, 3), sizeof j.oid);
			strlcpy_cb(j.tid, (const char *)sqlite3_column_text(st, 4), sizeof j.tid);
			if (sqlite3_column_type(st, 5) != SQLITE_NULL)
				strlcpy_cb(j.key, (const char *)sqlite3_column_text(st, 5), sizeof j.key);
			need_sha = sqlite3_column_int(st, 6);
			if (sqlite3_column_type(st, 7) != SQLITE_NULL)
				strlcpy_cb(j.sid, (const char *)sqlite3_column_text(st, 7), sizeof j.sid);
			if (sqlite3_column_type(st, 8) != SQLITE_NULL)
				size = sqlite3_column_int64(st, 8);
		}
		queued_at = sqlite3_column_int64(st, 9);
		sqlite3_reset(st);
		/* Another pool's jobs worker may have picked it meanwhile. A
		 * job whose jobs worker died comes back when its lease ends
		 * (long enough to hash a large upload first; else what a
		 * processor may take). */
		if ((rc = db_job_claim(db, j.id, need_sha ? CLAIM_LEASE_MS :
		    cfg->media_timeout * 2000 + LEASE_MARGIN_MS)) <= 0) {
			if (rc < 0)
				return -1;
			continue;
		}
		if ((st = db_prep(db, count)) == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, j.id);
		if (exec1(st) != 0)
			return -1;
		ran++;
		/* Started that often and never finished: whatever it does
		 * to a jobs worker, not again. */
		if (j.attempts > MEDIA_ATTEMPTS && *j.oid && *j.key) {
			char why[96];
			snprintf(why, sizeof why, "processing was interrupted %d times",
			    MEDIA_ATTEMPTS);
			if (finish(mp, db, &j, "failed", why, NULL, NULL, 1, NULL, NULL) != 0)
				return -1;
			inline_ran++;
			continue;
		}
		if (!*j.oid || !*j.key) {
			/* Deleted (or replaced) meanwhile: nothing to do. */
			if (job_done(db, j.id, NULL) != 0)
				return -1;
			inline_ran++;
			continue;
		}
		j.kind = asset_sniff_blob(db, cfg, j.tid, *j.sid ? j.sid : NULL, j.key);
		if (need_sha && (*j.sid || blob_on_s3(cfg)))
			have_sha = cfg->s3_sha256 && hash_in_bucket(db, cfg, &j, size, sha) == 0;
		else if (need_sha) {
			if (blob_hash(cfg, j.key, sha) == 0)
				have_sha = 1;
			else
				log_warn("media: hashing %s: %s", j.key, strerror(errno));
		}
		if ((st = db_prep(db, settle)) == NULL)
			return -1;
		sqlite3_bind_text(st, 1, j.oid, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, j.tid, -1, SQLITE_STATIC);
		if (j.kind)
			sqlite3_bind_text(st, 3, j.kind, -1, SQLITE_STATIC);
		if (have_sha)
			sqlite3_bind_blob(st, 4, sha, 32, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, j.key, -1, SQLITE_STATIC);
		if (exec1(st) != 0)
			return -1;
		use = media_kind(j.kind) && cfg->media;
		if (use && mp->have_prog && h == NULL) {
			/* Its kind is recorded now: not picked again until a
			 * processor is free. */
			if ((st = db_prep(db, put_back)) == NULL)
				return -1;
			sqlite3_bind_int64(st, 1, j.id);
			sqlite3_bind_int64(st, 2, queued_at);
			if (exec1(st) != 0)
				return -1;
			ran--;
			inline_ran++;
			continue;
		}
		if (use && mp->have_prog && start(mp, db, h, &j) == 0)
			continue;
		/* Done here: not media, or no processor for it. */
		inline_ran++;
		if (!use)
			rc = finish(mp, db, &j, "completed", NULL, NULL, NULL, 0, NULL, NULL);
		else if (!mp->have_prog)
			rc = finish(mp, db, &j, "skipped",
			    "no thumbnails: the media processor (cubby-media) is not installed",
			    NULL, NULL, 0, NULL, NULL);
		else
			rc = retry_or_fail(mp, db, &j, "the media processor could not be started");
		if (rc != 0)
			return -1;
	}
	return ran;
}

int
media_pollfds(struct media_pool *mp, struct pollfd *pfd, int max)
{
	int n = 0;

	for (int i = 0; i < mp->n && n < max; i++) {
		if (!mp->h[i].busy)
			continue;
		pfd[n].fd = mp->h[i].out;
		pfd[n].events = POLLIN;
		pfd[n].revents = 0;
		n++;
	}
	return n;
}

int
media_collect(struct media_pool *mp, struct db *db)
{
	int done = 0;

	for (int i = 0; i < mp->n; i++) {
		struct helper *h = &mp->h[i];
		char *nl;
		ssize_t got;
		int rc = 0;

		if (!h->busy)
			continue;
		got = read(h->out, h->line + h->n, sizeof h->line - 1 - h->n);
		if (got > 0)
			h->n += (size_t)got;
		h->line[h->n] = '\0';
		if ((nl = memchr(h->line, '\n', h->n)) != NULL) {
			*nl = '\0';
			h->busy = 0;
			rc = answered(mp, db, h);
			/* Nothing else is ever owed: a second line is a
			 * confused processor. */
			if ((size_t)(nl - h->line) + 1 != h->n)
				helper_stop(h, 1);
			h->n = 0;
		} else if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR) ||
		    h->n >= sizeof h->line - 1) {
			/* It died on this file (or babbled). */
			struct job j = h->job;
			helper_stop(h, 1);
			unlink(h->thumb);
			unlink(h->preview);
			rc = retry_or_fail(mp, db, &j, "the processor crashed on this file");
		} else if (now_unix_ms() > h->deadline) {
			struct job j = h->job;
			char why[128];
			helper_stop(h, 1);
			unlink(h->thumb);
			unlink(h->preview);
			snprintf(why, sizeof why, "processing took longer than %lld s",
			    mp->cfg->media_timeout);
			rc = retry_or_fail(mp, db, &j, why);
		} else {
			continue;
		}
		if (rc != 0)
			return -1;
		done++;
	}
	return done;
}
