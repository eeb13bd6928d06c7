/* blob.h - where object bytes live. The fs backend keeps them under
 * data_dir/blobs/: written to a temp file while SHA-256 is computed,
 * fsynced, then renamed into place, so nothing is ever visible half-written.
 * Blob keys are made by the core, never taken from a client. */
#ifndef CUBBY_BLOB_H
#define CUBBY_BLOB_H

#include <stddef.h>
#include <stdint.h>

struct cb_config;

struct blob_writer {
	int fd;
	char tmp[4096];
	char final[4096];
	void *sha;              /* libgcrypt hash handle */
	int64_t size;
};

/* Start writing the blob named key. 0, or -1 with errno. */
int blob_create(const struct cb_config *cfg, const char *key,
    struct blob_writer *w);
/* Append n bytes. 0, or -1 with errno (ENOSPC...). */
int blob_write(struct blob_writer *w, const void *p, size_t n);
/* fsync, rename into place, fsync the directory; the SHA-256 into sha.
 * 0, or -1 with errno (the temp file is removed either way). */
int blob_commit(struct blob_writer *w, unsigned char sha[32]);
/* Throw away an unfinished blob. */
void blob_abort(struct blob_writer *w);
/* Open a blob for reading: fd and size. 0, or -1 with errno. */
int blob_open(const struct cb_config *cfg, const char *key, int *fd,
    int64_t *size);
/* The file a blob lives in (for X-Sendfile), into out. */
void blob_path(const struct cb_config *cfg, const char *key, char *out,
    size_t len);
/* Remove a blob; a missing one is not an error. 0 or -1. */
int blob_remove(const struct cb_config *cfg, const char *key);

/* Multipart uploads: one file per upload, blobs/uploads/<key>, each part
 * written at its offset (parts but the last are all part_size bytes), so
 * completing is a rename, not a copy. A part writer holds a shared lock on
 * the file and an exclusive lock on its part's byte range (two attempts at
 * one part take turns), completion an exclusive lock on the file; either
 * refuses a file that was renamed away meanwhile (errno ESTALE). */
struct blob_part {
	int fd;
	int64_t off, size;
	int64_t synced;         /* bytes whose writeback has been started */
	void *sha;
};

/* Open (create) the upload file and start writing a part of len bytes
 * at off (waits for another attempt at the same part to finish); hash:
 * compute its SHA-256 on the way. */
int blob_part_begin(const struct cb_config *cfg, const char *key, int64_t off,
    int64_t len, int hash, struct blob_part *p);
int blob_part_write(struct blob_part *p, const void *buf, size_t n);
/* fdatasync the part; its SHA-256 into sha when it was hashed (sha may be
 * NULL). The lock is kept until close. */
int blob_part_end(struct blob_part *p, unsigned char sha[32]);
void blob_part_close(struct blob_part *p);
/* Lock the upload file exclusively (no part in flight): its size into
 * *size, the lock in *fd. 0, or -1 with errno (ENOENT: no part ever
 * arrived, or it was completed meanwhile). */
int blob_upload_seal(const struct cb_config *cfg, const char *key,
    int64_t *size, int *fd);
/* SHA-256 of a whole blob (processing). 0 or -1 with errno. */
int blob_hash(const struct cb_config *cfg, const char *key, unsigned char sha[32]);
/* Move a sealed upload file into place as the blob final_key, durably. */
int blob_upload_commit(const struct cb_config *cfg, const char *key,
    const char *final_key);
/* Release the lock blob_upload_seal took. */
void blob_upload_unlock(int fd);
/* Remove an upload file; a missing one is not an error. */
int blob_upload_remove(const struct cb_config *cfg, const char *key);

/* The s3 backend (blob_backend = s3): blobs are objects in one bucket,
 * named s3_prefix + key. Presigned URLs let clients put and get them
 * directly; Cubby only signs. */
struct s3_target;
struct s3_result;

/* 1 when blobs live in S3. */
int blob_on_s3(const struct cb_config *cfg);
/* The server's bucket (pointing into cfg). */
void blob_s3_target(const struct cb_config *cfg, struct s3_target *t);
/* The bucket's name for a blob key, into out. 0, or -1 (too long). */
int blob_s3_key(const struct cb_config *cfg, const char *key, char *out, size_t len);

#endif
