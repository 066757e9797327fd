/*
 * write.c - the SQLite backend's writes: the notification ledger, quarantine, the
 * mirror primitives, events, and locations with their tokens (store.h has the contracts,
 * docs/SCHEMA.md the tables).
 *
 * The ingest writer calls the ledger insert, assignment insert/delete, asset adjust and event
 * note thousands of times a second: each is one cached statement, bound and stepped once, and
 * "did it change a row" comes from sqlite3_changes(), never from a second query.
 */
#include "sqlite_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n)
{
    if (n == 0)
        return sqlite3_bind_zeroblob(st, i, 0); /* a NULL pointer would bind NULL */
    return sqlite3_bind_blob64(st, i, p, n, SQLITE_STATIC);
}

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

int vn__sq_notification_insert(struct vn_store *st_, const struct vn_notification_record *r)
{
    struct vn__sqlite *s = vn__sq(st_);
    char iso[VN_TIME_ISO_LEN];
    const char *state = state_name(r->state);
    sqlite3_stmt *st;
    int rc, changed;

    if (!r->id || !r->uid || !r->type_name || !state) {
        vn__store_set_error(st_, "notification record lacks an id, uid, type or state");
        return VN_EPARSE;
    }
    VN_SQ_STMT(
        st, s, VN_SQ_NOTIF_INSERT,
        "INSERT INTO notifications(notification_id, uid, notification_type, event_id, state, "
        "  error, body, body_sha256, body_length, received_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
        "ON CONFLICT(notification_id) DO NOTHING");
    vn__sq_iso(s, r->received_ms, iso);
    vn__sq_text(st, 1, r->id);
    vn__sq_text(st, 2, r->uid);
    vn__sq_text(st, 3, r->type_name);
    vn__sq_text(st, 4, r->event_id);
    vn__sq_text(st, 5, state);
    vn__sq_text(st, 6, r->error);
    bind_blob(st, 7, r->body, r->body_len);
    sqlite3_bind_blob(st, 8, r->digest, VN_DIGEST_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, (sqlite3_int64)r->body_len);
    sqlite3_bind_text(st, 10, iso, -1, SQLITE_STATIC);
    rc = vn__sq_run(s, st, &changed);
    if (rc)
        return rc;
    if (changed == 0) {
        vn__store_set_error(st_, "notification '%s' is already known", r->id);
        return VN_EDUP;
    }
    return 0;
}

int vn__sq_notification_repeat(struct vn_store *st_, const char *id,
                               const uint8_t digest[VN_DIGEST_LEN], int *conflict)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;
    int rc, found = 0, differs = 0;

    /* Read the first body's digest, then append the repeat: an append touches the last page
     * of notification_repeats only, where a counter update would rewrite the ledger row's. */
    VN_SQ_STMT(st, s, VN_SQ_NOTIF_REPEAT,
               "SELECT body_sha256 IS NOT ?2 FROM notifications WHERE notification_id = ?1");
    vn__sq_text(st, 1, id);
    sqlite3_bind_blob(st, 2, digest, VN_DIGEST_LEN, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        found = 1;
        differs = sqlite3_column_int(st, 0);
    }
    rc = rc == SQLITE_DONE ? 0 : vn__sq_fail(s, rc);
    sqlite3_reset(st);
    if (rc)
        return rc;
    if (!found) {
        vn__store_set_error(st_, "notification '%s' not found", id);
        return VN_ENOTFOUND;
    }
    VN_SQ_STMT(st, s, VN_SQ_NOTIF_REPEAT_LOG,
               "INSERT INTO notification_repeats(notification_id, received_at, conflict) "
               "VALUES (?1, ?2, ?3)");
    vn__sq_text(st, 1, id);
    sqlite3_bind_text(st, 2, s->txn_iso, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, differs);
    rc = vn__sq_done(s, st);
    if (rc)
        return rc;
    if (conflict)
        *conflict = differs;
    return 0;
}

