/*
 * subs.c - see subs.h.
 */
#include "subs.h"

#include "ctx.h"
#include "db.h"
#include "location.h"
#include "outbox.h"
#include "outcome.h"
#include "users.h"

#include "vppnotify/apple_errors.h"
#include "vppnotify/error.h"
#include "vppnotify/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SUB_COLUMNS                                                                                \
    "s.adam_id AS adamId, s.parent_adam_id AS parentAdamId, s.status AS status,"                   \
    " s.period_end AS periodEndDate, s.total_renewing AS tr, s.total_expiring AS te,"              \
    " (SELECT COUNT(*) FROM sub_assignments a WHERE a.uid = s.uid AND a.adam_id = s.adam_id"       \
    "  AND a.renewing = 1) AS ar,"                                                                 \
    " (SELECT COUNT(*) FROM sub_assignments a WHERE a.uid = s.uid AND a.adam_id = s.adam_id"       \
    "  AND a.renewing = 0) AS ae,"                                                                 \
    " (SELECT COUNT(*) FROM sub_assignments a WHERE a.uid = s.uid AND a.adam_id = s.adam_id"       \
    "  AND a.seat_renewing = 1) AS sr,"                                                            \
    " (SELECT COUNT(*) FROM sub_assignments a WHERE a.uid = s.uid AND a.adam_id = s.adam_id"       \
    "  AND a.seat_renewing = 0) AS se"

static json_int_t geti(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static json_t *pair(json_int_t renewing, json_int_t expiring)
{
    return json_pack("{s:I, s:I}", "renewing", renewing, "expiring", expiring);
}

/* Turn a SUB_COLUMNS row into a ResponseSubscription (full) or the SUBSCRIPTION_COUNT payload. */
static json_t *sub_object(const json_t *row, int full)
{
    json_t *counts = json_object(), *o;
    json_int_t tr = geti(row, "tr"), te = geti(row, "te"), ar = geti(row, "ar"),
               ae = geti(row, "ae"), sr = geti(row, "sr"), se = geti(row, "se");
    json_t *parent = json_object_get(row, "parentAdamId");

    if (full)
        json_object_set_new(counts, "assigned", pair(ar, ae));
    json_object_set_new(counts, "available", pair(tr - sr, te - se));
    json_object_set_new(counts, "total", pair(tr, te));
    o = json_pack("{s:O, s:O, s:o}", "adamId", json_object_get(row, "adamId"), "parentAdamId",
                  parent ? parent : json_null(), "counts", counts);
    if (full) {
        json_object_set(o, "status", json_object_get(row, "status"));
        json_object_set(o, "periodEndDate", json_object_get(row, "periodEndDate"));
    }
    return o;
}

/* The SUB_COLUMNS row of one subscription (*row NULL when there is none). */
static int sub_row(struct sim_ctx *c, const char *uid, int64_t adam_id, json_t **row)
{
    struct sim_stmt q;
    json_t *rows = NULL;
    int rc;

    *row = NULL;
    if ((rc = SIM_PREPARE(c->db, &q,
                          "SELECT " SUB_COLUMNS " FROM subscriptions s"
                          " WHERE s.uid = ?1 AND s.adam_id = ?2")))
        return rc;
    sim_bind_text(&q, 1, uid);
    sim_bind_int(&q, 2, adam_id);
    if ((rc = sim_stmt_rows(&q, &rows)))
        return rc;
    *row = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return 0;
}

int sim_sub_counts(struct sim_ctx *c, const char *uid, int64_t adam_id, int with_assigned,
                   json_t **out)
{
    json_t *row = NULL, *o;
    int rc = sub_row(c, uid, adam_id, &row);

    *out = NULL;
    if (rc)
        return rc;
    if (!row)
        return VN_ENOTFOUND;
    o = sub_object(row, with_assigned);
    *out = json_incref(json_object_get(o, "counts"));
    json_decref(o);
    json_decref(row);
    return 0;
}

int sim_sub_notify_count(struct sim_ctx *c, const char *uid, int64_t adam_id)
{
    json_t *row = NULL, *p;
    int rc = sub_row(c, uid, adam_id, &row);

    if (rc || !row)
        return rc;
    p = sub_object(row, 0);
    rc = sim_notify(c, uid, "SUBSCRIPTION_COUNT", NULL, p);
    json_decref(p);
    json_decref(row);
    return rc;
}

int sim_subs_total(struct sim_ctx *c, const char *uid, int64_t *n)
{
    struct sim_stmt q;
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q, "SELECT COUNT(*) FROM subscriptions WHERE uid = ?1")))
        return rc;
    sim_bind_text(&q, 1, uid);
    return sim_stmt_int(&q, n);
}

