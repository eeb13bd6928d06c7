/* fuzz_token.c - KV credentials: whatever a client sends in
 * Authorization (a bucket key or a JWT) checked against a bucket with
 * every key and a signing key; and tokens minted from fuzzed prefixes,
 * permissions and TTLs, read back and asked about a fuzzed key (input:
 * prefix \0 perms \0 ttl \0 key, or a credential when it has no NUL). */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cubby/arena.h"
#include "cubby/crypto.h"
#include "cubby/kv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

/* kv.c's label for sealing signing keys (a harness may know it). */
#define SIGNING_LABEL "cubby/kv-signing-key/v1"

static unsigned char master[CB_KEYLEN];
static unsigned char sealed[64 + CB_SEAL_OVERHEAD];
static size_t sealed_len;

static void
bucket(struct kv_access *acc)
{
	memset(acc, 0, sizeof *acc);
	snprintf(acc->b.id, sizeof acc->b.id, "%s", "0d1f2a3b-0000-4000-8000-000000000000");
	acc->b.has_secret = acc->b.has_read = acc->b.has_write = 1;
	memset(acc->b.secret_hash, 1, 32);
	memset(acc->b.read_hash, 2, 32);
	memset(acc->b.write_hash, 3, 32);
	acc->b.signing_sealed = sealed;
	acc->b.signing_sealed_len = sealed_len;
	acc->b.default_ttl = 3600;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	static int ready;
	struct kv_access acc;
	struct arena a;
	const char *why, *tok, *part[4];
	char *s;
	size_t np = 0;

	if (!ready) {
		unsigned char sub[CB_KEYLEN];
		const char *key = "signing-key-for-fuzzing";
		if (crypto_init() != 0)
			abort();
		memset(master, 7, sizeof master);
		masterkey_derive(master, SIGNING_LABEL, sub);
		if (aead_seal(sub, "0d1f2a3b-0000-4000-8000-000000000000", 36, key,
		    strlen(key), sealed) != 0)
			abort();
		sealed_len = strlen(key) + CB_SEAL_OVERHEAD;
		ready = 1;
	}
	if ((s = malloc(n + 1)) == NULL)
		return 0;
	memcpy(s, data, n);
	s[n] = '\0';
	arena_init(&a, 8192);
	/* as a credential */
	bucket(&acc);
	if (kv_authenticate(master, &a, s, &acc, &why) == 0)
		(void)kv_allowed(&acc, KV_READ, "u:1", 3);
	/* as a token's fields */
	for (char *p = s; np < 4 && p <= s + n; p += strlen(p) + 1)
		part[np++] = p;
	if (np == 4) {
		bucket(&acc);
		if (kv_token_create(master, &a, &acc.b, part[0], part[1], part[2], &tok, &why) == 0) {
			/* A minted token must verify (unless its TTL of a
			 * few seconds ran out between the two calls). */
			bucket(&acc);
			if (kv_authenticate(master, &a, tok, &acc, &why) != 0 &&
			    strtoll(part[2], NULL, 10) > 5)
				abort();
			(void)kv_allowed(&acc, KV_WRITE, part[3], strlen(part[3]));
			(void)kv_list_scope(&acc, KV_ENUMERATE, part[3], &why);
		}
	}
	arena_free(&a);
	free(s);
	return 0;
}
