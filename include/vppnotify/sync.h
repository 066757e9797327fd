/*
 * sync.h - re-sync: make a location's mirror equal to Apple's records.
 *
 * Full sync walks every page of assets, assignments and users (page index) and of
 * subscriptions and subscription assignments (cursors). Each page is written as it arrives,
 * in writer jobs of a bounded number of rows (writer.h: BULK jobs, so notifications are not
 * held up), every row tagged with the walk's generation; only one page is in memory at a
 * time, whatever the organization's size. A walk whose versionId changes mid-way (Apple's data
 * changed under it) starts that table over with a new generation, at most max_restarts times.
 * When every walk is done, each table is swept in bounded chunks: the rows its last walk did
 * not return are deleted. The drift counts per table the rows added, changed (walks started
 * over included) and removed; written rows lose needsSync; the first pages' versionIds of
 * assignments and users are kept for the next delta.
 *
 * Delta sync asks assignments and users only for what changed since those versionIds
 * (sinceVersionId) and upserts it; Apple's deltas carry no removals, so removals come from
 * notifications and the next full sync. Assets have no delta: a delta sync walks them whole
 * (they are few). Without a stored versionId, or when Apple refuses it (9721), a delta sync is
 * a full one.
 *
 * A targeted sync refreshes only what one async request touched (its assets and their
 * assignments, its users, its subscriptions and their seats): the tracker runs it when an
 * event's notifications went missing.
 *
 * A walk that fails leaves the pages written so far (Apple's records, newer than the mirror's)
 * and sweeps nothing; the failure is recorded in the sync state. The session's writer decides
 * where writes go: serve's one writer, or the CLI's inline writer (one short transaction per
 * job), so a sync never holds the write lock for long.
 */
#ifndef VPPNOTIFY_SYNC_H
#define VPPNOTIFY_SYNC_H

#include "vppnotify/store.h"

struct vn_error;
struct vn_session;

struct vn_sync_options {
    int full;         /* full walk; else a delta (a full one when no delta is possible) */
    int max_restarts; /* per table, when the versionId changes mid-walk; default 5 */
    int progress;     /* print a progress line on stderr (for a terminal) */
};

struct vn_sync_counts {
    long long fetched, added, removed, changed;
};

struct vn_sync_report {
    const char *kind; /* "full", "delta", "targeted" (static) */
    struct vn_sync_counts t[VN_MT__COUNT];
    int walked[VN_MT__COUNT]; /* 1 if the table was fetched */
    int restarts;             /* walks started over (versionId changed) */
    long long pages;          /* pages (requests) fetched */
};

/* A full or delta sync of the session's location; the sync state is recorded (success or
 * the error). */
int vn_sync_run(struct vn_session *s, const struct vn_sync_options *o, struct vn_sync_report *r,
                struct vn_error *err);

/*
 * A targeted sync for one request: kind/type as tracked ("assets"/"ASSOCIATE", ...) and the
 * request's JSON. Without a request (an event started by another program) it is a full sync.
 */
int vn_sync_targeted(struct vn_session *s, const char *kind, const char *type,
                     const char *request_json, struct vn_sync_report *r, struct vn_error *err);

/*
 * Verify one key with a targeted read at Apple (store.h, vn_store_verify_list): an asset; an
 * assignment and its asset; a subscription's seats (one seat, or all of them) and the
 * subscription; a user. Apple's answer is written (rows it does not return within the key are
 * swept), except where the mirror changed after the read. The caller removes the key from the
 * queue once this returns 0.
 */
int vn_sync_verify(struct vn_session *s, const struct vn_verify_item *it, struct vn_sync_report *r,
                   struct vn_error *err);

/* The report as one line of JSON (owned, free()): kind, per table fetched/added/removed/
 * changed, restarts, pages. */
char *vn_sync_report_json(const struct vn_sync_report *r);

/* "assets", "assignments", "users", "subscriptions", "subscriptionAssignments". */
const char *vn_mirror_table_name(enum vn_mirror_table t);

#endif
