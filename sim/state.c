/*
 * state.c - see state.h.
 */
#include "state.h"

#include "ctx.h"
#include "db.h"
#include "events.h"
#include "outbox.h"
#include "rng.h"
#include "subs.h"

#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- dump -------------------------------------------------------------------------------- */

/* Run a query of uid's rows into *out (a JSON array). */
static int rows_of(struct sim_stmt *q, const char *uid, json_t **out)
{
    sim_bind_text(q, 1, uid);
    return sim_stmt_rows(q, out);
}

static int dump_subscriptions(struct sim_ctx *c, const char *uid, json_t **out)
{
    struct sim_stmt q;
    json_t *rows = NULL, *sub;
    size_t i;
    int rc;

    *out = NULL;
    if ((rc = SIM_PREPARE(c->db, &q,
                          "SELECT adam_id AS adamId, parent_adam_id AS parentAdamId, status,"
                          " period_end AS periodEndDate FROM subscriptions WHERE uid = ?1"
                          " ORDER BY adam_id")) ||
        (rc = rows_of(&q, uid, &rows)))
        return rc;
    json_array_foreach(rows, i, sub)
    {
        json_t *counts = NULL;
        if (!json_object_get(sub, "parentAdamId"))
            json_object_set_new(sub, "parentAdamId", json_null());
        if ((rc =
                 sim_sub_counts(c, uid, (int64_t)json_integer_value(json_object_get(sub, "adamId")),
                                1, &counts))) {
            json_decref(rows);
            return rc;
        }
        json_object_set_new(sub, "counts", counts);
    }
    *out = rows;
    return 0;
}

/* Add key = the rows of a query of uid to o. */
#define DUMP_ROWS(key, sql)                                                                        \
    do {                                                                                           \
        json_t *rows_ = NULL;                                                                      \
        if ((rc = SIM_PREPARE(c->db, &q, sql)) || (rc = rows_of(&q, uid, &rows_)))                 \
            goto out;                                                                              \
        json_object_set_new(o, key, rows_);                                                        \
    } while (0)

static int dump_one(struct sim_ctx *c, const char *uid, json_t **out)
{
    json_t *locs = NULL, *o = NULL, *versions = json_object(), *x = NULL;
    struct sim_stmt q;
    int rc;

    *out = NULL;
    if ((rc = SIM_PREPARE(
             c->db, &q,
             "SELECT uid AS uId, org_name AS orgName, location_name AS locationName,"
             " country AS countryISO2ACode, subscription_mgmt AS \"b:subscriptionManagement\","
             " notification_url AS notificationUrl,"
             " notification_auth_token IS NOT NULL AS \"b:notificationAuthTokenSet\","
             " notification_types AS \"j:subscribedNotificationTypes\", mdm_id AS mdmId,"
             " mdm_name AS mdmName, mdm_metadata AS mdmMetadata,"
             " last_test_ms AS lastTestNotificationMs FROM locations WHERE uid = ?1")) ||
        (rc = rows_of(&q, uid, &locs)))
        goto out;
    if (!(o = json_incref(json_array_get(locs, 0)))) {
        rc = VN_ENOTFOUND;
        goto out;
    }
    for (int k = 0; k < COLL_COUNT; k++) {
        char v[37];
        if ((rc = sim_version_current(c->db, uid, (enum sim_coll)k, v)))
            goto out;
        json_object_set_new(versions, sim_coll_names[k], json_string(v));
    }
    json_object_set(o, "versionIds", versions);
    DUMP_ROWS("tokens", "SELECT exp_ms AS expMs, revoked AS \"b:revoked\", kind,"
                        " created_ms AS createdMs FROM tokens WHERE uid = ?1 ORDER BY created_ms");
    DUMP_ROWS("assets",
              "SELECT adam_id AS adamId, pricing_param AS pricingParam,"
              " product_type AS productType, assigned AS assignedCount,"
              " (CASE WHEN unlimited THEN 2147483647 ELSE total END) - assigned"
              " AS availableCount, retired AS retiredCount,"
              " CASE WHEN unlimited THEN 2147483647 ELSE total END AS totalCount,"
              " device_assignable AS \"b:deviceAssignable\", revocable AS \"b:revocable\","
              " platforms AS \"j:supportedPlatforms\", unlimited AS \"b:unlimited\""
              " FROM assets WHERE uid = ?1 ORDER BY adam_id, pricing_param");
    DUMP_ROWS("assignments", "SELECT adam_id AS adamId, pricing_param AS pricingParam,"
                             " client_user_id AS clientUserId, serial_number AS serialNumber"
                             " FROM assignments WHERE uid = ?1 ORDER BY id");
    DUMP_ROWS("users", "SELECT client_user_id AS clientUserId, email, invite_code AS inviteCode,"
                       " id_hash AS idHash, status, managed_apple_id AS managedAppleId"
                       " FROM users WHERE uid = ?1 ORDER BY id");
    if ((rc = dump_subscriptions(c, uid, &x)))
        goto out;
    json_object_set_new(o, "subscriptions", x);
    DUMP_ROWS("subscriptionAssignments",
              "SELECT adam_id AS adamId, client_user_id AS clientUserId,"
              " renewing AS \"b:renewing\", seat_renewing AS \"b:seatRenewing\","
              " via_group AS \"b:viaGroup\","
              " deferred_event AS deferredDisassociationEventId FROM sub_assignments"
              " WHERE uid = ?1 ORDER BY adam_id, client_user_id");
    DUMP_ROWS("admins", "SELECT adam_id AS adamId, client_user_id AS clientUserId"
                        " FROM sub_admins WHERE uid = ?1 ORDER BY adam_id, client_user_id");
    x = NULL;
    if ((rc = sim_events_dump(c, uid, &x)))
        goto out;
    json_object_set_new(o, "events", x);
    x = NULL;
    if ((rc = sim_outbox_counts(c, uid, &x)))
        goto out;
    json_object_set_new(o, "notifications", x);
    *out = json_incref(o);
out:
    json_decref(o);
    json_decref(locs);
    json_decref(versions);
    return rc;
}

