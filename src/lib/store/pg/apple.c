/*
 * apple.c - the PostgreSQL backend's SQL for talking to Apple (contract section 5): instance
 * configuration, the Apple side of each location, the sync primitives (generation-marked
 * upserts and sweeps, sync state) and tracked events. Same statements as the SQLite backend's
 * apple.c; updates of several optional fields are one statement each whose CASE arms test bits
 * of a bound mask.
 */
#include "pg_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- instance configuration ------------------------------------------------------------ */

int vn__pg_config_ensure(struct vn_store *st, const char *key, const char *value_if_absent,
                         char **out)
{
    static const char insert[] =
        "INSERT INTO instance_config(key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING";
    static const char get[] = "SELECT value FROM instance_config WHERE key = $1";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    PGresult *res;
    int rc;

    *out = NULL;
    vn__pg_text(&a, key);
    if (value_if_absent) {
        vn__pg_text(&a, value_if_absent);
        rc = vn__pg_do(s, insert, &a, NULL);
        if (rc)
            return rc;
        a.n = 1;
    }
    res = vn__pg_run(s, get, &a, NULL);
    if (!res)
        return s->stmt_rc;
    if (PQntuples(res) == 0) {
        vn__store_set_error(st, "no configuration value '%s'", key);
        rc = VN_ENOTFOUND;
    } else {
        *out = strdup(PQgetvalue(res, 0, 0));
        rc = *out ? 0 : -ENOMEM;
    }
    PQclear(res);
    return rc;
}

/* ---- the Apple side of a location ------------------------------------------------------- */

int vn__pg_location_apple(struct vn_store *st, const char *uid, struct vn_location_apple *out)
{
    static const char sql[] =
        "SELECT uid, name, org_name, stoken, vn_iso(token_expires_at), token_status, "
        "  token_error, notification_url, notification_types, vn_iso(subscribed_at), "
        "  takeover_mdm_info, vn_iso(expiry_warned_at) FROM locations WHERE uid = $1";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    PGresult *res;
    int oom = 0;

    memset(out, 0, sizeof(*out));
    vn__pg_text(&a, uid);
    res = vn__pg_run(s, sql, &a, NULL);
    if (!res)
        return s->stmt_rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        vn__store_set_error(st, "location '%s' not found", uid);
        return VN_ENOTFOUND;
    }
    vn__pg_col_copy(res, 0, 0, out->uid, sizeof(out->uid));
    vn__pg_col_copy(res, 0, 1, out->name, sizeof(out->name));
    vn__pg_col_copy(res, 0, 2, out->org_name, sizeof(out->org_name));
    out->stoken = vn__pg_col_bytes(res, 0, 3, &out->stoken_len, &oom);
    if (out->stoken && out->stoken_len == 0) {
        free(out->stoken); /* an empty sToken is none, as in SQLite */
        out->stoken = NULL;
    }
    out->token_expires_ms = vn__pg_col_time(res, 0, 4);
    vn__pg_col_copy(res, 0, 5, out->token_status, sizeof(out->token_status));
    vn__pg_col_copy(res, 0, 6, out->token_error, sizeof(out->token_error));
    vn__pg_col_copy(res, 0, 7, out->notification_url, sizeof(out->notification_url));
    vn__pg_col_copy(res, 0, 8, out->notification_types, sizeof(out->notification_types));
    out->subscribed_ms = vn__pg_col_time(res, 0, 9);
    vn__pg_col_copy(res, 0, 10, out->takeover, sizeof(out->takeover));
    out->expiry_warned_ms = vn__pg_col_time(res, 0, 11);
    PQclear(res);
    return oom ? -ENOMEM : 0;
}

int vn__pg_apple_uids(struct vn_store *st, char ***uids, size_t *n)
{
    static const char sql[] = "SELECT uid FROM locations WHERE stoken IS NOT NULL ORDER BY uid";
    struct vn__pg *s = vn__pg(st);
    PGresult *res;
    int rows;

    *uids = NULL;
    *n = 0;
    res = vn__pg_run(s, sql, NULL, NULL);
    if (!res)
        return s->stmt_rc;
    rows = PQntuples(res);
    if (rows > 0) {
        *uids = calloc((size_t)rows, sizeof(**uids));
        for (int i = 0; *uids && i < rows; i++) {
            (*uids)[i] = strdup(PQgetvalue(res, i, 0));
            if (!(*uids)[i]) {
                for (int k = 0; k < i; k++)
                    free((*uids)[k]);
                free(*uids);
                *uids = NULL;
            }
        }
        if (!*uids) {
            PQclear(res);
            return -ENOMEM;
        }
        *n = (size_t)rows;
    }
    PQclear(res);
    return 0;
}

