/*
 * api_subs.c - see api_subs.h.
 */
#include "api_subs.h"

#include "config.h"
#include "ctx.h"
#include "events.h"
#include "limits.h"
#include "location.h"
#include "req.h"
#include "subs.h"
#include "users.h"

#include "vppnotify/apple_errors.h"
#include "vppnotify/error.h"
#include "vppnotify/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void api_subs_enable(struct sim_req *r)
{
    int rc = sim_loc_set_subs(r->ctx->db, r->uid, 1);

    if (rc)
        sim_fail_state(r, rc);
    else
        sim_ok(r, json_pack("{s:b}", "subscriptionManagement", 1));
}

void api_subs_disable(struct sim_req *r)
{
    int64_t n = 0;
    int rc;

    if ((rc = sim_subs_total(r->ctx, r->uid, &n))) {
        sim_fail_state(r, rc);
        return;
    }
    if (n > 0) {
        sim_error(r, VN_APPLE_SUBSCRIPTIONS_EXIST);
        return;
    }
    if ((rc = sim_loc_set_subs(r->ctx->db, r->uid, 0)))
        sim_fail_state(r, rc);
    else
        sim_ok(r, json_pack("{s:b}", "subscriptionManagement", 0));
}

/* A list of int64 ids from a query parameter as JSON text for json_each (owned; NULL when
 * absent): 0, or -1 with 9813 answered when one is not a number. */
static int id_list(struct sim_req *r, const char *name, char **out)
{
    json_t *raw = sim_arg_list(r, name), *ids, *v;
    size_t i;

    *out = NULL;
    if (!json_array_size(raw)) {
        json_decref(raw);
        return 0;
    }
    ids = json_array();
    json_array_foreach(raw, i, v)
    {
        long long n;
        if (vn_parse_ll(json_string_value(v), 1, INT64_MAX, &n) != 0) {
            json_decref(raw);
            json_decref(ids);
            sim_error(r, VN_APPLE_INVALID_ADAM_ID);
            return -1;
        }
        json_array_append_new(ids, json_integer(n));
    }
    json_decref(raw);
    *out = json_dumps(ids, JSON_COMPACT);
    json_decref(ids);
    return 0;
}

/* Cursor of a request: 0 and *offset (0 when absent), or -1 with 9812 answered. */
static int read_cursor(struct sim_req *r, enum sim_coll c, int64_t *offset)
{
    const char *cur = sim_arg(r, "cursor");

    *offset = 0;
    if (!cur)
        return 0;
    if (sim_cursor_decode(r->uid, c, cur, offset) != 0) {
        sim_error(r, VN_APPLE_INVALID_CURSOR);
        return -1;
    }
    return sim_req_version_fault(r, c);
}

/* Answer a cursor page: rows has up to limit+1 entries; the extra one means "more". */
static void cursor_page(struct sim_req *r, enum sim_coll c, const char *key, json_t *rows,
                        int64_t offset)
{
    int64_t limit = r->ctx->cfg->page_size;
    json_t *out;
    char ver[37];
    int rc;

    if ((rc = sim_version_current(r->ctx->db, r->uid, c, ver))) {
        json_decref(rows);
        sim_fail_state(r, rc);
        return;
    }
    out = json_object();
    if ((int64_t)json_array_size(rows) > limit) {
        char cur[200];
        json_array_remove(rows, (size_t)limit);
        sim_cursor_encode(r->uid, c, offset + limit, cur, sizeof(cur));
        json_object_set_new(out, "nextCursor", json_string(cur));
    }
    json_object_set_new(out, key, rows);
    json_object_set_new(out, "versionId", json_string(ver));
    sim_ok(r, out);
}

void api_subs_get(struct sim_req *r)
{
    char *parents = NULL, *adams = NULL;
    json_t *rows = NULL;
    int64_t offset;
    int rc;

    if (id_list(r, "parentAdamId", &parents) == 0 && id_list(r, "adamId", &adams) == 0 &&
        read_cursor(r, COLL_SUBSCRIPTIONS, &offset) == 0) {
        if ((rc = sim_subs_list(r->ctx, r->uid, parents, adams, r->ctx->cfg->page_size + 1, offset,
                                &rows)))
            sim_fail_state(r, rc);
        else
            cursor_page(r, COLL_SUBSCRIPTIONS, "subscriptions", rows, offset);
    }
    free(parents);
    free(adams);
}

