/*
 * api.c - the SQLite backend's part of the integration API's tables (store.h, section "the
 * integration API's tables"): API keys, the change log and webhook endpoints. Owned by the API;
 * kept apart from the store's files.
 *
 * The change log. Triggers (migration 7) mark each key a write touches in change_dirty, with
 * whether the row existed before the transaction touched it first. At commit, before COMMIT,
 * vn__sq_changes_flush renders every marked key as the read routes show it (one statement per
 * kind, the same JSON objects as the queries of query.c) into changes, and empties
 * change_dirty. So one transaction gives one change per key (its net effect: insert, update,
 * delete, or nothing when a row came and went), a job rolled back to its savepoint leaves no
 * mark, and a change exists exactly when its transaction committed. SQLite has one writer at a
 * time, so the INTEGER PRIMARY KEY seq grows in commit order; the newest row is never pruned,
 * so a seq is never reused.
 */
#include "sqlite_impl.h"

#include <stdlib.h>
#include <string.h>

/* ---- API keys ------------------------------------------------------------------------- */

static int api_key_add(struct vn_store *st_, const char *name, const char *scope,
                       const uint8_t digest[VN_DIGEST_LEN], const char *shown, int64_t now_ms)
{
    struct vn__sqlite *s = vn__sq(st_);
    char iso[VN_TIME_ISO_LEN];
    sqlite3_stmt *st;
    int rc, changed = 0;

    rc = st_->ops->begin(st_);
    if (rc)
        return rc;
    vn_time_iso(now_ms, iso);
    /* The partial unique index on active names (and the unique digest) decide VN_EDUP. */
    st = vn__sq_stmt(s, VN_SQ_API_KEY_ADD,
                     "INSERT INTO api_keys(name, scope, digest, shown, created_at) "
                     "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING");
    if (!st) {
        rc = s->stmt_rc;
        goto out;
    }
    vn__sq_text(st, 1, name);
    vn__sq_text(st, 2, scope);
    sqlite3_bind_blob(st, 3, digest, VN_DIGEST_LEN, SQLITE_STATIC);
    vn__sq_text(st, 4, shown);
    sqlite3_bind_text(st, 5, iso, -1, SQLITE_STATIC);
    rc = vn__sq_run(s, st, &changed);
    if (!rc && changed == 0) {
        vn__store_set_error(st_, "an API key named '%s' exists already", name);
        rc = VN_EDUP;
    }
out:
    if (rc) {
        vn__sq_abort(s);
        return rc;
    }
    return st_->ops->commit(st_);
}

static int api_key_revoke(struct vn_store *st_, const char *name, int64_t now_ms)
{
    struct vn__sqlite *s = vn__sq(st_);
    char iso[VN_TIME_ISO_LEN];
    sqlite3_stmt *st;
    int rc, changed = 0;

    rc = st_->ops->begin(st_);
    if (rc)
        return rc;
    vn_time_iso(now_ms, iso);
    st = vn__sq_stmt(s, VN_SQ_API_KEY_REVOKE,
                     "UPDATE api_keys SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL");
    if (!st) {
        rc = s->stmt_rc;
        goto out;
    }
    vn__sq_text(st, 1, name);
    sqlite3_bind_text(st, 2, iso, -1, SQLITE_STATIC);
    rc = vn__sq_run(s, st, &changed);
    if (!rc && changed == 0) {
        vn__store_set_error(st_, "no API key named '%s' (see 'vppnotify api-key list')", name);
        rc = VN_ENOTFOUND;
    }
out:
    if (rc) {
        vn__sq_abort(s);
        return rc;
    }
    return st_->ops->commit(st_);
}

static int api_keys(struct vn_store *st_, vn_api_key_cb cb, void *ud)
{
    struct vn__sqlite *s = vn__sq(st_);
    struct vn_api_key_row row;
    sqlite3_stmt *st;
    int rc;

    VN_SQ_STMT(st, s, VN_SQ_API_KEYS,
               "SELECT name, scope, digest FROM api_keys WHERE revoked_at IS NULL ORDER BY id");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 2) != VN_DIGEST_LEN)
            continue; /* the schema's CHECK forbids it; never hand out a short digest */
        row.name = (const char *)sqlite3_column_text(st, 0);
        row.scope = (const char *)sqlite3_column_text(st, 1);
        row.digest = sqlite3_column_blob(st, 2);
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

static int api_keys_version(struct vn_store *st_, int64_t *version)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;
    int rc;

    VN_SQ_STMT(st, s, VN_SQ_API_KEYS_VERSION, "SELECT version FROM api_key_epoch WHERE id = 1");
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *version = sqlite3_column_int64(st, 0);
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        vn__store_set_error(st_, "cannot read the API key version: no row");
        rc = VN_ESTORE;
    } else {
        rc = vn__sq_fail(s, rc);
    }
    sqlite3_reset(st);
    return rc;
}

/* ---- the change log: flush at commit --------------------------------------------------- */

/* JSON text columns, embedded as JSON when they are (else as the string: vn_value_json). */
#define JSONCOL(c) "CASE WHEN json_valid(" c ") THEN json(" c ") ELSE " c " END"
#define BOOL(c)                                                                                    \
    "CASE WHEN " c " IS NULL THEN NULL WHEN " c " THEN json('true') ELSE json('false') END"
#define OP(present)                                                                                \
    "CASE WHEN " present " IS NULL THEN 'delete' WHEN d.existed THEN 'update' ELSE 'insert' END"
#define INSERT_CHANGE "INSERT INTO changes(at, kind, op, uid, key, row) "

/* Each statement renders the marks of one kind (its `kind`, as change_dirty spells it); the
 * flush runs only those of the kinds marked in the transaction, in this order. */
