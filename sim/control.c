/*
 * control.c - see control.h.
 */
#include "control.h"

#include "assets.h"
#include "ctx.h"
#include "engine.h"
#include "events.h"
#include "faults.h"
#include "limits.h"
#include "location.h"
#include "outbox.h"
#include "reqlog.h"
#include "req.h"
#include "state.h"
#include "subs.h"
#include "users.h"

#include "vppnotify/error.h"
#include "vppnotify/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str_or(const json_t *o, const char *k, const char *def)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : def;
}

/* 1 if uid names a location; otherwise answers 404 (or 500) and returns 0. */
static int location_ok(struct sim_req *r, const char *uid)
{
    int yes = 0, rc = sim_loc_exists(r->ctx->db, uid, &yes);

    if (rc)
        sim_fail_state(r, rc);
    else if (!yes)
        sim_fail(r, 404, "unknown uId '%s'", uid ? uid : "(missing)");
    return rc == 0 && yes;
}

/* Answer a domain call's result: rc 0 with out, VN_EPARSE/VN_EDUP/VN_ENOTFOUND with err's
 * message (400/409/404), anything else 500. */
static void answer(struct sim_req *r, int rc, json_t *out, const struct vn_error *err)
{
    if (rc == 0)
        sim_ok(r, out);
    else if (rc == VN_EPARSE)
        sim_fail(r, 400, "%s", err->msg);
    else if (rc == VN_EDUP)
        sim_fail(r, 409, "%s", err->msg);
    else if (rc == VN_ENOTFOUND && err->msg[0])
        sim_fail(r, 404, "%s", err->msg);
    else
        sim_fail_state(r, rc);
}

static void c_locations(struct sim_req *r)
{
    struct vn_error err = {0};
    json_t *out = NULL;
    int rc;

    if (!strcmp(r->method, "GET")) {
        rc = sim_loc_list(r->ctx->db, &out);
        answer(r, rc, rc ? NULL : json_pack("{s:o}", "locations", out), &err);
        return;
    }
    rc = sim_loc_create(r->ctx->db, r->ctx->rng, r->json, &out, &err);
    answer(r, rc, out, &err);
}

static void c_token(struct sim_req *r)
{
    const char *uid = str_or(r->json, "uId", NULL), *action = str_or(r->json, "action", "");
    struct vn_error err = {0};
    json_t *out;
    int rc;

    if (!location_ok(r, uid))
        return;
    out = json_pack("{s:s, s:s}", "uId", uid, "action", action);
    rc = sim_token_act(r->ctx->db, r->ctx->rng, uid, action, out, &err);
    if (rc)
        json_decref(out);
    answer(r, rc, rc ? NULL : out, &err);
}

static void c_seed(struct sim_req *r)
{
    struct vn_error err = {0};
    json_t *out = NULL;
    int rc = sim_state_seed(r->ctx, r->json, &out, &err);

    answer(r, rc, out, &err);
}

static void c_purchase(struct sim_req *r)
{
    const char *op = strrchr(r->path, '/') + 1;
    const char *uid = str_or(r->json, "uId", NULL), *to = str_or(r->json, "toUId", NULL);
    const char *pp = str_or(r->json, "pricingParam", "STDQ");
    json_t *a = json_object_get(r->json, "adamId"), *cnt = json_object_get(r->json, "count");
    char adam[32], why[256] = "";
    int64_t n;
    int rc;

    if (!location_ok(r, uid) || (!strcmp(op, "transfer") && !location_ok(r, to)))
        return;
    if (json_is_string(a) && json_string_length(a) > 0 &&
        vn_is_digits(json_string_value(a), json_string_length(a)) &&
        json_string_length(a) < sizeof(adam))
        vn_strlcpy(adam, json_string_value(a), sizeof(adam));
    else if (json_is_integer(a) && json_integer_value(a) > 0)
        snprintf(adam, sizeof(adam), "%lld", (long long)json_integer_value(a));
    else {
        sim_fail(r, 400, "adamId must be a string of digits");
        return;
    }
    if (!json_is_integer(cnt) || json_integer_value(cnt) <= 0 ||
        json_integer_value(cnt) > 1000000 || (strcmp(pp, "STDQ") && strcmp(pp, "PLUS"))) {
        sim_fail(r, 400, "count must be 1..1000000 and pricingParam STDQ or PLUS");
        return;
    }
    n = (int64_t)json_integer_value(cnt);
    rc = sim_assets_purchase(r->ctx, op, uid, to, adam, pp, n, r->json, why, sizeof(why));
    if (rc == VN_ECONFLICT)
        sim_fail(r, 409, "%s", why);
    else if (rc)
        sim_fail_state(r, rc);
    else
        sim_ok(r, json_pack("{s:s, s:s, s:s, s:I}", "uId", uid, "adamId", adam, "pricingParam", pp,
                            "countDelta", (json_int_t)(!strcmp(op, "purchase") ? n : -n)));
}

