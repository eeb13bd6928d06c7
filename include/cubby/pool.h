/* pool.h - the master process and what it runs: workers and the jobs worker.
 * The master only supervises; it never serves a request. */
#ifndef CUBBY_POOL_H
#define CUBBY_POOL_H

#include <stddef.h>

struct cb_config;

/* Open the listening socket described by spec ("unix:/path" or
 * "host:port"); fd, or -1 with a message in err. */
int listen_open(const char *spec, long long mode, const char *owner,
    int backlog, char *err, size_t errlen);
/* 1 when fd is a listening stream socket (handed over by a spawner). */
int fd_is_listener(int fd);
/* The socket systemd passed by socket activation: 3, or -1 when this
 * process was not socket-activated, or -2 with a message in err when the
 * handover is unusable (more than one socket, not a listener). */
int listen_activated(char *err, size_t errlen);

/* Run the pool on listen_fd, and the stream pool on stream_fd (-1: none),
 * until SIGTERM/SIGINT. config_path is re-read on SIGHUP (NULL: the same
 * lookup as at start). Returns the exit status. */
int pool_run(struct cb_config *cfg, const char *config_path, int listen_fd,
    int stream_fd);

/* A worker: serve FastCGI requests on listen_fd until told to stop or
 * max_requests is reached. Never returns. */
void worker_main(const struct cb_config *cfg, int listen_fd, int slot)
	__attribute__((noreturn));
/* The jobs worker: run queued jobs until told to stop. Never returns. */
void jobs_main(const struct cb_config *cfg, int slot) __attribute__((noreturn));
/* Serve exactly one request as plain CGI (environment, stdin, stdout).
 * Returns the exit status. */
int cgi_main(const struct cb_config *cfg);

#endif
