/*
 * assets.c - see assets.h.
 */
#include "assets.h"

#include "ctx.h"
#include "db.h"
#include "location.h"
#include "outbox.h"
#include "outcome.h"

#include "vppnotify/apple_errors.h"
#include "vppnotify/error.h"
#include "vppnotify/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Parameters 1-11 of ASSET_WHERE; unlimited_only: the unlimitedAssets query. */
static void bind_asset_filter(struct sim_stmt *q, const char *uid, const struct sim_asset_filter *f,
                              int unlimited_only)
{
    int64_t zero = 0, one = 1;

    sim_bind_text(q, 1, uid);
    sim_bind_text(q, 2, f->adam_id);
    sim_bind_text(q, 3, f->product_type);
    sim_bind_text(q, 4, f->pricing_param);
    sim_bind_opt_int(q, 5, f->revocable);
    sim_bind_opt_int(q, 6, f->device_assignable);
    sim_bind_opt_int(q, 7, f->min_assigned);
    sim_bind_opt_int(q, 8, f->max_assigned);
    sim_bind_opt_int(q, 9, unlimited_only ? NULL : f->min_available);
    sim_bind_opt_int(q, 10, unlimited_only ? NULL : f->max_available);
    sim_bind_opt_int(q, 11, unlimited_only ? &one : f->unlimited >= 0 ? &zero : NULL);
}

int sim_assets_count(struct sim_ctx *c, const char *uid, const struct sim_asset_filter *f,
                     int64_t *n)
{
    struct sim_stmt q;
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q, "SELECT COUNT(*)" ASSET_WHERE)))
        return rc;
    bind_asset_filter(&q, uid, f, 0);
    return sim_stmt_int(&q, n);
}

int sim_assets_list(struct sim_ctx *c, const char *uid, const struct sim_asset_filter *f,
                    int64_t limit, int64_t offset, json_t **out)
{
    struct sim_stmt q;
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q,
                          "SELECT " ASSET_COLUMNS ASSET_WHERE
                          " ORDER BY adam_id, pricing_param LIMIT ?12 OFFSET ?13")))
        return rc;
    bind_asset_filter(&q, uid, f, 0);
    sim_bind_int(&q, 12, limit);
    sim_bind_int(&q, 13, offset);
    return sim_stmt_rows(&q, out);
}

int sim_assets_unlimited(struct sim_ctx *c, const char *uid, const struct sim_asset_filter *f,
                         json_t **out)
{
    struct sim_stmt q;
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q,
                          "SELECT adam_id AS adamId, pricing_param AS pricingParam,"
                          " product_type AS productType, assigned AS assignedCount,"
                          " device_assignable AS \"b:deviceAssignable\","
                          " revocable AS \"b:revocable\","
                          " platforms AS \"j:supportedPlatforms\"" ASSET_WHERE
                          " ORDER BY adam_id, pricing_param")))
        return rc;
    bind_asset_filter(&q, uid, f, 1);
    return sim_stmt_rows(&q, out);
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

static void bind_assignment_filter(struct sim_stmt *q, const char *uid,
                                   const struct sim_assignment_filter *f)
{
    sim_bind_text(q, 1, uid);
    sim_bind_text(q, 2, f->adam_id);
    sim_bind_text(q, 3, f->client_user_id);
    sim_bind_text(q, 4, f->serial_number);
    sim_bind_text(q, 5, f->pricing_param);
    sim_bind_opt_int(q, 6, f->since_seq);
    sim_bind_int(q, 7, f->exclude_inactive != 0);
}

int sim_assignments_count(struct sim_ctx *c, const char *uid, const struct sim_assignment_filter *f,
                          int64_t *n)
{
    struct sim_stmt q;
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q, "SELECT COUNT(*)" ASSIGNMENT_WHERE)))
        return rc;
    bind_assignment_filter(&q, uid, f);
    return sim_stmt_int(&q, n);
}

int sim_assignments_list(struct sim_ctx *c, const char *uid, const struct sim_assignment_filter *f,
                         int64_t limit, int64_t offset, json_t **out)
{
    struct sim_stmt q;
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q,
                          "SELECT a.adam_id AS adamId, a.pricing_param AS pricingParam,"
                          " a.client_user_id AS clientUserId, a.serial_number AS serialNumber,"
                          " CASE WHEN ?8 AND a.client_user_id IS NOT NULL THEN " USER_OF_ASSIGNMENT(
                              "status") " END AS userStatus,"
                                        " CASE WHEN ?8 AND a.client_user_id IS NOT NULL"
                                        " THEN " USER_OF_ASSIGNMENT(
                                            "id_hash") " END AS idHash" ASSIGNMENT_WHERE
                                                       " ORDER BY a.id LIMIT ?9 OFFSET ?10")))
        return rc;
    bind_assignment_filter(&q, uid, f);
    sim_bind_int(&q, 8, f->include_user_state != 0);
    sim_bind_int(&q, 9, limit);
    sim_bind_int(&q, 10, offset);
    return sim_stmt_rows(&q, out);
}

