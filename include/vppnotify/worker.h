/*
 * worker.h - the Apple side of `vppnotify serve`: two threads beside the HTTP server and the
 * writer, each with its own read-only store handle; everything they write is a job of the one
 * writer (writer.h): tracked events, token status, sync pages, sweeps and sync state.
 *
 *   tracker thread: every tick, one vn_tracker_pass over the tracked events; every second,
 *                   the locations' token status for /healthz and the expiry warnings (logged
 *                   once a day per location while its sToken expires within 30 days).
 *   sync thread:    per location with an sToken that Apple has not refused, a full sync every
 *                   full_ms (and at once when it never had one), a delta sync every delta_ms
 *                   in between. A failed sync is retried after delta_ms (or full_ms).
 *
 * Both use one struct vn_apple (rate limits and backoff are shared per location).
 *
 * Several instances on one PostgreSQL database: each location's Apple work (tracker passes,
 * scheduled syncs, expiry warnings) is done only by the instance holding its lease (lease.h),
 * checked where each loop takes up a location and again before every request (session.h).
 * On SQLite the leases are trivially held and the tracker makes one pass over every location.
 */
#ifndef VPPNOTIFY_WORKER_H
#define VPPNOTIFY_WORKER_H

#include <jansson.h>
#include <stdint.h>

#include "vppnotify/store.h"
#include "vppnotify/tracker.h"

struct vn_apple;
struct vn_error;
struct vn_writer;
struct vn_worker;

struct vn_worker_options {
    const char *db; /* store URL; each thread opens its own read-only handle */
    struct vn_store_options store;
    struct vn_writer *writer; /* borrowed; outlives the worker */
    const char *key_file;     /* sealing key of the sTokens */
    struct vn_apple *apple;   /* borrowed; outlives the worker */
    struct vn_tracker_config tracker;
    int64_t full_ms;      /* full sync period; 0: no scheduled sync */
    int64_t delta_ms;     /* delta sync period; 0: no scheduled delta */
    const char *holder;   /* this instance's lease holder id; NULL: one is made */
    int64_t lease_ttl_ms; /* --lease-ttl; 0: 60 s */
};

/* Start the leases and both threads. Strings are copied. NULL with err on failure. */
struct vn_worker *vn_worker_start(const struct vn_worker_options *o, struct vn_error *err);

/* Stop: cancel Apple calls in progress, join both threads, give the leases up, free. NULL is
 * allowed. */
void vn_worker_stop(struct vn_worker *w);

/* For /healthz: add "locations": [{uId, tokenStatus, tokenExpirationDate, takeover, ...}]
 * (the latest snapshot, at most a second old) to body. ud is the struct vn_worker. */
void vn_worker_health(void *ud, json_t *body);

#endif
