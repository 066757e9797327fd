/* requests.c - see include/vppnotify/workflow_request.h. */
#include "vppnotify/workflow_request.h"
#include "vppnotify/error.h"
#include "vppnotify/session.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"
#include "vppnotify/writer.h"
#include "workflow_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void vn_request_result_release(struct vn_request_result *r)
{
    for (size_t i = 0; r->event_ids && i < r->sent; i++)
        free(r->event_ids[i]);
    free(r->event_ids);
    r->event_ids = NULL;
    r->sent = 0;
}

/* Between vn_manage_send and the door: keep each eventId, then pass it on. */
struct relay {
    struct vn_request_result *r;
    const struct vn_request_progress *p;
    int oom;
};

static void on_sent(void *ud, const char *event_id, const struct vn_manage_request *req)
{
    struct relay *x = ud;
    struct vn_request_result *r = x->r;
    char *copy = strdup(event_id);

    /* event_ids has room for every planned request (allocated before sending). */
    if (copy)
        r->event_ids[r->sent++] = copy;
    else
        x->oom = 1;
    if (x->p && x->p->sent)
        x->p->sent(x->p->ud, event_id, req);
}

int vn_workflow_request(const struct vn_workflow *wf, const char *uid, const struct vn_manage *m,
                        const struct vn_request_progress *p, struct vn_request_result *r,
                        struct vn_error *err)
{
    struct vn_manage_request *reqs = NULL;
    struct vn_apple_service svc;
    struct vn_apple_failure why = {0};
    struct vn_session_env env;
    struct vn_session s = {0};
    struct relay x = {.r = r, .p = p};
    size_t nsent = 0;
    int rc;

    memset(r, 0, sizeof(*r));
    vn__wf_env(wf, &env);
    if ((rc = vn__wf_check_uid(uid, err)) != 0 || (rc = vn__wf_check_apple(wf, err)) != 0)
        goto out;
    if ((rc = vn_session_open(&s, &env, wf->st, uid, err)) != 0)
        goto out;
    if (vn_apple_service(wf->apple, &svc, &why) != 0) {
        rc = vn_error_set(err, why.code ? why.code : VN_ENET,
                          "cannot read Apple's Service Config (its limits decide how to split "
                          "the request): %s",
                          why.message);
        goto out;
    }
    r->limits = svc.limits;
    rc = vn_manage_plan(m, &r->limits, &reqs, &r->planned, err);
    if (rc) {
        vn_error_prefix(err, "%s %s", vn_manage_kind(m->op), vn_manage_type(m->op));
        goto out;
    }
    r->event_ids = calloc(r->planned ? r->planned : 1, sizeof(*r->event_ids));
    if (!r->event_ids) {
        rc = vn_error_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    if (p && p->planned)
        p->planned(p->ud, r->planned, &r->limits);
    rc = vn_manage_send(&s, m->op, reqs, r->planned, on_sent, &x, &nsent, &why, err);
    if (!rc && x.oom)
        rc = vn_error_set(err, -ENOMEM, "out of memory (the requests were sent and tracked)");
out:
    if (!r->sent) {
        free(r->event_ids);
        r->event_ids = NULL;
    }
    vn_manage_plan_free(reqs, r->planned);
    vn_session_release(&s);
    vn__wf_env_release(&env);
    return rc;
}

struct track_job {
    struct vn_event_track t;
};

static int track_run(struct vn_store *st, void *ud)
{
    struct track_job *j = ud;

    return vn_store_event_track(st, &j->t);
}

int vn_workflow_track(const struct vn_workflow *wf, const char *uid, const char *event_id,
                      struct vn_track_result *r, struct vn_error *err)
{
    struct vn_session_env env;
    struct vn_session s = {0};
    struct track_job job = {0};
    struct vn_error werr = {0};
    int rc;

    memset(r, 0, sizeof(*r));
    vn__wf_env(wf, &env);
    if (!event_id || !*event_id || strlen(event_id) > VN_ID_MAX) {
        rc = vn_error_set(err, VN_EUSAGE, "the eventId must be 1..%d characters", VN_ID_MAX);
        goto out;
    }
    if ((rc = vn__wf_check_uid(uid, err)) != 0 || (rc = vn__wf_check_apple(wf, err)) != 0)
        goto out;
    if ((rc = vn_session_open(&s, &env, wf->st, uid, err)) != 0)
        goto out;
    job.t.event_id = event_id;
    job.t.uid = uid;
    job.t.requested_ms = vn_now_ms();
    rc = vn_writer_call(wf->w, track_run, &job, &werr);
    if (rc == VN_EDUP) {
        r->already = 1;
    } else if (rc) {
        vn_error_set(err, rc, "event '%s' cannot be tracked: %s", event_id, werr.msg);
        goto out;
    }
    rc = vn_tracker_poll(&s, event_id, &r->status, err);
    if (rc)
        vn_error_prefix(err, "event '%s'", event_id);
out:
    vn_session_release(&s);
    vn__wf_env_release(&env);
    return rc;
}
