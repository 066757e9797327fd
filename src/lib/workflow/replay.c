/* replay.c - see include/vppnotify/workflow_replay.h. */
#include "vppnotify/workflow_replay.h"
#include "vppnotify/apply.h"
#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/notification.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"
#include "vppnotify/writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One notification's writer job: the state transition, then the apply. */
struct replay_job {
    struct vn_wjob job;
    const char *id;
    const struct vn_notification *n;
    int64_t now_ms;
};

static int replay_run(struct vn_store *st, struct vn_wjob *job, struct vn_error *err)
{
    struct replay_job *rj = job->ud;
    int rc;

    /* The state change first: VN_ECONFLICT when someone else applied it meanwhile. */
    rc = vn_store_notification_set_state(st, rj->id, VN_NSTATE_APPLIED, NULL);
    if (rc)
        return vn_error_set(err, rc, "%s", vn_store_last_error(st));
    return vn_apply(st, rj->n, rj->now_ms, NULL, err);
}

const char *vn_replay_outcome_name(enum vn_replay_outcome o)
{
    switch (o) {
    case VN_REPLAY_APPLIED:
        return "applied";
    case VN_REPLAY_STILL_STORED:
        return "still stored";
    case VN_REPLAY_RACED:
        return "raced";
    case VN_REPLAY_FAILED:
        break;
    }
    return "failed";
}

/* A store-wide failure, or the writer stopping: the replay cannot go on. */
static int ends_replay(int rc)
{
    return rc == VN_ESHUTDOWN || vn_store_class_of(rc) > VN_STORE_JOB;
}

/* Count an outcome and tell the caller (the item's strings are still alive here). */
static void report(const struct vn_replay_options *o, struct vn_replay_result *r,
                   const struct vn_replay_item *item)
{
    switch (item->outcome) {
    case VN_REPLAY_APPLIED:
        r->applied++;
        break;
    case VN_REPLAY_STILL_STORED:
        r->still_stored++;
        break;
    case VN_REPLAY_RACED:
        r->raced++;
        break;
    case VN_REPLAY_FAILED:
        r->failed++;
        break;
    }
    if (o->cb)
        o->cb(o->ud, item);
}

/*
 * Replay one notification, count and report its outcome (why also in whybuf). Returns 0, or
 * a store-wide failure code that ends the replay.
 */
static int replay_one(const struct vn_workflow *wf, const struct vn_replay_options *o,
                      struct vn_replay_result *r, const char *id, char *whybuf, size_t whylen)
{
    struct vn_parse_limits limits = {.max_depth = o->max_depth};
    struct vn_replay_item item = {.id = id, .why = whybuf};
    struct vn_notification *n = NULL;
    struct vn_error err = {0};
    struct replay_job rj = {.id = id};
    char *body = NULL;
    size_t len;
    int rc;

    whybuf[0] = '\0';
    rc = vn_store_notification_body(wf->st, id, &body, &len);
    if (rc == VN_ENOTFOUND) {
        /* Gone since the list was read (its location removed meanwhile): nothing to do. */
        item.outcome = VN_REPLAY_RACED;
        rc = 0;
        goto out;
    }
    if (rc) {
        item.outcome = VN_REPLAY_FAILED;
        snprintf(whybuf, whylen, "cannot read it: %s", vn_store_last_error(wf->st));
        if (vn_store_class_of(rc) <= VN_STORE_JOB)
            rc = 0;
        goto out;
    }
    rc = vn_notification_parse(body, len, &limits, &n, &err);
    if (rc || !n->valid) {
        item.type_name = n ? n->type_name : NULL;
        item.outcome = VN_REPLAY_STILL_STORED;
        vn_strlcpy(whybuf, rc ? err.msg : n->error, whylen);
        vn_log_info("notification '%s' still not applicable: %s", id, whybuf);
        rc = 0;
        goto out;
    }
    item.type_name = n->type_name;
    rj.n = n;
    rj.now_ms = vn_now_ms();
    rj.job = (struct vn_wjob){.cls = VN_WJOB_NORMAL, .run = replay_run, .ud = &rj};
    rc = vn_writer_run(wf->w, &rj.job);
    if (rc == 0) {
        item.outcome = VN_REPLAY_APPLIED;
        vn_log_info("notification '%s' (%s) applied", id, n->type_name);
    } else if (rc == VN_ECONFLICT) {
        item.outcome = VN_REPLAY_RACED;
        vn_log_info("notification '%s' was applied by someone else meanwhile", id);
        rc = 0;
    } else {
        item.outcome = VN_REPLAY_FAILED;
        vn_strlcpy(whybuf, rj.job.error, whylen);
        if (!ends_replay(rc))
            rc = 0;
    }
out:
    report(o, r, &item);
    vn_notification_free(n);
    free(body);
    return rc;
}

int vn_workflow_replay(const struct vn_workflow *wf, const struct vn_replay_options *o,
                       struct vn_replay_result *r, struct vn_error *err)
{
    static const struct vn_replay_options none = {0};
    char **ids = NULL, why[256];
    size_t n = 0, i;
    int rc;

    memset(r, 0, sizeof(*r));
    if (!o)
        o = &none;
    rc = vn_store_stored_ids(wf->st, o->uid, &ids, &n);
    if (rc)
        return vn_error_set(err, rc, "cannot list stored notifications: %s",
                            vn_store_last_error(wf->st));
    r->stored = n;
    for (i = 0; i < n; i++) {
        rc = replay_one(wf, o, r, ids[i], why, sizeof(why));
        if (rc) {
            vn_error_set(err, rc, "cannot replay notification '%s': %s", ids[i], why);
            break;
        }
    }
    for (i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    return rc;
}
