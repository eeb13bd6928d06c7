/* upload.c - `cubby upload`: files in, assets out.
 *
 * One libcurl multi handle carries every byte: at most `parallel` PUTs
 * (single uploads and parts together) are in flight across all files.
 * Files are taken in order; a file is activated (its asset created)
 * when a slot is free and no active file has work. Each part PUT gets a
 * fresh part URL per attempt and is retried with back-off on network
 * errors and 5xx; other refusals fail the file, whose upload is then
 * aborted on the server. Ctrl-C aborts every unfinished upload.
 *
 * Hashing: a single PUT's SHA-256 is computed as its bytes are read and
 * compared with the one the server reports at completion. A multipart
 * file is hashed part by part by a thread that reads ahead of the
 * sender, so each part carries x-amz-checksum-sha256 and the server
 * checks it as it stores the part.
 *
 * Never does: read a whole file into memory, or leave an upload it
 * started open on the server when it gives up. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <strings.h>
#include <fcntl.h>
#include <gcrypt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cubby/base64.h"
#include "cubby/crypto.h"
#include "cubby/util.h"
#include "cubby/xmalloc.h"

#define SINGLE_MAX (100LL << 20)     /* the server's single-PUT limit */
#define HASH_AUTO_MAX (500LL << 20)  /* above: no hashing unless asked */
#define MAX_ATTEMPTS 6
#define READ_CHUNK (1 << 20)

enum fstate { F_WAIT, F_ACTIVE, F_DONE, F_FAILED };

struct part {
	int number;
	long long off, len;
	int attempts;
	int inflight;
	int done;
	uint64_t not_before;      /* monotonic us: back-off */
	char etag[80];
	char ck[48];              /* base64 SHA-256, when hashing */
};

struct file {
	char *path;
	const char *name;         /* basename of path */
	int fd;
	long long size;
	enum fstate state;
	int hash;
	char *asset_id;
	char *upload_id;          /* NULL: single PUT */
	char *single_url;
	char *single_ctype;
	int single_started, single_done, single_attempts;
	uint64_t single_not_before;
	char server_sha[65];      /* from the completion answer */
	char sha[65];             /* ours, hex */
	struct part *parts;
	int nparts;
	int inflight;
	long long acked;          /* bytes of finished parts */
	long long moving;         /* bytes handed to curl by running PUTs */
	uint64_t started;
	/* the hashing thread (multipart + hash) */
	pthread_t hasher;
	int hasher_running;
	int hash_ready;           /* parts [0, hash_ready) have ck; -1 error */
	int hash_stop;
	int hash_errno;
};

struct xfer {
	CURL *h;
	struct file *f;
	struct part *p;           /* NULL: single PUT */
	long long pos;            /* bytes read this attempt */
	struct curl_slist *hdrs;
	struct buf body;
	gcry_md_hd_t md;          /* single PUT hash */
	int changed;              /* the file ended early */
	char etag[80];            /* the answer's ETag header */
};

struct engine {
	struct cli *c;
	const struct upload_opts *o;
	struct file *files;
	int nfiles;
	int next_file;
	int active;
	CURLM *multi;
	struct xfer **xfers;
	int nxfers;
	int fatal;                /* stop everything: exit code */
	int failed;               /* files that failed */
	int ex;                   /* exit code of the first failure */
	int drawn;                /* progress lines on screen */
	uint64_t last_draw;
	char *space_id;
	char **done_ids;
	int ndone;
	/* PUTs that finished while an API call was being pumped */
	struct { CURL *h; CURLcode rc; } *later;
	int nlater;
};

static const struct {
	const char *ext, *ctype;
} ctypes[] = {
	{ "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" }, { "png", "image/png" },
	{ "gif", "image/gif" }, { "webp", "image/webp" }, { "avif", "image/avif" },
	{ "heic", "image/heic" }, { "tif", "image/tiff" }, { "tiff", "image/tiff" },
	{ "mp4", "video/mp4" }, { "m4v", "video/mp4" }, { "mov", "video/quicktime" },
	{ "mkv", "video/x-matroska" }, { "webm", "video/webm" }, { "avi", "video/x-msvideo" },
	{ "mp3", "audio/mpeg" }, { "m4a", "audio/mp4" }, { "wav", "audio/wav" },
	{ "flac", "audio/flac" }, { "ogg", "audio/ogg" }, { "pdf", "application/pdf" },
	{ "txt", "text/plain" }, { "json", "application/json" }, { "zip", "application/zip" },
};

static const char *
guess_ctype(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (dot != NULL)
		for (size_t i = 0; i < sizeof ctypes / sizeof ctypes[0]; i++)
			if (strcasecmp(dot + 1, ctypes[i].ext) == 0)
				return ctypes[i].ctype;
	return "application/octet-stream";
}

static const char *
type_of(const char *ctype)
{
	if (strncmp(ctype, "image/", 6) == 0)
		return "image";
	if (strncmp(ctype, "video/", 6) == 0)
		return "video";
	if (strncmp(ctype, "audio/", 6) == 0)
		return "audio";
	return "file";
}

