/*
 * converge.c - the SQLite side of convergence (contract 3.1; store.h "convergence"): the
 * writer clock, the state of one key (its row or its tombstone, and the event of its last
 * notification change), the send order of vppnotify's own requests, the keys waiting for a
 * targeted read at Apple, and tombstone purging.
 *
 * The clock is stamped on rows and tombstones by triggers (schema.c, migration 14), so every
 * statement that changes a mirror row is covered without knowing it; this file only moves the
 * clock and reads what the triggers left.
 */
#include "sqlite_impl.h"

#include <stdio.h>
#include <string.h>

static const char *const table_names[VN_MT__COUNT] = {
    [VN_MT_ASSETS] = "assets", [VN_MT_ASSIGNMENTS] = "assignments",
    [VN_MT_USERS] = "users",   [VN_MT_SUBSCRIPTIONS] = "subscriptions",
    [VN_MT_SEATS] = "seats",
};

static const char *opt(const char *v)
{
    return v ? v : "";
}

static int bad_table(struct vn__sqlite *s, enum vn_mirror_table t)
{
    vn__store_set_error(&s->base, "no key history for mirror table %d", (int)t);
    return VN_ESTORE;
}

int vn__sq_clock_tick(struct vn_store *st_, int64_t *clock)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;
    int rc;

    VN_SQ_STMT(st, s, VN_SQ_CLOCK_TICK,
               "UPDATE writer_clock SET value = value + 1 WHERE id = 1 RETURNING value");
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (clock)
            *clock = sqlite3_column_int64(st, 0);
        return vn__sq_done(s, st);
    }
    sqlite3_reset(st);
    return vn__sq_fail(s, rc);
}

int vn__sq_clock(struct vn_store *st_, int64_t *clock)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;
    int rc;

    VN_SQ_STMT(st, s, VN_SQ_CLOCK, "SELECT value FROM writer_clock WHERE id = 1");
    rc = sqlite3_step(st);
    *clock = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    if (rc == SQLITE_ROW)
        return vn__sq_done(s, st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : vn__sq_fail(s, rc);
}

/* Bind the key (:uid :adam :pp :cuid :sn) of table into st. */
static void bind_key(sqlite3_stmt *st, const char *uid, const struct vn_mirror_scope *k)
{
    int i;

    if ((i = sqlite3_bind_parameter_index(st, ":uid")) > 0)
        vn__sq_text(st, i, uid);
    if ((i = sqlite3_bind_parameter_index(st, ":adam")) > 0)
        vn__sq_text(st, i, opt(k->adam_id));
    if ((i = sqlite3_bind_parameter_index(st, ":pp")) > 0)
        vn__sq_text(st, i, k->pricing_param ? k->pricing_param : "STDQ");
    if ((i = sqlite3_bind_parameter_index(st, ":cuid")) > 0)
        vn__sq_text(st, i, opt(k->client_user_id));
    if ((i = sqlite3_bind_parameter_index(st, ":sn")) > 0)
        vn__sq_text(st, i, opt(k->serial_number));
}

/* One row of st (clock, event_id[, status]) into out; 1 if there was a row. */
static int read_state(struct vn__sqlite *s, sqlite3_stmt *st, struct vn_key_state *out, int *rc)
{
    int r = sqlite3_step(st);

    if (r == SQLITE_ROW) {
        const char *ev = (const char *)sqlite3_column_text(st, 1);
        out->clock = sqlite3_column_int64(st, 0);
        vn_strlcpy(out->event_id, ev ? ev : "", sizeof(out->event_id));
        if (sqlite3_column_count(st) > 2) {
            const char *status = (const char *)sqlite3_column_text(st, 2);
            vn_strlcpy(out->status, status ? status : "", sizeof(out->status));
        }
        *rc = vn__sq_done(s, st);
        return 1;
    }
    sqlite3_reset(st);
    *rc = r == SQLITE_DONE ? 0 : vn__sq_fail(s, r);
    return 0;
}

