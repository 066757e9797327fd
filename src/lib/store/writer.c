/* writer.c - see include/vppnotify/writer.h. */
#include "vppnotify/writer.h"
#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/metrics.h"
#include "vppnotify/store.h"
#include "vppnotify/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct queue {
    struct vn_wjob *head, *tail;
    size_t n;
};

struct vn_writer {
    struct vn_store *st; /* borrowed; used by the writer thread only (inline: under run_lock) */
    struct vn_writer_options o;
    int is_inline;
    pthread_mutex_t run_lock; /* inline: one job at a time on the handle */

    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t wake;
    struct queue q[VN_WJOB__CLASSES];
    int stopping, stopped, fatal;
    int reconnect;         /* the store was unavailable: reconnect before the next batch */
    char unavailable[256]; /* why it was */
    pthread_t thread;
    int thread_started;
    struct vn_writer_stats stats;
};

/* What a vn_writer_run caller waits on (on its stack). */
struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int finished;
    vn_wjob_done_fn done; /* the job's own, called before the waiter wakes */
};

/*
 * How a failure is handled: the store's failure class of the code (store.h). Every code that
 * is not a store-wide failure (VN_ERETRY, VN_EUNAVAIL, VN_EFULL, VN_EFATAL) is the job's own:
 * bad input, a row not found, a constraint. A fatal handle stays fatal whatever a job returned.
 */
enum fclass { FC_JOB, FC_UNAVAILABLE, FC_FULL, FC_RETRY, FC_FATAL };

static enum fclass classify(struct vn_store *st, int rc)
{
    if (vn_store_last_class(st) == VN_STORE_FATAL)
        return FC_FATAL;
    switch (vn_store_class_of(rc)) {
    case VN_STORE_RETRY:
        return FC_RETRY;
    case VN_STORE_UNAVAILABLE:
        return FC_UNAVAILABLE;
    case VN_STORE_FULL:
        return FC_FULL;
    case VN_STORE_FATAL:
        return FC_FATAL;
    case VN_STORE_OK:
    case VN_STORE_JOB:
        break;
    }
    return FC_JOB;
}

static void fail_job(struct vn_wjob *job, int rc, const char *why)
{
    job->rc = rc ? rc : VN_EUNAVAIL;
    vn_strlcpy(job->error, why && why[0] ? why : vn_strerror(job->rc), sizeof(job->error));
}

/* ---- running jobs --------------------------------------------------------------------- */

/* The notification ids of the batch's in-transaction jobs, to the store in one call. */
static int known_ids(struct vn_store *st, struct vn_wjob *batch)
{
    const char **ids;
    struct vn_wjob *job;
    size_t n = 0;
    int rc;

    for (job = batch; job; job = job->next)
        n += job->notification_id && !(job->flags & VN_WJOB_OWN_TXN);
    if (!n)
        return 0;
    ids = malloc(n * sizeof(*ids));
    if (!ids)
        return 0; /* each insert asks the database itself: slower, as right */
    n = 0;
    for (job = batch; job; job = job->next)
        if (job->notification_id && !(job->flags & VN_WJOB_OWN_TXN))
            ids[n++] = job->notification_id;
    rc = vn_store_notifications_known(st, ids, n);
    free(ids);
    return rc;
}

static struct vn_wjob *pop(struct queue *q);

/* The jobs of the batch that run inside its transaction. */
static size_t in_transaction(const struct vn_wjob *batch)
{
    size_t n = 0;

    for (; batch; batch = batch->next)
        n += !(batch->flags & VN_WJOB_OWN_TXN);
    return n;
}

/*
 * The URGENT jobs that arrived while the transaction began join the batch (up to batch_max):
 * while it waited for the write lock (SQLite's BEGIN, PostgreSQL's guarded clock tick: other
 * instances commit meanwhile), what queued would otherwise wait for one more transaction.
 */
