/*
 * write.c - the PostgreSQL backend's writes: the notification ledger, quarantine, the mirror
 * primitives, events, and locations with their tokens (store.h has the contracts,
 * docs/SCHEMA.md the tables). The statements mirror the SQLite backend's one for one; "did it
 * change a row" comes from the command's row count, never from a second query.
 */
#include "pg_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- the notification ledger ----------------------------------------------------------- */

static const char *state_name(enum vn_nstate state)
{
    switch (state) {
    case VN_NSTATE_APPLIED:
        return "applied";
    case VN_NSTATE_STORED:
        return "stored";
    }
    return NULL;
}

int vn__pg_notification_insert(struct vn_store *st, const struct vn_notification_record *r)
{
    static const char sql[] =
        "INSERT INTO notifications(notification_id, uid, notification_type, event_id, state, "
        "  error, body, body_sha256, body_length, received_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
        "ON CONFLICT (notification_id) DO NOTHING";
    static const char sql_new[] =
        "INSERT INTO notifications(notification_id, uid, notification_type, event_id, state, "
        "  error, body, body_sha256, body_length, received_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
    struct vn__pg *s = vn__pg(st);
    const char *state = state_name(r->state);
    struct vn__pg_args a = {0};
    struct vn__pg_known *known;
    long long changed;
    int rc;

    if (!r->id || !r->uid || !r->type_name || !state) {
        vn__store_set_error(st, "notification record lacks an id, uid, type or state");
        return VN_EPARSE;
    }
    vn__pg_text(&a, r->id);
    vn__pg_text(&a, r->uid);
    vn__pg_text(&a, r->type_name);
    vn__pg_text(&a, r->event_id);
    vn__pg_text(&a, state);
    vn__pg_text(&a, r->error);
    vn__pg_bytes(&a, r->body, r->body_len);
    vn__pg_bytes(&a, r->digest, VN_DIGEST_LEN);
    vn__pg_int(&a, (long long)r->body_len);
    vn__pg_time(&a, r->received_ms ? r->received_ms : 1);
    known = vn__pg_known_find(s, r->id);
    if (known && known->present)
        goto dup;
    if (known) {
        /* Absent when the batch read it, under the writer lock: a plain INSERT, sent ahead;
         * should it conflict after all, it fails the optimistic transaction (known.c). The
         * batch's asset adjustments stay kept (fold.c). */
        s->fold_ok = 1;
        rc = vn__pg_send_ahead(s, sql_new, &a);
        s->fold_ok = 0;
        if (rc < 0)
            return rc;
        if (rc > 0) {
            known->present = 1;
            memcpy(known->digest, r->digest, VN_DIGEST_LEN);
            return 0;
        }
    }
    rc = vn__pg_do(s, sql, &a, &changed);
    if (rc)
        return rc;
    if (changed == 0) {
    dup:
        vn__store_set_error(st, "notification '%s' is already known", r->id);
        return VN_EDUP;
    }
    return 0;
}

int vn__pg_notification_repeat(struct vn_store *st, const char *id,
                               const uint8_t digest[VN_DIGEST_LEN], int *conflict)
{
    /* One statement: the repeat is logged only if the id is known, with whether its body
     * differs from the first one's. */
    static const char sql[] =
        "INSERT INTO notification_repeats(notification_id, received_at, conflict) "
        "SELECT notification_id, $3, body_sha256 IS DISTINCT FROM $2 FROM notifications "
        "WHERE notification_id = $1 RETURNING conflict";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_known *known = vn__pg_known_find(s, id);
    struct vn__pg_args a = {0};
    PGresult *res;
    int differs;

    if (known && known->present) {
        /* The optimistic batch knows its first body's digest: no answer needed, and the row
         * is kept, written with the batch's other repeats in one statement (known.c). */
        differs = memcmp(known->digest, digest, VN_DIGEST_LEN) != 0;
        known->repeats++;
        known->differ += (unsigned)differs;
        s->nrepeats++;
        if (conflict)
            *conflict = differs;
        return 0;
    }
    vn__pg_text(&a, id);
    vn__pg_bytes(&a, digest, VN_DIGEST_LEN);
    vn__pg_text(&a, vn__pg_now(s));
    s->lock_free = 1;
    res = vn__pg_run(s, sql, &a, NULL);
    s->lock_free = 0;
    if (!res)
        return s->stmt_rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        vn__store_set_error(st, "notification '%s' not found", id);
        return VN_ENOTFOUND;
    }
    differs = vn__pg_col_bool(res, 0, 0);
    PQclear(res);
    if (conflict)
        *conflict = differs;
    return 0;
}

