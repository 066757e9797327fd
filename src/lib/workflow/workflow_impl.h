/*
 * workflow_impl.h - what the workflows of this folder share; private to src/lib/workflow/.
 */
#ifndef VPPNOTIFY_WORKFLOW_IMPL_H
#define VPPNOTIFY_WORKFLOW_IMPL_H

#include <jansson.h>

#include "vppnotify/session.h"
#include "vppnotify/store.h"
#include "vppnotify/workflow.h"

struct vn_error;

/* The session environment of wf: its Apple client, key file and writer (borrowed). Release
 * with vn__wf_env_release, which wipes the key it may have read. */
void vn__wf_env(const struct vn_workflow *wf, struct vn_session_env *env);
void vn__wf_env_release(struct vn_session_env *env);

/* 0 if uid names a location (1..VN_ID_MAX characters); else VN_EUSAGE with err. */
int vn__wf_check_uid(const char *uid, struct vn_error *err);

/* 0 if wf can talk to Apple (a client and a key file); else VN_EUSAGE with err. */
int vn__wf_check_apple(const struct vn_workflow *wf, struct vn_error *err);

/*
 * Run fn(st, ud) as one job of w, alone, in a transaction of its own: for the store operations
 * documented "own transaction" (location add, remove, rotate, unrotate), which begin and commit
 * by themselves. fn may run more than once. Returns its code; err gets the store's words.
 */
int vn__wf_own_txn(struct vn_writer *w, int (*fn)(struct vn_store *st, void *ud), void *ud,
                   struct vn_error *err);

/* Append to err's message (printf-style); err may be NULL. */
void vn__wf_error_append(struct vn_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Wipe the string value of key in a JSON object (a token jansson copied), then nothing else. */
void vn__wf_json_wipe(json_t *obj, const char *key);

#endif
