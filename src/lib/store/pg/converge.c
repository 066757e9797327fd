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
 * right after the writer lock (handle.c vn__pg_writer_lock, held to COMMIT): across instances,
 * values are taken in commit order.
 */
#include "pg_impl.h"

#include "vppnotify/buf.h"

#include <stdio.h>
#include <stdlib.h>
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

/* The value also goes into the transaction's setting vn.clock, for the triggers and upserts
 * that stamp rows (schema.c, migration 9); it ends with the transaction. */
const char vn__pg_sql_tick[] =
    "WITH t AS (UPDATE writer_clock SET value = value + 1 WHERE id = 1 RETURNING value) "
    "SELECT value, set_config('vn.clock', value::text, true) FROM t";

int vn__pg_clock_tick(struct vn_store *st, int64_t *clock)
{
    const char *sql = vn__pg_sql_tick;
    struct vn__pg *s = vn__pg(st);
    PGresult *res;

    if (!clock && s->lock_wanted && s->optimistic && vn__pg_known_all_present(s)) {
        /* A batch of repeats only (its ids read, every one known): the writer lock is not
         * taken yet (handle.c), and the tick goes with it should anything need it after all. */
        s->tick_wanted = 1;
        return 0;
    }
    /* Else a batch that will write: the tick waits for the writer lock (taken with it), so
     * that the writer can let what queued meanwhile join the batch. */
    if (!clock && !s->lock_wanted) {
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

/* The text of an assignment key (length-prefixed parts: no two keys share one) in out;
 * its length, or 0 when it does not fit. */
static size_t key_text(char *out, size_t cap, const char *uid, const char *adam_id,
                       const char *pricing_param, const char *client_user_id,
                       const char *serial_number)
{
    const char *part[5] = {uid, opt(adam_id), pricing_param ? pricing_param : "STDQ",
                           opt(client_user_id), opt(serial_number)};
    size_t len = 0;

    for (int i = 0; i < 5; i++) {
        int n = snprintf(out + len, cap - len, "%zu:%s", strlen(part[i]), part[i]);

        if (n < 0 || (size_t)n >= cap - len)
            return 0;
        len += (size_t)n;
    }
    return len;
}

void vn__pg_last_key_set(struct vn__pg *s, const char *uid, const struct vn_mirror_scope *k,
                         int present)
{
    struct vn__pg_last_key *lk = &s->last_key;

    lk->valid = 0;
    if (!s->optimistic)
        return;
    lk->len = key_text(lk->text, sizeof(lk->text), uid, k->adam_id, k->pricing_param,
                       k->client_user_id, k->serial_number);
    lk->present = present;
    lk->valid = lk->len > 0;
}

int vn__pg_last_key_is(struct vn__pg *s, const char *uid, const struct vn_mirror_scope *k)
{
    char text[VN__PG_KEY_TEXT_MAX];
    size_t len;

    if (!s->optimistic || !s->last_key.valid)
        return 0;
    len = key_text(text, sizeof(text), uid, k->adam_id, k->pricing_param, k->client_user_id,
                   k->serial_number);
    return len > 0 && len == s->last_key.len && !memcmp(text, s->last_key.text, len);
}

/* ---- the assignment keys of a job, read at once ---------------------------------------- */

#define KEYS_MAX 1024 /* more in one job: the usual way for all */

static struct vn__pg_key_entry *keys_find(struct vn__pg *s, const char *uid,
                                          const struct vn_mirror_scope *k)
{
    char text[VN__PG_KEY_TEXT_MAX];
    size_t len;

    if (!s->optimistic || !s->nakeys)
        return NULL;
    len = key_text(text, sizeof(text), uid, k->adam_id, k->pricing_param, k->client_user_id,
                   k->serial_number);
    for (size_t i = 0; len && i < s->nakeys; i++)
        if (s->akeys[i].valid && s->akeys[i].len == len && !memcmp(s->akeys[i].text, text, len))
            return &s->akeys[i];
    return NULL;
}

void vn__pg_keys_forget(struct vn__pg *s, const char *uid, const struct vn_mirror_scope *k)
{
    struct vn__pg_key_entry *e = keys_find(s, uid, k);

    if (e)
        e->valid = 0;
}

/* Whether k is a key the set can hold: exactly one of clientUserId and serialNumber, neither
 * empty (the read below tells a user's key from a device's by an empty clientUserId). */
static int key_usable(const struct vn_mirror_scope *k)
{
    if (!k->adam_id || !k->client_user_id == !k->serial_number)
        return 0;
    return k->client_user_id ? *k->client_user_id != 0 : *k->serial_number != 0;
}

int vn__pg_assignment_keys_known(struct vn_store *st, const char *uid,
                                 const struct vn_mirror_scope *keys, size_t n)
{
    /* As vn__pg_key_state's read, for every key at once: its row, else its tombstone; a key
     * with neither is absent. OFFSET-free LATERAL probes: one index lookup per key. */
    static const char sql[] =
        "SELECT k.i, r.clock, r.event_id, r.present "
        "FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY "
        "  AS k(adam, pp, cuid, sn, i) "
        "CROSS JOIN LATERAL ("
        "  (SELECT a.clock, a.event_id, true AS present FROM assignments AS a WHERE k.cuid <> '' "
        "    AND a.uid = $1 AND a.adam_id = k.adam AND a.pricing_param = k.pp "
        "    AND a.client_user_id = k.cuid) "
        "  UNION ALL (SELECT a.clock, a.event_id, true FROM assignments AS a WHERE k.cuid = '' "
        "    AND a.uid = $1 AND a.adam_id = k.adam AND a.pricing_param = k.pp "
        "    AND a.serial_number = k.sn) "
        "  UNION ALL (SELECT t.clock, t.event_id, false FROM mirror_tombstones AS t "
        "    WHERE t.uid = $1 AND t.tbl = 'assignments' AND t.adam_id = k.adam "
        "    AND t.pricing_param = k.pp AND t.client_user_id = k.cuid AND t.serial_number = k.sn) "
        "  ORDER BY 3 DESC LIMIT 1) AS r";
    static const Oid types[] = {T_TEXT, T_TEXT, T_TEXT, T_TEXT, T_TEXT};
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    struct vn_buf lit[4];
    const char **col[4] = {NULL, NULL, NULL, NULL};
    size_t m = 0, i;
    struct vn__pg_key_entry *e = NULL;
    PGresult *res = NULL;
    int rc = 0;

    vn__pg_keys_clear(s);
    if (!s->optimistic || !uid || n == 0 || n > KEYS_MAX)
        return 0;
    for (int c = 0; c < 4; c++) {
        vn_buf_init(&lit[c], (size_t)1 << 22);
        col[c] = calloc(n, sizeof(*col[c]));
    }
    e = calloc(n, sizeof(*e));
    if (!col[0] || !col[1] || !col[2] || !col[3] || !e)
        goto out; /* the usual way: slower, as right */
    for (i = 0; i < n; i++) {
        char text[VN__PG_KEY_TEXT_MAX];

        if (!key_usable(&keys[i]))
            continue;
        e[m].len = key_text(text, sizeof(text), uid, keys[i].adam_id, keys[i].pricing_param,
                            keys[i].client_user_id, keys[i].serial_number);
        if (!e[m].len || !(e[m].text = malloc(e[m].len)))
            continue;
        memcpy(e[m].text, text, e[m].len);
        col[0][m] = keys[i].adam_id;
        col[1][m] = keys[i].pricing_param ? keys[i].pricing_param : "STDQ";
        col[2][m] = opt(keys[i].client_user_id);
        col[3][m] = opt(keys[i].serial_number);
        m++;
    }
    for (int c = 0; c < 4 && m; c++)
        if (vn__pg_array_literal(&lit[c], col[c], m) != 0)
            goto out;
    if (!m)
        goto out;
    vn__pg_text(&a, uid);
    for (int c = 0; c < 4; c++)
        vn__pg_text(&a, vn_buf_str(&lit[c]));
    res = vn__pg_run_typed(s, sql, &a, types, NULL); /* forgets any older set */
    if (!res) {
        rc = s->stmt_rc;
        goto out;
    }
    for (int r = 0; r < PQntuples(res); r++) {
        long long k = vn__pg_col_ll(res, r, 0);

        if (k < 1 || (size_t)k > m)
            continue;
        e[k - 1].state.present = vn__pg_col_bool(res, r, 3);
        e[k - 1].state.clock = vn__pg_col_ll(res, r, 1);
        vn__pg_col_copy(res, r, 2, e[k - 1].state.event_id, sizeof(e[k - 1].state.event_id));
    }
    for (i = 0; i < m; i++)
        e[i].valid = 1;
    s->akeys = e;
    s->nakeys = m;
    e = NULL;
out:
    PQclear(res);
    if (e) {
        for (i = 0; i < n; i++)
            free(e[i].text);
        free(e);
    }
    for (int c = 0; c < 4; c++) {
        vn_buf_release(&lit[c]);
        free(col[c]);
    }
    return rc;
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
    /* An assignment: its row, else its tombstone, in one read (the row first). */
#define TOMB_ASSIGN                                                                                \
    "SELECT clock, event_id, false FROM mirror_tombstones WHERE uid = $1 AND "                     \
    "tbl = 'assignments' AND adam_id = $2 AND pricing_param = $3 AND client_user_id = $4 AND "     \
    "serial_number = $5"
    static const char assign_user[] =
        "SELECT clock, event_id, true FROM assignments WHERE uid = $1 AND adam_id = $2 AND "
        "pricing_param = $3 AND client_user_id = $4 UNION ALL " TOMB_ASSIGN " ORDER BY 3 DESC";
    static const char assign_device[] =
        "SELECT clock, event_id, true FROM assignments WHERE uid = $1 AND adam_id = $2 AND "
        "pricing_param = $3 AND serial_number = $5 UNION ALL " TOMB_ASSIGN " ORDER BY 3 DESC";
#undef TOMB_ASSIGN
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
    case VN_MT_ASSIGNMENTS: {
        static const Oid types[] = {T_TEXT, T_TEXT, T_TEXT, T_TEXT, T_TEXT};
        struct vn__pg_key_entry *e = keys_find(s, uid, k);
        PGresult *res;

        if (e) { /* read with the job's other keys, not written since */
            *out = e->state;
            vn__pg_last_key_set(s, uid, k, out->present);
            return 0;
        }
        key_args(&a, uid, k, "STDQ");
        res = vn__pg_run_typed(s, k->client_user_id ? assign_user : assign_device, &a, types, NULL);
        if (!res)
            return s->stmt_rc;
        if (PQntuples(res) > 0) {
            out->present = vn__pg_col_bool(res, 0, 2);
            out->clock = vn__pg_col_ll(res, 0, 0);
            vn__pg_col_copy(res, 0, 1, out->event_id, sizeof(out->event_id));
        }
        PQclear(res);
        vn__pg_last_key_set(s, uid, k, out->present);
        return 0;
    }
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

static int key_event(struct vn_store *st, enum vn_mirror_table table, const char *uid,
                     const struct vn_mirror_scope *k, const char *event_id);

int vn__pg_key_event(struct vn_store *st, enum vn_mirror_table table, const char *uid,
                     const struct vn_mirror_scope *k, const char *event_id)
{
    struct vn__pg *s = vn__pg(st);
    int rc;

    if (table != VN_MT_ASSIGNMENTS)
        return key_event(st, table, uid, k, event_id);
    /* Changes only this key: the job's other keys read stay true (keys_known). */
    s->key_ops = 1;
    rc = key_event(st, table, uid, k, event_id);
    s->key_ops = 0;
    vn__pg_keys_forget(s, uid, k);
    return rc;
}

static int key_event(struct vn_store *st, enum vn_mirror_table table, const char *uid,
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
    if (table == VN_MT_ASSIGNMENTS && vn__pg_last_key_is(s, uid, k)) {
        /* The optimistic transaction knows whether the row is there: the row's stamp, or the
         * tombstone's update and the new tombstone (which does nothing when there is one, as
         * the update did it), sent ahead without waiting. */
        int present = s->last_key.present, sent;

        sent = vn__pg_send_ahead_typed(s, present ? row : tomb, &a, types);
        if (sent > 0 && !present)
            sent = vn__pg_send_ahead_typed(s, tomb_new, &a, types);
        if (sent < 0)
            return sent;
        if (sent > 0) {
            vn__pg_last_key_set(s, uid, k, present);
            return 0;
        }
        /* not sent: the usual way (a repeat of a statement is harmless) */
    }
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
