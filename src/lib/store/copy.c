/*
 * copy.c - moving an installation between stores (vppnotify store copy): the catalog of every
 * table and column both backends keep, the copy itself (one transaction on the target) and
 * the verification (every table's rows digested in the same order on both sides).
 *
 * A backend reads and writes the catalog's tables with its own fixed SQL (table_rows,
 * table_insert: sqlite/copy.c, pg/copy.c) and hands values over in a neutral form (times as
 * ISO text, booleans as 0/1, blobs as bytes). Not copied: what each store derives itself
 * (schema_migrations, token_epoch, api_key_epoch, health and its probe), change_dirty (empty
 * between transactions) and leases, which belong to running instances. The copy's own inserts
 * mark the change log like any write; once the log itself is loaded the backend forgets those
 * marks (table_loaded of "changes"), so the copy adds no change of its own. A new column of any
 * table must be added here: test_store_sqlite and test_store_pg compare this catalog with the
 * tables of a new database.
 */
#include "store_impl.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T  VN__C_TEXT
#define I  VN__C_INT
#define B  VN__C_BOOL
#define TM VN__C_TIME
#define J  VN__C_JSON
#define BY VN__C_BYTES

static const char *const c_locations[] = {"uid",
                                          "name",
                                          "created_at",
                                          "last_test_notification_at",
                                          "org_name",
                                          "stoken",
                                          "stoken_set_at",
                                          "token_expires_at",
                                          "token_status",
                                          "token_error",
                                          "token_status_at",
                                          "notification_url",
                                          "notification_types",
                                          "subscribed_at",
                                          "takeover_mdm_info",
                                          "takeover_at",
                                          "expiry_warned_at"};
static const enum vn__copy_type t_locations[] = {T, T,  TM, TM, T,  BY, TM, TM, T,
                                                 T, TM, T,  J,  TM, J,  TM, TM};
static const char *const c_location_tokens[] = {"id", "uid", "digest", "created_at", "expires_at"};
static const enum vn__copy_type t_location_tokens[] = {I, T, BY, TM, TM};
static const char *const c_instance_config[] = {"key", "value"};
static const enum vn__copy_type t_instance_config[] = {T, T};
static const char *const c_notifications[] = {
    "notification_id", "uid",  "notification_type", "event_id",    "state",
    "error",           "body", "body_sha256",       "body_length", "received_at"};
static const enum vn__copy_type t_notifications[] = {T, T, T, T, T, T, BY, BY, I, TM};
static const char *const c_notification_repeats[] = {"notification_id", "received_at", "conflict"};
static const enum vn__copy_type t_notification_repeats[] = {T, TM, B};
static const char *const c_quarantine[] = {"id",     "received_at", "remote_addr",
                                           "reason", "body",        "body_length"};
static const enum vn__copy_type t_quarantine[] = {I, TM, T, T, BY, I};
static const char *const c_assets[] = {
    "uid",        "adam_id",    "pricing_param", "total_count", "assigned_count", "available_count",
    "needs_sync", "updated_at", "sync_gen",      "clock"};
static const enum vn__copy_type t_assets[] = {T, T, T, I, I, I, B, TM, I, I};
static const char *const c_assignments[] = {
    "id",       "uid",        "adam_id", "pricing_param", "client_user_id", "serial_number",
    "sync_gen", "updated_at", "clock",   "event_id"};
static const enum vn__copy_type t_assignments[] = {I, T, T, T, T, T, I, TM, I, T};
static const char *const c_users[] = {"uid",     "client_user_id", "email",      "invite_code",
                                      "id_hash", "status",         "updated_at", "sync_gen",
                                      "clock",   "event_id"};
static const enum vn__copy_type t_users[] = {T, T, T, T, T, T, TM, I, I, T};
static const char *const c_subscriptions[] = {"uid",
                                              "adam_id",
                                              "parent_adam_id",
                                              "available_renewing",
                                              "available_expiring",
                                              "total_renewing",
                                              "total_expiring",
                                              "updated_at",
                                              "sync_gen",
                                              "clock"};
static const enum vn__copy_type t_subscriptions[] = {T, T, T, I, I, I, I, TM, I, I};
static const char *const c_subscription_assignments[] = {
    "uid", "adam_id", "client_user_id", "renewing", "sync_gen", "updated_at", "clock", "event_id"};
static const enum vn__copy_type t_subscription_assignments[] = {T, T, T, B, I, TM, I, T};
static const char *const c_location_sync[] = {
    "uid",          "assignments_version", "users_version",
    "last_full_at", "last_delta_at",       "last_attempt_at",
    "last_kind",    "last_error",          "last_drift"};