int vn__pg_notification_set_state(struct vn_store *st, const char *id, enum vn_nstate state,
                                  const char *error)
{
    /* A transition, not an assignment: of two concurrent replays only one moves it. */
    static const char sql[] = "UPDATE notifications SET state = $2, error = $3 "
                              "WHERE notification_id = $1 AND state <> $2";
    static const char exists[] = "SELECT 1 FROM notifications WHERE notification_id = $1";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    PGresult *res;
    long long changed;
    int rc, found;

    if (!state_name(state)) {
        vn__store_set_error(st, "invalid notification state %d", (int)state);
        return VN_EPARSE;
    }
    vn__pg_text(&a, id);
    vn__pg_text(&a, state_name(state));
    vn__pg_text(&a, error);
    rc = vn__pg_do(s, sql, &a, &changed);
    if (rc || changed)
        return rc;
    memset(&a, 0, sizeof(a));
    vn__pg_text(&a, id);
    res = vn__pg_run(s, exists, &a, NULL);
    if (!res)
        return s->stmt_rc;
    found = PQntuples(res) > 0;
    PQclear(res);
    if (!found) {
        vn__store_set_error(st, "notification '%s' not found", id);
        return VN_ENOTFOUND;
    }
    vn__store_set_error(st, "notification '%s' is already %s", id, state_name(state));
    return VN_ECONFLICT;
}

int vn__pg_notification_body(struct vn_store *st, const char *id, char **body, size_t *len)
{
    static const char sql[] = "SELECT body FROM notifications WHERE notification_id = $1";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    PGresult *res;
    int oom = 0;

    *body = NULL;
    *len = 0;
    vn__pg_text(&a, id);
    res = vn__pg_run(s, sql, &a, NULL);
    if (!res)
        return s->stmt_rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        vn__store_set_error(st, "notification '%s' not found", id);
        return VN_ENOTFOUND;
    }
    *body = (char *)vn__pg_col_bytes(res, 0, 0, len, &oom);
    PQclear(res);
    return oom ? -ENOMEM : 0;
}

/* Column 0 of every row of res as an owned array of owned strings. */
static int collect_text(PGresult *res, char ***out, size_t *n)
{
    int rows = PQntuples(res);
    char **v;

    *out = NULL;
    *n = 0;
    if (rows == 0)
        return 0;
    v = calloc((size_t)rows, sizeof(*v));
    if (!v)
        return -ENOMEM;
    for (int i = 0; i < rows; i++) {
        v[i] = strdup(PQgetvalue(res, i, 0));
        if (!v[i]) {
            for (int k = 0; k < i; k++)
                free(v[k]);
            free(v);
            return -ENOMEM;
        }
    }
    *out = v;
    *n = (size_t)rows;
    return 0;
}

int vn__pg_stored_ids(struct vn_store *st, const char *uid, char ***ids, size_t *n)
{
    static const char sql[] = "SELECT notification_id FROM notifications "
                              "WHERE state = 'stored' AND ($1::text IS NULL OR uid = $1) "
                              "ORDER BY received_at, notification_id";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    PGresult *res;
    int rc;

    *ids = NULL;
    *n = 0;
    vn__pg_text(&a, uid);
    res = vn__pg_run(s, sql, &a, NULL);
    if (!res)
        return s->stmt_rc;
    rc = collect_text(res, ids, n);
    PQclear(res);
    return rc;
}

int vn__pg_quarantine(struct vn_store *st, int64_t received_ms, const char *remote,
                      const char *reason, const void *body, size_t body_len, size_t original_len)
{
    static const char sql[] =
        "INSERT INTO quarantine(received_at, remote_addr, reason, body, body_length) "
        "VALUES ($1, $2, $3, $4, $5)";
    struct vn__pg_args a = {0};

    vn__pg_time(&a, received_ms ? received_ms : 1);
    vn__pg_text(&a, remote);
    vn__pg_text(&a, reason ? reason : "");
    vn__pg_bytes(&a, body, body_len);
    vn__pg_int(&a, (long long)original_len);
    return vn__pg_do(vn__pg(st), sql, &a, NULL);
}

