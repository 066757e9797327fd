/*
 * assets.c - Get Assets, Get Assignments, and assets associate / disassociate / revoke:
 * synchronous validation (limits, duplicates, required fields, 9706/9707) and the business
 * rules applied when the event is processed (licenses consumed and released, 9709, 9609).
 */
#include "sim.h"

#include "vppnotify/apple_errors.h"
#include "vppnotify/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNLIMITED_COUNT 2147483647LL

#define ASSET_COLUMNS                                                                              \
    "adam_id AS adamId, pricing_param AS pricingParam, product_type AS productType,"               \
    " assigned AS assignedCount,"                                                                  \
    " (CASE WHEN unlimited THEN 2147483647 ELSE total END) - assigned AS availableCount,"          \
    " retired AS retiredCount, CASE WHEN unlimited THEN 2147483647 ELSE total END AS totalCount,"  \
    " device_assignable AS \"b:deviceAssignable\", revocable AS \"b:revocable\","                  \
    " platforms AS \"j:supportedPlatforms\""

#define ASSET_WHERE                                                                                \
    " FROM assets WHERE uid = ?1 AND (?2 IS NULL OR adam_id = ?2)"                                 \
    " AND (?3 IS NULL OR product_type = ?3) AND (?4 IS NULL OR pricing_param = ?4)"                \
    " AND (?5 IS NULL OR revocable = ?5) AND (?6 IS NULL OR device_assignable = ?6)"               \
    " AND (?7 IS NULL OR assigned >= ?7) AND (?8 IS NULL OR assigned <= ?8)"                       \
    " AND (?9 IS NULL OR (CASE WHEN unlimited THEN 2147483647 ELSE total END) - assigned >= ?9)"   \
    " AND (?10 IS NULL OR (CASE WHEN unlimited THEN 2147483647 ELSE total END) - assigned <= ?10)" \
    " AND (?11 IS NULL OR unlimited = ?11)"

void api_assets_get(struct sim_req *r)
{
    struct sim *s = r->sim;
    const char *adam = sim_arg(r, "adamId"), *ptype = sim_arg(r, "productType"),
               *pp = sim_arg(r, "pricingParam");
    long long v[6], unl_filter = 0;
    const long long *pv[6] = {NULL};
    int b, rc, unlimited = -1;
    static const char *const names[6] = {"revocable",         "deviceAssignable",
                                         "minAssignedCount",  "maxAssignedCount",
                                         "minAvailableCount", "maxAvailableCount"};
    struct sim_page pg;
    int64_t count;
    json_t *assets, *out;
    char ver[37];

    for (int i = 0; i < 6; i++) {
        if (i < 2) {
            rc = sim_arg_bool(r, names[i], &b);
            v[i] = b;
        } else {
            rc = sim_arg_int(r, names[i], 0, UNLIMITED_COUNT, &v[i]);
        }
        if (rc < 0)
            return;
        if (rc > 0)
            pv[i] = &v[i];
    }
    if ((rc = sim_arg_bool(r, "unlimited", &b)) < 0)
        return;
    if (rc > 0)
        unlimited = b;
    if ((ptype && strcmp(ptype, "App") && strcmp(ptype, "Book")) ||
        (pp && strcmp(pp, "STDQ") && strcmp(pp, "PLUS"))) {
        sim_error(r, VN_APPLE_INVALID_ARGUMENT);
        return;
    }
    if (sim_arg(r, "pageIndex") && strcmp(sim_arg(r, "pageIndex"), "0") &&
        sim_faults_version_change(s))
        sim_state_perturb(s, r->uid, COLL_ASSETS);
    count = sim_query_int(s, 0, "SELECT COUNT(*)" ASSET_WHERE,
                          "ttttoooooo"
                          "o",
                          r->uid, adam, ptype, pp, pv[0], pv[1], pv[2], pv[3], pv[4], pv[5],
                          unlimited >= 0 ? &unl_filter : NULL);
    if (sim_page_setup(r, count, &pg) < 0)
        return;
    assets = sim_query_json(s,
                            "SELECT " ASSET_COLUMNS ASSET_WHERE
                            " ORDER BY adam_id, pricing_param LIMIT ?12 OFFSET ?13",
                            "ttttoooooooii", r->uid, adam, ptype, pp, pv[0], pv[1], pv[2], pv[3],
                            pv[4], pv[5], unlimited >= 0 ? &unl_filter : NULL, pg.limit, pg.offset);
    if (!assets) {
        sim_error(r, VN_APPLE_INTERNAL_ERROR);
        return;
    }
    sim_version_current(s, r->uid, COLL_ASSETS, ver);
    out = json_object();
    sim_page_fields(out, &pg, json_array_size(assets));
    json_object_set_new(out, "assets", assets);
    if (unlimited == 1 && pg.index == 0) {
        long long one = 1;
        json_t *u = sim_query_json(
            s,
            "SELECT adam_id AS adamId, pricing_param AS pricingParam,"
            " product_type AS productType, assigned AS assignedCount,"
            " device_assignable AS \"b:deviceAssignable\", revocable AS \"b:revocable\","
            " platforms AS \"j:supportedPlatforms\"" ASSET_WHERE " ORDER BY adam_id, pricing_param",
            "ttttooooooo", r->uid, adam, ptype, pp, pv[0], pv[1], pv[2], pv[3], NULL, NULL, &one);
        json_object_set_new(out, "unlimitedAssets", u ? u : json_array());
    }
    json_object_set_new(out, "versionId", json_string(ver));
    sim_ok(r, out);
}

