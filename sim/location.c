/*
 * location.c - see location.h.
 */
#include "location.h"

#include "db.h"
#include "rng.h"

#include "vppnotify/error.h"
#include "vppnotify/log.h"
#include "vppnotify/util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define YEAR_MS (365LL * 24 * 3600 * 1000)

const char *const sim_coll_names[COLL_COUNT] = {
    "assets", "assignments", "users", "subscriptions", "subscriptionAssignments", "admins",
};

const char *const sim_token_kind_names[TOKEN_KIND_COUNT] = {"normal", "read-only", "legacy"};

int sim_token_kind_parse(const char *name)
{
    for (int k = 0; name && k < TOKEN_KIND_COUNT; k++)
        if (!strcmp(name, sim_token_kind_names[k]))
            return k;
    return -1;
}

/* ---- versions ---------------------------------------------------------------------------- */

int sim_write_begin(struct sim_db *db, struct sim_write *w, const char *uid)
{
    struct sim_stmt q;
    int rc;

    vn_strlcpy(w->uid, uid, sizeof(w->uid));
    w->touched = 0;
    w->seq = 0;
    if ((rc = SIM_PREPARE(db, &q, "UPDATE locations SET seq = seq + 1 WHERE uid = ?1")))
        return rc;
    sim_bind_text(&q, 1, uid);
    if ((rc = sim_stmt_exec(&q, NULL)))
        return rc;
    if ((rc = SIM_PREPARE(db, &q, "SELECT seq FROM locations WHERE uid = ?1")))
        return rc;
    sim_bind_text(&q, 1, uid);
    return sim_stmt_int(&q, &w->seq);
}

int sim_write_end(struct sim_db *db, struct sim_rng *rng, struct sim_write *w)
{
    for (int c = 0; c < COLL_COUNT; c++) {
        struct sim_stmt q;
        char v[37];
        int rc;
        if (!(w->touched & (1u << c)))
            continue;
        sim_uuid(rng, v);
        if ((rc = SIM_PREPARE(db, &q,
                              "INSERT INTO versions(uid, coll, version_id, seq)"
                              " VALUES(?1, ?2, ?3, ?4)")))
            return rc;
        sim_bind_text(&q, 1, w->uid);
        sim_bind_int(&q, 2, c);
        sim_bind_text(&q, 3, v);
        sim_bind_int(&q, 4, w->seq);
        if ((rc = sim_stmt_exec(&q, NULL)))
            return rc;
    }
    w->touched = 0;
    return 0;
}

int sim_version_current(struct sim_db *db, const char *uid, enum sim_coll c, char out[37])
{
    struct sim_stmt q;
    char *v = NULL;
    int rc;

    out[0] = '\0';
    if ((rc = SIM_PREPARE(db, &q,
                          "SELECT version_id FROM versions WHERE uid = ?1 AND coll = ?2"
                          " ORDER BY seq DESC LIMIT 1")))
        return rc;
    sim_bind_text(&q, 1, uid);
    sim_bind_int(&q, 2, c);
    rc = sim_stmt_text(&q, &v);
    if (rc == 0)
        vn_strlcpy(out, v, 37);
    free(v);
    return rc == VN_ENOTFOUND ? 0 : rc;
}

int sim_version_seq(struct sim_db *db, const char *uid, enum sim_coll c, const char *version,
                    int64_t *seq)
{
    struct sim_stmt q;
    int rc;

    if ((rc = SIM_PREPARE(db, &q,
                          "SELECT seq FROM versions WHERE uid = ?1 AND coll = ?2"
                          " AND version_id = ?3")))
        return rc;
    sim_bind_text(&q, 1, uid);
    sim_bind_int(&q, 2, c);
    sim_bind_text(&q, 3, version);
    return sim_stmt_int(&q, seq);
}

/* ---- cursors ----------------------------------------------------------------------------- */

static void cursor_tag(const char *uid, enum sim_coll c, int64_t offset, char out[17])
{
    unsigned char h[32];
    char text[160];
    int n =
        snprintf(text, sizeof(text), "vppsim-cursor|%s|%d|%lld", uid, (int)c, (long long)offset);

    crypto_hash_sha256(h, (const unsigned char *)text, (unsigned long long)n);
    vn_hex(h, 8, out);
}

