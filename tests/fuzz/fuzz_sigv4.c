/* fuzz_sigv4.c - SigV4 canonicalisation over hostile paths, queries and
 * headers (input: method \0 path \0 query \0 name \0 value ...), signed
 * as a header and as a presigned URL. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cubby/buf.h"
#include "cubby/crypto.h"
#include "cubby/sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	static const struct sigv4_key k = { "AKIDEXAMPLE", "secret", "token", "us-east-1", "s3" };
	struct sigv4_header h[8];
	const char *part[19];
	size_t np = 0, nh = 0;
	char *s = malloc(n + 1);
	struct buf out;

	if (s == NULL)
		return 0;
	memcpy(s, data, n);
	s[n] = '\0';
	for (char *p = s; np < 19 && p <= s + n; p += strlen(p) + 1)
		part[np++] = p;
	if (np >= 3) {
		for (size_t i = 3; i + 1 < np && nh < 8; i += 2)
			h[nh++] = (struct sigv4_header){ part[i], part[i + 1] };
		struct sigv4_req r = { part[0], part[1], part[2], h, nh, SIGV4_EMPTY_SHA256, n & 1 };
		buf_init(&out, 1 << 16);
		(void)sigv4_canonical_request(&r, NULL, &out);
		buf_reset(&out);
		(void)sigv4_authorization(&k, &r, "20260101T000000Z", 1, &out);
		buf_reset(&out);
		(void)sigv4_presign_query(&k, &r, "20260101T000000Z", 60, 1, &out);
		buf_free(&out);
	}
	free(s);
	return 0;
}
