/*
 * control.c - the /_sim/ control API: everything a test or a developer needs that Apple's
 * service does not offer (docs/VPPSIM.md lists each endpoint with a curl example). JSON in,
 * JSON out; errors are {"error": "..."} with 400 (bad input), 404 (unknown uId or path),
 * 405, 409 (state does not allow it) or 504 (settle timed out). Never rate-limited, never
 * authenticated: bind vppsim to loopback.
 */
#include "sim.h"

#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define YEAR_MS (365LL * 24 * 3600 * 1000)

static const char *str_or(const json_t *o, const char *k, const char *def)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : def;
}

/* 1 if uid names a location; otherwise answers 404 and returns 0. */
static int location_ok(struct sim_req *r, const char *uid)
{
    if (uid && sim_query_int(r->sim, 0, "SELECT COUNT(*) FROM locations WHERE uid = ?", "t", uid))
        return 1;
    sim_fail(r, 404, "unknown uId '%s'", uid ? uid : "(missing)");
    return 0;
}

/* Issue a new sToken of a kind (enum sim_token_kind) for uid: returns the Base64 text (owned).
 * Locked. */
static char *issue_token(struct sim *s, const char *uid, const char *org, int64_t exp_ms, int kind)
{
    unsigned char raw[24];
    char inner[64], exp[VN_TIME_ISO_LEN], *json, *b64;
    json_t *o;
    size_t len, cap;

    sim_rng_bytes(s, raw, sizeof(raw));
    sodium_bin2base64(inner, sizeof(inner), raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
    vn_time_apple(exp_ms, exp);
    o = json_pack("{s:s, s:s, s:s}", "token", inner, "expDate", exp, "orgName", org);
    json = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    len = strlen(json);
    cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    b64 = malloc(cap);
    sodium_bin2base64(b64, cap, (const unsigned char *)json, len, sodium_base64_VARIANT_ORIGINAL);
    free(json);
    sim_exec(s,
             "INSERT INTO tokens(token, uid, stoken, exp_ms, revoked, created_ms, kind)"
             " VALUES(?, ?, ?, ?, 0, ?, ?)",
             "tttiit", inner, uid, b64, exp_ms, vn_now_ms(), sim_token_kind_names[kind]);
    return b64;
}

json_t *sim_location_create(struct sim *s, const json_t *o, struct vn_error *err)
{
    char uid[40], exp_text[VN_TIME_ISO_LEN], *stoken;
    const char *want = str_or(o, "uId", NULL), *org = str_or(o, "orgName", "vppsim Org");
    const char *exp = str_or(o, "expDate", NULL);
    const char *kind_name = str_or(o, "tokenKind", "normal");
    int64_t exp_ms = vn_now_ms() + YEAR_MS;
    int kind = sim_token_kind_parse(kind_name);
    json_t *out;

    if (want) {
        if (!vn_is_digits(want, strlen(want)) || strlen(want) >= sizeof(uid)) {
            vn_error_set(err, VN_EPARSE, "uId '%s' must be digits", want);
            return NULL;
        }
        if (sim_query_int(s, 0, "SELECT COUNT(*) FROM locations WHERE uid = ?", "t", want)) {
            vn_error_set(err, VN_EDUP, "location '%s' exists already", want);
            return NULL;
        }
        vn_strlcpy(uid, want, sizeof(uid));
    } else {
        do {
            snprintf(uid, sizeof(uid), "2049%012llu",
                     (unsigned long long)sim_rng_uniform(s, 1000000000000ULL));
        } while (sim_query_int(s, 0, "SELECT COUNT(*) FROM locations WHERE uid = ?", "t", uid));
    }
    if (exp && vn_time_parse(exp, &exp_ms) != 0) {
        vn_error_set(err, VN_EPARSE, "expDate '%s' is not a date such as 2030-11-08T22:33:22+0000",
                     exp);
        return NULL;
    }
    if (kind < 0) {
        vn_error_set(err, VN_EPARSE, "tokenKind '%s': expected normal, read-only or legacy",
                     kind_name);
        return NULL;
    }
    sim_exec(s,
             "INSERT INTO locations(uid, org_name, location_name, country, website_url,"
             " default_platform, subscription_mgmt, created_ms) VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
             "ttttttii", uid, org, str_or(o, "locationName", "vppsim Location"),
             str_or(o, "countryISO2ACode", "US"),
             str_or(o, "websiteURL", "https://business.apple.com"),
             str_or(o, "defaultPlatform", "volumestore"),
             (int64_t)json_is_true(json_object_get(o, "subscriptionManagement")), vn_now_ms());
    for (int c = 0; c < COLL_COUNT; c++) {
        char v[37];
        sim_uuid(s, v);
        sim_exec(s, "INSERT INTO versions(uid, coll, version_id, seq) VALUES(?, ?, ?, 0)", "tit",
                 uid, (int64_t)c, v);
    }
    stoken = issue_token(s, uid, org, exp_ms, kind);
    vn_time_apple(exp_ms, exp_text);
    out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "uId", uid, "sToken", stoken, "orgName", org,
                    "locationName", str_or(o, "locationName", "vppsim Location"), "expDate",
                    exp_text, "tokenKind", sim_token_kind_names[kind]);
    free(stoken);
    vn_log_info("location %s created", uid);
    return out;
}

