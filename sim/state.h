/*
 * state.h - the whole state of a location at once: the dump (GET /_sim/state, the oracle of
 * sync tests: the same shapes and names as Apple's API), seeding (POST /_sim/seed: what the
 * organization already has, in one transaction, without notifications), and the change "another
 * party" makes mid-pagination (the versionChange fault).
 *
 * Engine thread only; 0 or a negative code (db.h): VN_EPARSE / VN_ENOTFOUND with a message in
 * err for a seed body that is wrong. JSON returned is owned by the caller.
 */
#ifndef VPPSIM_STATE_H
#define VPPSIM_STATE_H

#include <jansson.h>

#include "location.h"

struct sim_ctx;
struct vn_error;

/* The full state of one location (VN_ENOTFOUND if none), or of all when uid is NULL. */
int sim_state_dump(struct sim_ctx *c, const char *uid, json_t **out);
/* Apply a /_sim/seed body (borrowed): *out is the summary of what was added. */
int sim_state_seed(struct sim_ctx *c, const json_t *body, json_t **out, struct vn_error *err);
/* Change a collection of uid as another party would (versionId change mid-pagination). */
int sim_state_perturb(struct sim_ctx *c, const char *uid, enum sim_coll coll);

#endif
