/*
 * copy.c - the PostgreSQL backend's side of vppnotify store copy (src/lib/store/copy.c):
 * every table of the copy catalog read in its order (rows streamed one at a time: libpq's
 * single-row mode, so a large ledger is never in memory at once) and written row by row with
 * fixed SQL whose columns are the catalog's. Copied ids are kept (OVERRIDING SYSTEM VALUE);
 * afterwards each identity goes on past the largest one.
 */
#include "pg_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Indexed like vn__copy_tables. Orders as in SQLite: byte order, NULLs first. */
static const struct {
    const char *select;
    const char *insert;
    const char *identity; /* after loading: move the identity past the copied ids, or NULL */
} sql[] = {
    {"SELECT uid, name, vn_iso(created_at), vn_iso(last_test_notification_at), org_name, stoken, "
     "  vn_iso(stoken_set_at), vn_iso(token_expires_at), token_status, token_error, "
     "  vn_iso(token_status_at), notification_url, notification_types, vn_iso(subscribed_at), "
     "  takeover_mdm_info, vn_iso(takeover_at), vn_iso(expiry_warned_at) "
     "FROM locations ORDER BY uid",
     "INSERT INTO locations(uid, name, created_at, last_test_notification_at, org_name, stoken, "
     "  stoken_set_at, token_expires_at, token_status, token_error, token_status_at, "
     "  notification_url, notification_types, subscribed_at, takeover_mdm_info, takeover_at, "
     "  expiry_warned_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
     "  $15, $16, $17)",
     NULL},
    {"SELECT id, uid, digest, vn_iso(created_at), vn_iso(expires_at) FROM location_tokens "
     "ORDER BY id",
     "INSERT INTO location_tokens(id, uid, digest, created_at, expires_at) OVERRIDING SYSTEM "
     "VALUE VALUES ($1, $2, $3, $4, $5)",
     "SELECT setval(pg_get_serial_sequence('location_tokens', 'id'), coalesce(max(id), 0) + 1, "
     "  false) FROM location_tokens"},
    {"SELECT key, value FROM instance_config ORDER BY key",
     "INSERT INTO instance_config(key, value) VALUES ($1, $2)", NULL},
    {"SELECT notification_id, uid, notification_type, event_id, state, error, body, body_sha256, "
     "  body_length, vn_iso(received_at) FROM notifications ORDER BY notification_id",
     "INSERT INTO notifications(notification_id, uid, notification_type, event_id, state, error, "
     "  body, body_sha256, body_length, received_at) "
     "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
     NULL},
    {"SELECT notification_id, vn_iso(received_at), conflict FROM notification_repeats "
     "ORDER BY notification_id, received_at, conflict",
     "INSERT INTO notification_repeats(notification_id, received_at, conflict) "
     "VALUES ($1, $2, $3)",
     NULL},
    {"SELECT id, vn_iso(received_at), remote_addr, reason, body, body_length FROM quarantine "
     "ORDER BY id",
     "INSERT INTO quarantine(id, received_at, remote_addr, reason, body, body_length) "
     "OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6)",
     "SELECT setval(pg_get_serial_sequence('quarantine', 'id'), coalesce(max(id), 0) + 1, "
     "  false) FROM quarantine"},
    {"SELECT uid, adam_id, pricing_param, total_count, assigned_count, available_count, "
     "  needs_sync, vn_iso(updated_at), sync_gen, clock FROM assets "
     "ORDER BY uid, adam_id, pricing_param",
     "INSERT INTO assets(uid, adam_id, pricing_param, total_count, assigned_count, "
     "  available_count, needs_sync, updated_at, sync_gen, clock) "
     "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
     NULL},
    {"SELECT id, uid, adam_id, pricing_param, client_user_id, serial_number, sync_gen, "
     "  vn_iso(updated_at), clock, event_id FROM assignments ORDER BY id",
     "INSERT INTO assignments(id, uid, adam_id, pricing_param, client_user_id, serial_number, "
     "  sync_gen, updated_at, clock, event_id) OVERRIDING SYSTEM VALUE "
     "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
     "SELECT setval(pg_get_serial_sequence('assignments', 'id'), coalesce(max(id), 0) + 1, "
     "  false) FROM assignments"},
    {"SELECT uid, client_user_id, email, invite_code, id_hash, status, vn_iso(updated_at), "
     "  sync_gen, clock, event_id FROM users ORDER BY uid, client_user_id",
     "INSERT INTO users(uid, client_user_id, email, invite_code, id_hash, status, updated_at, "
     "  sync_gen, clock, event_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
     NULL},
    {"SELECT uid, adam_id, parent_adam_id, available_renewing, available_expiring, "
     "  total_renewing, total_expiring, vn_iso(updated_at), sync_gen, clock FROM subscriptions "
     "ORDER BY uid, adam_id",
     "INSERT INTO subscriptions(uid, adam_id, parent_adam_id, available_renewing, "
     "  available_expiring, total_renewing, total_expiring, updated_at, sync_gen, clock) "
     "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
     NULL},
    {"SELECT uid, adam_id, client_user_id, renewing, sync_gen, vn_iso(updated_at), clock, "
     "  event_id FROM subscription_assignments ORDER BY uid, adam_id, client_user_id",
     "INSERT INTO subscription_assignments(uid, adam_id, client_user_id, renewing, sync_gen, "
     "  updated_at, clock, event_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
     NULL},
    {"SELECT uid, assignments_version, users_version, vn_iso(last_full_at), "
     "  vn_iso(last_delta_at), vn_iso(last_attempt_at), last_kind, last_error, last_drift "
     "FROM location_sync ORDER BY uid",
     "INSERT INTO location_sync(uid, assignments_version, users_version, last_full_at, "
     "  last_delta_at, last_attempt_at, last_kind, last_error, last_drift) "
     "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
     NULL},
    {"SELECT event_id, uid, notification_type, type, notifications, succeeded, failed, "
     "  vn_iso(first_seen_at), vn_iso(last_seen_at) FROM events ORDER BY event_id",
     "INSERT INTO events(event_id, uid, notification_type, type, notifications, succeeded, "
     "  failed, first_seen_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
     NULL},
    {"SELECT event_id, error_number, error_message, count FROM event_errors "
     "ORDER BY event_id, error_number",
     "INSERT INTO event_errors(event_id, error_number, error_message, count) "
     "VALUES ($1, $2, $3, $4)",
     NULL},
    {"SELECT id, event_id, error_number, adam_id, pricing_param, client_user_id, serial_number "
     "FROM event_failed_items ORDER BY id",
     "INSERT INTO event_failed_items(id, event_id, error_number, adam_id, pricing_param, "
     "  client_user_id, serial_number) OVERRIDING SYSTEM VALUE "
     "VALUES ($1, $2, $3, $4, $5, $6, $7)",
     "SELECT setval(pg_get_serial_sequence('event_failed_items', 'id'), "
     "  coalesce(max(id), 0) + 1, false) FROM event_failed_items"},
    {"SELECT event_id, uid, kind, type, request, expected, deferred, vn_iso(requested_at), state, "
     "  status, num_requested, num_completed, failures, polls, vn_iso(last_poll_at), poll_error, "
     "  notifications_missing, stalled, vn_iso(stalled_at), resync, vn_iso(completed_at), "
     "  send_seq FROM event_tracking ORDER BY event_id",
     "INSERT INTO event_tracking(event_id, uid, kind, type, request, expected, deferred, "
     "  requested_at, state, status, num_requested, num_completed, failures, polls, "
     "  last_poll_at, poll_error, notifications_missing, stalled, stalled_at, resync, "
     "  completed_at, send_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
     "  $14, $15, $16, $17, $18, $19, $20, $21, $22)",
     NULL},
    {"SELECT id, name, scope, digest, shown, vn_iso(created_at), vn_iso(revoked_at) "
     "FROM api_keys ORDER BY id",
     "INSERT INTO api_keys(id, name, scope, digest, shown, created_at, revoked_at) "
     "OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6, $7)",
     "SELECT setval(pg_get_serial_sequence('api_keys', 'id'), coalesce(max(id), 0) + 1, "
     "  false) FROM api_keys"},
    {"SELECT seq, vn_iso(at), kind, op, uid, key, row FROM changes ORDER BY seq",
     "INSERT INTO changes(seq, at, kind, op, uid, key, row) "
     "VALUES ($1, $2, $3, $4, $5, $6, $7)",
     "SELECT setval(pg_get_serial_sequence('changes', 'seq'), coalesce(max(seq), 0) + 1, "
     "  false) FROM changes"},
    {"SELECT id, pruned_through, retention_ms FROM change_meta ORDER BY id",
     "INSERT INTO change_meta(id, pruned_through, retention_ms) VALUES ($1, $2, $3) "
     "ON CONFLICT (id) DO UPDATE SET pruned_through = excluded.pruned_through, "
     "  retention_ms = excluded.retention_ms",
     NULL},
    {"SELECT id, vn_iso(first_at), vn_iso(last_at), remote_addr, status, reason, claimed_uid, "
     "  token_uid, count FROM rejections ORDER BY id",
     "INSERT INTO rejections(id, first_at, last_at, remote_addr, status, reason, claimed_uid, "
     "  token_uid, count) OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
     "SELECT setval(pg_get_serial_sequence('rejections', 'id'), coalesce(max(id), 0) + 1, "
     "  false) FROM rejections"},
    {"SELECT id, url, kinds, secret, vn_iso(created_at), cursor, state, disabled_reason, "
     "  attempts, vn_iso(failing_since), vn_iso(next_attempt_at), vn_iso(last_attempt_at), "
     "  last_status, last_error, delivered FROM webhook_endpoints ORDER BY id",
     "INSERT INTO webhook_endpoints(id, url, kinds, secret, created_at, cursor, state, "
     "  disabled_reason, attempts, failing_since, next_attempt_at, last_attempt_at, "
     "  last_status, last_error, delivered) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
     "  $11, $12, $13, $14, $15)",
     "SELECT setval(pg_get_serial_sequence('webhook_endpoints', 'id'), "
     "  coalesce(max(id), 0) + 1, false) FROM webhook_endpoints"},
    {"SELECT id, endpoint_id, seq, message_id, type, attempt, vn_iso(at), status, ok, error, "
     "  duration_ms FROM webhook_deliveries ORDER BY id",
     "INSERT INTO webhook_deliveries(id, endpoint_id, seq, message_id, type, attempt, at, "
     "  status, ok, error, duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
     "SELECT setval(pg_get_serial_sequence('webhook_deliveries', 'id'), "
     "  coalesce(max(id), 0) + 1, false) FROM webhook_deliveries"},
    {"SELECT key_name, idem_key, request_hash, state, status, body, vn_iso(created_at) "
     "FROM api_idempotency ORDER BY key_name, idem_key",
     "INSERT INTO api_idempotency(key_name, idem_key, request_hash, state, status, body, "
     "  created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
     NULL},
    {"SELECT uid, tbl, adam_id, pricing_param, client_user_id, serial_number, event_id, clock, "
     "  vn_iso(deleted_at) FROM mirror_tombstones "
     "ORDER BY uid, tbl, adam_id, pricing_param, client_user_id, serial_number",
     "INSERT INTO mirror_tombstones(uid, tbl, adam_id, pricing_param, client_user_id, "
     "  serial_number, event_id, clock, deleted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
     "$9)",
     NULL},
    {"SELECT id, uid, tbl, adam_id, pricing_param, client_user_id, serial_number, reason, "
     "  vn_iso(created_at), attempts, last_error FROM mirror_verify ORDER BY id",
     "INSERT INTO mirror_verify(id, uid, tbl, adam_id, pricing_param, client_user_id, "
     "  serial_number, reason, created_at, attempts, last_error) OVERRIDING SYSTEM VALUE "
     "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
     "SELECT setval(pg_get_serial_sequence('mirror_verify', 'id'), coalesce(max(id), 0) + 1, "
     "  false) FROM mirror_verify"},
    {"SELECT id, value FROM writer_clock ORDER BY id",
     "INSERT INTO writer_clock(id, value) VALUES ($1, $2) "
     "ON CONFLICT (id) DO UPDATE SET value = excluded.value",
     NULL},
};

