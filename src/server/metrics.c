/* metrics.c - the shared metrics region and its Prometheus rendering.
 * Lives in MAP_SHARED memory: only fixed-size data, only atomic updates,
 * never a pointer (each process maps it at the same address, but a pointer
 * to one process's heap means nothing to another). */
#include "config.h"

#include <string.h>
#include <sys/mman.h>

#include "cubby/buf.h"
#include "cubby/metrics.h"
#include "cubby/router.h"
#include "cubby/util.h"

static const int status_codes[] = {
	200, 201, 204, 206, 301, 302, 304, 400, 401, 403, 404, 405, 406, 409,
	411, 412, 413, 414, 415, 416, 422, 429, 500, 501, 502, 503,
};
#define NSTATUS (sizeof status_codes / sizeof status_codes[0] + 1)  /* + other */

/* Latency bucket bounds in microseconds; one more bucket for +Inf. */
static const uint64_t lat_bounds[] = {
	250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
	500000, 1000000, 2500000, 5000000, 10000000,
};
#define NLAT (sizeof lat_bounds / sizeof lat_bounds[0] + 1)

struct route_counters {
	uint64_t status[NSTATUS];
	uint64_t lat[NLAT];
	uint64_t lat_sum_us;
};

struct region {
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t worker_restarts;
	uint32_t workers_alive;
	uint32_t stream_workers_alive;
	uint32_t nroutes;
	uint32_t pad;
	struct metrics_slot slots[METRICS_MAX_SLOTS];
	struct route_counters routes[];   /* nroutes + 1 (unrouted) */
};

static struct region *reg;

int
metrics_init(size_t nroutes)
{
	size_t size = sizeof *reg + (nroutes + 1) * sizeof reg->routes[0];
	void *p;

	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED)
		return -1;
	memset(p, 0, size);
	reg = p;
	reg->nroutes = (uint32_t)nroutes;
	return 0;
}

static size_t
status_index(int status)
{
	for (size_t i = 0; i < NSTATUS - 1; i++)
		if (status_codes[i] == status)
			return i;
	return NSTATUS - 1;
}

#define ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)

void
metrics_record(int route, int status, uint64_t usec, uint64_t in, uint64_t out)
{
	struct route_counters *rc;
	size_t b = 0;

	if (reg == NULL)
		return;
	if (route < 0 || (uint32_t)route >= reg->nroutes)
		route = (int)reg->nroutes;
	rc = &reg->routes[route];
	ADD(&rc->status[status_index(status)], 1);
	while (b < NLAT - 1 && usec > lat_bounds[b])
		b++;
	ADD(&rc->lat[b], 1);
	ADD(&rc->lat_sum_us, usec);
	ADD(&reg->bytes_in, in);
	ADD(&reg->bytes_out, out);
}

int
metrics_slot_claim(pid_t pid, enum slot_kind kind)
{
	if (reg == NULL)
		return -1;
	for (int i = 0; i < METRICS_MAX_SLOTS; i++) {
		struct metrics_slot *s = &reg->slots[i];
		if (LOAD(&s->kind) == SLOT_FREE) {
			memset(s, 0, sizeof *s);
			s->route = -1;
			__atomic_store_n(&s->pid, (int32_t)pid, __ATOMIC_RELAXED);
			__atomic_store_n(&s->kind, (int32_t)kind, __ATOMIC_RELEASE);
			return i;
		}
	}
	return -1;
}

struct metrics_slot *
metrics_slot(int i)
{
	if (reg == NULL || i < 0 || i >= METRICS_MAX_SLOTS)
		return NULL;
	return &reg->slots[i];
}

void
metrics_slot_release(int i)
{
	if (reg != NULL && i >= 0 && i < METRICS_MAX_SLOTS)
		__atomic_store_n(&reg->slots[i].kind, SLOT_FREE, __ATOMIC_RELEASE);
}

void
metrics_set_workers_alive(int api, int stream)
{
	if (reg != NULL) {
		__atomic_store_n(&reg->workers_alive, (uint32_t)api, __ATOMIC_RELAXED);
		__atomic_store_n(&reg->stream_workers_alive, (uint32_t)stream, __ATOMIC_RELAXED);
	}
}

void
metrics_add_restart(void)
{
	if (reg != NULL)
		ADD(&reg->worker_restarts, 1);
}

