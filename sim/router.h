/*
 * router.h - the way into vppsim's handlers, run on the engine thread for every request:
 * Apple's v2 paths under /mdm/v2 and the control API under /_sim/.
 *
 * For /mdm/v2, in this order: 404 (unknown path), 405 / 9726 with Allow, 415 / 9727, forced
 * API faults (faults.h), authentication (9601, 9722, 9625, 9621), the rate limit (429 / 9646
 * with Retry-After), the token's kind (9647, 9637), the JSON body (9602), then the endpoint.
 * The envelope (uId, tokenExpirationDate, mdmInfo) is added to every 200 object of an
 * authenticated endpoint.
 */
#ifndef VPPSIM_ROUTER_H
#define VPPSIM_ROUTER_H

struct sim_req;

#define SIM_API_PREFIX     "/mdm/v2"
#define SIM_CONTROL_PREFIX "/_sim/"

/* Answer r (r->ctx set). Leaves r waiting when its handler waits (engine.h). */
void sim_router_run(struct sim_req *r);

#endif
