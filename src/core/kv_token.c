/* kv_token.c - prefix-scoped KV tokens: HS256 JWTs signed with the
 * bucket's signing key. The algorithm is pinned: a token's "alg" header
 * never chooses the check. Claims: bkt (bucket id), pfx (prefix), perm
 * (list), gen (signing-key generation), iat, exp. Rotating the signing key
 * bumps gen, so every earlier token stops working. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "cubby/arena.h"
#include "cubby/base64.h"
#include "cubby/kv.h"
#include "cubby/util.h"

#define TOKEN_MAX_TTL (10LL * 365 * 86400)
#define JWT_HEADER "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

int kv_signing_key(const unsigned char master[CB_KEYLEN],
    const struct kv_bucket *b, char *out, size_t *len);
int kv_token_verify(const unsigned char master[CB_KEYLEN], struct arena *a,
    const char *tok, struct kv_access *acc, const char **why);

static const struct { const char *name; unsigned bit; } perm_names[] = {
	{ "read", KV_READ }, { "write", KV_WRITE },
	{ "enumerate", KV_ENUMERATE }, { "delete", KV_DELETE },
};

static unsigned
perm_bit(const char *s, size_t n)
{
	for (size_t i = 0; i < 4; i++)
		if (strlen(perm_names[i].name) == n &&
		    memcmp(perm_names[i].name, s, n) == 0)
			return perm_names[i].bit;
	return 0;
}

static char *
b64url(struct arena *a, const void *p, size_t n)
{
	char *out = arena_alloc(a, base64_len(n) + 1);
	base64url_encode(out, p, n);
	return out;
}

int
kv_token_create(const unsigned char master[CB_KEYLEN], struct arena *a,
    const struct kv_bucket *b, const char *prefix, const char *perms,
    const char *ttl_s, const char **out, const char **why)
{
	struct json_object *claims, *plist;
	char key[KV_CRED_MAX + 1], *signing_input;
	unsigned char mac[32];
	unsigned seen = 0;
	size_t keylen;
	long long ttl;
	const char *p, *payload;
	int64_t now = now_unix();

	if (b->signing_sealed == NULL) {
		*why = "the bucket has no signing_key";
		return 503;
	}
	if (prefix == NULL || *prefix == '\0' || strlen(prefix) > KV_KEY_MAX) {
		*why = "prefix must be 1 to 128 bytes";
		return 400;
	}
	if (ttl_s == NULL || parse_ll(ttl_s, 1, TOKEN_MAX_TTL, &ttl) != 0) {
		*why = "ttl must be a whole number of seconds above 0";
		return 400;
	}
	if (perms == NULL || *perms == '\0') {
		*why = "permissions is required";
		return 400;
	}
	plist = json_object_new_array();
	for (p = perms; ; ) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		unsigned bit = perm_bit(p, n);
		if (bit == 0) {
			json_object_put(plist);
			*why = "permissions are read, write, enumerate, delete";
			return 400;
		}
		if (!(seen & bit))
			json_object_array_add(plist, json_object_new_string_len(p, (int)n));
		seen |= bit;
		if (end == NULL)
			break;
		p = end + 1;
	}
	if (kv_signing_key(master, b, key, &keylen) != 0) {
		json_object_put(plist);
		*why = "the signing key cannot be opened (wrong master key?)";
		return 500;
	}
	claims = json_object_new_object();
	json_object_object_add(claims, "bkt", json_object_new_string(b->id));
	json_object_object_add(claims, "pfx", json_object_new_string(prefix));
	json_object_object_add(claims, "perm", plist);
	json_object_object_add(claims, "gen", json_object_new_int64(b->signing_gen));
	json_object_object_add(claims, "iat", json_object_new_int64(now));
	json_object_object_add(claims, "exp", json_object_new_int64(now + ttl));
	payload = json_object_to_json_string_ext(claims, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	signing_input = arena_printf(a, "%s.%s",
	    b64url(a, JWT_HEADER, strlen(JWT_HEADER)), b64url(a, payload, strlen(payload)));
	json_object_put(claims);
	hmac_sha256(key, keylen, signing_input, strlen(signing_input), mac);
	memset(key, 0, sizeof key);
	*out = arena_printf(a, "%s.%s", signing_input, b64url(a, mac, sizeof mac));
	return 0;
}

/* Decode one base64url JSON part into an object, or NULL. */
static struct json_object *
json_part(struct arena *a, const char *s, size_t n)
{
	char *buf = arena_alloc(a, n * 3 / 4 + 2);
	long len = base64url_decode(buf, s, n);
	struct json_tokener *tok;
	struct json_object *o;

	if (len <= 0 || (tok = json_tokener_new_ex(8)) == NULL)
		return NULL;
	o = json_tokener_parse_ex(tok, buf, (int)len);
	if (o != NULL && (json_tokener_get_error(tok) != json_tokener_success ||
	    tok->char_offset != len || !json_object_is_type(o, json_type_object))) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

static int
claim_int(struct json_object *c, const char *name, int64_t *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(c, name, &v) ||
	    !json_object_is_type(v, json_type_int))
		return -1;
	*out = json_object_get_int64(v);
	return 0;
}