int vn__sq_notification_set_state(struct vn_store *st_, const char *id, enum vn_nstate state,
                                  const char *error)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;
    int rc, changed;

    if (!state_name(state)) {
        vn__store_set_error(st_, "invalid notification state %d", (int)state);
        return VN_EPARSE;
    }
    /* A transition, not an assignment: two concurrent replays cannot both apply one
     * notification, because only one of them moves it out of 'stored'. */
    VN_SQ_STMT(st, s, VN_SQ_NOTIF_SET_STATE,
               "UPDATE notifications SET state = ?2, error = ?3 WHERE notification_id = ?1 "
               "AND state <> ?2");
    vn__sq_text(st, 1, id);
    vn__sq_text(st, 2, state_name(state));
    vn__sq_text(st, 3, error);
    rc = vn__sq_run(s, st, &changed);
    if (!rc && changed == 0) {
        char *body = NULL;
        size_t len;
        if (vn__sq_notification_body(st_, id, &body, &len) == VN_ENOTFOUND) {
            vn__store_set_error(st_, "notification '%s' not found", id);
            return VN_ENOTFOUND;
        }
        free(body);
        vn__store_set_error(st_, "notification '%s' is already %s", id, state_name(state));
        return VN_ECONFLICT;
    }
    return rc;
}

int vn__sq_notification_body(struct vn_store *st_, const char *id, char **body, size_t *len)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;
    const void *p;
    size_t n;
    int rc;

    *body = NULL;
    *len = 0;
    VN_SQ_STMT(st, s, VN_SQ_NOTIF_BODY,
               "SELECT body FROM notifications WHERE notification_id = ?1");
    vn__sq_text(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        vn__store_set_error(st_, "notification '%s' not found", id);
        rc = VN_ENOTFOUND;
        goto out;
    }
    if (rc != SQLITE_ROW) {
        rc = vn__sq_fail(s, rc);
        goto out;
    }
    p = sqlite3_column_blob(st, 0);
    n = (size_t)sqlite3_column_bytes(st, 0);
    *body = malloc(n + 1); /* NUL-terminated as a convenience: bodies are text */
    if (!*body) {
        rc = -ENOMEM;
        goto out;
    }
    if (n)
        memcpy(*body, p, n);
    (*body)[n] = '\0';
    *len = n;
    rc = 0;
out:
    sqlite3_reset(st);
    return rc;
}

int vn__sq_stored_ids(struct vn_store *st_, const char *uid, char ***ids, size_t *n)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;

    *ids = NULL;
    *n = 0;
    VN_SQ_STMT(st, s, VN_SQ_STORED_IDS,
               "SELECT notification_id FROM notifications "
               "WHERE state = 'stored' AND (?1 IS NULL OR uid = ?1) "
               "ORDER BY received_at, notification_id");
    vn__sq_text(st, 1, uid);
    return vn__sq_collect_text(s, st, ids, n);
}

int vn__sq_quarantine(struct vn_store *st_, int64_t received_ms, const char *remote,
                      const char *reason, const void *body, size_t body_len, size_t original_len)
{
    struct vn__sqlite *s = vn__sq(st_);
    char iso[VN_TIME_ISO_LEN];
    sqlite3_stmt *st;

    VN_SQ_STMT(st, s, VN_SQ_QUARANTINE,
               "INSERT INTO quarantine(received_at, remote_addr, reason, body, body_length) "
               "VALUES (?1, ?2, ?3, ?4, ?5)");
    vn__sq_iso(s, received_ms, iso);
    sqlite3_bind_text(st, 1, iso, -1, SQLITE_STATIC);
    vn__sq_text(st, 2, remote);
    vn__sq_text(st, 3, reason ? reason : "");
    bind_blob(st, 4, body, body_len);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)original_len);
    return vn__sq_run(s, st, NULL);
}

/* ---- the mirror ------------------------------------------------------------------------ */

/*
 * col + delta (parameter p), saturated at the int64 limits (?8 max, ?9 min): SQLite would turn
 * an overflowing sum into a REAL, and the count into an approximation for good. The bounds
 * subtract a delta of the sign that cannot overflow them.
 */
#define SAT_ADD(col, p)                                                                            \
    "(CASE WHEN " p " > 0 AND " col " > ?8 - " p " THEN ?8 WHEN " p " < 0 AND " col " < ?9 - " p   \
    " THEN ?9 ELSE " col " + " p " END)"
#define OVERFLOWS(col, p)                                                                          \
    "(" p " > 0 AND " col " > ?8 - " p ") OR (" p " < 0 AND " col " < ?9 - " p ")"

