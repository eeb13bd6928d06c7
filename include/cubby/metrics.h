/* metrics.h - pool-wide counters in one MAP_SHARED region made before fork.
 * Every worker adds with atomics; /metrics from any worker reads the whole
 * pool. Also holds one slot per process, so the master can say which route
 * a dead worker was serving. */
#ifndef CUBBY_METRICS_H
#define CUBBY_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct buf;

#define METRICS_MAX_SLOTS 3080   /* two generations of both pools (pool.c) */

/* SLOT_STREAM: a worker of the stream pool (uploads and streamed
 * downloads on a socket of their own, stream_listen). */
enum slot_kind { SLOT_FREE = 0, SLOT_WORKER, SLOT_JOBS, SLOT_STREAM };

struct metrics_slot {
	int32_t pid;
	int32_t kind;
	int32_t route;              /* route being served, -1 when idle */
	int32_t pad;
	uint64_t requests;          /* served by this process */
	char rid[33];               /* request id being served */
	char pad2[7];
};

/* Map the region for nroutes routes (before fork). 0 or -1. */
int metrics_init(size_t nroutes);
/* Count one finished request. route may be -1 (unrouted). */
void metrics_record(int route, int status, uint64_t usec, uint64_t bytes_in,
    uint64_t bytes_out);
/* Claim a free slot for pid (master). Index, or -1 if full. */
int metrics_slot_claim(pid_t pid, enum slot_kind kind);
/* The slot at index i (for the worker itself, and the master). */
struct metrics_slot *metrics_slot(int i);
/* Release a slot after its process has been reaped (master). */
void metrics_slot_release(int i);
/* Pool gauges and counters kept by the master. */
void metrics_set_workers_alive(int api, int stream);
void metrics_add_restart(void);
/* Prometheus text exposition of everything, into out. 0 or -1 (cap). */
int metrics_render(struct buf *out);

#endif
