/*
 * api_assets.c - see api_assets.h.
 */
#include "api_assets.h"

#include "assets.h"
#include "ctx.h"
#include "events.h"
#include "limits.h"
#include "location.h"
#include "req.h"

#include "vppnotify/apple_errors.h"
#include "vppnotify/error.h"
#include "vppnotify/util.h"

#include <stdio.h>
#include <string.h>

#define UNLIMITED_COUNT 2147483647LL

/* Answer a page: versionId of coll, page fields, key = rows (taken). */
static void page_answer(struct sim_req *r, int coll, const struct sim_page *pg, const char *key,
                        json_t *rows, json_t *extra_key_value)
{
    char ver[37];
    json_t *out;
    int rc;

    if ((rc = sim_version_current(r->ctx->db, r->uid, (enum sim_coll)coll, ver))) {
        json_decref(rows);
        json_decref(extra_key_value);
        sim_fail_state(r, rc);
        return;
    }
    out = json_object();
    sim_page_fields(out, pg, json_array_size(rows));
    json_object_set_new(out, key, rows);
    if (extra_key_value)
        json_object_set_new(out, "unlimitedAssets", extra_key_value);
    json_object_set_new(out, "versionId", json_string(ver));
    sim_ok(r, out);
}

void api_assets_get(struct sim_req *r)
{
    struct sim_ctx *c = r->ctx;
    struct sim_asset_filter f = {0};
    static const char *const names[6] = {"revocable",         "deviceAssignable",
                                         "minAssignedCount",  "maxAssignedCount",
                                         "minAvailableCount", "maxAvailableCount"};
    long long v[6];
    int64_t vals[6], count = 0;
    const int64_t **dst[6] = {&f.revocable,    &f.device_assignable, &f.min_assigned,
                              &f.max_assigned, &f.min_available,     &f.max_available};
    json_t *rows = NULL, *unl = NULL;
    struct sim_page pg;
    int b, rc;

    f.adam_id = sim_arg(r, "adamId");
    f.product_type = sim_arg(r, "productType");
    f.pricing_param = sim_arg(r, "pricingParam");
    f.unlimited = -1;
    /* [decision: Apple documents no sinceVersionId for Get Assets (apple-api.md 1.5 B); vppsim
     * refuses it instead of ignoring it, so that a client relying on it finds out.] */
    if (sim_arg(r, "sinceVersionId")) {
        sim_error_info(r, VN_APPLE_INVALID_ARGUMENT, NULL,
                       "Invalid argument: sinceVersionId is not supported by Get Assets.");
        return;
    }
    for (int i = 0; i < 6; i++) {
        if (i < 2) {
            rc = sim_arg_bool(r, names[i], &b);
            v[i] = b;
        } else {
            rc = sim_arg_int(r, names[i], 0, UNLIMITED_COUNT, &v[i]);
        }
        if (rc < 0)
            return;
        vals[i] = v[i];
        if (rc > 0)
            *dst[i] = &vals[i];
    }
    if ((rc = sim_arg_bool(r, "unlimited", &b)) < 0)
        return;
    if (rc > 0)
        f.unlimited = b;
    if ((f.product_type && strcmp(f.product_type, "App") && strcmp(f.product_type, "Book")) ||
        (f.pricing_param && strcmp(f.pricing_param, "STDQ") && strcmp(f.pricing_param, "PLUS"))) {
        sim_error(r, VN_APPLE_INVALID_ARGUMENT);
        return;
    }
    if (sim_page_next(r) && sim_req_version_fault(r, COLL_ASSETS) < 0)
        return;
    if ((rc = sim_assets_count(c, r->uid, &f, &count))) {
        sim_fail_state(r, rc);
        return;
    }
    if (sim_page_setup(r, count, &pg) < 0)
        return;
    if ((rc = sim_assets_list(c, r->uid, &f, pg.limit, pg.offset, &rows)) ||
        (f.unlimited == 1 && pg.index == 0 && (rc = sim_assets_unlimited(c, r->uid, &f, &unl)))) {
        json_decref(rows);
        sim_fail_state(r, rc);
        return;
    }
    page_answer(r, COLL_ASSETS, &pg, "assets", rows, unl);
}