#define ASSIGNMENT_WHERE                                                                           \
    " FROM assignments a WHERE a.uid = ?1 AND (?2 IS NULL OR a.adam_id = ?2)"                      \
    " AND (?3 IS NULL OR a.client_user_id = ?3) AND (?4 IS NULL OR a.serial_number = ?4)"          \
    " AND (?5 IS NULL OR a.pricing_param = ?5) AND (?6 IS NULL OR a.seq > ?6)"                     \
    " AND (?7 = 0 OR a.client_user_id IS NULL OR EXISTS(SELECT 1 FROM users u"                     \
    " WHERE u.uid = a.uid AND u.client_user_id = a.client_user_id AND u.status <> 'Retired'))"

#define USER_OF_ASSIGNMENT(col)                                                                    \
    "(SELECT " col " FROM users u WHERE u.uid = a.uid AND u.client_user_id = a.client_user_id"     \
    " ORDER BY u.status <> 'Retired' DESC, u.id DESC LIMIT 1)"

void api_assignments_get(struct sim_req *r)
{
    struct sim *s = r->sim;
    const char *adam = sim_arg(r, "adamId"), *cuid = sim_arg(r, "clientUserId"),
               *sn = sim_arg(r, "serialNumber"), *pp = sim_arg(r, "pricingParam");
    int excl = 0, incl = 0;
    long long since;
    struct sim_page pg;
    int64_t count;
    json_t *rows, *out;
    char ver[37];

    if (sim_arg_bool(r, "excludeInactiveUsers", &excl) < 0 ||
        sim_arg_bool(r, "includeUserState", &incl) < 0)
        return;
    if (pp && strcmp(pp, "STDQ") && strcmp(pp, "PLUS")) {
        sim_error(r, VN_APPLE_INVALID_ARGUMENT);
        return;
    }
    if (sim_since(r, COLL_ASSIGNMENTS, &since) < 0)
        return;
    if (sim_arg(r, "pageIndex") && strcmp(sim_arg(r, "pageIndex"), "0") &&
        sim_faults_version_change(s))
        sim_state_perturb(s, r->uid, COLL_ASSIGNMENTS);
    count = sim_query_int(s, 0, "SELECT COUNT(*)" ASSIGNMENT_WHERE, "tttttoi", r->uid, adam, cuid,
                          sn, pp, since >= 0 ? &since : NULL, (int64_t)excl);
    if (sim_page_setup(r, count, &pg) < 0)
        return;
    rows = sim_query_json(
        s,
        "SELECT a.adam_id AS adamId, a.pricing_param AS pricingParam,"
        " a.client_user_id AS clientUserId, a.serial_number AS serialNumber,"
        " CASE WHEN ?8 AND a.client_user_id IS NOT NULL THEN " USER_OF_ASSIGNMENT(
            "status") " END AS userStatus,"
                      " CASE WHEN ?8 AND a.client_user_id IS NOT NULL THEN " USER_OF_ASSIGNMENT(
                          "id_hash") " END AS idHash" ASSIGNMENT_WHERE
                                     " ORDER BY a.id LIMIT ?9 OFFSET ?10",
        "tttttoiiii", r->uid, adam, cuid, sn, pp, since >= 0 ? &since : NULL, (int64_t)excl,
        (int64_t)incl, pg.limit, pg.offset);
    if (!rows) {
        sim_error(r, VN_APPLE_INTERNAL_ERROR);
        return;
    }
    sim_version_current(s, r->uid, COLL_ASSIGNMENTS, ver);
    out = json_object();
    sim_page_fields(out, &pg, json_array_size(rows));
    json_object_set_new(out, "assignments", rows);
    json_object_set_new(out, "versionId", json_string(ver));
    sim_ok(r, out);
}

