/* cubby-media - the media processor: reads an image, video or audio file
 * and writes a thumbnail and a preview, and what it learnt (dimensions,
 * duration, codec, capture time) as one line of JSON.
 *
 *   cubby-media [options] KIND INPUT THUMB PREVIEW     one file
 *   cubby-media [options] --serve                      one per stdin line:
 *                                                      KIND\tINPUT\tTHUMB\tPREVIEW
 *
 * The jobs worker runs a few of these with --serve, writes requests and
 * reads the answers; it kills one that takes too long and starts another
 * when one dies. Only this program links libvips: whatever a hostile file
 * does to a decoder happens here, under a memory limit, not in the pool.
 * Images are decoded with libvips (only the JPEG, PNG, WebP, GIF, TIFF and
 * HEIF/AVIF loaders are allowed); video and audio are read by the ffprobe
 * and ffmpeg programs, run with a time and memory limit. INPUT is a file,
 * or an http(s) URL (a presigned GET of a bucket) that is fetched first.
 *
 * The answer: {"ok":true,"kind":...,"width":...,"height":...,
 * "duration_ms":...,"codec":...,"format":...,"captured_at":...,
 * "thumb":"image/webp","preview":"image/jpeg"} (thumb and preview: the
 * types written, absent when none was), or {"ok":false,"error":"why"}
 * when the file is bad, with "skipped":true when it could not be tried
 * (no libvips, no ffmpeg). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "cubby/util.h"

/* (The tests build this file a second time as if configured
 * --without-vips.) */
#ifdef CUBBY_NO_VIPS
#undef HAVE_VIPS
#endif
#ifdef HAVE_VIPS
#include <vips/vips.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#define LINE_MAX_BYTES  16384
#define PROBE_MAX       (1024 * 1024)   /* ffprobe's JSON */
#define ERRTAIL         400             /* bytes of a program's stderr kept */

static struct {
	int thumb, preview;             /* longest edge, px; preview 0: none */
	long long max_pixels;
	long long max_bytes;            /* a fetched input */
	long long memory;               /* RLIMIT_AS, bytes; 0: none */
	int timeout;                    /* seconds per file */
	const char *ffmpeg, *ffprobe;   /* "": no video */
	const char *tmp;
} opt = { 320, 1600, 100000000LL, 1LL << 30, 2LL << 30, 120, "ffmpeg", "ffprobe", "/tmp" };

/* When the file in hand must be done (now_mono_us): every program it
 * runs and every fetch gets what is left. */
static uint64_t file_deadline;

struct result {
	struct json_object *j;
	char err[512];
	int skipped;
};

static void
fail(struct result *r, const char *fmt, ...)
{
	va_list ap;

	if (r->err[0])
		return;     /* the first reason is the one */
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof r->err, fmt, ap);
	va_end(ap);
}

static void
put_int(struct result *r, const char *k, long long v)
{
	json_object_object_add(r->j, k, json_object_new_int64(v));
}

static void
put_str(struct result *r, const char *k, const char *v)
{
	json_object_object_add(r->j, k, json_object_new_string(v));
}

/* "2024:05:06 07:08:09..." (EXIF) or "2024-05-06T07:08:09..." (ISO, as
 * ffprobe's creation_time) as "2024-05-06T07:08:09" into out. 0 or -1. */
static int
capture_time(const char *s, char out[20])
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";

	for (int i = 0; i < 19; i++) {
		char c = s[i];
		if (shape[i] == 'd') {
			if (c < '0' || c > '9')
				return -1;
			out[i] = c;
		} else if (shape[i] == '-') {
			if (c != ':' && c != '-')
				return -1;
			out[i] = '-';
		} else if (shape[i] == 'T') {
			if (c != ' ' && c != 'T')
				return -1;
			out[i] = 'T';
		} else {
			if (c != ':')
				return -1;
			out[i] = ':';
		}
	}
	out[19] = '\0';
	/* Cameras without a clock write zeros. */
	return strncmp(out, "0000", 4) == 0 ? -1 : 0;
}

/* ---- programs ----------------------------------------------------------- */

/* Run argv with stdin from /dev/null under the time and memory limits;
 * its stdout into out (capped at cap; NULL: discarded), the end of its
 * stderr into errtail. The exit status (0 ok), or -1 with why in r. */
