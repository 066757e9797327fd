/*
 * apple.c - the SQLite backend's SQL for talking to Apple (contract section 5):
 * the instance configuration (mdmInfo id), the Apple side of each location (sealed sToken,
 * token status, subscription, takeover), the sync primitives (generation-marked upserts and
 * sweeps, sync state) and tracked events. store.h has the contracts, docs/SCHEMA.md the tables.
 *
 * Updates of several optional fields are one statement each, whose CASE arms test bits of a
 * bound "what" mask: no SQL is ever assembled at run time.
 */
#include "sqlite_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Bind an ISO time of ms, or NULL when ms is 0. buf must live until the statement ran. */
static void bind_time(sqlite3_stmt *st, int i, int64_t ms, char buf[VN_TIME_ISO_LEN])
{
    if (!ms) {
        sqlite3_bind_null(st, i);
        return;
    }
    vn_time_iso(ms, buf);
    sqlite3_bind_text(st, i, buf, -1, SQLITE_STATIC);
}

static int64_t column_time(sqlite3_stmt *st, int i)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    int64_t ms = 0;

    if (t && vn_time_parse(t, &ms) != 0)
        ms = 0;
    return ms;
}

static void column_copy(sqlite3_stmt *st, int i, char *out, size_t outlen)
{
    const char *t = (const char *)sqlite3_column_text(st, i);

    vn_strlcpy(out, t ? t : "", outlen);
}

static void bind_named(sqlite3_stmt *st, const char *name, const char *v)
{
    int i = sqlite3_bind_parameter_index(st, name);

    if (i > 0)
        vn__sq_text(st, i, v);
}

/* ---- instance configuration ------------------------------------------------------------ */

int vn__sq_config_ensure(struct vn_store *st_, const char *key, const char *value_if_absent,
                         char **out)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;
    int rc;

    *out = NULL;
    if (value_if_absent) {
        VN_SQ_STMT(
            st, s, VN_SQ_CONFIG_INSERT,
            "INSERT INTO instance_config(key, value) VALUES (?1, ?2) ON CONFLICT DO NOTHING");
        vn__sq_text(st, 1, key);
        vn__sq_text(st, 2, value_if_absent);
        rc = vn__sq_run(s, st, NULL);
        if (rc)
            return rc;
    }
    VN_SQ_STMT(st, s, VN_SQ_CONFIG_GET, "SELECT value FROM instance_config WHERE key = ?1");
    vn__sq_text(st, 1, key);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = strdup((const char *)sqlite3_column_text(st, 0));
        rc = *out ? 0 : -ENOMEM;
    } else if (rc == SQLITE_DONE) {
        vn__store_set_error(st_, "no configuration value '%s'", key);
        rc = VN_ENOTFOUND;
    } else {
        rc = vn__sq_fail(s, rc);
    }
    sqlite3_reset(st);
    return rc;
}

/* ---- the Apple side of a location ------------------------------------------------------- */

int vn__sq_location_apple(struct vn_store *st_, const char *uid, struct vn_location_apple *out)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;
    int rc;

    memset(out, 0, sizeof(*out));
    VN_SQ_STMT(st, s, VN_SQ_LOC_APPLE,
               "SELECT uid, name, org_name, stoken, token_expires_at, token_status, token_error, "
               "  notification_url, notification_types, subscribed_at, takeover_mdm_info, "
               "  expiry_warned_at FROM locations WHERE uid = ?1");
    vn__sq_text(st, 1, uid);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        vn__store_set_error(st_, "location '%s' not found", uid);
        rc = VN_ENOTFOUND;
        goto out;
    }
    if (rc != SQLITE_ROW) {
        rc = vn__sq_fail(s, rc);
        goto out;
    }
    column_copy(st, 0, out->uid, sizeof(out->uid));
    column_copy(st, 1, out->name, sizeof(out->name));
    column_copy(st, 2, out->org_name, sizeof(out->org_name));
    if (sqlite3_column_type(st, 3) == SQLITE_BLOB && sqlite3_column_bytes(st, 3) > 0) {
        size_t n = (size_t)sqlite3_column_bytes(st, 3);
        out->stoken = malloc(n);
        if (!out->stoken) {
            rc = -ENOMEM;
            goto out;
        }
        memcpy(out->stoken, sqlite3_column_blob(st, 3), n);
        out->stoken_len = n;
    }
    out->token_expires_ms = column_time(st, 4);
    column_copy(st, 5, out->token_status, sizeof(out->token_status));
    column_copy(st, 6, out->token_error, sizeof(out->token_error));
    column_copy(st, 7, out->notification_url, sizeof(out->notification_url));
    column_copy(st, 8, out->notification_types, sizeof(out->notification_types));
    out->subscribed_ms = column_time(st, 9);
    column_copy(st, 10, out->takeover, sizeof(out->takeover));
    out->expiry_warned_ms = column_time(st, 11);
    rc = 0;
