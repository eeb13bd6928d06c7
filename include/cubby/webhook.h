/* webhook.h - outgoing webhooks: the jobs worker POSTs events to tenants'
 * URLs. Outgoing requests are an SSRF vector: the host is resolved first,
 * loopback, link-local, private and other special ranges are refused unless
 * the operator allows them, curl is pinned to the address that was checked,
 * redirects are not followed and timeouts are short. */
#ifndef CUBBY_WEBHOOK_H
#define CUBBY_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "cubby/crypto.h"

struct db;
struct cb_config;

#define WEBHOOK_ATTEMPTS 3

/* How long a rotated-out webhook secret still signs deliveries (beside
 * the new one, in X-Cubby-Signature-Previous): a day. */
#define WEBHOOK_SECRET_OVERLAP_MS (24LL * 3600 * 1000)

/* The secret of generation gen a tenant verifies webhook signatures with
 * (hex, 64 chars): derived from the master key, the tenant id and gen,
 * never stored. */
void webhook_secret(const unsigned char master[CB_KEYLEN], const char *tenant_id,
    int64_t gen, char hex[65]);
/* A new webhook secret for the tenant: the generation goes up, the old one
 * keeps signing beside it for WEBHOOK_SECRET_OVERLAP_MS. The new secret
 * into hex, the old one's end (ms) into *prev_until. 0, 404, 500. */
int webhook_secret_rotate(struct db *db, const unsigned char master[CB_KEYLEN],
    const char *tenant_id, char hex[65], int64_t *prev_until);
/* Run due webhook jobs (at most limit). The number run, or -1. */
int webhook_run_due(struct db *db, const struct cb_config *cfg,
    const unsigned char master[CB_KEYLEN], int limit);
/* Queue an event for an object inside the caller's transaction. 0 or -1. */
int webhook_enqueue(struct db *db, const char *event, const char *tenant_id,
    const char *object_id);

#endif
