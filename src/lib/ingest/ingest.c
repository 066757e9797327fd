/* ingest.c - see include/vppnotify/ingest.h. */
#include "vppnotify/ingest.h"
#include "vppnotify/apply.h"
#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/notification.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vn_ingest {
    struct vn_writer *w; /* borrowed */

    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t idle;
    size_t in_flight; /* submitted, done() not yet called */
    int stopping;
    struct vn_ingest_stats stats;
};

const char *vn_outcome_name(enum vn_outcome o)
{
    switch (o) {
    case VN_OUTCOME_APPLIED:
        return "applied";
    case VN_OUTCOME_DUPLICATE:
        return "duplicate";
    case VN_OUTCOME_STORED:
        return "stored";
    case VN_OUTCOME_QUARANTINED:
        return "quarantined";
    case VN_OUTCOME_OK:
        return "ok";
    case VN_OUTCOME_UNAVAILABLE:
        return "unavailable";
    case VN_OUTCOME_NONE:
        break;
    }
    return "none";
}

static void set_unavailable(struct vn_ingest_job *job, const char *why)
{
    job->outcome = VN_OUTCOME_UNAVAILABLE;
    vn_strlcpy(job->error, why, sizeof(job->error));
}

/* The ledger row of a notification job. */
static void record_of(const struct vn_ingest_job *job, enum vn_nstate state, const char *error,
                      struct vn_notification_record *r)
{
    const struct vn_notification *n = job->n;

    memset(r, 0, sizeof(*r));
    r->id = n->id;
    r->uid = n->uid;
    r->type_name = n->type_name;
    r->event_id = n->event_id;
    r->state = state;
    r->error = error;
    r->body = job->body;
    r->body_len = job->body_len;
    memcpy(r->digest, job->digest, VN_DIGEST_LEN);
    r->received_ms = job->received_ms;
}

/*
 * One notification inside the batch transaction, under its own savepoint. Returns 0 when the
 * job's outcome is decided and its writes (if any) are kept, < 0 when its writes were undone
 * and it must be answered 503.
 */
static int process_notification(struct vn_store *st, struct vn_ingest_job *job)
{
    const struct vn_notification *n = job->n;
    struct vn_notification_record r;
    struct vn_error err = {0};
    int rc, valid = n->valid;

    record_of(job, valid ? VN_NSTATE_APPLIED : VN_NSTATE_STORED, valid ? NULL : n->error, &r);
    rc = vn_store_notification_insert(st, &r);
    if (rc == VN_EDUP) {
        rc = vn_store_notification_repeat(st, n->id, job->digest, &job->conflict);
        if (rc)
            return rc;
        job->outcome = VN_OUTCOME_DUPLICATE;
        return 0;
    }
    if (rc)
        return rc;
    if (!valid) {
        vn_strlcpy(job->error, n->error, sizeof(job->error));
        job->outcome = VN_OUTCOME_STORED;
        return 0;
    }
    rc = vn_apply(st, n, job->received_ms, &job->stats, &err);
    if (rc == 0) {
        job->outcome = VN_OUTCOME_APPLIED;
        return 0;
    }
    if (vn_store_class_of(rc) != VN_STORE_JOB)
        return rc; /* the store failed, not this notification: the batch answers 503 */
    /*
     * Applying failed although the payload validated. Undo it and keep the notification as
     * stored, with the reason, so that nothing is lost and `replay` can apply it once the
     * cause is fixed. If even that fails (disk full, I/O), the caller answers 503.
     */
    snprintf(job->error, sizeof(job->error), "apply failed: %s",
             err.msg[0] ? err.msg : vn_store_last_error(st));
    rc = vn_store_rollback_to(st);
    if (rc == 0)
        rc = vn_store_savepoint(st);
    if (rc)
        return rc; /* an optimistic batch cannot undo one job: it runs again, guarded */
    vn_log_error("cannot apply notification '%s': %s", n->id,
                 job->error + strlen("apply failed: "));
    record_of(job, VN_NSTATE_STORED, job->error, &r);
    rc = vn_store_notification_insert(st, &r);
    if (rc)
        return rc;
    job->outcome = VN_OUTCOME_STORED;
    return 0;
}

/* The writer's run(): one job inside the batch transaction, under the writer's savepoint. */
static int run_job(struct vn_store *st, struct vn_wjob *wj, struct vn_error *err)
{
    struct vn_ingest_job *job = wj->ud;
    int rc;

    /* A retried batch runs this again: start from the inputs. */
    job->outcome = VN_OUTCOME_NONE;
    job->conflict = 0;
    memset(&job->stats, 0, sizeof(job->stats));
    job->error[0] = '\0';
    switch (job->kind) {
    case VN_JOB_NOTIFICATION:
        rc = process_notification(st, job);
        break;
    case VN_JOB_QUARANTINE:
        rc = vn_store_quarantine(st, job->received_ms, job->remote, job->reason, job->body,
                                 job->body_len, job->original_len);
        if (rc == 0)
            job->outcome = VN_OUTCOME_QUARANTINED;
        break;
    case VN_JOB_PING: {
        /* Full stays full until a write commits: the probe may fit where a notification did
         * not (a big one needs more than the probe's 64 KiB). */
        struct vn_writer_stats ws;
        vn_writer_stats(job->ing->w, &ws);
        if (ws.full) {
            vn_error_set(err, VN_EFULL, "the database is full: %s", ws.last_error);
            return VN_EFULL;
        }
        rc = vn_store_ping(st);
        if (rc == 0)
            job->outcome = VN_OUTCOME_OK;
        break;
    }
    default:
        rc = VN_EUSAGE;
        break;
    }
    if (rc)
        vn_error_set(err, rc, "%s %s",
                     job->kind == VN_JOB_PING         ? "healthz:"
                     : job->kind == VN_JOB_QUARANTINE ? "cannot quarantine a body:"
                                                      : "cannot store notification:",
                     vn_store_last_error(st));
    return rc;
}