int sim_sub_exists(struct sim_ctx *c, const char *uid, int64_t adam_id, int *yes)
{
    struct sim_stmt q;
    int64_t n = 0;
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q,
                          "SELECT COUNT(*) FROM subscriptions WHERE uid = ?1 AND adam_id = ?2")))
        return rc;
    sim_bind_text(&q, 1, uid);
    sim_bind_int(&q, 2, adam_id);
    rc = sim_stmt_int(&q, &n);
    *yes = n > 0;
    return rc;
}

/* ---- lists ------------------------------------------------------------------------------- */

int sim_subs_list(struct sim_ctx *c, const char *uid, const char *parents, const char *adams,
                  int64_t limit, int64_t offset, json_t **out)
{
    struct sim_stmt q;
    json_t *rows = NULL, *row;
    size_t i;
    int rc;

    *out = NULL;
    if ((rc = SIM_PREPARE(
             c->db, &q,
             "SELECT " SUB_COLUMNS " FROM subscriptions s WHERE s.uid = ?1"
             " AND (?2 IS NULL OR s.parent_adam_id IN (SELECT value FROM json_each(?2)))"
             " AND (?3 IS NULL OR s.adam_id IN (SELECT value FROM json_each(?3)))"
             " ORDER BY s.adam_id LIMIT ?4 OFFSET ?5")))
        return rc;
    sim_bind_text(&q, 1, uid);
    sim_bind_text(&q, 2, parents);
    sim_bind_text(&q, 3, adams);
    sim_bind_int(&q, 4, limit);
    sim_bind_int(&q, 5, offset);
    if ((rc = sim_stmt_rows(&q, &rows)))
        return rc;
    *out = json_array();
    json_array_foreach(rows, i, row) json_array_append_new(*out, sub_object(row, 1));
    json_decref(rows);
    return 0;
}

int sim_sub_assignments_list(struct sim_ctx *c, const char *uid, const char *parents,
                             const char *adams, const char *users, int64_t limit, int64_t offset,
                             json_t **out)
{
    struct sim_stmt q;
    int rc;

    if ((rc = SIM_PREPARE(
             c->db, &q,
             "SELECT a.adam_id AS adamId, a.client_user_id AS clientUserId,"
             " a.renewing AS \"b:renewing\" FROM sub_assignments a JOIN subscriptions s ON"
             " s.uid = a.uid AND s.adam_id = a.adam_id WHERE a.uid = ?1"
             " AND (?2 IS NULL OR s.parent_adam_id IN (SELECT value FROM json_each(?2)))"
             " AND (?3 IS NULL OR a.adam_id IN (SELECT value FROM json_each(?3)))"
             " AND (?4 IS NULL OR a.client_user_id IN (SELECT value FROM json_each(?4)))"
             " ORDER BY a.adam_id, a.client_user_id LIMIT ?5 OFFSET ?6")))
        return rc;
    sim_bind_text(&q, 1, uid);
    sim_bind_text(&q, 2, parents);
    sim_bind_text(&q, 3, adams);
    sim_bind_text(&q, 4, users);
    sim_bind_int(&q, 5, limit);
    sim_bind_int(&q, 6, offset);
    return sim_stmt_rows(&q, out);
}