static void join_waiting(struct vn_writer *w, struct vn_wjob *batch)
{
    struct vn_wjob *tail = batch, *job;
    size_t n = 1;

    while (tail->next) {
        tail = tail->next;
        n++;
    }
    pthread_mutex_lock(&w->lock);
    while (n < w->o.batch_max && (job = pop(&w->q[VN_WJOB_URGENT])) != NULL) {
        tail->next = job;
        tail = job;
        n++;
    }
    pthread_mutex_unlock(&w->lock);
}

/*
 * Run every in-transaction job of the batch (linked by next, own-transaction jobs skipped)
 * in one transaction. 0 when committed (some jobs may have failed alone: their rc says so);
 * else the batch's code with why filled, everything rolled back, and *fc its class.
 *
 * *optimistic asks for the store's optimistic mode (store.h: no savepoint round trips, writes
 * sent ahead); it is cleared when the store has none. In that mode a job's failure fails the
 * whole transaction, which process() then runs again guarded, where the failure is the job's.
 */
static int run_transaction(struct vn_writer *w, struct vn_wjob *batch, int top_up, int *optimistic,
                           enum fclass *fc, char *why, size_t whylen)
{
    struct vn_store *st = w->st;
    struct vn_wjob *job;
    int64_t t0;
    int rc, read, asked = *optimistic;

    rc = vn_store_begin(st);
    if (rc) {
        snprintf(why, whylen, "cannot begin a transaction: %s", vn_store_last_error(st));
        goto fail;
    }
    if (top_up)
        join_waiting(w, batch);
    /* One job alone saves nothing by it; a backend without it (or not now): a savepoint each. */
    if (*optimistic && (in_transaction(batch) < 2 || vn_store_optimistic(st) != 0))
        *optimistic = 0;
    /* The batch's ids first: on PostgreSQL read before the write lock, which a batch of
     * repeats only never takes (docs/STORE.md). */
    read = *optimistic;
    if (read && (rc = known_ids(st, batch)) != 0)
        goto ids_failed;
    /* The transaction's writer clock value, stamped on every mirror row it changes. */
    rc = vn_store_clock_tick(st, NULL);
    if (rc) {
        snprintf(why, whylen, "cannot move the writer clock: %s", vn_store_last_error(st));
        goto fail;
    }
    if (top_up) {
        /* PostgreSQL takes the write lock lazily: a batch that will write waits for it in the
         * tick. What queued meanwhile joins (its ids read too, now under the lock). */
        size_t before = in_transaction(batch);

        join_waiting(w, batch);
        if (!*optimistic && asked && in_transaction(batch) >= 2 && vn_store_optimistic(st) == 0)
            *optimistic = 1;
        if (*optimistic && (!read || in_transaction(batch) > before) &&
            (rc = known_ids(st, batch)) != 0)
            goto ids_failed;
    }
    for (job = batch; job; job = job->next) {
        struct vn_error err = {0};
        int jrc;

        if (job->flags & VN_WJOB_OWN_TXN)
            continue;
        job->rc = 0;
        job->error[0] = '\0';
        rc = vn_store_savepoint(st);
        if (rc) {
            snprintf(why, whylen, "cannot start a savepoint: %s", vn_store_last_error(st));
            goto fail;
        }
        jrc = job->run(st, job, &err);
        if (jrc == 0) {
            rc = vn_store_release(st);
            if (rc) {
                snprintf(why, whylen, "cannot release a savepoint: %s", vn_store_last_error(st));
                goto fail;
            }
            continue;
        }
        if (*optimistic || classify(st, jrc) != FC_JOB) {
            rc = jrc;
            snprintf(why, whylen, "%s", err.msg[0] ? err.msg : vn_store_last_error(st));
            goto fail;
        }
        /* The job's own failure: undo its writes, keep the others'. */
        fail_job(job, jrc, err.msg);
        rc = vn_store_rollback_to(st);
        if (rc) {
            snprintf(why, whylen, "cannot roll back a failed job: %s", vn_store_last_error(st));
            goto fail;
        }
    }
    t0 = vn_mono_ns();
    rc = vn_store_commit(st);
    vn_metrics_commit(vn_mono_ns() - t0);
    if (rc) {
        snprintf(why, whylen, "commit failed: %s", vn_store_last_error(st));
        goto fail;
    }
    return 0;
ids_failed:
    snprintf(why, whylen, "cannot read the batch's notification ids: %s", vn_store_last_error(st));
fail:
    *fc = classify(st, rc);
    vn_store_rollback(st);
    /* A job-class code here came from BEGIN, a savepoint or COMMIT: the batch cannot go on. */
    return rc ? rc : VN_EUNAVAIL;
}