/* ---------------------------------------------------------------------------------------- */

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
    if ((long long)json_array_size(in) > sim_limit(r->sim, LIM_MAX_ASSETS)) {
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
        if (json_is_string(a) && vn_is_digits(json_string_value(a), json_string_length(a)) &&
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
    if ((long long)json_array_size(u) > sim_limit(r->sim, lu)) {
        sim_error(r, VN_APPLE_TOO_MANY_CLIENT_USER_IDS);
        return -1;
    }
    if ((long long)json_array_size(sn) > sim_limit(r->sim, ls)) {
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

void api_assets_manage(struct sim_req *r)
{
    struct sim *s = r->sim;
    const char *op = strrchr(r->path, '/') + 1;
    const char *type = !strcmp(op, "associate")      ? "ASSOCIATE"
                       : !strcmp(op, "disassociate") ? "DISASSOCIATE"
                                                     : "REVOKE";
    json_t *assets = NULL, *users = NULL, *serials = NULL, *req;
    int64_t requested;
    char id[37];
    size_t i;
    json_t *a;

    if (!strcmp(type, "REVOKE")) {
        if (read_targets(r, LIM_MAX_REVOKE_CLIENT_USER_IDS, LIM_MAX_REVOKE_SERIAL_NUMBERS, &users,
                         &serials) < 0)
            return;
        requested = 0;
        json_array_foreach(users, i, a)
        {
            int64_t n = sim_query_int(
                s, 0,
                "SELECT COUNT(*) FROM assignments x JOIN assets y ON y.uid = x.uid AND"
                " y.adam_id = x.adam_id AND y.pricing_param = x.pricing_param"
                " WHERE x.uid = ? AND x.client_user_id = ? AND y.revocable = 1",
                "tt", r->uid, json_string_value(a));
            requested += n ? n : 1; /* an unknown user is one (failing) task */
        }
        json_array_foreach(serials, i, a)
        {
            requested += sim_query_int(
                s, 0,
                "SELECT COUNT(*) FROM assignments x JOIN assets y ON y.uid = x.uid AND"
                " y.adam_id = x.adam_id AND y.pricing_param = x.pricing_param"
                " WHERE x.uid = ? AND x.serial_number = ? AND y.revocable = 1",
                "tt", r->uid, json_string_value(a));
        }
        req = json_pack("{s:o, s:o}", "clientUserIds", users, "serialNumbers", serials);
    } else {
        json_t *bad = NULL;
        int bad_number = 0;
        if (read_assets(r, &assets) < 0)
            return;
        if (read_targets(r, LIM_MAX_CLIENT_USER_IDS, LIM_MAX_SERIAL_NUMBERS, &users, &serials) <
            0) {
            json_decref(assets);
            return;
        }
        /* Known assets that cannot take this request: 9707 (serials on an asset that is not
         * device-assignable), 9706 (disassociating a non-revocable asset). */
        json_array_foreach(assets, i, a)
        {
            sqlite3_stmt *st = sim_stmt(s, "SELECT device_assignable, revocable FROM assets"
                                           " WHERE uid = ? AND adam_id = ? AND pricing_param = ?");
            int dev, rev, number = 0;
            sqlite3_bind_text(st, 1, r->uid, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 2, json_string_value(json_object_get(a, "adamId")), -1,
                              SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 3, json_string_value(json_object_get(a, "pricingParam")), -1,
                              SQLITE_TRANSIENT);
            if (sqlite3_step(st) != SQLITE_ROW) {
                sqlite3_reset(st);
                continue;
            }
            dev = sqlite3_column_int(st, 0);
            rev = sqlite3_column_int(st, 1);
            sqlite3_reset(st);
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
        if (bad) {
            json_decref(assets);
            json_decref(users);
            json_decref(serials);
            sim_error_info(r, bad_number, json_pack("{s:o}", "assets", bad), NULL);
            return;
        }
        requested = (int64_t)json_array_size(assets) *
                    (int64_t)(json_array_size(users) + json_array_size(serials));
        req = json_pack("{s:o, s:o, s:o}", "assets", assets, "clientUserIds", users,
                        "serialNumbers", serials);
    }
    if (sim_event_create(s, r->uid, "assets", type, requested, req, id) != 0) {
        json_decref(req);
        sim_error(r, VN_APPLE_INTERNAL_ERROR);
        return;
    }
    json_decref(req);
    sim_ok(r, json_pack("{s:s}", "eventId", id));
}

/* ---------------------------------------------------------------------------------------- */

static json_t *item(const char *adam, const char *pp, const char *cuid, const char *sn)
{
    json_t *o = json_object();

    if (adam)
        json_object_set_new(o, "adamId", json_string(adam));
    if (pp)
        json_object_set_new(o, "pricingParam", json_string(pp));
    if (cuid)
        json_object_set_new(o, "clientUserId", json_string(cuid));
    if (sn)
        json_object_set_new(o, "serialNumber", json_string(sn));
    return o;
}

static int user_known(struct sim *s, const char *uid, const char *cuid, int active_only)
{
    return sim_query_int(s, 0,
                         "SELECT COUNT(*) FROM users WHERE uid = ? AND client_user_id = ?"
                         " AND (? = 0 OR status <> 'Retired')",
                         "tti", uid, cuid, (int64_t)active_only) > 0;
}

static int assignment_exists(struct sim *s, const char *uid, const char *adam, const char *pp,
                             const char *cuid, const char *sn)
{
    return sim_query_int(s, 0,
                         "SELECT COUNT(*) FROM assignments WHERE uid = ? AND adam_id = ? AND"
                         " pricing_param = ? AND (client_user_id = ? OR serial_number = ?)",
                         "ttttt", uid, adam, pp, cuid, sn) > 0;
}

/* Associate or disassociate one (asset, user | serial) task. */
static void one_task(struct sim *s, struct sim_write *w, int associate, const char *adam,
                     const char *pp, const char *cuid, const char *sn, struct sim_outcome *o)
{
    const char *uid = w->uid;
    sqlite3_stmt *st = sim_stmt(s, "SELECT total, assigned, unlimited, device_assignable,"
                                   " revocable FROM assets WHERE uid = ? AND adam_id = ? AND"
                                   " pricing_param = ?");
    int found, unlimited = 0, dev = 0, rev = 0;
    int64_t total = 0, assigned = 0;

    sqlite3_bind_text(st, 1, uid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, adam, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, pp, -1, SQLITE_TRANSIENT);
    found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        total = sqlite3_column_int64(st, 0);
        assigned = sqlite3_column_int64(st, 1);
        unlimited = sqlite3_column_int(st, 2);
        dev = sqlite3_column_int(st, 3);
        rev = sqlite3_column_int(st, 4);
    }
    sqlite3_reset(st);

    if (associate) {
        if (cuid && !user_known(s, uid, cuid, 1)) {
            sim_outcome_fail(o, VN_APPLE_USER_NOT_FOUND, item(adam, pp, cuid, sn), adam, pp, cuid,
                             sn);
            return;
        }
        if (found && sn && !dev) {
            sim_outcome_fail(o, VN_APPLE_ASSET_NOT_DEVICE_ASSIGNABLE, item(adam, pp, cuid, sn),
                             adam, pp, cuid, sn);
            return;
        }
        if (found && assignment_exists(s, uid, adam, pp, cuid, sn)) {
            sim_outcome_ok(o, item(adam, pp, cuid, sn));
            return;
        }
        if (!found || (!unlimited && total - assigned <= 0)) {
            sim_outcome_fail(o, VN_APPLE_NOT_ENOUGH_LICENSES, item(adam, pp, cuid, sn), adam, pp,
                             cuid, sn);
            return;
        }
        sim_exec(s,
                 "INSERT INTO assignments(uid, adam_id, pricing_param, client_user_id,"
                 " serial_number, seq) VALUES(?, ?, ?, ?, ?, ?)",
                 "ttttti", uid, adam, pp, cuid, sn, w->seq);
        sim_exec(s,
                 "UPDATE assets SET assigned = assigned + 1, seq = ? WHERE uid = ? AND"
                 " adam_id = ? AND pricing_param = ?",
                 "ittt", w->seq, uid, adam, pp);
        sim_write_touch(w, COLL_ASSETS);
        sim_write_touch(w, COLL_ASSIGNMENTS);
        sim_outcome_ok(o, item(adam, pp, cuid, sn));
        return;
    }
    /* Disassociate. */
    if (found && !rev) {
        sim_outcome_fail(o, VN_APPLE_ASSET_NOT_REVOCABLE, item(adam, pp, cuid, sn), adam, pp, cuid,
                         sn);
        return;
    }
    if (found && assignment_exists(s, uid, adam, pp, cuid, sn)) {
        sim_exec(s,
                 "DELETE FROM assignments WHERE uid = ? AND adam_id = ? AND pricing_param = ?"
                 " AND (client_user_id = ? OR serial_number = ?)",
                 "ttttt", uid, adam, pp, cuid, sn);
        sim_exec(s,
                 "UPDATE assets SET assigned = assigned - 1, seq = ? WHERE uid = ? AND"
                 " adam_id = ? AND pricing_param = ?",
                 "ittt", w->seq, uid, adam, pp);
        sim_write_touch(w, COLL_ASSETS);
        sim_write_touch(w, COLL_ASSIGNMENTS);
        sim_outcome_ok(o, item(adam, pp, cuid, sn));
        return;
    }
    if (cuid && !user_known(s, uid, cuid, 0)) {
        sim_outcome_fail(o, VN_APPLE_USER_NOT_FOUND, item(adam, pp, cuid, sn), adam, pp, cuid, sn);
        return;
    }
    sim_outcome_ok(o, item(adam, pp, cuid, sn)); /* nothing was assigned: already done */
}

/* Revoke every revocable assignment of one user or serial. */
static void revoke_target(struct sim *s, struct sim_write *w, const char *cuid, const char *sn,
                          struct sim_outcome *o)
{
    json_t *rows;
    size_t i;
    json_t *e;

    if (cuid && !user_known(s, w->uid, cuid, 0)) {
        sim_outcome_fail(o, VN_APPLE_USER_NOT_FOUND, item(NULL, NULL, cuid, NULL), NULL, NULL, cuid,
                         NULL);
        return;
    }
    rows = sim_query_json(s,
                          "SELECT x.id AS id, x.adam_id AS adamId, x.pricing_param AS pp"
                          " FROM assignments x JOIN assets y ON y.uid = x.uid AND"
                          " y.adam_id = x.adam_id AND y.pricing_param = x.pricing_param"
                          " WHERE x.uid = ? AND (x.client_user_id = ? OR x.serial_number = ?)"
                          " AND y.revocable = 1 ORDER BY x.id",
                          "ttt", w->uid, cuid, sn);
    json_array_foreach(rows, i, e)
    {
        const char *adam = json_string_value(json_object_get(e, "adamId"));
        const char *pp = json_string_value(json_object_get(e, "pp"));
        sim_exec(s, "DELETE FROM assignments WHERE id = ?", "i",
                 (int64_t)json_integer_value(json_object_get(e, "id")));
        sim_exec(s,
                 "UPDATE assets SET assigned = assigned - 1, seq = ? WHERE uid = ? AND"
                 " adam_id = ? AND pricing_param = ?",
                 "ittt", w->seq, w->uid, adam, pp);
        sim_write_touch(w, COLL_ASSETS);
        sim_write_touch(w, COLL_ASSIGNMENTS);
        sim_outcome_ok(o, item(adam, pp, cuid, sn));
    }
    json_decref(rows);
}

void sim_assets_process(struct sim *s, const char *uid, const char *type, json_t *req,
                        struct sim_outcome *o)
{
    json_t *assets = json_object_get(req, "assets");
    json_t *users = json_object_get(req, "clientUserIds");
    json_t *serials = json_object_get(req, "serialNumbers");
    struct sim_write w;
    size_t i, j;
    json_t *a, *t;

    sim_write_begin(s, &w, uid);
    if (!strcmp(type, "REVOKE")) {
        json_array_foreach(users, j, t)
        {
            if (sim_outcome_turn(o))
                revoke_target(s, &w, json_string_value(t), NULL, o);
        }
        json_array_foreach(serials, j, t)
        {
            if (sim_outcome_turn(o))
                revoke_target(s, &w, NULL, json_string_value(t), o);
        }
    } else {
        int assoc = !strcmp(type, "ASSOCIATE");
        json_array_foreach(assets, i, a)
        {
            const char *adam = json_string_value(json_object_get(a, "adamId"));
            const char *pp = json_string_value(json_object_get(a, "pricingParam"));
            json_array_foreach(users, j, t)
            {
                if (sim_outcome_turn(o))
                    one_task(s, &w, assoc, adam, pp, json_string_value(t), NULL, o);
            }
            json_array_foreach(serials, j, t)
            {
                if (sim_outcome_turn(o))
                    one_task(s, &w, assoc, adam, pp, NULL, json_string_value(t), o);
            }
        }
    }
    sim_write_end(s, &w);
}
