/*
 * state.c - the full state dump (GET /_sim/state: the oracle of sync tests), seeding
 * (POST /_sim/seed: one transaction, no notifications), and the "another party changed the
 * data" mutation used by the versionId-change fault.
 */
#include "sim.h"

#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static json_t *dump_one(struct sim *s, const char *uid)
{
    json_t *locs, *o, *versions = json_object(), *subs, *row;
    size_t i;

    locs = sim_query_json(
        s,
        "SELECT uid AS uId, org_name AS orgName, location_name AS locationName,"
        " country AS countryISO2ACode, subscription_mgmt AS \"b:subscriptionManagement\","
        " notification_url AS notificationUrl,"
        " notification_auth_token IS NOT NULL AS \"b:notificationAuthTokenSet\","
        " notification_types AS \"j:subscribedNotificationTypes\", mdm_id AS mdmId,"
        " mdm_name AS mdmName, mdm_metadata AS mdmMetadata, last_test_ms AS lastTestNotificationMs"
        " FROM locations WHERE uid = ?",
        "t", uid);
    o = json_incref(json_array_get(locs, 0));
    json_decref(locs);
    if (!o)
        return NULL;
    for (int c = 0; c < COLL_COUNT; c++) {
        char v[37];
        sim_version_current(s, uid, (enum sim_coll)c, v);
        json_object_set_new(versions, sim_coll_names[c], json_string(v));
    }
    json_object_set_new(o, "versionIds", versions);
    json_object_set_new(
        o, "tokens",
        sim_query_json(s,
                       "SELECT exp_ms AS expMs, revoked AS \"b:revoked\", kind,"
                       " created_ms AS createdMs FROM tokens WHERE uid = ? ORDER BY created_ms",
                       "t", uid));
    json_object_set_new(
        o, "assets",
        sim_query_json(s,
                       "SELECT adam_id AS adamId, pricing_param AS pricingParam,"
                       " product_type AS productType, assigned AS assignedCount,"
                       " (CASE WHEN unlimited THEN 2147483647 ELSE total END) - assigned"
                       " AS availableCount, retired AS retiredCount,"
                       " CASE WHEN unlimited THEN 2147483647 ELSE total END AS totalCount,"
                       " device_assignable AS \"b:deviceAssignable\", revocable AS \"b:revocable\","
                       " platforms AS \"j:supportedPlatforms\", unlimited AS \"b:unlimited\""
                       " FROM assets WHERE uid = ? ORDER BY adam_id, pricing_param",
                       "t", uid));
    json_object_set_new(
        o, "assignments",
        sim_query_json(s,
                       "SELECT adam_id AS adamId, pricing_param AS pricingParam,"
                       " client_user_id AS clientUserId, serial_number AS serialNumber"
                       " FROM assignments WHERE uid = ? ORDER BY id",
                       "t", uid));
    json_object_set_new(
        o, "users",
        sim_query_json(s,
                       "SELECT client_user_id AS clientUserId, email, invite_code AS inviteCode,"
                       " id_hash AS idHash, status, managed_apple_id AS managedAppleId"
                       " FROM users WHERE uid = ? ORDER BY id",
                       "t", uid));
    subs = sim_query_json(
        s, "SELECT adam_id AS a FROM subscriptions WHERE uid = ? ORDER BY adam_id", "t", uid);
    {
        json_t *full = json_array();
        json_array_foreach(subs, i, row)
        {
            int64_t adam = (int64_t)json_integer_value(json_object_get(row, "a"));
            json_t *rows = sim_query_json(s,
                                          "SELECT adam_id AS adamId, parent_adam_id AS"
                                          " parentAdamId, status, period_end AS periodEndDate"
                                          " FROM subscriptions WHERE uid = ? AND adam_id = ?",
                                          "ti", uid, adam);
            json_t *sub = json_incref(json_array_get(rows, 0));
            json_decref(rows);
            if (!json_object_get(sub, "parentAdamId"))
                json_object_set_new(sub, "parentAdamId", json_null());
            json_object_set_new(sub, "counts", sim_sub_counts(s, uid, adam, 1));
            json_array_append_new(full, sub);
        }
        json_object_set_new(o, "subscriptions", full);
    }
    json_decref(subs);
    json_object_set_new(
        o, "subscriptionAssignments",
        sim_query_json(s,
                       "SELECT adam_id AS adamId, client_user_id AS clientUserId,"
                       " renewing AS \"b:renewing\", seat_renewing AS \"b:seatRenewing\","
                       " deferred_event AS deferredDisassociationEventId FROM sub_assignments"
                       " WHERE uid = ? ORDER BY adam_id, client_user_id",
                       "t", uid));
    json_object_set_new(o, "admins",
                        sim_query_json(s,
                                       "SELECT adam_id AS adamId, client_user_id AS clientUserId"
                                       " FROM sub_admins WHERE uid = ? ORDER BY adam_id,"
                                       " client_user_id",
                                       "t", uid));
    json_object_set_new(o, "events",
                        sim_query_json(s,
                                       "SELECT event_id AS eventId, kind, event_type AS eventType,"
                                       " status AS eventStatus, num_requested AS numRequested,"
                                       " num_completed AS numCompleted, failures AS \"j:failures\","
                                       " created_ms AS createdMs, completed_ms AS completedMs"
                                       " FROM events WHERE uid = ? ORDER BY created_ms, rowid",
                                       "t", uid));
    {
        json_t *counts = json_object(), *rows, *r;
        rows = sim_query_json(s,
                              "SELECT state, COUNT(*) AS n FROM notifications WHERE uid = ?"
                              " GROUP BY state",
                              "t", uid);
        json_array_foreach(rows, i, r) json_object_set(
            counts, json_string_value(json_object_get(r, "state")), json_object_get(r, "n"));
        json_decref(rows);
        json_object_set_new(o, "notifications", counts);
    }
    return o;
}