void api_subs_assignments_get(struct sim_req *r)
{
    char *parents = NULL, *adams = NULL, *users = NULL;
    json_t *rows = NULL, *ul;
    int64_t offset;
    int rc;

    if (id_list(r, "parentAdamId", &parents) == 0 && id_list(r, "adamId", &adams) == 0 &&
        read_cursor(r, COLL_SUB_ASSIGNMENTS, &offset) == 0) {
        ul = sim_arg_list(r, "clientUserId");
        if (json_array_size(ul))
            users = json_dumps(ul, JSON_COMPACT);
        json_decref(ul);
        if ((rc = sim_sub_assignments_list(r->ctx, r->uid, parents, adams, users,
                                           r->ctx->cfg->page_size + 1, offset, &rows)))
            sim_fail_state(r, rc);
        else
            cursor_page(r, COLL_SUB_ASSIGNMENTS, "assignments", rows, offset);
    }
    free(parents);
    free(adams);
    free(users);
}

void api_subs_admins_get(struct sim_req *r)
{
    char *adams = NULL;
    json_t *rows = NULL;
    int64_t offset;
    int state = 0, rc;

    if (id_list(r, "adamId", &adams) == 0 && sim_arg_bool(r, "includeUserState", &state) >= 0 &&
        read_cursor(r, COLL_ADMINS, &offset) == 0) {
        if ((rc = sim_sub_admins_list(r->ctx, r->uid, adams, state, r->ctx->cfg->page_size + 1,
                                      offset, &rows)))
            sim_fail_state(r, rc);
        else
            cursor_page(r, COLL_ADMINS, "admins", rows, offset);
    }
    free(adams);
}

/* ---- associate, disassociate, admins ----------------------------------------------------- */

/* Append v to *list (created on first use) unless it is there already. */
static void add_unique(json_t **list, json_t *v)
{
    size_t i;
    json_t *e;

    if (!*list)
        *list = json_array();
    json_array_foreach(*list, i, e)
    {
        if (json_equal(e, v))
            return;
    }
    json_array_append(*list, v);
}

/* The adamIds of a request: integers, distinct (9811), subscriptions of the location (9813).
 * 0, or -1 answered. */
static int check_adams(struct sim_req *r, const json_t *a)
{
    json_t *seen = json_object(), *v, *bad = NULL;
    size_t i;
    int rc = 0;

    json_array_foreach(a, i, v)
    {
        char k[32];
        int yes = 0;
        if (!json_is_integer(v) || json_integer_value(v) <= 0) {
            sim_error(r, VN_APPLE_INVALID_ADAM_ID);
            rc = -1;
            break;
        }
        snprintf(k, sizeof(k), "%lld", (long long)json_integer_value(v));
        if (json_object_get(seen, k)) {
            sim_error(r, VN_APPLE_INVALID_SUBSCRIPTION_REQUEST);
            rc = -1;
            break;
        }
        json_object_set_new(seen, k, json_true());
        if ((rc = sim_sub_exists(r->ctx, r->uid, (int64_t)json_integer_value(v), &yes))) {
            sim_fail_state(r, rc);
            rc = -1;
            break;
        }
        if (!yes) {
            json_t *x = json_pack("{s:s}", "adamId", k);
            add_unique(&bad, x);
            json_decref(x);
        }
    }
    json_decref(seen);
    if (rc == 0 && bad) {
        sim_error_info(r, VN_APPLE_INVALID_ADAM_ID, json_pack("{s:O}", "assets", bad), NULL);
        rc = -1;
    }
    json_decref(bad);
    return rc;
}

/* Validate {adamIds, clientUserIds} of a subscription request: 0, or -1 answered. Checks the
 * ids exist (9813) and each user is an associated registered user (9814). */
static int read_sub_request(struct sim_req *r, json_t **adams, json_t **users)
{
    struct sim_limits *l = r->ctx->limits;
    json_t *a = json_object_get(r->json, "adamIds"), *u = json_object_get(r->json, "clientUserIds");
    json_t *v, *bad = NULL;
    size_t i;
    int rc;

    if (!json_is_array(a) || !json_array_size(a) || !json_is_array(u) || !json_array_size(u) ||
        !sim_strings_ok(u)) {
        sim_error(r, VN_APPLE_INVALID_SUBSCRIPTION_REQUEST);
        return -1;
    }
    if ((long long)json_array_size(a) > sim_limit(l, LIM_MAX_SUBSCRIPTIONS) ||
        (long long)json_array_size(u) > sim_limit(l, LIM_MAX_SUBSCRIPTION_CLIENT_USER_IDS)) {
        sim_error(r, VN_APPLE_TOO_MANY_SUBSCRIPTIONS);
        return -1;
    }
    if (check_adams(r, a) < 0)
        return -1;
    if (sim_strings_dup(u)) {
        sim_error(r, VN_APPLE_INVALID_SUBSCRIPTION_REQUEST);
        return -1;
    }
    json_array_foreach(u, i, v)
    {
        int yes = 0;
        if ((rc = sim_user_associated(r->ctx, r->uid, json_string_value(v), &yes))) {
            json_decref(bad);
            sim_fail_state(r, rc);
            return -1;
        }
        if (!yes)
            add_unique(&bad, v);
    }
    if (bad) {
        sim_error_info(r, VN_APPLE_NO_ASSOCIATED_USER, json_pack("{s:o}", "clientUserIds", bad),
                       NULL);
        return -1;
    }
    *adams = a;
    *users = u;
    return 0;
}

