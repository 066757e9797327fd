/*
 * copy.c - the SQLite backend's side of vppnotify store copy (src/lib/store/copy.c): every
 * table of the copy catalog read in its order and written row by row, with fixed SQL whose
 * columns are the catalog's, in its order. Rare work: statements are prepared for the call.
 */
#include "sqlite_impl.h"

#include <string.h>

/* Indexed like vn__copy_tables. */
static const struct {
    const char *select;
    const char *insert;
} sql[] = {
    {"SELECT uid, name, created_at, last_test_notification_at, org_name, stoken, stoken_set_at, "
     "  token_expires_at, token_status, token_error, token_status_at, notification_url, "
     "  notification_types, subscribed_at, takeover_mdm_info, takeover_at, expiry_warned_at "
     "FROM locations ORDER BY uid",
     "INSERT INTO locations(uid, name, created_at, last_test_notification_at, org_name, stoken, "
     "  stoken_set_at, token_expires_at, token_status, token_error, token_status_at, "
     "  notification_url, notification_types, subscribed_at, takeover_mdm_info, takeover_at, "
     "  expiry_warned_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
     "  ?15, ?16, ?17)"},
    {"SELECT id, uid, digest, created_at, expires_at FROM location_tokens ORDER BY id",
     "INSERT INTO location_tokens(id, uid, digest, created_at, expires_at) "
     "VALUES (?1, ?2, ?3, ?4, ?5)"},
    {"SELECT key, value FROM instance_config ORDER BY key",
     "INSERT INTO instance_config(key, value) VALUES (?1, ?2)"},
    {"SELECT notification_id, uid, notification_type, event_id, state, error, body, body_sha256, "
     "  body_length, received_at FROM notifications ORDER BY notification_id",
     "INSERT INTO notifications(notification_id, uid, notification_type, event_id, state, error, "
     "  body, body_sha256, body_length, received_at) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"},
    {"SELECT notification_id, received_at, conflict FROM notification_repeats "
     "ORDER BY notification_id, received_at, conflict",
     "INSERT INTO notification_repeats(notification_id, received_at, conflict) "
     "VALUES (?1, ?2, ?3)"},
    {"SELECT id, received_at, remote_addr, reason, body, body_length FROM quarantine ORDER BY id",
     "INSERT INTO quarantine(id, received_at, remote_addr, reason, body, body_length) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
    {"SELECT uid, adam_id, pricing_param, total_count, assigned_count, available_count, "
     "  needs_sync, updated_at, sync_gen, clock FROM assets ORDER BY uid, adam_id, pricing_param",
     "INSERT INTO assets(uid, adam_id, pricing_param, total_count, assigned_count, "
     "  available_count, needs_sync, updated_at, sync_gen, clock) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"},
    {"SELECT id, uid, adam_id, pricing_param, client_user_id, serial_number, sync_gen, "
     "  updated_at, clock, event_id FROM assignments ORDER BY id",
     "INSERT INTO assignments(id, uid, adam_id, pricing_param, client_user_id, serial_number, "
     "  sync_gen, updated_at, clock, event_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"},
    {"SELECT uid, client_user_id, email, invite_code, id_hash, status, updated_at, sync_gen, "
     "  clock, event_id FROM users ORDER BY uid, client_user_id",
     "INSERT INTO users(uid, client_user_id, email, invite_code, id_hash, status, updated_at, "
     "  sync_gen, clock, event_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"},
    {"SELECT uid, adam_id, parent_adam_id, available_renewing, available_expiring, "
     "  total_renewing, total_expiring, updated_at, sync_gen, clock FROM subscriptions "
     "ORDER BY uid, adam_id",
     "INSERT INTO subscriptions(uid, adam_id, parent_adam_id, available_renewing, "
     "  available_expiring, total_renewing, total_expiring, updated_at, sync_gen, clock) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"},
    {"SELECT uid, adam_id, client_user_id, renewing, sync_gen, updated_at, clock, event_id "
     "FROM subscription_assignments ORDER BY uid, adam_id, client_user_id",
     "INSERT INTO subscription_assignments(uid, adam_id, client_user_id, renewing, sync_gen, "
     "  updated_at, clock, event_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"},
    {"SELECT uid, assignments_version, users_version, last_full_at, last_delta_at, "
     "  last_attempt_at, last_kind, last_error, last_drift FROM location_sync ORDER BY uid",
     "INSERT INTO location_sync(uid, assignments_version, users_version, last_full_at, "
     "  last_delta_at, last_attempt_at, last_kind, last_error, last_drift) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
    {"SELECT event_id, uid, notification_type, type, notifications, succeeded, failed, "
     "  first_seen_at, last_seen_at FROM events ORDER BY event_id",
     "INSERT INTO events(event_id, uid, notification_type, type, notifications, succeeded, "
     "  failed, first_seen_at, last_seen_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
    {"SELECT event_id, error_number, error_message, count FROM event_errors "
     "ORDER BY event_id, error_number",
     "INSERT INTO event_errors(event_id, error_number, error_message, count) "
     "VALUES (?1, ?2, ?3, ?4)"},
    {"SELECT id, event_id, error_number, adam_id, pricing_param, client_user_id, serial_number "
     "FROM event_failed_items ORDER BY id",
     "INSERT INTO event_failed_items(id, event_id, error_number, adam_id, pricing_param, "
     "  client_user_id, serial_number) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
    {"SELECT event_id, uid, kind, type, request, expected, deferred, requested_at, state, "
     "  status, num_requested, num_completed, failures, polls, last_poll_at, poll_error, "
     "  notifications_missing, stalled, stalled_at, resync, completed_at, send_seq "
     "FROM event_tracking ORDER BY event_id",
     "INSERT INTO event_tracking(event_id, uid, kind, type, request, expected, deferred, "
     "  requested_at, state, status, num_requested, num_completed, failures, polls, "
     "  last_poll_at, poll_error, notifications_missing, stalled, stalled_at, resync, "
     "  completed_at, send_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
     "  ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)"},
    {"SELECT id, name, scope, digest, shown, created_at, revoked_at FROM api_keys ORDER BY id",
     "INSERT INTO api_keys(id, name, scope, digest, shown, created_at, revoked_at) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
    {"SELECT seq, at, kind, op, uid, key, row FROM changes ORDER BY seq",
     "INSERT INTO changes(seq, at, kind, op, uid, key, row) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
    {"SELECT id, pruned_through, retention_ms FROM change_meta ORDER BY id",
     "INSERT INTO change_meta(id, pruned_through, retention_ms) VALUES (?1, ?2, ?3) "
     "ON CONFLICT(id) DO UPDATE SET pruned_through = excluded.pruned_through, "
     "  retention_ms = excluded.retention_ms"},
    {"SELECT id, first_at, last_at, remote_addr, status, reason, claimed_uid, token_uid, count "
     "FROM rejections ORDER BY id",
     "INSERT INTO rejections(id, first_at, last_at, remote_addr, status, reason, claimed_uid, "
     "  token_uid, count) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
    {"SELECT id, url, kinds, secret, created_at, cursor, state, disabled_reason, attempts, "
     "  failing_since, next_attempt_at, last_attempt_at, last_status, last_error, delivered "
     "FROM webhook_endpoints ORDER BY id",
     "INSERT INTO webhook_endpoints(id, url, kinds, secret, created_at, cursor, state, "
     "  disabled_reason, attempts, failing_since, next_attempt_at, last_attempt_at, "
     "  last_status, last_error, delivered) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
     "  ?11, ?12, ?13, ?14, ?15)"},
    {"SELECT id, endpoint_id, seq, message_id, type, attempt, at, status, ok, error, "
     "  duration_ms FROM webhook_deliveries ORDER BY id",
     "INSERT INTO webhook_deliveries(id, endpoint_id, seq, message_id, type, attempt, at, "
     "  status, ok, error, duration_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"},
    {"SELECT key_name, idem_key, request_hash, state, status, body, created_at "
     "FROM api_idempotency ORDER BY key_name, idem_key",
     "INSERT INTO api_idempotency(key_name, idem_key, request_hash, state, status, body, "
     "  created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
    {"SELECT uid, tbl, adam_id, pricing_param, client_user_id, serial_number, event_id, clock, "
     "  deleted_at FROM mirror_tombstones "
     "ORDER BY uid, tbl, adam_id, pricing_param, client_user_id, serial_number",
     "INSERT INTO mirror_tombstones(uid, tbl, adam_id, pricing_param, client_user_id, "
     "  serial_number, event_id, clock, deleted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
    {"SELECT id, uid, tbl, adam_id, pricing_param, client_user_id, serial_number, reason, "
     "  created_at, attempts, last_error FROM mirror_verify ORDER BY id",
     "INSERT INTO mirror_verify(id, uid, tbl, adam_id, pricing_param, client_user_id, "
     "  serial_number, reason, created_at, attempts, last_error) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"},
    {"SELECT id, value FROM writer_clock ORDER BY id",
     "INSERT INTO writer_clock(id, value) VALUES (?1, ?2) "
     "ON CONFLICT(id) DO UPDATE SET value = excluded.value"},
};

_Static_assert(sizeof(sql) / sizeof(sql[0]) <= VN_STORE_COPY_TABLES_MAX, "too many tables");

static int prepare(struct vn__sqlite *s, const char *text, sqlite3_stmt **st)
{
    int rc = vn__sq_assets_flush(s); /* batch.c: rows kept in memory first */

    *st = NULL;
    if (rc)
        return rc;
    rc = sqlite3_prepare_v2(s->db, text, -1, st, NULL);
    return rc == SQLITE_OK ? 0 : vn__sq_fail(s, rc);
}

static int check_table(struct vn_store *st, size_t t)
{
    if (t >= vn__copy_table_count || t >= sizeof(sql) / sizeof(sql[0])) {
        vn__store_set_error(st, "no table %zu in the copy catalog", t);
        return VN_EPARSE;
    }
    return 0;
}

int vn__sq_table_rows(struct vn_store *st_, size_t t, vn__copy_row_cb cb, void *ud)
{
    struct vn__sqlite *s = vn__sq(st_);
    struct vn__copy_value vals[VN__COPY_COLS_MAX];
    const struct vn__copy_table *tab;
    sqlite3_stmt *st = NULL;
    int rc = check_table(st_, t);

    if (rc)
        return rc;
    tab = &vn__copy_tables[t];
    rc = prepare(s, sql[t].select, &st);
    if (rc)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int stop;

        for (size_t k = 0; k < tab->n; k++) {
            int c = (int)k;

            memset(&vals[k], 0, sizeof(vals[k]));
            if (sqlite3_column_type(st, c) == SQLITE_NULL) {
                vals[k].null = 1;
                continue;
            }
            switch (tab->types[k]) {
            case VN__C_INT:
            case VN__C_BOOL:
                vals[k].i = sqlite3_column_int64(st, c);
                break;
            case VN__C_BYTES:
                vals[k].s = sqlite3_column_blob(st, c);
                vals[k].len = (size_t)sqlite3_column_bytes(st, c);
                if (!vals[k].s)
                    vals[k].s = "";
                break;
            default:
                vals[k].s = (const char *)sqlite3_column_text(st, c);
                vals[k].len = (size_t)sqlite3_column_bytes(st, c);
                break;
            }
        }
        stop = cb(ud, t, vals);
        if (stop) {
            rc = stop; /* the callback's value comes back */
            goto out;
        }
    }
    rc = rc == SQLITE_DONE ? 0 : vn__sq_fail(s, rc);
out:
    sqlite3_finalize(st);
    return rc;
}

int vn__sq_table_insert(struct vn_store *st_, size_t t, const struct vn__copy_value *vals)
{
    struct vn__sqlite *s = vn__sq(st_);
    const struct vn__copy_table *tab;
    sqlite3_stmt *st = NULL;
    int rc = check_table(st_, t);

    if (rc)
        return rc;
    tab = &vn__copy_tables[t];
    rc = prepare(s, sql[t].insert, &st);
    if (rc)
        return rc;
    for (size_t k = 0; k < tab->n; k++) {
        int i = (int)k + 1;

        if (vals[k].null) {
            sqlite3_bind_null(st, i);
            continue;
        }
        switch (tab->types[k]) {
        case VN__C_INT:
        case VN__C_BOOL:
            sqlite3_bind_int64(st, i, vals[k].i);
            break;
        case VN__C_BYTES:
            if (vals[k].len == 0)
                sqlite3_bind_zeroblob(st, i, 0);
            else
                sqlite3_bind_blob64(st, i, vals[k].s, vals[k].len, SQLITE_STATIC);
            break;
        default:
            sqlite3_bind_text64(st, i, vals[k].s, vals[k].len, SQLITE_STATIC, SQLITE_UTF8);
            break;
        }
    }
    rc = vn__sq_done(s, st);
    sqlite3_finalize(st);
    return rc;
}

int vn__sq_table_loaded(struct vn_store *st, size_t t)
{
    struct vn__sqlite *s = vn__sq(st);
    sqlite3_stmt *forget = NULL;
    int rc = check_table(st, t);

    /* INTEGER PRIMARY KEYs go on from the largest id by themselves. Once the change log is
     * loaded, the marks the copy's own inserts left are forgotten: they are no changes. */
    if (rc || strcmp(vn__copy_tables[t].name, "changes") != 0)
        return rc;
    rc = prepare(s, "DELETE FROM change_dirty", &forget);
    if (!rc)
        rc = vn__sq_done(s, forget);
    sqlite3_finalize(forget);
    return rc;
}