/* ---- checks ------------------------------------------------------------------------------ */

struct asset_row {
    int found, unlimited, dev, rev;
    int64_t total, assigned;
};

static int asset_row(struct sim_ctx *c, const char *uid, const char *adam, const char *pp,
                     struct asset_row *a)
{
    struct sim_stmt q;
    int rc;

    memset(a, 0, sizeof(*a));
    if ((rc = SIM_PREPARE(c->db, &q,
                          "SELECT total, assigned, unlimited, device_assignable, revocable"
                          " FROM assets WHERE uid = ?1 AND adam_id = ?2 AND pricing_param = ?3")))
        return rc;
    sim_bind_text(&q, 1, uid);
    sim_bind_text(&q, 2, adam);
    sim_bind_text(&q, 3, pp);
    if ((rc = sim_stmt_step(&q)) != SIM_ROW)
        return rc;
    a->found = 1;
    a->total = sim_col_int(&q, 0);
    a->assigned = sim_col_int(&q, 1);
    a->unlimited = sim_col_int(&q, 2) != 0;
    a->dev = sim_col_int(&q, 3) != 0;
    a->rev = sim_col_int(&q, 4) != 0;
    sim_stmt_reset(&q);
    return 0;
}

int sim_asset_flags(struct sim_ctx *c, const char *uid, const char *adam_id,
                    const char *pricing_param, int *found, int *device_assignable, int *revocable)
{
    struct asset_row a;
    int rc = asset_row(c, uid, adam_id, pricing_param, &a);

    *found = a.found;
    *device_assignable = a.dev;
    *revocable = a.rev;
    return rc;
}

int sim_assets_revocable(struct sim_ctx *c, const char *uid, const char *client_user_id,
                         const char *serial_number, int64_t *n)
{
    struct sim_stmt q;
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q,
                          "SELECT COUNT(*) FROM assignments x JOIN assets y ON y.uid = x.uid AND"
                          " y.adam_id = x.adam_id AND y.pricing_param = x.pricing_param"
                          " WHERE x.uid = ?1 AND (x.client_user_id = ?2 OR x.serial_number = ?3)"
                          " AND y.revocable = 1")))
        return rc;
    sim_bind_text(&q, 1, uid);
    sim_bind_text(&q, 2, client_user_id);
    sim_bind_text(&q, 3, serial_number);
    return sim_stmt_int(&q, n);
}

/* ---- business rules ---------------------------------------------------------------------- */

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

/* 0 and *known: the user has a row (active_only: an active one). */
static int user_known(struct sim_ctx *c, const char *uid, const char *cuid, int active_only,
                      int *known)
{
    struct sim_stmt q;
    int64_t n = 0;
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q,
                          "SELECT COUNT(*) FROM users WHERE uid = ?1 AND client_user_id = ?2"
                          " AND (?3 = 0 OR status <> 'Retired')")))
        return rc;
    sim_bind_text(&q, 1, uid);
    sim_bind_text(&q, 2, cuid);
    sim_bind_int(&q, 3, active_only);
    rc = sim_stmt_int(&q, &n);
    *known = n > 0;
    return rc;
}

static int assignment_exists(struct sim_ctx *c, const char *uid, const char *adam, const char *pp,
                             const char *cuid, const char *sn, int *yes)
{
    struct sim_stmt q;
    int64_t n = 0;
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q,
                          "SELECT COUNT(*) FROM assignments WHERE uid = ?1 AND adam_id = ?2 AND"
                          " pricing_param = ?3 AND (client_user_id = ?4 OR serial_number = ?5)")))
        return rc;
    sim_bind_text(&q, 1, uid);
    sim_bind_text(&q, 2, adam);
    sim_bind_text(&q, 3, pp);
    sim_bind_text(&q, 4, cuid);
    sim_bind_text(&q, 5, sn);
    rc = sim_stmt_int(&q, &n);
    *yes = n > 0;
    return rc;
}

