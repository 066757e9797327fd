/*
 * converge.c - the PostgreSQL side of convergence (contract 3.1; store.h "convergence"), as
 * the SQLite backend's sqlite/converge.c: the writer clock, the state of one key (its row or
 * its tombstone, and the event of its last notification change), the send order of
 * vppnotify's own requests, the keys waiting for a targeted read at Apple, and tombstone
 * purging.
 *
 * The clock is stamped on rows and tombstones by triggers (schema.c, migration 7), so every
 * statement that changes a mirror row is covered without knowing it; this file only moves the
 * clock and reads what the triggers left. The clock moves inside the writer's transaction,
 * which holds the writer lock: across instances, values are taken in commit order.
 */
#include "pg_impl.h"

#include <stdio.h>
#include <string.h>

#define T_INT8 20
#define T_TEXT 25

static const char *const table_names[VN_MT__COUNT] = {
    [VN_MT_ASSETS] = "assets", [VN_MT_ASSIGNMENTS] = "assignments",
    [VN_MT_USERS] = "users",   [VN_MT_SUBSCRIPTIONS] = "subscriptions",
    [VN_MT_SEATS] = "seats",
};

static const char *opt(const char *v)
{
    return v ? v : "";
}

static int bad_table(struct vn_store *st, enum vn_mirror_table t)
{
    vn__store_set_error(st, "no key history for mirror table %d", (int)t);
    return VN_ESTORE;
}

int vn__pg_clock_tick(struct vn_store *st, int64_t *clock)
{
    /* The value also goes into the transaction's setting vn.clock, for the triggers and
     * upserts that stamp rows (schema.c, migration 9); it ends with the transaction. */
    static const char sql[] =
        "WITH t AS (UPDATE writer_clock SET value = value + 1 WHERE id = 1 RETURNING value) "
        "SELECT value, set_config('vn.clock', value::text, true) FROM t";
    struct vn__pg *s = vn__pg(st);
    PGresult *res;

    if (!clock) {
        /* The writer's tick needs no answer: sent ahead in an optimistic transaction. */
        int sent = vn__pg_send_ahead(s, sql, NULL);

        if (sent)
            return sent > 0 ? 0 : sent;
    }
    res = vn__pg_run(s, sql, NULL, NULL);
    if (!res)
        return s->stmt_rc;
    if (clock)
        *clock = PQntuples(res) == 1 ? vn__pg_col_ll(res, 0, 0) : 0;
    PQclear(res);
    return 0;
}

int vn__pg_clock(struct vn_store *st, int64_t *clock)
{
    static const char sql[] = "SELECT value FROM writer_clock WHERE id = 1";
    struct vn__pg *s = vn__pg(st);
    PGresult *res = vn__pg_run(s, sql, NULL, NULL);

    *clock = 0;
    if (!res)
        return s->stmt_rc;
    if (PQntuples(res) == 1)
        *clock = vn__pg_col_ll(res, 0, 0);
    PQclear(res);
    return 0;
}

/* The key's arguments: $1 uid, $2 adamId, $3 pricingParam, $4 clientUserId, $5 serialNumber
 * ("" for an absent part, as tombstones keep them; STDQ when no pricingParam is given). */
static void key_args(struct vn__pg_args *a, const char *uid, const struct vn_mirror_scope *k,
                     const char *absent_pp)
{
    vn__pg_text(a, uid);
    vn__pg_text(a, opt(k->adam_id));
    vn__pg_text(a, k->pricing_param ? k->pricing_param : absent_pp);
    vn__pg_text(a, opt(k->client_user_id));
    vn__pg_text(a, opt(k->serial_number));
}

/* One row of sql (clock, event_id[, status]) into out: 1 if there was a row, 0 if not, or a
 * negative failure code. */
static int read_state(struct vn__pg *s, const char *sql, const struct vn__pg_args *a,
                      struct vn_key_state *out)
{
    static const Oid types[] = {T_TEXT, T_TEXT, T_TEXT, T_TEXT, T_TEXT};
    PGresult *res = vn__pg_run_typed(s, sql, a, types, NULL);
    int found;