/* ---- the file list ----------------------------------------------------- */

static void
add_file(struct engine *e, const char *path)
{
	struct file *f;
	const char *slash;

	e->files = xrealloc(e->files, (size_t)(e->nfiles + 1) * sizeof *e->files);
	f = &e->files[e->nfiles++];
	memset(f, 0, sizeof *f);
	f->path = xstrdup(path);
	slash = strrchr(f->path, '/');
	f->name = slash ? slash + 1 : f->path;
	f->fd = -1;
}

static int
namecmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file under dir, in name order; hidden entries skipped. */
static int
walk(struct engine *e, const char *dir, int depth)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;
	int rc = 0;

	if (depth > 64) {
		cli_err("%s: directories nested too deep", dir);
		return -1;
	}
	if ((d = opendir(dir)) == NULL) {
		cli_err("%s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		names = xrealloc(names, (n + 1) * sizeof *names);
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof *names, namecmp);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(dir) + strlen(names[i]) + 2;
		char *p = xmalloc(len);
		struct stat st;

		snprintf(p, len, "%s%s%s", dir,
		    dir[strlen(dir) - 1] == '/' ? "" : "/", names[i]);
		if (rc == 0 && stat(p, &st) == 0) {
			if (S_ISDIR(st.st_mode))
				rc = walk(e, p, depth + 1);
			else if (S_ISREG(st.st_mode))
				add_file(e, p);
		}
		free(p);
		free(names[i]);
	}
	free(names);
	return rc;
}

/* ---- output ------------------------------------------------------------ */

static int
term_width(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
		return ws.ws_col;
	return 80;
}

static void
clear_bars(struct engine *e)
{
	if (e->drawn == 0)
		return;
	fputc('\r', stderr);
	for (int i = 0; i < e->drawn; i++)
		fputs("\033[1A\033[2K", stderr);
	e->drawn = 0;
	fflush(stderr);
}

static void
fmt_eta(char *out, size_t n, double secs)
{
	if (secs < 0 || secs > 359999)
		snprintf(out, n, "--:--");
	else if (secs >= 3600)
		snprintf(out, n, "%d:%02d:%02d", (int)secs / 3600,
		    ((int)secs / 60) % 60, (int)secs % 60);
	else
		snprintf(out, n, "%02d:%02d", (int)secs / 60, (int)secs % 60);
}

static void
draw(struct engine *e, int force)
{
	uint64_t now = now_mono_us();
	int width;

	if (!e->c->tty || e->c->json)
		return;
	if (!force && now - e->last_draw < 100000)
		return;
	e->last_draw = now;
	clear_bars(e);
	width = term_width();
	for (int i = 0; i < e->nfiles; i++) {
		struct file *f = &e->files[i];
		long long done = f->acked + f->moving;
		double secs = (double)(now - f->started) / 1e6;
		double rate = secs > 0.05 ? (double)done / secs : 0;
		double frac = f->size > 0 ? (double)done / (double)f->size : 1;
		char bar[64], sz[24], tot[24], rt[24], eta[16], rest[128];
		int barw, namew, k;

		if (f->state != F_ACTIVE)
			continue;
		if (frac > 1)
			frac = 1;
		fmt_bytes(sz, sizeof sz, (double)done);
		fmt_bytes(tot, sizeof tot, (double)f->size);
		fmt_bytes(rt, sizeof rt, rate);
		fmt_eta(eta, sizeof eta, rate > 0 ? (double)(f->size - done) / rate : -1);
		snprintf(rest, sizeof rest, "%3d%%  %s / %s  %s/s  ETA %s", (int)(frac * 100),
		    sz, tot, rt, eta);
		namew = (int)strlen(f->name);
		if (namew > width / 3)
			namew = width / 3;
		barw = width - 1 - namew - 4 - (int)strlen(rest);
		if (barw > 40)
			barw = 40;
		if (barw < 5)
			barw = 5;
		for (k = 0; k < barw; k++)
			bar[k] = k < (int)(frac * barw) ? '#' : '-';
		bar[barw] = '\0';
		fprintf(stderr, "%-*.*s [%s] %s\n", namew, namew, f->name, bar, rest);
		e->drawn++;
	}
	fflush(stderr);
}

