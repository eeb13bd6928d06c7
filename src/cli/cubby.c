/* cubby.c - the `cubby` command-line client: configuration, option
 * parsing and every command but upload (upload.c).
 *
 * Configuration: $CUBBY_CONFIG, else $XDG_CONFIG_HOME/cubby/config.json,
 * else ~/.config/cubby/config.json, written with mode 0600;
 * CUBBY_API_KEY and CUBBY_BASE_URL override what it says. The key is
 * never printed, and never put on a command line the client runs. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cubby/crypto.h"
#include "cubby/util.h"
#include "cubby/xmalloc.h"

#define DEFAULT_BASE_URL "http://127.0.0.1:8080"
#define MAX_GET_ATTEMPTS 6

static const char usage_text[] =
"usage: cubby [--base-url URL] COMMAND [ARGS]\n"
"\n"
"  login [--key KEY]            store an API key (prompts when --key is absent)\n"
"  whoami                       the account the key belongs to\n"
"  config show | set base-url URL\n"
"  upload PATH... [--dir DIR] [--tag a,b] [--space SPACE] [--multipart]\n"
"         [--part-size SIZE] [--no-hash|--hash] [--parallel N] [--json]\n"
"  ls [--limit N] [--type T] [--status S] [--search Q] [--json]\n"
"  get ID [-o FILE]             download (resumes a partial FILE.part)\n"
"  url ID [--expires SECONDS]   a signed download URL\n"
"  rm ID...                     delete assets\n"
"  reprocess ID... | --all\n"
"  share ID... --to SPACE\n"
"  spaces create --name N [--visibility public|protected] [--password P]\n"
"  spaces list | url SPACE | delete SPACE\n"
"  keys list | create --name N --scope read|write|admin | revoke ID\n"
"  kv BUCKET get KEY | set KEY VALUE [--ttl S] | incr KEY [DELTA] | del KEY\n"
"             | ls [--prefix P] [--limit N]      (credential: --kv-key or CUBBY_KV_KEY)\n"
"\n"
"Exit codes: 0 ok, 1 refused, 2 usage, 3 auth, 4 not found, 5 network,\n"
"6 server error, 130 interrupted. See cubby(1).\n";

static int
usage(void)
{
	fputs(usage_text, stderr);
	return EX_USAGE;
}

/* ---- configuration ------------------------------------------------------ */

static char *
config_default_path(void)
{
	const char *env = getenv("CUBBY_CONFIG"), *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	struct buf b;
	char *path;

	if (env != NULL && *env)
		return xstrdup(env);
	buf_init(&b, 8192);
	if (xdg != NULL && *xdg == '/')
		buf_printf(&b, "%s/cubby/config.json", xdg);
	else
		buf_printf(&b, "%s/.config/cubby/config.json", home ? home : ".");
	path = xstrdup(buf_cstr(&b));
	buf_free(&b);
	return path;
}

/* The config file as JSON (a new object; empty when there is none).
 * -1 when it exists but cannot be read or parsed. */
static int
config_read(const char *path, json_object **out)
{
	struct stat st;

	*out = NULL;
	if (stat(path, &st) != 0) {
		if (errno == ENOENT) {
			*out = json_object_new_object();
			return 0;
		}
		cli_err("%s: %s", path, strerror(errno));
		return -1;
	}
	if (st.st_size > 65536 || (*out = json_object_from_file(path)) == NULL ||
	    !json_object_is_type(*out, json_type_object)) {
		if (*out != NULL)
			json_object_put(*out);
		*out = NULL;
		cli_err("%s: not a cubby config file (JSON object expected)", path);
		return -1;
	}
	if ((st.st_mode & 077) != 0)
		cli_err("warning: %s is readable by others: chmod 600 it", path);
	return 0;
}

/* Write atomically with mode 0600, creating the directory (0700). */
static int
config_write(const char *path, json_object *cfg)
{
	char *dir = xstrdup(path), *slash, tmp[4096];
	const char *s = json_object_to_json_string_ext(cfg, JSON_C_TO_STRING_PRETTY);
	size_t n = strlen(s);
	int fd, rc = -1;

	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		/* mkdir -p, parents first */
		for (char *q = dir + 1; *q; q++)
			if (*q == '/') {
				*q = '\0';
				mkdir(dir, 0700);
				*q = '/';
			}
		if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
			cli_err("%s: %s", dir, strerror(errno));
			free(dir);
			return -1;
		}
	}
	free(dir);
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= sizeof tmp) {
		cli_err("config path too long");
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		cli_err("%s: %s", tmp, strerror(errno));
		return -1;
	}
	if (write(fd, s, n) == (ssize_t)n && write(fd, "\n", 1) == 1 &&
	    fchmod(fd, 0600) == 0 && fsync(fd) == 0)
		rc = 0;
	if (close(fd) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -1;
	if (rc != 0) {
		cli_err("%s: %s", path, strerror(errno));
		unlink(tmp);
	}
	return rc;
}

static char *
trim_url(const char *u)
{
	char *s = xstrdup(u);
	size_t n = strlen(s);

	while (n > 0 && s[n - 1] == '/')
		s[--n] = '\0';
	return s;
}

static int
url_ok(const char *u)
{
	return (strncmp(u, "http://", 7) == 0 && u[7]) ||
	    (strncmp(u, "https://", 8) == 0 && u[8]);
}

static int
cli_load(struct cli *c, const char *base_flag)
{
	json_object *cfg;
	const char *k, *u;

	if (config_read(c->config_path, &cfg) != 0)
		return EX_USAGE;
	if ((k = getenv("CUBBY_API_KEY")) != NULL && *k) {
		c->api_key = xstrdup(k);
		c->key_source = "CUBBY_API_KEY";
	} else if ((k = jstr(cfg, "api_key")) != NULL && *k) {
		c->api_key = xstrdup(k);
		c->key_source = c->config_path;
	}
	if (base_flag != NULL)
		u = base_flag;
	else if ((u = getenv("CUBBY_BASE_URL")) == NULL || !*u)
		u = jstr(cfg, "base_url") ? jstr(cfg, "base_url") : DEFAULT_BASE_URL;
	if (!url_ok(u)) {
		cli_err("base URL '%s' is not an http:// or https:// URL", u);
		json_object_put(cfg);
		return EX_USAGE;
	}
	c->base_url = trim_url(u);   /* u may live in cfg */
	json_object_put(cfg);
	return EX_OK;
}

