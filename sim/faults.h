/*
 * faults.h - fault injection: set by the --fault-* flags at start and by POST /_sim/faults at
 * run time (docs/VPPSIM.md "Fault injection" lists every key).
 *
 *   - notification faults, decided per notification when it is created: drop, delay,
 *     duplicate; and per batch: reorder. They are keyed draws (rng.h) on the notificationId,
 *     so that --seed replays them whatever the threads did;
 *   - API faults on /mdm/v2, "the next N requests" (count) and/or "each request with
 *     probability P", optionally for one path: 429/9646, 503/9729 and 500/9603 with
 *     Retry-After, any synchronous Apple error (apiError: 9623, 9634, ...), and HTTP 200 with
 *     a 9603 error body;
 *   - async task faults (asyncError): tasks of async events fail with an asynchronous error
 *     number (9603, 9635, 9641, 9644, ...), count and/or probability, optionally one kind;
 *   - versionChange: the next N next-page requests see a changed data set.
 *
 * Threads: the settings have their own mutex (the control area); any thread may call these.
 * Ownership: sim_faults_new returns an owned object (sim_faults_free); it borrows rng. JSON
 * returned is owned by the caller; bodies passed in are borrowed.
 */
#ifndef VPPSIM_FAULTS_H
#define VPPSIM_FAULTS_H

#include <jansson.h>
#include <stdint.h>

struct sim_config;
struct sim_faults;
struct sim_rng;
struct vn_error;

int sim_faults_new(const struct sim_config *cfg, struct sim_rng *rng, struct sim_faults **out,
                   struct vn_error *err);
void sim_faults_free(struct sim_faults *f);

/* Every setting, in the shape POST /_sim/faults takes. */
json_t *sim_faults_json(struct sim_faults *f);
/* Apply a POST /_sim/faults body, all or nothing: 0 or VN_EPARSE with err. */
int sim_faults_update(struct sim_faults *f, const json_t *body, struct vn_error *err);

/* A forced answer to an API request. */
struct sim_fault_hit {
    int number;            /* Apple's errorNumber */
    int status;            /* HTTP status (200 for an error body) */
    long long retry_after; /* seconds; > 0: send Retry-After */
};
/* 1 and *hit when a forced fault answers this request to path (consuming one), else 0. */
int sim_faults_api(struct sim_faults *f, const char *path, struct sim_fault_hit *hit);
/* How long every API answer is held before it is sent (latencyMs, not scaled): 0 for none. */
int64_t sim_faults_latency_ms(struct sim_faults *f);
/* 1 if the next-page request should see a changed data set (consumes one). */
int sim_faults_version_change(struct sim_faults *f);

/* What happens to a new notification. delay_ms is not yet scaled. */
struct sim_nfault {
    int drop;
    int duplicate;
    int64_t delay_ms;
};
void sim_faults_notification(struct sim_faults *f, const char *notification_id,
                             struct sim_nfault *out);
/* 1 if the batch whose first notification is batch_key is to be delivered shuffled. */
int sim_faults_reorder(struct sim_faults *f, const char *batch_key);
/* 1 and *number when task number `task` of event_id (of kind "assets", "users" or
 * "subscriptions") is to fail with an injected asynchronous error. */
int sim_faults_async(struct sim_faults *f, const char *kind, const char *event_id, int64_t task,
                     int *number);

/* Parse a probability "0.25" into *p: 0, or -1 if it is not a number from 0 to 1. */
int sim_parse_prob(const char *text, double *p);

#endif