/* ---- the mirror ------------------------------------------------------------------------ */

/* col + delta in numeric, clamped to bigint: PostgreSQL would refuse an overflowing sum. */
#define SAT_ADD(col, p)                                                                            \
    "least(greatest(" col "::numeric + " p ", -9223372036854775808), 9223372036854775807)::bigint"
#define OVERFLOWS(col, p)                                                                          \
    "(" col "::numeric + " p " NOT BETWEEN -9223372036854775808 AND 9223372036854775807)"

int vn__pg_asset_adjust(struct vn_store *st, const char *uid, const char *adam_id,
                        const char *pricing_param, long long d_total, long long d_assigned,
                        long long d_available)
{
    /* As in SQLite: a new row starts from the deltas and needs a sync; a sum that would leave
     * int64 stays at the limit and flags the asset (docs/SCHEMA.md). */
    /* clang-format off */
    static const char sql[] =
        "INSERT INTO assets AS t(uid, adam_id, pricing_param, total_count, assigned_count, "
        "  available_count, needs_sync, updated_at, clock) "
        "VALUES ($1, $2, $3, $4, $5, $6, true, $7, "
        "  coalesce(nullif(current_setting('vn.clock', true), '')::bigint, 0)) "
        "ON CONFLICT (uid, adam_id, pricing_param) DO UPDATE SET "
        "  total_count = " SAT_ADD("t.total_count", "$4::bigint") ", "
        "  assigned_count = " SAT_ADD("t.assigned_count", "$5::bigint") ", "
        "  available_count = " SAT_ADD("t.available_count", "$6::bigint") ", "
        "  needs_sync = (t.needs_sync"
        "    OR " OVERFLOWS("t.total_count", "$4::bigint")
        "    OR " OVERFLOWS("t.assigned_count", "$5::bigint")
        "    OR " OVERFLOWS("t.available_count", "$6::bigint")
        "    OR t.total_count::numeric + $4::bigint < 0"
        "    OR t.assigned_count::numeric + $5::bigint < 0"
        "    OR t.available_count::numeric + $6::bigint < 0"
        "    OR " SAT_ADD("t.assigned_count", "$5::bigint")
        "      > " SAT_ADD("t.total_count", "$4::bigint") "), "
        "  updated_at = excluded.updated_at, "
        /* the writer's clock when it set vn.clock (else the trigger stamps it) */
        "  clock = CASE WHEN excluded.clock <> 0 THEN excluded.clock ELSE t.clock END";
    /* clang-format on */
    struct vn__pg_args a = {0};
    int rc;

    /* An optimistic batch keeps them, one statement per asset at the end (fold.c). */
    rc = uid && adam_id
             ? vn__pg_fold_add(vn__pg(st), uid, adam_id, pricing_param ? pricing_param : "STDQ",
                               d_total, d_assigned, d_available)
             : 1;
    if (rc <= 0)
        return rc;
    vn__pg_text(&a, uid);
    vn__pg_text(&a, adam_id);
    vn__pg_text(&a, pricing_param ? pricing_param : "STDQ");
    vn__pg_int(&a, d_total);
    vn__pg_int(&a, d_assigned);
    vn__pg_int(&a, d_available);
    vn__pg_text(&a, vn__pg_now(vn__pg(st)));
    return vn__pg_do(vn__pg(st), sql, &a, NULL);
}

static int check_assignment(struct vn_store *st, const struct vn_assignment *a)
{
    if (!a->client_user_id == !a->serial_number) {
        vn__store_set_error(st,
                            "assignment of adamId '%s' needs exactly one of clientUserId "
                            "and serialNumber",
                            a->adam_id.s);
        return VN_EPARSE;
    }
    return 0;
}

/* The key of an assignment, as vn__pg_key_state reads it. */
static struct vn_mirror_scope assignment_key(const struct vn_assignment *as)
{
    struct vn_mirror_scope k = {as->adam_id.s, as->pricing_param ? as->pricing_param : "STDQ",
                                as->client_user_id, as->serial_number};

    return k;
}

static int assignment_insert(struct vn_store *st, const char *uid, const struct vn_assignment *as);
static int assignment_delete(struct vn_store *st, const char *uid, const struct vn_assignment *as);