int sim_sub_admins_list(struct sim_ctx *c, const char *uid, const char *adams, int include_state,
                        int64_t limit, int64_t offset, json_t **out)
{
    struct sim_stmt q;
    int rc;

    if ((rc = SIM_PREPARE(
             c->db, &q,
             "SELECT d.adam_id AS adamId, d.client_user_id AS clientUserId,"
             " (SELECT id_hash FROM users u WHERE u.uid = d.uid AND u.client_user_id ="
             "  d.client_user_id ORDER BY u.status <> 'Retired' DESC, u.id DESC LIMIT 1) AS idHash,"
             " CASE WHEN ?3 THEN (SELECT status FROM users u WHERE u.uid = d.uid AND"
             "  u.client_user_id = d.client_user_id ORDER BY u.status <> 'Retired' DESC, u.id DESC"
             "  LIMIT 1) END AS userStatus"
             " FROM sub_admins d WHERE d.uid = ?1"
             " AND (?2 IS NULL OR d.adam_id IN (SELECT value FROM json_each(?2)))"
             " ORDER BY d.adam_id, d.client_user_id LIMIT ?4 OFFSET ?5")))
        return rc;
    sim_bind_text(&q, 1, uid);
    sim_bind_text(&q, 2, adams);
    sim_bind_int(&q, 3, include_state != 0);
    sim_bind_int(&q, 4, limit);
    sim_bind_int(&q, 5, offset);
    return sim_stmt_rows(&q, out);
}

/* ---- assignments ------------------------------------------------------------------------- */

struct seat {
    int exists, renewing, deferred, via_group;
};

static int seat_row(struct sim_ctx *c, const char *uid, int64_t adam, const char *cuid,
                    struct seat *s)
{
    struct sim_stmt q;
    int rc;

    memset(s, 0, sizeof(*s));
    if ((rc = SIM_PREPARE(c->db, &q,
                          "SELECT renewing, deferred_event IS NOT NULL, via_group"
                          " FROM sub_assignments WHERE uid = ?1 AND adam_id = ?2"
                          " AND client_user_id = ?3")))
        return rc;
    sim_bind_text(&q, 1, uid);
    sim_bind_int(&q, 2, adam);
    sim_bind_text(&q, 3, cuid);
    if ((rc = sim_stmt_step(&q)) != SIM_ROW)
        return rc;
    s->exists = 1;
    s->renewing = sim_col_int(&q, 0) != 0;
    s->deferred = sim_col_int(&q, 1) != 0;
    s->via_group = sim_col_int(&q, 2) != 0;
    sim_stmt_reset(&q);
    return 0;
}

int sim_sub_assignment(struct sim_ctx *c, const char *uid, int64_t adam_id,
                       const char *client_user_id, int *exists, int *via_group)
{
    struct seat s;
    int rc = seat_row(c, uid, adam_id, client_user_id, &s);

    *exists = s.exists;
    *via_group = s.via_group;
    return rc;
}

int sim_subs_admins_change(struct sim_ctx *c, const char *uid, int add, const json_t *adams,
                           const json_t *users)
{
    struct sim_write w;
    struct sim_stmt q;
    size_t i, j;
    json_t *a, *u;
    int rc;

    if ((rc = sim_db_begin(c->db)))
        return rc;
    if ((rc = sim_write_begin(c->db, &w, uid)))
        goto out;
    json_array_foreach(adams, i, a)
    {
        json_array_foreach(users, j, u)
        {
            if (add)
                rc = SIM_PREPARE(c->db, &q,
                                 "INSERT OR IGNORE INTO sub_admins(uid, adam_id, client_user_id,"
                                 " seq) VALUES(?1, ?2, ?3, ?4)");
            else
                rc = SIM_PREPARE(c->db, &q,
                                 "DELETE FROM sub_admins WHERE uid = ?1 AND adam_id = ?2 AND"
                                 " client_user_id = ?3 AND ?4 IS NOT NULL");
            if (rc)
                goto out;
            sim_bind_text(&q, 1, uid);
            sim_bind_int(&q, 2, json_integer_value(a));
            sim_bind_text(&q, 3, json_string_value(u));
            sim_bind_int(&q, 4, w.seq);
            if ((rc = sim_stmt_exec(&q, NULL)))
                goto out;
        }
    }
    sim_write_touch(&w, COLL_ADMINS);
    if ((rc = sim_write_end(c->db, c->rng, &w)) == 0)
        rc = sim_db_commit(c->db);
out:
    if (rc)
        sim_db_rollback(c->db);
    return rc;
}