/* One own-transaction job. Returns its class when it failed, FC_JOB otherwise. */
static enum fclass run_own(struct vn_store *st, struct vn_wjob *job)
{
    struct vn_error err = {0};
    int rc;

    job->rc = 0;
    job->error[0] = '\0';
    rc = job->run(st, job, &err);
    if (rc == 0)
        return FC_JOB;
    fail_job(job, rc, err.msg[0] ? err.msg : vn_store_last_error(st));
    vn_store_rollback(st); /* in case it left one open */
    return classify(st, rc);
}

/*
 * Run a batch (jobs linked by next): the transaction (retried while retryable), then the
 * own-transaction jobs. Fills every job's rc and the counters; does not call done().
 */
static void process(struct vn_writer *w, struct vn_wjob *batch)
{
    struct vn_store *st = w->st;
    struct vn_wjob *job;
    size_t writes = 0, n = 0, failed = 0, per[VN_WJOB__CLASSES] = {0};
    int rc = 0, fatal, retries = 0, reruns = 0, committed = 0, store_failed = 0;
    enum fclass fc = FC_JOB;
    char why[256] = "";

    pthread_mutex_lock(&w->lock);
    fatal = w->fatal;
    pthread_mutex_unlock(&w->lock);

    for (job = batch; job; job = job->next) {
        n++;
        per[job->cls]++;
        if (!(job->flags & VN_WJOB_OWN_TXN))
            writes++;
    }
    vn_log_debug("writer: batch of %zu job(s): %zu urgent, %zu normal, %zu bulk", n,
                 per[VN_WJOB_URGENT], per[VN_WJOB_NORMAL], per[VN_WJOB_BULK]);
    if (fatal) {
        for (job = batch; job; job = job->next)
            fail_job(job, VN_EFATAL,
                     "not written: the store failed earlier with an I/O error; stopping");
        failed = n;
        goto count;
    }
    if (w->reconnect) {
        /* Unavailable last time (files gone, connection lost): a new connection first. */
        rc = vn_store_reconnect(st);
        if (rc) {
            snprintf(why, sizeof(why), "%s (reconnecting: %s)", w->unavailable,
                     vn_store_last_error(st));
            for (job = batch; job; job = job->next)
                fail_job(job, rc, why);
            failed = n;
            store_failed = 1;
            fatal = classify(st, rc) == FC_FATAL;
            goto count;
        }
        w->reconnect = 0;
        vn_log_info("writer: reconnected to the store");
    }
    if (writes) {
        int optimistic = 1; /* asked for; run_transaction decides */

        for (;;) {
            rc = run_transaction(w, batch, !w->is_inline && !retries && !reruns, &optimistic, &fc,
                                 why, sizeof(why));
            if (rc && optimistic && (fc == FC_JOB || fc == FC_RETRY)) {
                /* A job failed, or a write sent ahead did: nothing is kept. Again, guarded,
                 * where a job's failure is its own. Not a retry: the store is fine. */
                vn_log_debug("writer: optimistic batch failed (%s); running it again with a "
                             "savepoint per job",
                             why);
                vn_metrics_batch_rerun();
                reruns++;
                optimistic = 0;
                continue;
            }
            if (rc == 0 || fc != FC_RETRY || ++retries >= w->o.retries)
                break;
            vn_log_warn("writer: %s; running the batch again (%d)", why, retries);
        }
        committed = rc == 0;
        pthread_mutex_lock(&w->lock);
        w->stats.full = rc && fc == FC_FULL;
        pthread_mutex_unlock(&w->lock);
        if (rc) {
            store_failed = 1;
            vn_log_error("%s; %zu job(s) not written", why, writes);
            for (job = batch; job; job = job->next)
                if (!(job->flags & VN_WJOB_OWN_TXN))
                    fail_job(job, rc, why);
            fatal = fc == FC_FATAL;
            if (fc == FC_UNAVAILABLE) {
                w->reconnect = 1;
                vn_strlcpy(w->unavailable, why, sizeof(w->unavailable));
            }
        }
    }
    /* Jobs that joined while the transaction began count with the batch. */
    n = 0;
    for (job = batch; job; job = job->next)
        n++;
    for (job = batch; job; job = job->next) {
        enum fclass ofc;
        if (!(job->flags & VN_WJOB_OWN_TXN))
            continue;
        if (fatal) {
            fail_job(job, VN_EFATAL, why[0] ? why : "the store failed with an I/O error");
            continue;
        }
        ofc = run_own(st, job);
        if (job->rc && ofc != FC_JOB) {
            store_failed = 1;
            vn_strlcpy(why, job->error, sizeof(why));
            fatal = ofc == FC_FATAL;
            if (ofc == FC_UNAVAILABLE && !w->reconnect) {
                w->reconnect = 1;
                vn_strlcpy(w->unavailable, why, sizeof(w->unavailable));
            }
        }
    }
    for (job = batch; job; job = job->next)
        failed += job->rc != 0;
count:
    pthread_mutex_lock(&w->lock);
    w->stats.batches++;
    w->stats.jobs += n;
    vn_metrics_batch(n);
    w->stats.job_failures += failed;
    w->stats.retries += (uint64_t)retries;
    w->stats.reruns += (uint64_t)reruns;
    w->stats.commits += (uint64_t)committed;
    if (store_failed) {
        w->stats.commit_failures++;
        vn_strlcpy(w->stats.last_error, why, sizeof(w->stats.last_error));
    }
    if (fatal) {
        w->fatal = 1;
        w->stats.store_failed = 1;
    }
    w->stats.last_commit_ok = !store_failed && !w->fatal;
    pthread_mutex_unlock(&w->lock);
}