/* assigned += delta of one asset, stamped with the write's seq. */
static int adjust_assigned(struct sim_ctx *c, struct sim_write *w, const char *adam, const char *pp,
                           int delta)
{
    struct sim_stmt q;
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q,
                          "UPDATE assets SET assigned = assigned + ?1, seq = ?2 WHERE uid = ?3 AND"
                          " adam_id = ?4 AND pricing_param = ?5")))
        return rc;
    sim_bind_int(&q, 1, delta);
    sim_bind_int(&q, 2, w->seq);
    sim_bind_text(&q, 3, w->uid);
    sim_bind_text(&q, 4, adam);
    sim_bind_text(&q, 5, pp);
    if ((rc = sim_stmt_exec(&q, NULL)))
        return rc;
    sim_write_touch(w, COLL_ASSETS);
    sim_write_touch(w, COLL_ASSIGNMENTS);
    return 0;
}

static int fail_task(struct sim_outcome *o, int number, const char *adam, const char *pp,
                     const char *cuid, const char *sn)
{
    sim_outcome_fail(o, number, item(adam, pp, cuid, sn), adam, pp, cuid, sn);
    return 0;
}

static int associate(struct sim_ctx *c, struct sim_write *w, const char *adam, const char *pp,
                     const char *cuid, const char *sn, struct sim_outcome *o)
{
    struct asset_row a;
    struct sim_stmt q;
    int known = 1, exists = 0, rc;

    if ((rc = asset_row(c, w->uid, adam, pp, &a)) ||
        (cuid && (rc = user_known(c, w->uid, cuid, 1, &known))))
        return rc;
    if (!known)
        return fail_task(o, VN_APPLE_USER_NOT_FOUND, adam, pp, cuid, sn);
    if (a.found && sn && !a.dev)
        return fail_task(o, VN_APPLE_ASSET_NOT_DEVICE_ASSIGNABLE, adam, pp, cuid, sn);
    if (a.found && (rc = assignment_exists(c, w->uid, adam, pp, cuid, sn, &exists)))
        return rc;
    if (exists) { /* already assigned: a success that consumes nothing */
        sim_outcome_ok(o, item(adam, pp, cuid, sn));
        return 0;
    }
    if (!a.found || (!a.unlimited && a.total - a.assigned <= 0))
        return fail_task(o, VN_APPLE_NOT_ENOUGH_LICENSES, adam, pp, cuid, sn);
    if ((rc = SIM_PREPARE(c->db, &q,
                          "INSERT INTO assignments(uid, adam_id, pricing_param, client_user_id,"
                          " serial_number, seq) VALUES(?1, ?2, ?3, ?4, ?5, ?6)")))
        return rc;
    sim_bind_text(&q, 1, w->uid);
    sim_bind_text(&q, 2, adam);
    sim_bind_text(&q, 3, pp);
    sim_bind_text(&q, 4, cuid);
    sim_bind_text(&q, 5, sn);
    sim_bind_int(&q, 6, w->seq);
    if ((rc = sim_stmt_exec(&q, NULL)) || (rc = adjust_assigned(c, w, adam, pp, 1)))
        return rc;
    sim_outcome_ok(o, item(adam, pp, cuid, sn));
    return 0;
}

static int disassociate(struct sim_ctx *c, struct sim_write *w, const char *adam, const char *pp,
                        const char *cuid, const char *sn, struct sim_outcome *o)
{
    struct asset_row a;
    struct sim_stmt q;
    int exists = 0, known = 1, rc;

    if ((rc = asset_row(c, w->uid, adam, pp, &a)))
        return rc;
    if (a.found && !a.rev)
        return fail_task(o, VN_APPLE_ASSET_NOT_REVOCABLE, adam, pp, cuid, sn);
    if (a.found && (rc = assignment_exists(c, w->uid, adam, pp, cuid, sn, &exists)))
        return rc;
    if (exists) {
        if ((rc = SIM_PREPARE(
                 c->db, &q,
                 "DELETE FROM assignments WHERE uid = ?1 AND adam_id = ?2 AND"
                 " pricing_param = ?3 AND (client_user_id = ?4 OR serial_number = ?5)")))
            return rc;
        sim_bind_text(&q, 1, w->uid);
        sim_bind_text(&q, 2, adam);
        sim_bind_text(&q, 3, pp);
        sim_bind_text(&q, 4, cuid);
        sim_bind_text(&q, 5, sn);
        if ((rc = sim_stmt_exec(&q, NULL)) || (rc = adjust_assigned(c, w, adam, pp, -1)))
            return rc;
        sim_outcome_ok(o, item(adam, pp, cuid, sn));
        return 0;
    }
    if (cuid && (rc = user_known(c, w->uid, cuid, 0, &known)))
        return rc;
    if (!known)
        return fail_task(o, VN_APPLE_USER_NOT_FOUND, adam, pp, cuid, sn);
    sim_outcome_ok(o, item(adam, pp, cuid, sn)); /* nothing was assigned: already done */
    return 0;
}