static int check_table(struct vn_store *st, size_t t)
{
    if (t >= vn__copy_table_count || t >= sizeof(sql) / sizeof(sql[0])) {
        vn__store_set_error(st, "no table %zu in the copy catalog", t);
        return VN_EPARSE;
    }
    return 0;
}

/* Hand one streamed row to cb: the callback's value, or < 0. */
static int one_row(struct vn__pg *s, size_t t, PGresult *res, vn__copy_row_cb cb, void *ud)
{
    const struct vn__copy_table *tab = &vn__copy_tables[t];
    struct vn__copy_value vals[VN__COPY_COLS_MAX] = {0};
    unsigned char *bytes[VN__COPY_COLS_MAX] = {0};
    int rc = 0;

    for (size_t k = 0; k < tab->n && !rc; k++) {
        const char *v = vn__pg_col(res, 0, (int)k);
        size_t n = 0;

        memset(&vals[k], 0, sizeof(vals[k]));
        if (!v) {
            vals[k].null = 1;
            continue;
        }
        switch (tab->types[k]) {
        case VN__C_INT:
            vals[k].i = strtoll(v, NULL, 10);
            break;
        case VN__C_BOOL:
            vals[k].i = *v == 't';
            break;
        case VN__C_BYTES:
            bytes[k] = PQunescapeBytea((const unsigned char *)v, &n);
            if (!bytes[k]) {
                vn__store_set_error(&s->base, "out of memory reading table %s", tab->name);
                rc = -ENOMEM;
            }
            vals[k].s = (const char *)bytes[k];
            vals[k].len = n;
            break;
        default:
            vals[k].s = v;
            vals[k].len = strlen(v);
            break;
        }
    }
    if (!rc)
        rc = cb(ud, t, vals);
    for (size_t k = 0; k < tab->n; k++)
        if (bytes[k])
            PQfreemem(bytes[k]);
    return rc;
}

