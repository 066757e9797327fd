/*
 * rejects.h - the record of rejected requests (401/403) kept by the endpoint (private to
 * src/lib/ingest; the table is docs/SCHEMA.md's `rejections`).
 *
 * An attacker decides how many requests are rejected, so the record is bounded everywhere:
 * vn_rejects_note only adds to a count in memory (one short lock, no allocation); a window of
 * one second holds at most keys_max distinct (address, status, reason, claimed uId, token's
 * location) rows, and what does not fit is dropped and counted; once a second a flusher thread
 * hands the window to the one writer as a NORMAL job, which inserts its rows and prunes the
 * table to max_rows and max_age. A job the writer's queue refuses is dropped and counted too.
 * Nothing waits on the disk in an HTTP thread, and the writer sees at most one small job a
 * second from here.
 */
#ifndef VPPNOTIFY_INGEST_REJECTS_H
#define VPPNOTIFY_INGEST_REJECTS_H

#include <stddef.h>
#include <stdint.h>

struct vn_error;
struct vn_writer;
struct vn_rejects;

struct vn_rejects_options {
    size_t keys_max;    /* distinct rows per window; default 1024 */
    int64_t window_ms;  /* default 1000 */
    long long max_rows; /* kept in the table; 0: no limit */
    int64_t max_age_ms; /* kept in the table; 0: no limit */
};

struct vn_rejects_stats {
    uint64_t noted;          /* rejections seen */
    uint64_t written;        /* of them, in rows the writer committed */
    uint64_t dropped_window; /* a window was full */
    uint64_t dropped_writer; /* the writer refused or failed the job */
};

/* A record writing through w (borrowed; must outlive it). Starts the flusher thread. */
struct vn_rejects *vn_rejects_new(struct vn_writer *w, const struct vn_rejects_options *o,
                                  struct vn_error *err);

/* Count one rejection. Strings are copied (truncated to their column's size); claimed_uid
 * and token_uid may be NULL. Thread-safe; never blocks on I/O. */
void vn_rejects_note(struct vn_rejects *r, const char *remote, int status, const char *reason,
                     const char *claimed_uid, const char *token_uid);

/* Hand what is counted to the writer now (before the writer stops). */
void vn_rejects_flush(struct vn_rejects *r);

/* New limits of the table (a reload). */
void vn_rejects_set_retention(struct vn_rejects *r, long long max_rows, int64_t max_age_ms);

void vn_rejects_stats(struct vn_rejects *r, struct vn_rejects_stats *out);

/* Stop the flusher and free; what was counted since the last flush is dropped (and logged).
 * NULL is allowed. */
void vn_rejects_free(struct vn_rejects *r);

#endif
