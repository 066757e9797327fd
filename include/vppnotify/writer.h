/*
 * writer.h - the one transaction runner: inside `vppnotify serve`, every durable change is a
 * job run by it, on the one write handle (docs/ARCHITECTURE.md, "One writer").
 *
 * A job is a function run inside a batch transaction under its own savepoint, and a
 * completion called after the COMMIT (or after the batch failed). One writer thread takes the
 * queued jobs, runs them in ONE transaction, commits once, and only then calls each job's
 * done(): whatever a done() reports is on disk, and one fsync serves the whole batch.
 *
 * Each batch transaction takes the next writer clock value first (vn_store_clock_tick): the
 * mirror rows it changes carry it, so a sync can tell a change newer than its page.
 *
 * Classes keep bulk work from delaying notifications: a batch takes every queued URGENT job
 * (notifications, healthz; up to batch_max), every queued NORMAL job (bookkeeping) and BULK
 * jobs (a sync page, a sweep chunk) only up to bulk_rows rows of declared cost (at least one
 * bulk job when any waits, so bulk work is never starved either). URGENT jobs queued while the
 * batch's BEGIN waited for the write lock join it (up to batch_max).
 *
 * Failures, by class of the code run() returns (or a store operation failed with):
 *   - a job-level error (anything but the store classes below): the job's savepoint is rolled
 *     back, that job alone fails with the code, the rest of the batch goes on;
 *   - the store unavailable (locked, gone) or full: the whole batch is rolled back and every
 *     job in it fails with that code (the HTTP door answers 503 + Retry-After);
 *   - a retryable store error: the batch is rolled back and run again (bounded);
 *   - an I/O error (a failed write or fsync): as unavailable, and the writer turns fatal:
 *     every later job fails without touching the store (after a failed fsync the page cache
 *     cannot be trusted), and vn_writer_stats says so, for serve to stop.
 *
 * Two ways in: vn_writer_submit (asynchronous, for HTTP threads that suspend their connection;
 * bounded queues) and vn_writer_run (submit and wait until committed, for any other thread).
 * An inline writer (vn_writer_inline) has no thread: it runs each job at once in its own short
 * transaction on the caller's thread; the CLI uses one, so the library's workflows are the
 * same code in serve and beside it, and never hold the write lock for long.
 *
 * Ownership: the store handle is borrowed and must outlive the writer; only the writer thread
 * uses it. A job is owned by its submitter and must stay valid, with everything it points to,
 * until its done() has been called (vn_writer_run: until it returns).
 */
#ifndef VPPNOTIFY_WRITER_H
#define VPPNOTIFY_WRITER_H

#include <stddef.h>
#include <stdint.h>

struct vn_error;
struct vn_store;
struct vn_writer;
struct vn_wjob;

enum vn_wjob_class {
    VN_WJOB_URGENT, /* an HTTP answer waits on it */
    VN_WJOB_NORMAL, /* small bookkeeping: events, token status, a sync's state */
    VN_WJOB_BULK,   /* many rows: cost says how many */
    VN_WJOB__CLASSES
};

enum {
    /*
     * Run outside the batch transaction, alone, after the batch's COMMIT: run() begins and
     * commits by itself (store operations documented "own transaction", the healthz ping).
     */
    VN_WJOB_OWN_TXN = 1 << 0,
};

/*
 * Run inside the transaction, under the job's savepoint, on the writer thread. Returns 0 to
 * keep its writes or a negative code (see the classes above). It may undo its own writes and
 * go on with vn_store_rollback_to() followed by vn_store_savepoint(). It may run more than
 * once for one job (a retried batch): it must set its outputs from its inputs and the store
 * only. err (never NULL) says why, for job->error.
 */
typedef int (*vn_wjob_run_fn)(struct vn_store *st, struct vn_wjob *job, struct vn_error *err);

/* Called once, on the writer thread (the caller's, inline), after the COMMIT or the failure,
 * with job->rc set. Short; it may submit jobs but must not call vn_writer_run. */
typedef void (*vn_wjob_done_fn)(struct vn_wjob *job);

struct vn_wjob {
    /* Inputs. */
    enum vn_wjob_class cls;
    unsigned flags; /* VN_WJOB_* */
    size_t cost;    /* BULK: rows it writes (0 counts as 1) */
    vn_wjob_run_fn run;
    vn_wjob_done_fn done; /* may be NULL with vn_writer_run */
    void *ud;             /* the submitter's */
    /* The notification id run() will insert, or NULL: in an optimistic batch the writer reads
     * the batch's ids in one statement first (store.h vn_store_notifications_known). */
    const char *notification_id;

    /* Outputs, valid in done() and after. */
    int rc;          /* 0: committed; else why not */
    char error[256]; /* rc != 0: what failed, for a log line or an answer */

    /* Private to the writer. */
    struct vn_wjob *next;
    void *waiter;
};

struct vn_writer_options {
    size_t queue_max; /* URGENT jobs waiting; more: VN_EFULL. Default 4096 */
    size_t other_max; /* NORMAL and BULK jobs waiting (each); more: VN_EFULL. Default 1024 */
    size_t batch_max; /* jobs per transaction. Default 1024 */
    size_t bulk_rows; /* rows of BULK jobs per transaction. Default 1000 */
    int retries;      /* runs of a batch that failed with a retryable error. Default 3 */
};

/* Counters since start. */
struct vn_writer_stats {
    uint64_t batches, commits, commit_failures, retries, jobs, job_failures;
    uint64_t reruns; /* optimistic transactions that failed and ran again guarded (store.h) */
    size_t queued[VN_WJOB__CLASSES];
    int store_failed;   /* an I/O error made the store untrustworthy: stop the daemon */
    int last_commit_ok; /* the most recent batch committed */
    int full;           /* the last batch of writes failed for a full store; none committed since */
    char last_error[256];
};

/* Start the writer thread on st (borrowed). NULL with err on failure. opts may be NULL. */
struct vn_writer *vn_writer_start(struct vn_store *st, const struct vn_writer_options *opts,
                                  struct vn_error *err);

/* A writer without a thread: each job runs at once, in its own transaction, on the caller's
 * thread. st is borrowed. NULL only when out of memory. */
struct vn_writer *vn_writer_inline(struct vn_store *st);

/*
 * Queue a job. 0: done() will be called exactly once, later (inline: before this returns).
 * VN_EFULL (its class's queue is full) or VN_ESHUTDOWN: not queued, done() is not called.
 */
int vn_writer_submit(struct vn_writer *w, struct vn_wjob *job);

/*
 * Run a job and wait until it is committed or failed; returns job->rc (job->error says why).
 * done may be NULL. Never refused for a full queue (the caller waits); VN_ESHUTDOWN once the
 * writer stops. Must not be called from a done() or a run().
 */
int vn_writer_run(struct vn_writer *w, struct vn_wjob *job);

/*
 * A shorthand for one small write: run fn(st, ud) as a NORMAL job and wait (vn_writer_run).
 * fn follows the rules of a job's run() (it may run more than once). Returns its code; err
 * (may be NULL) gets job->error.
 */
int vn_writer_call(struct vn_writer *w, int (*fn)(struct vn_store *st, void *ud), void *ud,
                   struct vn_error *err);

/* A snapshot of the counters. */
void vn_writer_stats(struct vn_writer *w, struct vn_writer_stats *out);

/* Refuse new jobs, finish every queued one (commit and done()), stop the thread. Idempotent. */
void vn_writer_stop(struct vn_writer *w);

/* Stop (if needed) and free; the store is not freed. NULL is allowed. */
void vn_writer_free(struct vn_writer *w);

#endif