int vn__pg_table_rows(struct vn_store *st, size_t t, vn__copy_row_cb cb, void *ud)
{
    struct vn__pg *s = vn__pg(st);
    PGresult *res;
    int rc = check_table(st, t), stop = 0;

    if (rc)
        return rc;
    if (!s->txn_ms && vn__pg_ensure(s) != 0)
        return VN_EUNAVAIL;
    rc = vn__pg_flush_pending(s);
    if (rc)
        return rc;
    if (!PQsendQueryParams(s->conn, sql[t].select, 0, NULL, NULL, NULL, NULL, 0) ||
        !PQsetSingleRowMode(s->conn))
        return vn__pg_fail(s, NULL);
    /* Every result is read to the end, even after the callback stopped: the connection is
     * then ready for the next statement. */
    while ((res = PQgetResult(s->conn))) {
        ExecStatusType status = PQresultStatus(res);

        if (status == PGRES_SINGLE_TUPLE && !stop && !rc) {
            stop = one_row(s, t, res, cb, ud);
            if (stop < 0) {
                rc = stop;
                stop = 0;
            }
        } else if (status != PGRES_SINGLE_TUPLE && status != PGRES_TUPLES_OK && !rc) {
            rc = vn__pg_fail(s, res);
        }
        PQclear(res);
    }
    return rc ? rc : stop;
}

