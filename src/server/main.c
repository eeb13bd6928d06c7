/* main.c - cubby-fcgi: find the socket (--listen, systemd socket
 * activation, fd 0 from a spawner, or plain CGI), check the database, then hand over to the pool.
 * Refuses to serve a database whose schema is not this binary's. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cubby/config.h"
#include "cubby/crypto.h"
#include "cubby/db.h"
#include "cubby/log.h"
#include "cubby/metrics.h"
#include "cubby/ratelimit.h"
#include "cubby/pool.h"
#include "cubby/router.h"
#include "cubby/util.h"
#include "cubby/xmalloc.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: cubby-fcgi [-c FILE] [-l ADDR] [-w N] [-V]\n"
	    "  -c, --config FILE   configuration file (default $CUBBY_CONFIG or\n"
	    "                      " SYSCONFDIR "/cubby/cubby.conf)\n"
	    "  -l, --listen ADDR   unix:/path or host:port; without it, fd 0 must be\n"
	    "                      a listening socket (spawn-fcgi, lighttpd bin-path,\n"
	    "                      mod_fcgid) or systemd must pass one (socket\n"
	    "                      activation), or the request is plain CGI\n"
	    "  -w, --workers N     worker processes (default: CPUs)\n"
	    "  -R, --routes        print the route table (method, pattern, auth,\n"
	    "                      scope) and exit\n"
	    "  -V, --version       print the version and exit\n");
}

static int
check_database(const struct cb_config *cfg)
{
	struct db *db;
	char err[512];

	if (db_open_current(cfg, &db, err, sizeof err) != 0) {
		log_err("refusing to serve: %s", err);
		return -1;
	}
	db_close(db);
	return 0;
}

/* The rate-limit table every process on this data directory shares. */
static int
ratelimit_open(const struct cb_config *cfg)
{
	char path[4096];

	if ((size_t)snprintf(path, sizeof path, "%s/ratelimit.map", cfg->data_dir) >=
	    sizeof path)
		return ratelimit_init(NULL);
	return ratelimit_init(path);
}

#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif

/* The stream pool's socket: cfg->stream_listen, or for "auto" (the
 * default, so a cubby.conf from before the stream pool meets the shipped
 * snippets) cubby-stream.sock beside a unix listen, else in
 * RUNSTATEDIR/cubby. fd; -1 for none (empty, or "auto" could not be made:
 * a warning); -2 when the one configured could not be made. */