static const enum vn__copy_type t_location_sync[] = {T, T, T, TM, TM, TM, T, T, J};
static const char *const c_events[] = {"event_id", "uid",           "notification_type",
                                       "type",     "notifications", "succeeded",
                                       "failed",   "first_seen_at", "last_seen_at"};
static const enum vn__copy_type t_events[] = {T, T, T, T, I, I, I, TM, TM};
static const char *const c_event_errors[] = {"event_id", "error_number", "error_message", "count"};
static const enum vn__copy_type t_event_errors[] = {T, I, T, I};
static const char *const c_event_failed_items[] = {
    "id",           "event_id", "error_number", "adam_id", "pricing_param", "client_user_id",
    "serial_number"};
static const enum vn__copy_type t_event_failed_items[] = {I, T, I, T, T, T, T};
static const char *const c_event_tracking[] = {"event_id",
                                               "uid",
                                               "kind",
                                               "type",
                                               "request",
                                               "expected",
                                               "deferred",
                                               "requested_at",
                                               "state",
                                               "status",
                                               "num_requested",
                                               "num_completed",
                                               "failures",
                                               "polls",
                                               "last_poll_at",
                                               "poll_error",
                                               "notifications_missing",
                                               "stalled",
                                               "stalled_at",
                                               "resync",
                                               "completed_at",
                                               "send_seq"};
static const enum vn__copy_type t_event_tracking[] = {T, T, T, T,  T, I, B, TM, T, T,  I,
                                                      I, J, I, TM, T, B, B, TM, T, TM, I};
/* The integration API's tables: its keys, and the change log with its seq numbers kept (a
 * feed reader goes on where it was); change_meta always has its one row (copied over it). */
static const char *const c_api_keys[] = {"id",    "name",       "scope",     "digest",
                                         "shown", "created_at", "revoked_at"};
static const enum vn__copy_type t_api_keys[] = {I, T, T, BY, T, TM, TM};
static const char *const c_changes[] = {"seq", "at", "kind", "op", "uid", "key", "row"};
static const enum vn__copy_type t_changes[] = {I, TM, T, T, T, J, J};
static const char *const c_change_meta[] = {"id", "pruned_through", "retention_ms"};
static const enum vn__copy_type t_change_meta[] = {I, I, I};
/* Rejected requests (the endpoint's 401/403 log). */
static const char *const c_rejections[] = {"id",          "first_at",  "last_at",
                                           "remote_addr", "status",    "reason",
                                           "claimed_uid", "token_uid", "count"};
static const enum vn__copy_type t_rejections[] = {I, TM, TM, T, I, T, T, T, I};
/* Webhook endpoints (their cursors are seqs of the copied change log, their secrets sealed
 * with the key file as sTokens are), their delivery log, and the answers kept for
 * Idempotency-Key retries: a retry after a move gets the first answer still. */
static const char *const c_webhook_endpoints[] = {
    "id",          "url",           "kinds",           "secret",
    "created_at",  "cursor",        "state",           "disabled_reason",
    "attempts",    "failing_since", "next_attempt_at", "last_attempt_at",
    "last_status", "last_error",    "delivered"};
static const enum vn__copy_type t_webhook_endpoints[] = {I, T,  T,  BY, TM, I, T, T,
                                                         I, TM, TM, TM, I,  T, I};
static const char *const c_webhook_deliveries[] = {
    "id", "endpoint_id", "seq", "message_id", "type",       "attempt",
    "at", "status",      "ok",  "error",      "duration_ms"};
static const enum vn__copy_type t_webhook_deliveries[] = {I, I, I, T, T, I, TM, I, B, T, I};
static const char *const c_api_idempotency[] = {"key_name", "idem_key", "request_hash", "state",
                                                "status",   "body",     "created_at"};
static const enum vn__copy_type t_api_idempotency[] = {T, T, BY, T, I, T, TM};
/*
 * Convergence (contract 3.1): tombstones and the keys waiting for verification are copied (a
 * key to verify stays to verify; a tombstone keeps its event for the send-order rule), and so
 * are the rows' clocks and the writer clock itself, loaded last (the target's triggers stamp a
 * copied row only when it brings clock 0, which the new target's clock also is): every
 * copied clock stays at or below the writer clock, so no later sync takes a copied row or
 * tombstone for a change newer than its page.
 */
static const char *const c_mirror_tombstones[] = {
    "uid",           "tbl",      "adam_id", "pricing_param", "client_user_id",
    "serial_number", "event_id", "clock",   "deleted_at"};