/* Revoke every revocable assignment of one user or serial. */
static int revoke_target(struct sim_ctx *c, struct sim_write *w, const char *cuid, const char *sn,
                         struct sim_outcome *o)
{
    struct sim_stmt q;
    json_t *rows = NULL, *e;
    size_t i;
    int known = 1, rc;

    if (cuid && (rc = user_known(c, w->uid, cuid, 0, &known)))
        return rc;
    if (!known) {
        sim_outcome_fail(o, VN_APPLE_USER_NOT_FOUND, item(NULL, NULL, cuid, NULL), NULL, NULL, cuid,
                         NULL);
        return 0;
    }
    if ((rc = SIM_PREPARE(c->db, &q,
                          "SELECT x.id AS id, x.adam_id AS adamId, x.pricing_param AS pp"
                          " FROM assignments x JOIN assets y ON y.uid = x.uid AND"
                          " y.adam_id = x.adam_id AND y.pricing_param = x.pricing_param"
                          " WHERE x.uid = ?1 AND (x.client_user_id = ?2 OR x.serial_number = ?3)"
                          " AND y.revocable = 1 ORDER BY x.id")))
        return rc;
    sim_bind_text(&q, 1, w->uid);
    sim_bind_text(&q, 2, cuid);
    sim_bind_text(&q, 3, sn);
    if ((rc = sim_stmt_rows(&q, &rows)))
        return rc;
    json_array_foreach(rows, i, e)
    {
        const char *adam = json_string_value(json_object_get(e, "adamId"));
        const char *pp = json_string_value(json_object_get(e, "pp"));
        if ((rc = SIM_PREPARE(c->db, &q, "DELETE FROM assignments WHERE id = ?1")))
            break;
        sim_bind_int(&q, 1, json_integer_value(json_object_get(e, "id")));
        if ((rc = sim_stmt_exec(&q, NULL)) || (rc = adjust_assigned(c, w, adam, pp, -1)))
            break;
        sim_outcome_ok(o, item(adam, pp, cuid, sn));
    }
    json_decref(rows);
    return rc;
}

int sim_assets_process(struct sim_ctx *c, const char *uid, const char *type, const json_t *req,
                       struct sim_outcome *o)
{
    json_t *assets = json_object_get(req, "assets");
    json_t *users = json_object_get(req, "clientUserIds");
    json_t *serials = json_object_get(req, "serialNumbers");
    struct sim_write w;
    size_t i, j;
    json_t *a, *t;
    int rc, number;

    if ((rc = sim_write_begin(c->db, &w, uid)))
        return rc;
    if (!strcmp(type, "REVOKE")) {
        json_t *lists[2] = {users, serials};
        for (int l = 0; l < 2 && rc == 0; l++)
            json_array_foreach(lists[l], j, t)
            {
                const char *cuid = l == 0 ? json_string_value(t) : NULL;
                const char *sn = l == 1 ? json_string_value(t) : NULL;
                if (!sim_outcome_turn(o))
                    continue;
                if (sim_outcome_injected(o, &number))
                    sim_outcome_fail(o, number, item(NULL, NULL, cuid, sn), NULL, NULL, cuid, sn);
                else if ((rc = revoke_target(c, &w, cuid, sn, o)))
                    break;
            }
    } else {
        int assoc = !strcmp(type, "ASSOCIATE");
        json_array_foreach(assets, i, a)
        {
            const char *adam = json_string_value(json_object_get(a, "adamId"));
            const char *pp = json_string_value(json_object_get(a, "pricingParam"));
            json_t *lists[2] = {users, serials};
            for (int l = 0; l < 2 && rc == 0; l++)
                json_array_foreach(lists[l], j, t)
                {
                    const char *cuid = l == 0 ? json_string_value(t) : NULL;
                    const char *sn = l == 1 ? json_string_value(t) : NULL;
                    if (!sim_outcome_turn(o))
                        continue;
                    if (sim_outcome_injected(o, &number))
                        rc = fail_task(o, number, adam, pp, cuid, sn);
                    else if (assoc)
                        rc = associate(c, &w, adam, pp, cuid, sn, o);
                    else
                        rc = disassociate(c, &w, adam, pp, cuid, sn, o);
                    if (rc)
                        break;
                }
            if (rc)
                break;
        }
    }
    if (rc == 0)
        rc = sim_write_end(c->db, c->rng, &w);
    return rc;
}

/* ---- purchases, refunds, transfers ------------------------------------------------------- */

static const char *str_or(const json_t *o, const char *k, const char *def)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : def;
}