static const struct {
    const char *kind;
    enum vn__sq_slot slot;
    const char *sql;
} renders[] = {
    {"asset", VN_SQ_CH_ASSETS,
     INSERT_CHANGE "SELECT :at, 'asset', " OP(
         "a.uid") ", d.uid, "
                  "  json_object('uId', d.uid, 'adamId', d.k1, 'pricingParam', d.k2), "
                  "  CASE WHEN a.uid IS NOT NULL THEN json_object('uId', a.uid, 'adamId', "
                  "a.adam_id, "
                  "    'pricingParam', a.pricing_param, 'totalCount', a.total_count, "
                  "    'assignedCount', a.assigned_count, 'availableCount', a.available_count, "
                  "    'needsSync', " BOOL(
                      "a.needs_sync") ", 'updatedAt', a.updated_at) END "
                                      "FROM change_dirty AS d LEFT JOIN assets AS a "
                                      "  ON a.uid = d.uid AND a.adam_id = d.k1 AND a.pricing_param "
                                      "= d.k2 "
                                      "WHERE d.kind = 'asset' AND (a.uid IS NOT NULL OR d.existed) "
                                      "ORDER BY d.uid, length(d.k1), d.k1, d.k2"},
    /* Two statements for assignments, so that each join uses its partial unique index. */
    {"assignment", VN_SQ_CH_ASSIGN_USER,
     INSERT_CHANGE "SELECT :at, 'assignment', " OP(
         "a.uid") ", d.uid, "
                  "  json_object('uId', d.uid, 'adamId', d.k1, 'pricingParam', d.k2, "
                  "'clientUserId', d.k3), "
                  "  CASE WHEN a.uid IS NOT NULL THEN json_object('uId', a.uid, 'adamId', "
                  "a.adam_id, "
                  "    'pricingParam', a.pricing_param, 'clientUserId', a.client_user_id, "
                  "    'updatedAt', a.updated_at) END "
                  "FROM change_dirty AS d LEFT JOIN assignments AS a ON a.uid = d.uid AND "
                  "a.adam_id = d.k1 "
                  "  AND a.pricing_param = d.k2 AND a.client_user_id = d.k3 "
                  "WHERE d.kind = 'assignment' AND d.k3 <> '' AND (a.uid IS NOT NULL OR d.existed) "
                  "ORDER BY d.uid, length(d.k1), d.k1, d.k2, d.k3"},
    {"assignment", VN_SQ_CH_ASSIGN_DEVICE,
     INSERT_CHANGE "SELECT :at, 'assignment', " OP(
         "a.uid") ", d.uid, "
                  "  json_object('uId', d.uid, 'adamId', d.k1, 'pricingParam', d.k2, "
                  "'serialNumber', d.k4), "
                  "  CASE WHEN a.uid IS NOT NULL THEN json_object('uId', a.uid, 'adamId', "
                  "a.adam_id, "
                  "    'pricingParam', a.pricing_param, 'serialNumber', a.serial_number, "
                  "    'updatedAt', a.updated_at) END "
                  "FROM change_dirty AS d LEFT JOIN assignments AS a ON a.uid = d.uid AND "
                  "a.adam_id = d.k1 "
                  "  AND a.pricing_param = d.k2 AND a.serial_number = d.k4 "
                  "WHERE d.kind = 'assignment' AND d.k4 <> '' AND (a.uid IS NOT NULL OR d.existed) "
                  "ORDER BY d.uid, length(d.k1), d.k1, d.k2, d.k4"},
    {"user", VN_SQ_CH_USERS,
     INSERT_CHANGE "SELECT :at, 'user', " OP(
         "u.uid") ", d.uid, "
                  "  json_object('uId', d.uid, 'clientUserId', d.k1), "
                  "  CASE WHEN u.uid IS NOT NULL THEN json_object('uId', u.uid, "
                  "    'clientUserId', u.client_user_id, 'email', u.email, 'inviteCode', "
                  "u.invite_code, "
                  "    'idHash', u.id_hash, 'status', u.status, 'updatedAt', u.updated_at) END "
                  "FROM change_dirty AS d LEFT JOIN users AS u ON u.uid = d.uid AND "
                  "u.client_user_id = d.k1 "
                  "WHERE d.kind = 'user' AND (u.uid IS NOT NULL OR d.existed) ORDER BY d.uid, "
                  "d.k1"},
    {"subscription", VN_SQ_CH_SUBS,
     INSERT_CHANGE "SELECT :at, 'subscription', " OP(
         "x.uid") ", d.uid, "
                  "  json_object('uId', d.uid, 'adamId', d.k1), "
                  "  CASE WHEN x.uid IS NOT NULL THEN json_object('uId', x.uid, 'adamId', "
                  "x.adam_id, "
                  "    'parentAdamId', x.parent_adam_id, 'counts', json_object("
                  "      'available', json_object('renewing', x.available_renewing, "
                  "        'expiring', x.available_expiring), "
                  "      'total', json_object('renewing', x.total_renewing, 'expiring', "
                  "x.total_expiring)), "
                  "    'updatedAt', x.updated_at) END "
                  "FROM change_dirty AS d LEFT JOIN subscriptions AS x ON x.uid = d.uid AND "
                  "x.adam_id = d.k1 "
                  "WHERE d.kind = 'subscription' AND (x.uid IS NOT NULL OR d.existed) "
                  "ORDER BY d.uid, length(d.k1), d.k1"},
    {"subscriptionAssignment", VN_SQ_CH_SEATS,
     INSERT_CHANGE "SELECT :at, 'subscriptionAssignment', " OP(
         "x.uid") ", d.uid, "
                  "  json_object('uId', d.uid, 'adamId', d.k1, 'clientUserId', d.k2), "
                  "  CASE WHEN x.uid IS NOT NULL THEN json_object('uId', x.uid, 'adamId', "
                  "x.adam_id, "
                  "    'clientUserId', x.client_user_id, 'renewing', " BOOL(
                      "x.renewing") ", "
                                    "    'updatedAt', x.updated_at) END "
                                    "FROM change_dirty AS d LEFT JOIN subscription_assignments AS "
                                    "x "
                                    "  ON x.uid = d.uid AND x.adam_id = d.k1 AND x.client_user_id "
                                    "= d.k2 "
                                    "WHERE d.kind = 'subscriptionAssignment' AND (x.uid IS NOT "
                                    "NULL OR d.existed) "
                                    "ORDER BY d.uid, length(d.k1), d.k1, d.k2"},
    /* Events as VN_Q_EVENTS shows them: the notification counters, the errors, the tracking
     * (left out for an event that is not tracked). */
    {"event", VN_SQ_CH_EVENTS,
     INSERT_CHANGE "SELECT :at, 'event', " OP(
         "coalesce(e.event_id, t.event_id)") ", "
                                             "  coalesce(e.uid, t.uid), "
                                             "json_object('eventId', d.k1), "
                                             "  CASE WHEN coalesce(e.event_id, "
                                             "t.event_id) IS NOT NULL THEN "
                                             "json_object("
                                             "    'eventId', d.k1, 'uId', "
                                             "coalesce(e.uid, t.uid), "
                                             "    'notificationType', "
                                             "coalesce(e.notification_type, "
                                             "CASE "
                                             "t.kind "
                                             "      WHEN 'assets' THEN "
                                             "'ASSET_MANAGEMENT' WHEN 'users' "
                                             "THEN 'USER_MANAGEMENT' "
                                             "      WHEN 'subscriptions' THEN "
                                             "'SUBSCRIPTION_MANAGEMENT' END), "
                                             "    'type', coalesce(e.type, "
                                             "t.type), 'notifications', "
                                             "coalesce(e.notifications, 0), "
                                             "    'succeeded', "
                                             "coalesce(e.succeeded, 0), "
                                             "'failed', "
                                             "coalesce(e.failed, 0), "
                                             "    'errors', json((SELECT "
                                             "json_group_array(json_object('"
                                             "errorNumber', r.error_number, "
                                             "      'errorMessage', "
                                             "r.error_message, 'count', "
                                             "r.count)) "
                                             "      FROM (SELECT error_number, "
                                             "error_message, count FROM "
                                             "event_errors "
                                             "            WHERE event_id = "
                                             "d.k1 "
                                             "ORDER BY error_number) AS r)), "
                                             "    'tracked', CASE WHEN "
                                             "t.event_id "
                                             "IS NOT NULL THEN json('true') "
                                             "END, "
                                             "    'requestedAt', "
                                             "t.requested_at, "
                                             "'status', t.status, "
                                             "    'numRequested', "
                                             "t.num_requested, 'numCompleted', "
                                             "t.num_completed, "
                                             "    'expectedItems', t.expected, "
                                             "'notifiedItems', CASE WHEN "
                                             "t.event_id IS NOT NULL "
                                             "      THEN coalesce(e.succeeded, "
                                             "0) "
                                             "+ coalesce(e.failed, 0) END, "
                                             "    'failures', " JSONCOL(
                                                 "t."
                                                 "failures") ", "
                                                             "'deferred',"
                                                             " " BOOL(
                                                                 "t."
                                                                 "deferre"
                                                                 "d") ", "
                                                                      "   "
                                                                      " '"
                                                                      "pol"
                                                                      "ls'"
                                                                      ", "
                                                                      "t."
                                                                      "pol"
                                                                      "ls,"
                                                                      " "
                                                                      "'la"
                                                                      "stP"
                                                                      "oll"
                                                                      "At'"
                                                                      ", "
                                                                      "t."
                                                                      "las"
                                                                      "t_"
                                                                      "pol"
                                                                      "l_"
                                                                      "at,"
                                                                      " "
                                                                      "   "
                                                                      " "
                                                                      "'no"
                                                                      "tif"
                                                                      "ica"
                                                                      "tio"
                                                                      "nsM"
                                                                      "iss"
                                                                      "ing"
                                                                      "',"
                                                                      " " BOOL(
                                                                          "t."
                                                                          "notifications_"
                                                                          "missing") ", "
                                                                                     "   "
                                                                                     " '"
                                                                                     "sta"
                                                                                     "lle"
                                                                                     "d',"
                                                                                     " " BOOL(
                                                                                         "t."
                                                                                         "stalle"
                                                                                         "d") ","
                                                                                              " "
                                                                                              "'"
                                                                                              "r"
                                                                                              "e"
                                                                                              "s"
                                                                                              "y"
                                                                                              "n"
                                                                                              "c"
                                                                                              "'"
                                                                                              ","
                                                                                              " "
                                                                                              "t"
                                                                                              "."
                                                                                              "r"
                                                                                              "e"
                                                                                              "s"
                                                                                              "y"
                                                                                              "n"
                                                                                              "c"
                                                                                              ","
                                                                                              " "
                                                                                              " "
                                                                                              " "
                                                                                              " "
                                                                                              " "
                                                                                              "'"
                                                                                              "c"
                                                                                              "o"
                                                                                              "m"
                                                                                              "p"
                                                                                              "l"
                                                                                              "e"
                                                                                              "t"
                                                                                              "e"
                                                                                              "d"
                                                                                              "A"
                                                                                              "t"
                                                                                              "'"
                                                                                              ","
                                                                                              " "
                                                                                              "t"
                                                                                              "."
                                                                                              "c"
                                                                                              "o"
                                                                                              "m"
                                                                                              "p"
                                                                                              "l"
                                                                                              "e"
                                                                                              "t"
                                                                                              "e"
                                                                                              "d"
                                                                                              "_"
                                                                                              "a"
                                                                                              "t"
                                                                                              ")"
                                                                                              " "
                                                                                              "E"
                                                                                              "N"
                                                                                              "D"
                                                                                              " "
                                                                                              "F"
                                                                                              "R"
                                                                                              "O"
                                                                                              "M"
                                                                                              " "
                                                                                              "c"
                                                                                              "h"
                                                                                              "a"
                                                                                              "n"
                                                                                              "g"
                                                                                              "e"
                                                                                              "_"
                                                                                              "d"
                                                                                              "i"
                                                                                              "r"
                                                                                              "t"
                                                                                              "y"
                                                                                              " "
                                                                                              "A"
                                                                                              "S"
                                                                                              " "
                                                                                              "d"
                                                                                              " "
                                                                                              "L"
                                                                                              "E"
                                                                                              "F"
                                                                                              "T"
                                                                                              " "
                                                                                              "J"
                                                                                              "O"
                                                                                              "I"
                                                                                              "N"
                                                                                              " "
                                                                                              "e"
                                                                                              "v"
                                                                                              "e"
                                                                                              "n"
                                                                                              "t"
                                                                                              "s"
                                                                                              " "
                                                                                              "A"
                                                                                              "S"
                                                                                              " "
                                                                                              "e"
                                                                                              " "
                                                                                              "O"
                                                                                              "N"
                                                                                              " "
                                                                                              "e"
                                                                                              "."
                                                                                              "e"
                                                                                              "v"
                                                                                              "e"
                                                                                              "n"
                                                                                              "t"
                                                                                              "_"
                                                                                              "i"
                                                                                              "d"
                                                                                              " "
                                                                                              "="
                                                                                              " "
                                                                                              "d"
                                                                                              "."
                                                                                              "k"
                                                                                              "1"
                                                                                              " "
                                                                                              " "
                                                                                              " "
                                                                                              "L"
                                                                                              "E"
                                                                                              "F"
                                                                                              "T"
                                                                                              " "
                                                                                              "J"
                                                                                              "O"
                                                                                              "I"
                                                                                              "N"
                                                                                              " "
                                                                                              "e"
                                                                                              "v"
                                                                                              "e"
                                                                                              "n"
                                                                                              "t"
                                                                                              "_"
                                                                                              "t"
                                                                                              "r"
                                                                                              "a"
                                                                                              "c"
                                                                                              "k"
                                                                                              "i"
                                                                                              "n"
                                                                                              "g"
                                                                                              " "
                                                                                              "A"
                                                                                              "S"
                                                                                              " "
                                                                                              "t"
                                                                                              " "
                                                                                              "O"
                                                                                              "N"
                                                                                              " "
                                                                                              "t"
                                                                                              "."
                                                                                              "e"
                                                                                              "v"
                                                                                              "e"
                                                                                              "n"
                                                                                              "t"
                                                                                              "_"
                                                                                              "i"
                                                                                              "d"
                                                                                              " "
                                                                                              "="
                                                                                              " "
                                                                                              "d"
                                                                                              "."
                                                                                              "k"
                                                                                              "1"
                                                                                              " "
                                                                                              "W"
                                                                                              "H"
                                                                                              "E"
                                                                                              "R"
                                                                                              "E"
                                                                                              " "
                                                                                              "d"
                                                                                              "."
                                                                                              "k"
                                                                                              "i"
                                                                                              "n"
                                                                                              "d"
                                                                                              " "
                                                                                              "="
                                                                                              " "
                                                                                              "'"
                                                                                              "e"
                                                                                              "v"
                                                                                              "e"
                                                                                              "n"
                                                                                              "t"
                                                                                              "'"
                                                                                              " "
                                                                                              "A"
                                                                                              "N"
                                                                                              "D"
                                                                                              " "
                                                                                              "("
                                                                                              "c"
                                                                                              "o"
                                                                                              "a"
                                                                                              "l"
                                                                                              "e"
                                                                                              "s"
                                                                                              "c"
                                                                                              "e"
                                                                                              "("
                                                                                              "e"
                                                                                              "."
                                                                                              "e"
                                                                                              "v"
                                                                                              "e"
                                                                                              "n"
                                                                                              "t"
                                                                                              "_"
                                                                                              "i"
                                                                                              "d"
                                                                                              ","
                                                                                              " "
                                                                                              "t"
                                                                                              "."
                                                                                              "e"
                                                                                              "v"
                                                                                              "e"
                                                                                              "n"
                                                                                              "t"
                                                                                              "_"
                                                                                              "i"
                                                                                              "d"
                                                                                              ")"
                                                                                              " "
                                                                                              "I"
                                                                                              "S"
                                                                                              " "
                                                                                              "N"
                                                                                              "O"
                                                                                              "T"
                                                                                              " "
                                                                                              "N"
                                                                                              "U"
                                                                                              "L"
                                                                                              "L"
                                                                                              " "
                                                                                              "O"
                                                                                              "R"
                                                                                              " "
                                                                                              "d"
                                                                                              "."
                                                                                              "e"
                                                                                              "x"
                                                                                              "i"
                                                                                              "s"
                                                                                              "t"
                                                                                              "e"
                                                                                              "d"
                                                                                              ")"
                                                                                              " "
                                                                                              "O"
                                                                                              "R"
                                                                                              "D"
                                                                                              "E"
                                                                                              "R"
                                                                                              " "
                                                                                              "B"
                                                                                              "Y"
                                                                                              " "
                                                                                              "d"
                                                                                              "."
                                                                                              "k"
                                                                                              "1"},
    /* An event whose tracking ended (completed, failed) or stalled in this transaction: one
     * more change, after its update, that says so (the webhooks' event.completed ...). */
    {"event", VN_SQ_CH_LIFECYCLE,
     INSERT_CHANGE
     "SELECT :at, 'event', d.lifecycle, c.uid, c.key, c.row "
     "FROM change_dirty AS d JOIN changes AS c ON c.kind = 'event' "
     "  AND c.key = json_object('eventId', d.k1) AND c.seq > :first "
     "WHERE d.kind = 'event' AND d.lifecycle IS NOT NULL AND c.row IS NOT NULL ORDER BY d.k1"},
    /* Locations as VN_Q_LOCATIONS shows them. */
    {"location", VN_SQ_CH_LOCATIONS,
     INSERT_CHANGE "SELECT :at, 'location', " OP(
         "l.uid") ", d.uid, json_object('uId', d.uid), "
                  "  CASE WHEN l.uid IS NOT NULL THEN json_object('uId', l.uid, 'name', l.name, "
                  "    'tokenCount', (SELECT count(*) FROM location_tokens AS t WHERE t.uid = "
                  "l.uid AND "
                  "      (t.expires_at IS NULL OR t.expires_at > strftime('%Y-%m-%dT%H:%M:%fZ', "
                  "'now'))), "
                  "    'lastTestNotificationAt', l.last_test_notification_at, 'orgName', "
                  "l.org_name, "
                  "    'tokenStatus', CASE WHEN l.stoken IS NULL THEN NULL "
                  "      WHEN l.token_status IN ('revoked', 'expired') THEN l.token_status "
                  "      WHEN l.token_expires_at <= strftime('%Y-%m-%dT%H:%M:%fZ', 'now') THEN "
                  "'expired' "
                  "      WHEN l.takeover_mdm_info IS NOT NULL THEN 'takeover' "
                  "      WHEN l.token_expires_at <= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+30 "
                  "days') "
                  "        THEN 'expiring' "
                  "      ELSE 'ok' END, "
                  "    'tokenExpirationDate', l.token_expires_at, 'tokenError', l.token_error, "
                  "    'notificationUrl', l.notification_url, "
                  "    'notificationTypes', " JSONCOL(
                      "l.notification_types") ", "
                                              "    'subscribedAt', l.subscribed_at, "
                                              "'takeover', " JSONCOL(
                                                  "l.takeover_mdm_info") ", "
                                                                         "    'lastFullSyncAt', "
                                                                         "s.last_full_at, "
                                                                         "'lastDeltaSyncAt', "
                                                                         "s.last_delta_at, "
                                                                         "    'lastSyncError', "
                                                                         "s.last_error, "
                                                                         "'lastSyncDrift',"
                                                                         " " JSONCOL(
                                                                             "s.last_drift") ") "
                                                                                             "END "
                                                                                             "FROM "
                                                                                             "chang"
                                                                                             "e_"
                                                                                             "dirty"
                                                                                             " AS "
                                                                                             "d "
                                                                                             "LEFT "
                                                                                             "JOIN "
                                                                                             "locat"
                                                                                             "ions "
                                                                                             "AS l "
                                                                                             "ON "
                                                                                             "l."
                                                                                             "uid "
                                                                                             "= "
                                                                                             "d."
                                                                                             "uid "
                                                                                             "  "
                                                                                             "LEFT "
                                                                                             "JOIN "
                                                                                             "locat"
                                                                                             "ion_"
                                                                                             "sync "
                                                                                             "AS s "
                                                                                             "ON "
                                                                                             "s."
                                                                                             "uid "
                                                                                             "= "
                                                                                             "d."
                                                                                             "uid "
                                                                                             "WHERE"
                                                                                             " d."
                                                                                             "kind "
                                                                                             "= "
                                                                                             "'loca"
                                                                                             "tion'"
                                                                                             " AND "
                                                                                             "(l."
                                                                                             "uid "
                                                                                             "IS "
                                                                                             "NOT "
                                                                                             "NULL "
                                                                                             "OR "
                                                                                             "d."
                                                                                             "exist"
                                                                                             "ed) "
                                                                                             "ORDER"
                                                                                             " BY "
                                                                                             "d."
                                                                                             "uid"},
};