static const enum vn__copy_type t_mirror_tombstones[] = {T, T, T, T, T, T, T, I, TM};
static const char *const c_mirror_verify[] = {"id",
                                              "uid",
                                              "tbl",
                                              "adam_id",
                                              "pricing_param",
                                              "client_user_id",
                                              "serial_number",
                                              "reason",
                                              "created_at",
                                              "attempts",
                                              "last_error"};
static const enum vn__copy_type t_mirror_verify[] = {I, T, T, T, T, T, T, T, TM, I, T};
static const char *const c_writer_clock[] = {"id", "value"};
static const enum vn__copy_type t_writer_clock[] = {I, I};

#undef T
#undef I
#undef B
#undef TM
#undef J
#undef BY

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define TABLE(name)                                                                                \
    {                                                                                              \
#name, COUNT(c_##name), c_##name, t_##name, 0                                              \
    }
#define SINGLETON(name)                                                                            \
    {                                                                                              \
#name, COUNT(c_##name), c_##name, t_##name, 1                                              \
    }
#define SAME_WIDTH(name)                                                                           \
    _Static_assert(COUNT(c_##name) == COUNT(t_##name) && COUNT(c_##name) <= VN__COPY_COLS_MAX,     \
                   "columns and types of table " #name " disagree")
SAME_WIDTH(locations);
SAME_WIDTH(location_tokens);
SAME_WIDTH(instance_config);
SAME_WIDTH(notifications);
SAME_WIDTH(notification_repeats);
SAME_WIDTH(quarantine);
SAME_WIDTH(assets);
SAME_WIDTH(assignments);
SAME_WIDTH(users);
SAME_WIDTH(subscriptions);
SAME_WIDTH(subscription_assignments);
SAME_WIDTH(location_sync);
SAME_WIDTH(events);
SAME_WIDTH(event_errors);
SAME_WIDTH(event_failed_items);
SAME_WIDTH(event_tracking);
SAME_WIDTH(api_keys);
SAME_WIDTH(changes);
SAME_WIDTH(change_meta);
SAME_WIDTH(rejections);
SAME_WIDTH(webhook_endpoints);
SAME_WIDTH(webhook_deliveries);
SAME_WIDTH(api_idempotency);
SAME_WIDTH(mirror_tombstones);
SAME_WIDTH(mirror_verify);
SAME_WIDTH(writer_clock);

/* In an order that keeps foreign keys satisfied while loading. Backends index their SQL by
 * this order (sqlite/copy.c, pg/copy.c). */
const struct vn__copy_table vn__copy_tables[] = {
    TABLE(locations),
    TABLE(location_tokens),
    TABLE(instance_config),
    TABLE(notifications),
    TABLE(notification_repeats),
    TABLE(quarantine),
    TABLE(assets),
    TABLE(assignments),
    TABLE(users),
    TABLE(subscriptions),
    TABLE(subscription_assignments),
    TABLE(location_sync),
    TABLE(events),
    TABLE(event_errors),
    TABLE(event_failed_items),
    TABLE(event_tracking),
    TABLE(api_keys),
    TABLE(changes),
    SINGLETON(change_meta),
    TABLE(rejections),
    TABLE(webhook_endpoints),
    TABLE(webhook_deliveries),
    TABLE(api_idempotency),
    TABLE(mirror_tombstones),
    TABLE(mirror_verify),
    SINGLETON(writer_clock),
};

const size_t vn__copy_table_count = COUNT(vn__copy_tables);
_Static_assert(COUNT(vn__copy_tables) <= VN_STORE_COPY_TABLES_MAX,
               "raise VN_STORE_COPY_TABLES_MAX");

/* ---- copying ------------------------------------------------------------------------------ */

struct copying {
    struct vn_store *to;
    long long rows;
    int rc;
};

static int copy_row(void *ud, size_t t, const struct vn__copy_value *vals)
{
    struct copying *c = ud;

    c->rc = c->to->ops->table_insert(c->to, t, vals);
    if (c->rc)
        return 1;
    c->rows++;
    return 0;
}

static int any_row(void *ud, size_t t, const struct vn__copy_value *vals)
{
    (void)t;
    (void)vals;
    *(int *)ud = 1;
    return 1;
}

static void report_init(struct vn_store_copy_report *r)
{
    memset(r, 0, sizeof(*r));
    r->n = vn__copy_table_count;
    for (size_t t = 0; t < vn__copy_table_count; t++)
        r->tables[t].name = vn__copy_tables[t].name;
}

int vn_store_copy(struct vn_store *from, struct vn_store *to, struct vn_store_copy_report *r,
                  struct vn_error *err)
{
    struct copying c = {.to = to};
    int rc;

    report_init(r);
    /* Only into an empty store: a copy never merges two installations. */
    for (size_t t = 0; t < vn__copy_table_count; t++) {
        int any = 0;

        if (vn__copy_tables[t].singleton)
            continue; /* a new store has its one row */
        rc = to->ops->table_rows(to, t, any_row, &any);
        if (rc < 0)
            return vn_error_set(err, rc, "cannot read table %s of the target: %s",
                                vn__copy_tables[t].name, vn_store_last_error(to));
        if (any)
            return vn_error_set(err, VN_ECONFLICT,
                                "the target is not empty (table %s has rows): copy into a new "
                                "database or schema",
                                vn__copy_tables[t].name);
    }
    rc = vn_store_begin(to);
    if (rc)
        return vn_error_set(err, rc, "cannot begin on the target: %s", vn_store_last_error(to));
    for (size_t t = 0; t < vn__copy_table_count && !rc; t++) {
        c.rows = 0;
        c.rc = 0;
        rc = from->ops->table_rows(from, t, copy_row, &c);
        if (c.rc) {
            rc = vn_error_set(err, c.rc, "cannot copy row %lld of table %s: %s", c.rows + 1,
                              vn__copy_tables[t].name, vn_store_last_error(to));
        } else if (rc < 0) {
            rc = vn_error_set(err, rc, "cannot read table %s of the source: %s",
                              vn__copy_tables[t].name, vn_store_last_error(from));
        } else {
            rc = to->ops->table_loaded(to, t);
            if (rc)
                vn_error_set(err, rc, "cannot finish table %s: %s", vn__copy_tables[t].name,
                             vn_store_last_error(to));
        }
        r->tables[t].rows = c.rows;
    }
    if (!rc) {
        rc = vn_store_commit(to);
        if (rc)
            vn_error_set(err, rc, "cannot commit the copy: %s", vn_store_last_error(to));
    }
    if (rc)
        vn_store_rollback(to);
    return rc;
}

/* ---- comparing ----------------------------------------------------------------------------- */

struct digesting {
    crypto_hash_sha256_state h;
    long long rows;
};

static void feed(struct digesting *d, const void *p, size_t n)
{
    uint64_t len = n;

    crypto_hash_sha256_update(&d->h, (const unsigned char *)&len, sizeof(len));
    crypto_hash_sha256_update(&d->h, p, n);
}

/* Each value with its type, so that no two rows serialise alike unless they are alike. */
static int digest_row(void *ud, size_t t, const struct vn__copy_value *vals)
{
    struct digesting *d = ud;
    const struct vn__copy_table *tab = &vn__copy_tables[t];
    char num[32];

    for (size_t k = 0; k < tab->n; k++) {
        const struct vn__copy_value *v = &vals[k];

        if (v->null) {
            feed(d, "N", 1);
            continue;
        }
        switch (tab->types[k]) {
        case VN__C_INT:
        case VN__C_BOOL:
            snprintf(num, sizeof(num), "I%lld", v->i);
            feed(d, num, strlen(num));
            break;
        default:
            feed(d, "S", 1);
            feed(d, v->s, v->len);
            break;
        }
    }
    d->rows++;
    return 0;
}

static int table_digest(struct vn_store *st, size_t t, uint8_t out[crypto_hash_sha256_BYTES],
                        long long *rows)
{
    struct digesting d;
    int rc;

    crypto_hash_sha256_init(&d.h);
    d.rows = 0;
    rc = st->ops->table_rows(st, t, digest_row, &d);
    crypto_hash_sha256_final(&d.h, out);
    *rows = d.rows;
    return rc < 0 ? rc : 0;
}

int vn_store_compare(struct vn_store *a, struct vn_store *b, struct vn_store_copy_report *r,
                     struct vn_error *err)
{
    uint8_t da[crypto_hash_sha256_BYTES], db[crypto_hash_sha256_BYTES];
    long long na, nb;
    int rc;

    report_init(r);
    for (size_t t = 0; t < vn__copy_table_count; t++) {
        rc = table_digest(a, t, da, &na);
        if (rc)
            return vn_error_set(err, rc, "cannot read table %s: %s", vn__copy_tables[t].name,
                                vn_store_last_error(a));
        rc = table_digest(b, t, db, &nb);
        if (rc)
            return vn_error_set(err, rc, "cannot read table %s: %s", vn__copy_tables[t].name,
                                vn_store_last_error(b));
        r->tables[t].rows = na;
        if (na != nb || memcmp(da, db, sizeof(da)) != 0)
            return vn_error_set(err, VN_ECONFLICT, "table %s differs: %lld rows against %lld%s",
                                vn__copy_tables[t].name, na, nb,
                                na == nb ? ", some values differ" : "");
    }
    return 0;
}
