/*
 * api.c - the PostgreSQL backend's part of the integration API's tables (store.h, section "the
 * integration API's tables"): API keys and the change log (webhook endpoints and
 * Idempotency-Key: webhook.c). The same design as the SQLite
 * backend's api.c: row triggers (migration 3) mark each key a write touches in change_dirty;
 * at commit, before COMMIT, vn__pg_changes_flush renders every marked key as the read queries
 * show it into changes and empties change_dirty, in the same transaction.
 *
 * Several instances: every write that marks a change takes the schema's writer lock first
 * (pg.c, lazily) and holds it to COMMIT, and only a transaction holding it flushes, so
 * transactions that log changes commit one after the other and the seq values one flush takes
 * (an identity) grow in commit order: a reader that has read up to N never later finds a
 * committed change <= N. A rolled-back flush leaves a gap in the numbers, never a reuse.
 */
#include "pg_impl.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* ---- API keys ------------------------------------------------------------------------- */

static int api_key_add(struct vn_store *st, const char *name, const char *scope,
                       const uint8_t digest[VN_DIGEST_LEN], const char *shown, int64_t now_ms)
{
    /* The partial unique index on active names (and the unique digest) decide VN_EDUP. */
    static const char sql[] = "INSERT INTO api_keys(name, scope, digest, shown, created_at) "
                              "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    long long changed = 0;
    int rc;

    rc = st->ops->begin(st);
    if (rc)
        return rc;
    vn__pg_text(&a, name);
    vn__pg_text(&a, scope);
    vn__pg_bytes(&a, digest, VN_DIGEST_LEN);
    vn__pg_text(&a, shown);
    vn__pg_time(&a, now_ms ? now_ms : 1);
    rc = vn__pg_do(s, sql, &a, &changed);
    if (!rc && changed == 0) {
        vn__store_set_error(st, "an API key named '%s' exists already", name);
        rc = VN_EDUP;
    }
    return vn__pg_finish(s, rc);
}

static int api_key_revoke(struct vn_store *st, const char *name, int64_t now_ms)
{
    static const char sql[] =
        "UPDATE api_keys SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    long long changed = 0;
    int rc;

    rc = st->ops->begin(st);
    if (rc)
        return rc;
    vn__pg_text(&a, name);
    vn__pg_time(&a, now_ms ? now_ms : 1);
    rc = vn__pg_do(s, sql, &a, &changed);
    if (!rc && changed == 0) {
        vn__store_set_error(st, "no API key named '%s' (see 'vppnotify api-key list')", name);
        rc = VN_ENOTFOUND;
    }
    return vn__pg_finish(s, rc);
}

static int api_keys(struct vn_store *st, vn_api_key_cb cb, void *ud)
{
    static const char sql[] =
        "SELECT name, scope, digest FROM api_keys WHERE revoked_at IS NULL ORDER BY id";
    struct vn__pg *s = vn__pg(st);
    struct vn_api_key_row row;
    PGresult *res = vn__pg_run(s, sql, NULL, NULL);
    int rc = 0;

    if (!res)
        return s->stmt_rc;
    for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
        size_t n = 0;
        int oom = 0;
        unsigned char *digest = vn__pg_col_bytes(res, i, 2, &n, &oom);

        if (oom) {
            rc = -ENOMEM;
            break;
        }
        if (n == VN_DIGEST_LEN) { /* the schema's CHECK forbids another; never hand one out */
            row.name = vn__pg_col(res, i, 0);
            row.scope = vn__pg_col(res, i, 1);
            row.digest = digest;
            rc = cb(ud, &row);
        }
        free(digest);
    }
    PQclear(res);
    return rc;
}

static int api_keys_version(struct vn_store *st, int64_t *version)
{
    static const char sql[] = "SELECT version FROM api_key_epoch WHERE id = 1";
    struct vn__pg *s = vn__pg(st);
    PGresult *res = vn__pg_run(s, sql, NULL, NULL);

    if (!res)
        return s->stmt_rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        vn__store_set_error(st, "cannot read the API key version: no row");
        return VN_ESTORE;
    }
    *version = vn__pg_col_ll(res, 0, 0);
    PQclear(res);
    return 0;
}

/* ---- the change log: flush at commit --------------------------------------------------- */