int vn__pg_location_update(struct vn_store *st, const char *uid, const struct vn_location_update *u)
{
    /* Bits: 1 sToken, 2 expiry, 4 status, 8 subscription, 16 takeover, 32 warned. A new sToken
     * is 'ok', has a fresh expiry and starts a new warning cycle. */
    static const char sql[] =
        "UPDATE locations SET "
        "  stoken = CASE WHEN $2::int & 1 <> 0 THEN $3::bytea ELSE stoken END, "
        "  stoken_set_at = CASE WHEN $2::int & 1 <> 0 THEN $12::timestamptz "
        "    ELSE stoken_set_at END, "
        "  org_name = CASE WHEN $2::int & 1 <> 0 THEN coalesce($4, org_name) ELSE org_name END, "
        "  token_expires_at = CASE WHEN $2::int & 3 <> 0 THEN $5::timestamptz "
        "    ELSE token_expires_at END, "
        "  token_status = CASE WHEN $2::int & 1 <> 0 THEN 'ok' WHEN $2::int & 4 <> 0 THEN $6 "
        "    ELSE token_status END, "
        "  token_error = CASE WHEN $2::int & 1 <> 0 THEN NULL WHEN $2::int & 4 <> 0 THEN $7 "
        "    ELSE token_error END, "
        "  token_status_at = CASE WHEN $2::int & 5 <> 0 THEN $12::timestamptz "
        "    ELSE token_status_at END, "
        "  notification_url = CASE WHEN $2::int & 8 <> 0 THEN $8 ELSE notification_url END, "
        "  notification_types = CASE WHEN $2::int & 8 <> 0 THEN $9::json "
        "    ELSE notification_types END, "
        "  subscribed_at = CASE WHEN $2::int & 8 <> 0 THEN $10::timestamptz "
        "    ELSE subscribed_at END, "
        "  takeover_mdm_info = CASE WHEN $2::int & 16 <> 0 THEN $11::json "
        "    ELSE takeover_mdm_info END, "
        "  takeover_at = CASE WHEN $2::int & 16 <> 0 THEN (CASE WHEN $11 IS NULL THEN NULL "
        "    ELSE $12::timestamptz END) ELSE takeover_at END, "
        "  expiry_warned_at = CASE WHEN $2::int & 1 <> 0 THEN NULL "
        "    WHEN $2::int & 32 <> 0 THEN $13::timestamptz ELSE expiry_warned_at END "
        "WHERE uid = $1";
    struct vn__pg_args a = {0};
    long long changed;
    int rc;

    vn__pg_text(&a, uid);
    vn__pg_int(&a, (long long)u->what);
    if (u->stoken)
        vn__pg_bytes(&a, u->stoken, u->stoken_len);
    else
        vn__pg_text(&a, NULL);
    vn__pg_text(&a, u->org_name && *u->org_name ? u->org_name : NULL);
    vn__pg_time(&a, u->token_expires_ms);
    vn__pg_text(&a, u->token_status);
    vn__pg_text(&a, u->token_error);
    vn__pg_text(&a, u->notification_url);
    vn__pg_text(&a, u->notification_types && *u->notification_types ? u->notification_types : NULL);
    vn__pg_time(&a, u->subscribed_ms);
    vn__pg_text(&a, u->takeover && *u->takeover ? u->takeover : NULL);
    vn__pg_time(&a, u->now_ms ? u->now_ms : vn_now_ms());
    vn__pg_time(&a, u->expiry_warned_ms);
    rc = vn__pg_do(vn__pg(st), sql, &a, &changed);
    if (!rc && changed == 0) {
        vn__store_set_error(st, "location '%s' not found", uid);
        return VN_ENOTFOUND;
    }
    return rc;
}

int vn__pg_location_unrotate(struct vn_store *st, const char *uid,
                             const uint8_t digest[VN_DIGEST_LEN])
{
    static const char drop[] = "DELETE FROM location_tokens WHERE uid = $1 AND digest = $2 "
                               "AND expires_at IS NULL";
    static const char promote[] = "UPDATE location_tokens SET expires_at = NULL "
                                  "WHERE uid = $1 AND expires_at IS NOT NULL";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    long long changed;
    int rc;

    rc = st->ops->begin(st);
    if (rc)
        return rc;
    vn__pg_text(&a, uid);
    vn__pg_bytes(&a, digest, VN_DIGEST_LEN);
    rc = vn__pg_do(s, drop, &a, &changed);
    if (!rc && changed == 0) {
        vn__store_set_error(st, "no such current token of location '%s'", uid);
        rc = VN_ENOTFOUND;
    }
    a.n = 1;
    if (!rc)
        rc = vn__pg_do(s, promote, &a, NULL);
    return vn__pg_finish(s, rc);
}

/* ---- sync -------------------------------------------------------------------------------- */

/*
 * The three-step write of one synced record, as in SQLite: an UPDATE that only matches when a
 * field differs (2, changed), else one that only marks the generation (0, unchanged), else an
 * INSERT (1, added). All three take the same arguments. The updates only match a row whose
 * clock is not after the page's (seen), and the insert does nothing over an existing row or a
 * tombstone newer than seen: a newer change is kept and the result is 3 (store.h).
 */
static int do_typed(struct vn__pg *s, const char *sql, const struct vn__pg_args *a,
                    const Oid *types, long long *changed)
{
    PGresult *res = vn__pg_run_typed(s, sql, a, types, changed);

    if (!res)
        return s->stmt_rc;
    PQclear(res);
    return 0;
}

static int sync_row(struct vn__pg *s, const char *upd, const char *mark, const char *ins,
                    const struct vn__pg_args *a, const Oid *types)
{
    long long changed = 0;
    int rc;

    if (upd) {
        rc = do_typed(s, upd, a, types, &changed);
        if (rc)
            return rc;
        if (changed)
            return 2;
    }
    rc = do_typed(s, mark, a, types, &changed);
    if (rc)
        return rc;
    if (changed)
        return 0;
    rc = do_typed(s, ins, a, types, &changed);
    return rc ? rc : changed ? 1 : 3;
}

/* Argument types (pg_type OIDs), for statements that leave some of their arguments unused. */
#define T_BOOL 16
#define T_INT8 20
#define T_TEXT 25