/* ---------------------------------------------------------------------------------------- */

static void c_locations(struct sim_req *r)
{
    struct vn_error err = {0};
    json_t *out;

    if (!strcmp(r->method, "GET")) {
        sim_ok(r, json_pack("{s:o}", "locations",
                            sim_query_json(r->sim,
                                           "SELECT uid AS uId, org_name AS orgName,"
                                           " location_name AS locationName,"
                                           " (SELECT kind FROM tokens t WHERE t.uid ="
                                           " locations.uid ORDER BY t.created_ms DESC,"
                                           " t.rowid DESC LIMIT 1) AS tokenKind"
                                           " FROM locations ORDER BY created_ms, uid",
                                           "")));
        return;
    }
    out = sim_location_create(r->sim, r->json, &err);
    if (!out)
        sim_fail(r, err.code == VN_EDUP ? 409 : 400, "%s", err.msg);
    else
        sim_ok(r, out);
}

static void c_token(struct sim_req *r)
{
    struct sim *s = r->sim;
    const char *uid = str_or(r->json, "uId", NULL), *action = str_or(r->json, "action", "");
    json_t *out;

    if (!location_ok(r, uid))
        return;
    out = json_pack("{s:s, s:s}", "uId", uid, "action", action);
    if (!strcmp(action, "expire")) {
        sim_exec(s, "UPDATE tokens SET exp_ms = ? WHERE uid = ?", "it", vn_now_ms() - 1000, uid);
    } else if (!strcmp(action, "revoke")) {
        sim_exec(s, "UPDATE tokens SET revoked = 1 WHERE uid = ?", "t", uid);
    } else if (sim_token_kind_parse(action) > TOKEN_NORMAL) {
        /* Only the kind changes: an expired or revoked token still answers 9621 or 9625. */
        sim_exec(s, "UPDATE tokens SET kind = ? WHERE uid = ?", "tt",
                 sim_token_kind_names[sim_token_kind_parse(action)], uid);
    } else if (!strcmp(action, "restore")) {
        sim_exec(s,
                 "UPDATE tokens SET revoked = 0, exp_ms = MAX(exp_ms, ?), kind = 'normal'"
                 " WHERE uid = ?",
                 "it", vn_now_ms() + YEAR_MS, uid);
    } else if (!strcmp(action, "renew")) {
        char *org = sim_query_text(s, "SELECT org_name FROM locations WHERE uid = ?", "t", uid);
        char *tok;
        sim_exec(s, "UPDATE tokens SET revoked = 1 WHERE uid = ?", "t", uid);
        tok = issue_token(s, uid, org ? org : "", vn_now_ms() + YEAR_MS, TOKEN_NORMAL);
        json_object_set_new(out, "sToken", json_string(tok));
        free(tok);
        free(org);
    } else {
        json_decref(out);
        sim_fail(r, 400,
                 "action '%s': expected expire, revoke, read-only, legacy, restore or renew",
                 action);
        return;
    }
    sim_ok(r, out);
}

static void c_seed(struct sim_req *r)
{
    struct vn_error err = {0};
    json_t *out = sim_seed(r->sim, r->json, &err);

    if (!out)
        sim_fail(r, err.code == VN_ENOTFOUND ? 404 : 400, "%s", err.msg);
    else
        sim_ok(r, out);
}