/* ---- business rules ---------------------------------------------------------------------- */

static json_t *sub_item(int64_t adam, const char *cuid, int renewing)
{
    return json_pack("{s:I, s:s, s:b}", "adamId", (json_int_t)adam, "clientUserId", cuid,
                     "renewing", renewing);
}

static int touch_sub(struct sim_ctx *c, struct sim_write *w, int64_t adam)
{
    struct sim_stmt q;
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q,
                          "UPDATE subscriptions SET seq = ?1 WHERE uid = ?2 AND adam_id = ?3")))
        return rc;
    sim_bind_int(&q, 1, w->seq);
    sim_bind_text(&q, 2, w->uid);
    sim_bind_int(&q, 3, adam);
    if ((rc = sim_stmt_exec(&q, NULL)))
        return rc;
    sim_write_touch(w, COLL_SUB_ASSIGNMENTS);
    sim_write_touch(w, COLL_SUBSCRIPTIONS);
    return 0;
}

static int sub_associate(struct sim_ctx *c, struct sim_write *w, int64_t adam, const char *cuid,
                         int renewing, const struct seat *cur, struct sim_outcome *o)
{
    char adam_text[32];
    json_t *counts = NULL;
    int64_t avail_r, avail_e;
    struct sim_stmt q;
    int assoc = 0, seat, rc;

    snprintf(adam_text, sizeof(adam_text), "%lld", (long long)adam);
    if (cur->exists) {
        sim_outcome_ok(o, sub_item(adam, cuid, cur->renewing));
        return 0;
    }
    if ((rc = sim_user_associated(c, w->uid, cuid, &assoc)))
        return rc;
    if (!assoc) {
        sim_outcome_fail(o, VN_APPLE_NO_ASSOCIATED_USER, sub_item(adam, cuid, renewing), adam_text,
                         NULL, cuid, NULL);
        return 0;
    }
    if ((rc = sim_sub_counts(c, w->uid, adam, 0, &counts)) && rc != VN_ENOTFOUND)
        return rc;
    avail_r = geti(json_object_get(counts, "available"), "renewing");
    avail_e = geti(json_object_get(counts, "available"), "expiring");
    json_decref(counts);
    if (renewing)
        seat = avail_r > 0 ? 1 : -1;
    else
        seat = avail_e > 0 ? 0 : avail_r > 0 ? 1 : -1;
    if (seat < 0) {
        sim_outcome_fail(o, VN_APPLE_NOT_ENOUGH_LICENSES, sub_item(adam, cuid, renewing), adam_text,
                         NULL, cuid, NULL);
        return 0;
    }
    if ((rc = SIM_PREPARE(c->db, &q,
                          "INSERT INTO sub_assignments(uid, adam_id, client_user_id, renewing,"
                          " seat_renewing, seq) VALUES(?1, ?2, ?3, ?4, ?5, ?6)")))
        return rc;
    sim_bind_text(&q, 1, w->uid);
    sim_bind_int(&q, 2, adam);
    sim_bind_text(&q, 3, cuid);
    sim_bind_int(&q, 4, renewing);
    sim_bind_int(&q, 5, seat);
    sim_bind_int(&q, 6, w->seq);
    if ((rc = sim_stmt_exec(&q, NULL)) || (rc = touch_sub(c, w, adam)))
        return rc;
    sim_outcome_ok(o, sub_item(adam, cuid, renewing));
    return 0;
}