int vn__pg_sync_asset(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                      const char *adam_id, const char *pricing_param, long long total,
                      long long assigned, long long available)
{
    /* $1 uid, $2 adam, $3 pp, $4 gen, $5 now, $6 total, $7 assigned, $8 available, $9 seen */
    static const char upd[] =
        "UPDATE assets SET total_count = $6, assigned_count = $7, available_count = $8, "
        "  needs_sync = false, sync_gen = $4, updated_at = $5::timestamptz "
        "WHERE uid = $1 AND adam_id = $2 AND pricing_param = $3 AND clock <= $9 AND "
        "  coalesce(sync_gen, 0) <= $4 AND "
        "  (total_count <> $6 OR assigned_count <> $7 OR available_count <> $8)";
    static const char mark[] = "UPDATE assets SET needs_sync = false, sync_gen = $4 "
                               "WHERE uid = $1 AND adam_id = $2 AND pricing_param = $3 AND clock "
                               "<= $9 AND coalesce(sync_gen, 0) <= $4";
    static const char ins[] =
        "INSERT INTO assets(uid, adam_id, pricing_param, total_count, assigned_count, "
        "  available_count, needs_sync, updated_at, sync_gen) "
        "VALUES ($1, $2, $3, $6, $7, $8, false, $5::timestamptz, $4) ON CONFLICT DO NOTHING";
    static const Oid types[] = {T_TEXT, T_TEXT, T_TEXT, T_INT8, T_TEXT,
                                T_INT8, T_INT8, T_INT8, T_INT8};
    struct vn__pg_args a = {0};

    vn__pg_text(&a, uid);
    vn__pg_text(&a, adam_id);
    vn__pg_text(&a, pricing_param ? pricing_param : "STDQ");
    vn__pg_int(&a, gen);
    vn__pg_text(&a, vn__pg_now(vn__pg(st)));
    vn__pg_int(&a, total);
    vn__pg_int(&a, assigned);
    vn__pg_int(&a, available);
    vn__pg_int(&a, seen);
    return sync_row(vn__pg(st), upd, mark, ins, &a, types);
}

int vn__pg_sync_assignment(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                           const struct vn_assignment *as)
{
    /* $1 uid, $2 adam, $3 pp, $4 gen, $5 clientUserId, $6 serialNumber, $7 now, $8 seen */
    static const char mark_user[] =
        "UPDATE assignments SET sync_gen = $4 WHERE uid = $1 AND adam_id = $2 "
        "AND pricing_param = $3 AND client_user_id = $5 AND clock <= $8 AND coalesce(sync_gen, 0) "
        "<= $4";
    static const char mark_device[] =
        "UPDATE assignments SET sync_gen = $4 WHERE uid = $1 AND adam_id = $2 "
        "AND pricing_param = $3 AND serial_number = $6 AND clock <= $8 AND coalesce(sync_gen, 0) "
        "<= $4";
    static const char ins[] =
        "INSERT INTO assignments(uid, adam_id, pricing_param, client_user_id, serial_number, "
        "  sync_gen, updated_at) "
        "SELECT $1, $2, $3, $5, $6, $4, $7::timestamptz WHERE NOT EXISTS (SELECT 1 FROM "
        "  mirror_tombstones WHERE uid = $1 AND tbl = 'assignments' AND adam_id = $2 AND "
        "  pricing_param = $3 AND client_user_id = coalesce($5, '') AND "
        "  serial_number = coalesce($6, '') AND clock > $8) "
        "ON CONFLICT DO NOTHING";
    static const Oid types[] = {T_TEXT, T_TEXT, T_TEXT, T_INT8, T_TEXT, T_TEXT, T_TEXT, T_INT8};
    struct vn__pg_args a = {0};

    if (!as->client_user_id == !as->serial_number) {
        vn__store_set_error(st,
                            "assignment of adamId '%s' needs exactly one of clientUserId "
                            "and serialNumber",
                            as->adam_id.s);
        return VN_EPARSE;
    }
    vn__pg_text(&a, uid);
    vn__pg_text(&a, as->adam_id.s);
    vn__pg_text(&a, as->pricing_param ? as->pricing_param : "STDQ");
    vn__pg_int(&a, gen);
    vn__pg_text(&a, as->client_user_id);
    vn__pg_text(&a, as->serial_number);
    vn__pg_text(&a, vn__pg_now(vn__pg(st)));
    vn__pg_int(&a, seen);
    return sync_row(vn__pg(st), NULL, as->client_user_id ? mark_user : mark_device, ins, &a, types);
}

/* Users: Apple may return two records of one clientUserId in one walk, maybe in two chunks of
 * one page (two transactions): a row this walk wrote is not "newer than the page" for the
 * walk's own second record. */
