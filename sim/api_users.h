/*
 * api_users.h - Apple's user endpoints: Get Users (filters, page index, sinceVersionId) and
 * users create / update / retire: validation (9720, 9714, 9715, 9717, 9602), then an async
 * event (events.h). Handlers: run on the engine thread.
 */
#ifndef VPPSIM_API_USERS_H
#define VPPSIM_API_USERS_H

struct sim_req;

void api_users_get(struct sim_req *r);
void api_users_manage(struct sim_req *r); /* create, update, retire */

#endif