static int sub_disassociate(struct sim_ctx *c, struct sim_write *w, int64_t adam, const char *cuid,
                            int deferred, const char *event_id, const struct seat *cur,
                            struct sim_outcome *o)
{
    struct sim_stmt q;
    int rc;

    if (!cur->exists) {
        sim_outcome_ok(o, sub_item(adam, cuid, 0)); /* already gone */
        return 0;
    }
    if (deferred) {
        if (cur->deferred)
            return 0;
        if ((rc = SIM_PREPARE(c->db, &q,
                              "UPDATE sub_assignments SET deferred_event = ?1, seq = ?2"
                              " WHERE uid = ?3 AND adam_id = ?4 AND client_user_id = ?5")))
            return rc;
        sim_bind_text(&q, 1, event_id);
        sim_bind_int(&q, 2, w->seq);
        sim_bind_text(&q, 3, w->uid);
        sim_bind_int(&q, 4, adam);
        sim_bind_text(&q, 5, cuid);
        if ((rc = sim_stmt_exec(&q, NULL)))
            return rc;
        o->deferred = 1;
        return 0;
    }
    if ((rc = SIM_PREPARE(c->db, &q,
                          "DELETE FROM sub_assignments WHERE uid = ?1 AND adam_id = ?2 AND"
                          " client_user_id = ?3")))
        return rc;
    sim_bind_text(&q, 1, w->uid);
    sim_bind_int(&q, 2, adam);
    sim_bind_text(&q, 3, cuid);
    if ((rc = sim_stmt_exec(&q, NULL)) || (rc = touch_sub(c, w, adam)))
        return rc;
    sim_outcome_ok(o, sub_item(adam, cuid, cur->renewing));
    return 0;
}

int sim_subs_process(struct sim_ctx *c, const char *uid, const char *type, const char *event_id,
                     const json_t *req, struct sim_outcome *o)
{
    int assoc = !strcmp(type, "ASSOCIATE");
    int flag = json_is_true(json_object_get(req, assoc ? "renewing" : "deferred"));
    json_t *adams = json_object_get(req, "adamIds"), *users = json_object_get(req, "clientUserIds");
    json_t *a, *u;
    struct sim_write w;
    size_t i, j;
    int rc, number;

    if ((rc = sim_write_begin(c->db, &w, uid)))
        return rc;
    json_array_foreach(adams, i, a)
    {
        json_array_foreach(users, j, u)
        {
            int64_t adam = (int64_t)json_integer_value(a);
            const char *cuid = json_string_value(u);
            struct seat cur;
            if (!sim_outcome_turn(o))
                continue;
            if (sim_outcome_injected(o, &number)) {
                char adam_text[32];
                snprintf(adam_text, sizeof(adam_text), "%lld", (long long)adam);
                sim_outcome_fail(o, number, sub_item(adam, cuid, assoc ? flag : 0), adam_text, NULL,
                                 cuid, NULL);
                continue;
            }
            if ((rc = seat_row(c, uid, adam, cuid, &cur)))
                return rc;
            rc = assoc ? sub_associate(c, &w, adam, cuid, flag, &cur, o)
                       : sub_disassociate(c, &w, adam, cuid, flag, event_id, &cur, o);
            if (rc)
                return rc;
        }
    }
    return sim_write_end(c->db, c->rng, &w);
}

/* ---- purchases and period end ------------------------------------------------------------ */