static void
report_done(struct engine *e, struct file *f)
{
	double secs = (double)(now_mono_us() - f->started) / 1e6;
	char sz[24], rt[24];

	if (e->c->json) {
		json_object *j = json_object_new_object();

		json_object_object_add(j, "path", json_object_new_string(f->path));
		json_object_object_add(j, "id", json_object_new_string(f->asset_id));
		json_object_object_add(j, "filename", json_object_new_string(f->name));
		json_object_object_add(j, "size_bytes", json_object_new_int64(f->size));
		json_object_object_add(j, "multipart", json_object_new_boolean(f->upload_id != NULL));
		json_object_object_add(j, "parts", json_object_new_int(f->upload_id ? f->nparts : 1));
		json_object_object_add(j, "sha256", f->sha[0] ? json_object_new_string(f->sha) : NULL);
		{
			char t[32];

			snprintf(t, sizeof t, "%.3f", secs);
			json_object_object_add(j, "seconds", json_object_new_double_s(secs, t));
		}
		printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(j);
		fflush(stdout);
		return;
	}
	if (!e->c->tty)
		return;
	clear_bars(e);
	fmt_bytes(sz, sizeof sz, (double)f->size);
	fmt_bytes(rt, sizeof rt, secs > 0 ? (double)f->size / secs : 0);
	printf("%s  %s  %s  %.1f s, %s/s%s%s\n", f->asset_id, f->name, sz, secs, rt,
	    f->sha[0] ? "  sha256 " : "", f->sha);
	fflush(stdout);
}

