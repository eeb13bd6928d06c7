/* worker.c - a worker process: FastCGI accept loop, one request at a time,
 * one SQLite connection, one arena reset per request. Also the plain-CGI
 * entry point. SIGTERM is blocked except while waiting for a connection, so
 * a request in flight always completes. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <fcgiapp.h>

#include "cubby/config.h"
#include "cubby/crypto.h"
#include "cubby/db.h"
#include "cubby/log.h"
#include "cubby/metrics.h"
#include "cubby/place.h"
#include "cubby/pool.h"
#include "cubby/server.h"

extern char **environ;

static volatile sig_atomic_t stop_requested;

static void
on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* A request's body: libfcgi's stream, and the connection under it. */
struct fcgx_in {
	FCGX_Stream *s;
	int fd;
};

/* Bytes libfcgi holds already, at most n: rdNext..stop is the readable
 * part of its buffer (fcgiapp.h). */
static int
held(const FCGX_Stream *s, int n)
{
	long h = (long)(s->stop - s->rdNext);

	return h <= 0 ? 0 : h < n ? (int)h : n;
}

/* Up to n body bytes, returning once some have arrived and no more are
 * ready: a body that streams in fills the buffer, one that trickles
 * returns with each record. (FCGX_GetStr alone waits until all n are in,
 * so a trickle could hold one read for hours, and the caller could not
 * judge its rate.) */
static int
fcgx_read(void *in_, char *buf, int n)
{
	struct fcgx_in *in = in_;
	int got = 0, k;

	while (got < n) {
		struct pollfd p = { in->fd, POLLIN, 0 };

		if ((k = held(in->s, n - got)) == 0) {
			/* Nothing held: wait for a record, unless some bytes
			 * are in hand and the connection has none ready. */
			if (got > 0 && poll(&p, 1, 0) <= 0)
				break;
			k = 1;
		}
		k = FCGX_GetStr(buf + got, k, in->s);
		if (k <= 0) {
			if (FCGX_GetError(in->s) != 0)
				return -1;
			break;  /* the end of the body */
		}
		got += k;
	}
	return got;
}

static int
fcgx_write(void *out, const char *buf, int n)
{
	return FCGX_PutStr(buf, n, out);
}

static const struct cb_io fcgx_io = { fcgx_read, fcgx_write };

static void
ctx_setup(struct cb_ctx *ctx, const struct cb_config *cfg, int slot)
{
	char err[512];

	memset(ctx, 0, sizeof *ctx);
	ctx->cfg = cfg;
	ctx->slot = slot;
	if (masterkey_load(cfg->master_key_file, ctx->master, err, sizeof err) == 0) {
		ctx->have_master = 1;
		place_keyring(ctx->master);
	} else
		log_err("%s", err);
	ctx_db(ctx);
}

void
worker_main(const struct cb_config *cfg, int listen_fd, int slot)
{
	struct sigaction sa;
	sigset_t block, waitmask;
	struct cb_ctx ctx;
	struct arena a;
	FCGX_Request freq;
	struct fcgx_in fin;

#ifdef __linux__
	prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_SETMASK, &block, NULL);
	sigemptyset(&waitmask);

	ctx_setup(&ctx, cfg, slot);
	FCGX_Init();
	FCGX_InitRequest(&freq, listen_fd, 0);
	arena_init(&a, 64 * 1024);

	while (!stop_requested) {
		struct pollfd pfd;
		struct cb_req r;
		int rc;

		/* A kept-alive connection (fastcgi_keep_conn) is read first. */
		pfd.fd = freq.ipcFd >= 0 ? freq.ipcFd : listen_fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		rc = ppoll(&pfd, 1, NULL, &waitmask);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			log_err("worker: poll: %s", strerror(errno));
			break;
		}
		if (stop_requested)
			break;
		/* The listener is non-blocking: another worker may have taken
		 * the connection, then this returns an error and we wait again. */
		if (FCGX_Accept_r(&freq) < 0)
			continue;
		fin.s = freq.in;
		fin.fd = freq.ipcFd;
		req_init(&r, &a, &ctx, &fcgx_io, &fin, freq.out, freq.envp);
		dispatch(&r);
		FCGX_Finish_r(&freq);
		arena_reset(&a);
		if (cfg->max_requests > 0 && ctx.served >= (unsigned long)cfg->max_requests) {
			log_info("worker recycled after %lu requests", ctx.served);
			break;
		}
	}
	FCGX_Finish_r(&freq);
	arena_free(&a);
	db_close(ctx.db);
	_exit(0);
}

static int
stdio_read(void *in, char *buf, int n)
{
	ssize_t got;

	(void)in;
	do
		got = read(STDIN_FILENO, buf, (size_t)n);
	while (got < 0 && errno == EINTR);
	return (int)got;
}

static int
stdio_write(void *out, const char *buf, int n)
{
	int done = 0;

	(void)out;
	while (done < n) {
		ssize_t w = write(STDOUT_FILENO, buf + done, (size_t)(n - done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		done += (int)w;
	}
	return n;
}

static const struct cb_io stdio_io = { stdio_read, stdio_write };

int
cgi_main(const struct cb_config *cfg)
{
	struct cb_ctx ctx;
	struct arena a;
	struct cb_req r;

	signal(SIGPIPE, SIG_IGN);
	ctx_setup(&ctx, cfg, -1);
	arena_init(&a, 64 * 1024);
	req_init(&r, &a, &ctx, &stdio_io, NULL, NULL, environ);
	dispatch(&r);
	arena_free(&a);
	db_close(ctx.db);
	return 0;
}
