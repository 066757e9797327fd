/*
 * query.c - the PostgreSQL backend's reads: the token snapshot for authentication and the
 * CLI's queries, whose rows have the keys and types of vn__query_shapes (shape.c).
 *
 * Every query takes the same nine arguments, typed at prepare time so that a query may leave
 * some unused: $1 uid, $2 adamId, $3 clientUserId, $4 serialNumber, $5 eventId, $6 state,
 * $7 notificationType, $8 limit (NULL: none), $9 after (a row's cursor: the rows after it). Filters
 * read "($1 IS NULL OR uid = $1)", so an absent filter is a NULL argument and no SQL is assembled
 * at run time. Times come out in the store's ISO form (vn_iso), JSON values in jansson's compact
 * form, as SQLite gives them.
 */
#include "pg_impl.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* ---- tokens ---------------------------------------------------------------------------- */

int vn__pg_tokens_version(struct vn_store *st, int64_t *version)
{
    static const char sql[] = "SELECT version FROM token_epoch WHERE id = 1";
    struct vn__pg *s = vn__pg(st);
    PGresult *res = vn__pg_run(s, sql, NULL, NULL);

    if (!res)
        return s->stmt_rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        vn__store_set_error(st, "cannot read the token version: no row");
        return VN_ESTORE;
    }
    *version = vn__pg_col_ll(res, 0, 0);
    PQclear(res);
    return 0;
}

int vn__pg_tokens(struct vn_store *st, int64_t now_ms, vn_token_cb cb, void *ud)
{
    static const char sql[] = "SELECT uid, digest, vn_iso(expires_at) FROM location_tokens "
                              "WHERE expires_at IS NULL OR expires_at > $1 ORDER BY uid, id";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    struct vn_token_row row;
    PGresult *res;
    int rc = 0;

    vn__pg_time(&a, now_ms ? now_ms : 1);
    res = vn__pg_run(s, sql, &a, NULL);
    if (!res)
        return s->stmt_rc;
    for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
        size_t n = 0;
        int oom = 0;
        unsigned char *digest = vn__pg_col_bytes(res, i, 1, &n, &oom);

        if (oom) {
            rc = -ENOMEM;
            break;
        }
        if (n != VN_DIGEST_LEN) { /* the schema's CHECK forbids it; never hand out a short one */
            free(digest);
            continue;
        }
        row.uid = vn__pg_col(res, i, 0);
        row.digest = digest;
        row.expires_ms = vn__pg_col_time(res, i, 2);
        rc = cb(ud, &row);
        free(digest);
    }
    PQclear(res);
    return rc;
}

/* ---- queries --------------------------------------------------------------------------- */

#define FILTER_UID(col) "($1::text IS NULL OR " col " = $1) "
#define AFTER(i)        "($9::json ->> " #i ")"

/* Indexed by enum vn_query; columns in the order of vn__query_shapes, then, for a query that
 * pages, its sort key as a JSON array (the row's cursor; $9 continues after one). */