/* Read a secret: from the terminal without echo, else one line of stdin. */
static char *
read_secret(const char *prompt)
{
	char line[1024];
	struct termios old, quiet;
	FILE *in = stdin;
	int tty = isatty(STDIN_FILENO);
	size_t n;

	if (tty) {
		fputs(prompt, stderr);
		fflush(stderr);
		if (tcgetattr(STDIN_FILENO, &old) == 0) {
			quiet = old;
			quiet.c_lflag &= ~(tcflag_t)ECHO;
			quiet.c_lflag |= ECHONL;
			tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
		} else {
			tty = 0;
		}
	}
	if (fgets(line, sizeof line, in) == NULL)
		line[0] = '\0';
	if (tty)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	return n ? xstrdup(line) : NULL;
}

/* ---- small helpers ------------------------------------------------------ */

static void
print_json(json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
}

static char *
pathf(const char *fmt, const char *a, const char *b)
{
	char *ea = cli_escape(a), *eb = b ? cli_escape(b) : NULL;
	size_t n = strlen(fmt) + strlen(ea) + (eb ? strlen(eb) : 0) + 1;
	char *out = xmalloc(n);

	snprintf(out, n, fmt, ea, eb ? eb : "");
	free(ea);
	free(eb);
	return out;
}

/* ---- account ------------------------------------------------------------ */

static int
cmd_login(struct cli *c, int argc, char **argv, const char *base_flag)
{
	static const struct option opts[] = { { "key", required_argument, NULL, 'k' }, { 0 } };
	char *key = NULL;
	json_object *cfg;
	struct resp r;
	int ch, ex;

	while ((ch = getopt_long(argc, argv, "k:", opts, NULL)) != -1) {
		if (ch != 'k')
			return usage();
		free(key);
		key = xstrdup(optarg);
	}
	if (optind != argc)
		return usage();
	if (key == NULL && (key = read_secret("API key: ")) == NULL) {
		cli_err("no key given");
		return EX_USAGE;
	}
	if (strncmp(c->base_url, "http://", 7) == 0 &&
	    strncmp(c->base_url, "http://127.", 11) != 0 &&
	    strncmp(c->base_url, "http://localhost", 16) != 0 &&
	    strncmp(c->base_url, "http://[::1]", 12) != 0)
		cli_err("warning: %s is plain HTTP: the key crosses the network "
		    "unencrypted", c->base_url);
	free(c->api_key);
	c->api_key = key;
	c->key_source = "the login";
	c->scope = "read";
	if ((ex = api_call(c, "GET", "/v1/account", NULL, &r)) != EX_OK)
		return ex;
	if (config_read(c->config_path, &cfg) != 0) {
		resp_free(&r);
		return EX_USAGE;
	}
	json_object_object_add(cfg, "api_key", json_object_new_string(key));
	if (base_flag != NULL)
		json_object_object_add(cfg, "base_url", json_object_new_string(c->base_url));
	ex = config_write(c->config_path, cfg) == 0 ? EX_OK : EX_USAGE;
	json_object_put(cfg);
	if (ex == EX_OK)
		printf("Logged in to %s as %s. The key is in %s.\n", c->base_url,
		    jstr(resp_data(&r), "display_name") ? jstr(resp_data(&r), "display_name") : "?",
		    c->config_path);
	resp_free(&r);
	return ex;
}

static int
cmd_whoami(struct cli *c)
{
	json_object *d;
	struct resp r;
	int ex;

	c->scope = "read";
	if ((ex = api_call(c, "GET", "/v1/account", NULL, &r)) != EX_OK)
		return ex;
	d = resp_data(&r);
	if (c->json) {
		print_json(d);
	} else {
		printf("account   %s\n", jstr(d, "display_name") ? jstr(d, "display_name") : "");
		printf("email     %s\n", jstr(d, "email") ? jstr(d, "email") : "-");
		printf("plan      %s\n", jstr(d, "plan") ? jstr(d, "plan") : "-");
		printf("server    %s\n", c->base_url);
		printf("key from  %s\n", c->key_source);
	}
	resp_free(&r);
	return EX_OK;
}

static int
cmd_config(struct cli *c, int argc, char **argv)
{
	json_object *cfg;
	int ex;

	if (argc == 2 && strcmp(argv[1], "show") == 0) {
		printf("config    %s\n", c->config_path);
		printf("base-url  %s%s\n", c->base_url,
		    getenv("CUBBY_BASE_URL") && *getenv("CUBBY_BASE_URL") ? " (from CUBBY_BASE_URL)" : "");
		printf("api-key   %s%s\n", c->api_key ? "set, from " : "not set",
		    c->api_key ? c->key_source : "");
		return EX_OK;
	}
	if (argc == 4 && strcmp(argv[1], "set") == 0 && strcmp(argv[2], "base-url") == 0) {
		char *u;

		if (!url_ok(argv[3])) {
			cli_err("'%s' is not an http:// or https:// URL", argv[3]);
			return EX_USAGE;
		}
		if (config_read(c->config_path, &cfg) != 0)
			return EX_USAGE;
		u = trim_url(argv[3]);
		json_object_object_add(cfg, "base_url", json_object_new_string(u));
		free(u);
		ex = config_write(c->config_path, cfg) == 0 ? EX_OK : EX_USAGE;
		json_object_put(cfg);
		return ex;
	}
	return usage();
}

/* ---- assets ------------------------------------------------------------- */