int vn__sq_key_state(struct vn_store *st_, enum vn_mirror_table table, const char *uid,
                     const struct vn_mirror_scope *k, struct vn_key_state *out)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *row = NULL, *tomb = NULL;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    switch (table) {
    case VN_MT_ASSIGNMENTS:
        if (k->client_user_id)
            VN_SQ_STMT(row, s, VN_SQ_KEY_ASSIGN_USER,
                       "SELECT clock, event_id FROM assignments WHERE uid = :uid AND "
                       "adam_id = :adam AND pricing_param = :pp AND client_user_id = :cuid");
        else
            VN_SQ_STMT(row, s, VN_SQ_KEY_ASSIGN_DEVICE,
                       "SELECT clock, event_id FROM assignments WHERE uid = :uid AND "
                       "adam_id = :adam AND pricing_param = :pp AND serial_number = :sn");
        VN_SQ_STMT(tomb, s, VN_SQ_KEY_TOMB_ASSIGN,
                   "SELECT clock, event_id FROM mirror_tombstones WHERE uid = :uid AND "
                   "tbl = 'assignments' AND adam_id = :adam AND pricing_param = :pp AND "
                   "client_user_id = :cuid AND serial_number = :sn");
        break;
    case VN_MT_SEATS:
        VN_SQ_STMT(row, s, VN_SQ_KEY_SEAT,
                   "SELECT clock, event_id FROM subscription_assignments WHERE uid = :uid AND "
                   "adam_id = :adam AND client_user_id = :cuid");
        VN_SQ_STMT(tomb, s, VN_SQ_KEY_TOMB_SEAT,
                   "SELECT clock, event_id FROM mirror_tombstones WHERE uid = :uid AND "
                   "tbl = 'seats' AND adam_id = :adam AND client_user_id = :cuid");
        break;
    case VN_MT_USERS:
        VN_SQ_STMT(row, s, VN_SQ_KEY_USER,
                   "SELECT clock, event_id, status FROM users WHERE uid = :uid AND "
                   "client_user_id = :cuid");
        break;
    default:
        return bad_table(s, table);
    }
    bind_key(row, uid, k);
    out->present = read_state(s, row, out, &rc);
    if (rc || out->present || !tomb)
        return rc;
    bind_key(tomb, uid, k);
    read_state(s, tomb, out, &rc);
    return rc;
}

int vn__sq_key_event(struct vn_store *st_, enum vn_mirror_table table, const char *uid,
                     const struct vn_mirror_scope *k, const char *event_id)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *row, *tomb = NULL;
    int rc, changed = 0;

    switch (table) {
    case VN_MT_ASSIGNMENTS:
        if (k->client_user_id)
            VN_SQ_STMT(row, s, VN_SQ_KEY_EVENT_ASSIGN_USER,
                       "UPDATE assignments SET event_id = :ev WHERE uid = :uid AND "
                       "adam_id = :adam AND pricing_param = :pp AND client_user_id = :cuid");
        else
            VN_SQ_STMT(row, s, VN_SQ_KEY_EVENT_ASSIGN_DEVICE,
                       "UPDATE assignments SET event_id = :ev WHERE uid = :uid AND "
                       "adam_id = :adam AND pricing_param = :pp AND serial_number = :sn");
        VN_SQ_STMT(tomb, s, VN_SQ_KEY_EVENT_TOMB_ASSIGN,
                   "UPDATE mirror_tombstones SET event_id = :ev WHERE uid = :uid AND "
                   "tbl = 'assignments' AND adam_id = :adam AND pricing_param = :pp AND "
                   "client_user_id = :cuid AND serial_number = :sn");
        break;
    case VN_MT_SEATS:
        VN_SQ_STMT(row, s, VN_SQ_KEY_EVENT_SEAT,
                   "UPDATE subscription_assignments SET event_id = :ev WHERE uid = :uid AND "
                   "adam_id = :adam AND client_user_id = :cuid");
        VN_SQ_STMT(tomb, s, VN_SQ_KEY_EVENT_TOMB_SEAT,
                   "UPDATE mirror_tombstones SET event_id = :ev WHERE uid = :uid AND "
                   "tbl = 'seats' AND adam_id = :adam AND client_user_id = :cuid");
        break;
    case VN_MT_USERS:
        VN_SQ_STMT(row, s, VN_SQ_KEY_EVENT_USER,
                   "UPDATE users SET event_id = :ev WHERE uid = :uid AND client_user_id = :cuid");
        break;
    default:
        return bad_table(s, table);
    }
    bind_key(row, uid, k);
    vn__sq_text(row, sqlite3_bind_parameter_index(row, ":ev"), event_id);
    rc = vn__sq_run(s, row, &changed);
    if (rc || changed || !tomb)
        return rc;
    bind_key(tomb, uid, k);
    vn__sq_text(tomb, sqlite3_bind_parameter_index(tomb, ":ev"), event_id);
    rc = vn__sq_run(s, tomb, &changed);
    if (rc || changed)
        return rc;
    /* A removal of a key the mirror never had: remember it too, so that the late change of an
     * earlier request does not bring the key in. */
    VN_SQ_STMT(tomb, s, VN_SQ_KEY_EVENT_TOMB_NEW,
               "INSERT INTO mirror_tombstones(uid, tbl, adam_id, pricing_param, client_user_id, "
               "  serial_number, event_id, clock, deleted_at) "
               "SELECT :uid, :tbl, :adam, :ppt, :cuid, :sn, :ev, value, :now FROM writer_clock "
               "WHERE id = 1 AND EXISTS (SELECT 1 FROM locations WHERE uid = :uid) "
               "ON CONFLICT DO NOTHING");
    bind_key(tomb, uid, k);
    vn__sq_text(tomb, sqlite3_bind_parameter_index(tomb, ":tbl"),
                table == VN_MT_SEATS ? "seats" : "assignments");
    vn__sq_text(tomb, sqlite3_bind_parameter_index(tomb, ":ppt"),
                table == VN_MT_SEATS ? "" : (k->pricing_param ? k->pricing_param : "STDQ"));
    vn__sq_text(tomb, sqlite3_bind_parameter_index(tomb, ":ev"), event_id);
    vn__sq_text(tomb, sqlite3_bind_parameter_index(tomb, ":now"), vn__sq_now(s));
    return vn__sq_run(s, tomb, NULL);
}