int vn__sq_asset_adjust(struct vn_store *st_, const char *uid, const char *adam_id,
                        const char *pricing_param, long long d_total, long long d_assigned,
                        long long d_available)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;
    int rc;

    /* An optimistic group commit keeps the row in memory and writes it once (batch.c). */
    rc = vn__sq_assets_defer(s, uid, adam_id, pricing_param ? pricing_param : "STDQ", d_total,
                             d_assigned, d_available);
    if (rc <= 0)
        return rc;
    /*
     * A new row is an asset we did not know: it starts from the deltas and needs a sync. On
     * update every right-hand side sees the old row, so the check repeats the sums. A count
     * that would leave int64 stays at the limit and the asset needs a sync (docs/SCHEMA.md).
     */
    /* clang-format off */
    static const char sql[] =
        "INSERT INTO assets(uid, adam_id, pricing_param, total_count, assigned_count, "
        "  available_count, needs_sync, updated_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7) "
        "ON CONFLICT(uid, adam_id, pricing_param) DO UPDATE SET "
        "  total_count = " SAT_ADD("total_count", "?4") ", "
        "  assigned_count = " SAT_ADD("assigned_count", "?5") ", "
        "  available_count = " SAT_ADD("available_count", "?6") ", "
        "  needs_sync = (needs_sync"
        "    OR " OVERFLOWS("total_count", "?4")
        "    OR " OVERFLOWS("assigned_count", "?5")
        "    OR " OVERFLOWS("available_count", "?6")
        "    OR " SAT_ADD("total_count", "?4") " < 0"
        "    OR " SAT_ADD("assigned_count", "?5") " < 0"
        "    OR " SAT_ADD("available_count", "?6") " < 0"
        "    OR " SAT_ADD("assigned_count", "?5") " > " SAT_ADD("total_count", "?4") "), "
        "  updated_at = excluded.updated_at";
    /* clang-format on */

    VN_SQ_STMT(st, s, VN_SQ_ASSET_ADJUST, sql);
    vn__sq_text(st, 1, uid);
    vn__sq_text(st, 2, adam_id);
    vn__sq_text(st, 3, pricing_param ? pricing_param : "STDQ");
    sqlite3_bind_int64(st, 4, d_total);
    sqlite3_bind_int64(st, 5, d_assigned);
    sqlite3_bind_int64(st, 6, d_available);
    vn__sq_text(st, 7, vn__sq_now(s));
    sqlite3_bind_int64(st, 8, INT64_MAX);
    sqlite3_bind_int64(st, 9, INT64_MIN);
    return vn__sq_run(s, st, NULL);
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

int vn__sq_assignment_insert(struct vn_store *st_, const char *uid, const struct vn_assignment *a)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;
    int rc, changed;

    rc = check_assignment(st_, a);
    if (rc)
        return rc;
    VN_SQ_STMT(
        st, s, VN_SQ_ASSIGN_INSERT,
        "INSERT INTO assignments(uid, adam_id, pricing_param, client_user_id, serial_number, "
        "  updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING");
    vn__sq_text(st, 1, uid);
    vn__sq_text(st, 2, a->adam_id.s);
    vn__sq_text(st, 3, a->pricing_param ? a->pricing_param : "STDQ");
    vn__sq_text(st, 4, a->client_user_id);
    vn__sq_text(st, 5, a->serial_number);
    vn__sq_text(st, 6, vn__sq_now(s));
    rc = vn__sq_run(s, st, &changed);
    return rc ? rc : changed > 0;
}

int vn__sq_assignment_delete(struct vn_store *st_, const char *uid, const struct vn_assignment *a)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;
    int rc, changed;

    rc = check_assignment(st_, a);
    if (rc)
        return rc;
    /* Two statements, so that each one's "= ?4" lets SQLite use its partial index. */
    if (a->client_user_id)
        VN_SQ_STMT(st, s, VN_SQ_ASSIGN_DELETE_USER,
                   "DELETE FROM assignments WHERE uid = ?1 AND adam_id = ?2 AND pricing_param = ?3 "
                   "AND client_user_id = ?4");
    else
        VN_SQ_STMT(st, s, VN_SQ_ASSIGN_DELETE_DEVICE,
                   "DELETE FROM assignments WHERE uid = ?1 AND adam_id = ?2 AND pricing_param = ?3 "
                   "AND serial_number = ?4");
    vn__sq_text(st, 1, uid);
    vn__sq_text(st, 2, a->adam_id.s);
    vn__sq_text(st, 3, a->pricing_param ? a->pricing_param : "STDQ");
    vn__sq_text(st, 4, a->client_user_id ? a->client_user_id : a->serial_number);
    rc = vn__sq_run(s, st, &changed);
    return rc ? rc : changed > 0;
}

