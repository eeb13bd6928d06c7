/* kv.c - the key-value core: buckets, the access matrix, value inference,
 * entries with TTLs, counters, listing and transactions.
 * Never stores a raw credential; never lets a token reach outside its
 * prefix; a failing request leaves nothing half-written (every multi-row
 * change is one BEGIN IMMEDIATE transaction). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "cubby/arena.h"
#include "cubby/base64.h"
#include "cubby/db.h"
#include "cubby/json.h"
#include "cubby/kv.h"
#include "cubby/log.h"
#include "cubby/url.h"
#include "cubby/util.h"
#include "cubby/uuid.h"
#include "cubby/xmalloc.h"

#define CRED_LABEL    "cubby/kv-credential/v1"
#define SIGNING_LABEL "cubby/kv-signing-key/v1"

/* ---- ids, hashes, sealing ------------------------------------------- */

/* Keyed hash of a credential, bound to its bucket. */
static void
cred_hash(const unsigned char master[CB_KEYLEN], const char *bucket,
    const char *cred, unsigned char out[32])
{
	unsigned char sub[CB_KEYLEN];
	char msg[37 + 1 + KV_CRED_MAX + 1];
	int n;

	masterkey_derive(master, CRED_LABEL, sub);
	n = snprintf(msg, sizeof msg, "%s\n%s", bucket, cred);
	hmac_sha256(sub, sizeof sub, msg, n < 0 ? 0 : (size_t)n, out);
	memset(sub, 0, sizeof sub);
	memset(msg, 0, sizeof msg);
}

/* The signing key, opened; 0 or -1. out has room for KV_CRED_MAX+1. */
int kv_signing_key(const unsigned char master[CB_KEYLEN],
    const struct kv_bucket *b, char *out, size_t *len);

int
kv_signing_key(const unsigned char master[CB_KEYLEN], const struct kv_bucket *b,
    char *out, size_t *len)
{
	unsigned char sub[CB_KEYLEN];
	int rc;

	if (b->signing_sealed == NULL ||
	    b->signing_sealed_len < CB_SEAL_OVERHEAD ||
	    b->signing_sealed_len - CB_SEAL_OVERHEAD > KV_CRED_MAX)
		return -1;
	masterkey_derive(master, SIGNING_LABEL, sub);
	rc = aead_open(sub, b->id, strlen(b->id), b->signing_sealed,
	    b->signing_sealed_len, out);
	memset(sub, 0, sizeof sub);
	*len = b->signing_sealed_len - CB_SEAL_OVERHEAD;
	out[*len] = '\0';
	return rc;
}

static int
seal_signing_key(const unsigned char master[CB_KEYLEN], const char *bucket,
    const char *key, unsigned char *out, size_t *outlen)
{
	unsigned char sub[CB_KEYLEN];
	size_t n = strlen(key);
	int rc;

	masterkey_derive(master, SIGNING_LABEL, sub);
	rc = aead_seal(sub, bucket, strlen(bucket), key, n, out);
	memset(sub, 0, sizeof sub);
	*outlen = n + CB_SEAL_OVERHEAD;
	return rc;
}

/* ---- buckets --------------------------------------------------------- */

static void
copy_hash(sqlite3_stmt *st, int col, int *has, unsigned char out[32])
{
	*has = sqlite3_column_type(st, col) == SQLITE_BLOB &&
	    sqlite3_column_bytes(st, col) == 32;
	if (*has)
		memcpy(out, sqlite3_column_blob(st, col), 32);
}

int
kv_bucket_load(struct db *db, struct arena *a, const char *id,
    struct kv_bucket *out)
{
	static const char sql[] =
	    "SELECT secret_hash, read_hash, write_hash, signing_key, signing_gen,"
	    " default_ttl FROM kv_buckets WHERE id = ?1";
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof *out);
	if (!uuid_valid(id))
		return 404;
	if ((st = db_prep(db, sql)) == NULL)
		return 500;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		memcpy(out->id, id, 37);
		copy_hash(st, 0, &out->has_secret, out->secret_hash);
		copy_hash(st, 1, &out->has_read, out->read_hash);
		copy_hash(st, 2, &out->has_write, out->write_hash);
		if (sqlite3_column_type(st, 3) == SQLITE_BLOB) {
			size_t n = (size_t)sqlite3_column_bytes(st, 3);
			unsigned char *p = arena_alloc(a, n);
			memcpy(p, sqlite3_column_blob(st, 3), n);
			out->signing_sealed = p;
			out->signing_sealed_len = n;
		}
		out->signing_gen = sqlite3_column_int64(st, 4);
		out->default_ttl = sqlite3_column_int64(st, 5);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? 404 : 500;
}

static int
cred_ok(const char *c, const char **why)
{
	size_t n = strlen(c);

	if (n == 0 || n > KV_CRED_MAX) {
		*why = "credentials must be 1 to 256 bytes";
		return 0;
	}
	return 1;
}

static int
bind_hash(sqlite3_stmt *st, int col, const unsigned char master[CB_KEYLEN],
    const char *bucket, const char *cred)
{
	unsigned char h[32];

	cred_hash(master, bucket, cred, h);
	return sqlite3_bind_blob(st, col, h, 32, SQLITE_TRANSIENT);
}

/* Keydock's structural check of an email: one @, something before it, a
 * domain with a dot that neither starts nor ends it, no white space or
 * control character; at most 320 bytes. Not RFC 5322. */