out:
    sqlite3_reset(st);
    return rc;
}

int vn__sq_apple_uids(struct vn_store *st_, char ***uids, size_t *n)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;

    *uids = NULL;
    *n = 0;
    VN_SQ_STMT(st, s, VN_SQ_APPLE_UIDS,
               "SELECT uid FROM locations WHERE stoken IS NOT NULL ORDER BY uid");
    return vn__sq_collect_text(s, st, uids, n);
}

int vn__sq_location_update(struct vn_store *st_, const char *uid,
                           const struct vn_location_update *u)
{
    struct vn__sqlite *s = vn__sq(st_);
    char exp_iso[VN_TIME_ISO_LEN], sub_iso[VN_TIME_ISO_LEN], warn_iso[VN_TIME_ISO_LEN];
    char now_iso[VN_TIME_ISO_LEN];
    sqlite3_stmt *st;
    int rc, changed;

    /* Bits: 1 sToken, 2 expiry, 4 status, 8 subscription, 16 takeover, 32 warned. A new
     * sToken is 'ok', has a fresh expiry and starts a new warning cycle. */
    VN_SQ_STMT(
        st, s, VN_SQ_LOC_UPDATE,
        "UPDATE locations SET "
        "  stoken = CASE WHEN ?2 & 1 THEN ?3 ELSE stoken END, "
        "  stoken_set_at = CASE WHEN ?2 & 1 THEN ?12 ELSE stoken_set_at END, "
        "  org_name = CASE WHEN ?2 & 1 THEN coalesce(?4, org_name) ELSE org_name END, "
        "  token_expires_at = CASE WHEN ?2 & 3 THEN ?5 ELSE token_expires_at END, "
        "  token_status = CASE WHEN ?2 & 1 THEN 'ok' WHEN ?2 & 4 THEN ?6 ELSE token_status END, "
        "  token_error = CASE WHEN ?2 & 1 THEN NULL WHEN ?2 & 4 THEN ?7 ELSE token_error END, "
        "  token_status_at = CASE WHEN ?2 & 5 THEN ?12 ELSE token_status_at END, "
        "  notification_url = CASE WHEN ?2 & 8 THEN ?8 ELSE notification_url END, "
        "  notification_types = CASE WHEN ?2 & 8 THEN ?9 ELSE notification_types END, "
        "  subscribed_at = CASE WHEN ?2 & 8 THEN ?10 ELSE subscribed_at END, "
        "  takeover_mdm_info = CASE WHEN ?2 & 16 THEN ?11 ELSE takeover_mdm_info END, "
        "  takeover_at = CASE WHEN ?2 & 16 THEN (CASE WHEN ?11 IS NULL THEN NULL "
        "    ELSE ?12 END) ELSE takeover_at END, "
        "  expiry_warned_at = CASE WHEN ?2 & 1 THEN NULL WHEN ?2 & 32 THEN ?13 "
        "    ELSE expiry_warned_at END "
        "WHERE uid = ?1");
    vn__sq_text(st, 1, uid);
    sqlite3_bind_int(st, 2, (int)u->what);
    if (u->stoken)
        sqlite3_bind_blob64(st, 3, u->stoken, u->stoken_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 3);
    vn__sq_text(st, 4, u->org_name && *u->org_name ? u->org_name : NULL);
    bind_time(st, 5, u->token_expires_ms, exp_iso);
    vn__sq_text(st, 6, u->token_status);
    vn__sq_text(st, 7, u->token_error);
    vn__sq_text(st, 8, u->notification_url);
    vn__sq_text(st, 9, u->notification_types);
    bind_time(st, 10, u->subscribed_ms, sub_iso);
    vn__sq_text(st, 11, u->takeover);
    vn_time_iso(u->now_ms ? u->now_ms : vn_now_ms(), now_iso);
    sqlite3_bind_text(st, 12, now_iso, -1, SQLITE_STATIC);
    bind_time(st, 13, u->expiry_warned_ms, warn_iso);
    rc = vn__sq_run(s, st, &changed);
    if (!rc && changed == 0) {
        vn__store_set_error(st_, "location '%s' not found", uid);
        return VN_ENOTFOUND;
    }
    return rc;
}