/* An insert or delete (WRITE) of one assignment changes only its own key: the job's other
 * keys read stay true (converge.c, keys_known); its own is forgotten and read again if asked. */
static int
assignment_key_write(struct vn_store *st, const char *uid, const struct vn_assignment *as,
                     int (*write)(struct vn_store *, const char *, const struct vn_assignment *))
{
    struct vn__pg *s = vn__pg(st);
    struct vn_mirror_scope key = assignment_key(as);
    int rc;

    s->key_ops = 1;
    rc = write(st, uid, as);
    s->key_ops = 0;
    vn__pg_keys_forget(s, uid, &key);
    return rc;
}

int vn__pg_assignment_insert(struct vn_store *st, const char *uid, const struct vn_assignment *as)
{
    return assignment_key_write(st, uid, as, assignment_insert);
}

int vn__pg_assignment_delete(struct vn_store *st, const char *uid, const struct vn_assignment *as)
{
    return assignment_key_write(st, uid, as, assignment_delete);
}

static int assignment_insert(struct vn_store *st, const char *uid, const struct vn_assignment *as)
{
    static const char sql[] =
        "INSERT INTO assignments(uid, adam_id, pricing_param, client_user_id, serial_number, "
        "  updated_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING";
    static const char sql_new[] =
        "INSERT INTO assignments(uid, adam_id, pricing_param, client_user_id, serial_number, "
        "  updated_at) VALUES ($1, $2, $3, $4, $5, $6)";
    struct vn__pg *s = vn__pg(st);
    struct vn_mirror_scope key = assignment_key(as);
    struct vn__pg_args a = {0};
    long long changed;
    int rc = check_assignment(st, as);

    if (rc)
        return rc;
    vn__pg_text(&a, uid);
    vn__pg_text(&a, as->adam_id.s);
    vn__pg_text(&a, as->pricing_param ? as->pricing_param : "STDQ");
    vn__pg_text(&a, as->client_user_id);
    vn__pg_text(&a, as->serial_number);
    vn__pg_text(&a, vn__pg_now(s));
    if (vn__pg_last_key_is(s, uid, &key) && !s->last_key.present) {
        /* Absent when this optimistic transaction read it, under the writer lock: a plain
         * INSERT, sent ahead; should it conflict after all, it fails the transaction, which
         * then runs again guarded (as the ledger's inserts, known.c). */
        rc = vn__pg_send_ahead(s, sql_new, &a);
        if (rc < 0)
            return rc;
        if (rc > 0) {
            vn__pg_last_key_set(s, uid, &key, 1);
            return 1;
        }
    }
    rc = vn__pg_do(s, sql, &a, &changed);
    return rc ? rc : changed > 0;
}

static int assignment_delete(struct vn_store *st, const char *uid, const struct vn_assignment *as)
{
    static const char by_user[] = "DELETE FROM assignments WHERE uid = $1 AND adam_id = $2 "
                                  "AND pricing_param = $3 AND client_user_id = $4";
    static const char by_device[] = "DELETE FROM assignments WHERE uid = $1 AND adam_id = $2 "
                                    "AND pricing_param = $3 AND serial_number = $4";
    struct vn__pg *s = vn__pg(st);
    struct vn_mirror_scope key = assignment_key(as);
    struct vn__pg_args a = {0};
    long long changed;
    int rc = check_assignment(st, as);

    if (rc)
        return rc;
    vn__pg_text(&a, uid);
    vn__pg_text(&a, as->adam_id.s);
    vn__pg_text(&a, as->pricing_param ? as->pricing_param : "STDQ");
    vn__pg_text(&a, as->client_user_id ? as->client_user_id : as->serial_number);
    if (vn__pg_last_key_is(s, uid, &key) && s->last_key.present) {
        /* Present when this optimistic transaction read it, under the writer lock: it goes. */
        rc = vn__pg_send_ahead(s, as->client_user_id ? by_user : by_device, &a);
        if (rc < 0)
            return rc;
        if (rc > 0) {
            vn__pg_last_key_set(s, uid, &key, 0);
            return 1;
        }
    }
    rc = vn__pg_do(s, as->client_user_id ? by_user : by_device, &a, &changed);
    return rc ? rc : changed > 0;
}

