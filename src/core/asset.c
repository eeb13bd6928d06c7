/* asset.c - assets: the asset API's rules over objects (see asset.h).
 * A multipart upload writes every part at its offset in one upload file
 * (blob.h), with a row per part in upload_parts (size and SHA-256);
 * completion hashes the file once, checking each part against its row,
 * renames it into place and marks the object completed through the same
 * path as a single PUT. Files are removed only after the transaction that
 * forgets them commits: a crash leaves an orphan file for `cubbyctl gc`,
 * never a row without its bytes. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cubby/arena.h"
#include "cubby/asset.h"
#include "cubby/blob.h"
#include "cubby/buf.h"
#include "cubby/config.h"
#include "cubby/db.h"
#include "cubby/log.h"
#include "cubby/media.h"
#include "cubby/place.h"
#include "cubby/s3.h"
#include "cubby/util.h"
#include "cubby/uuid.h"
#include "cubby/xmalloc.h"
#include "core/object_int.h"

#define PART_LABEL "cubby/part-url/v1"

#define FAIL(st, c, w) do { *code = (c); *why = (w); return (st); } while (0)

/* ---- kinds ----------------------------------------------------------- */

int
asset_kind_valid(const char *s)
{
	return s != NULL && (strcmp(s, "video") == 0 || strcmp(s, "image") == 0 ||
	    strcmp(s, "audio") == 0 || strcmp(s, "file") == 0);
}

const char *
asset_kind_of_type(const char *t)
{
	if (t == NULL)
		return "file";
	if (strncmp(t, "video/", 6) == 0)
		return "video";
	if (strncmp(t, "image/", 6) == 0)
		return "image";
	if (strncmp(t, "audio/", 6) == 0)
		return "audio";
	return "file";
}

static int
at(const unsigned char *p, size_t n, size_t off, const char *magic, size_t len)
{
	return n >= off + len && memcmp(p + off, magic, len) == 0;
}

/* The length of the MPEG audio frame whose header is at p (4 bytes), or 0
 * when p is no valid header: the 11-bit sync, then no reserved version,
 * layer, bitrate, sample rate or emphasis (free-format frames, whose
 * length the header does not give, count as none). */
static size_t
mpeg_frame(const unsigned char *p, int *shape)
{
	static const unsigned short kbps[2][3][16] = {
		{ /* MPEG-1: layers I, II, III */
			{ 0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448, 0 },
			{ 0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 0 },
			{ 0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0 } },
		{ /* MPEG-2 and 2.5 */
			{ 0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256, 0 },
			{ 0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0 },
			{ 0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0 } },
	};
	static const unsigned rates[3] = { 44100, 48000, 32000 };
	unsigned ver = (p[1] >> 3) & 3, layer = 4 - ((p[1] >> 1) & 3);   /* 1..3; 4: reserved */
	unsigned bi = p[2] >> 4, si = (p[2] >> 2) & 3, pad = (p[2] >> 1) & 1;
	unsigned long br, sr;

	if (p[0] != 0xff || (p[1] & 0xe0) != 0xe0 || ver == 1 || layer == 4 ||
	    bi == 0 || bi == 15 || si == 3 || (p[3] & 3) == 2)
		return 0;
	br = kbps[ver != 3][layer - 1][bi] * 1000UL;
	/* MPEG-1 as given; MPEG-2 (ver 2) halves the rates, 2.5 (ver 0) quarters them */
	sr = rates[si] >> (ver == 3 ? 0 : ver == 2 ? 1 : 2);
	*shape = (p[1] & 0x1e) << 2 | (int)si;   /* version, layer, sample rate */
	if (layer == 1)
		return (12 * br / sr + pad) * 4;
	return (layer == 3 && ver != 3 ? 72 : 144) * br / sr + pad;
}

/* MPEG audio without a tag: a frame header, and another of the same
 * version, layer and sample rate where the first frame ends (two syncs
 * in a row; one alone is 1 in 2,700 of random bytes). A file of exactly
 * one frame passes on the first. */
static int
mpeg_audio(const unsigned char *p, size_t n)
{
	size_t len;
	int a, b;

	if (n < 4 || (len = mpeg_frame(p, &a)) == 0)
		return 0;
	if (n == len)
		return 1;
	return n >= len + 4 && mpeg_frame(p + len, &b) != 0 && a == b;
}

const char *
asset_kind_sniff(const unsigned char *p, size_t n)
{
	if (at(p, n, 0, "\xff\xd8\xff", 3) || at(p, n, 0, "\x89PNG\r\n\x1a\n", 8) ||
	    at(p, n, 0, "GIF87a", 6) || at(p, n, 0, "GIF89a", 6) ||
	    (at(p, n, 0, "RIFF", 4) && at(p, n, 8, "WEBP", 4)) ||
	    at(p, n, 0, "II*\0", 4) || at(p, n, 0, "MM\0*", 4))
		return "image";
	if (at(p, n, 4, "ftyp", 4)) {
		/* ISO base media: the major brand says which. */
		if (at(p, n, 8, "avif", 4) || at(p, n, 8, "avis", 4) || at(p, n, 8, "heic", 4) ||
		    at(p, n, 8, "heix", 4) || at(p, n, 8, "mif1", 4) || at(p, n, 8, "msf1", 4))
			return "image";
		if (at(p, n, 8, "M4A ", 4) || at(p, n, 8, "M4B ", 4) || at(p, n, 8, "M4P ", 4))
			return "audio";
		return "video";
	}
	if (at(p, n, 0, "\x1a\x45\xdf\xa3", 4) ||                  /* Matroska, WebM */
	    (at(p, n, 0, "RIFF", 4) && at(p, n, 8, "AVI ", 4)) ||
	    at(p, n, 0, "\x00\x00\x01\xba", 4) || at(p, n, 0, "\x00\x00\x01\xb3", 4) ||
	    at(p, n, 0, "FLV\x01", 4))
		return "video";
	if (at(p, n, 0, "ID3", 3) || at(p, n, 0, "fLaC", 4) || at(p, n, 0, "OggS", 4) ||
	    (at(p, n, 0, "RIFF", 4) && at(p, n, 8, "WAVE", 4)) ||
	    at(p, n, 0, "FORM", 4) || at(p, n, 0, "#!AMR", 5) || mpeg_audio(p, n))
		return "audio";
	if (n > 0)
		return "file";
	return NULL;
}

const char *
asset_status(const struct object *o)
{
	if (strcmp(o->state, "completed") == 0)
		return "active";
	return strcmp(o->state, "failed") == 0 ? "failed" : "pending";
}