int vn__sq_location_unrotate(struct vn_store *st_, const char *uid,
                             const uint8_t digest[VN_DIGEST_LEN])
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;
    int rc, changed = 0;

    rc = st_->ops->begin(st_);
    if (rc)
        return rc;
    st = vn__sq_stmt(s, VN_SQ_TOKEN_UNROTATE_DROP,
                     "DELETE FROM location_tokens WHERE uid = ?1 AND digest = ?2 "
                     "AND expires_at IS NULL");
    if (!st) {
        rc = s->stmt_rc;
        goto out;
    }
    vn__sq_text(st, 1, uid);
    sqlite3_bind_blob(st, 2, digest, VN_DIGEST_LEN, SQLITE_STATIC);
    rc = vn__sq_run(s, st, &changed);
    if (!rc && changed == 0) {
        vn__store_set_error(st_, "no such current token of location '%s'", uid);
        rc = VN_ENOTFOUND;
    }
    if (rc)
        goto out;
    st = vn__sq_stmt(s, VN_SQ_TOKEN_UNROTATE_PROMOTE,
                     "UPDATE location_tokens SET expires_at = NULL "
                     "WHERE uid = ?1 AND expires_at IS NOT NULL");
    if (!st) {
        rc = s->stmt_rc;
        goto out;
    }
    vn__sq_text(st, 1, uid);
    rc = vn__sq_run(s, st, NULL);
out:
    if (rc) {
        vn__sq_abort(s);
        return rc;
    }
    return st_->ops->commit(st_);
}

/* ---- sync -------------------------------------------------------------------------------- */

/*
 * The three-step write of one synced record: an UPDATE that only matches when a field differs
 * (changed), else an UPDATE that only marks the generation (unchanged), else an INSERT
 * (added). Each step is one cached statement; the common case, a row that did not change,
 * costs two point updates. The updates only match a row whose clock is not after :seen, and
 * the insert does nothing over an existing row or a tombstone newer than :seen: then a newer
 * change (a notification applied after the page was fetched) is kept and the result is 3.
 */
static int sync_row(struct vn__sqlite *s, sqlite3_stmt *upd, sqlite3_stmt *mark, sqlite3_stmt *ins)
{
    int rc, changed = 0;

    if (upd) {
        rc = vn__sq_run(s, upd, &changed);
        if (rc)
            return rc;
        if (changed)
            return 2;
    }
    rc = vn__sq_run(s, mark, &changed);
    if (rc)
        return rc;
    if (changed)
        return 0;
    rc = vn__sq_run(s, ins, &changed);
    return rc ? rc : changed ? 1 : 3;
}

/* Bind the same named parameters in every statement of a sync_row. */
#define BIND3(name, v)                                                                             \
    do {                                                                                           \
        if (upd)                                                                                   \
            bind_named(upd, name, v);                                                              \
        bind_named(mark, name, v);                                                                 \
        bind_named(ins, name, v);                                                                  \
    } while (0)

static void bind_int_named(sqlite3_stmt *st, const char *name, long long v)
{
    int i = sqlite3_bind_parameter_index(st, name);

    if (i > 0)
        sqlite3_bind_int64(st, i, v);
}

#define BIND3I(name, v)                                                                            \
    do {                                                                                           \
        if (upd)                                                                                   \
            bind_int_named(upd, name, v);                                                          \
        bind_int_named(mark, name, v);                                                             \
        bind_int_named(ins, name, v);                                                              \
    } while (0)

int vn__sq_sync_asset(struct vn_store *st_, const char *uid, int64_t gen, int64_t seen,
                      const char *adam_id, const char *pricing_param, long long total,
                      long long assigned, long long available)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *upd, *mark, *ins;

    VN_SQ_STMT(
        upd, s, VN_SQ_SYNC_ASSET_UPD,
        "UPDATE assets SET total_count = :total, assigned_count = :assigned, "
        "  available_count = :available, needs_sync = 0, sync_gen = :gen, updated_at = :now "
        "WHERE uid = :uid AND adam_id = :adam AND pricing_param = :pp AND clock <= :seen AND "
        "  coalesce(sync_gen, 0) <= :gen AND (total_count <> :total OR assigned_count <> :assigned "
        "OR "
        "   available_count <> :available)");
    VN_SQ_STMT(mark, s, VN_SQ_SYNC_ASSET_MARK,
               "UPDATE assets SET needs_sync = 0, sync_gen = :gen "
               "WHERE uid = :uid AND adam_id = :adam AND pricing_param = :pp AND clock <= :seen "
               "AND coalesce(sync_gen, 0) <= :gen");
    VN_SQ_STMT(ins, s, VN_SQ_SYNC_ASSET_INS,
               "INSERT INTO assets(uid, adam_id, pricing_param, total_count, assigned_count, "
               "  available_count, needs_sync, updated_at, sync_gen) "
               "VALUES (:uid, :adam, :pp, :total, :assigned, :available, 0, :now, :gen) "
               "ON CONFLICT DO NOTHING");
    BIND3(":uid", uid);
    BIND3(":adam", adam_id);
    BIND3(":pp", pricing_param ? pricing_param : "STDQ");
    BIND3(":now", vn__sq_now(s));
    BIND3I(":gen", gen);
    BIND3I(":seen", seen);
    BIND3I(":total", total);
    BIND3I(":assigned", assigned);
    BIND3I(":available", available);
    return sync_row(s, upd, mark, ins);
}