#define NRENDERS (sizeof(renders) / sizeof(renders[0]))

#define PRUNE_EVERY_MS 60000
#define PRUNE_CHUNK    10000

/* Delete, in a bounded chunk, changes older than the retention (never the newest). */
static int prune(struct vn__sqlite *s, int64_t now)
{
    char cutoff[VN_TIME_ISO_LEN];
    sqlite3_stmt *st;
    int64_t through = 0, retention = 0;
    int rc;

    s->changes_pruned_ms = now;
    VN_SQ_STMT(st, s, VN_SQ_CH_HEAD,
               "SELECT coalesce((SELECT max(seq) FROM changes), 0), pruned_through, "
               "  retention_ms FROM change_meta WHERE id = 1");
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        retention = sqlite3_column_int64(st, 2);
    rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : vn__sq_fail(s, rc);
    sqlite3_reset(st);
    if (rc || retention <= 0)
        return rc;
    vn_time_iso(now - retention, cutoff);
    /* Changes are in seq order and (nearly) in time order: the oldest ones are at the head. */
    /* Never what an active webhook endpoint has not delivered yet. */
    VN_SQ_STMT(st, s, VN_SQ_CH_PRUNE_MAX,
               "SELECT max(seq) FROM (SELECT seq FROM changes WHERE at < :cutoff "
               "  AND seq < (SELECT max(seq) FROM changes) "
               "  AND seq <= coalesce((SELECT min(cursor) FROM webhook_endpoints "
               "    WHERE state = 'active'), seq) ORDER BY seq LIMIT :chunk)");
    sqlite3_bind_text(st, 1, cutoff, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, PRUNE_CHUNK);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        through = sqlite3_column_int64(st, 0);
    rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : vn__sq_fail(s, rc);
    sqlite3_reset(st);
    if (rc)
        return rc;
    /* Answers kept for Idempotency-Key retries, as long as the changes. */
    VN_SQ_STMT(st, s, VN_SQ_IDEM_PRUNE,
               "DELETE FROM api_idempotency WHERE rowid IN (SELECT rowid FROM api_idempotency "
               "  WHERE created_at < ?1 LIMIT ?2)");
    sqlite3_bind_text(st, 1, cutoff, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, PRUNE_CHUNK);
    rc = vn__sq_done(s, st);
    if (rc)
        return rc;
    /* The webhook delivery log is kept as long as the changes. */
    VN_SQ_STMT(st, s, VN_SQ_WH_PRUNE_LOG,
               "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries "
               "  WHERE at < ?1 ORDER BY id LIMIT ?2)");
    sqlite3_bind_text(st, 1, cutoff, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, PRUNE_CHUNK);
    rc = vn__sq_done(s, st);
    if (rc || through <= 0)
        return rc;
    VN_SQ_STMT(st, s, VN_SQ_CH_PRUNE, "DELETE FROM changes WHERE seq <= ?1");
    sqlite3_bind_int64(st, 1, through);
    rc = vn__sq_done(s, st);
    if (rc)
        return rc;
    VN_SQ_STMT(st, s, VN_SQ_CH_PRUNED,
               "UPDATE change_meta SET pruned_through = ?1 WHERE id = 1 AND pruned_through < ?1");
    sqlite3_bind_int64(st, 1, through);
    return vn__sq_done(s, st);
}