json_t *sim_state_dump(struct sim *s, const char *uid)
{
    json_t *uids, *all, *u;
    size_t i;

    if (uid)
        return dump_one(s, uid);
    uids = sim_query_json(s, "SELECT uid AS u FROM locations ORDER BY created_ms, uid", "");
    all = json_array();
    json_array_foreach(uids, i, u)
    {
        json_t *one = dump_one(s, json_string_value(json_object_get(u, "u")));
        if (one)
            json_array_append_new(all, one);
    }
    json_decref(uids);
    return json_pack("{s:o}", "locations", all);
}

/* ---------------------------------------------------------------------------------------- */

/* adamId of an asset: a string of digits or a positive number, into out. */
static int adam_text(const json_t *v, char out[32])
{
    if (json_is_string(v) && vn_is_digits(json_string_value(v), json_string_length(v)) &&
        json_string_length(v) < 32) {
        vn_strlcpy(out, json_string_value(v), 32);
        return 0;
    }
    if (json_is_integer(v) && json_integer_value(v) > 0) {
        snprintf(out, 32, "%lld", (long long)json_integer_value(v));
        return 0;
    }
    return -1;
}

static const char *str_or(const json_t *o, const char *k, const char *def)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : def;
}

static int bool_or(const json_t *o, const char *k, int def)
{
    json_t *v = json_object_get(o, k);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

#define SEED_FAIL(...)                                                                             \
    do {                                                                                           \
        vn_error_set(err, VN_EPARSE, __VA_ARGS__);                                                 \
        goto fail;                                                                                 \
    } while (0)

json_t *sim_seed(struct sim *s, const json_t *body, struct vn_error *err)
{
    const char *uid = json_string_value(json_object_get(body, "uId"));
    json_t *list, *e;
    struct sim_write w;
    size_t i;
    json_int_t n_assets = 0, n_users = 0, n_assign = 0, n_subs = 0, n_subassign = 0, n_admins = 0;

    if (!uid || !sim_query_int(s, 0, "SELECT COUNT(*) FROM locations WHERE uid = ?", "t", uid)) {
        vn_error_set(err, VN_ENOTFOUND, "unknown uId '%s'", uid ? uid : "(missing)");
        return NULL;
    }
    if (sim_begin(s) != 0) {
        vn_error_set(err, VN_ESTORE, "cannot start a transaction");
        return NULL;
    }
    sim_write_begin(s, &w, uid);

    list = json_object_get(body, "assets");
    json_array_foreach(list, i, e)
    {
        char adam[32];
        const char *pp = str_or(e, "pricingParam", "STDQ"), *pt = str_or(e, "productType", "App");
        json_t *total = json_object_get(e, "totalCount"),
               *plat = json_object_get(e, "supportedPlatforms");
        int unlimited = bool_or(e, "unlimited", 0), is_app = !strcmp(pt, "App");
        char *plat_text;
        if (adam_text(json_object_get(e, "adamId"), adam) != 0)
            SEED_FAIL("assets[%zu]: adamId must be a string of digits", i);
        if ((strcmp(pp, "STDQ") && strcmp(pp, "PLUS")) || (strcmp(pt, "App") && strcmp(pt, "Book")))
            SEED_FAIL("assets[%zu]: pricingParam is STDQ or PLUS, productType App or Book", i);
        if (!unlimited && (!json_is_integer(total) || json_integer_value(total) < 0))
            SEED_FAIL("assets[%zu]: totalCount must be a non-negative integer", i);
        plat_text = json_is_array(plat) ? json_dumps(plat, JSON_COMPACT) : strdup("[\"iOS\"]");
        sim_exec(s,
                 "INSERT INTO assets(uid, adam_id, pricing_param, product_type, total, retired,"
                 " device_assignable, revocable, platforms, unlimited, seq)"
                 " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                 " ON CONFLICT(uid, adam_id, pricing_param) DO UPDATE SET"
                 " product_type = excluded.product_type, total = excluded.total,"
                 " retired = excluded.retired, device_assignable = excluded.device_assignable,"
                 " revocable = excluded.revocable, platforms = excluded.platforms,"
                 " unlimited = excluded.unlimited, seq = excluded.seq",
                 "ttttiiiitii", uid, adam, pp, pt, (int64_t)json_integer_value(total),
                 (int64_t)json_integer_value(json_object_get(e, "retiredCount")),
                 (int64_t)bool_or(e, "deviceAssignable", is_app),
                 (int64_t)bool_or(e, "revocable", is_app), plat_text, (int64_t)unlimited, w.seq);
        free(plat_text);
        sim_write_touch(&w, COLL_ASSETS);
        n_assets++;
    }

    list = json_object_get(body, "users");
    json_array_foreach(list, i, e)
    {
        const char *cuid = str_or(e, "clientUserId", NULL),
                   *maid = str_or(e, "managedAppleId", NULL);
        const char *status = str_or(e, "status", maid ? "Associated" : "Registered");
        char code[33], hash[41];
        if (!cuid || !*cuid)
            SEED_FAIL("users[%zu]: clientUserId is required", i);
        if (strcmp(status, "Registered") && strcmp(status, "Associated") &&
            strcmp(status, "Retired"))
            SEED_FAIL("users[%zu]: status is Registered, Associated or Retired", i);
        if (strcmp(status, "Retired") &&
            sim_query_int(s, 0,
                          "SELECT COUNT(*) FROM users WHERE uid = ? AND client_user_id = ? AND"
                          " status <> 'Retired'",
                          "tt", uid, cuid))
            SEED_FAIL("users[%zu]: an active user '%s' already exists", i, cuid);
        sim_hex_token(s, 16, code);
        sim_hex_token(s, 20, hash);
        sim_exec(s,
                 "INSERT INTO users(uid, client_user_id, email, managed_apple_id, invite_code,"
                 " id_hash, status, seq) VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
                 "ttttttti", uid, cuid, str_or(e, "email", NULL), maid,
                 str_or(e, "inviteCode", strcmp(status, "Registered") ? NULL : code),
                 str_or(e, "idHash", strcmp(status, "Registered") ? hash : NULL), status, w.seq);
        sim_write_touch(&w, COLL_USERS);
        n_users++;
    }

    list = json_object_get(body, "assignments");
    json_array_foreach(list, i, e)
    {
        char adam[32];
        const char *pp = str_or(e, "pricingParam", "STDQ"), *cuid = str_or(e, "clientUserId", NULL),
                   *sn = str_or(e, "serialNumber", NULL);
        int64_t avail;
        if (adam_text(json_object_get(e, "adamId"), adam) != 0 || !cuid == !sn)
            SEED_FAIL("assignments[%zu]: needs adamId and one of clientUserId, serialNumber", i);
        avail = sim_query_int(s, -1,
                              "SELECT CASE WHEN unlimited THEN 1 ELSE total - assigned END"
                              " FROM assets WHERE uid = ? AND adam_id = ? AND pricing_param = ?",
                              "ttt", uid, adam, pp);
        if (avail < 0)
            SEED_FAIL("assignments[%zu]: unknown asset %s/%s (seed it in assets)", i, adam, pp);
        if (avail == 0)
            SEED_FAIL("assignments[%zu]: no license of %s/%s left", i, adam, pp);
        if (cuid &&
            !sim_query_int(s, 0, "SELECT COUNT(*) FROM users WHERE uid = ? AND client_user_id = ?",
                           "tt", uid, cuid))
            SEED_FAIL("assignments[%zu]: unknown user '%s' (seed it in users)", i, cuid);
        sim_exec(s,
                 "INSERT OR IGNORE INTO assignments(uid, adam_id, pricing_param, client_user_id,"
                 " serial_number, seq) VALUES(?, ?, ?, ?, ?, ?)",
                 "ttttti", uid, adam, pp, cuid, sn, w.seq);
        if (sqlite3_changes(s->db) == 1) {
            sim_exec(s,
                     "UPDATE assets SET assigned = assigned + 1, seq = ? WHERE uid = ? AND"
                     " adam_id = ? AND pricing_param = ?",
                     "ittt", w.seq, uid, adam, pp);
            n_assign++;
        }
        sim_write_touch(&w, COLL_ASSIGNMENTS);
        sim_write_touch(&w, COLL_ASSETS);
    }

    list = json_object_get(body, "subscriptions");
    json_array_foreach(list, i, e)
    {
        json_t *adam = json_object_get(e, "adamId"), *parent = json_object_get(e, "parentAdamId");
        json_t *total = json_object_get(e, "total");
        char def_end[16];
        int64_t t = vn_now_ms() / 1000 + 30 * 86400;
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(def_end, sizeof(def_end), "%Y-%m-%d", &tm);
        if (!json_is_integer(adam) || json_integer_value(adam) <= 0 ||
            (parent && !json_is_null(parent) && !json_is_integer(parent)))
            SEED_FAIL("subscriptions[%zu]: adamId (and parentAdamId) must be integers", i);
        sim_exec(
            s,
            "INSERT INTO subscriptions(uid, adam_id, parent_adam_id, status, period_end,"
            " total_renewing, total_expiring, seq) VALUES(?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(uid, adam_id) DO UPDATE SET parent_adam_id = excluded.parent_adam_id,"
            " status = excluded.status, period_end = excluded.period_end,"
            " total_renewing = excluded.total_renewing,"
            " total_expiring = excluded.total_expiring, seq = excluded.seq",
            "tiottiii", uid, (int64_t)json_integer_value(adam),
            json_is_integer(parent) ? &(long long){json_integer_value(parent)} : NULL,
            str_or(e, "status", "ACTIVE"), str_or(e, "periodEndDate", def_end),
            (int64_t)json_integer_value(json_object_get(total, "renewing")),
            (int64_t)json_integer_value(json_object_get(total, "expiring")), w.seq);
        sim_exec(s, "UPDATE locations SET subscription_mgmt = 1 WHERE uid = ?", "t", uid);
        sim_write_touch(&w, COLL_SUBSCRIPTIONS);
        n_subs++;
    }

    list = json_object_get(body, "subscriptionAssignments");
    json_array_foreach(list, i, e)
    {
        json_int_t adam = json_integer_value(json_object_get(e, "adamId"));
        const char *cuid = str_or(e, "clientUserId", NULL);
        int renewing = bool_or(e, "renewing", 1), seat;
        json_t *c = sim_sub_counts(s, uid, adam, 0);
        json_int_t ar, ae;
        if (!c || !cuid)
            SEED_FAIL("subscriptionAssignments[%zu]: needs a seeded subscription adamId and a"
                      " clientUserId",
                      i);
        ar = json_integer_value(json_object_get(json_object_get(c, "available"), "renewing"));
        ae = json_integer_value(json_object_get(json_object_get(c, "available"), "expiring"));
        json_decref(c);
        seat = renewing ? (ar > 0 ? 1 : -1) : (ae > 0 ? 0 : ar > 0 ? 1 : -1);
        if (seat < 0)
            SEED_FAIL("subscriptionAssignments[%zu]: no seat of %lld left", i, (long long)adam);
        sim_exec(s,
                 "INSERT OR IGNORE INTO sub_assignments(uid, adam_id, client_user_id, renewing,"
                 " seat_renewing, seq) VALUES(?, ?, ?, ?, ?, ?)",
                 "titiii", uid, (int64_t)adam, cuid, (int64_t)renewing, (int64_t)seat, w.seq);
        n_subassign += sqlite3_changes(s->db);
        sim_write_touch(&w, COLL_SUB_ASSIGNMENTS);
        sim_write_touch(&w, COLL_SUBSCRIPTIONS);
    }

    list = json_object_get(body, "admins");
    json_array_foreach(list, i, e)
    {
        json_int_t adam = json_integer_value(json_object_get(e, "adamId"));
        const char *cuid = str_or(e, "clientUserId", NULL);
        if (adam <= 0 || !cuid)
            SEED_FAIL("admins[%zu]: needs adamId and clientUserId", i);
        sim_exec(s,
                 "INSERT OR IGNORE INTO sub_admins(uid, adam_id, client_user_id, seq)"
                 " VALUES(?, ?, ?, ?)",
                 "titi", uid, (int64_t)adam, cuid, w.seq);
        n_admins += sqlite3_changes(s->db);
        sim_write_touch(&w, COLL_ADMINS);
    }
    if (json_is_boolean(json_object_get(body, "subscriptionManagement")))
        sim_exec(s, "UPDATE locations SET subscription_mgmt = ? WHERE uid = ?", "it",
                 (int64_t)json_is_true(json_object_get(body, "subscriptionManagement")), uid);

    sim_write_end(s, &w);
    if (sim_commit(s) != 0) {
        vn_error_set(err, VN_ESTORE, "cannot commit the seed");
        return NULL;
    }
    return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "uId", uid, "assets", n_assets, "users",
                     n_users, "assignments", n_assign, "subscriptions", n_subs,
                     "subscriptionAssignments", n_subassign, "admins", n_admins);
fail:
    sim_rollback(s);
    return NULL;
}