void api_assignments_get(struct sim_req *r)
{
    struct sim_assignment_filter f = {0};
    int64_t since = -1, count = 0;
    json_t *rows = NULL;
    struct sim_page pg;
    int rc;

    f.adam_id = sim_arg(r, "adamId");
    f.client_user_id = sim_arg(r, "clientUserId");
    f.serial_number = sim_arg(r, "serialNumber");
    f.pricing_param = sim_arg(r, "pricingParam");
    if (sim_arg_bool(r, "excludeInactiveUsers", &f.exclude_inactive) < 0 ||
        sim_arg_bool(r, "includeUserState", &f.include_user_state) < 0)
        return;
    if (f.pricing_param && strcmp(f.pricing_param, "STDQ") && strcmp(f.pricing_param, "PLUS")) {
        sim_error(r, VN_APPLE_INVALID_ARGUMENT);
        return;
    }
    if (sim_req_since(r, COLL_ASSIGNMENTS, &since) < 0)
        return;
    if (since >= 0)
        f.since_seq = &since;
    if (sim_page_next(r) && sim_req_version_fault(r, COLL_ASSIGNMENTS) < 0)
        return;
    if ((rc = sim_assignments_count(r->ctx, r->uid, &f, &count))) {
        sim_fail_state(r, rc);
        return;
    }
    if (sim_page_setup(r, count, &pg) < 0)
        return;
    if ((rc = sim_assignments_list(r->ctx, r->uid, &f, pg.limit, pg.offset, &rows))) {
        sim_fail_state(r, rc);
        return;
    }
    page_answer(r, COLL_ASSIGNMENTS, &pg, "assignments", rows, NULL);
}

/* ---- manage ------------------------------------------------------------------------------ */

/* Normalise the assets of a request into [{adamId, pricingParam}]: 0, or -1 answered. */
static int read_assets(struct sim_req *r, json_t **out)
{
    json_t *in = json_object_get(r->json, "assets"), *norm, *seen, *e;
    size_t i;

    if (!in || json_is_null(in) || (json_is_array(in) && json_array_size(in) == 0)) {
        sim_error(r, VN_APPLE_ASSETS_REQUIRED);
        return -1;
    }
    if (!json_is_array(in)) {
        sim_error(r, VN_APPLE_INVALID_ARGUMENT);
        return -1;
    }
    if ((long long)json_array_size(in) > sim_limit(r->ctx->limits, LIM_MAX_ASSETS)) {
        sim_error(r, VN_APPLE_TOO_MANY_ASSETS);
        return -1;
    }
    norm = json_array();
    seen = json_object();
    json_array_foreach(in, i, e)
    {
        json_t *a = json_object_get(e, "adamId"), *p = json_object_get(e, "pricingParam");
        char adam[32], key[48];
        const char *pp = json_string_value(p) ? json_string_value(p) : "STDQ";
        if (json_is_string(a) && json_string_length(a) > 0 &&
            vn_is_digits(json_string_value(a), json_string_length(a)) &&
            json_string_length(a) < sizeof(adam))
            vn_strlcpy(adam, json_string_value(a), sizeof(adam));
        else if (json_is_integer(a) && json_integer_value(a) > 0)
            snprintf(adam, sizeof(adam), "%lld", (long long)json_integer_value(a));
        else
            goto invalid;
        if ((p && !json_is_null(p) && !json_is_string(p)) ||
            (strcmp(pp, "STDQ") && strcmp(pp, "PLUS")))
            goto invalid;
        snprintf(key, sizeof(key), "%s|%s", adam, pp);
        if (json_object_get(seen, key)) {
            json_decref(norm);
            json_decref(seen);
            sim_error(r, VN_APPLE_DUPLICATE_ASSETS);
            return -1;
        }
        json_object_set_new(seen, key, json_true());
        json_array_append_new(norm, json_pack("{s:s, s:s}", "adamId", adam, "pricingParam", pp));
    }
    json_decref(seen);
    *out = norm;
    return 0;
invalid:
    json_decref(norm);
    json_decref(seen);
    sim_error_info(r, VN_APPLE_INVALID_ARGUMENT, NULL,
                   "Invalid argument: each asset needs an adamId and a valid pricingParam.");
    return -1;
}

/* Read clientUserIds and serialNumbers with their limits: 0, or -1 answered. */
static int read_targets(struct sim_req *r, enum sim_limit_id lu, enum sim_limit_id ls,
                        json_t **users, json_t **serials)
{
    json_t *u = json_object_get(r->json, "clientUserIds");
    json_t *sn = json_object_get(r->json, "serialNumbers");

    if (!sim_strings_ok(u) || !sim_strings_ok(sn)) {
        sim_error_info(r, VN_APPLE_INVALID_ARGUMENT, NULL,
                       "Invalid argument: clientUserIds and serialNumbers are arrays of strings.");
        return -1;
    }
    if (!json_array_size(u) && !json_array_size(sn)) {
        sim_error(r, VN_APPLE_USERS_OR_SERIALS_REQUIRED);
        return -1;
    }
    if ((long long)json_array_size(u) > sim_limit(r->ctx->limits, lu)) {
        sim_error(r, VN_APPLE_TOO_MANY_CLIENT_USER_IDS);
        return -1;
    }
    if ((long long)json_array_size(sn) > sim_limit(r->ctx->limits, ls)) {
        sim_error(r, VN_APPLE_TOO_MANY_SERIAL_NUMBERS);
        return -1;
    }
    if (json_is_array(u) && sim_strings_dup(u)) {
        sim_error(r, VN_APPLE_DUPLICATE_CLIENT_USER_IDS);
        return -1;
    }
    if (json_is_array(sn) && sim_strings_dup(sn)) {
        sim_error(r, VN_APPLE_DUPLICATE_SERIAL_NUMBERS);
        return -1;
    }
    *users = json_is_array(u) ? json_incref(u) : json_array();
    *serials = json_is_array(sn) ? json_incref(sn) : json_array();
    return 0;
}