int vn__pg_sync_user(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                     const struct vn_user *u)
{
    /* $1 uid, $2 clientUserId, $3 gen, $4 now, $5 email, $6 invite, $7 idHash, $8 status,
     * $9 seen */
    static const char upd[] =
        "UPDATE users SET email = $5, invite_code = $6, id_hash = $7, status = $8, "
        "  sync_gen = $3, updated_at = $4::timestamptz "
        "WHERE uid = $1 AND client_user_id = $2 AND (email IS DISTINCT FROM $5 OR "
        "  invite_code IS DISTINCT FROM $6 OR id_hash IS DISTINCT FROM $7 OR "
        "  status IS DISTINCT FROM $8) "
        /* Apple keeps retired users' rows: within one walk an active row stays against a
         * Retired record of the same clientUserId (store.h). */
        "  AND NOT (sync_gen IS NOT DISTINCT FROM $3 AND status IS DISTINCT FROM 'Retired' "
        "    AND $8 IS NOT DISTINCT FROM 'Retired') "
        "  AND (clock <= $9 OR sync_gen IS NOT DISTINCT FROM $3) AND coalesce(sync_gen, 0) <= $3";
    static const char mark[] =
        "UPDATE users SET sync_gen = $3 WHERE uid = $1 AND client_user_id = $2 "
        "AND (clock <= $9 OR sync_gen IS NOT DISTINCT FROM $3) AND coalesce(sync_gen, 0) <= $3";
    static const char ins[] = "INSERT INTO users(uid, client_user_id, email, invite_code, id_hash, "
                              "  status, updated_at, sync_gen) "
                              "VALUES ($1, $2, $5, $6, $7, $8, $4::timestamptz, $3) "
                              "ON CONFLICT DO NOTHING";
    static const Oid types[] = {T_TEXT, T_TEXT, T_INT8, T_TEXT, T_TEXT,
                                T_TEXT, T_TEXT, T_TEXT, T_INT8};
    struct vn__pg_args a = {0};

    if (!u->client_user_id) {
        vn__store_set_error(st, "user without a clientUserId");
        return VN_EPARSE;
    }
    vn__pg_text(&a, uid);
    vn__pg_text(&a, u->client_user_id);
    vn__pg_int(&a, gen);
    vn__pg_text(&a, vn__pg_now(vn__pg(st)));
    vn__pg_text(&a, u->email);
    vn__pg_text(&a, u->invite_code);
    vn__pg_text(&a, u->id_hash);
    vn__pg_text(&a, u->status);
    vn__pg_int(&a, seen);
    return sync_row(vn__pg(st), upd, mark, ins, &a, types);
}

int vn__pg_sync_subscription(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                             const char *adam_id, const char *parent_adam_id,
                             const struct vn_counts *c)
{
    /* $1 uid, $2 adam, $3 gen, $4 now, $5 parent, $6 ar, $7 ae, $8 tr, $9 te, $10 seen */
    static const char upd[] =
        "UPDATE subscriptions SET parent_adam_id = $5, available_renewing = $6, "
        "  available_expiring = $7, total_renewing = $8, total_expiring = $9, sync_gen = $3, "
        "  updated_at = $4::timestamptz "
        "WHERE uid = $1 AND adam_id = $2 AND clock <= $10 AND coalesce(sync_gen, 0) <= $3 AND "
        "  (parent_adam_id IS DISTINCT FROM $5 OR "
        "  available_renewing <> $6 OR available_expiring <> $7 OR total_renewing <> $8 OR "
        "  total_expiring <> $9)";
    static const char mark[] = "UPDATE subscriptions SET sync_gen = $3 WHERE uid = $1 AND "
                               "adam_id = $2 AND clock <= $10 AND coalesce(sync_gen, 0) <= $3";
    static const char ins[] =
        "INSERT INTO subscriptions(uid, adam_id, parent_adam_id, available_renewing, "
        "  available_expiring, total_renewing, total_expiring, updated_at, sync_gen) "
        "VALUES ($1, $2, $5, $6, $7, $8, $9, $4::timestamptz, $3) ON CONFLICT DO NOTHING";
    static const Oid types[] = {T_TEXT, T_TEXT, T_INT8, T_TEXT, T_TEXT,
                                T_INT8, T_INT8, T_INT8, T_INT8, T_INT8};
    struct vn__pg_args a = {0};

    vn__pg_text(&a, uid);
    vn__pg_text(&a, adam_id);
    vn__pg_int(&a, gen);
    vn__pg_text(&a, vn__pg_now(vn__pg(st)));
    vn__pg_text(&a, parent_adam_id);
    vn__pg_int(&a, c->available_renewing);
    vn__pg_int(&a, c->available_expiring);
    vn__pg_int(&a, c->total_renewing);
    vn__pg_int(&a, c->total_expiring);
    vn__pg_int(&a, seen);
    return sync_row(vn__pg(st), upd, mark, ins, &a, types);
}

int vn__pg_sync_seat(struct vn_store *st, const char *uid, int64_t gen, int64_t seen,
                     const struct vn_seat *seat)
{
    /* $1 uid, $2 adam, $3 clientUserId, $4 renewing, $5 gen, $6 now, $7 seen */
    static const char upd[] =
        "UPDATE subscription_assignments SET renewing = $4, sync_gen = $5, "
        "  updated_at = $6::timestamptz "
        "WHERE uid = $1 AND adam_id = $2 AND client_user_id = $3 AND renewing <> $4 "
        "  AND clock <= $7 AND coalesce(sync_gen, 0) <= $5";
    static const char mark[] = "UPDATE subscription_assignments SET sync_gen = $5 "
                               "WHERE uid = $1 AND adam_id = $2 AND client_user_id = $3 "
                               "AND clock <= $7 AND coalesce(sync_gen, 0) <= $5";
    static const char ins[] =
        "INSERT INTO subscription_assignments(uid, adam_id, client_user_id, renewing, sync_gen, "
        "  updated_at) "
        "SELECT $1, $2, $3, $4, $5, $6::timestamptz WHERE NOT EXISTS (SELECT 1 FROM "
        "  mirror_tombstones WHERE uid = $1 AND tbl = 'seats' AND adam_id = $2 AND "
        "  client_user_id = $3 AND clock > $7) "
        "ON CONFLICT DO NOTHING";
    static const Oid types[] = {T_TEXT, T_TEXT, T_TEXT, T_BOOL, T_INT8, T_TEXT, T_INT8};
    struct vn__pg_args a = {0};

    vn__pg_text(&a, uid);
    vn__pg_text(&a, seat->adam_id.s);
    vn__pg_text(&a, seat->client_user_id);
    vn__pg_bool(&a, seat->renewing);
    vn__pg_int(&a, gen);
    vn__pg_text(&a, vn__pg_now(vn__pg(st)));
    vn__pg_int(&a, seen);
    return sync_row(vn__pg(st), upd, mark, ins, &a, types);
}