int vn__sq_user_upsert(struct vn_store *st_, const char *uid, const struct vn_user *u,
                       const char *status)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;

    if (!u->client_user_id) {
        vn__store_set_error(st_, "user without a clientUserId");
        return VN_EPARSE;
    }
    /* Absent (NULL) fields keep what is stored. */
    VN_SQ_STMT(st, s, VN_SQ_USER_UPSERT,
               "INSERT INTO users(uid, client_user_id, email, invite_code, id_hash, status, "
               "  updated_at) "
               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
               "ON CONFLICT(uid, client_user_id) DO UPDATE SET "
               "  email = coalesce(excluded.email, email), "
               "  invite_code = coalesce(excluded.invite_code, invite_code), "
               "  id_hash = coalesce(excluded.id_hash, id_hash), "
               "  status = coalesce(excluded.status, status), "
               "  updated_at = excluded.updated_at");
    vn__sq_text(st, 1, uid);
    vn__sq_text(st, 2, u->client_user_id);
    vn__sq_text(st, 3, u->email);
    vn__sq_text(st, 4, u->invite_code);
    vn__sq_text(st, 5, u->id_hash);
    vn__sq_text(st, 6, status ? status : u->status);
    vn__sq_text(st, 7, vn__sq_now(s));
    return vn__sq_run(s, st, NULL);
}

int vn__sq_subscription_set_counts(struct vn_store *st_, const char *uid, const char *adam_id,
                                   const char *parent_adam_id, const struct vn_counts *c)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;

    VN_SQ_STMT(st, s, VN_SQ_SUB_COUNTS,
               "INSERT INTO subscriptions(uid, adam_id, parent_adam_id, available_renewing, "
               "  available_expiring, total_renewing, total_expiring, updated_at) "
               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
               "ON CONFLICT(uid, adam_id) DO UPDATE SET "
               "  parent_adam_id = coalesce(excluded.parent_adam_id, parent_adam_id), "
               "  available_renewing = excluded.available_renewing, "
               "  available_expiring = excluded.available_expiring, "
               "  total_renewing = excluded.total_renewing, "
               "  total_expiring = excluded.total_expiring, "
               "  updated_at = excluded.updated_at");
    vn__sq_text(st, 1, uid);
    vn__sq_text(st, 2, adam_id);
    vn__sq_text(st, 3, parent_adam_id);
    sqlite3_bind_int64(st, 4, c->available_renewing);
    sqlite3_bind_int64(st, 5, c->available_expiring);
    sqlite3_bind_int64(st, 6, c->total_renewing);
    sqlite3_bind_int64(st, 7, c->total_expiring);
    vn__sq_text(st, 8, vn__sq_now(s));
    return vn__sq_run(s, st, NULL);
}

int vn__sq_seat_upsert(struct vn_store *st_, const char *uid, const struct vn_seat *seat)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;
    int rc, changed;

    /* The WHERE makes an identical repeat change nothing, so changes() says "1 changed". */
    VN_SQ_STMT(
        st, s, VN_SQ_SEAT_UPSERT,
        "INSERT INTO subscription_assignments(uid, adam_id, client_user_id, renewing, "
        "  updated_at) VALUES (?1, ?2, ?3, ?4, ?5) "
        "ON CONFLICT(uid, adam_id, client_user_id) DO UPDATE SET renewing = excluded.renewing, "
        "  updated_at = excluded.updated_at WHERE renewing <> excluded.renewing");
    vn__sq_text(st, 1, uid);
    vn__sq_text(st, 2, seat->adam_id.s);
    vn__sq_text(st, 3, seat->client_user_id);
    sqlite3_bind_int(st, 4, seat->renewing ? 1 : 0);
    vn__sq_text(st, 5, vn__sq_now(s));
    rc = vn__sq_run(s, st, &changed);
    return rc ? rc : changed > 0;
}

