/*
 * outbox.h - notifications: building them (envelope, at most 100 elements each), the outbox
 * (table `notifications`, written in the same transaction as the change it reports, so a
 * restart never loses one), the fault decisions made at creation (drop, delay, duplicate) and
 * per batch (reorder), Apple's retry schedule, and the delivery log (table `deliveries`).
 *
 * Delivery follows Apple: up to 3 attempts until a 2xx; attempt 1 when due, attempt 2
 * 60-90 s and attempt 3 180-240 s after attempt 1 (so all three fall inside the documented
 * 1-5 minutes), every delay multiplied by --time-scale. The engine claims due notifications
 * (sim_outbox_claim), hands them to the delivery workers (delivery.h), and records each
 * attempt (sim_outbox_finish). A claimed notification is marked in flight; a restart makes
 * it due again (db.c), so at worst it is delivered twice.
 *
 * All functions run on the engine thread and return 0 or a negative code (db.h).
 * Ownership: payloads and items are borrowed; JSON returned is owned by the caller; a claim's
 * strings are owned by the claim (sim_claim_release).
 */
#ifndef VPPSIM_OUTBOX_H
#define VPPSIM_OUTBOX_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct sim_ctx;
struct sim_batch;

#define SIM_MAX_ELEMENTS 100 /* elements of one notification (Apple) */

int sim_batch_new(struct sim_batch **out);
void sim_batch_free(struct sim_batch *b);
/* Group the notifications queued until sim_notify_batch_end: reordering shuffles within one
 * batch. Call end inside the transaction that queued them. */
void sim_notify_batch_begin(struct sim_ctx *c);
int sim_notify_batch_end(struct sim_ctx *c);

/* Queue one notification for uid if it subscribed to type and has a notification URL. */
int sim_notify(struct sim_ctx *c, const char *uid, const char *type, const char *event_id,
               const json_t *payload);
/* The same, also for a type the location did not subscribe to when force is set (raw
 * injection); nid_out (may be NULL) receives the notificationId, "" when nothing was queued. */
int sim_notify_raw(struct sim_ctx *c, const char *uid, const char *type, const char *event_id,
                   const json_t *payload, int force, char nid_out[37]);
/* Split items into notifications of at most 100 elements: each payload is base plus
 * key = the part. */
int sim_notify_split(struct sim_ctx *c, const char *uid, const char *type, const char *event_id,
                     const json_t *base, const char *key, const json_t *items);

/* A claimed notification, on its way to a delivery worker. */
struct sim_claim {
    int64_t row;
    char nid[64], uid[40], type[40], event_id[64];
    char *body, *url, *token; /* owned */
    int attempts;             /* attempts made so far */
    int duplicate;            /* this is the fault's second delivery */
    int dup_left;
    int64_t first_ms;
};
void sim_claim_release(struct sim_claim *cl);
/* Claim the next notification due at now: 1 and *cl filled (marked in flight), or 0. */
int sim_outbox_claim(struct sim_ctx *c, int64_t now, struct sim_claim *cl);
/* When the next notification not in flight is due: 0 and *due, or VN_ENOTFOUND. */
int sim_outbox_next_due(struct sim_ctx *c, int64_t *due);

/* The outcome of one delivery attempt. */
struct sim_attempt {
    int ok;          /* the receiver answered 2xx */
    long status;     /* HTTP status, 0 when there was no answer */
    const char *why; /* what went wrong, "" when ok */
    int64_t time_ms; /* when the attempt began (wall clock) */
    int64_t duration_ms;
};
/* Record an attempt of a claim and schedule what comes next (retry, duplicate, done). */
int sim_outbox_finish(struct sim_ctx *c, const struct sim_claim *cl, const struct sim_attempt *a);

/* A TEST_NOTIFICATION for uid: its body (owned, free) and its id. */
int sim_outbox_test_body(struct sim_ctx *c, const char *uid, char nid[37], char **body);
/* Record the one attempt of a TEST_NOTIFICATION (it is never retried). */
int sim_outbox_test_record(struct sim_ctx *c, const char *uid, const char *nid, const char *body,
                           const char *url, const char *token, const struct sim_attempt *a);

/* Notifications scheduled or being delivered (settle waits for 0). */
int sim_outbox_pending(struct sim_ctx *c, int64_t *n);

/* GET /_sim/deliveries and GET /_sim/notifications. NULL filters match everything. */
struct sim_outbox_filter {
    const char *uid, *event_id, *notification_id, *type, *state;
    int64_t after_id;
    int64_t limit;
};
int sim_outbox_deliveries(struct sim_ctx *c, const struct sim_outbox_filter *f, json_t **out);
int sim_outbox_notifications(struct sim_ctx *c, const struct sim_outbox_filter *f, json_t **out);
/* Notification counts of uid by state {scheduled: n, delivered: n, ...}. */
int sim_outbox_counts(struct sim_ctx *c, const char *uid, json_t **out);

#endif