static int
cmd_upload_args(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' }, { "tag", required_argument, NULL, 't' },
		{ "space", required_argument, NULL, 's' }, { "multipart", no_argument, NULL, 'm' },
		{ "no-hash", no_argument, NULL, 'N' }, { "hash", no_argument, NULL, 'H' },
		{ "json", no_argument, NULL, 'j' }, { "part-size", required_argument, NULL, 'P' },
		{ "parallel", required_argument, NULL, 'p' }, { 0 }
	};
	struct upload_opts o = { .hash = -1, .parallel = 4 };
	long long v;
	int ch;

	while ((ch = getopt_long(argc, argv, "d:t:s:mj", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': o.dir = optarg; break;
		case 't': o.tags = optarg; break;
		case 's': o.space = optarg; break;
		case 'm': o.multipart = 1; break;
		case 'N': o.hash = 0; break;
		case 'H': o.hash = 1; break;
		case 'j': c->json = 1; break;
		case 'P':
			if (parse_size(optarg, 1, 5LL << 30, &o.part_size) != 0) {
				cli_err("--part-size: a size such as 8M, at most 5G");
				return EX_USAGE;
			}
			o.multipart = 1;
			break;
		case 'p':
			if (parse_ll(optarg, 1, 16, &v) != 0) {
				cli_err("--parallel: 1 to 16");
				return EX_USAGE;
			}
			o.parallel = (int)v;
			break;
		default:
			return usage();
		}
	}
	o.paths = argv + optind;
	o.npaths = argc - optind;
	if (o.npaths == 0 && o.dir == NULL)
		return usage();
	c->scope = o.space ? "write (and read, to find the space)" : "write";
	return cmd_upload(c, &o);
}

static void
print_asset_row(json_object *a)
{
	char sz[24], when[20];
	const char *cr = jstr(a, "created_at");

	fmt_bytes(sz, sizeof sz, (double)jint(a, "size_bytes"));
	snprintf(when, sizeof when, "%.16s", cr ? cr : "");
	for (char *q = when; *q; q++)
		if (*q == 'T')
			*q = ' ';
	printf("%-36s  %-5s  %-7s  %10s  %-16s  %s\n", jstr(a, "id") ? jstr(a, "id") : "",
	    jstr(a, "type") ? jstr(a, "type") : "", jstr(a, "status") ? jstr(a, "status") : "",
	    sz, when, jstr(a, "filename") ? jstr(a, "filename") : "");
}

/* Walk the listing page by page; fn gets each asset. */
static int
each_asset(struct cli *c, const char *filters, long long limit,
    int (*fn)(struct cli *, json_object *, void *), void *arg)
{
	char *cursor = NULL;
	long long seen = 0;
	int ex = EX_OK;

	while (seen < limit) {
		struct buf p;
		struct resp r;
		json_object *arr, *meta, *nc;
		long long want = limit - seen > 200 ? 200 : limit - seen;

		buf_init(&p, 16384);
		buf_printf(&p, "/v1/assets?limit=%lld%s", want, filters);
		if (cursor != NULL) {
			char *ec = cli_escape(cursor);

			buf_printf(&p, "&cursor=%s", ec);
			free(ec);
		}
		ex = api_call(c, "GET", buf_cstr(&p), NULL, &r);
		buf_free(&p);
		if (ex != EX_OK)
			break;
		arr = resp_data(&r);
		for (size_t i = 0; arr && i < jlen(arr) && seen < limit; i++, seen++)
			if ((ex = fn(c, json_object_array_get_idx(arr, i), arg)) != EX_OK)
				break;
		free(cursor);
		cursor = NULL;
		if (json_object_object_get_ex(r.json, "meta", &meta) &&
		    json_object_object_get_ex(meta, "next_cursor", &nc) &&
		    json_object_is_type(nc, json_type_string))
			cursor = xstrdup(json_object_get_string(nc));
		resp_free(&r);
		if (ex != EX_OK || cursor == NULL || arr == NULL || jlen(arr) == 0)
			break;
	}
	free(cursor);
	return ex;
}

static int
ls_one(struct cli *c, json_object *a, void *arg)
{
	(void)arg;
	if (c->json)
		print_json(a);
	else
		print_asset_row(a);
	return EX_OK;
}

static int
cmd_ls(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "limit", required_argument, NULL, 'n' }, { "type", required_argument, NULL, 't' },
		{ "status", required_argument, NULL, 's' }, { "search", required_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' }, { 0 }
	};
	struct buf f;
	long long limit = 50;
	int ch, ex;

	buf_init(&f, 8192);
	while ((ch = getopt_long(argc, argv, "n:t:s:q:j", opts, NULL)) != -1) {
		char *e;

		switch (ch) {
		case 'n':
			if (parse_ll(optarg, 1, 1000000000LL, &limit) != 0) {
				cli_err("--limit: a positive number");
				buf_free(&f);
				return EX_USAGE;
			}
			break;
		case 't': case 's': case 'q':
			e = cli_escape(optarg);
			buf_printf(&f, "&%s=%s", ch == 't' ? "type" : ch == 's' ? "status" : "search", e);
			free(e);
			break;
		case 'j': c->json = 1; break;
		default:
			buf_free(&f);
			return usage();
		}
	}
	if (optind != argc) {
		buf_free(&f);
		return usage();
	}
	c->scope = "read";
	if (!c->json)
		printf("%-36s  %-5s  %-7s  %10s  %-16s  %s\n", "ID", "TYPE", "STATUS", "SIZE",
		    "CREATED", "FILENAME");
	ex = each_asset(c, buf_cstr(&f), limit, ls_one, NULL);
	buf_free(&f);
	return ex;
}

static int
signed_url(struct cli *c, const char *id, long long expires, char **url)
{
	char *p = pathf("/v1/assets/%s/url", id, NULL);
	struct buf q;
	struct resp r;
	int ex;

	buf_init(&q, 8192);
	buf_puts(&q, p);
	if (expires > 0)
		buf_printf(&q, "?expires_in=%lld", expires);
	ex = api_call(c, "GET", buf_cstr(&q), NULL, &r);
	buf_free(&q);
	free(p);
	if (ex != EX_OK)
		return ex;
	return resp_take_string(&r, "url", "GET /url", url);
}