int vn__sq_event_send_seq(struct vn_store *st_, const char *event_id, long long *seq)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;
    int rc;

    VN_SQ_STMT(st, s, VN_SQ_EVENT_SEND_SEQ,
               "SELECT send_seq FROM event_tracking WHERE event_id = ?1 AND send_seq IS NOT NULL");
    vn__sq_text(st, 1, event_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *seq = sqlite3_column_int64(st, 0);
        return vn__sq_done(s, st);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return vn__sq_fail(s, rc);
    vn__store_set_error(st_, "event '%s' was not sent by vppnotify", event_id);
    return VN_ENOTFOUND;
}

int vn__sq_verify_add(struct vn_store *st_, enum vn_mirror_table table, const char *uid,
                      const struct vn_mirror_scope *k, const char *reason)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;

    if ((unsigned)table >= VN_MT__COUNT)
        return bad_table(s, table);
    VN_SQ_STMT(st, s, VN_SQ_VERIFY_ADD,
               "INSERT INTO mirror_verify(uid, tbl, adam_id, pricing_param, client_user_id, "
               "  serial_number, reason, created_at) "
               "VALUES (:uid, :tbl, :adam, :pp, :cuid, :sn, :reason, :now) ON CONFLICT DO NOTHING");
    vn__sq_text(st, sqlite3_bind_parameter_index(st, ":uid"), uid);
    vn__sq_text(st, sqlite3_bind_parameter_index(st, ":tbl"), table_names[table]);
    vn__sq_text(st, sqlite3_bind_parameter_index(st, ":adam"), opt(k->adam_id));
    vn__sq_text(st, sqlite3_bind_parameter_index(st, ":pp"), opt(k->pricing_param));
    vn__sq_text(st, sqlite3_bind_parameter_index(st, ":cuid"), opt(k->client_user_id));
    vn__sq_text(st, sqlite3_bind_parameter_index(st, ":sn"), opt(k->serial_number));
    vn__sq_text(st, sqlite3_bind_parameter_index(st, ":reason"), reason);
    vn__sq_text(st, sqlite3_bind_parameter_index(st, ":now"), vn__sq_now(s));
    return vn__sq_run(s, st, NULL);
}

static const char *nonempty(const unsigned char *t)
{
    return t && t[0] ? (const char *)t : NULL;
}

