/*
 * workflow_request.h - Apple's asynchronous requests as one workflow (assets associate /
 * disassociate / revoke, users create / update / retire, subscriptions associate /
 * disassociate), and `events track` for an event another program started.
 *
 * A request (vn_workflow_request):
 *   1. the location's session (its sealed sToken, refused when Apple refused it before);
 *   2. Service Config: its limits decide how the request is split (manage.h: planned within
 *      maxAssets, maxSerialNumbers, ...; duplicates refused before anything is sent);
 *   3. each planned request POSTed in order, and tracked: its eventId, the items its
 *      notifications should name and the request itself recorded (a writer job), so serve's
 *      tracker follows it to its end;
 *   4. the first failure stops the plan: the result lists the eventIds of the requests that
 *      went out before it (they are tracked), and the error says why the next one did not.
 *
 * Track (vn_workflow_track): start tracking an eventId (a writer job; already tracked is
 * fine) and ask Event Status once, so the caller can show where it stands.
 */
#ifndef VPPNOTIFY_WORKFLOW_REQUEST_H
#define VPPNOTIFY_WORKFLOW_REQUEST_H

#include <stddef.h>

#include "vppnotify/apple.h"
#include "vppnotify/manage.h"
#include "vppnotify/tracker.h"
#include "vppnotify/workflow.h"

struct vn_error;

/* What the door hears while the workflow runs; every member may be NULL. */
struct vn_request_progress {
    /* After planning, before anything is sent: how many requests, within which limits. */
    void (*planned)(void *ud, size_t n, const struct vn_apple_limits *limits);
    /* After each request is sent and tracked: its eventId (borrowed for the call). */
    void (*sent)(void *ud, const char *event_id, const struct vn_manage_request *req);
    void *ud;
};

struct vn_request_result {
    size_t planned;                /* requests in the plan */
    size_t sent;                   /* requests Apple accepted (each has an eventId) */
    char **event_ids;              /* owned: the sent ones' eventIds, in order; NULL if none */
    struct vn_apple_limits limits; /* Apple's limits the plan was made with */
};

/* Free what r owns; r may be zeroed or already released. */
void vn_request_result_release(struct vn_request_result *r);

/*
 * Plan, send and track m for location uid (see above); m and its arrays are borrowed.
 * Codes: VN_EUSAGE (nothing to do, a bad uId), VN_EDUP (duplicates), VN_EPARSE (a bad adamId),
 * VN_ENOTFOUND / VN_EAUTH (no such location or sToken, a refused sToken), or the failure that
 * stopped the plan (Apple's, the network's, the store's): r->sent of r->planned went out.
 */
int vn_workflow_request(const struct vn_workflow *wf, const char *uid, const struct vn_manage *m,
                        const struct vn_request_progress *p, struct vn_request_result *r,
                        struct vn_error *err);

struct vn_track_result {
    int already;                   /* the event was tracked before */
    struct vn_event_status status; /* what Event Status said */
};

/*
 * Track event_id of location uid, then poll Event Status once (recorded as the tracker's
 * polls are). Codes: VN_EUSAGE (a bad eventId or uId), the session's (no such location ...),
 * the store's, or Apple's (r->already says whether it is tracked anyway).
 */
int vn_workflow_track(const struct vn_workflow *wf, const char *uid, const char *event_id,
                      struct vn_track_result *r, struct vn_error *err);

#endif
