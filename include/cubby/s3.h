/* s3.h - a client for S3-compatible stores (AWS S3, R2, MinIO, Ceph RGW,
 * Garage, Swift's s3api) over libcurl, every request signed with SigV4.
 * One connection cache per process (workers are single-threaded), reused
 * across requests. Every request passes the SSRF guard (outbound.h).
 * Retries with back-off on network errors and 5xx, never on 4xx.
 * Responses read into memory are capped; error bodies are parsed for S3's
 * <Code> and <Message>. Keys are given decoded and encoded once. */
#ifndef CUBBY_S3_H
#define CUBBY_S3_H

#include <stddef.h>
#include <stdint.h>

struct buf;

struct s3_target {
	const char *endpoint;   /* "https://host[:port]" */
	const char *region;     /* "us-east-1", "auto" (R2) */
	const char *bucket;     /* "" or NULL: the service (ListBuckets) */
	const char *access_key;
	const char *secret_key;
	int path_style;         /* host/bucket/key, else bucket.host/key */
	int allow_private;      /* loopback and private addresses allowed */
	int once;               /* no retries (a readiness probe) */
};

struct s3_result {
	long status;            /* HTTP status; 0 when no answer came */
	char code[64];          /* S3's error code, or a local one */
	char message[320];      /* what went wrong, for logs and API errors */
	char etag[136];         /* ETag of a PUT/part/HEAD, quotes kept */
	int64_t length;         /* Content-Length of a HEAD or GET */
	char upload_id[512];    /* CreateMultipartUpload */
	int attempts;
};

struct s3_part {
	int number;
	const char *etag;
};

/* 0 when the store answered 2xx; else -1 with res->status, code, message. */
int s3_head_bucket(const struct s3_target *t, struct s3_result *res);
int s3_head(const struct s3_target *t, const char *key, struct s3_result *res);
int s3_put_mem(const struct s3_target *t, const char *key, const void *data,
    size_t n, const char *content_type, struct s3_result *res);
/* len bytes of fd from off; sha_hex: their SHA-256 (signed), or NULL to
 * send UNSIGNED-PAYLOAD. */
int s3_put_file(const struct s3_target *t, const char *key, int fd, int64_t off,
    int64_t len, const char *sha_hex, const char *content_type,
    struct s3_result *res);
/* GET bytes [from, to] (to < 0: to the end; from 0 and to < 0: all)
 * into out, capped by out's max (code TooLarge past it). */
int s3_get_mem(const struct s3_target *t, const char *key, int64_t from,
    int64_t to, struct buf *out, struct s3_result *res);
/* GET a whole object, its body handed to fn piece by piece (non-zero
 * from fn stops it: -1). A retried GET calls reset first, so fn sees the
 * body once from its start. */
int s3_get_stream(const struct s3_target *t, const char *key,
    int (*fn)(void *arg, const void *p, size_t n), void (*reset)(void *arg),
    void *arg, struct s3_result *res);
/* CopyObject in the bucket, from key to key (the store copies; no bytes
 * pass here), only while the source's ETag is if_match (when given: 412
 * PreconditionFailed otherwise). */
int s3_copy(const struct s3_target *t, const char *from, const char *to,
    const char *if_match, struct s3_result *res);
int s3_delete(const struct s3_target *t, const char *key, struct s3_result *res);
/* ListObjectsV2, one page of at most max keys under prefix: cb per key
 * (non-zero stops). The number listed, or -1. */
int s3_list(const struct s3_target *t, const char *prefix, int max,
    int (*cb)(void *arg, const char *key, int64_t size), void *arg,
    struct s3_result *res);
/* ListObjectsV2 over every page under prefix: cb per key with its size
 * and LastModified (unix seconds; 0 when unreadable); non-zero stops.
 * The number listed, or -1. */
int s3_list_all(const struct s3_target *t, const char *prefix,
    int (*cb)(void *arg, const char *key, int64_t size, int64_t mtime), void *arg,
    struct s3_result *res);
/* ListBuckets: cb per bucket (name, creation date as given). Count or -1. */
int s3_list_buckets(const struct s3_target *t,
    int (*cb)(void *arg, const char *name, const char *created), void *arg,
    struct s3_result *res);
/* CreateBucket in t->region (a LocationConstraint unless us-east-1). */
int s3_create_bucket(const struct s3_target *t, struct s3_result *res);

int s3_mpu_create(const struct s3_target *t, const char *key,
    const char *content_type, struct s3_result *res);
int s3_mpu_part_file(const struct s3_target *t, const char *key,
    const char *upload_id, int part, int fd, int64_t off, int64_t len,
    struct s3_result *res);
int s3_mpu_complete(const struct s3_target *t, const char *key,
    const char *upload_id, const struct s3_part *parts, size_t n,
    struct s3_result *res);
int s3_mpu_abort(const struct s3_target *t, const char *key,
    const char *upload_id, struct s3_result *res);
/* ListParts: cb per part (number, etag with quotes, size). Count or -1. */
int s3_mpu_list_parts(const struct s3_target *t, const char *key,
    const char *upload_id,
    int (*cb)(void *arg, int number, const char *etag, int64_t size), void *arg,
    struct s3_result *res);

/* A presigned URL for method on key (query: more parameters, raw, e.g.
 * "partNumber=3&uploadId=..."), valid for expires seconds from now.
 * content_type, when not NULL, is signed: the request must carry exactly
 * that Content-Type. */
int s3_presign(const struct s3_target *t, const char *method, const char *key,
    const char *query, const char *content_type, long expires, struct buf *url);

/* Check a target's fields (endpoint scheme and host, bucket name, region):
 * 0, or -1 with why (names the field). */
int s3_target_check(const struct s3_target *t, int need_bucket, const char **field,
    const char **why);

#endif