/* $1 is the commit's time, $2 the largest seq before this flush (for the lifecycle step). */
#define OP(present)                                                                                \
    "CASE WHEN " present " IS NULL THEN 'delete' WHEN d.existed THEN 'update' ELSE 'insert' END"
#define INSERT_CHANGE "INSERT INTO changes(at, kind, op, uid, key, row) "

/* The kinds marked in change_dirty, as bits (an unknown kind sets them all), and the largest
 * seq before this flush: only the marked kinds' renders run (flush_kinds). */
#define MARKED_KINDS                                                                               \
    "SELECT coalesce((SELECT bit_or(CASE kind WHEN 'asset' THEN 1 WHEN 'assignment' THEN 2 "       \
    "    WHEN 'user' THEN 4 WHEN 'subscription' THEN 8 WHEN 'subscriptionAssignment' THEN 16 "     \
    "    WHEN 'event' THEN CASE WHEN lifecycle IS NULL THEN 32 ELSE 96 END "                       \
    "    WHEN 'location' THEN 128 ELSE 255 END) FROM change_dirty), 0), "                          \
    "  coalesce((SELECT max(seq) FROM changes), 0)"

/* The kind bit of each render below (MARKED_KINDS). */
static const int render_kinds[] = {1, 2, 2, 4, 8, 16, 32, 64, 128};