static int
run(char *const argv[], char *out, size_t cap, size_t *outlen,
    char errtail[ERRTAIL + 1], struct result *r)
{
	int po[2], pe[2], status = 0;
	size_t on = 0, en = 0;
	uint64_t deadline = file_deadline;
	pid_t pid;

	errtail[0] = '\0';
	if (pipe(po) != 0)
		return fail(r, "pipe: %s", strerror(errno)), -1;
	if (pipe(pe) != 0) {
		close(po[0]);
		close(po[1]);
		return fail(r, "pipe: %s", strerror(errno)), -1;
	}
	if ((pid = fork()) < 0) {
		fail(r, "fork: %s", strerror(errno));
		close(po[0]); close(po[1]); close(pe[0]); close(pe[1]);
		return -1;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);
#ifdef __linux__
		prctl(PR_SET_PDEATHSIG, SIGKILL);   /* it goes when we do */
#endif
		if (nul >= 0)
			dup2(nul, 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		if (opt.memory > 0) {
			struct rlimit rl = { (rlim_t)opt.memory, (rlim_t)opt.memory };
			setrlimit(RLIMIT_AS, &rl);
		}
		{
			struct rlimit rl = { (rlim_t)opt.timeout + 1, (rlim_t)opt.timeout + 2 };
			setrlimit(RLIMIT_CPU, &rl);
		}
		execvp(argv[0], argv);
		dprintf(2, "cannot run %s: %s", argv[0], strerror(errno));
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	for (int open_fds = 2; open_fds > 0; ) {
		struct pollfd p[2] = { { po[0], POLLIN, 0 }, { pe[0], POLLIN, 0 } };
		uint64_t now = now_mono_us();
		char buf[8192];
		int n;

		if (now >= deadline) {
			kill(pid, SIGKILL);
			fail(r, "%s: the file took longer than %d s", argv[0], opt.timeout);
			break;
		}
		n = poll(p, 2, (int)((deadline - now) / 1000) + 1);
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2 && n > 0; i++) {
			ssize_t got;
			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			got = read(p[i].fd, buf, sizeof buf);
			if (got <= 0) {
				close(p[i].fd);
				if (i == 0)
					po[0] = -1;
				else
					pe[0] = -1;
				open_fds--;
				continue;
			}
			if (i == 0 && out != NULL) {
				size_t take = (size_t)got;
				if (on + take > cap) {
					kill(pid, SIGKILL);
					fail(r, "%s wrote more than %zu bytes", argv[0], cap);
					take = cap - on;
				}
				memcpy(out + on, buf, take);
				on += take;
			} else if (i == 1) {
				/* Keep the last ERRTAIL bytes. */
				size_t g = (size_t)got;
				if (g >= ERRTAIL) {
					memcpy(errtail, buf + g - ERRTAIL, ERRTAIL);
					en = ERRTAIL;
				} else {
					if (en + g > ERRTAIL) {
						size_t drop = en + g - ERRTAIL;
						memmove(errtail, errtail + drop, en - drop);
						en -= drop;
					}
					memcpy(errtail + en, buf, g);
					en += g;
				}
			}
		}
	}
	if (po[0] >= 0)
		close(po[0]);
	if (pe[0] >= 0)
		close(pe[0]);
	errtail[en] = '\0';
	/* Cut mid-word (it said more than ERRTAIL): from the next word. */
	if (en == ERRTAIL) {
		size_t k = strcspn(errtail, " \n");
		memmove(errtail, errtail + k, en - k + 1);
		en -= k;
	}
	/* The last line of what it said, without control bytes. */
	while (en > 0 && (errtail[en - 1] == '\n' || errtail[en - 1] == '\r' ||
	    errtail[en - 1] == ' '))
		errtail[--en] = '\0';
	{
		char *nl = strrchr(errtail, '\n');
		if (nl != NULL) {
			size_t k = (size_t)(nl + 1 - errtail);
			memmove(errtail, nl + 1, en - k + 1);
			en -= k;
		}
	}
	for (size_t i = 0; i < en; i++)
		if ((unsigned char)errtail[i] < 0x20)
			errtail[i] = ' ';
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (outlen)
		*outlen = on;
	if (r->err[0])
		return -1;
	if (WIFSIGNALED(status)) {
		fail(r, "%s was killed by signal %d", argv[0], WTERMSIG(status));
		return -1;
	}
	return WEXITSTATUS(status);
}

