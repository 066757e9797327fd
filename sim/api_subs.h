/*
 * api_subs.h - Apple's subscription endpoints (apple-api.md section 2.10): enable / disable
 * (9818 while subscriptions exist), the three cursor-paginated lists (9812 for a cursor that
 * is not ours), associate / disassociate (validation 9811, 9813, 9814, 9815, 9816, 9817, then
 * an async event) and admins add / remove (synchronous). Handlers: run on the engine thread.
 */
#ifndef VPPSIM_API_SUBS_H
#define VPPSIM_API_SUBS_H

struct sim_req;

void api_subs_enable(struct sim_req *r);
void api_subs_disable(struct sim_req *r);
void api_subs_get(struct sim_req *r);
void api_subs_assignments_get(struct sim_req *r);
void api_subs_manage(struct sim_req *r); /* associate, disassociate */
void api_subs_admins_get(struct sim_req *r);
void api_subs_admins_manage(struct sim_req *r); /* add, remove */

#endif