int
kv_token_verify(const unsigned char master[CB_KEYLEN], struct arena *a,
    const char *tok, struct kv_access *acc, const char **why)
{
	const char *d1 = strchr(tok, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	struct json_object *hdr = NULL, *claims = NULL, *v;
	unsigned char mac[32], sig[40];
	char key[KV_CRED_MAX + 1];
	size_t keylen;
	int64_t exp, gen;
	unsigned perms = 0;
	int rc = 401;

	*why = "invalid token";
	if (d1 == NULL || d2 == NULL || acc->b.signing_sealed == NULL)
		return 401;
	/* Pinned: only HS256 is ever checked, whatever the header says. */
	hdr = json_part(a, tok, (size_t)(d1 - tok));
	if (hdr == NULL || !json_object_object_get_ex(hdr, "alg", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), "HS256") != 0)
		goto out;
	if (strlen(d2 + 1) != 43 || base64url_decode(sig, d2 + 1, 43) != 32)
		goto out;
	if (kv_signing_key(master, &acc->b, key, &keylen) != 0)
		goto out;
	hmac_sha256(key, keylen, tok, (size_t)(d2 - tok), mac);
	memset(key, 0, sizeof key);
	if (!ct_equal(mac, sig, 32))
		goto out;
	/* Signed by this bucket's key: now read the claims. */
	claims = json_part(a, d1 + 1, (size_t)(d2 - d1 - 1));
	if (claims == NULL || claim_int(claims, "exp", &exp) != 0 ||
	    claim_int(claims, "gen", &gen) != 0 ||
	    !json_object_object_get_ex(claims, "bkt", &v) ||
	    strcmp(json_object_get_string(v), acc->b.id) != 0)
		goto out;
	if (gen != acc->b.signing_gen) {
		*why = "token was signed with a rotated signing key";
		goto out;
	}
	if (exp <= now_unix()) {
		*why = "token expired";
		goto out;
	}
	if (!json_object_object_get_ex(claims, "pfx", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0)
		goto out;
	acc->prefix = arena_strdup(a, json_object_get_string(v));
	if (!json_object_object_get_ex(claims, "perm", &v) ||
	    !json_object_is_type(v, json_type_array))
		goto out;
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		struct json_object *p = json_object_array_get_idx(v, i);
		if (json_object_is_type(p, json_type_string))
			perms |= perm_bit(json_object_get_string(p),
			    (size_t)json_object_get_string_len(p));
	}
	acc->token = perms;
	rc = 0;
out:
	json_object_put(hdr);
	json_object_put(claims);
	if (rc != 0)
		acc->prefix = NULL;
	return rc;
}
