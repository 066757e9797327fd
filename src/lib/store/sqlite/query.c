/*
 * query.c - the SQLite backend's reads: the token snapshot for authentication and
 * the CLI's queries, whose rows are keyed by Apple's JSON names (contract.md section 4).
 *
 * Each query is one cached statement. Filters are named parameters written as
 * "(:uid IS NULL OR uid = :uid)", so an absent filter is a NULL binding and no SQL is ever
 * assembled at run time. The queries the API pages have one more column, the row's sort key
 * as a JSON array (struct vn_row's cursor), and an ":after" keyset condition on it. Orders are
 * stable: by the row's key, adamIds in numeric order (shorter decimal first), notifications and
 * events oldest first.
 */
#include "sqlite_impl.h"

#include <string.h>

/* ---- tokens ---------------------------------------------------------------------------- */

int vn__sq_tokens_version(struct vn_store *st_, int64_t *version)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;
    int rc;

    st = vn__sq_stmt(s, VN_SQ_TOKENS_VERSION, "SELECT version FROM token_epoch WHERE id = 1");
    if (!st)
        return s->stmt_rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *version = sqlite3_column_int64(st, 0);
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        vn__store_set_error(st_, "cannot read the token version: no row");
        rc = VN_ESTORE;
    } else {
        rc = vn__sq_fail(s, rc);
    }
    sqlite3_reset(st);
    return rc;
}

int vn__sq_tokens(struct vn_store *st_, int64_t now_ms, vn_token_cb cb, void *ud)
{
    struct vn__sqlite *s = vn__sq(st_);
    char now_iso[VN_TIME_ISO_LEN];
    struct vn_token_row row;
    sqlite3_stmt *st;
    int rc;

    /* Times are fixed-width ISO text, so comparing the text compares the instants. */
    st = vn__sq_stmt(s, VN_SQ_TOKENS,
                     "SELECT uid, digest, expires_at FROM location_tokens "
                     "WHERE expires_at IS NULL OR expires_at > ?1 ORDER BY uid, id");
    if (!st)
        return s->stmt_rc;
    vn_time_iso(now_ms, now_iso);
    sqlite3_bind_text(st, 1, now_iso, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *exp = (const char *)sqlite3_column_text(st, 2);

        if (sqlite3_column_bytes(st, 1) != VN_DIGEST_LEN)
            continue; /* the schema's CHECK forbids it; never hand out a short digest */
        row.uid = (const char *)sqlite3_column_text(st, 0);
        row.digest = sqlite3_column_blob(st, 1);
        row.expires_ms = 0;
        if (exp && vn_time_parse(exp, &row.expires_ms) != 0)
            continue;
        rc = cb(ud, &row);
        if (rc) {
            sqlite3_reset(st);
            return rc;
        }
    }
    rc = rc == SQLITE_DONE ? 0 : vn__sq_fail(s, rc);
    sqlite3_reset(st);
    return rc;
}

/* ---- queries --------------------------------------------------------------------------- */

struct qspec {
    enum vn__sq_slot slot;
    const char *sql; /* its columns are those of vn__query_shapes[q], then a cursor if it pages */
};

#define SPEC(slot, sql, name)                                                                      \
    {                                                                                              \
        slot, sql                                                                                  \
    }