static int
cmd_url(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { { "expires", required_argument, NULL, 'e' }, { 0 } };
	long long expires = 0;
	char *url;
	int ch, ex;

	while ((ch = getopt_long(argc, argv, "e:", opts, NULL)) != -1) {
		if (ch != 'e' || parse_ll(optarg, 1, 604800, &expires) != 0) {
			cli_err("--expires: seconds, 60 to 604800");
			return EX_USAGE;
		}
	}
	if (optind + 1 != argc)
		return usage();
	c->scope = "read";
	if ((ex = signed_url(c, argv[optind], expires, &url)) != EX_OK)
		return ex;
	printf("%s\n", url);
	free(url);
	return EX_OK;
}

static int
cmd_rm(struct cli *c, int argc, char **argv)
{
	int ex = EX_OK;

	if (argc < 2)
		return usage();
	c->scope = "write";
	for (int i = 1; i < argc; i++) {
		char *p = pathf("/v1/assets/%s", argv[i], NULL);
		struct resp r;
		int e = api_call(c, "DELETE", p, NULL, &r);

		free(p);
		if (e != EX_OK) {
			ex = ex ? ex : e;
			if (e == EX_AUTH || e == EX_NETWORK)
				return e;
			continue;
		}
		resp_free(&r);
		if (c->tty)
			printf("deleted %s\n", argv[i]);
	}
	return ex;
}

static int
reprocess_one(struct cli *c, json_object *a, void *arg)
{
	const char *id = a ? jstr(a, "id") : arg;
	char *p = pathf("/v1/assets/%s/reprocess", id, NULL);
	struct resp r;
	int ex = api_call(c, "POST", p, NULL, &r);

	free(p);
	if (ex != EX_OK)
		return ex;
	resp_free(&r);
	if (c->tty)
		printf("queued %s\n", id);
	return EX_OK;
}

static int
cmd_reprocess(struct cli *c, int argc, char **argv)
{
	int ex = EX_OK;

	c->scope = "write";
	if (argc == 2 && strcmp(argv[1], "--all") == 0)
		return each_asset(c, "&status=active", 1LL << 62, reprocess_one, NULL);
	if (argc < 2)
		return usage();
	for (int i = 1; i < argc && ex == EX_OK; i++)
		ex = reprocess_one(c, NULL, argv[i]);
	return ex;
}

/* ---- download ----------------------------------------------------------- */

struct dl {
	FILE *out;
	int to_stdout;
	long long have;        /* bytes in the file before this attempt */
	long long got;         /* bytes written this attempt */
	long long total;
	long status;
	int started;
	struct buf err;
	CURL *h;
	uint64_t t0, last;
	int tty;
	const char *name;
};

static size_t
dl_write(char *p, size_t size, size_t n, void *arg)
{
	struct dl *d = arg;
	size_t len = size * n;

	if (!d->started) {
		d->started = 1;
		curl_easy_getinfo(d->h, CURLINFO_RESPONSE_CODE, &d->status);
		if (d->status == 200 && d->have > 0 && !d->to_stdout) {
			/* The server ignored the Range: start over. */
			if (ftruncate(fileno(d->out), 0) != 0 || fseeko(d->out, 0, SEEK_SET) != 0)
				return 0;
			d->have = 0;
		}
	}
	if (d->status != 200 && d->status != 206)
		return buf_append(&d->err, p, len) == 0 ? len : 0;
	if (fwrite(p, 1, len, d->out) != len)
		return 0;
	d->got += (long long)len;
	if (d->tty && now_mono_us() - d->last > 100000) {
		char a[24], b[24];
		double secs = (double)(now_mono_us() - d->t0) / 1e6;

		d->last = now_mono_us();
		fmt_bytes(a, sizeof a, (double)(d->have + d->got));
		fmt_bytes(b, sizeof b, (double)d->total);
		fprintf(stderr, "\r\033[2K%s  %3d%%  %s / %s  %.1f MiB/s", d->name,
		    d->total > 0 ? (int)((d->have + d->got) * 100 / d->total) : 100, a, b,
		    secs > 0 ? (double)d->got / secs / 1048576 : 0.0);
	}
	return len;
}

/* A safe local name from the server's filename: its last component. */
static char *
local_name(const char *fn)
{
	const char *s = fn ? strrchr(fn, '/') : NULL;

	s = s ? s + 1 : fn;
	if (s == NULL || !*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0 || *s == '.')
		return NULL;
	return xstrdup(s);
}