int vn__pg_user_upsert(struct vn_store *st, const char *uid, const struct vn_user *u,
                       const char *status)
{
    /* Absent (NULL) fields keep what is stored. */
    static const char sql[] =
        "INSERT INTO users AS t(uid, client_user_id, email, invite_code, id_hash, status, "
        "  updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) "
        "ON CONFLICT (uid, client_user_id) DO UPDATE SET "
        "  email = coalesce(excluded.email, t.email), "
        "  invite_code = coalesce(excluded.invite_code, t.invite_code), "
        "  id_hash = coalesce(excluded.id_hash, t.id_hash), "
        "  status = coalesce(excluded.status, t.status), "
        "  updated_at = excluded.updated_at";
    struct vn__pg_args a = {0};

    if (!u->client_user_id) {
        vn__store_set_error(st, "user without a clientUserId");
        return VN_EPARSE;
    }
    vn__pg_text(&a, uid);
    vn__pg_text(&a, u->client_user_id);
    vn__pg_text(&a, u->email);
    vn__pg_text(&a, u->invite_code);
    vn__pg_text(&a, u->id_hash);
    vn__pg_text(&a, status ? status : u->status);
    vn__pg_text(&a, vn__pg_now(vn__pg(st)));
    return vn__pg_do(vn__pg(st), sql, &a, NULL);
}

int vn__pg_subscription_set_counts(struct vn_store *st, const char *uid, const char *adam_id,
                                   const char *parent_adam_id, const struct vn_counts *c)
{
    static const char sql[] =
        "INSERT INTO subscriptions AS t(uid, adam_id, parent_adam_id, available_renewing, "
        "  available_expiring, total_renewing, total_expiring, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
        "ON CONFLICT (uid, adam_id) DO UPDATE SET "
        "  parent_adam_id = coalesce(excluded.parent_adam_id, t.parent_adam_id), "
        "  available_renewing = excluded.available_renewing, "
        "  available_expiring = excluded.available_expiring, "
        "  total_renewing = excluded.total_renewing, "
        "  total_expiring = excluded.total_expiring, "
        "  updated_at = excluded.updated_at";
    struct vn__pg_args a = {0};

    vn__pg_text(&a, uid);
    vn__pg_text(&a, adam_id);
    vn__pg_text(&a, parent_adam_id);
    vn__pg_int(&a, c->available_renewing);
    vn__pg_int(&a, c->available_expiring);
    vn__pg_int(&a, c->total_renewing);
    vn__pg_int(&a, c->total_expiring);
    vn__pg_text(&a, vn__pg_now(vn__pg(st)));
    return vn__pg_do(vn__pg(st), sql, &a, NULL);
}

int vn__pg_seat_upsert(struct vn_store *st, const char *uid, const struct vn_seat *seat)
{
    /* The WHERE makes an identical repeat change nothing, so the row count says "changed". */
    static const char sql[] =
        "INSERT INTO subscription_assignments AS t(uid, adam_id, client_user_id, renewing, "
        "  updated_at) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (uid, adam_id, client_user_id) DO UPDATE SET renewing = excluded.renewing, "
        "  updated_at = excluded.updated_at WHERE t.renewing <> excluded.renewing";
    struct vn__pg_args a = {0};
    long long changed;
    int rc;

    vn__pg_text(&a, uid);
    vn__pg_text(&a, seat->adam_id.s);
    vn__pg_text(&a, seat->client_user_id);
    vn__pg_bool(&a, seat->renewing);
    vn__pg_text(&a, vn__pg_now(vn__pg(st)));
    rc = vn__pg_do(vn__pg(st), sql, &a, &changed);
    return rc ? rc : changed > 0;
}

int vn__pg_seat_delete(struct vn_store *st, const char *uid, const struct vn_seat *seat)
{
    static const char sql[] = "DELETE FROM subscription_assignments "
                              "WHERE uid = $1 AND adam_id = $2 AND client_user_id = $3";
    struct vn__pg_args a = {0};
    long long changed;
    int rc;

    vn__pg_text(&a, uid);
    vn__pg_text(&a, seat->adam_id.s);
    vn__pg_text(&a, seat->client_user_id);
    rc = vn__pg_do(vn__pg(st), sql, &a, &changed);
    return rc ? rc : changed > 0;
}