static void
report_failed(struct engine *e, struct file *f, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
report_failed(struct engine *e, struct file *f, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	clear_bars(e);
	if (e->c->json) {
		json_object *j = json_object_new_object(), *er = json_object_new_object();

		json_object_object_add(j, "path", json_object_new_string(f->path));
		json_object_object_add(j, "id", f->asset_id ? json_object_new_string(f->asset_id) : NULL);
		json_object_object_add(er, "code", json_object_new_string(code));
		json_object_object_add(er, "message", json_object_new_string(msg));
		json_object_object_add(j, "error", er);
		printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(j);
		fflush(stdout);
	}
	cli_err("%s: %s", f->path, msg);
}

/* ---- hashing thread ---------------------------------------------------- */

static void *
hash_parts(void *arg)
{
	struct file *f = arg;
	gcry_md_hd_t whole, part;
	unsigned char *buf = xmalloc(READ_CHUNK);
	int err = 0;

	if (gcry_md_open(&whole, GCRY_MD_SHA256, 0) != 0 ||
	    gcry_md_open(&part, GCRY_MD_SHA256, 0) != 0)
		abort();
	for (int i = 0; i < f->nparts && !err; i++) {
		struct part *p = &f->parts[i];
		long long at = 0;

		gcry_md_reset(part);
		while (at < p->len) {
			size_t want = p->len - at < READ_CHUNK ? (size_t)(p->len - at) : READ_CHUNK;
			ssize_t got;

			if (__atomic_load_n(&f->hash_stop, __ATOMIC_ACQUIRE)) {
				err = ECANCELED;
				break;
			}
			got = pread(f->fd, buf, want, p->off + at);
			if (got <= 0) {
				err = got < 0 ? errno : ESTALE;
				break;
			}
			gcry_md_write(part, buf, (size_t)got);
			gcry_md_write(whole, buf, (size_t)got);
			at += got;
		}
		if (err)
			break;
		base64_encode(p->ck, gcry_md_read(part, GCRY_MD_SHA256), 32);
		__atomic_store_n(&f->hash_ready, i + 1, __ATOMIC_RELEASE);
	}
	if (!err)
		hex_encode(f->sha, gcry_md_read(whole, GCRY_MD_SHA256), 32);
	gcry_md_close(part);
	gcry_md_close(whole);
	free(buf);
	if (err) {
		f->hash_errno = err;
		__atomic_store_n(&f->hash_ready, -1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void
stop_hasher(struct file *f)
{
	if (!f->hasher_running)
		return;
	__atomic_store_n(&f->hash_stop, 1, __ATOMIC_RELEASE);
	pthread_join(f->hasher, NULL);
	f->hasher_running = 0;
}

/* ---- transfers --------------------------------------------------------- */

static size_t
read_part(char *out, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	long long start = x->p ? x->p->off : 0;
	long long len = x->p ? x->p->len : x->f->size;
	size_t want = size * n;
	ssize_t got;

	if (cli_interrupted)
		return CURL_READFUNC_ABORT;
	if ((long long)want > len - x->pos)
		want = (size_t)(len - x->pos);
	if (want == 0)
		return 0;
	got = pread(x->f->fd, out, want, start + x->pos);
	if (got <= 0) {
		x->changed = 1;   /* shrunk or unreadable: not worth a retry */
		return CURL_READFUNC_ABORT;
	}
	if (x->md != NULL)
		gcry_md_write(x->md, out, (size_t)got);
	x->pos += got;
	x->f->moving += got;
	return (size_t)got;
}

static size_t
collect_small(char *p, size_t size, size_t n, void *arg)
{
	return buf_append(arg, p, size * n) == 0 ? size * n : 0;
}

/* Keep the ETag header: an S3-compatible store answers a part with it
 * and an empty body. */
static size_t
header_line(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;

	if (len > 5 && strncasecmp(p, "etag:", 5) == 0) {
		size_t i = 5, j = len;

		while (i < j && (p[i] == ' ' || p[i] == '\t'))
			i++;
		while (j > i && (p[j - 1] == '\r' || p[j - 1] == '\n' || p[j - 1] == ' '))
			j--;
		if (j - i < sizeof x->etag)
			snprintf(x->etag, sizeof x->etag, "%.*s", (int)(j - i), p + i);
	}
	return len;
}

static void
xfer_free(struct engine *e, struct xfer *x)
{
	for (int i = 0; i < e->nlater; i++)
		if (e->later[i].h == x->h) {
			memmove(e->later + i, e->later + i + 1,
			    (size_t)(--e->nlater - i) * sizeof *e->later);
			break;
		}
	curl_multi_remove_handle(e->multi, x->h);
	curl_easy_cleanup(x->h);
	curl_slist_free_all(x->hdrs);
	buf_free(&x->body);
	if (x->md != NULL)
		gcry_md_close(x->md);
	x->f->moving -= x->pos;
	x->f->inflight--;
	if (x->p != NULL)
		x->p->inflight = 0;
	for (int i = 0; i < e->nxfers; i++)
		if (e->xfers[i] == x) {
			e->xfers[i] = e->xfers[--e->nxfers];
			break;
		}
	free(x);
}

static void
xfer_start(struct engine *e, struct file *f, struct part *p, const char *url)
{
	struct xfer *x = xcalloc(1, sizeof *x);
	char hdr[160];

	x->f = f;
	x->p = p;
	buf_init(&x->body, 65536);
	x->h = curl_easy_init();
	if (x->h == NULL)
		abort();
	cli_curl_defaults(x->h);
	curl_easy_setopt(x->h, CURLOPT_URL, url);
	curl_easy_setopt(x->h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(x->h, CURLOPT_INFILESIZE_LARGE,
	    (curl_off_t)(p ? p->len : f->size));
	curl_easy_setopt(x->h, CURLOPT_READFUNCTION, read_part);
	curl_easy_setopt(x->h, CURLOPT_READDATA, x);
	curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, collect_small);
	curl_easy_setopt(x->h, CURLOPT_WRITEDATA, &x->body);
	curl_easy_setopt(x->h, CURLOPT_HEADERFUNCTION, header_line);
	curl_easy_setopt(x->h, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(x->h, CURLOPT_UPLOAD_BUFFERSIZE, 2L << 20);
	curl_easy_setopt(x->h, CURLOPT_PRIVATE, x);
	x->hdrs = curl_slist_append(x->hdrs, "Expect:");
	if (p == NULL) {
		snprintf(hdr, sizeof hdr, "Content-Type: %s", f->single_ctype);
		x->hdrs = curl_slist_append(x->hdrs, hdr);
		if (f->hash && gcry_md_open(&x->md, GCRY_MD_SHA256, 0) != 0)
			abort();
	} else {
		x->hdrs = curl_slist_append(x->hdrs, "Content-Type: application/octet-stream");
		/* Cubby's own part URLs check it; a bucket's presigned URL
		 * (blob_backend = s3) would refuse an x-amz- header it did
		 * not sign, so there the hash is only compared locally. */
		if (f->hash && strstr(url, "X-Amz-Signature=") == NULL) {
			snprintf(hdr, sizeof hdr, "x-amz-checksum-sha256: %s", p->ck);
			x->hdrs = curl_slist_append(x->hdrs, hdr);
		}
		p->inflight = 1;
		p->attempts++;
	}
	curl_easy_setopt(x->h, CURLOPT_HTTPHEADER, x->hdrs);
	f->inflight++;
	e->xfers = xrealloc(e->xfers, (size_t)(e->nxfers + 1) * sizeof *e->xfers);
	e->xfers[e->nxfers++] = x;
	curl_multi_add_handle(e->multi, x->h);
}

/* Back-off before attempt n+1: 0.5 s, 1 s, 2 s, ... with jitter. */
static uint64_t
backoff_until(int attempts)
{
	uint64_t base = 500000ULL << (attempts > 6 ? 6 : attempts - 1);
	unsigned char r;

	crypto_random(&r, 1);
	return now_mono_us() + base + base * r / 512;
}

/* ---- the API side of a file ------------------------------------------- */

static void
fail_file(struct engine *e, struct file *f)
{
	struct resp r;
	char path[128];

	for (int i = e->nxfers - 1; i >= 0; i--)
		if (e->xfers[i]->f == f)
			xfer_free(e, e->xfers[i]);
	stop_hasher(f);
	if (f->state == F_ACTIVE)
		e->active--;
	f->state = F_FAILED;
	e->failed++;
	if (f->asset_id == NULL)
		return;
	/* Give the server back what it holds for us: the multipart upload's
	 * parts, or the single upload's reservation. */
	if (f->upload_id != NULL) {
		json_object *b = json_object_new_object();

		json_object_object_add(b, "upload_id", json_object_new_string(f->upload_id));
		snprintf(path, sizeof path, "/v1/assets/%s/abort", f->asset_id);
		if (api_call(e->c, "POST", path, b, &r) == EX_OK)
			resp_free(&r);
		json_object_put(b);
	} else if (!f->single_done) {
		snprintf(path, sizeof path, "/v1/assets/%s", f->asset_id);
		if (api_call(e->c, "DELETE", path, NULL, &r) == EX_OK)
			resp_free(&r);
	}
}

/* An API failure: auth problems stop everything, others fail the file. */
static void
api_failed(struct engine *e, struct file *f, int ex)
{
	if (ex == EX_AUTH || ex == EX_INTERRUPTED)
		e->fatal = ex;
	if (e->ex == EX_OK)
		e->ex = ex;
	report_failed(e, f, e->c->err_code, "not uploaded");
	fail_file(e, f);
}

static int
activate(struct engine *e, struct file *f)
{
	struct stat st;
	json_object *b, *tags, *d, *up;
	struct resp r;
	const char *ctype, *kind;
	int ex, multipart;

	f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0 || fstat(f->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		report_failed(e, f, "unreadable", "%s", f->fd < 0 ? strerror(errno) :
		    "not a regular file");
		f->state = F_FAILED;
		e->failed++;
		return -1;
	}
	f->size = st.st_size;
	f->hash = e->o->hash < 0 ? f->size <= HASH_AUTO_MAX : e->o->hash;
	ctype = guess_ctype(f->name);
	multipart = e->o->multipart || f->size > SINGLE_MAX;
	b = json_object_new_object();
	json_object_object_add(b, "filename", json_object_new_string(f->name));
	json_object_object_add(b, "size_bytes", json_object_new_int64(f->size));
	json_object_object_add(b, "type", json_object_new_string(type_of(ctype)));
	json_object_object_add(b, "content_type", json_object_new_string(ctype));
	json_object_object_add(b, "multipart", json_object_new_boolean(multipart));
	if (multipart && e->o->part_size > 0)
		json_object_object_add(b, "part_size", json_object_new_int64(e->o->part_size));
	if (e->o->tags != NULL && *e->o->tags) {
		const char *s = e->o->tags;

		tags = json_object_new_array();
		while (*s) {
			size_t n = strcspn(s, ",");

			if (n > 0)
				json_object_array_add(tags, json_object_new_string_len(s, (int)n));
			s += n + (s[n] == ',');
		}
		json_object_object_add(b, "tags", tags);
	}
	ex = api_call(e->c, "POST", "/v1/assets", b, &r);
	json_object_put(b);
	f->started = now_mono_us();
	f->state = F_ACTIVE;
	e->active++;
	if (ex != EX_OK) {
		api_failed(e, f, ex);
		return -1;
	}
	d = resp_data(&r);
	up = d && json_object_object_get_ex(d, "upload", &up) ? up : NULL;
	json_object_object_get_ex(d, "asset", &d);
	kind = jstr(up, "kind");
	if (jstr(d, "id") == NULL || kind == NULL) {
		resp_free(&r);
		snprintf(e->c->err_code, sizeof e->c->err_code, "bad_answer");
		cli_err("the server's answer to POST /v1/assets has no asset or upload");
		api_failed(e, f, EX_SERVER);
		return -1;
	}
	f->asset_id = xstrdup(jstr(d, "id"));
	if (strcmp(kind, "multipart") == 0) {
		long long ps = jint(up, "part_size"), pc = jint(up, "part_count");

		/* The API's bounds (5 GiB parts, 10,000 of them) first, so the
		 * products below cannot overflow. */
		if (jstr(up, "upload_id") == NULL || ps <= 0 || ps > (5LL << 30) ||
		    pc <= 0 || pc > 10000 ||
		    (pc - 1) * ps >= f->size + (f->size == 0) || pc * ps < f->size) {
			resp_free(&r);
			snprintf(e->c->err_code, sizeof e->c->err_code, "bad_answer");
			cli_err("the server's multipart descriptor does not fit the file");
			api_failed(e, f, EX_SERVER);
			return -1;
		}
		f->upload_id = xstrdup(jstr(up, "upload_id"));
		f->nparts = (int)pc;
		f->parts = xcalloc((size_t)pc, sizeof *f->parts);
		for (int i = 0; i < f->nparts; i++) {
			f->parts[i].number = i + 1;
			f->parts[i].off = (long long)i * ps;
			f->parts[i].len = i + 1 < f->nparts ? ps : f->size - (long long)i * ps;
		}
		if (f->hash) {
			if (pthread_create(&f->hasher, NULL, hash_parts, f) != 0) {
				cli_err("cannot start a hashing thread: uploading %s unhashed", f->name);
				f->hash = 0;
			} else {
				f->hasher_running = 1;
			}
		}
	} else {
		json_object *h, *ct;

		f->single_url = jstr(up, "url") ? xstrdup(jstr(up, "url")) : NULL;
		ct = json_object_object_get_ex(up, "headers", &h) &&
		    json_object_object_get_ex(h, "Content-Type", &ct) ? ct : NULL;
		f->single_ctype = xstrdup(ct ? json_object_get_string(ct) : ctype);
		if (f->single_url == NULL) {
			resp_free(&r);
			snprintf(e->c->err_code, sizeof e->c->err_code, "bad_answer");
			cli_err("the server's upload descriptor has no URL");
			api_failed(e, f, EX_SERVER);
			return -1;
		}
	}
	resp_free(&r);
	return 0;
}

/* A fresh URL for one attempt at part p. */
static int
presign(struct engine *e, struct file *f, struct part *p, char **url)
{
	json_object *b = json_object_new_object();
	struct resp r;
	char path[128];
	int ex;

	json_object_object_add(b, "upload_id", json_object_new_string(f->upload_id));
	json_object_object_add(b, "part_number", json_object_new_int(p->number));
	snprintf(path, sizeof path, "/v1/assets/%s/parts", f->asset_id);
	ex = api_call(e->c, "POST", path, b, &r);
	json_object_put(b);
	if (ex != EX_OK)
		return ex;
	return resp_take_string(&r, "url", "POST /parts", url);
}

static int
complete(struct engine *e, struct file *f)
{
	json_object *b = json_object_new_object(), *d;
	struct resp r;
	char path[128];
	int ex = EX_OK;

	if (f->upload_id != NULL) {
		json_object *parts = json_object_new_array();

		json_object_object_add(b, "upload_id", json_object_new_string(f->upload_id));
		for (int i = 0; i < f->nparts; i++) {
			json_object *p = json_object_new_object();

			json_object_object_add(p, "part_number", json_object_new_int(i + 1));
			json_object_object_add(p, "etag", json_object_new_string(f->parts[i].etag));
			json_object_array_add(parts, p);
		}
		json_object_object_add(b, "parts", parts);
	}
	snprintf(path, sizeof path, "/v1/assets/%s/complete", f->asset_id);
	/* A second complete is a no-op, so network errors and 5xx are
	 * retried. */
	for (int attempt = 1; attempt <= 3; attempt++) {
		ex = api_call(e->c, "POST", path, f->upload_id ? b : NULL, &r);
		if (ex != EX_NETWORK && ex != EX_SERVER)
			break;
		if (attempt < 3)
			usleep(500000U << attempt);
	}
	json_object_put(b);
	if (ex != EX_OK)
		return ex;
	d = resp_data(&r);
	if (json_object_object_get_ex(d, "asset", &b))
		d = b;
	if (jstr(d, "sha256") != NULL)
		snprintf(f->server_sha, sizeof f->server_sha, "%s", jstr(d, "sha256"));
	resp_free(&r);
	return EX_OK;
}

static void
finish_file(struct engine *e, struct file *f)
{
	int ex;

	stop_hasher(f);
	if (f->hash && f->upload_id != NULL && f->hash_ready != f->nparts) {
		report_failed(e, f, "unreadable", "hashing failed: %s", strerror(f->hash_errno));
		fail_file(e, f);
		return;
	}
	if ((ex = complete(e, f)) != EX_OK) {
		if (ex == EX_AUTH)
			e->fatal = ex;
		report_failed(e, f, e->c->err_code, "the upload could not be completed");
		fail_file(e, f);
		return;
	}
	if (f->upload_id == NULL && f->hash && f->server_sha[0] &&
	    strcmp(f->server_sha, f->sha) != 0) {
		report_failed(e, f, "checksum_mismatch", "the server stored other bytes "
		    "(sha256 %s, ours %s): the asset is deleted", f->server_sha, f->sha);
		f->single_done = 0;     /* so fail_file deletes the asset */
		fail_file(e, f);
		return;
	}
	f->state = F_DONE;
	e->active--;
	close(f->fd);
	f->fd = -1;
	report_done(e, f);
	e->done_ids = xrealloc(e->done_ids, (size_t)(e->ndone + 1) * sizeof *e->done_ids);
	e->done_ids[e->ndone++] = f->asset_id;
}

/* One finished PUT. */
static void
xfer_done(struct engine *e, struct xfer *x, CURLcode rc)
{
	struct file *f = x->f;
	struct part *p = x->p;
	long status = 0;
	int retry = 0;
	struct resp r = { 0 };

	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK) {
		if (x->changed) {
			report_failed(e, f, "file_changed", "the file changed or became "
			    "unreadable while it was sent");
			xfer_free(e, x);
			fail_file(e, f);
			return;
		}
		if (cli_interrupted) {
			xfer_free(e, x);
			return;
		}
		retry = 1;
	} else if (status >= 500 || status == 408 || status == 429) {
		retry = 1;
	} else if (status == 403 && p != NULL && strstr(x->body.data ? x->body.data : "",
	    "upload_expired") != NULL) {
		retry = 1;   /* the URL lapsed while queued: a fresh one follows */
	}
	if (retry) {
		int attempts = p ? p->attempts : ++f->single_attempts;

		if (attempts >= MAX_ATTEMPTS) {
			if (e->ex == EX_OK)
				e->ex = rc != CURLE_OK ? EX_NETWORK : EX_SERVER;
			report_failed(e, f, rc != CURLE_OK ? "network_error" : "server_error",
			    "part %d failed %d times, the last with %s", p ? p->number : 1,
			    attempts, rc != CURLE_OK ? curl_easy_strerror(rc) : "a 5xx answer");
			xfer_free(e, x);
			fail_file(e, f);
			return;
		}
		if (p != NULL)
			p->not_before = backoff_until(attempts);
		else {
			f->single_not_before = backoff_until(attempts);
			f->single_started = 0;
		}
		xfer_free(e, x);
		return;
	}
	if (status < 200 || status > 299) {
		int ex;

		/* A refusal: the server's words, then the file is given up. */
		r.status = status;
		r.body = x->body;
		r.json = json_tokener_parse(buf_cstr(&x->body));
		if (status == 409 && p == NULL && r.json != NULL &&
		    strstr(buf_cstr(&x->body), "upload_already_completed") != NULL) {
			/* An earlier attempt landed after all. */
			json_object_put(r.json);
			goto single_ok;
		}
		clear_bars(e);
		cli_err("%s:", f->path);
		ex = resp_fail(e->c, &r);
		if (r.json != NULL)
			json_object_put(r.json);
		if (ex == EX_AUTH)
			ex = EX_FAIL;   /* a signed URL's 403 is not the key's */
		if (e->ex == EX_OK)
			e->ex = ex;
		report_failed(e, f, e->c->err_code, "the %s was refused (HTTP %ld)",
		    p ? "part" : "upload", status);
		xfer_free(e, x);
		fail_file(e, f);
		return;
	}
	if (p != NULL) {
		json_object *j = json_tokener_parse(buf_cstr(&x->body)), *d = NULL;
		const char *etag = NULL;

		if (j != NULL && json_object_object_get_ex(j, "data", &d))
			etag = jstr(d, "etag");
		if (etag == NULL && x->etag[0])
			etag = x->etag;
		if (etag == NULL || strlen(etag) >= sizeof p->etag) {
			if (j != NULL)
				json_object_put(j);
			report_failed(e, f, "bad_answer", "part %d: the answer has no ETag", p->number);
			xfer_free(e, x);
			fail_file(e, f);
			return;
		}
		snprintf(p->etag, sizeof p->etag, "%s", etag);
		json_object_put(j);
		p->done = 1;
		f->acked += p->len;
		xfer_free(e, x);
		return;
	}
single_ok:
	if (x->md != NULL)
		hex_encode(f->sha, gcry_md_read(x->md, GCRY_MD_SHA256), 32);
	f->single_done = 1;
	f->acked = f->size;
	xfer_free(e, x);
}

/* Start the next piece of work if there is one. Returns 1 if it did. */
static int
start_one(struct engine *e)
{
	uint64_t now = now_mono_us();

	for (int i = 0; i < e->nfiles; i++) {
		struct file *f = &e->files[i];

		if (f->state != F_ACTIVE)
			continue;
		if (f->upload_id == NULL) {
			if (f->single_done) {
				if (f->inflight == 0)
					finish_file(e, f);
				return e->fatal ? 0 : 1;
			}
			if (f->single_started || now < f->single_not_before)
				continue;
			f->single_started = 1;
			xfer_start(e, f, NULL, f->single_url);
			return 1;
		}
		{
			int ready = f->hash ? __atomic_load_n(&f->hash_ready, __ATOMIC_ACQUIRE) : f->nparts;
			int all = 1;

			if (ready < 0) {
				report_failed(e, f, "unreadable", "reading failed: %s",
				    strerror(f->hash_errno));
				fail_file(e, f);
				return 1;
			}
			for (int k = 0; k < f->nparts; k++) {
				struct part *p = &f->parts[k];
				char *url = NULL;
				int ex;

				if (p->done)
					continue;
				all = 0;
				if (p->inflight || k >= ready || now < p->not_before)
					continue;
				if ((ex = presign(e, f, p, &url)) != EX_OK) {
					if ((ex == EX_NETWORK || ex == EX_SERVER) &&
					    p->attempts + 1 < MAX_ATTEMPTS) {
						p->attempts++;
						p->not_before = backoff_until(p->attempts);
						return 1;
					}
					api_failed(e, f, ex);
					return 1;
				}
				xfer_start(e, f, p, url);
				free(url);
				return 1;
			}
			if (all && f->inflight == 0) {
				finish_file(e, f);
				return 1;
			}
		}
	}
	if (e->active < e->o->parallel && e->next_file < e->nfiles && !e->fatal) {
		activate(e, &e->files[e->next_file++]);
		draw(e, 1);
		return 1;
	}
	return 0;
}

/* An API call, run in the multi handle with every PUT: finished PUTs
 * are kept for the main loop, so nothing here re-enters it. */
static CURLcode
pump(void *arg, CURL *h)
{
	struct engine *e = arg;
	CURLcode rc = CURLE_OK;
	int running, done = 0;

	if (curl_multi_add_handle(e->multi, h) != CURLM_OK)
		return CURLE_FAILED_INIT;
	while (!done) {
		curl_multi_perform(e->multi, &running);
		for (;;) {
			int left;
			CURLMsg *m = curl_multi_info_read(e->multi, &left);

			if (m == NULL)
				break;
			if (m->msg != CURLMSG_DONE)
				continue;
			if (m->easy_handle == h) {
				rc = m->data.result;
				done = 1;
				continue;
			}
			e->later = xrealloc(e->later, (size_t)(e->nlater + 1) * sizeof *e->later);
			e->later[e->nlater].h = m->easy_handle;
			e->later[e->nlater++].rc = m->data.result;
		}
		if (!done)
			curl_multi_poll(e->multi, NULL, 0, 100, NULL);
		draw(e, 0);
	}
	curl_multi_remove_handle(e->multi, h);
	return rc;
}

static void
finished(struct engine *e, CURL *h, CURLcode rc)
{
	struct xfer *x;

	curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&x);
	xfer_done(e, x, rc);
}

static int
resolve_space_early(struct engine *e)
{
	if (e->o->space == NULL)
		return EX_OK;
	return space_resolve(e->c, e->o->space, &e->space_id);
}

int
cmd_upload(struct cli *c, const struct upload_opts *o)
{
	struct engine e;
	int ex = EX_OK, running;

	memset(&e, 0, sizeof e);
	e.c = c;
	e.o = o;
	for (int i = 0; i < o->npaths; i++)
		add_file(&e, o->paths[i]);
	if (o->dir != NULL && walk(&e, o->dir, 0) != 0) {
		ex = EX_USAGE;
		goto out;
	}
	if (e.nfiles == 0) {
		cli_err("nothing to upload");
		ex = EX_USAGE;
		goto out;
	}
	if ((ex = resolve_space_early(&e)) != EX_OK)
		goto out;
	if ((e.multi = curl_multi_init()) == NULL) {
		ex = EX_NETWORK;
		goto out;
	}
	c->perform = pump;
	c->perform_arg = &e;
	for (;;) {
		if (cli_interrupted)
			break;
		while (!e.fatal && e.nxfers < o->parallel && start_one(&e))
			if (cli_interrupted)
				break;
		if (e.fatal || cli_interrupted)
			break;
		if (e.nxfers == 0 && e.active == 0 && e.next_file >= e.nfiles)
			break;
		/* PUTs that ended during an API call first, in order. */
		while (e.nlater > 0) {
			CURL *h = e.later[0].h;
			CURLcode rc = e.later[0].rc;

			memmove(e.later, e.later + 1, (size_t)--e.nlater * sizeof *e.later);
			finished(&e, h, rc);
		}
		if (e.nxfers == 0 && e.active == 0 && e.next_file >= e.nfiles)
			continue;
		/* Nothing on the wire: waiting for a back-off or the hashing
		 * thread, so look again soon. */
		curl_multi_poll(e.multi, NULL, 0, e.nxfers ? 100 : 10, NULL);
		curl_multi_perform(e.multi, &running);
		for (;;) {
			int left;
			CURLMsg *m = curl_multi_info_read(e.multi, &left);

			if (m == NULL)
				break;
			if (m->msg == CURLMSG_DONE)
				finished(&e, m->easy_handle, m->data.result);
		}
		draw(&e, 0);
	}
	clear_bars(&e);
	/* Handles that ended during the last API calls are freed unread. */
	for (int i = 0; i < e.nlater; i++) {
		struct xfer *x;

		curl_easy_getinfo(e.later[i].h, CURLINFO_PRIVATE, (char **)&x);
		xfer_free(&e, x);
	}
	e.nlater = 0;
	if (cli_interrupted || e.fatal) {
		int n = 0;

		for (int i = 0; i < e.nfiles; i++)
			if (e.files[i].state == F_ACTIVE) {
				fail_file(&e, &e.files[i]);
				n++;
			}
		if (cli_interrupted) {
			cli_err("interrupted: %d unfinished upload%s aborted on the server",
			    n, n == 1 ? "" : "s");
			ex = EX_INTERRUPTED;
		} else {
			ex = e.fatal;
		}
	}
	if (ex == EX_OK && e.space_id != NULL && e.ndone > 0)
		ex = space_publish(c, e.space_id, e.done_ids, e.ndone);
	if (ex == EX_OK && e.failed > 0)
		ex = e.ex != EX_OK ? e.ex : EX_FAIL;
	if (ex == EX_FAIL && e.failed > 0 && e.nfiles > 1)
		cli_err("%d of %d files not uploaded", e.failed, e.nfiles);
out:
	for (int i = 0; i < e.nfiles; i++) {
		struct file *f = &e.files[i];

		stop_hasher(f);
		if (f->fd >= 0)
			close(f->fd);
		free(f->path);
		free(f->asset_id);
		free(f->upload_id);
		free(f->single_url);
		free(f->single_ctype);
		free(f->parts);
	}
	free(e.files);
	free(e.xfers);
	free(e.done_ids);
	free(e.space_id);
	free(e.later);
	c->perform = NULL;
	if (e.multi != NULL)
		curl_multi_cleanup(e.multi);
	return ex;
}