/* One statement per kind, rows as the read queries show them (query.c), in key order. */
/* clang-format off */
static const char *const renders[] = {
    INSERT_CHANGE "SELECT $1::timestamptz, 'asset', " OP("a.uid") ", d.uid, "
    "  json_build_object('uId', d.uid, 'adamId', d.k1, 'pricingParam', d.k2), "
    "  CASE WHEN a.uid IS NOT NULL THEN json_build_object('uId', a.uid, 'adamId', a.adam_id, "
    "    'pricingParam', a.pricing_param, 'totalCount', a.total_count, "
    "    'assignedCount', a.assigned_count, 'availableCount', a.available_count, "
    "    'needsSync', a.needs_sync, 'updatedAt', vn_iso(a.updated_at)) END "
    "FROM change_dirty AS d LEFT JOIN assets AS a "
    "  ON a.uid = d.uid AND a.adam_id = d.k1 AND a.pricing_param = d.k2 "
    "WHERE d.kind = 'asset' AND (a.uid IS NOT NULL OR d.existed) "
    "ORDER BY d.uid, length(d.k1), d.k1, d.k2",

    INSERT_CHANGE "SELECT $1::timestamptz, 'assignment', " OP("a.uid") ", d.uid, "
    "  json_build_object('uId', d.uid, 'adamId', d.k1, 'pricingParam', d.k2, "
    "    'clientUserId', d.k3), "
    "  CASE WHEN a.uid IS NOT NULL THEN json_build_object('uId', a.uid, 'adamId', a.adam_id, "
    "    'pricingParam', a.pricing_param, 'clientUserId', a.client_user_id, "
    "    'updatedAt', vn_iso(a.updated_at)) END "
    "FROM change_dirty AS d LEFT JOIN assignments AS a ON a.uid = d.uid AND a.adam_id = d.k1 "
    "  AND a.pricing_param = d.k2 AND a.client_user_id = d.k3 "
    "WHERE d.kind = 'assignment' AND d.k3 <> '' AND (a.uid IS NOT NULL OR d.existed) "
    "ORDER BY d.uid, length(d.k1), d.k1, d.k2, d.k3",

    INSERT_CHANGE "SELECT $1::timestamptz, 'assignment', " OP("a.uid") ", d.uid, "
    "  json_build_object('uId', d.uid, 'adamId', d.k1, 'pricingParam', d.k2, "
    "    'serialNumber', d.k4), "
    "  CASE WHEN a.uid IS NOT NULL THEN json_build_object('uId', a.uid, 'adamId', a.adam_id, "
    "    'pricingParam', a.pricing_param, 'serialNumber', a.serial_number, "
    "    'updatedAt', vn_iso(a.updated_at)) END "
    "FROM change_dirty AS d LEFT JOIN assignments AS a ON a.uid = d.uid AND a.adam_id = d.k1 "
    "  AND a.pricing_param = d.k2 AND a.serial_number = d.k4 "
    "WHERE d.kind = 'assignment' AND d.k4 <> '' AND (a.uid IS NOT NULL OR d.existed) "
    "ORDER BY d.uid, length(d.k1), d.k1, d.k2, d.k4",

    INSERT_CHANGE "SELECT $1::timestamptz, 'user', " OP("u.uid") ", d.uid, "
    "  json_build_object('uId', d.uid, 'clientUserId', d.k1), "
    "  CASE WHEN u.uid IS NOT NULL THEN json_build_object('uId', u.uid, "
    "    'clientUserId', u.client_user_id, 'email', u.email, 'inviteCode', u.invite_code, "
    "    'idHash', u.id_hash, 'status', u.status, 'updatedAt', vn_iso(u.updated_at)) END "
    "FROM change_dirty AS d LEFT JOIN users AS u ON u.uid = d.uid AND u.client_user_id = d.k1 "
    "WHERE d.kind = 'user' AND (u.uid IS NOT NULL OR d.existed) ORDER BY d.uid, d.k1",

    INSERT_CHANGE "SELECT $1::timestamptz, 'subscription', " OP("x.uid") ", d.uid, "
    "  json_build_object('uId', d.uid, 'adamId', d.k1), "
    "  CASE WHEN x.uid IS NOT NULL THEN json_build_object('uId', x.uid, 'adamId', x.adam_id, "
    "    'parentAdamId', x.parent_adam_id, 'counts', json_build_object("
    "      'available', json_build_object('renewing', x.available_renewing, "
    "        'expiring', x.available_expiring), "
    "      'total', json_build_object('renewing', x.total_renewing, "
    "        'expiring', x.total_expiring)), "
    "    'updatedAt', vn_iso(x.updated_at)) END "
    "FROM change_dirty AS d LEFT JOIN subscriptions AS x ON x.uid = d.uid AND x.adam_id = d.k1 "
    "WHERE d.kind = 'subscription' AND (x.uid IS NOT NULL OR d.existed) "
    "ORDER BY d.uid, length(d.k1), d.k1",

    INSERT_CHANGE "SELECT $1::timestamptz, 'subscriptionAssignment', " OP("x.uid") ", d.uid, "
    "  json_build_object('uId', d.uid, 'adamId', d.k1, 'clientUserId', d.k2), "
    "  CASE WHEN x.uid IS NOT NULL THEN json_build_object('uId', x.uid, 'adamId', x.adam_id, "
    "    'clientUserId', x.client_user_id, 'renewing', x.renewing, "
    "    'updatedAt', vn_iso(x.updated_at)) END "
    "FROM change_dirty AS d LEFT JOIN subscription_assignments AS x "
    "  ON x.uid = d.uid AND x.adam_id = d.k1 AND x.client_user_id = d.k2 "
    "WHERE d.kind = 'subscriptionAssignment' AND (x.uid IS NOT NULL OR d.existed) "
    "ORDER BY d.uid, length(d.k1), d.k1, d.k2",

    /* Events as VN_Q_EVENTS shows them: the notification counters, the errors, the tracking
     * (left out for an event that is not tracked). */
    INSERT_CHANGE "SELECT $1::timestamptz, 'event', " OP("coalesce(e.event_id, t.event_id)") ", "
    "  coalesce(e.uid, t.uid), json_build_object('eventId', d.k1), "
    "  CASE WHEN coalesce(e.event_id, t.event_id) IS NOT NULL THEN json_build_object("
    "    'eventId', d.k1, 'uId', coalesce(e.uid, t.uid), "
    "    'notificationType', coalesce(e.notification_type, CASE t.kind "
    "      WHEN 'assets' THEN 'ASSET_MANAGEMENT' WHEN 'users' THEN 'USER_MANAGEMENT' "
    "      WHEN 'subscriptions' THEN 'SUBSCRIPTION_MANAGEMENT' END), "
    "    'type', coalesce(e.type, t.type), 'notifications', coalesce(e.notifications, 0), "
    "    'succeeded', coalesce(e.succeeded, 0), 'failed', coalesce(e.failed, 0), "
    "    'errors', coalesce((SELECT json_agg(json_build_object('errorNumber', r.error_number, "
    "      'errorMessage', r.error_message, 'count', r.count) ORDER BY r.error_number) "
    "      FROM event_errors AS r WHERE r.event_id = d.k1), '[]'::json), "
    "    'tracked', CASE WHEN t.event_id IS NOT NULL THEN true END, "
    "    'requestedAt', vn_iso(t.requested_at), 'status', t.status, "
    "    'numRequested', t.num_requested, 'numCompleted', t.num_completed, "
    "    'expectedItems', t.expected, 'notifiedItems', CASE WHEN t.event_id IS NOT NULL "
    "      THEN coalesce(e.succeeded, 0) + coalesce(e.failed, 0) END, "
    "    'failures', t.failures, 'deferred', t.deferred, 'polls', t.polls, "
    "    'lastPollAt', vn_iso(t.last_poll_at), 'notificationsMissing', t.notifications_missing, "
    "    'stalled', t.stalled, 'resync', t.resync, 'completedAt', vn_iso(t.completed_at)) END "
    "FROM change_dirty AS d LEFT JOIN events AS e ON e.event_id = d.k1 "
    "  LEFT JOIN event_tracking AS t ON t.event_id = d.k1 "
    "WHERE d.kind = 'event' AND (coalesce(e.event_id, t.event_id) IS NOT NULL OR d.existed) "
    "ORDER BY d.k1",

    /* An event whose tracking ended (completed, failed) or stalled in this transaction: one
     * more change, after its update, that says so (the webhooks' event.completed ...). */
    INSERT_CHANGE "SELECT $1::timestamptz, 'event', d.lifecycle, c.uid, c.key, c.row "
    "FROM change_dirty AS d JOIN changes AS c ON c.kind = 'event' "
    "  AND c.key::text = json_build_object('eventId', d.k1)::text AND c.seq > $2::bigint "
    "WHERE d.kind = 'event' AND d.lifecycle IS NOT NULL AND c.row IS NOT NULL ORDER BY d.k1",

    /* Locations as VN_Q_LOCATIONS shows them. */
    INSERT_CHANGE "SELECT $1::timestamptz, 'location', " OP("l.uid") ", d.uid, "
    "  json_build_object('uId', d.uid), "
    "  CASE WHEN l.uid IS NOT NULL THEN json_build_object('uId', l.uid, 'name', l.name, "
    "    'tokenCount', (SELECT count(*) FROM location_tokens AS t WHERE t.uid = l.uid AND "
    "      (t.expires_at IS NULL OR t.expires_at > now())), "
    "    'lastTestNotificationAt', vn_iso(l.last_test_notification_at), "
    "    'orgName', l.org_name, "
    "    'tokenStatus', CASE WHEN l.stoken IS NULL THEN NULL "
    "      WHEN l.token_status IN ('revoked', 'expired') THEN l.token_status "
    "      WHEN l.token_expires_at <= now() THEN 'expired' "
    "      WHEN l.takeover_mdm_info IS NOT NULL THEN 'takeover' "
    "      WHEN l.token_expires_at <= now() + interval '30 days' THEN 'expiring' "
    "      ELSE 'ok' END, "
    "    'tokenExpirationDate', vn_iso(l.token_expires_at), 'tokenError', l.token_error, "
    "    'notificationUrl', l.notification_url, 'notificationTypes', l.notification_types, "
    "    'subscribedAt', vn_iso(l.subscribed_at), 'takeover', l.takeover_mdm_info, "
    "    'lastFullSyncAt', vn_iso(s.last_full_at), 'lastDeltaSyncAt', vn_iso(s.last_delta_at), "
    "    'lastSyncError', s.last_error, 'lastSyncDrift', s.last_drift) END "
    "FROM change_dirty AS d LEFT JOIN locations AS l ON l.uid = d.uid "
    "  LEFT JOIN location_sync AS s ON s.uid = d.uid "
    "WHERE d.kind = 'location' AND (l.uid IS NOT NULL OR d.existed) ORDER BY d.uid",
};
/* clang-format on */
_Static_assert(sizeof(render_kinds) / sizeof(render_kinds[0]) ==
                   sizeof(renders) / sizeof(renders[0]),
               "a kind bit for every render");