const char *
asset_sniff_blob(struct db *db, const struct cb_config *cfg, const char *tenant_id,
    const char *storage_id, const char *key)
{
	unsigned char head[ASSET_SNIFF_BYTES];
	int64_t size;
	ssize_t n;
	int fd;

	if (key == NULL)
		return NULL;
	if (storage_id != NULL || blob_on_s3(cfg)) {
		struct s3_result res;
		struct place pl;
		struct arena a;
		struct buf b;
		const char *kind = NULL;

		arena_init(&a, 1024);
		buf_init(&b, sizeof head);
		if (place_of(db, cfg, &a, tenant_id, storage_id, key, &pl) == 0) {
			if (s3_get_mem(&pl.t, pl.name, 0, (int64_t)sizeof head - 1, &b, &res) == 0)
				kind = asset_kind_sniff((const unsigned char *)buf_cstr(&b), b.len);
			place_done(&pl);
		}
		buf_free(&b);
		arena_free(&a);
		return kind;
	}
	if (blob_open(cfg, key, &fd, &size) != 0)
		return NULL;
	n = read(fd, head, sizeof head);
	close(fd);
	return n < 0 ? NULL : asset_kind_sniff(head, (size_t)n);
}

/* ---- creating -------------------------------------------------------- */

int
asset_plan(int64_t size, int multipart, int64_t part_size,
    int64_t *out_part_size, int64_t *out_part_count, const char **field,
    const char **why)
{
	*field = "size_bytes";
	if (size < 0) {
		*why = "size_bytes is required: a whole number of bytes";
		return 400;
	}
	if (size > ASSET_MAX_BYTES) {
		*why = "size_bytes is at most 5 TiB";
		return 400;
	}
	*out_part_size = *out_part_count = 0;
	if (!multipart && size <= ASSET_SINGLE_MAX && part_size == 0)
		return 0;
	*field = "part_size";
	if (part_size != 0 && (part_size < ASSET_PART_MIN || part_size > ASSET_PART_MAX)) {
		*why = "part_size must be 5 MiB to 5 GiB";
		return 400;
	}
	if (part_size == 0) {
		/* 8 MiB, or the smallest whole MiB that keeps 10,000 parts. */
		int64_t mib = 1024 * 1024;
		part_size = (size + ASSET_MAX_PARTS - 1) / ASSET_MAX_PARTS;
		part_size = (part_size + mib - 1) / mib * mib;
		if (part_size < ASSET_PART_DEFAULT)
			part_size = ASSET_PART_DEFAULT;
	}
	*out_part_size = part_size;
	*out_part_count = size == 0 ? 1 : (size + part_size - 1) / part_size;
	if (*out_part_count > ASSET_MAX_PARTS) {
		*why = "at most 10,000 parts: choose a larger part_size";
		return 400;
	}
	return 0;
}

int
asset_create(struct db *db, const struct cb_config *cfg, struct arena *a,
    const char *tenant_id, const struct asset_new *n, struct object *out,
    const char **code, const char **why)
{
	unsigned char rnd[16];
	const char *field;
	char *hex;
	int64_t now = now_unix_ms();

	memset(out, 0, sizeof *out);
	if (asset_plan(n->size, n->multipart, n->part_size, &out->part_size,
	    &out->part_count, &field, why) != 0) {
		*code = "validation_error";
		return 400;
	}
	uuid_new(out->id);
	strlcpy_cb(out->tenant_id, tenant_id, sizeof out->tenant_id);
	out->name = n->filename;
	out->content_type = n->content_type ? n->content_type : "application/octet-stream";
	out->kind = n->kind ? n->kind : asset_kind_of_type(out->content_type);
	out->labels = n->labels;
	out->metadata = n->attributes;
	out->size_bytes = n->size;
	out->reserved_bytes = n->size;
	out->state = "pending";
	out->processing_status = "pending";
	out->created_at = out->updated_at = now;
	/* A single PUT has an upload id too, never shown: it is cleared
	 * when the upload is completed, so a second complete is a no-op. */
	hex = arena_alloc(a, 33);
	crypto_random(rnd, sizeof rnd);
	hex_encode(hex, rnd, sizeof rnd);
	out->upload_id = hex;
	out->upload_expires_at = now + (out->part_count > 0 ?
	    ASSET_MULTIPART_TTL_MS : UPLOAD_URL_TTL_MS);
	/* A tenant with a default storage connection keeps new uploads
	 * there; otherwise the server's store. */
	{
		char *sid = arena_alloc(a, 37);
		int d = place_default(db, tenant_id, sid);
		if (d < 0) {
			*code = "internal_error";
			*why = "could not read the storage connections";
			return 500;
		}
		out->storage_id = d ? sid : NULL;
	}
	if (object_in_bucket(cfg, out)) {
		/* The bytes go straight to the bucket, under a key chosen now.
		 * A multipart upload is the bucket's own: its id is S3's. */
		struct s3_result res;
		struct place pl;
		int rc;

		out->blob_key = object_new_blob_key(a, out->id);
		memset(&res, 0, sizeof res);
		if (place_of(db, cfg, a, tenant_id, out->storage_id, out->blob_key, &pl) != 0) {
			*code = "storage_unavailable";
			*why = "the storage connection cannot be used";
			return 502;
		}
		if (out->part_count > 0) {
			if (s3_mpu_create(&pl.t, pl.name, out->content_type, &res) != 0) {
				log_warn("asset: create upload in %s: %s", pl.t.bucket, res.message);
				place_done(&pl);
				*code = "storage_unavailable";
				*why = arena_printf(a, "the object store did not start the upload: %s",
				    res.message);
				return res.status >= 400 && res.status < 500 ? 502 : 503;
			}
			out->upload_id = arena_strdup(a, res.upload_id);
		}
		if ((rc = object_insert_pending(db, out, code, why)) != 0 && out->part_count > 0)
			s3_mpu_abort(&pl.t, pl.name, out->upload_id, &res);
		place_done(&pl);
		return rc;
	}
	return object_insert_pending(db, out, code, why);
}

/* ---- parts ----------------------------------------------------------- */

void
asset_part_sign(const unsigned char master[CB_KEYLEN], const char *id,
    const char *upload_id, int64_t part, int64_t expires_ms, char hex[65])
{
	unsigned char sub[CB_KEYLEN], mac[32];
	char msg[160];

	snprintf(msg, sizeof msg, "PART\n%s\n%s\n%lld\n%lld", id, upload_id,
	    (long long)part, (long long)expires_ms);
	masterkey_derive(master, PART_LABEL, sub);
	hmac_sha256(sub, sizeof sub, msg, strlen(msg), mac);
	hex_encode(hex, mac, sizeof mac);
	memset(sub, 0, sizeof sub);
}