/* Call done() of every job of the batch (then wake a vn_writer_run caller). */
static void finish(struct vn_wjob *batch)
{
    struct vn_wjob *job, *next;

    for (job = batch; job; job = next) {
        struct waiter *wt = job->waiter;
        next = job->next;
        job->next = NULL;
        job->waiter = NULL;
        if (wt) {
            if (wt->done)
                wt->done(job);
            pthread_mutex_lock(&wt->mu);
            wt->finished = 1;
            pthread_cond_signal(&wt->cv);
            pthread_mutex_unlock(&wt->mu); /* job may be gone from here on */
        } else if (job->done) {
            job->done(job);
        }
    }
}

/* ---- the queue and the thread ---------------------------------------------------------- */

static void push(struct queue *q, struct vn_wjob *job)
{
    job->next = NULL;
    if (q->tail)
        q->tail->next = job;
    else
        q->head = job;
    q->tail = job;
    q->n++;
}

static struct vn_wjob *pop(struct queue *q)
{
    struct vn_wjob *job = q->head;

    if (job) {
        q->head = job->next;
        if (!q->head)
            q->tail = NULL;
        q->n--;
        job->next = NULL;
    }
    return job;
}

static int queues_empty(const struct vn_writer *w)
{
    for (int c = 0; c < VN_WJOB__CLASSES; c++)
        if (w->q[c].n)
            return 0;
    return 1;
}

/* Take the next batch under the lock: urgent, then normal, then bulk within bulk_rows. */
static struct vn_wjob *take_batch(struct vn_writer *w)
{
    struct vn_wjob *head = NULL, **tail = &head, *job;
    size_t n = 0, rows = 0;