int vn__sq_sync_assignment(struct vn_store *st_, const char *uid, int64_t gen, int64_t seen,
                           const struct vn_assignment *a)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *upd = NULL, *mark, *ins;

    if (!a->client_user_id == !a->serial_number) {
        vn__store_set_error(st_,
                            "assignment of adamId '%s' needs exactly one of clientUserId "
                            "and serialNumber",
                            a->adam_id.s);
        return VN_EPARSE;
    }
    /* Two marks, so that each one's "= :who" uses its partial unique index. */
    if (a->client_user_id)
        VN_SQ_STMT(mark, s, VN_SQ_SYNC_ASSIGN_MARK_USER,
                   "UPDATE assignments SET sync_gen = :gen WHERE uid = :uid AND adam_id = :adam "
                   "AND pricing_param = :pp AND client_user_id = :who AND clock <= :seen"
                   " AND coalesce(sync_gen, 0) <= :gen");
    else
        VN_SQ_STMT(mark, s, VN_SQ_SYNC_ASSIGN_MARK_DEVICE,
                   "UPDATE assignments SET sync_gen = :gen WHERE uid = :uid AND adam_id = :adam "
                   "AND pricing_param = :pp AND serial_number = :who AND clock <= :seen"
                   " AND coalesce(sync_gen, 0) <= :gen");
    VN_SQ_STMT(ins, s, VN_SQ_SYNC_ASSIGN_INS,
               "INSERT INTO assignments(uid, adam_id, pricing_param, client_user_id, "
               "  serial_number, sync_gen, updated_at) "
               "SELECT :uid, :adam, :pp, :cuid, :sn, :gen, :now WHERE NOT EXISTS (SELECT 1 FROM "
               "  mirror_tombstones WHERE uid = :uid AND tbl = 'assignments' AND "
               "  adam_id = :adam AND pricing_param = :pp AND "
               "  client_user_id = coalesce(:cuid, '') AND serial_number = coalesce(:sn, '') "
               "  AND clock > :seen) "
               "ON CONFLICT DO NOTHING");
    BIND3(":uid", uid);
    BIND3(":adam", a->adam_id.s);
    BIND3(":pp", a->pricing_param ? a->pricing_param : "STDQ");
    bind_named(mark, ":who", a->client_user_id ? a->client_user_id : a->serial_number);
    bind_named(ins, ":cuid", a->client_user_id);
    bind_named(ins, ":sn", a->serial_number);
    bind_named(ins, ":now", vn__sq_now(s));
    BIND3I(":gen", gen);
    BIND3I(":seen", seen);
    return sync_row(s, NULL, mark, ins);
}

/* Users: Apple may return two records of one clientUserId in one walk, maybe in two chunks of
 * one page (two transactions): a row this walk wrote is not "newer than the page" for the
 * walk's own second record. */
int vn__sq_sync_user(struct vn_store *st_, const char *uid, int64_t gen, int64_t seen,
                     const struct vn_user *u)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *upd, *mark, *ins;

    if (!u->client_user_id) {
        vn__store_set_error(st_, "user without a clientUserId");
        return VN_EPARSE;
    }
    VN_SQ_STMT(upd, s, VN_SQ_SYNC_USER_UPD,
               "UPDATE users SET email = :email, invite_code = :invite, id_hash = :hash, "
               "  status = :status, sync_gen = :gen, updated_at = :now "
               "WHERE uid = :uid AND client_user_id = :cuid AND (email IS NOT :email OR "
               "  invite_code IS NOT :invite OR id_hash IS NOT :hash OR status IS NOT :status) "
               "  AND NOT (sync_gen IS :gen AND status IS NOT 'Retired' AND :status IS 'Retired') "
               "  AND (clock <= :seen OR sync_gen IS :gen) AND coalesce(sync_gen, 0) <= :gen");
    VN_SQ_STMT(mark, s, VN_SQ_SYNC_USER_MARK,
               "UPDATE users SET sync_gen = :gen WHERE uid = :uid AND client_user_id = :cuid "
               "AND (clock <= :seen OR sync_gen IS :gen) AND coalesce(sync_gen, 0) <= :gen");
    VN_SQ_STMT(ins, s, VN_SQ_SYNC_USER_INS,
               "INSERT INTO users(uid, client_user_id, email, invite_code, id_hash, status, "
               "  updated_at, sync_gen) "
               "VALUES (:uid, :cuid, :email, :invite, :hash, :status, :now, :gen) "
               "ON CONFLICT DO NOTHING");
    BIND3(":uid", uid);
    BIND3(":cuid", u->client_user_id);
    BIND3(":email", u->email);
    BIND3(":invite", u->invite_code);
    BIND3(":hash", u->id_hash);
    BIND3(":status", u->status);
    BIND3(":now", vn__sq_now(s));
    BIND3I(":gen", gen);
    BIND3I(":seen", seen);
    return sync_row(s, upd, mark, ins);
}