static int
email_ok(const char *e)
{
	const char *at = strchr(e, '@'), *dom;
	size_t n = strlen(e), dl;

	if (n == 0 || n > 320 || at == NULL || at == e || strchr(at + 1, '@') != NULL)
		return 0;
	for (const char *p = e; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return 0;
	dom = at + 1;
	dl = strlen(dom);
	return dl >= 3 && dom[0] != '.' && dom[dl - 1] != '.' &&
	    strchr(dom, '.') != NULL && strstr(dom, "..") == NULL;
}

int
kv_bucket_create(struct db *db, const unsigned char master[CB_KEYLEN],
    const struct kv_settings *s, char id[37], const char **why)
{
	static const char sql[] =
	    "INSERT INTO kv_buckets (id, email, secret_hash, read_hash, write_hash,"
	    " signing_key, signing_gen, default_ttl, created_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8)";
	const char *creds[4] = { s->secret_key, s->read_key, s->write_key, s->signing_key };
	unsigned char sealed[KV_CRED_MAX + CB_SEAL_OVERHEAD];
	size_t sealed_len = 0;
	sqlite3_stmt *st;

	if (s->email == NULL || !email_ok(s->email)) {
		*why = "email must be an address such as owner@example.com";
		return 400;
	}
	for (int i = 0; i < 4; i++)
		if (creds[i] != NULL && !cred_ok(creds[i], why))
			return 400;
	if (s->has_ttl && (s->default_ttl < 0 || s->default_ttl > KV_TTL_MAX)) {
		*why = "default_ttl must be 0 to 100 years in seconds";
		return 400;
	}
	uuid_new(id);
	if (s->signing_key != NULL &&
	    seal_signing_key(master, id, s->signing_key, sealed, &sealed_len) != 0)
		return 500;
	if ((st = db_prep(db, sql)) == NULL)
		return 500;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, s->email, -1, SQLITE_STATIC);
	for (int i = 0; i < 3; i++)
		if (creds[i] != NULL)
			bind_hash(st, 3 + i, master, id, creds[i]);
	if (s->signing_key != NULL)
		sqlite3_bind_blob(st, 6, sealed, (int)sealed_len, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 7, s->has_ttl ? s->default_ttl : KV_DEFAULT_TTL);
	sqlite3_bind_int64(st, 8, now_unix());
	if (sqlite3_step(st) != SQLITE_DONE) {
		log_err("kv: create bucket: %s", db_errmsg(db));
		sqlite3_reset(st);
		return 500;
	}
	sqlite3_reset(st);
	return 0;
}

int
kv_bucket_patch(struct db *db, const unsigned char master[CB_KEYLEN],
    const struct kv_bucket *b, const struct kv_settings *s, const char **why)
{
	static const char sql[] =
	    "UPDATE kv_buckets SET"
	    " secret_hash = CASE WHEN ?2 THEN ?3 ELSE secret_hash END,"
	    " read_hash = CASE WHEN ?4 THEN ?5 ELSE read_hash END,"
	    " write_hash = CASE WHEN ?6 THEN ?7 ELSE write_hash END,"
	    " signing_key = CASE WHEN ?8 THEN ?9 ELSE signing_key END,"
	    " signing_gen = signing_gen + ?8,"
	    " default_ttl = CASE WHEN ?10 THEN ?11 ELSE default_ttl END"
	    " WHERE id = ?1";
	const char *creds[4] = { s->secret_key, s->read_key, s->write_key, s->signing_key };
	unsigned char sealed[KV_CRED_MAX + CB_SEAL_OVERHEAD];
	size_t sealed_len = 0;
	sqlite3_stmt *st;
	int rc;

	const char *signing = s->signing_key;
	char current[KV_CRED_MAX + 1];
	size_t cur_len;

	for (int i = 0; i < 4; i++)
		if (creds[i] != NULL && !cred_ok(creds[i], why))
			return 400;
	if (s->has_ttl && !s->clear_ttl &&
	    (s->default_ttl < 0 || s->default_ttl > KV_TTL_MAX)) {
		*why = "default_ttl must be 0 to 100 years in seconds";
		return 400;
	}
	/* Sending the signing key the bucket already has is no rotation (as
	 * Keydock: a deploy script that re-sends it must not void every
	 * token). */
	if (signing != NULL && kv_signing_key(master, b, current, &cur_len) == 0 &&
	    cur_len == strlen(signing) && ct_equal(current, signing, cur_len))
		signing = NULL;
	memset(current, 0, sizeof current);
	if (signing != NULL &&
	    seal_signing_key(master, b->id, signing, sealed, &sealed_len) != 0)
		return 500;
	if ((st = db_prep(db, sql)) == NULL)
		return 500;
	sqlite3_bind_text(st, 1, b->id, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, s->secret_key != NULL);
	if (s->secret_key)
		bind_hash(st, 3, master, b->id, s->secret_key);
	sqlite3_bind_int(st, 4, s->read_key != NULL || s->clear_read);
	if (s->read_key)
		bind_hash(st, 5, master, b->id, s->read_key);
	sqlite3_bind_int(st, 6, s->write_key != NULL || s->clear_write);
	if (s->write_key)
		bind_hash(st, 7, master, b->id, s->write_key);
	sqlite3_bind_int(st, 8, signing != NULL || s->clear_signing);
	if (signing)
		sqlite3_bind_blob(st, 9, sealed, (int)sealed_len, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 10, s->has_ttl);
	sqlite3_bind_int64(st, 11, s->clear_ttl ? KV_TTL_CLEARED : s->default_ttl);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		log_err("kv: patch bucket: %s", db_errmsg(db));
		return 500;
	}
	return 0;
}

int
kv_bucket_delete(struct db *db, const char *id)
{
	static const char del_entries[] = "DELETE FROM kv_entries WHERE bucket_id = ?1";
	static const char del_bucket[] = "DELETE FROM kv_buckets WHERE id = ?1";
	sqlite3_stmt *st;

	if (db_begin(db) != 0)
		return 500;
	if ((st = db_prep(db, del_entries)) == NULL)
		goto fail;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	if ((st = db_prep(db, del_bucket)) == NULL)
		goto fail;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE || db_commit(db) != 0)
		goto fail;
	return 0;
