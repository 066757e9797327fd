/*
 * users.h - a location's users, history-preserving: retiring keeps the row (status Retired)
 * and creating the same clientUserId again adds a new row, so there is at most one active row
 * per clientUserId and any number of retired ones. The query behind Get Users, the business
 * rules of users create / update / retire events (9716 for an existing active user, 9609 for
 * an unknown one, 9641 for a managedAppleId another active user holds), and invitation
 * acceptance (USER_ASSOCIATED).
 *
 * Engine thread only; 0 or a negative code (db.h). JSON returned is owned by the caller.
 */
#ifndef VPPSIM_USERS_H
#define VPPSIM_USERS_H

#include <jansson.h>
#include <stdint.h>

struct sim_ctx;
struct sim_outcome;

/* Filters of Get Users. */
struct sim_user_filter {
    const char *client_user_id;
    int active_only, retired_only;
    const int64_t *since_seq;
};
int sim_users_count(struct sim_ctx *c, const char *uid, const struct sim_user_filter *f,
                    int64_t *n);
int sim_users_list(struct sim_ctx *c, const char *uid, const struct sim_user_filter *f,
                   int64_t limit, int64_t offset, json_t **out);
/* ResponseUser of the newest row of clientUserId (the active one first); VN_ENOTFOUND. */
int sim_user_json(struct sim_ctx *c, const char *uid, const char *client_user_id, json_t **out);
/* 0 and *yes: clientUserId is an active user with status Associated. */
int sim_user_associated(struct sim_ctx *c, const char *uid, const char *client_user_id, int *yes);

/* Process one step of a CREATE, UPDATE or RETIRE event. Inside the caller's transaction. */
int sim_users_process(struct sim_ctx *c, const char *uid, const char *type, const json_t *request,
                      struct sim_outcome *o);

/* POST /_sim/users/accept, in one transaction: each Registered user of client_user_ids
 * becomes Associated with a new idHash; USER_ASSOCIATED notifications (100 users each).
 * *accepted: their ResponseUsers; *skipped: the ids that were not Registered users. */
int sim_users_accept(struct sim_ctx *c, const char *uid, const json_t *client_user_ids,
                     json_t **accepted, json_t **skipped);

#endif
