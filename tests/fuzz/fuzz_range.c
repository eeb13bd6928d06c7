/* fuzz_range.c - the Range header against a body size (input: 8 bytes of
 * size, then the header). Whatever it says, a satisfiable range lies
 * inside the body. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cubby/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	int64_t size, from = -1, to = -1;
	uint64_t u = 0;
	char *h;
	int rc;

	if (n < 8)
		return 0;
	for (int i = 0; i < 8; i++)
		u = u << 8 | data[i];
	size = (int64_t)(u >> 1);       /* 0 .. INT64_MAX */
	if ((h = malloc(n - 8 + 1)) == NULL)
		return 0;
	memcpy(h, data + 8, n - 8);
	h[n - 8] = '\0';
	rc = http_range(h, size, &from, &to);
	if (rc == 1 && !(from >= 0 && from <= to && to < size))
		abort();
	free(h);
	return 0;
}
