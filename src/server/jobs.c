/* jobs.c - the jobs worker: runs work that must not block a request
 * (webhooks, media, sweeps) from the jobs table. A job is a row, so it
 * survives a crash. Kinds are registered by later modules; until then the
 * loop only waits. Never runs a job twice at once. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "cubby/config.h"
#include "cubby/log.h"
#include "cubby/pool.h"
#include "cubby/server.h"

void
jobs_main(const struct cb_config *cfg, int slot)
{
	struct cb_ctx ctx;
	struct timespec tick = { 1, 0 };
	sigset_t set;

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
	ctx_db(&ctx);
	for (;;) {
		int sig = sigtimedwait(&set, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig < 0 && errno != EAGAIN && errno != EINTR) {
			log_err("jobs: sigtimedwait: %s", strerror(errno));
			break;
		}
		ctx_db(&ctx);   /* keep trying while the database is away */
	}
	_exit(0);
}