static int
cmd_get(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' }, { "no-verify", no_argument, NULL, 'V' }, { 0 }
	};
	const char *out_opt = NULL, *sha;
	char *p, *out = NULL, *tmp = NULL, *url = NULL, hex[65];
	struct resp ar;
	json_object *a;
	struct dl d;
	int ch, ex, verify = 1;

	while ((ch = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (ch == 'o')
			out_opt = optarg;
		else if (ch == 'V')
			verify = 0;
		else
			return usage();
	}
	if (optind + 1 != argc)
		return usage();
	c->scope = "read";
	p = pathf("/v1/assets/%s", argv[optind], NULL);
	ex = api_call(c, "GET", p, NULL, &ar);
	free(p);
	if (ex != EX_OK)
		return ex;
	a = resp_data(&ar);
	memset(&d, 0, sizeof d);
	d.total = jint(a, "size_bytes");
	sha = jstr(a, "sha256");
	if (out_opt != NULL) {
		out = xstrdup(out_opt);
	} else if ((out = local_name(jstr(a, "filename"))) == NULL) {
		cli_err("the asset's filename cannot name a local file: use -o FILE");
		resp_free(&ar);
		return EX_USAGE;
	}
	d.to_stdout = strcmp(out, "-") == 0;
	d.name = out;
	d.tty = c->tty && !d.to_stdout;
	buf_init(&d.err, 65536);
	if (d.to_stdout) {
		d.out = stdout;
	} else {
		size_t n = strlen(out) + 6;
		struct stat st;

		tmp = xmalloc(n);
		snprintf(tmp, n, "%s.part", out);
		if (stat(tmp, &st) == 0 && st.st_size <= d.total)
			d.have = st.st_size;
		d.out = fopen(tmp, d.have > 0 ? "ab" : "wb");
		if (d.out == NULL) {
			cli_err("%s: %s", tmp, strerror(errno));
			ex = EX_FAIL;
			goto done;
		}
	}
	/* Network trouble resumes from what arrived, with a fresh URL. */
	for (int attempt = 1;; attempt++) {
		char errbuf[CURL_ERROR_SIZE] = "", range[48];
		CURLcode rc;

		if ((ex = signed_url(c, argv[optind], 0, &url)) != EX_OK)
			goto done;
		if (d.have >= d.total && d.total >= 0 && !d.to_stdout)
			break;   /* all there already */
		d.h = curl_easy_init();
		cli_curl_defaults(d.h);
		curl_easy_setopt(d.h, CURLOPT_URL, url);
		curl_easy_setopt(d.h, CURLOPT_WRITEFUNCTION, dl_write);
		curl_easy_setopt(d.h, CURLOPT_WRITEDATA, &d);
		curl_easy_setopt(d.h, CURLOPT_ERRORBUFFER, errbuf);
		curl_easy_setopt(d.h, CURLOPT_FOLLOWLOCATION, 0L);
		if (d.have > 0) {
			snprintf(range, sizeof range, "%lld-", d.have);
			curl_easy_setopt(d.h, CURLOPT_RANGE, range);
		}
		d.started = 0;
		d.got = 0;
		d.status = 0;
		d.t0 = d.last = now_mono_us();
		buf_reset(&d.err);
		rc = curl_easy_perform(d.h);
		if (d.status == 0)
			curl_easy_getinfo(d.h, CURLINFO_RESPONSE_CODE, &d.status);
		curl_easy_cleanup(d.h);
		free(url);
		url = NULL;
		if (d.tty)
			fputs("\r\033[2K", stderr);
		if (fflush(d.out) != 0) {
			cli_err("%s: %s", d.to_stdout ? "stdout" : tmp, strerror(errno));
			ex = EX_FAIL;
			goto done;
		}
		if (rc == CURLE_OK && (d.status == 200 || d.status == 206)) {
			d.have += d.got;
			break;
		}
		if (rc == CURLE_OK && d.status != 200 && d.status != 206 && d.status < 500) {
			struct resp er = { .status = d.status, .body = d.err };

			er.json = json_tokener_parse(buf_cstr(&d.err));
			ex = resp_fail(c, &er);
			if (er.json)
				json_object_put(er.json);
			goto done;
		}
		d.have += d.got;
		if (d.to_stdout || attempt >= MAX_GET_ATTEMPTS || cli_interrupted) {
			ex = rc != CURLE_OK ? curl_fail(rc, errbuf, "the download") : EX_SERVER;
			if (rc == CURLE_OK)
				cli_err("HTTP %ld from the download", d.status);
			if (!d.to_stdout)
				cli_err("kept %lld bytes in %s: run the same command to resume",
				    d.have, tmp);
			goto done;
		}
		cli_err("download interrupted at %lld bytes (%s): resuming",
		    d.have, rc != CURLE_OK ? curl_easy_strerror(rc) : "server error");
		usleep(500000U << (attempt > 4 ? 4 : attempt - 1));
	}
	if (d.to_stdout) {
		ex = EX_OK;
		goto done;
	}
	if (fclose(d.out) != 0) {
		d.out = NULL;
		cli_err("%s: %s", tmp, strerror(errno));
		ex = EX_FAIL;
		goto done;
	}
	d.out = NULL;
	if (d.total >= 0 && d.have != d.total) {
		cli_err("%s has %lld bytes, the asset %lld", tmp, d.have, d.total);
		ex = EX_FAIL;
		goto done;
	}
	if (verify && sha != NULL) {
		if (sha256_file(tmp, hex, NULL) != 0) {
			cli_err("%s: %s", tmp, strerror(errno));
			ex = EX_FAIL;
			goto done;
		}
		if (strcmp(hex, sha) != 0) {
			cli_err("%s: SHA-256 %s is not the asset's %s: removed", tmp, hex, sha);
			unlink(tmp);
			ex = EX_FAIL;
			goto done;
		}
	}
	if (rename(tmp, out) != 0) {
		cli_err("%s: %s", out, strerror(errno));
		ex = EX_FAIL;
		goto done;
	}
	if (c->tty)
		printf("%s  %lld bytes%s\n", out, d.have, verify && sha ? ", sha256 verified" : "");
	ex = EX_OK;
done:
	if (d.out != NULL && !d.to_stdout)
		fclose(d.out);
	buf_free(&d.err);
	free(url);
	free(tmp);
	free(out);
	resp_free(&ar);
	return ex;
}

/* ---- spaces ------------------------------------------------------------- */

int
space_resolve(struct cli *c, const char *name, char **id_out)
{
	struct resp r;
	json_object *arr;
	const char *hit = NULL;
	int ex, n = 0;

	*id_out = NULL;
	if ((ex = api_call(c, "GET", "/v1/spaces", NULL, &r)) != EX_OK)
		return ex;
	arr = resp_data(&r);
	/* An id or short id names one space; a name may name several. */
	for (size_t i = 0; arr && i < jlen(arr); i++) {
		json_object *s = json_object_array_get_idx(arr, i);

		if ((jstr(s, "id") && strcmp(jstr(s, "id"), name) == 0) ||
		    (jstr(s, "short_id") && strcmp(jstr(s, "short_id"), name) == 0)) {
			hit = jstr(s, "id");
			n = 1;
			break;
		}
		if (jstr(s, "name") && strcmp(jstr(s, "name"), name) == 0) {
			hit = jstr(s, "id");
			n++;
		}
	}
	if (n == 1)
		*id_out = xstrdup(hit);
	resp_free(&r);
	if (n == 0) {
		cli_err("no space is named '%s' (by id, short id or name)", name);
		return EX_NOTFOUND;
	}
	if (n > 1) {
		cli_err("%d spaces are named '%s': name it by id or short id", n, name);
		return EX_USAGE;
	}
	return EX_OK;
}