static int
have_program(const char *name)
{
	const char *path = getenv("PATH");
	char file[PATH_MAX];

	if (name == NULL || *name == '\0')
		return 0;
	if (strchr(name, '/') != NULL)
		return access(name, X_OK) == 0;
	while (path != NULL && *path) {
		size_t n = strcspn(path, ":");
		if (n > 0 && n + strlen(name) + 2 < sizeof file) {
			memcpy(file, path, n);
			file[n] = '/';
			memcpy(file + n + 1, name, strlen(name) + 1);
			if (access(file, X_OK) == 0)
				return 1;
		}
		path += n;
		if (*path == ':')
			path++;
	}
	return 0;
}

/* ---- images --------------------------------------------------------------- */

#ifdef HAVE_VIPS
static void
vips_fail(struct result *r, const char *what)
{
	char first[300];
	const char *e = vips_error_buffer();
	size_t n = strcspn(e, "\n");

	if (n >= sizeof first)
		n = sizeof first - 1;
	memcpy(first, e, n);
	first[n] = '\0';
	fail(r, "%s: %s", what, *first ? first : "unknown error");
	vips_error_clear();
}

/* Thumbnail and preview of an image file (a poster frame too). meta: read
 * and report the header (dimensions, format, EXIF capture time). */


/* Drop the metadata chunks (EXIF, XMP, ICC profile) from a WebP file that
 * libvips wrote, and their flags from its VP8X header: libvips 8.14 writes
 * a fresh EXIF block into a WebP even with "strip". 0 or -1. */
static int
webp_strip(const char *path)
{
	FILE *f = fopen(path, "r+b");
	unsigned char *b = NULL;
	size_t n, out = 12;
	long len;
	int rc = -1;

	if (f == NULL)
		return -1;
	if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 12 || len > (64L << 20) ||
	    fseek(f, 0, SEEK_SET) != 0)
		goto done;
	n = (size_t)len;
	b = g_malloc(n);
	if (fread(b, 1, n, f) != n || memcmp(b, "RIFF", 4) != 0 || memcmp(b + 8, "WEBP", 4) != 0)
		goto done;
	for (size_t i = 12; i + 8 <= n; ) {
		size_t sz = (size_t)b[i + 4] | (size_t)b[i + 5] << 8 | (size_t)b[i + 6] << 16 |
		    (size_t)b[i + 7] << 24;
		size_t whole = 8 + sz + (sz & 1);
		if (whole > n - i)
			goto done;
		if (memcmp(b + i, "VP8X", 4) == 0 && sz >= 1)
			b[i + 8] &= (unsigned char)~(0x20 | 0x08 | 0x04);  /* ICC, EXIF, XMP */
		if (memcmp(b + i, "EXIF", 4) != 0 && memcmp(b + i, "XMP ", 4) != 0 &&
		    memcmp(b + i, "ICCP", 4) != 0) {
			memmove(b + out, b + i, whole);
			out += whole;
		}
		i += whole;
	}
	b[4] = (unsigned char)(out - 8);
	b[5] = (unsigned char)((out - 8) >> 8);
	b[6] = (unsigned char)((out - 8) >> 16);
	b[7] = (unsigned char)((out - 8) >> 24);
	if (fseek(f, 0, SEEK_SET) != 0 || fwrite(b, 1, out, f) != out || fflush(f) != 0 ||
	    ftruncate(fileno(f), (off_t)out) != 0)
		goto done;
	rc = 0;
done:
	g_free(b);
	fclose(f);
	return rc;
}

/* Replace *img with a copy that has no metadata field left (EXIF, XMP,
 * IPTC, ICC profile, comments): only pixels and their geometry. 0 or -1. */
static int
bare(VipsImage **img)
{
	VipsImage *out;
	gchar **fields;

	if (vips_copy(*img, &out, NULL) != 0)
		return -1;
	fields = vips_image_get_fields(out);
	for (gchar **f = fields; f && *f; f++)
		if (strncmp(*f, "exif-", 5) == 0 || strcmp(*f, "xmp-data") == 0 ||
		    strcmp(*f, "iptc-data") == 0 || strcmp(*f, "ipct-data") == 0 ||
		    strcmp(*f, "icc-profile-data") == 0 || strcmp(*f, "orientation") == 0 ||
		    strncmp(*f, "png-comment-", 12) == 0 || strcmp(*f, "gif-comment") == 0 ||
		    strcmp(*f, "jpeg-comment") == 0 || strcmp(*f, "heif-primary") == 0)
			vips_image_remove(out, *f);
	g_strfreev(fields);
	g_object_unref(*img);
	*img = out;
	return 0;
}