/* Indexed by enum vn_query. */
/* clang-format off */
static const struct qspec specs[] = {
    [VN_Q_ASSETS] = SPEC(VN_SQ_Q_ASSETS,
        "SELECT uid, adam_id, pricing_param, total_count, assigned_count, available_count, "
        "  needs_sync, updated_at, json_array(uid, length(adam_id), adam_id, pricing_param) "
        "FROM assets "
        "WHERE (:uid IS NULL OR uid = :uid) AND (:adam_id IS NULL OR adam_id = :adam_id) "
        "  AND (:after IS NULL OR (uid, length(adam_id), adam_id, pricing_param) > "
        "    (:after ->> 0, :after ->> 1, :after ->> 2, :after ->> 3)) "
        "ORDER BY uid, length(adam_id), adam_id, pricing_param LIMIT :limit",
        assets),
    [VN_Q_ASSIGNMENTS] = SPEC(VN_SQ_Q_ASSIGNMENTS,
        "SELECT uid, adam_id, pricing_param, client_user_id, serial_number, updated_at, "
        "  json_array(uid, length(adam_id), adam_id, pricing_param, "
        "    coalesce(client_user_id, ''), coalesce(serial_number, '')) FROM assignments "
        "WHERE (:uid IS NULL OR uid = :uid) AND (:adam_id IS NULL OR adam_id = :adam_id) "
        "  AND (:client_user_id IS NULL OR client_user_id = :client_user_id) "
        "  AND (:serial_number IS NULL OR serial_number = :serial_number) "
        "  AND (:after IS NULL OR (uid, length(adam_id), adam_id, pricing_param, "
        "    coalesce(client_user_id, ''), coalesce(serial_number, '')) > (:after ->> 0, "
        "    :after ->> 1, :after ->> 2, :after ->> 3, :after ->> 4, :after ->> 5)) "
        "ORDER BY uid, length(adam_id), adam_id, pricing_param, coalesce(client_user_id, ''), "
        "  coalesce(serial_number, '') LIMIT :limit",
        assignments),
    [VN_Q_USERS] = SPEC(VN_SQ_Q_USERS,
        "SELECT uid, client_user_id, email, invite_code, id_hash, status, updated_at, "
        "  json_array(uid, client_user_id) FROM users "
        "WHERE (:uid IS NULL OR uid = :uid) "
        "  AND (:client_user_id IS NULL OR client_user_id = :client_user_id) "
        "  AND (:after IS NULL OR (uid, client_user_id) > (:after ->> 0, :after ->> 1)) "
        "ORDER BY uid, client_user_id LIMIT :limit",
        users),
    [VN_Q_SUBSCRIPTIONS] = SPEC(VN_SQ_Q_SUBSCRIPTIONS,
        "SELECT uid, adam_id, parent_adam_id, available_renewing, available_expiring, "
        "  total_renewing, total_expiring, updated_at, json_array(uid, length(adam_id), adam_id) "
        "FROM subscriptions "
        "WHERE (:uid IS NULL OR uid = :uid) AND (:adam_id IS NULL OR adam_id = :adam_id) "
        "  AND (:after IS NULL OR (uid, length(adam_id), adam_id) > "
        "    (:after ->> 0, :after ->> 1, :after ->> 2)) "
        "ORDER BY uid, length(adam_id), adam_id LIMIT :limit",
        subs),
    [VN_Q_SUBSCRIPTION_ASSIGNMENTS] = SPEC(VN_SQ_Q_SEATS,
        "SELECT uid, adam_id, client_user_id, renewing, updated_at, "
        "  json_array(uid, length(adam_id), adam_id, client_user_id) "
        "FROM subscription_assignments "
        "WHERE (:uid IS NULL OR uid = :uid) AND (:adam_id IS NULL OR adam_id = :adam_id) "
        "  AND (:client_user_id IS NULL OR client_user_id = :client_user_id) "
        "  AND (:after IS NULL OR (uid, length(adam_id), adam_id, client_user_id) > "
        "    (:after ->> 0, :after ->> 1, :after ->> 2, :after ->> 3)) "
        "ORDER BY uid, length(adam_id), adam_id, client_user_id LIMIT :limit",
        seats),
    /* Events seen in notifications, events being tracked, or both (tracking columns are
     * NULL, so left out, for an event that is not tracked). */
    [VN_Q_EVENTS] = SPEC(VN_SQ_Q_EVENTS,
        "SELECT ids.event_id, coalesce(e.uid, t.uid), "
        "  coalesce(e.notification_type, CASE t.kind WHEN 'assets' THEN 'ASSET_MANAGEMENT' "
        "    WHEN 'users' THEN 'USER_MANAGEMENT' WHEN 'subscriptions' "
        "    THEN 'SUBSCRIPTION_MANAGEMENT' END), "
        "  coalesce(e.type, t.type), coalesce(e.notifications, 0), coalesce(e.succeeded, 0), "
        "  coalesce(e.failed, 0), "
        "  (SELECT json_group_array(json_object('errorNumber', r.error_number, "
        "     'errorMessage', r.error_message, 'count', r.count)) "
        "   FROM (SELECT error_number, error_message, count FROM event_errors "
        "         WHERE event_id = ids.event_id ORDER BY error_number) AS r), "
        "  CASE WHEN t.event_id IS NOT NULL THEN 1 END, t.requested_at, t.status, "
        "  t.num_requested, t.num_completed, t.expected, "
        "  CASE WHEN t.event_id IS NOT NULL THEN coalesce(e.succeeded, 0) + "
        "    coalesce(e.failed, 0) END, "
        "  t.failures, t.deferred, t.polls, t.last_poll_at, t.notifications_missing, t.stalled, "
        "  t.resync, t.completed_at, "
        "  json_array(coalesce(t.requested_at, e.first_seen_at), ids.event_id) "
        "FROM (SELECT event_id FROM events UNION SELECT event_id FROM event_tracking) AS ids "
        "LEFT JOIN events AS e ON e.event_id = ids.event_id "
        "LEFT JOIN event_tracking AS t ON t.event_id = ids.event_id "
        "WHERE (:uid IS NULL OR coalesce(e.uid, t.uid) = :uid) "
        "  AND (:event_id IS NULL OR ids.event_id = :event_id) "
        "  AND (:type IS NULL OR coalesce(e.notification_type, CASE t.kind "
        "    WHEN 'assets' THEN 'ASSET_MANAGEMENT' WHEN 'users' THEN 'USER_MANAGEMENT' "
        "    WHEN 'subscriptions' THEN 'SUBSCRIPTION_MANAGEMENT' END) = :type) "
        "  AND (:after IS NULL OR (coalesce(t.requested_at, e.first_seen_at), ids.event_id) > "
        "    (:after ->> 0, :after ->> 1)) "
        "ORDER BY coalesce(t.requested_at, e.first_seen_at), ids.event_id LIMIT :limit",
        events),
    [VN_Q_NOTIFICATIONS] = SPEC(VN_SQ_Q_NOTIFICATIONS,
        "SELECT n.notification_id, n.notification_type, n.uid, n.received_at, n.state, "
        "  coalesce(r.duplicates, 0), coalesce(r.conflicts, 0), "
        "  json_array(n.received_at, n.notification_id) "
        "FROM notifications AS n LEFT JOIN (SELECT notification_id, count(*) AS duplicates, "
        "  sum(conflict) AS conflicts FROM notification_repeats GROUP BY notification_id) AS r "
        "  ON r.notification_id = n.notification_id "
        "WHERE (:uid IS NULL OR n.uid = :uid) AND (:state IS NULL OR n.state = :state) "
        "  AND (:type IS NULL OR n.notification_type = :type) "
        "  AND (:event_id IS NULL OR n.event_id = :event_id) "
        "  AND (:after IS NULL OR (n.received_at, n.notification_id) > "
        "    (:after ->> 0, :after ->> 1)) "
        "ORDER BY n.received_at, n.notification_id LIMIT :limit",
        notifications),
    /* tokenStatus, worst first: revoked or expired (Apple said so, or expDate passed),
     * takeover (another MDM's mdmInfo seen), expiring (within 30 days), ok; NULL without an
     * sToken. */
    [VN_Q_LOCATIONS] = SPEC(VN_SQ_Q_LOCATIONS,
        "SELECT l.uid, l.name, "
        "  (SELECT count(*) FROM location_tokens AS t WHERE t.uid = l.uid AND "
        "     (t.expires_at IS NULL OR t.expires_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))), "
        "  l.last_test_notification_at, l.org_name, "
        "  CASE WHEN l.stoken IS NULL THEN NULL "
        "    WHEN l.token_status IN ('revoked', 'expired') THEN l.token_status "
        "    WHEN l.token_expires_at <= strftime('%Y-%m-%dT%H:%M:%fZ', 'now') THEN 'expired' "
        "    WHEN l.takeover_mdm_info IS NOT NULL THEN 'takeover' "
        "    WHEN l.token_expires_at <= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+30 days') "
        "      THEN 'expiring' "
        "    ELSE 'ok' END, "
        "  l.token_expires_at, l.token_error, l.notification_url, l.notification_types, "
        "  l.subscribed_at, l.takeover_mdm_info, s.last_full_at, s.last_delta_at, s.last_error, "
        "  s.last_drift, json_array(l.uid) "
        "FROM locations AS l LEFT JOIN location_sync AS s ON s.uid = l.uid "
        "WHERE (:uid IS NULL OR l.uid = :uid) AND (:after IS NULL OR l.uid > :after ->> 0) "
        "ORDER BY l.uid LIMIT :limit",
        locations),
    [VN_Q_QUARANTINE] = SPEC(VN_SQ_Q_QUARANTINE,
        "SELECT id, received_at, remote_addr, reason, body_length FROM quarantine "
        "ORDER BY id LIMIT :limit",
        quarantine),
    [VN_Q_EVENT_FAILED_ITEMS] = SPEC(VN_SQ_Q_FAILED_ITEMS,
        "SELECT i.event_id, e.uid, i.error_number, i.adam_id, i.pricing_param, "
        "  i.client_user_id, i.serial_number "
        "FROM event_failed_items AS i JOIN events AS e ON e.event_id = i.event_id "
        "WHERE (:uid IS NULL OR e.uid = :uid) AND (:event_id IS NULL OR i.event_id = :event_id) "
        "  AND (:adam_id IS NULL OR i.adam_id = :adam_id) "
        "  AND (:client_user_id IS NULL OR i.client_user_id = :client_user_id) "
        "  AND (:serial_number IS NULL OR i.serial_number = :serial_number) "
        "ORDER BY e.first_seen_at, i.event_id, i.id LIMIT :limit",
        failed_items),
    /* Keys not revoked first, then by name; "key" is the recognisable start of the key. */
    [VN_Q_API_KEYS] = SPEC(VN_SQ_Q_API_KEYS,
        "SELECT name, scope, shown || '...', created_at, revoked_at FROM api_keys "
        "ORDER BY revoked_at IS NOT NULL, name, id LIMIT :limit",
        api_keys),
    [VN_Q_LEASES] = SPEC(VN_SQ_Q_LEASES,
        "SELECT name, holder, expires_at, taken_at FROM leases ORDER BY name LIMIT :limit",
        leases),
    [VN_Q_WEBHOOKS] = SPEC(VN_SQ_Q_WEBHOOKS,
        "SELECT id, url, kinds, state, cursor, delivered, attempts, failing_since, "
        "  next_attempt_at, last_attempt_at, last_status, last_error, disabled_reason, "
        "  created_at FROM webhook_endpoints "
        "WHERE (:webhook IS NULL OR id = CAST(:webhook AS INTEGER)) ORDER BY id LIMIT :limit",
        webhooks),
    /* Attempts, newest last; state "failed": the failed ones only. */
    [VN_Q_WEBHOOK_DELIVERIES] = SPEC(VN_SQ_Q_WEBHOOK_DELIVERIES,
        "SELECT id, endpoint_id, seq, message_id, type, attempt, at, status, ok, error, "
        "  duration_ms FROM webhook_deliveries "
        "WHERE (:webhook IS NULL OR endpoint_id = CAST(:webhook AS INTEGER)) "
        "  AND (:state IS NULL OR (:state = 'failed' AND ok = 0)) ORDER BY id LIMIT :limit",
        deliveries),
};
/* clang-format on */

