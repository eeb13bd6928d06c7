/* pool.c - the master process. Pre-forks the workers and the jobs worker on
 * the listening socket, and the stream pool's workers on a socket of their
 * own (stream_listen: the upload and streamed-download routes, so bodies
 * that trickle in never take the API's workers), and supervises them:
 *  - a worker that dies is replaced at once (back-off if it keeps dying
 *    fast), and the log says which route it was serving;
 *  - SIGHUP re-reads the config, starts a new generation, then retires the
 *    old one gracefully: no request is dropped;
 *  - SIGTERM/SIGINT drain: workers finish their request, then the master
 *    exits (SIGKILL after drain_timeout).
 * Signals are taken synchronously with sigtimedwait: no handler races.
 * The master never serves a request and never opens the database. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cubby/config.h"
#include "cubby/log.h"
#include "cubby/metrics.h"
#include "cubby/pool.h"
#include "cubby/router.h"
#include "cubby/util.h"
#include "cubby/xmalloc.h"

#define MAX_KIDS 3100   /* two generations of 1024 workers, 512 stream workers and the jobs worker */
#define FAST_DEATH_US 1000000       /* dying younger than this counts as fast */
#define BACKOFF_MAX_US 10000000

struct kid {
	pid_t pid;
	int slot;
	enum slot_kind kind;
	unsigned gen;
	uint64_t started_us;
	uint64_t retire_deadline_us;    /* 0 = serving; else SIGKILL after */
};

static struct kid kids[MAX_KIDS];
static size_t nkids;
static unsigned generation = 1;
static int fast_deaths;
static uint64_t next_spawn_us;

/* The two listening sockets; stream -1 without a stream pool. */
struct fds {
	int api, stream;
};

static int
spawn(const struct cb_config *cfg, const struct fds *fds, enum slot_kind kind)
{
	int slot;
	pid_t pid;

	if (nkids == MAX_KIDS)
		return -1;
	if ((slot = metrics_slot_claim(0, kind)) < 0) {
		log_err("pool: no free process slot");
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		log_err("pool: fork: %s", strerror(errno));
		metrics_slot_release(slot);
		return -1;
	}
	if (pid == 0) {
		/* Each child keeps only the socket it serves. */
		if (fds->stream >= 0 && kind != SLOT_STREAM)
			close(fds->stream);
		if (kind != SLOT_WORKER)
			close(fds->api);
		if (kind == SLOT_JOBS)
			jobs_main(cfg, slot);
		worker_main(cfg, kind == SLOT_STREAM ? fds->stream : fds->api, slot);
	}
	metrics_slot(slot)->pid = pid;
	kids[nkids].pid = pid;
	kids[nkids].slot = slot;
	kids[nkids].kind = kind;
	kids[nkids].gen = generation;
	kids[nkids].started_us = now_mono_us();
	kids[nkids].retire_deadline_us = 0;
	nkids++;
	return 0;
}

static void
retire(struct kid *k, const struct cb_config *cfg, int sig)
{
	if (k->retire_deadline_us == 0)
		k->retire_deadline_us = now_mono_us() +
		    (uint64_t)cfg->drain_timeout * 1000000u;
	kill(k->pid, sig);
}

static const char *
kind_name(enum slot_kind kind)
{
	return kind == SLOT_JOBS ? "jobs worker" : kind == SLOT_STREAM ?
	    "stream worker" : "worker";
}

static void
log_death(const struct kid *k, int status)
{
	struct metrics_slot *s = metrics_slot(k->slot);
	char what[64], serving[400];
	int route = s ? __atomic_load_n(&s->route, __ATOMIC_RELAXED) : -1;

	if (WIFSIGNALED(status))
		snprintf(what, sizeof what, "killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(what, sizeof what, "exited with status %d",
		    WEXITSTATUS(status));
	if (route >= 0 && (size_t)route < cb_nroutes)
		snprintf(serving, sizeof serving, "while serving %s %s (rid=%s)",
		    cb_routes[route].method, cb_routes[route].pattern, s->rid);
	else
		snprintf(serving, sizeof serving, "while idle");
	log_err("%s %ld %s %s", kind_name(k->kind), (long)k->pid, what, serving);
}

static void
reap(int stopping)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		size_t i;
		for (i = 0; i < nkids && kids[i].pid != pid; i++)
			;
		if (i == nkids)
			continue;
		struct kid k = kids[i];
		kids[i] = kids[--nkids];

		if (k.retire_deadline_us != 0 || stopping) {
			log_debug("%s %ld exited", kind_name(k.kind), (long)pid);
		} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			/* Planned: max_requests reached. Replace at once. */
			log_debug("%s %ld recycled", kind_name(k.kind), (long)pid);
		} else {
			uint64_t now = now_mono_us();
			log_death(&k, status);
			metrics_add_restart();
			if (now - k.started_us < FAST_DEATH_US) {
				/* The first fast death is replaced at once; the
				 * next ones wait 50 ms, 100 ms, ... up to 10 s. */
				uint64_t delay = 0;
				if (++fast_deaths > 1) {
					int shift = fast_deaths - 2 > 20 ? 20 : fast_deaths - 2;
					delay = 50000u << shift;
					if (delay > BACKOFF_MAX_US)
						delay = BACKOFF_MAX_US;
					log_warn("pool: processes keep dying; next start in "
					    "%llu ms", (unsigned long long)(delay / 1000));
				}
				next_spawn_us = now + delay;
			} else {
				fast_deaths = 0;
			}
		}
		metrics_slot_release(k.slot);
	}
}

static int
stream_want(const struct cb_config *cfg, const struct fds *fds)
{
	return fds->stream >= 0 ? (int)cfg->stream_workers : 0;
}

