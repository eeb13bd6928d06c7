/* ops.c - operational endpoints in the KV document's shapes:
 * /health (liveness, touches nothing), /ready (the database answers, and
 * with blob_backend = s3 the bucket),
 * /metrics (Prometheus text for the whole pool).
 * Never reports a secret or a file path. */
#include "config.h"

#include <string.h>

#include <json-c/json.h>

#include "cubby/api.h"
#include "cubby/blob.h"
#include "cubby/buf.h"
#include "cubby/crypto.h"
#include "cubby/db.h"
#include "cubby/log.h"
#include "cubby/metrics.h"
#include "cubby/s3.h"
#include "cubby/server.h"
#include "cubby/util.h"

static int
status_body(struct cb_req *r, int code, const char *status, const char *storage)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "status", json_object_new_string(status));
	json_object_object_add(o, "storage", json_object_new_string(storage));
	json_object_object_add(o, "version", json_object_new_string(PACKAGE_VERSION));
	return resp_json(r, code, o);
}

int
ops_health(struct cb_req *r)
{
	return status_body(r, 200, "ok", "ok");
}

int
ops_ready(struct cb_req *r)
{
	struct db *db = ctx_db(r->ctx);

	if (db == NULL || db_ping(db) != 0) {
		/* A database that vanished is reopened on the next try. */
		if (db != NULL) {
			db_close(db);
			r->ctx->db = NULL;
		}
		return status_body(r, 503, "degraded", "error");
	}
	if (blob_on_s3(r->ctx->cfg)) {
		/* The server's bucket answers too (once: a probe waits for
		 * no back-off). */
		struct s3_target t;
		struct s3_result res;
		blob_s3_target(r->ctx->cfg, &t);
		t.once = 1;
		if (s3_head_bucket(&t, &res) != 0) {
			log_warn("ready: bucket %s: %s", t.bucket, res.message);
			return status_body(r, 503, "degraded", "error");
		}
	}
	return status_body(r, 200, "ok", "ok");
}

int
ops_metrics(struct cb_req *r)
{
	const char *tok = r->ctx->cfg->metrics_token, *h;
	struct buf b;
	int rc;

	/* With metrics_token set, only a scraper that presents it sees the
	 * pool's per-route counts (compared in constant time). */
	if (tok != NULL && *tok) {
		size_t n = strlen(tok);
		h = req_header(r, "Authorization");
		if (h == NULL || !has_prefix_ci(h, "Bearer ") || strlen(h + 7) != n ||
		    !ct_equal(h + 7, tok, n)) {
			resp_header(r, "WWW-Authenticate", "Bearer realm=\"metrics\"");
			return req_fail(r, 401, "unauthorized", "metrics need the metrics token");
		}
	}
	buf_init(&b, 4u << 20);
	if (metrics_render(&b) != 0) {
		buf_free(&b);
		return req_fail(r, 500, "internal_error", "metrics unavailable");
	}
	rc = resp_send(r, 200, "text/plain; version=0.0.4; charset=utf-8",
	    b.data, b.len);
	buf_free(&b);
	return rc;
}
