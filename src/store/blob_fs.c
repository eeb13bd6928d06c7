/* blob_fs.c - the filesystem blob backend: data_dir/blobs/<aa>/<bb>/<key>,
 * temp files in data_dir/blobs/tmp/. Never renames an unsynced file into
 * place; never follows a key outside the blobs directory (keys are
 * [0-9a-f-] made by the core). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gcrypt.h>

#include "cubby/blob.h"
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

static int
mkdirs(const char *path)
{
	char tmp[4096];
	size_t n = strlen(path);

	if (n >= sizeof tmp)
		return -1;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0750) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, 0750) != 0 && errno != EEXIST ? -1 : 0;
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
	if (mkdirs(dir) != 0)
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

int
blob_write(struct blob_writer *w, const void *p, size_t n)
{
	const char *c = p;

	gcry_md_write((gcry_md_hd_t)w->sha, p, n);
	while (n > 0) {
		ssize_t k = write(w->fd, c, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		c += k;
		n -= (size_t)k;
		w->size += k;
	}
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
	if (mkdirs(dir) != 0 || rename(w->tmp, w->final) != 0)
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
	blob_path(cfg, key, path, sizeof path);
	return unlink(path) != 0 && errno != ENOENT ? -1 : 0;
}
