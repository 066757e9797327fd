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
    struct vn_store *st; /* owned; used by the writer thread only */
    size_t queue_max, batch_max;

    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t wake;
    struct vn_ingest_job *head, *tail;
    size_t queued;
    int stopping, stopped;
    pthread_t thread;
    int thread_started;
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
    /*
     * Applying failed although the payload validated. Undo it and keep the notification as
     * stored, with the reason, so that nothing is lost and `replay` can apply it once the
     * cause is fixed. If even that fails (disk full, I/O), the caller answers 503.
     */
    vn_log_error("cannot apply notification '%s': %s", n->id,
                 err.msg[0] ? err.msg : vn_store_last_error(st));
    if (vn_store_rollback_to(st) != 0 || vn_store_savepoint(st) != 0)
        return VN_ESTORE;
    snprintf(job->error, sizeof(job->error), "apply failed: %s",
             err.msg[0] ? err.msg : vn_store_last_error(st));
    record_of(job, VN_NSTATE_STORED, job->error, &r);
    rc = vn_store_notification_insert(st, &r);
    if (rc)
        return rc;
    job->outcome = VN_OUTCOME_STORED;
    return 0;
}

static int process_job(struct vn_store *st, struct vn_ingest_job *job)
{
    int rc = vn_store_savepoint(st);

    if (rc)
        return rc;
    if (job->kind == VN_JOB_NOTIFICATION) {
        rc = process_notification(st, job);
    } else {
        rc = vn_store_quarantine(st, job->received_ms, job->remote, job->reason, job->body,
                                 job->body_len, job->original_len);
        if (rc == 0)
            job->outcome = VN_OUTCOME_QUARANTINED;
    }
    if (rc) {
        vn_store_rollback_to(st);
        return rc;
    }
    return vn_store_release(st);
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

/* Run one batch: a transaction for the writes, then pings, then every done(). */
static void process_batch(struct vn_ingest *ing, struct vn_ingest_job *batch, size_t n)
{
    struct vn_store *st = ing->st;
    struct vn_ingest_job *job, *next;
    size_t writes = 0;
    int rc = 0, commit_ok = 1, failed_io = 0;
    char why[256] = "";

    for (job = batch; job; job = job->next) {
        job->outcome = VN_OUTCOME_NONE;
        if (job->kind != VN_JOB_PING)
            writes++;
    }
    if (writes) {
        rc = vn_store_begin(st);
        if (rc) {
            snprintf(why, sizeof(why), "cannot begin a transaction: %s", vn_store_last_error(st));
        } else {
            /*
             * A store error inside the batch aborts all of it: some errors (SQLITE_FULL) roll
             * back the whole transaction behind our back, and a later savepoint would then
             * start a new one that commits only the tail of the batch while the head, already
             * "processed", is gone. Every job of a failed batch gets 503; Apple retries them.
             */
            for (job = batch; job && rc == 0; job = job->next) {
                if (job->kind == VN_JOB_PING)
                    continue;
                rc = process_job(st, job);
                if (rc)
                    snprintf(why, sizeof(why), "cannot store notification: %s",
                             vn_store_last_error(st));
            }
            if (rc == 0) {
                rc = vn_store_commit(st);
                if (rc)
                    snprintf(why, sizeof(why), "commit failed: %s", vn_store_last_error(st));
            }
            if (rc)
                vn_store_rollback(st);
        }
        if (rc) {
            commit_ok = 0;
            failed_io = vn_store_last_class(st) == VN_STORE_FATAL;
            vn_log_error("%s; %zu notification(s) answered 503", why, writes);
            for (job = batch; job; job = job->next)
                if (job->kind != VN_JOB_PING)
                    set_unavailable(job, why);
        }
    }
    for (job = batch; job; job = job->next) {
        if (job->kind != VN_JOB_PING)
            continue;
        if (failed_io || vn_store_ping(st) != 0) {
            set_unavailable(job, failed_io ? why : vn_store_last_error(st));
            commit_ok = 0;
            failed_io = failed_io || vn_store_last_class(st) == VN_STORE_FATAL;
        } else {
            job->outcome = VN_OUTCOME_OK;
        }
    }

    pthread_mutex_lock(&ing->lock);
    ing->stats.commits += writes ? 1 : 0;
    ing->stats.batched_jobs += n;
    ing->stats.commit_failures += commit_ok ? 0 : 1;
    ing->stats.last_commit_ok = commit_ok;
    if (failed_io)
        ing->stats.store_failed = 1;
    if (!commit_ok)
        vn_strlcpy(ing->stats.last_error, why[0] ? why : vn_store_last_error(st),
                   sizeof(ing->stats.last_error));
    for (job = batch; job; job = job->next)
        count_outcome(&ing->stats, job);
    pthread_mutex_unlock(&ing->lock);

    for (job = batch; job; job = next) {
        next = job->next;
        job->next = NULL;
        job->done(job);
    }
}

static void *writer_main(void *arg)
{
    struct vn_ingest *ing = arg;

    for (;;) {
        struct vn_ingest_job *batch, *last;
        size_t n = 1;

        pthread_mutex_lock(&ing->lock);
        while (!ing->head && !ing->stopping)
            pthread_cond_wait(&ing->wake, &ing->lock);
        if (!ing->head) {
            pthread_mutex_unlock(&ing->lock);
            break;
        }
        batch = last = ing->head;
        while (last->next && n < ing->batch_max) {
            last = last->next;
            n++;
        }
        ing->head = last->next;
        if (!ing->head)
            ing->tail = NULL;
        last->next = NULL;
        ing->queued -= n;
        pthread_mutex_unlock(&ing->lock);

        process_batch(ing, batch, n);
    }
    return NULL;
}

struct vn_ingest *vn_ingest_new(struct vn_store *st, const struct vn_ingest_options *opts,
                                struct vn_error *err)
{
    struct vn_ingest *ing = calloc(1, sizeof(*ing));
    int rc;

    if (!ing) {
        vn_store_free(st);
        vn_error_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    ing->st = st;
    ing->queue_max = opts && opts->queue_max ? opts->queue_max : 4096;
    ing->batch_max = opts && opts->batch_max ? opts->batch_max : 1024;
    ing->stats.last_commit_ok = 1;
    pthread_mutex_init(&ing->lock, NULL);
    pthread_cond_init(&ing->wake, NULL);
    rc = pthread_create(&ing->thread, NULL, writer_main, ing);
    if (rc) {
        vn_error_set(err, -rc, "cannot start the writer thread: %s", strerror(rc));
        vn_ingest_free(ing);
        return NULL;
    }
    ing->thread_started = 1;
    return ing;
}

int vn_ingest_submit(struct vn_ingest *ing, struct vn_ingest_job *job)
{
    int rc = 0;

    job->next = NULL;
    job->outcome = VN_OUTCOME_NONE;
    pthread_mutex_lock(&ing->lock);
    if (ing->stopping) {
        rc = VN_ESHUTDOWN;
    } else if (ing->queued >= ing->queue_max) {
        rc = VN_EFULL;
    } else {
        if (ing->tail)
            ing->tail->next = job;
        else
            ing->head = job;
        ing->tail = job;
        ing->queued++;
        pthread_cond_signal(&ing->wake);
    }
    pthread_mutex_unlock(&ing->lock);
    return rc;
}

void vn_ingest_stats(struct vn_ingest *ing, struct vn_ingest_stats *out)
{
    pthread_mutex_lock(&ing->lock);
    *out = ing->stats;
    out->queued = ing->queued;
    pthread_mutex_unlock(&ing->lock);
}

void vn_ingest_stop(struct vn_ingest *ing)
{
    pthread_mutex_lock(&ing->lock);
    ing->stopping = 1;
    pthread_cond_broadcast(&ing->wake);
    pthread_mutex_unlock(&ing->lock);
    if (ing->thread_started && !ing->stopped) {
        pthread_join(ing->thread, NULL);
        ing->stopped = 1;
    }
}

void vn_ingest_free(struct vn_ingest *ing)
{
    if (!ing)
        return;
    vn_ingest_stop(ing);
    vn_store_free(ing->st);
    pthread_cond_destroy(&ing->wake);
    pthread_mutex_destroy(&ing->lock);
    free(ing);
}