int vn__sq_changes_flush(struct vn__sqlite *s)
{
    char at[VN_TIME_ISO_LEN];
    sqlite3_stmt *st;
    int64_t now, first;
    unsigned marked = 0;
    int rc;

    s->changes_seq = 0;
    /* The kinds marked in this transaction (a walk of the primary key's first column): a
     * statement whose kind has no mark is not run, which saves the most common commit, a
     * batch of notifications that changed assets only, seven of its nine statements. */
    VN_SQ_STMT(st, s, VN_SQ_CH_ANY, "SELECT DISTINCT kind FROM change_dirty");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *kind = (const char *)sqlite3_column_text(st, 0);
        for (size_t i = 0; kind && i < NRENDERS; i++)
            if (strcmp(renders[i].kind, kind) == 0)
                marked |= 1u << i;
    }
    rc = rc == SQLITE_DONE ? 0 : vn__sq_fail(s, rc);
    sqlite3_reset(st);
    if (rc || !marked)
        return rc;
    now = vn_now_ms();
    vn_time_iso(now, at);
    first = 0;
    for (size_t i = 0; i < NRENDERS; i++) {
        int k;
        if (!(marked & (1u << i)))
            continue;
        VN_SQ_STMT(st, s, renders[i].slot, renders[i].sql);
        if ((k = sqlite3_bind_parameter_index(st, ":at")) > 0)
            sqlite3_bind_text(st, k, at, -1, SQLITE_TRANSIENT);
        if ((k = sqlite3_bind_parameter_index(st, ":first")) > 0)
            sqlite3_bind_int64(st, k, s->changes_seq ? first : INT64_MAX);
        rc = vn__sq_done(s, st);
        if (rc)
            return rc;
        if (sqlite3_changes(s->db) > 0) {
            if (!s->changes_seq) {
                /* The rowid before this transaction's first change: every change it renders
                 * has a seq above it (the lifecycle statement looks back only that far). */
                first = (int64_t)sqlite3_last_insert_rowid(s->db) - sqlite3_changes(s->db);
            }
            s->changes_seq = (int64_t)sqlite3_last_insert_rowid(s->db);
        }
    }
    VN_SQ_STMT(st, s, VN_SQ_CH_CLEAR, "DELETE FROM change_dirty");
    rc = vn__sq_done(s, st);
    if (!rc && now - s->changes_pruned_ms >= PRUNE_EVERY_MS)
        rc = prune(s, now);
    return rc;
}