/* Known assets that cannot take this request: 9707 (serials on an asset that is not
 * device-assignable), 9706 (disassociating a non-revocable asset). 0, or -1 answered. */
static int check_assets(struct sim_req *r, const char *type, json_t *assets, json_t *serials)
{
    json_t *bad = NULL, *a;
    int bad_number = 0;
    size_t i;

    json_array_foreach(assets, i, a)
    {
        int found, dev, rev, number = 0, rc;
        rc = sim_asset_flags(r->ctx, r->uid, json_string_value(json_object_get(a, "adamId")),
                             json_string_value(json_object_get(a, "pricingParam")), &found, &dev,
                             &rev);
        if (rc) {
            json_decref(bad);
            sim_fail_state(r, rc);
            return -1;
        }
        if (!found)
            continue;
        if (json_array_size(serials) && !dev)
            number = VN_APPLE_ASSET_NOT_DEVICE_ASSIGNABLE;
        else if (!strcmp(type, "DISASSOCIATE") && !rev)
            number = VN_APPLE_ASSET_NOT_REVOCABLE;
        if (number && (!bad_number || bad_number == number)) {
            bad_number = number;
            if (!bad)
                bad = json_array();
            json_array_append(bad, a);
        }
    }
    if (!bad)
        return 0;
    sim_error_info(r, bad_number, json_pack("{s:o}", "assets", bad), NULL);
    return -1;
}

/* numRequested of a revoke: the revocable assignments found now; an unknown user is one
 * (failing) task [decision]. */
static int revoke_tasks(struct sim_req *r, json_t *users, json_t *serials, int64_t *n)
{
    json_t *lists[2] = {users, serials}, *t;
    size_t i;
    int rc;

    *n = 0;
    for (int l = 0; l < 2; l++)
        json_array_foreach(lists[l], i, t)
        {
            int64_t k = 0;
            if ((rc = sim_assets_revocable(r->ctx, r->uid, l == 0 ? json_string_value(t) : NULL,
                                           l == 1 ? json_string_value(t) : NULL, &k)))
                return rc;
            *n += l == 0 && k == 0 ? 1 : k;
        }
    return 0;
}

void api_assets_manage(struct sim_req *r)
{
    const char *op = strrchr(r->path, '/') + 1;
    const char *type = !strcmp(op, "associate")      ? "ASSOCIATE"
                       : !strcmp(op, "disassociate") ? "DISASSOCIATE"
                                                     : "REVOKE";
    json_t *assets = NULL, *users = NULL, *serials = NULL, *req = NULL;
    int64_t requested = 0;
    char id[37];
    int rc;

    if (!strcmp(type, "REVOKE")) {
        if (read_targets(r, LIM_MAX_REVOKE_CLIENT_USER_IDS, LIM_MAX_REVOKE_SERIAL_NUMBERS, &users,
                         &serials) < 0)
            return;
        if ((rc = revoke_tasks(r, users, serials, &requested))) {
            sim_fail_state(r, rc);
            goto out;
        }
        req = json_pack("{s:O, s:O}", "clientUserIds", users, "serialNumbers", serials);
    } else {
        if (read_assets(r, &assets) < 0)
            return;
        if (read_targets(r, LIM_MAX_CLIENT_USER_IDS, LIM_MAX_SERIAL_NUMBERS, &users, &serials) <
                0 ||
            check_assets(r, type, assets, serials) < 0)
            goto out;
        requested = (int64_t)json_array_size(assets) *
                    (int64_t)(json_array_size(users) + json_array_size(serials));
        req = json_pack("{s:O, s:O, s:O}", "assets", assets, "clientUserIds", users,
                        "serialNumbers", serials);
    }
    if ((rc = sim_event_create(r->ctx, r->uid, "assets", type, requested, req, id)))
        sim_fail_state(r, rc);
    else
        sim_ok(r, json_pack("{s:s}", "eventId", id));
out:
    json_decref(req);
    json_decref(assets);
    json_decref(users);
    json_decref(serials);
}