static void
image(const char *in, const char *thumb, const char *preview, int meta,
    struct result *r)
{
	VipsImage *hdr = NULL, *pv = NULL, *pvm = NULL, *tn = NULL;
	const char *loader = vips_foreign_find_load(in);
	int alpha = 0;

	if (loader == NULL) {
		vips_fail(r, "not a readable image");
		return;
	}
	hdr = vips_image_new_from_file(in, "access", VIPS_ACCESS_SEQUENTIAL,
	    "fail_on", VIPS_FAIL_ON_ERROR, NULL);
	if (hdr == NULL) {
		vips_fail(r, "not a readable image");
		return;
	}
	{
		long long w = vips_image_get_width(hdr), h = vips_image_get_height(hdr);
		const char *s;
		char when[20];

		if (meta) {
			if (vips_image_get_orientation_swap(hdr)) {
				long long t = w;
				w = h;
				h = t;
			}
			put_int(r, "width", w);
			put_int(r, "height", h);
			if (strncmp(loader, "VipsForeignLoad", 15) == 0) {
				char fmt[32];
				size_t i = 0;
				for (const char *p = loader + 15; *p && i < sizeof fmt - 1; p++) {
					if (i > 0 && (strcmp(p, "File") == 0 || strcmp(p, "Source") == 0))
						break;
					fmt[i++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
				}
				fmt[i] = '\0';
				put_str(r, "format", strcmp(fmt, "nsgif") == 0 ? "gif" : fmt);
			}
			if ((vips_image_get_typeof(hdr, "exif-ifd2-DateTimeOriginal") &&
			    vips_image_get_string(hdr, "exif-ifd2-DateTimeOriginal", &s) == 0 &&
			    capture_time(s, when) == 0) ||
			    (vips_image_get_typeof(hdr, "exif-ifd0-DateTime") &&
			    vips_image_get_string(hdr, "exif-ifd0-DateTime", &s) == 0 &&
			    capture_time(s, when) == 0))
				put_str(r, "captured_at", when);
		}
		/* A decompression bomb says how big it is before it is. */
		if (w * h > opt.max_pixels) {
			fail(r, "the image is %lldx%lld, more than the %lld pixels allowed",
			    w, h, opt.max_pixels);
			goto out;
		}
		alpha = vips_image_hasalpha(hdr);
	}
	/* Derived images carry no metadata of the original (GPS position,
	 * camera, names): they are shown on public share pages. "strip" on
	 * save is not enough (libvips 8.14's webpsave kept EXIF): every
	 * metadata field goes from the image itself before it is saved. */
	/* The preview with shrink-on-load, upright; the thumbnail from it
	 * in memory (the file is decoded once). No preview: the thumbnail
	 * straight from the file. */
	if (opt.preview == 0) {
		if (vips_thumbnail(in, &tn, opt.thumb, "height", opt.thumb, "size", VIPS_SIZE_DOWN,
		    "fail_on", VIPS_FAIL_ON_ERROR, NULL) != 0) {
			vips_fail(r, "could not decode the image");
			goto out;
		}
		if (bare(&tn) != 0 || vips_webpsave(tn, thumb, "Q", 75, "strip", TRUE, NULL) != 0 ||
		    webp_strip(thumb) != 0) {
			vips_fail(r, "could not write the thumbnail");
			goto out;
		}
		put_str(r, "thumb", "image/webp");
		goto out;
	}
	if (vips_thumbnail(in, &pv, opt.preview, "height", opt.preview,
	    "size", VIPS_SIZE_DOWN, "fail_on", VIPS_FAIL_ON_ERROR, NULL) != 0) {
		vips_fail(r, "could not decode the image");
		goto out;
	}
	if ((pvm = vips_image_copy_memory(pv)) == NULL || bare(&pvm) != 0) {
		vips_fail(r, "could not decode the image");
		goto out;
	}
	if (alpha ? vips_webpsave(pvm, preview, "Q", 80, "strip", TRUE, NULL) != 0 ||
	    webp_strip(preview) != 0 :
	    vips_jpegsave(pvm, preview, "Q", 82, "strip", TRUE, "optimize_coding", TRUE, NULL) != 0) {
		vips_fail(r, "could not write the preview");
		goto out;
	}
	if (vips_thumbnail_image(pvm, &tn, opt.thumb, "height", opt.thumb,
	    "size", VIPS_SIZE_DOWN, "no_rotate", TRUE, NULL) != 0 || bare(&tn) != 0 ||
	    vips_webpsave(tn, thumb, "Q", 75, "strip", TRUE, NULL) != 0 || webp_strip(thumb) != 0) {
		vips_fail(r, "could not write the thumbnail");
		goto out;
	}
	put_str(r, "thumb", "image/webp");
	put_str(r, "preview", alpha ? "image/webp" : "image/jpeg");
out:
	if (tn)
		g_object_unref(tn);
	if (pvm)
		g_object_unref(pvm);
	if (pv)
		g_object_unref(pv);
	g_object_unref(hdr);
}

static void
media_init(const char *argv0)
{
	static const char *const allowed[] = {
		"VipsForeignLoadJpeg", "VipsForeignLoadPng", "VipsForeignLoadWebp",
		"VipsForeignLoadNsgif", "VipsForeignLoadTiff", "VipsForeignLoadHeif",
	};

	/* A damaged file's complaints are in the answer, not on stderr. */
	setenv("VIPS_WARNING", "0", 1);
	if (VIPS_INIT(argv0) != 0) {
		fprintf(stderr, "cubby-media: libvips did not start: %s\n", vips_error_buffer());
		exit(1);
	}
	/* No operation cache: the same temporary name holds another file
	 * next time. Only the loaders of the formats Cubby takes. */
	vips_cache_set_max(0);
	vips_block_untrusted_set(TRUE);
	vips_operation_block_set("VipsForeignLoad", TRUE);
	for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
		vips_operation_block_set(allowed[i], FALSE);
}
#else
static void
image(const char *in, const char *thumb, const char *preview, int meta,
    struct result *r)
{
	(void)in; (void)thumb; (void)preview; (void)meta;
	r->skipped = 1;
	fail(r, "no thumbnails: this Cubby was built without libvips");
}

static void
media_init(const char *argv0)
{
	(void)argv0;
}
#endif

/* ---- video and audio -------------------------------------------------- */

static double
num_of(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v))
		return 0;
	if (json_object_is_type(v, json_type_string)) {
		char *end;
		double d = strtod(json_object_get_string(v), &end);
		return end == json_object_get_string(v) ? 0 : d;
	}
	return json_object_get_double(v);
}

