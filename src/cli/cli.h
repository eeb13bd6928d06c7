/* cli.h - the `cubby` command-line client: shared state, the HTTP layer
 * and the exit codes. The client is an ordinary HTTP user of the asset
 * and key-value APIs; it never reads the server's files or database. */
#ifndef CUBBY_CLI_H
#define CUBBY_CLI_H

#include <curl/curl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stddef.h>

#include "cubby/buf.h"

/* Exit codes (cubby(1) lists them). */
enum {
	EX_OK = 0,
	EX_FAIL = 1,        /* the server refused: validation, conflict, quota */
	EX_USAGE = 2,       /* bad command line or configuration */
	EX_AUTH = 3,        /* 401 or 403 */
	EX_NOTFOUND = 4,    /* 404 */
	EX_NETWORK = 5,     /* no answer: connection, DNS, timeout */
	EX_SERVER = 6,      /* 5xx */
	EX_INTERRUPTED = 130
};

#define CLI_BODY_MAX (64u << 20)   /* cap on any API answer read into memory */

struct cli {
	char *config_path;
	char *base_url;      /* without a trailing '/' */
	char *api_key;       /* NULL when none is configured */
	const char *key_source;
	int json;            /* --json: machine output */
	int tty;             /* stderr is a terminal: progress bars */
	int kv;              /* a key-value command: the credential is a bucket's */
	const char *scope;   /* scope the running command needs (403 message) */
	CURL *easy;          /* API calls share it: one kept connection */
	char err_code[64];   /* the last error's code ("network_error", ...) */
	/* When set, runs an API call's handle to completion instead of
	 * curl_easy_perform: upload keeps its PUTs moving meanwhile (a
	 * server whose workers all hold our PUTs answers nothing else). */
	CURLcode (*perform)(void *arg, CURL *h);
	void *perform_arg;
};

/* One HTTP answer. json is set when the body parsed as JSON. */
struct resp {
	long status;
	struct buf body;
	json_object *json;
};

extern volatile sig_atomic_t cli_interrupted;

/* Print "cubby: <message>" to stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Send method path (relative to base_url, or an absolute URL) with the
 * API key as Bearer and an optional JSON body (not consumed). A 2xx
 * answer returns EX_OK with *r filled (the caller runs resp_free);
 * anything else prints what went wrong (the server's error code, and
 * the scope needed on a 403) and returns the exit code, *r freed. */
int api_call(struct cli *c, const char *method, const char *path,
    json_object *body, struct resp *r);
/* Like api_call, with a raw body of a given content type and extra
 * headers (NULL-terminated list, may be NULL), and no Bearer key when
 * bearer is NULL. Non-2xx answers come back as EX_OK when keep_errors
 * is set, so the caller can read r->status itself. */
int http_call(struct cli *c, const char *method, const char *url,
    const char *bearer, const char *ctype, const void *data, size_t len,
    const char *const *headers, int keep_errors, struct resp *r);
void resp_free(struct resp *r);
/* Exit code and message for a non-2xx answer. */
int resp_fail(struct cli *c, const struct resp *r);
/* Exit code for a libcurl failure, after printing it. */
int curl_fail(CURLcode rc, const char *errbuf, const char *url);

/* Common curl options: timeouts, user agent, no signals. */
void cli_curl_defaults(CURL *h);

/* URL-escape s into a new string (free() it). */
char *cli_escape(const char *s);
/* data.<name> of an asset-API answer, or NULL. */
json_object *resp_data(const struct resp *r);
const char *jstr(json_object *o, const char *key);
/* *out = a copy of the string data.<key> of r; r is freed either way.
 * EX_SERVER, after a message naming what, when the answer lacks it. */
int resp_take_string(struct resp *r, const char *key, const char *what, char **out);
long long jint(json_object *o, const char *key);
/* Length of o if it is an array, else 0. */
size_t jlen(json_object *o);

/* Human units: "12.3 MiB". */
void fmt_bytes(char *out, size_t outlen, double n);

/* upload.c */
struct upload_opts {
	char **paths;
	int npaths;
	const char *dir;
	const char *tags;       /* "a,b" */
	const char *space;      /* id, short id or exact name */
	int multipart;          /* force multipart */
	int hash;               /* -1 auto (skip above 500 MiB), 0 never, 1 always */
	long long part_size;    /* 0: the server's choice */
	int parallel;           /* part uploads in flight, across all files */
};
int cmd_upload(struct cli *c, const struct upload_opts *o);

/* Resolve a space named by id, short id or exact name to its spc_ id
 * (a new string). Returns EX_OK or an exit code after printing why. */
int space_resolve(struct cli *c, const char *name, char **id_out);
/* Publish n asset ids into the space; prints per-asset failures. */
int space_publish(struct cli *c, const char *space_id, char **ids, int n);

#endif