    for (int c = VN_WJOB_URGENT; c <= VN_WJOB_NORMAL; c++)
        while (n < w->o.batch_max && (job = pop(&w->q[c])) != NULL) {
            *tail = job;
            tail = &job->next;
            n++;
        }
    while (w->q[VN_WJOB_BULK].head) {
        size_t cost = w->q[VN_WJOB_BULK].head->cost ? w->q[VN_WJOB_BULK].head->cost : 1;
        if (rows > 0 && (rows + cost > w->o.bulk_rows || n >= w->o.batch_max))
            break;
        job = pop(&w->q[VN_WJOB_BULK]);
        *tail = job;
        tail = &job->next;
        rows += cost;
        n++;
    }
    return head;
}

/*
 * The writer is the one serial step every notification waits for: when its fsync returns it
 * should run at once, not after the HTTP threads' time slices. On Linux >= 6.12 (EEVDF) a
 * SCHED_OTHER thread may ask for a shorter slice (sched_attr.sched_runtime), which gives it an
 * earlier deadline when it wakes, without more CPU share and without privileges; older
 * kernels ignore the field. The nice value is kept. Best effort: a refusal changes nothing.
 */
#define WRITER_SLICE_NS 100000ULL

struct slice_attr { /* struct sched_attr of sched_setattr(2); glibc has no wrapper */
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
};

static void prefer_latency(void)
{
#if defined(__linux__) && defined(SYS_sched_setattr) && defined(SYS_sched_getattr)
    struct slice_attr a;

    memset(&a, 0, sizeof(a));
    if (syscall(SYS_sched_getattr, 0, &a, sizeof(a), 0) != 0 || a.policy != 0 /* SCHED_OTHER */)
        return;
    a.size = sizeof(a);
    a.flags = 0;
    a.runtime = WRITER_SLICE_NS;
    if (syscall(SYS_sched_setattr, 0, &a, 0) != 0)
        vn_log_debug("writer: no shorter time slice (%s)", strerror(errno));
#endif
}

static void *writer_main(void *arg)
{
    struct vn_writer *w = arg;

    prefer_latency();

    for (;;) {
        struct vn_wjob *batch;

        pthread_mutex_lock(&w->lock);
        while (queues_empty(w) && !w->stopping)
            pthread_cond_wait(&w->wake, &w->lock);
        if (queues_empty(w)) {
            pthread_mutex_unlock(&w->lock);
            break;
        }
        batch = take_batch(w);
        pthread_mutex_unlock(&w->lock);

        process(w, batch);
        finish(batch);
    }
    return NULL;
}

/* ---- the API --------------------------------------------------------------------------- */

static struct vn_writer *writer_new(struct vn_store *st, const struct vn_writer_options *opts)
{
    struct vn_writer *w = calloc(1, sizeof(*w));

    if (!w)
        return NULL;
    w->st = st;
    if (opts)
        w->o = *opts;
    w->o.queue_max = w->o.queue_max ? w->o.queue_max : 4096;
    w->o.other_max = w->o.other_max ? w->o.other_max : 1024;
    w->o.batch_max = w->o.batch_max ? w->o.batch_max : 1024;
    w->o.bulk_rows = w->o.bulk_rows ? w->o.bulk_rows : 1000;
    w->o.retries = w->o.retries > 0 ? w->o.retries : 3;
    w->stats.last_commit_ok = 1;
    pthread_mutex_init(&w->lock, NULL);
    pthread_mutex_init(&w->run_lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    return w;
}

struct vn_writer *vn_writer_start(struct vn_store *st, const struct vn_writer_options *opts,
                                  struct vn_error *err)
{
    struct vn_writer *w = writer_new(st, opts);
    int rc;

    if (!w) {
        vn_error_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    rc = pthread_create(&w->thread, NULL, writer_main, w);
    if (rc) {
        vn_error_set(err, -rc, "cannot start the writer thread: %s", strerror(rc));
        vn_writer_free(w);
        return NULL;
    }
    w->thread_started = 1;
    /* Named "vn-writer" for top -H and the comm file of /proc/PID/task/TID. */
    pthread_setname_np(w->thread, "vn-writer");
    return w;
}

struct vn_writer *vn_writer_inline(struct vn_store *st)
{
    struct vn_writer *w = writer_new(st, NULL);