/* The rows a sweep deletes, at most $7 of them (NULL: all), by ctid. */
#define SWEEP(table, where)                                                                        \
    "DELETE FROM " table " WHERE ctid IN (SELECT ctid FROM " table " WHERE uid = $1 " where        \
    " AND coalesce(sync_gen, 0) < $6::bigint AND clock <= $8::bigint LIMIT $7)"

int vn__pg_sync_sweep(struct vn_store *st, enum vn_mirror_table table, const char *uid, int64_t gen,
                      int64_t since, const struct vn_mirror_scope *scope, long long limit,
                      long long *removed)
{
    /* $1 uid, $2 adam, $3 pp, $4 clientUserId, $5 serialNumber, $6 gen, $7 limit, $8 since */
    static const char *const sweeps[VN_MT__COUNT] = {
        [VN_MT_ASSETS] = SWEEP("assets", "AND ($2::text IS NULL OR adam_id = $2) "
                                         "AND ($3::text IS NULL OR pricing_param = $3)"),
        [VN_MT_ASSIGNMENTS] = SWEEP("assignments", "AND ($2::text IS NULL OR adam_id = $2) "
                                                   "AND ($3::text IS NULL OR pricing_param = $3) "
                                                   "AND ($4::text IS NULL OR client_user_id = $4) "
                                                   "AND ($5::text IS NULL OR serial_number = $5)"),
        [VN_MT_USERS] = SWEEP("users", "AND ($4::text IS NULL OR client_user_id = $4)"),
        [VN_MT_SUBSCRIPTIONS] = SWEEP("subscriptions", "AND ($2::text IS NULL OR adam_id = $2)"),
        [VN_MT_SEATS] =
            SWEEP("subscription_assignments", "AND ($2::text IS NULL OR adam_id = $2) "
                                              "AND ($4::text IS NULL OR client_user_id = $4)"),
    };
    static const Oid types[] = {T_TEXT, T_TEXT, T_TEXT, T_TEXT, T_TEXT, T_INT8, T_INT8, T_INT8};
    struct vn__pg_args a = {0};
    long long changed = 0;
    int rc;

    if ((unsigned)table >= VN_MT__COUNT) {
        vn__store_set_error(st, "unknown mirror table %d", (int)table);
        return VN_EPARSE;
    }
    vn__pg_text(&a, uid);
    vn__pg_text(&a, scope->adam_id);
    vn__pg_text(&a, scope->pricing_param);
    vn__pg_text(&a, scope->client_user_id);
    vn__pg_text(&a, scope->serial_number);
    vn__pg_int(&a, gen);
    if (limit > 0)
        vn__pg_int(&a, limit);
    else
        vn__pg_text(&a, NULL);
    vn__pg_int(&a, since);
    rc = do_typed(vn__pg(st), sweeps[table], &a, types, &changed);
    if (removed)
        *removed = rc ? 0 : changed;
    return rc;
}

int vn__pg_sync_state_get(struct vn_store *st, const char *uid, struct vn_sync_state *out)
{
    static const char sql[] =
        "SELECT assignments_version, users_version, vn_iso(last_full_at), vn_iso(last_delta_at), "
        "  vn_iso(last_attempt_at), last_kind, last_error, last_drift FROM location_sync "
        "WHERE uid = $1";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    PGresult *res;

    memset(out, 0, sizeof(*out));
    vn__pg_text(&a, uid);
    res = vn__pg_run(s, sql, &a, NULL);
    if (!res)
        return s->stmt_rc;
    if (PQntuples(res) > 0) {
        vn__pg_col_copy(res, 0, 0, out->assignments_version, sizeof(out->assignments_version));
        vn__pg_col_copy(res, 0, 1, out->users_version, sizeof(out->users_version));
        out->last_full_ms = vn__pg_col_time(res, 0, 2);
        out->last_delta_ms = vn__pg_col_time(res, 0, 3);
        out->last_attempt_ms = vn__pg_col_time(res, 0, 4);
        vn__pg_col_copy(res, 0, 5, out->last_kind, sizeof(out->last_kind));
        vn__pg_col_copy(res, 0, 6, out->last_error, sizeof(out->last_error));
        vn__pg_col_copy(res, 0, 7, out->last_drift, sizeof(out->last_drift));
    }
    PQclear(res);
    return 0;
}

static const char *or_null(const char *v)
{
    return v[0] ? v : NULL;
}

