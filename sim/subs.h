/*
 * subs.h - subscriptions (apple-api.md section 2.10): seat pools, assignments with their own
 * renewal state, admins; the queries behind the subscription endpoints, the business rules of
 * subscription associate / disassociate events, seat purchases (SUBSCRIPTION_COUNT) and the
 * billing-period end.
 *
 * Seat model (apple-api.md section 6.6): a subscription owns total.renewing and
 * total.expiring licenses. Each assignment has its own renewal state (`renewing`) and takes
 * its seat from one of the two pools (`seat_renewing`). So assigned.{renewing,expiring} count
 * assignments by their state, available.{renewing,expiring} are the pools minus the seats
 * taken from them, and assigned + available = total always holds. An assignment may be held
 * through group membership (seeded with viaGroup): the API cannot assign it again (9817).
 *
 * Engine thread only; 0 or a negative code (db.h). JSON returned is owned by the caller; the
 * id lists passed to the list functions are JSON text of arrays (json_each), NULL for "all".
 */
#ifndef VPPSIM_SUBS_H
#define VPPSIM_SUBS_H

#include <jansson.h>
#include <stdint.h>

struct sim_ctx;
struct sim_outcome;

/* Counts {assigned, available, total} of one subscription; with_assigned 0 gives the
 * SUBSCRIPTION_COUNT form {available, total}. VN_ENOTFOUND if there is no such subscription. */
int sim_sub_counts(struct sim_ctx *c, const char *uid, int64_t adam_id, int with_assigned,
                   json_t **out);
/* Queue SUBSCRIPTION_COUNT for one subscription (its absolute counts). */
int sim_sub_notify_count(struct sim_ctx *c, const char *uid, int64_t adam_id);
/* Subscriptions of a location (0 and *n). */
int sim_subs_total(struct sim_ctx *c, const char *uid, int64_t *n);
int sim_sub_exists(struct sim_ctx *c, const char *uid, int64_t adam_id, int *yes);

/* Get Subscriptions (ResponseSubscription objects), Get Subscription Assignments, Get
 * Subscription Admins: at most limit rows from offset. */
int sim_subs_list(struct sim_ctx *c, const char *uid, const char *parents, const char *adams,
                  int64_t limit, int64_t offset, json_t **out);
int sim_sub_assignments_list(struct sim_ctx *c, const char *uid, const char *parents,
                             const char *adams, const char *users, int64_t limit, int64_t offset,
                             json_t **out);
int sim_sub_admins_list(struct sim_ctx *c, const char *uid, const char *adams, int include_state,
                        int64_t limit, int64_t offset, json_t **out);

/* One subscription assignment: *exists, and when it does *via_group. */
int sim_sub_assignment(struct sim_ctx *c, const char *uid, int64_t adam_id,
                       const char *client_user_id, int *exists, int *via_group);

/* Admins add (add 1) or remove, every adamId x clientUserId, in one transaction. */
int sim_subs_admins_change(struct sim_ctx *c, const char *uid, int add, const json_t *adam_ids,
                           const json_t *client_user_ids);

/* Process one step of a subscription ASSOCIATE or DISASSOCIATE event. Inside the caller's
 * transaction. A deferred disassociation marks the seats and sets o->deferred. */
int sim_subs_process(struct sim_ctx *c, const char *uid, const char *type, const char *event_id,
                     const json_t *request, struct sim_outcome *o);

/* POST /_sim/subscriptions/purchase, in one transaction: adds seats (creating the
 * subscription, period end in 30 days unless given) and sends SUBSCRIPTION_COUNT; *counts are
 * the new counts. parent_adam_id NULL: none. */
int sim_subs_purchase(struct sim_ctx *c, const char *uid, int64_t adam_id,
                      const int64_t *parent_adam_id, int64_t renewing, int64_t expiring,
                      const char *period_end, json_t **counts);

/* Billing-period end of one location (adam_id 0: every subscription), inside the caller's
 * transaction: deferred disassociations end (SUBSCRIPTION_MANAGEMENT notifications), expiring
 * assignments and assignments on expiring licenses end, expiring licenses lapse, the period
 * moves one month on, SUBSCRIPTION_COUNT for each. *summary: per subscription
 * {adamId, deferredDisassociations, expiredAssignments, periodEndDate}; *ended: eventId ->
 * number of deferred disassociations of that event that ended now. */
int sim_subs_period_end(struct sim_ctx *c, const char *uid, int64_t adam_id, json_t **summary,
                        json_t **ended);
/* Deferred disassociations of event_id still waiting for their period end (0 and *n). */
int sim_subs_deferred_left(struct sim_ctx *c, const char *event_id, int64_t *n);

#endif
