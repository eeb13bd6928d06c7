/* fuzz_config.c - the configuration file parser, on a file of fuzzed
 * bytes. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cubby/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	static char path[64];
	struct cb_config cfg;
	char err[512];
	FILE *f;

	if (!*path)
		snprintf(path, sizeof path, "/tmp/cubby-fuzz-config-%d", (int)getpid());
	if ((f = fopen(path, "w")) == NULL)
		return 0;
	fwrite(data, 1, n, f);
	fclose(f);
	memset(&cfg, 0, sizeof cfg);
	if (config_load(&cfg, path, err, sizeof err) == 0)
		(void)config_workers(&cfg);
	config_free(&cfg);
	return 0;
}