void vn__sq_changes_committed(struct vn__sqlite *s)
{
    int64_t seq = s->changes_seq;

    s->changes_seq = 0;
    if (seq > 0)
        vn__store_changes_committed(seq);
}

/* ---- the change log: reads ------------------------------------------------------------ */

static int changes(struct vn_store *st_, int64_t after, long long limit, vn_change_cb cb, void *ud)
{
    struct vn__sqlite *s = vn__sq(st_);
    struct vn_change c;
    sqlite3_stmt *st;
    int rc;

    VN_SQ_STMT(st, s, VN_SQ_CH_READ,
               "SELECT seq, at, kind, op, uid, key, row FROM changes WHERE seq > ?1 "
               "ORDER BY seq LIMIT ?2");
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int64(st, 2, limit > 0 ? limit : 1);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        c.seq = sqlite3_column_int64(st, 0);
        c.at = (const char *)sqlite3_column_text(st, 1);
        c.kind = (const char *)sqlite3_column_text(st, 2);
        c.op = (const char *)sqlite3_column_text(st, 3);
        c.uid = (const char *)sqlite3_column_text(st, 4);
        c.key = (const char *)sqlite3_column_text(st, 5);
        c.row = (const char *)sqlite3_column_text(st, 6);
        rc = cb(ud, &c);
        if (rc) {
            sqlite3_reset(st);
            return rc;
        }
    }
    rc = rc == SQLITE_DONE ? 0 : vn__sq_fail(s, rc);
    sqlite3_reset(st);
    return rc;
}