static void c_users_accept(struct sim_req *r)
{
    const char *uid = str_or(r->json, "uId", NULL);
    json_t *ids = json_object_get(r->json, "clientUserIds"), *accepted = NULL, *skipped = NULL;
    int rc;

    if (!location_ok(r, uid))
        return;
    if (!json_is_array(ids) || !json_array_size(ids) || !sim_strings_ok(ids)) {
        sim_fail(r, 400, "clientUserIds must be a non-empty array of strings");
        return;
    }
    if ((rc = sim_users_accept(r->ctx, uid, ids, &accepted, &skipped)))
        sim_fail_state(r, rc);
    else
        sim_ok(r, json_pack("{s:o, s:o}", "associatedUsers", accepted, "skipped", skipped));
}

static void c_subs_purchase(struct sim_req *r)
{
    const char *uid = str_or(r->json, "uId", NULL);
    json_t *adam = json_object_get(r->json, "adamId"),
           *parent = json_object_get(r->json, "parentAdamId");
    json_t *ren = json_object_get(r->json, "renewing"), *exp = json_object_get(r->json, "expiring");
    json_t *counts = NULL;
    int64_t parent_id;
    int on = 0, rc;

    if (!location_ok(r, uid))
        return;
    if (!json_is_integer(adam) || json_integer_value(adam) <= 0 ||
        (parent && !json_is_null(parent) && !json_is_integer(parent)) ||
        (ren && (!json_is_integer(ren) || json_integer_value(ren) < 0)) ||
        (exp && (!json_is_integer(exp) || json_integer_value(exp) < 0))) {
        sim_fail(r, 400,
                 "adamId (integer), parentAdamId (integer or null), renewing and"
                 " expiring (non-negative integers) expected");
        return;
    }
    if ((rc = sim_loc_subs_enabled(r->ctx->db, uid, &on))) {
        sim_fail_state(r, rc);
        return;
    }
    if (!on) {
        sim_fail(r, 409,
                 "subscription management is not enabled for location %s"
                 " (POST /mdm/v2/subscriptions/enable first)",
                 uid);
        return;
    }
    parent_id = json_integer_value(parent);
    rc =
        sim_subs_purchase(r->ctx, uid, json_integer_value(adam),
                          json_is_integer(parent) ? &parent_id : NULL, json_integer_value(ren),
                          json_integer_value(exp), str_or(r->json, "periodEndDate", NULL), &counts);
    if (rc)
        sim_fail_state(r, rc);
    else
        sim_ok(r, json_pack("{s:s, s:I, s:o}", "uId", uid, "adamId",
                            (json_int_t)json_integer_value(adam), "counts", counts));
}

static void c_period_end(struct sim_req *r)
{
    const char *uid = str_or(r->json, "uId", NULL);
    json_t *adam = json_object_get(r->json, "adamId"), *out = NULL;
    int rc;

    if (!location_ok(r, uid))
        return;
    if (adam && !json_is_integer(adam)) {
        sim_fail(r, 400, "adamId must be an integer");
        return;
    }
    if ((rc = sim_events_period_end(r->ctx, uid, adam ? json_integer_value(adam) : 0, &out)))
        sim_fail_state(r, rc);
    else
        sim_ok(r, json_pack("{s:s, s:o}", "uId", uid, "subscriptions", out));
}

