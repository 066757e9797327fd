/*
 * manage.h - Apple's asynchronous requests: assets associate / disassociate / revoke, users
 * create / update / retire, subscriptions associate / disassociate.
 *
 * A request of any size is planned into requests within the Service Config limits (maxAssets,
 * maxSerialNumbers, maxClientUserIds, maxRevoke*, maxUsers, maxSubscriptions,
 * maxSubscriptionClientUserIds), duplicates are refused before anything is sent (Apple would
 * refuse them with 9703-9705 or 9715), and each request sent is recorded as a tracked event
 * with the number of items its notifications should name (apple-api.md section 2.4: assets x
 * (users + serials); users: their count; subscriptions: adamIds x users; revoke: unknown,
 * Apple counts the assignments it finds) and the request itself, for a targeted re-sync.
 */
#ifndef VPPNOTIFY_MANAGE_H
#define VPPNOTIFY_MANAGE_H

#include <jansson.h>
#include <stddef.h>

#include "vppnotify/apple.h"
#include "vppnotify/notification.h"

struct vn_error;
struct vn_session;

enum vn_manage_op {
    VN_MO_ASSETS_ASSOCIATE,
    VN_MO_ASSETS_DISASSOCIATE,
    VN_MO_ASSETS_REVOKE,
    VN_MO_USERS_CREATE,
    VN_MO_USERS_UPDATE,
    VN_MO_USERS_RETIRE,
    VN_MO_SUBS_ASSOCIATE,
    VN_MO_SUBS_DISASSOCIATE,
};

struct vn_manage_asset {
    char adam_id[VN_ADAM_ID_MAX + 1];
    char pricing_param[8]; /* "STDQ" or "PLUS" */
};

struct vn_manage_user {
    const char *client_user_id;
    const char *email;            /* or NULL */
    const char *managed_apple_id; /* or NULL */
};

/* What to do; every array is borrowed. */
struct vn_manage {
    enum vn_manage_op op;
    const struct vn_manage_asset *assets; /* assets associate/disassociate */
    size_t nassets;
    const char *const *client_user_ids; /* assets, subscriptions */
    size_t nusers;
    const char *const *serials; /* assets */
    size_t nserials;
    const struct vn_manage_user *people; /* users create/update/retire */
    size_t npeople;
    const char *const *adam_ids; /* subscriptions: decimal adamIds */
    size_t nadams;
    int renewing; /* subscriptions associate */
    int deferred; /* subscriptions disassociate */
};

/* One request to send. */
struct vn_manage_request {
    json_t *body;       /* owned */
    long long expected; /* items its notifications should name; 0 unknown (revoke) */
};

/* The kind ("assets", "users", "subscriptions") and type ("ASSOCIATE", ...) of an op. */
const char *vn_manage_kind(enum vn_manage_op op);
const char *vn_manage_type(enum vn_manage_op op);

/* Parse "ADAMID" or "ADAMID:STDQ" / "ADAMID:PLUS" into *out. 0 or VN_EPARSE. */
int vn_manage_asset_parse(const char *text, struct vn_manage_asset *out, struct vn_error *err);

/*
 * Split m into requests within limits (pure). Refuses an empty request (VN_EUSAGE) and
 * duplicates (VN_EDUP, naming up to five). *reqs is owned: vn_manage_plan_free.
 */
int vn_manage_plan(const struct vn_manage *m, const struct vn_apple_limits *limits,
                   struct vn_manage_request **reqs, size_t *n, struct vn_error *err);
void vn_manage_plan_free(struct vn_manage_request *reqs, size_t n);

/* Called once per request sent, with its eventId (borrowed for the call). */
typedef void (*vn_manage_sent_cb)(void *ud, const char *event_id,
                                  const struct vn_manage_request *r);

/*
 * Send the planned requests in order, recording each as a tracked event (store of the
 * session), and stop at the first failure: *sent says how many went out. The failure is in
 * why (an Apple error or the network) or err (the store).
 */
int vn_manage_send(struct vn_session *s, enum vn_manage_op op, const struct vn_manage_request *reqs,
                   size_t n, vn_manage_sent_cb cb, void *ud, size_t *sent,
                   struct vn_apple_failure *why, struct vn_error *err);

#endif