fail:
	log_err("kv: delete bucket: %s", db_errmsg(db));
	db_rollback(db);
	return 500;
}

/* ---- access ---------------------------------------------------------- */

unsigned
kv_anonymous(const struct kv_bucket *b)
{
	unsigned p = 0;

	if (!b->has_read)
		p |= KV_READ | KV_ENUMERATE;
	if (!b->has_write)
		p |= KV_WRITE;
	if (!b->has_secret && !b->has_read && !b->has_write)
		p |= KV_DELETE;
	/* Managing the bucket without a credential only while it has none
	 * at all: any key the owner set (a read and a write key, or just a
	 * signing key) makes the policy theirs, so nobody who merely knows
	 * the id can set a secret key and lock them out. */
	if (!b->has_secret && !b->has_read && !b->has_write &&
	    b->signing_sealed == NULL)
		p |= KV_ADMIN;
	return p;
}

int kv_token_verify(const unsigned char master[CB_KEYLEN], struct arena *a,
    const char *tok, struct kv_access *acc, const char **why);

static int
looks_like_jwt(const char *c)
{
	const char *d1 = strchr(c, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;

	return strncmp(c, "eyJ", 3) == 0 && d2 != NULL && strchr(d2 + 1, '.') == NULL;
}

int
kv_authenticate(const unsigned char master[CB_KEYLEN], struct arena *a,
    const char *cred, struct kv_access *acc, const char **why)
{
	const struct kv_bucket *b = &acc->b;
	unsigned char h[32];
	int matched = 0;

	acc->anon = kv_anonymous(b);
	acc->cred = acc->token = 0;
	acc->prefix = NULL;
	acc->presented = cred != NULL;
	if (cred == NULL)
		return 0;
	if (*cred == '\0' || strlen(cred) > 4096) {
		*why = "bad credential";
		return 401;
	}
	if (strlen(cred) <= KV_CRED_MAX) {
		cred_hash(master, b->id, cred, h);
		/* Compare with every configured key: the time does not say which. */
		if (b->has_secret && ct_equal(h, b->secret_hash, 32)) {
			acc->cred |= KV_READ | KV_WRITE | KV_ENUMERATE | KV_DELETE | KV_ADMIN;
			matched = 1;
		}
		if (b->has_write && ct_equal(h, b->write_hash, 32)) {
			acc->cred |= KV_WRITE | KV_DELETE;
			matched = 1;
		}
		if (b->has_read && ct_equal(h, b->read_hash, 32)) {
			acc->cred |= KV_READ | KV_ENUMERATE;
			matched = 1;
		}
	}
	if (matched)
		return 0;
	if (looks_like_jwt(cred))
		return kv_token_verify(master, a, cred, acc, why);
	*why = "credential matches no key of this bucket";
	return 401;
}

/* Why acc is refused perm: 401 when nothing was presented (a credential
 * would help), 403 when the presented one lacks the right. Managing the
 * bucket without a credential is 403, as Keydock's policy gate answers. */
static int
refusal(const struct kv_access *acc, unsigned perm)
{
	return acc->presented || (perm & KV_ADMIN) ? 403 : 401;
}

/* What acc holds on the whole bucket: a presented credential is judged
 * on its own rights, the anonymous ones apply only when none is. */
static unsigned
unscoped(const struct kv_access *acc)
{
	return acc->presented ? acc->cred : acc->anon;
}

int
kv_allowed(const struct kv_access *acc, unsigned perm, const char *key,
    size_t keylen)
{
	if ((unscoped(acc) & perm) == perm)
		return 0;
	if ((acc->token & perm) == perm && acc->prefix != NULL) {
		size_t pl = strlen(acc->prefix);
		if (key != NULL && keylen >= pl && memcmp(key, acc->prefix, pl) == 0)
			return 0;
	}
	return refusal(acc, perm);
}

int
kv_list_scope(const struct kv_access *acc, unsigned perm, const char *prefix,
    const char **eff)
{
	size_t pl, tl;

	if (prefix != NULL && *prefix == '\0')
		prefix = NULL;
	*eff = prefix;
	/* Every permission asked for must be held: listing values needs
	 * enumerate and read. */
	if ((unscoped(acc) & perm) == perm)
		return 0;
	if ((acc->token & perm) != perm || acc->prefix == NULL)
		return refusal(acc, perm);
	/* A token lists only under its prefix: no ?prefix= lists the
	 * token's, a narrower one stays, a broader one is cut down to the
	 * token's, and one beside it lists nothing. */
	tl = strlen(acc->prefix);
	pl = prefix ? strlen(prefix) : 0;
	if (prefix == NULL || (pl <= tl && memcmp(prefix, acc->prefix, pl) == 0))
		*eff = acc->prefix;
	else if (pl > tl && memcmp(prefix, acc->prefix, tl) == 0)
		*eff = prefix;
	else
		return KV_LIST_NOTHING;
	return 0;
}

/* ---- values ---------------------------------------------------------- */

/* Number literals as Keydock reads them (Rust's i64 and f64 grammars),
 * on a body with its ASCII white space trimmed: an optional sign and
 * digits is an integer when it fits int64; otherwise
 *   [+-]? ( D+ ( . D* )? | . D+ ) ( [eE] [+-]? D+ )?
 * is a float. Rust also reads inf and NaN: here they are no number (a
 * value that no JSON listing could hold). */
static void
trim(const char **s, size_t *n)
{
	while (*n > 0 && isspace((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && isspace((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

static int
int_literal(const char *s, size_t n, int64_t *out)
{
	size_t i = 0;
	int neg = 0;
	uint64_t v = 0, lim;

	if (i < n && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	if (i == n)
		return -1;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < n; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (d > 9 || v > (lim - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = !neg ? (int64_t)v : v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	return 0;
}

static size_t
run_of_digits(const char *s, size_t i, size_t n)
{
	size_t j = i;

	while (j < n && isdigit((unsigned char)s[j]))
		j++;
	return j - i;
}

static int
float_literal(const char *s, size_t n, double *out)
{
	size_t i = 0, d;
	char small[64], *tmp;
	double f;

	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	d = run_of_digits(s, i, n);
	i += d;
	if (i < n && s[i] == '.') {
		size_t frac = run_of_digits(s, i + 1, n);
		if (d == 0 && frac == 0)
			return -1;
		i += 1 + frac;
	} else if (d == 0) {
		return -1;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		if (++i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if ((d = run_of_digits(s, i, n)) == 0)
			return -1;
		i += d;
	}
	if (i != n)
		return -1;
	tmp = n < sizeof small ? small : xmalloc(n + 1);
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	f = strtod(tmp, NULL);
	if (tmp != small)
		free(tmp);
	if (!isfinite(f))
		return -1;
	*out = f;
	return 0;
}

/* A number body into v (INT or FLOAT), white space around it allowed;
 * v's text is left alone. -1 when it is no number. */
static int
number_value(const char *s, size_t n, struct kv_value *v)
{
	int64_t i;
	double f;

	trim(&s, &n);
	if (int_literal(s, n, &i) == 0) {
		v->type = KV_INT;
		v->i = i;
		return 0;
	}
	if (float_literal(s, n, &f) == 0) {
		v->type = KV_FLOAT;
		v->f = f;
		return 0;
	}
	return -1;
}

/* Canonical JSON text of s, or NULL when it is not exactly one JSON value
 * by the strict rules of cubby/json.h. */
static const char *
json_canonical(struct arena *a, const char *s, size_t n, size_t *outlen)
{
	struct json_object *o;
	const char *txt;
	size_t l;

	if (json_strict_parse(s, n, &o) != 0)
		return NULL;
	txt = json_object_to_json_string_length(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &l);
	txt = arena_strndup(a, txt, l);
	*outlen = l;
	json_object_put(o);
	return txt;
}

static int
media_is(const char *ctype, const char *want)
{
	size_t n = strlen(want);

	if (ctype == NULL)
		return 0;
	while (*ctype == ' ')
		ctype++;
	return strncasecmp(ctype, want, n) == 0 &&
	    (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

int
kv_infer(struct arena *a, const char *ctype, const char *body, size_t len,
    struct kv_value *out, const char **why)
{
	int utf8;

	memset(out, 0, sizeof *out);
	if (len > KV_VALUE_MAX) {
		*why = "value exceeds 16 KiB";
		return 400;
	}
	if (media_is(ctype, "application/json")) {
		if ((out->data = json_canonical(a, body, len, &out->len)) == NULL) {
			*why = "body is not valid JSON";
			return 400;
		}
		out->type = KV_JSON;
		if (out->len > KV_VALUE_MAX) {  /* escapes can make it longer */
			*why = "value exceeds 16 KiB";
			return 400;
		}
		return 0;
	}
	utf8 = utf8_valid((const unsigned char *)body, len) &&
	    memchr(body, '\0', len) == NULL;
	if (media_is(ctype, "text/plain")) {
		if (!utf8) {
			*why = "text/plain body is not valid UTF-8";
			return 400;
		}
		out->type = KV_TEXT;
		out->data = body;
		out->len = len;
		return 0;
	}
	/* Keydock: an empty body is empty text; a number keeps the text it
	 * was sent as (GET answers "+5" for "+5"), and counts as its value. */
	if (utf8 && len == 0) {
		out->type = KV_TEXT;
		out->data = "";
		return 0;
	}
	if (utf8 && number_value(body, len, out) == 0) {
		out->data = body;
		out->len = len;
		return 0;
	}
	if (utf8 && len > 0 &&
	    (out->data = json_canonical(a, body, len, &out->len)) != NULL) {
		out->type = KV_JSON;
		if (out->len > KV_VALUE_MAX) {
			*why = "value exceeds 16 KiB";
			return 400;
		}
		return 0;
	}
	out->type = KV_BYTES;
	out->data = body;
	out->len = len;
	return 0;
}

/* f as Rust's Display writes it (Keydock's counters): the shortest digits
 * that read back as f, never an exponent: 10.0 is "10", 1e21 is
 * "1000000000000000000000", 1e-7 is "0.0000001". len >= KV_NUM_MAX. */
static size_t
format_float(double f, char *buf, size_t len)
{
	char e[40], dig[20], *p = buf, *end = buf + len - 1;
	const char *m;
	size_t nd = 0;
	long ex;

	for (int prec = 1; prec <= 17; prec++) {
		snprintf(e, sizeof e, "%.*e", prec - 1, f);
		if (strtod(e, NULL) == f)
			break;
	}
	m = e;
	if (*m == '-')
		*p++ = *m++;
	for (; *m && *m != 'e'; m++)
		if (isdigit((unsigned char)*m) && nd < sizeof dig)
			dig[nd++] = *m;
	ex = *m == 'e' ? strtol(m + 1, NULL, 10) : 0;
	while (nd > 1 && dig[nd - 1] == '0')
		nd--;
	if (ex < 0) {
		*p++ = '0';
		*p++ = '.';
		for (long z = -ex - 1; z > 0 && p < end; z--)
			*p++ = '0';
		for (size_t i = 0; i < nd && p < end; i++)
			*p++ = dig[i];
	} else {
		for (size_t i = 0; i < nd || (long)i <= ex; i++) {
			if ((long)i == ex + 1 && p < end)
				*p++ = '.';
			if (p < end)
				*p++ = i < nd ? dig[i] : '0';
		}
	}
	*p = '\0';
	return (size_t)(p - buf);
}

size_t
kv_format_number(const struct kv_value *v, char *buf, size_t len)
{
	if (v->type == KV_INT) {
		snprintf(buf, len, "%lld", (long long)v->i);
		return strlen(buf);
	}
	return format_float(v->f, buf, len);
}

void
kv_render(struct arena *a, const struct kv_value *v, const char **body,
    size_t *len, const char **ctype)
{
	switch (v->type) {
	case KV_INT:
	case KV_FLOAT:
		/* Keydock answers numbers as text: the text they were sent
		 * as, or a counter's result written out. */
		*ctype = "text/plain; charset=utf-8";
		if (v->data != NULL)
			break;
		{
			char *buf = arena_alloc(a, KV_NUM_MAX);
			*len = kv_format_number(v, buf, KV_NUM_MAX);
			*body = buf;
		}
		return;
	case KV_JSON:
		*ctype = "application/json";
		break;
	case KV_TEXT:
		*ctype = "text/plain; charset=utf-8";
		break;
	case KV_BYTES:
		*ctype = "application/octet-stream";
		break;
	}
	*body = v->data;
	*len = v->len;
}

/* ---- entries --------------------------------------------------------- */

static void
bind_value(sqlite3_stmt *st, int col, const struct kv_value *v)
{
	switch (v->type) {
	case KV_INT:
	case KV_FLOAT:
		/* the text it was sent as, when there is one */
		if (v->data != NULL)
			sqlite3_bind_text(st, col, v->data, (int)v->len, SQLITE_STATIC);
		else if (v->type == KV_INT)
			sqlite3_bind_int64(st, col, v->i);
		else
			sqlite3_bind_double(st, col, v->f);
		break;
	case KV_JSON:
	case KV_TEXT:
		sqlite3_bind_text(st, col, v->data, (int)v->len, SQLITE_STATIC);
		break;
	case KV_BYTES:
		sqlite3_bind_blob(st, col, v->len ? v->data : "", (int)v->len,
		    SQLITE_STATIC);
		break;
	}
}

/* The value in a row; copied into a when a is not NULL, else pointing
 * into the statement's row (valid until its next step). */
static void
column_value(struct arena *a, sqlite3_stmt *st, int tcol, int vcol,
    struct kv_value *v)
{
	memset(v, 0, sizeof *v);
	v->type = (enum kv_type)sqlite3_column_int(st, tcol);
	switch (v->type) {
	case KV_INT:
	case KV_FLOAT:
		if (sqlite3_column_type(st, vcol) == SQLITE_TEXT) {
			enum kv_type t = v->type;
			const char *p = (const char *)sqlite3_column_text(st, vcol);
			v->len = (size_t)sqlite3_column_bytes(st, vcol);
			v->data = a ? arena_strndup(a, p ? p : "", v->len) : (p ? p : "");
			if (number_value(v->data, v->len, v) != 0 || v->type != t) {
				v->type = t;    /* cannot happen: it was checked */
				v->i = 0;
				v->f = 0;
			}
		} else if (v->type == KV_INT) {
			v->i = sqlite3_column_int64(st, vcol);
		} else {
			v->f = sqlite3_column_double(st, vcol);
		}
		break;
	default: {
		const void *p = sqlite3_column_blob(st, vcol);
		v->len = (size_t)sqlite3_column_bytes(st, vcol);
		v->data = a ? arena_strndup(a, p ? p : "", v->len) : (p ? p : "");
		break;
	}
	}
}

/* When a value written now with ttl seconds expires, in milliseconds; 0
 * for never (ttl 0, or a bucket whose default was cleared: -1). Callers
 * refuse a ttl over KV_TTL_MAX; it is capped here too, so no ttl can
 * overflow the sum. */
static int64_t
expiry(int64_t ttl, int64_t now_ms)
{
	if (ttl <= 0)
		return 0;
	if (ttl > KV_TTL_MAX)
		ttl = KV_TTL_MAX;
	return now_ms + ttl * 1000;
}

static int
put_row(struct db *db, const char *bucket, const char *key, size_t keylen,
    const struct kv_value *v, int64_t expires_ms)
{
	static const char sql[] =
	    "INSERT INTO kv_entries (bucket_id, key, type, value, expires_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5)"
	    " ON CONFLICT (bucket_id, key) DO UPDATE SET type = excluded.type,"
	    " value = excluded.value, expires_at = excluded.expires_at";
	sqlite3_stmt *st = db_prep(db, sql);
	int rc;

	if (st == NULL)
		return 500;
	sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, key, (int)keylen, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, (int)v->type);
	bind_value(st, 4, v);
	if (expires_ms > 0)
		sqlite3_bind_int64(st, 5, expires_ms);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		log_err("kv: put: %s", db_errmsg(db));
		return 500;
	}
	return 0;
}

static int
key_ok(const char *key, size_t keylen, const char **why)
{
	if (keylen == 0 || keylen > KV_KEY_MAX) {
		*why = "keys are 1 to 128 bytes";
		return 0;
	}
	if (!utf8_valid((const unsigned char *)key, keylen)) {
		*why = "keys are UTF-8";
		return 0;
	}
	/* No control character (NUL, line feed, carriage return, ...): a
	 * key must not be able to forge a line of a text listing. */
	for (size_t i = 0; i < keylen; i++)
		if ((unsigned char)key[i] < 0x20 || key[i] == 0x7f) {
			*why = "keys have no control characters";
			return 0;
		}
	return 1;
}

/* ---- limits ---------------------------------------------------------- */

/* What a bucket holds, as the triggers on kv_entries count it. */
struct usage {
	int64_t keys, bytes;
};

static int
limited(const struct kv_limits *lim)
{
	return lim != NULL && (lim->bucket_keys > 0 || lim->bucket_bytes > 0 ||
	    lim->total_keys > 0 || lim->total_bytes > 0);
}

static int
bucket_usage(struct db *db, const char *bucket, struct usage *u)
{
	static const char sql[] =
	    "SELECT used_keys, used_bytes FROM kv_buckets WHERE id = ?1";
	sqlite3_stmt *st = db_prep(db, sql);
	int rc;

	if (st == NULL)
		return 500;
	sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		u->keys = sqlite3_column_int64(st, 0);
		u->bytes = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : 500;
}

/* Inside the write transaction, after the writes: 0 when no count grew
 * past its limit, 507 (why set), or 500. */
static int
within_limits(struct db *db, const struct kv_limits *lim, const char *bucket,
    const struct usage *before, const char **why)
{
	static const char total_sql[] =
	    "SELECT coalesce(sum(keys), 0), coalesce(sum(bytes), 0) FROM kv_usage";
	struct usage now, all;
	sqlite3_stmt *st;
	int more_keys, more_bytes, rc;

	if (!limited(lim))
		return 0;
	if ((rc = bucket_usage(db, bucket, &now)) != 0)
		return rc;
	more_keys = now.keys > before->keys;
	more_bytes = now.bytes > before->bytes;
	if (more_keys && lim->bucket_keys > 0 && now.keys > lim->bucket_keys) {
		*why = "the bucket holds as many keys as it may";
		return 507;
	}
	if (more_bytes && lim->bucket_bytes > 0 && now.bytes > lim->bucket_bytes) {
		*why = "the bucket holds as many bytes as it may";
		return 507;
	}
	if (!(more_keys && lim->total_keys > 0) && !(more_bytes && lim->total_bytes > 0))
		return 0;
	if ((st = db_prep(db, total_sql)) == NULL)
		return 500;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		all.keys = sqlite3_column_int64(st, 0);
		all.bytes = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return 500;
	if ((more_keys && lim->total_keys > 0 && all.keys > lim->total_keys) ||
	    (more_bytes && lim->total_bytes > 0 && all.bytes > lim->total_bytes)) {
		*why = "the key-value store holds as much as it may";
		return 507;
	}
	return 0;
}

/* Open a write transaction and, when there are limits, note what the
 * bucket holds before it (for within_limits). */
static int
begin_counted(struct db *db, const struct kv_limits *lim, const char *bucket,
    struct usage *before)
{
	int rc = 0;

	if (db_begin(db) != 0)
		return 500;
	if (limited(lim) && (rc = bucket_usage(db, bucket, before)) != 0)
		db_rollback(db);
	return rc;
}

/* Close what begin_counted opened: check the limits, then commit; on any
 * failure roll back. 0, 507 (why set) or 500. */
static int
end_counted(struct db *db, const struct kv_limits *lim, const char *bucket,
    const struct usage *before, const char **why)
{
	int rc = within_limits(db, lim, bucket, before, why);

	if (rc == 0 && db_commit(db) != 0)
		rc = 500;
	if (rc != 0)
		db_rollback(db);
	return rc;
}

int
kv_put(struct db *db, const struct kv_limits *lim, const struct kv_bucket *b,
    const char *key, size_t keylen, const struct kv_value *v, int64_t ttl,
    const char **why)
{
	int64_t expires = expiry(ttl < 0 ? b->default_ttl : ttl, now_unix_ms());
	struct usage before = { 0, 0 };
	int rc;

	if (!key_ok(key, keylen, why))
		return 400;
	if (!limited(lim))   /* one statement: its own transaction */
		return put_row(db, b->id, key, keylen, v, expires);
	if ((rc = begin_counted(db, lim, b->id, &before)) != 0)
		return rc;
	if ((rc = put_row(db, b->id, key, keylen, v, expires)) != 0) {
		db_rollback(db);
		return rc;
	}
	return end_counted(db, lim, b->id, &before, why);
}

/* sql (a literal) with ?1 bucket, ?2 key, ?3 now in ms bound; or NULL. */
static sqlite3_stmt *
entry_stmt(struct db *db, const char *sql, const char *bucket, const char *key,
    size_t keylen)
{
	sqlite3_stmt *st = db_prep(db, sql);

	if (st != NULL) {
		sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, key, (int)keylen, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, now_unix_ms());
	}
	return st;
}

static int
get_row(struct db *db, struct arena *a, const char *bucket, const char *key,
    size_t keylen, struct kv_value *out, int64_t *expires_ms)
{
	static const char sql[] =
	    "SELECT type, value, expires_at FROM kv_entries"
	    " WHERE bucket_id = ?1 AND key = ?2"
	    " AND (expires_at IS NULL OR expires_at > ?3)";
	sqlite3_stmt *st = entry_stmt(db, sql, bucket, key, keylen);
	int rc;

	if (st == NULL)
		return 500;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		column_value(a, st, 0, 1, out);
		if (expires_ms)
			*expires_ms = sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? 404 : 500;
}

int
kv_get(struct db *db, struct arena *a, const char *bucket, const char *key,
    size_t keylen, struct kv_value *out)
{
	return get_row(db, a, bucket, key, keylen, out, NULL);
}

static int
delete_row(struct db *db, const char *bucket, const char *key, size_t keylen,
    int *deleted)
{
	static const char sql[] =
	    "DELETE FROM kv_entries WHERE bucket_id = ?1 AND key = ?2"
	    " AND (expires_at IS NULL OR expires_at > ?3)";
	sqlite3_stmt *st = entry_stmt(db, sql, bucket, key, keylen);
	int rc;

	if (st == NULL)
		return 500;
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return 500;
	*deleted = sqlite3_changes(db_handle(db)) > 0;
	return 0;
}

int
kv_delete(struct db *db, const char *bucket, const char *key, size_t keylen)
{
	int deleted = 0, rc = delete_row(db, bucket, key, keylen, &deleted);

	if (rc != 0)
		return rc;
	return deleted ? 0 : 404;
}

int
kv_incr(struct db *db, const struct kv_limits *lim, struct arena *a,
    const struct kv_bucket *b, const char *key, size_t keylen,
    const char *delta, size_t dlen, int64_t ttl, struct kv_value *out,
    const char **why)
{
	struct kv_value d, cur;
	struct usage before = { 0, 0 };
	int64_t expires = 0, now = now_unix_ms();
	int rc;

	memset(out, 0, sizeof *out);
	if (!key_ok(key, keylen, why))
		return 400;
	/* Keydock's delta: white space around it, then a sign and a number
	 * literal (integer, or a float such as +1.5, -.5, +2e3). */
	trim(&delta, &dlen);
	memset(&d, 0, sizeof d);
	if (dlen < 2 || (delta[0] != '+' && delta[0] != '-') ||
	    number_value(delta, dlen, &d) != 0) {
		*why = "the body must be a signed number: +N or -N";
		return 400;
	}
	if ((rc = begin_counted(db, lim, b->id, &before)) != 0)
		return rc;
	rc = get_row(db, a, b->id, key, keylen, &cur, &expires);
	/* A number stored as text or JSON ("0" from a client that sends
	 * text/plain) counts as that number. */
	if (rc == 0 && (cur.type == KV_TEXT || cur.type == KV_JSON))
		(void)number_value(cur.data, cur.len, &cur);
	if (rc == 404) {
		*out = d;
		expires = expiry(ttl < 0 ? b->default_ttl : ttl, now);
	} else if (rc != 0) {
		goto fail;
	} else if (cur.type == KV_INT && d.type == KV_INT) {
		out->type = KV_INT;
		if (__builtin_add_overflow(cur.i, d.i, &out->i)) {
			*why = "counter overflow";
			rc = 400;
			goto fail;
		}
	} else if ((cur.type == KV_INT || cur.type == KV_FLOAT)) {
		double x = cur.type == KV_INT ? (double)cur.i : cur.f;
		double y = d.type == KV_INT ? (double)d.i : d.f;
		out->type = KV_FLOAT;
		out->f = x + y;
		if (!isfinite(out->f)) {
			*why = "counter overflow";
			rc = 400;
			goto fail;
		}
	} else {
		*why = "the stored value is not a number";
		rc = 400;
		goto fail;
	}
	if (rc == 0 && ttl >= 0)
		expires = expiry(ttl, now);
	if ((rc = put_row(db, b->id, key, keylen, out, expires)) != 0)
		goto fail;
	return end_counted(db, lim, b->id, &before, why);
fail:
	db_rollback(db);
	return rc;
}

/* ---- listing --------------------------------------------------------- */

int
kv_list(struct db *db, struct arena *a, const char *bucket,
    const struct kv_list_opts *o,
    int (*fn)(void *arg, const char *key, size_t keylen,
        const struct kv_value *v), void *arg)
{
	static const char asc[] =
	    "SELECT key, type, value FROM kv_entries WHERE bucket_id = ?1"
	    " AND key >= ?2 AND (?3 IS NULL OR key < ?3)"
	    " AND (expires_at IS NULL OR expires_at > ?4)"
	    " ORDER BY key ASC LIMIT ?5 OFFSET ?6";
	static const char desc[] =
	    "SELECT key, type, value FROM kv_entries WHERE bucket_id = ?1"
	    " AND key >= ?2 AND (?3 IS NULL OR key < ?3)"
	    " AND (expires_at IS NULL OR expires_at > ?4)"
	    " ORDER BY key DESC LIMIT ?5 OFFSET ?6";
	const char *prefix = o->prefix ? o->prefix : "";
	size_t pl = strlen(prefix);
	char *upper = arena_strndup(a, prefix, pl);
	size_t ul = pl;
	sqlite3_stmt *st = db_prep(db, o->reverse ? desc : asc);
	int rc;

	if (st == NULL)
		return 500;
	/* Smallest byte string above every key with the prefix. */
	while (ul > 0 && (unsigned char)upper[ul - 1] == 0xff)
		ul--;
	if (ul > 0)
		upper[ul - 1] = (char)((unsigned char)upper[ul - 1] + 1);
	sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, prefix, (int)pl, SQLITE_STATIC);
	if (ul > 0)
		sqlite3_bind_blob(st, 3, upper, (int)ul, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now_unix_ms());
	sqlite3_bind_int64(st, 5, o->limit);
	sqlite3_bind_int64(st, 6, o->skip);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct kv_value v;
		const char *key = sqlite3_column_blob(st, 0);
		size_t kl = (size_t)sqlite3_column_bytes(st, 0);
		memset(&v, 0, sizeof v);
		/* No copy: the row stays valid until the next step, and a long
		 * listing must not grow the request arena. */
		if (o->values)
			column_value(NULL, st, 1, 2, &v);
		if (fn(arg, key ? key : "", kl, &v) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : 500;
}

/* ---- transactions ---------------------------------------------------- */

static int
op_value(struct arena *a, struct json_object *val, struct kv_value *v,
    const char **why)
{
	memset(v, 0, sizeof *v);
	if (val == NULL) {
		*why = "set needs a non-null value";
		return 400;
	}
	if (json_object_is_type(val, json_type_string)) {
		v->type = KV_TEXT;
		v->len = (size_t)json_object_get_string_len(val);
		v->data = arena_strndup(a, json_object_get_string(val), v->len);
	} else {
		size_t l;
		const char *j = json_object_to_json_string_length(val,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &l);
		v->type = KV_JSON;
		v->len = l;
		v->data = arena_strndup(a, j, l);
	}
	if (v->len > KV_VALUE_MAX) {
		*why = "value exceeds 16 KiB";
		return 400;
	}
	return 0;
}

static int
parse_op(struct arena *a, struct json_object *op, struct kv_op *out,
    const char **why)
{
	struct json_object *k = NULL, *val = NULL, *ttl = NULL;
	int fields = 0;

	memset(out, 0, sizeof *out);
	out->ttl = -1;
	if (!json_object_is_type(op, json_type_object)) {
		*why = "each txn operation is an object";
		return 400;
	}
	json_object_object_foreach(op, name, field) {
		fields++;
		if (strcmp(name, "set") == 0 && k == NULL) {
			out->is_set = 1;
			k = field;
		} else if (strcmp(name, "delete") == 0 && k == NULL) {
			k = field;
		} else if (strcmp(name, "value") == 0) {
			val = field;
		} else if (strcmp(name, "ttl") == 0) {
			ttl = field;
		} else {
			*why = "unknown field in a txn operation";
			return 400;
		}
	}
	if (k == NULL || !json_object_is_type(k, json_type_string)) {
		*why = "each operation is {\"set\": key, ...} or {\"delete\": key}";
		return 400;
	}
	/* Percent-decoded like a key in the path (Keydock): "hello%20world"
	 * is the key GET /hello%20world reads. */
	{
		size_t raw = (size_t)json_object_get_string_len(k);
		char *dec = arena_alloc(a, raw + 1);
		long dl = url_decode(dec, json_object_get_string(k), raw, 0);
		if (dl < 0) {
			*why = "a txn key has a bad percent escape";
			return 400;
		}
		out->key = dec;
		out->keylen = (size_t)dl;
	}
	if (!key_ok(out->key, out->keylen, why))
		return 400;
	if (!out->is_set)
		return fields == 1 ? 0 : (*why = "delete takes only a key", 400);
	if (ttl != NULL) {
		if (!json_object_is_type(ttl, json_type_int) ||
		    json_object_get_int64(ttl) < 0 || json_object_get_int64(ttl) > KV_TTL_MAX) {
			*why = "ttl must be a whole number of seconds, 0 to 100 years";
			return 400;
		}
		out->ttl = json_object_get_int64(ttl);
	}
	if (!json_object_object_get_ex(op, "value", &val)) {
		*why = "set needs a value";
		return 400;
	}
	return op_value(a, val, &out->v, why);
}

int
kv_txn_parse(struct arena *a, const char *body, size_t len, struct kv_op **ops,
    size_t *n, const char **why)
{
	struct json_object *root = NULL, *list;
	int rc = 400;
	size_t count;

	*ops = NULL;
	*n = 0;
	if (json_strict_parse(body, len, &root) != 0 || root == NULL) {
		*why = "body is not one JSON object";
		goto out;
	}
	if (!json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "txn", &list) ||
	    json_object_object_length(root) != 1 ||
	    !json_object_is_type(list, json_type_array)) {
		*why = "body must be {\"txn\": [...]}";
		goto out;
	}
	count = json_object_array_length(list);
	if (count > KV_TXN_MAX_OPS) {
		*why = "a txn has at most 1000 operations";
		goto out;
	}
	*ops = arena_alloc(a, count * sizeof **ops);
	for (size_t i = 0; i < count; i++)
		if ((rc = parse_op(a, json_object_array_get_idx(list, i), &(*ops)[i],
		    why)) != 0)
			goto out;
	*n = count;
	rc = 0;
out:
	json_object_put(root);
	return rc;
}

int
kv_txn_apply(struct db *db, const struct kv_limits *lim,
    const struct kv_access *acc, const struct kv_op *ops, size_t n,
    const char **why)
{
	int64_t now = now_unix_ms();
	struct usage before = { 0, 0 };
	int rc;

	/* Every key is checked before anything is written. */
	for (size_t i = 0; i < n; i++)
		if ((rc = kv_allowed(acc, ops[i].is_set ? KV_WRITE : KV_DELETE,
		    ops[i].key, ops[i].keylen)) != 0) {
			*why = "the credential may not touch one of the keys";
			return rc;
		}
	if ((rc = begin_counted(db, lim, acc->b.id, &before)) != 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		const struct kv_op *op = &ops[i];
		int deleted;
		if (op->is_set)
			rc = put_row(db, acc->b.id, op->key, op->keylen, &op->v,
			    expiry(op->ttl < 0 ? acc->b.default_ttl : op->ttl, now));
		else
			rc = delete_row(db, acc->b.id, op->key, op->keylen, &deleted);
		if (rc != 0) {
			db_rollback(db);
			return rc;
		}
	}
	return end_counted(db, lim, acc->b.id, &before, why);
}

int
kv_sweep(struct db *db, int limit)
{
	static const char sql[] =
	    "DELETE FROM kv_entries WHERE (bucket_id, key) IN"
	    " (SELECT bucket_id, key FROM kv_entries"
	    "  WHERE expires_at IS NOT NULL AND expires_at <= ?1 LIMIT ?2)";
	sqlite3_stmt *st = db_prep(db, sql);
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, now_unix_ms());
	sqlite3_bind_int(st, 2, limit);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? sqlite3_changes(db_handle(db)) : -1;
}