int vn__sq_verify_list(struct vn_store *st_, const char *uid, long long limit, vn_verify_cb cb,
                       void *ud)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;
    int rc, stop = 0;

    VN_SQ_STMT(st, s, VN_SQ_VERIFY_LIST,
               "SELECT id, uid, tbl, adam_id, pricing_param, client_user_id, serial_number, "
               "  reason, attempts FROM mirror_verify WHERE (?1 IS NULL OR uid = ?1) "
               "ORDER BY id LIMIT ?2");
    vn__sq_text(st, 1, uid);
    sqlite3_bind_int64(st, 2, limit > 0 ? limit : -1);
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct vn_verify_item it = {0};
        const char *tbl = (const char *)sqlite3_column_text(st, 2);

        it.id = sqlite3_column_int64(st, 0);
        it.uid = (const char *)sqlite3_column_text(st, 1);
        it.table = VN_MT__COUNT;
        for (int t = 0; t < VN_MT__COUNT; t++)
            if (tbl && !strcmp(tbl, table_names[t]))
                it.table = (enum vn_mirror_table)t;
        it.key.adam_id = nonempty(sqlite3_column_text(st, 3));
        it.key.pricing_param = nonempty(sqlite3_column_text(st, 4));
        it.key.client_user_id = nonempty(sqlite3_column_text(st, 5));
        it.key.serial_number = nonempty(sqlite3_column_text(st, 6));
        it.reason = (const char *)sqlite3_column_text(st, 7);
        it.attempts = sqlite3_column_int64(st, 8);
        stop = cb(ud, &it);
    }
    if (stop) {
        sqlite3_reset(st);
        return stop;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : vn__sq_fail(s, rc);
}

int vn__sq_verify_done(struct vn_store *st_, long long id, const char *error)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;

    if (!error) {
        VN_SQ_STMT(st, s, VN_SQ_VERIFY_DELETE, "DELETE FROM mirror_verify WHERE id = ?1");
        sqlite3_bind_int64(st, 1, id);
        return vn__sq_run(s, st, NULL);
    }
    VN_SQ_STMT(st, s, VN_SQ_VERIFY_FAILED,
               "UPDATE mirror_verify SET attempts = attempts + 1, last_error = ?2 WHERE id = ?1");
    sqlite3_bind_int64(st, 1, id);
    vn__sq_text(st, 2, error);
    return vn__sq_run(s, st, NULL);
}

int vn__sq_tombstones_purge(struct vn_store *st_, int64_t before_ms, long long limit,
                            long long *removed)
{
    struct vn__sqlite *s = vn__sq(st_);
    char iso[VN_TIME_ISO_LEN];
    sqlite3_stmt *st;
    int rc, changed = 0;

    VN_SQ_STMT(st, s, VN_SQ_TOMBSTONES_PURGE,
               "DELETE FROM mirror_tombstones WHERE rowid IN (SELECT rowid FROM "
               "mirror_tombstones WHERE deleted_at < ?1 LIMIT ?2)");
    vn_time_iso(before_ms, iso);
    sqlite3_bind_text(st, 1, iso, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, limit > 0 ? limit : -1);
    rc = vn__sq_run(s, st, &changed);
    if (removed)
        *removed = rc ? 0 : changed;
    return rc;
}

int vn__sq_seat_count(struct vn_store *st_, const char *uid, const char *adam_id,
                      long long *renewing, long long *expiring)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;
    int rc;

    VN_SQ_STMT(st, s, VN_SQ_SEAT_COUNT,
               "SELECT coalesce(sum(renewing), 0), coalesce(sum(1 - renewing), 0) "
               "FROM subscription_assignments WHERE uid = ?1 AND adam_id = ?2");
    vn__sq_text(st, 1, uid);
    vn__sq_text(st, 2, adam_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *renewing = sqlite3_column_int64(st, 0);
        *expiring = sqlite3_column_int64(st, 1);
        return vn__sq_done(s, st);
    }
    sqlite3_reset(st);
    return vn__sq_fail(s, rc);
}

int vn__sq_mark_needs_sync(struct vn_store *st_, const char *uid, const char *adam_id,
                           const char *pricing_param)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;

    VN_SQ_STMT(st, s, VN_SQ_MARK_NEEDS_SYNC,
               "UPDATE assets SET needs_sync = 1 WHERE uid = ?1 AND adam_id = ?2 AND "
               "pricing_param = ?3");
    vn__sq_text(st, 1, uid);
    vn__sq_text(st, 2, adam_id);
    vn__sq_text(st, 3, pricing_param ? pricing_param : "STDQ");
    return vn__sq_run(s, st, NULL);
}