static int
stream_open(struct cb_config *cfg)
{
	char spec[4200], err[512];
	int fd, is_auto = strcmp(cfg->stream_listen, "auto") == 0;

	if (!*cfg->stream_listen)
		return -1;
	if (!is_auto) {
		strlcpy_cb(spec, cfg->stream_listen, sizeof spec);
	} else if (strncmp(cfg->listen, "unix:", 5) == 0 && strrchr(cfg->listen, '/')) {
		const char *slash = strrchr(cfg->listen, '/');
		if ((size_t)snprintf(spec, sizeof spec, "%.*s/cubby-stream.sock",
		    (int)(slash - cfg->listen), cfg->listen) >= sizeof spec)
			return -1;
	} else {
		snprintf(spec, sizeof spec, "unix:%s/cubby/cubby-stream.sock", RUNSTATEDIR);
	}
	fd = listen_open(spec, cfg->listen_mode, cfg->listen_owner, (int)cfg->backlog,
	    err, sizeof err);
	if (fd < 0) {
		if (!is_auto) {
			log_err("stream_listen: %s", err);
			return -2;
		}
		log_warn("no stream pool: %s (set stream_listen to where the web server "
		    "sends uploads and downloads, or empty to serve them on listen)", err);
		return -1;
	}
	free(cfg->stream_listen);
	cfg->stream_listen = xstrdup(spec);
	return fd;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config",  required_argument, NULL, 'c' },
		{ "listen",  required_argument, NULL, 'l' },
		{ "workers", required_argument, NULL, 'w' },
		{ "version", no_argument,       NULL, 'V' },
		{ "routes",  no_argument,       NULL, 'R' },
		{ "help",    no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cb_config cfg;
	const char *config_path = NULL, *listen_arg = NULL, *workers_arg = NULL;
	char err[512];
	int c, fd = -1, sfd = -1, rc, created_unix = 0, stream_unix = 0;

	while ((c = getopt_long(argc, argv, "c:l:w:VRh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config_path = optarg; break;
		case 'l': listen_arg = optarg; break;
		case 'w': workers_arg = optarg; break;
		case 'V': printf("cubby-fcgi %s\n", PACKAGE_VERSION); return 0;
		case 'R': {
			/* method, pattern, who may call it, the scope it needs */
			static const char *const auth[] = { "none", "admin", "tenant", "bucket",
			    "tenant-or-url" };
			static const char *const scope[] = { "-", "read", "write", "admin",
			    "enumerate", "delete" };
			for (size_t i = 0; i < cb_nroutes; i++)
				printf("%s %s %s %s\n", cb_routes[i].method, cb_routes[i].pattern,
				    auth[cb_routes[i].auth], scope[cb_routes[i].min_scope]);
			return 0;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	log_init("cubby-fcgi", CB_LOG_INFO);
	if (config_load(&cfg, config_path, err, sizeof err) != 0) {
		log_err("config: %s", err);
		return 1;
	}
	if (log_reopen(cfg.log_file, err, sizeof err) != 0) {
		log_err("%s", err);
		return 1;
	}
	if (listen_arg != NULL) {
		free(cfg.listen);
		cfg.listen = xstrdup(listen_arg);
	}
	if (workers_arg != NULL && parse_ll(workers_arg, 1, 1024, &cfg.workers) != 0) {
		log_err("--workers: expected 1..1024");
		return 2;
	}
	log_set_level(log_level_parse(cfg.log_level));
	if (crypto_init() != 0) {
		log_err("libgcrypt is too old (need 1.8 or later)");
		return 1;
	}
	if (router_init(cb_routes, cb_nroutes) != 0)
		return 1;

	/* Where requests come from, most explicit first: --listen; a socket
	 * passed by systemd (cubby.socket); a socket handed over as fd 0; plain
	 * CGI (a web server running us per request, even if the shared config
	 * names a socket); the config's listen. */
	fd = listen_arg == NULL ? listen_activated(err, sizeof err) : -1;
	if (fd == -2) {
		log_err("%s", err);
		return 1;
	} else if (fd >= 0) {
		log_info("listening on the socket passed by systemd");
	} else if (listen_arg == NULL && fd_is_listener(0)) {
		fd = 0;
	} else if (listen_arg == NULL && getenv("GATEWAY_INTERFACE") != NULL) {
		log_init("cubby-cgi", log_level_parse(cfg.log_level));
		ratelimit_open(&cfg);
		rc = cgi_main(&cfg);
		config_free(&cfg);
		return rc;
	} else if (*cfg.listen) {
		fd = listen_open(cfg.listen, cfg.listen_mode, cfg.listen_owner,
		    (int)cfg.backlog, err, sizeof err);
		if (fd < 0) {
			log_err("%s", err);
			return 1;
		}
		created_unix = strncmp(cfg.listen, "unix:", 5) == 0;
	} else {
		log_err("no socket: give --listen (or 'listen' in the config), or "
		    "start cubby-fcgi from a FastCGI spawner");
		return 2;
	}
	if (check_database(&cfg) != 0)
		return 1;
	/* The stream pool's socket (the upload and streamed-download routes),
	 * opened before any worker: once the API answers, so do they. Never
	 * under a spawner that runs many of us (mod_fcgid: stream_workers 0
	 * in its snippets); CGI returned above. */
	if (cfg.stream_workers > 0 && (sfd = stream_open(&cfg)) == -2)
		return 1;
	stream_unix = sfd >= 0 && strncmp(cfg.stream_listen, "unix:", 5) == 0;

	if (metrics_init(cb_nroutes) != 0 || ratelimit_open(&cfg) != 0) {
		log_err("cannot map the shared metrics and rate-limit regions");
		return 1;
	}
	rc = pool_run(&cfg, config_path, fd, sfd);
	if (created_unix)
		unlink(cfg.listen + 5);
	if (stream_unix)
		unlink(cfg.stream_listen + 5);
	config_free(&cfg);
	return rc;
}