int vn__pg_sync_state_put(struct vn_store *st, const char *uid, const struct vn_sync_state *v)
{
    static const char sql[] =
        "INSERT INTO location_sync(uid, assignments_version, users_version, last_full_at, "
        "  last_delta_at, last_attempt_at, last_kind, last_error, last_drift) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
        "ON CONFLICT (uid) DO UPDATE SET assignments_version = excluded.assignments_version, "
        "  users_version = excluded.users_version, last_full_at = excluded.last_full_at, "
        "  last_delta_at = excluded.last_delta_at, last_attempt_at = excluded.last_attempt_at, "
        "  last_kind = excluded.last_kind, last_error = excluded.last_error, "
        "  last_drift = excluded.last_drift";
    struct vn__pg_args a = {0};

    vn__pg_text(&a, uid);
    vn__pg_text(&a, or_null(v->assignments_version));
    vn__pg_text(&a, or_null(v->users_version));
    vn__pg_time(&a, v->last_full_ms);
    vn__pg_time(&a, v->last_delta_ms);
    vn__pg_time(&a, v->last_attempt_ms);
    vn__pg_text(&a, or_null(v->last_kind));
    vn__pg_text(&a, or_null(v->last_error));
    vn__pg_text(&a, or_null(v->last_drift));
    return vn__pg_do(vn__pg(st), sql, &a, NULL);
}

/* ---- tracked events ---------------------------------------------------------------------- */

int vn__pg_event_track(struct vn_store *st, const struct vn_event_track *t)
{
    static const char sql[] =
        "INSERT INTO event_tracking(event_id, uid, kind, type, request, expected, deferred, "
        "  requested_at, state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'tracking') "
        "ON CONFLICT (event_id) DO NOTHING";
    struct vn__pg_args a = {0};
    long long changed;
    int rc;

    if (!t->event_id || !t->uid) {
        vn__store_set_error(st, "a tracked event needs an eventId and a uId");
        return VN_EPARSE;
    }
    vn__pg_text(&a, t->event_id);
    vn__pg_text(&a, t->uid);
    vn__pg_text(&a, t->kind);
    vn__pg_text(&a, t->type);
    vn__pg_text(&a, t->request);
    if (t->expected > 0)
        vn__pg_int(&a, t->expected);
    else
        vn__pg_text(&a, NULL);
    vn__pg_bool(&a, t->deferred);
    vn__pg_time(&a, t->requested_ms ? t->requested_ms : 1);
    rc = vn__pg_do(vn__pg(st), sql, &a, &changed);
    if (!rc && changed == 0) {
        vn__store_set_error(st, "event '%s' is tracked already", t->event_id);
        return VN_EDUP;
    }
    return rc;
}

int vn__pg_events_tracking(struct vn_store *st, const char *uid, vn_tracked_cb cb, void *ud)
{
    static const char sql[] =
        "SELECT t.event_id, t.uid, t.kind, t.type, t.request, coalesce(t.expected, 0), "
        "  t.deferred, vn_iso(t.requested_at), t.status, coalesce(t.num_requested, -1), "
        "  coalesce(t.num_completed, -1), t.polls, vn_iso(t.last_poll_at), t.stalled, "
        "  coalesce(e.notifications, 0), coalesce(e.succeeded, 0), coalesce(e.failed, 0), "
        "  vn_iso(e.last_seen_at) "
        "FROM event_tracking AS t LEFT JOIN events AS e ON e.event_id = t.event_id "
        "WHERE t.state = 'tracking' AND ($1::text IS NULL OR t.uid = $1) "
        "ORDER BY t.requested_at, t.event_id";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    struct vn_tracked_event e;
    PGresult *res;
    int rc = 0;

    vn__pg_text(&a, uid);
    res = vn__pg_run(s, sql, &a, NULL);
    if (!res)
        return s->stmt_rc;
    for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
        memset(&e, 0, sizeof(e));
        e.event_id = vn__pg_col(res, i, 0);
        e.uid = vn__pg_col(res, i, 1);
        e.kind = vn__pg_col(res, i, 2);
        e.type = vn__pg_col(res, i, 3);
        e.request = vn__pg_col(res, i, 4);
        e.expected = vn__pg_col_ll(res, i, 5);
        e.deferred = vn__pg_col_bool(res, i, 6);
        e.requested_ms = vn__pg_col_time(res, i, 7);
        e.status = vn__pg_col(res, i, 8);
        e.num_requested = vn__pg_col_ll(res, i, 9);
        e.num_completed = vn__pg_col_ll(res, i, 10);
        e.polls = vn__pg_col_ll(res, i, 11);
        e.last_poll_ms = vn__pg_col_time(res, i, 12);
        e.stalled = vn__pg_col_bool(res, i, 13);
        e.notifications = vn__pg_col_ll(res, i, 14);
        e.succeeded = vn__pg_col_ll(res, i, 15);
        e.failed = vn__pg_col_ll(res, i, 16);
        e.last_notified_ms = vn__pg_col_time(res, i, 17);
        rc = cb(ud, &e);
    }
    PQclear(res);
    return rc;
}