int vn__sq_sync_subscription(struct vn_store *st_, const char *uid, int64_t gen, int64_t seen,
                             const char *adam_id, const char *parent_adam_id,
                             const struct vn_counts *c)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *upd, *mark, *ins;

    VN_SQ_STMT(upd, s, VN_SQ_SYNC_SUB_UPD,
               "UPDATE subscriptions SET parent_adam_id = :parent, available_renewing = :ar, "
               "  available_expiring = :ae, total_renewing = :tr, total_expiring = :te, "
               "  sync_gen = :gen, updated_at = :now "
               "WHERE uid = :uid AND adam_id = :adam AND clock <= :seen AND "
               "  coalesce(sync_gen, 0) <= :gen AND (parent_adam_id IS NOT :parent OR "
               "  available_renewing <> :ar OR available_expiring <> :ae OR total_renewing <> :tr "
               "  OR total_expiring <> :te)");
    VN_SQ_STMT(mark, s, VN_SQ_SYNC_SUB_MARK,
               "UPDATE subscriptions SET sync_gen = :gen WHERE uid = :uid AND adam_id = :adam "
               "AND clock <= :seen AND coalesce(sync_gen, 0) <= :gen");
    VN_SQ_STMT(ins, s, VN_SQ_SYNC_SUB_INS,
               "INSERT INTO subscriptions(uid, adam_id, parent_adam_id, available_renewing, "
               "  available_expiring, total_renewing, total_expiring, updated_at, sync_gen) "
               "VALUES (:uid, :adam, :parent, :ar, :ae, :tr, :te, :now, :gen) "
               "ON CONFLICT DO NOTHING");
    BIND3(":uid", uid);
    BIND3(":adam", adam_id);
    BIND3(":parent", parent_adam_id);
    BIND3(":now", vn__sq_now(s));
    BIND3I(":gen", gen);
    BIND3I(":seen", seen);
    BIND3I(":ar", c->available_renewing);
    BIND3I(":ae", c->available_expiring);
    BIND3I(":tr", c->total_renewing);
    BIND3I(":te", c->total_expiring);
    return sync_row(s, upd, mark, ins);
}

int vn__sq_sync_seat(struct vn_store *st_, const char *uid, int64_t gen, int64_t seen,
                     const struct vn_seat *seat)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *upd, *mark, *ins;

    VN_SQ_STMT(upd, s, VN_SQ_SYNC_SEAT_UPD,
               "UPDATE subscription_assignments SET renewing = :renewing, sync_gen = :gen, "
               "  updated_at = :now "
               "WHERE uid = :uid AND adam_id = :adam AND client_user_id = :cuid AND "
               "  renewing <> :renewing AND clock <= :seen AND coalesce(sync_gen, 0) <= :gen");
    VN_SQ_STMT(mark, s, VN_SQ_SYNC_SEAT_MARK,
               "UPDATE subscription_assignments SET sync_gen = :gen "
               "WHERE uid = :uid AND adam_id = :adam AND client_user_id = :cuid "
               "AND clock <= :seen AND coalesce(sync_gen, 0) <= :gen");
    VN_SQ_STMT(ins, s, VN_SQ_SYNC_SEAT_INS,
               "INSERT INTO subscription_assignments(uid, adam_id, client_user_id, renewing, "
               "  sync_gen, updated_at) "
               "SELECT :uid, :adam, :cuid, :renewing, :gen, :now WHERE NOT EXISTS (SELECT 1 FROM "
               "  mirror_tombstones WHERE uid = :uid AND tbl = 'seats' AND adam_id = :adam AND "
               "  client_user_id = :cuid AND clock > :seen) "
               "ON CONFLICT DO NOTHING");
    BIND3(":uid", uid);
    BIND3(":adam", seat->adam_id.s);
    BIND3(":cuid", seat->client_user_id);
    BIND3(":now", vn__sq_now(s));
    BIND3I(":renewing", seat->renewing ? 1 : 0);
    BIND3I(":gen", gen);
    BIND3I(":seen", seen);
    return sync_row(s, upd, mark, ins);
}

/* The rows a sweep deletes, at most :limit of them (-1: all), by rowid. */
#define SWEEP(table, where)                                                                        \
    "DELETE FROM " table " WHERE rowid IN (SELECT rowid FROM " table " WHERE uid = :uid " where    \
    " AND coalesce(sync_gen, 0) < :gen AND clock <= :since LIMIT :limit)"