#define PRUNE_EVERY_MS 60000
#define PRUNE_CHUNK    "10000"

/* Delete, in a bounded chunk, changes older than the retention (never the newest, never what
 * an active webhook endpoint has not delivered yet), and the webhook delivery log and the
 * Idempotency-Key answers as old. */
static int prune(struct vn__pg *s, int64_t now)
{
    static const char sql[] =
        "WITH old AS (SELECT seq FROM changes WHERE at < now() - "
        "    (SELECT retention_ms FROM change_meta WHERE id = 1) * interval '1 millisecond' "
        "    AND (SELECT retention_ms FROM change_meta WHERE id = 1) > 0 "
        "    AND seq < (SELECT max(seq) FROM changes) "
        "    AND seq <= coalesce((SELECT min(cursor) FROM webhook_endpoints "
        "      WHERE state = 'active'), seq) ORDER BY seq LIMIT " PRUNE_CHUNK "), "
        "  gone AS (DELETE FROM changes WHERE seq IN (SELECT seq FROM old) RETURNING seq) "
        "UPDATE change_meta SET pruned_through = (SELECT max(seq) FROM gone) "
        "WHERE id = 1 AND (SELECT max(seq) FROM gone) > pruned_through";
    static const char deliveries[] =
        "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries "
        "  WHERE at < now() - (SELECT retention_ms FROM change_meta WHERE id = 1) "
        "    * interval '1 millisecond' AND (SELECT retention_ms FROM change_meta WHERE id = 1) "
        "    > 0 ORDER BY id LIMIT " PRUNE_CHUNK ")";
    static const char idempotency[] =
        "DELETE FROM api_idempotency WHERE (key_name, idem_key) IN (SELECT key_name, idem_key "
        "  FROM api_idempotency WHERE created_at < now() - (SELECT retention_ms FROM "
        "    change_meta WHERE id = 1) * interval '1 millisecond' AND (SELECT retention_ms "
        "    FROM change_meta WHERE id = 1) > 0 LIMIT " PRUNE_CHUNK ")";
    int rc;

    s->changes_pruned_ms = now;
    rc = vn__pg_do(s, sql, NULL, NULL);
    if (!rc)
        rc = vn__pg_do(s, deliveries, NULL, NULL);
    if (!rc)
        rc = vn__pg_do(s, idempotency, NULL, NULL);
    return rc;
}