int
asset_part_verify(const unsigned char master[CB_KEYLEN], const char *id,
    const char *upload_id, int64_t part, const char *expires, const char *sig,
    const char **code)
{
	long long exp;
	char expect[65];

	*code = "invalid_signature";
	if (expires == NULL || sig == NULL || upload_id == NULL || strlen(upload_id) != 32 ||
	    parse_ll(expires, 0, INT64_MAX, &exp) != 0 || !uuid_valid(id))
		return 403;
	asset_part_sign(master, id, upload_id, part, exp, expect);
	if (strlen(sig) != 64 || !ct_equal(sig, expect, 64))
		return 403;
	if (exp <= now_unix_ms()) {
		*code = "upload_expired";
		return 403;
	}
	return 0;
}

int64_t
asset_part_length(const struct object *o, int64_t part)
{
	if (part < o->part_count)
		return o->part_size;
	return o->size_bytes - o->part_size * (o->part_count - 1);
}

int
asset_part_check(const struct object *o, const char *upload_id, int64_t part,
    const char **code, const char **why)
{
	if (o->part_count == 0)
		FAIL(409, "not_multipart", "this asset is a single PUT upload");
	if (strcmp(o->state, "pending") != 0 || o->upload_id == NULL || upload_id == NULL ||
	    strcmp(o->upload_id, upload_id) != 0)
		FAIL(409, "upload_not_in_progress", "no such multipart upload in progress");
	if (part < 1 || part > o->part_count)
		FAIL(400, "validation_error", "part_number is outside the upload");
	return 0;
}

int
asset_part_begin(struct db *db, struct arena *a, const char *id,
    const char *upload_id, int64_t part, int64_t length, struct object *out,
    const char **code, const char **why)
{
	static const char owner[] = "SELECT tenant_id FROM objects WHERE id = ?1";
	sqlite3_stmt *st;
	char tenant[37] = "";
	int rc;

	if ((st = db_prep(db, owner)) == NULL)
		FAIL(500, "internal_error", "lookup failed");
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		strlcpy_cb(tenant, (const char *)sqlite3_column_text(st, 0), sizeof tenant);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW || object_load(db, a, tenant, id, 0, out) != 0)
		FAIL(404, "not_found", "no such upload");
	if ((rc = asset_part_check(out, upload_id, part, code, why)) != 0)
		return rc;
	if (length < 0)
		FAIL(411, "validation_error", "Content-Length is required");
	if (length != asset_part_length(out, part)) {
		*code = "validation_error";
		*why = arena_printf(a, "part %lld must be %lld bytes", (long long)part,
		    (long long)asset_part_length(out, part));
		return 400;
	}
	return 0;
}

void
asset_upload_key(const struct object *o, char key[80])
{
	snprintf(key, 80, "%s-%s", o->id, o->upload_id ? o->upload_id : "none");
}

int64_t
asset_part_offset(const struct object *o, int64_t part)
{
	return (part - 1) * o->part_size;
}

int
asset_part_record(struct db *db, const struct object *o, int64_t part,
    int64_t size, const char *etag)
{
	static const char put[] =
	    "INSERT OR REPLACE INTO upload_parts (object_id, part_number, size_bytes,"
	    " etag, created_at) VALUES (?1, ?2, ?3, ?4, ?5)";
	static const char touch[] =
	    "UPDATE objects SET upload_expires_at = ?3, updated_at = ?4"
	    " WHERE id = ?1 AND upload_id = ?2 AND state = 'pending'";
	sqlite3_stmt *st;
	int64_t now = now_unix_ms();
	int rc = 500;

	if (db_begin(db) != 0)
		return 500;
	/* Still in progress? (An abort or complete may have won.) */
	if ((st = db_prep(db, touch)) == NULL)
		goto out;
	sqlite3_bind_text(st, 1, o->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, o->upload_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now + ASSET_MULTIPART_TTL_MS);
	sqlite3_bind_int64(st, 4, now);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		rc = 500;
		goto out;
	}
	if (sqlite3_changes(db_handle(db)) == 0) {
		rc = 409;
		goto out;
	}
	rc = 500;
	if ((st = db_prep(db, put)) == NULL)
		goto out;
	sqlite3_bind_text(st, 1, o->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, part);
	sqlite3_bind_int64(st, 3, size);
	sqlite3_bind_text(st, 4, etag, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, now);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : 500;
	sqlite3_reset(st);
	if (rc == 0 && db_commit(db) != 0)
		rc = 500;
out:
	if (rc != 0)
		db_rollback(db);
	return rc;
}

int
asset_part_forget(struct db *db, const struct object *o, int64_t part)
{
	static const char sql[] =
	    "DELETE FROM upload_parts WHERE object_id = ?1 AND part_number = ?2";
	sqlite3_stmt *st = db_prep(db, sql);
	int rc;

	if (st == NULL)
		return 500;
	sqlite3_bind_text(st, 1, o->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, part);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : 500;
	sqlite3_reset(st);
	return rc;
}

struct part_row {
	int64_t number, size;
	char etag[40];
};

/* The stored parts of an upload, in order, into arena memory. -1 on error. */
static long
load_parts(struct db *db, struct arena *a, const char *id, struct part_row **out)
{
	static const char sql[] =
	    "SELECT part_number, size_bytes, etag FROM upload_parts"
	    " WHERE object_id = ?1 ORDER BY part_number";
	sqlite3_stmt *st = db_prep(db, sql);
	size_t n = 0, cap = 16;
	struct part_row *v = arena_alloc(a, cap * sizeof *v);
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < ASSET_MAX_PARTS) {
		if (n == cap) {
			struct part_row *w = arena_alloc(a, 2 * cap * sizeof *v);
			memcpy(w, v, cap * sizeof *v);
			v = w;
			cap *= 2;
		}
		v[n].number = sqlite3_column_int64(st, 0);
		v[n].size = sqlite3_column_int64(st, 1);
		strlcpy_cb(v[n].etag, (const char *)sqlite3_column_text(st, 2), sizeof v[n].etag);
		n++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return -1;
	*out = v;
	return (long)n;
}