/* The rotation a stream asks for (degrees), from its tags or side data. */
static int
rotation(struct json_object *s)
{
	struct json_object *t, *sd;
	const char *v;

	long long deg;

	if (json_object_object_get_ex(s, "tags", &t) && (v = json_str(t, "rotate")) != NULL &&
	    parse_ll(v, -360, 360, &deg) == 0)
		return (int)deg;
	if (json_object_object_get_ex(s, "side_data_list", &sd) &&
	    json_object_is_type(sd, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(sd); i++) {
			struct json_object *e = json_object_array_get_idx(sd, i), *rv;
			if (json_object_object_get_ex(e, "rotation", &rv))
				return json_object_get_int(rv);
		}
	}
	return 0;
}

/* What ffmpeg may open while reading in: the file itself, or the
 * presigned URL's scheme; never another file or URL a container names. */
static const char *
protocols(const char *in)
{
	if (strncmp(in, "https://", 8) == 0)
		return "https,tls,tcp";
	if (strncmp(in, "http://", 7) == 0)
		return "http,tcp";
	return "file";
}

static void
video(const char *in, const char *thumb, const char *preview, struct result *r)
{
	char *probe = NULL, tail[ERRTAIL + 1], frame[PATH_MAX], when[20];
	struct json_object *root = NULL, *streams, *format = NULL, *vs = NULL, *as = NULL;
	size_t n = 0;
	double duration;
	int st;

	if (!have_program(opt.ffprobe)) {
		r->skipped = 1;
		fail(r, "not read: %s is not installed", *opt.ffprobe ? opt.ffprobe : "ffprobe");
		return;
	}
	{
		char *argv[] = { (char *)opt.ffprobe, (char *)"-v", (char *)"error",
		    (char *)"-protocol_whitelist", (char *)protocols(in),
		    (char *)"-print_format", (char *)"json", (char *)"-show_format",
		    (char *)"-show_streams", (char *)"-i", (char *)in, NULL };
		probe = malloc(PROBE_MAX + 1);
		if (probe == NULL)
			return fail(r, "out of memory");
		st = run(argv, probe, PROBE_MAX, &n, tail, r);
		if (st != 0) {
			fail(r, "not a readable video: %s", *tail ? tail : "ffprobe failed");
			goto out;
		}
		probe[n] = '\0';
	}
	if ((root = json_tokener_parse(probe)) == NULL) {
		fail(r, "not a readable video: ffprobe's answer is not JSON");
		goto out;
	}
	json_object_object_get_ex(root, "format", &format);
	if (json_object_object_get_ex(root, "streams", &streams) &&
	    json_object_is_type(streams, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(streams); i++) {
			struct json_object *s = json_object_array_get_idx(streams, i), *d, *ap;
			const char *type = json_str(s, "codec_type");
			/* Cover art in an audio file is a video stream too. */
			int pic = json_object_object_get_ex(s, "disposition", &d) &&
			    json_object_object_get_ex(d, "attached_pic", &ap) &&
			    json_object_get_int(ap) == 1;
			if (type && strcmp(type, "video") == 0 && !pic && vs == NULL)
				vs = s;
			else if (type && strcmp(type, "audio") == 0 && as == NULL)
				as = s;
		}
	}
	if (vs == NULL && as == NULL) {
		fail(r, "not a readable video: no video or audio stream");
		goto out;
	}
	duration = format ? num_of(format, "duration") : 0;
	if (duration <= 0 && vs)
		duration = num_of(vs, "duration");
	if (duration > 0)
		put_int(r, "duration_ms", (long long)(duration * 1000 + 0.5));
	if (format && json_str(format, "format_name"))
		put_str(r, "format", json_str(format, "format_name"));
	{
		struct json_object *t;
		const char *c;
		if (format && json_object_object_get_ex(format, "tags", &t) &&
		    (c = json_str(t, "creation_time")) != NULL && capture_time(c, when) == 0)
			put_str(r, "captured_at", when);
	}
	if (vs == NULL) {
		put_str(r, "kind", "audio");
		if (json_str(as, "codec_name"))
			put_str(r, "codec", json_str(as, "codec_name"));
		goto out;
	}
	put_str(r, "kind", "video");
	{
		long long w = (long long)num_of(vs, "width"), h = (long long)num_of(vs, "height");
		int rot = rotation(vs);
		if (rot % 180 != 0) {
			long long t = w;
			w = h;
			h = t;
		}
		if (w > 0 && h > 0) {
			put_int(r, "width", w);
			put_int(r, "height", h);
		}
		if (w * h > opt.max_pixels) {
			fail(r, "the video is %lldx%lld, more than the %lld pixels allowed",
			    w, h, opt.max_pixels);
			goto out;
		}
	}
	if (json_str(vs, "codec_name"))
		put_str(r, "codec", json_str(vs, "codec_name"));
#ifndef HAVE_VIPS
	image(NULL, NULL, NULL, 0, r);     /* says why: no poster is scaled */
	goto out;
#endif
	if (!have_program(opt.ffmpeg)) {
		r->skipped = 1;
		fail(r, "no poster frame: %s is not installed", *opt.ffmpeg ? opt.ffmpeg : "ffmpeg");
		goto out;
	}
	/* The poster: a frame a second in (the first, for short clips),
	 * upright, to a PNG the image path then scales. */
	snprintf(frame, sizeof frame, "%s/cubby-media-%ld-poster.png", opt.tmp, (long)getpid());
	{
		char *argv[] = { (char *)opt.ffmpeg, (char *)"-nostdin", (char *)"-v", (char *)"error",
		    (char *)"-y", (char *)"-protocol_whitelist", (char *)protocols(in),
		    (char *)"-ss", (char *)(duration > 2 ? "1" : "0"), (char *)"-i",
		    (char *)in, (char *)"-frames:v", (char *)"1", (char *)"-an", (char *)"-sn",
		    (char *)"-f", (char *)"image2", (char *)"-c:v", (char *)"png",
		    (char *)"-compression_level", (char *)"1", frame, NULL };
		struct stat sb;
		st = run(argv, NULL, 0, NULL, tail, r);
		if (st != 0 || stat(frame, &sb) != 0 || sb.st_size == 0) {
			fail(r, "no poster frame: %s", *tail ? tail : "ffmpeg failed");
			unlink(frame);
			goto out;
		}
	}
	image(frame, thumb, preview, 0, r);
	unlink(frame);
out:
	if (root)
		json_object_put(root);
	free(probe);
}