/* Start what the current generation lacks. */
static void
top_up(const struct cb_config *cfg, const struct fds *fds)
{
	int want = config_workers(cfg), swant = stream_want(cfg, fds);
	int workers = 0, streams = 0, jobs = 0;

	for (size_t i = 0; i < nkids; i++) {
		if (kids[i].retire_deadline_us != 0 || kids[i].gen != generation)
			continue;
		if (kids[i].kind == SLOT_JOBS)
			jobs++;
		else if (kids[i].kind == SLOT_STREAM)
			streams++;
		else
			workers++;
	}
	if (now_mono_us() >= next_spawn_us) {
		while (workers < want && spawn(cfg, fds, SLOT_WORKER) == 0)
			workers++;
		if (jobs == 0 && spawn(cfg, fds, SLOT_JOBS) == 0)
			jobs++;
		while (streams < swant && spawn(cfg, fds, SLOT_STREAM) == 0)
			streams++;
	}
	metrics_set_workers_alive(workers, streams);
}

static void
reload(struct cb_config *cfg, const struct fds *fds)
{
	struct cb_config ncfg;
	char err[512];
	const char *path = *cfg->config_path ? cfg->config_path : NULL;

	if (config_load(&ncfg, path, err, sizeof err) != 0) {
		log_err("reload: %s; keeping the running configuration", err);
		config_free(&ncfg);
		return;
	}
	if (strcmp(ncfg.listen, cfg->listen) != 0)
		log_warn("reload: a new 'listen' takes effect only after a restart");
	if (strcmp(ncfg.stream_listen, "auto") != 0 &&
	    strcmp(ncfg.stream_listen, cfg->stream_listen) != 0)
		log_warn("reload: a new 'stream_listen' takes effect only after a restart");
	free(ncfg.listen);
	ncfg.listen = xstrdup(cfg->listen);
	free(ncfg.stream_listen);
	ncfg.stream_listen = xstrdup(cfg->stream_listen);
	if (fds->stream >= 0 && ncfg.stream_workers == 0) {
		log_warn("reload: stream_workers 0 takes effect only after a restart");
		ncfg.stream_workers = cfg->stream_workers;
	}
	config_free(cfg);
	*cfg = ncfg;
	log_set_level(log_level_parse(cfg->log_level));
	/* After logrotate moved the file away: a new one, which the new
	 * generation inherits; the old workers finish into the old file. */
	if (log_reopen(cfg->log_file, err, sizeof err) != 0)
		log_err("reload: %s; logging on where it did", err);

	/* New generation first, so someone is always accepting. */
	generation++;
	fast_deaths = 0;
	next_spawn_us = 0;
	top_up(cfg, fds);
	for (size_t i = 0; i < nkids; i++)
		if (kids[i].gen != generation)
			retire(&kids[i], cfg, SIGTERM);
	log_info("reload: generation %u serving with %d workers and %d stream workers",
	    generation, config_workers(cfg), stream_want(cfg, fds));
}

static int
nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
		log_err("pool: cannot make the listener non-blocking: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
pool_run(struct cb_config *cfg, const char *config_path, int listen_fd,
    int stream_fd)
{
	struct fds fds = { listen_fd, stream_fd };
	sigset_t set;
	int stopping = 0;
	uint64_t stop_deadline = 0;

	(void)config_path;
	if (nonblocking(listen_fd) != 0 || (stream_fd >= 0 && nonblocking(stream_fd) != 0))
		return 1;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	top_up(cfg, &fds);
	if (!*cfg->public_url && !*cfg->allowed_hosts)
		log_warn("public_url is not set: absolute URLs (signed URLs, upload URLs, "
		    "share links, webhooks' file URLs) are built from each request's Host "
		    "header, which the client chooses; set public_url (or allowed_hosts)");
	if (stream_fd >= 0)
		log_info("pool: serving with %d workers, a jobs worker, and %d stream "
		    "workers on %s", config_workers(cfg), stream_want(cfg, &fds),
		    cfg->stream_listen);
	else
		log_info("pool: serving with %d workers and a jobs worker",
		    config_workers(cfg));

	for (;;) {
		struct timespec wait = { 1, 0 };
		uint64_t now;
		int sig, draining = stopping;

		for (size_t i = 0; i < nkids; i++)
			if (kids[i].retire_deadline_us != 0)
				draining = 1;
		if (draining || next_spawn_us > now_mono_us()) {
			wait.tv_sec = 0;
			wait.tv_nsec = 50 * 1000000L;
		}
		sig = sigtimedwait(&set, NULL, &wait);
		reap(stopping);
		if (sig == SIGHUP && !stopping) {
			reload(cfg, &fds);
		} else if ((sig == SIGTERM || sig == SIGINT) && !stopping) {
			stopping = 1;
			stop_deadline = now_mono_us() +
			    (uint64_t)cfg->drain_timeout * 1000000u;
			log_info("pool: stopping, draining %zu processes", nkids);
			for (size_t i = 0; i < nkids; i++)
				retire(&kids[i], cfg, SIGTERM);
		}
		now = now_mono_us();
		for (size_t i = 0; i < nkids; i++)
			if (kids[i].retire_deadline_us != 0 &&
			    now > kids[i].retire_deadline_us) {
				log_warn("%s %ld did not finish within drain_timeout; "
				    "killing it", kind_name(kids[i].kind), (long)kids[i].pid);
				kill(kids[i].pid, SIGKILL);
				kids[i].retire_deadline_us = (uint64_t)-1;
			}
		if (stopping) {
			if (nkids == 0)
				break;
			if (now > stop_deadline + 5000000u)
				break;  /* unkillable children: give up */
			continue;
		}
		top_up(cfg, &fds);
	}
	log_info("pool: stopped");
	return 0;
}