    if (!res)
        return s->stmt_rc;
    found = PQntuples(res) > 0;
    if (found) {
        out->clock = vn__pg_col_ll(res, 0, 0);
        vn__pg_col_copy(res, 0, 1, out->event_id, sizeof(out->event_id));
        if (PQnfields(res) > 2)
            vn__pg_col_copy(res, 0, 2, out->status, sizeof(out->status));
    }
    PQclear(res);
    return found;
}

int vn__pg_key_state(struct vn_store *st, enum vn_mirror_table table, const char *uid,
                     const struct vn_mirror_scope *k, struct vn_key_state *out)
{
    static const char assign_user[] =
        "SELECT clock, event_id FROM assignments WHERE uid = $1 AND adam_id = $2 AND "
        "pricing_param = $3 AND client_user_id = $4";
    static const char assign_device[] =
        "SELECT clock, event_id FROM assignments WHERE uid = $1 AND adam_id = $2 AND "
        "pricing_param = $3 AND serial_number = $5";
    static const char tomb_assign[] =
        "SELECT clock, event_id FROM mirror_tombstones WHERE uid = $1 AND tbl = 'assignments' "
        "AND adam_id = $2 AND pricing_param = $3 AND client_user_id = $4 AND serial_number = $5";
    static const char seat[] =
        "SELECT clock, event_id FROM subscription_assignments WHERE uid = $1 AND adam_id = $2 "
        "AND client_user_id = $4";
    static const char tomb_seat[] =
        "SELECT clock, event_id FROM mirror_tombstones WHERE uid = $1 AND tbl = 'seats' AND "
        "adam_id = $2 AND client_user_id = $4";
    static const char user[] = "SELECT clock, event_id, status FROM users WHERE uid = $1 AND "
                               "client_user_id = $4";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    const char *row, *tomb = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    switch (table) {
    case VN_MT_ASSIGNMENTS:
        row = k->client_user_id ? assign_user : assign_device;
        tomb = tomb_assign;
        break;
    case VN_MT_SEATS:
        row = seat;
        tomb = tomb_seat;
        break;
    case VN_MT_USERS:
        row = user;
        break;
    default:
        return bad_table(st, table);
    }
    key_args(&a, uid, k, "STDQ");
    rc = read_state(s, row, &a, out);
    if (rc < 0)
        return rc;
    out->present = rc;
    if (out->present || !tomb)
        return 0;
    rc = read_state(s, tomb, &a, out);
    return rc < 0 ? rc : 0;
}