/* ---- inputs ------------------------------------------------------------- */

struct fetch {
	int fd;
	long long n;
	int over;
};

static size_t
fetch_write(char *p, size_t size, size_t nm, void *arg)
{
	struct fetch *f = arg;
	size_t len = size * nm;

	if (f->n + (long long)len > opt.max_bytes) {
		f->over = 1;
		return 0;
	}
	if (write(f->fd, p, len) != (ssize_t)len)
		return 0;
	f->n += (long long)len;
	return len;
}

/* A URL's body into a temporary file (name into path). 0 or -1. */
static int
fetch(const char *url, char path[PATH_MAX], struct result *r)
{
	struct fetch f = { -1, 0, 0 };
	CURL *c;
	CURLcode rc;
	long code = 0;

	snprintf(path, PATH_MAX, "%s/cubby-media-%ld-input", opt.tmp, (long)getpid());
	if ((f.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return fail(r, "temporary file: %s", strerror(errno)), -1;
	if ((c = curl_easy_init()) == NULL) {
		close(f.fd);
		unlink(path);
		return fail(r, "could not fetch the file"), -1;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fetch_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &f);
	{
		uint64_t now = now_mono_us();
		long ms = file_deadline > now ? (long)((file_deadline - now) / 1000) : 1;
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms > 0 ? ms : 1L);
	}
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	close(f.fd);
	if (f.over)
		fail(r, "the file is larger than the %lld bytes processed", opt.max_bytes);
	else if (rc != CURLE_OK)
		fail(r, "could not fetch the file: %s", curl_easy_strerror(rc));
	else if (code != 200)
		fail(r, "could not fetch the file: the store answered %ld", code);
	if (r->err[0]) {
		unlink(path);
		return -1;
	}
	return 0;
}

/* A reason goes to the API client: no file path and no URL (a presigned
 * one is a credential while it lasts). Words that are one become "the
 * file", in place. */
static void
scrub(char *s)
{
	char out[sizeof ((struct result *)0)->err];
	size_t o = 0;

	for (const char *p = s; *p && o < sizeof out - 1; ) {
		size_t n = strcspn(p, " \t"), w = n;
		int secret;
		/* The word without the quotes and colon around it. */
		const char *b = p;
		while (w > 0 && (*b == '"' || *b == '\'' || *b == '(')) {
			b++;
			w--;
		}
		secret = (w > 0 && *b == '/') || memmem(b, w, "://", 3) != NULL ||
		    memmem(b, w, "X-Amz-", 6) != NULL || memmem(b, w, "cubby-media-", 12) != NULL;
		if (secret) {
			const char *rep = "the file";
			int colon = n > 0 && p[n - 1] == ':';
			for (; *rep && o < sizeof out - 1; rep++)
				out[o++] = *rep;
			if (colon && o < sizeof out - 1)
				out[o++] = ':';
		} else {
			for (size_t i = 0; i < n && o < sizeof out - 1; i++)
				out[o++] = p[i];
		}
		p += n;
		while ((*p == ' ' || *p == '\t') && o < sizeof out - 1)
			out[o++] = *p++;
	}
	out[o] = '\0';
	memcpy(s, out, o + 1);
}

static struct json_object *
process(const char *kind, const char *in, const char *thumb, const char *preview)
{
	struct result r;
	char local[PATH_MAX] = "";
	int url = strncmp(in, "http://", 7) == 0 || strncmp(in, "https://", 8) == 0;

	memset(&r, 0, sizeof r);
	r.j = json_object_new_object();
	file_deadline = now_mono_us() + (uint64_t)opt.timeout * 1000000;
	unlink(thumb);
	unlink(preview);
	if (strcmp(kind, "image") == 0) {
		put_str(&r, "kind", "image");
		if (url && fetch(in, local, &r) != 0)
			goto done;
		image(url ? local : in, thumb, preview, 1, &r);
	} else if (strcmp(kind, "video") == 0 || strcmp(kind, "audio") == 0) {
		/* ffmpeg reads a URL itself, with ranges: no copy. */
		video(in, thumb, preview, &r);
	} else {
		fail(&r, "not a media kind: %s", kind);
	}
done:
	if (*local)
		unlink(local);
	if (r.err[0]) {
		scrub(r.err);
		/* Nothing half-made is left behind. */
		unlink(thumb);
		unlink(preview);
		json_object_object_del(r.j, "thumb");
		json_object_object_del(r.j, "preview");
		json_object_object_add(r.j, "ok", json_object_new_boolean(0));
		json_object_object_add(r.j, "error", json_object_new_string(r.err));
		if (r.skipped)
			json_object_object_add(r.j, "skipped", json_object_new_boolean(1));
	} else {
		json_object_object_add(r.j, "ok", json_object_new_boolean(1));
	}
	return r.j;
}

static void
answer(struct json_object *j)
{
	fputs(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), stdout);
	fputc('\n', stdout);
	fflush(stdout);
	json_object_put(j);
}

