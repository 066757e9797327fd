/*
 * outcome.h - the result of one step of an async event: its successes, and its failures
 * grouped by error number (with the distinct assets, clientUserIds and serialNumbers each
 * concerns, Event Status's errorInfo), and the notifications of that step: successes first,
 * then each failure number, each split into parts of at most 100 elements, all with the
 * event's eventId.
 *
 * A step processes tasks [from, from + count) of an event: the business rules (assets.c,
 * users.c, subs.c) walk every task of the request in order and call sim_outcome_turn, which
 * says whether the task belongs to this step; sim_outcome_injected then says whether an
 * asyncError fault makes it fail.
 *
 * Engine thread only. Ownership: items passed to ok/fail are taken; JSON returned is owned.
 */
#ifndef VPPSIM_OUTCOME_H
#define VPPSIM_OUTCOME_H

#include <jansson.h>
#include <stdint.h>

struct sim_ctx;

struct sim_outcome {
    json_t *ok;        /* success elements of this step (array) */
    json_t *fails;     /* "errorNumber" -> {items (this step), assets, clientUserIds,
                          serialNumbers (every step so far), and their sets} */
    int64_t completed; /* successful tasks of this step */
    int64_t failed;    /* failed tasks of this step */
    int deferred;      /* the event stays PENDING (deferred subscription disassociation) */
    int64_t from;      /* this step processes tasks [from, from + count) */
    int64_t count;
    int64_t index; /* tasks seen so far */
    int more;      /* tasks remain after this step */
    /* For injected faults (faults.h asyncError). */
    struct sim_ctx *ctx;
    const char *kind; /* "assets", "users", "subscriptions" */
    const char *event_id;
};

/* Start an outcome for tasks [from, from + count), carrying the failures of earlier steps
 * (fail_state: the stored text, or NULL). 0 or VN_ESTORE. */
int sim_outcome_init(struct sim_outcome *o, struct sim_ctx *c, const char *kind,
                     const char *event_id, const char *fail_state, int64_t from, int64_t count);
void sim_outcome_release(struct sim_outcome *o);

/* Count a task: 1 if it belongs to this step (process it), 0 if not (skip it). */
int sim_outcome_turn(struct sim_outcome *o);
/* After a turn: 1 and *number if an injected asyncError fails this task. */
int sim_outcome_injected(struct sim_outcome *o, int *number);

/* Record a success (takes item). */
void sim_outcome_ok(struct sim_outcome *o, json_t *item);
/* Record a failure (takes item) and the entities it names for errorInfo (any may be NULL). */
void sim_outcome_fail(struct sim_outcome *o, int number, json_t *item, const char *adam_id,
                      const char *pricing_param, const char *client_user_id,
                      const char *serial_number);
/* The failures so far as Event Status lists them (owned), or NULL if none. */
json_t *sim_outcome_failures(const struct sim_outcome *o);
/* The failure bookkeeping to store between steps (owned text, free). */
char *sim_outcome_state(struct sim_outcome *o);
/* Queue the notifications of this step: successes, then each failure number. */
int sim_outcome_notify(struct sim_ctx *c, const struct sim_outcome *o, const char *uid,
                       const char *ntype, const char *event_type, const char *key);

#endif
