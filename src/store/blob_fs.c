/* blob_fs.c - the filesystem blob backend: data_dir/blobs/<aa>/<bb>/<key>,
 * temp files in data_dir/blobs/tmp/. Never renames an unsynced file into
 * place; never follows a key outside the blobs directory (keys are
 * [0-9a-f-] made by the core). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gcrypt.h>

#include "cubby/blob.h"
#include "cubby/log.h"
#include "cubby/s3.h"
#include "cubby/config.h"
#include "cubby/crypto.h"
#include "cubby/util.h"

static int
key_ok(const char *key)
{
	size_t n = strlen(key);

	if (n < 4 || n > 128)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((key[i] >= '0' && key[i] <= '9') || (key[i] >= 'a' && key[i] <= 'f') ||
		    key[i] == '-'))
			return 0;
	return 1;
}

void
blob_path(const struct cb_config *cfg, const char *key, char *out, size_t len)
{
	snprintf(out, len, "%s/blobs/%.2s/%.2s/%s", cfg->data_dir, key, key + 2, key);
}

int
blob_create(const struct cb_config *cfg, const char *key, struct blob_writer *w)
{
	char dir[4096], rnd[17];
	unsigned char r[8];
	gcry_md_hd_t h;

	memset(w, 0, sizeof *w);
	w->fd = -1;
	if (!key_ok(key)) {
		errno = EINVAL;
		return -1;
	}
	blob_path(cfg, key, w->final, sizeof w->final);
	if ((size_t)snprintf(dir, sizeof dir, "%s/blobs/tmp", cfg->data_dir) >= sizeof dir - 200) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (mkdir_p(dir, 0750) != 0)
		return -1;
	crypto_random(r, sizeof r);
	hex_encode(rnd, r, sizeof r);
	if ((size_t)snprintf(w->tmp, sizeof w->tmp, "%s/%s.%s", dir, key, rnd) >= sizeof w->tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (gcry_md_open(&h, GCRY_MD_SHA256, 0) != 0) {
		errno = ENOMEM;
		return -1;
	}
	w->sha = h;
	w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (w->fd < 0) {
		int e = errno;
		gcry_md_close(h);
		w->sha = NULL;
		errno = e;
		return -1;
	}
	return 0;
}

/* All n bytes, at offset at (pwrite), or at the file offset when at < 0;
 * 0 or -1. *done grows by every byte written, a failed call's too (a
 * part's caller must know its range was touched). */
static int
write_all(int fd, const void *buf, size_t n, off_t at, int64_t *done)
{
	const char *c = buf;

	while (n > 0) {
		ssize_t k = at < 0 ? write(fd, c, n) : pwrite(fd, c, n, at);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		c += k;
		n -= (size_t)k;
		*done += k;
		if (at >= 0)
			at += k;
	}
	return 0;
}

int
blob_write(struct blob_writer *w, const void *p, size_t n)
{
	gcry_md_write((gcry_md_hd_t)w->sha, p, n);
	if (write_all(w->fd, p, n, -1, &w->size) != 0)
		return -1;
	return 0;
}

void
blob_abort(struct blob_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	if (w->tmp[0])
		unlink(w->tmp);
	w->tmp[0] = '\0';
	if (w->sha)
		gcry_md_close((gcry_md_hd_t)w->sha);
	w->sha = NULL;
}

int
blob_commit(struct blob_writer *w, unsigned char sha[32])
{
	char dir[4096];
	char *slash;
	int dfd, e;

	memcpy(sha, gcry_md_read((gcry_md_hd_t)w->sha, GCRY_MD_SHA256), 32);
	if (fsync(w->fd) != 0 || close(w->fd) != 0) {
		w->fd = -1;
		goto fail;
	}
	w->fd = -1;
	strlcpy_cb(dir, w->final, sizeof dir);
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	if (mkdir_p(dir, 0750) != 0 || rename(w->tmp, w->final) != 0)
		goto fail;
	w->tmp[0] = '\0';
	/* The rename is durable only once the directory is synced. */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	gcry_md_close((gcry_md_hd_t)w->sha);
	w->sha = NULL;
	return 0;
fail:
	e = errno;
	blob_abort(w);
	errno = e;
	return -1;
}