/* ---------------------------------------------------------------------------------------- */

void sim_state_perturb(struct sim *s, const char *uid, enum sim_coll c)
{
    struct sim_write w;

    if (sim_begin(s) != 0)
        return;
    sim_write_begin(s, &w, uid);
    sim_notify_batch_begin(s);
    if (c == COLL_ASSETS) {
        char *adam = sim_query_text(s,
                                    "SELECT adam_id FROM assets WHERE uid = ? ORDER BY adam_id,"
                                    " pricing_param LIMIT 1",
                                    "t", uid);
        char *pp = sim_query_text(s,
                                  "SELECT pricing_param FROM assets WHERE uid = ? ORDER BY"
                                  " adam_id, pricing_param LIMIT 1",
                                  "t", uid);
        if (adam && pp) {
            json_t *p;
            sim_exec(s,
                     "UPDATE assets SET total = total + 1, seq = ? WHERE uid = ? AND adam_id = ?"
                     " AND pricing_param = ?",
                     "ittt", w.seq, uid, adam, pp);
            p = json_pack("{s:s, s:i, s:s}", "adamId", adam, "countDelta", 1, "pricingParam", pp);
            sim_notify(s, uid, "ASSET_COUNT", NULL, p);
            json_decref(p);
        }
        free(adam);
        free(pp);
    } else if (c == COLL_ASSIGNMENTS) {
        int64_t id = sim_query_int(s, 0, "SELECT MIN(id) FROM assignments WHERE uid = ?", "t", uid);
        if (id) {
            sim_exec(s,
                     "UPDATE assets SET assigned = assigned - 1, seq = ? WHERE uid = ? AND"
                     " EXISTS(SELECT 1 FROM assignments a WHERE a.id = ? AND"
                     " a.adam_id = assets.adam_id AND a.pricing_param = assets.pricing_param)",
                     "iti", w.seq, uid, id);
            sim_exec(s, "DELETE FROM assignments WHERE id = ?", "i", id);
            sim_write_touch(&w, COLL_ASSETS);
        }
    } else if (c == COLL_USERS) {
        char cuid[32], code[33];
        sim_hex_token(s, 4, code);
        snprintf(cuid, sizeof(cuid), "vppsim-%s", code);
        sim_hex_token(s, 16, code);
        sim_exec(s,
                 "INSERT INTO users(uid, client_user_id, invite_code, status, seq)"
                 " VALUES(?, ?, ?, 'Registered', ?)",
                 "ttti", uid, cuid, code, w.seq);
    } else {
        int64_t adam =
            sim_query_int(s, 0, "SELECT MIN(adam_id) FROM subscriptions WHERE uid = ?", "t", uid);
        if (adam) {
            sim_exec(s,
                     "UPDATE subscriptions SET total_renewing = total_renewing + 1, seq = ?"
                     " WHERE uid = ? AND adam_id = ?",
                     "iti", w.seq, uid, adam);
            sim_sub_notify_count(s, uid, adam);
            sim_write_touch(&w, COLL_SUBSCRIPTIONS);
        }
    }
    sim_write_touch(&w, c);
    sim_write_end(s, &w);
    sim_notify_batch_end(s);
    if (sim_commit(s) == 0)
        vn_log_info("fault: the %s of location %s changed mid-pagination", sim_coll_names[c], uid);
}
