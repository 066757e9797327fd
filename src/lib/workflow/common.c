/* common.c - what the workflows share (workflow_impl.h). */
#include "workflow_impl.h"
#include "vppnotify/error.h"
#include "vppnotify/secret.h"
#include "vppnotify/writer.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void vn__wf_env(const struct vn_workflow *wf, struct vn_session_env *env)
{
    memset(env, 0, sizeof(*env));
    env->apple = wf->apple;
    env->key_file = wf->key_file;
    env->writer = wf->w;
}

void vn__wf_env_release(struct vn_session_env *env)
{
    vn_wipe(env->key, sizeof(env->key));
    env->have_key = 0;
}

int vn__wf_check_uid(const char *uid, struct vn_error *err)
{
    if (!uid || !*uid)
        return vn_error_set(err, VN_EUSAGE, "no location given (its uId)");
    if (strlen(uid) > VN_ID_MAX)
        return vn_error_set(err, VN_EUSAGE, "uId '%.*s...' is longer than %d characters", 32, uid,
                            VN_ID_MAX);
    return 0;
}

int vn__wf_check_apple(const struct vn_workflow *wf, struct vn_error *err)
{
    if (!wf->apple)
        return vn_error_set(err, VN_EUSAGE, "no client for Apple's service was given");
    if (!wf->key_file || !*wf->key_file)
        return vn_error_set(err, VN_EUSAGE, "no key file for the stored sTokens was given");
    return 0;
}

struct own {
    struct vn_wjob job;
    int (*fn)(struct vn_store *st, void *ud);
    void *ud;
};

static int own_run(struct vn_store *st, struct vn_wjob *job, struct vn_error *err)
{
    struct own *o = job->ud;
    int rc = o->fn(st, o->ud);

    if (rc)
        vn_error_set(err, rc, "%s", vn_store_last_error(st));
    return rc;
}

int vn__wf_own_txn(struct vn_writer *w, int (*fn)(struct vn_store *st, void *ud), void *ud,
                   struct vn_error *err)
{
    struct own o = {.fn = fn, .ud = ud};
    int rc;

    o.job =
        (struct vn_wjob){.cls = VN_WJOB_NORMAL, .flags = VN_WJOB_OWN_TXN, .run = own_run, .ud = &o};
    rc = vn_writer_run(w, &o.job);
    if (rc)
        vn_error_set(err, rc, "%s", o.job.error);
    return rc;
}

void vn__wf_json_wipe(json_t *obj, const char *key)
{
    json_t *t = json_object_get(obj, key);

    if (json_is_string(t))
        vn_wipe((char *)json_string_value(t), json_string_length(t));
}

void vn__wf_error_append(struct vn_error *err, const char *fmt, ...)
{
    va_list ap;
    size_t len;

    if (!err)
        return;
    len = strnlen(err->msg, sizeof(err->msg));
    if (len + 1 >= sizeof(err->msg))
        return;
    va_start(ap, fmt);
    vsnprintf(err->msg + len, sizeof(err->msg) - len, fmt, ap);
    va_end(ap);
}
