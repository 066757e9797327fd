/*
 * assets.h - apps and books a location owns (assets) and their assignments to users and
 * devices: the queries behind Get Assets and Get Assignments, the checks the associate /
 * disassociate / revoke endpoints make before queueing an event, the business rules applied
 * when the event is processed (licenses consumed and released, 9709, 9609, 9707, 9706), and
 * the count changes of purchases, refunds and transfers (ASSET_COUNT).
 *
 * Engine thread only. Every function returns 0 or a negative code (db.h); VN_ECONFLICT with
 * a reason for a control-API request the state does not allow (409).
 * Ownership: JSON returned is owned by the caller; everything passed in is borrowed.
 */
#ifndef VPPSIM_ASSETS_H
#define VPPSIM_ASSETS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct sim_ctx;
struct sim_outcome;

/* Filters of Get Assets; NULL pointers match everything. */
struct sim_asset_filter {
    const char *adam_id, *product_type, *pricing_param;
    const int64_t *revocable, *device_assignable;
    const int64_t *min_assigned, *max_assigned, *min_available, *max_available;
    int unlimited; /* -1: not given (unlimited assets listed with totalCount 2147483647);
                      0 or 1: unlimited assets left out of `assets` */
};
int sim_assets_count(struct sim_ctx *c, const char *uid, const struct sim_asset_filter *f,
                     int64_t *n);
int sim_assets_list(struct sim_ctx *c, const char *uid, const struct sim_asset_filter *f,
                    int64_t limit, int64_t offset, json_t **out);
/* The unlimitedAssets list of unlimited=true (UnlimitedResponseAsset). */
int sim_assets_unlimited(struct sim_ctx *c, const char *uid, const struct sim_asset_filter *f,
                         json_t **out);

/* Filters of Get Assignments. */
struct sim_assignment_filter {
    const char *adam_id, *client_user_id, *serial_number, *pricing_param;
    const int64_t *since_seq; /* sinceVersionId's seq */
    int exclude_inactive, include_user_state;
};
int sim_assignments_count(struct sim_ctx *c, const char *uid, const struct sim_assignment_filter *f,
                          int64_t *n);
int sim_assignments_list(struct sim_ctx *c, const char *uid, const struct sim_assignment_filter *f,
                         int64_t limit, int64_t offset, json_t **out);

/* An asset's flags: *found 0 when the location does not own it. */
int sim_asset_flags(struct sim_ctx *c, const char *uid, const char *adam_id,
                    const char *pricing_param, int *found, int *device_assignable, int *revocable);
/* Revocable assignments of one user or one serial number (the other NULL). */
int sim_assets_revocable(struct sim_ctx *c, const char *uid, const char *client_user_id,
                         const char *serial_number, int64_t *n);

/* Process one step of an ASSOCIATE, DISASSOCIATE or REVOKE event (request: the normalised
 * body stored with the event). Inside the caller's transaction. */
int sim_assets_process(struct sim_ctx *c, const char *uid, const char *type, const json_t *request,
                       struct sim_outcome *o);

/* POST /_sim/purchase, /_sim/refund, /_sim/transfer (op), in one transaction: the asset's
 * totalCount changes by count (negative for refunds; a transfer moves count licenses from uid
 * to to_uid) and each location gets an ASSET_COUNT. attrs (the request body) gives the new
 * asset's productType, deviceAssignable, revocable, supportedPlatforms. VN_ECONFLICT with why
 * when there are not enough unassigned licenses. */
int sim_assets_purchase(struct sim_ctx *c, const char *op, const char *uid, const char *to_uid,
                        const char *adam_id, const char *pricing_param, int64_t count,
                        const json_t *attrs, char *why, size_t whylen);

#endif