static void c_faults(struct sim_req *r)
{
    struct vn_error err = {0};

    if (!strcmp(r->method, "POST") && sim_faults_update(r->ctx->faults, r->json, &err) != 0) {
        sim_fail(r, 400, "%s", err.msg);
        return;
    }
    sim_ok(r, sim_faults_json(r->ctx->faults));
}

static void c_deliveries(struct sim_req *r)
{
    long long limit = 10000, after = 0;
    struct sim_outbox_filter f = {0};
    json_t *rows = NULL;
    int rc;

    if (sim_arg_int(r, "limit", 1, 100000, &limit) < 0 ||
        sim_arg_int(r, "afterId", 0, INT64_MAX, &after) < 0)
        return;
    f.uid = sim_arg(r, "uId");
    f.event_id = sim_arg(r, "eventId");
    f.notification_id = sim_arg(r, "notificationId");
    f.type = sim_arg(r, "type");
    f.after_id = after;
    f.limit = limit;
    if ((rc = sim_outbox_deliveries(r->ctx, &f, &rows)))
        sim_fail_state(r, rc);
    else
        sim_ok(r, json_pack("{s:o}", "deliveries", rows));
}

static void c_notifications_get(struct sim_req *r)
{
    long long limit = 10000;
    struct sim_outbox_filter f = {0};
    json_t *rows = NULL;
    int rc;

    if (sim_arg_int(r, "limit", 1, 100000, &limit) < 0)
        return;
    f.uid = sim_arg(r, "uId");
    f.event_id = sim_arg(r, "eventId");
    f.type = sim_arg(r, "type");
    f.state = sim_arg(r, "state");
    f.limit = limit;
    if ((rc = sim_outbox_notifications(r->ctx, &f, &rows)))
        sim_fail_state(r, rc);
    else
        sim_ok(r, json_pack("{s:o}", "notifications", rows));
}

static void c_notifications_inject(struct sim_req *r)
{
    const char *uid = str_or(r->json, "uId", NULL),
               *type = str_or(r->json, "notificationType", NULL);
    json_t *payload = json_object_get(r->json, "notification");
    char nid[37];
    int rc;

    if (!location_ok(r, uid))
        return;
    if (!type || !*type || !json_is_object(payload)) {
        sim_fail(r, 400, "notificationType (string) and notification (object) are required");
        return;
    }
    if ((rc = sim_notify_raw(r->ctx, uid, type, str_or(r->json, "eventId", NULL), payload,
                             json_is_true(json_object_get(r->json, "force")), nid))) {
        sim_fail_state(r, rc);
        return;
    }
    if (!nid[0]) {
        sim_fail(r, 409,
                 "location %s has no notification URL or did not subscribe to %s"
                 " (pass \"force\": true to send anyway)",
                 uid, type);
        return;
    }
    sim_ok(r, json_pack("{s:s}", "notificationId", nid));
}

static void settled(struct sim_req *r, int done, int64_t events, int64_t busy)
{
    if (done) {
        sim_ok(r, json_pack("{s:b}", "settled", 1));
        return;
    }
    sim_ok(r, json_pack("{s:b, s:I, s:I}", "settled", 0, "pendingEvents", (json_int_t)events,
                        "scheduledNotifications", (json_int_t)busy));
    r->status = 504;
}

static void c_settle(struct sim_req *r)
{
    long long timeout = 30;

    if (sim_arg_int(r, "timeout", 0, 600, &timeout) < 0)
        return;
    /* The engine answers once settled or at the deadline; the HTTP thread is free meanwhile. */
    sim_engine_wait_settled(r->ctx->engine, r, vn_now_ms() + timeout * 1000, settled);
}

static void c_state(struct sim_req *r)
{
    const char *uid = sim_arg(r, "uId");
    json_t *out = NULL;
    int rc;

    if (uid && !location_ok(r, uid))
        return;
    if ((rc = sim_state_dump(r->ctx, uid, &out)))
        sim_fail_state(r, rc);
    else
        sim_ok(r, out);
}

static void c_requests(struct sim_req *r)
{
    int reset = !strcmp(r->method, "POST") && json_is_true(json_object_get(r->json, "reset"));

    sim_ok(r, sim_reqlog_counters(r->ctx->reqlog, reset));
}