static int changes_head(struct vn_store *st_, struct vn_changes_head *out)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;
    int rc;

    memset(out, 0, sizeof(*out));
    VN_SQ_STMT(st, s, VN_SQ_CH_HEAD,
               "SELECT coalesce((SELECT max(seq) FROM changes), 0), pruned_through, "
               "  retention_ms FROM change_meta WHERE id = 1");
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->last_seq = sqlite3_column_int64(st, 0);
        out->pruned_through = sqlite3_column_int64(st, 1);
        out->retention_ms = sqlite3_column_int64(st, 2);
        if (out->last_seq < out->pruned_through)
            out->last_seq = out->pruned_through;
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? VN_ESTORE : vn__sq_fail(s, rc);
        if (rc == VN_ESTORE)
            vn__store_set_error(st_, "the change log has no change_meta row");
    }
    sqlite3_reset(st);
    return rc;
}

static int changes_set_retention(struct vn_store *st_, int64_t retention_ms)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;
    int rc;

    rc = st_->ops->begin(st_);
    if (rc)
        return rc;
    st =
        vn__sq_stmt(s, VN_SQ_CH_RETENTION, "UPDATE change_meta SET retention_ms = ?1 WHERE id = 1");
    if (!st) {
        rc = s->stmt_rc;
    } else {
        sqlite3_bind_int64(st, 1, retention_ms);
        rc = vn__sq_done(s, st);
    }
    if (rc) {
        vn__sq_abort(s);
        return rc;
    }
    return st_->ops->commit(st_);
}

/* ---- webhook endpoints ------------------------------------------------------------------ */

static int webhook_add(struct vn_store *st_, const char *url, const char *kinds,
                       const uint8_t *secret, size_t secret_len, int64_t now_ms, int64_t *id)
{
    struct vn__sqlite *s = vn__sq(st_);
    char iso[VN_TIME_ISO_LEN];
    sqlite3_stmt *st;
    int rc;

    rc = st_->ops->begin(st_);
    if (rc)
        return rc;
    vn_time_iso(now_ms, iso);
    st = vn__sq_stmt(s, VN_SQ_WH_ADD,
                     "INSERT INTO webhook_endpoints(url, kinds, secret, created_at, cursor, state) "
                     "VALUES (?1, ?2, ?3, ?4, coalesce((SELECT max(seq) FROM changes), "
                     "  (SELECT pruned_through FROM change_meta), 0), 'active')");
    if (!st) {
        rc = s->stmt_rc;
    } else {
        vn__sq_text(st, 1, url);
        vn__sq_text(st, 2, kinds);
        sqlite3_bind_blob(st, 3, secret, (int)secret_len, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, iso, -1, SQLITE_STATIC);
        rc = vn__sq_done(s, st);
    }
    if (rc) {
        vn__sq_abort(s);
        return rc;
    }
    *id = (int64_t)sqlite3_last_insert_rowid(s->db);
    return st_->ops->commit(st_);
}