static void
usage(void)
{
	fputs("usage: cubby-media [--thumb PX] [--preview PX] [--max-pixels N]"
	    " [--max-bytes N] [--memory N] [--timeout S] [--ffmpeg PATH]"
	    " [--ffprobe PATH] [--tmp DIR] (--serve | KIND INPUT THUMB PREVIEW)\n", stderr);
	exit(2);
}

static long long
num_arg(const char *name, const char *v, long long min, long long max)
{
	long long x;

	if (v == NULL || parse_size(v, min, max, &x) != 0) {
		fprintf(stderr, "cubby-media: %s must be %lld to %lld\n", name, min, max);
		exit(2);
	}
	return x;
}

int
main(int argc, char **argv)
{
	int serve = 0, i;

	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--serve") == 0) {
			serve = 1;
			continue;
		}
		if (v == NULL)
			usage();
		i++;
		if (strcmp(a, "--thumb") == 0)
			opt.thumb = (int)num_arg(a, v, 16, 4096);
		else if (strcmp(a, "--preview") == 0)
			opt.preview = (int)num_arg(a, v, 0, 8192);    /* 0: none */
		else if (strcmp(a, "--max-pixels") == 0)
			opt.max_pixels = num_arg(a, v, 1, 1LL << 40);
		else if (strcmp(a, "--max-bytes") == 0)
			opt.max_bytes = num_arg(a, v, 1, 1LL << 50);
		else if (strcmp(a, "--memory") == 0)
			opt.memory = num_arg(a, v, 0, 1LL << 50);
		else if (strcmp(a, "--timeout") == 0)
			opt.timeout = (int)num_arg(a, v, 1, 86400);
		else if (strcmp(a, "--ffmpeg") == 0)
			opt.ffmpeg = v;
		else if (strcmp(a, "--ffprobe") == 0)
			opt.ffprobe = v;
		else if (strcmp(a, "--tmp") == 0)
			opt.tmp = v;
		else
			usage();
	}
	if (serve ? i != argc : argc - i != 4)
		usage();
	signal(SIGPIPE, SIG_IGN);
