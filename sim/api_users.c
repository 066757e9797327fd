/*
 * api_users.c - see api_users.h.
 */
#include "api_users.h"

#include "ctx.h"
#include "events.h"
#include "limits.h"
#include "location.h"
#include "req.h"
#include "users.h"

#include "vppnotify/apple_errors.h"

#include <string.h>

void api_users_get(struct sim_req *r)
{
    struct sim_user_filter f = {0};
    int64_t since = -1, count = 0;
    json_t *rows = NULL, *out;
    struct sim_page pg;
    char ver[37];
    int rc;

    f.client_user_id = sim_arg(r, "clientUserId");
    if (sim_arg_bool(r, "activeOnly", &f.active_only) < 0 ||
        sim_arg_bool(r, "retiredOnly", &f.retired_only) < 0 ||
        sim_req_since(r, COLL_USERS, &since) < 0)
        return;
    if (since >= 0)
        f.since_seq = &since;
    if (sim_page_next(r) && sim_req_version_fault(r, COLL_USERS) < 0)
        return;
    if ((rc = sim_users_count(r->ctx, r->uid, &f, &count))) {
        sim_fail_state(r, rc);
        return;
    }
    if (sim_page_setup(r, count, &pg) < 0)
        return;
    if ((rc = sim_users_list(r->ctx, r->uid, &f, pg.limit, pg.offset, &rows)) ||
        (rc = sim_version_current(r->ctx->db, r->uid, COLL_USERS, ver))) {
        json_decref(rows);
        sim_fail_state(r, rc);
        return;
    }
    out = json_object();
    sim_page_fields(out, &pg, json_array_size(rows));
    json_object_set_new(out, "users", rows);
    json_object_set_new(out, "versionId", json_string(ver));
    sim_ok(r, out);
}

/* A plausible email address: one '@', something before it, a dot in the domain, no spaces. */
static int email_ok(const char *e)
{
    const char *at = strchr(e, '@');

    if (!at || at == e || strchr(at + 1, '@') || strpbrk(e, " \t\r\n<>,;\"") || strlen(e) > 254)
        return 0;
    return strchr(at + 1, '.') && at[1] != '.' && e[strlen(e) - 1] != '.';
}

/* Check one user of a request and append its normalised form to norm: 0, or -1 answered. */
static int read_user(struct sim_req *r, const char *type, json_t *u, json_t *seen, json_t *norm)
{
    const char *cuid = json_string_value(json_object_get(u, "clientUserId"));
    json_t *email = json_object_get(u, "email"), *maid = json_object_get(u, "managedAppleId");
    int retire = !strcmp(type, "RETIRE");
    json_t *n;

    if (!json_is_object(u) || !cuid || !*cuid || strlen(cuid) > 256 ||
        (email && !json_is_null(email) && !json_is_string(email)) ||
        (maid && !json_is_null(maid) && !json_is_string(maid))) {
        sim_error_info(r, VN_APPLE_INVALID_ARGUMENT, NULL,
                       "Invalid argument: each user needs a clientUserId string.");
        return -1;
    }
    if (json_object_get(seen, cuid)) {
        sim_error_info(r, VN_APPLE_DUPLICATE_USERS, json_pack("{s:[s]}", "clientUserIds", cuid),
                       NULL);
        return -1;
    }
    json_object_set_new(seen, cuid, json_true());
    if (json_is_string(email) && !retire && !email_ok(json_string_value(email))) {
        sim_error_info(r, VN_APPLE_INVALID_EMAIL, json_pack("{s:[s]}", "clientUserIds", cuid),
                       NULL);
        return -1;
    }
    n = json_pack("{s:s}", "clientUserId", cuid);
    if (json_is_string(email) && !retire)
        json_object_set(n, "email", email);
    if (json_is_string(maid) && !retire)
        json_object_set(n, "managedAppleId", maid);
    json_array_append_new(norm, n);
    return 0;
}

void api_users_manage(struct sim_req *r)
{
    const char *op = strrchr(r->path, '/') + 1;
    const char *type = !strcmp(op, "create")   ? "CREATE"
                       : !strcmp(op, "update") ? "UPDATE"
                                               : "RETIRE";
    json_t *users = json_object_get(r->json, "users"), *norm, *seen, *u, *req;
    size_t i;
    char id[37];
    int rc;

    if (!users || json_is_null(users) || (json_is_array(users) && !json_array_size(users))) {
        sim_error(r, VN_APPLE_USERS_REQUIRED);
        return;
    }
    if (!json_is_array(users)) {
        sim_error(r, VN_APPLE_INVALID_ARGUMENT);
        return;
    }
    if ((long long)json_array_size(users) > sim_limit(r->ctx->limits, LIM_MAX_USERS)) {
        sim_error(r, VN_APPLE_TOO_MANY_USERS);
        return;
    }
    norm = json_array();
    seen = json_object();
    json_array_foreach(users, i, u)
    {
        if (read_user(r, type, u, seen, norm) < 0) {
            json_decref(norm);
            json_decref(seen);
            return;
        }
    }
    json_decref(seen);
    req = json_pack("{s:o}", "users", norm);
    if ((rc = sim_event_create(r->ctx, r->uid, "users", type, (int64_t)json_array_size(norm), req,
                               id)))
        sim_fail_state(r, rc);
    else
        sim_ok(r, json_pack("{s:s}", "eventId", id));
    json_decref(req);
}