    if (w)
        w->is_inline = 1;
    return w;
}

/* Inline: run the job now, alone, on this thread. */
static void run_inline(struct vn_writer *w, struct vn_wjob *job)
{
    pthread_mutex_lock(&w->run_lock);
    job->next = NULL;
    process(w, job);
    pthread_mutex_unlock(&w->run_lock);
    finish(job);
}

/* Queue job (under the lock) unless stopping or, when bounded, full. */
static int enqueue(struct vn_writer *w, struct vn_wjob *job, int bounded)
{
    size_t max = job->cls == VN_WJOB_URGENT ? w->o.queue_max : w->o.other_max;
    int rc = 0;

    if ((unsigned)job->cls >= VN_WJOB__CLASSES || !job->run)
        return VN_EUSAGE;
    pthread_mutex_lock(&w->lock);
    if (w->stopping)
        rc = VN_ESHUTDOWN;
    else if (bounded && w->q[job->cls].n >= max)
        rc = VN_EFULL;
    else if (!w->is_inline) {
        push(&w->q[job->cls], job);
        pthread_cond_signal(&w->wake);
    }
    pthread_mutex_unlock(&w->lock);
    return rc;
}

int vn_writer_submit(struct vn_writer *w, struct vn_wjob *job)
{
    int rc;

    job->rc = 0;
    job->error[0] = '\0';
    job->waiter = NULL;
    rc = enqueue(w, job, 1);
    if (rc == 0 && w->is_inline)
        run_inline(w, job);
    return rc;
}

int vn_writer_run(struct vn_writer *w, struct vn_wjob *job)
{
    struct waiter wt = {.done = job->done};
    int rc;

    job->rc = 0;
    job->error[0] = '\0';
    job->waiter = &wt;
    pthread_mutex_init(&wt.mu, NULL);
    pthread_cond_init(&wt.cv, NULL);
    rc = enqueue(w, job, 0);
    if (rc) {
        job->waiter = NULL;
        fail_job(job, rc, rc == VN_ESHUTDOWN ? "not written: shutting down" : NULL);
    } else if (w->is_inline) {
        run_inline(w, job);
    } else {
        pthread_mutex_lock(&wt.mu);
        while (!wt.finished)
            pthread_cond_wait(&wt.cv, &wt.mu);
        pthread_mutex_unlock(&wt.mu);
    }
    pthread_cond_destroy(&wt.cv);
    pthread_mutex_destroy(&wt.mu);
    return job->rc;
}

struct call {
    struct vn_wjob job;
    int (*fn)(struct vn_store *st, void *ud);
    void *ud;
};

static int call_run(struct vn_store *st, struct vn_wjob *job, struct vn_error *err)
{
    struct call *c = job->ud;
    int rc = c->fn(st, c->ud);

    if (rc)
        vn_error_set(err, rc, "%s", vn_store_last_error(st));
    return rc;
}

int vn_writer_call(struct vn_writer *w, int (*fn)(struct vn_store *st, void *ud), void *ud,
                   struct vn_error *err)
{
    struct call c = {.job = {.cls = VN_WJOB_NORMAL, .run = call_run}, .fn = fn, .ud = ud};
    int rc;

    c.job.ud = &c;
    rc = vn_writer_run(w, &c.job);
    if (rc)
        vn_error_set(err, rc, "%s", c.job.error);
    return rc;
}

void vn_writer_stats(struct vn_writer *w, struct vn_writer_stats *out)
{
    pthread_mutex_lock(&w->lock);
    *out = w->stats;
    for (int c = 0; c < VN_WJOB__CLASSES; c++)
        out->queued[c] = w->q[c].n;
    pthread_mutex_unlock(&w->lock);
}

void vn_writer_stop(struct vn_writer *w)
{
    pthread_mutex_lock(&w->lock);
    w->stopping = 1;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
    if (w->thread_started && !w->stopped) {
        pthread_join(w->thread, NULL);
        w->stopped = 1;
    }
}

void vn_writer_free(struct vn_writer *w)
{
    if (!w)
        return;
    vn_writer_stop(w);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->run_lock);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
