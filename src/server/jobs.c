/* jobs.c - the jobs worker: runs work that must not block a request
 * (webhooks, media, sweeps) from the jobs table. A job is a row, so it
 * survives a crash. Kinds are registered by later modules; until then the
 * loop only waits. Never runs a job twice at once. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "cubby/asset.h"
#include "cubby/config.h"
#include "cubby/db.h"
#include "cubby/kv.h"
#include "cubby/media.h"
#include "cubby/object.h"
#include "cubby/place.h"
#include "cubby/webhook.h"

#include <curl/curl.h>
#include "cubby/log.h"
#include "cubby/pool.h"
#include "cubby/util.h"
#include "cubby/server.h"

#define SWEEP_EVERY 20  /* ticks (250 ms) between sweeps of expired keys and uploads */

void
jobs_main(const struct cb_config *cfg, int slot)
{
	struct cb_ctx ctx;
	struct timespec tick = { 0, 250 * 1000000L }, zero = { 0, 0 };
	struct media_pool *media;
	char err[512];
	sigset_t set;
	unsigned long ticks = 0;
	int64_t next_tick = 0;

#ifdef __linux__
	prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_SETMASK, &set, NULL);

	memset(&ctx, 0, sizeof ctx);
	ctx.cfg = cfg;
	ctx.slot = slot;
	if (masterkey_load(cfg->master_key_file, ctx.master, err, sizeof err) == 0) {
		ctx.have_master = 1;
		place_keyring(ctx.master);
	} else
		log_err("jobs: %s", err);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	media = media_pool_new(cfg);
	for (;;) {
		struct pollfd pfd[16];
		int sig, np = media ? media_pollfds(media, pfd, 16) : 0;

		/* Idle, a quarter-second tick; while processors work, their
		 * answers wake it too. */
		if (np > 0) {
			if (poll(pfd, (nfds_t)np, 250) < 0 && errno != EINTR)
				log_warn("jobs: poll: %s", strerror(errno));
			sig = sigtimedwait(&set, NULL, &zero);
		} else {
			sig = sigtimedwait(&set, NULL, &tick);
		}
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig < 0 && errno != EAGAIN && errno != EINTR) {
			log_err("jobs: sigtimedwait: %s", strerror(errno));
			break;
		}
		if (media && ctx_db(&ctx) != NULL) {
			if (media_collect(media, ctx.db) < 0)
				log_warn("jobs: media: %s", db_errmsg(ctx.db));
			if (media_dispatch(media, ctx.db) < 0)
				log_warn("jobs: media: %s", db_errmsg(ctx.db));
		}
		/* The rest keeps the tick, however often answers wake us. */
		if (now_unix_ms() < next_tick)
			continue;
		next_tick = now_unix_ms() + 250;
		/* Jobs whose jobs worker died (here or in another pool on
		 * this database) go back in the queue when their lease ends. */
		if (ticks % SWEEP_EVERY == 0 && ctx_db(&ctx) != NULL &&
		    db_jobs_requeue_expired(ctx.db) < 0)
			log_warn("jobs: requeue: %s", db_errmsg(ctx.db));
		if (ctx_db(&ctx) != NULL && ctx.have_master &&
		    webhook_run_due(ctx.db, cfg, ctx.master, 20) < 0)
			log_warn("jobs: webhooks: %s", db_errmsg(ctx.db));
		/* Direct uploads (blob_backend = s3) that landed in the
		 * bucket, about once a second. */
		if (ctx.db != NULL && ticks % 4 == 0 &&
		    object_direct_poll(ctx.db, cfg, 50) < 0)
			log_warn("jobs: direct uploads: %s", db_errmsg(ctx.db));
		if (ctx.db != NULL && ++ticks % SWEEP_EVERY == 0) {
			/* Expired KV keys are invisible already; this frees them. */
			int n;
			while ((n = kv_sweep(ctx.db, 1000)) == 1000)
				;
			if (n < 0)
				log_warn("jobs: kv sweep failed: %s", db_errmsg(ctx.db));
			/* Uploads that never arrived give their bytes back. */
			while ((n = object_expire_uploads(ctx.db, 100)) == 100)
				;
			if (n < 0)
				log_warn("jobs: upload expiry failed: %s", db_errmsg(ctx.db));
			/* ... and, in S3, whatever of them did arrive. */
			if (object_direct_sweep(ctx.db, cfg, 100) < 0)
				log_warn("jobs: direct upload sweep failed: %s", db_errmsg(ctx.db));
			/* A compact search index: a little merging at a time. */
			if (asset_search_merge(ctx.db, 200) < 0)
				log_warn("jobs: search index merge failed: %s", db_errmsg(ctx.db));
			/* Bytes of deleted files (file API, workspaces). */
			while ((n = asset_purge_deleted(ctx.db, cfg, 100)) == 100)
				;
			if (n < 0)
				log_warn("jobs: deleted files' bytes: %s", db_errmsg(ctx.db));
			/* Parts of failed, aborted and deleted uploads. */
			while ((n = asset_sweep_parts(ctx.db, cfg, 100)) == 100)
				;
			if (n < 0)
				log_warn("jobs: parts sweep failed: %s", db_errmsg(ctx.db));
		}
	}
	media_pool_free(media);
	db_close(ctx.db);
	curl_global_cleanup();
	_exit(0);
}
