/* fuzz_sniff.c - the media type sniffer (magic numbers of images, video,
 * audio) over an upload's first bytes. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "cubby/asset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	const char *k = asset_kind_sniff(data, n);

	if (k != NULL && !asset_kind_valid(k))
		__builtin_trap();
	return 0;
}