int
blob_open(const struct cb_config *cfg, const char *key, int *fd, int64_t *size)
{
	char path[4096];
	struct stat st;

	if (!key_ok(key)) {
		errno = EINVAL;
		return -1;
	}
	blob_path(cfg, key, path, sizeof path);
	if ((*fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if (fstat(*fd, &st) != 0) {
		int e = errno;
		close(*fd);
		errno = e;
		return -1;
	}
	*size = st.st_size;
	return 0;
}

int
blob_remove(const struct cb_config *cfg, const char *key)
{
	char path[4096];

	if (!key_ok(key))
		return -1;
	if (blob_on_s3(cfg)) {
		struct s3_target t;
		struct s3_result res;

		blob_s3_target(cfg, &t);
		if (blob_s3_key(cfg, key, path, sizeof path) != 0)
			return -1;
		if (s3_delete(&t, path, &res) != 0 && res.status != 404) {
			log_warn("blob: delete %s in S3: %s", key, res.message);
			return -1;
		}
		return 0;
	}
	blob_path(cfg, key, path, sizeof path);
	return unlink(path) != 0 && errno != ENOENT ? -1 : 0;
}

/* ---- multipart upload files ------------------------------------------ */

static int
upload_path(const struct cb_config *cfg, const char *key, char *out, size_t len)
{
	if (!key_ok(key)) {
		errno = EINVAL;
		return -1;
	}
	if ((size_t)snprintf(out, len, "%s/blobs/uploads/%s", cfg->data_dir, key) >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Lock fd (how), then check it is still the file at path. */
static int
lock_same(int fd, const char *path, int how)
{
	struct stat a, b;

	while (flock(fd, how) != 0)
		if (errno != EINTR)
			return -1;
	if (fstat(fd, &a) != 0)
		return -1;
	if (stat(path, &b) != 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
		errno = ESTALE;
		return -1;
	}
	return 0;
}

int
blob_part_begin(const struct cb_config *cfg, const char *key, int64_t off,
    int64_t len, int hash, struct blob_part *p)
{
	char path[4096], dir[4096];
	struct flock fl;
	gcry_md_hd_t h;
	int e;

	memset(p, 0, sizeof *p);
	p->fd = -1;
	p->off = off;
	if (upload_path(cfg, key, path, sizeof path) != 0)
		return -1;
	snprintf(dir, sizeof dir, "%s/blobs/uploads", cfg->data_dir);
	if (mkdir_p(dir, 0750) != 0)
		return -1;
	if ((p->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640)) < 0)
		return -1;
	/* Open-file-description lock on the part's bytes: per descriptor,
	 * so it holds between processes and between requests of one. */
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = off;
	fl.l_len = len > 0 ? len : 1;
	errno = 0;
	if (lock_same(p->fd, path, LOCK_SH) != 0)
		goto fail;
	while (fcntl(p->fd, F_OFD_SETLKW, &fl) != 0)
		if (errno != EINTR)
			goto fail;
	if (hash) {
		if (gcry_md_open(&h, GCRY_MD_SHA256, 0) != 0) {
			errno = ENOMEM;
			goto fail;
		}
		p->sha = h;
	}
	return 0;
fail:
	e = errno ? errno : EIO;
	close(p->fd);
	p->fd = -1;
	errno = e;
	return -1;
}

int
blob_part_write(struct blob_part *p, const void *buf, size_t n)
{
	if (p->sha)
		gcry_md_write((gcry_md_hd_t)p->sha, buf, n);
	if (write_all(p->fd, buf, n, p->off + p->size, &p->size) != 0)
		return -1;
#ifdef SYNC_FILE_RANGE_WRITE
	/* Start writing back what has arrived, every 8 MiB, so that the
	 * fdatasync at the end of the part waits for little: the disk works
	 * while the network does. */
	if (p->size - p->synced >= 8 * 1024 * 1024) {
		(void)sync_file_range(p->fd, p->off + p->synced, p->size - p->synced,
		    SYNC_FILE_RANGE_WRITE);
		p->synced = p->size;
	}
#endif
	return 0;
}

int
blob_part_end(struct blob_part *p, unsigned char sha[32])
{
	if (p->sha && sha)
		memcpy(sha, gcry_md_read((gcry_md_hd_t)p->sha, GCRY_MD_SHA256), 32);
	return fdatasync(p->fd);
}

void
blob_part_close(struct blob_part *p)
{
	if (p->sha)
		gcry_md_close((gcry_md_hd_t)p->sha);
	p->sha = NULL;
	if (p->fd >= 0)
		close(p->fd);   /* releases the lock */
	p->fd = -1;
}

int
blob_upload_seal(const struct cb_config *cfg, const char *key, int64_t *size,
    int *fdp)
{
	char path[4096];
	struct stat st;
	int fd, e;

	*fdp = -1;
	if (upload_path(cfg, key, path, sizeof path) != 0)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if (lock_same(fd, path, LOCK_EX) != 0 || fstat(fd, &st) != 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	*size = st.st_size;
	*fdp = fd;
	return 0;
}

int
blob_hash(const struct cb_config *cfg, const char *key, unsigned char sha[32])
{
	size_t bufsz = 1024 * 1024;
	gcry_md_hd_t h;
	int64_t size;
	char *buf;
	ssize_t n;
	int fd, e = 0;

	if (blob_open(cfg, key, &fd, &size) != 0)
		return -1;
	if ((buf = malloc(bufsz)) == NULL || gcry_md_open(&h, GCRY_MD_SHA256, 0) != 0) {
		free(buf);
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	while ((n = read(fd, buf, bufsz)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			break;
		}
		gcry_md_write(h, buf, (size_t)n);
	}
	if (e == 0)
		memcpy(sha, gcry_md_read(h, GCRY_MD_SHA256), 32);
	gcry_md_close(h);
	free(buf);
	close(fd);
	errno = e;
	return e ? -1 : 0;
}

int
blob_upload_commit(const struct cb_config *cfg, const char *key,
    const char *final_key)
{
	char from[4096], to[4096], dir[4096], *slash;
	int dfd, fd;

	if (upload_path(cfg, key, from, sizeof from) != 0 || !key_ok(final_key)) {
		errno = EINVAL;
		return -1;
	}
	blob_path(cfg, final_key, to, sizeof to);
	strlcpy_cb(dir, to, sizeof dir);
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	/* The parts were synced as they arrived; the size is metadata. */
	if ((fd = open(from, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if (fsync(fd) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	if (mkdir_p(dir, 0750) != 0 || rename(from, to) != 0)
		return -1;
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

void
blob_upload_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

int
blob_upload_remove(const struct cb_config *cfg, const char *key)
{
	char path[4096];

	if (upload_path(cfg, key, path, sizeof path) != 0)
		return -1;
	return unlink(path) != 0 && errno != ENOENT ? -1 : 0;
}