int
space_publish(struct cli *c, const char *space_id, char **ids, int n)
{
	char *p = pathf("/v1/spaces/%s/publications", space_id, NULL);
	int ex = EX_OK;

	for (int at = 0; at < n && ex != EX_AUTH && ex != EX_NETWORK; at += 100) {
		json_object *b = json_object_new_object(), *arr = json_object_new_array(), *res;
		struct resp r;
		int e;

		for (int i = at; i < n && i < at + 100; i++)
			json_object_array_add(arr, json_object_new_string(ids[i]));
		json_object_object_add(b, "asset_ids", arr);
		e = api_call(c, "POST", p, b, &r);
		json_object_put(b);
		if (e != EX_OK) {
			ex = e;
			continue;
		}
		res = resp_data(&r);
		for (size_t i = 0; res && i < jlen(res); i++) {
			json_object *x = json_object_array_get_idx(res, i), *ok, *er;

			if (json_object_object_get_ex(x, "success", &ok) && json_object_get_boolean(ok)) {
				if (c->tty && !c->json)
					printf("shared %s\n", jstr(x, "asset_id") ? jstr(x, "asset_id") : "?");
				continue;
			}
			json_object_object_get_ex(x, "error", &er);
			cli_err("%s: not shared: %s", jstr(x, "asset_id") ? jstr(x, "asset_id") : "?",
			    er == NULL ? "?" : json_object_is_type(er, json_type_string) ?
			    json_object_get_string(er) : jstr(er, "code") ? jstr(er, "code") : "?");
			snprintf(c->err_code, sizeof c->err_code, "publish_failed");
			ex = ex ? ex : EX_FAIL;
		}
		resp_free(&r);
	}
	free(p);
	return ex;
}

static int
cmd_share(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { { "to", required_argument, NULL, 't' }, { 0 } };
	const char *to = NULL;
	char *sid;
	int ch, ex;

	while ((ch = getopt_long(argc, argv, "t:", opts, NULL)) != -1) {
		if (ch != 't')
			return usage();
		to = optarg;
	}
	if (to == NULL || optind >= argc)
		return usage();
	c->scope = "write";
	if ((ex = space_resolve(c, to, &sid)) != EX_OK)
		return ex;
	ex = space_publish(c, sid, argv + optind, argc - optind);
	free(sid);
	return ex;
}

static void
print_space(struct cli *c, json_object *s)
{
	if (c->json) {
		print_json(s);
		return;
	}
	printf("%-36s  %-8s  %-9s  %5lld  %-40s  %s\n", jstr(s, "id") ? jstr(s, "id") : "",
	    jstr(s, "short_id") ? jstr(s, "short_id") : "",
	    jstr(s, "visibility") ? jstr(s, "visibility") : "", jint(s, "asset_count"),
	    jstr(s, "name") ? jstr(s, "name") : "", jstr(s, "share_url") ? jstr(s, "share_url") : "");
}

static int
cmd_spaces(struct cli *c, int argc, char **argv)
{
	struct resp r;
	char *sid = NULL, *p;
	int ex;

	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "create") == 0) {
		static const struct option opts[] = {
			{ "name", required_argument, NULL, 'n' }, { "visibility", required_argument, NULL, 'v' },
			{ "password", required_argument, NULL, 'p' },
			{ "description", required_argument, NULL, 'd' }, { "json", no_argument, NULL, 'j' }, { 0 }
		};
		const char *name = NULL, *vis = "public", *desc = NULL;
		char *pass = NULL;
		json_object *b;
		int ch;

		argc--, argv++;
		while ((ch = getopt_long(argc, argv, "n:v:p:d:j", opts, NULL)) != -1) {
			switch (ch) {
			case 'n': name = optarg; break;
			case 'v': vis = optarg; break;
			case 'p': free(pass); pass = xstrdup(optarg); break;
			case 'd': desc = optarg; break;
			case 'j': c->json = 1; break;
			default: free(pass); return usage();
			}
		}
		if (name == NULL || optind != argc) {
			free(pass);
			return usage();
		}
		if (strcmp(vis, "protected") == 0 && (pass == NULL || strcmp(pass, "-") == 0)) {
			free(pass);
			if ((pass = read_secret("Space password: ")) == NULL) {
				cli_err("a protected space needs a password");
				return EX_USAGE;
			}
		}
		b = json_object_new_object();
		json_object_object_add(b, "name", json_object_new_string(name));
		json_object_object_add(b, "visibility", json_object_new_string(vis));
		if (desc)
			json_object_object_add(b, "description", json_object_new_string(desc));
		if (pass)
			json_object_object_add(b, "password", json_object_new_string(pass));
		c->scope = "admin";
		ex = api_call(c, "POST", "/v1/spaces", b, &r);
		json_object_put(b);
		if (pass) {
			memset(pass, 0, strlen(pass));
			free(pass);
		}
		if (ex != EX_OK)
			return ex;
		print_space(c, resp_data(&r));
		resp_free(&r);
		return EX_OK;
	}
	if (strcmp(argv[1], "list") == 0 && (argc == 2 || (argc == 3 && strcmp(argv[2], "--json") == 0))) {
		json_object *arr;

		c->json |= argc == 3;
		c->scope = "read";
		if ((ex = api_call(c, "GET", "/v1/spaces", NULL, &r)) != EX_OK)
			return ex;
		arr = resp_data(&r);
		for (size_t i = 0; arr && i < jlen(arr); i++)
			print_space(c, json_object_array_get_idx(arr, i));
		resp_free(&r);
		return EX_OK;
	}
	if (argc != 3 || (strcmp(argv[1], "url") != 0 && strcmp(argv[1], "delete") != 0))
		return usage();
	c->scope = strcmp(argv[1], "delete") == 0 ? "admin" : "read";
	if ((ex = space_resolve(c, argv[2], &sid)) != EX_OK)
		return ex;
	p = pathf("/v1/spaces/%s", sid, NULL);
	free(sid);
	ex = api_call(c, strcmp(argv[1], "delete") == 0 ? "DELETE" : "GET", p, NULL, &r);
	free(p);
	if (ex != EX_OK)
		return ex;
	if (strcmp(argv[1], "url") == 0)
		printf("%s\n", jstr(resp_data(&r), "share_url") ? jstr(resp_data(&r), "share_url") : "");
	else if (c->tty)
		printf("deleted %s\n", argv[2]);
	resp_free(&r);
	return EX_OK;
}