/* clang-format off */
static const char *const specs[] = {
    [VN_Q_ASSETS] =
        "SELECT uid, adam_id, pricing_param, total_count, assigned_count, available_count, "
        "  needs_sync, vn_iso(updated_at), "
        "  json_build_array(uid, length(adam_id), adam_id, pricing_param) FROM assets "
        "WHERE " FILTER_UID("uid") "AND ($2::text IS NULL OR adam_id = $2) "
        "  AND ($9::text IS NULL OR (uid, length(adam_id), adam_id, pricing_param) > "
        "    (" AFTER(0) ", " AFTER(1) "::int, " AFTER(2) ", " AFTER(3) ")) "
        "ORDER BY uid, length(adam_id), adam_id, pricing_param LIMIT $8",
    [VN_Q_ASSIGNMENTS] =
        "SELECT uid, adam_id, pricing_param, client_user_id, serial_number, vn_iso(updated_at), "
        "  json_build_array(uid, length(adam_id), adam_id, pricing_param, "
        "    coalesce(client_user_id, ''), coalesce(serial_number, '')) FROM assignments "
        "WHERE " FILTER_UID("uid") "AND ($2::text IS NULL OR adam_id = $2) "
        "  AND ($3::text IS NULL OR client_user_id = $3) "
        "  AND ($4::text IS NULL OR serial_number = $4) "
        "  AND ($9::text IS NULL OR (uid, length(adam_id), adam_id, pricing_param, "
        "    coalesce(client_user_id, ''), coalesce(serial_number, '')) > (" AFTER(0) ", "
        "    " AFTER(1) "::int, " AFTER(2) ", " AFTER(3) ", " AFTER(4) ", " AFTER(5) ")) "
        "ORDER BY uid, length(adam_id), adam_id, pricing_param, coalesce(client_user_id, ''), "
        "  coalesce(serial_number, '') LIMIT $8",
    [VN_Q_USERS] =
        "SELECT uid, client_user_id, email, invite_code, id_hash, status, vn_iso(updated_at), "
        "  json_build_array(uid, client_user_id) FROM users "
        "WHERE " FILTER_UID("uid") "AND ($3::text IS NULL OR client_user_id = $3) "
        "  AND ($9::text IS NULL OR (uid, client_user_id) > (" AFTER(0) ", " AFTER(1) ")) "
        "ORDER BY uid, client_user_id LIMIT $8",
    [VN_Q_SUBSCRIPTIONS] =
        "SELECT uid, adam_id, parent_adam_id, available_renewing, available_expiring, "
        "  total_renewing, total_expiring, vn_iso(updated_at), "
        "  json_build_array(uid, length(adam_id), adam_id) FROM subscriptions "
        "WHERE " FILTER_UID("uid") "AND ($2::text IS NULL OR adam_id = $2) "
        "  AND ($9::text IS NULL OR (uid, length(adam_id), adam_id) > "
        "    (" AFTER(0) ", " AFTER(1) "::int, " AFTER(2) ")) "
        "ORDER BY uid, length(adam_id), adam_id LIMIT $8",
    [VN_Q_SUBSCRIPTION_ASSIGNMENTS] =
        "SELECT uid, adam_id, client_user_id, renewing, vn_iso(updated_at), "
        "  json_build_array(uid, length(adam_id), adam_id, client_user_id) "
        "FROM subscription_assignments "
        "WHERE " FILTER_UID("uid") "AND ($2::text IS NULL OR adam_id = $2) "
        "  AND ($3::text IS NULL OR client_user_id = $3) "
        "  AND ($9::text IS NULL OR (uid, length(adam_id), adam_id, client_user_id) > "
        "    (" AFTER(0) ", " AFTER(1) "::int, " AFTER(2) ", " AFTER(3) ")) "
        "ORDER BY uid, length(adam_id), adam_id, client_user_id LIMIT $8",
    /* Events seen in notifications, events being tracked, or both (tracking columns are NULL,
     * so left out, for an event that is not tracked). */
    [VN_Q_EVENTS] =
        "SELECT ids.event_id, coalesce(e.uid, t.uid), "
        "  coalesce(e.notification_type, CASE t.kind WHEN 'assets' THEN 'ASSET_MANAGEMENT' "
        "    WHEN 'users' THEN 'USER_MANAGEMENT' WHEN 'subscriptions' "
        "    THEN 'SUBSCRIPTION_MANAGEMENT' END), "
        "  coalesce(e.type, t.type), coalesce(e.notifications, 0), coalesce(e.succeeded, 0), "
        "  coalesce(e.failed, 0), "
        "  coalesce((SELECT json_agg(json_build_object('errorNumber', r.error_number, "
        "     'errorMessage', r.error_message, 'count', r.count) ORDER BY r.error_number) "
        "   FROM event_errors AS r WHERE r.event_id = ids.event_id), '[]'::json), "
        "  CASE WHEN t.event_id IS NOT NULL THEN true END, vn_iso(t.requested_at), t.status, "
        "  t.num_requested, t.num_completed, t.expected, "
        "  CASE WHEN t.event_id IS NOT NULL THEN coalesce(e.succeeded, 0) + "
        "    coalesce(e.failed, 0) END, "
        "  t.failures, t.deferred, t.polls, vn_iso(t.last_poll_at), t.notifications_missing, "
        "  t.stalled, t.resync, vn_iso(t.completed_at), "
        "  json_build_array(vn_iso(coalesce(t.requested_at, e.first_seen_at)), ids.event_id) "
        "FROM (SELECT event_id FROM events UNION SELECT event_id FROM event_tracking) AS ids "
        "LEFT JOIN events AS e ON e.event_id = ids.event_id "
        "LEFT JOIN event_tracking AS t ON t.event_id = ids.event_id "
        "WHERE ($1::text IS NULL OR coalesce(e.uid, t.uid) = $1) "
        "  AND ($5::text IS NULL OR ids.event_id = $5) "
        "  AND ($7::text IS NULL OR coalesce(e.notification_type, CASE t.kind "
        "    WHEN 'assets' THEN 'ASSET_MANAGEMENT' WHEN 'users' THEN 'USER_MANAGEMENT' "
        "    WHEN 'subscriptions' THEN 'SUBSCRIPTION_MANAGEMENT' END) = $7) "
        "  AND ($9::text IS NULL OR (coalesce(t.requested_at, e.first_seen_at), ids.event_id) > "
        "    (" AFTER(0) "::timestamptz, " AFTER(1) ")) "
        "ORDER BY coalesce(t.requested_at, e.first_seen_at), ids.event_id LIMIT $8",
    [VN_Q_NOTIFICATIONS] =
        "SELECT n.notification_id, n.notification_type, n.uid, vn_iso(n.received_at), n.state, "
        "  coalesce(r.duplicates, 0), coalesce(r.conflicts, 0), "
        "  json_build_array(vn_iso(n.received_at), n.notification_id) "
        "FROM notifications AS n LEFT JOIN (SELECT notification_id, count(*) AS duplicates, "
        "  count(*) FILTER (WHERE conflict) AS conflicts FROM notification_repeats "
        "  GROUP BY notification_id) AS r ON r.notification_id = n.notification_id "
        "WHERE " FILTER_UID("n.uid") "AND ($6::text IS NULL OR n.state = $6) "
        "  AND ($7::text IS NULL OR n.notification_type = $7) "
        "  AND ($5::text IS NULL OR n.event_id = $5) "
        "  AND ($9::text IS NULL OR (n.received_at, n.notification_id) > "
        "    (" AFTER(0) "::timestamptz, " AFTER(1) ")) "
        "ORDER BY n.received_at, n.notification_id LIMIT $8",
    /* tokenStatus, worst first: revoked or expired (Apple said so, or expDate passed),
     * takeover (another MDM's mdmInfo seen), expiring (within 30 days), ok; NULL without an
     * sToken. */
    [VN_Q_LOCATIONS] =
        "SELECT l.uid, l.name, "
        "  (SELECT count(*) FROM location_tokens AS t WHERE t.uid = l.uid AND "
        "     (t.expires_at IS NULL OR t.expires_at > now())), "
        "  vn_iso(l.last_test_notification_at), l.org_name, "
        "  CASE WHEN l.stoken IS NULL THEN NULL "
        "    WHEN l.token_status IN ('revoked', 'expired') THEN l.token_status "
        "    WHEN l.token_expires_at <= now() THEN 'expired' "
        "    WHEN l.takeover_mdm_info IS NOT NULL THEN 'takeover' "
        "    WHEN l.token_expires_at <= now() + interval '30 days' THEN 'expiring' "
        "    ELSE 'ok' END, "
        "  vn_iso(l.token_expires_at), l.token_error, l.notification_url, l.notification_types, "
        "  vn_iso(l.subscribed_at), l.takeover_mdm_info, vn_iso(s.last_full_at), "
        "  vn_iso(s.last_delta_at), s.last_error, s.last_drift, json_build_array(l.uid) "
        "FROM locations AS l LEFT JOIN location_sync AS s ON s.uid = l.uid "
        "WHERE " FILTER_UID("l.uid") "AND ($9::text IS NULL OR l.uid > " AFTER(0) ") "
        "ORDER BY l.uid LIMIT $8",
    [VN_Q_QUARANTINE] =
        "SELECT id, vn_iso(received_at), remote_addr, reason, body_length FROM quarantine "
        "ORDER BY id LIMIT $8",
    [VN_Q_EVENT_FAILED_ITEMS] =
        "SELECT i.event_id, e.uid, i.error_number, i.adam_id, i.pricing_param, "
        "  i.client_user_id, i.serial_number "
        "FROM event_failed_items AS i JOIN events AS e ON e.event_id = i.event_id "
        "WHERE " FILTER_UID("e.uid") "AND ($5::text IS NULL OR i.event_id = $5) "
        "  AND ($2::text IS NULL OR i.adam_id = $2) "
        "  AND ($3::text IS NULL OR i.client_user_id = $3) "
        "  AND ($4::text IS NULL OR i.serial_number = $4) "
        "ORDER BY e.first_seen_at, i.event_id, i.id LIMIT $8",
    /* Keys not revoked first, then by name; "key" is the recognisable start of the key. */
    [VN_Q_API_KEYS] =
        "SELECT name, scope, shown || '...', vn_iso(created_at), vn_iso(revoked_at) "
        "FROM api_keys ORDER BY revoked_at IS NOT NULL, name, id LIMIT $8",
    [VN_Q_LEASES] =
        "SELECT name, holder, vn_iso(expires_at), vn_iso(taken_at) FROM leases "
        "ORDER BY name LIMIT $8",
    [VN_Q_WEBHOOKS] =
        "SELECT id, url, kinds, state, cursor, delivered, attempts, vn_iso(failing_since), "
        "  vn_iso(next_attempt_at), vn_iso(last_attempt_at), last_status, last_error, "
        "  disabled_reason, vn_iso(created_at) FROM webhook_endpoints "
        "WHERE ($10::text IS NULL OR id = $10::bigint) ORDER BY id LIMIT $8",
    /* Attempts, newest last; state "failed": the failed ones only. */
    [VN_Q_WEBHOOK_DELIVERIES] =
        "SELECT id, endpoint_id, seq, message_id, type, attempt, vn_iso(at), status, ok, "
        "  error, duration_ms FROM webhook_deliveries "
        "WHERE ($10::text IS NULL OR endpoint_id = $10::bigint) "
        "  AND ($6::text IS NULL OR ($6 = 'failed' AND NOT ok)) ORDER BY id LIMIT $8",
};
/* clang-format on */