int vn__pg_changes_flush(struct vn__pg *s)
{
    static const char any[] = MARKED_KINDS;
    static const char last[] = "SELECT coalesce(max(seq), 0) FROM changes";
    static const char clear[] = "DELETE FROM change_dirty";
    static const Oid types[] = {25, 20};
    struct vn__pg_args a = {0};
    int64_t now, first;
    long long marked;
    PGresult *res;
    int rc;

    s->changes_seq = 0;
    res = vn__pg_run(s, any, NULL, NULL);
    if (!res)
        return s->stmt_rc;
    marked = vn__pg_col_ll(res, 0, 0);
    if (marked == 0) {
        PQclear(res);
        return 0;
    }
    first = vn__pg_col_ll(res, 0, 1);
    PQclear(res);
    now = vn_now_ms();
    vn__pg_time(&a, now);
    vn__pg_int(&a, first);
    /* The marked kinds' renders and the clearing go in one pipeline with the last seq's read
     * (exec.c): one round trip, a failure of any of them that statement's. a lives until then. */
    for (size_t i = 0; i < sizeof(renders) / sizeof(renders[0]); i++) {
        if (!(marked & render_kinds[i]))
            continue; /* nothing of that kind marked: the render would insert no row */
        rc = vn__pg_defer_args(s, renders[i], &a, types);
        if (rc)
            return rc;
    }
    rc = vn__pg_defer(s, clear);
    if (rc)
        return rc;
    res = vn__pg_run(s, last, NULL, NULL);
    if (!res) {
        s->npending = 0; /* what was not sent borrows a: never after this return */
        return s->stmt_rc;
    }
    s->changes_seq = vn__pg_col_ll(res, 0, 0);
    PQclear(res);
    if (s->changes_seq <= first)
        s->changes_seq = 0; /* marks that rendered nothing (a row came and went) */
    if (now - s->changes_pruned_ms >= PRUNE_EVERY_MS)
        rc = prune(s, now);
    return rc;
}