/* After completion: the kind the bytes say, and processing queued. */
static int
settle(struct db *db, const struct cb_config *cfg, const char *tenant_id,
    const char *id, const char *storage_id, const char *blob_key)
{
	static const char set_kind[] =
	    "UPDATE objects SET kind = ?3, upload_id = NULL WHERE id = ?1 AND tenant_id = ?2";
	const char *kind = asset_sniff_blob(db, cfg, tenant_id, storage_id, blob_key);
	sqlite3_stmt *st;
	int rc;

	if (db_begin(db) != 0 || (st = db_prep(db, set_kind)) == NULL) {
		db_rollback(db);
		return 500;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tenant_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, kind ? kind : "file", -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : 500;
	sqlite3_reset(st);
	if (rc == 0)
		rc = media_enqueue(db, tenant_id, id, 0);
	if (rc == 0 && db_commit(db) != 0)
		rc = 500;
	if (rc != 0)
		db_rollback(db);
	return rc;
}

static int
drop_parts_rows(struct db *db, const char *id)
{
	static const char sql[] = "DELETE FROM upload_parts WHERE object_id = ?1";
	sqlite3_stmt *st = db_prep(db, sql);
	int rc;

	if (st == NULL)
		return 500;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : 500;
	sqlite3_reset(st);
	return rc;
}

/* Every part present with its size, and (when the client lists them) the
 * stored attempts' etags. 0, 400 or 500 with *code and *why. */
static int
check_parts(struct db *db, struct arena *a, const struct object *o,
    const struct part_ref *parts, size_t nparts, const char **code,
    const char **why)
{
	struct part_row *p = NULL;
	long n;

	if ((n = load_parts(db, a, o->id, &p)) < 0)
		FAIL(500, "internal_error", "could not read the parts");
	for (int64_t i = 1, j = 0; i <= o->part_count; i++, j++) {
		if (j >= n || p[j].number != i) {
			*code = "incomplete_upload";
			*why = arena_printf(a, "part %lld has not been uploaded", (long long)i);
			return 400;
		}
		if (p[j].size != asset_part_length(o, i)) {
			*code = "incomplete_upload";
			*why = arena_printf(a, "part %lld has the wrong size", (long long)i);
			return 400;
		}
	}
	if (nparts == 0)
		return 0;
	if ((int64_t)nparts != o->part_count)
		FAIL(400, "validation_error", "parts must list every part of the upload once");
	for (size_t i = 0; i < nparts; i++) {
		const char *e = parts[i].etag;
		size_t el, want = strlen(p[i].etag);

		if (parts[i].number != (int64_t)i + 1)
			FAIL(400, "validation_error", "parts must list part numbers 1..n in order");
		if (e == NULL)
			continue;
		el = strlen(e);
		if (el == want + 2 && e[0] == '"' && e[el - 1] == '"') {
			e++;
			el -= 2;
		}
		if (el != want || !ct_equal(e, p[i].etag, want)) {
			*code = "part_mismatch";
			*why = arena_printf(a, "part %lld: the etag is not the stored attempt's",
			    (long long)parts[i].number);
			return 400;
		}
	}
	return 0;
}

/* ---- completing in S3 ------------------------------------------------- */

/* A store failure as the API's answer: no answer or 5xx is the store's
 * trouble (503, try again), anything else a 502 with its message. */
static int
s3_fail(const struct s3_result *res, struct arena *a, const char **code,
    const char **why)
{
	*code = "storage_unavailable";
	*why = arena_printf(a, "the object store: %s", res->message);
	return res->status == 0 || res->status >= 500 ? 503 : 502;
}

/* The bytes of a single PUT are in the bucket, or they are not. */
static int
s3_complete_single(struct db *db, const struct cb_config *cfg, struct arena *a,
    const char *tenant_id, const char *id, struct object *out,
    const char **code, const char **why)
{
	struct s3_result res, cres;
	struct place pl;
	char key[80], name[1100];
	int rc, moved;

	if (out->blob_key == NULL ||
	    place_of(db, cfg, a, tenant_id, out->storage_id, out->blob_key, &pl) != 0)
		FAIL(502, "storage_unavailable", "the asset's store cannot be used");
	if (s3_head(&pl.t, pl.name, &res) != 0) {
		place_done(&pl);
		if (res.status == 404)
			FAIL(409, "upload_incomplete", "the upload's PUT has not arrived yet");
		return s3_fail(&res, a, code, why);
	}
	if (res.length != out->size_bytes) {
		place_done(&pl);
		*code = "size_mismatch";
		*why = arena_printf(a, "the uploaded object has %lld bytes, size_bytes is %lld;"
		    " PUT it again", (long long)res.length, (long long)out->size_bytes);
		return 409;
	}
	/* Under a name no upload URL names: the URL, good until it
	 * expires, cannot change the bytes once they are complete. */
	if ((moved = place_seal(cfg, &pl, id, out->blob_key, res.etag, key, name, &cres)) < 0) {
		place_done(&pl);
		if (cres.status == 404 || cres.status == 412)
			FAIL(409, "upload_incomplete", "the upload's bytes changed while it was "
			    "being completed: complete it again");
		return s3_fail(&cres, a, code, why);
	}
	rc = object_upload_finish(db, tenant_id, id, res.length, NULL, key, NULL);
	/* The name that is no longer the object's goes: the upload's once
	 * recorded, else this attempt's copy (another complete won, settled
	 * below). What a failed delete leaves, gc removes. */
	if (moved == 0 && s3_delete(&pl.t, rc == 0 ? pl.name : name, &cres) != 0 &&
	    cres.status != 404)
		log_warn("asset: delete %s in %s: %s", rc == 0 ? pl.name : name, pl.t.bucket,
		    cres.message);
	place_done(&pl);
	if (rc == 409)
		return 0;
	return rc ? (*code = "internal_error", *why = "could not record the upload", 500) : 0;
}

struct listed_part {
	int number;
	int64_t size;
	char etag[136];
};

struct part_list {
	struct listed_part *p;
	size_t n, cap;
};

static int
collect_part(void *arg, int number, const char *etag, int64_t size)
{
	struct part_list *l = arg;

	if (l->n == l->cap)
		return 1;
	l->p[l->n].number = number;
	l->p[l->n].size = size;
	snprintf(l->p[l->n].etag, sizeof l->p[l->n].etag, "%s", etag);
	l->n++;
	return 0;
}

/* Strip one pair of quotes. */
static const char *
unquote(struct arena *a, const char *e)
{
	size_t n = strlen(e);
	if (n >= 2 && e[0] == '"' && e[n - 1] == '"')
		return arena_printf(a, "%.*s", (int)(n - 2), e + 1);
	return e;
}

static int s3_complete_parts(struct place *pl, struct arena *a, struct object *out,
    const struct part_ref *parts, size_t nparts, const char **code, const char **why);

/* Every part is in the bucket's upload with its size (the bucket's own
 * ListParts; the client's etags, when it lists them, must match), then
 * the bucket completes it. */
static int
s3_complete_multipart(struct db *db, const struct cb_config *cfg, struct arena *a,
    const char *tenant_id, const char *id, const struct part_ref *parts,
    size_t nparts, struct object *out, const char **code, const char **why)
{
	struct place pl;
	int rc;

	if (out->blob_key == NULL ||
	    place_of(db, cfg, a, tenant_id, out->storage_id, out->blob_key, &pl) != 0)
		FAIL(502, "storage_unavailable", "the asset's store cannot be used");
	rc = s3_complete_parts(&pl, a, out, parts, nparts, code, why);
	place_done(&pl);
	if (rc != 0)
		return rc;
	rc = object_upload_finish(db, tenant_id, id, out->size_bytes, NULL, out->blob_key, NULL);
	if (rc == 409)
		FAIL(409, "upload_already_completed", "this upload is completed");
	return rc ? (*code = "internal_error", *why = "could not record the upload", 500) : 0;
}

/* ListParts, the checks, CompleteMultipartUpload: 0, or a status. */
static int
s3_complete_parts(struct place *pl, struct arena *a, struct object *out,
    const struct part_ref *parts, size_t nparts, const char **code, const char **why)
{
	struct s3_target t = pl->t;
	const char *k = pl->name;
	struct s3_result res;
	struct part_list l;
	struct s3_part *sp;

	l.cap = (size_t)out->part_count + 1;
	l.n = 0;
	l.p = arena_zalloc(a, l.cap * sizeof *l.p);
	if (s3_mpu_list_parts(&t, k, out->upload_id, collect_part, &l, &res) < 0) {
		if (strcmp(res.code, "NoSuchUpload") == 0)
			FAIL(409, "upload_not_in_progress", "the object store no longer has this upload");
		return s3_fail(&res, a, code, why);
	}
	for (int64_t i = 1; i <= out->part_count; i++) {
		const struct listed_part *p = (size_t)(i - 1) < l.n ? &l.p[i - 1] : NULL;
		if (p == NULL || p->number != i) {
			*code = "incomplete_upload";
			*why = arena_printf(a, "part %lld has not been uploaded", (long long)i);
			return 400;
		}
		if (p->size != asset_part_length(out, i)) {
			*code = "incomplete_upload";
			*why = arena_printf(a, "part %lld has the wrong size", (long long)i);
			return 400;
		}
	}
	if (nparts > 0) {
		if ((int64_t)nparts != out->part_count)
			FAIL(400, "validation_error", "parts must list every part of the upload once");
		for (size_t i = 0; i < nparts; i++) {
			if (parts[i].number != (int64_t)i + 1)
				FAIL(400, "validation_error", "parts must list part numbers 1..n in order");
			if (parts[i].etag != NULL &&
			    strcmp(unquote(a, parts[i].etag), unquote(a, l.p[i].etag)) != 0) {
				*code = "part_mismatch";
				*why = arena_printf(a, "part %lld: the etag is not the stored attempt's",
				    (long long)parts[i].number);
				return 400;
			}
		}
	}
	sp = arena_zalloc(a, (size_t)out->part_count * sizeof *sp);
	for (int64_t i = 0; i < out->part_count; i++) {
		sp[i].number = (int)i + 1;
		sp[i].etag = l.p[i].etag;
	}
	if (s3_mpu_complete(&t, k, out->upload_id, sp, (size_t)out->part_count, &res) != 0) {
		if (strcmp(res.code, "NoSuchUpload") == 0)
			FAIL(409, "upload_not_in_progress", "the object store no longer has this upload");
		if (res.status >= 400 && res.status < 500) {
			*code = "incomplete_upload";
			*why = arena_printf(a, "the object store refused to complete: %s", res.message);
			return 400;
		}
		return s3_fail(&res, a, code, why);
	}
	return 0;
}

int
asset_complete(struct db *db, const struct cb_config *cfg, struct arena *a,
    const char *tenant_id, const char *id, const char *upload_id,
    const struct part_ref *parts, size_t nparts, struct object *out,
    const char **code, const char **why)
{
	unsigned char rnd[8];
	char key[64], rhex[17], ukey[80];
	int64_t size = 0;
	int rc, fd;

	if ((rc = object_load(db, a, tenant_id, id, 0, out)) != 0)
		FAIL(rc, rc == 404 ? "not_found" : "internal_error", "Asset not found");
	if (out->part_count == 0) {
		/* Single PUT: the bytes arrived, or they did not. */
		if (upload_id != NULL)
			FAIL(400, "validation_error", "this asset is a single PUT upload: no upload_id");
		if (strcmp(out->state, "failed") == 0)
			FAIL(409, "upload_failed", "the upload expired before its bytes arrived");
		if (strcmp(out->state, "pending") == 0 && object_in_bucket(cfg, out) &&
		    (rc = s3_complete_single(db, cfg, a, tenant_id, id, out, code, why)) != 0)
			return rc;
		if (object_in_bucket(cfg, out) && (rc = object_load(db, a, tenant_id, id, 0, out)) != 0)
			FAIL(500, "internal_error", "could not finish the upload");
		if (strcmp(out->state, "pending") == 0)
			FAIL(409, "upload_incomplete", "the upload's PUT has not arrived yet");
		if (out->upload_id == NULL)
			return 0;   /* completed already: nothing more to do */
		rc = settle(db, cfg, tenant_id, id, out->storage_id, out->blob_key);
		if (rc == 0)
			rc = object_load(db, a, tenant_id, id, 0, out);
		return rc ? (*code = "internal_error", *why = "could not finish the upload", 500) : 0;
	}
	if (upload_id == NULL)
		FAIL(400, "validation_error", "upload_id is required for a multipart upload");
	if (strcmp(out->state, "completed") == 0 && out->upload_id == NULL)
		FAIL(409, "upload_already_completed", "this upload is completed");
	if (strcmp(out->state, "pending") != 0 || out->upload_id == NULL ||
	    strcmp(out->upload_id, upload_id) != 0)
		FAIL(409, "upload_not_in_progress", "this multipart upload is completed or aborted");
	if (object_in_bucket(cfg, out)) {
		if ((rc = s3_complete_multipart(db, cfg, a, tenant_id, id, parts, nparts, out,
		    code, why)) != 0)
			return rc;
		rc = settle(db, cfg, tenant_id, id, out->storage_id, out->blob_key);
		if (rc == 0)
			rc = object_load(db, a, tenant_id, id, 0, out);
		return rc ? (*code = "internal_error", *why = "could not finish the upload", 500) : 0;
	}
	/* Lock the upload file first: under its exclusive lock no part PUT
	 * is in flight, and every row was written by the PUT that wrote its
	 * bytes (under the part's range lock), so the rows read next describe
	 * the file. Its SHA-256 is computed by processing, off the request. */
	asset_upload_key(out, ukey);
	if (blob_upload_seal(cfg, ukey, &size, &fd) != 0) {
		if (errno == ENOENT) {
			/* No part ever arrived, or another complete took it. */
			*code = "incomplete_upload";
			*why = "part 1 has not been uploaded";
			if (object_load(db, a, tenant_id, id, 0, out) != 0 ||
			    strcmp(out->state, "pending") != 0)
				FAIL(409, "upload_not_in_progress", "another request completed or aborted this upload");
			return 400;
		}
		if (errno == ESTALE)
			FAIL(409, "upload_not_in_progress", "another request completed or aborted this upload");
		log_err("asset: seal %s: %s", ukey, strerror(errno));
		FAIL(500, "internal_error", "could not read the upload");
	}
	rc = check_parts(db, a, out, parts, nparts, code, why);
	if (rc == 0 && size != out->size_bytes) {
		*code = "incomplete_upload";
		*why = "the upload's size differs from size_bytes";
		rc = 400;
	}
	if (rc != 0) {
		blob_upload_unlock(fd);
		return rc;
	}
	crypto_random(rnd, sizeof rnd);
	hex_encode(rhex, rnd, sizeof rnd);
	snprintf(key, sizeof key, "%s-%s", id, rhex);
	if (blob_upload_commit(cfg, ukey, key) != 0) {
		log_err("asset: commit %s: %s", ukey, strerror(errno));
		blob_upload_unlock(fd);
		FAIL(500, "internal_error", "could not store the upload");
	}
	blob_upload_unlock(fd);
	rc = object_upload_finish(db, tenant_id, id, size, NULL, key, NULL);
	if (rc != 0) {
		/* Cannot happen short of a database failure (the lock and the
		 * rename let one completion through); the blob is left for gc. */
		log_err("asset: %s completed on disk as %s but not recorded (%d)", id, key, rc);
		FAIL(500, "internal_error", "could not record the upload");
	}
	/* The object is complete: its part rows are no longer needed. */
	if (db_begin(db) != 0 || drop_parts_rows(db, id) != 0 || db_commit(db) != 0)
		db_rollback(db);
	rc = settle(db, cfg, tenant_id, id, NULL, key);
	if (rc == 0)
		rc = object_load(db, a, tenant_id, id, 0, out);
	return rc ? (*code = "internal_error", *why = "could not finish the upload", 500) : 0;
}

/* The bytes of an unfinished multipart upload: its upload file, or the
 * bucket's multipart upload. */
static void
drop_upload(struct db *db, const struct cb_config *cfg, const struct object *o)
{
	char ukey[80];

	if (object_in_bucket(cfg, o)) {
		struct s3_result res;
		struct place pl;
		struct arena a;

		if (o->upload_id == NULL || o->blob_key == NULL)
			return;
		arena_init(&a, 1024);
		if (place_of(db, cfg, &a, o->tenant_id, o->storage_id, o->blob_key, &pl) == 0) {
			if (s3_mpu_abort(&pl.t, pl.name, o->upload_id, &res) != 0 && res.status != 404)
				log_warn("asset: abort upload of %s in %s: %s", o->id, pl.t.bucket,
				    res.message);
			place_done(&pl);
		}
		arena_free(&a);
		return;
	}
	asset_upload_key(o, ukey);
	blob_upload_remove(cfg, ukey);
}

/* Forget a multipart upload's parts: rows, then its upload file. */
static int
remove_parts(struct db *db, const struct cb_config *cfg, const struct object *o)
{
	if (db_begin(db) != 0)
		return 500;
	if (drop_parts_rows(db, o->id) != 0 || db_commit(db) != 0) {
		db_rollback(db);
		return 500;
	}
	drop_upload(db, cfg, o);
	return 0;
}

int
asset_abort(struct db *db, const struct cb_config *cfg, const char *tenant_id,
    const char *id, const char *upload_id, const char **code, const char **why)
{
	static const char fail_sql[] =
	    "UPDATE objects SET state = 'failed', processing_status = 'failed',"
	    " reserved_bytes = 0, updated_at = ?3"
	    " WHERE id = ?1 AND tenant_id = ?2 AND state = 'pending'";
	struct arena a;
	struct object o;
	sqlite3_stmt *st;
	int rc;

	arena_init(&a, 4096);
	rc = object_load(db, &a, tenant_id, id, 0, &o);
	if (rc != 0) {
		arena_free(&a);
		FAIL(rc, rc == 404 ? "not_found" : "internal_error", "Asset not found");
	}
	if (o.part_count == 0) {
		arena_free(&a);
		FAIL(400, "validation_error", "this asset is not a multipart upload");
	}
	if (strcmp(o.state, "completed") == 0) {
		arena_free(&a);
		FAIL(409, "upload_already_completed", "this upload is completed");
	}
	if (o.upload_id == NULL && strcmp(o.state, "failed") == 0) {
		arena_free(&a);
		return 0;   /* aborted or expired, and already swept */
	}
	if (upload_id == NULL || o.upload_id == NULL || strcmp(o.upload_id, upload_id) != 0) {
		arena_free(&a);
		FAIL(404, "not_found", "no such multipart upload for this asset");
	}
	if (strcmp(o.state, "pending") == 0) {
		if (db_begin(db) != 0 || (st = db_prep(db, fail_sql)) == NULL) {
			db_rollback(db);
			arena_free(&a);
			FAIL(500, "internal_error", "database busy");
		}
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, tenant_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, now_unix_ms());
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : 500;
		sqlite3_reset(st);
		if (rc == 0 && sqlite3_changes(db_handle(db)) == 1)
			rc = quota_release(db, tenant_id, o.workspace_id, o.reserved_bytes);
		if (rc == 0 && db_commit(db) != 0)
			rc = 500;
		if (rc != 0) {
			db_rollback(db);
			arena_free(&a);
			FAIL(500, "internal_error", "could not abort the upload");
		}
	}
	rc = remove_parts(db, cfg, &o);
	arena_free(&a);
	if (rc != 0)
		log_warn("asset: abort %s: parts left for the sweep", id);
	return 0;
}