int sim_state_dump(struct sim_ctx *c, const char *uid, json_t **out)
{
    json_t *uids = NULL, *all, *u;
    struct sim_stmt q;
    size_t i;
    int rc;

    *out = NULL;
    if (uid)
        return dump_one(c, uid, out);
    if ((rc = SIM_PREPARE(c->db, &q, "SELECT uid AS u FROM locations ORDER BY created_ms, uid")) ||
        (rc = sim_stmt_rows(&q, &uids)))
        return rc;
    all = json_array();
    json_array_foreach(uids, i, u)
    {
        json_t *one = NULL;
        if ((rc = dump_one(c, json_string_value(json_object_get(u, "u")), &one)))
            break;
        json_array_append_new(all, one);
    }
    json_decref(uids);
    if (rc) {
        json_decref(all);
        return rc;
    }
    *out = json_pack("{s:o}", "locations", all);
    return 0;
}

/* ---- seed -------------------------------------------------------------------------------- */

/* adamId of an asset: a string of digits or a positive number, into out. */
static int adam_text(const json_t *v, char out[32])
{
    if (json_is_string(v) && json_string_length(v) > 0 &&
        vn_is_digits(json_string_value(v), json_string_length(v)) && json_string_length(v) < 32) {
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

/* What a seed needs while it runs. */
struct seed {
    struct sim_ctx *c;
    const char *uid;
    struct sim_write w;
    struct vn_error *err;
    json_int_t n_assets, n_users, n_assign, n_subs, n_subassign, n_admins;
};

#define SEED_FAIL(...) vn_error_set(sd->err, VN_EPARSE, __VA_ARGS__)

static int seed_asset(struct seed *sd, size_t i, const json_t *e)
{
    char adam[32], *plat_text;
    const char *pp = str_or(e, "pricingParam", "STDQ"), *pt = str_or(e, "productType", "App");
    json_t *total = json_object_get(e, "totalCount"),
           *plat = json_object_get(e, "supportedPlatforms");
    int unlimited = bool_or(e, "unlimited", 0), is_app = !strcmp(pt, "App"), rc;
    struct sim_stmt q;

    if (adam_text(json_object_get(e, "adamId"), adam) != 0)
        return SEED_FAIL("assets[%zu]: adamId must be a string of digits", i);
    if ((strcmp(pp, "STDQ") && strcmp(pp, "PLUS")) || (strcmp(pt, "App") && strcmp(pt, "Book")))
        return SEED_FAIL("assets[%zu]: pricingParam is STDQ or PLUS, productType App or Book", i);
    if (!unlimited && (!json_is_integer(total) || json_integer_value(total) < 0))
        return SEED_FAIL("assets[%zu]: totalCount must be a non-negative integer", i);
    if (!(plat_text = json_is_array(plat) ? json_dumps(plat, JSON_COMPACT) : strdup("[\"iOS\"]")))
        return VN_ESTORE;
    if ((rc = SIM_PREPARE(sd->c->db, &q,
                          "INSERT INTO assets(uid, adam_id, pricing_param, product_type, total,"
                          " retired, device_assignable, revocable, platforms, unlimited, seq)"
                          " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                          " ON CONFLICT(uid, adam_id, pricing_param) DO UPDATE SET"
                          " product_type = excluded.product_type, total = excluded.total,"
                          " retired = excluded.retired,"
                          " device_assignable = excluded.device_assignable,"
                          " revocable = excluded.revocable, platforms = excluded.platforms,"
                          " unlimited = excluded.unlimited, seq = excluded.seq")) == 0) {
        sim_bind_text(&q, 1, sd->uid);
        sim_bind_text(&q, 2, adam);
        sim_bind_text(&q, 3, pp);
        sim_bind_text(&q, 4, pt);
        sim_bind_int(&q, 5, json_integer_value(total));
        sim_bind_int(&q, 6, json_integer_value(json_object_get(e, "retiredCount")));
        sim_bind_int(&q, 7, bool_or(e, "deviceAssignable", is_app));
        sim_bind_int(&q, 8, bool_or(e, "revocable", is_app));
        sim_bind_text(&q, 9, plat_text);
        sim_bind_int(&q, 10, unlimited);
        sim_bind_int(&q, 11, sd->w.seq);
        rc = sim_stmt_exec(&q, NULL);
    }
    free(plat_text);
    sim_write_touch(&sd->w, COLL_ASSETS);
    sd->n_assets++;
    return rc;
}

static int seed_user(struct seed *sd, size_t i, const json_t *e)
{
    const char *cuid = str_or(e, "clientUserId", NULL), *maid = str_or(e, "managedAppleId", NULL);
    const char *status = str_or(e, "status", maid ? "Associated" : "Registered");
    char code[33], hash[41];
    struct sim_stmt q;
    int64_t n = 0;
    int rc;

    if (!cuid || !*cuid)
        return SEED_FAIL("users[%zu]: clientUserId is required", i);
    if (strcmp(status, "Registered") && strcmp(status, "Associated") && strcmp(status, "Retired"))
        return SEED_FAIL("users[%zu]: status is Registered, Associated or Retired", i);
    if (strcmp(status, "Retired")) {
        if ((rc = SIM_PREPARE(sd->c->db, &q,
                              "SELECT COUNT(*) FROM users WHERE uid = ?1 AND client_user_id = ?2"
                              " AND status <> 'Retired'")))
            return rc;
        sim_bind_text(&q, 1, sd->uid);
        sim_bind_text(&q, 2, cuid);
        if ((rc = sim_stmt_int(&q, &n)))
            return rc;
        if (n)
            return SEED_FAIL("users[%zu]: an active user '%s' already exists", i, cuid);
    }
    sim_hex_token(sd->c->rng, 16, code);
    sim_hex_token(sd->c->rng, 20, hash);
    if ((rc = SIM_PREPARE(sd->c->db, &q,
                          "INSERT INTO users(uid, client_user_id, email, managed_apple_id,"
                          " invite_code, id_hash, status, seq)"
                          " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")))
        return rc;
    sim_bind_text(&q, 1, sd->uid);
    sim_bind_text(&q, 2, cuid);
    sim_bind_text(&q, 3, str_or(e, "email", NULL));
    sim_bind_text(&q, 4, maid);
    sim_bind_text(&q, 5, str_or(e, "inviteCode", strcmp(status, "Registered") ? NULL : code));
    sim_bind_text(&q, 6, str_or(e, "idHash", strcmp(status, "Registered") ? hash : NULL));
    sim_bind_text(&q, 7, status);
    sim_bind_int(&q, 8, sd->w.seq);
    sim_write_touch(&sd->w, COLL_USERS);
    sd->n_users++;
    return sim_stmt_exec(&q, NULL);
}

static int seed_assignment(struct seed *sd, size_t i, const json_t *e)
{
    char adam[32];
    const char *pp = str_or(e, "pricingParam", "STDQ"), *cuid = str_or(e, "clientUserId", NULL),
               *sn = str_or(e, "serialNumber", NULL);
    struct sim_stmt q;
    int64_t avail = 0, known = 0;
    int changed = 0, rc;

    if (adam_text(json_object_get(e, "adamId"), adam) != 0 || !cuid == !sn)
        return SEED_FAIL("assignments[%zu]: needs adamId and one of clientUserId, serialNumber", i);
    if ((rc = SIM_PREPARE(sd->c->db, &q,
                          "SELECT CASE WHEN unlimited THEN 1 ELSE total - assigned END"
                          " FROM assets WHERE uid = ?1 AND adam_id = ?2 AND pricing_param = ?3")))
        return rc;
    sim_bind_text(&q, 1, sd->uid);
    sim_bind_text(&q, 2, adam);
    sim_bind_text(&q, 3, pp);
    if ((rc = sim_stmt_int(&q, &avail)) == VN_ENOTFOUND)
        return SEED_FAIL("assignments[%zu]: unknown asset %s/%s (seed it in assets)", i, adam, pp);
    if (rc)
        return rc;
    if (avail <= 0)
        return SEED_FAIL("assignments[%zu]: no license of %s/%s left", i, adam, pp);
    if (cuid) {
        if ((rc = SIM_PREPARE(sd->c->db, &q,
                              "SELECT COUNT(*) FROM users WHERE uid = ?1 AND client_user_id = ?2")))
            return rc;
        sim_bind_text(&q, 1, sd->uid);
        sim_bind_text(&q, 2, cuid);
        if ((rc = sim_stmt_int(&q, &known)))
            return rc;
        if (!known)
            return SEED_FAIL("assignments[%zu]: unknown user '%s' (seed it in users)", i, cuid);
    }
    if ((rc = SIM_PREPARE(sd->c->db, &q,
                          "INSERT OR IGNORE INTO assignments(uid, adam_id, pricing_param,"
                          " client_user_id, serial_number, seq) VALUES(?1, ?2, ?3, ?4, ?5, ?6)")))
        return rc;
    sim_bind_text(&q, 1, sd->uid);
    sim_bind_text(&q, 2, adam);
    sim_bind_text(&q, 3, pp);
    sim_bind_text(&q, 4, cuid);
    sim_bind_text(&q, 5, sn);
    sim_bind_int(&q, 6, sd->w.seq);
    if ((rc = sim_stmt_exec(&q, &changed)))
        return rc;
    if (changed == 1) {
        if ((rc = SIM_PREPARE(sd->c->db, &q,
                              "UPDATE assets SET assigned = assigned + 1, seq = ?1 WHERE uid = ?2"
                              " AND adam_id = ?3 AND pricing_param = ?4")))
            return rc;
        sim_bind_int(&q, 1, sd->w.seq);
        sim_bind_text(&q, 2, sd->uid);
        sim_bind_text(&q, 3, adam);
        sim_bind_text(&q, 4, pp);
        if ((rc = sim_stmt_exec(&q, NULL)))
            return rc;
        sd->n_assign++;
    }
    sim_write_touch(&sd->w, COLL_ASSIGNMENTS);
    sim_write_touch(&sd->w, COLL_ASSETS);
    return 0;
}

static int seed_subscription(struct seed *sd, size_t i, const json_t *e)
{
    json_t *adam = json_object_get(e, "adamId"), *parent = json_object_get(e, "parentAdamId");
    json_t *total = json_object_get(e, "total");
    int64_t parent_id = json_integer_value(parent);
    time_t tt = (time_t)(vn_now_ms() / 1000 + 30 * 86400);
    struct sim_stmt q;
    char def_end[16];
    struct tm tm;
    int rc;

    gmtime_r(&tt, &tm);
    strftime(def_end, sizeof(def_end), "%Y-%m-%d", &tm);
    if (!json_is_integer(adam) || json_integer_value(adam) <= 0 ||
        (parent && !json_is_null(parent) && !json_is_integer(parent)))
        return SEED_FAIL("subscriptions[%zu]: adamId (and parentAdamId) must be integers", i);
    if ((rc = SIM_PREPARE(sd->c->db, &q,
                          "INSERT INTO subscriptions(uid, adam_id, parent_adam_id, status,"
                          " period_end, total_renewing, total_expiring, seq)"
                          " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                          " ON CONFLICT(uid, adam_id) DO UPDATE SET"
                          " parent_adam_id = excluded.parent_adam_id, status = excluded.status,"
                          " period_end = excluded.period_end,"
                          " total_renewing = excluded.total_renewing,"
                          " total_expiring = excluded.total_expiring, seq = excluded.seq")))
        return rc;
    sim_bind_text(&q, 1, sd->uid);
    sim_bind_int(&q, 2, json_integer_value(adam));
    sim_bind_opt_int(&q, 3, json_is_integer(parent) ? &parent_id : NULL);
    sim_bind_text(&q, 4, str_or(e, "status", "ACTIVE"));
    sim_bind_text(&q, 5, str_or(e, "periodEndDate", def_end));
    sim_bind_int(&q, 6, json_integer_value(json_object_get(total, "renewing")));
    sim_bind_int(&q, 7, json_integer_value(json_object_get(total, "expiring")));
    sim_bind_int(&q, 8, sd->w.seq);
    if ((rc = sim_stmt_exec(&q, NULL)) || (rc = sim_loc_set_subs(sd->c->db, sd->uid, 1)))
        return rc;
    sim_write_touch(&sd->w, COLL_SUBSCRIPTIONS);
    sd->n_subs++;
    return 0;
}

static int seed_sub_assignment(struct seed *sd, size_t i, const json_t *e)
{
    json_int_t adam = json_integer_value(json_object_get(e, "adamId"));
    const char *cuid = str_or(e, "clientUserId", NULL);
    int renewing = bool_or(e, "renewing", 1), seat, changed = 0, rc;
    json_t *c = NULL;
    json_int_t ar, ae;
    struct sim_stmt q;

    if (!cuid || adam <= 0)
        return SEED_FAIL("subscriptionAssignments[%zu]: needs a seeded subscription adamId and a"
                         " clientUserId",
                         i);
    if ((rc = sim_sub_counts(sd->c, sd->uid, adam, 0, &c)) == VN_ENOTFOUND)
        return SEED_FAIL("subscriptionAssignments[%zu]: needs a seeded subscription adamId and a"
                         " clientUserId",
                         i);
    if (rc)
        return rc;
    ar = json_integer_value(json_object_get(json_object_get(c, "available"), "renewing"));
    ae = json_integer_value(json_object_get(json_object_get(c, "available"), "expiring"));
    json_decref(c);
    seat = renewing ? (ar > 0 ? 1 : -1) : (ae > 0 ? 0 : ar > 0 ? 1 : -1);
    if (seat < 0)
        return SEED_FAIL("subscriptionAssignments[%zu]: no seat of %lld left", i, (long long)adam);
    if ((rc = SIM_PREPARE(sd->c->db, &q,
                          "INSERT OR IGNORE INTO sub_assignments(uid, adam_id, client_user_id,"
                          " renewing, seat_renewing, via_group, seq)"
                          " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)")))
        return rc;
    sim_bind_text(&q, 1, sd->uid);
    sim_bind_int(&q, 2, adam);
    sim_bind_text(&q, 3, cuid);
    sim_bind_int(&q, 4, renewing);
    sim_bind_int(&q, 5, seat);
    sim_bind_int(&q, 6, bool_or(e, "viaGroup", 0));
    sim_bind_int(&q, 7, sd->w.seq);
    if ((rc = sim_stmt_exec(&q, &changed)))
        return rc;
    sd->n_subassign += changed;
    sim_write_touch(&sd->w, COLL_SUB_ASSIGNMENTS);
    sim_write_touch(&sd->w, COLL_SUBSCRIPTIONS);
    return 0;
}

static int seed_admin(struct seed *sd, size_t i, const json_t *e)
{
    json_int_t adam = json_integer_value(json_object_get(e, "adamId"));
    const char *cuid = str_or(e, "clientUserId", NULL);
    struct sim_stmt q;
    int changed = 0, rc;

    if (adam <= 0 || !cuid)
        return SEED_FAIL("admins[%zu]: needs adamId and clientUserId", i);
    if ((rc = SIM_PREPARE(sd->c->db, &q,
                          "INSERT OR IGNORE INTO sub_admins(uid, adam_id, client_user_id, seq)"
                          " VALUES(?1, ?2, ?3, ?4)")))
        return rc;
    sim_bind_text(&q, 1, sd->uid);
    sim_bind_int(&q, 2, adam);
    sim_bind_text(&q, 3, cuid);
    sim_bind_int(&q, 4, sd->w.seq);
    if ((rc = sim_stmt_exec(&q, &changed)))
        return rc;
    sd->n_admins += changed;
    sim_write_touch(&sd->w, COLL_ADMINS);
    return 0;
}

int sim_state_seed(struct sim_ctx *c, const json_t *body, json_t **out, struct vn_error *err)
{
    static const struct {
        const char *key;
        int (*add)(struct seed *, size_t, const json_t *);
    } parts[] = {
        {"assets", seed_asset},
        {"users", seed_user},
        {"assignments", seed_assignment},
        {"subscriptions", seed_subscription},
        {"subscriptionAssignments", seed_sub_assignment},
        {"admins", seed_admin},
    };
    struct seed sd = {.c = c, .err = err};
    json_t *mgmt = json_object_get(body, "subscriptionManagement");
    int known = 0, rc;

    *out = NULL;
    sd.uid = json_string_value(json_object_get(body, "uId"));
    if ((rc = sim_loc_exists(c->db, sd.uid, &known)))
        return rc;
    if (!known)
        return vn_error_set(err, VN_ENOTFOUND, "unknown uId '%s'", sd.uid ? sd.uid : "(missing)");
    for (size_t p = 0; p < sizeof(parts) / sizeof(parts[0]); p++) {
        json_t *list = json_object_get(body, parts[p].key);
        if (list && !json_is_array(list))
            return vn_error_set(err, VN_EPARSE, "%s must be an array", parts[p].key);
    }
    if ((rc = sim_db_begin(c->db)))
        return rc;
    if ((rc = sim_write_begin(c->db, &sd.w, sd.uid)))
        goto fail;
    for (size_t p = 0; p < sizeof(parts) / sizeof(parts[0]); p++) {
        json_t *list = json_object_get(body, parts[p].key), *e;
        size_t i;
        json_array_foreach(list, i, e)
        {
            if ((rc = parts[p].add(&sd, i, e)))
                goto fail;
        }
    }
    if (json_is_boolean(mgmt) && (rc = sim_loc_set_subs(c->db, sd.uid, json_is_true(mgmt))))
        goto fail;
    if ((rc = sim_write_end(c->db, c->rng, &sd.w)) || (rc = sim_db_commit(c->db)))
        goto fail;
    *out = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "uId", sd.uid, "assets", sd.n_assets,
                     "users", sd.n_users, "assignments", sd.n_assign, "subscriptions", sd.n_subs,
                     "subscriptionAssignments", sd.n_subassign, "admins", sd.n_admins);
    return 0;
fail:
    sim_db_rollback(c->db);
    return rc;
}

/* ---- another party ----------------------------------------------------------------------- */

static int perturb_assets(struct sim_ctx *c, struct sim_write *w)
{
    struct sim_stmt q;
    char adam[64] = "", pp[16] = "";
    json_t *p;
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q,
                          "SELECT adam_id, pricing_param FROM assets WHERE uid = ?1"
                          " ORDER BY adam_id, pricing_param LIMIT 1")))
        return rc;
    sim_bind_text(&q, 1, w->uid);
    if ((rc = sim_stmt_step(&q)) != SIM_ROW)
        return rc;
    vn_strlcpy(adam, sim_col_text(&q, 0), sizeof(adam));
    vn_strlcpy(pp, sim_col_text(&q, 1), sizeof(pp));
    sim_stmt_reset(&q);
    if ((rc = SIM_PREPARE(c->db, &q,
                          "UPDATE assets SET total = total + 1, seq = ?1 WHERE uid = ?2"
                          " AND adam_id = ?3 AND pricing_param = ?4")))
        return rc;
    sim_bind_int(&q, 1, w->seq);
    sim_bind_text(&q, 2, w->uid);
    sim_bind_text(&q, 3, adam);
    sim_bind_text(&q, 4, pp);
    if ((rc = sim_stmt_exec(&q, NULL)))
        return rc;
    p = json_pack("{s:s, s:i, s:s}", "adamId", adam, "countDelta", 1, "pricingParam", pp);
    rc = sim_notify(c, w->uid, "ASSET_COUNT", NULL, p);
    json_decref(p);
    return rc;
}

