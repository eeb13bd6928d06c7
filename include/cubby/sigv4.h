/* sigv4.h - AWS Signature Version 4 (HMAC-SHA256, with libgcrypt): the
 * Authorization header of a request, and presigned query URLs. Used for
 * every request to an S3-compatible store and for the URLs that let
 * clients reach the bucket directly.
 *
 * Conventions: a path is given decoded ("/my key.txt") and encoded once
 * (S3's rule; normalize adds the general services' removal of ".", ".."
 * and empty segments). A query is given as on the wire and re-encoded
 * canonically. Several headers of one name are joined with commas, in
 * order (the classic test suite's convention, also for folded lines). */
#ifndef CUBBY_SIGV4_H
#define CUBBY_SIGV4_H

#include <stddef.h>

struct buf;

struct sigv4_key {
	const char *access_key;
	const char *secret_key;
	const char *session_token;      /* NULL or "": none */
	const char *region;             /* "us-east-1" */
	const char *service;            /* "s3" */
};

struct sigv4_header {
	const char *name;
	const char *value;
};

struct sigv4_req {
	const char *method;
	const char *path;               /* decoded */
	const char *query;              /* raw, without '?'; NULL: none */
	const struct sigv4_header *headers;     /* what is signed; host first */
	size_t nheaders;
	const char *payload_hash;       /* hex SHA-256, or "UNSIGNED-PAYLOAD" */
	int normalize;                  /* 0 for S3 */
};

#define SIGV4_EMPTY_SHA256 \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* amz_date: "YYYYMMDDTHHMMSSZ" (16 characters), for unix time t. */
void sigv4_date(long long t, char amz_date[17]);
/* Append the canonical URI of a decoded path (encoded once, '/' kept). */
int sigv4_encode_path(struct buf *out, const char *path, int normalize);
/* Append s percent-encoded: every byte but A-Z a-z 0-9 - . _ ~ (and '/'
 * when keep_slash). */
int sigv4_encode(struct buf *out, const char *s, size_t n, int keep_slash);

/* Task 1: the canonical request. extra_query, when not NULL, is more of
 * the query (raw, as on the wire) signed with it (the presign fields).
 * 0, or -1 when out's cap is reached or the input is malformed. */
int sigv4_canonical_request(const struct sigv4_req *r, const char *extra_query,
    struct buf *out);
/* Task 2: the string to sign for a canonical request. */
int sigv4_string_to_sign(const struct sigv4_key *k, const char *amz_date,
    const char *creq, struct buf *out);
/* Tasks 3 and 4: the hex signature of a string to sign. */
void sigv4_signature(const struct sigv4_key *k, const char *amz_date,
    const char *sts, char hex[65]);

/* The Authorization header's value. r's headers must already hold
 * x-amz-date (and x-amz-security-token and x-amz-content-sha256 when they
 * are sent). comma_space: ", " between the parts (the general suite) or
 * "," (S3's own examples); servers accept both. */
int sigv4_authorization(const struct sigv4_key *k, const struct sigv4_req *r,
    const char *amz_date, int comma_space, struct buf *out);
/* The X-Amz-* fields a presigned URL signs (raw query text, without
 * X-Amz-Signature): Algorithm, Credential, Date, Expires, SignedHeaders,
 * and Security-Token when the key has one and sign_token. */
int sigv4_presign_fields(const struct sigv4_key *k, const struct sigv4_req *r,
    const char *amz_date, long expires, int sign_token, struct buf *out);
/* A presigned URL's query: r's own query, then X-Amz-Algorithm,
 * -Credential, -Date, -Expires, -SignedHeaders (and -Security-Token when
 * the key has one and sign_token), canonically ordered, then
 * X-Amz-Signature. r's headers are what the URL's user must send (at least
 * host); r->payload_hash is usually "UNSIGNED-PAYLOAD" for S3. */
int sigv4_presign_query(const struct sigv4_key *k, const struct sigv4_req *r,
    const char *amz_date, long expires, int sign_token, struct buf *out);

#endif