int vn__sq_sync_sweep(struct vn_store *st_, enum vn_mirror_table table, const char *uid,
                      int64_t gen, int64_t since, const struct vn_mirror_scope *scope,
                      long long limit, long long *removed)
{
    static const struct {
        enum vn__sq_slot slot;
        const char *sql;
    } sweeps[VN_MT__COUNT] = {
        [VN_MT_ASSETS] = {VN_SQ_SWEEP_ASSETS,
                          SWEEP("assets", "AND (:adam IS NULL OR adam_id = :adam) "
                                          "AND (:pp IS NULL OR pricing_param = :pp)")},
        [VN_MT_ASSIGNMENTS] = {VN_SQ_SWEEP_ASSIGNMENTS,
                               SWEEP("assignments", "AND (:adam IS NULL OR adam_id = :adam) "
                                                    "AND (:pp IS NULL OR pricing_param = :pp) "
                                                    "AND (:cuid IS NULL OR client_user_id = :cuid) "
                                                    "AND (:sn IS NULL OR serial_number = :sn)")},
        [VN_MT_USERS] = {VN_SQ_SWEEP_USERS,
                         SWEEP("users", "AND (:cuid IS NULL OR client_user_id = :cuid)")},
        [VN_MT_SUBSCRIPTIONS] = {VN_SQ_SWEEP_SUBS,
                                 SWEEP("subscriptions", "AND (:adam IS NULL OR adam_id = :adam)")},
        [VN_MT_SEATS] = {VN_SQ_SWEEP_SEATS, SWEEP("subscription_assignments",
                                                  "AND (:adam IS NULL OR adam_id = :adam) "
                                                  "AND (:cuid IS NULL OR client_user_id = :cuid)")},
    };
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;
    int rc, changed = 0;

    if ((unsigned)table >= VN_MT__COUNT) {
        vn__store_set_error(st_, "unknown mirror table %d", (int)table);
        return VN_EPARSE;
    }
    VN_SQ_STMT(st, s, sweeps[table].slot, sweeps[table].sql);
    bind_named(st, ":uid", uid);
    bind_named(st, ":adam", scope->adam_id);
    bind_named(st, ":pp", scope->pricing_param);
    bind_named(st, ":cuid", scope->client_user_id);
    bind_named(st, ":sn", scope->serial_number);
    bind_int_named(st, ":gen", gen);
    bind_int_named(st, ":limit", limit > 0 ? limit : -1);
    bind_int_named(st, ":since", since);
    rc = vn__sq_run(s, st, &changed);
    if (removed)
        *removed = rc ? 0 : changed;
    return rc;
}

int vn__sq_sync_state_get(struct vn_store *st_, const char *uid, struct vn_sync_state *out)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;
    int rc;

    memset(out, 0, sizeof(*out));
    VN_SQ_STMT(st, s, VN_SQ_SYNC_STATE_GET,
               "SELECT assignments_version, users_version, last_full_at, last_delta_at, "
               "  last_attempt_at, last_kind, last_error, last_drift FROM location_sync "
               "WHERE uid = ?1");
    vn__sq_text(st, 1, uid);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        column_copy(st, 0, out->assignments_version, sizeof(out->assignments_version));
        column_copy(st, 1, out->users_version, sizeof(out->users_version));
        out->last_full_ms = column_time(st, 2);
        out->last_delta_ms = column_time(st, 3);
        out->last_attempt_ms = column_time(st, 4);
        column_copy(st, 5, out->last_kind, sizeof(out->last_kind));
        column_copy(st, 6, out->last_error, sizeof(out->last_error));
        column_copy(st, 7, out->last_drift, sizeof(out->last_drift));
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? 0 : vn__sq_fail(s, rc);
    }
    sqlite3_reset(st);
    return rc;
}

int vn__sq_sync_state_put(struct vn_store *st_, const char *uid, const struct vn_sync_state *v)
{
    struct vn__sqlite *s = vn__sq(st_);
    char full[VN_TIME_ISO_LEN], delta[VN_TIME_ISO_LEN], attempt[VN_TIME_ISO_LEN];
    sqlite3_stmt *st;

    VN_SQ_STMT(
        st, s, VN_SQ_SYNC_STATE_PUT,
        "INSERT INTO location_sync(uid, assignments_version, users_version, last_full_at, "
        "  last_delta_at, last_attempt_at, last_kind, last_error, last_drift) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
        "ON CONFLICT(uid) DO UPDATE SET assignments_version = excluded.assignments_version, "
        "  users_version = excluded.users_version, last_full_at = excluded.last_full_at, "
        "  last_delta_at = excluded.last_delta_at, last_attempt_at = excluded.last_attempt_at, "
        "  last_kind = excluded.last_kind, last_error = excluded.last_error, "
        "  last_drift = excluded.last_drift");
    vn__sq_text(st, 1, uid);
    vn__sq_text(st, 2, v->assignments_version[0] ? v->assignments_version : NULL);
    vn__sq_text(st, 3, v->users_version[0] ? v->users_version : NULL);
    bind_time(st, 4, v->last_full_ms, full);
    bind_time(st, 5, v->last_delta_ms, delta);
    bind_time(st, 6, v->last_attempt_ms, attempt);
    vn__sq_text(st, 7, v->last_kind[0] ? v->last_kind : NULL);
    vn__sq_text(st, 8, v->last_error[0] ? v->last_error : NULL);
    vn__sq_text(st, 9, v->last_drift[0] ? v->last_drift : NULL);
    return vn__sq_run(s, st, NULL);
}

