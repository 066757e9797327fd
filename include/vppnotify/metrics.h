/*
 * metrics.h - the process's operational counters, gauges and histograms, rendered in the
 * Prometheus text format (contract section 10, docs/DEPLOY.md lists every family).
 *
 * One set of metrics per process (like a Prometheus client's default registry): the modules
 * that observe something call the vn_metrics_* recorders below; `serve` renders them on
 * GET /metrics of the API listener together with the gauges read from the store
 * (vn_metrics_render_store).
 *
 * Cost: the recorders of the notification hot path (HTTP status, notification outcome,
 * latency, batch, commit) are relaxed atomic additions into fixed arrays: no lock, no
 * allocation, no system call. Only the Apple-side recorders take a mutex (Apple calls are
 * rate-limited to a few per second); their label sets are bounded (VN_METRICS_APPLE_MAX).
 *
 * Thread-safety: every function may be called from any thread at any time.
 */
#ifndef VPPNOTIFY_METRICS_H
#define VPPNOTIFY_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "vppnotify/ingest.h"
#include "vppnotify/notification.h"

struct vn_buf;
struct vn_error;
struct vn_store;

/* (endpoint, status) pairs of Apple requests kept apart; more are counted as endpoint "other". */
#define VN_METRICS_APPLE_MAX 96

/* Why a request to Apple waits before it is repeated. */
enum vn_backoff_reason {
    VN_BACKOFF_RATE_LIMITED, /* 429 or errorNumber 9646 */
    VN_BACKOFF_SERVER_ERROR, /* 5xx */
    VN_BACKOFF_UNREACHABLE,  /* no answer (connection, timeout) */
    VN_BACKOFF_N
};

/* ---- recorders (hot path: atomics only) ---------------------------------------------------- */

/* One HTTP answer of the notification listener, whatever route (401 and 403 included). */
void vn_metrics_http_status(unsigned status);

/* One notification answered: its type and ingest's outcome. */
void vn_metrics_notification(enum vn_ntype type, enum vn_outcome outcome);

/* Time from the first byte of a notification request to its answer. */
void vn_metrics_ingest_latency(int64_t ns);

/* One group commit of the writer: the jobs in its batch, and the time its COMMIT took. */
void vn_metrics_batch(size_t jobs);
void vn_metrics_commit(int64_t ns);
/* An optimistic group commit failed and its batch runs again guarded (store.h). */
void vn_metrics_batch_rerun(void);

/* Notifications waiting for the writer (set by the scraper just before it renders). */
void vn_metrics_queue_depth(size_t queued);

/* ---- recorders of the Apple side (a mutex; a few calls per second) ------------------------- */

/* One answer (or failure, status 0) of a request to Apple; endpoint is a short name that
 * outlives the process ("getAssets", "status"; a string literal). */
void vn_metrics_apple_request(const char *endpoint, int http_status);

/* One wait before a repeated request. */
void vn_metrics_apple_backoff(enum vn_backoff_reason why);

/* ---- reading ------------------------------------------------------------------------------- */

/* Counters a caller may want as numbers (sd_notify STATUS=, tests). */
struct vn_metrics_totals {
    uint64_t applied, duplicates, stored, quarantined, unavailable;
    uint64_t rejected; /* answers 401 and 403 */
};
void vn_metrics_totals(struct vn_metrics_totals *out);

/*
 * Append the process's families (counters, histograms, queue depth) to out in the
 * Prometheus text format 0.0.4: HELP and TYPE lines, every label set, no timestamps.
 * 0, or VN_ETOOBIG/-ENOMEM from the buffer.
 */
int vn_metrics_render(struct vn_buf *out);

/*
 * Append the families read from the store on each scrape: events by state, seconds since each
 * location's last notification, token expiry, subscription and sync state, the last sync's
 * drift, licenses available per asset (at most max_assets assets; a truncation is reported in
 * vppnotify_metrics_assets_truncated). st is borrowed (a read-only handle is enough); now_ms
 * is the wall clock. 0, or a negative code with err set (the buffer then holds a partial text).
 */
int vn_metrics_render_store(struct vn_buf *out, struct vn_store *st, int64_t now_ms,
                            long long max_assets, struct vn_error *err);

/* Forget every count (unit tests only). */
void vn_metrics_reset(void);

#endif