/* ---- updating, deleting, listing -------------------------------------- */

int
asset_update(struct db *db, struct arena *a, const char *tenant_id,
    const char *id, const char *filename, const char *labels,
    const char *attributes, struct object *out)
{
	static const char sql[] =
	    "UPDATE objects SET name = coalesce(?3, name), labels = coalesce(?4, labels),"
	    " metadata = coalesce(?5, metadata), updated_at = ?6"
	    " WHERE id = ?1 AND tenant_id = ?2 AND deleted_at IS NULL";
	sqlite3_stmt *st;
	int rc;

	if (!uuid_valid(id))
		return 404;
	if ((st = db_prep(db, sql)) == NULL)
		return 500;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tenant_id, -1, SQLITE_STATIC);
	if (filename)
		sqlite3_bind_text(st, 3, filename, -1, SQLITE_STATIC);
	if (labels)
		sqlite3_bind_text(st, 4, labels, -1, SQLITE_STATIC);
	if (attributes)
		sqlite3_bind_text(st, 5, attributes, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, now_unix_ms());
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return 500;
	if (sqlite3_changes(db_handle(db)) == 0)
		return 404;
	return object_load(db, a, tenant_id, id, 0, out);
}

int
asset_purge(struct db *db, const struct cb_config *cfg, const char *tenant_id,
    const char *id)
{
	static const char tomb[] =
	    "UPDATE objects SET deleted_at = coalesce(deleted_at, ?3), name = '',"
	    " labels = NULL, tags = NULL, metadata = NULL, context = NULL,"
	    " blob_key = NULL, thumb_key = NULL, preview_key = NULL, sha256 = NULL,"
	    " reserved_bytes = 0, upload_id = NULL, webhook_url = NULL,"
	    " state = CASE state WHEN 'pending' THEN 'failed' ELSE state END"
	    " WHERE id = ?1 AND tenant_id = ?2";
	static const char unpublish[] = "DELETE FROM publications WHERE object_id = ?1";
	struct arena a;
	struct object o;
	sqlite3_stmt *st;
	char ukey[80] = "";
	int rc, live;

	arena_init(&a, 4096);
	if (db_begin(db) != 0) {
		arena_free(&a);
		return 500;
	}
	if ((rc = object_load(db, &a, tenant_id, id, 1, &o)) != 0)
		goto done;
	live = o.deleted_at == 0;
	if (o.part_count > 0 && o.upload_id != NULL)
		asset_upload_key(&o, ukey);
	rc = 500;
	if (drop_parts_rows(db, id) != 0)
		goto done;
	for (int i = 0; i < 2; i++) {
		if ((st = db_prep(db, i ? unpublish : tomb)) == NULL)
			goto done;
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		if (!i) {
			sqlite3_bind_text(st, 2, tenant_id, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 3, now_unix_ms());
		}
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : 500;
		sqlite3_reset(st);
		if (rc != 0)
			goto done;
	}
	/* A live object gives back what it held; a soft-deleted one (the file
	 * API's DELETE) did already. */
	if (live && o.reserved_bytes > 0)
		rc = quota_release(db, tenant_id, o.workspace_id, o.reserved_bytes);
	if (rc == 0 && live && strcmp(o.state, "completed") == 0)
		rc = object_counts(db, tenant_id, o.workspace_id, -1, -o.size_bytes);
	if (rc == 0 && db_commit(db) != 0)
		rc = 500;
done:
	if (rc != 0) {
		db_rollback(db);
	} else {
		const char *keys[] = { o.blob_key, o.thumb_key, o.preview_key };
		for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
			if (keys[i] != NULL && *keys[i])
				place_remove(db, cfg, tenant_id, o.storage_id, keys[i]);
		if (*ukey)
			drop_upload(db, cfg, &o);
	}
	arena_free(&a);
	return rc;
}