/* ---- tracked events ---------------------------------------------------------------------- */

int vn__sq_event_track(struct vn_store *st_, const struct vn_event_track *t)
{
    struct vn__sqlite *s = vn__sq(st_);
    char at[VN_TIME_ISO_LEN];
    sqlite3_stmt *st;
    int rc, changed;

    if (!t->event_id || !t->uid) {
        vn__store_set_error(st_, "a tracked event needs an eventId and a uId");
        return VN_EPARSE;
    }
    VN_SQ_STMT(st, s, VN_SQ_EVENT_TRACK,
               "INSERT INTO event_tracking(event_id, uid, kind, type, request, expected, deferred, "
               "  requested_at, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'tracking') "
               "ON CONFLICT(event_id) DO NOTHING");
    vn__sq_text(st, 1, t->event_id);
    vn__sq_text(st, 2, t->uid);
    vn__sq_text(st, 3, t->kind);
    vn__sq_text(st, 4, t->type);
    vn__sq_text(st, 5, t->request);
    if (t->expected > 0)
        sqlite3_bind_int64(st, 6, t->expected);
    else
        sqlite3_bind_null(st, 6);
    sqlite3_bind_int(st, 7, t->deferred ? 1 : 0);
    vn_time_iso(t->requested_ms, at);
    sqlite3_bind_text(st, 8, at, -1, SQLITE_STATIC);
    rc = vn__sq_run(s, st, &changed);
    if (!rc && changed == 0) {
        vn__store_set_error(st_, "event '%s' is tracked already", t->event_id);
        return VN_EDUP;
    }
    return rc;
}

static const char *column_str(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

int vn__sq_events_tracking(struct vn_store *st_, const char *uid, vn_tracked_cb cb, void *ud)
{
    struct vn__sqlite *s = vn__sq(st_);
    struct vn_tracked_event e;
    sqlite3_stmt *st;
    int rc;

    VN_SQ_STMT(st, s, VN_SQ_EVENTS_TRACKING,
               "SELECT t.event_id, t.uid, t.kind, t.type, t.request, coalesce(t.expected, 0), "
               "  t.deferred, t.requested_at, t.status, coalesce(t.num_requested, -1), "
               "  coalesce(t.num_completed, -1), t.polls, t.last_poll_at, t.stalled, "
               "  coalesce(e.notifications, 0), coalesce(e.succeeded, 0), coalesce(e.failed, 0), "
               "  e.last_seen_at "
               "FROM event_tracking AS t LEFT JOIN events AS e ON e.event_id = t.event_id "
               "WHERE t.state = 'tracking' AND (?1 IS NULL OR t.uid = ?1) "
               "ORDER BY t.requested_at, t.event_id");
    vn__sq_text(st, 1, uid);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&e, 0, sizeof(e));
        e.event_id = column_str(st, 0);
        e.uid = column_str(st, 1);
        e.kind = column_str(st, 2);
        e.type = column_str(st, 3);
        e.request = column_str(st, 4);
        e.expected = sqlite3_column_int64(st, 5);
        e.deferred = sqlite3_column_int(st, 6);
        e.requested_ms = column_time(st, 7);
        e.status = column_str(st, 8);
        e.num_requested = sqlite3_column_int64(st, 9);
        e.num_completed = sqlite3_column_int64(st, 10);
        e.polls = sqlite3_column_int64(st, 11);
        e.last_poll_ms = column_time(st, 12);
        e.stalled = sqlite3_column_int(st, 13);
        e.notifications = sqlite3_column_int64(st, 14);
        e.succeeded = sqlite3_column_int64(st, 15);
        e.failed = sqlite3_column_int64(st, 16);
        e.last_notified_ms = column_time(st, 17);
        rc = cb(ud, &e);
        if (rc) {
            sqlite3_reset(st);
            return rc;
        }
    }
    rc = rc == SQLITE_DONE ? 0 : vn__sq_fail(s, rc);
    sqlite3_reset(st);
    return rc;
}