static int perturb_assignments(struct sim_ctx *c, struct sim_write *w)
{
    struct sim_stmt q;
    int64_t id = 0;
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q, "SELECT MIN(id) FROM assignments WHERE uid = ?1")))
        return rc;
    sim_bind_text(&q, 1, w->uid);
    if ((rc = sim_stmt_int(&q, &id)))
        return rc == VN_ENOTFOUND ? 0 : rc;
    if ((rc = SIM_PREPARE(
             c->db, &q,
             "UPDATE assets SET assigned = assigned - 1, seq = ?1 WHERE uid = ?2 AND"
             " EXISTS(SELECT 1 FROM assignments a WHERE a.id = ?3 AND"
             " a.adam_id = assets.adam_id AND a.pricing_param = assets.pricing_param)")))
        return rc;
    sim_bind_int(&q, 1, w->seq);
    sim_bind_text(&q, 2, w->uid);
    sim_bind_int(&q, 3, id);
    if ((rc = sim_stmt_exec(&q, NULL)))
        return rc;
    if ((rc = SIM_PREPARE(c->db, &q, "DELETE FROM assignments WHERE id = ?1")))
        return rc;
    sim_bind_int(&q, 1, id);
    sim_write_touch(w, COLL_ASSETS);
    return sim_stmt_exec(&q, NULL);
}