/* A JSON text in jansson's compact form (as SQLite's json functions write it), owned; NULL
 * when v does not parse (then v is handed on as it is). */
static char *compact_json(const char *v)
{
    json_error_t je;
    json_t *j = json_loads(v, JSON_DECODE_ANY, &je);
    char *out;

    if (!j)
        return NULL;
    out = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    json_decref(j);
    return out;
}

int vn__pg_query(struct vn_store *st, enum vn_query q, const struct vn_filter *f, vn_row_cb cb,
                 void *ud)
{
    static const Oid types[] = {25, 25, 25, 25, 25,
                                25, 25, 20, 25, 25}; /* text x 7, int8, text x 2 */
    struct vn__pg *s = vn__pg(st);
    struct vn_value vals[VN__QUERY_COLS_MAX];
    char *json[VN__QUERY_COLS_MAX];
    const struct vn__query_shape *shape;
    struct vn__pg_args a = {0};
    struct vn_row row;
    PGresult *res;
    char *cursor;
    int rc = 0, has_cursor;

    if ((size_t)q >= sizeof(specs) / sizeof(specs[0]) || !specs[q] ||
        (size_t)q >= vn__query_count) {
        vn__store_set_error(st, "unknown query %d", (int)q);
        return VN_EPARSE;
    }
    shape = &vn__query_shapes[q];
    vn__pg_text(&a, f->uid);
    vn__pg_text(&a, f->adam_id);
    vn__pg_text(&a, f->client_user_id);
    vn__pg_text(&a, f->serial_number);
    vn__pg_text(&a, f->event_id);
    vn__pg_text(&a, f->state);
    vn__pg_text(&a, f->type_name);
    if (f->limit > 0)
        vn__pg_int(&a, f->limit);
    else
        vn__pg_text(&a, NULL);
    vn__pg_text(&a, f->after);
    vn__pg_text(&a, f->webhook);
    res = vn__pg_run_typed(s, specs[q], &a, types, NULL);
    if (!res)
        return s->stmt_rc;
    /* A query that pages has one more column: its sort key as a JSON array. */
    has_cursor = (size_t)PQnfields(res) == shape->n + 1;
    if ((size_t)PQnfields(res) != shape->n && !has_cursor) {
        PQclear(res);
        vn__store_set_error(st, "query %d returns %d columns, not %zu", (int)q, PQnfields(res),
                            shape->n);
        return VN_ESTORE;
    }
    row.n = shape->n;
    row.keys = shape->keys;
    row.vals = vals;
    for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
        memset(json, 0, sizeof(json));
        for (size_t k = 0; k < shape->n; k++) {
            const char *v = vn__pg_col(res, i, (int)k);

            memset(&vals[k], 0, sizeof(vals[k]));
            if (!v)
                continue; /* VN_V_NULL */
            vals[k].type = shape->types[k];
            switch (shape->types[k]) {
            case VN_V_INT:
                vals[k].i = strtoll(v, NULL, 10);
                break;
            case VN_V_BOOL:
                vals[k].i = *v == 't' || *v == '1';
                break;
            case VN_V_JSON:
                json[k] = compact_json(v);
                vals[k].s = json[k] ? json[k] : v;
                break;
            default:
                vals[k].s = v;
                break;
            }
        }
        cursor = has_cursor ? compact_json(PQgetvalue(res, i, (int)shape->n)) : NULL;
        row.cursor = cursor;
        rc = cb(ud, &row);
        free(cursor);
        for (size_t k = 0; k < shape->n; k++)
            free(json[k]);
    }
    PQclear(res);
    return rc;
}