/* Change an asset's total by delta and send ASSET_COUNT. Locked, in a transaction. */
static int asset_count(struct sim *s, const char *uid, const char *adam, const char *pp,
                       int64_t delta, const json_t *attrs, char *why, size_t whylen)
{
    struct sim_write w;
    int64_t avail = sim_query_int(s, -1,
                                  "SELECT total - assigned FROM assets WHERE uid = ? AND"
                                  " adam_id = ? AND pricing_param = ?",
                                  "ttt", uid, adam, pp);
    json_t *p;

    if (avail < 0 && delta < 0) {
        snprintf(why, whylen, "location %s has no asset %s/%s", uid, adam, pp);
        return -1;
    }
    if (avail >= 0 && avail + delta < 0) {
        snprintf(why, whylen, "only %lld unassigned licenses of %s/%s in %s", (long long)avail,
                 adam, pp, uid);
        return -1;
    }
    sim_write_begin(s, &w, uid);
    if (avail < 0) {
        const char *pt = str_or(attrs, "productType", "App");
        json_t *plat = json_object_get(attrs, "supportedPlatforms"), *dv, *rv;
        char *pt_text = json_is_array(plat) ? json_dumps(plat, JSON_COMPACT) : strdup("[\"iOS\"]");
        int app = !strcmp(pt, "App");
        dv = json_object_get(attrs, "deviceAssignable");
        rv = json_object_get(attrs, "revocable");
        sim_exec(s,
                 "INSERT INTO assets(uid, adam_id, pricing_param, product_type, total,"
                 " device_assignable, revocable, platforms, seq) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 "ttttiiiti", uid, adam, pp, app ? "App" : "Book", delta,
                 (int64_t)(json_is_boolean(dv) ? json_is_true(dv) : app),
                 (int64_t)(json_is_boolean(rv) ? json_is_true(rv) : app), pt_text, w.seq);
        free(pt_text);
    } else {
        sim_exec(s,
                 "UPDATE assets SET total = total + ?, seq = ? WHERE uid = ? AND adam_id = ? AND"
                 " pricing_param = ?",
                 "iittt", delta, w.seq, uid, adam, pp);
    }
    sim_write_touch(&w, COLL_ASSETS);
    sim_write_end(s, &w);
    p = json_pack("{s:s, s:I, s:s}", "adamId", adam, "countDelta", (json_int_t)delta,
                  "pricingParam", pp);
    sim_notify(s, uid, "ASSET_COUNT", NULL, p);
    json_decref(p);
    return 0;
}