static int webhook_remove(struct vn_store *st_, int64_t id)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;
    int rc, changed = 0;

    rc = st_->ops->begin(st_);
    if (rc)
        return rc;
    st = vn__sq_stmt(s, VN_SQ_WH_REMOVE, "DELETE FROM webhook_endpoints WHERE id = ?1");
    rc = st ? (sqlite3_bind_int64(st, 1, id), vn__sq_run(s, st, &changed)) : s->stmt_rc;
    if (!rc && changed == 0) {
        vn__store_set_error(st_, "no webhook endpoint %lld (see 'vppnotify webhook list')",
                            (long long)id);
        rc = VN_ENOTFOUND;
    }
    if (!rc) {
        st = vn__sq_stmt(s, VN_SQ_WH_REMOVE_LOG,
                         "DELETE FROM webhook_deliveries WHERE endpoint_id = ?1");
        rc = st ? (sqlite3_bind_int64(st, 1, id), vn__sq_done(s, st)) : s->stmt_rc;
    }
    if (rc) {
        vn__sq_abort(s);
        return rc;
    }
    return st_->ops->commit(st_);
}

static int64_t ms_of(const char *iso)
{
    int64_t ms = 0;

    if (iso && vn_time_parse(iso, &ms) != 0)
        ms = 0;
    return ms;
}

static int webhooks(struct vn_store *st_, int64_t id, vn_webhook_cb cb, void *ud)
{
    struct vn__sqlite *s = vn__sq(st_);
    struct vn_webhook w;
    sqlite3_stmt *st;
    int rc, found = 0;

    VN_SQ_STMT(st, s, VN_SQ_WH_LIST,
               "SELECT id, url, kinds, secret, cursor, state = 'active', attempts, "
               "  failing_since, next_attempt_at FROM webhook_endpoints "
               "WHERE ?1 = 0 OR id = ?1 ORDER BY id");
    sqlite3_bind_int64(st, 1, id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&w, 0, sizeof(w));
        w.id = sqlite3_column_int64(st, 0);
        w.url = (const char *)sqlite3_column_text(st, 1);
        w.kinds = (const char *)sqlite3_column_text(st, 2);
        w.secret = sqlite3_column_blob(st, 3);
        w.secret_len = (size_t)sqlite3_column_bytes(st, 3);
        w.cursor = sqlite3_column_int64(st, 4);
        w.active = sqlite3_column_int(st, 5);
        w.attempts = sqlite3_column_int64(st, 6);
        w.failing_since_ms = ms_of((const char *)sqlite3_column_text(st, 7));
        w.next_attempt_ms = ms_of((const char *)sqlite3_column_text(st, 8));
        found = 1;
        rc = cb(ud, &w);
        if (rc) {
            sqlite3_reset(st);
            return rc;
        }
    }
    rc = rc == SQLITE_DONE ? 0 : vn__sq_fail(s, rc);
    sqlite3_reset(st);
    if (!rc && id && !found) {
        vn__store_set_error(st_, "no webhook endpoint %lld (see 'vppnotify webhook list')",
                            (long long)id);
        rc = VN_ENOTFOUND;
    }
    return rc;
}

static void bind_time(sqlite3_stmt *st, int i, int64_t ms, char iso[VN_TIME_ISO_LEN])
{
    if (ms <= 0) {
        sqlite3_bind_null(st, i);
        return;
    }
    vn_time_iso(ms, iso);
    sqlite3_bind_text(st, i, iso, -1, SQLITE_STATIC);
}

static int webhook_update(struct vn_store *st_, int64_t id, const struct vn_webhook_state *w,
                          const struct vn_webhook_attempt *a, size_t n)
{
    struct vn__sqlite *s = vn__sq(st_);
    char t1[VN_TIME_ISO_LEN], t2[VN_TIME_ISO_LEN], t3[VN_TIME_ISO_LEN], at[VN_TIME_ISO_LEN];
    sqlite3_stmt *st;
    int rc, changed = 0;

    VN_SQ_STMT(st, s, VN_SQ_WH_UPDATE,
               "UPDATE webhook_endpoints SET cursor = ?3, state = ?4, disabled_reason = ?5, "
               "  attempts = ?6, failing_since = ?7, next_attempt_at = ?8, "
               "  last_attempt_at = coalesce(?9, last_attempt_at), "
               "  last_status = CASE WHEN ?9 IS NULL THEN last_status ELSE ?10 END, "
               "  last_error = CASE WHEN ?9 IS NULL THEN last_error ELSE ?11 END, "
               "  delivered = delivered + ?12 "
               "WHERE id = ?1 AND cursor = ?2");
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, w->expect_cursor);
    sqlite3_bind_int64(st, 3, w->cursor);
    sqlite3_bind_text(st, 4, w->active ? "active" : "disabled", -1, SQLITE_STATIC);
    vn__sq_text(st, 5, w->active ? NULL : w->disabled_reason);
    sqlite3_bind_int64(st, 6, w->attempts);
    bind_time(st, 7, w->failing_since_ms, t1);
    bind_time(st, 8, w->next_attempt_ms, t2);
    bind_time(st, 9, w->last_attempt_ms, t3);
    if (w->last_status > 0)
        sqlite3_bind_int(st, 10, w->last_status);
    else
        sqlite3_bind_null(st, 10);
    vn__sq_text(st, 11, w->last_error);
    sqlite3_bind_int64(st, 12, w->delivered);
    rc = vn__sq_run(s, st, &changed);
    if (rc)
        return rc;
    if (changed == 0) {
        VN_SQ_STMT(st, s, VN_SQ_WH_EXISTS, "SELECT 1 FROM webhook_endpoints WHERE id = ?1");
        sqlite3_bind_int64(st, 1, id);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_DONE) {
            vn__store_set_error(st_, "no webhook endpoint %lld (see 'vppnotify webhook list')",
                                (long long)id);
            return VN_ENOTFOUND;
        }
        if (rc != SQLITE_ROW)
            return vn__sq_fail(s, rc);
        vn__store_set_error(st_, "webhook endpoint %lld was changed meanwhile", (long long)id);
        return VN_ECONFLICT;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        VN_SQ_STMT(st, s, VN_SQ_WH_LOG,
                   "INSERT INTO webhook_deliveries(endpoint_id, seq, message_id, type, attempt, "
                   "  at, status, ok, error, duration_ms) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
        sqlite3_bind_int64(st, 1, a[i].endpoint_id);
        sqlite3_bind_int64(st, 2, a[i].seq);
        vn__sq_text(st, 3, a[i].message_id);
        vn__sq_text(st, 4, a[i].type);
        sqlite3_bind_int64(st, 5, a[i].attempt);
        vn_time_iso(a[i].at_ms, at);
        sqlite3_bind_text(st, 6, at, -1, SQLITE_STATIC);
        if (a[i].status > 0)
            sqlite3_bind_int(st, 7, a[i].status);
        else
            sqlite3_bind_null(st, 7);
        sqlite3_bind_int(st, 8, a[i].ok ? 1 : 0);
        vn__sq_text(st, 9, a[i].error);
        sqlite3_bind_int64(st, 10, a[i].duration_ms);
        rc = vn__sq_done(s, st);
    }
    return rc;
}

