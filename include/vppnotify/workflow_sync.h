/*
 * workflow_sync.h - sync as a user asks for it: one location, or every location with an
 * sToken, made equal to Apple's records now (a delta, or everything with full), each location's
 * drift reported as it is done.
 *
 * The sync engine itself is sync.h (page walks, generations, sweeps, the sync state); this
 * workflow opens each location's session on the given writer and store handle, runs it, and
 * goes on with the next location when one fails (its failure is reported and counted, and
 * recorded in its sync state by the engine).
 */
#ifndef VPPNOTIFY_WORKFLOW_SYNC_H
#define VPPNOTIFY_WORKFLOW_SYNC_H

#include <stddef.h>

#include "vppnotify/sync.h"
#include "vppnotify/workflow.h"

struct vn_error;

/* One location done: rc 0 and its report, or rc < 0 and err saying why (both borrowed for
 * the call). */
typedef void (*vn_sync_done_cb)(void *ud, const char *uid, int rc, const struct vn_sync_report *r,
                                const struct vn_error *err);

struct vn_workflow_sync_options {
    const char *uid;      /* one location; NULL: every location with an sToken, by uId */
    int full;             /* a full walk; else a delta where one is possible */
    int progress;         /* the engine's progress line on stderr (a terminal's door only) */
    vn_sync_done_cb done; /* may be NULL */
    void *ud;
};

struct vn_workflow_sync_result {
    size_t locations; /* locations attempted */
    size_t failed;    /* of them, failed */
};

/*
 * Sync (see above). Returns 0 when every location synced; VN_EUSAGE for a bad uId or no Apple
 * client; the store's code when the locations cannot be listed; else the code of the last
 * location that failed (r->failed says how many did; err names the last one).
 */
int vn_workflow_sync(const struct vn_workflow *wf, const struct vn_workflow_sync_options *o,
                     struct vn_workflow_sync_result *r, struct vn_error *err);

#endif
