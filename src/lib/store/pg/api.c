/*
 * api.c - the PostgreSQL backend's part of the integration API's tables (store.h, section "the
 * integration API's tables"): API keys and the change log (webhook endpoints and
 * Idempotency-Key: webhook.c). The same design as the SQLite
 * backend's api.c: row triggers (migration 3) mark each key a write touches in change_dirty;
 * at commit, before COMMIT, vn__pg_changes_flush renders every marked key as the read queries
 * show it into changes and empties change_dirty, in the same transaction.
 *
 * Several instances: every write that marks a change takes the schema's writer lock first
 * (handle.c, lazily) and holds it to COMMIT, and only a transaction holding it flushes, so
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

/* The flush in one statement (PostgreSQL migration 11, schema.c: the marked kinds' renders,
 * rows as the read queries show them (query.c), in key order; the clearing; the last seq):
 * $1 is the commit's time. It returns the last seq written, 0 when nothing was. */
static const char sql_flush[] = "SELECT vn_changes_flush($1::timestamptz)";

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
    struct vn__pg_args a = {0};
    int64_t now = vn_now_ms();
    PGresult *res;

    s->changes_seq = 0;
    vn__pg_time(&a, now);
    res = vn__pg_run(s, sql_flush, &a, NULL);
    if (!res)
        return s->stmt_rc;
    s->changes_seq = vn__pg_col_ll(res, 0, 0);
    PQclear(res);
    /* Pruned by the writers that log changes (as before the flush was one statement). */
    return s->changes_seq > 0 && now - s->changes_pruned_ms >= PRUNE_EVERY_MS ? prune(s, now) : 0;
}

int vn__pg_changes_flush_commit(struct vn__pg *s, PGresult **commit)
{
    static const char sql_commit[] = "COMMIT";
    struct vn__pg_args a = {0};
    int64_t now = vn_now_ms();

    *commit = NULL;
    s->changes_seq = 0;
    if (now - s->changes_pruned_ms >= PRUNE_EVERY_MS) {
        /* Pruning is due (once a minute): the flush, the prune, then COMMIT on its own. */
        int rc = vn__pg_changes_flush(s);

        if (rc)
            return rc;
        *commit = vn__pg_run(s, sql_commit, NULL, NULL);
        return *commit ? 0 : s->stmt_rc;
    }
    vn__pg_time(&a, now);
    s->capture = sql_flush;
    s->kept = NULL;
    if (vn__pg_defer_args(s, sql_flush, &a, NULL) == 0)
        *commit = vn__pg_run(s, sql_commit, NULL, NULL);
    s->npending = 0; /* what was not sent borrows a: never after this return */
    s->capture = NULL;
    if (s->kept) {
        if (*commit)
            s->changes_seq = vn__pg_col_ll(s->kept, 0, 0);
        PQclear(s->kept);
        s->kept = NULL;
    }
    return *commit ? 0 : s->stmt_rc;
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