static int perturb_users(struct sim_ctx *c, struct sim_write *w)
{
    char cuid[32], code[33];
    struct sim_stmt q;
    int rc;

    sim_hex_token(c->rng, 4, code);
    snprintf(cuid, sizeof(cuid), "vppsim-%s", code);
    sim_hex_token(c->rng, 16, code);
    if ((rc = SIM_PREPARE(c->db, &q,
                          "INSERT INTO users(uid, client_user_id, invite_code, status, seq)"
                          " VALUES(?1, ?2, ?3, 'Registered', ?4)")))
        return rc;
    sim_bind_text(&q, 1, w->uid);
    sim_bind_text(&q, 2, cuid);
    sim_bind_text(&q, 3, code);
    sim_bind_int(&q, 4, w->seq);
    return sim_stmt_exec(&q, NULL);
}

static int perturb_subscriptions(struct sim_ctx *c, struct sim_write *w)
{
    struct sim_stmt q;
    int64_t adam = 0;
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q, "SELECT MIN(adam_id) FROM subscriptions WHERE uid = ?1")))
        return rc;
    sim_bind_text(&q, 1, w->uid);
    if ((rc = sim_stmt_int(&q, &adam)))
        return rc == VN_ENOTFOUND ? 0 : rc;
    if ((rc = SIM_PREPARE(c->db, &q,
                          "UPDATE subscriptions SET total_renewing = total_renewing + 1, seq = ?1"
                          " WHERE uid = ?2 AND adam_id = ?3")))
        return rc;
    sim_bind_int(&q, 1, w->seq);
    sim_bind_text(&q, 2, w->uid);
    sim_bind_int(&q, 3, adam);
    if ((rc = sim_stmt_exec(&q, NULL)) || (rc = sim_sub_notify_count(c, w->uid, adam)))
        return rc;
    sim_write_touch(w, COLL_SUBSCRIPTIONS);
    return rc;
}

int sim_state_perturb(struct sim_ctx *c, const char *uid, enum sim_coll coll)
{
    struct sim_write w;
    int rc;

    if ((rc = sim_db_begin(c->db)))
        return rc;
    sim_notify_batch_begin(c);
    if ((rc = sim_write_begin(c->db, &w, uid)))
        goto out;
    switch (coll) {
    case COLL_ASSETS:
        rc = perturb_assets(c, &w);
        break;
    case COLL_ASSIGNMENTS:
        rc = perturb_assignments(c, &w);
        break;
    case COLL_USERS:
        rc = perturb_users(c, &w);
        break;
    default:
        rc = perturb_subscriptions(c, &w);
        break;
    }
    if (rc)
        goto out;
    sim_write_touch(&w, coll);
    if ((rc = sim_write_end(c->db, c->rng, &w)) || (rc = sim_notify_batch_end(c)) ||
        (rc = sim_db_commit(c->db)))
        goto out;
    vn_log_info("fault: the %s of location %s changed mid-pagination", sim_coll_names[coll], uid);
    return 0;
out:
    sim_notify_batch_end(c);
    sim_db_rollback(c->db);
    return rc;
}