static void c_request_log(struct sim_req *r)
{
    long long limit = 100000, after = 0;

    if (sim_arg_int(r, "limit", 1, 1000000, &limit) < 0 ||
        sim_arg_int(r, "afterId", 0, INT64_MAX, &after) < 0)
        return;
    sim_ok(r, sim_reqlog_entries(r->ctx->reqlog, sim_arg(r, "uId"), after, (size_t)limit));
}

static void c_limits(struct sim_req *r)
{
    struct vn_error err = {0};

    if (!strcmp(r->method, "POST") && sim_limits_update(r->ctx->limits, r->json, &err) != 0) {
        sim_fail(r, 400, "%s", err.msg);
        return;
    }
    sim_ok(r, sim_limits_json(r->ctx->limits));
}

static void c_processing(struct sim_req *r)
{
    json_t *p = json_object_get(r->json, "paused");
    int settles, tests;

    if (!strcmp(r->method, "POST")) {
        if (!json_is_boolean(p)) {
            sim_fail(r, 400, "paused must be true or false");
            return;
        }
        sim_engine_set_paused(r->ctx->engine, json_is_true(p));
    }
    sim_engine_waiting(r->ctx->engine, &settles, &tests);
    sim_ok(r, json_pack("{s:b, s:{s:i, s:i}}", "paused", sim_engine_paused(r->ctx->engine),
                        "waiting", "settle", settles, "testNotifications", tests));
}

struct control_route {
    const char *path;
    const char *methods; /* "GET", "POST" or "GET POST" */
    sim_handler h;
};

static void c_index(struct sim_req *r);

static const struct control_route control_routes[] = {
    {"/_sim/", "GET", c_index},
    {"/_sim/locations", "GET POST", c_locations},
    {"/_sim/token", "POST", c_token},
    {"/_sim/seed", "POST", c_seed},
    {"/_sim/purchase", "POST", c_purchase},
    {"/_sim/refund", "POST", c_purchase},
    {"/_sim/transfer", "POST", c_purchase},
    {"/_sim/users/accept", "POST", c_users_accept},
    {"/_sim/subscriptions/purchase", "POST", c_subs_purchase},
    {"/_sim/period-end", "POST", c_period_end},
    {"/_sim/faults", "GET POST", c_faults},
    {"/_sim/deliveries", "GET", c_deliveries},
    {"/_sim/notifications", "GET", c_notifications_get},
    {"/_sim/notifications", "POST", c_notifications_inject},
    {"/_sim/settle", "GET POST", c_settle},
    {"/_sim/state", "GET", c_state},
    {"/_sim/requests", "GET POST", c_requests},
    {"/_sim/request-log", "GET", c_request_log},
    {"/_sim/limits", "GET POST", c_limits},
    {"/_sim/processing", "GET POST", c_processing},
};

static void c_index(struct sim_req *r)
{
    json_t *arr = json_array();

    for (size_t i = 0; i < sizeof(control_routes) / sizeof(control_routes[0]); i++)
        json_array_append_new(arr, json_pack("{s:s, s:s}", "path", control_routes[i].path,
                                             "methods", control_routes[i].methods));
    sim_ok(r, json_pack("{s:o, s:s}", "endpoints", arr, "docs", "docs/VPPSIM.md"));
}

void sim_control(struct sim_req *r)
{
    int path_known = 0;

    for (size_t i = 0; i < sizeof(control_routes) / sizeof(control_routes[0]); i++) {
        const struct control_route *c = &control_routes[i];
        if (strcmp(c->path, r->path) != 0)
            continue;
        path_known = 1;
        if (strstr(c->methods, r->method) &&
            (!strcmp(r->method, "GET") || !strcmp(r->method, "POST"))) {
            if (!r->json)
                r->json = json_object();
            c->h(r);
            return;
        }
    }
    if (path_known)
        sim_fail(r, 405, "method %s not allowed on %s", r->method, r->path);
    else
        sim_fail(r, 404, "no control endpoint %s (GET /_sim/ lists them)", r->path);
}