int vn__pg_table_insert(struct vn_store *st, size_t t, const struct vn__copy_value *vals)
{
    struct vn__pg *s = vn__pg(st);
    const struct vn__copy_table *tab;
    struct vn__pg_args a = {0};
    int rc = check_table(st, t);

    if (rc)
        return rc;
    tab = &vn__copy_tables[t];
    for (size_t k = 0; k < tab->n; k++) {
        if (vals[k].null) {
            vn__pg_text(&a, NULL);
            continue;
        }
        switch (tab->types[k]) {
        case VN__C_INT:
            vn__pg_int(&a, vals[k].i);
            break;
        case VN__C_BOOL:
            vn__pg_bool(&a, vals[k].i != 0);
            break;
        case VN__C_BYTES:
            vn__pg_bytes(&a, vals[k].s, vals[k].len);
            break;
        default:
            /* Text arguments end at their NUL: a copy of a value that holds one would differ,
             * and the comparison after the copy says so. */
            vn__pg_text(&a, vals[k].s);
            break;
        }
    }
    return vn__pg_do(s, sql[t].insert, &a, NULL);
}

int vn__pg_table_loaded(struct vn_store *st, size_t t)
{
    static const char forget[] = "DELETE FROM change_dirty";
    int rc = check_table(st, t);

    if (!rc && sql[t].identity)
        rc = vn__pg_do(vn__pg(st), sql[t].identity, NULL, NULL);
    /* Once the change log is loaded, the marks the copy's own inserts left are forgotten:
     * they are no changes. */
    if (!rc && !strcmp(vn__copy_tables[t].name, "changes"))
        rc = vn__pg_do(vn__pg(st), forget, NULL, NULL);
    return rc;
}
