/* sync.c - the sync workflow: see include/vppnotify/workflow_sync.h. */
#include "vppnotify/workflow_sync.h"
#include "vppnotify/error.h"
#include "vppnotify/session.h"
#include "vppnotify/store.h"
#include "workflow_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Sync one location; its outcome goes to the door. */
static int sync_one(const struct vn_workflow *wf, struct vn_session_env *env,
                    const struct vn_workflow_sync_options *o, const char *uid, struct vn_error *err)
{
    struct vn_sync_options so = {.full = o->full, .progress = o->progress};
    struct vn_sync_report rep = {0};
    struct vn_session s;
    int rc;

    vn_error_clear(err);
    rc = vn_session_open(&s, env, wf->st, uid, err);
    if (rc == 0) {
        rc = vn_sync_run(&s, &so, &rep, err);
        if (rc)
            vn_error_prefix(err, "sync of location '%s' failed", uid);
        vn_session_release(&s);
    }
    if (o->done)
        o->done(o->ud, uid, rc, rc ? NULL : &rep, err);
    return rc;
}

int vn_workflow_sync(const struct vn_workflow *wf, const struct vn_workflow_sync_options *o,
                     struct vn_workflow_sync_result *r, struct vn_error *err)
{
    struct vn_session_env env;
    struct vn_error one, local;
    char **uids = NULL;
    size_t n = 0;
    int rc, last = 0;

    if (!err)
        err = &local;
    memset(r, 0, sizeof(*r));
    if ((o->uid && (rc = vn__wf_check_uid(o->uid, err)) != 0) ||
        (rc = vn__wf_check_apple(wf, err)) != 0)
        return rc;
    if (o->uid) {
        uids = calloc(1, sizeof(*uids));
        if (!uids || !(uids[0] = strdup(o->uid))) {
            free(uids);
            return vn_error_set(err, -ENOMEM, "out of memory");
        }
        n = 1;
    } else if ((rc = vn_store_apple_uids(wf->st, &uids, &n)) != 0) {
        return vn_error_set(err, rc, "cannot list the locations: %s", vn_store_last_error(wf->st));
    }
    vn__wf_env(wf, &env);
    for (size_t i = 0; i < n; i++) {
        r->locations++;
        rc = sync_one(wf, &env, o, uids[i], &one);
        if (rc) {
            r->failed++;
            last = rc;
            *err = one;
        }
        free(uids[i]);
    }
    free(uids);
    vn__wf_env_release(&env);
    return last;
}
