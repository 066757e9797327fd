/*
 * events.h - asynchronous events (apple-api.md section 3): created PENDING by the async
 * endpoints, processed by the engine after --event-delay (scaled) in steps of --event-batch
 * tasks, --event-step apart, with Apple's business rules (assets.c, users.c, subs.c), and
 * ending COMPLETE or FAILED. Between steps Event Status shows the progress (numCompleted, the
 * failures so far); each step's notifications are one batch. Every step is one transaction,
 * so a restart with --state goes on from the next step.
 *
 * Also the billing-period end, which completes deferred subscription disassociations.
 *
 * Engine thread only; 0 or a negative code (db.h). JSON returned is owned by the caller.
 */
#ifndef VPPSIM_EVENTS_H
#define VPPSIM_EVENTS_H

#include <jansson.h>
#include <stdint.h>

struct sim_ctx;

/* Create a PENDING event of kind ("assets", "users", "subscriptions") and type (ASSOCIATE,
 * ...) for a validated request (borrowed, stored as text); the eventId goes into out. */
int sim_event_create(struct sim_ctx *c, const char *uid, const char *kind, const char *type,
                     int64_t num_requested, const json_t *request, char out[37]);
/* Event Status of event_id for uid; VN_ENOTFOUND if uid has no such event. */
int sim_event_status(struct sim_ctx *c, const char *uid, const char *event_id, json_t **out);

/* When the next unprocessed event is due: 0 and *due, or VN_ENOTFOUND. */
int sim_events_next_due(struct sim_ctx *c, int64_t *due);
/* Process the next step of the next event due at now: 0 and *did (1 if a step ran). */
int sim_events_step(struct sim_ctx *c, int64_t now, int *did);
/* Events still waiting to be processed (settle waits for 0). */
int sim_events_pending(struct sim_ctx *c, int64_t *n);

/* POST /_sim/period-end, in one transaction (see subs.h), completing the deferred
 * disassociation events whose last seat ended. *summary as sim_subs_period_end's. */
int sim_events_period_end(struct sim_ctx *c, const char *uid, int64_t adam_id, json_t **summary);

/* The events of uid for the state dump. */
int sim_events_dump(struct sim_ctx *c, const char *uid, json_t **out);

#endif