/* Bind a filter value to the named parameter if this query has it. */
static void bind_named(sqlite3_stmt *st, const char *name, const char *v)
{
    int i = sqlite3_bind_parameter_index(st, name);

    if (i > 0)
        vn__sq_text(st, i, v);
}

int vn__sq_query(struct vn_store *st_, enum vn_query q, const struct vn_filter *f, vn_row_cb cb,
                 void *ud)
{
    struct vn__sqlite *s = vn__sq(st_);
    struct vn_value vals[VN__QUERY_COLS_MAX];
    const struct vn__query_shape *shape;
    struct vn_row row;
    const struct qspec *spec;
    sqlite3_stmt *st;
    size_t k;
    int rc, i, has_cursor;

    if ((size_t)q >= sizeof(specs) / sizeof(specs[0]) || !specs[q].sql ||
        (size_t)q >= vn__query_count) {
        vn__store_set_error(st_, "unknown query %d", (int)q);
        return VN_EPARSE;
    }
    spec = &specs[q];
    shape = &vn__query_shapes[q];
    st = vn__sq_stmt(s, spec->slot, spec->sql);
    if (!st)
        return s->stmt_rc;
    bind_named(st, ":uid", f->uid);
    bind_named(st, ":adam_id", f->adam_id);
    bind_named(st, ":client_user_id", f->client_user_id);
    bind_named(st, ":serial_number", f->serial_number);
    bind_named(st, ":event_id", f->event_id);
    bind_named(st, ":state", f->state);
    bind_named(st, ":type", f->type_name);
    bind_named(st, ":after", f->after);
    bind_named(st, ":webhook", f->webhook);
    i = sqlite3_bind_parameter_index(st, ":limit");
    if (i > 0)
        sqlite3_bind_int64(st, i, f->limit > 0 ? f->limit : -1);

    row.n = shape->n;
    row.keys = shape->keys;
    row.vals = vals;
    /* A query that pages has one more column: its sort key as a JSON array. */
    has_cursor = sqlite3_column_count(st) > (int)shape->n;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (k = 0; k < shape->n; k++) {
            memset(&vals[k], 0, sizeof(vals[k]));
            if (sqlite3_column_type(st, (int)k) == SQLITE_NULL)
                continue; /* VN_V_NULL */
            vals[k].type = shape->types[k];
            if (shape->types[k] == VN_V_INT || shape->types[k] == VN_V_BOOL) {
                vals[k].i = sqlite3_column_int64(st, (int)k);
                if (shape->types[k] == VN_V_BOOL)
                    vals[k].i = vals[k].i != 0;
            } else {
                vals[k].s = (const char *)sqlite3_column_text(st, (int)k);
            }
        }
        row.cursor = has_cursor ? (const char *)sqlite3_column_text(st, (int)shape->n) : NULL;
        rc = cb(ud, &row);
        if (rc) {
            sqlite3_reset(st);
            return rc;
        }
    }
    rc = rc == SQLITE_DONE ? 0 : vn__sq_fail(s, rc);
    sqlite3_reset(st);
    return rc;
}
