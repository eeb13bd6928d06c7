/* media.h - processing after an upload completes: the kind the bytes
 * say, the SHA-256 of a multipart upload, and for images, video and
 * audio what the media processor (cubby-media) makes of them: a
 * thumbnail and a preview (derived blobs, stored where the object is),
 * dimensions, duration, codec and capture time. Jobs are rows of the jobs
 * table ('asset.process'), run by the jobs worker, a few at once (one per
 * processor), each with a time limit; a file that crashes or stalls the
 * processor is tried a bounded number of times, then marked failed. */
#ifndef CUBBY_MEDIA_H
#define CUBBY_MEDIA_H

#include <poll.h>

struct cb_config;
struct db;

/* How many times a file may crash or stall a processor. */
#define MEDIA_ATTEMPTS 3

/* 1 for the kinds the media processor reads (image, video, audio). */
int media_kind(const char *kind);

/* Queue processing of a completed object (in the caller's transaction)
 * and mark it pending; notify: send the file API's file.uploaded or
 * file.failed when it is done. 0 or 500. */
int media_enqueue(struct db *db, const char *tenant_id, const char *id, int notify);

/* The jobs worker's processors. */
struct media_pool;
struct media_pool *media_pool_new(const struct cb_config *cfg);
/* Stop the processors (a job in flight goes back in the queue when its
 * lease ends). */
void media_pool_free(struct media_pool *mp);
/* Start due jobs while a processor is free (jobs that need none run
 * here). How many were started or run, or -1. */
int media_dispatch(struct media_pool *mp, struct db *db);
/* The answers being waited for: fds into pfd (at most max), count. */
int media_pollfds(struct media_pool *mp, struct pollfd *pfd, int max);
/* Read answers, finish their jobs, stop processors past their time.
 * How many jobs finished, or -1. */
int media_collect(struct media_pool *mp, struct db *db);

/* The media processor program this server runs, into out. 0, or -1 when
 * there is none. */
int media_helper_path(const struct cb_config *cfg, char *out, size_t len);

#endif