int vn__pg_event_tracking_update(struct vn_store *st, const char *event_id,
                                 const struct vn_event_tracking_update *u)
{
    /* Bits: 1 poll, 2 stalled, 4 missing, 8 resync, 16 done; status fields go with 1 or 16. */
    static const char sql[] =
        "UPDATE event_tracking SET "
        "  polls = polls + (CASE WHEN $2::int & 1 <> 0 THEN 1 ELSE 0 END), "
        "  last_poll_at = CASE WHEN $2::int & 1 <> 0 THEN $9::timestamptz ELSE last_poll_at END, "
        "  poll_error = CASE WHEN $2::int & 1 <> 0 THEN $7 ELSE poll_error END, "
        "  status = CASE WHEN $2::int & 17 <> 0 AND $3::text IS NOT NULL THEN $3 "
        "    ELSE status END, "
        "  num_requested = CASE WHEN $2::int & 17 <> 0 AND $4::bigint >= 0 THEN $4 "
        "    ELSE num_requested END, "
        "  num_completed = CASE WHEN $2::int & 17 <> 0 AND $5::bigint >= 0 THEN $5 "
        "    ELSE num_completed END, "
        "  failures = CASE WHEN $2::int & 17 <> 0 AND $6::json IS NOT NULL THEN $6::json "
        "    ELSE failures END, "
        "  stalled = CASE WHEN $2::int & 2 <> 0 THEN true ELSE stalled END, "
        "  stalled_at = CASE WHEN $2::int & 2 <> 0 THEN coalesce(stalled_at, $9::timestamptz) "
        "    ELSE stalled_at END, "
        "  notifications_missing = CASE WHEN $2::int & 4 <> 0 THEN true "
        "    ELSE notifications_missing END, "
        "  resync = CASE WHEN $2::int & 8 <> 0 THEN $8 ELSE resync END, "
        "  state = CASE WHEN $2::int & 16 <> 0 THEN 'done' ELSE state END, "
        "  completed_at = CASE WHEN $2::int & 16 <> 0 THEN $9::timestamptz "
        "    ELSE completed_at END "
        "WHERE event_id = $1";
    struct vn__pg_args a = {0};
    long long changed;
    int rc;

    vn__pg_text(&a, event_id);
    vn__pg_int(&a, (long long)u->what);
    vn__pg_text(&a, u->status);
    vn__pg_int(&a, u->num_requested);
    vn__pg_int(&a, u->num_completed);
    vn__pg_text(&a, u->failures);
    vn__pg_text(&a, u->poll_error);
    vn__pg_text(&a, u->resync);
    vn__pg_time(&a, u->now_ms ? u->now_ms : vn_now_ms());
    rc = vn__pg_do(vn__pg(st), sql, &a, &changed);
    if (!rc && changed == 0) {
        vn__store_set_error(st, "event '%s' is not tracked", event_id);
        return VN_ENOTFOUND;
    }
    return rc;
}

/* ---- leases ------------------------------------------------------------------------------ */

/* Take or renew lease $1 for holder $2 for $3 ms, by the server's clock, the one every
 * instance shares (clock_timestamp: also inside a long transaction). Free, expired, or ours:
 * taken or renewed, its holder returned; else no row comes back. */
static const char lease_take_sql[] =
    "INSERT INTO leases AS l(name, holder, expires_at, taken_at) "
    "VALUES ($1, $2, clock_timestamp() + $3::bigint * interval '1 millisecond', "
    "  clock_timestamp()) "
    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
    "  expires_at = excluded.expires_at, "
    "  taken_at = CASE WHEN l.holder = excluded.holder THEN l.taken_at "
    "    ELSE excluded.taken_at END "
    "WHERE l.holder = excluded.holder OR l.expires_at <= clock_timestamp() "
    "RETURNING holder";
static const char lease_release_sql[] = "DELETE FROM leases WHERE name = $1 AND holder = $2";

int vn__pg_lease_take(struct vn_store *st, const char *name, const char *holder, int64_t ttl_ms,
                      int *held)
{
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    PGresult *res;

    vn__pg_text(&a, name);
    vn__pg_text(&a, holder);
    vn__pg_int(&a, ttl_ms);
    s->no_wrap = 1; /* a lease is no change of the log: no writer lock needed to renew it */
    res = vn__pg_run(s, lease_take_sql, &a, NULL);
    s->no_wrap = 0;
    if (!res)
        return s->stmt_rc;
    *held = PQntuples(res) == 1;
    PQclear(res);
    return 0;
}

int vn__pg_lease_release(struct vn_store *st, const char *name, const char *holder)
{
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    int rc;

    vn__pg_text(&a, name);
    vn__pg_text(&a, holder);
    s->no_wrap = 1;
    rc = vn__pg_do(s, lease_release_sql, &a, NULL);
    s->no_wrap = 0;
    return rc;
}

/* ---- per-name mutual exclusion (store.h vn_store_mutex_lock) ---------------------------- */

/* Advisory lock class 'vnap' (Apple requests; handle.c has 'vnwr' and 'vnmg'); the second key is
 * the hash of the schema and the name: stores in different schemas never wait for each other,
 * and two names that share a hash only wait for each other needlessly. */
#define VN_PG_LOCK_MUTEX "1986945392"

/* 1 when this session holds the mutex name after all, 0 when not, -1 when it cannot tell (the
 * failure recorded on s). A wait that timed out can have been granted the lock in the same
 * instant: PostgreSQL then keeps it for the session although the statement failed (proc.c
 * LockErrorCleanup), and a session-level lock left so would never be given up. */
static int mutex_granted_anyway(struct vn__pg *s, const char *name)
{
    static const char sql[] =
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
        "  AND granted AND objsubid = 2 AND classid = " VN_PG_LOCK_MUTEX
        "  AND objid::bigint = (hashtext(coalesce(current_schema(), '') || '/' || $1)::bigint "
        "    & 4294967295)";
    struct vn__pg_args a = {0};
    PGresult *res;
    int granted;

    vn__pg_text(&a, name);
    if (!(res = vn__pg_run(s, sql, &a, NULL)))
        return -1;
    granted = strcmp(PQgetvalue(res, 0, 0), "0") != 0;
    PQclear(res);
    return granted;
}