int vn__sq_seat_delete(struct vn_store *st_, const char *uid, const struct vn_seat *seat)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;
    int rc, changed;

    VN_SQ_STMT(st, s, VN_SQ_SEAT_DELETE,
               "DELETE FROM subscription_assignments "
               "WHERE uid = ?1 AND adam_id = ?2 AND client_user_id = ?3");
    vn__sq_text(st, 1, uid);
    vn__sq_text(st, 2, seat->adam_id.s);
    vn__sq_text(st, 3, seat->client_user_id);
    rc = vn__sq_run(s, st, &changed);
    return rc ? rc : changed > 0;
}

int vn__sq_location_tested(struct vn_store *st_, const char *uid, int64_t ms)
{
    struct vn__sqlite *s = vn__sq(st_);
    char iso[VN_TIME_ISO_LEN];
    sqlite3_stmt *st;
    int rc, changed;

    /* max(): a late retry of an older test notification does not move the time back. */
    VN_SQ_STMT(st, s, VN_SQ_LOC_TESTED,
               "UPDATE locations "
               "SET last_test_notification_at = max(coalesce(last_test_notification_at, ''), ?2) "
               "WHERE uid = ?1");
    vn__sq_iso(s, ms, iso);
    vn__sq_text(st, 1, uid);
    sqlite3_bind_text(st, 2, iso, -1, SQLITE_STATIC);
    rc = vn__sq_run(s, st, &changed);
    if (!rc && changed == 0) {
        vn__store_set_error(st_, "location '%s' not found", uid);
        return VN_ENOTFOUND;
    }
    return rc;
}

/* ---- events ---------------------------------------------------------------------------- */

int vn__sq_event_note(struct vn_store *st_, const struct vn_event_note *e)
{
    struct vn__sqlite *s = vn__sq(st_);
    char iso[VN_TIME_ISO_LEN];
    sqlite3_stmt *st;
    int rc;

    if (!e->event_id || !e->uid || !e->notification_type) {
        vn__store_set_error(st_, "event note lacks an eventId, uid or notification type");
        return VN_EPARSE;
    }
    VN_SQ_STMT(
        st, s, VN_SQ_EVENT_NOTE,
        "INSERT INTO events(event_id, uid, notification_type, type, notifications, succeeded, "
        "  failed, first_seen_at, last_seen_at) "
        "VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7, ?7) "
        "ON CONFLICT(event_id) DO UPDATE SET "
        "  notifications = notifications + 1, "
        "  succeeded = succeeded + excluded.succeeded, "
        "  failed = failed + excluded.failed, "
        "  type = coalesce(type, excluded.type), "
        "  first_seen_at = min(first_seen_at, excluded.first_seen_at), "
        "  last_seen_at = max(last_seen_at, excluded.last_seen_at)");
    vn__sq_iso(s, e->ms, iso);
    vn__sq_text(st, 1, e->event_id);
    vn__sq_text(st, 2, e->uid);
    vn__sq_text(st, 3, e->notification_type);
    vn__sq_text(st, 4, e->action);
    sqlite3_bind_int64(st, 5, e->succeeded);
    sqlite3_bind_int64(st, 6, e->failed);
    sqlite3_bind_text(st, 7, iso, -1, SQLITE_STATIC);
    rc = vn__sq_run(s, st, NULL);
    if (rc)
        return rc;
    if (e->error_number == 0 && !e->error_message && e->failed <= 0)
        return 0;
    /* Errors by number; count = items the failure named (a failure naming none counts 1). */
    VN_SQ_STMT(st, s, VN_SQ_EVENT_ERROR,
               "INSERT INTO event_errors(event_id, error_number, error_message, count) "
               "VALUES (?1, ?2, ?3, ?4) "
               "ON CONFLICT(event_id, error_number) DO UPDATE SET "
               "  count = count + excluded.count, "
               "  error_message = coalesce(excluded.error_message, error_message)");
    vn__sq_text(st, 1, e->event_id);
    sqlite3_bind_int64(st, 2, e->error_number);
    vn__sq_text(st, 3, e->error_message);
    sqlite3_bind_int64(st, 4, e->failed > 0 ? e->failed : 1);
    return vn__sq_run(s, st, NULL);
}