int
asset_purge_deleted(struct db *db, const struct cb_config *cfg, int limit)
{
	static const char sql[] =
	    "SELECT tenant_id, id FROM objects WHERE deleted_at IS NOT NULL"
	    " AND (blob_key IS NOT NULL OR thumb_key IS NOT NULL OR preview_key IS NOT NULL)"
	    " LIMIT ?1";
	char (*ids)[2][37];
	sqlite3_stmt *st;
	int n = 0, rc;

	if (limit <= 0)
		return 0;
	ids = xmalloc((size_t)limit * sizeof *ids);
	if ((st = db_prep(db, sql)) == NULL) {
		free(ids);
		return -1;
	}
	sqlite3_bind_int(st, 1, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < limit) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		const char *o = (const char *)sqlite3_column_text(st, 1);
		if (t && o && strlen(t) == 36 && strlen(o) == 36) {
			memcpy(ids[n][0], t, 37);
			memcpy(ids[n][1], o, 37);
			n++;
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		free(ids);
		return -1;
	}
	for (int i = 0; i < n; i++)
		if (asset_purge(db, cfg, ids[i][0], ids[i][1]) == 500) {
			free(ids);
			return -1;
		}
	free(ids);
	return n;
}

int
asset_search_indexed(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s >= '0' && (unsigned char)*s <= '9') ||
		    ((*s | 0x20) >= 'a' && (*s | 0x20) <= 'z') || (unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

/* The FTS5 query for a tenant's search: its tenant token AND the words
 * as one phrase, the last one a prefix: t<hex> AND "w1 w2 w3" * */
static char *
fts_query(struct arena *a, const char *tenant_id, const char *s)
{
	size_t n = strlen(s), k;
	char *q = arena_alloc(a, 2 * n + 64);

	k = (size_t)snprintf(q, 64, "t");
	for (const char *t = tenant_id; *t; t++)
		if (*t != '-')
			q[k++] = *t;
	memcpy(q + k, " AND \"", 6);
	k += 6;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			q[k++] = '"';
		q[k++] = s[i];
	}
	memcpy(q + k, "\" *", 4);   /* with the NUL */
	return q;
}