static void count_outcome(struct vn_ingest_stats *s, const struct vn_ingest_job *job)
{
    switch (job->outcome) {
    case VN_OUTCOME_APPLIED:
        s->applied++;
        break;
    case VN_OUTCOME_DUPLICATE:
        s->duplicates++;
        s->conflicts += job->conflict ? 1 : 0;
        break;
    case VN_OUTCOME_STORED:
        s->stored++;
        break;
    case VN_OUTCOME_QUARANTINED:
        s->quarantined++;
        break;
    case VN_OUTCOME_UNAVAILABLE:
        s->unavailable++;
        break;
    default:
        break;
    }
}

/* The writer's done(): after the COMMIT (or the batch's failure). */
static void job_done(struct vn_wjob *wj)
{
    struct vn_ingest_job *job = wj->ud;
    struct vn_ingest *ing = job->ing;

    if (wj->rc) {
        /* Nothing of it is on disk, whatever run() had decided: 503. */
        set_unavailable(job, wj->error);
    }
    pthread_mutex_lock(&ing->lock);
    count_outcome(&ing->stats, job);
    pthread_mutex_unlock(&ing->lock);
    job->done(job);
    pthread_mutex_lock(&ing->lock);
    if (--ing->in_flight == 0)
        pthread_cond_broadcast(&ing->idle);
    pthread_mutex_unlock(&ing->lock);
}

struct vn_ingest *vn_ingest_new(struct vn_writer *w, struct vn_error *err)
{
    struct vn_ingest *ing = calloc(1, sizeof(*ing));

    if (!ing) {
        vn_error_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    ing->w = w;
    pthread_mutex_init(&ing->lock, NULL);
    pthread_cond_init(&ing->idle, NULL);
    return ing;
}

int vn_ingest_submit(struct vn_ingest *ing, struct vn_ingest_job *job)
{
    int rc;

    job->outcome = VN_OUTCOME_NONE;
    job->ing = ing;
    memset(&job->wjob, 0, sizeof(job->wjob));
    job->wjob.cls = VN_WJOB_URGENT;
    job->wjob.flags = job->kind == VN_JOB_PING ? VN_WJOB_OWN_TXN : 0;
    job->wjob.run = run_job;
    job->wjob.notification_id =
        job->kind == VN_JOB_NOTIFICATION && job->n && job->n->id ? job->n->id : NULL;
    job->wjob.done = job_done;
    job->wjob.ud = job;
    pthread_mutex_lock(&ing->lock);
    if (ing->stopping) {
        pthread_mutex_unlock(&ing->lock);
        return VN_ESHUTDOWN;
    }
    ing->in_flight++;
    pthread_mutex_unlock(&ing->lock);
    rc = vn_writer_submit(ing->w, &job->wjob);
    if (rc) {
        pthread_mutex_lock(&ing->lock);
        if (--ing->in_flight == 0)
            pthread_cond_broadcast(&ing->idle);
        pthread_mutex_unlock(&ing->lock);
    }
    return rc;
}

void vn_ingest_stats(struct vn_ingest *ing, struct vn_ingest_stats *out)
{
    struct vn_writer_stats ws;

    vn_writer_stats(ing->w, &ws);
    pthread_mutex_lock(&ing->lock);
    *out = ing->stats;
    pthread_mutex_unlock(&ing->lock);
    out->commits = ws.commits;
    out->batched_jobs = ws.jobs;
    out->commit_failures = ws.commit_failures;
    out->queued = ws.queued[VN_WJOB_URGENT];
    out->store_failed = ws.store_failed;
    out->last_commit_ok = ws.last_commit_ok;
    vn_strlcpy(out->last_error, ws.last_error, sizeof(out->last_error));
}

void vn_ingest_stop(struct vn_ingest *ing)
{
    pthread_mutex_lock(&ing->lock);
    ing->stopping = 1;
    while (ing->in_flight > 0)
        pthread_cond_wait(&ing->idle, &ing->lock);
    pthread_mutex_unlock(&ing->lock);
}

void vn_ingest_free(struct vn_ingest *ing)
{
    if (!ing)
        return;
    vn_ingest_stop(ing);
    pthread_cond_destroy(&ing->idle);
    pthread_mutex_destroy(&ing->lock);
    free(ing);
}