int vn__pg_key_event(struct vn_store *st, enum vn_mirror_table table, const char *uid,
                     const struct vn_mirror_scope *k, const char *event_id)
{
    /* $1-$5 the key, $6 eventId, $7 the tombstone's tbl, $8 now */
    static const char assign_user[] =
        "UPDATE assignments SET event_id = $6 WHERE uid = $1 AND adam_id = $2 AND "
        "pricing_param = $3 AND client_user_id = $4";
    static const char assign_device[] =
        "UPDATE assignments SET event_id = $6 WHERE uid = $1 AND adam_id = $2 AND "
        "pricing_param = $3 AND serial_number = $5";
    static const char tomb_assign[] =
        "UPDATE mirror_tombstones SET event_id = $6 WHERE uid = $1 AND tbl = 'assignments' AND "
        "adam_id = $2 AND pricing_param = $3 AND client_user_id = $4 AND serial_number = $5";
    static const char seat[] = "UPDATE subscription_assignments SET event_id = $6 WHERE "
                               "uid = $1 AND adam_id = $2 AND client_user_id = $4";
    static const char tomb_seat[] =
        "UPDATE mirror_tombstones SET event_id = $6 WHERE uid = $1 AND tbl = 'seats' AND "
        "adam_id = $2 AND client_user_id = $4";
    static const char user[] =
        "UPDATE users SET event_id = $6 WHERE uid = $1 AND client_user_id = $4";
    /* A removal of a key the mirror never had: remember it too, so that the late change of an
     * earlier request does not bring the key in. */
    static const char tomb_new[] =
        "INSERT INTO mirror_tombstones(uid, tbl, adam_id, pricing_param, client_user_id, "
        "  serial_number, event_id, clock, deleted_at) "
        "SELECT $1, $7, $2, $3, $4, $5, $6, value, $8::timestamptz FROM writer_clock "
        "WHERE id = 1 AND EXISTS (SELECT 1 FROM locations WHERE uid = $1) "
        "ON CONFLICT DO NOTHING";
    static const Oid types[] = {T_TEXT, T_TEXT, T_TEXT, T_TEXT, T_TEXT, T_TEXT, T_TEXT, T_TEXT};
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    struct vn_mirror_scope key;
    const char *row, *tomb = NULL;
    long long changed = 0;
    PGresult *res;

    switch (table) {
    case VN_MT_ASSIGNMENTS:
        row = k->client_user_id ? assign_user : assign_device;
        tomb = tomb_assign;
        break;
    case VN_MT_SEATS:
        row = seat;
        tomb = tomb_seat;
        break;
    case VN_MT_USERS:
        row = user;
        break;
    default:
        return bad_table(st, table);
    }
    /* Seats' tombstones have no pricingParam (""), assignments' default to STDQ. */
    key = *k;
    if (table == VN_MT_SEATS)
        key.pricing_param = NULL;
    key_args(&a, uid, &key, table == VN_MT_SEATS ? "" : "STDQ");
    vn__pg_text(&a, event_id);
    vn__pg_text(&a, table == VN_MT_SEATS ? "seats" : "assignments");
    vn__pg_text(&a, vn__pg_now(s));
    res = vn__pg_run_typed(s, row, &a, types, &changed);
    if (!res)
        return s->stmt_rc;
    PQclear(res);
    if (changed || !tomb)
        return 0;
    res = vn__pg_run_typed(s, tomb, &a, types, &changed);
    if (!res)
        return s->stmt_rc;
    PQclear(res);
    if (changed)
        return 0;
    res = vn__pg_run_typed(s, tomb_new, &a, types, NULL);
    if (!res)
        return s->stmt_rc;
    PQclear(res);
    return 0;
}

int vn__pg_event_send_seq(struct vn_store *st, const char *event_id, long long *seq)
{
    static const char sql[] =
        "SELECT send_seq FROM event_tracking WHERE event_id = $1 AND send_seq IS NOT NULL";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    PGresult *res;
    int found;

    vn__pg_text(&a, event_id);
    res = vn__pg_run(s, sql, &a, NULL);
    if (!res)
        return s->stmt_rc;
    found = PQntuples(res) == 1;
    if (found)
        *seq = vn__pg_col_ll(res, 0, 0);
    PQclear(res);
    if (found)
        return 0;
    vn__store_set_error(st, "event '%s' was not sent by vppnotify", event_id);
    return VN_ENOTFOUND;
}

int vn__pg_verify_add(struct vn_store *st, enum vn_mirror_table table, const char *uid,
                      const struct vn_mirror_scope *k, const char *reason)
{
    static const char sql[] =
        "INSERT INTO mirror_verify(uid, tbl, adam_id, pricing_param, client_user_id, "
        "  serial_number, reason, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8::timestamptz) ON CONFLICT DO NOTHING";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};

    if ((unsigned)table >= VN_MT__COUNT)
        return bad_table(st, table);
    vn__pg_text(&a, uid);
    vn__pg_text(&a, table_names[table]);
    vn__pg_text(&a, opt(k->adam_id));
    vn__pg_text(&a, opt(k->pricing_param));
    vn__pg_text(&a, opt(k->client_user_id));
    vn__pg_text(&a, opt(k->serial_number));
    vn__pg_text(&a, reason);
    vn__pg_text(&a, vn__pg_now(s));
    return vn__pg_do(s, sql, &a, NULL);
}

static const char *nonempty(const PGresult *res, int r, int c)
{
    const char *v = vn__pg_col(res, r, c);

    return v && v[0] ? v : NULL;
}