void sim_cursor_encode(const char *uid, enum sim_coll c, int64_t offset, char *out, size_t cap)
{
    char tag[17], text[96];
    int n;

    cursor_tag(uid, c, offset, tag);
    n = snprintf(text, sizeof(text), "c1:%d:%lld:%s", (int)c, (long long)offset, tag);
    sodium_bin2base64(out, cap, (const unsigned char *)text, (size_t)n,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int sim_cursor_decode(const char *uid, enum sim_coll c, const char *cursor, int64_t *offset)
{
    unsigned char raw[96];
    size_t len = 0;
    char text[97], tag[17], want[17];
    int coll, used = 0;
    long long off;

    if (strlen(cursor) > 120 ||
        sodium_base642bin(raw, sizeof(raw) - 1, cursor, strlen(cursor), NULL, &len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return -1;
    memcpy(text, raw, len);
    text[len] = '\0';
    if (sscanf(text, "c1:%d:%lld:%16[0-9a-f]%n", &coll, &off, tag, &used) != 3 ||
        (size_t)used != len || coll != (int)c || off < 0)
        return -1;
    cursor_tag(uid, c, off, want);
    if (strcmp(tag, want) != 0)
        return -1;
    *offset = off;
    return 0;
}

/* ---- locations and tokens ---------------------------------------------------------------- */

int sim_loc_exists(struct sim_db *db, const char *uid, int *yes)
{
    struct sim_stmt q;
    int64_t n = 0;
    int rc;

    *yes = 0;
    if (!uid)
        return 0;
    if ((rc = SIM_PREPARE(db, &q, "SELECT COUNT(*) FROM locations WHERE uid = ?1")))
        return rc;
    sim_bind_text(&q, 1, uid);
    if ((rc = sim_stmt_int(&q, &n)))
        return rc;
    *yes = n > 0;
    return 0;
}

static const char *str_or(const json_t *o, const char *k, const char *def)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : def;
}

/* Issue a new sToken of a kind for uid: *out is its Base64 text (owned). */
static int issue_token(struct sim_db *db, struct sim_rng *rng, const char *uid, const char *org,
                       int64_t exp_ms, int kind, char **out)
{
    unsigned char raw[24];
    char inner[64], exp[VN_TIME_ISO_LEN], *json, *b64;
    struct sim_stmt q;
    json_t *o;
    size_t len, cap;
    int rc;

    *out = NULL;
    sim_rng_bytes(rng, raw, sizeof(raw));
    sodium_bin2base64(inner, sizeof(inner), raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
    vn_time_apple(exp_ms, exp);
    o = json_pack("{s:s, s:s, s:s}", "token", inner, "expDate", exp, "orgName", org);
    json = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!json)
        return VN_ESTORE;
    len = strlen(json);
    cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    b64 = malloc(cap);
    if (!b64) {
        free(json);
        return VN_ESTORE;
    }
    sodium_bin2base64(b64, cap, (const unsigned char *)json, len, sodium_base64_VARIANT_ORIGINAL);
    free(json);
    if ((rc =
             SIM_PREPARE(db, &q,
                         "INSERT INTO tokens(token, uid, stoken, exp_ms, revoked, created_ms, kind)"
                         " VALUES(?1, ?2, ?3, ?4, 0, ?5, ?6)")))
        goto fail;
    sim_bind_text(&q, 1, inner);
    sim_bind_text(&q, 2, uid);
    sim_bind_text(&q, 3, b64);
    sim_bind_int(&q, 4, exp_ms);
    sim_bind_int(&q, 5, vn_now_ms());
    sim_bind_text(&q, 6, sim_token_kind_names[kind]);
    if ((rc = sim_stmt_exec(&q, NULL)))
        goto fail;
    *out = b64;
    return 0;
fail:
    free(b64);
    return rc;
}

/* The rows of a new location, inside the caller's transaction. */
static int insert_location(struct sim_db *db, struct sim_rng *rng, const char *uid, const json_t *o,
                           const char *org)
{
    struct sim_stmt q;
    int rc;

    if ((rc = SIM_PREPARE(db, &q,
                          "INSERT INTO locations(uid, org_name, location_name, country,"
                          " website_url, default_platform, subscription_mgmt, created_ms)"
                          " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")))
        return rc;
    sim_bind_text(&q, 1, uid);
    sim_bind_text(&q, 2, org);
    sim_bind_text(&q, 3, str_or(o, "locationName", "vppsim Location"));
    sim_bind_text(&q, 4, str_or(o, "countryISO2ACode", "US"));
    sim_bind_text(&q, 5, str_or(o, "websiteURL", "https://business.apple.com"));
    sim_bind_text(&q, 6, str_or(o, "defaultPlatform", "volumestore"));
    sim_bind_int(&q, 7, json_is_true(json_object_get(o, "subscriptionManagement")));
    sim_bind_int(&q, 8, vn_now_ms());
    if ((rc = sim_stmt_exec(&q, NULL)))
        return rc;
    for (int c = 0; c < COLL_COUNT; c++) {
        char v[37];
        sim_uuid(rng, v);
        if ((rc = SIM_PREPARE(db, &q,
                              "INSERT INTO versions(uid, coll, version_id, seq)"
                              " VALUES(?1, ?2, ?3, 0)")))
            return rc;
        sim_bind_text(&q, 1, uid);
        sim_bind_int(&q, 2, c);
        sim_bind_text(&q, 3, v);
        if ((rc = sim_stmt_exec(&q, NULL)))
            return rc;
    }
    return 0;
}

int sim_loc_create(struct sim_db *db, struct sim_rng *rng, const json_t *o, json_t **out,
                   struct vn_error *err)
{
    char uid[40], exp_text[VN_TIME_ISO_LEN], *stoken = NULL;
    const char *want = str_or(o, "uId", NULL), *org = str_or(o, "orgName", "vppsim Org");
    const char *exp = str_or(o, "expDate", NULL);
    const char *kind_name = str_or(o, "tokenKind", "normal");
    int64_t exp_ms = vn_now_ms() + YEAR_MS;
    int kind = sim_token_kind_parse(kind_name), taken = 0, rc;

    *out = NULL;
    if (exp && vn_time_parse(exp, &exp_ms) != 0)
        return vn_error_set(err, VN_EPARSE,
                            "expDate '%s' is not a date such as 2030-11-08T22:33:22+0000", exp);
    if (kind < 0)
        return vn_error_set(err, VN_EPARSE, "tokenKind '%s': expected normal, read-only or legacy",
                            kind_name);
    if (want) {
        if (!*want || !vn_is_digits(want, strlen(want)) || strlen(want) >= sizeof(uid))
            return vn_error_set(err, VN_EPARSE, "uId '%s' must be 1 to 39 digits", want);
        if ((rc = sim_loc_exists(db, want, &taken)))
            return rc;
        if (taken)
            return vn_error_set(err, VN_EDUP, "location '%s' exists already", want);
        vn_strlcpy(uid, want, sizeof(uid));
    } else {
        do {
            snprintf(uid, sizeof(uid), "2049%012llu",
                     (unsigned long long)sim_rng_uniform(rng, 1000000000000ULL));
            if ((rc = sim_loc_exists(db, uid, &taken)))
                return rc;
        } while (taken);
    }
    if ((rc = sim_db_begin(db)))
        return rc;
    if ((rc = insert_location(db, rng, uid, o, org)) ||
        (rc = issue_token(db, rng, uid, org, exp_ms, kind, &stoken)) || (rc = sim_db_commit(db))) {
        sim_db_rollback(db);
        free(stoken);
        return rc;
    }
    vn_time_apple(exp_ms, exp_text);
    *out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "uId", uid, "sToken", stoken, "orgName", org,
                     "locationName", str_or(o, "locationName", "vppsim Location"), "expDate",
                     exp_text, "tokenKind", sim_token_kind_names[kind]);
    free(stoken);
    vn_log_info("location %s created", uid);
    return *out ? 0 : VN_ESTORE;
}

int sim_loc_list(struct sim_db *db, json_t **out)
{
    struct sim_stmt q;
    int rc;

    if ((rc = SIM_PREPARE(db, &q,
                          "SELECT uid AS uId, org_name AS orgName, location_name AS locationName,"
                          " (SELECT kind FROM tokens t WHERE t.uid = locations.uid"
                          "  ORDER BY t.created_ms DESC, t.rowid DESC LIMIT 1) AS tokenKind"
                          " FROM locations ORDER BY created_ms, uid")))
        return rc;
    return sim_stmt_rows(&q, out);
}

int sim_token_find(struct sim_db *db, const char *inner, struct sim_token_info *out)
{
    struct sim_stmt q;
    int rc;

    if ((rc =
             SIM_PREPARE(db, &q, "SELECT uid, exp_ms, revoked, kind FROM tokens WHERE token = ?1")))
        return rc;
    sim_bind_text(&q, 1, inner);
    rc = sim_stmt_step(&q);
    if (rc != SIM_ROW)
        return rc ? rc : VN_ENOTFOUND;
    vn_strlcpy(out->uid, sim_col_text(&q, 0), sizeof(out->uid));
    out->exp_ms = sim_col_int(&q, 1);
    out->revoked = sim_col_int(&q, 2) != 0;
    out->kind = sim_token_kind_parse(sim_col_text(&q, 3));
    if (out->kind < 0)
        out->kind = TOKEN_NORMAL; /* the schema's CHECK allows no other value */
    sim_stmt_reset(&q);
    return 0;
}

/* Run one token-changing statement with (?1 text, ?2 uid). */
static int token_update(struct sim_stmt *q, const char *text, int64_t when, const char *uid)
{
    if (text)
        sim_bind_text(q, 1, text);
    else
        sim_bind_int(q, 1, when);
    sim_bind_text(q, 2, uid);
    return sim_stmt_exec(q, NULL);
}

int sim_token_act(struct sim_db *db, struct sim_rng *rng, const char *uid, const char *action,
                  json_t *out, struct vn_error *err)
{
    struct sim_stmt q;
    int kind = sim_token_kind_parse(action), rc;

    if (!strcmp(action, "expire")) {
        if ((rc = SIM_PREPARE(db, &q, "UPDATE tokens SET exp_ms = ?1 WHERE uid = ?2")))
            return rc;
        return token_update(&q, NULL, vn_now_ms() - 1000, uid);
    }
    if (!strcmp(action, "revoke") || !strcmp(action, "renew")) {
        char *org = NULL, *tok = NULL;
        if ((rc = SIM_PREPARE(db, &q, "UPDATE tokens SET revoked = ?1 WHERE uid = ?2")) ||
            (rc = token_update(&q, NULL, 1, uid)))
            return rc;
        if (!strcmp(action, "revoke"))
            return 0;
        if ((rc = SIM_PREPARE(db, &q, "SELECT org_name FROM locations WHERE uid = ?1")))
            return rc;
        sim_bind_text(&q, 1, uid);
        if ((rc = sim_stmt_text(&q, &org)) ||
            (rc = issue_token(db, rng, uid, org, vn_now_ms() + YEAR_MS, TOKEN_NORMAL, &tok))) {
            free(org);
            return rc;
        }
        json_object_set_new(out, "sToken", json_string(tok));
        free(tok);
        free(org);
        return 0;
    }
    if (kind > TOKEN_NORMAL) {
        /* Only the kind changes: an expired or revoked token still answers 9621 or 9625. */
        if ((rc = SIM_PREPARE(db, &q, "UPDATE tokens SET kind = ?1 WHERE uid = ?2")))
            return rc;
        return token_update(&q, sim_token_kind_names[kind], 0, uid);
    }
    if (!strcmp(action, "restore")) {
        if ((rc = SIM_PREPARE(db, &q,
                              "UPDATE tokens SET revoked = 0, exp_ms = MAX(exp_ms, ?1),"
                              " kind = 'normal' WHERE uid = ?2")))
            return rc;
        return token_update(&q, NULL, vn_now_ms() + YEAR_MS, uid);
    }
    return vn_error_set(err, VN_EPARSE,
                        "action '%s': expected expire, revoke, read-only, legacy, restore or renew",
                        action);
}

/* ---- Client Config ----------------------------------------------------------------------- */

int sim_loc_client_config(struct sim_db *db, const char *uid, json_t **out)
{
    struct sim_stmt q;
    json_t *rows = NULL;
    int rc;

    *out = NULL;
    if ((rc = SIM_PREPARE(db, &q,
                          "SELECT country AS countryISO2ACode, default_platform AS defaultPlatform,"
                          " location_name AS locationName, website_url AS websiteURL,"
                          " notification_url AS notificationUrl,"
                          " notification_auth_token AS notificationAuthToken,"
                          " notification_types AS \"j:subscribedNotificationTypes\""
                          " FROM locations WHERE uid = ?1")))
        return rc;
    sim_bind_text(&q, 1, uid);
    if ((rc = sim_stmt_rows(&q, &rows)))
        return rc;
    *out = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return *out ? 0 : VN_ENOTFOUND;
}

int sim_loc_mdm_info(struct sim_db *db, const char *uid, json_t **out)
{
    struct sim_stmt q;
    int rc;

    *out = NULL;
    if ((rc = SIM_PREPARE(db, &q,
                          "SELECT mdm_id, mdm_name, mdm_metadata FROM locations WHERE uid = ?1")))
        return rc;
    sim_bind_text(&q, 1, uid);
    rc = sim_stmt_step(&q);
    if (rc != SIM_ROW)
        return rc;
    if (!sim_col_null(&q, 0))
        *out = json_pack("{s:s, s:s, s:s}", "id", sim_col_text(&q, 0), "name", sim_col_text(&q, 1),
                         "metadata", sim_col_text(&q, 2));
    sim_stmt_reset(&q);
    return 0;
}

int sim_loc_configure(struct sim_db *db, const char *uid, const struct sim_config_change *c)
{
    struct sim_stmt q;
    int rc;

    if ((rc = sim_db_begin(db)))
        return rc;
    if (c->url) {
        if ((rc = SIM_PREPARE(db, &q,
                              "UPDATE locations SET notification_url = ?1,"
                              " notification_auth_token = ?2, last_test_ms = ?3 WHERE uid = ?4")))
            goto out;
        sim_bind_text(&q, 1, c->url);
        sim_bind_text(&q, 2, c->token);
        sim_bind_int(&q, 3, c->tested_ms);
        sim_bind_text(&q, 4, uid);
        if ((rc = sim_stmt_exec(&q, NULL)))
            goto out;
    } else if (c->clear) {
        if ((rc = SIM_PREPARE(db, &q,
                              "UPDATE locations SET notification_url = NULL,"
                              " notification_auth_token = NULL WHERE uid = ?1")))
            goto out;
        sim_bind_text(&q, 1, uid);
        if ((rc = sim_stmt_exec(&q, NULL)))
            goto out;
    }
    if (c->types) {
        char *text = json_dumps(c->types, JSON_COMPACT);
        if ((rc = SIM_PREPARE(db, &q,
                              "UPDATE locations SET notification_types = ?1 WHERE uid = ?2"))) {
            free(text);
            goto out;
        }
        sim_bind_text(&q, 1, text ? text : "[]");
        sim_bind_text(&q, 2, uid);
        rc = sim_stmt_exec(&q, NULL);
        free(text);
        if (rc)
            goto out;
    }
    if (c->mdm) {
        if ((rc = SIM_PREPARE(db, &q,
                              "UPDATE locations SET mdm_id = ?1, mdm_name = ?2, mdm_metadata = ?3"
                              " WHERE uid = ?4")))
            goto out;
        sim_bind_text(&q, 1, json_string_value(json_object_get(c->mdm, "id")));
        sim_bind_text(&q, 2, json_string_value(json_object_get(c->mdm, "name")));
        sim_bind_text(&q, 3, json_string_value(json_object_get(c->mdm, "metadata")));
        sim_bind_text(&q, 4, uid);
        if ((rc = sim_stmt_exec(&q, NULL)))
            goto out;
    }
    rc = sim_db_commit(db);
out:
    if (rc)
        sim_db_rollback(db);
    return rc;
}

int sim_loc_target(struct sim_db *db, const char *uid, char **url, char **token, json_t **types)
{
    struct sim_stmt q;
    int rc;

    *url = *token = NULL;
    *types = NULL;
    if ((rc = SIM_PREPARE(db, &q,
                          "SELECT notification_url, notification_auth_token, notification_types"
                          " FROM locations WHERE uid = ?1 AND notification_url IS NOT NULL")))
        return rc;
    sim_bind_text(&q, 1, uid);
    rc = sim_stmt_step(&q);
    if (rc != SIM_ROW)
        return rc;
    *url = strdup(sim_col_text(&q, 0));
    *token = strdup(sim_col_null(&q, 1) ? "" : sim_col_text(&q, 1));
    *types = json_loads(sim_col_text(&q, 2), 0, NULL);
    sim_stmt_reset(&q);
    if (!*url || !*token || !json_is_array(*types)) {
        free(*url);
        free(*token);
        json_decref(*types);
        *url = *token = NULL;
        *types = NULL;
        vn_log_error("state of location %s: unreadable notification settings", uid);
        return VN_ESTORE;
    }
    return 0;
}

int sim_loc_subs_enabled(struct sim_db *db, const char *uid, int *on)
{
    struct sim_stmt q;
    int64_t v = 0;
    int rc;

    *on = 0;
    if ((rc = SIM_PREPARE(db, &q, "SELECT subscription_mgmt FROM locations WHERE uid = ?1")))
        return rc;
    sim_bind_text(&q, 1, uid);
    rc = sim_stmt_int(&q, &v);
    *on = rc == 0 && v != 0;
    return rc == VN_ENOTFOUND ? 0 : rc;
}

int sim_loc_set_subs(struct sim_db *db, const char *uid, int on)
{
    struct sim_stmt q;
    int rc;

    if ((rc = SIM_PREPARE(db, &q, "UPDATE locations SET subscription_mgmt = ?1 WHERE uid = ?2")))
        return rc;
    sim_bind_int(&q, 1, on != 0);
    sim_bind_text(&q, 2, uid);
    return sim_stmt_exec(&q, NULL);
}
