/* kv_api.h - helpers shared by the KV dialect's handlers (private to
 * src/api/kv_*.c). */
#ifndef CUBBY_API_KV_API_H
#define CUBBY_API_KV_API_H

#include "cubby/kv.h"
#include "cubby/request.h"

/* Who is asking: set by kv_route_auth before the handler runs. */
struct kv_access *kv_access_of(struct cb_req *r);
/* What the store may hold, from the configuration (arena memory). */
const struct kv_limits *kv_limits_of(struct cb_req *r);
/* Record a core failure (an HTTP status and its reason); returns -1. */
int kv_fail(struct cb_req *r, int status, const char *why);

#endif
