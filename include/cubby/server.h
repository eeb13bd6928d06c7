/* server.h - what a worker process holds, and the request entry point.
 * One cb_ctx per process, created after fork; never shared across processes. */
#ifndef CUBBY_SERVER_H
#define CUBBY_SERVER_H

#include "cubby/config.h"
#include "cubby/crypto.h"
#include "cubby/request.h"

struct db;

struct cb_ctx {
	const struct cb_config *cfg;
	struct db *db;              /* NULL while the database cannot be opened */
	uint64_t db_retry_us;       /* next time to try opening it again */
	unsigned char master[CB_KEYLEN];
	int have_master;
	int slot;                   /* this process's slot in the metrics region */
	unsigned long served;       /* requests handled by this process */
};

/* Bind a request to its transport and context; reads nothing yet. */
void req_init(struct cb_req *r, struct arena *a, struct cb_ctx *ctx,
    const struct cb_io *io, void *in, void *out, char **envp);
/* Handle one request end to end: parse, route, check, run the handler,
 * render any error in the route's dialect, log and count it. */
void dispatch(struct cb_req *r);
/* Render r->err in the envelope of r->dialect (headers not yet sent). */
void render_error(struct cb_req *r);
/* Open the worker's database if it is not open (rate-limited retries).
 * Returns the handle or NULL. */
struct db *ctx_db(struct cb_ctx *ctx);

#endif