int vn__sq_event_failed_item(struct vn_store *st_, const char *event_id, long long error_number,
                             const char *adam_id, const char *pricing_param,
                             const char *client_user_id, const char *serial_number)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;

    VN_SQ_STMT(st, s, VN_SQ_EVENT_ITEM,
               "INSERT INTO event_failed_items(event_id, error_number, adam_id, pricing_param, "
               "  client_user_id, serial_number) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    vn__sq_text(st, 1, event_id);
    sqlite3_bind_int64(st, 2, error_number);
    vn__sq_text(st, 3, adam_id);
    vn__sq_text(st, 4, pricing_param);
    vn__sq_text(st, 5, client_user_id);
    vn__sq_text(st, 6, serial_number);
    return vn__sq_run(s, st, NULL);
}

/* ---- locations and tokens (each in its own transaction) -------------------------------- */

/* Commit when rc is 0, else roll back keeping the error; returns the outcome. */
static int finish(struct vn__sqlite *s, int rc)
{
    if (rc) {
        vn__sq_abort(s);
        return rc;
    }
    return s->base.ops->commit(&s->base);
}

static int insert_token(struct vn__sqlite *s, const char *uid, const uint8_t digest[VN_DIGEST_LEN],
                        const char *created)
{
    sqlite3_stmt *st;
    int rc, changed;

    /* A digest is unique across locations: a token must select exactly one location. */
    VN_SQ_STMT(st, s, VN_SQ_TOKEN_INSERT,
               "INSERT INTO location_tokens(uid, digest, created_at, expires_at) "
               "VALUES (?1, ?2, ?3, NULL) ON CONFLICT DO NOTHING");
    vn__sq_text(st, 1, uid);
    sqlite3_bind_blob(st, 2, digest, VN_DIGEST_LEN, SQLITE_STATIC);
    vn__sq_text(st, 3, created);
    rc = vn__sq_run(s, st, &changed);
    if (!rc && changed == 0) {
        vn__store_set_error(&s->base, "this token is already used by a location");
        return VN_EDUP;
    }
    return rc;
}

int vn__sq_location_add(struct vn_store *st_, const char *uid, const char *name,
                        const uint8_t digest[VN_DIGEST_LEN], int64_t now_ms,
                        const struct vn_location_update *u)
{
    struct vn__sqlite *s = vn__sq(st_);
    char iso[VN_TIME_ISO_LEN];
    sqlite3_stmt *st;
    int rc, changed;

    rc = st_->ops->begin(st_);
    if (rc)
        return rc;
    vn_time_iso(now_ms, iso);
    st = vn__sq_stmt(s, VN_SQ_LOC_INSERT,
                     "INSERT INTO locations(uid, name, created_at) VALUES (?1, ?2, ?3) "
                     "ON CONFLICT(uid) DO NOTHING");
    if (!st) {
        rc = s->stmt_rc;
        goto out;
    }
    vn__sq_text(st, 1, uid);
    vn__sq_text(st, 2, name);
    sqlite3_bind_text(st, 3, iso, -1, SQLITE_STATIC);
    rc = vn__sq_run(s, st, &changed);
    if (!rc && changed == 0) {
        vn__store_set_error(st_, "location '%s' already exists", uid);
        rc = VN_EDUP;
    }
    if (!rc)
        rc = insert_token(s, uid, digest, iso);
    if (!rc && u)
        rc = vn__sq_location_update(st_, uid, u);
out:
    return finish(s, rc);
}

/* Delete every row of uid from the table of slot. */
static int delete_uid(struct vn__sqlite *s, enum vn__sq_slot slot, const char *sql, const char *uid)
{
    sqlite3_stmt *st;

    VN_SQ_STMT(st, s, slot, sql);
    vn__sq_text(st, 1, uid);
    return vn__sq_run(s, st, NULL);
}