int
asset_list(struct db *db, struct arena *a, const char *tenant_id,
    const struct asset_filter *f,
    int (*fn)(void *arg, const struct object *o), void *arg)
{
#define A_FILTERS \
	" AND (?2 IS NULL OR o.state = ?2) AND (?3 IS NULL OR o.kind = ?3)" \
	" AND (?4 IS NULL OR o.updated_at > ?4)"
#define A_LIKE \
	" AND (?5 IS NULL OR instr(lower(o.name || ' ' || coalesce(o.labels, '')), lower(?5)) > 0)"
	/* Without an indexed search: walk objects_all newest first. With one:
	 * walk the index's matches newest first (rowid = -creation order),
	 * joined to their objects, and stop after a page. */
	static const char first[] =
	    "SELECT " OBJ_COLS_O ", 0 FROM objects o"
	    " WHERE o.tenant_id = ?1 AND o.deleted_at IS NULL" A_FILTERS A_LIKE
	    " ORDER BY o.created_at DESC, o.id DESC LIMIT ?8";
	static const char next[] =
	    "SELECT " OBJ_COLS_O ", 0 FROM objects o"
	    " WHERE o.tenant_id = ?1 AND o.deleted_at IS NULL" A_FILTERS A_LIKE
	    " AND (o.created_at, o.id) < (?6, ?7)"
	    " ORDER BY o.created_at DESC, o.id DESC LIMIT ?8";
	static const char fts[] =
	    "SELECT " OBJ_COLS_O ", m.n FROM asset_search s"
	    " CROSS JOIN asset_search_ids m ON m.n = -s.rowid"
	    " CROSS JOIN objects o ON o.id = m.object_id"
	    " WHERE asset_search MATCH ?9 AND (?10 = 0 OR s.rowid > -?10)"
	    " AND o.tenant_id = ?1 AND o.deleted_at IS NULL" A_FILTERS
	    " ORDER BY s.rowid LIMIT ?8";
	const char *sql, *query = NULL;
	sqlite3_stmt *st;
	int rc;

	if (f->none)
		return 0;
	if (f->search != NULL && asset_search_indexed(f->search)) {
		sql = fts;
		query = fts_query(a, tenant_id, f->search);
	} else {
		sql = f->has_cursor ? next : first;
	}
	if ((st = db_prep(db, sql)) == NULL)
		return 500;
	sqlite3_bind_text(st, 1, tenant_id, -1, SQLITE_STATIC);
	if (f->state)
		sqlite3_bind_text(st, 2, f->state, -1, SQLITE_STATIC);
	if (f->kind)
		sqlite3_bind_text(st, 3, f->kind, -1, SQLITE_STATIC);
	if (f->modified_after >= 0)
		sqlite3_bind_int64(st, 4, f->modified_after);
	if (query) {
		sqlite3_bind_text(st, 9, query, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 10, f->cursor_seq);
	} else {
		if (f->search)
			sqlite3_bind_text(st, 5, f->search, -1, SQLITE_STATIC);
		if (f->has_cursor) {
			sqlite3_bind_int64(st, 6, f->cursor_created);
			sqlite3_bind_text(st, 7, f->cursor_id, -1, SQLITE_STATIC);
		}
	}
	sqlite3_bind_int64(st, 8, f->limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct object o;
		object_row(a, st, &o);
		o.seq = sqlite3_column_int64(st, OBJ_NCOLS);
		if (fn(arg, &o) != 0)
			break;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		log_err("asset: listing: %s", db_errmsg(db));
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : 500;
#undef A_FILTERS
#undef A_LIKE
}

int
asset_reprocess(struct db *db, const char *tenant_id, const char *id)
{
	struct arena a;
	struct object o;
	int rc;

	arena_init(&a, 2048);
	if (db_begin(db) != 0) {
		arena_free(&a);
		return 500;
	}
	rc = object_load(db, &a, tenant_id, id, 0, &o);
	if (rc == 0 && strcmp(o.state, "completed") != 0)
		rc = 409;
	if (rc == 0)
		rc = media_enqueue(db, tenant_id, id, 0);
	if (rc == 0 && db_commit(db) != 0)
		rc = 500;
	if (rc != 0)
		db_rollback(db);
	arena_free(&a);
	return rc;
}

int
asset_search_merge(struct db *db, int budget_ms)
{
	/* Inserts leave FTS5 segments on several levels; each costs every
	 * search a seek per word (at a million assets, some twenty segments
	 * make a search five times dearer than one). Past a threshold, merge
	 * them all into one, a few pages per step, over as many sweeps as it
	 * takes (a negative 'merge' is an incremental 'optimize'). */
	static const char segs[] = "SELECT count(DISTINCT segid) FROM asset_search_idx";
	static const char merge[] =
	    "INSERT INTO asset_search (asset_search, rank) VALUES ('merge', -64)";
	static int merging;     /* a full merge is under way (jobs worker) */
	uint64_t until = now_mono_us() + (uint64_t)budget_ms * 1000;
	sqlite3_stmt *st;
	int rc, n = 0;

	if (!merging) {
		if ((st = db_prep(db, segs)) == NULL)
			return -1;
		if ((rc = sqlite3_step(st)) == SQLITE_ROW)
			n = sqlite3_column_int(st, 0);
		sqlite3_reset(st);
		if (rc != SQLITE_ROW)
			return -1;
		if (n <= ASSET_SEARCH_SEGMENTS)
			return 1;
		merging = 1;
	}
	do {
		int before = sqlite3_total_changes(db_handle(db));

		if ((st = db_prep(db, merge)) == NULL)
			return -1;
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return -1;
		/* Fewer than two pages written: one segment is left. */
		if (sqlite3_total_changes(db_handle(db)) - before < 2) {
			merging = 0;
			return 1;
		}
	} while (now_mono_us() < until);
	return 0;
}

int
asset_sweep_parts(struct db *db, const struct cb_config *cfg, int limit)
{
	static const char pick[] =
	    "SELECT " OBJ_COLS " FROM objects"
	    " WHERE upload_id IS NOT NULL AND part_count > 0"
	    " AND (state != 'pending' OR deleted_at IS NOT NULL) LIMIT ?1";
	static const char done[] = "UPDATE objects SET upload_id = NULL WHERE id = ?1";
	struct arena a;
	struct object *v;
	sqlite3_stmt *st;
	int n = 0, rc;

	arena_init(&a, 8192);
	v = arena_alloc(&a, (size_t)limit * sizeof *v);
	if ((st = db_prep(db, pick)) == NULL) {
		arena_free(&a);
		return -1;
	}
	sqlite3_bind_int(st, 1, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < limit)
		object_row(&a, st, &v[n++]);
	sqlite3_reset(st);
	for (int i = 0; i < n; i++) {
		if (remove_parts(db, cfg, &v[i]) != 0 || (st = db_prep(db, done)) == NULL) {
			n = -1;
			break;
		}
		sqlite3_bind_text(st, 1, v[i].id, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			n = -1;
			break;
		}
	}
	arena_free(&a);
	return n;
}
