/*
 * tracker.h - following every tracked event to its end (contract section 5, Apple's own
 * recipe in apple-api.md section 8.1 item 8).
 *
 * Rules, with the durations of struct vn_tracker_config:
 *   - the notifications name as many items as the request had: the event is over, COMPLETE
 *     (FAILED if any item failed), without asking Apple;
 *   - no notification for `quiet` (since the request or the last notification): GET Event
 *     Status; while it says PENDING, at least `poll` between polls (`deferred_poll` for a
 *     deferred subscription disassociation, which stays PENDING until the billing period
 *     ends);
 *   - Event Status COMPLETE or FAILED: numRequested, numCompleted and failures are kept; when
 *     fewer items were notified than it completed (or requested), the notifications went
 *     missing: the event is marked notificationsMissing and a targeted re-sync runs;
 *   - still PENDING `stall` after the request: marked stalled and reported, polled on, never
 *     re-submitted automatically (docs/OPERATIONS.md). A deferred disassociation is never
 *     stalled: its period may run for weeks.
 * All of it lives in the store (event_tracking), so a restarted serve resumes where it was.
 */
#ifndef VPPNOTIFY_TRACKER_H
#define VPPNOTIFY_TRACKER_H

#include <stdint.h>

#include "vppnotify/store.h"

struct vn_error;
struct vn_session;
struct vn_session_env;

struct vn_tracker_config {
    int64_t quiet_ms;         /* default 5 min */
    int64_t poll_ms;          /* default 30 s */
    int64_t stall_ms;         /* default 10 min */
    int64_t deferred_poll_ms; /* default 1 h */
};

enum vn_track_action {
    VN_TRACK_WAIT,     /* nothing to do before due_ms */
    VN_TRACK_COMPLETE, /* every item was notified: over, no poll needed */
    VN_TRACK_POLL,     /* ask Event Status */
    VN_TRACK_FINISH,   /* Event Status is final and every item was notified: over */
    VN_TRACK_MISSING,  /* Event Status is final, notifications are missing: re-sync, over */
    VN_TRACK_STALL,    /* PENDING for too long: mark stalled (then keep polling) */
};

struct vn_track_decision {
    enum vn_track_action action;
    int64_t due_ms; /* VN_TRACK_WAIT: when something may be due (0: only a notification) */
};

/* The rules above as a pure function of the event's state and the time. */
struct vn_track_decision vn_tracker_decide(const struct vn_tracked_event *e,
                                           const struct vn_tracker_config *c, int64_t now_ms);

const char *vn_track_action_name(enum vn_track_action a);

/* What one Event Status poll said. */
struct vn_event_status {
    char status[32];         /* "PENDING", "COMPLETE", "FAILED"; "NOT_FOUND" for 9708 */
    long long num_requested; /* -1 when absent */
    long long num_completed;
};

/* GET Event Status for one event and record it (polls + 1, status, numbers, failures; 9708:
 * the event is over as NOT_FOUND). 0 and *out (may be NULL), or the call's error (recorded as
 * the poll's error). */
int vn_tracker_poll(struct vn_session *s, const char *event_id, struct vn_event_status *out,
                    struct vn_error *err);

/*
 * One pass over every tracked event (of uid, or all): decide, and act on what is due. Sessions
 * are opened from env as needed; locations whose token Apple refused are skipped. Returns 0,
 * or a store error; problems with single events are logged and retried on a later pass.
 */
int vn_tracker_pass(struct vn_store *st, struct vn_session_env *env, const char *uid,
                    const struct vn_tracker_config *c, int64_t now_ms);

#endif
