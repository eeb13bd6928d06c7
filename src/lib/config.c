/* config.c - parse cubby.conf and CUBBY_* environment overrides.
 * Unknown keys and bad values are errors with a line number, never ignored. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cubby/config.h"
#include "cubby/log.h"
#include "cubby/util.h"
#include "cubby/xmalloc.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR "/var"
#endif

enum ctype { C_STR, C_INT, C_SIZE, C_BOOL, C_MODE };

struct ckey {
	const char *name;
	enum ctype type;
	size_t off;
	const char *def;
	long long min, max;
};

#define F(field) offsetof(struct cb_config, field)
static const struct ckey keys[] = {
	{ "listen",          C_STR,  F(listen),          "", 0, 0 },
	{ "listen_mode",     C_MODE, F(listen_mode),     "0660", 0, 07777 },
	{ "listen_owner",    C_STR,  F(listen_owner),    "", 0, 0 },
	{ "backlog",         C_INT,  F(backlog),         "1024", 1, 65535 },
	{ "workers",         C_INT,  F(workers),         "0", 0, 1024 },
	{ "stream_listen",   C_STR,  F(stream_listen),   "auto", 0, 0 },
	{ "stream_workers",  C_INT,  F(stream_workers),  "64", 0, 512 },
	{ "body_min_rate",   C_SIZE, F(body_min_rate),   "1k", 0, 1LL << 40 },
	{ "body_min_rate_after", C_INT, F(body_min_rate_after), "30", 1, 86400 },
	{ "max_requests",    C_INT,  F(max_requests),    "0", 0, 1LL << 40 },
	{ "drain_timeout",   C_INT,  F(drain_timeout),   "30", 0, 3600 },
	{ "data_dir",        C_STR,  F(data_dir),        LOCALSTATEDIR "/lib/cubby", 0, 0 },
	{ "db_path",         C_STR,  F(db_path),         "", 0, 0 },
	{ "master_key_file", C_STR,  F(master_key_file), "", 0, 0 },
	{ "synchronous",     C_STR,  F(synchronous),     "normal", 0, 0 },
	{ "busy_timeout_ms", C_INT,  F(busy_timeout_ms), "5000", 0, 600000 },
	{ "log_level",       C_STR,  F(log_level),       "info", 0, 0 },
	{ "access_log",      C_BOOL, F(access_log),      "on", 0, 1 },
	{ "access_log_format", C_STR, F(access_log_format), "text", 0, 0 },
	{ "log_file",        C_STR,  F(log_file),        "", 0, 0 },
	{ "base_path",       C_STR,  F(base_path),       "", 0, 0 },
	{ "public_url",      C_STR,  F(public_url),      "", 0, 0 },
	{ "share_path",      C_STR,  F(share_path),      "/s", 0, 0 },
	{ "admin_api_key",   C_STR,  F(admin_api_key),   "", 0, 0 },
	{ "metrics_token",   C_STR,  F(metrics_token),   "", 0, 0 },
	{ "allowed_hosts",   C_STR,  F(allowed_hosts),   "", 0, 0 },
	{ "max_body",        C_SIZE, F(max_body),        "1m", 0, 1LL << 50 },
	{ "webhook_allow_private", C_BOOL, F(webhook_allow_private), "off", 0, 1 },
	{ "s3_allow_private", C_BOOL, F(s3_allow_private), "off", 0, 1 },
	{ "blob_backend",    C_STR,  F(blob_backend),    "fs", 0, 0 },
	{ "s3_endpoint",     C_STR,  F(s3_endpoint),     "", 0, 0 },
	{ "s3_region",       C_STR,  F(s3_region),       "us-east-1", 0, 0 },
	{ "s3_bucket",       C_STR,  F(s3_bucket),       "", 0, 0 },
	{ "s3_access_key",   C_STR,  F(s3_access_key),   "", 0, 0 },
	{ "s3_secret_key",   C_STR,  F(s3_secret_key),   "", 0, 0 },
	{ "s3_path_style",   C_BOOL, F(s3_path_style),   "on", 0, 1 },
	{ "s3_prefix",       C_STR,  F(s3_prefix),       "", 0, 0 },
	{ "s3_sha256",       C_BOOL, F(s3_sha256),       "off", 0, 1 },
	{ "cors_origins",    C_STR,  F(cors_origins),    "", 0, 0 },
	{ "cors_headers",    C_STR,  F(cors_headers),
	  "Authorization, Content-Type, Range, If-None-Match, X-Request-Id", 0, 0 },
	{ "cors_max_age",    C_INT,  F(cors_max_age),    "600", 0, 86400 },
	{ "download_offload", C_STR, F(download_offload), "off", 0, 0 },
	{ "accel_prefix",    C_STR,  F(accel_prefix),    "/_cubby_blobs", 0, 0 },
	{ "rate_limit_ip",   C_INT,  F(rate_limit_ip),   "0", 0, 1000000000 },
	{ "kv_bucket_create_limit", C_INT, F(kv_bucket_create_limit), "300", 0, 1000000000 },
	{ "kv_bucket_max_keys", C_INT, F(kv_bucket_max_keys), "100000", 0, 1LL << 50 },
	{ "kv_bucket_max_bytes", C_SIZE, F(kv_bucket_max_bytes), "64m", 0, 1LL << 50 },
	{ "kv_max_keys",     C_INT,  F(kv_max_keys),     "10000000", 0, 1LL << 50 },
	{ "kv_max_bytes",    C_SIZE, F(kv_max_bytes),    "2g", 0, 1LL << 50 },
	{ "rate_limit_key",  C_INT,  F(rate_limit_key),  "0", 0, 1000000000 },
	{ "rate_limit_window", C_INT, F(rate_limit_window), "60", 1, 86400 },
	{ "media",           C_BOOL, F(media),           "on", 0, 1 },
	{ "media_workers",   C_INT,  F(media_workers),   "0", 0, 64 },
	{ "media_timeout",   C_INT,  F(media_timeout),   "120", 1, 86400 },
	{ "media_max_pixels", C_INT, F(media_max_pixels), "100000000", 1, 1LL << 40 },
	{ "media_memory",    C_SIZE, F(media_memory),    "2g", 0, 1LL << 50 },
	{ "media_max_bytes", C_SIZE, F(media_max_bytes), "1g", 1, 1LL << 50 },
	{ "thumb_size",      C_INT,  F(thumb_size),      "320", 16, 4096 },
	{ "preview_size",    C_INT,  F(preview_size),    "1600", 0, 8192 },
	{ "media_helper",    C_STR,  F(media_helper),    "", 0, 0 },
	{ "ffmpeg",          C_STR,  F(ffmpeg),          "ffmpeg", 0, 0 },
	{ "ffprobe",         C_STR,  F(ffprobe),         "ffprobe", 0, 0 },
};
#undef F
#define NKEYS (sizeof keys / sizeof keys[0])

static const struct ckey *
find_key(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static int
set_value(struct cb_config *cfg, const struct ckey *k, const char *v)
{
	char *base = (char *)cfg + k->off;
	long long n;
	int b;

	switch (k->type) {
	case C_STR: {
		char **sp = (char **)(void *)base;
		free(*sp);
		*sp = xstrdup(v);
		return 0;
	}
	case C_INT:
		if (parse_ll(v, k->min, k->max, &n) != 0)
			return -1;
		*(long long *)(void *)base = n;
		return 0;
	case C_SIZE:
		if (parse_size(v, k->min, k->max, &n) != 0)
			return -1;
		*(long long *)(void *)base = n;
		return 0;
	case C_MODE: {
		char *end;
		errno = 0;
		n = strtoll(v, &end, 8);
		if (*v == '\0' || *end != '\0' || errno || n < k->min || n > k->max)
			return -1;
		*(long long *)(void *)base = n;
		return 0;
	}
	case C_BOOL:
		if ((b = parse_bool(v)) < 0)
			return -1;
		*(int *)(void *)base = b;
		return 0;
	}
	return -1;
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int
read_file(struct cb_config *cfg, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	int lineno = 0;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		char *s, *eq, *k, *v;
		const struct ckey *key;
		size_t n;

		lineno++;
		n = strlen(line);
		if (n == sizeof line - 1 && line[n - 1] != '\n') {
			snprintf(err, errlen, "%s:%d: line too long", path, lineno);
			goto fail;
		}
		s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		if ((eq = strchr(s, '=')) == NULL) {
			snprintf(err, errlen, "%s:%d: expected key = value", path, lineno);
			goto fail;
		}
		*eq = '\0';
		k = trim(s);
		v = trim(eq + 1);
		if (n > 1 && *v == '"' && v[strlen(v) - 1] == '"' && strlen(v) >= 2) {
			v[strlen(v) - 1] = '\0';
			v++;
		}
		if ((key = find_key(k)) == NULL) {
			snprintf(err, errlen, "%s:%d: unknown key '%s'", path, lineno, k);
			goto fail;
		}
		if (set_value(cfg, key, v) != 0) {
			snprintf(err, errlen, "%s:%d: bad value for '%s'", path, lineno, k);
			goto fail;
		}
	}
	fclose(f);
	return 0;
fail:
	fclose(f);
	return -1;
}

static void
set_derived(char **field, const char *dir, const char *name)
{
	size_t n;

	if (**field != '\0')
		return;
	n = strlen(dir) + strlen(name) + 2;
	free(*field);
	*field = xmalloc(n);
	snprintf(*field, n, "%s/%s", dir, name);
}

int
config_load(struct cb_config *cfg, const char *path, char *err, size_t errlen)
{
	const char *env;

	memset(cfg, 0, sizeof *cfg);
	for (size_t i = 0; i < NKEYS; i++)
		if (set_value(cfg, &keys[i], keys[i].def) != 0) {
			snprintf(err, errlen, "bad built-in default for %s", keys[i].name);
			return -1;
		}
	cfg->config_path = xstrdup("");

	if (path == NULL && (env = getenv("CUBBY_CONFIG")) != NULL && *env)
		path = env;
	if (path == NULL && access(SYSCONFDIR "/cubby/cubby.conf", R_OK) == 0)
		path = SYSCONFDIR "/cubby/cubby.conf";
	if (path != NULL) {
		if (read_file(cfg, path, err, errlen) != 0)
			return -1;
		free(cfg->config_path);
		cfg->config_path = xstrdup(path);
	}

	for (size_t i = 0; i < NKEYS; i++) {
		char var[64] = "CUBBY_";
		size_t j;
		for (j = 0; keys[i].name[j] && j + 7 < sizeof var; j++)
			var[6 + j] = (char)toupper((unsigned char)keys[i].name[j]);
		var[6 + j] = '\0';
		if ((env = getenv(var)) == NULL)
			continue;
		if (set_value(cfg, &keys[i], env) != 0) {
			snprintf(err, errlen, "environment %s: bad value", var);
			return -1;
		}
	}
	/* The file API documents ADMIN_API_KEY; CUBBY_ADMIN_API_KEY wins. */
	if (getenv("CUBBY_ADMIN_API_KEY") == NULL &&
	    (env = getenv("ADMIN_API_KEY")) != NULL)
		set_value(cfg, find_key("admin_api_key"), env);

	if (strcmp(cfg->synchronous, "normal") != 0 &&
	    strcmp(cfg->synchronous, "full") != 0) {
		snprintf(err, errlen, "synchronous must be normal or full");
		return -1;
	}
	if (strcmp(cfg->download_offload, "off") != 0 &&
	    strcmp(cfg->download_offload, "auto") != 0 &&
	    strcmp(cfg->download_offload, "x-sendfile") != 0 &&
	    strcmp(cfg->download_offload, "x-accel-redirect") != 0) {
		snprintf(err, errlen, "download_offload must be off, auto, x-sendfile or x-accel-redirect");
		return -1;
	}
	if (strcmp(cfg->access_log_format, "text") != 0 &&
	    strcmp(cfg->access_log_format, "json") != 0) {
		snprintf(err, errlen, "access_log_format must be text or json");
		return -1;
	}
	if (log_level_parse(cfg->log_level) < 0) {
		snprintf(err, errlen, "log_level must be error, warn, info or debug");
		return -1;
	}
	if (strcmp(cfg->blob_backend, "fs") != 0 && strcmp(cfg->blob_backend, "s3") != 0) {
		snprintf(err, errlen, "blob_backend must be fs or s3");
		return -1;
	}
	if (strcmp(cfg->blob_backend, "s3") == 0) {
		const char *missing = !*cfg->s3_endpoint ? "s3_endpoint" : !*cfg->s3_bucket ?
		    "s3_bucket" : !*cfg->s3_access_key ? "s3_access_key" : !*cfg->s3_secret_key ?
		    "s3_secret_key" : !*cfg->s3_region ? "s3_region" : NULL;
		if (missing != NULL) {
			snprintf(err, errlen, "blob_backend = s3 needs %s", missing);
			return -1;
		}
		if (strncmp(cfg->s3_endpoint, "http://", 7) != 0 &&
		    strncmp(cfg->s3_endpoint, "https://", 8) != 0) {
			snprintf(err, errlen, "s3_endpoint must be an http:// or https:// URL");
			return -1;
		}
		if (cfg->s3_prefix[0] == '/' || strstr(cfg->s3_prefix, "..") != NULL) {
			snprintf(err, errlen, "s3_prefix is a key prefix such as cubby/, not starting with /");
			return -1;
		}
	}
	if (*cfg->data_dir == '\0') {
		snprintf(err, errlen, "data_dir must not be empty");
		return -1;
	}
	/* A base path is stored without its trailing slash. */
	for (size_t n = strlen(cfg->base_path); n > 0 && cfg->base_path[n - 1] == '/'; n--)
		cfg->base_path[n - 1] = '\0';
	if (*cfg->public_url && ((strncmp(cfg->public_url, "http://", 7) != 0 &&
	    strncmp(cfg->public_url, "https://", 8) != 0) || strpbrk(cfg->public_url, " \"<>\\") != NULL)) {
		snprintf(err, errlen, "public_url must be an http:// or https:// URL");
		return -1;
	}
	for (size_t n = strlen(cfg->public_url); n > 0 && cfg->public_url[n - 1] == '/'; n--)
		cfg->public_url[n - 1] = '\0';
	for (size_t n = strlen(cfg->share_path); n > 1 && cfg->share_path[n - 1] == '/'; n--)
		cfg->share_path[n - 1] = '\0';
	if (cfg->share_path[0] != '/' || cfg->share_path[1] == '\0' ||
	    strspn(cfg->share_path, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_-.") !=
	    strlen(cfg->share_path)) {
		snprintf(err, errlen, "share_path must be a URL path such as /s");
		return -1;
	}
	set_derived(&cfg->db_path, cfg->data_dir, "cubby.db");
	set_derived(&cfg->master_key_file, cfg->data_dir, "master.key");
	return 0;
}

void
config_free(struct cb_config *cfg)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].type == C_STR) {
			char **sp = (char **)(void *)((char *)cfg + keys[i].off);
			free(*sp);
			*sp = NULL;
		}
	free(cfg->config_path);
	cfg->config_path = NULL;
}

int
config_workers(const struct cb_config *cfg)
{
	long n;

	if (cfg->workers > 0)
		return (int)cfg->workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 2;
}