static void
route_label(char *out, size_t len, size_t i)
{
	if (i < cb_nroutes) {
		size_t o = 0;
		const char *src[2] = { cb_routes[i].method, cb_routes[i].pattern };
		for (int k = 0; k < 2; k++) {
			for (const char *p = src[k]; *p && o + 2 < len; p++) {
				if (*p == '"' || *p == '\\')
					out[o++] = '\\';
				out[o++] = *p;
			}
			if (k == 0 && o + 1 < len)
				out[o++] = ' ';
		}
		out[o] = '\0';
	} else {
		strlcpy_cb(out, "unmatched", len);
	}
}

int
metrics_render(struct buf *out)
{
	char label[300];
	int rc = 0;

	if (reg == NULL)
		return -1;
	rc |= buf_puts(out,
	    "# HELP cubby_requests_total Requests answered, by route and status.\n"
	    "# TYPE cubby_requests_total counter\n");
	for (size_t i = 0; i <= reg->nroutes; i++) {
		struct route_counters *r = &reg->routes[i];
		route_label(label, sizeof label, i);
		for (size_t s = 0; s < NSTATUS; s++) {
			uint64_t v = LOAD(&r->status[s]);
			if (v == 0)
				continue;
			if (s < NSTATUS - 1)
				rc |= buf_printf(out, "cubby_requests_total{route=\"%s\","
				    "status=\"%d\"} %llu\n", label, status_codes[s],
				    (unsigned long long)v);
			else
				rc |= buf_printf(out, "cubby_requests_total{route=\"%s\","
				    "status=\"other\"} %llu\n", label,
				    (unsigned long long)v);
		}
	}
	rc |= buf_puts(out,
	    "# HELP cubby_request_duration_seconds Time from routing to the "
	    "last byte handed to the web server.\n"
	    "# TYPE cubby_request_duration_seconds histogram\n");
	for (size_t i = 0; i <= reg->nroutes; i++) {
		struct route_counters *r = &reg->routes[i];
		uint64_t cum = 0, lat[NLAT];
		for (size_t b = 0; b < NLAT; b++) {
			lat[b] = LOAD(&r->lat[b]);
			cum += lat[b];
		}
		if (cum == 0)
			continue;
		route_label(label, sizeof label, i);
		cum = 0;
		for (size_t b = 0; b < NLAT; b++) {
			cum += lat[b];
			if (b < NLAT - 1)
				rc |= buf_printf(out, "cubby_request_duration_seconds_bucket"
				    "{route=\"%s\",le=\"%g\"} %llu\n", label,
				    (double)lat_bounds[b] / 1e6, (unsigned long long)cum);
			else
				rc |= buf_printf(out, "cubby_request_duration_seconds_bucket"
				    "{route=\"%s\",le=\"+Inf\"} %llu\n", label,
				    (unsigned long long)cum);
		}
		rc |= buf_printf(out, "cubby_request_duration_seconds_sum"
		    "{route=\"%s\"} %.6f\n", label,
		    (double)LOAD(&r->lat_sum_us) / 1e6);
		rc |= buf_printf(out, "cubby_request_duration_seconds_count"
		    "{route=\"%s\"} %llu\n", label, (unsigned long long)cum);
	}
	rc |= buf_printf(out,
	    "# HELP cubby_request_bytes_total Request body bytes read.\n"
	    "# TYPE cubby_request_bytes_total counter\n"
	    "cubby_request_bytes_total %llu\n"
	    "# HELP cubby_response_bytes_total Response body bytes written.\n"
	    "# TYPE cubby_response_bytes_total counter\n"
	    "cubby_response_bytes_total %llu\n"
	    "# HELP cubby_workers_alive Worker processes serving requests.\n"
	    "# TYPE cubby_workers_alive gauge\n"
	    "cubby_workers_alive %u\n"
	    "# HELP cubby_stream_workers_alive Stream-pool workers (uploads, streamed downloads).\n"
	    "# TYPE cubby_stream_workers_alive gauge\n"
	    "cubby_stream_workers_alive %u\n"
	    "# HELP cubby_worker_restarts_total Workers replaced after dying.\n"
	    "# TYPE cubby_worker_restarts_total counter\n"
	    "cubby_worker_restarts_total %llu\n",
	    (unsigned long long)LOAD(&reg->bytes_in),
	    (unsigned long long)LOAD(&reg->bytes_out),
	    LOAD(&reg->workers_alive),
	    LOAD(&reg->stream_workers_alive),
	    (unsigned long long)LOAD(&reg->worker_restarts));
	return rc ? -1 : 0;
}
