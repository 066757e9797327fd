/*
 * workflow_replay.h - replay: run every notification kept in state `stored` (an unknown type,
 * a payload that did not validate, a failed apply) through today's parser and apply rules.
 *
 * Each notification that parses and validates now is applied in one writer job: its ledger
 * state moves from `stored` to `applied` and the mirror changes, in the same transaction. The
 * state change comes first and is a transition (VN_ECONFLICT when another replay, in this
 * process or another, got there first), so a notification is applied exactly once however many
 * replays run at the same time, and a second replay applies nothing new (idempotent).
 *
 * A notification that still does not parse or validate stays `stored`, untouched. A job that
 * fails by itself (its own data) is counted as failed and the replay goes on; a store-wide
 * failure (unavailable, full, fatal) ends the replay with that code.
 */
#ifndef VPPNOTIFY_WORKFLOW_REPLAY_H
#define VPPNOTIFY_WORKFLOW_REPLAY_H

#include <stddef.h>

#include "vppnotify/workflow.h"

struct vn_error;

enum vn_replay_outcome {
    VN_REPLAY_APPLIED,      /* applied now; its state is `applied` */
    VN_REPLAY_STILL_STORED, /* today's parser still refuses it (why says) */
    VN_REPLAY_RACED,        /* another replay applied it meanwhile: nothing done */
    VN_REPLAY_FAILED,       /* the store refused (why says); it stays `stored` */
};

/* One notification's outcome; every pointer is borrowed for the callback's duration. */
struct vn_replay_item {
    const char *id;
    const char *type_name; /* notificationType as received; NULL if the envelope is unreadable */
    enum vn_replay_outcome outcome;
    const char *why; /* STILL_STORED and FAILED: why; else "" */
};

typedef void (*vn_replay_cb)(void *ud, const struct vn_replay_item *item);

struct vn_replay_options {
    const char *uid;  /* one location's notifications, or NULL for all */
    size_t max_depth; /* JSON nesting of the parser; 0: its default */
    vn_replay_cb cb;  /* called once per notification, in order; may be NULL */
    void *ud;
};

struct vn_replay_result {
    size_t stored;       /* notifications in state `stored` when the replay began */
    size_t applied;      /* applied by this replay */
    size_t still_stored; /* still not applicable */
    size_t raced;        /* applied by someone else meanwhile */
    size_t failed;       /* the store refused them */
};

/*
 * Replay (see above) with wf->st (reads) and wf->w (writes); wf->apple is not used. *r is
 * filled as far as the replay got, also on failure. Returns 0, or the store-wide failure that
 * ended it (err says which notification and why).
 */
int vn_workflow_replay(const struct vn_workflow *wf, const struct vn_replay_options *o,
                       struct vn_replay_result *r, struct vn_error *err);

/* "applied", "still stored", "raced", "failed". Static. */
const char *vn_replay_outcome_name(enum vn_replay_outcome o);

#endif
