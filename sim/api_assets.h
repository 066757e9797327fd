/*
 * api_assets.h - Apple's asset endpoints: Get Assets (filters, page index, unlimited assets),
 * Get Assignments (filters, page index, sinceVersionId), and assets associate / disassociate /
 * revoke: synchronous validation (9718, 9719, 9700-9707; nothing is queued on an error), then
 * an async event (events.h). Handlers: run on the engine thread.
 */
#ifndef VPPSIM_API_ASSETS_H
#define VPPSIM_API_ASSETS_H

struct sim_req;

void api_assets_get(struct sim_req *r);
void api_assignments_get(struct sim_req *r);
void api_assets_manage(struct sim_req *r); /* associate, disassociate, revoke */

#endif