int vn__sq_event_tracking_update(struct vn_store *st_, const char *event_id,
                                 const struct vn_event_tracking_update *u)
{
    struct vn__sqlite *s = vn__sq(st_);
    char now[VN_TIME_ISO_LEN];
    sqlite3_stmt *st;
    int rc, changed;

    /* Bits: 1 poll, 2 stalled, 4 missing, 8 resync, 16 done; status fields go with 1 or 16. */
    VN_SQ_STMT(st, s, VN_SQ_EVENT_TRACKING_UPDATE,
               "UPDATE event_tracking SET "
               "  polls = polls + (CASE WHEN ?2 & 1 THEN 1 ELSE 0 END), "
               "  last_poll_at = CASE WHEN ?2 & 1 THEN ?9 ELSE last_poll_at END, "
               "  poll_error = CASE WHEN ?2 & 1 THEN ?7 ELSE poll_error END, "
               "  status = CASE WHEN ?2 & 17 AND ?3 IS NOT NULL THEN ?3 ELSE status END, "
               "  num_requested = CASE WHEN ?2 & 17 AND ?4 >= 0 THEN ?4 ELSE num_requested END, "
               "  num_completed = CASE WHEN ?2 & 17 AND ?5 >= 0 THEN ?5 ELSE num_completed END, "
               "  failures = CASE WHEN ?2 & 17 AND ?6 IS NOT NULL THEN ?6 ELSE failures END, "
               "  stalled = CASE WHEN ?2 & 2 THEN 1 ELSE stalled END, "
               "  stalled_at = CASE WHEN ?2 & 2 THEN coalesce(stalled_at, ?9) ELSE stalled_at END, "
               "  notifications_missing = CASE WHEN ?2 & 4 THEN 1 ELSE notifications_missing END, "
               "  resync = CASE WHEN ?2 & 8 THEN ?8 ELSE resync END, "
               "  state = CASE WHEN ?2 & 16 THEN 'done' ELSE state END, "
               "  completed_at = CASE WHEN ?2 & 16 THEN ?9 ELSE completed_at END "
               "WHERE event_id = ?1");
    vn__sq_text(st, 1, event_id);
    sqlite3_bind_int(st, 2, (int)u->what);
    vn__sq_text(st, 3, u->status);
    sqlite3_bind_int64(st, 4, u->num_requested);
    sqlite3_bind_int64(st, 5, u->num_completed);
    vn__sq_text(st, 6, u->failures);
    vn__sq_text(st, 7, u->poll_error);
    vn__sq_text(st, 8, u->resync);
    vn_time_iso(u->now_ms ? u->now_ms : vn_now_ms(), now);
    sqlite3_bind_text(st, 9, now, -1, SQLITE_STATIC);
    rc = vn__sq_run(s, st, &changed);
    if (!rc && changed == 0) {
        vn__store_set_error(st_, "event '%s' is not tracked", event_id);
        return VN_ENOTFOUND;
    }
    return rc;
}

/* ---- leases ------------------------------------------------------------------------------ */

int vn__sq_lease_take(struct vn_store *st_, const char *name, const char *holder, int64_t ttl_ms,
                      int *held)
{
    struct vn__sqlite *s = vn__sq(st_);
    char now[VN_TIME_ISO_LEN], until[VN_TIME_ISO_LEN];
    int64_t ms = vn_now_ms();
    sqlite3_stmt *st;
    int rc;

    /* Free, expired, or ours: take or renew it; else the upsert's WHERE leaves it and returns
     * no row. A holder keeps the time it first took it. */
    VN_SQ_STMT(st, s, VN_SQ_LEASE_TAKE,
               "INSERT INTO leases(name, holder, expires_at, taken_at) VALUES (?1, ?2, ?3, ?4) "
               "ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, "
               "  expires_at = excluded.expires_at, "
               "  taken_at = CASE WHEN holder = excluded.holder THEN taken_at "
               "    ELSE excluded.taken_at END "
               "WHERE holder = excluded.holder OR expires_at <= excluded.taken_at "
               "RETURNING holder");
    vn_time_iso(ms, now);
    vn_time_iso(ms + ttl_ms, until);
    vn__sq_text(st, 1, name);
    vn__sq_text(st, 2, holder);
    sqlite3_bind_text(st, 3, until, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, now, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    *held = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW)
        rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? 0 : vn__sq_fail(s, rc);
    sqlite3_reset(st);
    if (rc)
        *held = 0;
    return rc;
}

int vn__sq_lease_release(struct vn_store *st_, const char *name, const char *holder)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;

    VN_SQ_STMT(st, s, VN_SQ_LEASE_RELEASE, "DELETE FROM leases WHERE name = ?1 AND holder = ?2");
    vn__sq_text(st, 1, name);
    vn__sq_text(st, 2, holder);
    return vn__sq_run(s, st, NULL);
}
