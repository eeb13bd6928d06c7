/* blob_s3.c - see blob.h: blobs as objects in the server's bucket. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cubby/blob.h"
#include "cubby/buf.h"
#include "cubby/config.h"
#include "cubby/s3.h"

int
blob_on_s3(const struct cb_config *cfg)
{
	return strcmp(cfg->blob_backend, "s3") == 0;
}

void
blob_s3_target(const struct cb_config *cfg, struct s3_target *t)
{
	t->endpoint = cfg->s3_endpoint;
	t->region = cfg->s3_region;
	t->bucket = cfg->s3_bucket;
	t->access_key = cfg->s3_access_key;
	t->secret_key = cfg->s3_secret_key;
	t->path_style = cfg->s3_path_style;
	/* The operator's own store: wherever the operator put it. */
	t->allow_private = 1;
}

int
blob_s3_key(const struct cb_config *cfg, const char *key, char *out, size_t len)
{
	return (size_t)snprintf(out, len, "%s%s", cfg->s3_prefix, key) < len ? 0 : -1;
}