int vn__pg_location_tested(struct vn_store *st, const char *uid, int64_t ms)
{
    /* greatest(): a late retry of an older test notification does not move the time back. */
    static const char sql[] =
        "UPDATE locations SET last_test_notification_at = "
        "  greatest(last_test_notification_at, $2::timestamptz) WHERE uid = $1";
    struct vn__pg_args a = {0};
    long long changed;
    int rc;

    vn__pg_text(&a, uid);
    vn__pg_time(&a, ms ? ms : 1);
    rc = vn__pg_do(vn__pg(st), sql, &a, &changed);
    if (!rc && changed == 0) {
        vn__store_set_error(st, "location '%s' not found", uid);
        return VN_ENOTFOUND;
    }
    return rc;
}

/* ---- events ---------------------------------------------------------------------------- */

int vn__pg_event_note(struct vn_store *st, const struct vn_event_note *e)
{
    static const char note[] =
        "INSERT INTO events AS t(event_id, uid, notification_type, type, notifications, "
        "  succeeded, failed, first_seen_at, last_seen_at) "
        "VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $7) "
        "ON CONFLICT (event_id) DO UPDATE SET "
        "  notifications = t.notifications + 1, "
        "  succeeded = t.succeeded + excluded.succeeded, "
        "  failed = t.failed + excluded.failed, "
        "  type = coalesce(t.type, excluded.type), "
        "  first_seen_at = least(t.first_seen_at, excluded.first_seen_at), "
        "  last_seen_at = greatest(t.last_seen_at, excluded.last_seen_at)";
    /* Errors by number; count = items the failure named (a failure naming none counts 1). */
    static const char error[] =
        "INSERT INTO event_errors AS t(event_id, error_number, error_message, count) "
        "VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (event_id, error_number) DO UPDATE SET "
        "  count = t.count + excluded.count, "
        "  error_message = coalesce(excluded.error_message, t.error_message)";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    int rc;

    if (!e->event_id || !e->uid || !e->notification_type) {
        vn__store_set_error(st, "event note lacks an eventId, uid or notification type");
        return VN_EPARSE;
    }
    vn__pg_text(&a, e->event_id);
    vn__pg_text(&a, e->uid);
    vn__pg_text(&a, e->notification_type);
    vn__pg_text(&a, e->action);
    vn__pg_int(&a, e->succeeded);
    vn__pg_int(&a, e->failed);
    vn__pg_time(&a, e->ms ? e->ms : 1);
    rc = vn__pg_do(s, note, &a, NULL);
    if (rc || (e->error_number == 0 && !e->error_message && e->failed <= 0))
        return rc;
    memset(&a, 0, sizeof(a));
    vn__pg_text(&a, e->event_id);
    vn__pg_int(&a, e->error_number);
    vn__pg_text(&a, e->error_message);
    vn__pg_int(&a, e->failed > 0 ? e->failed : 1);
    return vn__pg_do(s, error, &a, NULL);
}

int vn__pg_event_failed_item(struct vn_store *st, const char *event_id, long long error_number,
                             const char *adam_id, const char *pricing_param,
                             const char *client_user_id, const char *serial_number)
{
    static const char sql[] =
        "INSERT INTO event_failed_items(event_id, error_number, adam_id, pricing_param, "
        "  client_user_id, serial_number) VALUES ($1, $2, $3, $4, $5, $6)";
    struct vn__pg_args a = {0};

    vn__pg_text(&a, event_id);
    vn__pg_int(&a, error_number);
    vn__pg_text(&a, adam_id);
    vn__pg_text(&a, pricing_param);
    vn__pg_text(&a, client_user_id);
    vn__pg_text(&a, serial_number);
    return vn__pg_do(vn__pg(st), sql, &a, NULL);
}

/* ---- locations and tokens (each in its own transaction) -------------------------------- */

static int insert_token(struct vn__pg *s, const char *uid, const uint8_t digest[VN_DIGEST_LEN],
                        int64_t created_ms)
{
    /* A digest is unique across locations: a token must select exactly one location. */
    static const char sql[] = "INSERT INTO location_tokens(uid, digest, created_at, expires_at) "
                              "VALUES ($1, $2, $3, NULL) ON CONFLICT DO NOTHING";
    struct vn__pg_args a = {0};
    long long changed;
    int rc;

    vn__pg_text(&a, uid);
    vn__pg_bytes(&a, digest, VN_DIGEST_LEN);
    vn__pg_time(&a, created_ms ? created_ms : 1);
    rc = vn__pg_do(s, sql, &a, &changed);
    if (!rc && changed == 0) {
        vn__store_set_error(&s->base, "this token is already used by a location");
        return VN_EDUP;
    }
    return rc;
}