/* ---- keys --------------------------------------------------------------- */

static int
cmd_keys(struct cli *c, int argc, char **argv)
{
	struct resp r;
	json_object *d;
	int ex;

	if (argc >= 2 && strcmp(argv[1], "list") == 0 && argc <= 3) {
		c->json |= argc == 3 && strcmp(argv[2], "--json") == 0;
		if (argc == 3 && !c->json)
			return usage();
		c->scope = "read";
		if ((ex = api_call(c, "GET", "/v1/api-keys", NULL, &r)) != EX_OK)
			return ex;
		d = resp_data(&r);
		for (size_t i = 0; d && i < jlen(d); i++) {
			json_object *k = json_object_array_get_idx(d, i), *sc;
			const char *top = "";

			if (c->json) {
				print_json(k);
				continue;
			}
			if (json_object_object_get_ex(k, "scopes", &sc) && jlen(sc) > 0)
				top = json_object_get_string(json_object_array_get_idx(sc,
				    jlen(sc) - 1));
			printf("%-36s  %-6s  %-10s  %-24s  %s\n", jstr(k, "id") ? jstr(k, "id") : "", top,
			    jstr(k, "hint") ? jstr(k, "hint") : "",
			    jstr(k, "revoked_at") ? "revoked" : "active", jstr(k, "name") ? jstr(k, "name") : "");
		}
		resp_free(&r);
		return EX_OK;
	}
	if (argc >= 2 && strcmp(argv[1], "create") == 0) {
		static const struct option opts[] = {
			{ "name", required_argument, NULL, 'n' }, { "scope", required_argument, NULL, 's' },
			{ "json", no_argument, NULL, 'j' }, { 0 }
		};
		const char *name = NULL, *scope = NULL;
		json_object *b, *sc;
		int ch;

		argc--, argv++;
		while ((ch = getopt_long(argc, argv, "n:s:j", opts, NULL)) != -1) {
			switch (ch) {
			case 'n': name = optarg; break;
			case 's': scope = optarg; break;
			case 'j': c->json = 1; break;
			default: return usage();
			}
		}
		if (name == NULL || scope == NULL || optind != argc)
			return usage();
		b = json_object_new_object();
		sc = json_object_new_array();
		json_object_array_add(sc, json_object_new_string(scope));
		json_object_object_add(b, "name", json_object_new_string(name));
		json_object_object_add(b, "scopes", sc);
		c->scope = "admin";
		ex = api_call(c, "POST", "/v1/api-keys", b, &r);
		json_object_put(b);
		if (ex != EX_OK)
			return ex;
		d = resp_data(&r);
		if (c->json)
			print_json(d);
		else
			printf("%s\n%s  (shown once: store it now)\n", jstr(d, "id") ? jstr(d, "id") : "",
			    jstr(d, "key") ? jstr(d, "key") : "");
		resp_free(&r);
		return EX_OK;
	}
	if (argc == 3 && strcmp(argv[1], "revoke") == 0) {
		char *p = pathf("/v1/api-keys/%s", argv[2], NULL);

		c->scope = "admin";
		ex = api_call(c, "DELETE", p, NULL, &r);
		free(p);
		if (ex != EX_OK)
			return ex;
		resp_free(&r);
		if (c->tty)
			printf("revoked %s\n", argv[2]);
		return EX_OK;
	}
	return usage();
}

/* ---- key-value ---------------------------------------------------------- */