/* Insert a purchased asset the location did not own. */
static int insert_asset(struct sim_ctx *c, struct sim_write *w, const char *adam, const char *pp,
                        int64_t total, const json_t *attrs)
{
    const char *pt = str_or(attrs, "productType", "App");
    json_t *plat = json_object_get(attrs, "supportedPlatforms");
    json_t *dv = json_object_get(attrs, "deviceAssignable"),
           *rv = json_object_get(attrs, "revocable");
    char *pt_text = json_is_array(plat) ? json_dumps(plat, JSON_COMPACT) : strdup("[\"iOS\"]");
    int app = !strcmp(pt, "App"), rc;
    struct sim_stmt q;

    if (!pt_text)
        return VN_ESTORE;
    if ((rc = SIM_PREPARE(c->db, &q,
                          "INSERT INTO assets(uid, adam_id, pricing_param, product_type, total,"
                          " device_assignable, revocable, platforms, seq)"
                          " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")) == 0) {
        sim_bind_text(&q, 1, w->uid);
        sim_bind_text(&q, 2, adam);
        sim_bind_text(&q, 3, pp);
        sim_bind_text(&q, 4, app ? "App" : "Book");
        sim_bind_int(&q, 5, total);
        sim_bind_int(&q, 6, json_is_boolean(dv) ? json_is_true(dv) : app);
        sim_bind_int(&q, 7, json_is_boolean(rv) ? json_is_true(rv) : app);
        sim_bind_text(&q, 8, pt_text);
        sim_bind_int(&q, 9, w->seq);
        rc = sim_stmt_exec(&q, NULL);
    }
    free(pt_text);
    return rc;
}

/* Change an asset's total by delta and send ASSET_COUNT. Inside the caller's transaction. */
static int asset_count(struct sim_ctx *c, const char *uid, const char *adam, const char *pp,
                       int64_t delta, const json_t *attrs, char *why, size_t whylen)
{
    struct sim_write w;
    struct asset_row a;
    struct sim_stmt q;
    json_t *p;
    int rc;

    if ((rc = asset_row(c, uid, adam, pp, &a)))
        return rc;
    if (!a.found && delta < 0) {
        snprintf(why, whylen, "location %s has no asset %s/%s", uid, adam, pp);
        return VN_ECONFLICT;
    }
    if (a.found && a.total - a.assigned + delta < 0) {
        snprintf(why, whylen, "only %lld unassigned licenses of %s/%s in %s",
                 (long long)(a.total - a.assigned), adam, pp, uid);
        return VN_ECONFLICT;
    }
    if ((rc = sim_write_begin(c->db, &w, uid)))
        return rc;
    if (!a.found)
        rc = insert_asset(c, &w, adam, pp, delta, attrs);
    else if ((rc = SIM_PREPARE(c->db, &q,
                               "UPDATE assets SET total = total + ?1, seq = ?2 WHERE uid = ?3 AND"
                               " adam_id = ?4 AND pricing_param = ?5")) == 0) {
        sim_bind_int(&q, 1, delta);
        sim_bind_int(&q, 2, w.seq);
        sim_bind_text(&q, 3, uid);
        sim_bind_text(&q, 4, adam);
        sim_bind_text(&q, 5, pp);
        rc = sim_stmt_exec(&q, NULL);
    }
    if (rc)
        return rc;
    sim_write_touch(&w, COLL_ASSETS);
    if ((rc = sim_write_end(c->db, c->rng, &w)))
        return rc;
    p = json_pack("{s:s, s:I, s:s}", "adamId", adam, "countDelta", (json_int_t)delta,
                  "pricingParam", pp);
    rc = sim_notify(c, uid, "ASSET_COUNT", NULL, p);
    json_decref(p);
    return rc;
}

int sim_assets_purchase(struct sim_ctx *c, const char *op, const char *uid, const char *to_uid,
                        const char *adam_id, const char *pricing_param, int64_t count,
                        const json_t *attrs, char *why, size_t whylen)
{
    int rc;

    if ((rc = sim_db_begin(c->db)))
        return rc;
    sim_notify_batch_begin(c);
    rc = asset_count(c, uid, adam_id, pricing_param, !strcmp(op, "purchase") ? count : -count,
                     attrs, why, whylen);
    if (rc == 0 && !strcmp(op, "transfer"))
        rc = asset_count(c, to_uid, adam_id, pricing_param, count, attrs, why, whylen);
    if (rc == 0)
        rc = sim_notify_batch_end(c);
    else
        sim_notify_batch_end(c);
    if (rc == 0)
        rc = sim_db_commit(c->db);
    else
        sim_db_rollback(c->db);
    return rc;
}