#ifndef UNDER_ASAN
	/* A decoder gone wrong fails an allocation here, not the machine.
	 * (AddressSanitizer reserves terabytes of address space up front.) */
	if (opt.memory > 0) {
		struct rlimit rl = { (rlim_t)opt.memory, (rlim_t)opt.memory };
		setrlimit(RLIMIT_AS, &rl);
	}
#endif
	curl_global_init(CURL_GLOBAL_DEFAULT);
	media_init(argv[0]);
	if (!serve) {
		struct json_object *j = process(argv[i], argv[i + 1], argv[i + 2], argv[i + 3]);
		struct json_object *ok;
		int good = json_object_object_get_ex(j, "ok", &ok) && json_object_get_boolean(ok);
		answer(j);
		return good ? 0 : 1;
	}
	for (;;) {
		char line[LINE_MAX_BYTES], *f[4], *p = line;
		size_t n;
		int k;

		if (fgets(line, sizeof line, stdin) == NULL)
			break;
		n = strlen(line);
		if (n == 0 || line[n - 1] != '\n') {
			int c;
			while ((c = getchar()) != EOF && c != '\n')
				;
			struct json_object *j = json_object_new_object();
			json_object_object_add(j, "ok", json_object_new_boolean(0));
			json_object_object_add(j, "error", json_object_new_string("request too long"));
			answer(j);
			continue;
		}
		line[n - 1] = '\0';
		for (k = 0; k < 4 && p != NULL; k++) {
			f[k] = p;
			if ((p = strchr(p, '\t')) != NULL)
				*p++ = '\0';
		}
		if (k != 4 || p != NULL) {
			struct json_object *j = json_object_new_object();
			json_object_object_add(j, "ok", json_object_new_boolean(0));
			json_object_object_add(j, "error", json_object_new_string("malformed request"));
			answer(j);
			continue;
		}
		answer(process(f[0], f[1], f[2], f[3]));
	}
#ifdef HAVE_VIPS
	vips_shutdown();
#endif
	curl_global_cleanup();
	return 0;
}