/* A date one month (add_months) after date, or after now when date is NULL or unreadable. */
static void date_after(const char *date, int add_months, int add_days, char out[16])
{
    int64_t ms;
    time_t t;
    struct tm tm;

    if (!date || vn_time_parse(date, &ms) != 0)
        ms = vn_now_ms();
    t = (time_t)(ms / 1000);
    gmtime_r(&t, &tm);
    tm.tm_mon += add_months;
    tm.tm_mday += add_days;
    t = timegm(&tm);
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

int sim_subs_purchase(struct sim_ctx *c, const char *uid, int64_t adam_id,
                      const int64_t *parent_adam_id, int64_t renewing, int64_t expiring,
                      const char *period_end, json_t **counts)
{
    struct sim_write w;
    struct sim_stmt q;
    char end[16];
    int rc;

    *counts = NULL;
    date_after(NULL, 0, 30, end);
    if ((rc = sim_db_begin(c->db)))
        return rc;
    sim_notify_batch_begin(c);
    if ((rc = sim_write_begin(c->db, &w, uid)) ||
        (rc = SIM_PREPARE(c->db, &q,
                          "INSERT INTO subscriptions(uid, adam_id, parent_adam_id, status,"
                          " period_end, total_renewing, total_expiring, seq)"
                          " VALUES(?1, ?2, ?3, 'ACTIVE', ?4, ?5, ?6, ?7)"
                          " ON CONFLICT(uid, adam_id) DO UPDATE SET"
                          " total_renewing = total_renewing + excluded.total_renewing,"
                          " total_expiring = total_expiring + excluded.total_expiring,"
                          " seq = excluded.seq")))
        goto out;
    sim_bind_text(&q, 1, uid);
    sim_bind_int(&q, 2, adam_id);
    sim_bind_opt_int(&q, 3, parent_adam_id);
    sim_bind_text(&q, 4, period_end ? period_end : end);
    sim_bind_int(&q, 5, renewing);
    sim_bind_int(&q, 6, expiring);
    sim_bind_int(&q, 7, w.seq);
    if ((rc = sim_stmt_exec(&q, NULL)))
        goto out;
    sim_write_touch(&w, COLL_SUBSCRIPTIONS);
    if ((rc = sim_write_end(c->db, c->rng, &w)) || (rc = sim_sub_notify_count(c, uid, adam_id)) ||
        (rc = sim_notify_batch_end(c)) || (rc = sim_db_commit(c->db)))
        goto out;
    return sim_sub_counts(c, uid, adam_id, 1, counts);
out:
    sim_notify_batch_end(c);
    sim_db_rollback(c->db);
    return rc;
}

/* Deferred disassociations of one subscription into ended (eventId -> items). */
static int collect_deferred(struct sim_ctx *c, const char *uid, int64_t adam, json_t *by_event,
                            int64_t *n)
{
    struct sim_stmt q;
    int rc;

    *n = 0;
    if ((rc = SIM_PREPARE(c->db, &q,
                          "SELECT client_user_id, renewing, deferred_event FROM sub_assignments"
                          " WHERE uid = ?1 AND adam_id = ?2 AND deferred_event IS NOT NULL")))
        return rc;
    sim_bind_text(&q, 1, uid);
    sim_bind_int(&q, 2, adam);
    while ((rc = sim_stmt_step(&q)) == SIM_ROW) {
        const char *e = sim_col_text(&q, 2);
        json_t *list = json_object_get(by_event, e);
        if (!list) {
            list = json_array();
            json_object_set_new(by_event, e, list);
        }
        json_array_append_new(list, sub_item(adam, sim_col_text(&q, 0), sim_col_int(&q, 1) != 0));
        (*n)++;
    }
    return rc;
}

/* End one subscription's period: the seats that end, the lapse, the next period. */
static int end_period(struct sim_ctx *c, struct sim_write *w, int64_t adam, const char *period,
                      int64_t *ended, char next[16])
{
    struct sim_stmt q;
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q,
                          "SELECT COUNT(*) FROM sub_assignments WHERE uid = ?1 AND adam_id = ?2"
                          " AND deferred_event IS NULL AND (renewing = 0 OR seat_renewing = 0)")))
        return rc;
    sim_bind_text(&q, 1, w->uid);
    sim_bind_int(&q, 2, adam);
    if ((rc = sim_stmt_int(&q, ended)))
        return rc;
    if ((rc = SIM_PREPARE(c->db, &q,
                          "DELETE FROM sub_assignments WHERE uid = ?1 AND adam_id = ?2 AND"
                          " (deferred_event IS NOT NULL OR renewing = 0 OR seat_renewing = 0)")))
        return rc;
    sim_bind_text(&q, 1, w->uid);
    sim_bind_int(&q, 2, adam);
    if ((rc = sim_stmt_exec(&q, NULL)))
        return rc;
    date_after(period, 1, 0, next);
    if ((rc = SIM_PREPARE(c->db, &q,
                          "UPDATE subscriptions SET total_expiring = 0, period_end = ?1, seq = ?2"
                          " WHERE uid = ?3 AND adam_id = ?4")))
        return rc;
    sim_bind_text(&q, 1, next);
    sim_bind_int(&q, 2, w->seq);
    sim_bind_text(&q, 3, w->uid);
    sim_bind_int(&q, 4, adam);
    if ((rc = sim_stmt_exec(&q, NULL)))
        return rc;
    sim_write_touch(w, COLL_SUBSCRIPTIONS);
    sim_write_touch(w, COLL_SUB_ASSIGNMENTS);
    return 0;
}