static void c_purchase(struct sim_req *r)
{
    struct sim *s = r->sim;
    const char *op = strrchr(r->path, '/') + 1;
    const char *uid = str_or(r->json, "uId", NULL), *to = str_or(r->json, "toUId", NULL);
    const char *pp = str_or(r->json, "pricingParam", "STDQ");
    json_t *a = json_object_get(r->json, "adamId"), *cnt = json_object_get(r->json, "count");
    char adam[32], why[256];
    int64_t n;

    if (!location_ok(r, uid) || (!strcmp(op, "transfer") && !location_ok(r, to)))
        return;
    if (json_is_string(a) && vn_is_digits(json_string_value(a), json_string_length(a)) &&
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
    if (sim_begin(s) != 0) {
        sim_fail(r, 500, "cannot start a transaction");
        return;
    }
    sim_notify_batch_begin(s);
    if (asset_count(s, uid, adam, pp, !strcmp(op, "purchase") ? n : -n, r->json, why,
                    sizeof(why)) != 0 ||
        (!strcmp(op, "transfer") && asset_count(s, to, adam, pp, n, r->json, why, sizeof(why)))) {
        sim_notify_batch_end(s);
        sim_rollback(s);
        sim_fail(r, 409, "%s", why);
        return;
    }
    sim_notify_batch_end(s);
    if (sim_commit(s) != 0) {
        sim_fail(r, 500, "cannot commit");
        return;
    }
    sim_ok(r, json_pack("{s:s, s:s, s:s, s:I}", "uId", uid, "adamId", adam, "pricingParam", pp,
                        "countDelta", (json_int_t)(!strcmp(op, "purchase") ? n : -n)));
}

static void c_users_accept(struct sim_req *r)
{
    struct sim *s = r->sim;
    const char *uid = str_or(r->json, "uId", NULL);
    json_t *ids = json_object_get(r->json, "clientUserIds"), *v, *accepted, *skipped;
    struct sim_write w;
    size_t i;

    if (!location_ok(r, uid))
        return;
    if (!json_is_array(ids) || !json_array_size(ids) || !sim_strings_ok(ids)) {
        sim_fail(r, 400, "clientUserIds must be a non-empty array of strings");
        return;
    }
    accepted = json_array();
    skipped = json_array();
    sim_begin(s);
    sim_write_begin(s, &w, uid);
    sim_notify_batch_begin(s);
    json_array_foreach(ids, i, v)
    {
        const char *cuid = json_string_value(v);
        int64_t id = sim_query_int(s, 0,
                                   "SELECT id FROM users WHERE uid = ? AND client_user_id = ? AND"
                                   " status = 'Registered'",
                                   "tt", uid, cuid);
        unsigned char b[20];
        char hash[64];
        if (!id) {
            json_array_append(skipped, v);
            continue;
        }
        sim_rng_bytes(s, b, sizeof(b));
        sodium_bin2base64(hash, sizeof(hash), b, sizeof(b), sodium_base64_VARIANT_ORIGINAL);
        sim_exec(s, "UPDATE users SET status = 'Associated', id_hash = ?, seq = ? WHERE id = ?",
                 "tii", hash, w.seq, id);
        json_array_append_new(accepted, sim_user_json(s, uid, cuid));
    }
    if (json_array_size(accepted)) {
        json_t *base = json_object();
        sim_write_touch(&w, COLL_USERS);
        sim_notify_split(s, uid, "USER_ASSOCIATED", NULL, base, "associatedUsers", accepted);
        json_decref(base);
    }
    sim_write_end(s, &w);
    sim_notify_batch_end(s);
    sim_commit(s);
    sim_ok(r, json_pack("{s:o, s:o}", "associatedUsers", accepted, "skipped", skipped));
}

static void c_subs_purchase(struct sim_req *r)
{
    struct sim *s = r->sim;
    const char *uid = str_or(r->json, "uId", NULL);
    json_t *adam = json_object_get(r->json, "adamId"),
           *parent = json_object_get(r->json, "parentAdamId");
    json_t *ren = json_object_get(r->json, "renewing"), *exp = json_object_get(r->json, "expiring");
    struct sim_write w;
    char end[16];
    time_t t = (time_t)(vn_now_ms() / 1000 + 30 * 86400);
    struct tm tm;
    int64_t a;

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
    if (!sim_query_int(s, 0, "SELECT subscription_mgmt FROM locations WHERE uid = ?", "t", uid)) {
        sim_fail(r, 409,
                 "subscription management is not enabled for location %s"
                 " (POST /mdm/v2/subscriptions/enable first)",
                 uid);
        return;
    }
    a = (int64_t)json_integer_value(adam);
    gmtime_r(&t, &tm);
    strftime(end, sizeof(end), "%Y-%m-%d", &tm);
    sim_begin(s);
    sim_write_begin(s, &w, uid);
    sim_exec(s,
             "INSERT INTO subscriptions(uid, adam_id, parent_adam_id, status, period_end,"
             " total_renewing, total_expiring, seq) VALUES(?, ?, ?, 'ACTIVE', ?, ?, ?, ?)"
             " ON CONFLICT(uid, adam_id) DO UPDATE SET"
             " total_renewing = total_renewing + excluded.total_renewing,"
             " total_expiring = total_expiring + excluded.total_expiring, seq = excluded.seq",
             "tiotiii", uid, a,
             json_is_integer(parent) ? &(long long){json_integer_value(parent)} : NULL,
             str_or(r->json, "periodEndDate", end), (int64_t)json_integer_value(ren),
             (int64_t)json_integer_value(exp), w.seq);
    sim_write_touch(&w, COLL_SUBSCRIPTIONS);
    sim_write_end(s, &w);
    sim_notify_batch_begin(s);
    sim_sub_notify_count(s, uid, a);
    sim_notify_batch_end(s);
    sim_commit(s);
    sim_ok(r, json_pack("{s:s, s:I, s:o}", "uId", uid, "adamId", (json_int_t)a, "counts",
                        sim_sub_counts(s, uid, a, 1)));
}

static void c_period_end(struct sim_req *r)
{
    struct sim *s = r->sim;
    const char *uid = str_or(r->json, "uId", NULL);
    json_t *adam = json_object_get(r->json, "adamId"), *out;

    if (!location_ok(r, uid))
        return;
    if (adam && !json_is_integer(adam)) {
        sim_fail(r, 400, "adamId must be an integer");
        return;
    }
    sim_begin(s);
    sim_notify_batch_begin(s);
    out = sim_sub_period_end(s, uid, adam ? (int64_t)json_integer_value(adam) : 0);
    sim_notify_batch_end(s);
    sim_commit(s);
    sim_ok(r, json_pack("{s:s, s:o}", "uId", uid, "subscriptions", out));
}

static void c_faults(struct sim_req *r)
{
    struct vn_error err = {0};

    if (!strcmp(r->method, "POST") && sim_faults_update(r->sim, r->json, &err) != 0) {
        sim_fail(r, 400, "%s", err.msg);
        return;
    }
    sim_ok(r, sim_faults_json(r->sim));
}

static void add_times(json_t *rows, const char *ms_key, const char *iso_key)
{
    size_t i;
    json_t *e;

    json_array_foreach(rows, i, e)
    {
        json_t *ms = json_object_get(e, ms_key);
        char t[VN_TIME_ISO_LEN];
        if (!json_is_integer(ms))
            continue;
        vn_time_iso((int64_t)json_integer_value(ms), t);
        json_object_set_new(e, iso_key, json_string(t));
    }
}

static void c_deliveries(struct sim_req *r)
{
    long long limit = 10000, since = 0;
    json_t *rows;

    if (sim_arg_int(r, "limit", 1, 100000, &limit) < 0 ||
        sim_arg_int(r, "afterId", 0, INT64_MAX, &since) < 0)
        return;
    rows = sim_query_json(
        r->sim,
        "SELECT id, notification_id AS notificationId, type AS notificationType,"
        " event_id AS eventId, uid AS uId, attempt, duplicate AS \"b:duplicate\","
        " status, error, time_ms AS timeMs, duration_ms AS durationMs"
        " FROM deliveries WHERE (?1 IS NULL OR uid = ?1)"
        " AND (?2 IS NULL OR event_id = ?2) AND (?3 IS NULL OR notification_id = ?3)"
        " AND (?4 IS NULL OR type = ?4) AND id > ?5 ORDER BY id LIMIT ?6",
        "ttttii", sim_arg(r, "uId"), sim_arg(r, "eventId"), sim_arg(r, "notificationId"),
        sim_arg(r, "type"), (int64_t)since, (int64_t)limit);
    add_times(rows, "timeMs", "time");
    sim_ok(r, json_pack("{s:o}", "deliveries", rows ? rows : json_array()));
}

static void c_notifications_get(struct sim_req *r)
{
    long long limit = 10000;
    json_t *rows;

    if (sim_arg_int(r, "limit", 1, 100000, &limit) < 0)
        return;
    rows = sim_query_json(r->sim,
                          "SELECT notification_id AS notificationId, type AS notificationType,"
                          " event_id AS eventId, uid AS uId, state, attempts,"
                          " created_ms AS createdMs, last_status AS lastStatus, body AS \"j:body\""
                          " FROM notifications WHERE (?1 IS NULL OR uid = ?1)"
                          " AND (?2 IS NULL OR event_id = ?2) AND (?3 IS NULL OR type = ?3)"
                          " AND (?4 IS NULL OR state = ?4) ORDER BY id LIMIT ?5",
                          "tttti", sim_arg(r, "uId"), sim_arg(r, "eventId"), sim_arg(r, "type"),
                          sim_arg(r, "state"), (int64_t)limit);
    add_times(rows, "createdMs", "created");
    sim_ok(r, json_pack("{s:o}", "notifications", rows ? rows : json_array()));
}

static void c_notifications_inject(struct sim_req *r)
{
    struct sim *s = r->sim;
    const char *uid = str_or(r->json, "uId", NULL),
               *type = str_or(r->json, "notificationType", NULL);
    json_t *payload = json_object_get(r->json, "notification");
    char nid[37];

    if (!location_ok(r, uid))
        return;
    if (!type || !*type || !json_is_object(payload)) {
        sim_fail(r, 400, "notificationType (string) and notification (object) are required");
        return;
    }
    sim_notify_raw(s, uid, type, str_or(r->json, "eventId", NULL), payload,
                   json_is_true(json_object_get(r->json, "force")), nid);
    if (!nid[0]) {
        sim_fail(r, 409,
                 "location %s has no notification URL or did not subscribe to %s"
                 " (pass \"force\": true to send anyway)",
                 uid, type);
        return;
    }
    sim_ok(r, json_pack("{s:s}", "notificationId", nid));
}

static void c_settle(struct sim_req *r)
{
    struct sim *s = r->sim;
    long long timeout = 30;
    int64_t deadline;

    if (sim_arg_int(r, "timeout", 0, 600, &timeout) < 0)
        return;
    deadline = vn_now_ms() + timeout * 1000;
    for (;;) {
        int64_t pending =
            sim_query_int(s, 0, "SELECT COUNT(*) FROM events WHERE processed = 0", "");
        int64_t busy = sim_query_int(s, 0,
                                     "SELECT COUNT(*) FROM notifications WHERE state IN"
                                     " ('scheduled', 'redeliver')",
                                     "") +
                       s->sync_deliveries;
        int64_t now = vn_now_ms();
        struct timespec ts;
        if (!pending && !busy) {
            sim_ok(r, json_pack("{s:b}", "settled", 1));
            return;
        }
        if (now >= deadline || s->stopping) {
            sim_ok(r, json_pack("{s:b, s:I, s:I}", "settled", 0, "pendingEvents",
                                (json_int_t)pending, "scheduledNotifications", (json_int_t)busy));
            r->status = 504;
            return;
        }
        now += 50;
        if (now > deadline)
            now = deadline;
        ts.tv_sec = now / 1000;
        ts.tv_nsec = (long)(now % 1000) * 1000000L;
        pthread_cond_timedwait(&s->settle_cv, &s->mu, &ts);
    }
}

static void c_state(struct sim_req *r)
{
    const char *uid = sim_arg(r, "uId");
    json_t *out;

    if (uid && !location_ok(r, uid))
        return;
    out = sim_state_dump(r->sim, uid);
    if (!out)
        sim_fail(r, 500, "cannot read the state");
    else
        sim_ok(r, out);
}

static void c_requests(struct sim_req *r)
{
    struct sim *s = r->sim;
    json_t *arr = json_array();

    for (size_t i = 0; i < s->ncounters; i++)
        json_array_append_new(arr, json_pack("{s:s, s:s, s:i, s:I}", "method",
                                             s->counters[i].method, "path", s->counters[i].path,
                                             "status", s->counters[i].status, "count",
                                             (json_int_t)s->counters[i].count));
    sim_ok(r, json_pack("{s:I, s:o}", "total", (json_int_t)s->requests_total, "requests", arr));
    if (!strcmp(r->method, "POST") && json_is_true(json_object_get(r->json, "reset"))) {
        s->ncounters = 0;
        s->requests_total = 0;
    }
}

static void c_limits(struct sim_req *r)
{
    struct sim *s = r->sim;
    json_t *out = json_object(), *v;
    const char *k;

    if (!strcmp(r->method, "POST")) {
        json_object_foreach(r->json, k, v)
        {
            int found = 0;
            for (int i = 0; i < LIM_COUNT; i++)
                found |= !strcmp(s->limits[i].name, k);
            if (!found || !json_is_integer(v) || json_integer_value(v) < 0) {
                json_decref(out);
                sim_fail(r, 400, "limit '%s': unknown, or not a non-negative integer", k);
                return;
            }
        }
        json_object_foreach(r->json, k, v) sim_limit_set(s, k, json_integer_value(v));
    }
    for (int i = 0; i < LIM_COUNT; i++)
        json_object_set_new(out, s->limits[i].name, json_integer(s->limits[i].value));
    sim_ok(r, out);
}

static void c_processing(struct sim_req *r)
{
    json_t *p = json_object_get(r->json, "paused");

    if (!strcmp(r->method, "POST")) {
        if (!json_is_boolean(p)) {
            sim_fail(r, 400, "paused must be true or false");
            return;
        }
        r->sim->paused = json_is_true(p);
        pthread_cond_broadcast(&r->sim->work_cv);
    }
    sim_ok(r, json_pack("{s:b}", "paused", r->sim->paused));
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
        if (strstr(c->methods, r->method) && (r->method[0] == 'G' || r->method[0] == 'P')) {
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