void vn__pg_changes_committed(struct vn__pg *s)
{
    int64_t seq = s->changes_seq;

    s->changes_seq = 0;
    if (seq > 0)
        vn__store_changes_committed(seq);
}

/* ---- the change log: reads ------------------------------------------------------------ */

/* A JSON text in jansson's compact form (as SQLite writes it), owned; NULL for NULL or when
 * it does not parse (then the caller hands on the text as it is). */
static char *compact(const char *v)
{
    json_error_t je;
    json_t *j;
    char *out;

    if (!v)
        return NULL;
    j = json_loads(v, JSON_DECODE_ANY, &je);
    if (!j)
        return NULL;
    out = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    json_decref(j);
    return out;
}

static int changes(struct vn_store *st, int64_t after, long long limit, vn_change_cb cb, void *ud)
{
    static const char sql[] = "SELECT seq, vn_iso(at), kind, op, uid, key, row FROM changes "
                              "WHERE seq > $1 ORDER BY seq LIMIT $2";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    struct vn_change c;
    PGresult *res;
    int rc = 0;

    vn__pg_int(&a, after);
    vn__pg_int(&a, limit > 0 ? limit : 1);
    res = vn__pg_run(s, sql, &a, NULL);
    if (!res)
        return s->stmt_rc;
    for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
        char *key = compact(vn__pg_col(res, i, 5)), *row = compact(vn__pg_col(res, i, 6));

        c.seq = vn__pg_col_ll(res, i, 0);
        c.at = vn__pg_col(res, i, 1);
        c.kind = vn__pg_col(res, i, 2);
        c.op = vn__pg_col(res, i, 3);
        c.uid = vn__pg_col(res, i, 4);
        c.key = key ? key : vn__pg_col(res, i, 5);
        c.row = row ? row : vn__pg_col(res, i, 6);
        rc = cb(ud, &c);
        free(key);
        free(row);
    }
    PQclear(res);
    return rc;
}

static int changes_head(struct vn_store *st, struct vn_changes_head *out)
{
    static const char sql[] = "SELECT coalesce((SELECT max(seq) FROM changes), 0), "
                              "  pruned_through, retention_ms FROM change_meta WHERE id = 1";
    struct vn__pg *s = vn__pg(st);
    PGresult *res;

    memset(out, 0, sizeof(*out));
    res = vn__pg_run(s, sql, NULL, NULL);
    if (!res)
        return s->stmt_rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        vn__store_set_error(st, "the change log has no change_meta row");
        return VN_ESTORE;
    }
    out->last_seq = vn__pg_col_ll(res, 0, 0);
    out->pruned_through = vn__pg_col_ll(res, 0, 1);
    out->retention_ms = vn__pg_col_ll(res, 0, 2);
    if (out->last_seq < out->pruned_through)
        out->last_seq = out->pruned_through;
    PQclear(res);
    return 0;
}

static int changes_set_retention(struct vn_store *st, int64_t retention_ms)
{
    static const char sql[] = "UPDATE change_meta SET retention_ms = $1 WHERE id = 1";
    struct vn__pg *s = vn__pg(st);
    struct vn__pg_args a = {0};
    int rc;

    rc = st->ops->begin(st);
    if (rc)
        return rc;
    vn__pg_int(&a, retention_ms);
    rc = vn__pg_do(s, sql, &a, NULL);
    return vn__pg_finish(s, rc);
}

const struct vn_store_api_ops vn__pg_api_ops = {
    .api_key_add = api_key_add,
    .api_key_revoke = api_key_revoke,
    .api_keys = api_keys,
    .api_keys_version = api_keys_version,
    .changes = changes,
    .changes_head = changes_head,
    .changes_set_retention = changes_set_retention,
    .webhook_add = vn__pg_webhook_add,
    .webhook_remove = vn__pg_webhook_remove,
    .webhooks = vn__pg_webhooks,
    .webhook_update = vn__pg_webhook_update,
    .webhook_redeliver = vn__pg_webhook_redeliver,
    .idempotency_get = vn__pg_idempotency_get,
    .idempotency_begin = vn__pg_idempotency_begin,
    .idempotency_finish = vn__pg_idempotency_finish,
};
