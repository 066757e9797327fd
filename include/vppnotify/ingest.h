/*
 * ingest.h - notifications into the store: the HTTP door's client of the writer (writer.h).
 *
 * HTTP threads submit jobs; each becomes an URGENT job of the one transaction runner, run in
 * the batch transaction under its own savepoint (ledger insert = dedupe, then apply). Its
 * done() is called with the final outcome only after the COMMIT that holds it, so every 2xx
 * that follows a done() is durable, and one fsync serves a whole batch (docs/ARCHITECTURE.md).
 *
 * Ownership: a job is owned by its submitter and must stay valid until its done() has been
 * called; everything it points to is borrowed for that long. done() runs on the writer thread:
 * it must be short and must not wait for the writer.
 */
#ifndef VPPNOTIFY_INGEST_H
#define VPPNOTIFY_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "vppnotify/apply.h"
#include "vppnotify/secret.h"
#include "vppnotify/writer.h"

struct vn_error;
struct vn_notification;
struct vn_ingest;

enum vn_job_kind {
    VN_JOB_NOTIFICATION, /* a parsed notification: dedupe, then apply or keep as stored */
    VN_JOB_QUARANTINE,   /* a body that is not a notification: keep it for inspection */
    VN_JOB_PING,         /* prove the store can commit (healthz): its own transaction */
};

enum vn_outcome {
    VN_OUTCOME_NONE = 0,
    VN_OUTCOME_APPLIED,     /* new, valid, applied: 200 */
    VN_OUTCOME_DUPLICATE,   /* id already known: 200, nothing applied */
    VN_OUTCOME_STORED,      /* new, unknown type or invalid payload: kept, 202 */
    VN_OUTCOME_QUARANTINED, /* not a notification, kept in quarantine: 400 */
    VN_OUTCOME_OK,          /* ping committed */
    VN_OUTCOME_UNAVAILABLE, /* not durable: 503 with Retry-After */
};

struct vn_ingest_job {
    enum vn_job_kind kind;

    /* Inputs (borrowed until done). */
    const struct vn_notification *n; /* NOTIFICATION */
    const char *body;                /* NOTIFICATION, QUARANTINE: raw body (maybe capped) */
    size_t body_len;
    size_t original_len;           /* QUARANTINE: length before capping */
    uint8_t digest[VN_DIGEST_LEN]; /* NOTIFICATION: SHA-256 of body */
    const char *remote;            /* QUARANTINE: client address */
    const char *reason;            /* QUARANTINE: why it is not a notification */
    int64_t received_ms;

    /* Outputs (valid in done and after). */
    enum vn_outcome outcome;
    int conflict;                /* DUPLICATE with a different body */
    struct vn_apply_stats stats; /* APPLIED */
    char error[256];             /* STORED: why not applied; UNAVAILABLE: why */

    void (*done)(struct vn_ingest_job *job);
    void *ud; /* for done() */

    struct vn_wjob wjob; /* private: the writer's job */
    struct vn_ingest *ing;
};

/* Counters since start, for /healthz and the shutdown line (the writer's merged in). */
struct vn_ingest_stats {
    uint64_t applied, duplicates, conflicts, stored, quarantined, unavailable;
    uint64_t commits, batched_jobs, commit_failures;
    size_t queued;
    int store_failed;   /* an I/O error made the store untrustworthy: stop the daemon */
    int last_commit_ok; /* the most recent commit (or ping) succeeded */
    char last_error[256];
};

/* Ingest through w (borrowed: it must outlive the ingest). NULL with err on failure. */
struct vn_ingest *vn_ingest_new(struct vn_writer *w, struct vn_error *err);

/*
 * Queue a job. 0: done() will be called exactly once, later, on the writer thread.
 * VN_EFULL (the writer's URGENT queue is full) or VN_ESHUTDOWN: the job was not queued and
 * done() will not be called.
 */
int vn_ingest_submit(struct vn_ingest *ing, struct vn_ingest_job *job);

/* A snapshot of the counters. */
void vn_ingest_stats(struct vn_ingest *ing, struct vn_ingest_stats *out);

/* Refuse new jobs and wait until every submitted one is done (committed or failed). The writer
 * goes on for its other clients. Idempotent. */
void vn_ingest_stop(struct vn_ingest *ing);

/* Stop (if needed) and free; the writer is not freed. NULL is allowed. */
void vn_ingest_free(struct vn_ingest *ing);

/* Names of outcomes for logs and JSON: "applied", "duplicate", ... */
const char *vn_outcome_name(enum vn_outcome o);

#endif
