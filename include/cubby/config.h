/* config.h - the operator's settings: a key = value file, each key
 * overridable by the environment variable CUBBY_<KEY>.
 * Parsing lives here, apart from the code it configures. */
#ifndef CUBBY_CONFIG_H
#define CUBBY_CONFIG_H

#include <stddef.h>

struct cb_config {
	char *listen;           /* "" = inherit fd 0 (or CGI); unix:/p or host:port */
	long long listen_mode;  /* permissions of a unix socket, e.g. 0660 */
	char *listen_owner;     /* user[:group] for a unix socket, "" = unchanged */
	long long backlog;
	long long workers;      /* 0 = number of CPUs */
	char *stream_listen;    /* the stream pool's socket ("" = none; "auto":
	                           cubby-stream.sock beside a unix listen, else in
	                           RUNSTATEDIR/cubby, where the snippets look) */
	long long stream_workers; /* its workers (0 = no stream pool) */
	long long body_min_rate;  /* bytes a second a body must average... */
	long long body_min_rate_after; /* ...once it has taken this many seconds */
	long long max_requests; /* recycle a worker after this many, 0 = never */
	long long drain_timeout;/* seconds SIGTERM waits for in-flight requests */
	char *data_dir;
	char *db_path;          /* "" = data_dir/cubby.db */
	char *master_key_file;  /* "" = data_dir/master.key */
	char *synchronous;      /* normal | full */
	long long busy_timeout_ms;
	char *log_level;        /* error | warn | info | debug */
	int access_log;
	char *access_log_format;   /* "text" or "json" */
	char *log_file;            /* "" = stderr */
	char *base_path;        /* URL prefix stripped before routing, "" = none */
	char *public_url;       /* how clients reach Cubby, for absolute URLs ("" = from Host) */
	char *share_path;       /* where the web server serves the share page ("/s") */
	char *admin_api_key;    /* file API admin key; also ADMIN_API_KEY */
	char *metrics_token;    /* /metrics needs "Bearer <it>" when set */
	char *allowed_hosts;    /* Host names URLs may be built from ("" = any) */
	long long max_body;     /* default cap for routes without their own */
	int webhook_allow_private; /* let webhooks reach internal addresses */
	int s3_allow_private;   /* let S3 stores be at internal addresses */
	char *blob_backend;     /* fs | s3 */
	char *s3_endpoint;      /* blob_backend = s3: scheme://host[:port] */
	char *s3_region;
	char *s3_bucket;
	char *s3_access_key;
	char *s3_secret_key;    /* also CUBBY_S3_SECRET_KEY */
	int s3_path_style;
	char *s3_prefix;        /* key prefix inside the bucket */
	int s3_sha256;          /* read objects in buckets back for their SHA-256 */
	char *cors_origins;     /* "" = no CORS; "*"; or origins, comma-separated */
	char *cors_headers;     /* request headers a browser may send */
	long long cors_max_age; /* seconds a preflight may be cached */
	char *download_offload; /* off | auto | x-sendfile | x-accel-redirect */
	char *accel_prefix;     /* nginx internal location of data_dir/blobs */
	long long rate_limit_ip;    /* requests per window per client address, 0 = off */
	long long kv_bucket_create_limit; /* anonymous bucket creations per hour per address, 0 = off */
	long long kv_bucket_max_keys;  /* keys one KV bucket may hold, 0 = no limit */
	long long kv_bucket_max_bytes; /* bytes (keys and values) one bucket may hold */
	long long kv_max_keys;         /* keys all buckets together may hold */
	long long kv_max_bytes;        /* bytes all buckets together may hold */
	long long rate_limit_key;   /* requests per window per credential, 0 = off */
	long long rate_limit_window;/* seconds */
	int media;              /* make thumbnails and previews */
	long long media_workers;/* processors at once, 0 = CPUs (at most 4) */
	long long media_timeout;/* seconds one file may take */
	long long media_max_pixels; /* larger images and videos are refused */
	long long media_memory; /* address space of a processor, bytes */
	long long media_max_bytes;  /* files in a bucket: fetched up to this */
	long long thumb_size, preview_size; /* longest edge, px; preview 0: none */
	char *media_helper;     /* "" = cubby-media beside cubby-fcgi, or in bindir */
	char *ffmpeg, *ffprobe; /* "" = no video and audio metadata */
	char *config_path;      /* the file that was read, or "" */
};

/* Defaults, then the file at path (NULL: $CUBBY_CONFIG or the installed
 * default if present), then the environment. 0 on success; otherwise -1
 * with a message in err. The strings are owned by cfg. */
int config_load(struct cb_config *cfg, const char *path, char *err,
    size_t errlen);
/* Release what config_load allocated. */
void config_free(struct cb_config *cfg);
/* Number of worker processes to run (resolves workers = 0). */
int config_workers(const struct cb_config *cfg);

#endif