int vn__pg_mutex_lock(struct vn_store *st, const char *name, int64_t wait_ms, int *held)
{
    /* lock_timeout for this statement's own transaction only (set_config(..., true) outside
     * a transaction block); the CTE runs first because the lock is taken per row of it. */
    static const char sql[] =
        "WITH t AS MATERIALIZED (SELECT set_config('lock_timeout', $2, true) AS v) "
        "SELECT pg_advisory_lock(" VN_PG_LOCK_MUTEX ", "
        "  hashtext(coalesce(current_schema(), '') || '/' || $1)) FROM t";
    struct vn__pg *s = vn__pg(st);
    int64_t deadline = vn_mono_ns() / 1000000 + wait_ms;

    *held = 0;
    if (s->txn_ms) {
        vn__store_set_error(st, "the mutex '%s' is taken outside a transaction", name);
        return VN_ESTORE;
    }
    for (;;) {
        struct vn__pg_args a = {0};
        int64_t left = deadline - vn_mono_ns() / 1000000, chunk = left;
        char timeout[32];
        PGresult *res;

        /* Wait in line, but within statement_timeout (it would cancel the wait): a longer
         * wait is several shorter ones. lock_timeout 0 would mean "forever": 1 ms at least. */
        if (s->statement_timeout_ms > 0 && chunk > s->statement_timeout_ms * 3 / 4)
            chunk = s->statement_timeout_ms * 3 / 4;
        if (chunk < 1)
            chunk = 1;
        snprintf(timeout, sizeof(timeout), "%lldms", (long long)chunk);
        vn__pg_text(&a, name);
        vn__pg_text(&a, timeout);
        s->no_wrap = 1;
        res = vn__pg_run(s, sql, &a, NULL);
        s->no_wrap = 0;
        if (res) {
            PQclear(res);
            *held = 1;
            return 0;
        }
        /* The server cancelled the wait (lock_timeout) on a connection that still works: not
         * held yet. Anything else is the store's failure. */
        if (!s->conn || PQstatus(s->conn) != CONNECTION_OK || s->stmt_rc != VN_EUNAVAIL)
            return s->stmt_rc;
        switch (mutex_granted_anyway(s, name)) {
        case 1:
            *held = 1;
            return 0;
        case -1:
            return s->stmt_rc;
        }
        if (left <= chunk)
            return 0;
    }
}

int vn__pg_mutex_unlock(struct vn_store *st, const char *name, int *lost)
{
    static const char sql[] = "SELECT pg_advisory_unlock(" VN_PG_LOCK_MUTEX ", "
                              "  hashtext(coalesce(current_schema(), '') || '/' || $1))";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    PGresult *res;

    *lost = 0;
    vn__pg_text(&a, name);
    s->no_wrap = 1;
    res = vn__pg_run(s, sql, &a, NULL);
    s->no_wrap = 0;
    if (!res) {
        /* The connection broke: the server ended the lock with it. */
        *lost = 1;
        return s->stmt_rc;
    }
    /* false: not held by this connection (a new one since the lock; the server's warning is
     * quiet, handle.c). */
    *lost = !vn__pg_col_bool(res, 0, 0);
    PQclear(res);
    return 0;
}

int vn__pg_mutex_fence(struct vn_store *st, const char *name, const char *token, int64_t hold_ms,
                       int *held)
{
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    PGresult *res = NULL;
    char lease[VN_ID_MAX + 64];
    int rc;

    *held = 0;
    if (s->txn_ms) {
        vn__store_set_error(st, "the fence of '%s' is written outside a transaction", name);
        return VN_ESTORE;
    }
    if (snprintf(lease, sizeof(lease), "requests:%s", name) >= (int)sizeof(lease)) {
        vn__store_set_error(st, "the mutex name '%s' is too long", name);
        return VN_EPARSE;
    }
    vn__pg_text(&a, lease);
    vn__pg_text(&a, token);
    if (hold_ms)
        vn__pg_int(&a, hold_ms);
    /* Its own read-write transaction (a session's handle is read-only by default), without
     * the writer lock: a lease is no change of the log. A connection the server closed since
     * the last statement (a restart: the fence is given up after a request that outlived it)
     * is replaced and the statement tried once more, as pg_begin does. */
    s->no_wrap = 1;
    for (int tries = 0; tries < 2; tries++) {
        rc = vn__pg_ensure(s);
        if (!rc)
            rc = vn__pg_do(s, "BEGIN READ WRITE", NULL, NULL);
        if (!rc) {
            res = vn__pg_run(s, hold_ms ? lease_take_sql : lease_release_sql, &a, NULL);
            rc = res ? vn__pg_do(s, "COMMIT", NULL, NULL) : s->stmt_rc;
        }
        if (rc != VN_EUNAVAIL || tries)
            break;
        /* The server may have ended the session (a restart) while libpq still calls the
         * connection good: start afresh (the mutex held on it, if any, is gone already). */
        PQclear(res);
        res = NULL;
        if (s->conn) {
            PQfinish(s->conn);
            s->conn = NULL;
            vn__pg_forget_statements(s);
        }
    }
    if (rc && s->conn && PQstatus(s->conn) == CONNECTION_OK &&
        PQtransactionStatus(s->conn) != PQTRANS_IDLE) {
        char keep[VN_ERROR_MSG_MAX];

        memcpy(keep, s->base.last_error, sizeof(keep));
        vn__pg_do(s, "ROLLBACK", NULL, NULL);
        memcpy(s->base.last_error, keep, sizeof(keep));
    }
    s->no_wrap = 0;
    if (!rc && hold_ms)
        *held = PQntuples(res) == 1;
    PQclear(res);
    return rc;
}