static int webhook_redeliver(struct vn_store *st_, int64_t id, int64_t after)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;
    int rc, changed = 0;

    rc = st_->ops->begin(st_);
    if (rc)
        return rc;
    st = vn__sq_stmt(s, VN_SQ_WH_REDELIVER,
                     "UPDATE webhook_endpoints SET state = 'active', disabled_reason = NULL, "
                     "  attempts = 0, failing_since = NULL, next_attempt_at = NULL, "
                     "  cursor = CASE WHEN ?2 >= 0 AND ?2 < cursor THEN ?2 ELSE cursor END "
                     "WHERE id = ?1");
    if (!st) {
        rc = s->stmt_rc;
    } else {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, after);
        rc = vn__sq_run(s, st, &changed);
    }
    if (!rc && changed == 0) {
        vn__store_set_error(st_, "no webhook endpoint %lld (see 'vppnotify webhook list')",
                            (long long)id);
        rc = VN_ENOTFOUND;
    }
    if (rc) {
        vn__sq_abort(s);
        return rc;
    }
    return st_->ops->commit(st_);
}

/* ---- Idempotency-Key ------------------------------------------------------------------ */

static int idempotency_get(struct vn_store *st_, const char *scope, const char *key,
                           struct vn_idempotency *out)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;
    int rc;

    memset(out, 0, sizeof(*out));
    VN_SQ_STMT(st, s, VN_SQ_IDEM_GET,
               "SELECT state = 'done', request_hash, status, body, created_at "
               "FROM api_idempotency WHERE key_name = ?1 AND idem_key = ?2");
    vn__sq_text(st, 1, scope);
    vn__sq_text(st, 2, key);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->done = sqlite3_column_int(st, 0);
        if (sqlite3_column_bytes(st, 1) == VN_DIGEST_LEN)
            memcpy(out->request_hash, sqlite3_column_blob(st, 1), VN_DIGEST_LEN);
        out->status = sqlite3_column_int(st, 2);
        if (sqlite3_column_type(st, 3) != SQLITE_NULL)
            out->body = strdup((const char *)sqlite3_column_text(st, 3));
        out->created_ms = ms_of((const char *)sqlite3_column_text(st, 4));
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = VN_ENOTFOUND;
    } else {
        rc = vn__sq_fail(s, rc);
    }
    sqlite3_reset(st);
    return rc;
}

static int idempotency_begin(struct vn_store *st_, const char *scope, const char *key,
                             const uint8_t hash[VN_DIGEST_LEN], int64_t now_ms)
{
    struct vn__sqlite *s = vn__sq(st_);
    char iso[VN_TIME_ISO_LEN];
    sqlite3_stmt *st;
    int rc, changed = 0;

    VN_SQ_STMT(st, s, VN_SQ_IDEM_BEGIN,
               "INSERT INTO api_idempotency(key_name, idem_key, request_hash, state, created_at) "
               "VALUES (?1, ?2, ?3, 'running', ?4) ON CONFLICT DO NOTHING");
    vn__sq_text(st, 1, scope);
    vn__sq_text(st, 2, key);
    sqlite3_bind_blob(st, 3, hash, VN_DIGEST_LEN, SQLITE_STATIC);
    vn_time_iso(now_ms, iso);
    sqlite3_bind_text(st, 4, iso, -1, SQLITE_STATIC);
    rc = vn__sq_run(s, st, &changed);
    if (!rc && changed == 0) {
        vn__store_set_error(st_, "Idempotency-Key '%s' is known already", key);
        rc = VN_EDUP;
    }
    return rc;
}

static int idempotency_finish(struct vn_store *st_, const char *scope, const char *key, int status,
                              const char *body)
{
    struct vn__sqlite *s = vn__sq(st_);
    sqlite3_stmt *st;

    VN_SQ_STMT(st, s, VN_SQ_IDEM_FINISH,
               "UPDATE api_idempotency SET state = 'done', status = ?3, body = ?4 "
               "WHERE key_name = ?1 AND idem_key = ?2");
    vn__sq_text(st, 1, scope);
    vn__sq_text(st, 2, key);
    sqlite3_bind_int(st, 3, status);
    vn__sq_text(st, 4, body);
    return vn__sq_done(s, st);
}

const struct vn_store_api_ops vn__sq_api_ops = {
    .api_key_add = api_key_add,
    .api_key_revoke = api_key_revoke,
    .api_keys = api_keys,
    .api_keys_version = api_keys_version,
    .changes = changes,
    .changes_head = changes_head,
    .changes_set_retention = changes_set_retention,
    .webhook_add = webhook_add,
    .webhook_remove = webhook_remove,
    .webhooks = webhooks,
    .webhook_update = webhook_update,
    .webhook_redeliver = webhook_redeliver,
    .idempotency_get = idempotency_get,
    .idempotency_begin = idempotency_begin,
    .idempotency_finish = idempotency_finish,
};