int vn__pg_location_add(struct vn_store *st, const char *uid, const char *name,
                        const uint8_t digest[VN_DIGEST_LEN], int64_t now_ms,
                        const struct vn_location_update *u)
{
    static const char sql[] = "INSERT INTO locations(uid, name, created_at) VALUES ($1, $2, $3) "
                              "ON CONFLICT (uid) DO NOTHING";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    long long changed;
    int rc;

    rc = st->ops->begin(st);
    if (rc)
        return rc;
    vn__pg_text(&a, uid);
    vn__pg_text(&a, name);
    vn__pg_time(&a, now_ms ? now_ms : 1);
    rc = vn__pg_do(s, sql, &a, &changed);
    if (!rc && changed == 0) {
        vn__store_set_error(st, "location '%s' already exists", uid);
        rc = VN_EDUP;
    }
    if (!rc)
        rc = insert_token(s, uid, digest, now_ms);
    if (!rc && u)
        rc = vn__pg_location_update(st, uid, u);
    return vn__pg_finish(s, rc);
}

int vn__pg_location_remove(struct vn_store *st, const char *uid)
{
    static const char loc[] = "DELETE FROM locations WHERE uid = $1"; /* tokens cascade */
    static const char *const tables[] = {
        "DELETE FROM assets WHERE uid = $1",
        "DELETE FROM assignments WHERE uid = $1",
        "DELETE FROM users WHERE uid = $1",
        "DELETE FROM subscriptions WHERE uid = $1",
        "DELETE FROM subscription_assignments WHERE uid = $1",
        "DELETE FROM events WHERE uid = $1", /* cascades to their rows */
        "DELETE FROM event_tracking WHERE uid = $1",
        "DELETE FROM location_sync WHERE uid = $1",
    };
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    long long changed;
    int rc;

    rc = st->ops->begin(st);
    if (rc)
        return rc;
    vn__pg_text(&a, uid);
    rc = vn__pg_do(s, loc, &a, &changed);
    if (!rc && changed == 0) {
        vn__store_set_error(st, "location '%s' not found", uid);
        rc = VN_ENOTFOUND;
    }
    for (size_t i = 0; !rc && i < sizeof(tables) / sizeof(tables[0]); i++)
        rc = vn__pg_do(s, tables[i], &a, NULL);
    return vn__pg_finish(s, rc);
}

int vn__pg_location_rotate(struct vn_store *st, const char *uid,
                           const uint8_t digest[VN_DIGEST_LEN], int64_t now_ms,
                           int64_t grace_until_ms)
{
    static const char exists[] = "SELECT 1 FROM locations WHERE uid = $1";
    static const char drop_previous[] =
        "DELETE FROM location_tokens WHERE uid = $1 AND expires_at IS NOT NULL";
    static const char expire_current[] =
        "UPDATE location_tokens SET expires_at = $2 WHERE uid = $1 AND expires_at IS NULL";
    static const char drop_current[] =
        "DELETE FROM location_tokens WHERE uid = $1 AND expires_at IS NULL";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    PGresult *res;
    int rc;

    rc = st->ops->begin(st);
    if (rc)
        return rc;
    vn__pg_text(&a, uid);
    res = vn__pg_run(s, exists, &a, NULL);
    if (!res) {
        rc = s->stmt_rc;
        goto out;
    }
    if (PQntuples(res) == 0) {
        vn__store_set_error(st, "location '%s' not found", uid);
        rc = VN_ENOTFOUND;
    }
    PQclear(res);
    if (rc)
        goto out;
    /* At most one previous token: the one in grace now goes, the current one takes its place
     * (or goes too when there is no grace), then the new one becomes current. */
    rc = vn__pg_do(s, drop_previous, &a, NULL);
    if (rc)
        goto out;
    if (grace_until_ms > now_ms) {
        vn__pg_time(&a, grace_until_ms);
        rc = vn__pg_do(s, expire_current, &a, NULL);
    } else {
        rc = vn__pg_do(s, drop_current, &a, NULL);
    }
    if (!rc)
        rc = insert_token(s, uid, digest, now_ms);
out:
    return vn__pg_finish(s, rc);
}
