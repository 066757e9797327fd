/*
 * subscriptions.c - subscription management (enable/disable), Get Subscriptions, Get
 * Subscription Assignments and Admins (cursor pagination), associate/disassociate (async,
 * with seat counting), admins add/remove, SUBSCRIPTION_COUNT and the billing-period end.
 *
 * Seat model (apple-api.md section 6.6): a subscription owns total.renewing and
 * total.expiring licenses. Each assignment has its own renewal state (`renewing`) and takes
 * its seat from one of the two pools (`seat_renewing`). So assigned.{renewing,expiring}
 * count assignments by their state, available.{renewing,expiring} are the pools minus the
 * seats taken from them, and assigned + available = total always holds.
 */
#include "sim.h"

#include "vppnotify/apple_errors.h"
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

static json_int_t geti(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static json_t *pair(json_int_t renewing, json_int_t expiring)
{
    return json_pack("{s:I, s:I}", "renewing", (json_int_t)renewing, "expiring",
                     (json_int_t)expiring);
}

/* Turn a SUB_COLUMNS row into a ResponseSubscription (or the SUBSCRIPTION_COUNT payload). */
static json_t *sub_object(json_t *row, int full)
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

json_t *sim_sub_counts(struct sim *s, const char *uid, int64_t adam_id, int with_assigned)
{
    json_t *rows = sim_query_json(s,
                                  "SELECT " SUB_COLUMNS " FROM subscriptions s"
                                  " WHERE s.uid = ? AND s.adam_id = ?",
                                  "ti", uid, adam_id);
    json_t *o = json_array_get(rows, 0) ? sub_object(json_array_get(rows, 0), with_assigned) : NULL;
    json_t *c = o ? json_incref(json_object_get(o, "counts")) : NULL;

    json_decref(o);
    json_decref(rows);
    return c;
}

void sim_sub_notify_count(struct sim *s, const char *uid, int64_t adam_id)
{
    json_t *rows = sim_query_json(s,
                                  "SELECT " SUB_COLUMNS " FROM subscriptions s"
                                  " WHERE s.uid = ? AND s.adam_id = ?",
                                  "ti", uid, adam_id);

    if (json_array_get(rows, 0)) {
        json_t *p = sub_object(json_array_get(rows, 0), 0);
        sim_notify(s, uid, "SUBSCRIPTION_COUNT", NULL, p);
        json_decref(p);
    }
    json_decref(rows);
}

/* ---------------------------------------------------------------------------------------- */

void api_subs_enable(struct sim_req *r)
{
    sim_exec(r->sim, "UPDATE locations SET subscription_mgmt = 1 WHERE uid = ?", "t", r->uid);
    sim_ok(r, json_pack("{s:b}", "subscriptionManagement", 1));
}

void api_subs_disable(struct sim_req *r)
{
    if (sim_query_int(r->sim, 0, "SELECT COUNT(*) FROM subscriptions WHERE uid = ?", "t", r->uid) >
        0) {
        sim_error(r, VN_APPLE_SUBSCRIPTIONS_EXIST);
        return;
    }
    sim_exec(r->sim, "UPDATE locations SET subscription_mgmt = 0 WHERE uid = ?", "t", r->uid);
    sim_ok(r, json_pack("{s:b}", "subscriptionManagement", 0));
}

/* A list of int64 ids from a query parameter, as JSON text for json_each (owned), NULL when
 * absent; -1 in *bad (9813 answered) when one is not a number. */
static char *id_list(struct sim_req *r, const char *name, int *bad)
{
    json_t *raw = sim_arg_list(r, name), *ids, *v;
    size_t i;
    char *text = NULL;

    *bad = 0;
    if (!json_array_size(raw)) {
        json_decref(raw);
        return NULL;
    }
    ids = json_array();
    json_array_foreach(raw, i, v)
    {
        long long n;
        if (vn_parse_ll(json_string_value(v), 1, INT64_MAX, &n) != 0) {
            *bad = 1;
            break;
        }
        json_array_append_new(ids, json_integer(n));
    }
    json_decref(raw);
    if (*bad) {
        json_decref(ids);
        sim_error(r, VN_APPLE_INVALID_ADAM_ID);
        return NULL;
    }
    text = json_dumps(ids, JSON_COMPACT);
    json_decref(ids);
    return text;
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
    if (sim_faults_version_change(r->sim))
        sim_state_perturb(r->sim, r->uid, c);
    return 0;
}

/* Finish a cursor page: rows has up to limit+1 entries; the extra one means "more". */
static void cursor_page(struct sim_req *r, enum sim_coll c, const char *key, json_t *rows,
                        int64_t offset)
{
    int64_t limit = r->sim->cfg->page_size;
    json_t *out = json_object();
    char ver[37];

    if ((int64_t)json_array_size(rows) > limit) {
        char cur[200];
        json_array_remove(rows, (size_t)limit);
        sim_cursor_encode(r->uid, c, offset + limit, cur, sizeof(cur));
        json_object_set_new(out, "nextCursor", json_string(cur));
    }
    sim_version_current(r->sim, r->uid, c, ver);
    json_object_set_new(out, key, rows);
    json_object_set_new(out, "versionId", json_string(ver));
    sim_ok(r, out);
}

void api_subs_get(struct sim_req *r)
{
    struct sim *s = r->sim;
    int bad;
    char *parents = id_list(r, "parentAdamId", &bad), *adams = NULL;
    int64_t offset;
    json_t *rows, *subs, *row;
    size_t i;

    if (bad || !(adams = id_list(r, "adamId", &bad), !bad) ||
        read_cursor(r, COLL_SUBSCRIPTIONS, &offset) < 0) {
        free(parents);
        free(adams);
        return;
    }
    rows =
        sim_query_json(s,
                       "SELECT " SUB_COLUMNS " FROM subscriptions s WHERE s.uid = ?1"
                       " AND (?2 IS NULL OR s.parent_adam_id IN (SELECT value FROM json_each(?2)))"
                       " AND (?3 IS NULL OR s.adam_id IN (SELECT value FROM json_each(?3)))"
                       " ORDER BY s.adam_id LIMIT ?4 OFFSET ?5",
                       "tttii", r->uid, parents, adams, s->cfg->page_size + 1, offset);
    free(parents);
    free(adams);
    if (!rows) {
        sim_error(r, VN_APPLE_INTERNAL_ERROR);
        return;
    }
    subs = json_array();
    json_array_foreach(rows, i, row) json_array_append_new(subs, sub_object(row, 1));
    json_decref(rows);
    cursor_page(r, COLL_SUBSCRIPTIONS, "subscriptions", subs, offset);
}

void api_subs_assignments_get(struct sim_req *r)
{
    struct sim *s = r->sim;
    int bad;
    char *parents = id_list(r, "parentAdamId", &bad), *adams = NULL, *users = NULL;
    int64_t offset;
    json_t *rows, *ul;

    if (bad || !(adams = id_list(r, "adamId", &bad), !bad) ||
        read_cursor(r, COLL_SUB_ASSIGNMENTS, &offset) < 0) {
        free(parents);
        free(adams);
        return;
    }
    ul = sim_arg_list(r, "clientUserId");
    if (json_array_size(ul))
        users = json_dumps(ul, JSON_COMPACT);
    json_decref(ul);
    rows = sim_query_json(
        s,
        "SELECT a.adam_id AS adamId, a.client_user_id AS clientUserId,"
        " a.renewing AS \"b:renewing\" FROM sub_assignments a JOIN subscriptions s ON"
        " s.uid = a.uid AND s.adam_id = a.adam_id WHERE a.uid = ?1"
        " AND (?2 IS NULL OR s.parent_adam_id IN (SELECT value FROM json_each(?2)))"
        " AND (?3 IS NULL OR a.adam_id IN (SELECT value FROM json_each(?3)))"
        " AND (?4 IS NULL OR a.client_user_id IN (SELECT value FROM json_each(?4)))"
        " ORDER BY a.adam_id, a.client_user_id LIMIT ?5 OFFSET ?6",
        "ttttii", r->uid, parents, adams, users, s->cfg->page_size + 1, offset);
    free(parents);
    free(adams);
    free(users);
    if (!rows) {
        sim_error(r, VN_APPLE_INTERNAL_ERROR);
        return;
    }
    cursor_page(r, COLL_SUB_ASSIGNMENTS, "assignments", rows, offset);
}

void api_subs_admins_get(struct sim_req *r)
{
    struct sim *s = r->sim;
    int bad, state = 0;
    char *adams = id_list(r, "adamId", &bad);
    int64_t offset;
    json_t *rows;

    if (bad || sim_arg_bool(r, "includeUserState", &state) < 0 ||
        read_cursor(r, COLL_ADMINS, &offset) < 0) {
        free(adams);
        return;
    }
    rows = sim_query_json(
        s,
        "SELECT d.adam_id AS adamId, d.client_user_id AS clientUserId,"
        " (SELECT id_hash FROM users u WHERE u.uid = d.uid AND u.client_user_id ="
        "  d.client_user_id ORDER BY u.status <> 'Retired' DESC, u.id DESC LIMIT 1) AS idHash,"
        " CASE WHEN ?3 THEN (SELECT status FROM users u WHERE u.uid = d.uid AND"
        "  u.client_user_id = d.client_user_id ORDER BY u.status <> 'Retired' DESC, u.id DESC"
        "  LIMIT 1) END AS userStatus"
        " FROM sub_admins d WHERE d.uid = ?1"
        " AND (?2 IS NULL OR d.adam_id IN (SELECT value FROM json_each(?2)))"
        " ORDER BY d.adam_id, d.client_user_id LIMIT ?4 OFFSET ?5",
        "ttiii", r->uid, adams, (int64_t)state, s->cfg->page_size + 1, offset);
    free(adams);
    if (!rows) {
        sim_error(r, VN_APPLE_INTERNAL_ERROR);
        return;
    }
    cursor_page(r, COLL_ADMINS, "admins", rows, offset);
}

/* ---------------------------------------------------------------------------------------- */

/* Validate {adamIds, clientUserIds} of a subscription request: 0, or -1 answered. Checks the
 * ids exist (9813) and each user is an associated registered user (9814). */
static int read_sub_request(struct sim_req *r, json_t **adams, json_t **users)
{
    struct sim *s = r->sim;
    json_t *a = json_object_get(r->json, "adamIds"), *u = json_object_get(r->json, "clientUserIds");
    json_t *seen, *v, *bad = NULL;
    size_t i;

    if (!json_is_array(a) || !json_array_size(a) || !json_is_array(u) || !json_array_size(u) ||
        !sim_strings_ok(u)) {
        sim_error(r, VN_APPLE_INVALID_SUBSCRIPTION_REQUEST);
        return -1;
    }
    if ((long long)json_array_size(a) > sim_limit(s, LIM_MAX_SUBSCRIPTIONS) ||
        (long long)json_array_size(u) > sim_limit(s, LIM_MAX_SUBSCRIPTION_CLIENT_USER_IDS)) {
        sim_error(r, VN_APPLE_TOO_MANY_SUBSCRIPTIONS);
        return -1;
    }
    seen = json_object();
    json_array_foreach(a, i, v)
    {
        char k[32];
        if (!json_is_integer(v) || json_integer_value(v) <= 0) {
            json_decref(seen);
            sim_error(r, VN_APPLE_INVALID_ADAM_ID);
            return -1;
        }
        snprintf(k, sizeof(k), "%lld", (long long)json_integer_value(v));
        if (json_object_get(seen, k)) {
            json_decref(seen);
            sim_error(r, VN_APPLE_INVALID_SUBSCRIPTION_REQUEST);
            return -1;
        }
        json_object_set_new(seen, k, json_true());
        if (!sim_query_int(s, 0, "SELECT COUNT(*) FROM subscriptions WHERE uid = ? AND adam_id = ?",
                           "ti", r->uid, (int64_t)json_integer_value(v))) {
            if (!bad)
                bad = json_array();
            json_array_append_new(bad, json_pack("{s:s}", "adamId", k));
        }
    }
    json_decref(seen);
    if (bad) {
        sim_error_info(r, VN_APPLE_INVALID_ADAM_ID, json_pack("{s:o}", "assets", bad), NULL);
        return -1;
    }
    if (sim_strings_dup(u)) {
        sim_error(r, VN_APPLE_INVALID_SUBSCRIPTION_REQUEST);
        return -1;
    }
    json_array_foreach(u, i, v)
    {
        if (!sim_query_int(s, 0,
                           "SELECT COUNT(*) FROM users WHERE uid = ? AND client_user_id = ? AND"
                           " status = 'Associated'",
                           "tt", r->uid, json_string_value(v))) {
            if (!bad)
                bad = json_array();
            json_array_append(bad, v);
        }
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

void api_subs_manage(struct sim_req *r)
{
    struct sim *s = r->sim;
    int assoc = !strcmp(strrchr(r->path, '/') + 1, "associate");
    json_t *adams, *users, *flag, *req, *a, *u, *bad = NULL;
    size_t i, j;
    char id[37];

    if (!sim_query_int(s, 0, "SELECT subscription_mgmt FROM locations WHERE uid = ?", "t",
                       r->uid)) {
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
    if (read_sub_request(r, &adams, &users) < 0)
        return;
    if (!assoc) {
        json_array_foreach(adams, i, a) json_array_foreach(users, j, u)
        {
            if (!sim_query_int(s, 0,
                               "SELECT COUNT(*) FROM sub_assignments WHERE uid = ? AND"
                               " adam_id = ? AND client_user_id = ?",
                               "tit", r->uid, (int64_t)json_integer_value(a),
                               json_string_value(u))) {
                if (!bad)
                    bad = json_array();
                json_array_append(bad, u);
            }
        }
        if (bad) {
            json_t *uniq = json_array(), *v, *seen = json_object();
            json_array_foreach(bad, i, v)
            {
                if (!json_object_get(seen, json_string_value(v))) {
                    json_object_set_new(seen, json_string_value(v), json_true());
                    json_array_append(uniq, v);
                }
            }
            json_decref(seen);
            json_decref(bad);
            sim_error_info(r, VN_APPLE_USER_NOT_ASSIGNED, json_pack("{s:o}", "clientUserIds", uniq),
                           NULL);
            return;
        }
    }
    req = json_pack("{s:O, s:O, s:b}", "adamIds", adams, "clientUserIds", users,
                    assoc ? "renewing" : "deferred",
                    assoc ? (flag ? json_is_true(flag) : 1) : json_is_true(flag));
    if (sim_event_create(s, r->uid, "subscriptions", assoc ? "ASSOCIATE" : "DISASSOCIATE",
                         (int64_t)(json_array_size(adams) * json_array_size(users)), req, id)) {
        json_decref(req);
        sim_error(r, VN_APPLE_INTERNAL_ERROR);
        return;
    }
    json_decref(req);
    sim_ok(r, json_pack("{s:s}", "eventId", id));
}

void api_subs_admins_manage(struct sim_req *r)
{
    struct sim *s = r->sim;
    int add = !strcmp(strrchr(r->path, '/') + 1, "add");
    json_t *adams, *users, *a, *u, *out;
    struct sim_write w;
    size_t i, j;
    char ver[37];

    if (read_sub_request(r, &adams, &users) < 0)
        return;
    if (sim_begin(s) != 0) {
        sim_error(r, VN_APPLE_INTERNAL_ERROR);
        return;
    }
    sim_write_begin(s, &w, r->uid);
    json_array_foreach(adams, i, a) json_array_foreach(users, j, u)
    {
        if (add)
            sim_exec(s,
                     "INSERT OR IGNORE INTO sub_admins(uid, adam_id, client_user_id, seq)"
                     " VALUES(?, ?, ?, ?)",
                     "titi", r->uid, (int64_t)json_integer_value(a), json_string_value(u), w.seq);
        else
            sim_exec(s,
                     "DELETE FROM sub_admins WHERE uid = ? AND adam_id = ? AND client_user_id = ?",
                     "tit", r->uid, (int64_t)json_integer_value(a), json_string_value(u));
    }
    sim_write_touch(&w, COLL_ADMINS);
    sim_write_end(s, &w);
    if (sim_commit(s) != 0) {
        sim_error(r, VN_APPLE_INTERNAL_ERROR);
        return;
    }
    sim_version_current(s, r->uid, COLL_ADMINS, ver);
    out = json_pack("{s:s}", "versionId", ver);
    sim_ok(r, out);
}

/* ---------------------------------------------------------------------------------------- */

static json_t *sub_item(int64_t adam, const char *cuid, int renewing)
{
    return json_pack("{s:I, s:s, s:b}", "adamId", (json_int_t)adam, "clientUserId", cuid,
                     "renewing", renewing);
}

void sim_subs_process(struct sim *s, const char *uid, const char *type, const char *event_id,
                      json_t *req, struct sim_outcome *o)
{
    int assoc = !strcmp(type, "ASSOCIATE");
    int flag = json_is_true(json_object_get(req, assoc ? "renewing" : "deferred"));
    json_t *adams = json_object_get(req, "adamIds"), *users = json_object_get(req, "clientUserIds");
    json_t *a, *u;
    struct sim_write w;
    size_t i, j;
    int64_t deferred = 0;

    sim_write_begin(s, &w, uid);
    json_array_foreach(adams, i, a) json_array_foreach(users, j, u)
    {
        int64_t adam = (int64_t)json_integer_value(a);
        const char *cuid = json_string_value(u);
        char adam_text[32];
        sqlite3_stmt *st;
        int exists, cur_renewing = 0, is_deferred = 0;

        if (!sim_outcome_turn(o))
            continue;
        st = sim_stmt(s, "SELECT renewing, deferred_event FROM sub_assignments"
                         " WHERE uid = ? AND adam_id = ? AND client_user_id = ?");
        snprintf(adam_text, sizeof(adam_text), "%lld", (long long)adam);
        sqlite3_bind_text(st, 1, uid, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, adam);
        sqlite3_bind_text(st, 3, cuid, -1, SQLITE_TRANSIENT);
        exists = sqlite3_step(st) == SQLITE_ROW;
        if (exists) {
            cur_renewing = sqlite3_column_int(st, 0);
            is_deferred = sqlite3_column_type(st, 1) != SQLITE_NULL;
        }
        sqlite3_reset(st);

        if (assoc) {
            json_t *c;
            int64_t avail_r, avail_e;
            int seat;
            if (exists) {
                sim_outcome_ok(o, sub_item(adam, cuid, cur_renewing));
                continue;
            }
            if (!sim_query_int(s, 0,
                               "SELECT COUNT(*) FROM users WHERE uid = ? AND client_user_id = ?"
                               " AND status = 'Associated'",
                               "tt", uid, cuid)) {
                sim_outcome_fail(o, VN_APPLE_NO_ASSOCIATED_USER, sub_item(adam, cuid, flag),
                                 adam_text, NULL, cuid, NULL);
                continue;
            }
            c = sim_sub_counts(s, uid, adam, 0);
            avail_r =
                json_integer_value(json_object_get(json_object_get(c, "available"), "renewing"));
            avail_e =
                json_integer_value(json_object_get(json_object_get(c, "available"), "expiring"));
            json_decref(c);
            if (flag)
                seat = avail_r > 0 ? 1 : -1;
            else
                seat = avail_e > 0 ? 0 : avail_r > 0 ? 1 : -1;
            if (seat < 0) {
                sim_outcome_fail(o, VN_APPLE_NOT_ENOUGH_LICENSES, sub_item(adam, cuid, flag),
                                 adam_text, NULL, cuid, NULL);
                continue;
            }
            sim_exec(s,
                     "INSERT INTO sub_assignments(uid, adam_id, client_user_id, renewing,"
                     " seat_renewing, seq) VALUES(?, ?, ?, ?, ?, ?)",
                     "titiii", uid, adam, cuid, (int64_t)flag, (int64_t)seat, w.seq);
            sim_exec(s, "UPDATE subscriptions SET seq = ? WHERE uid = ? AND adam_id = ?", "iti",
                     w.seq, uid, adam);
            sim_write_touch(&w, COLL_SUB_ASSIGNMENTS);
            sim_write_touch(&w, COLL_SUBSCRIPTIONS);
            sim_outcome_ok(o, sub_item(adam, cuid, flag));
        } else if (!exists) {
            sim_outcome_ok(o, sub_item(adam, cuid, 0)); /* already gone */
        } else if (flag) {
            if (!is_deferred) {
                sim_exec(s,
                         "UPDATE sub_assignments SET deferred_event = ?, seq = ? WHERE uid = ?"
                         " AND adam_id = ? AND client_user_id = ?",
                         "titit", event_id, w.seq, uid, adam, cuid);
                deferred++;
            }
        } else {
            sim_exec(s,
                     "DELETE FROM sub_assignments WHERE uid = ? AND adam_id = ? AND"
                     " client_user_id = ?",
                     "tit", uid, adam, cuid);
            sim_exec(s, "UPDATE subscriptions SET seq = ? WHERE uid = ? AND adam_id = ?", "iti",
                     w.seq, uid, adam);
            sim_write_touch(&w, COLL_SUB_ASSIGNMENTS);
            sim_write_touch(&w, COLL_SUBSCRIPTIONS);
            sim_outcome_ok(o, sub_item(adam, cuid, cur_renewing));
        }
    }
    if (deferred)
        o->deferred = 1;
    sim_write_end(s, &w);
}

/* ---------------------------------------------------------------------------------------- */

static void next_period(const char *date, char out[16])
{
    int64_t ms;
    time_t t;
    struct tm tm;

    if (vn_time_parse(date, &ms) != 0)
        ms = vn_now_ms();
    t = (time_t)(ms / 1000);
    gmtime_r(&t, &tm);
    tm.tm_mon += 1;
    t = timegm(&tm);
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

json_t *sim_sub_period_end(struct sim *s, const char *uid, int64_t adam_id)
{
    json_t *subs = sim_query_json(s,
                                  "SELECT adam_id AS a, period_end AS p FROM subscriptions"
                                  " WHERE uid = ? AND (? = 0 OR adam_id = ?) ORDER BY adam_id",
                                  "tii", uid, adam_id, adam_id);
    json_t *by_event = json_object(), *summary = json_array(), *sub, *items;
    struct sim_write w;
    const char *ev;
    size_t i;

    sim_write_begin(s, &w, uid);
    json_array_foreach(subs, i, sub)
    {
        int64_t adam = (int64_t)json_integer_value(json_object_get(sub, "a"));
        json_t *def = sim_query_json(s,
                                     "SELECT client_user_id AS c, renewing AS r,"
                                     " deferred_event AS e FROM sub_assignments WHERE uid = ?"
                                     " AND adam_id = ? AND deferred_event IS NOT NULL",
                                     "ti", uid, adam);
        json_t *d;
        size_t k;
        int64_t ended, deferred = (int64_t)json_array_size(def);
        char next[16];

        json_array_foreach(def, k, d)
        {
            const char *e = json_string_value(json_object_get(d, "e"));
            json_t *list = json_object_get(by_event, e);
            if (!list) {
                list = json_array();
                json_object_set_new(by_event, e, list);
            }
            json_array_append_new(list, sub_item(adam, json_string_value(json_object_get(d, "c")),
                                                 (int)json_integer_value(json_object_get(d, "r"))));
        }
        json_decref(def);
        /* Deferred disassociations end; expiring assignments end; expiring licenses lapse. */
        ended = sim_query_int(s, 0,
                              "SELECT COUNT(*) FROM sub_assignments WHERE uid = ? AND adam_id = ?"
                              " AND deferred_event IS NULL AND (renewing = 0 OR seat_renewing = 0)",
                              "ti", uid, adam);
        sim_exec(s,
                 "DELETE FROM sub_assignments WHERE uid = ? AND adam_id = ? AND"
                 " (deferred_event IS NOT NULL OR renewing = 0 OR seat_renewing = 0)",
                 "ti", uid, adam);
        next_period(json_string_value(json_object_get(sub, "p")), next);
        sim_exec(s,
                 "UPDATE subscriptions SET total_expiring = 0, period_end = ?, seq = ?"
                 " WHERE uid = ? AND adam_id = ?",
                 "titi", next, w.seq, uid, adam);
        sim_write_touch(&w, COLL_SUBSCRIPTIONS);
        sim_write_touch(&w, COLL_SUB_ASSIGNMENTS);
        sim_sub_notify_count(s, uid, adam);
        json_array_append_new(summary, json_pack("{s:I, s:I, s:I, s:s}", "adamId", (json_int_t)adam,
                                                 "deferredDisassociations", (json_int_t)deferred,
                                                 "expiredAssignments", (json_int_t)ended,
                                                 "periodEndDate", next));
    }
    sim_write_end(s, &w);
    json_object_foreach(by_event, ev, items)
    {
        json_t *base = json_pack("{s:s, s:s, s:s}", "type", "DISASSOCIATE", "result", "SUCCESS",
                                 "eventId", ev);
        sim_notify_split(s, uid, "SUBSCRIPTION_MANAGEMENT", ev, base, "assignments", items);
        json_decref(base);
        if (!sim_query_int(s, 0, "SELECT COUNT(*) FROM sub_assignments WHERE deferred_event = ?",
                           "t", ev)) {
            int64_t done =
                sim_query_int(s, 0, "SELECT num_completed FROM events WHERE event_id = ?", "t", ev);
            sim_event_finish(s, ev, done + (int64_t)json_array_size(items), NULL);
        } else {
            sim_exec(s, "UPDATE events SET num_completed = num_completed + ? WHERE event_id = ?",
                     "it", (int64_t)json_array_size(items), ev);
        }
    }
    json_decref(by_event);
    json_decref(subs);
    return summary;
}