static int
cmd_kv(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kv-key", required_argument, NULL, 'k' }, { "prefix", required_argument, NULL, 'p' },
		{ "limit", required_argument, NULL, 'n' }, { "ttl", required_argument, NULL, 't' }, { 0 }
	};
	const char *cred = getenv("CUBBY_KV_KEY"), *prefix = NULL, *op, *bucket;
	long long limit = -1, ttl = -1;
	struct resp r;
	struct buf u;
	char *eb, *ek = NULL;
	const char *method = NULL, *body = NULL;
	char *pos[6];
	int ch, ex, nargs, npos = 0;

	/* Not getopt: "incr KEY -2" has a negative number for an argument. */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		size_t n;

		for (ch = 0; opts[ch].name != NULL; ch++) {
			n = strlen(opts[ch].name);
			if (strncmp(a, "--", 2) == 0 && strncmp(a + 2, opts[ch].name, n) == 0 &&
			    (a[2 + n] == '\0' || a[2 + n] == '='))
				break;
		}
		if (opts[ch].name == NULL) {
			if (a[0] == '-' && !(a[1] >= '0' && a[1] <= '9') && a[1] != '.')
				return usage();
			pos[npos++] = argv[i];
			if (npos == 6)
				return usage();
			continue;
		}
		v = a[2 + n] == '=' ? a + 3 + n : i + 1 < argc ? argv[++i] : NULL;
		if (v == NULL)
			return usage();
		switch (opts[ch].val) {
		case 'k': cred = v; break;
		case 'p': prefix = v; break;
		case 'n':
			if (parse_ll(v, 1, 1000000000LL, &limit) != 0)
				return usage();
			break;
		case 't':
			if (parse_ll(v, 1, 1LL << 40, &ttl) != 0)
				return usage();
			break;
		}
	}
	if (npos < 2)
		return usage();
	argc = npos;
	argv = pos;
	optind = 0;
	bucket = argv[optind];
	op = argv[optind + 1];
	nargs = argc - optind - 2;
	argv += optind + 2;
	if (cred != NULL && !*cred)
		cred = NULL;
	if (strcmp(op, "get") == 0 && nargs == 1)
		method = "GET";
	else if (strcmp(op, "set") == 0 && nargs == 2)
		method = "POST", body = argv[1];
	else if (strcmp(op, "incr") == 0 && (nargs == 1 || nargs == 2))
		method = "PATCH", body = nargs == 2 ? argv[1] : "+1";
	else if (strcmp(op, "del") == 0 && nargs == 1)
		method = "DELETE";
	else if (strcmp(op, "ls") == 0 && nargs == 0)
		method = "GET";
	else
		return usage();
	buf_init(&u, 65536);
	eb = cli_escape(bucket);
	buf_printf(&u, "/api/v1/%s/", eb);
	free(eb);
	if (nargs > 0) {
		ek = cli_escape(argv[0]);
		buf_puts(&u, ek);
		free(ek);
	} else {
		char *ep = prefix ? cli_escape(prefix) : NULL;

		buf_printf(&u, "?format=text%s%s", ep ? "&prefix=" : "", ep ? ep : "");
		if (limit > 0)
			buf_printf(&u, "&limit=%lld", limit);
		free(ep);
	}
	if (ttl > 0 && body != NULL)
		buf_printf(&u, "?ttl=%lld", ttl);
	if (strcmp(op, "incr") == 0 && body[0] != '+' && body[0] != '-') {
		/* "incr k 5" means +5 */
		static char plus[64];

		snprintf(plus, sizeof plus, "+%s", body);
		body = plus;
	}
	c->scope = strcmp(op, "ls") == 0 ? "list (enumerate)" : strcmp(op, "get") == 0 ? "read" :
	    strcmp(op, "del") == 0 ? "delete" : "write";
	c->kv = 1;
	c->key_source = cred ? (getenv("CUBBY_KV_KEY") && cred == getenv("CUBBY_KV_KEY") ?
	    "CUBBY_KV_KEY" : "--kv-key") : NULL;
	ex = http_call(c, method, buf_cstr(&u), cred, body ? "text/plain" : NULL, body,
	    body ? strlen(body) : 0, NULL, 0, &r);
	buf_free(&u);
	if (ex != EX_OK)
		return ex;
	if (r.body.len > 0 && strcmp(op, "set") != 0 && strcmp(op, "del") != 0) {
		fwrite(r.body.data, 1, r.body.len, stdout);
		if (r.body.data[r.body.len - 1] != '\n' && (strcmp(op, "get") != 0 || c->tty))
			putchar('\n');
	}
	resp_free(&r);
	return EX_OK;
}

/* ---- main --------------------------------------------------------------- */

static void
on_signal(int sig)
{
	(void)sig;
	if (cli_interrupted++)
		_exit(EX_INTERRUPTED);   /* a second Ctrl-C: leave at once */
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "base-url", required_argument, NULL, 'b' }, { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' }, { 0 }
	};
	struct cli c;
	struct sigaction sa;
	const char *base_flag = NULL, *cmd;
	int ch, ex;

	memset(&c, 0, sizeof c);
	while ((ch = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'b': base_flag = optarg; break;
		case 'V': printf("cubby %s\n", PACKAGE_VERSION); return EX_OK;
		case 'h': fputs(usage_text, stdout); return EX_OK;
		default: return usage();
		}
	}
	if (optind >= argc)
		return usage();
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	optind = 0;   /* glibc: start afresh, permuting again */
	if (crypto_init() != 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		cli_err("cannot initialise libgcrypt or libcurl");
		return EX_SERVER;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	c.tty = isatty(STDERR_FILENO);
	c.config_path = config_default_path();
	if ((ex = cli_load(&c, base_flag)) != EX_OK)
		goto out;
	if (strcmp(cmd, "login") == 0)
		ex = cmd_login(&c, argc, argv, base_flag);
	else if (strcmp(cmd, "whoami") == 0)
		ex = argc == 1 ? cmd_whoami(&c) : argc == 2 && strcmp(argv[1], "--json") == 0 ?
		    (c.json = 1, cmd_whoami(&c)) : usage();
	else if (strcmp(cmd, "config") == 0)
		ex = cmd_config(&c, argc, argv);
	else if (strcmp(cmd, "upload") == 0)
		ex = cmd_upload_args(&c, argc, argv);
	else if (strcmp(cmd, "ls") == 0)
		ex = cmd_ls(&c, argc, argv);
	else if (strcmp(cmd, "get") == 0)
		ex = cmd_get(&c, argc, argv);
	else if (strcmp(cmd, "url") == 0)
		ex = cmd_url(&c, argc, argv);
	else if (strcmp(cmd, "rm") == 0)
		ex = cmd_rm(&c, argc, argv);
	else if (strcmp(cmd, "reprocess") == 0)
		ex = cmd_reprocess(&c, argc, argv);
	else if (strcmp(cmd, "share") == 0)
		ex = cmd_share(&c, argc, argv);
	else if (strcmp(cmd, "spaces") == 0)
		ex = cmd_spaces(&c, argc, argv);
	else if (strcmp(cmd, "keys") == 0)
		ex = cmd_keys(&c, argc, argv);
	else if (strcmp(cmd, "kv") == 0)
		ex = cmd_kv(&c, argc, argv);
	else {
		cli_err("unknown command '%s'", cmd);
		ex = usage();
	}
out:
	if (fflush(stdout) != 0 && ex == EX_OK) {
		cli_err("stdout: %s", strerror(errno));
		ex = EX_FAIL;
	}
	if (c.easy != NULL)
		curl_easy_cleanup(c.easy);
	if (c.api_key != NULL) {
		memset(c.api_key, 0, strlen(c.api_key));
		free(c.api_key);
	}
	free(c.base_url);
	free(c.config_path);
	curl_global_cleanup();
	return ex;
}