/* Seats the request cannot change: held through group membership (9817), or, for a
 * disassociation, not held at all (9815). 0, or -1 answered. */
static int check_seats(struct sim_req *r, int assoc, json_t *adams, json_t *users)
{
    json_t *group = NULL, *missing = NULL, *a, *u;
    size_t i, j;
    int rc = 0;

    json_array_foreach(adams, i, a)
    {
        json_array_foreach(users, j, u)
        {
            int exists = 0, via_group = 0;
            if ((rc = sim_sub_assignment(r->ctx, r->uid, (int64_t)json_integer_value(a),
                                         json_string_value(u), &exists, &via_group)))
                break;
            if (exists && via_group)
                add_unique(&group, u);
            else if (!exists && !assoc)
                add_unique(&missing, u);
        }
        if (rc)
            break;
    }
    if (rc)
        sim_fail_state(r, rc);
    else if (group) /* [decision: a seat held through a group can be neither assigned again nor
                       taken away through the API] */
        sim_error_info(r, VN_APPLE_ASSIGNED_THROUGH_GROUP,
                       json_pack("{s:O}", "clientUserIds", group), NULL);
    else if (missing)
        sim_error_info(r, VN_APPLE_USER_NOT_ASSIGNED, json_pack("{s:O}", "clientUserIds", missing),
                       NULL);
    json_decref(group);
    json_decref(missing);
    return rc || group || missing ? -1 : 0;
}

void api_subs_manage(struct sim_req *r)
{
    int assoc = !strcmp(strrchr(r->path, '/') + 1, "associate"), on = 0, rc;
    json_t *adams, *users, *flag, *req;
    char id[37];

    if ((rc = sim_loc_subs_enabled(r->ctx->db, r->uid, &on))) {
        sim_fail_state(r, rc);
        return;
    }
    if (!on) {
        sim_error_info(r, VN_APPLE_INVALID_SUBSCRIPTION_REQUEST, NULL,
                       "The subscription association request is invalid: subscription"
                       " management is not enabled.");
        return;
    }
    flag = json_object_get(r->json, assoc ? "renewing" : "deferred");
    if (flag && !json_is_boolean(flag) && !json_is_null(flag)) {
        sim_error(r, VN_APPLE_INVALID_SUBSCRIPTION_REQUEST);
        return;
    }
    if (read_sub_request(r, &adams, &users) < 0 || check_seats(r, assoc, adams, users) < 0)
        return;
    req = json_pack("{s:O, s:O, s:b}", "adamIds", adams, "clientUserIds", users,
                    assoc ? "renewing" : "deferred",
                    assoc ? (json_is_boolean(flag) ? json_is_true(flag) : 1) : json_is_true(flag));
    if ((rc =
             sim_event_create(r->ctx, r->uid, "subscriptions", assoc ? "ASSOCIATE" : "DISASSOCIATE",
                              (int64_t)(json_array_size(adams) * json_array_size(users)), req, id)))
        sim_fail_state(r, rc);
    else
        sim_ok(r, json_pack("{s:s}", "eventId", id));
    json_decref(req);
}

void api_subs_admins_manage(struct sim_req *r)
{
    int add = !strcmp(strrchr(r->path, '/') + 1, "add"), rc;
    json_t *adams, *users;
    char ver[37];

    if (read_sub_request(r, &adams, &users) < 0)
        return;
    if ((rc = sim_subs_admins_change(r->ctx, r->uid, add, adams, users)) ||
        (rc = sim_version_current(r->ctx->db, r->uid, COLL_ADMINS, ver))) {
        sim_fail_state(r, rc);
        return;
    }
    sim_ok(r, json_pack("{s:s}", "versionId", ver));
}