int vn__sq_location_remove(struct vn_store *st_, const char *uid)
{
    static const struct {
        enum vn__sq_slot slot;
        const char *sql;
    } tables[] = {
        {VN_SQ_DEL_ASSETS, "DELETE FROM assets WHERE uid = ?1"},
        /* Split so that each uses its partial unique index. */
        {VN_SQ_DEL_ASSIGN_USER,
         "DELETE FROM assignments WHERE uid = ?1 AND client_user_id IS NOT NULL"},
        {VN_SQ_DEL_ASSIGN_DEVICE,
         "DELETE FROM assignments WHERE uid = ?1 AND serial_number IS NOT NULL"},
        {VN_SQ_DEL_USERS, "DELETE FROM users WHERE uid = ?1"},
        {VN_SQ_DEL_SUBS, "DELETE FROM subscriptions WHERE uid = ?1"},
        {VN_SQ_DEL_SEATS, "DELETE FROM subscription_assignments WHERE uid = ?1"},
        {VN_SQ_DEL_EVENTS, "DELETE FROM events WHERE uid = ?1"}, /* cascades to their rows */
        {VN_SQ_DEL_TRACKING, "DELETE FROM event_tracking WHERE uid = ?1"},
        {VN_SQ_DEL_SYNC_STATE, "DELETE FROM location_sync WHERE uid = ?1"},
    };
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;
    size_t i;
    int rc, changed = 0;

    rc = st_->ops->begin(st_);
    if (rc)
        return rc;
    st = vn__sq_stmt(s, VN_SQ_LOC_DELETE, "DELETE FROM locations WHERE uid = ?1");
    if (!st) {
        rc = s->stmt_rc;
        goto out;
    }
    vn__sq_text(st, 1, uid);
    rc = vn__sq_run(s, st, &changed); /* its tokens go by ON DELETE CASCADE */
    if (!rc && changed == 0) {
        vn__store_set_error(st_, "location '%s' not found", uid);
        rc = VN_ENOTFOUND;
    }
    for (i = 0; !rc && i < sizeof(tables) / sizeof(tables[0]); i++)
        rc = delete_uid(s, tables[i].slot, tables[i].sql, uid);
out:
    return finish(s, rc);
}

int vn__sq_location_rotate(struct vn_store *st_, const char *uid,
                           const uint8_t digest[VN_DIGEST_LEN], int64_t now_ms,
                           int64_t grace_until_ms)
{
    struct vn__sqlite *s = vn__sq(st_);
    char now_iso[VN_TIME_ISO_LEN], grace_iso[VN_TIME_ISO_LEN];
    sqlite3_stmt *st;
    int rc;

    rc = st_->ops->begin(st_);
    if (rc)
        return rc;
    st = vn__sq_stmt(s, VN_SQ_LOC_EXISTS, "SELECT 1 FROM locations WHERE uid = ?1");
    if (!st) {
        rc = s->stmt_rc;
        goto out;
    }
    vn__sq_text(st, 1, uid);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? VN_ENOTFOUND : vn__sq_fail(s, rc);
    sqlite3_reset(st);
    if (rc == VN_ENOTFOUND)
        vn__store_set_error(st_, "location '%s' not found", uid);
    if (rc)
        goto out;

    /* At most one previous token: the one in grace now goes, the current one takes its
     * place (or goes too when there is no grace), then the new one becomes current. */
    rc = delete_uid(s, VN_SQ_TOKEN_DROP_PREVIOUS,
                    "DELETE FROM location_tokens WHERE uid = ?1 AND expires_at IS NOT NULL", uid);
    if (rc)
        goto out;
    if (grace_until_ms > now_ms) {
        st = vn__sq_stmt(s, VN_SQ_TOKEN_EXPIRE_CURRENT,
                         "UPDATE location_tokens SET expires_at = ?2 "
                         "WHERE uid = ?1 AND expires_at IS NULL");
        if (!st) {
            rc = s->stmt_rc;
            goto out;
        }
        vn_time_iso(grace_until_ms, grace_iso);
        vn__sq_text(st, 1, uid);
        sqlite3_bind_text(st, 2, grace_iso, -1, SQLITE_STATIC);
        rc = vn__sq_run(s, st, NULL);
    } else {
        rc = delete_uid(s, VN_SQ_TOKEN_DROP_CURRENT,
                        "DELETE FROM location_tokens WHERE uid = ?1 AND expires_at IS NULL", uid);
    }
    if (rc)
        goto out;
    vn_time_iso(now_ms, now_iso);
    rc = insert_token(s, uid, digest, now_iso);
out:
    return finish(s, rc);
}