int vn__pg_verify_list(struct vn_store *st, const char *uid, long long limit, vn_verify_cb cb,
                       void *ud)
{
    /* LIMIT NULL: all rows. */
    static const char sql[] =
        "SELECT id, uid, tbl, adam_id, pricing_param, client_user_id, serial_number, reason, "
        "  attempts FROM mirror_verify WHERE ($1::text IS NULL OR uid = $1) "
        "ORDER BY id LIMIT $2::bigint";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    PGresult *res;
    int stop = 0;

    vn__pg_text(&a, uid);
    if (limit > 0)
        vn__pg_int(&a, limit);
    else
        vn__pg_text(&a, NULL);
    res = vn__pg_run(s, sql, &a, NULL);
    if (!res)
        return s->stmt_rc;
    for (int i = 0; i < PQntuples(res) && !stop; i++) {
        struct vn_verify_item it = {0};
        const char *tbl = vn__pg_col(res, i, 2);

        it.id = vn__pg_col_ll(res, i, 0);
        it.uid = vn__pg_col(res, i, 1);
        it.table = VN_MT__COUNT;
        for (int t = 0; t < VN_MT__COUNT; t++)
            if (tbl && !strcmp(tbl, table_names[t]))
                it.table = (enum vn_mirror_table)t;
        it.key.adam_id = nonempty(res, i, 3);
        it.key.pricing_param = nonempty(res, i, 4);
        it.key.client_user_id = nonempty(res, i, 5);
        it.key.serial_number = nonempty(res, i, 6);
        it.reason = vn__pg_col(res, i, 7);
        it.attempts = vn__pg_col_ll(res, i, 8);
        stop = cb(ud, &it);
    }
    PQclear(res);
    return stop;
}

int vn__pg_verify_done(struct vn_store *st, long long id, const char *error)
{
    static const char del[] = "DELETE FROM mirror_verify WHERE id = $1";
    static const char failed[] =
        "UPDATE mirror_verify SET attempts = attempts + 1, last_error = $2 WHERE id = $1";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};

    vn__pg_int(&a, id);
    if (!error)
        return vn__pg_do(s, del, &a, NULL);
    vn__pg_text(&a, error);
    return vn__pg_do(s, failed, &a, NULL);
}

int vn__pg_tombstones_purge(struct vn_store *st, int64_t before_ms, long long limit,
                            long long *removed)
{
    /* At most $2 of them (NULL: all), by ctid. */
    static const char sql[] =
        "DELETE FROM mirror_tombstones WHERE ctid IN (SELECT ctid FROM mirror_tombstones "
        "WHERE deleted_at < $1::timestamptz LIMIT $2::bigint)";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    long long changed = 0;
    int rc;

    vn__pg_time(&a, before_ms);
    if (limit > 0)
        vn__pg_int(&a, limit);
    else
        vn__pg_text(&a, NULL);
    rc = vn__pg_do(s, sql, &a, &changed);
    if (removed)
        *removed = rc ? 0 : changed;
    return rc;
}

int vn__pg_seat_count(struct vn_store *st, const char *uid, const char *adam_id,
                      long long *renewing, long long *expiring)
{
    static const char sql[] =
        "SELECT count(*) FILTER (WHERE renewing), count(*) FILTER (WHERE NOT renewing) "
        "FROM subscription_assignments WHERE uid = $1 AND adam_id = $2";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    PGresult *res;

    vn__pg_text(&a, uid);
    vn__pg_text(&a, adam_id);
    res = vn__pg_run(s, sql, &a, NULL);
    if (!res)
        return s->stmt_rc;
    *renewing = vn__pg_col_ll(res, 0, 0);
    *expiring = vn__pg_col_ll(res, 0, 1);
    PQclear(res);
    return 0;
}

int vn__pg_mark_needs_sync(struct vn_store *st, const char *uid, const char *adam_id,
                           const char *pricing_param)
{
    static const char sql[] = "UPDATE assets SET needs_sync = true WHERE uid = $1 AND "
                              "adam_id = $2 AND pricing_param = $3";
    struct vn__pg_args a = {0};

    vn__pg_text(&a, uid);
    vn__pg_text(&a, adam_id);
    vn__pg_text(&a, pricing_param ? pricing_param : "STDQ");
    return vn__pg_do(vn__pg(st), sql, &a, NULL);
}
