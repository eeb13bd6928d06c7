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

#endif