int sim_subs_period_end(struct sim_ctx *c, const char *uid, int64_t adam_id, json_t **summary,
                        json_t **ended)
{
    json_t *subs = NULL, *by_event = json_object(), *sub, *items;
    struct sim_write w;
    struct sim_stmt q;
    const char *ev;
    size_t i;
    int rc;

    *summary = json_array();
    *ended = json_object();
    if ((rc = SIM_PREPARE(c->db, &q,
                          "SELECT adam_id AS a, period_end AS p FROM subscriptions"
                          " WHERE uid = ?1 AND (?2 = 0 OR adam_id = ?2) ORDER BY adam_id")))
        goto out;
    sim_bind_text(&q, 1, uid);
    sim_bind_int(&q, 2, adam_id);
    if ((rc = sim_stmt_rows(&q, &subs)) || (rc = sim_write_begin(c->db, &w, uid)))
        goto out;
    json_array_foreach(subs, i, sub)
    {
        int64_t adam = geti(sub, "a"), deferred, expired;
        char next[16];
        if ((rc = collect_deferred(c, uid, adam, by_event, &deferred)) ||
            (rc = end_period(c, &w, adam, json_string_value(json_object_get(sub, "p")), &expired,
                             next)) ||
            (rc = sim_sub_notify_count(c, uid, adam)))
            goto out;
        json_array_append_new(*summary, json_pack("{s:I, s:I, s:I, s:s}", "adamId",
                                                  (json_int_t)adam, "deferredDisassociations",
                                                  (json_int_t)deferred, "expiredAssignments",
                                                  (json_int_t)expired, "periodEndDate", next));
    }
    if ((rc = sim_write_end(c->db, c->rng, &w)))
        goto out;
    json_object_foreach(by_event, ev, items)
    {
        json_t *base = json_pack("{s:s, s:s, s:s}", "type", "DISASSOCIATE", "result", "SUCCESS",
                                 "eventId", ev);
        rc = sim_notify_split(c, uid, "SUBSCRIPTION_MANAGEMENT", ev, base, "assignments", items);
        json_decref(base);
        if (rc)
            goto out;
        json_object_set_new(*ended, ev, json_integer((json_int_t)json_array_size(items)));
    }
out:
    json_decref(subs);
    json_decref(by_event);
    if (rc) {
        json_decref(*summary);
        json_decref(*ended);
        *summary = *ended = NULL;
    }
    return rc;
}

int sim_subs_deferred_left(struct sim_ctx *c, const char *event_id, int64_t *n)
{
    struct sim_stmt q;
    int rc;

    if ((rc = SIM_PREPARE(c->db, &q,
                          "SELECT COUNT(*) FROM sub_assignments WHERE deferred_event = ?1")))
        return rc;
    sim_bind_text(&q, 1, event_id);
    return sim_stmt_int(&q, n);
}
